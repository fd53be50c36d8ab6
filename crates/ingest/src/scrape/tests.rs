//! Unit tests: target label population (cases from Prometheus's
//! `TestPopulateLabels`, 2.42 semantics with default ports), label
//! conflict handling, config parsing and validation, file_sd parsing.
//! The HTTP-level behaviour is tested in `tests/scrape.rs`.
use std::collections::BTreeMap;
use std::time::Duration;

use model::{Labels, PromDuration};

use super::config::ByteSize;
use super::file_sd::{expand_pattern, is_valid_file_sd_path, wildcard_matches, FileSdWatcher};
use super::scrape_loop::{verify_label_limits, LabelLimits};
use super::target::{global_url, split_host_port, target_hash, target_url, Target};
use super::*;
use crate::relabel::RelabelConfig;

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn cfg(scheme: &str) -> ScrapeConfig {
    let mut c = ScrapeConfig::new("job");
    c.scheme = scheme.to_string();
    c.metrics_path = "/metrics".to_string();
    c.scrape_interval = Some(PromDuration::from_secs(1));
    c.scrape_timeout = Some(PromDuration::from_secs(1));
    c
}

fn relabel(yaml: &str) -> Vec<RelabelConfig> {
    serde_yaml::from_str(yaml).expect("relabel config parses")
}

fn kept(p: Result<Populated, PopulateError>) -> (Labels, Labels) {
    match p {
        Ok(Populated::Kept { labels, discovered }) => (labels, discovered),
        other => panic!("expected a kept target, got {other:?}"),
    }
}

#[test]
fn populate_regular_config_options() {
    let (res, orig) = kept(populate_labels(
        &l(&[("__address__", "1.2.3.4:1000"), ("custom", "value")]),
        &cfg("https"),
    ));
    assert_eq!(
        res,
        l(&[
            ("__address__", "1.2.3.4:1000"),
            ("instance", "1.2.3.4:1000"),
            ("__scheme__", "https"),
            ("__metrics_path__", "/metrics"),
            ("job", "job"),
            ("__scrape_interval__", "1s"),
            ("__scrape_timeout__", "1s"),
            ("custom", "value"),
        ])
    );
    assert_eq!(
        orig,
        l(&[
            ("__address__", "1.2.3.4:1000"),
            ("__scheme__", "https"),
            ("__metrics_path__", "/metrics"),
            ("job", "job"),
            ("custom", "value"),
            ("__scrape_interval__", "1s"),
            ("__scrape_timeout__", "1s"),
        ])
    );
}

#[test]
fn populate_predefined_labels_win_and_port_defaults_to_scheme() {
    let input = l(&[
        ("__address__", "1.2.3.4"),
        ("__scheme__", "http"),
        ("__metrics_path__", "/custom"),
        ("job", "custom-job"),
        ("__scrape_interval__", "2s"),
        ("__scrape_timeout__", "2s"),
    ]);
    let (res, orig) = kept(populate_labels(&input, &cfg("https")));
    assert_eq!(
        res,
        l(&[
            ("__address__", "1.2.3.4:80"),
            ("instance", "1.2.3.4:80"),
            ("__scheme__", "http"),
            ("__metrics_path__", "/custom"),
            ("job", "custom-job"),
            ("__scrape_interval__", "2s"),
            ("__scrape_timeout__", "2s"),
        ])
    );
    assert_eq!(orig, input);
}

#[test]
fn populate_keeps_given_instance_and_defaults_https_port_for_ipv6() {
    let (res, orig) = kept(populate_labels(
        &l(&[("__address__", "[::1]"), ("instance", "custom-instance")]),
        &cfg("https"),
    ));
    assert_eq!(
        res,
        l(&[
            ("__address__", "[::1]:443"),
            ("instance", "custom-instance"),
            ("__scheme__", "https"),
            ("__metrics_path__", "/metrics"),
            ("job", "job"),
            ("__scrape_interval__", "1s"),
            ("__scrape_timeout__", "1s"),
        ])
    );
    assert_eq!(orig.get("__address__"), Some("[::1]"));
    assert_eq!(orig.get("instance"), Some("custom-instance"));
}

#[test]
fn populate_without_address_fails() {
    let err = populate_labels(&l(&[("custom", "value")]), &cfg("https")).unwrap_err();
    assert_eq!(err.to_string(), "no address");
}

