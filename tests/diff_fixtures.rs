//! Every file under `tests/fixtures/diff/` through the parser. `err-*` fixtures must be
//! refused at a known line; `crash-*` fixtures (inputs the fuzzer once crashed on) must
//! not panic; `*.patch` fixtures are GitHub `patch` fields; everything else must parse, and
//! the main ones are checked file by file.

use std::path::{Path, PathBuf};

use nectr::diff::{self, Diff, FileDiff, FileStatus, LineKind};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
}

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diff")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(old path, new path, status, added, removed, binary, commit, hunk header positions)`
type Summary<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    FileStatus,
    usize,
    usize,
    bool,
    Option<usize>,
    Vec<u32>,
);

fn summary<'a>(diff: &'a Diff) -> Vec<Summary<'a>> {
    diff.files.iter().map(summarize).collect()
}

fn summarize<'a>(f: &'a FileDiff) -> Summary<'a> {
    (
        f.old_path.as_deref(),
        f.new_path.as_deref(),
        f.status,
        f.additions(),
        f.deletions(),
        f.binary,
        f.commit,
        f.hunks.iter().map(|h| h.header_position).collect(),
    )
}

/// What holds for any successful parse.
fn check_invariants(file: &FileDiff) {
    let mut position = 0;
    for (i, hunk) in file.hunks.iter().enumerate() {
        if i > 0 {
            position += 1;
        }
        assert_eq!(hunk.header_position, position);
        let old = hunk
            .lines
            .iter()
            .filter(|l| l.kind != LineKind::Added)
            .count();
        let new = hunk
            .lines
            .iter()
            .filter(|l| l.kind != LineKind::Removed)
            .count();
        assert_eq!((old, new), (hunk.old_len as usize, hunk.new_len as usize));
        for l in &hunk.lines {
            position += 1;
            assert_eq!(l.position, position);
            position += u32::from(l.no_newline_at_eof);
            assert!(!l.content.ends_with('\r') && !l.content.contains('\n'));
        }
    }
}

#[test]
fn every_fixture_parses_or_fails_as_named() {
    let errors: &[(&str, usize, &str)] = &[
        ("err-absurd-count.diff", 4, "absurd old count 4294967295"),
        ("err-combined.diff", 1, "combined diffs of merge commits"),
        ("err-hunk-only.diff", 1, "needs a path"),
        ("err-not-a-diff.diff", 1, "the input is not a unified diff"),
        ("err-out-of-order.diff", 8, "out of order"),
        ("err-short-hunk.diff", 8, "ended early"),
    ];
    let mut seen_errors = 0;
    for path in fixtures() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if name.starts_with("crash-") {
            // Fuzzer finds: any answer but a panic (the invariants hold when it parses).
            if let Ok(d) = diff::parse(&text) {
                d.files.iter().for_each(check_invariants);
            }
            if let Ok(f) = diff::parse_file_patch("f", &text) {
                check_invariants(&f);
            }
            continue;
        }
        if name.starts_with("err-") {
            let (_, line, what) = errors
                .iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("{name}: no expected error listed"));
            let e = diff::parse(&text).expect_err(&name);
            assert_eq!(e.line, *line, "{name}: {e}");
            assert!(e.message.contains(what), "{name}: {e}");
            seen_errors += 1;
            continue;
        }
        if name.ends_with(".patch") {
            let f = diff::parse_file_patch("f", &text).unwrap_or_else(|e| panic!("{name}: {e}"));
            check_invariants(&f);
            continue;
        }
        let d = diff::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!d.files.is_empty(), "{name}");
        d.files.iter().for_each(check_invariants);
    }
    assert_eq!(seen_errors, errors.len());
}

#[test]
fn github_pr_diff() {
    let text = read("github-pr.diff");
    let d = diff::parse(&text).unwrap();
    use FileStatus::*;
    assert_eq!(
        summary(&d),
        vec![
            (
                Some("README.md"),
                Some("README.md"),
                Modified,
                3,
                2,
                false,
                None,
                vec![0, 8]
            ),
            (
                Some("src/old_name.rs"),
                Some("src/new_name.rs"),
                Renamed,
                1,
                1,
                false,
                None,
                vec![0]
            ),
            (
                Some("assets/logo.png"),
                Some("assets/logo.png"),
                Modified,
                0,
                0,
                true,
                None,
                vec![]
            ),
            (
                Some("scripts/run.sh"),
                Some("scripts/run.sh"),
                Modified,
                0,
                0,
                false,
                None,
                vec![]
            ),
            (
                Some("src/gone.rs"),
                None,
                Deleted,
                0,
                2,
                false,
                None,
                vec![0]
            ),
        ]
    );
    assert_eq!(d.files[1].similarity, Some(92));
    let gone = &d.files[4].hunks[0].lines[1];
    assert_eq!((gone.content, gone.no_newline_at_eof), ("// bye", true));
}

