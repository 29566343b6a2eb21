//! GitHub's OAuth web flow, as `nectr serve` signs users in: the authorize URL (with PKCE),
//! the code exchange, and who the new token belongs to.
//!
//! Both web endpoints live on `GITHUB_SERVER_URL` (github.com or a GitHub Enterprise
//! Server host), not on the API. The code exchange sends its parameters as a JSON body, never
//! in the URL, and asks for JSON back: GitHub then answers `200` with either
//! `{"access_token", "scope", "token_type"}` or `{"error", "error_description"}`.
//!
//! Nothing here logs or returns the code, the client secret or the token in an error.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::client::encode_component;
use super::transport::{Method, Request};
use super::{GitHub, GitHubError};

/// The parameters of `GET /login/oauth/authorize`.
pub struct Authorize<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// Space-separated scopes, e.g. `repo`.
    pub scope: &'a str,
    pub state: &'a str,
    /// `BASE64URL(SHA-256(verifier))` without padding (method `S256`).
    pub code_challenge: &'a str,
}

/// The page GitHub shows the user to approve the app, every parameter percent-encoded.
pub fn authorize_url(server_url: &str, a: &Authorize<'_>) -> String {
    format!(
        "{}/login/oauth/authorize?client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
        server_url.trim_end_matches('/'),
        encode_component(a.client_id),
        encode_component(a.redirect_uri),
        encode_component(a.scope),
        encode_component(a.state),
        encode_component(a.code_challenge),
    )
}

/// The JSON body of `POST /login/oauth/access_token`.
#[derive(Serialize)]
pub struct CodeExchange<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub code: &'a str,
    pub redirect_uri: &'a str,
    pub code_verifier: &'a str,
}

impl fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeExchange")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A user's new token and the scopes GitHub says it granted.
pub struct AccessToken {
    pub token: String,
    /// Comma-separated, as GitHub writes it (`repo,user`).
    pub scope: String,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// GitHub answered with an OAuth error code (`bad_verification_code`,
    /// `incorrect_client_credentials`, `redirect_uri_mismatch`, …). Only the code is kept:
    /// it is a short identifier, safe to show and log.
    #[error("GitHub refused the code exchange ({error})")]
    Refused { error: String },
    /// No usable answer (network, 5xx, not JSON, no token).
    #[error("the code exchange with GitHub failed: {0}")]
    Failed(String),
}

/// Exchanges an authorization code for a token at `server_url/login/oauth/access_token`.
pub async fn exchange_code(
    server_url: &str,
    exchange: &CodeExchange<'_>,
) -> Result<AccessToken, OAuthError> {
    let server_url = server_url.trim_end_matches('/');
    let gh = GitHub::connect(server_url, None).map_err(|e| OAuthError::Failed(e.to_string()))?;
    let body = serde_json::to_value(exchange)
        .map_err(|e| OAuthError::Failed(format!("cannot encode the request: {e}")))?;
    let mut request = Request::with_body(
        Method::Post,
        format!("{server_url}/login/oauth/access_token"),
        body,
    );
    request.accept = Some("application/json".to_owned());
    let response = gh
        .send(request)
        .await
        .map_err(|e| OAuthError::Failed(e.to_string()))?;
    if response.status != 200 {
        return Err(OAuthError::Failed(format!(
            "GitHub answered {} to POST /login/oauth/access_token",
            response.status
        )));
    }
    #[derive(Deserialize)]
    struct Answer {
        access_token: Option<String>,
        scope: Option<String>,
        error: Option<String>,
    }
    // The body may hold the token: never quote it in an error.
    let answer: Answer = serde_json::from_slice(&response.body).map_err(|_| {
        OAuthError::Failed(
            "GitHub's answer to POST /login/oauth/access_token was not the expected JSON".into(),
        )
    })?;
    if let Some(error) = answer.error {
        return Err(OAuthError::Refused {
            error: error_code(&error),
        });
    }
    match answer.access_token.filter(|t| !t.trim().is_empty()) {
        Some(token) => Ok(AccessToken {
            token,
            scope: answer.scope.unwrap_or_default(),
        }),
        None => Err(OAuthError::Failed(
            "GitHub's answer to POST /login/oauth/access_token had no access_token".into(),
        )),
    }
}

/// An OAuth error code as GitHub sends it (`[a-z_]`), anything else replaced, at most 64
/// characters: it ends up in pages and logs.
pub fn error_code(raw: &str) -> String {
    let code: String = raw
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if code.is_empty() {
        "unknown_error".into()
    } else {
        code
    }
}

/// The account a token belongs to.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Identity {
    /// GitHub's numeric account id: stable across renames.
    pub id: i64,
    pub login: String,
}

/// `GET /user` with `gh`'s token: the account and the token's scopes (`X-OAuth-Scopes`).
pub async fn identify(gh: &GitHub) -> Result<(Identity, Vec<String>), GitHubError> {
    let endpoint = || "GET /user".to_owned();
    let response = gh
        .send(Request::get(format!("{}/user", gh.api_url())))
        .await?;
    match response.status {
        200 => {}
        401 => {
            return Err(GitHubError::Unauthorized {
                endpoint: endpoint(),
            });
        }
        status => {
            return Err(GitHubError::Status {
                endpoint: endpoint(),
                status,
                message: "unexpected answer".into(),
            });
        }
    }
    let identity: Identity =
        serde_json::from_slice(&response.body).map_err(|e| GitHubError::Malformed {
            endpoint: endpoint(),
            detail: e.to_string(),
        })?;
    let scopes = response
        .header("x-oauth-scopes")
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Ok((identity, scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_encodes_every_parameter() {
        let url = authorize_url(
            "https://github.com/",
            &Authorize {
                client_id: "Iv1.abc",
                redirect_uri: "https://nectr.example/auth/github/callback",
                scope: "repo",
                state: "s t&x",
                code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            },
        );
        assert_eq!(
            url,
            "https://github.com/login/oauth/authorize?client_id=Iv1.abc\
             &redirect_uri=https%3A%2F%2Fnectr.example%2Fauth%2Fgithub%2Fcallback\
             &scope=repo&state=s%20t%26x\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256"
        );
    }

    #[test]
    fn error_codes_are_sanitised() {
        assert_eq!(error_code("bad_verification_code"), "bad_verification_code");
        assert_eq!(error_code("<script>"), "?script?");
        assert_eq!(error_code(""), "unknown_error");
        assert_eq!(error_code(&"a".repeat(100)).len(), 64);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let exchange = CodeExchange {
            client_id: "id",
            client_secret: "very-secret",
            code: "the-code",
            redirect_uri: "https://x/cb",
            code_verifier: "verifier",
        };
        let shown = format!("{exchange:?}");
        assert!(!shown.contains("very-secret") && !shown.contains("the-code"));
        assert!(!shown.contains("\"verifier\""));
        let token = AccessToken {
            token: "gho_secret".into(),
            scope: "repo".into(),
        };
        assert!(!format!("{token:?}").contains("gho_secret"));
    }
}
