//! Outside context for a review: what trackers, error monitors and other services know about
//! the code a pull request changes. Every source is best-effort: a failing one never blocks a
//! review, and its text is untrusted data.
//!
//! - [`mcp`]: Model Context Protocol servers (Linear issues, Sentry errors, generic tools).

pub mod mcp;
