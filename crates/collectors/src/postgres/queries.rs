//! postgres_exporter's default queries and how their rows become samples.
//! Rows arrive as text (simple query protocol), so every server version and
//! column type reads the same way; numbers are parsed here.
use super::settings;
use crate::sample::Samples;

/// One result row: each column as text, `None` for SQL NULL.
pub(super) type Row = Vec<Option<String>>;

fn text(row: &Row, i: usize) -> Option<&str> {
    row.get(i).and_then(|c| c.as_deref())
}

fn number(row: &Row, i: usize) -> Option<f64> {
    text(row, i).and_then(|s| s.trim().parse::<f64>().ok())
}

/// The parts of one collection, named like postgres_exporter's collectors;
/// each one's name is the `collector` label of `pg_scrape_collector_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Database,
    StatDatabase,
    StatActivity,
    Locks,
    Settings,
    LongRunningTransactions,
    StatStatements,
}

impl Part {
    pub const ALL: [Part; 7] = [
        Part::Database,
        Part::StatDatabase,
        Part::StatActivity,
        Part::Locks,
        Part::Settings,
        Part::LongRunningTransactions,
        Part::StatStatements,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Part::Database => "database",
            Part::StatDatabase => "stat_database",
            Part::StatActivity => "stat_activity",
            Part::Locks => "locks",
            Part::Settings => "settings",
            Part::LongRunningTransactions => "long_running_transactions",
            Part::StatStatements => "stat_statements",
        }
    }

    /// The statement for a server of `version_num` (`server_version_num`).
    pub fn sql(self, version_num: u32) -> String {
        match self {
            // Databases the user may not connect to make pg_database_size fail; leave them out.
            Part::Database => "SELECT datname, pg_database_size(datname) FROM pg_database \
                 WHERE has_database_privilege(datname, 'CONNECT')"
                .to_string(),
            Part::StatDatabase => {
                let active_time = if version_num >= 140_000 { ", active_time" } else { "" };
                format!(
                    "SELECT datid, datname, {}, EXTRACT(EPOCH FROM stats_reset){active_time} FROM pg_stat_database",
                    STAT_DATABASE_COLUMNS.join(", ")
                )
            }
            Part::StatActivity => STAT_ACTIVITY.to_string(),
            Part::Locks => LOCKS.to_string(),
            Part::Settings => settings::QUERY.to_string(),
            Part::LongRunningTransactions => LONG_RUNNING_TRANSACTIONS.to_string(),
            Part::StatStatements => stat_statements_sql(version_num),
        }
    }

    /// Turns the rows of [`Part::sql`] into samples.
    pub fn emit(self, rows: &[Row], version_num: u32, out: &mut Samples) {
        match self {
            Part::Database => {
                for r in rows {
                    if let (Some(db), Some(size)) = (text(r, 0), number(r, 1)) {
                        out.push("pg_database_size_bytes", &[("datname", db)], size);
                    }
                }
            }
            Part::StatDatabase => emit_stat_database(rows, version_num >= 140_000, out),
            Part::StatActivity => {
                for r in rows {
                    let (Some(db), Some(state)) = (text(r, 0), text(r, 1)) else {
                        continue;
                    };
                    let labels = [("datname", db), ("state", state)];
                    out.push("pg_stat_activity_count", &labels, number(r, 2).unwrap_or(0.0));
                    out.push("pg_stat_activity_max_tx_duration", &labels, number(r, 3).unwrap_or(0.0));
                }
            }
            Part::Locks => {
                for r in rows {
                    if let (Some(db), Some(mode)) = (text(r, 0), text(r, 1)) {
                        out.push(
                            "pg_locks_count",
                            &[("datname", db), ("mode", mode)],
                            number(r, 2).unwrap_or(0.0),
                        );
                    }
                }
            }
            Part::Settings => {
                for r in rows {
                    let (Some(name), Some(setting)) = (text(r, 0), text(r, 1)) else {
                        continue;
                    };
                    match settings::metric(name, setting, text(r, 2).unwrap_or(""), text(r, 3).unwrap_or("")) {
                        Ok((metric, v)) if model::is_valid_metric_name(&metric) => out.push(&metric, &[], v),
                        Ok((metric, _)) => tracing::debug!(metric, "setting skipped: not a valid metric name"),
                        Err(e) => tracing::debug!(setting = name, error = %e, "setting skipped"),
                    }
                }
            }
            Part::LongRunningTransactions => {
                if let Some(r) = rows.first() {
                    out.push("pg_long_running_transactions", &[], number(r, 0).unwrap_or(0.0));
                    out.push(
                        "pg_long_running_transactions_oldest_timestamp_seconds",
                        &[],
                        number(r, 1).unwrap_or(0.0),
                    );
                }
            }
            Part::StatStatements => {
                for r in rows {
                    // postgres_exporter labels unknown values "unknown" rather than dropping the row.
                    let label = |i| text(r, i).unwrap_or("unknown");
                    let labels = [("user", label(0)), ("datname", label(1)), ("queryid", label(2))];
                    for (i, metric) in STAT_STATEMENTS_METRICS.iter().enumerate() {
                        out.push(metric, &labels, number(r, 3 + i).unwrap_or(0.0));
                    }
                }
            }
        }
    }
}

