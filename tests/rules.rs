//! The built-in rules on crafted diffs, through the real diff parser: every rule fires on
//! a true positive, secrets are masked, tests/comments/placeholders stay quiet, and
//! `rules.disable`, `rules.severity` and custom rules from `.nectr.yml` work.
//!
//! Secret-shaped tokens are generated at run time (prefix + pseudo-random body) so that
//! this repository never contains a string a secret scanner would flag.

use std::time::Instant;

use nectr::config::{RepoConfig, RulesConfig};
use nectr::diff::{Side, parse};
use nectr::review::finding::{Finding, Severity, Source};
use nectr::review::rules::{FileContext, RuleSet, builtin_rules, package_makes_cli};

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A deterministic pseudo-random string over `alphabet`.
fn fake(alphabet: &str, len: usize, seed: u64) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            chars[((x >> 33) % chars.len() as u64) as usize]
        })
        .collect()
}

/// A diff adding `files` (path, lines) as new files.
fn new_files(files: &[(&str, Vec<String>)]) -> String {
    let mut d = String::new();
    for (path, lines) in files {
        d.push_str(&format!(
            "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
            lines.len()
        ));
        for l in lines {
            d.push('+');
            d.push_str(l);
            d.push('\n');
        }
    }
    d
}

fn check(set: &RuleSet, diff_text: &str) -> Vec<Finding> {
    let diff = parse(diff_text).expect("test diff parses");
    diff.files.iter().flat_map(|f| set.check_file(f)).collect()
}

/// Every built-in rule on, the opt-in `rust.unwrap` included.
fn default_set() -> RuleSet {
    let cfg = RulesConfig {
        enable: vec!["rust.unwrap".into()],
        ..RulesConfig::default()
    };
    let (set, warnings) = RuleSet::new(&cfg).unwrap();
    assert!(warnings.is_empty());
    set
}

fn one(path: &str, line: &str) -> Vec<(String, u32)> {
    check(&default_set(), &new_files(&[(path, vec![line.to_owned()])]))
        .into_iter()
        .map(|f| (f.rule, f.line))
        .collect()
}

struct Secret {
    path: &'static str,
    line: String,
    value: String,
    rule: &'static str,
    shown_prefix: Option<&'static str>,
}

fn secrets() -> Vec<Secret> {
    let gh = format!("{}_{}", "ghp", fake(ALNUM, 36, 1));
    let gh_fine = format!("{}_{}", "github_pat", fake(&format!("{ALNUM}_"), 82, 2));
    let aws = format!("{}{}", "AKIA", fake(BASE32, 16, 3));
    let slack = format!(
        "{}-{}-{}-{}",
        "xoxb",
        fake("0123456789", 12, 4),
        fake("0123456789", 13, 5),
        fake(ALNUM, 24, 6)
    );
    let hook = format!(
        "https://hooks.slack.com/services/T{}/B{}/{}",
        fake(BASE32, 8, 7),
        fake(BASE32, 10, 8),
        fake(ALNUM, 24, 9)
    );
    let stripe = format!("{}_{}_{}", "sk", "live", fake(ALNUM, 24, 10));
    let google = format!("{}{}", "AIza", fake(&format!("{ALNUM}-_"), 35, 11));
    let generic = fake(ALNUM, 32, 12);
    let generic_yaml = fake(ALNUM, 24, 13);
    vec![
        Secret {
            path: "app/settings.py",
            line: format!("GH = \"{gh}\""),
            value: gh,
            rule: "secret.github-token",
            shown_prefix: Some("ghp_"),
        },
        Secret {
            path: "deploy/env.sh",
            line: format!("export GH={gh_fine}"),
            value: gh_fine,
            rule: "secret.github-token",
            shown_prefix: Some("gith"),
        },
        Secret {
            path: "infra/main.tf",
            line: format!("  access_key_id = \"{aws}\""),
            value: aws,
            rule: "secret.aws-access-key-id",
            shown_prefix: Some("AKIA"),
        },
        Secret {
            path: "src/notify.js",
            line: format!("const slack = '{slack}';"),
            value: slack,
            rule: "secret.slack-token",
            shown_prefix: Some("xoxb"),
        },
        Secret {
            path: "config/alerts.yml",
            line: format!("webhook: {hook}"),
            value: hook,
            rule: "secret.slack-token",
            shown_prefix: None,
        },
        Secret {
            path: "src/billing.rb",
            line: format!("Stripe.api_key = '{stripe}'"),
            value: stripe,
            rule: "secret.stripe-key",
            shown_prefix: Some("sk_l"),
        },
        Secret {
            path: "web/maps.ts",
            line: format!("const MAPS = \"{google}\";"),
            value: google,
            rule: "secret.google-api-key",
            shown_prefix: Some("AIza"),
        },
        Secret {
            path: "src/client.go",
            line: format!("\tclientSecret := \"{generic}\""),
            value: generic,
            rule: "secret.generic",
            shown_prefix: None,
        },
        Secret {
            path: "deploy/values.yaml",
            line: format!("  db_password: {generic_yaml}"),
            value: generic_yaml,
            rule: "secret.generic",
            shown_prefix: None,
        },
    ]
}

