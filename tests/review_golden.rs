//! Golden tests: the summary and the inline comments Nectr posts for representative pull
//! requests — rules only, an AI review over three calls, a re-review, a clean PR — checked
//! the way GitHub's Markdown renderer reads them (no literal backticks, no repeated
//! paragraphs, balanced `<details>`, ```` ```suggestion ```` blocks that apply to exactly the
//! commented lines) and compared with `tests/golden/*.md`.
//!
//! After an intended change of the output, `NECTR_UPDATE_GOLDEN=1 cargo test --test
//! review_golden` rewrites the files; review the diff like any other change.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use nectr::config::{LoadedConfig, RepoConfig};
use nectr::diff::{Diff, LineKind, Side};
use nectr::github::types::NewReviewComment;
use nectr::llm::{
    BoxFuture, Completion, CompletionRequest, LanguageModel, LlmError, ModelInfo, Usage,
};
use nectr::pipeline::{PrText, review_diff, review_diff_with_model, rule_set};
use nectr::publish::{Plan, RunRecord, plan};
use nectr::review::finding::{Finding, Severity, Source};
use nectr::review::{IncrementalStats, PrRef, Review};

// ---------------------------------------------------------------------------------------
// Reading Markdown as GitHub does (CommonMark + GFM, the parts Nectr's output uses).

/// Lines outside fenced code blocks, with their index; fenced blocks are skipped.
fn prose_lines(md: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (i, line) in md.lines().enumerate() {
        let t = line.trim_start();
        let c = t.chars().next().unwrap_or(' ');
        let n = t.chars().take_while(|&x| x == c).count();
        let is_fence = (c == '`' || c == '~') && n >= 3 && line.len() - t.len() < 4;
        match fence {
            Some((fc, fn_)) => {
                if is_fence && c == fc && n >= fn_ && t.trim_end().len() == n {
                    fence = None;
                }
            }
            None if is_fence => fence = Some((c, n)),
            None => out.push((i, line)),
        }
    }
    assert!(fence.is_none(), "an unclosed code fence:\n{md}");
    out
}

/// A backtick GitHub would show as a backtick: escaped (`\``), or a run no run of the same
/// length closes. Returns the offending line.
fn literal_backtick(md: &str) -> Option<String> {
    for (_, line) in prose_lines(md) {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' if chars.get(i + 1) == Some(&'`') => return Some(line.to_owned()),
                '\\' => i += 2,
                '`' => {
                    let n = chars[i..].iter().take_while(|&&c| c == '`').count();
                    let mut j = i + n;
                    let mut closed = None;
                    while j < chars.len() {
                        if chars[j] == '`' {
                            let m = chars[j..].iter().take_while(|&&c| c == '`').count();
                            if m == n {
                                closed = Some(j + m);
                                break;
                            }
                            j += m;
                        } else {
                            j += 1;
                        }
                    }
                    match closed {
                        Some(end) => i = end,
                        None => return Some(line.to_owned()),
                    }
                }
                _ => i += 1,
            }
        }
    }
    None
}

/// Paragraphs (blank-line separated, outside code), whitespace-normalised; markup-only
/// blocks (`</details>`, `---`) and very short ones are left out.
fn paragraphs(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut last = usize::MAX - 1;
    for (i, line) in prose_lines(md) {
        if (line.trim().is_empty() || i != last + 1) && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        if !line.trim().is_empty() {
            current.push(' ');
            current.push_str(line.trim());
        }
        last = i;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.into_iter()
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| p.len() >= 24 && !(p.starts_with('<') && p.ends_with('>')))
        .collect()
}

fn assert_reads_well(what: &str, md: &str) {
    if let Some(line) = literal_backtick(md) {
        panic!("{what}: GitHub would show a literal backtick in {line:?}:\n{md}");
    }
    let mut seen = HashSet::new();
    for p in paragraphs(md) {
        assert!(
            seen.insert(p.clone()),
            "{what}: repeated paragraph {p:?}:\n{md}"
        );
    }
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count(),
        "{what}: unbalanced <details>:\n{md}"
    );
    // Markdown inside <details> renders only after a blank line following <summary>.
    for (i, line) in md.lines().enumerate() {
        if line.contains("</summary>") {
            assert!(
                md.lines().nth(i + 1).is_none_or(|l| l.trim().is_empty()),
                "{what}: no blank line after <summary>:\n{md}"
            );
        }
    }
    assert!(!md.contains("<script"), "{what}");
    assert!(!md.contains("| 0 |"), "{what}: a zero row:\n{md}");
}

