//! `nectr doctor`: check the token, its scopes and the rate limit and — with `--repo` — the
//! repository, Nectr's webhook on it and the webhook's recent deliveries; say what is wrong
//! and how to fix it, and with `--redeliver` ask GitHub to send failed deliveries again.
//!
//! Every check ends up as one [`Check`]: `ok`, `warn` or `fail`, what was found, and what to
//! do about a problem. A check that cannot run because an earlier one failed (no token, the
//! repository is unreachable) is left out rather than reported as a second failure.
//!
//! Exit code: 0 when nothing failed (warnings allowed), 2 when a check failed that the user can
//! fix (token, scopes, repository, webhook, deliveries), 3 when the only failures are GitHub's
//! own after retries. The token is never printed: only where it came from and its kind
//! (from its well-known prefix).

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::github_review::{api_url, connect, parse_repo};
use super::webhook::{DEFAULT_PUBLIC_URL, WEBHOOK_EVENTS, WEBHOOK_PATH, payload_url};
use crate::error::{EXIT_INPUT, EXIT_REMOTE};
use crate::github::token::{self, TokenSource};
use crate::github::types::{Hook, HookDelivery, RateLimitResource, RepoInfo};
use crate::github::{GitHub, GitHubError};

/// How many of the webhook's latest deliveries are inspected.
pub const RECENT_DELIVERIES: usize = 25;
/// At most this many failed deliveries are named in the deliveries check.
const NAMED_FAILURES: usize = 5;
const DEFAULT_SERVER_URL: &str = "https://github.com";
const GITHUB_STATUS: &str = "https://www.githubstatus.com";

#[derive(Debug, Args)]
#[command(after_long_help = "\
The token comes from GITHUB_TOKEN, then `gh auth token`, then GITHUB_PAT; GITHUB_API_URL points \
at GitHub Enterprise Server. The webhook looked for is the one sending to PUBLIC_URL + \
/api/v1/webhooks/github (--url, else NECTR_PUBLIC_URL, else http://localhost:8000).

Exit codes: 0 nothing failed (warnings allowed); 2 a check failed that you can fix (token, \
scopes, repository, webhook, deliveries); 3 GitHub itself failed after retries (and nothing \
you can fix failed).")]
pub struct DoctorArgs {
    /// Also check this repository: reachable, Nectr's webhook installed and configured, and
    /// its recent deliveries.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// The server's public base URL the webhook should send to [default: NECTR_PUBLIC_URL, or
    /// http://localhost:8000].
    #[arg(long, value_name = "PUBLIC_URL", requires = "repo")]
    pub url: Option<String>,
    /// Ask GitHub to send each failed recent delivery of the webhook again.
    #[arg(long, requires = "repo")]
    pub redeliver: bool,
    /// Output format: one line per check, or `{"checks": [{"name", "status", "detail", "fix"}]}`.
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    pub format: DoctorFormat,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DoctorFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do; `None` when there is nothing to do.
    pub fix: Option<String>,
    /// The failure is GitHub's own (5xx, timeouts after retries), not something the user can
    /// fix: exit 3 rather than 2.
    #[serde(skip)]
    pub remote: bool,
}

/// Every check that ran, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    fn push(&mut self, name: &'static str, status: Status, detail: String, fix: Option<String>) {
        self.checks.push(Check {
            name,
            status,
            detail,
            fix,
            remote: false,
        });
    }

    fn ok(&mut self, name: &'static str, detail: impl Into<String>) {
        self.push(name, Status::Ok, detail.into(), None);
    }

    fn warn(&mut self, name: &'static str, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Warn, detail.into(), Some(fix.into()));
    }

    fn fail(&mut self, name: &'static str, detail: impl Into<String>, fix: impl Into<String>) {
        self.push(name, Status::Fail, detail.into(), Some(fix.into()));
    }

    /// A GitHub error no more specific advice applies to: GitHub's own failures count as
    /// remote (exit 3); the rest carry their own advice in the message.
    fn github_error(&mut self, name: &'static str, what: &str, err: &GitHubError) {
        let remote = !err.is_user_fixable();
        let fix = if remote {
            format!(
                "GitHub failed after retries; try again in a few minutes (GitHub's status: {GITHUB_STATUS})"
            )
        } else {
            "see the message: it names the problem".to_owned()
        };
        self.checks.push(Check {
            name,
            status: Status::Fail,
            detail: format!("{what}: {err}"),
            fix: Some(fix),
            remote,
        });
    }

    /// 2 when a check the user can fix failed, else 3 when GitHub failed, else 0.
    pub fn exit_code(&self) -> u8 {
        let failed = |remote| {
            self.checks
                .iter()
                .any(|c| c.status == Status::Fail && c.remote == remote)
        };
        if failed(false) {
            EXIT_INPUT
        } else if failed(true) {
            EXIT_REMOTE
        } else {
            0
        }
    }

    /// One line per check (`ok`, `warn`, `FAIL`), the fix indented below a problem, and a
    /// summary. Control characters from GitHub's answers are replaced.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let label = match c.status {
                Status::Ok => "ok",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            let _ = writeln!(out, "{label:<4}  {}: {}", c.name, clean(&c.detail));
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "      fix: {}", clean(fix));
            }
        }
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        let (failed, warned) = (count(Status::Fail), count(Status::Warn));
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let summary = match (failed, warned) {
            (0, 0) => "doctor: all checks passed".to_owned(),
            (0, w) => format!("doctor: no failures, {}", plural(w, "warning")),
            (f, w) => format!(
                "doctor: {} failed, {}",
                plural(f, "check"),
                plural(w, "warning")
            ),
        };
        out.push_str(&summary);
        out.push('\n');
        out
    }

    pub fn render_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_owned());
        json.push('\n');
        json
    }
}

