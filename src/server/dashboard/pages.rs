//! The dashboard's pages: the overview, a repository, a pull request, all events, and the
//! team view. Each reads the store (and, for the overview, GitHub's repository list and
//! webhook health), then renders with [`Html`]; none changes anything.
//!
//! Counting rules, the same on every page (tests cross-check them against the database):
//! a review is one GitHub review — a second record of it (found again by its marker) counts
//! neither as a review nor for findings — and its findings are those it was posted with.

use std::collections::{BTreeMap, HashMap};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::health::{self, HookHealth};
use super::html::{Html, clip, document, duration_text, plain_failure};
use super::{
    EVENTS_SHOWN, FLASH_COOKIE, FlashKind, LIVE_REFRESH_SECS, LOGIN_PATH, REREVIEW_ACTION,
    error_page, html_response, internal_page, is_mine, read_flash, repo_path, valid_full_name,
    valid_owner, valid_repo_name,
};
use crate::pipeline::history::records_history;
use crate::server::http::ApiError;
use crate::server::repos::{self, RepoView};
use crate::server::{AppState, now, session};
use crate::store::{
    DashboardAction, DismissedRule, DraftsSetting, EventFilter, EventRow, EventStatus,
    EventSummary, Installation, RepoSettings, ReviewRow, SessionUser, StoredFinding, StoredNote,
    User,
};

/// Error texts longer than this show clipped, with the whole text behind a disclosure.
const SHORT_ERROR_LEN: usize = 300;
/// The most events a repository or pull-request page reads.
const EVENTS_READ: i64 = 1_000;
/// The most pull requests a repository page lists (each costs a payload read).
const PRS_SHOWN: usize = 100;
/// The most reviews a page reads.
const REVIEWS_READ: i64 = 20_000;
const WEEK: i64 = 7 * 86_400;
/// Weeks the team view covers.
const TEAM_WEEKS: i64 = 12;
/// Reviews of a pull request shown with their findings (older ones: counts only).
const REVIEW_DETAILS_SHOWN: usize = 25;
/// Rows of the team view's most-dismissed rules.
const DISMISSED_SHOWN: i64 = 50;
const SEVERITIES: [&str; 4] = ["critical", "major", "minor", "nit"];

// ---------------------------------------------------------------------------------------
// Shared: the signed-in frame of a page
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Overview,
    Events,
    Team,
    Other,
}

/// A signed-in request: who, the flash to show, the cookie that clears it.
struct Ctx {
    su: SessionUser,
    flash: Option<(FlashKind, String)>,
    clear_flash: Vec<HeaderValue>,
    now: i64,
}

impl Ctx {
    fn csrf(&self) -> &str {
        &self.su.session.csrf_token
    }
}

/// The flash of this request and the cookie that clears it (so a reload does not repeat it).
fn take_flash(
    state: &AppState,
    headers: &HeaderMap,
) -> (Option<(FlashKind, String)>, Vec<HeaderValue>) {
    let flash = read_flash(headers);
    let clear = session::cookie(headers, FLASH_COOKIE)
        .map(|_| session::clear_cookie(FLASH_COOKIE, state.config.secure_cookies()))
        .into_iter()
        .collect();
    (flash, clear)
}

/// The signed-in user, or the page that asks to sign in (coming back to `path` after).
async fn signed_in(state: &AppState, headers: &HeaderMap, path: &str) -> Result<Ctx, Response> {
    let (flash, clear_flash) = take_flash(state, headers);
    match session::current(state, headers).await {
        Ok(Some(su)) => Ok(Ctx {
            su,
            flash,
            clear_flash,
            now: now(),
        }),
        Ok(None) => {
            let mut body = Html::default();
            body.raw("<section id=\"sign-in\"><h2>Sign in to see this page</h2><p>This page shows your repositories' reviews; sign in with GitHub first.</p>");
            if state.config.oauth.is_some() {
                body.raw("<p><a class=\"button login\" id=\"login\"")
                    .attr(
                        "href",
                        &format!(
                            "{LOGIN_PATH}?next={}",
                            crate::github::client::encode_component(path)
                        ),
                    )
                    .raw(">Login with GitHub</a></p>");
            } else {
                login_off_explanation(&mut body, state);
            }
            body.raw("</section>");
            Err(html_response(
                StatusCode::UNAUTHORIZED,
                document("Sign in — Nectr", &Html::default(), &body, None),
                &[],
            ))
        }
        Err(e) => Err(internal_page(&e)),
    }
}

/// The top bar of a signed-in page.
fn top_bar(ctx: &Ctx, current: Nav) -> Html {
    let mut h = Html::default();
    h.raw("<nav aria-label=\"Main\">");
    for (nav, path, label) in [
        (Nav::Overview, "/", "Overview"),
        (Nav::Events, "/events", "Events"),
        (Nav::Team, "/team", "Team"),
    ] {
        h.raw("<a").attr("href", path);
        if nav == current {
            h.raw(" aria-current=\"page\"");
        }
        h.raw(">").text(label).raw("</a>");
    }
    h.raw("</nav><div class=\"who\"><span>Signed in as <strong id=\"login-name\">@")
        .text(&ctx.su.user.login)
        .raw("</strong></span><form class=\"inline\" id=\"logout-form\" method=\"post\" action=\"/auth/logout\">")
        .csrf_field(ctx.csrf())
        .raw("<button type=\"submit\" class=\"logout\" id=\"logout\">Log out</button></form></div>");
    h
}

fn finish(ctx: Ctx, title: &str, current: Nav, body: &Html, live: bool) -> Response {
    let header = top_bar(&ctx, current);
    html_response(
        StatusCode::OK,
        document(title, &header, body, live.then_some(LIVE_REFRESH_SECS)),
        &ctx.clear_flash,
    )
}

fn flash_box(body: &mut Html, flash: Option<&(FlashKind, String)>) {
    if let Some((kind, text)) = flash {
        body.raw(match kind {
            FlashKind::Ok => "<div class=\"flash ok\" id=\"flash\" role=\"status\">",
            FlashKind::Err => "<div class=\"flash err\" id=\"flash\" role=\"alert\">",
        })
        .text(text)
        .raw("</div>");
    }
}

fn login_off_explanation(body: &mut Html, state: &AppState) {
    body.raw("<div class=\"banner warn\" id=\"login-off\"><strong>Login is not configured on this server.</strong> ")
        .raw("To let people sign in, create a GitHub OAuth app with the callback URL <code>")
        .text(&state.config.public_url)
        .text("/auth/github/callback")
        .raw("</code>, set <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code> ")
        .raw("to its client id and secret, and restart <code>nectr serve</code>. ")
        .raw("Webhooks of repositories that are already connected are still received and reviewed.</div>");
}

/// A hidden `back` field: where an action's 303 returns to.
fn back_field(body: &mut Html, back: &str) {
    body.raw("<input type=\"hidden\" name=\"back\"")
        .attr("value", back)
        .raw(">");
}

/// The user's active installation of `owner/name`, if they connected it.
async fn my_installation(
    state: &AppState,
    user: &User,
    repo: &str,
) -> Result<Option<Installation>, ApiError> {
    let mine = state.store.installations_for_user(user.id).await?;
    Ok(mine.into_iter().find(|i| i.repo.eq_ignore_ascii_case(repo)))
}

/// Whether `event` came through one of the user's installations (the only events they see).
pub(super) async fn owns_event(
    state: &AppState,
    user: &User,
    event: &EventSummary,
) -> Result<bool, ApiError> {
    let Some(installation) = event.installation_id else {
        return Ok(false);
    };
    let mine = state.store.installations_for_user(user.id).await?;
    Ok(mine.iter().any(|i| i.id == installation))
}

/// The newest delivery of pull request `number` a review can start from (a `pull_request`
/// event that is not a close), among the user's events.
pub(super) async fn latest_review_event(
    state: &AppState,
    user: &User,
    repo: &str,
    number: i64,
) -> Result<Option<EventSummary>, ApiError> {
    let filter = EventFilter {
        repo: Some(repo.to_owned()),
        event: Some("pull_request".into()),
        pr_number: Some(number),
        ..EventFilter::default()
    };
    let rows = state
        .store
        .events_page_for_user(user.id, &filter, EVENTS_READ, 0)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| r.summary)
        .find(|e| e.action.as_deref() != Some("closed") && e.head_sha.is_some()))
}

/// What a pull request's delivery says about it.
#[derive(Default)]
struct PrInfo {
    title: Option<String>,
    author: Option<String>,
    html_url: Option<String>,
    state: Option<String>,
    draft: bool,
}

fn pr_info(payload: &[u8]) -> PrInfo {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return PrInfo::default();
    };
    let pr = &v["pull_request"];
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    PrInfo {
        title: s(&pr["title"]),
        author: s(&pr["user"]["login"]),
        html_url: s(&pr["html_url"]),
        state: if pr["merged"].as_bool() == Some(true) {
            Some("merged".into())
        } else {
            s(&pr["state"])
        },
        draft: pr["draft"].as_bool().unwrap_or(false),
    }
}

async fn load_pr_info(state: &AppState, user: &User, event_id: i64) -> PrInfo {
    match state.store.event_payload_for_user(user.id, event_id).await {
        Ok(Some(p)) => pr_info(&p),
        Ok(None) => PrInfo::default(),
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: cannot read an event's payload");
            PrInfo::default()
        }
    }
}

