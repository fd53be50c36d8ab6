//! Email delivery to a real SMTP server: Python's aiosmtpd, started by the
//! test, parses each message with Python's `email` package and writes what
//! it received (envelope, AUTH login, decoded headers, MIME parts) as JSON.
//!
//! aiosmtpd comes from PyPI (`pip install aiosmtpd`, done by CI). When it is
//! missing the test tries `pip install --user aiosmtpd` once and skips with
//! a message only if that fails too.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use alertmanager::{AlertStatus, Notifier};
use common::*;
use notify::{Deliverer, DelivererOptions, Outcome};
use serde_json::Value;

const SERVER: &str = r#"
import json, logging, os, sys, time, warnings
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
from email import policy
from email.parser import BytesParser
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

outdir, plain_port, auth_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
counter = [0]

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        parts = []
        for part in (msg.walk() if msg.is_multipart() else [msg]):
            if part.is_multipart():
                continue
            parts.append({"content_type": part.get_content_type(), "body": part.get_content()})
        login = getattr(session, "auth_data", None)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "auth_login": login.login.decode() if login is not None else None,
            "helo": session.host_name,
            "content_type": msg.get_content_type(),
            "headers": {k: str(v) for k, v in msg.items()},
            "parts": parts,
        }
        counter[0] += 1
        path = os.path.join(outdir, "%04d.json" % counter[0])
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"alerts" and auth_data.password == b"hunter2"
    if not ok:
        return AuthResult(success=False, handled=False)
    return AuthResult(success=True, auth_data=auth_data)

plain = Controller(Handler(), hostname="127.0.0.1", port=plain_port)
secured = Controller(Handler(), hostname="127.0.0.1", port=auth_port,
                     authenticator=authenticator, auth_required=True, auth_require_tls=False)
plain.start()
secured.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
"#;

