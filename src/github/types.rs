//! GitHub's JSON, as far as Nectr reads or writes it. Only the fields used; unknown ones
//! are ignored so new GitHub fields never break parsing.

use serde::{Deserialize, Serialize};

pub use super::event::{PullRequest, Repository, User};

/// `owner/name` split in two when it is a name GitHub allows, so that it is safe in an API
/// path: exactly one `/`; an owner of 1–39 letters, digits, `-` or `_`; a name of 1–100
/// letters, digits, `.`, `-` or `_` that is not `.` or `..`. Otherwise a one-line reason.
/// Every `owner/name` from outside (an event file, `--repo`, `GITHUB_REPOSITORY`) goes
/// through this before it reaches a URL.
pub fn split_full_name(full_name: &str) -> Result<(&str, &str), String> {
    let bad = || {
        let shown: String = full_name.chars().take(120).collect();
        format!(
            "{shown:?} is not a repository name GitHub allows: use OWNER/NAME (letters, digits, `-`, `_`; the name may also have `.`, but not be `.` or `..`)"
        )
    };
    let (owner, name) = full_name.split_once('/').ok_or_else(bad)?;
    let owner_ok = (1..=39).contains(&owner.len())
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let name_ok = (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if owner_ok && name_ok {
        Ok((owner, name))
    } else {
        Err(bad())
    }
}

/// One entry of `GET /pulls/{n}/files`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrFile {
    pub filename: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub previous_filename: Option<String>,
    #[serde(default)]
    pub additions: u64,
    #[serde(default)]
    pub deletions: u64,
    /// The hunks; absent for binary files and very large patches.
    #[serde(default)]
    pub patch: Option<String>,
}

/// How the head of a comparison relates to its base (`GET /compare/{base}...{head}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompareStatus {
    /// `head` is `base` plus more commits: `base` is an ancestor of `head`.
    Ahead,
    /// `head` is an ancestor of `base`.
    Behind,
    /// Both have commits the other lacks (a rebase or a force-push).
    Diverged,
    Identical,
    /// A status this version of Nectr does not know.
    #[serde(other)]
    Unknown,
}

/// One commit of a comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompareCommit {
    pub sha: String,
}

/// `GET /repos/{o}/{r}/compare/{base}...{head}`: the commits on `head` since the merge base
/// and the files they change (GitHub lists at most [`super::client::MAX_COMPARE_FILES`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub status: CompareStatus,
    #[serde(default)]
    pub ahead_by: u64,
    #[serde(default)]
    pub behind_by: u64,
    #[serde(default)]
    pub total_commits: u64,
    #[serde(default)]
    pub commits: Vec<CompareCommit>,
    /// The changes from the merge base to `head`, with per-file patches.
    #[serde(default)]
    pub files: Vec<PrFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueComment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub html_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewComment {
    pub id: u64,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub line: Option<u32>,
    #[serde(default)]
    pub side: Option<String>,
    #[serde(default)]
    pub pull_request_review_id: Option<u64>,
    #[serde(default)]
    pub html_url: Option<String>,
    /// The reactions' roll-up, which GitHub includes in every comment listing.
    #[serde(default)]
    pub reactions: Option<Reactions>,
}

/// How many people reacted with 👍 and 👎.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reactions {
    #[serde(default, rename = "+1")]
    pub thumbs_up: u32,
    #[serde(default, rename = "-1")]
    pub thumbs_down: u32,
}

/// A submitted review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewInfo {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub commit_id: Option<String>,
}

/// The body of `POST /pulls/{n}/reviews`. `event` is always `COMMENT`: Nectr never
/// approves or requests changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewReview {
    pub commit_id: String,
    pub body: String,
    pub event: &'static str,
    pub comments: Vec<NewReviewComment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NewReviewComment {
    pub path: String,
    pub line: u32,
    pub side: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_side: Option<&'static str>,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Present when the "issue" is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub labels: Vec<Label>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    #[serde(default)]
    pub name: String,
}

