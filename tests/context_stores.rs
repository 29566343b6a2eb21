//! The knowledge graph and the memories, through their traits, against real backends: the
//! embedded SQLite store in a temporary file always; Neo4j when `NEO4J_URI` is set (see
//! docs/context.md); Mem0's REST API as served by a small mock Mem0 on loopback (below),
//! which checks the `Authorization: Token` header and stores and searches like Mem0 does.
//!
//! One behavioural test body per trait ([`graph_behaviour`], [`memory_behaviour`]) runs
//! against every implementation, so they cannot drift apart.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use nectr::context::graph::{
    CoChange, Expert, FindingRecord, GraphQuery, GraphSettings, IssueRecord, KnowledgeGraph,
    PrRecord, RevertOf, open_graph,
};
use nectr::context::memory::{
    Mem0Settings, MemoryKind, MemorySettings, MemoryStore, NewMemory, Outcome, open_memories,
};
use nectr::llm::ApiKey;

// ---------------------------------------------------------------------------------------
// The knowledge graph
// ---------------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn pr(
    repo: &str,
    number: u64,
    author: &str,
    state: &str,
    time: i64,
    files: &[&str],
    findings: Vec<FindingRecord>,
    fixes: &[u64],
    reverts: Option<RevertOf>,
) -> PrRecord {
    PrRecord {
        repo: repo.to_owned(),
        number,
        title: format!("PR {number}"),
        author: author.to_owned(),
        state: state.to_owned(),
        merged_at: (state == "merged").then_some(time),
        created_at: time - 10,
        base_sha: "0".repeat(40),
        head_sha: head_sha(number),
        files: files.iter().map(|f| f.to_string()).collect(),
        fixes_issues: fixes.to_vec(),
        reverts,
        findings: Some(findings),
    }
}

/// A distinct commit per PR: `7eeee…` for #7.
fn head_sha(number: u64) -> String {
    let hex = format!("{number:x}");
    format!("{hex}{}", "e".repeat(40 - hex.len()))
}

fn finding(path: &str, rule: &str, severity: &str) -> FindingRecord {
    FindingRecord {
        path: path.to_owned(),
        rule: rule.to_owned(),
        severity: severity.to_owned(),
        title: format!("{rule} on {path}"),
    }
}

