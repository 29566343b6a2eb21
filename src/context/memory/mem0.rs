//! [`MemoryStore`] on Mem0's REST API (the hosted platform, or any server speaking it).
//!
//! - add: `POST /v1/memories/` with the text as one user message, `infer: false` (stored as
//!   given, not rewritten by Mem0's model), `user_id` = `nectr:owner/name` and our fields in
//!   `metadata` (`source: nectr`, `kind`, `path`, `dir`, `rule`, `outcome`, `created_at`).
//! - search: `POST /v2/memories/search/` with the query and `filters: {AND: [{user_id}]}`,
//!   then re-ranked here with [`path_boost`] exactly as the embedded store does.
//! - feedback: `POST /v2/memories/` (the filtered list) with the user and the metadata
//!   `kind: outcome, rule, path`, paged; outcomes with the same text count once.
//!
//! Authentication is `Authorization: Token KEY`. Every request has a timeout. Everything Mem0
//! sends back is untrusted: entries of another user or with unknown fields are dropped, and
//! error messages are clipped and scrubbed of the key (which never appears in an error).

use std::collections::{BTreeSet, HashMap};

use anyhow::Context as _;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};

use super::{
    BoxFuture, Mem0Settings, Memory, MemoryKind, MemoryStore, NewMemory, Outcome, RuleFeedback,
    path_boost, rank,
};
use crate::context::graph::{repo_key, unique_paths};

/// Pages of the filtered list read for one feedback question.
const MAX_FEEDBACK_PAGES: u32 = 10;
const PAGE_SIZE: u32 = 100;
/// Longest server message kept in an error.
const MAX_ERROR_CHARS: usize = 300;

/// Memories in Mem0.
pub struct Mem0Memories {
    client: reqwest::Client,
    settings: Mem0Settings,
    /// The base URL for messages (no query, no user-info).
    label: String,
}

/// Mem0's user for a repository.
pub fn user_id(repo: &str) -> String {
    format!("nectr:{}", repo_key(repo))
}

impl Mem0Memories {
    pub fn new(settings: &Mem0Settings) -> anyhow::Result<Mem0Memories> {
        let client = crate::llm::http::build_client().map_err(|e| anyhow::anyhow!(e))?;
        Ok(Mem0Memories {
            client,
            label: crate::llm::http::display_url_str(&settings.base_url),
            settings: settings.clone(),
        })
    }