#[test]
fn populate_address_added_by_relabelling() {
    let mut c = cfg("https");
    c.relabel_configs =
        relabel("- source_labels: [custom]\n  regex: (.*)\n  replacement: ${1}\n  target_label: __address__\n");
    let (res, orig) = kept(populate_labels(&l(&[("custom", "host:1234")]), &c));
    assert_eq!(
        res,
        l(&[
            ("__address__", "host:1234"),
            ("instance", "host:1234"),
            ("__scheme__", "https"),
            ("__metrics_path__", "/metrics"),
            ("job", "job"),
            ("__scrape_interval__", "1s"),
            ("__scrape_timeout__", "1s"),
            ("custom", "host:1234"),
        ])
    );
    assert_eq!(
        orig,
        l(&[
            ("__scheme__", "https"),
            ("__metrics_path__", "/metrics"),
            ("job", "job"),
            ("__scrape_interval__", "1s"),
            ("__scrape_timeout__", "1s"),
            ("custom", "host:1234"),
        ])
    );
}

#[test]
fn populate_interval_and_timeout_errors() {
    let c = cfg("https");
    let cases: [(&str, &str, &str); 5] = [
        ("__scrape_interval__", "2notseconds", "error parsing scrape interval: "),
        ("__scrape_timeout__", "2notseconds", "error parsing scrape timeout: "),
        ("__scrape_interval__", "0s", "scrape interval cannot be 0"),
        ("__scrape_timeout__", "0s", "scrape timeout cannot be 0"),
        (
            "__scrape_timeout__",
            "2s",
            "scrape timeout cannot be greater than scrape interval (\"2s\" > \"1s\")",
        ),
    ];
    for (name, value, want) in cases {
        let err = populate_labels(&l(&[("__address__", "1.2.3.4:1000"), (name, value)]), &c).unwrap_err();
        assert!(err.to_string().starts_with(want), "{name}={value}: got {err}");
    }
}

#[test]
fn populate_dropped_by_relabelling_keeps_discovered_labels() {
    let mut c = cfg("http");
    c.relabel_configs = relabel("- source_labels: [env]\n  regex: dev\n  action: drop\n");
    match populate_labels(&l(&[("__address__", "a:1"), ("env", "dev")]), &c).unwrap() {
        Populated::Dropped { discovered } => {
            assert_eq!(discovered.get("__address__"), Some("a:1"));
            assert_eq!(discovered.get("job"), Some("job"));
        }
        other => panic!("expected dropped, got {other:?}"),
    }
}

#[test]
fn populate_removes_meta_labels_and_encodes_params() {
    let mut c = cfg("http");
    c.params
        .insert("module".to_string(), vec!["if_mib".to_string(), "second".to_string()]);
    c.relabel_configs = relabel("- source_labels: [__meta_zone]\n  target_label: zone\n");
    let (res, orig) = kept(populate_labels(
        &l(&[("__address__", "a:9"), ("__meta_zone", "eu")]),
        &c,
    ));
    assert_eq!(res.get("zone"), Some("eu"));
    assert_eq!(res.get("__meta_zone"), None);
    assert_eq!(res.get("__param_module"), Some("if_mib"));
    assert_eq!(orig.get("__meta_zone"), Some("eu"));
    let t = Target::new(res, orig, &c.params);
    assert_eq!(t.url, "http://a:9/metrics?module=if_mib&module=second");
    assert_eq!(
        t.public_labels(),
        l(&[("instance", "a:9"), ("job", "job"), ("zone", "eu")])
    );
}

#[test]
fn populate_rejects_addresses_with_paths_and_unknown_schemes() {
    let err = populate_labels(&l(&[("__address__", "a:1/x")]), &cfg("http")).unwrap_err();
    assert_eq!(err.to_string(), "\"a:1/x\" is not a valid hostname");
    let err = populate_labels(&l(&[("__address__", "a"), ("__scheme__", "ftp")]), &cfg("http")).unwrap_err();
    assert_eq!(err.to_string(), "invalid scheme: \"http\"");
}

