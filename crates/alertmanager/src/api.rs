//! Alertmanager API v2 (`api/v2/openapi.yaml`) request and response shapes,
//! and the handler logic of `api/v2/api.go` without the HTTP layer.
//!
//! The HTTP server maps each function here to its route, serialises the
//! result with `serde_json` and turns [`ApiError`] into its status code with a
//! JSON string body, as Alertmanager does. Field names, defaults and time
//! formats (RFC 3339 with milliseconds, UTC) follow the OpenAPI spec so that
//! `amtool` (go-openapi client) and Prometheus talk to it unchanged.

use std::collections::BTreeMap;

use model::{Labels, MatchType};
use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::alert::{Alert, Fingerprint};
use crate::clock::{add, format_rfc3339_millis, Timestamp};
use crate::engine::Alertmanager;
use crate::marker::{AlertState, MarkerStatus};
use crate::matchers::{parse_matchers, Matcher};
use crate::silences::{Silence, SilenceError, SilenceState};

/// An API failure with Alertmanager's status code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status code.
    pub fn status_code(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::NotFound(_) => 404,
            ApiError::Internal(_) => 500,
        }
    }

    /// The response body: the message as a JSON string (the spec's schema).
    pub fn body_json(&self) -> String {
        serde_json::to_string(&self.to_string()).unwrap_or_else(|_| "\"\"".into())
    }
}

/// RFC 3339 timestamps the way go-openapi writes (`.000Z`) and reads them.
pub mod datetime {
    use super::*;

    /// Go's zero `time.Time`, which clients send for "unset".
    pub const GO_ZERO: &str = "0001-01-01T00:00:00.000Z";

    /// Parses RFC 3339 (any fraction, `Z` or offset); Go's zero time and
    /// years before 2 are treated as unset.
    pub fn parse(s: &str) -> Result<Option<Timestamp>, String> {
        let parsed = chrono::DateTime::parse_from_rfc3339(s)
            .or_else(|_| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
            .map_err(|e| format!("parsing time {s:?}: {e}"))?;
        let t = parsed.with_timezone(&chrono::Utc);
        use chrono::Datelike;
        Ok((t.year() > 1).then_some(t))
    }

    /// Serialises a timestamp.
    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339_millis(t))
    }

    /// Deserialises a timestamp (Go's zero time is an error here).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s)
            .map_err(serde::de::Error::custom)?
            .ok_or_else(|| serde::de::Error::custom("zero time"))
    }

    /// For optional fields: `None`, `null`, `""` and Go's zero time are unset.
    pub mod option {
        use super::*;

        /// Serialises `None` as Go's zero time.
        pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&format_rfc3339_millis(t)),
                None => s.serialize_str(GO_ZERO),
            }
        }

        /// Deserialises an optional timestamp.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(s) if s.is_empty() => Ok(None),
                Some(s) => parse(&s).map_err(serde::de::Error::custom),
            }
        }
    }
}

/// `receiver`: `{"name": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiverRef {
    /// Receiver name.
    pub name: String,
}

/// `alertStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiAlertStatus {
    /// `unprocessed`, `active` or `suppressed`.
    pub state: String,
    /// Silence IDs.
    pub silenced_by: Vec<String>,
    /// Fingerprints of inhibiting alerts.
    pub inhibited_by: Vec<String>,
}

impl From<MarkerStatus> for ApiAlertStatus {
    fn from(s: MarkerStatus) -> Self {
        ApiAlertStatus {
            state: s.state.as_str().to_string(),
            silenced_by: s.silenced_by,
            inhibited_by: s.inhibited_by,
        }
    }
}

/// `gettableAlert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// End time (Go's zero time when unset).
    #[serde(with = "datetime::option")]
    pub ends_at: Option<Timestamp>,
    /// 16 hex digits.
    pub fingerprint: String,
    /// Receivers the alert routes to.
    pub receivers: Vec<ReceiverRef>,
    /// Start time.
    #[serde(with = "datetime")]
    pub starts_at: Timestamp,
    /// Suppression status.
    pub status: ApiAlertStatus,
    /// Last update.
    #[serde(with = "datetime")]
    pub updated_at: Timestamp,
    /// Source link; omitted when empty.
    #[serde(rename = "generatorURL", default, skip_serializing_if = "String::is_empty")]
    pub generator_url: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

