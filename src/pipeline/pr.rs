//! Reviewing a pull request on GitHub: fetch → review → publish. The CLI (`--event`,
//! `--repo/--pr`, `--replay`), `nectr record`, `nectr action` and the `nectr serve` worker
//! all run this.
//!
//! The caller says how far the repository's config is trusted ([`Trust`]): under
//! `nectr serve` ([`Trust::Repository`]) the `llm:` section may not choose where the prompt
//! goes ([`crate::llm::settings`]), the AI budgets may only be lowered, and the review has a
//! wall-clock deadline ([`REVIEW_DEADLINE_VAR`], default [`DEFAULT_SERVE_DEADLINE`]): the AI
//! part stops at four fifths of it (the review is posted with the rule findings and says
//! the AI part timed out), and a review still unfinished at the deadline fails with an
//! error instead of holding a worker.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::{DEFAULT_FILE_NAMES, LoadedConfig, RepoConfig};
use crate::context::{self, ContextSources};
use crate::error::InputError;
use crate::github::GitHub;
use crate::github::types::{PrFile, PullRequest};
use crate::llm::LanguageModel;
pub use crate::llm::Trust;
use crate::publish::{self, Identity, Publication};
use crate::review::{PrRef, Review};

use super::incremental::{self, Scope};

/// Where the repository config comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// A local file (`--config`, `NECTR_CONFIG`).
    File(PathBuf),
    /// `.nectr.yml` in the repository at this ref (the head for `pull_request`, the base
    /// for `pull_request_target`, so a PR cannot weaken its own review).
    Repo { git_ref: String },
}

pub struct PrReviewRequest<'a> {
    pub gh: &'a GitHub,
    pub repo: &'a str,
    pub number: u64,
    /// The PR as the event payload had it; fetched when `None`.
    pub pull: Option<PullRequest>,
    /// When `None`, the PR's head is used.
    pub config: Option<ConfigSource>,
    pub dry_run: bool,
    pub identity: Option<Identity>,
    /// The AI reviewer; `None`: the one `.nectr.yml` and `NECTR_LLM_*` name, if any.
    pub model: Option<Arc<dyn LanguageModel>>,
    /// The knowledge graph, memories and operator MCP servers; `None`: no context (the
    /// repository's own MCP servers are not asked either).
    pub context: Option<Arc<ContextSources>>,
    /// Who wrote the config: [`Trust::Repository`] under `nectr serve`, where it is a
    /// tenant's; [`Trust::Operator`] for local runs and the Action.
    pub trust: Trust,
    /// `nectr action`: when neither `.nectr.yml` nor `NECTR_LLM_*` names a provider, use
    /// GitHub Models with the workflow token (see `llm::github_models::model_for`).
    pub zero_config_llm: Option<crate::llm::github_models::ZeroConfig>,
    /// `Some(why)`: no AI review at all, whatever `.nectr.yml` and the environment say —
    /// no model is built and no call is made (`nectr serve`: the repository's dashboard
    /// setting). The summary says "No AI review: {why}.". It can only turn the AI off.
    pub ai_off: Option<String>,
    /// Recorded in the review's marker as the run that posted it (`nectr serve`: the
    /// delivery id of a dashboard re-review), so a retry of that run finds its own review
    /// instead of posting again.
    pub run_id: Option<String>,
}

/// The operator's per-review wall-clock limit, in seconds.
pub const REVIEW_DEADLINE_VAR: &str = "NECTR_REVIEW_DEADLINE_SECS";
/// The limit under `nectr serve` when [`REVIEW_DEADLINE_VAR`] is not set. Local runs have
/// none unless it is set.
pub const DEFAULT_SERVE_DEADLINE: Duration = Duration::from_secs(300);

