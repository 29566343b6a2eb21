//! Property tests for the diff parser: random old/new texts are diffed (by `diffy`, a
//! dev-dependency only), wrapped in `diff --git` headers and parsed; the parse must
//! reproduce the new text from the old one, agree with both texts line by line, and answer
//! the anchoring questions exactly as a brute-force oracle does. Mangled diffs must never
//! panic, and a diff whose hunk counts were changed must be refused.

use std::collections::BTreeSet;

use diffy::{DiffOptions, PatchFormatter};
use nectr::diff::{self, FileDiff, LineKind, Side};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// A file's two versions and how the diff of them is printed.
#[derive(Clone, Debug)]
struct Case {
    old: String,
    new: String,
    context: usize,
    suppress_blank_empty: bool,
}

fn render(lines: &[String], final_newline: bool, eol: &str) -> String {
    let mut text = lines.join(eol);
    if !lines.is_empty() && final_newline {
        text.push_str(eol);
    }
    text
}

/// Lines of a text as the parser reports contents: without `\n` or `\r\n`.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n')
        .map(|l| {
            let l = l.strip_suffix('\n').unwrap_or(l);
            l.strip_suffix('\r').unwrap_or(l)
        })
        .collect()
}

/// Lines from a small alphabet, so that old and new share lines and hunks are interesting.
fn line() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d", "", "fn f() {", "}", "x  y", "é ü"])
        .prop_map(String::from)
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(line(), 0..30),
        // Edits turning old into new: (index, 0 = replace / 1 = insert / 2 = delete, line).
        prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, line()), 0..8),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![false, false, true]),
        0..4usize,
        any::<bool>(),
    )
        .prop_map(
            |(old, edits, old_nl, new_nl, crlf, context, suppress_blank_empty)| {
                let mut new = old.clone();
                for (index, op, line) in edits {
                    let at = index.index(new.len() + 1);
                    match op {
                        0 if at < new.len() => new[at] = line,
                        2 if at < new.len() => {
                            new.remove(at);
                        }
                        _ => new.insert(at, line),
                    }
                }
                let eol = if crlf { "\r\n" } else { "\n" };
                Case {
                    old: render(&old, old_nl, eol),
                    new: render(&new, new_nl, eol),
                    context,
                    suppress_blank_empty,
                }
            },
        )
}

/// One `diff --git` section for `case`, named `name`.
fn section(name: &str, case: &Case) -> String {
    let patch = DiffOptions::new()
        .set_context_len(case.context)
        .create_patch(&case.old, &case.new);
    let printed = PatchFormatter::new()
        .suppress_blank_empty(case.suppress_blank_empty)
        .fmt_patch(&patch)
        .to_string();
    let hunks = printed
        .strip_prefix("--- original\n+++ modified\n")
        .expect("diffy's header");
    let mut text = format!("diff --git a/{name} b/{name}\nindex 1111111..2222222 100644\n");
    if !hunks.is_empty() {
        text.push_str(&format!("--- a/{name}\n+++ b/{name}\n{hunks}"));
    }
    text
}

fn diff_text(cases: &[Case]) -> String {
    cases
        .iter()
        .enumerate()
        .map(|(i, c)| section(&format!("dir/file {i}.txt"), c))
        .collect()
}

/// Applies the parsed hunks to `old`; the result must be `new`, byte for byte.
fn apply<'t>(old: &'t str, file: &FileDiff<'t>, eol: &str) -> String {
    let old_lines = lines(old);
    let old_last_unterminated = !old.is_empty() && !old.ends_with('\n');
    let mut out: Vec<(&'t str, bool)> = Vec::new();
    let mut next_old = 1usize;
    let copy_old = |n: usize, out: &mut Vec<(&'t str, bool)>| {
        let terminated = !(n == old_lines.len() && old_last_unterminated);
        out.push((old_lines[n - 1], terminated));
    };
    for hunk in &file.hunks {
        let first = hunk.old_start as usize + usize::from(hunk.old_len == 0);
        while next_old < first {
            copy_old(next_old, &mut out);
            next_old += 1;
        }
        for l in &hunk.lines {
            match l.kind {
                LineKind::Context | LineKind::Removed => {
                    assert_eq!(l.old_line, Some(next_old as u32));
                    assert_eq!(old_lines[next_old - 1], l.content);
                    next_old += 1;
                    if l.kind == LineKind::Context {
                        out.push((l.content, !l.no_newline_at_eof));
                    }
                }
                LineKind::Added => out.push((l.content, !l.no_newline_at_eof)),
            }
        }
    }
    while next_old <= old_lines.len() {
        copy_old(next_old, &mut out);
        next_old += 1;
    }
    out.iter()
        .map(|(content, terminated)| format!("{content}{}", if *terminated { eol } else { "" }))
        .collect()
}

