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

use std::collections::{HashMap, HashSet};

use crate::diff::{Diff, Side};
use crate::github::types::{NewReview, NewReviewComment, ReviewComment, ReviewInfo};
use crate::github::{GitHub, GitHubError};
use crate::review::finding::Finding;
use crate::review::render::markdown;
use crate::review::{PrRef, Review};

use marker::{
    MAX_MARKED_FINDINGS, MarkedFinding, ReviewMarker, find_finding_marker, finding_marker,
    fingerprint, strip_markers,
};

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
    /// Nothing was posted: the review had no findings and `review.on_clean` is `silent`
    /// (with no earlier summary to edit).
    pub silent: bool,
    /// The summary as posted (or as it would be, in a dry run).
    pub body: String,
}

/// Nectr's latest earlier review of a pull request: the review, its marker, and Nectr's own
/// inline comments on the PR by the fingerprint in their marker.
#[derive(Clone, Debug)]
pub struct PreviousReview {
    pub review: ReviewInfo,
    pub marker: ReviewMarker,
    pub comments: HashMap<String, ReviewComment>,
}

/// What earlier runs left on a pull request, read once per run: the previous review (only
/// Nectr's own) and the identity Nectr posts as, when it had to be resolved to tell.
#[derive(Clone, Debug, Default)]
pub struct Earlier {
    pub identity: Option<Identity>,
    pub previous: Option<PreviousReview>,
}

/// What this run records in its marker for the next one, beyond the findings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunRecord {
    /// The pull request's base branch.
    pub base_ref: Option<String>,
    /// The AI reviewer has now seen the whole pull request at this head.
    pub ai_complete: bool,
    /// `review.on_clean`: whether a review without findings posts a summary.
    pub on_clean: crate::config::OnClean,
    /// The run that posts it (see [`ReviewMarker::run`]).
    pub run: Option<String>,
}

