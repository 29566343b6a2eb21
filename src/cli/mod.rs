//! The command line: argument definitions and dispatch, one file per subcommand.
//!
//! Commands parse their arguments, call the pipeline and decide the exit code; they hold no
//! review logic of their own.

mod action;
mod backfill;
mod context;
mod doctor;
mod github_review;
mod keygen;
mod record;
mod review;
mod rotate_keys;
mod serve;
mod webhook;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

/// Nectr reviews pull requests: built-in rules plus an optional LLM, posted as one review
/// whose inline comments sit on real diff lines.
#[derive(Debug, Parser)]
#[command(name = "nectr", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Review a diff offline, or a pull request on GitHub (by event, by number, or a recorded bundle).
    Review(review::ReviewArgs),
    /// Save a pull request's event and every GitHub response a review needs into a bundle.
    Record(record::RecordArgs),
    /// The GitHub Actions entry point: review the pull request of the workflow's event.
    Action(action::ActionArgs),
    /// The hosted server: OAuth login, dashboard, webhook receiver and review workers.
    Serve(serve::ServeArgs),
    /// Install or remove a repository's webhook by hand.
    Webhook(webhook::WebhookArgs),
    /// Check token, scopes, rate limit, webhook health and recent deliveries; say what is
    /// wrong and how to fix it.
    Doctor(doctor::DoctorArgs),
    /// Re-encrypt every stored OAuth token and webhook secret under the newest key of
    /// NECTR_ENCRYPTION_KEY.
    RotateKeys(rotate_keys::RotateKeysArgs),
    /// Print the context a review of a pull request would send the model: knowledge-graph
    /// answers, memories, Linear and Sentry results (reads only).
    Context(context::ContextArgs),
    /// Index a repository's recent merged pull requests and open issues into the knowledge
    /// graph, so reviews start with history.
    Backfill(backfill::BackfillArgs),
    /// Print a new Fernet key for NECTR_ENCRYPTION_KEY.
    Keygen,
}

/// When to colour terminal output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// Parse arguments and run; returns the process exit code. Errors carry their exit code
/// class (see [`crate::error::exit_code`]).
pub fn run() -> Result<u8> {
    let cli = Cli::parse();
    match cli.command {
        Command::Review(args) => review::run(args),
        Command::Record(args) => record::run(args),
        Command::Action(args) => action::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Webhook(args) => webhook::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::RotateKeys(args) => rotate_keys::run(args),
        Command::Context(args) => context::run(args),
        Command::Backfill(args) => backfill::run(args),
        Command::Keygen => keygen::run(),
    }
}

/// A runtime for the commands that talk to the network; `review --diff` never builds one.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Write to stdout; a closed pipe (`nectr … | head`) is not an error.
pub(crate) fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
