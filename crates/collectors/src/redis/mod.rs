//! The Redis collector: redis_exporter's metrics from `INFO ALL`, over one
//! kept connection (`AUTH` and `SELECT` when the URL asks for them), opened
//! again after any failure. `redis_up` is 0 when the server cannot be reached
//! or refuses us; a collection never takes longer than its timeout.
mod info;
mod resp;

use std::time::Duration;

use tokio::time::Instant;

use crate::config::RedisTarget;
use crate::sample::{Outcome, Samples};
use resp::{Connection, Reply, RespError};

/// The `job` label of Redis samples.
pub(crate) const JOB: &str = "redis";

/// Collects one Redis server's metrics.
pub(crate) struct RedisCollector {
    target: RedisTarget,
    timeout: Duration,
    conn: Option<Connection>,
}

/// Why a collection failed.
#[derive(Debug, thiserror::Error)]
enum RedisError {
    #[error("{command}: {source}")]
    Resp {
        command: &'static str,
        #[source]
        source: RespError,
    },
    #[error("{command}: {message}")]
    Refused { command: &'static str, message: String },
    #[error("{command}: unexpected reply {reply}")]
    Unexpected { command: &'static str, reply: String },
    #[error("timed out")]
    Timeout,
}

impl RedisCollector {
    pub fn new(target: RedisTarget, timeout: Duration) -> Self {
        RedisCollector {
            target,
            timeout,
            conn: None,
        }
    }

    /// Runs one collection. Never fails: an unreachable server yields `redis_up 0`.
    pub async fn collect(&mut self) -> Outcome {
        let started = std::time::Instant::now();
        let deadline = Instant::now() + self.timeout;
        let mut out = Samples::new(JOB, self.target.instance.as_str());
        let result = match tokio::time::timeout_at(deadline, self.info()).await {
            Ok(r) => r,
            Err(_) => Err(RedisError::Timeout),
        };
        let part = match result {
            Ok(text) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                info::emit(&text, now, &mut out);
                out.push("redis_up", &[], 1.0);
                Ok(())
            }
            Err(e) => {
                // Whatever broke, the next collection starts from a fresh connection.
                self.conn = None;
                out.push("redis_up", &[], 0.0);
                Err(format!("{}: {e}", self.target.address))
            }
        };
        out.push(
            "redis_exporter_last_scrape_duration_seconds",
            &[],
            started.elapsed().as_secs_f64(),
        );
        Outcome {
            samples: out.into_vec(),
            parts: vec![("connection".to_string(), part)],
        }
    }

    /// The `INFO ALL` text, connecting first if needed.
    async fn info(&mut self) -> Result<String, RedisError> {
        let conn = match self.conn.take() {
            Some(c) => c,
            None => self.connect().await?,
        };
        let conn = self.conn.insert(conn);
        let reply = match call(conn, "INFO", &[b"INFO", b"ALL"]).await {
            // Servers before 2.6 and some proxies do not know INFO ALL.
            Err(RedisError::Refused { .. }) => call(conn, "INFO", &[b"INFO"]).await?,
            other => other?,
        };
        match reply {
            Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
            other => Err(RedisError::Unexpected {
                command: "INFO",
                reply: describe(&other),
            }),
        }
    }

    async fn connect(&self) -> Result<Connection, RedisError> {
        let mut conn = Connection::connect(&self.target.address)
            .await
            .map_err(|source| RedisError::Resp {
                command: "connect",
                source,
            })?;
        if !self.target.auth.is_empty() {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            args.extend(self.target.auth.iter().map(|a| a.as_bytes()));
            expect_ok(call(&mut conn, "AUTH", &args).await?, "AUTH")?;
        }
        if let Some(db) = self.target.db {
            let db = db.to_string();
            expect_ok(call(&mut conn, "SELECT", &[b"SELECT", db.as_bytes()]).await?, "SELECT")?;
        }
        Ok(conn)
    }
}

/// One command; an error reply becomes [`RedisError::Refused`] with Redis's
/// own message (`NOAUTH ...`, `WRONGPASS ...`), which never holds the password.
async fn call(conn: &mut Connection, command: &'static str, args: &[&[u8]]) -> Result<Reply, RedisError> {
    match conn.call(args).await {
        Ok(Reply::Error(message)) => Err(RedisError::Refused { command, message }),
        Ok(reply) => Ok(reply),
        Err(source) => Err(RedisError::Resp { command, source }),
    }
}

fn expect_ok(reply: Reply, command: &'static str) -> Result<(), RedisError> {
    match reply {
        Reply::Status(s) if s == "OK" => Ok(()),
        other => Err(RedisError::Unexpected {
            command,
            reply: describe(&other),
        }),
    }
}

/// A short description of a reply for error messages.
fn describe(r: &Reply) -> String {
    match r {
        Reply::Status(s) => format!("+{s}"),
        Reply::Error(s) => format!("-{s}"),
        Reply::Integer(i) => format!(":{i}"),
        Reply::Bulk(None) => "null bulk string".to_string(),
        Reply::Bulk(Some(b)) => format!("bulk string of {} bytes", b.len()),
        Reply::Array(None) => "null array".to_string(),
        Reply::Array(Some(a)) => format!("array of {} items", a.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_redis_url;

    #[tokio::test]
    async fn a_closed_port_is_redis_up_0() {
        let port = testkit::free_port();
        let target = parse_redis_url(&format!("redis://:secret@127.0.0.1:{port}")).unwrap();
        let mut c = RedisCollector::new(target, Duration::from_secs(2));
        let o = c.collect().await;
        let up = o.samples.iter().find(|(l, _)| l.metric_name() == Some("redis_up"));
        assert_eq!(up.map(|s| s.1), Some(0.0));
        let err = o.parts[0].1.clone().unwrap_err();
        assert!(err.contains("connect") && !err.contains("secret"), "{err}");
        assert!(o
            .samples
            .iter()
            .all(|(l, _)| l.get("job") == Some("redis")
                && l.get("instance") == Some(format!("127.0.0.1:{port}").as_str())));
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let target = parse_redis_url(&format!("redis://127.0.0.1:{port}")).unwrap();
        let mut c = RedisCollector::new(target, Duration::from_millis(300));
        let started = std::time::Instant::now();
        let o = c.collect().await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(o.parts[0].1.as_ref().unwrap_err().contains("timed out"));
        hold.abort();
    }
}
