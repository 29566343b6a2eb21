//! Which model to call, from `.nectr.yml` (`llm:`) and the environment, and building the
//! provider.
//!
//! The environment wins over the file for every key. The API key comes only from
//! `NECTR_LLM_API_KEY`; a key in the file is ignored with a warning. An empty variable counts
//! as unset (the Action passes empty inputs as empty strings).
//!
//! | env | `.nectr.yml` | default |
//! | --- | --- | --- |
//! | `NECTR_LLM_PROVIDER` | `llm.provider` | `none` |
//! | `NECTR_LLM_MODEL` | `llm.model` | `gpt-4o-mini` / `claude-3-5-haiku-latest` |
//! | `NECTR_LLM_BASE_URL` | `llm.base_url` | `https://api.openai.com/v1` / `https://api.anthropic.com` |
//! | `NECTR_LLM_API_KEY` | — | none |
//! | `NECTR_LLM_CONTEXT_WINDOW` | `llm.context_window` | by model name ([`context_window_for`]) |
//! | `NECTR_LLM_TIMEOUT_SECS` | `llm.timeout_secs` | 120 |
//! | `NECTR_LLM_MAX_RETRIES` | `llm.max_retries` | 3 |
//! | `NECTR_LLM_AZURE_DEPLOYMENT` | `llm.azure_deployment` | the model (Azure only) |
//! | `NECTR_LLM_API_VERSION` | `llm.api_version` | `2024-10-21` (Azure only) |
//!
//! Azure OpenAI is the `openai` provider with the Azure URL shape, chosen when the base
//! URL's host ends with `.openai.azure.com` or `.cognitiveservices.azure.com`, or when a
//! deployment is set, or with `provider: azure`.
//!
//! GitHub Models is `provider: github`: the token is `NECTR_LLM_API_KEY` or else
//! `GITHUB_TOKEN`, the URL `https://models.github.ai` unless the operator sets
//! `NECTR_GITHUB_MODELS_URL` (`llm.base_url` is ignored for it), the model
//! `openai/gpt-4.1-mini` by default; see `llm::github_models`.

use std::sync::Arc;
use std::time::Duration;

use super::LanguageModel;
use super::anthropic::Anthropic;
use super::http::{ApiKey, HttpOptions};
use super::openai::OpenAiCompatible;
use crate::config::LlmConfig;
use crate::error::InputError;

pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
pub const DEFAULT_OPENAI_MODEL: &str = "gpt-4o-mini";
pub const DEFAULT_ANTHROPIC_MODEL: &str = "claude-3-5-haiku-latest";
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";
/// Context window for a model Nectr does not know.
pub const DEFAULT_CONTEXT_WINDOW: usize = 32_768;

/// Which API to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// No LLM review.
    None,
    /// OpenAI chat completions at any base URL (OpenAI, Azure, Ollama, vLLM, OpenRouter…).
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// GitHub Models (`models.github.ai`, OpenAI-compatible) with a GitHub token; see
    /// `llm::github_models`.
    GitHubModels,
}

/// Azure OpenAI's URL shape: `{base}/openai/deployments/{deployment}/chat/completions?api-version=…`
/// with the `api-key` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzureSettings {
    pub deployment: String,
    pub api_version: String,
}

/// Everything needed to build a provider. `Debug` never shows the key.
#[derive(Clone, Debug)]
pub struct LlmSettings {
    pub provider: ProviderKind,
    pub model: String,
    /// The base URL, without a trailing `/`.
    pub base_url: String,
    pub api_key: Option<ApiKey>,
    pub context_window: usize,
    pub http: HttpOptions,
    /// `Some` for Azure OpenAI (provider `openai` only).
    pub azure: Option<AzureSettings>,
    /// Things the user should hear about (a key in the file); print them.
    pub warnings: Vec<String>,
    /// GitHub Models only: the organisation usage is attributed to
    /// (`NECTR_GITHUB_MODELS_ORG`; never from the file).
    pub github_org: Option<String>,
}

fn parse_num<T: std::str::FromStr>(
    what: &str,
    env_value: Option<String>,
    file_value: Option<T>,
) -> Result<Option<T>, InputError> {
    match env_value {
        Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
            InputError(format!(
                "{what} must be a whole number, not {v:?}; fix or unset it"
            ))
        }),
        None => Ok(file_value),
    }
}