// ---------------------------------------------------------------------------------------
// Events: labels, details and the table every page uses
// ---------------------------------------------------------------------------------------

fn is_history(ev: &EventSummary) -> bool {
    records_history(&ev.event, ev.action.as_deref())
}

fn status_label(row: &EventRow) -> &'static str {
    let ev = &row.summary;
    let history = is_history(ev);
    let talk = crate::pipeline::conversation::is_comment_event(&ev.event);
    match ev.status {
        EventStatus::Pending => "Queued",
        EventStatus::Running if talk => "Answering",
        EventStatus::Done if talk => "Answered",
        EventStatus::Running if history => "Recording",
        EventStatus::Running => "Reviewing",
        EventStatus::Done if history => "Recorded",
        EventStatus::Done if row.reused_review => "Already reviewed",
        EventStatus::Done => "Reviewed",
        EventStatus::Failed => "Failed",
        EventStatus::Ignored => "Ignored",
        EventStatus::Duplicate => "Duplicate",
    }
}

fn status_class(status: EventStatus) -> &'static str {
    match status {
        EventStatus::Pending => "event status-pending",
        EventStatus::Running => "event status-running",
        EventStatus::Done => "event status-done",
        EventStatus::Failed => "event status-failed",
        EventStatus::Ignored => "event status-ignored",
        EventStatus::Duplicate => "event status-duplicate",
    }
}

fn is_live(status: EventStatus) -> bool {
    matches!(status, EventStatus::Pending | EventStatus::Running)
}

/// A reason text: short ones whole, long ones clipped with the rest behind a disclosure.
fn reason_text(body: &mut Html, text: &str) {
    body.raw("<span class=\"reason\">");
    if text.len() <= SHORT_ERROR_LEN {
        body.text(text);
    } else {
        body.text(clip(text, SHORT_ERROR_LEN))
            .raw("… <details><summary>whole message</summary>")
            .text(text)
            .raw("</details>");
    }
    body.raw("</span>");
}

/// A failure: what it means and what to do, the recorded text behind a disclosure.
fn failure_text(body: &mut Html, error: &str) {
    body.raw("<span class=\"reason plain\">")
        .text(&plain_failure(error))
        .raw("</span><details class=\"raw-error\"><summary>Technical detail</summary><pre>")
        .text(error)
        .raw("</pre></details>");
}

/// How a page renders its event rows.
struct Table<'a> {
    now: i64,
    server_url: &'a str,
    csrf: &'a str,
    /// Where actions come back to.
    back: &'a str,
}

fn findings_text(body: &mut Html, n: i64) {
    body.raw(" <span class=\"muted findings\">")
        .num(n)
        .raw(if n == 1 { " finding" } else { " findings" })
        .raw("</span>");
}

/// A chip per severity with findings (`2 critical`), or nothing when all are zero.
fn severity_chips(body: &mut Html, counts: [i64; 4]) {
    for (sev, n) in SEVERITIES.iter().zip(counts) {
        if n == 0 {
            continue;
        }
        body.raw("<span")
            .attr("class", &format!("sev sev-{sev}"))
            .attr("data-severity", sev)
            .attr("data-count", &n.to_string())
            .raw(">")
            .num(n)
            .raw(" ")
            .text(sev)
            .raw("</span>");
    }
}

fn event_details(body: &mut Html, row: &EventRow, t: &Table<'_>) {
    let ev = &row.summary;
    match ev.status {
        EventStatus::Failed => {
            failure_text(
                body,
                ev.error.as_deref().unwrap_or("no reason was recorded"),
            );
            body.raw(" <span class=\"muted\">(after ")
                .num(ev.attempts)
                .raw(if ev.attempts == 1 {
                    " attempt)</span> "
                } else {
                    " attempts)</span> "
                });
            body.raw("<form class=\"inline\" method=\"post\"")
                .attr("action", &format!("/events/{}/retry", ev.id))
                .raw(">")
                .csrf_field(t.csrf);
            back_field(body, t.back);
            let what = match ev.pr_number {
                Some(n) => format!("Retry event {} ({} #{n})", ev.id, ev.repo),
                None => format!("Retry event {} ({})", ev.id, ev.repo),
            };
            body.raw("<button type=\"submit\" class=\"retry\"")
                .attr("aria-label", &what)
                .raw(">Retry</button></form>");
        }
        EventStatus::Ignored => {
            reason_text(body, ev.error.as_deref().unwrap_or("it needs no review"));
        }
        EventStatus::Duplicate => {
            body.raw("<span class=\"reason\">The same pull request, head commit and action arrived within the hour; reviewed once.</span>");
        }
        EventStatus::Pending => {
            if ev.action.as_deref() == Some(REREVIEW_ACTION) {
                body.raw("<span class=\"muted\">Re-review asked for from the dashboard. </span>");
            }
            match &ev.error {
                Some(error) => {
                    body.raw("<span class=\"muted\">Will try again after a failure: </span>");
                    failure_text(body, error);
                    if let Some(at) = ev.not_before {
                        body.raw(" <span class=\"muted\">(next try ")
                            .time(at, t.now)
                            .raw(")</span>");
                    }
                }
                None => {
                    body.raw("<span class=\"muted\">Waiting for a worker.</span>");
                }
            }
        }
        EventStatus::Running if is_history(ev) => {
            body.raw("<span class=\"muted\">Being recorded in the knowledge graph (attempt ")
                .num(ev.attempts)
                .raw(").</span>");
        }
        EventStatus::Running => {
            body.raw("<span class=\"muted\">Being reviewed (attempt ")
                .num(ev.attempts)
                .raw(").</span>");
        }
        EventStatus::Done => match &ev.review_url {
            Some(url) if row.reused_review => {
                body.raw("<span class=\"muted\">This head was already reviewed; not posted again. </span>");
                body.link(url, "review-link", "View review");
                if let Some(n) = row.posted_findings {
                    findings_text(body, n);
                    body.raw(" <span class=\"muted\">(when posted)</span>");
                }
            }
            Some(url) => {
                body.link(url, "review-link", "View review");
                if let Some(n) = ev.findings {
                    findings_text(body, n);
                }
            }
            None if is_history(ev) => {
                body.raw("<span class=\"muted\">Recorded in the knowledge graph.</span>");
            }
            None if crate::pipeline::conversation::is_comment_event(&ev.event) => {
                body.raw("<span class=\"muted\">Nectr replied on the pull request.</span>");
            }
            None => {
                body.raw("<span class=\"muted\">Done; no review was posted.</span>");
            }
        },
    }
}

fn events_table(body: &mut Html, rows: &[EventRow], t: &Table<'_>) {
    body.raw("<table class=\"events stack\"><thead><tr><th>When</th><th>Repository</th><th>Pull request</th><th>Event</th><th>Status</th><th>Details</th></tr></thead><tbody>");
    for row in rows {
        let ev = &row.summary;
        body.raw("<tr class=\"")
            .raw(status_class(ev.status))
            .raw("\"")
            .attr("data-event-id", &ev.id.to_string())
            .raw("><td class=\"when\" data-label=\"When\">")
            .time(ev.created_at, t.now)
            .raw("</td><td data-label=\"Repository\">");
        let valid = valid_full_name(&ev.repo);
        match valid {
            Some((owner, name)) => {
                body.local(&repo_path(owner, name), "repo-page", &ev.repo);
            }
            None => {
                body.text(&ev.repo);
            }
        }
        body.raw("</td><td data-label=\"Pull request\">");
        match (ev.pr_number, valid) {
            (Some(n), Some((owner, name))) => {
                body.local(
                    &format!("{}/pull/{n}", repo_path(owner, name)),
                    "pr-page",
                    &format!("#{n}"),
                )
                .raw(" <a")
                .attr("href", &format!("{}/{}/pull/{n}", t.server_url, ev.repo))
                .attr("aria-label", &format!("{} #{n} on GitHub", ev.repo))
                .raw(" class=\"pr-link\" rel=\"noreferrer\">GitHub</a>");
            }
            (Some(n), None) => {
                body.text(&format!("#{n}"));
            }
            (None, _) => {
                body.raw("<span class=\"muted\">—</span>");
            }
        }
        if let Some(sha) = &ev.head_sha {
            body.raw(" <code class=\"muted\">")
                .text(clip(sha, 7))
                .raw("</code>");
        }
        body.raw("</td><td data-label=\"Event\">").text(&ev.event);
        if let Some(action) = &ev.action {
            body.raw(" <span class=\"muted\">")
                .text(action)
                .raw("</span>");
        }
        body.raw("</td><td data-label=\"Status\"><span class=\"badge\">")
            .raw(status_label(row))
            .raw("</span></td><td class=\"details\" data-label=\"Details\">");
        event_details(body, row, t);
        body.raw("</td></tr>");
    }
    body.raw("</tbody></table>");
}