#[test]
fn github_patch_field() {
    let text = read("github-patch-field.patch");
    let f = diff::parse_file_patch("src/main.rs", &text).unwrap();
    assert_eq!(
        summarize(&f),
        (
            Some("src/main.rs"),
            Some("src/main.rs"),
            FileStatus::Modified,
            3,
            2,
            false,
            None,
            vec![0, 6]
        )
    );
    assert_eq!(f.hunks[1].lines.last().unwrap().content, "}");
}

#[test]
fn format_patch_series() {
    let text = read("format-patch-series.mbox");
    let d = diff::parse(&text).unwrap();
    let subjects: Vec<_> = d.commits.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec![
            "Change many things at once",
            "[bracketed] third commit with a subject long enough that git has to fold it"
        ]
    );
    assert_eq!(d.files.len(), 14);
    assert!(d.files[..13].iter().all(|f| f.commit == Some(0)));
    assert_eq!(d.files[13].commit, Some(1));
    assert_eq!(d.files[13].path(), "add.txt");
    assert_eq!(d.file("add.txt").unwrap().commit, Some(1));
}

#[test]
fn plain_diff_ru_n() {
    let text = read("diff-ruN.diff");
    let d = diff::parse(&text).unwrap();
    use FileStatus::*;
    assert_eq!(
        summary(&d),
        vec![
            (
                Some("b.bin"),
                Some("b.bin"),
                Modified,
                0,
                0,
                true,
                None,
                vec![]
            ),
            (
                Some("only_old.c"),
                None,
                Deleted,
                0,
                1,
                false,
                None,
                vec![0]
            ),
            (
                Some("src/a.c"),
                Some("src/a.c"),
                Modified,
                1,
                1,
                false,
                None,
                vec![0]
            ),
            (None, Some("src/n.c"), Added, 1, 0, false, None, vec![0]),
        ]
    );
    let only_in_text = read("diff-ru-only-in.diff");
    let only_in = diff::parse(&only_in_text).unwrap();
    let paths: Vec<_> = only_in.files.iter().map(|f| f.path()).collect();
    assert_eq!(paths, vec!["b.bin", "src/a.c"]);
}

type Counts<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    FileStatus,
    usize,
    usize,
    bool,
);

fn strip_positions(s: Vec<Summary<'_>>) -> Vec<Counts<'_>> {
    s.into_iter()
        .map(|x| (x.0, x.1, x.2, x.3, x.4, x.5))
        .collect()
}

#[test]
fn git_shapes_agree_with_each_other() {
    // The same change in every `git diff` shape: the same files, statuses and counts.
    let renames_text = read("git-renames.diff");
    let renames = diff::parse(&renames_text).unwrap();
    let expected = summary(&renames);
    assert_eq!(expected.len(), 13);
    for name in [
        "git-no-prefix.diff",
        "git-custom-prefix.diff",
        "git-binary.diff",
    ] {
        let text = read(name);
        let d = diff::parse(&text).unwrap();
        assert_eq!(summary(&d), expected, "{name}");
    }
    // -U0 differs only in where the second hunk of modify.txt starts.
    let text = read("git-u0.diff");
    let u0 = diff::parse(&text).unwrap();
    assert_eq!(
        strip_positions(summary(&u0)),
        strip_positions(expected.clone())
    );
    // With copies found, copy_dst.txt is a copy rather than an addition.
    let text = read("git-copies.diff");
    let copies = diff::parse(&text).unwrap();
    let copy = copies.file("copy_dst.txt").unwrap();
    assert_eq!(
        (
            copy.status,
            copy.old_path.as_deref(),
            copy.similarity,
            copy.hunks.len()
        ),
        (FileStatus::Copied, Some("copy_src.txt"), Some(100), 0)
    );
    // Without renames, the rename is a deletion plus an addition.
    let text = read("git-no-renames.diff");
    let plain = diff::parse(&text).unwrap();
    assert_eq!(plain.files.len(), 15);
    assert_eq!(
        plain.file("rename_dst.txt").unwrap().status,
        FileStatus::Added
    );
}
