//! Unit tests of the rule engine on hand-built diffs (no parser involved).

use std::collections::BTreeMap;

use super::*;
use crate::config::{CustomRule, GlobList, Pattern};
use crate::diff::{FileStatus, Hunk, HunkLine};

/// Build a one-hunk file from pseudo-diff lines: `+added`, `-removed`, ` context`.
fn file_with<'a>(path: &str, section: &'a str, lines: &[&'a str]) -> FileDiff<'a> {
    let (mut old, mut new, mut pos) = (1u32, 1u32, 0u32);
    let mut out = Vec::new();
    for l in lines {
        pos += 1;
        let (kind, content) = match l.as_bytes().first() {
            Some(b'+') => (LineKind::Added, &l[1..]),
            Some(b'-') => (LineKind::Removed, &l[1..]),
            Some(b' ') => (LineKind::Context, &l[1..]),
            _ => panic!("bad pseudo-diff line {l:?}"),
        };
        let (o, n) = match kind {
            LineKind::Added => (None, Some(new)),
            LineKind::Removed => (Some(old), None),
            LineKind::Context => (Some(old), Some(new)),
        };
        if o.is_some() {
            old += 1;
        }
        if n.is_some() {
            new += 1;
        }
        out.push(HunkLine {
            kind,
            old_line: o,
            new_line: n,
            position: pos,
            content,
            no_newline_at_eof: false,
        });
    }
    FileDiff {
        old_path: Some(path.to_owned()),
        new_path: Some(path.to_owned()),
        status: FileStatus::Modified,
        old_mode: None,
        new_mode: None,
        similarity: None,
        binary: false,
        hunks: vec![Hunk {
            old_start: 1,
            old_len: old - 1,
            new_start: 1,
            new_len: new - 1,
            section,
            header_position: 0,
            lines: out,
        }],
        commit: None,
    }
}

fn added(path: &str, lines: &[&str]) -> Vec<Finding> {
    let owned: Vec<String> = lines.iter().map(|l| format!("+{l}")).collect();
    let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
    let f = file_with(path, "", &refs);
    default_set().check_file(&f)
}

/// Every built-in rule on, the opt-in ones (`rust.unwrap`) included.
fn default_set() -> RuleSet {
    let cfg = RulesConfig {
        enable: vec!["rust.unwrap".into()],
        ..RulesConfig::default()
    };
    RuleSet::new(&cfg).unwrap().0
}

/// `(line, rule)` of every hit, with an aggregated finding ("… lines 4, 9, 31") expanded
/// into the lines it names, sorted by line.
fn ids(findings: &[Finding]) -> Vec<(u32, &str)> {
    let mut out: Vec<(u32, &str)> = Vec::new();
    for f in findings {
        let named: Vec<u32> = f
            .title
            .rsplit_once("lines ")
            .map(|(_, list)| {
                list.split(", ")
                    .map_while(|w| w.trim_end_matches(')').parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        if named.is_empty() {
            out.push((f.line, f.rule.as_str()));
        } else {
            out.extend(named.into_iter().map(|l| (l, f.rule.as_str())));
        }
    }
    out.sort_by_key(|(l, _)| *l);
    out
}

/// An obviously fake but well-shaped token body, built at run time so this file holds no
/// string a secret scanner would flag.
fn fake(alphabet: &str, len: usize, seed: u64) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            chars[((x >> 33) % chars.len() as u64) as usize]
        })
        .collect()
}

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

#[test]
fn rules_builtin_ids_are_unique_and_documented_shape() {
    let rules = builtin_rules();
    assert_eq!(rules.len(), RULE_COUNT);
    let mut seen = HashSet::new();
    for r in &rules {
        assert!(seen.insert(r.id.clone()), "duplicate {}", r.id);
        assert!(r.id.contains('.'), "{}", r.id);
        assert!(!r.title.is_empty() && !r.help.is_empty());
        assert!(r.help.len() > 80, "{} has too short a help", r.id);
    }
    for (i, r) in Rule::ALL.iter().enumerate() {
        assert_eq!(r.index(), i);
    }
}

#[test]
fn rules_secret_github_token_is_masked() {
    let tok = format!("gh{}_{}", "p", fake(ALNUM, 36, 1));
    let f = added("src/config.py", &[&format!("GH = \"{tok}\"")]);
    assert_eq!(ids(&f), [(1, "secret.github-token")]);
    let f = &f[0];
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.source, Source::Rules);
    assert_eq!(f.side, Side::Right);
    assert!(!f.anchored);
    assert!(!f.title.contains(&tok[4..12]) && !f.body.contains(&tok[4..12]));
    assert!(
        f.title.contains("ghp_…") && f.title.contains("40 characters"),
        "{}",
        f.title
    );
    assert!(f.body.contains("Revoke"), "{}", f.body);
}

