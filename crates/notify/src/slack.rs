//! Slack (`slack_configs`).
//!
//! The body is Alertmanager 0.25's `notify/slack` request, every field
//! rendered from its template: `channel`, `username`, `icon_emoji`,
//! `icon_url`, `link_names` and one attachment (`title` cut to 1024
//! characters with "…", `title_link`, `pretext`, `text`, `fallback`,
//! `callback_id`, `fields`, `actions`, `image_url`, `thumb_url`, `footer`,
//! `color`, `mrkdwn_in`). Aerowatch adds, ahead of the attachment:
//!
//! - `text`: the rendered fallback, which Slack shows in notifications when
//!   a message has `blocks`;
//! - `blocks`: the OpenAero design's message in Block Kit — a `header` with
//!   the title (≤ 150 characters), then per alert a `section` whose text is
//!   `*summary*` (or the alert name) and the `description` annotation, and
//!   whose fields are the `value` annotation (current value), `threshold`
//!   annotation, `severity` label and the time (start, or end once
//!   resolved). Slack allows 50 blocks per message: past 49 alerts the last
//!   block says how many more there are. Section text is cut at 3,000 and
//!   field text at 2,000 characters, with "…".
//!
//! # Transports
//!
//! - Incoming webhook (`api_url`, `api_url_file` or the global
//!   `slack_api_url`): success is 2xx with body `ok` (or JSON `{"ok":true}`).
//! - Aerowatch's bot token (`token` / `token_file`): POST to
//!   `chat.postMessage` (or `api_url` when set) with `Authorization: Bearer`.
//!   Slack answers 200 with `{"ok":false,"error":"..."}` on failure:
//!   `ratelimited` and Slack-side errors (`internal_error`, `fatal_error`,
//!   `service_unavailable`, `request_timeout`) are retryable, everything
//!   else (`invalid_auth`, `channel_not_found`, `not_in_channel`, ...) is
//!   permanent.
//!
//! HTTP 5xx and 429 are retryable, other non-2xx statuses permanent.

use alertmanager::config::{SlackAction, SlackConfig, SlackConfirmationField, SlackField};
use alertmanager::dispatch::NotificationAlert;
use alertmanager::{AlertStatus, NotifyError};
use serde::Serialize;
use serde_json::{json, Value};

use crate::http::{check_status, truncate_body, Request};
use crate::render::{truncate, RenderError, Renderer};
use crate::{permanent, retryable, Ctx};

/// Attachment `title` limit (Slack's legacy attachment field limit).
pub const MAX_TITLE_RUNES: usize = 1024;
/// Blocks per message.
pub const MAX_BLOCKS: usize = 50;
/// `header` block text.
pub const MAX_HEADER_CHARS: usize = 150;
/// `section` block text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Each `section` field's text.
pub const MAX_FIELD_CHARS: usize = 2000;

/// The request body (Alertmanager's `request`, plus `text` and `blocks`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    /// Channel or user.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    /// Bot user name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Icon emoji.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_emoji: String,
    /// Icon URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    /// Link channel and user names.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub link_names: bool,
    /// Notification text for clients that show blocks.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Block Kit layout.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Value>,
    /// The Alertmanager attachment (always exactly one).
    pub attachments: Vec<Attachment>,
}

/// Alertmanager's `attachment`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attachment {
    /// Title.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Title link.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    /// Pretext.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    /// Body.
    pub text: String,
    /// Plain-text summary.
    pub fallback: String,
    /// Callback id.
    pub callback_id: String,
    /// Fields.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
    /// Buttons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Image URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image_url: String,
    /// Thumbnail URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub thumb_url: String,
    /// Footer.
    pub footer: String,
    /// Colour.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    /// Fields rendered as markdown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mrkdwn_in: Vec<String>,
}

/// An attachment field.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Field {
    /// Title.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Side by side with the next field.
    pub short: bool,
}

/// An attachment action.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Action {
    /// Action type.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Button text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Link.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Style.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub style: String,
    /// Name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Value.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// Confirmation dialog.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm: Option<Confirm>,
}

