//! `nectr action`: the GitHub Actions entry point.
//!
//! Reads the workflow's event and environment, reviews `pull_request` and
//! `pull_request_target` events on opened / synchronize / reopened / ready_for_review, and
//! posts the review. Everything else exits 0 with a one-line notice and writes nothing.
//! Under `pull_request_target` the config comes from the base ref, never the PR head.
//! Fork PRs on `pull_request` get a read-only token: the review is not posted; findings
//! become workflow annotations and the step summary instead.
//!
//! With no LLM provider configured (neither `.nectr.yml` nor `llm-provider`), the review
//! asks GitHub Models with the workflow token (`permissions: models: read`), model
//! `llm-model` or `openai/gpt-4.1-mini`. When GitHub refuses (no entitlement, GHES, a fork's
//! token) or the quota is spent, the review posts with the rules and one line saying why
//! the AI part is missing; the run still exits 0.

mod comment;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::github_review::{api_url, connect, read_event};
use super::review::{FailOn, OutputFormat, exit_code_for};
use crate::error::InputError;
use crate::github::event::PullRequestEvent;
use crate::github::{GitHubError, token};
use crate::pipeline::pr::{
    ConfigSource, PrReviewOutcome, PrReviewRequest, load_config, review_pull_request,
};
use crate::review::finding::Severity;
use crate::review::render::markdown;

#[derive(Debug, Args)]
pub struct ActionArgs {
    /// Exit with code 1 when a finding is at least this severe.
    #[arg(long, value_enum, env = "NECTR_FAIL_ON", default_value_t = FailOn::Never)]
    pub fail_on: FailOn,
    /// A config file in the workspace instead of `.nectr.yml` from the repository.
    #[arg(long, env = "NECTR_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Review and report, but post nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Escape data for a workflow command (`::warning …::data`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a workflow command property value (`file=…,line=…`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `text` inside a `::stop-commands::` block ended by `token`, so no line of it is taken
/// as a workflow command. A token that occurs in `text` would let it end the block early,
/// so the caller's random token is checked (and the block refused) in that case.
pub fn stop_commands(text: &str, token: &str) -> String {
    if text.contains(token) || token.len() < 16 {
        // Cannot happen with a random token; never print the text unguarded.
        return escape_data(text);
    }
    let mut out = format!("::stop-commands::{token}\n");
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("::{token}::\n"));
    out
}

/// 32 hex digits from the OS's random generator.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::getrandom(&mut bytes).is_err() {
        // No OS randomness: a token the text cannot predict still matters more than
        // failing the step; fall back to the process's own seed.
        bytes = fastrand::u128(..).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Tell the workflow (an annotation on stdout) and the log reader (stderr) why nothing
/// happened.
fn notice(message: &str) {
    println!("::notice title=Nectr::{}", escape_data(message));
    eprintln!("nectr: {message}");
}

/// Append `text` to the file a `GITHUB_*` variable names, if it is set.
fn append_to(var: &str, text: &str) -> Result<()> {
    if let Some(path) = env(var) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| InputError(format!("cannot write {var} ({path}): {e}")))?;
        file.write_all(text.as_bytes())?;
    }
    Ok(())
}

/// One annotation per finding, for when the review cannot be posted.
pub fn annotations(outcome: &PrReviewOutcome) -> String {
    let mut out = String::new();
    for f in &outcome.review.findings {
        let level = match f.severity {
            Severity::Critical | Severity::Major => "error",
            Severity::Minor => "warning",
            Severity::Nit => "notice",
        };
        let mut props = format!("file={}", escape_property(&f.path));
        if f.side == crate::diff::Side::Right {
            props.push_str(&format!(",line={}", f.line));
            if let Some(end) = f.end_line.filter(|&e| e > f.line) {
                props.push_str(&format!(",endLine={end}"));
            }
        }
        props.push_str(&format!(
            ",title={}",
            escape_property(&format!("{} [{}]", f.title, f.rule))
        ));
        out.push_str(&format!("::{level} {props}::{}\n", escape_data(&f.body)));
    }
    out
}

pub fn run(args: ActionArgs) -> Result<u8> {
    super::runtime()?.block_on(run_async(args))
}

