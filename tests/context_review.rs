//! The context steps end to end: reviews of several pull requests of one repository in
//! sequence through the real binary against the fake GitHub, with the embedded knowledge
//! graph and memories in a temporary file — the second review sees the first; `nectr
//! context` prints what a review would send; `nectr backfill` indexes history; and outcomes
//! recorded in the memories hide a kind of finding the repository keeps rejecting.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::fake_github::{Access, FakeGitHub, IssueSpec, PullSpec};

const REPO: &str = "acme/widgets";
const TOKEN: &str = "ghp_nectrContextTestTokenQ7w8e9r0t1y2u3i4";
const BOT: &str = "nectr-bot";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One file's section of examples/pr.diff.
fn example_section(path: &str) -> String {
    let text = std::fs::read_to_string(root().join("examples/pr.diff")).unwrap();
    let header = format!("diff --git a/{path} b/{path}\n");
    let start = text.find(&header).expect("file in examples/pr.diff");
    let end = text[start + 1..]
        .find("\ndiff --git ")
        .map(|i| start + 1 + i + 1)
        .unwrap_or(text.len());
    text[start..end].to_owned()
}

fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start_blocking();
    fake.add_token(TOKEN, BOT, Access::Write, "repo");
    fake.add_repo(REPO);
    fake
}

fn pull(number: u64, title: &str, user: &str, diff: String) -> PullSpec {
    PullSpec {
        title: title.into(),
        user: user.into(),
        head_sha: format!("{number:040x}"),
        ..PullSpec::new(number, diff)
    }
}

fn nectr(fake: &FakeGitHub, db: &Path, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_nectr"))
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_TOKEN", TOKEN)
        .env("NECTR_CONTEXT_DB", db)
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .env("NECTR_GITHUB_RETRY_BASE_MS", "5")
        .output()
        .expect("run nectr")
}

fn ok(out: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    (stdout, stderr)
}

fn review(fake: &FakeGitHub, db: &Path, number: u64) -> Value {
    let n = number.to_string();
    let out = nectr(
        fake,
        db,
        &["review", "--repo", REPO, "--pr", &n, "--format", "json"],
    );
    let (stdout, _) = ok(&out);
    serde_json::from_str(&stdout).expect("JSON output")
}

/// The rule of each finding in a JSON review.
fn rules_of(review: &Value) -> Vec<&str> {
    review["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().expect("a rule"))
        .collect()
}

#[test]
fn the_second_review_sees_the_first_through_the_knowledge_graph() {
    let fake = fake();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("context.db");
    let db_py = example_section("app/db.py");
    fake.add_pull(
        REPO,
        pull(1, "Add the database layer", "alice", db_py.clone()),
    );
    fake.add_pull(REPO, pull(2, "Tune the database layer", "bob", db_py));

    let first = review(&fake, &db, 1);
    let summary = first["summary"].as_str().unwrap();
    assert!(!summary.contains("Earlier PRs on these files"), "{summary}");
    assert!(db.exists(), "the embedded context database was created");

    let second = review(&fake, &db, 2);
    let summary = second["summary"].as_str().unwrap();
    assert!(summary.contains("#### Context"), "{summary}");
    assert!(
        summary.contains("Earlier PRs on these files: #1 Add the database layer (1 with findings)"),
        "{summary}"
    );

    // `nectr context` shows what the model would be sent for #2: #1, its author, its findings.
    let out = nectr(&fake, &db, &["context", "--repo", REPO, "--pr", "2"]);
    let (text, _) = ok(&out);
    assert!(text.contains("Repository history"), "{text}");
    assert!(text.contains("#1"), "{text}");
    assert!(text.contains("security.eval"), "{text}");
    // Reading context posts nothing and indexes nothing new.
    let reviews_posted = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/reviews"))
        .count();
    assert_eq!(reviews_posted, 2);
}

#[test]
fn a_dry_run_records_nothing_in_the_context_stores() {
    let fake = fake();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("context.db");
    let db_py = example_section("app/db.py");
    fake.add_pull(
        REPO,
        pull(1, "Add the database layer", "alice", db_py.clone()),
    );
    fake.add_pull(REPO, pull(2, "Tune the database layer", "bob", db_py));
    let out = nectr(
        &fake,
        &db,
        &["review", "--repo", REPO, "--pr", "1", "--dry-run"],
    );
    ok(&out);
    let second = review(&fake, &db, 2);
    let summary = second["summary"].as_str().unwrap();
    assert!(!summary.contains("Earlier PRs on these files"), "{summary}");
}

#[test]
fn backfill_indexes_merged_pull_requests_and_open_issues() {
    let fake = fake();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("context.db");
    let db_py = example_section("app/db.py");
    let mut merged = pull(1, "Add the database layer", "alice", db_py.clone());
    merged.state = "closed".into();
    merged.merged = true;
    fake.add_pull(REPO, merged);
    let mut unmerged = pull(3, "Abandoned idea", "carol", db_py.clone());
    unmerged.state = "closed".into();
    fake.add_pull(REPO, unmerged);
    let mut issue = IssueSpec::new(7, "Queries in app/db.py are slow");
    issue.body = Some("Profiling shows `app/db.py` dominates.".into());
    fake.add_issue(REPO, issue);

    let out = nectr(&fake, &db, &["backfill", "--repo", REPO]);
    let (_, stderr) = ok(&out);
    assert!(
        stderr.contains("indexed 1 merged pull requests and 1 open issues"),
        "{stderr}"
    );

    fake.add_pull(REPO, pull(2, "Tune the database layer", "bob", db_py));
    let second = review(&fake, &db, 2);
    let summary = second["summary"].as_str().unwrap();
    assert!(
        summary.contains("Earlier PRs on these files: #1"),
        "{summary}"
    );
    assert!(
        !summary.contains("#3"),
        "an unmerged closed PR is not history: {summary}"
    );
    assert!(
        summary.contains("Open issues mentioning these files: #7"),
        "{summary}"
    );
    assert!(summary.contains("`alice` (1)"), "{summary}");
}

#[test]
fn findings_the_repository_keeps_thumbing_down_are_hidden() {
    use nectr::context::memory::{MemoryKind, MemoryStore, NewMemory, Outcome};
    let fake = fake();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("context.db");
    fake.add_pull(
        REPO,
        pull(
            1,
            "Add the database layer",
            "alice",
            example_section("app/db.py"),
        ),
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let memories = nectr::context::memory::embedded::EmbeddedMemories::open(&db)
            .await
            .unwrap();
        for comment in [11, 12] {
            memories
                .add(&NewMemory {
                    repo: REPO.into(),
                    path: Some("app/db.py".into()),
                    kind: MemoryKind::Outcome,
                    text: format!("Nectr's `security.eval` comment {comment} got a thumbs-down"),
                    rule: Some("security.eval".into()),
                    outcome: Some(Outcome::ThumbsDown),
                })
                .await
                .unwrap();
        }
    });

    let reviewed = review(&fake, &db, 1);
    let rules = rules_of(&reviewed);
    assert!(!rules.contains(&"security.eval"), "{rules:?}");
    assert!(rules.contains(&"security.sql-concat"), "{rules:?}");
    let summary = reviewed["summary"].as_str().unwrap();
    assert!(
        summary.contains("1 finding hidden") && summary.contains("security.eval"),
        "{summary}"
    );
}