#[test]
fn rules_private_key_needs_material() {
    let begin = format!("-----BEGIN RSA {}-----", "PRIVATE KEY");
    let body = fake(ALNUM, 64, 7);
    let f = added(
        "deploy/id_rsa",
        &[&begin, &body, "-----END RSA PRIVATE KEY-----"],
    );
    assert_eq!(ids(&f), [(1, "secret.private-key")]);
    assert!(!f[0].body.contains(&body[..16]));
    // A PEM parser's constant is not a key.
    let code = format!("    if line == \"{begin}\" {{");
    assert!(added("src/pem.rs", &[&code, "        return Ok(());"]).is_empty());
}

#[test]
fn rules_conflict_markers() {
    let f = added(
        "src/lib.rs",
        &[
            "<<<<<<< HEAD",
            "let a = 1;",
            "=======",
            "let a = 2;",
            ">>>>>>> topic",
        ],
    );
    assert_eq!(ids(&f), [(1, "conflict.marker")]);
    // A setext heading is not a conflict.
    assert!(added("README.md", &["Title", "======="]).is_empty());
    // Without a start marker in the file, an orphan end marker still is one.
    assert_eq!(
        ids(&added("a.txt", &[">>>>>>> main"])),
        [(1, "conflict.marker")]
    );
}

#[test]
fn rules_unwrap_respects_test_context() {
    let f = file_with(
        "src/lib.rs",
        "impl Foo {",
        &[" fn a() {", "+    let x = y.unwrap();", " }"],
    );
    assert_eq!(ids(&default_set().check_file(&f)), [(2, "rust.unwrap")]);
    // Section header says we are in the test module.
    let f = file_with("src/lib.rs", "mod tests {", &["+    let x = y.unwrap();"]);
    assert!(default_set().check_file(&f).is_empty());
    // `#[cfg(test)]` earlier in the hunk.
    let f = file_with(
        "src/lib.rs",
        "",
        &[" #[cfg(test)]", " mod tests {", "+    let x = y.unwrap();"],
    );
    assert!(default_set().check_file(&f).is_empty());
    // Test paths, build scripts, comments, doc comments, lock guards, literals.
    for p in [
        "tests/it.rs",
        "build.rs",
        "benches/b.rs",
        "examples/e.rs",
        "src/parse_test.rs",
        "src/tests.rs",
    ] {
        assert!(added(p, &["let x = y.unwrap();"]).is_empty(), "{p}");
    }
    assert!(
        added(
            "src/lib.rs",
            &[
                "// y.unwrap()",
                "/// let x = y.unwrap();",
                "let g = m.lock().unwrap();",
                "let re = Regex::new(r\"a+\").unwrap();",
                "static RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(&p).unwrap());",
                "let s = \"call .unwrap() here\";",
                "let x = parser.expect(Token::Comma)?;",
                "let v = x.unwrap_or_default();",
            ]
        )
        .is_empty()
    );
    assert_eq!(
        ids(&added("src/lib.rs", &["let v = opt.expect(\"present\");"])),
        [(1, "rust.unwrap")]
    );
}

#[test]
fn rules_modified_lines_are_not_new() {
    // An edited console.log, a re-indented unwrap and a modified TODO were already there.
    let f = file_with(
        "src/app.js",
        "",
        &[
            "-  console.log(help(settings.help));",
            "+  console.log(help(options.help));",
            " x();",
            "-// TODO: one",
            "+// TODO: one and two",
        ],
    );
    assert!(default_set().check_file(&f).is_empty());
    let f = file_with(
        "src/lib.rs",
        "",
        &[
            "-let a = b.unwrap();",
            " fn f() {",
            "+    let a = b.unwrap();",
            " }",
        ],
    );
    assert!(default_set().check_file(&f).is_empty());
    // One replaced, one new: the new one is reported.
    let f = file_with(
        "src/lib.rs",
        "",
        &[
            "-let a = b.unwrap();",
            "+let a = c.unwrap();",
            "+let d = e.unwrap();",
        ],
    );
    assert_eq!(ids(&default_set().check_file(&f)), [(2, "rust.unwrap")]);
}

