//! Differential test against the real Prometheus 2.42 template engine:
//! `promtool test rules` expands alert annotations, and a deliberately
//! failing expectation makes it print what it produced. Every annotation
//! here must come out byte-identical from `expand_alert_annotation`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use gotemplate::{expand_alert_annotation, query_fn, QuerySample};

struct Case {
    labels: &'static [(&'static str, &'static str)],
    /// Sample value as written in promtool's series notation.
    value: &'static str,
    annotations: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        labels: &[("instance", "host-1.example.com:9100"), ("job", "node")],
        value: "1234567.5",
        annotations: &[
            "{{ $value }}",
            "{{ humanize $value }} {{ humanize1024 $value }} {{ humanizeDuration $value }}",
            r#"{{ printf "%.2f" $value }}|{{ printf "%d" $value }}|{{ $value | printf "%5.1f|" }}|{{ printf "%e" $value }}|{{ printf "%g" $value }}"#,
            r#"{{ printf "%s" $value }}|{{ printf "%v %v" $value }}|{{ printf "%q" $labels.job }}|{{ printf "%08.3f" 3.14159 }}|{{ printf "%+.1e" $value }}|{{ printf "%-8s|" "ab" }}"#,
            "{{ $labels.instance | stripPort }} {{ $labels.instance | stripDomain }} {{ $labels.nope }}|",
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
            "{{ .Labels.job | toUpper }} {{ title \"hello wORLD foo_bar\" }} {{ toLower \"MiXeD\" }}",
        ],
    },
    Case {
        labels: &[("instance", "10.0.0.1:8080"), ("job", "api"), ("code", "500")],
        value: "0.1",
        annotations: &[
            "{{ $value }} {{ humanize $value }} {{ humanizePercentage $value }} {{ humanizeDuration $value }}",
            r#"{{ reReplaceAll "(\\d+)\\.(\\d+)" "$2-$1" $labels.instance }} {{ reReplaceAll ":.*" "" $labels.instance }}"#,
            r#"{{ if match "^5.." $labels.code }}server error{{ else }}ok{{ end }} {{ match "a+" "bbb" }}"#,
            "{{ if gt $value 0.05 }}high{{ else if gt $value 0.01 }}medium{{ else }}low{{ end }}",
            "{{ if gt $value 1 }}x{{ end }}",
            "{{ graphLink \"rate(http_requests_total{code=\\\"500\\\"}[5m])\" }} {{ tableLink \"up == 0\" }}",
            "{{ $labels.instance | stripDomain }}",
        ],
    },
    Case {
        labels: &[("instance", "db:5432"), ("job", "postgres")],
        value: "100000",
        annotations: &[
            "{{ $value }} {{ humanize $value }} {{ humanize1024 $value }} {{ humanizeDuration $value }} {{ humanizePercentage $value }}",
            "{{ humanizeTimestamp $value }} {{ humanizeTimestamp 1435065584.128 }} {{ (1435065584.128 | toTime).Format \"2006-01-02T15:04:05Z07:00\" }}",
            r#"{{ printf "%.0f" $value }} {{ printf "%x" 255 }} {{ printf "%X" 255 }} {{ printf "%o" 8 }} {{ printf "%b" 5 }} {{ printf "%c" 65 }} {{ printf "%5d|%-5d|%05d" 42 42 42 }}"#,
            r#"{{ printf "%t" true }} {{ printf "%d%%" 50 }} {{ printf "%d" }} {{ printf "%d" 1 2 }} {{ printf "%!" }} {{ printf "%z" 1 }}"#,
            "{{ print 1 2 \"a\" \"b\" 3 }}|{{ println 1 \"x\" }}|{{ print $value 0.5 }}",
            "{{ parseDuration \"1h2m10ms\" }} {{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}",
        ],
    },
    Case {
        labels: &[("instance", "[2001:db8::1]:9100"), ("job", "v6")],
        value: "1e21",
        annotations: &[
            "{{ $value }} {{ humanize $value }} {{ printf \"%f\" $value }}",
            "{{ $labels.instance | stripPort }} {{ $labels.instance | stripDomain }}",
            "{{ len $labels }} {{ index $labels \"job\" }} {{ index $labels \"absent\" }}| {{ len \"héllo\" }}",
            "{{ slice \"abcdef\" 1 3 }} {{ html \"<a href='x'>&\\\"\" }} {{ js \"it's <b>\\\"q\\\"</b>=\" }} {{ urlquery \"a b&c/é\" }}",
            "{{ and 1 0 2 }} {{ or 0 \"\" \"x\" }} {{ not 0 }} {{ and \"a\" \"b\" }} {{ or 0 false }}",
            "{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
        ],
    },
    Case {
        labels: &[("instance", "web-01"), ("job", "web"), ("severity", "critical")],
        value: "NaN",
        annotations: &[
            "{{ $value }} {{ humanize $value }} {{ humanize1024 $value }} {{ humanizeDuration $value }} {{ humanizeTimestamp $value }} {{ humanizePercentage $value }}",
            r#"{{ printf "%.2f" $value }} {{ printf "%5.1f" $value }} {{ printf "%+f" $value }}"#,
            "{{- /* comment */ -}}  [ {{- $labels.severity -}} ]  {{ \"trim\" -}}   \n  end",
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }} {{ $y := $labels.job }}{{ $y }}",
            "{{ range $i, $e := (args \"a\" 1 2.5) }}{{ $i }}:{{ $e }} {{ end }}",
            "{{ define \"sub\" }}[{{ .arg0 }}|{{ .arg1 }}]{{ end }}{{ template \"sub\" (args $labels.job $value) }}",
            "{{ with $labels.missing }}has{{ else }}none{{ end }} {{ with $labels.job }}{{ . }}{{ end }}",
        ],
    },
    Case {
        labels: &[("instance", "cache:6379"), ("job", "redis")],
        value: "-0.0001234",
        annotations: &[
            "{{ $value }} {{ humanize $value }} {{ humanizeDuration $value }} {{ humanizePercentage $value }}",
            r#"{{ printf "%.3e" $value }} {{ printf "%G" $value }} {{ printf "%v" $labels }}"#,
            "{{ range $labels }}{{ . }},{{ end }} {{ range $k, $v := $labels }}{{ if eq $k \"job\" }}{{ break }}{{ end }}{{ $k }} {{ end }}",
            "{{ .Value }} {{ .ExternalLabels.region }} {{ .Labels.job }}",
            "{{ humanize \"1234\" }} {{ humanize 2048 }} {{ humanize1024 \"2048\" }} {{ humanizeDuration \"90\" }}",
        ],
    },
    Case {
        labels: &[("instance", "disk:9100"), ("mountpoint", "/var/lib"), ("job", "node")],
        value: "95.5",
        annotations: &[
            r#"Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is {{ printf "%.1f" $value }}% full ({{ $value | humanizePercentage }})"#,
            "{{ humanizeDuration 3661 }} {{ humanizeDuration 86400 }} {{ humanizeDuration 90061.5 }} {{ humanizeDuration 0 }} {{ humanizeDuration -5 }} {{ humanizeDuration 0.0005 }}",
            "{{ humanize 0.000001234 }} {{ humanize 1e-30 }} {{ humanize 999.99 }} {{ humanize 1000 }} {{ humanize -1500000 }}",
            "{{ humanize1024 1023 }} {{ humanize1024 1024 }} {{ humanize1024 1.5e12 }} {{ humanize1024 -3000 }}",
            "{{ humanizeTimestamp 0 }} {{ humanizeTimestamp 1.5 }} {{ humanizeTimestamp -1.5 }} {{ humanizeTimestamp 1700000000.123456 }}",
            "{{ title \"école été\" }} {{ toUpper \"straße\" }} {{ toLower \"ÀÉÎ\" }}",
        ],
    },
    Case {
        labels: &[("instance", "q:1"), ("job", "query")],
        value: "3",
        annotations: &[
            "{{ with query \"qmetric\" | sortByLabel \"instance\" }}{{ . | first | label \"instance\" }} {{ . | first | value }}{{ end }}",
            "{{ range query \"qmetric\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }} {{ end }}",
            "{{ (query \"qmetric\" | first).Labels.job }} {{ query \"qmetric\" | len }}",
            "{{ with query \"nothing_here\" }}some{{ else }}empty{{ end }}",
            "{{ query \"nothing_here\" | first }}",
            "{{ (query \"nothing_here\").banana }}",
            "{{ query \"qmetric\" | first | strvalue }}|",
        ],
    },
    Case {
        labels: &[("instance", "err:1"), ("job", "errors")],
        value: "42",
        annotations: &[
            "{{ .Foo }}",
            "{{ template \"nope\" }}",
            "{{ printf }}",
            "{{ reReplaceAll \"(\" \"x\" \"y\" }}",
            "{{ gt $value 40 }}",
            "{{ $labels.job.foo }}",
            "{{ humanize \"abc\" }}",
            "{{ index $labels 1 }}",
            "{{ len 3 }}",
            "{{ toUpper 3 }}",
            "{{ nil }}",
            "line1\n{{ .Nope\n}}",
            "{{ range 5 }}{{ end }}",
            "{{ humanizeTimestamp 1e20 }}",
            "{{ parseDuration \"5x\" }}",
            "{{ slice \"abc\" 2 1 }}",
            "{{ index \"abc\" 5 }}",
        ],
    },
    Case {
        labels: &[("instance", "misc:1"), ("job", "misc"), ("path", "/a b?c=d&e")],
        value: "0.000001",
        annotations: &[
            "{{ $value }} {{ printf \"%v|%.3g|%10.4f|%-10.2e|\" $value $value $value $value }}",
            "{{ urlquery $labels.path }} {{ $labels.path | html }} {{ $labels.path | js }}",
            "{{ print nil }} {{ print $labels.nope }} {{ printf \"%v\" $labels.nope }} {{ html $labels.nope }}",
            "{{ 0x1F }} {{ 0o17 }} {{ 1_000 }} {{ 'a' }} {{ 1e3 }} {{ -2.50 }} {{ 017 }} {{ .5 }}",
            "{{ \"tab\\there\" }} {{ `raw\\n` }} {{ printf \"%q\" \"é\\n\" }} {{ printf \"%x\" \"hi\" }} {{ printf \"% x\" \"hi\" }}",
            "{{ $value | printf \"%.2f\" | printf \"[%s]\" }} {{ (printf \"%d-%s\" 7 \"x\") }}",
        ],
    },
    Case {
        labels: &[("instance", "fmt:1"), ("job", "fmt")],
        value: "-1.5",
        annotations: &[
            "{{ . }}|{{ $labels }}|{{ .Labels }}|{{ printf \"%T\" . }}",
            r#"{{ printf "%08.2f|%.3s|%5t|%-6v|%+d|%x|%X" $value "abcdef" true 1.5 -5 -255 "Hi" }}"#,
            r#"{{ printf "%6.2f|%-7.1e|%+g|% .2f|%#g" $value $value $value $value $value }}"#,
            r#"{{ printf "%s|%v|%d" $labels.job (index $labels "job") (len $labels) }}"#,
            r#"{{ printf "%q|%#q|%+q|%U|%#U" "tab	here" "bq" "é" 233 233 }}"#,
            "{{ printf \"%3c|%-4q|%#o|%#b|%08b\" 97 98 8 5 5 }}",
            "{{ humanize 1e-3 }} {{ humanize 0.999999 }} {{ humanize 999999 }} {{ humanize 1e27 }} {{ humanize1024 1e30 }}",
            "{{ humanizeDuration 59.9999 }} {{ humanizeDuration 1.00001 }} {{ humanizeDuration 3599.9 }} {{ humanizeDuration 1e-9 }}",
        ],
    },
];

