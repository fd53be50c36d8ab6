//! `INFO ALL` text → redis_exporter's metrics: its renamed gauges and counters,
//! per-database key counts, per-command stats, replication links and
//! `redis_instance_info`.
use std::collections::HashMap;

use crate::sample::Samples;

/// INFO fields exported as gauges, with redis_exporter's names (without
/// `redis_`); its Tile38, KeyDB and RediSearch entries are left out.
const GAUGES: &[(&str, &str)] = &[
    // Server
    ("uptime_in_seconds", "uptime_in_seconds"),
    ("process_id", "process_id"),
    ("io_threads_active", "io_threads_active"),
    // Clients
    ("connected_clients", "connected_clients"),
    ("blocked_clients", "blocked_clients"),
    ("maxclients", "max_clients"),
    ("tracking_clients", "tracking_clients"),
    ("clients_in_timeout_table", "clients_in_timeout_table"),
    ("pubsub_clients", "pubsub_clients"),
    ("watching_clients", "watching_clients"),
    ("total_watched_keys", "total_watched_keys"),
    ("total_blocking_keys", "total_blocking_keys"),
    ("total_blocking_keys_on_nokey", "total_blocking_keys_on_nokey"),
    ("client_longest_output_list", "client_longest_output_list"),
    ("client_biggest_input_buf", "client_biggest_input_buf"),
    (
        "client_recent_max_output_buffer",
        "client_recent_max_output_buffer_bytes",
    ),
    ("client_recent_max_input_buffer", "client_recent_max_input_buffer_bytes"),
    // Memory
    ("allocator_active", "allocator_active_bytes"),
    ("allocator_allocated", "allocator_allocated_bytes"),
    ("allocator_resident", "allocator_resident_bytes"),
    ("allocator_frag_ratio", "allocator_frag_ratio"),
    ("allocator_frag_bytes", "allocator_frag_bytes"),
    ("allocator_rss_ratio", "allocator_rss_ratio"),
    ("allocator_rss_bytes", "allocator_rss_bytes"),
    ("used_memory", "memory_used_bytes"),
    ("used_memory_rss", "memory_used_rss_bytes"),
    ("used_memory_peak", "memory_used_peak_bytes"),
    ("used_memory_lua", "memory_used_lua_bytes"),
    ("used_memory_vm_eval", "memory_used_vm_eval_bytes"),
    ("used_memory_scripts_eval", "memory_used_scripts_eval_bytes"),
    ("used_memory_overhead", "memory_used_overhead_bytes"),
    ("used_memory_startup", "memory_used_startup_bytes"),
    ("used_memory_dataset", "memory_used_dataset_bytes"),
    ("number_of_cached_scripts", "number_of_cached_scripts"),
    ("number_of_functions", "number_of_functions"),
    ("number_of_libraries", "number_of_libraries"),
    ("used_memory_vm_functions", "memory_used_vm_functions_bytes"),
    ("used_memory_scripts", "memory_used_scripts_bytes"),
    ("used_memory_functions", "memory_used_functions_bytes"),
    ("used_memory_vm_total", "memory_used_vm_total"),
    ("maxmemory", "memory_max_bytes"),
    ("maxmemory_reservation", "memory_max_reservation_bytes"),
    ("maxmemory_desired_reservation", "memory_max_reservation_desired_bytes"),
    (
        "maxfragmentationmemory_reservation",
        "memory_max_fragmentation_reservation_bytes",
    ),
    (
        "maxfragmentationmemory_desired_reservation",
        "memory_max_fragmentation_reservation_desired_bytes",
    ),
    ("mem_fragmentation_ratio", "mem_fragmentation_ratio"),
    ("mem_fragmentation_bytes", "mem_fragmentation_bytes"),
    ("mem_clients_slaves", "mem_clients_slaves"),
    ("mem_clients_normal", "mem_clients_normal"),
    ("expired_stale_perc", "expired_stale_percentage"),
    ("mem_not_counted_for_evict", "mem_not_counted_for_eviction_bytes"),
    ("mem_total_replication_buffers", "mem_total_replication_buffers_bytes"),
    (
        "mem_overhead_db_hashtable_rehashing",
        "mem_overhead_db_hashtable_rehashing_bytes",
    ),
    ("lazyfree_pending_objects", "lazyfree_pending_objects"),
    ("active_defrag_running", "active_defrag_running"),
    ("migrate_cached_sockets", "migrate_cached_sockets_total"),
    ("active_defrag_hits", "defrag_hits"),
    ("active_defrag_misses", "defrag_misses"),
    ("active_defrag_key_hits", "defrag_key_hits"),
    ("active_defrag_key_misses", "defrag_key_misses"),
    ("expired_time_cap_reached_count", "expired_time_cap_reached_total"),
    // Persistence
    ("loading", "loading_dump_file"),
    ("async_loading", "async_loading"),
    ("rdb_changes_since_last_save", "rdb_changes_since_last_save"),
    ("rdb_bgsave_in_progress", "rdb_bgsave_in_progress"),
    ("rdb_last_save_time", "rdb_last_save_timestamp_seconds"),
    ("rdb_last_bgsave_status", "rdb_last_bgsave_status"),
    ("rdb_last_bgsave_time_sec", "rdb_last_bgsave_duration_sec"),
    ("rdb_current_bgsave_time_sec", "rdb_current_bgsave_duration_sec"),
    ("rdb_saves", "rdb_saves_total"),
    ("rdb_last_cow_size", "rdb_last_cow_size_bytes"),
    ("rdb_last_load_keys_expired", "rdb_last_load_expired_keys"),
    ("rdb_last_load_keys_loaded", "rdb_last_load_loaded_keys"),
    ("aof_enabled", "aof_enabled"),
    ("aof_rewrite_in_progress", "aof_rewrite_in_progress"),
    ("aof_rewrite_scheduled", "aof_rewrite_scheduled"),
    ("aof_last_rewrite_time_sec", "aof_last_rewrite_duration_sec"),
    ("aof_current_rewrite_time_sec", "aof_current_rewrite_duration_sec"),
    ("aof_last_cow_size", "aof_last_cow_size_bytes"),
    ("aof_current_size", "aof_current_size_bytes"),
    ("aof_base_size", "aof_base_size_bytes"),
    ("aof_pending_rewrite", "aof_pending_rewrite"),
    ("aof_buffer_length", "aof_buffer_length"),
    ("aof_rewrite_buffer_length", "aof_rewrite_buffer_length"),
    ("aof_pending_bio_fsync", "aof_pending_bio_fsync"),
    ("aof_delayed_fsync", "aof_delayed_fsync"),
    ("aof_last_bgrewrite_status", "aof_last_bgrewrite_status"),
    ("aof_last_write_status", "aof_last_write_status"),
    ("module_fork_in_progress", "module_fork_in_progress"),
    ("module_fork_last_cow_size", "module_fork_last_cow_size"),
    // Stats
    ("current_eviction_exceeded_time", "current_eviction_exceeded_time_ms"),
    ("pubsub_channels", "pubsub_channels"),
    ("pubsub_patterns", "pubsub_patterns"),
    ("pubsubshard_channels", "pubsubshard_channels"),
    ("latest_fork_usec", "latest_fork_usec"),
    ("tracking_total_keys", "tracking_total_keys"),
    ("tracking_total_items", "tracking_total_items"),
    ("tracking_total_prefixes", "tracking_total_prefixes"),
    // Replication
    ("connected_slaves", "connected_slaves"),
    ("repl_backlog_size", "replication_backlog_bytes"),
    ("repl_backlog_active", "repl_backlog_is_active"),
    ("repl_backlog_first_byte_offset", "repl_backlog_first_byte_offset"),
    ("repl_backlog_histlen", "repl_backlog_history_bytes"),
    ("master_repl_offset", "master_repl_offset"),
    ("second_repl_offset", "second_repl_offset"),
    ("slave_expires_tracked_keys", "slave_expires_tracked_keys"),
    ("slave_priority", "slave_priority"),
    ("sync_full", "replica_resyncs_full"),
    ("sync_partial_ok", "replica_partial_resync_accepted"),
    ("sync_partial_err", "replica_partial_resync_denied"),
    // Cluster
    ("cluster_stats_messages_sent", "cluster_messages_sent_total"),
    ("cluster_stats_messages_received", "cluster_messages_received_total"),
];

