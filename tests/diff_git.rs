//! The parser against real git: scenarios built in a temporary repository, diffed in every
//! shape Nectr accepts, and each parse checked against git itself — paths and added/removed
//! counts against `git apply --numstat`, statuses against `git diff --name-status`, and
//! every hunk line's content and line number against the blobs of both commits.
//!
//! Skips (with a note) when `git` is not installed.

use std::process::{Command, Stdio};

use nectr::diff::{self, Diff, FileDiff, FileStatus, LineKind};

struct Repo {
    dir: tempfile::TempDir,
}

fn git_available() -> bool {
    let ok = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("note: `git` is not installed; skipping the real-git diff tests");
    }
    ok
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.current_dir(self.dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
            .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
            .env("LC_ALL", "C")
            .args([
                "-c",
                "user.name=Renée Ünicode-Tester",
                "-c",
                "user.email=t@example.com",
            ])
            .args([
                "-c",
                "core.autocrlf=false",
                "-c",
                "core.pager=cat",
                "-c",
                "color.ui=never",
            ])
            .args(["-c", "core.symlinks=true", "-c", "diff.noprefix=false"])
            .args(args);
        cmd
    }

    fn git(&self, args: &[&str]) -> Vec<u8> {
        self.git_stdin(args, None)
    }

    fn git_stdin(&self, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
        let mut child = self
            .command(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run git");
        if let Some(input) = input {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    fn text(&self, args: &[&str]) -> String {
        String::from_utf8(self.git(args)).expect("git output is UTF-8")
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    fn remove(&self, rel: &str) {
        std::fs::remove_file(self.path(rel)).unwrap();
    }

    fn rename(&self, from: &str, to: &str) {
        std::fs::rename(self.path(from), self.path(to)).unwrap();
    }

    fn symlink(&self, target: &str, rel: &str) {
        let path = self.path(rel);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn chmod(&self, rel: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.text(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// A file's content at a revision (`None` when it does not exist there).
    fn blob(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        let out = self
            .command(&["cat-file", "blob", &format!("{rev}:{path}")])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        out.status.success().then_some(out.stdout)
    }
}

/// Numbered lines of a text, as the parser reports contents: without `\n` or `\r\n`.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n')
        .map(|l| {
            let l = l.strip_suffix('\n').unwrap_or(l);
            l.strip_suffix('\r').unwrap_or(l)
        })
        .collect()
}

fn numbered(n: usize) -> String {
    (1..=n)
        .map(|i| format!("line {i} of some text\n"))
        .collect()
}

/// The base commit: one file per scenario.
fn base(repo: &Repo) -> String {
    repo.write("modify.txt", numbered(40));
    repo.write("delete.txt", "going away\nsoon\n");
    repo.write("rename_src.txt", numbered(20));
    repo.write("rename edit src.txt", numbered(30));
    repo.write("copy_src.txt", numbered(25));
    repo.write(
        "bin_mod.bin",
        b"\x00\x01\x02binary\x00content\xff\xfe".repeat(20),
    );
    repo.write("mode.sh", "#!/bin/sh\necho hi\n");
    repo.write("nonl.txt", "a\nb\nc");
    repo.write("nonl_fixed.txt", "x\ny");
    repo.write("crlf.txt", "one\r\ntwo\r\nthree\r\nfour\r\n");
    repo.write("with space.txt", "alpha\nbeta\ngamma\n");
    repo.write("dir with space/inner file.txt", "p\nq\n");
    repo.write("café ünïcode.txt", "größe\nmaß\n");
    repo.write("日本語/ファイル.md", "# 見出し\n本文\n");
    repo.write("tab\tname.txt", "t\n");
    repo.write("empty_del", "");
    repo.write("empty_to_full", "");
    repo.symlink("modify.txt", "link");
    repo.chmod("mode.sh", 0o644);
    repo.commit("base")
}

/// Every change on top of [`base`], in one commit.
fn change(repo: &Repo) -> String {
    let mut modify = numbered(40);
    modify = modify
        .replace("line 3 of", "LINE 3 OF")
        .replace("line 30 of", "line thirty of");
    modify.push_str("appended\n");
    repo.write("modify.txt", modify);
    repo.write("add.txt", "brand\nnew\nfile\n");
    repo.remove("delete.txt");
    repo.rename("rename_src.txt", "rename_dst.txt");
    repo.rename("rename edit src.txt", "rename edit dst.txt");
    repo.write(
        "rename edit dst.txt",
        numbered(30).replace("line 7 of", "line seven of"),
    );
    repo.write("copy_dst.txt", numbered(25));
    repo.write(
        "copy_edit.txt",
        numbered(25).replace("line 12 of", "line twelve of"),
    );
    repo.write(
        "bin_mod.bin",
        b"\x00\x01\x02binary\x00CONTENT\xff\xfe".repeat(20),
    );
    repo.write("bin_add.bin", b"\x00\x00\x00\x10new binary\x00".repeat(8));
    repo.chmod("mode.sh", 0o755);
    repo.write("nonl.txt", "a\nb\nC");
    repo.write("nonl_fixed.txt", "x\ny\nz\n");
    repo.write("crlf.txt", "one\r\nTWO\r\nthree\r\nfour\r\nfive\r\n");
    repo.write("with space.txt", "alpha\nBETA\ngamma\n");
    repo.rename(
        "dir with space/inner file.txt",
        "dir with space/moved file.txt",
    );
    repo.write("café ünïcode.txt", "größer\nmaß\n");
    repo.write("日本語/ファイル.md", "# 見出し\n本文です\n");
    repo.write("tab\tname.txt", "T\n");
    repo.write("empty_add", "");
    repo.remove("empty_del");
    repo.write("empty_to_full", "now\nfull\n");
    repo.symlink("add.txt", "link");
    repo.symlink("rename_dst.txt", "new_link");
    repo.commit("change everything")
}

/// One record of `git apply --numstat -z`: added and removed lines (`None` for binary) and
/// the path (the new one, or the old one for a deletion).
type Numstat = (Option<(usize, usize)>, String);

fn numstat(repo: &Repo, diff_text: &str, extra: &[&str]) -> Vec<Numstat> {
    let mut args = vec!["apply", "--numstat", "-z"];
    args.extend_from_slice(extra);
    let out = repo.git_stdin(&args, Some(diff_text.as_bytes()));
    let out = String::from_utf8(out).unwrap();
    out.split_terminator('\0')
        .map(|record| {
            let mut parts = record.splitn(3, '\t');
            let (a, d, path) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            let counts = (a != "-").then(|| (a.parse().unwrap(), d.parse().unwrap()));
            (counts, path.to_owned())
        })
        .collect()
}

/// `git diff --name-status -z` records: status letter, old path, new path.
fn name_status(repo: &Repo, args: &[&str]) -> Vec<(char, String, String)> {
    let mut all = vec!["diff", "--name-status", "-z"];
    all.extend_from_slice(args);
    let out = String::from_utf8(repo.git(&all)).unwrap();
    let mut fields = out.split('\0');
    let mut records = Vec::new();
    while let Some(status) = fields.next().filter(|f| !f.is_empty()) {
        let letter = status.chars().next().unwrap();
        let first = fields.next().unwrap().to_owned();
        let second = if matches!(letter, 'R' | 'C') {
            fields.next().unwrap().to_owned()
        } else {
            first.clone()
        };
        records.push((letter, first, second));
    }
    records
}

fn status_letter(status: FileStatus) -> char {
    match status {
        FileStatus::Added => 'A',
        FileStatus::Deleted => 'D',
        FileStatus::Modified => 'M',
        FileStatus::Renamed => 'R',
        FileStatus::Copied => 'C',
    }
}

/// Both paths as `git diff --name-status` names them (one path twice unless renamed or
/// copied).
fn status_paths(f: &FileDiff) -> (String, String) {
    match f.status {
        FileStatus::Renamed | FileStatus::Copied => {
            (f.old_path.clone().unwrap(), f.new_path.clone().unwrap())
        }
        _ => (f.path().to_owned(), f.path().to_owned()),
    }
}

/// The old and new content of a parsed file (`None` for a side that does not exist).
type Contents<'r> = &'r dyn Fn(&FileDiff) -> (Option<Vec<u8>>, Option<Vec<u8>>);

/// The contents of a file at two revisions.
fn at_revs<'r>(
    repo: &'r Repo,
    revs: impl Fn(&FileDiff) -> (String, String) + 'r,
) -> impl Fn(&FileDiff) -> (Option<Vec<u8>>, Option<Vec<u8>>) + 'r {
    move |f: &FileDiff| {
        let (old_rev, new_rev) = revs(f);
        let old = f.old_path.as_deref().map(|p| {
            repo.blob(&old_rev, p)
                .unwrap_or_else(|| panic!("{p} missing at {old_rev}"))
        });
        let new = f.new_path.as_deref().map(|p| {
            repo.blob(&new_rev, p)
                .unwrap_or_else(|| panic!("{p} missing at {new_rev}"))
        });
        (old, new)
    }
}

/// Checks a parse against `git apply --numstat` and against the files' contents.
fn check_against_git(
    repo: &Repo,
    text: &str,
    diff: &Diff,
    apply_args: &[&str],
    contents: Contents,
) {
    let expected = numstat(repo, text, apply_args);
    let got: Vec<Numstat> = diff
        .files
        .iter()
        .map(|f| {
            (
                (!f.binary).then(|| (f.additions(), f.deletions())),
                f.path().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected, "parsed files vs git apply --numstat");

    // GitHub's legacy position, against the raw text: the line `position` lines below the
    // first `@@` of the file's `diff --git` section is that very hunk line.
    let raw: Vec<&str> = text.split('\n').collect();
    let sections: Vec<usize> = (0..raw.len())
        .filter(|&i| raw[i].starts_with("diff --git "))
        .collect();
    assert_eq!(sections.len(), diff.files.len());
    for (f, &start) in diff.files.iter().zip(&sections) {
        let Some(first_hunk) = (start..raw.len()).find(|&i| raw[i].starts_with("@@")) else {
            continue;
        };
        for (i, hunk) in f.hunks.iter().enumerate() {
            let header = raw[first_hunk + hunk.header_position as usize];
            assert!(header.starts_with("@@"), "{}: hunk {i} header", f.path());
            for l in &hunk.lines {
                let marker = match l.kind {
                    LineKind::Context => ' ',
                    LineKind::Added => '+',
                    LineKind::Removed => '-',
                };
                let shown = raw[first_hunk + l.position as usize];
                let shown = shown.strip_suffix('\r').unwrap_or(shown);
                assert_eq!(
                    shown,
                    format!("{marker}{}", l.content),
                    "{}: position {}",
                    f.path(),
                    l.position
                );
                if l.no_newline_at_eof {
                    assert!(raw[first_hunk + l.position as usize + 1].starts_with("\\ "));
                }
            }
        }
    }

    for f in &diff.files {
        let (old_blob, new_blob) = contents(f);
        assert_eq!(
            f.status == FileStatus::Added,
            old_blob.is_none(),
            "{}",
            f.path()
        );
        assert_eq!(
            f.status == FileStatus::Deleted,
            new_blob.is_none(),
            "{}",
            f.path()
        );
        if f.binary {
            assert!(f.hunks.is_empty());
            continue;
        }
        let old_text = old_blob
            .map(|b| String::from_utf8(b).unwrap())
            .unwrap_or_default();
        let new_text = new_blob
            .map(|b| String::from_utf8(b).unwrap())
            .unwrap_or_default();
        let (old_lines, new_lines) = (lines(&old_text), lines(&new_text));
        let mut last_position = 0;
        for hunk in &f.hunks {
            for l in &hunk.lines {
                assert!(
                    l.position > last_position,
                    "{}: positions increase",
                    f.path()
                );
                last_position = l.position;
                if let Some(n) = l.old_line {
                    assert_eq!(
                        old_lines.get(n as usize - 1).copied(),
                        Some(l.content),
                        "{}: old line {n}",
                        f.path()
                    );
                    if l.no_newline_at_eof {
                        assert_eq!(n as usize, old_lines.len());
                        assert!(
                            !old_text.ends_with('\n'),
                            "{}: old has no final newline",
                            f.path()
                        );
                    }
                }
                if let Some(n) = l.new_line {
                    assert_eq!(
                        new_lines.get(n as usize - 1).copied(),
                        Some(l.content),
                        "{}: new line {n}",
                        f.path()
                    );
                    if l.no_newline_at_eof {
                        assert_eq!(n as usize, new_lines.len());
                        assert!(
                            !new_text.ends_with('\n'),
                            "{}: new has no final newline",
                            f.path()
                        );
                    }
                }
                assert_eq!(l.old_line.is_some(), l.kind != LineKind::Added);
                assert_eq!(l.new_line.is_some(), l.kind != LineKind::Removed);
            }
        }
        // A side without a final newline shows its marker whenever its last line is shown.
        for (text, side_lines, old_side) in [
            (&old_text, &old_lines, true),
            (&new_text, &new_lines, false),
        ] {
            if text.is_empty() || text.ends_with('\n') {
                continue;
            }
            let last = side_lines.len() as u32;
            let shown = f.hunks.iter().flat_map(|h| &h.lines).find(|l| {
                if old_side {
                    l.old_line == Some(last)
                } else {
                    l.new_line == Some(last)
                }
            });
            if let Some(l) = shown {
                assert!(l.no_newline_at_eof, "{}: marker on the last line", f.path());
            }
        }
    }
}

fn check_statuses(repo: &Repo, diff: &Diff, diff_args: &[&str]) {
    let expected = name_status(repo, diff_args);
    let got: Vec<(char, String, String)> = diff
        .files
        .iter()
        .map(|f| {
            let (old, new) = status_paths(f);
            (status_letter(f.status), old, new)
        })
        .collect();
    assert_eq!(
        got, expected,
        "parsed statuses vs git diff --name-status {diff_args:?}"
    );
}

fn find<'d, 'a>(diff: &'d Diff<'a>, path: &str) -> &'d FileDiff<'a> {
    diff.file(path)
        .unwrap_or_else(|| panic!("no file {path} in the parse"))
}

#[test]
fn git_diff_shapes_agree_with_git() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    let a = base(&repo);
    let b = change(&repo);
    let contents = at_revs(&repo, |_| (a.clone(), b.clone()));

    // (diff options, `git apply` options)
    let shapes: [(&[&str], &[&str]); 8] = [
        (&["--no-renames"], &[]),
        (&["-M"], &[]),
        (&["-M", "-C", "--find-copies-harder"], &[]),
        (&["--no-prefix", "-M"], &["-p0"]),
        (&["--src-prefix=old/", "--dst-prefix=new/", "-M"], &[]),
        (&["--binary", "-M"], &[]),
        (&["-c", "core.quotePath=false", "-M"], &[]),
        (&["-U0", "-M"], &[]),
    ];
    for (diff_args, apply_args) in shapes {
        let (config, diff_args): (Vec<&str>, Vec<&str>) = match diff_args {
            ["-c", c, rest @ ..] => (vec!["-c", c], rest.to_vec()),
            _ => (vec![], diff_args.to_vec()),
        };
        let mut args = config.clone();
        args.push("diff");
        args.extend(&diff_args);
        args.extend([a.as_str(), b.as_str()]);
        let text = repo.text(&args);
        let diff = diff::parse(&text).unwrap_or_else(|e| panic!("{diff_args:?}: {e}\n{text}"));
        assert!(diff.commits.is_empty());
        // The text really has the shape this round is meant to exercise.
        let quoted = !config.contains(&"core.quotePath=false");
        assert_eq!(text.contains("caf\\303\\251"), quoted, "{diff_args:?}");
        assert_eq!(text.contains("café"), !quoted, "{diff_args:?}");
        assert!(text.contains("tab\\tname.txt\""), "quoted name with a TAB");
        assert!(
            text.contains("with space.txt\t\n"),
            "git ends a name with spaces with a TAB"
        );
        assert_eq!(
            text.contains("GIT binary patch"),
            diff_args.contains(&"--binary")
        );
        assert_eq!(
            text.contains("Binary files "),
            !diff_args.contains(&"--binary")
        );
        assert!(text.contains("\\ No newline at end of file"));
        assert!(text.contains("\r\n"));
        check_against_git(&repo, &text, &diff, apply_args, &contents);
        let mut status_args = diff_args.clone();
        status_args.retain(|a| !a.starts_with("--src-prefix") && !a.starts_with("--dst-prefix"));
        status_args.extend([a.as_str(), b.as_str()]);
        check_statuses(&repo, &diff, &status_args);

        // Spot checks the oracles above cannot see.
        let modify = find(&diff, "modify.txt");
        assert_eq!(modify.status, FileStatus::Modified);
        let mode = find(&diff, "mode.sh");
        assert_eq!(
            (
                mode.old_mode.as_deref(),
                mode.new_mode.as_deref(),
                mode.hunks.len()
            ),
            (Some("100644"), Some("100755"), 0),
            "{diff_args:?}"
        );
        let link = find(&diff, "link");
        assert_eq!(link.new_mode.as_deref(), Some("120000"));
        let link_lines: Vec<_> = link.hunks.iter().flat_map(|h| &h.lines).collect();
        assert_eq!(
            link_lines
                .iter()
                .map(|l| (l.content, l.no_newline_at_eof))
                .collect::<Vec<_>>(),
            vec![("modify.txt", true), ("add.txt", true)]
        );
        assert!(find(&diff, "bin_mod.bin").binary);
        let bin_add = find(&diff, "bin_add.bin");
        assert!(bin_add.binary && bin_add.status == FileStatus::Added);
        let empty_del = diff
            .files
            .iter()
            .find(|f| f.old_path.as_deref() == Some("empty_del"))
            .unwrap();
        if diff_args.contains(&"-M") {
            // git pairs the identical (empty) blobs as a rename.
            assert_eq!(empty_del.status, FileStatus::Renamed);
            assert_eq!(empty_del.new_path.as_deref(), Some("empty_add"));
        } else {
            let empty_add = find(&diff, "empty_add");
            assert_eq!(
                (empty_add.status, empty_add.hunks.len()),
                (FileStatus::Added, 0)
            );
            assert_eq!(
                (empty_del.status, empty_del.new_path.as_deref()),
                (FileStatus::Deleted, None)
            );
        }
        let crlf = find(&diff, "crlf.txt");
        assert!(
            crlf.hunks
                .iter()
                .flat_map(|h| &h.lines)
                .all(|l| !l.content.contains('\r'))
        );
        assert!(diff.file("café ünïcode.txt").is_some(), "{diff_args:?}");
        assert!(diff.file("日本語/ファイル.md").is_some(), "{diff_args:?}");
        assert!(diff.file("tab\tname.txt").is_some(), "{diff_args:?}");
        if diff_args.contains(&"-M") {
            let r = find(&diff, "rename_dst.txt");
            assert_eq!(
                (r.status, r.similarity, r.hunks.len()),
                (FileStatus::Renamed, Some(100), 0)
            );
            let r = find(&diff, "rename edit dst.txt");
            assert_eq!(r.status, FileStatus::Renamed);
            assert_eq!(r.old_path.as_deref(), Some("rename edit src.txt"));
            assert!(r.similarity.is_some_and(|s| s < 100) && r.hunks.len() == 1);
            let r = find(&diff, "dir with space/moved file.txt");
            assert_eq!(r.old_path.as_deref(), Some("dir with space/inner file.txt"));
        }
        if diff_args.contains(&"--find-copies-harder") {
            let c = find(&diff, "copy_dst.txt");
            assert_eq!(
                (c.status, c.old_path.as_deref(), c.similarity),
                (FileStatus::Copied, Some("copy_src.txt"), Some(100))
            );
            let c = find(&diff, "copy_edit.txt");
            assert_eq!(
                (c.status, c.deletions(), c.additions()),
                (FileStatus::Copied, 1, 1)
            );
        }
    }
}

#[test]
fn working_tree_diff_agrees_with_the_files() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    let a = base(&repo);
    repo.write(
        "modify.txt",
        numbered(40).replace("line 20 of", "line twenty of"),
    );
    repo.write("nonl.txt", "a\nB\nc");
    repo.write("crlf.txt", "one\r\ntwo\r\n");
    let text = repo.text(&["diff"]);
    let diff = diff::parse(&text).unwrap();
    assert_eq!(
        diff.files.iter().map(|f| f.path()).collect::<Vec<_>>(),
        vec!["crlf.txt", "modify.txt", "nonl.txt"]
    );
    for f in &diff.files {
        let new_text = std::fs::read_to_string(repo.path(f.path())).unwrap();
        let new_lines = lines(&new_text);
        let old = String::from_utf8(repo.blob(&a, f.path()).unwrap()).unwrap();
        let old_lines = lines(&old);
        for (n, content) in f.added_lines() {
            assert_eq!(new_lines[n as usize - 1], content);
        }
        for l in f.hunks.iter().flat_map(|h| &h.lines) {
            if let Some(n) = l.old_line {
                assert_eq!(old_lines[n as usize - 1], l.content);
            }
        }
    }
    let contents = |f: &FileDiff| {
        let old = repo.blob(&a, f.path());
        (old, std::fs::read(repo.path(f.path())).ok())
    };
    check_against_git(&repo, &text, &diff, &[], &contents);
}

#[test]
fn format_patch_series_agrees_with_git() {
    if !git_available() {
        return;
    }
    let repo = Repo::new();
    let a = base(&repo);
    // Three commits, two of them touching modify.txt.
    repo.write(
        "modify.txt",
        numbered(40).replace("line 5 of", "line five of"),
    );
    repo.write("add.txt", "first\n");
    let subject1 =
        "A deliberately long subject line so that git has to fold the Subject header in the mail";
    let c1 = repo.commit(&format!(
        "{subject1}\n\nBody with diff-like lines:\n--- not a header\n- bullet\n+ another\n"
    ));
    repo.write(
        "modify.txt",
        numbered(40)
            .replace("line 5 of", "line five of")
            .replace("line 35 of", "line 35, edited, of"),
    );
    repo.rename("rename_src.txt", "renamed.txt");
    repo.write("empty_add", "");
    let subject2 = "Ünïcödé sübject über [brackets] that is also long enough to need folding";
    let c2 = repo.commit(subject2);
    repo.write("bin_mod.bin", b"\x00changed\x00".repeat(10));
    repo.chmod("mode.sh", 0o755);
    repo.write("nonl.txt", "a\nb\nc\n");
    repo.remove("empty_del");
    let c3 = repo.commit("short one");
    let text = repo.text(&["format-patch", "--stdout", "-M", &format!("{a}..{c3}")]);
    let diff = diff::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));

    let shas: Vec<_> = diff
        .commits
        .iter()
        .map(|c| c.sha.clone().unwrap())
        .collect();
    assert_eq!(shas, vec![c1.clone(), c2.clone(), c3.clone()]);
    let subjects: Vec<_> = diff.commits.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, vec![subject1, subject2, "short one"]);
    for c in &diff.commits {
        assert_eq!(
            c.author.as_deref(),
            Some("Renée Ünicode-Tester <t@example.com>")
        );
    }
    let per_file: Vec<_> = diff.files.iter().map(|f| (f.path(), f.commit)).collect();
    assert_eq!(
        per_file,
        vec![
            ("add.txt", Some(0)),
            ("modify.txt", Some(0)),
            ("empty_add", Some(1)),
            ("modify.txt", Some(1)),
            ("renamed.txt", Some(1)),
            ("bin_mod.bin", Some(2)),
            ("empty_del", Some(2)),
            ("mode.sh", Some(2)),
            ("nonl.txt", Some(2)),
        ]
    );
    let commits = diff.commits.clone();
    let contents = at_revs(&repo, move |f| {
        let sha = commits[f.commit.unwrap()].sha.clone().unwrap();
        (format!("{sha}^"), sha)
    });
    check_against_git(&repo, &text, &diff, &[], &contents);
    // Each commit's own diff, checked against name-status.
    for (i, sha) in shas.iter().enumerate() {
        let files: Vec<_> = diff
            .files
            .iter()
            .filter(|f| f.commit == Some(i))
            .cloned()
            .collect();
        let one = Diff {
            files,
            commits: vec![],
        };
        check_statuses(&repo, &one, &["-M", &format!("{sha}^"), sha]);
    }
}