/// The actions people took from the dashboard.
fn actions_section(body: &mut Html, actions: &[DashboardAction], now: i64) {
    if actions.is_empty() {
        return;
    }
    body.raw("<section id=\"actions\"><h2>Actions taken here</h2><table class=\"stack actions\"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Details</th></tr></thead><tbody>");
    for a in actions {
        body.raw("<tr class=\"action\"><td class=\"when\" data-label=\"When\">")
            .time(a.created_at, now)
            .raw("</td><td data-label=\"Who\">@")
            .text(&a.login)
            .raw("</td><td data-label=\"Action\">")
            .raw(match a.action.as_str() {
                "retry" => "Retry",
                "rereview" => "Re-review",
                "reconnect" => "Reconnect",
                "settings" => "Settings",
                _ => "Other",
            });
        if let Some(n) = a.pr_number {
            body.text(&format!(" #{n}"));
        }
        if let Some(id) = a.event_id {
            body.raw(" <span class=\"muted\">event ")
                .num(id)
                .raw("</span>");
        }
        if let Some(id) = a.new_event_id {
            body.raw(" <span class=\"muted\">→ event ")
                .num(id)
                .raw("</span>");
        }
        body.raw("</td><td data-label=\"Details\">");
        match (&a.action[..], &a.detail) {
            ("retry", Some(d)) => {
                body.raw("<span class=\"muted\">Cleared: </span>");
                reason_text(body, d);
            }
            ("rereview", Some(d)) => {
                body.raw("<span class=\"muted\">Head </span><code>")
                    .text(clip(d, 7))
                    .raw("</code>");
            }
            (_, Some(d)) => {
                body.text(d);
            }
            (_, None) => {}
        }
        body.raw("</td></tr>");
    }
    body.raw("</tbody></table></section>");
}

// ---------------------------------------------------------------------------------------
// GET /
// ---------------------------------------------------------------------------------------

pub(super) async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (flash, clear) = take_flash(&state, &headers);
    match session::current(&state, &headers).await {
        Err(e) => internal_page(&e),
        Ok(None) => html_response(
            StatusCode::OK,
            signed_out_page(&state, flash.as_ref()),
            &clear,
        ),
        Ok(Some(su)) => {
            let ctx = Ctx {
                su,
                flash,
                clear_flash: clear,
                now: now(),
            };
            overview(&state, ctx).await
        }
    }
}

fn signed_out_page(state: &AppState, flash: Option<&(FlashKind, String)>) -> String {
    let mut body = Html::default();
    flash_box(&mut body, flash);
    body.raw("<section id=\"welcome\"><h2>Pull request reviews for your repositories</h2>")
        .raw("<p>Nectr reviews pull requests with built-in rules (and optionally a language model) ")
        .raw("and posts one review with inline comments. Sign in with GitHub to connect repositories ")
        .raw("and follow their reviews here.</p>");
    if state.config.oauth.is_some() {
        body.raw("<p><a class=\"button login\" id=\"login\" href=\"")
            .raw(LOGIN_PATH)
            .raw("\">Login with GitHub</a></p>");
    } else {
        login_off_explanation(&mut body, state);
    }
    body.raw("</section>");
    document("Nectr", &Html::default(), &body, None)
}

/// The repository list as the page can show it.
enum RepoList {
    Loaded(Vec<RepoView>),
    /// GitHub refuses the user's token (or it was already flagged).
    NeedsReauth,
    /// GitHub (or the database) failed; the message says how.
    Failed(ApiError),
}

async fn load_repos(state: &AppState, user: &User) -> RepoList {
    if user.needs_reauth {
        return RepoList::NeedsReauth;
    }
    match repos::list(state, user).await {
        Ok(list) => RepoList::Loaded(list),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => RepoList::NeedsReauth,
        Err(e) => RepoList::Failed(e),
    }
}

/// Per repository (lower-case): the newest review's time, reviews and findings since
/// `since`.
#[derive(Default, Clone, Copy)]
struct RepoReviews {
    last: Option<i64>,
    reviews: i64,
    findings: i64,
}

fn reviews_by_repo(reviews: &[ReviewRow], since: i64) -> HashMap<String, RepoReviews> {
    let mut out: HashMap<String, RepoReviews> = HashMap::new();
    for r in reviews.iter().filter(|r| !r.reused) {
        let e = out.entry(r.record.repo.to_ascii_lowercase()).or_default();
        e.last = Some(
            e.last
                .map_or(r.record.created_at, |l| l.max(r.record.created_at)),
        );
        if r.record.created_at >= since {
            e.reviews += 1;
            e.findings += r.record.findings;
        }
    }
    out
}

/// Webhook health of every repository the user connected, asked concurrently.
async fn hook_health(
    state: &AppState,
    user: &User,
    repos: &[RepoView],
) -> HashMap<String, HookHealth> {
    let mut set = tokio::task::JoinSet::new();
    for repo in repos.iter().filter(|r| is_mine(r, user)) {
        let Some(hook) = repo.webhook_id else {
            continue;
        };
        let (state, user, name) = (state.clone(), user.clone(), repo.full_name.clone());
        set.spawn(async move {
            let h = health::check(&state, &user, &name, hook).await;
            (name, h)
        });
    }
    let mut out = HashMap::new();
    while let Some(done) = set.join_next().await {
        if let Ok((name, h)) = done {
            out.insert(name, h);
        }
    }
    out
}

async fn overview(state: &AppState, ctx: Ctx) -> Response {
    let user = ctx.su.user.clone();
    let quiet = EventFilter {
        hide_noise: true,
        ..EventFilter::default()
    };
    let everything = EventFilter::default();
    let week_ago = ctx.now - WEEK;
    let (repo_list, events, shown_total, all_total, reviews) = tokio::join!(
        load_repos(state, &user),
        state
            .store
            .events_page_for_user(user.id, &quiet, EVENTS_SHOWN, 0),
        state.store.count_events_for_user(user.id, &quiet),
        state.store.count_events_for_user(user.id, &everything),
        state
            .store
            .reviews_for_user(user.id, None, None, 0, REVIEWS_READ),
    );
    let health = match &repo_list {
        RepoList::Loaded(list) => hook_health(state, &user, list).await,
        _ => HashMap::new(),
    };
    let by_repo = match reviews {
        Ok(r) => reviews_by_repo(&r, week_ago),
        Err(e) => {
            tracing::error!(error = %e, "dashboard: cannot read reviews");
            HashMap::new()
        }
    };

    let mut body = Html::default();
    flash_box(&mut body, ctx.flash.as_ref());
    let reauth = matches!(repo_list, RepoList::NeedsReauth);
    if reauth {
        body.raw("<div class=\"banner error\" id=\"reauth-banner\" role=\"alert\">")
            .raw("<strong>GitHub no longer accepts your token — sign in again.</strong> ")
            .raw("It was revoked, has expired or lost the access Nectr needs; until you sign in again ")
            .raw("Nectr cannot list your repositories or review the ones you connected. ");
        if state.config.oauth.is_some() {
            body.raw("<a href=\"")
                .raw(LOGIN_PATH)
                .raw("\" id=\"reauth-login\">Sign in again with GitHub</a>");
        } else {
            body.raw("(Login is not configured on this server: set <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code>.)");
        }
        body.raw("</div>");
    } else if !super::has_scope(&user.scopes, "repo") {
        body.raw("<div class=\"banner warn\" id=\"scope-banner\">")
            .raw("<strong>Your GitHub token lacks the <code>repo</code> scope.</strong> ")
            .raw("Nectr needs it to read pull requests (private ones too) and to add the webhook that ")
            .raw("connects a repository; the token grants ");
        if user.scopes.trim().is_empty() {
            body.raw("no scopes");
        } else {
            body.raw("only <code>")
                .text(user.scopes.trim())
                .raw("</code>");
        }
        body.raw(". ");
        if state.config.oauth.is_some() {
            body.raw("<a href=\"")
                .raw(LOGIN_PATH)
                .raw("\">Sign in again</a> and approve the access GitHub asks for.");
        }
        body.raw("</div>");
    }

    repos_section(&mut body, &repo_list, &user, &ctx, &health, &by_repo);

    let mut live = false;
    body.raw(
        "<section id=\"events\"><h2>Recent events <span class=\"sub\">that need a look</span></h2>",
    );
    match (events, shown_total, all_total) {
        (Ok(events), Ok(shown_total), Ok(all_total)) => {
            live = events.iter().any(|e| is_live(e.summary.status));
            if events.is_empty() && all_total == 0 {
                body.raw("<p class=\"note\" id=\"no-events\">No events yet. Connect a repository and open or update a pull request: its review shows up here.</p>");
            } else {
                let table = Table {
                    now: ctx.now,
                    server_url: &state.config.server_url,
                    csrf: ctx.csrf(),
                    back: "/",
                };
                events_table(&mut body, &events, &table);
                let hidden = all_total - shown_total;
                body.raw("<p class=\"muted\" id=\"noise-note\"")
                    .attr("data-hidden", &hidden.to_string())
                    .raw(">");
                if hidden > 0 {
                    body.num(hidden)
                        .raw(if hidden == 1 {
                            " ignored, duplicate or recorded event is collapsed. "
                        } else {
                            " ignored, duplicate or recorded events are collapsed. "
                        })
                        .raw("<a href=\"/events?noise=1\" id=\"show-noise\">Show them</a> · ");
                }
                body.raw("<a href=\"/events\" id=\"all-events\">All events</a></p>");
            }
        }
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => {
            tracing::error!(error = %e, "dashboard: cannot read recent events");
            body.raw("<div class=\"banner error\" id=\"events-error\">Recent events could not be loaded from the database; the server log has the details.</div>");
        }
    }
    body.raw("</section>");
    let title = format!("@{} — Nectr", user.login);
    finish(ctx, &title, Nav::Overview, &body, live)
}

