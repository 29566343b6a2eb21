//! A connected repository's `.nectr.yml` as an attacker writes it (issue 11), against the
//! real `nectr serve` binary, the fake GitHub and the mock LLM; plus `nectr action` stdout
//! and the CLI's repository names.
//!
//! - the `llm:` section cannot choose where the prompt and the operator's key go, nor the
//!   timeouts and retries (items 1, 4, 5); redirects are not followed and no endpoint's
//!   reply body is posted on the pull request;
//! - oversized configs and rule sets are refused fast with the server's memory bounded, and
//!   a review has a wall-clock deadline (item 2);
//! - a stdio MCP command cannot read the server's environment through /proc (item 7);
//! - file names cannot inject workflow commands in `nectr action` (item 9);
//! - `owner/name` that would leave the API path is refused (item 11).
//!
//! Serve tests run on SQLite always and on PostgreSQL when `NECTR_TEST_POSTGRES_URL` is set.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nectr::crypto::{Keyring, generate_key};
use nectr::github::webhook::sign;
use nectr::store::{EventStatus, EventSummary};
use serde_json::json;
use support::db::{Connected, seed_connected};
use support::fake_github::{Access, FakeGitHub, Fault, FaultKind, PullSpec, sha1_hex};
use support::mock_llm::{MockLlm, MockReply};
use support::raw_http::try_send;
use support::serve::serve_command;

const REPO: &str = "acme/hostile";
const TOKEN: &str = "gho_hostile_token_0123456789";
const SECRET: &str = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ff";
const LLM_KEY: &str = "sk-operator-key-0123456789abcdef";
/// What a hostile endpoint answers; it must never reach a pull request.
const LOOT: &str = "AccessKeyId=ASIALOOT SecretAccessKey=loot-secret-value";

const DIFF: &str = concat!(
    "diff --git a/src/lib.rs b/src/lib.rs\n",
    "--- a/src/lib.rs\n",
    "+++ b/src/lib.rs\n",
    "@@ -1,2 +1,3 @@\n",
    " fn a() {}\n",
    "+fn b() { let x = 1; }\n",
    " fn c() {}\n",
);

