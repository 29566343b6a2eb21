//! What kind of file a path is (language, test code, generated code, documentation) and a
//! small per-line lexer that tells code from string literals and comments.
//!
//! The lexer is deliberately approximate: it knows each language's quotes, string prefixes
//! and comment markers, and carries block comments and multi-line strings from one line
//! to the next within a hunk. It does not parse; a rule that needs more than "is this byte
//! code, string or comment" looks at the text itself.

/// The languages the rules tell apart. Many languages share one variant when the rules
/// treat them alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    Rust,
    Python,
    /// JavaScript, TypeScript and their JSX/Vue/Svelte variants.
    JavaScript,
    Ruby,
    Php,
    Go,
    /// Java, Scala, Groovy.
    Java,
    Kotlin,
    CSharp,
    /// C, C++, Objective-C, Swift, Dart and other `//` + `/* */` languages.
    C,
    Shell,
    Yaml,
    Toml,
    Json,
    /// `.env` files and Java `.properties`.
    Env,
    /// `.ini`, `.cfg`, `.conf`.
    Ini,
    Dockerfile,
    Makefile,
    Sql,
    Css,
    /// HTML and XML.
    Markup,
    /// Markdown, reStructuredText, AsciiDoc, plain text: prose, no code.
    Prose,
    Other,
}

impl Lang {
    /// Detect the language from a path (extension or well-known file name).
    pub(crate) fn detect(path: &str) -> Lang {
        let name = file_name(path);
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "dockerfile" | "containerfile" => return Lang::Dockerfile,
            "makefile" | "gnumakefile" => return Lang::Makefile,
            "gemfile" | "rakefile" | "podfile" | "vagrantfile" | "guardfile" => return Lang::Ruby,
            "cmakelists.txt" => return Lang::Other,
            ".bashrc" | ".bash_profile" | ".profile" | ".zshrc" => return Lang::Shell,
            _ => {}
        }
        if lower == ".env" || lower.starts_with(".env.") || lower.ends_with(".env") {
            return Lang::Env;
        }
        if lower.starts_with("dockerfile.") || lower.ends_with(".dockerfile") {
            return Lang::Dockerfile;
        }
        let ext = match lower.rsplit_once('.') {
            Some((_, ext)) => ext,
            None => return Lang::Other,
        };
        match ext {
            "rs" => Lang::Rust,
            "py" | "pyi" | "pyw" => Lang::Python,
            "js" | "jsx" | "mjs" | "cjs" | "ts" | "tsx" | "mts" | "cts" | "vue" | "svelte" => {
                Lang::JavaScript
            }
            "rb" | "rake" | "gemspec" | "ru" | "erb" => Lang::Ruby,
            "php" | "phtml" => Lang::Php,
            "go" => Lang::Go,
            "java" | "scala" | "sc" | "groovy" | "gradle" => Lang::Java,
            "kt" | "kts" => Lang::Kotlin,
            "cs" => Lang::CSharp,
            "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" | "m" | "mm" | "swift"
            | "dart" | "zig" | "proto" => Lang::C,
            "sh" | "bash" | "zsh" | "ksh" | "fish" => Lang::Shell,
            "yml" | "yaml" => Lang::Yaml,
            "toml" => Lang::Toml,
            "json" | "jsonc" | "json5" | "ipynb" => Lang::Json,
            "properties" => Lang::Env,
            "ini" | "cfg" | "conf" => Lang::Ini,
            "mk" | "mak" => Lang::Makefile,
            "sql" => Lang::Sql,
            "css" | "scss" | "less" => Lang::Css,
            "html" | "htm" | "xml" | "xhtml" | "svg" | "plist" => Lang::Markup,
            "md" | "markdown" | "mdx" | "rst" | "adoc" | "asciidoc" | "txt" | "rdoc" => Lang::Prose,
            _ => Lang::Other,
        }
    }

    /// JavaScript-family, Python, Ruby and PHP: the languages with a runtime `eval`.
    pub(crate) fn has_eval(self) -> bool {
        matches!(
            self,
            Lang::JavaScript | Lang::Python | Lang::Ruby | Lang::Php
        )
    }

    /// General-purpose programming languages (where SQL is built in code).
    pub(crate) fn is_programming(self) -> bool {
        matches!(
            self,
            Lang::Rust
                | Lang::Python
                | Lang::JavaScript
                | Lang::Ruby
                | Lang::Php
                | Lang::Go
                | Lang::Java
                | Lang::Kotlin
                | Lang::CSharp
                | Lang::C
        )
    }

    /// Configuration formats where a value may stand unquoted after `=` or `:`.
    pub(crate) fn allows_bare_values(self) -> bool {
        matches!(
            self,
            Lang::Yaml | Lang::Env | Lang::Ini | Lang::Shell | Lang::Dockerfile | Lang::Makefile
        )
    }

    fn has_slash_comments(self) -> bool {
        matches!(
            self,
            Lang::Rust
                | Lang::JavaScript
                | Lang::Php
                | Lang::Go
                | Lang::Java
                | Lang::Kotlin
                | Lang::CSharp
                | Lang::C
                | Lang::Json
        )
    }

    pub(crate) fn has_block_comments(self) -> bool {
        self.has_slash_comments() || matches!(self, Lang::Css | Lang::Sql)
    }

    /// `#` starts a comment anywhere outside a string.
    fn hash_comments_anywhere(self) -> bool {
        matches!(self, Lang::Python | Lang::Ruby | Lang::Php)
    }

    /// `#` starts a comment at the start of a word (shell-like and config formats).
    fn hash_comments_at_word(self) -> bool {
        matches!(
            self,
            Lang::Shell
                | Lang::Yaml
                | Lang::Toml
                | Lang::Env
                | Lang::Ini
                | Lang::Dockerfile
                | Lang::Makefile
                | Lang::Other
        )
    }

    /// Single quotes delimit strings (not characters or lifetimes).
    fn single_quote_strings(self) -> bool {
        matches!(
            self,
            Lang::Python
                | Lang::JavaScript
                | Lang::Ruby
                | Lang::Php
                | Lang::Shell
                | Lang::Yaml
                | Lang::Toml
                | Lang::Sql
                | Lang::Css
                | Lang::Markup
                | Lang::Ini
                | Lang::Env
                | Lang::Dockerfile
                | Lang::Makefile
                | Lang::Other
        )
    }

    /// Single quotes delimit a character literal (`'a'`, `'\n'`); elsewhere a lone `'` is
    /// a lifetime or label (Rust) and stays code.
    fn single_quote_chars(self) -> bool {
        matches!(
            self,
            Lang::Rust | Lang::Go | Lang::Java | Lang::Kotlin | Lang::CSharp | Lang::C
        )
    }
}