fn repo_form(
    body: &mut Html,
    owner: &str,
    name: &str,
    what: &'static str,
    csrf_token: &str,
    back: &str,
) {
    body.raw("<form class=\"inline\" method=\"post\"")
        .attr("action", &format!("/repos/{owner}/{name}/{what}"))
        .raw(">")
        .csrf_field(csrf_token);
    back_field(body, back);
    let (class, label) = match what {
        "connect" => ("connect", "Connect"),
        "disconnect" => ("disconnect", "Disconnect"),
        _ => ("reconnect", "Reconnect"),
    };
    body.raw("<button type=\"submit\" class=\"")
        .raw(class)
        .raw("\"")
        .attr("aria-label", &format!("{label} {owner}/{name}"))
        .raw(">")
        .raw(label)
        .raw("</button></form>");
}

/// The state of a connected repository's webhook, and whether it needs a Reconnect.
fn health_text(body: &mut Html, health: Option<&HookHealth>, webhook_id: Option<i64>) -> bool {
    match health {
        Some(HookHealth::Missing) => {
            body.raw("<span class=\"health-bad\" id=\"hook-missing\">Webhook gone on GitHub</span> <span class=\"muted\">— Nectr hears nothing from this repository; reconnect it.</span>");
            true
        }
        Some(HookHealth::Inactive) => {
            body.raw("<span class=\"health-bad\" id=\"hook-inactive\">Webhook switched off on GitHub</span> <span class=\"muted\">— reconnect to replace it.</span>");
            true
        }
        other => {
            if let Some(id) = webhook_id {
                body.raw(" <span class=\"muted\">(webhook #")
                    .num(id)
                    .raw(")</span>");
            }
            match other {
                Some(HookHealth::Ok) => {
                    body.raw(" <span class=\"health-ok\">· checked on GitHub</span>");
                }
                Some(HookHealth::Unknown(why)) => {
                    body.raw(" <span class=\"muted\">· not checked: ")
                        .text(why)
                        .raw("</span>");
                }
                _ => {}
            }
            false
        }
    }
}

fn repos_section(
    body: &mut Html,
    list: &RepoList,
    user: &User,
    ctx: &Ctx,
    health: &HashMap<String, HookHealth>,
    by_repo: &HashMap<String, RepoReviews>,
) {
    body.raw("<section id=\"repos\"><h2>Repositories</h2>");
    let repos = match list {
        RepoList::NeedsReauth => {
            body.raw("<p class=\"note\">Sign in again to see your repositories.</p></section>");
            return;
        }
        RepoList::Failed(e) => {
            body.raw("<div class=\"banner warn\" id=\"repos-error\">")
                .raw("<strong>The repository list could not be loaded.</strong> ")
                .prose(&e.message)
                .raw(" Recent events are still shown below; reload the page to try again.</div></section>");
            return;
        }
        RepoList::Loaded(repos) => repos,
    };
    if repos.is_empty() {
        body.raw("<p class=\"note\" id=\"no-repos\">GitHub lists no repositories for your account.</p></section>");
        return;
    }
    let mine = repos.iter().filter(|r| is_mine(r, user)).count();
    body.raw("<p class=\"muted\">")
        .num(repos.len() as i64)
        .raw(if repos.len() == 1 {
            " repository, "
        } else {
            " repositories, "
        })
        .num(mine as i64)
        .raw(" connected by you.</p>")
        .raw("<table class=\"repos stack\"><thead><tr><th>Repository</th><th>State</th><th>Last review</th><th class=\"num\">Findings (7 days)</th><th></th></tr></thead><tbody>");
    for repo in repos {
        let valid = valid_full_name(&repo.full_name);
        let mine = is_mine(repo, user);
        body.raw("<tr class=\"repo\"")
            .attr("data-repo", &repo.full_name)
            .raw("><td data-label=\"Repository\">");
        match valid {
            Some((owner, name)) if mine => {
                body.local(&repo_path(owner, name), "repo-page", &repo.full_name);
                if let Some(url) = &repo.html_url {
                    body.raw(" ");
                    body.link(url, "repo-link muted", "GitHub");
                }
            }
            _ => {
                match &repo.html_url {
                    Some(url) => body.link(url, "repo-link", &repo.full_name),
                    None => body.text(&repo.full_name),
                };
            }
        }
        if repo.private {
            body.raw(" <span class=\"tag\">private</span>");
        }
        body.raw("</td><td class=\"state\" data-label=\"State\">");
        let mut reconnect = false;
        if repo.connected {
            if mine {
                let h = health.get(&repo.full_name);
                // A hook GitHub lost is not "Connected": the health text says what it is.
                if !matches!(h, Some(HookHealth::Missing | HookHealth::Inactive)) {
                    body.raw("<span class=\"connected\">Connected</span>");
                }
                reconnect = health_text(body, h, repo.webhook_id);
            } else {
                body.raw("<span class=\"connected-by\">Connected by @")
                    .text(repo.connected_by.as_deref().unwrap_or("another user"))
                    .raw("</span>");
            }
        } else {
            body.raw("<span class=\"not-connected\">Not connected</span>");
        }
        let stats = by_repo
            .get(&repo.full_name.to_ascii_lowercase())
            .copied()
            .unwrap_or_default();
        body.raw("</td><td class=\"when\" data-label=\"Last review\">");
        match stats.last {
            Some(at) if mine => {
                body.time(at, ctx.now);
            }
            _ => {
                body.raw("<span class=\"muted\">—</span>");
            }
        }
        body.raw("</td><td class=\"num week-findings\" data-label=\"Findings (7 days)\"");
        if mine {
            body.attr("data-count", &stats.findings.to_string())
                .raw(">")
                .num(stats.findings);
        } else {
            body.raw("><span class=\"muted\">—</span>");
        }
        body.raw("</td><td class=\"action\">");
        match (valid, repo.connected, mine, repo.admin) {
            (None, ..) => {
                body.raw(
                    "<span class=\"note\">Nectr cannot manage a repository with this name.</span>",
                );
            }
            (Some((owner, name)), true, true, _) => {
                if reconnect {
                    repo_form(body, owner, name, "reconnect", ctx.csrf(), "/");
                    body.raw(" ");
                }
                repo_form(body, owner, name, "disconnect", ctx.csrf(), "/");
            }
            (Some(_), true, false, _) => {
                body.raw("<span class=\"note\">Only @")
                    .text(
                        repo.connected_by
                            .as_deref()
                            .unwrap_or("the user who connected it"),
                    )
                    .raw(" can disconnect it.</span>");
            }
            (Some((owner, name)), false, _, true) => {
                repo_form(body, owner, name, "connect", ctx.csrf(), "/")
            }
            (Some(_), false, _, false) => {
                body.raw("<span class=\"note not-admin\">Only an admin of this repository can connect it.</span>");
            }
        }
        body.raw("</td></tr>");
    }
    body.raw("</tbody></table></section>");
}

// ---------------------------------------------------------------------------------------
// GET /repos/{owner}/{name}
// ---------------------------------------------------------------------------------------

fn not_connected_page(repo: &str) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not one of your repositories",
        &format!(
            "You have not connected {repo} to Nectr (or it is not a repository name). The overview lists your repositories; connect it there to see its reviews."
        ),
    )
}

/// One pull request's line on the repository page.
struct PrLine {
    number: i64,
    /// Newest first.
    events: Vec<EventRow>,
}

