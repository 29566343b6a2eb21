//! The deterministic rules: committed secrets, conflict markers, debugging leftovers,
//! disabled tests, security smells and new TODOs, plus the custom rules from `.nectr.yml`.
//!
//! Rules look only at ADDED lines. Each line is lexed (code / string / comment, see
//! [`lang`]) and passed through one Aho-Corasick prefilter of every rule's trigger words;
//! only the rules whose words occur run their (precompiled) checks, so a line that
//! mentions nothing interesting costs one automaton pass.
//!
//! Noise control, beyond each rule's own conditions:
//! - an added line that only moves or re-indents a removed line of the same file, and an
//!   added line that replaces a removed line which triggered the same rule (a modified
//!   `TODO`, an edited `console.log`), are not reported — the PR did not introduce them.
//!   Secrets and conflict markers are exempt: they are reported wherever they appear;
//! - generated, vendored and minified files (`dist/`, `vendor/`, `*.min.js`, lock files)
//!   and lines over 2,000 bytes get only the secret checks;
//! - `nectr:ignore [ids]` in a comment on the line or alone on the line above silences
//!   it, as do the markers of the linters that check the same things (`no-console`,
//!   `nosec`, `gitleaks:allow`, `clippy::unwrap_used`, …).
//!
//! Each submodule owns some bits of the prefilter mask (`P_*` constants, disjoint; a
//! test checks) and the words that set them.
//!
//! The ids, severities and texts are documented in `docs/rules.md`; keep them in sync.

mod custom;
mod debug;
mod hygiene;
mod lang;
mod secrets;
mod security;

use std::collections::HashSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::config::RulesConfig;
use crate::diff::{FileDiff, LineKind};
use crate::review::finding::{Finding, Severity, Side, Source};

use lang::{Lang, Lexed, Lexer};
pub(crate) use lang::{is_generated_path, is_test_path, is_workflow_path};

/// JavaScript or TypeScript (incl. JSX, Vue, Svelte), as the rules see it.
pub(crate) fn is_javascript_path(path: &str) -> bool {
    Lang::detect(path) == Lang::JavaScript
}

/// A rule as users see it: for `rules.disable`, docs and SARIF's rule list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDescriptor {
    pub id: String,
    pub title: String,
    /// Why it matters and what to do (markdown).
    pub help: String,
    pub severity: Severity,
}

/// The built-in rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Rule {
    SecretGithubToken,
    SecretAwsAccessKeyId,
    SecretPrivateKey,
    SecretSlackToken,
    SecretStripeKey,
    SecretGoogleApiKey,
    SecretGeneric,
    SecretGitlabToken,
    SecretNpmToken,
    SecretPypiToken,
    SecretSendgridKey,
    SecretTwilioKey,
    SecretAzureKey,
    SecretHuggingfaceToken,
    SecretJwt,
    SecretUrlCredentials,
    SecretBearerToken,
    ConflictMarker,
    DebugConsoleLog,
    DebugJsDebugger,
    DebugRustDbg,
    DebugPythonBreakpoint,
    DebugRubyDebugger,
    DebugPhpDump,
    RustUnwrap,
    TestDisabled,
    TestFocused,
    SecurityCurlPipeShell,
    SecurityEval,
    SecuritySqlConcat,
    SecurityCommandInjection,
    SecurityTlsVerifyOff,
    SecurityActionsInjection,
    SecurityPrTargetCheckout,
    SecurityUnsafeDeserialization,
    SecurityXssSink,
    TodoAdded,
}

const RULE_COUNT: usize = 37;

struct Spec {
    id: &'static str,
    title: &'static str,
    severity: Severity,
    help: &'static str,
}

impl Rule {
    pub(crate) const ALL: [Rule; RULE_COUNT] = [
        Rule::SecretGithubToken,
        Rule::SecretAwsAccessKeyId,
        Rule::SecretPrivateKey,
        Rule::SecretSlackToken,
        Rule::SecretStripeKey,
        Rule::SecretGoogleApiKey,
        Rule::SecretGeneric,
        Rule::SecretGitlabToken,
        Rule::SecretNpmToken,
        Rule::SecretPypiToken,
        Rule::SecretSendgridKey,
        Rule::SecretTwilioKey,
        Rule::SecretAzureKey,
        Rule::SecretHuggingfaceToken,
        Rule::SecretJwt,
        Rule::SecretUrlCredentials,
        Rule::SecretBearerToken,
        Rule::ConflictMarker,
        Rule::DebugConsoleLog,
        Rule::DebugJsDebugger,
        Rule::DebugRustDbg,
        Rule::DebugPythonBreakpoint,
        Rule::DebugRubyDebugger,
        Rule::DebugPhpDump,
        Rule::RustUnwrap,
        Rule::TestDisabled,
        Rule::TestFocused,
        Rule::SecurityCurlPipeShell,
        Rule::SecurityEval,
        Rule::SecuritySqlConcat,
        Rule::SecurityCommandInjection,
        Rule::SecurityTlsVerifyOff,
        Rule::SecurityActionsInjection,
        Rule::SecurityPrTargetCheckout,
        Rule::SecurityUnsafeDeserialization,
        Rule::SecurityXssSink,
        Rule::TodoAdded,
    ];

