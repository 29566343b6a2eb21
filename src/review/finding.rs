//! What a review produces: findings, their severities and where they come from.

use serde::{Deserialize, Serialize};

pub use crate::diff::Side;

/// How much a finding matters. Ordered from most to least severe, so `a < b` means `a` is
/// worse; [`Severity::at_least`] reads better at call sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Major,
    Minor,
    Nit,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::Major,
        Severity::Minor,
        Severity::Nit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Nit => "nit",
        }
    }

    /// Is `self` as severe as `threshold` or more?
    pub fn at_least(self, threshold: Severity) -> bool {
        self <= threshold
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A built-in or custom deterministic rule.
    Rules,
    /// The language model.
    Llm,
}

/// One thing the review says about one place in the diff.
///
/// `anchored` is decided by [`crate::review::anchor`], never by whoever created the
/// finding: it is true only when `line..=end_line` is commentable on `side` within one
/// hunk of the diff, so an anchored finding can always be posted as an inline comment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub path: String,
    pub line: u32,
    pub end_line: Option<u32>,
    pub side: Side,
    pub severity: Severity,
    pub source: Source,
    /// Rule id, e.g. `secret.github-token`; `llm` findings use `llm` or a model-given topic.
    pub rule: String,
    /// One line, plain text.
    pub title: String,
    /// Markdown: why it matters and what to do.
    pub body: String,
    pub anchored: bool,
    /// Replacement text for `line..=end_line` on the RIGHT side, offered as a
    /// ```` ```suggestion ```` block when the finding is anchored there. Raw code: the
    /// renderer fences it (see `review::ai::neutralise::suggestion_block`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl Finding {
    /// The last line the finding covers.
    pub fn last_line(&self) -> u32 {
        self.end_line.unwrap_or(self.line).max(self.line)
    }
}