/// The last path component.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The directories of `path` (all components but the last).
fn dirs(path: &str) -> impl Iterator<Item = &str> {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts.into_iter()
}

/// Is `path` test code (a test directory, a test file by naming convention, fixtures)?
pub(crate) fn is_test_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    for d in dirs(&lower) {
        if matches!(
            d,
            "test"
                | "tests"
                | "__tests__"
                | "__mocks__"
                | "spec"
                | "specs"
                | "testing"
                | "testdata"
                | "test-data"
                | "test_data"
                | "fixtures"
                | "e2e"
                | "cypress"
                | "playwright"
                | "integration-tests"
                | "integration_tests"
                | "test_files"
                | "test-files"
                // Benchmarks: measurement code that is not shipped.
                | "benchmark"
                | "benchmarks"
                | "bench"
                | "benches"
        ) {
            return true;
        }
    }
    let name = file_name(&lower);
    let stem = name.split('.').next().unwrap_or(name);
    name.contains(".test.")
        || name.contains(".spec.")
        || name.contains("_test.")
        || name.contains("_tests.")
        || name.contains("_spec.")
        || name.starts_with("test_")
        || stem == "test"
        || stem == "tests"
        || stem == "conftest"
        || stem == "testing"
        || (name.ends_with(".java") || name.ends_with(".kt") || name.ends_with(".cs"))
            && (stem.ends_with("test") || stem.ends_with("tests"))
}

/// Rust code that may panic freely: integration tests, benches, examples, build scripts,
/// fuzz targets and test modules in their own files.
pub(crate) fn is_rust_non_production(path: &str) -> bool {
    if is_test_path(path) {
        return true;
    }
    let name = file_name(path);
    if name == "build.rs" {
        return true;
    }
    dirs(path).any(|d| matches!(d, "benches" | "examples" | "fuzz" | "fuzz_targets"))
}

/// Generated, vendored or minified files: language rules stay quiet (secrets are still
/// checked).
pub(crate) fn is_generated_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = file_name(&lower);
    if name.contains(".min.")
        || name.ends_with(".map")
        || name.ends_with(".lock")
        || name.ends_with(".snap")
        || matches!(
            name,
            "package-lock.json"
                | "npm-shrinkwrap.json"
                | "pnpm-lock.yaml"
                | "yarn.lock"
                | "go.sum"
                | "poetry.lock"
                | "composer.lock"
        )
        || name.contains(".generated.")
        || name.contains(".pb.")
        || name.ends_with("_pb2.py")
    {
        return true;
    }
    dirs(&lower).any(|d| {
        matches!(
            d,
            "dist"
                | "vendor"
                | "node_modules"
                | "third_party"
                | "third-party"
                | "generated"
                | "_vendor"
                | "vendored"
                // Sphinx copies these assets (vendored scripts) into the built docs.
                | "_static"
        )
    }) || (name.ends_with(".py") && dirs(&lower).skip(1).any(|d| d == "packages"))
    // Python's older vendoring convention: a `packages` directory inside a package
    // (`requests/packages/urllib3/…`). A top-level `packages/` is a monorepo's.
}

