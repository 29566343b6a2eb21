//! A fake of GitHub Models on 127.0.0.1 (`POST /inference/chat/completions`,
//! `POST /orgs/{org}/inference/chat/completions`, `GET /catalog/models`), enforcing what
//! GitHub's free tiers enforce, independently of Nectr's code:
//!
//! - the token: `Authorization: Bearer T` where T was given [`FakeModels::grant`] (as a
//!   workflow token with `models: read`); a token given [`FakeModels::deny`] gets 403 "no
//!   access" (no entitlement); anything else 401;
//! - per-request limits: prompt tokens (its own count: a token per 3.5 bytes of every
//!   message, the response format and the model name, plus 4 a message — stricter than
//!   OpenAI's tokenizers on code) over `max_input` answer 413 `tokens_limit_reached`;
//!   `max_tokens` over `max_output` answers 400;
//! - a per-minute rate: more than `rpm` requests in any `window` answer 429 with
//!   `retry-after` (seconds to the oldest request leaving the window) and
//!   `x-ratelimit-type: UserByModelByMinute`;
//! - a daily quota: more than `per_day` accepted requests answer 429 with
//!   `retry-after: 24367` and `x-ratelimit-type: UserByModelByDay`.
//!
//! Accepted requests are answered with one finding on the first added line of every file
//! in the prompt (`=== File: PATH (…) ===` then `+  N | …`), in OpenAI's reply shape with
//! usage. Every request is recorded with its verdict.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::thread_server::ThreadServer;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

/// The fake's limits.
#[derive(Clone, Debug)]
pub struct ModelsLimits {
    pub max_input: usize,
    pub max_output: u64,
    pub rpm: usize,
    pub window: Duration,
    pub per_day: usize,
}

impl Default for ModelsLimits {
    fn default() -> Self {
        ModelsLimits {
            max_input: 8_000,
            max_output: 4_000,
            rpm: 15,
            window: Duration::from_secs(60),
            per_day: 150,
        }
    }
}

/// One request and what the fake answered.
#[derive(Clone, Debug)]
pub struct ModelsRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    /// The fake's own count of the prompt's tokens.
    pub input_tokens: usize,
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

impl ModelsRequest {
    pub fn is_completion(&self) -> bool {
        self.path.ends_with("/chat/completions")
    }

