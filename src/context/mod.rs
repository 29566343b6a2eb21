//! Context that no other reviewer has, gathered before a review and learned from after it:
//! the pipeline steps "pull MCP context", "build graph and memory context", "index the PR"
//! and "store memories".
//!
//! - [`mcp`]: Linear issues and Sentry errors (and any other MCP server) for the PR;
//! - [`graph`]: the knowledge graph of the repository's history (embedded SQLite or Neo4j);
//! - [`memory`]: long-term memories and finding outcomes (embedded FTS5 or Mem0).
//!
//! This module is the seam the pipeline uses: [`ContextSources`] are opened once per process
//! (the server shares them across reviews), [`gather`] asks all of them at once before a
//! review, [`apply_feedback`] hides or ranks findings the repository has dismissed, and
//! [`learn`] indexes the PR and stores memories after it.
//!
//! Invariants:
//! - Every source is best-effort and time-boxed: [`gather`] and [`learn`] never fail; what
//!   did not answer is named in [`Gathered::unavailable`] and, from there, in the summary.
//! - Everything a source returns is untrusted text: it reaches the model only inside the
//!   delimited context sections, and the summary only through the sources' own escaping
//!   renderers.
//! - Nothing here reads secrets into text: errors are reported by source name and reason.

pub mod graph;
pub mod mcp;
pub mod memory;

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{McpServer, RepoConfig};
use crate::review::Review;
use crate::review::ai::ContextSection;

use graph::{FindingRecord, GraphAnswers, GraphQuery, GraphSettings, KnowledgeGraph, PrRecord};
use mcp::{McpContext, McpLimits, McpMode, McpPolicy, McpRequest};
use memory::{Memory, MemoryKind, MemorySettings, MemoryStore, NewMemory, Outcome};

/// How long the graph and the memories get per question before the review goes on without.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most memories put into a prompt.
pub const MAX_MEMORIES: usize = 8;
/// Most entries per graph answer list.
pub const GRAPH_LIMIT: usize = 5;

/// The context sources of one process.
pub struct ContextSources {
    pub graph: Option<Arc<dyn KnowledgeGraph>>,
    pub memories: Option<Arc<dyn MemoryStore>>,
    /// MCP servers the operator configured (`NECTR_MCP_CONFIG`); the repository's come from
    /// its `.nectr.yml` per review.
    pub operator_mcp: Vec<McpServer>,
    pub mcp_policy: McpPolicy,
    pub mcp_limits: McpLimits,
    /// Sources that could not be opened, and why (repeated in every summary).
    pub unavailable: Vec<String>,
    pub timeout: Duration,
}

impl ContextSources {
    /// No sources at all (offline diffs, replays, tests that do not want them).
    pub fn none() -> ContextSources {
        ContextSources {
            graph: None,
            memories: None,
            operator_mcp: Vec::new(),
            mcp_policy: McpPolicy::new(McpMode::Local, BTreeMap::new()),
            mcp_limits: McpLimits::default(),
            unavailable: Vec::new(),
            timeout: SOURCE_TIMEOUT,
        }
    }

    /// The sources the process environment names: Neo4j or the embedded graph, Mem0 or the
    /// embedded memories, the operator's MCP servers. Never fails: a source that cannot be
    /// opened is left out and named in `unavailable`.
    pub async fn open(mode: McpMode) -> ContextSources {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let mut sources = ContextSources::none();
        if env
            .get("NECTR_CONTEXT")
            .is_some_and(|v| matches!(v.trim(), "off" | "0" | "false" | "no"))
        {
            return sources;
        }
        let lookup = |k: &str| env.get(k).cloned();
        // Without a home for the embedded database (a bare environment), the embedded
        // stores are simply off: that is not worth a line in every summary.
        let has_place = graph::context_db_path(&lookup).is_ok();
        let set = |k: &str| env.get(k).is_some_and(|v| !v.trim().is_empty());
        sources.mcp_policy = McpPolicy::new(mode, env.clone());
        sources.mcp_limits = McpLimits::from_env(&env);
        match mcp::policy::operator_servers(&env) {
            Ok(servers) => sources.operator_mcp = servers,
            Err(e) => sources
                .unavailable
                .push(format!("MCP servers of NECTR_MCP_CONFIG: {e}")),
        }
        let graph = async {
            if !has_place && !set("NEO4J_URI") {
                return Ok(None);
            }
            let settings = GraphSettings::from_lookup(lookup)?;
            graph::open_graph(&settings).await.map(Some)
        };
        match tokio::time::timeout(SOURCE_TIMEOUT, graph).await {
            Ok(Ok(g)) => sources.graph = g,
            Ok(Err(e)) => sources.unavailable.push(format!("knowledge graph: {e:#}")),
            Err(_) => sources
                .unavailable
                .push("knowledge graph: timed out while connecting".into()),
        }
        let memories = async {
            if !has_place && !set("MEM0_API_KEY") {
                return Ok(None);
            }
            let settings = MemorySettings::from_lookup(lookup)?;
            memory::open_memories(&settings).await.map(Some)
        };
        match tokio::time::timeout(SOURCE_TIMEOUT, memories).await {
            Ok(Ok(m)) => sources.memories = m,
            Ok(Err(e)) => sources.unavailable.push(format!("memories: {e:#}")),
            Err(_) => sources
                .unavailable
                .push("memories: timed out while connecting".into()),
        }
        sources
    }
}