/// The ```` ```suggestion ```` blocks of a comment: (replacement lines).
fn suggestions(body: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut lines = body.lines();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        let n = t.chars().take_while(|&c| c == '`').count();
        if n >= 3 && t[n..].trim() == "suggestion" {
            let mut content = Vec::new();
            for l in lines.by_ref() {
                let m = l.trim().chars().take_while(|&c| c == '`').count();
                if m >= n && l.trim().len() == m {
                    break;
                }
                content.push(l.to_owned());
            }
            out.push(content);
        }
    }
    out
}

/// Check a comment's suggestions apply to exactly its lines (RIGHT side, one hunk) and
/// return the new file's commented hunk after applying them, for the test to inspect.
fn apply_suggestion(diff: &Diff<'_>, c: &NewReviewComment) -> Option<Vec<String>> {
    let blocks = suggestions(&c.body);
    if blocks.is_empty() {
        return None;
    }
    assert_eq!(blocks.len(), 1, "one suggestion per comment: {}", c.body);
    assert_eq!(c.side, "RIGHT", "a suggestion only applies to the new file");
    let start = c.start_line.unwrap_or(c.line);
    let file = diff
        .file(&c.path)
        .expect("the commented file is in the diff");
    assert!(
        file.is_commentable_range(Side::Right, start, c.line),
        "{}:{start}-{} is not one hunk of the new file",
        c.path,
        c.line
    );
    let hunk = &file.hunks[file.hunk_index(Side::Right, c.line).unwrap()];
    let mut new: Vec<String> = Vec::new();
    for l in &hunk.lines {
        if l.kind == LineKind::Removed {
            continue;
        }
        let n = l.new_line.unwrap();
        if n == start {
            new.extend(blocks[0].iter().cloned());
        }
        if n < start || n > c.line {
            new.push(l.content.to_owned());
        }
    }
    Some(new)
}

// ---------------------------------------------------------------------------------------
// Rendering a plan as it is posted, and the golden files.

fn posted(plan: &Plan) -> String {
    let mut out = plan.body.clone();
    for c in &plan.comments {
        let range = match c.start_line {
            Some(s) => format!("{s}-{}", c.line),
            None => c.line.to_string(),
        };
        out.push_str(&format!(
            "\n=== inline comment on {}:{range} ({}) ===\n\n{}\n",
            c.path, c.side, c.body
        ));
    }
    out
}

fn check_golden(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.md"));
    if std::env::var_os("NECTR_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run NECTR_UPDATE_GOLDEN=1 cargo test --test review_golden",
            path.display()
        )
    });
    assert!(
        expected == text,
        "{name}: the posted review changed; if intended, run NECTR_UPDATE_GOLDEN=1 cargo test --test review_golden\n--- expected\n{expected}\n--- now\n{text}"
    );
}

fn check_plan(name: &str, plan: &Plan, diff: &Diff<'_>) {
    assert_reads_well(&format!("{name}: summary"), &plan.body);
    for c in &plan.comments {
        assert_reads_well(
            &format!("{name}: comment on {}:{}", c.path, c.line),
            &c.body,
        );
        apply_suggestion(diff, c);
    }
    let bodies: HashSet<&str> = plan.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(
        bodies.len(),
        plan.comments.len(),
        "{name}: identical comments"
    );
    check_golden(name, &posted(plan));
}

fn pr(head: &str) -> PrRef {
    PrRef {
        repo: "acme/shop".into(),
        number: 7,
        head_sha: head.into(),
    }
}

fn record() -> RunRecord {
    RunRecord {
        base_ref: Some("main".into()),
        ..RunRecord::default()
    }
}

const EXAMPLE_DIFF: &str = include_str!("../examples/pr.diff");

