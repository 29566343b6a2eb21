//! A mock LLM server on 127.0.0.1 that speaks OpenAI chat completions
//! (`POST …/chat/completions`, including Azure's
//! `/openai/deployments/{d}/chat/completions?api-version=…`) and Anthropic Messages
//! (`POST …/v1/messages`). Independent of Nectr's code.
//!
//! Every request is recorded ([`RecordedLlmRequest`]: path, query, headers, JSON body) and
//! answered, in this order, by:
//! 1. the API-key check, when [`MockLlm::expect_api_key`] was called (401 in the provider's
//!    shape when the key is missing or wrong);
//! 2. a `response_format` rejection, when [`MockLlm::reject_response_formats`] names the
//!    type the request asked for (400 in OpenAI's shape, as an older vLLM or a model without
//!    structured outputs answers);
//! 3. the next scripted reply ([`MockLlm::push`] / [`MockLlm::script`]);
//! 4. the responder ([`MockLlm::respond_with`]), a closure over the request;
//! 5. the default reply ([`MockLlm::set_default`], initially `{"findings":[]}` as text).
//!
//! A [`MockReply::Text`] is wrapped in the reply JSON of the API that was called, with usage
//! numbers (by default about a token per four characters of prompt and of text).
//!
//! Like the fake GitHub, it runs on a thread of its own with its own runtime, and stops when
//! dropped.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::thread_server::ThreadServer;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

/// Which API a request was addressed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LlmApi {
    OpenAi,
    Azure {
        deployment: String,
        api_version: Option<String>,
    },
    Anthropic,
    Unknown,
}

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct RecordedLlmRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
    pub raw_body: String,
    pub api: LlmApi,
    pub received_at: std::time::Instant,
}

impl RecordedLlmRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The system prompt: OpenAI's `system` message or Anthropic's top-level `system`.
    pub fn system(&self) -> Option<String> {
        match self.api {
            LlmApi::Anthropic => match self.body.get("system") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(parts)) => Some(
                    parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect(),
                ),
                _ => None,
            },
            _ => self.message_text("system"),
        }
    }

    /// The (last) user message's text.
    pub fn user(&self) -> Option<String> {
        self.message_text("user")
    }

    fn message_text(&self, role: &str) -> Option<String> {
        let messages = self.body.get("messages")?.as_array()?;
        let m = messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some(role))?;
        match m.get("content")? {
            Value::String(s) => Some(s.clone()),
            Value::Array(parts) => Some(
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect(),
            ),
            _ => None,
        }
    }

    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }

    /// `max_tokens` or `max_completion_tokens`, whichever was sent.
    pub fn max_tokens(&self) -> Option<u64> {
        self.body
            .get("max_tokens")
            .or_else(|| self.body.get("max_completion_tokens"))
            .and_then(Value::as_u64)
    }

    /// `response_format.type`, if any.
    pub fn response_format_type(&self) -> Option<&str> {
        self.body
            .pointer("/response_format/type")
            .and_then(Value::as_str)
    }
}

/// How the mock answers one request.
#[derive(Clone, Debug)]
pub enum MockReply {
    /// A normal reply with this text; usage estimated from the prompt and text.
    Text(String),
    /// A normal reply with given usage numbers.
    TextWithUsage {
        text: String,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// Cut at the token cap: `finish_reason: length` / `stop_reason: max_tokens`.
    Truncated(String),
    /// An error status in the provider's error shape, with optional `retry-after` /
    /// `retry-after-ms` headers.
    Status {
        status: u16,
        message: String,
        retry_after: Option<String>,
        retry_after_ms: Option<u64>,
    },
    /// Wait, then answer with the inner reply.
    Delay(Duration, Box<MockReply>),
    /// 200 with this body, which is not JSON.
    InvalidJson(String),
    /// A 400 rejecting `response_format: json_schema`, in OpenAI's words.
    RejectJsonSchema,
    /// Anything: status, headers and body as given.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
}

impl MockReply {
    pub fn text(t: impl Into<String>) -> MockReply {
        MockReply::Text(t.into())
    }

    pub fn status(status: u16) -> MockReply {
        MockReply::Status {
            status,
            message: format!("mock error {status}"),
            retry_after: None,
            retry_after_ms: None,
        }
    }

    pub fn status_with_message(status: u16, message: impl Into<String>) -> MockReply {
        MockReply::Status {
            status,
            message: message.into(),
            retry_after: None,
            retry_after_ms: None,
        }
    }

    /// A 429 with `retry-after: {secs}`.
    pub fn rate_limited(retry_after: &str) -> MockReply {
        MockReply::Status {
            status: 429,
            message: "Rate limit reached".into(),
            retry_after: Some(retry_after.into()),
            retry_after_ms: None,
        }
    }