fn issue(repo: &str, number: u64, state: &str, paths: &[&str], updated_at: i64) -> IssueRecord {
    IssueRecord {
        repo: repo.to_owned(),
        number,
        title: format!("Issue {number}"),
        state: state.to_owned(),
        labels: vec!["bug".into()],
        author: "reporter".into(),
        body_paths: paths.iter().map(|p| p.to_string()).collect(),
        updated_at,
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The shared behaviour. `repo` is unique per run (a Neo4j database may be shared); it is
/// indexed in mixed case and queried lower-cased.
async fn graph_behaviour(g: &dyn KnowledgeGraph, repo: &str) {
    let upper = repo.to_uppercase();
    let query = |number: u64, author: Option<&'static str>, paths: Vec<String>, fixes: Vec<u64>| {
        (number, author, paths, fixes)
    };
    let ask = |(number, author, paths, fixes): (
        u64,
        Option<&'static str>,
        Vec<String>,
        Vec<u64>,
    )| async move {
        g.query(&GraphQuery {
            repo,
            pr_number: number,
            author,
            paths: &paths,
            fixes: &fixes,
            limit: 10,
        })
        .await
        .unwrap()
    };

    // Nothing known yet.
    let empty = ask(query(20, None, strings(&["src/auth.rs"]), vec![])).await;
    assert!(empty.is_empty(), "{empty:?}");

    // First versions of #1 and #2 touched src/old.rs: a usual co-change for now.
    g.index_pr(&pr(
        &upper,
        1,
        "alice",
        "merged",
        100,
        &["src/auth.rs", "src/old.rs"],
        vec![],
        &[],
        None,
    ))
    .await
    .unwrap();
    g.index_pr(&pr(
        repo,
        2,
        "bob",
        "merged",
        200,
        &["src/auth.rs", "src/old.rs"],
        vec![],
        &[],
        None,
    ))
    .await
    .unwrap();
    let a = ask(query(20, None, strings(&["src/auth.rs"]), vec![])).await;
    assert_eq!(
        a.missing_co_changes,
        vec![CoChange {
            path: "src/old.rs".into(),
            with: "src/auth.rs".into(),
            times: 2
        }]
    );

    // The real history. Re-indexing #1 and #2 replaces their files and takes their old
    // CO_CHANGED pairs back out.
    let history = vec![
        pr(
            &upper,
            1,
            "alice",
            "merged",
            100,
            &["src/auth.rs", "src/auth_test.rs", "docs/auth.md"],
            vec![
                finding("src/auth.rs", "unwrap", "minor"),
                finding("docs/auth.md", "typo", "nit"),
            ],
            &[10, 99],
            None,
        ),
        pr(
            repo,
            2,
            "bob",
            "merged",
            200,
            &["src/auth.rs", "src/auth_test.rs"],
            vec![],
            &[],
            None,
        ),
        pr(
            repo,
            3,
            "bob",
            "merged",
            300,
            &["src/auth.rs", "src/auth_test.rs", "src/db.rs"],
            vec![
                finding("src/db.rs", "sql-injection", "major"),
                finding("src/auth.rs", "secret", "critical"),
            ],
            &[],
            None,
        ),
        pr(
            repo,
            4,
            "carol",
            "closed",
            350,
            &["src/auth.rs"],
            vec![],
            &[],
            None,
        ),
        // Reverts #3 (found by title) but only touches src/db.rs itself.
        PrRecord {
            title: "Revert \"PR 3\"".into(),
            ..pr(
                repo,
                5,
                "dave",
                "merged",
                400,
                &["src/db.rs"],
                vec![],
                &[],
                Some(RevertOf::Title("PR 3".into())),
            )
        },
        pr(
            repo,
            7,
            "erin",
            "merged",
            500,
            &["src/session.rs"],
            vec![],
            &[],
            None,
        ),
        // Reverts #7 by an abbreviated commit; its own files are unknown.
        pr(
            repo,
            8,
            "erin",
            "merged",
            550,
            &[],
            vec![],
            &[],
            Some(RevertOf::Commit(head_sha(7)[..12].to_owned())),
        ),
        pr(
            repo,
            9,
            "dependabot[bot]",
            "merged",
            600,
            &["src/auth.rs", "Cargo.lock"],
            vec![],
            &[],
            None,
        ),
    ];
    // #3 was reviewed while open (with findings), then its merge was indexed from the
    // `closed` event, which knows no findings: they stay, and the merge counts.
    g.index_pr(&PrRecord {
        state: "open".into(),
        merged_at: None,
        ..history[2].clone()
    })
    .await
    .unwrap();
    for p in &history {
        if p.number == 3 {
            g.index_pr(&PrRecord {
                findings: None,
                ..p.clone()
            })
            .await
            .unwrap();
        } else {
            g.index_pr(p).await.unwrap();
        }
    }
    // A giant merged PR: a past PR like any other, but no CO_CHANGED pairs.
    let mut giant: Vec<String> = (0..150).map(|i| format!("gen/file{i}.rs")).collect();
    giant.push("src/auth.rs".into());
    let giant_refs: Vec<&str> = giant.iter().map(String::as_str).collect();
    g.index_pr(&pr(
        repo,
        11,
        "frank",
        "merged",
        700,
        &giant_refs,
        vec![],
        &[],
        None,
    ))
    .await
    .unwrap();
    // Re-indexing is idempotent.
    g.index_pr(&history[1]).await.unwrap();
    g.index_pr(&history[2]).await.unwrap();
    // Another repository's history never leaks in.
    g.index_pr(&pr(
        &format!("{repo}-other"),
        30,
        "mallory",
        "merged",
        900,
        &["src/auth.rs", "src/evil.rs"],
        vec![],
        &[],
        None,
    ))
    .await
    .unwrap();
    g.index_pr(&pr(
        &format!("{repo}-other"),
        31,
        "mallory",
        "merged",
        901,
        &["src/auth.rs", "src/evil.rs"],
        vec![],
        &[],
        None,
    ))
    .await
    .unwrap();

    for i in [
        issue(&upper, 10, "open", &["src/auth.rs"], 50),
        issue(repo, 12, "open", &["src/db.rs", "src/pool.rs"], 60),
        issue(repo, 13, "closed", &["src/auth.rs"], 70),
        issue(repo, 14, "open", &["docs/auth.md"], 80),
        issue(repo, 15, "open", &["src/auth.rs", "src/db.rs"], 40),
    ] {
        g.index_issue(&i).await.unwrap();
    }
    // An older, out-of-order delivery does not reopen or close anything.
    g.index_issue(&issue(repo, 12, "closed", &[], 55))
        .await
        .unwrap();

    // A new PR #20 by Alice on auth and db, saying it fixes #12.
    let a = ask(query(
        20,
        None,
        strings(&["src/db.rs", "src/auth.rs"]),
        vec![12],
    ))
    .await;

    let numbers: Vec<u64> = a.past_prs.iter().map(|p| p.number).collect();
    assert_eq!(numbers, vec![3, 11, 9, 5, 4, 2, 1], "{:#?}", a.past_prs);
    let p3 = &a.past_prs[0];
    assert_eq!(p3.files_in_common, strings(&["src/auth.rs", "src/db.rs"]));
    assert_eq!(p3.author, "bob");
    assert!(p3.merged);
    assert_eq!(
        p3.findings,
        vec![
            finding("src/auth.rs", "secret", "critical"),
            finding("src/db.rs", "sql-injection", "major")
        ]
    );
    let p1 = a.past_prs.iter().find(|p| p.number == 1).unwrap();
    // Only findings on the queried files.
    assert_eq!(p1.findings, vec![finding("src/auth.rs", "unwrap", "minor")]);
    assert!(!a.past_prs.iter().find(|p| p.number == 4).unwrap().merged);

    // auth_test.rs changed with auth.rs in 3 of the 4 counted merged PRs (#1, #2, #3, #9;
    // the giant #11 is not counted). src/old.rs is gone; docs and Cargo.lock changed once.
    assert_eq!(
        a.missing_co_changes,
        vec![CoChange {
            path: "src/auth_test.rs".into(),
            with: "src/auth.rs".into(),
            times: 3
        }]
    );

    // Merged PRs only; bots left out.
    assert_eq!(
        a.experts,
        vec![
            Expert {
                login: "bob".into(),
                prs: 2
            },
            Expert {
                login: "alice".into(),
                prs: 1
            },
            Expert {
                login: "dave".into(),
                prs: 1
            },
            Expert {
                login: "frank".into(),
                prs: 1
            },
        ]
    );

    // #5 reverted #3: the files of both count.
    assert_eq!(a.reverts.len(), 1, "{:?}", a.reverts);
    assert_eq!(a.reverts[0].number, 5);
    assert_eq!(
        a.reverts[0].files_in_common,
        strings(&["src/auth.rs", "src/db.rs"])
    );

    // #12 is the one this PR fixes; #13 is closed; #14 is about other files. #15 mentions
    // both files, so it comes first.
    let open: Vec<(u64, Vec<String>)> = a
        .open_issues
        .iter()
        .map(|i| (i.number, i.paths.clone()))
        .collect();
    assert_eq!(
        open,
        vec![
            (15, strings(&["src/auth.rs", "src/db.rs"])),
            (10, strings(&["src/auth.rs"]))
        ]
    );
    assert_eq!(a.fixes.len(), 1);
    assert_eq!(a.fixes[0].number, 12);
    assert_eq!(a.fixes[0].title, "Issue 12");
    assert_eq!(a.fixes[0].paths, strings(&["src/db.rs", "src/pool.rs"]));

    let lines = a.summary_lines();
    assert!(!lines.is_empty() && lines.len() <= 4, "{lines:?}");
    assert!(lines[0].contains("`src/auth_test.rs`"), "{lines:?}");
    assert!(a.prompt_section().contains("#5 Revert \"PR 3\""));

    // The PR's own author is not an expert (case-insensitively).
    let a = ask(query(
        20,
        Some("ALICE"),
        strings(&["src/auth.rs", "src/db.rs"]),
        vec![],
    ))
    .await;
    let logins: Vec<&str> = a.experts.iter().map(|e| e.login.as_str()).collect();
    assert_eq!(logins, vec!["bob", "dave", "frank"]);

    // A revert found by commit, through the reverted PR's files.
    let a = ask(query(20, None, strings(&["src/session.rs"]), vec![])).await;
    assert_eq!(
        a.reverts.iter().map(|r| r.number).collect::<Vec<_>>(),
        vec![8]
    );
    assert_eq!(a.reverts[0].files_in_common, strings(&["src/session.rs"]));

    // Re-reviewing #1: it is left out of its own answers, and the graph remembers what it
    // fixes (#10; #99 was never seen, so it is not listed).
    let a = ask(query(1, None, strings(&["src/auth.rs"]), vec![])).await;
    assert!(a.past_prs.iter().all(|p| p.number != 1));
    assert_eq!(
        a.fixes.iter().map(|i| i.number).collect::<Vec<_>>(),
        vec![10]
    );
    assert_eq!(
        a.open_issues.iter().map(|i| i.number).collect::<Vec<_>>(),
        vec![15]
    );

    // The limit applies to every list.
    let a = g
        .query(&GraphQuery {
            repo,
            pr_number: 20,
            author: None,
            paths: &strings(&["src/auth.rs", "src/db.rs"]),
            fixes: &[],
            limit: 2,
        })
        .await
        .unwrap();
    assert_eq!(a.past_prs.len(), 2);
    assert_eq!(a.experts.len(), 2);
    assert_eq!(a.open_issues.len(), 2);
}

#[tokio::test]
async fn embedded_graph_answers_from_indexed_history() {
    let dir = tempfile::tempdir().unwrap();
    let settings = GraphSettings::Embedded {
        path: dir.path().join("nested").join("context.db"),
    };
    let g = open_graph(&settings).await.unwrap();
    assert_eq!(g.name(), "embedded");
    graph_behaviour(g.as_ref(), "Acme/App").await;

    // The file persists: a second open sees the same graph.
    drop(g);
    let g = open_graph(&settings).await.unwrap();
    let paths = strings(&["src/auth.rs"]);
    let a = g
        .query(&GraphQuery {
            repo: "acme/app",
            pr_number: 20,
            author: None,
            paths: &paths,
            fixes: &[],
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(a.past_prs.len(), 6);
}

#[tokio::test]
async fn neo4j_graph_answers_from_indexed_history() {
    let Ok(settings) = GraphSettings::from_env() else {
        eprintln!("note: neo4j graph test skipped: no settings");
        return;
    };
    let GraphSettings::Neo4j(_) = settings else {
        eprintln!(
            "note: neo4j graph test skipped: set NEO4J_URI (and NEO4J_PASSWORD) to run it, see docs/context.md"
        );
        return;
    };
    let g = open_graph(&settings).await.unwrap();
    assert_eq!(g.name(), "neo4j");
    // A fresh repository name per run: the database may hold earlier runs.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    graph_behaviour(g.as_ref(), &format!("nectr-test/Run-{nanos}")).await;
}

#[tokio::test]
async fn neo4j_that_is_not_there_fails_within_the_time_box() {
    // A port nothing listens on: connecting fails fast and the error names what to check.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let settings = GraphSettings::Neo4j(nectr::context::graph::Neo4jSettings {
        uri: format!("bolt://127.0.0.1:{port}"),
        user: "neo4j".into(),
        password: "s3cret-password".into(),
        timeout: Duration::from_secs(2),
    });
    let started = std::time::Instant::now();
    let err = match open_graph(&settings).await {
        Ok(_) => panic!("connected to nothing"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("NEO4J_URI"), "{err}");
    assert!(!err.contains("s3cret-password"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Memories
// ---------------------------------------------------------------------------------------

fn memory(repo: &str, path: Option<&str>, kind: MemoryKind, text: &str) -> NewMemory {
    NewMemory {
        repo: repo.to_owned(),
        path: path.map(str::to_owned),
        kind,
        text: text.to_owned(),
        rule: None,
        outcome: None,
    }
}

fn outcome(repo: &str, path: &str, rule: &str, outcome: Outcome, text: &str) -> NewMemory {
    NewMemory {
        repo: repo.to_owned(),
        path: Some(path.to_owned()),
        kind: MemoryKind::Outcome,
        text: text.to_owned(),
        rule: Some(rule.to_owned()),
        outcome: Some(outcome),
    }
}

/// The shared behaviour of every memory store.
async fn memory_behaviour(m: &dyn MemoryStore) {
    let repo = "Acme/App";
    let login = "src/auth/login.rs";
    let session = "src/auth/session.rs";
    let conventions = [
        memory(
            repo,
            None,
            MemoryKind::Convention,
            "Errors are wrapped with anyhow context",
        ),
        memory(
            repo,
            Some(login),
            MemoryKind::Convention,
            "Login handlers must rate-limit attempts",
        ),
        memory(
            repo,
            Some("src/db/pool.rs"),
            MemoryKind::Convention,
            "Pool size comes from config",
        ),
        NewMemory {
            rule: Some("unwrap".into()),
            ..memory(
                repo,
                Some(session),
                MemoryKind::RecurringFinding,
                "unwrap on session lookups keeps coming back",
            )
        },
        memory(
            "other/app",
            Some(login),
            MemoryKind::Convention,
            "Login in other app: errors and sessions",
        ),
        // A duplicate is kept once.
        memory(
            "acme/app",
            None,
            MemoryKind::Convention,
            "Errors are wrapped with anyhow context",
        ),
    ];
    for c in &conventions {
        m.add(c).await.unwrap();
    }

    let paths = strings(&[login]);
    let found = m
        .search(repo, &paths, "login session errors", 10)
        .await
        .unwrap();
    let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "Login handlers must rate-limit attempts",     // same file
            "unwrap on session lookups keeps coming back", // same directory
            "Errors are wrapped with anyhow context",      // repository-wide
        ],
        "{found:#?}"
    );
    assert_eq!(found[0].path.as_deref(), Some(login));
    assert_eq!(found[0].kind, MemoryKind::Convention);
    assert_eq!(found[1].rule.as_deref(), Some("unwrap"));
    assert_eq!(found[1].kind, MemoryKind::RecurringFinding);
    assert!(found[0].score > found[1].score && found[1].score > found[2].score);
    assert_eq!(found[2].count, 2, "the duplicate counts");
    assert!(found.iter().all(|f| f.repo == "acme/app"));

    // Scoped by repository: the other app only sees its own.
    let other = m
        .search("other/app", &paths, "login session errors", 10)
        .await
        .unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].text, "Login in other app: errors and sessions");

    // The limit holds.
    assert_eq!(
        m.search(repo, &paths, "login session errors", 2)
            .await
            .unwrap()
            .len(),
        2
    );

    // Hostile query text is searched as words.
    for hostile in [r#""foo" OR bar*"#, "NEAR(", "login)", "*", ""] {
        m.search(repo, &paths, hostile, 5)
            .await
            .unwrap_or_else(|e| panic!("{hostile}: {e:#}"));
    }

    // Outcomes: feedback per repository, rule and path.
    let fb = m.feedback(repo, "unwrap", session).await.unwrap();
    assert_eq!(fb, Default::default());
    m.add(&outcome(
        repo,
        session,
        "unwrap",
        Outcome::Dismissed,
        "comment 101 dismissed",
    ))
    .await
    .unwrap();
    // The same event again (a replayed webhook) counts once.
    m.add(&outcome(
        repo,
        session,
        "unwrap",
        Outcome::Dismissed,
        "comment 101 dismissed",
    ))
    .await
    .unwrap();
    let fb = m.feedback(repo, "unwrap", session).await.unwrap();
    assert_eq!((fb.dismissed, fb.negative()), (1, 1));
    assert!(!fb.should_suppress());

    m.add(&outcome(
        repo,
        session,
        "unwrap",
        Outcome::ThumbsDown,
        "comment 102 got a thumbs-down",
    ))
    .await
    .unwrap();
    // Not counted: another path, another rule, another repository.
    m.add(&outcome(
        repo,
        login,
        "unwrap",
        Outcome::ThumbsDown,
        "comment 103 got a thumbs-down",
    ))
    .await
    .unwrap();
    m.add(&outcome(
        repo,
        session,
        "todo",
        Outcome::ThumbsDown,
        "comment 104 got a thumbs-down",
    ))
    .await
    .unwrap();
    m.add(&outcome(
        "other/app",
        session,
        "unwrap",
        Outcome::Resolved,
        "comment 105 resolved",
    ))
    .await
    .unwrap();
    let fb = m.feedback("acme/app", "unwrap", session).await.unwrap();
    assert_eq!(
        (fb.dismissed, fb.thumbs_down, fb.resolved, fb.thumbs_up),
        (1, 1, 0, 0)
    );
    assert!(fb.should_suppress(), "{fb:?}");
    assert_eq!(fb.rank_penalty(), 2);

    m.add(&outcome(
        repo,
        session,
        "unwrap",
        Outcome::Resolved,
        "comment 106 resolved by a change",
    ))
    .await
    .unwrap();
    let fb = m.feedback(repo, "unwrap", session).await.unwrap();
    assert_eq!(fb.resolved, 1);
    assert!(
        !fb.should_suppress(),
        "one resolution outweighs two negatives: {fb:?}"
    );
    assert_eq!(fb.rank_penalty(), 1);

    // Bad input is refused with a clear error.
    let mut bad = outcome(repo, session, "unwrap", Outcome::Resolved, "x");
    bad.rule = None;
    let err = m.add(&bad).await.unwrap_err();
    assert!(format!("{err:#}").contains("rule and path"), "{err:#}");
}

#[tokio::test]
async fn embedded_memories_search_scope_and_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let settings = MemorySettings::Embedded {
        path: dir.path().join("context.db"),
    };
    let m = open_memories(&settings).await.unwrap();
    assert_eq!(m.name(), "embedded");
    memory_behaviour(m.as_ref()).await;
}

