//! Repository configuration: `.nectr.yml`.
//!
//! The file is optional; every key has a default. Unknown keys are warnings (a typo should
//! not stop a review), but malformed YAML and invalid values — a bad regex, an unknown
//! severity, a broken glob — are errors that name the file, line and column.
//!
//! The schema is documented in `docs/config.md`; the keys `rules.disable`,
//! `max_inline_comments`, `llm.provider`, `llm.model` and `context.mcp` are part of the
//! public contract.

use std::collections::BTreeMap;
use std::path::Path;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::{Deserialize, Deserializer};

use crate::review::finding::Severity;

/// The names Nectr looks for when no `--config` is given, in order.
pub const DEFAULT_FILE_NAMES: [&str; 2] = [".nectr.yml", ".nectr.yaml"];

/// Default cap on inline comments per review; the rest are listed in the summary.
pub const DEFAULT_MAX_INLINE_COMMENTS: usize = 30;

/// The largest config file Nectr reads (64 KiB), checked before parsing: a config is a few
/// hundred bytes, and under `nectr serve` the file is a tenant's.
pub const MAX_CONFIG_BYTES: usize = 64 << 10;
/// At most this many custom rules (`rules.custom`).
pub const MAX_CUSTOM_RULES: usize = 100;
/// The compiled size all custom regexes of one config may take together (regex's
/// `size_limit`, summed); one regex may take at most [`MAX_REGEX_BYTES`].
pub const MAX_TOTAL_REGEX_BYTES: usize = 4 << 20;
/// At most this many MCP servers (`context.mcp`): each is asked on every review.
pub const MAX_MCP_SERVERS: usize = 10;
/// The compiled size of one custom regex.
pub const MAX_REGEX_BYTES: usize = 1 << 20;
/// The lazy DFA cache of one custom regex (regex's default is 2 MiB): 100 rules then hold
/// at most 25 MiB of caches while they run.
const REGEX_DFA_BYTES: usize = 256 << 10;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RepoConfig {
    pub rules: RulesConfig,
    pub paths: PathFilter,
    /// Anchored findings beyond this many are listed in the summary instead of inline.
    pub max_inline_comments: usize,
    pub review: ReviewConfig,
    pub llm: LlmConfig,
    pub context: ContextConfig,
}

impl Default for RepoConfig {
    fn default() -> Self {
        RepoConfig {
            rules: RulesConfig::default(),
            paths: PathFilter::default(),
            max_inline_comments: DEFAULT_MAX_INLINE_COMMENTS,
            review: ReviewConfig::default(),
            llm: LlmConfig::default(),
            context: ContextConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RulesConfig {
    /// Built-in rule ids to turn off. A prefix ending in `.` or `*` (`debug.`, `secret.*`)
    /// turns off a whole family.
    pub disable: Vec<String>,
    /// Opt-in built-in rules to turn on (`rust.unwrap`); same id/prefix syntax as
    /// `disable`, which wins when both name a rule.
    pub enable: Vec<String>,
    /// Severity overrides by rule id (built-in or custom).
    pub severity: BTreeMap<String, Severity>,
    pub custom: Vec<CustomRule>,
}

impl RulesConfig {
    /// Is the rule `id` turned off by `rules.disable`?
    pub fn is_disabled(&self, id: &str) -> bool {
        Self::names(&self.disable, id)
    }

    /// Is the opt-in rule `id` turned on by `rules.enable`?
    pub fn is_enabled(&self, id: &str) -> bool {
        Self::names(&self.enable, id)
    }

    fn names(list: &[String], id: &str) -> bool {
        list.iter().any(|d| {
            let d = d.trim();
            if let Some(prefix) = d.strip_suffix('*') {
                id.starts_with(prefix)
            } else if d.ends_with('.') {
                id.starts_with(d)
            } else {
                id == d
            }
        })
    }
}

/// A rule written in the config: a regex matched against every added line of the files it
/// applies to.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    pub id: String,
    pub regex: Pattern,
    /// Why it matters and what to do (markdown). Becomes the finding's body.
    pub message: String,
    /// One-line title; defaults to the id.
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default = "default_custom_severity")]
    pub severity: Severity,
    /// Only files matching one of these globs (all files when empty).
    #[serde(default)]
    pub paths: GlobList,
    /// Never files matching one of these globs.
    #[serde(default)]
    pub exclude_paths: GlobList,
}

