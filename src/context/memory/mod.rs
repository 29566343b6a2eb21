//! Memories: what earlier reviews of a repository taught Nectr, kept per repository and path.
//!
//! After a review the pipeline stores what lasts ([`MemoryStore::add`]): repository
//! conventions (from `.nectr.yml` and PR discussions), recurring findings, and outcomes —
//! a later event showing that a Nectr comment was resolved by a change, dismissed, or got a
//! thumbs-down/up. Before a review it asks for the memories most relevant to the changed
//! paths ([`MemoryStore::search`]) for the prompt, and for each finding's rule and path how
//! its earlier comments fared ([`MemoryStore::feedback`] → [`RuleFeedback`]), to rank it
//! lower or suppress it.
//!
//! Two implementations: [`embedded::EmbeddedMemories`] (SQLite FTS5 in the context
//! database, the default) and [`mem0::Mem0Memories`] (Mem0's REST API, `MEM0_API_KEY`).
//! [`open_memories`] picks one from [`MemorySettings`]. Both rank alike: a text score in
//! `[0, 1)` plus [`path_boost`] (exact path > same directory > repository-wide).
//!
//! Invariants both keep:
//! - Memories of one repository are never returned for another.
//! - Adding the same memory twice keeps one (a convention or recurring finding counts how
//!   often it was seen; an outcome is an event and counts once — give it a text that names
//!   the event, e.g. the comment id, so a replayed webhook does not count twice).
//! - Memory text is untrusted (it came from PRs and discussions): the caller puts it in the
//!   prompt's delimited data.

pub mod embedded;
pub mod mem0;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use crate::llm::BoxFuture;
use crate::llm::http::ApiKey;

/// Longest memory text kept (characters); longer texts are clipped.
pub const MAX_TEXT_CHARS: usize = 2000;

/// What a memory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// A repository convention (stated in config or a PR discussion).
    Convention,
    /// A finding that keeps coming back on this repository and path.
    RecurringFinding,
    /// What happened to one of Nectr's comments.
    Outcome,
}

impl MemoryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryKind::Convention => "convention",
            MemoryKind::RecurringFinding => "recurring_finding",
            MemoryKind::Outcome => "outcome",
        }
    }

    pub fn parse(s: &str) -> Option<MemoryKind> {
        Some(match s {
            "convention" => MemoryKind::Convention,
            "recurring_finding" => MemoryKind::RecurringFinding,
            "outcome" => MemoryKind::Outcome,
            _ => return None,
        })
    }
}

/// What happened to a Nectr comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// The code changed and the finding went away.
    Resolved,
    /// Resolved or hidden without a change.
    Dismissed,
    ThumbsDown,
    ThumbsUp,
    /// Dismissed in words in its own thread by someone with triage access ("false
    /// positive", "intended", `/nectr ignore`): as strong as [`SUPPRESS_MIN_NEGATIVE`]
    /// silent dismissals, so one is enough to stop the finding on that file.
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Dismissed => "dismissed",
            Outcome::ThumbsDown => "thumbs_down",
            Outcome::ThumbsUp => "thumbs_up",
            Outcome::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "resolved" => Outcome::Resolved,
            "dismissed" => Outcome::Dismissed,
            "thumbs_down" => Outcome::ThumbsDown,
            "thumbs_up" => Outcome::ThumbsUp,
            "rejected" => Outcome::Rejected,
            _ => return None,
        })
    }
}

/// A memory to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMemory {
    /// `owner/name`.
    pub repo: String,
    /// The file it is about; `None` for the whole repository.
    pub path: Option<String>,
    pub kind: MemoryKind,
    pub text: String,
    /// The rule id of the finding it is about (required for outcomes).
    pub rule: Option<String>,
    /// Required for (and only for) [`MemoryKind::Outcome`].
    pub outcome: Option<Outcome>,
}

/// A stored memory, as a search returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    /// The store's id (a row id, or Mem0's UUID).
    pub id: String,
    pub repo: String,
    pub path: Option<String>,
    pub kind: MemoryKind,
    pub text: String,
    pub rule: Option<String>,
    pub outcome: Option<Outcome>,
    /// Relevance to the search: text score in `[0, 1)` plus [`path_boost`]. Higher first.
    pub score: f32,
    /// How often it was added (conventions and recurring findings).
    pub count: u32,
    /// Unix seconds.
    pub created_at: i64,
}

/// How Nectr's earlier comments of one rule on one path fared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleFeedback {
    pub resolved: u32,
    pub dismissed: u32,
    pub thumbs_down: u32,
    pub thumbs_up: u32,
    /// Explicit dismissals in the comment's thread (see [`Outcome::Rejected`]).
    pub rejected: u32,
}