#[tokio::test]
async fn embedded_graph_and_memories_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("context.db");
    let graph_settings = GraphSettings::Embedded { path: path.clone() };
    let memory_settings = MemorySettings::Embedded { path: path.clone() };
    // Opened at once: their migrations must not race.
    let (g, m) = tokio::join!(open_graph(&graph_settings), open_memories(&memory_settings));
    let (g, m) = (g.unwrap(), m.unwrap());
    g.index_pr(&pr(
        "a/b",
        1,
        "x",
        "merged",
        1,
        &["f.rs"],
        vec![],
        &[],
        None,
    ))
    .await
    .unwrap();
    m.add(&memory("a/b", None, MemoryKind::Convention, "tabs"))
        .await
        .unwrap();
    assert_eq!(m.search("a/b", &[], "tabs", 5).await.unwrap().len(), 1);
    assert!(std::fs::metadata(&path).unwrap().len() > 0);
}

#[tokio::test]
async fn mem0_memories_search_scope_and_feedback() {
    let mock = MockMem0::start("m0-test-key-abcdef").await;
    let m = open_memories(&MemorySettings::Mem0(mock.settings("m0-test-key-abcdef")))
        .await
        .unwrap();
    assert_eq!(m.name(), "mem0");
    memory_behaviour(m.as_ref()).await;

    // What went over the wire: Mem0's shape, our fields in metadata, the text verbatim.
    let state = mock.state.lock().unwrap();
    let stored = &state.memories[0];
    assert_eq!(stored["user_id"], "nectr:acme/app");
    assert_eq!(stored["metadata"]["kind"], "convention");
    assert_eq!(stored["metadata"]["source"], "nectr");
    assert_eq!(state.unauthorized, 0);
    assert!(state.add_requests.iter().all(|b| b["infer"] == false));
}

