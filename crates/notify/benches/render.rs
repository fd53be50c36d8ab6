//! Rendering cost per notification: the Slack, PagerDuty and webhook bodies
//! for groups of 1, 10 and 100 alerts (templates, Block Kit, JSON encoding;
//! no network). Run with `cargo bench -p notify`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertmanager::config::IntegrationConfig;
use alertmanager::dispatch::{build_integrations, Notification, NotificationAlert};
use alertmanager::{Alert, AlertStatus, Config, Fingerprint};
use model::Labels;

const CONFIG: &str = r#"
route:
  receiver: oncall
receivers:
- name: oncall
  slack_configs:
  - api_url: 'http://127.0.0.1:9/slack'
    channel: '#alerts'
  pagerduty_configs:
  - routing_key: 'R0UT1NGKEY0000000000000000000000'
  webhook_configs:
  - url: 'http://127.0.0.1:9/hook'
"#;

fn alerts(n: usize) -> Vec<NotificationAlert> {
    let start = chrono::Utc::now() - chrono::Duration::minutes(5);
    (0..n)
        .map(|i| {
            let labels = Labels::from_pairs([
                ("alertname", "ErrorRateHigh".to_string()),
                ("instance", format!("api-{i}")),
                ("rule_id", "error-rate-high".to_string()),
                ("severity", "high".to_string()),
            ]);
            let mut a = Alert::new(labels.clone(), start);
            a.annotations.insert("summary".into(), "错误率过高".into());
            a.annotations.insert("description".into(), "API错误率超过5%".into());
            a.annotations.insert("threshold".into(), "5".into());
            a.annotations.insert("value".into(), format!("{}.5", 5 + i));
            NotificationAlert {
                fingerprint: Fingerprint::of(&labels),
                alert: a,
                status: AlertStatus::Firing,
            }
        })
        .collect()
}

fn bench(name: &str, iters: u32, mut f: impl FnMut() -> usize) {
    let mut bytes = 0;
    for _ in 0..iters.min(10) {
        bytes = f();
    }
    let start = Instant::now();
    for _ in 0..iters {
        bytes = std::hint::black_box(f());
    }
    let per = start.elapsed() / iters;
    println!("{name:<34} {:>10.1} µs/notification  ({bytes} bytes)", per_us(per));
}

fn per_us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let cfg = Config::parse(CONFIG, "bench.yml").expect("config");
    let integrations = build_integrations(&cfg).remove("oncall").unwrap_or_default();
    let templates = Arc::new(notify::default_templates());
    for size in [1usize, 10, 100] {
        let alerts = alerts(size);
        for integ in &integrations {
            let n = Notification {
                receiver: "oncall".into(),
                integration: integ.clone(),
                group_key: "{}:{alertname=\"ErrorRateHigh\"}".into(),
                group_labels: Labels::from_pairs([("alertname", "ErrorRateHigh")]),
                status: AlertStatus::Firing,
                alerts: alerts.clone(),
                common_labels: Labels::empty(),
                common_annotations: Default::default(),
                timestamp: chrono::Utc::now(),
                timeout: Duration::from_secs(10),
            };
            let iters = if size == 100 { 200 } else { 2000 };
            let name = format!("{} x{size}", integ.config.name());
            match &integ.config {
                IntegrationConfig::Slack(c) => bench(&name, iters, || {
                    let data = notify::render::template_data(&n, &n.alerts, "http://aerowatch");
                    let r = notify::render::Renderer::new(templates.clone(), &data);
                    let msg = notify::slack::build_message(c, &r, &n.alerts).expect("render");
                    serde_json::to_vec(&msg).map(|v| v.len()).unwrap_or(0)
                }),
                IntegrationConfig::Pagerduty(c) => bench(&name, iters, || {
                    let data = notify::render::template_data(&n, &n.alerts, "http://aerowatch");
                    let r = notify::render::Renderer::new(templates.clone(), &data);
                    let key = c
                        .routing_key
                        .as_ref()
                        .map(|k| k.expose().to_string())
                        .unwrap_or_default();
                    let mut ev = notify::pagerduty::build_v2(c, &r, &n.group_key, &key, &n.alerts).expect("render");
                    notify::pagerduty::encode_v2(&mut ev).map(|v| v.len()).unwrap_or(0)
                }),
                IntegrationConfig::Webhook(_) => bench(&name, iters, || {
                    let data = notify::render::template_data(&n, &n.alerts, "http://aerowatch");
                    let msg = notify::webhook::build_message(&data, &n.alerts, &n.group_key, 0);
                    serde_json::to_vec(&msg).map(|v| v.len()).unwrap_or(0)
                }),
                IntegrationConfig::Email(_) => {}
            }
        }
    }
}
