//! Incremental re-reviews: on a new push to a pull request Nectr already reviewed, the AI
//! reviewer — the expensive part — sees only what changed since that review.
//!
//! The steps, each small and (except [`decide`]) pure:
//! - [`decide`] picks the [`Scope`]: the head of Nectr's previous review (from its marker)
//!   is compared with the new head through GitHub's compare API. Only when the old head is
//!   an ancestor of the new one (`ahead`, or the same commit) is the review incremental;
//!   anything else — no earlier review, no complete AI review then, a force-push, a new
//!   base branch, `review.incremental: false` — is a full review with the reason said.
//! - [`Increment::ai_diff`] cuts the pull request's diff (base...head) down to the lines
//!   the new commits touched, with a little context. It keeps the PR diff's own line
//!   numbers on both sides, so whatever the model says anchors against the full diff,
//!   which is what GitHub's review comments anchor to. The rules keep running on the whole
//!   diff: they are cheap.
//! - [`Increment::carry_forward`] brings back the earlier AI findings (recorded in the
//!   marker) whose lines the new commits left alone, at their new line numbers; the others
//!   are gone from the review, so publishing reports them as fixed.
//! - [`finish`] merges the carried findings into the review and fills its stats.
//!
//! The marker is trusted only on Nectr's own reviews (see `publish::earlier_reviews`), so
//! nobody else's comment can steer what is skipped.

use std::collections::{BTreeMap, HashSet};

use crate::config::RepoConfig;
use crate::diff::{Diff, FileDiff, Hunk, HunkLine, LineKind, Side};
use crate::github::GitHub;
use crate::github::client::MAX_COMPARE_FILES;
use crate::github::types::{CompareStatus, Comparison, PullRequest};
use crate::publish::PreviousReview;
use crate::publish::marker::{ReviewMarker, fingerprint};
use crate::review::anchor::{anchor_all, apply_inline_cap, sort_and_dedup};
use crate::review::finding::{Finding, Source};
use crate::review::{IncrementalStats, Review};

/// Lines of the PR's diff kept around each line the new commits touched, so the model
/// sees what the change sits in.
pub const CONTEXT_LINES: u32 = 3;

/// How much of the pull request the AI reviewer is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole pull request. `reason` says why when Nectr had reviewed it before: one
    /// line of Markdown for the summary, anything from the pull request (branch names) in
    /// code spans. `None` for a first review or a review without a model.
    Full { reason: Option<String> },
    /// Only what changed since Nectr's previous review.
    Incremental(Increment),
}

/// What changed between the head of Nectr's previous review and the new head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Increment {
    /// The head SHA of the previous review.
    pub from: String,
    /// The new head SHA.
    pub to: String,
    /// By path at the new head: what the new commits changed in the file.
    changes: BTreeMap<String, FileChange>,
}

/// What the new commits did to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum FileChange {
    /// Added, removed, renamed away, binary or without a patch: all of it counts as changed.
    Whole,
    /// The compare patch's hunks, as (kind, old-head line, new-head line) per line.
    Hunks(Vec<Span>),
}

/// One hunk of a compare patch, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    old_start: u32,
    old_len: u32,
    new_start: u32,
    new_len: u32,
    lines: Vec<(LineKind, Option<u32>, Option<u32>)>,
}

impl Span {
    /// The first old-head line after this hunk.
    fn old_end(&self) -> u32 {
        if self.old_len == 0 {
            self.old_start + 1
        } else {
            self.old_start + self.old_len
        }
    }

    fn growth(&self) -> i64 {
        let added = self.lines.iter().filter(|l| l.0 == LineKind::Added).count();
        let removed = self
            .lines
            .iter()
            .filter(|l| l.0 == LineKind::Removed)
            .count();
        added as i64 - removed as i64
    }
}

impl FileChange {
    /// Where old-head line `n` is at the new head; `None` when the new commits removed or
    /// replaced it.
    fn map_line(&self, n: u32) -> Option<u32> {
        let FileChange::Hunks(spans) = self else {
            return None;
        };
        let mut shift: i64 = 0;
        for span in spans {
            if span.old_end() <= n {
                shift += span.growth();
                continue;
            }
            if span.old_len > 0 && span.old_start <= n {
                // Inside the hunk: a context line moves, a removed line is gone.
                let &(kind, _, new) = span.lines.iter().find(|l| l.1 == Some(n))?;
                return if kind == LineKind::Context { new } else { None };
            }
            break;
        }
        u32::try_from(i64::from(n) + shift).ok().filter(|&m| m > 0)
    }

