//! Context from MCP servers: Linear issues the PR names, Sentry errors in the files it
//! changes, and any other tool an operator or repository configures.
//!
//! ```text
//!  .nectr.yml context.mcp ─┐                       ┌─ linear  → get_issue per key
//!  NECTR_MCP_CONFIG file ──┴─ configured_servers ─▶ gather ─┼─ sentry  → search, then details
//!                              (operator wins)      (policy, └─ generic → one tool call
//!                                                    time box)          │
//!                                                                        ▼
//!        McpContext ─▶ prompt_sections (model) · summary_lines · sentry_line_notes (findings)
//! ```
//!
//! - [`client`]: rmcp behind the [`client::ToolSession`] trait (stdio and streamable HTTP).
//! - [`linear`], [`sentry`]: default tools and arguments for the official servers, and the
//!   readers for what they answer.
//! - [`policy`]: what a repository's config may do under `nectr serve` (no child processes,
//!   secrets only from `NECTR_MCP_*` variables and only to allowed hosts).
//!
//! **Best-effort, never blocking:** every server runs concurrently inside its own time box
//! (connect and all calls, [`McpLimits::timeout`] or the server's `timeout_secs`); whatever
//! fails becomes a line of [`McpContext::unavailable`], and [`gather`] never returns an
//! error. **Untrusted text:** everything a server answers is capped, goes to the model only
//! as delimited data (`ContextSection`), and is neutralised before it is posted.

pub mod client;
pub mod linear;
pub mod policy;
pub mod sentry;
mod text;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::task::JoinSet;

pub use self::client::{Endpoint, ToolOutput, ToolSession};
pub use self::linear::LinearIssue;
pub use self::policy::{McpMode, McpPolicy, Origin};
pub use self::sentry::{SentryError, SentryFrame};
use self::text::cap_chars;
use crate::config::{McpKind, McpServer};
use crate::diff::Diff;
use crate::review::ai::ContextSection;
use crate::review::ai::neutralise;
use crate::review::finding::{Finding, Severity, Side, Source};

/// The default time box per server.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// No server gets more than this, whatever its config says.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// What the PR says about itself and what it changes.
#[derive(Clone, Copy, Debug)]
pub struct McpRequest<'a> {
    /// `owner/name`.
    pub repo: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// The head branch name.
    pub branch: &'a str,
    /// Repository-relative paths of the changed files, in diff order.
    pub changed_paths: &'a [String],
}

/// Caps for one gathering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct McpLimits {
    /// Time box per server (connect and every call) when its config gives none.
    pub timeout: Duration,
    /// Issue keys looked up per Linear server.
    pub max_linear_issues: usize,
    /// Errors read from a Sentry search.
    pub max_sentry_errors: usize,
    /// Sentry detail calls (stack traces) per server.
    pub max_sentry_details: usize,
    /// Characters kept from one tool answer.
    pub max_result_chars: usize,
    /// Characters of one generic server's section.
    pub max_generic_chars: usize,
}

impl Default for McpLimits {
    fn default() -> Self {
        McpLimits {
            timeout: DEFAULT_TIMEOUT,
            max_linear_issues: 5,
            max_sentry_errors: 10,
            max_sentry_details: 5,
            max_result_chars: 50_000,
            max_generic_chars: 8_000,
        }
    }
}

impl McpLimits {
    /// The defaults, with `NECTR_MCP_TIMEOUT_SECS` (1–60) applied when set.
    pub fn from_env(env: &BTreeMap<String, String>) -> McpLimits {
        let mut limits = McpLimits::default();
        if let Some(secs) = env
            .get("NECTR_MCP_TIMEOUT_SECS")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|&s| s > 0)
        {
            limits.timeout = Duration::from_secs(secs).min(MAX_TIMEOUT);
        }
        limits
    }
}

/// One server to ask, and who configured it.
#[derive(Clone, Debug)]
pub struct ConfiguredServer {
    pub origin: Origin,
    pub server: McpServer,
}

