//! The dashboard: server-rendered HTML over the store and the same operations as the JSON
//! API. No JavaScript; every change is a plain `<form method="post">`, and pages with work
//! in progress refresh themselves with a `<meta http-equiv="refresh">`.
//!
//! Pages (`pages.rs`):
//! - `GET /` — signed out: "Login with GitHub" (or how to configure login). Signed in: the
//!   user's repositories (state, webhook health checked against GitHub, last review,
//!   findings this week, Connect / Disconnect / Reconnect) and the recent events that need
//!   attention (ignored, duplicate and recorded ones collapsed into one line).
//! - `GET /repos/{owner}/{name}` — a connected repository: its pull requests, newest first,
//!   with title, author, status and findings; the actions taken on it.
//! - `GET /repos/{owner}/{name}/pull/{number}` — every review Nectr posted on the pull
//!   request with its findings and GitHub link, every delivery with what was skipped and why,
//!   the actions taken, and Re-review.
//! - `GET /events?status=&repo=&kind=&noise=&page=` — all events, filtered and paged.
//! - `GET /team` — reviews and findings per week per repository, time from delivery to review.
//!
//! Actions (all `POST`, all with the session's CSRF token, all recorded in
//! `dashboard_actions`, each answering 303 back to the page with a flash message):
//! `…/connect`, `…/disconnect`, `…/reconnect` (a new webhook when GitHub lost it),
//! `/events/{id}/retry` (a failed event back to the queue) and
//! `/repos/{owner}/{name}/pull/{number}/rereview` (a new event for the PR's head, reviewed
//! even though a review of that head exists).
//!
//! Invariants:
//! - Untrusted text (anything from GitHub, webhook payloads, errors, cookies) reaches a page
//!   only escaped: pages are built with [`html::Html`], whose only way to add markup takes a
//!   `&'static str` literal; everything else goes through `text` / `attr`, which escape.
//!   Outside links are written only for `http(s)://` URLs.
//! - A form post changes something only with a live session, the session's CSRF token
//!   (compared in constant time) and no `Sec-Fetch-Site: cross-site`; otherwise it answers
//!   401 / 403 and touches neither GitHub nor the database.
//! - A user sees and acts on only the repositories they connected (their installations).
//! - Every answer carries [`CONTENT_SECURITY_POLICY`] (no scripts at all, forms only to this
//!   origin, no framing), `X-Frame-Options: DENY`, `Referrer-Policy: same-origin` and
//!   `Cache-Control: no-store`.
//! - Errors a browser sees are styled pages ([`error_page`]); API clients get JSON.
//!
//! API boundary: the dashboard owns only these routes. Login, the callback and
//! `POST /auth/logout` belong to the auth module; the logout form posts `csrf_token` as a
//! form field there and expects to be sent back to `/`.

mod health;
mod html;
mod pages;

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::HeaderName;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::http::ApiError;
use super::repos::{self, RepoView};
use super::session::{self, constant_time_eq};
use super::{AppState, now};
use crate::store::{EventStatus, NewDashboardAction, NewInstallation, SessionUser, User};
use html::{Html, clip, document};

pub use html::{escape, escape_into, format_time, plain_failure, relative_time};

/// The policy on every dashboard answer. Styles are inline in the page; nothing else loads.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
/// The cookie carrying the outcome of a form post to the next page.
pub const FLASH_COOKIE: &str = "nectr_flash";
/// The `action` of an event queued by Re-review: the worker reviews it even when a review
/// of its head is already on the pull request.
pub const REREVIEW_ACTION: &str = "rereview";
/// How long a flash message waits to be shown.
const FLASH_SECS: i64 = 60;
/// The longest flash message kept (bytes), so the cookie stays small.
const MAX_FLASH_LEN: usize = 600;
/// Events per page of `/events`, and the most the overview lists.
pub const EVENTS_SHOWN: i64 = 50;
/// How often a page with queued or running work reloads itself.
pub const LIVE_REFRESH_SECS: u32 = 5;

const LOGIN_PATH: &str = "/auth/github/login";