/// A confirmation dialog.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Confirm {
    /// Text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Title.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// OK button.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ok_text: String,
    /// Dismiss button.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dismiss_text: String,
}

/// Renders the message for `alerts` (the notification's alerts after the
/// `send_resolved` filter).
pub fn build_message(cfg: &SlackConfig, r: &Renderer, alerts: &[NotificationAlert]) -> Result<Message, RenderError> {
    let (title, truncated) = truncate(&r.text(&cfg.title)?, MAX_TITLE_RUNES);
    if truncated {
        tracing::warn!(max_runes = MAX_TITLE_RUNES, "truncated Slack title");
    }
    let mrkdwn_in = if cfg.mrkdwn_in.is_empty() {
        vec!["fallback".into(), "pretext".into(), "text".into()]
    } else {
        cfg.mrkdwn_in.clone()
    };
    let fields = cfg
        .fields
        .iter()
        .map(|f: &SlackField| {
            Ok(Field {
                title: r.text(&f.title)?,
                value: r.text(&f.value)?,
                short: f.short.unwrap_or(cfg.short_fields),
            })
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    let actions = cfg
        .actions
        .iter()
        .map(|a: &SlackAction| {
            Ok(Action {
                kind: r.text(&a.kind)?,
                text: r.text(&a.text)?,
                url: r.text(&a.url)?,
                style: r.text(&a.style)?,
                name: r.text(&a.name)?,
                value: r.text(&a.value)?,
                confirm: a
                    .confirm
                    .as_ref()
                    .map(|c: &SlackConfirmationField| {
                        Ok::<_, RenderError>(Confirm {
                            text: r.text(&c.text)?,
                            title: r.text(&c.title)?,
                            ok_text: r.text(&c.ok_text)?,
                            dismiss_text: r.text(&c.dismiss_text)?,
                        })
                    })
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, RenderError>>()?;
    let fallback = r.text(&cfg.fallback)?;
    let attachment = Attachment {
        title_link: r.text(&cfg.title_link)?,
        pretext: r.text(&cfg.pretext)?,
        text: r.text(&cfg.text)?,
        fallback: fallback.clone(),
        callback_id: r.text(&cfg.callback_id)?,
        fields,
        actions,
        image_url: r.text(&cfg.image_url)?,
        thumb_url: r.text(&cfg.thumb_url)?,
        footer: r.text(&cfg.footer)?,
        color: r.text(&cfg.color)?,
        mrkdwn_in,
        title: title.clone(),
    };
    Ok(Message {
        channel: r.text(&cfg.channel)?,
        username: r.text(&cfg.username)?,
        icon_emoji: r.text(&cfg.icon_emoji)?,
        icon_url: r.text(&cfg.icon_url)?,
        link_names: cfg.link_names,
        text: truncate(&fallback, MAX_SECTION_CHARS).0,
        blocks: blocks(&title, alerts),
        attachments: vec![attachment],
    })
}

/// The OpenAero design's Block Kit message.
pub fn blocks(title: &str, alerts: &[NotificationAlert]) -> Vec<Value> {
    let mut out = Vec::with_capacity(alerts.len().min(MAX_BLOCKS) + 1);
    let header = if title.trim().is_empty() { "Alerts" } else { title };
    out.push(json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(header, MAX_HEADER_CHARS).0, "emoji": true},
    }));
    let room = MAX_BLOCKS - 1;
    let shown = if alerts.len() <= room { alerts.len() } else { room - 1 };
    for a in &alerts[..shown] {
        out.push(alert_section(a));
    }
    let hidden = alerts.len() - shown;
    if hidden > 0 {
        let noun = if hidden == 1 { "alert" } else { "alerts" };
        out.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!("…and {hidden} more {noun}")}],
        }));
    }
    out
}

