//! `/api/v1/rules` and `/api/v1/alerts`, in Prometheus 2.42's shapes.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{success, ApiError, Params};
use crate::AppState;
use rules::{Alert, AlertState, Group, Rule};

/// Go's zero `time.Time`, which Prometheus prints for "never".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn time_ms(ms: Option<i64>) -> String {
    match ms.and_then(DateTime::<Utc>::from_timestamp_millis) {
        Some(t) => super::query::rfc3339_nano(&t),
        None => ZERO_TIME.to_string(),
    }
}

/// `strconv.FormatFloat(v, 'e', -1, 64)`: shortest mantissa, exponent with
/// a sign and at least two digits (`1e+00`, `2.5e-07`).
pub fn go_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let mut out = String::new();
    super::query::go_e(&mut out, v);
    out
}

fn alert_json(a: &Alert) -> Value {
    let labels: BTreeMap<&str, &str> = a.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
    let mut v = json!({
        "labels": labels,
        "annotations": a.annotations,
        "state": a.state.as_str(),
        "activeAt": time_ms(Some(a.active_at)),
        "value": go_float_e(a.value),
    });
    if let Some(t) = a.keep_firing_since {
        v["keepFiringSince"] = json!(time_ms(Some(t)));
    }
    v
}

/// Alerts an API lists: pending and firing, not the recently resolved ones.
fn listed(alerts: Vec<&Alert>) -> impl Iterator<Item = &Alert> {
    alerts.into_iter().filter(|a| a.state != AlertState::Inactive)
}

fn group_json(g: &Group, want_alerting: bool, want_recording: bool) -> Value {
    let rules: Vec<Value> = g
        .rules
        .iter()
        .filter_map(|entry| {
            let mut v = match &entry.rule {
                Rule::Alerting(r) if want_alerting => json!({
                    "state": r.state().as_str(),
                    "name": r.name,
                    "query": r.expr.trim(),
                    "duration": r.hold_ms as f64 / 1000.0,
                    "keepFiringFor": r.keep_firing_ms as f64 / 1000.0,
                    "labels": r.labels,
                    "annotations": r.annotations,
                    "alerts": listed(r.alerts()).map(alert_json).collect::<Vec<_>>(),
                    "type": "alerting",
                }),
                Rule::Recording(r) if want_recording => {
                    let mut v = json!({
                        "name": r.name,
                        "query": r.expr.trim(),
                        "type": "recording",
                    });
                    if !r.labels.is_empty() {
                        v["labels"] = json!(r.labels);
                    }
                    v
                }
                _ => return None,
            };
            v["health"] = json!(entry.health.as_str());
            if let Some(e) = &entry.last_error {
                v["lastError"] = json!(e);
            }
            v["evaluationTime"] = json!(entry.eval_seconds);
            v["lastEvaluation"] = json!(time_ms(entry.last_eval_ms));
            Some(v)
        })
        .collect();
    json!({
        "name": g.name,
        "file": g.file,
        "rules": rules,
        "interval": g.interval_ms as f64 / 1000.0,
        "limit": g.limit,
        "evaluationTime": g.eval_seconds,
        "lastEvaluation": time_ms(g.last_eval_ms),
    })
}

/// `GET /api/v1/rules?type=alert|record`.
pub async fn rules(State(st): State<Arc<AppState>>, params: Params) -> Result<Response, ApiError> {
    let (alerting, recording) = match params.get("type").unwrap_or("") {
        "" => (true, true),
        "alert" => (true, false),
        "record" => (false, true),
        other => return Err(ApiError::BadData(format!("not supported value {other:?}"))),
    };
    let groups: Vec<Value> = st
        .rules
        .as_ref()
        .map(|m| m.groups())
        .unwrap_or_default()
        .iter()
        .map(|g| group_json(g, alerting, recording))
        .collect();
    Ok(success(json!({ "groups": groups })))
}

/// `GET /api/v1/alerts`.
pub async fn alerts(State(st): State<Arc<AppState>>) -> Response {
    let mut out = Vec::new();
    for g in st.rules.as_ref().map(|m| m.groups()).unwrap_or_default() {
        for entry in &g.rules {
            if let Rule::Alerting(r) = &entry.rule {
                out.extend(listed(r.alerts()).map(alert_json));
            }
        }
    }
    success(json!({ "alerts": out }))
}

/// `GET /api/v1/slos`: every SLO with its objective, window, error budget
/// remaining and burn rates now (from the series its rules record; `null`
/// until they have been evaluated).
pub async fn slos(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let slos = st.slos.read().clone();
    let now = chrono::Utc::now().timestamp_millis();
    let db: Arc<dyn promql::Queryable> = Arc::new(st.db.clone());
    let mut out = Vec::with_capacity(slos.len());
    for s in &slos {
        let value = |metric: String| {
            let engine = st.engine.clone();
            let db = db.clone();
            async move {
                match engine.instant(db, &metric, now, Default::default()).await {
                    Ok(r) => match r.value {
                        promql::ResultValue::Vector(v) => v.first().map(|x| x.v).filter(|v| v.is_finite()),
                        _ => None,
                    },
                    Err(_) => None,
                }
            }
        };
        let sel = format!("{{slo={:?}}}", s.name);
        let mut burn = serde_json::Map::new();
        for w in rules::slo::WINDOWS {
            burn.insert((*w).to_string(), json!(value(format!("slo:burn_rate:{w}{sel}")).await));
        }
        out.push(json!({
            "name": s.name,
            "objective": s.objective,
            "window": model::format_duration(s.window.get()),
            "sli": match (&s.check, &s.good, &s.total) {
                (Some(c), _, _) => json!({ "check": c }),
                (None, good, total) => json!({ "good": good, "total": total }),
            },
            "errorBudgetRemaining": value(format!("slo:error_budget_remaining{sel}")).await,
            "burnRate": burn,
        }));
    }
    Ok(success(json!({ "slos": out })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_formats_them_with_e() {
        assert_eq!(go_float_e(1.0), "1e+00");
        assert_eq!(go_float_e(0.0), "0e+00");
        assert_eq!(go_float_e(2.5e-7), "2.5e-07");
        assert_eq!(go_float_e(123456.0), "1.23456e+05");
        assert_eq!(go_float_e(1e100), "1e+100");
        assert_eq!(go_float_e(-3.75), "-3.75e+00");
        assert_eq!(go_float_e(f64::NAN), "NaN");
        assert_eq!(time_ms(None), ZERO_TIME);
        assert_eq!(time_ms(Some(1_500)), "1970-01-01T00:00:01.5Z");
    }
}
