//! Security smells that are cheap to recognise on one line: piping a download into a
//! shell, `eval` of strings, and SQL built by string formatting.

use regex::Regex;

use super::lang::{Lang, StrLit, is_ident_byte, word_at};
use super::{FileCtx, Hit, LineCtx, Rule};

pub(super) const P_CURL: u32 = 1 << 15;
pub(super) const P_EVAL: u32 = 1 << 16;
pub(super) const P_SQL: u32 = 1 << 17;

pub(super) const PREFILTER: &[(&str, u32)] = &[
    ("curl", P_CURL),
    ("wget", P_CURL),
    ("eval", P_EVAL),
    ("select", P_SQL),
    ("insert", P_SQL),
    ("update", P_SQL),
    ("delete", P_SQL),
];

pub(super) const HELP_CURL: &str = "A script downloaded with `curl`/`wget` is piped straight into a shell. Whatever the server (or anyone who can tamper with the connection, the DNS or the CDN) returns at that moment runs with the script's privileges, and nothing records what ran.\n\nDownload to a file, verify a pinned checksum or signature, then run it; or install from a package manager with a pinned version. Markdown and other documentation files are not checked.";
pub(super) const HELP_EVAL: &str = "`eval` runs a string as code. If any part of that string comes from input, a file, the network or the environment, an attacker can run arbitrary code; even when it does not, it defeats linters, type checkers and CSP.\n\nParse data with a real parser (`JSON.parse`, `ast.literal_eval`, `json_decode`), dispatch through a lookup table, or use `getattr`/`public_send`-style calls with an allow-list. Method calls that merely share the name — `model.eval()` in PyTorch, `ast.literal_eval`, `instance_eval` — are not reported.";
pub(super) const HELP_SQL: &str = "An SQL statement is assembled by string concatenation or interpolation (`+`, `.`, f-strings, `.format`, `%`, template literals, `format!`, `fmt.Sprintf`). If any interpolated value comes from a user, this is an SQL injection.\n\nUse a parameterised query and pass values separately — `cursor.execute(\"SELECT … WHERE id = %s\", (id,))`, `db.query(\"… WHERE id = $1\", [id])`, `sqlx::query(\"… WHERE id = ?\").bind(id)`, `db.Query(\"… WHERE id = ?\", id)`, or your ORM's query builder. Identifiers (table or column names) cannot be parameters: pick them from a fixed allow-list. Tagged templates such as ``sql`…${x}` `` escape their values and are not reported.";

pub(super) struct Security {
    curl_subst: Regex,
    sql: Regex,
    sql_extra: Regex,
    fmt_placeholder: Regex,
    printf_verb: Regex,
}

impl Security {
    pub(super) fn new() -> Security {
        let re = super::builtin_regex;
        Security {
            curl_subst: re(
                r"\b(?:ba|z|da|k)?sh\s+(?:-[a-zA-Z]+\s+)*(?:<\(\s*|-c\s+[\x22']?\$\(\s*)(?:curl|wget)\b",
            ),
            sql: re(
                r"(?i)\b(?:(select)\s+(?:distinct\s+)?[\w*.,\s()\x22`\[\]]+?\s+from\s+[\w.\x22`\[]|(insert)\s+into\s+[\w.\x22`\[]|(update)\s+[\w.\x22`\[\]]+\s+set\s+[\w\x22`\[]|(delete)\s+from\s+[\w.\x22`\[])",
            ),
            sql_extra: re(
                r"(?i)\b(?:where|values|join|order\s+by|group\s+by|limit|returning|set)\b|[*=?]|%s|\$\d",
            ),
            fmt_placeholder: re(r"\{[^{}]*\}"),
            printf_verb: re(r"%[-+# 0-9.]*[svdqxXfg]"),
        }
    }

    pub(super) fn check(
        &self,
        mask: u32,
        file: &FileCtx<'_>,
        line: &LineCtx<'_>,
        out: &mut Vec<Hit>,
    ) {
        if mask & P_CURL != 0 && self.curl_pipe(file, line) {
            out.push(Hit {
                rule: Rule::SecurityCurlPipeShell,
                title: "Downloaded script piped straight into a shell".into(),
                body: None,
            });
        }
        if mask & P_EVAL != 0 && !file.test && file.lang.has_eval() && eval_call(file.lang, line) {
            out.push(Hit {
                rule: Rule::SecurityEval,
                title: "`eval` of a string runs arbitrary code".into(),
                body: None,
            });
        }
        if mask & P_SQL != 0
            && !file.test
            && file.lang.is_programming()
            && let Some(how) = self.sql_concat(file.lang, line)
        {
            out.push(Hit {
                rule: Rule::SecuritySqlConcat,
                title: format!("SQL query built with {how}: possible SQL injection"),
                body: None,
            });
        }
    }