fn alert_section(a: &NotificationAlert) -> Value {
    let ann = &a.alert.annotations;
    let name = ann
        .get("summary")
        .filter(|s| !s.is_empty())
        .map(String::as_str)
        .or_else(|| a.alert.labels.get("alertname"))
        .unwrap_or("alert");
    let (mark, when_label, when) = match a.status {
        AlertStatus::Firing => (":red_circle:", "Time", Some(a.alert.starts_at)),
        AlertStatus::Resolved => (":large_green_circle:", "Resolved", a.alert.ends_at),
    };
    let mut text = format!("{mark} *{}*", escape(name));
    if let Some(d) = ann.get("description").filter(|s| !s.is_empty()) {
        text.push('\n');
        text.push_str(&escape(d));
    }
    let mut fields = Vec::new();
    let mut field = |label: &str, value: &str| {
        let t = format!("*{label}:*\n{}", escape(value));
        fields.push(json!({"type": "mrkdwn", "text": truncate(&t, MAX_FIELD_CHARS).0}));
    };
    if let Some(v) = ann.get("value").filter(|s| !s.is_empty()) {
        field("Current value", v);
    }
    if let Some(v) = ann.get("threshold").filter(|s| !s.is_empty()) {
        field("Threshold", v);
    }
    if let Some(v) = a.alert.labels.get("severity").filter(|s| !s.is_empty()) {
        field("Severity", v);
    }
    if let Some(t) = when {
        field(when_label, &t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(&text, MAX_SECTION_CHARS).0},
        "fields": fields,
    })
}

/// Slack's required escaping of `&`, `<` and `>` in message text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub(crate) async fn send(ctx: &Ctx<'_>, cfg: &SlackConfig) -> Result<(), NotifyError> {
    let data = ctx.data(&ctx.alerts);
    let r = ctx.renderer(&data);
    let msg = build_message(cfg, &r, &ctx.alerts).map_err(|e| permanent(format!("template: {e}")))?;

    let token = match (&cfg.token, &cfg.token_file) {
        (Some(t), _) => Some(t.expose().trim().to_string()),
        (None, Some(f)) => Some(ctx.read_secret_file("Slack token", f).await?),
        (None, None) => None,
    };
    let url = match (&cfg.api_url, &cfg.api_url_file) {
        (Some(u), _) => u.expose().trim().to_string(),
        (None, Some(f)) => ctx.read_secret_file("Slack api_url", f).await?,
        (None, None) if token.is_some() => ctx.inner.slack_post_message_url.clone(),
        (None, None) => return Err(permanent("no Slack api_url, api_url_file or token configured")),
    };
    if token.as_deref() == Some("") {
        return Err(permanent("Slack token is empty"));
    }
    let body = serde_json::to_vec(&msg).map_err(|e| permanent(format!("encoding Slack message: {e}")))?;
    let reply = ctx
        .inner
        .http
        .post_json(
            ctx,
            Request {
                url: &url,
                body,
                http_config: cfg.http_config.as_ref(),
                timeout: ctx.n.timeout,
                bearer: token.as_deref(),
            },
        )
        .await
        .map_err(|e| in_channel(&msg.channel, e))?;
    check_status(&reply, &[429]).map_err(|e| in_channel(&msg.channel, e))?;
    if reply.content_type.starts_with("application/json") {
        check_json(&reply.body)
    } else if token.is_some() {
        // The Web API always answers JSON; anything else is a proxy or a
        // wrong URL.
        Err(permanent(format!(
            "unexpected non-JSON response from Slack: {}",
            truncate_body(&reply.body)
        )))
    } else if reply.body.trim() == "ok" {
        Ok(())
    } else {
        Err(permanent(format!(
            "received an error response from Slack: {}",
            truncate_body(&reply.body)
        )))
    }
    .map_err(|e| in_channel(&msg.channel, e))
}

fn in_channel(channel: &str, mut e: NotifyError) -> NotifyError {
    if !channel.is_empty() {
        e.message = format!("channel {channel:?}: {}", e.message);
    }
    e
}