pub(super) async fn repository(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !valid_owner(&owner) || !valid_repo_name(&name) {
        return not_connected_page(&format!("{owner}/{name}"));
    }
    let path = repo_path(&owner, &name);
    let ctx = match signed_in(&state, &headers, &path).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let user = ctx.su.user.clone();
    let repo = format!("{owner}/{name}");
    let installation = match my_installation(&state, &user, &repo).await {
        Ok(Some(i)) => i,
        Ok(None) => return not_connected_page(&repo),
        Err(e) => return internal_page(&e),
    };
    let repo = installation.repo.clone();
    let filter = EventFilter {
        repo: Some(repo.clone()),
        ..EventFilter::default()
    };
    let (events, total, reviews, actions, hook, settings) = tokio::join!(
        state
            .store
            .events_page_for_user(user.id, &filter, EVENTS_READ, 0),
        state.store.count_events_for_user(user.id, &filter),
        state
            .store
            .reviews_for_user(user.id, Some(&repo), None, 0, REVIEWS_READ),
        state.store.dashboard_actions_for(&repo, None, 20),
        health::check(&state, &user, &repo, installation.webhook_id),
        state.store.repo_settings(&repo),
    );
    let (events, total, reviews, actions, settings) =
        match (events, total, reviews, actions, settings) {
            (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e)) => (a, b, c, d, e),
            (Err(e), ..)
            | (_, Err(e), ..)
            | (_, _, Err(e), ..)
            | (_, _, _, Err(e), _)
            | (.., Err(e)) => {
                return internal_page(&e.into());
            }
        };
    let live = events.iter().any(|e| is_live(e.summary.status));
    let posted: Vec<&ReviewRow> = reviews.iter().filter(|r| !r.reused).collect();
    let findings: i64 = posted.iter().map(|r| r.record.findings).sum();

    // Pull requests by their newest event.
    let mut prs: Vec<PrLine> = Vec::new();
    let mut at: HashMap<i64, usize> = HashMap::new();
    for row in events {
        let Some(n) = row.summary.pr_number else {
            continue;
        };
        match at.get(&n) {
            Some(&i) => prs[i].events.push(row),
            None => {
                at.insert(n, prs.len());
                prs.push(PrLine {
                    number: n,
                    events: vec![row],
                });
            }
        }
    }
    let mut latest_review: HashMap<i64, &ReviewRow> = HashMap::new();
    let mut review_counts: HashMap<i64, i64> = HashMap::new();
    for r in posted.iter().copied() {
        latest_review.entry(r.record.pr_number).or_insert(r);
        *review_counts.entry(r.record.pr_number).or_default() += 1;
    }

    let mut body = Html::default();
    flash_box(&mut body, ctx.flash.as_ref());
    body.raw("<section id=\"repo\"><h2>")
        .text(&repo)
        .raw(" <span class=\"sub\"><a")
        .attr("href", &format!("{}/{repo}", state.config.server_url))
        .raw(" rel=\"noreferrer\" class=\"repo-link\">on GitHub</a></span></h2><p class=\"state\">Connected by you ");
    body.time(installation.created_at, ctx.now);
    body.raw(". ");
    let reconnect = health_text(&mut body, Some(&hook), Some(installation.webhook_id));
    if reconnect {
        body.raw(" ");
        repo_form(&mut body, &owner, &name, "reconnect", ctx.csrf(), &path);
    }
    body.raw("</p><div class=\"stats\">");
    for (id, label, n) in [
        ("stat-prs", "pull requests", prs.len() as i64),
        ("stat-reviews", "reviews posted", posted.len() as i64),
        ("stat-findings", "findings", findings),
        ("stat-events", "deliveries", total),
    ] {
        body.raw("<div class=\"stat\"")
            .attr("id", id)
            .attr("data-count", &n.to_string())
            .raw("><strong>")
            .num(n)
            .raw("</strong>")
            .text(label)
            .raw("</div>");
    }
    body.raw("</div></section><section id=\"pulls\"><h2>Pull requests</h2>");
    if prs.is_empty() {
        body.raw("<p class=\"note\" id=\"no-pulls\">No pull request events yet. Open or update a pull request in this repository and its review shows up here.</p>");
    } else {
        body.raw("<table class=\"pulls stack\"><thead><tr><th>Pull request</th><th>Author</th><th>Status</th><th class=\"num\">Reviews</th><th class=\"num\">Findings</th><th>Last activity</th></tr></thead><tbody>");
        for pr in prs.iter().take(PRS_SHOWN) {
            let newest = &pr.events[0];
            let source = pr
                .events
                .iter()
                .find(|e| e.summary.event == "pull_request")
                .unwrap_or(newest);
            let info = load_pr_info(&state, &user, source.summary.id).await;
            body.raw("<tr class=\"pull ")
                .raw(status_class(newest.summary.status))
                .raw("\"")
                .attr("data-pr", &pr.number.to_string())
                .raw("><td data-label=\"Pull request\">")
                .local(
                    &format!("{path}/pull/{}", pr.number),
                    "pr-page",
                    &format!("#{}", pr.number),
                )
                .raw(" ")
                .text(info.title.as_deref().unwrap_or("(title not recorded)"));
            if info.draft {
                body.raw(" <span class=\"tag\">draft</span>");
            }
            if let Some(s) = info.state.as_deref().filter(|s| *s != "open") {
                body.raw(" <span class=\"tag\">").text(s).raw("</span>");
            }
            body.raw("</td><td data-label=\"Author\">");
            match &info.author {
                Some(a) => body.raw("@").text(a),
                None => body.raw("<span class=\"muted\">—</span>"),
            };
            body.raw("</td><td data-label=\"Status\"><span class=\"badge\">")
                .raw(status_label(newest))
                .raw("</span></td><td class=\"num\" data-label=\"Reviews\">")
                .num(review_counts.get(&pr.number).copied().unwrap_or(0))
                .raw("</td><td class=\"num\" data-label=\"Findings\">");
            match latest_review.get(&pr.number) {
                Some(r) => {
                    body.raw("<span class=\"latest-findings\"")
                        .attr("data-count", &r.record.findings.to_string())
                        .raw(">")
                        .num(r.record.findings)
                        .raw("</span> <span class=\"muted\">in the latest review</span> ");
                    if let Some(counts) = r.record.severities() {
                        severity_chips(&mut body, counts);
                    }
                }
                None => {
                    body.raw("<span class=\"muted\">—</span>");
                }
            }
            body.raw("</td><td class=\"when\" data-label=\"Last activity\">")
                .time(newest.summary.created_at, ctx.now)
                .raw("</td></tr>");
        }
        body.raw("</tbody></table>");
        if prs.len() > PRS_SHOWN {
            body.raw("<p class=\"muted\">Showing the ")
                .num(PRS_SHOWN as i64)
                .raw(" most recently active pull requests; <a")
                .attr("href", &format!("/events?repo={repo}"))
                .raw(">all events</a> has the rest.</p>");
        }
    }
    body.raw("</section>");
    settings_section(&mut body, &owner, &name, &repo, &settings, ctx.csrf());
    actions_section(&mut body, &actions, ctx.now);
    let title = format!("{repo} — Nectr");
    finish(ctx, &title, Nav::Other, &body, live)
}

/// A labelled checkbox of the settings form (ticked: sent as `on`).
fn checkbox(
    body: &mut Html,
    name: &'static str,
    id: &'static str,
    on: bool,
    label: &str,
    hint: &str,
) {
    body.raw("<label")
        .attr("for", id)
        .raw("><input type=\"checkbox\" value=\"on\"")
        .attr("name", name)
        .attr("id", id);
    if on {
        body.raw(" checked");
    }
    body.raw("><span>").text(label);
    if !hint.is_empty() {
        body.raw("<span class=\"hint\">").text(hint).raw("</span>");
    }
    body.raw("</span></label>");
}

/// The repository's settings: what starts a review, drafts, the AI switch.
fn settings_section(
    body: &mut Html,
    owner: &str,
    name: &str,
    repo: &str,
    settings: &RepoSettings,
    csrf: &str,
) {
    body.raw("<section id=\"settings\"><h2>Settings <span class=\"sub\">for ")
        .text(repo)
        .raw("</span></h2><form class=\"settings\" method=\"post\" id=\"settings-form\"")
        .attr("action", &format!("{}/settings", repo_path(owner, name)))
        .attr("aria-label", &format!("Settings of {repo}"))
        .raw(">")
        .csrf_field(csrf);
    body.raw("<fieldset><legend>Review when a pull request is</legend>");
    checkbox(
        body,
        "on_opened",
        "set-opened",
        settings.on_opened,
        "opened",
        "",
    );
    checkbox(
        body,
        "on_synchronize",
        "set-synchronize",
        settings.on_synchronize,
        "updated with new commits (synchronize)",
        "",
    );
    checkbox(
        body,
        "on_reopened",
        "set-reopened",
        settings.on_reopened,
        "reopened",
        "",
    );
    checkbox(
        body,
        "on_ready_for_review",
        "set-ready",
        settings.on_ready_for_review,
        "marked ready for review",
        "",
    );
    body.raw("</fieldset><fieldset><legend>Comments and drafts</legend>");
    checkbox(
        body,
        "on_comments",
        "set-comments",
        settings.on_comments,
        "answer comment commands",
        "/nectr review, /nectr ask, @nectr, replies and dismissals in Nectr's threads",
    );
    body.raw("<label class=\"choice\" for=\"set-drafts\"><span>Review draft pull requests</span><select name=\"drafts\" id=\"set-drafts\">");
    for (value, label) in [
        (
            DraftsSetting::Config,
            "as .nectr.yml says (review.drafts; default no)",
        ),
        (DraftsSetting::Yes, "yes"),
        (DraftsSetting::No, "no"),
    ] {
        body.raw("<option").attr("value", value.as_str());
        if settings.drafts == value {
            body.raw(" selected");
        }
        body.raw(">").text(label).raw("</option>");
    }
    body.raw("</select></label></fieldset><fieldset><legend>AI review</legend>");
    checkbox(
        body,
        "ai",
        "set-ai",
        settings.ai_enabled,
        "use the AI reviewer",
        "Off: rules only, and no question is sent to a model. On: the server's operator decides which model, if any.",
    );
    body.raw("</fieldset><button type=\"submit\" id=\"save-settings\"")
        .attr("aria-label", &format!("Save the settings of {repo}"))
        .raw(">Save settings</button></form></section>");
}

// ---------------------------------------------------------------------------------------
// GET /repos/{owner}/{name}/pull/{number}
// ---------------------------------------------------------------------------------------

