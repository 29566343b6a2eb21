//! GitHub Models: OpenAI-compatible chat completions at `models.github.ai`, authenticated
//! with a GitHub token — in a workflow, the job's own `GITHUB_TOKEN`, so the Action gets an
//! AI review with no secret to create.
//!
//! What GitHub documents (checked 2026-12 against GitHub's pages):
//! - `POST https://models.github.ai/inference/chat/completions`, and
//!   `POST /orgs/{org}/inference/chat/completions` to attribute usage to an organisation
//!   (the caller must be a member and the organisation must have enabled Models); the body
//!   is OpenAI's (`model`, `messages`, `max_tokens`, `temperature`, …) with ids like
//!   `openai/gpt-4.1-mini` (docs.github.com/rest/models/inference; GitHub changelog
//!   2025-05-15 "GitHub Models API now available").
//! - `GET https://models.github.ai/catalog/models` lists models with `id`,
//!   `rate_limit_tier` (`low`, `high`, `custom`, …) and `limits: {max_input_tokens,
//!   max_output_tokens}` — the model's own limits, not the free tier's
//!   (docs.github.com/rest/models/catalog).
//! - A fine-grained token or an Actions `GITHUB_TOKEN` needs `models: read`; the workflow
//!   grants it with `permissions: models: read`. The permission does not exist on GitHub
//!   Enterprise Server (docs.github.com, "Permissions for the GITHUB_TOKEN").
//! - Free use is rate-limited per tier: requests per minute and per day and, for many
//!   models, 8,000 input / 4,000 output tokens per request (docs.github.com, "Prototyping
//!   with AI models", rate limits; low tier 15 rpm / 150 a day, high tier 10 rpm / 50 a
//!   day). A spent daily quota answers 429 with `retry-after` in hours
//!   (`x-ratelimit-type: UserByModelByDay`).
//!
//! So: the per-request limits are the smaller of the catalog's and the free tier's
//! ([`FREE_MAX_INPUT_TOKENS`] / [`FREE_MAX_OUTPUT_TOKENS`]); without a catalog, the free
//! tier's. The provider paces itself to the tier's per-minute rate ([`RateWindow`]), keeps
//! at most [`MAX_CONCURRENT`] requests in flight, and, once GitHub refuses the token (403)
//! or the quota (429 beyond the retry wait), answers every later call of the run with the
//! same plain error at once — one line in the review says why the AI part is missing and
//! how to enable it.
//!
//! The URL is `https://models.github.ai` unless the operator sets
//! `NECTR_GITHUB_MODELS_URL` (tests, a proxy); a repository's `.nectr.yml` never moves it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{build_client, display_url_str};
use super::openai::OpenAiCompatible;
use super::settings::{LlmSettings, ProviderKind, Trust};
use super::{
    BoxFuture, Completion, CompletionRequest, LanguageModel, LlmError, ModelInfo, RequestLimits,
};
use crate::config::LlmConfig;
use crate::error::InputError;

/// GitHub Models' base URL.
pub const BASE_URL: &str = "https://models.github.ai";
/// The operator's override of [`BASE_URL`].
pub const URL_ENV: &str = "NECTR_GITHUB_MODELS_URL";
/// The organisation to attribute usage to (`/orgs/{org}/inference/…`).
pub const ORG_ENV: &str = "NECTR_GITHUB_MODELS_ORG";
/// The operator's override of the per-minute rate (paid usage has higher limits).
pub const RPM_ENV: &str = "NECTR_GITHUB_MODELS_RPM";
/// A small, capable, low-tier model: the zero-config default.
pub const DEFAULT_MODEL: &str = "openai/gpt-4.1-mini";
/// The free tiers' prompt tokens per request.
pub const FREE_MAX_INPUT_TOKENS: usize = 8_000;
/// The free tiers' reply tokens per request.
pub const FREE_MAX_OUTPUT_TOKENS: u32 = 4_000;
/// Prompt plus reply under the free tiers.
pub const DEFAULT_CONTEXT_WINDOW: usize = FREE_MAX_INPUT_TOKENS + FREE_MAX_OUTPUT_TOKENS as usize;
/// Requests in flight at once (the free tiers allow a handful; fewer is kinder).
pub const MAX_CONCURRENT: usize = 2;
/// How long a catalog answer is reused.
const CATALOG_TTL: Duration = Duration::from_secs(3600);

/// Requests per minute and per day of a free rate-limit tier (GitHub's documented numbers;
/// an unknown tier gets the strictest documented ones).
pub fn tier_rates(tier: Option<&str>) -> (u32, u32) {
    match tier.map(str::to_ascii_lowercase).as_deref() {
        Some("low") => (15, 150),
        Some("high") => (10, 50),
        // `custom` tiers (reasoning models) allow far less.
        Some("custom") => (1, 8),
        _ => (10, 50),
    }
}