/// Replaces control characters, so text from GitHub (hook URLs, messages) cannot drive the
/// terminal.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Where the public URL came from, for the advice when no webhook matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlSource {
    Flag,
    Env,
    Default,
}

/// What to check, once the arguments are validated.
#[derive(Clone, Debug)]
pub struct Options {
    pub repo: Option<String>,
    /// The payload URL Nectr's webhook must send to.
    pub target: String,
    pub public_url: String,
    pub url_source: UrlSource,
    pub redeliver: bool,
}

pub fn run(args: DoctorArgs) -> Result<u8> {
    let repo = args.repo.as_deref().map(parse_repo).transpose()?;
    let env_url = std::env::var("NECTR_PUBLIC_URL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (public_url, url_source) = match (args.url, env_url) {
        (Some(url), _) => (url, UrlSource::Flag),
        (None, Some(url)) => (url, UrlSource::Env),
        (None, None) => (DEFAULT_PUBLIC_URL.to_owned(), UrlSource::Default),
    };
    let target = payload_url(&public_url)?;
    let options = Options {
        repo,
        target,
        public_url,
        url_source,
        redeliver: args.redeliver,
    };
    let report = super::runtime()?.block_on(diagnose(&options));
    super::print_stdout(&match args.format {
        DoctorFormat::Text => report.render_text(),
        DoctorFormat::Json => report.render_json(),
    })?;
    Ok(report.exit_code())
}

/// Runs every check against the GitHub at `GITHUB_API_URL` with the usual token.
pub async fn diagnose(options: &Options) -> Report {
    let mut report = Report::default();
    let Some((token, source)) = token::resolve(None) else {
        report.fail(
            "token",
            "no GitHub token: GITHUB_TOKEN is not set, `gh auth token` gave none, GITHUB_PAT is not set",
            format!(
                "create a token at {}/settings/tokens/new?scopes=repo (classic, scope `repo`) and set GITHUB_TOKEN, or run `gh auth login`",
                server_url()
            ),
        );
        return report;
    };
    let api = api_url();
    let gh = match connect(&api, Some(&token)) {
        Ok(gh) => gh,
        Err(e) => {
            report.fail(
                "token",
                format!("cannot use GITHUB_API_URL `{api}`: {e}"),
                "set GITHUB_API_URL to GitHub's REST API base (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server)",
            );
            return report;
        }
    };
    let Some(login) = check_token(&mut report, &gh, &token, source).await else {
        return report;
    };
    check_rate_limit(&mut report, &gh).await;
    check_models(&mut report).await;
    if let Some(repo) = &options.repo {
        check_repository(&mut report, &gh, repo, login.as_deref(), options).await;
    }
    report
}

/// The token and its scopes. `None`: stop (nothing else can work); `Some(None)`: the token
/// works but GitHub does not say whose it is (App installation tokens).
async fn check_token(
    report: &mut Report,
    gh: &GitHub,
    token: &str,
    source: TokenSource,
) -> Option<Option<String>> {
    let kind = token_kind(token);
    let from = source.describe();
    match gh.current_user_scopes().await {
        Ok((user, scopes)) => {
            report.ok(
                "token",
                format!("{kind} from {from}, valid: signed in as {}", user.login),
            );
            let (status, detail, fix) = assess_scopes(scopes.as_deref(), token);
            report.push("scopes", status, detail, fix);
            Some(Some(user.login))
        }
        Err(GitHubError::Unauthorized { .. }) => {
            report.fail(
                "token",
                format!(
                    "GitHub rejected {kind} from {from} (401 Bad credentials): it is invalid, expired or revoked"
                ),
                format!(
                    "create a new token at {}/settings/tokens/new?scopes=repo (or run `gh auth login`) and set it as {}",
                    server_url(),
                    match source {
                        TokenSource::GithubPatEnv => "GITHUB_PAT",
                        TokenSource::GhCli => "your `gh` login",
                        _ => "GITHUB_TOKEN",
                    }
                ),
            );
            None
        }
        Err(GitHubError::Forbidden { message, .. }) => {
            report.warn(
                "token",
                format!(
                    "{kind} from {from} cannot read its own user (403: {message}); GitHub App installation tokens (like the Actions GITHUB_TOKEN) cannot"
                ),
                "nothing to do for an App token; the checks below show what it can reach. Use a personal token to see its login and scopes",
            );
            report.ok(
                "scopes",
                "unknown: GitHub lists no OAuth scopes for this token; the repository checks exercise its permissions",
            );
            Some(None)
        }
        Err(e) => {
            report.github_error("token", "checking the token (GET /user)", &e);
            None
        }
    }
}