fn rules_review(diff: &Diff<'_>, head: &str) -> Review {
    let config = LoadedConfig::default();
    let (rules, _) = rule_set(&config).unwrap();
    review_diff(diff, &rules, &config, Some(pr(head)))
}

// ---------------------------------------------------------------------------------------

#[test]
fn rules_only_pr() {
    let diff = nectr::diff::parse(EXAMPLE_DIFF).unwrap();
    let review = rules_review(&diff, "1111111aaaa");
    assert!(review.findings.len() >= 4, "{:?}", review.findings);
    let plan = plan(
        &review,
        &diff,
        "1111111aaaa",
        None,
        &HashSet::new(),
        &record(),
    );
    check_plan("rules_only", &plan, &diff);
    let summary = &plan.body;
    // Counts once: one sentence, no table, no list repeating the inline comments.
    assert_eq!(summary.matches("critical").count(), 1, "{summary}");
    assert!(!summary.contains("| severity |"), "{summary}");
    assert!(!summary.contains("#### Inline comments"), "{summary}");
    // Rules only: one line says how to add the AI review.
    assert_eq!(summary.matches("To add the AI review").count(), 1);
    // Each inline comment: severity, the specific title, the rule's help folded away.
    for c in &plan.comments {
        let first = c.body.lines().next().unwrap();
        assert!(
            ["🔴", "🟠", "🟡", "⚪"]
                .iter()
                .any(|i| first.starts_with(i)),
            "{first}"
        );
        assert!(
            c.body.contains("<details>") && c.body.contains("nectr:ignore"),
            "{}",
            c.body
        );
        // The help is inside <details>, not before it.
        let details = c.body.find("<details>").unwrap();
        assert!(
            c.body[..details].len() < 600,
            "the visible part is short: {}",
            c.body
        );
    }
}

#[test]
fn rule_suggestions_delete_or_replace_exactly_the_commented_lines() {
    let diff = nectr::diff::parse(EXAMPLE_DIFF).unwrap();
    let mut review = rules_review(&diff, "1111111aaaa");
    // What the rules offer for a debug leftover: delete the line.
    let bp = review
        .findings
        .iter_mut()
        .find(|f| f.rule == "debug.python-breakpoint")
        .expect("the example has a breakpoint()");
    bp.suggestion = Some(String::new());
    let bp_line = bp.line;
    let plan = plan(
        &review,
        &diff,
        "1111111aaaa",
        None,
        &HashSet::new(),
        &record(),
    );
    let c = plan
        .comments
        .iter()
        .find(|c| c.line == bp_line && c.path == "app/db.py")
        .unwrap();
    assert!(c.body.contains("```suggestion\n```"), "{}", c.body);
    let after = apply_suggestion(&diff, c).unwrap();
    assert!(
        !after.iter().any(|l| l.contains("breakpoint()")),
        "{after:?}"
    );
    assert!(after.iter().any(|l| l.contains("def apply_filter")));
    check_plan("rules_with_suggestion", &plan, &diff);
}

// ---------------------------------------------------------------------------------------
// The AI review over three calls, against a stand-in for the external model.

struct ByFile {
    info: ModelInfo,
    calls: Mutex<u32>,
}