/// Seconds since the Unix epoch of GitHub's ISO 8601 timestamps (`2026-11-29T10:00:00Z`,
/// also with fractional seconds or a `+01:00` offset); `None` when malformed.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = t.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset) = if let Some(c) = rest.strip_suffix('Z') {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, o) = rest.split_at(at);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = o[1..].split_once(':')?;
        (c, sign * (num(oh)? * 3600 + num(om)? * 60))
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.split(':');
    let (h, min, s) = (num(c.next()?)?, num(c.next()?)?, num(c.next()?)?);
    if c.next().is_some() || h > 23 || min > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s - offset)
}

#[cfg(test)]
mod timestamp_tests {
    use super::parse_timestamp;

    #[test]
    fn timestamps_parse_like_github_writes_them() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2026-11-29T10:00:00Z"), Some(1_795_946_400));
        assert_eq!(
            parse_timestamp("2024-02-29T12:30:15.123Z"),
            Some(1_709_209_815)
        );
        assert_eq!(
            parse_timestamp("2026-11-29T11:00:00+01:00"),
            Some(1_795_946_400)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-29",
            "2026-11-29T10:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contributor {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub contributions: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookConfig {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// `"0"` (TLS verified) or `"1"`; GitHub documents it as a string *or* a number, so a
    /// number is read as its decimal text.
    #[serde(default, deserialize_with = "string_or_number")]
    pub insecure_ssl: Option<String>,
}

/// An optional field GitHub sends as a string or as a number, read as text.
fn string_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::Bool(b)) => Some(if b { "1" } else { "0" }.to_owned()),
            _ => None,
        },
    )
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub id: u64,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub events: Vec<String>,
    pub config: HookConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookDelivery {
    pub id: u64,
    #[serde(default)]
    pub guid: Option<String>,
    #[serde(default)]
    pub delivered_at: Option<String>,
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub redelivery: bool,
}

/// What the token's user may do in a repository (`permissions` of a repository).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoPermissions {
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub push: bool,
    #[serde(default)]
    pub pull: bool,
}

/// A repository as `GET /repos/{o}/{r}` and `GET /user/repos` return it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoInfo {
    pub full_name: String,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub html_url: Option<String>,
    /// The authenticated user's access; absent for unauthenticated requests and some
    /// GitHub App tokens.
    #[serde(default)]
    pub permissions: Option<RepoPermissions>,
}

/// One resource of `GET /rate_limit` (Nectr reads `resources.core`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitResource {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds when the window resets.
    pub reset: u64,
    #[serde(default)]
    pub used: Option<u64>,
}

#[cfg(test)]
mod hook_tests {
    use super::*;

    #[test]
    fn insecure_ssl_is_read_as_a_string_or_a_number() {
        for (json, expected) in [
            (r#"{"insecure_ssl": "0"}"#, Some("0")),
            (r#"{"insecure_ssl": 1}"#, Some("1")),
            (r#"{"insecure_ssl": null}"#, None),
            (r#"{}"#, None),
        ] {
            let config: HookConfig = serde_json::from_str(json).unwrap();
            assert_eq!(config.insecure_ssl.as_deref(), expected, "{json}");
        }
    }
}

#[cfg(test)]
mod full_name_tests {
    use super::split_full_name;

    #[test]
    fn full_names_are_githubs_or_refused() {
        assert_eq!(split_full_name("octo/hello.rs"), Ok(("octo", "hello.rs")));
        assert_eq!(split_full_name("a_b-1/x_y-z.2"), Ok(("a_b-1", "x_y-z.2")));
        for bad in [
            "../../etc/passwd",
            "octo/..",
            "octo/.",
            "../x",
            "octo/a/b",
            "noslash",
            "/x",
            "x/",
            "octo/a%2Fb",
            "octo/a b",
            "octo/é",
            "o.o/x",
            "octo/x?y=1",
            "octo/x#y",
        ] {
            let e = split_full_name(bad).unwrap_err();
            assert!(e.contains("OWNER/NAME"), "{bad}: {e}");
        }
        assert!(split_full_name(&format!("{}/x", "a".repeat(40))).is_err());
        assert!(split_full_name(&format!("a/{}", "x".repeat(101))).is_err());
    }
}
