//! Code hygiene: merge-conflict markers, new TODOs, disabled or focused tests and
//! `.unwrap()` in production Rust.

use regex::Regex;

use super::lang::{Lang, Lexed, word_at};
use super::{FileCtx, Hit, LineCtx, Rule};

pub(super) const P_UNWRAP: u32 = 1 << 13;
pub(super) const P_TESTS: u32 = 1 << 14;
pub(super) const P_TODO: u32 = 1 << 18;

pub(super) const PREFILTER: &[(&str, u32)] = &[
    (".unwrap()", P_UNWRAP),
    (".expect(", P_UNWRAP),
    (".skip", P_TESTS),
    (".only", P_TESTS),
    ("xit", P_TESTS),
    ("xdescribe", P_TESTS),
    ("xtest", P_TESTS),
    ("xcontext", P_TESTS),
    ("xspecify", P_TESTS),
    ("fit(", P_TESTS),
    ("fdescribe(", P_TESTS),
    ("#[ignore", P_TESTS),
    ("@skip", P_TESTS),
    ("@disabled", P_TESTS),
    ("@ignore", P_TESTS),
    ("todo", P_TODO),
    ("fixme", P_TODO),
];

pub(super) const HELP_CONFLICT: &str = "A merge-conflict marker (`<<<<<<<`, `=======`, `>>>>>>>`) was committed: the file holds both sides of an unresolved conflict and will not compile, parse or behave as either side intended.\n\nResolve the conflict — keep the right lines, delete every marker — and re-run the tests. A bare `=======` is only reported when a `<<<<<<<` marker is added to the same file (Markdown and reStructuredText use `=======` to underline headings).";
pub(super) const HELP_TODO: &str = "A `TODO`/`FIXME` comment was added. Unfinished work tends to stay unfinished once merged.\n\nFinish it in this pull request, or track it in an issue and reference it in the comment (`TODO(#123): …`) so it is not forgotten. Not reported: notes that reference an issue or URL, notes that name their own trigger (`remove once transformers < 4.56 is dropped`, `… after 2026-11-01`), codemod markers, generated files, modified or moved TODO lines.";
pub(super) const HELP_TEST_DISABLED: &str = "A test was disabled (`it.skip`, `xit`, `xdescribe`, `#[ignore]`, `@pytest.mark.skip`, `@unittest.skip`, `@Disabled`, Go's unconditional `t.Skip`). A skipped test passes silently, and the behaviour it covered is no longer checked.\n\nFix the test or the code instead. If it must stay disabled, reference the tracking issue on the same line (`#[ignore = \"flaky, see #123\"]`, a URL): such lines are not reported, and neither are conditional skips (`skipif`, `skipIf`, a `t.Skip` inside an `if`).";
pub(super) const HELP_TEST_FOCUSED: &str = "A focused test (`it.only`, `describe.only`, `fit`, `fdescribe`) was committed: the runner executes only the focused tests and silently skips every other test in the file or suite, so CI goes green without running them.\n\nRemove `.only`/the `f` prefix before merging (Mocha's `--forbid-only` and Jest's lint rules can enforce this).";
pub(super) const HELP_UNWRAP: &str = "`.unwrap()`/`.expect(…)` in non-test Rust code turns an error or a missing value into a panic that takes down the thread (or the process).\n\nPropagate the error with `?` or handle the `None`/`Err` case. When it truly cannot fail, say why in an `.expect(\"…\")` message and silence the line with `// nectr:ignore rust.unwrap` or `#[allow(clippy::unwrap_used)]`/`#[allow(clippy::expect_used)]` on the line above. Not reported: tests (`tests/`, `#[cfg(test)]` items and modules, `*_test.rs`), benches, examples, `build.rs`, fuzz targets, comments, `const`/`static` initialisers, lock guards (`.lock()`, `.read()`, `.write()`, `.get_mut()`, `.into_inner()`), `write!` into a string, and validating constructors called on a literal (`Regex::new(\"…\").unwrap()`, `Url::parse(\"…\")`, `NonZeroU32::new(5)`, `\"…\".parse().unwrap()`).";

