//! `pg_settings_<name>[_seconds|_bytes]`: numeric and boolean server settings,
//! with units converted the way postgres_exporter's settings collector does.

/// `SELECT` of the settings worth a metric. The two excluded names are vendor
/// settings whose values do not parse (as postgres_exporter excludes them).
pub(super) const QUERY: &str = "SELECT name, setting, COALESCE(unit, ''), vartype FROM pg_settings \
     WHERE vartype IN ('bool', 'integer', 'real') \
     AND name NOT IN ('sync_commit_cancel_wait', 'google_dataplex.max_messages')";

/// Units a value may carry as a suffix (seen on some managed servers); longer
/// ones first so `kB` is not read as `B`.
const SUFFIXES: [&str; 10] = ["ms", "min", "kB", "MB", "GB", "TB", "s", "h", "d", "B"];

/// The metric name and value of one setting, or why it has none.
pub(super) fn metric(name: &str, setting: &str, unit: &str, vartype: &str) -> Result<(String, f64), String> {
    let base = format!("pg_settings_{}", name.replace(['.', '-'], "_"));
    match vartype {
        "bool" => Ok((base, if setting == "on" { 1.0 } else { 0.0 })),
        "integer" | "real" => {
            let (value, suffix) = normalise(setting, unit)?;
            let name = match suffix {
                Some(s) => format!("{base}_{s}"),
                None => base,
            };
            Ok((name, value))
        }
        other => Err(format!("unsupported vartype {other:?}")),
    }
}

/// Converts to seconds or bytes; -1 ("disabled") is kept as is.
fn normalise(setting: &str, unit: &str) -> Result<(f64, Option<&'static str>), String> {
    let mut setting = setting;
    if let Some(s) = SUFFIXES.iter().find(|s| setting.ends_with(*s)) {
        setting = &setting[..setting.len() - s.len()];
    }
    let value: f64 = setting
        .trim()
        .parse()
        .map_err(|_| format!("value {setting:?} is not a number"))?;
    let (suffix, factor) = match unit {
        "" => return Ok((value, None)),
        "ms" => ("seconds", 1e-3),
        "s" => ("seconds", 1.0),
        "min" => ("seconds", 60.0),
        "h" => ("seconds", 3600.0),
        "d" => ("seconds", 86_400.0),
        "B" => ("bytes", 1.0),
        "kB" | "1kB" => ("bytes", 1024.0),
        "2kB" => ("bytes", 2048.0),
        "4kB" => ("bytes", 4096.0),
        "8kB" => ("bytes", 8192.0),
        "16kB" => ("bytes", 16_384.0),
        "32kB" => ("bytes", 32_768.0),
        "64kB" => ("bytes", 65_536.0),
        "MB" => ("bytes", 1_048_576.0),
        "16MB" => ("bytes", 16_777_216.0),
        "32MB" => ("bytes", 33_554_432.0),
        "64MB" => ("bytes", 67_108_864.0),
        "GB" => ("bytes", 1_073_741_824.0),
        "TB" => ("bytes", 1_099_511_627_776.0),
        other => return Err(format!("unknown unit {other:?}")),
    };
    if value == -1.0 {
        return Ok((value, Some(suffix)));
    }
    Ok((value * factor, Some(suffix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_postgres_exporter() {
        assert_eq!(
            metric("max_connections", "100", "", "integer"),
            Ok(("pg_settings_max_connections".to_string(), 100.0))
        );
        assert_eq!(
            metric("shared_buffers", "16384", "8kB", "integer"),
            Ok(("pg_settings_shared_buffers_bytes".to_string(), 134_217_728.0))
        );
        assert_eq!(
            metric("statement_timeout", "1500", "ms", "integer"),
            Ok(("pg_settings_statement_timeout_seconds".to_string(), 1.5))
        );
        assert_eq!(
            metric("autovacuum_naptime", "1", "min", "integer"),
            Ok(("pg_settings_autovacuum_naptime_seconds".to_string(), 60.0))
        );
        assert_eq!(
            metric("log_rotation_size", "-1", "kB", "integer"),
            Ok(("pg_settings_log_rotation_size_bytes".to_string(), -1.0))
        );
        assert_eq!(
            metric("fsync", "off", "", "bool"),
            Ok(("pg_settings_fsync".to_string(), 0.0))
        );
        assert_eq!(
            metric("pg_stat_statements.track_utility", "on", "", "bool"),
            Ok(("pg_settings_pg_stat_statements_track_utility".to_string(), 1.0))
        );
        assert_eq!(
            metric("work_mem", "4096 kB", "kB", "integer"),
            Ok(("pg_settings_work_mem_bytes".to_string(), 4_194_304.0))
        );
        assert_eq!(
            metric("checkpoint_timeout", "300s", "s", "integer"),
            Ok(("pg_settings_checkpoint_timeout_seconds".to_string(), 300.0))
        );
        assert_eq!(
            metric("work_mem", "4kB", "kB", "integer"),
            Ok(("pg_settings_work_mem_bytes".to_string(), 4096.0))
        );
        assert!(metric("x", "abc", "", "integer").is_err());
        assert!(metric("x", "1", "parsecs", "real").is_err());
        assert!(metric("x", "1", "", "enum").is_err());
    }
}
