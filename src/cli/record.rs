//! `nectr record --repo OWNER/NAME --pr N --out DIR`: run the review read-only against
//! GitHub and save the event and every response it used, for `review --replay`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::github_review::{api_url, no_token_error, parse_repo};
use crate::github::GitHub;
use crate::github::bundle::{Bundle, Manifest, RecordingTransport, SCHEMA};
use crate::github::token;
use crate::github::transport::OctocrabTransport;
use crate::pipeline::pr::{PrReviewRequest, review_pull_request};

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    #[arg(long, value_name = "N")]
    pub pr: u64,
    /// The bundle directory to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(args: RecordArgs) -> Result<u8> {
    super::runtime()?.block_on(record(args))
}

async fn record(args: RecordArgs) -> Result<u8> {
    let repo = parse_repo(&args.repo)?;
    let api = api_url();
    let token = token::resolve(None);
    if token.is_none() {
        eprintln!("warning: {}", no_token_error());
    }
    let live = OctocrabTransport::new(&api, token.as_ref().map(|(t, _)| t.as_str()))
        .map_err(|e| crate::error::InputError(e.0))?;
    let recorder = Arc::new(RecordingTransport::new(Box::new(live), &api));
    let gh = GitHub::with_transport(&api, Arc::new(recorder.clone()));
    let outcome = review_pull_request(PrReviewRequest {
        gh: &gh,
        repo: &repo,
        number: args.pr,
        pull: None,
        config: None,
        dry_run: true,
        identity: None,
        model: None,
        zero_config_llm: None,
        ai_off: None,
        run_id: None,
        // A bundle records GitHub only; the context stores are not touched.
        context: None,
        trust: crate::llm::Trust::Operator,
    })
    .await?;
    let event = serde_json::json!({
        "action": "synchronize",
        "number": args.pr,
        "pull_request": outcome.pull,
        "repository": { "full_name": repo },
    });
    let bundle = Bundle {
        manifest: Manifest {
            schema: SCHEMA.to_owned(),
            repo: repo.clone(),
            number: args.pr,
            head_sha: outcome.pull.head.sha.clone(),
        },
        event: serde_json::to_vec_pretty(&event)?,
        // The pull request itself came from the first exchange; replay takes it from
        // event.json, so keep every exchange anyway (a replay never asks twice).
        exchanges: recorder.exchanges(),
    };
    bundle.write(&args.out)?;
    eprintln!(
        "nectr: recorded {repo}#{} ({} GitHub responses, {} findings) to {}",
        args.pr,
        bundle.exchanges.len(),
        outcome.review.findings.len(),
        args.out.display()
    );
    Ok(0)
}
