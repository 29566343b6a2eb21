//! Signing in with GitHub (the OAuth web flow with PKCE) and signing out.
//!
//! `GET /auth/github/login` starts a sign-in: it sets a short-lived pre-login cookie
//! (`nectr_login`, 256 random bits, 10 minutes) and redirects to GitHub's authorize page with
//! the S256 code challenge and a `state` that is a sealed [`LoginState`]: a random nonce, the
//! expiry, the SHA-256 of the pre-login cookie and the PKCE verifier, encrypted and
//! authenticated with `NECTR_ENCRYPTION_KEY` (Fernet, bound to the owner label
//! [`owners::oauth_state`]). Starting a sign-in stores nothing, so an unauthenticated client
//! cannot grow the database however often it asks.
//!
//! `GET /auth/github/callback` accepts GitHub's answer only for a state this server sealed
//! (any key of the keyring), that has not expired, was issued to this browser (its pre-login
//! cookie hashes to the sealed binding, compared in constant time) and has not been used: the
//! nonce is recorded as spent ([`crate::store::Store::spend_oauth_state`]) the first time a
//! valid state comes back, and that row lives only until the state would have expired
//! anyway. All of that is checked before the code is exchanged, so a forged or replayed
//! callback never reaches GitHub. Then: exchange the code with the verifier, identify the user with
//! the new token, insist on the `repo` scope, store the token encrypted for the user's
//! GitHub id, and start a fresh session (new id at every sign-in).
//!
//! `POST /auth/logout` ends the session. It needs the session's CSRF token, either in the
//! `X-CSRF-Token` header (API clients: 204) or as the `csrf_token` field of an
//! `application/x-www-form-urlencoded` form (the dashboard's plain HTML form: 303 to `/`).
//!
//! The code, the token, the verifier and the client secret are never logged or shown.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::http::ApiError;
use super::session::{self, constant_time_eq, random_hex};
use super::{AppState, OAuthApp, now, owners};
use crate::crypto::Keyring;
use crate::github::GitHubError;
use crate::github::client::encode_component;
use crate::github::oauth::{self, Authorize, CodeExchange, OAuthError};
use crate::store::NewUser;

/// The pre-login cookie: ties GitHub's callback to the browser that started the sign-in.
pub const LOGIN_COOKIE: &str = "nectr_login";
/// How long a sign-in may take, from the redirect to GitHub to the callback.
pub const LOGIN_SECS: i64 = 10 * 60;
pub const LOGIN_PATH: &str = "/auth/github/login";
pub const CALLBACK_PATH: &str = "/auth/github/callback";
pub const LOGOUT_PATH: &str = "/auth/logout";
/// The scope Nectr asks for and needs: read pull requests and manage webhooks, private
/// repositories included.
pub const REQUIRED_SCOPE: &str = "repo";
/// Longest `next` path accepted.
const MAX_NEXT_LEN: usize = 512;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(LOGIN_PATH, get(login))
        .route(CALLBACK_PATH, get(callback))
        .route(LOGOUT_PATH, post(logout))
}

/// `NECTR_PUBLIC_URL/auth/github/callback`: the OAuth app's callback URL must match it.
pub fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.config.public_url)
}

/// The PKCE S256 challenge: `BASE64URL(SHA-256(verifier))` without padding (RFC 7636).
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `next` may be redirected to after sign-in: a path on this site only. It must
/// start with exactly one `/` (`//host` and `/\host` are other sites to a browser), and hold
/// only visible ASCII without backslashes (browsers drop tabs and newlines, and read `\` as
/// `/`, which would turn `/\t/evil` into `//evil`).
pub fn safe_next(next: &str) -> bool {
    next.len() <= MAX_NEXT_LEN
        && next.starts_with('/')
        && !next.starts_with("//")
        && next
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
}

fn oauth_app(state: &AppState) -> Result<&OAuthApp, ApiError> {
    state.config.oauth.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "sign-in is not configured on this server: create a GitHub OAuth app with the callback URL NECTR_PUBLIC_URL/auth/github/callback and set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET",
        )
    })
}