/// Template files whose values are placeholders by design (`.env.example`).
pub(crate) fn is_template_path(path: &str) -> bool {
    let lower = file_name(path).to_ascii_lowercase();
    lower.split(['.', '_', '-']).any(|part| {
        matches!(
            part,
            "example" | "sample" | "template" | "dist" | "tmpl" | "tpl"
        )
    })
}

/// Scripts and command-line entry points, which print to the console by design.
pub(crate) fn is_script_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = file_name(&lower);
    if name.contains(".config.")
        || name.starts_with("gruntfile")
        || name.starts_with("gulpfile")
        || name.starts_with("cli.")
    {
        return true;
    }
    // Packages named for their job: `packages/agent-cli-test/`, `dev-tools/`.
    let named_for_printing = |d: &str| {
        d.split(['-', '_', '.'])
            .any(|p| matches!(p, "cli" | "bin" | "scripts" | "tools" | "devtools"))
    };
    dirs(&lower).any(|d| {
        named_for_printing(d)
            || matches!(
                d,
                "bin"
                    | "cli"
                    | "scripts"
                    | "script"
                    | "tools"
                    | "examples"
                    | "example"
                    | "demo"
                    | "demos"
            )
    })
}

/// A GitHub Actions workflow (`.github/workflows/*.yml`) or action (`action.yml`).
pub(crate) fn is_workflow_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = file_name(&lower);
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    yaml && (lower.contains(".github/workflows/") || name == "action.yml" || name == "action.yaml")
}

/// A line near the top of a file that says the file is generated.
pub(crate) fn has_generated_marker(line: &str) -> bool {
    const MARKERS: &[&str] = &[
        "@generated",
        "DO NOT EDIT",
        "Do not edit",
        "do not edit",
        "Code generated",
        "auto-generated",
        "Auto-generated",
        "autogenerated",
        "Autogenerated",
        "AUTO-GENERATED",
        "automatically generated",
        "Automatically generated",
        "This file is generated",
        "This file was generated",
        "ts-migrate",
    ];
    MARKERS.iter().any(|m| line.contains(m))
}

/// JavaScript that reads its command line or runs as a script: a program whose job is
/// printing.
pub(crate) fn is_cli_usage(line: &str) -> bool {
    line.contains("process.argv")
        || line.contains("'commander'")
        || line.contains("\"commander\"")
        || line.contains("'yargs")
        || line.contains("\"yargs")
        || line.contains("#!/usr/bin/env node")
        || line.contains("require.main === module")
        || line.contains("process.chdir(")
}

/// Rust: the first and last line of the first top-level `#[cfg(test)]` module of a whole
/// file (a line `#[cfg(test)]` at column 0, `mod … {` within the next two lines, up to the
/// first `}` at column 0).
pub(crate) fn rust_test_module(text: &str) -> Option<(u32, u32)> {
    let lines: Vec<&str> = text.split('\n').collect();
    let start = lines.iter().position(|l| l.trim_end() == "#[cfg(test)]")?;
    let opens = lines.iter().skip(start + 1).take(2).any(|l| {
        (l.starts_with("mod ") || l.starts_with("pub mod ")) && l.trim_end().ends_with('{')
    });
    if !opens {
        return None;
    }
    let end = lines
        .iter()
        .skip(start + 1)
        .position(|l| l.trim_end() == "}")
        .map_or(lines.len(), |p| start + 1 + p);
    Some((start as u32 + 1, end as u32 + 1))
}

/// Where credentials are throwaway by design: CI service containers and compose files
/// (`POSTGRES_PASSWORD: postgres`), mocks, stubs and fixtures.
pub(crate) fn is_throwaway_secret_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = file_name(&lower);
    if name.starts_with("docker-compose")
        || name.starts_with("compose.")
        || name.starts_with("compose-")
        || name == ".gitlab-ci.yml"
        || name == ".travis.yml"
        || name.starts_with("azure-pipelines")
        || name == "bitbucket-pipelines.yml"
        || lower.contains(".github/workflows/")
        || lower.contains(".circleci/")
        || lower.contains(".buildkite/")
    {
        return true;
    }
    lower.split(['/', '.', '-', '_']).any(|p| {
        matches!(
            p,
            "mock"
                | "mocks"
                | "msw"
                | "stub"
                | "stubs"
                | "fixture"
                | "fixtures"
                | "fake"
                | "fakes"
                | "seed"
                | "seeds"
                | "demo"
                // Example apps: their keys are there to be replaced.
                | "example"
                | "examples"
                | "sample"
                | "samples"
        )
    })
}