    pub fn delayed(delay: Duration, then: MockReply) -> MockReply {
        MockReply::Delay(delay, Box::new(then))
    }
}

type Responder = Arc<dyn Fn(&RecordedLlmRequest) -> MockReply + Send + Sync>;

struct State {
    requests: Vec<RecordedLlmRequest>,
    script: VecDeque<MockReply>,
    responder: Option<Responder>,
    default: MockReply,
    expected_key: Option<String>,
    rejected_formats: Vec<String>,
    /// Anthropic requests carrying `tools` get a 400, as from a proxy without tool use.
    reject_tools: bool,
    counter: u64,
}

/// The running mock. `url` is the base to configure: OpenAI-style clients append
/// `/chat/completions` (use `openai_base()` for a `/v1` base), Anthropic `/v1/messages`.
pub struct MockLlm {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    state: Arc<Mutex<State>>,
    /// Stops the server when dropped.
    _server: ThreadServer,
}

impl MockLlm {
    pub async fn start() -> MockLlm {
        Self::start_blocking()
    }

    pub fn start_blocking() -> MockLlm {
        let state = Arc::new(Mutex::new(State {
            requests: Vec::new(),
            script: VecDeque::new(),
            responder: None,
            default: MockReply::Text(r#"{"findings":[]}"#.into()),
            expected_key: None,
            rejected_formats: Vec::new(),
            reject_tools: false,
            counter: 0,
        }));
        let server_state = state.clone();
        let server = ThreadServer::start("mock-llm", move |req| handle(server_state.clone(), req));
        MockLlm {
            url: format!("http://{}", server.addr),
            state,
            _server: server,
        }
    }

    /// `{url}/v1`, the base an OpenAI-compatible client is given.
    pub fn openai_base(&self) -> String {
        format!("{}/v1", self.url)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues one reply.
    pub fn push(&self, reply: MockReply) {
        self.lock().script.push_back(reply);
    }

    /// Queues replies, answered in order.
    pub fn script(&self, replies: impl IntoIterator<Item = MockReply>) {
        self.lock().script.extend(replies);
    }

    /// Answers (after the script runs out) by calling `f` with the request.
    pub fn respond_with(
        &self,
        f: impl Fn(&RecordedLlmRequest) -> MockReply + Send + Sync + 'static,
    ) {
        self.lock().responder = Some(Arc::new(f));
    }

    /// The reply when neither script nor responder answers.
    pub fn set_default(&self, reply: MockReply) {
        self.lock().default = reply;
    }

    /// Requires this key (Bearer, `x-api-key` or `api-key`); others get 401.
    pub fn expect_api_key(&self, key: &str) {
        self.lock().expected_key = Some(key.to_owned());
    }

    /// Rejects requests whose `response_format.type` is one of these with a 400.
    pub fn reject_response_formats(&self, types: &[&str]) {
        self.lock().rejected_formats = types.iter().map(|t| t.to_string()).collect();
    }

    /// Answers Anthropic requests that offer `tools` with a 400 naming them.
    pub fn reject_tools(&self) {
        self.lock().reject_tools = true;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RecordedLlmRequest> {
        self.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }
}

fn classify(path: &str, query: Option<&str>) -> LlmApi {
    if path.ends_with("/chat/completions") {
        if let Some(rest) = path.split("/openai/deployments/").nth(1) {
            let deployment = rest.split('/').next().unwrap_or_default().to_owned();
            let api_version = query.and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("api-version=").map(str::to_owned))
            });
            return LlmApi::Azure {
                deployment,
                api_version,
            };
        }
        return LlmApi::OpenAi;
    }
    if path.ends_with("/messages") {
        return LlmApi::Anthropic;
    }
    LlmApi::Unknown
}

fn estimate_tokens(s: &str) -> u64 {
    (s.chars().count() as u64).div_ceil(4).max(1)
}

async fn handle(state: Arc<Mutex<State>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let raw_body = String::from_utf8_lossy(&bytes).into_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let api = classify(&path, query.as_deref());
    let recorded = RecordedLlmRequest {
        method: parts.method.to_string(),
        path,
        query,
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: serde_json::from_str(&raw_body).unwrap_or(Value::Null),
        raw_body,
        api: api.clone(),
        received_at: std::time::Instant::now(),
    };
    let (reply, id) = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.requests.push(recorded.clone());
        s.counter += 1;
        let id = s.counter;
        let reply = if api == LlmApi::Unknown || recorded.method != "POST" {
            MockReply::Raw {
                status: 404,
                headers: vec![],
                body: json!({"error": {"message": format!("no route {} {}", recorded.method, recorded.path)}}).to_string(),
            }
        } else if let Some(expected) = s.expected_key.clone()
            && !key_matches(&recorded, &expected)
        {
            MockReply::status_with_message(401, "Incorrect API key provided")
        } else if let Some(t) = recorded.response_format_type()
            && s.rejected_formats.iter().any(|r| r == t)
        {
            MockReply::Status {
                status: 400,
                message: format!(
                    "Invalid parameter: 'response_format' of type '{t}' is not supported with this model."
                ),
                retry_after: None,
                retry_after_ms: None,
            }
        } else if s.reject_tools
            && recorded.api == LlmApi::Anthropic
            && recorded.body.get("tools").is_some()
        {
            MockReply::Status {
                status: 400,
                message: "tools: Extra inputs are not permitted".into(),
                retry_after: None,
                retry_after_ms: None,
            }
        } else if let Some(r) = s.script.pop_front() {
            r
        } else if let Some(f) = s.responder.clone() {
            drop(s);
            f(&recorded)
        } else {
            s.default.clone()
        };
        (reply, id)
    };
    render(reply, &recorded, id).await
}

