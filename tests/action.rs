//! `nectr action`, the GitHub Actions entry point, run as the real binary with a workflow's
//! environment (event payloads from tests/fixtures/events/, shaped like GitHub's published
//! webhook examples) against the fake GitHub in tests/support/.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::fake_github::{Access, FakeGitHub, PullSpec, RecordedRequest};

const REPO: &str = "acme/widgets";
const TOKEN: &str = "ghs_actionsTokenZ9y8x7w6v5u4t3s2r1q0p9o8n7";
const BOT: &str = "github-actions[bot]";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/events").join(name)
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn example_diff() -> String {
    std::fs::read_to_string(root().join("examples/pr.diff")).unwrap()
}

/// The example's findings: 7, one critical (the token at app/settings.py:4); its two
/// TODOs in one file are one finding, and `rust.unwrap` is opt-in.
const FINDINGS: usize = 7;

fn fake() -> FakeGitHub {
    let fake = FakeGitHub::start_blocking();
    fake.add_token(TOKEN, BOT, Access::Write, "");
    fake.add_repo(REPO);
    fake
}

/// Seed the pull request an event payload describes, with `diff`.
fn seed(fake: &FakeGitHub, event: &Value, diff: &str) {
    let pr = &event["pull_request"];
    let head_repo = pr["head"]["repo"]["full_name"].as_str().unwrap();
    fake.add_pull(
        REPO,
        PullSpec {
            number: pr["number"].as_u64().unwrap(),
            title: pr["title"].as_str().unwrap().into(),
            user: pr["user"]["login"].as_str().unwrap().into(),
            head_ref: pr["head"]["ref"].as_str().unwrap().into(),
            head_sha: pr["head"]["sha"].as_str().unwrap().into(),
            base_ref: pr["base"]["ref"].as_str().unwrap().into(),
            base_sha: pr["base"]["sha"].as_str().unwrap().into(),
            head_repo: (head_repo != REPO).then(|| head_repo.to_owned()),
            draft: pr["draft"].as_bool().unwrap(),
            ..PullSpec::new(0, diff)
        },
    );
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    summary: String,
    output: String,
}

impl Run {
    fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- GITHUB_OUTPUT\n{}",
            self.code, self.stdout, self.stderr, self.output
        )
    }

    fn output_value(&self, key: &str) -> Option<String> {
        self.output
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
    }

    fn annotations(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| {
                l.starts_with("::error ")
                    || l.starts_with("::warning ")
                    || l.starts_with("::notice ")
            })
            .collect()
    }

    /// Exit 2 with one `error:` line and no panic or token.
    fn assert_input_error(&self) -> &str {
        assert_eq!(self.code, Some(2), "{}", self.show());
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{}", self.show());
        assert!(lines[0].starts_with("error: "), "{}", self.show());
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("internal error"));
        assert!(!self.stderr.contains(TOKEN));
        lines[0]
    }
}

struct Step<'a> {
    fake: Option<&'a FakeGitHub>,
    event_name: &'a str,
    event_path: Option<PathBuf>,
    token: Option<&'a str>,
    env: Vec<(&'a str, String)>,
}

impl<'a> Step<'a> {
    fn new(fake: &'a FakeGitHub, event_name: &'a str, event_path: PathBuf) -> Self {
        Step {
            fake: Some(fake),
            event_name,
            event_path: Some(event_path),
            token: Some(TOKEN),
            // Rules only unless a test says otherwise: the zero-config GitHub Models
            // default would otherwise call the real models.github.ai.
            env: vec![
                ("NECTR_FAIL_ON", "never".into()),
                ("NECTR_LLM_PROVIDER", "none".into()),
            ],
        }
    }