struct Smtpd {
    child: Child,
    dir: tempfile::TempDir,
    plain_port: u16,
    auth_port: u16,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd_available() -> bool {
    let has = || {
        Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has() {
        return true;
    }
    eprintln!("aiosmtpd missing; trying `pip install --user aiosmtpd` once");
    let _ = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--user", "aiosmtpd"])
        .status();
    has()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts the SMTP servers, or `None` (after saying why) when aiosmtpd
/// cannot be had.
fn start_smtpd() -> Option<Smtpd> {
    if !aiosmtpd_available() {
        eprintln!("SKIPPED: email tests need Python's aiosmtpd (pip install aiosmtpd)");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("smtpd.py");
    std::fs::write(&script, SERVER).expect("write script");
    let out = dir.path().join("mail");
    std::fs::create_dir(&out).expect("mkdir");
    let (plain_port, auth_port) = (free_port(), free_port());
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(&out)
        .arg(plain_port.to_string())
        .arg(auth_port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    assert_eq!(line.trim(), "READY", "aiosmtpd did not start");
    Some(Smtpd {
        child,
        dir,
        plain_port,
        auth_port,
    })
}

impl Smtpd {
    fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// The received messages, oldest first.
    fn received(&self) -> Vec<Value> {
        read_mail(&self.mail_dir())
    }
}

fn read_mail(dir: &Path) -> Vec<Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.retain(|p| p.extension().is_some_and(|e| e == "json"));
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json"))
        .collect()
}

fn deliverer(dir: &Path) -> Deliverer {
    Deliverer::new(DelivererOptions {
        external_url: "http://aerowatch.test".into(),
        config_dir: Some(dir.to_path_buf()),
        ..DelivererOptions::default()
    })
}

/// One test, so the Python server starts once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_over_smtp() {
    let Some(smtpd) = start_smtpd() else { return };
    let secrets = tempfile::tempdir().expect("tempdir");
    std::fs::write(secrets.path().join("smtp-pass"), "hunter2\n").expect("write");
    let yaml = format!(
        r#"global:
  smtp_from: 'Aerowatch <aerowatch@example.com>'
  smtp_hello: aerowatch.test
route:
  receiver: mail
receivers:
- name: mail
  email_configs:
  - to: 'oncall@example.com, dba@example.com'
    smarthost: '127.0.0.1:{plain}'
    require_tls: false
    send_resolved: true
    text: '{{{{ range .Alerts }}}}{{{{ .Annotations.summary }}}}: {{{{ .Annotations.description }}}} (value {{{{ .Annotations.value }}}}){{{{ end }}}}'
    headers:
      X-Aerowatch-Group: '{{{{ .GroupLabels.alertname }}}}'
  - to: 'lead@example.com'
    smarthost: '127.0.0.1:{auth}'
    require_tls: false
    auth_username: alerts
    auth_password_file: smtp-pass
    headers:
      Subject: 'Custom: {{{{ .CommonLabels.alertname }}}}'
  - to: 'lead@example.com'
    smarthost: '127.0.0.1:{auth}'
    require_tls: false
    auth_username: alerts
    auth_password: wrong
  - to: 'nobody@example.com'
    smarthost: '127.0.0.1:{plain}'
"#,
        plain = smtpd.plain_port,
        auth = smtpd.auth_port
    );
    let list = integrations(&yaml, "mail");
    let d = deliverer(secrets.path());
    let group_key = "{}:{alertname=\"ErrorRateHigh\"}";

    // 1. Plain SMTP, text and HTML: multipart/alternative.
    let n = notification(list[0].clone(), group_key, vec![error_rate_alert(AlertStatus::Firing)]);
    d.notify(&n).await.expect("plain delivery");
    let mail = smtpd.received();
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert_eq!(m["mail_from"], "aerowatch@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "dba@example.com"])
    );
    assert_eq!(m["helo"], "aerowatch.test");
    assert_eq!(m["auth_login"], Value::Null);
    let h = &m["headers"];
    assert_eq!(h["Subject"], "[FIRING:1] ErrorRateHigh (api-1 error-rate-high high)");
    assert_eq!(h["From"], "Aerowatch <aerowatch@example.com>");
    assert_eq!(h["To"], "oncall@example.com, dba@example.com");
    assert_eq!(h["X-Aerowatch-Group"], "ErrorRateHigh");
    assert!(
        h["Date"].as_str().is_some_and(|d| d.contains("2") && d.contains(':')),
        "{h}"
    );
    let message_id = h["Message-ID"].as_str().unwrap_or_default();
    assert!(
        message_id.starts_with('<') && message_id.ends_with('>') && message_id.contains('@'),
        "{h}"
    );
    assert_eq!(m["content_type"], "multipart/alternative");
    let parts = m["parts"].as_array().cloned().unwrap_or_default();
    assert_eq!(parts.len(), 2, "{m}");
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(
        parts[0]["body"].as_str().map(str::trim_end),
        Some("错误率过高: API错误率超过5% (value 7.25)")
    );
    assert_eq!(parts[1]["content_type"], "text/html");
    let html = parts[1]["body"].as_str().unwrap_or_default();
    assert!(html.contains("<strong>错误率过高</strong>"), "{html}");
    assert!(html.contains("1 firing"), "{html}");
    assert!(html.contains("http://aerowatch.test/#/alerts?receiver=mail"), "{html}");

    // 2. AUTH (PLAIN or LOGIN) with a password file; HTML only.
    let n = notification(list[1].clone(), group_key, vec![error_rate_alert(AlertStatus::Firing)]);
    d.notify(&n).await.expect("authenticated delivery");
    let mail = smtpd.received();
    assert_eq!(mail.len(), 2);
    let m = &mail[1];
    assert_eq!(m["auth_login"], "alerts");
    assert_eq!(m["headers"]["Subject"], "Custom: ErrorRateHigh");
    assert_eq!(m["content_type"], "text/html");

    // 3. Wrong password: the server's 535 is permanent.
    let n = notification(list[2].clone(), group_key, vec![error_rate_alert(AlertStatus::Firing)]);
    let e = d.notify(&n).await.expect_err("bad password");
    assert!(!e.retryable, "{e:?}");
    assert!(e.message.contains("535"), "{e:?}");

    // 4. require_tls defaults to true; the server offers no STARTTLS.
    let n = notification(list[3].clone(), group_key, vec![error_rate_alert(AlertStatus::Firing)]);
    let e = d.notify(&n).await.expect_err("no STARTTLS");
    assert!(e.message.contains("does not advertise the STARTTLS extension"), "{e:?}");
    assert_eq!(smtpd.received().len(), 2, "nothing sent in clear text");

    // 5. Resolved notification (send_resolved: true).
    let n = notification(
        list[0].clone(),
        group_key,
        vec![error_rate_alert(AlertStatus::Resolved)],
    );
    d.notify(&n).await.expect("resolved delivery");
    let mail = smtpd.received();
    assert_eq!(
        mail[2]["headers"]["Subject"],
        "[RESOLVED] ErrorRateHigh (api-1 error-rate-high high)"
    );

    let outcomes: Vec<Outcome> = d.history().iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Ok,
            Outcome::Retrying,
            Outcome::Failed,
            Outcome::Ok,
            Outcome::Ok
        ]
    );

    // 6. An unreachable smarthost is retryable.
    let closed = free_port();
    let yaml = format!(
        "global:\n  smtp_from: a@example.com\nroute:\n  receiver: m\nreceivers:\n- name: m\n  email_configs:\n  - to: b@example.com\n    smarthost: '127.0.0.1:{closed}'\n    require_tls: false\n"
    );
    let integ = integrations(&yaml, "m").remove(0);
    let mut n = notification(integ, group_key, vec![error_rate_alert(AlertStatus::Firing)]);
    n.timeout = Duration::from_secs(5);
    let e = d.notify(&n).await.expect_err("connection refused");
    assert!(e.retryable, "{e:?}");
}
