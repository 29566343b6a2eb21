//! `nectr webhook install | list | uninstall` against the fake GitHub server.

mod support;

use std::process::{Command, Output};

use support::fake_github::{Access, FakeGitHub};

const TOKEN: &str = "hook-admin-token";
const REPO: &str = "acme/widgets";

fn fake() -> FakeGitHub {
    let gh = FakeGitHub::start_blocking();
    gh.add_token(TOKEN, "admin", Access::Write, "repo");
    gh.add_repo(REPO);
    gh
}

fn nectr(gh: &FakeGitHub, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nectr"));
    cmd.env_clear()
        .env("GITHUB_API_URL", &gh.url)
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn install_generates_a_secret_and_uninstall_removes_the_hook() {
    let gh = fake();
    let out = nectr(
        &gh,
        &[
            "webhook",
            "install",
            "--repo",
            REPO,
            "--url",
            "https://nectr.example.com/",
        ],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_owned();
    assert_eq!(
        secret.len(),
        64,
        "the generated secret is printed once: {secret}"
    );
    let hooks = gh.hooks(REPO);
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert!(hook.active);
    assert_eq!(
        hook.events,
        vec![
            "pull_request".to_owned(),
            "issues".to_owned(),
            "issue_comment".to_owned(),
            "pull_request_review_comment".to_owned()
        ]
    );
    assert_eq!(
        hook.config["url"],
        "https://nectr.example.com/api/v1/webhooks/github"
    );
    assert_eq!(hook.config["content_type"], "json");
    assert_eq!(
        hook.config["insecure_ssl"], "0",
        "TLS verification stays on"
    );
    assert_eq!(hook.config["secret"], secret.as_str());
    assert!(text(&out.stderr).contains(&format!("installed webhook {}", hook.id)));
    assert!(
        text(&out.stderr).contains(&format!(
            "https://github.com/{REPO}/settings/hooks/{}",
            hook.id
        )),
        "it says where to see what it wrote: {}",
        text(&out.stderr)
    );

    // `list` shows the id `uninstall` needs.
    let listed = nectr(
        &gh,
        &["webhook", "list", "--repo", REPO],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stderr));
    let id = hook.id.to_string();
    let events = "pull_request,issues,issue_comment,pull_request_review_comment";
    let pad = |s: &str, w: usize| format!("{s:<w$}");
    let w = id.len().max(2);
    assert_eq!(
        text(&listed.stdout),
        format!(
            "{}  STATE   {}  URL\n{}  active  {events}  https://nectr.example.com/api/v1/webhooks/github\n",
            pad("ID", w),
            pad("EVENTS", events.len()),
            pad(&id, w),
        ),
        "a header row, columns aligned"
    );
    // The header's columns start where the row's do.
    let listed_text = text(&listed.stdout);
    let lines: Vec<&str> = listed_text.lines().collect();
    for column in ["STATE", "EVENTS", "URL"] {
        let at = lines[0].find(column).unwrap();
        assert_eq!(
            &lines[1][at - 2..at],
            "  ",
            "{column} is aligned:\n{}",
            lines.join("\n")
        );
    }

    // `--json` (the same as `--format json`) for scripts: no secret, the settings page.
    for flag in [&["--json"][..], &["--format", "json"][..]] {
        let mut args = vec!["webhook", "list", "--repo", REPO];
        args.extend_from_slice(flag);
        let out = nectr(&gh, &args, &[("GITHUB_TOKEN", TOKEN)]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"webhooks": [{
                "id": hook.id,
                "active": true,
                "events": ["pull_request", "issues", "issue_comment", "pull_request_review_comment"],
                "url": "https://nectr.example.com/api/v1/webhooks/github",
                "settings_url": format!("https://github.com/{REPO}/settings/hooks/{}", hook.id),
            }]})
        );
        assert!(!text(&out.stdout).contains(&secret));
    }

    // Installing again names the existing hook and how to remove it: exit 2, not a 422.
    let again = nectr(
        &gh,
        &[
            "webhook",
            "install",
            "--repo",
            REPO,
            "--url",
            "https://nectr.example.com",
        ],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    let err = text(&again.stderr);
    assert!(
        err.contains(&format!("already has webhook {}", hook.id)),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "nectr webhook uninstall --repo {REPO} --id {}",
            hook.id
        )),
        "{err}"
    );
    assert!(
        again.stdout.is_empty(),
        "no second secret: {}",
        text(&again.stdout)
    );
    assert_eq!(gh.hooks(REPO).len(), 1);

    let id = hook.id.to_string();
    let args = ["webhook", "uninstall", "--repo", REPO, "--id", id.as_str()];
    let out = nectr(&gh, &args, &[("GITHUB_TOKEN", TOKEN)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(gh.hooks(REPO).is_empty());
    let again = nectr(&gh, &args, &[("GITHUB_TOKEN", TOKEN)]);
    assert_eq!(again.status.code(), Some(0), "a 404 means already gone");
    assert!(text(&again.stderr).contains("already gone"));
}

#[test]
fn install_uses_the_configured_secret_and_public_url() {
    let gh = fake();
    let out = nectr(
        &gh,
        &["webhook", "install", "--repo", REPO],
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_WEBHOOK_SECRET", "configured-secret"),
            ("NECTR_PUBLIC_URL", "https://hooks.example.org"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "a configured secret is never printed"
    );
    let hook = &gh.hooks(REPO)[0];
    assert_eq!(hook.config["secret"], "configured-secret");
    assert_eq!(
        hook.config["url"],
        "https://hooks.example.org/api/v1/webhooks/github"
    );
}

#[test]
fn bad_input_is_exit_2() {
    let gh = fake();
    let no_token = nectr(&gh, &["webhook", "install", "--repo", REPO], &[]);
    assert_eq!(no_token.status.code(), Some(2));
    assert!(text(&no_token.stderr).contains("no GitHub token"));
    // No --url and no NECTR_PUBLIC_URL: nothing GitHub could reach, so nothing installed.
    let no_url = nectr(
        &gh,
        &["webhook", "install", "--repo", REPO],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    assert_eq!(no_url.status.code(), Some(2), "{}", text(&no_url.stderr));
    assert!(
        text(&no_url.stderr).contains("--url"),
        "{}",
        text(&no_url.stderr)
    );
    assert!(text(&no_url.stderr).contains("NECTR_PUBLIC_URL"));
    assert!(gh.hooks(REPO).is_empty());
    let bad_url = nectr(
        &gh,
        &[
            "webhook",
            "install",
            "--repo",
            REPO,
            "--url",
            "nectr.example.com",
        ],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(text(&bad_url.stderr).contains("not an http(s) URL"));
    let bad_repo = nectr(
        &gh,
        &["webhook", "install", "--repo", "nope"],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    assert_eq!(bad_repo.status.code(), Some(2));
    let unknown = nectr(
        &gh,
        &["webhook", "install", "--repo", "acme/missing"],
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("NECTR_PUBLIC_URL", "https://nectr.example.com"),
        ],
    );
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    assert!(gh.hooks(REPO).is_empty());
}