/// The dashboard's routes, merged into [`super::router`].
pub fn routes() -> Router<super::AppState> {
    Router::new()
        .route("/", get(pages::index))
        .route("/events", get(pages::events))
        .route("/team", get(pages::team))
        .route("/repos/{owner}/{name}", get(pages::repository))
        .route("/repos/{owner}/{name}/pull/{number}", get(pages::pull))
        .route("/repos/{owner}/{name}/connect", post(connect))
        .route("/repos/{owner}/{name}/disconnect", post(disconnect))
        .route("/repos/{owner}/{name}/reconnect", post(reconnect))
        .route(
            "/repos/{owner}/{name}/pull/{number}/rereview",
            post(rereview),
        )
        .route("/repos/{owner}/{name}/settings", post(save_settings))
        .route("/events/{id}/retry", post(retry))
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

fn security_headers(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn html_response(status: StatusCode, html: String, cookies: &[HeaderValue]) -> Response {
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    for cookie in cookies {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    security_headers(&mut response);
    response
}

/// 303 to `path` (a checked local path), with the outcome as a flash cookie.
fn redirect_with(path: &str, flash: HeaderValue) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let location = HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/"));
    response.headers_mut().insert(header::LOCATION, location);
    response.headers_mut().append(header::SET_COOKIE, flash);
    security_headers(&mut response);
    response
}

/// A styled page saying what went wrong and what to do, with a way back. Text quoted in
/// backticks shows as code.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut body = Html::default();
    body.raw("<section class=\"refused\" id=\"error\"><h2>")
        .text(title)
        .raw("</h2><p id=\"message\">")
        .prose(message)
        .raw("</p><p><a href=\"/\" id=\"back-home\">Back to the dashboard</a> · <a href=\"")
        .raw(LOGIN_PATH)
        .raw("\">Sign in with GitHub</a></p></section>");
    let mut header = Html::default();
    header.raw("<nav aria-label=\"Main\"><a href=\"/\">Overview</a></nav>");
    html_response(
        status,
        document(&format!("{title} — Nectr"), &header, &body, None),
        &[],
    )
}

/// [`error_page`] with the status's own name as the title.
pub fn api_error_page(error: &ApiError) -> Response {
    let title = match error.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::UNAUTHORIZED => "Not signed in",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::BAD_REQUEST => "Bad request",
        s if s.is_server_error() => "Something went wrong",
        s => s.canonical_reason().unwrap_or("Error"),
    };
    error_page(error.status, title, &error.message)
}

fn internal_page(e: &ApiError) -> Response {
    error_page(
        e.status,
        "Something went wrong",
        &format!("{} Try again in a moment.", e.message),
    )
}

/// The router's fallback: a styled 404 page for a browser, the JSON error for API clients.
pub async fn not_found(headers: HeaderMap) -> Response {
    if super::auth::wants_html(&headers) {
        error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no page at this address. The dashboard starts at the overview; repositories are under /repos/OWNER/NAME, all events under /events.",
        )
    } else {
        super::http::not_found().await.into_response()
    }
}

// ---------------------------------------------------------------------------------------
// Flash messages
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlashKind {
    Ok,
    Err,
}

/// The `Set-Cookie` carrying a flash message (base64url, so any text fits a cookie value).
fn flash_cookie(kind: FlashKind, message: &str, secure: bool) -> HeaderValue {
    let tag = match kind {
        FlashKind::Ok => "ok",
        FlashKind::Err => "err",
    };
    let value = format!(
        "{tag}.{}",
        URL_SAFE_NO_PAD.encode(clip(message, MAX_FLASH_LEN))
    );
    session::set_cookie(FLASH_COOKIE, &value, FLASH_SECS, secure)
}

/// The flash message the request carries, if any and well-formed.
fn read_flash(headers: &HeaderMap) -> Option<(FlashKind, String)> {
    let value = session::cookie(headers, FLASH_COOKIE)?;
    let (tag, data) = value.split_once('.')?;
    let kind = match tag {
        "ok" => FlashKind::Ok,
        "err" => FlashKind::Err,
        _ => return None,
    };
    let bytes = URL_SAFE_NO_PAD.decode(data).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some((kind, clip(&text, MAX_FLASH_LEN).to_owned()))
}