/// Whether `s` looks like a state this server issues (a Fernet token: URL-safe base64),
/// checked before any decryption is tried.
fn is_state(s: &str) -> bool {
    (100..=512).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
}

/// What a sign-in `state` carries. Sealed with [`seal_state`], so the browser and GitHub
/// carry it without reading or changing it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginState {
    /// 16 random bytes: the id the state is recorded under once spent.
    pub nonce: [u8; 16],
    /// Unix seconds.
    pub expires_at: i64,
    /// SHA-256 of the pre-login cookie's value.
    pub cookie_binding: [u8; 32],
    /// The PKCE verifier's 32 random bytes (sent to GitHub as 64 hex digits).
    pub verifier: [u8; 32],
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl LoginState {
    /// A new state for the browser holding the pre-login cookie `cookie_value`.
    pub fn new(cookie_value: &str, expires_at: i64) -> Result<LoginState, ApiError> {
        let mut random = [0u8; 48];
        getrandom::getrandom(&mut random)
            .map_err(|e| ApiError::internal(format!("no randomness from the OS: {e}")))?;
        let mut nonce = [0u8; 16];
        let mut verifier = [0u8; 32];
        nonce.copy_from_slice(&random[..16]);
        verifier.copy_from_slice(&random[16..]);
        Ok(LoginState {
            nonce,
            expires_at,
            cookie_binding: Sha256::digest(cookie_value.as_bytes()).into(),
            verifier,
        })
    }

    /// The PKCE verifier as sent to GitHub.
    pub fn verifier_text(&self) -> String {
        session::hex(&self.verifier)
    }

    /// The id a spent state is recorded under.
    pub fn id(&self) -> String {
        session::hex(&self.nonce)
    }
}

/// Nonce, expiry, binding, verifier.
const SEALED_LEN: usize = 16 + 8 + 32 + 32;

/// Encrypts and authenticates `state` with the newest key: the `state` parameter.
pub fn seal_state(keyring: &Keyring, state: &LoginState) -> String {
    let mut plain = Vec::with_capacity(SEALED_LEN);
    plain.extend_from_slice(&state.nonce);
    plain.extend_from_slice(&state.expires_at.to_be_bytes());
    plain.extend_from_slice(&state.cookie_binding);
    plain.extend_from_slice(&state.verifier);
    let sealed = keyring.encrypt(&owners::oauth_state(), &plain);
    plain.fill(0);
    sealed
}

/// The state sealed in `text`, if this server sealed it (with any key of the keyring).
/// Expiry is the caller's to check.
pub fn open_state(keyring: &Keyring, text: &str) -> Option<LoginState> {
    if !is_state(text) {
        return None;
    }
    let mut plain = keyring.decrypt(&owners::oauth_state(), text).ok()?;
    let state = (plain.len() == SEALED_LEN).then(|| LoginState {
        nonce: plain[..16].try_into().unwrap_or_default(),
        expires_at: i64::from_be_bytes(plain[16..24].try_into().unwrap_or_default()),
        cookie_binding: plain[24..56].try_into().unwrap_or_default(),
        verifier: plain[56..88].try_into().unwrap_or_default(),
    });
    plain.fill(0);
    state
}

// --- GET /auth/github/login -------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    match start_login(&state, query).await {
        Ok(r) => r,
        Err(e) => error_response(&headers, e),
    }
}