fn default_custom_severity() -> Severity {
    Severity::Minor
}

/// Which files are reviewed at all.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PathFilter {
    /// Review only files matching one of these globs (all files when empty).
    pub include: GlobList,
    /// Never review files matching one of these globs.
    pub exclude: GlobList,
}

impl PathFilter {
    pub fn allows(&self, path: &str) -> bool {
        (self.include.is_empty() || self.include.is_match(path)) && !self.exclude.is_match(path)
    }
}

/// When pull requests are reviewed.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ReviewConfig {
    /// Review draft pull requests too (by default they are skipped until ready for review).
    pub drafts: bool,
    /// On a new push, send only what changed since Nectr's last review to the AI reviewer
    /// (default); `false` reviews the whole pull request with it every time.
    pub incremental: bool,
    /// What a review without findings posts: a short summary (default), or nothing new
    /// (`silent`: an earlier summary is still edited, so it does not go stale).
    pub on_clean: OnClean,
}

/// `review.on_clean`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnClean {
    #[default]
    Summary,
    Silent,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            drafts: false,
            incremental: true,
            on_clean: OnClean::Summary,
        }
    }
}

/// The language-model reviewer (used when a provider is configured; see the LLM issue).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LlmConfig {
    /// `none`, `openai` or `anthropic`; `NECTR_LLM_PROVIDER` wins over this.
    pub provider: Option<String>,
    pub model: Option<String>,
    pub base_url: Option<String>,
    /// Free-text review instructions for this repository.
    pub instructions: Option<String>,
    /// Tokens the model accepts per call (prompt plus reply); `NECTR_LLM_CONTEXT_WINDOW`
    /// wins. Default: from the model's name (see `llm::settings::context_window_for`).
    pub context_window: Option<usize>,
    /// Seconds one HTTP attempt may take; `NECTR_LLM_TIMEOUT_SECS` wins. Default 120.
    pub timeout_secs: Option<u64>,
    /// Retries after the first attempt (429, 5xx, connection errors);
    /// `NECTR_LLM_MAX_RETRIES` wins. Default 3.
    pub max_retries: Option<u32>,
    /// Azure OpenAI deployment name; `NECTR_LLM_AZURE_DEPLOYMENT` wins. Setting it selects
    /// the Azure URL shape. Default: the model name.
    pub azure_deployment: Option<String>,
    /// Azure OpenAI `api-version`; `NECTR_LLM_API_VERSION` wins.
    pub api_version: Option<String>,
    /// Never used: API keys come only from `NECTR_LLM_API_KEY`. Read so that a key
    /// committed to the file is reported (and never printed).
    pub api_key: Option<IgnoredSecret>,
    /// Extra instructions for the files matching some globs.
    pub path_instructions: Vec<PathInstructions>,
    /// At most this many model calls per review (chunks plus repairs; default 8).
    pub max_llm_calls: Option<u32>,
    /// At most this many (estimated) prompt tokens per review, over all calls (default
    /// 200,000).
    pub max_input_tokens: Option<u64>,
    /// At most this many changed files also go to the model in whole, when the budget
    /// has room (default 5; 0 turns it off).
    pub full_files: Option<usize>,
    /// Send lock files and generated, vendored or minified files to the model too
    /// (default `false`: they are listed as skipped; the rules still check them).
    pub include_generated: Option<bool>,
}

/// `llm.path_instructions` entry: instructions for the files matching `paths`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathInstructions {
    pub paths: GlobList,
    pub instructions: String,
}

/// A secret found where none belongs (a key in `.nectr.yml`): kept only to warn about it.
/// Its `Debug` never shows the value.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct IgnoredSecret(String);

