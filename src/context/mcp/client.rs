//! The MCP transport, behind [`ToolSession`]: connect to one server (a stdio child process or
//! a streamable-HTTP endpoint), call tools, and turn what comes back into capped text.
//!
//! Only this file knows rmcp. It changed its API three times in a year, so the
//! rest of `context::mcp` sees a two-method trait and plain strings.
//!
//! Errors are one line, never contain a header value (every expanded secret is scrubbed
//! from them), show URLs without query strings or user-info, and never quote a failed HTTP
//! response's body (`HTTP 502` only): these lines are posted on pull requests.
//!
//! A repository's stdio child under `nectr serve` (only with `NECTR_MCP_ALLOW_STDIO=1`) is
//! code execution on the server. What [`contain`] does about it: a cleared environment
//! (the policy passes only `PATH`, `HOME`, `LANG`); when the server runs as root, the child
//! runs as `nobody` (65534), so it cannot read the server's files or `/proc/<server>/`;
//! otherwise the server marks itself non-dumpable (`PR_SET_DUMPABLE 0`), so a same-uid child
//! cannot read `/proc/$PPID/environ` or `mem`. What it cannot contain: a same-uid child
//! still reads every file the server's user can (the SQLite database, an `.env` file),
//! signals the server, and reaches the network; a root server with `nobody` still shares
//! the network and world-readable files. Docs: `docs/server.md`, "Trust model".

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, ClientConfig, Implementation};
use rmcp::service::{RoleClient, RunningService, ServiceExt};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Map, Value};

use crate::llm::http::display_url_str;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Largest HTTP response body (one JSON-RPC message) accepted from a server.
pub const MAX_RESPONSE_BYTES: usize = 4 << 20;
/// Longest error message kept from a server or transport.
const MAX_ERROR_CHARS: usize = 300;

/// How to reach one server, with its secrets already expanded.
#[derive(Clone)]
pub enum Endpoint {
    Http {
        url: String,
        /// Header name and value; every value is treated as a secret.
        headers: Vec<(String, String)>,
    },
    Stdio {
        program: String,
        args: Vec<String>,
        /// `Some`: the child gets exactly these variables and is contained ([`contain`]:
        /// a repository's server under `nectr serve`); `None`: it inherits Nectr's
        /// environment (local runs, operator-configured servers).
        env: Option<Vec<(String, String)>>,
    },
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Http { url, headers } => f
                .debug_struct("Http")
                .field("url", &display_url_str(url))
                .field(
                    "header_names",
                    &headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                )
                .finish(),
            Endpoint::Stdio { program, args, env } => f
                .debug_struct("Stdio")
                .field("program", program)
                .field("args", args)
                .field("env_names", &env.as_ref().map(|e| e.len()))
                .finish(),
        }
    }
}

impl Endpoint {
    /// Values that must never appear in an error: every header value and, for a child
    /// process, every variable given to it.
    fn secrets(&self) -> Vec<String> {
        let mut out: Vec<String> = match self {
            Endpoint::Http { headers, .. } => headers.iter().map(|(_, v)| v.clone()).collect(),
            Endpoint::Stdio { env, .. } => env
                .iter()
                .flatten()
                .filter(|(k, _)| !matches!(k.as_str(), "PATH" | "HOME" | "LANG" | "TMPDIR"))
                .map(|(_, v)| v.clone())
                .collect(),
        };
        // A bearer token is also scrubbed on its own, in case a server echoes only the token.
        let tokens: Vec<String> = out
            .iter()
            .filter_map(|v| v.split_once(' ').map(|(_, t)| t.trim().to_owned()))
            .collect();
        out.extend(tokens);
        out.retain(|s| s.len() >= 4);
        out.sort_by_key(|s| std::cmp::Reverse(s.len()));
        out
    }
}

/// What one tool call returned: the text of its content blocks (capped) and, when the server
/// gave `structuredContent`, that value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolOutput {
    pub text: String,
    pub structured: Option<Value>,
    /// The server flagged the result as a tool error (`isError`).
    pub is_error: bool,
    /// The text was cut at the cap.
    pub truncated: bool,
}

