//! Anchoring: which findings may become inline comments.
//!
//! Architecture invariant: a finding is `anchored` only if `line..=end_line` is commentable
//! on its side within one hunk of the file's diff ([`FileDiff::is_commentable_range`]). Every
//! inline comment Nectr ever posts comes from an anchored finding, so GitHub never has a
//! reason to answer 422 for a comment off the diff. Nothing else sets `anchored`.

use std::collections::HashSet;

use crate::diff::{Diff, FileDiff};
use crate::review::finding::Finding;

/// Set `anchored` on one finding against the diff of its file.
pub fn anchor_in_file(finding: &mut Finding, file: &FileDiff<'_>) {
    finding.anchored = finding.path == file.path()
        && finding.line > 0
        && file.is_commentable_range(finding.side, finding.line, finding.last_line());
}

/// Set `anchored` on every finding against the file of the diff it names (findings naming
/// a file that is not in the diff are never anchored).
pub fn anchor_all(findings: &mut [Finding], diff: &Diff<'_>) {
    for finding in findings {
        match diff.file(&finding.path) {
            Some(file) => anchor_in_file(finding, file),
            None => finding.anchored = false,
        }
    }
}

/// Order findings the way a reviewer reads them: most severe first, then in diff order
/// (file as it appears in the diff, then line), and drop exact repeats (same place, same
/// rule, same title).
pub fn sort_and_dedup(findings: &mut Vec<Finding>, diff: &Diff<'_>) {
    let file_rank = |path: &str| {
        diff.files
            .iter()
            .position(|f| f.path() == path)
            .unwrap_or(usize::MAX)
    };
    findings.sort_by_cached_key(|f| {
        (
            f.severity,
            file_rank(&f.path),
            f.path.clone(),
            f.line,
            f.end_line,
            f.rule.clone(),
        )
    });
    let mut seen = HashSet::new();
    findings.retain(|f| {
        seen.insert((
            f.path.clone(),
            f.line,
            f.end_line,
            f.side,
            f.rule.clone(),
            f.title.clone(),
        ))
    });
}

/// Keep at most `cap` anchored findings inline, in order; the rest are un-anchored so they
/// go into the summary. Returns the indexes of the findings moved by the cap.
pub fn apply_inline_cap(findings: &mut [Finding], cap: usize) -> Vec<usize> {
    let mut moved = Vec::new();
    let mut inline = 0usize;
    for (i, finding) in findings.iter_mut().enumerate() {
        if !finding.anchored {
            continue;
        }
        if inline < cap {
            inline += 1;
        } else {
            finding.anchored = false;
            moved.push(i);
        }
    }
    moved
}