impl IgnoredSecret {
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for IgnoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IgnoredSecret([redacted])")
    }
}

/// Outside context for reviews.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContextConfig {
    pub mcp: Vec<McpServer>,
}

/// One MCP server to ask for context.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    pub name: String,
    #[serde(default)]
    pub kind: McpKind,
    /// Streamable-HTTP endpoint …
    #[serde(default)]
    pub url: Option<String>,
    /// … or a stdio child process.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Request headers; `${VAR}` is replaced from the environment when used.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub arguments: Option<serde_yaml::Value>,
    /// Time box for this server (connect and every call), in seconds; the default is 10.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum McpKind {
    Linear,
    Sentry,
    #[default]
    Generic,
}

/// A regex from the config, compiled when the file is read so that a bad one is reported
/// with its line and column.
#[derive(Clone, Debug)]
pub struct Pattern(pub Regex);

/// What the custom regexes of the config being parsed may still use. A thread-local,
/// because regexes compile inside serde (so that errors carry line and column) and the
/// budget must stop the 101st rule before it compiles, not after all of them did.
#[derive(Clone, Copy, Debug)]
struct RegexBudget {
    patterns: usize,
    bytes: usize,
}

thread_local! {
    static REGEX_BUDGET: std::cell::Cell<Option<RegexBudget>> = const { std::cell::Cell::new(None) };
}

/// Sets the regex budget for one parse and clears it when dropped.
struct BudgetGuard;

impl BudgetGuard {
    fn start() -> BudgetGuard {
        REGEX_BUDGET.with(|b| {
            b.set(Some(RegexBudget {
                patterns: 0,
                bytes: MAX_TOTAL_REGEX_BYTES,
            }))
        });
        BudgetGuard
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        REGEX_BUDGET.with(|b| b.set(None));
    }
}

fn regex_error(source: &str, e: &regex::Error) -> String {
    let source: String = source.chars().take(200).collect();
    if let regex::Error::CompiledTooBig(_) = e {
        return format!(
            "regex {source:?} is too big once compiled: one custom regex may take {} KiB and all of them together {} MiB; simplify it (long counted repetitions like `.{{1000}}` are the usual cause)",
            MAX_REGEX_BYTES >> 10,
            MAX_TOTAL_REGEX_BYTES >> 20
        );
    }
    // regex's parse errors draw a caret diagram over several lines; keep the last line
    // (the reason) so the message stays one line.
    let text = e.to_string();
    let reason = text.lines().last().unwrap_or_default().trim();
    let reason = reason.strip_prefix("error: ").unwrap_or(reason);
    format!("invalid regex {source:?}: {reason}")
}

/// Compiles a custom regex within `budget` bytes: first with a small size limit, growing
/// it 4× on `CompiledTooBig`, so that a regex is charged roughly what it takes (within 4×)
/// rather than the per-regex maximum. Returns the regex and what it was charged.
fn compile_within(source: &str, budget: usize) -> Result<(Regex, usize), regex::Error> {
    let ceiling = budget.min(MAX_REGEX_BYTES);
    let mut limit = (16 << 10).min(ceiling);
    loop {
        match regex::RegexBuilder::new(source)
            .size_limit(limit)
            .dfa_size_limit(REGEX_DFA_BYTES)
            .build()
        {
            Ok(r) => return Ok((r, limit)),
            Err(regex::Error::CompiledTooBig(_)) if limit < ceiling => {
                limit = (limit * 4).min(ceiling);
            }
            Err(e) => return Err(e),
        }
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = String::deserialize(d)?;
        let budget = REGEX_BUDGET.with(|b| b.get());
        let Some(mut budget) = budget else {
            // Outside a config parse (a caller deserializing one rule): the per-regex cap.
            return compile_within(&source, MAX_REGEX_BYTES)
                .map(|(r, _)| Pattern(r))
                .map_err(|e| serde::de::Error::custom(regex_error(&source, &e)));
        };
        budget.patterns += 1;
        if budget.patterns > MAX_CUSTOM_RULES {
            return Err(serde::de::Error::custom(format!(
                "more than {MAX_CUSTOM_RULES} custom rules; merge similar rules into one regex (`a|b`) or keep the ones that matter most"
            )));
        }
        let (regex, charged) = compile_within(&source, budget.bytes)
            .map_err(|e| serde::de::Error::custom(regex_error(&source, &e)))?;
        budget.bytes -= charged;
        REGEX_BUDGET.with(|b| b.set(Some(budget)));
        Ok(Pattern(regex))
    }
}