#[test]
fn every_secret_rule_fires_and_never_shows_the_secret() {
    let set = default_set();
    for s in secrets() {
        let found = check(&set, &new_files(&[(s.path, vec![s.line.clone()])]));
        assert_eq!(found.len(), 1, "{}: {found:#?}", s.line);
        let f = &found[0];
        assert_eq!(f.rule, s.rule, "{}", s.line);
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!((f.path.as_str(), f.line, f.side), (s.path, 1, Side::Right));
        assert_eq!(f.source, Source::Rules);
        assert!(!f.anchored);
        // No 8-character window of the secret part (after its public, well-known prefix)
        // appears anywhere in the finding.
        let public = [
            "github_pat_",
            "https://hooks.slack.com/services/",
            "sk_live_",
            "xoxb-",
        ]
        .iter()
        .find(|p| s.value.starts_with(*p))
        .map_or(4, |p| p.len());
        let v: Vec<char> = s.value.chars().skip(public).collect();
        for w in v.windows(8) {
            let w: String = w.iter().collect();
            assert!(
                !f.title.contains(&w) && !f.body.contains(&w),
                "{} leaks {w:?}: {} / {}",
                s.rule,
                f.title,
                f.body
            );
        }
        if let Some(p) = s.shown_prefix {
            assert!(f.title.contains(&format!("{p}…")), "{}", f.title);
        }
        assert!(
            f.title
                .contains(&format!("{} characters", s.value.chars().count())),
            "{}",
            f.title
        );
        let lower = f.body.to_lowercase();
        assert!(
            lower.contains("revoke") || lower.contains("rotate") || lower.contains("roll"),
            "{}",
            f.body
        );
        assert!(lower.contains("history"), "{}", f.body);
    }
}

#[test]
fn private_key_blocks() {
    let begin = format!("-----BEGIN OPENSSH {}-----", "PRIVATE KEY");
    let body = fake(&format!("{ALNUM}+/"), 70, 20);
    let end = format!("-----END OPENSSH {}-----", "PRIVATE KEY");
    let lines = vec![begin.clone(), body.clone(), end.clone()];
    let found = check(
        &default_set(),
        &new_files(&[("deploy/id_ed25519", lines.clone())]),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].rule.as_str(), found[0].line),
        ("secret.private-key", 1)
    );
    assert!(
        found[0].title.contains("OPENSSH private key"),
        "{}",
        found[0].title
    );
    assert!(!found[0].body.contains(&body[..12]));
    // The same block as a JSON string (a cloud service-account file).
    let json = format!(
        "  \"private_key\": \"{}\\n{}\\n{}\\n\",",
        begin.replace("OPENSSH ", ""),
        body,
        end.replace("OPENSSH ", "")
    );
    assert_eq!(
        one("keys/service-account.json", &json),
        [("secret.private-key".to_owned(), 1)]
    );
    // Test fixtures and code that only names the marker are quiet.
    assert!(
        check(
            &default_set(),
            &new_files(&[("tests/certs/server.key", lines)])
        )
        .is_empty()
    );
    assert!(one("src/pem.rs", &format!("const HEADER: &str = \"{begin}\";")).is_empty());
}

#[test]
fn non_secret_rules_fire_on_true_positives() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "src/app.ts",
            "  console.log('user', user);",
            "debug.console-log",
        ),
        ("src/app.ts", "  debugger;", "debug.js-debugger"),
        (
            "src/app.ts",
            "  if (user.isAdmin) debugger;",
            "debug.js-debugger",
        ),
        ("src/lib.rs", "    dbg!(&state);", "debug.rust-dbg"),
        (
            "app/views.py",
            "    import pdb; pdb.set_trace()",
            "debug.python-breakpoint",
        ),
        (
            "app/views.py",
            "    breakpoint()",
            "debug.python-breakpoint",
        ),
        (
            "app/controllers/a.rb",
            "    binding.pry",
            "debug.ruby-debugger",
        ),
        ("public/index.php", "var_dump($request);", "debug.php-dump"),
        (
            "src/lib.rs",
            "    let cfg = load(path).unwrap();",
            "rust.unwrap",
        ),
        (
            "src/lib.rs",
            "    let v = map.get(k).expect(\"present\");",
            "rust.unwrap",
        ),
        (
            "src/a.test.js",
            "it.skip('handles errors', () => {",
            "test.disabled",
        ),
        (
            "src/a.test.js",
            "xit('handles errors', () => {",
            "test.disabled",
        ),
        (
            "tests/test_api.py",
            "@pytest.mark.skip(reason='flaky')",
            "test.disabled",
        ),
        (
            "tests/test_api.py",
            "@unittest.skip('broken')",
            "test.disabled",
        ),
        ("src/lib.rs", "    #[ignore]", "test.disabled"),
        ("pkg/api_test.go", "\tt.Skip(\"broken\")", "test.disabled"),
        (
            "src/a.spec.ts",
            "describe.only('api', () => {",
            "test.focused",
        ),
        (
            "Dockerfile",
            "RUN curl -fsSL https://get.example.com/install.sh | sh",
            "security.curl-pipe-shell",
        ),
        (
            ".github/workflows/ci.yml",
            "      - run: wget -qO- https://x.example/i | sudo bash",
            "security.curl-pipe-shell",
        ),
        ("src/calc.js", "  return eval(expression);", "security.eval"),
        (
            "app/calc.py",
            "    return eval(expression)",
            "security.eval",
        ),
        (
            "app/db.py",
            "    cur.execute(f\"SELECT * FROM users WHERE name = '{name}'\")",
            "security.sql-concat",
        ),
        (
            "app/db.py",
            "    cur.execute(\"DELETE FROM users WHERE id = \" + uid)",
            "security.sql-concat",
        ),
        (
            "src/db.ts",
            "  await db.query(`UPDATE users SET name = '${name}' WHERE id = 1`);",
            "security.sql-concat",
        ),
        (
            "src/db.rs",
            "    let q = format!(\"INSERT INTO logs (msg) VALUES ('{msg}')\");",
            "security.sql-concat",
        ),
        (
            "db/users.go",
            "\tq := fmt.Sprintf(\"SELECT * FROM users WHERE id = %s\", id)",
            "security.sql-concat",
        ),
        ("src/lib.rs", "// TODO: handle the error", "todo.added"),
        (
            "app/x.py",
            "x = 1  # FIXME: wrong for negative numbers",
            "todo.added",
        ),
    ];
    let set = default_set();
    for (path, line, rule) in cases {
        let found = check(&set, &new_files(&[(path, vec![(*line).to_owned()])]));
        let got: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(got, [*rule], "{path}: {line}");
        let expected = builtin_rules()
            .into_iter()
            .find(|r| r.id == *rule)
            .unwrap()
            .severity;
        assert_eq!(found[0].severity, expected);
    }
}

