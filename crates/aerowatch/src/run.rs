//! `aerowatch serve`: open storage, start ingest, serve HTTP, reload on
//! SIGHUP or `POST /-/reload`, and shut down gracefully, flushing the WAL.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum_server::tls_rustls::RustlsConfig;
use ingest::scrape::ScrapeManager;
use server::{AppState, BuildInfo, TsdbSink};
use tokio::sync::mpsc;
use tracing_subscriber::EnvFilter;

use crate::config::{self, Config, FsyncMode, Loaded};
use crate::{LogFormat, ServeArgs};

/// The compiler this binary was built with.
pub const RUSTC_VERSION: &str = env!("AEROWATCH_RUSTC_VERSION");

fn init_logging(args: &ServeArgs) {
    let filter = EnvFilter::try_new(&args.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Logfmt => builder.with_ansi(false).init(),
    }
}

/// Runs the server until SIGTERM/SIGINT.
pub fn main(args: ServeArgs) -> ExitCode {
    init_logging(&args);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// `aerowatch demo`: the server with the demo shop beside it.
pub fn demo(mut args: ServeArgs) -> ExitCode {
    init_logging(&args);
    if args.config_file.is_some() {
        eprintln!("error: demo runs its own configuration (the shop, the openaero preset); use `aerowatch serve --config.file` for yours");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let run = async move {
        let storage = args
            .storage_path
            .get_or_insert_with(|| PathBuf::from("demo-data"))
            .clone();
        tokio::fs::create_dir_all(&storage)
            .await
            .with_context(|| format!("creating {}", storage.display()))?;
        let shop = crate::demo::start().await?;
        let path = storage.join("demo.yml");
        tokio::fs::write(&path, crate::demo::config(&self_target(args.listen_address), shop))
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "demo: shop at http://{shop}/, Aerowatch at http://{}/ (config {})",
            self_target(args.listen_address),
            path.display()
        );
        args.config_file = Some(path);
        serve(args).await
    };
    match rt.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn load(args: &ServeArgs) -> anyhow::Result<Loaded> {
    let self_target = self_target(args.listen_address);
    Ok(match &args.config_file {
        Some(p) => config::load_file(p)?,
        None => config::embedded(&self_target)?,
    })
}

/// What (re)starting the recovery engine needs: a new engine is built on
/// every load (its state carries over through its data directory) and
/// subscribes to the checks' state changes.
#[derive(Clone)]
struct RecoveryParts {
    verifier: Arc<dyn recovery::Verifier>,
    escalator: Arc<dyn recovery::Escalator>,
    dir: PathBuf,
    handle: Arc<parking_lot::RwLock<Option<recovery::Engine>>>,
    task: Arc<parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl RecoveryParts {
    async fn start(&self, strategies: Vec<recovery::Strategy>, checks: &probes::Scheduler) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let engine = recovery::Engine::new(
            strategies,
            self.verifier.clone(),
            self.escalator.clone(),
            recovery::EngineOptions {
                data_dir: Some(self.dir.clone()),
                ..Default::default()
            },
        )
        .await?;
        let task = tokio::spawn(engine.clone().run(checks.subscribe()));
        if let Some(old) = self.task.lock().replace(task) {
            old.abort();
        }
        *self.handle.write() = Some(engine);
        Ok(())
    }
}

/// The `query` function of alert templates: an instant query at the
/// alert's evaluation time. Templates expand inside rule evaluation, which
/// cannot await, so the query runs on a thread of its own against the
/// runtime (templates that query are rare; a thread per query is fine).
fn template_query(
    engine: Arc<server::promql::Engine>,
    db: Arc<dyn server::promql::Queryable>,
) -> rules::template::QueryAt {
    let handle = tokio::runtime::Handle::current();
    Arc::new(move |expr: &str, at_ms: i64| {
        let (engine, db, handle, expr) = (engine.clone(), db.clone(), handle.clone(), expr.to_string());
        let result = std::thread::spawn(move || handle.block_on(engine.instant(db, &expr, at_ms, Default::default())))
            .join()
            .map_err(|_| "query panicked".to_string())?
            .map_err(|e| e.to_string())?;
        match result.value {
            server::promql::ResultValue::Vector(v) => Ok(v
                .into_iter()
                .map(|s| gotemplate::QuerySample {
                    labels: s
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    value: s.v,
                })
                .collect()),
            server::promql::ResultValue::Scalar { v, .. } => Ok(vec![gotemplate::QuerySample {
                labels: Default::default(),
                value: v,
            }]),
            _ => Err("query result is not a vector or scalar".into()),
        }
    })
}

fn self_target(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("127.0.0.1:{}", listen.port())
    } else {
        listen.to_string()
    }
}

fn engine_options(c: &Config) -> server::promql::EngineOptions {
    server::promql::EngineOptions {
        lookback_delta_ms: c.query.lookback_delta.as_millis(),
        max_samples: c.query.max_samples,
        timeout: c.query.timeout.get(),
        max_concurrent: c.query.max_concurrency,
        // Prometheus's default subquery step is the evaluation interval.
        default_subquery_step_ms: c.global.evaluation_interval.as_millis().max(1),
    }
}

/// `/api/v1/status/flags`: the command line, and the query settings under
/// Prometheus's flag names.
fn status_flags(
    args: &ServeArgs,
    c: &Config,
    data_dir: &std::path::Path,
) -> std::collections::BTreeMap<String, String> {
    let q = &c.query;
    let config_file = args.config_file.as_ref().map(|p| p.display().to_string());
    [
        ("config.file", config_file.unwrap_or_default()),
        ("storage.path", data_dir.display().to_string()),
        ("web.listen-address", args.listen_address.to_string()),
        ("web.insecure-no-auth", args.insecure_no_auth.to_string()),
        ("log.level", args.log_level.clone()),
        ("log.format", format!("{:?}", args.log_format).to_lowercase()),
        ("query.lookback-delta", q.lookback_delta.to_string()),
        ("query.max-concurrency", q.max_concurrency.to_string()),
        ("query.max-samples", q.max_samples.to_string()),
        ("query.timeout", q.timeout.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn tsdb_options(c: &Config) -> tsdb::Options {
    let fsync = match c.storage.wal.fsync {
        FsyncMode::Always => tsdb::FsyncPolicy::Always,
        FsyncMode::Interval | FsyncMode::Never => tsdb::FsyncPolicy::Never,
    };
    tsdb::Options {
        wal: tsdb::WalOptions {
            segment_size: c.storage.wal.segment_size,
            fsync,
        },
        head: tsdb::HeadOptions::default(),
        retention_ms: c.storage.retention.time.as_millis(),
        retention_bytes: c.storage.retention.size_bytes,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let loaded = load(&args)?;
    match &loaded.path {
        Some(p) => tracing::info!(file = %p.display(), "configuration loaded"),
        None => tracing::info!("no --config.file: running the embedded defaults"),
    }
    let cfg = loaded.config.clone();
    if !args.listen_address.ip().is_loopback() && !cfg.auth.enabled() && !args.insecure_no_auth {
        bail!(
            "refusing to listen on {} without authentication: configure auth (bearer_tokens or basic_auth_users) \
             or pass --web.insecure-no-auth",
            args.listen_address
        );
    }
    let data_dir: PathBuf = args
        .storage_path
        .clone()
        .or_else(|| cfg.storage.path.clone())
        .unwrap_or_else(|| "data".into());
    let opts = tsdb_options(&cfg);
    let dir = data_dir.clone();
    let (db, report) = tokio::task::spawn_blocking(move || tsdb::Db::open(&dir, opts))
        .await
        .context("opening storage")?
        .with_context(|| format!("opening storage in {}", data_dir.display()))?;
    tracing::info!(
        dir = %data_dir.display(),
        series = report.head.series,
        samples = report.head.samples,
        chunks_loaded = report.head.chunks_loaded,
        samples_in_loaded_chunks_skipped = report.head.chunk_skipped,
        truncated_tails = report.wal.corrupt_tails_truncated,
        duration_ms = report.duration.as_millis() as u64,
        "storage opened"
    );

    let build = BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        revision: env!("AEROWATCH_REVISION").to_string(),
        rust_version: RUSTC_VERSION.to_string(),
    };
    let mut state = AppState::new(db.clone(), report, build).context("registering metrics")?;
    let max_series = (cfg.limits.max_series > 0).then_some(cfg.limits.max_series);
    let sink: Arc<TsdbSink> = Arc::new(TsdbSink::new(db.clone(), max_series));
    state.sink = sink.clone();
    let push = Arc::new(
        ingest::push::PushStore::open(Some(data_dir.join("pushgateway.json")), sink.clone())
            .map_err(|e| anyhow::anyhow!("loading pushed metrics: {e}"))?,
    );
    state.push = Some(push.clone());
    let rw = &cfg.limits.remote_write;
    state.write_limits = ingest::remote::WriteLimits {
        max_decompressed_bytes: rw.max_decompressed_bytes,
        max_labels_per_series: rw.max_labels_per_series,
        max_label_name_length: rw.max_label_name_length,
        max_label_value_length: rw.max_label_value_length,
    };
    state.body_limits.remote_write_bytes = rw.max_body_bytes;
    if let Some(n) = cfg.limits.max_request_body_bytes {
        state.body_limits.default_bytes = n;
    }
    state.remote_read_sample_limit = cfg.limits.remote_read.max_samples;
    state.environment = cfg.web.environment.clone();
    *state.auth.write() = Arc::new(server::auth::Authenticator::new(cfg.auth.clone()));
    state.engine = Arc::new(server::promql::Engine::new(engine_options(&cfg)));
    state.runtime.flags = status_flags(&args, &cfg, &data_dir);
    state.runtime.storage_retention =
        server::api::query::retention_string(cfg.storage.retention.time.as_millis(), cfg.storage.retention.size_bytes);
    state.runtime.corruption_count = state.open_report.wal.corrupt_tails_truncated;
    state.runtime.config_loaded(&loaded.text);

    let scrape = Arc::new(ScrapeManager::new(
        sink,
        format!("Aerowatch/{}", env!("CARGO_PKG_VERSION")),
    ));
    state.targets = Arc::new(crate::targets::ScrapeTargets(scrape.clone()));
    state.metadata = scrape.clone();
    let (reload_tx, mut reload_rx) = mpsc::channel::<server::ReloadRequest>(4);
    state.reload = Some(reload_tx);
    let am_config = cfg
        .alertmanager_config
        .clone()
        .context("the alertmanager configuration was not built")?;
    let am_dir = data_dir.join("alertmanager");
    let alertmanager = {
        let dir = am_dir.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            alertmanager::Alertmanager::new(
                am_config,
                alertmanager::EngineOptions {
                    data_dir: Some(dir),
                    ..Default::default()
                },
            )
            .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .await
        .context("starting the alertmanager")?
        .with_context(|| format!("loading silences and the notification log in {}", am_dir.display()))?
    };
    let alertmanager = Arc::new(alertmanager);
    state.alertmanager = Some(alertmanager.clone());
    let config_dir = loaded.path.as_ref().and_then(|p| p.parent()).map(Path::to_path_buf);
    let external_url = args
        .external_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", self_target(args.listen_address)))
        .trim_end_matches('/')
        .to_string();
    let templates = {
        let patterns = alertmanager.config().templates.clone();
        let dir = config_dir.clone();
        tokio::task::spawn_blocking(move || notify::load_templates(&patterns, dir.as_deref()))
            .await
            .context("loading notification templates")?
            .context("loading notification templates")?
    };
    let deliverer = notify::Deliverer::new(notify::DelivererOptions {
        external_url: external_url.clone(),
        templates,
        config_dir: config_dir.clone(),
        ..Default::default()
    });
    deliverer.init_metrics(&alertmanager.config());
    state.deliverer = Some(deliverer.clone());
    let rule_manager = Arc::new(rules::Manager::new(
        rules::EvalContext {
            engine: state.engine.clone(),
            queryable: Arc::new(db.clone()),
            sink: state.sink.clone(),
            notifier: Arc::new(crate::alerts::ToAlertmanager(
                alertmanager.clone(),
                state.recovery.clone(),
            )),
            templater: Arc::new(rules::template::GoTemplater::with_query(template_query(
                state.engine.clone(),
                Arc::new(db.clone()),
            ))),
            external_labels: cfg.global.external_labels.clone(),
            external_url,
            resend_delay_ms: 60_000,
            outage_tolerance_ms: 3_600_000,
            for_grace_period_ms: 600_000,
            metrics: Arc::default(),
        },
        cfg.global.evaluation_interval.get(),
    ));
    state.rules = Some(rule_manager.clone());
    *state.slos.write() = cfg.slos.clone();
    let checks = Arc::new(
        probes::Scheduler::start(cfg.compiled_checks.clone(), state.sink.clone(), Default::default())
            .context("starting health checks")?,
    );
    state.checks = Some(checks.clone());
    let check_defs = Arc::new(parking_lot::RwLock::new(cfg.compiled_checks.clone()));
    let recovery_parts = RecoveryParts {
        verifier: Arc::new(crate::alerts::CheckVerifier {
            checks: check_defs.clone(),
            prober: probes::Prober::new().context("building the recovery verifier")?,
        }),
        escalator: Arc::new(crate::alerts::AlertEscalator(alertmanager.clone())),
        dir: data_dir.join("recovery"),
        handle: state.recovery.clone(),
        task: Arc::new(parking_lot::Mutex::new(None)),
    };
    recovery_parts
        .start(cfg.compiled_recovery.clone(), &checks)
        .await
        .context("starting recovery")?;
    let dashboards_dir = data_dir.join("dashboards");
    let dashboards = tokio::task::spawn_blocking(move || ui::DashboardStore::open(Some(dashboards_dir)))
        .await
        .context("opening dashboards")?
        .context("opening dashboards")?;
    dashboards.set_files(cfg.loaded_dashboards.clone());
    state.dashboards = Arc::new(dashboards);
    let collectors = CollectorsRunner::default();
    collectors.apply(&cfg.collectors, state.sink.clone()).await;
    let state = Arc::new(state);

    let listener = tokio::net::TcpListener::bind(args.listen_address)
        .await
        .with_context(|| format!("listening on {}", args.listen_address))?;
    let local = listener.local_addr().context("reading the listen address")?;
    let tls = match &cfg.web.tls_server_config {
        None => None,
        Some(t) => {
            // reqwest and the scrape client use ring; the listener does too.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Some(
                RustlsConfig::from_pem_file(&t.cert_file, &t.key_file)
                    .await
                    .with_context(|| {
                        format!(
                            "loading TLS certificate {} and key {}",
                            t.cert_file.display(),
                            t.key_file.display()
                        )
                    })?,
            )
        }
    };
    tracing::info!(address = %local, "listening");

    if let Err(e) = scrape.apply_config(cfg.scrape_configs.clone()).await {
        tracing::error!(errors = ?e.errors, "some scrape jobs could not start");
    }
    if let Err(e) = rule_manager.update(cfg.loaded_rules.groups.clone()) {
        tracing::error!(error = %e, "rules could not start");
    }
    // The dispatcher: groups alerts and delivers notifications until shutdown,
    // then writes silences and the notification log a last time.
    let (am_stop, mut am_stopped) = tokio::sync::watch::channel(false);
    let am_task = tokio::spawn(alertmanager.clone().run(Arc::new(deliverer.clone()), async move {
        let _ = am_stopped.changed().await;
    }));
    server::set_ready(&state);

    // Periodic WAL fsync for the default `interval` policy.
    if cfg.storage.wal.fsync == FsyncMode::Interval {
        let db = db.clone();
        let every = cfg.storage.wal.fsync_interval.get().max(Duration::from_millis(100));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let db = db.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.sync()).await {
                    tracing::error!(error = %e, "periodic WAL fsync failed");
                }
            }
        });
    }

    // Pushed groups are written again every scrape interval, as a scraped
    // Pushgateway's would be, so they stay fresh for queries and alerts.
    {
        let push = push.clone();
        let every = cfg.global.scrape_interval.get().max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let push = push.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || push.append_all(model::now_millis())).await {
                    tracing::error!(error = %e, "writing pushed metrics failed");
                }
            }
        });
    }

    // Storage maintenance: cut head blocks, checkpoint the WAL, compact,
    // apply retention. Runs off the async threads, one round at a time.
    {
        let db = db.clone();
        let every = cfg.storage.maintenance_interval.get().max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let db = db.clone();
                match tokio::task::spawn_blocking(move || db.maintain()).await {
                    Ok(Ok(r)) if r != tsdb::MaintenanceReport::default() => tracing::info!(?r, "storage maintenance"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "storage maintenance failed; will retry"),
                    Err(e) => tracing::error!(error = %e, "storage maintenance panicked"),
                }
            }
        });
    }

    // Reloads come from SIGHUP and from POST /-/reload; one at a time.
    {
        let state = state.clone();
        let scrape = scrape.clone();
        let args = args.clone();
        let tls = tls.clone();
        let rule_manager = rule_manager.clone();
        let alertmanager = alertmanager.clone();
        let deliverer = deliverer.clone();
        let checks = checks.clone();
        let recovery_parts = recovery_parts.clone();
        let check_defs = check_defs.clone();
        let collectors = collectors.clone();
        tokio::spawn(async move {
            let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGHUP; reload only through POST /-/reload");
                    None
                }
            };
            loop {
                let reply = tokio::select! {
                    r = reload_rx.recv() => match r { Some(r) => Some(r), None => return },
                    _ = async { match hup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending::<()>().await } } => None,
                };
                let result = reload(
                    &args,
                    &state,
                    &scrape,
                    &rule_manager,
                    (&alertmanager, &deliverer),
                    (&checks, &check_defs, &recovery_parts, &collectors),
                    tls.as_ref(),
                )
                .await;
                match &result {
                    Ok(()) => tracing::info!("configuration reloaded"),
                    Err(e) => {
                        state.runtime.config_failed();
                        tracing::error!(error = %e, "reload failed; the previous configuration stays in force")
                    }
                }
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
        });
    }

    let app = server::router(state.clone());
    match tls {
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving HTTP")?,
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let on_signal = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                on_signal.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            let std_listener = listener.into_std().context("preparing the HTTPS listener")?;
            axum_server::from_tcp_rustls(std_listener, tls)
                .handle(handle)
                .serve(app.into_make_service())
                .await
                .context("serving HTTPS")?;
        }
    }

    tracing::info!("shutting down: stopping scrapes, rules and notifications, flushing the WAL");
    scrape.stop().await;
    rule_manager.stop();
    collectors.stop().await;
    let _ = am_stop.send(true);
    if let Err(e) = am_task.await {
        tracing::error!(error = %e, "the notification dispatcher failed");
    }
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || db2.sync())
        .await
        .context("flushing")?
        .context("flushing the WAL")?;
    tracing::info!("shutdown complete");
    Ok(())
}

