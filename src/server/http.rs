//! What every handler shares: the JSON error shape, the security headers on every answer,
//! small helpers.
//!
//! API errors are `{"error": "<one sentence saying what is wrong and what to do>"}` with a
//! fitting status. Messages never carry secrets or raw internal errors: those go to the log
//! (with the request's delivery or event id), the client gets a sentence it can act on.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header as names};
use axum::response::{IntoResponse, Response};

/// An error answer: status plus a message for the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// A failure on our side: logs `detail` (never sent) and answers 500 with a generic
    /// message, so internals and secrets stay out of responses.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the server log has the details",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        ApiError::internal(e)
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route; the server's routes are listed in docs/interface.md",
    )
}

/// A header's value as text, if present and valid ASCII.
pub fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The security headers every answer carries — pages, JSON, errors, 404s, webhook answers —
/// added by one layer in [`super::router`]. A handler's own value wins (the dashboard's
/// `Referrer-Policy: same-origin`, a redirect's `no-referrer`); the defaults are the
/// strictest that still let the dashboard work: no scripts, no framing, no MIME sniffing,
/// nothing cached.
pub async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    for (name, value) in [
        (
            names::CONTENT_SECURITY_POLICY,
            super::dashboard::CONTENT_SECURITY_POLICY,
        ),
        (names::X_FRAME_OPTIONS, "DENY"),
        (names::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (names::REFERRER_POLICY, "no-referrer"),
        (names::CACHE_CONTROL, "no-store"),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}