fn labels_map(l: &Labels) -> BTreeMap<String, String> {
    l.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect()
}

impl GettableAlert {
    /// Alertmanager's `AlertToOpenAPIAlert`.
    pub fn new(a: &Alert, status: MarkerStatus, receivers: &[String]) -> GettableAlert {
        GettableAlert {
            annotations: a.annotations.clone(),
            ends_at: a.ends_at,
            fingerprint: a.fingerprint().to_string(),
            receivers: receivers.iter().map(|r| ReceiverRef { name: r.clone() }).collect(),
            starts_at: a.starts_at,
            status: status.into(),
            updated_at: a.updated_at,
            generator_url: a.generator_url.clone(),
            labels: labels_map(&a.labels),
        }
    }
}

/// `alertGroup`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiAlertGroup {
    /// Group labels.
    pub labels: BTreeMap<String, String>,
    /// The route's receiver.
    pub receiver: ReceiverRef,
    /// The group's alerts.
    pub alerts: Vec<GettableAlert>,
}

/// `postableAlert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableAlert {
    /// Labels (required).
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Start; now (or `endsAt`) when unset.
    #[serde(default, with = "datetime::option")]
    pub starts_at: Option<Timestamp>,
    /// End; now + `resolve_timeout` when unset.
    #[serde(default, with = "datetime::option")]
    pub ends_at: Option<Timestamp>,
    /// Source link.
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
}

/// Parses a `POST /api/v2/alerts` body.
pub fn parse_postable_alerts(body: &[u8]) -> Result<Vec<PostableAlert>, ApiError> {
    let raw: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("parsing alerts body: {e}")))?;
    raw.into_iter()
        .enumerate()
        .map(|(i, v)| {
            if v.get("labels").is_none_or(|l| l.is_null()) {
                return Err(ApiError::BadRequest(format!("{i}.labels in body is required")));
            }
            serde_json::from_value(v).map_err(|e| ApiError::BadRequest(format!("{i}: {e}")))
        })
        .collect()
}

/// Alertmanager's `postAlertsHandler` conversion: sets `updatedAt` to now,
/// defaults `startsAt` (to `endsAt`, else now), sets `endsAt = now +
/// resolve_timeout` and the timeout flag when no end was given, drops empty
/// label values and validates. Returns the valid alerts and the validation
/// errors (the handler stores the valid ones and answers 400 listing the
/// errors if there are any).
pub fn alerts_from_postable(
    posted: Vec<PostableAlert>,
    now: Timestamp,
    resolve_timeout: std::time::Duration,
) -> (Vec<Alert>, Vec<String>) {
    let mut valid = Vec::with_capacity(posted.len());
    let mut errors = Vec::new();
    for p in posted {
        let starts_at = p.starts_at.or(p.ends_at).unwrap_or(now);
        let (ends_at, timeout) = match p.ends_at {
            Some(e) => (e, false),
            None => (add(now, resolve_timeout), true),
        };
        let alert = Alert {
            labels: Labels::from_pairs(p.labels),
            annotations: p.annotations,
            starts_at,
            ends_at: Some(ends_at),
            updated_at: now,
            generator_url: p.generator_url,
            timeout,
        };
        match alert.validate() {
            Ok(()) => valid.push(alert),
            Err(e) => errors.push(e.to_string()),
        }
    }
    (valid, errors)
}

/// `POST /api/v2/alerts`: parses, converts, stores the valid alerts and
/// reports invalid ones as 400 (after storing the valid ones, like
/// Alertmanager).
pub fn post_alerts(am: &Alertmanager, body: &[u8]) -> Result<(), ApiError> {
    let posted = parse_postable_alerts(body)?;
    let resolve_timeout = am.config().global.resolve_timeout.get();
    let (valid, errors) = alerts_from_postable(posted, am.clock().now(), resolve_timeout);
    am.put_alerts(valid);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(errors.join(";")))
    }
}