    fn curl_pipe(&self, file: &FileCtx<'_>, line: &LineCtx<'_>) -> bool {
        if file.test || matches!(file.lang, Lang::Prose | Lang::Markup) {
            return false;
        }
        let text = line.text;
        let lx = line.lexed;
        let not_comment = |i: usize| lx.class.get(i) != Some(&super::lang::Class::Comment);
        if let Some(m) = self.curl_subst.find(text)
            && not_comment(m.start())
        {
            return true;
        }
        for word in ["curl", "wget"] {
            for (p, _) in text.match_indices(word) {
                if !word_at(text, p, word) || !not_comment(p) {
                    continue;
                }
                // The pipeline that starts here, up to the end of the command.
                let rest = &text[p..];
                let end = [";", "&&", "||", "`", "\"", "'", ")"]
                    .iter()
                    .filter_map(|s| rest.find(s))
                    .min()
                    .unwrap_or(rest.len());
                let pipeline = &rest[..end];
                if pipeline.split('|').skip(1).any(is_shell_command) {
                    return true;
                }
            }
        }
        false
    }

    /// How the SQL on this line is assembled, when it is assembled from strings.
    fn sql_concat(&self, lang: Lang, line: &LineCtx<'_>) -> Option<&'static str> {
        let text = line.text;
        let lx = line.lexed;
        let lits: Vec<&StrLit> = lx.strings.iter().filter(|s| !s.char_lit).collect();
        if lits.is_empty() || lx.is_comment_only(text) {
            return None;
        }
        let mut joined = String::new();
        for s in &lits {
            joined.push_str(&text[s.content_start..s.content_end]);
            joined.push(' ');
        }
        let m = self.sql.captures(&joined)?;
        let keyword = (1..=4).find_map(|i| m.get(i)).map_or("", |k| k.as_str());
        // Lower-case SQL must look like more than an English sentence.
        if keyword.bytes().any(|b| b.is_ascii_lowercase())
            && !self.sql_extra.is_match(&joined[m.get(0)?.end()..])
        {
            return None;
        }
        let b = text.as_bytes();
        let next_code = |from: usize| {
            let mut j = from;
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            j
        };
        let prev_code = |to: usize| {
            let mut j = to;
            while j > 0 && b[j - 1].is_ascii_whitespace() {
                j -= 1;
            }
            j
        };
        let is_lit_start =
            |j: usize| lx.string_at(j).is_some() || (j < b.len() && b[j].is_ascii_digit());
        let is_lit_end =
            |j: usize| j > 0 && (lits.iter().any(|s| s.end == j) || b[j - 1].is_ascii_digit());
        for s in &lits {
            let content = &text[s.content_start..s.content_end];
            if s.interp {
                let interpolates = match lang {
                    Lang::Python | Lang::CSharp => self
                        .fmt_placeholder
                        .is_match(&content.replace("{{", "").replace("}}", "")),
                    Lang::JavaScript => content.contains("${"),
                    Lang::Ruby => content.contains("#{"),
                    Lang::Php | Lang::Kotlin => php_kotlin_interp(content),
                    _ => false,
                };
                if interpolates {
                    return Some(match lang {
                        Lang::Python => "an f-string",
                        Lang::JavaScript => "a template literal",
                        _ => "string interpolation",
                    });
                }
            }
            // `"…" + x`, `x + "…"` (and PHP's `.`)
            let after = next_code(s.end);
            let before = prev_code(s.start);
            let concat_ops: &[u8] = if lang == Lang::Php { b"." } else { b"+" };
            if after < b.len() && concat_ops.contains(&b[after]) && b.get(after + 1) != Some(&b'+')
            {
                let operand = next_code(after + 1 + usize::from(b.get(after + 1) == Some(&b'=')));
                if operand < b.len() && !is_lit_start(operand) {
                    return Some("string concatenation");
                }
            }
            if before > 0 && concat_ops.contains(&b[before - 1]) {
                let op = before - 1;
                let assign = op + 1 < b.len() && b[op + 1] == b'=';
                let operand = prev_code(op);
                // `x + "…"` or `$sql .= "… $x"` handled above; `q += "…" + x` too.
                if !assign
                    && operand > 0
                    && !is_lit_end(operand)
                    && (is_ident_byte(b[operand - 1]) || b")]".contains(&b[operand - 1]))
                {
                    return Some("string concatenation");
                }
            }
            // Python `"…" % args` and `"…".format(…)`
            if lang == Lang::Python {
                if after < b.len() && b[after] == b'%' && b.get(after + 1) != Some(&b'=') {
                    let operand = next_code(after + 1);
                    if operand < b.len() && !is_lit_start(operand) {
                        return Some("`%` formatting");
                    }
                }
                if text[after..].starts_with(".format(") {
                    return Some("`.format()`");
                }
            }
        }
        // Formatting macros and functions whose format string holds the SQL.
        let formats = |needle: &str| lx.code_contains(text, needle);
        match lang {
            Lang::Rust
                if ["format!(", "format_args!(", "write!(", "writeln!("]
                    .iter()
                    .any(|n| formats(n)) =>
            {
                let any = lits.iter().any(|s| {
                    let c = text[s.content_start..s.content_end]
                        .replace("{{", "")
                        .replace("}}", "");
                    self.sql.is_match(&c) && self.fmt_placeholder.is_match(&c)
                });
                any.then_some("`format!`")
            }
            Lang::Go if formats("Sprintf(") || formats("Fprintf(") => lits
                .iter()
                .any(|s| {
                    self.printf_verb
                        .is_match(&text[s.content_start..s.content_end])
                })
                .then_some("`fmt.Sprintf`"),
            Lang::Java | Lang::Kotlin if formats("String.format(") || formats(".formatted(") => {
                lits.iter()
                    .any(|s| {
                        self.printf_verb
                            .is_match(&text[s.content_start..s.content_end])
                    })
                    .then_some("`String.format`")
            }
            Lang::CSharp if formats("string.Format(") || formats("String.Format(") => {
                Some("`string.Format`")
            }
            Lang::C if formats("printf(") => lits
                .iter()
                .any(|s| {
                    self.printf_verb
                        .is_match(&text[s.content_start..s.content_end])
                })
                .then_some("`printf` formatting"),
            Lang::Php if formats("sprintf(") => lits
                .iter()
                .any(|s| {
                    self.printf_verb
                        .is_match(&text[s.content_start..s.content_end])
                })
                .then_some("`sprintf`"),
            _ => None,
        }
    }
}

/// `$name` / `{$…}` / `${…}` inside a PHP or Kotlin double-quoted string.
fn php_kotlin_interp(content: &str) -> bool {
    let b = content.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'$'
            && (i == 0 || b[i - 1] != b'\\')
            && b.get(i + 1)
                .is_some_and(|&n| n == b'{' || n == b'_' || n.is_ascii_alphabetic())
    }) || content.contains("{$")
}

