//! Prometheus alert annotation/label expansion, as
//! `rules.AlertingRule` + `template.NewTemplateExpander(...).Expand()` do it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::exec::MissingKey;
use crate::funcs::{Funcs, QueryFn};
use crate::template::TemplateSet;
use crate::value::{GoStruct, Value};

/// Prometheus prepends these to every alert template so users can write
/// `$labels`, `$value`, ... (they shift error columns accordingly).
pub const ALERT_TEMPLATE_DEFS: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The dot of an alert template: Prometheus' anonymous struct from
/// `template.AlertTemplateData`.
pub fn alert_template_data(
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
) -> Value {
    Value::object(GoStruct {
        type_name:
            "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }"
                .into(),
        fields: vec![
            ("Labels".into(), Value::from(labels)),
            ("ExternalLabels".into(), Value::from(external_labels)),
            ("ExternalURL".into(), Value::from(external_url)),
            ("Value".into(), Value::Float(value)),
        ],
    })
}

/// Expands one alert annotation or label template for the alerting rule
/// `rule_name` (the template is named `__alert_<rule_name>`, as in
/// Prometheus). Errors carry Prometheus' prefixes:
/// `error parsing template __alert_X: template: __alert_X:1: ...` or
/// `error executing template __alert_X: template: __alert_X:1:123: executing ...`.
#[allow(clippy::too_many_arguments)]
pub fn expand_alert_template(
    rule_name: &str,
    text: &str,
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
    query: Option<QueryFn>,
) -> Result<String, String> {
    let name = format!("__alert_{rule_name}");
    let funcs = Funcs::prometheus(query).with_external_url(external_url);
    let mut set = TemplateSet::new(funcs).missing_key(MissingKey::Zero);
    let mut full = String::with_capacity(ALERT_TEMPLATE_DEFS.len() + text.len());
    full.push_str(ALERT_TEMPLATE_DEFS);
    full.push_str(text);
    set.parse(&name, &full)
        .map_err(|e| format!("error parsing template {name}: {e}"))?;
    let data = alert_template_data(labels, external_labels, external_url, value);
    set.execute(&name, &data)
        .map_err(|e| format!("error executing template {name}: {e}"))
}

/// What an alerting rule stores for an annotation: the expansion, or
/// `<error expanding template: ...>` when it fails.
pub fn expand_alert_annotation(
    rule_name: &str,
    text: &str,
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
    query: Option<QueryFn>,
) -> String {
    expand_alert_template(rule_name, text, labels, external_labels, external_url, value, query)
        .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

/// Convenience for building a [`QueryFn`] from a closure.
pub fn query_fn(f: impl Fn(&str) -> Result<Vec<crate::funcs::QuerySample>, String> + Send + Sync + 'static) -> QueryFn {
    Arc::new(f)
}
