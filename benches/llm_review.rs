//! `cargo bench --bench llm_review`: the AI review of a small, a medium and a 30,000-line
//! pull request against the mock LLM server (tests/support/mock_llm.rs) on loopback,
//! through the real OpenAI-compatible provider and `pipeline::review_diff_with_model` with
//! the default budget (`gpt-4o-mini`'s 128k window, 8 calls, 200,000 input tokens, whole
//! files from an in-memory source).
//!
//! The mock answers every call with a JSON review (one finding on the first added line it
//! sees) and reports usage counted with OpenAI's real `o200k_base` tokenizer, so the input
//! and output tokens below are what OpenAI would bill, not Nectr's estimate. Per PR it
//! prints: model calls, input and output tokens, wall time, files reviewed vs skipped, whole
//! files sent; and it checks that the budget held and that every changed file was either
//! reviewed or named in `stats.skipped_files`.
//!
//! `BENCH_LLM_LATENCY_MS` (default 0) delays every model answer, to see the effect of the
//! calls running 4 at a time; `BENCH_DEBUG=1` prints each call's files and size.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nectr::config::{LlmConfig, LoadedConfig};
use nectr::llm::{LanguageModel, LlmSettings, Trust, from_settings};
use nectr::pipeline::{PrText, review_diff_with_model, rule_set};
use nectr::review::ai::files::FileSource;
use nectr::review::ai::{DEFAULT_MAX_INPUT_TOKENS, DEFAULT_MAX_LLM_CALLS};
use support::mock_llm::{MockLlm, MockReply, RecordedLlmRequest};

/// A synthetic PR in the style of benches/review.rs: `files` modified files in five
/// languages, each with hunks of 30 diff lines (20 context, 6 added, 4 removed). Returns
/// the diff and each file's new text (for the whole-file source).
fn synthetic_pr(files: usize, lines_per_file: usize) -> (String, BTreeMap<String, String>) {
    let langs = ["rs", "py", "js", "go", "ts"];
    let mut diff = String::new();
    let mut texts = BTreeMap::new();
    for f in 0..files {
        let ext = langs[f % langs.len()];
        let path = format!("src/module_{f}/file_{f}.{ext}");
        let _ = writeln!(diff, "diff --git a/{path} b/{path}");
        let _ = writeln!(diff, "index 1234567..89abcde 100644");
        let _ = writeln!(diff, "--- a/{path}\n+++ b/{path}");
        let hunks = (lines_per_file / 30).max(1);
        let (mut old_line, mut new_line) = (1u32, 1u32);
        for h in 0..hunks {
            let _ = writeln!(
                diff,
                "@@ -{old_line},24 +{new_line},26 @@ fn section_{h}() {{"
            );
            for i in 0..30 {
                match i % 5 {
                    0 if i < 20 => {
                        let _ = writeln!(
                            diff,
                            "+    let value_{i} = compute(input, {i}).map(|v| v * 2);"
                        );
                    }
                    1 if i < 20 => {
                        let _ = writeln!(diff, "-    let value_{i} = compute(input, {i});");
                    }
                    _ if i >= 28 => {
                        let _ = writeln!(diff, "+    let total = a + b;");
                    }
                    _ => {
                        let _ = writeln!(diff, "     // context line {i} of hunk {h} in {path}");
                    }
                }
            }
            old_line += 100;
            new_line += 102;
        }
        let text: String = (0..new_line)
            .map(|n| format!("    let line_{n} = step(state, {n}); // {path}\n"))
            .collect();
        texts.insert(path, text);
    }
    (diff, texts)
}

fn o200k(text: &str) -> u64 {
    tiktoken_rs::o200k_base_singleton()
        .encode_with_special_tokens(text)
        .len() as u64
}

/// The mock's answer: a review with one finding on the first added line of the request.
fn answer(r: &RecordedLlmRequest, latency: Duration) -> MockReply {
    let user = r.user().unwrap_or_default();
    let mut path = None;
    let mut line = None;
    for l in user.lines() {
        if path.is_none()
            && let Some(rest) = l.strip_prefix("=== File: ")
        {
            path = rest.split(" (").next().map(str::to_owned);
        }
        if path.is_some()
            && line.is_none()
            && let Some(rest) = l.strip_prefix('+')
        {
            line = rest
                .split('|')
                .next()
                .and_then(|n| n.trim().parse::<u32>().ok());
        }
    }
    let text = serde_json::json!({
        "summary": "Replaces direct values with mapped ones; the mapping is unchecked.",
        "findings": [{
            "path": path.unwrap_or_default(),
            "line": line.unwrap_or(1),
            "severity": "minor",
            "title": "Unchecked mapping",
            "body": "`map(|v| v * 2)` can overflow for large values; use `checked_mul`.",
        }],
    })
    .to_string();
    let input = o200k(&r.system().unwrap_or_default()) + o200k(&user) + 7;
    let reply = MockReply::TextWithUsage {
        output_tokens: o200k(&text),
        text,
        input_tokens: input,
    };
    if latency.is_zero() {
        reply
    } else {
        MockReply::delayed(latency, reply)
    }
}

