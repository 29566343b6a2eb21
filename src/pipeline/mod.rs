//! The review pipeline that every mode runs: fetch → context → review → publish → learn.
//!
//! Today the offline path: a parsed diff and a config in, a [`Review`] out. The CLI, the
//! Action and the server are thin adapters over this module; it knows nothing of which
//! one called it.

pub mod backfill;
pub mod context;
pub mod conversation;
pub mod head_context;
pub mod head_files;
pub mod history;
pub mod incremental;
pub mod pr;

use std::time::Instant;

use anyhow::Result;

use crate::config::LoadedConfig;
use crate::diff::Diff;
use crate::error::InputError;
use crate::llm::LanguageModel;
use crate::review::ai::files::FileSource;
use crate::review::ai::{self, AiInput, AiLimits, AiOutcome, ContextSection};
use crate::review::anchor::{anchor_all, anchor_in_file, apply_inline_cap, sort_and_dedup};
use crate::review::filter::skip_reason;
use crate::review::finding::Finding;
use crate::review::rules::RuleSet;
use crate::review::{PrRef, Review, SkippedFile, Stats};

pub use head_context::HeadTexts;

/// The built-in and custom rules for a config, with the config's warnings about them.
pub fn rule_set(config: &LoadedConfig) -> Result<(RuleSet, Vec<String>)> {
    let origin = config.origin.as_deref().unwrap_or("the built-in config");
    RuleSet::new(&config.config.rules)
        .map_err(|message| InputError(format!("invalid config {origin}: {message}")).into())
}

/// Review `diff` with the deterministic rules: run them on every reviewable file, anchor
/// each finding against its own file section, order them and apply the inline cap. The
/// rules see the diff only (and a `package.json` it adds): see [`review_diff_with_head`].
pub fn review_diff(
    diff: &Diff<'_>,
    rules: &RuleSet,
    config: &LoadedConfig,
    pr: Option<PrRef>,
) -> Review {
    review_diff_with_head(diff, rules, config, pr, &HeadTexts::from_diff(diff))
}

/// [`review_diff`] with the rules knowing whole files at the head commit (PR mode, see
/// [`head_context`]).
pub fn review_diff_with_head(
    diff: &Diff<'_>,
    rules: &RuleSet,
    config: &LoadedConfig,
    pr: Option<PrRef>,
    head: &HeadTexts,
) -> Review {
    let started = Instant::now();
    let config_values = &config.config;
    let mut findings = Vec::new();
    let mut skipped_files = Vec::new();
    for file in &diff.files {
        if let Some(reason) = skip_reason(file, config_values) {
            skipped_files.push(SkippedFile {
                path: file.path().to_owned(),
                reason: reason.to_owned(),
            });
            continue;
        }
        let mut file_findings = rules.check_file_in(file, &head.context_for(file));
        for finding in &mut file_findings {
            anchor_in_file(finding, file);
        }
        findings.append(&mut file_findings);
    }
    sort_and_dedup(&mut findings, diff);
    let over_cap = apply_inline_cap(&mut findings, config_values.max_inline_comments);
    let additions = diff.files.iter().map(|f| f.additions()).sum();
    let deletions = diff.files.iter().map(|f| f.deletions()).sum();
    Review {
        pr,
        findings,
        over_cap,
        max_inline_comments: config_values.max_inline_comments,
        additions,
        deletions,
        notes: Vec::new(),
        rules: rules.rules(),
        stats: Stats {
            files: diff.files.len(),
            changed_lines: additions + deletions,
            llm_calls: 0,
            llm_input_tokens: 0,
            llm_output_tokens: 0,
            github_calls: 0,
            elapsed_ms: started.elapsed().as_millis() as u64,
            skipped_files,
            incremental: None,
            full_review_reason: None,
            new_commits: None,
        },
        ai_summary: None,
        llm_model: None,
        llm_cost: None,
        ai_reviewed: false,
        context: Vec::new(),
    }
}

/// The pull request's own words, for the AI reviewer (untrusted: redacted and delimited in
/// the prompt), plus outside context sections.
#[derive(Clone, Debug, Default)]
pub struct PrText<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// Extra context for the prompt (empty until the context issue fills it).
    pub context: Vec<ContextSection>,
    /// Where the AI reviewer gets whole changed files (`None`: diffs only).
    pub files: Option<&'a dyn FileSource>,
}

/// [`review_diff`], then — when a model is given — the AI review of the same diff, merged:
/// AI findings anchored with the same code, ordered with the rules' findings, under one
/// inline cap. A failed AI review leaves the rules-only review with a note saying why.
/// Runs CPU-heavy work (compiling rules, parsing a large diff, running the rules) without
/// stalling the other tasks of a multi-threaded runtime: under `nectr serve` the webhook
/// receiver must keep answering in milliseconds while workers review. On a current-thread
/// runtime (the CLI) or outside any runtime it simply runs `f`.
pub fn cpu_bound<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

