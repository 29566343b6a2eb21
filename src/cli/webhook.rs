//! `nectr webhook install | list | uninstall`: manage a repository's webhook by hand (the
//! hosted server does this itself when a user connects a repository). Every command that
//! writes says what it wrote and where to see it.

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::github_review::{api_url, connect, no_token_error, parse_repo};
use crate::error::InputError;
use crate::github::{GitHubError, token};

// The same webhook the hosted server installs when a user connects a repository.
pub use crate::server::DEFAULT_PUBLIC_URL;
pub use crate::server::repos::WEBHOOK_PATH;
pub use crate::server::webhook::SUBSCRIBED_EVENTS as WEBHOOK_EVENTS;

#[derive(Debug, Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    pub command: WebhookCommand,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Install a webhook that sends pull_request and issues events to the Nectr server.
    Install {
        #[arg(long, value_name = "OWNER/NAME")]
        repo: String,
        /// The server's public base URL, reachable by GitHub [default: NECTR_PUBLIC_URL].
        #[arg(long, value_name = "PUBLIC_URL")]
        url: Option<String>,
    },
    /// List the repository's webhooks: id, state, events, payload URL (for `uninstall`).
    List {
        #[arg(long, value_name = "OWNER/NAME")]
        repo: String,
        /// Output format: a table with a header row, or
        /// `{"webhooks": [{"id", "active", "events", "url", "settings_url"}]}`.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// The same as `--format json`.
        #[arg(long, conflicts_with = "format")]
        json: bool,
    },
    /// Remove a webhook by id (as printed by `install` and `list`).
    Uninstall {
        #[arg(long, value_name = "OWNER/NAME")]
        repo: String,
        #[arg(long, value_name = "N")]
        id: u64,
    },
}

/// How `webhook list` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    #[default]
    Text,
    Json,
}

/// `webhook list`'s table: a header row and one row per hook, columns padded to line up
/// (the URL last, unpadded). Text from GitHub is kept to one line without control
/// characters.
pub fn hooks_table(hooks: &[crate::github::types::Hook]) -> String {
    let rows: Vec<[String; 4]> = hooks
        .iter()
        .map(|h| {
            [
                h.id.to_string(),
                if h.active { "active" } else { "inactive" }.to_owned(),
                crate::progress::sanitize(&h.events.join(",")),
                crate::progress::sanitize(h.config.url.as_deref().unwrap_or("-")),
            ]
        })
        .collect();
    let header = ["ID", "STATE", "EVENTS", "URL"].map(str::to_owned);
    let width = |i: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
    out
}

/// `webhook list --format json`: `{"webhooks": [...]}` (never the secret GitHub masks).
pub fn hooks_json(repo: &str, hooks: &[crate::github::types::Hook]) -> String {
    let list: Vec<serde_json::Value> = hooks
        .iter()
        .map(|h| {
            serde_json::json!({
                "id": h.id,
                "active": h.active,
                "events": h.events,
                "url": h.config.url,
                "settings_url": settings_url(repo, h.id),
            })
        })
        .collect();
    let mut out =
        serde_json::to_string_pretty(&serde_json::json!({ "webhooks": list })).unwrap_or_default();
    out.push('\n');
    out
}

/// 32 random bytes as 64 hex digits, from the operating system's CSPRNG.
pub fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the operating system has no randomness to offer: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The payload URL for a public base URL; only http(s) URLs are accepted.
pub fn payload_url(public: &str) -> Result<String> {
    let base = public.trim().trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://"))
        || base.contains(char::is_whitespace)
    {
        return Err(InputError(format!(
            "`{public}` is not an http(s) URL: pass the server's public base URL, e.g. --url https://nectr.example.com"
        ))
        .into());
    }
    Ok(format!("{base}{WEBHOOK_PATH}"))
}

/// `--url`, else `NECTR_PUBLIC_URL`: there is no default, since the only one possible
/// (localhost) is never reachable by GitHub.
fn public_url(url: Option<String>) -> Result<String> {
    url.filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("NECTR_PUBLIC_URL")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .ok_or_else(|| {
            InputError(format!(
                "no public URL for the webhook: pass --url https://your-nectr-server (the address GitHub can reach; the payload goes to its {WEBHOOK_PATH}) or set NECTR_PUBLIC_URL"
            ))
            .into()
        })
}

