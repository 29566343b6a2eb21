//! OpenAI-compatible chat completions: OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio,
//! OpenRouter and anything else that speaks `POST {base}/chat/completions`.
//!
//! The request: `model`, `messages` `[system, user]`, `temperature: 0`, a token cap, and,
//! when the caller gives a JSON Schema, `response_format: {type: "json_schema", json_schema:
//! {name, schema, strict: true}}`. Servers differ, so a 400 (or 422) that names a parameter
//! makes the provider send the call again without it, and remember that for later calls:
//! - `response_format` / `json_schema` rejected → `{type: "json_object"}`, then no
//!   `response_format` (the system prompt asks for JSON anyway);
//! - the token cap's name rejected → the other name. `max_completion_tokens` is sent to
//!   api.openai.com and Azure (newer OpenAI models refuse `max_tokens`), `max_tokens` to
//!   every other server (the name all compatible servers understand);
//! - `temperature` rejected (reasoning models accept only the default) → omitted.
//!
//! Authentication: `Authorization: Bearer KEY`, no header at all without a key (local
//! servers). Azure: `POST {base}/openai/deployments/{deployment}/chat/completions?api-version=…`
//! with `api-key: KEY`; Azure's `/openai/v1` base is plain chat completions with `api-key`.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::http::{Endpoint, build_client, display_url};
use super::settings::LlmSettings;
use super::{BoxFuture, Completion, CompletionRequest, LanguageModel, LlmError, ModelInfo, Usage};
use crate::error::InputError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    JsonSchema,
    JsonObject,
    Plain,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenField {
    MaxTokens,
    MaxCompletionTokens,
}

/// What this server accepts, learnt from its 400s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Compat {
    format: Format,
    tokens: TokenField,
    tokens_swapped: bool,
    temperature: bool,
}

impl Compat {
    /// The next thing to try after a 400 saying `message`, if it names something we sent.
    fn degrade(&self, message: &str, sent_format: bool) -> Option<Compat> {
        let m = message.to_ascii_lowercase();
        let mut next = *self;
        if sent_format
            && self.format != Format::Plain
            && (m.contains("response_format")
                || m.contains("json_schema")
                || m.contains("json_object")
                || m.contains("response format")
                || m.contains("structured output"))
        {
            next.format = match self.format {
                Format::JsonSchema => Format::JsonObject,
                _ => Format::Plain,
            };
            return Some(next);
        }
        if !self.tokens_swapped && (m.contains("max_tokens") || m.contains("max_completion_tokens"))
        {
            next.tokens = match self.tokens {
                TokenField::MaxTokens => TokenField::MaxCompletionTokens,
                TokenField::MaxCompletionTokens => TokenField::MaxTokens,
            };
            next.tokens_swapped = true;
            return Some(next);
        }
        if self.temperature && m.contains("temperature") {
            next.temperature = false;
            return Some(next);
        }
        None
    }
}

/// An OpenAI-compatible chat-completions model. `Debug` never shows the key.
#[derive(Debug)]
pub struct OpenAiCompatible {
    info: ModelInfo,
    endpoint: Endpoint,
    compat: Mutex<Compat>,
}

impl OpenAiCompatible {
    /// A provider for `settings` (whose `provider` should be `openai`).
    pub fn new(settings: &LlmSettings) -> Result<OpenAiCompatible, InputError> {
        let base = reqwest::Url::parse(settings.base_url.trim_end_matches('/')).map_err(|e| {
            InputError(format!(
                "the LLM base URL {} is not a URL: {e}",
                super::http::display_url_str(&settings.base_url)
            ))
        })?;
        let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
        let azure_host =
            host.ends_with(".openai.azure.com") || host.ends_with(".cognitiveservices.azure.com");
        let base_str = base.as_str().trim_end_matches('/').to_owned();
        let url = match &settings.azure {
            Some(azure) => {
                let root = base_str.strip_suffix("/openai").unwrap_or(&base_str);
                let mut u = reqwest::Url::parse(&format!(
                    "{root}/openai/deployments/{}/chat/completions",
                    urlencode_segment(&azure.deployment)
                ))
                .map_err(|e| InputError(format!("invalid Azure OpenAI URL: {e}")))?;
                u.query_pairs_mut()
                    .append_pair("api-version", &azure.api_version);
                u
            }
            None if base_str.ends_with("/chat/completions") => base.clone(),
            None => reqwest::Url::parse(&format!("{base_str}/chat/completions"))
                .map_err(|e| InputError(format!("invalid LLM base URL: {e}")))?,
        };
        let client = build_client().map_err(InputError)?;
        let mut endpoint = Endpoint::new(
            client,
            url,
            &settings.model,
            settings.http.clone(),
            settings.api_key.clone(),
        );
        let azure = settings.azure.is_some() || azure_host;
        if let Some(key) = &settings.api_key {
            let set = if azure {
                endpoint.header("api-key", key.expose(), true)
            } else {
                endpoint.header("authorization", &format!("Bearer {}", key.expose()), true)
            };
            set.map_err(|_| {
                InputError(
                    "NECTR_LLM_API_KEY contains characters not allowed in an HTTP header".into(),
                )
            })?;
        }
        let tokens = if host == "api.openai.com" || azure {
            TokenField::MaxCompletionTokens
        } else {
            TokenField::MaxTokens
        };
        Ok(OpenAiCompatible {
            info: ModelInfo {
                provider: "openai",
                model: settings.model.clone(),
                endpoint: display_url(&base),
                context_window: settings.context_window,
                limits: Default::default(),
            },
            endpoint,
            compat: Mutex::new(Compat {
                format: Format::JsonSchema,
                tokens,
                tokens_swapped: false,
                temperature: true,
            }),
        })
    }

