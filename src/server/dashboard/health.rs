//! Is a connected repository's webhook still there? Asked of GitHub when a page shows the
//! repository (with the connecting user's token: only an admin can list hooks), and kept
//! for [`HEALTH_TTL`] per process so a reload does not cost a call per repository.
//!
//! A hook removed on GitHub means no more deliveries: the page then offers Reconnect
//! instead of showing "Connected" for a repository Nectr will never hear from again.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::github::GitHubError;
use crate::server::AppState;
use crate::server::repos::github_for;
use crate::store::User;

/// How long an answer is trusted.
pub const HEALTH_TTL: Duration = Duration::from_secs(60);
/// The longest a page waits for GitHub's answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What GitHub says about an installation's webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookHealth {
    /// Present and active.
    Ok,
    /// Present but switched off in the repository's settings.
    Inactive,
    /// GitHub does not list it any more (deleted by hand, or the repository moved).
    Missing,
    /// Could not be checked; the reason, for the page.
    Unknown(String),
}

/// Keyed by GitHub API URL, lower-case repository and hook id.
type Cache = Mutex<HashMap<(String, String, i64), (Instant, HookHealth)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Forgets what is known about `repo`'s hooks (after a reconnect).
pub fn forget(repo: &str) {
    let key = repo.to_ascii_lowercase();
    if let Ok(mut c) = cache().lock() {
        c.retain(|(_, r, _), _| *r != key);
    }
}

/// The health of webhook `hook_id` on `repo`, which `user` connected.
pub async fn check(state: &AppState, user: &User, repo: &str, hook_id: i64) -> HookHealth {
    let key = (
        state.config.api_url.clone(),
        repo.to_ascii_lowercase(),
        hook_id,
    );
    if let Ok(c) = cache().lock()
        && let Some((at, health)) = c.get(&key)
        && at.elapsed() < HEALTH_TTL
    {
        return health.clone();
    }
    let health = ask(state, user, repo, hook_id).await;
    if let Ok(mut c) = cache().lock() {
        // Keep the map small: drop what expired.
        c.retain(|_, (at, _)| at.elapsed() < HEALTH_TTL);
        c.insert(key, (Instant::now(), health.clone()));
    }
    health
}

async fn ask(state: &AppState, user: &User, repo: &str, hook_id: i64) -> HookHealth {
    let gh = match github_for(state, user) {
        Ok(gh) => gh,
        Err(e) => return HookHealth::Unknown(e.message),
    };
    match tokio::time::timeout(CHECK_TIMEOUT, gh.list_hooks(repo)).await {
        Err(_) => HookHealth::Unknown("GitHub did not answer in time".into()),
        Ok(Ok(hooks)) => match hooks.iter().find(|h| h.id as i64 == hook_id) {
            Some(h) if h.active => HookHealth::Ok,
            Some(_) => HookHealth::Inactive,
            None => HookHealth::Missing,
        },
        // The repository itself is gone or out of reach: so is its hook.
        Ok(Err(GitHubError::NotFound { .. })) => HookHealth::Missing,
        Ok(Err(e)) => {
            tracing::warn!(%repo, error = %e, "dashboard: cannot check the webhook");
            HookHealth::Unknown("GitHub could not be asked just now".into())
        }
    }
}
