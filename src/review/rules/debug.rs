//! Debugging leftovers: statements that halt execution under a debugger and stray
//! diagnostic output.

use regex::Regex;

use super::lang::Lang;
use super::{FileCtx, Hit, LineCtx, Rule};

pub(super) const P_DEBUG: u32 = 1 << 7;

pub(super) const PREFILTER: &[(&str, u32)] = &[
    ("console.", P_DEBUG),
    ("debugger", P_DEBUG),
    ("dbg!", P_DEBUG),
    ("breakpoint", P_DEBUG),
    ("pdb", P_DEBUG),
    ("pudb", P_DEBUG),
    ("binding.", P_DEBUG),
    ("byebug", P_DEBUG),
    ("var_dump", P_DEBUG),
    ("print_r", P_DEBUG),
];

pub(super) const HELP_CONSOLE: &str = "A `console.log`/`console.debug`/`console.trace` call was added to application code. Leftover logging clutters users' consoles, can leak data, and is rarely meant to ship.\n\nRemove it, or use the project's logger. Not reported in tests, scripts and CLI entry points (`bin/`, `scripts/`, `*.config.js`), or in files that already print with `console.log`.";
pub(super) const HELP_JS_DEBUGGER: &str = "A `debugger;` statement was added. With developer tools open (or under `node --inspect`), execution stops here.\n\nRemove it before merging; use a breakpoint in the debugger instead.";
pub(super) const HELP_RUST_DBG: &str = "A `dbg!` macro call was added. It prints to stderr with file and line in every build, including release builds.\n\nRemove it, or use `tracing`/`log` for output that should stay (Clippy's `dbg_macro` lint catches these too).";
pub(super) const HELP_PY_BREAKPOINT: &str = "A Python debugger hook was added (`breakpoint()`, `import pdb`, `pdb.set_trace()`, `ipdb`, `pudb`). When reached it stops the process and waits for input at a debugger prompt — in production or CI it hangs.\n\nRemove it before merging.";
pub(super) const HELP_RUBY_DEBUGGER: &str = "A Ruby debugger hook was added (`binding.pry`, `binding.irb`, `byebug`, `debugger`). When reached it stops the process at an interactive prompt — in production or CI it hangs.\n\nRemove it before merging.";
pub(super) const HELP_PHP_DUMP: &str = "A `var_dump`/`print_r` call was added. It writes internal data straight into the response, which breaks output formats and can leak data.\n\nRemove it, or use the framework's logger. `print_r($x, true)` (which returns a string) is not reported.";

pub(super) struct Debug {
    console: Regex,
    js_debugger: Regex,
    rust_dbg: Regex,
    py_breakpoint: Regex,
    py_import: Regex,
    py_set_trace: Regex,
    ruby_binding: Regex,
    ruby_byebug: Regex,
    php_dump: Regex,
}

impl Debug {
    pub(super) fn new() -> Debug {
        let re = super::builtin_regex;
        Debug {
            console: re(r"\bconsole\.(?:log|debug|trace)\s*\("),
            js_debugger: re(r"(?:^|[;{})]|\belse)\s*(debugger)\s*(?:;|\}|$)"),
            rust_dbg: re(r"\bdbg!\s*[(\[{]"),
            py_breakpoint: re(r"(?:^|[^\w.])(breakpoint)\s*\(\s*\)"),
            py_import: re(
                r"^\s*(?:import|from)\s+(?:pdb|ipdb|pudb)\b|;\s*import\s+(?:pdb|ipdb|pudb)\b",
            ),
            py_set_trace: re(
                r"\b(?:pdb|ipdb|pudb)\.(?:set_trace|post_mortem|pm)\s*\(|__import__\(\s*['\x22](?:pdb|ipdb|pudb)['\x22]\s*\)",
            ),
            ruby_binding: re(r"\bbinding\.(?:pry|irb|remote_pry)\b"),
            ruby_byebug: re(r"^\s*(?:byebug|debugger|remote_byebug)\s*(?:$|\bif\b|\bunless\b)"),
            php_dump: re(r"(?:^|[^\w>:$])(var_dump|print_r)\s*\("),
        }
    }