/// The review's deadline: [`REVIEW_DEADLINE_VAR`] from `env` if set, else
/// [`DEFAULT_SERVE_DEADLINE`] for [`Trust::Repository`] and none for [`Trust::Operator`].
pub fn review_deadline(
    trust: Trust,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, InputError> {
    match env(REVIEW_DEADLINE_VAR).filter(|v| !v.trim().is_empty()) {
        Some(v) => match v.trim().parse::<u64>() {
            Ok(secs) if secs > 0 => Ok(Some(Duration::from_secs(secs))),
            _ => Err(InputError(format!(
                "{REVIEW_DEADLINE_VAR} must be a whole number of seconds above 0, not {v:?}; fix or unset it"
            ))),
        },
        None => Ok((trust == Trust::Repository).then_some(DEFAULT_SERVE_DEADLINE)),
    }
}

/// Under [`Trust::Repository`] the config's AI budgets may lower the defaults, never raise
/// them: calls and tokens are the operator's money and the workers' time.
pub fn clamp_repository_budgets(config: &mut crate::config::RepoConfig) {
    use crate::review::ai::{DEFAULT_MAX_INPUT_TOKENS, DEFAULT_MAX_LLM_CALLS, files};
    let llm = &mut config.llm;
    llm.max_llm_calls = Some(
        llm.max_llm_calls
            .map_or(DEFAULT_MAX_LLM_CALLS, |n| n.min(DEFAULT_MAX_LLM_CALLS)),
    );
    llm.max_input_tokens = Some(llm.max_input_tokens.map_or(DEFAULT_MAX_INPUT_TOKENS, |n| {
        n.min(DEFAULT_MAX_INPUT_TOKENS)
    }));
    llm.full_files = Some(llm.full_files.map_or(files::DEFAULT_FULL_FILES, |n| {
        n.min(files::DEFAULT_FULL_FILES)
    }));
}

pub struct PrReviewOutcome {
    pub pull: PullRequest,
    pub review: Review,
    /// `None` for a dry run.
    pub publication: Option<Publication>,
    /// What was posted, or in a dry run what would have been (no review id or URL then).
    pub planned: Publication,
    /// The summary as posted (or as it would be).
    pub body: String,
    pub config_warnings: Vec<String>,
    /// What the review's context held ([`context::Gathered::used`]), for the dashboard.
    pub context_used: Vec<context::ContextUse>,
}

/// Parse the diff GitHub sent for `repo#number`. GitHub's diffs always parse; one that does
/// not is a remote problem (exit 3) worth reporting, not the user's input.
pub fn parse_pr_diff<'a>(repo: &str, number: u64, text: &'a str) -> Result<crate::diff::Diff<'a>> {
    crate::diff::parse(text).map_err(|e| {
        crate::error::RemoteError(format!(
            "GitHub sent a diff for {repo}#{number} that Nectr cannot parse ({e}); please report this"
        ))
        .into()
    })
}

/// The PR's unified diff: GitHub's `.diff`, or — when GitHub answers 406 because it is
/// too large — a diff rebuilt from the paginated files endpoint.
pub async fn fetch_diff(gh: &GitHub, repo: &str, number: u64) -> Result<String> {
    if let Some(diff) = gh.pull_diff(repo, number).await? {
        return Ok(diff);
    }
    crate::error::notice(&format!(
        "nectr: the diff of {repo}#{number} is too large for GitHub's .diff; using the files list"
    ));
    let files = gh.pull_files(repo, number).await?;
    Ok(diff_from_files(&files))
}

/// A git-style diff from the files endpoint's per-file patches.
pub fn diff_from_files(files: &[PrFile]) -> String {
    let mut out = String::new();
    for f in files {
        let old = f.previous_filename.as_deref().unwrap_or(&f.filename);
        let _ = writeln!(out, "diff --git a/{old} b/{}", f.filename);
        if f.status == "renamed" {
            let _ = writeln!(out, "rename from {old}\nrename to {}", f.filename);
        }
        let (minus, plus) = match f.status.as_str() {
            "added" => ("/dev/null".to_owned(), format!("b/{}", f.filename)),
            "removed" => (format!("a/{old}"), "/dev/null".to_owned()),
            _ => (format!("a/{old}"), format!("b/{}", f.filename)),
        };
        match f.patch.as_deref().filter(|p| !p.is_empty()) {
            Some(patch) => {
                let _ = writeln!(out, "--- {minus}\n+++ {plus}");
                out.push_str(patch);
                if !patch.ends_with('\n') {
                    out.push('\n');
                }
            }
            // GitHub omits the patch of binary and very large files.
            None if f.additions + f.deletions > 0
                || f.status == "added"
                || f.status == "removed" =>
            {
                let _ = writeln!(out, "Binary files {minus} and {plus} differ");
            }
            None => {}
        }
    }
    out
}

