//! Everything that talks to GitHub: the REST client and its transport, rate limits and
//! retries, the PR-state cache, event payloads, and recorded bundles for offline replay.
//!
//! API boundary: only this module knows GitHub's URLs and JSON.

pub mod bundle;
pub mod client;
pub mod event;
pub mod pr_state;
pub mod ratelimit;
pub mod token;
pub mod transport;
pub mod types;
pub mod webhook;

pub use client::{GitHub, GitHubError};