async fn start_login(state: &AppState, query: LoginQuery) -> Result<Response, ApiError> {
    let app = oauth_app(state)?;
    let next = match query.next.as_deref() {
        None | Some("") => None,
        Some(next) if safe_next(next) => Some(next),
        Some(_) => {
            return Err(ApiError::bad_request(
                "`next` must be a path on this site starting with a single `/` (for example /events); sign in again without it",
            ));
        }
    };
    // The cookie carries the `next` path after the random part, so the binding (its hash)
    // covers both: a changed `next` no longer matches the state.
    let random = random_hex(32)?;
    let cookie_value = match next {
        Some(next) => format!("{random}.{}", encode_component(next)),
        None => random,
    };
    // Nothing is stored: everything the callback needs travels sealed in the state.
    let login_state = LoginState::new(&cookie_value, now() + LOGIN_SECS)?;
    let oauth_state = seal_state(&state.keyring, &login_state);
    let verifier = login_state.verifier_text();
    let location = oauth::authorize_url(
        &state.config.server_url,
        &Authorize {
            client_id: &app.client_id,
            redirect_uri: &redirect_uri(state),
            scope: REQUIRED_SCOPE,
            state: &oauth_state,
            code_challenge: &pkce_challenge(&verifier),
        },
    );
    let mut response = redirect(StatusCode::FOUND, &location);
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(
            LOGIN_COOKIE,
            &cookie_value,
            LOGIN_SECS,
            state.config.secure_cookies(),
        ),
    );
    Ok(response)
}

// --- GET /auth/github/callback ----------------------------------------------------------

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let mut response = match finish_login(&state, &headers, query).await {
        Ok(r) => r,
        Err(e) => error_response(&headers, e),
    };
    // Whatever happened, the pre-login cookie has served its purpose.
    response.headers_mut().append(
        header::SET_COOKIE,
        session::clear_cookie(LOGIN_COOKIE, state.config.secure_cookies()),
    );
    response
}

fn restart(what: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{what}; nothing was signed in. Start again at {LOGIN_PATH}"
    ))
}

async fn finish_login(
    state: &AppState,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<Response, ApiError> {
    let app = oauth_app(state)?;
    if let Some(error) = query.error {
        // Spend the state so it cannot be replayed with a code later.
        if let Some(sealed) = query
            .state
            .as_deref()
            .and_then(|s| open_state(&state.keyring, s))
        {
            state
                .store
                .spend_oauth_state(&sealed.id(), sealed.expires_at, now())
                .await?;
        }
        let error = oauth::error_code(&error);
        tracing::info!(%error, "sign-in cancelled or refused on GitHub");
        return Err(if error == "access_denied" {
            ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "sign-in was cancelled: GitHub says you did not authorize Nectr (access_denied). To sign in, start again at {LOGIN_PATH} and approve the request"
                ),
            )
        } else {
            ApiError::bad_request(format!(
                "GitHub ended the sign-in with the error `{error}`; start again at {LOGIN_PATH}"
            ))
        });
    }
    let Some(state_param) = query.state.filter(|s| !s.is_empty()) else {
        return Err(restart(
            "the callback has no `state`, so it cannot be matched to a sign-in started here",
        ));
    };
    let Some(code) = query
        .code
        .filter(|c| !c.is_empty() && c.len() <= 512 && c.bytes().all(|b| b.is_ascii_graphic()))
    else {
        return Err(restart("the callback has no valid `code` from GitHub"));
    };
    let unknown = || restart("the sign-in `state` is unknown, expired or already used");
    let Some(sealed) = open_state(&state.keyring, &state_param) else {
        return Err(unknown());
    };
    // Single use: from here on the state is spent whatever the outcome (an expired one is
    // refused without a write).
    if !state
        .store
        .spend_oauth_state(&sealed.id(), sealed.expires_at, now())
        .await?
    {
        return Err(unknown());
    }
    let Some(cookie) = session::cookie(headers, LOGIN_COOKIE) else {
        return Err(restart(
            "this browser did not start this sign-in (the nectr_login cookie is missing; cookies must be enabled)",
        ));
    };
    if !constant_time_eq(&Sha256::digest(cookie.as_bytes()), &sealed.cookie_binding) {
        tracing::warn!("sign-in callback from a browser that did not start it: refused");
        return Err(restart("this sign-in was started in another browser"));
    }
    let verifier = sealed.verifier_text();
    let next = next_from_cookie(cookie).unwrap_or_else(|| "/".to_owned());

    let callback_url = redirect_uri(state);
    let token = oauth::exchange_code(
        &state.config.server_url,
        &CodeExchange {
            client_id: &app.client_id,
            client_secret: &app.client_secret,
            code: &code,
            redirect_uri: &callback_url,
            code_verifier: &verifier,
        },
    )
    .await
    .map_err(|e| exchange_error(e, &callback_url))?;

    let gh = state.github(&token.token).map_err(ApiError::internal)?;
    let (identity, scopes) = oauth::identify(&gh).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot identify a new token's user");
        match e {
            GitHubError::Unauthorized { .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("GitHub did not accept the token it just issued; start again at {LOGIN_PATH}"),
            ),
            _ => ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("GitHub could not tell who signed in (GET /user failed); try again shortly at {LOGIN_PATH}"),
            ),
        }
    })?;
    if !scopes.iter().any(|s| s == REQUIRED_SCOPE) {
        tracing::info!(login = %identity.login, granted = %scopes.join(","), "sign-in refused: the token lacks the repo scope");
        let granted = if scopes.is_empty() {
            "no scopes".to_owned()
        } else {
            format!("only `{}`", scopes.join(", "))
        };
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "GitHub granted {granted}, but Nectr needs the `{REQUIRED_SCOPE}` scope to read pull requests and install webhooks; nothing was stored. Sign in again at {LOGIN_PATH} and approve the `{REQUIRED_SCOPE}` scope (an organization may need to approve the app too)"
            ),
        ));
    }
    let user = state
        .store
        .upsert_user(
            &NewUser {
                github_id: identity.id,
                login: identity.login.clone(),
                encrypted_token: state
                    .keyring
                    .encrypt(&owners::user_token(identity.id), token.token.as_bytes()),
                scopes: scopes.join(", "),
            },
            now(),
        )
        .await?;
    // A session this browser had before is over: the new one gets a new id (no fixation).
    session::end(state, headers).await?;
    let session_cookie = session::start(state, user.id).await?;
    tracing::info!(login = %user.login, user_id = user.id, "signed in");
    let mut response = redirect(StatusCode::FOUND, &next);
    response
        .headers_mut()
        .append(header::SET_COOKIE, session_cookie);
    Ok(response)
}

