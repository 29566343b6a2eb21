//! `nectr context --repo OWNER/NAME --pr N`: print the context a review of this pull request
//! would send the model (knowledge-graph answers, memories, MCP results) and what would go
//! into the summary, so users can see why the model said what it said. Reads only.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::github_review::{api_url, connect, parse_repo};
use crate::context::mcp::McpMode;
use crate::context::{self, ContextSources};
use crate::github::token;
use crate::pipeline::context::pr_facts;
use crate::pipeline::pr::{ConfigSource, fetch_diff, load_config, parse_pr_diff};

#[derive(Debug, Args)]
pub struct ContextArgs {
    /// The repository, OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: String,
    /// The pull request number.
    #[arg(long, value_name = "N")]
    pub pr: u64,
    /// Use this config file instead of the repository's `.nectr.yml` at the PR's head.
    #[arg(long, value_name = "PATH", env = "NECTR_CONFIG")]
    pub config: Option<PathBuf>,
}

pub fn run(args: ContextArgs) -> Result<u8> {
    super::runtime()?.block_on(run_async(args))
}

async fn run_async(args: ContextArgs) -> Result<u8> {
    let repo = parse_repo(&args.repo)?;
    let token = token::resolve(None);
    let gh = connect(&api_url(), token.as_ref().map(|(t, _)| t.as_str()))?;
    let pull = gh.pull(&repo, args.pr).await?;
    let diff_text = fetch_diff(&gh, &repo, args.pr).await?;
    let diff = parse_pr_diff(&repo, args.pr, &diff_text)?;
    let source = match args.config {
        Some(path) => ConfigSource::File(path),
        None => ConfigSource::Repo {
            git_ref: pull.head.sha.clone(),
        },
    };
    let config = load_config(&gh, &repo, &source).await?;
    let facts = pr_facts(&repo, &pull, &diff);
    let sources = ContextSources::open(McpMode::Local).await;
    let gathered = context::gather(&sources, &config.config, &facts).await;
    super::print_stdout(&gathered.render_text())?;
    Ok(0)
}