// ---------------------------------------------------------------------------------------
// Small pure helpers
// ---------------------------------------------------------------------------------------

/// `owner/name` when both parts are names GitHub allows (so they are safe in a path).
pub fn valid_full_name(full_name: &str) -> Option<(&str, &str)> {
    let (owner, name) = full_name.split_once('/')?;
    valid_owner(owner).then_some(())?;
    valid_repo_name(name).then_some(())?;
    Some((owner, name))
}

fn valid_owner(owner: &str) -> bool {
    (1..=39).contains(&owner.len())
        && owner
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_repo_name(name: &str) -> bool {
    (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `X-OAuth-Scopes`-style text (`repo, read:user`) grants `want`.
pub fn has_scope(scopes: &str, want: &str) -> bool {
    scopes
        .split([',', ' '])
        .map(str::trim)
        .any(|s| s.eq_ignore_ascii_case(want))
}

fn is_mine(repo: &RepoView, user: &User) -> bool {
    repo.connected
        && repo
            .connected_by
            .as_deref()
            .is_some_and(|login| login.eq_ignore_ascii_case(&user.login))
}

/// A form's `back` field when it is a path of this site (`/…`, not `//…`), else `/`.
fn safe_back(back: Option<&str>) -> &str {
    match back {
        Some(b)
            if b.starts_with('/')
                && !b.starts_with("//")
                && !b.starts_with("/\\")
                && b.len() <= 512
                && b.bytes().all(|c| c.is_ascii_graphic()) =>
        {
            b
        }
        _ => "/",
    }
}

/// The dashboard's path of a repository (`owner/name` already checked).
fn repo_path(owner: &str, name: &str) -> String {
    format!("/repos/{owner}/{name}")
}

// ---------------------------------------------------------------------------------------
// Form posts
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    /// The page to go back to.
    #[serde(default)]
    back: Option<String>,
}

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The signed-in user of a form post that carries the session's CSRF token and does not
/// come from another site; otherwise the page that refuses it.
async fn authorize_post(
    state: &AppState,
    headers: &HeaderMap,
    form: &Result<Form<ActionForm>, FormRejection>,
) -> Result<SessionUser, Response> {
    let token = form.as_ref().ok().map(|Form(f)| f.csrf_token.as_str());
    authorize_post_token(state, headers, token).await
}

/// [`authorize_post`] for a form of another shape: `token` is its `csrf_token` field
/// (`None` when the body did not parse).
async fn authorize_post_token(
    state: &AppState,
    headers: &HeaderMap,
    token: Option<&str>,
) -> Result<SessionUser, Response> {
    let su = match session::current(state, headers).await {
        Ok(Some(su)) => su,
        Ok(None) => {
            return Err(error_page(
                StatusCode::UNAUTHORIZED,
                "Not signed in",
                "You are not signed in, or your session has ended. Nothing was changed: open the dashboard and sign in again.",
            ));
        }
        Err(e) => return Err(internal_page(&e)),
    };
    let cross_site = headers
        .get(SEC_FETCH_SITE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let token_ok = token.is_some_and(|t| {
        !t.is_empty() && constant_time_eq(t.as_bytes(), su.session.csrf_token.as_bytes())
    });
    if cross_site || !token_ok {
        tracing::warn!(user = %su.user.login, cross_site, "dashboard: form post refused (missing or wrong csrf_token)");
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form did not come from your current dashboard page (its security token is missing or wrong), so nothing was changed. Go back to the dashboard, reload it and try again.",
        ));
    }
    Ok(su)
}

fn bad_repo_name() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "No such repository",
        "That is not a GitHub repository name; nothing was changed.",
    )
}

fn back_of(form: &Result<Form<ActionForm>, FormRejection>) -> String {
    let back = form.as_ref().ok().and_then(|Form(f)| f.back.as_deref());
    safe_back(back).to_owned()
}

