//! The HTTP behaviour both providers share: one reqwest client (rustls + ring, webpki
//! roots), a per-attempt timeout, and retries.
//!
//! Retry rules (the decision is [`retry_wait`], a pure function, tested without a server):
//! - 429, 500, 502, 503, 504 and 529 (Anthropic "overloaded") are retried up to
//!   `max_retries` times, waiting what `retry-after-ms` / `retry-after` (seconds or an HTTP
//!   date) asks, else exponential backoff with jitter. A wait longer than `max_wait` is not
//!   attempted: the call fails at once with the server's message.
//! - A 429 whose body says `insufficient_quota` is final: waiting does not add credit.
//! - A connection that could not be made is retried the same way (nothing was sent).
//! - A timeout is final: the server may be generating (and billing) the reply, and the
//!   caller's deadline is better spent elsewhere.
//! - 401/403 are [`LlmError::Unauthorized`]; other statuses are [`LlmError::Status`] with
//!   the provider's own message (`{"error":{"message"}}`, `{"error":"…"}`, `{"message"}`),
//!   which is logged (stderr / the server log) but not part of the error's text: that text
//!   reaches posted reviews, and no response body is ever copied there.
//! - Redirects are never followed: a 3xx is a final [`LlmError::Status`], so neither the
//!   prompt nor the key goes on to another host.
//!
//! Errors carry a label `model (endpoint)` where the endpoint has no query string and no
//! user-info, and every message is scrubbed of the API key.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use super::LlmError;

/// Default seconds one HTTP attempt may take.
pub const DEFAULT_TIMEOUT_SECS: u64 = 120;
/// Default retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default longest single wait before a retry.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(60);
/// Default first backoff step (doubles each attempt).
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(1);

/// Timeout and retry settings of one provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// One attempt, from connecting to the last byte of the reply.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff step; doubles each attempt, half of it random.
    pub base_delay: Duration,
    /// The longest wait before a retry; a server asking for more fails the call.
    pub max_wait: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay: DEFAULT_BASE_DELAY,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

/// An API key. Its `Debug` never shows it and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    pub fn new(key: impl AsRef<str>) -> ApiKey {
        ApiKey(Arc::from(key.as_ref().trim()))
    }

    /// The key itself, for a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced.
    pub fn scrub(&self, text: &str) -> String {
        // Very short "keys" (local servers accept anything) would blank out ordinary words.
        if self.0.len() >= 6 && text.contains(&*self.0) {
            text.replace(&*self.0, "[redacted]")
        } else {
            text.to_owned()
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// `url` without query, fragment or user-info, for messages.
pub fn display_url(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string().trim_end_matches('/').to_owned()
}

/// [`display_url`] for a string that may not parse: the query and any user-info dropped.
pub fn display_url_str(url: &str) -> String {
    if let Ok(u) = reqwest::Url::parse(url) {
        return display_url(&u);
    }
    let no_query = url.split(['?', '#']).next().unwrap_or_default();
    match no_query.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !host.contains('/') || rest.find('@') < rest.find('/') => {
                format!("{scheme}://{host}")
            }
            _ => no_query.to_owned(),
        },
        None => no_query.to_owned(),
    }
}

/// The shared client: rustls with the ring provider and the bundled webpki roots (a bare
/// container has no system certificates).
pub fn build_client() -> Result<reqwest::Client, String> {
    crate::github::transport::install_crypto_provider();
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(concat!("nectr/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        // The key and the prompt go to the configured endpoint only, never on to wherever
        // it points (a 302 to a metadata service was an SSRF).
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// One JSON POST endpoint of a provider, with its headers and options.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub client: reqwest::Client,
    pub url: reqwest::Url,
    pub headers: HeaderMap,
    pub options: HttpOptions,
    /// `model (endpoint)`, for errors.
    pub label: String,
    pub key: Option<ApiKey>,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &display_url(&self.url))
            .field("header_names", &self.headers.keys().collect::<Vec<_>>())
            .field("options", &self.options)
            .field("key", &self.key)
            .finish()
    }
}

impl Endpoint {
    pub fn new(
        client: reqwest::Client,
        url: reqwest::Url,
        model: &str,
        options: HttpOptions,
        key: Option<ApiKey>,
    ) -> Endpoint {
        let label = format!("{model} ({})", display_url(&url));
        Endpoint {
            client,
            url,
            headers: HeaderMap::new(),
            options,
            label,
            key,
        }
    }

    /// Adds a header; `secret` ones are marked sensitive (hidden from hyper's debug output).
    pub fn header(&mut self, name: &'static str, value: &str, secret: bool) -> Result<(), String> {
        let mut v = HeaderValue::from_str(value)
            .map_err(|_| format!("the value of header {name} is not valid in HTTP"))?;
        v.set_sensitive(secret);
        self.headers.insert(HeaderName::from_static(name), v);
        Ok(())
    }

    fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(k) => k.scrub(text),
            None => text.to_owned(),
        }
    }

    /// POSTs `body`, retrying as the module docs say; the parsed JSON reply on success.
    pub async fn post_json(&self, body: &Value) -> Result<Value, LlmError> {
        let opts = &self.options;
        let mut attempt: u32 = 0;
        loop {
            let sent = self
                .client
                .post(self.url.clone())
                .headers(self.headers.clone())
                .timeout(opts.timeout)
                .json(body)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    let err = self.transport_error(e);
                    if matches!(err, LlmError::Transport { .. })
                        && attempt < opts.max_retries
                        && is_connect_error(&err)
                    {
                        tokio::time::sleep(backoff(opts, attempt, fastrand::f64())).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(err);
                }
            };
            let status = response.status().as_u16();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect();
            let text = match response.text().await {
                Ok(t) => t,
                Err(e) => return Err(self.transport_error(e)),
            };
            if (200..300).contains(&status) {
                // Only where parsing stopped, never the body: it could be anything.
                return serde_json::from_str(&text).map_err(|e| LlmError::Malformed {
                    model: self.label.clone(),
                    message: format!(
                        "the reply is not JSON (line {} column {}, {} bytes)",
                        e.line(),
                        e.column(),
                        text.len()
                    ),
                });
            }
            if status == 401 || status == 403 {
                return Err(LlmError::Unauthorized {
                    model: self.label.clone(),
                    status,
                });
            }
            let message = self.scrub(&error_message(&text));
            match retry_wait(
                opts,
                attempt,
                status,
                &headers,
                &text,
                SystemTime::now(),
                fastrand::f64(),
            ) {
                RetryDecision::Retry(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                RetryDecision::Final => {
                    self.log_status(status, &message);
                    return Err(LlmError::Status {
                        model: self.label.clone(),
                        status,
                        message,
                    });
                }
                RetryDecision::GiveUp(why) => {
                    self.log_status(status, &format!("{message} ({why})"));
                    return Err(LlmError::Status {
                        model: self.label.clone(),
                        status,
                        message: format!("{message} ({why})"),
                    });
                }
            }
        }
    }

    /// The provider's message goes to the log only (see the module docs).
    fn log_status(&self, status: u16, message: &str) {
        crate::error::notice(&format!(
            "nectr: {} answered HTTP {status}: {message}",
            self.label
        ));
    }

    fn transport_error(&self, e: reqwest::Error) -> LlmError {
        if e.is_timeout() {
            return LlmError::Timeout {
                model: self.label.clone(),
                secs: self.options.timeout.as_secs_f64().ceil() as u64,
            };
        }
        let connect = e.is_connect();
        // The cause chain carries the useful part ("connection refused", "invalid peer
        // certificate"); `without_url` keeps the URL (and its query) out of it.
        let e = e.without_url();
        let mut message = self.scrub(&error_chain(&e));
        if connect {
            message = format!("{CONNECT_PREFIX}{message}");
        }
        LlmError::Transport {
            model: self.label.clone(),
            message,
        }
    }
}

const CONNECT_PREFIX: &str = "could not connect: ";

fn is_connect_error(err: &LlmError) -> bool {
    matches!(err, LlmError::Transport { message, .. } if message.starts_with(CONNECT_PREFIX))
}

/// Formats a reqwest error with its causes, one line.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = c.source();
    }
    parts.join(": ")
}

/// What to do after a non-success, non-auth response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    Retry(Duration),
    /// Not retryable: report the status.
    Final,
    /// Retryable, but not now: out of attempts or the server asks for too long a wait.
    GiveUp(String),
}