/// One model of the catalog: what Nectr reads of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogEntry {
    pub id: String,
    pub rate_limit_tier: Option<String>,
    pub max_input_tokens: Option<usize>,
    pub max_output_tokens: Option<u32>,
}

/// Reads `GET /catalog/models`: a JSON array of models. Entries without an `id` are
/// skipped; unknown fields are ignored.
pub fn parse_catalog(body: &str) -> Result<Vec<CatalogEntry>, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("the catalog is not JSON ({e})"))?;
    let items = value
        .as_array()
        .ok_or_else(|| "the catalog is not a JSON array".to_owned())?;
    Ok(items
        .iter()
        .filter_map(|m| {
            let id = m.get("id")?.as_str()?.to_owned();
            let limit = |k: &str| m.pointer(&format!("/limits/{k}")).and_then(Value::as_u64);
            Some(CatalogEntry {
                id,
                rate_limit_tier: m
                    .get("rate_limit_tier")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                max_input_tokens: limit("max_input_tokens").map(|n| n as usize),
                max_output_tokens: limit("max_output_tokens")
                    .map(|n| n.min(u32::MAX as u64) as u32),
            })
        })
        .collect())
}

/// The limits one request of `entry`'s model has: the smaller of the model's own and the
/// free tier's; `rpm_override` (the operator's) replaces the tier's rate.
pub fn request_limits(entry: Option<&CatalogEntry>, rpm_override: Option<u32>) -> RequestLimits {
    let tier = entry.and_then(|e| e.rate_limit_tier.as_deref());
    let (rpm, rpd) = tier_rates(tier);
    RequestLimits {
        max_input_tokens: Some(
            entry
                .and_then(|e| e.max_input_tokens)
                .map_or(FREE_MAX_INPUT_TOKENS, |n| n.min(FREE_MAX_INPUT_TOKENS)),
        ),
        max_output_tokens: Some(
            entry
                .and_then(|e| e.max_output_tokens)
                .map_or(FREE_MAX_OUTPUT_TOKENS, |n| n.min(FREE_MAX_OUTPUT_TOKENS)),
        ),
        requests_per_minute: Some(rpm_override.filter(|&n| n > 0).unwrap_or(rpm)),
        requests_per_day: Some(rpd),
    }
}

/// At most `max` request starts in any `per` window (a sliding window, so a short review
/// never waits and a long one is spread out). Pure: the caller sleeps.
#[derive(Debug)]
pub struct RateWindow {
    max: usize,
    per: Duration,
    starts: VecDeque<Instant>,
}

impl RateWindow {
    pub fn new(max: u32, per: Duration) -> RateWindow {
        RateWindow {
            max: (max as usize).max(1),
            per,
            starts: VecDeque::new(),
        }
    }

    /// How long to wait before a request may start at `now` (zero: go, and it is counted).
    pub fn reserve(&mut self, now: Instant) -> Duration {
        while self
            .starts
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= self.per)
        {
            self.starts.pop_front();
        }
        if self.starts.len() < self.max {
            self.starts.push_back(now);
            return Duration::ZERO;
        }
        let oldest = self.starts[0];
        (oldest + self.per)
            .saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }
}

/// The inference URL: `{base}/inference`, or `{base}/orgs/{org}/inference` for an
/// organisation.
pub fn inference_base(base: &str, org: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    match org.filter(|o| !o.trim().is_empty()) {
        Some(org) => format!("{base}/orgs/{}/inference", org.trim()),
        None => format!("{base}/inference"),
    }
}

/// The plain line for a refused token (403/401).
fn refusal_message(model: &str, status: u16, org: Option<&str>) -> String {
    // Plain words, no Markdown: the line is shown escaped in the review's summary.
    let org_hint = match org {
        Some(org) => format!(
            "; organisation {org} must enable GitHub Models and the token's user must be a member"
        ),
        None => String::new(),
    };
    format!(
        "GitHub Models refused the token for {model} ({status}): add permissions: models: read to the workflow (the account or organisation must have GitHub Models enabled; fork pull requests and GitHub Enterprise Server get no access){org_hint}, or set the llm-provider and llm-api-key inputs to use your own API key"
    )
}