    fn env(mut self, key: &'a str, value: &str) -> Self {
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.to_owned()));
        self
    }

    fn token(mut self, token: Option<&'a str>) -> Self {
        self.token = token;
        self
    }

    /// Run `nectr action` in a fresh workspace with the runner's files.
    fn run(self) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let summary = dir.path().join("step_summary.md");
        let output = dir.path().join("output.txt");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nectr"));
        cmd.arg("action")
            .current_dir(dir.path())
            .env_clear()
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", self.event_name)
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_WORKSPACE", dir.path())
            .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
            .env("NECTR_GITHUB_RETRY_BASE_MS", "5");
        if let Some(fake) = self.fake {
            cmd.env("GITHUB_API_URL", &fake.url);
        }
        if let Some(path) = &self.event_path {
            cmd.env("GITHUB_EVENT_PATH", path);
        }
        if let Some(token) = self.token {
            cmd.env("GITHUB_TOKEN", token);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run nectr action");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            summary: std::fs::read_to_string(&summary).unwrap_or_default(),
            output: std::fs::read_to_string(&output).unwrap_or_default(),
        }
    }
}

/// A fixture with `edit` applied, written to `dir`.
fn event_file(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut event = load(name);
    edit(&mut event);
    let path = dir.join(format!("edited-{name}"));
    std::fs::write(&path, serde_json::to_vec_pretty(&event).unwrap()).unwrap();
    path
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

#[test]
fn pull_request_opened_posts_a_review_and_fills_the_outputs() {
    let fake = fake();
    let event = load("pull_request.opened.json");
    seed(&fake, &event, &example_diff());
    let run = Step::new(&fake, "pull_request", fixture("pull_request.opened.json")).run();
    assert_eq!(run.code, Some(0), "{}", run.show());

    let reviews = fake.reviews(REPO, 7);
    assert_eq!(reviews.len(), 1, "{}", run.show());
    let review = &reviews[0];
    assert_eq!(review.event, "COMMENT");
    assert_eq!(
        review.commit_id,
        event["pull_request"]["head"]["sha"].as_str().unwrap()
    );
    assert_eq!(review.comments.len(), FINDINGS);
    assert!(
        review
            .comments
            .iter()
            .any(|c| c.path.as_deref() == Some("app/settings.py") && c.line == Some(4))
    );

    // The token is masked before anything else is printed.
    assert_eq!(
        run.stdout.lines().next(),
        Some(format!("::add-mask::{TOKEN}").as_str()),
        "{}",
        run.show()
    );
    assert_eq!(run.stdout.matches(TOKEN).count(), 1, "{}", run.show());
    assert!(!run.stderr.contains(TOKEN));
    // Posted: no annotations needed.
    assert!(
        run.annotations().iter().all(|a| !a.starts_with("::error")),
        "{}",
        run.show()
    );

    let url = format!("{}/{REPO}/pull/7#pullrequestreview-{}", fake.url, review.id);
    assert_eq!(
        run.output_value("findings").as_deref(),
        Some(FINDINGS.to_string().as_str()),
        "{}",
        run.show()
    );
    assert_eq!(run.output_value("critical").as_deref(), Some("1"));
    assert_eq!(
        run.output_value("review-url").as_deref(),
        Some(url.as_str())
    );
    assert!(run.stdout.contains(&url), "{}", run.show());
    assert!(run.summary.contains("### Nectr review"), "{}", run.summary);
    assert!(
        run.summary.contains("secret.github-token"),
        "{}",
        run.summary
    );
    assert!(
        !run.summary
            .contains("ghp_R8x2Kq7LmN4pV9sT1wY6zA3bC5dE0fG2hJ4k"),
        "the secret is masked"
    );

    // fail-on decides the exit code; the re-run updates the same review.
    let run = Step::new(&fake, "pull_request", fixture("pull_request.opened.json"))
        .env("NECTR_FAIL_ON", "critical")
        .run();
    assert_eq!(run.code, Some(1), "{}", run.show());
    assert_eq!(fake.reviews(REPO, 7).len(), 1);
    assert_eq!(fake.review_comments(REPO, 7).len(), FINDINGS);
    assert_eq!(
        run.output_value("review-url").as_deref(),
        Some(url.as_str())
    );
}

#[test]
fn reviewed_actions_are_synchronize_reopened_and_ready_for_review_too() {
    let fake = fake();
    let event = load("pull_request.opened.json");
    seed(&fake, &event, &example_diff());
    let dir = tempfile::tempdir().unwrap();
    for action in ["synchronize", "reopened", "ready_for_review"] {
        let path = event_file(dir.path(), "pull_request.opened.json", |e| {
            e["action"] = action.into()
        });
        fake.clear_requests();
        let run = Step::new(&fake, "pull_request", path).run();
        assert_eq!(run.code, Some(0), "{action}: {}", run.show());
        assert_eq!(
            writes(&fake.requests()).len(),
            1,
            "{action}: {}",
            lines(&fake.requests())
        );
    }
    assert_eq!(
        fake.reviews(REPO, 7).len(),
        1,
        "one review, updated in place"
    );
}

#[test]
fn other_events_and_actions_exit_0_without_any_request() {
    let fake = fake();
    seed(&fake, &load("pull_request.opened.json"), &example_diff());
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, PathBuf)> = vec![
        ("push", fixture("push.json")),
        ("issues", fixture("issues.opened.json")),
        ("workflow_dispatch", fixture("push.json")),
    ];
    for action in [
        "closed",
        "labeled",
        "edited",
        "assigned",
        "review_requested",
    ] {
        let path = event_file(dir.path(), "pull_request.opened.json", |e| {
            e["action"] = action.into();
            if action == "labeled" {
                e["label"] =
                    serde_json::json!({"id": 1, "name": "bug", "color": "d73a4a", "default": true});
            }
        });
        cases.push(("pull_request", path.clone()));
        cases.push(("pull_request_target", path));
    }
    for (name, path) in cases {
        // No token either: nothing that is skipped needs one.
        for token in [Some(TOKEN), None] {
            let run = Step::new(&fake, name, path.clone()).token(token).run();
            assert_eq!(
                run.code,
                Some(0),
                "{name} {}: {}",
                path.display(),
                run.show()
            );
            let out: Vec<&str> = run.stdout.lines().collect();
            assert_eq!(out.len(), 1, "one line: {}", run.show());
            assert!(out[0].starts_with("::notice"), "{}", run.show());
            assert!(out[0].contains("nothing to review"), "{}", run.show());
            // The contract: exit 0 "says why on stderr", in one line.
            let err: Vec<&str> = run.stderr.lines().collect();
            assert_eq!(err.len(), 1, "{}", run.show());
            assert!(
                err[0].starts_with("nectr: nothing to review"),
                "{}",
                run.show()
            );
            assert!(!run.stdout.contains(TOKEN));
        }
    }
    assert!(fake.requests().is_empty(), "{}", lines(&fake.requests()));
}