/// The anchoring questions against a brute-force answer over every line of the file.
fn check_queries(file: &FileDiff, old: &str, new: &str) {
    for (side, text) in [(Side::Left, old), (Side::Right, new)] {
        let number = |l: &diff::HunkLine| match side {
            Side::Left => l.old_line,
            Side::Right => l.new_line,
        };
        let shown: Vec<(usize, u32, u32)> = file
            .hunks
            .iter()
            .enumerate()
            .flat_map(|(h, hunk)| {
                hunk.lines
                    .iter()
                    .filter_map(move |l| number(l).map(|n| (h, n, l.position)))
            })
            .collect();
        let numbers: BTreeSet<u32> = shown.iter().map(|&(_, n, _)| n).collect();
        assert_eq!(numbers.len(), shown.len(), "a line shown twice");
        let max = lines(text).len() as u32 + 2;
        for n in 0..=max {
            let found = shown.iter().find(|&&(_, m, _)| m == n);
            assert_eq!(
                file.is_commentable(side, n),
                found.is_some(),
                "{side:?} {n}"
            );
            assert_eq!(
                file.hunk_index(side, n),
                found.map(|&(h, _, _)| h),
                "{side:?} {n}"
            );
            assert_eq!(
                file.position(side, n),
                found.map(|&(_, _, p)| p),
                "{side:?} {n}"
            );
            assert_eq!(
                file.line(side, n).and_then(number),
                found.map(|&(_, m, _)| m)
            );
            for m in 0..=max {
                let other = shown.iter().find(|&&(_, k, _)| k == m);
                let same_hunk = matches!((found, other), (Some(a), Some(b)) if a.0 == b.0);
                assert_eq!(
                    file.is_commentable_range(side, n, m),
                    n <= m && same_hunk,
                    "{side:?} {n}..={m}"
                );
            }
        }
    }
}

