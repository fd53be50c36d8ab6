//! The `aerowatch` binary: command line, configuration, wiring and lifecycle.
mod alerts;
mod config;
mod demo;
mod memory;
mod run;
mod targets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Aerowatch: metrics, alerting, health checks and dashboards in one binary.
#[derive(Parser, Debug)]
#[command(name = "aerowatch", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Run the server beside a small demo shop with traffic, scraped,
    /// checked and alerted on by the openaero preset (data in ./demo-data
    /// unless --storage.path says otherwise).
    Demo(ServeArgs),
    /// Validate a configuration file and exit non-zero with its errors.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Print version information.
    Version,
    /// Read a password from stdin and print its bcrypt hash for `auth.basic_auth_users`.
    HashPassword,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// `key=value` lines.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Flags of `serve`, named as Prometheus names them.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Configuration file; without it the embedded defaults run.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// Data directory.
    /// (default: storage.path from the config, else ./data)
    #[arg(long = "storage.path")]
    pub storage_path: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long = "web.listen-address", default_value = "127.0.0.1:9800")]
    pub listen_address: SocketAddr,
    /// Allow listening on a non-loopback address without any auth configured.
    #[arg(long = "web.insecure-no-auth")]
    pub insecure_no_auth: bool,
    /// The URL users reach Aerowatch at (links in alerts); default http://<listen address>.
    #[arg(long = "web.external-url")]
    pub external_url: Option<String>,
    /// Log level: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info")]
    pub log_level: String,
    /// Log format.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,
}

fn main() -> ExitCode {
    memory::tune_allocator();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => {
            println!(
                "aerowatch, version {} (rustc {})",
                env!("CARGO_PKG_VERSION"),
                run::RUSTC_VERSION
            );
            ExitCode::SUCCESS
        }
        Some(Command::CheckConfig { file }) => match config::load_file(&file) {
            Ok(l) => {
                println!(
                    "{}: SUCCESS: {} scrape config(s), {} rule group(s)",
                    file.display(),
                    l.config.scrape_configs.len(),
                    l.config.loaded_rules.groups.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        },
        Some(Command::HashPassword) => {
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_err() {
                eprintln!("could not read a password from stdin");
                return ExitCode::from(1);
            }
            match bcrypt::hash(line.trim_end_matches(['\n', '\r']), 10) {
                Ok(h) => {
                    println!("{h}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        Some(Command::Serve(args)) => run::main(args),
        Some(Command::Demo(args)) => run::demo(args),
        None => run::main(cli.serve),
    }
}