/// What the pipeline knows about the PR, for asking and for indexing.
#[derive(Clone, Debug, Default)]
pub struct PrFacts {
    /// `owner/name`.
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub body: String,
    /// The head branch name.
    pub branch: String,
    pub author: String,
    /// `open`, `merged` or `closed`.
    pub state: String,
    pub created_at: i64,
    pub merged_at: Option<i64>,
    pub base_sha: String,
    pub head_sha: String,
    /// The changed paths, in diff order.
    pub paths: Vec<String>,
}

/// One thing a review's context held (see [`Gathered::used`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextUse {
    /// `linear`, `sentry`, `mcp`, `graph`, `memories` or `unavailable`.
    pub kind: &'static str,
    pub label: String,
    pub detail: String,
}

/// What the sources said before a review.
#[derive(Clone, Debug, Default)]
pub struct Gathered {
    pub graph: Option<GraphAnswers>,
    pub memories: Vec<Memory>,
    pub mcp: McpContext,
    /// One line per source that did not answer: `knowledge graph: timed out after 10s`.
    pub unavailable: Vec<String>,
}

impl Gathered {
    /// The sections for the model (untrusted data, delimited by the prompt).
    pub fn prompt_sections(&self) -> Vec<ContextSection> {
        let mut sections = self.mcp.prompt_sections();
        if let Some(answers) = self.graph.as_ref().filter(|a| !a.is_empty()) {
            sections.push(ContextSection {
                title: "Repository history (knowledge graph)".into(),
                body: answers.prompt_section(),
            });
        }
        if !self.memories.is_empty() {
            let mut body = String::from(
                "What Nectr learned from earlier reviews of this repository (conventions, \
                 recurring findings, and how its comments fared):\n",
            );
            for m in &self.memories {
                let place = m
                    .path
                    .as_deref()
                    .map(|p| format!(" [{p}]"))
                    .unwrap_or_default();
                let _ = writeln!(
                    body,
                    "- ({}){place} {}",
                    m.kind.as_str(),
                    clipped_line(&m.text)
                );
            }
            sections.push(ContextSection {
                title: "Memories".into(),
                body,
            });
        }
        sections
    }