/// Does `text` reference a tracking issue: `#123`, `gh-123`, a URL, a Jira-style key
/// (`PROJ-42`)?
pub(super) fn references_issue(text: &str) -> bool {
    let b = text.as_bytes();
    if text.contains("://") {
        return true;
    }
    for (i, &c) in b.iter().enumerate() {
        let digit_after = |j: usize| b.get(j).is_some_and(u8::is_ascii_digit);
        if c == b'#' && digit_after(i + 1) && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            return true;
        }
        // `ABC-123`, `gh-123`: letters, a dash, digits.
        if c == b'-' && digit_after(i + 1) && i >= 2 {
            let word_start = b[..i]
                .iter()
                .rposition(|x| !x.is_ascii_alphabetic())
                .map_or(0, |p| p + 1);
            let word = &text[word_start..i];
            let not_a_key = [
                "UTF", "SHA", "ISO", "AES", "RSA", "MD", "ES", "HS", "RS", "PS",
            ];
            if word.len() >= 2
                && !not_a_key.contains(&word)
                && (word.eq_ignore_ascii_case("gh") || word.bytes().all(|x| x.is_ascii_uppercase()))
            {
                return true;
            }
        }
    }
    false
}

/// A merge-conflict marker line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Marker {
    Ours,
    Base,
    Sep,
    Theirs,
}

pub(super) fn conflict_marker(line: &str) -> Option<Marker> {
    let b = line.as_bytes();
    if b.len() < 7 {
        return None;
    }
    let c = b[0];
    if !matches!(c, b'<' | b'>' | b'=' | b'|') || !b[..7].iter().all(|&x| x == c) {
        return None;
    }
    let rest = &line[7..];
    match c {
        b'<' | b'>' | b'|' => {
            if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
                return None;
            }
            Some(match c {
                b'<' => Marker::Ours,
                b'>' => Marker::Theirs,
                _ => Marker::Base,
            })
        }
        _ => rest.trim().is_empty().then_some(Marker::Sep),
    }
}

pub(super) fn conflict_hit(marker: &str) -> Hit {
    Hit {
        rule: Rule::ConflictMarker,
        title: format!("Unresolved merge-conflict marker `{marker}`"),
        suggestion: None,
        body: None,
    }
}

pub(super) struct Hygiene {
    js_skip: Regex,
    js_x: Regex,
    js_only: Regex,
    js_f: Regex,
    py_skip: Regex,
    rust_ignore: Regex,
    go_skip: Regex,
    java_disabled: Regex,
    ruby_x: Regex,
    todo: Regex,
    /// A note that names its own trigger: "remove once transformers < 4.56 is dropped",
    /// "TODO for 0.20 remove this", "… after 2026-11-01", "… when MSRV is updated".
    conditional_cleanup: Regex,
}

impl Hygiene {
    pub(super) fn new() -> Hygiene {
        let re = super::builtin_regex;
        Hygiene {
            js_skip: re(r"\b(?:it|describe|test|context|suite|specify)\.skip\s*\("),
            js_x: re(r"\bx(?:it|describe|test|context|specify)\s*\("),
            js_only: re(r"\b(?:it|describe|test|context|suite|specify)\.only\s*\("),
            js_f: re(r"(?:^|[^\w.$])f(?:it|describe)\s*\("),
            py_skip: re(r"^\s*@(?:pytest\.mark\.skip|unittest\.skip|skip)\b\s*(?:\(|$)"),
            rust_ignore: re(r"^\s*#\[ignore\b"),
            go_skip: re(r"\b[A-Za-z_]\w*\.Skip(?:f|Now)?\("),
            java_disabled: re(r"^\s*@(?:Disabled|Ignore)\b"),
            ruby_x: re(r"^\s*x(?:it|describe|context|specify)\b"),
            todo: re(r"\b(TODO|FIXME)\b"),
            conditional_cleanup: re(
                r"(?i)\b(?:once|when|after|until|for|if|before)\b.*(?:\d+\.\d+|\bv\d+\b|\bmsrv\b|\d{4}-\d{2}-\d{2}|[<>]=?\s*v?\d|\b\d+\+|\b(?:python|node|rust|go|java)\s*\d)|(?:\d+\.\d+|\bv\d+\b|\bmsrv\b|\d{4}-\d{2}-\d{2}).*\b(?:remove|drop|delete|revert)\b|\b(?:remove|drop|delete|revert|merge|reinstate)\b.*\b(?:once|when|after|until)\b|\b(?:once|after|until)\b.*\b(?:remove|drop|delete|revert|merge|reinstate)\b|\b(?:removed?|dropped|deleted)\b.*\b(?:version|release|major)\s+v?\d|\b(?:remove|drop|delete)\b.*(?:\bv\d+\b|\d+\.\d+)|\bnext\s+major\b|\b(?:in|for|when|once|until|after|before)\b.*\b(?-i:[A-Z][\w.]*)\s+v?\d+\b|\b(?:once|when|until|after)\b.*\b(?:stabili[sz]ed|released|published|is\s+fixed|it'?s\s+fixed|available|implemented|supported|lands|we\s+update|is\s+there)\b",
            ),
        }
    }

