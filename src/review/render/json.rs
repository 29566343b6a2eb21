//! `--format json`: the `nectr.review/v1` document of `docs/interface.md`. Field names and
//! shapes here are a public contract: add fields, never rename or remove them.

use serde::Serialize;

use crate::review::finding::Finding;
use crate::review::{PrRef, Review, Stats};

pub const SCHEMA: &str = "nectr.review/v1";

/// What was posted to GitHub (`null` for `--diff` and `--dry-run`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Posted {
    pub review_id: Option<u64>,
    pub comment_id: Option<u64>,
    pub inline_comments: usize,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    pr: Option<&'a PrRef>,
    summary: String,
    findings: &'a [Finding],
    posted: Option<&'a Posted>,
    stats: StatsOut<'a>,
}

/// `stats`, plus the estimated cost in USD when Nectr knows one (an extension).
#[derive(Serialize)]
struct StatsOut<'a> {
    #[serde(flatten)]
    stats: &'a Stats,
    #[serde(skip_serializing_if = "Option::is_none")]
    llm_cost_usd: Option<f64>,
}

pub fn render(review: &Review) -> String {
    render_with(review, super::markdown::summary(review), None)
}

/// The document with a given summary (as posted) and what was posted.
pub fn render_with(review: &Review, summary: String, posted: Option<&Posted>) -> String {
    let doc = Document {
        schema: SCHEMA,
        pr: review.pr.as_ref(),
        summary,
        findings: &review.findings,
        posted,
        stats: StatsOut {
            stats: &review.stats,
            llm_cost_usd: review.llm_cost.as_ref().and_then(|c| c.dollars()),
        },
    };
    // Serialising plain structs of strings and numbers cannot fail.
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