pub(super) async fn pull(
    State(state): State<AppState>,
    Path((owner, name, number)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let number = number.parse::<i64>().ok().filter(|n| *n > 0);
    let (true, Some(number)) = (valid_owner(&owner) && valid_repo_name(&name), number) else {
        return not_connected_page(&format!("{owner}/{name}"));
    };
    let path = format!("{}/pull/{number}", repo_path(&owner, &name));
    let ctx = match signed_in(&state, &headers, &path).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let user = ctx.su.user.clone();
    let repo = match my_installation(&state, &user, &format!("{owner}/{name}")).await {
        Ok(Some(i)) => i.repo,
        Ok(None) => return not_connected_page(&format!("{owner}/{name}")),
        Err(e) => return internal_page(&e),
    };
    let filter = EventFilter {
        repo: Some(repo.clone()),
        pr_number: Some(number),
        ..EventFilter::default()
    };
    let (events, reviews, actions) = tokio::join!(
        state
            .store
            .events_page_for_user(user.id, &filter, EVENTS_READ, 0),
        state
            .store
            .reviews_for_user(user.id, Some(&repo), Some(number), 0, REVIEWS_READ),
        state.store.dashboard_actions_for(&repo, Some(number), 50),
    );
    let (events, reviews, actions) = match (events, reviews, actions) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return internal_page(&e.into()),
    };
    let live = events.iter().any(|e| is_live(e.summary.status));
    let info = match events.iter().find(|e| e.summary.event == "pull_request") {
        Some(e) => load_pr_info(&state, &user, e.summary.id).await,
        None => PrInfo::default(),
    };
    let github_url = info
        .html_url
        .clone()
        .filter(|u| super::html::safe_url(u))
        .unwrap_or_else(|| format!("{}/{repo}/pull/{number}", state.config.server_url));
    let posted: Vec<&ReviewRow> = reviews.iter().filter(|r| !r.reused).collect();
    let detailed: Vec<i64> = posted
        .iter()
        .take(REVIEW_DETAILS_SHOWN)
        .map(|r| r.record.id)
        .collect();
    let (stored_findings, stored_notes) = tokio::join!(
        state.store.review_findings(&detailed),
        state.store.review_notes(&detailed),
    );
    let (stored_findings, stored_notes) = match (stored_findings, stored_notes) {
        (Ok(f), Ok(n)) => (f, n),
        (Err(e), _) | (_, Err(e)) => return internal_page(&e.into()),
    };
    let mut findings_of: HashMap<i64, Vec<StoredFinding>> = HashMap::new();
    for f in stored_findings {
        findings_of.entry(f.review_row).or_default().push(f);
    }
    let mut notes_of: HashMap<i64, Vec<StoredNote>> = HashMap::new();
    for n in stored_notes {
        notes_of.entry(n.review_row).or_default().push(n);
    }
    let skipped = events
        .iter()
        .filter(|e| {
            matches!(
                e.summary.status,
                EventStatus::Ignored | EventStatus::Duplicate
            )
        })
        .count();

    let mut body = Html::default();
    flash_box(&mut body, ctx.flash.as_ref());
    body.raw("<section id=\"pull\"><h2><a")
        .attr("href", &repo_path(&owner, &name))
        .raw(" class=\"repo-page\">")
        .text(&repo)
        .raw("</a> #")
        .num(number)
        .raw(" ")
        .text(info.title.as_deref().unwrap_or(""))
        .raw("</h2><p>");
    if let Some(a) = &info.author {
        body.raw("By @").text(a).raw(" · ");
    }
    if let Some(s) = &info.state {
        body.raw("<span class=\"tag\">").text(s).raw("</span> ");
    }
    if info.draft {
        body.raw("<span class=\"tag\">draft</span> ");
    }
    body.link(&github_url, "pr-link", "Open on GitHub");
    body.raw("</p><div class=\"stats\">");
    for (id, label, n) in [
        ("stat-reviews", "reviews posted", posted.len() as i64),
        (
            "stat-findings",
            "findings in the latest review",
            posted.first().map_or(0, |r| r.record.findings),
        ),
        ("stat-events", "deliveries", events.len() as i64),
        ("stat-skipped", "skipped", skipped as i64),
    ] {
        body.raw("<div class=\"stat\"")
            .attr("id", id)
            .attr("data-count", &n.to_string())
            .raw("><strong>")
            .num(n)
            .raw("</strong>")
            .text(label)
            .raw("</div>");
    }
    body.raw("</div>");
    let can_rereview = events.iter().any(|e| {
        e.summary.event == "pull_request"
            && e.summary.action.as_deref() != Some("closed")
            && e.summary.head_sha.is_some()
    });
    if can_rereview {
        body.raw("<form class=\"inline\" method=\"post\"")
            .attr("action", &format!("{path}/rereview"))
            .raw(">")
            .csrf_field(ctx.csrf());
        back_field(&mut body, &path);
        body.raw("<button type=\"submit\" class=\"rereview\"")
            .attr("aria-label", &format!("Re-review {repo} #{number}"))
            .raw(">Re-review now</button></form> <span class=\"muted\">Reviews the current head again and updates Nectr's review on GitHub.</span>");
    }
    body.raw("</section><section id=\"reviews\"><h2>Reviews Nectr posted</h2>");
    if reviews.is_empty() {
        body.raw("<p class=\"note\" id=\"no-reviews\">No review posted yet.</p>");
    } else {
        body.raw("<table class=\"reviews stack\"><thead><tr><th>Posted</th><th>Head</th><th class=\"num\">Findings</th><th>Review</th><th>Delivery to review</th></tr></thead><tbody>");
        for r in &reviews {
            body.raw("<tr class=\"review\"")
                .attr("data-review-id", &r.record.review_id.to_string())
                .raw("><td class=\"when\" data-label=\"Posted\">")
                .time(r.record.created_at, ctx.now)
                .raw("</td><td data-label=\"Head\"><code>")
                .text(clip(&r.record.head_sha, 7))
                .raw("</code></td><td class=\"num\" data-label=\"Findings\">");
            if r.reused {
                body.raw("<span class=\"muted\">counted once, above</span>");
            } else {
                body.num(r.record.findings);
                if let Some(counts) = r.record.severities() {
                    body.raw(" ");
                    severity_chips(&mut body, counts);
                }
            }
            body.raw("</td><td data-label=\"Review\">");
            body.link(&r.record.review_url, "review-link", "View on GitHub");
            if r.reused {
                body.raw(
                    " <span class=\"muted\">(found again by its marker; not posted twice)</span>",
                );
            }
            body.raw("</td><td data-label=\"Delivery to review\">");
            match r.delivered_at {
                Some(d) if !r.reused => {
                    body.text(&duration_text(r.record.created_at - d));
                }
                _ => {
                    body.raw("<span class=\"muted\">—</span>");
                }
            }
            body.raw("</td></tr>");
        }
        body.raw("</tbody></table>");
        for r in posted.iter().take(REVIEW_DETAILS_SHOWN) {
            let none = Vec::new();
            review_detail(
                &mut body,
                r,
                findings_of.get(&r.record.id).unwrap_or(&none),
                notes_of.get(&r.record.id).map_or(&[][..], Vec::as_slice),
                ctx.now,
            );
        }
        if posted.len() > REVIEW_DETAILS_SHOWN {
            body.raw("<p class=\"muted\">Older reviews are listed above with their counts; their findings are on GitHub.</p>");
        }
    }
    body.raw("</section><section id=\"deliveries\"><h2>Deliveries <span class=\"sub\">what arrived, what was reviewed, what was skipped and why</span></h2>");
    if events.is_empty() {
        body.raw("<p class=\"note\">No deliveries recorded for this pull request.</p>");
    } else {
        let table = Table {
            now: ctx.now,
            server_url: &state.config.server_url,
            csrf: ctx.csrf(),
            back: &path,
        };
        events_table(&mut body, &events, &table);
    }
    body.raw("</section>");
    actions_section(&mut body, &actions, ctx.now);
    let title = format!("{repo} #{number} — Nectr");
    finish(ctx, &title, Nav::Other, &body, live)
}

