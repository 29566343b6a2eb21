//! Recorded bundles: `nectr record` saves the event and every GitHub response a review
//! used; `nectr review --replay DIR` runs the whole pipeline again offline against them.
//!
//! Recording and replay are transports ([`RecordingTransport`], [`ReplayTransport`]), so
//! the client's pagination, ETag and error handling run exactly as they did live.
//!
//! Layout of a bundle directory:
//! - `bundle.json` — `{"schema": "nectr.bundle/v1", "repo", "number", "head_sha"}`
//! - `event.json` — the `pull_request` event payload that was reviewed
//! - `responses.json` — every exchange in order: method, path (relative to the API base),
//!   accept, status, the headers that matter, body
//!
//! Tokens are never written: requests are stored without headers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::transport::{BoxFuture, Method, Request, Response, Transport, TransportError};

pub const SCHEMA: &str = "nectr.bundle/v1";
/// The API base a replayed client uses; never contacted.
pub const REPLAY_API_URL: &str = "https://replay.nectr.invalid";
/// Response headers worth keeping (pagination, caching, rate limits, content type).
const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "etag",
    "link",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-resource",
    "x-oauth-scopes",
    "retry-after",
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub repo: String,
    pub number: u64,
    pub head_sha: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    pub method: Method,
    pub path: String,
    #[serde(default)]
    pub accept: Option<String>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text (GitHub's JSON and diffs are UTF-8; anything else is kept lossily).
    pub body: String,
}

fn relative(url: &str, base: &str) -> String {
    url.strip_prefix(base).unwrap_or(url).to_owned()
}

/// Forwards to a live transport and keeps a copy of every exchange. Writes are refused:
/// recording never changes anything on GitHub.
pub struct RecordingTransport {
    inner: Box<dyn Transport>,
    api_url: String,
    exchanges: Mutex<Vec<Exchange>>,
}

impl RecordingTransport {
    pub fn new(inner: Box<dyn Transport>, api_url: &str) -> Self {
        RecordingTransport {
            inner,
            api_url: api_url.trim_end_matches('/').to_owned(),
            exchanges: Mutex::new(Vec::new()),
        }
    }

    pub fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Transport for RecordingTransport {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Response, TransportError>> {
        Box::pin(async move {
            if request.method != Method::Get {
                return Err(TransportError(format!(
                    "recording is read-only: refused {} {}",
                    request.method.as_str(),
                    relative(&request.url, &self.api_url)
                )));
            }
            let response = self.inner.send(request).await?;
            let headers = response
                .headers
                .iter()
                .filter(|(k, _)| KEPT_HEADERS.contains(&k.as_str()))
                .map(|(k, v)| {
                    let v = if k == "link" {
                        v.replace(&self.api_url, REPLAY_API_URL)
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect();
            if let Ok(mut exchanges) = self.exchanges.lock() {
                exchanges.push(Exchange {
                    method: request.method,
                    path: relative(&request.url, &self.api_url),
                    accept: request.accept.clone(),
                    status: response.status,
                    headers,
                    body: String::from_utf8_lossy(&response.body).into_owned(),
                });
            }
            Ok(response)
        })
    }
}

/// Method, path and `Accept`: what identifies a request in a bundle.
type RequestKey = (Method, String, Option<String>);

/// Answers requests from a bundle, in recorded order per request; never touches the
/// network. A request the bundle does not hold is an error naming it.
pub struct ReplayTransport {
    queues: Mutex<HashMap<RequestKey, Vec<Exchange>>>,
}

impl ReplayTransport {
    pub fn new(exchanges: Vec<Exchange>) -> Self {
        let mut queues: HashMap<_, Vec<Exchange>> = HashMap::new();
        for e in exchanges {
            queues
                .entry((e.method, e.path.clone(), e.accept.clone()))
                .or_default()
                .push(e);
        }
        for queue in queues.values_mut() {
            queue.reverse(); // pop() yields them in recorded order
        }
        ReplayTransport {
            queues: Mutex::new(queues),
        }
    }
}

impl Transport for ReplayTransport {
    fn send<'a>(&'a self, request: &'a Request) -> BoxFuture<'a, Result<Response, TransportError>> {
        Box::pin(async move {
            let path = relative(&request.url, REPLAY_API_URL);
            let key = (request.method, path.clone(), request.accept.clone());
            let mut queues = self
                .queues
                .lock()
                .map_err(|_| TransportError("replay state poisoned".into()))?;
            let queue = queues.get_mut(&key).ok_or_else(|| {
                TransportError(format!(
                    "the bundle holds no response for {} {path}; record it again with this version of nectr",
                    request.method.as_str()
                ))
            })?;
            // The last recorded answer is repeated if the pipeline asks again.
            let exchange = if queue.len() > 1 {
                queue.pop()
            } else {
                queue.last().cloned()
            }
            .ok_or_else(|| TransportError(format!("no response left for {path}")))?;
            Ok(Response {
                status: exchange.status,
                headers: exchange.headers,
                body: exchange.body.into_bytes(),
            })
        })
    }
}

/// A bundle on disk.
pub struct Bundle {
    pub manifest: Manifest,
    pub event: Vec<u8>,
    pub exchanges: Vec<Exchange>,
}

#[derive(Debug, thiserror::Error)]
#[error("bundle {path}: {message}")]
pub struct BundleError {
    pub path: String,
    pub message: String,
}

impl Bundle {
    pub fn write(&self, dir: &Path) -> Result<(), BundleError> {
        let fail = |message: String| BundleError {
            path: dir.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create it: {e}")))?;
        std::fs::write(dir.join("bundle.json"), to_pretty(&self.manifest))
            .and_then(|()| std::fs::write(dir.join("event.json"), &self.event))
            .and_then(|()| std::fs::write(dir.join("responses.json"), to_pretty(&self.exchanges)))
            .map_err(|e| fail(format!("cannot write it: {e}")))
    }

    pub fn read(dir: &Path) -> Result<Bundle, BundleError> {
        let fail = |message: String| BundleError {
            path: dir.display().to_string(),
            message,
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                fail(format!(
                    "cannot read {name}: {e} (a bundle is a directory written by `nectr record`)"
                ))
            })
        };
        let manifest: Manifest = serde_json::from_slice(&read("bundle.json")?)
            .map_err(|e| fail(format!("bundle.json is malformed: {e}")))?;
        if manifest.schema != SCHEMA {
            return Err(fail(format!(
                "unsupported bundle schema {:?} (this nectr reads {SCHEMA})",
                manifest.schema
            )));
        }
        let event = read("event.json")?;
        let exchanges = serde_json::from_slice(&read("responses.json")?)
            .map_err(|e| fail(format!("responses.json is malformed: {e}")))?;
        Ok(Bundle {
            manifest,
            event,
            exchanges,
        })
    }
}

fn to_pretty<T: Serialize>(value: &T) -> String {
    // Plain data structures: serialisation cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
