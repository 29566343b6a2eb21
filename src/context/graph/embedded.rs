//! [`KnowledgeGraph`] on SQLite: the graph's nodes and edges as tables (see
//! `src/context/migrations/0001_init.sql`) in the context database that the embedded
//! memories share ([`open_context_db`]).
//!
//! Sets are passed to SQL as one JSON array parameter read with `json_each`, so every
//! statement is static and parameterised whatever the number of paths. Each `index_*` is one
//! `BEGIN IMMEDIATE` transaction: it takes the write lock before reading, so two writers
//! re-indexing the same PR cannot both subtract its old CO_CHANGED contribution.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};

use super::{
    BoxFuture, CoChange, Expert, FindingRecord, GraphAnswers, GraphQuery, IssueRecord, IssueRef,
    KnowledgeGraph, MAX_CO_CHANGE_FILES, PastPr, PrRecord, RevertOf, co_change_is_usual, repo_key,
    unique_paths,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/context/migrations");

/// Migrations of two stores opened at once on one file must not race (SQLite's migrator
/// takes no lock): they run one at a time per process.
static MIGRATING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating the file and its directory if missing) and migrates the context
/// database. Both embedded stores call this; each holds its own pool on the same file.
pub async fn open_context_db(path: &Path) -> anyhow::Result<SqlitePool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create {} for the context database: set NECTR_CONTEXT_DB to a writable path",
                dir.display()
            )
        })?;
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    // Opened and migrated one at a time in this process: the graph and the memories open
    // the same file at once, and switching a new file to WAL while another connection
    // does the same answers SQLITE_BUSY without waiting for the busy timeout. Another
    // process doing the same is waited out by retrying.
    let _guard = MIGRATING.lock().await;
    let mut attempt = 0;
    let pool = loop {
        attempt += 1;
        match SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => break pool,
            Err(e) if attempt < 20 && is_busy(&e) => {
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot open the context database {}: check the path or set NECTR_CONTEXT_DB",
                        path.display()
                    )
                });
            }
        }
    };
    MIGRATOR.run(&pool).await.with_context(|| {
        format!(
            "cannot migrate the context database {} (made by a newer Nectr?)",
            path.display()
        )
    })?;
    Ok(pool)
}

/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the lock for now.
fn is_busy(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|code| code.parse::<u32>().ok())
        // Extended codes (SQLITE_BUSY_RECOVERY = 261, …) keep the primary code in the low byte.
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// The embedded graph.
pub struct EmbeddedGraph {
    pool: SqlitePool,
}

impl EmbeddedGraph {
    /// Opens the graph in the context database at `path`.
    pub async fn open(path: &Path) -> anyhow::Result<EmbeddedGraph> {
        Ok(EmbeddedGraph {
            pool: open_context_db(path).await?,
        })
    }

    /// The graph over an already opened (and migrated) context database.
    pub fn from_pool(pool: SqlitePool) -> EmbeddedGraph {
        EmbeddedGraph { pool }
    }
}

fn num(n: u64, what: &str) -> anyhow::Result<i64> {
    i64::try_from(n).with_context(|| format!("{what} {n} is out of range"))
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).expect("a list of strings or numbers serialises")
}

fn parse_list(json: &str) -> Vec<String> {
    let mut v: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    v.sort();
    v.dedup();
    v
}

async fn upsert_repo(tx: &mut Transaction<'static, Sqlite>, repo: &str) -> anyhow::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO graph_repos (name) VALUES ($1) \
         ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
    )
    .bind(repo)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

async fn upsert_author(
    tx: &mut Transaction<'static, Sqlite>,
    login: &str,
) -> anyhow::Result<Option<i64>> {
    let login = login.trim();
    if login.is_empty() {
        return Ok(None);
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO graph_authors (login) VALUES ($1) \
         ON CONFLICT (login) DO UPDATE SET login = excluded.login RETURNING id",
    )
    .bind(login)
    .fetch_one(&mut **tx)
    .await?;
    Ok(Some(id))
}

