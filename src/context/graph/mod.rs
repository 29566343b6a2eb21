//! The knowledge graph: what the repository's history says about the files a PR changes.
//!
//! After each review the PR is indexed ([`KnowledgeGraph::index_pr`]: its files, author,
//! findings, the issues it fixes, the PR it reverts); `issues` webhook events keep issues in
//! it ([`KnowledgeGraph::index_issue`]). Before a review the pipeline asks one
//! [`GraphQuery`] and gets [`GraphAnswers`]:
//! - past PRs that touched these files, with their findings on them;
//! - files that usually change together with these but are missing from this PR
//!   (CO_CHANGED, counted over merged PRs);
//! - the people who know these files best (authors of merged PRs touching them);
//! - reverts of PRs touching these files;
//! - open issues that mention these files, and the issues this PR fixes.
//!
//! [`GraphAnswers::prompt_section`] is the model's view, [`GraphAnswers::summary_lines`] the
//! posted summary's. Two implementations answer the same queries with the same semantics:
//! [`embedded::EmbeddedGraph`] (SQLite tables, the default) and [`neo4j::Neo4jGraph`]
//! (`NEO4J_URI`). [`open_graph`] picks one from [`GraphSettings`].
//!
//! Invariants both keep:
//! - Indexing is idempotent: re-indexing a PR replaces its files, findings and fixes, and
//!   its CO_CHANGED contribution is taken out before the new one is added.
//! - CO_CHANGED counts each unordered pair of files changed in the same *merged* PR once
//!   per PR; PRs touching more than [`MAX_CO_CHANGE_FILES`] files are not counted (a
//!   vendoring or formatting PR would add ~n² meaningless pairs).
//! - Repository names are compared case-insensitively (stored lower-cased).
//! - Everything read back is untrusted text (titles, logins, paths came from GitHub): the
//!   renderers here keep it on one line, clip it, and escape it for Markdown.

pub mod embedded;
pub mod neo4j;
pub mod parse;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::llm::BoxFuture;
pub use parse::{fixed_issues, mentioned_paths, revert_of};

use crate::review::render::markdown::{code_span, escape_inline, one_line};

/// PRs touching more files than this add no CO_CHANGED pairs.
pub const MAX_CO_CHANGE_FILES: usize = 100;
/// A missing file is suggested only when it changed together with a PR file at least this
/// many times …
pub const MIN_CO_CHANGES: u32 = 2;
/// … and in at least this share (percent) of the merged PRs that touched that PR file.
pub const MIN_CO_CHANGE_PERCENT: u32 = 50;

/// A finding as the graph remembers it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingRecord {
    pub path: String,
    pub rule: String,
    /// `critical`, `major`, `minor`, `nit` (as `Severity` serialises).
    pub severity: String,
    pub title: String,
}

/// What a PR says it reverts, from [`revert_of`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevertOf {
    /// `Reverts owner/repo#N` (GitHub's revert button), `Reverts #N`.
    Pr(u64),
    /// `Revert "Title"`: the reverted PR's (or commit's) title.
    Title(String),
    /// `This reverts commit SHA.` (git revert): a PR's head commit, possibly abbreviated.
    Commit(String),
}

/// One PR to index.
#[derive(Clone, Debug, PartialEq)]
pub struct PrRecord {
    /// `owner/name`.
    pub repo: String,
    pub number: u64,
    pub title: String,
    pub author: String,
    /// `open`, `merged` or `closed`.
    pub state: String,
    /// Unix seconds.
    pub merged_at: Option<i64>,
    pub created_at: i64,
    pub base_sha: String,
    pub head_sha: String,
    /// Paths the PR touches (new paths for renames).
    pub files: Vec<String>,
    /// Issues the PR fixes ([`fixed_issues`] over title and body).
    pub fixes_issues: Vec<u64>,
    /// What the PR reverts ([`revert_of`] over title and body). A title or commit is
    /// resolved to a PR number at indexing, against PRs already in the graph.
    pub reverts: Option<RevertOf>,
    /// Nectr's findings on the PR. `None` keeps whatever an earlier index recorded: a merge
    /// event or a backfill knows the PR's files and state, not what Nectr said about it.
    pub findings: Option<Vec<FindingRecord>>,
}