/// Suppression needs at least this many dismissals and thumbs-down …
pub const SUPPRESS_MIN_NEGATIVE: u32 = 2;
/// … and at least this many times as many as resolutions and thumbs-up.
pub const SUPPRESS_RATIO: u32 = 3;
/// [`RuleFeedback::rank_penalty`] stays within ±this.
pub const MAX_RANK_PENALTY: i32 = 3;

impl RuleFeedback {
    /// Dismissals and thumbs-down: the comment was not wanted. A dismissal in words counts
    /// [`SUPPRESS_MIN_NEGATIVE`] times.
    pub fn negative(&self) -> u32 {
        self.dismissed
            .saturating_add(self.thumbs_down)
            .saturating_add(self.rejected.saturating_mul(SUPPRESS_MIN_NEGATIVE))
    }

    /// Resolutions (the code changed) and thumbs-up: the comment was useful.
    pub fn positive(&self) -> u32 {
        self.resolved.saturating_add(self.thumbs_up)
    }

    /// Whether to leave this rule's finding on this path out: at least
    /// [`SUPPRESS_MIN_NEGATIVE`] negative outcomes and at least [`SUPPRESS_RATIO`] times as
    /// many negative as positive ones. Two dismissals with nothing positive suppress; one
    /// resolution then needs three negatives.
    pub fn should_suppress(&self) -> bool {
        let negative = self.negative();
        negative >= SUPPRESS_MIN_NEGATIVE
            && negative >= SUPPRESS_RATIO.saturating_mul(self.positive())
    }

    /// How much lower to rank this rule's finding on this path: negatives minus positives,
    /// clamped to ±[`MAX_RANK_PENALTY`]. Positive = rank later; negative = earlier.
    pub fn rank_penalty(&self) -> i32 {
        let d = i64::from(self.negative()) - i64::from(self.positive());
        d.clamp(-i64::from(MAX_RANK_PENALTY), i64::from(MAX_RANK_PENALTY)) as i32
    }

    pub(crate) fn record(&mut self, outcome: Outcome, n: u32) {
        let slot = match outcome {
            Outcome::Resolved => &mut self.resolved,
            Outcome::Dismissed => &mut self.dismissed,
            Outcome::ThumbsDown => &mut self.thumbs_down,
            Outcome::ThumbsUp => &mut self.thumbs_up,
            Outcome::Rejected => &mut self.rejected,
        };
        *slot = slot.saturating_add(n);
    }
}

/// A memory store. Implementations are cheap to share (`Arc<dyn MemoryStore>`).
pub trait MemoryStore: Send + Sync {
    /// `embedded` or `mem0`.
    fn name(&self) -> &'static str;

    /// Stores a memory (a duplicate is kept once; see the module docs).
    fn add<'a>(&'a self, m: &'a NewMemory) -> BoxFuture<'a, anyhow::Result<()>>;

    /// The `limit` memories of `repo` most relevant to `query` and the changed `paths`,
    /// best first. Repository-wide memories and those on the same paths or directories come
    /// back even when the text does not match.
    fn search<'a>(
        &'a self,
        repo: &'a str,
        paths: &'a [String],
        query: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Memory>>>;

    /// The outcomes recorded for `rule` on `path` of `repo`.
    fn feedback<'a>(
        &'a self,
        repo: &'a str,
        rule: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<RuleFeedback>>;
}

/// Where memories live.
#[derive(Clone, PartialEq, Eq)]
pub enum MemorySettings {
    /// The embedded FTS5 store in the context database at this file.
    Embedded {
        path: PathBuf,
    },
    Mem0(Mem0Settings),
}

/// Mem0's API. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Mem0Settings {
    /// Default `https://api.mem0.ai`.
    pub base_url: String,
    pub api_key: ApiKey,
    /// Each request is abandoned after this long.
    pub timeout: Duration,
}

/// Mem0's hosted API.
pub const MEM0_DEFAULT_BASE_URL: &str = "https://api.mem0.ai";
/// Default time box for one Mem0 request.
pub const MEM0_TIMEOUT: Duration = Duration::from_secs(10);

impl fmt::Debug for Mem0Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mem0Settings")
            .field(
                "base_url",
                &crate::llm::http::display_url_str(&self.base_url),
            )
            .field("api_key", &self.api_key)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl fmt::Debug for MemorySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemorySettings::Embedded { path } => {
                f.debug_struct("Embedded").field("path", path).finish()
            }
            MemorySettings::Mem0(m) => m.fmt(f),
        }
    }
}

