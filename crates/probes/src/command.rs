//! Command probes: a program run directly (no shell, so config text is never
//! interpreted), its output capped, and the child killed when time runs out.
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::config::CommandCheck;
use crate::Attempt;

/// stdout and stderr are each kept up to this size; the rest is read and discarded
/// so a chatty child never blocks on a full pipe.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

pub(crate) async fn probe(check: &CommandCheck, deadline: Instant) -> Attempt {
    let Some((program, args)) = check.argv.split_first() else {
        return Attempt::failed("empty argv".to_string());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .envs(&check.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Backstop: if the scheduler drops this future (reload, shutdown), the child dies with it.
        .kill_on_drop(true);
    if let Some(dir) = &check.dir {
        cmd.current_dir(dir);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Attempt::failed(format!("spawn {program:?}: {e}")),
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let run = async {
        let (out, err, status) = tokio::join!(read_capped(stdout), read_capped(stderr), child.wait());
        (out, err, status)
    };
    let (stdout, stderr, status) = match tokio::time::timeout_at(deadline, run).await {
        Ok(r) => r,
        Err(_) => {
            // Kill and reap explicitly so no zombie or runaway process outlives the probe.
            if let Err(e) = child.kill().await {
                tracing::warn!(program = %program, error = %e, "killing timed-out check command failed");
            }
            return Attempt::failed("command timed out and was killed".to_string());
        }
    };
    let status = match status {
        Ok(s) => s,
        Err(e) => return Attempt::failed(format!("waiting for {program:?}: {e}")),
    };
    match status.code() {
        Some(code) if code == check.expect_exit => {}
        Some(code) => {
            return Attempt::failed(format!(
                "exit code {code}, want {}{}",
                check.expect_exit,
                stderr_hint(&stderr)
            ))
        }
        None => return Attempt::failed(format!("killed by a signal{}", stderr_hint(&stderr))),
    }
    if let Some(re) = &check.stdout_regex {
        let text = String::from_utf8_lossy(&stdout);
        if !re.is_match(&text) {
            return Attempt::failed(format!("stdout does not match regex {:?}", re.as_str()));
        }
    }
    Attempt::ok()
}

fn stderr_hint(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    // Errors end up in API responses and events; a short excerpt is enough to act on.
    let short: String = text.chars().take(200).collect();
    format!(": {short}")
}

async fn read_capped(src: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let Some(mut src) = src else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match src.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = MAX_OUTPUT_BYTES.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}
