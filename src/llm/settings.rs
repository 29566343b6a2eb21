//! Which model to call, from `.nectr.yml` (`llm:`) and the environment, and building the
//! provider.
//!
//! The environment wins over the file for every key. The API key comes only from the
//! environment (`NECTR_LLM_API_KEY`, else `OPENAI_API_KEY` / `ANTHROPIC_API_KEY`, which also
//! turn the AI review on when no provider is named: see `api_key_from_env`); a key in the
//! file is ignored with a warning. An empty variable counts
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
//! The table holds for [`Trust::Operator`] (local runs, `nectr action`: whoever runs Nectr
//! controls both the file and the environment). Under `nectr serve` the caller passes
//! [`Trust::Repository`]: the file is written by a tenant, so only two of its `llm:` keys are
//! read — `provider: none` switches the AI review off, and `model` picks one of the models
//! the operator lists in `NECTR_LLM_ALLOWED_MODELS`. Provider, base URL, key, timeouts,
//! retries, context window and Azure settings come from `NECTR_LLM_*` only, so a repository
//! can neither send the prompt (or the operator's key) to a server of its choosing nor hold
//! a worker with long timeouts.
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

/// Who wrote the `llm:` section being resolved; the mode decides, never the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The person running Nectr controls the config and the environment (local runs,
    /// `nectr action`): every key is honoured, the environment wins.
    Operator,
    /// A connected repository under `nectr serve`: only `provider: none` and an allowed
    /// `model` are honoured; everything else is the operator's (`NECTR_LLM_*`).
    Repository,
}

/// The operator's list of models a repository may pick under `nectr serve`
/// (comma-separated model names).
pub const ALLOWED_MODELS_VAR: &str = "NECTR_LLM_ALLOWED_MODELS";

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

