//! Tests. The `prom_*` cases are the rows of Prometheus's `TestRelabel`
//! table (`model/relabel/relabel_test.go`), one test each, in order.

use super::*;

fn ls(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn re(s: &str) -> RelabelRegex {
    RelabelRegex::new(s).unwrap_or_else(|e| panic!("regex {s:?}: {e}"))
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

/// Like the Go test loop: every config must validate, then `process`.
#[track_caller]
fn check(input: &[(&str, &str)], configs: &[RelabelConfig], expected: Option<&[(&str, &str)]>) {
    for c in configs {
        if let Err(e) = c.validate() {
            panic!("config {c:?} does not validate: {e}");
        }
    }
    assert_eq!(process(&ls(input), configs), expected.map(ls));
}

fn replace(source: &[&str], regex: &str, target: &str, replacement: &str) -> RelabelConfig {
    RelabelConfig {
        source_labels: names(source),
        regex: re(regex),
        target_label: target.into(),
        replacement: replacement.into(),
        action: Action::Replace,
        ..Default::default()
    }
}

fn with_action(source: &[&str], regex: &str, action: Action) -> RelabelConfig {
    RelabelConfig {
        source_labels: names(source),
        regex: re(regex),
        action,
        ..Default::default()
    }
}

fn target_action(source: &[&str], target: &str, action: Action) -> RelabelConfig {
    RelabelConfig {
        source_labels: names(source),
        target_label: target.into(),
        action,
        ..Default::default()
    }
}

fn hashmod(source: &[&str], target: &str, modulus: u64) -> RelabelConfig {
    RelabelConfig {
        modulus,
        ..target_action(source, target, Action::HashMod)
    }
}

fn label_action(regex: &str, replacement: &str, action: Action) -> RelabelConfig {
    RelabelConfig {
        regex: re(regex),
        replacement: replacement.into(),
        action,
        ..Default::default()
    }
}

const ABC: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];
const PORTS: &[(&str, &str)] = &[("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")];

// ---------------------------------------------------------------------------
// Prometheus TestRelabel rows.

#[test]
fn prom_01_replace_with_braced_refs() {
    check(
        ABC,
        &[replace(&["a"], "f(.*)", "d", "ch${1}-ch${1}")],
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
    );
}

#[test]
fn prom_02_multiple_sources_and_steps() {
    check(
        ABC,
        &[
            replace(&["a", "b"], "f(.*);(.*)r", "a", "b${1}${2}m"), // boobam
            replace(&["c", "a"], "(b).*b(.*)ba(.*)", "d", "$1$2$2$3"),
        ],
        Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
    );
}

#[test]
fn prom_03_drop_stops_processing() {
    check(
        &[("a", "foo")],
        &[
            with_action(&["a"], ".*o.*", Action::Drop),
            replace(&["a"], "f(.*)", "d", "ch$1-ch$1"),
        ],
        None,
    );
}

#[test]
fn prom_04_drop() {
    check(
        &[("a", "foo"), ("b", "bar")],
        &[with_action(&["a"], ".*o.*", Action::Drop)],
        None,
    );
}

#[test]
fn prom_05_replace_inner_group() {
    check(
        &[("a", "abc")],
        &[replace(&["a"], ".*(b).*", "d", "$1")],
        Some(&[("a", "abc"), ("d", "b")]),
    );
}

#[test]
fn prom_06_drop_no_match_keeps() {
    check(
        &[("a", "foo")],
        &[with_action(&["a"], "no-match", Action::Drop)],
        Some(&[("a", "foo")]),
    );
}

#[test]
fn prom_07_drop_regex_is_anchored() {
    check(
        &[("a", "foo")],
        &[with_action(&["a"], "f|o", Action::Drop)],
        Some(&[("a", "foo")]),
    );
}

#[test]
fn prom_08_keep_no_match_drops() {
    check(&[("a", "foo")], &[with_action(&["a"], "no-match", Action::Keep)], None);
}

#[test]
fn prom_09_keep_match() {
    check(
        &[("a", "foo")],
        &[with_action(&["a"], "f.*", Action::Keep)],
        Some(&[("a", "foo")]),
    );
}

#[test]
fn prom_10_no_replacement_without_match() {
    check(
        &[("a", "boo")],
        &[replace(&["a"], "f", "b", "bar")],
        Some(&[("a", "boo")]),
    );
}

#[test]
fn prom_11_hashmod() {
    check(
        ABC,
        &[hashmod(&["c"], "d", 1000)],
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    );
}

#[test]
fn prom_12_hashmod_newline() {
    check(
        &[("a", "foo\nbar")],
        &[hashmod(&["a"], "b", 1000)],
        Some(&[("a", "foo\nbar"), ("b", "734")]),
    );
}

#[test]
fn prom_13_labelmap() {
    check(
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        &[label_action("(b.*)", "bar_${1}", Action::LabelMap)],
        Some(&[
            ("a", "foo"),
            ("b1", "bar"),
            ("b2", "baz"),
            ("bar_b1", "bar"),
            ("bar_b2", "baz"),
        ]),
    );
}

#[test]
fn prom_14_labelmap_meta() {
    check(
        &[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
        ],
        &[label_action("__meta_(my.*)", "${1}", Action::LabelMap)],
        Some(&[
            ("a", "foo"),
            ("__meta_my_bar", "aaa"),
            ("__meta_my_baz", "bbb"),
            ("__meta_other", "ccc"),
            ("my_bar", "aaa"),
            ("my_baz", "bbb"),
        ]),
    );
}

#[test]
fn prom_15_templated_target_label() {
    check(
        &[("a", "some-name-value")],
        &[replace(&["a"], "some-([^-]+)-([^,]+)", "${1}", "${2}")],
        Some(&[("a", "some-name-value"), ("name", "value")]),
    );
}

#[test]
fn prom_16_empty_replacement_sets_nothing() {
    check(
        &[("a", "some-name-value")],
        &[replace(&["a"], "some-([^-]+)-([^,]+)", "${1}", "${3}")],
        Some(&[("a", "some-name-value")]),
    );
}

#[test]
fn prom_17_invalid_expanded_target_labels() {
    check(
        &[("a", "some-name-0")],
        &[
            replace(&["a"], "some-([^-]+)-([^,]+)", "${3}", "${1}"),
            replace(&["a"], "some-([^-]+)-([^,]+)", "${3}", "${1}"),
            replace(&["a"], "some-([^-]+)(-[^,]+)", "${3}", "${1}"),
        ],
        Some(&[("a", "some-name-0")]),
    );
}

#[test]
fn prom_18_real_life_tags() {
    check(
        &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
        &[
            replace(
                &["__meta_sd_tags"],
                "(?:.+,|^)path:(/[^,]+).*",
                "__metrics_path__",
                "${1}",
            ),
            replace(&["__meta_sd_tags"], "(?:.+,|^)job:([^,]+).*", "job", "${1}"),
            replace(&["__meta_sd_tags"], "(?:.+,|^)label:([^=]+)=([^,]+).*", "${1}", "${2}"),
        ],
        Some(&[
            ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar"),
        ]),
    );
}

#[test]
fn prom_19_issue_12283_labeldrop_then_set_again() {
    check(
        &[
            ("__meta_kubernetes_pod_container_port_name", "foo"),
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
        ],
        &[
            label_action("^__meta_kubernetes_pod_container_port_name$", "$1", Action::LabelDrop),
            replace(
                &["__meta_kubernetes_pod_annotation_XXX_metrics_port"],
                "(.+)",
                "__meta_kubernetes_pod_container_port_name",
                "metrics",
            ),
            with_action(
                &["__meta_kubernetes_pod_container_port_name"],
                "^metrics$",
                Action::Keep,
            ),
        ],
        Some(&[
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ]),
    );
}

#[test]
fn prom_20_labelkeep() {
    check(
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        &[label_action("(b.*)", "$1", Action::LabelKeep)],
        Some(&[("b1", "bar"), ("b2", "baz")]),
    );
}

#[test]
fn prom_21_labeldrop() {
    check(
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        &[label_action("(b.*)", "$1", Action::LabelDrop)],
        Some(&[("a", "foo")]),
    );
}

#[test]
fn prom_22_uppercase_lowercase() {
    check(
        &[("foo", "bAr123Foo")],
        &[
            target_action(&["foo"], "foo_uppercase", Action::Uppercase),
            target_action(&["foo"], "foo_lowercase", Action::Lowercase),
        ],
        Some(&[
            ("foo", "bAr123Foo"),
            ("foo_lowercase", "bar123foo"),
            ("foo_uppercase", "BAR123FOO"),
        ]),
    );
}

#[test]
fn prom_23_keepequal_equal_keeps() {
    check(
        PORTS,
        &[target_action(&["__tmp_port"], "__port1", Action::KeepEqual)],
        Some(PORTS),
    );
}

#[test]
fn prom_24_dropequal_equal_drops() {
    check(
        PORTS,
        &[target_action(&["__tmp_port"], "__port1", Action::DropEqual)],
        None,
    );
}

#[test]
fn prom_25_dropequal_different_keeps() {
    check(
        PORTS,
        &[target_action(&["__tmp_port"], "__port2", Action::DropEqual)],
        Some(PORTS),
    );
}

#[test]
fn prom_26_keepequal_different_drops() {
    check(
        PORTS,
        &[target_action(&["__tmp_port"], "__port2", Action::KeepEqual)],
        None,
    );
}

// ---------------------------------------------------------------------------
// Further semantics.

#[test]
fn missing_source_labels_join_as_empty() {
    check(
        &[("b", "x")],
        &[replace(&["a", "b", "c"], "(.*)", "joined", "$1")],
        Some(&[("b", "x"), ("joined", ";x;")]),
    );
    let sep = RelabelConfig {
        separator: "".into(),
        ..replace(&["a", "b"], "(.*)", "j", "[$1]")
    };
    check(
        &[("a", "1"), ("b", "2")],
        &[sep],
        Some(&[("a", "1"), ("b", "2"), ("j", "[12]")]),
    );
}

#[test]
fn replace_with_empty_result_deletes_target() {
    check(
        &[("a", "x"), ("t", "old")],
        &[replace(&["a"], "(.*)", "t", "$2")],
        Some(&[("a", "x")]),
    );
    // Static add with no source labels, and static delete.
    check(
        &[("a", "x")],
        &[replace(&[], "(.*)", "t", "v")],
        Some(&[("a", "x"), ("t", "v")]),
    );
    check(
        &[("a", "x"), ("t", "v")],
        &[replace(&[], "(.*)", "t", "")],
        Some(&[("a", "x")]),
    );
}

#[test]
fn replace_templated_target_with_empty_value_keeps_expanded_label() {
    // Prometheus 2.42 deletes the label named by the *unexpanded* target
    // (`${1}`), so an existing `name` label survives.
    check(
        &[("a", "some-name-"), ("name", "old")],
        &[replace(&["a"], "some-([^-]+)-(.*)", "${1}", "${2}")],
        Some(&[("a", "some-name-"), ("name", "old")]),
    );
}

#[test]
fn replace_overwrites_and_labels_stay_sorted() {
    let out = process(&ls(&[("z", "1"), ("a", "2")]), &[replace(&["z"], "(.*)", "m", "v$1")]).unwrap();
    let got: Vec<_> = out.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
    assert_eq!(got, [("a", "2"), ("m", "v1"), ("z", "1")]);
}

#[test]
fn go_template_expansion_rules() {
    let r = re("(?P<first>a+)(b*)(c)?");
    let caps = r.regex().captures("aab").unwrap();
    let expand = |t: &str| {
        let mut s = String::new();
        gocompat::expand(t, &caps, &mut s);
        s
    };
    assert_eq!(expand("$1"), "aa");
    assert_eq!(expand("${1}x"), "aax");
    assert_eq!(expand("$1x"), ""); // group named `1x`
    assert_eq!(expand("$first-$2"), "aa-b");
    assert_eq!(expand("${first}_"), "aa_");
    assert_eq!(expand("$first_"), ""); // group named `first_`
    assert_eq!(expand("$0"), "aab");
    assert_eq!(expand("$3|$9|$nope"), "||"); // unmatched, out of range, unknown
    assert_eq!(expand("$$1"), "$1");
    assert_eq!(expand("cost: $"), "cost: $");
    assert_eq!(expand("$-1"), "$-1");
    assert_eq!(expand("${}"), "${}");
    assert_eq!(expand("${1"), "${1");
    assert_eq!(expand("${a-b}"), "${a-b}");
    assert_eq!(expand("$01"), ""); // leading zero: a name, not group 1
    assert_eq!(expand("$é"), ""); // Unicode letters form names in Go
}

#[test]
fn regex_follows_go_syntax() {
    // Perl classes and word boundaries are ASCII-only in Go.
    assert!(!re(r"\d").is_match("٣"));
    assert!(!re(r"\w+").is_match("héllo"));
    assert!(re(r"\W").is_match("é"));
    assert!(!re(r"\s").is_match("\u{a0}"));
    assert!(re(r"[\d_]+").is_match("1_2"));
    assert!(re(r".*\bx").is_match("é x"));
    assert!(!re(r".*\bx").is_match("ax"));
    // A `{` that is not a repetition is a literal.
    assert!(re("a{").is_match("a{"));
    assert!(re("a{,2}").is_match("a{,2}"));
    assert!(re("a{01}").is_match("a{01}"));
    assert!(re("a{2}").is_match("aa"));
    assert!(re("a{1,}b").is_match("aaab"));
    assert!(RelabelRegex::new("a{1001}").is_err());
    assert!(RelabelRegex::new("a{3,2}").is_err());
    // Class characters that are operators in the regex crate.
    assert!(re("[a[b]").is_match("["));
    assert!(re("[a&&b]").is_match("&"));
    assert!(re("[+--]").is_match(","));
    assert!(re("[]a]").is_match("]"));
    assert!(re("[^]a]").is_match("b"));
    assert!(re("[a-]").is_match("-"));
    assert!(re("[[:alpha:]]+").is_match("abc"));
    assert!(RelabelRegex::new("[[:nope:]]").is_err());
    // Escapes.
    assert!(re(r"\Q.*+\E+").is_match(".*+++"));
    assert!(re(r"\Q(a").is_match("(a"));
    assert!(re(r"\101\x42\x{43}").is_match("ABC"));
    assert!(re(r"\<\>").is_match("<>"));
    assert!(RelabelRegex::new(r"\1").is_err());
    assert!(RelabelRegex::new(r"\Z").is_err());
    assert!(re(r"\p{^Greek}").is_match("a"));
    assert!(!re(r"\P{^Greek}").is_match("a"));
    assert!(re(r"\pL\p{Lu}").is_match("aB"));
    // Flags Go knows, and only those.
    assert!(re("(?i)abc").is_match("ABC"));
    assert!(re("(?s:a.b)").is_match("a\nb"));
    assert!(!re("a.b").is_match("a\nb"));
    assert!(RelabelRegex::new("(?x)a b").is_err());
    assert!(re("(?P<x>a)b").is_match("ab"));
    // Large but valid for Go.
    assert!(re(r"\pL{1000}").is_match(&"é".repeat(1000)));
    // The anchors wrap the whole expression.
    assert!(!re("a|b").is_match("ab"));
    assert!(re("^x$").is_match("x"));
}

#[test]
fn invalid_regex_error_names_pattern() {
    let err = RelabelRegex::new("(a").unwrap_err();
    assert!(
        matches!(&err, RelabelError::InvalidRegex { pattern, .. } if pattern == "(a"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("error parsing regexp \"(a\": "), "{err}");
}

#[test]
fn regex_keeps_original_text() {
    let r = re("foo(.*)");
    assert_eq!(r.as_str(), "foo(.*)");
    assert_eq!(r.to_string(), "foo(.*)");
    assert_eq!(r.regex().as_str(), "^(?:foo(.*))$");
    assert!(RelabelRegex::default().is_default());
    assert_eq!(RelabelRegex::default().as_str(), "(.*)");
}

#[test]
fn case_mapping_follows_go() {
    check(
        &[("v", "Straße ᾳ İ ǅ")],
        &[
            target_action(&["v"], "up", Action::Uppercase),
            target_action(&["v"], "low", Action::Lowercase),
        ],
        Some(&[("v", "Straße ᾳ İ ǅ"), ("up", "STRAßE ᾼ İ Ǆ"), ("low", "straße ᾳ i ǆ")]),
    );
}

#[test]
fn uppercase_of_empty_value_deletes_target() {
    check(
        &[("t", "old")],
        &[target_action(&["missing"], "t", Action::Uppercase)],
        Some(&[]),
    );
}

#[test]
fn hashmod_uses_last_eight_digest_bytes() {
    // md5("baz") = 73feffa4b7f6bb68 e44cf984c85f6e88; the tail mod 1000 is
    // 976 (the head would give 48).
    check(
        &[("c", "baz")],
        &[hashmod(&["c"], "h", 1000)],
        Some(&[("c", "baz"), ("h", "976")]),
    );
    check(
        &[("c", "db1:9100")],
        &[hashmod(&["c"], "h", 3)],
        Some(&[("c", "db1:9100"), ("h", "2")]),
    );
}

#[test]
fn unvalidated_zero_modulus_does_not_panic() {
    let c = RelabelConfig {
        modulus: 0,
        ..hashmod(&["a"], "h", 1)
    };
    assert_eq!(process(&ls(&[("a", "x")]), &[c]), Some(ls(&[("a", "x")])));
}

#[test]
fn labelmap_uses_snapshot_and_overwrites() {
    // The renamed labels of this step are not mapped again.
    check(
        &[("x_a", "1"), ("x_x_b", "2")],
        &[label_action("x_(.*)", "$1", Action::LabelMap)],
        Some(&[("a", "1"), ("x_b", "2"), ("x_a", "1"), ("x_x_b", "2")]),
    );
    // An existing label of the new name is overwritten.
    check(
        &[("__meta_job", "new"), ("job", "old")],
        &[label_action("__meta_(.*)", "$1", Action::LabelMap)],
        Some(&[("__meta_job", "new"), ("job", "new")]),
    );
}

#[test]
fn keepequal_with_missing_labels_compares_empty() {
    check(
        &[("a", "1")],
        &[target_action(&["x"], "y", Action::KeepEqual)],
        Some(&[("a", "1")]),
    );
    check(&[("a", "1")], &[target_action(&["x"], "y", Action::DropEqual)], None);
}

#[test]
fn process_builder_edits_in_place() {
    let mut lb = ls(&[("a", "1")]).to_builder();
    assert!(process_builder(&mut lb, &[replace(&["a"], "(.*)", "b", "$1$1")]));
    assert_eq!(lb.build(), ls(&[("a", "1"), ("b", "11")]));
    assert!(!process_builder(&mut lb, &[with_action(&["b"], "11", Action::Drop)]));
    assert_eq!(process(&ls(&[("a", "1")]), &[]), Some(ls(&[("a", "1")])));
}

// ---------------------------------------------------------------------------
// Validation (TestRelabelValidate, TestTargetLabelValidity and each rule).

#[track_caller]
fn invalid(c: RelabelConfig, message: &str) {
    match c.validate() {
        Ok(()) => panic!("{c:?} should be invalid ({message})"),
        Err(e) => assert_eq!(e.to_string(), message),
    }
}

#[test]
fn prom_validate_cases() {
    invalid(
        RelabelConfig {
            action: Action::Replace,
            ..Default::default()
        },
        "relabel configuration for replace action requires 'target_label' value",
    );
    invalid(
        RelabelConfig {
            action: Action::Lowercase,
            ..Default::default()
        },
        "relabel configuration for lowercase action requires 'target_label' value",
    );
    invalid(
        RelabelConfig {
            action: Action::Lowercase,
            target_label: "${3}".into(),
            ..Default::default()
        },
        r#""${3}" is invalid 'target_label' for lowercase action"#,
    );
    replace(&["a"], "some-([^-]+)-([^,]+)", "${3}", "${1}")
        .validate()
        .unwrap();
    invalid(
        replace(&["a"], "some-([^-]+)-([^,]+)", "0${3}", "${1}"),
        r#""0${3}" is invalid 'target_label' for replace action"#,
    );
    invalid(
        replace(&["a"], "some-([^-]+)-([^,]+)", "-${3}", "${1}"),
        r#""-${3}" is invalid 'target_label' for replace action"#,
    );
}

#[test]
fn prom_target_label_validity() {
    let cases = [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ];
    for (s, valid) in cases {
        assert_eq!(RELABEL_TARGET.is_match(s), valid, "{s:?}");
    }
}

#[test]
fn validation_rules() {
    use Action::*;
    invalid(
        RelabelConfig {
            source_labels: names(&["ok", "not-ok"]),
            ..replace(&[], "(.*)", "t", "$1")
        },
        r#""not-ok" is not a valid label name"#,
    );
    invalid(
        hashmod(&["a"], "h", 0),
        "relabel configuration for hashmod requires non-zero modulus",
    );
    for action in [Replace, HashMod, Lowercase, Uppercase, KeepEqual, DropEqual] {
        let c = RelabelConfig {
            action,
            modulus: 1,
            ..Default::default()
        };
        let c = if matches!(action, KeepEqual | DropEqual) {
            RelabelConfig { modulus: 0, ..c }
        } else {
            c
        };
        invalid(
            c,
            &format!("relabel configuration for {action} action requires 'target_label' value"),
        );
    }
    invalid(
        replace(&["a"], "(.*)", "1abc", "$1"),
        r#""1abc" is invalid 'target_label' for replace action"#,
    );
    invalid(
        replace(&["a"], "(.*)", "a-b", "$1"),
        r#""a-b" is invalid 'target_label' for replace action"#,
    );
    invalid(
        replace(&["a"], "(.*)", "x$", "$1"),
        r#""x$" is invalid 'target_label' for replace action"#,
    );
    for action in [Lowercase, Uppercase, KeepEqual, DropEqual] {
        invalid(
            target_action(&["a"], "b.c", action),
            &format!(r#""b.c" is invalid 'target_label' for {action} action"#),
        );
        invalid(
            RelabelConfig {
                replacement: "x".into(),
                ..target_action(&["a"], "b", action)
            },
            &format!("'replacement' can not be set for {action} action"),
        );
    }
    invalid(
        label_action("(.*)", "l-$1", LabelMap),
        r#""l-$1" is invalid 'replacement' for labelmap action"#,
    );
    invalid(
        label_action("(.*)", "", LabelMap),
        r#""" is invalid 'replacement' for labelmap action"#,
    );
    invalid(
        hashmod(&["a"], "${1}", 3),
        r#""${1}" is invalid 'target_label' for hashmod action"#,
    );
    for action in [KeepEqual, DropEqual] {
        let msg = format!("{action} action requires only 'source_labels' and `target_label`, and no other fields");
        let base = target_action(&["a"], "b", action);
        invalid(
            RelabelConfig {
                regex: re("x"),
                ..base.clone()
            },
            &msg,
        );
        invalid(
            RelabelConfig {
                modulus: 2,
                ..base.clone()
            },
            &msg,
        );
        invalid(
            RelabelConfig {
                separator: ",".into(),
                ..base.clone()
            },
            &msg,
        );
        base.validate().unwrap();
    }
    for action in [LabelDrop, LabelKeep] {
        let msg = format!("{action} action requires only 'regex', and no other fields");
        let base = label_action("tmp_.*", "$1", action);
        invalid(
            RelabelConfig {
                source_labels: names(&["a"]),
                ..base.clone()
            },
            &msg,
        );
        invalid(
            RelabelConfig {
                target_label: "t".into(),
                ..base.clone()
            },
            &msg,
        );
        invalid(
            RelabelConfig {
                modulus: 1,
                ..base.clone()
            },
            &msg,
        );
        invalid(
            RelabelConfig {
                separator: ",".into(),
                ..base.clone()
            },
            &msg,
        );
        invalid(
            RelabelConfig {
                replacement: "x".into(),
                ..base.clone()
            },
            &msg,
        );
        base.validate().unwrap();
    }
    // Prometheus does not restrict labelmap's other fields, nor keep/drop.
    RelabelConfig {
        source_labels: names(&["a"]),
        target_label: "t".into(),
        ..label_action("(.*)", "$1", LabelMap)
    }
    .validate()
    .unwrap();
    RelabelConfig {
        target_label: "ignored".into(),
        ..with_action(&["a"], "x", Keep)
    }
    .validate()
    .unwrap();
}

// ---------------------------------------------------------------------------
// YAML.

fn parse(yaml: &str) -> Result<Vec<RelabelConfig>, serde_yaml::Error> {
    serde_yaml::from_str(yaml)
}

#[track_caller]
fn parse_err(yaml: &str) -> String {
    match parse(yaml) {
        Ok(c) => panic!("should not parse: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn yaml_defaults_applied() {
    let configs = parse(
        r#"
- source_labels: [__meta_kubernetes_namespace, __meta_kubernetes_pod_name]
  target_label: instance
- source_labels: [__address__]
  regex: '([^:]+)(?::\d+)?'
  target_label: host
  action: Replace
- target_label: env
  replacement: prod
- source_labels: [__address__]
  modulus: 4
  target_label: __tmp_hash
  action: HASHMOD
- regex: __meta_kubernetes_pod_label_(.+)
  action: labelmap
- regex: __meta_.*
  action: labeldrop
- source_labels: [a]
  target_label: b
  action: keepequal
"#,
    )
    .unwrap();
    assert_eq!(configs.len(), 7);
    assert_eq!(
        configs[0],
        RelabelConfig {
            source_labels: names(&["__meta_kubernetes_namespace", "__meta_kubernetes_pod_name"]),
            separator: ";".into(),
            target_label: "instance".into(),
            regex: re("(.*)"),
            modulus: 0,
            replacement: "$1".into(),
            action: Action::Replace,
        }
    );
    assert_eq!(configs[1].regex.as_str(), r"([^:]+)(?::\d+)?");
    assert_eq!(configs[1].action, Action::Replace);
    assert_eq!(configs[2].source_labels, Vec::<String>::new());
    assert_eq!(configs[2].replacement, "prod");
    assert_eq!((configs[3].action, configs[3].modulus), (Action::HashMod, 4));
    assert_eq!(
        (configs[4].action, configs[4].replacement.as_str()),
        (Action::LabelMap, "$1")
    );
    assert_eq!(configs[5].action, Action::LabelDrop);
    assert_eq!(configs[6].action, Action::KeepEqual);

    let input = ls(&[
        ("__address__", "10.0.0.1:9100"),
        ("__meta_kubernetes_namespace", "shop"),
        ("__meta_kubernetes_pod_name", "web-0"),
        ("__meta_kubernetes_pod_label_app", "web"),
        ("a", "same"),
        ("b", "same"),
    ]);
    // md5("10.0.0.1:9100"), last 8 bytes, mod 4 (checked with Python's hashlib).
    assert_eq!(
        process(&input, &configs),
        Some(ls(&[
            ("__address__", "10.0.0.1:9100"),
            ("__tmp_hash", "1"),
            ("a", "same"),
            ("app", "web"),
            ("b", "same"),
            ("env", "prod"),
            ("host", "10.0.0.1"),
            ("instance", "shop;web-0"),
        ]))
    );
}

#[test]
fn yaml_prometheus_example_config() {
    // BenchmarkRelabel "example" (from Prometheus's conf.good.yml).
    let configs = parse(
        r#"
- source_labels: [job, __meta_dns_name]
  regex: "(.*)some-[regex]"
  target_label: job
  replacement: foo-${1}
  # action defaults to 'replace'
- source_labels: [abc]
  target_label: cde
- replacement: static
  target_label: abc
- regex:
  replacement: static
  target_label: abc
"#,
    )
    .unwrap();
    // `regex:` with no value is the empty expression, not the default.
    assert_eq!(configs[3].regex.as_str(), "");
    assert!(configs[3].regex.is_match("") && !configs[3].regex.is_match("x"));
    let input = ls(&[
        ("__meta_dns_name", "example-some-x.com"),
        ("abc", "def"),
        ("job", "foo"),
    ]);
    assert_eq!(
        process(&input, &configs),
        Some(ls(&[
            ("__meta_dns_name", "example-some-x.com"),
            ("abc", "static"),
            ("cde", "def"),
            ("job", "foo")
        ]))
    );
    let input = ls(&[("__meta_dns_name", "a-some-r"), ("job", "j")]);
    assert_eq!(process(&input, &configs).unwrap().get("job"), Some("foo-j;a-"));
}

const KUBERNETES: &str = r#"
- source_labels:
    - __meta_kubernetes_pod_container_port_name
  regex: .*-metrics
  action: keep
- source_labels:
    - __meta_kubernetes_pod_label_name
  action: drop
  regex: ""
- source_labels:
    - __meta_kubernetes_pod_phase
  regex: Succeeded|Failed
  action: drop
- source_labels:
    - __meta_kubernetes_pod_annotation_prometheus_io_scrape
  regex: "false"
  action: drop
- source_labels:
    - __meta_kubernetes_pod_annotation_prometheus_io_scheme
  target_label: __scheme__
  regex: (https?)
  replacement: $1
  action: replace
- source_labels:
    - __meta_kubernetes_pod_annotation_prometheus_io_path
  target_label: __metrics_path__
  regex: (.+)
  replacement: $1
  action: replace
- source_labels:
    - __address__
    - __meta_kubernetes_pod_annotation_prometheus_io_port
  target_label: __address__
  regex: (.+?)(\:\d+)?;(\d+)
  replacement: $1:$3
  action: replace
- regex: __meta_kubernetes_pod_annotation_prometheus_io_param_(.+)
  replacement: __param_$1
  action: labelmap
- regex: __meta_kubernetes_pod_label_prometheus_io_label_(.+)
  action: labelmap
- regex: __meta_kubernetes_pod_annotation_prometheus_io_label_(.+)
  action: labelmap
- source_labels:
    - __meta_kubernetes_namespace
    - __meta_kubernetes_pod_label_name
  separator: /
  target_label: job
  replacement: $1
  action: replace
- source_labels:
  - __meta_kubernetes_namespace
  target_label: namespace
  action: replace
- source_labels:
    - __meta_kubernetes_pod_name
  target_label: pod
  action: replace
- source_labels:
    - __meta_kubernetes_pod_container_name
  target_label: container
  action: replace
- source_labels:
    - __meta_kubernetes_pod_name
    - __meta_kubernetes_pod_container_name
    - __meta_kubernetes_pod_container_port_name
  separator: ':'
  target_label: instance
  action: replace
- target_label: cluster
  replacement: dev-us-central-0
- source_labels:
    - __meta_kubernetes_namespace
  regex: hosted-grafana
  action: drop
- source_labels:
    - __address__
  target_label: __tmp_hash
  modulus: 3
  action: hashmod
- source_labels:
    - __tmp_hash
  regex: ^0$
  action: keep
- regex: __tmp_hash
  action: labeldrop
"#;

fn kubernetes_target(address: &str) -> Vec<(&str, &str)> {
    vec![
        ("__address__", address),
        ("__meta_kubernetes_namespace", "loki-boltdb-shipper"),
        (
            "__meta_kubernetes_pod_annotation_promtail_loki_boltdb_shipper_hash",
            "50523b9759094a144adcec2eae0aa4ad",
        ),
        (
            "__meta_kubernetes_pod_annotationpresent_promtail_loki_boltdb_shipper_hash",
            "true",
        ),
        ("__meta_kubernetes_pod_container_init", "false"),
        ("__meta_kubernetes_pod_container_name", "promtail"),
        ("__meta_kubernetes_pod_container_port_name", "http-metrics"),
        ("__meta_kubernetes_pod_container_port_number", "80"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_pod_controller_kind", "DaemonSet"),
        ("__meta_kubernetes_pod_controller_name", "promtail-loki-boltdb-shipper"),
        ("__meta_kubernetes_pod_host_ip", "10.128.0.178"),
        ("__meta_kubernetes_pod_ip", "10.132.183.40"),
        ("__meta_kubernetes_pod_label_controller_revision_hash", "555b77cd7d"),
        ("__meta_kubernetes_pod_label_name", "promtail-loki-boltdb-shipper"),
        ("__meta_kubernetes_pod_label_pod_template_generation", "45"),
        ("__meta_kubernetes_pod_labelpresent_controller_revision_hash", "true"),
        ("__meta_kubernetes_pod_labelpresent_name", "true"),
        ("__meta_kubernetes_pod_labelpresent_pod_template_generation", "true"),
        ("__meta_kubernetes_pod_name", "promtail-loki-boltdb-shipper-jgtr7"),
        (
            "__meta_kubernetes_pod_node_name",
            "gke-dev-us-central-0-main-n2s8-2-14d53341-9hkr",
        ),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_uid", "4c586419-7f6c-448d-aeec-ca4fa5b05e60"),
        ("__metrics_path__", "/metrics"),
        ("__scheme__", "http"),
        ("__scrape_interval__", "15s"),
        ("__scrape_timeout__", "10s"),
        ("job", "kubernetes-pods"),
    ]
}

#[test]
fn yaml_prometheus_kubernetes_config() {
    // BenchmarkRelabel "kubernetes": a realistic relabel_configs block with
    // sharding by hashmod over three Prometheus servers.
    let configs = parse(KUBERNETES).unwrap();
    assert_eq!(configs.len(), 20);

    // md5 shard of "10.132.183.40:80" is 1: not this server's.
    assert_eq!(process(&ls(&kubernetes_target("10.132.183.40:80")), &configs), None);

    // "10.132.183.42:80" is in shard 0.
    let input = ls(&kubernetes_target("10.132.183.42:80"));
    let out = process(&input, &configs).expect("kept");
    let mut expected = kubernetes_target("10.132.183.42:80");
    expected.retain(|(n, _)| *n != "job");
    expected.extend([
        ("cluster", "dev-us-central-0"),
        ("container", "promtail"),
        ("instance", "promtail-loki-boltdb-shipper-jgtr7:promtail:http-metrics"),
        ("job", "loki-boltdb-shipper/promtail-loki-boltdb-shipper"),
        ("namespace", "loki-boltdb-shipper"),
        ("pod", "promtail-loki-boltdb-shipper-jgtr7"),
    ]);
    assert_eq!(out, ls(&expected));

    // With the port annotation the address is rewritten.
    let mut with_port = kubernetes_target("10.132.183.42:80");
    with_port.push(("__meta_kubernetes_pod_annotation_prometheus_io_port", "9102"));
    with_port.push(("__meta_kubernetes_pod_annotation_prometheus_io_param_format", "text"));
    let out = process(&ls(&with_port), &configs[..17]).unwrap();
    assert_eq!(out.get("__address__"), Some("10.132.183.42:9102"));
    assert_eq!(out.get("__param_format"), Some("text"));
}

#[test]
fn yaml_unknown_field_rejected() {
    let err = parse_err("- source_labels: [a]\n  target_label: b\n  regexp: x\n");
    assert!(err.contains("unknown field `regexp`"), "{err}");
}

#[test]
fn yaml_invalid_configs_rejected_with_prometheus_messages() {
    let cases = [
        ("- action: nope\n  target_label: x\n", "unknown relabel action \"nope\""),
        ("- action:\n  target_label: x\n", "relabel action cannot be empty"),
        (
            "- source_labels: [a]\n",
            "relabel configuration for replace action requires 'target_label' value",
        ),
        (
            "- action: hashmod\n  target_label: h\n",
            "relabel configuration for hashmod requires non-zero modulus",
        ),
        (
            "- source_labels: [a-b]\n  target_label: x\n",
            "\"a-b\" is not a valid label name",
        ),
        ("- regex: '(a'\n  target_label: x\n", "error parsing regexp \"(a\""),
        (
            "- regex: x\n  source_labels: [a]\n  action: labeldrop\n",
            "labeldrop action requires only 'regex'",
        ),
        (
            "- regex: x\n  replacement: l-$1\n  action: labelmap\n",
            "\"l-$1\" is invalid 'replacement' for labelmap action",
        ),
        (
            "- source_labels: [a]\n  target_label: b\n  regex: x\n  action: dropequal\n",
            "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
        ),
        (
            "- target_label: 'a b'\n",
            "\"a b\" is invalid 'target_label' for replace action",
        ),
    ];
    for (yaml, want) in cases {
        let err = parse_err(yaml);
        assert!(err.contains(want), "{yaml:?}: {err}");
    }
}

#[test]
fn yaml_nulls_and_scalars_like_go() {
    // Explicit nulls give zero values; non-string scalars are their text.
    let c = &parse("- source_labels:\n  separator:\n  replacement:\n  target_label: t\n  regex: 1\n").unwrap()[0];
    assert_eq!(c.source_labels, Vec::<String>::new());
    assert_eq!(c.separator, "");
    assert_eq!(c.replacement, "");
    assert_eq!(c.regex.as_str(), "1");
    let c = &parse("- source_labels: [a]\n  regex: true\n  action: keep\n").unwrap()[0];
    assert!(c.regex.is_match("true"));
}

#[test]
fn yaml_round_trip() {
    let configs = parse(KUBERNETES).unwrap();
    let text = serde_yaml::to_string(&configs).unwrap();
    assert!(text.contains("action: hashmod"), "{text}");
    assert!(text.contains("regex: (https?)"), "{text}");
    assert_eq!(parse(&text).unwrap(), configs);
}

#[test]
fn action_spellings() {
    let spellings = [
        "replace",
        "keep",
        "drop",
        "keepequal",
        "dropequal",
        "hashmod",
        "labelmap",
        "labeldrop",
        "labelkeep",
        "lowercase",
        "uppercase",
    ];
    for (action, spelling) in Action::ALL.into_iter().zip(spellings) {
        assert_eq!(action.to_string(), spelling);
        assert_eq!(serde_yaml::to_string(&action).unwrap().trim(), spelling);
        assert_eq!(serde_yaml::from_str::<Action>(spelling).unwrap(), action);
        assert_eq!(spelling.to_uppercase().parse::<Action>().unwrap(), action);
    }
    assert_eq!("LabelMap".parse::<Action>().unwrap(), Action::LabelMap);
    assert_eq!(Action::default(), Action::Replace);
    assert_eq!(
        "keep_equal".parse::<Action>().unwrap_err().to_string(),
        "unknown relabel action \"keep_equal\""
    );
}
