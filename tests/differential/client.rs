//! A small HTTP/1.1 client over one kept-alive connection that sends a request target byte
//! for byte as given (real clients normalise the very paths under test).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One answer: status, the headers that matter here, and the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `X-App`: set by an app's handler, never by the gateway.
    pub app: Option<String>,
    /// `X-Area`: the area of the handler the app chose.
    pub area: Option<String>,
    pub body: String,
}

pub struct Client {
    addr: String,
    conn: Option<TcpStream>,
}

impl Client {
    pub fn new(addr: &str) -> Self {
        Client {
            addr: addr.to_string(),
            conn: None,
        }
    }

    /// Sends `GET <target>` with `headers` (each `Name: value`).
    pub async fn get(&mut self, target: &str, headers: &[String]) -> Answer {
        self.send("GET", target, headers).await
    }

    /// Sends `<method> <target>` with `headers` and no body, retrying once on a fresh
    /// connection when the kept-alive one was closed.
    pub async fn send(&mut self, method: &str, target: &str, headers: &[String]) -> Answer {
        let mut req = format!("{method} {target} HTTP/1.1\r\n");
        for h in headers {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        for attempt in 0..2 {
            if self.conn.is_none() {
                self.conn = Some(TcpStream::connect(&self.addr).await.expect("connect"));
            }
            let conn = self.conn.as_mut().expect("connected");
            match tokio::time::timeout(Duration::from_secs(10), exchange(conn, req.as_bytes()))
                .await
            {
                Ok(Some((answer, keep))) => {
                    if !keep {
                        self.conn = None;
                    }
                    return answer;
                }
                _ if attempt == 0 => self.conn = None,
                _ => break,
            }
        }
        panic!("no answer for {target:?} from {}", self.addr);
    }
}

/// Writes the request and reads one response; `None` when the connection died first.
async fn exchange(conn: &mut TcpStream, req: &[u8]) -> Option<(Answer, bool)> {
    conn.write_all(req).await.ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()?
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())?;
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    let length: Option<usize> = header("content-length").and_then(|v| v.parse().ok());
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    let (app, area) = (header("x-app"), header("x-area"));
    let mut body = buf[head_end..].to_vec();
    if chunked {
        body = read_chunked(conn, body).await?;
    } else if let Some(len) = length {
        while body.len() < len {
            let n = conn.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
    } else if status != 204 && status != 304 {
        // Neither: the body runs to the end of the connection.
        while let Ok(n) = conn.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        return Some((answer(status, app, area, &body), false));
    }
    Some((answer(status, app, area, &body), !close))
}

fn answer(status: u16, app: Option<String>, area: Option<String>, body: &[u8]) -> Answer {
    Answer {
        status,
        app,
        area,
        body: String::from_utf8_lossy(body).to_string(),
    }
}

async fn read_chunked(conn: &mut TcpStream, mut raw: Vec<u8>) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = raw.windows(5).position(|w| w == b"0\r\n\r\n") {
            // Decode what arrived: size line, data, CRLF, until the last chunk.
            let mut out = Vec::new();
            let mut rest = &raw[..end + 5];
            while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
                let size =
                    usize::from_str_radix(std::str::from_utf8(&rest[..i]).ok()?.trim(), 16).ok()?;
                if size == 0 {
                    return Some(out);
                }
                out.extend_from_slice(rest.get(i + 2..i + 2 + size)?);
                rest = rest.get(i + 2 + size + 2..)?;
            }
            return Some(out);
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    }
}