    fn body(&self, request: &CompletionRequest, compat: &Compat) -> Value {
        let mut body = json!({
            "model": self.info.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
        });
        let field = match compat.tokens {
            TokenField::MaxTokens => "max_tokens",
            TokenField::MaxCompletionTokens => "max_completion_tokens",
        };
        body[field] = json!(request.max_output_tokens);
        if compat.temperature {
            body["temperature"] = json!(0);
        }
        if let Some(schema) = &request.response_schema {
            match compat.format {
                Format::JsonSchema => {
                    body["response_format"] = json!({
                        "type": "json_schema",
                        "json_schema": {
                            "name": schema_name(schema),
                            "schema": schema,
                            "strict": true,
                        }
                    });
                }
                Format::JsonObject => body["response_format"] = json!({"type": "json_object"}),
                Format::Plain => {}
            }
        }
        body
    }

    async fn call(&self, request: &CompletionRequest) -> Result<Completion, LlmError> {
        let mut compat = *self.compat.lock().unwrap_or_else(|p| p.into_inner());
        // At most one step per thing that can be dropped: two formats, the token name,
        // temperature.
        let mut steps = 0;
        loop {
            let body = self.body(request, &compat);
            match self.endpoint.post_json(&body).await {
                Ok(reply) => {
                    *self.compat.lock().unwrap_or_else(|p| p.into_inner()) = compat;
                    return parse_reply(&self.endpoint.label, &reply);
                }
                Err(e) => {
                    if steps < 4
                        && let LlmError::Status {
                            status: 400 | 422,
                            message,
                            ..
                        } = &e
                        && let Some(next) =
                            compat.degrade(message, request.response_schema.is_some())
                    {
                        compat = next;
                        steps += 1;
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// A `json_schema.name`: the schema's `title` when usable, else `reply`.
fn schema_name(schema: &Value) -> String {
    schema
        .get("title")
        .and_then(Value::as_str)
        .map(|t| {
            t.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(64)
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "reply".to_owned())
}

fn urlencode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Reads a chat-completions reply.
pub(crate) fn parse_reply(label: &str, reply: &Value) -> Result<Completion, LlmError> {
    let malformed = |message: String| LlmError::Malformed {
        model: label.to_owned(),
        message,
    };
    let choice = reply
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| malformed("no `choices` in the reply".into()))?;
    let message = choice
        .get("message")
        .ok_or_else(|| malformed("no `choices[0].message` in the reply".into()))?;
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        Some(Value::Null) | None => {
            // The refusal's own words are not kept: this error is posted on the pull
            // request, where only neutralised model text may appear.
            if message.get("refusal").and_then(Value::as_str).is_some() {
                return Err(malformed("the model refused to answer".into()));
            }
            String::new()
        }
        Some(other) => {
            let kind = match other {
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Object(_) => "an object",
                _ => "something else",
            };
            return Err(malformed(format!("`content` is {kind}, not text")));
        }
    };
    let finish = choice.get("finish_reason").and_then(Value::as_str);
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
            input_tokens: num("prompt_tokens"),
            output_tokens: num("completion_tokens"),
        },
        truncated: matches!(finish, Some("length") | Some("max_tokens")),
    })
}

impl LanguageModel for OpenAiCompatible {
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
    fn degrade_steps() {
        let c = Compat {
            format: Format::JsonSchema,
            tokens: TokenField::MaxTokens,
            tokens_swapped: false,
            temperature: true,
        };
        let c1 = c
            .degrade(
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported",
                true,
            )
            .unwrap();
        assert_eq!(c1.format, Format::JsonObject);
        let c2 = c1
            .degrade("response_format json_object unsupported", true)
            .unwrap();
        assert_eq!(c2.format, Format::Plain);
        let c3 = c2
            .degrade("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", true)
            .unwrap();
        assert_eq!(c3.tokens, TokenField::MaxCompletionTokens);
        assert!(c3.degrade("max_tokens again", true).is_none());
        let c4 = c3
            .degrade("Unsupported value: 'temperature' does not support 0", true)
            .unwrap();
        assert!(!c4.temperature);
        assert!(c4.degrade("model not found", true).is_none());
    }

    #[test]
    fn replies() {
        let r = json!({"choices":[{"message":{"content":"hi"},"finish_reason":"length"}],
                       "usage":{"prompt_tokens":3,"completion_tokens":4}});
        let c = parse_reply("m", &r).unwrap();
        assert_eq!(c.text, "hi");
        assert!(c.truncated);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 3,
                output_tokens: 4
            }
        );
        let parts = json!({"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"stop"}]});
        assert_eq!(parse_reply("m", &parts).unwrap().text, "ab");
        assert!(matches!(
            parse_reply("m", &json!({"id":1})),
            Err(LlmError::Malformed { .. })
        ));
        let refusal = json!({"choices":[{"message":{"content":null,"refusal":"no"}}]});
        assert!(matches!(
            parse_reply("m", &refusal),
            Err(LlmError::Malformed { .. })
        ));
    }

    #[test]
    fn schema_names() {
        assert_eq!(
            schema_name(&json!({"title":"Nectr review!"})),
            "Nectr_review_"
        );
        assert_eq!(schema_name(&json!({})), "reply");
    }
}