#[test]
fn generic_secrets_in_other_shapes() {
    // Values built at run time so that no secret scanner flags this file.
    let hex = fake("0123456789abcdef", 32, 30);
    let pw = fake(ALNUM, 12, 31);
    let set = default_set();
    for (path, line) in [
        (
            "src/Api.java",
            format!("    private static final String API_KEY = \"{hex}\";"),
        ),
        (
            "config/application.properties",
            format!("spring.datasource.password={pw}"),
        ),
    ] {
        let got: Vec<String> = check(&set, &new_files(&[(path, vec![line.clone()])]))
            .into_iter()
            .map(|f| f.rule)
            .collect();
        assert_eq!(got, ["secret.generic"], "{line}");
    }
    // Templates and tests are quiet.
    for (path, line) in [
        (".env.example", format!("API_KEY={pw}{hex}")),
        ("tests/test_auth.py", format!("password = '{pw}'")),
    ] {
        assert!(
            check(&set, &new_files(&[(path, vec![line.clone()])])).is_empty(),
            "{line}"
        );
    }
}

#[test]
fn conflict_markers_through_the_parser() {
    let lines: Vec<String> = [
        "fn main() {",
        "<<<<<<< HEAD",
        "    a();",
        "=======",
        "    b();",
        ">>>>>>> feature",
        "}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let found = check(&default_set(), &new_files(&[("src/main.rs", lines)]));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0].rule.as_str(), found[0].line),
        ("conflict.marker", 2)
    );
    assert_eq!(found[0].severity, Severity::Critical);
    let heading: Vec<String> = vec!["Title".into(), "=======".into(), "".into(), "Text".into()];
    assert!(check(&default_set(), &new_files(&[("docs/guide.rst", heading)])).is_empty());
}

