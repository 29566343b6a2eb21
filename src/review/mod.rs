//! The review core: findings, anchoring, the built-in rules and the output formats.
//!
//! Architecture invariant: nothing here does I/O. Inputs are a parsed diff and a config;
//! outputs are a [`Review`] and rendered text.

pub mod ai;
pub mod anchor;
pub mod filter;
pub mod finding;
pub mod render;
pub mod rules;

use serde::Serialize;

use finding::{Finding, Severity};
use rules::RuleDescriptor;

/// Which pull request a review is of (`None` for a bare diff).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrRef {
    pub repo: String,
    pub number: u64,
    pub head_sha: String,
}

/// A file that was not reviewed, and why. Nothing is dropped silently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// Counters for `--format json`'s `stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub files: usize,
    pub changed_lines: usize,
    pub llm_calls: u32,
    /// Prompt tokens over all model calls, as the provider reported them (an extension).
    pub llm_input_tokens: u64,
    /// Reply tokens over all model calls (an extension).
    pub llm_output_tokens: u64,
    pub github_calls: u32,
    pub elapsed_ms: u64,
    pub skipped_files: Vec<SkippedFile>,
    /// Set when this was an incremental re-review (an extension; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalStats>,
    /// Why the whole pull request was reviewed again although Nectr had reviewed it before
    /// (an extension; absent when there was no earlier review or the review was incremental).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_review_reason: Option<String>,
    /// On a re-review of a new head: the commits since Nectr's previous review, as
    /// GitHub's compare API counts them (an extension; absent when there was no earlier
    /// review of another head, or GitHub could not count them, e.g. after a force-push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_commits: Option<u64>,
}

/// `stats.incremental`: what an incremental re-review covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IncrementalStats {
    /// The head SHA of Nectr's previous review.
    pub from: String,
    /// The head SHA reviewed now.
    pub to: String,
    /// Files sent to the AI reviewer: changed since `from` and part of the PR's diff.
    pub files: usize,
    /// Earlier AI findings carried forward because the new commits left their lines alone.
    pub carried_forward: usize,
}

/// The outcome of a review, before it is rendered or posted.
#[derive(Clone, Debug, Default)]
pub struct Review {
    pub pr: Option<PrRef>,
    /// Sorted most severe first; `anchored` decided and the inline cap applied.
    pub findings: Vec<Finding>,
    /// Indexes into `findings` that sit on the diff but were moved to the summary by the
    /// inline-comment cap.
    pub over_cap: Vec<usize>,
    pub max_inline_comments: usize,
    pub additions: usize,
    pub deletions: usize,
    /// Lines worth telling the reader in the summary (config warnings, unavailable parts).
    pub notes: Vec<String>,
    /// The rules that ran (for SARIF's rule list).
    pub rules: Vec<RuleDescriptor>,
    pub stats: Stats,
    /// The AI reviewer's overview of the change (neutralised markdown), when it ran.
    pub ai_summary: Option<String>,
    /// The model that reviewed, for the summary's footer (`None` without a model).
    pub llm_model: Option<String>,
    /// What the model calls cost, estimated (`llm::price`); `None` when Nectr cannot tell
    /// (no model, or one without a known price).
    pub llm_cost: Option<crate::llm::price::Cost>,
    /// The AI reviewer ran and produced a usable answer (it may still have skipped files).
    pub ai_reviewed: bool,
    /// What the context sources found, for the summary's "Context" part (already escaped
    /// by their renderers: see `context::Gathered::summary_lines`).
    pub context: Vec<String>,
}

/// Where a finding ends up when posted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// An inline review comment on its line.
    Inline,
    /// In the summary: its line is not on the diff.
    OffDiff,
    /// In the summary: on the diff, but over the inline-comment cap.
    OverCap,
}

impl Review {
    pub fn placement(&self, index: usize) -> Placement {
        if self.findings[index].anchored {
            Placement::Inline
        } else if self.over_cap.contains(&index) {
            Placement::OverCap
        } else {
            Placement::OffDiff
        }
    }

    /// Findings of each severity, most severe first.
    pub fn counts(&self) -> [(Severity, usize); 4] {
        Severity::ALL.map(|s| (s, self.findings.iter().filter(|f| f.severity == s).count()))
    }

    /// Is any finding at `threshold` or worse?
    pub fn has_findings_at_least(&self, threshold: Severity) -> bool {
        self.findings.iter().any(|f| f.severity.at_least(threshold))
    }

    pub fn inline(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.anchored)
    }
}
