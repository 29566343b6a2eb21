//! A mock MCP server speaking the streamable-HTTP transport on 127.0.0.1, independent of
//! Nectr's code (it does not use rmcp): JSON-RPC 2.0 over `POST {url}`, answered as JSON or,
//! with [`MockMcp::answer_with_sse`], as a `text/event-stream` of one `message` event.
//!
//! The protocol as the MCP specification (2025-06-18) has it, and checked: `initialize`
//! first (answered with an `Mcp-Session-Id` header and protocol version `2025-06-18`), then
//! the `notifications/initialized` notification (202), then `tools/list` / `tools/call`,
//! each carrying the session id (a missing or unknown one gets 400 / 404), an `Accept`
//! header naming both `application/json` and `text/event-stream`, and `DELETE` ends the
//! session. What a client gets wrong is recorded in [`MockMcp::violations`].
//!
//! Tools answer through a responder per tool name ([`MockMcp::tool`]) with a [`ToolReply`]:
//! text, JSON text, a tool error (`isError`), a JSON-RPC error, or no answer at all (a
//! hang). Faults for the whole server: an HTTP status for every request
//! ([`MockMcp::fail_with_status`]) or a hang on `initialize` ([`MockMcp::hang_initialize`]).
//!
//! It runs on a thread of its own with its own runtime and stops when dropped.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::thread_server::ThreadServer;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

/// How a tool answers one call.
#[derive(Clone, Debug)]
pub enum ToolReply {
    /// One text content block.
    Text(String),
    /// A JSON value as one text block (what Linear's server does).
    JsonText(Value),
    /// A result with `isError: true` and this text.
    ToolError(String),
    /// A JSON-RPC error object.
    RpcError(i64, String),
    /// Never answers.
    Hang,
}

type Responder = Arc<dyn Fn(&Value) -> ToolReply + Send + Sync>;

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct RecordedMcpRequest {
    pub http_method: String,
    /// The JSON-RPC method (`initialize`, `tools/call`, …); empty for non-JSON bodies.
    pub method: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl RecordedMcpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    tools: Vec<(String, Responder)>,
    requests: Vec<RecordedMcpRequest>,
    violations: Vec<String>,
    sessions: HashMap<String, bool /* initialized notification seen */>,
    status: Option<u16>,
    hang_initialize: bool,
    sse: bool,
    counter: u64,
}

pub struct MockMcp {
    /// The endpoint, e.g. `http://127.0.0.1:4321/mcp`.
    pub url: String,
    state: Arc<Mutex<State>>,
    /// Stops the server when dropped.
    _server: ThreadServer,
}

impl MockMcp {
    pub fn start() -> MockMcp {
        let state = Arc::new(Mutex::new(State::default()));
        let server_state = state.clone();
        let server = ThreadServer::start("mock-mcp", move |req| handle(server_state.clone(), req));
        MockMcp {
            url: format!("http://{}/mcp", server.addr),
            state,
            _server: server,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Offers a tool answered by `f` (called with the call's `arguments`).
    pub fn tool(&self, name: &str, f: impl Fn(&Value) -> ToolReply + Send + Sync + 'static) {
        self.lock().tools.push((name.to_owned(), Arc::new(f)));
    }

    /// Answers every request with this HTTP status and a short text body.
    pub fn fail_with_status(&self, status: u16) {
        self.lock().status = Some(status);
    }

    /// Never answers `initialize`.
    pub fn hang_initialize(&self) {
        self.lock().hang_initialize = true;
    }

    /// Answers requests as an SSE stream (as Cloudflare-hosted servers often do).
    pub fn answer_with_sse(&self) {
        self.lock().sse = true;
    }

    pub fn requests(&self) -> Vec<RecordedMcpRequest> {
        self.lock().requests.clone()
    }

    /// The `arguments` of every call of `tool`.
    pub fn calls(&self, tool: &str) -> Vec<Value> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == "tools/call" && r.body["params"]["name"] == tool)
            .map(|r| r.body["params"]["arguments"].clone())
            .collect()
    }

    /// Protocol mistakes the client made.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }
}

fn text_response(status: u16, text: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "text/plain")
        .body(Body::from(text.to_owned()))
        .expect("response")
}

fn rpc_response(state: &Arc<Mutex<State>>, message: Value, session: Option<&str>) -> Response {
    let sse = state.lock().unwrap_or_else(|p| p.into_inner()).sse;
    let mut b = Response::builder().status(200);
    if let Some(s) = session {
        b = b.header("mcp-session-id", s);
    }
    if sse {
        b.header("content-type", "text/event-stream")
            .body(Body::from(format!("event: message\ndata: {message}\n\n")))
            .expect("response")
    } else {
        b.header("content-type", "application/json")
            .body(Body::from(message.to_string()))
            .expect("response")
    }
}

