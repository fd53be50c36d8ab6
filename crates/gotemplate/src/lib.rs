//! Go's `text/template` (Go 1.19–1.21 semantics), as Prometheus alert
//! templates and Alertmanager notification templates use it, with both
//! projects' function sets.
//!
//! Templates are parsed once into a [`TemplateSet`] and executed many times
//! over a [`Value`] tree the host builds. Output and error messages match
//! Go's byte for byte where templates can observe them (`fmt` verbs, float
//! formatting, `<no value>`, `template: NAME:LINE:COL: executing ...`).
//!
//! ```
//! use gotemplate::{Funcs, TemplateSet, Value};
//!
//! let mut set = TemplateSet::new(Funcs::prometheus(None));
//! set.parse("summary", r#"{{ .host | toUpper }} at {{ printf "%.1f" .load }}% ({{ humanize .bytes }}B)"#)
//!     .expect("parses");
//! let data = Value::map([
//!     ("host", Value::from("db1")),
//!     ("load", Value::from(93.456)),
//!     ("bytes", Value::from(1_234_567.0)),
//! ]);
//! assert_eq!(set.execute("summary", &data).unwrap(), "DB1 at 93.5% (1.235MB)");
//!
//! // Errors read like Go's.
//! let err = set.parse("bad", "{{ humanise 1 }}").unwrap_err();
//! assert_eq!(err.to_string(), r#"template: bad:1: function "humanise" not defined"#);
//! ```
//!
//! Prometheus alert annotations go through [`expand_alert_template`], which
//! adds the `$labels`/`$value`/... definitions, `missingkey=zero` and
//! Prometheus' error prefixes. Alertmanager notifications execute over
//! [`AlertmanagerData::to_value`] with [`Funcs::alertmanager`], usually
//! after parsing [`alertmanager_defaults`].
//!
//! Host functions are closures over `&[Value]` ([`Funcs::register`]); host
//! types with Go methods implement [`Object`].

mod alert;
mod ast;
mod error;
mod exec;
pub mod fmt;
mod funcs;
mod gotime;
mod lexer;
mod parse;
mod strconv;
mod template;
mod value;

pub use alert::{alert_template_data, expand_alert_annotation, expand_alert_template, query_fn, ALERT_TEMPLATE_DEFS};
pub use error::{Error, ExecError, ParseError};
pub use exec::MissingKey;
pub use funcs::alertmanager::{quote_meta, AlertData, AlertmanagerData, DEFAULT_TEMPLATES};
pub use funcs::prometheus::{QueryFn, QuerySample};
pub use funcs::{ArgType, Funcs};
pub use gotime::GoTime;
pub use template::{TemplateSet, DEFAULT_MAX_DEPTH, DEFAULT_MAX_OPS};
pub use value::{Function, GoStruct, Map, MapKind, Object, Value};

/// Alertmanager's bundled notification templates (`default.tmpl`) parsed
/// into a set using the Alertmanager function table and `missingkey=zero`,
/// ready for more user templates to be parsed into it.
pub fn alertmanager_defaults() -> TemplateSet {
    let mut set = TemplateSet::new(Funcs::alertmanager()).missing_key(MissingKey::Zero);
    // The embedded text is fixed and covered by tests; a failure here would
    // be a bug in this crate, not in user input.
    if let Err(e) = set.parse("default.tmpl", DEFAULT_TEMPLATES) {
        debug_assert!(false, "default.tmpl must parse: {e}");
    }
    set
}