async fn reload(
    args: &ServeArgs,
    state: &Arc<AppState>,
    scrape: &Arc<ScrapeManager>,
    rule_manager: &rules::Manager,
    (alertmanager, deliverer): (&alertmanager::Alertmanager, &notify::Deliverer),
    (checks, check_defs, recovery_parts, collectors): (
        &Arc<probes::Scheduler>,
        &parking_lot::RwLock<Vec<probes::Check>>,
        &RecoveryParts,
        &CollectorsRunner,
    ),
    tls: Option<&RustlsConfig>,
) -> Result<(), String> {
    let args = args.clone();
    let loaded = tokio::task::spawn_blocking(move || load(&args))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{e:#}"))?;
    let cfg = &loaded.config;
    if let (Some(live), Some(t)) = (tls, &cfg.web.tls_server_config) {
        live.reload_from_pem_file(&t.cert_file, &t.key_file)
            .await
            .map_err(|e| format!("reloading TLS certificate {}: {e}", t.cert_file.display()))?;
    }
    *state.auth.write() = Arc::new(server::auth::Authenticator::new(cfg.auth.clone()));
    scrape
        .apply_config(cfg.scrape_configs.clone())
        .await
        .map_err(|e| e.errors.join("; "))?;
    if let Some(am) = &cfg.alertmanager_config {
        let patterns = am.templates.clone();
        let dir = loaded.path.as_ref().and_then(|p| p.parent()).map(Path::to_path_buf);
        let templates = tokio::task::spawn_blocking(move || notify::load_templates(&patterns, dir.as_deref()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("notification templates: {e}"))?;
        alertmanager.reload(am.clone()).map_err(|e| e.to_string())?;
        deliverer.set_templates(templates);
        deliverer.init_metrics(am);
    }
    rule_manager.update(cfg.loaded_rules.groups.clone())?;
    checks.reload(cfg.compiled_checks.clone());
    *check_defs.write() = cfg.compiled_checks.clone();
    recovery_parts
        .start(cfg.compiled_recovery.clone(), checks)
        .await
        .map_err(|e| format!("recovery: {e}"))?;
    *state.slos.write() = cfg.slos.clone();
    state.dashboards.set_files(cfg.loaded_dashboards.clone());
    collectors.apply(&cfg.collectors, state.sink.clone()).await;
    state.runtime.config_loaded(&loaded.text);
    Ok(())
}

/// The running collectors and the configuration they run with; a reload
/// restarts them only when their section changed.
#[derive(Clone, Default)]
struct CollectorsRunner(Arc<tokio::sync::Mutex<Option<(collectors::CollectorsConfig, collectors::Collectors)>>>);

impl CollectorsRunner {
    async fn apply(&self, config: &collectors::CollectorsConfig, sink: Arc<dyn ingest::sink::SampleSink>) {
        let mut running = self.0.lock().await;
        if running.as_ref().is_some_and(|(c, _)| c == config) {
            return;
        }
        if let Some((_, old)) = running.take() {
            old.stop().await;
        }
        let started = collectors::Collectors::start(config, sink);
        tracing::info!(collectors = ?started.running(), "collectors started");
        *running = Some((config.clone(), started));
    }

    async fn stop(&self) {
        if let Some((_, c)) = self.0.lock().await.take() {
            c.stop().await;
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