/// Creates the file nodes for `paths_json` (a JSON array) in the repository.
async fn upsert_files(
    tx: &mut Transaction<'static, Sqlite>,
    repo_id: i64,
    paths_json: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO graph_files (repo_id, path) SELECT $1, value FROM json_each($2) WHERE true \
         ON CONFLICT (repo_id, path) DO NOTHING",
    )
    .bind(repo_id)
    .bind(paths_json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The number of the PR `revert` names, among the repository's PRs other than `own`.
async fn resolve_revert(
    tx: &mut Transaction<'static, Sqlite>,
    repo_id: i64,
    own: i64,
    revert: &RevertOf,
) -> anyhow::Result<Option<i64>> {
    Ok(match revert {
        RevertOf::Pr(n) => Some(num(*n, "reverted PR number")?),
        RevertOf::Title(title) => {
            sqlx::query_scalar(
                "SELECT number FROM graph_prs WHERE repo_id = $1 AND title = $2 AND number <> $3 \
                 ORDER BY state = 'merged' DESC, number DESC LIMIT 1",
            )
            .bind(repo_id)
            .bind(title)
            .bind(own)
            .fetch_optional(&mut **tx)
            .await?
        }
        RevertOf::Commit(sha) if sha.len() >= 7 => {
            sqlx::query_scalar(
                "SELECT number FROM graph_prs WHERE repo_id = $1 AND number <> $3 \
                 AND substr(head_sha, 1, length($2)) = lower($2) \
                 ORDER BY number DESC LIMIT 1",
            )
            .bind(repo_id)
            .bind(sha)
            .bind(own)
            .fetch_optional(&mut **tx)
            .await?
        }
        RevertOf::Commit(_) => None,
    })
}

impl EmbeddedGraph {
    async fn index_pr_inner(&self, pr: &PrRecord) -> anyhow::Result<()> {
        let repo = repo_key(&pr.repo);
        let number = num(pr.number, "PR number")?;
        let files = unique_paths(&pr.files);
        let files_json = json_list(&files);
        let merged = pr.is_merged();
        let state = if merged {
            "merged".to_owned()
        } else {
            pr.state.trim().to_ascii_lowercase()
        };

        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let repo_id = upsert_repo(&mut tx, &repo).await?;
        let author_id = upsert_author(&mut tx, &pr.author).await?;

        // Take the PR's old CO_CHANGED contribution back out before replacing its files.
        let old: Option<(i64, bool)> = sqlx::query_as(
            "SELECT id, co_counted FROM graph_prs WHERE repo_id = $1 AND number = $2",
        )
        .bind(repo_id)
        .bind(number)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((old_id, true)) = old {
            sqlx::query(
                "UPDATE graph_co_changed SET times = times - 1 WHERE (file_a, file_b) IN \
                 (SELECT t1.file_id, t2.file_id FROM graph_touches t1 \
                  JOIN graph_touches t2 ON t2.pr_id = t1.pr_id AND t1.file_id < t2.file_id \
                  WHERE t1.pr_id = $1)",
            )
            .bind(old_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM graph_co_changed WHERE times <= 0")
                .execute(&mut *tx)
                .await?;
        }

        let reverts_pr = match &pr.reverts {
            Some(r) => resolve_revert(&mut tx, repo_id, number, r).await?,
            None => None,
        };
        let pr_id: i64 = sqlx::query_scalar(
            "INSERT INTO graph_prs (repo_id, number, title, author_id, state, merged_at, \
             created_at, base_sha, head_sha, is_revert, reverts_pr, co_counted) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, FALSE) \
             ON CONFLICT (repo_id, number) DO UPDATE SET title = excluded.title, \
             author_id = excluded.author_id, state = excluded.state, \
             merged_at = excluded.merged_at, created_at = excluded.created_at, \
             base_sha = excluded.base_sha, head_sha = excluded.head_sha, \
             is_revert = excluded.is_revert, reverts_pr = excluded.reverts_pr, \
             co_counted = FALSE \
             RETURNING id",
        )
        .bind(repo_id)
        .bind(number)
        .bind(&pr.title)
        .bind(author_id)
        .bind(&state)
        .bind(pr.merged_at)
        .bind(pr.created_at)
        .bind(&pr.base_sha)
        .bind(pr.head_sha.to_ascii_lowercase())
        .bind(pr.reverts.is_some())
        .bind(reverts_pr)
        .fetch_one(&mut *tx)
        .await?;

        for table in [
            "DELETE FROM graph_touches WHERE pr_id = $1",
            "DELETE FROM graph_fixes WHERE pr_id = $1",
        ] {
            sqlx::query(table).bind(pr_id).execute(&mut *tx).await?;
        }

        upsert_files(&mut tx, repo_id, &files_json).await?;
        sqlx::query(
            "INSERT INTO graph_touches (pr_id, file_id) SELECT $1, f.id FROM graph_files f \
             WHERE f.repo_id = $2 AND f.path IN (SELECT value FROM json_each($3))",
        )
        .bind(pr_id)
        .bind(repo_id)
        .bind(&files_json)
        .execute(&mut *tx)
        .await?;

        if let Some(findings) = &pr.findings {
            sqlx::query("DELETE FROM graph_findings WHERE pr_id = $1")
                .bind(pr_id)
                .execute(&mut *tx)
                .await?;
            let findings: Vec<serde_json::Value> = findings
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "path": f.path, "rule": f.rule, "severity": f.severity, "title": f.title,
                    })
                })
                .collect();
            sqlx::query(
                "INSERT INTO graph_findings (pr_id, path, rule, severity, title) \
                 SELECT $1, json_extract(value, '$.path'), json_extract(value, '$.rule'), \
                 json_extract(value, '$.severity'), json_extract(value, '$.title') \
                 FROM json_each($2)",
            )
            .bind(pr_id)
            .bind(json_list(&findings))
            .execute(&mut *tx)
            .await?;
        }

        let fixes: Vec<i64> = pr
            .fixes_issues
            .iter()
            .map(|n| num(*n, "issue number"))
            .collect::<anyhow::Result<_>>()?;
        sqlx::query(
            "INSERT OR IGNORE INTO graph_fixes (pr_id, issue_number) \
             SELECT $1, value FROM json_each($2)",
        )
        .bind(pr_id)
        .bind(json_list(&fixes))
        .execute(&mut *tx)
        .await?;

        if merged && files.len() >= 2 && files.len() <= MAX_CO_CHANGE_FILES {
            sqlx::query(
                "INSERT INTO graph_co_changed (file_a, file_b, times) \
                 SELECT t1.file_id, t2.file_id, 1 FROM graph_touches t1 \
                 JOIN graph_touches t2 ON t2.pr_id = t1.pr_id AND t1.file_id < t2.file_id \
                 WHERE t1.pr_id = $1 \
                 ON CONFLICT (file_a, file_b) DO UPDATE SET times = times + 1",
            )
            .bind(pr_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE graph_prs SET co_counted = TRUE WHERE id = $1")
                .bind(pr_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn index_issue_inner(&self, issue: &IssueRecord) -> anyhow::Result<()> {
        let repo = repo_key(&issue.repo);
        let number = num(issue.number, "issue number")?;
        let paths_json = json_list(&unique_paths(&issue.body_paths));
        let labels = json_list(&issue.labels);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let repo_id = upsert_repo(&mut tx, &repo).await?;
        let author_id = upsert_author(&mut tx, &issue.author).await?;
        // Webhook deliveries can arrive out of order: an older update never overwrites a
        // newer one (no row comes back, and the mentioned files are left alone too).
        let issue_id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO graph_issues (repo_id, number, title, state, labels, author_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (repo_id, number) DO UPDATE SET title = excluded.title, \
             state = excluded.state, labels = excluded.labels, author_id = excluded.author_id, \
             updated_at = excluded.updated_at \
             WHERE excluded.updated_at >= graph_issues.updated_at \
             RETURNING id",
        )
        .bind(repo_id)
        .bind(number)
        .bind(&issue.title)
        .bind(issue.state.trim().to_ascii_lowercase())
        .bind(&labels)
        .bind(author_id)
        .bind(issue.updated_at)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(issue_id) = issue_id {
            sqlx::query("DELETE FROM graph_issue_files WHERE issue_id = $1")
                .bind(issue_id)
                .execute(&mut *tx)
                .await?;
            upsert_files(&mut tx, repo_id, &paths_json).await?;
            sqlx::query(
                "INSERT INTO graph_issue_files (issue_id, file_id) SELECT $1, f.id \
                 FROM graph_files f WHERE f.repo_id = $2 \
                 AND f.path IN (SELECT value FROM json_each($3))",
            )
            .bind(issue_id)
            .bind(repo_id)
            .bind(&paths_json)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn query_inner(&self, q: &GraphQuery<'_>) -> anyhow::Result<GraphAnswers> {
        let repo = repo_key(q.repo);
        let Some(repo_id): Option<i64> =
            sqlx::query_scalar("SELECT id FROM graph_repos WHERE name = $1")
                .bind(&repo)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(GraphAnswers::default());
        };
        let number = num(q.pr_number, "PR number")?;
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let paths = unique_paths(q.paths);
        let paths_json = json_list(&paths);
        let mut answers = GraphAnswers::default();

        // Past PRs, with their findings on the paths in common.
        let rows: Vec<(i64, i64, String, String, String, String)> = sqlx::query_as(
            "SELECT p.id, p.number, p.title, COALESCE(a.login, ''), p.state, \
             json_group_array(f.path) \
             FROM graph_prs p JOIN graph_touches t ON t.pr_id = p.id \
             JOIN graph_files f ON f.id = t.file_id \
             LEFT JOIN graph_authors a ON a.id = p.author_id \
             WHERE p.repo_id = $1 AND p.number <> $2 \
             AND f.path IN (SELECT value FROM json_each($3)) \
             GROUP BY p.id \
             ORDER BY COUNT(*) DESC, COALESCE(p.merged_at, p.created_at) DESC, p.number DESC \
             LIMIT $4",
        )
        .bind(repo_id)
        .bind(number)
        .bind(&paths_json)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        for (id, number, title, author, state, files) in rows {
            let findings: Vec<(String, String, String, String)> = sqlx::query_as(
                "SELECT path, rule, severity, title FROM graph_findings \
                 WHERE pr_id = $1 AND path IN (SELECT value FROM json_each($2)) \
                 ORDER BY path, rule, severity, title",
            )
            .bind(id)
            .bind(&paths_json)
            .fetch_all(&self.pool)
            .await?;
            answers.past_prs.push(PastPr {
                number: number as u64,
                title,
                author,
                merged: state == "merged",
                files_in_common: parse_list(&files),
                findings: findings
                    .into_iter()
                    .map(|(path, rule, severity, title)| FindingRecord {
                        path,
                        rule,
                        severity,
                        title,
                    })
                    .collect(),
            });
        }

        // Files that usually change with these but are missing: every CO_CHANGED partner of
        // a queried file, with how many counted PRs touched that queried file.
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "WITH q(id) AS (SELECT id FROM graph_files WHERE repo_id = $1 \
                            AND path IN (SELECT value FROM json_each($2))), \
             pairs(qid, other, times) AS ( \
                SELECT file_a, file_b, times FROM graph_co_changed WHERE file_a IN (SELECT id FROM q) \
                UNION ALL \
                SELECT file_b, file_a, times FROM graph_co_changed WHERE file_b IN (SELECT id FROM q)), \
             totals(qid, total) AS ( \
                SELECT t.file_id, COUNT(*) FROM graph_touches t JOIN graph_prs p ON p.id = t.pr_id \
                WHERE p.co_counted AND t.file_id IN (SELECT id FROM q) GROUP BY t.file_id) \
             SELECT fo.path, fq.path, pairs.times, totals.total FROM pairs \
             JOIN totals ON totals.qid = pairs.qid \
             JOIN graph_files fo ON fo.id = pairs.other \
             JOIN graph_files fq ON fq.id = pairs.qid \
             WHERE pairs.other NOT IN (SELECT id FROM q)",
        )
        .bind(repo_id)
        .bind(&paths_json)
        .fetch_all(&self.pool)
        .await?;
        answers.missing_co_changes = best_co_changes(
            rows.into_iter()
                .map(|(path, with, times, total)| (path, with, times as u32, total as u32)),
            q.limit,
        );

        // Experts: authors of merged PRs touching the files (bots and the PR's author left out).
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT a.login, COUNT(DISTINCT p.id) AS prs FROM graph_prs p \
             JOIN graph_authors a ON a.id = p.author_id \
             JOIN graph_touches t ON t.pr_id = p.id JOIN graph_files f ON f.id = t.file_id \
             WHERE p.repo_id = $1 AND p.number <> $2 AND p.state = 'merged' \
             AND f.path IN (SELECT value FROM json_each($3)) \
             AND a.login <> $4 COLLATE NOCASE AND a.login NOT LIKE '%[bot]' \
             GROUP BY a.id ORDER BY prs DESC, a.login ASC LIMIT $5",
        )
        .bind(repo_id)
        .bind(number)
        .bind(&paths_json)
        .bind(q.author.unwrap_or("").trim())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        answers.experts = rows
            .into_iter()
            .map(|(login, prs)| Expert {
                login,
                prs: prs as u32,
            })
            .collect();

        // Reverts: revert PRs (not closed unmerged) whose reverted PR, or which themselves,
        // touched the files.
        let rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT r.number, r.title, COALESCE(a.login, ''), r.state, \
             json_group_array(DISTINCT f.path) \
             FROM graph_prs r \
             LEFT JOIN graph_prs o ON o.repo_id = r.repo_id AND o.number = r.reverts_pr \
             JOIN graph_touches t ON t.pr_id = r.id OR t.pr_id = o.id \
             JOIN graph_files f ON f.id = t.file_id \
             LEFT JOIN graph_authors a ON a.id = r.author_id \
             WHERE r.repo_id = $1 AND r.is_revert AND r.number <> $2 AND r.state <> 'closed' \
             AND f.path IN (SELECT value FROM json_each($3)) \
             GROUP BY r.id \
             ORDER BY COALESCE(r.merged_at, r.created_at) DESC, r.number DESC LIMIT $4",
        )
        .bind(repo_id)
        .bind(number)
        .bind(&paths_json)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        answers.reverts = rows
            .into_iter()
            .map(|(number, title, author, state, files)| PastPr {
                number: number as u64,
                title,
                author,
                merged: state == "merged",
                files_in_common: parse_list(&files),
                findings: Vec::new(),
            })
            .collect();

        // The issues this PR fixes: what the query says plus what an earlier index recorded.
        let mut fixes: BTreeSet<i64> = q
            .fixes
            .iter()
            .map(|n| num(*n, "issue number"))
            .collect::<anyhow::Result<_>>()?;
        let recorded: Vec<i64> = sqlx::query_scalar(
            "SELECT x.issue_number FROM graph_fixes x JOIN graph_prs p ON p.id = x.pr_id \
             WHERE p.repo_id = $1 AND p.number = $2",
        )
        .bind(repo_id)
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        fixes.extend(recorded);
        let fixes_json = json_list(&fixes.into_iter().collect::<Vec<_>>());

        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT i.number, i.title, json_group_array(f.path) FROM graph_issues i \
             JOIN graph_issue_files x ON x.issue_id = i.id JOIN graph_files f ON f.id = x.file_id \
             WHERE i.repo_id = $1 AND i.state = 'open' \
             AND f.path IN (SELECT value FROM json_each($2)) \
             AND i.number NOT IN (SELECT value FROM json_each($3)) \
             GROUP BY i.id ORDER BY COUNT(*) DESC, i.updated_at DESC, i.number DESC LIMIT $4",
        )
        .bind(repo_id)
        .bind(&paths_json)
        .bind(&fixes_json)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        answers.open_issues = rows
            .into_iter()
            .map(|(number, title, paths)| IssueRef {
                number: number as u64,
                title,
                paths: parse_list(&paths),
            })
            .collect();

        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT i.number, i.title, \
             (SELECT json_group_array(f.path) FROM graph_issue_files x \
              JOIN graph_files f ON f.id = x.file_id WHERE x.issue_id = i.id) \
             FROM graph_issues i \
             WHERE i.repo_id = $1 AND i.number IN (SELECT value FROM json_each($2)) \
             ORDER BY i.number LIMIT $3",
        )
        .bind(repo_id)
        .bind(&fixes_json)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        answers.fixes = rows
            .into_iter()
            .map(|(number, title, paths)| IssueRef {
                number: number as u64,
                title,
                paths: parse_list(&paths),
            })
            .collect();
        Ok(answers)
    }
}

