//! The HTTP connection layer of `nectr serve`: accepting connections and bounding what a
//! client can hold.
//!
//! `axum::serve` has no header timeout, no body deadline and no connection limit, so an
//! idle or trickling client keeps its socket (and a file descriptor) forever and a few
//! hundred of them starve `/healthz` and GitHub's deliveries. This accept loop serves the
//! same axum app over hyper's HTTP/1 connection with:
//! - a **header timeout** ([`HttpLimits::header_timeout`]): a request's head must arrive
//!   within it, counted from the connection opening or the previous answer, so slow-header
//!   (slowloris) clients and idle keep-alive connections are closed;
//! - a **body deadline** ([`HttpLimits::body_timeout`]): a request body must be complete
//!   within it, counted from the end of the head; a trickled body ends in an error the
//!   handler answers (408 for webhooks) and the connection is closed;
//! - a **connection limit** ([`HttpLimits::max_connections`], below the process's file
//!   descriptor limit so the database, GitHub calls and logs keep theirs) and a per-client-IP
//!   share of it ([`HttpLimits::max_connections_per_ip`]), so one address cannot take every
//!   slot. A connection over either limit is closed at once, without reading it.
//!
//! Graceful shutdown works as `axum::serve`'s: stop accepting, let every connection finish
//! its request in flight, close idle ones.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Result;
use axum::Router;
use axum::body::{Body, Bytes};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::InputError;

/// Limits on what one client may hold. [`HttpLimits::from_env`] reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// `NECTR_HTTP_HEADER_TIMEOUT_SECS`: a request's head must arrive within this, from the
    /// connection opening or the previous answer (so it is also the keep-alive idle time).
    pub header_timeout: Duration,
    /// `NECTR_HTTP_BODY_TIMEOUT_SECS`: a request's body must be complete within this, from
    /// the end of its head. GitHub gives a delivery 10 s in all.
    pub body_timeout: Duration,
    /// `NECTR_HTTP_MAX_CONNECTIONS`: open connections at once.
    pub max_connections: usize,
    /// `NECTR_HTTP_MAX_CONNECTIONS_PER_IP`: open connections from one client address.
    pub max_connections_per_ip: usize,
}

/// The most connections by default, however many file descriptors there are.
const MAX_CONNECTIONS_CAP: usize = 1024;

impl Default for HttpLimits {
    fn default() -> Self {
        // Half the descriptors for HTTP clients: the rest are for the database pool, GitHub
        // and model calls, the context store and the logs.
        let max_connections = fd_soft_limit()
            .map_or(MAX_CONNECTIONS_CAP, |n| n / 2)
            .clamp(16, MAX_CONNECTIONS_CAP);
        HttpLimits {
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(30),
            max_connections,
            // A quarter: one address (or one attacker) cannot take every slot, and a
            // reverse proxy in front still gets plenty.
            max_connections_per_ip: (max_connections / 4).max(4),
        }
    }
}

impl HttpLimits {
    /// Defaults, overridden by `NECTR_HTTP_HEADER_TIMEOUT_SECS`,
    /// `NECTR_HTTP_BODY_TIMEOUT_SECS`, `NECTR_HTTP_MAX_CONNECTIONS` and
    /// `NECTR_HTTP_MAX_CONNECTIONS_PER_IP`.
    pub fn from_env() -> Result<HttpLimits> {
        fn var(name: &str) -> Result<Option<u64>> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => match v.trim().parse::<u64>() {
                    Ok(n) if n >= 1 => Ok(Some(n)),
                    _ => Err(InputError(format!(
                        "{name} must be a whole number of at least 1 (it is `{}`)",
                        v.chars().take(40).collect::<String>()
                    ))
                    .into()),
                },
                _ => Ok(None),
            }
        }
        let mut limits = HttpLimits::default();
        if let Some(n) = var("NECTR_HTTP_HEADER_TIMEOUT_SECS")? {
            limits.header_timeout = Duration::from_secs(n);
        }
        if let Some(n) = var("NECTR_HTTP_BODY_TIMEOUT_SECS")? {
            limits.body_timeout = Duration::from_secs(n);
        }
        // Read by the webhook receiver (`webhook::body_budget_bytes`); checked here so a
        // bad value stops `serve` at start instead of being ignored.
        var("NECTR_WEBHOOK_BODY_BUDGET_MB")?;
        let max_set = var("NECTR_HTTP_MAX_CONNECTIONS")?;
        if let Some(n) = max_set {
            limits.max_connections = n as usize;
            limits.max_connections_per_ip = (limits.max_connections / 4).max(1);
        }
        if let Some(n) = var("NECTR_HTTP_MAX_CONNECTIONS_PER_IP")? {
            limits.max_connections_per_ip = n as usize;
        }
        if let Some(fds) = fd_soft_limit()
            && max_set.is_some_and(|n| n as usize >= fds)
        {
            return Err(InputError(format!(
                "NECTR_HTTP_MAX_CONNECTIONS ({}) must be below the open-file limit ({fds}): raise `ulimit -n` or lower it",
                limits.max_connections
            ))
            .into());
        }
        Ok(limits)
    }
}

