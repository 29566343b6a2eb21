//! What a worker records about a review besides its count (see `store::details`): the
//! findings by severity and each finding's place and title, the files not reviewed and why,
//! and what the review used — the model (or why none), an incremental scope, the context.
//! The store clips and bounds everything; here only the selection happens.

use crate::pipeline::pr::PrReviewOutcome;
use crate::publish::marker::ReviewMarker;
use crate::review::Review;
use crate::store::details::{MAX_STORED_FINDINGS, MAX_STORED_NOTES};
use crate::store::{NewFinding, NewNote, ReviewDetail};

/// Skipped files listed one by one; beyond this one line says how many more.
const MAX_SKIPPED_NOTES: usize = 60;
/// Context lines kept (the rest of [`MAX_STORED_NOTES`] goes to the other kinds).
const MAX_CONTEXT_NOTES: usize = 40;

fn note(kind: &str, label: impl Into<String>, detail: impl Into<String>) -> NewNote {
    NewNote {
        kind: kind.to_owned(),
        label: label.into(),
        detail: detail.into(),
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// The record of a review that was posted.
pub(super) fn of_outcome(outcome: &PrReviewOutcome) -> ReviewDetail {
    let review = &outcome.review;
    let mut notes = Vec::new();
    notes.push(ai_note(review));
    if let Some(inc) = &review.stats.incremental {
        notes.push(note(
            "incremental",
            format!(
                "the AI reviewer read only what changed since {}",
                short(&inc.from)
            ),
            format!(
                "{} file(s); {} earlier finding(s) carried forward",
                inc.files, inc.carried_forward
            ),
        ));
    } else if let Some(why) = &review.stats.full_review_reason {
        notes.push(note(
            "full",
            "the whole pull request was reviewed again",
            why,
        ));
    }
    let skipped = &review.stats.skipped_files;
    for s in skipped.iter().take(MAX_SKIPPED_NOTES) {
        notes.push(note("skipped", &s.path, &s.reason));
    }
    if skipped.len() > MAX_SKIPPED_NOTES {
        notes.push(note(
            "skipped",
            format!("and {} more files", skipped.len() - MAX_SKIPPED_NOTES),
            "not listed here; the review's summary on GitHub names them",
        ));
    }
    for used in outcome.context_used.iter().take(MAX_CONTEXT_NOTES) {
        notes.push(note(used.kind, &used.label, &used.detail));
    }
    notes.truncate(MAX_STORED_NOTES);
    ReviewDetail {
        severities: Some(review.counts().map(|(_, n)| n as i64)),
        findings: review
            .findings
            .iter()
            .take(MAX_STORED_FINDINGS)
            .map(|f| NewFinding {
                path: f.path.clone(),
                line: i64::from(f.line),
                end_line: f.end_line.filter(|&e| e > f.line).map(i64::from),
                severity: f.severity.as_str().to_owned(),
                source: match f.source {
                    crate::review::finding::Source::Rules => "rules",
                    crate::review::finding::Source::Llm => "llm",
                }
                .to_owned(),
                rule: f.rule.clone(),
                title: f.title.clone(),
                inline: f.anchored,
            })
            .collect(),
        notes,
    }
}

/// Which model reviewed, or why none did.
fn ai_note(review: &Review) -> NewNote {
    if let Some(model) = &review.llm_model {
        let how = if review.ai_reviewed {
            format!(
                "{} call(s), {} input and {} output tokens",
                review.stats.llm_calls,
                review.stats.llm_input_tokens,
                review.stats.llm_output_tokens
            )
        } else {
            "the AI review did not complete; the summary on GitHub says why".to_owned()
        };
        return note("ai", model, how);
    }
    let why = review
        .notes
        .iter()
        .find_map(|n| n.strip_prefix("No AI review: "))
        .map(|n| n.trim_end_matches('.').to_owned())
        .unwrap_or_else(|| "no model is configured (rules only)".to_owned());
    note("ai", "no AI review", why)
}

/// The record of a review found again by its marker: what the marker says it was posted
/// with (the findings' count, and their places and titles when the marker holds them all).
pub(super) fn of_marker(marker: &ReviewMarker) -> (i64, ReviewDetail) {
    let count = marker.all.len() as i64;
    if !marker.records_all_findings() {
        return (count, ReviewDetail::default());
    }
    let mut severities = [0i64; 4];
    for f in &marker.findings {
        let i = crate::review::finding::Severity::ALL
            .iter()
            .position(|s| *s == f.sev)
            .unwrap_or(3);
        severities[i] += 1;
    }
    let findings = marker
        .findings
        .iter()
        .take(MAX_STORED_FINDINGS)
        .map(|f| NewFinding {
            path: f.path.clone(),
            line: i64::from(f.line),
            end_line: f.end.map(i64::from),
            severity: f.sev.as_str().to_owned(),
            source: match f.src {
                crate::review::finding::Source::Rules => "rules",
                crate::review::finding::Source::Llm => "llm",
            }
            .to_owned(),
            rule: f.rule.clone(),
            title: f.title.clone(),
            inline: marker.inline.contains(&f.fp),
        })
        .collect();
    (
        count,
        ReviewDetail {
            severities: Some(severities),
            findings,
            notes: Vec::new(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::marker::MarkedFinding;
    use crate::review::finding::{Finding, Severity, Side, Source};

    fn marked(fp: &str, sev: Severity, path: &str) -> MarkedFinding {
        MarkedFinding::new(
            &Finding {
                path: path.into(),
                line: 3,
                end_line: Some(5),
                side: Side::Right,
                severity: sev,
                source: Source::Llm,
                rule: "llm".into(),
                title: "A title".into(),
                body: String::new(),
                anchored: true,
                suggestion: None,
            },
            fp,
        )
    }

    #[test]
    fn a_marker_gives_the_findings_it_was_posted_with() {
        let marker = ReviewMarker {
            v: 1,
            head: "ab".into(),
            inline: vec!["00000000000000aa".into()],
            all: vec!["00000000000000aa".into(), "00000000000000bb".into()],
            findings: vec![
                marked("00000000000000aa", Severity::Critical, "a.rs"),
                marked("00000000000000bb", Severity::Nit, "b.rs"),
            ],
            ..ReviewMarker::default()
        };
        let (count, detail) = of_marker(&marker);
        assert_eq!(count, 2);
        assert_eq!(detail.severities, Some([1, 0, 0, 1]));
        assert_eq!(detail.findings.len(), 2);
        assert!(detail.findings[0].inline && !detail.findings[1].inline);
        assert_eq!(
            (
                detail.findings[0].end_line,
                detail.findings[0].source.as_str()
            ),
            (Some(5), "llm")
        );
        // A marker that could not hold every finding: the count only.
        let partial = ReviewMarker {
            findings: marker.findings[..1].to_vec(),
            ..marker
        };
        let (count, detail) = of_marker(&partial);
        assert_eq!((count, detail), (2, ReviewDetail::default()));
    }
}