impl LlmSettings {
    /// Merges `.nectr.yml`'s `llm:` with the environment (`env("NECTR_LLM_…")`); the
    /// environment wins. Fails on an unknown provider, a bad number or URL, or a missing key
    /// where one is surely needed (the official OpenAI / Anthropic APIs, Azure).
    pub fn resolve(
        config: &LlmConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<LlmSettings, InputError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut warnings = Vec::new();
        if config.api_key.as_ref().is_some_and(|k| !k.is_empty()) {
            warnings.push(
                "warning: .nectr.yml: `llm.api_key` is ignored: keys belong in the NECTR_LLM_API_KEY environment variable (a secret), never in the repository; remove it from the file and rotate the key"
                    .to_owned(),
            );
        }
        let (raw_provider, from_env) = match env("NECTR_LLM_PROVIDER") {
            Some(p) => (Some(p), true),
            None => (config.provider.clone(), false),
        };
        let raw_provider = raw_provider.map(|p| p.trim().to_ascii_lowercase());
        let mut force_azure = false;
        let mut local_default: Option<&str> = None;
        let provider = match raw_provider.as_deref() {
            None | Some("") | Some("none") | Some("off") => ProviderKind::None,
            Some("openai") => ProviderKind::OpenAi,
            Some("azure") | Some("azure-openai") => {
                force_azure = true;
                ProviderKind::OpenAi
            }
            Some("ollama") => {
                local_default = Some("http://localhost:11434/v1");
                ProviderKind::OpenAi
            }
            Some("anthropic") | Some("claude") => ProviderKind::Anthropic,
            Some("github") | Some("github-models") => ProviderKind::GitHubModels,
            Some(other) => {
                let source = if from_env {
                    "NECTR_LLM_PROVIDER"
                } else {
                    ".nectr.yml llm.provider"
                };
                return Err(InputError(format!(
                    "unknown LLM provider {other:?} ({source}): use none, openai (any OpenAI-compatible API: OpenAI, Azure, Ollama, vLLM, OpenRouter), anthropic or github (GitHub Models)"
                )));
            }
        };
        let mut api_key = env("NECTR_LLM_API_KEY").map(ApiKey::new);
        if provider == ProviderKind::GitHubModels && api_key.is_none() {
            api_key = env("GITHUB_TOKEN").map(ApiKey::new);
        }
        let model = env("NECTR_LLM_MODEL")
            .or_else(|| config.model.clone().filter(|m| !m.trim().is_empty()))
            .map(|m| m.trim().to_owned())
            .unwrap_or_else(|| match provider {
                ProviderKind::Anthropic => DEFAULT_ANTHROPIC_MODEL.to_owned(),
                ProviderKind::GitHubModels => super::github_models::DEFAULT_MODEL.to_owned(),
                _ => DEFAULT_OPENAI_MODEL.to_owned(),
            });
        // A key from the environment goes only to a base URL from the environment or the
        // provider's own: `.nectr.yml` can come from the pull request under review, and a PR
        // must not be able to send the key to a server of its choosing.
        let mut file_base_url = config.base_url.clone().filter(|u| !u.trim().is_empty());
        // GitHub Models' URL is GitHub's; only the operator moves it (tests, proxies).
        if provider == ProviderKind::GitHubModels && file_base_url.take().is_some() {
            warnings.push(format!(
                "warning: llm.base_url in .nectr.yml is ignored for GitHub Models (the token is a GitHub token); set {} instead",
                super::github_models::URL_ENV
            ));
        }
        if api_key.is_some() && file_base_url.is_some() && env("NECTR_LLM_BASE_URL").is_none() {
            warnings.push(
                "warning: llm.base_url in .nectr.yml is ignored while NECTR_LLM_API_KEY is set (a pull request could otherwise send the key to another server); set NECTR_LLM_BASE_URL instead"
                    .to_owned(),
            );
            file_base_url = None;
        }
        let base_url = if provider == ProviderKind::GitHubModels {
            env(super::github_models::URL_ENV)
        } else {
            env("NECTR_LLM_BASE_URL")
        }
        .or(file_base_url)
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .unwrap_or_else(|| match provider {
            ProviderKind::Anthropic => ANTHROPIC_BASE_URL.to_owned(),
            ProviderKind::GitHubModels => super::github_models::BASE_URL.to_owned(),
            _ => local_default.unwrap_or(OPENAI_BASE_URL).to_owned(),
        });
        let context_window = parse_num(
            "NECTR_LLM_CONTEXT_WINDOW",
            env("NECTR_LLM_CONTEXT_WINDOW"),
            config.context_window,
        )?
        .filter(|&n| n > 0)
        .unwrap_or_else(|| match provider {
            ProviderKind::GitHubModels => super::github_models::DEFAULT_CONTEXT_WINDOW,
            _ => context_window_for(&model),
        });
        let timeout_secs = parse_num(
            "NECTR_LLM_TIMEOUT_SECS",
            env("NECTR_LLM_TIMEOUT_SECS"),
            config.timeout_secs,
        )?
        .filter(|&n| n > 0)
        .unwrap_or(super::http::DEFAULT_TIMEOUT_SECS);
        let max_retries = parse_num(
            "NECTR_LLM_MAX_RETRIES",
            env("NECTR_LLM_MAX_RETRIES"),
            config.max_retries,
        )?
        .unwrap_or(super::http::DEFAULT_MAX_RETRIES)
        .min(10);
        let http = HttpOptions {
            timeout: Duration::from_secs(timeout_secs),
            max_retries,
            ..HttpOptions::default()
        };

        let mut settings = LlmSettings {
            provider,
            model,
            base_url,
            api_key,
            context_window,
            http,
            azure: None,
            warnings,
            github_org: None,
        };
        if provider == ProviderKind::None {
            return Ok(settings);
        }
        let url = reqwest::Url::parse(&settings.base_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                InputError(format!(
                    "the LLM base URL {:?} (NECTR_LLM_BASE_URL or llm.base_url) is not an http(s) URL",
                    super::http::display_url_str(&settings.base_url)
                ))
            })?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if provider == ProviderKind::OpenAi {
            let deployment = env("NECTR_LLM_AZURE_DEPLOYMENT")
                .or_else(|| config.azure_deployment.clone())
                .filter(|d| !d.trim().is_empty());
            let azure_host = host.ends_with(".openai.azure.com")
                || host.ends_with(".cognitiveservices.azure.com");
            // Azure's newer `/openai/v1` API is plain OpenAI-compatible (with `api-key`).
            let v1_path = url.path().trim_end_matches('/').ends_with("/openai/v1");
            if (force_azure || azure_host || deployment.is_some()) && !v1_path {
                settings.azure = Some(AzureSettings {
                    deployment: deployment
                        .map(|d| d.trim().to_owned())
                        .unwrap_or_else(|| settings.model.clone()),
                    api_version: env("NECTR_LLM_API_VERSION")
                        .or_else(|| config.api_version.clone())
                        .filter(|v| !v.trim().is_empty())
                        .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned()),
                });
            }
            let needs_key = host == "api.openai.com" || azure_host || settings.azure.is_some();
            if needs_key && settings.api_key.is_none() {
                let what = if settings.azure.is_some() || azure_host {
                    "Azure OpenAI"
                } else {
                    "the OpenAI API"
                };
                return Err(InputError(format!(
                    "{what} needs an API key: set NECTR_LLM_API_KEY (keys are read only from the environment), or set NECTR_LLM_PROVIDER=none to review without an LLM"
                )));
            }
        }
        if provider == ProviderKind::GitHubModels {
            settings.github_org = env(super::github_models::ORG_ENV).map(|o| o.trim().to_owned());
            if settings.api_key.is_none() {
                return Err(InputError(
                    "GitHub Models needs a GitHub token: set GITHUB_TOKEN (in a workflow, grant `permissions: models: read`), or set NECTR_LLM_PROVIDER=none to review without an LLM".to_owned(),
                ));
            }
        }
        if provider == ProviderKind::Anthropic
            && host == "api.anthropic.com"
            && settings.api_key.is_none()
        {
            return Err(InputError(
                "the Anthropic API needs an API key: set NECTR_LLM_API_KEY (keys are read only from the environment), or set NECTR_LLM_PROVIDER=none to review without an LLM".to_owned(),
            ));
        }
        Ok(settings)
    }
}