/// The repository's webhook settings page, where GitHub shows a hook and its deliveries.
fn settings_url(repo: &str, id: u64) -> String {
    let server = std::env::var("GITHUB_SERVER_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "https://github.com".to_owned());
    format!(
        "{}/{repo}/settings/hooks/{id}",
        server.trim_end_matches('/')
    )
}

pub fn run(args: WebhookArgs) -> Result<u8> {
    super::runtime()?.block_on(async {
        let (token, _) = token::resolve(None).ok_or_else(no_token_error)?;
        let gh = connect(&api_url(), Some(&token))?;
        match args.command {
            WebhookCommand::Install { repo, url } => {
                let repo = parse_repo(&repo)?;
                let target = payload_url(&public_url(url)?)?;
                let (secret, generated) = match std::env::var("GITHUB_WEBHOOK_SECRET") {
                    Ok(s) if !s.trim().is_empty() => (s, false),
                    _ => (random_secret()?, true),
                };
                let hook = match gh.create_hook(&repo, &target, &secret, &WEBHOOK_EVENTS).await {
                    Ok(hook) => hook,
                    Err(e @ GitHubError::Unprocessable { .. }) => {
                        // GitHub's 422 "Hook already exists on this repository": name it.
                        let hooks = gh.list_hooks(&repo).await.unwrap_or_default();
                        return match hooks
                            .iter()
                            .find(|h| h.config.url.as_deref() == Some(target.as_str()))
                        {
                            Some(existing) => Err(InputError(format!(
                                "{repo} already has webhook {} sending to {target}; remove it first with `nectr webhook uninstall --repo {repo} --id {}` (or keep it: `nectr doctor --repo {repo}` checks it)",
                                existing.id, existing.id
                            ))
                            .into()),
                            None => Err(e.into()),
                        };
                    }
                    Err(e) => return Err(e.into()),
                };
                eprintln!(
                    "nectr: installed webhook {} on {repo}: {} → {target}\nnectr: see it at {}",
                    hook.id,
                    WEBHOOK_EVENTS.join(", "),
                    settings_url(&repo, hook.id)
                );
                if generated {
                    eprintln!(
                        "nectr: the webhook's secret is below; set it as GITHUB_WEBHOOK_SECRET on the server (it is not shown again)"
                    );
                    super::print_stdout(&format!("{secret}\n"))?;
                } else {
                    eprintln!("nectr: signed with GITHUB_WEBHOOK_SECRET");
                }
                Ok(0)
            }
            WebhookCommand::List { repo, format, json } => {
                let repo = parse_repo(&repo)?;
                let hooks = gh.list_hooks(&repo).await?;
                if json || format == ListFormat::Json {
                    super::print_stdout(&hooks_json(&repo, &hooks))?;
                    return Ok(0);
                }
                if hooks.is_empty() {
                    eprintln!("nectr: {repo} has no webhooks");
                    return Ok(0);
                }
                super::print_stdout(&hooks_table(&hooks))?;
                Ok(0)
            }
            WebhookCommand::Uninstall { repo, id } => {
                let repo = parse_repo(&repo)?;
                if gh.delete_hook(&repo, id).await? {
                    eprintln!(
                        "nectr: removed webhook {id} from {repo} (was {})",
                        settings_url(&repo, id)
                    );
                } else {
                    eprintln!("nectr: webhook {id} was already gone from {repo}");
                }
                Ok(0)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_64_hex_and_differ() {
        let a = random_secret().unwrap();
        let b = random_secret().unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn payload_urls() {
        assert_eq!(
            payload_url("https://nectr.example.com/").unwrap(),
            "https://nectr.example.com/api/v1/webhooks/github"
        );
        assert!(payload_url("ftp://x").is_err());
        assert!(payload_url("nectr.example.com").is_err());
    }
}
