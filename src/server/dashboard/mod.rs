//! The dashboard: server-rendered HTML over the same operations as the JSON API. No
//! JavaScript; every change is a plain `<form method="post">`.
//!
//! - `GET /` — signed out: a "Login with GitHub" link (or, with login not configured, how to
//!   configure it). Signed in: the user's repositories with Connect / Disconnect forms, and
//!   the recent events with their status, failure or skip reason and review link. Clear
//!   states for a token GitHub no longer accepts, a token without the `repo` scope, and a
//!   repository list GitHub could not deliver (the events still show).
//! - `POST /repos/{owner}/{name}/connect` and `…/disconnect` — the forms' targets. They take
//!   the session's `csrf_token` as a form field, call [`repos::connect`] /
//!   [`repos::disconnect`], and answer 303 to `/` with the outcome in a one-minute flash
//!   cookie that the next `GET /` shows once and clears.
//!
//! Invariants:
//! - Untrusted text (anything from GitHub, webhook payloads, errors, cookies) reaches a page
//!   only escaped: pages are built with [`Html`], whose only way to add markup takes a
//!   `&'static str` literal; everything else goes through `text` / `attr`, which escape.
//!   Outside links are written only for `http(s)://` URLs.
//! - A form post changes something only with a live session, the session's CSRF token
//!   (compared in constant time) and no `Sec-Fetch-Site: cross-site`; otherwise it answers
//!   401 / 403 and touches neither GitHub nor the database.
//! - Every answer carries [`CONTENT_SECURITY_POLICY`] (no scripts at all, forms only to this
//!   origin, no framing), `X-Frame-Options: DENY`, `Referrer-Policy: same-origin` and
//!   `Cache-Control: no-store`.
//!
//! API boundary: the dashboard owns only these routes. Login, the callback and
//! `POST /auth/logout` belong to the auth module; the logout form posts `csrf_token` as a
//! form field there and expects to be sent back to `/`.

use std::fmt::Write as _;

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

use super::AppState;
use super::http::ApiError;
use super::repos::{self, RepoView};
use super::session::{self, constant_time_eq};
use crate::pipeline::history::records_history;
use crate::store::{EventStatus, EventSummary, SessionUser, User};

/// The policy on every dashboard answer. Styles are inline in the page; nothing else loads.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
/// The cookie carrying the outcome of a form post to the next page.
pub const FLASH_COOKIE: &str = "nectr_flash";
/// How long a flash message waits to be shown.
const FLASH_SECS: i64 = 60;
/// The longest flash message kept (bytes), so the cookie stays small.
const MAX_FLASH_LEN: usize = 600;
/// How many recent events the page lists.
pub const EVENTS_SHOWN: i64 = 50;
/// Error texts longer than this show clipped, with the whole text behind a disclosure.
const SHORT_ERROR_LEN: usize = 300;

const LOGIN_PATH: &str = "/auth/github/login";

/// The dashboard's routes, merged into [`super::router`].
pub fn routes() -> Router<super::AppState> {
    Router::new()
        .route("/", get(index))
        .route("/repos/{owner}/{name}/connect", post(connect))
        .route("/repos/{owner}/{name}/disconnect", post(disconnect))
}

// ---------------------------------------------------------------------------------------
// HTML building
// ---------------------------------------------------------------------------------------

/// Appends `s` to `out` with `& < > " '` escaped: safe as element text and inside a
/// double- or single-quoted attribute value.
pub fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// `s` escaped as [`escape_into`] does.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

/// A page under construction. Markup enters only as `&'static str` literals; text and
/// attribute values are always escaped.
#[derive(Default)]
struct Html {
    out: String,
}

impl Html {
    /// Trusted markup. The `'static` bound keeps formatted (possibly untrusted) strings out.
    fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.out.push_str(markup);
        self
    }

    /// Text, escaped.
    fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.out, text);
        self
    }

    fn num(&mut self, n: i64) -> &mut Self {
        let _ = write!(self.out, "{n}");
        self
    }

    /// ` name="value"` with the value escaped.
    fn attr(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        escape_into(&mut self.out, value);
        self.out.push('"');
        self
    }

    /// A link to an outside page when `url` is http(s), else just the text.
    fn link(&mut self, url: &str, class: &'static str, text: &str) -> &mut Self {
        if safe_url(url) {
            self.raw("<a")
                .attr("href", url)
                .raw(" class=\"")
                .raw(class)
                .raw("\" rel=\"noreferrer\">")
                .text(text)
                .raw("</a>")
        } else {
            self.text(text)
        }
    }

    /// A hidden `csrf_token` field.
    fn csrf_field(&mut self, token: &str) -> &mut Self {
        self.raw("<input type=\"hidden\" name=\"csrf_token\"")
            .attr("value", token)
            .raw(">")
    }
}

