//! Fuzz-style robustness: random and mangled templates must never panic,
//! overflow the stack or run unbounded; they parse or fail with an error,
//! and execution finishes (or errors) quickly.

use std::time::{Duration, Instant};

use gotemplate::{alertmanager_defaults, AlertData, AlertmanagerData, Funcs, GoTime, MissingKey, TemplateSet, Value};

/// Small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    "{{ $labels.instance }} is {{ printf \"%.2f\" $value }}",
    "{{ range $k, $v := .Labels }}{{ $k }}={{ $v }}{{ else }}none{{ end }}",
    "{{ if gt (len .List) 1 }}{{ index .List 1 }}{{ else if .B }}b{{ else }}c{{ end }}",
    "{{ define \"a\" }}{{ template \"a\" . }}{{ end }}{{ template \"a\" . }}",
    "{{ with $x := .Name }}{{ $x | toUpper | printf \"%q\" }}{{ end }}",
    "{{- /* c */ -}} {{ humanize .F }} {{ humanizeDuration .F }} {{ 0x1F }} {{ 'x' }} {{ `raw` }}",
    "{{ block \"b\" . }}{{ range .List }}{{ if eq . \"x\" }}{{ break }}{{ end }}{{ continue }}{{ end }}{{ end }}",
    "{{ (printf \"%d\" 1).Foo }} {{ slice .Name 1 2 }} {{ and 1 (or 0 2) }} {{ call .Nil }}",
    "{{ .CommonLabels.Remove .GroupLabels.Names }} {{ template \"__subject\" . }}",
    "{{ reReplaceAll \"(a+)\" \"$1x\" .Name }} {{ match \"[\" \"x\" }} {{ printf \"%*d\" 1000000 1 }}",
];

const FRAGMENTS: &[&str] = &[
    "{{",
    "}}",
    "{{-",
    "-}}",
    " ",
    "(",
    ")",
    "|",
    "$",
    "$x",
    ":=",
    "=",
    ".",
    ".Name",
    "\"",
    "`",
    "'",
    "/*",
    "*/",
    "if",
    "else",
    "end",
    "range",
    "with",
    "define",
    "template",
    "block",
    "break",
    "continue",
    "nil",
    "true",
    "1",
    "-1.5e3",
    "0x",
    "printf",
    "len",
    "index",
    "\n",
    "é",
    "\u{a0}",
    "\\",
    ",",
    "{{end}}",
    "{{else}}",
    "{{ if . }}",
    "{{ range . }}",
];

fn data() -> Value {
    Value::map([
        ("Name", Value::from("xaay")),
        ("F", Value::Float(1234.5)),
        ("B", Value::Bool(false)),
        (
            "List",
            Value::list(vec![Value::from("a"), Value::from("x"), Value::Int(3)]),
        ),
        ("Labels", Value::string_map([("instance", "h:1"), ("job", "j")])),
        ("Nil", Value::Nil),
    ])
}

fn mangle(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<String> = s.chars().map(|c| c.to_string()).collect();
    for _ in 0..1 + rng.below(6) {
        let pos = if chars.is_empty() {
            0
        } else {
            rng.below(chars.len() + 1)
        };
        match rng.below(4) {
            0 if !chars.is_empty() && pos < chars.len() => {
                chars.remove(pos);
            }
            1 => chars.insert(pos, FRAGMENTS[rng.below(FRAGMENTS.len())].to_string()),
            2 if !chars.is_empty() => {
                let a = rng.below(chars.len());
                let b = rng.below(chars.len());
                chars.swap(a, b);
            }
            _ => {
                let piece: String = (0..rng.below(5))
                    .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
                    .collect();
                chars.insert(pos.min(chars.len()), piece);
            }
        }
    }
    chars.concat()
}

fn am_value() -> Value {
    AlertmanagerData::new(
        "r",
        [("alertname".to_string(), "A".to_string())].into(),
        vec![AlertData {
            status: "firing".into(),
            labels: [("alertname".to_string(), "A".to_string())].into(),
            annotations: Default::default(),
            starts_at: GoTime::from_unix(0, 0),
            ends_at: GoTime::zero(),
            generator_url: String::new(),
            fingerprint: String::new(),
        }],
        "http://am",
    )
    .to_value()
}

#[test]
fn mangled_templates_never_panic_or_hang() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let d = data();
    let am = am_value();
    let start = Instant::now();
    let mut parsed = 0;
    for i in 0..4000 {
        let seed = SEEDS[rng.below(SEEDS.len())];
        let text = if i % 5 == 0 {
            (0..rng.below(30))
                .map(|_| FRAGMENTS[rng.below(FRAGMENTS.len())])
                .collect::<String>()
        } else {
            mangle(&mut rng, seed)
        };
        let t0 = Instant::now();
        let (mut set, dot) = if i % 2 == 0 {
            (
                TemplateSet::new(Funcs::prometheus(None)).missing_key(MissingKey::Zero),
                &d,
            )
        } else {
            (alertmanager_defaults(), &am)
        };
        set = set.limits(200, 200_000);
        if set.parse("fuzz", &text).is_ok() {
            parsed += 1;
            let _ = set.execute("fuzz", dot);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "template took too long: {text:?}"
        );
    }
    assert!(
        parsed > 100,
        "too few mangled templates parsed ({parsed}); the fuzzer is not exercising execution"
    );
    assert!(start.elapsed() < Duration::from_secs(120));
}

#[test]
fn pathological_inputs_are_bounded() {
    let d = data();
    // Exponential fan-out hits the operation budget.
    let mut text = String::from("{{ define \"t0\" }}x{{ end }}");
    for i in 1..40 {
        text.push_str(&format!(
            "{{{{ define \"t{i}\" }}}}{{{{ template \"t{}\" }}}}{{{{ template \"t{}\" }}}}{{{{ end }}}}",
            i - 1,
            i - 1
        ));
    }
    text.push_str("{{ template \"t39\" }}");
    let mut set = TemplateSet::new(Funcs::builtins());
    set.parse("p", &text).expect("parses");
    let t0 = Instant::now();
    let err = set.execute("p", &d).expect_err("budget");
    assert!(
        err.to_string().contains("exceeded maximum number of operations"),
        "{err}"
    );
    assert!(t0.elapsed() < Duration::from_secs(20));

    // Deep nesting is rejected or executed without overflowing the stack.
    for depth in [50, 150, 250, 5000] {
        let nested_if = format!("{}x{}", "{{ if true }}".repeat(depth), "{{ end }}".repeat(depth));
        let parens = format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
        for t in [nested_if, parens] {
            let mut set = TemplateSet::new(Funcs::builtins());
            if set.parse("n", &t).is_ok() {
                let _ = set.execute("n", &d);
            }
        }
    }

    // Unbounded recursion stops with Go's depth error.
    let mut set = TemplateSet::new(Funcs::builtins());
    set.parse(
        "main",
        "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
    )
    .expect("parses");
    let err = set.execute("main", &d).expect_err("depth");
    assert!(err.to_string().contains("exceeded maximum template depth"), "{err}");

    // Huge widths and precisions are refused instead of allocating.
    let mut set = TemplateSet::new(Funcs::builtins());
    set.parse("w", "{{ printf \"%99999999d|%.99999999f\" 1 1.0 }}")
        .expect("parses");
    let out = set.execute("w", &d).expect("runs");
    assert!(out.len() < 100, "{out}");
}