/// The soft `RLIMIT_NOFILE` from `/proc/self/limits` (Linux), `None` elsewhere or unlimited.
fn fd_soft_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Open connections, in total and per client address.
#[derive(Default)]
struct Slots {
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// One taken slot; dropping it (the connection ended) gives it back.
struct Slot {
    slots: Arc<Slots>,
    ip: IpAddr,
}

impl Slots {
    fn take(self: &Arc<Self>, ip: IpAddr, limits: &HttpLimits) -> Option<Slot> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if self.total.load(Ordering::Relaxed) >= limits.max_connections {
            return None;
        }
        let mine = per_ip.entry(ip).or_insert(0);
        if *mine >= limits.max_connections_per_ip {
            return None;
        }
        *mine += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            slots: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut per_ip = self.slots.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.slots.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// When the last "connection refused: limit" warning was logged (Unix seconds): at most one
/// a minute, so an attack does not flood the log.
static LAST_LIMIT_WARNING: AtomicI64 = AtomicI64::new(0);

fn warn_limit(ip: IpAddr, limits: &HttpLimits) {
    let now = super::now();
    let last = LAST_LIMIT_WARNING.load(Ordering::Relaxed);
    if now - last >= 60
        && LAST_LIMIT_WARNING
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(client = %ip, max_connections = limits.max_connections, max_connections_per_ip = limits.max_connections_per_ip,
            "connection limit reached: closing new connections (NECTR_HTTP_MAX_CONNECTIONS / NECTR_HTTP_MAX_CONNECTIONS_PER_IP; this warning repeats at most once a minute)");
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves; then stops accepting
/// and waits for the open connections to finish their requests.
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let slots = Arc::new(Slots::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    // Each connection task holds a receiver; when all are dropped every connection ended.
    let (done_tx, done_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors (EMFILE) or a connection reset before it was
                    // accepted: wait a little, as axum::serve does, instead of spinning.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = slots.take(peer.ip(), &limits) else {
            warn_limit(peer.ip(), &limits);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let limits = limits.clone();
        let mut stop = stop_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, &limits, &mut stop).await;
            drop(slot);
            drop(done);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_rx);
    done_tx.closed().await;
    Ok(())
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &HttpLimits,
    stop: &mut watch::Receiver<bool>,
) {
    let body_timeout = limits.body_timeout;
    let router = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let request = request.map(|body| {
            if hyper::body::Body::is_end_stream(&body) {
                Body::new(body)
            } else {
                Body::new(DeadlineBody::new(body, body_timeout))
            }
        });
        hyper::service::Service::call(&router, request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Heads over 64 KiB are refused (431); GitHub's are a few KiB.
        .max_buf_size(64 * 1024);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(client = %peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = stop.changed(), if !stopping => {
                // Shutdown (or the server is gone): finish the request in flight, then close.
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A request body read past its deadline fails with this.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?} (NECTR_HTTP_BODY_TIMEOUT_SECS)")]
pub struct BodyTimeout(pub Duration);

/// A body that fails with [`BodyTimeout`] once its deadline passes.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.limit))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error` (or one of its sources) is a [`BodyTimeout`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<BodyTimeout>() {
            return true;
        }
        // The message too: a wrapper may hide its source.
        if e.to_string().contains("NECTR_HTTP_BODY_TIMEOUT_SECS") {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_in_total_and_per_address() {
        let limits = HttpLimits {
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
            max_connections: 3,
            max_connections_per_ip: 2,
        };
        let slots = Arc::new(Slots::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let a1 = slots.take(a, &limits).unwrap();
        let _a2 = slots.take(a, &limits).unwrap();
        assert!(slots.take(a, &limits).is_none(), "per address");
        let _b1 = slots.take(b, &limits).unwrap();
        assert!(slots.take(c, &limits).is_none(), "in total");
        drop(a1);
        assert!(
            slots.take(c, &limits).is_some(),
            "a slot given back is free"
        );
    }

    #[test]
    fn defaults_stay_below_the_descriptor_limit() {
        let limits = HttpLimits::default();
        if let Some(fds) = fd_soft_limit() {
            assert!(limits.max_connections < fds);
        }
        assert!(limits.max_connections_per_ip < limits.max_connections);
    }
}