/// An open connection to one MCP server.
pub trait ToolSession: Send + Sync {
    /// Call `tool` with `arguments`. A tool error (`isError: true`) is an `Ok` output with
    /// `is_error` set; a protocol or transport failure is an `Err` with a one-line reason.
    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: Map<String, Value>,
    ) -> BoxFuture<'a, Result<ToolOutput, String>>;

    /// Close the session (ends the HTTP session, stops the child process).
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// Connect to a server and run the MCP handshake (`initialize`, then
/// `notifications/initialized`). The caller time-boxes it.
pub async fn connect(
    endpoint: &Endpoint,
    max_text_chars: usize,
) -> Result<Box<dyn ToolSession>, String> {
    let scrub = Scrubber::new(endpoint);
    let info = client_info();
    let service = match endpoint {
        Endpoint::Http { url, headers } => {
            let shown = display_url_str(url);
            let parsed =
                reqwest::Url::parse(url).map_err(|e| format!("invalid URL {shown}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("URL {shown} is not http(s)"));
            }
            let mut custom = HashMap::new();
            for (name, value) in headers {
                let n = http::HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("header name {name:?} is not valid"))?;
                let mut v = http::HeaderValue::from_str(value).map_err(|_| {
                    format!("the value of header {name} is not a valid header value")
                })?;
                v.set_sensitive(true);
                custom.insert(n, v);
            }
            let client = http_client()?;
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .custom_headers(custom)
                .max_json_response_size(MAX_RESPONSE_BYTES)
                .max_sse_event_size(MAX_RESPONSE_BYTES)
                .max_error_response_size(4096)
                .reinit_on_expired_session(false);
            let transport = StreamableHttpClientTransport::with_client(client, config);
            info.serve(transport)
                .await
                .map_err(|e| scrub.error(&format!("cannot connect to {shown}"), &e))?
        }
        Endpoint::Stdio { program, args, env } => {
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args).kill_on_drop(true);
            if let Some(vars) = env {
                cmd.env_clear();
                cmd.envs(vars.iter().map(|(k, v)| (k, v)));
                contain(&mut cmd);
            }
            let mut wrapped = process_wrap::tokio::CommandWrap::from(cmd);
            #[cfg(unix)]
            wrapped.wrap(process_wrap::tokio::ProcessGroup::leader());
            wrapped.wrap(process_wrap::tokio::KillOnDrop);
            let (transport, _stderr) = TokioChildProcess::builder(wrapped)
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        format!("command `{program}` was not found; install it or fix `command:`")
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        format!("command `{program}` is not executable")
                    }
                    _ => scrub.text(&format!("cannot start `{program}`: {e}")),
                })?;
            info.serve(transport).await.map_err(|e| {
                scrub.error(&format!("`{program}` did not start an MCP session"), &e)
            })?
        }
    };
    Ok(Box::new(RmcpSession {
        service,
        scrub,
        max_text_chars,
    }))
}

/// The uid and gid a root server runs repository children as (`nobody`).
pub const CHILD_UID: u32 = 65534;

#[cfg(unix)]
unsafe extern "C" {
    fn geteuid() -> u32;
}

#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn prctl(option: i32, ...) -> i32;
}

/// Keeps a repository's child away from the server's secrets as far as is cheap (see the
/// module docs for what remains).
fn contain(cmd: &mut tokio::process::Command) {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { geteuid() } == 0 {
            // std drops supplementary groups too when root sets a uid.
            cmd.uid(CHILD_UID).gid(CHILD_UID);
            return;
        }
    }
    #[cfg(target_os = "linux")]
    {
        static NON_DUMPABLE: std::sync::Once = std::sync::Once::new();
        NON_DUMPABLE.call_once(|| {
            const PR_SET_DUMPABLE: i32 = 4;
            let zero: std::ffi::c_ulong = 0;
            // SAFETY: PR_SET_DUMPABLE takes one integer argument and changes only the
            // process's dumpable flag; /proc/<pid>/environ, mem and ptrace then need
            // CAP_SYS_PTRACE. It also turns off core dumps, which would hold secrets too.
            let rc = unsafe { prctl(PR_SET_DUMPABLE, zero, zero, zero, zero) };
            if rc != 0 {
                crate::error::notice(
                    "warning: cannot mark the server non-dumpable; a repository's stdio MCP command can read its environment",
                );
            }
        });
    }
}