#[test]
fn rules_debug_leftovers() {
    let js = added(
        "src/app.ts",
        &[
            "console.log(user);",
            "  debugger;",
            "// console.log(x)",
            "logger.log('x')",
        ],
    );
    assert_eq!(
        ids(&js),
        [(1, "debug.console-log"), (2, "debug.js-debugger")]
    );
    assert_eq!(
        ids(&added(
            "src/app.test.ts",
            &["console.log(user);", "debugger"]
        )),
        [(2, "debug.js-debugger")]
    );
    assert!(added("bin/cli.js", &["console.log(help());"]).is_empty());
    assert_eq!(
        ids(&added("src/main.rs", &["dbg!(&x);"])),
        [(1, "debug.rust-dbg")]
    );
    let py = added(
        "app/views.py",
        &[
            "breakpoint()",
            "import pdb; pdb.set_trace()",
            "import ipdb",
            "self.breakpoint()",
            "def breakpoint(self):",
        ],
    );
    assert_eq!(
        ids(&py),
        [
            (1, "debug.python-breakpoint"),
            (2, "debug.python-breakpoint"),
            (3, "debug.python-breakpoint")
        ]
    );
    assert_eq!(
        ids(&added(
            "app/models/user.rb",
            &["    binding.pry", "  byebug", "gem 'byebug'"]
        )),
        [(1, "debug.ruby-debugger"), (2, "debug.ruby-debugger")]
    );
    assert_eq!(
        ids(&added(
            "index.php",
            &["var_dump($x);", "$s = print_r($x, true);", "print_r($y);"]
        )),
        [(1, "debug.php-dump"), (3, "debug.php-dump")]
    );
}

#[test]
fn rules_tests_disabled_and_focused() {
    let f = added(
        "src/a.test.js",
        &[
            "it.skip('works', () => {",
            "xdescribe('x', () => {",
            "describe.only('y', () => {",
            "fit('z', () => {",
        ],
    );
    assert_eq!(
        ids(&f),
        [
            (1, "test.disabled"),
            (2, "test.disabled"),
            (3, "test.focused"),
            (4, "test.focused")
        ]
    );
    assert_eq!(
        ids(&added(
            "tests/test_x.py",
            &[
                "@pytest.mark.skip(reason='flaky')",
                "@pytest.mark.skipif(sys.platform == 'win32', reason='')",
                "@unittest.skip('x')",
                "@unittest.skipIf(True, 'x')"
            ]
        )),
        [(1, "test.disabled"), (3, "test.disabled")]
    );
    assert_eq!(
        ids(&added("src/lib.rs", &["    #[ignore]"])),
        [(1, "test.disabled")]
    );
    let go = file_with(
        "pkg/a_test.go",
        "",
        &[
            "+\tt.Skip(\"broken\")",
            " \tif testing.Short() {",
            "+\t\tt.Skip(\"slow\")",
            " \t}",
        ],
    );
    assert_eq!(ids(&default_set().check_file(&go)), [(1, "test.disabled")]);
    // `exit(` and a plain function named fit outside tests are not tests.
    assert!(added("src/a.js", &["process.exit(1);", "fit(model);"]).is_empty());
}

#[test]
fn rules_curl_pipe_shell() {
    for l in [
        "RUN curl -fsSL https://example.com/install.sh | sh",
        "curl -sSf https://sh.rustup.rs | sudo -E bash -s -- -y",
        "wget -qO- https://get.example.com | bash",
        "bash <(curl -s https://x.example/i.sh)",
        "sh -c \"$(curl -fsSL https://x.example/i.sh)\"",
    ] {
        assert_eq!(
            ids(&added("scripts/setup.sh", &[l])),
            [(1, "security.curl-pipe-shell")],
            "{l}"
        );
    }
    for l in [
        "curl -fsSL https://x.example/a.tgz | tar xz",
        "curl -f https://x.example || echo failed | sh_wrapper",
        "# curl https://x.example | sh",
        "curl https://x.example/sum | shasum -c",
    ] {
        assert!(added("scripts/setup.sh", &[l]).is_empty(), "{l}");
    }
    assert!(added("README.md", &["curl https://sh.rustup.rs | sh"]).is_empty());
}