    /// New-head lines the new commits added, and the places where they removed lines
    /// (the line that now follows), sorted.
    fn touched(&self) -> Vec<u32> {
        let FileChange::Hunks(spans) = self else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for span in spans {
            // A removed line has no new-head number: it is where the next line now sits.
            let mut pending_removal = false;
            for &(kind, _, new) in &span.lines {
                match kind {
                    LineKind::Removed => pending_removal = true,
                    LineKind::Added => {
                        out.extend(new);
                        pending_removal = false;
                    }
                    LineKind::Context => {
                        if pending_removal {
                            out.extend(new);
                            pending_removal = false;
                        }
                    }
                }
            }
            if pending_removal {
                // Removed at the end of the hunk: the place is the first line after it.
                let first = if span.new_len == 0 {
                    span.new_start + 1
                } else {
                    span.new_start
                };
                out.push(first + span.new_len);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The compare API's answer, turned into an [`Increment`] (or the reason it cannot be one).
pub fn increment_from(
    from: &str,
    to: &str,
    comparison: Option<&Comparison>,
) -> Result<Increment, String> {
    let from_short = short(from);
    let Some(comparison) = comparison else {
        return Err(format!(
            "the head of the previous review ({from_short}) is no longer known to GitHub (a force-push or rebase)"
        ));
    };
    match comparison.status {
        CompareStatus::Ahead | CompareStatus::Identical => {}
        CompareStatus::Diverged => {
            return Err(format!(
                "the branch was rewritten since the previous review of {from_short} (a force-push or rebase)"
            ));
        }
        CompareStatus::Behind => {
            return Err(format!(
                "the branch was reset to a commit before the previous review of {from_short}"
            ));
        }
        CompareStatus::Unknown => {
            return Err(format!(
                "GitHub's comparison with the previous review of {from_short} has a status Nectr does not know"
            ));
        }
    }
    if comparison.files.len() >= MAX_COMPARE_FILES {
        return Err(format!(
            "at least {MAX_COMPARE_FILES} files changed since the previous review of {from_short}, more than GitHub's comparison lists"
        ));
    }
    let mut changes = BTreeMap::new();
    for file in &comparison.files {
        let change = match (file.status.as_str(), file.patch.as_deref()) {
            ("added" | "removed", _) | (_, None) => FileChange::Whole,
            (_, Some(patch)) => match crate::diff::parse_file_patch(&file.filename, patch) {
                Ok(parsed) => FileChange::Hunks(spans(&parsed)),
                Err(_) => FileChange::Whole,
            },
        };
        if let Some(old) = file
            .previous_filename
            .as_deref()
            .filter(|o| *o != file.filename)
        {
            changes.insert(old.to_owned(), FileChange::Whole);
        }
        changes.insert(file.filename.clone(), change);
    }
    Ok(Increment {
        from: from.to_owned(),
        to: to.to_owned(),
        changes,
    })
}

fn spans(file: &FileDiff<'_>) -> Vec<Span> {
    file.hunks
        .iter()
        .map(|h| Span {
            old_start: h.old_start,
            old_len: h.old_len,
            new_start: h.new_start,
            new_len: h.new_len,
            lines: h
                .lines
                .iter()
                .map(|l| (l.kind, l.old_line, l.new_line))
                .collect(),
        })
        .collect()
}

fn short(sha: &str) -> String {
    format!("`{}`", sha.chars().take(7).collect::<String>())
}

/// The decision, and how many commits the pull request gained since Nectr's previous
/// review (for the summary's first line: "Reviewed the 2 new commits since the last
/// review").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub scope: Scope,
    /// Commits on the new head since the previous review's head, as GitHub's compare API
    /// counts them. `None`: no earlier review on another head, or GitHub could not count
    /// them (the old head is gone after a force-push, the history diverged, an error).
    pub new_commits: Option<u64>,
}

/// The number of new commits a comparison shows, when the old head is an ancestor of
/// the new one; a rewritten history has no such number.
pub fn commits_ahead(comparison: Option<&Comparison>) -> Option<u64> {
    let c = comparison?;
    (c.status == CompareStatus::Ahead)
        .then(|| c.total_commits.max(c.ahead_by))
        .filter(|&n| n > 0)
}

/// Ask GitHub how many commits `to` has that `from` had not (`None` when it cannot say;
/// never an error: the summary then says it without a number).
pub async fn count_new_commits(gh: &GitHub, repo: &str, from: &str, to: &str) -> Option<u64> {
    if from == to {
        return None;
    }
    commits_ahead(gh.compare(repo, from, to).await.ok()?.as_ref())
}

/// Decide how much of the pull request the AI reviewer is sent. `previous` is the marker
/// of Nectr's own latest review; `has_model` whether an AI reviewer runs at all (without
/// one everything is the rules, which always check the whole pull request);
/// `full_because`: review everything with the model for this reason (`/nectr review`).
/// GitHub failing to compare is not an error: the review is then a full one. One compare
/// request on a re-review of a new head (it also counts the new commits); none otherwise.
pub async fn decide(
    gh: &GitHub,
    repo: &str,
    pull: &PullRequest,
    config: &RepoConfig,
    has_model: bool,
    previous: Option<&ReviewMarker>,
    full_because: Option<String>,
) -> Decision {
    let to = pull.head.sha.as_str();
    let moved_from = previous.map(|p| p.head.as_str()).filter(|&from| from != to);
    let precheck = match full_because {
        Some(reason) if previous.is_some() && has_model => Precheck::Decided(Scope::Full {
            reason: Some(reason),
        }),
        _ => precheck(pull, config, has_model, previous),
    };
    match precheck {
        Precheck::Decided(scope) => Decision {
            scope,
            new_commits: match moved_from {
                Some(from) => count_new_commits(gh, repo, from, to).await,
                None => None,
            },
        },
        Precheck::Compare { from } => {
            let (scope, new_commits) = match gh.compare(repo, &from, to).await {
                Ok(comparison) => (
                    increment_from(&from, to, comparison.as_ref()),
                    commits_ahead(comparison.as_ref()),
                ),
                Err(e) => (
                    Err(format!(
                        "GitHub could not compare the new commits with the previous review ({})",
                        crate::review::render::markdown::escape_inline(&e.to_string())
                    )),
                    None,
                ),
            };
            let scope = match scope {
                Ok(increment) => Scope::Incremental(increment),
                Err(reason) => Scope::Full {
                    reason: Some(reason),
                },
            };
            Decision { scope, new_commits }
        }
    }
}

/// The decision as far as it can be made without GitHub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precheck {
    Decided(Scope),
    /// Ask GitHub's compare API about `from...head`.
    Compare {
        from: String,
    },
}

/// Everything [`decide`] checks before asking GitHub. Pure.
pub fn precheck(
    pull: &PullRequest,
    config: &RepoConfig,
    has_model: bool,
    previous: Option<&ReviewMarker>,
) -> Precheck {
    let full = |reason: Option<String>| Precheck::Decided(Scope::Full { reason });
    let Some(previous) = previous else {
        return full(None);
    };
    if !has_model {
        return full(None);
    }
    let from = short(&previous.head);
    if !config.review.incremental {
        return full(Some(
            "`review.incremental` is `false` in the config".to_owned(),
        ));
    }
    if !previous.ai {
        return full(Some(format!(
            "the previous review of {from} had no complete AI review"
        )));
    }
    if !previous.records_all_findings() {
        return full(Some(format!(
            "the previous review of {from} did not record all its findings"
        )));
    }
    if previous.base.as_deref() != Some(pull.base.name.as_str()) {
        return full(Some(match &previous.base {
            Some(old) => format!(
                "the base branch changed from {} to {} since the previous review",
                crate::review::render::markdown::code_span(old),
                crate::review::render::markdown::code_span(&pull.base.name)
            ),
            None => format!("the previous review of {from} did not record its base branch"),
        }));
    }
    if previous.head == pull.head.sha {
        // Nothing new: the earlier AI findings all carry forward, no model call is needed.
        return Precheck::Decided(Scope::Incremental(Increment {
            from: previous.head.clone(),
            to: pull.head.sha.clone(),
            changes: BTreeMap::new(),
        }));
    }
    Precheck::Compare {
        from: previous.head.clone(),
    }
}

impl Increment {
    /// The parts of `pr_diff` the new commits changed, for the AI reviewer: per file, the
    /// runs of diff lines within [`CONTEXT_LINES`] of a touched line that hold at least one
    /// added or removed line of the PR. Lines keep their numbers in `pr_diff`, on both
    /// sides, so findings anchor against the full diff. Files the new commits did not touch
    /// are left out; so are changes merged in from the base branch, which are not in the
    /// PR's diff.
    pub fn ai_diff<'a>(&self, pr_diff: &Diff<'a>) -> Diff<'a> {
        let mut files = Vec::new();
        for file in &pr_diff.files {
            let Some(change) = self.changes.get(file.path()) else {
                continue;
            };
            let hunks: Vec<Hunk<'a>> = match change {
                FileChange::Whole => file.hunks.clone(),
                FileChange::Hunks(_) => {
                    let touched = change.touched();
                    file.hunks
                        .iter()
                        .flat_map(|h| sub_hunks(h, &touched))
                        .collect()
                }
            };
            if hunks.is_empty() {
                continue;
            }
            files.push(FileDiff {
                hunks,
                ..file.clone()
            });
        }
        Diff {
            files,
            commits: Vec::new(),
        }
    }

    /// Earlier AI findings of `previous` whose lines the new commits left alone, at their
    /// lines in `pr_diff` (not yet anchored). The rules' findings are not carried: the
    /// rules run on the whole diff again. An earlier finding that is not returned is gone:
    /// its code changed, or its file left the pull request.
    pub fn carry_forward(&self, previous: &PreviousReview, pr_diff: &Diff<'_>) -> Vec<Finding> {
        let marker = &previous.marker;
        let inline: HashSet<&str> = marker.inline.iter().map(String::as_str).collect();
        let mut carried = Vec::new();
        for record in marker.findings.iter().filter(|f| f.src == Source::Llm) {
            let Some(file) = pr_diff.file(&record.path) else {
                continue;
            };
            let end = record.end.unwrap_or(record.line).max(record.line);
            let (line, end_line) = match record.side {
                // The base side does not move with the head; the content check below
                // tells whether the PR still shows those lines.
                Side::Left => (record.line, end),
                Side::Right => match self.changes.get(&record.path) {
                    None => (record.line, end),
                    Some(change) => {
                        let mapped: Option<Vec<u32>> =
                            (record.line..=end).map(|n| change.map_line(n)).collect();
                        match mapped.as_deref() {
                            Some([first, .., last])
                                if i64::from(*last) - i64::from(*first)
                                    == i64::from(end) - i64::from(record.line) =>
                            {
                                (*first, *last)
                            }
                            Some([only]) => (*only, *only),
                            _ => continue,
                        }
                    }
                },
            };
            let finding = Finding {
                path: record.path.clone(),
                line,
                end_line: (end_line > line).then_some(end_line),
                side: record.side,
                severity: record.sev,
                source: Source::Llm,
                rule: record.rule.clone(),
                title: record.title.clone(),
                body: carried_body(previous, &record.fp, &marker.head),
                anchored: false,
                suggestion: None,
            };
            // A finding that sat on the diff was fingerprinted by its lines' content: the
            // same content must be there still. (One in the summary was fingerprinted by
            // its line number, which may have moved.)
            let on_diff_before = inline.contains(record.fp.as_str());
            if (on_diff_before || record.side == Side::Left)
                && fingerprint(&finding, Some(file)) != record.fp
            {
                continue;
            }
            carried.push(finding);
        }
        carried
    }

    /// Files of the PR the new commits touched (what the AI reviewer may be sent).
    pub fn changed_paths(&self) -> impl Iterator<Item = &str> {
        self.changes.keys().map(String::as_str)
    }
}

