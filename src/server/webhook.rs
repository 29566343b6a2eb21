//! `POST /api/v1/webhooks/github`: the webhook receiver.
//!
//! In order, and nothing is parsed before the signature holds:
//! 1. the `X-GitHub-Event`, `X-GitHub-Delivery` and `X-Hub-Signature-256` headers must be
//!    present (400);
//! 2. a body over [`MAX_BODY_BYTES`] is refused (413) — by `Content-Length` before reading,
//!    and by counting while streaming when the length is not declared;
//! 3. the secret is the one of the installation that owns the webhook (`X-GitHub-Hook-ID`),
//!    else `GITHUB_WEBHOOK_SECRET`; with neither the delivery is refused (401) **before its
//!    body is read** — verification is never skipped, and nobody can make the server buffer
//!    25 MB it could never verify;
//! 4. the body is read (its deadline is the connection layer's, 408 when it passes) and a
//!    forged or missing signature is 401;
//! 5. `ping` → 200; the payload is parsed into the few fields the queue needs;
//! 6. the event is stored — pending, ignored (needs no review) or duplicate — and only then
//!    answered: 202 when queued, 200 otherwise.
//!
//! A secret vouches for its own repository only: a delivery signed with one repo's secret
//! but naming another repo is refused (403), and so is a delivery verified with the global
//! secret that names a repository connected with a secret of its own (403). Nothing from an
//! unverified body is used, not even to pick the secret: a delivery without
//! `X-GitHub-Hook-ID` can only be verified with the global secret.

use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

use super::http::{ApiError, header as get_header};
use super::{AppState, owners};
use crate::github::event::REVIEWED_ACTIONS;
use crate::github::webhook::verify_signature;
use crate::pipeline::history::records_history;
use crate::store::{NewEvent, Recorded};

/// GitHub caps payloads at 25 MB; anything larger is not from GitHub.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// Webhook body bytes buffered at once, across all deliveries being read, by default: with
/// a global secret set, anyone may send bodies that are read before they can be verified,
/// and trickling many of them must not exhaust memory.
pub const DEFAULT_BODY_BUDGET_BYTES: usize = 256 * 1024 * 1024;

/// `NECTR_WEBHOOK_BODY_BUDGET_MB`, or [`DEFAULT_BODY_BUDGET_BYTES`]; read once per process.
pub fn body_budget_bytes() -> usize {
    static BYTES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BYTES.get_or_init(|| {
        std::env::var("NECTR_WEBHOOK_BODY_BUDGET_MB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&mb| mb >= 1)
            .map_or(DEFAULT_BODY_BUDGET_BYTES, |mb| {
                mb.saturating_mul(1024 * 1024)
            })
    })
}

/// The budget in KiB permits (a process-wide limit, like the connection limits).
fn body_budget() -> &'static tokio::sync::Semaphore {
    static BUDGET: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    BUDGET.get_or_init(|| tokio::sync::Semaphore::new(body_budget_bytes() / 1024))
}

/// The events Nectr's webhook subscribes to.
pub const SUBSCRIBED_EVENTS: [&str; 4] = [
    "pull_request",
    "issues",
    "issue_comment",
    "pull_request_review_comment",
];

/// The few payload fields the queue needs. Everything else stays in the stored raw bytes.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    repository: Option<EnvelopeRepo>,
    #[serde(default)]
    pull_request: Option<EnvelopePull>,
}

#[derive(Deserialize)]
struct EnvelopeRepo {
    full_name: String,
}

#[derive(Deserialize)]
struct EnvelopePull {
    number: i64,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    draft: Option<bool>,
    head: EnvelopeHead,
}

#[derive(Deserialize)]
struct EnvelopeHead {
    sha: String,
}

/// The answer plus the metric label it is counted under.
struct Answer {
    result: &'static str,
    response: Response,
}

fn answer(result: &'static str, status: StatusCode, body: serde_json::Value) -> Answer {
    Answer {
        result,
        response: (status, Json(body)).into_response(),
    }
}

fn refuse(result: &'static str, error: ApiError) -> Answer {
    Answer {
        result,
        response: error.into_response(),
    }
}

