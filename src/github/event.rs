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

/// A payload's `repository.full_name` goes into API paths: it must be a name GitHub allows.
fn check_full_name(full_name: &str) -> Result<(), serde_json::Error> {
    super::types::split_full_name(full_name).map_err(|e| {
        <serde_json::Error as serde::de::Error>::custom(format!("repository.full_name: {e}"))
    })?;
    Ok(())
}

/// Actions on which a pull request is reviewed.
pub const REVIEWED_ACTIONS: [&str; 4] = ["opened", "synchronize", "reopened", "ready_for_review"];

impl PullRequestEvent {
    /// Parse a payload; the error names the missing or malformed field. The repository's
    /// `full_name` must be a name GitHub allows ([`super::types::split_full_name`]): it
    /// goes into API paths.
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let event: PullRequestEvent = serde_json::from_slice(bytes)?;
        check_full_name(&event.repository.full_name)?;
        Ok(event)
    }

    pub fn is_reviewed_action(&self) -> bool {
        REVIEWED_ACTIONS.contains(&self.action.as_str())
    }
}

/// The events that carry a comment on a pull request: the conversation (`issue_comment`, also
/// sent for issues) and inline threads on the diff (`pull_request_review_comment`).
pub const COMMENT_EVENTS: [&str; 2] = ["issue_comment", "pull_request_review_comment"];

/// A comment, as payloads and the comment listings show it (issue and review comments
/// alike; the diff fields are absent on conversation comments).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    /// `OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `FIRST_TIME_CONTRIBUTOR`, `NONE`, …
    #[serde(default)]
    pub author_association: Option<String>,
    /// ISO 8601.
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// Review comments: the first comment of the thread this one replies to.
    #[serde(default)]
    pub in_reply_to_id: Option<u64>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub diff_hunk: Option<String>,
}

impl Comment {
    pub fn text(&self) -> &str {
        self.body.as_deref().unwrap_or("")
    }

    pub fn login(&self) -> &str {
        self.user.as_ref().map(|u| u.login.as_str()).unwrap_or("")
    }

    /// Written by a bot account (`type: Bot`, or a `[bot]` login).
    pub fn by_bot(&self) -> bool {
        self.user.as_ref().is_some_and(User::is_bot)
    }
}

impl User {
    /// A bot account (`type: Bot`, or a `[bot]` login as GitHub gives apps).
    pub fn is_bot(&self) -> bool {
        self.kind.as_deref() == Some("Bot") || self.login.ends_with("[bot]")
    }
}

/// The issue (or pull request) an `issue_comment` is on.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommentedIssue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    /// Present when the issue is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
    #[serde(default)]
    pub state: String,
}

/// An `issue_comment` or `pull_request_review_comment` event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CommentEvent {
    pub action: String,
    pub comment: Comment,
    pub repository: Repository,
    #[serde(default)]
    pub sender: Option<User>,
    /// `issue_comment` only.
    #[serde(default)]
    pub issue: Option<CommentedIssue>,
    /// `pull_request_review_comment` only.
    #[serde(default)]
    pub pull_request: Option<PullRequest>,
}

impl CommentEvent {
    /// Parse a payload; the error names the missing or malformed field. The repository's
    /// name is checked as for [`PullRequestEvent::parse`].
    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let event: CommentEvent = serde_json::from_slice(bytes)?;
        check_full_name(&event.repository.full_name)?;
        Ok(event)
    }

    /// The pull request the comment is on; `None` for a comment on a plain issue.
    pub fn pr_number(&self) -> Option<u64> {
        match (&self.pull_request, &self.issue) {
            (Some(pr), _) => Some(pr.number),
            (None, Some(issue)) if issue.pull_request.is_some() => Some(issue.number),
            _ => None,
        }
    }

    /// An inline comment on the diff (rather than one in the conversation).
    pub fn is_review_comment(&self) -> bool {
        self.pull_request.is_some()
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
    fn comment_events_name_their_pull_request() {
        let issue = br#"{"action":"created","comment":{"id":5,"body":"/nectr help","user":{"login":"dev","type":"User"},"author_association":"MEMBER"},
            "issue":{"number":7,"pull_request":{"url":"x"}},"repository":{"full_name":"o/r"}}"#;
        let e = CommentEvent::parse(issue).unwrap();
        assert_eq!(e.pr_number(), Some(7));
        assert!(!e.is_review_comment() && !e.comment.by_bot());
        let plain = br#"{"action":"created","comment":{"id":5},"issue":{"number":8},"repository":{"full_name":"o/r"}}"#;
        assert_eq!(CommentEvent::parse(plain).unwrap().pr_number(), None);
        let bot = br#"{"action":"created","comment":{"id":5,"user":{"login":"github-actions[bot]"}},"issue":{"number":8},"repository":{"full_name":"o/r"}}"#;
        assert!(CommentEvent::parse(bot).unwrap().comment.by_bot());
        assert!(
            CommentEvent::parse(br#"{"action":"created","repository":{"full_name":"o/r"}}"#)
                .is_err()
        );
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