#[test]
fn targets_from_group_merges_group_labels_target_wins() {
    let tg = TargetGroup {
        source: "0".to_string(),
        targets: vec![
            l(&[("__address__", "a:1"), ("env", "own")]),
            l(&[("__address__", "b:2")]),
            l(&[]),
        ],
        labels: l(&[("env", "group"), ("team", "x")]),
    };
    let (out, failures) = targets_from_group(&tg, &cfg("http"));
    assert_eq!(out.len(), 2);
    assert_eq!(failures, vec!["instance 2 in group 0: no address".to_string()]);
    let (a, _) = kept(Ok(out[0].clone()));
    let (b, _) = kept(Ok(out[1].clone()));
    assert_eq!((a.get("env"), a.get("team")), (Some("own"), Some("x")));
    assert_eq!((b.get("env"), b.get("team")), (Some("group"), Some("x")));
}

#[test]
fn split_host_port_follows_go() {
    assert_eq!(split_host_port("1.2.3.4:80"), Ok(("1.2.3.4", "80")));
    assert_eq!(split_host_port("[::1]:443"), Ok(("::1", "443")));
    assert_eq!(split_host_port("host:"), Ok(("host", "")));
    assert!(split_host_port("1.2.3.4").is_err());
    assert!(split_host_port("[::1]").is_err());
    assert!(split_host_port("::1").is_err());
    assert!(split_host_port("").is_err());
}

#[test]
fn target_url_escapes_and_param_labels_override() {
    let labels = l(&[
        ("__address__", "h:1"),
        ("__scheme__", "https"),
        ("__metrics_path__", "/probe path"),
        ("__param_target", "http://x y"),
    ]);
    let mut params = BTreeMap::new();
    params.insert("target".to_string(), vec!["old".to_string()]);
    params.insert("a".to_string(), vec!["1".to_string()]);
    assert_eq!(
        target_url(&labels, &params),
        "https://h:1/probe%20path?a=1&target=http%3A%2F%2Fx+y"
    );
}

#[test]
fn target_hash_and_offset() {
    let a = l(&[("__address__", "h:1"), ("job", "a")]);
    let b = l(&[("__address__", "h:1"), ("job", "b")]);
    assert_ne!(
        target_hash(&a, "http://h:1/metrics"),
        target_hash(&b, "http://h:1/metrics")
    );
    assert_eq!(target_hash(&a, "u"), target_hash(&a, "u"));
    let t = Target::new(a, Labels::empty(), &BTreeMap::new());
    let interval = Duration::from_millis(100);
    for _ in 0..20 {
        assert!(t.offset(interval, 7) <= interval);
    }
}

#[test]
fn honor_labels_false_renames_conflicts_to_exported() {
    let target = l(&[("job", "node"), ("instance", "i:1")]);
    let scraped = l(&[("__name__", "m"), ("job", "other"), ("instance", "x")]);
    assert_eq!(
        merge_target_labels(&scraped, &target, false),
        l(&[
            ("__name__", "m"),
            ("job", "node"),
            ("instance", "i:1"),
            ("exported_job", "other"),
            ("exported_instance", "x")
        ])
    );
}

#[test]
fn honor_labels_false_renames_recursively_when_exported_name_is_taken() {
    let target = l(&[("job", "node")]);
    let scraped = l(&[("__name__", "m"), ("job", "a"), ("exported_job", "b")]);
    assert_eq!(
        merge_target_labels(&scraped, &target, false),
        l(&[
            ("__name__", "m"),
            ("job", "node"),
            ("exported_job", "b"),
            ("exported_exported_job", "a")
        ])
    );
    // A target label named like the renamed one pushes it one level further.
    let target = l(&[("job", "node"), ("exported_job", "t")]);
    let scraped = l(&[("__name__", "m"), ("job", "a"), ("exported_job", "b")]);
    assert_eq!(
        merge_target_labels(&scraped, &target, false),
        l(&[
            ("__name__", "m"),
            ("job", "node"),
            ("exported_job", "t"),
            ("exported_exported_job", "a"),
            ("exported_exported_exported_job", "b"),
        ])
    );
}

#[test]
fn honor_labels_true_keeps_scraped_values() {
    let target = l(&[("job", "node"), ("instance", "i:1")]);
    let scraped = l(&[("__name__", "m"), ("job", "other")]);
    assert_eq!(
        merge_target_labels(&scraped, &target, true),
        l(&[("__name__", "m"), ("job", "other"), ("instance", "i:1")])
    );
}

