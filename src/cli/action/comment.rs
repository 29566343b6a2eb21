//! `nectr action` on `issue_comment` and `pull_request_review_comment` events: commands and
//! replies in threads (see `pipeline::conversation`, which does all the work; this is only
//! the Actions environment around it).
//!
//! A comment that is not for Nectr exits 0 with a notice before any token is needed, so a
//! workflow without an `if:` guard costs little. The config comes from the pull request's
//! base (or `--config`): a comment never runs the PR head's config.

use std::sync::Arc;

use anyhow::Result;

use super::{ActionArgs, append_to, env, escape_data, notice};
use crate::cli::github_review::{api_url, connect};
use crate::error::InputError;
use crate::github::event::CommentEvent;
use crate::github::token;
use crate::pipeline::conversation::{self, ConversationRequest, Status};
use crate::pipeline::pr::ConfigSource;

pub(super) async fn run(args: &ActionArgs, event_name: &str) -> Result<u8> {
    let event_path = env("GITHUB_EVENT_PATH").ok_or_else(|| {
        InputError("GITHUB_EVENT_PATH is not set: `nectr action` runs inside GitHub Actions".into())
    })?;
    let bytes = std::fs::read(&event_path)
        .map_err(|e| InputError(format!("cannot read event payload {event_path}: {e}")))?;
    let event = CommentEvent::parse(&bytes).map_err(|e| {
        InputError(format!(
            "{event_path} is not a `{event_name}` event payload: {e}"
        ))
    })?;
    if let Err(reason) = conversation::first_look(&event, &conversation::aliases()) {
        notice(&format!("nothing to do: {reason}"));
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
    let gh = connect(&api_url(), Some(&token))?;
    let context =
        Arc::new(crate::context::ContextSources::open(crate::context::mcp::McpMode::Local).await);
    let outcome = conversation::respond(ConversationRequest {
        gh: &gh,
        repo: &repo,
        event: &event,
        identity: None,
        config: args.config.clone().map(ConfigSource::File),
        model: None,
        context: Some(context),
        dry_run: args.dry_run,
        trust: crate::llm::Trust::Operator,
        zero_config_llm: Some(crate::llm::github_models::ZeroConfig {
            server_url: std::env::var("GITHUB_SERVER_URL").ok(),
        }),
        ai_off: None,
    })
    .await?;
    let url = outcome.reply_url.clone().unwrap_or_default();
    append_to(
        "GITHUB_OUTPUT",
        &format!(
            "reply-url={url}\nconversation={}\n",
            match outcome.status {
                Status::Ignored => "ignored",
                Status::AlreadyAnswered => "already-answered",
                Status::Refused => "refused",
                Status::Limited => "limited",
                Status::Answered => "answered",
            }
        ),
    )?;
    // What was written, and where: the review `/nectr review` posted, then the reply.
    let pr = format!("{repo}#{}", event.pr_number().unwrap_or_default());
    if let Some(review) = outcome
        .requested_review
        .as_ref()
        .and_then(|r| r.0.publication.as_ref())
    {
        let line =
            crate::cli::github_review::describe_publication(&pr, review, review.review_url.clone());
        println!("nectr: {line}");
    }
    let detail = crate::progress::sanitize(&outcome.detail);
    match (&outcome.reply, &outcome.status) {
        (Some(_), _) => {
            println!("::notice title=Nectr::{}", escape_data(&outcome.detail));
            let comment = event.comment.id;
            if url.is_empty() {
                println!(
                    "nectr: dry run, nothing was posted: would reply to comment {comment} on {pr} ({detail})"
                );
            } else {
                println!("nectr: replied to comment {comment} on {pr} ({detail}): {url}");
            }
        }
        (None, Status::AlreadyAnswered) if !url.is_empty() => {
            notice(&format!("nothing to do: {detail}; the reply: {url}"))
        }
        (None, _) => notice(&format!("nothing to do: {detail}")),
    }
    if args.dry_run
        && let Some(reply) = &outcome.reply
    {
        println!("{reply}");
    }
    Ok(0)
}
