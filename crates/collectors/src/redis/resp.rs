//! A minimal RESP2 client: enough to send `AUTH`, `SELECT` and `INFO` over a
//! plain TCP connection and read their replies, with a cap on reply size so a
//! misbehaving server cannot make us buffer without bound.
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest reply read (an `INFO ALL` of a busy server is well under 100 KiB).
pub(crate) const MAX_REPLY_BYTES: usize = 4 << 20;

/// Deepest array nesting accepted.
const MAX_DEPTH: usize = 8;

/// Longest status, error or header line accepted; stops a server that never
/// sends CRLF from making every read rescan a growing buffer.
const MAX_LINE: usize = 64 * 1024;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR ...`: the server refused the command.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$n` bulk string; `None` for the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `*n` array; `None` for the null array.
    Array(Option<Vec<Reply>>),
}

/// Why a command got no reply.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RespError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// The bytes were not RESP.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The reply was larger than the cap.
    #[error("reply larger than {0} bytes")]
    TooLarge(usize),
}

/// A command as a RESP array of bulk strings.
pub(crate) fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses one reply from the front of `buf`: the reply and the bytes it took,
/// or `None` when `buf` does not hold all of it yet.
pub(crate) fn parse(buf: &[u8], max: usize) -> Result<Option<(Reply, usize)>, RespError> {
    parse_at(buf, 0, 0, max)
}

