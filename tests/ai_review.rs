//! The AI review end to end through `pipeline::review_diff_with_model`, against a scripted
//! stand-in for the external model: it returns queued replies and records every request.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use nectr::config::{LoadedConfig, RepoConfig};
use nectr::llm::{
    BoxFuture, Completion, CompletionRequest, LanguageModel, LlmError, ModelInfo, Usage,
};
use nectr::pipeline::{PrText, review_diff_with_model, rule_set};
use nectr::review::Review;
use nectr::review::ai::files::FileSource;
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
                limits: Default::default(),
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
    run_with_files(model, diff_text, config, title, body, None).await
}

async fn run_with_files(
    model: &Scripted,
    diff_text: &str,
    config: &str,
    title: &str,
    body: &str,
    files: Option<&dyn FileSource>,
) -> Review {
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
            files,
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
    // The suggestion travels in its own field and is fenced when rendered.
    assert!(!inline.body.contains("```"), "{}", inline.body);
    assert!(
        markdown::inline_comment(inline, None)
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
    // Off the diff or on the old side: shown as plain code, never as an applicable block.
    let far_shown = markdown::suggestion(far).unwrap();
    assert!(!far_shown.contains("```suggestion"), "{far_shown}");
    let left = llm.iter().find(|f| f.title == "left side").unwrap();
    let left_shown = markdown::inline_comment(left, None);
    assert!(!left_shown.contains("```suggestion"), "{left_shown}");
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

/// Whole files held in memory; records what it was asked for.
struct Files {
    texts: BTreeMap<String, String>,
    asked: Mutex<Vec<Vec<String>>>,
}

impl Files {
    fn new(files: &[(&str, &str)]) -> Files {
        Files {
            texts: files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
            asked: Mutex::new(Vec::new()),
        }
    }

    fn asked(&self) -> Vec<Vec<String>> {
        self.asked.lock().unwrap().clone()
    }
}

impl FileSource for Files {
    fn texts<'a>(&'a self, paths: &'a [String]) -> BoxFuture<'a, BTreeMap<String, String>> {
        self.asked.lock().unwrap().push(paths.to_vec());
        self.texts.texts(paths)
    }
}

/// Four modified files (a test, two sources — the second with a rule finding — and a
/// sensitive one) and an added source file.
const FIVE_FILES: &str = "diff --git a/tests/it.rs b/tests/it.rs
--- a/tests/it.rs
+++ b/tests/it.rs
@@ -1,2 +1,2 @@
 use app::*;
-fn t() {}
+fn t() { assert!(run()); }
diff --git a/src/a.rs b/src/a.rs
--- a/src/a.rs
+++ b/src/a.rs
@@ -2,2 +2,2 @@ fn head() {}
 fn keep() {}
-fn a() {}
+fn a() -> u8 { 1 }
diff --git a/src/b.rs b/src/b.rs
--- a/src/b.rs
+++ b/src/b.rs
@@ -1,2 +1,3 @@
 fn keep() {}
+// TODO: remove before release
 fn b() {}
diff --git a/config/.env b/config/.env
--- a/config/.env
+++ b/config/.env
@@ -1 +1 @@
-A=1
+A=2
diff --git a/src/new.rs b/src/new.rs
new file mode 100644
--- /dev/null
+++ b/src/new.rs
@@ -0,0 +1 @@
+pub fn new() {}
";

fn five_files_source() -> Files {
    let token = format!("ghp_{}", "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xY2zA4");
    Files::new(&[
        ("tests/it.rs", "use app::*;\nfn t() { assert!(run()); }\n"),
        (
            "src/a.rs",
            &format!(
                "fn head() {{}}\nfn keep() {{}}\nfn a() -> u8 {{ 1 }}\nconst T: &str = \"{token}\";\n"
            ),
        ),
        (
            "src/b.rs",
            "fn keep() {}\n// TODO: remove before release\nfn b() {}\n",
        ),
        ("config/.env", "A=2\n"),
        ("src/new.rs", "pub fn new() {}\n"),
    ])
}

#[tokio::test]
async fn whole_files_go_in_by_value_order_redacted_when_the_budget_allows() {
    let model = Scripted::new(32_000, vec![]);
    let files = five_files_source();
    let review = run_with_files(&model, FIVE_FILES, "", "t", "", Some(&files)).await;
    // Asked once, in value order: sources with rule findings, other sources, tests; never
    // the sensitive file, never the added one (its diff is the whole file).
    assert_eq!(
        files.asked(),
        vec![vec![
            "src/b.rs".to_owned(),
            "src/a.rs".to_owned(),
            "tests/it.rs".to_owned()
        ]]
    );
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    let user = &requests[0].user;
    assert!(
        user.contains("<untrusted_file path=\"src/b.rs\">\n     1 | fn keep() {}\n"),
        "{user}"
    );
    assert!(
        user.contains("<untrusted_file path=\"tests/it.rs\">"),
        "{user}"
    );
    assert!(
        !user.contains("ghp_aB3dE5"),
        "the whole file is redacted too: {user}"
    );
    assert!(user.contains("[REDACTED:secret.github-token]"), "{user}");
    assert!(
        !user.contains("A=2") && !user.contains("config/.env\">"),
        "{user}"
    );
    assert!(!user.contains("<untrusted_file path=\"src/new.rs\">"));
    // Whole files come before the diff, and the model is told what they are.
    assert!(user.find("<untrusted_file").unwrap() < user.find("<untrusted_diff>").unwrap());
    assert!(requests[0].system.contains("<untrusted_file>"));
    assert!(
        review
            .stats
            .skipped_files
            .iter()
            .any(|s| s.path == "config/.env")
    );

    // `llm.full_files` caps the count; 0 turns the fetch off.
    let model = Scripted::new(32_000, vec![]);
    let files = five_files_source();
    run_with_files(
        &model,
        FIVE_FILES,
        "llm:\n  full_files: 1\n",
        "t",
        "",
        Some(&files),
    )
    .await;
    // Sizes are unknown until fetched: up to three times as many are asked for, in one go.
    assert_eq!(files.asked().len(), 1);
    let user = &model.requests()[0].user;
    assert_eq!(user.matches("<untrusted_file").count(), 1, "{user}");
    assert!(user.contains("<untrusted_file path=\"src/b.rs\">"));
    let model = Scripted::new(32_000, vec![]);
    let files = five_files_source();
    run_with_files(
        &model,
        FIVE_FILES,
        "llm:\n  full_files: 0\n",
        "t",
        "",
        Some(&files),
    )
    .await;
    assert!(files.asked().is_empty());
    assert!(!model.requests()[0].user.contains("<untrusted_file"));
}

#[tokio::test]
async fn whole_files_are_not_fetched_without_room_and_left_out_when_too_big() {
    // The smallest `llm.max_input_tokens` that lets the diff through (found by bisection):
    // with less than a file's minimum room left on top of it, nothing is fetched.
    let budget = |n: u64| format!("llm:\n  max_input_tokens: {n}\n");
    let (mut lo, mut hi) = (1u64, 50_000u64);
    while lo < hi {
        let mid = (lo + hi) / 2;
        let model = Scripted::new(32_000, vec![]);
        let review = run_with_files(&model, FIVE_FILES, &budget(mid), "t", "", None).await;
        if review.stats.llm_calls == 1 {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let files = five_files_source();
    let model = Scripted::new(32_000, vec![]);
    let review = run_with_files(&model, FIVE_FILES, &budget(lo + 100), "t", "", Some(&files)).await;
    assert_eq!(
        review.stats.llm_calls, 1,
        "{:?}",
        review.stats.skipped_files
    );
    assert!(files.asked().is_empty(), "{:?}", files.asked());
    assert!(!model.requests()[0].user.contains("<untrusted_file"));
    // With room for one small file, the first is fetched and sent, within the budget.
    let model = Scripted::new(32_000, vec![]);
    run_with_files(&model, FIVE_FILES, &budget(lo + 300), "t", "", Some(&files)).await;
    assert_eq!(files.asked().len(), 1);
    assert!(
        model.requests()[0]
            .user
            .contains("<untrusted_file path=\"src/b.rs\">")
    );

    // A file far larger than the room left is fetched (its size is unknown until then)
    // but not sent; the smaller ones still are.
    let huge = "fn filler() { let x = 1; }\n".repeat(4_000);
    let files = Files::new(&[
        ("src/b.rs", huge.as_str()),
        (
            "src/a.rs",
            "fn head() {}\nfn keep() {}\nfn a() -> u8 { 1 }\n",
        ),
    ]);
    let model = Scripted::new(32_000, vec![]);
    run_with_files(&model, FIVE_FILES, "", "t", "", Some(&files)).await;
    let user = &model.requests()[0].user;
    assert!(!user.contains("<untrusted_file path=\"src/b.rs\">"));
    assert!(
        user.contains("<untrusted_file path=\"src/a.rs\">"),
        "{user}"
    );
    let estimate = (model.requests()[0].system.len() + user.len()).div_ceil(3);
    assert!(
        estimate + 4_096 <= 32_000,
        "the call still fits the window: {estimate}"
    );
}

#[tokio::test]
async fn a_30k_line_pr_stays_within_the_default_budget_with_whole_files() {
    // The defaults (8 calls, 200,000 input tokens) and a 128k window, every file available
    // whole: the calls, the tokens and each call's size stay within bounds, and every file
    // is reviewed or named as skipped.
    let diff_text = big_diff();
    let diff = nectr::diff::parse(&diff_text).unwrap();
    let whole = "fn line() { let x = compute(1) + offset; }\n".repeat(700);
    let entries: Vec<(String, String)> = diff
        .files
        .iter()
        .map(|f| (f.path().to_owned(), whole.clone()))
        .collect();
    let refs: Vec<(&str, &str)> = entries
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let files = Files::new(&refs);
    let window = 128_000;
    let model = Scripted::new(window, vec![]);
    let review = run_with_files(&model, &diff_text, "", "big", "", Some(&files)).await;
    let requests = model.requests();
    assert!((5..=8).contains(&requests.len()), "{}", requests.len());
    let estimate = |r: &nectr::llm::CompletionRequest| {
        nectr::review::ai::budget::estimate_tokens(&r.system)
            + nectr::review::ai::budget::estimate_tokens(&r.user)
    };
    let total: usize = requests.iter().map(estimate).sum();
    assert!(total <= 200_000, "{total}");
    for r in &requests {
        assert!(estimate(r) + r.max_output_tokens as usize <= window);
    }
    assert!(
        files.asked().len() <= 1,
        "at most one fetch for the whole review"
    );
    assert!(files.asked().iter().all(|a| a.len() <= 15));
    assert!(sent_whole(&requests) <= 5);
    let sent: String = requests.iter().map(|r| r.user.as_str()).collect();
    let mut skipped = 0;
    for f in &diff.files {
        let path = f.path();
        let in_prompt = sent.contains(&format!("=== File: {path} ("));
        let listed = review.stats.skipped_files.iter().find(|s| s.path == path);
        assert!(in_prompt || listed.is_some(), "{path} dropped silently");
        if let Some(s) = listed {
            skipped += 1;
            assert!(s.reason.contains("AI budget"), "{}", s.reason);
        }
    }
    assert!(skipped > 0 && skipped < 100, "{skipped}");
}

fn sent_whole(requests: &[nectr::llm::CompletionRequest]) -> usize {
    requests
        .iter()
        .map(|r| r.user.matches("<untrusted_file path=").count())
        .sum()
}