fn client_info() -> ClientConfig {
    let mut info = ClientConfig::default();
    info.client_info = Implementation::new("nectr", env!("CARGO_PKG_VERSION"));
    info
}

/// The HTTP client for MCP servers: rustls with ring and the bundled webpki roots, like the
/// LLM client, but redirects are not followed — a server must not send the headers (tokens)
/// on to another place — and connecting is bounded.
fn http_client() -> Result<reqwest::Client, String> {
    crate::github::transport::install_crypto_provider();
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(concat!("nectr/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Removes secrets from error text and keeps it to one short line.
#[derive(Clone)]
struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    fn new(endpoint: &Endpoint) -> Scrubber {
        Scrubber {
            secrets: endpoint.secrets(),
        }
    }

    fn text(&self, text: &str) -> String {
        let mut out = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // rmcp quotes a failed response's body (`HTTP 502: <body>`): keep the status only.
        if let Some(i) = out.find("HTTP ") {
            let status = &out[i + 5..];
            if status.len() >= 3 && status.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
                out.truncate(i + 8);
                out.push_str(" (the reply is not shown)");
            }
        }
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        if out.chars().count() > MAX_ERROR_CHARS {
            out = out.chars().take(MAX_ERROR_CHARS - 1).collect();
            out.push('…');
        }
        out
    }

    fn error(&self, context: &str, e: &(dyn std::error::Error + 'static)) -> String {
        self.text(&format!("{context}: {}", error_chain(e)))
    }
}

/// An error and its sources, de-duplicated (rmcp wraps the same text several times).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

struct RmcpSession {
    service: RunningService<RoleClient, ClientConfig>,
    scrub: Scrubber,
    max_text_chars: usize,
}

impl ToolSession for RmcpSession {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: Map<String, Value>,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
            let result = self
                .service
                .call_tool(params)
                .await
                .map_err(|e| self.scrub.error(&format!("tool `{tool}` failed"), &e))?;
            let mut text = String::new();
            let mut truncated = false;
            for block in &result.content {
                if let Some(t) = block.as_text() {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&t.text);
                }
                if text.len() > self.max_text_chars {
                    break;
                }
            }
            if text.chars().count() > self.max_text_chars {
                text = text.chars().take(self.max_text_chars).collect();
                truncated = true;
            }
            let structured = result
                .structured_content
                .filter(|v| !v.is_null())
                .filter(|v| v.to_string().len() <= self.max_text_chars.saturating_mul(4));
            Ok(ToolOutput {
                text,
                structured,
                is_error: result.is_error.unwrap_or(false),
                truncated,
            })
        })
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.service.cancel()).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_bearer_tokens_are_scrubbed() {
        let endpoint = Endpoint::Http {
            url: "https://x.example/mcp".into(),
            headers: vec![("Authorization".into(), "Bearer lin_api_SECRET123".into())],
        };
        let s = Scrubber::new(&endpoint);
        let out = s.text("401 for Bearer lin_api_SECRET123 and lin_api_SECRET123\n again");
        assert!(!out.contains("SECRET123"), "{out}");
        assert!(!out.contains('\n'));
        assert_eq!(out, "401 for [redacted] and [redacted] again");
        let long = s.text(&"x".repeat(1000));
        assert_eq!(long.chars().count(), MAX_ERROR_CHARS);
    }

    #[test]
    fn failed_responses_show_the_status_not_the_body() {
        let s = Scrubber::new(&Endpoint::Http {
            url: "https://x.example/mcp".into(),
            headers: vec![],
        });
        let out = s.text(
            "cannot connect to https://x.example/mcp: unexpected server response: HTTP 500: AccessKeyId=AKIA SecretAccessKey=abc",
        );
        assert!(!out.contains("AKIA"), "{out}");
        assert!(out.ends_with("HTTP 500 (the reply is not shown)"), "{out}");
    }

    #[test]
    fn debug_shows_no_header_values() {
        let endpoint = Endpoint::Http {
            url: "https://user:pw@x.example/mcp?token=abc".into(),
            headers: vec![("Authorization".into(), "Bearer topsecret".into())],
        };
        let text = format!("{endpoint:?}");
        assert!(!text.contains("topsecret"), "{text}");
        assert!(!text.contains("token=abc"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }
}
