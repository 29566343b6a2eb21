//! The unified-diff parser behind [`parse`] and [`parse_file_patch`].
//!
//! One pass over the input, line by line (`memchr` finds the line ends); hunk lines borrow
//! their content from the input. The parser is strict where a lenient one would hand later
//! stages a wrong picture: a hunk whose body does not match its header's counts, hunks out
//! of order or overlapping, absurd numbers and hunks outside any file section are errors
//! naming the input line. Text between file sections that is not part of a diff (mail
//! headers, commit messages, diffstats, `diff -r` command lines, `Only in …`) is skipped.
//!
//! Shapes understood: `diff --git` sections (GitHub's `.diff`, `git diff` with or without
//! `-M`/`-C`, `--no-prefix`, `--src-prefix`/`--dst-prefix`), `git format-patch` mail
//! series (each `From <sha> …` line starts a [`Commit`]), and plain `diff -u`/`diff -ruN`
//! output (`--- old` / `+++ new` headers with optional timestamps).

use memchr::memchr;

use super::{Commit, Diff, FileDiff, FileStatus, Hunk, HunkLine, LineKind};

/// The input is not a diff, or a hunk is malformed. `line` is 1-based in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DiffError {
    pub line: usize,
    pub message: String,
}

impl DiffError {
    fn new(line: usize, message: impl Into<String>) -> Self {
        DiffError {
            line,
            message: message.into(),
        }
    }
}

/// Any hunk start or count above this is treated as corrupt input rather than a real file.
const MAX_NUMBER: u32 = 100_000_000;

const COMBINED: &str = "combined diffs of merge commits (`diff --cc`, `@@@` hunk headers) are not \
     supported: diff the merge against one parent instead (e.g. `git diff HEAD^1 HEAD`)";

/// Parses a whole diff: GitHub's PR `.diff`, `git diff` (with or without `-M`/`-C`,
/// `--no-prefix`, custom prefixes), a `git format-patch` series, or plain `diff -u`/`diff -ruN`
/// output. Empty or whitespace-only input is an empty diff.
pub fn parse(input: &str) -> Result<Diff<'_>, DiffError> {
    let mut p = Parser::new(strip_bom(input));
    let mut first_text: Option<(usize, &str)> = None;
    while let Some(line) = p.lines.peek() {
        let no = p.lines.next_number();
        let bytes = line.as_bytes();
        match bytes.first() {
            Some(b'd') if line.starts_with("diff --git ") => {
                p.git_section()?;
                continue;
            }
            Some(b'd')
                if line.starts_with("diff --cc ") || line.starts_with("diff --combined ") =>
            {
                return Err(DiffError::new(no, COMBINED));
            }
            Some(b'@') if line.starts_with("@@@") => return Err(DiffError::new(no, COMBINED)),
            Some(b'@') if line.starts_with("@@") => {
                let message = if p.files.is_empty() {
                    format!(
                        "found the hunk header {} before any file header: a hunk-only patch \
                         (like the `patch` field of GitHub's pull-request files API) needs a \
                         path; use `parse_file_patch(path, patch)` for it, or give the whole \
                         diff with its `diff --git`/`---`/`+++` headers",
                        show(line)
                    )
                } else {
                    format!(
                        "hunk header {} outside any file section: the previous file section \
                         ended before this line, and a hunk must follow a `diff --git` or \
                         `---`/`+++` file header or another hunk of the same file",
                        show(line)
                    )
                };
                return Err(DiffError::new(no, message));
            }
            Some(b'-')
                if line.starts_with("--- ")
                    && p.lines.peek_second().is_some_and(|l| l.starts_with("+++ ")) =>
            {
                p.plain_section()?;
                continue;
            }
            Some(b'B') => {
                if let Some(file) = plain_binary(line, p.current_commit()) {
                    p.files.push(file);
                    p.lines.next();
                    continue;
                }
            }
            Some(b'F') => {
                if let Some(sha) = mbox_from_line(line) {
                    p.lines.next();
                    p.mail_headers(sha);
                    p.skip_mail_body();
                    continue;
                }
            }
            _ => {}
        }
        if first_text.is_none() && !line.trim().is_empty() {
            first_text = Some((no, line));
        }
        p.lines.next();
    }
    if p.files.is_empty()
        && p.commits.is_empty()
        && let Some((no, line)) = first_text
    {
        return Err(DiffError::new(
            no,
            format!(
                "the input is not a unified diff: expected file sections (a `diff --git a/PATH \
                 b/PATH` line, or `--- OLD` and `+++ NEW` lines) followed by `@@ -a,b +c,d @@` \
                 hunks, but found no file section; the first text is {}",
                show(line)
            ),
        ));
    }
    Ok(Diff {
        files: p.files,
        commits: p.commits,
    })
}

/// Parses one of GitHub's per-file `patch` fields: hunks only, no file headers. An empty
/// patch (a binary file, a pure rename) gives a file with no hunks. The status is always
/// [`FileStatus::Modified`] and both paths are `path`: the patch alone cannot tell, and the
/// caller has the real status from the API.
pub fn parse_file_patch<'a>(path: &str, patch: &'a str) -> Result<FileDiff<'a>, DiffError> {
    let mut p = Parser::new(strip_bom(patch));
    let mut file = new_file(
        Some(path.to_owned()),
        Some(path.to_owned()),
        FileStatus::Modified,
        None,
    );
    p.skip_blank_lines();
    match p.lines.peek() {
        None => return Ok(file),
        Some(line) if line.starts_with("@@") => p.hunks(&mut file)?,
        Some(line) => {
            return Err(DiffError::new(
                p.lines.next_number(),
                format!(
                    "expected a hunk header `@@ -a,b +c,d @@` at the start of the patch for \
                     {path}, found {}{}",
                    show(line),
                    WHOLE_DIFF_HINT
                ),
            ));
        }
    }
    p.skip_blank_lines();
    if let Some(line) = p.lines.peek() {
        return Err(DiffError::new(
            p.lines.next_number(),
            format!(
                "expected another hunk header `@@ -a,b +c,d @@` or the end of the patch for \
                 {path}, found {}{}",
                show(line),
                WHOLE_DIFF_HINT
            ),
        ));
    }
    Ok(file)
}

/// A diff saved by a Windows editor may start with a byte-order mark.
fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

const WHOLE_DIFF_HINT: &str =
    " (a per-file patch holds hunks only; use `parse` for a whole diff with file headers)";

/// The input split into lines, with one line of look-ahead. Lines exclude their `\n` or
/// `\r\n` ending.
struct Lines<'a> {
    text: &'a str,
    /// Byte offset of the next unread line.
    pos: usize,
    /// How many lines have been read; the next line's 1-based number is one more.
    read: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text,
            pos: 0,
            read: 0,
        }
    }

    /// The line starting at byte `pos` and the offset just past its ending.
    #[inline]
    fn line_at(&self, pos: usize) -> Option<(&'a str, usize)> {
        let rest = self.text.as_bytes().get(pos..).filter(|r| !r.is_empty())?;
        let (end, next) = match memchr(b'\n', rest) {
            Some(i) => (pos + i, pos + i + 1),
            None => (self.text.len(), self.text.len()),
        };
        // `\n` is ASCII, so both ends are char boundaries.
        let line = &self.text[pos..end];
        Some((line.strip_suffix('\r').unwrap_or(line), next))
    }

    #[inline]
    fn peek(&self) -> Option<&'a str> {
        self.line_at(self.pos).map(|(line, _)| line)
    }

    fn peek_second(&self) -> Option<&'a str> {
        let (_, next) = self.line_at(self.pos)?;
        self.line_at(next).map(|(line, _)| line)
    }

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let (line, next) = self.line_at(self.pos)?;
        self.pos = next;
        self.read += 1;
        Some(line)
    }

    /// The 1-based number of the line [`Lines::peek`] shows.
    fn next_number(&self) -> usize {
        self.read + 1
    }

    /// Bytes not yet read: an upper bound on how many more lines there can be.
    fn remaining(&self) -> usize {
        self.text.len() - self.pos
    }
}

struct Parser<'a> {
    lines: Lines<'a>,
    files: Vec<FileDiff<'a>>,
    commits: Vec<Commit>,
}

/// A parsed `@@ -a,b +c,d @@ section` line.
struct HunkHeader<'a> {
    old_start: u32,
    old_len: u32,
    new_start: u32,
    new_len: u32,
    section: &'a str,
}

/// Which sides of a file have ended with `\ No newline at end of file`: no later line may
/// come from that side.
#[derive(Default)]
struct EofSeen {
    old: bool,
    new: bool,
}

