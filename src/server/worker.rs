//! Review workers: drain the durable queue in the database.
//!
//! A worker claims the oldest claimable event with a lease ([`Store::claim_next`]), keeps
//! the lease alive while it works, and ends the event one of four ways:
//! - `done`: a review was posted (or one for this head was already on the PR — found by
//!   Nectr's marker — so a crash after posting never posts twice);
//! - `ignored`: on a closer look nothing to do (PR closed or merged, head moved on, a draft);
//! - back to `pending` with a not-before time: GitHub failed in a way worth retrying, and
//!   fewer than `max_attempts` attempts were made;
//! - `failed` with the reason the dashboard shows (revoked token, repo disconnected, …).
//!
//! A worker that dies (kill -9) simply stops extending its lease; when it expires another
//! worker claims the event again. Attempts are counted at the claim, so those crashed
//! attempts count: an event whose every attempt kills or stalls the server ends `failed`
//! after `max_attempts` instead of looping ([`Store::claim_next`] fails it). On graceful shutdown a worker gets `shutdown_grace` to
//! finish, then releases the event to the queue without counting the attempt.
//!
//! [`Store::claim_next`]: crate::store::Store::claim_next

mod conversation;
mod detail;

use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::watch;
use tracing::Instrument;

use super::{AppState, now, owners};
use crate::error::InputError;
use crate::github::event::PullRequestEvent;
use crate::github::pr_state::PrState;
use crate::github::{GitHub, GitHubError};
use crate::pipeline::history::{index_event, needs_github, records_history};
use crate::pipeline::pr::{ConfigSource, PrReviewRequest, load_config, review_pull_request};
use crate::publish::Identity;
use crate::publish::marker::ReviewMarker;
use crate::store::{
    ClaimedEvent, DraftsSetting, NewReviewRecord, RepoSettings, ReviewDetail, User,
};

/// The most a history event may take: listing a closed PR's files and one graph write.
const HISTORY_TIMEOUT: Duration = Duration::from_secs(120);

/// Why there is no AI review when the repository's dashboard setting turned it off (in the
/// summary: "No AI review: …").
pub const AI_OFF_REASON: &str =
    "the AI review is turned off for this repository in its settings on Nectr's dashboard";
/// Why a comment event is not answered when comment commands are turned off.
pub const COMMENTS_OFF: &str = "comment commands are turned off for this repository (its settings on Nectr's dashboard); turn them on there to have Nectr answer";

/// `Some(why)` when the repository's settings turn the AI off. The setting can only turn
/// it off: with it on, the operator's configuration decides as before.
pub(crate) fn settings_ai_off(settings: &RepoSettings) -> Option<String> {
    (!settings.ai_enabled).then(|| AI_OFF_REASON.to_owned())
}

/// Why a `pull_request` delivery with `action` is not reviewed under `settings`, if it is
/// not (the receiver and the worker give the same reason).
pub fn action_off_reason(settings: &RepoSettings, action: &str) -> Option<String> {
    (!settings.reviews_action(action)).then(|| {
        format!(
            "pull request `{action}` events are turned off for this repository (its settings on Nectr's dashboard); turn them on there to have them reviewed"
        )
    })
}

/// Why a draft is not reviewed when the repository's settings say drafts are not.
pub fn drafts_off_reason(number: u64) -> String {
    format!(
        "pull request #{number} is a draft, and this repository's settings on Nectr's dashboard say drafts are not reviewed; it is reviewed when marked ready"
    )
}

/// Queue tuning. The defaults suit GitHub; tests shorten them through the environment.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// How long a claim holds before another worker may take the event (seconds). Workers
    /// extend it every third of this while they work.
    pub lease_secs: i64,
    /// Attempts before an event is `failed` for good.
    pub max_attempts: i64,
    /// First retry delay (seconds); doubles per attempt up to `retry_max_secs`.
    pub retry_base_secs: i64,
    pub retry_max_secs: i64,
    /// How often an idle worker looks at the queue when no wake-up arrives (another replica
    /// may have queued the event).
    pub poll_interval: Duration,
    /// How long a review in progress may run on after shutdown is asked for.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            lease_secs: 300,
            max_attempts: 5,
            retry_base_secs: 30,
            retry_max_secs: 3600,
            poll_interval: Duration::from_secs(2),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

