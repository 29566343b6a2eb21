//! The bundle shipped in `examples/pr-bundle/` (the README's first command replays it).
//!
//! `replays_offline_and_deterministically` checks it; the ignored test regenerates it from
//! the fake GitHub server: `cargo test --test example_bundle -- --ignored`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use support::fake_github::{Access, FakeGitHub, PullSpec};

fn bundle_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/pr-bundle")
}

fn nectr() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nectr"));
    cmd.env_clear();
    cmd
}

fn replay_json() -> Value {
    let out = nectr()
        .args(["review", "--replay"])
        .arg(bundle_dir())
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["stats"]["elapsed_ms"] = Value::Null;
    v
}

#[test]
fn replays_offline_and_deterministically() {
    let first = replay_json();
    assert_eq!(first, replay_json(), "two replays give the same review");
    assert_eq!(first["pr"]["repo"], "nectr-ai/demo");
    assert_eq!(first["pr"]["number"], 42);
    assert!(first["posted"].is_null(), "a replay never posts");
    let rules: Vec<&str> = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules[0], "secret.github-token", "{rules:?}");
    assert!(rules.contains(&"security.sql-concat"), "{rules:?}");
    assert!(first["stats"]["github_calls"].as_u64().unwrap() >= 3);
    let text = nectr()
        .args(["review", "--replay"])
        .arg(bundle_dir())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("app/settings.py:4: critical"));
}

#[test]
#[ignore = "regenerates examples/pr-bundle from the fake GitHub server"]
fn regenerate_example_bundle() {
    let gh = FakeGitHub::start_blocking();
    gh.add_token("example-token", "octocat", Access::Write, "repo");
    gh.add_repo("nectr-ai/demo");
    let diff =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/pr.diff"))
            .unwrap();
    gh.add_pull(
        "nectr-ai/demo",
        PullSpec {
            title: "Look up users by name; add a settings module".into(),
            body: Some("Lets the admin page find users by name.".into()),
            user: "octocat".into(),
            ..PullSpec::new(42, diff)
        },
    );
    let _ = std::fs::remove_dir_all(bundle_dir());
    let out = nectr()
        .args(["record", "--repo", "nectr-ai/demo", "--pr", "42", "--out"])
        .arg(bundle_dir())
        .env("GITHUB_API_URL", &gh.url)
        .env("GITHUB_TOKEN", "example-token")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let responses = std::fs::read_to_string(bundle_dir().join("responses.json")).unwrap();
    assert!(!responses.contains("example-token"));
}