/// The block structure of a hunk's new side by indentation: for each line, the nearest
/// earlier line indented less (its block's header). Amortised O(1) per line.
#[derive(Default)]
pub(crate) struct Blocks<'a> {
    stack: Vec<(usize, &'a str)>,
}

impl<'a> Blocks<'a> {
    /// Record `line` and return the header of the block it is in.
    pub(crate) fn opener(&mut self, line: &'a str) -> Option<&'a str> {
        let t = line.trim_start();
        if t.is_empty() {
            return self.stack.last().map(|(_, l)| *l);
        }
        let indent = line.len() - t.len();
        while self.stack.last().is_some_and(|(i, _)| *i >= indent) {
            self.stack.pop();
        }
        let opener = self.stack.last().map(|(_, l)| *l);
        self.stack.push((indent, line));
        opener
    }
}

/// Follows a workflow file line by line: is a line part of a `run:` (shell) or
/// `script:` (actions/github-script) value? Block scalars (`run: |`) continue while
/// lines are indented deeper than the key's line.
#[derive(Default)]
pub(crate) struct YamlScript {
    block_indent: Option<usize>,
}

impl YamlScript {
    pub(crate) fn line(&mut self, line: &str) -> bool {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if let Some(i) = self.block_indent {
            if t.is_empty() || indent > i {
                return true;
            }
            self.block_indent = None;
        }
        let key = t.strip_prefix("- ").unwrap_or(t).trim_start();
        let Some(value) = key
            .strip_prefix("run:")
            .or_else(|| key.strip_prefix("script:"))
        else {
            return false;
        };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            self.block_indent = Some(indent);
            return false;
        }
        !value.is_empty()
    }
}

/// What a byte of a lexed line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Code,
    Str,
    Comment,
}

/// A string literal (or the part of one) on a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StrLit {
    /// First byte of the literal, including any prefix (`f`, `r#`, `$`); 0 when the
    /// literal began on an earlier line.
    pub start: usize,
    /// One past the closing delimiter; the line length when it continues on the next line.
    pub end: usize,
    /// The text between the delimiters.
    pub content_start: usize,
    pub content_end: usize,
    /// Interpolating: a Python f-string, an untagged JS template, a Ruby/PHP/Kotlin
    /// double-quoted string, a C# `$"…"`.
    pub interp: bool,
    /// A JS tagged template (`sql\`…\``), which the tag escapes.
    pub tagged: bool,
    /// A character literal (`'a'`).
    pub char_lit: bool,
}

/// A lexed line: the class of every byte plus the string literals.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    pub class: Vec<Class>,
    pub strings: Vec<StrLit>,
    pub has_comment: bool,
}

impl Lexed {
    pub(crate) fn is_code(&self, i: usize) -> bool {
        self.class.get(i) == Some(&Class::Code)
    }

