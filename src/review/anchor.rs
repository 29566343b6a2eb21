//! Anchoring: which findings may become inline comments.
//!
//! Architecture invariant: a finding is `anchored` only if `line..=end_line` is commentable
//! on its side within one hunk of the file's diff ([`FileDiff::is_commentable_range`]). Every
//! inline comment Nectr ever posts comes from an anchored finding, so GitHub never has a
//! reason to answer 422 for a comment off the diff. Nothing else sets `anchored`.

use std::collections::{HashMap, HashSet};

use crate::diff::{Diff, FileDiff};
use crate::review::finding::Finding;

/// Set `anchored` on one finding against the diff of its file.
pub fn anchor_in_file(finding: &mut Finding, file: &FileDiff<'_>) {
    finding.anchored = finding.path == file.path()
        && finding.line > 0
        && file.is_commentable_range(
            finding.side,
            finding.line,
            finding.end_line.unwrap_or(finding.line),
        );
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
    // Each file's first position in the diff, looked up per finding: a scan of the file
    // list per finding would make large reviews quadratic.
    let mut ranks: HashMap<&str, usize> = HashMap::with_capacity(diff.files.len());
    for (i, f) in diff.files.iter().enumerate() {
        ranks.entry(f.path()).or_insert(i);
    }
    let file_rank = |path: &str| ranks.get(path).copied().unwrap_or(usize::MAX);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{FileStatus, Hunk, HunkLine, LineKind, Side};
    use crate::review::finding::{Severity, Source};

    /// A file with two hunks: new lines 10..=14 (line 12 added) and 40..=42 (old 38..=41,
    /// line 39 removed and line 41 added).
    fn file() -> FileDiff<'static> {
        let line = |kind, old: Option<u32>, new: Option<u32>, position| HunkLine {
            kind,
            old_line: old,
            new_line: new,
            position,
            content: "x",
            no_newline_at_eof: false,
        };
        use LineKind::*;
        FileDiff {
            old_path: Some("src/a.rs".into()),
            new_path: Some("src/a.rs".into()),
            status: FileStatus::Modified,
            old_mode: None,
            new_mode: None,
            similarity: None,
            binary: false,
            commit: None,
            hunks: vec![
                Hunk {
                    old_start: 10,
                    old_len: 4,
                    new_start: 10,
                    new_len: 5,
                    section: "",
                    header_position: 0,
                    lines: vec![
                        line(Context, Some(10), Some(10), 1),
                        line(Context, Some(11), Some(11), 2),
                        line(Added, None, Some(12), 3),
                        line(Context, Some(12), Some(13), 4),
                        line(Context, Some(13), Some(14), 5),
                    ],
                },
                Hunk {
                    old_start: 38,
                    old_len: 3,
                    new_start: 40,
                    new_len: 3,
                    section: "fn f()",
                    header_position: 6,
                    lines: vec![
                        line(Context, Some(38), Some(40), 7),
                        line(Removed, Some(39), None, 8),
                        line(Context, Some(40), Some(41), 9),
                        line(Added, None, Some(42), 10),
                    ],
                },
            ],
        }
    }

    fn finding(line: u32, end_line: Option<u32>, side: Side) -> Finding {
        Finding {
            path: "src/a.rs".into(),
            line,
            end_line,
            side,
            severity: Severity::Minor,
            source: Source::Rules,
            rule: "r".into(),
            title: "t".into(),
            body: "b".into(),
            anchored: true,
            suggestion: None,
        }
    }

    fn anchored(line: u32, end: Option<u32>, side: Side) -> bool {
        let mut f = finding(line, end, side);
        f.anchored = !f.anchored; // anchoring must decide, not keep what it was given
        anchor_in_file(&mut f, &file());
        let again = {
            let mut g = finding(line, end, side);
            anchor_in_file(&mut g, &file());
            g.anchored
        };
        assert_eq!(f.anchored, again);
        f.anchored
    }

    #[test]
    fn lines_in_a_hunk_anchor_on_their_side() {
        assert!(anchored(12, None, Side::Right));
        assert!(anchored(10, None, Side::Right));
        assert!(anchored(14, None, Side::Right));
        assert!(anchored(42, None, Side::Right));
        assert!(anchored(39, None, Side::Left));
        assert!(anchored(38, None, Side::Left));
    }

    #[test]
    fn lines_outside_hunks_do_not_anchor() {
        for line in [0, 1, 9, 15, 20, 39, 43, 10_000] {
            assert!(!anchored(line, None, Side::Right), "right {line}");
        }
        for line in [0, 9, 14, 37, 41] {
            assert!(!anchored(line, None, Side::Left), "left {line}");
        }
    }

    #[test]
    fn ranges_must_stay_within_one_hunk() {
        assert!(anchored(10, Some(14), Side::Right));
        assert!(anchored(40, Some(42), Side::Right));
        assert!(!anchored(12, Some(41), Side::Right), "crosses hunks");
        assert!(!anchored(13, Some(16), Side::Right), "runs off the hunk");
        assert!(!anchored(13, Some(12), Side::Right), "end before start");
    }

    #[test]
    fn a_finding_for_another_file_never_anchors() {
        let mut f = finding(12, None, Side::Right);
        f.path = "src/b.rs".into();
        anchor_in_file(&mut f, &file());
        assert!(!f.anchored);
        let diff = Diff {
            files: vec![file()],
            commits: vec![],
        };
        let mut all = vec![f, finding(12, None, Side::Right)];
        all[1].anchored = false;
        anchor_all(&mut all, &diff);
        assert_eq!((all[0].anchored, all[1].anchored), (false, true));
    }

    #[test]
    fn cap_keeps_the_first_anchored_and_moves_the_rest() {
        let mut all: Vec<Finding> = (0..5).map(|i| finding(10 + i, None, Side::Right)).collect();
        all[1].anchored = false; // off the diff: not counted against the cap
        let moved = apply_inline_cap(&mut all, 2);
        assert_eq!(moved, vec![3, 4]);
        let flags: Vec<bool> = all.iter().map(|f| f.anchored).collect();
        assert_eq!(flags, vec![true, false, true, false, false]);
        let mut none: Vec<Finding> = (0..3).map(|i| finding(10 + i, None, Side::Right)).collect();
        assert_eq!(apply_inline_cap(&mut none, 0), vec![0, 1, 2]);
    }

    #[test]
    fn sorting_puts_severe_first_then_diff_order_and_drops_repeats() {
        let mut other = file();
        other.new_path = Some("a_first_in_diff.rs".into());
        let diff = Diff {
            files: vec![other, file()],
            commits: vec![],
        };
        let mut a = finding(12, None, Side::Right);
        a.severity = Severity::Nit;
        let mut b = finding(14, None, Side::Right);
        b.severity = Severity::Critical;
        let mut c = finding(13, None, Side::Right);
        c.path = "a_first_in_diff.rs".into();
        let mut c2 = c.clone();
        c2.severity = Severity::Minor;
        let mut all = vec![a.clone(), b.clone(), c.clone(), c2, a.clone()];
        sort_and_dedup(&mut all, &diff);
        let got: Vec<(String, u32)> = all.iter().map(|f| (f.path.clone(), f.line)).collect();
        assert_eq!(
            got,
            vec![
                ("src/a.rs".into(), 14),
                ("a_first_in_diff.rs".into(), 13),
                ("src/a.rs".into(), 12),
            ]
        );
    }
}
