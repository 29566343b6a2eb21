//! Which files of a diff the rules look at, and why the others are not reviewed.
//!
//! Only two reasons skip a file outright: it is binary (nothing to read) or the config
//! excludes it. Generated, minified and vendored files still get the secret checks (the
//! rules decide that; see `rules::lang::is_generated_path`) — a key in a built bundle leaks
//! as surely as one in source. Everything skipped is reported with its reason.

use crate::config::RepoConfig;
use crate::diff::FileDiff;

/// Why `file` is not reviewed, or `None` when it is.
pub fn skip_reason(file: &FileDiff<'_>, config: &RepoConfig) -> Option<&'static str> {
    if file.binary {
        return Some("binary file");
    }
    if !config.paths.allows(file.path()) {
        return Some("excluded by `paths` in the config");
    }
    None
}