/// `SELECT version(), server_version_num`: doubles as the liveness check.
pub(super) const VERSION: &str = "SELECT version(), current_setting('server_version_num')";

/// Whether pg_stat_statements is installed in the connected database.
pub(super) const HAS_STAT_STATEMENTS: &str = "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'";

/// `15.8.0` from `server_version_num` 150008 (`9.6.24` from 90624), the
/// semantic version postgres_exporter puts in `short_version`.
pub(super) fn short_version(version_num: u32) -> String {
    if version_num >= 100_000 {
        format!("{}.{}.0", version_num / 10_000, version_num % 10_000)
    } else {
        format!(
            "{}.{}.{}",
            version_num / 10_000,
            (version_num / 100) % 100,
            version_num % 100
        )
    }
}

/// Counter columns after `datid, datname`, each becoming `pg_stat_database_<column>`.
const STAT_DATABASE_COLUMNS: [&str; 16] = [
    "numbackends",
    "xact_commit",
    "xact_rollback",
    "blks_read",
    "blks_hit",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "conflicts",
    "temp_files",
    "temp_bytes",
    "deadlocks",
    "blk_read_time",
    "blk_write_time",
];

fn emit_stat_database(rows: &[Row], active_time: bool, out: &mut Samples) {
    for r in rows {
        // PostgreSQL 12+ adds a row for shared objects with no database name; postgres_exporter skips it.
        let (Some(datid), Some(datname)) = (text(r, 0), text(r, 1)) else {
            continue;
        };
        let labels = [("datid", datid), ("datname", datname)];
        for (i, column) in STAT_DATABASE_COLUMNS.iter().enumerate() {
            if let Some(v) = number(r, 2 + i) {
                out.push(&format!("pg_stat_database_{column}"), &labels, v);
            }
        }
        let n = 2 + STAT_DATABASE_COLUMNS.len();
        out.push("pg_stat_database_stats_reset", &labels, number(r, n).unwrap_or(0.0));
        if active_time {
            if let Some(ms) = number(r, n + 1) {
                out.push("pg_stat_database_active_time_seconds_total", &labels, ms / 1000.0);
            }
        }
    }
}

/// postgres_exporter's `pg_stat_activity` query: every database × every
/// state, with zeros where nothing is in that state.
const STAT_ACTIVITY: &str = "SELECT pg_database.datname, tmp.state, COALESCE(count, 0) AS count, \
       COALESCE(max_tx_duration, 0) AS max_tx_duration \
     FROM (VALUES ('active'), ('idle'), ('idle in transaction'), ('idle in transaction (aborted)'), \
                  ('fastpath function call'), ('disabled')) AS tmp(state) \
     CROSS JOIN pg_database \
     LEFT JOIN (SELECT datname, state, count(*) AS count, \
                       MAX(EXTRACT(EPOCH FROM now() - xact_start))::float AS max_tx_duration \
                FROM pg_stat_activity GROUP BY datname, state) AS tmp2 \
       ON tmp.state = tmp2.state AND pg_database.datname = tmp2.datname";