fn key_matches(r: &RecordedLlmRequest, expected: &str) -> bool {
    let bearer = r
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    [bearer, r.header("x-api-key"), r.header("api-key")]
        .into_iter()
        .flatten()
        .any(|k| k == expected)
}

fn render<'a>(
    reply: MockReply,
    r: &'a RecordedLlmRequest,
    id: u64,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send + 'a>> {
    Box::pin(async move {
        let prompt_tokens = estimate_tokens(&format!(
            "{}{}",
            r.system().unwrap_or_default(),
            r.user().unwrap_or_default()
        ));
        let model = r.model().unwrap_or("mock-model").to_owned();
        match reply {
            MockReply::Delay(d, inner) => {
                tokio::time::sleep(d).await;
                render(*inner, r, id).await
            }
            MockReply::Text(text) => {
                let out = estimate_tokens(&text);
                ok_reply(r, id, &model, &text, prompt_tokens, out, false)
            }
            MockReply::TextWithUsage {
                text,
                input_tokens,
                output_tokens,
            } => ok_reply(r, id, &model, &text, input_tokens, output_tokens, false),
            MockReply::Truncated(text) => {
                let out = r.max_tokens().unwrap_or_else(|| estimate_tokens(&text));
                ok_reply(r, id, &model, &text, prompt_tokens, out, true)
            }
            MockReply::InvalidJson(body) => {
                respond(200, &[("content-type", "application/json")], body)
            }
            MockReply::RejectJsonSchema => error_reply(
                r,
                400,
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
                None,
                None,
            ),
            MockReply::Status {
                status,
                message,
                retry_after,
                retry_after_ms,
            } => error_reply(r, status, &message, retry_after, retry_after_ms),
            MockReply::Raw {
                status,
                headers,
                body,
            } => {
                let h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                respond(status, &h, body)
            }
        }
    })
}

fn ok_reply(
    r: &RecordedLlmRequest,
    id: u64,
    model: &str,
    text: &str,
    input: u64,
    output: u64,
    truncated: bool,
) -> Response {
    let body = match r.api {
        LlmApi::Anthropic => {
            // A forced tool call answers with the tool's input, as Anthropic does — when the
            // scripted text is a JSON object; anything else stays text (a model or proxy
            // that ignored the tool), so replies built to break the parser still reach it.
            let forced = r.body["tool_choice"]["type"] == "tool";
            let tool_input = serde_json::from_str::<Value>(text)
                .ok()
                .filter(|v| forced && v.is_object());
            let (content, stop) = match tool_input {
                Some(tool_input) => (
                    json!([{"type": "tool_use", "id": format!("toolu_mock_{id}"),
                            "name": r.body["tool_choice"]["name"], "input": tool_input}]),
                    "tool_use",
                ),
                None => (json!([{"type": "text", "text": text}]), "end_turn"),
            };
            json!({
                "id": format!("msg_mock_{id}"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": if truncated { "max_tokens" } else { stop },
                "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": output},
            })
        }
        _ => json!({
            "id": format!("chatcmpl-mock-{id}"),
            "object": "chat.completion",
            "created": 1_700_000_000u64 + id,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": null},
                "logprobs": null,
                "finish_reason": if truncated { "length" } else { "stop" },
            }],
            "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output},
        }),
    };
    respond(
        200,
        &[("content-type", "application/json")],
        body.to_string(),
    )
}

fn error_reply(
    r: &RecordedLlmRequest,
    status: u16,
    message: &str,
    retry_after: Option<String>,
    retry_after_ms: Option<u64>,
) -> Response {
    let body = match r.api {
        LlmApi::Anthropic => {
            let kind = match status {
                401 => "authentication_error",
                403 => "permission_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                s if s >= 500 => "api_error",
                _ => "invalid_request_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        _ => {
            let param = message
                .contains("response_format")
                .then_some("response_format");
            json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}})
        }
    };
    let ra_ms = retry_after_ms.map(|v| v.to_string());
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some(v) = retry_after.as_deref() {
        headers.push(("retry-after", v));
    }
    if let Some(v) = ra_ms.as_deref() {
        headers.push(("retry-after-ms", v));
    }
    respond(status, &headers, body.to_string())
}

fn respond(status: u16, headers: &[(&str, &str)], body: String) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).expect("response")
}
