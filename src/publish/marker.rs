//! Nectr's hidden markers and finding fingerprints.
//!
//! A posted summary carries `<!-- nectr:review {json} -->` with the head SHA it reviewed
//! and the fingerprints of the findings it posted; each inline comment carries
//! `<!-- nectr:finding FP -->`. Re-runs read them back to update instead of duplicating.
//! Markers are only trusted on comments written by the identity Nectr posts as — anyone
//! can type an HTML comment into a PR.
//!
//! A fingerprint is `path + the anchored line content + rule`, not the wording: the same
//! problem on the same code keeps its fingerprint when a model rephrases it or when lines
//! above it move.
//!
//! Since incremental re-reviews, the review marker also records the base branch, whether
//! the AI reviewer has seen the whole pull request up to `head`, and a compact record of
//! each finding ([`MarkedFinding`]): the next run carries the model's findings forward
//! without asking the model again, and names the ones the new commits fixed. All three are
//! optional, so markers written before them still parse (and simply lead to a full review).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diff::{FileDiff, Side};
use crate::review::finding::{Finding, Severity, Source};

/// At most this many findings are recorded in a marker (most severe first); a marker that
/// could not record all of them makes the next run review everything again.
pub const MAX_MARKED_FINDINGS: usize = 100;
/// Recorded titles are cut to this many characters (the marker shares the summary's
/// 65,536-character budget).
pub const MAX_MARKED_TITLE_CHARS: usize = 100;

const REVIEW_PREFIX: &str = "<!-- nectr:review ";
const FINDING_PREFIX: &str = "<!-- nectr:finding ";
const SUFFIX: &str = " -->";

/// What a summary's marker records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewMarker {
    /// Format version.
    pub v: u32,
    /// The head SHA that was reviewed.
    pub head: String,
    /// Fingerprints of the findings posted inline.
    #[serde(default)]
    pub inline: Vec<String>,
    /// Fingerprints of every finding of that review (inline or in the summary).
    #[serde(default)]
    pub all: Vec<String>,
    /// The base branch the pull request targeted (retargeting it means a full review).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The AI reviewer has seen the whole pull request up to `head` (a full AI review, or
    /// incremental ones on top of one). Without it the next run cannot be incremental.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ai: bool,
    /// The findings themselves, in `all`'s order, when they fit
    /// ([`MAX_MARKED_FINDINGS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<MarkedFinding>,
    /// The run that posted (or last edited) this review, when it has to be told apart from
    /// other runs on the same head: `nectr serve` writes a dashboard re-review's delivery
    /// id here, so a retry of that re-review (after a crash between posting and recording)
    /// finds its own review by it and does not post again. Letters, digits, `-`, `_`, `.`,
    /// `#`; at most [`MAX_RUN_CHARS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// The longest [`ReviewMarker::run`] a marker may carry.
pub const MAX_RUN_CHARS: usize = 128;

/// Whether `run` is a run id a marker may carry.
pub fn valid_run(run: &str) -> bool {
    !run.is_empty()
        && run.len() <= MAX_RUN_CHARS
        && run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'#'))
}

/// What a marker remembers of one finding: enough to carry it forward to a later head
/// (where its lines did not change) or to name it as fixed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkedFinding {
    pub fp: String,
    pub path: String,
    pub line: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<u32>,
    pub side: Side,
    pub sev: Severity,
    pub src: Source,
    pub rule: String,
    /// Cut to [`MAX_MARKED_TITLE_CHARS`]; untrusted when it came from a model.
    pub title: String,
}

impl MarkedFinding {
    pub fn new(finding: &Finding, fp: &str) -> MarkedFinding {
        MarkedFinding {
            fp: fp.to_owned(),
            path: finding.path.clone(),
            line: finding.line,
            end: finding.end_line.filter(|&e| e > finding.line),
            side: finding.side,
            sev: finding.severity,
            src: finding.source,
            rule: finding.rule.clone(),
            title: finding.title.chars().take(MAX_MARKED_TITLE_CHARS).collect(),
        }
    }
}

impl ReviewMarker {
    /// The marker line to append to a summary.
    pub fn render(&self) -> String {
        // Paths, branch names and titles may contain `-->` or `<!--`: outside strings JSON
        // has no `<`, `>` or `&`, so escaping them everywhere keeps the JSON valid and the
        // HTML comment closed only by its own end.
        let json = serde_json::to_string(self)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        format!("{REVIEW_PREFIX}{json}{SUFFIX}")
    }