impl WorkerConfig {
    /// Defaults, overridden by `NECTR_LEASE_SECS`, `NECTR_MAX_ATTEMPTS`,
    /// `NECTR_RETRY_BASE_SECS`, `NECTR_RETRY_MAX_SECS`, `NECTR_POLL_MS` and
    /// `NECTR_SHUTDOWN_GRACE_SECS`.
    pub fn from_env() -> Result<WorkerConfig> {
        fn var(name: &str, min: i64) -> Result<Option<i64>> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => match v.trim().parse::<i64>() {
                    Ok(n) if n >= min => Ok(Some(n)),
                    _ => Err(InputError(format!(
                        "{name} must be a whole number of at least {min} (it is `{}`)",
                        v.chars().take(40).collect::<String>()
                    ))
                    .into()),
                },
                _ => Ok(None),
            }
        }
        let mut c = WorkerConfig::default();
        if let Some(n) = var("NECTR_LEASE_SECS", 1)? {
            c.lease_secs = n;
        }
        if let Some(n) = var("NECTR_MAX_ATTEMPTS", 1)? {
            c.max_attempts = n;
        }
        if let Some(n) = var("NECTR_RETRY_BASE_SECS", 0)? {
            c.retry_base_secs = n;
        }
        if let Some(n) = var("NECTR_RETRY_MAX_SECS", 0)? {
            c.retry_max_secs = n;
        }
        if let Some(n) = var("NECTR_POLL_MS", 10)? {
            c.poll_interval = Duration::from_millis(n as u64);
        }
        if let Some(n) = var("NECTR_SHUTDOWN_GRACE_SECS", 0)? {
            c.shutdown_grace = Duration::from_secs(n as u64);
        }
        Ok(c)
    }

    /// The not-before delay after the `attempts`-th failed attempt.
    pub fn backoff_secs(&self, attempts: i64) -> i64 {
        let exp = attempts.saturating_sub(1).clamp(0, 20) as u32;
        self.retry_base_secs
            .saturating_mul(1_i64 << exp)
            .min(self.retry_max_secs)
    }
}

/// How an event ended.
#[derive(Debug)]
enum Outcome {
    Posted {
        review_id: u64,
        review_url: String,
        findings: usize,
        detail: Box<ReviewDetail>,
    },
    /// The review for this head is already on the PR.
    AlreadyPosted {
        review_id: u64,
        review_url: String,
        /// What its marker says it was posted with.
        findings: i64,
        detail: Box<ReviewDetail>,
    },
    Skipped(String),
    /// A history event was recorded in the knowledge graph.
    Recorded(String),
    /// A comment was answered (see `pipeline::conversation`).
    Answered(String),
    /// Worth another attempt later.
    Transient(String),
    /// Will not get better by retrying.
    Permanent(String),
}

pub struct Worker {
    state: AppState,
    /// Unique across replicas: host, process and worker number.
    id: String,
}