fn new_file<'a>(
    old_path: Option<String>,
    new_path: Option<String>,
    status: FileStatus,
    commit: Option<usize>,
) -> FileDiff<'a> {
    FileDiff {
        old_path,
        new_path,
        status,
        old_mode: None,
        new_mode: None,
        similarity: None,
        binary: false,
        hunks: Vec::new(),
        commit,
    }
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            lines: Lines::new(text),
            files: Vec::new(),
            commits: Vec::new(),
        }
    }

    fn current_commit(&self) -> Option<usize> {
        self.commits.len().checked_sub(1)
    }

    fn skip_blank_lines(&mut self) {
        while self.lines.peek().is_some_and(|l| l.trim().is_empty()) {
            self.lines.next();
        }
    }

    /// A `diff --git` section: extended headers, then `---`/`+++` and hunks, a binary
    /// notice, or nothing (mode change, empty file, pure rename).
    fn git_section(&mut self) -> Result<(), DiffError> {
        let header_no = self.lines.next_number();
        let header = self.lines.next().unwrap_or_default();
        let names = split_git_header(&header["diff --git ".len()..])
            .map_err(|m| DiffError::new(header_no, m))?;

        let mut file = new_file(None, None, FileStatus::Modified, self.current_commit());
        let (mut added, mut deleted) = (false, false);
        let (mut from, mut to): (Option<String>, Option<String>) = (None, None);
        let (mut renamed, mut copied) = (false, false);
        // `Some(None)` is `/dev/null`.
        let (mut minus, mut plus): (Option<Option<String>>, Option<Option<String>>) = (None, None);
        let mut index_mode = None;

        while let Some(line) = self.lines.peek() {
            let no = self.lines.next_number();
            let path_value = |v: &str| {
                parse_path(v)
                    .map(|(p, _)| p)
                    .map_err(|m| DiffError::new(no, m))
            };
            if let Some(v) = line.strip_prefix("old mode ") {
                file.old_mode = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("new mode ") {
                file.new_mode = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("deleted file mode ") {
                file.old_mode = Some(v.trim().to_owned());
                deleted = true;
            } else if let Some(v) = line.strip_prefix("new file mode ") {
                file.new_mode = Some(v.trim().to_owned());
                added = true;
            } else if let Some(v) = line
                .strip_prefix("rename from ")
                .or_else(|| line.strip_prefix("rename old "))
            {
                from = Some(path_value(v)?);
                renamed = true;
            } else if let Some(v) = line
                .strip_prefix("rename to ")
                .or_else(|| line.strip_prefix("rename new "))
            {
                to = Some(path_value(v)?);
                renamed = true;
            } else if let Some(v) = line.strip_prefix("copy from ") {
                from = Some(path_value(v)?);
                copied = true;
            } else if let Some(v) = line.strip_prefix("copy to ") {
                to = Some(path_value(v)?);
                copied = true;
            } else if let Some(v) = line.strip_prefix("similarity index ") {
                let n = v
                    .trim()
                    .strip_suffix('%')
                    .and_then(|n| n.parse::<u8>().ok());
                match n {
                    Some(n) if n <= 100 => file.similarity = Some(n),
                    _ => {
                        return Err(DiffError::new(
                            no,
                            format!(
                                "expected `similarity index N%` with N ≤ 100, found {}",
                                show(line)
                            ),
                        ));
                    }
                }
            } else if line.starts_with("dissimilarity index ") {
                // Only with `-B`: a rewrite; nothing to keep.
            } else if let Some(v) = line.strip_prefix("index ") {
                // `index abc123..def456 100644`: the mode when it did not change.
                index_mode = v.split_once(' ').map(|(_, m)| m.trim().to_owned());
            } else if line.starts_with("Binary files ") && line.ends_with(" differ") {
                self.lines.next();
                file.binary = true;
                break;
            } else if line == "GIT binary patch" {
                self.lines.next();
                self.skip_binary_patch(no)?;
                file.binary = true;
                break;
            } else if let Some(v) = line.strip_prefix("--- ") {
                self.lines.next();
                minus = Some(dev_null_or_path(v).map_err(|m| DiffError::new(no, m))?);
                let plus_no = self.lines.next_number();
                let Some(v) = self.lines.peek().and_then(|l| l.strip_prefix("+++ ")) else {
                    return Err(DiffError::new(
                        plus_no,
                        format!(
                            "expected the `+++ NEW` line after the `--- OLD` line, found {}",
                            show_opt(self.lines.peek())
                        ),
                    ));
                };
                self.lines.next();
                plus = Some(dev_null_or_path(v).map_err(|m| DiffError::new(plus_no, m))?);
                match self.lines.peek() {
                    Some(l) if l.starts_with("@@") => {}
                    other => {
                        return Err(DiffError::new(
                            self.lines.next_number(),
                            format!(
                                "expected a hunk header `@@ -a,b +c,d @@` after the `+++` line, found {}",
                                show_opt(other)
                            ),
                        ));
                    }
                }
                self.hunks(&mut file)?;
                break;
            } else if line.starts_with("@@") {
                self.hunks(&mut file)?;
                break;
            } else {
                break;
            }
            self.lines.next();
        }

        if added && deleted {
            return Err(DiffError::new(
                header_no,
                "the file section says both `new file mode` and `deleted file mode`",
            ));
        }
        if matches!(minus, Some(None)) {
            added = true;
        }
        if matches!(plus, Some(None)) {
            deleted = true;
        }
        if added && deleted {
            return Err(DiffError::new(
                header_no,
                "the file section has `/dev/null` on both sides",
            ));
        }
        let strip_old = |p: String| match &names {
            Some(n) => strip_prefix_owned(p, &n.old_prefix),
            None => strip_prefix_owned(p, "a/"),
        };
        let strip_new = |p: String| match &names {
            Some(n) => strip_prefix_owned(p, &n.new_prefix),
            None => strip_prefix_owned(p, "b/"),
        };
        let old_path = from
            .or_else(|| minus.flatten().map(strip_old))
            .or_else(|| names.as_ref().map(|n| n.old.clone()));
        let new_path = to
            .or_else(|| plus.flatten().map(strip_new))
            .or_else(|| names.as_ref().map(|n| n.new.clone()));
        let (old_path, new_path) = match (old_path, new_path) {
            (Some(o), Some(n)) => (Some(o), Some(n)),
            (o, n) if (added && n.is_some()) || (deleted && o.is_some()) => (o, n),
            _ => {
                return Err(DiffError::new(
                    header_no,
                    format!(
                        "cannot tell the file name from {}: expected `diff --git a/PATH b/PATH` \
                         naming the same path twice, or `rename`/`copy`/`---`/`+++` lines",
                        show(header)
                    ),
                ));
            }
        };
        file.status = if added {
            FileStatus::Added
        } else if deleted {
            FileStatus::Deleted
        } else if copied {
            FileStatus::Copied
        } else if renamed {
            FileStatus::Renamed
        } else {
            FileStatus::Modified
        };
        file.old_path = if added { None } else { old_path };
        file.new_path = if deleted { None } else { new_path };
        if let Some(mode) = index_mode {
            if file.old_mode.is_none() && !added {
                file.old_mode = Some(mode.clone());
            }
            if file.new_mode.is_none() && !deleted {
                file.new_mode = Some(mode);
            }
        }
        self.files.push(file);
        Ok(())
    }

    /// A plain `--- OLD[\tTIME]` / `+++ NEW[\tTIME]` section (the look-ahead saw both).
    fn plain_section(&mut self) -> Result<(), DiffError> {
        let minus_no = self.lines.next_number();
        let minus = self.lines.next().unwrap_or_default();
        let plus = self.lines.next().unwrap_or_default();
        let (old, old_time) = parse_path(&minus[4..]).map_err(|m| DiffError::new(minus_no, m))?;
        let (new, new_time) =
            parse_path(&plus[4..]).map_err(|m| DiffError::new(minus_no + 1, m))?;
        match self.lines.peek() {
            Some(l) if l.starts_with("@@") => {}
            other => {
                return Err(DiffError::new(
                    self.lines.next_number(),
                    format!(
                        "expected a hunk header `@@ -a,b +c,d @@` after the `+++` line, found {}",
                        show_opt(other)
                    ),
                ));
            }
        }
        let mut file = new_file(None, None, FileStatus::Modified, self.current_commit());
        self.hunks(&mut file)?;
        let old = (old != "/dev/null").then_some(old);
        let new = (new != "/dev/null").then_some(new);
        // `diff -N` shows a missing file with the epoch as its time and empty hunk ranges.
        let added =
            old.is_none() || (is_epoch(old_time) && file.hunks.iter().all(|h| h.old_len == 0));
        let deleted =
            new.is_none() || (is_epoch(new_time) && file.hunks.iter().all(|h| h.new_len == 0));
        let (old, new) = strip_plain_prefixes(old, new);
        if added && deleted {
            return Err(DiffError::new(
                minus_no,
                "the file section has no file on either side",
            ));
        }
        file.status = if added {
            FileStatus::Added
        } else if deleted {
            FileStatus::Deleted
        } else {
            FileStatus::Modified
        };
        file.old_path = if added { None } else { old };
        file.new_path = if deleted { None } else { new };
        self.files.push(file);
        Ok(())
    }

    /// Skips the `literal N`/`delta N` blocks after `GIT binary patch` (a forward block and
    /// usually a reverse one), each a run of base85 lines ended by an empty line.
    fn skip_binary_patch(&mut self, start_no: usize) -> Result<(), DiffError> {
        for block in 0..2 {
            let kind_no = self.lines.next_number();
            let is_block_start = |l: &str| {
                l.strip_prefix("literal ")
                    .or_else(|| l.strip_prefix("delta "))
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            };
            match self.lines.peek() {
                Some(l) if is_block_start(l) => {}
                other if block == 0 => {
                    return Err(DiffError::new(
                        kind_no,
                        format!(
                            "expected `literal N` or `delta N` after `GIT binary patch` (line \
                             {start_no}), found {}",
                            show_opt(other)
                        ),
                    ));
                }
                _ => return Ok(()),
            }
            self.lines.next();
            loop {
                let no = self.lines.next_number();
                match self.lines.next() {
                    None | Some("") => break,
                    Some(l) if is_base85_line(l) => {}
                    Some(l) => {
                        return Err(DiffError::new(
                            no,
                            format!(
                                "malformed `GIT binary patch` data (started at line {start_no}): \
                                 expected a base85 line or an empty line, found {}",
                                show(l)
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The mail headers after an mbox `From <sha> …` line of a `git format-patch` series,
    /// up to the empty line that ends them. Starts a new [`Commit`].
    fn mail_headers(&mut self, sha: &str) {
        let mut author = None;
        let mut subject = None;
        let mut current: Option<(String, String)> = None;
        let mut finish = |header: Option<(String, String)>| {
            if let Some((name, value)) = header {
                if name.eq_ignore_ascii_case("from") {
                    author = Some(decode_rfc2047(value.trim()));
                } else if name.eq_ignore_ascii_case("subject") {
                    subject = Some(decode_rfc2047(value.trim()));
                }
            }
        };
        while let Some(line) = self.lines.peek() {
            if line.is_empty() {
                self.lines.next();
                break;
            }
            if line.starts_with([' ', '\t']) {
                // A folded header continues.
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':')
                && !name.is_empty()
                && !name.contains([' ', '\t'])
            {
                finish(current.take());
                current = Some((name.to_owned(), value.to_owned()));
            } else {
                break;
            }
            self.lines.next();
        }
        finish(current);
        self.commits.push(Commit {
            sha: Some(sha.to_owned()),
            author,
            subject: strip_patch_prefix(subject.as_deref().unwrap_or_default()).to_owned(),
        });
    }

    /// The commit message after a mail's headers, up to the `---` line that separates it
    /// from the diffstat and the diff, or up to the first file header or the next mail. It
    /// is prose, whatever its lines look like (`@@`, `- item`).
    fn skip_mail_body(&mut self) {
        while let Some(line) = self.lines.peek() {
            if line == "---" {
                self.lines.next();
                return;
            }
            let file_header = line.starts_with("diff --git ")
                || line.starts_with("diff --cc ")
                || line.starts_with("diff --combined ")
                || (line.starts_with("--- ")
                    && self
                        .lines
                        .peek_second()
                        .is_some_and(|l| l.starts_with("+++ ")));
            if file_header || mbox_from_line(line).is_some() {
                return;
            }
            self.lines.next();
        }
    }

    /// The hunks of one file, starting at the `@@` line [`Lines::peek`] shows. Stops
    /// before the first line that is not part of them.
    fn hunks(&mut self, file: &mut FileDiff<'a>) -> Result<(), DiffError> {
        let mut position: u32 = 0;
        let mut eof = EofSeen::default();
        let mut last_header = (0usize, "");
        while let Some(line) = self.lines.peek() {
            let no = self.lines.next_number();
            if line.starts_with("@@") {
                self.lines.next();
                let header = parse_hunk_header(line, no)?;
                let header_position = if file.hunks.is_empty() {
                    0
                } else {
                    position = bump(position, no)?;
                    position
                };
                if let Some(prev) = file.hunks.last() {
                    for (side, p, n) in [
                        (
                            "old",
                            (prev.old_start, prev.old_len),
                            (header.old_start, header.old_len),
                        ),
                        (
                            "new",
                            (prev.new_start, prev.new_len),
                            (header.new_start, header.new_len),
                        ),
                    ] {
                        if !in_order(p, n) {
                            return Err(DiffError::new(
                                no,
                                format!(
                                    "hunk {} is out of order with or overlaps the previous hunk \
                                     {} (line {}) on the {side} side: a file's hunks must be \
                                     sorted and disjoint",
                                    show(line),
                                    show(last_header.1),
                                    last_header.0
                                ),
                            ));
                        }
                    }
                }
                let lines = self.hunk_body(&header, line, no, &mut position, &mut eof)?;
                file.hunks.push(Hunk {
                    old_start: header.old_start,
                    old_len: header.old_len,
                    new_start: header.new_start,
                    new_len: header.new_len,
                    section: header.section,
                    header_position,
                    lines,
                });
                last_header = (no, line);
                continue;
            }
            if line.starts_with('\\') {
                return Err(DiffError::new(
                    no,
                    format!(
                        "a second `\\ No newline at end of file` marker after hunk {} (line {}): \
                         expected one right after the line it describes",
                        show(last_header.1),
                        last_header.0
                    ),
                ));
            }
            let surplus = match line.as_bytes().first() {
                Some(b'+' | b' ') => true,
                Some(b'-') => {
                    // Not a removed line: format-patch's `-- ` signature, or the next file's
                    // `--- `/`+++ ` header in plain `diff -u` output.
                    !(line == "-- "
                        || line == "--"
                        || (line.starts_with("--- ")
                            && self
                                .lines
                                .peek_second()
                                .is_some_and(|l| l.starts_with("+++ "))))
                }
                _ => false,
            };
            if surplus {
                return Err(DiffError::new(
                    no,
                    format!(
                        "hunk {} (line {}) has more lines than its header counts: after its \
                         last counted line expected a hunk header, a file header or the end of \
                         the file's section, found {}",
                        show(last_header.1),
                        last_header.0,
                        show(line)
                    ),
                ));
            }
            break;
        }
        Ok(())
    }

    /// The body of one hunk: exactly as many old-side and new-side lines as the header
    /// says, plus a `\ No newline at end of file` marker right after the last one.
    fn hunk_body(
        &mut self,
        header: &HunkHeader<'a>,
        header_line: &str,
        header_no: usize,
        position: &mut u32,
        eof: &mut EofSeen,
    ) -> Result<Vec<HunkLine<'a>>, DiffError> {
        let (mut old_left, mut new_left) = (header.old_len, header.new_len);
        let (mut old_no, mut new_no) = (header.old_start, header.new_start);
        // Every line takes at least one byte and a line ending: never reserve more than the
        // input can hold, whatever the header claims.
        let wanted = old_left as usize + new_left as usize;
        let mut lines: Vec<HunkLine<'a>> =
            Vec::with_capacity(wanted.min(self.lines.remaining() / 2 + 1));
        let ended_early = |no: usize, found: &str, old_left: u32, new_left: u32| {
            DiffError::new(
                no,
                format!(
                    "hunk {} (line {header_no}) ended early: expected {} more old-side and {} \
                     more new-side line(s) (` `, `-` or `+` lines), found {found}",
                    show(header_line),
                    old_left,
                    new_left
                ),
            )
        };
        while old_left > 0 || new_left > 0 {
            let no = self.lines.next_number();
            let Some(line) = self.lines.next() else {
                return Err(ended_early(no, "the end of the input", old_left, new_left));
            };
            let (kind, content) = match line.as_bytes().first() {
                Some(b' ') => (LineKind::Context, &line[1..]),
                Some(b'+') => (LineKind::Added, &line[1..]),
                Some(b'-') => (LineKind::Removed, &line[1..]),
                // A context line whose lone space was stripped as trailing whitespace.
                None => (LineKind::Context, ""),
                Some(b'\\') => {
                    *position = bump(*position, no)?;
                    mark_no_newline(&mut lines, no, eof)?;
                    continue;
                }
                Some(_) => {
                    return Err(ended_early(no, &show(line), old_left, new_left));
                }
            };
            let (uses_old, uses_new) = match kind {
                LineKind::Context => (true, true),
                LineKind::Removed => (true, false),
                LineKind::Added => (false, true),
            };
            if (uses_old && old_left == 0) || (uses_new && new_left == 0) {
                let (side, count) = if uses_old && old_left == 0 {
                    ("old", format!("-{},{}", header.old_start, header.old_len))
                } else {
                    ("new", format!("+{},{}", header.new_start, header.new_len))
                };
                return Err(DiffError::new(
                    no,
                    format!(
                        "hunk {} (line {header_no}) has more {side}-side lines than its header \
                         counts ({count}): found {} with {} more {} line(s) still expected",
                        show(header_line),
                        show(line),
                        if side == "old" { new_left } else { old_left },
                        if side == "old" {
                            "new-side"
                        } else {
                            "old-side"
                        },
                    ),
                ));
            }
            if (uses_old && eof.old) || (uses_new && eof.new) {
                return Err(DiffError::new(
                    no,
                    format!(
                        "{} follows a `\\ No newline at end of file` marker on the {} side: \
                         that line was the last of its file",
                        show(line),
                        if uses_old && eof.old { "old" } else { "new" }
                    ),
                ));
            }
            *position = bump(*position, no)?;
            let old_line = uses_old.then(|| {
                old_left -= 1;
                old_no += 1;
                old_no - 1
            });
            let new_line = uses_new.then(|| {
                new_left -= 1;
                new_no += 1;
                new_no - 1
            });
            lines.push(HunkLine {
                kind,
                old_line,
                new_line,
                position: *position,
                content,
                no_newline_at_eof: false,
            });
        }
        if lines.is_empty() {
            return Err(DiffError::new(
                header_no,
                format!("hunk header {} counts no lines at all", show(header_line)),
            ));
        }
        if self.lines.peek().is_some_and(|l| l.starts_with('\\')) {
            let no = self.lines.next_number();
            self.lines.next();
            *position = bump(*position, no)?;
            mark_no_newline(&mut lines, no, eof)?;
        }
        Ok(lines)
    }
}

/// `Binary files OLD and NEW differ` outside a `diff --git` section (`diff -r` output):
/// a binary file. `None` when the line names no two files (then it is just text).
fn plain_binary<'a>(line: &str, commit: Option<usize>) -> Option<FileDiff<'a>> {
    // In `Binary files differ` the prefix and the suffix share the middle space: strip
    // them one after the other.
    let names = line
        .strip_prefix("Binary files ")
        .and_then(|rest| rest.strip_suffix(" differ"))
        .unwrap_or_default();
    // Where two names with ` and ` in them split is a guess: try a few places.
    let candidates: Vec<(usize, usize)> = names
        .match_indices(" and ")
        .take(16)
        .map(|(i, s)| (i, i + s.len()))
        .collect();
    let pick = candidates
        .iter()
        .find(|&&(a, b)| {
            let (o, n) =
                strip_plain_prefixes(Some(names[..a].to_owned()), Some(names[b..].to_owned()));
            o == n
        })
        .or(candidates.first());
    let &(a, b) = pick?;
    let old = (&names[..a] != "/dev/null").then(|| names[..a].to_owned());
    let new = (&names[b..] != "/dev/null").then(|| names[b..].to_owned());
    let status = match (&old, &new) {
        (None, None) => return None,
        (None, _) => FileStatus::Added,
        (_, None) => FileStatus::Deleted,
        _ => FileStatus::Modified,
    };
    let (old, new) = strip_plain_prefixes(old, new);
    let mut file = new_file(old, new, status, commit);
    file.binary = true;
    Some(file)
}

/// The next legacy position, refusing to wrap.
fn bump(position: u32, no: usize) -> Result<u32, DiffError> {
    position
        .checked_add(1)
        .ok_or_else(|| DiffError::new(no, "a file's diff has more than 4294967295 lines"))
}

/// Applies a `\ No newline at end of file` marker to the line before it.
fn mark_no_newline(
    lines: &mut [HunkLine<'_>],
    no: usize,
    eof: &mut EofSeen,
) -> Result<(), DiffError> {
    match lines.last_mut() {
        Some(last) if !last.no_newline_at_eof => {
            last.no_newline_at_eof = true;
            match last.kind {
                LineKind::Context => (eof.old, eof.new) = (true, true),
                LineKind::Removed => eof.old = true,
                LineKind::Added => eof.new = true,
            }
            Ok(())
        }
        Some(_) => Err(DiffError::new(
            no,
            "a second `\\ No newline at end of file` marker in a row: expected one after a \
             hunk line",
        )),
        None => Err(DiffError::new(
            no,
            "a `\\ No newline at end of file` marker before any line of the hunk: expected it \
             after the line it describes",
        )),
    }
}

/// Is hunk range `next` after `prev` on one side, without overlap? A range of lines
/// `start..start+len` ends before the next range starts; a range of zero lines at `start`
/// is the gap after line `start`, so the next range must start after that line. A gap right
/// after a range of lines (which any diff tool would fold into that range) is refused too:
/// it would break the ordering `FileDiff::hunk_index` searches by (`start + len` never
/// decreasing).
fn in_order((prev_start, prev_len): (u32, u32), (next_start, _): (u32, u32)) -> bool {
    if prev_len == 0 {
        next_start > prev_start
    } else {
        u64::from(next_start) >= u64::from(prev_start) + u64::from(prev_len)
    }
}

fn parse_hunk_header(line: &str, no: usize) -> Result<HunkHeader<'_>, DiffError> {
    if line.starts_with("@@@") {
        return Err(DiffError::new(no, COMBINED));
    }
    let malformed = || {
        DiffError::new(
            no,
            format!(
                "malformed hunk header: expected `@@ -OLD[,COUNT] +NEW[,COUNT] @@`, found {}",
                show(line)
            ),
        )
    };
    let rest = line.strip_prefix("@@ -").ok_or_else(malformed)?;
    let (old_start, old_len, rest) = parse_range(rest).ok_or_else(malformed)?;
    let rest = rest.strip_prefix(" +").ok_or_else(malformed)?;
    let (new_start, new_len, rest) = parse_range(rest).ok_or_else(malformed)?;
    let section = rest.strip_prefix(" @@").ok_or_else(malformed)?.trim();
    let mut numbers = [0u32; 4];
    for (slot, (value, what)) in numbers.iter_mut().zip([
        (old_start, "old start"),
        (old_len, "old count"),
        (new_start, "new start"),
        (new_len, "new count"),
    ]) {
        *slot = u32::try_from(value)
            .ok()
            .filter(|&v| v <= MAX_NUMBER)
            .ok_or_else(|| {
                DiffError::new(
                    no,
                    format!(
                        "absurd {what} {value} in hunk header {}: expected at most {MAX_NUMBER}",
                        show(line)
                    ),
                )
            })?;
    }
    let [old_start, old_len, new_start, new_len] = numbers;
    for (side, start, len) in [("old", old_start, old_len), ("new", new_start, new_len)] {
        if start == 0 && len != 0 {
            return Err(DiffError::new(
                no,
                format!(
                    "hunk header {} starts the {side} side at line 0 with {len} line(s): \
                     expected line numbers from 1 (start 0 only with count 0)",
                    show(line)
                ),
            ));
        }
        if start.checked_add(len).is_none() {
            return Err(DiffError::new(
                no,
                format!("hunk header {}: {side} start + count overflows", show(line)),
            ));
        }
    }
    Ok(HunkHeader {
        old_start,
        old_len,
        new_start,
        new_len,
        section,
    })
}

/// `START[,COUNT]` (a missing count is 1) and the rest of the text. Numbers saturate, so
/// an absurd one is reported as such rather than as malformed.
fn parse_range(s: &str) -> Option<(u64, u64, &str)> {
    let (start, rest) = parse_number(s)?;
    match rest.strip_prefix(',') {
        Some(rest) => {
            let (len, rest) = parse_number(rest)?;
            Some((start, len, rest))
        }
        None => Some((start, 1, rest)),
    }
}

fn parse_number(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let value = s.as_bytes()[..digits].iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some((value, &s[digits..]))
}

/// One line of a `GIT binary patch` block: a length character (`A`–`Z` for 1–26 bytes,
/// `a`–`z` for 27–52) and five base85 characters per four bytes.
fn is_base85_line(line: &str) -> bool {
    let bytes = line.as_bytes();
    let n = match bytes.first() {
        Some(&c @ b'A'..=b'Z') => usize::from(c - b'A') + 1,
        Some(&c @ b'a'..=b'z') => usize::from(c - b'a') + 27,
        _ => return false,
    };
    bytes.len() == 1 + n.div_ceil(4) * 5
        && bytes[1..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&()*+-;<=>?@^_`{|}~".contains(&b))
}

/// The sha of an mbox `From <sha> Mon Sep 17 00:00:00 2001` line.
fn mbox_from_line(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("From ")?;
    let (sha, _) = rest.split_once(' ')?;
    (sha.len() >= 7 && sha.len() <= 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then_some(sha)
}

/// `[PATCH]`, `[PATCH v2 3/7]`, `[RFC PATCH]` … removed from the front of a subject.
fn strip_patch_prefix(mut subject: &str) -> &str {
    subject = subject.trim();
    while subject.starts_with('[') {
        match subject.find(']') {
            Some(end) if subject[1..end].to_ascii_uppercase().contains("PATCH") => {
                subject = subject[end + 1..].trim_start();
            }
            _ => break,
        }
    }
    subject
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?q?Ren=C3=A9?=`), as git writes non-ASCII mail
/// headers. Whitespace between two encoded words is dropped; anything malformed stays as
/// it is.
fn decode_rfc2047(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        match decode_encoded_word(&rest[start..]) {
            Some((text, used)) => {
                if !(after_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &rest[start + used..];
                after_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                after_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One `=?charset?Q|B?text?=` word at the start of `s`: its text and the bytes it used.
fn decode_encoded_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    // An encoded word is short (RFC 2047: at most 75 characters); looking further would
    // make a long header of `=?` quadratic.
    let end = inner
        .as_bytes()
        .windows(2)
        .take(256)
        .position(|w| w == b"?=")?;
    let text = &inner[..end];
    if text.contains([' ', '\t']) || charset.is_empty() {
        return None;
    }
    let used = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let bytes = if encoding.eq_ignore_ascii_case("q") {
        let mut bytes = Vec::with_capacity(text.len());
        let mut it = text.bytes();
        while let Some(b) = it.next() {
            match b {
                b'_' => bytes.push(b' '),
                b'=' => {
                    let hex = [it.next()?, it.next()?];
                    bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
                }
                b => bytes.push(b),
            }
        }
        bytes
    } else if encoding.eq_ignore_ascii_case("b") {
        decode_base64(text)?
    } else {
        return None;
    };
    let charset = charset.split('*').next().unwrap_or_default();
    let text =
        if charset.eq_ignore_ascii_case("iso-8859-1") || charset.eq_ignore_ascii_case("latin1") {
            bytes.iter().map(|&b| char::from(b)).collect()
        } else {
            String::from_utf8_lossy(&bytes).into_owned()
        };
    Some((text, used))
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes().take_while(|&b| b != b'=') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The two names of a `diff --git` line, prefixes removed.
struct HeaderNames {
    old: String,
    new: String,
    old_prefix: String,
    new_prefix: String,
}

/// Splits the text after `diff --git `. Unquoted names may contain spaces, so, as git does,
/// the split is where both halves name the same path: with `a/` and `b/` prefixes, with no
/// prefixes (`--no-prefix`), or with any one-directory prefixes (`--src-prefix`). `Ok(None)`
/// when the names differ and cannot be told apart (a rename of a path with spaces: the
/// `rename from`/`rename to` lines name the paths then).
fn split_git_header(rest: &str) -> Result<Option<HeaderNames>, String> {
    let bad_quote = |m: String| format!("in the `diff --git` line: {m}");
    if rest.starts_with('"') {
        let (old, used) = unquote(rest).map_err(bad_quote)?;
        let second = rest[used..].strip_prefix(' ').ok_or_else(|| {
            "in the `diff --git` line: expected a space after the first quoted name".to_owned()
        })?;
        let new = if second.starts_with('"') {
            let (new, used) = unquote(second).map_err(bad_quote)?;
            if !second[used..].trim().is_empty() {
                return Err(
                    "in the `diff --git` line: unexpected text after the second name".into(),
                );
            }
            new
        } else {
            second.to_owned()
        };
        return Ok(Some(pair_prefixes(old, new)));
    }
    if rest.ends_with('"') {
        // An unquoted first name and a quoted second one.
        for (i, _) in rest.match_indices(" \"") {
            if let Ok((new, used)) = unquote(&rest[i + 1..])
                && i + 1 + used == rest.len()
            {
                return Ok(Some(pair_prefixes(rest[..i].to_owned(), new)));
            }
        }
    }
    let bytes = rest.as_bytes();
    let len = rest.len();
    // `a/P b/P`
    if len >= 5 && (len - 5).is_multiple_of(2) && rest.starts_with("a/") {
        let p = (len - 5) / 2;
        if rest.is_char_boundary(2 + p)
            && rest[2 + p..].starts_with(" b/")
            && rest[2..2 + p] == rest[5 + p..]
        {
            let path = rest[2..2 + p].to_owned();
            return Ok(Some(HeaderNames {
                old: path.clone(),
                new: path,
                old_prefix: "a/".into(),
                new_prefix: "b/".into(),
            }));
        }
    }
    // `P P`
    if len % 2 == 1 {
        let p = len / 2;
        if bytes[p] == b' ' && rest[..p] == rest[p + 1..] {
            let path = rest[..p].to_owned();
            return Ok(Some(HeaderNames {
                old: path.clone(),
                new: path,
                old_prefix: String::new(),
                new_prefix: String::new(),
            }));
        }
    }
    // `X/P Y/P` for one-directory prefixes X/ and Y/ (bounded work on long lines).
    if let Some(slash) = rest.find('/') {
        for (i, _) in rest.match_indices(' ').take(256) {
            if i <= slash {
                continue;
            }
            let (old, new) = (&rest[..i], &rest[i + 1..]);
            let Some(new_slash) = new.find('/') else {
                break;
            };
            if old[slash + 1..] == new[new_slash + 1..] && !old[slash + 1..].is_empty() {
                return Ok(Some(HeaderNames {
                    old: old[slash + 1..].to_owned(),
                    new: new[new_slash + 1..].to_owned(),
                    old_prefix: old[..=slash].to_owned(),
                    new_prefix: new[..=new_slash].to_owned(),
                }));
            }
        }
    }
    // Different names (a rename): unambiguous only with a single space.
    let mut spaces = rest.match_indices(' ');
    if let (Some((i, _)), None) = (spaces.next(), spaces.next()) {
        return Ok(Some(pair_prefixes(
            rest[..i].to_owned(),
            rest[i + 1..].to_owned(),
        )));
    }
    Ok(None)
}

/// Two explicit `diff --git` names: strip `a/`/`b/` when both have them, one-directory
/// prefixes when the rest agrees, nothing otherwise.
fn pair_prefixes(old: String, new: String) -> HeaderNames {
    let cut = |old: String, new: String, i: usize, j: usize| HeaderNames {
        old_prefix: old[..i].to_owned(),
        new_prefix: new[..j].to_owned(),
        old: old[i..].to_owned(),
        new: new[j..].to_owned(),
    };
    if old.starts_with("a/") && new.starts_with("b/") {
        return cut(old, new, 2, 2);
    }
    if old != new
        && let (Some(i), Some(j)) = (old.find('/'), new.find('/'))
        && old[i + 1..] == new[j + 1..]
        && i + 1 < old.len()
    {
        return cut(old, new, i + 1, j + 1);
    }
    HeaderNames {
        old,
        new,
        old_prefix: String::new(),
        new_prefix: String::new(),
    }
}

fn strip_prefix_owned(path: String, prefix: &str) -> String {
    match path.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() => rest.to_owned(),
        _ => path,
    }
}

/// Names from plain `---`/`+++` lines: `a/`/`b/` stripped when present, a differing
/// first directory stripped when the rest agrees (`diff -ruN old/x new/x` names `x`).
fn strip_plain_prefixes(
    old: Option<String>,
    new: Option<String>,
) -> (Option<String>, Option<String>) {
    match (old, new) {
        (Some(o), Some(n)) => {
            if o.starts_with("a/") && n.starts_with("b/") {
                return (Some(o[2..].to_owned()), Some(n[2..].to_owned()));
            }
            if let (Some((oc, or)), Some((nc, nr))) = (o.split_once('/'), n.split_once('/'))
                && oc != nc
                && or == nr
                && !or.is_empty()
            {
                let rest = or.to_owned();
                return (Some(rest.clone()), Some(rest));
            }
            (Some(o), Some(n))
        }
        (o, n) => (
            o.map(|o| strip_prefix_owned(o, "a/")),
            n.map(|n| strip_prefix_owned(n, "b/")),
        ),
    }
}

/// A name on a `---`/`+++` line: `None` for `/dev/null`.
fn dev_null_or_path(value: &str) -> Result<Option<String>, String> {
    let (path, _) = parse_path(value)?;
    Ok((path != "/dev/null").then_some(path))
}

/// A path as git and diff write it: C-quoted, or raw up to a TAB (which precedes a
/// timestamp, or ends a name with spaces). Returns the path and the text after the TAB.
fn parse_path(value: &str) -> Result<(String, &str), String> {
    if value.starts_with('"') {
        let (path, used) = unquote(value)?;
        let rest = &value[used..];
        return Ok((path, rest.strip_prefix('\t').unwrap_or(rest)));
    }
    match value.split_once('\t') {
        Some((path, rest)) => Ok((path.to_owned(), rest)),
        None => Ok((value.to_owned(), "")),
    }
}

/// A C-quoted string at the start of `s` (`"a/caf\303\251 x"`): the decoded text (UTF-8,
/// invalid sequences replaced) and the bytes used, quotes included.
fn unquote(s: &str) -> Result<(String, usize), String> {
    let bytes = s.as_bytes();
    debug_assert_eq!(bytes.first(), Some(&b'"'));
    let mut out = Vec::with_capacity(s.len());
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Ok((String::from_utf8_lossy(&out).into_owned(), i + 1)),
            b'\\' => {
                let Some(&e) = bytes.get(i + 1) else { break };
                i += 2;
                let byte = match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'a' => 0x07,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'v' => 0x0b,
                    b'\\' => b'\\',
                    b'"' => b'"',
                    b'0'..=b'3' => {
                        let digits = bytes
                            .get(i..i + 2)
                            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
                        let Some(d) = digits else {
                            return Err(format!("bad octal escape in quoted path {}", show(s)));
                        };
                        i += 2;
                        ((e - b'0') << 6) | ((d[0] - b'0') << 3) | (d[1] - b'0')
                    }
                    _ => {
                        return Err(format!(
                            "unknown escape `\\{}` in quoted path {}",
                            char::from(e),
                            show(s)
                        ));
                    }
                };
                out.push(byte);
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Err(format!("unterminated quoted path {}", show(s)))
}

/// The timestamp `diff -N` gives a missing file: the epoch, in any time zone.
fn is_epoch(time: &str) -> bool {
    let t = time.trim();
    t.starts_with("1970-01-01 ")
        || t.starts_with("1969-12-31 ")
        || (t.contains("1970") && t.contains("Jan  1 "))
        || (t.contains("1969") && t.contains("Dec 31 "))
}

/// A line for an error message: backquoted, shortened to 80 characters.
fn show(line: &str) -> String {
    if line.is_empty() {
        return "an empty line".to_owned();
    }
    match line.char_indices().nth(80) {
        Some((i, _)) => format!("`{}…`", &line[..i]),
        None => format!("`{line}`"),
    }
}

fn show_opt(line: Option<&str>) -> String {
    line.map_or_else(|| "the end of the input".to_owned(), show)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::Side;

    /// `(marker, old_line, new_line, position, content)`
    type Row<'a> = (char, Option<u32>, Option<u32>, u32, &'a str);

    /// Every line of a file as a [`Row`].
    fn rows<'a>(file: &FileDiff<'a>) -> Vec<Row<'a>> {
        file.hunks
            .iter()
            .flat_map(|h| h.lines.iter())
            .map(|l| {
                let c = match l.kind {
                    LineKind::Context => ' ',
                    LineKind::Added => '+',
                    LineKind::Removed => '-',
                };
                (c, l.old_line, l.new_line, l.position, l.content)
            })
            .collect()
    }

    fn err(input: &str) -> DiffError {
        match parse(input) {
            Ok(d) => panic!("expected an error, parsed {d:#?}"),
            Err(e) => e,
        }
    }

    fn paths<'f>(file: &'f FileDiff<'_>) -> (Option<&'f str>, Option<&'f str>) {
        (file.old_path.as_deref(), file.new_path.as_deref())
    }

    const MODIFY: &str = "\
diff --git a/src/lib.rs b/src/lib.rs
index 83db48f..bf269f4 100644
--- a/src/lib.rs
+++ b/src/lib.rs
@@ -1,4 +1,5 @@ mod a;
 line1
-line2
+line2 changed
+inserted
 line3
 line4
@@ -10,3 +11,2 @@ fn tail() {
 ten
-eleven
 twelve
";

    #[test]
    fn empty_and_blank_input_is_an_empty_diff() {
        for input in ["", "\n", "  \n\t\n", "\r\n"] {
            assert_eq!(parse(input).unwrap(), Diff::default(), "{input:?}");
        }
    }

    #[test]
    fn modified_file_lines_numbers_and_positions() {
        let diff = parse(MODIFY).unwrap();
        assert_eq!(diff.files.len(), 1);
        assert!(diff.commits.is_empty());
        let f = &diff.files[0];
        assert_eq!(paths(f), (Some("src/lib.rs"), Some("src/lib.rs")));
        assert_eq!(f.status, FileStatus::Modified);
        assert_eq!(
            (f.old_mode.as_deref(), f.new_mode.as_deref()),
            (Some("100644"), Some("100644"))
        );
        assert_eq!((f.additions(), f.deletions()), (2, 2));
        assert_eq!(f.commit, None);
        assert!(!f.binary);
        assert_eq!(f.hunks.len(), 2);
        let (h0, h1) = (&f.hunks[0], &f.hunks[1]);
        assert_eq!(
            (h0.old_start, h0.old_len, h0.new_start, h0.new_len),
            (1, 4, 1, 5)
        );
        assert_eq!(
            (h1.old_start, h1.old_len, h1.new_start, h1.new_len),
            (10, 3, 11, 2)
        );
        assert_eq!((h0.section, h1.section), ("mod a;", "fn tail() {"));
        assert_eq!((h0.header_position, h1.header_position), (0, 7));
        assert_eq!(
            rows(f),
            vec![
                (' ', Some(1), Some(1), 1, "line1"),
                ('-', Some(2), None, 2, "line2"),
                ('+', None, Some(2), 3, "line2 changed"),
                ('+', None, Some(3), 4, "inserted"),
                (' ', Some(3), Some(4), 5, "line3"),
                (' ', Some(4), Some(5), 6, "line4"),
                (' ', Some(10), Some(11), 8, "ten"),
                ('-', Some(11), None, 9, "eleven"),
                (' ', Some(12), Some(12), 10, "twelve"),
            ]
        );
        // The query methods agree with the rows.
        assert!(f.is_commentable(Side::Right, 3));
        assert!(!f.is_commentable(Side::Right, 6));
        assert!(f.is_commentable(Side::Left, 11));
        assert!(!f.is_commentable(Side::Left, 9));
        assert!(f.is_commentable_range(Side::Right, 1, 5));
        assert!(!f.is_commentable_range(Side::Right, 5, 11));
        assert_eq!(f.position(Side::Right, 11), Some(8));
        assert_eq!(f.position(Side::Left, 11), Some(9));
        assert_eq!(
            f.added_lines().collect::<Vec<_>>(),
            vec![(2, "line2 changed"), (3, "inserted")]
        );
        assert_eq!(diff.changed_lines(), 4);
        assert!(diff.file("src/lib.rs").is_some());
    }

    #[test]
    fn missing_counts_default_to_one_and_sections_may_be_empty() {
        let diff = parse("--- a/x\n+++ b/x\n@@ -3 +3 @@\n-old\n+new\n").unwrap();
        let h = &diff.files[0].hunks[0];
        assert_eq!(
            (h.old_start, h.old_len, h.new_start, h.new_len, h.section),
            (3, 1, 3, 1, "")
        );
        assert_eq!(
            rows(&diff.files[0]),
            vec![
                ('-', Some(3), None, 1, "old"),
                ('+', None, Some(3), 2, "new")
            ]
        );
    }

    #[test]
    fn no_newline_markers_count_toward_positions_not_counts() {
        let input = "\
diff --git a/t b/t
--- a/t
+++ b/t
@@ -1,2 +1,2 @@
 a
-b
\\ No newline at end of file
+c
\\ No newline at end of file
";
        let f = &parse(input).unwrap().files[0];
        assert_eq!(
            rows(f),
            vec![
                (' ', Some(1), Some(1), 1, "a"),
                ('-', Some(2), None, 2, "b"),
                ('+', None, Some(2), 4, "c")
            ]
        );
        let flags: Vec<bool> = f.hunks[0]
            .lines
            .iter()
            .map(|l| l.no_newline_at_eof)
            .collect();
        assert_eq!(flags, vec![false, true, true]);
    }

    #[test]
    fn no_newline_on_a_context_line_and_then_another_file() {
        let input = "\
diff --git a/t b/t
--- a/t
+++ b/t
@@ -1,2 +1,3 @@
+new
 a
 b
\\ No newline at end of file
diff --git a/u b/u
--- a/u
+++ b/u
@@ -1 +1 @@
-x
+y
";
        let diff = parse(input).unwrap();
        assert_eq!(diff.files.len(), 2);
        assert!(diff.files[0].hunks[0].lines[2].no_newline_at_eof);
        assert_eq!(diff.files[1].path(), "u");
        assert_eq!(rows(&diff.files[1])[0], ('-', Some(1), None, 1, "x"));
    }

    #[test]
    fn added_deleted_and_empty_files() {
        let input = "\
diff --git a/new.txt b/new.txt
new file mode 100755
index 0000000..3b18e51
--- /dev/null
+++ b/new.txt
@@ -0,0 +1,2 @@
+hello
+world
diff --git a/old.txt b/old.txt
deleted file mode 100644
index 3b18e51..0000000
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-hello
diff --git a/empty b/empty
new file mode 100644
index 0000000..e69de29
diff --git a/gone b/gone
deleted file mode 100644
index e69de29..0000000
";
        let diff = parse(input).unwrap();
        let f: Vec<_> = diff
            .files
            .iter()
            .map(|f| (paths(f), f.status, f.additions(), f.deletions()))
            .collect();
        assert_eq!(
            f,
            vec![
                ((None, Some("new.txt")), FileStatus::Added, 2, 0),
                ((Some("old.txt"), None), FileStatus::Deleted, 0, 1),
                ((None, Some("empty")), FileStatus::Added, 0, 0),
                ((Some("gone"), None), FileStatus::Deleted, 0, 0),
            ]
        );
        assert_eq!(diff.files[0].new_mode.as_deref(), Some("100755"));
        assert_eq!(diff.files[0].old_mode, None);
        assert_eq!(diff.files[1].old_mode.as_deref(), Some("100644"));
        assert_eq!(diff.files[1].new_mode, None);
        assert_eq!(diff.files[2].new_mode.as_deref(), Some("100644"));
        assert!(diff.files[2].hunks.is_empty());
        assert_eq!(rows(&diff.files[1]), vec![('-', Some(1), None, 1, "hello")]);
        assert_eq!(diff.files[0].path(), "new.txt");
        assert_eq!(diff.files[1].path(), "old.txt");
    }

    #[test]
    fn renames_and_copies() {
        let input = "\
diff --git a/old name.rs b/new name.rs
similarity index 100%
rename from old name.rs
rename to new name.rs
diff --git a/src/a.rs b/src/b.rs
similarity index 87%
rename from src/a.rs
rename to src/b.rs
index 1111111..2222222 100644
--- a/src/a.rs
+++ b/src/b.rs
@@ -1,2 +1,2 @@
 keep
-drop
+add
diff --git a/lib/x.c b/lib/y.c
similarity index 95%
copy from lib/x.c
copy to lib/y.c
index 1111111..3333333 100644
--- a/lib/x.c
+++ b/lib/y.c
@@ -5 +5 @@
-int x;
+int y;
diff --git a/z b/z2
similarity index 100%
copy from z
copy to z2
";
        let diff = parse(input).unwrap();
        let f: Vec<_> = diff
            .files
            .iter()
            .map(|f| (paths(f), f.status, f.similarity, f.hunks.len()))
            .collect();
        assert_eq!(
            f,
            vec![
                (
                    (Some("old name.rs"), Some("new name.rs")),
                    FileStatus::Renamed,
                    Some(100),
                    0
                ),
                (
                    (Some("src/a.rs"), Some("src/b.rs")),
                    FileStatus::Renamed,
                    Some(87),
                    1
                ),
                (
                    (Some("lib/x.c"), Some("lib/y.c")),
                    FileStatus::Copied,
                    Some(95),
                    1
                ),
                ((Some("z"), Some("z2")), FileStatus::Copied, Some(100), 0),
            ]
        );
        assert_eq!(
            rows(&diff.files[2]),
            vec![
                ('-', Some(5), None, 1, "int x;"),
                ('+', None, Some(5), 2, "int y;")
            ]
        );
    }

    #[test]
    fn mode_changes_with_and_without_content() {
        let input = "\
diff --git a/run.sh b/run.sh
old mode 100644
new mode 100755
diff --git a/tool b/tool
old mode 100755
new mode 100644
index 1111111..2222222
--- a/tool
+++ b/tool
@@ -1 +1 @@
-a
+b
";
        let diff = parse(input).unwrap();
        assert_eq!(diff.files.len(), 2);
        let f = &diff.files[0];
        assert_eq!(paths(f), (Some("run.sh"), Some("run.sh")));
        assert_eq!(f.status, FileStatus::Modified);
        assert_eq!(
            (f.old_mode.as_deref(), f.new_mode.as_deref()),
            (Some("100644"), Some("100755"))
        );
        assert!(f.hunks.is_empty());
        let g = &diff.files[1];
        assert_eq!(
            (g.old_mode.as_deref(), g.new_mode.as_deref()),
            (Some("100755"), Some("100644"))
        );
        assert_eq!((g.additions(), g.deletions()), (1, 1));
    }

    #[test]
    fn binary_files_are_flagged_and_skipped() {
        let input = "\
diff --git a/img.png b/img.png
index 1111111..2222222 100644
Binary files a/img.png and b/img.png differ
diff --git a/blob.bin b/blob.bin
new file mode 100644
index 0000000000000000000000000000000000000000..e5f4e2a3fb1c5b4b3f0b5c1e2e28f5e2b5d3d7b1
GIT binary patch
literal 12
TcmZQzWMXDvWn<?Q%E`$83<3ZE

literal 0
HcmV?d00001

diff --git a/blob2.bin b/blob2.bin
index e5f4e2a..b5f3a0c 100644
GIT binary patch
delta 21
ZcmZQzWMXDvWn<?Q%E`$8WMXDvWn<?Q5d4vj

delta 12
TcmZQzWMXDvWn<?Q%E`$83<3ZE

diff --git a/text b/text
--- a/text
+++ b/text
@@ -1 +1 @@
-x
+y
";
        let diff = parse(input).unwrap();
        let f: Vec<_> = diff
            .files
            .iter()
            .map(|f| (f.path(), f.status, f.binary, f.hunks.len()))
            .collect();
        assert_eq!(
            f,
            vec![
                ("img.png", FileStatus::Modified, true, 0),
                ("blob.bin", FileStatus::Added, true, 0),
                ("blob2.bin", FileStatus::Modified, true, 0),
                ("text", FileStatus::Modified, false, 1),
            ]
        );
    }

    #[test]
    fn malformed_binary_patch_is_an_error() {
        let input = "diff --git a/b b/b\nGIT binary patch\nliteral 12\nnot base85 at all\n\n";
        let e = err(input);
        assert_eq!(e.line, 4);
        assert!(e.message.contains("base85"), "{e}");
        let e = err("diff --git a/b b/b\nGIT binary patch\nsomething\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("literal N"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let diff = parse("\u{feff}diff --git a/x b/x\nold mode 100644\nnew mode 100755\n").unwrap();
        assert_eq!(diff.files[0].new_mode.as_deref(), Some("100755"));
        let f = parse_file_patch("x", "\u{feff}@@ -1 +1 @@\n-a\n+b\n").unwrap();
        assert_eq!(f.hunks.len(), 1);
    }

    #[test]
    fn crlf_line_endings_are_stripped() {
        let input = "diff --git a/w.txt b/w.txt\r\nindex 1..2 100644\r\n--- a/w.txt\r\n+++ b/w.txt\r\n@@ -1,2 +1,2 @@\r\n one\r\n-two\r\n+TWO\r\n\\ No newline at end of file\r\n";
        let f = &parse(input).unwrap().files[0];
        assert_eq!(f.path(), "w.txt");
        assert_eq!(f.new_mode.as_deref(), Some("100644"));
        assert_eq!(
            rows(f),
            vec![
                (' ', Some(1), Some(1), 1, "one"),
                ('-', Some(2), None, 2, "two"),
                ('+', None, Some(2), 3, "TWO")
            ]
        );
        assert!(f.hunks[0].lines[2].no_newline_at_eof);
    }

    #[test]
    fn quoted_paths_are_decoded() {
        let input = "\
diff --git \"a/caf\\303\\251 x.txt\" \"b/caf\\303\\251 x.txt\"
index 1..2 100644
--- \"a/caf\\303\\251 x.txt\"\t
+++ \"b/caf\\303\\251 x.txt\"\t
@@ -1 +1 @@
-x
+y
diff --git \"a/t\\tab\\nnl\\\"q\\\\b\" \"b/t\\tab\\nnl\\\"q\\\\b\"
new file mode 100644
index 0000000..e69de29
diff --git a/plain \"b/odd\\\"name\"
similarity index 100%
rename from plain
rename to \"odd\\\"name\"
diff --git \"a/\\346\\227\\245\\346\\234\\254.md\" \"b/\\346\\227\\245\\346\\234\\254.md\"
old mode 100644
new mode 100755
";
        let diff = parse(input).unwrap();
        let f: Vec<_> = diff.files.iter().map(|f| (paths(f), f.status)).collect();
        assert_eq!(
            f,
            vec![
                (
                    (Some("café x.txt"), Some("café x.txt")),
                    FileStatus::Modified
                ),
                ((None, Some("t\tab\nnl\"q\\b")), FileStatus::Added),
                ((Some("plain"), Some("odd\"name")), FileStatus::Renamed),
                ((Some("日本.md"), Some("日本.md")), FileStatus::Modified),
            ]
        );
    }

    #[test]
    fn bad_quoting_is_an_error() {
        let e = err("diff --git \"a/x \"b/x\"\n");
        assert_eq!(e.line, 1);
        let e = err("diff --git a/x b/x\n--- \"a/x\\q\"\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("unknown escape"), "{e}");
        let e = err("diff --git a/x b/x\nrename from \"x\\3\"\n");
        assert!(e.message.contains("octal"), "{e}");
    }

    #[test]
    fn paths_with_spaces_and_no_hunk_headers() {
        // git writes a TAB after a name with spaces on `---`/`+++`.
        let input = "\
diff --git a/my dir/a b.txt b/my dir/a b.txt
old mode 100644
new mode 100755
diff --git a/my dir/c d.txt b/my dir/c d.txt
index 1..2 100644
--- a/my dir/c d.txt\t
+++ b/my dir/c d.txt\t
@@ -1 +1 @@
-a
+b
diff --git a/x b/y b/x b/y
new file mode 100644
index 0000000..e69de29
";
        let diff = parse(input).unwrap();
        let f: Vec<_> = diff.files.iter().map(paths).collect();
        assert_eq!(
            f,
            vec![
                (Some("my dir/a b.txt"), Some("my dir/a b.txt")),
                (Some("my dir/c d.txt"), Some("my dir/c d.txt")),
                (None, Some("x b/y")),
            ]
        );
    }

    #[test]
    fn no_prefix_and_custom_prefixes() {
        let input = "\
diff --git src/main.rs src/main.rs
index 1..2 100644
--- src/main.rs
+++ src/main.rs
@@ -1 +1 @@
-a
+b
diff --git a/x a/x
old mode 100644
new mode 100755
diff --git old/lib/y.rs new/lib/y.rs
index 1..2 100644
--- old/lib/y.rs
+++ new/lib/y.rs
@@ -1 +1 @@
-a
+b
diff --git theirs/with space ours/with space
new file mode 100644
index 0000000..e69de29
diff --git src/a.rs src/b.rs
similarity index 100%
rename from src/a.rs
rename to src/b.rs
";
        let diff = parse(input).unwrap();
        let f: Vec<_> = diff.files.iter().map(|f| (paths(f), f.status)).collect();
        assert_eq!(
            f,
            vec![
                (
                    (Some("src/main.rs"), Some("src/main.rs")),
                    FileStatus::Modified
                ),
                ((Some("a/x"), Some("a/x")), FileStatus::Modified),
                ((Some("lib/y.rs"), Some("lib/y.rs")), FileStatus::Modified),
                ((None, Some("with space")), FileStatus::Added),
                ((Some("src/a.rs"), Some("src/b.rs")), FileStatus::Renamed),
            ]
        );
    }

    const SERIES: &str = "\
From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?Ren=C3=A9e=20=C3=9Cnicode?= <r@example.com>
Date: Sat, 28 Nov 2026 20:02:07 +0000
Subject: [PATCH 1/2] This is a very long subject line that goes on and on and
 on to see how git folds it

Body text.
- a bullet that looks like a removed line
+ and one like an added line
@@ even this
---
 src/a.rs | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/src/a.rs b/src/a.rs
index 1..2 100644
--- a/src/a.rs
+++ b/src/a.rs
@@ -1,2 +1,2 @@
 x
-y
+z
-- 
2.47.3


From 2222222222222222222222222222222222222222 Mon Sep 17 00:00:00 2001
From: A U Thor <a@example.com>
Date: Sat, 28 Nov 2026 20:02:08 +0000
Subject: [PATCH 2/2]
 =?UTF-8?q?=C3=9Cn=C3=AFc=C3=B6d=C3=A9=20subject=20wit?=
 =?UTF-8?q?h=20[brackets]?=
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

---
 src/a.rs | 1 +
 empty    | 0
 2 files changed, 1 insertion(+)

diff --git a/src/a.rs b/src/a.rs
index 2..3 100644
--- a/src/a.rs
+++ b/src/a.rs
@@ -2 +2,2 @@
 z
+w
diff --git a/empty b/empty
new file mode 100644
index 0000000..e69de29
-- 
2.47.3

";

    #[test]
    fn format_patch_series() {
        let diff = parse(SERIES).unwrap();
        assert_eq!(
            diff.commits,
            vec![
                Commit {
                    sha: Some("1".repeat(40)),
                    author: Some("Renée Ünicode <r@example.com>".into()),
                    subject: "This is a very long subject line that goes on and on and on to see how git folds it".into(),
                },
                Commit {
                    sha: Some("2".repeat(40)),
                    author: Some("A U Thor <a@example.com>".into()),
                    subject: "Ünïcödé subject with [brackets]".into(),
                },
            ]
        );
        let f: Vec<_> = diff
            .files
            .iter()
            .map(|f| (f.path(), f.commit, f.additions(), f.deletions()))
            .collect();
        assert_eq!(
            f,
            vec![
                ("src/a.rs", Some(0), 1, 1),
                ("src/a.rs", Some(1), 1, 0),
                ("empty", Some(1), 0, 0)
            ]
        );
        // The signature is not a removed line.
        assert_eq!(rows(&diff.files[0]).len(), 3);
        assert_eq!(
            rows(&diff.files[1]),
            vec![
                (' ', Some(2), Some(2), 1, "z"),
                ('+', None, Some(3), 2, "w")
            ]
        );
        // `file` answers with the last section touching a path.
        assert_eq!(diff.file("src/a.rs").unwrap().commit, Some(1));
    }

    #[test]
    fn patch_prefixes_and_encoded_words() {
        assert_eq!(strip_patch_prefix("[PATCH v2 03/10] fix it"), "fix it");
        assert_eq!(strip_patch_prefix("[RFC PATCH] [PATCH] x"), "x");
        assert_eq!(strip_patch_prefix("[bug] fix"), "[bug] fix");
        assert_eq!(decode_rfc2047("=?utf-8?b?UmVuw6ll?= <r@x>"), "Renée <r@x>");
        assert_eq!(decode_rfc2047("=?iso-8859-1?q?Ren=E9e?="), "Renée");
        assert_eq!(decode_rfc2047("a =?x?q?b?= =?x?q?c?= d"), "a bc d");
        assert_eq!(decode_rfc2047("=?broken"), "=?broken");
    }

    const PLAIN: &str = "\
Only in old: removed-dir
diff -ruN old/src/a.c new/src/a.c
--- old/src/a.c\t2024-01-02 03:04:05.000000000 +0100
+++ new/src/a.c\t2024-01-02 03:04:06.000000000 +0100
@@ -1,3 +1,3 @@
 int a;
-int b;
+int c;
 int d;
diff -ruN old/src/new.c new/src/new.c
--- old/src/new.c\t1970-01-01 01:00:00.000000000 +0100
+++ new/src/new.c\t2024-01-02 03:04:06.000000000 +0100
@@ -0,0 +1 @@
+fresh
diff -ruN old/src/gone.c new/src/gone.c
--- old/src/gone.c\t2024-01-02 03:04:05.000000000 +0100
+++ new/src/gone.c\t1970-01-01 00:00:00.000000000 +0000
@@ -1 +0,0 @@
-bye
Binary files old/logo.png and new/logo.png differ
Only in new: extra
--- x.c.orig\tThu Jan  4 10:00:00 2024
+++ x.c\tThu Jan  4 10:01:00 2024
@@ -1 +1 @@
-1
+2
";

    #[test]
    fn plain_diff_u_and_diff_ru_n() {
        let diff = parse(PLAIN).unwrap();
        let f: Vec<_> = diff
            .files
            .iter()
            .map(|f| (paths(f), f.status, f.binary, f.additions(), f.deletions()))
            .collect();
        assert_eq!(
            f,
            vec![
                (
                    (Some("src/a.c"), Some("src/a.c")),
                    FileStatus::Modified,
                    false,
                    1,
                    1
                ),
                ((None, Some("src/new.c")), FileStatus::Added, false, 1, 0),
                ((Some("src/gone.c"), None), FileStatus::Deleted, false, 0, 1),
                (
                    (Some("logo.png"), Some("logo.png")),
                    FileStatus::Modified,
                    true,
                    0,
                    0
                ),
                (
                    (Some("x.c.orig"), Some("x.c")),
                    FileStatus::Modified,
                    false,
                    1,
                    1
                ),
            ]
        );
        let plain = parse(
            "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-x\n+y\n--- /dev/null\n+++ b/g\n@@ -0,0 +1 @@\n+z\n",
        )
        .unwrap();
        let f: Vec<_> = plain.files.iter().map(|f| (paths(f), f.status)).collect();
        assert_eq!(
            f,
            vec![
                ((Some("f"), Some("f")), FileStatus::Modified),
                ((None, Some("g")), FileStatus::Added)
            ]
        );
    }

    #[test]
    fn binary_notices_without_two_names_are_text() {
        // Regression: `Binary files differ` once sliced past its own end.
        let e = err("Binary files differ\n");
        assert!(e.message.contains("not a unified diff"), "{e}");
        let e = err("Binary files /dev/null and /dev/null differ\n");
        assert!(e.message.contains("not a unified diff"), "{e}");
        let diff =
            parse("Binary files differ\nBinary files /dev/null and b/n.png differ\n").unwrap();
        let f = &diff.files[0];
        assert_eq!(
            (paths(f), f.status, f.binary),
            ((None, Some("n.png")), FileStatus::Added, true)
        );
    }

    #[test]
    fn empty_line_inside_a_hunk_is_context() {
        let input = "--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n";
        let f = &parse(input).unwrap().files[0];
        assert_eq!(
            rows(f),
            vec![
                (' ', Some(1), Some(1), 1, "a"),
                (' ', Some(2), Some(2), 2, ""),
                ('-', Some(3), None, 3, "b"),
                ('+', None, Some(3), 4, "c"),
            ]
        );
        // After the counts are met an empty line ends the file section.
        let diff = parse("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n\n\ntrailing words\n").unwrap();
        assert_eq!(diff.files[0].hunks[0].lines.len(), 2);
    }

    #[test]
    fn parse_file_patch_reads_hunks_only() {
        let f = parse_file_patch("src/x.rs", "").unwrap();
        assert_eq!(paths(&f), (Some("src/x.rs"), Some("src/x.rs")));
        assert_eq!(f.status, FileStatus::Modified);
        assert!(f.hunks.is_empty());
        // GitHub's patch field has no final newline.
        let patch = "@@ -1,2 +1,2 @@ fn a()\n x\n-y\n+z\n@@ -9 +9,2 @@\n n\n+m";
        let f = parse_file_patch("src/x.rs", patch).unwrap();
        assert_eq!(f.hunks[1].header_position, 4);
        assert_eq!(f.hunks[0].section, "fn a()");
        assert_eq!(
            rows(&f),
            vec![
                (' ', Some(1), Some(1), 1, "x"),
                ('-', Some(2), None, 2, "y"),
                ('+', None, Some(2), 3, "z"),
                (' ', Some(9), Some(9), 5, "n"),
                ('+', None, Some(10), 6, "m"),
            ]
        );
        assert_eq!(f.position(Side::Right, 10), Some(6));
        let f = parse_file_patch("p", "\n  \n").unwrap();
        assert!(f.hunks.is_empty());
    }

    #[test]
    fn parse_file_patch_errors() {
        let e = parse_file_patch("p", "diff --git a/p b/p\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("use `parse`"), "{e}");
        let e = parse_file_patch("p", "@@ -1 +1 @@\n-a\n+b\nextra\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("expected another hunk header"), "{e}");
        let e = parse_file_patch("p", "@@ -1,2 +1 @@\n-a\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("ended early"), "{e}");
        let e = parse_file_patch("p", "@@@ -1 -1 +1 @@@\n").unwrap_err();
        assert!(e.message.contains("combined"), "{e}");
    }

    #[test]
    fn short_hunks_are_errors() {
        // At the end of the input.
        let e = err("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n");
        assert_eq!(e.line, 7);
        assert!(e.message.contains("ended early"), "{e}");
        assert!(
            e.message.contains("1 more old-side and 1 more new-side"),
            "{e}"
        );
        assert!(e.message.contains("the end of the input"), "{e}");
        assert!(e.message.contains("(line 3)"), "{e}");
        // At the next file header.
        let e =
            err("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\ndiff --git a/g b/g\n");
        assert_eq!(e.line, 6);
        assert!(e.message.contains("found `diff --git a/g b/g`"), "{e}");
        // At the next hunk header.
        let e = err("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n@@ -5 +5 @@\n-x\n+y\n");
        assert_eq!(e.line, 5);
        // At a line that is no hunk line.
        let e = err("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\nhello\n");
        assert_eq!(e.line, 5);
        assert!(e.message.contains("`hello`"), "{e}");
    }

    #[test]
    fn long_hunks_are_errors() {
        // One side runs out while the other still expects lines.
        let e = err("--- a/f\n+++ b/f\n@@ -1,1 +1,2 @@\n-a\n-b\n+c\n");
        assert_eq!(e.line, 5);
        assert!(
            e.message
                .contains("more old-side lines than its header counts (-1,1)"),
            "{e}"
        );
        let e = err("--- a/f\n+++ b/f\n@@ -1,2 +1 @@\n a\n b\n");
        assert_eq!(e.line, 5);
        assert!(e.message.contains("more new-side lines"), "{e}");
        // Both sides are complete, and another hunk line follows.
        let e = err("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n+c\n");
        assert_eq!(e.line, 6);
        assert!(
            e.message.contains("more lines than its header counts"),
            "{e}"
        );
        let e = err("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n c\ndiff --git a/x b/x\n");
        assert_eq!(e.line, 6);
        let e = err("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n-c\n");
        assert_eq!(e.line, 6);
    }

    #[test]
    fn signature_and_next_plain_header_end_a_hunk() {
        let diff = parse("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n-- \n2.47.3\n").unwrap();
        assert_eq!(diff.files[0].hunks[0].lines.len(), 2);
        let diff =
            parse("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n--- a/g\n+++ b/g\n@@ -1 +1 @@\n-c\n+d\n")
                .unwrap();
        assert_eq!(diff.files.len(), 2);
        assert_eq!(diff.files[1].path(), "g");
    }

    #[test]
    fn malformed_hunk_headers() {
        for (header, what) in [
            ("@@ -1,2 +1,2", "malformed"),
            ("@@ -a +1 @@", "malformed"),
            ("@@ -1, +1 @@", "malformed"),
            ("@@ 1 +1 @@", "malformed"),
            ("@@ -1 1 @@", "malformed"),
            ("@@-1 +1 @@", "malformed"),
            ("@@ -100000001 +1 @@", "absurd old start 100000001"),
            ("@@ -1,100000001 +1 @@", "absurd old count"),
            ("@@ -1 +99999999999999999999999 @@", "absurd new start"),
            ("@@ -1 +1,4294967296 @@", "absurd new count 4294967296"),
            ("@@ -0,1 +1 @@", "old side at line 0"),
            ("@@ -1 +0,2 @@", "new side at line 0"),
            ("@@ -1,0 +1,0 @@", "no lines"),
        ] {
            let input = format!("diff --git a/f b/f\n--- a/f\n+++ b/f\n{header}\n-x\n+y\n");
            let e = err(&input);
            assert_eq!(e.line, 4, "{header}: {e}");
            assert!(e.message.contains(what), "{header}: {e}");
        }
        // The largest numbers allowed are fine.
        let f = &parse("--- a/f\n+++ b/f\n@@ -100000000 +100000000 @@\n-x\n+y\n")
            .unwrap()
            .files[0];
        assert_eq!(f.hunks[0].lines[0].old_line, Some(100_000_000));
    }

    #[test]
    fn hunks_out_of_order_or_overlapping() {
        let base = "--- a/f\n+++ b/f\n@@ -5,2 +5,2 @@\n a\n b\n";
        for (next, side) in [
            ("@@ -1 +10 @@\n x\n", "old"),
            ("@@ -6 +10 @@\n x\n", "old"),
            ("@@ -10 +6 @@\n x\n", "new"),
            ("@@ -10 +1 @@\n x\n", "new"),
            ("@@ -6,0 +10 @@\n+x\n", "old"),
        ] {
            let e = err(&format!("{base}{next}"));
            assert_eq!(e.line, 6, "{next}: {e}");
            assert!(
                e.message.contains(&format!("on the {side} side")),
                "{next}: {e}"
            );
            assert!(e.message.contains("(line 3)"), "{next}: {e}");
        }
        // Adjacent hunks and empty ranges in between are in order.
        let ok = format!("{base}@@ -8 +7,0 @@\n-c\n@@ -9,0 +9 @@\n+d\n@@ -10 +10 @@\n e\n");
        let f = &parse(&ok).unwrap().files[0];
        assert_eq!(f.hunks.len(), 4);
        assert_eq!(
            f.hunks
                .iter()
                .map(|h| h.header_position)
                .collect::<Vec<_>>(),
            vec![0, 3, 5, 7]
        );
        // Two insertions at the same point are not.
        let e = err(&format!("{base}@@ -9,0 +9 @@\n+d\n@@ -9,0 +11 @@\n+e\n"));
        assert_eq!(e.line, 8);
        assert!(e.message.contains("on the old side"), "{e}");
        // A gap right after a range, on either side.
        let e = err(&format!("{base}@@ -6,0 +8 @@\n+d\n"));
        assert_eq!(e.line, 6);
        let e = err(&format!("{base}@@ -8 +6,0 @@\n-d\n"));
        assert!(e.message.contains("on the new side"), "{e}");
    }

    #[test]
    fn hunks_outside_file_sections() {
        let e = err("@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("needs a path"), "{e}");
        assert!(e.message.contains("parse_file_patch"), "{e}");
        let e = err("some words\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("needs a path"), "{e}");
        let e = err("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\njunk\n@@ -5 +5 @@\n-c\n+d\n");
        assert_eq!(e.line, 7);
        assert!(e.message.contains("outside any file section"), "{e}");
        let e =
            err("diff --git a/f b/f\nold mode 100644\nnew mode 100755\n\n@@ -5 +5 @@\n-c\n+d\n");
        assert_eq!(e.line, 5);
        assert!(e.message.contains("outside any file section"), "{e}");
    }

    #[test]
    fn combined_diffs_are_refused() {
        let e = err(
            "diff --cc file.c\nindex 1,2..3\n--- a/file.c\n+++ b/file.c\n@@@ -1,1 -1,1 +1,1 @@@\n",
        );
        assert_eq!(e.line, 1);
        assert!(e.message.contains("merge commits"), "{e}");
        assert!(e.message.contains("one parent"), "{e}");
        let e = err("diff --combined f\n");
        assert!(e.message.contains("combined"), "{e}");
        let e = err("diff --git a/f b/f\n--- a/f\n+++ b/f\n@@@ -1 -1 +1 @@@\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("combined"), "{e}");
    }

    #[test]
    fn text_without_file_sections_is_not_a_diff() {
        let e = err("\n\n<!DOCTYPE html>\n<html>\n");
        assert_eq!(e.line, 3);
        assert!(
            e.message
                .starts_with("the input is not a unified diff: expected"),
            "{e}"
        );
        assert!(e.message.contains("`<!DOCTYPE html>`"), "{e}");
        let e = err("Only in a: b\ndiff -ruN a/x b/x\n--- lonely\nno plus line\n");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not a unified diff"), "{e}");
    }

    #[test]
    fn file_header_errors() {
        let e = err("diff --git a/f b/f\n--- a/f\nnot plus\n");
        assert_eq!(e.line, 3);
        assert!(e.message.contains("expected the `+++ NEW` line"), "{e}");
        let e = err("diff --git a/f b/f\n--- a/f\n+++ b/f\nno hunk\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("expected a hunk header"), "{e}");
        let e = err("--- a/f\n+++ b/f\n\n");
        assert_eq!(e.line, 3);
        let e = err("diff --git a/x y/z q\nindex 1..2\n");
        assert_eq!(e.line, 1);
        assert!(e.message.contains("cannot tell the file name"), "{e}");
        let e = err("diff --git a/f b/f\nsimilarity index 101%\n");
        assert_eq!(e.line, 2);
        let e = err("diff --git a/f b/f\nnew file mode 100644\ndeleted file mode 100644\n");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn no_newline_marker_errors() {
        let e = err("--- a/f\n+++ b/f\n@@ -1 +1 @@\n\\ No newline at end of file\n-a\n+b\n");
        assert_eq!(e.line, 4);
        assert!(e.message.contains("before any line"), "{e}");
        let e = err(
            "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n\\ No newline at end of file\n\\ No newline at end of file\n",
        );
        assert_eq!(e.line, 6);
        assert!(e.message.contains("second"), "{e}");
        let e = err(
            "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n\\ No newline at end of file\n\\ No newline at end of file\n",
        );
        assert_eq!(e.line, 7);
        assert!(e.message.contains("second"), "{e}");
        // A line after the last line of a side.
        let e = err("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n\\ No newline at end of file\n b\n");
        assert_eq!(e.line, 6);
        assert!(e.message.contains("follows a `\\ No newline"), "{e}");
        let e = err(
            "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n@@ -3 +3 @@\n-c\n+d\n",
        );
        assert_eq!(e.line, 8);
    }

    #[test]
    fn absurd_counts_do_not_allocate() {
        // The header promises 100 million lines; the body has two.
        let e = err("--- a/f\n+++ b/f\n@@ -1,100000000 +1,100000000 @@\n a\n b\n");
        assert_eq!(e.line, 6);
    }

    #[test]
    fn header_name_splitting() {
        let names = |s: &str| {
            split_git_header(s)
                .unwrap()
                .map(|n| (n.old, n.new, n.old_prefix, n.new_prefix))
        };
        let s = |x: &str| x.to_owned();
        assert_eq!(names("a/x b/x"), Some((s("x"), s("x"), s("a/"), s("b/"))));
        assert_eq!(
            names("a/x y b/x y"),
            Some((s("x y"), s("x y"), s("a/"), s("b/")))
        );
        assert_eq!(names("x y x y"), Some((s("x y"), s("x y"), s(""), s(""))));
        assert_eq!(
            names("i/d/e w/d/e"),
            Some((s("d/e"), s("d/e"), s("i/"), s("w/")))
        );
        assert_eq!(
            names("a/old b/new"),
            Some((s("old"), s("new"), s("a/"), s("b/")))
        );
        assert_eq!(names("a/o d b/n e"), None);
        assert_eq!(
            names("a/x \"b/\\303\\251\""),
            Some((s("x"), s("é"), s("a/"), s("b/")))
        );
    }
}