#[test]
fn rules_eval() {
    assert_eq!(
        ids(&added("src/a.js", &["const r = eval(userInput);"])),
        [(1, "security.eval")]
    );
    assert_eq!(
        ids(&added("app/x.py", &["result = eval(expr)"])),
        [(1, "security.eval")]
    );
    assert_eq!(
        ids(&added("x.php", &["eval($code);"])),
        [(1, "security.eval")]
    );
    assert_eq!(
        ids(&added("x.rb", &["eval params[:code]"])),
        [(1, "security.eval")]
    );
    assert!(
        added(
            "train.py",
            &[
                "model.eval()",
                "value = ast.literal_eval(text)",
                "def eval(self, mode=True):",
                "self.evaluate(x)",
                "# eval(x)",
                "print('eval(x)')",
                "metrics = run_eval(cfg)",
            ]
        )
        .is_empty()
    );
    assert!(
        added(
            "lib/a.rb",
            &["klass.instance_eval(&block)", "class_eval <<~RUBY"]
        )
        .is_empty()
    );
    assert!(added("src/lib.rs", &["let v = eval(x);"]).is_empty());
}

#[test]
fn rules_sql_concat() {
    for (path, l) in [
        (
            "app/db.py",
            "cur.execute(\"SELECT * FROM users WHERE id = \" + user_id)",
        ),
        (
            "app/db.py",
            "cur.execute(f\"SELECT name FROM users WHERE id = {uid}\")",
        ),
        ("app/db.py", "q = \"DELETE FROM users WHERE id = %s\" % uid"),
        (
            "app/db.py",
            "q = \"UPDATE users SET name = '{}'\".format(name)",
        ),
        (
            "src/db.js",
            "db.query(`SELECT * FROM users WHERE id = ${id}`)",
        ),
        (
            "src/db.rs",
            "let q = format!(\"SELECT * FROM users WHERE id = {id}\");",
        ),
        (
            "db/q.go",
            "q := fmt.Sprintf(\"INSERT INTO logs VALUES ('%s')\", msg)",
        ),
        (
            "x.php",
            "$q = \"SELECT * FROM users WHERE name = '$name'\";",
        ),
        ("x.php", "$q = 'SELECT * FROM users WHERE id = ' . $id;"),
        (
            "app/x.rb",
            "User.find_by_sql(\"SELECT * FROM users WHERE id = #{id}\")",
        ),
    ] {
        assert_eq!(ids(&added(path, &[l])), [(1, "security.sql-concat")], "{l}");
    }
    for (path, l) in [
        (
            "app/db.py",
            "cur.execute(\"SELECT * FROM users WHERE id = %s\", (user_id,))",
        ),
        (
            "src/db.js",
            "db.query(sql`SELECT * FROM users WHERE id = ${id}`)",
        ),
        (
            "src/db.js",
            "db.query('SELECT * FROM users WHERE id = $1', [id + 1])",
        ),
        ("src/ui.js", "label = 'Select a file from ' + dir"),
        (
            "src/db.rs",
            "sqlx::query(\"SELECT * FROM users WHERE id = ?\").bind(id)",
        ),
        ("src/db.rs", "let q = format!(\"{{}} rows\");"),
        (
            "tests/test_db.py",
            "cur.execute(\"SELECT * FROM t WHERE id = \" + x)",
        ),
        (
            "app/db.py",
            "# q = \"SELECT * FROM users WHERE id = \" + uid",
        ),
        (
            "app/db.py",
            "q = \"SELECT * FROM users \" + \"WHERE id = 1\"",
        ),
    ] {
        assert!(added(path, &[l]).is_empty(), "{l}");
    }
}

#[test]
fn rules_todo_in_comments_only() {
    let f = added(
        "src/a.rs",
        &[
            "// TODO: handle errors",
            "let s = \"TODO\";",
            "todo!()",
            "/* FIXME later */",
            "let x = 0xXXX;",
        ],
    );
    assert_eq!(ids(&f), [(1, "todo.added"), (4, "todo.added")]);
    assert_eq!(f.len(), 1, "one finding per file");
    assert_eq!(f[0].severity, Severity::Nit);
    assert_eq!(f[0].title, "2 new TODO/FIXME comments: lines 1, 4");
    assert!(f[0].body.contains("TODO: handle errors"), "{}", f[0].body);
    // XXX and HACK mark notes as often as work: not reported.
    assert!(added("a.py", &["x = 1  # XXX: hack around"]).is_empty());
    assert!(added("notes.md", &["TODO: write docs"]).is_empty());
}

fn custom_rule(id: &str, regex: &str, paths: &[&str], exclude: &[&str]) -> CustomRule {
    CustomRule {
        id: id.to_owned(),
        regex: Pattern(regex::Regex::new(regex).unwrap()),
        message: format!("{id} message"),
        title: None,
        severity: Severity::Minor,
        paths: GlobList::new(paths).unwrap(),
        exclude_paths: GlobList::new(exclude).unwrap(),
    }
}

