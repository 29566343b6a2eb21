//! Backfilling the knowledge graph: a repository's recent merged pull requests and open
//! issues, so a new installation starts with history. Also the conversion of GitHub's
//! issues (from the API or an `issues` webhook event) into graph records.

use anyhow::{Context, Result};

use crate::context::graph::{
    IssueRecord, KnowledgeGraph, PrRecord, fixed_issues, mentioned_paths, revert_of,
};
use crate::github::GitHub;
use crate::github::event::PullRequest;
use crate::github::types::{Issue, parse_timestamp};

/// What a backfill indexed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub prs: usize,
    pub issues: usize,
}

/// Index the merged PRs among the `max_prs` most recently updated closed ones (oldest first,
/// so a revert finds the PR it reverts) and up to `max_issues` open issues.
pub async fn backfill(
    gh: &GitHub,
    graph: &dyn KnowledgeGraph,
    repo: &str,
    max_prs: usize,
    max_issues: usize,
) -> Result<BackfillReport> {
    let mut report = BackfillReport::default();
    let _clear = crate::progress::Finish;
    crate::progress::step(&format!("backfill {repo}: listing closed pull requests"));
    let pulls = gh
        .list_pulls(repo, "closed", max_prs)
        .await
        .with_context(|| format!("cannot list the closed pull requests of {repo}"))?;
    let mut merged: Vec<PullRequest> = pulls
        .into_iter()
        .filter(|p| p.merged_at.is_some())
        .collect();
    merged.sort_by_key(|p| {
        p.merged_at
            .as_deref()
            .and_then(parse_timestamp)
            .unwrap_or(0)
    });
    for (i, pull) in merged.iter().enumerate() {
        crate::progress::update(&format!(
            "backfill {repo}: pull request {}/{} (#{})",
            i + 1,
            merged.len(),
            pull.number
        ));
        let files = gh
            .pull_files(repo, pull.number)
            .await
            .with_context(|| format!("cannot list the files of {repo}#{}", pull.number))?;
        let paths = files.into_iter().map(|f| f.filename).collect();
        graph.index_pr(&pr_record(repo, pull, paths)).await?;
        report.prs += 1;
    }
    crate::progress::step(&format!("backfill {repo}: listing open issues"));
    let issues = gh
        .list_issues(repo, "open", max_issues)
        .await
        .with_context(|| format!("cannot list the open issues of {repo}"))?;
    for issue in &issues {
        graph.index_issue(&issue_record(repo, issue)).await?;
        report.issues += 1;
    }
    Ok(report)
}

/// A PR as the graph records it (without findings: those come from Nectr's own reviews).
pub fn pr_record(repo: &str, pull: &PullRequest, paths: Vec<String>) -> PrRecord {
    let body = pull.body.as_deref().unwrap_or("");
    let merged_at = pull.merged_at.as_deref().and_then(parse_timestamp);
    PrRecord {
        repo: repo.to_owned(),
        number: pull.number,
        title: pull.title.clone(),
        author: pull
            .user
            .as_ref()
            .map(|u| u.login.clone())
            .unwrap_or_default(),
        state: if merged_at.is_some() || pull.merged == Some(true) {
            "merged".into()
        } else {
            pull.state.clone()
        },
        merged_at,
        created_at: pull
            .created_at
            .as_deref()
            .and_then(parse_timestamp)
            .unwrap_or(0),
        base_sha: pull.base.sha.clone(),
        head_sha: pull.head.sha.clone(),
        files: paths,
        fixes_issues: fixed_issues(repo, &format!("{}\n{body}", pull.title)),
        reverts: revert_of(repo, &pull.title, body),
        findings: None,
    }
}

/// An issue as the graph records it.
pub fn issue_record(repo: &str, issue: &Issue) -> IssueRecord {
    IssueRecord {
        repo: repo.to_owned(),
        number: issue.number,
        title: issue.title.clone(),
        state: issue.state.clone(),
        labels: issue.labels.iter().map(|l| l.name.clone()).collect(),
        author: issue
            .user
            .as_ref()
            .map(|u| u.login.clone())
            .unwrap_or_default(),
        body_paths: mentioned_paths(issue.body.as_deref().unwrap_or("")),
        updated_at: issue
            .updated_at
            .as_deref()
            .and_then(parse_timestamp)
            .unwrap_or(0),
    }
}
