//! The built-in rules on real diffs between released versions of real packages (see
//! `tests/fixtures/rules/README.md` for where each comes from). Few false positives
//! matter more than catching everything: every finding asserted here is a true positive,
//! and the silence elsewhere is asserted too.

use nectr::config::RulesConfig;
use nectr::diff::parse;
use nectr::review::rules::RuleSet;

/// Every finding on the fixture as `path:line rule`.
fn findings(fixture: &str) -> Vec<String> {
    let path = format!(
        "{}/tests/fixtures/rules/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let diff = parse(&text).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    assert!(!diff.files.is_empty());
    let (set, _) = RuleSet::new(&RulesConfig::default()).unwrap();
    diff.files
        .iter()
        .flat_map(|f| set.check_file(f))
        .map(|f| format!("{}:{} {}", f.path, f.line, f.rule))
        .collect()
}

/// serde_json 1.0.108 → 1.0.128 (Rust): dozens of `.unwrap()`s are added, all in
/// `tests/`, `build.rs` or doc comments except one in `src/read.rs`
/// (`Chunk::from_le_bytes(chunk.try_into().unwrap())`, unreachable given the slice
/// length), which the opt-in `rust.unwrap` reports only when enabled; the new
/// `// XXX: This is actually a trailing surrogate.` is an explanatory note, not a TODO.
#[test]
fn serde_json_release_diff() {
    assert_eq!(
        findings("serde_json-1.0.108-1.0.128.diff"),
        Vec::<String>::new()
    );
}

/// log 0.4.17 → 0.4.22 (Rust): the files are rewritten (CRLF → LF), so every line is
/// added, including `#[cfg(test)] mod tests` blocks full of `.unwrap()` and doc examples.
#[test]
fn log_release_diff() {
    assert_eq!(findings("log-0.4.17-0.4.22.diff"), Vec::<String>::new());
}

/// peft 0.11.1 → 0.13.2 (Python/PyTorch): many `model.eval()` calls, tokenizer and
/// `token` identifiers, `@pytest.mark.skipif` — only the one new TODO that describes open
/// work is reported; the cleanups scheduled by version (`remove deprecated parameter in
/// PEFT v0.14.0`, `… remove if 1.12 no longer needs to be supported`) name their own
/// trigger.
#[test]
fn peft_release_diff() {
    assert_eq!(
        findings("peft-0.11.1-0.13.2.diff"),
        ["src/peft/tuners/xlora/model.py:385 todo.added"]
    );
}

/// axios 1.7.2 → 1.7.9 (JavaScript): library sources plus generated bundles (`dist/`,
/// minified one-line files); a `console.warn` behind `eslint-disable-next-line`.
#[test]
fn axios_release_diff() {
    assert_eq!(findings("axios-1.7.2-1.7.9.diff"), Vec::<String>::new());
}

/// nodemon 3.1.0 → 3.1.9 (JavaScript CLI): `console.log(help(settings.help))` is edited
/// into `console.log(help(options.help))` — not new, not reported.
#[test]
fn nodemon_release_diff() {
    assert_eq!(findings("nodemon-3.1.0-3.1.9.diff"), Vec::<String>::new());
}