/// Tokens per call (prompt plus reply) for a model name; [`DEFAULT_CONTEXT_WINDOW`] for an
/// unknown one. A vendor prefix (`openai/gpt-4o` on OpenRouter) is ignored.
pub fn context_window_for(model: &str) -> usize {
    let m = model.trim().to_ascii_lowercase();
    let m = m.rsplit('/').next().unwrap_or(&m);
    CONTEXT_WINDOWS
        .iter()
        .find(|(prefix, _)| m.starts_with(prefix))
        .map_or(DEFAULT_CONTEXT_WINDOW, |&(_, n)| n)
}

/// Known model-name prefixes and their context windows; the first match wins, so longer
/// prefixes come before shorter ones.
const CONTEXT_WINDOWS: &[(&str, usize)] = &[
    ("claude", 200_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-5", 400_000),
    ("gpt-4o", 128_000),
    ("chatgpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-4", 8_192),
    ("gpt-3.5", 16_385),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4", 200_000),
    ("gemini", 1_048_576),
    ("llama3.1", 128_000),
    ("llama-3.1", 128_000),
    ("llama3.2", 128_000),
    ("llama-3.2", 128_000),
    ("llama3.3", 128_000),
    ("llama-3.3", 128_000),
    ("qwen2.5", 128_000),
    ("qwen3", 128_000),
    ("mistral-large", 128_000),
    ("deepseek", 128_000),
];

/// Builds the configured provider; `Ok(None)` for `none`.
pub fn from_settings(settings: &LlmSettings) -> Result<Option<Arc<dyn LanguageModel>>, InputError> {
    match settings.provider {
        ProviderKind::None => Ok(None),
        ProviderKind::OpenAi => Ok(Some(Arc::new(OpenAiCompatible::new(settings)?))),
        ProviderKind::Anthropic => Ok(Some(Arc::new(Anthropic::new(settings)?))),
        ProviderKind::GitHubModels => Ok(Some(Arc::new(super::github_models::GitHubModels::new(
            settings, None,
        )?))),
    }
}

/// [`LlmSettings::resolve`] with the process environment, then [`from_settings`]; warnings
/// are printed through [`crate::error::notice`].
pub fn from_config(config: &LlmConfig) -> Result<Option<Arc<dyn LanguageModel>>, InputError> {
    let settings = LlmSettings::resolve(config, |k| std::env::var(k).ok())?;
    for w in &settings.warnings {
        crate::error::notice(w);
    }
    from_settings(&settings)
}
