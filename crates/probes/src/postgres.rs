//! PostgreSQL probes: connect (plain TCP or a Unix socket), run one statement
//! through the simple query protocol so any statement works, disconnect.
use tokio_postgres::NoTls;

use crate::config::PostgresCheck;
use crate::Attempt;

pub(crate) async fn probe(check: &PostgresCheck) -> Attempt {
    let (client, connection) = match check.config.connect(NoTls).await {
        Ok(pair) => pair,
        Err(e) => return Attempt::failed(format!("connect {}: {}", check.address, describe(&e))),
    };
    // The connection future does the socket I/O; it ends when the client drops.
    let io = tokio::spawn(connection);
    let outcome = match client.simple_query(&check.query).await {
        Ok(_) => Attempt::ok(),
        Err(e) => Attempt::failed(format!("query {:?}: {}", check.query, describe(&e))),
    };
    drop(client);
    let _ = io.await;
    outcome
}

/// The server's own message for database errors ("db error" alone says
/// nothing), and the cause chain for I/O ones ("error connecting to server:
/// Connection refused").
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    crate::http::error_chain(e)
}