#[test]
fn label_limit_messages_match_prometheus() {
    let lset = l(&[("__name__", "m"), ("a", "1"), ("bb", "22222")]);
    let lim = |label_limit, name_length, value_length| LabelLimits {
        label_limit,
        name_length,
        value_length,
    };
    assert_eq!(
        verify_label_limits(&lset, &lim(2, 0, 0)).unwrap_err(),
        "label_limit exceeded (metric: m, number of labels: 3, limit: 2)"
    );
    assert_eq!(
        verify_label_limits(&lset, &lim(0, 1, 0)).unwrap_err(),
        "label_name_length_limit exceeded (metric: m, label name: __name__, length: 8, limit: 1)"
    );
    assert_eq!(
        verify_label_limits(&lset, &lim(0, 0, 4)).unwrap_err(),
        "label_value_length_limit exceeded (metric: m, label name: bb, value: \"22222\", length: 5, limit: 4)"
    );
    assert!(verify_label_limits(&lset, &lim(3, 8, 5)).is_ok());
}

#[test]
fn config_defaults() {
    let c: ScrapeConfig = serde_yaml::from_str("job_name: node\n").unwrap();
    assert_eq!(c.metrics_path, "/metrics");
    assert_eq!(c.scheme, "http");
    assert!(c.honor_timestamps);
    assert!(!c.honor_labels);
    assert_eq!(c.interval(), Duration::from_secs(60));
    assert_eq!(c.timeout(), Duration::from_secs(10));

    let global = GlobalScrapeDefaults {
        scrape_interval: PromDuration::from_secs(15),
        scrape_timeout: PromDuration::from_secs(10),
    };
    let mut c: ScrapeConfig = serde_yaml::from_str("job_name: a\nscrape_interval: 5s\n").unwrap();
    c.apply_defaults(&global);
    assert_eq!(c.scrape_interval, Some(PromDuration::from_secs(5)));
    // The global timeout is capped at this job's shorter interval.
    assert_eq!(c.scrape_timeout, Some(PromDuration::from_secs(5)));
    let mut c: ScrapeConfig = serde_yaml::from_str("job_name: a\n").unwrap();
    c.apply_defaults(&global);
    assert_eq!(
        (c.interval(), c.timeout()),
        (Duration::from_secs(15), Duration::from_secs(10))
    );
}

#[test]
fn config_parses_every_field() {
    let yaml = r#"
job_name: full
scrape_interval: 30s
scrape_timeout: 20s
metrics_path: /m
scheme: https
params: {module: [a, b]}
honor_labels: true
honor_timestamps: false
static_configs:
  - targets: ["a:1", "b:2"]
    labels: {env: prod}
file_sd_configs:
  - files: ["/etc/sd/*.json", "/etc/sd/x.yml"]
basic_auth: {username: u, password_file: /pw}
tls_config: {ca_file: /ca, cert_file: /c, key_file: /k, server_name: s, insecure_skip_verify: true}
relabel_configs:
  - source_labels: [__address__]
    target_label: host
metric_relabel_configs:
  - regex: go_.*
    source_labels: [__name__]
    action: drop
sample_limit: 1000
label_limit: 30
label_name_length_limit: 100
label_value_length_limit: 200
body_size_limit: 10MB
"#;
    let c: ScrapeConfig = serde_yaml::from_str(yaml).unwrap();
    c.validate().unwrap();
    assert_eq!(c.params["module"], vec!["a", "b"]);
    assert_eq!(c.static_configs[0].labels["env"], "prod");
    assert_eq!(c.file_sd_configs[0].refresh_interval, PromDuration::from_secs(300));
    assert_eq!(c.basic_auth.as_ref().unwrap().password_file.as_deref(), Some("/pw"));
    assert!(c.tls_config.insecure_skip_verify);
    assert_eq!(c.body_size_limit, ByteSize(10 << 20));
    assert_eq!(c.relabel_configs.len(), 1);
    assert_eq!(c.metric_relabel_configs.len(), 1);
    assert!(!c.honor_timestamps);
    // Secrets never show in Debug output.
    let c: ScrapeConfig = serde_yaml::from_str("job_name: a\nbearer_token: hunter2\n").unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn config_rejects_unknown_fields() {
    let err = serde_yaml::from_str::<ScrapeConfig>("job_name: a\nscrape_intervall: 5s\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `scrape_intervall`"), "{err}");
    let err = serde_yaml::from_str::<ScrapeConfig>("job_name: a\nstatic_configs: [{target: [x]}]\n").unwrap_err();
    assert!(err.to_string().contains("unknown field `target`"), "{err}");
}