#[tokio::test]
async fn mem0_errors_never_contain_the_key() {
    let mock = MockMem0::start("m0-right-key-123456").await;

    // A wrong key: the mock answers 401 and echoes the key it was given.
    let wrong = open_memories(&MemorySettings::Mem0(mock.settings("m0-wrong-key-987654")))
        .await
        .unwrap();
    let err = format!("{:#}", wrong.search("a/b", &[], "x", 5).await.unwrap_err());
    assert!(err.contains("MEM0_API_KEY"), "{err}");
    assert!(!err.contains("m0-wrong-key-987654"), "{err}");
    assert_eq!(mock.state.lock().unwrap().unauthorized, 1);

    // A server error whose body echoes the Authorization header.
    let right = open_memories(&MemorySettings::Mem0(mock.settings("m0-right-key-123456")))
        .await
        .unwrap();
    let err = format!(
        "{:#}",
        right.search("a/b", &[], "boom", 5).await.unwrap_err()
    );
    assert!(err.contains("500"), "{err}");
    assert!(err.contains("[redacted]"), "{err}");
    assert!(!err.contains("m0-right-key-123456"), "{err}");
}

#[tokio::test]
async fn mem0_calls_are_time_boxed() {
    let mock = MockMem0::start("m0-slow-key-123456").await;
    let mut settings = mock.settings("m0-slow-key-123456");
    settings.timeout = Duration::from_millis(300);
    let m = open_memories(&MemorySettings::Mem0(settings))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = format!("{:#}", m.search("a/b", &[], "slow", 5).await.unwrap_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("within"), "{err}");
}