#[test]
fn diff_ru_and_diff_run_output_parse() {
    // Plain `diff -ruN` between two trees, when GNU diff is installed.
    let Ok(out) = Command::new("diff").arg("--version").output() else {
        eprintln!("note: `diff` is not installed; skipping");
        return;
    };
    if !out.status.success() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("old/src/a.c", "int a;\nint b;\nint c;\n");
    write("new/src/a.c", "int a;\nint B;\nint c;\n");
    write("new/src/added.c", "fresh\nfile\n");
    write("old/src/gone.c", "bye\n");
    write("old/only_old/x", "x\n");
    write("new/sp ace.txt", "s\n");
    write("old/sp ace.txt", "S\n");
    let out = Command::new("diff")
        .args(["-ruN", "old", "new"])
        .current_dir(root)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let diff = diff::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut files: Vec<_> = diff
        .files
        .iter()
        .map(|f| (f.path().to_owned(), f.status, f.additions(), f.deletions()))
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        files,
        vec![
            ("only_old/x".to_owned(), FileStatus::Deleted, 0, 1),
            ("sp ace.txt".to_owned(), FileStatus::Modified, 1, 1),
            ("src/a.c".to_owned(), FileStatus::Modified, 1, 1),
            ("src/added.c".to_owned(), FileStatus::Added, 2, 0),
            ("src/gone.c".to_owned(), FileStatus::Deleted, 0, 1),
        ]
    );
    for f in &diff.files {
        for l in f.hunks.iter().flat_map(|h| &h.lines) {
            if let Some(n) = l.new_line {
                let text = std::fs::read_to_string(root.join("new").join(f.path())).unwrap();
                assert_eq!(lines(&text)[n as usize - 1], l.content);
            }
        }
    }
    // Without -N, files on one side only are `Only in …` lines: skipped.
    let out = Command::new("diff")
        .args(["-ru", "old", "new"])
        .current_dir(root)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Only in "));
    let diff = diff::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut paths: Vec<_> = diff.files.iter().map(|f| f.path()).collect();
    paths.sort();
    assert_eq!(paths, vec!["sp ace.txt", "src/a.c"]);
}