/// Templates Prometheus rejects when loading rules; `promtool check rules`
/// prints the parse error for each.
const PARSE_ERRORS: &[&str] = &[
    "{{ humanise $value }}",
    "{{ if }}{{ end }}",
    "{{ $undefined }}",
    "{{ 1 | 2 }}",
    "{{",
    "{{ if $value }}never closed",
    "{{ end }}",
    "{{ else }}",
    "{{ 3x }}",
    "{{ \"unterminated }}",
    "{{ $x := }}",
    "{{ (1 }}",
    "{{ 1) }}",
    "{{ template }}",
    "{{ range }}{{ end }}",
    "a\nb\n{{ if $value }}\n{{ end",
    "{{ break }}",
    "{{ \"x\".y }}",
    "{{ $labels.a | }}",
    "{{ /* c */ }}",
    "{{/* unclosed comment }}",
    "{{ .A }}{{ with $v := 1 }}{{ end }}{{ $v }}",
    "{{ 99999999999999999999 }}",
    "{{ 'ab' }}",
    "{{ range $a, $b, $c := $labels }}{{ end }}",
    "{{ @ }}",
    "{{ \u{a0} }}",
    "{{ if 1 }}{{ else }}{{ else }}{{ end }}",
    "{{ define \"x\" }}a{{ end }}{{ define \"x\" }}b{{ end }}",
];