    /// Short lines for the posted summary: what the sources found, and what was unavailable.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = self.mcp.summary_lines();
        if let Some(answers) = &self.graph {
            lines.extend(answers.summary_lines());
        }
        lines
    }

    /// What a review used, in short lines for the dashboard's record of it (`nectr serve`
    /// stores them with the review): issues and errors MCP servers gave, what the graph and
    /// the memories answered, and the sources that did not answer. The text is untrusted
    /// (from GitHub, Linear, Sentry…); the store clips it and pages escape it.
    pub fn used(&self) -> Vec<ContextUse> {
        let mut out = Vec::new();
        let mut push = |kind: &'static str, label: String, detail: String| {
            out.push(ContextUse {
                kind,
                label,
                detail,
            })
        };
        for issue in &self.mcp.linear {
            let detail = if issue.state.is_empty() {
                issue.title.clone()
            } else {
                format!("{} ({})", issue.title, issue.state)
            };
            push("linear", issue.key.clone(), detail);
        }
        for error in &self.mcp.sentry {
            push("sentry", error.short_id.clone(), error.title.clone());
        }
        for (server, text) in &self.mcp.generic {
            push(
                "mcp",
                server.clone(),
                text.lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .to_owned(),
            );
        }
        if let Some(g) = &self.graph {
            for (label, n) in [
                ("earlier pull requests on these files", g.past_prs.len()),
                (
                    "files that usually change with these",
                    g.missing_co_changes.len(),
                ),
                ("people who know these files", g.experts.len()),
                ("reverts touching these files", g.reverts.len()),
                ("open issues mentioning these files", g.open_issues.len()),
                ("issues this pull request fixes", g.fixes.len()),
            ] {
                if n > 0 {
                    push("graph", label.to_owned(), n.to_string());
                }
            }
        }
        if !self.memories.is_empty() {
            push(
                "memories",
                "memories from earlier reviews".to_owned(),
                self.memories.len().to_string(),
            );
        }
        for u in &self.unavailable {
            push("unavailable", u.clone(), String::new());
        }
        out
    }

    /// Everything gathered, for `nectr context`: the prompt sections as the model sees them,
    /// then the summary lines and what was unavailable.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let sections = self.prompt_sections();
        if sections.is_empty() {
            out.push_str("No context: the sources had nothing on this pull request.\n");
        }
        for s in &sections {
            let _ = writeln!(out, "=== {} ===\n{}\n", s.title, s.body.trim_end());
        }
        let summary = self.summary_lines();
        if !summary.is_empty() {
            out.push_str("=== In the summary ===\n");
            for l in &summary {
                let _ = writeln!(out, "- {l}");
            }
            out.push('\n');
        }
        if !self.unavailable.is_empty() {
            out.push_str("=== Unavailable ===\n");
            for u in &self.unavailable {
                let _ = writeln!(out, "- {u}");
            }
        }
        out
    }
}

/// A memory on one line of at most 300 characters (the prompt is not the place for essays).
fn clipped_line(text: &str) -> String {
    let line = crate::review::render::markdown::one_line(text);
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Time-box one source's question; a failure or timeout becomes a line of `unavailable`.
async fn boxed<T>(
    name: &str,
    timeout: Duration,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
    unavailable: &mut Vec<String>,
) -> Option<T> {
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            tracing::warn!(source = name, error = %format!("{e:#}"), "context source failed");
            unavailable.push(format!("{name}: {e:#}"));
            None
        }
        Err(_) => {
            unavailable.push(format!("{name}: timed out after {}s", timeout.as_secs()));
            None
        }
    }
}

/// Ask every source about the PR at once. Never fails.
pub async fn gather(sources: &ContextSources, config: &RepoConfig, facts: &PrFacts) -> Gathered {
    let fixes = graph::fixed_issues(&facts.repo, &format!("{}\n{}", facts.title, facts.body));
    let query = GraphQuery {
        repo: &facts.repo,
        pr_number: facts.number,
        author: Some(facts.author.as_str()).filter(|a| !a.is_empty()),
        paths: &facts.paths,
        fixes: &fixes,
        limit: GRAPH_LIMIT,
    };
    let search_text = format!("{} {}", facts.title, facts.paths.join(" "));
    let servers = mcp::configured_servers(&sources.operator_mcp, &config.context.mcp);
    let request = McpRequest {
        repo: &facts.repo,
        title: &facts.title,
        body: &facts.body,
        branch: &facts.branch,
        changed_paths: &facts.paths,
    };
    let mut graph_unavailable = Vec::new();
    let mut memory_unavailable = Vec::new();
    let graph_answers = async {
        match &sources.graph {
            Some(g) => {
                boxed(
                    "knowledge graph",
                    sources.timeout,
                    g.query(&query),
                    &mut graph_unavailable,
                )
                .await
            }
            None => None,
        }
    };
    let memories = async {
        match &sources.memories {
            Some(m) => boxed(
                "memories",
                sources.timeout,
                m.search(&facts.repo, &facts.paths, &search_text, MAX_MEMORIES),
                &mut memory_unavailable,
            )
            .await
            .unwrap_or_default(),
            None => Vec::new(),
        }
    };
    let mcp_context = async {
        if servers.is_empty() {
            McpContext::default()
        } else {
            mcp::gather(&servers, &request, &sources.mcp_limits, &sources.mcp_policy).await
        }
    };
    let (graph_answers, memories, mcp_context) = tokio::join!(graph_answers, memories, mcp_context);
    let mut unavailable = sources.unavailable.clone();
    unavailable.extend(graph_unavailable);
    unavailable.extend(memory_unavailable);
    unavailable.extend(mcp_context.unavailable.iter().cloned());
    Gathered {
        graph: graph_answers,
        memories,
        mcp: mcp_context,
        unavailable,
    }
}

