//! The AI review through the real binary: `nectr review --diff` and `--repo/--pr` with
//! `NECTR_LLM_*` pointing at the mock LLM server (OpenAI-compatible and Anthropic), and the
//! fake GitHub for pull requests. The model's answers are the mock's; everything in between
//! is Nectr's own code.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use support::fake_github::{Access, FakeGitHub, PullSpec};
use support::mock_llm::{MockLlm, MockReply};

const KEY: &str = "sk-ai-cli-test-key-0123456789";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn nectr(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nectr"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NECTR_LLM_API_KEY", KEY)
        .env("NECTR_LLM_MODEL", "mock-model")
        .env("NECTR_LLM_MAX_RETRIES", "0")
        .current_dir(root());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run nectr")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const GOOD: &str = r#"{"summary": "Looks risky: @octocat please check <!-- nectr:review {\"v\":1} -->",
 "findings": [{"path": "app/db.py", "line": 18, "severity": "major",
   "title": "eval on user input", "body": "cc @security-team: `eval` runs arbitrary code."},
  {"path": "nowhere.py", "line": 3, "severity": "minor", "title": "ghost", "body": "x"}]}"#;

#[test]
fn diff_review_adds_model_findings_and_neutralises_them() {
    let mock = MockLlm::start_blocking();
    mock.push(MockReply::text(format!(
        "Here you go:\n```json\n{GOOD}\n```"
    )));
    let out = nectr(
        &["review", "--diff", "examples/pr.diff", "--format", "json"],
        &[
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_BASE_URL", &mock.openai_base()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let findings = doc["findings"].as_array().unwrap();
    let llm: Vec<&Value> = findings.iter().filter(|f| f["source"] == "llm").collect();
    assert_eq!(llm.len(), 1, "{doc:#}");
    assert_eq!(llm[0]["path"], "app/db.py");
    assert_eq!(llm[0]["line"], 18);
    assert_eq!(llm[0]["anchored"], true);
    let body = llm[0]["body"].as_str().unwrap();
    assert!(
        !body.contains("@security-team"),
        "mention must not ping: {body}"
    );
    assert!(
        findings.iter().any(|f| f["source"] == "rules"),
        "rules still run"
    );
    let summary = doc["summary"].as_str().unwrap();
    assert!(!summary.contains("nectr:review {\\\"v\\\":1}"), "{summary}");
    assert!(!summary.contains("@octocat "), "{summary}");
    assert_eq!(doc["stats"]["llm_calls"], 1);
    // The request: the key as a bearer token, the diff with line numbers, no secret leaked.
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let user = requests[0].user().unwrap();
    assert!(user.contains("app/db.py"), "{user}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(KEY) && !String::from_utf8_lossy(&out.stdout).contains(KEY));
}

#[test]
fn a_broken_model_degrades_to_the_rules_review() {
    let mock = MockLlm::start_blocking();
    mock.script([
        MockReply::text("I think the code is fine!"),
        MockReply::text("Still not JSON, sorry."),
    ]);
    let out = nectr(
        &["review", "--diff", "examples/pr.diff", "--format", "json"],
        &[
            ("NECTR_LLM_PROVIDER", "anthropic"),
            ("NECTR_LLM_BASE_URL", &mock.url),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let findings = doc["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f["source"] == "rules"), "{doc:#}");
    let summary = doc["summary"].as_str().unwrap().to_lowercase();
    assert!(summary.contains("ai review"), "{summary}");
    assert_eq!(mock.request_count(), 2, "one call and one repair");
    assert_eq!(
        mock.requests()[0].header("x-api-key"),
        Some(KEY),
        "Anthropic's key header"
    );
}

#[test]
fn an_unreachable_model_is_a_note_not_a_failure() {
    let mock = MockLlm::start_blocking();
    mock.set_default(MockReply::status(500));
    let out = nectr(
        &[
            "review",
            "--diff",
            "examples/pr.diff",
            "--format",
            "markdown",
        ],
        &[
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_BASE_URL", &mock.openai_base()),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("ai review"), "{text}");
    assert!(text.contains("500"), "the reason is given: {text}");
    assert!(!text.contains(&KEY.to_lowercase()));
}

#[test]
fn pull_request_review_posts_model_findings_inline() {
    let fake = FakeGitHub::start_blocking();
    fake.add_token("ghp_ai", "nectr-bot", Access::Write, "repo");
    fake.add_repo("acme/app");
    let diff = std::fs::read_to_string(root().join("examples/pr.diff")).unwrap();
    let pull = PullSpec::new(5, diff);
    // The new version of the modified file, at the head: it goes to the model whole.
    fake.set_file(
        "acme/app",
        &pull.head_sha,
        "app/db.py",
        b"import sqlite3\nimport os\n\n\ndef connect(path):\n    return sqlite3.connect(path)\n",
    );
    fake.add_pull("acme/app", pull);
    let mock = MockLlm::start_blocking();
    mock.push(MockReply::text(GOOD));
    let out = nectr(
        &[
            "review", "--repo", "acme/app", "--pr", "5", "--format", "json",
        ],
        &[
            ("GITHUB_TOKEN", "ghp_ai"),
            ("GITHUB_API_URL", &fake.url),
            ("NECTR_GITHUB_WRITE_GAP_MS", "0"),
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_BASE_URL", &mock.openai_base()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reviews = fake.reviews("acme/app", 5);
    assert_eq!(reviews.len(), 1);
    let review = &reviews[0];
    assert_eq!(
        review.event, "COMMENT",
        "a model never approves or requests changes"
    );
    let inline = review
        .comments
        .iter()
        .find(|c| c.body.contains("eval on user input"))
        .expect("the model's finding is an inline comment");
    assert_eq!(inline.path.as_deref(), Some("app/db.py"));
    assert!(!inline.body.contains("@security-team"));
    assert!(!review.body.contains("nectr:review {\"v\":1}"));
    // The PR title and body reached the model as delimited data.
    let user = mock.requests()[0].user().unwrap();
    assert!(user.contains("untrusted"), "{user}");
    // So did the whole modified file, fetched with one GraphQL query at the head.
    assert!(
        user.contains("<untrusted_file path=\"app/db.py\">\n     1 | import sqlite3\n"),
        "{user}"
    );
    let requests = fake.requests();
    let graphql: Vec<_> = requests.iter().filter(|r| r.path == "/graphql").collect();
    assert_eq!(graphql.len(), 1);
    // One query for both: the rules asked for web/client.js (a `console.log` below line
    // 5) and its package.json candidates, and the AI reviewer's files came with it.
    let query = graphql[0].body_text();
    for path in ["web/client.js", "web/package.json", "app/db.py"] {
        assert!(query.contains(&format!(":{path}\"")), "{query}");
    }
    assert!(
        !requests.iter().any(|r| r.path.contains("/contents/app/")),
        "no REST call per file"
    );
}

#[test]
fn text_format_shows_the_ai_overview() {
    let mock = MockLlm::start_blocking();
    mock.push(MockReply::text(GOOD));
    let out = nectr(
        &["review", "--diff", "examples/pr.diff", "--format", "text"],
        &[
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_BASE_URL", &mock.openai_base()),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("AI overview (mock-model):\n    Looks risky"),
        "{text}"
    );
    assert!(
        !text.contains("@octocat "),
        "the overview is neutralised: {text}"
    );
    assert!(
        text.contains("app/db.py:18: major llm: eval on user input"),
        "{text}"
    );
}

#[test]
fn the_operator_price_gives_the_cost_and_a_malformed_one_stops_before_any_call() {
    let mock = MockLlm::start_blocking();
    mock.set_default(MockReply::text(GOOD));
    let base = mock.openai_base();
    let env = |price: &'static str| {
        vec![
            ("NECTR_LLM_PROVIDER", "openai"),
            ("NECTR_LLM_BASE_URL", base.as_str()),
            ("NECTR_LLM_PRICE", price),
        ]
    };
    let out = nectr(
        &["review", "--diff", "examples/pr.diff", "--format", "json"],
        &env("mock-model=1000,2000"),
    );
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    let stats = &doc["stats"];
    let (input, output) = (
        stats["llm_input_tokens"].as_f64().unwrap(),
        stats["llm_output_tokens"].as_f64().unwrap(),
    );
    let cost = stats["llm_cost_usd"].as_f64().expect("a cost");
    assert!(
        (cost - (input * 1000.0 + output * 2000.0) / 1e6).abs() < 1e-9,
        "{stats}"
    );
    let summary = doc["summary"].as_str().unwrap();
    assert!(summary.contains("at the operator's prices"), "{summary}");

    // No price for this model (a local server, a name Nectr does not know): no cost at all.
    let out = nectr(
        &["review", "--diff", "examples/pr.diff", "--format", "json"],
        &env("other-model=1,2"),
    );
    let doc = json(&out);
    assert!(doc["stats"].get("llm_cost_usd").is_none(), "{doc:#}");
    assert!(!doc["summary"].as_str().unwrap().contains("estimated cost"));

    // A typo is exit 2 with the fix, before the model is asked.
    let before = mock.request_count();
    let out = nectr(&["review", "--diff", "examples/pr.diff"], &env("2.5 10"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NECTR_LLM_PRICE") && stderr.contains("e.g."),
        "{stderr}"
    );
    assert_eq!(mock.request_count(), before, "no model call");
}
