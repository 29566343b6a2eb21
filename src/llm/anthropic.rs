//! Anthropic's Messages API: `POST {base}/v1/messages` (default base
//! `https://api.anthropic.com`; a base that already ends in `/v1` is used as is) with
//! `x-api-key` and `anthropic-version: 2023-06-01`.
//!
//! The request: `model`, top-level `system`, `messages: [{role: user, content}]`,
//! `max_tokens`, `temperature: 0`. Structured output, when the caller gives a JSON Schema,
//! is a forced tool call — the way the Messages API constrains a reply to a schema on
//! Anthropic, Bedrock and Vertex alike: one tool, [`REPLY_TOOL`], whose `input_schema` is
//! the schema, and `tool_choice: {type: "tool", name}`. The tool's `input` is the reply.
//! A server that refuses tools (400/422 naming `tools` or `tool_choice`: some compatible
//! proxies) gets the call again without them, and that is remembered; the system prompt
//! asks for JSON anyway and the caller parses defensively. Nothing is prefilled.
//! The reply's text is the reply tool's `input` as JSON when there is one, else its
//! `content[]` text blocks joined; usage is `input_tokens` (plus cache reads and writes) and
//! `output_tokens`; `stop_reason: max_tokens` is truncation.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::http::{Endpoint, build_client, display_url};
use super::settings::LlmSettings;
use super::{BoxFuture, Completion, CompletionRequest, LanguageModel, LlmError, ModelInfo, Usage};
use crate::error::InputError;

/// The `anthropic-version` header Nectr speaks.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// The one tool a structured call offers and forces; its input is the reply.
pub const REPLY_TOOL: &str = "submit_review";

/// An Anthropic model. `Debug` never shows the key.
#[derive(Debug)]
pub struct Anthropic {
    info: ModelInfo,
    endpoint: Endpoint,
    /// Cleared once the server refused tools: later calls ask for JSON in the prompt only.
    tools: AtomicBool,
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
                limits: Default::default(),
            },
            endpoint,
            tools: AtomicBool::new(true),
        })
    }

    fn body(&self, request: &CompletionRequest, tools: bool) -> Value {
        let mut body = json!({
            "model": self.info.model,
            "max_tokens": request.max_output_tokens,
            "temperature": 0,
            "messages": [{"role": "user", "content": request.user}],
        });
        if !request.system.is_empty() {
            body["system"] = json!(request.system);
        }
        if let Some(schema) = request.response_schema.as_ref().filter(|_| tools) {
            body["tools"] = json!([{
                "name": REPLY_TOOL,
                "description": "Submit the review: the summary and the findings, as the schema says.",
                "input_schema": schema,
            }]);
            body["tool_choice"] = json!({"type": "tool", "name": REPLY_TOOL});
        }
        body
    }

    async fn call(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let mut tools = self.tools.load(Ordering::Relaxed) && request.response_schema.is_some();
        loop {
            match self.endpoint.post_json(&self.body(request, tools)).await {
                Ok(reply) => return parse_reply(&self.endpoint.label, &reply),
                Err(LlmError::Status {
                    status: 400 | 422,
                    message,
                    ..
                }) if tools && refuses_tools(&message) => {
                    self.tools.store(false, Ordering::Relaxed);
                    tools = false;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Does a 400's message say the server does not take our tool parameters?
fn refuses_tools(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("tool_choice") || m.contains("tools") || m.contains("input_schema")
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
    let tool_input = content.iter().find_map(|b| {
        (b.get("type").and_then(Value::as_str) == Some("tool_use")
            && b.get("name").and_then(Value::as_str) == Some(REPLY_TOOL))
        .then(|| b.get("input"))
        .flatten()
    });
    let text = match tool_input {
        Some(input) => input.to_string(),
        None => content
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str).unwrap_or("text") == "text")
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
    };
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

    #[test]
    fn a_forced_tool_call_is_the_reply() {
        let r = json!({"content":[
            {"type":"text","text":"Here is the review."},
            {"type":"tool_use","id":"t1","name":REPLY_TOOL,"input":{"summary":"ok","findings":[]}}],
            "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":6}});
        let c = parse_reply("m", &r).unwrap();
        let v: Value = serde_json::from_str(&c.text).unwrap();
        assert_eq!(v, json!({"summary":"ok","findings":[]}));
        assert!(!c.truncated);
        // Another tool's call is not the reply.
        let r = json!({"content":[{"type":"tool_use","name":"other","input":{}},{"type":"text","text":"t"}]});
        assert_eq!(parse_reply("m", &r).unwrap().text, "t");
        assert!(refuses_tools("tools: Extra inputs are not permitted"));
        assert!(!refuses_tools("max_tokens: must be at most 8192"));
    }
}
