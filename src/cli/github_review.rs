//! `nectr review --event | --repo/--pr | --replay`: review a pull request on GitHub (or
//! a recorded one) through the shared pipeline, print it, and post it unless told not to.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::review::{FailOn, OutputFormat, ReviewArgs, exit_code_for, use_color};
use crate::context::ContextSources;
use crate::error::InputError;
use crate::github::bundle::{Bundle, REPLAY_API_URL, ReplayTransport};
use crate::github::event::PullRequestEvent;
use crate::github::ratelimit::RetryPolicy;
use crate::github::token;
use crate::github::{GitHub, GitHubError};
use crate::pipeline::pr::{ConfigSource, PrReviewOutcome, PrReviewRequest, review_pull_request};
use crate::review::render::json::{Posted, render_with};
use crate::review::render::{self, Format, RenderOptions, markdown};

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// `GITHUB_API_URL`, or github.com's.
pub fn api_url() -> String {
    std::env::var("GITHUB_API_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
}

/// `owner/name`, checked ([`crate::github::types::split_full_name`]).
pub fn parse_repo(repo: &str) -> Result<String> {
    match crate::github::types::split_full_name(repo.trim()) {
        Ok((owner, name)) => Ok(format!("{owner}/{name}")),
        Err(e) => Err(InputError(format!("--repo: {e}, e.g. `--repo rust-lang/rust`")).into()),
    }
}

/// Read and parse a `pull_request` event payload.
pub fn read_event(path: &std::path::Path) -> Result<PullRequestEvent> {
    let bytes = std::fs::read(path)
        .map_err(|e| InputError(format!("cannot read event payload {}: {e}", path.display())))?;
    PullRequestEvent::parse(&bytes).map_err(|e| {
        InputError(format!(
            "{} is not a pull_request event payload: {e}",
            path.display()
        ))
        .into()
    })
}

/// Connect to GitHub for the CLI and the Action (see [`crate::github::connect_tuned`]).
pub fn connect(api: &str, token: Option<&str>) -> Result<GitHub, GitHubError> {
    crate::github::connect_tuned(api, token)
}

pub fn no_token_error() -> anyhow::Error {
    InputError(
        "no GitHub token: set GITHUB_TOKEN, log in with `gh auth login`, or set GITHUB_PAT (or pass --dry-run to only read a public repository)"
            .to_owned(),
    )
    .into()
}

/// Render a PR review in `format`: the summary is the one posted.
pub fn render_outcome(
    outcome: &PrReviewOutcome,
    format: OutputFormat,
    options: RenderOptions,
) -> String {
    let posted = outcome.publication.as_ref().map(|p| Posted {
        review_id: p.review_id,
        comment_id: None,
        inline_comments: p.inline_comments,
    });
    match Format::from(format) {
        Format::Json => render_with(&outcome.review, outcome.body.clone(), posted.as_ref()),
        Format::Markdown => markdown::document_with_summary(outcome.body.clone(), &outcome.review),
        other => render::render(&outcome.review, other, options),
    }
}

pub fn run(args: ReviewArgs) -> Result<u8> {
    super::runtime()?.block_on(run_async(args))
}

async fn run_async(args: ReviewArgs) -> Result<u8> {
    let format = args.format;
    let fail_on: FailOn = args.fail_on;
    let config = args.config.clone().map(ConfigSource::File);
    let outcome = if let Some(dir) = &args.replay {
        replay(dir, config).await?
    } else {
        let (repo, number, pull) = match (&args.event, &args.repo, args.pr) {
            (Some(path), _, _) => {
                let event = read_event(path)?;
                let number = event.pull_request.number;
                (event.repository.full_name, number, Some(event.pull_request))
            }
            (None, Some(repo), Some(pr)) => (parse_repo(repo)?, pr, None),
            _ => {
                return Err(InputError(
                    "give --event PATH, --repo OWNER/NAME --pr N, or --replay DIR".into(),
                )
                .into());
            }
        };
        let token = token::resolve(None);
        if token.is_none() && !args.dry_run {
            return Err(no_token_error());
        }
        let gh = connect(&api_url(), token.as_ref().map(|(t, _)| t.as_str()))?;
        review_pull_request(PrReviewRequest {
            gh: &gh,
            repo: &repo,
            number,
            pull,
            config,
            dry_run: args.dry_run,
            identity: None,
            model: None,
            zero_config_llm: None,
            ai_off: None,
            run_id: None,
            context: Some(Arc::new(
                ContextSources::open(crate::context::mcp::McpMode::Local).await,
            )),
            trust: crate::llm::Trust::Operator,
        })
        .await?
    };
    for warning in &outcome.config_warnings {
        eprintln!("warning: {warning}");
    }
    match posted_line(&outcome) {
        Some(line) => eprintln!("nectr: {line}"),
        None if args.replay.is_none() && !args.quiet => {
            eprintln!("nectr: {}", dry_run_note(&outcome))
        }
        None => {}
    }
    let options = RenderOptions {
        color: use_color(args.color),
        verbose: args.verbose,
    };
    super::print_stdout(&render_outcome(&outcome, format, options))?;
    Ok(exit_code_for(&outcome.review, fail_on))
}

/// The review's address: GitHub's `html_url`, else the pull request's page with the
/// review's anchor (GitHub omits `html_url` in some answers, e.g. to an edit).
pub fn review_url(outcome: &PrReviewOutcome) -> Option<String> {
    let p = outcome.publication.as_ref()?;
    if let Some(url) = p.review_url.as_deref().filter(|u| !u.is_empty()) {
        return Some(url.to_owned());
    }
    let page = outcome.pull.html_url.clone().unwrap_or_else(|| {
        let server = std::env::var("GITHUB_SERVER_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "https://github.com".to_owned());
        let repo = outcome.review.pr.as_ref().map(|pr| pr.repo.as_str());
        format!(
            "{}/{}/pull/{}",
            server.trim_end_matches('/'),
            repo.unwrap_or_default(),
            outcome.pull.number
        )
    });
    Some(match p.review_id {
        Some(id) => format!("{page}#pullrequestreview-{id}"),
        None => page,
    })
}

/// One line saying what was written to GitHub and where (`None` for a dry run).
pub fn posted_line(outcome: &PrReviewOutcome) -> Option<String> {
    let p = outcome.publication.as_ref()?;
    let pr = format!(
        "{}#{}",
        outcome
            .review
            .pr
            .as_ref()
            .map(|pr| pr.repo.as_str())
            .unwrap_or_default(),
        outcome.pull.number
    );
    Some(describe_publication(&pr, p, review_url(outcome)))
}

/// What a publication wrote on `pr` (`OWNER/NAME#N`) and where, in one line.
pub fn describe_publication(
    pr: &str,
    p: &crate::publish::Publication,
    url: Option<String>,
) -> String {
    if p.silent {
        return format!("no findings on {pr}; nothing posted (`review.on_clean: silent`)");
    }
    let comments = match p.inline_comments {
        1 => "1 inline comment".to_owned(),
        n => format!("{n} inline comments"),
    };
    let mut line = if p.updated_previous {
        format!("updated Nectr's earlier review on {pr} ({comments})")
    } else {
        format!("posted a review on {pr} with {comments}")
    };
    if p.already_posted > 0 {
        line.push_str(&format!(", {} already posted earlier", p.already_posted));
    }
    if p.moved_to_summary > 0 {
        line.push_str(&format!(
            ", {} moved into the summary (GitHub refused them inline)",
            p.moved_to_summary
        ));
    }
    if let Some(url) = url {
        line.push_str(&format!(": {url}"));
    }
    line
}

/// One line saying what a dry run would have posted.
pub fn dry_run_note(outcome: &PrReviewOutcome) -> String {
    let p = &outcome.planned;
    let mut note = format!(
        "dry run, nothing was posted: would post a review on {}#{} with {} inline comment{}",
        outcome
            .review
            .pr
            .as_ref()
            .map(|pr| pr.repo.as_str())
            .unwrap_or_default(),
        outcome.pull.number,
        p.inline_comments,
        if p.inline_comments == 1 { "" } else { "s" },
    );
    if p.already_posted > 0 {
        note.push_str(&format!(
            " ({} already posted by an earlier review)",
            p.already_posted
        ));
    }
    note.push_str(" and the summary shown by `--format markdown`");
    note
}

/// Run the pipeline against a bundle: offline, never writing.
pub async fn replay(dir: &Path, config: Option<ConfigSource>) -> Result<PrReviewOutcome> {
    let bundle = Bundle::read(dir)?;
    let event = PullRequestEvent::parse(&bundle.event).map_err(|e| {
        InputError(format!(
            "{}: event.json is not a pull_request event: {e}",
            dir.display()
        ))
    })?;
    let gh = GitHub::with_transport(
        REPLAY_API_URL,
        Arc::new(ReplayTransport::new(bundle.exchanges)),
    )
    .with_write_gap(std::time::Duration::ZERO)
    // A bundle answers at once or never: retrying (with backoff) cannot help.
    .with_policy(RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    });
    review_pull_request(PrReviewRequest {
        gh: &gh,
        repo: &bundle.manifest.repo,
        number: bundle.manifest.number,
        pull: Some(event.pull_request),
        config,
        dry_run: true,
        identity: None,
        model: None,
        zero_config_llm: None,
        ai_off: None,
        run_id: None,
        // Offline and repeatable: a replay asks no context source and records nothing.
        context: None,
        trust: crate::llm::Trust::Operator,
    })
    .await
    .map_err(|e| {
        // No GitHub was involved: a request the bundle cannot answer is the bundle's
        // problem (exit 2), not a remote failure.
        if e.chain().any(|c| c.is::<GitHubError>()) {
            InputError(format!("replaying {}: {e:#}", dir.display())).into()
        } else {
            e
        }
    })
}
