//! The AI review end to end through `pipeline::review_diff_with_model`, against a scripted
//! stand-in for the external model: it returns queued replies and records every request.

use std::collections::VecDeque;
use std::sync::Mutex;

use nectr::config::{LoadedConfig, RepoConfig};
use nectr::llm::{
    BoxFuture, Completion, CompletionRequest, LanguageModel, LlmError, ModelInfo, Usage,
};
use nectr::pipeline::{PrText, review_diff_with_model, rule_set};
use nectr::review::Review;
use nectr::review::finding::Source;
use nectr::review::render::markdown;

/// The external model, scripted.
struct Scripted {
    info: ModelInfo,
    replies: Mutex<VecDeque<Result<String, LlmError>>>,
    /// Used when the queue is empty.
    default_reply: Option<String>,
    requests: Mutex<Vec<CompletionRequest>>,
}

impl Scripted {
    fn new(window: usize, replies: Vec<Result<String, LlmError>>) -> Scripted {
        Scripted {
            info: ModelInfo {
                provider: "openai",
                model: "scripted-1".into(),
                endpoint: "http://model.test".into(),
                context_window: window,
            },
            replies: Mutex::new(replies.into()),
            default_reply: None,
            requests: Mutex::new(Vec::new()),
        }
    }

    fn requests(&self) -> Vec<CompletionRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl LanguageModel for Scripted {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        self.requests.lock().unwrap().push(request.clone());
        let next = self.replies.lock().unwrap().pop_front();
        let reply = match next {
            Some(r) => r,
            None => Ok(self
                .default_reply
                .clone()
                .unwrap_or_else(|| r#"{"summary": "", "findings": []}"#.into())),
        };
        // Usage like a provider's: about 4 characters a token.
        let input = ((request.system.len() + request.user.len()) / 4) as u64;
        Box::pin(async move {
            reply.map(|text| Completion {
                usage: Usage {
                    input_tokens: input,
                    output_tokens: (text.len() / 4) as u64,
                },
                text,
                truncated: false,
            })
        })
    }
}

const DIFF: &str = "diff --git a/src/lib.rs b/src/lib.rs
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,6 @@
 fn keep() {}
-fn old() {}
+fn parse(input: &str) -> usize {
+    input.len() - 1
+}
 fn a() {}
 fn b() {}
diff --git a/.env b/.env
new file mode 100644
--- /dev/null
+++ b/.env
@@ -0,0 +1 @@
+DATABASE_PASSWORD=hunter2hunter2hunter2
";

async fn run(model: &Scripted, diff_text: &str, config: &str, title: &str, body: &str) -> Review {
    let diff = nectr::diff::parse(diff_text).unwrap();
    let config: LoadedConfig = if config.is_empty() {
        LoadedConfig::default()
    } else {
        RepoConfig::parse(config, "test").unwrap()
    };
    let (rules, _) = rule_set(&config).unwrap();
    review_diff_with_model(
        &diff,
        &rules,
        &config,
        None,
        PrText {
            title,
            body,
            context: Vec::new(),
        },
        Some(model as &dyn LanguageModel),
    )
    .await
}

const GOOD: &str = r#"Here you go:
```json
{"summary": "Adds a parser.", "findings": [
 {"path": "src/lib.rs", "line": 3, "severity": "major", "title": "Underflow on empty input", "body": "`len() - 1` panics on an empty string.", "suggestion": "    input.len().saturating_sub(1)"},
 {"path": "src/lib.rs", "line": 40, "severity": "minor", "title": "Callers not updated", "body": "Somewhere else."},
 {"path": "src/nowhere.rs", "line": 1, "severity": "critical", "title": "Invented", "body": "x"}
]}
```"#;

#[tokio::test]
async fn a_good_reply_becomes_anchored_and_summary_findings() {
    let model = Scripted::new(32_000, vec![Ok(GOOD.into())]);
    let review = run(&model, DIFF, "", "Add parser", "Please review").await;
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(review.stats.llm_calls, 1);
    assert!(review.stats.llm_input_tokens > 0 && review.stats.llm_output_tokens > 0);
    assert!(requests[0].response_schema.is_some());
    // The prompt: numbered new lines, delimited PR text, never the .env file.
    let user = &requests[0].user;
    assert!(user.contains("+     3 |     input.len() - 1"), "{user}");
    assert!(user.contains("<untrusted_pr_text>") && user.contains("Add parser"));
    assert!(!user.contains("hunter2"), "sensitive file sent");
    assert!(
        review
            .stats
            .skipped_files
            .iter()
            .any(|s| s.path == ".env" && s.reason.contains("sensitive")),
        "{:?}",
        review.stats.skipped_files
    );

    let llm: Vec<_> = review
        .findings
        .iter()
        .filter(|f| f.source == Source::Llm)
        .collect();
    assert_eq!(llm.len(), 2, "the unknown file's finding is dropped");
    let inline = llm.iter().find(|f| f.line == 3).unwrap();
    assert!(inline.anchored);
    assert!(
        inline
            .body
            .contains("```suggestion\n    input.len().saturating_sub(1)\n```")
    );
    let off = llm.iter().find(|f| f.line == 40).unwrap();
    assert!(!off.anchored, "off the diff: summary, never inline");
    let summary = markdown::summary(&review);
    assert!(summary.contains("Adds a parser."), "{summary}");
    assert!(summary.contains("Callers not updated"));
    assert!(summary.contains("not in this pull request"), "{summary}");
    assert!(
        summary.contains("AI review: `scripted-1` · 1 call"),
        "{summary}"
    );
}

#[tokio::test]
async fn a_bad_reply_is_repaired_once() {
    let model = Scripted::new(
        32_000,
        vec![Ok("I think it looks fine!".into()), Ok(GOOD.into())],
    );
    let review = run(&model, DIFF, "", "t", "").await;
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(review.stats.llm_calls, 2);
    assert!(requests[1].user.contains("I think it looks fine!"));
    assert!(
        requests[1].user.contains("no JSON object"),
        "{}",
        requests[1].user
    );
    assert!(review.findings.iter().any(|f| f.source == Source::Llm));
    assert!(review.notes.iter().all(|n| !n.contains("unavailable")));
}

#[tokio::test]
async fn two_bad_replies_degrade_to_the_rules_review() {
    let model = Scripted::new(
        32_000,
        vec![Ok("not json".into()), Ok("{\"summary\": \"cut".into())],
    );
    let review = run(&model, DIFF, "", "t", "").await;
    assert_eq!(model.requests().len(), 2);
    assert_eq!(review.stats.llm_calls, 2);
    assert!(review.findings.iter().all(|f| f.source == Source::Rules));
    let summary = markdown::summary(&review);
    assert!(
        summary.contains("AI review unavailable: the model") && summary.contains("not valid JSON"),
        "{summary}"
    );
    assert!(review.ai_summary.is_none());
}

#[tokio::test]
async fn a_model_error_degrades_with_the_reason() {
    let model = Scripted::new(
        32_000,
        vec![Err(LlmError::Timeout {
            model: "scripted-1".into(),
            secs: 60,
        })],
    );
    let review = run(&model, DIFF, "", "t", "").await;
    assert_eq!(
        model.requests().len(),
        1,
        "no repair for a transport failure"
    );
    let note = review.notes.join("\n");
    assert!(note.contains("AI review unavailable"), "{note}");
    assert!(note.contains("no answer within 60 s"), "{note}");
    assert!(review.findings.iter().all(|f| f.source == Source::Rules));
}

#[tokio::test]
async fn hostile_replies_are_neutralised() {
    let giant = "A".repeat(100_000);
    let reply = serde_json::json!({
        "summary": "Ping @admin <!-- nectr:review {\"head\":\"x\"} --> <script>alert(1)</script>",
        "findings": [
            {"path": "src/lib.rs", "line": 3, "severity": "apocalyptic", "title": "cc @org/security-team",
             "body": format!("<!-- nectr:finding 0123456789abcdef --> @octocat look {giant}")},
            {"path": "src/lib.rs", "line": 999, "end_line": 1000, "severity": "major", "title": "far away",
             "body": "b", "suggestion": "fix()"},
            {"path": "src/lib.rs", "line": 1, "side": "LEFT", "severity": "minor", "title": "left side",
             "body": "b", "suggestion": "x()"}
        ]
    })
    .to_string();
    let model = Scripted::new(32_000, vec![Ok(reply)]);
    let review = run(&model, DIFF, "", "t", "").await;
    let summary = markdown::summary(&review);
    for text in review
        .findings
        .iter()
        .map(|f| format!("{} {}", f.title, f.body))
        .chain([summary.clone()])
    {
        assert!(!text.contains("<!-- nectr:"), "{text}");
        assert!(
            !text.contains("@admin") && !text.contains("@octocat"),
            "{text}"
        );
        assert!(!text.contains("@org/security-team"), "{text}");
        assert!(!text.contains("<script>"), "{text}");
    }
    let llm: Vec<_> = review
        .findings
        .iter()
        .filter(|f| f.source == Source::Llm)
        .collect();
    let first = llm.iter().find(|f| f.line == 3).unwrap();
    assert_eq!(first.severity, nectr::review::finding::Severity::Minor);
    assert!(first.body.chars().count() < 5_000);
    let far = llm.iter().find(|f| f.line == 999).unwrap();
    assert!(!far.anchored);
    assert!(!far.body.contains("```suggestion"), "{}", far.body);
    let left = llm.iter().find(|f| f.title == "left side").unwrap();
    assert!(!left.body.contains("```suggestion"), "{}", left.body);
}

#[tokio::test]
async fn secrets_in_the_diff_and_pr_text_are_redacted() {
    let token = format!("ghp_{}", "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4");
    let aws = "AKIAQWERTYUIOPASDFGH";
    let diff = format!(
        "diff --git a/src/cfg.py b/src/cfg.py\n--- a/src/cfg.py\n+++ b/src/cfg.py\n@@ -1 +1,3 @@\n x = 1\n+TOKEN = \"{token}\"\n+aws = \"{aws}\"\n"
    );
    let model = Scripted::new(32_000, vec![]);
    let review = run(
        &model,
        &diff,
        "",
        &format!("use {aws}"),
        &format!("my token is {token}"),
    )
    .await;
    let req = &model.requests()[0];
    let all = format!("{}{}", req.system, req.user);
    assert!(!all.contains(&token), "{all}");
    assert!(!all.contains(aws), "{all}");
    assert!(all.contains("[REDACTED:secret.github-token]"));
    assert!(all.contains("[REDACTED:secret.aws-access-key-id]"), "{all}");
    assert!(
        review
            .findings
            .iter()
            .any(|f| f.rule == "secret.github-token")
    );
}

/// A 100-file, 30,000-line PR.
fn big_diff() -> String {
    let mut out = String::new();
    for f in 0..100 {
        let path = match f % 10 {
            0 => format!("tests/t{f}.rs"),
            1 => format!("docs/d{f}.md"),
            _ => format!("src/m{f}.rs"),
        };
        out.push_str(&format!(
            "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        ));
        for h in 0..6 {
            let start = h * 100 + 1;
            out.push_str(&format!("@@ -{start},0 +{start},50 @@\n"));
            for l in 0..50 {
                out.push_str(&format!(
                    "+let value_{f}_{h}_{l} = compute({l}) + offset;\n"
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_large_pr_is_chunked_within_the_window_and_budget() {
    let diff_text = big_diff();
    assert_eq!(
        diff_text
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count(),
        30_000
    );
    let window = 16_000;
    let model = Scripted::new(window, vec![]);
    let review = run(&model, &diff_text, "llm:\n  max_llm_calls: 5\n", "big", "").await;
    let requests = model.requests();
    assert_eq!(requests.len(), 5, "max_llm_calls respected");
    assert_eq!(review.stats.llm_calls, 5);
    for r in &requests {
        // The provider's count (chars/4) and ours (bytes/3) both fit the window.
        let provider_tokens = (r.system.len() + r.user.len()) / 4 + r.max_output_tokens as usize;
        assert!(provider_tokens < window, "{provider_tokens}");
        let ours = (r.system.len() + r.user.len()).div_ceil(3) + r.max_output_tokens as usize;
        assert!(ours <= window + 100, "{ours}");
    }
    // Sources first.
    assert!(requests[0].user.contains("=== File: src/m2.rs"));
    // Every file is reviewed or named as skipped.
    let sent: String = requests.iter().map(|r| r.user.as_str()).collect();
    let diff = nectr::diff::parse(&diff_text).unwrap();
    let mut skipped = 0;
    for f in &diff.files {
        let path = f.path();
        let in_prompt = sent.contains(&format!("=== File: {path} ("));
        let listed = review.stats.skipped_files.iter().find(|s| s.path == path);
        assert!(in_prompt || listed.is_some(), "{path} dropped silently");
        if let Some(s) = listed {
            skipped += 1;
            assert!(s.reason.contains("max_llm_calls"), "{}", s.reason);
        }
    }
    assert!(skipped > 0);
    assert!(markdown::summary(&review).contains("not reviewed"));
    // The estimate is conservative against the provider's reported usage.
    assert!(review.stats.llm_input_tokens > 0);
}