    pub(super) fn check(
        &self,
        mask: u32,
        file: &FileCtx<'_>,
        line: &LineCtx<'_>,
        out: &mut Vec<Hit>,
    ) {
        if mask & P_UNWRAP != 0 {
            self.unwrap(file, line, out);
        }
        if mask & P_TESTS != 0 {
            self.tests(file, line, out);
        }
        if mask & P_TODO != 0 {
            self.todo(line, out);
        }
    }

    fn todo(&self, line: &LineCtx<'_>, out: &mut Vec<Hit>) {
        for (s, e) in line.lexed.comment_ranges() {
            let comment = &line.text[s..e];
            // The marker must stand as a note: the first word of the comment, or a word
            // followed by `:`, `(` or `!` (`… see XXX: …`). Not prose that mentions it
            // (`a modified TODO is …`), inline code (`` `// TODO` ``), a type
            // (`@param {TODO} x`, webpack's JSDoc alias) or a placeholder (`XXX-XXX`).
            let note = self.todo.find_iter(comment).find(|m| {
                let lead = &comment[..m.start()];
                let before = lead.chars().next_back();
                let after = comment[m.end()..].chars().next();
                let in_type = lead.matches('{').count() > lead.matches('}').count();
                let in_code_span = lead.matches('`').count() % 2 == 1;
                let first_word = lead
                    .chars()
                    .all(|c| c.is_whitespace() || "/*#-!;<".contains(c));
                let ends_well = matches!(after, None | Some(':' | ' ' | '\t' | '(' | '!'));
                let marked = matches!(after, Some(':' | '(' | '!'));
                let word_start = matches!(
                    before,
                    None | Some(' ' | '\t' | '/' | '*' | '#' | '-' | '!' | ';' | '(')
                );
                !in_type && !in_code_span && word_start && ends_well && (first_word || marked)
            });
            // Already tracked (`TODO(#123)`, `FIXME: https://…`, `TODO(PROJ-42)`, an issue
            // link on the next line) — what the help text asks for — or inserted by a
            // codemod (`// @ts-expect-error ts-migrate(2339) FIXME: …`).
            let tracked = |c: &str| references_issue(c);
            let next_comment = line.next.map(str::trim_start).filter(|n| {
                ["//", "#", "*", "/*", "--"]
                    .iter()
                    .any(|p| n.starts_with(p))
            });
            // The rest of the comment block (up to five lines) may carry the issue link
            // (`… see\n# https://github.com/o/r/issues/3267.`) or the trigger.
            let block: Vec<&str> = line
                .rest
                .iter()
                .filter(|l| l.kind != crate::diff::LineKind::Removed)
                .map(|l| l.content.trim_start())
                .take_while(|t| {
                    ["//", "#", "*", "/*", "--"]
                        .iter()
                        .any(|p| t.starts_with(p))
                })
                .take(5)
                .collect();
            // The second note of a pair whose first names the trigger
            // (`# TODO: pass as param when Werkzeug>=1.0.0 is required` /
            // `# TODO: also remove the note about this from the docs`).
            let continues_cleanup = line.prev.is_some_and(|p| {
                let p = p.trim_start();
                ["//", "#", "*", "/*", "--"]
                    .iter()
                    .any(|c| p.starts_with(c))
                    && self.todo.is_match(p)
                    && self.conditional_cleanup.is_match(p)
            });
            if note.is_some()
                && (tracked(comment)
                    || next_comment.is_some_and(tracked)
                    || block.iter().any(|c| tracked(c))
                    || continues_cleanup
                    || self.conditional_cleanup.is_match(comment)
                    || comment.contains("ts-migrate")
                    || comment.contains("@ts-expect-error")
                    || comment.contains("@ts-ignore"))
            {
                return;
            }
            if let Some(m) = note {
                let text: String = comment[m.start()..]
                    .trim_end_matches(['*', '/', '-', '>', ' '])
                    .chars()
                    .take(80)
                    .collect();
                out.push(Hit {
                    rule: Rule::TodoAdded,
                    title: format!("New {} comment: {}", m.as_str(), text.trim()),
                    suggestion: None,
                    body: None,
                });
                return;
            }
        }
    }