/// Records a dashboard action; a failure to record is logged, not shown (the action itself
/// happened).
async fn record(state: &AppState, action: NewDashboardAction) {
    tracing::info!(user_id = action.user_id, action = %action.action, repo = %action.repo, pr = ?action.pr_number, event = ?action.event_id, "dashboard action");
    if let Err(e) = state.store.record_dashboard_action(&action, now()).await {
        tracing::error!(error = %e, "dashboard: cannot record an action");
    }
}

#[derive(Clone, Copy)]
enum Change {
    Connect,
    Disconnect,
    Reconnect,
}

async fn connect(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    change(state, owner, name, headers, form, Change::Connect).await
}

async fn disconnect(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    change(state, owner, name, headers, form, Change::Disconnect).await
}

async fn reconnect(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    change(state, owner, name, headers, form, Change::Reconnect).await
}

async fn change(
    state: AppState,
    owner: String,
    name: String,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
    change: Change,
) -> Response {
    let su = match authorize_post(&state, &headers, &form).await {
        Ok(su) => su,
        Err(refused) => return refused,
    };
    if !valid_owner(&owner) || !valid_repo_name(&name) {
        return bad_repo_name();
    }
    let back = back_of(&form);
    let repo = format!("{owner}/{name}");
    let secure = state.config.secure_cookies();
    let flash = match change {
        Change::Connect => match repos::connect(&state, &su.user, &repo).await {
            Ok(installation) => flash_cookie(
                FlashKind::Ok,
                &format!(
                    "Connected {}: Nectr now reviews its pull requests.",
                    installation.repo
                ),
                secure,
            ),
            Err(e) => flash_cookie(
                FlashKind::Err,
                &format!("Could not connect {repo}: {}", e.message),
                secure,
            ),
        },
        Change::Disconnect => match repos::disconnect(&state, &su.user, &repo).await {
            Ok(()) => {
                health::forget(&repo);
                flash_cookie(
                    FlashKind::Ok,
                    &format!(
                        "Disconnected {repo}: its webhook is removed and Nectr no longer reviews it."
                    ),
                    secure,
                )
            }
            Err(e) => flash_cookie(
                FlashKind::Err,
                &format!("Could not disconnect {repo}: {}", e.message),
                secure,
            ),
        },
        Change::Reconnect => match reconnect_repo(&state, &su.user, &repo).await {
            Ok(message) => flash_cookie(FlashKind::Ok, &message, secure),
            Err(e) => flash_cookie(
                FlashKind::Err,
                &format!("Could not reconnect {repo}: {}", e.message),
                secure,
            ),
        },
    };
    redirect_with(&back, flash)
}