#[test]
fn validate_collects_every_error_with_the_job_name() {
    let yaml = r#"
job_name: broken
scrape_interval: 5s
scrape_timeout: 10s
scheme: ftp
bearer_token: a
bearer_token_file: /b
tls_config: {cert_file: /c}
static_configs:
  - targets: ["http://host:9100/metrics"]
    labels: {"bad-name": x}
file_sd_configs:
  - files: ["/etc/*/targets.json", "/etc/targets.txt"]
"#;
    let c: ScrapeConfig = serde_yaml::from_str(yaml).unwrap();
    let errors = c.validate().unwrap_err().errors;
    let want = [
        "scrape timeout greater than scrape interval for scrape config with job name \"broken\"",
        "invalid scheme \"ftp\"",
        "at most one of bearer_token & bearer_token_file must be configured",
        "client cert file \"/c\" specified without client key file",
        "\"http://host:9100/metrics\" is not a valid hostname",
        "\"bad-name\" is not a valid label name",
        "path name \"/etc/*/targets.json\" is not valid for file discovery",
        "path name \"/etc/targets.txt\" is not valid for file discovery",
    ];
    assert_eq!(errors.len(), want.len(), "{errors:#?}");
    for w in want {
        assert!(errors.iter().any(|e| e.contains(w)), "missing {w:?} in {errors:#?}");
    }
    assert!(errors.iter().all(|e| e.contains("\"broken\"")), "{errors:#?}");
}

#[test]
fn validate_auth_exclusivity() {
    let c: ScrapeConfig = serde_yaml::from_str(
        "job_name: a\nbasic_auth: {username: u, password: p, password_file: /f}\nauthorization: {type: Basic, credentials: c}\n",
    )
    .unwrap();
    let errors = c.validate().unwrap_err().errors;
    for w in [
        "at most one of basic_auth password & password_file must be configured",
        "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
        "at most one of basic_auth, oauth2 & authorization must be configured",
    ] {
        assert!(errors.iter().any(|e| e.contains(w)), "missing {w:?} in {errors:#?}");
    }
    let c: ScrapeConfig = serde_yaml::from_str("job_name: a\nauthorization: {credentials: c}\n").unwrap();
    c.validate().unwrap();
    assert_eq!(c.authorization.unwrap().kind(), "Bearer");
}

#[test]
fn prepare_reports_duplicate_jobs_and_bad_global() {
    let mut configs: Vec<ScrapeConfig> = serde_yaml::from_str("- job_name: a\n- job_name: b\n- job_name: a\n").unwrap();
    let err = prepare_scrape_configs(&mut configs, &GlobalScrapeDefaults::default()).unwrap_err();
    assert_eq!(
        err.errors,
        vec!["found multiple scrape configs with job name \"a\"".to_string()]
    );
    let global = GlobalScrapeDefaults {
        scrape_interval: PromDuration::from_secs(5),
        scrape_timeout: PromDuration::from_secs(10),
    };
    let err = prepare_scrape_configs(&mut [], &global).unwrap_err();
    assert_eq!(err.to_string(), "global scrape timeout greater than scrape interval");
    let global = GlobalScrapeDefaults {
        scrape_timeout: PromDuration::from_secs(5),
        ..global
    };
    let ok = parse_scrape_configs("- job_name: x\n  static_configs: [{targets: [\"h:1\"]}]\n", &global);
    assert_eq!(ok.unwrap()[0].scrape_interval, Some(PromDuration::from_secs(5)));
}

#[test]
fn set_directory_resolves_relative_paths() {
    let mut c: ScrapeConfig = serde_yaml::from_str(
        "job_name: a\nbearer_token_file: tok\nfile_sd_configs: [{files: [sd/*.json, /abs/x.yml]}]\ntls_config: {ca_file: ca.pem}\n",
    )
    .unwrap();
    c.set_directory(std::path::Path::new("/etc/aw"));
    assert_eq!(c.bearer_token_file.as_deref(), Some("/etc/aw/tok"));
    assert_eq!(c.file_sd_configs[0].files, vec!["/etc/aw/sd/*.json", "/abs/x.yml"]);
    assert_eq!(c.tls_config.ca_file.as_deref(), Some("/etc/aw/ca.pem"));
}