/// How one of Nectr's earlier inline comments fared, as seen when the PR is reviewed again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentFeedback {
    pub comment_id: u64,
    pub path: String,
    pub rule: String,
    pub title: String,
    pub outcome: Outcome,
}

impl CommentFeedback {
    fn memory(&self, repo: &str) -> NewMemory {
        let what = match self.outcome {
            Outcome::Resolved => "was resolved by a change",
            Outcome::Dismissed => "was dismissed",
            Outcome::ThumbsDown => "got a thumbs-down",
            Outcome::ThumbsUp => "got a thumbs-up",
            Outcome::Rejected => "was dismissed in its thread",
        };
        NewMemory {
            repo: repo.to_owned(),
            path: Some(self.path.clone()),
            kind: MemoryKind::Outcome,
            // The comment id makes the text unique: seeing the same outcome on the next
            // review stores nothing new.
            text: format!(
                "Nectr's `{}` comment {} on {} {what}: {}",
                self.rule, self.comment_id, self.path, self.title
            ),
            rule: Some(self.rule.clone()),
            outcome: Some(self.outcome),
        }
    }
}

/// Hide the findings of kinds this repository keeps rejecting on those paths, and rank the
/// ones with more rejections than approvals after their peers. Returns a note for the
/// summary when something was hidden. Time-boxed; a failing memory store changes nothing.
pub async fn apply_feedback(
    sources: &ContextSources,
    repo: &str,
    review: &mut Review,
    cap: usize,
) -> Option<String> {
    let memories = sources.memories.as_ref()?;
    let mut keys: Vec<(String, String)> = review
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.path.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let ask = async {
        let mut answers = BTreeMap::new();
        for (rule, path) in keys {
            if let Ok(fb) = memories.feedback(repo, &rule, &path).await {
                answers.insert((rule, path), fb);
            }
        }
        answers
    };
    let answers = tokio::time::timeout(sources.timeout, ask).await.ok()?;
    if answers.is_empty() {
        return None;
    }
    for &i in &review.over_cap {
        review.findings[i].anchored = true;
    }
    let before = review.findings.len();
    let mut hidden_rules = std::collections::BTreeSet::new();
    review.findings.retain(|f| {
        let suppress = answers
            .get(&(f.rule.clone(), f.path.clone()))
            .is_some_and(|fb| fb.should_suppress());
        if suppress {
            hidden_rules.insert(f.rule.clone());
        }
        !suppress
    });
    let hidden = before - review.findings.len();
    // Stable: within a severity, findings keep their order unless feedback says otherwise.
    review.findings.sort_by_key(|f| {
        let penalty = answers
            .get(&(f.rule.clone(), f.path.clone()))
            .map_or(0, |fb| fb.rank_penalty());
        (f.severity, penalty)
    });
    review.over_cap = crate::review::anchor::apply_inline_cap(&mut review.findings, cap);
    (hidden > 0).then(|| {
        let rules: Vec<String> = hidden_rules.into_iter().map(|r| format!("`{r}`")).collect();
        format!(
            "{hidden} {} hidden: comments of the same kind ({}) on the same files were dismissed or thumbed down here before.",
            if hidden == 1 { "finding" } else { "findings" },
            rules.join(", ")
        )
    })
}

/// After a review: index the PR in the graph and store what lasts in the memories —
/// the repository's stated conventions, the findings, and how earlier comments fared.
/// Time-boxed and best-effort: failures are returned as lines for a warning, never raised.
pub async fn learn(
    sources: &ContextSources,
    config: &RepoConfig,
    facts: &PrFacts,
    review: &Review,
    feedback: &[CommentFeedback],
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(g) = &sources.graph {
        let record = pr_record(facts, review);
        boxed(
            "knowledge graph",
            sources.timeout,
            g.index_pr(&record),
            &mut problems,
        )
        .await;
    }
    if let Some(m) = &sources.memories {
        let memories = memories_to_store(config, facts, review, feedback);
        let store = async {
            for memory in &memories {
                m.add(memory).await?;
            }
            Ok(())
        };
        boxed("memories", sources.timeout, store, &mut problems).await;
    }
    problems
}

