//! The PostgreSQL collector: postgres_exporter's default metrics (`pg_up`,
//! `pg_static`, `pg_stat_database_*`, `pg_stat_activity_*`, `pg_locks_count`,
//! `pg_settings_*`, `pg_database_size_bytes`), its long-running-transactions
//! collector, and its stat_statements collector when that extension is
//! installed in the connected database.
//!
//! One connection is kept between collections and opened again after any
//! failure. A collection never waits longer than its timeout: connect and
//! every query share one deadline, and the server cancels statements that run
//! past it (`statement_timeout`).
mod queries;
mod settings;

use std::time::Duration;

use tokio::time::Instant;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::config::PostgresTarget;
use crate::sample::{Outcome, Samples};
use queries::{Part, Row};

/// The `job` label of PostgreSQL samples.
pub(crate) const JOB: &str = "postgres";

/// Collects one PostgreSQL server's metrics.
pub(crate) struct PostgresCollector {
    target: PostgresTarget,
    timeout: Duration,
    client: Option<Client>,
}

/// Why a statement gave no rows.
#[derive(Debug, thiserror::Error)]
enum QueryError {
    #[error("{0}")]
    Postgres(String),
    #[error("timed out")]
    Timeout,
}

impl PostgresCollector {
    pub fn new(target: PostgresTarget, timeout: Duration) -> Self {
        PostgresCollector {
            target,
            timeout,
            client: None,
        }
    }

    /// Runs one collection. Never fails: an unreachable server yields `pg_up 0`.
    pub async fn collect(&mut self) -> Outcome {
        let deadline = Instant::now() + self.timeout;
        let mut out = Samples::new(JOB, self.target.instance.as_str());
        let mut parts = Vec::new();
        match self.collect_into(deadline, &mut out, &mut parts).await {
            Ok(()) => {
                out.push("pg_up", &[], 1.0);
                parts.insert(0, ("connection".to_string(), Ok(())));
            }
            Err(e) => {
                // Whatever broke, the next collection starts from a fresh connection.
                self.client = None;
                out.push("pg_up", &[], 0.0);
                parts.insert(0, ("connection".to_string(), Err(e)));
            }
        }
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        Outcome {
            samples: out.into_vec(),
            parts,
        }
    }

    /// Connects if needed, then runs every part. `Err` means the server is down
    /// (connect or the version query failed); a failing part only marks itself.
    async fn collect_into(
        &mut self,
        deadline: Instant,
        out: &mut Samples,
        parts: &mut Vec<(String, Result<(), String>)>,
    ) -> Result<(), String> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(self.connect(deadline).await?);
        }
        let Some(client) = self.client.as_ref() else {
            return Err("no connection".to_string());
        };
        let rows = query(client, queries::VERSION, deadline)
            .await
            .map_err(|e| e.to_string())?;
        let (version, version_num) = rows
            .first()
            .and_then(|r| {
                let version = r.first()?.as_deref()?;
                let num = r.get(1)?.as_deref()?.parse::<u32>().ok()?;
                Some((version.to_string(), num))
            })
            .ok_or("the version query returned nothing usable")?;
        out.push(
            "pg_static",
            &[
                ("version", &version),
                ("short_version", &queries::short_version(version_num)),
            ],
            1.0,
        );
        let mut broken = false;
        for part in Part::ALL {
            if broken {
                break;
            }
            let started = std::time::Instant::now();
            let result = run_part(client, part, version_num, deadline, out).await;
            let ran = match result {
                Ok(ran) => {
                    if ran {
                        parts.push((part.name().to_string(), Ok(())));
                    }
                    ran
                }
                Err(e) => {
                    // After a timeout the rest would time out too; a closed connection cannot go on.
                    broken = matches!(e, QueryError::Timeout) || client.is_closed();
                    parts.push((part.name().to_string(), Err(e.to_string())));
                    true
                }
            };
            if ran {
                let labels = [("collector", part.name())];
                let ok = parts.last().is_some_and(|(_, r)| r.is_ok());
                out.push(
                    "pg_scrape_collector_duration_seconds",
                    &labels,
                    started.elapsed().as_secs_f64(),
                );
                out.push("pg_scrape_collector_success", &labels, if ok { 1.0 } else { 0.0 });
            }
        }
        if broken {
            self.client = None;
        }
        Ok(())
    }

    async fn connect(&self, deadline: Instant) -> Result<Client, String> {
        let mut config = self.target.config.clone();
        config.connect_timeout(self.timeout);
        if config.get_application_name().is_none() {
            config.application_name("aerowatch_collector");
        }
        let (client, connection) = match tokio::time::timeout_at(deadline, config.connect(NoTls)).await {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(format!("connect {}: {}", self.target.instance, describe(&e))),
            Err(_) => return Err(format!("connect {}: timed out", self.target.instance)),
        };
        // The connection future does the socket I/O; it ends when the client is dropped.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "postgres collector connection ended");
            }
        });
        // Bound statements on the server too, so a query we gave up on stops running there.
        let ms = self.timeout.as_millis().max(1);
        query(&client, &format!("SET statement_timeout = {ms}"), deadline)
            .await
            .map_err(|e| format!("setting statement_timeout: {e}"))?;
        Ok(client)
    }
}