/// Gives a connected repository a new webhook when GitHub no longer has (or no longer
/// sends with) the one Nectr installed; the installation keeps its row, gets the new hook id
/// and a new secret. A healthy hook is left alone.
async fn reconnect_repo(state: &AppState, user: &User, repo: &str) -> Result<String, ApiError> {
    let Some(existing) = state.store.active_installation_for_repo(repo).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{repo} is not connected; use Connect instead"),
        ));
    };
    if existing.user.id != user.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} was connected by @{}; only they can reconnect it",
                existing.installation.repo, existing.user.login
            ),
        ));
    }
    let installation = existing.installation;
    let repo = installation.repo.clone();
    let gh = repos::github_for(state, user)?;
    let hooks = match gh.list_hooks(&repo).await {
        Ok(h) => h,
        Err(e) => return Err(repos::github_error(state, user, e).await),
    };
    let old = hooks
        .iter()
        .find(|h| h.id as i64 == installation.webhook_id);
    if old.is_some_and(|h| h.active) {
        health::forget(&repo);
        return Ok(format!(
            "The webhook of {repo} (#{}) is in place and active; nothing to reconnect.",
            installation.webhook_id
        ));
    }
    if old.is_some() {
        // Switched off on GitHub: replace it rather than leave two hooks behind.
        if let Err(e) = gh.delete_hook(&repo, installation.webhook_id as u64).await {
            return Err(repos::github_error(state, user, e).await);
        }
    }
    let secret = session::random_hex(32)?;
    let hook = match gh
        .create_hook(
            &repo,
            &repos::payload_url(state),
            &secret,
            &super::webhook::SUBSCRIBED_EVENTS,
        )
        .await
    {
        Ok(h) => h,
        Err(e) => return Err(repos::github_error(state, user, e).await),
    };
    let new_installation = NewInstallation {
        repo: repo.clone(),
        user_id: user.id,
        webhook_id: hook.id as i64,
        encrypted_webhook_secret: state
            .keyring
            .encrypt(&super::owners::webhook_secret(&repo), secret.as_bytes()),
    };
    if let Err(e) = state
        .store
        .upsert_installation(&new_installation, now())
        .await
    {
        if let Err(cleanup) = gh.delete_hook(&repo, hook.id).await {
            tracing::warn!(%repo, webhook_id = hook.id, error = %cleanup, "could not remove the new webhook after a database error; delete it in the repository's settings");
        }
        return Err(e.into());
    }
    health::forget(&repo);
    record(
        state,
        NewDashboardAction {
            user_id: user.id,
            action: "reconnect".into(),
            repo: repo.clone(),
            pr_number: None,
            event_id: None,
            new_event_id: None,
            detail: Some(format!(
                "webhook #{} {} on GitHub; replaced by #{}",
                installation.webhook_id,
                if old.is_some() {
                    "was inactive"
                } else {
                    "was gone"
                },
                hook.id
            )),
        },
    )
    .await;
    Ok(format!(
        "Reconnected {repo}: a new webhook (#{}) delivers its pull requests to Nectr again.",
        hook.id
    ))
}

async fn retry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let su = match authorize_post(&state, &headers, &form).await {
        Ok(su) => su,
        Err(refused) => return refused,
    };
    let secure = state.config.secure_cookies();
    let back = back_of(&form);
    let not_found = || {
        error_page(
            StatusCode::NOT_FOUND,
            "No such event",
            "There is no event with this number among your repositories' events; nothing was changed.",
        )
    };
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let event = match state.store.get_event(id).await {
        Ok(Some(e)) => e,
        Ok(None) => return not_found(),
        Err(e) => return internal_page(&e.into()),
    };
    match pages::owns_event(&state, &su.user, &event).await {
        Ok(true) => {}
        Ok(false) => return not_found(),
        Err(e) => return internal_page(&e),
    }
    let what = match event.pr_number {
        Some(n) => format!("{} #{n}", event.repo),
        None => event.repo.clone(),
    };
    if event.status != EventStatus::Failed {
        return redirect_with(
            &back,
            flash_cookie(
                FlashKind::Err,
                &format!(
                    "Event {id} ({what}) has not failed (it is {}); nothing to retry.",
                    event.status
                ),
                secure,
            ),
        );
    }
    match state.store.retry_failed_event(id, now()).await {
        Ok(true) => {}
        Ok(false) => {
            return redirect_with(
                &back,
                flash_cookie(
                    FlashKind::Err,
                    &format!("Event {id} ({what}) changed meanwhile; nothing to retry."),
                    secure,
                ),
            );
        }
        Err(e) => return internal_page(&e.into()),
    }
    state.queue_wake.notify_one();
    record(
        &state,
        NewDashboardAction {
            user_id: su.user.id,
            action: "retry".into(),
            repo: event.repo.clone(),
            pr_number: event.pr_number,
            event_id: Some(id),
            new_event_id: None,
            detail: event.error.clone(),
        },
    )
    .await;
    redirect_with(
        &back,
        flash_cookie(
            FlashKind::Ok,
            &format!("Event {id} ({what}) is queued again; this page updates as it runs."),
            secure,
        ),
    )
}

