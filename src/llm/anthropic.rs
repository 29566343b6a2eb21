//! Anthropic's Messages API: `POST {base}/v1/messages` (default base
//! `https://api.anthropic.com`; a base that already ends in `/v1` is used as is) with
//! `x-api-key` and `anthropic-version: 2023-06-01`.
//!
//! The request: `model`, top-level `system`, `messages: [{role: user, content}]`,
//! `max_tokens`, `temperature: 0`. There is no structured-output parameter: the caller's
//! system prompt asks for JSON and the caller parses defensively; nothing is prefilled.
//! The reply's text is its `content[]` text blocks joined; usage is `input_tokens` (plus
//! cache reads and writes) and `output_tokens`; `stop_reason: max_tokens` is truncation.

use serde_json::{Value, json};

use super::http::{Endpoint, build_client, display_url};
use super::settings::LlmSettings;
use super::{BoxFuture, Completion, CompletionRequest, LanguageModel, LlmError, ModelInfo, Usage};
use crate::error::InputError;

/// The `anthropic-version` header Nectr speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An Anthropic model. `Debug` never shows the key.
#[derive(Debug)]
pub struct Anthropic {
    info: ModelInfo,
    endpoint: Endpoint,
}

impl Anthropic {
    /// A provider for `settings` (whose `provider` should be `anthropic`).
    pub fn new(settings: &LlmSettings) -> Result<Anthropic, InputError> {
        let base = reqwest::Url::parse(settings.base_url.trim_end_matches('/')).map_err(|e| {
            InputError(format!(
                "the LLM base URL {} is not a URL: {e}",
                super::http::display_url_str(&settings.base_url)
            ))
        })?;
        let base_str = base.as_str().trim_end_matches('/').to_owned();
        let url = if base_str.ends_with("/v1/messages") {
            base_str.clone()
        } else if base_str.ends_with("/v1") {
            format!("{base_str}/messages")
        } else {
            format!("{base_str}/v1/messages")
        };
        let url = reqwest::Url::parse(&url)
            .map_err(|e| InputError(format!("invalid Anthropic URL: {e}")))?;
        let client = build_client().map_err(InputError)?;
        let mut endpoint = Endpoint::new(
            client,
            url,
            &settings.model,
            settings.http.clone(),
            settings.api_key.clone(),
        );
        endpoint
            .header("anthropic-version", ANTHROPIC_VERSION, false)
            .map_err(InputError)?;
        if let Some(key) = &settings.api_key {
            endpoint
                .header("x-api-key", key.expose(), true)
                .map_err(|_| {
                    InputError(
                        "NECTR_LLM_API_KEY contains characters not allowed in an HTTP header"
                            .into(),
                    )
                })?;
        }
        Ok(Anthropic {
            info: ModelInfo {
                provider: "anthropic",
                model: settings.model.clone(),
                endpoint: display_url(&base),
                context_window: settings.context_window,
            },
            endpoint,
        })
    }

    fn body(&self, request: &CompletionRequest) -> Value {
        let mut body = json!({
            "model": self.info.model,
            "max_tokens": request.max_output_tokens,
            "temperature": 0,
            "messages": [{"role": "user", "content": request.user}],
        });
        if !request.system.is_empty() {
            body["system"] = json!(request.system);
        }
        body
    }

    async fn call(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let reply = self.endpoint.post_json(&self.body(request)).await?;
        parse_reply(&self.endpoint.label, &reply)
    }
}

/// Reads a Messages reply.
pub(crate) fn parse_reply(label: &str, reply: &Value) -> Result<Completion, LlmError> {
    let malformed = |message: String| LlmError::Malformed {
        model: label.to_owned(),
        message,
    };
    let content = reply
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `content` array in the reply".into()))?;
    let text = content
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str).unwrap_or("text") == "text")
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("");
    let usage = reply.get("usage");
    let num = |k: &str| {
        usage
            .and_then(|u| u.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Ok(Completion {
        text,
        usage: Usage {
            input_tokens: num("input_tokens")
                + num("cache_creation_input_tokens")
                + num("cache_read_input_tokens"),
            output_tokens: num("output_tokens"),
        },
        truncated: reply.get("stop_reason").and_then(Value::as_str) == Some("max_tokens"),
    })
}

impl LanguageModel for Anthropic {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        let r = json!({"content":[{"type":"text","text":"a"},{"type":"tool_use","id":"x"},{"type":"text","text":"b"}],
                       "stop_reason":"max_tokens","usage":{"input_tokens":5,"output_tokens":6,"cache_read_input_tokens":1}});
        let c = parse_reply("m", &r).unwrap();
        assert_eq!(c.text, "ab");
        assert!(c.truncated);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 6,
                output_tokens: 6
            }
        );
        assert!(matches!(
            parse_reply("m", &json!({"type":"message"})),
            Err(LlmError::Malformed { .. })
        ));
    }
}
