//! Incremental re-reviews, through the real binary against the fake GitHub (which computes
//! `compare` from seeded commits and refuses review comments off the diff with 422) and the
//! mock LLM.
//!
//! The mock plays a reviewer that flags what it is shown: every added line of the prompt
//! containing a known smell becomes a finding on that line. So what the model was sent is
//! visible both in its recorded requests and in what gets posted.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Value, json};
use support::fake_github::{Access, CommitSpec, FakeGitHub, PullSpec, ReviewRecord};
use support::mock_llm::{MockLlm, MockReply, RecordedLlmRequest};

const REPO: &str = "acme/shop";
const TOKEN: &str = "ghp_incrementalTestToken000000000000000";
const BOT: &str = "nectr-bot";
const PATH: &str = "shop/cart.py";
const NUMBER: u64 = 7;

/// What the mock reviewer flags: a piece of an added line, and its finding's title.
const SMELLS: [(&str, &str, &str); 3] = [
    ("price * 0.15", "major", "hard-coded discount rate"),
    ("retries = 7", "minor", "unexplained retry count"),
    ("timeout = 0", "major", "a zero timeout never waits"),
];

fn sha(name: &str) -> String {
    support::fake_github::sha1_hex(name.as_bytes())
}

/// `shop/cart.py` at the base: 30 plain lines.
fn base_lines() -> Vec<String> {
    (1..=30).map(|n| format!("step_{n}()")).collect()
}

/// The first push: a discount after line 10 and a retry count after line 25.
fn head1_lines() -> Vec<String> {
    let mut lines = base_lines();
    lines.insert(25, "retries = 7".into());
    lines.insert(10, "total = price - price * 0.15".into());
    lines
}

/// The second push, on top of the first: an import at the top, and the retry count
/// replaced by a constant plus a zero timeout.
fn head2_lines() -> Vec<String> {
    let mut lines = head1_lines();
    let at = lines.iter().position(|l| l == "retries = 7").unwrap();
    lines.splice(
        at..=at,
        ["retries = RETRIES".to_owned(), "timeout = 0".to_owned()],
    );
    lines.insert(1, "import os".into());
    lines
}

fn tree(lines: &[String]) -> BTreeMap<String, String> {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    BTreeMap::from([(PATH.to_owned(), text)])
}

struct World {
    fake: FakeGitHub,
    mock: MockLlm,
    dir: tempfile::TempDir,
}

impl World {
    /// The repository with its base commit, the first push and PR #7 at it.
    fn new() -> World {
        let fake = FakeGitHub::start_blocking();
        fake.add_token(TOKEN, BOT, Access::Write, "repo");
        fake.add_repo(REPO);
        fake.add_commit(
            REPO,
            CommitSpec {
                sha: sha("base"),
                parents: Vec::new(),
                message: "base".into(),
                files: tree(&base_lines()),
            },
        );
        let world = World {
            fake,
            mock: MockLlm::start_blocking(),
            dir: tempfile::tempdir().unwrap(),
        };
        world.push("head1", &["base"], &head1_lines());
        world.mock.respond_with(reviewer);
        world
    }

    /// Seed commit `name` with `parents` and move the PR's head to it.
    fn push(&self, name: &str, parents: &[&str], lines: &[String]) {
        self.fake.add_commit(
            REPO,
            CommitSpec {
                sha: sha(name),
                parents: parents.iter().map(|p| sha(p)).collect(),
                message: name.into(),
                files: tree(lines),
            },
        );
        self.move_head(name);
    }

    /// Point the PR at commit `name` (already seeded, or not: then GitHub knows the PR's
    /// head but compare does not know the commit).
    fn move_head(&self, name: &str) {
        self.fake.add_pull(
            REPO,
            PullSpec {
                number: NUMBER,
                head_sha: sha(name),
                base_sha: sha("base"),
                diff: self.fake.tree_diff(REPO, &sha("base"), &sha(name)),
                ..PullSpec::default()
            },
        );
    }