    pub(super) fn check(&self, file: &FileCtx<'_>, line: &LineCtx<'_>, out: &mut Vec<Hit>) {
        let text = line.text;
        let lx = line.lexed;
        // The first match of `re` whose group 1 (or whole match) starts in code.
        let find = |re: &Regex| {
            re.captures_iter(text).find_map(|c| {
                let m = c.get(1).or_else(|| c.get(0))?;
                let skip = m.as_str().len() - m.as_str().trim_start().len();
                lx.is_code(m.start() + skip)
                    .then(|| m.as_str().trim().to_owned())
            })
        };
        // Delete the line when it is nothing but the debugging statement(s).
        let delete = |only: &dyn Fn(&str) -> bool| delete_suggestion(file.lang, line, only);
        let hit = |rule: Rule, title: String, suggestion: Option<String>| Hit {
            rule,
            title,
            suggestion,
            body: None,
        };
        match file.lang {
            Lang::JavaScript => {
                if !file.test
                    && !file.script
                    && !file.console_in_context
                    && let Some(m) = find(&self.console)
                {
                    let call = m.trim_end_matches(['(', ' ']);
                    out.push(hit(
                        Rule::DebugConsoleLog,
                        format!("`{call}` left in application code"),
                        delete(&|s| {
                            s.starts_with("console.") && balanced_call(s.trim_end_matches(';'))
                        }),
                    ));
                }
                if find(&self.js_debugger).is_some() {
                    out.push(hit(
                        Rule::DebugJsDebugger,
                        "`debugger` statement halts execution".into(),
                        delete(&|s| s == "debugger;" || s == "debugger"),
                    ));
                }
            }
            // Examples print what they show by design, and compile tests (trybuild's
            // `tests/ui/`, `tests/pass/`, `tests/fail/`) only have to compile.
            Lang::Rust if !example_or_compile_test(file.path) && find(&self.rust_dbg).is_some() => {
                out.push(hit(
                    Rule::DebugRustDbg,
                    "`dbg!` left in code".into(),
                    delete(&|s| {
                        s.starts_with("dbg!(")
                            && s.ends_with(';')
                            && balanced_call(s.trim_end_matches(';'))
                    }),
                ));
            }
            Lang::Python => {
                let what = find(&self.py_breakpoint)
                    .map(|_| "breakpoint()".to_owned())
                    .or_else(|| {
                        find(&self.py_set_trace)
                            .map(|m| m.trim_end_matches(['(', ' ']).to_owned() + "()")
                    })
                    .or_else(|| {
                        find(&self.py_import).map(|m| m.trim_start_matches(';').trim().to_owned())
                    });
                if let Some(what) = what {
                    out.push(hit(
                        Rule::DebugPythonBreakpoint,
                        format!("Debugger hook `{what}` stops execution"),
                        delete(&|s| s.split(';').all(|part| is_python_hook(part.trim()))),
                    ));
                }
            }
            Lang::Ruby => {
                if let Some(m) = find(&self.ruby_binding).or_else(|| find(&self.ruby_byebug)) {
                    let m = m.split_whitespace().next().unwrap_or("").to_owned();
                    out.push(hit(
                        Rule::DebugRubyDebugger,
                        format!("Debugger hook `{m}` stops execution"),
                        delete(&|s| {
                            matches!(s, "binding.pry" | "binding.irb" | "byebug" | "debugger")
                        }),
                    ));
                }
            }
            Lang::Php if !file.test => {
                if let Some(m) = find(&self.php_dump) {
                    // `print_r($x, true)` returns the string instead of printing it.
                    let returns = m == "print_r" && {
                        let compact: String = text.split_whitespace().collect();
                        compact.contains(",true)") || compact.contains(",TRUE)")
                    };
                    if !returns {
                        out.push(hit(
                            Rule::DebugPhpDump,
                            format!("`{m}` output left in code"),
                            delete(&|s| {
                                (s.starts_with("var_dump(") || s.starts_with("print_r("))
                                    && s.ends_with(';')
                                    && balanced_call(s.trim_end_matches(';'))
                            }),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// `Some("")` (delete the line) when the trimmed line satisfies `only`, carries no
/// comment, and deleting it cannot change what the previous line governs: not the sole
/// body of a Python block (`if x:`), nor of a brace-less JavaScript `if (…)`/`else`.
fn delete_suggestion(
    lang: Lang,
    line: &LineCtx<'_>,
    only: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let t = line.text.trim();
    if line.lexed.has_comment || !only(t) {
        return None;
    }
    let prev = line.prev.map(str::trim_end).unwrap_or("");
    let governs = match lang {
        Lang::Python => prev.ends_with(':'),
        Lang::JavaScript => prev.ends_with(')') || prev.ends_with("else") || prev.ends_with("=>"),
        _ => false,
    };
    (!governs).then(String::new)
}

/// `name(…)` whose parentheses close exactly at the end (one complete call on the line).
fn balanced_call(s: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i + 1 != s.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && s.ends_with(')')
}

/// One Python debugger statement: `breakpoint()`, `import pdb`, `pdb.set_trace()`, ….
fn is_python_hook(s: &str) -> bool {
    let modules = ["pdb", "ipdb", "pudb"];
    s == "breakpoint()"
        || modules.iter().any(|m| {
            s == format!("import {m}")
                || s == format!("{m}.set_trace()")
                || s == format!("from {m} import set_trace")
                || s == format!("__import__('{m}').set_trace()")
                || s == format!("__import__(\"{m}\").set_trace()")
        })
        || s == "set_trace()"
}

/// Rust examples (`examples/`) and compile-test cases (`tests/ui/`, `tests/pass/`,
/// `tests/fail/`, `tests/compile-fail/`).
fn example_or_compile_test(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    dirs.iter().any(|d| matches!(*d, "examples" | "example"))
        || dirs.windows(2).any(|w| {
            w[0] == "tests"
                && matches!(
                    w[1],
                    "ui" | "pass" | "fail" | "compile-fail" | "compile-pass"
                )
        })
}
