//! Webhook and Actions event payloads: just the fields Nectr uses, parsed leniently.
//!
//! We never use a typed library for these: GitHub adds actions and fields over time, and a
//! strict parser that fails on an unknown `action` would drop a delivery. Unknown fields are
//! ignored; missing required ones are a clear error.

use serde::{Deserialize, Serialize};

/// A repository as it appears in payloads.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Repository {
    pub full_name: String,
    #[serde(default)]
    pub fork: bool,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub default_branch: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct User {
    pub login: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One side of a pull request (`head` or `base`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GitRef {
    #[serde(rename = "ref")]
    pub name: String,
    pub sha: String,
    /// `null` when the fork behind a PR was deleted.
    #[serde(default)]
    pub repo: Option<Repository>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PullRequest {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    pub head: GitRef,
    pub base: GitRef,
    #[serde(default)]
    pub changed_files: Option<u64>,
    #[serde(default)]
    pub additions: Option<u64>,
    #[serde(default)]
    pub deletions: Option<u64>,
    /// ISO 8601, e.g. `2026-11-29T10:00:00Z` (see [`crate::github::types::parse_timestamp`]).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Set once merged; the list endpoint has this but not `merged`.
    #[serde(default)]
    pub merged_at: Option<String>,
}

impl PullRequest {
    /// Does the head branch live in another repository than the base (a fork PR)?
    pub fn is_from_fork(&self) -> bool {
        match (&self.head.repo, &self.base.repo) {
            (Some(head), Some(base)) => head.full_name != base.full_name,
            // A deleted fork: certainly not this repository.
            (None, _) => true,
            _ => false,
        }
    }
}

/// A `pull_request` / `pull_request_target` event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub action: String,
    #[serde(default)]
    pub number: Option<u64>,
    pub pull_request: PullRequest,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
}

/// Actions on which a pull request is reviewed.
pub const REVIEWED_ACTIONS: [&str; 4] = ["opened", "synchronize", "reopened", "ready_for_review"];

impl PullRequestEvent {
    /// Parse a payload; the error names the missing or malformed field. The repository's
    /// `full_name` must be a name GitHub allows ([`super::types::split_full_name`]): it
    /// goes into API paths.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let event: PullRequestEvent = serde_json::from_slice(bytes)?;
        super::types::split_full_name(&event.repository.full_name).map_err(|e| {
            <serde_json::Error as serde::de::Error>::custom(format!("repository.full_name: {e}"))
        })?;
        Ok(event)
    }

    pub fn is_reviewed_action(&self) -> bool {
        REVIEWED_ACTIONS.contains(&self.action.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(action: &str, head_repo: &str) -> String {
        format!(
            r#"{{"action":"{action}","number":7,"pull_request":{{"number":7,"title":"Fix","body":null,
            "state":"open","draft":false,"head":{{"ref":"feature","sha":"abc","repo":{{"full_name":"{head_repo}"}}}},
            "base":{{"ref":"main","sha":"def","repo":{{"full_name":"o/r"}}}},"unknown_field":[1,2]}},
            "repository":{{"full_name":"o/r","private":true}},"sender":{{"login":"dev","type":"User"}},"extra":{{}}}}"#
        )
    }

    #[test]
    fn parses_the_fields_we_use_and_ignores_the_rest() {
        let e = PullRequestEvent::parse(payload("synchronize", "o/r").as_bytes()).unwrap();
        assert_eq!(e.pull_request.number, 7);
        assert_eq!(e.pull_request.head.sha, "abc");
        assert_eq!(e.pull_request.base.name, "main");
        assert!(e.repository.private);
        assert!(e.is_reviewed_action());
        assert!(!e.pull_request.is_from_fork());
    }

    #[test]
    fn unknown_actions_parse_but_are_not_reviewed() {
        let e = PullRequestEvent::parse(payload("some_future_action", "o/r").as_bytes()).unwrap();
        assert!(!e.is_reviewed_action());
    }

    #[test]
    fn fork_detection() {
        let e = PullRequestEvent::parse(payload("opened", "someone/r").as_bytes()).unwrap();
        assert!(e.pull_request.is_from_fork());
        let deleted = payload("opened", "x").replace(r#"{"full_name":"x"}"#, "null");
        let e = PullRequestEvent::parse(deleted.as_bytes()).unwrap();
        assert!(e.pull_request.is_from_fork());
    }

    #[test]
    fn missing_fields_are_errors_naming_them() {
        let err =
            PullRequestEvent::parse(br#"{"action":"opened","repository":{"full_name":"o/r"}}"#)
                .unwrap_err();
        assert!(err.to_string().contains("pull_request"), "{err}");
        assert!(PullRequestEvent::parse(b"not json").is_err());
    }

    #[test]
    fn repository_names_that_leave_the_api_path_are_refused() {
        let evil = payload("opened", "o/r").replace(
            r#""repository":{"full_name":"o/r""#,
            r#""repository":{"full_name":"../../etc/passwd""#,
        );
        let err = PullRequestEvent::parse(evil.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("repository.full_name"), "{err}");
        assert!(err.to_string().contains("OWNER/NAME"), "{err}");
    }
}