    /// `nectr review --repo … --pr 7 --format json`, with the mock as the AI reviewer.
    fn review(&self, extra: &[&str]) -> Value {
        let pr = NUMBER.to_string();
        let mut args = vec!["review", "--repo", REPO, "--pr", &pr, "--format", "json"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn run(&self, args: &[&str]) -> Value {
        self.run_env(args, &[])
    }

    /// [`World::run`] with `extra` environment variables (which win).
    fn run_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_nectr"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GITHUB_API_URL", &self.fake.url)
            .env("GITHUB_TOKEN", TOKEN)
            .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
            .env("NECTR_GITHUB_RETRY_BASE_MS", "5")
            .env("NECTR_LLM_PROVIDER", "openai")
            .env("NECTR_LLM_BASE_URL", self.mock.openai_base())
            .env("NECTR_LLM_API_KEY", "sk-incremental-test-key-0000")
            .env("NECTR_LLM_MODEL", "mock-model")
            .env("NECTR_LLM_MAX_RETRIES", "0")
            .envs(extra.iter().copied())
            .output()
            .expect("run nectr");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{e}: stdout {stdout}\nstderr {stderr}"))
    }

    fn reviews(&self) -> Vec<ReviewRecord> {
        self.fake.reviews(REPO, NUMBER)
    }

    /// The diff part of the model's latest request.
    fn last_prompt(&self) -> String {
        let requests = self.mock.requests();
        let last: &RecordedLlmRequest = requests.last().expect("the model was asked");
        last.user().expect("a user message")
    }
}

/// The mock reviewer: a finding for every added line of the prompt with a known smell,
/// on the line number the prompt shows.
fn reviewer(request: &RecordedLlmRequest) -> MockReply {
    let prompt = request.user().unwrap_or_default();
    let mut findings = Vec::new();
    let mut path = String::new();
    for line in prompt.lines() {
        if let Some(rest) = line.strip_prefix("=== File: ") {
            path = rest.split(" (").next().unwrap_or_default().to_owned();
            continue;
        }
        let Some(rest) = line.strip_prefix('+') else {
            continue;
        };
        let Some((number, code)) = rest.split_once(" | ") else {
            continue;
        };
        let Ok(number) = number.trim().parse::<u32>() else {
            continue;
        };
        for (smell, severity, title) in SMELLS {
            if code.contains(smell) {
                findings.push(json!({
                    "path": path, "line": number, "severity": severity,
                    "title": title, "body": format!("`{}` needs a second look.", code.trim()),
                }));
            }
        }
    }
    MockReply::text(json!({"summary": "Reviewed the changes.", "findings": findings}).to_string())
}

/// The `<!-- nectr:review … -->` marker of a summary, as JSON.
fn marker(body: &str) -> Value {
    let start = body.find("<!-- nectr:review ").expect("a marker") + "<!-- nectr:review ".len();
    let end = start + body[start..].find(" -->").unwrap();
    serde_json::from_str(&body[start..end]).unwrap()
}

fn short(name: &str) -> String {
    sha(name)[..7].to_owned()
}

