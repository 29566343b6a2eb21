//! `nectr backfill --repo OWNER/NAME`: index a repository's recent merged pull requests and
//! its open issues into the knowledge graph, so a new installation starts with history
//! (past PRs per file, co-changes, experts, reverts, issues touching files).

use anyhow::Result;
use clap::Args;

use super::github_review::{api_url, connect, parse_repo};
use crate::context::graph::{GraphSettings, open_graph};
use crate::github::token;
use crate::pipeline::backfill::backfill;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The repository, OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    /// How many of the most recently closed pull requests to look at (merged ones are indexed).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub prs: usize,
    /// How many open issues to index.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub issues: usize,
    /// No progress line on stderr (it shows only when stderr is a terminal anyway).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub fn run(args: BackfillArgs) -> Result<u8> {
    super::runtime()?.block_on(run_async(args))
}

async fn run_async(args: BackfillArgs) -> Result<u8> {
    crate::progress::enable_on_terminal(args.quiet);
    let repo = parse_repo(&args.repo)?;
    let token = token::resolve(None);
    let gh = connect(&api_url(), token.as_ref().map(|(t, _)| t.as_str()))?;
    let settings = GraphSettings::from_env()?;
    let graph = open_graph(&settings).await?;
    let report = backfill(&gh, graph.as_ref(), &repo, args.prs, args.issues).await?;
    eprintln!(
        "nectr: indexed {} merged pull requests and {} open issues of {repo} into the {} knowledge graph",
        report.prs,
        report.issues,
        graph.name()
    );
    Ok(0)
}
