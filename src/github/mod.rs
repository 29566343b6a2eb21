//! Everything that talks to GitHub: the REST client and its transport, rate limits and
//! retries, the PR-state cache, event payloads, and recorded bundles for offline replay.
//!
//! API boundary: only this module knows GitHub's URLs and JSON.

pub mod bundle;
pub mod client;
pub mod event;
pub mod oauth;
pub mod pr_state;
pub mod ratelimit;
pub mod token;
pub mod transport;
pub mod types;
pub mod webhook;

pub use client::{GitHub, GitHubError};

/// A client for `api`, with the test-only timing knobs read from the environment:
/// `NECTR_GITHUB_WRITE_GAP_MS` (the pause between writes; GitHub asks integrations to space
/// out content-creating requests), `NECTR_GITHUB_RETRY_BASE_MS` (the first retry backoff
/// step, default 500) and `NECTR_GITHUB_MAX_WAIT` (seconds to wait out a rate limit). Leave
/// them unset against GitHub.
pub fn connect_tuned(api: &str, token: Option<&str>) -> Result<GitHub, GitHubError> {
    let millis = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_millis)
    };
    let mut gh = GitHub::connect(api, token)?;
    if let Some(gap) = millis("NECTR_GITHUB_WRITE_GAP_MS") {
        gh = gh.with_write_gap(gap);
    }
    let mut policy = ratelimit::RetryPolicy::default();
    if let Some(base) = millis("NECTR_GITHUB_RETRY_BASE_MS") {
        policy.base_delay = base;
    }
    if let Some(secs) = std::env::var("NECTR_GITHUB_MAX_WAIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        policy.max_wait = std::time::Duration::from_secs(secs);
    }
    gh = gh.with_policy(policy);
    Ok(gh)
}
