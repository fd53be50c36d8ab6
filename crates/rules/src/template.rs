//! How alert labels and annotations are expanded. The engine takes a
//! [`Templater`] so that the template language (Prometheus' Go-template
//! dialect) stays in its own crate.
use std::collections::BTreeMap;

/// What a template sees, as Prometheus gives it to alert templates.
#[derive(Debug, Clone)]
pub struct AlertTemplateData<'a> {
    /// The alert's labels (`$labels`), the result series' labels without `__name__`.
    pub labels: &'a BTreeMap<String, String>,
    /// `$externalLabels`.
    pub external_labels: &'a BTreeMap<String, String>,
    /// `$externalURL`.
    pub external_url: &'a str,
    /// `$value`.
    pub value: f64,
    /// Evaluation time, milliseconds (the time `query` runs at).
    pub eval_ms: i64,
}

/// Expands alert templates.
pub trait Templater: Send + Sync {
    /// Checks that `text` parses, for validation when rules load.
    fn check(&self, name: &str, text: &str) -> Result<(), String>;
    /// Expands `text` for one alert. Errors are reported by the caller in
    /// place of the result, as Prometheus does.
    fn expand(&self, name: &str, text: &str, data: &AlertTemplateData<'_>) -> Result<String, String>;
}

/// Prometheus' Go-template dialect (the `gotemplate` crate). `query` in a
/// template runs PromQL at the alert's evaluation time when a query
/// function is given.
pub struct GoTemplater {
    query: Option<QueryAt>,
}

/// Runs an instant query at a time (ms), for the `query` template function.
pub type QueryAt = std::sync::Arc<dyn Fn(&str, i64) -> Result<Vec<gotemplate::QuerySample>, String> + Send + Sync>;

impl GoTemplater {
    /// A templater whose `query` runs `query`.
    pub fn with_query(query: QueryAt) -> GoTemplater {
        GoTemplater { query: Some(query) }
    }
}

/// The templater used to check rule files (`query` fails if a template
/// runs it, which checking never does).
pub fn go_templater() -> std::sync::Arc<dyn Templater> {
    std::sync::Arc::new(GoTemplater { query: None })
}

fn rule_name(template_name: &str) -> &str {
    template_name.strip_prefix("__alert_").unwrap_or(template_name)
}

impl Templater for GoTemplater {
    fn check(&self, name: &str, text: &str) -> Result<(), String> {
        let funcs = gotemplate::Funcs::prometheus(None);
        let mut set = gotemplate::TemplateSet::new(funcs);
        let mut full = String::with_capacity(gotemplate::ALERT_TEMPLATE_DEFS.len() + text.len());
        full.push_str(gotemplate::ALERT_TEMPLATE_DEFS);
        full.push_str(text);
        set.parse(&format!("__alert_{}", rule_name(name)), &full)
            .map_err(|e| e.to_string())
    }

    fn expand(&self, name: &str, text: &str, data: &AlertTemplateData<'_>) -> Result<String, String> {
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let query = self.query.clone().map(|q| {
            let at = data.eval_ms;
            gotemplate::query_fn(move |expr| q(expr, at))
        });
        gotemplate::expand_alert_template(
            rule_name(name),
            text,
            data.labels,
            data.external_labels,
            data.external_url,
            data.value,
            query,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_templates_expand_as_prometheus_does() {
        let t = go_templater();
        let labels = BTreeMap::from([("instance".to_string(), "db1".to_string())]);
        let ext = BTreeMap::from([("cluster".to_string(), "eu".to_string())]);
        let data = AlertTemplateData {
            labels: &labels,
            external_labels: &ext,
            external_url: "http://aw",
            value: 0.123456,
            eval_ms: 0,
        };
        let out = t
            .expand(
                "__alert_X",
                "{{ $labels.instance }} in {{ $externalLabels.cluster }}: {{ $value | humanizePercentage }}",
                &data,
            )
            .unwrap();
        assert_eq!(out, "db1 in eu: 12.35%");
        assert!(t.check("__alert_X", "{{ $labels.instance }}").is_ok());
        let e = t.check("__alert_X", "{{ humanise $value }}").unwrap_err();
        assert!(e.contains("function \"humanise\" not defined"), "{e}");
    }
}
