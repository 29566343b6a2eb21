//! The GitHub Models provider against the fake in tests/support/fake_models.rs, which
//! enforces the free tiers' per-request limits (8,000 prompt / 4,000 reply tokens), a
//! per-minute rate, a daily quota and 403 for accounts without access: a mixed set of
//! pull requests (one small file … 6,000 added lines) is reviewed within the limits or its
//! skipped files are named, and Models never fails the review.

mod support;

use std::time::Duration;

use nectr::config::RepoConfig;
use nectr::llm::github_models::{self, GitHubModels};
use nectr::llm::{CompletionRequest, LanguageModel, LlmSettings, Trust};
use nectr::review::ai::{AiInput, AiLimits, AiOutcome, ai_review};
use support::fake_models::{FakeModels, ModelsLimits};

const TOKEN: &str = "ghs_workflowTokenForModels0123456789abcdef";

fn settings(models: &FakeModels, extra: &[(&str, &str)]) -> LlmSettings {
    let url = models.url.clone();
    LlmSettings::resolve(&Default::default(), Trust::Operator, |k| match k {
        "NECTR_LLM_PROVIDER" => Some("github".into()),
        "GITHUB_TOKEN" => Some(TOKEN.into()),
        "NECTR_GITHUB_MODELS_URL" => Some(url.clone()),
        _ => extra
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string()),
    })
    .unwrap()
}

fn request(max_output_tokens: u32) -> CompletionRequest {
    CompletionRequest {
        system: "Review.".into(),
        user: "=== File: a.rs (added) ===\n@@ -0,0 +1,1 @@\n+     1 | fn a() {}\n".into(),
        max_output_tokens,
        response_schema: None,
    }
}

#[tokio::test]
async fn the_provider_uses_the_catalog_limits_the_token_and_the_org_path() {
    let models = FakeModels::start(ModelsLimits::default());
    models.grant(TOKEN);
    let s = settings(&models, &[]);
    assert_eq!(s.model, "openai/gpt-4.1-mini");
    let model = github_models::connect(&s).await.unwrap();
    let info = model.info();
    assert_eq!(info.provider, "github");
    assert_eq!(info.limits.max_input_tokens, Some(8_000));
    assert_eq!(info.limits.max_output_tokens, Some(4_000));
    assert_eq!(info.limits.requests_per_minute, Some(15), "low tier");
    assert!(!format!("{model:?}").contains(TOKEN));
    let c = model.complete(&request(16_000)).await.unwrap();
    assert!(c.text.contains("Fake Models finding"));
    let sent = models.completions();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/inference/chat/completions");
    assert_eq!(
        sent[0].body["max_tokens"], 4_000,
        "the reply cap is the tier's"
    );
    assert_eq!(
        models
            .requests()
            .iter()
            .filter(|r| r.path == "/catalog/models")
            .count(),
        1
    );
    // The catalog is asked once per run (cached), even for a second client.
    let again = github_models::connect(&s).await.unwrap();
    again.complete(&request(100)).await.unwrap();
    assert_eq!(
        models
            .requests()
            .iter()
            .filter(|r| r.path == "/catalog/models")
            .count(),
        1
    );

    // Organisation attribution, and a model the catalog gives smaller limits.
    let fresh = FakeModels::start(ModelsLimits::default());
    fresh.grant(TOKEN);
    fresh.set_catalog(serde_json::json!([
        {"id": "acme/small", "rate_limit_tier": "high",
         "limits": {"max_input_tokens": 4000, "max_output_tokens": 1000}}
    ]));
    let s = settings(
        &fresh,
        &[
            ("NECTR_GITHUB_MODELS_ORG", "acme"),
            ("NECTR_LLM_MODEL", "acme/small"),
        ],
    );
    let model = github_models::connect(&s).await.unwrap();
    assert_eq!(model.info().limits.max_input_tokens, Some(4_000));
    assert_eq!(model.info().limits.max_output_tokens, Some(1_000));
    assert_eq!(
        model.info().limits.requests_per_minute,
        Some(10),
        "high tier"
    );
    model.complete(&request(4_096)).await.unwrap();
    let sent = fresh.completions();
    assert_eq!(sent[0].path, "/orgs/acme/inference/chat/completions");
    assert_eq!(sent[0].body["max_tokens"], 1_000);
}