    /// Do the recorded findings cover every fingerprint of `all`? (Only then can a later
    /// run tell which earlier findings it carries forward and which were fixed.)
    pub fn records_all_findings(&self) -> bool {
        self.findings.len() == self.all.len()
            && self.findings.iter().zip(&self.all).all(|(f, a)| &f.fp == a)
    }

    /// The marker in `body`, if it has a well-formed one.
    pub fn find(body: &str) -> Option<ReviewMarker> {
        let start = body.find(REVIEW_PREFIX)? + REVIEW_PREFIX.len();
        let end = start + body[start..].find(SUFFIX)?;
        let marker: ReviewMarker = serde_json::from_str(&body[start..end]).ok()?;
        let hex =
            |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (marker.v == 1
            && hex(&marker.head)
            && marker.inline.iter().chain(&marker.all).all(|f| hex(f))
            && marker.findings.iter().all(|f| hex(&f.fp))
            && marker.run.as_deref().is_none_or(valid_run))
        .then_some(marker)
    }
}

/// The marker that ends an inline comment.
pub fn finding_marker(fingerprint: &str) -> String {
    format!("{FINDING_PREFIX}{fingerprint}{SUFFIX}")
}

/// The fingerprint in an inline comment's body.
pub fn find_finding_marker(body: &str) -> Option<&str> {
    let start = body.find(FINDING_PREFIX)? + FINDING_PREFIX.len();
    let end = start + body[start..].find(SUFFIX)?;
    let fp = &body[start..end];
    (fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_hexdigit())).then_some(fp)
}

/// Remove anything that looks like a Nectr marker from untrusted text (model output, PR
/// text) so it cannot forge one.
pub fn strip_markers(text: &str) -> String {
    text.replace("<!-- nectr:", "<!-- (nectr):")
}