    fn spec(self) -> Spec {
        use Severity::*;
        let (id, title, severity, help) = match self {
            Rule::SecretGithubToken => (
                "secret.github-token",
                "GitHub token committed",
                Critical,
                secrets::HELP_GITHUB,
            ),
            Rule::SecretAwsAccessKeyId => (
                "secret.aws-access-key-id",
                "AWS access key id committed",
                Critical,
                secrets::HELP_AWS,
            ),
            Rule::SecretPrivateKey => (
                "secret.private-key",
                "Private key committed",
                Critical,
                secrets::HELP_PKEY,
            ),
            Rule::SecretSlackToken => (
                "secret.slack-token",
                "Slack token or webhook URL committed",
                Critical,
                secrets::HELP_SLACK,
            ),
            Rule::SecretStripeKey => (
                "secret.stripe-key",
                "Stripe live key committed",
                Critical,
                secrets::HELP_STRIPE,
            ),
            Rule::SecretGoogleApiKey => (
                "secret.google-api-key",
                "Google API key committed",
                Critical,
                secrets::HELP_GOOGLE,
            ),
            Rule::SecretGeneric => (
                "secret.generic",
                "Hard-coded secret assigned to a secret-looking name",
                Critical,
                secrets::HELP_GENERIC,
            ),
            Rule::SecretGitlabToken => (
                "secret.gitlab-token",
                "GitLab token committed",
                Critical,
                secrets::HELP_GITLAB,
            ),
            Rule::SecretNpmToken => (
                "secret.npm-token",
                "npm access token committed",
                Critical,
                secrets::HELP_NPM,
            ),
            Rule::SecretPypiToken => (
                "secret.pypi-token",
                "PyPI API token committed",
                Critical,
                secrets::HELP_PYPI,
            ),
            Rule::SecretSendgridKey => (
                "secret.sendgrid-key",
                "SendGrid API key committed",
                Critical,
                secrets::HELP_SENDGRID,
            ),
            Rule::SecretTwilioKey => (
                "secret.twilio-key",
                "Twilio API key committed",
                Critical,
                secrets::HELP_TWILIO,
            ),
            Rule::SecretAzureKey => (
                "secret.azure-key",
                "Azure storage/service-bus key committed",
                Critical,
                secrets::HELP_AZURE,
            ),
            Rule::SecretHuggingfaceToken => (
                "secret.huggingface-token",
                "Hugging Face token committed",
                Critical,
                secrets::HELP_HF,
            ),
            Rule::SecretJwt => (
                "secret.jwt",
                "JSON Web Token committed",
                Major,
                secrets::HELP_JWT,
            ),
            Rule::SecretUrlCredentials => (
                "secret.url-credentials",
                "Password in a URL",
                Major,
                secrets::HELP_URL_CREDS,
            ),
            Rule::SecretBearerToken => (
                "secret.bearer-token",
                "Hard-coded bearer token",
                Major,
                secrets::HELP_BEARER,
            ),
            Rule::ConflictMarker => (
                "conflict.marker",
                "Unresolved merge-conflict marker",
                Critical,
                hygiene::HELP_CONFLICT,
            ),
            Rule::DebugConsoleLog => (
                "debug.console-log",
                "console.log left in application code",
                Minor,
                debug::HELP_CONSOLE,
            ),
            Rule::DebugJsDebugger => (
                "debug.js-debugger",
                "debugger statement",
                Major,
                debug::HELP_JS_DEBUGGER,
            ),
            Rule::DebugRustDbg => (
                "debug.rust-dbg",
                "dbg! macro left in code",
                Minor,
                debug::HELP_RUST_DBG,
            ),
            Rule::DebugPythonBreakpoint => (
                "debug.python-breakpoint",
                "Python debugger hook (breakpoint, pdb)",
                Major,
                debug::HELP_PY_BREAKPOINT,
            ),
            Rule::DebugRubyDebugger => (
                "debug.ruby-debugger",
                "Ruby debugger hook (binding.pry, byebug)",
                Major,
                debug::HELP_RUBY_DEBUGGER,
            ),
            Rule::DebugPhpDump => (
                "debug.php-dump",
                "var_dump/print_r left in code",
                Minor,
                debug::HELP_PHP_DUMP,
            ),
            Rule::RustUnwrap => (
                "rust.unwrap",
                ".unwrap()/.expect() in non-test Rust code",
                Minor,
                hygiene::HELP_UNWRAP,
            ),
            Rule::TestDisabled => (
                "test.disabled",
                "Test disabled",
                Minor,
                hygiene::HELP_TEST_DISABLED,
            ),
            Rule::TestFocused => (
                "test.focused",
                "Focused test (.only) skips the rest of the suite",
                Major,
                hygiene::HELP_TEST_FOCUSED,
            ),
            Rule::SecurityCurlPipeShell => (
                "security.curl-pipe-shell",
                "Downloaded script piped into a shell",
                Major,
                security::HELP_CURL,
            ),
            Rule::SecurityEval => (
                "security.eval",
                "eval of a string",
                Major,
                security::HELP_EVAL,
            ),
            Rule::SecuritySqlConcat => (
                "security.sql-concat",
                "SQL built by string concatenation or interpolation",
                Major,
                security::HELP_SQL,
            ),
            Rule::SecurityCommandInjection => (
                "security.command-injection",
                "Shell command built from variables",
                Major,
                security::HELP_CMD,
            ),
            Rule::SecurityTlsVerifyOff => (
                "security.tls-verify-off",
                "TLS certificate verification turned off",
                Major,
                security::HELP_TLS,
            ),
            Rule::SecurityActionsInjection => (
                "security.actions-injection",
                "Untrusted GitHub event data expanded in a workflow script",
                Major,
                security::HELP_ACTIONS,
            ),
            Rule::SecurityPrTargetCheckout => (
                "security.pr-target-checkout",
                "pull_request_target workflow checks out the pull request's code",
                Critical,
                security::HELP_PR_TARGET,
            ),
            Rule::SecurityUnsafeDeserialization => (
                "security.unsafe-deserialization",
                "Unsafe deserialisation",
                Major,
                security::HELP_DESER,
            ),
            Rule::SecurityXssSink => (
                "security.xss-sink",
                "HTML built from a value without escaping",
                Major,
                security::HELP_XSS,
            ),
            Rule::TodoAdded => (
                "todo.added",
                "New TODO/FIXME comment",
                Nit,
                hygiene::HELP_TODO,
            ),
        };
        Spec {
            id,
            title,
            severity,
            help,
        }
    }

