//! Which files of a diff are reviewed, and why the others are not.
//!
//! Generated and lock files are skipped by default: nobody reviews them line by line and
//! they drown real findings (a minified bundle is one `console.log` after another).
//! Everything skipped is reported with its reason — nothing is dropped silently.

use crate::config::RepoConfig;
use crate::diff::FileDiff;

/// Lock files and other machine-written files, by file name.
const GENERATED_FILE_NAMES: &[&str] = &[
    "Cargo.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "Gemfile.lock",
    "composer.lock",
    "go.sum",
    "flake.lock",
    "packages.lock.json",
];

/// Generated files, by suffix.
const GENERATED_SUFFIXES: &[&str] = &[
    ".min.js", ".min.css", ".min.mjs", ".js.map", ".css.map", ".pb.go", "_pb2.py", ".snap",
];

/// Vendored third-party code, by directory.
const VENDORED_DIRS: &[&str] = &["node_modules/", "vendor/", "third_party/", "third-party/"];

/// Why `file` is not reviewed, or `None` when it is.
pub fn skip_reason(file: &FileDiff<'_>, config: &RepoConfig) -> Option<&'static str> {
    let path = file.path();
    if file.binary {
        return Some("binary file");
    }
    if !config.paths.allows(path) {
        return Some("excluded by `paths` in the config");
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    if GENERATED_FILE_NAMES.contains(&name) {
        return Some("lock file");
    }
    if GENERATED_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Some("generated file");
    }
    let in_vendored_dir = VENDORED_DIRS
        .iter()
        .any(|d| path.starts_with(d) || path.contains(&format!("/{d}")));
    if in_vendored_dir {
        return Some("vendored code");
    }
    None
}