/// Only absolute http(s) URLs become links (never `javascript:`, `data:` or relative ones).
fn safe_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

const STYLE: &str = r#"
:root{color-scheme:light}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{display:flex;justify-content:space-between;align-items:center;gap:16px;padding:12px 24px;background:#24292f;color:#fff}
header h1{font-size:20px;margin:0}
header h1 a{text-decoration:none}
header a{color:#fff}
.who{display:flex;gap:12px;align-items:center}
main{max-width:1150px;margin:24px auto;padding:0 24px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:16px 20px;margin-bottom:24px}
h2{font-size:17px;margin:0 0 12px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:7px 8px;border-top:1px solid #d8dee4;vertical-align:top}
th{font-size:13px;color:#57606a;border-top:none}
form.inline{display:inline;margin:0}
button,a.button{font:inherit;padding:4px 14px;border-radius:6px;border:1px solid #1a7f37;background:#1f883d;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
a.button.login{padding:8px 18px;font-weight:600}
button.disconnect{background:#fff;color:#cf222e;border-color:#cf222e}
button.logout{background:transparent;border-color:#8c959f;color:#fff}
.banner,.flash{padding:12px 16px;border-radius:6px;margin:0 0 16px;border:1px solid}
.banner.error,.flash.err{background:#ffebe9;border-color:#ff8182;color:#82071e}
.banner.warn{background:#fff8c5;border-color:#d4a72c}
.flash.ok{background:#dafbe1;border-color:#4ac26b}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;border:1px solid;white-space:nowrap}
.status-pending .badge{background:#ddf4ff;border-color:#54aeff;color:#0969da}
.status-running .badge{background:#fbefff;border-color:#c297ff;color:#8250df}
.status-done .badge{background:#dafbe1;border-color:#4ac26b;color:#1a7f37}
.status-failed .badge{background:#cf222e;border-color:#cf222e;color:#fff}
.status-ignored .badge,.status-duplicate .badge{background:#f6f8fa;border-color:#d0d7de;color:#57606a}
tr.status-failed td{background:#fff5f5}
.reason{color:#cf222e}
.status-ignored .reason,.status-duplicate .reason,.status-pending .reason{color:#57606a}
.tag{font-size:12px;border:1px solid #d0d7de;border-radius:10px;padding:0 7px;color:#57606a}
.muted,.note{color:#57606a}
code{font-size:13px}
"#;

/// The whole document around `body`.
fn document(title: &str, header: &Html, body: &Html) -> String {
    let mut page = Html::default();
    page.raw("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<title>")
        .text(title)
        .raw("</title><style>")
        .raw(STYLE)
        .raw("</style></head><body><header><h1><a href=\"/\">Nectr</a></h1>");
    page.out.push_str(&header.out);
    page.raw("</header><main>");
    page.out.push_str(&body.out);
    page.raw("</main></body></html>\n");
    page.out
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

/// 303 to the dashboard, with the outcome as a flash cookie.
fn back_home(flash: HeaderValue) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/"));
    response.headers_mut().append(header::SET_COOKIE, flash);
    security_headers(&mut response);
    response
}

/// A small page saying what went wrong, with a way back.
fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut body = Html::default();
    body.raw("<section class=\"refused\"><h2>")
        .text(title)
        .raw("</h2><p id=\"message\">")
        .text(message)
        .raw("</p><p><a href=\"/\">Back to the dashboard</a></p></section>");
    html_response(
        status,
        document(&format!("{title} — Nectr"), &Html::default(), &body),
        &[],
    )
}

fn internal_page(e: &ApiError) -> Response {
    message_page(
        e.status,
        "Something went wrong",
        &format!("{} Try again in a moment.", e.message),
    )
}

// ---------------------------------------------------------------------------------------
// Flash messages
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlashKind {
    Ok,
    Err,
}

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

/// Unix seconds as `2024-01-31 09:05 UTC`.
pub fn format_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Unix seconds as RFC 3339 (`2024-01-31T09:05:07Z`), for `<time datetime>`.
fn rfc3339(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------------------------------
// GET /
// ---------------------------------------------------------------------------------------

async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let flash = read_flash(&headers);
    // A shown (or unreadable) flash is cleared, so a reload does not repeat it.
    let clear_flash: Vec<HeaderValue> = session::cookie(&headers, FLASH_COOKIE)
        .map(|_| session::clear_cookie(FLASH_COOKIE, state.config.secure_cookies()))
        .into_iter()
        .collect();
    let signed_in = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return internal_page(&e),
    };
    let html = match signed_in {
        None => signed_out_page(&state, flash.as_ref()),
        Some(su) => signed_in_page(&state, &su, flash.as_ref()).await,
    };
    html_response(StatusCode::OK, html, &clear_flash)
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
    document("Nectr", &Html::default(), &body)
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

async fn signed_in_page(
    state: &AppState,
    su: &SessionUser,
    flash: Option<&(FlashKind, String)>,
) -> String {
    let user = &su.user;
    let (repo_list, events) = tokio::join!(
        load_repos(state, user),
        state.store.recent_events_for_user(user.id, EVENTS_SHOWN)
    );

    let mut header = Html::default();
    header
        .raw("<div class=\"who\"><span>Signed in as <strong id=\"login-name\">@")
        .text(&user.login)
        .raw("</strong></span><form class=\"inline\" id=\"logout-form\" method=\"post\" action=\"/auth/logout\">")
        .csrf_field(&su.session.csrf_token)
        .raw("<button type=\"submit\" class=\"logout\" id=\"logout\">Log out</button></form></div>");

    let mut body = Html::default();
    flash_box(&mut body, flash);
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
    } else if !has_scope(&user.scopes, "repo") {
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

    repos_section(&mut body, &repo_list, user, &su.session.csrf_token);
    events_section(state, &mut body, events);
    document(&format!("@{} — Nectr", user.login), &header, &body)
}

fn repo_form(body: &mut Html, owner: &str, name: &str, connect: bool, csrf_token: &str) {
    body.raw("<form class=\"inline\" method=\"post\"")
        .attr(
            "action",
            &format!(
                "/repos/{owner}/{name}/{}",
                if connect { "connect" } else { "disconnect" }
            ),
        )
        .raw(">")
        .csrf_field(csrf_token);
    if connect {
        body.raw("<button type=\"submit\" class=\"connect\">Connect</button>");
    } else {
        body.raw("<button type=\"submit\" class=\"disconnect\">Disconnect</button>");
    }
    body.raw("</form>");
}

fn repos_section(body: &mut Html, list: &RepoList, user: &User, csrf_token: &str) {
    body.raw("<section id=\"repos\"><h2>Repositories</h2>");
    let repos = match list {
        RepoList::NeedsReauth => {
            body.raw("<p class=\"note\">Sign in again to see your repositories.</p></section>");
            return;
        }
        RepoList::Failed(e) => {
            body.raw("<div class=\"banner warn\" id=\"repos-error\">")
                .raw("<strong>The repository list could not be loaded.</strong> ")
                .text(&e.message)
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
        .raw("<table class=\"repos\"><thead><tr><th>Repository</th><th>State</th><th></th></tr></thead><tbody>");
    for repo in repos {
        body.raw("<tr class=\"repo\"")
            .attr("data-repo", &repo.full_name)
            .raw("><td>");
        match &repo.html_url {
            Some(url) => body.link(url, "repo-link", &repo.full_name),
            None => body.text(&repo.full_name),
        };
        if repo.private {
            body.raw(" <span class=\"tag\">private</span>");
        }
        body.raw("</td><td class=\"state\">");
        let valid = valid_full_name(&repo.full_name);
        if repo.connected {
            if is_mine(repo, user) {
                body.raw("<span class=\"connected\">Connected</span>");
            } else {
                body.raw("<span class=\"connected-by\">Connected by @")
                    .text(repo.connected_by.as_deref().unwrap_or("another user"))
                    .raw("</span>");
            }
            if let Some(id) = repo.webhook_id {
                body.raw(" <span class=\"muted\">(webhook #")
                    .num(id)
                    .raw(")</span>");
            }
        } else {
            body.raw("<span class=\"not-connected\">Not connected</span>");
        }
        body.raw("</td><td class=\"action\">");
        match (valid, repo.connected, is_mine(repo, user), repo.admin) {
            (None, ..) => {
                body.raw(
                    "<span class=\"note\">Nectr cannot manage a repository with this name.</span>",
                );
            }
            (Some((owner, name)), true, true, _) => repo_form(body, owner, name, false, csrf_token),
            (Some(_), true, false, _) => {
                body.raw("<span class=\"note\">Only @")
                    .text(
                        repo.connected_by
                            .as_deref()
                            .unwrap_or("the user who connected it"),
                    )
                    .raw(" can disconnect it.</span>");
            }
            (Some((owner, name)), false, _, true) => repo_form(body, owner, name, true, csrf_token),
            (Some(_), false, _, false) => {
                body.raw("<span class=\"note not-admin\">Only an admin of this repository can connect it.</span>");
            }
        }
        body.raw("</td></tr>");
    }
    body.raw("</tbody></table></section>");
}

fn is_mine(repo: &RepoView, user: &User) -> bool {
    repo.connected
        && repo
            .connected_by
            .as_deref()
            .is_some_and(|login| login.eq_ignore_ascii_case(&user.login))
}

fn status_label(ev: &EventSummary) -> &'static str {
    let history = records_history(&ev.event, ev.action.as_deref());
    match ev.status {
        EventStatus::Pending => "Queued",
        EventStatus::Running if history => "Recording",
        EventStatus::Running => "Reviewing",
        EventStatus::Done if history => "Recorded",
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

/// An error or reason text: short ones whole, long ones clipped with the rest behind a
/// disclosure.
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

fn events_section(
    state: &AppState,
    body: &mut Html,
    events: Result<Vec<EventSummary>, crate::store::StoreError>,
) {
    body.raw("<section id=\"events\"><h2>Recent events</h2>");
    let events = match events {
        Ok(events) => events,
        Err(e) => {
            tracing::error!(error = %e, "dashboard: cannot read recent events");
            body.raw("<div class=\"banner error\" id=\"events-error\">Recent events could not be loaded from the database; the server log has the details.</div></section>");
            return;
        }
    };
    if events.is_empty() {
        body.raw("<p class=\"note\" id=\"no-events\">No events yet. Connect a repository and open or update a pull request: its review shows up here.</p></section>");
        return;
    }
    body.raw("<table class=\"events\"><thead><tr><th>Time</th><th>Repository</th><th>Pull request</th><th>Event</th><th>Status</th><th>Details</th></tr></thead><tbody>");
    let server = &state.config.server_url;
    for ev in &events {
        body.raw("<tr")
            .raw(" class=\"")
            .raw(status_class(ev.status))
            .raw("\"")
            .attr("data-event-id", &ev.id.to_string())
            .raw("><td><time")
            .attr("datetime", &rfc3339(ev.created_at))
            .raw(">")
            .text(&format_time(ev.created_at))
            .raw("</time></td><td>");
        let valid = valid_full_name(&ev.repo).is_some();
        if valid {
            body.link(&format!("{server}/{}", ev.repo), "repo-link", &ev.repo);
        } else {
            body.text(&ev.repo);
        }
        body.raw("</td><td>");
        match ev.pr_number {
            Some(n) if valid => {
                body.link(
                    &format!("{server}/{}/pull/{n}", ev.repo),
                    "pr-link",
                    &format!("#{n}"),
                );
            }
            Some(n) => {
                body.text(&format!("#{n}"));
            }
            None => {
                body.raw("<span class=\"muted\">—</span>");
            }
        }
        if let Some(sha) = &ev.head_sha {
            body.raw(" <code class=\"muted\">")
                .text(clip(sha, 7))
                .raw("</code>");
        }
        body.raw("</td><td>").text(&ev.event);
        if let Some(action) = &ev.action {
            body.raw(" <span class=\"muted\">")
                .text(action)
                .raw("</span>");
        }
        body.raw("</td><td><span class=\"badge\">")
            .raw(status_label(ev))
            .raw("</span></td><td class=\"details\">");
        event_details(body, ev);
        body.raw("</td></tr>");
    }
    body.raw("</tbody></table></section>");
}

fn event_details(body: &mut Html, ev: &EventSummary) {
    match ev.status {
        EventStatus::Failed => {
            reason_text(
                body,
                ev.error.as_deref().unwrap_or("no reason was recorded"),
            );
            body.raw(" <span class=\"muted\">(after ")
                .num(ev.attempts)
                .raw(if ev.attempts == 1 {
                    " attempt)</span>"
                } else {
                    " attempts)</span>"
                });
        }
        EventStatus::Ignored => {
            reason_text(body, ev.error.as_deref().unwrap_or("it needs no review"));
        }
        EventStatus::Duplicate => {
            body.raw("<span class=\"reason\">The same pull request, head commit and action arrived within the hour; reviewed once.</span>");
        }
        EventStatus::Pending => match &ev.error {
            Some(error) => {
                body.raw("Retrying after: ");
                reason_text(body, error);
                if let Some(at) = ev.not_before {
                    body.raw(" <span class=\"muted\">(next try ")
                        .text(&format_time(at))
                        .raw(")</span>");
                }
            }
            None => {
                body.raw("<span class=\"muted\">Waiting for a worker.</span>");
            }
        },
        EventStatus::Running if records_history(&ev.event, ev.action.as_deref()) => {
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
            Some(url) => {
                body.link(url, "review-link", "View review");
                if let Some(n) = ev.findings {
                    body.raw(" <span class=\"muted\">")
                        .num(n)
                        .raw(if n == 1 { " finding" } else { " findings" })
                        .raw("</span>");
                }
            }
            None if records_history(&ev.event, ev.action.as_deref()) => {
                body.raw("<span class=\"muted\">Recorded in the knowledge graph.</span>");
            }
            None => {
                body.raw("<span class=\"muted\">Done; no review was posted.</span>");
            }
        },
    }
}

// ---------------------------------------------------------------------------------------
// POST /repos/{owner}/{name}/connect | disconnect
// ---------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

#[derive(Clone, Copy)]
enum Change {
    Connect,
    Disconnect,
}

async fn connect(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    change(state, owner, name, headers, form, Change::Connect).await
}

async fn disconnect(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    change(state, owner, name, headers, form, Change::Disconnect).await
}

const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

async fn change(
    state: AppState,
    owner: String,
    name: String,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
    change: Change,
) -> Response {
    let su = match session::current(&state, &headers).await {
        Ok(Some(su)) => su,
        Ok(None) => {
            return message_page(
                StatusCode::UNAUTHORIZED,
                "Not signed in",
                "You are not signed in, or your session has ended. Nothing was changed: open the dashboard and sign in again.",
            );
        }
        Err(e) => return internal_page(&e),
    };
    let cross_site = headers
        .get(SEC_FETCH_SITE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let token_ok = form.as_ref().is_ok_and(|Form(f)| {
        !f.csrf_token.is_empty()
            && constant_time_eq(f.csrf_token.as_bytes(), su.session.csrf_token.as_bytes())
    });
    if cross_site || !token_ok {
        tracing::warn!(user = %su.user.login, cross_site, "dashboard: form post refused (missing or wrong csrf_token)");
        return message_page(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form did not come from your current dashboard page (its security token is missing or wrong), so nothing was changed. Go back to the dashboard, reload it and try again.",
        );
    }
    if !valid_owner(&owner) || !valid_repo_name(&name) {
        return message_page(
            StatusCode::BAD_REQUEST,
            "No such repository",
            "That is not a GitHub repository name; nothing was changed.",
        );
    }
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
            Ok(()) => flash_cookie(
                FlashKind::Ok,
                &format!(
                    "Disconnected {repo}: its webhook is removed and Nectr no longer reviews it."
                ),
                secure,
            ),
            Err(e) => flash_cookie(
                FlashKind::Err,
                &format!("Could not disconnect {repo}: {}", e.message),
                secure,
            ),
        },
    };
    back_home(flash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_html_specials() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("héllo — ok"), "héllo — ok");
    }

    #[test]
    fn html_escapes_text_and_attributes() {
        let mut h = Html::default();
        h.raw("<p")
            .attr("title", "\"><x>")
            .raw(">")
            .text("<b>")
            .raw("</p>");
        assert_eq!(h.out, "<p title=\"&quot;&gt;&lt;x&gt;\">&lt;b&gt;</p>");
    }

    #[test]
    fn only_http_urls_become_links() {
        assert!(safe_url("https://github.com/o/r/pull/1"));
        assert!(safe_url("HTTP://example.com/"));
        assert!(!safe_url("javascript:alert(1)"));
        assert!(!safe_url(" https://x"));
        assert!(!safe_url("data:text/html,hi"));
        assert!(!safe_url("/relative"));
        let mut h = Html::default();
        h.link("javascript:alert(1)", "x", "click");
        assert_eq!(h.out, "click");
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
    fn scopes_are_parsed_like_github_sends_them() {
        assert!(has_scope("repo, read:user", "repo"));
        assert!(has_scope("read:user,repo", "repo"));
        assert!(!has_scope("public_repo, read:user", "repo"));
        assert!(!has_scope("", "repo"));
    }

    #[test]
    fn times_are_utc_calendar_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_704_067_200), "2024-01-01 00:00 UTC");
        assert_eq!(format_time(951_827_400), "2000-02-29 12:30 UTC");
        assert_eq!(rfc3339(1_704_067_201), "2024-01-01T00:00:01Z");
        assert_eq!(format_time(-1), "1969-12-31 23:59 UTC");
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