pub async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let delivery = get_header(&headers, "x-github-delivery")
        .unwrap_or("")
        .chars()
        .take(100)
        .collect::<String>();
    let span = tracing::info_span!("webhook", delivery = %delivery);
    let answer = handle(&state, &headers, body)
        .instrument(span.clone())
        .await;
    let took = started.elapsed();
    state.metrics.delivery(answer.result, took);
    span.in_scope(|| {
        tracing::info!(
            result = answer.result,
            status = answer.response.status().as_u16(),
            micros = took.as_micros() as u64,
            "webhook delivery"
        )
    });
    answer.response
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Answer {
    // 1. Required headers.
    let mut missing = Vec::new();
    for name in ["X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256"] {
        if get_header(headers, name).is_none_or(|v| v.trim().is_empty()) {
            missing.push(name);
        }
    }
    if !missing.is_empty() {
        return refuse(
            "bad_request",
            ApiError::bad_request(format!(
                "missing header{} {}: this endpoint takes GitHub webhook deliveries, signed with the webhook's secret",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", ")
            )),
        );
    }
    let event = get_header(headers, "x-github-event").unwrap_or("").trim();
    let delivery = get_header(headers, "x-github-delivery")
        .unwrap_or("")
        .trim();
    if event.len() > 100
        || delivery.len() > 100
        || !event
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return refuse(
            "bad_request",
            ApiError::bad_request("X-GitHub-Event or X-GitHub-Delivery is not a valid value"),
        );
    }

    // 2. Size, before reading.
    let too_large = || {
        refuse(
            "too_large",
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is over {MAX_BODY_BYTES} bytes, GitHub's limit for webhook payloads"
                ),
            ),
        )
    };
    let declared = get_header(headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }

    // 3. The secret, still before reading the body: the installation that owns the webhook
    //    (`X-GitHub-Hook-ID`), else `GITHUB_WEBHOOK_SECRET`. With neither, no signature can
    //    hold, so the body is never read (nor buffered).
    let hook_id =
        get_header(headers, "x-github-hook-id").and_then(|v| v.trim().parse::<i64>().ok());
    let mut installation = None;
    if let Some(id) = hook_id {
        match state.store.installation_by_hook_id(id).await {
            Ok(found) => installation = found.filter(|i| i.active),
            Err(e) => return refuse("error", ApiError::internal(e)),
        }
    }
    let secret: Vec<u8> = match &installation {
        Some(inst) => match state.keyring.decrypt(
            &owners::webhook_secret(&inst.repo),
            &inst.encrypted_webhook_secret,
        ) {
            Ok(s) => s,
            Err(e) => {
                return refuse(
                    "error",
                    ApiError::internal(format!(
                        "cannot decrypt the webhook secret of {} (was NECTR_ENCRYPTION_KEY changed without keeping the old key?): {e}",
                        inst.repo
                    )),
                );
            }
        },
        None => match &state.config.global_webhook_secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                return refuse(
                    "no_secret",
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "no webhook secret is known for this delivery's webhook (X-GitHub-Hook-ID is missing or names no connected repository's webhook): connect the repository in Nectr's dashboard (it installs a webhook with its own secret) or set GITHUB_WEBHOOK_SECRET",
                    ),
                );
            }
        },
    };

    // 4. The body, bounded in size, in time (by the connection layer) and, across all
    //    deliveries being read at once, in memory: its declared length (or the cap, when
    //    undeclared) is reserved from the budget first, and held until the answer.
    let reserve = declared
        .map_or(MAX_BODY_BYTES, |n| n as usize)
        .div_ceil(1024)
        .max(1);
    let Ok(_reserved) = body_budget().try_acquire_many(reserve.min(u32::MAX as usize) as u32)
    else {
        tracing::warn!(
            budget_mb = body_budget_bytes() / (1024 * 1024),
            "webhook body budget exhausted: delivery refused with 503"
        );
        return refuse(
            "busy",
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many webhook bodies are being received at once (NECTR_WEBHOOK_BODY_BUDGET_MB); redeliver this delivery from the webhook's Recent Deliveries page",
            ),
        );
    };
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            // `to_bytes` stops at the limit: either the body was too long, it did not arrive
            // in time, or the connection broke mid-body.
            let is_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if is_limit {
                return too_large();
            }
            if super::conn::is_body_timeout(&e) {
                return refuse(
                    "timeout",
                    ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "the request body did not arrive in time; GitHub sends a delivery at once, so send the whole body without pausing",
                    ),
                );
            }
            return refuse(
                "bad_request",
                ApiError::bad_request("the request body could not be read"),
            );
        }
    };
    if let Err(e) = verify_signature(&secret, &bytes, get_header(headers, "x-hub-signature-256")) {
        tracing::warn!(reason = %e, hook_id = ?hook_id, "webhook signature refused");
        return refuse(
            "bad_signature",
            ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()),
        );
    }

    // 5. Verified: now the payload may be read.
    if event == "ping" {
        return answer("ping", StatusCode::OK, json!({"status": "pong"}));
    }
    let envelope: Envelope = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(e) => {
            return refuse(
                "bad_request",
                ApiError::bad_request(format!("the payload is not the JSON GitHub sends: {e}")),
            );
        }
    };
    let Some(repo) = envelope.repository.as_ref().map(|r| r.full_name.clone()) else {
        return refuse(
            "bad_request",
            ApiError::bad_request("the payload has no `repository.full_name`"),
        );
    };
    if let Some(inst) = &installation
        && !inst.repo.eq_ignore_ascii_case(&repo)
    {
        tracing::warn!(hook_repo = %inst.repo, payload_repo = %repo, "delivery names another repository than its webhook's");
        return refuse(
            "bad_signature",
            ApiError::new(
                StatusCode::FORBIDDEN,
                "the delivery names a different repository than the webhook it was signed for",
            ),
        );
    }
    // A repository with its own secret never accepts the global one: a delivery verified
    // with `GITHUB_WEBHOOK_SECRET` (no hook id, or another webhook's) that names a connected
    // repository is refused, so whoever holds the global secret cannot queue reviews run
    // with that repository's user's token. Its own webhook delivers the same events.
    let installation_id = match &installation {
        Some(i) => Some(i.id),
        None => match state.store.active_installation_for_repo(&repo).await {
            Ok(Some(found)) => {
                tracing::warn!(%repo, hook_id = ?hook_id, "delivery for a connected repository verified only with the global secret: refused");
                return refuse(
                    "bad_signature",
                    ApiError::new(
                        StatusCode::FORBIDDEN,
                        format!(
                            "{} is connected in Nectr with a webhook secret of its own; deliveries for it are accepted only from that webhook (X-GitHub-Hook-ID {}), signed with its secret, never with GITHUB_WEBHOOK_SECRET",
                            found.installation.repo, found.installation.webhook_id
                        ),
                    ),
                );
            }
            Ok(None) => None,
            Err(e) => return refuse("error", ApiError::internal(e)),
        },
    };

    // 6. Classify and store.
    let action = envelope.action.clone();
    let pull = envelope.pull_request.as_ref();
    let history = records_history(event, action.as_deref());
    // Comments: commands and replies in threads (`pipeline::conversation`).
    let talk = crate::pipeline::conversation::screen(event, &bytes);
    let ignore_reason = if let Some(talk) = &talk {
        talk.ignore_reason.clone().or_else(|| {
            installation_id.is_none().then(|| {
                "the repository is not connected in Nectr: nobody's token can answer (connect it in the dashboard)".to_owned()
            })
        })
    } else if history {
        history_ignore_reason(
            event,
            action.as_deref(),
            state.context.graph.is_some(),
            installation_id,
        )
    } else {
        ignore_reason(event, action.as_deref(), pull, installation_id)
    };
    // The repository's settings on the dashboard may turn this kind of event off.
    let ignore_reason = match ignore_reason {
        None if installation_id.is_some() && !history => {
            settings_reason(state, &repo, action.as_deref(), pull, talk.is_some()).await
        }
        other => other,
    };
    let new_event = NewEvent {
        delivery_id: delivery.to_owned(),
        event: event.to_owned(),
        action,
        repo: repo.clone(),
        pr_number: match &talk {
            Some(talk) => talk.pr_number.and_then(|n| i64::try_from(n).ok()),
            None => pull.map(|p| p.number),
        },
        // No head for history events: the "same change within the hour" check is for
        // reviews; a PR closed, reopened and closed again must be recorded each time.
        // Nor for comments: each one is its own request.
        head_sha: pull
            .filter(|_| !history && talk.is_none())
            .map(|p| p.head.sha.clone()),
        installation_id,
        ignore_reason: ignore_reason.clone(),
        payload: bytes.to_vec(),
    };
    let pr_number = new_event.pr_number;
    match state.ingest.record(new_event).await {
        Ok(Recorded::Inserted(id)) => match ignore_reason {
            None => {
                state.queue_wake.notify_one();
                tracing::info!(event_id = id, %repo, pr = ?pr_number, history, "queued");
                answer(
                    "queued",
                    StatusCode::ACCEPTED,
                    json!({"status": "queued", "event_id": id}),
                )
            }
            Some(reason) => answer(
                "ignored",
                StatusCode::OK,
                json!({"status": "ignored", "event_id": id, "reason": reason}),
            ),
        },
        Ok(Recorded::Duplicate(id)) => answer(
            "duplicate",
            StatusCode::OK,
            json!({"status": "duplicate", "event_id": id,
                   "reason": "the same pull request head and action arrived within the hour; it is reviewed once"}),
        ),
        Ok(Recorded::SeenDelivery) => answer(
            "seen",
            StatusCode::OK,
            json!({"status": "seen", "reason": "this delivery was already received"}),
        ),
        Err(e) => {
            // 500 makes GitHub show the delivery as failed, so it can be redelivered.
            refuse("error", ApiError::internal(e))
        }
    }
}