fn parse_at(buf: &[u8], pos: usize, depth: usize, max: usize) -> Result<Option<(Reply, usize)>, RespError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(end) = find_crlf(buf, pos + 1) else {
        if buf.len() - pos > MAX_LINE {
            return Err(RespError::Protocol("line too long".to_string()));
        }
        return Ok(None);
    };
    let line = &buf[pos + 1..end];
    let next = end + 2;
    let text = || String::from_utf8_lossy(line).into_owned();
    let int = || -> Result<i64, RespError> {
        std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| RespError::Protocol(format!("bad length or integer {:?}", text())))
    };
    match kind {
        b'+' => Ok(Some((Reply::Status(text()), next))),
        b'-' => Ok(Some((Reply::Error(text()), next))),
        b':' => Ok(Some((Reply::Integer(int()?), next))),
        b'$' => {
            let len = int()?;
            if len == -1 {
                return Ok(Some((Reply::Bulk(None), next)));
            }
            let len = usize::try_from(len).map_err(|_| RespError::Protocol(format!("bulk length {len}")))?;
            if len > max {
                return Err(RespError::TooLarge(max));
            }
            let Some(data) = buf.get(next..next + len + 2) else {
                return Ok(None);
            };
            if &data[len..] != b"\r\n" {
                return Err(RespError::Protocol("bulk string not followed by CRLF".to_string()));
            }
            Ok(Some((Reply::Bulk(Some(data[..len].to_vec())), next + len + 2)))
        }
        b'*' => {
            let n = int()?;
            if n == -1 {
                return Ok(Some((Reply::Array(None), next)));
            }
            let n = usize::try_from(n).map_err(|_| RespError::Protocol(format!("array length {n}")))?;
            // Every element takes at least 3 bytes ("+\r\n").
            if n.saturating_mul(3) > max {
                return Err(RespError::TooLarge(max));
            }
            if depth >= MAX_DEPTH {
                return Err(RespError::Protocol("arrays nested too deep".to_string()));
            }
            let mut items = Vec::with_capacity(n.min(1024));
            let mut at = next;
            for _ in 0..n {
                match parse_at(buf, at, depth + 1, max)? {
                    Some((item, after)) => {
                        items.push(item);
                        at = after;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), at)))
        }
        other => Err(RespError::Protocol(format!("unexpected reply type byte {other:#04x}"))),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let window = buf.get(from..)?;
    let window = &window[..window.len().min(MAX_LINE + 2)];
    window.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// One connection to a server. Commands run one at a time.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Opens a TCP connection to `host:port` (names are resolved).
    pub async fn connect(address: &str) -> Result<Connection, RespError> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one command and reads its reply. An error reply is `Ok(Reply::Error)`.
    pub async fn call(&mut self, args: &[&[u8]]) -> Result<Reply, RespError> {
        self.stream.write_all(&encode(args)).await?;
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            if let Some((reply, used)) = parse(&self.buf, MAX_REPLY_BYTES)? {
                self.buf.drain(..used);
                return Ok(reply);
            }
            if self.buf.len() > MAX_REPLY_BYTES {
                return Err(RespError::TooLarge(MAX_REPLY_BYTES));
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(RespError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(encode(&[b"INFO", b"ALL"]), b"*2\r\n$4\r\nINFO\r\n$3\r\nALL\r\n");
        assert_eq!(encode(&[b"AUTH", b"p w"]), b"*2\r\n$4\r\nAUTH\r\n$3\r\np w\r\n");
    }

    #[test]
    fn replies() {
        let p = |b: &[u8]| parse(b, 1024).unwrap();
        assert_eq!(p(b"+OK\r\n"), Some((Reply::Status("OK".into()), 5)));
        assert_eq!(p(b"-ERR no\r\n"), Some((Reply::Error("ERR no".into()), 9)));
        assert_eq!(p(b":42\r\nextra"), Some((Reply::Integer(42), 5)));
        assert_eq!(p(b"$3\r\nabc\r\n"), Some((Reply::Bulk(Some(b"abc".to_vec())), 9)));
        assert_eq!(p(b"$-1\r\n"), Some((Reply::Bulk(None), 5)));
        assert_eq!(p(b"$0\r\n\r\n"), Some((Reply::Bulk(Some(Vec::new())), 6)));
        assert_eq!(
            p(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"),
            Some((
                Reply::Array(Some(vec![
                    Reply::Bulk(Some(b"a".to_vec())),
                    Reply::Array(Some(vec![Reply::Integer(1)]))
                ])),
                19
            ))
        );
        assert_eq!(p(b"*-1\r\n"), Some((Reply::Array(None), 5)));
    }

    #[test]
    fn partial_replies_wait_for_more() {
        for partial in [
            &b""[..],
            b"+OK",
            b"+OK\r",
            b"$3\r\nab",
            b"$3\r\nabc\r",
            b"*2\r\n:1\r\n",
            b"$10",
        ] {
            assert_eq!(parse(partial, 1024).unwrap(), None, "{partial:?}");
        }
    }

    #[test]
    fn bad_and_oversized_replies_are_errors() {
        assert!(matches!(parse(b"$2048\r\n", 1024), Err(RespError::TooLarge(1024))));
        assert!(matches!(parse(b"*1000\r\n", 1024), Err(RespError::TooLarge(_))));
        assert!(matches!(parse(b"$x\r\n", 1024), Err(RespError::Protocol(_))));
        assert!(matches!(parse(b"$-5\r\n", 1024), Err(RespError::Protocol(_))));
        assert!(matches!(parse(b"$1\r\nab\r\n", 1024), Err(RespError::Protocol(_))));
        assert!(matches!(parse(b"?\r\n", 1024), Err(RespError::Protocol(_))));
        let endless = vec![b'+'; MAX_LINE + 10];
        assert!(matches!(parse(&endless, usize::MAX), Err(RespError::Protocol(_))));
        let deep = "*1\r\n".repeat(20) + ":1\r\n";
        assert!(matches!(parse(deep.as_bytes(), 1024), Err(RespError::Protocol(_))));
    }

    #[tokio::test]
    async fn a_server_that_streams_forever_hits_the_cap() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut cmd = [0u8; 64];
            let _ = s.read(&mut cmd).await;
            // An array whose announced elements add up to more than the cap.
            let _ = s.write_all(b"*100000\r\n").await;
            let item = format!("${}\r\n{}\r\n", 94, "x".repeat(94));
            let chunk = item.repeat(1000);
            for _ in 0..(MAX_REPLY_BYTES / chunk.len() + 8) {
                if s.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let mut c = Connection::connect(&addr).await.unwrap();
        let r = tokio::time::timeout(std::time::Duration::from_secs(20), c.call(&[b"PING"])).await;
        assert!(matches!(r, Ok(Err(RespError::TooLarge(_)))), "{r:?}");
        server.abort();
    }
}