#[test]
fn tests_comments_and_placeholders_stay_quiet() {
    let quiet: &[(&str, &str)] = &[
        ("src/app.test.ts", "console.log(result);"),
        ("scripts/build.js", "console.log('done');"),
        ("src/app.ts", "// console.log(result);"),
        ("src/app.ts", "const msg = 'call console.log(x) to debug';"),
        ("tests/integration.rs", "let v = run().unwrap();"),
        ("src/lib.rs", "/// let v = run().unwrap();"),
        ("build.rs", "let out = env::var(\"OUT_DIR\").unwrap();"),
        ("train.py", "model.eval()"),
        ("train.py", "value = ast.literal_eval(text)"),
        (
            "tests/test_db.py",
            "cur.execute(\"SELECT * FROM t WHERE id = \" + x)",
        ),
        (
            "app/db.py",
            "cur.execute(\"SELECT * FROM t WHERE id = %s\", (x,))",
        ),
        ("README.md", "curl -sSf https://sh.rustup.rs | sh"),
        ("README.md", "Heading"),
        ("app/settings.py", "SECRET_KEY = os.environ['SECRET_KEY']"),
        ("src/config.ts", "const apiKey = process.env.API_KEY;"),
        (
            "src/main.rs",
            "let token = std::env::var(\"GITHUB_TOKEN\")?;",
        ),
        ("app/settings.py", "PASSWORD = 'changeme'"),
        ("config/app.yml", "api_key: ${API_KEY}"),
        ("config/app.yml", "token: \"{{ secrets.TOKEN }}\""),
        ("config/app.yml", "password: <your-password>"),
        (
            "app/settings.py",
            "DB_URL = 'postgres://%(user)s:%(password)s@db/app'",
        ),
        ("docs/aws.md", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"),
        (
            "src/app.js",
            "const token = 'ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';",
        ),
        ("src/app.js", "process.exit(1); const x = fit(y);"),
        ("src/lib.rs", "let s = \"TODO\"; todo!()"),
        // Secret-looking names whose values are not secrets.
        (
            "src/api.js",
            "const url = 'https://api.example.com/v1?key=' + apiKey;",
        ),
        (
            "src/api.ts",
            "headers: { Authorization: `Bearer ${token}` },",
        ),
        (
            "app/auth.py",
            "TOKEN_URL = 'https://oauth2.googleapis.com/token'",
        ),
        ("app/auth.py", "api_key: Optional[str] = None"),
        (
            ".github/workflows/ci.yml",
            "          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
        ),
        ("src/cache.rs", "let key = \"user:{id}:profile\";"),
        ("app/cache.py", "cache_key = f'user:{uid}'"),
        (
            "model/config.json",
            "  \"tokenizer_class\": \"LlamaTokenizer\",",
        ),
        ("model/config.json", "  \"eos_token\": \"</s>\","),
        ("src/http.ts", "const SECRET_KEY_HEADER = 'X-Secret-Key';"),
        ("pkg/user.go", "\tPassword string `json:\"password\"`"),
        ("deploy/vault.yml", "db_password: !vault |"),
        ("app/i18n.json", "  \"password\": \"Mot de passe\","),
        // Words that only look like rules.
        (
            "app/log.py",
            "msg = 'Please select an item from the list: ' + name",
        ),
        ("src/flags.js", "const debugger_enabled = opts.debug;"),
        ("src/flags.js", "const opts = { debugger: true };"),
        ("app/train.py", "self.eval_metric = evaluator.eval(preds)"),
        (
            "Makefile",
            "\tcurl -s https://api.example.com/v1/status | jq .",
        ),
    ];
    let set = default_set();
    for (path, line) in quiet {
        let found = check(&set, &new_files(&[(path, vec![(*line).to_owned()])]));
        assert!(found.is_empty(), "{path}: {line}: {found:#?}");
    }
}

#[test]
fn only_added_lines_and_not_edits_of_existing_ones() {
    let diff = "\
diff --git a/src/app.js b/src/app.js
--- a/src/app.js
+++ b/src/app.js
@@ -1,5 +1,6 @@
 function run(settings) {
-  console.log(help(settings.help));
+  console.log(help(options.help));
   eval(legacy);
-  // TODO: one
+  // TODO: one and two
+  console.log('new');
 }
";
    let found = check(&default_set(), diff);
    let got: Vec<(&str, u32)> = found.iter().map(|f| (f.rule.as_str(), f.line)).collect();
    assert_eq!(got, [("debug.console-log", 5)]);
}

#[test]
fn config_overrides_disable_and_custom_rules() {
    let yaml = r#"
rules:
  disable: [debug.console-log, "todo.*"]
  enable: [rust.unwrap]
  severity:
    rust.unwrap: major
    security.eval: critical
    acme.no-http: nit
  custom:
    - id: acme.no-http
      regex: 'http://'
      message: "Use https."
      title: Plain-HTTP URL
      paths: ["src/**"]
      exclude_paths: ["src/vendor/**"]
    - id: acme.no-print
      regex: '\bprint\('
      message: "Use logging."
      severity: major
"#;
    let loaded = RepoConfig::parse(yaml, ".nectr.yml").unwrap();
    let (set, warnings) = RuleSet::new(&loaded.config.rules).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let ids: Vec<String> = set.rules().into_iter().map(|r| r.id).collect();
    assert!(
        !ids.iter()
            .any(|i| i == "debug.console-log" || i == "todo.added")
    );
    assert!(ids.contains(&"acme.no-http".to_owned()) && ids.contains(&"acme.no-print".to_owned()));
    let sev = |id: &str| {
        set.rules()
            .into_iter()
            .find(|r| r.id == id)
            .unwrap()
            .severity
    };
    assert_eq!(sev("rust.unwrap"), Severity::Major);
    assert_eq!(sev("acme.no-http"), Severity::Nit);
    assert_eq!(sev("acme.no-print"), Severity::Major);

    let diff = new_files(&[
        (
            "src/app.js",
            vec![
                "console.log(x); // TODO: later".into(),
                "fetch('http://api.example.com');".into(),
                "eval(code);".into(),
            ],
        ),
        (
            "src/vendor/lib.js",
            vec!["fetch('http://x.example');".into()],
        ),
        (
            "tools/gen.py",
            vec!["print(x)".into(), "y = z.unwrap()".into()],
        ),
        ("src/lib.rs", vec!["let a = b.unwrap();".into()]),
    ]);
    let found = check(&set, &diff);
    let got: Vec<(&str, &str, u32, Severity)> = found
        .iter()
        .map(|f| (f.path.as_str(), f.rule.as_str(), f.line, f.severity))
        .collect();
    assert_eq!(
        got,
        [
            ("src/app.js", "acme.no-http", 2, Severity::Nit),
            ("src/app.js", "security.eval", 3, Severity::Critical),
            ("tools/gen.py", "acme.no-print", 1, Severity::Major),
            ("src/lib.rs", "rust.unwrap", 1, Severity::Major),
        ]
    );
    let http = found.iter().find(|f| f.rule == "acme.no-http").unwrap();
    assert_eq!(
        (http.title.as_str(), http.body.as_str()),
        ("Plain-HTTP URL", "Use https.")
    );
}

#[test]
fn config_mistakes() {
    let yaml = "rules:\n  custom:\n    - id: secret.generic\n      regex: x\n      message: m\n";
    let loaded = RepoConfig::parse(yaml, ".nectr.yml").unwrap();
    let err = RuleSet::new(&loaded.config.rules).unwrap_err();
    assert!(
        err.contains("`secret.generic`") && err.contains("built-in"),
        "{err}"
    );

    let yaml = "rules:\n  disable: [secret.gihtub-token, debug.*, nope.]\n  severity:\n    rust.unwarp: nit\n";
    let loaded = RepoConfig::parse(yaml, ".nectr.yml").unwrap();
    let (set, warnings) = RuleSet::new(&loaded.config.rules).unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[0].contains("`secret.gihtub-token`")
            && warnings[0].contains("did you mean `secret.github-token`")
    );
    assert!(warnings[1].contains("`nope.`"), "{}", warnings[1]);
    assert!(
        warnings[2].contains("rules.severity")
            && warnings[2].contains("did you mean `rust.unwrap`")
    );
    assert!(warnings.iter().all(|w| !w.contains('\n')));
    // The valid entry still applies.
    assert!(!set.rules().iter().any(|r| r.id.starts_with("debug.")));
}

