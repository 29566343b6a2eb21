//! Who may make Nectr do what with an MCP server.
//!
//! Servers come from the operator (`NECTR_MCP_CONFIG`, a file with an `mcp:` list) or from
//! the repository's `.nectr.yml`. Locally and in the GitHub Action the repository's config
//! is the user's own and is trusted like the operator's. Under `nectr serve` it is written
//! by whoever can push to a connected repository, so for repository servers:
//!
//! 1. **No child processes.** `command:` is refused unless the operator sets
//!    `NECTR_MCP_ALLOW_STDIO=1` — that is code execution on the server, by anyone who can
//!    push to a connected repository's base branch. Even then the child gets only `PATH`,
//!    `HOME` and `LANG`, runs as `nobody` when the server is root, and otherwise finds the
//!    server non-dumpable; it can still read what the server's user can read (see
//!    `client.rs` and `docs/server.md`, "Trust model").
//! 2. **Only allowed hosts.** `url:` must be `https://` on a host in
//!    `NECTR_MCP_ALLOWED_HOSTS` (comma-separated; default `mcp.linear.app,mcp.sentry.dev`).
//!    An entry `*` allows any other https host except IP literals and `localhost`; an entry
//!    written `http://host:port` allows plain HTTP to exactly that host and port.
//! 3. **Secrets only from `NECTR_MCP_*`, only to named hosts.** `${VAR}` in headers may read
//!    only variables whose name starts with `NECTR_MCP_`, and only when the URL's host is
//!    named in `NECTR_MCP_ALLOWED_HOSTS` (not merely allowed by `*`), so a repository can
//!    neither read the server's other secrets nor send them to a host of its choosing.
//!    Every connected repository can use these variables: set only keys meant for all.
//!
//! Operator servers may do all of this freely. A refused server becomes an `unavailable`
//! line saying which rule refused it; it never stops a review.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::ConfiguredServer;
use super::client::Endpoint;
use crate::config::McpServer;

/// The hosts repository configs may reach under `nectr serve` by default.
pub const DEFAULT_ALLOWED_HOSTS: [&str; 2] = ["mcp.linear.app", "mcp.sentry.dev"];
/// The prefix of variables a repository config may read under `nectr serve`.
pub const REPO_VAR_PREFIX: &str = "NECTR_MCP_";

/// Who configured a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `NECTR_MCP_CONFIG`: trusted.
    Operator,
    /// The repository's `.nectr.yml`: trusted locally, restricted under `nectr serve`.
    Repo,
}

/// Where Nectr runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum McpMode {
    /// `nectr review`, the GitHub Action: the repository's config is the user's own.
    Local,
    /// `nectr serve`: the repository's config is untrusted.
    Server,
}

/// The rules for one run, with the environment they read `${VAR}` from.
#[derive(Clone)]
pub struct McpPolicy {
    pub mode: McpMode,
    /// `NECTR_MCP_ALLOW_STDIO=1` (server mode only).
    pub allow_stdio: bool,
    /// `NECTR_MCP_ALLOWED_HOSTS` (server mode only), lower-cased.
    pub allowed_hosts: Vec<String>,
    env: BTreeMap<String, String>,
}

impl std::fmt::Debug for McpPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpPolicy")
            .field("mode", &self.mode)
            .field("allow_stdio", &self.allow_stdio)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("env_vars", &self.env.len())
            .finish()
    }
}