/// Read Nectr's latest earlier review of the PR. `identity` is resolved (`GET /user`) only
/// when some review carries a marker; markers on anyone else's reviews or comments are
/// ignored.
pub async fn earlier_reviews(
    gh: &GitHub,
    repo: &str,
    number: u64,
    identity: Option<Identity>,
) -> Result<Earlier, GitHubError> {
    let reviews = gh.list_reviews(repo, number).await?;
    let marked: Vec<(ReviewInfo, ReviewMarker)> = reviews
        .into_iter()
        .filter_map(|r| {
            let m = ReviewMarker::find(r.body.as_deref().unwrap_or(""))?;
            Some((r, m))
        })
        .collect();
    let mut earlier = Earlier {
        identity,
        previous: None,
    };
    if marked.is_empty() {
        return Ok(earlier);
    }
    let identity = match &earlier.identity {
        Some(i) => i.clone(),
        None => earlier.identity.insert(identify(gh).await?).clone(),
    };
    let Some((review, marker)) = marked
        .into_iter()
        .rfind(|(r, _)| written_by(&r.user, &identity))
    else {
        return Ok(earlier);
    };
    let mut comments = HashMap::new();
    for comment in gh.list_review_comments(repo, number).await? {
        if written_by(&comment.user, &identity)
            && let Some(fp) = find_finding_marker(&comment.body)
        {
            comments.insert(fp.to_owned(), comment.clone());
        }
    }
    earlier.previous = Some(PreviousReview {
        review,
        marker,
        comments,
    });
    Ok(earlier)
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

fn inline_body(finding: &Finding, help: Option<&str>, fp: &str) -> String {
    // Finding text can quote the PR (or come from a model): only Nectr writes markers.
    let body = truncate_body(
        &strip_markers(&markdown::inline_comment(finding, help)),
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
fn new_comment(finding: &Finding, help: Option<&str>, fp: &str) -> NewReviewComment {
    let end = finding.end_line.filter(|&e| e > finding.line);
    NewReviewComment {
        path: finding.path.clone(),
        line: end.unwrap_or(finding.line),
        side: side_str(finding.side),
        start_line: end.map(|_| finding.line),
        start_side: end.map(|_| side_str(finding.side)),
        body: inline_body(finding, help, fp),
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

/// Build the summary and the new inline comments. Pure: no I/O. `previous` is Nectr's
/// latest earlier review, `posted_inline` the fingerprints of its inline comments on the PR.
pub fn plan(
    review: &Review,
    diff: &Diff<'_>,
    head_sha: &str,
    previous: Option<&ReviewMarker>,
    posted_inline: &HashSet<String>,
    record: &RunRecord,
) -> Plan {
    let mut marker = ReviewMarker {
        v: 1,
        head: head_sha.to_owned(),
        base: record.base_ref.clone(),
        ai: record.ai_complete,
        run: record.run.clone(),
        ..ReviewMarker::default()
    };
    let previous_all: HashSet<String> = previous
        .map(|p| p.all.iter().cloned().collect())
        .unwrap_or_default();
    let mut comments = Vec::new();
    let mut already_posted = 0;
    for finding in &review.findings {
        let fp = fingerprint(finding, diff.file(&finding.path));
        if marker.findings.len() < MAX_MARKED_FINDINGS {
            marker.findings.push(MarkedFinding::new(finding, &fp));
        }
        marker.all.push(fp.clone());
        if !finding.anchored {
            continue;
        }
        marker.inline.push(fp.clone());
        if posted_inline.contains(&fp) {
            already_posted += 1;
        } else {
            comments.push(new_comment(
                finding,
                markdown::rule_help(review, finding),
                &fp,
            ));
        }
    }
    let current: HashSet<&String> = marker.all.iter().collect();
    let resolved = previous_all
        .iter()
        .filter(|fp| !current.contains(fp))
        .count();

    let mut relation = previous
        .map(|p| since_previous(p, &marker))
        .unwrap_or_default();
    if already_posted > 0 {
        relation.push_str(&format!(
            "\n{} already commented on in an earlier review; not repeated.\n",
            match already_posted {
                1 => "1 finding was".to_owned(),
                n => format!("{n} findings were"),
            }
        ));
    }
    let body = with_scope_line(
        strip_markers(&markdown::summary_with(review, &relation)),
        review,
        previous.map(|p| p.head.as_str()),
        head_sha,
    );
    Plan {
        body,
        comments,
        marker,
        already_posted,
        resolved,
    }
}

/// The summary with a line under its heading saying, in plain words, what a re-review of
/// a new head looked at: "Reviewed the 2 new commits since the last review (`abc1234`)"
/// when the AI reviewer saw only those, or that the whole pull request was reviewed again
/// (with the count of new commits when GitHub could give it: not after a force-push). Why
/// a re-review covered everything is in the summary's collapsed footer (see
/// `markdown::summary`). `previous_head`: the head of Nectr's previous review.
fn with_scope_line(
    summary: String,
    review: &Review,
    previous_head: Option<&str>,
    head_sha: &str,
) -> String {
    let incremental = review.stats.incremental.as_ref().filter(|i| i.from != i.to);
    let Some(from) = incremental
        .map(|i| i.from.as_str())
        .or(previous_head.filter(|&p| p != head_sha))
    else {
        return summary;
    };
    let since = markdown::code_span(&short_sha(from));
    let commits = review.stats.new_commits.map(|n| match n {
        1 => "the 1 new commit".to_owned(),
        n => format!("the {n} new commits"),
    });
    let line = match (incremental, commits) {
        (Some(inc), commits) => {
            let files = match inc.files {
                0 => "no changed file".to_owned(),
                1 => "the 1 changed file".to_owned(),
                n => format!("the {n} changed files"),
            };
            match commits {
                Some(commits) => format!(
                    "Reviewed {commits} since the last review ({since}): the AI reviewer read {files}, the rule checks the whole pull request.\n"
                ),
                None => format!(
                    "Reviewed what changed since the last review ({since} → {}): the AI reviewer read {files}, the rule checks the whole pull request.\n",
                    markdown::code_span(&short_sha(&inc.to)),
                ),
            }
        }
        (None, Some(commits)) => format!(
            "Reviewed the whole pull request again, with {commits} since the last review ({since}).\n"
        ),
        (None, None) => {
            format!("Reviewed the whole pull request again since the last review ({since}).\n")
        }
    };
    match summary.split_once("\n\n") {
        Some((heading, rest)) => format!("{heading}\n\n{line}\n{rest}"),
        None => format!("{line}\n{summary}"),
    }
}

fn short_sha(sha: &str) -> String {
    sha.chars().take(7).collect()
}

/// How this review relates to the previous one: earlier findings still open, new ones, and
/// the fixed ones (named, when the previous marker recorded them).
fn since_previous(previous: &ReviewMarker, current: &ReviewMarker) -> String {
    let now: HashSet<&str> = current.all.iter().map(String::as_str).collect();
    let before: HashSet<&str> = previous.all.iter().map(String::as_str).collect();
    let open = before.intersection(&now).count();
    let new = now.difference(&before).count();
    let mut seen = HashSet::new();
    let fixed: Vec<&str> = previous
        .all
        .iter()
        .map(String::as_str)
        .filter(|fp| !now.contains(fp) && seen.insert(*fp))
        .collect();
    // Nothing to say: no findings either time, or a re-run on the same head that changed
    // nothing (the summary being edited is the previous review itself).
    if (before.is_empty() && now.is_empty())
        || (previous.head == current.head && fixed.is_empty() && new == 0)
    {
        return String::new();
    }
    let mut parts = Vec::new();
    if !fixed.is_empty() {
        parts.push(format!("{} fixed", fixed.len()));
    }
    if new > 0 {
        parts.push(format!("{new} new"));
    }
    if open > 0 {
        parts.push(format!("{open} still open"));
    }
    // The line under the heading names the last review's commit (see `with_scope_line`).
    let mut out = format!(
        "\nCompared with the last review: {}.\n",
        if parts.is_empty() {
            "no findings then or now".to_owned()
        } else {
            parts.join(", ")
        }
    );
    let named: Vec<&MarkedFinding> = fixed
        .iter()
        .filter_map(|fp| previous.findings.iter().find(|f| f.fp == *fp))
        .collect();
    if named.is_empty() {
        return out;
    }
    out.push_str("\n#### Fixed since the last review\n\n");
    for f in named {
        let location = match f.end {
            Some(end) => format!("{}:{}-{end}", f.path, f.line),
            None => format!("{}:{}", f.path, f.line),
        };
        out.push_str(&format!(
            "- ✅ ~~{} {}~~ {} ({})\n",
            markdown::code_span(&location),
            markdown::inline_text(&f.title),
            f.sev,
            markdown::code_span(&f.rule)
        ));
    }
    out
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

/// The summary (with its marker) listing `unplaced` — inline comments GitHub would not
/// take — at the end; the marker no longer counts them as inline.
fn with_unplaced(plan: &Plan, unplaced: &[NewReviewComment]) -> String {
    let mut body = plan.body.clone();
    body.push_str("\n#### Comments GitHub would not place inline\n\n");
    for c in unplaced {
        let shown = c.body.lines().next().unwrap_or_default();
        body.push_str(&format!(
            "- {}: {}\n",
            markdown::code_span(&format!("{}:{}", c.path, c.line)),
            shown
        ));
    }
    let gone: HashSet<&str> = unplaced
        .iter()
        .filter_map(|c| find_finding_marker(&c.body))
        .collect();
    let mut marker = plan.marker.clone();
    marker.inline.retain(|fp| !gone.contains(fp.as_str()));
    finish_body(&body, &marker)
}

/// Create the review. When GitHub fails without saying whether the review was created (a
/// 5xx or no answer: the client does not re-send a POST blindly), look for it among the
/// PR's reviews by Nectr's identity (same commit, same body, marker included) and send it
/// again only when it is not there.
async fn create_review(
    gh: &GitHub,
    repo: &str,
    number: u64,
    review: &NewReview,
    identity: &mut Option<Identity>,
) -> Result<ReviewInfo, GitHubError> {
    let error = match gh.create_review(repo, number, review).await {
        Err(e @ GitHubError::Unavailable { .. }) => e,
        other => return other,
    };
    crate::error::notice(&format!(
        "warning: {error}; checking whether the review was posted anyway"
    ));
    let Ok(reviews) = gh.list_reviews(repo, number).await else {
        return Err(error);
    };
    let me = match identity {
        Some(i) => i.clone(),
        None => identity.insert(identify(gh).await?).clone(),
    };
    let already = reviews.into_iter().rev().find(|r| {
        written_by(&r.user, &me)
            && r.commit_id.as_deref() == Some(review.commit_id.as_str())
            && r.body.as_deref() == Some(review.body.as_str())
    });
    match already {
        Some(found) => Ok(found),
        None => gh.create_review(repo, number, review).await,
    }
}

/// Read earlier reviews, plan, and post (or only plan, when `dry_run`). `identity` is
/// resolved lazily: only when an earlier review carries a marker.
pub async fn publish(
    gh: &GitHub,
    pr: &PrRef,
    review: &Review,
    diff: &Diff<'_>,
    identity: Option<Identity>,
    dry_run: bool,
) -> Result<Publication, GitHubError> {
    let earlier = earlier_reviews(gh, &pr.repo, pr.number, identity).await?;
    publish_with(
        gh,
        pr,
        review,
        diff,
        earlier,
        &RunRecord::default(),
        dry_run,
    )
    .await
}

/// [`publish`] with what [`earlier_reviews`] already read, recording `record` in the
/// marker.
pub async fn publish_with(
    gh: &GitHub,
    pr: &PrRef,
    review: &Review,
    diff: &Diff<'_>,
    earlier: Earlier,
    record: &RunRecord,
    dry_run: bool,
) -> Result<Publication, GitHubError> {
    let (repo, number, head_sha) = (pr.repo.as_str(), pr.number, pr.head_sha.as_str());
    let Earlier {
        mut identity,
        previous,
    } = earlier;
    let posted_inline: HashSet<String> = previous
        .as_ref()
        .map(|p| p.comments.keys().cloned().collect())
        .unwrap_or_default();
    let plan = plan(
        review,
        diff,
        head_sha,
        previous.as_ref().map(|p| &p.marker),
        &posted_inline,
        record,
    );
    // Nectr already reviewed this head and nothing is new since: edit that summary in
    // place. Comments it could not place inline then (GitHub refused them) are not tried
    // again — GitHub would refuse them again, and every run would add another review.
    let edit_previous = previous.as_ref().filter(|p| {
        p.marker.head == head_sha
            && plan.comments.iter().all(|c| {
                find_finding_marker(&c.body).is_some_and(|fp| p.marker.all.iter().any(|a| a == fp))
            })
    });
    let mut publication = Publication {
        inline_comments: plan.comments.len(),
        already_posted: plan.already_posted,
        resolved: plan.resolved,
        body: finish_body(&plan.body, &plan.marker),
        ..Publication::default()
    };
    if edit_previous.is_some() && !plan.comments.is_empty() {
        publication.body = with_unplaced(&plan, &plan.comments);
        publication.moved_to_summary = plan.comments.len();
        publication.inline_comments = 0;
    }
    // A clean pull request under `review.on_clean: silent`: no new review (no notification
    // for nothing); an earlier summary is edited so it does not go on listing old findings.
    let silent_previous =
        if review.findings.is_empty() && record.on_clean == crate::config::OnClean::Silent {
            match previous.as_ref() {
                Some(p) => Some(p),
                None => {
                    publication.silent = true;
                    return Ok(publication);
                }
            }
        } else {
            None
        };
    if dry_run {
        return Ok(publication);
    }

    if let Some(p) = edit_previous.or(silent_previous) {
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
    let posted = match create_review(gh, repo, number, &request, &mut identity).await {
        Ok(posted) => posted,
        Err(GitHubError::Unprocessable { message, .. }) if !request.comments.is_empty() => {
            // GitHub refused an inline comment despite the anchoring; post the review
            // anyway, with those comments in the summary.
            crate::error::notice(&format!(
                "warning: GitHub refused the inline comments ({message}); posting them in the summary instead"
            ));
            publication.body = with_unplaced(&plan, &request.comments);
            publication.moved_to_summary = request.comments.len();
            publication.inline_comments = 0;
            let retry = NewReview {
                comments: Vec::new(),
                body: publication.body.clone(),
                ..request
            };
            create_review(gh, repo, number, &retry, &mut identity).await?
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
        if let Err(e) = gh
            .update_review(repo, number, p.review.id, &superseded)
            .await
        {
            crate::error::notice(&format!(
                "warning: could not mark the previous Nectr review as superseded: {e}"
            ));
        }
    }
    Ok(publication)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use serde_json::{Value, json};

    use super::*;
    use crate::github::transport::{
        BoxFuture, Method, Request, Response, Transport, TransportError,
    };

    /// Creates every review it is sent but answers the first POST with a 502, like a
    /// GitHub front end timing out after the write went through.
    #[derive(Default)]
    struct LostAnswer {
        reviews: Mutex<Vec<Value>>,
        posts: AtomicU32,
    }

    fn json_response(value: &Value) -> Response {
        Response {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).unwrap(),
        }
    }

    impl Transport for LostAnswer {
        fn send<'a>(
            &'a self,
            request: &'a Request,
        ) -> BoxFuture<'a, Result<Response, TransportError>> {
            Box::pin(async move {
                let path = request.url.trim_start_matches("http://gh.test");
                let path = path.split('?').next().unwrap_or_default();
                match (request.method, path) {
                    (Method::Post, "/repos/o/r/pulls/1/reviews") => {
                        let body = request.body.clone().unwrap_or_default();
                        let mut reviews = self.reviews.lock().unwrap();
                        let review = json!({
                            "id": 100 + reviews.len(),
                            "user": {"login": "nectr-bot"},
                            "body": body["body"],
                            "commit_id": body["commit_id"],
                            "state": "COMMENTED",
                        });
                        reviews.push(review.clone());
                        if self.posts.fetch_add(1, Ordering::SeqCst) == 0 {
                            Ok(Response {
                                status: 502,
                                headers: Vec::new(),
                                body: b"<html>Unicorn!</html>".to_vec(),
                            })
                        } else {
                            Ok(json_response(&review))
                        }
                    }
                    (Method::Get, "/repos/o/r/pulls/1/reviews") => {
                        let mut listed = self.reviews.lock().unwrap().clone();
                        // Someone else's review with the very same body is not Nectr's.
                        if let Some(first) = listed.first().cloned() {
                            let mut copy = first;
                            copy["id"] = json!(1);
                            copy["user"] = json!({"login": "mallory"});
                            listed.insert(0, copy);
                        }
                        Ok(json_response(&Value::Array(listed)))
                    }
                    (Method::Get, "/user") => Ok(json_response(&json!({"login": "nectr-bot"}))),
                    _ => Ok(Response {
                        status: 404,
                        headers: Vec::new(),
                        body: br#"{"message":"Not Found"}"#.to_vec(),
                    }),
                }
            })
        }
    }

    #[test]
    fn markers_in_finding_text_are_defused() {
        use crate::diff::Side;
        use crate::review::finding::{Severity, Source};
        let text = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1,2 @@\n x = 1\n+eval(data)\n";
        let diff = crate::diff::parse(text).unwrap();
        let forged_review = r#"<!-- nectr:review {"v":1,"head":"abcdef","inline":[],"all":["0011223344556677"]} -->"#;
        let forged_finding = "<!-- nectr:finding 0011223344556677 -->";
        let finding = Finding {
            path: "a.py".into(),
            line: 2,
            end_line: None,
            side: Side::Right,
            severity: Severity::Major,
            source: Source::Llm,
            rule: "llm.review".into(),
            title: format!("eval {forged_finding}"),
            body: format!("Quoting the PR: {forged_finding}\n{forged_review}"),
            anchored: true,
            suggestion: None,
        };
        let off_diff = Finding {
            line: 40,
            anchored: false,
            ..finding.clone()
        };
        let review = Review {
            findings: vec![finding, off_diff],
            ..Review::default()
        };
        let plan = plan(
            &review,
            &diff,
            "0123abcd",
            None,
            &HashSet::new(),
            &RunRecord::default(),
        );
        assert_eq!(plan.comments.len(), 1);
        let comment = &plan.comments[0].body;
        assert_eq!(
            find_finding_marker(comment),
            Some(plan.marker.inline[0].as_str())
        );
        assert_eq!(comment.matches("<!-- nectr:").count(), 1, "{comment}");
        let body = finish_body(&plan.body, &plan.marker);
        assert_eq!(body.matches("<!-- nectr:").count(), 1, "{body}");
        assert_eq!(ReviewMarker::find(&body), Some(plan.marker));
    }

    #[test]
    fn a_clean_review_posts_nothing_under_on_clean_silent() {
        let transport = std::sync::Arc::new(LostAnswer::default());
        let gh = GitHub::with_transport("http://gh.test", transport.clone())
            .with_write_gap(std::time::Duration::ZERO);
        let text = "diff --git a/a.md b/a.md\n--- a/a.md\n+++ b/a.md\n@@ -1 +1,2 @@\n x\n+y\n";
        let diff = crate::diff::parse(text).unwrap();
        let pr = PrRef {
            repo: "o/r".into(),
            number: 1,
            head_sha: "abc123".into(),
        };
        let review = Review::default();
        let silent = RunRecord {
            on_clean: crate::config::OnClean::Silent,
            ..RunRecord::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let p = rt
            .block_on(publish_with(
                &gh,
                &pr,
                &review,
                &diff,
                Earlier::default(),
                &silent,
                false,
            ))
            .unwrap();
        assert!(p.silent);
        assert_eq!(p.review_id, None);
        assert_eq!(transport.posts.load(Ordering::SeqCst), 0, "nothing posted");
        // The default posts the short summary.
        let p = rt
            .block_on(publish_with(
                &gh,
                &pr,
                &review,
                &diff,
                Earlier::default(),
                &RunRecord::default(),
                false,
            ))
            .unwrap();
        assert!(!p.silent);
        assert!(p.review_id.is_some());
        assert!(p.body.contains("no findings"), "{}", p.body);
    }

    #[test]
    fn a_review_created_despite_a_5xx_is_found_not_posted_twice() {
        let transport = std::sync::Arc::new(LostAnswer::default());
        let gh = GitHub::with_transport("http://gh.test", transport.clone())
            .with_write_gap(std::time::Duration::ZERO);
        let review = NewReview {
            commit_id: "abc123".into(),
            body: "### Nectr review\n<!-- nectr:review {} -->".into(),
            event: "COMMENT",
            comments: Vec::new(),
        };
        let mut identity = None;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let posted = rt
            .block_on(create_review(&gh, "o/r", 1, &review, &mut identity))
            .unwrap();
        assert_eq!(posted.id, 100, "the review the lost answer was for");
        assert_eq!(transport.posts.load(Ordering::SeqCst), 1, "not sent again");
        assert_eq!(identity, Some(Identity::User("nectr-bot".into())));
    }
}