/// INFO fields exported as counters.
const COUNTERS: &[(&str, &str)] = &[
    ("total_connections_received", "connections_received_total"),
    ("total_commands_processed", "commands_processed_total"),
    ("rejected_connections", "rejected_connections_total"),
    ("total_net_input_bytes", "net_input_bytes_total"),
    ("total_net_output_bytes", "net_output_bytes_total"),
    ("total_net_repl_input_bytes", "net_repl_input_bytes_total"),
    ("total_net_repl_output_bytes", "net_repl_output_bytes_total"),
    ("expired_subkeys", "expired_subkeys_total"),
    ("expired_keys", "expired_keys_total"),
    ("expire_cycle_cpu_milliseconds", "expire_cycle_cpu_time_ms_total"),
    ("evicted_keys", "evicted_keys_total"),
    ("evicted_clients", "evicted_clients_total"),
    ("evicted_scripts", "evicted_scripts_total"),
    ("total_eviction_exceeded_time", "eviction_exceeded_time_ms_total"),
    ("keyspace_hits", "keyspace_hits_total"),
    ("keyspace_misses", "keyspace_misses_total"),
    ("used_cpu_sys", "cpu_sys_seconds_total"),
    ("used_cpu_user", "cpu_user_seconds_total"),
    ("used_cpu_sys_children", "cpu_sys_children_seconds_total"),
    ("used_cpu_user_children", "cpu_user_children_seconds_total"),
    ("used_cpu_sys_main_thread", "cpu_sys_main_thread_seconds_total"),
    ("used_cpu_user_main_thread", "cpu_user_main_thread_seconds_total"),
    ("unexpected_error_replies", "unexpected_error_replies"),
    ("total_error_replies", "total_error_replies"),
    ("dump_payload_sanitizations", "dump_payload_sanitizations"),
    ("total_reads_processed", "total_reads_processed"),
    ("total_writes_processed", "total_writes_processed"),
    ("io_threaded_reads_processed", "io_threaded_reads_processed"),
    ("io_threaded_writes_processed", "io_threaded_writes_processed"),
    (
        "client_query_buffer_limit_disconnections",
        "client_query_buffer_limit_disconnections_total",
    ),
    (
        "client_output_buffer_limit_disconnections",
        "client_output_buffer_limit_disconnections_total",
    ),
    ("reply_buffer_shrinks", "reply_buffer_shrinks_total"),
    ("reply_buffer_expands", "reply_buffer_expands_total"),
    ("acl_access_denied_auth", "acl_access_denied_auth_total"),
    ("acl_access_denied_cmd", "acl_access_denied_cmd_total"),
    ("acl_access_denied_key", "acl_access_denied_key_total"),
    ("acl_access_denied_channel", "acl_access_denied_channel_total"),
];