#[test]
fn builtin_rules_are_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md"))
        .expect("docs/rules.md");
    for r in builtin_rules() {
        let row = doc
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{}`", r.id)))
            .unwrap_or_else(|| panic!("docs/rules.md has no table row for `{}`", r.id));
        assert!(
            row.contains(r.severity.as_str()),
            "severity of `{}` in docs: {row}",
            r.id
        );
    }
    let (set, _) = RuleSet::new(&RulesConfig::default()).unwrap();
    let on: Vec<String> = set.rules().iter().map(|r| r.id.clone()).collect();
    for r in builtin_rules() {
        // The docs' "default" column says which rules are opt-in.
        let row = doc
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{}`", r.id)))
            .unwrap_or_default();
        let opt_in = row.contains("| off");
        assert_eq!(
            on.contains(&r.id),
            !opt_in,
            "`{}`: on by default unless docs/rules.md says off",
            r.id
        );
    }
    assert!(
        !on.contains(&"rust.unwrap".to_owned()),
        "rust.unwrap is opt-in"
    );
}

#[test]
fn a_30k_line_diff_is_checked_quickly() {
    // A realistic mix: mostly ordinary code, some lines that wake the prefilter.
    let templates = [
        "    let total = items.iter().map(|i| i.price * i.quantity).sum::<u64>();",
        "    if let Some(user) = session.user() { greet(&user.name); }",
        "    const token = await auth.refresh(session.key);",
        "    result = select_best(candidates, key=lambda c: c.score)",
        "        self.update(state, delta)  # update the running average",
        "    // explains why the cache key includes the locale",
        "    query = \"SELECT id FROM users WHERE id = %s\"",
        "    let value = parse(input).unwrap_or_default();",
        "    password_field.set_placeholder(\"Enter your password\");",
        "    console.error(`request failed: ${err}`);",
    ];
    let paths = ["src/lib.rs", "src/app.ts", "app/models.py"];
    let mut files = Vec::new();
    for (fi, path) in paths.iter().enumerate() {
        let lines: Vec<String> = (0..10_000)
            .map(|i| templates[(i * 7 + fi) % templates.len()].to_owned())
            .collect();
        files.push((*path, lines));
    }
    let text = new_files(&files);
    let diff = parse(&text).unwrap();
    let set = default_set();
    let start = Instant::now();
    let n: usize = diff.files.iter().map(|f| set.check_file(f).len()).sum();
    let elapsed = start.elapsed();
    eprintln!("check_file over 30,000 added lines: {elapsed:?} ({n} findings)");
    // Release builds take a few milliseconds; the bound leaves room for debug builds.
    let bound = if cfg!(debug_assertions) { 5_000 } else { 100 };
    assert!(elapsed.as_millis() < bound, "{elapsed:?}");
}

/// Findings of the default rules (`rust.unwrap` off) as `(rule, line, suggestion)`.
fn with_suggestions(path: &str, lines: &[&str]) -> Vec<(String, u32, Option<String>)> {
    let (set, _) = RuleSet::new(&RulesConfig::default()).unwrap();
    let lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    check(&set, &new_files(&[(path, lines)]))
        .into_iter()
        .map(|f| (f.rule, f.line, f.suggestion))
        .collect()
}

#[test]
fn mechanical_fixes_come_with_a_suggestion_for_exactly_their_line() {
    let del = |path: &str, line: &str, rule: &str| {
        assert_eq!(
            with_suggestions(path, &[line]),
            [(rule.to_owned(), 1, Some(String::new()))],
            "{line}"
        );
    };
    del("src/lib.rs", "    dbg!(&value);", "debug.rust-dbg");
    del("src/app.ts", "  console.log(user);", "debug.console-log");
    del("src/x.js", "  debugger;", "debug.js-debugger");
    del("app/x.py", "    breakpoint()", "debug.python-breakpoint");
    del(
        "app/x.py",
        "import pdb; pdb.set_trace()",
        "debug.python-breakpoint",
    );
    del("app/models/u.rb", "    binding.pry", "debug.ruby-debugger");
    del("src/C.php", "    var_dump($order);", "debug.php-dump");
    // Not the whole line, a trailing comment, or the only statement of a block: no
    // suggestion (deleting would change or break the code).
    for (path, lines) in [
        ("src/lib.rs", vec!["    let v = dbg!(x + 1);"]),
        ("src/app.ts", vec!["  console.log(user); // why"]),
        ("src/app.ts", vec!["if (debug)", "  console.log(state);"]),
        ("app/x.py", vec!["if DEBUG:", "    breakpoint()"]),
    ] {
        let found = with_suggestions(path, &lines);
        assert!(!found.is_empty(), "{lines:?}");
        assert!(
            found.iter().all(|(_, _, s)| s.is_none()),
            "{lines:?}: {found:?}"
        );
    }
    assert_eq!(
        with_suggestions("app/conf.py", &["    cfg = yaml.load(f)"]),
        [(
            "security.unsafe-deserialization".to_owned(),
            1,
            Some("    cfg = yaml.safe_load(f)".to_owned())
        )]
    );
    assert_eq!(
        with_suggestions("app/fetch.py", &["    r = requests.get(url, verify=False)"]),
        [(
            "security.tls-verify-off".to_owned(),
            1,
            Some("    r = requests.get(url)".to_owned())
        )]
    );
    assert_eq!(
        with_suggestions(
            "app/fetch.py",
            &["    r = session.post(url, verify=False, json=body)"]
        )[0]
        .2,
        Some("    r = session.post(url, json=body)".to_owned())
    );
}