impl Worker {
    pub fn new(state: AppState, n: usize) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "nectr".into());
        let id = format!(
            "{host}:{}:{n}:{:08x}",
            std::process::id(),
            fastrand::u32(..)
        );
        Worker { state, id }
    }

    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let config = self.state.config.worker.clone();
        tracing::debug!(worker = %self.id, "worker started");
        loop {
            if *stop.borrow() {
                break;
            }
            let claimed = match self
                .state
                .store
                .claim_next(&self.id, config.lease_secs, config.max_attempts, now())
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim from the queue; retrying");
                    None
                }
            };
            let Some(event) = claimed else {
                tokio::select! {
                    _ = self.state.queue_wake.notified() => {}
                    _ = tokio::time::sleep(config.poll_interval) => {}
                    _ = stop.changed() => {}
                }
                continue;
            };
            let span = tracing::info_span!("review", delivery = %event.delivery_id, event_id = event.id, repo = %event.repo, pr = ?event.pr_number, attempt = event.attempts);
            self.work_on(event, &mut stop).instrument(span).await;
        }
        tracing::debug!(worker = %self.id, "worker stopped");
    }

    /// Process one claimed event: keep its lease alive, stop at shutdown after the grace
    /// period, and record how it ended.
    async fn work_on(&self, event: ClaimedEvent, stop: &mut watch::Receiver<bool>) {
        let config = self.state.config.worker.clone();
        let started = Instant::now();
        let review = self.process(&event);
        tokio::pin!(review);
        let mut keepalive =
            tokio::time::interval(Duration::from_secs((config.lease_secs / 3).max(1) as u64));
        keepalive.tick().await;
        let mut deadline: Option<tokio::time::Instant> = None;
        let outcome = loop {
            tokio::select! {
                outcome = &mut review => break Some(outcome),
                _ = keepalive.tick() => {
                    match self.state.store.extend_lease(event.id, &self.id, config.lease_secs, now()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            // Another worker took it over (our lease had expired): stop
                            // here; its result is the one that counts.
                            tracing::warn!("lease lost; abandoning this attempt");
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot extend the lease"),
                    }
                }
                _ = stop.changed(), if deadline.is_none() => {
                    deadline = Some(tokio::time::Instant::now() + config.shutdown_grace);
                }
                _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if deadline.is_some() => {
                    break None;
                }
            }
        };
        let store = &self.state.store;
        let metrics = &self.state.metrics;
        let took = started.elapsed();
        let Some(outcome) = outcome else {
            tracing::info!("shutting down: releasing the event to the queue");
            if let Err(e) = store.release(event.id, &self.id, now()).await {
                tracing::warn!(error = %e, "cannot release the event; its lease will expire instead");
            }
            return;
        };
        let result = match outcome {
            Outcome::Posted {
                review_id,
                review_url,
                findings,
                detail,
            } => {
                tracing::info!(review_id, %review_url, findings, ms = took.as_millis() as u64, "review posted");
                self.record_review(&event, review_id, &review_url, findings as i64, *detail)
                    .await;
                metrics.review("posted", took);
                store.complete(event.id, &self.id, now()).await
            }
            Outcome::AlreadyPosted {
                review_id,
                review_url,
                findings,
                detail,
            } => {
                tracing::info!(
                    review_id,
                    "this head was already reviewed; not posting again"
                );
                // Recorded again under the same GitHub id: pages count it once, with the
                // first record's findings — this one's only when an earlier attempt posted
                // it and died before recording it.
                self.record_review(&event, review_id, &review_url, findings, *detail)
                    .await;
                metrics.review("already_posted", took);
                store.complete(event.id, &self.id, now()).await
            }
            Outcome::Recorded(what) => {
                tracing::info!(%what, ms = took.as_millis() as u64, "recorded");
                metrics.review("recorded", took);
                store.complete(event.id, &self.id, now()).await
            }
            Outcome::Answered(what) => {
                tracing::info!(%what, ms = took.as_millis() as u64, "answered");
                metrics.review("answered", took);
                store.complete(event.id, &self.id, now()).await
            }
            Outcome::Skipped(reason) => {
                tracing::info!(%reason, "skipped");
                metrics.review("skipped", took);
                store.skip(event.id, &self.id, &reason, now()).await
            }
            Outcome::Transient(error) if event.attempts < config.max_attempts => {
                let delay = config.backoff_secs(event.attempts);
                tracing::warn!(%error, attempt = event.attempts, retry_in_secs = delay, "review failed; will retry");
                metrics.review("retry", took);
                let message = format!(
                    "attempt {} of {} failed: {error}; retrying in {delay} s",
                    event.attempts, config.max_attempts
                );
                store
                    .fail(event.id, &self.id, &message, Some(now() + delay), now())
                    .await
            }
            Outcome::Transient(error) => {
                tracing::error!(%error, attempts = event.attempts, "review failed; giving up");
                metrics.review("failed", took);
                let message = format!("gave up after {} attempts: {error}", event.attempts);
                store.fail(event.id, &self.id, &message, None, now()).await
            }
            Outcome::Permanent(error) => {
                tracing::error!(%error, "review failed");
                metrics.review("failed", took);
                store.fail(event.id, &self.id, &error, None, now()).await
            }
        };
        match result {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                "the lease expired before the result was recorded; another worker owns the event now"
            ),
            Err(e) => {
                tracing::error!(error = %e, "cannot record the event's result; its lease will expire and it runs again")
            }
        }
    }

    /// Records the review with its findings and notes, in one transaction.
    async fn record_review(
        &self,
        event: &ClaimedEvent,
        review_id: u64,
        url: &str,
        findings: i64,
        detail: ReviewDetail,
    ) {
        let head = event.head_sha.clone().unwrap_or_default();
        self.record_review_of(event, &head, review_id, url, findings, detail)
            .await;
    }

    /// Records the review `/nectr review` posted (a comment event has no head of its own:
    /// the review's pull request gives it). Nothing when nothing was posted.
    pub(super) async fn record_requested_review(
        &self,
        event: &ClaimedEvent,
        requested: &crate::pipeline::conversation::RequestedReview,
    ) {
        let outcome = &requested.0;
        let Some(posted) = &outcome.publication else {
            return;
        };
        let Some(review_id) = posted.review_id else {
            return;
        };
        let url = posted.review_url.clone().unwrap_or_default();
        let findings = outcome.review.findings.len() as i64;
        self.record_review_of(
            event,
            &outcome.pull.head.sha,
            review_id,
            &url,
            findings,
            detail::of_outcome(outcome),
        )
        .await;
    }

    async fn record_review_of(
        &self,
        event: &ClaimedEvent,
        head_sha: &str,
        review_id: u64,
        url: &str,
        findings: i64,
        detail: ReviewDetail,
    ) {
        let record = NewReviewRecord {
            event_id: Some(event.id),
            repo: event.repo.clone(),
            pr_number: event.pr_number.unwrap_or(0),
            head_sha: head_sha.to_owned(),
            review_id: review_id as i64,
            review_url: url.to_owned(),
            findings,
            detail,
        };
        if let Err(e) = self.state.store.record_review(&record, now()).await {
            tracing::error!(error = %e, "cannot record the posted review");
        }
    }

    async fn process(&self, event: &ClaimedEvent) -> Outcome {
        if records_history(&event.event, event.action.as_deref()) {
            return self.record_history(event).await;
        }
        if crate::pipeline::conversation::is_comment_event(&event.event) {
            return self.converse(event).await;
        }
        let payload = match PullRequestEvent::parse(&event.payload) {
            Ok(p) => p,
            Err(e) => {
                return Outcome::Permanent(format!(
                    "the stored payload is not a pull_request event: {e}"
                ));
            }
        };
        let repo = event.repo.as_str();
        let number = payload.pull_request.number;
        let head_sha = event
            .head_sha
            .clone()
            .unwrap_or_else(|| payload.pull_request.head.sha.clone());
        let (user, gh) = match self.connecting_user(repo).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        // Asked for from the dashboard: review again even though this head has a review.
        let again = event.action.as_deref() == Some(super::dashboard::REREVIEW_ACTION);
        // The repository's dashboard settings, as they are now (they may have changed
        // since the delivery was queued). A re-review was asked for by a person: it runs
        // whatever the triggers say.
        let settings = match self.state.store.repo_settings(repo).await {
            Ok(s) => s,
            Err(e) => return Outcome::Transient(format!("database: {e}")),
        };
        if !again
            && let Some(why) = action_off_reason(&settings, event.action.as_deref().unwrap_or(""))
        {
            return Outcome::Skipped(why);
        }
        let run = Run {
            again: again.then(|| event.delivery_id.clone()),
            settings,
        };
        let outcome = self
            .review(&gh, repo, number, &head_sha, &user.login, &run)
            .await;
        self.state
            .metrics
            .github_rate_limit(gh.rate_limit().remaining);
        match outcome {
            Ok(o) => o,
            Err(e) => self.github_failure(&user, &e).await,
        }
    }

    /// The user who connected `repo` and a GitHub client with their token: the review
    /// appears as them. The `Err` is how the event ends when there is no usable token.
    async fn connecting_user(&self, repo: &str) -> Result<(User, GitHub), Outcome> {
        let found = match self.state.store.active_installation_for_repo(repo).await {
            Ok(f) => f,
            Err(e) => return Err(Outcome::Transient(format!("database: {e}"))),
        };
        let Some(found) = found else {
            return Err(Outcome::Permanent(format!(
                "{repo} is no longer connected to Nectr; connect it again to have its pull requests reviewed"
            )));
        };
        let user = found.user;
        if user.needs_reauth {
            return Err(Outcome::Permanent(format!(
                "the GitHub token of @{} (who connected {repo}) was revoked or lacks the `repo` scope: @{} must sign in to Nectr again",
                user.login, user.login
            )));
        }
        let token = match self
            .state
            .keyring
            .decrypt(&owners::user_token(user.github_id), &user.encrypted_token)
        {
            Ok(t) => t,
            Err(e) => {
                return Err(Outcome::Permanent(format!(
                    "cannot decrypt the token of @{} ({e}); if NECTR_ENCRYPTION_KEY changed, keep the old key after the new one, or have @{} sign in again",
                    user.login, user.login
                )));
            }
        };
        let Ok(token) = String::from_utf8(token) else {
            return Err(Outcome::Permanent(format!(
                "the stored token of @{} is not text; @{} must sign in again",
                user.login, user.login
            )));
        };
        match self.state.github(&token) {
            Ok(gh) => Ok((user, gh)),
            Err(e) => Err(Outcome::Permanent(e.to_string())),
        }
    }

    /// How an event ends after `e` from GitHub (or the pipeline): a 401 flags the user for
    /// a new login; the rest is retried or not by [`classify`].
    async fn github_failure(&self, user: &User, e: &anyhow::Error) -> Outcome {
        if e.chain().any(|c| {
            matches!(
                c.downcast_ref::<GitHubError>(),
                Some(GitHubError::Unauthorized { .. })
            )
        }) {
            if let Err(db) = self.state.store.mark_needs_reauth(user.id, now()).await {
                tracing::error!(error = %db, "cannot flag the user for re-login");
            }
            return Outcome::Permanent(format!(
                "GitHub rejected the token of @{} (401): it was revoked or expired; @{} must sign in to Nectr again",
                user.login, user.login
            ));
        }
        classify(e)
    }

    /// An event that updates the knowledge graph instead of asking for a review (see
    /// `pipeline::history`). A closed PR's files are listed with the connecting user's
    /// token; an issue needs none.
    async fn record_history(&self, event: &ClaimedEvent) -> Outcome {
        let Some(graph) = self.state.context.graph.clone() else {
            return Outcome::Skipped("this server has no knowledge graph to record it in".into());
        };
        let connected = if needs_github(&event.event) {
            match self.connecting_user(&event.repo).await {
                Ok(found) => Some(found),
                Err(outcome) => return outcome,
            }
        } else {
            None
        };
        let gh = connected.as_ref().map(|(_, gh)| gh);
        let indexed = tokio::time::timeout(
            HISTORY_TIMEOUT,
            index_event(gh, graph.as_ref(), &event.event, &event.payload, now()),
        )
        .await;
        if let Some(gh) = gh {
            self.state
                .metrics
                .github_rate_limit(gh.rate_limit().remaining);
        }
        match indexed {
            Ok(Ok(line)) => Outcome::Recorded(line),
            Err(_) => Outcome::Transient(format!(
                "recording the event in the knowledge graph took over {} s",
                HISTORY_TIMEOUT.as_secs()
            )),
            Ok(Err(e)) if e.chain().any(|c| c.is::<serde_json::Error>()) => {
                Outcome::Permanent(format!("{e:#}"))
            }
            Ok(Err(e)) if e.chain().any(|c| c.is::<GitHubError>()) => match &connected {
                Some((user, _)) => self.github_failure(user, &e).await,
                None => classify(&e),
            },
            // The graph itself failed (Neo4j restarting, a locked file): worth another try.
            Ok(Err(e)) => Outcome::Transient(format!("{e:#}")),
        }
    }

    /// The GitHub part: check the PR still wants this review, then review and post.
    async fn review(
        &self,
        gh: &GitHub,
        repo: &str,
        number: u64,
        head_sha: &str,
        login: &str,
        run: &Run,
    ) -> Result<Outcome> {
        let key = (repo.to_owned(), number);
        if let Some(state) = self.state.pr_states.get(&key)
            && state != PrState::Open
        {
            return Ok(Outcome::Skipped(
                format!("pull request #{number} is {state:?}").to_lowercase(),
            ));
        }
        let pull = gh.pull(repo, number).await?;
        let state = PrState::from_api(&pull.state, pull.merged.unwrap_or(false));
        self.state.pr_states.insert(key, state);
        if state != PrState::Open {
            return Ok(Outcome::Skipped(
                format!("pull request #{number} is {state:?} now").to_lowercase(),
            ));
        }
        if pull.head.sha != head_sha {
            return Ok(Outcome::Skipped(format!(
                "the head moved on to {} since this event; the newer push is reviewed instead",
                short(&pull.head.sha)
            )));
        }
        // A review of this head by this user is already there: a previous attempt posted
        // it and then died before recording it. A re-review asked for from the dashboard
        // reviews a head that has a review on purpose: there, only a review carrying this
        // re-review's own run id counts (an earlier attempt of the same re-review posted
        // or edited it), so a crash after posting never posts twice either way.
        for review in gh.list_reviews(repo, number).await? {
            if review.user.as_ref().is_some_and(|u| u.login == login)
                && let Some(marker) = ReviewMarker::find(review.body.as_deref().unwrap_or(""))
                && marker.head == head_sha
                && (run.again.is_none() || marker.run == run.again)
            {
                let (findings, detail) = detail::of_marker(&marker);
                return Ok(Outcome::AlreadyPosted {
                    review_id: review.id,
                    review_url: review.html_url.unwrap_or_default(),
                    findings,
                    detail: Box::new(detail),
                });
            }
        }
        // Config from the base branch, as for pull_request_target: a pull request cannot
        // switch off or weaken its own review.
        let source = ConfigSource::Repo {
            git_ref: pull.base.sha.clone(),
        };
        // Drafts: the repository's dashboard setting, else `.nectr.yml` (from the base).
        if pull.draft {
            match run.settings.drafts {
                DraftsSetting::Yes => {}
                DraftsSetting::No => return Ok(Outcome::Skipped(drafts_off_reason(number))),
                DraftsSetting::Config => {
                    let config = load_config(gh, repo, &source).await?;
                    if !config.config.review.drafts {
                        return Ok(Outcome::Skipped(format!(
                            "pull request #{number} is a draft; it is reviewed when marked ready (or set `review: {{drafts: true}}` in .nectr.yml, or drafts to reviewed in the repository's settings on Nectr's dashboard)"
                        )));
                    }
                }
            }
        }
        let outcome = review_pull_request(PrReviewRequest {
            gh,
            repo,
            number,
            pull: Some(pull),
            config: Some(source),
            dry_run: false,
            identity: Some(Identity::User(login.to_owned())),
            model: None,
            zero_config_llm: None,
            context: Some(self.state.context.clone()),
            trust: crate::llm::Trust::Repository,
            ai_off: settings_ai_off(&run.settings),
            run_id: run.again.clone(),
        })
        .await?;
        let detail = detail::of_outcome(&outcome);
        let publication = outcome.publication.unwrap_or_default();
        Ok(Outcome::Posted {
            review_id: publication.review_id.unwrap_or(0),
            review_url: publication.review_url.unwrap_or_default(),
            findings: outcome.review.findings.len(),
            detail: Box::new(detail),
        })
    }
}

