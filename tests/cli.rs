//! The `nectr` binary as users run it: arguments, exit codes, stdin, config files and the
//! one-line errors. Every run has an empty environment (no token, no network settings).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example() -> PathBuf {
    root().join("examples/pr.diff")
}

/// Run `nectr` in `dir` with a cleared environment, feeding `stdin`.
fn run_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nectr"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nectr");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        pipe.write_all(bytes).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), args, None)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A user error: exit 2, a single `error:` line on stderr, no panic text.
fn assert_input_error(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    err
}

fn json_review(args: &[&str]) -> Value {
    let o = run(args);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("valid JSON")
}

#[test]
fn version_and_help() {
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o).trim(),
        format!("nectr {}", env!("CARGO_PKG_VERSION"))
    );
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("review"));
    assert!(stdout(&o).contains("keygen"));
    let o = run(&["review", "--help"]);
    let help = stdout(&o);
    assert!(help.contains("--fail-on"));
    for part in [
        "Examples:",
        "git diff main... | nectr review --diff -",
        "Environment:",
        "GITHUB_TOKEN",
        "OPENAI_API_KEY",
        "Exit codes:",
        "docs/interface.md",
        "--verbose",
        "--quiet",
    ] {
        assert!(help.contains(part), "{part}: {help}");
    }
}