async fn hang() -> Response {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    text_response(500, "unreachable")
}

async fn handle(state: Arc<Mutex<State>>, req: Request) -> Response {
    let http_method = req.method().as_str().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let method = body["method"].as_str().unwrap_or_default().to_owned();
    let session = headers
        .iter()
        .find(|(n, _)| n == "mcp-session-id")
        .map(|(_, v)| v.clone());
    let (status, hang_init) = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.requests.push(RecordedMcpRequest {
            http_method: http_method.clone(),
            method: method.clone(),
            headers: headers.clone(),
            body: body.clone(),
        });
        (s.status, s.hang_initialize)
    };
    if let Some(status) = status {
        return text_response(status, "mock failure");
    }
    let violation = |text: String| {
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .violations
            .push(text);
    };
    match http_method.as_str() {
        // No server-initiated stream is offered.
        "GET" => return text_response(405, "no SSE stream"),
        "DELETE" => {
            let known = session.as_ref().is_some_and(|s| {
                state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .sessions
                    .remove(s)
                    .is_some()
            });
            return text_response(if known { 200 } else { 404 }, "");
        }
        "POST" => {}
        _ => return text_response(405, "method not allowed"),
    }
    let accept = headers
        .iter()
        .find(|(n, _)| n == "accept")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if !(accept.contains("application/json") && accept.contains("text/event-stream")) {
        violation(format!("{method}: Accept is {accept:?}"));
    }
    if body["jsonrpc"] != "2.0" {
        violation(format!("not JSON-RPC 2.0: {body}"));
        return text_response(400, "bad request");
    }
    let id = body.get("id").cloned();
    if method == "initialize" {
        if hang_init {
            return hang().await;
        }
        let sid = {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.counter += 1;
            let sid = format!("session-{}-{}", s.counter, fastrand_like(s.counter));
            s.sessions.insert(sid.clone(), false);
            sid
        };
        if body["params"]["protocolVersion"].as_str().is_none() {
            violation("initialize without protocolVersion".into());
        }
        let result = json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "mock-mcp", "version": "1.0.0"}
        });
        return rpc_response(
            &state,
            json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Some(&sid),
        );
    }
    // Everything after initialize needs a live session.
    let Some(sid) = session else {
        violation(format!("{method} without Mcp-Session-Id"));
        return text_response(400, "missing session");
    };
    let initialized = {
        let s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.sessions.get(&sid).copied()
    };
    let Some(initialized) = initialized else {
        violation(format!("{method} with an unknown session"));
        return text_response(404, "unknown session");
    };
    if id.is_none() {
        // A notification (or a response to us): accepted.
        if method == "notifications/initialized" {
            state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .sessions
                .insert(sid, true);
        }
        return text_response(202, "");
    }
    if !initialized && method != "ping" {
        violation(format!("{method} before notifications/initialized"));
    }
    let result = match method.as_str() {
        "ping" => json!({}),
        "tools/list" => {
            let s = state.lock().unwrap_or_else(|p| p.into_inner());
            let tools: Vec<Value> = s
                .tools
                .iter()
                .map(|(name, _)| json!({"name": name, "description": "mock", "inputSchema": {"type": "object"}}))
                .collect();
            json!({"tools": tools})
        }
        "tools/call" => {
            let name = body["params"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let responder = {
                let s = state.lock().unwrap_or_else(|p| p.into_inner());
                s.tools
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, f)| f.clone())
            };
            let Some(responder) = responder else {
                return rpc_response(
                    &state,
                    json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32602, "message": format!("Unknown tool: {name}")}}),
                    None,
                );
            };
            match responder(&body["params"]["arguments"]) {
                ToolReply::Text(t) => {
                    json!({"content": [{"type": "text", "text": t}], "isError": false})
                }
                ToolReply::JsonText(v) => {
                    json!({"content": [{"type": "text", "text": v.to_string()}], "isError": false})
                }
                ToolReply::ToolError(t) => {
                    json!({"content": [{"type": "text", "text": t}], "isError": true})
                }
                ToolReply::RpcError(code, message) => {
                    return rpc_response(
                        &state,
                        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
                        None,
                    );
                }
                ToolReply::Hang => return hang().await,
            }
        }
        other => {
            return rpc_response(
                &state,
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("Method not found: {other}")}}),
                None,
            );
        }
    };
    rpc_response(
        &state,
        json!({"jsonrpc": "2.0", "id": id, "result": result}),
        None,
    )
}

/// A session id part that differs between sessions without a random-number crate.
fn fastrand_like(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}