impl McpPolicy {
    /// The rules for `mode`, reading settings and `${VAR}` values from `env`.
    pub fn new(mode: McpMode, env: BTreeMap<String, String>) -> McpPolicy {
        let allow_stdio = env
            .get("NECTR_MCP_ALLOW_STDIO")
            .is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        let allowed_hosts = match env.get("NECTR_MCP_ALLOWED_HOSTS") {
            Some(list) => list
                .split(',')
                .map(|h| h.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            None => DEFAULT_ALLOWED_HOSTS
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
        };
        McpPolicy {
            mode,
            allow_stdio,
            allowed_hosts,
            env,
        }
    }

    /// [`McpPolicy::new`] over the process environment.
    pub fn from_process_env(mode: McpMode) -> McpPolicy {
        McpPolicy::new(mode, std::env::vars().collect())
    }

    fn restricted(&self, origin: Origin) -> bool {
        self.mode == McpMode::Server && origin == Origin::Repo
    }

    /// How to reach `cs`, with `${VAR}` expanded — or why this server is not allowed.
    pub fn endpoint(&self, cs: &ConfiguredServer) -> Result<Endpoint, String> {
        let s = &cs.server;
        let restricted = self.restricted(cs.origin);
        match (&s.url, &s.command) {
            (Some(url), None) => {
                let named_host = if restricted {
                    self.check_url(url)?
                } else {
                    true
                };
                let mut headers = Vec::new();
                for (name, template) in &s.headers {
                    let value = self
                        .expand(template, restricted, named_host)
                        .map_err(|e| format!("header {name}: {e}"))?;
                    headers.push((name.clone(), value));
                }
                Ok(Endpoint::Http {
                    url: url.clone(),
                    headers,
                })
            }
            (None, Some(command)) => {
                let Some((program, args)) = command.split_first() else {
                    return Err("`command:` is empty".to_owned());
                };
                if restricted && !self.allow_stdio {
                    return Err(
                        "a repository's config may not start commands (`command:`) under `nectr serve`; \
                         the operator can allow it with NECTR_MCP_ALLOW_STDIO=1 or configure the server in NECTR_MCP_CONFIG"
                            .to_owned(),
                    );
                }
                let env = restricted.then(|| {
                    ["PATH", "HOME", "LANG"]
                        .iter()
                        .filter_map(|k| Some(((*k).to_owned(), self.env.get(*k)?.clone())))
                        .collect()
                });
                Ok(Endpoint::Stdio {
                    program: program.clone(),
                    args: args.to_vec(),
                    env,
                })
            }
            _ => Err("needs exactly one of `url` or `command`".to_owned()),
        }
    }

    /// Checks a repository URL under `nectr serve`. `Ok(true)`: its host is named in the
    /// allow-list (secrets may be sent); `Ok(false)`: allowed only by `*`.
    fn check_url(&self, url: &str) -> Result<bool, String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| "the URL does not parse".to_owned())?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(0);
        let refuse = || {
            format!(
                "host {host} is not allowed for repository configs under `nectr serve` \
                 (NECTR_MCP_ALLOWED_HOSTS: {})",
                self.allowed_hosts.join(",")
            )
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("URLs with user-info are not allowed".to_owned());
        }
        match parsed.scheme() {
            "https" => {
                let named = self.allowed_hosts.iter().any(|h| {
                    h == &host
                        || *h == format!("{host}:{port}")
                        || *h == format!("https://{host}:{port}")
                });
                if named {
                    return Ok(true);
                }
                let is_ip = host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok();
                if self.allowed_hosts.iter().any(|h| h == "*")
                    && !is_ip
                    && host != "localhost"
                    && !host.ends_with(".localhost")
                {
                    return Ok(false);
                }
                Err(refuse())
            }
            "http" => {
                if self
                    .allowed_hosts
                    .iter()
                    .any(|h| *h == format!("http://{host}:{port}"))
                {
                    Ok(true)
                } else {
                    Err(format!(
                        "{}; plain http:// is allowed only for hosts listed as http://host:port",
                        refuse()
                    ))
                }
            }
            other => Err(format!("scheme {other}: is not allowed")),
        }
    }

    /// `${VAR}` replaced from the environment. Restricted: only `NECTR_MCP_*`, and only for
    /// a named host.
    fn expand(&self, template: &str, restricted: bool, named_host: bool) -> Result<String, String> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| "`${` without a closing `}`".to_owned())?;
            let var = &after[..end];
            if var.is_empty()
                || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || var.starts_with(|c: char| c.is_ascii_digit())
            {
                return Err(format!("`${{{var}}}` is not a variable name"));
            }
            if restricted && !(var.starts_with(REPO_VAR_PREFIX) && named_host) {
                return Err(format!(
                    "${{{var}}} is not available to a repository's config under `nectr serve`: \
                     only {REPO_VAR_PREFIX}* variables, sent only to hosts named in NECTR_MCP_ALLOWED_HOSTS"
                ));
            }
            match self.env.get(var).filter(|v| !v.is_empty()) {
                Some(v) => out.push_str(v),
                None => return Err(format!("${{{var}}} is not set")),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorFile {
    #[serde(default)]
    mcp: Vec<McpServer>,
}

/// The operator's servers from `NECTR_MCP_CONFIG` (none when it is unset).
pub fn operator_servers(env: &BTreeMap<String, String>) -> Result<Vec<McpServer>, String> {
    match env
        .get("NECTR_MCP_CONFIG")
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
    {
        Some(path) => load_operator_file(Path::new(path)),
        None => Ok(Vec::new()),
    }
}

/// Read an operator MCP file: YAML with an `mcp:` list in the `.nectr.yml` `context.mcp`
/// format.
pub fn load_operator_file(path: &Path) -> Result<Vec<McpServer>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read NECTR_MCP_CONFIG file {shown}: {e}"))?;
    parse_operator_file(&text).map_err(|e| format!("invalid NECTR_MCP_CONFIG file {shown}: {e}"))
}