/// One posted review in full: its findings by severity (text from the pull request or a
/// model: escaped, clipped by the store), what was not reviewed and why, what it used.
fn review_detail(
    body: &mut Html,
    r: &ReviewRow,
    findings: &[StoredFinding],
    notes: &[StoredNote],
    now: i64,
) {
    let rec = &r.record;
    body.raw("<article class=\"review-detail\"")
        .attr("id", &format!("review-{}", rec.id))
        .attr("data-review-id", &rec.review_id.to_string())
        .attr("data-findings", &rec.findings.to_string())
        .raw("><h3>Review of <code>")
        .text(clip(&rec.head_sha, 7))
        .raw("</code> <span class=\"sub muted\">")
        .time(rec.created_at, now)
        .raw("</span></h3><p>");
    body.link(&rec.review_url, "review-link", "View on GitHub");
    body.raw(" · ").num(rec.findings).raw(if rec.findings == 1 {
        " finding "
    } else {
        " findings "
    });
    let Some(counts) = rec.severities() else {
        body.raw("</p><p class=\"note\">Recorded before this server kept findings: their text is on GitHub.</p></article>");
        return;
    };
    severity_chips(body, counts);
    body.raw("</p>");
    if rec.findings == 0 {
        body.raw("<p class=\"note no-findings\">No findings.</p>");
    }
    for (i, sev) in SEVERITIES.iter().enumerate() {
        if counts[i] == 0 {
            continue;
        }
        let mine: Vec<&StoredFinding> = findings.iter().filter(|f| f.severity == *sev).collect();
        body.raw("<h4>")
            .text(&format!("{}{}", sev[..1].to_uppercase(), &sev[1..]))
            .raw(" <span class=\"muted\">(")
            .num(counts[i])
            .raw(")</span></h4><ul class=\"findings\"")
            .attr("data-severity", sev)
            .raw(">");
        for f in &mine {
            let place = match f.end_line {
                Some(end) => format!("{}:{}-{end}", f.path, f.line),
                None => format!("{}:{}", f.path, f.line),
            };
            body.raw("<li class=\"finding\"><code class=\"place\">")
                .text(&place)
                .raw("</code> ")
                .prose(&f.title)
                .raw(" <code class=\"rule muted\">")
                .text(if f.source == "llm" && f.rule.is_empty() {
                    "ai"
                } else {
                    f.rule.as_str()
                })
                .raw("</code> <span class=\"tag\">")
                .raw(match (f.source.as_str(), f.inline) {
                    ("llm", true) => "AI · inline",
                    ("llm", false) => "AI · in the summary",
                    (_, true) => "inline",
                    (_, false) => "in the summary",
                })
                .raw("</span></li>");
        }
        let missing = counts[i] - mine.len() as i64;
        if missing > 0 {
            body.raw("<li class=\"muted\">")
                .num(missing)
                .raw(" more not kept here (this server keeps a review's first ")
                .num(crate::store::details::MAX_STORED_FINDINGS as i64)
                .raw("); all are on GitHub.</li>");
        }
        body.raw("</ul>");
    }
    fn of_kind<'n>(notes: &'n [StoredNote], kinds: &[&str]) -> Vec<&'n StoredNote> {
        notes
            .iter()
            .filter(|n| kinds.contains(&n.kind.as_str()))
            .collect()
    }
    for n in of_kind(notes, &["ai", "incremental", "full"]) {
        body.raw("<p class=\"muted review-scope\">")
            .raw(if n.kind == "ai" { "AI: " } else { "Scope: " })
            .text(&n.label);
        if !n.detail.is_empty() {
            body.raw(" — ").text(&n.detail);
        }
        body.raw("</p>");
    }
    let skipped = of_kind(notes, &["skipped"]);
    body.raw("<h4>Not reviewed</h4>");
    if skipped.is_empty() {
        body.raw("<p class=\"note no-skipped\">Every changed file was reviewed.</p>");
    } else {
        body.raw("<ul class=\"notes skipped\">");
        for n in skipped {
            body.raw("<li><code>")
                .text(&n.label)
                .raw("</code> — ")
                .text(&n.detail)
                .raw("</li>");
        }
        body.raw("</ul>");
    }
    let context = of_kind(
        notes,
        &[
            "linear",
            "sentry",
            "mcp",
            "graph",
            "memories",
            "unavailable",
        ],
    );
    body.raw("<h4>Context used</h4>");
    if context.is_empty() {
        body.raw("<p class=\"note no-context\">None: the knowledge graph, memories and MCP servers had nothing on this pull request (or none is configured).</p>");
    } else {
        body.raw("<ul class=\"notes context\">");
        for n in context {
            body.raw("<li")
                .attr("data-kind", &n.kind)
                .raw("><span class=\"tag\">")
                .raw(match n.kind.as_str() {
                    "linear" => "Linear",
                    "sentry" => "Sentry",
                    "mcp" => "MCP",
                    "graph" => "Knowledge graph",
                    "memories" => "Memories",
                    _ => "Unavailable",
                })
                .raw("</span> ")
                .text(&n.label);
            if !n.detail.is_empty() {
                body.raw(" — ").text(&n.detail);
            }
            body.raw("</li>");
        }
        body.raw("</ul>");
    }
    body.raw("</article>");
}

// ---------------------------------------------------------------------------------------
// GET /events
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(super) struct EventsQuery {
    status: Option<String>,
    repo: Option<String>,
    kind: Option<String>,
    noise: Option<String>,
    page: Option<String>,
}

const STATUSES: [(EventStatus, &str); 6] = [
    (EventStatus::Pending, "Queued"),
    (EventStatus::Running, "Running"),
    (EventStatus::Done, "Done"),
    (EventStatus::Failed, "Failed"),
    (EventStatus::Ignored, "Ignored"),
    (EventStatus::Duplicate, "Duplicate"),
];
const KINDS: [&str; 2] = ["pull_request", "issues"];

/// The query string of `/events` for these filters (values are checked, so need no escaping
/// beyond what `attr` does).
fn events_href(filter: &EventFilter, page: i64) -> String {
    let mut q: Vec<String> = Vec::new();
    if let Some(s) = filter.status {
        q.push(format!("status={s}"));
    }
    if let Some(r) = &filter.repo {
        q.push(format!("repo={r}"));
    }
    if let Some(k) = &filter.event {
        q.push(format!("kind={k}"));
    }
    if !filter.hide_noise {
        q.push("noise=1".into());
    }
    if page > 1 {
        q.push(format!("page={page}"));
    }
    if q.is_empty() {
        "/events".into()
    } else {
        format!("/events?{}", q.join("&"))
    }
}

pub(super) async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let status = q.status.as_deref().and_then(|s| {
        STATUSES
            .iter()
            .find(|(st, _)| st.as_str() == s)
            .map(|(st, _)| *st)
    });
    let kind = q
        .kind
        .as_deref()
        .filter(|k| KINDS.contains(k))
        .map(str::to_owned);
    let repo_filter = q
        .repo
        .as_deref()
        .filter(|r| valid_full_name(r).is_some())
        .map(str::to_owned);
    // Noise is collapsed unless asked for, or the status filter asks for it by name.
    let show_noise = q.noise.as_deref().is_some_and(|v| v == "1" || v == "on")
        || matches!(status, Some(EventStatus::Ignored | EventStatus::Duplicate));
    let page = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=100_000).contains(p))
        .unwrap_or(1);
    let filter = EventFilter {
        status,
        repo: repo_filter,
        event: kind,
        pr_number: None,
        hide_noise: !show_noise,
    };
    let path = events_href(&filter, page);
    let ctx = match signed_in(&state, &headers, &path).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let user = ctx.su.user.clone();
    let offset = (page - 1) * EVENTS_SHOWN;
    let (rows, total, mine) = tokio::join!(
        state
            .store
            .events_page_for_user(user.id, &filter, EVENTS_SHOWN, offset),
        state.store.count_events_for_user(user.id, &filter),
        state.store.installations_for_user(user.id),
    );
    let (rows, total, mine) = match (rows, total, mine) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return internal_page(&e.into()),
    };
    let live = rows.iter().any(|e| is_live(e.summary.status));

    let mut body = Html::default();
    flash_box(&mut body, ctx.flash.as_ref());
    body.raw("<section id=\"events\"><h2>Events</h2>");
    body.raw("<form class=\"filters\" method=\"get\" action=\"/events\" id=\"filters\"><label>Status<select name=\"status\"><option value=\"\">Any</option>");
    for (st, label) in STATUSES {
        body.raw("<option").attr("value", st.as_str());
        if status == Some(st) {
            body.raw(" selected");
        }
        body.raw(">").raw(label).raw("</option>");
    }
    body.raw(
        "</select></label><label>Repository<select name=\"repo\"><option value=\"\">Any</option>",
    );
    for i in &mine {
        body.raw("<option").attr("value", &i.repo);
        if filter
            .repo
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(&i.repo))
        {
            body.raw(" selected");
        }
        body.raw(">").text(&i.repo).raw("</option>");
    }
    body.raw("</select></label><label>Kind<select name=\"kind\"><option value=\"\">Any</option>");
    for k in KINDS {
        body.raw("<option").attr("value", k);
        if filter.event.as_deref() == Some(k) {
            body.raw(" selected");
        }
        body.raw(">").raw(k).raw("</option>");
    }
    body.raw("</select></label><label class=\"check\"><input type=\"checkbox\" name=\"noise\" value=\"1\"");
    if show_noise {
        body.raw(" checked");
    }
    body.raw("> Include ignored, duplicate and recorded</label><button type=\"submit\" class=\"secondary\" id=\"apply-filters\">Apply</button></form>");

    let first = if total == 0 { 0 } else { offset + 1 };
    let last = offset + rows.len() as i64;
    body.raw("<p class=\"muted\" id=\"events-total\"")
        .attr("data-total", &total.to_string())
        .raw(">");
    if total == 0 {
        body.raw("No events match.");
    } else {
        body.raw("Showing ")
            .num(first)
            .raw("–")
            .num(last)
            .raw(" of ")
            .num(total)
            .raw(if total == 1 { " event." } else { " events." });
    }
    body.raw("</p>");
    if !rows.is_empty() {
        let table = Table {
            now: ctx.now,
            server_url: &state.config.server_url,
            csrf: ctx.csrf(),
            back: &path,
        };
        events_table(&mut body, &rows, &table);
    }
    body.raw("<nav class=\"pager\" aria-label=\"Pages\">");
    if page > 1 {
        body.raw("<a")
            .attr("href", &events_href(&filter, page - 1))
            .raw(" rel=\"prev\" id=\"newer\">← Newer</a>");
    }
    if last < total {
        body.raw("<a")
            .attr("href", &events_href(&filter, page + 1))
            .raw(" rel=\"next\" id=\"older\">Older →</a>");
    }
    body.raw("</nav></section>");
    finish(ctx, "Events — Nectr", Nav::Events, &body, live)
}

// ---------------------------------------------------------------------------------------
// GET /team
// ---------------------------------------------------------------------------------------

/// Monday 00:00 UTC of the week holding `secs`.
fn week_start(secs: i64) -> i64 {
    // 1970-01-05 was a Monday.
    const MONDAY: i64 = 4 * 86_400;
    secs - (secs - MONDAY).rem_euclid(WEEK)
}