    /// POSTs `body` to `path` (with `query`), returning the JSON reply.
    async fn post(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &Value,
    ) -> anyhow::Result<Value> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.settings.base_url))
            .map_err(|_| anyhow::anyhow!("MEM0_BASE_URL {} is not a URL", self.label))?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut auth = HeaderValue::from_str(&format!("Token {}", self.settings.api_key.expose()))
            .map_err(|_| anyhow::anyhow!("MEM0_API_KEY holds characters not allowed in HTTP"))?;
        auth.set_sensitive(true);
        let sent = self
            .client
            .post(url)
            .header(AUTHORIZATION, auth)
            .json(body)
            .timeout(self.settings.timeout)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => anyhow::bail!(
                "Mem0 at {}: no answer to {path} within {:?}",
                self.label,
                self.settings.timeout
            ),
            Err(e) => anyhow::bail!(
                "Mem0 at {}: cannot reach {path}: {}",
                self.label,
                self.scrub(&error_chain(&e))
            ),
        };
        let status = response.status();
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) if e.is_timeout() => anyhow::bail!(
                "Mem0 at {}: no answer to {path} within {:?}",
                self.label,
                self.settings.timeout
            ),
            Err(e) => anyhow::bail!(
                "Mem0 at {}: reading the answer to {path} failed: {}",
                self.label,
                self.scrub(&error_chain(&e))
            ),
        };
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            anyhow::bail!(
                "Mem0 at {} refused the API key ({}): check MEM0_API_KEY",
                self.label,
                status.as_u16()
            );
        }
        if !status.is_success() {
            let message: String = self.scrub(&text).chars().take(MAX_ERROR_CHARS).collect();
            anyhow::bail!(
                "Mem0 at {} answered {} to {path}: {}",
                self.label,
                status.as_u16(),
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            );
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| {
            format!(
                "Mem0 at {} sent a reply to {path} that is not JSON",
                self.label
            )
        })
    }

    fn scrub(&self, text: &str) -> String {
        self.settings.api_key.scrub(text)
    }

    async fn add_inner(&self, m: &NewMemory) -> anyhow::Result<()> {
        let m = m.clean()?;
        let body = json!({
            "messages": [{"role": "user", "content": m.text}],
            "user_id": user_id(&m.repo),
            "infer": false,
            "async_mode": false,
            "metadata": {
                "source": "nectr",
                "repo": m.repo,
                "kind": m.kind.as_str(),
                "path": m.path,
                "dir": m.dir,
                "rule": m.rule,
                "outcome": m.outcome.map(Outcome::as_str).unwrap_or(""),
                "created_at": super::unix_now(),
            },
        });
        self.post("/v1/memories/", &[], &body).await?;
        Ok(())
    }

    async fn search_inner(
        &self,
        repo: &str,
        paths: &[String],
        query: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<Memory>> {
        let repo = repo_key(repo);
        let paths = unique_paths(paths);
        // Mem0 needs a query; the paths stand in for an empty one.
        let mut text = query.trim().to_owned();
        if text.is_empty() {
            text = paths.join(" ");
        }
        if text.is_empty() {
            text = "repository conventions".to_owned();
        }
        let body = json!({
            "query": text,
            "filters": {"AND": [{"user_id": user_id(&repo)}]},
            "top_k": (limit.saturating_mul(3)).clamp(10, 100),
        });
        let reply = self.post("/v2/memories/search/", &[], &body).await?;
        // Stored with `infer: false`, Mem0 keeps duplicates: fold them into one, counted.
        type Key = (
            MemoryKind,
            Option<String>,
            Option<String>,
            Option<Outcome>,
            String,
        );
        let mut unique: HashMap<Key, Memory> = HashMap::new();
        for m in entries(&reply)
            .iter()
            .filter_map(|e| parse_memory(e, &repo, &paths))
        {
            let key = (
                m.kind,
                m.path.clone(),
                m.rule.clone(),
                m.outcome,
                m.text.clone(),
            );
            match unique.get_mut(&key) {
                Some(kept) => {
                    kept.count += 1;
                    if m.score > kept.score {
                        kept.score = m.score;
                    }
                }
                None => {
                    unique.insert(key, m);
                }
            }
        }
        Ok(rank(unique.into_values().collect(), limit))
    }

    async fn feedback_inner(
        &self,
        repo: &str,
        rule: &str,
        path: &str,
    ) -> anyhow::Result<RuleFeedback> {
        let repo = repo_key(repo);
        let (rule, path) = (rule.trim(), path.trim());
        let body = json!({
            "filters": {"AND": [
                {"user_id": user_id(&repo)},
                {"metadata": {"kind": "outcome", "rule": rule, "path": path}},
            ]},
        });
        // Outcomes are events: the same text twice is one event recorded twice.
        let mut seen: BTreeSet<(Outcome, String)> = BTreeSet::new();
        for page in 1..=MAX_FEEDBACK_PAGES {
            let reply = self
                .post(
                    "/v2/memories/",
                    &[
                        ("page", page.to_string()),
                        ("page_size", PAGE_SIZE.to_string()),
                    ],
                    &body,
                )
                .await?;
            let list = entries(&reply);
            for e in list {
                let Some(m) = parse_memory(e, &repo, &[]) else {
                    continue;
                };
                if m.kind == MemoryKind::Outcome
                    && m.rule.as_deref() == Some(rule)
                    && m.path.as_deref() == Some(path)
                    && let Some(o) = m.outcome
                {
                    seen.insert((o, m.text));
                }
            }
            let more = reply.get("next").is_some_and(|n| !n.is_null());
            if !more || list.len() < PAGE_SIZE as usize {
                break;
            }
        }
        let mut feedback = RuleFeedback::default();
        for (o, _) in seen {
            feedback.record(o, 1);
        }
        Ok(feedback)
    }
}