/// Outcomes come from GitHub itself: a 👎 on one of Nectr's comments and a thread resolved
/// without changing the code (dismissed, seen through GraphQL's `reviewThreads`) are recorded
/// when the PR is reviewed again; once the repository rejected a kind of finding on a file
/// twice, the next PR's review hides it — and keeps the kinds rejected only once.
#[test]
fn reactions_and_resolved_threads_are_learned_and_hide_that_kind_next_time() {
    use nectr::context::memory::MemoryStore;
    let fake = fake();
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("context.db");
    let db_py = example_section("app/db.py");
    for (n, user) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        fake.add_pull(
            REPO,
            pull(n, &format!("Database change {n}"), user, db_py.clone()),
        );
    }
    let comment_with = |number: u64, rule: &str| {
        fake.review_comments(REPO, number)
            .into_iter()
            .find(|c| c.body.contains(&format!("`{rule}`")))
            .unwrap_or_else(|| panic!("no `{rule}` comment on #{number}"))
            .id
    };

    review(&fake, &db, 1);
    fake.react(REPO, comment_with(1, "security.eval"), "-1");
    fake.resolve_thread(REPO, comment_with(1, "security.sql-concat"));
    // Reviewed again (the same head): the outcomes are read and recorded.
    review(&fake, &db, 1);
    let graphql_asked = fake
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.path.ends_with("/graphql"));
    assert!(graphql_asked, "resolved threads come from GraphQL");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let feedback = |rule: &'static str| {
        rt.block_on(async {
            let memories = nectr::context::memory::embedded::EmbeddedMemories::open(&db)
                .await
                .unwrap();
            memories.feedback(REPO, rule, "app/db.py").await.unwrap()
        })
    };
    let eval = feedback("security.eval");
    assert_eq!((eval.thumbs_down, eval.dismissed), (1, 0), "{eval:?}");
    let concat = feedback("security.sql-concat");
    assert_eq!((concat.thumbs_down, concat.dismissed), (0, 1), "{concat:?}");
    // A third look at #1 records nothing twice.
    review(&fake, &db, 1);
    assert_eq!(feedback("security.eval").thumbs_down, 1);

    // #2: the same kind of comment thumbed down again.
    review(&fake, &db, 2);
    fake.react(REPO, comment_with(2, "security.eval"), "-1");
    review(&fake, &db, 2);
    assert_eq!(feedback("security.eval").thumbs_down, 2);

    let third = review(&fake, &db, 3);
    let rules = rules_of(&third);
    assert!(!rules.contains(&"security.eval"), "{rules:?}");
    assert!(
        rules.contains(&"security.sql-concat"),
        "dismissed once is not enough to hide: {rules:?}"
    );
    let summary = third["summary"].as_str().unwrap();
    assert!(summary.contains("1 finding hidden"), "{summary}");
}