/// The labels of `redis_instance_info`, in redis_exporter's order.
const INFO_LABELS: [&str; 10] = [
    "role",
    "redis_version",
    "redis_build_id",
    "redis_mode",
    "os",
    "maxmemory_policy",
    "tcp_port",
    "run_id",
    "process_id",
    "master_replid",
];

/// Writes the samples of one `INFO ALL` reply. `now` (unix seconds) dates
/// `redis_start_time_seconds`.
pub(super) fn emit(info: &str, now: f64, out: &mut Samples) {
    let mut fields: HashMap<&str, &str> = HashMap::new();
    let mut section = "";
    let (mut master_host, mut master_port) = ("", "");
    for line in info.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("# ") {
            section = name;
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        fields.insert(key, value);
        match key {
            "master_host" => master_host = value,
            "master_port" => master_port = value,
            _ => {}
        }
        match section {
            "Keyspace" if key.starts_with("db") => {
                keyspace(key, value, out);
                continue;
            }
            "Commandstats" => {
                commandstats(key, value, out);
                continue;
            }
            "Replication" if replication(key, value, master_host, master_port, out) => continue,
            _ => {}
        }
        if key == "uptime_in_seconds" {
            if let Ok(up) = value.parse::<f64>() {
                out.push("redis_start_time_seconds", &[], (now - up).floor());
            }
        }
        plain(key, value, out);
    }
    let mode = fields
        .get("redis_mode")
        .or_else(|| fields.get("server_mode"))
        .copied()
        .unwrap_or("");
    let labels: Vec<(&str, &str)> = INFO_LABELS
        .iter()
        .map(|l| match *l {
            "redis_mode" => (*l, mode),
            _ => (*l, fields.get(l).copied().unwrap_or("")),
        })
        .collect();
    out.push("redis_instance_info", &labels, 1.0);
}

/// A field of the gauge or counter tables, or any `cluster_*` field (as
/// redis_exporter exports them all). `ok`/`err`-like values become 1/0.
fn plain(key: &str, value: &str, out: &mut Samples) {
    let name = match GAUGES.iter().chain(COUNTERS).find(|(k, _)| *k == key) {
        Some((_, n)) => n.to_string(),
        None if key.starts_with("cluster_") && model::is_valid_label_name(key) => key.to_string(),
        None => return,
    };
    let value = match value {
        "ok" | "true" => 1.0,
        "err" | "fail" | "false" => 0.0,
        v => match v.parse::<f64>() {
            Ok(v) => v,
            Err(_) => return,
        },
    };
    if name == "latest_fork_usec" {
        out.push("redis_latest_fork_seconds", &[], value / 1e6);
    } else {
        out.push(&format!("redis_{name}"), &[], value);
    }
}