/// Positions count from 1 below the first header, through later headers and markers.
fn check_positions(file: &FileDiff) {
    let mut position = 0;
    for (i, hunk) in file.hunks.iter().enumerate() {
        if i > 0 {
            position += 1;
        }
        assert_eq!(hunk.header_position, position);
        assert_eq!(
            hunk.lines
                .iter()
                .filter(|l| l.kind != LineKind::Added)
                .count(),
            hunk.old_len as usize
        );
        assert_eq!(
            hunk.lines
                .iter()
                .filter(|l| l.kind != LineKind::Removed)
                .count(),
            hunk.new_len as usize
        );
        for l in &hunk.lines {
            position += 1;
            assert_eq!(l.position, position);
            if l.no_newline_at_eof {
                position += 1;
            }
        }
    }
}

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parsed_diffs_reproduce_the_new_text(cases in prop::collection::vec(case(), 1..4)) {
        let text = diff_text(&cases);
        let parsed = diff::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(parsed.files.len(), cases.len());
        for (i, (case, file)) in cases.iter().zip(&parsed.files).enumerate() {
            let name = format!("dir/file {i}.txt");
            prop_assert_eq!(file.old_path.as_deref(), Some(name.as_str()));
            prop_assert_eq!(file.new_path.as_deref(), Some(name.as_str()));
            let eol = if case.old.contains("\r\n") || case.new.contains("\r\n") { "\r\n" } else { "\n" };
            prop_assert_eq!(apply(&case.old, file, eol), case.new.clone(), "{}", text);
            let new_lines = lines(&case.new);
            for (n, content) in file.added_lines() {
                prop_assert_eq!(new_lines[n as usize - 1], content);
            }
            for l in file.hunks.iter().flat_map(|h| &h.lines) {
                if let Some(n) = l.new_line {
                    prop_assert_eq!(new_lines[n as usize - 1], l.content);
                }
            }
            check_positions(file);
            check_queries(file, &case.old, &case.new);
        }
    }

    #[test]
    fn per_file_patches_parse_like_whole_diffs(case in case()) {
        let text = section("f", &case);
        let whole = diff::parse(&text).unwrap();
        let patch = text.split_once("+++ b/f\n").map_or("", |(_, hunks)| hunks);
        let alone = diff::parse_file_patch("f", patch).unwrap();
        prop_assert_eq!(&alone.hunks, &whole.files[0].hunks);
        // GitHub's patch field has no final newline (and never drops the space of an
        // empty context line, which would leave nothing of that line).
        if !case.suppress_blank_empty {
            let trimmed = patch.strip_suffix('\n').unwrap_or(patch);
            let trimmed = diff::parse_file_patch("f", trimmed).unwrap();
            prop_assert_eq!(&trimmed.hunks, &alone.hunks);
        }
    }

    #[test]
    fn changed_hunk_counts_are_refused(
        cases in prop::collection::vec(case(), 1..3),
        pick in any::<prop::sample::Index>(),
        new_side in any::<bool>(),
        delta in prop::sample::select(vec![-2i64, -1, 1, 2]),
    ) {
        let text = diff_text(&cases);
        let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
        let headers: Vec<usize> =
            (0..lines.len()).filter(|&i| lines[i].starts_with("@@ -")).collect();
        prop_assume!(!headers.is_empty());
        let at = headers[pick.index(headers.len())];
        let (ranges, tail) = lines[at]["@@ -".len()..].split_once(" @@").unwrap();
        let (old, new) = ranges.split_once(" +").unwrap();
        let range = |r: &str| -> (i64, i64) {
            match r.split_once(',') {
                Some((s, l)) => (s.parse().unwrap(), l.parse().unwrap()),
                None => (r.parse().unwrap(), 1),
            }
        };
        let (mut o, mut n) = (range(old), range(new));
        let target = if new_side { &mut n } else { &mut o };
        prop_assume!(target.1 + delta >= 0);
        target.1 += delta;
        lines[at] = format!("@@ -{},{} +{},{} @@{tail}", o.0, o.1, n.0, n.1);
        let mangled: String = lines.concat();
        prop_assert!(diff::parse(&mangled).is_err(), "accepted:\n{}", mangled);
    }

    #[test]
    fn mangled_diffs_never_panic(
        cases in prop::collection::vec(case(), 1..3),
        mutations in prop::collection::vec(
            (0..6u8, any::<prop::sample::Index>(), any::<prop::sample::Index>(),
             "[-+ @\\\\a-c0-9,\\t\\r\\n\"/]{0,12}"),
            1..4,
        ),
    ) {
        let text = diff_text(&cases);
        let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
        for (kind, a, b, junk) in mutations {
            if lines.is_empty() {
                break;
            }
            let i = a.index(lines.len());
            match kind {
                0 => lines.truncate(i),
                1 => {
                    lines.remove(i);
                }
                2 => {
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                }
                3 => {
                    let j = b.index(lines.len());
                    lines.swap(i, j);
                }
                4 => {
                    let line = &mut lines[i];
                    let at = b.index(line.len() + 1);
                    if line.is_char_boundary(at) {
                        line.insert_str(at, &junk);
                    }
                }
                _ => {
                    // Change one digit, e.g. in a hunk header.
                    let line = &mut lines[i];
                    if let Some(pos) = line.find(|c: char| c.is_ascii_digit()) {
                        let d = (b.index(10) as u8 + b'0') as char;
                        line.replace_range(pos..=pos, &d.to_string());
                    }
                }
            }
        }
        let mangled: String = lines.concat();
        if let Ok(parsed) = diff::parse(&mangled) {
            for file in &parsed.files {
                check_positions(file);
                for side in [Side::Left, Side::Right] {
                    for n in 0..40 {
                        let _ = file.position(side, n);
                        let _ = file.is_commentable_range(side, n, n + 3);
                    }
                }
            }
        }
        let _ = diff::parse_file_patch("f", &mangled);
    }
}
