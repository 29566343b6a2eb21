//! Error classes that decide the process exit code (see `docs/interface.md`), and
//! [`notice`], the way of telling the user something that is not an error (progress is
//! [`crate::progress`]).
//!
//! Code deep inside returns typed errors (`DiffError`, `ConfigError`) or wraps a message in
//! [`InputError`] / [`RemoteError`]; `main` walks the error chain once and picks the code.

use crate::config::ConfigError;
use crate::diff::DiffError;
use crate::github::GitHubError;
use crate::github::bundle::BundleError;

/// Findings at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Bad input or configuration.
pub const EXIT_INPUT: u8 = 2;
/// A remote service failed after retries.
pub const EXIT_REMOTE: u8 = 3;

/// Something the user can fix: an unreadable file, a malformed payload, a missing token.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// A remote service (GitHub, the LLM) failed after retries.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RemoteError(pub String);

/// The exit code for an error: 3 when a remote service failed after retries, otherwise 2 —
/// every other failure is one of input or configuration as far as the user can act on it.
/// A GitHub error counts as input when the user can fix it (the token, the repository, the
/// number, permissions) and as remote otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<RemoteError>() {
            return EXIT_REMOTE;
        }
        if let Some(github) = cause.downcast_ref::<GitHubError>() {
            return if github.is_user_fixable() {
                EXIT_INPUT
            } else {
                EXIT_REMOTE
            };
        }
        if cause.is::<InputError>()
            || cause.is::<DiffError>()
            || cause.is::<ConfigError>()
            || cause.is::<BundleError>()
        {
            return EXIT_INPUT;
        }
    }
    EXIT_INPUT
}

/// Tells the user about something that went wrong but did not stop the run (a retry, a
/// fallback). The CLI prints `line` on stderr as is; under `nectr serve`, where a log
/// subscriber is installed, it becomes a structured warning carrying the current span's
/// fields (the delivery id), without its `warning: ` / `nectr: ` prefix.
pub fn notice(line: &str) {
    if tracing::dispatcher::has_been_set() {
        let message = line
            .strip_prefix("warning: ")
            .or_else(|| line.strip_prefix("nectr: "))
            .unwrap_or(line);
        tracing::warn!("{message}");
    } else {
        crate::progress::suspend(|| eprintln!("{line}"));
    }
}