/// Series backing the `query` cases (same in promtool and in our query fn).
const QUERY_SERIES: &[(&str, f64)] = &[("b", 21.0), ("a", 11.5), ("c", 1e6)];

fn yaml_single(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn yaml_double(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses promtool's `Annotations:{a="x", b="y"}` (Go-quoted values).
fn parse_label_set(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == ' ' || b[i] == ',') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i] != '=' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let key: String = b[start..i].iter().collect();
        i += 2; // ="
        let mut val = String::new();
        while i < b.len() && b[i] != '"' {
            if b[i] == '\\' && i + 1 < b.len() {
                i += 1;
                match b[i] {
                    'n' => val.push('\n'),
                    't' => val.push('\t'),
                    'r' => val.push('\r'),
                    'a' => val.push('\x07'),
                    'b' => val.push('\x08'),
                    'f' => val.push('\x0c'),
                    'v' => val.push('\x0b'),
                    'x' => {
                        let h: String = b[i + 1..i + 3].iter().collect();
                        val.push(char::from(u8::from_str_radix(&h, 16).unwrap_or(b'?')));
                        i += 2;
                    }
                    'u' => {
                        let h: String = b[i + 1..i + 5].iter().collect();
                        val.push(char::from_u32(u32::from_str_radix(&h, 16).unwrap_or(63)).unwrap_or('?'));
                        i += 4;
                    }
                    c => val.push(c),
                }
            } else {
                val.push(b[i]);
            }
            i += 1;
        }
        i += 1;
        out.insert(key, val);
    }
    out
}

