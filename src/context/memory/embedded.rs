//! [`MemoryStore`] on SQLite FTS5, in the context database the embedded graph shares.
//!
//! A search gathers two sets of candidates in the repository — memories whose text matches
//! the query (FTS5, ranked by bm25) and memories on the changed paths, their directories or
//! the whole repository — and ranks them together: text score `t/(1+t)` with `t = -bm25`,
//! plus [`path_boost`].
//!
//! The FTS5 query is never the caller's text: [`fts_query`] keeps only word tokens, quotes
//! each one and joins them with `OR`, so `"x" OR y*`, `NEAR(` or `col:term` are searched as
//! words, not run as FTS syntax.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use sqlx::sqlite::SqlitePool;

use super::{
    BoxFuture, Memory, MemoryKind, MemoryStore, NewMemory, Outcome, RuleFeedback, parent_dir,
    path_boost, rank,
};
use crate::context::graph::embedded::open_context_db;
use crate::context::graph::{repo_key, unique_paths};

/// Most words taken from a search query.
const MAX_QUERY_TERMS: usize = 32;
/// Most candidates read per kind of match.
const MAX_CANDIDATES: i64 = 200;

/// The embedded memories.
pub struct EmbeddedMemories {
    pool: SqlitePool,
}

impl EmbeddedMemories {
    /// Opens the memories in the context database at `path`.
    pub async fn open(path: &Path) -> anyhow::Result<EmbeddedMemories> {
        Ok(EmbeddedMemories {
            pool: open_context_db(path).await?,
        })
    }

    /// The memories over an already opened (and migrated) context database.
    pub fn from_pool(pool: SqlitePool) -> EmbeddedMemories {
        EmbeddedMemories { pool }
    }
}

/// An FTS5 MATCH expression for untrusted `text`: its word tokens (letters, digits), each
/// double-quoted, joined by `OR`. `None` when there is no word.
pub fn fts_query(text: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word = word.to_lowercase();
        if !terms.contains(&word) {
            terms.push(word);
        }
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            // Tokens hold no quote; doubling any is FTS5's escape should that ever change.
            .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

type Row = (i64, String, String, String, String, String, i64, i64, f64);

fn to_memory(repo: &str, row: Row, paths: &[String]) -> Option<Memory> {
    let (id, path, kind, rule, outcome, text, count, created_at, bm25) = row;
    let t = (-bm25).max(0.0);
    let text_score = (t / (1.0 + t)) as f32;
    Some(Memory {
        id: id.to_string(),
        repo: repo.to_owned(),
        score: text_score + path_boost(&path, paths),
        path: (!path.is_empty()).then_some(path),
        kind: MemoryKind::parse(&kind)?,
        text,
        rule: (!rule.is_empty()).then_some(rule),
        outcome: Outcome::parse(&outcome),
        count: u32::try_from(count).unwrap_or(u32::MAX),
        created_at,
    })
}

impl EmbeddedMemories {
    async fn add_inner(&self, m: &NewMemory) -> anyhow::Result<()> {
        let m = m.clean()?;
        let now = super::unix_now();
        sqlx::query(
            "INSERT INTO memories (repo, path, dir, kind, rule, outcome, text, count, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) \
             ON CONFLICT (repo, path, kind, rule, outcome, text) DO UPDATE SET \
             count = CASE WHEN memories.kind = 'outcome' THEN memories.count \
                          ELSE memories.count + 1 END, \
             updated_at = excluded.updated_at",
        )
        .bind(&m.repo)
        .bind(&m.path)
        .bind(&m.dir)
        .bind(m.kind.as_str())
        .bind(&m.rule)
        .bind(m.outcome.map(Outcome::as_str).unwrap_or(""))
        .bind(&m.text)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn search_inner(
        &self,
        repo: &str,
        paths: &[String],
        query: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<Memory>> {
        let repo = repo_key(repo);
        let paths = unique_paths(paths);
        let mut dirs: Vec<&str> = paths.iter().map(|p| parent_dir(p)).collect();
        dirs.sort_unstable();
        dirs.dedup();
        let mut found: HashMap<i64, Memory> = HashMap::new();

        if let Some(fts) = fts_query(query) {
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT m.id, m.path, m.kind, m.rule, m.outcome, m.text, m.count, m.created_at, \
                 bm25(memories_fts) FROM memories_fts JOIN memories m ON m.id = memories_fts.rowid \
                 WHERE memories_fts MATCH $1 AND m.repo = $2 \
                 ORDER BY bm25(memories_fts) LIMIT $3",
            )
            .bind(&fts)
            .bind(&repo)
            .bind(MAX_CANDIDATES)
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                let id = row.0;
                if let Some(m) = to_memory(&repo, row, &paths) {
                    found.insert(id, m);
                }
            }
        }

        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, path, kind, rule, outcome, text, count, created_at, 0.0 FROM memories \
             WHERE repo = $1 AND (path = '' OR path IN (SELECT value FROM json_each($2)) \
                                  OR dir IN (SELECT value FROM json_each($3))) \
             ORDER BY updated_at DESC LIMIT $4",
        )
        .bind(&repo)
        .bind(serde_json::to_string(&paths)?)
        .bind(serde_json::to_string(&dirs)?)
        .bind(MAX_CANDIDATES)
        .fetch_all(&self.pool)
        .await?;
        for row in rows {
            let id = row.0;
            if let Some(m) = to_memory(&repo, row, &paths) {
                found.entry(id).or_insert(m);
            }
        }
        Ok(rank(found.into_values().collect(), limit))
    }

    async fn feedback_inner(
        &self,
        repo: &str,
        rule: &str,
        path: &str,
    ) -> anyhow::Result<RuleFeedback> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT outcome, SUM(count) FROM memories \
             WHERE repo = $1 AND kind = 'outcome' AND rule = $2 AND path = $3 GROUP BY outcome",
        )
        .bind(repo_key(repo))
        .bind(rule.trim())
        .bind(path.trim())
        .fetch_all(&self.pool)
        .await?;
        let mut feedback = RuleFeedback::default();
        for (outcome, n) in rows {
            if let Some(o) = Outcome::parse(&outcome) {
                feedback.record(o, u32::try_from(n).unwrap_or(u32::MAX));
            }
        }
        Ok(feedback)
    }
}