    fn tests(&self, file: &FileCtx<'_>, line: &LineCtx<'_>, out: &mut Vec<Hit>) {
        let text = line.text;
        let code_match = |re: &Regex| {
            re.find_iter(text)
                .find(|m| {
                    // Skip the leading whitespace or boundary character of the match.
                    let skip = m
                        .as_str()
                        .find(|c: char| c.is_alphanumeric() || matches!(c, '@' | '#' | '_'))
                        .unwrap_or(0);
                    line.lexed.is_code(m.start() + skip)
                })
                .map(|m| {
                    m.as_str()
                        .trim_start_matches(|c: char| {
                            !(c.is_alphanumeric() || matches!(c, '@' | '#' | '_'))
                        })
                        .trim()
                        .to_owned()
                })
        };
        // A skip that names its tracking issue (`#[ignore = "see #123"]`, a URL) is
        // deliberate and tracked.
        // A comment right above (`// flaky on Windows, see #123`) justifies it too, and
        // so does a reason saying the feature is not there yet: a documented limitation,
        // not a test switched off.
        let lower = text.to_ascii_lowercase();
        let unsupported = [
            "not supported",
            "unsupported",
            "not implemented",
            "not yet implemented",
        ]
        .iter()
        .any(|w| lower.contains(w));
        // A reason that explains (a few words: `reason="fails under pytest-xdist"`,
        // `#[ignore = "races with the registry cache"]`) justifies the skip like a comment
        // above it would; a one-word label (`"broken"`, `"slow"`) does not. JavaScript's
        // and RSpec's strings are test names, not reasons.
        let explained = !matches!(file.lang, Lang::JavaScript | Lang::Ruby)
            && line.lexed.strings.iter().any(|s| {
                text.get(s.content_start..s.content_end)
                    .is_some_and(|c| c.split_whitespace().count() >= 3)
            });
        let tracked = unsupported
            || explained
            || references_issue(text)
            || text.to_ascii_lowercase().contains("issue")
            || line.prev.map(str::trim_start).is_some_and(|p| {
                ["//", "#", "*", "/*"].iter().any(|c| p.starts_with(c)) && !p.starts_with("#[")
            });
        let disabled = |what: String, out: &mut Vec<Hit>| {
            if tracked {
                return;
            }
            out.push(Hit {
                rule: Rule::TestDisabled,
                title: format!("Test disabled with `{}`", what.trim_end_matches(['(', ' '])),
                suggestion: None,
                body: None,
            })
        };
        match file.lang {
            Lang::JavaScript => {
                if let Some(m) = code_match(&self.js_only) {
                    out.push(Hit {
                        rule: Rule::TestFocused,
                        title: format!(
                            "Focused test `{}` skips the rest of the suite",
                            m.trim_end_matches(['(', ' '])
                        ),
                        suggestion: None,
                        body: None,
                    });
                } else if file.test
                    && let Some(m) = code_match(&self.js_f)
                {
                    out.push(Hit {
                        rule: Rule::TestFocused,
                        title: format!(
                            "Focused test `{}` skips the rest of the suite",
                            m.trim_end_matches(['(', ' '])
                        ),
                        suggestion: None,
                        body: None,
                    });
                }
                if let Some(m) = code_match(&self.js_skip) {
                    disabled(m, out);
                } else if file.test
                    && let Some(m) = code_match(&self.js_x)
                {
                    disabled(m, out);
                }
            }
            Lang::Python => {
                if let Some(m) = code_match(&self.py_skip) {
                    disabled(m, out);
                }
            }
            Lang::Rust => {
                if let Some(m) = code_match(&self.rust_ignore) {
                    disabled(format!("{m}]").replace("]]", "]"), out);
                }
            }
            Lang::Go if file.path.ends_with("_test.go") => {
                if let Some(m) = code_match(&self.go_skip) {
                    // `if testing.Short() { t.Skip(…) }` is a deliberate, conditional skip.
                    let conditional = text.trim_start().starts_with("if ")
                        || line.prev.map(str::trim).is_some_and(|p| {
                            (p.starts_with("if ")
                                || p.starts_with("} else")
                                || p.starts_with("case ")
                                || p.starts_with("default:"))
                                && (p.ends_with('{') || p.ends_with(':'))
                        });
                    if !conditional {
                        disabled(m, out);
                    }
                }
            }
            Lang::Java | Lang::Kotlin => {
                if let Some(m) = code_match(&self.java_disabled) {
                    disabled(m, out);
                }
            }
            Lang::Ruby if file.test => {
                if let Some(m) = code_match(&self.ruby_x) {
                    disabled(m, out);
                }
            }
            _ => {}
        }
    }