impl LanguageModel for ByFile {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        *self.calls.lock().unwrap() += 1;
        // Every part says the same opening sentence (as models do), then its own.
        let mut findings = Vec::new();
        let mut own = Vec::new();
        for (path, sentence) in [
            ("src/parse.rs", "The parser now counts from one."),
            ("src/render.rs", "The renderer gains a width limit."),
            ("src/store.rs", "The store opens files lazily."),
        ] {
            if request.user.contains(path) {
                own.push(sentence);
                if path == "src/parse.rs" {
                    findings.push(serde_json::json!({
                        "path": path, "line": 3, "severity": "major",
                        "title": "`len() - 1` underflows on empty input",
                        "body": "An empty `input` makes `len() - 1` wrap in release builds.",
                        "suggestion": "    input.len().saturating_sub(1)"
                    }));
                }
            }
        }
        let text = serde_json::json!({
            "summary": format!("This change reworks parsing, rendering and storage. {}", own.join(" ")),
            "findings": findings,
        })
        .to_string();
        let input = ((request.system.len() + request.user.len()) / 4) as u64;
        Box::pin(async move {
            Ok(Completion {
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

fn three_file_diff() -> String {
    let mut out = String::new();
    for (path, first) in [
        ("src/parse.rs", "fn parse(input: &str) -> usize {"),
        ("src/render.rs", "fn render(width: usize) -> String {"),
        ("src/store.rs", "fn open(path: &str) -> Store {"),
    ] {
        let mut added = vec![
            first.to_owned(),
            if path == "src/parse.rs" {
                "    input.len() - 1".to_owned()
            } else {
                "    todo_later()".to_owned()
            },
            "}".to_owned(),
        ];
        for i in 0..60 {
            added.push(format!(
                "fn helper_{i}(value: u64) -> u64 {{ value.wrapping_mul({i}) + {i} }}"
            ));
        }
        out.push_str(&format!(
            "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,1 +1,{} @@\n use std::fmt;\n",
            added.len() + 1
        ));
        for l in &added {
            out.push_str(&format!("+{l}\n"));
        }
    }
    out
}

async fn ai_review(diff: &Diff<'_>, window: usize) -> (Review, u32) {
    // A model with a list price, at its vendor's endpoint: the footer shows the cost.
    let model = ByFile {
        info: ModelInfo {
            provider: "openai",
            model: "gpt-4o-mini".into(),
            endpoint: "https://api.openai.com/v1".into(),
            context_window: window,
            limits: Default::default(),
        },
        calls: Mutex::new(0),
    };
    let config: LoadedConfig = RepoConfig::parse("llm: {full_files: 0}\n", "test").unwrap();
    let (rules, _) = rule_set(&config).unwrap();
    let review = review_diff_with_model(
        diff,
        &rules,
        &config,
        Some(pr("3333333cccc")),
        PrText::default(),
        Some(&model),
    )
    .await;
    let calls = *model.calls.lock().unwrap();
    (review, calls)
}

#[tokio::test]
async fn ai_review_over_three_calls_has_one_overview() {
    let text = three_file_diff();
    let diff = nectr::diff::parse(&text).unwrap();
    // The window that splits the diff into one call per file.
    let mut found = None;
    for window in (2_000..40_000).step_by(250) {
        let (review, calls) = ai_review(&diff, window).await;
        if calls == 3 && review.ai_reviewed {
            found = Some(review);
            break;
        }
    }
    let review = found.expect("some window gives three calls");
    let plan = plan(
        &review,
        &diff,
        "3333333cccc",
        None,
        &HashSet::new(),
        &record(),
    );
    check_plan("ai_three_calls", &plan, &diff);
    let summary = &plan.body;
    assert_eq!(summary.matches("#### Overview").count(), 1, "{summary}");
    assert_eq!(
        summary
            .matches("This change reworks parsing, rendering and storage.")
            .count(),
        1,
        "the sentence every part repeats is said once: {summary}"
    );
    for own in [
        "The parser now counts from one.",
        "The renderer gains a width limit.",
        "The store opens files lazily.",
    ] {
        assert!(summary.contains(own), "{summary}");
    }
    // Model, calls and tokens are in the collapsed footer, not in the text.
    let details = summary.rfind("<details>").unwrap();
    assert!(summary[details..].contains("AI review: `gpt-4o-mini` · 3 calls"));
    // … and what they cost, at dated list prices.
    assert!(
        summary[details..]
            .contains("· estimated cost under $0.01 at OpenAI's list prices of 2025-11"),
        "{summary}"
    );
    assert!(!summary.contains("To add the AI review"));
    // The model's suggestion is an applicable block on exactly its line.
    let c = plan
        .comments
        .iter()
        .find(|c| c.path == "src/parse.rs" && c.line == 3)
        .expect("the model's finding is inline");
    let after = apply_suggestion(&diff, c).expect("a suggestion block");
    assert!(after.contains(&"    input.len().saturating_sub(1)".to_owned()));
    assert!(!after.iter().any(|l| l.contains("len() - 1")));
    // The title's code span renders as code, not as escaped backticks.
    assert!(c.body.contains("`len() - 1` underflows"), "{}", c.body);
}

// ---------------------------------------------------------------------------------------

#[test]
fn re_review_says_what_changed_in_plain_words() {
    let first_diff = nectr::diff::parse(EXAMPLE_DIFF).unwrap();
    let first = rules_review(&first_diff, "1111111aaaa");
    let first_plan = plan(
        &first,
        &first_diff,
        "1111111aaaa",
        None,
        &HashSet::new(),
        &record(),
    );
    // The author removes the breakpoint() and pushes.
    let fixed_text = EXAMPLE_DIFF
        .replace("@@ -1,14 +1,21 @@", "@@ -1,14 +1,20 @@")
        .replace("+    breakpoint()\n", "");
    let diff = nectr::diff::parse(&fixed_text).unwrap();
    let mut review = rules_review(&diff, "2222222bbbb");
    review.stats.incremental = Some(IncrementalStats {
        from: "1111111aaaa".into(),
        to: "2222222bbbb".into(),
        files: 1,
        carried_forward: 0,
    });
    // Two commits since, as GitHub's compare API counted them.
    review.stats.new_commits = Some(2);
    let posted_inline: HashSet<String> = first_plan.marker.inline.iter().cloned().collect();
    let plan = plan(
        &review,
        &diff,
        "2222222bbbb",
        Some(&first_plan.marker),
        &posted_inline,
        &record(),
    );
    check_plan("re_review", &plan, &diff);
    let summary = &plan.body;
    assert!(
        summary.contains("Reviewed the 2 new commits since the last review (`1111111`)"),
        "{summary}"
    );
    // The commit is named once: the comparison does not repeat it.
    assert_eq!(summary.matches("`1111111`").count(), 1, "{summary}");
    assert!(summary.contains("1 fixed"), "{summary}");
    assert!(summary.contains("#### Fixed since the last review"));
    assert!(summary.contains("debug.python-breakpoint"));
    assert!(plan.comments.is_empty(), "nothing new to comment on");
    for jargon in [
        "Incremental review",
        "**Full review**",
        "no complete AI review",
    ] {
        assert!(!summary.contains(jargon), "{jargon}: {summary}");
    }
}

/// After a force-push GitHub cannot count the new commits: the summary says the whole
/// pull request was reviewed again, without a number, and why in the footer.
#[test]
fn re_review_after_a_force_push_says_so_without_a_count() {
    let first_diff = nectr::diff::parse(EXAMPLE_DIFF).unwrap();
    let first = rules_review(&first_diff, "1111111aaaa");
    let first_plan = plan(
        &first,
        &first_diff,
        "1111111aaaa",
        None,
        &HashSet::new(),
        &record(),
    );
    let mut review = rules_review(&first_diff, "5555555eeee");
    review.llm_model = Some("claude-3-5-haiku-latest".into());
    review.stats.llm_calls = 1;
    review.stats.llm_input_tokens = 180_000;
    review.stats.llm_output_tokens = 2_000;
    review.llm_cost = Some(nectr::llm::price::Cost::Usd {
        dollars: 0.152,
        basis: nectr::llm::price::Basis::ListPrice {
            vendor: "Anthropic",
        },
    });
    review.stats.full_review_reason = Some(
        "the head of the previous review (`1111111`) is no longer known to GitHub (a force-push or rebase)".into(),
    );
    let posted_inline: HashSet<String> = first_plan.marker.inline.iter().cloned().collect();
    let plan = plan(
        &review,
        &first_diff,
        "5555555eeee",
        Some(&first_plan.marker),
        &posted_inline,
        &record(),
    );
    check_plan("re_review_force_push", &plan, &first_diff);
    let summary = &plan.body;
    assert!(
        summary
            .contains("Reviewed the whole pull request again since the last review (`1111111`)."),
        "{summary}"
    );
    assert!(!summary.contains("new commit"), "{summary}");
    assert!(
        summary.contains(
            "Why the whole pull request was reviewed again: the head of the previous review"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("· estimated cost $0.15 at Anthropic's list prices of 2025-11"),
        "{summary}"
    );
}

/// GitHub Models has no per-token price: the footer says it is part of the GitHub plan.
#[test]
fn github_models_footer_names_the_plan_not_a_price() {
    let diff = nectr::diff::parse(EXAMPLE_DIFF).unwrap();
    let mut review = rules_review(&diff, "6666666ffff");
    review.llm_model = Some("openai/gpt-4.1-mini".into());
    review.stats.llm_calls = 2;
    review.llm_cost = nectr::llm::price::estimate(
        &ModelInfo {
            provider: "github",
            model: "openai/gpt-4.1-mini".into(),
            endpoint: "https://models.github.ai".into(),
            context_window: 8_000,
            limits: Default::default(),
        },
        Usage::default(),
        |_| None,
    );
    let summary = nectr::review::render::markdown::summary(&review);
    assert!(
        summary.contains("no per-token cost: GitHub Models usage is included in the GitHub plan"),
        "{summary}"
    );
    assert!(!summary.contains('$'), "{summary}");
}

#[test]
fn clean_pr_gets_a_short_summary() {
    let text = "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # Shop\n+A small shop.\n";
    let diff = nectr::diff::parse(text).unwrap();
    let review = rules_review(&diff, "4444444dddd");
    assert!(review.findings.is_empty());
    let plan = plan(
        &review,
        &diff,
        "4444444dddd",
        None,
        &HashSet::new(),
        &record(),
    );
    check_plan("clean", &plan, &diff);
    assert!(plan.comments.is_empty());
    assert!(
        plan.body.lines().filter(|l| !l.trim().is_empty()).count() <= 3,
        "{}",
        plan.body
    );
}

// ---------------------------------------------------------------------------------------

#[test]
fn the_checker_catches_what_github_would_show_wrongly() {
    assert!(literal_backtick("Debugger hook \\`import pdb\\` stops").is_some());
    assert!(literal_backtick("an ``unclosed` span").is_some());
    assert!(literal_backtick("a `code` span and ``a ` b``").is_none());
    assert!(literal_backtick("```\n\\`in a fence\\`\n```").is_none());
    let twice = "The same paragraph said twice here.\n\nThe same paragraph said twice here.\n";
    assert_eq!(paragraphs(twice).len(), 2);
    let result = std::panic::catch_unwind(|| assert_reads_well("t", twice));
    assert!(result.is_err());
    assert_eq!(
        suggestions("x\n```suggestion\na\nb\n```\n"),
        vec![vec!["a".to_owned(), "b".to_owned()]]
    );
    assert_eq!(
        suggestions("```suggestion\n```"),
        vec![Vec::<String>::new()]
    );
}

/// The markdown renderer alone, on findings built by hand: the title keeps its code spans,
/// the specific body shows, the rule's help is folded, and a suggestion is applicable only
/// on the RIGHT side.
#[test]
fn inline_comment_shape() {
    use nectr::review::render::markdown;
    let f = Finding {
        path: "app.py".into(),
        line: 4,
        end_line: None,
        side: Side::Right,
        severity: Severity::Minor,
        source: Source::Rules,
        rule: "debug.python-breakpoint".into(),
        title: "Debugger hook `import pdb` stops execution".into(),
        body: "Help text of the rule.".into(),
        anchored: true,
        suggestion: Some(String::new()),
    };
    let body = markdown::inline_comment(&f, Some("Help text of the rule."));
    assert!(
        body.starts_with(
            "🟡 **minor** · Debugger hook `import pdb` stops execution · `debug.python-breakpoint`\n"
        ),
        "{body}"
    );
    assert_eq!(body.matches("Help text of the rule.").count(), 1, "{body}");
    assert!(body.contains("```suggestion\n```"));
    assert!(body.contains("`nectr:ignore debug.python-breakpoint`"));
    let left = Finding {
        side: Side::Left,
        suggestion: Some("x = 1".into()),
        ..f.clone()
    };
    let body = markdown::inline_comment(&left, None);
    assert!(!body.contains("```suggestion"), "{body}");
}