impl MemoryStore for EmbeddedMemories {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn add<'a>(&'a self, m: &'a NewMemory) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.add_inner(m)
                .await
                .with_context(|| format!("embedded memories: cannot store a memory for {}", m.repo))
        })
    }

    fn search<'a>(
        &'a self,
        repo: &'a str,
        paths: &'a [String],
        query: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Memory>>> {
        Box::pin(async move {
            self.search_inner(repo, paths, query, limit)
                .await
                .with_context(|| format!("embedded memories: search in {repo} failed"))
        })
    }

    fn feedback<'a>(
        &'a self,
        repo: &'a str,
        rule: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<RuleFeedback>> {
        Box::pin(async move {
            self.feedback_inner(repo, rule, path)
                .await
                .with_context(|| format!("embedded memories: feedback for {repo} failed"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_quote_every_word_and_drop_syntax() {
        assert_eq!(
            fts_query(r#""foo" OR bar*"#).as_deref(),
            Some(r#""foo" OR "or" OR "bar""#)
        );
        assert_eq!(fts_query("NEAR(").as_deref(), Some(r#""near""#));
        assert_eq!(
            fts_query("col:term ^x -y").as_deref(),
            Some(r#""col" OR "term" OR "x" OR "y""#)
        );
        assert_eq!(fts_query(r#"" * ( ) : ^ -"#), None);
        assert_eq!(fts_query(""), None);
        let many: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(
            fts_query(&many).unwrap().matches(" OR ").count(),
            MAX_QUERY_TERMS - 1
        );
    }

    async fn store() -> (tempfile::TempDir, EmbeddedMemories) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedMemories::open(&dir.path().join("ctx.db"))
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn hostile_queries_are_searched_as_words() {
        let (_dir, store) = store().await;
        store
            .add(&NewMemory {
                repo: "acme/app".into(),
                path: None,
                kind: MemoryKind::Convention,
                text: "bar handlers must log the request id".into(),
                rule: None,
                outcome: None,
            })
            .await
            .unwrap();
        for hostile in [
            r#""foo" OR bar*"#,
            "NEAR(",
            "bar)",
            r#"text:"bar"#,
            "\"",
            "AND OR NOT",
            "bar\0baz",
            "'; DROP TABLE memories; --",
        ] {
            let found = store.search("acme/app", &[], hostile, 5).await;
            assert!(found.is_ok(), "{hostile}: {found:?}");
        }
        let found = store
            .search("acme/app", &[], r#""foo" OR bar*"#, 5)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        // The text matched: more than the repository-wide boost alone.
        assert!(found[0].score > 0.5, "{found:?}");
    }
}
