//! The session-authenticated JSON API under `/api/v1` (the webhook receiver, also under
//! `/api/v1`, is `webhook.rs` and authenticates by signature instead).
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /api/v1/me` | `{"login", "github_id", "csrf_token", "needs_reauth", "scopes"}` |
//! | `GET /api/v1/repos` | `[{"full_name", "connected", "webhook_id", "private", "admin", "connected_by", "html_url"}]` |
//! | `POST /api/v1/repos/{owner}/{name}/connect` | `{"full_name", "connected", "webhook_id"}` |
//! | `POST /api/v1/repos/{owner}/{name}/disconnect` | `{"full_name", "connected": false, "webhook_id": null}` |
//! | `GET /api/v1/events?limit=N` | the newest deliveries of the user's repositories (default 50, at most 200) |
//!
//! Without a session every route answers 401 `{"error": …}`. Writes need the session's
//! CSRF token: in the `X-CSRF-Token` header (JSON clients), or — for the dashboard's plain
//! HTML forms, which cannot set headers — as the `csrf_token` field of an
//! `application/x-www-form-urlencoded` body. A form post is answered `303 See Other` to
//! `/` (or to its `next` field, when that is a path on this site) instead of JSON. A
//! missing or wrong token is 403 and changes nothing. Errors are JSON, or a small HTML
//! page when the client accepts `text/html`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{error_response, percent_decode, redirect, safe_next};
use super::http::ApiError;
use super::session::{self, CSRF_HEADER, constant_time_eq};
use super::{AppState, repos};
use crate::store::{EventSummary, SessionUser};

/// Events listed when `limit` is not given.
pub const DEFAULT_EVENTS: i64 = 50;
/// The most events one request lists.
pub const MAX_EVENTS: i64 = 200;
/// The form field that carries the CSRF token in plain HTML form posts.
pub const CSRF_FIELD: &str = "csrf_token";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/repos", get(list_repos))
        .route("/api/v1/repos/{owner}/{name}/connect", post(connect))
        .route("/api/v1/repos/{owner}/{name}/disconnect", post(disconnect))
        .route("/api/v1/events", get(events))
}

/// How a write was authorised, which decides how it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteKind {
    /// `X-CSRF-Token` header: answer JSON (or 204).
    Api,
    /// A form post with the `csrf_token` field: answer 303 to `next` (a safe path) or `/`.
    Form { next: Option<String> },
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The fields of an `application/x-www-form-urlencoded` body; undecodable pairs are skipped.
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Vec::new();
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(&k.replace('+', " "))?;
            let v = percent_decode(&v.replace('+', " "))?;
            Some((k, v))
        })
        .collect()
}

/// 403 unless the request carries the session's CSRF token, in the `X-CSRF-Token` header
/// or (form posts only) the `csrf_token` field; both are compared in constant time.
pub fn authorize_write(
    signed_in: &SessionUser,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<WriteKind, ApiError> {
    let form = is_form(headers);
    let fields = if form { form_fields(body) } else { Vec::new() };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if headers.contains_key(CSRF_HEADER) || !form {
        session::check_csrf(signed_in, headers)?;
    } else {
        let sent = field(CSRF_FIELD).unwrap_or("");
        if sent.is_empty()
            || !constant_time_eq(sent.as_bytes(), signed_in.session.csrf_token.as_bytes())
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "missing or wrong csrf_token form field: reload the page and try again",
            ));
        }
    }
    Ok(if form {
        WriteKind::Form {
            next: field("next").filter(|n| safe_next(n)).map(str::to_owned),
        }
    } else {
        WriteKind::Api
    })
}

/// `owner/name` from the path, each part 1–100 of GitHub's `[A-Za-z0-9._-]`, not `.`/`..`.
pub fn repo_name(owner: &str, name: &str) -> Result<String, ApiError> {
    let ok = |part: &str| {
        !part.is_empty()
            && part.len() <= 100
            && part != "."
            && part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if ok(owner) && ok(name) {
        Ok(format!("{owner}/{name}"))
    } else {
        Err(ApiError::bad_request(
            "the repository must be OWNER/NAME made of letters, digits, `.`, `_` and `-`",
        ))
    }
}

/// JSON that no cache keeps (it is one user's data, and `/me` holds the CSRF token).
fn private_json(status: StatusCode, value: Value) -> Response {
    let mut response = (status, axum::Json(value)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn answer(headers: &HeaderMap, result: Result<Response, ApiError>) -> Response {
    match result {
        Ok(r) => r,
        Err(e) => error_response(headers, e),
    }
}

// --- reads ------------------------------------------------------------------------------

pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let s = session::require(&state, &headers).await?;
        let scopes: Vec<&str> = s
            .user
            .scopes
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .collect();
        Ok(private_json(
            StatusCode::OK,
            json!({
                "login": s.user.login,
                "github_id": s.user.github_id,
                "csrf_token": s.session.csrf_token,
                "needs_reauth": s.user.needs_reauth,
                "scopes": scopes,
            }),
        ))
    }
    .await;
    answer(&headers, result)
}

pub async fn list_repos(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let result = async {
        let s = session::require(&state, &headers).await?;
        let views = repos::list(&state, &s.user).await?;
        let value = serde_json::to_value(views).map_err(ApiError::internal)?;
        Ok(private_json(StatusCode::OK, value))
    }
    .await;
    answer(&headers, result)
}

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    limit: Option<String>,
}

fn events_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(DEFAULT_EVENTS),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n.min(MAX_EVENTS)),
            _ => Err(ApiError::bad_request(format!(
                "`limit` must be a whole number from 1 to {MAX_EVENTS}"
            ))),
        },
    }
}

fn event_json(e: &EventSummary) -> Value {
    json!({
        "id": e.id,
        "delivery_id": e.delivery_id,
        "event": e.event,
        "action": e.action,
        "repo": e.repo,
        "pr": e.pr_number,
        "head_sha": e.head_sha,
        "status": e.status.as_str(),
        "attempts": e.attempts,
        "error": e.error,
        "not_before": e.not_before,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "review_id": e.review_id,
        "review_url": e.review_url,
        "findings": e.findings,
    })
}

pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Response {
    let result = async {
        let s = session::require(&state, &headers).await?;
        let limit = events_limit(query.limit.as_deref())?;
        let events = state.store.recent_events_for_user(s.user.id, limit).await?;
        Ok(private_json(
            StatusCode::OK,
            Value::Array(events.iter().map(event_json).collect()),
        ))
    }
    .await;
    answer(&headers, result)
}

// --- writes -----------------------------------------------------------------------------

pub async fn connect(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let s = session::require(&state, &headers).await?;
        let kind = authorize_write(&s, &headers, &body)?;
        let repo = repo_name(&owner, &name)?;
        let installation = repos::connect(&state, &s.user, &repo).await?;
        Ok(match kind {
            WriteKind::Form { next } => {
                redirect(StatusCode::SEE_OTHER, next.as_deref().unwrap_or("/"))
            }
            WriteKind::Api => private_json(
                StatusCode::OK,
                json!({
                    "full_name": installation.repo,
                    "connected": installation.active,
                    "webhook_id": installation.webhook_id,
                }),
            ),
        })
    }
    .await;
    answer(&headers, result)
}

pub async fn disconnect(
    State(state): State<AppState>,
    Path((owner, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let s = session::require(&state, &headers).await?;
        let kind = authorize_write(&s, &headers, &body)?;
        let repo = repo_name(&owner, &name)?;
        // The name as it was connected (GitHub's spelling), for the answer.
        let full_name = state
            .store
            .active_installation_for_repo(&repo)
            .await?
            .map(|i| i.installation.repo)
            .unwrap_or_else(|| repo.clone());
        repos::disconnect(&state, &s.user, &repo).await?;
        Ok(match kind {
            WriteKind::Form { next } => {
                redirect(StatusCode::SEE_OTHER, next.as_deref().unwrap_or("/"))
            }
            WriteKind::Api => private_json(
                StatusCode::OK,
                json!({"full_name": full_name, "connected": false, "webhook_id": null}),
            ),
        })
    }
    .await;
    answer(&headers, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_use_githubs_characters() {
        assert_eq!(
            repo_name("acme", "my.repo_2-x").unwrap(),
            "acme/my.repo_2-x"
        );
        for (o, n) in [
            ("", "x"),
            ("a", ""),
            ("a", ".."),
            (".", "x"),
            ("a b", "x"),
            ("a", "x/y"),
            ("a", "x%2Fy"),
            ("a", "é"),
            ("a", "x;drop"),
        ] {
            let err = repo_name(o, n).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{o}/{n}");
        }
        assert!(repo_name("a", &"x".repeat(101)).is_err());
    }

    #[test]
    fn events_limit_defaults_and_caps() {
        assert_eq!(events_limit(None).unwrap(), DEFAULT_EVENTS);
        assert_eq!(events_limit(Some("7")).unwrap(), 7);
        assert_eq!(events_limit(Some("100000")).unwrap(), MAX_EVENTS);
        for bad in ["0", "-1", "ten", "1.5"] {
            assert!(events_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn form_fields_are_decoded() {
        assert_eq!(
            form_fields(b"csrf_token=ab%2Bc&next=%2Frepos+x&flag"),
            vec![
                ("csrf_token".to_owned(), "ab+c".to_owned()),
                ("next".to_owned(), "/repos x".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert!(form_fields(b"a=%zz").is_empty());
        assert!(form_fields(&[0xff, b'=', b'1']).is_empty());
    }

    fn signed_in(csrf: &str) -> SessionUser {
        use crate::store::{Session, User};
        SessionUser {
            session: Session {
                id: "s".into(),
                user_id: 1,
                csrf_token: csrf.into(),
                created_at: 0,
                expires_at: 1,
            },
            user: User {
                id: 1,
                github_id: 2,
                login: "octo".into(),
                encrypted_token: String::new(),
                scopes: "repo".into(),
                needs_reauth: false,
                created_at: 0,
                updated_at: 0,
            },
        }
    }

    #[test]
    fn writes_need_the_header_or_the_form_field() {
        let s = signed_in("tok");
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert_eq!(
            authorize_write(&s, &json, b"").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        // A JSON body's `csrf_token` does not count: only forms carry it in the body.
        assert!(authorize_write(&s, &json, br#"{"csrf_token":"tok"}"#).is_err());
        json.insert(CSRF_HEADER, HeaderValue::from_static("tok"));
        assert_eq!(authorize_write(&s, &json, b"").unwrap(), WriteKind::Api);
        json.insert(CSRF_HEADER, HeaderValue::from_static("tox"));
        assert!(authorize_write(&s, &json, b"").is_err());

        let mut form = HeaderMap::new();
        form.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert!(authorize_write(&s, &form, b"csrf_token=").is_err());
        assert!(authorize_write(&s, &form, b"csrf_token=tox").is_err());
        assert_eq!(
            authorize_write(&s, &form, b"csrf_token=tok&next=%2F%2Fevil").unwrap(),
            WriteKind::Form { next: None }
        );
        assert_eq!(
            authorize_write(&s, &form, b"csrf_token=tok&next=%2Frepos").unwrap(),
            WriteKind::Form {
                next: Some("/repos".into())
            }
        );
        // A wrong header is not rescued by a right field.
        form.insert(CSRF_HEADER, HeaderValue::from_static("tox"));
        assert!(authorize_write(&s, &form, b"csrf_token=tok").is_err());
    }
}