/// Statuses worth sending again.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 529)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The wait a response asks for: `retry-after-ms`, else `retry-after` in seconds (integer or
/// decimal) or as an HTTP date.
pub fn requested_wait(headers: &[(String, String)], now: SystemTime) -> Option<Duration> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = header(headers, "retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff: `base * 2^attempt`, the upper half random.
pub fn backoff(opts: &HttpOptions, attempt: u32, jitter: f64) -> Duration {
    let exp = opts.base_delay.saturating_mul(1u32 << attempt.min(16));
    exp.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
        .min(opts.max_wait)
}

/// Decide after attempt `attempt` (0 for the first) answered `status`.
pub fn retry_wait(
    opts: &HttpOptions,
    attempt: u32,
    status: u16,
    headers: &[(String, String)],
    body: &str,
    now: SystemTime,
    jitter: f64,
) -> RetryDecision {
    if !is_retryable_status(status) {
        return RetryDecision::Final;
    }
    if status == 429 && body.contains("insufficient_quota") {
        return RetryDecision::Final;
    }
    if attempt >= opts.max_retries {
        return RetryDecision::GiveUp(format!(
            "gave up after {} {}",
            attempt + 1,
            if attempt == 0 { "attempt" } else { "attempts" }
        ));
    }
    match requested_wait(headers, now) {
        Some(wait) if wait > opts.max_wait => RetryDecision::GiveUp(format!(
            "the server asks to retry after {} s, more than the {} s Nectr waits",
            wait.as_secs_f64().ceil() as u64,
            opts.max_wait.as_secs()
        )),
        Some(wait) => RetryDecision::Retry(wait),
        None => RetryDecision::Retry(backoff(opts, attempt, jitter)),
    }
}

/// The provider's error message from an error body: OpenAI and Anthropic
/// `{"error":{"message"}}`, Ollama `{"error":"…"}`, others `{"message"}` / `{"detail"}`;
/// else the body's start.
pub fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let found = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .or_else(|| v.get("error").and_then(Value::as_str))
            .or_else(|| v.get("message").and_then(Value::as_str))
            .or_else(|| v.get("detail").and_then(Value::as_str))
            .map(str::to_owned)
    });
    let text = found.unwrap_or_else(|| body.trim().to_owned());
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(no message)".to_owned();
    }
    let cut: String = one_line.chars().take(300).collect();
    if cut.len() < one_line.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            requested_wait(&h(&[("Retry-After", "3")]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            requested_wait(&h(&[("retry-after", "1.5")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            requested_wait(&h(&[("retry-after-ms", "250"), ("retry-after", "9")]), now),
            Some(Duration::from_millis(250))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            requested_wait(&h(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
        assert_eq!(
            requested_wait(&h(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(requested_wait(&h(&[("retry-after", "soon")]), now), None);
        assert_eq!(requested_wait(&[], now), None);
    }

    #[test]
    fn decisions() {
        let o = HttpOptions::default();
        let now = SystemTime::now();
        assert_eq!(
            retry_wait(&o, 0, 400, &[], "", now, 0.0),
            RetryDecision::Final
        );
        assert_eq!(
            retry_wait(&o, 0, 404, &[], "", now, 0.0),
            RetryDecision::Final
        );
        assert_eq!(
            retry_wait(&o, 0, 500, &[], "", now, 0.0),
            RetryDecision::Retry(Duration::from_millis(500))
        );
        assert_eq!(
            retry_wait(&o, 2, 503, &[], "", now, 1.0),
            RetryDecision::Retry(Duration::from_secs(4))
        );
        assert_eq!(
            retry_wait(&o, 0, 429, &h(&[("retry-after", "2")]), "", now, 0.0),
            RetryDecision::Retry(Duration::from_secs(2))
        );
        assert!(matches!(
            retry_wait(&o, 3, 529, &[], "", now, 0.0),
            RetryDecision::GiveUp(_)
        ));
        assert!(matches!(
            retry_wait(&o, 0, 429, &h(&[("retry-after", "600")]), "", now, 0.0),
            RetryDecision::GiveUp(m) if m.contains("600 s")
        ));
        assert_eq!(
            retry_wait(
                &o,
                0,
                429,
                &[],
                r#"{"error":{"code":"insufficient_quota"}}"#,
                now,
                0.0
            ),
            RetryDecision::Final
        );
        // Backoff never exceeds the cap.
        assert!(backoff(&o, 30, 1.0) <= o.max_wait);
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            error_message(r#"{"error":{"message":"bad  model\nname","type":"x"}}"#),
            "bad model name"
        );
        assert_eq!(
            error_message(
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too big"}}"#
            ),
            "max_tokens: too big"
        );
        assert_eq!(
            error_message(r#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(
            error_message("<html>Bad Gateway</html>"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(error_message(""), "(no message)");
    }

    #[test]
    fn keys_are_hidden() {
        let k = ApiKey::new("sk-secret-123456");
        assert_eq!(format!("{k:?}"), "ApiKey([redacted])");
        assert_eq!(
            k.scrub("Incorrect API key provided: sk-secret-123456."),
            "Incorrect API key provided: [redacted]."
        );
        let u = reqwest::Url::parse("https://user:pw@x.openai.azure.com/openai/deployments/d/chat/completions?api-version=1&key=2").unwrap();
        assert_eq!(
            display_url(&u),
            "https://x.openai.azure.com/openai/deployments/d/chat/completions"
        );
    }

    #[test]
    fn client_builds_with_ring_and_webpki_roots() {
        build_client().expect("client");
    }
}