async fn rereview(
    State(state): State<AppState>,
    Path((owner, name, number)): Path<(String, String, String)>,
    headers: HeaderMap,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Response {
    let su = match authorize_post(&state, &headers, &form).await {
        Ok(su) => su,
        Err(refused) => return refused,
    };
    if !valid_owner(&owner) || !valid_repo_name(&name) {
        return bad_repo_name();
    }
    let Ok(number) = number.parse::<i64>() else {
        return bad_repo_name();
    };
    let secure = state.config.secure_cookies();
    let back = back_of(&form);
    let repo = format!("{owner}/{name}");
    let source = match pages::latest_review_event(&state, &su.user, &repo, number).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            return redirect_with(
                &back,
                flash_cookie(
                    FlashKind::Err,
                    &format!(
                        "Nectr has no delivery of {repo} #{number} to review again from; push a commit or reopen the pull request."
                    ),
                    secure,
                ),
            );
        }
        Err(e) => return internal_page(&e),
    };
    let delivery = match session::random_hex(16) {
        Ok(r) => format!("nectr-rereview-{r}"),
        Err(e) => return internal_page(&e),
    };
    let queued = match state
        .store
        .queue_copy_of_event(source.id, &delivery, REREVIEW_ACTION, now())
        .await
    {
        Ok(Some(id)) => id,
        Ok(None) => return internal_page(&ApiError::internal("the source event vanished")),
        Err(e) => return internal_page(&e.into()),
    };
    state.queue_wake.notify_one();
    record(
        &state,
        NewDashboardAction {
            user_id: su.user.id,
            action: REREVIEW_ACTION.into(),
            repo: source.repo.clone(),
            pr_number: Some(number),
            event_id: Some(source.id),
            new_event_id: Some(queued),
            detail: source.head_sha.clone(),
        },
    )
    .await;
    redirect_with(
        &back,
        flash_cookie(
            FlashKind::Ok,
            &format!(
                "{repo} #{number} is queued for a new review (event {queued}); this page updates as it runs."
            ),
            secure,
        ),
    )
}

/// The repository page's settings form. A checkbox that is not ticked is not sent.
#[derive(Debug, Default, Deserialize)]
struct SettingsForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    ai: Option<String>,
    #[serde(default)]
    drafts: Option<String>,
    #[serde(default)]
    on_opened: Option<String>,
    #[serde(default)]
    on_synchronize: Option<String>,
    #[serde(default)]
    on_reopened: Option<String>,
    #[serde(default)]
    on_ready_for_review: Option<String>,
    #[serde(default)]
    on_comments: Option<String>,
}

impl SettingsForm {
    /// The settings the form asks for; `None` when a value is not one the form offers.
    fn settings(&self) -> Option<crate::store::RepoSettings> {
        let ticked = |v: &Option<String>| match v.as_deref() {
            None => Some(false),
            Some("on") | Some("1") | Some("true") => Some(true),
            Some(_) => None,
        };
        Some(crate::store::RepoSettings {
            ai_enabled: ticked(&self.ai)?,
            drafts: crate::store::DraftsSetting::parse(self.drafts.as_deref().unwrap_or(""))?,
            on_opened: ticked(&self.on_opened)?,
            on_synchronize: ticked(&self.on_synchronize)?,
            on_reopened: ticked(&self.on_reopened)?,
            on_ready_for_review: ticked(&self.on_ready_for_review)?,
            on_comments: ticked(&self.on_comments)?,
        })
    }
}