/// Slack Web API errors that go away by themselves.
const RETRYABLE_ERRORS: [&str; 6] = [
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

fn check_json(body: &str) -> Result<(), NotifyError> {
    #[derive(serde::Deserialize)]
    struct Response {
        #[serde(default)]
        ok: bool,
        #[serde(default)]
        error: String,
    }
    let resp: Response = serde_json::from_str(body).map_err(|e| {
        retryable(format!(
            "could not unmarshal JSON response {:?}: {e}",
            truncate_body(body)
        ))
    })?;
    if resp.ok {
        return Ok(());
    }
    let msg = format!("error response from Slack: {}", resp.error);
    if RETRYABLE_ERRORS.contains(&resp.error.as_str()) {
        Err(retryable(msg))
    } else {
        Err(permanent(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alertmanager::{Alert, Fingerprint};
    use chrono::TimeZone;
    use model::Labels;

    fn alert(i: usize, status: AlertStatus) -> NotificationAlert {
        let start = chrono::Utc
            .with_ymd_and_hms(2024, 5, 1, 8, 0, 0)
            .single()
            .unwrap_or_default();
        let labels = Labels::from_pairs([("alertname", format!("A{i}")), ("severity", "high".to_string())]);
        let mut a = Alert::new(labels.clone(), start);
        a.annotations.insert("summary".into(), format!("High <latency> & {i}"));
        a.annotations.insert("value".into(), "2500".into());
        a.annotations.insert("threshold".into(), "2000".into());
        if status == AlertStatus::Resolved {
            a.ends_at = Some(start + chrono::Duration::minutes(5));
        }
        NotificationAlert {
            alert: a,
            status,
            fingerprint: Fingerprint::of(&labels),
        }
    }

    #[test]
    fn blocks_follow_the_design_and_slack_limits() {
        let alerts = vec![alert(1, AlertStatus::Firing), alert(2, AlertStatus::Resolved)];
        let b = blocks("[FIRING:1] latency", &alerts);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0]["type"], "header");
        assert_eq!(b[0]["text"]["text"], "[FIRING:1] latency");
        assert_eq!(b[1]["text"]["text"], ":red_circle: *High &lt;latency&gt; &amp; 1*");
        let fields: Vec<&str> = b[1]["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(|x| x["text"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            fields,
            [
                "*Current value:*\n2500",
                "*Threshold:*\n2000",
                "*Severity:*\nhigh",
                "*Time:*\n2024-05-01T08:00:00Z"
            ]
        );
        assert_eq!(b[2]["fields"][3]["text"], "*Resolved:*\n2024-05-01T08:05:00Z");

        let many: Vec<_> = (0..120).map(|i| alert(i, AlertStatus::Firing)).collect();
        let b = blocks(&"t".repeat(400), &many);
        assert_eq!(b.len(), MAX_BLOCKS);
        assert_eq!(b[49]["elements"][0]["text"], "…and 72 more alerts");
        let header = b[0]["text"]["text"].as_str().unwrap_or_default();
        assert_eq!(header.chars().count(), MAX_HEADER_CHARS);
        assert!(header.ends_with('…'));

        let exactly: Vec<_> = (0..49).map(|i| alert(i, AlertStatus::Firing)).collect();
        let b = blocks("t", &exactly);
        assert_eq!(b.len(), 50);
        assert_eq!(b[49]["type"], "section");
    }

    #[test]
    fn long_descriptions_are_cut() {
        let mut a = alert(1, AlertStatus::Firing);
        a.alert.annotations.insert("description".into(), "d".repeat(5000));
        a.alert.annotations.insert("value".into(), "v".repeat(5000));
        let b = blocks("t", &[a]);
        let text = b[1]["text"]["text"].as_str().unwrap_or_default();
        assert_eq!(text.chars().count(), MAX_SECTION_CHARS);
        let field = b[1]["fields"][0]["text"].as_str().unwrap_or_default();
        assert_eq!(field.chars().count(), MAX_FIELD_CHARS);
    }

    #[test]
    fn json_errors_are_classified() {
        assert!(check_json(r#"{"ok":true}"#).is_ok());
        let e = check_json(r#"{"ok":false,"error":"ratelimited"}"#).unwrap_err();
        assert!(e.retryable);
        let e = check_json(r#"{"ok":false,"error":"invalid_auth"}"#).unwrap_err();
        assert!(!e.retryable);
        assert_eq!(e.message, "error response from Slack: invalid_auth");
        assert!(
            !check_json(r#"{"ok":false,"error":"channel_not_found"}"#)
                .unwrap_err()
                .retryable
        );
    }
}