/// Why the repository's dashboard settings turn this delivery off, if they do: comment
/// commands off, a `pull_request` action off, or a draft while drafts are not reviewed.
/// The worker checks again when it runs the event (settings may change in between), so a
/// database error here only logs and lets the event through.
async fn settings_reason(
    state: &AppState,
    repo: &str,
    action: Option<&str>,
    pull: Option<&EnvelopePull>,
    comment: bool,
) -> Option<String> {
    let settings = match state.repo_settings.get(repo) {
        Some(s) => s,
        None => match state.store.repo_settings(repo).await {
            Ok(s) => {
                state.repo_settings.put(repo, s);
                s
            }
            Err(e) => {
                tracing::warn!(error = %e, %repo, "cannot read the repository's settings; the worker checks them again");
                return None;
            }
        },
    };
    if comment {
        return (!settings.on_comments).then(|| super::worker::COMMENTS_OFF.to_owned());
    }
    if let Some(why) = super::worker::action_off_reason(&settings, action.unwrap_or("")) {
        return Some(why);
    }
    match pull {
        Some(p) if p.draft == Some(true) && settings.drafts == crate::store::DraftsSetting::No => {
            Some(super::worker::drafts_off_reason(
                u64::try_from(p.number).unwrap_or(0),
            ))
        }
        _ => None,
    }
}