/// The plain line for a spent quota (429 past the retry wait).
fn quota_message(model: &str, server: &str) -> String {
    let wait = server
        .split("retry after ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .map(|secs| {
            if secs >= 3600 {
                format!(" (it resets in about {} h)", secs.div_ceil(3600))
            } else {
                format!(" (it resets in about {} min)", secs.div_ceil(60).max(1))
            }
        })
        .unwrap_or_default();
    format!(
        "GitHub Models' rate limit for {model} is used up{wait}: the AI review comes back when it resets, or set the llm-provider and llm-api-key inputs to use your own API key"
    )
}

/// GitHub Models, an [`OpenAiCompatible`] client with GitHub's limits and pacing.
pub struct GitHubModels {
    info: ModelInfo,
    inner: OpenAiCompatible,
    org: Option<String>,
    rate: Mutex<RateWindow>,
    in_flight: tokio::sync::Semaphore,
    /// Set once GitHub refuses the token or the quota: later calls fail at once with it.
    refused: Mutex<Option<LlmError>>,
}

impl std::fmt::Debug for GitHubModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubModels")
            .field("info", &self.info)
            .field("org", &self.org)
            .finish()
    }
}

impl GitHubModels {
    /// A client for `settings` (provider `github`) with the limits of `entry` (from the
    /// catalog) or, without one, the free tier's.
    pub fn new(
        settings: &LlmSettings,
        entry: Option<&CatalogEntry>,
    ) -> Result<GitHubModels, InputError> {
        let org = settings.github_org.clone();
        let mut inner_settings = settings.clone();
        inner_settings.provider = ProviderKind::OpenAi;
        inner_settings.azure = None;
        inner_settings.base_url = inference_base(&settings.base_url, org.as_deref());
        let inner = OpenAiCompatible::new(&inner_settings)?;
        let rpm_override = std::env::var(RPM_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok());
        let limits = request_limits(entry, rpm_override);
        let window = settings.context_window.max(
            limits.max_input_tokens.unwrap_or(0) + limits.max_output_tokens.unwrap_or(0) as usize,
        );
        let rpm = limits.requests_per_minute.unwrap_or(10);
        Ok(GitHubModels {
            info: ModelInfo {
                provider: "github",
                model: settings.model.clone(),
                endpoint: display_url_str(&inner_settings.base_url),
                context_window: window,
                limits,
            },
            inner,
            org,
            rate: Mutex::new(RateWindow::new(rpm, Duration::from_secs(60))),
            in_flight: tokio::sync::Semaphore::new(MAX_CONCURRENT),
            refused: Mutex::new(None),
        })
    }

    /// Paces to `max` request starts per `per` instead of the tier's per-minute rate (an
    /// operator with higher limits sets `NECTR_GITHUB_MODELS_RPM`; tests shorten the
    /// window).
    pub fn with_rate(mut self, max: u32, per: Duration) -> GitHubModels {
        self.rate = Mutex::new(RateWindow::new(max, per));
        self
    }