/// What kind of token this is, from GitHub's documented prefixes; never the token itself.
pub fn token_kind(token: &str) -> &'static str {
    match token {
        t if t.starts_with("github_pat_") => "a fine-grained personal access token",
        t if t.starts_with("ghp_") => "a classic personal access token",
        t if t.starts_with("gho_") => "an OAuth token",
        t if t.starts_with("ghs_") => "a GitHub App installation token",
        t if t.starts_with("ghu_") => "a GitHub App user token",
        _ => "the token",
    }
}

/// Tokens whose permissions are not OAuth scopes: GitHub sends no (or an empty)
/// `X-OAuth-Scopes` for them.
fn has_no_scopes_by_design(token: &str) -> bool {
    ["github_pat_", "ghs_", "ghu_"]
        .iter()
        .any(|p| token.starts_with(p))
}

/// The scopes check: `repo` is needed; `public_repo` alone is a warning; tokens without
/// OAuth scopes (fine-grained, GitHub App) are fine, with a note on what they need.
pub fn assess_scopes(scopes: Option<&[String]>, token: &str) -> (Status, String, Option<String>) {
    let new_token = format!(
        "`gh auth refresh -s repo`, or a classic token with the `repo` scope from {}/settings/tokens/new?scopes=repo, set as GITHUB_TOKEN",
        server_url()
    );
    let scopes = match scopes {
        Some(list) if !(list.is_empty() && has_no_scopes_by_design(token)) => list,
        _ => {
            return (
                Status::Ok,
                "GitHub lists no OAuth scopes for this token (a fine-grained or GitHub App token has permissions instead); it needs Contents: read, Pull requests and Issues: read and write, and Webhooks: read and write for `doctor --repo` and `webhook`".to_owned(),
                None,
            );
        }
    };
    let listed = if scopes.is_empty() {
        "none".to_owned()
    } else {
        scopes.join(", ")
    };
    if scopes.iter().any(|s| s == "repo") {
        (Status::Ok, format!("{listed} (includes `repo`)"), None)
    } else if scopes.iter().any(|s| s == "public_repo") {
        (
            Status::Warn,
            format!(
                "{listed}: `public_repo` reaches public repositories only; private ones need `repo`"
            ),
            Some(format!("for private repositories: {new_token}")),
        )
    } else {
        (
            Status::Fail,
            format!(
                "{listed}: Nectr needs the `repo` scope to read pull requests and post reviews"
            ),
            Some(new_token),
        )
    }
}

async fn check_rate_limit(report: &mut Report, gh: &GitHub) {
    match gh.rate_limit_status().await {
        Ok(Some(core)) => {
            let (status, detail, fix) = assess_rate_limit(&core, unix_now());
            report.push("rate_limit", status, detail, fix);
        }
        Ok(None) => report.ok("rate_limit", "rate limiting is turned off on this server"),
        Err(e) => report.github_error("rate_limit", "reading the rate limit (GET /rate_limit)", &e),
    }
}

/// Headroom: a warning under a tenth of the limit, and when it is used up.
pub fn assess_rate_limit(core: &RateLimitResource, now: u64) -> (Status, String, Option<String>) {
    let secs = core.reset.saturating_sub(now);
    let minutes = if secs == 0 {
        0
    } else {
        secs.div_ceil(60).min((secs + 30) / 60).max(1)
    };
    let reset = format!("resets at {} (in {minutes} min)", utc(core.reset));
    let detail = format!(
        "{} of {} requests left this hour; {reset}",
        core.remaining, core.limit
    );
    let share =
        "other tools using this token share the limit; a GitHub App installation gets a higher one";
    if core.remaining == 0 {
        (
            Status::Warn,
            format!("used up: {detail}"),
            Some(format!(
                "wait until {}: GitHub refuses Nectr's requests until then; {share}",
                utc(core.reset)
            )),
        )
    } else if core.remaining.saturating_mul(10) < core.limit {
        (
            Status::Warn,
            format!("low: {detail}"),
            Some(format!(
                "a review takes a few dozen requests; wait for the reset or lower the load ({share})"
            )),
        )
    } else {
        (Status::Ok, detail, None)
    }
}