pub async fn review_diff_with_model(
    diff: &Diff<'_>,
    rules: &RuleSet,
    config: &LoadedConfig,
    pr: Option<PrRef>,
    pr_text: PrText<'_>,
    model: Option<&dyn LanguageModel>,
) -> Review {
    review_diff_with_model_scoped(
        diff,
        None,
        rules,
        config,
        pr,
        pr_text,
        model,
        None,
        &HeadTexts::from_diff(diff),
    )
    .await
}

/// [`review_diff_with_model`] sending the AI reviewer `ai_diff` instead of all of `diff`
/// (an incremental re-review: see `pipeline::incremental`). `ai_diff` must show lines with
/// `diff`'s numbers: the rules still run on `diff`, and every finding is anchored against
/// it. An `ai_diff` without files means no model call at all. `ai_deadline` (the review's)
/// cuts the AI part short when it comes before the AI reviewer's own. `head`: what the
/// rules know beyond the diff.
#[allow(clippy::too_many_arguments)]
pub async fn review_diff_with_model_scoped(
    diff: &Diff<'_>,
    ai_diff: Option<&Diff<'_>>,
    rules: &RuleSet,
    config: &LoadedConfig,
    pr: Option<PrRef>,
    pr_text: PrText<'_>,
    model: Option<&dyn LanguageModel>,
    ai_deadline: Option<tokio::time::Instant>,
    head: &HeadTexts,
) -> Review {
    let started = Instant::now();
    let mut review = cpu_bound(|| review_diff_with_head(diff, rules, config, pr, head));
    let Some(model) = model else {
        return review;
    };
    if ai_diff.is_some_and(|d| d.files.is_empty()) {
        return review;
    }
    let mut limits = AiLimits::from_config(&config.config.llm);
    if let Some(at) = ai_deadline {
        let left = at.saturating_duration_since(tokio::time::Instant::now());
        limits.deadline = limits.deadline.min(left);
    }
    let outcome = ai::ai_review(
        model,
        AiInput {
            diff: ai_diff.unwrap_or(diff),
            config: &config.config,
            pr_title: pr_text.title,
            pr_body: pr_text.body,
            context: pr_text.context,
            rule_findings: &review.findings,
            files: pr_text.files,
        },
        &limits,
    )
    .await;
    merge_ai(
        &mut review,
        outcome,
        diff,
        config.config.max_inline_comments,
    );
    // Priced from the operator's environment only (`NECTR_LLM_PRICE`), never the config.
    review.llm_cost = (review.stats.llm_calls > 0)
        .then(|| {
            let usage = crate::llm::Usage {
                input_tokens: review.stats.llm_input_tokens,
                output_tokens: review.stats.llm_output_tokens,
            };
            crate::llm::price::estimate(model.info(), usage, |k| std::env::var(k).ok())
        })
        .flatten();
    review.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    review
}

/// Add findings from another source (e.g. Sentry's line notes) to a review: anchored with
/// the same code, ordered with the others, under one inline cap.
pub fn add_findings(review: &mut Review, mut new: Vec<Finding>, diff: &Diff<'_>, cap: usize) {
    for &i in &review.over_cap {
        review.findings[i].anchored = true;
    }
    anchor_all(&mut new, diff);
    review.findings.append(&mut new);
    sort_and_dedup(&mut review.findings, diff);
    review.over_cap = apply_inline_cap(&mut review.findings, cap);
}

/// Merge an AI outcome into a rules review: stats, notes, skipped files, the summary, and
/// the findings (anchored, ordered and capped again).
pub fn merge_ai(review: &mut Review, outcome: AiOutcome, diff: &Diff<'_>, cap: usize) {
    review.stats.llm_calls += outcome.calls;
    review.stats.llm_input_tokens += outcome.usage.input_tokens;
    review.stats.llm_output_tokens += outcome.usage.output_tokens;
    review.llm_model = Some(outcome.model);
    review.ai_reviewed = outcome.failure.is_none();
    if let Some(reason) = &outcome.failure {
        review.notes.push(format!(
            "AI review unavailable: {reason}. This review has the rule checks only."
        ));
    }
    review.notes.extend(outcome.notes);
    for s in outcome.skipped_files {
        if !review.stats.skipped_files.iter().any(|k| k.path == s.path) {
            review.stats.skipped_files.push(s);
        }
    }
    review.ai_summary = outcome.summary;
    if outcome.findings.is_empty() {
        return;
    }
    // Findings the cap moved were anchored: the cap is applied again over all of them.
    for &i in &review.over_cap {
        review.findings[i].anchored = true;
    }
    // Each finding carries its suggestion; the renderer fences it as an applicable
    // ```` ```suggestion ```` only where the comment sits on exactly those RIGHT lines.
    let mut new: Vec<_> = outcome.findings.into_iter().map(|af| af.finding).collect();
    anchor_all(&mut new, diff);
    review.findings.append(&mut new);
    sort_and_dedup(&mut review.findings, diff);
    review.over_cap = apply_inline_cap(&mut review.findings, cap);
}