// ---------------------------------------------------------------------------------------
// A mock Mem0: `POST /v1/memories/`, `POST /v2/memories/search/`, `POST /v2/memories/`.
// Word-overlap "semantic" search; filters on `user_id` and metadata equality, as Mem0's v2
// filters do. Query "boom" answers 500 echoing the Authorization header; "slow" sleeps 5 s.
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Mem0State {
    key: String,
    memories: Vec<Value>,
    add_requests: Vec<Value>,
    unauthorized: u32,
}

type Shared = Arc<Mutex<Mem0State>>;

struct MockMem0 {
    url: String,
    state: Shared,
}

impl MockMem0 {
    async fn start(key: &str) -> MockMem0 {
        let state: Shared = Arc::new(Mutex::new(Mem0State {
            key: key.to_owned(),
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v1/memories/", post(add))
            .route("/v2/memories/search/", post(search))
            .route("/v2/memories/", post(list))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockMem0 { url, state }
    }

    fn settings(&self, key: &str) -> Mem0Settings {
        Mem0Settings {
            base_url: self.url.clone(),
            api_key: ApiKey::new(key),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The `Authorization` header when it carries the key; otherwise the 401 to answer (which,
/// like a careless server, echoes what it was given).
fn check_auth(state: &Shared, headers: &HeaderMap) -> Result<String, Box<Response>> {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut s = state.lock().unwrap();
    if given != format!("Token {}", s.key) {
        s.unauthorized += 1;
        return Err(Box::new(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"detail": format!("Invalid API key: {given}")})),
            )
                .into_response(),
        ));
    }
    Ok(given)
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `m` passes a Mem0 v2 filter (`AND` of `{user_id}` / `{metadata: {…}}`).
fn passes(m: &Value, filters: &Value) -> bool {
    let Some(conditions) = filters.get("AND").and_then(Value::as_array) else {
        return false;
    };
    conditions.iter().all(|c| {
        if let Some(user) = c.get("user_id") {
            return m["user_id"] == *user;
        }
        if let Some(meta) = c.get("metadata").and_then(Value::as_object) {
            return meta.iter().all(|(k, v)| m["metadata"][k] == *v);
        }
        false
    })
}

fn has_user_filter(filters: &Value) -> bool {
    filters
        .get("AND")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c.get("user_id").is_some()))
}

async fn add(
    State(state): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = check_auth(&state, &headers) {
        return *r;
    }
    let (Some(content), Some(user)) = (
        body["messages"][0]["content"].as_str(),
        body["user_id"].as_str(),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "messages and an entity are required"})),
        )
            .into_response();
    };
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = format!("mem-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let mut s = state.lock().unwrap();
    s.add_requests.push(body.clone());
    // infer: false stores the message as given (no deduplication).
    s.memories.push(json!({
        "id": id, "memory": content, "user_id": user, "metadata": body["metadata"],
        "created_at": "2026-01-01T00:00:00Z",
    }));
    axum::Json(json!([{"id": id, "data": {"memory": content}, "event": "ADD"}])).into_response()
}