async fn check_repository(
    report: &mut Report,
    gh: &GitHub,
    repo: &str,
    login: Option<&str>,
    options: &Options,
) {
    let info: RepoInfo = match gh.repo(repo).await {
        Ok(info) => info,
        Err(GitHubError::NotFound { .. }) => {
            report.fail(
                "repository",
                format!("{repo} was not found, or the token cannot see it"),
                "check OWNER/NAME; for a private repository the token needs the `repo` scope (classic) or access to the repository (fine-grained token, GitHub App)",
            );
            return;
        }
        Err(e) => {
            report.github_error("repository", &format!("reading {repo}"), &e);
            return;
        }
    };
    let who = login.unwrap_or("the token");
    let access = match &info.permissions {
        Some(p) if p.admin => format!("{who} is an admin"),
        Some(p) if p.push => format!("{who} can push but is not an admin"),
        Some(_) => format!("{who} can read but is not an admin"),
        None => "access level not reported".to_owned(),
    };
    let visibility = if info.private { "private" } else { "public" };
    report.ok(
        "repository",
        format!("{} ({visibility}) is reachable; {access}", info.full_name),
    );
    let not_admin = info.permissions.as_ref().is_some_and(|p| !p.admin);

    let hooks = match gh.list_hooks(repo).await {
        Ok(hooks) => hooks,
        Err(e) => {
            refused_or_failed(
                report,
                "webhook",
                "list the webhooks",
                repo,
                who,
                not_admin,
                &e,
            );
            return;
        }
    };
    let Some(hook) = find_hook(&hooks, &options.target) else {
        report.fail("webhook", missing_hook_detail(repo, &hooks, &options.target), {
            let mut fix = format!(
                "run `nectr webhook install --repo {repo} --url {}`, or connect {repo} in Nectr's dashboard",
                options.public_url.trim_end_matches('/')
            );
            if options.url_source == UrlSource::Default {
                fix.push_str(
                    "; NECTR_PUBLIC_URL is not set, so doctor looked for the default localhost URL: pass --url with the server's public URL",
                );
            }
            fix
        });
        return;
    };
    report.ok(
        "webhook",
        format!("hook {} sends to {}", hook.id, options.target),
    );
    check_hook_config(report, repo, hook);
    check_deliveries(report, gh, repo, hook, who, not_admin, options).await;
}

/// A refused hooks request (403, or the 404 GitHub gives instead): reading webhooks needs
/// admin rights. Anything else is reported as it is.
fn refused_or_failed(
    report: &mut Report,
    name: &'static str,
    what: &str,
    repo: &str,
    who: &str,
    not_admin: bool,
    err: &GitHubError,
) {
    let status = match err {
        GitHubError::Forbidden { message, .. } => format!("403: {message}"),
        GitHubError::NotFound { .. } => "404".to_owned(),
        other => {
            report.github_error(name, &format!("trying to {what} of {repo}"), other);
            return;
        }
    };
    let admin = if not_admin {
        format!(", and {who} is not an admin of {repo}")
    } else {
        String::new()
    };
    report.fail(
        name,
        format!(
            "GitHub refused to {what} of {repo} ({status}): reading webhooks needs admin rights on the repository{admin}"
        ),
        "run doctor with a token of a repository admin (classic scope `repo` or `admin:repo_hook`; fine-grained: Webhooks read and write), or ask an admin to check Settings → Webhooks",
    );
}

fn normalize_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Nectr's hook: the one whose config URL is `target` (compared without case and trailing
/// slash).
pub fn find_hook<'a>(hooks: &'a [Hook], target: &str) -> Option<&'a Hook> {
    let target = normalize_url(target);
    hooks.iter().find(|h| {
        h.config
            .url
            .as_deref()
            .is_some_and(|u| normalize_url(u) == target)
    })
}

/// A hook URL safe to print: no credentials, no query, and for hooks that are not Nectr's
/// only the host — other services (chat, CI) often put a secret in the path.
pub fn display_url(url: &str) -> String {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let prefix = if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    };
    if path.trim_end_matches('/').ends_with(WEBHOOK_PATH) {
        format!("{prefix}{path}")
    } else if path.is_empty() || path == "/" {
        prefix
    } else {
        format!("{prefix}/…")
    }
}

fn missing_hook_detail(repo: &str, hooks: &[Hook], target: &str) -> String {
    if hooks.is_empty() {
        return format!("no webhook of {repo} sends to {target}: the repository has no webhooks");
    }
    let listed: Vec<String> = hooks
        .iter()
        .map(|h| {
            format!(
                "hook {} → {} ({}{})",
                h.id,
                h.config
                    .url
                    .as_deref()
                    .map(display_url)
                    .unwrap_or_else(|| "no URL".to_owned()),
                if h.events.is_empty() {
                    "no events".to_owned()
                } else {
                    h.events.join(", ")
                },
                if h.active { "" } else { "; inactive" }
            )
        })
        .collect();
    let mut detail = format!(
        "no webhook of {repo} sends to {target}; its webhooks: {}",
        listed.join("; ")
    );
    if let Some(moved) = hooks.iter().find(|h| {
        h.config
            .url
            .as_deref()
            .is_some_and(|u| u.trim_end_matches('/').ends_with(WEBHOOK_PATH))
    }) {
        let _ = write!(
            detail,
            ". Hook {} sends to Nectr's path on another server: if the server moved, update its URL on GitHub or pass the URL it uses with --url",
            moved.id
        );
    }
    detail
}