#[test]
fn a_repository_config_cannot_move_the_models_url() {
    let config = RepoConfig::parse(
        "llm:\n  provider: github\n  base_url: https://evil.example/\n",
        "test",
    )
    .unwrap();
    let s = LlmSettings::resolve(&config.config.llm, Trust::Operator, |k| {
        (k == "GITHUB_TOKEN").then(|| TOKEN.to_owned())
    })
    .unwrap();
    assert_eq!(s.base_url, github_models::BASE_URL);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("NECTR_GITHUB_MODELS_URL"))
    );
    let no_token = LlmSettings::resolve(&config.config.llm, Trust::Operator, |_| None).unwrap_err();
    assert!(no_token.to_string().contains("models: read"), "{no_token}");
}

// ---- A mixed set of pull requests ----

fn line(i: usize) -> String {
    format!("    let value_{i} = compute(input_{i}, {i} * 3); // step {i} of the pipeline")
}

fn added_file(path: &str, first: Option<&str>, n: usize) -> String {
    let mut out = format!(
        "diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{} @@\n",
        n + usize::from(first.is_some())
    );
    if let Some(first) = first {
        out.push_str(&format!("+{first}\n"));
    }
    for i in 0..n {
        out.push_str(&format!("+{}\n", line(i)));
    }
    out
}

/// A modified file with `hunks` hunks of `added` lines each, one context line around.
fn modified_file(path: &str, hunks: usize, added: usize) -> String {
    let mut out = format!("diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n");
    for h in 0..hunks {
        let old_start = 1 + h * 100;
        let new_start = old_start + h * added;
        out.push_str(&format!(
            "@@ -{old_start},2 +{new_start},{} @@\n context before {h}\n",
            added + 2
        ));
        for i in 0..added {
            out.push_str(&format!("+{}\n", line(h * 1000 + i)));
        }
        out.push_str(&format!(" context after {h}\n"));
    }
    out
}

fn mixed_set() -> Vec<(&'static str, String)> {
    let mut set = vec![("one small file", modified_file("src/lib.rs", 1, 5))];
    set.push((
        "lock, generated, minified and vendored files",
        [
            modified_file("Cargo.lock", 4, 50),
            added_file("web/package-lock.json", None, 80),
            added_file(
                "src/gen.rs",
                Some("// @generated by build.rs: DO NOT EDIT"),
                40,
            ),
            added_file("dist/app.min.js", None, 3),
            added_file("vendor/lib/x.go", None, 20),
            modified_file("src/main.rs", 2, 10),
        ]
        .concat(),
    ));
    set.push((
        "forty files",
        (0..40)
            .map(|i| added_file(&format!("src/m{i}.rs"), None, 30))
            .collect(),
    ));
    set.push((
        "three 400-line files",
        (0..3)
            .map(|i| added_file(&format!("src/big{i}.rs"), None, 400))
            .collect(),
    ));
    set.push((
        "6,000 added lines in 20 modified files",
        (0..20)
            .map(|i| modified_file(&format!("src/w{i}.rs"), 10, 30))
            .collect(),
    ));
    set.push((
        "one new file of 6,000 lines",
        added_file("src/huge.rs", None, 6_000),
    ));
    set
}

async fn review(model: &GitHubModels, diff_text: &str) -> AiOutcome {
    let diff = nectr::diff::parse(diff_text).unwrap();
    let config = RepoConfig::default();
    ai_review(
        model,
        AiInput {
            diff: &diff,
            config: &config,
            pr_title: "A change",
            pr_body: "Please review.",
            context: Vec::new(),
            rule_findings: &[],
            files: None,
        },
        &AiLimits::default(),
    )
    .await
}