    pub(crate) fn id(self) -> &'static str {
        self.spec().id
    }

    fn index(self) -> usize {
        self as usize
    }

    /// On unless the config opts in (`rules.enable`). `rust.unwrap` is opt-in: on real
    /// code most new unwraps are guarded a line above or unreachable, which one line
    /// cannot tell (Clippy keeps `unwrap_used` off by default for the same reason).
    pub(crate) fn default_on(self) -> bool {
        !matches!(self, Rule::RustUnwrap)
    }

    /// How many findings of this rule in one file become one finding naming the lines.
    fn aggregate_from(self) -> usize {
        match self {
            Rule::TodoAdded => 2,
            _ => 3,
        }
    }

    /// Rules that an edit of an existing offending line does not re-trigger.
    fn pairable(self) -> bool {
        !matches!(
            self,
            Rule::SecretGithubToken
                | Rule::SecretAwsAccessKeyId
                | Rule::SecretPrivateKey
                | Rule::SecretSlackToken
                | Rule::SecretStripeKey
                | Rule::SecretGoogleApiKey
                | Rule::SecretGeneric
                | Rule::SecretGitlabToken
                | Rule::SecretNpmToken
                | Rule::SecretPypiToken
                | Rule::SecretSendgridKey
                | Rule::SecretTwilioKey
                | Rule::SecretAzureKey
                | Rule::SecretHuggingfaceToken
                | Rule::SecretJwt
                | Rule::SecretUrlCredentials
                | Rule::SecretBearerToken
                | Rule::ConflictMarker
        )
    }

    fn descriptor(self, severity: Severity) -> RuleDescriptor {
        let s = self.spec();
        RuleDescriptor {
            id: s.id.to_owned(),
            title: s.title.to_owned(),
            help: s.help.to_owned(),
            severity,
        }
    }
}

/// All built-in rules with their default severities.
pub fn builtin_rules() -> Vec<RuleDescriptor> {
    Rule::ALL
        .iter()
        .map(|r| r.descriptor(r.spec().severity))
        .collect()
}

/// What the rules may know about a file beyond its diff (PR mode; offline, only what the
/// diff itself shows). Everything here only adds context: with the default, the rules see
/// the diff alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileContext<'a> {
    /// The whole file at the head commit: the new side of the diff.
    pub head: Option<&'a str>,
    /// The file belongs to a command-line program by its nearest `package.json` (see
    /// [`package_makes_cli`]): `console.log` is its user interface.
    pub cli_package: bool,
}

/// Largest `package.json` read for [`package_makes_cli`].
pub const MAX_PACKAGE_JSON_BYTES: usize = 256 * 1024;

/// Does the `package.json` at `package_path` (text `package_text`) make `file_path` part
/// of a command-line program? Yes when its `bin` names the file, or when it has a `bin`
/// and nothing that makes it a library too (`main`, `exports`, `module`, `browser`): a
/// CLI package whose modules print by design. A library that also ships a CLI keeps the
/// rule for its other files. Untrusted text: anything that is not a JSON object, or is
/// larger than [`MAX_PACKAGE_JSON_BYTES`], says no.
pub fn package_makes_cli(package_path: &str, package_text: &str, file_path: &str) -> bool {
    if package_text.len() > MAX_PACKAGE_JSON_BYTES {
        return false;
    }
    let dir = match package_path.rsplit_once('/') {
        Some((dir, _)) => dir,
        None => "",
    };
    let Some(relative) = (if dir.is_empty() {
        Some(file_path)
    } else {
        file_path
            .strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/'))
    }) else {
        return false;
    };
    let Ok(serde_json::Value::Object(pkg)) = serde_json::from_str(package_text) else {
        return false;
    };
    let targets: Vec<&str> = match pkg.get("bin") {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Object(m)) => m.values().filter_map(|v| v.as_str()).collect(),
        _ => return false,
    };
    if targets.is_empty() {
        return false;
    }
    let normal = |p: &str| {
        let mut parts: Vec<&str> = Vec::new();
        for part in p.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                _ => parts.push(part),
            }
        }
        parts.join("/")
    };
    let file = normal(relative);
    if targets.iter().any(|t| normal(t) == file) {
        return true;
    }
    !["main", "exports", "module", "browser"]
        .iter()
        .any(|k| pkg.contains_key(*k))
}

/// What a check found on one line, before severities and enablement are applied.
pub(crate) struct Hit {
    pub rule: Rule,
    /// One line, plain text.
    pub title: String,
    /// Replacement text for the whole line when the fix is mechanical (`Some("")`
    /// deletes it); see [`Finding::suggestion`].
    pub suggestion: Option<String>,
    /// A line-specific body; the rule's help text when `None`.
    pub body: Option<String>,
}

/// What the checks know about the file.
pub(crate) struct FileCtx<'a> {
    pub path: &'a str,
    pub lang: Lang,
    pub test: bool,
    pub generated: bool,
    /// `.env.example` and friends: values are placeholders by design.
    pub template: bool,
    /// Scripts and CLI entry points, which print by design.
    pub script: bool,
    pub rust_non_production: bool,
    /// The file's unchanged lines already print with `console.log`.
    pub console_in_context: bool,
    /// A GitHub Actions workflow or action definition.
    pub workflow: bool,
    /// A workflow triggered by `pull_request_target` (as far as the diff or head shows).
    pub pr_target: bool,
    /// Where throwaway credentials live by design: CI service definitions, compose
    /// files, mocks and fixtures. `secret.generic` stays quiet there.
    pub throwaway_secrets: bool,
}