/// postgres_exporter's `pg_locks` query: every database × every lock mode.
const LOCKS: &str = "SELECT pg_database.datname, tmp.mode, COALESCE(count, 0) AS count \
     FROM (VALUES ('accesssharelock'), ('rowsharelock'), ('rowexclusivelock'), ('shareupdateexclusivelock'), \
                  ('sharelock'), ('sharerowexclusivelock'), ('exclusivelock'), ('accessexclusivelock'), \
                  ('sireadlock')) AS tmp(mode) \
     CROSS JOIN pg_database \
     LEFT JOIN (SELECT database, lower(mode) AS mode, count(*) AS count FROM pg_locks \
                WHERE database IS NOT NULL GROUP BY database, lower(mode)) AS tmp2 \
       ON tmp.mode = tmp2.mode AND pg_database.oid = tmp2.database \
     ORDER BY 1";

/// postgres_exporter's `long_running_transactions` query (the age is NULL,
/// reported as 0, when no transaction is open).
const LONG_RUNNING_TRANSACTIONS: &str = "SELECT COUNT(*) AS transactions, \
       MAX(EXTRACT(EPOCH FROM clock_timestamp() - pg_stat_activity.xact_start)) AS oldest_timestamp_seconds \
     FROM pg_catalog.pg_stat_activity \
     WHERE state IS DISTINCT FROM 'idle' \
       AND query NOT LIKE 'autovacuum:%' \
       AND pg_stat_activity.xact_start IS NOT NULL";

/// The value columns of the statements query, in order.
const STAT_STATEMENTS_METRICS: [&str; 5] = [
    "pg_stat_statements_calls_total",
    "pg_stat_statements_seconds_total",
    "pg_stat_statements_rows_total",
    "pg_stat_statements_block_read_seconds_total",
    "pg_stat_statements_block_write_seconds_total",
];