/// The runs of `hunk` near `touched` new-head lines that show part of the PR's change.
fn sub_hunks<'a>(hunk: &Hunk<'a>, touched: &[u32]) -> Vec<Hunk<'a>> {
    if touched.is_empty() {
        return Vec::new();
    }
    let end_new = hunk.new_start + hunk.new_len;
    // Each line's place on the new side; a removed line sits where the next new line is.
    let mut places = vec![end_new; hunk.lines.len()];
    let mut next = end_new;
    for (i, line) in hunk.lines.iter().enumerate().rev() {
        if let Some(n) = line.new_line {
            next = n;
        }
        places[i] = next;
    }
    // `touched` is sorted: the first touched line at or after `place - CONTEXT_LINES`
    // decides.
    let near = |place: u32| {
        let from = place.saturating_sub(CONTEXT_LINES);
        let i = touched.partition_point(|&t| t < from);
        touched
            .get(i)
            .is_some_and(|&t| t <= place.saturating_add(CONTEXT_LINES))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < hunk.lines.len() {
        if !near(places[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < hunk.lines.len() && near(places[i]) {
            i += 1;
        }
        let run = &hunk.lines[start..i];
        if run.iter().all(|l| l.kind == LineKind::Context) {
            continue;
        }
        out.push(hunk_of(hunk, start, run));
    }
    out
}

/// The hunk showing `run`, the lines `start..` of `hunk`, with a header that matches.
fn hunk_of<'a>(hunk: &Hunk<'a>, start: usize, run: &[HunkLine<'a>]) -> Hunk<'a> {
    // The first line number each side would show at the hunk's start (a side with no
    // lines names the line before it, as in `@@ -0,0 +1 @@`).
    let first = |header_start: u32, header_len: u32| {
        if header_len == 0 {
            header_start + 1
        } else {
            header_start
        }
    };
    let before = &hunk.lines[..start];
    let old_next = first(hunk.old_start, hunk.old_len)
        + before.iter().filter(|l| l.old_line.is_some()).count() as u32;
    let new_next = first(hunk.new_start, hunk.new_len)
        + before.iter().filter(|l| l.new_line.is_some()).count() as u32;
    let old_len = run.iter().filter(|l| l.old_line.is_some()).count() as u32;
    let new_len = run.iter().filter(|l| l.new_line.is_some()).count() as u32;
    Hunk {
        old_start: if old_len == 0 { old_next - 1 } else { old_next },
        old_len,
        new_start: if new_len == 0 { new_next - 1 } else { new_next },
        new_len,
        section: hunk.section,
        header_position: run[0].position.saturating_sub(1),
        lines: run.to_vec(),
    }
}

/// The body of a carried finding: the earlier inline comment's explanation when Nectr
/// posted one, else a line saying where it comes from.
fn carried_body(previous: &PreviousReview, fp: &str, head: &str) -> String {
    let from_comment = previous.comments.get(fp).and_then(|c| {
        // Nectr's own comment: a heading line, a blank line, the explanation, the marker.
        let (_, rest) = c.body.split_once("\n\n")?;
        let rest = match rest.rfind("<!-- nectr:finding ") {
            Some(i) => &rest[..i],
            None => rest,
        };
        Some(rest.trim().to_owned()).filter(|b| !b.is_empty())
    });
    from_comment.unwrap_or_else(|| {
        format!(
            "Reported by Nectr's review of {}; the new commits did not change these lines.",
            short(head)
        )
    })
}

/// Finish a review made under `scope`: merge the carried findings (anchored against the
/// full diff, ordered and capped with the rest; a new AI finding with the same
/// fingerprint as a carried one is the same finding and is dropped), and fill
/// `stats.incremental` or `stats.full_review_reason`. `ai_files` is how many files the AI
/// reviewer was sent. Returns whether the AI reviewer has now seen the whole pull request
/// (recorded in the marker, so the next push can be incremental too).
pub fn finish(
    review: &mut Review,
    scope: &Scope,
    carried: Vec<Finding>,
    diff: &Diff<'_>,
    cap: usize,
    ai_files: usize,
) -> bool {
    let increment = match scope {
        Scope::Full { reason } => {
            review.stats.full_review_reason = reason.clone();
            return review.ai_reviewed;
        }
        Scope::Incremental(increment) => increment,
    };
    review.stats.incremental = Some(IncrementalStats {
        from: increment.from.clone(),
        to: increment.to.clone(),
        files: ai_files,
        carried_forward: carried.len(),
    });
    if let Some(overview) = review.ai_summary.take() {
        review.ai_summary = Some(format!("*The commits since the last review:* {overview}"));
    }
    let ai_complete = ai_files == 0 || review.ai_reviewed;
    if carried.is_empty() {
        return ai_complete;
    }
    let mut carried = carried;
    anchor_all(&mut carried, diff);
    let fp = |f: &Finding| fingerprint(f, diff.file(&f.path));
    let known: HashSet<String> = carried.iter().map(fp).collect();
    // Findings the cap moved were anchored: the cap is applied again over all of them.
    for &i in &review.over_cap {
        review.findings[i].anchored = true;
    }
    let findings = std::mem::take(&mut review.findings);
    review.findings = findings
        .into_iter()
        .filter(|f| f.source != Source::Llm || !known.contains(&fp(f)))
        .collect();
    review.findings.append(&mut carried);
    sort_and_dedup(&mut review.findings, diff);
    review.over_cap = apply_inline_cap(&mut review.findings, cap);
    ai_complete
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::github::event::GitRef;
    use crate::github::types::{PrFile, ReviewComment, ReviewInfo, User};
    use crate::publish::marker::MarkedFinding;
    use crate::review::finding::Severity;

    /// `count` numbered lines, `line 1` …
    fn numbered(count: u32) -> Vec<String> {
        (1..=count).map(|n| format!("line {n}")).collect()
    }

    fn text(lines: &[String]) -> String {
        lines.iter().map(|l| format!("{l}\n")).collect()
    }

    /// The hunks of a diff from `old` to `new` (GitHub's per-file `patch`).
    fn patch(old: &str, new: &str) -> String {
        let printed = diffy::create_patch(old, new).to_string();
        printed
            .strip_prefix("--- original\n+++ modified\n")
            .expect("diffy's header")
            .to_owned()
    }

    fn git_diff(path: &str, old: &str, new: &str) -> String {
        format!(
            "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{}",
            patch(old, new)
        )
    }

    fn ahead(files: Vec<PrFile>) -> Comparison {
        Comparison {
            status: CompareStatus::Ahead,
            ahead_by: 1,
            behind_by: 0,
            total_commits: 1,
            commits: Vec::new(),
            files,
        }
    }

    fn modified(path: &str, old: &str, new: &str) -> PrFile {
        PrFile {
            filename: path.into(),
            status: "modified".into(),
            previous_filename: None,
            additions: 1,
            deletions: 1,
            patch: Some(patch(old, new)),
        }
    }

    /// The example pull request: `app.py` with 30 lines at the base. The first push adds
    /// an `eval` after line 10 and `c = 2` after line 25; the second adds an import at the
    /// top and replaces `c = 2` with two lines.
    struct Example {
        base: String,
        head1: String,
        head2: String,
    }

    fn example() -> Example {
        let base = numbered(30);
        let mut head1 = base.clone();
        head1.insert(25, "c = 2".into());
        head1.insert(10, "a = eval(x)".into());
        let mut head2 = head1.clone();
        let c = head2.iter().position(|l| l == "c = 2").unwrap();
        head2.splice(c..=c, ["c = 3".to_owned(), "d = 4".to_owned()]);
        head2.insert(1, "import os".into());
        Example {
            base: text(&base),
            head1: text(&head1),
            head2: text(&head2),
        }
    }

    fn increment(ex: &Example) -> Increment {
        let comparison = ahead(vec![modified("app.py", &ex.head1, &ex.head2)]);
        increment_from(&"a".repeat(40), &"b".repeat(40), Some(&comparison)).unwrap()
    }

    /// Every hunk's header matches its lines, and the diff survives a round trip through
    /// the parser (which refuses anything else).
    fn assert_well_formed(diff: &Diff<'_>) {
        let mut out = String::new();
        for file in &diff.files {
            let path = file.path();
            out.push_str(&format!(
                "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
            ));
            for h in &file.hunks {
                out.push_str(&format!(
                    "@@ -{},{} +{},{} @@\n",
                    h.old_start, h.old_len, h.new_start, h.new_len
                ));
                for l in &h.lines {
                    let mark = match l.kind {
                        LineKind::Context => ' ',
                        LineKind::Added => '+',
                        LineKind::Removed => '-',
                    };
                    out.push_str(&format!("{mark}{}\n", l.content));
                }
            }
        }
        let parsed = crate::diff::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        for (a, b) in parsed.files.iter().zip(&diff.files) {
            for (ha, hb) in a.hunks.iter().zip(&b.hunks) {
                let numbers = |h: &Hunk<'_>| -> Vec<(Option<u32>, Option<u32>)> {
                    h.lines.iter().map(|l| (l.old_line, l.new_line)).collect()
                };
                assert_eq!(numbers(ha), numbers(hb), "{out}");
            }
        }
    }

    #[test]
    fn lines_map_through_the_new_commits() {
        let old = text(&numbered(20));
        let mut lines = numbered(20);
        lines[2] = "changed".into(); // line 3
        lines.insert(10, "inserted".into()); // after line 10
        let new = text(&lines);
        let change = FileChange::Hunks(spans(
            &crate::diff::parse_file_patch("f", &patch(&old, &new)).unwrap(),
        ));
        assert_eq!(change.map_line(1), Some(1));
        assert_eq!(change.map_line(2), Some(2));
        assert_eq!(change.map_line(3), None, "replaced");
        assert_eq!(change.map_line(4), Some(4));
        assert_eq!(change.map_line(10), Some(10));
        assert_eq!(change.map_line(11), Some(12), "below the insertion");
        assert_eq!(change.map_line(20), Some(21));
        assert_eq!(change.touched(), vec![3, 11]);
        assert_eq!(FileChange::Whole.map_line(1), None);

        // A pure deletion at the end of a hunk is placed on the line that follows it.
        let mut fewer = numbered(20);
        fewer.remove(19); // line 20
        let gone = FileChange::Hunks(spans(
            &crate::diff::parse_file_patch("f", &patch(&old, &text(&fewer))).unwrap(),
        ));
        assert_eq!(gone.map_line(20), None);
        assert_eq!(gone.map_line(19), Some(19));
        assert_eq!(gone.touched(), vec![20]);
    }

    #[test]
    fn only_ahead_comparisons_are_incremental() {
        let from = "1".repeat(40);
        let to = "2".repeat(40);
        let gone = increment_from(&from, &to, None).unwrap_err();
        assert!(gone.contains("force-push"), "{gone}");
        for (status, says) in [
            (CompareStatus::Diverged, "rewritten"),
            (CompareStatus::Behind, "reset"),
            (CompareStatus::Unknown, "status"),
        ] {
            let comparison = Comparison {
                status,
                ..ahead(Vec::new())
            };
            let reason = increment_from(&from, &to, Some(&comparison)).unwrap_err();
            assert!(reason.contains(says), "{status:?}: {reason}");
            assert!(reason.contains("`1111111`"), "{reason}");
        }
        let many = ahead(
            (0..MAX_COMPARE_FILES)
                .map(|i| modified(&format!("f{i}"), "a\n", "b\n"))
                .collect(),
        );
        assert!(increment_from(&from, &to, Some(&many)).is_err());
        let identical = Comparison {
            status: CompareStatus::Identical,
            ..ahead(Vec::new())
        };
        let same = increment_from(&from, &to, Some(&identical)).unwrap();
        assert!(same.changes.is_empty());
    }

    #[test]
    fn new_commits_are_counted_only_on_a_straight_line() {
        let two = Comparison {
            ahead_by: 2,
            total_commits: 2,
            ..ahead(Vec::new())
        };
        assert_eq!(commits_ahead(Some(&two)), Some(2));
        // A rewritten history: its count is not "new commits since the last review".
        for status in [
            CompareStatus::Diverged,
            CompareStatus::Behind,
            CompareStatus::Identical,
            CompareStatus::Unknown,
        ] {
            let other = Comparison {
                status,
                ..two.clone()
            };
            assert_eq!(commits_ahead(Some(&other)), None, "{status:?}");
        }
        // Gone (404), or GitHub sent no count.
        assert_eq!(commits_ahead(None), None);
        let uncounted = Comparison {
            ahead_by: 0,
            total_commits: 0,
            ..ahead(Vec::new())
        };
        assert_eq!(commits_ahead(Some(&uncounted)), None);
    }

    #[test]
    fn the_ai_sees_only_what_the_new_commits_changed() {
        let ex = example();
        let pr_text = git_diff("app.py", &ex.base, &ex.head2);
        let pr = crate::diff::parse(&pr_text).unwrap();
        assert_eq!(pr.files[0].hunks.len(), 3, "{pr_text}");
        let ai = increment(&ex).ai_diff(&pr);
        assert_well_formed(&ai);
        assert_eq!(ai.files.len(), 1);
        let shown: Vec<&str> = ai.files[0]
            .hunks
            .iter()
            .flat_map(|h| h.lines.iter().map(|l| l.content))
            .collect();
        assert!(shown.contains(&"import os"), "{shown:?}");
        assert!(
            shown.contains(&"c = 3") && shown.contains(&"d = 4"),
            "{shown:?}"
        );
        assert!(
            !shown.contains(&"a = eval(x)"),
            "the first push's change is not sent again: {shown:?}"
        );
        // Line numbers are the PR diff's own, so anything the model says anchors on it.
        for h in &ai.files[0].hunks {
            for l in &h.lines {
                if let Some(n) = l.new_line {
                    assert_eq!(pr.files[0].line(Side::Right, n).unwrap().content, l.content);
                }
            }
        }

        // A file the new commits did not touch is not sent at all.
        let other = format!("{pr_text}{}", git_diff("other.py", "x\n", "y\n"));
        let pr = crate::diff::parse(&other).unwrap();
        let ai = increment(&ex).ai_diff(&pr);
        assert_eq!(ai.files.len(), 1);
        assert_eq!(ai.files[0].path(), "app.py");
    }

    #[test]
    fn a_small_change_inside_a_large_hunk_sends_only_its_surroundings() {
        let base = text(&numbered(10));
        let mut head1 = numbered(10);
        let added: Vec<String> = (1..=40).map(|n| format!("new {n}")).collect();
        head1.splice(5..5, added);
        let mut head2 = head1.clone();
        head2[24] = "new 20 (fixed)".into(); // new 20 sits on line 25
        let pr_text = git_diff("big.py", &base, &text(&head2));
        let pr = crate::diff::parse(&pr_text).unwrap();
        assert_eq!(pr.files[0].hunks.len(), 1);
        let comparison = ahead(vec![modified("big.py", &text(&head1), &text(&head2))]);
        let inc = increment_from("a1", "b2", Some(&comparison)).unwrap();
        let ai = inc.ai_diff(&pr);
        assert_well_formed(&ai);
        let hunk = &ai.files[0].hunks[0];
        assert_eq!(ai.files[0].hunks.len(), 1);
        assert_eq!(hunk.new_start, 22);
        assert_eq!(hunk.new_len, 7);
        assert_eq!(hunk.old_len, 0, "only added lines of the PR");
        assert_eq!(hunk.old_start, 5, "the line before, as git writes it");
        assert!(hunk.lines.iter().any(|l| l.content == "new 20 (fixed)"));
    }

    fn record(fp: &str, line: u32, src: Source, title: &str) -> MarkedFinding {
        MarkedFinding {
            fp: fp.into(),
            path: "app.py".into(),
            line,
            end: None,
            side: Side::Right,
            sev: Severity::Major,
            src,
            rule: if src == Source::Llm {
                "llm"
            } else {
                "security.eval"
            }
            .into(),
            title: title.into(),
        }
    }

    fn finding_at(line: u32, title: &str) -> Finding {
        Finding {
            path: "app.py".into(),
            line,
            end_line: None,
            side: Side::Right,
            severity: Severity::Major,
            source: Source::Llm,
            rule: "llm".into(),
            title: title.into(),
            body: "b".into(),
            anchored: true,
            suggestion: None,
        }
    }

    fn previous_review(ex: &Example) -> PreviousReview {
        let head1_diff = git_diff("app.py", &ex.base, &ex.head1);
        let d1 = crate::diff::parse(&head1_diff).unwrap();
        let file = d1.file("app.py");
        let fp = |line: u32| fingerprint(&finding_at(line, "x"), file);
        // eval on line 11 (inline), `c = 2` on line 27 (inline), a rule finding on 11,
        // and a summary-only one on line 3 (off the diff).
        let records = vec![
            record(&fp(11), 11, Source::Llm, "eval on input"),
            record(&fp(27), 27, Source::Llm, "magic number"),
            record("00000000000000aa", 11, Source::Rules, "eval"),
            record(&fp(3), 3, Source::Llm, "naming"),
        ];
        let comment = ReviewComment {
            id: 7,
            body: format!(
                "🟠 **major** · eval on input · `llm`\n\nNever `eval` input.\n\n```suggestion\nsafe\n```\n<!-- nectr:finding {} -->",
                fp(11)
            ),
            user: Some(User {
                login: "nectr-bot".into(),
                kind: None,
            }),
            path: "app.py".into(),
            line: Some(11),
            side: Some("RIGHT".into()),
            pull_request_review_id: Some(1),
            html_url: None,
            reactions: None,
        };
        PreviousReview {
            review: ReviewInfo {
                id: 1,
                body: None,
                user: None,
                state: None,
                html_url: None,
                commit_id: None,
            },
            marker: ReviewMarker {
                v: 1,
                head: "a".repeat(40),
                inline: vec![fp(11), fp(27), "00000000000000aa".into()],
                all: records.iter().map(|r| r.fp.clone()).collect(),
                base: Some("main".into()),
                ai: true,
                findings: records,
                run: None,
            },
            comments: HashMap::from([(fp(11), comment)]),
        }
    }

    #[test]
    fn untouched_ai_findings_carry_forward_and_changed_ones_do_not() {
        let ex = example();
        let previous = previous_review(&ex);
        let pr_text = git_diff("app.py", &ex.base, &ex.head2);
        let pr = &crate::diff::parse(&pr_text).unwrap();
        let carried = increment(&ex).carry_forward(&previous, pr);
        let got: Vec<(u32, &str)> = carried.iter().map(|f| (f.line, f.title.as_str())).collect();
        assert_eq!(
            got,
            vec![(12, "eval on input"), (4, "naming")],
            "moved one line down by the import; `c = 2` was replaced; rules re-run"
        );
        assert_eq!(
            fingerprint(&carried[0], pr.file("app.py")),
            previous.marker.findings[0].fp,
            "same code, same fingerprint: publishing sees it as already posted"
        );
        assert!(
            carried[0].body.starts_with("Never `eval` input.")
                && carried[0].body.contains("```suggestion")
                && !carried[0].body.contains("nectr:finding"),
            "{}",
            carried[0].body
        );
        assert!(carried[1].body.contains("`aaaaaaa`"), "{}", carried[1].body);

        // The file left the pull request: nothing is carried.
        let other_text = git_diff("other.py", "x\n", "y\n");
        let other = crate::diff::parse(&other_text).unwrap();
        assert!(increment(&ex).carry_forward(&previous, &other).is_empty());
    }

    fn pull(head: &str, base: &str) -> PullRequest {
        PullRequest {
            number: 1,
            head: GitRef {
                name: "feature".into(),
                sha: head.into(),
                repo: None,
            },
            base: GitRef {
                name: base.into(),
                sha: "c".repeat(40),
                repo: None,
            },
            ..PullRequest::default()
        }
    }

    #[test]
    fn precheck_falls_back_to_full_reviews_and_says_why() {
        let ex = example();
        let marker = previous_review(&ex).marker;
        let config = RepoConfig::default();
        let new_head = "b".repeat(40);
        let reason = |p: Precheck| match p {
            Precheck::Decided(Scope::Full { reason }) => reason,
            other => panic!("expected a full review, got {other:?}"),
        };
        let p = pull(&new_head, "main");
        assert_eq!(reason(precheck(&p, &config, true, None)), None);
        assert_eq!(reason(precheck(&p, &config, false, Some(&marker))), None);
        let mut off = RepoConfig::default();
        off.review.incremental = false;
        assert!(
            reason(precheck(&p, &off, true, Some(&marker)))
                .unwrap()
                .contains("review.incremental")
        );
        let no_ai = ReviewMarker {
            ai: false,
            ..marker.clone()
        };
        assert!(
            reason(precheck(&p, &config, true, Some(&no_ai)))
                .unwrap()
                .contains("no complete AI review")
        );
        let unrecorded = ReviewMarker {
            findings: Vec::new(),
            ..marker.clone()
        };
        assert!(
            reason(precheck(&p, &config, true, Some(&unrecorded)))
                .unwrap()
                .contains("record")
        );
        let retargeted = pull(&new_head, "release");
        let why = reason(precheck(&retargeted, &config, true, Some(&marker))).unwrap();
        assert!(why.contains("`main` to `release`"), "{why}");

        assert_eq!(
            precheck(&p, &config, true, Some(&marker)),
            Precheck::Compare {
                from: "a".repeat(40)
            }
        );
        // The same head again: incremental with nothing to send.
        match precheck(&pull(&"a".repeat(40), "main"), &config, true, Some(&marker)) {
            Precheck::Decided(Scope::Incremental(inc)) => assert!(inc.changes.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn finish_merges_carried_findings_and_fills_the_stats() {
        let ex = example();
        let text = git_diff("app.py", &ex.base, &ex.head2);
        let diff = crate::diff::parse(&text).unwrap();
        let inc = increment(&ex);
        let carried = inc.carry_forward(&previous_review(&ex), &diff);
        let mut review = Review {
            ai_reviewed: true,
            ai_summary: Some("Adds an import.".into()),
            // The model said the same thing again about the eval, in other words.
            findings: vec![finding_at(12, "eval is dangerous")],
            ..Review::default()
        };
        let scope = Scope::Incremental(inc);
        assert!(finish(&mut review, &scope, carried, &diff, 30, 1));
        let titles: Vec<&str> = review.findings.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(titles, vec!["naming", "eval on input"], "by line");
        assert!(review.findings.iter().all(|f| f.anchored));
        let stats = review.stats.incremental.as_ref().unwrap();
        assert_eq!((stats.files, stats.carried_forward), (1, 2));
        assert!(review.ai_summary.unwrap().contains("since the last review"));

        let mut full = Review::default();
        let scope = Scope::Full {
            reason: Some("why".into()),
        };
        assert!(!finish(&mut full, &scope, Vec::new(), &diff, 30, 1));
        assert_eq!(full.stats.full_review_reason.as_deref(), Some("why"));
        assert!(full.stats.incremental.is_none());
    }
}