/// What one review run is, beyond the pull request: a dashboard re-review (its delivery
/// id, written into the marker as the run id) or not, and the repository's settings.
struct Run {
    again: Option<String>,
    settings: RepoSettings,
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Retry what GitHub may answer differently later; fail the rest at once.
fn classify(e: &anyhow::Error) -> Outcome {
    let message = format!("{e:#}");
    for cause in e.chain() {
        if let Some(gh) = cause.downcast_ref::<GitHubError>() {
            return match gh {
                GitHubError::Unavailable { .. }
                | GitHubError::Status { .. }
                | GitHubError::Malformed { .. } => Outcome::Transient(message),
                GitHubError::Forbidden { message: m, .. }
                    if m.to_ascii_lowercase().contains("rate limit") =>
                {
                    Outcome::Transient(message)
                }
                _ => Outcome::Permanent(message),
            };
        }
        if cause.is::<crate::error::RemoteError>() {
            return Outcome::Transient(message);
        }
    }
    // Config errors, undiffable input and the like: retrying gives the same answer.
    Outcome::Permanent(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = WorkerConfig {
            retry_base_secs: 30,
            retry_max_secs: 200,
            ..WorkerConfig::default()
        };
        assert_eq!(c.backoff_secs(1), 30);
        assert_eq!(c.backoff_secs(2), 60);
        assert_eq!(c.backoff_secs(3), 120);
        assert_eq!(c.backoff_secs(4), 200);
        assert_eq!(c.backoff_secs(99), 200);
    }

    #[test]
    fn server_errors_retry_and_missing_repos_do_not() {
        let unavailable: anyhow::Error = GitHubError::Unavailable {
            endpoint: "GET /x".into(),
            reason: "502".into(),
        }
        .into();
        assert!(matches!(classify(&unavailable), Outcome::Transient(_)));
        let missing: anyhow::Error = GitHubError::NotFound {
            endpoint: "GET /x".into(),
        }
        .into();
        assert!(matches!(classify(&missing), Outcome::Permanent(_)));
    }
}