#[test]
fn drafts_are_skipped_unless_the_config_asks_for_them() {
    let fake = fake();
    let dir = tempfile::tempdir().unwrap();
    let path = event_file(dir.path(), "pull_request.opened.json", |e| {
        e["pull_request"]["draft"] = true.into();
    });
    let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    seed(&fake, &event, &example_diff());
    let run = Step::new(&fake, "pull_request", path.clone()).run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    let notices: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::notice"))
        .collect();
    assert_eq!(notices.len(), 1, "{}", run.show());
    assert!(notices[0].contains("draft"), "{}", run.show());
    assert!(writes(&fake.requests()).is_empty());
    assert!(fake.reviews(REPO, 7).is_empty());
    assert!(run.output.is_empty(), "{}", run.show());

    let head = event["pull_request"]["head"]["sha"].as_str().unwrap();
    fake.set_file(REPO, head, ".nectr.yml", b"review:\n  drafts: true\n");
    let run = Step::new(&fake, "pull_request", path).run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(fake.reviews(REPO, 7).len(), 1, "{}", run.show());
    assert_eq!(
        run.output_value("findings").as_deref(),
        Some(FINDINGS.to_string().as_str())
    );
}

#[test]
fn pull_request_target_reads_the_config_from_the_base_never_the_head() {
    let fake = fake();
    let event = load("pull_request.opened.fork.json");
    seed(&fake, &event, &example_diff());
    let head = event["pull_request"]["head"]["sha"].as_str().unwrap();
    let base = event["pull_request"]["base"]["sha"].as_str().unwrap();
    // The PR's own config would switch every rule off; the base's only drops TODOs.
    fake.set_file(REPO, head, ".nectr.yml", b"rules:\n  disable: [\"*\"]\n");
    fake.set_file(
        REPO,
        base,
        ".nectr.yml",
        b"rules:\n  disable: [todo.added]\n",
    );
    let run = Step::new(
        &fake,
        "pull_request_target",
        fixture("pull_request.opened.fork.json"),
    )
    .run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(
        run.output_value("findings").as_deref(),
        Some((FINDINGS - 1).to_string().as_str()),
        "{}",
        run.show()
    );
    assert_eq!(run.output_value("critical").as_deref(), Some("1"));
    let contents: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/contents/"))
        .collect();
    assert!(!contents.is_empty());
    for r in &contents {
        assert_eq!(
            r.query_param("ref").as_deref(),
            Some(base),
            "{}",
            lines(&contents)
        );
    }
    // pull_request_target has a write token: the review is posted, even for a fork.
    let reviews = fake.reviews(REPO, 8);
    assert_eq!(reviews.len(), 1, "{}", run.show());
    assert_eq!(reviews[0].comments.len(), FINDINGS - 1);
}