/// Load the config from where `source` says.
pub async fn load_config(gh: &GitHub, repo: &str, source: &ConfigSource) -> Result<LoadedConfig> {
    match source {
        ConfigSource::File(path) => Ok(RepoConfig::load(path)?),
        ConfigSource::Repo { git_ref } => {
            for name in DEFAULT_FILE_NAMES {
                if let Some(bytes) = gh.file_content_raw(repo, name, git_ref).await? {
                    let short: String = git_ref.chars().take(12).collect();
                    // Refused before it is parsed (or even decoded): see MAX_CONFIG_BYTES.
                    if bytes.len() > crate::config::MAX_CONFIG_BYTES {
                        return Err(crate::config::too_big(
                            &format!("{name} ({repo}@{short})"),
                            bytes.len() as u64,
                        )
                        .into());
                    }
                    let text = String::from_utf8(bytes).map_err(|_| {
                        InputError(format!("{repo}:{name} at {git_ref} is not UTF-8 text"))
                    })?;
                    return Ok(RepoConfig::parse(
                        &text,
                        &format!("{name} ({repo}@{short})"),
                    )?);
                }
            }
            Ok(LoadedConfig::default())
        }
    }
}

/// Fetch, review and publish one pull request, within the review's deadline (see the
/// module docs).
pub async fn review_pull_request(req: PrReviewRequest<'_>) -> Result<PrReviewOutcome> {
    review_pull_request_with(req, None).await
}

/// [`review_pull_request`]; `full_because`: review all of the PR with the model even when
/// an incremental review would do (someone asked with `/nectr review`), with this reason
/// in the summary.
pub async fn review_pull_request_with(
    req: PrReviewRequest<'_>,
    full_because: Option<String>,
) -> Result<PrReviewOutcome> {
    let deadline = review_deadline(req.trust, |k| std::env::var(k).ok())?;
    let Some(limit) = deadline else {
        return review_within(req, full_because, None).await;
    };
    let started = tokio::time::Instant::now();
    // The AI part stops at four fifths of the limit, leaving the rest for posting.
    let ai_deadline = started + limit.mul_f64(0.8);
    let (repo, number) = (req.repo.to_owned(), req.number);
    match tokio::time::timeout_at(
        started + limit,
        review_within(req, full_because, Some(ai_deadline)),
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(_) => Err(InputError(format!(
            "the review of {repo}#{number} did not finish within {} s ({REVIEW_DEADLINE_VAR}); nothing was posted or the post was cut short — a slow GitHub or context source is the usual cause",
            limit.as_secs()
        ))
        .into()),
    }
}