/// `db0:keys=1,expires=0,avg_ttl=0` → `redis_db_keys{db="db0"}` and friends.
fn keyspace(db: &str, value: &str, out: &mut Samples) {
    let fields: HashMap<&str, &str> = value.split(',').filter_map(|kv| kv.split_once('=')).collect();
    let num = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok());
    // keys and expires are required, as in redis_exporter.
    let (Some(keys), Some(expires)) = (num("keys"), num("expires")) else {
        return;
    };
    out.push("redis_db_keys", &[("db", db)], keys);
    out.push("redis_db_keys_expiring", &[("db", db)], expires);
    if let Some(ttl) = num("avg_ttl") {
        out.push("redis_db_avg_ttl_seconds", &[("db", db)], ttl / 1000.0);
    }
}

/// `cmdstat_get:calls=21,usec=175,...` → `redis_commands_total{cmd="get"}` and
/// `redis_commands_duration_seconds_total{cmd="get"}`.
fn commandstats(key: &str, value: &str, out: &mut Samples) {
    let Some(cmd) = key.strip_prefix("cmdstat_") else {
        return;
    };
    let fields: HashMap<&str, &str> = value.split(',').filter_map(|kv| kv.split_once('=')).collect();
    let num = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok());
    let (Some(calls), Some(usec)) = (num("calls"), num("usec")) else {
        return;
    };
    out.push("redis_commands_total", &[("cmd", cmd)], calls);
    out.push("redis_commands_duration_seconds_total", &[("cmd", cmd)], usec / 1e6);
    // Redis 6.2+ only.
    if let (Some(rejected), Some(failed)) = (num("rejected_calls"), num("failed_calls")) {
        out.push("redis_commands_rejected_calls_total", &[("cmd", cmd)], rejected);
        out.push("redis_commands_failed_calls_total", &[("cmd", cmd)], failed);
    }
}