#[test]
fn a_rule_firing_often_in_a_file_is_one_finding_naming_the_lines() {
    let (set, _) = RuleSet::new(&RulesConfig::default()).unwrap();
    let lines: Vec<String> = (0..20)
        .map(|i| {
            if i % 4 == 0 {
                format!("console.log(step{i});")
            } else if i % 5 == 1 {
                format!("// TODO: step {i}")
            } else {
                format!("run(step{i});")
            }
        })
        .collect();
    let found = check(&set, &new_files(&[("src/app.ts", lines)]));
    let got: Vec<(&str, u32, &str)> = found
        .iter()
        .map(|f| (f.rule.as_str(), f.line, f.title.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "debug.console-log",
                1,
                "`console.log` left in application code (5 times in this file: lines 1, 5, 9, 13, 17)"
            ),
            ("todo.added", 2, "3 new TODO/FIXME comments: lines 2, 7, 12"),
        ]
    );
    // The body names every line; the aggregated finding offers no suggestion.
    assert!(
        found[0].body.contains("- line 17: `console.log` left"),
        "{}",
        found[0].body
    );
    assert!(found.iter().all(|f| f.suggestion.is_none()));
    // Two console.logs stay two findings.
    let two = check(
        &set,
        &new_files(&[(
            "src/b.ts",
            vec!["console.log(a);".into(), "console.log(b);".into()],
        )]),
    );
    assert_eq!(two.len(), 2);
}

#[test]
fn the_whole_head_file_gives_context_beyond_the_hunk() {
    let (set, _) = RuleSet::new(&RulesConfig {
        enable: vec!["rust.unwrap".into()],
        ..RulesConfig::default()
    })
    .unwrap();
    // A hunk deep in a file: line 40 of the new side.
    let hunk = |path: &str, added: &str| {
        format!(
            "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -39,1 +39,2 @@\n ctx\n+{added}\n"
        )
    };
    let run = |path: &str, added: &str, head: Option<&str>| {
        let text = hunk(path, added);
        let diff = parse(&text).unwrap();
        set.check_file_with_head(&diff.files[0], head)
            .into_iter()
            .map(|f| f.rule)
            .collect::<Vec<_>>()
    };
    let filler = |n: usize| "x\n".repeat(n);
    // Generated marker at the top, outside the hunk.
    let generated = format!("// Code generated by protoc. DO NOT EDIT.\n{}", filler(45));
    assert_eq!(
        run("src/a.ts", "console.log(x);", None),
        ["debug.console-log"]
    );
    assert!(run("src/a.ts", "console.log(x);", Some(&generated)).is_empty());
    // A shebang makes it a CLI.
    let cli = format!("#!/usr/bin/env node\n{}", filler(45));
    assert!(run("src/a.js", "console.log(x);", Some(&cli)).is_empty());
    // A `#[cfg(test)] mod tests {` opened above the hunk.
    let rust = format!(
        "fn f() {{}}\n#[cfg(test)]\nmod tests {{\n{}}}\n",
        filler(45)
    );
    assert_eq!(
        run("src/lib.rs", "    let v = x.unwrap();", None),
        ["rust.unwrap"]
    );
    assert!(run("src/lib.rs", "    let v = x.unwrap();", Some(&rust)).is_empty());
    // `pull_request_target` declared at the top of the workflow.
    let wf = ".github/workflows/t.yml";
    let checkout = "          ref: ${{ github.event.pull_request.head.sha }}";
    let target = format!("on:\n  pull_request_target:\n{}", filler(45));
    assert!(run(wf, checkout, None).is_empty());
    assert_eq!(
        run(wf, checkout, Some(&target)),
        ["security.pr-target-checkout"]
    );
}