/// The operator's servers, then the repository's. A repository entry with the name of an
/// operator entry is dropped: the operator's configuration wins.
pub fn configured_servers(operator: &[McpServer], repo: &[McpServer]) -> Vec<ConfiguredServer> {
    let mut out: Vec<ConfiguredServer> = operator
        .iter()
        .map(|s| ConfiguredServer {
            origin: Origin::Operator,
            server: s.clone(),
        })
        .collect();
    for s in repo {
        if out.iter().any(|o| o.server.name == s.name) {
            tracing::debug!(server = %s.name, "repository MCP server shadowed by the operator's");
            continue;
        }
        out.push(ConfiguredServer {
            origin: Origin::Repo,
            server: s.clone(),
        });
    }
    out
}

/// Everything the servers said, and which of them could not say it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct McpContext {
    pub linear: Vec<LinearIssue>,
    pub sentry: Vec<SentryError>,
    /// `(server name, text)` from generic servers.
    pub generic: Vec<(String, String)>,
    /// One line per failed source: `linear: timed out after 10s`. No secrets.
    pub unavailable: Vec<String>,
}

/// The issue keys (`ABC-123`) in a PR's title, body and branch: de-duplicated, at most 10.
/// Encodings and standards (`UTF-8`, `SHA-256`) are not keys.
pub fn issue_keys(title: &str, body: &str, branch: &str) -> Vec<String> {
    linear::issue_keys(title, body, branch, 10)
}

/// Ask every server, concurrently, each inside its time box. Never fails: what does not
/// answer in time, refuses, or is not allowed by `policy` is listed in `unavailable`.
pub async fn gather(
    servers: &[ConfiguredServer],
    req: &McpRequest<'_>,
    limits: &McpLimits,
    policy: &McpPolicy,
) -> McpContext {
    let owned = OwnedRequest::from(req);
    let mut tasks = JoinSet::new();
    let mut ctx = McpContext::default();
    let mut outcomes: Vec<Option<ServerOutcome>> = Vec::new();
    for (index, cs) in servers.iter().enumerate() {
        outcomes.push(None);
        let name = display_name(&cs.server.name);
        let endpoint = match policy.endpoint(cs) {
            Ok(e) => e,
            Err(reason) => {
                outcomes[index] = Some(ServerOutcome::failed(format!("{name}: {reason}")));
                continue;
            }
        };
        let timeout = cs
            .server
            .timeout_secs
            .filter(|&s| s > 0)
            .map(Duration::from_secs)
            .unwrap_or(limits.timeout)
            .min(MAX_TIMEOUT);
        let server = cs.server.clone();
        let req = owned.clone();
        let limits = limits.clone();
        tasks.spawn(async move {
            let work = ask_server(&server, &endpoint, &req, &limits);
            let outcome = match tokio::time::timeout(timeout, work).await {
                Ok(o) => o,
                Err(_) => ServerOutcome::failed(format!(
                    "{name}: timed out after {}",
                    format_duration(timeout)
                )),
            };
            (index, outcome)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, outcome)) => outcomes[index] = Some(outcome),
            Err(e) => tracing::warn!("an MCP task failed: {e}"),
        }
    }
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let outcome = outcome.unwrap_or_else(|| {
            ServerOutcome::failed(format!(
                "{}: failed unexpectedly",
                display_name(&servers[index].server.name)
            ))
        });
        ctx.linear.extend(outcome.linear);
        ctx.sentry.extend(outcome.sentry);
        ctx.generic.extend(outcome.generic);
        ctx.unavailable.extend(outcome.unavailable);
    }
    ctx
}

/// A server name as shown in notes: one short line of safe characters.
fn display_name(name: &str) -> String {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_. ".contains(*c))
        .take(40)
        .collect();
    if n.trim().is_empty() {
        "mcp".to_owned()
    } else {
        n.trim().to_owned()
    }
}

fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[derive(Clone, Debug)]
struct OwnedRequest {
    repo: String,
    title: String,
    body: String,
    branch: String,
    changed_paths: Vec<String>,
}