#[test]
fn byte_sizes() {
    assert_eq!(ByteSize::parse("0"), Ok(ByteSize(0)));
    assert_eq!(ByteSize::parse("512"), Ok(ByteSize(512)));
    assert_eq!(ByteSize::parse("1KB"), Ok(ByteSize(1024)));
    assert_eq!(ByteSize::parse("10MiB"), Ok(ByteSize(10 << 20)));
    assert_eq!(ByteSize::parse("1GB512MB"), Ok(ByteSize((1 << 30) + (512 << 20))));
    assert!(ByteSize::parse("10 apples").is_err());
    assert!(ByteSize::parse("").is_err());
}

#[test]
fn file_sd_parses_json_and_yaml() {
    let json = br#"[
	{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}},
	{"targets": ["c:3"]}
]"#;
    let groups = parse_file_sd(json, "/sd/t.json").unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].source, "/sd/t.json:0");
    assert_eq!(
        groups[0].targets,
        vec![l(&[("__address__", "a:1")]), l(&[("__address__", "b:2")])]
    );
    assert_eq!(
        groups[0].labels,
        l(&[("env", "prod"), ("__meta_filepath", "/sd/t.json")])
    );
    assert_eq!(groups[1].labels, l(&[("__meta_filepath", "/sd/t.json")]));

    let yaml = b"- targets: ['x:1']\n  labels:\n    team: a\n";
    let groups = parse_file_sd(yaml, "/sd/t.yml").unwrap();
    assert_eq!(groups[0].targets, vec![l(&[("__address__", "x:1")])]);
    assert_eq!(groups[0].labels.get("team"), Some("a"));
    assert!(parse_file_sd(b"", "/sd/empty.yaml").unwrap().is_empty());
}

