//! Browser sessions: cookies, the signed-in user, CSRF.
//!
//! The session cookie holds 256 random bits; the database stores only its SHA-256, so a
//! copy of the database cannot be replayed as cookies. Cookies are `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, and `Secure` when `NECTR_PUBLIC_URL` is https. Every sign-in
//! makes a new session id (no fixation). Session-authenticated writes must send the
//! session's `csrf_token` in `X-CSRF-Token`, compared in constant time.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use super::http::{ApiError, header};
use super::{AppState, now};
use crate::store::{Session, SessionUser};

pub const SESSION_COOKIE: &str = "nectr_session";
/// How long a session lasts.
pub const SESSION_SECS: i64 = 14 * 24 * 60 * 60;
/// The header session-authenticated writes carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `n` random bytes from the OS, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, ApiError> {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| ApiError::internal(format!("no randomness from the OS: {e}")))?;
    Ok(hex(&bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

pub fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// Equal in time independent of where they differ (lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The value of cookie `name` from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when `secure`.
pub fn set_cookie(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Max-Age={max_age_secs}; Path=/; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", 0, secure)
}

/// The signed-in user, if the request carries a live session cookie.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionUser>, ApiError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if value.len() != 64 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(state.store.get_session(&sha256_hex(value), now()).await?)
}

/// The signed-in user, or 401 telling the client to sign in.
pub async fn require(state: &AppState, headers: &HeaderMap) -> Result<SessionUser, ApiError> {
    current(state, headers).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "not signed in: open /auth/github/login to sign in with GitHub",
        )
    })
}

/// 403 unless `X-CSRF-Token` equals the session's token.
pub fn check_csrf(session: &SessionUser, headers: &HeaderMap) -> Result<(), ApiError> {
    let sent = header(headers, CSRF_HEADER).unwrap_or("");
    if sent.is_empty() || !constant_time_eq(sent.as_bytes(), session.session.csrf_token.as_bytes())
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing or wrong X-CSRF-Token header: send the csrf_token from GET /api/v1/me",
        ));
    }
    Ok(())
}

/// Starts a new session for `user_id`; returns the `Set-Cookie` value.
pub async fn start(state: &AppState, user_id: i64) -> Result<HeaderValue, ApiError> {
    let cookie_value = random_hex(32)?;
    let created = now();
    let session = Session {
        id: sha256_hex(&cookie_value),
        user_id,
        csrf_token: random_hex(32)?,
        created_at: created,
        expires_at: created + SESSION_SECS,
    };
    state.store.create_session(&session).await?;
    Ok(set_cookie(
        SESSION_COOKIE,
        &cookie_value,
        SESSION_SECS,
        state.config.secure_cookies(),
    ))
}

/// Ends the session the request carries, if any; returns the cookie-clearing header.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    if let Some(value) = cookie(headers, SESSION_COOKIE) {
        state.store.delete_session(&sha256_hex(value)).await?;
    }
    Ok(clear_cookie(SESSION_COOKIE, state.config.secure_cookies()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            "cookie",
            HeaderValue::from_static("a=1; nectr_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, "nectr_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "nectr"), None);
    }

    #[test]
    fn set_cookie_is_http_only_and_lax() {
        let v = set_cookie("n", "v", 10, true);
        let v = v.to_str().unwrap();
        assert!(v.contains("HttpOnly") && v.contains("SameSite=Lax") && v.ends_with("Secure"));
        assert!(
            !set_cookie("n", "v", 10, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