#[test]
fn rules_overrides_disable_and_custom() {
    let cfg = RulesConfig {
        disable: vec!["debug.".into(), "todo.added".into()],
        enable: vec!["rust.unwrap".into()],
        severity: BTreeMap::from([
            ("rust.unwrap".to_owned(), Severity::Major),
            ("acme.no-println".to_owned(), Severity::Nit),
        ]),
        custom: vec![
            custom_rule(
                "acme.no-println",
                r"\bprintln!",
                &["src/**/*.rs"],
                &["src/bin/**"],
            ),
            custom_rule("acme.no-http", r"http://", &[], &[]),
        ],
    };
    let (set, warnings) = RuleSet::new(&cfg).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let ids_enabled: Vec<String> = set.rules().into_iter().map(|r| r.id).collect();
    assert!(
        !ids_enabled
            .iter()
            .any(|i| i.starts_with("debug.") || i == "todo.added")
    );
    assert!(ids_enabled.contains(&"acme.no-println".to_owned()));
    let f = file_with(
        "src/lib.rs",
        "",
        &[
            "+dbg!(x); // TODO",
            "+let a = b.unwrap();",
            "+println!(\"http://x\");",
        ],
    );
    let found = set.check_file(&f);
    assert_eq!(
        ids(&found),
        [
            (2, "rust.unwrap"),
            (3, "acme.no-println"),
            (3, "acme.no-http")
        ]
    );
    assert_eq!(found[0].severity, Severity::Major);
    assert_eq!(found[1].severity, Severity::Nit);
    assert_eq!(found[1].title, "acme.no-println");
    assert_eq!(found[1].body, "acme.no-println message");
    // Excluded path.
    let f = file_with("src/bin/main.rs", "", &["+println!(\"x\");"]);
    assert!(set.check_file(&f).is_empty());
}

#[test]
fn rules_config_errors_and_warnings() {
    let cfg = RulesConfig {
        custom: vec![custom_rule("secret.generic", "x", &[], &[])],
        ..RulesConfig::default()
    };
    let err = RuleSet::new(&cfg).unwrap_err();
    assert!(
        err.contains("secret.generic") && err.contains("built-in"),
        "{err}"
    );

    let cfg = RulesConfig {
        disable: vec![
            "secret.githb-token".into(),
            "secrets.*".into(),
            "nonsense".into(),
            "debug.".into(),
        ],
        severity: BTreeMap::from([("rust.unwarp".to_owned(), Severity::Nit)]),
        enable: vec![],
        custom: vec![],
    };
    let (_, w) = RuleSet::new(&cfg).unwrap();
    assert_eq!(w.len(), 4, "{w:?}");
    assert!(
        w[0].contains("did you mean `secret.github-token`"),
        "{}",
        w[0]
    );
    assert!(w[1].contains("did you mean `secret.`"), "{}", w[1]);
    assert!(w[2].contains("unknown rule id `nonsense`"), "{}", w[2]);
    assert!(
        w[3].starts_with("rules.severity") && w[3].contains("`rust.unwrap`"),
        "{}",
        w[3]
    );
}