    async fn call(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let Ok(_permit) = self.in_flight.acquire().await else {
            return Err(LlmError::Transport {
                model: self.info.model.clone(),
                message: "internal: the request limiter closed".into(),
            });
        };
        // Checked once a slot is free: a call that waited behind a refused one fails too.
        if let Some(e) = self
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(e);
        }
        loop {
            let wait = self
                .rate
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .reserve(Instant::now());
            if wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        let mut request = request.clone();
        if let Some(cap) = self.info.limits.max_output_tokens {
            request.max_output_tokens = request.max_output_tokens.min(cap);
        }
        match self.inner.complete(&request).await {
            Ok(c) => Ok(c),
            Err(LlmError::Unauthorized { status, .. }) => {
                let e = LlmError::Refused {
                    model: self.info.model.clone(),
                    status,
                    reason: refusal_message(&self.info.model, status, self.org.as_deref()),
                };
                *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                Err(e)
            }
            Err(LlmError::Status {
                status: 429,
                message,
                ..
            }) => {
                let e = LlmError::Refused {
                    model: self.info.model.clone(),
                    status: 429,
                    reason: quota_message(&self.info.model, &message),
                };
                *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

impl LanguageModel for GitHubModels {
    fn info(&self) -> &ModelInfo {
        &self.info
    }

    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, LlmError>> {
        Box::pin(self.call(request))
    }
}

type CatalogCache = Mutex<HashMap<String, (Instant, Arc<Vec<CatalogEntry>>)>>;

fn catalog_cache() -> &'static CatalogCache {
    static CACHE: OnceLock<CatalogCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// What the catalog said about a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogAnswer {
    Found(CatalogEntry),
    /// The catalog answered but does not list the model.
    Unknown,
    /// The catalog could not be read: why (a status, a transport error).
    Unavailable(String),
    /// GitHub refused the token (401/403).
    Refused(u16),
}

/// `GET {base}/catalog/models`, cached per process for an hour (one run asks once).
pub async fn catalog(
    base: &str,
    token: Option<&super::ApiKey>,
) -> Result<Arc<Vec<CatalogEntry>>, CatalogAnswer> {
    let base = base.trim_end_matches('/').to_owned();
    if let Some((at, entries)) = catalog_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&base)
        && at.elapsed() < CATALOG_TTL
    {
        return Ok(entries.clone());
    }
    let client = build_client().map_err(CatalogAnswer::Unavailable)?;
    let mut request = client
        .get(format!("{base}/catalog/models"))
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .timeout(Duration::from_secs(15));
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await.map_err(|e| {
        let e = e.without_url();
        let message = super::http::error_chain(&e);
        CatalogAnswer::Unavailable(match token {
            Some(t) => t.scrub(&message),
            None => message,
        })
    })?;
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        return Err(CatalogAnswer::Refused(status));
    }
    if !(200..300).contains(&status) {
        return Err(CatalogAnswer::Unavailable(format!(
            "the catalog answered {status}"
        )));
    }
    let text = response
        .text()
        .await
        .map_err(|e| CatalogAnswer::Unavailable(e.without_url().to_string()))?;
    let entries = Arc::new(parse_catalog(&text).map_err(CatalogAnswer::Unavailable)?);
    catalog_cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(base, (Instant::now(), entries.clone()));
    Ok(entries)
}

/// What the catalog says about `model` at `base`.
pub async fn lookup(base: &str, token: Option<&super::ApiKey>, model: &str) -> CatalogAnswer {
    match catalog(base, token).await {
        Ok(entries) => entries
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(model))
            .cloned()
            .map_or(CatalogAnswer::Unknown, CatalogAnswer::Found),
        Err(answer) => answer,
    }
}

/// A GitHub Models client for `settings`, with the model's limits from the catalog when
/// it answers (the free tier's otherwise).
pub async fn connect(settings: &LlmSettings) -> Result<GitHubModels, InputError> {
    let entry = match lookup(
        &settings.base_url,
        settings.api_key.as_ref(),
        &settings.model,
    )
    .await
    {
        CatalogAnswer::Found(e) => Some(e),
        _ => None,
    };
    GitHubModels::new(settings, entry.as_ref())
}

/// When `nectr action` may fall back to GitHub Models: the run's facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZeroConfig {
    /// `GITHUB_SERVER_URL`; Models exists only on github.com.
    pub server_url: Option<String>,
}

/// Why the zero-config fallback cannot be used on this server, if so.
pub fn unavailable_reason(zero: &ZeroConfig) -> Option<String> {
    let server = zero.server_url.as_deref()?.trim().trim_end_matches('/');
    let host = reqwest::Url::parse(server)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))?;
    (host != "github.com").then(|| {
        format!(
            "GitHub Models is not available on {host} (GitHub Enterprise Server): set the llm-provider and llm-api-key inputs for an AI review"
        )
    })
}