/// Active, JSON, TLS verified, the events Nectr needs.
fn check_hook_config(report: &mut Report, repo: &str, hook: &Hook) {
    let edit = format!(
        "edit hook {} in {repo}'s Settings → Webhooks, or reconnect {repo} in Nectr's dashboard",
        hook.id
    );
    if hook.active {
        report.ok("webhook.active", "active");
    } else {
        report.fail(
            "webhook.active",
            "inactive: GitHub sends it no events",
            format!("{edit} (tick Active)"),
        );
    }
    let content_type = hook.config.content_type.as_deref().unwrap_or("form");
    if content_type == "json" {
        report.ok("webhook.content_type", "json");
    } else {
        report.fail(
            "webhook.content_type",
            format!("{content_type}: Nectr's receiver reads JSON payloads only"),
            format!("{edit} (Content type: application/json)"),
        );
    }
    match hook.config.insecure_ssl.as_deref().map(str::trim) {
        Some("0") | None => report.ok("webhook.insecure_ssl", "\"0\": TLS certificates are verified"),
        Some(other) => report.fail(
            "webhook.insecure_ssl",
            format!(
                "{other:?}: GitHub does not verify the server's TLS certificate, so anyone on the path can read or forge deliveries"
            ),
            format!("{edit} (SSL verification: Enable)"),
        ),
    }
    let missing = missing_events(&hook.events);
    if missing.is_empty() {
        report.ok("webhook.events", hook.events.join(", "));
    } else {
        let sent = if hook.events.is_empty() {
            "none".to_owned()
        } else {
            hook.events.join(", ")
        };
        report.fail(
            "webhook.events",
            format!(
                "sends {sent}; missing {}: Nectr reviews on pull_request, reads issues and answers comments",
                missing.join(", ")
            ),
            format!("{edit} (events: Pull requests, Issues, Issue comments, Pull request review comments)"),
        );
    }
}

/// The events Nectr needs that the hook does not send (`*` sends everything).
pub fn missing_events(events: &[String]) -> Vec<&'static str> {
    if events.iter().any(|e| e == "*") {
        return Vec::new();
    }
    WEBHOOK_EVENTS
        .iter()
        .copied()
        .filter(|needed| !events.iter().any(|e| e == needed))
        .collect()
}

/// What the recent deliveries say.
#[derive(Debug, PartialEq, Eq)]
pub struct DeliveryHealth<'a> {
    /// Deliveries inspected.
    pub total: usize,
    /// Attempts that failed (non-2xx, or no connection).
    pub failed_attempts: usize,
    /// Failed deliveries no later attempt (a redelivery, same GUID) got through, newest first;
    /// one per GUID: the ones to redeliver.
    pub undelivered: Vec<&'a HookDelivery>,
    /// Status codes (0: no connection) and how often, most frequent first.
    pub codes: Vec<(u16, usize)>,
    /// The newest delivery.
    pub latest: Option<&'a HookDelivery>,
}

fn succeeded(d: &HookDelivery) -> bool {
    matches!(d.status_code, Some(200..=299))
}

pub fn delivery_health(deliveries: &[HookDelivery]) -> DeliveryHealth<'_> {
    let mut newest_first: Vec<&HookDelivery> = deliveries.iter().collect();
    newest_first.sort_by_key(|d| std::cmp::Reverse(d.id));
    let key = |d: &HookDelivery| d.guid.clone().unwrap_or_else(|| format!("#{}", d.id));
    let mut undelivered: Vec<&HookDelivery> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for d in newest_first.iter().copied().filter(|d| !succeeded(d)) {
        let k = key(d);
        let got_through = newest_first
            .iter()
            .any(|other| succeeded(other) && key(other) == k);
        if !got_through && seen.insert(k) {
            undelivered.push(d);
        }
    }
    let mut codes: Vec<(u16, usize)> = Vec::new();
    for d in &newest_first {
        let code = d.status_code.unwrap_or(0);
        match codes.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => codes.push((code, 1)),
        }
    }
    codes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    DeliveryHealth {
        total: newest_first.len(),
        failed_attempts: newest_first.iter().filter(|d| !succeeded(d)).count(),
        undelivered,
        codes,
        latest: newest_first.first().copied(),
    }
}

/// `delivery 12 (pull_request.opened) got 500 at 2024-01-01T00:00:00Z`.
fn describe_delivery(d: &HookDelivery) -> String {
    let event = match (&d.event, &d.action) {
        (Some(e), Some(a)) => format!("{e}.{a}"),
        (Some(e), None) => e.clone(),
        _ => "event".to_owned(),
    };
    let outcome = match d.status_code {
        None | Some(0) => "no connection".to_owned(),
        Some(code) => format!("got {code}"),
    };
    let at = d.delivered_at.as_deref().unwrap_or("an unknown time");
    format!("delivery {} ({event}) {outcome} at {at}", d.id)
}

