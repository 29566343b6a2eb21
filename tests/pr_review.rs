//! `nectr review --repo/--pr | --event | --replay`, `--dry-run` and `nectr record`, run as
//! the real binary against the fake GitHub in tests/support/: what is posted, how many
//! requests it takes, re-runs, markers, errors and exit codes, and offline replay.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::fake_github::{Access, FakeGitHub, Fault, FaultKind, PullSpec, RecordedRequest};
use support::raw_http::Client;

const REPO: &str = "acme/widgets";
/// The token Nectr runs with; it must never appear in output or bundles.
const TOKEN: &str = "ghp_nectrTestTokenQ7w8e9r0t1y2u3i4o5p6a7";
const BOT: &str = "nectr-bot";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One file's section of examples/pr.diff (from its `diff --git` line to the next).
fn example_section(path: &str) -> String {
    let text = std::fs::read_to_string(root().join("examples/pr.diff")).unwrap();
    let header = format!("diff --git a/{path} b/{path}\n");
    let start = text
        .find(&header)
        .unwrap_or_else(|| panic!("{path} in examples/pr.diff"));
    let end = text[start + 1..]
        .find("\ndiff --git ")
        .map(|i| start + 1 + i + 1)
        .unwrap_or(text.len());
    text[start..end].to_owned()
}

/// app/db.py of the example: four anchored findings (todo 10, sql 11, breakpoint 16,
/// eval 17).
fn db_diff() -> String {
    example_section("app/db.py")
}

fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start_blocking();
    fake.add_token(TOKEN, BOT, Access::Write, "repo");
    fake.add_repo(REPO);
    fake
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    fn ok(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// A user or remote error: exit `code`, a single `error:` line, no panic, no token.
    fn assert_error(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "stderr:\n{}", self.stderr);
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "one error line:\n{}", self.stderr);
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("internal error"));
        assert!(!self.stderr.contains(TOKEN) && !self.stdout.contains(TOKEN));
        eprintln!("exit {code}: {}", errors[0]);
        errors[0]
    }
}

/// Run `nectr` with an empty environment plus the fake's URL, `token` and `env`.
fn nectr_with(
    fake: Option<&FakeGitHub>,
    token: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nectr"));
    cmd.args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .env("NECTR_GITHUB_RETRY_BASE_MS", "5");
    if let Some(fake) = fake {
        cmd.env("GITHUB_API_URL", &fake.url);
    }
    if let Some(token) = token {
        cmd.env("GITHUB_TOKEN", token);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run nectr");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn nectr(fake: &FakeGitHub, args: &[&str]) -> Run {
    nectr_with(Some(fake), Some(TOKEN), args, &[])
}

fn review_pr(fake: &FakeGitHub, number: u64, extra: &[&str]) -> Run {
    let n = number.to_string();
    let mut args = vec!["review", "--repo", REPO, "--pr", &n, "--format", "json"];
    args.extend_from_slice(extra);
    nectr(fake, &args)
}

fn writes(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.is_write())
        .map(RecordedRequest::line)
        .collect()
}

