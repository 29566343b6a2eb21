//! What Nectr knows beyond the diff: the repository's history as a knowledge graph
//! ([`graph`]: past PRs, co-changes, experts, reverts, issues) and what earlier reviews taught
//! it ([`memory`]: conventions, recurring findings, outcomes of its comments). Each is a trait
//! with an embedded implementation (one SQLite file) and a remote one (Neo4j, Mem0); the
//! pipeline asks them before a review and tells them after, best-effort and time-boxed.

pub mod graph;
pub mod memory;