#[test]
fn file_sd_rejects_bad_content() {
    let err = parse_file_sd(br#"[{"targets": ["a:1"], "labels": {"bad-name": "x"}}]"#, "t.json").unwrap_err();
    assert_eq!(err, "\"bad-name\" is not a valid label name");
    assert!(parse_file_sd(b"[null]", "t.json")
        .unwrap_err()
        .contains("nil target group item found (index 0)"));
    assert!(parse_file_sd(b"- targets: [a]\n  extra: 1\n", "t.yml").is_err());
    assert!(parse_file_sd(b"{not json", "t.json").is_err());
}

#[test]
fn file_sd_paths_and_wildcards() {
    assert!(is_valid_file_sd_path("/etc/sd/*.json"));
    assert!(is_valid_file_sd_path("sd/targets.yml"));
    assert!(is_valid_file_sd_path("/a/b*c.YAML"));
    assert!(!is_valid_file_sd_path("/etc/*/x.json"));
    assert!(!is_valid_file_sd_path("/etc/x.txt"));
    assert!(wildcard_matches("*.json", "a.json"));
    assert!(wildcard_matches("t?.json", "t1.json"));
    assert!(wildcard_matches("a*b*c.json", "axxbyyc.json"));
    assert!(!wildcard_matches("*.json", "a.yml"));
    assert!(!wildcard_matches("t?.json", "t12.json"));
}

#[test]
fn file_sd_watcher_reads_and_keeps_last_good_content() {
    let dir = std::env::temp_dir().join(format!("aerowatch-file-sd-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pattern = dir.join("*.json").to_string_lossy().into_owned();
    let file = dir.join("a.json");
    std::fs::write(&file, r#"[{"targets": ["a:1"]}]"#).unwrap();
    std::fs::write(dir.join("ignored.txt"), "x").unwrap();
    assert_eq!(expand_pattern(&pattern), vec![file.clone()]);

    let mut w = FileSdWatcher::new(FileSdConfig {
        files: vec![pattern],
        refresh_interval: PromDuration::from_secs(300),
    });
    assert!(w.needs_refresh());
    let groups = w.refresh();
    assert_eq!(groups.len(), 1);
    assert!(!w.needs_refresh());
    // Broken content keeps the previous groups.
    std::fs::write(&file, "[{").unwrap();
    let groups = w.refresh();
    assert_eq!(groups[0].targets, vec![l(&[("__address__", "a:1")])]);
    // A removed file takes its groups with it.
    std::fs::remove_file(&file).unwrap();
    assert!(w.needs_refresh());
    assert!(w.refresh().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rfc3339_formatting() {
    assert_eq!(format_rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_rfc3339_millis(1_675_246_830_456), "2023-02-01T10:20:30.456Z");
    assert_eq!(format_rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
}

#[test]
fn global_url_replaces_loopback_hosts() {
    let opts = GlobalUrlOptions {
        listen_address: "0.0.0.0:9090".to_string(),
        host: "prom.example:443".to_string(),
        scheme: "https".to_string(),
    };
    assert_eq!(
        global_url("http://localhost:9090/metrics", Some(&opts)),
        "https://prom.example:443/metrics"
    );
    assert_eq!(
        global_url("http://127.0.0.1:9100/metrics?a=b", Some(&opts)),
        "http://prom.example:9100/metrics?a=b"
    );
    assert_eq!(
        global_url("http://node:9100/metrics", Some(&opts)),
        "http://node:9100/metrics"
    );
    assert_eq!(
        global_url("http://localhost:9100/metrics", None),
        "http://localhost:9100/metrics"
    );
}

#[test]
fn target_status_serialises_like_the_targets_api() {
    let status = TargetStatus {
        discovered_labels: l(&[("__address__", "h:1")]),
        labels: l(&[("instance", "h:1"), ("job", "j")]),
        scrape_pool: "j".to_string(),
        scrape_url: "http://h:1/metrics".to_string(),
        global_url: "http://h:1/metrics".to_string(),
        last_error: String::new(),
        last_scrape: Some(0),
        last_scrape_duration: 0.5,
        health: TargetHealth::Up,
        scrape_interval: "15s".to_string(),
        scrape_timeout: "10s".to_string(),
        samples_out_of_order: 3,
        samples_duplicate: 0,
        samples_out_of_bounds: 0,
    };
    let json = serde_json::to_string(&status).unwrap();
    assert_eq!(
        json,
        r#"{"discoveredLabels":{"__address__":"h:1"},"labels":{"instance":"h:1","job":"j"},"scrapePool":"j","scrapeUrl":"http://h:1/metrics","globalUrl":"http://h:1/metrics","lastError":"","lastScrape":"1970-01-01T00:00:00.000Z","lastScrapeDuration":0.5,"health":"up","scrapeInterval":"15s","scrapeTimeout":"10s"}"#
    );
}

#[test]
fn http_client_builds_for_tls_settings() {
    use super::http::HttpScraper;
    let mut c = ScrapeConfig::new("t");
    c.scheme = "https".to_string();
    c.tls_config.insecure_skip_verify = true;
    assert!(HttpScraper::new(&c, "ua").is_ok());
    c.tls_config = TlsConfig {
        server_name: Some("example.com".to_string()),
        ..Default::default()
    };
    assert!(HttpScraper::new(&c, "ua").is_ok());
    c.tls_config = TlsConfig {
        ca_file: Some("/nonexistent/ca.pem".to_string()),
        ..Default::default()
    };
    let err = HttpScraper::new(&c, "ua").unwrap_err();
    assert!(
        err.starts_with("unable to load specified CA cert /nonexistent/ca.pem"),
        "{err}"
    );
    c.tls_config = TlsConfig {
        cert_file: Some("/nonexistent/c.pem".to_string()),
        key_file: Some("/nonexistent/k.pem".to_string()),
        ..Default::default()
    };
    let err = HttpScraper::new(&c, "ua").unwrap_err();
    assert!(
        err.starts_with("unable to read client cert file /nonexistent/c.pem"),
        "{err}"
    );
}

#[tokio::test]
async fn cancel_wakes_every_waiter() {
    let c = Cancel::new();
    assert!(!c.is_cancelled());
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.cancelled().await })
        })
        .collect();
    c.cancel();
    for w in waiters {
        tokio::time::timeout(Duration::from_secs(2), w).await.unwrap().unwrap();
    }
    // Already cancelled: resolves at once.
    tokio::time::timeout(Duration::from_secs(2), c.cancelled())
        .await
        .unwrap();
}

#[test]
fn manager_and_its_futures_are_send() {
    struct Null;
    struct NullApp;
    impl crate::sink::BatchAppender for NullApp {
        fn append(&mut self, _: &Labels, _: i64, _: f64) -> Result<(), crate::sink::SampleRefusal> {
            Ok(())
        }
        fn commit(self: Box<Self>) -> Result<u64, crate::sink::CommitError> {
            Ok(0)
        }
    }
    impl crate::sink::SampleSink for Null {
        fn appender(&self) -> Box<dyn crate::sink::BatchAppender> {
            Box::new(NullApp)
        }
    }
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let m = ScrapeManager::new(std::sync::Arc::new(Null), "ua".to_string());
    send_sync(&m);
    send(&m.apply_config(Vec::new()));
    send(&m.stop());
}