#[test]
fn fork_pull_requests_get_annotations_instead_of_a_review() {
    let fake = fake();
    let event = load("pull_request.opened.fork.json");
    // A file whose name needs escaping in an annotation property.
    let mut diff = example_diff();
    diff.push_str(
        "diff --git a/tools/a,b:c.py b/tools/a,b:c.py\nnew file mode 100644\nindex 0000000..1234567\n--- /dev/null\n+++ b/tools/a,b:c.py\n@@ -0,0 +1,2 @@\n+def run(expr):\n+    return eval(expr)\n",
    );
    seed(&fake, &event, &diff);
    let run = Step::new(
        &fake,
        "pull_request",
        fixture("pull_request.opened.fork.json"),
    )
    .env("NECTR_FAIL_ON", "critical")
    .run();
    assert_eq!(
        run.code,
        Some(1),
        "fail-on critical still applies: {}",
        run.show()
    );
    assert!(
        writes(&fake.requests()).is_empty(),
        "{}",
        lines(&fake.requests())
    );
    assert!(fake.reviews(REPO, 8).is_empty());

    let annotations = run.annotations();
    let secret = annotations
        .iter()
        .find(|a| a.starts_with("::error file=app/settings.py,line=4,"))
        .unwrap_or_else(|| panic!("the token finding as an error annotation:\n{}", run.show()));
    assert!(secret.contains("title="), "{secret}");
    assert!(secret.contains("secret.github-token"), "{secret}");
    assert!(
        !secret.contains("ghp_R8x2Kq7LmN4pV9sT1wY6zA3bC5dE0fG2hJ4k"),
        "masked: {secret}"
    );
    assert!(
        annotations
            .iter()
            .any(|a| a.starts_with("::warning file=cli/src/main.rs,line=")),
        "{}",
        run.show()
    );
    let escaped = annotations
        .iter()
        .find(|a| a.contains("file=tools/a%2Cb%3Ac.py,line=2,"))
        .unwrap_or_else(|| panic!("escaped file property:\n{}", run.show()));
    assert!(escaped.starts_with("::error "), "{escaped}");
    // Properties and data are each one line: newlines in bodies are escaped.
    for a in &annotations {
        let (props, data) = a
            .split_once("::")
            .map(|(_, rest)| rest.split_once("::").unwrap())
            .unwrap();
        assert!(!props.contains('\n') && !data.contains('\n'));
        let title = props
            .split_once(",title=")
            .map(|(_, t)| t)
            .unwrap_or_default();
        assert!(
            !title.contains(',') && !title.contains(':'),
            "unescaped title: {a}"
        );
    }
    let per_finding = annotations.iter().filter(|a| a.contains(" file=")).count();
    assert_eq!(per_finding, FINDINGS + 1, "{}", run.show());
    assert!(
        annotations
            .iter()
            .any(|a| a.starts_with("::notice") && a.contains("fork")),
        "{}",
        run.show()
    );
    assert!(annotations.iter().all(|a| !a.contains("%0A%0A%0A")));
    assert!(
        run.stdout.contains("%0A"),
        "multi-line bodies are escaped: {}",
        run.show()
    );

    assert!(run.summary.contains("### Nectr review"), "{}", run.show());
    assert_eq!(
        run.output_value("findings").as_deref(),
        Some((FINDINGS + 1).to_string().as_str())
    );
    assert_eq!(run.output_value("critical").as_deref(), Some("1"));
    assert_eq!(run.output_value("review-url").as_deref(), Some(""));

    let never = Step::new(
        &fake,
        "pull_request",
        fixture("pull_request.opened.fork.json"),
    )
    .run();
    assert_eq!(never.code, Some(0), "{}", never.show());
    assert!(writes(&fake.requests()).is_empty());
}