    /// Positions of `needle` in `line` whose first byte is code.
    pub(crate) fn find_code<'s>(
        &'s self,
        line: &'s str,
        needle: &'s str,
    ) -> impl Iterator<Item = usize> + 's {
        memchr::memmem::find_iter(line.as_bytes(), needle.as_bytes()).filter(|&i| self.is_code(i))
    }

    /// Does `needle` occur in code?
    pub(crate) fn code_contains(&self, line: &str, needle: &str) -> bool {
        self.find_code(line, needle).next().is_some()
    }

    /// The comment parts of the line, as byte ranges.
    pub(crate) fn comment_ranges(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if !self.has_comment {
            return out;
        }
        let mut i = 0;
        while i < self.class.len() {
            if self.class[i] == Class::Comment {
                let s = i;
                while i < self.class.len() && self.class[i] == Class::Comment {
                    i += 1;
                }
                out.push((s, i));
            } else {
                i += 1;
            }
        }
        out
    }

    /// Is the line nothing but comment and whitespace?
    pub(crate) fn is_comment_only(&self, line: &str) -> bool {
        self.has_comment
            && line
                .bytes()
                .zip(&self.class)
                .all(|(b, c)| *c == Class::Comment || b.is_ascii_whitespace())
    }

    /// The literal that starts at byte `i`, if any.
    pub(crate) fn string_at(&self, i: usize) -> Option<&StrLit> {
        self.strings.iter().find(|s| s.start == i)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Open {
    None,
    /// Inside `/* … */` or `<!-- … -->`; the closing marker.
    Block(&'static str),
    /// Inside a string that continues on the next line.
    Str {
        close: String,
        escapes: bool,
        interp: bool,
    },
}

/// Lexes the lines of one side of one hunk, in order.
pub(crate) struct Lexer {
    lang: Lang,
    open: Open,
    fresh: bool,
}

impl Lexer {
    pub(crate) fn new(lang: Lang) -> Lexer {
        Lexer {
            lang,
            open: Open::None,
            fresh: true,
        }
    }

    /// Forget all state: a new hunk starts.
    pub(crate) fn reset(&mut self) {
        self.open = Open::None;
        self.fresh = true;
    }

    /// A new hunk starts inside a block comment (see [`starts_inside_block_comment`]).
    pub(crate) fn reset_inside_block_comment(&mut self) {
        self.reset();
        if self.lang.has_block_comments() {
            self.open = Open::Block("*/");
        }
    }

    /// Lex one line into `out` (reusing its buffers).
    pub(crate) fn lex(&mut self, line: &str, out: &mut Lexed) {
        out.class.clear();
        out.class.resize(line.len(), Class::Code);
        out.strings.clear();
        out.has_comment = false;
        let lang = self.lang;
        let b = line.as_bytes();
        let n = b.len();
        if lang == Lang::Prose {
            return;
        }
        // The first line of a hunk may sit inside a block comment we never saw open:
        // a line that starts like a comment continuation (` * text`, ` */`) is one.
        if self.fresh && lang.has_block_comments() && self.open == Open::None {
            let t = line.trim_start();
            if t == "*" || t.starts_with("* ") || t.starts_with("*/") || t.starts_with("**") {
                self.open = Open::Block("*/");
            }
        }
        self.fresh = false;

        let mut i = 0;
        // Carry-over from the previous line.
        match std::mem::replace(&mut self.open, Open::None) {
            Open::None => {}
            Open::Block(close) => match find(b, 0, close.as_bytes()) {
                Some(p) => {
                    let e = p + close.len();
                    mark(&mut out.class, 0, e, Class::Comment);
                    out.has_comment = true;
                    i = e;
                }
                None => {
                    mark(&mut out.class, 0, n, Class::Comment);
                    out.has_comment = true;
                    self.open = Open::Block(close);
                    return;
                }
            },
            Open::Str {
                close,
                escapes,
                interp,
            } => {
                let (end, closed) = scan_string(b, 0, close.as_bytes(), escapes);
                let content_end = if closed { end - close.len() } else { end };
                mark(&mut out.class, 0, end, Class::Str);
                out.strings.push(StrLit {
                    start: 0,
                    end,
                    content_start: 0,
                    content_end,
                    interp,
                    tagged: false,
                    char_lit: false,
                });
                if !closed {
                    self.open = Open::Str {
                        close,
                        escapes,
                        interp,
                    };
                    return;
                }
                i = end;
            }
        }

        while i < n {
            let c = b[i];
            // Comments.
            if c == b'/' && i + 1 < n && lang.has_slash_comments() {
                if b[i + 1] == b'/' {
                    mark(&mut out.class, i, n, Class::Comment);
                    out.has_comment = true;
                    return;
                }
                if b[i + 1] == b'*' {
                    match find(b, i + 2, b"*/") {
                        Some(p) => {
                            mark(&mut out.class, i, p + 2, Class::Comment);
                            out.has_comment = true;
                            i = p + 2;
                            continue;
                        }
                        None => {
                            mark(&mut out.class, i, n, Class::Comment);
                            out.has_comment = true;
                            self.open = Open::Block("*/");
                            return;
                        }
                    }
                }
            }
            if c == b'/' && i + 1 < n && b[i + 1] == b'*' && lang.has_block_comments() {
                match find(b, i + 2, b"*/") {
                    Some(p) => {
                        mark(&mut out.class, i, p + 2, Class::Comment);
                        out.has_comment = true;
                        i = p + 2;
                        continue;
                    }
                    None => {
                        mark(&mut out.class, i, n, Class::Comment);
                        out.has_comment = true;
                        self.open = Open::Block("*/");
                        return;
                    }
                }
            }
            if c == b'-' && lang == Lang::Sql && b.get(i + 1) == Some(&b'-') {
                mark(&mut out.class, i, n, Class::Comment);
                out.has_comment = true;
                return;
            }
            if c == b'<' && lang == Lang::Markup && b[i..].starts_with(b"<!--") {
                match find(b, i + 4, b"-->") {
                    Some(p) => {
                        mark(&mut out.class, i, p + 3, Class::Comment);
                        out.has_comment = true;
                        i = p + 3;
                        continue;
                    }
                    None => {
                        mark(&mut out.class, i, n, Class::Comment);
                        out.has_comment = true;
                        self.open = Open::Block("-->");
                        return;
                    }
                }
            }
            if c == b'#' {
                let comment = if lang.hash_comments_anywhere() {
                    // PHP 8 attributes `#[…]` are code.
                    !(lang == Lang::Php && b.get(i + 1) == Some(&b'['))
                } else if lang.hash_comments_at_word() {
                    i == 0 || b[i - 1].is_ascii_whitespace() || b[i - 1] == b';'
                } else {
                    false
                };
                if comment {
                    mark(&mut out.class, i, n, Class::Comment);
                    out.has_comment = true;
                    return;
                }
            }
            if (c == b';') && lang == Lang::Ini && line[..i].trim().is_empty() {
                mark(&mut out.class, i, n, Class::Comment);
                out.has_comment = true;
                return;
            }

            // Strings.
            if c == b'"' || c == b'\'' || c == b'`' {
                if let Some(next) = self.string(line, i, out) {
                    i = next;
                    continue;
                }
                if self.open != Open::None {
                    return;
                }
            }
            // Rust raw strings: r"…", r#"…"#, br#"…"#.
            if lang == Lang::Rust
                && (c == b'r' || c == b'b' || c == b'c')
                && (i == 0 || !is_ident_byte(b[i - 1]))
            {
                if let Some(next) = self.rust_raw(line, i, out) {
                    i = next;
                    continue;
                }
                if self.open != Open::None {
                    return;
                }
            }
            i += 1;
        }
    }

    /// A quote at `q`: lex the string it opens, if it opens one. Returns the index after
    /// it; `None` when the quote is not a string start, or when the string continues on
    /// the next line (then `self.open` is set).
    fn string(&mut self, line: &str, q: usize, out: &mut Lexed) -> Option<usize> {
        let lang = self.lang;
        let b = line.as_bytes();
        let n = b.len();
        let c = b[q];
        // The word right before the quote: a string prefix, or (when it is not one) a
        // sign the quote is an apostrophe or a suffix.
        let mut ws = q;
        while ws > 0 && is_ident_byte(b[ws - 1]) {
            ws -= 1;
        }
        let word = &line[ws..q];
        let mut start = q;
        let mut interp = false;
        let mut escapes = true;
        let mut tagged = false;
        if !word.is_empty() {
            let w = word.to_ascii_lowercase();
            let prefix = match lang {
                Lang::Python => {
                    w.len() <= 2 && w.bytes().all(|x| b"rbuf".contains(&x)) && c != b'`'
                }
                Lang::Rust => (w == "b" || w == "c") && c != b'`',
                Lang::C => matches!(word, "L" | "u" | "U" | "u8" | "R") && c == b'"',
                Lang::JavaScript => c == b'`',
                _ => false,
            };
            if prefix {
                start = ws;
                if lang == Lang::Python {
                    interp = w.contains('f');
                    escapes = !w.contains('r');
                }
                if lang == Lang::JavaScript {
                    tagged = true;
                }
            } else if c != b'`' {
                return None;
            }
        }
        if c == b'`' && !matches!(lang, Lang::JavaScript | Lang::Go | Lang::Kotlin) {
            return None;
        }
        if c == b'\'' && !lang.single_quote_strings() {
            if lang.single_quote_chars() {
                // 'a', '\n', '\u{1F600}', '\''
                let rest = &b[q + 1..];
                let len = if rest.first() == Some(&b'\\') {
                    rest.iter().skip(1).position(|&x| x == b'\'').map(|p| p + 2)
                } else {
                    let ch_len = line[q + 1..].chars().next().map_or(0, char::len_utf8);
                    (ch_len > 0 && rest.get(ch_len) == Some(&b'\'')).then_some(ch_len)
                };
                if let Some(len) = len.filter(|&l| l <= 12) {
                    let end = q + 1 + len + 1;
                    mark(&mut out.class, q, end, Class::Str);
                    out.strings.push(StrLit {
                        start: q,
                        end,
                        content_start: q + 1,
                        content_end: q + 1 + len,
                        interp: false,
                        tagged: false,
                        char_lit: true,
                    });
                    return Some(end);
                }
            }
            return None;
        }
        // C# $"…", @"…", $@"…".
        if lang == Lang::CSharp && c == b'"' {
            let mut s = q;
            while s > 0 && (b[s - 1] == b'$' || b[s - 1] == b'@') {
                s -= 1;
                if b[s] == b'$' {
                    interp = true;
                }
                if b[s] == b'@' {
                    escapes = false;
                }
            }
            start = s;
        }
        if c == b'"' && matches!(lang, Lang::Ruby | Lang::Php | Lang::Kotlin) {
            interp = true;
        }
        if c == b'`' && lang == Lang::JavaScript {
            interp = !tagged;
        }
        if c == b'`' && lang == Lang::Go {
            escapes = false;
        }
        if c == b'\'' && matches!(lang, Lang::Shell | Lang::Php | Lang::Ruby) {
            escapes = lang != Lang::Shell;
        }
        let triple = matches!(lang, Lang::Python | Lang::Toml | Lang::Kotlin)
            && b[q..].starts_with(&[c, c, c]);
        let close: &[u8] = if triple { &b[q..q + 3] } else { &b[q..q + 1] };
        let content_start = q + close.len();
        let (end, closed) = scan_string(b, content_start, close, escapes);
        let content_end = if closed { end - close.len() } else { end };
        mark(&mut out.class, start, end, Class::Str);
        out.strings.push(StrLit {
            start,
            end,
            content_start,
            content_end,
            interp,
            tagged,
            char_lit: false,
        });
        if closed {
            return Some(end);
        }
        // Unterminated: only languages with multi-line strings carry it on.
        let multiline = triple
            || (c == b'`' && matches!(lang, Lang::JavaScript | Lang::Go))
            || (c == b'"' && matches!(lang, Lang::Rust | Lang::Ruby | Lang::Php))
            || (lang == Lang::Python && line.ends_with('\\'));
        if multiline {
            self.open = Open::Str {
                close: String::from_utf8_lossy(close).into_owned(),
                escapes,
                interp,
            };
            None
        } else {
            Some(n)
        }
    }

    /// Rust raw (byte/C) string at `i` (`r"`, `r#"`, `br"`, `cr#"`).
    fn rust_raw(&mut self, line: &str, i: usize, out: &mut Lexed) -> Option<usize> {
        let b = line.as_bytes();
        let mut j = i;
        if b[j] == b'b' || b[j] == b'c' {
            j += 1;
        }
        if b.get(j) != Some(&b'r') {
            return None;
        }
        j += 1;
        let hashes_start = j;
        while b.get(j) == Some(&b'#') {
            j += 1;
        }
        if b.get(j) != Some(&b'"') {
            return None;
        }
        let hashes = j - hashes_start;
        let mut close = String::from("\"");
        close.extend(std::iter::repeat_n('#', hashes));
        let content_start = j + 1;
        let (end, closed) = scan_string(b, content_start, close.as_bytes(), false);
        let content_end = if closed { end - close.len() } else { end };
        mark(&mut out.class, i, end, Class::Str);
        out.strings.push(StrLit {
            start: i,
            end,
            content_start,
            content_end,
            interp: false,
            tagged: false,
            char_lit: false,
        });
        if closed {
            Some(end)
        } else {
            self.open = Open::Str {
                close,
                escapes: false,
                interp: false,
            };
            None
        }
    }
}

/// Scan a string body from `from` to its closing delimiter: (index after it, closed?).
fn scan_string(b: &[u8], from: usize, close: &[u8], escapes: bool) -> (usize, bool) {
    let mut i = from;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i..].starts_with(close) {
            return (i + close.len(), true);
        }
        i += 1;
    }
    (b.len(), false)
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > b.len() {
        return None;
    }
    memchr::memmem::find(&b[from..], needle).map(|p| p + from)
}

