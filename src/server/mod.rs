//! `nectr serve`: the hosted mode. One axum app (login, API, dashboard, the webhook
//! receiver, health and metrics) plus background workers that drain the durable event queue
//! in the database and review each pull request through `pipeline::pr`.
//!
//! The flow of a pull request: GitHub → [`webhook`] (verify, dedupe, persist, answer 202 in
//! milliseconds) → `events` table → [`worker`] (lease, check, review as the connecting user,
//! record) → the dashboard reads `events` and `reviews` back.
//!
//! Invariants:
//! - Nothing is acknowledged before it is stored: the receiver answers 202 only after the
//!   event row is committed, so a crash after the answer loses nothing.
//! - Every secret at rest goes through [`crate::crypto::Keyring`], bound to its owner with
//!   the helpers in [`owners`]: a ciphertext copied to another row does not decrypt.
//! - Several replicas may share one database: all coordination is in the store (leases,
//!   spent OAuth states, delivery dedupe), none in process memory. (Connection limits are
//!   per process: they protect this process's file descriptors.)

pub mod api;
pub mod auth;
pub mod conn;
pub mod dashboard;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod repos;
pub mod session;
pub mod settings_cache;
pub mod webhook;
pub mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::crypto::Keyring;
use crate::error::InputError;
use crate::github::pr_state::PrStateCache;
use crate::store::Store;

pub use conn::HttpLimits;
pub use metrics::Metrics;
pub use worker::WorkerConfig;

/// The default `--bind` / `NECTR_BIND`.
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";
/// The default `NECTR_PUBLIC_URL`.
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:8000";

/// Who owns a ciphertext: the `owner` argument of [`Keyring::encrypt`] / `decrypt`.
pub mod owners {
    /// A user's OAuth token, bound to their GitHub account id (stable across renames).
    pub fn user_token(github_id: i64) -> String {
        format!("user-token:{github_id}")
    }

    /// A repo's webhook secret, bound to the repo (case-insensitive, as GitHub compares).
    pub fn webhook_secret(repo: &str) -> String {
        format!("webhook-secret:{}", repo.to_ascii_lowercase())
    }

    /// A sealed OAuth sign-in `state` (it carries the PKCE verifier): see `auth`.
    pub fn oauth_state() -> String {
        "oauth-state".to_owned()
    }
}

/// The OAuth app `serve` signs users in with.
#[derive(Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Everything `serve` reads from flags and the environment, checked once at start.
#[derive(Clone)]
pub struct ServerConfig {
    /// `NECTR_PUBLIC_URL` without a trailing slash.
    pub public_url: String,
    /// `GITHUB_API_URL` without a trailing slash.
    pub api_url: String,
    /// `GITHUB_SERVER_URL` without a trailing slash.
    pub server_url: String,
    /// `None` when `GITHUB_CLIENT_ID` / `GITHUB_CLIENT_SECRET` are unset: login is off and the
    /// dashboard says how to turn it on; webhooks and workers still run.
    pub oauth: Option<OAuthApp>,
    /// `GITHUB_WEBHOOK_SECRET`: used only for deliveries from a repo with no secret of its own.
    pub global_webhook_secret: Option<String>,
    /// How many review workers this process runs.
    pub workers: usize,
    pub worker: WorkerConfig,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("public_url", &self.public_url)
            .field("api_url", &self.api_url)
            .field("server_url", &self.server_url)
            .field("oauth", &self.oauth)
            .field(
                "global_webhook_secret",
                &self.global_webhook_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("workers", &self.workers)
            .field("worker", &self.worker)
            .finish()
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn base_url(name: &str, default: &str) -> Result<String> {
    let url = env_nonempty(name).unwrap_or_else(|| default.to_owned());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(InputError(format!(
            "{name} must be an http:// or https:// URL (it is `{}`)",
            url.chars().take(100).collect::<String>()
        ))
        .into());
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl ServerConfig {
    /// Reads `NECTR_PUBLIC_URL`, `GITHUB_API_URL`, `GITHUB_SERVER_URL`, `GITHUB_CLIENT_ID`,
    /// `GITHUB_CLIENT_SECRET` and `GITHUB_WEBHOOK_SECRET`.
    pub fn from_env(workers: usize) -> Result<ServerConfig> {
        let oauth = match (
            env_nonempty("GITHUB_CLIENT_ID"),
            env_nonempty("GITHUB_CLIENT_SECRET"),
        ) {
            (Some(client_id), Some(client_secret)) => Some(OAuthApp {
                client_id,
                client_secret,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(InputError(
                    "GITHUB_CLIENT_ID is set but GITHUB_CLIENT_SECRET is not: set both (from the OAuth app's settings page) or neither".into(),
                )
                .into());
            }
            (None, Some(_)) => {
                return Err(InputError(
                    "GITHUB_CLIENT_SECRET is set but GITHUB_CLIENT_ID is not: set both (from the OAuth app's settings page) or neither".into(),
                )
                .into());
            }
        };
        Ok(ServerConfig {
            public_url: base_url("NECTR_PUBLIC_URL", DEFAULT_PUBLIC_URL)?,
            api_url: base_url("GITHUB_API_URL", "https://api.github.com")?,
            server_url: base_url("GITHUB_SERVER_URL", "https://github.com")?,
            oauth,
            global_webhook_secret: env_nonempty("GITHUB_WEBHOOK_SECRET"),
            workers,
            worker: WorkerConfig::from_env()?,
        })
    }

    /// Cookies get `Secure` when the public URL is https (behind a TLS-terminating proxy).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// What every handler and worker shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

pub struct Shared {
    pub store: Arc<dyn Store>,
    pub keyring: Keyring,
    pub config: ServerConfig,
    pub metrics: Metrics,
    /// Group commit for webhook deliveries.
    pub ingest: ingest::Ingest,
    /// Rung after an event is queued so an idle worker starts at once instead of at its
    /// next poll.
    pub queue_wake: Notify,
    /// Open/closed/merged per PR, so workers skip closed PRs without asking GitHub each time.
    pub pr_states: PrStateCache,
    /// The webhook receiver's copy of each repository's dashboard settings.
    pub repo_settings: settings_cache::SettingsCache,
    /// The knowledge graph, memories and operator MCP servers every review shares.
    pub context: Arc<crate::context::ContextSources>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.inner
    }
}

impl AppState {
    /// A state without context sources (tests of the server itself).
    pub fn new(store: Arc<dyn Store>, keyring: Keyring, config: ServerConfig) -> AppState {
        let none = Arc::new(crate::context::ContextSources::none());
        AppState::with_context(store, keyring, config, none)
    }

    pub fn with_context(
        store: Arc<dyn Store>,
        keyring: Keyring,
        config: ServerConfig,
        context: Arc<crate::context::ContextSources>,
    ) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                ingest: ingest::Ingest::new(store.clone()),
                store,
                keyring,
                config,
                metrics: Metrics::default(),
                queue_wake: Notify::new(),
                pr_states: PrStateCache::default(),
                repo_settings: settings_cache::SettingsCache::default(),
                context,
            }),
        }
    }