#[test]
fn unknown_flags_and_missing_input_are_usage_errors() {
    let o = run(&["review", "--diff", "x", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["review"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--diff"));
    let o = run(&["review", "--diff", "x", "--format", "yaml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn reviews_the_example_as_json() {
    let v = json_review(&[
        "review",
        "--diff",
        example().to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(v["schema"], "nectr.review/v1");
    assert!(v["pr"].is_null());
    assert!(v["posted"].is_null());
    assert_eq!(v["stats"]["files"], 5);
    let findings = v["findings"].as_array().unwrap();
    let rules: Vec<&str> = findings
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules[0], "secret.github-token",
        "most severe first: {rules:?}"
    );
    for expected in ["security.eval", "security.sql-concat", "todo.added"] {
        assert!(
            rules.contains(&expected),
            "{expected} missing from {rules:?}"
        );
    }
    let token = &findings[0];
    assert_eq!(token["path"], "app/settings.py");
    assert_eq!(token["line"], 4);
    assert_eq!(token["anchored"], true);
    assert_eq!(token["side"], "RIGHT");
    // The token itself appears nowhere in the output.
    let text = v.to_string();
    assert!(!text.contains("R8x2Kq7LmN4pV9sT1wY6zA3bC5dE0fG2hJ4k"));
    assert!(
        findings.iter().all(|f| f["anchored"] == true),
        "rule findings sit on added lines"
    );
    let skipped = &v["stats"]["skipped_files"][0];
    assert_eq!(skipped["path"], "docs/logo.png");
    assert_eq!(skipped["reason"], "binary file");
}

#[test]
fn fail_on_sets_the_exit_code() {
    let diff = example();
    let diff = diff.to_str().unwrap();
    assert_eq!(run(&["review", "--diff", diff]).status.code(), Some(0));
    assert_eq!(
        run(&["review", "--diff", diff, "--fail-on", "never"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["review", "--diff", diff, "--fail-on", "critical"])
            .status
            .code(),
        Some(1)
    );
    let clean = "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-hello\n+hello, world\n";
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", "-", "--fail-on", "minor"],
        Some(clean.as_bytes()),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("No findings in 1 file (+1 -1)."));
}

#[test]
fn reads_standard_input() {
    let text = std::fs::read(example()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", "-", "--format", "markdown"],
        Some(&text),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = stdout(&o);
    assert!(md.starts_with("### Nectr review"), "{md}");
    assert!(md.contains("`app/settings.py:4`"));
    assert!(md.contains("**Inline comment on `app/db.py:"));
}

#[test]
fn sarif_output() {
    let o = run(&[
        "review",
        "--diff",
        example().to_str().unwrap(),
        "--format",
        "sarif",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty());
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "app/settings.py"
    );
}

#[test]
fn text_has_no_colour_when_piped_unless_asked() {
    let diff = example();
    let plain = run(&["review", "--diff", diff.to_str().unwrap()]);
    assert!(!stdout(&plain).contains('\x1b'));
    assert!(stdout(&plain).contains("app/settings.py:4: critical secret.github-token: "));
    let coloured = run(&[
        "review",
        "--diff",
        diff.to_str().unwrap(),
        "--color",
        "always",
    ]);
    assert!(stdout(&coloured).contains('\x1b'));
}

#[test]
fn not_a_diff_is_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", "-"],
        Some(b"hello, this is a README\nnot a diff\n"),
    );
    let err = assert_input_error(&o);
    assert!(err.contains("standard input is not a usable diff"), "{err}");
    // Bytes that are not UTF-8 get a warning first, then the same one-line error.
    let o = run_in(
        dir.path(),
        &["review", "--diff", "-"],
        Some(&[0xff, 0xfe, 0x00, 0x01, 0x02]),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.lines()
            .next()
            .unwrap()
            .starts_with("warning: standard input is not valid UTF-8"),
        "{err}"
    );
    assert!(
        err.lines()
            .nth(1)
            .unwrap()
            .starts_with("error: standard input is not a usable diff"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn a_hunk_that_lies_is_refused_with_its_line() {
    let lying =
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,5 @@\n line\n+added\n";
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", "-"],
        Some(lying.as_bytes()),
    );
    let err = assert_input_error(&o);
    assert!(err.contains("line "), "{err}");
    let absurd = "diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -1,1 +4294967295,1 @@\n-x\n+y\n";
    let o = run_in(
        dir.path(),
        &["review", "--diff", "-"],
        Some(absurd.as_bytes()),
    );
    assert_input_error(&o);
}

#[test]
fn empty_input_has_nothing_to_review() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", "-", "--fail-on", "minor"],
        Some(b""),
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("nothing to review"));
}

#[test]
fn missing_file_says_what_to_pass() {
    let err = assert_input_error(&run(&["review", "--diff", "/no/such/file.diff"]));
    assert!(err.contains("/no/such/file.diff"), "{err}");
    assert!(err.contains("git diff"), "says what to pass instead: {err}");
}

#[test]
fn non_utf8_diff_is_reviewed_with_a_warning() {
    let mut bytes =
        b"diff --git a/l.txt b/l.txt\n--- a/l.txt\n+++ b/l.txt\n@@ -1 +1 @@\n-caf".to_vec();
    bytes.extend_from_slice(&[0xe9]);
    bytes.extend_from_slice(b"\n+debugger;\n");
    let dir = tempfile::tempdir().unwrap();
    let o = run_in(dir.path(), &["review", "--diff", "-"], Some(&bytes));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("not valid UTF-8"));
}

#[test]
fn config_is_discovered_validated_and_applied() {
    let dir = tempfile::tempdir().unwrap();
    let diff = example();
    let diff = diff.to_str().unwrap();
    std::fs::write(
        dir.path().join(".nectr.yml"),
        "rules:\n  disable: [todo.added]\n  enable: [rust.unwrap]\n  severity: {rust.unwrap: critical}\nmax_inline_comments: 1\nsurprise: true\n",
    )
    .unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", diff, "--format", "json"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown key `surprise`"),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert!(findings.iter().all(|f| f["rule"] != "todo.added"));
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "rust.unwrap" && f["severity"] == "critical")
    );
    let anchored = findings.iter().filter(|f| f["anchored"] == true).count();
    assert_eq!(anchored, 1, "the cap leaves one inline comment");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .contains("over the limit of 1 inline comments")
    );

    std::fs::write(
        dir.path().join("bad.yml"),
        "rules:\n  severity:\n    rust.unwrap: huge\n",
    )
    .unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", diff, "--config", "bad.yml"],
        None,
    );
    let err = assert_input_error(&o);
    assert!(err.contains("bad.yml") && err.contains("line 3"), "{err}");

    let o = run_in(
        dir.path(),
        &["review", "--diff", diff, "--config", "missing.yml"],
        None,
    );
    let err = assert_input_error(&o);
    assert!(err.contains("missing.yml"), "{err}");
    // The OS error once, not once per layer of the error chain.
    assert_eq!(err.matches("No such file").count(), 1, "{err}");

    std::fs::write(
        dir.path().join("typo.yml"),
        "disabel: [todo.added]
rules:
  disabel: [x]
",
    )
    .unwrap();
    let o = run_in(
        dir.path(),
        &["review", "--diff", diff, "--config", "typo.yml"],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("unknown key `disabel` ignored; did you mean `rules.disable`?"),
        "{err}"
    );
    assert!(
        err.contains("unknown key `rules.disabel` ignored; did you mean `rules.disable`?"),
        "{err}"
    );
}

