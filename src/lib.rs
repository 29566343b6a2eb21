//! Nectr reviews pull requests: built-in rules plus an optional language model, posted as
//! one GitHub review whose inline comments always sit on real diff lines.
//!
//! See `ARCHITECTURE.md` for the map. The arrows point one way: `cli` calls `pipeline`;
//! `pipeline` calls `diff`, `review` and `config`; nothing below `pipeline` knows about clap.

pub mod cli;
pub mod config;
pub mod context;
pub mod crypto;
pub mod diff;
pub mod error;
pub mod github;
pub mod llm;
pub mod pipeline;
pub mod progress;
pub mod publish;
pub mod review;
pub mod rotation;
pub mod server;
pub mod store;