    /// A GitHub client acting with `token` (a user's OAuth token).
    pub fn github(&self, token: &str) -> Result<crate::github::GitHub, crate::github::GitHubError> {
        crate::github::connect_tuned(&self.config.api_url, Some(token))
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The whole HTTP app: every route of `docs/interface.md`'s hosted-server table.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/webhooks/github", post(webhook::receive))
        .merge(auth::routes())
        .merge(api::routes())
        .merge(dashboard::routes())
        .fallback(dashboard::not_found)
        // Outermost, so 404s and every handler's errors get the headers too.
        .layer(axum::middleware::map_response(http::security_headers))
        .with_state(state)
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // Liveness includes the database: a replica that cannot reach it can neither
    // acknowledge deliveries nor review.
    match state.store.queue_stats(now()).await {
        Ok(_) => (
            axum::http::StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok", "database": state.store.backend()})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(
                    serde_json::json!({"status": "unavailable", "error": "database unreachable"}),
                ),
            )
                .into_response()
        }
    }
}

/// [`serve_with_limits`] with the default [`HttpLimits`].
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_with_limits(state, listener, HttpLimits::default(), shutdown).await
}

/// Serve on `listener` until `shutdown` resolves, with `config.workers` review workers and
/// the connection `limits` (timeouts, connection caps: see [`conn`]).
/// On shutdown: stop accepting, finish in-flight requests, then give workers
/// `worker.shutdown_grace` to finish their review before they release it to the queue.
pub async fn serve_with_limits(
    state: AppState,
    listener: TcpListener,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = tokio::task::JoinSet::new();
    for n in 0..state.config.workers {
        let worker = worker::Worker::new(state.clone(), n);
        workers.spawn(worker.run(stop_rx.clone()));
    }
    let sweeper_state = state.clone();
    let mut sweeper_stop = stop_rx.clone();
    workers.spawn(async move {
        // Expired sessions and OAuth states are deleted now and then; reads already ignore them.
        loop {
            if let Err(e) = sweeper_state.store.purge_expired(now()).await {
                tracing::warn!(error = %e, "could not purge expired sessions");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                _ = sweeper_stop.changed() => break,
            }
        }
    });
    tracing::info!(%addr, backend = state.store.backend(), workers = state.config.workers, public_url = %state.config.public_url, max_connections = limits.max_connections, "nectr serve listening");
    let app = router(state.clone());
    conn::serve_http(listener, app, limits, shutdown)
        .await
        .context("the HTTP server failed")?;
    tracing::info!("shutting down: waiting for workers to finish or release their events");
    let _ = stop_tx.send(true);
    while workers.join_next().await.is_some() {}
    state.store.close().await;
    tracing::info!("stopped");
    Ok(())
}