/// What the checks know about the line.
pub(crate) struct LineCtx<'a> {
    pub text: &'a str,
    pub lexed: &'a Lexed,
    /// The previous and next lines of the same side in the hunk.
    pub prev: Option<&'a str>,
    pub next: Option<&'a str>,
    /// The lines of the hunk after this one (all kinds; empty for removed lines).
    pub rest: &'a [crate::diff::HunkLine<'a>],
    /// Rust: the line is test code (after `#[cfg(test)]`/`#[test]`/`mod tests {` until
    /// that item ends, or in a hunk whose section header is a test module).
    pub rust_test: bool,
    /// Workflow YAML: the line is shell/JS script (a `run:` or `script:` value).
    pub yaml_script: bool,
    /// The nearest earlier line of the hunk indented less than this one: the header of
    /// the block it is in (`if not verify:`), as far as the hunk shows.
    pub opener: Option<&'a str>,
}

/// Compile a built-in pattern with ASCII-only `\b`, `\w`, `\s` and `\d`: smaller
/// automata, faster to build, and word boundaries the lazy DFA can handle on any input.
/// The patterns are constants exercised by every test, so a failure is a bug.
pub(crate) fn builtin_regex(pattern: &str) -> regex::Regex {
    let ascii = pattern
        .replace("\\b", "(?-u:\\b)")
        .replace("\\w", "[0-9A-Za-z_]")
        .replace("\\s", "[\\t\\n\\x0B\\x0C\\r ]")
        .replace("\\d", "[0-9]");
    match regex::Regex::new(&ascii) {
        Ok(re) => re,
        Err(e) => panic!("built-in rule pattern {pattern:?}: {e}"),
    }
}

/// Lines longer than this are minified or generated: only secrets are checked.
const LONG_LINE: usize = 2000;

struct Engine {
    prefilter: AhoCorasick,
    bits: Vec<u32>,
    /// Only the well-known secret prefixes: for generated files and very long lines.
    secret_prefilter: AhoCorasick,
    secret_bits: Vec<u32>,
    secrets: secrets::Secrets,
    hygiene: hygiene::Hygiene,
    debug: debug::Debug,
    security: security::Security,
}

impl Engine {
    fn new() -> Engine {
        let table: Vec<(&str, u32)> = [
            secrets::PREFILTER,
            debug::PREFILTER,
            hygiene::PREFILTER,
            security::PREFILTER,
        ]
        .concat();
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(table.iter().map(|(p, _)| p))
            .expect("prefilter automaton"); // nectr:ignore rust.unwrap (constant patterns)
        let secret_table = secrets::EXACT_PREFIXES;
        let secret_prefilter = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(secret_table.iter().map(|(p, _)| p))
            .expect("secret prefilter automaton"); // nectr:ignore rust.unwrap (constant patterns)
        Engine {
            prefilter,
            bits: table.iter().map(|(_, b)| *b).collect(),
            secret_prefilter,
            secret_bits: secret_table.iter().map(|(_, b)| *b).collect(),
            secrets: secrets::Secrets::new(),
            hygiene: hygiene::Hygiene::new(),
            debug: debug::Debug::new(),
            security: security::Security::new(),
        }
    }

    fn mask(automaton: &AhoCorasick, bits: &[u32], text: &str) -> u32 {
        let mut mask = 0;
        for m in automaton.find_overlapping_iter(text) {
            mask |= bits[m.pattern().as_usize()];
        }
        mask
    }

    /// Run the checks a line's prefilter mask calls for. `pairable_only`: only the rules
    /// that an edit of an offending line does not re-trigger (for removed lines).
    fn detect(
        &self,
        file: &FileCtx<'_>,
        line: &LineCtx<'_>,
        pairable_only: bool,
        out: &mut Vec<Hit>,
    ) {
        if file.generated || line.text.len() > LONG_LINE {
            // Generated code and minified lines: only the well-known secret shapes.
            if !pairable_only {
                let mask = Self::mask(&self.secret_prefilter, &self.secret_bits, line.text);
                if mask != 0 {
                    self.secrets.check_specific(mask, file, line, out);
                }
            }
            return;
        }
        let mask = Self::mask(&self.prefilter, &self.bits, line.text);
        if mask == 0 {
            return;
        }
        if !pairable_only {
            let before = out.len();
            if mask & secrets::P_SPECIFIC != 0 {
                self.secrets.check_specific(mask, file, line, out);
            }
            if mask & secrets::P_GENERIC != 0 && out.len() == before && !file.test && !file.template
            {
                self.secrets.check_generic(file, line, out);
            }
        }
        if mask & debug::P_DEBUG != 0 {
            self.debug.check(file, line, out);
        }
        self.hygiene.check(mask, file, line, out);
        self.security.check(mask, file, line, out);
    }
}

/// Redacts secrets from text with the same detectors as the `secret.*` rules, line by
/// line: each secret becomes `[REDACTED:<rule-id>]`. Used before anything is sent to a
/// language model.
pub struct Redactor {
    secrets: secrets::Secrets,
    lexer: Lexer,
    lang: Lang,
    lexed: Lexed,
    in_key: bool,
    /// The rule ids of everything redacted so far.
    pub redacted: Vec<&'static str>,
}

