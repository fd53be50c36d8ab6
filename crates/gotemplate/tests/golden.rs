//! Template + data → exact output, as Go 1.19–1.21 / Prometheus 2.42 /
//! Alertmanager 0.25 produce it. Humanize cases are ported verbatim from
//! Prometheus' `template/template_test.go`.

use std::collections::BTreeMap;

use gotemplate::{
    alertmanager_defaults, expand_alert_template, query_fn, AlertData, AlertmanagerData, Funcs, GoTime, MissingKey,
    QuerySample, TemplateSet, Value,
};

fn run_with(funcs: Funcs, mk: MissingKey, text: &str, data: &Value) -> String {
    let mut set = TemplateSet::new(funcs).missing_key(mk);
    if let Err(e) = set.parse("test", text) {
        return format!("PARSE: {e}");
    }
    match set.execute("test", data) {
        Ok(s) => s,
        Err(e) => format!("EXEC: {e}"),
    }
}

fn go(text: &str, data: &Value) -> String {
    run_with(Funcs::builtins(), MissingKey::Default, text, data)
}

fn prom(text: &str, data: &Value) -> String {
    run_with(
        Funcs::prometheus(None).with_external_url("http://testhost:9090/path/prefix"),
        MissingKey::Default,
        text,
        data,
    )
}

fn floats(v: &[f64]) -> Value {
    Value::list(v.iter().map(|f| Value::Float(*f)))
}

fn ints(v: &[i64]) -> Value {
    Value::list(v.iter().map(|i| Value::Int(*i)))
}

fn strs(v: &[&str]) -> Value {
    Value::list(v.iter().map(|s| Value::from(*s)))
}

fn sample_data() -> Value {
    Value::map([
        ("Name", Value::from("db")),
        ("Count", Value::Int(3)),
        ("Ratio", Value::Float(0.25)),
        ("Empty", Value::from("")),
        ("List", strs(&["a", "b", "c"])),
        ("Nums", ints(&[3, 1, 2])),
        (
            "Labels",
            Value::string_map([("severity", "page"), ("instance", "host:9100"), ("job", "node")]),
        ),
        (
            "Nested",
            Value::map([("Inner", Value::map([("Deep", Value::from("x"))]))]),
        ),
        ("True", Value::Bool(true)),
        ("Nil", Value::Nil),
    ])
}

