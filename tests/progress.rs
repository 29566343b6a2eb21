//! Progress on stderr, through the real binary: silent when stderr is not a terminal (pipes,
//! CI logs) and with `--quiet`; on a terminal — a pseudo-terminal made by util-linux's
//! `script` — a line with the step and its time that is cleared before the result.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use support::fake_github::{Access, FakeGitHub, PullSpec};
use support::mock_llm::{MockLlm, MockReply};

const KEY: &str = "sk-progress-test-key-0123456789";
const REPLY: &str = r#"{"summary": "Reviewed.", "findings": [{"path": "app/db.py", "line": 18, "severity": "major", "title": "eval on user input", "body": "`eval` runs arbitrary code."}]}"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The environment of a run: the mock as the AI reviewer (and the fake GitHub, if any).
fn env(mock: &MockLlm, fake: Option<&FakeGitHub>) -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("NECTR_LLM_PROVIDER", "openai".into()),
        ("NECTR_LLM_BASE_URL", mock.openai_base()),
        ("NECTR_LLM_API_KEY", KEY.into()),
        ("NECTR_LLM_MODEL", "mock-model".into()),
        ("NECTR_LLM_MAX_RETRIES", "0".into()),
        ("NECTR_CONTEXT", "off".into()),
    ];
    if let Some(fake) = fake {
        env.extend([
            ("GITHUB_TOKEN", "ghp_progress".to_owned()),
            ("GITHUB_API_URL", fake.url.clone()),
            ("NECTR_GITHUB_WRITE_GAP_MS", "0".into()),
        ]);
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn piped(args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nectr"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(root())
        .output()
        .expect("run nectr")
}

/// Bytes a progress line would leave: carriage returns, escape sequences, the step text.
fn assert_no_progress(stderr: &str) {
    assert!(!stderr.contains('\r'), "{stderr:?}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    for step in ["AI review (", "fetching ", "posting the review", " · "] {
        assert!(!stderr.contains(step), "{step}: {stderr:?}");
    }
}

fn pull_request(fake: &FakeGitHub) {
    fake.add_token("ghp_progress", "nectr-bot", Access::Write, "repo");
    fake.add_repo("acme/app");
    let diff = std::fs::read_to_string(root().join("examples/pr.diff")).unwrap();
    fake.add_pull("acme/app", PullSpec::new(5, diff));
}

#[test]
fn no_progress_bytes_when_stderr_is_not_a_terminal() {
    let mock = MockLlm::start_blocking();
    mock.set_default(MockReply::delayed(
        Duration::from_millis(400),
        MockReply::text(REPLY),
    ));
    // A local diff: stderr is empty, stdout is the review.
    let out = piped(&["review", "--diff", "examples/pr.diff"], &env(&mock, None));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "", "nothing but the result, on stdout");
    assert!(String::from_utf8_lossy(&out.stdout).contains("eval on user input"));

    // A pull request: only the line saying what was posted.
    let fake = FakeGitHub::start_blocking();
    pull_request(&fake);
    let out = piped(
        &["review", "--repo", "acme/app", "--pr", "5"],
        &env(&mock, Some(&fake)),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_no_progress(&stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("nectr: posted a review on acme/app#5 with "),
        "{stderr}"
    );
}

/// `script` from util-linux, which runs a command on a pseudo-terminal.
fn have_script() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run nectr on a pseudo-terminal (stdout and stderr both the terminal, as for a person)
/// and return everything it wrote there.
fn on_a_terminal(args: &[&str], env: &[(String, String)]) -> (Option<i32>, String) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut command = String::from("env -i TERM=xterm-256color COLUMNS=120");
    for (k, v) in env {
        command.push_str(&format!(" {k}={}", quote(v)));
    }
    command.push(' ');
    command.push_str(&quote(env!("CARGO_BIN_EXE_nectr")));
    for arg in args {
        command.push(' ');
        command.push_str(&quote(arg));
    }
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(root())
        .output()
        .expect("run script");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_terminal_sees_the_steps_with_their_time_then_the_result() {
    if !have_script() {
        eprintln!("skipped: `script` (util-linux) is not installed; install util-linux to run it");
        return;
    }
    let mock = MockLlm::start_blocking();
    // Slow enough for the spinner to draw a few times.
    mock.set_default(MockReply::delayed(
        Duration::from_millis(700),
        MockReply::text(REPLY),
    ));
    let (code, screen) = on_a_terminal(
        &["review", "--diff", "examples/pr.diff", "--color", "never"],
        &env(&mock, None),
    );
    assert_eq!(code, Some(0), "{screen:?}");
    let step = "AI review (mock-model): 0/1 chunk done · 0 s";
    let shown = screen
        .rfind(step)
        .unwrap_or_else(|| panic!("the step and its timer: {screen:?}"));
    // The line is cleared before the result.
    assert!(screen[shown..].contains("\x1b[2K"), "{screen:?}");
    let result = screen
        .find("app/db.py:18: major llm: eval on user input")
        .unwrap_or_else(|| panic!("the result: {screen:?}"));
    assert!(
        shown < result,
        "progress first, then the result: {screen:?}"
    );
    assert!(
        !screen[result..].contains("AI review ("),
        "nothing drawn over the result: {screen:?}"
    );

    // A pull request: fetching, the AI review (posting is drawn too, but too quick to pin
    // down: the bar redraws at most 20 times a second), then the line saying what was
    // posted, with its URL.
    let fake = FakeGitHub::start_blocking();
    pull_request(&fake);
    let (code, screen) = on_a_terminal(
        &[
            "review", "--repo", "acme/app", "--pr", "5", "--color", "never",
        ],
        &env(&mock, Some(&fake)),
    );
    assert_eq!(code, Some(0), "{screen:?}");
    let posted = screen
        .find("nectr: posted a review on acme/app#5 with ")
        .unwrap_or_else(|| panic!("what was posted: {screen:?}"));
    for step in [
        "fetching acme/app#5",
        "AI review (mock-model): 0/1 chunk done",
    ] {
        let at = screen
            .find(step)
            .unwrap_or_else(|| panic!("{step}: {screen:?}"));
        assert!(at < posted, "{step} before the result: {screen:?}");
    }
    assert!(
        screen[posted..].contains("#pullrequestreview-"),
        "{screen:?}"
    );

    // `--quiet`: the result only, even on a terminal.
    let (code, screen) = on_a_terminal(
        &["review", "--diff", "examples/pr.diff", "--quiet"],
        &env(&mock, None),
    );
    assert_eq!(code, Some(0), "{screen:?}");
    assert!(!screen.contains("AI review ("), "{screen:?}");
    assert!(!screen.contains("\x1b[2K"), "{screen:?}");
    assert!(screen.contains("eval on user input"), "{screen:?}");

    // A terminal that cannot redraw a line (`TERM=dumb`): no progress either.
    let mut dumb = env(&mock, None);
    dumb.push(("TERM".into(), "dumb".into()));
    let (code, screen) = on_a_terminal(&["review", "--diff", "examples/pr.diff"], &dumb);
    assert_eq!(code, Some(0), "{screen:?}");
    assert!(!screen.contains("AI review ("), "{screen:?}");
    assert!(screen.contains("eval on user input"), "{screen:?}");
}

#[test]
fn backfill_shows_its_listing_on_a_terminal_only() {
    let fake = FakeGitHub::start_blocking();
    fake.add_token("ghp_progress", "nectr-bot", Access::Write, "repo");
    fake.add_repo("acme/app");
    let diff = std::fs::read_to_string(root().join("examples/pr.diff")).unwrap();
    let mut merged = PullSpec::new(1, diff);
    merged.state = "closed".into();
    merged.merged = true;
    fake.add_pull("acme/app", merged);
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("context.db");
    let env = vec![
        ("PATH".to_owned(), std::env::var("PATH").unwrap_or_default()),
        ("GITHUB_TOKEN".to_owned(), "ghp_progress".to_owned()),
        ("GITHUB_API_URL".to_owned(), fake.url.clone()),
        ("NECTR_CONTEXT_DB".to_owned(), db.display().to_string()),
    ];
    let args = ["backfill", "--repo", "acme/app"];
    let out = piped(&args, &env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
    assert!(!stderr.contains("listing"), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "only what it indexed: {stderr}");

    if !have_script() {
        eprintln!("skipped the terminal half: `script` (util-linux) is not installed");
        return;
    }
    let (code, screen) = on_a_terminal(&args, &env);
    assert_eq!(code, Some(0), "{screen:?}");
    let step = screen
        .find("backfill acme/app: listing closed pull requests")
        .unwrap_or_else(|| panic!("the first step: {screen:?}"));
    let done = screen
        .find("nectr: indexed 1 merged pull requests")
        .unwrap_or_else(|| panic!("the result: {screen:?}"));
    assert!(step < done, "{screen:?}");
    assert!(
        screen[step..done].contains("\x1b[2K"),
        "cleared: {screen:?}"
    );
}