/// A list of path globs, gitignore-style: a glob without `/` matches the file name in any
/// directory (`*.lock`), one with `/` matches from the repository root (`src/**/*.rs`).
#[derive(Clone, Debug)]
pub struct GlobList {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Default for GlobList {
    fn default() -> Self {
        GlobList {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        }
    }
}

impl GlobList {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, globset::Error> {
        let mut builder = GlobSetBuilder::new();
        for p in patterns {
            builder.add(compile_glob(p.as_ref())?);
        }
        Ok(GlobList {
            patterns: patterns.iter().map(|p| p.as_ref().to_owned()).collect(),
            set: builder.build()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn is_match(&self, path: &str) -> bool {
        !self.is_empty() && self.set.is_match(path)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

fn compile_glob(pattern: &str) -> Result<Glob, globset::Error> {
    let trimmed = pattern.trim().trim_start_matches("./");
    let anchored = trimmed.trim_start_matches('/');
    let full = if trimmed.contains('/') {
        anchored.to_owned()
    } else {
        format!("**/{anchored}")
    };
    // A trailing `/` (or a bare directory name with `/**`) means everything beneath it.
    let full = match full.strip_suffix('/') {
        Some(dir) => format!("{dir}/**"),
        None => full,
    };
    GlobBuilder::new(&full).literal_separator(true).build()
}

impl<'de> Deserialize<'de> for GlobList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        let patterns = match OneOrMany::deserialize(d)? {
            OneOrMany::One(p) => vec![p],
            OneOrMany::Many(ps) => ps,
        };
        GlobList::new(&patterns).map_err(|e| serde::de::Error::custom(format!("invalid glob: {e}")))
    }
}

/// The config file could not be used. Always names the file; YAML and value errors carry
/// the line and column.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // Not a `#[source]`: the OS error is part of this one line, and `{:#}` would print it
    // a second time.
    #[error("cannot read config file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("invalid config {path}: {message}")]
    Invalid { path: String, message: String },
}

/// A parsed config plus what was odd about it.
#[derive(Clone, Debug, Default)]
pub struct LoadedConfig {
    pub config: RepoConfig,
    /// Where it came from (`None`: built-in defaults).
    pub origin: Option<String>,
    /// Unknown keys and other things worth a warning, one line each.
    pub warnings: Vec<String>,
}

impl RepoConfig {
    /// Read and parse `path`.
    pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
        let shown = path.display().to_string();
        let read_error = |source| ConfigError::Read {
            path: shown.clone(),
            error: source,
        };
        let size = std::fs::metadata(path).map_err(read_error)?.len();
        if size > MAX_CONFIG_BYTES as u64 {
            return Err(too_big(&shown, size));
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        Self::parse(&text, &shown)
    }

    /// Look for [`DEFAULT_FILE_NAMES`] in `dir`; built-in defaults when there is none.
    pub fn discover(dir: &Path) -> Result<LoadedConfig, ConfigError> {
        for name in DEFAULT_FILE_NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Self::load(&candidate);
            }
        }
        Ok(LoadedConfig::default())
    }