async fn search(
    State(state): State<Shared>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let auth = match check_auth(&state, &headers) {
        Ok(a) => a,
        Err(r) => return *r,
    };
    let query = body["query"].as_str().unwrap_or("");
    if query == "boom" {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error handling request with {auth}"),
        )
            .into_response();
    }
    if query == "slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    if !has_user_filter(&body["filters"]) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "filters must name an entity"})),
        )
            .into_response();
    }
    let q = words(query);
    let top_k = body["top_k"].as_u64().unwrap_or(10) as usize;
    let s = state.lock().unwrap();
    let mut hits: Vec<Value> = s
        .memories
        .iter()
        .filter(|m| passes(m, &body["filters"]))
        .filter_map(|m| {
            let text = words(m["memory"].as_str().unwrap_or(""));
            let overlap = q.iter().filter(|w| text.contains(w)).count();
            (overlap > 0).then(|| {
                let mut hit = m.clone();
                hit["score"] = json!(overlap as f64 / (q.len() as f64 + 1.0));
                hit
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        b["score"]
            .as_f64()
            .partial_cmp(&a["score"].as_f64())
            .unwrap()
    });
    hits.truncate(top_k);
    axum::Json(Value::Array(hits)).into_response()
}

async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(page): Query<std::collections::HashMap<String, String>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = check_auth(&state, &headers) {
        return *r;
    }
    if !has_user_filter(&body["filters"]) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "filters must name an entity"})),
        )
            .into_response();
    }
    let number: usize = page.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: usize = page
        .get("page_size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100);
    let s = state.lock().unwrap();
    let all: Vec<Value> = s
        .memories
        .iter()
        .filter(|m| passes(m, &body["filters"]))
        .cloned()
        .collect();
    let results: Vec<Value> = all
        .iter()
        .skip((number - 1) * size)
        .take(size)
        .cloned()
        .collect();
    let next = (number * size < all.len()).then(|| format!("/v2/memories/?page={}", number + 1));
    axum::Json(json!({"count": all.len(), "next": next, "previous": null, "results": results}))
        .into_response()
}