impl From<&McpRequest<'_>> for OwnedRequest {
    fn from(r: &McpRequest<'_>) -> Self {
        OwnedRequest {
            repo: r.repo.to_owned(),
            title: r.title.to_owned(),
            body: r.body.to_owned(),
            branch: r.branch.to_owned(),
            changed_paths: r.changed_paths.to_vec(),
        }
    }
}

#[derive(Default)]
struct ServerOutcome {
    linear: Vec<LinearIssue>,
    sentry: Vec<SentryError>,
    generic: Vec<(String, String)>,
    unavailable: Vec<String>,
}

impl ServerOutcome {
    fn failed(line: String) -> ServerOutcome {
        ServerOutcome {
            unavailable: vec![line],
            ..ServerOutcome::default()
        }
    }
}

async fn ask_server(
    server: &McpServer,
    endpoint: &Endpoint,
    req: &OwnedRequest,
    limits: &McpLimits,
) -> ServerOutcome {
    let name = display_name(&server.name);
    // Nothing to ask: no session is opened at all.
    let keys = match server.kind {
        McpKind::Linear => {
            let keys =
                linear::issue_keys(&req.title, &req.body, &req.branch, limits.max_linear_issues);
            if keys.is_empty() {
                return ServerOutcome::default();
            }
            keys
        }
        McpKind::Sentry if req.changed_paths.is_empty() => return ServerOutcome::default(),
        McpKind::Generic if server.tool.is_none() => {
            return ServerOutcome::failed(format!(
                "{name}: a generic server needs `tool:` (and usually `arguments:`)"
            ));
        }
        _ => Vec::new(),
    };
    let session = match client::connect(endpoint, limits.max_result_chars).await {
        Ok(s) => s,
        Err(e) => return ServerOutcome::failed(format!("{name}: {e}")),
    };
    let outcome = match server.kind {
        McpKind::Linear => ask_linear(&name, server, session.as_ref(), req, &keys).await,
        McpKind::Sentry => ask_sentry(&name, server, session.as_ref(), req, limits).await,
        McpKind::Generic => ask_generic(&name, server, session.as_ref(), req, limits).await,
    };
    session.close().await;
    outcome
}

/// The arguments for a call: the kind's defaults, with the configured `arguments` merged
/// over them (or replacing them when they are not a mapping), placeholders filled in.
fn arguments(
    defaults: Option<Value>,
    configured: Option<&serde_yaml::Value>,
    vars: &[(&str, String)],
) -> Result<Map<String, Value>, String> {
    let configured = match configured {
        Some(v) => Some(
            serde_json::to_value(v)
                .map_err(|e| format!("`arguments` cannot be sent as JSON: {e}"))?,
        ),
        None => None,
    };
    let mut merged = match (defaults, configured) {
        (Some(Value::Object(mut d)), Some(Value::Object(c))) => {
            d.extend(c);
            Value::Object(d)
        }
        (_, Some(c)) => c,
        (Some(d), None) => d,
        (None, None) => Value::Object(Map::new()),
    };
    fill(&mut merged, vars);
    match merged {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err("`arguments` must be a mapping".to_owned()),
    }
}

/// Replace `{placeholder}`s in every string of `v`, in one pass: text a placeholder brings
/// in (a PR title, say) is never scanned for placeholders itself.
fn fill(v: &mut Value, vars: &[(&str, String)]) {
    match v {
        Value::String(s) if s.contains('{') => *s = substitute(s, vars).trim().to_owned(),
        Value::Array(a) => a.iter_mut().for_each(|x| fill(x, vars)),
        Value::Object(m) => m.values_mut().for_each(|x| fill(x, vars)),
        _ => {}
    }
}

