//! A minimal HTTP/1.1 client over `tokio::net::TcpStream`: one request per connection
//! (`Connection: close`), plain `http://` only. Enough to drive the fake GitHub from tests
//! without depending on Nectr's own client.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one exchange may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (showing the body) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// The URL of the `Link` header's relation `rel` (`next`, `prev`, `first`, `last`).
    pub fn link(&self, rel: &str) -> Option<String> {
        let want = format!("rel=\"{rel}\"");
        self.header("link")?.split(',').find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params.split(';').any(|p| p.trim() == want).then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
        })
    }
}

/// Sends one request to `url` (`http://host:port/path?query`) and reads the whole answer.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    try_send(method, url, headers, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// A delivery to `server`'s webhook endpoint signed with `secret` as GitHub signs it, from
/// the webhook `hook_id`.
pub async fn deliver_signed(
    server: &str,
    secret: &str,
    hook_id: i64,
    event: &str,
    delivery: &str,
    body: &[u8],
) -> HttpResponse {
    let signature = nectr::github::webhook::sign(secret.as_bytes(), body);
    let hook = hook_id.to_string();
    send(
        "POST",
        &format!("{server}/api/v1/webhooks/github"),
        &[
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", delivery),
            ("X-Hub-Signature-256", &signature),
            ("X-GitHub-Hook-ID", &hook),
            ("Content-Type", "application/json"),
        ],
        Some(body),
    )
    .await
}

/// [`send`] that reports connection failures (refused, reset, timed out, a cut-off answer)
/// instead of panicking: for tests that kill the server on purpose.
pub async fn try_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<HttpResponse, String> {
    tokio::time::timeout(TIMEOUT, exchange(method, url, headers, body))
        .await
        .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
}

/// [`try_send`] from the local address `source` (any of 127.0.0.0/8 reaches a server on
/// 127.0.0.1): for tests of per-client limits.
pub async fn try_send_from(
    source: std::net::IpAddr,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<HttpResponse, String> {
    tokio::time::timeout(
        TIMEOUT,
        exchange_from(Some(source), method, url, headers, body),
    )
    .await
    .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
}

/// A TCP connection to `host` (`127.0.0.1:PORT`) from `source`, or from any address.
pub async fn connect_from(
    source: Option<std::net::IpAddr>,
    host: &str,
) -> Result<TcpStream, String> {
    let Some(source) = source else {
        return TcpStream::connect(host)
            .await
            .map_err(|e| format!("connect {host}: {e}"));
    };
    let target: std::net::SocketAddr = host
        .parse()
        .map_err(|e| format!("not an address {host}: {e}"))?;
    let socket = if source.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(|e| format!("socket: {e}"))?;
    socket
        .bind(std::net::SocketAddr::new(source, 0))
        .map_err(|e| format!("bind {source}: {e}"))?;
    socket
        .connect(target)
        .await
        .map_err(|e| format!("connect {host} from {source}: {e}"))
}

/// Waits up to `limit` for the peer to close `stream` (reading and discarding whatever
/// arrives); returns how long that took, or `None` when it stayed open.
pub async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

async fn exchange(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<HttpResponse, String> {
    exchange_from(None, method, url, headers, body).await
}

async fn exchange_from(
    source: Option<std::net::IpAddr>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<HttpResponse, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs: {url}"))?;
    let (host, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = connect_from(source, host).await?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: nectr-tests\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    } else if matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    stream
        .write_all(&out)
        .await
        .map_err(|e| format!("write request: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("read response: {e}"))?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!(
            "connection closed before a full answer ({} bytes)",
            raw.len()
        ));
    }
    Ok(parse_response(&raw, method == "HEAD"))
}

/// Parses one whole HTTP/1.1 answer (head and body) from `raw`.
pub fn parse_response(raw: &[u8], head_only: bool) -> HttpResponse {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if head_only || status == 204 || status == 304 {
        Vec::new()
    } else if chunked {
        dechunk(rest)
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..nl]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        data = &data[nl + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// A client bound to a base URL and (optionally) a token.
#[derive(Clone, Debug)]
pub struct Client {
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Sends `method path` (a path under the base, or an absolute URL) with the token as
    /// `Authorization: Bearer`, GitHub's JSON `Accept` unless `headers` has one, and `body`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            all.push(("Authorization", a));
        }
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
        {
            all.push(("Accept", "application/vnd.github+json"));
        }
        if body.is_some() {
            all.push(("Content-Type", "application/json"));
        }
        all.extend_from_slice(headers);
        send(method, &self.url(path), &all, body).await
    }

    pub async fn get(&self, path: &str) -> HttpResponse {
        self.send("GET", path, &[], None).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        self.send("GET", path, headers, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> HttpResponse {
        let b = serde_json::to_vec(body).expect("json");
        self.send("POST", path, &[], Some(&b)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> HttpResponse {
        let b = serde_json::to_vec(body).expect("json");
        self.send("PUT", path, &[], Some(&b)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> HttpResponse {
        let b = serde_json::to_vec(body).expect("json");
        self.send("PATCH", path, &[], Some(&b)).await
    }

    pub async fn delete(&self, path: &str) -> HttpResponse {
        self.send("DELETE", path, &[], None).await
    }
}
