//! Language models behind one small trait: what the AI review asks ([`CompletionRequest`])
//! and what comes back ([`Completion`]). Providers (OpenAI-compatible chat completions,
//! Anthropic Messages) implement [`LanguageModel`]; the review code never sees HTTP, keys or
//! provider JSON.
//!
//! Building one: [`LlmSettings::resolve`] merges `.nectr.yml` and the environment,
//! [`from_settings`] turns that into `Option<Arc<dyn LanguageModel>>` (`None` for provider
//! `none`); [`from_config`] does both with the process environment. `openai.rs` and
//! `anthropic.rs` are the two adapters; `http.rs` is their shared client, timeout and retry
//! policy.
//!
//! Invariants every implementation keeps:
//! - The API key never appears in an error, a log line or `Debug` output; errors name the
//!   endpoint (without query secrets) and the model instead.
//! - `complete` returns within its per-call timeout, retries 429 and 5xx with backoff
//!   (honouring `retry-after`) and never retries a request the server accepted.
//! - Usage (input/output tokens) is taken from the provider's reply when it reports it.

pub mod anthropic;
pub mod github_models;
pub mod http;
pub mod openai;
pub mod price;
pub mod settings;

pub use anthropic::Anthropic;
pub use github_models::GitHubModels;
pub use http::{ApiKey, HttpOptions};
pub use openai::OpenAiCompatible;
pub use settings::{LlmSettings, ProviderKind, Trust, from_config, from_settings};

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future, so `dyn LanguageModel` works.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One request to a model. `user` may carry untrusted text (the PR, the diff); the caller
/// delimits it and says so in `system`.
#[derive(Clone, Debug, PartialEq)]
pub struct CompletionRequest {
    pub system: String,
    pub user: String,
    /// Upper bound on the reply's length.
    pub max_output_tokens: u32,
    /// A JSON Schema for the reply. Providers with structured output enforce it (OpenAI
    /// `response_format: json_schema`); the others are asked for JSON in the prompt. Callers
    /// parse defensively either way.
    pub response_schema: Option<serde_json::Value>,
}

/// Tokens a call consumed, as the provider reported them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// A model's answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    /// The reply was cut at `max_output_tokens` (OpenAI `finish_reason: length`,
    /// Anthropic `stop_reason: max_tokens`): it may be incomplete JSON.
    pub truncated: bool,
}

/// What a model is, for messages, stats and budgeting. Never holds the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    /// `openai`, `anthropic` or `github`.
    pub provider: &'static str,
    pub model: String,
    /// The base URL, for error messages.
    pub endpoint: String,
    /// Tokens the model accepts per call, prompt plus reply.
    pub context_window: usize,
    /// Per-request caps a service imposes beyond the window (GitHub Models' free tiers);
    /// the AI review's budget sizes calls to them.
    pub limits: RequestLimits,
}

/// Per-request limits of a service, when it has them. `None`: only the context window
/// applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestLimits {
    /// Prompt tokens one request may carry.
    pub max_input_tokens: Option<usize>,
    /// Reply tokens one request may ask for.
    pub max_output_tokens: Option<u32>,
    /// Requests the service accepts per minute (the provider paces itself to it).
    pub requests_per_minute: Option<u32>,
    /// Requests per day, for reports (`nectr doctor`).
    pub requests_per_day: Option<u32>,
}

impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} model `{}` at {}",
            self.provider, self.model, self.endpoint
        )
    }
}

/// Why a call failed. Messages name the endpoint and model, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    #[error("{model}: no answer within {secs} s")]
    Timeout { model: String, secs: u64 },
    #[error("{model}: the review's LLM deadline passed")]
    Deadline { model: String },
    #[error("{model} refused the API key ({status}): check NECTR_LLM_API_KEY")]
    Unauthorized { model: String, status: u16 },
    /// `message` is the provider's own text (and why Nectr gave up): kept for the adapters
    /// (a 400 naming a parameter) and the local log, never shown by `Display` — this error
    /// ends up in posted reviews, and a reply body can carry anything the endpoint returns.
    #[error("{model} answered HTTP {status}")]
    Status {
        model: String,
        status: u16,
        message: String,
    },
    /// GitHub Models refused the token or its quota is spent: `reason` is Nectr's own plain
    /// line (never the reply body), shown in the review as it is.
    #[error("{reason}")]
    Refused {
        model: String,
        status: u16,
        reason: String,
    },
    #[error("{model}: cannot reach the endpoint: {message}")]
    Transport { model: String, message: String },
    #[error("{model} sent a reply Nectr cannot read: {message}")]
    Malformed { model: String, message: String },
}

/// A language model.
pub trait LanguageModel: Send + Sync {
    fn info(&self) -> &ModelInfo;

    /// One call, with the implementation's timeout and retries.
    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>>;
}