    fn unwrap(&self, file: &FileCtx<'_>, line: &LineCtx<'_>, out: &mut Vec<Hit>) {
        if file.lang != Lang::Rust || file.rust_non_production || line.rust_test {
            return;
        }
        let text = line.text;
        let t = text.trim_start();
        let t = t
            .strip_prefix("pub(crate) ")
            .or_else(|| t.strip_prefix("pub(super) "))
            .or_else(|| t.strip_prefix("pub "))
            .unwrap_or(t);
        if t.starts_with("const ") || t.starts_with("static ") {
            return;
        }
        let lx = line.lexed;
        // The receiver: the text before the call, or the previous line when the call
        // starts a continuation line (`    .expect("…")`).
        let receiver = |p: usize| {
            let before = &text[..p];
            if before.trim().is_empty() {
                line.prev.unwrap_or("")
            } else {
                before
            }
        };
        let unwrap = lx
            .find_code(text, ".unwrap()")
            .find(|&p| !infallible_receiver(receiver(p)));
        let expect = lx.find_code(text, ".expect(").find(|&p| {
            let arg = text[p + 8..].trim_start();
            let message_like = arg.is_empty()
                || arg.starts_with('"')
                || arg.starts_with("r\"")
                || arg.starts_with("r#")
                || arg.starts_with('&')
                || arg.starts_with("format!")
                || is_const_arg(arg);
            message_like && !infallible_receiver(receiver(p))
        });
        let what = match (unwrap, expect) {
            (Some(u), Some(e)) if e < u => ".expect(…)",
            (Some(_), _) => ".unwrap()",
            (None, Some(_)) => ".expect(…)",
            (None, None) => return,
        };
        out.push(Hit {
            rule: Rule::RustUnwrap,
            title: format!("`{what}` in non-test code can panic"),
            suggestion: None,
            body: None,
        });
    }
}