impl PrRecord {
    pub fn is_merged(&self) -> bool {
        self.state == "merged" || self.merged_at.is_some()
    }
}

/// One issue to index (from an `issues` event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRecord {
    pub repo: String,
    pub number: u64,
    pub title: String,
    /// `open` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    pub author: String,
    /// File paths the issue mentions ([`mentioned_paths`] over its body).
    pub body_paths: Vec<String>,
    pub updated_at: i64,
}

/// What the pipeline asks before a review.
#[derive(Clone, Copy, Debug)]
pub struct GraphQuery<'a> {
    pub repo: &'a str,
    /// The PR under review: left out of every answer.
    pub pr_number: u64,
    /// The PR's author: left out of the experts.
    pub author: Option<&'a str>,
    /// The paths the PR changes.
    pub paths: &'a [String],
    /// Issues the PR says it fixes (its title and body may not be indexed yet).
    pub fixes: &'a [u64],
    /// Most entries per answer list.
    pub limit: usize,
}

/// A past PR that touched some of the same files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PastPr {
    pub number: u64,
    pub title: String,
    pub author: String,
    pub merged: bool,
    /// The queried paths it touched (sorted).
    pub files_in_common: Vec<String>,
    /// Its findings on those paths (sorted).
    pub findings: Vec<FindingRecord>,
}

/// A file that usually changes together with one of the PR's files but is not in the PR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoChange {
    /// The missing file.
    pub path: String,
    /// The PR file it usually changes with.
    pub with: String,
    /// Merged PRs that changed both.
    pub times: u32,
}

/// Someone who knows the files: merged PRs they authored that touched them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expert {
    pub login: String,
    pub prs: u32,
}

/// An issue, with the queried paths it mentions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRef {
    pub number: u64,
    pub title: String,
    pub paths: Vec<String>,
}

/// The graph's answers for one PR. Every list is ordered most relevant first and holds at
/// most the query's `limit` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GraphAnswers {
    /// Most files in common first, then most recent.
    pub past_prs: Vec<PastPr>,
    /// Most co-changes first; one entry per missing file.
    pub missing_co_changes: Vec<CoChange>,
    /// Most merged PRs first, then login.
    pub experts: Vec<Expert>,
    /// Revert PRs whose reverted PR (or which themselves) touched these files; newest first.
    /// `findings` is empty.
    pub reverts: Vec<PastPr>,
    /// Open issues mentioning these files (other than the ones this PR fixes).
    pub open_issues: Vec<IssueRef>,
    /// Issues this PR fixes that the graph knows; `paths` are all the files they mention.
    pub fixes: Vec<IssueRef>,
}

/// Longest title shown in a prompt or summary.
const MAX_TITLE_CHARS: usize = 100;