#[test]
fn rules_generated_files_only_get_secret_checks() {
    let tok = format!("AKIA{}", fake("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 3));
    let f = added(
        "dist/app.min.js",
        &["console.log(x);eval(y);debugger;", &format!("k=\"{tok}\"")],
    );
    assert_eq!(ids(&f), [(2, "secret.aws-access-key-id")]);
}

#[test]
fn rules_binary_and_deleted_files_have_no_findings() {
    let mut f = file_with("a.rs", "", &["+dbg!(x);"]);
    f.binary = true;
    assert!(default_set().check_file(&f).is_empty());
    let mut f = file_with("a.rs", "", &["-dbg!(x);"]);
    f.new_path = None;
    f.status = FileStatus::Deleted;
    assert!(default_set().check_file(&f).is_empty());
}

#[test]
fn rules_inline_suppression() {
    let f = added(
        "src/app.js",
        &[
            "console.log(a); // nectr:ignore",
            "// nectr:ignore debug.console-log",
            "console.log(b);",
            "// nectr:ignore todo.added",
            "console.log(c);",
            "// eslint-disable-next-line no-console",
            "console.warn(d); console.log(d);",
            "eval(x); // eslint-disable-line no-eval",
            "eval(y); // nectr:ignore security.",
        ],
    );
    assert_eq!(ids(&f), [(5, "debug.console-log")]);
    let tok = format!("AKIA{}", fake("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 9));
    assert!(added("a.py", &[&format!("K = '{tok}'  # gitleaks:allow")]).is_empty());
    assert!(
        added(
            "src/lib.rs",
            &["#[allow(clippy::unwrap_used)]", "let a = b.unwrap();"]
        )
        .is_empty()
    );
}

#[test]
fn rules_rust_test_scope_ends_with_its_item() {
    // A test-only helper, then production code in the same hunk.
    let f = file_with(
        "src/lib.rs",
        "",
        &[
            " #[cfg(test)]",
            " fn helper() -> u8 {",
            "+    x.unwrap()",
            " }",
            " ",
            "+fn prod() { y.unwrap(); }",
            " #[cfg(test)]",
            " use foo::bar;",
            "+fn prod2() { z.unwrap(); }",
            " #[cfg(not(test))]",
            "+fn prod3() { w.unwrap(); }",
        ],
    );
    assert_eq!(
        ids(&default_set().check_file(&f)),
        [(6, "rust.unwrap"), (9, "rust.unwrap"), (11, "rust.unwrap")]
    );
    // Hunk inside `mod tests` (section) that runs past the module's end.
    let f = file_with(
        "src/lib.rs",
        "mod tests {",
        &[
            "+    let a = b.unwrap();",
            " }",
            "+fn prod() { c.unwrap(); }",
        ],
    );
    assert_eq!(ids(&default_set().check_file(&f)), [(3, "rust.unwrap")]);
}

#[test]
fn rules_todo_as_a_type_is_not_a_note() {
    let f = added(
        "lib/x.js",
        &[
            " * @param {TODO} b b",
            "const l = /** @type {TODO} */ (stream).columns;",
            "/** @type {HookMap<SyncBailHook<[TODO, ParserOptions], void>>} */",
            "/** @typedef {{ name: string, filename: TODO }} Options */",
            "// TODO drop it in webpack@6",
            "// a modified TODO is not a new one",
            "// see XXX: the workaround below",
            "// the fixture's `// XXX: surrogate` comment",
        ],
    );
    // `XXX` is not a marker the rule reports (notes use it as often as work).
    assert_eq!(ids(&f), [(5, "todo.added")]);
}

#[test]
fn rules_unwrap_continuation_lines_and_tracked_skips() {
    let f = file_with(
        "src/time.rs",
        "",
        &[
            "+        let lock = self.wheels",
            "+            .write()",
            "+            .expect(\"poisoned\");",
            "+        let v = self.map",
            "+            .get(&k)",
            "+            .expect(\"present\");",
        ],
    );
    assert_eq!(ids(&default_set().check_file(&f)), [(6, "rust.unwrap")]);
    assert!(
        added(
            "tests/rt.rs",
            &[
                "#[ignore] // https://github.com/o/r/issues/5995",
                "#[ignore = \"flaky, see #6470\"]"
            ]
        )
        .is_empty()
    );
    assert_eq!(
        ids(&added("tests/rt.rs", &["#[ignore]"])),
        [(1, "test.disabled")]
    );
}

#[test]
fn rules_prefilter_bits_are_disjoint_between_modules() {
    let tables = [
        secrets::PREFILTER,
        secrets::EXACT_PREFIXES,
        debug::PREFILTER,
        hygiene::PREFILTER,
        security::PREFILTER,
    ];
    let bits = |t: &[(&str, u32)]| t.iter().fold(0u32, |acc, (_, b)| acc | b);
    let modules = [
        bits(secrets::PREFILTER) | bits(secrets::EXACT_PREFIXES),
        bits(debug::PREFILTER),
        bits(hygiene::PREFILTER),
        bits(security::PREFILTER),
    ];
    for (i, a) in modules.iter().enumerate() {
        for b in &modules[i + 1..] {
            assert_eq!(a & b, 0, "modules share prefilter bits");
        }
    }
    for t in tables {
        for (word, bit) in t {
            assert!(bit.is_power_of_two(), "{word}");
            assert!(!word.is_empty());
        }
    }
    // Generated files get the prefix-specific secret shapes only (no JWT, URL or
    // bearer heuristics).
    assert_eq!(bits(secrets::EXACT_PREFIXES) & !secrets::P_SPECIFIC, 0);
    assert_ne!(bits(secrets::EXACT_PREFIXES) & secrets::P_TOKENS, 0);
}