fn lines(requests: &[RecordedRequest]) -> String {
    requests
        .iter()
        .map(|r| format!("{} -> {}", r.line(), r.status))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(path, line)` of the anchored findings of a JSON review.
fn anchored(doc: &Value) -> BTreeSet<(String, u64)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["anchored"] == json!(true))
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn rules(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[(&str, u64)]) -> BTreeSet<(String, u64)> {
    items.iter().map(|(p, l)| (p.to_string(), *l)).collect()
}

/// The hidden review marker's JSON in a summary.
fn marker(body: &str) -> Value {
    let start = body
        .find("<!-- nectr:review ")
        .expect("summary has the marker")
        + "<!-- nectr:review ".len();
    let end = start + body[start..].find(" -->").unwrap();
    serde_json::from_str(&body[start..end]).unwrap()
}

#[test]
fn one_file_pr_is_posted_as_one_review_with_inline_comments_in_six_requests() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(1, db_diff()));
    let run = review_pr(&fake, 1, &[]).ok();
    let doc = run.json();
    let requests = fake.requests();

    let reviews = fake.reviews(REPO, 1);
    assert_eq!(reviews.len(), 1, "exactly one review");
    let review = &reviews[0];
    assert_eq!(review.event, "COMMENT");
    assert_eq!(review.user, BOT);
    assert_eq!(review.commit_id, PullSpec::default().head_sha);
    let expected = set(&[
        ("app/db.py", 10),
        ("app/db.py", 11),
        ("app/db.py", 16),
        ("app/db.py", 17),
    ]);
    assert_eq!(anchored(&doc), expected, "the example's db.py findings");
    let commented: BTreeSet<(String, u64)> = review
        .comments
        .iter()
        .map(|c| (c.path.clone().unwrap(), c.line.unwrap()))
        .collect();
    assert_eq!(
        commented, expected,
        "inline comments exactly on the anchored findings"
    );
    assert_eq!(review.comments.len(), 4, "one comment per finding");
    assert!(
        review
            .comments
            .iter()
            .all(|c| c.side.as_deref() == Some("RIGHT"))
    );
    assert!(
        review
            .comments
            .iter()
            .all(|c| c.body.contains("<!-- nectr:finding "))
    );
    let m = marker(&review.body);
    assert_eq!(m["head"], json!(review.commit_id));
    assert_eq!(m["inline"].as_array().unwrap().len(), 4);
    assert!(
        review.body.starts_with("### Nectr review"),
        "{}",
        review.body
    );

    assert_eq!(doc["posted"]["review_id"], json!(review.id));
    assert_eq!(doc["posted"]["inline_comments"], json!(4));
    assert_eq!(doc["pr"]["repo"], json!(REPO));
    assert_eq!(doc["pr"]["number"], json!(1));
    assert_eq!(doc["pr"]["head_sha"], json!(review.commit_id));
    assert_eq!(
        doc["summary"],
        json!(review.body),
        "the JSON summary is the one posted"
    );
    assert!(
        requests.len() <= 6,
        "{} requests:\n{}",
        requests.len(),
        lines(&requests)
    );
    assert_eq!(
        doc["stats"]["github_calls"],
        json!(requests.len()),
        "{}",
        lines(&requests)
    );
    assert_eq!(
        writes(&requests),
        vec!["POST /repos/acme/widgets/pulls/1/reviews"]
    );
    eprintln!(
        "1-file PR: {} requests:\n{}",
        requests.len(),
        lines(&requests)
    );
    assert!(
        run.stderr
            .contains(&format!("pullrequestreview-{}", review.id)),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN));
}

#[test]
fn sixty_file_pr_takes_at_most_ten_requests() {
    let fake = fake();
    let mut diff = String::new();
    for i in 0..60 {
        diff.push_str(&format!(
            "diff --git a/web/m{i:02}.js b/web/m{i:02}.js\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/web/m{i:02}.js\n@@ -0,0 +1,3 @@\n+export function f{i}(x) {{\n+  console.log(\"x\", x);\n+}}\n"
        ));
    }
    fake.add_pull(REPO, PullSpec::new(2, diff));
    let doc = review_pr(&fake, 2, &[]).ok().json();
    let requests = fake.requests();
    assert!(
        requests.len() <= 10,
        "{} requests:\n{}",
        requests.len(),
        lines(&requests)
    );
    assert_eq!(doc["stats"]["github_calls"], json!(requests.len()));
    assert_eq!(doc["stats"]["files"], json!(60));
    assert_eq!(doc["findings"].as_array().unwrap().len(), 60);
    let reviews = fake.reviews(REPO, 2);
    assert_eq!(reviews.len(), 1);
    // The default cap: 30 inline, the other 30 in the summary.
    assert_eq!(reviews[0].comments.len(), 30);
    assert_eq!(anchored(&doc).len(), 30);
    assert!(
        reviews[0].body.contains("30 more findings"),
        "{}",
        reviews[0].body
    );
    assert_eq!(doc["posted"]["inline_comments"], json!(30));
    eprintln!("60-file PR: {} requests", requests.len());
}

#[test]
fn diff_over_twenty_thousand_lines_is_rebuilt_from_the_files_endpoint() {
    let fake = fake();
    let mut diff = example_section("app/settings.py");
    for f in 0..23 {
        diff.push_str(&format!(
            "diff --git a/data/t{f:02}.py b/data/t{f:02}.py\nnew file mode 100644\nindex 0000000..2222222\n--- /dev/null\n+++ b/data/t{f:02}.py\n@@ -0,0 +1,900 @@\n"
        ));
        for i in 0..900 {
            diff.push_str(&format!("+value_{i} = {i}\n"));
        }
    }
    assert!(diff.lines().count() > 20_000);
    fake.add_pull(REPO, PullSpec::new(3, diff));
    let run = review_pr(&fake, 3, &[]).ok();
    let doc = run.json();
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.status == 406 && r.path == "/repos/acme/widgets/pulls/3"),
        "{}",
        lines(&requests)
    );
    assert!(
        requests
            .iter()
            .any(|r| r.path.ends_with("/pulls/3/files") && r.status == 200),
        "{}",
        lines(&requests)
    );
    assert!(run.stderr.contains("too large"), "{}", run.stderr);
    assert_eq!(doc["stats"]["files"], json!(24));
    let reviews = fake.reviews(REPO, 3);
    assert_eq!(reviews.len(), 1, "the review is still posted");
    let comments: Vec<_> = reviews[0]
        .comments
        .iter()
        .map(|c| (c.path.clone().unwrap(), c.line.unwrap()))
        .collect();
    assert_eq!(comments, vec![("app/settings.py".to_owned(), 4)]);
    assert_eq!(doc["stats"]["github_calls"], json!(requests.len()));
}

#[test]
fn reruns_update_instead_of_duplicating_and_a_new_head_supersedes() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(4, db_diff()));
    let first = review_pr(&fake, 4, &[]).ok().json();
    let reviews = fake.reviews(REPO, 4);
    assert_eq!(reviews.len(), 1);
    let first_id = reviews[0].id;
    assert_eq!(first["posted"]["review_id"], json!(first_id));

    // Same head again: nothing new is posted; the summary is edited in place.
    fake.clear_requests();
    let second = review_pr(&fake, 4, &[]).ok().json();
    let requests = fake.requests();
    assert_eq!(fake.reviews(REPO, 4).len(), 1, "no second review");
    assert_eq!(
        fake.review_comments(REPO, 4).len(),
        4,
        "no duplicate inline comments"
    );
    assert_eq!(
        writes(&requests),
        vec![format!(
            "PUT /repos/acme/widgets/pulls/4/reviews/{first_id}"
        )],
        "{}",
        lines(&requests)
    );
    assert_eq!(second["posted"]["review_id"], json!(first_id));
    assert_eq!(second["posted"]["inline_comments"], json!(0));
    let edited = &fake.reviews(REPO, 4)[0];
    assert_eq!(marker(&edited.body)["inline"].as_array().unwrap().len(), 4);
    assert!(
        edited.body.contains("already commented on"),
        "{}",
        edited.body
    );

    // A new head: the breakpoint is gone, a pickle load appears on line 16 (a rule not
    // firing elsewhere in the file, so no per-file aggregation changes the others).
    let new_head = "7d1e0f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0";
    let diff = db_diff().replace("+    breakpoint()\n", "+    rows = pickle.loads(blob)\n");
    assert_ne!(diff, db_diff());
    fake.add_pull(
        REPO,
        PullSpec {
            head_sha: new_head.into(),
            ..PullSpec::new(4, diff)
        },
    );
    fake.clear_requests();
    let third = review_pr(&fake, 4, &[]).ok().json();
    let reviews = fake.reviews(REPO, 4);
    assert_eq!(reviews.len(), 2, "a new review for the new head");
    let (old, new) = (&reviews[0], &reviews[1]);
    assert_eq!(new.commit_id, new_head);
    let new_comments: Vec<_> = new
        .comments
        .iter()
        .map(|c| (c.path.clone().unwrap(), c.line.unwrap()))
        .collect();
    assert_eq!(
        new_comments,
        vec![("app/db.py".to_owned(), 16)],
        "only the new finding inline"
    );
    assert!(
        new.comments[0].body.contains("pickle"),
        "{}",
        new.comments[0].body
    );
    assert!(new.body.contains("1 fixed"), "{}", new.body);
    assert!(
        new.body.contains("3 findings were already commented on"),
        "{}",
        new.body
    );
    assert_eq!(marker(&new.body)["head"], json!(new_head));
    assert!(old.body.contains("superseded"), "{}", old.body);
    assert!(
        old.body.contains(&format!("pullrequestreview-{}", new.id)),
        "{}",
        old.body
    );
    assert!(
        !old.body.contains("<!-- nectr:review"),
        "the old marker is gone: {}",
        old.body
    );
    assert_eq!(third["posted"]["review_id"], json!(new.id));
    assert_eq!(third["posted"]["inline_comments"], json!(1));
    assert_eq!(fake.review_comments(REPO, 4).len(), 5);
    assert!(!rules(&third).contains(&"debug.python-breakpoint".to_owned()));

    // And once more on the new head: the new review is edited, nothing is added.
    let fourth = review_pr(&fake, 4, &[]).ok().json();
    assert_eq!(fake.reviews(REPO, 4).len(), 2);
    assert_eq!(fake.review_comments(REPO, 4).len(), 5);
    assert_eq!(fourth["posted"]["review_id"], json!(new.id));
}

#[test]
fn forged_markers_in_someone_elses_review_are_ignored() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(5, db_diff()));
    // What Nectr would post: its marker lists every fingerprint.
    let dry = review_pr(&fake, 5, &["--dry-run"]).ok().json();
    let summary = dry["summary"].as_str().unwrap();
    let forged = marker(summary);
    let fingerprints: Vec<String> = forged["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fingerprints.len(), 4);

    // Mallory posts a review carrying that marker, and one inline comment per fingerprint.
    let mallory = "ghp_mallory0000000000000000000000000000";
    fake.add_token(mallory, "mallory", Access::Write, "repo");
    let comments: Vec<Value> = fingerprints
        .iter()
        .map(|fp| json!({"path": "app/db.py", "line": 11, "side": "RIGHT", "body": format!("lgtm\n<!-- nectr:finding {fp} -->")}))
        .collect();
    let body = json!({
        "commit_id": PullSpec::default().head_sha,
        "event": "COMMENT",
        "body": format!("### Nectr review\n\nAll good.\n{}", &summary[summary.find("<!-- nectr:review").unwrap()..]),
        "comments": comments,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let response = rt.block_on(
        Client::new(&fake.url, Some(mallory))
            .post(&format!("/repos/{REPO}/pulls/5/reviews"), &body),
    );
    assert_eq!(response.status, 200, "{}", response.text());

    fake.clear_requests();
    let doc = review_pr(&fake, 5, &[]).ok().json();
    let reviews = fake.reviews(REPO, 5);
    assert_eq!(reviews.len(), 2);
    let mine = &reviews[1];
    assert_eq!(mine.user, BOT);
    assert_eq!(
        mine.comments.len(),
        4,
        "every finding is posted inline despite the forged marker"
    );
    assert_eq!(doc["posted"]["inline_comments"], json!(4));
    assert!(!mine.body.contains("already commented on"), "{}", mine.body);
    assert!(!mine.body.contains("Compared with"), "{}", mine.body);
    assert_eq!(
        reviews[0].body,
        body["body"].as_str().unwrap(),
        "someone else's review is left alone"
    );
    assert!(
        !writes(&fake.requests())
            .iter()
            .any(|w| w.starts_with("PUT")),
        "{}",
        lines(&fake.requests())
    );

    // Now Nectr has a review of its own. A new head brings a new finding; Mallory
    // pre-empts it with an inline comment carrying its fingerprint and a review whose
    // marker claims the new head. Neither counts.
    let new_head = "7d1e0f2a3b4c5d6e7f8091a2b3c4d5e6f7a8b9c0";
    let diff = db_diff().replace("+    breakpoint()\n", "+    rows = pickle.loads(blob)\n");
    fake.add_pull(
        REPO,
        PullSpec {
            head_sha: new_head.into(),
            ..PullSpec::new(5, diff)
        },
    );
    let dry = review_pr(&fake, 5, &["--dry-run"]).ok().json();
    let next = marker(dry["summary"].as_str().unwrap());
    let new_fp: Vec<&Value> = next["inline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|fp| !forged["inline"].as_array().unwrap().contains(fp))
        .collect();
    assert_eq!(new_fp.len(), 1, "{next}");
    let forged_next = json!({
        "commit_id": new_head,
        "event": "COMMENT",
        "body": format!("### Nectr review\n\n{}", &dry["summary"].as_str().unwrap()[dry["summary"].as_str().unwrap().find("<!-- nectr:review").unwrap()..]),
        "comments": [{"path": "app/db.py", "line": 16, "side": "RIGHT",
                      "body": format!("nice\n<!-- nectr:finding {} -->", new_fp[0].as_str().unwrap())}],
    });
    let response = rt.block_on(
        Client::new(&fake.url, Some(mallory))
            .post(&format!("/repos/{REPO}/pulls/5/reviews"), &forged_next),
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let doc = review_pr(&fake, 5, &[]).ok().json();
    let reviews = fake.reviews(REPO, 5);
    assert_eq!(reviews.len(), 4, "Nectr posts a review for the new head");
    let latest = &reviews[3];
    assert_eq!(latest.user, BOT);
    let lines_posted: Vec<u64> = latest.comments.iter().map(|c| c.line.unwrap()).collect();
    assert_eq!(
        lines_posted,
        vec![16],
        "the new finding is posted despite Mallory's comment"
    );
    assert_eq!(doc["posted"]["inline_comments"], json!(1));
    assert!(latest.body.contains("1 fixed"), "{}", latest.body);
    assert!(
        reviews[1].body.contains("superseded"),
        "Nectr's own review is superseded"
    );
    assert_eq!(
        reviews[2].body,
        forged_next["body"].as_str().unwrap(),
        "Mallory's is untouched"
    );
}

#[test]
fn dry_run_writes_nothing_and_shows_what_would_be_posted() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(6, db_diff()));
    let run = review_pr(&fake, 6, &["--dry-run"]).ok();
    let doc = run.json();
    assert_eq!(doc["posted"], Value::Null);
    assert_eq!(anchored(&doc).len(), 4);
    assert!(
        doc["summary"]
            .as_str()
            .unwrap()
            .contains("<!-- nectr:review ")
    );
    assert!(run.stderr.contains("dry run"), "{}", run.stderr);
    assert!(run.stderr.contains("4 inline comments"), "{}", run.stderr);

    let md = nectr(
        &fake,
        &[
            "review",
            "--repo",
            REPO,
            "--pr",
            "6",
            "--dry-run",
            "--format",
            "markdown",
        ],
    )
    .ok();
    assert!(md.stdout.contains("### Nectr review"), "{}", md.stdout);
    assert!(md.stdout.contains("security.eval"), "{}", md.stdout);
    let text = nectr(&fake, &["review", "--repo", REPO, "--pr", "6", "--dry-run"]).ok();
    assert!(text.stdout.contains("app/db.py"), "{}", text.stdout);

    let requests = fake.requests();
    assert!(writes(&requests).is_empty(), "{}", lines(&requests));
    assert!(fake.reviews(REPO, 6).is_empty());
    assert!(fake.review_comments(REPO, 6).is_empty());
    assert!(fake.issue_comments(REPO, 6).is_empty());
}

#[test]
fn event_payload_names_the_pull_request() {
    let fake = fake();
    let event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/events/pull_request.opened.json"))
            .unwrap(),
    )
    .unwrap();
    let head = event["pull_request"]["head"]["sha"].as_str().unwrap();
    fake.add_pull(
        REPO,
        PullSpec {
            head_sha: head.into(),
            ..PullSpec::new(7, db_diff())
        },
    );
    let path = root().join("tests/fixtures/events/pull_request.opened.json");
    let doc = nectr(
        &fake,
        &[
            "review",
            "--event",
            path.to_str().unwrap(),
            "--format",
            "json",
        ],
    )
    .ok()
    .json();
    assert_eq!(doc["pr"]["number"], json!(7));
    assert_eq!(doc["pr"]["head_sha"], json!(head));
    let reviews = fake.reviews(REPO, 7);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].commit_id, head);
    // The payload already holds the pull request: it is not fetched again.
    let requests = fake.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.path == "/repos/acme/widgets/pulls/7"
                && r.header("accept").is_some_and(|a| a.contains("json"))),
        "{}",
        lines(&requests)
    );
    assert!(requests.len() <= 5, "{}", lines(&requests));
}

#[test]
fn missing_and_bad_tokens_are_one_clear_line() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(1, db_diff()));

    let run = nectr_with(
        Some(&fake),
        None,
        &["review", "--repo", REPO, "--pr", "1"],
        &[],
    );
    let line = run.assert_error(2).to_owned();
    assert!(line.contains("GITHUB_TOKEN"), "{line}");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(fake.requests().is_empty(), "no request without a token");

    let bad = "ghp_thisTokenIsNotKnown1234567890abcdefgh";
    let run = nectr_with(
        Some(&fake),
        Some(bad),
        &["review", "--repo", REPO, "--pr", "1"],
        &[],
    );
    let line = run.assert_error(2).to_owned();
    assert!(line.contains("invalid or expired"), "{line}");
    assert!(
        !run.stderr.contains(bad) && !run.stdout.contains(bad),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(fake.reviews(REPO, 1).is_empty());

    // A number that does not exist is the user's to fix, too.
    let run = review_pr(&fake, 99, &[]);
    let line = run.assert_error(2);
    assert!(line.contains("404"), "{line}");
}

#[test]
fn github_failing_on_every_attempt_is_exit_3() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(1, db_diff()));
    fake.inject(Fault {
        method: "GET",
        path_contains: "/pulls/1",
        kind: FaultKind::Status(502),
        times: 1000,
    });
    let run = review_pr(&fake, 1, &[]);
    let line = run.assert_error(3).to_owned();
    assert!(line.contains("GitHub"), "{line}");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Everything else on stderr is the retry notes.
    for l in run.stderr.lines().filter(|l| !l.starts_with("error:")) {
        assert!(l.contains("retrying"), "unexpected stderr line: {l}");
    }
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        4,
        "one attempt and three retries:\n{}",
        lines(&requests)
    );
    assert!(fake.reviews(REPO, 1).is_empty());
}

#[test]
fn repo_config_is_read_at_the_head_and_applied() {
    let fake = fake();
    let head = PullSpec::default().head_sha;
    fake.add_pull(REPO, PullSpec::new(1, db_diff()));
    let before = review_pr(&fake, 1, &["--dry-run"]).ok().json();
    assert!(rules(&before).contains(&"security.eval".to_owned()));

    fake.set_file(
        REPO,
        &head,
        ".nectr.yml",
        b"rules:\n  disable: [security.eval]\n",
    );
    // The base branch's file must not be the one used.
    fake.set_file(
        REPO,
        "main",
        ".nectr.yml",
        b"rules:\n  disable: [security.sql-concat]\n",
    );
    fake.clear_requests();
    let after = review_pr(&fake, 1, &["--dry-run"]).ok().json();
    let r = rules(&after);
    assert!(!r.contains(&"security.eval".to_owned()), "{r:?}");
    assert!(r.contains(&"security.sql-concat".to_owned()), "{r:?}");
    assert_eq!(r.len(), 3);
    let contents: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/contents/"))
        .collect();
    assert_eq!(contents.len(), 1, "{}", lines(&contents));
    assert_eq!(
        contents[0].query_param("ref").as_deref(),
        Some(head.as_str())
    );

    // An invalid file: exit 2 naming the file and the line.
    fake.set_file(
        REPO,
        &head,
        ".nectr.yml",
        b"rules:\n  disable: [todo.added]\nmax_inline_comments: lots\n",
    );
    let run = review_pr(&fake, 1, &["--dry-run"]);
    let line = run.assert_error(2);
    assert!(line.contains(".nectr.yml"), "{line}");
    assert!(line.contains("line 3"), "{line}");
    assert!(run.stdout.is_empty());
}

fn strip_elapsed(mut doc: Value) -> Value {
    doc["stats"].as_object_mut().unwrap().remove("elapsed_ms");
    doc
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn record_then_replay_offline_matches_the_live_dry_run() {
    let fake = fake();
    let mut diff = db_diff();
    diff.push_str(&example_section("app/settings.py"));
    fake.add_pull(REPO, PullSpec::new(8, diff));
    fake.set_file(
        REPO,
        &PullSpec::default().head_sha,
        ".nectr.yml",
        b"rules:\n  disable: [todo.added]\n",
    );
    let live = review_pr(&fake, 8, &["--dry-run"]).ok().json();
    assert_eq!(live["findings"].as_array().unwrap().len(), 4);

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let bundle_arg = bundle.to_str().unwrap();
    let rec = nectr(
        &fake,
        &["record", "--repo", REPO, "--pr", "8", "--out", bundle_arg],
    )
    .ok();
    assert!(rec.stderr.contains("recorded"), "{}", rec.stderr);
    assert!(
        writes(&fake.requests()).is_empty(),
        "recording writes nothing"
    );
    for file in all_files(&bundle) {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains(TOKEN), "{} holds the token", file.display());
    }

    let seen = fake.requests().len();
    let replay = || {
        nectr_with(
            None,
            None,
            &["review", "--replay", bundle_arg, "--format", "json"],
            &[],
        )
        .ok()
    };
    let first = replay();
    let second = replay();
    assert_eq!(
        fake.requests().len(),
        seen,
        "a replay never contacts GitHub"
    );
    let (a, b) = (strip_elapsed(first.json()), strip_elapsed(second.json()));
    assert_eq!(a, b, "replays are identical");
    assert_eq!(
        a["findings"], live["findings"],
        "replay finds what the live run found"
    );
    assert_eq!(a["summary"], live["summary"]);
    assert_eq!(a["pr"], live["pr"]);
    assert_eq!(a["posted"], Value::Null);

    // A bundle without a response the pipeline needs: exit 2 at once, naming it.
    let responses = std::fs::read_to_string(bundle.join("responses.json")).unwrap();
    let mut exchanges: Vec<Value> = serde_json::from_str(&responses).unwrap();
    let before = exchanges.len();
    exchanges.retain(|e| e["accept"] != json!("application/vnd.github.diff"));
    assert_eq!(exchanges.len(), before - 1);
    std::fs::write(
        bundle.join("responses.json"),
        serde_json::to_vec(&exchanges).unwrap(),
    )
    .unwrap();
    let run = nectr_with(None, None, &["review", "--replay", bundle_arg], &[]);
    let line = run.assert_error(2);
    assert!(line.contains("record it again"), "{line}");
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);

    // A corrupt bundle is the user's problem: exit 2, one line.
    std::fs::write(
        bundle.join("responses.json"),
        b"[{\"method\": \"GET\", \"pa",
    )
    .unwrap();
    let run = nectr_with(None, None, &["review", "--replay", bundle_arg], &[]);
    let line = run.assert_error(2);
    assert!(line.contains("responses.json"), "{line}");
    let run = nectr_with(
        None,
        None,
        &[
            "review",
            "--replay",
            dir.path().join("nope").to_str().unwrap(),
        ],
        &[],
    );
    run.assert_error(2);
}

#[test]
fn inline_comments_github_refuses_move_into_the_summary() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(9, db_diff()));
    fake.inject(Fault {
        method: "POST",
        path_contains: "/pulls/9/reviews",
        kind: FaultKind::Status(422),
        times: 1,
    });
    let run = review_pr(&fake, 9, &[]).ok();
    let doc = run.json();
    let requests = fake.requests();
    let posts: Vec<_> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 2, "{}", lines(&requests));
    assert_eq!(posts[0].status, 422);
    assert_eq!(
        posts[0].body_json().unwrap()["comments"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(posts[1].body_json().unwrap()["comments"], json!([]));
    let reviews = fake.reviews(REPO, 9);
    assert_eq!(reviews.len(), 1, "the review is posted anyway");
    let body = &reviews[0].body;
    assert!(reviews[0].comments.is_empty());
    assert!(
        body.contains("Comments GitHub would not place inline"),
        "{body}"
    );
    for line in [
        "app/db.py:10",
        "app/db.py:11",
        "app/db.py:16",
        "app/db.py:17",
    ] {
        assert!(body.contains(line), "{line} in {body}");
    }
    assert_eq!(
        marker(body)["inline"],
        json!([]),
        "nothing was posted inline"
    );
    assert_eq!(doc["posted"]["inline_comments"], json!(0));
    assert_eq!(doc["posted"]["review_id"], json!(reviews[0].id));
    assert!(
        run.stderr.contains("refused the inline comments"),
        "{}",
        run.stderr
    );

    // A re-run on the same head does not try again with a new review each time: it
    // edits the one it posted, still listing those comments.
    fake.clear_requests();
    let again = review_pr(&fake, 9, &[]).ok().json();
    let requests = fake.requests();
    assert_eq!(
        writes(&requests),
        vec![format!(
            "PUT /repos/acme/widgets/pulls/9/reviews/{}",
            reviews[0].id
        )],
        "{}",
        lines(&requests)
    );
    let reviews = fake.reviews(REPO, 9);
    assert_eq!(reviews.len(), 1);
    assert!(
        reviews[0]
            .body
            .contains("Comments GitHub would not place inline")
    );
    assert!(reviews[0].body.contains("app/db.py:17"));
    assert_eq!(again["posted"]["review_id"], json!(reviews[0].id));
    assert_eq!(again["posted"]["inline_comments"], json!(0));
}

#[test]
fn a_review_post_that_fails_is_reconciled_not_duplicated() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(10, db_diff()));
    fake.inject(Fault {
        method: "POST",
        path_contains: "/pulls/10/reviews",
        kind: FaultKind::Status(502),
        times: 1,
    });
    let run = review_pr(&fake, 10, &[]).ok();
    let doc = run.json();
    let requests = fake.requests();
    let posts: Vec<u16> = requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, vec![502, 200], "{}", lines(&requests));
    let reviews = fake.reviews(REPO, 10);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].comments.len(), 4);
    assert_eq!(doc["posted"]["review_id"], json!(reviews[0].id));
    // The reviews were listed again between the two POSTs.
    let first_post = requests.iter().position(|r| r.method == "POST").unwrap();
    assert!(
        requests[first_post..]
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with("/pulls/10/reviews")),
        "{}",
        lines(&requests)
    );
}

#[test]
fn replay_follows_a_recorded_406_and_paginated_files() {
    let fake = fake();
    // 120 files and over 20,000 lines: no .diff, and two pages of files.
    let mut diff = example_section("app/settings.py");
    for f in 0..119 {
        diff.push_str(&format!(
            "diff --git a/gen/f{f:03}.py b/gen/f{f:03}.py\nnew file mode 100644\nindex 0000000..3333333\n--- /dev/null\n+++ b/gen/f{f:03}.py\n@@ -0,0 +1,170 @@\n"
        ));
        for i in 0..170 {
            diff.push_str(&format!("+v{i} = {i}\n"));
        }
    }
    diff.push_str(&example_section("web/client.js"));
    fake.add_pull(REPO, PullSpec::new(11, diff));
    let live = review_pr(&fake, 11, &["--dry-run"]).ok().json();
    assert_eq!(live["stats"]["files"], json!(121));
    assert_eq!(
        rules(&live),
        vec!["secret.github-token", "debug.console-log"]
    );

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b");
    nectr(
        &fake,
        &[
            "record",
            "--repo",
            REPO,
            "--pr",
            "11",
            "--out",
            bundle.to_str().unwrap(),
        ],
    )
    .ok();
    let files_pages = fake
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/pulls/11/files") && r.status == 200)
        .count();
    assert!(
        files_pages >= 4,
        "two pages, live and recorded:\n{}",
        lines(&fake.requests())
    );

    let seen = fake.requests().len();
    let replay = nectr_with(
        None,
        None,
        &[
            "review",
            "--replay",
            bundle.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    )
    .ok();
    assert_eq!(fake.requests().len(), seen);
    let doc = replay.json();
    assert_eq!(doc["findings"], live["findings"]);
    assert_eq!(doc["stats"]["files"], json!(121));
}

/// A modified file whose head text is `head` (lines), with `added` inserted as new line
/// `at` (1-based): the head is `head` with `added` at `at`, the diff one hunk around it.
fn modified_file(path: &str, head: &[String], at: usize, added: &str) -> (String, String) {
    let mut new: Vec<String> = head.to_vec();
    new.insert(at - 1, added.to_owned());
    let before = &new[at - 2];
    let after = &new[at];
    let diff = format!(
        "diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n@@ -{old},2 +{old},3 @@\n {before}\n+{added}\n {after}\n",
        old = at - 1
    );
    (diff, new.join("\n") + "\n")
}

/// PR mode gives the rules the head file: a hunk inside a `#[cfg(test)]` module opened
/// above it, a file marked `@generated` at the top and a package whose `package.json`
/// declares a `bin` are quiet, while the same lines elsewhere are still reported; all the
/// head files come in one GraphQL query. Offline, the same diff stays conservative.
#[test]
fn pr_mode_rules_see_the_head_file_beyond_the_hunk() {
    let fake = fake();
    let head_sha = PullSpec::default().head_sha;
    let filler = |prefix: &str, n: usize| -> Vec<String> {
        (1..=n).map(|i| format!("{prefix}{i}")).collect()
    };
    // Rust: the hunk is deep inside `mod tests`, opened on line 4.
    let mut tested = vec![
        "pub fn parse(s: &str) -> u32 { s.len() as u32 }".to_owned(),
        String::new(),
        "#[cfg(test)]".to_owned(),
        "mod tests {".to_owned(),
    ];
    tested.extend(filler("    // case ", 40));
    tested.push("}".to_owned());
    // The same line in production code stays reported.
    let mut production = filler("// line ", 40);
    production.push("pub fn port(cfg: &Cfg) -> u16 { 0 }".to_owned());
    // Generated at the top (line 1), the hunk at line 30.
    let mut generated = vec!["// @generated by openapi-codegen; DO NOT EDIT".to_owned()];
    generated.extend(filler("export const c", 40));
    let mut plain = filler("export const d", 40);
    plain.insert(0, "import { api } from './api';".to_owned());
    let cli_lib = filler("const e", 40);
    let sdk_lib = filler("const f", 40);
    let files = [
        (
            "src/parse.rs",
            &tested,
            30,
            "        let v = parse(input).checked_mul(2).unwrap();",
        ),
        (
            "src/port.rs",
            &production,
            30,
            "    let port = cfg.port.unwrap();",
        ),
        (
            "web/api_client.ts",
            &generated,
            30,
            "  console.log(res); // TODO: remove",
        ),
        ("web/app.ts", &plain, 30, "  console.log(user);"),
        (
            "packages/deployer/lib/log.js",
            &cli_lib,
            20,
            "  console.log(`deployed ${name}`);",
        ),
        (
            "packages/sdk/lib/client.js",
            &sdk_lib,
            20,
            "  console.log(response);",
        ),
    ];
    let mut diff = String::new();
    for (path, head, at, added) in files {
        let (d, text) = modified_file(path, head, at, added);
        diff.push_str(&d);
        fake.set_file(REPO, &head_sha, path, text.as_bytes());
    }
    fake.set_file(
        REPO,
        &head_sha,
        "packages/deployer/package.json",
        br#"{"name": "deployer", "bin": {"deployer": "./bin/deployer.js"}}"#,
    );
    fake.set_file(
        REPO,
        &head_sha,
        "packages/sdk/package.json",
        br#"{"name": "sdk", "main": "lib/index.js", "bin": {"sdk": "./bin/sdk.js"}}"#,
    );
    fake.set_file(
        REPO,
        &head_sha,
        "package.json",
        br#"{"private": true, "workspaces": ["packages/*"]}"#,
    );
    fake.set_file(
        REPO,
        &head_sha,
        ".nectr.yml",
        b"rules:\n  enable: [rust.unwrap]\n",
    );
    fake.add_pull(REPO, PullSpec::new(21, diff.clone()));
    let doc = review_pr(&fake, 21, &["--dry-run"]).ok().json();
    let found: BTreeSet<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("src/port.rs", "rust.unwrap"),
        ("web/app.ts", "debug.console-log"),
        ("packages/sdk/lib/client.js", "debug.console-log"),
    ]
    .iter()
    .map(|(p, r)| (p.to_string(), r.to_string()))
    .collect();
    assert_eq!(found, expected);
    // One GraphQL query for every head file and package.json candidate.
    let requests = fake.requests();
    let graphql: Vec<_> = requests.iter().filter(|r| r.path == "/graphql").collect();
    assert_eq!(graphql.len(), 1, "{}", lines(&requests));
    let query = graphql[0].body_text();
    for path in [
        "src/parse.rs",
        "web/api_client.ts",
        "packages/deployer/package.json",
    ] {
        assert!(query.contains(&format!("{head_sha}:{path}")), "{query}");
    }
    assert!(
        !requests.iter().any(|r| r.path.contains("/contents/src/")),
        "no REST call per file:\n{}",
        lines(&requests)
    );

    // Offline the diff is all there is: every one of those lines is reported.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pr.diff"), &diff).unwrap();
    std::fs::write(
        dir.path().join(".nectr.yml"),
        "rules:\n  enable: [rust.unwrap]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_nectr"))
        .args(["review", "--diff", "pr.diff", "--format", "json"])
        .current_dir(dir.path())
        .env_clear()
        .output()
        .unwrap();
    let offline: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let offline_paths: BTreeSet<String> = offline["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(offline_paths.len(), 6, "{offline_paths:?}");
}

/// A PR whose findings the diff alone decides (added files, a hunk showing the top of the
/// file) sends no GraphQL query for the rules.
#[test]
fn no_head_fetch_when_the_diff_decides() {
    let fake = fake();
    fake.add_pull(REPO, PullSpec::new(22, db_diff()));
    review_pr(&fake, 22, &["--dry-run"]).ok();
    let requests = fake.requests();
    assert!(
        !requests.iter().any(|r| r.path == "/graphql"),
        "{}",
        lines(&requests)
    );
}