fn substitute(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after
            .find('}')
            .and_then(|close| Some((close, vars.iter().find(|(k, _)| *k == &after[..close])?)));
        match value {
            Some((close, (_, val))) => {
                out.push_str(val);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn common_vars(req: &OwnedRequest) -> Vec<(&'static str, String)> {
    let files: Vec<&str> = req
        .changed_paths
        .iter()
        .take(50)
        .map(String::as_str)
        .collect();
    vec![
        ("repo", req.repo.clone()),
        ("branch", req.branch.clone()),
        ("title", cap_chars(&req.title, 300)),
        ("changed_files", files.join(", ")),
        (
            "issue_keys",
            linear::issue_keys(&req.title, &req.body, &req.branch, 10).join(", "),
        ),
        (
            "sentry_filenames",
            sentry::filename_filter(&req.changed_paths),
        ),
    ]
}

/// A tool answer's error, as one line.
fn tool_error(tool: &str, out: &ToolOutput) -> String {
    let first = out
        .text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no details");
    format!(
        "tool `{tool}` answered an error: {}",
        cap_chars(first.trim(), 200)
    )
}

async fn ask_linear(
    name: &str,
    server: &McpServer,
    session: &dyn ToolSession,
    req: &OwnedRequest,
    keys: &[String],
) -> ServerOutcome {
    let tool = server.tool.as_deref().unwrap_or(linear::DEFAULT_TOOL);
    let mut outcome = ServerOutcome::default();
    let mut errors: Vec<String> = Vec::new();
    for key in keys {
        let mut vars = common_vars(req);
        vars.push(("issue_key", key.clone()));
        let args = match arguments(
            Some(linear::default_arguments()),
            server.arguments.as_ref(),
            &vars,
        ) {
            Ok(a) => a,
            Err(e) => return ServerOutcome::failed(format!("{name}: {e}")),
        };
        match session.call(tool, args).await {
            Ok(out) if out.is_error => errors.push(format!("{key}: {}", tool_error(tool, &out))),
            Ok(out) => match linear::parse_issue(key, &out.text, out.structured.as_ref()) {
                Some(issue) => outcome.linear.push(issue),
                None => errors.push(format!("{key}: the answer was empty")),
            },
            // A broken session will not answer the next key either.
            Err(e) => {
                errors.push(format!("{key}: {e}"));
                break;
            }
        }
    }
    // A key that is not an issue (a false positive) is expected; only report when nothing
    // could be read at all.
    if outcome.linear.is_empty()
        && let Some(first) = errors.first()
    {
        outcome.unavailable.push(format!("{name}: {first}"));
    }
    outcome
}

async fn ask_sentry(
    name: &str,
    server: &McpServer,
    session: &dyn ToolSession,
    req: &OwnedRequest,
    limits: &McpLimits,
) -> ServerOutcome {
    let tool = server
        .tool
        .as_deref()
        .unwrap_or(sentry::DEFAULT_SEARCH_TOOL);
    let vars = common_vars(req);
    let args = match arguments(
        Some(sentry::default_search_arguments()),
        server.arguments.as_ref(),
        &vars,
    ) {
        Ok(a) => a,
        Err(e) => return ServerOutcome::failed(format!("{name}: {e}")),
    };
    let out = match session.call(tool, args.clone()).await {
        Ok(out) if out.is_error => {
            return ServerOutcome::failed(format!("{name}: {}", tool_error(tool, &out)));
        }
        Ok(out) => out,
        Err(e) => return ServerOutcome::failed(format!("{name}: {e}")),
    };
    let mut found =
        sentry::parse_issues(&out.text, out.structured.as_ref(), limits.max_sentry_errors);
    // The official search answers no frames: ask for the stack traces of the first few.
    let detail_tool = (server.tool.is_none()).then_some(sentry::DEFAULT_DETAIL_TOOL);
    let mut details_left = limits.max_sentry_details;
    let mut detail_error: Option<String> = None;
    for (issue, raw) in &mut found {
        if !raw.is_empty() || details_left == 0 {
            continue;
        }
        let Some(detail_tool) = detail_tool else {
            break;
        };
        details_left -= 1;
        match session
            .call(detail_tool, sentry::detail_arguments(issue, &args))
            .await
        {
            Ok(d) if !d.is_error => *raw = sentry::frames_from_text(&d.text, d.structured.as_ref()),
            Ok(d) => detail_error = Some(tool_error(detail_tool, &d)),
            Err(e) => {
                detail_error = Some(e);
                break;
            }
        }
    }
    let mut outcome = ServerOutcome::default();
    for (mut issue, raw) in found {
        issue.frames = sentry::matching_frames(&raw, &req.changed_paths);
        let culprit_matches = raw.is_empty()
            && issue
                .culprit
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .any(|w| sentry::match_path(w, &req.changed_paths).is_some());
        if !issue.frames.is_empty() || culprit_matches {
            outcome.sentry.push(issue);
        }
    }
    if let Some(e) = detail_error {
        outcome
            .unavailable
            .push(format!("{name}: stack traces incomplete: {e}"));
    }
    outcome
}

async fn ask_generic(
    name: &str,
    server: &McpServer,
    session: &dyn ToolSession,
    req: &OwnedRequest,
    limits: &McpLimits,
) -> ServerOutcome {
    let Some(tool) = server.tool.as_deref() else {
        return ServerOutcome::default();
    };
    let args = match arguments(None, server.arguments.as_ref(), &common_vars(req)) {
        Ok(a) => a,
        Err(e) => return ServerOutcome::failed(format!("{name}: {e}")),
    };
    match session.call(tool, args).await {
        Ok(out) if out.is_error => {
            ServerOutcome::failed(format!("{name}: {}", tool_error(tool, &out)))
        }
        Ok(out) => {
            let text = match out.structured {
                Some(v) if out.text.trim().is_empty() => v.to_string(),
                _ => out.text,
            };
            let text = cap_chars(text.trim(), limits.max_generic_chars);
            if text.is_empty() {
                return ServerOutcome::default();
            }
            ServerOutcome {
                generic: vec![(name.to_owned(), text)],
                ..ServerOutcome::default()
            }
        }
        Err(e) => ServerOutcome::failed(format!("{name}: {e}")),
    }
}

/// Text from a server made safe for one line of posted Markdown: one line, markers and
/// HTML comments removed, mentions broken, Markdown punctuation escaped, capped.
fn inline(text: &str, max: usize) -> String {
    let one = neutralise::title(&cap_chars(text, max));
    let mut out = String::with_capacity(one.len());
    for c in one.chars() {
        if "\\`*_[]<>!|#~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `[text](url)` for a URL already checked to be `https://` without spaces or brackets.
fn link(text: &str, url: Option<&str>) -> String {
    match url {
        Some(u)
            if u.starts_with("https://")
                && !u.contains(|c: char| c.is_whitespace() || "()<>\"'".contains(c)) =>
        {
            format!("[{text}]({u})")
        }
        _ => text.to_owned(),
    }
}

impl McpContext {
    /// Nothing found and nothing unavailable.
    pub fn is_empty(&self) -> bool {
        self.linear.is_empty()
            && self.sentry.is_empty()
            && self.generic.is_empty()
            && self.unavailable.is_empty()
    }

    /// Sections for the model's prompt. The bodies are the servers' text (untrusted: the
    /// prompt redacts and delimits them); the titles are Nectr's and say what to do with it.
    pub fn prompt_sections(&self) -> Vec<ContextSection> {
        let mut out = Vec::new();
        for issue in &self.linear {
            let mut body = String::new();
            let _ = writeln!(body, "Key: {}", issue.key);
            let _ = writeln!(body, "Title: {}", issue.title);
            if !issue.state.is_empty() {
                let _ = writeln!(body, "State: {}", issue.state);
            }
            if !issue.acceptance_criteria.is_empty() {
                let _ = writeln!(body, "Acceptance criteria:");
                for c in &issue.acceptance_criteria {
                    let _ = writeln!(body, "- {c}");
                }
            }
            if !issue.description.is_empty() {
                let _ = writeln!(body, "Description:\n{}", issue.description);
            }
            out.push(ContextSection {
                title: format!(
                    "Linear issue {} referenced by this PR. In the summary, say whether the PR appears to do what the issue asks (its acceptance criteria, if any)",
                    issue.key
                ),
                body,
            });
        }
        if !self.sentry.is_empty() {
            let mut body = String::new();
            for e in &self.sentry {
                let _ = writeln!(
                    body,
                    "- {} {}: {} events, {} users, last seen {}",
                    e.short_id,
                    e.title,
                    e.events.map_or("?".to_owned(), |n| n.to_string()),
                    e.users.map_or("?".to_owned(), |n| n.to_string()),
                    if e.last_seen.is_empty() {
                        "?"
                    } else {
                        &e.last_seen
                    },
                );
                if !e.culprit.is_empty() {
                    let _ = writeln!(body, "  culprit: {}", e.culprit);
                }
                for f in &e.frames {
                    match f.line {
                        Some(l) => {
                            let _ = writeln!(
                                body,
                                "  frame: {}:{l} (line in the deployed version)",
                                f.path
                            );
                        }
                        None => {
                            let _ = writeln!(body, "  frame: {}", f.path);
                        }
                    }
                }
            }
            out.push(ContextSection {
                title: "Unresolved Sentry errors whose stack traces touch the changed files. Check whether the PR fixes them or makes them worse".to_owned(),
                body,
            });
        }
        for (server, text) in &self.generic {
            out.push(ContextSection {
                title: format!("Context from the MCP server {server}"),
                body: text.clone(),
            });
        }
        out
    }

    /// Lines for the review summary (Markdown, safe to post): the live errors, the linked
    /// issues, and what was unavailable.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.sentry.is_empty() {
            let n = self.sentry.len();
            let list: Vec<String> = self
                .sentry
                .iter()
                .take(5)
                .map(|e| {
                    let mut s = link(&inline(&e.short_id, 60), e.url.as_deref());
                    if !e.title.is_empty() {
                        s.push_str(": ");
                        s.push_str(&inline(&e.title, 100));
                    }
                    if let Some(events) = e.events {
                        let _ = write!(s, " ({events} events)");
                    }
                    s
                })
                .collect();
            let more = if n > 5 {
                format!("; {} more", n - 5)
            } else {
                String::new()
            };
            out.push(format!(
                "This PR touches code with {n} live Sentry error{}: {}{more}.",
                if n == 1 { "" } else { "s" },
                list.join("; ")
            ));
        }
        for issue in &self.linear {
            let key = link(&inline(&issue.key, 30), issue.url.as_deref());
            let state = if issue.state.is_empty() {
                String::new()
            } else {
                format!(" ({})", inline(&issue.state, 40))
            };
            out.push(format!(
                "Linear {key}{state}: {}",
                inline(&issue.title, 150)
            ));
        }
        for u in &self.unavailable {
            out.push(format!(
                "Context unavailable: {}.",
                inline(u.trim_end_matches('.'), 300)
            ));
        }
        out
    }

    /// Inline notes where a Sentry frame points at a line this PR changes. Frames point into
    /// the deployed code, which is the base of the PR: a frame's line is an old-file line,
    /// and a note is made only when that line is removed or rewritten by the diff (LEFT
    /// side). Anchoring is left to `review::anchor`, as for every finding.
    pub fn sentry_line_notes(&self, diff: &Diff<'_>) -> Vec<Finding> {
        let mut out: Vec<Finding> = Vec::new();
        for e in &self.sentry {
            for f in &e.frames {
                let Some(line) = f.line else { continue };
                let Some(file) = diff.file(&f.path) else {
                    continue;
                };
                let changed = file
                    .line(Side::Left, line)
                    .is_some_and(|l| l.kind == crate::diff::LineKind::Removed);
                if !changed {
                    continue;
                }
                if out
                    .iter()
                    .any(|o| o.path == f.path && o.line == line && o.title.contains(&e.short_id))
                {
                    continue;
                }
                let stats = match (e.events, e.users) {
                    (Some(ev), Some(u)) => format!(" ({ev} events, {u} users)"),
                    (Some(ev), None) => format!(" ({ev} events)"),
                    _ => String::new(),
                };
                let mut body = format!(
                    "Sentry reports a live, unresolved error whose stack trace points at this line{stats}: {}.",
                    link(&inline(&e.short_id, 60), e.url.as_deref()),
                );
                if !e.title.is_empty() {
                    let _ = write!(body, "\n\n> {}", inline(&e.title, 300));
                }
                body.push_str("\n\nCheck that this change fixes it or does not make it worse.");
                out.push(Finding {
                    path: f.path.clone(),
                    line,
                    end_line: None,
                    side: Side::Left,
                    severity: Severity::Minor,
                    source: Source::Rules,
                    rule: "context.sentry".to_owned(),
                    title: neutralise::title(&format!(
                        "Live Sentry error {}: {}",
                        e.short_id,
                        cap_chars(&e.title, 120)
                    )),
                    body,
                    anchored: false,
                    suggestion: None,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_merge_over_defaults_and_fill_placeholders() {
        let configured: serde_yaml::Value = serde_yaml::from_str(
            "{organizationSlug: acme, query: 'is:unresolved {sentry_filenames} env:prod'}",
        )
        .unwrap();
        let args = arguments(
            Some(sentry::default_search_arguments()),
            Some(&configured),
            &[("sentry_filenames", "stack.filename:[*a.py]".to_owned())],
        )
        .unwrap();
        assert_eq!(args["organizationSlug"], "acme");
        assert_eq!(
            args["query"],
            "is:unresolved stack.filename:[*a.py] env:prod"
        );
        assert_eq!(args["limit"], 10);
        let once = substitute(
            "{title} in {repo} {unknown} {",
            &[
                ("title", "{repo}".to_owned()),
                ("repo", "acme/app".to_owned()),
            ],
        );
        assert_eq!(once, "{repo} in acme/app {unknown} {");
        let bad: serde_yaml::Value = serde_yaml::from_str("[1, 2]").unwrap();
        assert!(arguments(None, Some(&bad), &[]).is_err());
    }

    #[test]
    fn operator_servers_win_over_the_repository() {
        let s = |name: &str, url: &str| McpServer {
            name: name.into(),
            kind: McpKind::Linear,
            url: Some(url.into()),
            command: None,
            headers: Default::default(),
            tool: None,
            arguments: None,
            timeout_secs: None,
        };
        let all = configured_servers(
            &[s("linear", "https://op")],
            &[s("linear", "https://evil"), s("other", "https://x")],
        );
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].origin, Origin::Operator);
        assert_eq!(all[0].server.url.as_deref(), Some("https://op"));
        assert_eq!(all[1].server.name, "other");
        assert_eq!(all[1].origin, Origin::Repo);
    }

    #[test]
    fn summary_lines_are_safe_markdown() {
        let ctx = McpContext {
            linear: vec![LinearIssue {
                key: "ENG-1".into(),
                title: "@admin <!-- nectr:review --> ![x](https://t.example/p.png)".into(),
                state: "In Progress".into(),
                url: Some("https://linear.app/a/issue/ENG-1".into()),
                ..LinearIssue::default()
            }],
            sentry: vec![SentryError {
                short_id: "API-1".into(),
                title: "boom <script>".into(),
                events: Some(5),
                url: Some("https://acme.sentry.io/issues/1/".into()),
                ..SentryError::default()
            }],
            generic: vec![],
            unavailable: vec!["sentry: timed out after 10s".into()],
        };
        let lines = ctx.summary_lines();
        assert_eq!(
            lines[0],
            "This PR touches code with 1 live Sentry error: [API-1](https://acme.sentry.io/issues/1/): boom \\<script\\> (5 events)."
        );
        assert!(
            lines[1]
                .starts_with("Linear [ENG-1](https://linear.app/a/issue/ENG-1) (In Progress): "),
            "{}",
            lines[1]
        );
        assert!(!lines[1].contains("nectr:review"), "{}", lines[1]);
        assert!(!lines[1].contains("@admin"), "mention broken: {}", lines[1]);
        assert!(lines[1].contains("\\!\\[x\\]"), "no image: {}", lines[1]);
        assert_eq!(
            lines[2],
            "Context unavailable: sentry: timed out after 10s."
        );
    }
}