/// `(line, first line of the body)` of each inline comment of a review.
fn inline(review: &ReviewRecord) -> Vec<(u64, String)> {
    review
        .comments
        .iter()
        .map(|c| {
            (
                c.line.unwrap(),
                c.body.lines().next().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn titles(doc: &Value) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["source"] == "llm")
        .map(|f| {
            (
                f["line"].as_u64().unwrap(),
                f["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_new_push_is_reviewed_incrementally_and_earlier_findings_carry_forward() {
    let w = World::new();
    let first = w.review(&[]);
    assert!(first["stats"].get("incremental").is_none(), "{first:#}");
    assert!(first["stats"].get("full_review_reason").is_none());
    let reviews = w.reviews();
    assert_eq!(reviews.len(), 1);
    assert_eq!(inline(&reviews[0]).len(), 2, "{:#?}", reviews[0].comments);
    let m = marker(&reviews[0].body);
    assert_eq!(m["head"], json!(sha("head1")));
    assert_eq!(m["ai"], json!(true));
    assert_eq!(m["base"], json!("main"));
    assert_eq!(m["findings"].as_array().unwrap().len(), 2);
    assert!(w.last_prompt().contains("price * 0.15"));

    // The second push. It goes through `review --event` with a `synchronize` payload, as
    // the Action and webhooks deliver it.
    w.push("head2", &["head1"], &head2_lines());
    let event = json!({
        "action": "synchronize",
        "number": NUMBER,
        "before": sha("head1"),
        "after": sha("head2"),
        "pull_request": {
            "number": NUMBER, "title": "Discounts", "state": "open",
            "head": {"ref": "feature", "sha": sha("head2"), "repo": {"full_name": REPO}},
            "base": {"ref": "main", "sha": sha("base"), "repo": {"full_name": REPO}},
        },
        "repository": {"full_name": REPO},
    });
    let event_path = w.dir.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let second = w.run(&[
        "review",
        "--event",
        event_path.to_str().unwrap(),
        "--format",
        "json",
    ]);

    // The model saw only what the second push changed.
    assert_eq!(w.mock.request_count(), 2);
    let prompt = w.last_prompt();
    assert!(prompt.contains("import os"), "{prompt}");
    assert!(prompt.contains("timeout = 0"), "{prompt}");
    assert!(
        !prompt.contains("price * 0.15"),
        "the first push's change is not sent again:\n{prompt}"
    );

    // One new review; only the new finding is posted inline, on the full diff.
    let reviews = w.reviews();
    assert_eq!(reviews.len(), 2);
    let new = &reviews[1];
    assert_eq!(new.commit_id, sha("head2"));
    let posted = inline(new);
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(
        posted[0].0, 29,
        "the zero timeout, on the PR's line numbers"
    );
    assert!(posted[0].1.contains("zero timeout"), "{posted:?}");
    assert_eq!(second["posted"]["inline_comments"], json!(1));
    assert!(!new.body.contains("would not place inline"), "{}", new.body);

    // The whole PR state: the carried discount finding (moved down by the import), the new
    // one; the retry count the push replaced is reported fixed.
    assert_eq!(
        titles(&second),
        vec![
            (12, "hard-coded discount rate".to_owned()),
            (29, "a zero timeout never waits".to_owned())
        ]
    );
    let stats = &second["stats"];
    assert_eq!(
        stats["incremental"],
        json!({"from": sha("head1"), "to": sha("head2"), "files": 1, "carried_forward": 1})
    );
    assert!(stats.get("full_review_reason").is_none());
    let body = &new.body;
    assert!(
        body.contains(&format!(
            "Reviewed the 1 new commit since the last review (`{}`): the AI reviewer read the 1 changed file",
            short("head1")
        )),
        "{body}"
    );
    assert_eq!(stats["new_commits"], json!(1));
    assert!(body.contains("1 new, 1 still open"), "{body}");
    assert!(body.contains("Fixed since the last review"), "{body}");
    assert!(body.contains("unexplained retry count"), "{body}");
    assert!(
        body.contains("1 finding was already commented on"),
        "{body}"
    );
    let m = marker(body);
    assert_eq!(m["head"], json!(sha("head2")));
    assert_eq!(m["ai"], json!(true), "the next push can be incremental too");
    assert!(reviews[0].body.contains("superseded"));

    // A push that touches nothing the model flagged: the model sees the new line only, and
    // both earlier findings carry forward again.
    let mut head3 = head2_lines();
    head3.push("step_done()".into());
    w.push("head3", &["head2"], &head3);
    let third = w.review(&[]);
    assert!(!w.last_prompt().contains("timeout = 0"));
    assert_eq!(third["stats"]["incremental"]["carried_forward"], json!(2));
    assert_eq!(titles(&third).len(), 2);
    assert_eq!(third["posted"]["inline_comments"], json!(0));
    assert_eq!(
        w.fake.review_comments(REPO, NUMBER).len(),
        3,
        "nothing re-posted"
    );
}

#[test]
fn a_force_push_gets_a_full_review_that_says_why() {
    // Diverged (the old head still exists, off the branch), then gone (404).
    for (forgotten, says) in [(false, "rewritten"), (true, "no longer known to GitHub")] {
        let w = World::new();
        w.review(&[]);
        // The branch rewritten on top of the base: the first push is no longer on it.
        w.push("rewritten", &["base"], &head2_lines());
        if forgotten {
            w.fake.remove_commit(REPO, &sha("head1"));
        }
        let doc = w.review(&[]);
        let prompt = w.last_prompt();
        assert!(
            prompt.contains("price * 0.15") && prompt.contains("timeout = 0"),
            "the whole PR is sent again:\n{prompt}"
        );
        let reason = doc["stats"]["full_review_reason"].as_str().unwrap();
        assert!(
            reason.contains(says) && reason.contains("force-push"),
            "{reason}"
        );
        assert!(reason.contains(&short("head1")), "{reason}");
        assert!(doc["stats"].get("incremental").is_none());
        let body = w.reviews().last().unwrap().body.clone();
        // No number of new commits after a rewrite: GitHub cannot count them (404), or
        // its count is of a history that no longer exists (diverged).
        assert!(
            body.contains(&format!(
                "Reviewed the whole pull request again since the last review (`{}`).",
                short("head1")
            )),
            "{body}"
        );
        assert!(!body.contains("new commit"), "{body}");
        assert!(doc["stats"].get("new_commits").is_none(), "{doc:#}");
        assert!(body.contains(says), "{body}");
        assert_eq!(titles(&doc).len(), 2, "{doc:#}");
        assert_eq!(marker(&body)["ai"], json!(true));
    }
}

#[test]
fn the_config_can_turn_incremental_reviews_off() {
    let w = World::new();
    w.review(&[]);
    w.push("head2", &["head1"], &head2_lines());
    w.fake.set_file(
        REPO,
        &sha("head2"),
        ".nectr.yml",
        b"review:\n  incremental: false\n",
    );
    let doc = w.review(&[]);
    assert!(w.last_prompt().contains("price * 0.15"), "full review");
    let reason = doc["stats"]["full_review_reason"].as_str().unwrap();
    assert!(reason.contains("review.incremental"), "{reason}");
    let new = w.reviews().last().unwrap().clone();
    assert!(
        new.body.contains(&format!(
            "Reviewed the whole pull request again, with the 1 new commit since the last review (`{}`).",
            short("head1")
        )),
        "{}",
        new.body
    );
    // Still one coherent review: the re-found discount is not posted twice.
    assert_eq!(inline(&new).len(), 1, "{:?}", inline(&new));
    assert!(
        new.body.contains("unexplained retry count"),
        "fixed: {}",
        new.body
    );
}

#[test]
fn the_summary_counts_the_new_commits_with_one_compare_request() {
    let w = World::new();
    w.review(&[]);
    // Two pushes since the review: an import, then the retry count replaced.
    let mut middle = head1_lines();
    middle.insert(1, "import os".into());
    w.push("middle", &["head1"], &middle);
    w.push("head2", &["middle"], &head2_lines());
    w.fake.clear_requests();
    let doc = w.review(&[]);
    let body = w.reviews().last().unwrap().body.clone();
    assert!(
        body.contains(&format!(
            "Reviewed the 2 new commits since the last review (`{}`)",
            short("head1")
        )),
        "{body}"
    );
    assert_eq!(doc["stats"]["new_commits"], json!(2));
    let compares: Vec<String> = w
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/compare/"))
        .map(|r| r.line())
        .collect();
    assert_eq!(
        compares.len(),
        1,
        "the compare that scopes the AI review also counts the commits: {compares:?}"
    );
}

#[test]
fn a_rules_only_re_review_counts_the_new_commits_too() {
    let w = World::new();
    let rules_only = [("NECTR_LLM_PROVIDER", "none")];
    let pr = NUMBER.to_string();
    let args = ["review", "--repo", REPO, "--pr", &pr, "--format", "json"];
    w.run_env(&args, &rules_only);
    w.push("head2", &["head1"], &head2_lines());
    w.fake.clear_requests();
    let doc = w.run_env(&args, &rules_only);
    assert_eq!(w.mock.request_count(), 0, "no model");
    let body = w.reviews().last().unwrap().body.clone();
    assert!(
        body.contains(&format!(
            "Reviewed the whole pull request again, with the 1 new commit since the last review (`{}`).",
            short("head1")
        )),
        "{body}"
    );
    assert_eq!(doc["stats"]["new_commits"], json!(1));
    // One compare request, only for the count.
    let compares = w
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/compare/"))
        .count();
    assert_eq!(compares, 1);

    // The same head again: nothing new, no line about commits, no compare request.
    w.fake.clear_requests();
    let doc = w.run_env(&args, &rules_only);
    assert!(doc["stats"].get("new_commits").is_none(), "{doc:#}");
    assert!(
        !w.fake
            .requests()
            .iter()
            .any(|r| r.path.contains("/compare/")),
        "no compare for an unchanged head"
    );
}