fn parse_operator_file(text: &str) -> Result<Vec<McpServer>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let file: OperatorFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    for s in &file.mcp {
        if s.url.is_some() == s.command.is_some() {
            return Err(format!(
                "mcp `{}` needs exactly one of `url` (streamable HTTP) or `command` (stdio)",
                s.name
            ));
        }
    }
    Ok(file.mcp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::McpKind;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn server(url: Option<&str>, command: Option<&[&str]>, header: Option<&str>) -> McpServer {
        McpServer {
            name: "s".into(),
            kind: McpKind::Generic,
            url: url.map(str::to_owned),
            command: command.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            headers: header
                .map(|h| [("Authorization".to_owned(), h.to_owned())].into())
                .unwrap_or_default(),
            tool: Some("t".into()),
            arguments: None,
            timeout_secs: None,
        }
    }

    fn repo(s: McpServer) -> ConfiguredServer {
        ConfiguredServer {
            origin: Origin::Repo,
            server: s,
        }
    }

    #[test]
    fn local_runs_trust_the_repository() {
        let p = McpPolicy::new(McpMode::Local, env(&[("LINEAR_API_KEY", "k1")]));
        let e = p
            .endpoint(&repo(server(
                Some("http://127.0.0.1:9/mcp"),
                None,
                Some("Bearer ${LINEAR_API_KEY}"),
            )))
            .unwrap();
        match e {
            Endpoint::Http { headers, .. } => assert_eq!(headers[0].1, "Bearer k1"),
            _ => panic!(),
        }
        let e = p
            .endpoint(&repo(server(None, Some(&["python3", "x.py"]), None)))
            .unwrap();
        assert!(matches!(e, Endpoint::Stdio { env: None, .. }));
    }

    #[test]
    fn server_mode_refuses_commands_unless_allowed() {
        let p = McpPolicy::new(McpMode::Server, env(&[("PATH", "/bin"), ("SECRET", "s")]));
        let e = p
            .endpoint(&repo(server(None, Some(&["sh", "-c", "x"]), None)))
            .unwrap_err();
        assert!(e.contains("NECTR_MCP_ALLOW_STDIO"), "{e}");
        let op = ConfiguredServer {
            origin: Origin::Operator,
            server: server(None, Some(&["x"]), None),
        };
        assert!(p.endpoint(&op).is_ok(), "the operator may");
        let p = McpPolicy::new(
            McpMode::Server,
            env(&[
                ("NECTR_MCP_ALLOW_STDIO", "1"),
                ("PATH", "/bin"),
                ("SECRET", "s"),
            ]),
        );
        match p.endpoint(&repo(server(None, Some(&["x"]), None))).unwrap() {
            Endpoint::Stdio {
                env: Some(vars), ..
            } => assert_eq!(vars, [("PATH".to_owned(), "/bin".to_owned())]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn server_mode_limits_hosts_and_variables() {
        let p = McpPolicy::new(
            McpMode::Server,
            env(&[("LINEAR_API_KEY", "k1"), ("NECTR_MCP_LINEAR_KEY", "k2")]),
        );
        let ok = p
            .endpoint(&repo(server(
                Some("https://mcp.linear.app/mcp"),
                None,
                Some("Bearer ${NECTR_MCP_LINEAR_KEY}"),
            )))
            .unwrap();
        assert!(matches!(ok, Endpoint::Http { ref headers, .. } if headers[0].1 == "Bearer k2"));
        let e = p
            .endpoint(&repo(server(
                Some("https://mcp.linear.app/mcp"),
                None,
                Some("Bearer ${LINEAR_API_KEY}"),
            )))
            .unwrap_err();
        assert!(e.contains("NECTR_MCP_"), "{e}");
        assert!(!e.contains("k1"));
        for url in [
            "https://evil.example/mcp",
            "http://mcp.linear.app/mcp",
            "https://169.254.169.254/",
            "file:///etc/passwd",
        ] {
            assert!(
                p.endpoint(&repo(server(Some(url), None, None))).is_err(),
                "{url}"
            );
        }
        // `*` opens other https hosts, but not for secrets, and never IP literals.
        let p = McpPolicy::new(
            McpMode::Server,
            env(&[
                ("NECTR_MCP_ALLOWED_HOSTS", "*,http://127.0.0.1:8080"),
                ("NECTR_MCP_K", "k"),
            ]),
        );
        assert!(
            p.endpoint(&repo(server(Some("https://tools.example/mcp"), None, None)))
                .is_ok()
        );
        assert!(
            p.endpoint(&repo(server(
                Some("https://tools.example/mcp"),
                None,
                Some("${NECTR_MCP_K}")
            )))
            .is_err()
        );
        assert!(
            p.endpoint(&repo(server(Some("https://10.0.0.1/mcp"), None, None)))
                .is_err()
        );
        assert!(
            p.endpoint(&repo(server(Some("https://localhost/mcp"), None, None)))
                .is_err()
        );
        assert!(
            p.endpoint(&repo(server(
                Some("http://127.0.0.1:8080/mcp"),
                None,
                Some("${NECTR_MCP_K}")
            )))
            .is_ok()
        );
        assert!(
            p.endpoint(&repo(server(Some("http://127.0.0.1:8081/mcp"), None, None)))
                .is_err()
        );
    }

    #[test]
    fn variables_must_be_set_and_well_formed() {
        let p = McpPolicy::new(McpMode::Local, env(&[("EMPTY", "")]));
        for (h, want) in [
            ("${MISSING}", "is not set"),
            ("${EMPTY}", "is not set"),
            ("${A-B}", "not a variable"),
            ("${OPEN", "closing"),
        ] {
            let e = p
                .endpoint(&repo(server(Some("https://x.example"), None, Some(h))))
                .unwrap_err();
            assert!(e.contains(want), "{h}: {e}");
        }
    }

    #[test]
    fn operator_file_format() {
        let servers = parse_operator_file(
            "mcp:\n  - name: sentry\n    kind: sentry\n    url: https://mcp.sentry.dev/mcp\n    arguments: {organizationSlug: acme}\n",
        )
        .unwrap();
        assert_eq!(servers[0].kind, McpKind::Sentry);
        assert!(parse_operator_file("").unwrap().is_empty());
        assert!(
            parse_operator_file("mcp:\n  - name: x\n")
                .unwrap_err()
                .contains("exactly one")
        );
        assert!(parse_operator_file("servers: []\n").is_err());
    }
}