/// From every (missing path, PR file, times, PR file's counted PRs), the usual ones (see
/// [`co_change_is_usual`]), one per missing path (its strongest partner), most times first.
/// Shared by both implementations so they rank alike.
pub(crate) fn best_co_changes(
    rows: impl Iterator<Item = (String, String, u32, u32)>,
    limit: usize,
) -> Vec<CoChange> {
    let mut best: BTreeMap<String, CoChange> = BTreeMap::new();
    for (path, with, times, total) in rows {
        if !co_change_is_usual(times, total) {
            continue;
        }
        let better = match best.get(&path) {
            None => true,
            Some(b) => times > b.times || (times == b.times && with < b.with),
        };
        if better {
            best.insert(path.clone(), CoChange { path, with, times });
        }
    }
    let mut out: Vec<CoChange> = best.into_values().collect();
    out.sort_by(|a, b| b.times.cmp(&a.times).then_with(|| a.path.cmp(&b.path)));
    out.truncate(limit);
    out
}

impl KnowledgeGraph for EmbeddedGraph {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn index_pr<'a>(&'a self, pr: &'a PrRecord) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.index_pr_inner(pr)
                .await
                .with_context(|| format!("embedded graph: cannot index {}#{}", pr.repo, pr.number))
        })
    }

    fn index_issue<'a>(&'a self, issue: &'a IssueRecord) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.index_issue_inner(issue).await.with_context(|| {
                format!(
                    "embedded graph: cannot index issue {}#{}",
                    issue.repo, issue.number
                )
            })
        })
    }

    fn query<'a>(&'a self, q: &'a GraphQuery<'a>) -> BoxFuture<'a, anyhow::Result<GraphAnswers>> {
        Box::pin(async move {
            self.query_inner(q)
                .await
                .with_context(|| format!("embedded graph: query for {} failed", q.repo))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_co_change_keeps_the_strongest_partner_per_file() {
        let rows = vec![
            ("c".to_string(), "a".to_string(), 2, 10), // 20 %: not usual
            ("c".to_string(), "b".to_string(), 3, 4),
            ("c".to_string(), "a2".to_string(), 3, 3),
            ("d".to_string(), "a".to_string(), 5, 5),
            ("e".to_string(), "a".to_string(), 1, 1), // once: not usual
        ];
        let best = best_co_changes(rows.into_iter(), 10);
        assert_eq!(
            best,
            vec![
                CoChange {
                    path: "d".into(),
                    with: "a".into(),
                    times: 5
                },
                CoChange {
                    path: "c".into(),
                    with: "a2".into(),
                    times: 3
                },
            ]
        );
    }

    #[tokio::test]
    async fn context_db_is_created_with_its_directory_and_fts5_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep").join("ctx.db");
        let pool = open_context_db(&path).await.unwrap();
        assert!(path.exists());
        // The bundled SQLite has FTS5 (the memories depend on it).
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, 1);
        // Opening again (a second store on the same file) migrates nothing twice.
        let again = open_context_db(&path).await.unwrap();
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('graph_prs', 'memories_fts')",
        )
        .fetch_one(&again)
        .await
        .unwrap();
        assert_eq!(tables, 2);
    }

    #[tokio::test]
    async fn an_unwritable_location_says_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = open_context_db(&file.join("ctx.db")).await.unwrap_err();
        assert!(format!("{err:#}").contains("NECTR_CONTEXT_DB"), "{err:#}");
    }
}
