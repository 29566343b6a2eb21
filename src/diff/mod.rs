//! The diff model: a parsed unified diff and the questions later stages ask of it.
//!
//! `parse` turns any diff shape users feed Nectr (GitHub's PR `.diff`, `git diff` with or
//! without `-M`, `git format-patch` series, plain `diff -u`) into a [`Diff`];
//! `parse_file_patch` does the same for one of GitHub's per-file `patch` fields (hunks only).
//!
//! The questions a [`FileDiff`] answers — which lines are commentable on which side, which
//! hunk a line belongs to, and GitHub's legacy `position` — are the ground truth for
//! anchoring: a comment GitHub would reject with 422 is exactly one these methods refuse.
//!
//! Architecture invariant: this module does no I/O and knows nothing about findings,
//! GitHub or the CLI. Line contents borrow from the input text; nothing is copied per line.

mod parse;

pub use parse::{DiffError, parse, parse_file_patch};

use serde::{Deserialize, Serialize};

/// Which version of a file a line number refers to, in GitHub's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// The old version (removed and context lines).
    Left,
    /// The new version (added and context lines).
    Right,
}

/// A whole diff: the files it touches, in input order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff<'a> {
    pub files: Vec<FileDiff<'a>>,
    /// The commits of a `git format-patch` series, in order; empty for a plain diff.
    /// [`FileDiff::commit`] indexes into this.
    pub commits: Vec<Commit>,
}

/// One commit of a `git format-patch` series (from its mail headers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    pub sha: Option<String>,
    pub author: Option<String>,
    /// The `Subject:` header without its `[PATCH n/m]` prefix.
    pub subject: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Added,
    Deleted,
    Modified,
    Renamed,
    Copied,
}

/// The changes to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDiff<'a> {
    /// Path before the change, without the `a/` prefix; `None` for an added file.
    pub old_path: Option<String>,
    /// Path after the change, without the `b/` prefix; `None` for a deleted file.
    pub new_path: Option<String>,
    pub status: FileStatus,
    /// File modes as git writes them (`100644`, `100755`, `120000`), when the diff says.
    pub old_mode: Option<String>,
    pub new_mode: Option<String>,
    /// `similarity index N%` of a rename or copy.
    pub similarity: Option<u8>,
    /// `Binary files … differ` or a `GIT binary patch`: there are no hunks to comment on.
    pub binary: bool,
    pub hunks: Vec<Hunk<'a>>,
    /// Index into [`Diff::commits`] for a format-patch series.
    pub commit: Option<usize>,
}

/// One `@@ -a,b +c,d @@ section` hunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk<'a> {
    pub old_start: u32,
    pub old_len: u32,
    pub new_start: u32,
    pub new_len: u32,
    /// Text after the closing `@@` (git's function context), trimmed; may be empty.
    pub section: &'a str,
    /// GitHub's legacy position of this hunk's header line: 0 for the first hunk of a file
    /// (positions count from the line below it), and counted like any line after that.
    pub header_position: u32,
    pub lines: Vec<HunkLine<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    Context,
    Added,
    Removed,
}

/// One line of a hunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HunkLine<'a> {
    pub kind: LineKind,
    /// Line number in the old file (context and removed lines).
    pub old_line: Option<u32>,
    /// Line number in the new file (context and added lines).
    pub new_line: Option<u32>,
    /// GitHub's legacy `position`: lines below the file's first `@@` header, counting later
    /// hunk headers and `\ No newline at end of file` markers too.
    pub position: u32,
    /// The text without its `+`/`-`/` ` marker and without the line ending (`\n` or `\r\n`).
    pub content: &'a str,
    /// Followed by `\ No newline at end of file`.
    pub no_newline_at_eof: bool,
}

impl<'a> FileDiff<'a> {
    /// The path findings refer to: the new path, or the old one for a deleted file.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or_default()
    }

    /// The index of the hunk that shows `line` of `side`, if any. Binary search: a file's
    /// hunks are sorted and disjoint on both sides (the parser guarantees it).
    pub fn hunk_index(&self, side: Side, line: u32) -> Option<usize> {
        let range = |h: &Hunk| match side {
            Side::Left => (h.old_start, h.old_len),
            Side::Right => (h.new_start, h.new_len),
        };
        let idx = self.hunks.partition_point(|h| {
            let (start, len) = range(h);
            start.saturating_add(len) <= line
        });
        let hunk = self.hunks.get(idx)?;
        let (start, len) = range(hunk);
        (len > 0 && start <= line && line < start + len).then_some(idx)
    }

    /// Can GitHub anchor a review comment on `line` of `side`? True exactly for the lines a
    /// hunk shows on that side: added and context lines on the right, removed and context
    /// lines on the left.
    pub fn is_commentable(&self, side: Side, line: u32) -> bool {
        self.hunk_index(side, line).is_some()
    }

    /// Can a multi-line comment span `start..=end` on `side`? Both ends must lie in the
    /// same hunk (GitHub rejects ranges that cross hunks).
    pub fn is_commentable_range(&self, side: Side, start: u32, end: u32) -> bool {
        start <= end
            && match self.hunk_index(side, start) {
                Some(i) => self.hunk_index(side, end) == Some(i),
                None => false,
            }
    }

    /// The diff line showing `line` of `side`.
    pub fn line(&self, side: Side, line: u32) -> Option<&HunkLine<'a>> {
        let hunk = &self.hunks[self.hunk_index(side, line)?];
        hunk.lines.iter().find(|l| match side {
            Side::Left => l.old_line == Some(line),
            Side::Right => l.new_line == Some(line),
        })
    }

    /// GitHub's legacy `position` of `line` on `side`.
    pub fn position(&self, side: Side, line: u32) -> Option<u32> {
        self.line(side, line).map(|l| l.position)
    }

    /// Added lines with their new-file line numbers.
    pub fn added_lines(&self) -> impl Iterator<Item = (u32, &'a str)> + '_ {
        self.hunks.iter().flat_map(|h| {
            h.lines.iter().filter_map(|l| match (l.kind, l.new_line) {
                (LineKind::Added, Some(n)) => Some((n, l.content)),
                _ => None,
            })
        })
    }

    pub fn additions(&self) -> usize {
        self.count(LineKind::Added)
    }

    pub fn deletions(&self) -> usize {
        self.count(LineKind::Removed)
    }

    fn count(&self, kind: LineKind) -> usize {
        self.hunks
            .iter()
            .map(|h| h.lines.iter().filter(|l| l.kind == kind).count())
            .sum()
    }
}

impl<'a> Diff<'a> {
    /// Added plus removed lines over all files.
    pub fn changed_lines(&self) -> usize {
        self.files
            .iter()
            .map(|f| f.additions() + f.deletions())
            .sum()
    }

    /// The last section of the diff touching `path` (a format-patch series may touch a
    /// file in several commits; the last one describes the final state).
    pub fn file(&self, path: &str) -> Option<&FileDiff<'a>> {
        self.files.iter().rev().find(|f| f.path() == path)
    }
}