fn parse_value(v: &str) -> f64 {
    match v {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or(f64::NAN),
    }
}

#[test]
fn annotations_match_promtool() {
    let promtool = Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        eprintln!(
            "skipping promtool differential test: /usr/bin/promtool is not installed (apt-get install prometheus)"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("gotemplate-promtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    let mut rules = String::from("groups:\n- name: diff\n  rules:\n");
    let mut series = String::new();
    let mut tests = String::new();
    for (i, case) in CASES.iter().enumerate() {
        rules.push_str(&format!("  - alert: A{i}\n    expr: m{i}\n    annotations:\n"));
        for (j, a) in case.annotations.iter().enumerate() {
            let quoted = if a.contains('\n') {
                yaml_double(a)
            } else {
                yaml_single(a)
            };
            rules.push_str(&format!("      a{j:02}: {quoted}\n"));
        }
        let labels: Vec<String> = case
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={}", yaml_double(v)))
            .collect();
        series.push_str(&format!(
            "  - series: {}\n    values: '{}'\n",
            yaml_single(&format!("m{i}{{{}}}", labels.join(", "))),
            case.value
        ));
        tests.push_str(&format!("  - eval_time: 0m\n    alertname: A{i}\n    exp_alerts: []\n"));
    }
    for (inst, v) in QUERY_SERIES {
        series.push_str(&format!(
            "  - series: 'qmetric{{instance=\"{inst}\", job=\"q\"}}'\n    values: '{v}'\n"
        ));
    }
    let test_file = format!(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  external_labels:\n    region: eu-west\n  external_url: http://prom.example.com:9090/prefix\n  input_series:\n{series}  alert_rule_test:\n{tests}"
    );
    std::fs::write(dir.join("rules.yml"), &rules).expect("write rules");
    std::fs::write(dir.join("test.yml"), &test_file).expect("write test");

    let out = Command::new(promtool)
        .arg("test")
        .arg("rules")
        .arg("test.yml")
        .current_dir(&dir)
        .output()
        .expect("run promtool");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);

    // alertname -> annotations promtool produced.
    let mut got: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("alertname: ") {
            current = rest.split(',').next().unwrap_or("").to_string();
        } else if let Some(rest) = t.strip_prefix("Annotations:{") {
            let body = rest.strip_suffix('}').unwrap_or(rest);
            got.insert(current.clone(), parse_label_set(body));
        }
    }
    assert_eq!(
        got.len(),
        CASES.len(),
        "promtool output not understood:\n{text}\n--- rules:\n{rules}"
    );

    let external: BTreeMap<String, String> = [("region".to_string(), "eu-west".to_string())].into();
    let qf = query_fn(|q| {
        if q == "qmetric" {
            // PromQL gives no order guarantee; the templates sort.
            let mut series = QUERY_SERIES.to_vec();
            series.sort_by(|a, b| a.0.cmp(b.0));
            Ok(series
                .iter()
                .map(|(inst, v)| QuerySample {
                    labels: [
                        ("__name__".to_string(), "qmetric".to_string()),
                        ("instance".to_string(), inst.to_string()),
                        ("job".to_string(), "q".to_string()),
                    ]
                    .into(),
                    value: *v,
                })
                .collect())
        } else {
            Ok(Vec::new())
        }
    });
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (i, case) in CASES.iter().enumerate() {
        let name = format!("A{i}");
        let mut labels: BTreeMap<String, String> = case
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.insert("__name__".into(), format!("m{i}"));
        let theirs = &got[&name];
        for (j, a) in case.annotations.iter().enumerate() {
            let key = format!("a{j:02}");
            let ours = expand_alert_annotation(
                &name,
                a,
                &labels,
                &external,
                "http://prom.example.com:9090/prefix",
                parse_value(case.value),
                Some(qf.clone()),
            );
            compared += 1;
            // Prometheus drops annotations that expand to "" from the alert.
            let expected = theirs.get(&key).cloned().unwrap_or_default();
            if ours != expected {
                mismatches.push(format!(
                    "{name}/{key}: template {a:?}\n  promtool: {expected:?}\n  ours:     {ours:?}"
                ));
            }
        }
    }
    // Parse errors: promtool check rules reports them per annotation.
    let mut rules = String::from("groups:\n- name: parse\n  rules:\n");
    for (i, a) in PARSE_ERRORS.iter().enumerate() {
        rules.push_str(&format!(
            "  - alert: P{i}\n    expr: up\n    annotations:\n      x: {}\n",
            yaml_double(a)
        ));
    }
    std::fs::write(dir.join("parse.yml"), &rules).expect("write rules");
    let out = Command::new(promtool)
        .arg("check")
        .arg("rules")
        .arg("parse.yml")
        .current_dir(&dir)
        .output()
        .expect("run promtool");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    for (i, a) in PARSE_ERRORS.iter().enumerate() {
        let marker = format!("\"P{i}\": annotation \"x\": ");
        let theirs = text
            .lines()
            .find_map(|l| l.find(&marker).map(|k| l[k + marker.len()..].to_string()))
            .unwrap_or_else(|| "<no error reported>".to_string());
        let name = format!("__alert_P{i}");
        let mut set = gotemplate::TemplateSet::new(gotemplate::Funcs::prometheus(None));
        let ours = match set.parse(&name, &format!("{}{a}", gotemplate::ALERT_TEMPLATE_DEFS)) {
            Ok(()) => "<no error reported>".to_string(),
            Err(e) => e.to_string(),
        };
        compared += 1;
        if ours != theirs {
            mismatches.push(format!(
                "P{i}: template {a:?}\n  promtool: {theirs:?}\n  ours:     {ours:?}"
            ));
        }
    }

    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("compared {compared} annotations with promtool");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