/// The value at quantile `q` (0..=1) of sorted `v`, nearest rank.
fn quantile(v: &[i64], q: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

pub(super) async fn team(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let ctx = match signed_in(&state, &headers, "/team").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let user = ctx.su.user.clone();
    let since = week_start(ctx.now) - (TEAM_WEEKS - 1) * WEEK;
    let (reviews, dismissed) = tokio::join!(
        state
            .store
            .reviews_for_user(user.id, None, None, since, REVIEWS_READ),
        state
            .store
            .dismissed_rules_for_user(user.id, since, DISMISSED_SHOWN),
    );
    let (reviews, dismissed) = match (reviews, dismissed) {
        (Ok(r), Ok(d)) => (r, d),
        (Err(e), _) | (_, Err(e)) => return internal_page(&e.into()),
    };
    let posted: Vec<&ReviewRow> = reviews.iter().filter(|r| !r.reused).collect();
    // (week, repo) → (reviews, findings), newest week first.
    let mut weekly: BTreeMap<(std::cmp::Reverse<i64>, String), (i64, i64)> = BTreeMap::new();
    let mut waits: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut all_waits: Vec<i64> = Vec::new();
    for r in &posted {
        let key = (
            std::cmp::Reverse(week_start(r.record.created_at)),
            r.record.repo.clone(),
        );
        let e = weekly.entry(key).or_default();
        e.0 += 1;
        e.1 += r.record.findings;
        if let Some(d) = r.delivered_at {
            let wait = (r.record.created_at - d).max(0);
            waits.entry(r.record.repo.clone()).or_default().push(wait);
            all_waits.push(wait);
        }
    }
    all_waits.sort_unstable();
    let total_findings: i64 = posted.iter().map(|r| r.record.findings).sum();
    // By severity, over the reviews that recorded it (all since migration 0004).
    let mut by_severity = [0i64; 4];
    for counts in posted.iter().filter_map(|r| r.record.severities()) {
        for (total, n) in by_severity.iter_mut().zip(counts) {
            *total += n;
        }
    }

    let mut body = Html::default();
    flash_box(&mut body, ctx.flash.as_ref());
    body.raw("<section id=\"team\"><h2>What Nectr did <span class=\"sub\">the last ")
        .num(TEAM_WEEKS)
        .raw(" weeks, your connected repositories</span></h2><div class=\"stats\">");
    let median = quantile(&all_waits, 0.5).map(duration_text);
    let p90 = quantile(&all_waits, 0.9).map(duration_text);
    for (id, label, value, count) in [
        (
            "stat-reviews",
            "reviews posted",
            posted.len().to_string(),
            Some(posted.len() as i64),
        ),
        (
            "stat-findings",
            "findings",
            total_findings.to_string(),
            Some(total_findings),
        ),
        (
            "stat-median",
            "median delivery to review",
            median.unwrap_or_else(|| "—".into()),
            None,
        ),
        (
            "stat-p90",
            "90% reviewed within",
            p90.unwrap_or_else(|| "—".into()),
            None,
        ),
    ] {
        body.raw("<div class=\"stat\"").attr("id", id);
        if let Some(n) = count {
            body.attr("data-count", &n.to_string());
        }
        body.raw("><strong>")
            .text(&value)
            .raw("</strong>")
            .text(label)
            .raw("</div>");
    }
    body.raw("</div><p class=\"by-severity\" id=\"team-severities\"><span class=\"muted\">By severity: </span>");
    if by_severity.iter().all(|n| *n == 0) {
        body.raw("<span class=\"muted\">none</span>");
    }
    severity_chips(&mut body, by_severity);
    body.raw("</p></section><section id=\"weekly\"><h2>Reviews and findings per week</h2>");
    if weekly.is_empty() {
        body.raw("<p class=\"note\" id=\"no-reviews\">No reviews in these weeks yet.</p>");
    } else {
        body.raw("<table class=\"weekly stack\"><thead><tr><th>Week of</th><th>Repository</th><th class=\"num\">Reviews</th><th class=\"num\">Findings</th><th class=\"num\">Findings per review</th></tr></thead><tbody>");
        for ((std::cmp::Reverse(week), repo), (n, f)) in &weekly {
            body.raw("<tr class=\"week\"")
                .attr("data-repo", repo)
                .attr("data-week", &super::html::rfc3339(*week)[..10])
                .raw("><td data-label=\"Week of\">")
                .text(&super::html::format_time(*week)[..10])
                .raw("</td><td data-label=\"Repository\">")
                .text(repo)
                .raw("</td><td class=\"num reviews\" data-label=\"Reviews\">")
                .num(*n)
                .raw("</td><td class=\"num findings\" data-label=\"Findings\">")
                .num(*f)
                .raw("</td><td class=\"num\" data-label=\"Findings per review\">")
                .text(&format!("{:.1}", *f as f64 / (*n).max(1) as f64))
                .raw("</td></tr>");
        }
        body.raw("</tbody></table>");
    }
    body.raw("</section><section id=\"latency\"><h2>Time from delivery to review</h2>");
    if waits.is_empty() {
        body.raw("<p class=\"note\">No reviews with a recorded delivery yet.</p>");
    } else {
        body.raw("<table class=\"latency stack\"><thead><tr><th>Repository</th><th class=\"num\">Reviews</th><th class=\"num\">Median</th><th class=\"num\">90th percentile</th><th class=\"num\">Slowest</th></tr></thead><tbody>");
        for (repo, v) in &mut waits {
            v.sort_unstable();
            body.raw("<tr")
                .attr("data-repo", repo)
                .raw("><td data-label=\"Repository\">")
                .text(repo)
                .raw("</td><td class=\"num\" data-label=\"Reviews\">")
                .num(v.len() as i64)
                .raw("</td><td class=\"num\" data-label=\"Median\">")
                .text(&quantile(v, 0.5).map(duration_text).unwrap_or_default())
                .raw("</td><td class=\"num\" data-label=\"90th percentile\">")
                .text(&quantile(v, 0.9).map(duration_text).unwrap_or_default())
                .raw("</td><td class=\"num\" data-label=\"Slowest\">")
                .text(&v.last().copied().map(duration_text).unwrap_or_default())
                .raw("</td></tr>");
        }
        body.raw("</tbody></table>");
    }
    body.raw("</section>");
    dismissed_section(&mut body, &dismissed, ctx.now);
    finish(ctx, "Team — Nectr", Nav::Team, &body, false)
}

/// The rules people dismissed most in Nectr's threads, per repository: what to tune.
fn dismissed_section(body: &mut Html, dismissed: &[DismissedRule], now: i64) {
    body.raw("<section id=\"dismissed\"><h2>Most-dismissed rules <span class=\"sub\">findings people answered with “false positive”, “intended” or <code>/nectr ignore</code></span></h2>");
    if dismissed.is_empty() {
        body.raw("<p class=\"note\" id=\"no-dismissals\">Nobody dismissed a finding in these weeks.</p></section>");
        return;
    }
    body.raw("<table class=\"dismissed stack\"><thead><tr><th>Repository</th><th>Rule</th><th class=\"num\">Dismissals</th><th class=\"num\">Files</th><th>Last</th></tr></thead><tbody>");
    for d in dismissed {
        body.raw("<tr class=\"dismissed-rule\"")
            .attr("data-repo", &d.repo)
            .attr("data-rule", &d.rule)
            .attr("data-count", &d.dismissals.to_string())
            .raw("><td data-label=\"Repository\">")
            .text(&d.repo)
            .raw("</td><td data-label=\"Rule\"><code>")
            .text(&d.rule)
            .raw("</code></td><td class=\"num\" data-label=\"Dismissals\">")
            .num(d.dismissals)
            .raw("</td><td class=\"num\" data-label=\"Files\">")
            .num(d.paths)
            .raw("</td><td data-label=\"Last\"><code>")
            .text(&d.last_path)
            .raw("</code> ")
            .time(d.last_at, now)
            .raw("</td></tr>");
    }
    body.raw("</tbody></table><p class=\"muted\">Nectr already stops raising a rule on a file where it keeps being dismissed (when it has a memory store). A rule dismissed across many files is worth tuning for the whole repository: <code>rules.disable</code> or <code>rules.severity</code> in <code>.nectr.yml</code> (docs/rules.md).</p></section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_utc() {
        // 2024-01-03 (a Wednesday) 12:00 → Monday 2024-01-01 00:00.
        assert_eq!(week_start(1_704_283_200), 1_704_067_200);
        assert_eq!(week_start(1_704_067_200), 1_704_067_200);
        assert_eq!(week_start(1_704_067_199), 1_704_067_200 - WEEK);
    }

    #[test]
    fn quantiles_use_the_nearest_rank() {
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[5], 0.9), Some(5));
        assert_eq!(quantile(&[1, 2, 3, 4], 0.5), Some(2));
        assert_eq!(quantile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), Some(9));
    }

    #[test]
    fn pull_request_details_come_from_the_payload() {
        let info = pr_info(
            br#"{"pull_request":{"title":"Fix <b>","user":{"login":"mona"},"state":"closed","merged":true,"draft":false}}"#,
        );
        assert_eq!(info.title.as_deref(), Some("Fix <b>"));
        assert_eq!(info.author.as_deref(), Some("mona"));
        assert_eq!(info.state.as_deref(), Some("merged"));
        assert!(pr_info(b"not json").title.is_none());
    }

    #[test]
    fn event_links_keep_their_filters() {
        let f = EventFilter {
            status: Some(EventStatus::Failed),
            repo: Some("octo/beta".into()),
            event: None,
            pr_number: None,
            hide_noise: false,
        };
        assert_eq!(
            events_href(&f, 2),
            "/events?status=failed&repo=octo/beta&noise=1&page=2"
        );
        assert_eq!(
            events_href(
                &EventFilter {
                    hide_noise: true,
                    ..EventFilter::default()
                },
                1
            ),
            "/events"
        );
    }
}