/// postgres_exporter's stat_statements query: the 100 statements with the most
/// execution time, leaving out the cheapest tenth. Column names changed in 13
/// (`total_exec_time`) and 17 (`shared_blk_*_time`).
fn stat_statements_sql(version_num: u32) -> String {
    let (total, read, write) = if version_num >= 170_000 {
        ("total_exec_time", "shared_blk_read_time", "shared_blk_write_time")
    } else if version_num >= 130_000 {
        ("total_exec_time", "blk_read_time", "blk_write_time")
    } else {
        ("total_time", "blk_read_time", "blk_write_time")
    };
    format!(
        "SELECT pg_get_userbyid(userid) AS user, pg_database.datname, pg_stat_statements.queryid, \
           pg_stat_statements.calls AS calls_total, \
           pg_stat_statements.{total} / 1000.0 AS seconds_total, \
           pg_stat_statements.rows AS rows_total, \
           pg_stat_statements.{read} / 1000.0 AS block_read_seconds_total, \
           pg_stat_statements.{write} / 1000.0 AS block_write_seconds_total \
         FROM pg_stat_statements JOIN pg_database ON pg_database.oid = pg_stat_statements.dbid \
         WHERE {total} > (SELECT percentile_cont(0.1) WITHIN GROUP (ORDER BY {total}) FROM pg_stat_statements) \
         ORDER BY seconds_total DESC LIMIT 100"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cols: &[Option<&str>]) -> Row {
        cols.iter().map(|c| c.map(str::to_string)).collect()
    }

    fn run(part: Part, rows: &[Row], version_num: u32) -> Vec<String> {
        let mut out = Samples::new("postgres", "db:5432");
        part.emit(rows, version_num, &mut out);
        out.into_compact()
            .into_iter()
            .map(|(s, v)| format!("{s} {v}"))
            .collect()
    }

    #[test]
    fn versions() {
        assert_eq!(short_version(150_008), "15.8.0");
        assert_eq!(short_version(170_000), "17.0.0");
        assert_eq!(short_version(90_624), "9.6.24");
        assert!(Part::StatStatements.sql(150_008).contains("total_exec_time"));
        assert!(Part::StatStatements.sql(170_002).contains("shared_blk_read_time"));
        assert!(Part::StatStatements.sql(120_000).contains("total_time"));
        assert!(Part::StatDatabase.sql(150_000).contains("active_time"));
        assert!(!Part::StatDatabase.sql(130_000).contains("active_time"));
    }

    #[test]
    fn stat_database_rows() {
        let mut cols = vec![Some("5"), Some("postgres")];
        let values: Vec<String> = (1..=16).map(|i| i.to_string()).collect();
        cols.extend(values.iter().map(|v| Some(v.as_str())));
        cols.push(None);
        cols.push(Some("2500"));
        let shared = row(&[Some("0"), None, Some("1")]);
        let s = run(Part::StatDatabase, &[row(&cols), shared], 150_000);
        assert!(s.contains(&"pg_stat_database_numbackends{datid=\"5\", datname=\"postgres\"} 1".to_string()));
        assert!(s.contains(&"pg_stat_database_xact_commit{datid=\"5\", datname=\"postgres\"} 2".to_string()));
        assert!(s.contains(&"pg_stat_database_blk_write_time{datid=\"5\", datname=\"postgres\"} 16".to_string()));
        assert!(s.contains(&"pg_stat_database_stats_reset{datid=\"5\", datname=\"postgres\"} 0".to_string()));
        assert!(s.contains(
            &"pg_stat_database_active_time_seconds_total{datid=\"5\", datname=\"postgres\"} 2.5".to_string()
        ));
        assert_eq!(s.len(), 18, "{s:?}");
    }

    #[test]
    fn activity_locks_and_long_transactions() {
        let s = run(
            Part::StatActivity,
            &[row(&[
                Some("app"),
                Some("idle in transaction"),
                Some("2"),
                Some("12.5"),
            ])],
            150_000,
        );
        assert_eq!(
            s,
            [
                "pg_stat_activity_count{datname=\"app\", state=\"idle in transaction\"} 2",
                "pg_stat_activity_max_tx_duration{datname=\"app\", state=\"idle in transaction\"} 12.5"
            ]
        );
        let s = run(
            Part::Locks,
            &[row(&[Some("app"), Some("sharelock"), Some("0")])],
            150_000,
        );
        assert_eq!(s, ["pg_locks_count{datname=\"app\", mode=\"sharelock\"} 0"]);
        let s = run(Part::LongRunningTransactions, &[row(&[Some("0"), None])], 150_000);
        assert_eq!(
            s,
            [
                "pg_long_running_transactions 0",
                "pg_long_running_transactions_oldest_timestamp_seconds 0"
            ]
        );
    }

    #[test]
    fn statements_rows() {
        let r = row(&[
            Some("postgres"),
            Some("app"),
            Some("-42"),
            Some("3"),
            Some("0.25"),
            Some("30"),
            Some("0"),
            Some("0.001"),
        ]);
        let s = run(Part::StatStatements, &[r], 150_000);
        let l = "{datname=\"app\", queryid=\"-42\", user=\"postgres\"}";
        assert_eq!(
            s,
            [
                format!("pg_stat_statements_calls_total{l} 3"),
                format!("pg_stat_statements_seconds_total{l} 0.25"),
                format!("pg_stat_statements_rows_total{l} 30"),
                format!("pg_stat_statements_block_read_seconds_total{l} 0"),
                format!("pg_stat_statements_block_write_seconds_total{l} 0.001"),
            ]
        );
    }

    #[test]
    fn settings_and_sizes() {
        let s = run(
            Part::Settings,
            &[
                row(&[Some("max_connections"), Some("100"), Some(""), Some("integer")]),
                row(&[Some("weird"), Some("x"), Some(""), Some("integer")]),
            ],
            150_000,
        );
        assert_eq!(s, ["pg_settings_max_connections 100"]);
        let s = run(
            Part::Database,
            &[row(&[Some("app"), Some("8000000")]), row(&[None, None])],
            150_000,
        );
        assert_eq!(s, ["pg_database_size_bytes{datname=\"app\"} 8000000"]);
    }
}
