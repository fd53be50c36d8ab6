//! Prints one collection in the text exposition format, to compare with what
//! node_exporter, postgres_exporter or redis_exporter serve on the same machine.
//!
//! `cargo run -p collectors --example collect_once [-- --postgres DSN] [--redis URL] [--no-host]`
use collectors::{Collectors, CollectorsConfig, PostgresConfig, RedisConfig};

#[tokio::main]
async fn main() {
    let mut cfg = CollectorsConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-host" => cfg.host.enabled = false,
            "--postgres" | "--redis" => {
                let Some(value) = args.next() else {
                    usage();
                };
                if arg == "--postgres" {
                    cfg.postgres = Some(PostgresConfig {
                        dsn: value,
                        instance: None,
                    });
                } else {
                    cfg.redis = Some(RedisConfig {
                        url: value,
                        instance: None,
                    });
                }
            }
            _ => usage(),
        }
    }
    if let Err(problems) = cfg.validate() {
        for p in problems {
            eprintln!("{p}");
        }
        std::process::exit(1);
    }
    let mut samples = Collectors::collect_once(&cfg).await;
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    for (labels, value) in samples {
        println!("{labels} {value}");
    }
}

fn usage() -> ! {
    eprintln!("usage: collect_once [--postgres DSN] [--redis URL] [--no-host]");
    std::process::exit(2);
}
