//! Differential test against Alertmanager 0.25: `amtool template render`
//! executes a template over built-in example data, which is rebuilt here
//! (minus its `time.Now()`-based times) and rendered with this crate.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use gotemplate::{AlertData, AlertmanagerData, GoTime, DEFAULT_TEMPLATES};

fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// amtool's example `template.Data` (cli/template_render.go).
fn amtool_data() -> AlertmanagerData {
    let common_labels = [
        ("commonlabelkey1", "commonlabelvalue1"),
        ("commonlabelkey2", "commonlabelvalue2"),
    ];
    let common_annotations = [
        ("commonannotationkey1", "commonannotationvalue1"),
        ("commonannotationkey2", "commonannotationvalue2"),
    ];
    let alert = |labels: &[(&str, &str)], annotations: &[(&str, &str)], fp: &str| AlertData {
        status: "alertstatus".into(),
        labels: kv(&[labels, &common_labels[..]].concat()),
        annotations: kv(&[annotations, &common_annotations[..]].concat()),
        starts_at: GoTime::zero(),
        ends_at: GoTime::zero(),
        generator_url: "https://generatorurl.com".into(),
        fingerprint: fp.into(),
    };
    AlertmanagerData {
        receiver: "receiver".into(),
        status: "alertstatus".into(),
        alerts: vec![
            alert(
                &[("label1", "value1"), ("label2", "value2"), ("instance", "foo.bar:1234")],
                &[("annotation1", "value1"), ("annotation2", "value2")],
                "fingerprint1",
            ),
            alert(
                &[("foo", "bar"), ("baz", "qux")],
                &[("aaa", "bbb"), ("ccc", "ddd")],
                "fingerprint2",
            ),
        ],
        group_labels: kv(&[
            ("grouplabelkey1", "grouplabelvalue1"),
            ("grouplabelkey2", "grouplabelvalue2"),
        ]),
        common_labels: kv(&common_labels),
        common_annotations: kv(&common_annotations),
        external_url: "https://example.com".into(),
    }
}

const TEMPLATES: &[&str] = &[
    "{{ .Receiver }}|{{ .Status }}|{{ .ExternalURL }}|{{ .GroupLabels }}|{{ .CommonLabels }}|{{ .CommonAnnotations }}",
    "{{ range .Alerts }}[{{ .Status }} {{ .Labels }} / {{ .Annotations }} {{ .GeneratorURL }} {{ .Fingerprint }}]{{ end }}",
    "{{ .CommonLabels.SortedPairs }}|{{ .CommonLabels.Names }}|{{ .CommonLabels.Values }}|{{ .CommonLabels.SortedPairs.Values | join \", \" }}",
    "{{ .CommonLabels.Remove .GroupLabels.Names }}|{{ (index .Alerts 0).Labels.Remove (stringSlice \"label1\") }}",
    "{{ printf \"%T %T %T %T\" .Alerts .CommonLabels .CommonLabels.SortedPairs (index .Alerts 0) }}",
    "{{ len .Alerts.Firing }} {{ len .Alerts.Resolved }} {{ printf \"%v\" .Alerts.Firing }}",
    "{{ title \"aa bb CC hello-world it's o_k x.y 3d ÉCOLE a:b\" }}|{{ toUpper \"straße\" }}|{{ toLower \"ÀB\" }}",
    "{{ reReplaceAll \"(\\\\w+)\\\\.(\\\\w+)\" \"$2.$1\" \"foo.bar\" }}|{{ match \"^f\" \"foo\" }}|{{ safeHtml \"<x>\" }}",
    "{{ template \"__subject\" . }}",
    "{{ template \"slack.default.fallback\" . }}",
    "{{ template \"pagerduty.default.instances\" .Alerts }}",
    "{{ template \"opsgenie.default.description\" . }}",
    "{{ template \"wechat.default.message\" . }}",
    "{{ .Foo }}",
    "{{ (index .Alerts 0).Nope }}",
];

#[test]
fn notifications_match_amtool() {
    let amtool = Path::new("/usr/bin/amtool");
    if !amtool.exists() {
        eprintln!("skipping amtool differential test: /usr/bin/amtool is not installed (apt-get install prometheus-alertmanager)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("gotemplate-amtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let tmpl = dir.join("default.tmpl");
    std::fs::write(&tmpl, DEFAULT_TEMPLATES).expect("write templates");
    let data = amtool_data().to_value();
    let mut mismatches = Vec::new();
    for t in TEMPLATES {
        let out = Command::new(amtool)
            .arg("template")
            .arg("render")
            .arg(format!("--template.glob={}", tmpl.display()))
            .arg(format!("--template.text={t}"))
            .output()
            .expect("run amtool");
        let theirs = if out.status.success() {
            // amtool prints the rendering followed by a newline.
            let s = String::from_utf8_lossy(&out.stdout).to_string();
            s.strip_suffix('\n').unwrap_or(&s).to_string()
        } else {
            let e = String::from_utf8_lossy(&out.stderr).trim().to_string();
            e.strip_prefix("amtool: error: ").unwrap_or(&e).to_string()
        };
        let mut set = gotemplate::alertmanager_defaults();
        let ours = match set.parse("", t) {
            Err(e) => e.to_string(),
            Ok(()) => match set.execute("", &data) {
                Ok(s) => s,
                Err(e) => e.to_string(),
            },
        };
        // amtool trims the rendering's trailing newlines and passes Data by
        // value; Alertmanager's notifiers pass *template.Data.
        let ours = ours.trim_end_matches('\n').replace("*template.Data", "template.Data");
        let theirs = theirs.trim_end_matches('\n').to_string();
        if ours != theirs {
            mismatches.push(format!("template {t:?}\n  amtool: {theirs:?}\n  ours:   {ours:?}"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
