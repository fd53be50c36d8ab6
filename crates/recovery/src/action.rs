//! Running one recovery action: a program (no shell, so config text is never
//! interpreted; killed at its timeout) or an HTTP request.
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::config::Action;

/// stdout and stderr are each kept up to this size (the newest bytes); the rest
/// is read and discarded so a chatty child never blocks on a full pipe.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The result of one action run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionOutput {
    /// Why it failed; `None` is success.
    pub error: Option<String>,
    /// The last bytes of stdout (command) or the response body (http), lossily decoded.
    pub stdout: String,
}

impl ActionOutput {
    fn failed(error: String) -> Self {
        ActionOutput {
            error: Some(error),
            stdout: String::new(),
        }
    }
}

/// Runs `action` once within `timeout`.
pub async fn run(action: &Action, timeout: Duration, client: &reqwest::Client) -> ActionOutput {
    match action {
        Action::Command { argv, env, dir } => {
            let Some((program, args)) = argv.split_first() else {
                return ActionOutput::failed("empty argv".to_string());
            };
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args)
                .envs(env)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                // Backstop: an aborted recovery task must not leave its child running.
                .kill_on_drop(true);
            if let Some(dir) = dir {
                cmd.current_dir(dir);
            }
            run_command(cmd, program, timeout).await
        }
        Action::Http {
            url,
            method,
            headers,
            body,
        } => run_http(client, url, method, headers, body.as_deref(), timeout).await,
    }
}

async fn run_command(mut cmd: tokio::process::Command, program: &str, timeout: Duration) -> ActionOutput {
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return ActionOutput::failed(format!("spawn {program:?}: {e}")),
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let run = async { tokio::join!(read_tail(stdout), read_tail(stderr), child.wait()) };
    let (stdout, stderr, status) = match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => {
            // Kill and reap explicitly so no zombie or runaway process outlives the attempt.
            if let Err(e) = child.kill().await {
                tracing::warn!(program = %program, error = %e, "killing timed-out recovery command failed");
            }
            return ActionOutput::failed(format!(
                "command timed out after {}ms and was killed",
                timeout.as_millis()
            ));
        }
    };
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let error = match status {
        Ok(s) if s.success() => None,
        Ok(s) => match s.code() {
            Some(code) => Some(format!("exit code {code}{}", hint(&stderr))),
            None => Some(format!("killed by a signal{}", hint(&stderr))),
        },
        Err(e) => Some(format!("waiting for {program:?}: {e}")),
    };
    ActionOutput { error, stdout }
}

async fn run_http(
    client: &reqwest::Client,
    url: &reqwest::Url,
    method: &reqwest::Method,
    headers: &std::collections::BTreeMap<String, String>,
    body: Option<&str>,
    timeout: Duration,
) -> ActionOutput {
    let mut req = client.request(method.clone(), url.clone()).timeout(timeout);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let fut = async {
        let mut resp = req.send().await.map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let mut kept = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => push_tail(&mut kept, &chunk),
                Ok(None) => break,
                Err(e) => return Err(format!("reading response body: {e}")),
            }
        }
        let excess = kept.len().saturating_sub(MAX_OUTPUT_BYTES);
        kept.drain(..excess);
        Ok((status, kept))
    };
    // reqwest's own timeout covers the body too; the outer one is a backstop.
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => ActionOutput::failed(format!("request timed out after {}ms", timeout.as_millis())),
        Ok(Err(e)) => ActionOutput::failed(e),
        Ok(Ok((status, body))) => ActionOutput {
            error: (!status.is_success()).then(|| format!("status {}", status.as_u16())),
            stdout: String::from_utf8_lossy(&body).into_owned(),
        },
    }
}

fn hint(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    // The error lands in the audit log and escalations; the end of stderr is where the reason usually is.
    let chars: Vec<char> = text.chars().collect();
    let short: String = chars[chars.len().saturating_sub(200)..].iter().collect();
    format!(": {short}")
}

/// Appends while keeping only the newest [`MAX_OUTPUT_BYTES`]; trims in batches
/// so a long stream is not quadratic.
fn push_tail(kept: &mut Vec<u8>, data: &[u8]) {
    kept.extend_from_slice(data);
    if kept.len() > 2 * MAX_OUTPUT_BYTES {
        let excess = kept.len() - MAX_OUTPUT_BYTES;
        kept.drain(..excess);
    }
}

async fn read_tail(src: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut src) = src else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match src.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => push_tail(&mut kept, &buf[..n]),
        }
    }
    let excess = kept.len().saturating_sub(MAX_OUTPUT_BYTES);
    kept.drain(..excess);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_newest_bytes() {
        let mut kept = Vec::new();
        for i in 0..300u32 {
            push_tail(&mut kept, &[(i % 251) as u8; 1024]);
        }
        assert!(kept.len() <= 2 * MAX_OUTPUT_BYTES);
        assert_eq!(kept.last(), Some(&((299 % 251) as u8)));
    }
}