/// Query parameters of `GET /api/v2/alerts` and `/api/v2/alerts/groups`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertQuery {
    /// Include active alerts.
    pub active: bool,
    /// Include silenced alerts.
    pub silenced: bool,
    /// Include inhibited alerts.
    pub inhibited: bool,
    /// Include unprocessed alerts (ignored by the groups endpoint).
    pub unprocessed: bool,
    /// Matcher strings (`filter=` repeated).
    pub filter: Vec<String>,
    /// Receiver regex (anchored).
    pub receiver: Option<String>,
}

impl Default for AlertQuery {
    fn default() -> Self {
        AlertQuery {
            active: true,
            silenced: true,
            inhibited: true,
            unprocessed: true,
            filter: Vec::new(),
            receiver: None,
        }
    }
}

/// go-openapi's boolean parsing (`swag.ConvertBool`).
fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "ok" | "y" | "on" | "selected" | "checked" | "t" | "enabled" => Ok(true),
        "false" | "0" | "no" | "n" | "off" | "f" | "disabled" | "" => Ok(false),
        _ => Err(ApiError::BadRequest(format!(
            "{name} in query must be of type boolean: {v:?}"
        ))),
    }
}

impl AlertQuery {
    /// Builds a query from decoded `(name, value)` pairs of the URL query.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<AlertQuery, ApiError> {
        let mut q = AlertQuery::default();
        for (k, v) in pairs {
            match k {
                "active" => q.active = parse_bool(k, v)?,
                "silenced" => q.silenced = parse_bool(k, v)?,
                "inhibited" => q.inhibited = parse_bool(k, v)?,
                "unprocessed" => q.unprocessed = parse_bool(k, v)?,
                "filter" => q.filter.push(v.to_string()),
                "receiver" => q.receiver = Some(v.to_string()),
                _ => {}
            }
        }
        Ok(q)
    }

    fn matchers(&self) -> Result<Vec<Matcher>, ApiError> {
        parse_filter(&self.filter)
    }

    fn receiver_regex(&self) -> Result<Option<Regex>, ApiError> {
        self.receiver
            .as_ref()
            .map(|r| {
                Regex::new(&format!("^(?:{r})$"))
                    .map_err(|e| ApiError::BadRequest(format!("failed to parse receiver param: {e}")))
            })
            .transpose()
    }

    fn status_allowed(&self, st: &MarkerStatus, check_unprocessed: bool) -> bool {
        if !self.active && st.state == AlertState::Active {
            return false;
        }
        if check_unprocessed && !self.unprocessed && st.state == AlertState::Unprocessed {
            return false;
        }
        if !self.silenced && !st.silenced_by.is_empty() {
            return false;
        }
        if !self.inhibited && !st.inhibited_by.is_empty() {
            return false;
        }
        true
    }
}

/// Parses `filter` parameters (each may hold several matchers).
pub fn parse_filter(filters: &[String]) -> Result<Vec<Matcher>, ApiError> {
    let mut out = Vec::new();
    for f in filters {
        out.extend(parse_matchers(f).map_err(|e| ApiError::BadRequest(e.to_string()))?);
    }
    Ok(out)
}

/// Alertmanager's `matchFilterLabels`: a filter matcher on an empty value
/// also accepts a missing (for `=`/`=~`) or present (for `!=`/`!~`) label.
fn match_filter_labels(matchers: &[Matcher], get: impl Fn(&str) -> Option<String>) -> bool {
    matchers.iter().all(|m| {
        let v = get(&m.name);
        let present = v.is_some();
        let v = v.unwrap_or_default();
        match m.kind {
            MatchType::NotRegex | MatchType::NotEqual => (m.value.is_empty() && present) || m.matches(&v),
            _ => (m.value.is_empty() && !present) || m.matches(&v),
        }
    })
}