    /// Parse config text; `origin` names it in messages. Text over [`MAX_CONFIG_BYTES`] is
    /// refused before parsing; custom rules are held to [`MAX_CUSTOM_RULES`] and their
    /// regexes to [`MAX_TOTAL_REGEX_BYTES`] while parsing.
    pub fn parse(text: &str, origin: &str) -> Result<LoadedConfig, ConfigError> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(too_big(origin, text.len() as u64));
        }
        let invalid = |message: String| ConfigError::Invalid {
            path: origin.to_owned(),
            message,
        };
        // An empty file (or one of only comments) is a valid, default config.
        let has_content = text
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#') && l.trim() != "---");
        if !has_content {
            return Ok(LoadedConfig {
                config: RepoConfig::default(),
                origin: Some(origin.to_owned()),
                warnings: Vec::new(),
            });
        }
        let mut warnings = Vec::new();
        let deserializer = serde_yaml::Deserializer::from_str(text);
        let budget = BudgetGuard::start();
        let config: RepoConfig = serde_ignored::deserialize(deserializer, |path| {
            warnings.push(unknown_key_warning(origin, &path.to_string()));
        })
        .map_err(|e| invalid(e.to_string()))?;
        drop(budget);
        config.validate().map_err(invalid)?;
        Ok(LoadedConfig {
            config,
            origin: Some(origin.to_owned()),
            warnings,
        })
    }

    fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for rule in &self.rules.custom {
            let id = rule.id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(format!(
                    "custom rule id {id:?} must be non-empty and use only letters, digits, `-`, `_` and `.`"
                ));
            }
            if !seen.insert(id) {
                return Err(format!("custom rule id `{id}` is defined twice"));
            }
        }
        if self.context.mcp.len() > MAX_MCP_SERVERS {
            return Err(format!(
                "context.mcp lists {} servers; at most {MAX_MCP_SERVERS} are asked per review: keep the ones that matter",
                self.context.mcp.len()
            ));
        }
        for server in &self.context.mcp {
            if server.url.is_some() == server.command.is_some() {
                return Err(format!(
                    "context.mcp `{}` needs exactly one of `url` (streamable HTTP) or `command` (stdio)",
                    server.name
                ));
            }
        }
        Ok(())
    }
}

/// The error for a config file over [`MAX_CONFIG_BYTES`].
pub fn too_big(origin: &str, size: u64) -> ConfigError {
    ConfigError::Invalid {
        path: origin.to_owned(),
        message: format!(
            "the file is {} KiB; Nectr reads config files of at most {} KiB: shorten it (fewer or simpler custom rules)",
            size.div_ceil(1024),
            MAX_CONFIG_BYTES >> 10
        ),
    }
}

/// "unknown key `rules.disabel` ignored", with the closest known key when one is near.
fn unknown_key_warning(origin: &str, path: &str) -> String {
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    let sections: [(&str, &[&str]); 6] = [
        ("", field_names::<RepoConfig>()),
        ("rules", field_names::<RulesConfig>()),
        ("paths", field_names::<PathFilter>()),
        ("review", field_names::<ReviewConfig>()),
        ("llm", field_names::<LlmConfig>()),
        ("context", field_names::<ContextConfig>()),
    ];
    // A sibling first; a misplaced top-level key (`disable:`) may belong to a section.
    let candidates = sections
        .iter()
        .filter(|(section, _)| *section == parent || parent.is_empty())
        .flat_map(|(section, fields)| {
            fields.iter().map(move |k| {
                let sibling = *section == parent;
                let full = if section.is_empty() {
                    (*k).to_owned()
                } else {
                    format!("{section}.{k}")
                };
                (edit_distance(key, k), !sibling, full, k.len())
            })
        });
    let closest = candidates
        .filter(|(d, _, _, len)| *d <= 2.max(len / 4))
        .min();
    match closest {
        Some((_, _, full, _)) => {
            format!("{origin}: unknown key `{path}` ignored; did you mean `{full}`?")
        }
        None => format!("{origin}: unknown key `{path}` ignored"),
    }
}