/// Replica-side link state and master-side replica offsets; true when `key`
/// was one of them.
fn replication(key: &str, value: &str, master_host: &str, master_port: &str, out: &mut Samples) -> bool {
    let master = [("master_host", master_host), ("master_port", master_port)];
    match key {
        "master_link_status" => {
            out.push("redis_master_link_up", &master, if value == "up" { 1.0 } else { 0.0 });
            true
        }
        "master_last_io_seconds_ago" | "master_sync_in_progress" | "slave_repl_offset" => {
            if let Ok(v) = value.parse::<f64>() {
                out.push(&format!("redis_{key}"), &master, v);
            }
            true
        }
        k if k.starts_with("slave") && k[5..].parse::<u32>().is_ok() => {
            let f: HashMap<&str, &str> = value.split(',').filter_map(|kv| kv.split_once('=')).collect();
            let labels = [
                ("slave_ip", f.get("ip").copied().unwrap_or("")),
                ("slave_port", f.get("port").copied().unwrap_or("")),
                ("slave_state", f.get("state").copied().unwrap_or("")),
            ];
            if let Some(offset) = f.get("offset").and_then(|v| v.parse::<f64>().ok()) {
                out.push("redis_connected_slave_offset_bytes", &labels, offset);
            }
            if let Some(lag) = f.get("lag").and_then(|v| v.parse::<f64>().ok()) {
                out.push("redis_connected_slave_lag_seconds", &labels, lag);
            }
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Server\r\nredis_version:7.0.15\r\nredis_build_id:abc\r\nredis_mode:standalone\r\n\
os:Linux 6.1.0 x86_64\r\nprocess_id:42\r\nrun_id:r1\r\ntcp_port:6379\r\nuptime_in_seconds:100\r\n\r\n\
# Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n\r\n# Memory\r\nused_memory:1048576\r\n\
maxmemory:0\r\nmaxmemory_policy:noeviction\r\nmem_fragmentation_ratio:1.5\r\n\r\n\
# Persistence\r\nrdb_last_bgsave_status:ok\r\naof_last_write_status:err\r\n\r\n\
# Stats\r\ntotal_connections_received:10\r\ntotal_commands_processed:99\r\nrejected_connections:0\r\n\
expired_keys:2\r\nevicted_keys:0\r\nkeyspace_hits:5\r\nkeyspace_misses:7\r\nlatest_fork_usec:2500\r\n\r\n\
# Replication\r\nrole:master\r\nconnected_slaves:1\r\n\
slave0:ip=10.0.0.2,port=6380,state=online,offset=1234,lag=1\r\nmaster_replid:m1\r\nmaster_repl_offset:1234\r\n\r\n\
# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.5\r\n\r\n\
# Commandstats\r\ncmdstat_get:calls=21,usec=175,usec_per_call=8.33,rejected_calls=0,failed_calls=0\r\n\
cmdstat_bad:calls=x\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n\
# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=5000\r\ndb9:keys=1,expires=0,avg_ttl=0,subexpiry=0\r\ndb1:garbage\r\n";

    fn samples(info: &str) -> Vec<String> {
        let mut out = Samples::new("redis", "cache:6379");
        emit(info, 1000.0, &mut out);
        out.into_compact()
            .into_iter()
            .map(|(s, v)| format!("{s} {v}"))
            .collect()
    }

    #[test]
    fn redis_exporter_names() {
        let s = samples(INFO);
        for want in [
            "redis_uptime_in_seconds 100",
            "redis_start_time_seconds 900",
            "redis_connected_clients 3",
            "redis_blocked_clients 1",
            "redis_memory_used_bytes 1048576",
            "redis_memory_max_bytes 0",
            "redis_mem_fragmentation_ratio 1.5",
            "redis_rdb_last_bgsave_status 1",
            "redis_aof_last_write_status 0",
            "redis_connections_received_total 10",
            "redis_commands_processed_total 99",
            "redis_rejected_connections_total 0",
            "redis_expired_keys_total 2",
            "redis_evicted_keys_total 0",
            "redis_keyspace_hits_total 5",
            "redis_keyspace_misses_total 7",
            "redis_latest_fork_seconds 0.0025",
            "redis_connected_slaves 1",
            "redis_master_repl_offset 1234",
            "redis_connected_slave_offset_bytes{slave_ip=\"10.0.0.2\", slave_port=\"6380\", slave_state=\"online\"} 1234",
            "redis_connected_slave_lag_seconds{slave_ip=\"10.0.0.2\", slave_port=\"6380\", slave_state=\"online\"} 1",
            "redis_cpu_sys_seconds_total 1.5",
            "redis_cpu_user_seconds_total 2.5",
            "redis_commands_total{cmd=\"get\"} 21",
            "redis_commands_duration_seconds_total{cmd=\"get\"} 0.000175",
            "redis_commands_rejected_calls_total{cmd=\"get\"} 0",
            "redis_commands_failed_calls_total{cmd=\"get\"} 0",
            "redis_cluster_enabled 0",
            "redis_db_keys{db=\"db0\"} 3",
            "redis_db_keys_expiring{db=\"db0\"} 1",
            "redis_db_avg_ttl_seconds{db=\"db0\"} 5",
            "redis_db_keys{db=\"db9\"} 1",
            "redis_process_id 42",
            "redis_instance_info{master_replid=\"m1\", maxmemory_policy=\"noeviction\", os=\"Linux 6.1.0 x86_64\", process_id=\"42\", redis_build_id=\"abc\", redis_mode=\"standalone\", redis_version=\"7.0.15\", role=\"master\", run_id=\"r1\", tcp_port=\"6379\"} 1",
        ] {
            assert!(s.contains(&want.to_string()), "missing {want}\n{s:#?}");
        }
        assert!(
            !s.iter().any(|l| l.contains("db1") || l.contains("cmd=\"bad\"")),
            "{s:#?}"
        );
    }

    #[test]
    fn replica_links_and_garbage() {
        let s = samples(
            "# Replication\nrole:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nmaster_link_status:down\n\
master_last_io_seconds_ago:-1\nmaster_sync_in_progress:0\nslave_repl_offset:77\n\n# Junk\n:::\nnot a field\n\
used_memory:lots\n",
        );
        let m = "{master_host=\"10.0.0.1\", master_port=\"6379\"}";
        assert!(s.contains(&format!("redis_master_link_up{m} 0")), "{s:#?}");
        assert!(s.contains(&format!("redis_master_last_io_seconds_ago{m} -1")), "{s:#?}");
        assert!(s.contains(&format!("redis_slave_repl_offset{m} 77")), "{s:#?}");
        assert!(!s.iter().any(|l| l.starts_with("redis_memory_used_bytes")));
        assert!(
            s.iter().any(|l| l.starts_with("redis_instance_info{role=\"slave\"}")),
            "{s:#?}"
        );
    }
}