/// `GET /api/v2/alerts`: non-resolved alerts with their receivers and
/// status, filtered and sorted by fingerprint.
pub fn get_alerts(am: &Alertmanager, q: &AlertQuery) -> Result<Vec<GettableAlert>, ApiError> {
    let matchers = q.matchers()?;
    let receiver_re = q.receiver_regex()?;
    let route = am.route();
    let now = am.clock().now();
    let mut out = Vec::new();
    for a in am.store().list() {
        let receivers = route.receivers_for(&a.labels);
        if let Some(re) = &receiver_re {
            if !receivers.iter().any(|r| re.is_match(r)) {
                continue;
            }
        }
        if !match_filter_labels(&matchers, |n| a.labels.get(n).map(str::to_string)) {
            continue;
        }
        if a.ends_at.is_some_and(|e| e < now) {
            continue;
        }
        am.set_alert_status(&a.labels);
        let status = am.marker().status(a.fingerprint());
        if !q.status_allowed(&status, true) {
            continue;
        }
        out.push(GettableAlert::new(&a, status, &receivers));
    }
    out.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    Ok(out)
}

/// `GET /api/v2/alerts/groups`: the dispatcher's aggregation groups with
/// their filtered alerts; groups left empty are omitted.
pub fn get_alert_groups(am: &Alertmanager, q: &AlertQuery) -> Result<Vec<ApiAlertGroup>, ApiError> {
    let matchers = q.matchers()?;
    let receiver_re = q.receiver_regex()?;
    let now = am.clock().now();
    let groups = am.dispatcher().groups();
    let mut receivers: BTreeMap<Fingerprint, Vec<String>> = BTreeMap::new();
    let mut kept: Vec<(crate::dispatch::AlertGroupSnapshot, Vec<Alert>)> = Vec::new();
    for g in groups {
        if receiver_re.as_ref().is_some_and(|re| !re.is_match(&g.receiver)) {
            continue;
        }
        let mut alerts = Vec::new();
        for a in &g.alerts {
            if a.ends_at.is_some_and(|e| e < now) {
                continue;
            }
            am.set_alert_status(&a.labels);
            let st = am.marker().status(a.fingerprint());
            if !q.status_allowed(&st, false) {
                continue;
            }
            if !match_filter_labels(&matchers, |n| a.labels.get(n).map(str::to_string)) {
                continue;
            }
            receivers.entry(a.fingerprint()).or_default().push(g.receiver.clone());
            alerts.push(a.clone());
        }
        if !alerts.is_empty() {
            kept.push((g, alerts));
        }
    }
    for r in receivers.values_mut() {
        r.sort();
    }
    Ok(kept
        .into_iter()
        .map(|(g, alerts)| ApiAlertGroup {
            labels: labels_map(&g.labels),
            receiver: ReceiverRef {
                name: g.receiver.clone(),
            },
            alerts: alerts
                .iter()
                .map(|a| {
                    let fp = a.fingerprint();
                    let rs = receivers.get(&fp).cloned().unwrap_or_default();
                    GettableAlert::new(a, am.marker().status(fp), &rs)
                })
                .collect(),
        })
        .collect())
}

fn default_true() -> bool {
    true
}

/// `matcher` of a silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    /// Label name.
    pub name: String,
    /// Value or regex.
    pub value: String,
    /// Regex matcher.
    pub is_regex: bool,
    /// Equality (default true); false negates.
    #[serde(default = "default_true")]
    pub is_equal: bool,
}

impl ApiMatcher {
    fn from_matcher(m: &Matcher) -> ApiMatcher {
        ApiMatcher {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex: matches!(m.kind, MatchType::Regex | MatchType::NotRegex),
            is_equal: matches!(m.kind, MatchType::Equal | MatchType::Regex),
        }
    }

    fn to_matcher(&self) -> Result<Matcher, String> {
        let kind = match (self.is_equal, self.is_regex) {
            (true, false) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regex,
            (false, true) => MatchType::NotRegex,
        };
        Matcher::new(kind, self.name.clone(), self.value.clone()).map_err(|e| e.to_string())
    }
}