fn base_sha() -> String {
    sha1_hex(b"base commit")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `nectr serve` with one connected repository.
struct Serve {
    child: Child,
    url: String,
    db_url: String,
    fake: FakeGitHub,
    hook_id: i64,
    key: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    async fn start(db_url: &str, env: &[(&str, String)]) -> Serve {
        let fake = FakeGitHub::start().await;
        fake.add_token(TOKEN, "alice", Access::Write, "repo");
        fake.add_repo(REPO);
        let hook_id = fake.add_hook(
            REPO,
            "http://127.0.0.1/api/v1/webhooks/github",
            &["pull_request"],
        ) as i64;
        let key = generate_key();
        let keyring = Keyring::from_env_value(&key).unwrap();
        {
            let store = nectr::store::connect(db_url).await.unwrap();
            let connected = Connected {
                repo: REPO,
                login: "alice",
                github_id: 11,
                token: TOKEN,
                hook_id,
                secret: SECRET,
            };
            seed_connected(store.as_ref(), &keyring, &connected).await;
            store.close().await;
        }
        let port = free_port();
        let mut cmd = serve_command(&key, db_url, port, &fake.url);
        cmd.env("NECTR_PUBLIC_URL", "http://127.0.0.1")
            .env("NECTR_WORKERS", "1")
            .env("NECTR_RETRY_BASE_SECS", "0")
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start nectr serve");
        let serve = Serve {
            child,
            url: format!("http://127.0.0.1:{port}"),
            db_url: db_url.to_owned(),
            fake,
            hook_id,
            key,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = try_send("GET", &format!("{}/healthz", serve.url), &[], None).await
                && r.status == 200
            {
                return serve;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("nectr serve did not become ready");
    }

    /// A pull request whose base commit has `config` as `.nectr.yml` (the worker reads the
    /// config from the base: the repository's owner wrote it).
    fn add_pull(&self, number: u64, diff: &str, config: Option<&[u8]>) -> String {
        let head = sha1_hex(format!("head {number}").as_bytes());
        self.fake.add_pull(
            REPO,
            PullSpec {
                head_sha: head.clone(),
                base_sha: base_sha(),
                title: format!("Change {number}"),
                ..PullSpec::new(number, diff)
            },
        );
        if let Some(config) = config {
            self.fake.set_file(REPO, &base_sha(), ".nectr.yml", config);
        }
        head
    }

    /// Delivers `opened` for PR `number` and waits for its event to settle.
    async fn review(&self, number: u64, head: &str) -> EventSummary {
        let body = serde_json::to_vec(&json!({
            "action": "opened",
            "number": number,
            "pull_request": {
                "number": number, "title": format!("Change {number}"), "state": "open",
                "draft": false,
                "head": {"ref": "f", "sha": head, "repo": {"full_name": REPO}},
                "base": {"ref": "main", "sha": base_sha(), "repo": {"full_name": REPO}}
            },
            "repository": {"full_name": REPO}
        }))
        .unwrap();
        let signature = sign(SECRET.as_bytes(), &body);
        let hook = self.hook_id.to_string();
        let delivery = format!("hostile-{number}");
        let r = try_send(
            "POST",
            &format!("{}/api/v1/webhooks/github", self.url),
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", &delivery),
                ("X-Hub-Signature-256", &signature),
                ("X-GitHub-Hook-ID", &hook),
            ],
            Some(&body),
        )
        .await
        .expect("deliver");
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["event_id"].as_i64().expect("event id");
        let store = nectr::store::connect(&self.db_url).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let e = store.get_event(id).await.unwrap().expect("event");
            if !matches!(e.status, EventStatus::Pending | EventStatus::Running) {
                store.close().await;
                return e;
            }
            assert!(Instant::now() < deadline, "event did not settle: {e:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The posted review's text: summary plus inline comments.
    fn posted(&self, number: u64) -> String {
        let mut text = String::new();
        for r in self.fake.reviews(REPO, number) {
            text.push_str(&r.body);
            text.push('\n');
        }
        for c in self.fake.review_comments(REPO, number) {
            text.push_str(&c.body);
            text.push('\n');
        }
        text
    }

    /// The serve process's peak resident memory so far, in MiB (`VmHWM`).
    fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kib / 1024
    }
}

/// The operator's LLM settings, pointing at `mock`.
fn operator_llm(mock: &MockLlm) -> Vec<(&'static str, String)> {
    vec![
        ("NECTR_LLM_PROVIDER", "openai".into()),
        ("NECTR_LLM_BASE_URL", mock.openai_base()),
        ("NECTR_LLM_API_KEY", LLM_KEY.into()),
        ("NECTR_LLM_MODEL", "operator-model".into()),
        (
            "NECTR_LLM_ALLOWED_MODELS",
            "allowed-model, other-model".into(),
        ),
        ("NECTR_LLM_MAX_RETRIES", "0".into()),
    ]
}

const EMPTY_REVIEW: &str = r#"{"summary": "Looks fine.", "findings": []}"#;

// ---------------------------------------------------------------------------------------
// Items 1, 4, 5: the repository cannot choose the LLM endpoint, key, timeouts or retries.

async fn repository_llm_settings_cannot_redirect_the_prompt(db_url: String) {
    let operator = MockLlm::start().await;
    operator.set_default(MockReply::text(EMPTY_REVIEW));
    let attacker = MockLlm::start().await;
    attacker.set_default(MockReply::text(LOOT));
    // The operator prices the allowed model (the cost in the footer); nothing else.
    let mut env = operator_llm(&operator);
    env.push(("NECTR_LLM_PRICE", "allowed-model=1000,2000".into()));
    let serve = Serve::start(&db_url, &env).await;

    // 1 and 4: another provider, base URL and huge timeouts/retries; an allowed model.
    // And a price of its own, which only the operator may set.
    let config = format!(
        "llm:\n  provider: anthropic\n  base_url: {}\n  model: allowed-model\n  timeout_secs: 100000\n  max_retries: 10\n  context_window: 10000000\n  price: \"0,0\"\n  prices: {{allowed-model: \"0,0\"}}\n",
        attacker.url
    );
    let head = serve.add_pull(1, DIFF, Some(config.as_bytes()));
    let e = serve.review(1, &head).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(
        attacker.request_count(),
        0,
        "the repository's base_url was used"
    );
    let sent = operator.requests();
    assert!(!sent.is_empty(), "the operator's endpoint reviewed");
    assert!(
        sent.iter().all(|r| r.model() == Some("allowed-model")),
        "an allowed model is the repository's choice"
    );
    assert!(
        sent.iter()
            .all(|r| r.header("authorization") == Some(&*format!("Bearer {LLM_KEY}")))
    );
    // The cost is the operator's price, not the repository's zero.
    let posted = serve.posted(1);
    assert!(
        posted.contains("at the operator's prices"),
        "the operator's price: {posted}"
    );
    assert!(!posted.contains("$0.00"), "{posted}");

    // 5: `provider: ollama` (a plain-HTTP local default) and a model not on the list.
    let before = operator.request_count();
    let head = serve.add_pull(
        2,
        DIFF,
        Some(b"llm:\n  provider: ollama\n  model: evil-model\n"),
    );
    // (the config file is per commit: PR 2 shares the base, so it now reads this one)
    let e = serve.review(2, &head).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    let sent = operator.requests();
    assert!(sent.len() > before, "still the operator's endpoint");
    assert!(
        sent[before..]
            .iter()
            .all(|r| r.model() == Some("operator-model")),
        "a model off the allow-list falls back to the operator's"
    );
    // The operator priced another model only: no number rather than a wrong one.
    assert!(
        !serve.posted(2).contains("estimated cost"),
        "{}",
        serve.posted(2)
    );
    assert_eq!(attacker.request_count(), 0);

    // Switching the AI review off is the repository's right.
    let before = operator.request_count();
    let head = serve.add_pull(3, DIFF, Some(b"llm:\n  provider: none\n"));
    let e = serve.review(3, &head).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(
        operator.request_count(),
        before,
        "provider: none is honoured"
    );
    for n in 1..=3 {
        assert!(!serve.posted(n).contains(LLM_KEY));
    }
}

/// No LLM configured by the operator: a repository cannot bring its own.
async fn without_an_operator_llm_the_repository_gets_none(db_url: String) {
    let attacker = MockLlm::start().await;
    attacker.set_default(MockReply::text(LOOT));
    let serve = Serve::start(&db_url, &[]).await;
    let config = format!(
        "llm:\n  provider: openai\n  base_url: {}\n",
        attacker.openai_base()
    );
    let head = serve.add_pull(1, DIFF, Some(config.as_bytes()));
    let e = serve.review(1, &head).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(attacker.request_count(), 0, "SSRF through llm.base_url");
    assert!(!serve.posted(1).contains("ASIALOOT"));
}

/// The operator's endpoint redirecting elsewhere, or answering with anything at all: the
/// redirect is not followed and the body is not posted.
async fn llm_redirects_are_not_followed_and_bodies_not_posted(db_url: String) {
    let operator = MockLlm::start().await;
    let elsewhere = MockLlm::start().await;
    elsewhere.set_default(MockReply::text(LOOT));
    let serve = Serve::start(&db_url, &operator_llm(&operator)).await;

    operator.set_default(MockReply::Raw {
        status: 302,
        headers: vec![(
            "location".into(),
            format!("{}/chat/completions", elsewhere.openai_base()),
        )],
        body: String::new(),
    });
    let head = serve.add_pull(1, DIFF, None);
    let e = serve.review(1, &head).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(elsewhere.request_count(), 0, "a redirect was followed");
    let posted = serve.posted(1);
    assert!(posted.contains("AI review unavailable"), "{posted}");
    assert!(posted.contains("HTTP 302"), "{posted}");

    for (n, reply) in [
        (2, MockReply::status_with_message(500, LOOT)),
        (3, MockReply::InvalidJson(LOOT.into())),
        (
            4,
            MockReply::Raw {
                status: 418,
                headers: vec![],
                body: LOOT.into(),
            },
        ),
    ] {
        operator.set_default(reply);
        let head = serve.add_pull(n, DIFF, None);
        let e = serve.review(n, &head).await;
        assert_eq!(e.status, EventStatus::Done, "{e:?}");
        let posted = serve.posted(n);
        assert!(posted.contains("AI review unavailable"), "#{n}: {posted}");
        assert!(
            !posted.contains("ASIALOOT"),
            "#{n} echoed the body: {posted}"
        );
        assert!(!posted.contains("loot-secret"), "#{n}: {posted}");
    }
}

// ---------------------------------------------------------------------------------------
// Item 2: bounded work per review.

fn rules_config(n: usize, regex: &str) -> String {
    let mut s = String::from("rules:\n  custom:\n");
    for i in 0..n {
        s.push_str(&format!(
            "    - {{id: r{i}, regex: '{regex}', message: m}}\n"
        ));
    }
    s
}

async fn hostile_rule_sets_are_refused_fast_with_memory_bounded(db_url: String) {
    let serve = Serve::start(&db_url, &[]).await;
    // (config, the reason its event fails with): the first cap a config meets stops it.
    let alias_bomb = |regex: &str| {
        let mut s = format!("x: &r {{id: r, regex: '{regex}', message: m}}\nrules:\n  custom:\n");
        for _ in 0..5_000 {
            s.push_str("    - *r\n");
        }
        s
    };
    let cases: Vec<(String, &str)> = vec![
        // The corpus of the issue: 156 KB of `.{1000}xN` rules (8.5 GB before).
        (
            {
                let mut s = String::from("rules:\n  custom:\n");
                for i in 0..3000 {
                    s.push_str(&format!(
                        "    - {{id: r{i}, regex: '.{{1000}}x{i}', message: m}}\n"
                    ));
                }
                s
            },
            "at most 64 KiB",
        ),
        // 60,000 small rules (1.6 GB and 30 s before).
        (rules_config(60_000, "a"), "at most 64 KiB"),
        // Under 64 KiB, as many of the expensive rules as fit: the regex budget stops them
        // (at the fifth), long before the count would.
        (rules_config(1_300, ".{1000}x"), "too big once compiled"),
        // As many cheap rules: the count stops them.
        (rules_config(1_300, "a+b"), "more than 100 custom rules"),
        // YAML aliases: one rule repeated 5,000 times without repeating its text.
        (alias_bomb("a+b"), "more than 100 custom rules"),
        (alias_bomb(".{1000}x"), "too big once compiled"),
    ];
    for (i, (config, expected)) in cases.iter().enumerate() {
        let n = i as u64 + 1;
        // Each case on its own base commit, so each PR reads its own config.
        let base = sha1_hex(format!("base {n}").as_bytes());
        let head = sha1_hex(format!("head {n}").as_bytes());
        serve.fake.add_pull(
            REPO,
            PullSpec {
                head_sha: head.clone(),
                base_sha: base.clone(),
                ..PullSpec::new(n, DIFF)
            },
        );
        serve
            .fake
            .set_file(REPO, &base, ".nectr.yml", config.as_bytes());
        let body = serde_json::to_vec(&json!({
            "action": "opened", "number": n,
            "pull_request": {
                "number": n, "title": "t", "state": "open", "draft": false,
                "head": {"ref": "f", "sha": head, "repo": {"full_name": REPO}},
                "base": {"ref": "main", "sha": base, "repo": {"full_name": REPO}}
            },
            "repository": {"full_name": REPO}
        }))
        .unwrap();
        let started = Instant::now();
        let e = deliver_and_settle(&serve, n, &body).await;
        let took = started.elapsed();
        assert_eq!(e.status, EventStatus::Failed, "case {n}: {e:?}");
        let error = e.error.clone().unwrap_or_default();
        assert!(error.contains(expected), "case {n}: {error}");
        assert!(error.contains(".nectr.yml"), "names the file: {error}");
        assert_eq!(e.attempts, 1, "a config error is not retried: {e:?}");
        assert!(took < Duration::from_secs(20), "case {n} took {took:?}");
        assert!(serve.fake.reviews(REPO, n).is_empty());
    }
    let peak = serve.peak_rss_mib();
    eprintln!("nectr serve peak RSS over the hostile configs: {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");
}

async fn deliver_and_settle(serve: &Serve, n: u64, body: &[u8]) -> EventSummary {
    let signature = sign(SECRET.as_bytes(), body);
    let hook = serve.hook_id.to_string();
    let delivery = format!("bounded-{n}");
    let r = try_send(
        "POST",
        &format!("{}/api/v1/webhooks/github", serve.url),
        &[
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", &delivery),
            ("X-Hub-Signature-256", &signature),
            ("X-GitHub-Hook-ID", &hook),
        ],
        Some(body),
    )
    .await
    .expect("deliver");
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["event_id"].as_i64().unwrap();
    let store = nectr::store::connect(&serve.db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let e = store.get_event(id).await.unwrap().unwrap();
        if !matches!(e.status, EventStatus::Pending | EventStatus::Running) {
            store.close().await;
            return e;
        }
        assert!(Instant::now() < deadline, "did not settle: {e:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A model that never answers in time: the review is posted at the operator's deadline
/// with the rule findings, saying the AI part timed out; the repository's long timeouts
/// and retries change nothing.
async fn slow_models_meet_the_review_deadline(db_url: String) {
    let operator = MockLlm::start().await;
    operator.set_default(MockReply::delayed(
        Duration::from_secs(60),
        MockReply::text(EMPTY_REVIEW),
    ));
    let mut env = operator_llm(&operator);
    env.push(("NECTR_REVIEW_DEADLINE_SECS", "4".into()));
    let serve = Serve::start(&db_url, &env).await;
    let diff = concat!(
        "diff --git a/src/lib.rs b/src/lib.rs\n",
        "--- a/src/lib.rs\n",
        "+++ b/src/lib.rs\n",
        "@@ -1,1 +1,2 @@\n",
        " fn a() {}\n",
        "+<<<<<<< HEAD\n",
    );
    let head = serve.add_pull(
        1,
        diff,
        Some(b"llm:\n  timeout_secs: 100000\n  max_retries: 10\n"),
    );
    let started = Instant::now();
    let e = serve.review(1, &head).await;
    let took = started.elapsed();
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    let posted = serve.posted(1);
    assert!(posted.contains("AI review unavailable"), "{posted}");
    assert!(posted.contains("deadline"), "{posted}");
    assert!(posted.contains("conflict"), "the rule findings: {posted}");
}

/// A review that cannot finish in time (here: GitHub slow to send the config) fails at the
/// deadline with the reason, instead of holding the worker.
async fn reviews_past_the_deadline_fail_cleanly(db_url: String) {
    let serve = Serve::start(&db_url, &[("NECTR_REVIEW_DEADLINE_SECS", "2".into())]).await;
    serve.fake.inject(Fault {
        method: "GET",
        path_contains: "contents/.nectr.yml",
        kind: FaultKind::Delay { millis: 8_000 },
        times: 1,
    });
    let head = serve.add_pull(1, DIFF, None);
    let started = Instant::now();
    let e = serve.review(1, &head).await;
    let took = started.elapsed();
    assert_eq!(e.status, EventStatus::Failed, "{e:?}");
    let error = e.error.unwrap_or_default();
    assert!(error.contains("did not finish within 2 s"), "{error}");
    assert!(error.contains("NECTR_REVIEW_DEADLINE_SECS"), "{error}");
    assert!(took < Duration::from_secs(7), "took {took:?}");
    assert!(serve.fake.reviews(REPO, 1).is_empty());
}

// ---------------------------------------------------------------------------------------
// Item 7: a stdio MCP command cannot read the server's environment.

async fn stdio_mcp_children_cannot_read_the_server_environment(db_url: String) {
    let dir = tempfile::tempdir().unwrap();
    // The child may run as another user: let it write its findings here.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let out = dir.path().display().to_string();
    let serve = Serve::start(
        &db_url,
        &[
            ("NECTR_MCP_ALLOW_STDIO", "1".into()),
            // Stands for the server's secrets (GITHUB_CLIENT_SECRET, DATABASE_URL, …).
            ("NECTR_TEST_CANARY", "canary-client-secret-42".into()),
        ],
    )
    .await;
    let script = format!(
        "cat /proc/$PPID/environ > {out}/environ 2>{out}/err; tr '\\0' '\\n' < /proc/self/environ > {out}/own; touch {out}/ran"
    );
    let config = format!(
        "context:\n  mcp:\n    - name: probe\n      tool: probe\n      command: [\"sh\", \"-c\", {}]\n",
        serde_json::to_string(&script).unwrap()
    );
    let head = serve.add_pull(1, DIFF, Some(config.as_bytes()));
    let e = serve.review(1, &head).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert!(
        dir.path().join("ran").exists(),
        "the command ran (NECTR_MCP_ALLOW_STDIO=1): {}",
        serve.posted(1)
    );
    let stolen = std::fs::read(dir.path().join("environ")).unwrap_or_default();
    let stolen = String::from_utf8_lossy(&stolen);
    assert!(
        !stolen.contains("canary-client-secret-42") && !stolen.contains(&serve.key),
        "the child read the server's environment"
    );
    let own = std::fs::read_to_string(dir.path().join("own")).unwrap_or_default();
    assert!(
        !own.contains("canary"),
        "the child's own environment: {own}"
    );
    assert!(!own.contains("NECTR_ENCRYPTION_KEY"), "{own}");
    let posted = serve.posted(1);
    assert!(
        posted.contains("probe"),
        "the failed MCP server is named: {posted}"
    );
}

backend_tests!(
    repository_llm_settings_cannot_redirect_the_prompt,
    without_an_operator_llm_the_repository_gets_none,
    llm_redirects_are_not_followed_and_bodies_not_posted,
    hostile_rule_sets_are_refused_fast_with_memory_bounded,
    slow_models_meet_the_review_deadline,
    reviews_past_the_deadline_fail_cleanly,
    stdio_mcp_children_cannot_read_the_server_environment,
);

// ---------------------------------------------------------------------------------------
// Item 9: `nectr action` stdout.

#[test]
fn action_output_cannot_inject_workflow_commands() {
    let fake = FakeGitHub::start_blocking();
    let bot = "github-actions[bot]";
    let token = "ghs_actionsTokenHostile0123456789abcdefgh";
    fake.add_token(token, bot, Access::Write, "");
    fake.add_repo(REPO);
    let evil = "::warning::x.py";
    let diff = format!(
        "diff --git a/{evil} b/{evil}\n--- a/{evil}\n+++ b/{evil}\n@@ -1,1 +1,2 @@\n a = 1\n+<<<<<<< HEAD\n"
    );
    let head = sha1_hex(b"action head");
    fake.add_pull(
        REPO,
        PullSpec {
            head_sha: head.clone(),
            base_sha: base_sha(),
            ..PullSpec::new(5, diff)
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::to_vec(&json!({
            "action": "opened", "number": 5,
            "pull_request": {
                "number": 5, "title": "t", "state": "open", "draft": false,
                "user": {"login": "dev"},
                "head": {"ref": "f", "sha": head, "repo": {"full_name": REPO}},
                "base": {"ref": "main", "sha": base_sha(), "repo": {"full_name": REPO}}
            },
            "repository": {"full_name": REPO}
        }))
        .unwrap(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nectr"))
        .arg("action")
        .current_dir(dir.path())
        .env_clear()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", &event)
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_API_URL", &fake.url)
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .env("NECTR_GITHUB_RETRY_BASE_MS", "5")
        .output()
        .expect("run nectr action");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(evil), "the file is named: {stdout}");
    // Every line that could be a command outside a stop-commands block is one of ours.
    let mut stopped: Option<String> = None;
    for line in stdout.lines() {
        if let Some(token) = &stopped {
            if line == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            assert!(token.len() >= 16, "a guessable token: {line}");
            stopped = Some(token.to_owned());
            continue;
        }
        if line.starts_with("::") {
            assert!(
                line.starts_with("::add-mask::")
                    || line.starts_with("::notice ")
                    || line.starts_with("::warning title=Nectr config::"),
                "an injected workflow command: {line}\n{stdout}"
            );
        }
    }
    assert!(stopped.is_none(), "the block is closed");
    assert!(
        stdout.lines().any(|l| l.starts_with("::stop-commands::")),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// Item 11: `owner/name` is checked before it reaches a URL.

#[test]
fn repository_names_outside_githubs_rules_are_refused() {
    let fake = FakeGitHub::start_blocking();
    fake.add_token(TOKEN, "alice", Access::Write, "repo");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nectr"))
            .args(args)
            .env_clear()
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_API_URL", &fake.url)
            .output()
            .expect("run nectr")
    };
    for bad in [
        "../../etc/passwd",
        "octo/..",
        "octo/a/b",
        "octo/x%2F..",
        "o o/x",
    ] {
        let out = run(&["review", "--repo", bad, "--pr", "1", "--dry-run"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("not a repository name"), "{bad}: {stderr}");
    }
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::to_vec(&json!({
            "action": "opened", "number": 1,
            "pull_request": {
                "number": 1, "title": "t", "state": "open",
                "head": {"ref": "f", "sha": "abc", "repo": {"full_name": "x/y"}},
                "base": {"ref": "main", "sha": "def", "repo": {"full_name": "x/y"}}
            },
            "repository": {"full_name": "../../etc/passwd"}
        }))
        .unwrap(),
    )
    .unwrap();
    let out = run(&["review", "--event", event.to_str().unwrap(), "--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("repository.full_name"), "{stderr}");
    assert!(
        fake.requests().is_empty(),
        "nothing reached GitHub: {:?}",
        fake.requests().iter().map(|r| r.line()).collect::<Vec<_>>()
    );
}
