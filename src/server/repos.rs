//! Connecting and disconnecting repositories: what the API and the dashboard both call.
//!
//! Connecting installs a webhook on the repository (a new random 32-byte hex secret,
//! events `pull_request`, `issues`, `issue_comment` and `pull_request_review_comment`
//! (connecting again adds missing ones to an existing webhook), JSON, TLS verification on, URL
//! `NECTR_PUBLIC_URL/api/v1/webhooks/github`) with the user's own token, then records the
//! installation with the secret encrypted. Only an admin of the repository may connect it;
//! a repository connected by someone else is theirs to disconnect.

use axum::http::StatusCode;
use serde::Serialize;

use super::http::ApiError;
use super::session::random_hex;
use super::webhook::SUBSCRIBED_EVENTS;
use super::{AppState, now, owners};
use crate::github::{GitHub, GitHubError};
use crate::store::{Installation, NewInstallation, User};

/// The path the webhook receiver listens on.
pub const WEBHOOK_PATH: &str = "/api/v1/webhooks/github";

/// Most repositories listed for one user.
pub const MAX_REPOS: usize = 1_000;

/// One row of the repository list.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RepoView {
    pub full_name: String,
    pub private: bool,
    pub html_url: Option<String>,
    /// The user administers it, so may connect it.
    pub admin: bool,
    /// Connected by anyone.
    pub connected: bool,
    /// The webhook's id, when connected.
    pub webhook_id: Option<i64>,
    /// Who connected it, when connected.
    pub connected_by: Option<String>,
}

/// The URL GitHub delivers to.
pub fn payload_url(state: &AppState) -> String {
    format!("{}{WEBHOOK_PATH}", state.config.public_url)
}

/// The user's GitHub token, decrypted, and a client acting with it. A user flagged
/// `needs_reauth` gets 401 at once, without a call GitHub would refuse.
pub fn github_for(state: &AppState, user: &User) -> Result<GitHub, ApiError> {
    if user.needs_reauth {
        return Err(reauth_error());
    }
    let token = state
        .keyring
        .decrypt(&owners::user_token(user.github_id), &user.encrypted_token)
        .map_err(|e| {
            tracing::error!(user = %user.login, error = %e, "cannot decrypt a user's token");
            reauth_error()
        })?;
    let token = String::from_utf8(token).map_err(|_| reauth_error())?;
    state.github(&token).map_err(ApiError::internal)
}

fn reauth_error() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "GitHub no longer accepts your token (revoked, expired or missing the `repo` scope): sign in again at /auth/github/login",
    )
}

/// Maps a GitHub failure to an answer; a 401 also flags the user for re-login.
pub async fn github_error(state: &AppState, user: &User, e: GitHubError) -> ApiError {
    match e {
        GitHubError::Unauthorized { .. } => {
            if let Err(db) = state.store.mark_needs_reauth(user.id, now()).await {
                tracing::error!(error = %db, "cannot flag the user for re-login");
            }
            reauth_error()
        }
        GitHubError::NotFound { .. } => ApiError::new(
            StatusCode::NOT_FOUND,
            "GitHub does not show you this repository: check the name, and that your token can see it",
        ),
        GitHubError::Forbidden { message, .. } => {
            ApiError::new(StatusCode::FORBIDDEN, format!("GitHub refused: {message}"))
        }
        other => {
            tracing::warn!(error = %other, "GitHub failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("GitHub failed, try again shortly: {other}"),
            )
        }
    }
}

/// The user's repositories with their connection state.
pub async fn list(state: &AppState, user: &User) -> Result<Vec<RepoView>, ApiError> {
    let gh = github_for(state, user)?;
    let repos = match gh.user_repos(MAX_REPOS).await {
        Ok(r) => r,
        Err(e) => return Err(github_error(state, user, e).await),
    };
    let mut views = Vec::with_capacity(repos.len());
    for repo in repos {
        let installed = state
            .store
            .active_installation_for_repo(&repo.full_name)
            .await?;
        views.push(RepoView {
            admin: repo.permissions.as_ref().is_some_and(|p| p.admin),
            connected: installed.is_some(),
            webhook_id: installed.as_ref().map(|i| i.installation.webhook_id),
            connected_by: installed.map(|i| i.user.login),
            full_name: repo.full_name,
            private: repo.private,
            html_url: repo.html_url,
        });
    }
    Ok(views)
}

/// Installs the webhook and records the installation. Connecting a repository the user
/// already connected answers the existing installation.
pub async fn connect(state: &AppState, user: &User, repo: &str) -> Result<Installation, ApiError> {
    let gh = github_for(state, user)?;
    let info = match gh.repo(repo).await {
        Ok(i) => i,
        Err(e) => return Err(github_error(state, user, e).await),
    };
    if !info.permissions.as_ref().is_some_and(|p| p.admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "you are not an admin of {}: only an admin can add the webhook Nectr needs; ask one to connect it",
                info.full_name
            ),
        ));
    }
    let repo = info.full_name;
    if let Some(existing) = state.store.active_installation_for_repo(&repo).await? {
        if existing.user.id != user.id {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "{repo} is already connected by @{}; they can disconnect it first",
                    existing.user.login
                ),
            ));
        }
        // Connected before Nectr took comments: make the webhook send them too.
        if let Err(e) = gh
            .add_hook_events(
                &repo,
                existing.installation.webhook_id as u64,
                &SUBSCRIBED_EVENTS,
            )
            .await
        {
            tracing::warn!(%repo, error = %e, "could not add the comment events to the webhook");
        }
        return Ok(existing.installation);
    }
    let secret = random_hex(32)?;
    let hook = match gh
        .create_hook(&repo, &payload_url(state), &secret, &SUBSCRIBED_EVENTS)
        .await
    {
        Ok(h) => h,
        Err(e) => return Err(github_error(state, user, e).await),
    };
    let record = NewInstallation {
        repo: repo.clone(),
        user_id: user.id,
        webhook_id: hook.id as i64,
        encrypted_webhook_secret: state
            .keyring
            .encrypt(&owners::webhook_secret(&repo), secret.as_bytes()),
    };
    match state.store.upsert_installation(&record, now()).await {
        Ok(installation) => {
            tracing::info!(%repo, user = %user.login, webhook_id = hook.id, "repository connected");
            Ok(installation)
        }
        Err(e) => {
            // Do not leave a webhook behind whose secret nobody knows.
            if let Err(cleanup) = gh.delete_hook(&repo, hook.id).await {
                tracing::warn!(%repo, webhook_id = hook.id, error = %cleanup, "could not remove the webhook after a database error; delete it in the repository's settings");
            }
            Err(e.into())
        }
    }
}

/// Removes the webhook (already gone is fine) and deactivates the installation.
pub async fn disconnect(state: &AppState, user: &User, repo: &str) -> Result<(), ApiError> {
    let Some(existing) = state.store.active_installation_for_repo(repo).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{repo} is not connected"),
        ));
    };
    if existing.user.id != user.id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} was connected by @{}; only they can disconnect it",
                existing.installation.repo, existing.user.login
            ),
        ));
    }
    let installation = existing.installation;
    let gh = github_for(state, user)?;
    match gh
        .delete_hook(&installation.repo, installation.webhook_id as u64)
        .await
    {
        Ok(_) => {}
        // The repository itself is gone or out of reach: nothing left to remove.
        Err(GitHubError::NotFound { .. }) => {}
        Err(e) => return Err(github_error(state, user, e).await),
    }
    state
        .store
        .deactivate_installation(installation.id, now())
        .await?;
    tracing::info!(repo = %installation.repo, user = %user.login, "repository disconnected");
    Ok(())
}