/// Why an event that updates the knowledge graph (see [`records_history`]) is not queued,
/// or `None` when it is.
fn history_ignore_reason(
    event: &str,
    action: Option<&str>,
    has_graph: bool,
    installation_id: Option<i64>,
) -> Option<String> {
    if !has_graph {
        let what = match action {
            Some(action) if event == "pull_request" => format!("pull request `{action}`"),
            _ => format!("`{event}`"),
        };
        return Some(format!(
            "{what} events update the knowledge graph, and this server has none (NECTR_CONTEXT=off, or no NECTR_CONTEXT_DB / NEO4J_URI)"
        ));
    }
    if installation_id.is_none() {
        return Some(
            "the repository is not connected in Nectr: its history is not recorded (connect it in the dashboard)"
                .into(),
        );
    }
    None
}

/// Why an event needs no review, or `None` when it is queued.
fn ignore_reason(
    event: &str,
    action: Option<&str>,
    pull: Option<&EnvelopePull>,
    installation_id: Option<i64>,
) -> Option<String> {
    if event != "pull_request" {
        return Some(format!("`{event}` events are recorded, not reviewed"));
    }
    let action = action.unwrap_or("");
    if !REVIEWED_ACTIONS.contains(&action) {
        return Some(format!(
            "pull request `{action}`: only {} are reviewed",
            REVIEWED_ACTIONS.join(", ")
        ));
    }
    let Some(pull) = pull else {
        return Some("the payload has no `pull_request`".into());
    };
    if pull.state.as_deref().is_some_and(|s| s != "open") {
        return Some("the pull request is not open".into());
    }
    if installation_id.is_none() {
        return Some(
            "the repository is not connected in Nectr: nobody's token can post the review (connect it in the dashboard)"
                .into(),
        );
    }
    None
}