impl Redactor {
    /// A redactor for the lines of `path` (its language decides the assignment syntax the
    /// generic detector understands).
    pub fn new(path: &str) -> Redactor {
        let lang = Lang::detect(path);
        Redactor {
            secrets: secrets::Secrets::new(),
            lexer: Lexer::new(lang),
            lang,
            lexed: Lexed::default(),
            in_key: false,
            redacted: Vec::new(),
        }
    }

    /// Switch to the lines of another file (a private-key block does not continue).
    pub fn set_path(&mut self, path: &str) {
        self.lang = Lang::detect(path);
        self.lexer = Lexer::new(self.lang);
        self.in_key = false;
    }

    /// One line with its secrets replaced.
    pub fn line(&mut self, line: &str) -> String {
        self.secrets.redact_line(
            self.lang,
            line,
            &mut self.lexer,
            &mut self.lexed,
            &mut self.in_key,
            &mut self.redacted,
        )
    }

    /// Free text (PR title and body), line by line, as prose.
    pub fn text(&mut self, text: &str) -> String {
        self.in_key = false;
        text.split('\n')
            .map(|l| self.line(l))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The compiled rules for one review: built-ins and custom rules, with `rules.disable` and
/// `rules.severity` applied.
pub struct RuleSet {
    enabled: [bool; RULE_COUNT],
    severity: [Severity; RULE_COUNT],
    engine: Engine,
    custom: custom::CustomRules,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field(
                "rules",
                &self
                    .rules()
                    .iter()
                    .map(|r| r.id.clone())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl RuleSet {
    /// Compile built-ins + custom rules with overrides applied. `Err(message)` for a config
    /// that cannot work (a custom rule id that collides with a built-in one, or is defined
    /// twice); `Ok((set, warnings))` where warnings are one-line strings, e.g. an unknown
    /// rule id in `rules.disable` or `rules.severity`, with the closest id suggested.
    pub fn new(cfg: &RulesConfig) -> Result<(RuleSet, Vec<String>), String> {
        let mut warnings = Vec::new();
        let mut seen = HashSet::new();
        for c in &cfg.custom {
            let id = c.id.trim();
            if id.is_empty() {
                return Err("a custom rule has an empty id".to_owned());
            }
            if Rule::ALL.iter().any(|r| r.id() == id) {
                return Err(format!(
                    "custom rule id `{id}` collides with the built-in rule of the same name; choose another id (to change the built-in rule's severity, use `rules.severity`)"
                ));
            }
            if !seen.insert(id) {
                return Err(format!("custom rule id `{id}` is defined twice"));
            }
        }
        let all_ids: Vec<&str> = Rule::ALL
            .iter()
            .map(|r| r.id())
            .chain(cfg.custom.iter().map(|c| c.id.trim()))
            .collect();

        for entry in &cfg.disable {
            let d = entry.trim();
            if d.is_empty() {
                warnings.push("rules.disable: empty entry ignored".to_owned());
                continue;
            }
            let probe = RulesConfig {
                disable: vec![d.to_owned()],
                ..RulesConfig::default()
            };
            if !all_ids.iter().any(|id| probe.is_disabled(id)) {
                warnings.push(unknown_id_warning("rules.disable", d, &all_ids));
            }
        }
        for id in cfg.severity.keys() {
            if !all_ids.contains(&id.trim()) {
                warnings.push(unknown_id_warning("rules.severity", id.trim(), &all_ids));
            }
        }

        for entry in &cfg.enable {
            let e = entry.trim();
            let probe = RulesConfig {
                disable: vec![e.to_owned()],
                ..RulesConfig::default()
            };
            if !e.is_empty() && !all_ids.iter().any(|id| probe.is_disabled(id)) {
                warnings.push(unknown_id_warning("rules.enable", e, &all_ids));
            }
        }

        let mut enabled = [true; RULE_COUNT];
        let mut severity = [Severity::Minor; RULE_COUNT];
        for r in Rule::ALL {
            enabled[r.index()] =
                (r.default_on() || cfg.is_enabled(r.id())) && !cfg.is_disabled(r.id());
            severity[r.index()] = cfg
                .severity
                .get(r.id())
                .copied()
                .unwrap_or(r.spec().severity);
        }
        let custom = cfg
            .custom
            .iter()
            .filter(|c| !cfg.is_disabled(c.id.trim()))
            .map(|c| {
                let sev = cfg.severity.get(c.id.trim()).copied().unwrap_or(c.severity);
                custom::Custom::new(c, sev)
            })
            .collect();
        Ok((
            RuleSet {
                enabled,
                severity,
                engine: Engine::new(),
                custom: custom::CustomRules::new(custom),
            },
            warnings,
        ))
    }

    /// The enabled rules, built-in and custom, with their effective severities (for SARIF
    /// and docs).
    pub fn rules(&self) -> Vec<RuleDescriptor> {
        Rule::ALL
            .iter()
            .filter(|r| self.enabled[r.index()])
            .map(|r| r.descriptor(self.severity[r.index()]))
            .chain(self.custom.rules.iter().map(|c| RuleDescriptor {
                id: c.id.clone(),
                title: c.title.clone(),
                help: c.message.clone(),
                severity: c.severity,
            }))
            .collect()
    }

    /// Check the added lines of one file with what the diff shows (offline: `--diff`).
    /// Findings are on the right side, from [`Source::Rules`], not yet anchored, sorted
    /// by line; a rule that fires many times in the file gives one finding naming the
    /// lines, anchored on the first.
    pub fn check_file(&self, file: &FileDiff<'_>) -> Vec<Finding> {
        self.check_file_with_head(file, None)
    }

    /// [`RuleSet::check_file`] knowing the whole file at the head commit (PR mode), so
    /// that what lies outside the hunks counts: generated-file markers and a shebang at
    /// the top, `#[cfg(test)]` modules opened above a hunk, a `pull_request_target`
    /// trigger. `head` must be the new side of `file`.
    pub fn check_file_with_head(&self, file: &FileDiff<'_>, head: Option<&str>) -> Vec<Finding> {
        self.check_file_in(
            file,
            &FileContext {
                head,
                ..FileContext::default()
            },
        )
    }

    /// [`RuleSet::check_file`] with what is known beyond the diff (see [`FileContext`]).
    pub fn check_file_in(&self, file: &FileDiff<'_>, context: &FileContext<'_>) -> Vec<Finding> {
        let head = context.head;
        if file.binary || file.new_path.is_none() || file.hunks.is_empty() {
            return Vec::new();
        }
        let path = file.path();
        let lang = Lang::detect(path);
        let workflow = lang::is_workflow_path(path);

        // What the file as a whole says.
        let mut conflict_start_added = false;
        let mut console_in_context = false;
        let mut generated_marker = false;
        let mut cli = false;
        let mut pr_target = false;
        let mut removed: HashSet<&str> = HashSet::new();
        let mut file_says = |line_no: Option<u32>, text: &str| {
            if line_no.is_some_and(|n| n <= GENERATED_MARKER_LINES) {
                generated_marker |= lang::has_generated_marker(text);
                cli |= line_no == Some(1) && text.starts_with("#!");
            }
            cli |= lang == Lang::JavaScript && lang::is_cli_usage(text);
            pr_target |= workflow && text.contains("pull_request_target");
        };
        for h in &file.hunks {
            for l in &h.lines {
                match l.kind {
                    LineKind::Added => {
                        conflict_start_added |=
                            hygiene::conflict_marker(l.content) == Some(hygiene::Marker::Ours);
                        file_says(l.new_line, l.content);
                    }
                    LineKind::Context => {
                        console_in_context |=
                            lang == Lang::JavaScript && l.content.contains("console.log(");
                        file_says(l.new_line, l.content);
                    }
                    LineKind::Removed => {
                        let t = l.content.trim();
                        if !t.is_empty() {
                            removed.insert(t);
                        }
                    }
                }
            }
        }
        // Rust: the lines of a top-level `#[cfg(test)] mod … { … }` in the head file.
        let mut test_module: Option<(u32, u32)> = None;
        if let Some(head) = head {
            for (i, text) in head.split('\n').enumerate() {
                let n = i as u32 + 1;
                if n > 4 * GENERATED_MARKER_LINES && !workflow && lang != Lang::JavaScript {
                    break;
                }
                file_says(Some(n), text);
            }
            if lang == Lang::Rust {
                test_module = lang::rust_test_module(head);
            }
        }
        let fctx = FileCtx {
            path,
            lang,
            test: lang::is_test_path(path),
            generated: generated_marker || lang::is_generated_path(path),
            template: lang::is_template_path(path),
            script: cli || context.cli_package || lang::is_script_path(path),
            rust_non_production: lang::is_rust_non_production(path),
            console_in_context,
            workflow,
            pr_target,
            throwaway_secrets: lang::is_throwaway_secret_path(path),
        };
        let any_pairable = Rule::ALL
            .iter()
            .any(|r| r.pairable() && self.enabled[r.index()]);
        let custom_here = self.custom.applicable(path);

        let mut findings = Vec::new();
        let mut hits = Vec::new();
        let mut custom_hits = Vec::new();
        let mut lexed = Lexed::default();
        // Generated files and minified lines get only the secret checks, which need no
        // lexing.
        let lex = |lexer: &mut Lexer, text: &str, out: &mut Lexed| {
            if fctx.generated || text.len() > LONG_LINE {
                out.class.clear();
                out.strings.clear();
                out.has_comment = false;
                lexer.reset();
            } else {
                lexer.lex(text, out);
            }
        };
        let mut new_side = Lexer::new(lang);
        let mut old_side = Lexer::new(lang);
        let mut conflict_open = false;

        for hunk in &file.hunks {
            // The lines each lexer sees: context and added lines for the new side, removed
            // lines only for the old one.
            let side = |removed: bool| {
                hunk.lines
                    .iter()
                    .filter(move |l| (l.kind == LineKind::Removed) == removed)
                    .map(|l| l.content)
            };
            if lang.has_block_comments() && lang::starts_inside_block_comment(side(false)) {
                new_side.reset_inside_block_comment();
            } else {
                new_side.reset();
            }
            if lang.has_block_comments() && lang::starts_inside_block_comment(side(true)) {
                old_side.reset_inside_block_comment();
            } else {
                old_side.reset();
            }
            let mut scope = hygiene::TestScope::new(hunk.section);
            let mut rust_test = false;
            let mut yaml = lang::YamlScript::default();
            // The old side's, so that an edited `run:` line pairs with the line it edits.
            let mut yaml_old = lang::YamlScript::default();
            let mut blocks = lang::Blocks::default();
            let in_test_module = |n: Option<u32>| {
                test_module.is_some_and(|(a, b)| n.is_some_and(|n| a <= n && n <= b))
            };
            // Per change block (removed lines then added lines): how many removed lines
            // triggered each pairable rule.
            let mut replaced = [0u32; RULE_COUNT];
            let mut prev_new: Option<&str> = None;
            for (idx, hl) in hunk.lines.iter().enumerate() {
                let text = hl.content;
                match hl.kind {
                    LineKind::Context => {
                        lex(&mut new_side, text, &mut lexed);
                        rust_test = lang == Lang::Rust && scope.line(text, &lexed);
                        if workflow {
                            yaml.line(text);
                            yaml_old.line(text);
                        }
                        blocks.opener(text);
                        replaced = [0; RULE_COUNT];
                        prev_new = Some(text);
                    }
                    LineKind::Removed => {
                        if fctx.generated || text.len() > LONG_LINE {
                            continue;
                        }
                        old_side.lex(text, &mut lexed);
                        let yaml_script = workflow && yaml_old.line(text);
                        if any_pairable {
                            let lctx = LineCtx {
                                text,
                                lexed: &lexed,
                                prev: None,
                                next: None,
                                rest: &[],
                                rust_test,
                                yaml_script,
                                opener: None,
                            };
                            hits.clear();
                            self.engine.detect(&fctx, &lctx, true, &mut hits);
                            for h in &hits {
                                replaced[h.rule.index()] += 1;
                            }
                        }
                    }
                    LineKind::Added => {
                        let Some(line_no) = hl.new_line else {
                            continue;
                        };
                        lex(&mut new_side, text, &mut lexed);
                        rust_test = lang == Lang::Rust
                            && (scope.line(text, &lexed) || in_test_module(Some(line_no)));
                        let yaml_script = workflow && yaml.line(text);
                        hits.clear();
                        let opened = !conflict_open && conflict_start_added;
                        let marker = match hygiene::conflict_marker(text) {
                            Some(hygiene::Marker::Ours) => {
                                conflict_open = true;
                                Some("<<<<<<<")
                            }
                            // The end of a conflict already reported at its start is not
                            // reported again; an orphan end marker is.
                            Some(hygiene::Marker::Theirs) => {
                                (!std::mem::take(&mut conflict_open)).then_some(">>>>>>>")
                            }
                            Some(hygiene::Marker::Sep) => opened.then_some("======="),
                            Some(hygiene::Marker::Base) => opened.then_some("|||||||"),
                            None => None,
                        };
                        if let Some(m) = marker {
                            hits.push(hygiene::conflict_hit(m));
                        }
                        let next = hunk.lines[idx + 1..]
                            .iter()
                            .find(|l| l.kind != LineKind::Removed)
                            .map(|l| l.content);
                        let lctx = LineCtx {
                            text,
                            lexed: &lexed,
                            prev: prev_new,
                            next,
                            rest: &hunk.lines[idx + 1..],
                            rust_test,
                            yaml_script,
                            opener: blocks.opener(text),
                        };
                        self.engine.detect(&fctx, &lctx, false, &mut hits);
                        let moved = removed.contains(text.trim());
                        for h in hits.drain(..) {
                            let i = h.rule.index();
                            if !self.enabled[i] || suppressed(h.rule, text, prev_new) {
                                continue;
                            }
                            if h.rule.pairable() {
                                if moved {
                                    continue;
                                }
                                if replaced[i] > 0 {
                                    replaced[i] -= 1;
                                    continue;
                                }
                            }
                            let spec = h.rule.spec();
                            findings.push((
                                line_no,
                                i,
                                Finding {
                                    path: path.to_owned(),
                                    line: line_no,
                                    end_line: None,
                                    side: Side::Right,
                                    severity: self.severity[i],
                                    source: Source::Rules,
                                    rule: spec.id.to_owned(),
                                    title: h.title,
                                    body: h.body.unwrap_or_else(|| spec.help.to_owned()),
                                    anchored: false,
                                    suggestion: h.suggestion,
                                },
                            ));
                        }
                        self.custom.matches(&custom_here, text, &mut custom_hits);
                        for &ci in &custom_hits {
                            let c = &self.custom.rules[ci];
                            if ignore_comment_names(&c.id, text, prev_new) {
                                continue;
                            }
                            findings.push((
                                line_no,
                                RULE_COUNT + ci,
                                Finding {
                                    path: path.to_owned(),
                                    line: line_no,
                                    end_line: None,
                                    side: Side::Right,
                                    severity: c.severity,
                                    source: Source::Rules,
                                    rule: c.id.clone(),
                                    title: c.title.clone(),
                                    body: c.message.clone(),
                                    anchored: false,
                                    suggestion: None,
                                },
                            ));
                        }
                        prev_new = Some(text);
                    }
                }
            }
        }
        findings.sort_by_key(|(line, order, _)| (*line, *order));
        aggregate(findings)
    }
}

/// Lines of a file checked for generated-file markers (`@generated`, `DO NOT EDIT`).
const GENERATED_MARKER_LINES: u32 = 5;

/// One finding per built-in rule that fires often in a file (see
/// [`Rule::aggregate_from`]): anchored on its first line, naming the others. Linear in
/// the number of findings. `findings` are `(line, rule order, finding)` sorted by line.
fn aggregate(findings: Vec<(u32, usize, Finding)>) -> Vec<Finding> {
    let mut count = [0usize; RULE_COUNT];
    for (_, i, _) in &findings {
        if *i < RULE_COUNT {
            count[*i] += 1;
        }
    }
    let merged = |i: usize| i < RULE_COUNT && count[i] >= Rule::ALL[i].aggregate_from();
    if !(0..RULE_COUNT).any(merged) {
        return findings.into_iter().map(|(_, _, f)| f).collect();
    }
    // Per merged rule: where its finding sits in `out`, and the lines and titles so far.
    let mut slot: [Option<usize>; RULE_COUNT] = [None; RULE_COUNT];
    let mut lines: Vec<Vec<(u32, String)>> = vec![Vec::new(); RULE_COUNT];
    let mut out: Vec<Finding> = Vec::new();
    for (line, i, f) in findings {
        if !merged(i) {
            out.push(f);
            continue;
        }
        if slot[i].is_none() {
            slot[i] = Some(out.len());
            out.push(f.clone());
        }
        lines[i].push((line, f.title));
    }
    for i in 0..RULE_COUNT {
        let Some(at) = slot[i] else { continue };
        let rule = Rule::ALL[i];
        let list = &lines[i];
        const SHOWN: usize = 12;
        let mut nums: Vec<String> = list
            .iter()
            .take(SHOWN)
            .map(|(l, _)| l.to_string())
            .collect();
        if list.len() > SHOWN {
            nums.push(format!("and {} more", list.len() - SHOWN));
        }
        let nums = nums.join(", ");
        let f = &mut out[at];
        f.title = match rule {
            Rule::TodoAdded => format!("{} new TODO/FIXME comments: lines {nums}", list.len()),
            _ => format!(
                "{} ({} times in this file: lines {nums})",
                f.title,
                list.len()
            ),
        };
        let mut body = String::new();
        for (l, t) in list.iter().take(SHOWN) {
            body.push_str(&format!("- line {l}: {t}\n"));
        }
        if list.len() > SHOWN {
            body.push_str(&format!("- … and {} more\n", list.len() - SHOWN));
        }
        body.push('\n');
        body.push_str(rule.spec().help);
        f.body = body;
        // A suggestion would fix the first line only, while the comment names them all.
        f.suggestion = None;
    }
    out
}

/// Is a finding of `rule` on `text` silenced by a comment on the line or the line above:
/// `nectr:ignore [ids]`, or the usual marker of the linter that checks the same thing
/// (`eslint-disable-next-line no-console`, `# nosec`, `gitleaks:allow`, …)?
fn suppressed(rule: Rule, text: &str, prev: Option<&str>) -> bool {
    if ignore_comment_names(rule.id(), text, prev) {
        return true;
    }
    let markers: &[&str] = match rule {
        Rule::SecretGithubToken
        | Rule::SecretAwsAccessKeyId
        | Rule::SecretPrivateKey
        | Rule::SecretSlackToken
        | Rule::SecretStripeKey
        | Rule::SecretGoogleApiKey
        | Rule::SecretGeneric
        | Rule::SecretGitlabToken
        | Rule::SecretNpmToken
        | Rule::SecretPypiToken
        | Rule::SecretSendgridKey
        | Rule::SecretTwilioKey
        | Rule::SecretAzureKey
        | Rule::SecretHuggingfaceToken
        | Rule::SecretJwt
        | Rule::SecretUrlCredentials
        | Rule::SecretBearerToken => &["gitleaks:allow", "pragma: allowlist secret"],
        Rule::DebugConsoleLog => &["no-console"],
        Rule::DebugJsDebugger => &["no-debugger"],
        Rule::DebugRustDbg => &["clippy::dbg_macro"],
        Rule::DebugPythonBreakpoint => &["noqa: T100"],
        Rule::RustUnwrap => &["clippy::unwrap_used", "clippy::expect_used"],
        Rule::SecurityEval => &["no-eval", "nosec", "noqa: S307"],
        Rule::SecuritySqlConcat => &["nosec", "noqa: S608"],
        Rule::SecurityCommandInjection => &["nosec", "noqa: S602", "noqa: S605"],
        Rule::SecurityTlsVerifyOff => &["nosec", "noqa: S501"],
        Rule::SecurityUnsafeDeserialization => &["nosec", "noqa: S301", "noqa: S506"],
        Rule::SecurityXssSink => &[
            "nosec",
            "no-unsanitized",
            "react/no-danger",
            "vue/no-v-html",
        ],
        _ => &[],
    };
    markers.iter().any(|m| {
        text.contains(m) || prev.is_some_and(|p| is_comment_or_attribute(p) && p.contains(m))
    })
}

/// A line that is only a comment or an attribute (`#[allow(…)]`), so that what it says
/// applies to the next line.
fn is_comment_or_attribute(line: &str) -> bool {
    let t = line.trim_start();
    ["//", "#", "/*", "*", "--", "<!--", ";"]
        .iter()
        .any(|p| t.starts_with(p))
}

/// `nectr:ignore` (everything) or `nectr:ignore id, family.` naming `id`, on the line or
/// in a comment line right above it.
fn ignore_comment_names(id: &str, text: &str, prev: Option<&str>) -> bool {
    let check = |line: &str| {
        let Some(p) = line.find("nectr:ignore") else {
            return false;
        };
        let rest = &line[p + "nectr:ignore".len()..];
        // Rule ids and families named after the marker; none means every rule.
        let names: Vec<&str> = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || "._*-".contains(c)))
            .filter(|w| w.contains('.') || w.ends_with('*'))
            .collect();
        names.is_empty()
            || names.iter().any(|n| {
                let n = n.trim_end_matches('*');
                id == n || (n.ends_with('.') && id.starts_with(n))
            })
    };
    (text.contains("nectr:ignore") && check(text))
        || prev
            .is_some_and(|p| is_comment_or_attribute(p) && p.contains("nectr:ignore") && check(p))
}

fn unknown_id_warning(key: &str, id: &str, known: &[&str]) -> String {
    let families: Vec<String> = {
        let mut f: Vec<String> = known
            .iter()
            .filter_map(|k| k.split_once('.').map(|(fam, _)| format!("{fam}.")))
            .collect();
        f.sort();
        f.dedup();
        f
    };
    let target = id.trim_end_matches('*');
    let candidates = known
        .iter()
        .map(|k| (*k).to_owned())
        .chain(families.iter().cloned());
    let best = candidates
        .map(|c| (levenshtein(target, &c), c))
        .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    match best {
        Some((d, c)) if d <= (target.chars().count() / 3).max(2) => {
            format!("{key}: unknown rule id `{id}` (did you mean `{c}`?)")
        }
        _ => format!("{key}: unknown rule id `{id}`; see docs/rules.md for the rule ids"),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