#[tokio::test]
async fn every_pr_of_a_mixed_set_is_reviewed_within_the_limits_or_its_files_named() {
    // The fake allows 10 requests a second (a short window keeps the test fast); the client
    // paces itself to 8.
    let models = FakeModels::start(ModelsLimits {
        rpm: 10,
        window: Duration::from_secs(1),
        ..ModelsLimits::default()
    });
    models.grant(TOKEN);
    let model = github_models::connect(&settings(&models, &[]))
        .await
        .unwrap()
        .with_rate(8, Duration::from_secs(1));
    for (name, text) in mixed_set() {
        models.clear();
        let out = review(&model, &text).await;
        assert_eq!(out.failure, None, "{name}");
        let sent = models.completions();
        assert!(
            sent.len() <= AiLimits::default().max_llm_calls as usize,
            "{name}"
        );
        for r in &sent {
            assert_eq!(r.status, 200, "{name}: {} tokens", r.input_tokens);
            assert!(r.input_tokens <= 8_000, "{name}");
            assert!(r.body["max_tokens"].as_u64().unwrap() <= 4_000, "{name}");
            for never in [
                "Cargo.lock",
                "package-lock.json",
                "src/gen.rs",
                "app.min.js",
                "vendor/",
            ] {
                assert!(
                    !r.user().contains(&format!("=== File: {never}")),
                    "{name}: {never} sent"
                );
            }
        }
        let diff = nectr::diff::parse(&text).unwrap();
        for file in &diff.files {
            let path = file.path();
            let found = out.findings.iter().any(|f| f.finding.path == path);
            let skipped = out.skipped_files.iter().find(|s| s.path == path);
            assert!(
                found || skipped.is_some(),
                "{name}: {path} neither reviewed nor named as skipped"
            );
            if let Some(s) = skipped {
                assert!(!s.reason.trim().is_empty(), "{name}: {path}");
            }
        }
        match name {
            "one small file" => assert_eq!(sent.len(), 1),
            "lock, generated, minified and vendored files" => {
                let reason = |p: &str| {
                    out.skipped_files
                        .iter()
                        .find(|s| s.path == p)
                        .map(|s| s.reason.clone())
                        .unwrap_or_default()
                };
                assert!(reason("Cargo.lock").contains("lock file"));
                assert!(reason("web/package-lock.json").contains("lock file"));
                assert!(reason("src/gen.rs").contains("generated"));
                assert!(reason("dist/app.min.js").contains("minified"));
                assert!(reason("vendor/lib/x.go").contains("vendored"));
                assert!(out.findings.iter().any(|f| f.finding.path == "src/main.rs"));
            }
            "one new file of 6,000 lines" => {
                let s = &out.skipped_files[0];
                assert_eq!(s.path, "src/huge.rs");
                assert!(s.reason.contains("too large"), "{}", s.reason);
            }
            "6,000 added lines in 20 modified files" => {
                assert_eq!(sent.len(), 8, "the review's call budget");
                assert!(
                    out.skipped_files
                        .iter()
                        .any(|s| s.reason.contains("llm.max_llm_calls"))
                );
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn lock_files_go_to_the_model_when_the_config_says_so() {
    let models = FakeModels::start(ModelsLimits::default());
    models.grant(TOKEN);
    let model = github_models::connect(&settings(&models, &[]))
        .await
        .unwrap();
    let text = [
        modified_file("Cargo.lock", 1, 5),
        modified_file("src/a.rs", 1, 5),
    ]
    .concat();
    let diff = nectr::diff::parse(&text).unwrap();
    let config = RepoConfig::parse("llm:\n  include_generated: true\n", "test").unwrap();
    let out = ai_review(
        &model,
        AiInput {
            diff: &diff,
            config: &config.config,
            pr_title: "t",
            pr_body: "",
            context: Vec::new(),
            rule_findings: &[],
            files: None,
        },
        &AiLimits::default(),
    )
    .await;
    assert_eq!(out.failure, None);
    assert!(out.skipped_files.is_empty(), "{:?}", out.skipped_files);
    assert!(
        models.completions()[0]
            .user()
            .contains("=== File: Cargo.lock")
    );
}

#[tokio::test]
async fn a_per_minute_429_is_waited_out_with_the_servers_retry_after() {
    // Two requests a second at the fake; the client does not pace (100 a second).
    let models = FakeModels::start(ModelsLimits {
        rpm: 2,
        window: Duration::from_secs(1),
        ..ModelsLimits::default()
    });
    models.grant(TOKEN);
    let model = github_models::connect(&settings(&models, &[]))
        .await
        .unwrap()
        .with_rate(100, Duration::from_secs(1));
    let text: String = (0..4)
        .map(|i| added_file(&format!("src/r{i}.rs"), None, 120))
        .collect();
    let out = review(&model, &text).await;
    assert_eq!(out.failure, None);
    assert!(
        out.notes.iter().all(|n| !n.contains("failed")),
        "{:?}",
        out.notes
    );
    let sent = models.completions();
    assert!(
        sent.iter().any(|r| r.status == 429),
        "the rate was hit: {:?} {:?}",
        sent.iter()
            .map(|r| (r.status, r.input_tokens))
            .collect::<Vec<_>>(),
        out.skipped_files
    );
    let ok = sent.iter().filter(|r| r.status == 200).count();
    assert!(ok >= 2, "{ok}");
    for i in 0..4 {
        let path = format!("src/r{i}.rs");
        assert!(
            out.findings.iter().any(|f| f.finding.path == path),
            "{path}"
        );
    }
}

#[tokio::test]
async fn no_entitlement_and_a_spent_quota_fail_fast_with_one_plain_reason() {
    let text: String = (0..20)
        .map(|i| added_file(&format!("src/q{i}.rs"), None, 120))
        .collect();

    let models = FakeModels::start(ModelsLimits::default());
    models.deny(TOKEN);
    let model = github_models::connect(&settings(&models, &[]))
        .await
        .unwrap();
    let out = review(&model, &text).await;
    let why = out.failure.expect("no AI review");
    assert!(why.contains("permissions: models: read"), "{why}");
    assert!(!why.contains(TOKEN));
    assert!(
        models.completions().len() <= github_models::MAX_CONCURRENT,
        "later calls fail without a request: {:?}",
        models
            .requests()
            .iter()
            .map(|r| (r.path.clone(), r.status))
            .collect::<Vec<_>>()
    );

    let models = FakeModels::start(ModelsLimits::default());
    models.grant(TOKEN);
    models.spend_daily_quota();
    let model = github_models::connect(&settings(&models, &[]))
        .await
        .unwrap();
    let out = review(&model, &text).await;
    let why = out.failure.expect("no AI review");
    assert!(why.contains("used up (it resets in about 7 h)"), "{why}");
    assert!(models.completions().len() <= github_models::MAX_CONCURRENT);
}

// ---- BENCHMARKS.md: GitHub round trips before the first model call ----

/// `cargo test --test github_models -- --ignored --nocapture bench_`: `nectr review
/// --repo --pr` against the fake GitHub with every request delayed by `delay` ms (a
/// round trip), GitHub Models faked; prints the GitHub requests made and the wall time
/// before the first model call arrives.
#[test]
#[ignore]
fn bench_github_round_trips_before_the_first_model_call() {
    use support::fake_github::{Access, FakeGitHub, Fault, FaultKind, PullSpec};
    for delay in [0u64, 50] {
        let mut samples = Vec::new();
        for _ in 0..5 {
            let fake = FakeGitHub::start_blocking();
            fake.add_token(TOKEN, "nectr-bot", Access::Write, "repo");
            fake.add_repo("acme/app");
            let diff = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pr.diff"),
            )
            .unwrap();
            fake.add_pull("acme/app", PullSpec::new(5, diff));
            if delay > 0 {
                fake.inject(Fault {
                    method: "*",
                    path_contains: "",
                    kind: FaultKind::Delay { millis: delay },
                    times: 10_000,
                });
            }
            let models = FakeModels::start(ModelsLimits::default());
            models.grant(TOKEN);
            let started = std::time::Instant::now();
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nectr"))
                .args([
                    "review", "--repo", "acme/app", "--pr", "5", "--format", "json",
                ])
                .env_clear()
                .env("GITHUB_TOKEN", TOKEN)
                .env("GITHUB_API_URL", &fake.url)
                .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
                .env("NECTR_LLM_PROVIDER", "github")
                .env("NECTR_GITHUB_MODELS_URL", &models.url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let mut before = None;
            while before.is_none() {
                if let Some(first) = models.completions().first() {
                    before = Some((fake.requests().len(), first.at - started));
                }
                if child.try_wait().unwrap().is_some() && before.is_none() {
                    panic!("nectr exited before calling the model");
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            child.wait().unwrap();
            samples.push(before.unwrap());
        }
        samples.sort_by_key(|s| s.1);
        let (requests, median) = samples[samples.len() / 2];
        println!(
            "delay {delay} ms: {requests} GitHub requests before the first model call, median {} ms",
            median.as_millis()
        );
    }
}