/// The fingerprint of a finding: 16 hex digits of SHA-256 over the path, the rule and the
/// whitespace-normalised content of the lines it covers (its line number when the lines
/// are not in the diff).
pub fn fingerprint(finding: &Finding, file: Option<&FileDiff<'_>>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(finding.path.as_bytes());
    hasher.update([0]);
    hasher.update(finding.rule.as_bytes());
    hasher.update([0]);
    let end = finding.end_line.unwrap_or(finding.line).max(finding.line);
    let mut found_any = false;
    if let Some(file) = file {
        for n in finding.line..=end.min(finding.line.saturating_add(200)) {
            if let Some(line) = file.line(finding.side, n) {
                found_any = true;
                for word in line.content.split_whitespace() {
                    hasher.update(word.as_bytes());
                    hasher.update(b" ");
                }
                hasher.update(b"\n");
            }
        }
    }
    if !found_any {
        hasher.update(format!("line {}-{end}", finding.line).as_bytes());
    }
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{Side, parse};
    use crate::review::finding::{Severity, Source};

    fn finding(path: &str, line: u32, rule: &str, title: &str) -> Finding {
        Finding {
            path: path.into(),
            line,
            end_line: None,
            side: Side::Right,
            severity: Severity::Major,
            source: Source::Llm,
            rule: rule.into(),
            title: title.into(),
            body: "body".into(),
            anchored: true,
            suggestion: None,
        }
    }

    #[test]
    fn review_marker_round_trips_and_rejects_garbage() {
        let m = ReviewMarker {
            v: 1,
            head: "0123abcd".into(),
            inline: vec!["00112233aabbccdd".into()],
            all: vec!["00112233aabbccdd".into(), "ffeeddccbbaa9988".into()],
            ..ReviewMarker::default()
        };
        let body = format!("### Nectr review\n\ntext\n\n{}", m.render());
        assert_eq!(ReviewMarker::find(&body), Some(m));
        assert_eq!(ReviewMarker::find("no marker"), None);
        assert_eq!(ReviewMarker::find("<!-- nectr:review {not json} -->"), None);
        assert_eq!(
            ReviewMarker::find(r#"<!-- nectr:review {"v":1,"head":"<script>"} -->"#),
            None
        );
        assert_eq!(
            ReviewMarker::find(r#"<!-- nectr:review {"v":2,"head":"ab"} -->"#),
            None
        );
        // A run id is only ever an id: anything else makes the marker not Nectr's.
        assert_eq!(
            ReviewMarker::find(r#"<!-- nectr:review {"v":1,"head":"ab","run":"a b"} -->"#),
            None
        );
        let with_run = ReviewMarker::find(
            r#"<!-- nectr:review {"v":1,"head":"ab","run":"nectr-rereview-0f"} -->"#,
        )
        .expect("a marker with a run id");
        assert_eq!(with_run.run.as_deref(), Some("nectr-rereview-0f"));
    }

    #[test]
    fn recorded_findings_round_trip_even_with_comment_breaking_text() {
        let hostile = finding(
            "a --> b.py",
            3,
            "llm",
            "closes --> <!-- nectr:review {} -->",
        );
        let m = ReviewMarker {
            v: 1,
            head: "0123abcd".into(),
            inline: vec!["00112233aabbccdd".into()],
            all: vec!["00112233aabbccdd".into()],
            base: Some("feature/-->x".into()),
            ai: true,
            findings: vec![MarkedFinding::new(&hostile, "00112233aabbccdd")],
            run: Some("nectr-rereview-0a1b2c".into()),
        };
        let rendered = m.render();
        assert_eq!(rendered.matches("-->").count(), 1, "{rendered}");
        assert_eq!(rendered.matches("<!--").count(), 1, "{rendered}");
        let body = format!("### Nectr review\n\n{rendered}");
        let found = ReviewMarker::find(&body).unwrap();
        assert_eq!(found, m);
        assert!(found.records_all_findings());
        assert_eq!(found.findings[0].title, hostile.title);

        // A marker from before incremental reviews still parses; it records nothing.
        let old = r#"<!-- nectr:review {"v":1,"head":"abcdef","inline":[],"all":["0011223344556677"]} -->"#;
        let old = ReviewMarker::find(old).unwrap();
        assert!(!old.ai && old.base.is_none() && !old.records_all_findings());
        // A long title is cut; a record with a forged fingerprint voids the marker.
        let long = finding("a.py", 1, "llm", &"x".repeat(500));
        assert_eq!(
            MarkedFinding::new(&long, "00").title.chars().count(),
            MAX_MARKED_TITLE_CHARS
        );
        let forged = rendered.replace("00112233aabbccdd\",\"path", "zz\",\"path");
        assert_ne!(forged, rendered);
        assert_eq!(ReviewMarker::find(&forged), None);
    }

    #[test]
    fn finding_marker_round_trips() {
        let body = format!("text\n{}", finding_marker("0011223344556677"));
        assert_eq!(find_finding_marker(&body), Some("0011223344556677"));
        assert_eq!(find_finding_marker("<!-- nectr:finding xyz -->"), None);
        assert!(!strip_markers(&body).contains("<!-- nectr:"));
    }

    #[test]
    fn fingerprint_ignores_wording_and_line_moves_but_not_content() {
        let before = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,3 @@\n x = 1\n+eval(data)\n y = 2\n";
        let after = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,5 @@\n x = 1\n+import os\n+\n+eval(data)  \n y = 2\n";
        let d1 = parse(before).unwrap();
        let d2 = parse(after).unwrap();
        let f1 = finding("a.py", 2, "security.eval", "eval is dangerous");
        let f2 = finding("a.py", 4, "security.eval", "Avoid eval on untrusted input");
        let fp1 = fingerprint(&f1, Some(&d1.files[0]));
        assert_eq!(fp1.len(), 16);
        assert_eq!(
            fp1,
            fingerprint(&f2, Some(&d2.files[0])),
            "moved and reworded: same"
        );
        let other_rule = finding("a.py", 2, "security.other", "eval");
        assert_ne!(fp1, fingerprint(&other_rule, Some(&d1.files[0])));
        let other_line = finding("a.py", 1, "security.eval", "eval");
        assert_ne!(fp1, fingerprint(&other_line, Some(&d1.files[0])));
        let off_diff = finding("a.py", 90, "security.eval", "eval");
        assert_ne!(
            fingerprint(&off_diff, Some(&d1.files[0])),
            fingerprint(
                &finding("a.py", 91, "security.eval", "x"),
                Some(&d1.files[0])
            )
        );
    }
}
