//! The pipeline's context steps around a PR review: what to ask the context sources
//! ([`pr_facts`]), and how Nectr's earlier inline comments fared ([`comment_feedback`]) so
//! `context::learn` can record outcomes.

use std::collections::HashSet;

use crate::context::memory::Outcome;
use crate::context::{CommentFeedback, PrFacts};
use crate::diff::Diff;
use crate::github::event::PullRequest;
use crate::github::types::parse_timestamp;
use crate::publish::PreviousReview;
use crate::publish::marker::fingerprint;
use crate::review::Review;

/// What the context sources are asked about, and what the graph records.
pub fn pr_facts(repo: &str, pull: &PullRequest, diff: &Diff<'_>) -> PrFacts {
    let merged_at = pull.merged_at.as_deref().and_then(parse_timestamp);
    let mut paths: Vec<String> = Vec::new();
    for file in &diff.files {
        let path = file.path().to_owned();
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    PrFacts {
        repo: repo.to_owned(),
        number: pull.number,
        title: pull.title.clone(),
        body: pull.body.clone().unwrap_or_default(),
        branch: pull.head.name.clone(),
        author: pull
            .user
            .as_ref()
            .map(|u| u.login.clone())
            .unwrap_or_default(),
        state: if merged_at.is_some() || pull.merged == Some(true) {
            "merged".into()
        } else if pull.state.is_empty() {
            "open".into()
        } else {
            pull.state.clone()
        },
        created_at: pull
            .created_at
            .as_deref()
            .and_then(parse_timestamp)
            .unwrap_or(0),
        merged_at,
        base_sha: pull.base.sha.clone(),
        head_sha: pull.head.sha.clone(),
        paths,
    }
}

/// How Nectr's earlier inline comments fared: gone from this review (the code changed) →
/// resolved; still found but its thread marked resolved (`resolved_threads`: the ids of
/// comments that start a resolved thread) → dismissed; 👍 / 👎 reactions → thumbs up /
/// down. Only comments Nectr itself wrote (the previous review's own) are looked at.
pub fn comment_feedback(
    previous: &PreviousReview,
    review: &Review,
    diff: &Diff<'_>,
    resolved_threads: &HashSet<u64>,
) -> Vec<CommentFeedback> {
    let current: HashSet<String> = review
        .findings
        .iter()
        .map(|f| fingerprint(f, diff.file(&f.path)))
        .collect();
    let mut out = Vec::new();
    let mut comments: Vec<_> = previous.comments.iter().collect();
    comments.sort_by_key(|(_, c)| c.id);
    for (fp, comment) in comments {
        let marked = previous.marker.findings.iter().find(|m| &m.fp == fp);
        let Some(rule) = marked
            .map(|m| m.rule.clone())
            .or_else(|| rule_of_comment(&comment.body))
        else {
            continue;
        };
        let title = marked.map(|m| m.title.clone()).unwrap_or_default();
        let mut push = |outcome| {
            out.push(CommentFeedback {
                comment_id: comment.id,
                path: comment.path.clone(),
                rule: rule.clone(),
                title: title.clone(),
                outcome,
            })
        };
        if !current.contains(fp.as_str()) {
            push(Outcome::Resolved);
        } else if resolved_threads.contains(&comment.id) {
            // The finding is still there, yet someone closed the conversation: the team
            // decided it does not apply here.
            push(Outcome::Dismissed);
        }
        if let Some(r) = &comment.reactions {
            if r.thumbs_down > 0 {
                push(Outcome::ThumbsDown);
            }
            if r.thumbs_up > 0 {
                push(Outcome::ThumbsUp);
            }
        }
    }
    out
}

/// The rule id of an inline comment as `review::render::markdown::inline_comment` writes it:
/// the code span ending its first line.
pub(crate) fn rule_of_comment(body: &str) -> Option<String> {
    let first = body.lines().next()?.trim_end();
    let inner = first.strip_suffix('`')?;
    let start = inner.rfind('`')?;
    let rule = &inner[start + 1..];
    (!rule.is_empty()
        && rule
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c)))
    .then(|| rule.to_owned())
}

#[cfg(test)]
mod tests {
    use super::rule_of_comment;

    #[test]
    fn the_rule_comes_from_the_first_line_of_an_inline_comment() {
        assert_eq!(
            rule_of_comment("🔴 **critical** · Secret · `secret.github-token`\n\nbody"),
            Some("secret.github-token".into())
        );
        assert_eq!(rule_of_comment("no rule here\n`x`"), None);
        assert_eq!(rule_of_comment("a · `has space`"), None);
    }
}
