//! Posting a review so that it never fails and never duplicates.
//!
//! One run posts one review: the summary (ending in a hidden [`marker::ReviewMarker`] with
//! the head SHA and the fingerprints of the findings) plus an inline comment per anchored
//! finding that is not already on the PR. Re-runs read the markers of Nectr's own earlier
//! reviews (and only Nectr's: markers on anyone else's comments are ignored) to
//! - skip findings whose fingerprint already has an inline comment,
//! - report findings that disappeared as resolved,
//! - edit the previous summary when the head did not move, or mark it superseded when it did.
//!
//! Inline comments come only from anchored findings, so GitHub has no reason to answer 422;
//! if it does anyway, the review is posted again with those comments moved into the
//! summary rather than lost.

pub mod marker;

use std::collections::HashSet;

use crate::diff::{Diff, Side};
use crate::github::types::{NewReview, NewReviewComment, ReviewInfo};
use crate::github::{GitHub, GitHubError};
use crate::review::Review;
use crate::review::finding::Finding;
use crate::review::render::markdown;

use marker::{ReviewMarker, finding_marker, find_finding_marker, fingerprint};

/// GitHub's limit on a review or comment body.
pub const MAX_BODY_CHARS: usize = 65_536;
/// Nectr's own cap on one inline comment: long enough for an explanation and a suggestion.
pub const MAX_INLINE_CHARS: usize = 8_000;

/// Who Nectr posts as, for deciding which markers to trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// A user token: its login.
    User(String),
    /// An installation token (the Actions `GITHUB_TOKEN`): a bot account.
    Bot(String),
}

impl Identity {
    pub fn login(&self) -> &str {
        match self {
            Identity::User(l) | Identity::Bot(l) => l,
        }
    }
}

/// Ask GitHub who the token belongs to. Installation tokens cannot read `/user`; they post
/// as `github-actions[bot]` in Actions.
pub async fn identify(gh: &GitHub) -> Result<Identity, GitHubError> {
    match gh.current_user().await {
        Ok((user, _)) => Ok(Identity::User(user.login)),
        Err(GitHubError::Forbidden { .. }) => Ok(Identity::Bot("github-actions[bot]".to_owned())),
        Err(e) => Err(e),
    }
}

/// What was posted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Publication {
    pub review_id: Option<u64>,
    pub review_url: Option<String>,
    pub inline_comments: usize,
    /// Findings already commented on by an earlier review (not posted again).
    pub already_posted: usize,
    /// Fingerprints of earlier findings that are gone.
    pub resolved: usize,
    /// The previous summary was edited in place (same head) instead of a new review.
    pub updated_previous: bool,
    /// Inline comments GitHub refused (422) and that were moved into the summary.
    pub moved_to_summary: usize,
    /// The summary as posted (or as it would be, in a dry run).
    pub body: String,
}

/// Nectr's latest earlier review on the PR, if any.
#[derive(Clone, Debug)]
struct Previous {
    review: ReviewInfo,
    marker: ReviewMarker,
}

fn written_by(user: &Option<crate::github::types::User>, identity: &Identity) -> bool {
    user.as_ref().is_some_and(|u| u.login == identity.login())
}

/// Cut `text` to at most `max` characters, on a line boundary when possible.
pub fn truncate_body(text: &str, max: usize, note: &str) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let budget = max.saturating_sub(note.chars().count() + 2);
    let cut: String = text.chars().take(budget).collect();
    let cut = match cut.rfind('\n') {
        Some(i) if i > budget / 2 => &cut[..i],
        _ => &cut,
    };
    format!("{cut}\n\n{note}")
}

fn inline_body(finding: &Finding, fp: &str) -> String {
    let body = truncate_body(
        &markdown::inline_comment(finding),
        MAX_INLINE_CHARS,
        "*(comment truncated)*",
    );
    format!("{body}\n{}", finding_marker(fp))
}

fn side_str(side: Side) -> &'static str {
    match side {
        Side::Left => "LEFT",
        Side::Right => "RIGHT",
    }
}

/// The inline comment for an anchored finding: GitHub wants the last line in `line` and
/// the first in `start_line`.
fn new_comment(finding: &Finding, fp: &str) -> NewReviewComment {
    let end = finding.end_line.filter(|&e| e > finding.line);
    NewReviewComment {
        path: finding.path.clone(),
        line: end.unwrap_or(finding.line),
        side: side_str(finding.side),
        start_line: end.map(|_| finding.line),
        start_side: end.map(|_| side_str(finding.side)),
        body: inline_body(finding, fp),
    }
}

/// The review Nectr would post, given what earlier reviews already posted.
pub struct Plan {
    pub body: String,
    pub comments: Vec<NewReviewComment>,
    pub marker: ReviewMarker,
    pub already_posted: usize,
    pub resolved: usize,
}