/// The model of a review: the one `.nectr.yml` and `NECTR_LLM_*` name (GitHub Models with
/// its catalog limits); else, with `zero` (the Action), GitHub Models with the workflow
/// token and `llm-model` or [`DEFAULT_MODEL`]. The note says why the zero-config path gave
/// no model (GHES, no token), for the review's summary.
pub async fn model_for(
    config: &LlmConfig,
    zero: Option<&ZeroConfig>,
    trust: Trust,
    env: impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<(Option<Arc<dyn LanguageModel>>, Option<String>), InputError> {
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    // A provider named anywhere, or a key of the user's own (which alone selects its
    // provider: `LlmSettings::resolve`), wins over the zero-config default.
    let configured = env("NECTR_LLM_PROVIDER").is_some()
        || ["NECTR_LLM_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"]
            .iter()
            .any(|k| env(k).is_some())
        || config
            .provider
            .as_ref()
            .is_some_and(|p| !p.trim().is_empty());
    let settings = if !configured && let Some(zero) = zero {
        if let Some(reason) = unavailable_reason(zero) {
            return Ok((None, Some(reason)));
        }
        if env("GITHUB_TOKEN").is_none() {
            return Ok((None, None));
        }
        LlmSettings::resolve(config, trust, |k| {
            if k == "NECTR_LLM_PROVIDER" {
                Some("github".to_owned())
            } else {
                env(k)
            }
        })?
    } else {
        LlmSettings::resolve(config, trust, env)?
    };
    // The config's problems go with the review's warnings (shown by every mode).
    warnings.extend(
        settings
            .warnings
            .iter()
            .map(|w| w.strip_prefix("warning: ").unwrap_or(w).to_owned()),
    );
    match settings.provider {
        ProviderKind::GitHubModels => Ok((Some(Arc::new(connect(&settings).await?)), None)),
        _ => Ok((super::from_settings(&settings)?, None)),
    }
}

/// What `nectr doctor` learns about GitHub Models with a token.
#[derive(Debug)]
pub struct Probe {
    pub model: String,
    pub endpoint: String,
    pub catalog: CatalogAnswer,
    pub limits: RequestLimits,
    /// A one-token completion: `Ok` when the token may call the model.
    pub call: Result<(), LlmError>,
}

/// Asks the catalog and makes the smallest possible call (one reply token, no retry): it
/// spends one request of the day's quota.
pub async fn probe(settings: &LlmSettings) -> Result<Probe, InputError> {
    let mut settings = settings.clone();
    settings.http.max_retries = 0;
    settings.http.timeout = Duration::from_secs(30);
    let catalog = lookup(
        &settings.base_url,
        settings.api_key.as_ref(),
        &settings.model,
    )
    .await;
    let entry = match &catalog {
        CatalogAnswer::Found(e) => Some(e.clone()),
        _ => None,
    };
    let model = GitHubModels::new(&settings, entry.as_ref())?;
    let request = CompletionRequest {
        system: "Answer with one word.".into(),
        user: "ping".into(),
        max_output_tokens: 1,
        response_schema: None,
    };
    let call = model.complete(&request).await.map(|_| ());
    Ok(Probe {
        model: settings.model.clone(),
        endpoint: model.info.endpoint.clone(),
        catalog,
        limits: model.info.limits.clone(),
        call,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_limits_take_the_smaller() {
        let body = r#"[{"id":"openai/gpt-4.1","rate_limit_tier":"high","limits":{"max_input_tokens":1048576,"max_output_tokens":32768},"x":1},
                      {"id":"tiny/model","rate_limit_tier":"low","limits":{"max_input_tokens":4000,"max_output_tokens":1000}},
                      {"name":"no id"}]"#;
        let entries = parse_catalog(body).unwrap();
        assert_eq!(entries.len(), 2);
        let big = request_limits(Some(&entries[0]), None);
        assert_eq!(big.max_input_tokens, Some(8_000));
        assert_eq!(big.max_output_tokens, Some(4_000));
        assert_eq!(big.requests_per_minute, Some(10));
        let tiny = request_limits(Some(&entries[1]), Some(60));
        assert_eq!(tiny.max_input_tokens, Some(4_000));
        assert_eq!(tiny.max_output_tokens, Some(1_000));
        assert_eq!(tiny.requests_per_minute, Some(60));
        assert_eq!(request_limits(None, None).max_input_tokens, Some(8_000));
        assert!(parse_catalog("{}").is_err());
    }

    #[test]
    fn rate_window_allows_a_burst_then_waits_for_the_oldest() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(w.reserve(t0), Duration::ZERO);
        }
        let wait = w.reserve(t0 + Duration::from_secs(10));
        assert_eq!(wait, Duration::from_secs(50));
        // A minute on, the window is free again: three more, then a wait.
        for _ in 0..3 {
            assert_eq!(w.reserve(t0 + Duration::from_secs(60)), Duration::ZERO);
        }
        assert!(!w.reserve(t0 + Duration::from_secs(61)).is_zero());
    }

    #[test]
    fn urls_and_servers() {
        assert_eq!(
            inference_base("https://models.github.ai/", None),
            "https://models.github.ai/inference"
        );
        assert_eq!(
            inference_base("https://models.github.ai", Some("acme")),
            "https://models.github.ai/orgs/acme/inference"
        );
        let ghes = ZeroConfig {
            server_url: Some("https://github.example.com".into()),
        };
        assert!(
            unavailable_reason(&ghes)
                .unwrap()
                .contains("Enterprise Server")
        );
        let dotcom = ZeroConfig {
            server_url: Some("https://github.com".into()),
        };
        assert_eq!(unavailable_reason(&dotcom), None);
        assert_eq!(unavailable_reason(&ZeroConfig::default()), None);
    }

    #[test]
    fn plain_messages() {
        let m = quota_message(
            "openai/gpt-4.1-mini",
            "Rate limit (the server asks to retry after 24367 s, more than the 60 s Nectr waits)",
        );
        assert!(m.contains("about 7 h"), "{m}");
        let r = refusal_message("m", 403, None);
        assert!(r.contains("permissions: models: read"), "{r}");
    }
}