async fn run_async(args: ActionArgs) -> Result<u8> {
    let event_name = env("GITHUB_EVENT_NAME").unwrap_or_default();
    // Commands and replies in threads (`pipeline::conversation`).
    if crate::pipeline::conversation::is_comment_event(&event_name) {
        return comment::run(&args, &event_name).await;
    }
    if event_name != "pull_request" && event_name != "pull_request_target" {
        notice(&format!(
            "nothing to review: `{}` events are not pull requests (use `on: pull_request`)",
            if event_name.is_empty() {
                "unknown"
            } else {
                &event_name
            }
        ));
        return Ok(0);
    }
    let event_path = env("GITHUB_EVENT_PATH").ok_or_else(|| {
        InputError("GITHUB_EVENT_PATH is not set: `nectr action` runs inside GitHub Actions; use `nectr review --event PATH` elsewhere".into())
    })?;
    let event: PullRequestEvent = read_event(std::path::Path::new(&event_path))?;
    if !event.is_reviewed_action() {
        notice(&format!(
            "nothing to review: pull request #{} was `{}` (Nectr reviews opened, synchronize, reopened and ready_for_review)",
            event.pull_request.number, event.action
        ));
        return Ok(0);
    }
    let (token, _) = token::resolve(None).ok_or_else(|| {
        InputError(
            "no GitHub token: pass `github-token` to the action or set GITHUB_TOKEN for this step"
                .into(),
        )
    })?;
    println!("::add-mask::{token}");
    if let Some(key) = env("NECTR_LLM_API_KEY") {
        println!("::add-mask::{key}");
    }
    let repo = env("GITHUB_REPOSITORY").unwrap_or_else(|| event.repository.full_name.clone());
    crate::github::types::split_full_name(&repo)
        .map_err(|e| InputError(format!("GITHUB_REPOSITORY: {e}")))?;
    let gh = connect(&api_url(), Some(&token))?;
    let pull = event.pull_request.clone();

    // Config: a workspace file if given; else the repository's, from the base ref under
    // pull_request_target (the head is untrusted there) and from the head otherwise.
    let source = match &args.config {
        Some(path) => ConfigSource::File(path.clone()),
        None if event_name == "pull_request_target" => ConfigSource::Repo {
            git_ref: pull.base.sha.clone(),
        },
        None => ConfigSource::Repo {
            git_ref: pull.head.sha.clone(),
        },
    };
    if pull.draft {
        let config = load_config(&gh, &repo, &source).await?;
        if !config.config.review.drafts {
            notice(&format!(
                "nothing to review: pull request #{} is a draft (set `review: {{drafts: true}}` in .nectr.yml to review drafts)",
                pull.number
            ));
            return Ok(0);
        }
    }

    // A fork PR on `pull_request` runs with a read-only token: do not even try to post.
    let read_only = event_name == "pull_request" && pull.is_from_fork();
    let context = std::sync::Arc::new(
        crate::context::ContextSources::open(crate::context::mcp::McpMode::Local).await,
    );
    let request = |dry_run| PrReviewRequest {
        gh: &gh,
        repo: &repo,
        number: pull.number,
        pull: Some(pull.clone()),
        config: Some(source.clone()),
        dry_run,
        identity: None,
        model: None,
        context: Some(context.clone()),
        // The workflow's author controls both the config and the secrets.
        trust: crate::llm::Trust::Operator,
        // No provider configured: GitHub Models with the workflow token (`models: read`).
        zero_config_llm: Some(crate::llm::github_models::ZeroConfig {
            server_url: env("GITHUB_SERVER_URL"),
        }),
        ai_off: None,
        run_id: None,
    };
    let outcome = match review_pull_request(request(args.dry_run || read_only)).await {
        Err(e)
            if e.downcast_ref::<GitHubError>()
                .is_some_and(GitHubError::is_read_only) =>
        {
            eprintln!(
                "nectr: the token cannot write to {repo} (give the workflow `permissions: pull-requests: write`); reporting as annotations instead"
            );
            review_pull_request(request(true)).await?
        }
        other => other?,
    };
    for warning in &outcome.config_warnings {
        println!("::warning title=Nectr config::{}", escape_data(warning));
    }
    let posted = outcome.publication.is_some();
    if !posted {
        print!("{}", annotations(&outcome));
        if read_only {
            notice(
                "fork pull request: the workflow token is read-only, so findings are shown as annotations instead of a review",
            );
        }
    }
    let mut summary = markdown::document_with_summary(outcome.body.clone(), &outcome.review);
    summary.push('\n');
    append_to("GITHUB_STEP_SUMMARY", &summary)?;
    let review_url = super::github_review::review_url(&outcome).unwrap_or_default();
    let critical = outcome
        .review
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    append_to(
        "GITHUB_OUTPUT",
        &format!(
            "findings={}\ncritical={critical}\nreview-url={review_url}\n",
            outcome.review.findings.len()
        ),
    )?;
    // The text names files and quotes lines of the pull request: any of them could read
    // `::warning::…` or `::add-mask::…` at a line start. The runner ignores workflow
    // commands between `::stop-commands::TOKEN` and `::TOKEN::`, and the token is random
    // so the text cannot end the block itself.
    let text = super::github_review::render_outcome(
        &outcome,
        OutputFormat::Text,
        crate::review::render::RenderOptions::default(),
    );
    super::print_stdout(&stop_commands(&text, &random_token()))?;
    if let Some(line) = super::github_review::posted_line(&outcome) {
        println!("nectr: {line}");
    }
    Ok(exit_code_for(&outcome.review, args.fail_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_is_fenced_from_workflow_commands() {
        let token = random_token();
        assert_eq!(token.len(), 32);
        assert_ne!(token, random_token());
        let text = "src/a.py\n::warning::x.py\n::add-mask::y";
        let fenced = stop_commands(text, &token);
        assert!(fenced.starts_with(&format!("::stop-commands::{token}\n")));
        assert!(fenced.ends_with(&format!("::{token}::\n")));
        assert!(fenced.contains("\n::warning::x.py\n"));
        // A text holding the token cannot end the block: it is escaped instead, so no
        // line of it starts a command.
        let sneaky = format!("::{token}::\n::warning::x");
        let out = stop_commands(&sneaky, &token);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