impl MemorySettings {
    /// `MEM0_API_KEY` (+ `MEM0_BASE_URL`) → Mem0; otherwise the embedded store at
    /// [`crate::context::graph::context_db_path`].
    pub fn from_env() -> anyhow::Result<MemorySettings> {
        MemorySettings::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`MemorySettings::from_env`] over any lookup (tests pass a map).
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<MemorySettings> {
        let get = |k: &str| {
            env(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        match get("MEM0_API_KEY") {
            Some(key) => {
                let base_url = get("MEM0_BASE_URL")
                    .unwrap_or_else(|| MEM0_DEFAULT_BASE_URL.to_owned())
                    .trim_end_matches('/')
                    .to_owned();
                let parsed = reqwest::Url::parse(&base_url).map_err(|_| {
                    anyhow::anyhow!(
                        "MEM0_BASE_URL `{}` is not a URL: use e.g. {MEM0_DEFAULT_BASE_URL}",
                        crate::llm::http::display_url_str(&base_url)
                    )
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    anyhow::bail!(
                        "MEM0_BASE_URL must start with https:// (or http:// for a local server)"
                    );
                }
                Ok(MemorySettings::Mem0(Mem0Settings {
                    base_url,
                    api_key: ApiKey::new(key),
                    timeout: MEM0_TIMEOUT,
                }))
            }
            None => Ok(MemorySettings::Embedded {
                path: crate::context::graph::context_db_path(&env)?,
            }),
        }
    }
}

/// Opens the store the settings name.
pub async fn open_memories(settings: &MemorySettings) -> anyhow::Result<Arc<dyn MemoryStore>> {
    Ok(match settings {
        MemorySettings::Embedded { path } => {
            Arc::new(embedded::EmbeddedMemories::open(path).await?)
        }
        MemorySettings::Mem0(m) => Arc::new(mem0::Mem0Memories::new(m)?),
    })
}

/// A memory checked and cleaned for storing: trimmed, text clipped, repo lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CleanMemory {
    pub repo: String,
    /// `""` for repository-wide.
    pub path: String,
    /// `path`'s directory (`""` at the top level).
    pub dir: String,
    pub kind: MemoryKind,
    pub text: String,
    pub rule: String,
    pub outcome: Option<Outcome>,
}

impl NewMemory {
    pub(crate) fn clean(&self) -> anyhow::Result<CleanMemory> {
        let repo = crate::context::graph::repo_key(&self.repo);
        if repo.is_empty() {
            anyhow::bail!("a memory needs its repository (owner/name)");
        }
        let text: String = self.text.trim().chars().take(MAX_TEXT_CHARS).collect();
        if text.is_empty() {
            anyhow::bail!("a memory needs some text");
        }
        let path = self.path.as_deref().unwrap_or("").trim().to_owned();
        let rule = self.rule.as_deref().unwrap_or("").trim().to_owned();
        match (self.kind, self.outcome) {
            (MemoryKind::Outcome, None) => {
                anyhow::bail!("an outcome memory needs its outcome (resolved, dismissed, …)")
            }
            (MemoryKind::Outcome, Some(_)) if rule.is_empty() || path.is_empty() => {
                anyhow::bail!("an outcome memory needs the finding's rule and path")
            }
            (MemoryKind::Convention | MemoryKind::RecurringFinding, Some(_)) => {
                anyhow::bail!("only outcome memories carry an outcome")
            }
            _ => {}
        }
        Ok(CleanMemory {
            dir: parent_dir(&path).to_owned(),
            repo,
            path,
            kind: self.kind,
            text,
            rule,
            outcome: self.outcome,
        })
    }
}

/// `src/a/b.rs` → `src/a`; `b.rs` → `""`.
pub(crate) fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

/// Path relevance of a memory on `memory_path` (`""` = repository-wide) to the changed
/// `paths`: 3 for the same file, 1.5 for the same directory, 0.5 for repository-wide, 0
/// otherwise.
pub fn path_boost(memory_path: &str, paths: &[String]) -> f32 {
    if memory_path.is_empty() {
        return 0.5;
    }
    if paths.iter().any(|p| p == memory_path) {
        return 3.0;
    }
    let dir = parent_dir(memory_path);
    if paths.iter().any(|p| parent_dir(p) == dir) {
        return 1.5;
    }
    0.0
}

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Sorts by score (then newest, then id) and keeps `limit`.
pub(crate) fn rank(mut memories: Vec<Memory>, limit: usize) -> Vec<Memory> {
    memories.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    memories.truncate(limit);
    memories
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fb(resolved: u32, dismissed: u32, thumbs_down: u32, thumbs_up: u32) -> RuleFeedback {
        RuleFeedback {
            resolved,
            dismissed,
            thumbs_down,
            thumbs_up,
            rejected: 0,
        }
    }

    #[test]
    fn one_dismissal_in_words_suppresses_until_the_finding_proves_useful() {
        let mut f = RuleFeedback::default();
        f.record(Outcome::Rejected, 1);
        assert!(f.should_suppress());
        f.record(Outcome::Resolved, 1);
        assert!(!f.should_suppress());
        assert_eq!(
            Outcome::parse(Outcome::Rejected.as_str()),
            Some(Outcome::Rejected)
        );
    }

    #[test]
    fn suppression_thresholds() {
        assert!(!fb(0, 0, 0, 0).should_suppress());
        assert!(!fb(0, 1, 0, 0).should_suppress());
        assert!(fb(0, 1, 1, 0).should_suppress());
        assert!(fb(0, 2, 0, 0).should_suppress());
        assert!(!fb(1, 2, 0, 0).should_suppress());
        assert!(fb(1, 2, 1, 0).should_suppress());
        assert!(!fb(0, 3, 2, 2).should_suppress());
        assert!(fb(0, 3, 3, 2).should_suppress());
    }

    #[test]
    fn rank_penalty_is_clamped_difference() {
        assert_eq!(fb(0, 0, 0, 0).rank_penalty(), 0);
        assert_eq!(fb(0, 1, 0, 0).rank_penalty(), 1);
        assert_eq!(fb(1, 0, 0, 1).rank_penalty(), -2);
        assert_eq!(fb(0, 9, 9, 0).rank_penalty(), MAX_RANK_PENALTY);
        assert_eq!(fb(9, 0, 0, 9).rank_penalty(), -MAX_RANK_PENALTY);
        assert_eq!(
            fb(u32::MAX, 0, 0, u32::MAX).rank_penalty(),
            -MAX_RANK_PENALTY
        );
    }

    #[test]
    fn boosts_prefer_the_file_then_its_directory() {
        let paths = vec!["src/auth/login.rs".to_string(), "README.md".to_string()];
        assert_eq!(path_boost("src/auth/login.rs", &paths), 3.0);
        assert_eq!(path_boost("src/auth/session.rs", &paths), 1.5);
        assert_eq!(path_boost("CHANGELOG.md", &paths), 1.5);
        assert_eq!(path_boost("", &paths), 0.5);
        assert_eq!(path_boost("src/db/pool.rs", &paths), 0.0);
    }

    #[test]
    fn new_memories_are_validated() {
        let m = NewMemory {
            repo: " Acme/App ".into(),
            path: Some("src/a.rs".into()),
            kind: MemoryKind::Outcome,
            text: "  dismissed  ".into(),
            rule: Some("unwrap".into()),
            outcome: Some(Outcome::Dismissed),
        };
        let c = m.clean().unwrap();
        assert_eq!(
            (c.repo.as_str(), c.dir.as_str(), c.text.as_str()),
            ("acme/app", "src", "dismissed")
        );
        let e = NewMemory {
            outcome: None,
            ..m.clone()
        }
        .clean()
        .unwrap_err();
        assert!(e.to_string().contains("needs its outcome"));
        let e = NewMemory {
            rule: None,
            ..m.clone()
        }
        .clean()
        .unwrap_err();
        assert!(e.to_string().contains("rule and path"));
        let e = NewMemory {
            kind: MemoryKind::Convention,
            ..m.clone()
        }
        .clean()
        .unwrap_err();
        assert!(e.to_string().contains("only outcome"));
        let e = NewMemory {
            text: " ".into(),
            ..m.clone()
        }
        .clean()
        .unwrap_err();
        assert!(e.to_string().contains("text"));
        let long = NewMemory {
            text: "x".repeat(5000),
            kind: MemoryKind::Convention,
            outcome: None,
            ..m
        };
        assert_eq!(long.clean().unwrap().text.len(), MAX_TEXT_CHARS);
    }

    #[test]
    fn settings_pick_mem0_only_with_a_key_and_hide_it() {
        let s = MemorySettings::from_lookup(|k| match k {
            "MEM0_API_KEY" => Some("m0-secret-key-123".into()),
            "MEM0_BASE_URL" => Some("http://127.0.0.1:9/".into()),
            _ => None,
        })
        .unwrap();
        let MemorySettings::Mem0(m) = &s else {
            panic!("{s:?}")
        };
        assert_eq!(m.base_url, "http://127.0.0.1:9");
        assert!(!format!("{s:?}").contains("m0-secret"));

        let s = MemorySettings::from_lookup(|k| match k {
            "MEM0_API_KEY" => Some("k".into()),
            _ => None,
        })
        .unwrap();
        let MemorySettings::Mem0(m) = &s else {
            panic!("{s:?}")
        };
        assert_eq!(m.base_url, MEM0_DEFAULT_BASE_URL);

        let e = MemorySettings::from_lookup(|k| match k {
            "MEM0_API_KEY" => Some("m0-secret-key-123".into()),
            "MEM0_BASE_URL" => Some("ftp://x".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(e.to_string().contains("https://"));

        let s = MemorySettings::from_lookup(|k| (k == "NECTR_CONTEXT_DB").then(|| "/c.db".into()))
            .unwrap();
        assert_eq!(
            s,
            MemorySettings::Embedded {
                path: "/c.db".into()
            }
        );
    }
}