/// After a `|`: is the command a shell (`sh`, `sudo bash -`, `/bin/sh -s`, `env X=1 sh`)?
fn is_shell_command(cmd: &str) -> bool {
    let mut words = cmd.split_whitespace().peekable();
    // `||` splits into an empty command: logical or, not a pipe.
    let Some(mut w) = words.next() else {
        return false;
    };
    loop {
        if w == "sudo"
            || w == "env"
            || w == "exec"
            || w == "nohup"
            || w.starts_with('-')
            || w.contains('=')
        {
            match words.next() {
                Some(next) => w = next,
                None => return false,
            }
            continue;
        }
        break;
    }
    let name = w.rsplit('/').next().unwrap_or(w);
    matches!(name, "sh" | "bash" | "zsh" | "dash" | "ksh" | "fish")
}

/// A call of the global `eval` (not a method or a longer identifier).
fn eval_call(lang: Lang, line: &LineCtx<'_>) -> bool {
    let text = line.text;
    let b = text.as_bytes();
    for p in line.lexed.find_code(text, "eval") {
        if p > 0 && (is_ident_byte(b[p - 1]) || b"$.@:>\\".contains(&b[p - 1])) {
            continue; // `model.eval`, `literal_eval`, `$eval`, `obj->eval`, `A::eval`
        }
        let after = p + 4;
        if b.get(after).is_some_and(|&c| is_ident_byte(c)) {
            continue; // `evaluate`
        }
        let rest = text[after..].trim_start();
        let called = rest.starts_with('(')
            || (lang == Lang::Ruby
                && after < b.len()
                && b[after] == b' '
                && rest.starts_with(|c: char| {
                    c == '"' || c == '\'' || c == '@' || c.is_ascii_lowercase()
                })
                && !rest.starts_with("if ")
                && !rest.starts_with("unless ")
                && !rest.starts_with("do")
                && !rest.starts_with("="));
        if !called {
            continue;
        }
        // A definition, not a call: `def eval(`, `function eval(`, `fn eval(`.
        let before = text[..p].trim_end();
        if ["def", "function", "fn", "func", "async function"]
            .iter()
            .any(|kw| before.ends_with(kw) && word_at(before, before.len() - kw.len(), kw))
        {
            continue;
        }
        // JS method shorthand in a class or object: `eval(x) {`
        if lang == Lang::JavaScript && before.is_empty() && rest.trim_end().ends_with('{') {
            continue;
        }
        return true;
    }
    false
}