/// `silenceStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSilenceStatus {
    /// `expired`, `active` or `pending`.
    pub state: SilenceState,
}

/// `gettableSilence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    /// UUID.
    pub id: String,
    /// State now.
    pub status: ApiSilenceStatus,
    /// Last update.
    #[serde(with = "datetime")]
    pub updated_at: Timestamp,
    /// Matchers.
    pub matchers: Vec<ApiMatcher>,
    /// Start.
    #[serde(with = "datetime")]
    pub starts_at: Timestamp,
    /// End.
    #[serde(with = "datetime")]
    pub ends_at: Timestamp,
    /// Author.
    pub created_by: String,
    /// Reason.
    pub comment: String,
}

impl GettableSilence {
    /// Converts a silence with its state at `now`.
    pub fn new(s: &Silence, now: Timestamp) -> GettableSilence {
        GettableSilence {
            id: s.id.clone(),
            status: ApiSilenceStatus { state: s.state_at(now) },
            updated_at: s.updated_at,
            matchers: s.matchers.iter().map(ApiMatcher::from_matcher).collect(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        }
    }
}

/// `postableSilence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostableSilence {
    /// Set to update an existing silence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Matchers (at least one).
    #[serde(default)]
    pub matchers: Vec<ApiMatcher>,
    /// Start.
    #[serde(default, with = "datetime::option")]
    pub starts_at: Option<Timestamp>,
    /// End.
    #[serde(default, with = "datetime::option")]
    pub ends_at: Option<Timestamp>,
    /// Author (required, non-empty).
    #[serde(default)]
    pub created_by: String,
    /// Reason (required, non-empty).
    #[serde(default)]
    pub comment: String,
}

/// Response of `POST /api/v2/silences`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostSilenceResponse {
    /// The (possibly new) silence ID.
    #[serde(rename = "silenceID")]
    pub silence_id: String,
}

/// Alertmanager's `SortSilences`: active (soonest end first), then pending
/// (soonest start first), then expired (latest end first).
pub fn sort_silences(sils: &mut [GettableSilence]) {
    let rank = |s: SilenceState| match s {
        SilenceState::Active => 1,
        SilenceState::Pending => 2,
        SilenceState::Expired => 3,
    };
    sils.sort_by(|a, b| {
        let (sa, sb) = (a.status.state, b.status.state);
        if sa != sb {
            return rank(sa).cmp(&rank(sb));
        }
        match sa {
            SilenceState::Active => a.ends_at.cmp(&b.ends_at),
            SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
            SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
        }
    });
}

/// `GET /api/v2/silences?filter=...`.
pub fn get_silences(am: &Alertmanager, filter: &[String]) -> Result<Vec<GettableSilence>, ApiError> {
    let matchers = parse_filter(filter)?;
    let now = am.clock().now();
    let mut out: Vec<GettableSilence> = am
        .silences()
        .list(None)
        .iter()
        .filter(|s| {
            let by_name: BTreeMap<&str, &str> =
                s.matchers.iter().map(|m| (m.name.as_str(), m.value.as_str())).collect();
            match_filter_labels(&matchers, |n| by_name.get(n).map(|v| v.to_string()))
        })
        .map(|s| GettableSilence::new(s, now))
        .collect();
    sort_silences(&mut out);
    Ok(out)
}