async fn review_within(
    req: PrReviewRequest<'_>,
    full_because: Option<String>,
    ai_deadline: Option<tokio::time::Instant>,
) -> Result<PrReviewOutcome> {
    let started = Instant::now();
    let gh = req.gh;
    // A terminal user sees each step and its time; cleared however this returns.
    let _clear = crate::progress::Finish;
    crate::progress::step(&format!("fetching {}#{}", req.repo, req.number));
    let pull = match req.pull {
        Some(p) => p,
        None => gh
            .pull(req.repo, req.number)
            .await
            .with_context(|| format!("cannot fetch pull request {}#{}", req.repo, req.number))?,
    };
    let head_sha = pull.head.sha.clone();
    let source = req.config.unwrap_or(ConfigSource::Repo {
        git_ref: head_sha.clone(),
    });
    // The diff, the config and Nectr's earlier reviews do not depend on each other: one
    // round trip's wait instead of three (BENCHMARKS.md, "Before the first model call").
    let (diff_text, mut config, earlier) = tokio::try_join!(
        fetch_diff(gh, req.repo, req.number),
        load_config(gh, req.repo, &source),
        async {
            publish::earlier_reviews(gh, req.repo, req.number, req.identity)
                .await
                .map_err(anyhow::Error::from)
        },
    )?;
    if req.trust == Trust::Repository {
        clamp_repository_budgets(&mut config.config);
    }
    let (rules, mut warnings) = super::cpu_bound(|| super::rule_set(&config))?;
    warnings.splice(0..0, config.warnings.iter().cloned());
    let diff = super::cpu_bound(|| parse_pr_diff(req.repo, req.number, &diff_text))?;
    let pr = PrRef {
        repo: req.repo.to_owned(),
        number: req.number,
        head_sha: head_sha.clone(),
    };
    // The model: the caller's, else the one `.nectr.yml` and the environment name (if any).
    let (model, llm_note) = match (req.model, &req.ai_off) {
        (_, Some(why)) => (None, Some(why.clone())),
        (Some(model), None) => (Some(model), None),
        (None, None) => {
            crate::llm::github_models::model_for(
                &config.config.llm,
                req.zero_config_llm.as_ref(),
                req.trust,
                |k| std::env::var(k).ok(),
                &mut warnings,
            )
            .await?
        }
    };
    // Whole files at the head for the rules, where the diff alone cannot decide a
    // finding (one GraphQL query, none when the diff decides them all); kept for the AI
    // reviewer's whole-file context.
    let head_files = super::head_files::HeadFiles::new(gh, req.repo, &head_sha);
    let mut wanted =
        super::cpu_bound(|| super::head_context::wanted_paths(&diff, &rules, &config.config));
    if model.is_some() && !wanted.is_empty() {
        // The same query brings what the AI reviewer will ask for whole.
        wanted = super::head_context::with_ai_candidates(&diff, &config.config, wanted);
    }
    // Context before the review: every source at once, each time-boxed (never an error).
    let sources = req.context;
    let facts = super::context::pr_facts(req.repo, &pull, &diff);
    // Context, the incremental decision (a compare request) and the head files at once.
    crate::progress::step(&format!(
        "reading context and earlier reviews of {}#{}",
        req.repo, req.number
    ));
    let previous = earlier.previous.as_ref();
    let (gathered, decision, fetched) = tokio::join!(
        async {
            match &sources {
                Some(sources) => context::gather(sources, &config.config, &facts).await,
                None => context::Gathered::default(),
            }
        },
        incremental::decide(
            gh,
            req.repo,
            &pull,
            &config.config,
            model.is_some(),
            previous.map(|p| &p.marker),
            full_because,
        ),
        head_files.prefetch(&wanted),
    );
    let scope = decision.scope;
    let head = super::HeadTexts::fetched(&diff, fetched);
    let pr_text = super::PrText {
        title: &pull.title,
        body: pull.body.as_deref().unwrap_or(""),
        context: gathered.prompt_sections(),
        files: Some(&head_files),
    };
    // Nectr's own earlier review decided (above) whether the AI reviewer sees all of the
    // PR or only what changed since (see `incremental`).
    let (ai_diff, carried) = match (&scope, previous) {
        (Scope::Incremental(increment), Some(previous)) => (
            Some(increment.ai_diff(&diff)),
            increment.carry_forward(previous, &diff),
        ),
        _ => (None, Vec::new()),
    };
    let mut review = super::review_diff_with_model_scoped(
        &diff,
        ai_diff.as_ref(),
        &rules,
        &config,
        Some(pr.clone()),
        pr_text,
        model.as_deref(),
        ai_deadline,
        &head,
    )
    .await;
    let ai_files = ai_diff.as_ref().map_or(diff.files.len(), |d| d.files.len());
    if let Some(note) = llm_note {
        review.notes.push(format!("No AI review: {note}."));
    }
    let ai_complete = incremental::finish(
        &mut review,
        &scope,
        carried,
        &diff,
        config.config.max_inline_comments,
        ai_files,
    );
    review.stats.new_commits = decision.new_commits;
    let cap = config.config.max_inline_comments;
    let sentry_notes = gathered.mcp.sentry_line_notes(&diff);
    if !sentry_notes.is_empty() {
        super::add_findings(&mut review, sentry_notes, &diff, cap);
    }
    if let Some(sources) = &sources
        && let Some(note) = context::apply_feedback(sources, req.repo, &mut review, cap).await
    {
        review.notes.push(note);
    }
    review.context = gathered.summary_lines();
    for source in &gathered.unavailable {
        review.notes.push(format!("Context unavailable: {source}."));
    }
    // Which of Nectr's earlier comments were resolved by hand: only worth a query when
    // there are such comments and the outcome will be recorded.
    let resolved_threads = match &earlier.previous {
        Some(p) if !p.comments.is_empty() && sources.is_some() && !req.dry_run => {
            match gh.resolved_review_threads(req.repo, req.number).await {
                Ok(ids) => ids,
                Err(e) => {
                    crate::error::notice(&format!(
                        "nectr: cannot read which review threads were resolved ({e}); dismissed comments are not recorded this time"
                    ));
                    Default::default()
                }
            }
        }
        _ => Default::default(),
    };
    let feedback = earlier
        .previous
        .as_ref()
        .map(|p| super::context::comment_feedback(p, &review, &diff, &resolved_threads))
        .unwrap_or_default();
    let record = publish::RunRecord {
        base_ref: Some(pull.base.name.clone()),
        ai_complete,
        on_clean: config.config.review.on_clean,
        run: req.run_id.clone(),
    };
    if !req.dry_run {
        crate::progress::step(&format!(
            "posting the review on {}#{}",
            req.repo, req.number
        ));
    }
    let publication =
        publish::publish_with(gh, &pr, &review, &diff, earlier, &record, req.dry_run).await?;
    // After posting: index the PR and store what lasts. A dry run changes nothing anywhere.
    if let Some(sources) = sources.as_deref()
        && !req.dry_run
    {
        crate::progress::step("recording what this review learned");
        for problem in context::learn(sources, &config.config, &facts, &review, &feedback).await {
            crate::error::notice(&format!("nectr: could not record context: {problem}"));
        }
    }
    review.stats.github_calls = gh.calls();
    review.stats.elapsed_ms = started.elapsed().as_millis() as u64;
    let body = publication.body.clone();
    Ok(PrReviewOutcome {
        pull,
        review,
        publication: (!req.dry_run).then(|| publication.clone()),
        planned: publication,
        body,
        config_warnings: warnings,
        context_used: gathered.used(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, status: &str, patch: Option<&str>, prev: Option<&str>) -> PrFile {
        PrFile {
            filename: name.into(),
            status: status.into(),
            previous_filename: prev.map(Into::into),
            additions: 1,
            deletions: 0,
            patch: patch.map(Into::into),
        }
    }

    #[test]
    fn files_become_a_parseable_diff() {
        let files = vec![
            file(
                "src/a.rs",
                "modified",
                Some("@@ -1,2 +1,2 @@\n x\n-y\n+z"),
                None,
            ),
            file("new.txt", "added", Some("@@ -0,0 +1 @@\n+hello"), None),
            file("logo.png", "added", None, None),
            file(
                "b.rs",
                "renamed",
                Some("@@ -3 +3 @@\n-a\n+b"),
                Some("old/b.rs"),
            ),
        ];
        let text = diff_from_files(&files);
        let diff = crate::diff::parse(&text).unwrap();
        assert_eq!(diff.files.len(), 4);
        assert_eq!(diff.files[0].path(), "src/a.rs");
        assert!(diff.files[0].is_commentable(crate::diff::Side::Right, 2));
        assert_eq!(diff.files[1].status, crate::diff::FileStatus::Added);
        assert!(diff.files[2].binary);
        assert_eq!(diff.files[3].old_path.as_deref(), Some("old/b.rs"));
        assert_eq!(diff.files[3].status, crate::diff::FileStatus::Renamed);
    }
}