    pub fn user(&self) -> String {
        self.body
            .pointer("/messages/1/content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

struct State {
    limits: ModelsLimits,
    granted: Vec<String>,
    denied: Vec<String>,
    catalog: Value,
    requests: Vec<ModelsRequest>,
    minute: VecDeque<Instant>,
    accepted: usize,
}

pub struct FakeModels {
    /// `http://127.0.0.1:PORT`: the value of `NECTR_GITHUB_MODELS_URL`.
    pub url: String,
    state: Arc<Mutex<State>>,
    /// Stops the server when dropped.
    _server: ThreadServer,
}

/// The catalog entries the fake lists by default: the zero-config model (low tier) and a
/// high-tier one, with the model limits GitHub's catalog shows (larger than the free
/// tier's per-request limits, which the fake enforces anyway).
pub fn default_catalog() -> Value {
    json!([
        {"id": "openai/gpt-4.1-mini", "name": "OpenAI GPT-4.1-mini", "publisher": "OpenAI",
         "rate_limit_tier": "low", "limits": {"max_input_tokens": 1048576, "max_output_tokens": 32768},
         "supported_input_modalities": ["text", "image"], "supported_output_modalities": ["text"]},
        {"id": "openai/gpt-4.1", "name": "OpenAI GPT-4.1", "publisher": "OpenAI",
         "rate_limit_tier": "high", "limits": {"max_input_tokens": 1048576, "max_output_tokens": 32768}}
    ])
}

/// The fake's token count of a text.
pub fn count_tokens(text: &str) -> usize {
    (text.len() as f64 / 3.5).ceil() as usize
}

impl FakeModels {
    pub fn start(limits: ModelsLimits) -> FakeModels {
        let state = Arc::new(Mutex::new(State {
            limits,
            granted: Vec::new(),
            denied: Vec::new(),
            catalog: default_catalog(),
            requests: Vec::new(),
            minute: VecDeque::new(),
            accepted: 0,
        }));
        let server_state = state.clone();
        let server =
            ThreadServer::start("fake-models", move |req| handle(server_state.clone(), req));
        FakeModels {
            url: format!("http://{}", server.addr),
            state,
            _server: server,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `token` may call models (a workflow token with `models: read`).
    pub fn grant(&self, token: &str) {
        self.lock().granted.push(token.to_owned());
    }

    /// `token` is valid but its account has no GitHub Models entitlement: 403.
    pub fn deny(&self, token: &str) {
        self.lock().denied.push(token.to_owned());
    }

    /// Spend the daily quota: every later completion gets the daily 429.
    pub fn spend_daily_quota(&self) {
        let mut s = self.lock();
        s.accepted = s.limits.per_day;
    }

    pub fn set_catalog(&self, catalog: Value) {
        self.lock().catalog = catalog;
    }

    pub fn requests(&self) -> Vec<ModelsRequest> {
        self.lock().requests.clone()
    }

    pub fn completions(&self) -> Vec<ModelsRequest> {
        self.requests()
            .into_iter()
            .filter(ModelsRequest::is_completion)
            .collect()
    }

    pub fn clear(&self) {
        let mut s = self.lock();
        s.requests.clear();
    }
}

fn reply(status: u16, headers: &[(&str, String)], body: Value) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn error(status: u16, code: &str, message: &str, headers: &[(&str, String)]) -> Response {
    reply(
        status,
        headers,
        json!({"error": {"code": code, "message": message}}),
    )
}

/// One finding on the first added line of every file the prompt shows.
fn review_of(user: &str) -> Value {
    let mut findings = Vec::new();
    let mut current: Option<String> = None;
    for line in user.lines() {
        if let Some(rest) = line.strip_prefix("=== File: ") {
            current = rest.split(" (").next().map(str::to_owned);
            continue;
        }
        if let Some(rest) = line.strip_prefix('+')
            && let Some((num, _)) = rest.split_once(" | ")
            && let Ok(n) = num.trim().parse::<u64>()
            && let Some(path) = current.take()
        {
            findings.push(json!({
                "path": path, "line": n, "severity": "minor",
                "title": "Fake Models finding",
                "body": "Reported by the fake GitHub Models endpoint."
            }));
        }
    }
    json!({"summary": "Reviewed by the fake GitHub Models.", "findings": findings})
}

async fn handle(state: Arc<Mutex<State>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = to_bytes(req.into_body(), 8 << 20).await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let token = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let mut record = ModelsRequest {
        method: method.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
        input_tokens: 0,
        status: 200,
        at: Instant::now(),
    };
    let response = (|| {
        if method == "GET" && path == "/catalog/models" {
            return reply(200, &[], s.catalog.clone());
        }
        let completion = method == "POST"
            && (path == "/inference/chat/completions"
                || (path.starts_with("/orgs/") && path.ends_with("/inference/chat/completions")));
        if !completion {
            return error(404, "not_found", "Not Found", &[]);
        }
        if s.denied.contains(&token) {
            return error(
                403,
                "no_access",
                "No access to model: the account has not been granted access to GitHub Models",
                &[],
            );
        }
        if !s.granted.contains(&token) {
            return error(401, "unauthorized", "Bad credentials", &[]);
        }
        // The per-minute window, then the day.
        let now = Instant::now();
        let window = s.limits.window;
        while s.minute.front().is_some_and(|&t| now - t >= window) {
            s.minute.pop_front();
        }
        if s.minute.len() >= s.limits.rpm {
            let wait = (s.minute[0] + window).saturating_duration_since(now);
            return error(
                429,
                "RateLimitReached",
                "Rate limit of requests per minute exceeded",
                &[
                    (
                        "retry-after",
                        wait.as_secs_f64().ceil().max(1.0).to_string(),
                    ),
                    ("x-ratelimit-type", "UserByModelByMinute".into()),
                ],
            );
        }
        if s.accepted >= s.limits.per_day {
            return error(
                429,
                "RateLimitReached",
                "Rate limit of requests per day exceeded",
                &[
                    ("retry-after", "24367".into()),
                    ("x-ratelimit-type", "UserByModelByDay".into()),
                ],
            );
        }
        s.minute.push_back(now);
        let mut input = count_tokens(body.get("model").and_then(Value::as_str).unwrap_or(""));
        for m in body
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            input += 4 + count_tokens(m.get("content").and_then(Value::as_str).unwrap_or(""));
        }
        if let Some(format) = body.get("response_format") {
            input += count_tokens(&format.to_string());
        }
        record.input_tokens = input;
        if input > s.limits.max_input {
            return error(
                413,
                "tokens_limit_reached",
                &format!(
                    "Request body too large for this model. Max size: {} tokens.",
                    s.limits.max_input
                ),
                &[],
            );
        }
        let max_out = body
            .get("max_tokens")
            .or_else(|| body.get("max_completion_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if max_out > s.limits.max_output {
            return error(
                400,
                "invalid_request",
                &format!(
                    "max_tokens is too large: {max_out}. This model supports at most {} completion tokens.",
                    s.limits.max_output
                ),
                &[],
            );
        }
        s.accepted += 1;
        let user = body
            .pointer("/messages/1/content")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let text = review_of(user).to_string();
        reply(
            200,
            &[],
            json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body.get("model").cloned().unwrap_or(Value::Null),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": input, "completion_tokens": count_tokens(&text), "total_tokens": input + count_tokens(&text)}
            }),
        )
    })();
    record.status = response.status().as_u16();
    s.requests.push(record);
    response
}
