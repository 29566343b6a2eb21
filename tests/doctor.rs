//! `nectr doctor` — the real binary against the fake GitHub server on loopback.

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::fake_github::{Access, FakeGitHub, Fault, FaultKind};

const TOKEN: &str = "doctor-admin-token-0123456789";
const REPO: &str = "acme/widgets";
const PUBLIC: &str = "https://nectr.example.com";
const TARGET: &str = "https://nectr.example.com/api/v1/webhooks/github";

/// A fake with a valid `repo` token and the repository, but no webhook yet.
fn fake() -> FakeGitHub {
    let gh = FakeGitHub::start_blocking();
    gh.add_token(TOKEN, "admin", Access::Write, "repo, read:org");
    gh.add_repo(REPO);
    gh
}

/// [`fake`] plus Nectr's webhook, correctly configured; returns its id.
fn fake_with_hook() -> (FakeGitHub, u64) {
    let gh = fake();
    let id = gh.add_hook(
        REPO,
        TARGET,
        &[
            "pull_request",
            "issues",
            "issue_comment",
            "pull_request_review_comment",
        ],
    );
    (gh, id)
}

fn nectr(gh: &FakeGitHub, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nectr"));
    cmd.env_clear()
        .env("GITHUB_API_URL", &gh.url)
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .env("NECTR_GITHUB_RETRY_BASE_MS", "1")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `nectr doctor --repo acme/widgets --url https://nectr.example.com [extra…]` with TOKEN.
fn doctor_repo(gh: &FakeGitHub, extra: &[&str]) -> Output {
    let mut args = vec!["doctor", "--repo", REPO, "--url", PUBLIC];
    args.extend_from_slice(extra);
    nectr(gh, &args, &[("GITHUB_TOKEN", TOKEN)])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The line of check `name` (`ok    name: …`), with the fix line after it if any.
fn check<'a>(stdout: &'a str, name: &str) -> Option<(&'a str, Option<&'a str>)> {
    let lines: Vec<&str> = stdout.lines().collect();
    let i = lines.iter().position(|l| {
        l.split_whitespace()
            .nth(1)
            .is_some_and(|n| n == format!("{name}:"))
    })?;
    let fix = lines
        .get(i + 1)
        .and_then(|l| l.trim_start().strip_prefix("fix: "));
    Some((lines[i], fix))
}

fn assert_status(stdout: &str, name: &str, status: &str) -> (String, Option<String>) {
    let (line, fix) =
        check(stdout, name).unwrap_or_else(|| panic!("no `{name}` check in:\n{stdout}"));
    assert!(
        line.starts_with(&format!("{status} ")),
        "`{name}` should be {status}:\n{stdout}"
    );
    (line.to_owned(), fix.map(str::to_owned))
}

fn assert_no_token(out: &Output, token: &str) {
    assert!(!text(&out.stdout).contains(token), "the token was printed");
    assert!(!text(&out.stderr).contains(token), "the token was printed");
}

/// `POST …/attempts` requests the fake received, as `(hook id, delivery id)`.
fn redeliveries(gh: &FakeGitHub) -> Vec<(u64, u64)> {
    gh.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/attempts"))
        .map(|r| {
            let parts: Vec<&str> = r.path.split('/').collect();
            // /repos/acme/widgets/hooks/{hook}/deliveries/{delivery}/attempts
            assert_eq!(
                parts[..5],
                ["", "repos", "acme", "widgets", "hooks"],
                "{}",
                r.path
            );
            (parts[5].parse().unwrap(), parts[7].parse().unwrap())
        })
        .collect()
}

#[test]
fn healthy_setup_is_all_ok() {
    let (gh, hook) = fake_with_hook();
    gh.add_delivery(REPO, hook, 200, "ping");
    gh.add_delivery(REPO, hook, 202, "pull_request");
    let out = doctor_repo(&gh, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let (token, _) = assert_status(&stdout, "token", "ok");
    assert!(token.contains("signed in as admin"), "{token}");
    assert!(token.contains("from GITHUB_TOKEN"), "{token}");
    let (scopes, _) = assert_status(&stdout, "scopes", "ok");
    assert!(scopes.contains("repo"), "{scopes}");
    let (rate, _) = assert_status(&stdout, "rate_limit", "ok");
    assert!(rate.contains("of 5000 requests left"), "{rate}");
    assert_status(&stdout, "repository", "ok");
    let (webhook, _) = assert_status(&stdout, "webhook", "ok");
    assert!(
        webhook.contains(&format!("hook {hook} sends to {TARGET}")),
        "{webhook}"
    );
    for name in [
        "webhook.active",
        "webhook.content_type",
        "webhook.insecure_ssl",
        "webhook.events",
    ] {
        assert_status(&stdout, name, "ok");
    }
    let (deliveries, _) = assert_status(&stdout, "deliveries", "ok");
    assert!(
        deliveries.contains("the last 2 deliveries got through"),
        "{deliveries}"
    );
    assert!(deliveries.contains("202×1"), "{deliveries}");
    assert!(stdout.ends_with("doctor: all checks passed\n"), "{stdout}");
    assert!(redeliveries(&gh).is_empty());
    assert_no_token(&out, TOKEN);
}

#[test]
fn json_format_lists_every_check() {
    let (gh, hook) = fake_with_hook();
    gh.add_delivery(REPO, hook, 500, "pull_request");
    let out = doctor_repo(&gh, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let checks = json["checks"].as_array().expect("checks");
    for c in checks {
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 4, "{c}");
        for key in ["name", "status", "detail", "fix"] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
    }
    let by_name = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {json}"))
    };
    assert_eq!(by_name("token")["status"], "ok");
    assert_eq!(by_name("token")["fix"], Value::Null);
    assert_eq!(by_name("webhook")["status"], "ok");
    let deliveries = by_name("deliveries");
    assert_eq!(deliveries["status"], "fail");
    assert!(deliveries["fix"].as_str().unwrap().contains("--redeliver"));
    assert_no_token(&out, TOKEN);
}

#[test]
fn invalid_token_fails_with_how_to_get_a_new_one() {
    let gh = fake();
    let bad = "ghp_not-a-real-token-xyz";
    let out = nectr(
        &gh,
        &["doctor", "--repo", REPO, "--url", PUBLIC],
        &[("GITHUB_TOKEN", bad)],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let (line, fix) = assert_status(&stdout, "token", "FAIL");
    assert!(line.contains("401"), "{line}");
    assert!(line.contains("invalid, expired or revoked"), "{line}");
    assert!(
        line.contains("a classic personal access token from GITHUB_TOKEN"),
        "{line}"
    );
    let fix = fix.expect("a fix");
    assert!(fix.contains("/settings/tokens/new?scopes=repo"), "{fix}");
    assert!(fix.contains("gh auth login"), "{fix}");
    // Nothing else can work with a rejected token: no further checks, no further requests.
    assert!(check(&stdout, "rate_limit").is_none(), "{stdout}");
    assert_eq!(gh.requests().len(), 1, "only GET /user");
    assert_no_token(&out, bad);
}

#[test]
fn no_token_at_all_is_exit_2() {
    let gh = fake();
    let out = nectr(&gh, &["doctor"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let (line, fix) = assert_status(&stdout, "token", "FAIL");
    assert!(line.contains("no GitHub token"), "{line}");
    assert!(fix.unwrap().contains("GITHUB_TOKEN"));
    assert!(gh.requests().is_empty());
}

#[test]
fn token_from_github_pat_is_used_last() {
    let gh = fake();
    let out = nectr(&gh, &["doctor"], &[("GITHUB_PAT", TOKEN)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let (line, _) = assert_status(&stdout, "token", "ok");
    assert!(line.contains("from GITHUB_PAT"), "{line}");
}

#[test]
fn missing_repo_scope_fails_and_public_repo_warns() {
    let gh = fake();
    gh.add_token("scoped-token", "reader", Access::Write, "read:org, gist");
    let out = nectr(&gh, &["doctor"], &[("GITHUB_TOKEN", "scoped-token")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let (line, fix) = assert_status(&stdout, "scopes", "FAIL");
    assert!(line.contains("read:org, gist"), "{line}");
    assert!(line.contains("needs the `repo` scope"), "{line}");
    assert!(fix.unwrap().contains("gh auth refresh -s repo"));
    // The other checks still run.
    assert_status(&stdout, "rate_limit", "ok");

    gh.add_token("public-token", "reader", Access::Write, "public_repo");
    let out = nectr(&gh, &["doctor"], &[("GITHUB_TOKEN", "public-token")]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a warning is not a failure: {stdout}"
    );
    let (line, _) = assert_status(&stdout, "scopes", "warn");
    assert!(line.contains("public repositories only"), "{line}");
    assert!(
        stdout.ends_with("doctor: no failures, 1 warning\n"),
        "{stdout}"
    );
}

#[test]
fn missing_webhook_lists_the_hooks_there_are() {
    let gh = fake();
    let ci = gh.add_hook(
        REPO,
        "https://ci.example.com/hooks/SECRET-PATH-TOKEN",
        &["push"],
    );
    let old = gh.add_hook(
        REPO,
        "https://old.example.com/api/v1/webhooks/github",
        &["pull_request", "issues"],
    );
    let out = doctor_repo(&gh, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let (line, fix) = assert_status(&stdout, "webhook", "FAIL");
    assert!(
        line.contains(&format!("no webhook of {REPO} sends to {TARGET}")),
        "{line}"
    );
    assert!(
        line.contains(&format!("hook {ci} → https://ci.example.com/… (push)")),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "hook {old} → https://old.example.com/api/v1/webhooks/github"
        )),
        "{line}"
    );
    assert!(line.contains("another server"), "{line}");
    assert!(
        !stdout.contains("SECRET-PATH-TOKEN"),
        "another service's URL secret was printed"
    );
    let fix = fix.unwrap();
    assert!(
        fix.contains(&format!(
            "nectr webhook install --repo {REPO} --url {PUBLIC}"
        )),
        "{fix}"
    );
    assert!(fix.contains("dashboard"), "{fix}");
    assert!(check(&stdout, "deliveries").is_none(), "{stdout}");

    // No hooks at all, and no public URL configured: say so.
    let bare = fake();
    let out = nectr(
        &bare,
        &["doctor", "--repo", REPO],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let (line, fix) = assert_status(&stdout, "webhook", "FAIL");
    assert!(line.contains("has no webhooks"), "{line}");
    assert!(
        line.contains("http://localhost:8000/api/v1/webhooks/github"),
        "{line}"
    );
    assert!(fix.unwrap().contains("NECTR_PUBLIC_URL is not set"));
}

#[test]
fn the_public_url_comes_from_the_environment() {
    let (gh, _) = fake_with_hook();
    let out = nectr(
        &gh,
        &["doctor", "--repo", REPO],
        &[
            ("GITHUB_TOKEN", TOKEN),
            ("NECTR_PUBLIC_URL", "https://NECTR.example.com/"),
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_status(&stdout, "webhook", "ok");
}

#[test]
fn misconfigured_webhook_fails_each_setting() {
    let (gh, hook) = fake_with_hook();
    gh.edit_hook_record(REPO, hook, |h| {
        h.active = false;
        h.events = vec!["push".to_owned(), "pull_request".to_owned()];
        h.config["content_type"] = "form".into();
        h.config["insecure_ssl"] = "1".into();
    });
    let out = doctor_repo(&gh, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert_status(&stdout, "webhook", "ok");
    let (line, fix) = assert_status(&stdout, "webhook.active", "FAIL");
    assert!(line.contains("inactive"), "{line}");
    assert!(fix.unwrap().contains(&format!("edit hook {hook}")));
    let (line, _) = assert_status(&stdout, "webhook.content_type", "FAIL");
    assert!(line.contains("form"), "{line}");
    let (line, _) = assert_status(&stdout, "webhook.insecure_ssl", "FAIL");
    assert!(line.contains("does not verify"), "{line}");
    let (line, fix) = assert_status(&stdout, "webhook.events", "FAIL");
    assert!(
        line.contains("sends push, pull_request; missing issues"),
        "{line}"
    );
    assert!(fix.unwrap().contains("Issues"));
    assert!(
        stdout.ends_with("doctor: 4 checks failed, 0 warnings\n"),
        "{stdout}"
    );

    // Fixing the events alone leaves the others failing; the wildcard sends everything.
    gh.edit_hook_record(REPO, hook, |h| h.events = vec!["*".to_owned()]);
    let stdout = text(&doctor_repo(&gh, &[]).stdout);
    assert_status(&stdout, "webhook.events", "ok");
    assert_status(&stdout, "webhook.active", "FAIL");
}

#[test]
fn failed_deliveries_are_listed_and_redelivered_on_request() {
    let (gh, hook) = fake_with_hook();
    let ok = gh.add_delivery(REPO, hook, 200, "pull_request");
    let server_error = gh.add_delivery(REPO, hook, 500, "pull_request");
    let no_connection = gh.add_delivery(REPO, hook, 0, "issues");

    let out = doctor_repo(&gh, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let (line, fix) = assert_status(&stdout, "deliveries", "FAIL");
    assert!(line.contains("2 of the last 3 deliveries failed"), "{line}");
    assert!(line.contains("2 events still undelivered"), "{line}");
    assert!(
        line.contains(&format!(
            "latest failure: delivery {no_connection} (issues) no connection"
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            "also: delivery {server_error} (pull_request) got 500"
        )),
        "{line}"
    );
    let fix = fix.unwrap();
    assert!(fix.contains("could not connect"), "{fix}");
    assert!(
        fix.contains(&format!("nectr doctor --repo {REPO} --redeliver")),
        "{fix}"
    );
    assert!(
        redeliveries(&gh).is_empty(),
        "nothing is redelivered without --redeliver"
    );

    let out = doctor_repo(&gh, &["--redeliver"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the failures stand until redelivered: {stdout}"
    );
    // Oldest first; the successful delivery is left alone.
    assert_eq!(
        redeliveries(&gh),
        vec![(hook, server_error), (hook, no_connection)]
    );
    assert!(!redeliveries(&gh).contains(&(hook, ok)));
    let redelivered: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("ok    redeliver: asked GitHub to redeliver: "))
        .collect();
    assert_eq!(redelivered.len(), 2, "{stdout}");
    assert!(redelivered[0].contains(&format!("delivery {server_error}")));
    assert!(redelivered[1].contains(&format!("delivery {no_connection}")));
    // Where to see what it asked for.
    for line in &redelivered {
        assert!(
            line.contains(&format!(
                "https://github.com/{REPO}/settings/hooks/{hook}?tab=deliveries"
            )),
            "{line}"
        );
    }
    assert_no_token(&out, TOKEN);
}

#[test]
fn an_older_failure_is_a_warning_when_the_latest_delivery_got_through() {
    let (gh, hook) = fake_with_hook();
    let failed = gh.add_delivery(REPO, hook, 401, "pull_request");
    gh.add_delivery(REPO, hook, 200, "pull_request");
    let out = doctor_repo(&gh, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let (line, fix) = assert_status(&stdout, "deliveries", "warn");
    assert!(
        line.contains(&format!("delivery {failed} (pull_request) got 401")),
        "{line}"
    );
    assert!(
        fix.unwrap().contains("secret"),
        "401 means the secrets differ"
    );
}

#[test]
fn hooks_refused_explains_admin_rights() {
    let (gh, _) = fake_with_hook();
    gh.inject(Fault {
        method: "GET",
        path_contains: "/hooks",
        kind: FaultKind::Status(403),
        times: 1,
    });
    let out = doctor_repo(&gh, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert_status(&stdout, "repository", "ok");
    let (line, fix) = assert_status(&stdout, "webhook", "FAIL");
    assert!(line.contains("403"), "{line}");
    assert!(
        line.contains("reading webhooks needs admin rights"),
        "{line}"
    );
    assert!(fix.unwrap().contains("repository admin"));
}

#[test]
fn unknown_repository_is_exit_2() {
    let gh = fake();
    let out = nectr(
        &gh,
        &["doctor", "--repo", "acme/missing", "--url", PUBLIC],
        &[("GITHUB_TOKEN", TOKEN)],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    let (line, _) = assert_status(&stdout, "repository", "FAIL");
    assert!(line.contains("acme/missing was not found"), "{line}");
    assert!(check(&stdout, "webhook").is_none());
}

#[test]
fn github_failing_is_exit_3() {
    let gh = fake();
    gh.inject(Fault {
        method: "GET",
        path_contains: "/user",
        kind: FaultKind::Status(502),
        times: 10,
    });
    let out = nectr(&gh, &["doctor"], &[("GITHUB_TOKEN", TOKEN)]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let (line, fix) = assert_status(&stdout, "token", "FAIL");
    assert!(line.contains("GET /user"), "{line}");
    assert!(fix.unwrap().contains("try again"));
    let user_calls = gh.requests().iter().filter(|r| r.path == "/user").count();
    assert!(
        user_calls > 1,
        "idempotent reads are retried ({user_calls})"
    );

    // GitHub failing later, on the hooks, is exit 3 too, after the checks that passed.
    let (gh, _) = fake_with_hook();
    gh.inject(Fault {
        method: "GET",
        path_contains: "/hooks",
        kind: FaultKind::Status(503),
        times: 10,
    });
    let out = doctor_repo(&gh, &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert_status(&stdout, "token", "ok");
    assert_status(&stdout, "webhook", "FAIL");
}

#[test]
fn low_rate_limit_warns() {
    let gh = fake();
    gh.set_rate_limit(50, 900);
    let out = nectr(&gh, &["doctor"], &[("GITHUB_TOKEN", TOKEN)]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let (line, fix) = assert_status(&stdout, "rate_limit", "warn");
    assert!(line.contains("low: 49 of 5000 requests left"), "{line}");
    assert!(line.contains("(in 15 min)"), "{line}");
    assert!(fix.is_some());
}

#[test]
fn bad_arguments_are_exit_2() {
    let gh = fake();
    let env = [("GITHUB_TOKEN", TOKEN)];
    let no_repo = nectr(&gh, &["doctor", "--redeliver"], &env);
    assert_eq!(no_repo.status.code(), Some(2), "--redeliver needs --repo");
    let bad_repo = nectr(&gh, &["doctor", "--repo", "nope"], &env);
    assert_eq!(bad_repo.status.code(), Some(2));
    assert!(text(&bad_repo.stderr).contains("not a repository name"));
    let bad_url = nectr(
        &gh,
        &["doctor", "--repo", REPO, "--url", "nectr.example.com"],
        &env,
    );
    assert_eq!(bad_url.status.code(), Some(2));
    assert!(text(&bad_url.stderr).contains("not an http(s) URL"));
    assert!(
        gh.requests().is_empty(),
        "bad arguments are caught before any request"
    );
}

#[test]
fn doctor_reports_whether_the_token_reaches_github_models_and_its_limits() {
    use support::fake_models::{FakeModels, ModelsLimits};
    let gh = fake();
    let models = FakeModels::start(ModelsLimits::default());
    models.grant(TOKEN);
    let env = |extra: &[(&'static str, &str)]| {
        let mut env = vec![
            ("GITHUB_TOKEN", TOKEN.to_owned()),
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("NECTR_GITHUB_MODELS_URL", models.url.clone()),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        env
    };
    let run = |env: Vec<(&str, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        nectr(&gh, &["doctor"], &env)
    };

    // In Actions with no provider configured: the zero-config default is checked.
    let out = run(env(&[]));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let (line, _) = assert_status(&stdout, "models", "ok");
    assert!(line.contains("model `openai/gpt-4.1-mini`"), "{line}");
    assert!(line.contains("tier `low`"), "{line}");
    assert!(
        line.contains(
            "8000 input / 4000 output tokens per request, 15 requests a minute, 150 a day"
        ),
        "{line}"
    );
    assert_eq!(models.completions().len(), 1, "one one-token call");
    assert_eq!(models.completions()[0].body["max_tokens"], 1);
    assert_no_token(&out, TOKEN);

    // No entitlement: a warning with the fix; the review would still run with the rules.
    let denied = FakeModels::start(ModelsLimits::default());
    denied.deny(TOKEN);
    let out = run(env(&[("NECTR_GITHUB_MODELS_URL", &denied.url)]));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let (line, fix) = assert_status(&stdout, "models", "warn");
    assert!(line.contains("403"), "{line}");
    assert!(fix.unwrap().contains("models: read"));

    // Another provider configured, or outside Actions: no Models check, no request.
    let before = models.requests().len();
    let out = run(env(&[("NECTR_LLM_PROVIDER", "openai")]));
    assert!(check(&text(&out.stdout), "models").is_none());
    let out = nectr(&gh, &["doctor"], &[("GITHUB_TOKEN", TOKEN)]);
    assert!(check(&text(&out.stdout), "models").is_none());
    assert_eq!(models.requests().len(), before);

    // GitHub Enterprise Server: said plainly, nothing asked.
    let out = run(env(&[("GITHUB_SERVER_URL", "https://ghe.example.com")]));
    let (line, _) = assert_status(&text(&out.stdout), "models", "warn");
    assert!(line.contains("Enterprise Server"), "{line}");
    assert_eq!(models.requests().len(), before);
}
