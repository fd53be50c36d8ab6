//! Redis probes: `PING` over the RESP protocol on a plain TCP connection
//! (after `AUTH` and `SELECT` when the URL asks for them). Success is a
//! `+PONG`; a Redis error reply (`-NOAUTH ...`, `-WRONGPASS ...`) is the
//! probe's error. No client library: three commands do not need one.
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::RedisCheck;
use crate::Attempt;

/// Longest reply line read (a PONG or an error message).
const MAX_REPLY: u64 = 4096;

fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn call(stream: &mut BufReader<TcpStream>, args: &[&str]) -> Result<String, String> {
    stream
        .get_mut()
        .write_all(&command(args))
        .await
        .map_err(|e| format!("sending {}: {e}", args[0]))?;
    let mut line = String::new();
    let n = tokio::io::AsyncReadExt::take(&mut *stream, MAX_REPLY)
        .read_line(&mut line)
        .await
        .map_err(|e| format!("reading the reply to {}: {e}", args[0]))?;
    if n == 0 {
        return Err(format!("connection closed before the reply to {}", args[0]));
    }
    let line = line.trim_end().to_string();
    match line.strip_prefix('-') {
        Some(err) => Err(format!("{}: {err}", args[0])),
        None => Ok(line),
    }
}

pub(crate) async fn probe(check: &RedisCheck) -> Attempt {
    let stream = match TcpStream::connect(check.address.as_str()).await {
        Ok(s) => s,
        Err(e) => return Attempt::failed(format!("connect {}: {e}", check.address)),
    };
    let mut stream = BufReader::new(stream);
    if !check.auth.is_empty() {
        let mut args = vec!["AUTH"];
        args.extend(check.auth.iter().map(String::as_str));
        if let Err(e) = call(&mut stream, &args).await {
            return Attempt::failed(e);
        }
    }
    if let Some(db) = check.db {
        let db = db.to_string();
        if let Err(e) = call(&mut stream, &["SELECT", &db]).await {
            return Attempt::failed(e);
        }
    }
    match call(&mut stream, &["PING"]).await {
        Ok(reply) if reply == "+PONG" => Attempt::ok(),
        Ok(reply) => Attempt::failed(format!("PING answered {reply:?}, not +PONG")),
        Err(e) => Attempt::failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_resp_arrays() {
        assert_eq!(command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            command(&["AUTH", "u", "pw"]),
            b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$2\r\npw\r\n"
        );
    }
}