/// The text format's default output for the example fits on one screen: one line per
/// finding and a tally, nothing else.
#[test]
fn text_output_is_one_line_per_finding() {
    let diff = example();
    let json = json_review(&[
        "review",
        "--diff",
        diff.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let findings = json["findings"].as_array().unwrap().len();
    let o = run(&["review", "--diff", diff.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), findings + 1, "{out}");
    assert!(out.lines().count() <= 24, "one screen: {out}");
    for line in out.lines().take(findings) {
        // path:line: severity rule: message
        let (place, rest) = line.split_once(": ").unwrap();
        assert!(
            place.rsplit_once(':').unwrap().1.parse::<u32>().is_ok() || place.contains('-'),
            "{line}"
        );
        let (head, message) = rest.split_once(": ").unwrap();
        let (severity, rule) = head.split_once(' ').unwrap();
        assert!(
            ["critical", "major", "minor", "nit"].contains(&severity),
            "{line}"
        );
        assert!(rule.contains('.'), "{line}");
        assert!(!message.contains("**"), "no raw markdown: {line}");
    }
    let tally = out.lines().last().unwrap();
    assert!(
        tally.starts_with(&format!("{findings} findings (")),
        "{tally}"
    );
    assert!(tally.contains("Rules only"), "{tally}");
    // Progress never goes to a pipe.
    assert!(!stderr(&o).contains('\r'), "{}", stderr(&o));
    let verbose = run(&["review", "--diff", diff.to_str().unwrap(), "--verbose"]);
    assert!(stdout(&verbose).lines().count() > findings * 2);
}

/// Nothing in the repository points outside it: the contract is `docs/interface.md`.
#[test]
fn no_reference_leaves_the_repository() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !["target", ".git", "vendor", "fixtures", "node_modules"]
                    .contains(&name.as_str())
                {
                    walk(&path, out);
                }
            } else if ["rs", "md", "yml", "yaml", "toml", "sh"]
                .iter()
                .any(|e| name.ends_with(&format!(".{e}")))
            {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root(), &mut files);
    assert!(files.len() > 50, "{}", files.len());
    assert!(root().join("docs/interface.md").is_file());
    // Spelled in pieces so this file does not match itself.
    let outside = [
        format!("../{}", "shared"),
        format!("{}.md", "STACK"),
        format!("{}.md", "INTERFACE"),
    ];
    let mut bad = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o.as_str())) {
                bad.push(format!("{}:{}: {line}", path.display(), n + 1));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "references outside the repository:\n{}",
        bad.join("\n")
    );
}

#[test]
fn custom_rule_from_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".nectr.yml"),
        "rules:\n  custom:\n    - id: no-env-get\n      regex: 'os\\.environ\\.get'\n      message: Read settings through `config.py`.\n      severity: major\n      paths: ['app/**']\n",
    )
    .unwrap();
    let o = run_in(
        dir.path(),
        &[
            "review",
            "--diff",
            example().to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let hit = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "no-env-get")
        .expect("custom rule fired");
    assert_eq!(hit["path"], "app/settings.py");
    assert_eq!(hit["line"], 3);
    assert_eq!(hit["severity"], "major");
    assert!(hit["body"].as_str().unwrap().contains("config.py"));
}

#[test]
fn keygen_prints_a_working_fernet_key() {
    let a = run(&["keygen"]);
    let b = run(&["keygen"]);
    assert_eq!(a.status.code(), Some(0));
    let (a, b) = (stdout(&a), stdout(&b));
    assert_ne!(a, b);
    let key = a.trim();
    assert_eq!(key.len(), 44);
    let fernet = fernet::Fernet::new(key).expect("a valid Fernet key");
    let token = fernet.encrypt(b"secret");
    assert_eq!(fernet.decrypt(&token).unwrap(), b"secret");
}