/// The graph's record of a reviewed PR.
pub fn pr_record(facts: &PrFacts, review: &Review) -> PrRecord {
    let mut findings: Vec<FindingRecord> = review
        .findings
        .iter()
        .map(|f| FindingRecord {
            path: f.path.clone(),
            rule: f.rule.clone(),
            severity: f.severity.to_string(),
            title: f.title.clone(),
        })
        .collect();
    findings.sort();
    findings.dedup();
    PrRecord {
        repo: facts.repo.clone(),
        number: facts.number,
        title: facts.title.clone(),
        author: facts.author.clone(),
        state: facts.state.clone(),
        merged_at: facts.merged_at,
        created_at: facts.created_at,
        base_sha: facts.base_sha.clone(),
        head_sha: facts.head_sha.clone(),
        files: facts.paths.clone(),
        fixes_issues: graph::fixed_issues(&facts.repo, &format!("{}\n{}", facts.title, facts.body)),
        reverts: graph::revert_of(&facts.repo, &facts.title, &facts.body),
        findings: Some(findings),
    }
}

fn memories_to_store(
    config: &RepoConfig,
    facts: &PrFacts,
    review: &Review,
    feedback: &[CommentFeedback],
) -> Vec<NewMemory> {
    let repo = facts.repo.as_str();
    let mut out = Vec::new();
    let convention = |text: String| NewMemory {
        repo: repo.to_owned(),
        path: None,
        kind: MemoryKind::Convention,
        text,
        rule: None,
        outcome: None,
    };
    if let Some(text) = config
        .llm
        .instructions
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        out.push(convention(format!(
            "Repository instructions: {}",
            text.trim()
        )));
    }
    let mut seen = HashSet::new();
    for f in &review.findings {
        // One memory per kind of finding per file per review; the store counts repeats.
        if !seen.insert((f.rule.clone(), f.path.clone())) {
            continue;
        }
        out.push(NewMemory {
            repo: repo.to_owned(),
            path: Some(f.path.clone()),
            kind: MemoryKind::RecurringFinding,
            text: format!("`{}` flagged in {}: {}", f.rule, f.path, f.title),
            rule: Some(f.rule.clone()),
            outcome: None,
        });
    }
    out.extend(feedback.iter().map(|fb| fb.memory(repo)));
    out
}

#[cfg(test)]
mod used_tests {
    use super::*;

    #[test]
    fn what_a_review_used_is_listed_in_short_lines() {
        let mut gathered = Gathered::default();
        gathered.mcp.linear.push(mcp::linear::LinearIssue {
            key: "ABC-12".into(),
            title: "Login <b>fails</b>".into(),
            state: "In Progress".into(),
            description: "long text".into(),
            acceptance_criteria: Vec::new(),
            url: None,
        });
        gathered
            .mcp
            .generic
            .push(("docs".into(), "\n  first line\nsecond".into()));
        gathered.graph = Some(GraphAnswers {
            past_prs: vec![graph::PastPr {
                number: 3,
                title: "Earlier".into(),
                author: "mona".into(),
                merged: true,
                files_in_common: vec!["a.rs".into()],
                findings: Vec::new(),
            }],
            ..GraphAnswers::default()
        });
        gathered
            .unavailable
            .push("memories: timed out after 10s".into());
        let used: Vec<(&str, String, String)> = gathered
            .used()
            .into_iter()
            .map(|u| (u.kind, u.label, u.detail))
            .collect();
        assert_eq!(
            used,
            [
                (
                    "linear",
                    "ABC-12".to_owned(),
                    "Login <b>fails</b> (In Progress)".to_owned()
                ),
                ("mcp", "docs".to_owned(), "  first line".to_owned()),
                (
                    "graph",
                    "earlier pull requests on these files".to_owned(),
                    "1".to_owned()
                ),
                (
                    "unavailable",
                    "memories: timed out after 10s".to_owned(),
                    String::new()
                ),
            ]
        );
        assert!(Gathered::default().used().is_empty());
    }
}
