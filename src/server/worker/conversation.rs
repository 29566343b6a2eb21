//! The workers' side of commands and replies in threads: a queued `issue_comment` or
//! `pull_request_review_comment` is answered with the connecting user's token by the same
//! `pipeline::conversation::respond` the Action runs. The receiver already stored comments
//! that are not for Nectr as ignored (`conversation::screen`); redeliveries are stopped by
//! the delivery GUID, and a crash after replying by the reply's marker.

use super::{Outcome, Worker};
use crate::github::event::CommentEvent;
use crate::pipeline::conversation::{self, ConversationRequest, Status};
use crate::publish::Identity;
use crate::store::ClaimedEvent;

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
        })
        .await;
        self.state
            .metrics
            .github_rate_limit(gh.rate_limit().remaining);
        match result {
            Ok(o) => match o.status {
                Status::Answered | Status::Refused => Outcome::Answered(o.detail),
                Status::AlreadyAnswered | Status::Ignored | Status::Limited => {
                    Outcome::Skipped(o.detail)
                }
            },
            Err(e) => self.github_failure(&user, &e).await,
        }
    }
}
