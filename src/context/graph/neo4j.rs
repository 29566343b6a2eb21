//! [`KnowledgeGraph`] on Neo4j 5 through neo4rs (Bolt; `bolt://`, `neo4j://`, `+s` for TLS
//! with rustls and ring).
//!
//! The model: `(:Repo {name})`, `(:PullRequest {repo, number, …})-[:IN_REPO]->(:Repo)`,
//! `(:Author {login})-[:AUTHORED]->(:PullRequest|:Issue)`,
//! `(:PullRequest)-[:TOUCHES]->(:File {repo, path})`,
//! `(:PullRequest)-[:HAS_FINDING]->(:Finding {path, rule, severity, title})`,
//! `(:PullRequest)-[:REFERENCES]->(:Issue {repo, number, …})` (the issues it fixes; an issue
//! not yet seen is a node with only its key), `(:Issue)-[:REFERENCES]->(:File)` and
//! `(:File)-[:CO_CHANGED {times}]->(:File)` (directed from the smaller path to the larger,
//! so each pair has one edge). Uniqueness constraints on every key and indexes on the
//! revert lookups are created at start (`IF NOT EXISTS`).
//!
//! Writes are MERGEs in one explicit transaction per PR or issue; sets go in as one list
//! parameter each and are `UNWIND`ed, CO_CHANGED pairs in batches of [`PAIR_BATCH`]. The
//! queries mirror `embedded.rs` answer for answer (the shared test in
//! `tests/context_stores.rs` runs both). Every call is time-boxed by
//! [`Neo4jSettings::timeout`]; errors name the server without user-info and never contain
//! the password.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use anyhow::Context as _;
use neo4rs::{BoltType, ConfigBuilder, Graph, Query, Txn, query};
use serde::Deserialize;

use super::embedded::best_co_changes;
use super::{
    BoxFuture, FindingRecord, GraphAnswers, GraphQuery, IssueRecord, IssueRef, KnowledgeGraph,
    MAX_CO_CHANGE_FILES, Neo4jSettings, PastPr, PrRecord, RevertOf, co_change_pairs, repo_key,
    unique_paths,
};

/// CO_CHANGED pairs per `UNWIND` statement.
pub const PAIR_BATCH: usize = 1000;

const SCHEMA: &[&str] = &[
    "CREATE CONSTRAINT nectr_repo IF NOT EXISTS FOR (r:Repo) REQUIRE r.name IS UNIQUE",
    "CREATE CONSTRAINT nectr_author IF NOT EXISTS FOR (a:Author) REQUIRE a.login IS UNIQUE",
    "CREATE CONSTRAINT nectr_file IF NOT EXISTS FOR (f:File) REQUIRE (f.repo, f.path) IS UNIQUE",
    "CREATE CONSTRAINT nectr_pr IF NOT EXISTS FOR (p:PullRequest) REQUIRE (p.repo, p.number) IS UNIQUE",
    "CREATE CONSTRAINT nectr_issue IF NOT EXISTS FOR (i:Issue) REQUIRE (i.repo, i.number) IS UNIQUE",
    "CREATE INDEX nectr_pr_title IF NOT EXISTS FOR (p:PullRequest) ON (p.repo, p.title)",
    "CREATE INDEX nectr_pr_head IF NOT EXISTS FOR (p:PullRequest) ON (p.repo, p.head_sha)",
];

/// The graph on a Neo4j server.
pub struct Neo4jGraph {
    graph: Graph,
    settings: Neo4jSettings,
    /// The URI for messages: no user-info, no query.
    label: String,
}

#[derive(Deserialize)]
struct FindingRow {
    path: String,
    rule: String,
    severity: String,
    title: String,
}