fn mark(class: &mut [Class], from: usize, to: usize, c: Class) {
    let to = to.min(class.len());
    if from < to {
        class[from..to].fill(c);
    }
}

pub(crate) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Is there a whole word `word` at `i` in `s` (no identifier byte on either side)?
pub(crate) fn word_at(s: &str, i: usize, word: &str) -> bool {
    let b = s.as_bytes();
    b[i..].starts_with(word.as_bytes())
        && (i == 0 || !is_ident_byte(b[i - 1]))
        && b.get(i + word.len()).is_none_or(|&c| !is_ident_byte(c))
}

/// Do the lines of one side of a hunk start inside a block comment opened above it? Yes
/// when a line closes one (`*/` at its start or end, as a doc comment's last line does)
/// before any line opens one: a JSDoc example's code lines (no ` * ` prefix) then stay
/// comment. A `*/` inside a glob (`"**/*.js"`) is neither at the start nor at the end.
pub(crate) fn starts_inside_block_comment<'a>(lines: impl Iterator<Item = &'a str>) -> bool {
    for line in lines {
        let t = line.trim();
        if t.contains("/*") {
            return false;
        }
        if t.starts_with("*/") || (t.ends_with("*/") && !t.ends_with("/*/")) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_one(lang: Lang, line: &str) -> Lexed {
        let mut lx = Lexer::new(lang);
        let mut out = Lexed::default();
        lx.lex(line, &mut out);
        out
    }

    fn classes(lang: Lang, line: &str) -> String {
        lex_one(lang, line)
            .class
            .iter()
            .map(|c| match c {
                Class::Code => 'c',
                Class::Str => 's',
                Class::Comment => '#',
            })
            .collect()
    }

    #[test]
    fn rules_lang_detection() {
        assert_eq!(Lang::detect("src/main.rs"), Lang::Rust);
        assert_eq!(Lang::detect("a/b/App.tsx"), Lang::JavaScript);
        assert_eq!(Lang::detect("deploy/.env.production"), Lang::Env);
        assert_eq!(Lang::detect("Dockerfile"), Lang::Dockerfile);
        assert_eq!(Lang::detect("docs/README.md"), Lang::Prose);
        assert_eq!(Lang::detect("ci/config.yml"), Lang::Yaml);
        assert_eq!(Lang::detect("noext"), Lang::Other);
    }

    #[test]
    fn rules_test_paths() {
        for p in [
            "tests/it.rs",
            "src/foo_test.go",
            "pkg/__tests__/a.js",
            "a/b.test.ts",
            "test_model.py",
            "lib/tests.rs",
            "src/test/java/FooTest.java",
            "spec/models/user_spec.rb",
            "conftest.py",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        for p in [
            "src/lib.rs",
            "src/contest.rs",
            "latest/x.py",
            "src/attestation.go",
        ] {
            assert!(!is_test_path(p), "{p}");
        }
        assert!(is_rust_non_production("build.rs"));
        assert!(is_rust_non_production("crates/x/benches/b.rs"));
        assert!(!is_rust_non_production("src/build.rs.in"));
        assert!(is_template_path(".env.example"));
        assert!(is_template_path("config.sample.yml"));
        assert!(is_template_path("settings_template.py"));
        assert!(!is_template_path("src/distance.py"));
        assert!(!is_template_path("src/examples_runner.rs"));
        assert!(is_generated_path("dist/axios.min.js"));
        assert!(is_generated_path("Cargo.lock"));
        assert!(!is_generated_path("src/distance.rs"));
    }

    #[test]
    fn rules_lexer_comments_and_strings() {
        assert_eq!(classes(Lang::Rust, r#"a("//x") // c"#), "ccssssscc####");
        assert_eq!(classes(Lang::Python, "x = '#' # c"), "ccccsssc###");
        assert_eq!(classes(Lang::Yaml, "url: a#b # c"), "ccccccccc###");
        assert_eq!(classes(Lang::Shell, "echo ${#x} # c"), "ccccccccccc###");
        let line = "fn f<'a>(x: &'a str) -> char { 'x' }";
        let expected: String = line
            .char_indices()
            .map(|(i, _)| if (31..34).contains(&i) { 's' } else { 'c' })
            .collect();
        assert_eq!(classes(Lang::Rust, line), expected);
        assert_eq!(
            classes(Lang::Php, "#[Attr] $a = 1; # c"),
            "cccccccccccccccc###"
        );
        let l = lex_one(Lang::Python, r#"q = f"SELECT {x}" + 'y'"#);
        assert_eq!(l.strings.len(), 2);
        assert!(l.strings[0].interp);
        assert_eq!(l.strings[0].start, 4);
        assert!(!l.strings[1].interp);
        let l = lex_one(Lang::JavaScript, "sql`SELECT ${x}`; `a${b}`");
        assert!(l.strings[0].tagged && !l.strings[0].interp);
        assert!(l.strings[1].interp && !l.strings[1].tagged);
        let l = lex_one(Lang::Rust, r###"let s = r#"a "q" b"#; x"###);
        assert_eq!(l.strings.len(), 1);
        assert!(l.is_code(l.class.len() - 1));
    }

    #[test]
    fn rules_lexer_carries_state() {
        let mut lx = Lexer::new(Lang::Rust);
        let mut out = Lexed::default();
        lx.lex("let a = 1; /* start", &mut out);
        lx.lex("still comment .unwrap()", &mut out);
        assert!(out.is_comment_only("still comment .unwrap()"));
        lx.lex("end */ x.unwrap();", &mut out);
        assert!(out.code_contains("end */ x.unwrap();", ".unwrap()"));

        let mut lx = Lexer::new(Lang::Python);
        lx.lex("    \"\"\"Docstring", &mut out);
        lx.lex("    eval(x) inside", &mut out);
        assert!(!out.code_contains("    eval(x) inside", "eval"));
        lx.lex("    \"\"\"", &mut out);
        lx.lex("eval(x)", &mut out);
        assert!(out.code_contains("eval(x)", "eval"));

        // A hunk that starts inside a doc comment.
        let mut lx = Lexer::new(Lang::JavaScript);
        lx.lex(" * console.log(x)", &mut out);
        assert!(out.is_comment_only(" * console.log(x)"));
        lx.lex(" */", &mut out);
        lx.lex("console.log(x)", &mut out);
        assert!(out.code_contains("console.log(x)", "console."));
    }

    #[test]
    fn rules_word_at() {
        assert!(word_at("a TODO b", 2, "TODO"));
        assert!(!word_at("TODOS", 0, "TODO"));
        assert!(!word_at("xTODO", 1, "TODO"));
    }
}
