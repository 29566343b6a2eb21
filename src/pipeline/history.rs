//! Keeping the knowledge graph's history current from webhook events that need no review:
//! `issues` events (opened, edited, closed, labelled, deleted, …) and the `closed` action of
//! `pull_request` events (merged or not).
//!
//! A review indexes its PR as it is then — open. Without the `closed` event the graph would
//! never learn that the PR was merged, and merged PRs are what CO_CHANGED, experts and
//! reverts count. Without `issues` events a review could not say which open issues touch the
//! same files, or link a PR to the issue it fixes.
//!
//! `nectr serve`'s workers claim these events from the queue like reviews. The Action and
//! local runs do not record them: their embedded graph lasts no longer than the run.

use anyhow::{Context, Result};
use serde::Deserialize;

use super::backfill::{issue_record, pr_record};
use crate::context::graph::KnowledgeGraph;
use crate::github::GitHub;
use crate::github::event::{PullRequest, Repository};
use crate::github::types::Issue;

/// Does this event update the graph (rather than ask for a review)?
pub fn records_history(event: &str, action: Option<&str>) -> bool {
    match event {
        "issues" => true,
        "pull_request" => action == Some("closed"),
        _ => false,
    }
}

/// Does indexing this event need to call GitHub (and so a token)? A closed PR's payload
/// does not list its files; an issue's payload is complete.
pub fn needs_github(event: &str) -> bool {
    event == "pull_request"
}

#[derive(Deserialize)]
struct IssuesEvent {
    #[serde(default)]
    action: String,
    issue: Issue,
    repository: Repository,
}

#[derive(Deserialize)]
struct ClosedPullEvent {
    pull_request: PullRequest,
    repository: Repository,
}

/// Index what `payload` (an event [`records_history`] accepts) says. `gh` is needed for a
/// closed PR (its files are listed through the API) and may be `None` for `issues`.
/// Returns one line saying what was recorded.
pub async fn index_event(
    gh: Option<&GitHub>,
    graph: &dyn KnowledgeGraph,
    event: &str,
    payload: &[u8],
    now: i64,
) -> Result<String> {
    match event {
        "issues" => {
            let parsed: IssuesEvent = serde_json::from_slice(payload)
                .context("the stored payload is not an `issues` event")?;
            if parsed.issue.pull_request.is_some() {
                return Ok(format!(
                    "#{} is a pull request; its own events index it",
                    parsed.issue.number
                ));
            }
            let repo = parsed.repository.full_name.as_str();
            let mut record = issue_record(repo, &parsed.issue);
            if matches!(parsed.action.as_str(), "deleted" | "transferred") {
                // Gone from this repository: no longer an open issue here. Stamped now, so
                // this outranks the issue's last edit.
                record.state = "closed".into();
                record.updated_at = record.updated_at.max(now);
            }
            graph.index_issue(&record).await?;
            Ok(format!(
                "issue {repo}#{} ({}) recorded in the knowledge graph",
                record.number, record.state
            ))
        }
        "pull_request" => {
            let parsed: ClosedPullEvent = serde_json::from_slice(payload)
                .context("the stored payload is not a `pull_request` event")?;
            let repo = parsed.repository.full_name.as_str();
            // It goes into an API path: a stored payload is no exception.
            crate::github::types::split_full_name(repo)
                .map_err(<serde_json::Error as serde::de::Error>::custom)
                .context("the stored payload's repository")?;
            let pull = &parsed.pull_request;
            let gh = gh.context("listing a closed pull request's files needs a GitHub token")?;
            let files = gh
                .pull_files(repo, pull.number)
                .await
                .with_context(|| format!("cannot list the files of {repo}#{}", pull.number))?;
            let paths = files.into_iter().map(|f| f.filename).collect();
            let record = pr_record(repo, pull, paths);
            graph.index_pr(&record).await?;
            Ok(format!(
                "pull request {repo}#{} ({}, {} files) recorded in the knowledge graph",
                record.number,
                record.state,
                record.files.len()
            ))
        }
        other => anyhow::bail!("`{other}` events are not indexed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_and_closed_pull_requests_record_history() {
        assert!(records_history("issues", Some("opened")));
        assert!(records_history("issues", Some("deleted")));
        assert!(records_history("pull_request", Some("closed")));
        assert!(!records_history("pull_request", Some("opened")));
        assert!(!records_history("pull_request", None));
        assert!(!records_history("push", None));
        assert!(needs_github("pull_request"));
        assert!(!needs_github("issues"));
    }
}
