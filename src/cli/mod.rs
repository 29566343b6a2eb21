//! The command line: argument definitions and dispatch, one file per subcommand.
//!
//! Commands parse their arguments, call the pipeline and decide the exit code; they hold no
//! review logic of their own.

mod keygen;
mod review;

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
    /// Review a unified diff (git diff, git format-patch, GitHub's .diff) offline.
    Review(review::ReviewArgs),
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
        Command::Keygen => keygen::run(),
    }
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