/// `MESSAGE)`: an upper-case constant as the whole argument.
fn is_const_arg(arg: &str) -> bool {
    let end = arg.find(')').unwrap_or(arg.len());
    let c = arg[..end].trim();
    c.starts_with(|ch: char| ch.is_ascii_uppercase())
        && c.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Is the text before `.unwrap()` a receiver that cannot fail in practice: a lock guard,
/// or a constructor/parse called on nothing but a literal?
fn infallible_receiver(before: &str) -> bool {
    let before = before.trim_end();
    // Lock guards and poison-only results: `.lock()`, `.read()`, `.write()`, `.get_mut()`,
    // `.into_inner()` with no arguments (`io::Read::read` and friends take arguments).
    if [
        ".lock()",
        ".read()",
        ".write()",
        ".get_mut()",
        ".into_inner()",
    ]
    .iter()
    .any(|g| before.ends_with(g))
    {
        return true;
    }
    // `write!(s, …).unwrap()`: formatting into a `String` cannot fail.
    let stmt = before.trim_start();
    let stmt = stmt.rsplit_once("= ").map_or(stmt, |(_, r)| r).trim_start();
    if (stmt.starts_with("write!(") || stmt.starts_with("writeln!(")) && stmt.ends_with(')') {
        return true;
    }
    // `"…".parse()` / `"…".parse::<T>()`
    if let Some(p) = before.rfind(".parse")
        && (before[p..] == *".parse()"
            || (before[p..].starts_with(".parse::<") && before.ends_with(">()")))
    {
        let recv = before[..p].trim_end();
        return recv.ends_with('"') || recv.ends_with("\"#");
    }
    // `Ctor::new("literal")`, `NonZeroU32::new(5)`
    if !before.ends_with(')') {
        return false;
    }
    let b = before.as_bytes();
    let mut depth = 0usize;
    let mut open = None;
    for i in (0..b.len()).rev() {
        match b[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(open) = open else {
        return false;
    };
    // It must be a validating constructor called by path (`Regex::new(`,
    // `Url::parse(`, `NonZeroU32::new(`) — not a method (`.nth(1)`) or a function that
    // does I/O (`env::var("HOME")`, `fs::read_to_string("x")`).
    let mut name_start = open;
    while name_start > 0 && super::lang::is_ident_byte(b[name_start - 1]) {
        name_start -= 1;
    }
    let name = &before[name_start..open];
    if !before[..name_start].ends_with("::")
        || !matches!(
            name,
            "new" | "parse" | "from_str" | "try_from" | "from_static" | "compile"
        )
    {
        return false;
    }
    let arg = before[open + 1..before.len() - 1].trim();
    let is_str = (arg.starts_with('"')
        && arg.ends_with('"')
        && arg.len() >= 2
        && !arg[1..arg.len() - 1].contains('"'))
        || (arg.starts_with("r#\"") && arg.ends_with("\"#"))
        || (arg.starts_with("r\"")
            && arg.ends_with('"')
            && arg.len() >= 3
            && !arg[2..arg.len() - 1].contains('"'));
    let is_num = !arg.is_empty()
        && arg.starts_with(|c: char| c.is_ascii_digit())
        && arg
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.');
    is_str || is_num
}

/// Does this line mark the start of Rust test code (`#[cfg(test)]`, `#[test]`,
/// `#[tokio::test]`, `#[bench]`, `mod tests {`)?
pub(super) fn is_rust_test_marker(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("#[") || t.starts_with("#![") {
        let inner = &t[..t.find(']').map_or(t.len(), |e| e + 1)];
        let inner = inner
            .trim_start_matches("#!")
            .trim_start_matches('#')
            .trim_start_matches('[');
        // `#[cfg_attr(test, …)]` and `#[cfg(not(test))]` are not test code.
        if inner.starts_with("cfg_attr") || inner.contains("not(test") {
            return false;
        }
        return ["test", "bench"]
            .iter()
            .any(|w| inner.match_indices(w).any(|(i, _)| word_at(inner, i, w)));
    }
    let t = t
        .strip_prefix("pub ")
        .or_else(|| t.strip_prefix("pub(crate) "))
        .unwrap_or(t);
    (t.starts_with("mod tests") || t.starts_with("mod test")) && !t.trim_end().ends_with(';') && {
        let rest = t
            .trim_start_matches("mod ")
            .trim_start_matches("tests")
            .trim_start_matches("test");
        rest.trim_start().starts_with('{') || rest.trim().is_empty()
    }
}

/// Follows the lines of one hunk (new side) and tells which are Rust test code: the item
/// after a test attribute or `mod tests {`, up to the end of its block; the whole hunk when
/// its section header is in a test module; the whole file after `#![cfg(test)]`.
pub(super) struct TestScope {
    /// Brace depth relative to the start of the hunk.
    depth: i32,
    /// The depth the test item started at, and whether its block has been entered.
    test: Option<(i32, bool)>,
}

impl TestScope {
    pub(super) fn new(section: &str) -> TestScope {
        TestScope {
            depth: 0,
            // The hunk starts inside a test module: test code until that block closes.
            test: is_rust_test_section(section).then_some((-1, true)),
        }
    }

    /// Is this line test code? Call for every new-side line of the hunk, in order.
    pub(super) fn line(&mut self, text: &str, lx: &Lexed) -> bool {
        if self.test.is_none() && is_rust_test_marker(text) {
            self.test = Some(if text.trim_start().starts_with("#![") {
                (i32::MIN, true)
            } else {
                (self.depth, false)
            });
        }
        let in_test = self.test.is_some();
        for (i, b) in text.bytes().enumerate() {
            if !matches!(b, b'{' | b'}' | b';') || !lx.is_code(i) {
                continue;
            }
            match b {
                b'{' => self.depth += 1,
                b'}' => self.depth -= 1,
                _ => {}
            }
            if let Some((start, entered)) = self.test {
                if self.depth > start {
                    self.test = Some((start, true));
                } else if (entered && self.depth <= start) || (b == b';' && self.depth == start) {
                    self.test = None;
                }
            }
        }
        in_test
    }
}

/// Does a hunk's section header (git's function context) place it inside test code?
pub(super) fn is_rust_test_section(section: &str) -> bool {
    is_rust_test_marker(section)
        || section.contains("mod tests")
        || section.contains("mod test ")
        || section.contains("mod test{")
        || section.contains("fn test_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_conflict_markers() {
        assert_eq!(conflict_marker("<<<<<<< HEAD"), Some(Marker::Ours));
        assert_eq!(conflict_marker("<<<<<<<"), Some(Marker::Ours));
        assert_eq!(conflict_marker(">>>>>>> feature/x"), Some(Marker::Theirs));
        assert_eq!(conflict_marker("======="), Some(Marker::Sep));
        assert_eq!(
            conflict_marker("||||||| merged common ancestors"),
            Some(Marker::Base)
        );
        assert_eq!(conflict_marker("<<<<<<<< x"), None);
        assert_eq!(conflict_marker("========"), None);
        assert_eq!(conflict_marker(" <<<<<<< HEAD"), None);
        assert_eq!(conflict_marker("=======x"), None);
    }

    #[test]
    fn rules_infallible_receivers() {
        assert!(infallible_receiver("m.lock()"));
        assert!(infallible_receiver("Regex::new(\"a+\")"));
        assert!(infallible_receiver("Regex::new(r\"a+\")"));
        assert!(infallible_receiver("Regex::new(r#\"a\"+\"#)"));
        assert!(infallible_receiver("\"127.0.0.1\".parse::<IpAddr>()"));
        assert!(infallible_receiver("NonZeroU32::new(5)"));
        assert!(infallible_receiver("    write!(&mut s, \"{x}<{y}>\")"));
        assert!(infallible_receiver("let n = writeln!(out, \"a\")"));
        assert!(infallible_receiver("            .write()"));
        assert!(!infallible_receiver("Regex::new(&pattern)"));
        assert!(!infallible_receiver("s.parse::<u32>()"));
        assert!(!infallible_receiver("file.read(&mut buf)"));
        assert!(!infallible_receiver("(a)"));
        assert!(!infallible_receiver("let path = std::env::args().nth(1)"));
        assert!(!infallible_receiver("env::var(\"HOME\")"));
        assert!(!infallible_receiver("fs::read_to_string(\"config.toml\")"));
        assert!(infallible_receiver("Url::parse(\"https://x.example\")"));
    }

    #[test]
    fn rules_rust_test_markers() {
        for l in [
            "#[cfg(test)]",
            "    #[test]",
            "#[tokio::test]",
            "#[cfg(all(test, unix))]",
            "mod tests {",
            "pub mod test {",
            "#![cfg(test)]",
        ] {
            assert!(is_rust_test_marker(l), "{l}");
        }
        for l in [
            "#[cfg(feature = \"testing\")]",
            "#[cfg_attr(test, derive(Debug))]",
            "#[cfg(not(test))]",
            "mod tests;",
            "mod testutil {",
            "fn test_it() {",
            "#[derive(Debug)]",
        ] {
            assert!(!is_rust_test_marker(l), "{l}");
        }
        assert!(is_rust_test_section("mod tests {"));
        assert!(is_rust_test_section("fn test_parse() {"));
        assert!(!is_rust_test_section("impl Parser {"));
    }
}