/// The memory list in a reply: a bare array, or `{"results": [...]}` / `{"memories": [...]}`.
fn entries(reply: &Value) -> &[Value] {
    if let Some(list) = reply.as_array() {
        return list;
    }
    for key in ["results", "memories"] {
        if let Some(list) = reply.get(key).and_then(Value::as_array) {
            return list;
        }
    }
    &[]
}

fn parse_memory(e: &Value, repo: &str, paths: &[String]) -> Option<Memory> {
    let meta: HashMap<&str, &Value> = e
        .get("metadata")?
        .as_object()?
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let s = |k: &str| {
        meta.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    if s("source") != "nectr" || s("repo") != repo {
        return None;
    }
    // Mem0 keeps the entity on the memory; another user's memory is never ours.
    if let Some(owner) = e.get("user_id").and_then(Value::as_str)
        && owner != user_id(repo)
    {
        return None;
    }
    let kind = MemoryKind::parse(&s("kind"))?;
    let text = e
        .get("memory")
        .or_else(|| e.get("data").and_then(|d| d.get("memory")))
        .and_then(Value::as_str)?
        .to_owned();
    let path = s("path");
    let rule = s("rule");
    let similarity = e
        .get("score")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
        .clamp(0.0, 0.999) as f32;
    Some(Memory {
        id: e
            .get("id")
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .unwrap_or_default(),
        repo: repo.to_owned(),
        score: similarity + path_boost(&path, paths),
        path: (!path.is_empty()).then_some(path),
        kind,
        text,
        rule: (!rule.is_empty()).then_some(rule),
        outcome: Outcome::parse(&s("outcome")),
        count: 1,
        created_at: meta
            .get("created_at")
            .and_then(|v| v.as_i64())
            .unwrap_or_default(),
    })
}

/// An error and its sources on one line (reqwest's top-level message alone is vague).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl MemoryStore for Mem0Memories {
    fn name(&self) -> &'static str {
        "mem0"
    }

    fn add<'a>(&'a self, m: &'a NewMemory) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(self.add_inner(m))
    }

    fn search<'a>(
        &'a self,
        repo: &'a str,
        paths: &'a [String],
        query: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Memory>>> {
        Box::pin(self.search_inner(repo, paths, query, limit))
    }

    fn feedback<'a>(
        &'a self,
        repo: &'a str,
        rule: &'a str,
        path: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<RuleFeedback>> {
        Box::pin(self.feedback_inner(repo, rule, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_read_defensively() {
        let paths = vec!["src/a.rs".to_string()];
        let good = json!({
            "id": "m1", "memory": "use anyhow", "user_id": "nectr:acme/app", "score": 0.8,
            "metadata": {"source": "nectr", "repo": "acme/app", "kind": "convention",
                         "path": "src/a.rs", "rule": "", "outcome": "", "created_at": 5}
        });
        let m = parse_memory(&good, "acme/app", &paths).unwrap();
        assert_eq!(m.path.as_deref(), Some("src/a.rs"));
        assert!((m.score - 3.8).abs() < 1e-5);
        assert_eq!(m.created_at, 5);

        let mut other_user = good.clone();
        other_user["user_id"] = json!("nectr:evil/app");
        assert!(parse_memory(&other_user, "acme/app", &paths).is_none());
        let mut other_repo = good.clone();
        other_repo["metadata"]["repo"] = json!("evil/app");
        assert!(parse_memory(&other_repo, "acme/app", &paths).is_none());
        let mut not_ours = good.clone();
        not_ours["metadata"]["source"] = json!("someone");
        assert!(parse_memory(&not_ours, "acme/app", &paths).is_none());
        let mut bad_kind = good.clone();
        bad_kind["metadata"]["kind"] = json!("weird");
        assert!(parse_memory(&bad_kind, "acme/app", &paths).is_none());
        let mut huge_score = good;
        huge_score["score"] = json!(1e9);
        assert!(parse_memory(&huge_score, "acme/app", &paths).unwrap().score < 4.0);

        assert_eq!(entries(&json!({"results": [1, 2]})).len(), 2);
        assert_eq!(entries(&json!([1])).len(), 1);
        assert!(entries(&json!({"x": 1})).is_empty());
    }
}
