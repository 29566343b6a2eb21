//! Shared test support. Test files include it with `mod support;`.
//!
//! - [`fake_github`]: a fake of GitHub's REST API served on 127.0.0.1, independent of
//!   Nectr's own code (its diff parsing and line validation are its own).
//! - [`db`]: fresh SQLite and PostgreSQL databases per test, and `backend_tests!`.
//! - [`mock_llm`]: a mock LLM server (OpenAI chat completions, Azure, Anthropic Messages)
//!   on 127.0.0.1 that records requests and answers from a script or a responder closure.
//! - [`mock_mcp`]: a mock MCP server (streamable HTTP) on 127.0.0.1 that checks the protocol,
//!   records requests and answers tools from closures, with faults (statuses, hangs).
//! - [`fake_models`]: a fake of GitHub Models (chat completions, catalog) enforcing the
//!   free tiers' per-request token limits, a per-minute rate, a daily quota and 403 for
//!   accounts without access.
//! - [`serve`]: the real `nectr serve` binary with the environment every such test needs.
//! - [`thread_server`]: the loopback server (own thread, own runtime, stops on drop) the
//!   mock and fake servers above other than `fake_github` run on.
//! - [`raw_http`]: a minimal HTTP/1.1 client over a TCP socket, for tests that must speak
//!   to the fake without going through Nectr's client.
#![allow(dead_code)]

pub mod db;
pub mod fake_github;
pub mod fake_models;
pub mod mock_llm;
pub mod mock_mcp;
pub mod raw_http;
pub mod serve;
pub mod thread_server;