fn model_for(mock: &MockLlm) -> Arc<dyn LanguageModel> {
    let base = mock.openai_base();
    let settings =
        LlmSettings::resolve(&LlmConfig::default(), Trust::Operator, |name| match name {
            "NECTR_LLM_PROVIDER" => Some("openai".to_owned()),
            "NECTR_LLM_BASE_URL" => Some(base.clone()),
            "NECTR_LLM_MODEL" => Some("gpt-4o-mini".to_owned()),
            "NECTR_LLM_API_KEY" => Some("sk-bench-0123456789".to_owned()),
            "NECTR_LLM_MAX_RETRIES" => Some("0".to_owned()),
            _ => None,
        })
        .expect("settings");
    from_settings(&settings)
        .expect("provider")
        .expect("a model is configured")
}

async fn run(name: &str, files: usize, lines_per_file: usize, latency: Duration) {
    let (diff_text, texts) = synthetic_pr(files, lines_per_file);
    let diff_lines = diff_text.lines().count();
    let mock = MockLlm::start().await;
    mock.respond_with(move |r| answer(r, latency));
    let model = model_for(&mock);
    let config = LoadedConfig::default();
    let (rules, _) = rule_set(&config).expect("default rules");

    let started = Instant::now();
    let diff = nectr::diff::parse(&diff_text).expect("synthetic diff parses");
    let review = review_diff_with_model(
        &diff,
        &rules,
        &config,
        None,
        PrText {
            title: "Map values",
            body: "Doubles every computed value.",
            context: Vec::new(),
            files: Some(&texts as &dyn FileSource),
        },
        Some(model.as_ref()),
    )
    .await;
    let wall = started.elapsed();

    let requests = mock.requests();
    let prompts: String = requests
        .iter()
        .map(|r| r.user().unwrap_or_default())
        .collect();
    let reviewed = diff
        .files
        .iter()
        .filter(|f| prompts.contains(&format!("=== File: {} (", f.path())))
        .count();
    let whole = prompts.matches("<untrusted_file path=").count();
    if std::env::var("BENCH_DEBUG").is_ok() {
        for r in &requests {
            let u = r.user().unwrap_or_default();
            eprintln!(
                "{name}: call with {} files, ~{} tokens, {} whole",
                u.matches("=== File:").count(),
                nectr::review::ai::budget::estimate_tokens(&u),
                u.matches("<untrusted_file path=").count()
            );
        }
    }
    let skipped = &review.stats.skipped_files;
    println!(
        "| {name} | {files} / {diff_lines} | {} | {} | {} | {:.0} ms | {reviewed} | {} | {whole} | {} |",
        review.stats.llm_calls,
        review.stats.llm_input_tokens,
        review.stats.llm_output_tokens,
        wall.as_secs_f64() * 1e3,
        skipped.len(),
        review
            .findings
            .iter()
            .filter(|f| f.source == nectr::review::finding::Source::Llm)
            .count(),
    );

    // The budget held, and no file was dropped silently.
    assert!(
        review.stats.llm_calls <= DEFAULT_MAX_LLM_CALLS,
        "{name}: too many calls"
    );
    assert_eq!(review.stats.llm_calls as usize, requests.len());
    let estimated: u64 = requests
        .iter()
        .map(|r| {
            (nectr::review::ai::budget::estimate_tokens(&r.system().unwrap_or_default())
                + nectr::review::ai::budget::estimate_tokens(&r.user().unwrap_or_default()))
                as u64
        })
        .sum();
    assert!(
        estimated <= DEFAULT_MAX_INPUT_TOKENS,
        "{name}: {estimated} estimated input tokens"
    );
    assert!(
        review.stats.llm_input_tokens <= DEFAULT_MAX_INPUT_TOKENS,
        "{name}: the real count exceeded the budget"
    );
    for f in &diff.files {
        let in_prompt = prompts.contains(&format!("=== File: {} (", f.path()));
        let listed = skipped.iter().any(|s| s.path == f.path());
        assert!(in_prompt || listed, "{name}: {} dropped silently", f.path());
    }
    assert!(
        review.notes.iter().all(|n| !n.contains("unavailable")),
        "{:?}",
        review.notes
    );
}

fn main() {
    let latency = Duration::from_millis(
        std::env::var("BENCH_LLM_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Load the tokenizer once, outside the timings.
    o200k("warm up");
    println!("model latency per call: {} ms", latency.as_millis());
    println!(
        "| PR | files / diff lines | calls | input tokens (o200k) | output tokens | wall | files reviewed | files skipped | whole files | AI findings |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    rt.block_on(async {
        run("small", 1, 30, latency).await;
        run("medium", 10, 120, latency).await;
        run("large", 100, 300, latency).await;
    });
}