/// `GET /api/v2/silence/{id}`.
pub fn get_silence(am: &Alertmanager, id: &str) -> Result<GettableSilence, ApiError> {
    match am.silences().get(id) {
        Ok(s) => Ok(GettableSilence::new(&s, am.clock().now())),
        Err(SilenceError::NotFound) => Err(ApiError::NotFound(SilenceError::NotFound.to_string())),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// `DELETE /api/v2/silence/{id}`: expires the silence.
pub fn delete_silence(am: &Alertmanager, id: &str) -> Result<(), ApiError> {
    match am.silences().expire(id) {
        Ok(()) => Ok(()),
        Err(SilenceError::NotFound) => Err(ApiError::NotFound(SilenceError::NotFound.to_string())),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// `POST /api/v2/silences` with a JSON body.
pub fn post_silence_json(am: &Alertmanager, body: &[u8]) -> Result<PostSilenceResponse, ApiError> {
    let p: PostableSilence =
        serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("parsing silence body: {e}")))?;
    post_silence(am, p)
}

/// `POST /api/v2/silences`: creates or updates a silence with Alertmanager's
/// checks (required fields, start before end, end not in the past) and
/// [`crate::silences::Silences::set`] semantics.
pub fn post_silence(am: &Alertmanager, p: PostableSilence) -> Result<PostSilenceResponse, ApiError> {
    let (Some(starts_at), Some(ends_at)) = (p.starts_at, p.ends_at) else {
        let field = if p.starts_at.is_none() { "startsAt" } else { "endsAt" };
        return Err(ApiError::BadRequest(format!("{field} in body is required")));
    };
    if p.created_by.is_empty() {
        return Err(ApiError::BadRequest("createdBy in body is required".into()));
    }
    if p.comment.is_empty() {
        return Err(ApiError::BadRequest("comment in body is required".into()));
    }
    let matchers = p
        .matchers
        .iter()
        .map(ApiMatcher::to_matcher)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::BadRequest(format!("failed to convert API silence to internal silence: {e}")))?;
    if starts_at >= ends_at {
        return Err(ApiError::BadRequest(
            "Failed to create silence: start time must be before end time".into(),
        ));
    }
    let now = am.clock().now();
    if ends_at < now {
        return Err(ApiError::BadRequest(
            "Failed to create silence: end time can't be in the past".into(),
        ));
    }
    let sil = Silence {
        id: p.id.unwrap_or_default(),
        matchers,
        starts_at,
        ends_at,
        updated_at: now,
        created_by: p.created_by,
        comment: p.comment,
    };
    match am.silences().set(sil) {
        Ok(id) => Ok(PostSilenceResponse { silence_id: id }),
        Err(SilenceError::NotFound) => Err(ApiError::NotFound(SilenceError::NotFound.to_string())),
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    }
}

/// `clusterStatus`; Aerowatch runs a single node, so `disabled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Node name (absent when clustering is disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `ready`, `settling` or `disabled`.
    pub status: String,
    /// Peers (absent when clustering is disabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<Vec<serde_json::Value>>,
}

/// `versionInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// Version.
    pub version: String,
    /// VCS revision.
    pub revision: String,
    /// VCS branch.
    pub branch: String,
    /// Who built it.
    pub build_user: String,
    /// When it was built.
    pub build_date: String,
    /// Toolchain (Alertmanager reports its Go version; we report rustc's).
    pub go_version: String,
}

/// `alertmanagerConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiConfig {
    /// The config as YAML with secrets masked.
    pub original: String,
}

/// `alertmanagerStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerStatus {
    /// Cluster state.
    pub cluster: ClusterStatus,
    /// Build information.
    pub version_info: VersionInfo,
    /// Current configuration.
    pub config: ApiConfig,
    /// Start time.
    #[serde(with = "datetime")]
    pub uptime: Timestamp,
}

/// `GET /api/v2/status`.
pub fn get_status(am: &Alertmanager, version: VersionInfo) -> AlertmanagerStatus {
    AlertmanagerStatus {
        cluster: ClusterStatus {
            name: None,
            status: "disabled".into(),
            peers: None,
        },
        version_info: version,
        config: ApiConfig {
            original: am.config().to_masked_yaml(),
        },
        uptime: am.started_at(),
    }
}

/// `GET /api/v2/receivers`.
pub fn get_receivers(am: &Alertmanager) -> Vec<ReceiverRef> {
    am.config()
        .receivers
        .iter()
        .map(|r| ReceiverRef { name: r.name.clone() })
        .collect()
}

#[cfg(test)]
mod tests;