/// The part of a repository's `llm:` section a [`Trust::Repository`] config may set: the
/// instructions and budgets (read elsewhere), `provider: none`, and a `model` from
/// `NECTR_LLM_ALLOWED_MODELS`. Everything else is dropped with one warning naming the keys.
/// `Err(settings)` when the repository switched the AI review off.
fn repository_view(
    config: &LlmConfig,
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<LlmConfig, Vec<String>> {
    let switched_off = config
        .provider
        .as_deref()
        .map(|p| p.trim().to_ascii_lowercase())
        .is_some_and(|p| p == "none" || p == "off");
    let mut ignored = Vec::new();
    if config.provider.is_some() && !switched_off {
        ignored.push("provider");
    }
    for (key, set) in [
        ("base_url", config.base_url.is_some()),
        ("timeout_secs", config.timeout_secs.is_some()),
        ("max_retries", config.max_retries.is_some()),
        ("context_window", config.context_window.is_some()),
        ("azure_deployment", config.azure_deployment.is_some()),
        ("api_version", config.api_version.is_some()),
    ] {
        if set {
            ignored.push(key);
        }
    }
    if !ignored.is_empty() {
        warnings.push(format!(
            "warning: .nectr.yml: llm.{} ignored: on this Nectr server the operator chooses the LLM provider, endpoint, timeouts and retries (a repository may only set `provider: none` or pick an allowed `model`)",
            ignored.join(", llm.")
        ));
    }
    if switched_off {
        return Err(std::mem::take(warnings));
    }
    let allowed: Vec<String> = env(ALLOWED_MODELS_VAR)
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    let model = match config.model.as_deref().map(str::trim) {
        Some("") => None,
        Some(m) if allowed.iter().any(|a| a == m) => Some(m.to_owned()),
        Some(m) => {
            let choices = if allowed.is_empty() {
                "this server allows none".to_owned()
            } else {
                format!("this server allows {}", allowed.join(", "))
            };
            warnings.push(format!(
                "warning: .nectr.yml: llm.model {:?} ignored: {choices} (NECTR_LLM_ALLOWED_MODELS); the server's default model reviews instead",
                m.chars().take(80).collect::<String>()
            ));
            None
        }
        None => None,
    };
    Ok(LlmConfig {
        model,
        api_key: config.api_key.clone(),
        ..LlmConfig::default()
    })
}

/// The API key, and the provider it selects, from the environment, in this order:
/// `NECTR_LLM_API_KEY` (selects `openai` when no provider is named); then the named
/// provider's conventional variable (`OPENAI_API_KEY` for `openai`, `ANTHROPIC_API_KEY` for
/// `anthropic`); then, when no provider is named anywhere, `OPENAI_API_KEY` (selects
/// `openai`) or else `ANTHROPIC_API_KEY` (selects `anthropic`). An explicit `none` stays off.
fn api_key_from_env(
    provider: ProviderKind,
    provider_unset: bool,
    env: impl Fn(&str) -> Option<String>,
) -> (ProviderKind, Option<ApiKey>) {
    if let Some(key) = env("NECTR_LLM_API_KEY") {
        // A key alone means "review with the AI": OpenAI's API unless a provider is named.
        let provider = match provider {
            ProviderKind::None if provider_unset => ProviderKind::OpenAi,
            named => named,
        };
        return (provider, Some(ApiKey::new(key)));
    }
    let openai = || env("OPENAI_API_KEY").map(ApiKey::new);
    let anthropic = || env("ANTHROPIC_API_KEY").map(ApiKey::new);
    match provider {
        ProviderKind::OpenAi => (provider, openai()),
        ProviderKind::Anthropic => (provider, anthropic()),
        // Its token (`GITHUB_TOKEN`) is looked up by the caller.
        ProviderKind::GitHubModels => (provider, None),
        ProviderKind::None if provider_unset => match (openai(), anthropic()) {
            (Some(key), _) => (ProviderKind::OpenAi, Some(key)),
            (None, Some(key)) => (ProviderKind::Anthropic, Some(key)),
            (None, None) => (provider, None),
        },
        ProviderKind::None => (provider, None),
    }
}

impl LlmSettings {
    /// Merges `.nectr.yml`'s `llm:` with the environment (`env("NECTR_LLM_…")`) as `trust`
    /// allows (see the module docs); the environment wins. Fails on an unknown provider, a
    /// bad number or URL, or a missing key where one is surely needed (the official OpenAI /
    /// Anthropic APIs, Azure).
    pub fn resolve(
        config: &LlmConfig,
        trust: Trust,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<LlmSettings, InputError> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        // The operator's prices for the cost estimate: a typo fails before any model call.
        super::price::check_env(env)?;
        let mut warnings = Vec::new();
        let restricted;
        let config = match trust {
            Trust::Operator => config,
            Trust::Repository => match repository_view(config, &env, &mut warnings) {
                Ok(view) => {
                    restricted = view;
                    &restricted
                }
                Err(warnings) => return Ok(LlmSettings::none(warnings)),
            },
        };
        // Under `Trust::Repository` the model the repository picked (already checked against
        // the allow-list) wins over the operator's default.
        let repo_model = match trust {
            Trust::Repository => config.model.clone(),
            Trust::Operator => None,
        };
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
        let unset = raw_provider.as_deref().is_none_or(str::is_empty);
        let (provider, mut api_key) = api_key_from_env(provider, unset, env);
        if provider == ProviderKind::GitHubModels && api_key.is_none() {
            api_key = env("GITHUB_TOKEN").map(ApiKey::new);
        }
        let model = repo_model
            .or_else(|| env("NECTR_LLM_MODEL"))
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

    /// No AI review, with `warnings` to pass on.
    fn none(warnings: Vec<String>) -> LlmSettings {
        LlmSettings {
            provider: ProviderKind::None,
            model: String::new(),
            base_url: String::new(),
            api_key: None,
            context_window: DEFAULT_CONTEXT_WINDOW,
            http: HttpOptions::default(),
            azure: None,
            github_org: None,
            warnings,
        }
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
pub fn from_config(
    config: &LlmConfig,
    trust: Trust,
) -> Result<Option<Arc<dyn LanguageModel>>, InputError> {
    let settings = LlmSettings::resolve(config, trust, |k| std::env::var(k).ok())?;
    for w in &settings.warnings {
        crate::error::notice(w);
    }
    from_settings(&settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(config: &LlmConfig, trust: Trust, env: &[(&str, &str)]) -> LlmSettings {
        LlmSettings::resolve(config, trust, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("settings")
    }

    const OPERATOR: &[(&str, &str)] = &[
        ("NECTR_LLM_PROVIDER", "openai"),
        ("NECTR_LLM_BASE_URL", "https://llm.operator.example/v1"),
        ("NECTR_LLM_API_KEY", "sk-operator-123456"),
        ("NECTR_LLM_MODEL", "op-model"),
        ("NECTR_LLM_ALLOWED_MODELS", "small, big"),
    ];

    fn hostile(model: &str) -> LlmConfig {
        LlmConfig {
            provider: Some("ollama".into()),
            base_url: Some("http://127.0.0.1:18081/v1".into()),
            model: Some(model.into()),
            timeout_secs: Some(100_000),
            max_retries: Some(10),
            context_window: Some(10_000_000),
            azure_deployment: Some("d".into()),
            ..LlmConfig::default()
        }
    }

    #[test]
    fn a_repository_cannot_choose_the_endpoint_timeouts_or_retries() {
        let s = resolve(&hostile("big"), Trust::Repository, OPERATOR);
        assert_eq!(s.provider, ProviderKind::OpenAi);
        assert_eq!(s.base_url, "https://llm.operator.example/v1");
        assert_eq!(
            s.model, "big",
            "an allowed model is the repository's to pick"
        );
        assert_eq!(
            s.http.timeout,
            Duration::from_secs(super::super::http::DEFAULT_TIMEOUT_SECS)
        );
        assert_eq!(s.http.max_retries, super::super::http::DEFAULT_MAX_RETRIES);
        assert_eq!(s.context_window, DEFAULT_CONTEXT_WINDOW);
        assert!(s.azure.is_none());
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("llm.base_url"), "{:?}", s.warnings);

        let s = resolve(&hostile("evil"), Trust::Repository, OPERATOR);
        assert_eq!(s.model, "op-model", "a model off the list falls back");
        assert!(
            s.warnings.iter().any(|w| w.contains("small, big")),
            "{:?}",
            s.warnings
        );

        // No operator LLM: the repository cannot bring its own.
        let s = resolve(&hostile("big"), Trust::Repository, &[]);
        assert_eq!(s.provider, ProviderKind::None);
    }

    #[test]
    fn a_repository_may_switch_the_ai_review_off() {
        let off = LlmConfig {
            provider: Some("none".into()),
            ..LlmConfig::default()
        };
        assert_eq!(
            resolve(&off, Trust::Repository, OPERATOR).provider,
            ProviderKind::None
        );
        // Locally the environment still wins, as documented.
        assert_eq!(
            resolve(&off, Trust::Operator, OPERATOR).provider,
            ProviderKind::OpenAi
        );
    }

    #[test]
    fn operator_trust_keeps_todays_behaviour() {
        let local = LlmConfig {
            azure_deployment: None,
            ..hostile("big")
        };
        let s = resolve(&local, Trust::Operator, &[]);
        assert_eq!(s.base_url, "http://127.0.0.1:18081/v1");
        assert_eq!(s.http.max_retries, 10);
        assert_eq!(s.http.timeout, Duration::from_secs(100_000));
    }
}

#[cfg(test)]
mod conventional_keys {
    use super::*;

    fn resolve(file_provider: Option<&str>, vars: &[(&str, &str)]) -> LlmSettings {
        let config = LlmConfig {
            provider: file_provider.map(str::to_owned),
            ..LlmConfig::default()
        };
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LlmSettings::resolve(&config, Trust::Operator, |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    #[test]
    fn openai_and_anthropic_keys_turn_the_ai_review_on_in_the_documented_order() {
        let s = resolve(None, &[("OPENAI_API_KEY", "sk-a")]);
        assert_eq!(s.provider, ProviderKind::OpenAi);
        assert!(s.api_key.is_some());
        let s = resolve(None, &[("ANTHROPIC_API_KEY", "sk-ant")]);
        assert_eq!(s.provider, ProviderKind::Anthropic);
        assert_eq!(s.model, DEFAULT_ANTHROPIC_MODEL);
        // Both set, no provider named: OpenAI's comes first.
        let s = resolve(
            None,
            &[("ANTHROPIC_API_KEY", "sk-ant"), ("OPENAI_API_KEY", "sk-a")],
        );
        assert_eq!(s.provider, ProviderKind::OpenAi);
        // A named provider takes its own conventional variable.
        let s = resolve(
            Some("anthropic"),
            &[("ANTHROPIC_API_KEY", "sk-ant"), ("OPENAI_API_KEY", "sk-a")],
        );
        assert_eq!(s.provider, ProviderKind::Anthropic);
        assert!(s.api_key.is_some());
        // An explicit `none` stays off; nothing set stays off.
        assert_eq!(
            resolve(Some("none"), &[("OPENAI_API_KEY", "sk-a")]).provider,
            ProviderKind::None
        );
        assert_eq!(resolve(None, &[]).provider, ProviderKind::None);
        // NECTR_LLM_API_KEY comes first, and alone selects OpenAI.
        let s = resolve(
            None,
            &[("NECTR_LLM_API_KEY", "k"), ("ANTHROPIC_API_KEY", "sk-ant")],
        );
        assert_eq!(s.provider, ProviderKind::OpenAi);
    }
}