fn clip(text: &str, max: usize) -> String {
    let text = one_line(text);
    if text.chars().count() <= max {
        return text;
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A title for the model: one line, clipped, no backticks (it sits inside code-free prose).
fn prompt_text(text: &str) -> String {
    clip(&text.replace('`', "'"), MAX_TITLE_CHARS)
}

fn prompt_paths(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| code_span(&clip(p, 200)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl GraphAnswers {
    pub fn is_empty(&self) -> bool {
        self.past_prs.is_empty()
            && self.missing_co_changes.is_empty()
            && self.experts.is_empty()
            && self.reverts.is_empty()
            && self.open_issues.is_empty()
            && self.fixes.is_empty()
    }

    /// Markdown for the model: what the repository's history says about these files. The
    /// text comes from GitHub (titles, logins, paths) and is untrusted: the caller puts it
    /// inside the prompt's delimited data, as it does the PR body.
    pub fn prompt_section(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut out = String::from("## Repository history for the changed files\n");
        if !self.fixes.is_empty() {
            out.push_str("\nIssues this PR fixes:\n");
            for i in &self.fixes {
                out.push_str(&format!("- #{} {}", i.number, prompt_text(&i.title)));
                if !i.paths.is_empty() {
                    out.push_str(&format!(" (mentions {})", prompt_paths(&i.paths)));
                }
                out.push('\n');
            }
        }
        if !self.missing_co_changes.is_empty() {
            out.push_str(
                "\nFiles that usually change together with the changed files but are not in \
                 this PR (check whether they need a matching change):\n",
            );
            for c in &self.missing_co_changes {
                out.push_str(&format!(
                    "- {} changed together with {} in {} merged PRs\n",
                    code_span(&c.path),
                    code_span(&c.with),
                    c.times
                ));
            }
        }
        if !self.reverts.is_empty() {
            out.push_str("\nEarlier changes to these files that were reverted:\n");
            for r in &self.reverts {
                out.push_str(&format!(
                    "- #{} {} (files: {})\n",
                    r.number,
                    prompt_text(&r.title),
                    prompt_paths(&r.files_in_common)
                ));
            }
        }
        if !self.past_prs.is_empty() {
            out.push_str("\nPast PRs that touched these files:\n");
            for p in &self.past_prs {
                let state = if p.merged { "merged" } else { "not merged" };
                out.push_str(&format!(
                    "- #{} {} by {}, {state}; files: {}\n",
                    p.number,
                    prompt_text(&p.title),
                    prompt_text(&p.author),
                    prompt_paths(&p.files_in_common)
                ));
                for f in &p.findings {
                    out.push_str(&format!(
                        "  - finding {} ({}) on {}: {}\n",
                        prompt_text(&f.rule),
                        prompt_text(&f.severity),
                        code_span(&f.path),
                        prompt_text(&f.title)
                    ));
                }
            }
        }
        if !self.open_issues.is_empty() {
            out.push_str("\nOpen issues that mention these files:\n");
            for i in &self.open_issues {
                out.push_str(&format!(
                    "- #{} {} (mentions {})\n",
                    i.number,
                    prompt_text(&i.title),
                    prompt_paths(&i.paths)
                ));
            }
        }
        if !self.experts.is_empty() {
            let experts: Vec<String> = self
                .experts
                .iter()
                .map(|e| format!("{} ({} PRs)", prompt_text(&e.login), e.prs))
                .collect();
            out.push_str(&format!(
                "\nPeople who know these files best: {}\n",
                experts.join(", ")
            ));
        }
        out
    }

    /// One to four short Markdown lines for the posted summary, most actionable first
    /// (missing co-changes, reverts, open issues, fixes, past PRs, experts). Logins are shown
    /// in code spans, never as `@mentions`, so the summary pings no one. Empty when there is
    /// nothing to say.
    pub fn summary_lines(&self) -> Vec<String> {
        const SHOWN: usize = 3;
        let numbers = |items: &mut dyn Iterator<Item = u64>| -> String {
            items
                .take(SHOWN)
                .map(|n| format!("#{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let more = |total: usize| {
            if total > SHOWN {
                format!(" and {} more", total - SHOWN)
            } else {
                String::new()
            }
        };
        let mut lines = Vec::new();
        if !self.missing_co_changes.is_empty() {
            let shown: Vec<String> = self
                .missing_co_changes
                .iter()
                .take(SHOWN)
                .map(|c| {
                    format!(
                        "{} (with {}, {}×)",
                        code_span(&c.path),
                        code_span(&c.with),
                        c.times
                    )
                })
                .collect();
            lines.push(format!(
                "Usually changed together but missing here: {}{}",
                shown.join(", "),
                more(self.missing_co_changes.len())
            ));
        }
        if !self.reverts.is_empty() {
            lines.push(format!(
                "Changes to these files were reverted before: {}{}",
                numbers(&mut self.reverts.iter().map(|r| r.number)),
                more(self.reverts.len())
            ));
        }
        if !self.open_issues.is_empty() {
            lines.push(format!(
                "Open issues mentioning these files: {}{}",
                numbers(&mut self.open_issues.iter().map(|i| i.number)),
                more(self.open_issues.len())
            ));
        }
        if !self.fixes.is_empty() {
            let shown: Vec<String> = self
                .fixes
                .iter()
                .take(SHOWN)
                .map(|i| format!("#{} {}", i.number, escape_inline(&clip(&i.title, 60))))
                .collect();
            lines.push(format!(
                "Fixes: {}{}",
                shown.join("; "),
                more(self.fixes.len())
            ));
        }
        if !self.past_prs.is_empty() {
            let with_findings = self
                .past_prs
                .iter()
                .filter(|p| !p.findings.is_empty())
                .count();
            let note = if with_findings > 0 {
                format!(" ({with_findings} with findings)")
            } else {
                String::new()
            };
            // Titles next to the numbers: a bare `#7562` tells the reader nothing.
            let shown: Vec<String> = self
                .past_prs
                .iter()
                .take(SHOWN)
                .map(|p| format!("#{} {}", p.number, escape_inline(&clip(&p.title, 60))))
                .collect();
            lines.push(format!(
                "Earlier PRs on these files: {}{}{note}",
                shown.join("; "),
                more(self.past_prs.len())
            ));
        }
        if !self.experts.is_empty() {
            let shown: Vec<String> = self
                .experts
                .iter()
                .take(SHOWN)
                .map(|e| format!("{} ({})", code_span(&clip(&e.login, 40)), e.prs))
                .collect();
            lines.push(format!("Know these files best: {}", shown.join(", ")));
        }
        lines.truncate(4);
        lines
    }
}

/// A knowledge graph. Implementations are cheap to share (`Arc<dyn KnowledgeGraph>`) and
/// answer the same queries with the same semantics (see the module docs).
pub trait KnowledgeGraph: Send + Sync {
    /// `embedded` or `neo4j`.
    fn name(&self) -> &'static str;

    /// Adds or replaces one PR (idempotent).
    fn index_pr<'a>(&'a self, pr: &'a PrRecord) -> BoxFuture<'a, anyhow::Result<()>>;

    /// Adds or replaces one issue (idempotent).
    fn index_issue<'a>(&'a self, issue: &'a IssueRecord) -> BoxFuture<'a, anyhow::Result<()>>;

    /// What the graph knows about `q.paths`.
    fn query<'a>(&'a self, q: &'a GraphQuery<'a>) -> BoxFuture<'a, anyhow::Result<GraphAnswers>>;
}

/// Where the graph lives.
#[derive(Clone, PartialEq, Eq)]
pub enum GraphSettings {
    /// The embedded SQLite graph at this file.
    Embedded {
        path: PathBuf,
    },
    Neo4j(Neo4jSettings),
}

/// A Neo4j server. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Neo4jSettings {
    /// `bolt://HOST:7687`, `neo4j://…`, `neo4j+s://…` (TLS).
    pub uri: String,
    pub user: String,
    pub password: String,
    /// Each call (connect, write, query) is abandoned after this long.
    pub timeout: Duration,
}

/// Default time box for one Neo4j call.
pub const NEO4J_TIMEOUT: Duration = Duration::from_secs(10);

impl fmt::Debug for Neo4jSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neo4jSettings")
            .field("uri", &crate::llm::http::display_url_str(&self.uri))
            .field("user", &self.user)
            .field("password", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl fmt::Debug for GraphSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphSettings::Embedded { path } => {
                f.debug_struct("Embedded").field("path", path).finish()
            }
            GraphSettings::Neo4j(n) => n.fmt(f),
        }
    }
}

impl GraphSettings {
    /// `NEO4J_URI` (+ `NEO4J_USER`, default `neo4j`, and `NEO4J_PASSWORD`) → Neo4j; otherwise
    /// the embedded graph at [`context_db_path`].
    pub fn from_env() -> anyhow::Result<GraphSettings> {
        GraphSettings::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`GraphSettings::from_env`] over any lookup (tests pass a map).
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<GraphSettings> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        match get("NEO4J_URI") {
            Some(uri) => Ok(GraphSettings::Neo4j(Neo4jSettings {
                uri,
                user: get("NEO4J_USER").unwrap_or_else(|| "neo4j".to_owned()),
                // Not trimmed: a password may end in a space.
                password: env("NEO4J_PASSWORD").unwrap_or_default(),
                timeout: NEO4J_TIMEOUT,
            })),
            None => Ok(GraphSettings::Embedded {
                path: context_db_path(&env)?,
            }),
        }
    }
}

/// The embedded stores' SQLite file: `NECTR_CONTEXT_DB`, else
/// `$XDG_DATA_HOME/nectr/context.db`, else `$HOME/.local/share/nectr/context.db`.
pub fn context_db_path(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<PathBuf> {
    let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    if let Some(path) = get("NECTR_CONTEXT_DB") {
        return Ok(PathBuf::from(path));
    }
    if let Some(data) = get("XDG_DATA_HOME") {
        return Ok(PathBuf::from(data).join("nectr").join("context.db"));
    }
    if let Some(home) = get("HOME") {
        return Ok(PathBuf::from(home)
            .join(".local")
            .join("share")
            .join("nectr")
            .join("context.db"));
    }
    anyhow::bail!(
        "no place for the context database: set NECTR_CONTEXT_DB to a file path \
         (or XDG_DATA_HOME or HOME)"
    )
}

/// Opens the graph the settings name: connects to Neo4j and creates its constraints and
/// indexes, or opens (creating and migrating) the embedded SQLite file.
pub async fn open_graph(settings: &GraphSettings) -> anyhow::Result<Arc<dyn KnowledgeGraph>> {
    Ok(match settings {
        GraphSettings::Embedded { path } => Arc::new(embedded::EmbeddedGraph::open(path).await?),
        GraphSettings::Neo4j(n) => Arc::new(neo4j::Neo4jGraph::connect(n).await?),
    })
}

/// `owner/name` as stored: trimmed and lower-cased.
pub(crate) fn repo_key(repo: &str) -> String {
    repo.trim().to_ascii_lowercase()
}

/// Paths de-duplicated and sorted, empty ones dropped.
pub(crate) fn unique_paths(paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Every unordered pair of `files` (sorted, unique), or none when there are more than
/// [`MAX_CO_CHANGE_FILES`] of them.
pub(crate) fn co_change_pairs(files: &[String]) -> Vec<(String, String)> {
    let files = unique_paths(files);
    if files.len() > MAX_CO_CHANGE_FILES {
        return Vec::new();
    }
    let mut pairs = Vec::with_capacity(files.len() * files.len().saturating_sub(1) / 2);
    for (i, a) in files.iter().enumerate() {
        for b in &files[i + 1..] {
            pairs.push((a.clone(), b.clone()));
        }
    }
    pairs
}

/// Whether a co-change of `times` with a file that `total` merged PRs touched is worth
/// mentioning (see [`MIN_CO_CHANGES`], [`MIN_CO_CHANGE_PERCENT`]).
pub(crate) fn co_change_is_usual(times: u32, total: u32) -> bool {
    times >= MIN_CO_CHANGES && times * 100 >= MIN_CO_CHANGE_PERCENT * total.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> GraphAnswers {
        GraphAnswers {
            past_prs: vec![PastPr {
                number: 3,
                title: "Speed up `auth`\n<script>".into(),
                author: "alice".into(),
                merged: true,
                files_in_common: vec!["src/auth.rs".into()],
                findings: vec![FindingRecord {
                    path: "src/auth.rs".into(),
                    rule: "unwrap".into(),
                    severity: "minor".into(),
                    title: "unwrap on user input".into(),
                }],
            }],
            missing_co_changes: vec![CoChange {
                path: "src/auth_test.rs".into(),
                with: "src/auth.rs".into(),
                times: 4,
            }],
            experts: vec![Expert {
                login: "alice".into(),
                prs: 3,
            }],
            reverts: vec![],
            open_issues: vec![IssueRef {
                number: 9,
                title: "Login fails".into(),
                paths: vec!["src/auth.rs".into()],
            }],
            fixes: vec![IssueRef {
                number: 7,
                title: "[x](http://evil) <b>".into(),
                paths: vec![],
            }],
        }
    }

    #[test]
    fn empty_answers_render_nothing() {
        let a = GraphAnswers::default();
        assert!(a.is_empty());
        assert_eq!(a.prompt_section(), "");
        assert!(a.summary_lines().is_empty());
    }

    #[test]
    fn prompt_section_lists_every_answer_on_single_lines() {
        let p = answers().prompt_section();
        assert!(p.contains("`src/auth_test.rs` changed together with `src/auth.rs` in 4"));
        assert!(
            p.contains("#3 Speed up 'auth' <script> by alice, merged"),
            "{p}"
        );
        assert!(p.contains("finding unwrap (minor) on `src/auth.rs`"));
        assert!(p.contains("#9 Login fails (mentions `src/auth.rs`)"));
        assert!(p.contains("alice (3 PRs)"));
        assert!(p.contains("#7 "));
    }

    #[test]
    fn summary_lines_are_at_most_four_escaped_and_mention_no_one() {
        let lines = answers().summary_lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(
            lines[0].starts_with("Usually changed together but missing here: `src/auth_test.rs`")
        );
        assert!(lines[1].starts_with("Open issues mentioning these files: #9"));
        assert!(
            lines[2].contains(r"\[x\](http://evil) &lt;b&gt;"),
            "{}",
            lines[2]
        );
        assert!(lines[3].contains("(1 with findings)"));
        for l in &lines {
            assert!(!l.contains('\n'));
            assert!(!l.contains('@'));
        }
    }

    #[test]
    fn settings_pick_neo4j_only_with_a_uri_and_hide_the_password() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let s = GraphSettings::from_lookup(env(&[
            ("NEO4J_URI", "bolt://db:7687"),
            ("NEO4J_PASSWORD", "hunter2-secret"),
        ]))
        .unwrap();
        let GraphSettings::Neo4j(n) = &s else {
            panic!("{s:?}")
        };
        assert_eq!(n.user, "neo4j");
        assert!(!format!("{s:?}").contains("hunter2"));

        let s = GraphSettings::from_lookup(env(&[
            ("NEO4J_URI", " "),
            ("NECTR_CONTEXT_DB", "/tmp/x.db"),
        ]))
        .unwrap();
        assert_eq!(
            s,
            GraphSettings::Embedded {
                path: "/tmp/x.db".into()
            }
        );
        let s =
            GraphSettings::from_lookup(env(&[("XDG_DATA_HOME", "/data"), ("HOME", "/h")])).unwrap();
        assert_eq!(
            s,
            GraphSettings::Embedded {
                path: "/data/nectr/context.db".into()
            }
        );
        let s = GraphSettings::from_lookup(env(&[("HOME", "/h")])).unwrap();
        assert_eq!(
            s,
            GraphSettings::Embedded {
                path: "/h/.local/share/nectr/context.db".into()
            }
        );
        let e = GraphSettings::from_lookup(env(&[])).unwrap_err();
        assert!(e.to_string().contains("NECTR_CONTEXT_DB"));
    }

    #[test]
    fn pairs_are_sorted_unique_and_capped() {
        let files: Vec<String> = ["b", "a", "c", "a", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            co_change_pairs(&files),
            vec![
                ("a".into(), "b".into()),
                ("a".into(), "c".into()),
                ("b".into(), "c".into())
            ]
        );
        let many: Vec<String> = (0..=MAX_CO_CHANGE_FILES).map(|i| format!("f{i}")).collect();
        assert!(co_change_pairs(&many).is_empty());
        let max: Vec<String> = (0..MAX_CO_CHANGE_FILES).map(|i| format!("f{i}")).collect();
        assert_eq!(co_change_pairs(&max).len(), 100 * 99 / 2);
    }

    #[test]
    fn usual_co_changes_need_two_and_half() {
        assert!(!co_change_is_usual(1, 1));
        assert!(co_change_is_usual(2, 4));
        assert!(!co_change_is_usual(2, 5));
        assert!(co_change_is_usual(3, 3));
    }
}