#[test]
fn text_actions_and_trimming() {
    let d = sample_data();
    let cases: &[(&str, &str)] = &[
        ("plain text", "plain text"),
        ("{{ 1 }}", "1"),
        ("{{.Name}}", "db"),
        ("a  {{- .Name -}}  b", "adbb"),
        ("a\n\t{{- .Name}}\n", "adb\n"),
        ("{{/* comment */}}x", "x"),
        ("a {{- /* c */ -}} b", "ab"),
        ("{{ .Nested.Inner.Deep }}", "x"),
        ("{{ .Labels.severity }}", "page"),
        ("{{ .Missing }}", "<no value>"),
        ("{{ .Labels.missing }}", "<no value>"),
        ("{{ .Nil }}", "<no value>"),
        ("{{ .Nil.Foo }}", "<no value>"),
        ("{{ $ }}", "map[Count:3 Empty: Labels:map[instance:host:9100 job:node severity:page] List:[a b c] Name:db Nested:map[Inner:map[Deep:x]] Nil:<nil> Nums:[3 1 2] Ratio:0.25 True:true]"),
        ("{{ .List }} {{ .Nums }}", "[a b c] [3 1 2]"),
        ("{{ true }} {{ false }} {{ 'a' }} {{ 0x10 }} {{ 1e3 }} {{ 1.50 }} {{ -7 }} {{ 0b101 }} {{ 0o17 }} {{ 1_000 }}", "true false 97 16 1000 1.5 -7 5 15 1000"),
        (r#"{{ "a\tb\u00e9" }} {{ `raw\n` }}"#, "a\tbé raw\\n"),
        ("{{ (.Name) }} {{ (printf \"%s!\" .Name) }}", "db db!"),
        ("{{ .Name | printf \"%s-%s\" \"x\" }}", "x-db"),
    ];
    for (t, want) in cases {
        assert_eq!(go(t, &d), *want, "template {t:?}");
    }
}

#[test]
fn variables_and_control_flow() {
    let d = sample_data();
    let cases: &[(&str, &str)] = &[
        ("{{ $x := 1 }}{{ $x }}", "1"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
        ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ end }}{{ $x }}", "1"),
        ("{{ with .Name }}{{ . }}{{ end }}", "db"),
        ("{{ with .Empty }}x{{ else }}empty{{ end }}", "empty"),
        ("{{ with .Empty }}x{{ else with .Name }}{{ . }}{{ end }}", "db"),
        ("{{ with .Empty }}x{{ else with .Nil }}y{{ else }}z{{ end }}", "z"),
        ("{{ if .Empty }}a{{ else if .Count }}b{{ else }}c{{ end }}", "b"),
        ("{{ if not .True }}a{{ else if eq .Count 4 }}b{{ else }}c{{ end }}", "c"),
        (
            "{{ if .Ratio }}t{{ end }}{{ if .Nil }}n{{ end }}{{ if .List }}l{{ end }}",
            "tl",
        ),
        ("{{ range .List }}[{{ . }}]{{ end }}", "[a][b][c]"),
        ("{{ range $i, $v := .List }}{{ $i }}={{ $v }} {{ end }}", "0=a 1=b 2=c "),
        ("{{ range $v := .List }}{{ $v }}{{ end }}", "abc"),
        (
            "{{ range $k, $v := .Labels }}{{ $k }}={{ $v }};{{ end }}",
            "instance=host:9100;job=node;severity=page;",
        ),
        ("{{ range .Labels }}{{ . }},{{ end }}", "host:9100,node,page,"),
        ("{{ range .Nil }}x{{ else }}none{{ end }}", "none"),
        ("{{ range .Empty2 }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ range .List }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}{{ end }}",
            "ac",
        ),
        (
            "{{ range .List }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "a",
        ),
        (
            "{{ range $i, $e := .Nums }}{{ range $.List }}{{ $i }}{{ . }}{{ end }}|{{ end }}",
            "0a0b0c|1a1b1c|2a2b2c|",
        ),
        ("{{ $i := 0 }}{{ range $i = .List }}{{ end }}{{ $i }}", "c"),
        (
            "{{ range .Name }}{{ end }}",
            "EXEC: template: test:1:9: executing \"test\" at <.Name>: range can't iterate over db",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(go(t, &d), *want, "template {t:?}");
    }
}

#[test]
fn define_template_block() {
    let d = sample_data();
    let cases: &[(&str, &str)] = &[
        (r#"{{ define "a" }}A{{ .Name }}{{ end }}{{ template "a" . }}"#, "Adb"),
        (r#"{{ define "a" }}[{{ . }}]{{ end }}{{ template "a" .Count }}{{ template "a" }}"#, "[3][<no value>]"),
        (r#"{{ define "a" }}{{ template "b" . }}{{ end }}{{ define "b" }}B{{ .Count }}{{ end }}{{ template "a" . }}"#, "B3"),
        (r#"{{ block "blk" .Name }}<{{ . }}>{{ end }}"#, "<db>"),
        (r#"{{ define "rec" }}{{ if gt . 0 }}{{ . }}{{ template "rec" (len (slice "xxxxxxxxxx" 1 .)) }}{{ end }}{{ end }}{{ template "rec" 3 }}"#, "321"),
        (r#"{{ $x := 1 }}{{ define "v" }}{{ $ }}{{ end }}{{ template "v" 5 }}"#, "5"),
        (r#"{{ template "missing" }}"#, "EXEC: template: test:1:12: executing \"test\" at <{{template \"missing\"}}>: template \"missing\" not defined"),
    ];
    for (t, want) in cases {
        assert_eq!(go(t, &d), *want, "template {t:?}");
    }
}

#[test]
fn builtin_functions() {
    let d = sample_data();
    let cases: &[(&str, &str)] = &[
        ("{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" }} {{ or 0 \"x\" 1 }} {{ not 0 }} {{ not .List }}", "0 2  x true false"),
        ("{{ and .Nil (index .Nil 1) }}", "<no value>"),
        ("{{ or .True (index .Nil 1) }}", "true"),
        ("{{ len .List }} {{ len .Labels }} {{ len .Name }} {{ len \"héllo\" }}", "3 3 2 6"),
        ("{{ index .List 1 }} {{ index .Labels \"job\" }} {{ index .Nested \"Inner\" \"Deep\" }} {{ index \"abc\" 0 }}", "b node x 97"),
        ("{{ index .Labels \"nope\" }}|{{ index $ \"nope\" }}", "|<no value>"),
        ("{{ slice .List 1 }} {{ slice .List 1 2 }} {{ slice \"abcdef\" 2 4 }} {{ slice .List }}", "[b c] [b] cd [a b c]"),
        ("{{ print 1 2 \"a\" 3 \"b\" \"c\" 4.5 true }}", "1 2a3bc4.5 true"),
        ("{{ println 1 \"a\" }}", "1 a\n"),
        ("{{ printf \"%s has %d items (%.1f%%)\" .Name .Count 12.345 }}", "db has 3 items (12.3%)"),
        ("{{ html \"<b>'x' & \\\"y\\\"</b>\" }}", "&lt;b&gt;&#39;x&#39; &amp; &#34;y&#34;&lt;/b&gt;"),
        ("{{ html .Nil }} {{ html 1 2 }}", "&lt;no value&gt; 1 2"),
        ("{{ js \"a'b\\\"c<d>&=\\n\" }}", "a\\'b\\\"c\\u003Cd\\u003E\\u0026\\u003D\\u000A"),
        ("{{ urlquery \"a b/c?d=é\" }}", "a+b%2Fc%3Fd%3D%C3%A9"),
        ("{{ eq 1 1 }} {{ eq 1 2 3 1 }} {{ eq \"a\" \"a\" }} {{ eq .Name \"db\" }} {{ eq 1.5 1.5 }} {{ eq true false }}", "true true true true true false"),
        ("{{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt 3 2 }} {{ ge 2 3 }} {{ lt \"a\" \"b\" }} {{ gt 2.5 1.5 }}", "true true true true false true true"),
        ("{{ eq .Nil \"x\" }} {{ eq .Nil .Nil }}", "false true"),
        ("{{ call .F 1 2 }}", "EXEC: template: test:1:3: executing \"test\" at <call .F 1 2>: error calling call: call of nil"),
    ];
    for (t, want) in cases {
        assert_eq!(go(t, &d), *want, "template {t:?}");
    }
    let with_func = Value::map([("F", Value::func(|args| Ok(Value::Int(args.len() as i64 * 10))))]);
    assert_eq!(go("{{ call .F 1 2 }}", &with_func), "20");
}

#[test]
fn printf_and_value_formatting() {
    let cases: &[(&str, &str)] = &[
        ("{{ 0.1 }} {{ 100000.0 }} {{ 1000000.0 }} {{ 1e21 }} {{ 1234567.5 }} {{ 0.0001 }} {{ 0.00001 }}", "0.1 100000 1e+06 1e+21 1.2345675e+06 0.0001 1e-05"),
        ("{{ printf \"%.2f\" 3.14159 }} {{ printf \"%.0f\" 2.5 }} {{ printf \"%.0f\" 3.5 }} {{ printf \"%f\" 1.0 }}", "3.14 2 4 1.000000"),
        ("{{ printf \"%e\" 123456.789 }} {{ printf \"%.2e\" 0.000123 }} {{ printf \"%E\" 1.0 }}", "1.234568e+05 1.23e-04 1.000000E+00"),
        ("{{ printf \"%g\" 1e6 }} {{ printf \"%g\" 123456.0 }} {{ printf \"%.3g\" 1234.5 }} {{ printf \"%g\" 1e-5 }} {{ printf \"%G\" 1e-10 }}", "1e+06 123456 1.23e+03 1e-05 1E-10"),
        ("{{ printf \"%v %v %v %v\" 1 1.5 \"s\" true }}", "1 1.5 s true"),
        ("{{ printf \"%d|%5d|%-5d|%05d|%+d|% d\" 42 42 42 42 42 42 }}", "42|   42|42   |00042|+42| 42"),
        ("{{ printf \"%x %X %#x %o %#o %b %c %U %q\" 255 255 255 8 8 5 9731 9731 65 }}", "ff FF 0xff 10 010 101 ☃ U+2603 'A'"),
        ("{{ printf \"%s|%10s|%-10s|%.2s|%q|%x|% X\" \"hi\" \"hi\" \"hi\" \"hello\" \"a\\\"b\" \"hi\" \"hi\" }}", "hi|        hi|hi        |he|\"a\\\"b\"|6869|68 69"),
        ("{{ printf \"%t %v\" true false }}", "true false"),
        ("{{ printf \"%8.3f|%-8.2f|%08.3f|%+.2f\" 3.14159 2.5 -3.14159 1.0 }}", "   3.142|2.50    |-003.142|+1.00"),
        ("{{ printf \"%d\" \"str\" }} {{ printf \"%s\" 5 }} {{ printf \"%d\" 1.5 }} {{ printf \"%t\" 1 }}", "%!d(string=str) %!s(int=5) %!d(float64=1.5) %!t(int=1)"),
        ("{{ printf \"%d %d\" 1 }} {{ printf \"%d\" 1 2 \"x\" }} {{ printf \"%!\" }} {{ printf \"%\" }}", "1 %!d(MISSING) 1%!(EXTRA int=2, string=x) %!!(MISSING) %!(NOVERB)"),
        ("{{ printf \"%[2]s %[1]s\" \"a\" \"b\" }} {{ printf \"%*d|%-*d|\" 4 7 3 8 }}", "b a    7|8  |"),
        ("{{ printf \"%v\" .L }} {{ printf \"%d\" .L }} {{ printf \"%v\" .M }}", "[1 a] [1 %!d(string=a)] map[k:v]"),
        ("{{ printf \"%5.1f%%\" 99.44 }} {{ printf \"%6.2f\" 1e100 }}", " 99.4% 10000000000000000159028911097599180468360808563945281389781327557747838772170381060813469985856815104.00"),
        ("{{ printf \"%v %.1f %5.2f|\" .NaN .Inf .NInf }}", "NaN +Inf  -Inf|"),
        ("{{ print .Nil }} {{ printf \"%v|%d\" .Nil .Nil }} {{ println .Nil 1 }}", "<nil> <nil>|%!d(<nil>) <nil> 1\n"),
        ("{{ printf \"%T %T %T %T %T\" 1 1.5 \"s\" .L .M }}", "int float64 string []interface {} map[string]string"),
    ];
    let d = Value::map([
        ("L", Value::list(vec![Value::Int(1), Value::from("a")])),
        ("M", Value::string_map([("k", "v")])),
        ("NaN", Value::Float(f64::NAN)),
        ("Inf", Value::Float(f64::INFINITY)),
        ("NInf", Value::Float(f64::NEG_INFINITY)),
        ("Nil", Value::Nil),
    ]);
    for (t, want) in cases {
        assert_eq!(go(t, &d), *want, "template {t:?}");
    }
}

#[test]
fn missingkey_options() {
    let d = Value::map([
        ("Labels", Value::string_map([("a", "1")])),
        ("Any", Value::map([("x", Value::Int(1))])),
    ]);
    let t = "[{{ .Labels.b }}][{{ .Any.y }}]";
    assert_eq!(
        run_with(Funcs::builtins(), MissingKey::Default, t, &d),
        "[<no value>][<no value>]"
    );
    assert_eq!(run_with(Funcs::builtins(), MissingKey::Zero, t, &d), "[][<no value>]");
    assert_eq!(
        run_with(Funcs::builtins(), MissingKey::Error, t, &d),
        "EXEC: template: test:1:11: executing \"test\" at <.Labels.b>: map has no entry for key \"b\""
    );
    assert_eq!(
        run_with(Funcs::builtins(), MissingKey::Error, "{{ .Foo }}", &Value::Nil),
        "EXEC: template: test:1:3: executing \"test\" at <.Foo>: nil data; no entry for key \"Foo\""
    );
}

#[test]
fn parse_errors() {
    let d = Value::Nil;
    let cases: &[(&str, &str)] = &[
        ("{{", "PARSE: template: test:1: unclosed action"),
        (
            "{{ humanise 1 }}",
            "PARSE: template: test:1: function \"humanise\" not defined",
        ),
        (
            "a\nb\n{{ $nope }}",
            "PARSE: template: test:3: undefined variable \"$nope\"",
        ),
        ("{{ if . }}\nx", "PARSE: template: test:2: unexpected EOF"),
        ("{{ end }}", "PARSE: template: test:1: unexpected {{end}}"),
        ("{{ else }}", "PARSE: template: test:1: unexpected {{else}}"),
        (
            "{{ 1 | 2 }}",
            "PARSE: template: test:1: non executable command in pipeline stage 2",
        ),
        ("{{ \"x }}", "PARSE: template: test:1: unterminated quoted string"),
        (
            "{{ .A\n.B }}{{ 3x }}",
            "PARSE: template: test:2: bad number syntax: \"3x\"",
        ),
        (
            "{{ range . }}{{ else if . }}{{ end }}",
            "PARSE: template: test:1: unexpected <if> in input",
        ),
        (
            "{{ continue }}",
            "PARSE: template: test:1: {{continue}} outside {{range}}",
        ),
        (
            "x\n{{ if .\n",
            "PARSE: template: test:3: unclosed action started at test:2",
        ),
        (
            "{{ 'ab' }}",
            "PARSE: template: test:1: malformed character constant: 'ab'",
        ),
        ("{{ 1) }}", "PARSE: template: test:1: unexpected \")\" in command"),
    ];
    for (t, want) in cases {
        assert_eq!(go(t, &d), *want, "template {t:?}");
    }
}

#[test]
fn exec_errors() {
    let d = sample_data();
    let cases: &[(&str, &str)] = &[
        ("{{ .Count.Foo }}", "EXEC: template: test:1:9: executing \"test\" at <.Count.Foo>: can't evaluate field Foo in type int"),
        ("{{ gt .Ratio 0 }}", "EXEC: template: test:1:3: executing \"test\" at <gt .Ratio 0>: error calling gt: incompatible types for comparison"),
        ("{{ lt .List 1 }}", "EXEC: template: test:1:3: executing \"test\" at <lt .List 1>: error calling lt: invalid type for comparison"),
        ("{{ eq 1 }}", "EXEC: template: test:1:3: executing \"test\" at <eq 1>: error calling eq: missing argument for comparison"),
        ("{{ index .List 5 }}", "EXEC: template: test:1:3: executing \"test\" at <index .List 5>: error calling index: index out of range: 5"),
        ("{{ index .Count 1 }}", "EXEC: template: test:1:3: executing \"test\" at <index .Count 1>: error calling index: can't index item of type int"),
        ("{{ len .Count }}", "EXEC: template: test:1:3: executing \"test\" at <len .Count>: error calling len: len of type int"),
        ("{{ not }}", "EXEC: template: test:1:3: executing \"test\" at <not>: wrong number of args for not: want 1 got 0"),
        ("{{ printf 3 }}", "EXEC: template: test:1:10: executing \"test\" at <3>: expected string; found 3"),
        ("{{ nil }}", "EXEC: template: test:1:3: executing \"test\" at <nil>: nil is not a command"),
        ("{{ .Name 1 }}", "EXEC: template: test:1:3: executing \"test\" at <.Name>: Name is not a method but has arguments"),
        ("{{ 1 2 }}", "EXEC: template: test:1:3: executing \"test\" at <1>: can't give argument to non-function 1"),
        ("{{ slice .List 2 1 }}", "EXEC: template: test:1:3: executing \"test\" at <slice .List 2 1>: error calling slice: invalid slice index: 2 > 1"),
        ("line\n  {{ .Count.X }}", "EXEC: template: test:2:11: executing \"test\" at <.Count.X>: can't evaluate field X in type int"),
    ];
    for (t, want) in cases {
        assert_eq!(go(t, &d), *want, "template {t:?}");
    }
}

#[test]
fn prometheus_template_test_cases() {
    // Ported from prometheus/template/template_test.go.
    let cases: Vec<(&str, Value, &str)> = vec![
        ("{{ range . }}{{ humanize . }}:{{ end }}", floats(&[0.0, 1.0, 1234567.0, 0.12]), "0:1:1.235M:120m:"),
        ("{{ range . }}{{ humanize . }}:{{ end }}", strs(&["0.0", "1.0", "1234567.0", ".12"]), "0:1:1.235M:120m:"),
        ("{{ range . }}{{ humanize . }}:{{ end }}", ints(&[0, -1, 1, 1234567, i64::MAX]), "0:-1:1:1.235M:9.223E:"),
        ("{{ range . }}{{ humanize1024 . }}:{{ end }}", floats(&[0.0, 1.0, 1048576.0, 0.12]), "0:1:1Mi:0.12:"),
        ("{{ range . }}{{ humanize1024 . }}:{{ end }}", strs(&["0.0", "1.0", "1048576.0", ".12"]), "0:1:1Mi:0.12:"),
        ("{{ range . }}{{ humanize1024 . }}:{{ end }}", ints(&[0, -1, 1, 1234567, i64::MAX]), "0:-1:1:1.177Mi:8Ei:"),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            floats(&[0.0, 1.0, 60.0, 3600.0, 86400.0, 86400.0 + 3600.0, -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), 899.99]),
            "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
        ),
        ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", strs(&["0", "1", "60", "3600", "86400"]), "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:"),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]),
            "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
        ),
        (
            "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
            strs(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]),
            "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
        ),
        ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", ints(&[0, -1, 1, 1234567]), "0s:-1s:1s:14d 6h 56m 7s:"),
        (
            "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
            floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]),
            "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
        ),
        (
            "{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}",
            strs(&["+Inf", "-Inf", "NaN"]),
            "+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:",
        ),
        (
            "{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}",
            Value::Nil,
            "-22.22%:0%:12.35%:123.5%",
        ),
        ("{{ range . }}{{ humanizePercentage . }}:{{ end }}", ints(&[0, -1, 1, 1234567, i64::MAX]), "0%:-100%:100%:1.235e+08%:9.223e+20%:"),
        (
            r#"{{ "-0.22222" | humanizePercentage }}:{{ "0.0" | humanizePercentage }}:{{ "0.1234567" | humanizePercentage }}:{{ "1.23456" | humanizePercentage }}"#,
            Value::Nil,
            "-22.22%:0%:12.35%:123.5%",
        ),
        (
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            ints(&[0, -1, 1, 1234567, 9223372036]),
            "1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:",
        ),
        ("{{ 1435065584.128 | humanizeTimestamp }}", Value::Nil, "2015-06-23 13:19:44.128 +0000 UTC"),
        (r#"{{ "1435065584.128" | humanizeTimestamp }}"#, Value::Nil, "2015-06-23 13:19:44.128 +0000 UTC"),
        (r#"{{ (1435065584.128 | toTime).Format "2006" }}"#, Value::Nil, "2015"),
        (r#"{{ ("1435065584.128" | toTime).Format "2006" }}"#, Value::Nil, "2015"),
        ("{{ \"aa bb CC\" | title }}", Value::Nil, "Aa Bb CC"),
        ("{{ \"aa bb CC\" | toUpper }}", Value::Nil, "AA BB CC"),
        ("{{ \"aA bB CC\" | toLower }}", Value::Nil, "aa bb cc"),
        ("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}", Value::Nil, "true false"),
        ("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", Value::Nil, "xa"),
        ("{{ graphLink \"up\" }}", Value::Nil, "/graph?g0.expr=up&g0.tab=0"),
        ("{{ tableLink \"up\" }}", Value::Nil, "/graph?g0.expr=up&g0.tab=1"),
        ("{{ pathPrefix }}", Value::Nil, "/path/prefix"),
        ("{{ externalURL }}", Value::Nil, "http://testhost:9090/path/prefix"),
        ("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}", Value::Nil, "3720.01"),
        ("{{ define \"x\" }}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}", Value::Nil, "1 2"),
        ("{{ \"<b>\" }} {{ \"<b>\" | safeHtml }}", Value::Nil, "<b> <b>"),
        ("{{ .Foo }}", Value::Nil, "<no value>"),
        (
            r#"{{ humanize "one" }}"#,
            Value::Nil,
            "EXEC: template: test:1:3: executing \"test\" at <humanize \"one\">: error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax",
        ),
        (
            r#"{{ "one" | humanizePercentage }}"#,
            Value::Nil,
            "EXEC: template: test:1:11: executing \"test\" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax",
        ),
        (
            "{{ range . }}{{ humanizeTimestamp . }}:{{ end }}",
            ints(&[i64::MIN, i64::MAX]),
            "EXEC: template: test:1:16: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64",
        ),
    ];
    for (t, data, want) in &cases {
        assert_eq!(prom(t, data), *want, "template {t:?}");
    }
    for (hp, port, domain) in [
        ("foo.example.com", "foo.example.com", "foo"),
        ("foo.example.com:12345", "foo.example.com", "foo:12345"),
        ("192.0.2.1", "192.0.2.1", "192.0.2.1"),
        ("192.0.2.1:12345", "192.0.2.1", "192.0.2.1:12345"),
        ("2001:0DB8::1", "2001:0DB8::1", "2001:0DB8::1"),
        ("[2001:0DB8::1]:12345", "2001:0DB8::1", "[2001:0DB8::1]:12345"),
        (
            "[2001:0DB8::1]::12345",
            "[2001:0DB8::1]::12345",
            "[2001:0DB8::1]::12345",
        ),
    ] {
        assert_eq!(prom(&format!("{{{{ {:?} | stripPort }}}}", hp), &Value::Nil), port);
        assert_eq!(prom(&format!("{{{{ {:?} | stripDomain }}}}", hp), &Value::Nil), domain);
    }
}

fn query_data() -> gotemplate::QueryFn {
    query_fn(|q| match q {
        "empty" => Ok(vec![]),
        "fail" => Err("query timed out".into()),
        _ => Ok(vec![
            QuerySample {
                labels: [("__name__", "metric"), ("instance", "b"), ("__value__", "sv")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: 21.0,
            },
            QuerySample {
                labels: [("__name__", "metric"), ("instance", "a")]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                value: 11.0,
            },
        ]),
    })
}

#[test]
fn prometheus_query_functions() {
    let funcs = || Funcs::prometheus(Some(query_data()));
    let cases: &[(&str, &str)] = &[
        ("{{ query \"metric\" | first | value }}", "21"),
        ("{{ query \"metric\" | first | label \"instance\" }}", "b"),
        ("{{ query \"metric\" | first | label \"foo\" }}|", "|"),
        ("{{ query \"metric\" | first | strvalue }}", "sv"),
        ("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}|{{ $x.Value }}", "|21"),
        ("{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}", "a:11: b:21: "),
        ("{{ with query \"metric\" }}{{ . | first | value | humanize }}{{ end }}", "21"),
        ("{{ with query \"empty\" }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ query \"empty\" | first }}",
            "EXEC: template: test:1:19: executing \"test\" at <first>: error calling first: first() called on vector with no elements",
        ),
        (
            "{{ (query \"empty\").banana }}",
            "EXEC: template: test:1:10: executing \"test\" at <\"empty\">: can't evaluate field banana in type template.queryResult",
        ),
        ("{{ query \"fail\" }}", "EXEC: template: test:1:3: executing \"test\" at <query \"fail\">: error calling query: query timed out"),
        (
            "{{ value 1 }}",
            "EXEC: template: test:1:9: executing \"test\" at <1>: can't handle 1 for arg of type *template.sample",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(
            run_with(funcs(), MissingKey::Zero, t, &Value::Nil),
            *want,
            "template {t:?}"
        );
    }
}

#[test]
fn alert_template_expansion() {
    let labels: BTreeMap<String, String> = [
        ("alertname", "HighErrorRate"),
        ("instance", "api-1:8080"),
        ("job", "api"),
        ("severity", "page"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let ext: BTreeMap<String, String> = [("cluster".to_string(), "prod".to_string())].into();
    let expand =
        |t: &str, v: f64| expand_alert_template("HighErrorRate", t, &labels, &ext, "http://prom:9090/p", v, None);
    assert_eq!(
        expand(
            "{{ $labels.instance }} has error rate {{ printf \"%.2f\" $value }}% ({{ $value }})",
            12.3456
        ),
        Ok("api-1:8080 has error rate 12.35% (12.3456)".to_string())
    );
    assert_eq!(expand("[{{ $labels.nope }}]", 1.0), Ok("[]".to_string()));
    assert_eq!(
        expand("{{ $externalLabels.cluster }} {{ $externalURL }} {{ pathPrefix }}", 1.0),
        Ok("prod http://prom:9090/p /p".into())
    );
    assert_eq!(
        expand("{{ humanise $value }}", 1.0),
        Err("error parsing template __alert_HighErrorRate: template: __alert_HighErrorRate:1: function \"humanise\" not defined".into())
    );
    assert_eq!(
        expand("{{ if gt $value 80 }}x{{ end }}", 1.0),
        Err("error executing template __alert_HighErrorRate: template: __alert_HighErrorRate:1:118: executing \"__alert_HighErrorRate\" at <gt $value 80>: error calling gt: incompatible types for comparison".into())
    );
    assert_eq!(
        gotemplate::expand_alert_annotation("X", "{{ .Foo }}", &labels, &ext, "", 1.0, None),
        "<error expanding template: error executing template __alert_X: template: __alert_X:1:115: executing \"__alert_X\" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>"
    );
}

fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn am_data() -> AlertmanagerData {
    let a1 = AlertData {
        status: "firing".into(),
        labels: kv(&[
            ("alertname", "HighCPU"),
            ("instance", "web-1"),
            ("severity", "page"),
            ("job", "node"),
        ]),
        annotations: kv(&[("summary", "CPU high on web-1"), ("runbook", "http://rb")]),
        starts_at: GoTime::from_unix(1_672_671_845, 123_000_000),
        ends_at: GoTime::zero(),
        generator_url: "http://prom/graph?g0.expr=cpu".into(),
        fingerprint: "a1b2c3d4e5f60718".into(),
    };
    let a2 = AlertData {
        status: "resolved".into(),
        labels: kv(&[
            ("alertname", "HighCPU"),
            ("instance", "web-2"),
            ("severity", "page"),
            ("job", "node"),
        ]),
        annotations: kv(&[("summary", "CPU high on web-2"), ("runbook", "http://rb")]),
        starts_at: GoTime::from_unix(1_672_671_000, 0),
        ends_at: GoTime::from_unix(1_672_672_000, 500_000_000),
        generator_url: "http://prom/graph?g0.expr=cpu".into(),
        fingerprint: "0f0e0d0c0b0a0908".into(),
    };
    AlertmanagerData::new(
        "team.ops",
        kv(&[("alertname", "HighCPU")]),
        vec![a1, a2],
        "http://am:9093",
    )
}

fn am(text: &str) -> String {
    let mut set = alertmanager_defaults();
    if let Err(e) = set.parse("", text) {
        return format!("PARSE: {e}");
    }
    match set.execute("", &am_data().to_value()) {
        Ok(s) => s,
        Err(e) => format!("EXEC: {e}"),
    }
}

#[test]
fn alertmanager_data_model() {
    let cases: &[(&str, &str)] = &[
        ("{{ .Receiver }} {{ .Status }} {{ .ExternalURL }}", "team\\.ops firing http://am:9093"),
        ("{{ len .Alerts }} {{ len .Alerts.Firing }} {{ len .Alerts.Resolved }}", "2 1 1"),
        ("{{ range .Alerts.Firing }}{{ .Labels.instance }} {{ .Status }} {{ .Fingerprint }}{{ end }}", "web-1 firing a1b2c3d4e5f60718"),
        ("{{ range .Alerts }}{{ .StartsAt }}|{{ end }}", "2023-01-02 15:04:05.123 +0000 UTC|2023-01-02 14:50:00 +0000 UTC|"),
        ("{{ (index .Alerts 0).EndsAt }} {{ (index .Alerts 1).EndsAt }}", "0001-01-01 00:00:00 +0000 UTC 2023-01-02 15:06:40.5 +0000 UTC"),
        ("{{ (index .Alerts 0).StartsAt.Format \"2006-01-02 15:04\" }} {{ (index .Alerts 0).StartsAt.Unix }}", "2023-01-02 15:04 1672671845"),
        ("{{ .CommonLabels }}", "map[alertname:HighCPU job:node severity:page]"),
        ("{{ .CommonLabels.SortedPairs }}", "[{alertname HighCPU} {job node} {severity page}]"),
        ("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}", "alertname=HighCPU;job=node;severity=page;"),
        ("{{ .CommonLabels.Names }} {{ .CommonLabels.Values }}", "[alertname job severity] [HighCPU node page]"),
        ("{{ .CommonLabels.Remove .GroupLabels.Names }}", "map[job:node severity:page]"),
        ("{{ .CommonLabels.Remove (stringSlice \"job\" \"nope\") }}", "map[alertname:HighCPU severity:page]"),
        ("{{ .CommonLabels.SortedPairs.Names | join \",\" }}", "alertname,job,severity"),
        ("{{ .CommonLabels.severity }} [{{ .CommonLabels.nope }}]", "page []"),
        ("{{ .CommonAnnotations.runbook }} [{{ .CommonAnnotations.summary }}]", "http://rb []"),
        ("{{ .GroupLabels.alertname | toUpper }} {{ title \"aa bb CC\" }} {{ toLower \"ABC\" }}", "HIGHCPU Aa Bb Cc abc"),
        ("{{ reReplaceAll \"web-(\\\\d)\" \"node$1\" \"web-7\" }} {{ match \"^web\" \"web-1\" }}", "node7 true"),
        ("{{ join \"+\" (stringSlice \"a\" \"b\") }} {{ safeHtml \"<b>\" }}", "a+b <b>"),
        ("{{ range .Alerts }}{{ .Labels.alertname }}{{ end }}{{ .Foo }}", "EXEC: template: :1:54: executing \"\" at <.Foo>: can't evaluate field Foo in type *template.Data"),
        ("{{ template \"__subject\" . }}", "[FIRING:1] HighCPU (node page)"),
        ("{{ template \"slack.default.title\" . }}", "[FIRING:1] HighCPU (node page)"),
        ("{{ template \"slack.default.username\" . }}", "AlertManager"),
        ("{{ template \"slack.default.titlelink\" . }}", "http://am:9093/#/alerts?receiver=team%5C.ops"),
        (
            "{{ template \"slack.default.fallback\" . }}",
            "[FIRING:1] HighCPU (node page) | http://am:9093/#/alerts?receiver=team%5C.ops",
        ),
        ("{{ template \"slack.default.text\" . }}|{{ template \"slack.default.pretext\" . }}|", "||"),
        ("{{ template \"pagerduty.default.description\" . }}", "[FIRING:1] HighCPU (node page)"),
        ("{{ template \"pagerduty.default.client\" . }}", "AlertManager"),
        ("{{ template \"pagerduty.default.clientURL\" . }}", "http://am:9093/#/alerts?receiver=team%5C.ops"),
        ("{{ template \"email.default.subject\" . }}", "[FIRING:1] HighCPU (node page)"),
        (
            "{{ template \"pagerduty.default.instances\" .Alerts.Firing }}",
            "Labels:\n - alertname = HighCPU\n - instance = web-1\n - job = node\n - severity = page\nAnnotations:\n - runbook = http://rb\n - summary = CPU high on web-1\nSource: http://prom/graph?g0.expr=cpu\n",
        ),
        (
            "{{ template \"opsgenie.default.description\" . }}",
            "http://rb\nAlerts Firing:\nLabels:\n - alertname = HighCPU\n - instance = web-1\n - job = node\n - severity = page\nAnnotations:\n - runbook = http://rb\n - summary = CPU high on web-1\nSource: http://prom/graph?g0.expr=cpu\n\nAlerts Resolved:\nLabels:\n - alertname = HighCPU\n - instance = web-2\n - job = node\n - severity = page\nAnnotations:\n - runbook = http://rb\n - summary = CPU high on web-2\nSource: http://prom/graph?g0.expr=cpu\n",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(am(t), *want, "template {t:?}");
    }
}

#[test]
fn alertmanager_resolved_subject_and_group_remove() {
    let mut d = am_data();
    for a in &mut d.alerts {
        a.status = "resolved".into();
    }
    let d = AlertmanagerData::new(
        "r",
        kv(&[("alertname", "HighCPU"), ("job", "node")]),
        d.alerts,
        "http://am",
    );
    let mut set = alertmanager_defaults();
    set.parse("s", "{{ template \"__subject\" . }}").expect("parse");
    assert_eq!(
        set.execute("s", &d.to_value()).as_deref(),
        Ok("[RESOLVED] HighCPU node (page)")
    );
}

#[test]
fn custom_functions_and_objects() {
    let mut funcs = Funcs::builtins();
    funcs.register("double", |args| match args.first() {
        Some(Value::Int(i)) => Ok(Value::Int(i * 2)),
        other => Err(format!("can't double {other:?}")),
    });
    let mut set = TemplateSet::new(funcs);
    set.parse("t", "{{ double 21 }} {{ 4 | double }}").expect("parse");
    assert_eq!(set.execute("t", &Value::Nil).as_deref(), Ok("42 8"));
    set.parse("e", "{{ double \"x\" }}").expect("parse");
    assert_eq!(
        set.execute("e", &Value::Nil).map_err(|e| e.to_string()),
        Err("template: e:1:3: executing \"e\" at <double \"x\">: error calling double: can't double Some(String(\"x\"))".into())
    );
}

#[test]
fn default_templates_parse() {
    let set = alertmanager_defaults();
    for name in [
        "__alertmanager",
        "__subject",
        "__description",
        "__text_alert_list",
        "slack.default.title",
        "slack.default.text",
        "slack.default.username",
        "slack.default.fallback",
        "slack.default.titlelink",
        "pagerduty.default.description",
        "pagerduty.default.instances",
        "pagerduty.default.client",
        "pagerduty.default.clientURL",
        "email.default.subject",
    ] {
        assert!(set.contains(name), "{name} missing");
    }
}
