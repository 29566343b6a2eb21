//! The review pipeline that every mode runs: fetch → context → review → publish → learn.
//!
//! Today the offline path: a parsed diff and a config in, a [`Review`] out. The CLI, the
//! Action and the server are thin adapters over this module; it knows nothing of which
//! one called it.

pub mod pr;

use std::time::Instant;

use anyhow::Result;

use crate::config::LoadedConfig;
use crate::diff::Diff;
use crate::error::InputError;
use crate::review::anchor::{anchor_in_file, apply_inline_cap, sort_and_dedup};
use crate::review::filter::skip_reason;
use crate::review::rules::RuleSet;
use crate::review::{PrRef, Review, SkippedFile, Stats};

/// The built-in and custom rules for a config, with the config's warnings about them.
pub fn rule_set(config: &LoadedConfig) -> Result<(RuleSet, Vec<String>)> {
    let origin = config.origin.as_deref().unwrap_or("the built-in config");
    RuleSet::new(&config.config.rules)
        .map_err(|message| InputError(format!("invalid config {origin}: {message}")).into())
}

/// Review `diff` with the deterministic rules: run them on every reviewable file, anchor
/// each finding against its own file section, order them and apply the inline cap.
pub fn review_diff(
    diff: &Diff<'_>,
    rules: &RuleSet,
    config: &LoadedConfig,
    pr: Option<PrRef>,
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
        let mut file_findings = rules.check_file(file);
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
            github_calls: 0,
            elapsed_ms: started.elapsed().as_millis() as u64,
            skipped_files,
        },
    }
}