#[test]
fn a_read_only_token_falls_back_to_annotations() {
    let fake = FakeGitHub::start_blocking();
    fake.add_token(TOKEN, BOT, Access::ReadOnly, "");
    fake.add_repo(REPO);
    seed(&fake, &load("pull_request.opened.json"), &example_diff());
    let run = Step::new(&fake, "pull_request", fixture("pull_request.opened.json")).run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    let requests = fake.requests();
    // The GraphQL query for head files (web/client.js has a `console.log` the rules need
    // the whole file and its package.json for) is a POST that only reads.
    let posts: Vec<&RecordedRequest> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path != "/graphql")
        .collect();
    assert_eq!(posts.len(), 1, "tried once: {}", lines(&requests));
    assert_eq!(posts[0].status, 403);
    assert!(fake.reviews(REPO, 7).is_empty());
    assert!(run.stderr.contains("cannot write"), "{}", run.show());
    assert!(
        run.annotations()
            .iter()
            .any(|a| a.starts_with("::error file=app/settings.py,line=4,")),
        "{}",
        run.show()
    );
    assert_eq!(
        run.output_value("findings").as_deref(),
        Some(FINDINGS.to_string().as_str())
    );
    assert_eq!(run.output_value("review-url").as_deref(), Some(""));
    assert!(run.summary.contains("### Nectr review"));
}

#[test]
fn missing_token_event_or_payload_is_exit_2() {
    let fake = fake();
    seed(&fake, &load("pull_request.opened.json"), &example_diff());

    let run = Step::new(&fake, "pull_request", fixture("pull_request.opened.json"))
        .token(None)
        .run();
    let line = run.assert_input_error();
    assert!(
        line.contains("GITHUB_TOKEN") && line.contains("github-token"),
        "{line}"
    );
    assert!(run.stdout.is_empty(), "{}", run.show());

    let mut step = Step::new(&fake, "pull_request", fixture("pull_request.opened.json"));
    step.event_path = None;
    let line = step.run().assert_input_error().to_owned();
    assert!(line.contains("GITHUB_EVENT_PATH"), "{line}");

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("event.json");
    let line = Step::new(&fake, "pull_request", missing)
        .run()
        .assert_input_error()
        .to_owned();
    assert!(line.contains("event.json"), "{line}");

    for (name, bytes) in [
        (
            "truncated.json",
            &b"{\"action\": \"opened\", \"number\": 7, \"pull_request\": {\"number\""[..],
        ),
        ("empty.json", b""),
        ("array.json", b"[1, 2, 3]"),
        ("binary.json", b"\xff\xfe\x00garbage"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let run = Step::new(&fake, "pull_request", path).run();
        let line = run.assert_input_error();
        assert!(line.contains(name), "{line}");
    }
    // A valid payload of another event under the pull_request name.
    let run = Step::new(&fake, "pull_request", fixture("push.json")).run();
    let line = run.assert_input_error();
    assert!(line.contains("pull_request"), "{line}");

    assert!(fake.requests().is_empty(), "{}", lines(&fake.requests()));
}

// ---- Zero-config AI review through GitHub Models (issue 14) ----

use support::fake_models::{FakeModels, ModelsLimits};

/// A step with no provider configured, GitHub Models at `models`.
fn models_step<'a>(fake: &'a FakeGitHub, models: &FakeModels) -> Step<'a> {
    Step::new(fake, "pull_request", fixture("pull_request.opened.json"))
        .env("NECTR_LLM_PROVIDER", "")
        .env("NECTR_GITHUB_MODELS_URL", &models.url)
        .env("GITHUB_SERVER_URL", "https://github.com")
}