impl Neo4jGraph {
    /// Connects and creates the constraints and indexes. Fails (within the time box) when
    /// the server cannot be reached or refuses the credentials.
    pub async fn connect(settings: &Neo4jSettings) -> anyhow::Result<Neo4jGraph> {
        crate::github::transport::install_crypto_provider();
        let label = crate::llm::http::display_url_str(&settings.uri);
        let config = ConfigBuilder::default()
            .uri(settings.uri.as_str())
            .user(settings.user.as_str())
            .password(settings.password.as_str())
            .connection_timeout(settings.timeout)
            .max_connections(4)
            .build()
            .map_err(|e| anyhow::anyhow!("Neo4j at {label}: bad NEO4J_URI: {e}"))?;
        let graph = Graph::connect(config)
            .map_err(|e| anyhow::anyhow!("Neo4j at {label}: cannot connect: {e}"))?;
        let store = Neo4jGraph {
            graph,
            settings: settings.clone(),
            label,
        };
        store
            .timed("create constraints", async {
                for statement in SCHEMA {
                    store.graph.run(query(statement)).await?;
                }
                Ok(())
            })
            .await
            .context("check NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD (Neo4j 5 is required)")?;
        Ok(store)
    }

    /// Runs `work` within the time box, turning its error into one without the password.
    async fn timed<T>(
        &self,
        what: &str,
        work: impl Future<Output = Result<T, neo4rs::Error>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.settings.timeout, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(anyhow::anyhow!(
                "Neo4j at {}: {what} failed: {}",
                self.label,
                self.scrub(&e.to_string())
            )),
            Err(_) => Err(anyhow::anyhow!(
                "Neo4j at {}: {what} took longer than {:?}",
                self.label,
                self.settings.timeout
            )),
        }
    }

    fn scrub(&self, text: &str) -> String {
        let p = &self.settings.password;
        if p.len() >= 4 && text.contains(p.as_str()) {
            text.replace(p.as_str(), "[redacted]")
        } else {
            text.to_owned()
        }
    }

    /// All rows of a read query.
    async fn rows(&self, q: Query) -> Result<Vec<neo4rs::Row>, neo4rs::Error> {
        let mut stream = self.graph.execute(q).await?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await? {
            rows.push(row);
        }
        Ok(rows)
    }

    async fn resolve_revert(
        &self,
        repo: &str,
        own: i64,
        revert: &RevertOf,
    ) -> Result<Option<i64>, neo4rs::Error> {
        let q = match revert {
            RevertOf::Pr(n) => return Ok(i64::try_from(*n).ok()),
            RevertOf::Commit(sha) if sha.len() < 7 => return Ok(None),
            RevertOf::Title(title) => query(
                "MATCH (p:PullRequest {repo: $repo, title: $title}) WHERE p.number <> $own \
                 RETURN p.number AS number \
                 ORDER BY CASE p.state WHEN 'merged' THEN 0 ELSE 1 END, p.number DESC LIMIT 1",
            )
            .param("title", title.as_str()),
            RevertOf::Commit(sha) => query(
                "MATCH (p:PullRequest {repo: $repo}) \
                 WHERE p.number <> $own AND p.head_sha STARTS WITH toLower($sha) \
                 RETURN p.number AS number ORDER BY p.number DESC LIMIT 1",
            )
            .param("sha", sha.as_str()),
        };
        let rows = self.rows(q.param("repo", repo).param("own", own)).await?;
        Ok(rows.first().and_then(|r| r.get::<i64>("number").ok()))
    }

    async fn index_pr_inner(&self, pr: &PrRecord) -> Result<(), neo4rs::Error> {
        let repo = repo_key(&pr.repo);
        let number = i64::try_from(pr.number).unwrap_or(i64::MAX);
        let files = unique_paths(&pr.files);
        let merged = pr.is_merged();
        let state = if merged {
            "merged".to_owned()
        } else {
            pr.state.trim().to_ascii_lowercase()
        };
        let reverts_pr = match &pr.reverts {
            Some(r) => self.resolve_revert(&repo, number, r).await?,
            None => None,
        };
        let key = |q: Query| q.param("repo", repo.as_str()).param("number", number);

        let mut txn: Txn = self.graph.start_txn().await?;
        // Take the PR's old CO_CHANGED contribution back out.
        txn.run(key(query(
            "MATCH (p:PullRequest {repo: $repo, number: $number}) WHERE p.co_counted = true \
             MATCH (p)-[:TOUCHES]->(a:File), (p)-[:TOUCHES]->(b:File) WHERE a.path < b.path \
             MATCH (a)-[c:CO_CHANGED]->(b) \
             SET c.times = c.times - 1 \
             WITH c WHERE c.times <= 0 DELETE c",
        )))
        .await?;
        txn.run(
            key(query(
                "MERGE (r:Repo {name: $repo}) \
             MERGE (p:PullRequest {repo: $repo, number: $number}) \
             SET p.title = $title, p.state = $state, p.merged_at = $merged_at, \
                 p.created_at = $created_at, p.base_sha = $base_sha, p.head_sha = $head_sha, \
                 p.is_revert = $is_revert, p.reverts_pr = $reverts_pr, p.co_counted = false \
             MERGE (p)-[:IN_REPO]->(r)",
            ))
            .param("title", pr.title.as_str())
            .param("state", state.as_str())
            .param("merged_at", pr.merged_at)
            .param("created_at", pr.created_at)
            .param("base_sha", pr.base_sha.as_str())
            .param("head_sha", pr.head_sha.to_ascii_lowercase())
            .param("is_revert", pr.reverts.is_some())
            .param("reverts_pr", reverts_pr),
        )
        .await?;
        for statement in [
            "MATCH (p:PullRequest {repo: $repo, number: $number})-[old:TOUCHES|REFERENCES]->() \
             DELETE old",
            "MATCH (p:PullRequest {repo: $repo, number: $number})<-[old:AUTHORED]-() DELETE old",
        ] {
            txn.run(key(query(statement))).await?;
        }
        if !pr.author.trim().is_empty() {
            txn.run(
                key(query(
                    "MATCH (p:PullRequest {repo: $repo, number: $number}) \
                 MERGE (a:Author {login: $login}) MERGE (a)-[:AUTHORED]->(p)",
                ))
                .param("login", pr.author.trim()),
            )
            .await?;
        }
        txn.run(
            key(query(
                "MATCH (p:PullRequest {repo: $repo, number: $number}) \
             UNWIND $files AS path \
             MERGE (f:File {repo: $repo, path: path}) MERGE (p)-[:TOUCHES]->(f)",
            ))
            .param("files", files.clone()),
        )
        .await?;
        if let Some(findings) = &pr.findings {
            txn.run(key(query(
                "MATCH (p:PullRequest {repo: $repo, number: $number})-[:HAS_FINDING]->(f:Finding) \
                 DETACH DELETE f",
            )))
            .await?;
            let findings: Vec<BoltType> = findings
                .iter()
                .map(|f| {
                    BoltType::from(HashMap::from([
                        ("path".to_owned(), f.path.clone()),
                        ("rule".to_owned(), f.rule.clone()),
                        ("severity".to_owned(), f.severity.clone()),
                        ("title".to_owned(), f.title.clone()),
                    ]))
                })
                .collect();
            txn.run(
                key(query(
                    "MATCH (p:PullRequest {repo: $repo, number: $number}) \
                     UNWIND $findings AS x \
                     CREATE (p)-[:HAS_FINDING]->(:Finding {path: x.path, rule: x.rule, \
                                                           severity: x.severity, title: x.title})",
                ))
                .param("findings", findings),
            )
            .await?;
        }
        let fixes: Vec<i64> = pr
            .fixes_issues
            .iter()
            .filter_map(|n| i64::try_from(*n).ok())
            .collect();
        txn.run(
            key(query(
                "MATCH (p:PullRequest {repo: $repo, number: $number}) \
             UNWIND $fixes AS n \
             MERGE (i:Issue {repo: $repo, number: n}) MERGE (p)-[:REFERENCES]->(i)",
            ))
            .param("fixes", fixes),
        )
        .await?;
        if merged && files.len() >= 2 && files.len() <= MAX_CO_CHANGE_FILES {
            let pairs: Vec<Vec<String>> = co_change_pairs(&files)
                .into_iter()
                .map(|(a, b)| vec![a, b])
                .collect();
            for batch in pairs.chunks(PAIR_BATCH) {
                txn.run(
                    query(
                        "UNWIND $pairs AS pair \
                         MATCH (a:File {repo: $repo, path: pair[0]}), \
                               (b:File {repo: $repo, path: pair[1]}) \
                         MERGE (a)-[c:CO_CHANGED]->(b) ON CREATE SET c.times = 0 \
                         SET c.times = c.times + 1",
                    )
                    .param("repo", repo.as_str())
                    .param("pairs", batch.to_vec()),
                )
                .await?;
            }
            txn.run(key(query(
                "MATCH (p:PullRequest {repo: $repo, number: $number}) SET p.co_counted = true",
            )))
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    async fn index_issue_inner(&self, issue: &IssueRecord) -> Result<(), neo4rs::Error> {
        let repo = repo_key(&issue.repo);
        let number = i64::try_from(issue.number).unwrap_or(i64::MAX);
        let key = |q: Query| q.param("repo", repo.as_str()).param("number", number);
        let mut txn: Txn = self.graph.start_txn().await?;
        // An older update (out-of-order delivery) never overwrites a newer one.
        let mut stream = txn
            .execute(
                key(query(
                    "MERGE (r:Repo {name: $repo}) \
                 MERGE (i:Issue {repo: $repo, number: $number}) \
                 WITH i WHERE i.updated_at IS NULL OR i.updated_at <= $updated_at \
                 SET i.title = $title, i.state = $state, i.labels = $labels, \
                     i.updated_at = $updated_at \
                 RETURN i.number AS number",
                ))
                .param("title", issue.title.as_str())
                .param("state", issue.state.trim().to_ascii_lowercase())
                .param("labels", issue.labels.clone())
                .param("updated_at", issue.updated_at),
            )
            .await?;
        let mut updated = false;
        while stream.next(txn.handle()).await?.is_some() {
            updated = true;
        }
        if updated {
            for statement in [
                "MATCH (i:Issue {repo: $repo, number: $number})-[old:REFERENCES]->(:File) DELETE old",
                "MATCH (i:Issue {repo: $repo, number: $number})<-[old:AUTHORED]-() DELETE old",
            ] {
                txn.run(key(query(statement))).await?;
            }
            txn.run(
                key(query(
                    "MATCH (i:Issue {repo: $repo, number: $number}) \
                 UNWIND $paths AS path \
                 MERGE (f:File {repo: $repo, path: path}) MERGE (i)-[:REFERENCES]->(f)",
                ))
                .param("paths", unique_paths(&issue.body_paths)),
            )
            .await?;
            if !issue.author.trim().is_empty() {
                txn.run(
                    key(query(
                        "MATCH (i:Issue {repo: $repo, number: $number}) \
                     MERGE (a:Author {login: $login}) MERGE (a)-[:AUTHORED]->(i)",
                    ))
                    .param("login", issue.author.trim()),
                )
                .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    async fn query_inner(&self, q: &GraphQuery<'_>) -> Result<GraphAnswers, neo4rs::Error> {
        let repo = repo_key(q.repo);
        let number = i64::try_from(q.pr_number).unwrap_or(i64::MAX);
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let paths = unique_paths(q.paths);
        let base = |text: &str| {
            query(text)
                .param("repo", repo.as_str())
                .param("number", number)
                .param("paths", paths.clone())
                .param("limit", limit)
        };
        let mut answers = GraphAnswers::default();

        for row in self
            .rows(base(
                "MATCH (p:PullRequest {repo: $repo})-[:TOUCHES]->(f:File) \
                 WHERE p.number <> $number AND f.path IN $paths \
                 WITH p, collect(DISTINCT f.path) AS files \
                 OPTIONAL MATCH (a:Author)-[:AUTHORED]->(p) \
                 WITH p, files, coalesce(a.login, '') AS author \
                 OPTIONAL MATCH (p)-[:HAS_FINDING]->(x:Finding) WHERE x.path IN files \
                 WITH p, files, author, collect(x {.path, .rule, .severity, .title}) AS findings \
                 RETURN p.number AS number, p.title AS title, author, p.state AS state, \
                        files, findings \
                 ORDER BY size(files) DESC, coalesce(p.merged_at, p.created_at) DESC, \
                          p.number DESC \
                 LIMIT $limit",
            ))
            .await?
        {
            let mut files: Vec<String> = row.get("files").unwrap_or_default();
            files.sort();
            files.dedup();
            let mut findings: Vec<FindingRecord> = row
                .get::<Vec<FindingRow>>("findings")
                .unwrap_or_default()
                .into_iter()
                .map(|f| FindingRecord {
                    path: f.path,
                    rule: f.rule,
                    severity: f.severity,
                    title: f.title,
                })
                .collect();
            findings.sort();
            answers.past_prs.push(PastPr {
                number: row.get::<i64>("number").unwrap_or_default() as u64,
                title: row.get("title").unwrap_or_default(),
                author: row.get("author").unwrap_or_default(),
                merged: row.get::<String>("state").unwrap_or_default() == "merged",
                files_in_common: files,
                findings,
            });
        }

        let rows = self
            .rows(base(
                "MATCH (q:File {repo: $repo}) WHERE q.path IN $paths \
                 MATCH (q)-[c:CO_CHANGED]-(o:File) WHERE NOT o.path IN $paths \
                 RETURN o.path AS path, q.path AS partner, c.times AS times, \
                        size([(p:PullRequest)-[:TOUCHES]->(q) WHERE p.co_counted = true | p]) \
                        AS total",
            ))
            .await?;
        answers.missing_co_changes = best_co_changes(
            rows.iter().map(|r| {
                (
                    r.get::<String>("path").unwrap_or_default(),
                    r.get::<String>("partner").unwrap_or_default(),
                    r.get::<i64>("times").unwrap_or_default() as u32,
                    r.get::<i64>("total").unwrap_or_default() as u32,
                )
            }),
            q.limit,
        );

        for row in self
            .rows(
                base(
                    "MATCH (a:Author)-[:AUTHORED]->(p:PullRequest {repo: $repo, state: 'merged'})\
                     -[:TOUCHES]->(f:File) \
                     WHERE p.number <> $number AND f.path IN $paths \
                       AND toLower(a.login) <> toLower($author) \
                       AND NOT a.login ENDS WITH '[bot]' \
                     RETURN a.login AS login, count(DISTINCT p) AS prs \
                     ORDER BY prs DESC, login ASC LIMIT $limit",
                )
                .param("author", q.author.unwrap_or("").trim()),
            )
            .await?
        {
            answers.experts.push(super::Expert {
                login: row.get("login").unwrap_or_default(),
                prs: row.get::<i64>("prs").unwrap_or_default() as u32,
            });
        }

        for row in self
            .rows(base(
                "MATCH (r:PullRequest {repo: $repo}) \
                 WHERE r.is_revert = true AND r.number <> $number AND r.state <> 'closed' \
                 OPTIONAL MATCH (r)-[:TOUCHES]->(f1:File) WHERE f1.path IN $paths \
                 OPTIONAL MATCH (o:PullRequest {repo: $repo, number: r.reverts_pr})\
                 -[:TOUCHES]->(f2:File) WHERE f2.path IN $paths \
                 WITH r, collect(DISTINCT f1.path) + collect(DISTINCT f2.path) AS files \
                 WHERE size(files) > 0 \
                 OPTIONAL MATCH (a:Author)-[:AUTHORED]->(r) \
                 RETURN r.number AS number, r.title AS title, coalesce(a.login, '') AS author, \
                        r.state AS state, files \
                 ORDER BY coalesce(r.merged_at, r.created_at) DESC, r.number DESC \
                 LIMIT $limit",
            ))
            .await?
        {
            let files: BTreeSet<String> = row
                .get::<Vec<String>>("files")
                .unwrap_or_default()
                .into_iter()
                .collect();
            answers.reverts.push(PastPr {
                number: row.get::<i64>("number").unwrap_or_default() as u64,
                title: row.get("title").unwrap_or_default(),
                author: row.get("author").unwrap_or_default(),
                merged: row.get::<String>("state").unwrap_or_default() == "merged",
                files_in_common: files.into_iter().collect(),
                findings: Vec::new(),
            });
        }

        let mut fixes: BTreeSet<i64> = q
            .fixes
            .iter()
            .filter_map(|n| i64::try_from(*n).ok())
            .collect();
        for row in self
            .rows(base(
                "MATCH (p:PullRequest {repo: $repo, number: $number})-[:REFERENCES]->(i:Issue) \
                 RETURN i.number AS number",
            ))
            .await?
        {
            if let Ok(n) = row.get::<i64>("number") {
                fixes.insert(n);
            }
        }
        let fixes: Vec<i64> = fixes.into_iter().collect();

        for row in self
            .rows(
                base(
                    "MATCH (i:Issue {repo: $repo, state: 'open'})-[:REFERENCES]->(f:File) \
                     WHERE f.path IN $paths AND NOT i.number IN $fixes \
                     WITH i, collect(DISTINCT f.path) AS files \
                     RETURN i.number AS number, i.title AS title, files \
                     ORDER BY size(files) DESC, i.updated_at DESC, i.number DESC LIMIT $limit",
                )
                .param("fixes", fixes.clone()),
            )
            .await?
        {
            answers.open_issues.push(issue_ref(&row));
        }

        for row in self
            .rows(
                base(
                    "MATCH (i:Issue {repo: $repo}) WHERE i.number IN $fixes AND i.title IS NOT NULL \
                     OPTIONAL MATCH (i)-[:REFERENCES]->(f:File) \
                     WITH i, collect(f.path) AS files \
                     RETURN i.number AS number, i.title AS title, files \
                     ORDER BY number LIMIT $limit",
                )
                .param("fixes", fixes),
            )
            .await?
        {
            answers.fixes.push(issue_ref(&row));
        }
        Ok(answers)
    }
}

fn issue_ref(row: &neo4rs::Row) -> IssueRef {
    let mut paths: Vec<String> = row.get("files").unwrap_or_default();
    paths.sort();
    paths.dedup();
    IssueRef {
        number: row.get::<i64>("number").unwrap_or_default() as u64,
        title: row.get("title").unwrap_or_default(),
        paths,
    }
}

impl KnowledgeGraph for Neo4jGraph {
    fn name(&self) -> &'static str {
        "neo4j"
    }

    fn index_pr<'a>(&'a self, pr: &'a PrRecord) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let what = format!("indexing {}#{}", pr.repo, pr.number);
            self.timed(&what, self.index_pr_inner(pr)).await
        })
    }

    fn index_issue<'a>(&'a self, issue: &'a IssueRecord) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let what = format!("indexing issue {}#{}", issue.repo, issue.number);
            self.timed(&what, self.index_issue_inner(issue)).await
        })
    }

    fn query<'a>(&'a self, q: &'a GraphQuery<'a>) -> BoxFuture<'a, anyhow::Result<GraphAnswers>> {
        Box::pin(async move {
            let what = format!("the query for {}", q.repo);
            self.timed(&what, self.query_inner(q)).await
        })
    }
}