/// What a failed delivery's status code usually means, and what to do.
pub fn failure_advice(code: Option<u16>, target: &str) -> String {
    match code.unwrap_or(0) {
        0 => format!(
            "GitHub could not connect to {target}: make sure `nectr serve` is running and reachable from the internet at that URL (localhost never is)"
        ),
        400 => "the server could not read the payload: the webhook must send JSON (Content type: application/json)".to_owned(),
        401 => "the server refused the signature: the webhook's secret differs from the server's (the repository's stored secret, or GITHUB_WEBHOOK_SECRET); reconnect the repository in Nectr's dashboard to set a new secret on both sides".to_owned(),
        403 => "the server refused the delivery: the repository in the payload is not the one the webhook was connected for; reconnect the repository in Nectr's dashboard".to_owned(),
        404 | 405 => format!(
            "nothing receives webhooks at {target}: check the public URL (NECTR_PUBLIC_URL) and any proxy in front of the server"
        ),
        413 => "the payload was larger than the server (or a proxy in front of it) accepts".to_owned(),
        500..=599 => "the server (or a proxy in front of it) failed: check its logs, and its database".to_owned(),
        _ => "the server rejected the delivery: check its logs".to_owned(),
    }
}

async fn check_deliveries(
    report: &mut Report,
    gh: &GitHub,
    repo: &str,
    hook: &Hook,
    who: &str,
    not_admin: bool,
    options: &Options,
) {
    let deliveries = match gh.hook_deliveries(repo, hook.id, RECENT_DELIVERIES).await {
        Ok(d) => d,
        Err(e) => {
            refused_or_failed(
                report,
                "deliveries",
                &format!("list the deliveries of hook {}", hook.id),
                repo,
                who,
                not_admin,
                &e,
            );
            return;
        }
    };
    let health = delivery_health(&deliveries);
    let Some(latest) = health.latest else {
        report.ok(
            "deliveries",
            "none yet: GitHub delivers when a pull request or issue changes",
        );
        return;
    };
    let codes = health
        .codes
        .iter()
        .map(|(code, n)| format!("{code}×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let last_n = format!(
        "the last {} deliver{}",
        health.total,
        if health.total == 1 { "y" } else { "ies" }
    );
    if health.undelivered.is_empty() {
        let recovered = if health.failed_attempts > 0 {
            format!(
                "; {} failed attempt{} got through on redelivery",
                health.failed_attempts,
                if health.failed_attempts == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        report.ok(
            "deliveries",
            format!(
                "{last_n} got through (status codes: {codes}){recovered}; latest: {}",
                describe_delivery(latest)
            ),
        );
    } else {
        let newest_failure = health.undelivered[0];
        let mut detail = format!(
            "{} of {last_n} failed (status codes: {codes}); {} event{} still undelivered; latest failure: {}",
            health.failed_attempts,
            health.undelivered.len(),
            if health.undelivered.len() == 1 {
                ""
            } else {
                "s"
            },
            describe_delivery(newest_failure),
        );
        if health.undelivered.len() > 1 {
            let named: Vec<String> = health
                .undelivered
                .iter()
                .skip(1)
                .take(NAMED_FAILURES - 1)
                .map(|d| describe_delivery(d))
                .collect();
            let more = health.undelivered.len().saturating_sub(NAMED_FAILURES);
            let _ = write!(detail, "; also: {}", named.join("; "));
            if more > 0 {
                let _ = write!(detail, "; and {more} more");
            }
        }
        let mut fix = failure_advice(newest_failure.status_code, &options.target);
        if options.redeliver {
            fix.push_str("; redelivery is requested below: run doctor again in a minute to see whether they got through");
        } else {
            let _ = write!(
                fix,
                "; then `nectr doctor --repo {repo} --redeliver` asks GitHub to send the failed deliveries again"
            );
        }
        if succeeded(latest) {
            report.warn(
                "deliveries",
                format!("{detail}; the latest delivery got through"),
                fix,
            );
        } else {
            report.fail("deliveries", detail, fix);
        }
    }
    if options.redeliver {
        if health.undelivered.is_empty() {
            report.ok("redeliver", "nothing to redeliver");
        }
        // Oldest first, so the server sees the events in the order they happened.
        for d in health.undelivered.iter().rev() {
            match gh.redeliver(repo, hook.id, d.id).await {
                Ok(()) => report.ok(
                    "redeliver",
                    format!(
                        "asked GitHub to redeliver: {}; see {}/{repo}/settings/hooks/{}?tab=deliveries",
                        describe_delivery(d),
                        server_url().trim_end_matches('/'),
                        hook.id
                    ),
                ),
                Err(e) => {
                    report.github_error("redeliver", &format!("redelivering delivery {}", d.id), &e)
                }
            }
        }
    }
}

/// GitHub Models, when the review would use it: `NECTR_LLM_PROVIDER=github`, or inside
/// Actions with no provider named (the Action's zero-config default), or with
/// `NECTR_GITHUB_MODELS_URL` set. Problems are warnings: the review still runs with the
/// rules.
async fn check_models(report: &mut Report) {
    use crate::llm::github_models::{self, CatalogAnswer};
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let provider = env("NECTR_LLM_PROVIDER").map(|p| p.trim().to_ascii_lowercase());
    let wanted = match provider.as_deref() {
        Some("github") | Some("github-models") => true,
        Some(_) => false,
        None => {
            env("GITHUB_ACTIONS").as_deref() == Some("true")
                || env(github_models::URL_ENV).is_some()
        }
    };
    if !wanted {
        return;
    }
    let zero = github_models::ZeroConfig {
        server_url: env("GITHUB_SERVER_URL"),
    };
    if let Some(reason) = github_models::unavailable_reason(&zero) {
        report.warn("models", reason, "set NECTR_LLM_PROVIDER and NECTR_LLM_API_KEY for another provider, or review with the rules only");
        return;
    }
    let settings = match crate::llm::LlmSettings::resolve(
        &Default::default(),
        crate::llm::Trust::Operator,
        |k| {
            if k == "NECTR_LLM_PROVIDER" {
                Some("github".to_owned())
            } else {
                env(k)
            }
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            report.warn(
                "models",
                e.to_string(),
                "set GITHUB_TOKEN (with `models: read`)",
            );
            return;
        }
    };
    let probe = match github_models::probe(&settings).await {
        Ok(p) => p,
        Err(e) => {
            report.warn("models", e.to_string(), "see the message");
            return;
        }
    };
    let limits = &probe.limits;
    let num = |n: Option<u32>| n.map_or("?".to_owned(), |n| n.to_string());
    let detail_limits = format!(
        "{} input / {} output tokens per request, {} requests a minute, {} a day",
        limits
            .max_input_tokens
            .map_or("?".to_owned(), |n| n.to_string()),
        num(limits.max_output_tokens),
        num(limits.requests_per_minute),
        num(limits.requests_per_day)
    );
    let tier = match &probe.catalog {
        CatalogAnswer::Found(e) => e
            .rate_limit_tier
            .as_deref()
            .map(|t| format!(", tier `{t}` in the catalog"))
            .unwrap_or_default(),
        CatalogAnswer::Unknown => ", not in the catalog".to_owned(),
        CatalogAnswer::Unavailable(why) => {
            format!(", catalog unavailable ({why}): documented defaults")
        }
        CatalogAnswer::Refused(status) => {
            format!(", catalog refused the token ({status}): documented defaults")
        }
    };
    match &probe.call {
        Ok(()) => report.ok(
            "models",
            format!(
                "the token reaches GitHub Models at {}: model `{}`{tier}; {detail_limits}",
                probe.endpoint, probe.model
            ),
        ),
        Err(e) => report.warn(
            "models",
            format!("GitHub Models at {} did not answer model `{}`: {e}", probe.endpoint, probe.model),
            "in a workflow add `permissions: models: read`; the account or organisation must have GitHub Models enabled; reviews run with the rules only until then",
        ),
    }
}

fn server_url() -> String {
    std::env::var("GITHUB_SERVER_URL")
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_owned())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix seconds as `2024-01-01T00:00:00Z`.
pub fn utc(secs: u64) -> String {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX / 2);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::types::HookConfig;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn delivery(id: u64, guid: &str, code: u16) -> HookDelivery {
        HookDelivery {
            id,
            guid: Some(guid.to_owned()),
            delivered_at: Some("2024-01-01T00:00:00Z".to_owned()),
            status_code: Some(code),
            status: None,
            event: Some("pull_request".to_owned()),
            action: None,
            redelivery: false,
        }
    }

    fn hook(id: u64, url: &str) -> Hook {
        Hook {
            id,
            active: true,
            events: strings(&WEBHOOK_EVENTS),
            config: HookConfig {
                url: Some(url.to_owned()),
                content_type: Some("json".to_owned()),
                insecure_ssl: Some("0".to_owned()),
            },
        }
    }

    #[test]
    fn scopes() {
        let (s, _, fix) = assess_scopes(Some(&strings(&["repo", "read:org"])), "ghp_x");
        assert_eq!((s, fix), (Status::Ok, None));
        let (s, detail, fix) = assess_scopes(Some(&strings(&["public_repo"])), "ghp_x");
        assert_eq!(s, Status::Warn);
        assert!(detail.contains("public repositories only"), "{detail}");
        assert!(fix.unwrap().contains("repo"));
        let (s, detail, _) = assess_scopes(Some(&strings(&["read:org"])), "ghp_x");
        assert_eq!(s, Status::Fail);
        assert!(detail.starts_with("read:org"), "{detail}");
        // A classic token with no scopes at all is a failure ...
        assert_eq!(assess_scopes(Some(&[]), "ghp_x").0, Status::Fail);
        // ... but fine-grained and App tokens have no scopes by design, header or not.
        assert_eq!(assess_scopes(Some(&[]), "github_pat_x").0, Status::Ok);
        let (s, detail, _) = assess_scopes(None, "anything");
        assert_eq!(s, Status::Ok);
        assert!(detail.contains("no OAuth scopes"), "{detail}");
    }

    #[test]
    fn token_kinds_never_show_the_token() {
        for token in ["ghp_secret123", "github_pat_secret", "ghs_secret", "secret"] {
            assert!(!token_kind(token).contains("secret"));
        }
        assert_eq!(token_kind("gho_x"), "an OAuth token");
    }

    #[test]
    fn rate_limit_headroom() {
        let now = 1_700_000_000;
        let core = |remaining| RateLimitResource {
            limit: 5000,
            remaining,
            reset: now + 600,
            used: None,
        };
        let (s, detail, fix) = assess_rate_limit(&core(4000), now);
        assert_eq!((s, fix), (Status::Ok, None));
        assert!(detail.contains("4000 of 5000"), "{detail}");
        assert!(detail.contains("in 10 min"), "{detail}");
        assert!(detail.contains("2023-11-14T22:23:20Z"), "{detail}");
        assert_eq!(assess_rate_limit(&core(499), now).0, Status::Warn);
        let (s, detail, fix) = assess_rate_limit(&core(0), now);
        assert_eq!(s, Status::Warn);
        assert!(detail.starts_with("used up"));
        assert!(fix.unwrap().contains("wait until"));
    }

    #[test]
    fn hooks_match_without_case_or_trailing_slash() {
        let hooks = [
            hook(1, "https://ci.example.com/hook"),
            hook(2, "https://Nectr.example.com/api/v1/webhooks/github/"),
        ];
        assert_eq!(
            find_hook(&hooks, "https://nectr.example.com/api/v1/webhooks/github").map(|h| h.id),
            Some(2)
        );
        assert!(find_hook(&hooks, "https://other.example.com/api/v1/webhooks/github").is_none());
    }

    #[test]
    fn foreign_hook_urls_are_not_printed_whole() {
        assert_eq!(
            display_url("https://discord.com/api/webhooks/123/SECRET-TOKEN"),
            "https://discord.com/…"
        );
        assert_eq!(
            display_url("https://user:pass@old.example.com/api/v1/webhooks/github?x=1"),
            "https://old.example.com/api/v1/webhooks/github"
        );
        assert_eq!(
            display_url("https://ci.example.com"),
            "https://ci.example.com"
        );
        let detail = missing_hook_detail(
            "acme/widgets",
            &[hook(7, "https://old.example.com/api/v1/webhooks/github")],
            "https://new.example.com/api/v1/webhooks/github",
        );
        assert!(
            detail.contains("Hook 7 sends to Nectr's path on another server"),
            "{detail}"
        );
    }

    #[test]
    fn events() {
        let mut all = strings(&WEBHOOK_EVENTS);
        all.push("push".into());
        assert!(missing_events(&all).is_empty());
        assert!(missing_events(&strings(&["*"])).is_empty());
        assert_eq!(missing_events(&strings(&["push"])), WEBHOOK_EVENTS.to_vec());
        assert_eq!(
            missing_events(&strings(&["pull_request", "issues"])),
            vec!["issue_comment", "pull_request_review_comment"]
        );
    }

    #[test]
    fn redelivered_failures_are_not_undelivered() {
        let list = [
            delivery(5, "c", 500),
            delivery(4, "a", 200), // a redelivery of 1 that got through
            delivery(3, "b", 502),
            delivery(2, "b", 0), // an older failed attempt of b: redeliver b once
            delivery(1, "a", 500),
        ];
        let health = delivery_health(&list);
        assert_eq!(health.total, 5);
        assert_eq!(health.failed_attempts, 4);
        assert_eq!(
            health.undelivered.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![5, 3]
        );
        assert_eq!(health.latest.map(|d| d.id), Some(5));
        assert_eq!(health.codes[0], (500, 2));
        assert!(delivery_health(&[]).latest.is_none());
    }

    #[test]
    fn exit_codes() {
        let mut report = Report::default();
        report.ok("a", "fine");
        report.warn("b", "meh", "do x");
        assert_eq!(report.exit_code(), 0);
        report.github_error(
            "c",
            "reading",
            &GitHubError::Unavailable {
                endpoint: "GET /user".into(),
                reason: "502".into(),
            },
        );
        assert_eq!(report.exit_code(), EXIT_REMOTE);
        report.fail("d", "broken", "fix it");
        assert_eq!(report.exit_code(), EXIT_INPUT);
        let text = report.render_text();
        assert!(
            text.contains("FAIL  d: broken\n      fix: fix it\n"),
            "{text}"
        );
        assert!(
            text.ends_with("doctor: 2 checks failed, 1 warning\n"),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
        assert_eq!(json["checks"][0]["status"], "ok");
        assert_eq!(json["checks"][0]["fix"], serde_json::Value::Null);
        assert_eq!(json["checks"][3]["status"], "fail");
        assert!(json["checks"][0].get("remote").is_none());
    }

    #[test]
    fn utc_formats_unix_seconds() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn control_characters_are_replaced() {
        assert_eq!(clean("a\u{1b}[31mb\n"), "a?[31mb?");
    }
}