/// `POST /repos/{owner}/{name}/settings`: saves the repository's settings (only the user
/// who connected it) and records what changed in `dashboard_actions`.
async fn save_settings(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<SettingsForm>, FormRejection>,
) -> Response {
    let token = form.as_ref().ok().map(|Form(f)| f.csrf_token.as_str());
    let su = match authorize_post_token(&state, &headers, token).await {
        Ok(su) => su,
        Err(refused) => return refused,
    };
    if !valid_owner(&owner) || !valid_repo_name(&name) {
        return bad_repo_name();
    }
    let path = repo_path(&owner, &name);
    let secure = state.config.secure_cookies();
    let repo = format!("{owner}/{name}");
    let mine = match state.store.installations_for_user(su.user.id).await {
        Ok(list) => list
            .into_iter()
            .find(|i| i.repo.eq_ignore_ascii_case(&repo)),
        Err(e) => return internal_page(&e.into()),
    };
    let Some(installation) = mine else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Not one of your repositories",
            &format!(
                "You have not connected {repo} to Nectr, so you cannot change its settings; nothing was changed. Connect it on the overview page first."
            ),
        );
    };
    let repo = installation.repo;
    let Some(wanted) = form.ok().and_then(|Form(f)| f.settings()) else {
        return redirect_with(
            &path,
            flash_cookie(
                FlashKind::Err,
                "The settings form sent a value it does not offer; nothing was changed. Reload the page and try again.",
                secure,
            ),
        );
    };
    let before = match state.store.repo_settings(&repo).await {
        Ok(s) => s,
        Err(e) => return internal_page(&e.into()),
    };
    let changes = wanted.changes_from(&before);
    if changes.is_empty() {
        return redirect_with(
            &path,
            flash_cookie(
                FlashKind::Ok,
                &format!("The settings of {repo} are unchanged."),
                secure,
            ),
        );
    }
    if let Err(e) = state
        .store
        .save_repo_settings(&repo, &wanted, su.user.id, now())
        .await
    {
        return internal_page(&e.into());
    }
    state.repo_settings.forget(&repo);
    let what = changes.join(", ");
    record(
        &state,
        NewDashboardAction {
            user_id: su.user.id,
            action: "settings".into(),
            repo: repo.clone(),
            pr_number: None,
            event_id: None,
            new_event_id: None,
            detail: Some(what.clone()),
        },
    )
    .await;
    redirect_with(
        &path,
        flash_cookie(
            FlashKind::Ok,
            &format!("Saved the settings of {repo}: {what}. They apply to the next delivery."),
            secure,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_forms_are_read_strictly() {
        let form = SettingsForm {
            drafts: Some("no".into()),
            on_opened: Some("on".into()),
            ..SettingsForm::default()
        };
        let s = form.settings().expect("valid");
        assert!(!s.ai_enabled && s.on_opened && !s.on_comments);
        assert_eq!(s.drafts, crate::store::DraftsSetting::No);
        let bad = SettingsForm {
            drafts: Some("maybe".into()),
            ..SettingsForm::default()
        };
        assert!(bad.settings().is_none());
        let bad = SettingsForm {
            drafts: Some("yes".into()),
            ai: Some("<x>".into()),
            ..SettingsForm::default()
        };
        assert!(bad.settings().is_none());
    }

    #[test]
    fn repository_names_are_checked() {
        assert_eq!(valid_full_name("octo/hello.rs"), Some(("octo", "hello.rs")));
        assert!(valid_full_name("octo/..").is_none());
        assert!(valid_full_name("octo/a/b").is_none());
        assert!(valid_full_name("evil/<script>").is_none());
        assert!(valid_full_name("noslash").is_none());
    }

    #[test]
    fn back_links_stay_on_this_site() {
        assert_eq!(safe_back(Some("/repos/o/r")), "/repos/o/r");
        assert_eq!(
            safe_back(Some("/events?status=failed&page=2")),
            "/events?status=failed&page=2"
        );
        assert_eq!(safe_back(Some("//evil.example/")), "/");
        assert_eq!(safe_back(Some("/\\evil.example/")), "/");
        assert_eq!(safe_back(Some("https://evil.example/")), "/");
        assert_eq!(safe_back(Some("/a b")), "/");
        assert_eq!(safe_back(None), "/");
    }

    #[test]
    fn scopes_are_parsed_like_github_sends_them() {
        assert!(has_scope("repo, read:user", "repo"));
        assert!(has_scope("read:user,repo", "repo"));
        assert!(!has_scope("public_repo, read:user", "repo"));
        assert!(!has_scope("", "repo"));
    }

    #[test]
    fn flash_round_trips_any_text() {
        let cookie = flash_cookie(FlashKind::Err, "no <b>; a=b, \"x\" é", false);
        let pair = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        assert_eq!(
            read_flash(&headers),
            Some((FlashKind::Err, "no <b>; a=b, \"x\" é".to_owned()))
        );
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("nectr_flash=zz.!!"),
        );
        assert_eq!(read_flash(&headers), None);
    }
}