/// Build the summary and the new inline comments. Pure: no I/O.
pub fn plan(
    review: &Review,
    diff: &Diff<'_>,
    head_sha: &str,
    previous_all: &HashSet<String>,
    posted_inline: &HashSet<String>,
) -> Plan {
    let mut marker = ReviewMarker {
        v: 1,
        head: head_sha.to_owned(),
        ..ReviewMarker::default()
    };
    let mut comments = Vec::new();
    let mut already_posted = 0;
    for finding in &review.findings {
        let fp = fingerprint(finding, diff.file(&finding.path));
        marker.all.push(fp.clone());
        if !finding.anchored {
            continue;
        }
        marker.inline.push(fp.clone());
        if posted_inline.contains(&fp) {
            already_posted += 1;
        } else {
            comments.push(new_comment(finding, &fp));
        }
    }
    let current: HashSet<&String> = marker.all.iter().collect();
    let resolved = previous_all.iter().filter(|fp| !current.contains(fp)).count();

    let mut body = markdown::summary(review);
    if already_posted > 0 {
        body.push_str(&format!(
            "\n> {already_posted} of these already have inline comments from an earlier Nectr review; they are not repeated.\n"
        ));
    }
    if resolved > 0 {
        body.push_str(&format!(
            "\n> ✅ {resolved} finding{} from the previous review {} no longer present.\n",
            if resolved == 1 { "" } else { "s" },
            if resolved == 1 { "is" } else { "are" }
        ));
    }
    Plan {
        body,
        comments,
        marker,
        already_posted,
        resolved,
    }
}

fn finish_body(body: &str, marker: &ReviewMarker) -> String {
    let marker = marker.render();
    let body = truncate_body(
        body,
        MAX_BODY_CHARS - marker.len() - 2,
        "*(summary truncated: GitHub allows 65,536 characters)*",
    );
    format!("{body}\n{marker}")
}

/// Read earlier reviews, plan, and post (or only plan, when `dry_run`). `identity` is
/// resolved lazily: only when an earlier review carries a marker.
pub async fn publish(
    gh: &GitHub,
    repo: &str,
    number: u64,
    head_sha: &str,
    review: &Review,
    diff: &Diff<'_>,
    identity: Option<Identity>,
    dry_run: bool,
) -> Result<Publication, GitHubError> {
    let reviews = gh.list_reviews(repo, number).await?;
    let marked: Vec<(ReviewInfo, ReviewMarker)> = reviews
        .into_iter()
        .filter_map(|r| {
            let m = ReviewMarker::find(r.body.as_deref().unwrap_or(""))?;
            Some((r, m))
        })
        .collect();
    let mut previous: Option<Previous> = None;
    let mut posted_inline = HashSet::new();
    let mut previous_all = HashSet::new();
    if !marked.is_empty() {
        let identity = match identity {
            Some(i) => i,
            None => identify(gh).await?,
        };
        previous = marked
            .into_iter()
            .filter(|(r, _)| written_by(&r.user, &identity))
            .map(|(review, marker)| Previous { review, marker })
            .next_back();
        if let Some(p) = &previous {
            previous_all.extend(p.marker.all.iter().cloned());
            for comment in gh.list_review_comments(repo, number).await? {
                if written_by(&comment.user, &identity)
                    && let Some(fp) = find_finding_marker(&comment.body)
                {
                    posted_inline.insert(fp.to_owned());
                }
            }
        }
    }

    let plan = plan(review, diff, head_sha, &previous_all, &posted_inline);
    let mut publication = Publication {
        inline_comments: plan.comments.len(),
        already_posted: plan.already_posted,
        resolved: plan.resolved,
        body: finish_body(&plan.body, &plan.marker),
        ..Publication::default()
    };
    if dry_run {
        return Ok(publication);
    }

    // Same head, nothing new to say inline: edit the summary in place.
    if let Some(p) = &previous
        && p.marker.head == head_sha
        && plan.comments.is_empty()
    {
        let updated = gh
            .update_review(repo, number, p.review.id, &publication.body)
            .await?;
        publication.review_id = Some(updated.id);
        publication.review_url = updated.html_url.or(p.review.html_url.clone());
        publication.updated_previous = true;
        return Ok(publication);
    }

    let request = NewReview {
        commit_id: head_sha.to_owned(),
        body: publication.body.clone(),
        event: "COMMENT",
        comments: plan.comments.clone(),
    };
    let posted = match gh.create_review(repo, number, &request).await {
        Ok(posted) => posted,
        Err(GitHubError::Unprocessable { message, .. }) if !request.comments.is_empty() => {
            // GitHub refused an inline comment despite the anchoring; post the review
            // anyway, with those comments in the summary.
            eprintln!(
                "warning: GitHub refused the inline comments ({message}); posting them in the summary instead"
            );
            let mut body = plan.body.clone();
            body.push_str("\n#### Comments GitHub would not place inline\n\n");
            for c in &request.comments {
                let shown = c.body.lines().next().unwrap_or_default();
                body.push_str(&format!(
                    "- {}: {}\n",
                    markdown::code_span(&format!("{}:{}", c.path, c.line)),
                    shown
                ));
            }
            let mut marker = plan.marker.clone();
            marker.inline.clear();
            publication.body = finish_body(&body, &marker);
            publication.moved_to_summary = request.comments.len();
            publication.inline_comments = 0;
            let retry = NewReview {
                comments: Vec::new(),
                body: publication.body.clone(),
                ..request
            };
            gh.create_review(repo, number, &retry).await?
        }
        Err(e) => return Err(e),
    };
    publication.review_id = Some(posted.id);
    publication.review_url = posted.html_url.clone();

    if let Some(p) = previous {
        let link = posted
            .html_url
            .as_deref()
            .map(|u| format!("[a newer review]({u})"))
            .unwrap_or_else(|| "a newer review".to_owned());
        let short: String = p.marker.head.chars().take(7).collect();
        let superseded = format!(
            "~~Nectr review of `{short}`~~ — superseded by {link} of `{}`.",
            head_sha.chars().take(7).collect::<String>()
        );
        if let Err(e) = gh.update_review(repo, number, p.review.id, &superseded).await {
            eprintln!("warning: could not mark the previous Nectr review as superseded: {e}");
        }
    }
    Ok(publication)
}
