//! `nectr serve`: read the configuration, open the database, run the server until SIGINT or
//! SIGTERM. Everything else is in `crate::server`.

use anyhow::{Context, Result};
use clap::Args;

use crate::crypto::Keyring;
use crate::error::InputError;
use crate::server::{self, AppState, ServerConfig};
use crate::store::{self, DEFAULT_DATABASE_URL};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NECTR_BIND", default_value = server::DEFAULT_BIND)]
    bind: String,
    /// Review workers in this process. Several `serve` replicas on one PostgreSQL database
    /// share its queue.
    #[arg(long, env = "NECTR_WORKERS", default_value_t = 2)]
    workers: usize,
    /// `sqlite://PATH` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
}

pub fn run(args: ServeArgs) -> Result<u8> {
    // The key first: without it nothing may be stored, so there is no point going further.
    let keyring = Keyring::from_env().map_err(|e| {
        InputError(format!(
            "`nectr serve` keeps OAuth tokens and webhook secrets encrypted and will not start without a key: {e}"
        ))
    })?;
    let config = ServerConfig::from_env(args.workers)?;
    let limits = server::HttpLimits::from_env()?;
    init_logging()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        crate::github::transport::install_crypto_provider();
        let store = store::connect(&args.database_url).await?;
        let listener = tokio::net::TcpListener::bind(&args.bind)
            .await
            .map_err(|e| {
                InputError(format!(
                    "cannot listen on {}: {e} (is another process using the port? choose another with --bind or NECTR_BIND)",
                    args.bind
                ))
            })?;
        if config.oauth.is_none() {
            tracing::warn!("GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET are not set: login is off; webhooks of already connected repositories are still reviewed");
        }
        let context = crate::context::ContextSources::open(crate::context::mcp::McpMode::Server).await;
        for problem in &context.unavailable {
            tracing::warn!(%problem, "context source unavailable; reviews go on without it");
        }
        let state = AppState::with_context(store, keyring, config, std::sync::Arc::new(context));
        server::serve_with_limits(state, listener, limits, shutdown_signal()).await
    })?;
    Ok(0)
}

/// Logs go to stderr: `NECTR_LOG` filters (default `info`, e.g. `nectr=debug`),
/// `NECTR_LOG_FORMAT=json` writes one JSON object per line for log collectors.
fn init_logging() -> Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("NECTR_LOG")
        .or_else(|_| EnvFilter::try_new("info"))
        .map_err(|e| InputError(format!("NECTR_LOG is not a valid log filter: {e}")))?;
    let json = std::env::var("NECTR_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
    // Already initialised (tests running several servers in one process): keep the first.
    let _ = result;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested");
}