#[test]
fn only_the_workflow_token_gives_an_ai_review_through_github_models() {
    let fake = fake();
    let event = load("pull_request.opened.json");
    seed(&fake, &event, &example_diff());
    let models = FakeModels::start(ModelsLimits::default());
    models.grant(TOKEN);
    let run = models_step(&fake, &models).run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    let completions = models.completions();
    assert!(!completions.is_empty(), "{}", run.show());
    for c in &completions {
        assert_eq!(c.path, "/inference/chat/completions");
        assert_eq!(
            c.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(c.body["model"], "openai/gpt-4.1-mini");
        assert_eq!(c.status, 200, "within the free tier's limits");
        assert!(c.body["max_tokens"].as_u64().unwrap() <= 4_000);
    }
    let reviews = fake.reviews(REPO, 7);
    assert_eq!(reviews.len(), 1, "{}", run.show());
    assert!(
        reviews[0]
            .comments
            .iter()
            .any(|c| c.body.contains("Fake Models finding")),
        "the AI findings are posted: {:#?}",
        reviews[0].comments
    );
    assert!(
        reviews[0].body.contains("openai/gpt-4.1-mini"),
        "{}",
        reviews[0].body
    );
    assert!(
        !run.stdout.contains("AI review unavailable"),
        "{}",
        run.show()
    );
    assert_eq!(run.stdout.matches(TOKEN).count(), 1, "{}", run.show());
    assert!(!run.stderr.contains(TOKEN));

    // A re-run on the same head with nothing new makes no model call.
    let calls = models.completions().len();
    let run = models_step(&fake, &models).run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(models.completions().len(), calls, "{}", run.show());
    assert_eq!(fake.reviews(REPO, 7).len(), 1);

    // `llm-model` picks another model.
    let fake = self::fake();
    seed(&fake, &event, &example_diff());
    let run = models_step(&fake, &models)
        .env("NECTR_LLM_MODEL", "openai/gpt-4.1")
        .run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(
        models.completions().last().unwrap().body["model"],
        "openai/gpt-4.1"
    );
}

#[test]
fn refused_models_or_a_spent_quota_still_post_the_rules_review_with_one_line() {
    let fake = fake();
    let event = load("pull_request.opened.json");
    seed(&fake, &event, &example_diff());

    // No entitlement: 403 once, one plain line, the rules' findings posted, exit 0.
    let models = FakeModels::start(ModelsLimits::default());
    models.deny(TOKEN);
    let run = models_step(&fake, &models).run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(models.completions().len(), 1, "no retry after a 403");
    let body = &fake.reviews(REPO, 7)[0].body;
    let line = body
        .lines()
        .find(|l| l.contains("GitHub Models refused the token"))
        .unwrap_or_else(|| panic!("no refusal line in {body}"));
    assert!(line.contains("permissions: models: read"), "{line}");
    assert_eq!(fake.review_comments(REPO, 7).len(), FINDINGS);

    // The daily quota spent: 429 with hours to wait, not retried.
    let models = FakeModels::start(ModelsLimits::default());
    models.grant(TOKEN);
    models.spend_daily_quota();
    let run = models_step(&fake, &models).run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert_eq!(models.completions().len(), 1);
    let body = &fake.reviews(REPO, 7)[0].body;
    assert!(
        body.contains("rate limit for openai/gpt-4.1-mini is used up (it resets in about 7 h)"),
        "{body}"
    );

    // GitHub Enterprise Server: Models is not asked at all.
    let models = FakeModels::start(ModelsLimits::default());
    models.grant(TOKEN);
    let run = models_step(&fake, &models)
        .env("GITHUB_SERVER_URL", "https://ghe.example.com")
        .run();
    assert_eq!(run.code, Some(0), "{}", run.show());
    assert!(models.requests().is_empty());
    let body = &fake.reviews(REPO, 7)[0].body;
    assert!(
        body.contains("GitHub Models is not available on ghe.example.com"),
        "{body}"
    );
}