/// The validated `next` path carried in the pre-login cookie, if any.
fn next_from_cookie(cookie: &str) -> Option<String> {
    let (_, encoded) = cookie.split_once('.')?;
    let next = percent_decode(encoded)?;
    safe_next(&next).then_some(next)
}

fn exchange_error(e: OAuthError, redirect: &str) -> ApiError {
    match e {
        OAuthError::Refused { error } => {
            tracing::warn!(%error, "GitHub refused the code exchange");
            match error.as_str() {
                "bad_verification_code" => ApiError::bad_request(format!(
                    "GitHub did not accept the sign-in code (bad_verification_code): it expired, was already used, or belongs to another sign-in. Start again at {LOGIN_PATH}"
                )),
                "incorrect_client_credentials" => ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "GitHub rejected this server's OAuth app credentials (incorrect_client_credentials): the operator must check GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET",
                ),
                "redirect_uri_mismatch" => ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "GitHub says the callback URL does not match the OAuth app's (redirect_uri_mismatch): the operator must set the app's callback URL to {redirect} (NECTR_PUBLIC_URL + {CALLBACK_PATH})"
                    ),
                ),
                "unverified_user_email" => ApiError::new(
                    StatusCode::FORBIDDEN,
                    "GitHub requires a verified primary email address for this sign-in (unverified_user_email): verify it on GitHub, then sign in again",
                ),
                other => ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("GitHub refused the sign-in (`{other}`); start again at {LOGIN_PATH}"),
                ),
            }
        }
        OAuthError::Failed(detail) => {
            tracing::warn!(error = %detail, "the code exchange failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "GitHub did not complete the sign-in (the code exchange failed); try again shortly at {LOGIN_PATH}"
                ),
            )
        }
    }
}

// --- POST /auth/logout ------------------------------------------------------------------

pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let signed_in = session::require(&state, &headers).await?;
        let kind = super::api::authorize_write(&signed_in, &headers, &body)?;
        let clear = session::end(&state, &headers).await?;
        tracing::info!(login = %signed_in.user.login, "signed out");
        let mut response = match kind {
            super::api::WriteKind::Form { next } => {
                redirect(StatusCode::SEE_OTHER, next.as_deref().unwrap_or("/"))
            }
            super::api::WriteKind::Api => StatusCode::NO_CONTENT.into_response(),
        };
        response.headers_mut().append(header::SET_COOKIE, clear);
        Ok::<_, ApiError>(response)
    }
    .await;
    match result {
        Ok(r) => r,
        Err(e) => error_response(&headers, e),
    }
}

// --- shared helpers -----------------------------------------------------------------------

/// A redirect that no cache keeps and that sends no referrer onwards (the callback URL
/// held a code).
pub fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Whether the client asked for a page (a browser) rather than JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// An error as a small HTML page for browsers, as the usual JSON otherwise.
pub fn error_response(headers: &HeaderMap, error: ApiError) -> Response {
    let mut response = if wants_html(headers) {
        super::dashboard::api_error_page(&error)
    } else {
        error.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes percent-encoding (`+` stays `+`); `None` on a bad escape or invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn next_must_stay_on_this_site() {
        for ok in ["/", "/repos", "/repos?x=1&y=%2F", "/a/b#c"] {
            assert!(safe_next(ok), "{ok}");
        }
        for bad in [
            "",
            "repos",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/ space",
            "https://evil.example/",
            "javascript:alert(1)",
            "/é",
        ] {
            assert!(!safe_next(bad), "{bad:?}");
        }
        assert!(!safe_next(&format!("/{}", "a".repeat(MAX_NEXT_LEN))));
    }

    #[test]
    fn next_round_trips_through_the_cookie() {
        let next = "/repos?filter=a b&x=%2F";
        let cookie = format!("{}.{}", "ab".repeat(32), encode_component(next));
        assert!(cookie.bytes().all(|b| b.is_ascii_graphic() && b != b';'));
        // A space is not a safe `next`, so it is dropped on the way back.
        assert_eq!(next_from_cookie(&cookie), None);
        let cookie = format!("{}.{}", "ab".repeat(32), encode_component("/repos?x=%2F"));
        assert_eq!(next_from_cookie(&cookie).as_deref(), Some("/repos?x=%2F"));
        assert_eq!(next_from_cookie(&"ab".repeat(32)), None);
        let evil = format!("{}.{}", "ab".repeat(32), encode_component("//evil"));
        assert_eq!(next_from_cookie(&evil), None);
    }

    #[test]
    fn states_are_sealed_bound_and_tamper_evident() {
        let keyring = Keyring::from_env_value(&crate::crypto::generate_key()).unwrap();
        let login = LoginState::new("cookie", 1_000).unwrap();
        let sealed = seal_state(&keyring, &login);
        assert!(is_state(&sealed), "{sealed}");
        let opened = open_state(&keyring, &sealed).unwrap();
        assert!(opened == login);
        assert_eq!(
            opened.cookie_binding,
            <[u8; 32]>::from(Sha256::digest(b"cookie"))
        );
        assert!(!sealed.contains(&login.verifier_text()));
        // Another server's key, a flipped character, junk: nothing opens.
        let other = Keyring::from_env_value(&crate::crypto::generate_key()).unwrap();
        assert!(open_state(&other, &sealed).is_none());
        let mut bytes = sealed.clone().into_bytes();
        bytes[40] = if bytes[40] == b'A' { b'B' } else { b'A' };
        assert!(open_state(&keyring, &String::from_utf8(bytes).unwrap()).is_none());
        assert!(open_state(&keyring, &"0a".repeat(32)).is_none());
        assert!(open_state(&keyring, &format!("{}'", "a".repeat(120))).is_none());
        // A ciphertext of the same keyring for another owner is not a state.
        let token = keyring.encrypt(&owners::user_token(1), &[0u8; SEALED_LEN]);
        assert!(open_state(&keyring, &token).is_none());
    }

    #[test]
    fn percent_decode_rejects_bad_escapes() {
        assert_eq!(percent_decode("%2Fa%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%+f"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
