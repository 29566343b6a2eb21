//! How requests reach GitHub: a [`Transport`] sends one HTTP request and returns the
//! response, nothing more. Retries, rate limits, ETags and pagination live above it in
//! [`super::client`], so they behave the same whether the transport is the network
//! ([`OctocrabTransport`]), a recorder writing a bundle, or a bundle being replayed
//! ([`super::bundle`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Safe to send twice: reads, and writes that set a state rather than create one.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post)
    }
}

/// One request. `url` is absolute (the API base joined with the path, or a `Link` URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub accept: Option<String>,
    pub if_none_match: Option<String>,
    /// JSON body.
    pub body: Option<serde_json::Value>,
}

impl Request {
    pub fn get(url: impl Into<String>) -> Request {
        Request {
            method: Method::Get,
            url: url.into(),
            accept: None,
            if_none_match: None,
            body: None,
        }
    }

    pub fn with_body(method: Method, url: impl Into<String>, body: serde_json::Value) -> Request {
        Request {
            method,
            url: url.into(),
            accept: None,
            if_none_match: None,
            body: Some(body),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The request never got a response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Response, TransportError>>;
}

/// A shared transport (a recorder the caller reads back afterwards).
impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Response, TransportError>> {
        (**self).send(request)
    }
}

/// The network, through octocrab over rustls. Octocrab's own retry layer is not compiled
/// in (it would re-send POSTs); it provides the connection pool, TLS, timeouts and auth.
pub struct OctocrabTransport {
    octocrab: octocrab::Octocrab,
}

/// Timeouts per request; a review's overall deadline is the caller's business.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

impl OctocrabTransport {
    pub fn new(api_url: &str, token: Option<&str>) -> Result<Self, TransportError> {
        Self::with_timeouts(api_url, token, CONNECT_TIMEOUT, READ_TIMEOUT)
    }

    /// [`OctocrabTransport::new`] with other per-request timeouts (`read` bounds each wait
    /// for bytes from the server, so a stalled response fails instead of hanging).
    pub fn with_timeouts(
        api_url: &str,
        token: Option<&str>,
        connect: Duration,
        read: Duration,
    ) -> Result<Self, TransportError> {
        install_crypto_provider();
        let mut builder = octocrab::Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| TransportError(format!("invalid GitHub API URL {api_url:?}: {e}")))?
            .add_header(
                http::header::USER_AGENT,
                format!("nectr/{}", env!("CARGO_PKG_VERSION")),
            )
            .add_header(
                http::HeaderName::from_static("x-github-api-version"),
                "2022-11-28".to_owned(),
            )
            .set_connect_timeout(Some(connect))
            .set_read_timeout(Some(read));
        if let Some(token) = token {
            builder = builder.personal_token(token.to_owned());
        }
        let octocrab = builder
            .build()
            .map_err(|e| TransportError(format!("cannot set up the GitHub client: {e}")))?;
        Ok(OctocrabTransport { octocrab })
    }
}

/// rustls needs one process-wide crypto provider; ring is the only one linked.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Transport for OctocrabTransport {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Response, TransportError>> {
        Box::pin(async move {
            let method = match request.method {
                Method::Get => http::Method::GET,
                Method::Post => http::Method::POST,
                Method::Put => http::Method::PUT,
                Method::Patch => http::Method::PATCH,
                Method::Delete => http::Method::DELETE,
            };
            let uri: http::Uri = request
                .url
                .parse()
                .map_err(|e| TransportError(format!("invalid URL {}: {e}", request.url)))?;
            let mut builder = http::Request::builder().method(method).uri(uri);
            builder = builder.header(
                http::header::ACCEPT,
                request
                    .accept
                    .as_deref()
                    .unwrap_or("application/vnd.github+json"),
            );
            if let Some(etag) = &request.if_none_match {
                builder = builder.header(http::header::IF_NONE_MATCH, etag);
            }
            let http_request = self
                .octocrab
                .build_request(builder, request.body.as_ref())
                .map_err(|e| TransportError(format!("cannot build request: {e}")))?;
            let response = self
                .octocrab
                .execute(http_request)
                .await
                .map_err(|e| TransportError(describe_octocrab_error(&e)))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| TransportError(format!("reading the response failed: {e}")))?
                .to_bytes()
                .to_vec();
            Ok(Response {
                status,
                headers,
                body,
            })
        })
    }
}

/// Octocrab's errors nest the useful part; never include request headers (the token).
fn describe_octocrab_error(error: &octocrab::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        // hyper's errors repeat their source in their own message; say each part once.
        let part = cause.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connection_errors_read_once_and_never_show_the_token() {
        let transport = OctocrabTransport::with_timeouts(
            "http://127.0.0.1:9",
            Some("secret-token-value"),
            Duration::from_secs(2),
            Duration::from_secs(2),
        )
        .unwrap();
        let err = transport
            .send(&Request::get("http://127.0.0.1:9/repos/a/b"))
            .await
            .unwrap_err();
        assert!(err.0.contains("Connection refused"), "{}", err.0);
        assert_eq!(err.0.matches("tcp connect error").count(), 1, "{}", err.0);
        assert!(!err.0.contains("secret-token-value"));
    }
}