/// `console.log` in a command-line package: its `package.json` `bin` decides.
#[test]
fn package_json_bin_makes_a_cli_package() {
    // The file a `bin` names, in any spelling.
    let tool = r#"{"name": "t", "main": "lib/index.js", "bin": {"t": "./bin/../cli/run.js"}}"#;
    assert!(package_makes_cli(
        "pkgs/t/package.json",
        tool,
        "pkgs/t/cli/run.js"
    ));
    // A library that also ships a CLI keeps the rule for its other files…
    assert!(!package_makes_cli(
        "pkgs/t/package.json",
        tool,
        "pkgs/t/lib/index.js"
    ));
    // …while a package that is only a CLI prints by design everywhere.
    let only = r#"{"name": "t", "bin": "./index.js"}"#;
    assert!(package_makes_cli("package.json", only, "lib/log.js"));
    assert!(package_makes_cli("a/package.json", only, "a/index.js"));
    // Not its file, no `bin`, an empty `bin`, or not JSON: no.
    assert!(!package_makes_cli("a/package.json", only, "b/index.js"));
    assert!(!package_makes_cli("a/package.json", only, "ab/index.js"));
    assert!(!package_makes_cli(
        "package.json",
        r#"{"main": "x.js"}"#,
        "x.js"
    ));
    assert!(!package_makes_cli("package.json", r#"{"bin": {}}"#, "x.js"));
    assert!(!package_makes_cli("package.json", r#"{"bin": 3}"#, "x.js"));
    for bad in ["", "[]", "{", "null", "\u{0}", "{\"bin\": \"x.js\""] {
        assert!(!package_makes_cli("package.json", bad, "x.js"), "{bad}");
    }
    let huge = format!(r#"{{"bin": "x.js", "pad": "{}"}}"#, "a".repeat(300_000));
    assert!(!package_makes_cli("package.json", &huge, "x.js"));

    // The rules take it from the context.
    let text = "diff --git a/lib/log.js b/lib/log.js\n--- a/lib/log.js\n+++ b/lib/log.js\n@@ -40,1 +40,2 @@\n ctx\n+console.log(msg);\n";
    let diff = parse(text).unwrap();
    let set = RuleSet::new(&RulesConfig::default()).unwrap().0;
    assert_eq!(set.check_file(&diff.files[0])[0].rule, "debug.console-log");
    let cli = FileContext {
        cli_package: true,
        ..FileContext::default()
    };
    assert!(set.check_file_in(&diff.files[0], &cli).is_empty());
}

#[test]
fn rust_unwrap_is_opt_in() {
    let diff = new_files(&[("src/lib.rs", vec!["    let v = x.unwrap();".into()])]);
    let (off, _) = RuleSet::new(&RulesConfig::default()).unwrap();
    assert!(check(&off, &diff).is_empty());
    let (on, warnings) = RuleSet::new(&RulesConfig {
        enable: vec!["rust.".into()],
        ..RulesConfig::default()
    })
    .unwrap();
    assert!(warnings.is_empty());
    assert_eq!(check(&on, &diff)[0].rule, "rust.unwrap");
    // `disable` wins over `enable`; a misspelt id in `enable` is warned about.
    let (both, warnings) = RuleSet::new(&RulesConfig {
        enable: vec!["rust.unwrap".into(), "rust.unwarp".into()],
        disable: vec!["rust.unwrap".into()],
        ..RulesConfig::default()
    })
    .unwrap();
    assert!(check(&both, &diff).is_empty());
    assert!(
        warnings.len() == 1 && warnings[0].contains("did you mean `rust.unwrap`"),
        "{warnings:?}"
    );
}

/// 300,000 findings — a new TODO and a `console.log` in each of 150,000 files, so that
/// per-file aggregation does not shrink them — go through the whole offline pipeline
/// (rules, anchoring, ordering, dedup) in time linear in their number. (Ordering used to
/// scan the file list once per finding.)
#[test]
fn a_300k_finding_diff_is_reviewed_in_linear_time() {
    let run = |files: usize| {
        let mut d = String::with_capacity(files * 160);
        for f in 0..files {
            let path = format!("src/m{f}.ts");
            d.push_str(&format!(
                "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,2 @@\n+// TODO: item {f}\n+console.log(item{f});\n"
            ));
        }
        let diff = parse(&d).unwrap();
        let config = nectr::config::LoadedConfig {
            config: RepoConfig::default(),
            origin: None,
            warnings: Vec::new(),
        };
        let (set, _) = RuleSet::new(&config.config.rules).unwrap();
        let start = Instant::now();
        let review = nectr::pipeline::review_diff(&diff, &set, &config, None);
        let elapsed = start.elapsed();
        assert_eq!(review.findings.len(), 2 * files);
        elapsed
    };
    // Debug builds (the usual `cargo test`) check the shape on a fifth of the size.
    let files = if cfg!(debug_assertions) {
        30_000
    } else {
        150_000
    };
    let small = run(files / 2);
    let big = run(files);
    eprintln!(
        "{} findings: {small:?}; {} findings: {big:?}",
        files,
        2 * files
    );
    let bound = if cfg!(debug_assertions) {
        30_000
    } else {
        2_000
    };
    assert!(big.as_millis() < bound, "{big:?}");
    // Doubling the findings must not quadruple the time (generous for a loaded machine).
    assert!(
        big.as_secs_f64() < 3.0 * small.as_secs_f64().max(0.05),
        "{small:?} → {big:?}"
    );
}

/// One modified file: `lines` carry their diff prefix (`+`, `-`, ` `); the hunk starts at
/// line 40 of both sides.
fn modified(path: &str, lines: &[&str]) -> String {
    let old = lines.iter().filter(|l| !l.starts_with('+')).count();
    let new = lines.iter().filter(|l| !l.starts_with('-')).count();
    let mut d = format!(
        "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -40,{old} +40,{new} @@\n"
    );
    for l in lines {
        d.push_str(l);
        d.push('\n');
    }
    d
}

fn rules_of(set: &RuleSet, diff_text: &str) -> Vec<String> {
    check(set, diff_text).into_iter().map(|f| f.rule).collect()
}

/// The false positives found while growing the labelled real-code set
/// (tests/fixtures/rules_eval), each next to the true positive that must stay.
#[test]
fn false_positives_from_the_labelled_set_stay_fixed() {
    let set = RuleSet::new(&RulesConfig::default()).unwrap().0;
    let one = |path: &str, line: &str| rules_of(&set, &new_files(&[(path, vec![line.into()])]));
    let none: Vec<String> = Vec::new();

    // Benchmarks and test fixtures print by design.
    assert_eq!(one("benchmarks/middleware.js", "console.log(n);"), none);
    assert_eq!(
        one("axum-extra/test_files/script.js", "console.log('hi')"),
        none
    );
    assert_eq!(one("lib/app.js", "console.log(n);"), ["debug.console-log"]);
    // A benchmark against its own self-signed server.
    assert_eq!(
        one("benchmark/index.ts", "  rejectUnauthorized: false"),
        none
    );

    // PHP: the class's own `unserialize` method and its definition are not PHP's.
    assert_eq!(one("src/Store.php", "$d = $this->unserialize($raw);"), none);
    assert_eq!(
        one(
            "src/Store.php",
            "    protected function unserialize($value)"
        ),
        none
    );
    assert_eq!(
        one("src/Store.php", "$d = static::unserialize($raw);"),
        none
    );
    assert_eq!(
        one("src/Store.php", "        return unserialize($value);"),
        ["security.unsafe-deserialization"]
    );

    // An example app's secret key is there to be replaced.
    let key = format!("SECRET_KEY = '{}'", fake(ALNUM, 32, 91));
    assert_eq!(one("examples/minitwit/app.py", &key), none);
    assert_eq!(one("app/settings.py", &key), ["secret.generic"]);

    // A skip that explains itself is deliberate; a one-word label is not an explanation.
    let reason = "@pytest.mark.skip(reason=\"fails non-deterministically under xdist\")";
    assert_eq!(one("tests/test_a.py", reason), none);
    assert_eq!(
        one("tests/test_a.py", "@pytest.mark.skip(reason=\"flaky\")"),
        ["test.disabled"]
    );
    assert_eq!(
        one(
            "src/resolve.rs",
            "    #[ignore = \"non-deterministic, races with the cache\"]"
        ),
        none
    );
    assert_eq!(one("src/resolve.rs", "    #[ignore]"), ["test.disabled"]);

    // Python `ssl` settings under a condition implement the caller's choice; an
    // unconditional one is a decision to skip verification.
    let tls = |lines: &[&str]| rules_of(&set, &modified("src/pkg/ssl_.py", lines));
    assert_eq!(
        tls(&[
            "     if cert_reqs == ssl.CERT_REQUIRED:",
            "         context.check_hostname = True",
            "     else:",
            "+        context.check_hostname = False",
        ]),
        none
    );
    assert_eq!(
        tls(&[
            "     if (",
            "         not self.assert_hostname",
            "     ):",
            "+        self.ssl_context.check_hostname = False",
        ]),
        none
    );
    assert_eq!(
        tls(&[
            "     def __init__(self):",
            "+        self.check_hostname = False"
        ]),
        none
    );
    assert_eq!(
        tls(&[
            "     ctx = ssl.create_default_context()",
            "+    ctx.check_hostname = False",
        ]),
        ["security.tls-verify-off"]
    );

    // Vendored Python (`requests/packages/urllib3/`, `_vendor/`) is another project's code.
    let todo = "# TODO: rewrite this";
    assert_eq!(one("requests/packages/urllib3/response.py", todo), none);
    assert_eq!(one("pip/_vendor/rich/text.py", todo), none);
    assert_eq!(one("packages/api/app.py", todo), ["todo.added"]);

    // HTML copied from DOM nodes, and a Trusted Types policy, are not unescaped input.
    assert_eq!(
        one("src/t.js", "svg_container.innerHTML = svg.outerHTML;"),
        none
    );
    assert_eq!(
        one("src/t.js", "el.innerHTML = unsafeToTrustedHTML(content)"),
        none
    );
    assert_eq!(
        one("src/t.js", "el.innerHTML = policy.createHTML(content)"),
        none
    );
    assert_eq!(
        one("src/t.js", "el.innerHTML = content;"),
        ["security.xss-sink"]
    );

    // Ruby build files evaluate the repository's own gemspec.
    let gemspec = "    eval(File.read(\"#{dir}/#{gem}.gemspec\"))";
    assert_eq!(one("Rakefile", gemspec), none);
    assert_eq!(one("lib/loader.rb", gemspec), ["security.eval"]);

    // `dbg!` in examples and compile tests is by design; in tests it is a leftover.
    assert_eq!(one("examples/json/src/main.rs", "    dbg!(payload);"), none);
    assert_eq!(
        one("axum-debug/tests/pass/result.rs", "    dbg!(foo);"),
        none
    );
    assert_eq!(
        one("src/routing/tests/mod.rs", "    dbg!(events);"),
        ["debug.rust-dbg"]
    );

    // TODOs that name their own trigger, continue such a note, or link their issue
    // further down the same comment block.
    for note in [
        "// TODO: change req.host to return host in next major",
        "// TODO: Remove this in Got 13.",
        "// TODO: Set this to `true` for Got 13.",
        "// TODO: Switch to `this.key = value` when targeting Node.js 14",
        "// TODO: Switch back to the package when it's fixed",
        "// FIXME: Use type_alias_impl_trait when available",
        "// TODO: Move this back once `new_layout` is stabilized",
    ] {
        assert_eq!(one("src/a.ts", note), none, "{note}");
    }
    let pair = rules_of(
        &set,
        &new_files(&[(
            "app.py",
            vec![
                "# TODO: pass as param when Werkzeug>=1.0.0 is required".into(),
                "# TODO: also remove the note about this from the docs".into(),
            ],
        )]),
    );
    assert_eq!(pair, none);
    let linked = rules_of(
        &set,
        &new_files(&[(
            "conn.py",
            vec![
                "# TODO: Set correct `is_verified` for an HTTPS proxy +".into(),
                "#       HTTP destination, see".into(),
                "#       https://github.com/urllib3/urllib3/issues/3267.".into(),
                "self.is_verified = verified".into(),
            ],
        )]),
    );
    assert_eq!(linked, none);
    assert_eq!(one("src/a.ts", "// TODO: handle retries"), ["todo.added"]);
    assert_eq!(
        one("src/a.ts", "// TODO: retry for the last 2 items"),
        ["todo.added"]
    );

    // A hunk that starts inside a JSDoc comment: its code example is comment.
    let jsdoc = modified(
        "source/options.ts",
        &[
            " \tawait got('https://example.com', {",
            "+\t\tconsole.log('Making initial request');",
            " \t});",
            " \t```",
            " \t*/",
            " \tbeforeRequest: Hook[];",
        ],
    );
    assert_eq!(rules_of(&set, &jsdoc), none);
    // A glob is not the end of a comment.
    let glob = modified(
        "src/build.js",
        &[
            "+console.log(files);",
            " const files = glob('src/**/*.js');",
        ],
    );
    assert_eq!(rules_of(&set, &glob), ["debug.console-log"]);

    // A workflow line edited while it keeps the same expansion was not introduced here.
    let wf = |lines: &[&str]| rules_of(&set, &modified(".github/workflows/p.yml", lines));
    assert_eq!(
        wf(&[
            "       run: |",
            "-          release --tag ${{ github.event.workflow_run.head_branch }}",
            "+          release --tag ${{ github.event.workflow_run.head_branch }} --publish",
        ]),
        none
    );
    assert_eq!(
        wf(&[
            "       run: |",
            "+          release --tag ${{ github.event.workflow_run.head_branch }}",
        ]),
        ["security.actions-injection"]
    );
}