/// The field names a derived `Deserialize` struct asks for (serde passes them to
/// `deserialize_struct`), so "did you mean" never goes stale when a key is added.
fn field_names<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor, value::Error};
    struct Capture<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Capture<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            *self.0 = fields;
            Err(Error::custom("captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Capture(&mut fields));
    fields
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_files_are_refused_before_parsing() {
        let text = format!("# {}\n", "x".repeat(MAX_CONFIG_BYTES));
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("at most 64 KiB"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".nectr.yml");
        std::fs::write(&path, &text).unwrap();
        let e = RepoConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("at most 64 KiB"), "{e}");
    }

    fn rules_yaml(n: usize, regex: &str) -> String {
        let mut s = String::from("rules:\n  custom:\n");
        for i in 0..n {
            s.push_str(&format!(
                "    - {{id: r{i}, regex: '{regex}', message: m}}\n"
            ));
        }
        s
    }

    #[test]
    fn custom_rules_are_capped_in_number_and_compiled_size() {
        assert_eq!(
            parse(&rules_yaml(MAX_CUSTOM_RULES, "a+b"))
                .unwrap()
                .config
                .rules
                .custom
                .len(),
            MAX_CUSTOM_RULES
        );
        let e = parse(&rules_yaml(MAX_CUSTOM_RULES + 1, "a+b"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 100 custom rules"), "{e}");
        // Each of these is under the per-regex limit; together they are not.
        let started = std::time::Instant::now();
        let e = parse(&rules_yaml(60, ".{1000}x")).unwrap_err().to_string();
        assert!(e.contains("too big once compiled"), "{e}");
        assert!(e.contains("line "), "points at the rule: {e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        // The budget is per parse: the next config starts afresh.
        assert!(parse(&rules_yaml(2, ".{1000}x")).is_ok());
    }

    fn parse(text: &str) -> Result<LoadedConfig, ConfigError> {
        RepoConfig::parse(text, ".nectr.yml")
    }

    #[test]
    fn empty_and_comment_only_files_are_defaults() {
        for text in ["", "\n\n", "# nothing yet\n", "---\n# still nothing\n"] {
            let loaded = parse(text).unwrap();
            assert_eq!(loaded.config.max_inline_comments, 30);
            assert!(loaded.warnings.is_empty());
        }
    }

    #[test]
    fn contract_keys_parse() {
        let loaded = parse(
            r#"
rules:
  disable: [todo.added, "debug.*"]
  severity: {rust.unwrap: major}
max_inline_comments: 5
llm:
  provider: openai
  model: gpt-4o-mini
context:
  mcp:
    - name: linear
      kind: linear
      url: https://mcp.linear.app/mcp
      headers:
        Authorization: "Bearer ${LINEAR_API_KEY}"
    - name: local
      command: ["npx", "-y", "some-mcp-server"]
"#,
        )
        .unwrap();
        let c = loaded.config;
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(c.max_inline_comments, 5);
        assert!(c.rules.is_disabled("todo.added"));
        assert!(c.rules.is_disabled("debug.console-log"));
        assert!(!c.rules.is_disabled("todo.added-more"));
        assert!(!c.rules.is_disabled("secret.github-token"));
        assert_eq!(c.rules.severity["rust.unwrap"], Severity::Major);
        assert_eq!(c.llm.provider.as_deref(), Some("openai"));
        assert_eq!(c.context.mcp.len(), 2);
        assert_eq!(c.context.mcp[0].kind, McpKind::Linear);
        assert_eq!(c.context.mcp[1].kind, McpKind::Generic);
    }

    #[test]
    fn incremental_reviews_are_on_unless_switched_off() {
        assert!(parse("").unwrap().config.review.incremental);
        assert!(
            parse("review: {drafts: true}")
                .unwrap()
                .config
                .review
                .incremental
        );
        let off = parse("review:\n  incremental: false\n").unwrap();
        assert!(!off.config.review.incremental);
        assert!(off.warnings.is_empty(), "{:?}", off.warnings);
        assert!(parse("review: {incremental: maybe}").is_err());
    }

    #[test]
    fn unknown_keys_warn_with_their_path() {
        let loaded = parse("max_inline_coments: 3\nrules:\n  disabel: [x]\n").unwrap();
        assert_eq!(loaded.config.max_inline_comments, 30);
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("`max_inline_coments`"));
        assert!(loaded.warnings[1].contains("`rules.disabel`"));
        assert!(
            loaded.warnings[1].contains("did you mean `rules.disable`?"),
            "{:?}",
            loaded.warnings
        );
        assert!(loaded.warnings[0].contains("did you mean `max_inline_comments`?"));
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn invalid_yaml_names_line_and_column() {
        let e = error_of("rules:\n  disable: [a, b\nmax_inline_comments: 3\n");
        assert!(e.starts_with("invalid config .nectr.yml: "), "{e}");
        assert!(e.contains("line "), "{e}");
        assert!(e.contains("column "), "{e}");
    }

    #[test]
    fn invalid_values_name_line_and_column() {
        let e = error_of("max_inline_comments: lots\n");
        assert!(e.contains("line 1 column"), "{e}");
        let e = error_of("rules:\n  severity:\n    rust.unwrap: severe\n");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("critical"), "lists the valid severities: {e}");
        let e = error_of("rules:\n  custom:\n    - id: x\n      regex: 'a(b'\n      message: m\n");
        assert!(e.contains("invalid regex \"a(b\": unclosed group"), "{e}");
        assert!(e.contains("line 3"), "points at the custom rule: {e}");
        assert_eq!(e.lines().count(), 1, "one line: {e}");
        let e = error_of("paths:\n  exclude: ['a[']\n");
        assert!(e.contains("invalid glob"), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = error_of("rules:\n  custom:\n    - id: x\n      regex: a\n      mesage: m\n");
        assert!(
            e.contains("line 5"),
            "typo inside a custom rule is an error: {e}"
        );
    }

    #[test]
    fn semantic_errors_are_reported() {
        let e = error_of(
            "rules:\n  custom:\n    - {id: dup, regex: a, message: m}\n    - {id: dup, regex: b, message: m}\n",
        );
        assert!(e.contains("defined twice"), "{e}");
        let e = error_of("rules:\n  custom:\n    - {id: 'has space', regex: a, message: m}\n");
        assert!(e.contains("letters, digits"), "{e}");
        let e = error_of(
            "context:\n  mcp:\n    - name: both\n      url: http://x\n      command: [x]\n",
        );
        assert!(e.contains("exactly one of"), "{e}");
    }

    #[test]
    fn globs_are_gitignore_like() {
        let list = GlobList::new(&["*.lock", "docs/", "src/**/*.rs", "/top.txt"]).unwrap();
        assert!(list.is_match("Cargo.lock"));
        assert!(list.is_match("a/b/yarn.lock"));
        assert!(list.is_match("docs/x/y.md"));
        assert!(list.is_match("src/a/b.rs"));
        assert!(list.is_match("src/b.rs"));
        assert!(list.is_match("top.txt"));
        assert!(!list.is_match("lib/b.rs"));
        assert!(!list.is_match("sub/top.txt"));
        assert!(!list.is_match("mydocs/x.md"));
        let one = GlobList::new(&["src/*.rs"]).unwrap();
        assert!(!one.is_match("src/a/b.rs"), "`*` does not cross `/`");
    }

    #[test]
    fn path_filter_include_and_exclude() {
        let loaded = parse("paths:\n  include: ['src/**']\n  exclude: '*.gen.rs'\n").unwrap();
        let f = &loaded.config.paths;
        assert!(f.allows("src/main.rs"));
        assert!(!f.allows("src/x.gen.rs"));
        assert!(!f.allows("README.md"));
        assert!(RepoConfig::default().paths.allows("anything/at/all"));
    }

    #[test]
    fn discover_finds_the_file_or_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let none = RepoConfig::discover(dir.path()).unwrap();
        assert!(none.origin.is_none());
        std::fs::write(dir.path().join(".nectr.yaml"), "max_inline_comments: 7\n").unwrap();
        let found = RepoConfig::discover(dir.path()).unwrap();
        assert_eq!(found.config.max_inline_comments, 7);
        assert!(found.origin.unwrap().ends_with(".nectr.yaml"));
        let missing = RepoConfig::load(&dir.path().join("nope.yml")).unwrap_err();
        assert!(missing.to_string().contains("cannot read config file"));
    }
}
