//! `nectr review`: review a diff and print it in the chosen format.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::ColorChoice;
use crate::config::{LoadedConfig, RepoConfig};
use crate::error::{EXIT_FINDINGS, InputError};
use crate::review::finding::Severity;
use crate::review::render::{self, Format, RenderOptions};

/// `nectr review --help`: what a user needs to run it without the docs.
const AFTER_HELP: &str = "\
Examples:
  git diff main... | nectr review --diff -          review local changes, one line per finding
  nectr review --diff change.patch --verbose       ... with each rule's explanation
  nectr review --diff - --format sarif > nectr.sarif
  nectr review --repo octo/app --pr 42 --dry-run   print what would be posted, post nothing
  nectr review --repo octo/app --pr 42             post the review and print its URL
  nectr review --replay bundles/pr-42              a bundle from `nectr record`, offline

Environment:
  GITHUB_TOKEN, GITHUB_PAT    token for --repo/--event (else `gh auth token`)
  GITHUB_API_URL              GitHub Enterprise API URL (default https://api.github.com)
  NECTR_LLM_API_KEY           turn the AI review on (with NECTR_LLM_PROVIDER / llm.provider);
  OPENAI_API_KEY              ... or these, when NECTR_LLM_* is unset: OpenAI's key selects
  ANTHROPIC_API_KEY               openai, Anthropic's selects anthropic
  NECTR_LLM_PROVIDER, NECTR_LLM_MODEL, NECTR_LLM_BASE_URL   override .nectr.yml's llm:
  NO_COLOR                    no colours in text output

Exit codes:
  0  reviewed (findings below --fail-on, or none)
  1  a finding at or above --fail-on
  2  bad input or configuration: unreadable diff, invalid .nectr.yml, bad token or repository
  3  GitHub or the model failed after retries

Reference: docs/interface.md (every command, flag, format and exit code).";

#[derive(Debug, Args)]
#[command(
    group(clap::ArgGroup::new("input").required(true).args(["diff", "event", "repo", "replay"])),
    after_help = AFTER_HELP
)]
pub struct ReviewArgs {
    /// The unified diff to review offline: a file, or `-` for standard input.
    #[arg(long, value_name = "PATH|-")]
    pub diff: Option<PathBuf>,

    /// Review the pull request of a saved `pull_request` event payload.
    #[arg(long, value_name = "PATH")]
    pub event: Option<PathBuf>,

    /// Review a pull request by repository and number (with --pr).
    #[arg(long, value_name = "OWNER/NAME", requires = "pr")]
    pub repo: Option<String>,

    /// The pull request number (with --repo).
    #[arg(long, value_name = "N", requires = "repo")]
    pub pr: Option<u64>,

    /// Replay a bundle written by `nectr record`, offline.
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,

    /// Do everything but write to GitHub; print what would be posted.
    #[arg(long)]
    pub dry_run: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Repository config file [default: .nectr.yml or .nectr.yaml in the current directory].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Exit with code 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::Never)]
    pub fail_on: FailOn,

    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Text format: each finding's explanation, the files not reviewed and the notes too.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// No progress or status lines on stderr (warnings and errors still show).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Markdown,
    Json,
    Sarif,
}

impl From<OutputFormat> for Format {
    fn from(f: OutputFormat) -> Format {
        match f {
            OutputFormat::Text => Format::Text,
            OutputFormat::Markdown => Format::Markdown,
            OutputFormat::Json => Format::Json,
            OutputFormat::Sarif => Format::Sarif,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Never,
    Critical,
    Major,
    Minor,
}

impl FailOn {
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Never => None,
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Major => Some(Severity::Major),
            FailOn::Minor => Some(Severity::Minor),
        }
    }
}

/// Load `--config`, or discover `.nectr.yml` in the current directory. Warnings go to
/// stderr.
pub fn load_config(path: Option<&std::path::Path>) -> Result<LoadedConfig> {
    let loaded = match path {
        Some(p) => RepoConfig::load(p)?,
        None => RepoConfig::discover(std::path::Path::new("."))?,
    };
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(loaded)
}

/// Read the diff text from a file or stdin. Bytes that are not UTF-8 (a Latin-1 source
/// file in the diff) are replaced rather than refused: line numbers stay right.
fn read_diff(path: &std::path::Path) -> Result<String> {
    let mut bytes = Vec::new();
    let shown = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("cannot read the diff from standard input")?;
        "standard input".to_owned()
    } else {
        bytes = std::fs::read(path).map_err(|e| {
            InputError(format!(
                "cannot read diff {}: {e} (pass a file written by `git diff`, or `-` to read standard input)",
                path.display()
            ))
        })?;
        path.display().to_string()
    };
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            eprintln!(
                "warning: {shown} is not valid UTF-8; invalid bytes are shown as U+FFFD in the review"
            );
            Ok(String::from_utf8_lossy(e.as_bytes()).into_owned())
        }
    }
}

pub fn run(args: ReviewArgs) -> Result<u8> {
    // Progress (AI calls) only for a person watching a terminal.
    crate::progress::enable_on_terminal(args.quiet);
    if args.diff.is_none() {
        return super::github_review::run(args);
    }
    run_diff(args)
}

/// Whether to colour text output.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

/// The exit code for a review under `--fail-on`.
pub fn exit_code_for(review: &crate::review::Review, fail_on: FailOn) -> u8 {
    let failed = fail_on
        .threshold()
        .is_some_and(|t| review.has_findings_at_least(t));
    if failed { EXIT_FINDINGS } else { 0 }
}

fn run_diff(args: ReviewArgs) -> Result<u8> {
    let diff_path = args.diff.clone().unwrap_or_default();
    let config = load_config(args.config.as_deref())?;
    let (rules, rule_warnings) = crate::pipeline::rule_set(&config)?;
    for warning in &rule_warnings {
        eprintln!("warning: {warning}");
    }
    let text = read_diff(&diff_path)?;
    let shown = if diff_path.as_os_str() == "-" {
        "standard input".to_owned()
    } else {
        diff_path.display().to_string()
    };
    let diff =
        crate::diff::parse(&text).with_context(|| format!("{shown} is not a usable diff"))?;
    if diff.files.is_empty() {
        eprintln!("nectr: {shown} contains no changes; nothing to review");
    }
    // The rules alone need no runtime (and start in a millisecond); a model needs one.
    let review = match crate::llm::from_config(&config.config.llm, crate::llm::Trust::Operator)? {
        None => crate::pipeline::review_diff(&diff, &rules, &config, None),
        Some(model) => {
            crate::github::transport::install_crypto_provider();
            super::runtime()?.block_on(crate::pipeline::review_diff_with_model(
                &diff,
                &rules,
                &config,
                None,
                crate::pipeline::PrText::default(),
                Some(model.as_ref()),
            ))
        }
    };

    let color = use_color(args.color);
    let output = render::render(
        &review,
        args.format.into(),
        RenderOptions {
            color,
            verbose: args.verbose,
        },
    );
    super::print_stdout(&output)?;
    Ok(exit_code_for(&review, args.fail_on))
}
