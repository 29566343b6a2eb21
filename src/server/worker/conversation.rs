//! The workers' side of commands and replies in threads: a queued `issue_comment` or
//! `pull_request_review_comment` is answered with the connecting user's token by the same
//! `pipeline::conversation::respond` the Action runs. The receiver already stored comments
//! that are not for Nectr as ignored (`conversation::screen`); redeliveries are stopped by
//! the delivery GUID, and a crash after replying by the reply's marker.
//!
//! The repository's dashboard settings apply: comment commands turned off since the event
//! was queued skip it, and the AI switch off means no model call (questions get a reply
//! saying why). A dismissal is also recorded in the server's database, for the team view's
//! most-dismissed rules, and a review `/nectr review` posted is recorded like one a push
//! started, so the dashboard's pull-request page lists it with its findings.

use super::{Outcome, Worker, settings_ai_off};
use crate::github::event::CommentEvent;
use crate::pipeline::conversation::{self, ConversationRequest, Status};
use crate::publish::Identity;
use crate::server::now;
use crate::store::{ClaimedEvent, NewDismissal};

impl Worker {
    pub(super) async fn converse(&self, event: &ClaimedEvent) -> Outcome {
        let payload = match CommentEvent::parse(&event.payload) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::Permanent(format!(
                    "the stored payload is not a `{}` event: {e}",
                    event.event
                ));
            }
        };
        let settings = match self.state.store.repo_settings(&event.repo).await {
            Ok(s) => s,
            Err(e) => return Outcome::Transient(format!("database: {e}")),
        };
        if !settings.on_comments {
            return Outcome::Skipped(super::COMMENTS_OFF.to_owned());
        }
        let (user, gh) = match self.connecting_user(&event.repo).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let result = conversation::respond(ConversationRequest {
            gh: &gh,
            repo: &event.repo,
            event: &payload,
            identity: Some(Identity::User(user.login.clone())),
            config: None,
            model: None,
            context: Some(self.state.context.clone()),
            dry_run: false,
            trust: crate::llm::Trust::Repository,
            zero_config_llm: None,
            ai_off: settings_ai_off(&settings),
        })
        .await;
        self.state
            .metrics
            .github_rate_limit(gh.rate_limit().remaining);
        match result {
            Ok(o) => {
                if let Some(d) = &o.dismissed {
                    let dismissal = NewDismissal {
                        repo: event.repo.clone(),
                        pr_number: payload.pr_number().and_then(|n| i64::try_from(n).ok()),
                        rule: d.rule.clone(),
                        path: d.path.clone(),
                        comment_id: i64::try_from(d.comment_id).unwrap_or(i64::MAX),
                        login: d.login.clone(),
                    };
                    if let Err(e) = self.state.store.record_dismissal(&dismissal, now()).await {
                        tracing::error!(error = %e, "cannot record a dismissal for the dashboard");
                    }
                }
                if let Some(requested) = &o.requested_review {
                    self.record_requested_review(event, requested).await;
                }
                match o.status {
                    Status::Answered | Status::Refused => Outcome::Answered(o.detail),
                    Status::AlreadyAnswered | Status::Ignored | Status::Limited => {
                        Outcome::Skipped(o.detail)
                    }
                }
            }
            Err(e) => self.github_failure(&user, &e).await,
        }
    }
}