/// Runs one part; `Ok(false)` when it does not apply to this server (the
/// pg_stat_statements extension is not installed).
async fn run_part(
    client: &Client,
    part: Part,
    version_num: u32,
    deadline: Instant,
    out: &mut Samples,
) -> Result<bool, QueryError> {
    if part == Part::StatStatements {
        let rows = query(client, queries::HAS_STAT_STATEMENTS, deadline).await?;
        let installed = rows
            .first()
            .and_then(|r| r.first()?.as_deref()?.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
        if !installed {
            return Ok(false);
        }
    }
    let rows = query(client, &part.sql(version_num), deadline).await?;
    part.emit(&rows, version_num, out);
    Ok(true)
}

/// Runs one statement through the simple query protocol; every value arrives as text.
async fn query(client: &Client, sql: &str, deadline: Instant) -> Result<Vec<Row>, QueryError> {
    let messages = match tokio::time::timeout_at(deadline, client.simple_query(sql)).await {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return Err(QueryError::Postgres(describe(&e))),
        Err(_) => return Err(QueryError::Timeout),
    };
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect())
}

/// The server's own message for database errors, and the cause chain for I/O
/// ones ("error connecting to server: Connection refused").
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PostgresConfig;

    #[tokio::test]
    async fn an_unreachable_server_is_pg_up_0() {
        let port = testkit::free_port();
        let target = PostgresConfig {
            dsn: format!("postgres://postgres:secret@127.0.0.1:{port}/postgres"),
            instance: None,
        }
        .compile()
        .unwrap();
        let mut c = PostgresCollector::new(target, Duration::from_secs(2));
        let started = std::time::Instant::now();
        let o = c.collect().await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(o.samples.len(), 1);
        let (labels, v) = &o.samples[0];
        assert_eq!(labels.metric_name(), Some("pg_up"));
        assert_eq!(labels.get("instance"), Some(format!("127.0.0.1:{port}").as_str()));
        assert_eq!(labels.get("job"), Some("postgres"));
        assert_eq!(*v, 0.0);
        let err = o.parts[0].1.clone().unwrap_err();
        assert!(err.contains("connect") && !err.contains("secret"), "{err}");
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        // Accepts TCP but never speaks: the collection must give up on time.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let target = PostgresConfig {
            dsn: format!("host=127.0.0.1 port={port} user=postgres"),
            instance: None,
        }
        .compile()
        .unwrap();
        let mut c = PostgresCollector::new(target, Duration::from_millis(500));
        let started = std::time::Instant::now();
        let o = c.collect().await;
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(o.samples[0].1, 0.0);
        hold.abort();
    }
}
