//! The GitHub REST client: every operation Nectr uses, with retries, rate-limit waits,
//! ETag revalidation, pagination and spaced-out writes, over any [`Transport`].
//!
//! API boundary: only `github/` knows GitHub's URLs and JSON. Callers get typed values
//! and [`GitHubError`]s whose messages say what to do next; tokens never appear in them.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::pr_state::{PrState, PrStateCache};
use super::ratelimit::{Decision, Outcome, RateLimit, RetryPolicy, decide};
use super::transport::{Method, OctocrabTransport, Request, Response, Transport};
use super::types::*;

/// GitHub refuses to render diffs longer than this many lines (406); Nectr then builds
/// the diff from the files endpoint.
pub const MAX_DIFF_LINES: usize = 20_000;
/// The files endpoint lists at most this many files of a pull request.
pub const MAX_PR_FILES: usize = 3_000;
/// The compare endpoint lists at most this many files; a comparison with this many may be
/// cut short.
pub const MAX_COMPARE_FILES: usize = 300;
const PER_PAGE: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error(
        "GitHub rejected the token for {endpoint} (401): it is invalid or expired. Create a new token (or run `gh auth login`) and set GITHUB_TOKEN"
    )]
    Unauthorized { endpoint: String },
    #[error("GitHub refused {endpoint} (403): {message}")]
    Forbidden {
        endpoint: String,
        message: String,
        /// "Resource not accessible by integration": the token may read but not write
        /// (fork pull requests, read-only workflow tokens).
        read_only: bool,
    },
    #[error(
        "{endpoint} was not found on GitHub (404): check the repository and number, and that the token can see the repository"
    )]
    NotFound { endpoint: String },
    #[error("GitHub could not process {endpoint} ({status}): {message}")]
    Unprocessable {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("GitHub failed for {endpoint}: {reason}")]
    Unavailable { endpoint: String, reason: String },
    #[error("GitHub answered {status} for {endpoint}: {message}")]
    Status {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("GitHub sent a response Nectr cannot read for {endpoint}: {detail}")]
    Malformed { endpoint: String, detail: String },
}

impl GitHubError {
    /// Exit code class: 2 when the user can fix it (token, repository, number), 3 when
    /// GitHub itself failed.
    pub fn is_user_fixable(&self) -> bool {
        matches!(
            self,
            GitHubError::Unauthorized { .. }
                | GitHubError::NotFound { .. }
                | GitHubError::Forbidden { .. }
        )
    }

    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            GitHubError::Forbidden {
                read_only: true,
                ..
            }
        )
    }
}

/// GitHub's error JSON: `{"message": …, "errors": […]}`.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        #[serde(default)]
        errors: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            message: Some(m),
            errors,
        }) => match errors {
            Some(serde_json::Value::Array(list)) if !list.is_empty() => {
                let details: Vec<String> = list
                    .iter()
                    .map(|e| match e {
                        serde_json::Value::String(s) => s.clone(),
                        other => other
                            .get("message")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                            .unwrap_or_else(|| other.to_string()),
                    })
                    .collect();
                format!("{m} ({})", details.join("; "))
            }
            _ => m,
        },
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(200).collect();
            if text.trim_start().starts_with('<') {
                "an HTML error page".to_owned()
            } else {
                text.trim().to_owned()
            }
        }
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The ETag cache's key: the URL and the `Accept` media type (a diff and the JSON of the
/// same URL are different representations with different ETags).
type EtagKey = (String, Option<String>);

pub struct GitHub {
    api_url: String,
    transport: Arc<dyn Transport>,
    policy: RetryPolicy,
    /// The least time between two writes (GitHub asks integrations to space them out).
    write_gap: Duration,
    last_write: tokio::sync::Mutex<Option<Instant>>,
    etags: Mutex<HashMap<EtagKey, (String, Response)>>,
    calls: AtomicU32,
    rate: Mutex<RateLimit>,
    pr_states: PrStateCache,
}

impl GitHub {
    /// A client for the real API (or any server speaking it) at `api_url`.
    pub fn connect(api_url: &str, token: Option<&str>) -> Result<GitHub, GitHubError> {
        let transport =
            OctocrabTransport::new(api_url, token).map_err(|e| GitHubError::Unavailable {
                endpoint: api_url.to_owned(),
                reason: e.0,
            })?;
        Ok(GitHub::with_transport(api_url, Arc::new(transport)))
    }

    pub fn with_transport(api_url: &str, transport: Arc<dyn Transport>) -> GitHub {
        GitHub {
            api_url: api_url.trim_end_matches('/').to_owned(),
            transport,
            policy: RetryPolicy::default(),
            write_gap: Duration::from_millis(1000),
            last_write: tokio::sync::Mutex::new(None),
            etags: Mutex::new(HashMap::new()),
            calls: AtomicU32::new(0),
            rate: Mutex::new(RateLimit::default()),
            pr_states: PrStateCache::default(),
        }
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_write_gap(mut self, gap: Duration) -> Self {
        self.write_gap = gap;
        self
    }

    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// Requests sent so far (every attempt counts).
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The rate-limit headers of the latest response.
    pub fn rate_limit(&self) -> RateLimit {
        self.rate.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.api_url)
        }
    }

    /// `METHOD /path` without host or query, for messages.
    fn endpoint(&self, request: &Request) -> String {
        let path = request
            .url
            .strip_prefix(&self.api_url)
            .unwrap_or(&request.url);
        let path = path.split('?').next().unwrap_or(path);
        format!("{} {path}", request.method.as_str())
    }

    /// Send with retries and rate-limit waits; 304 answers from the ETag cache. Returns
    /// any final response, success or not; errors only when no usable response came.
    pub async fn send(&self, mut request: Request) -> Result<Response, GitHubError> {
        let endpoint = self.endpoint(&request);
        let cache_key = (request.url.clone(), request.accept.clone());
        let cached = if request.method == Method::Get {
            self.etags
                .lock()
                .ok()
                .and_then(|c| c.get(&cache_key).cloned())
        } else {
            None
        };
        if let Some((etag, _)) = &cached {
            request.if_none_match = Some(etag.clone());
        }
        // A GraphQL query is a read sent as POST: not spaced like a write, safe to retry.
        let read = request.method == Method::Get || is_graphql_query(&request);
        if !read {
            self.space_writes().await;
        }
        let mut attempt = 0;
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let result = self.transport.send(&request).await;
            let outcome = match &result {
                Ok(r) => {
                    self.note_rate_limit(r);
                    Outcome::Response {
                        status: r.status,
                        headers: &r.headers,
                        body: std::str::from_utf8(&r.body).unwrap_or(""),
                    }
                }
                Err(_) => Outcome::NoResponse,
            };
            match decide(
                &self.policy,
                read || request.method.is_idempotent(),
                attempt,
                outcome,
                now_unix(),
                fastrand::f64(),
            ) {
                Decision::Accept => {
                    let response = result.map_err(|e| GitHubError::Unavailable {
                        endpoint: endpoint.clone(),
                        reason: e.0,
                    })?;
                    if response.status == 304
                        && let Some((_, cached)) = cached
                    {
                        return Ok(cached);
                    }
                    if request.method == Method::Get
                        && response.status == 200
                        && let Some(etag) = response.header("etag")
                        && let Ok(mut cache) = self.etags.lock()
                    {
                        cache.insert(cache_key, (etag.to_owned(), response.clone()));
                    }
                    return Ok(response);
                }
                Decision::Retry { after, reason } => {
                    crate::error::notice(&format!(
                        "nectr: {endpoint}: {reason}; retrying in {:.1} s",
                        after.as_secs_f64()
                    ));
                    tokio::time::sleep(after).await;
                    attempt += 1;
                }
                Decision::GiveUp { reason } => {
                    let reason = match result {
                        Err(e) => format!("{reason} ({})", e.0),
                        Ok(_) => reason,
                    };
                    return Err(GitHubError::Unavailable { endpoint, reason });
                }
            }
        }
    }

    async fn space_writes(&self) {
        let mut last = self.last_write.lock().await;
        if let Some(previous) = *last {
            let since = previous.elapsed();
            if since < self.write_gap {
                tokio::time::sleep(self.write_gap - since).await;
            }
        }
        *last = Some(Instant::now());
    }

    fn note_rate_limit(&self, response: &Response) {
        let limits = RateLimit::from_headers(&response.headers);
        if limits.remaining.is_none() {
            return;
        }
        if limits.is_low() {
            crate::error::notice(&format!(
                "warning: GitHub rate limit almost used up: {} requests left{}",
                limits.remaining.unwrap_or_default(),
                limits
                    .reset
                    .map(|r| format!(", resets in {} s", r.saturating_sub(now_unix())))
                    .unwrap_or_default()
            ));
        }
        if let Ok(mut rate) = self.rate.lock() {
            *rate = limits;
        }
    }

    /// Turn a non-success response into the matching error.
    fn check(&self, request: &Request, response: Response) -> Result<Response, GitHubError> {
        let endpoint = self.endpoint(request);
        let message = || error_message(&response.body);
        match response.status {
            200..=299 => Ok(response),
            401 => Err(GitHubError::Unauthorized { endpoint }),
            403 => {
                let message = message();
                let read_only = message.contains("Resource not accessible");
                Err(GitHubError::Forbidden {
                    endpoint,
                    message,
                    read_only,
                })
            }
            404 => Err(GitHubError::NotFound { endpoint }),
            406 | 422 => Err(GitHubError::Unprocessable {
                endpoint,
                status: response.status,
                message: message(),
            }),
            status => Err(GitHubError::Status {
                endpoint,
                status,
                message: message(),
            }),
        }
    }

    async fn request_ok(&self, request: Request) -> Result<Response, GitHubError> {
        let response = self.send(request.clone()).await?;
        self.check(&request, response)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        request: &Request,
        response: &Response,
    ) -> Result<T, GitHubError> {
        serde_json::from_slice(&response.body).map_err(|e| GitHubError::Malformed {
            endpoint: self.endpoint(request),
            detail: e.to_string(),
        })
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, GitHubError> {
        let request = Request::get(self.url(path));
        let response = self.request_ok(request.clone()).await?;
        self.decode(&request, &response)
    }

    async fn write_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: serde_json::Value,
    ) -> Result<T, GitHubError> {
        let request = Request::with_body(method, self.url(path), body);
        let response = self.request_ok(request.clone()).await?;
        self.decode(&request, &response)
    }

    /// Every item of a paginated list, following `Link: rel="next"`, up to `limit` items.
    pub async fn get_all<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
    ) -> Result<Vec<T>, GitHubError> {
        self.get_all_where(path, limit, |_: &T| true).await
    }

    /// [`GitHub::get_all`] keeping only the items `keep` accepts: `limit` counts kept
    /// items, so filtered-out ones never crowd out the ones asked for.
    async fn get_all_where<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: usize,
        keep: impl Fn(&T) -> bool,
    ) -> Result<Vec<T>, GitHubError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut url = Some(self.url(&format!("{path}{separator}per_page={PER_PAGE}")));
        let mut items = Vec::new();
        let mut pages = 0u32;
        while let Some(current) = url.take() {
            let request = Request::get(current);
            let response = self.request_ok(request.clone()).await?;
            let mut page: Vec<T> = self.decode(&request, &response)?;
            let page_len = page.len();
            page.retain(|item| keep(item));
            items.append(&mut page);
            if items.len() >= limit {
                items.truncate(limit);
                break;
            }
            if page_len > 0 {
                url = response.header("link").and_then(next_link);
            }
            pages += 1;
            if url.is_some() {
                // Long listings (backfill) show how far they are (silent off a terminal).
                crate::progress::detail(&format!("page {pages}, {} so far", items.len()));
            }
        }
        Ok(items)
    }

    // ---- pull requests -------------------------------------------------------------

    pub async fn pull(&self, repo: &str, number: u64) -> Result<PullRequest, GitHubError> {
        self.get_json(&format!("/repos/{repo}/pulls/{number}"))
            .await
    }

    /// The PR's unified diff, or `None` when GitHub says it is too large (406) — then use
    /// [`GitHub::pull_files`].
    pub async fn pull_diff(&self, repo: &str, number: u64) -> Result<Option<String>, GitHubError> {
        let mut request = Request::get(self.url(&format!("/repos/{repo}/pulls/{number}")));
        request.accept = Some("application/vnd.github.diff".to_owned());
        let response = self.send(request.clone()).await?;
        if response.status == 406 {
            return Ok(None);
        }
        let response = self.check(&request, response)?;
        Ok(Some(String::from_utf8_lossy(&response.body).into_owned()))
    }

    /// The files of a PR with their patches (paginated, up to GitHub's 3,000).
    pub async fn pull_files(&self, repo: &str, number: u64) -> Result<Vec<PrFile>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/pulls/{number}/files"), MAX_PR_FILES)
            .await
    }

    pub async fn list_pulls(
        &self,
        repo: &str,
        state: &str,
        limit: usize,
    ) -> Result<Vec<PullRequest>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/pulls?state={state}"), limit)
            .await
    }

    /// Open, closed or merged, through the LRU + TTL cache.
    pub async fn pr_state(&self, repo: &str, number: u64) -> Result<PrState, GitHubError> {
        self.pr_states
            .get_or_fetch((repo.to_owned(), number), async {
                let pr = self.pull(repo, number).await?;
                Ok(PrState::from_api(&pr.state, pr.merged.unwrap_or(false)))
            })
            .await
    }

    /// Compare two commits (`GET /repos/{o}/{r}/compare/{base}...{head}`): how `head`
    /// relates to `base`, its commits since their merge base and the files they change.
    /// `None` when GitHub answers 404: a SHA it no longer knows (a force-push dropped it)
    /// or commits with no common ancestor.
    pub async fn compare(
        &self,
        repo: &str,
        base: &str,
        head: &str,
    ) -> Result<Option<Comparison>, GitHubError> {
        let request = Request::get(self.url(&format!(
            "/repos/{repo}/compare/{}...{}",
            encode_component(base),
            encode_component(head)
        )));
        let response = self.send(request.clone()).await?;
        if response.status == 404 {
            return Ok(None);
        }
        let response = self.check(&request, response)?;
        self.decode(&request, &response).map(Some)
    }

    // ---- contents ------------------------------------------------------------------

    /// A file at a ref, decoded from the contents API's base64; `None` when absent.
    pub async fn file_content(
        &self,
        repo: &str,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        #[derive(serde::Deserialize)]
        struct Content {
            #[serde(default)]
            content: String,
            #[serde(default)]
            encoding: String,
        }
        let request = Request::get(self.url(&format!(
            "/repos/{repo}/contents/{}?ref={}",
            encode_path(path),
            encode_component(git_ref)
        )));
        let response = self.send(request.clone()).await?;
        if response.status == 404 {
            return Ok(None);
        }
        let response = self.check(&request, response)?;
        let content: Content = self.decode(&request, &response)?;
        if content.encoding == "none" {
            // Files over 1 MB: GitHub leaves `content` empty and serves them only raw.
            return self.file_content_raw(repo, path, git_ref).await;
        }
        if content.encoding != "base64" {
            return Err(GitHubError::Malformed {
                endpoint: self.endpoint(&request),
                detail: format!("unexpected content encoding {:?}", content.encoding),
            });
        }
        let packed: String = content.content.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD
            .decode(packed)
            .map(Some)
            .map_err(|e| GitHubError::Malformed {
                endpoint: self.endpoint(&request),
                detail: format!("invalid base64 content: {e}"),
            })
    }

    /// A file at a ref as raw bytes (`application/vnd.github.raw`); `None` when absent.
    pub async fn file_content_raw(
        &self,
        repo: &str,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<Vec<u8>>, GitHubError> {
        let mut request = Request::get(self.url(&format!(
            "/repos/{repo}/contents/{}?ref={}",
            encode_path(path),
            encode_component(git_ref)
        )));
        request.accept = Some("application/vnd.github.raw".to_owned());
        let response = self.send(request.clone()).await?;
        if response.status == 404 {
            return Ok(None);
        }
        Ok(Some(self.check(&request, response)?.body))
    }

    // ---- GraphQL: several files in one request -------------------------------------

    /// The text of each of `paths` at `git_ref` (a commit SHA or branch), fetched with one
    /// GraphQL query per [`GRAPHQL_FILES_PER_QUERY`] paths — an alias per file — instead of
    /// one REST call per file. A path maps to `None` when it is absent at that ref, is not
    /// a file, is binary, or is larger than [`MAX_GRAPHQL_BLOB_BYTES`] (or GitHub truncated
    /// its text). Every requested path is in the map.
    ///
    /// Errors: the query as a whole failing (a missing repository, a refused token, GraphQL
    /// `errors` without data). Errors GitHub reports for single aliases only make those
    /// paths `None`.
    pub async fn file_contents_graphql(
        &self,
        repo: &str,
        git_ref: &str,
        paths: &[String],
    ) -> Result<HashMap<String, Option<String>>, GitHubError> {
        let mut out: HashMap<String, Option<String>> = HashMap::new();
        let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
        let mut unique: Vec<&String> = Vec::new();
        for p in paths {
            if !unique.contains(&p) {
                unique.push(p);
            }
        }
        for batch in unique.chunks(GRAPHQL_FILES_PER_QUERY) {
            let (query, variables) = blob_query(owner, name, git_ref, batch);
            let request = Request::with_body(
                Method::Post,
                graphql_url(&self.api_url),
                json!({ "query": query, "variables": variables }),
            );
            let response = self.request_ok(request.clone()).await?;
            let body: serde_json::Value = self.decode(&request, &response)?;
            let endpoint = self.endpoint(&request);
            let repository = body.pointer("/data/repository").filter(|v| v.is_object());
            let Some(repository) = repository else {
                return Err(graphql_error(endpoint, repo, &body));
            };
            for (i, path) in batch.iter().enumerate() {
                let text = repository.get(format!("f{i}")).and_then(usable_blob_text);
                out.insert((*path).clone(), text);
            }
        }
        Ok(out)
    }

    /// The review threads of a pull request that someone marked resolved, as the REST id
    /// (`databaseId`) of each thread's first comment — which, for Nectr's inline comments,
    /// is the comment Nectr posted. One GraphQL query per [`REVIEW_THREADS_PER_PAGE`]
    /// threads, at most [`MAX_REVIEW_THREAD_PAGES`] pages (REST has no resolved state).
    pub async fn resolved_review_threads(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<HashSet<u64>, GitHubError> {
        let (owner, name) = repo.split_once('/').unwrap_or((repo, ""));
        let mut resolved = HashSet::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_REVIEW_THREAD_PAGES {
            let request = Request::with_body(
                Method::Post,
                graphql_url(&self.api_url),
                json!({
                    "query": REVIEW_THREADS_QUERY,
                    "variables": {
                        "owner": owner, "name": name, "number": number,
                        "first": REVIEW_THREADS_PER_PAGE, "after": after,
                    },
                }),
            );
            let response = self.request_ok(request.clone()).await?;
            let body: serde_json::Value = self.decode(&request, &response)?;
            let threads = body
                .pointer("/data/repository/pullRequest/reviewThreads")
                .filter(|v| v.is_object());
            let Some(threads) = threads else {
                return Err(graphql_error(self.endpoint(&request), repo, &body));
            };
            let nodes = threads.get("nodes").and_then(|n| n.as_array());
            for thread in nodes.into_iter().flatten() {
                if thread.get("isResolved").and_then(|v| v.as_bool()) != Some(true) {
                    continue;
                }
                if let Some(id) = thread
                    .pointer("/comments/nodes/0/databaseId")
                    .and_then(|v| v.as_u64())
                {
                    resolved.insert(id);
                }
            }
            let page = threads.get("pageInfo");
            let more = page
                .and_then(|p| p.get("hasNextPage"))
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            after = page
                .and_then(|p| p.get("endCursor"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            if !more || after.is_none() {
                break;
            }
        }
        Ok(resolved)
    }

    // ---- comments and reviews ------------------------------------------------------

    pub async fn create_issue_comment(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError> {
        self.write_json(
            Method::Post,
            &format!("/repos/{repo}/issues/{number}/comments"),
            json!({ "body": body }),
        )
        .await
    }

    pub async fn update_issue_comment(
        &self,
        repo: &str,
        id: u64,
        body: &str,
    ) -> Result<IssueComment, GitHubError> {
        self.write_json(
            Method::Patch,
            &format!("/repos/{repo}/issues/comments/{id}"),
            json!({ "body": body }),
        )
        .await
    }

    pub async fn list_issue_comments(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<Vec<IssueComment>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/issues/{number}/comments"), 10_000)
            .await
    }

    pub async fn list_review_comments(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<Vec<ReviewComment>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/pulls/{number}/comments"), 10_000)
            .await
    }

    pub async fn list_reviews(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<Vec<ReviewInfo>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/pulls/{number}/reviews"), 10_000)
            .await
    }

    pub async fn create_review(
        &self,
        repo: &str,
        number: u64,
        review: &NewReview,
    ) -> Result<ReviewInfo, GitHubError> {
        let body = serde_json::to_value(review).map_err(|e| GitHubError::Malformed {
            endpoint: "POST review".to_owned(),
            detail: e.to_string(),
        })?;
        self.write_json(
            Method::Post,
            &format!("/repos/{repo}/pulls/{number}/reviews"),
            body,
        )
        .await
    }

    /// Edit a submitted review's summary.
    pub async fn update_review(
        &self,
        repo: &str,
        number: u64,
        id: u64,
        body: &str,
    ) -> Result<ReviewInfo, GitHubError> {
        self.write_json(
            Method::Put,
            &format!("/repos/{repo}/pulls/{number}/reviews/{id}"),
            json!({ "body": body }),
        )
        .await
    }

    /// A single inline comment outside a review.
    pub async fn create_review_comment(
        &self,
        repo: &str,
        number: u64,
        commit_id: &str,
        comment: &NewReviewComment,
    ) -> Result<ReviewComment, GitHubError> {
        let mut body = serde_json::to_value(comment).unwrap_or_default();
        body["commit_id"] = json!(commit_id);
        self.write_json(
            Method::Post,
            &format!("/repos/{repo}/pulls/{number}/comments"),
            body,
        )
        .await
    }

    // ---- conversation (commands and replies) -------------------------------------------

    /// A pull request's conversation comments, as [`crate::github::event::Comment`]s (with
    /// their author association and creation time), up to `limit`.
    pub async fn pr_conversation(
        &self,
        repo: &str,
        number: u64,
        limit: usize,
    ) -> Result<Vec<crate::github::event::Comment>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/issues/{number}/comments"), limit)
            .await
    }

    /// A pull request's inline review comments, as [`crate::github::event::Comment`]s
    /// (threads: `in_reply_to_id`), up to `limit`.
    pub async fn pr_review_thread_comments(
        &self,
        repo: &str,
        number: u64,
        limit: usize,
    ) -> Result<Vec<crate::github::event::Comment>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/pulls/{number}/comments"), limit)
            .await
    }

    /// One inline review comment; `None` when it is gone.
    pub async fn review_comment(
        &self,
        repo: &str,
        id: u64,
    ) -> Result<Option<crate::github::event::Comment>, GitHubError> {
        match self
            .get_json(&format!("/repos/{repo}/pulls/comments/{id}"))
            .await
        {
            Ok(c) => Ok(Some(c)),
            Err(GitHubError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reply in the thread of inline comment `id` (the thread's first comment).
    pub async fn reply_to_review_comment(
        &self,
        repo: &str,
        number: u64,
        id: u64,
        body: &str,
    ) -> Result<crate::github::event::Comment, GitHubError> {
        self.write_json(
            Method::Post,
            &format!("/repos/{repo}/pulls/{number}/comments/{id}/replies"),
            json!({ "body": body }),
        )
        .await
    }

    /// A comment in a pull request's conversation, answered as a
    /// [`crate::github::event::Comment`].
    pub async fn post_conversation_comment(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<crate::github::event::Comment, GitHubError> {
        self.write_json(
            Method::Post,
            &format!("/repos/{repo}/issues/{number}/comments"),
            json!({ "body": body }),
        )
        .await
    }

    /// React to a comment (`content`: `+1`, `eyes`, …). `review_comment`: an inline comment
    /// on the diff rather than one in the conversation. Reacting twice is not an error.
    pub async fn react_to_comment(
        &self,
        repo: &str,
        id: u64,
        review_comment: bool,
        content: &str,
    ) -> Result<(), GitHubError> {
        let kind = if review_comment { "pulls" } else { "issues" };
        let _: serde_json::Value = self
            .write_json(
                Method::Post,
                &format!("/repos/{repo}/{kind}/comments/{id}/reactions"),
                json!({ "content": content }),
            )
            .await?;
        Ok(())
    }

    /// `login`'s role in the repository: `admin`, `maintain`, `write`, `triage`, `read` or
    /// `none` (GitHub's `role_name`, else its coarser `permission`). Someone who is not a
    /// collaborator (404) is `none`.
    pub async fn collaborator_role(&self, repo: &str, login: &str) -> Result<String, GitHubError> {
        #[derive(serde::Deserialize)]
        struct Permission {
            #[serde(default)]
            permission: Option<String>,
            #[serde(default)]
            role_name: Option<String>,
        }
        let path = format!(
            "/repos/{repo}/collaborators/{}/permission",
            encode_component(login)
        );
        match self.get_json::<Permission>(&path).await {
            Ok(p) => Ok(p
                .role_name
                .filter(|r| !r.is_empty())
                .or(p.permission)
                .unwrap_or_else(|| "none".to_owned())),
            Err(GitHubError::NotFound { .. }) => Ok("none".to_owned()),
            Err(e) => Err(e),
        }
    }

    /// Make webhook `id` send `events` too (GitHub's `add_events`: the others stay).
    pub async fn add_hook_events(
        &self,
        repo: &str,
        id: u64,
        events: &[&str],
    ) -> Result<Hook, GitHubError> {
        self.write_json(
            Method::Patch,
            &format!("/repos/{repo}/hooks/{id}"),
            json!({ "add_events": events }),
        )
        .await
    }

    // ---- repository ----------------------------------------------------------------

    /// Issues (not pull requests), most recently updated first.
    pub async fn list_issues(
        &self,
        repo: &str,
        state: &str,
        limit: usize,
    ) -> Result<Vec<Issue>, GitHubError> {
        // The issues endpoint lists pull requests too; drop them before counting to `limit`.
        self.get_all_where(
            &format!("/repos/{repo}/issues?state={state}&sort=updated&direction=desc"),
            limit,
            |i: &Issue| i.pull_request.is_none(),
        )
        .await
    }

    pub async fn languages(
        &self,
        repo: &str,
    ) -> Result<std::collections::BTreeMap<String, u64>, GitHubError> {
        self.get_json(&format!("/repos/{repo}/languages")).await
    }

    pub async fn contributors(
        &self,
        repo: &str,
        limit: usize,
    ) -> Result<Vec<Contributor>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/contributors"), limit)
            .await
    }

    /// The authenticated user and the token's OAuth scopes (`X-OAuth-Scopes`).
    pub async fn current_user(&self) -> Result<(User, Vec<String>), GitHubError> {
        let (user, scopes) = self.current_user_scopes().await?;
        Ok((user, scopes.unwrap_or_default()))
    }

    /// [`GitHub::current_user`], telling apart a token without scopes (`Some(vec![])`: the
    /// header is present but empty) from one GitHub lists no scopes for (`None`: no header,
    /// as for fine-grained and GitHub App tokens).
    pub async fn current_user_scopes(&self) -> Result<(User, Option<Vec<String>>), GitHubError> {
        let request = Request::get(self.url("/user"));
        let response = self.request_ok(request.clone()).await?;
        let user: User = self.decode(&request, &response)?;
        let scopes = response.header("x-oauth-scopes").map(|s| {
            s.split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect()
        });
        Ok((user, scopes))
    }

    /// A repository, with the token user's permissions in it.
    pub async fn repo(&self, repo: &str) -> Result<RepoInfo, GitHubError> {
        self.get_json(&format!("/repos/{repo}")).await
    }

    /// The repositories the token's user owns, collaborates on or sees through an
    /// organization, each with their permissions; at most `limit`.
    pub async fn user_repos(&self, limit: usize) -> Result<Vec<RepoInfo>, GitHubError> {
        self.get_all(
            "/user/repos?affiliation=owner,collaborator,organization_member&sort=full_name",
            limit,
        )
        .await
    }

    /// The core rate limit from `GET /rate_limit` (which does not count against it);
    /// `None` when the server has rate limiting turned off (GitHub Enterprise Server answers
    /// 404 then).
    pub async fn rate_limit_status(&self) -> Result<Option<RateLimitResource>, GitHubError> {
        #[derive(serde::Deserialize)]
        struct Resources {
            core: RateLimitResource,
        }
        #[derive(serde::Deserialize)]
        struct Body {
            resources: Resources,
        }
        let request = Request::get(self.url("/rate_limit"));
        let response = self.send(request.clone()).await?;
        if response.status == 404 {
            return Ok(None);
        }
        let response = self.check(&request, response)?;
        let body: Body = self.decode(&request, &response)?;
        Ok(Some(body.resources.core))
    }

    // ---- webhooks ------------------------------------------------------------------

    pub async fn list_hooks(&self, repo: &str) -> Result<Vec<Hook>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/hooks"), 1_000).await
    }

    /// Install a webhook sending `events` as JSON to `url`, signed with `secret`, with TLS
    /// verification on.
    pub async fn create_hook(
        &self,
        repo: &str,
        url: &str,
        secret: &str,
        events: &[&str],
    ) -> Result<Hook, GitHubError> {
        self.write_json(
            Method::Post,
            &format!("/repos/{repo}/hooks"),
            json!({
                "name": "web",
                "active": true,
                "events": events,
                "config": { "url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0" },
            }),
        )
        .await
    }

    /// Remove a webhook; `Ok(false)` when it was already gone.
    pub async fn delete_hook(&self, repo: &str, id: u64) -> Result<bool, GitHubError> {
        let request = Request {
            method: Method::Delete,
            url: self.url(&format!("/repos/{repo}/hooks/{id}")),
            accept: None,
            if_none_match: None,
            body: None,
        };
        let response = self.send(request.clone()).await?;
        if response.status == 404 {
            return Ok(false);
        }
        self.check(&request, response).map(|_| true)
    }

    pub async fn hook_deliveries(
        &self,
        repo: &str,
        id: u64,
        limit: usize,
    ) -> Result<Vec<HookDelivery>, GitHubError> {
        self.get_all(&format!("/repos/{repo}/hooks/{id}/deliveries"), limit)
            .await
    }

    /// Asks GitHub to send a delivery of webhook `hook_id` again (202 Accepted; the new
    /// attempt shows up in [`GitHub::hook_deliveries`] with `redelivery: true`).
    pub async fn redeliver(
        &self,
        repo: &str,
        hook_id: u64,
        delivery_id: u64,
    ) -> Result<(), GitHubError> {
        let request = Request {
            method: Method::Post,
            url: self.url(&format!(
                "/repos/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"
            )),
            accept: None,
            if_none_match: None,
            body: None,
        };
        self.request_ok(request).await.map(|_| ())
    }
}

/// Files asked for in one GraphQL query: bounds a response to a few MB.
pub const GRAPHQL_FILES_PER_QUERY: usize = 25;
/// Larger blobs are not returned by [`GitHub::file_contents_graphql`].
pub const MAX_GRAPHQL_BLOB_BYTES: u64 = 256 * 1024;

/// GitHub's GraphQL endpoint for a REST API base: `https://api.github.com` →
/// `https://api.github.com/graphql`; GitHub Enterprise Server's `https://HOST/api/v3` →
/// `https://HOST/api/graphql`; anything else (a test server) → `BASE/graphql`.
pub fn graphql_url(api_url: &str) -> String {
    let base = api_url.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// Review threads per page of [`GitHub::resolved_review_threads`] (GraphQL's maximum).
pub const REVIEW_THREADS_PER_PAGE: u64 = 100;
/// Pages of review threads read at most: 1,000 threads.
pub const MAX_REVIEW_THREAD_PAGES: usize = 10;

const REVIEW_THREADS_QUERY: &str = "query NectrReviewThreads($owner: String!, $name: String!, $number: Int!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: $first, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { isResolved comments(first: 1) { nodes { databaseId } } }
      }
    }
  }
}";

/// A POST to a GraphQL endpoint carrying a query (not a mutation).
fn is_graphql_query(request: &Request) -> bool {
    request.method == Method::Post
        && request.url.ends_with("/graphql")
        && request
            .body
            .as_ref()
            .and_then(|b| b.get("query"))
            .and_then(|q| q.as_str())
            .is_some_and(|q| q.trim_start().starts_with("query"))
}

/// The query for a batch of paths: `f0: object(expression: $e0) { … on Blob { … } }` per
/// path. Expressions (`REF:PATH`) travel as variables, so no path needs escaping.
fn blob_query(
    owner: &str,
    name: &str,
    git_ref: &str,
    paths: &[&String],
) -> (String, serde_json::Value) {
    let mut declarations = String::from("$owner: String!, $name: String!");
    let mut fields = String::new();
    let mut variables = serde_json::Map::new();
    variables.insert("owner".into(), json!(owner));
    variables.insert("name".into(), json!(name));
    for (i, path) in paths.iter().enumerate() {
        declarations.push_str(&format!(", $e{i}: String!"));
        fields.push_str(&format!(
            "    f{i}: object(expression: $e{i}) {{ ... on Blob {{ byteSize isBinary isTruncated text }} }}\n"
        ));
        variables.insert(format!("e{i}"), json!(format!("{git_ref}:{path}")));
    }
    let query = format!(
        "query NectrFiles({declarations}) {{\n  repository(owner: $owner, name: $name) {{\n{fields}  }}\n}}"
    );
    (query, serde_json::Value::Object(variables))
}

/// The text of one aliased `object` answer, when it is a usable text file.
fn usable_blob_text(blob: &serde_json::Value) -> Option<String> {
    let binary = blob
        .get("isBinary")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let truncated = blob
        .get("isTruncated")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let size = blob
        .get("byteSize")
        .and_then(|v| v.as_u64())
        .unwrap_or(u64::MAX);
    if binary || truncated || size > MAX_GRAPHQL_BLOB_BYTES {
        return None;
    }
    blob.get("text").and_then(|v| v.as_str()).map(str::to_owned)
}

/// A GraphQL answer without data: the matching error (GitHub answers these with 200).
fn graphql_error(endpoint: String, repo: &str, body: &serde_json::Value) -> GitHubError {
    let errors = body
        .get("errors")
        .and_then(|e| e.as_array())
        .cloned()
        .unwrap_or_default();
    let kind = errors
        .iter()
        .find_map(|e| e.get("type").and_then(|t| t.as_str()))
        .unwrap_or("");
    let message = errors
        .iter()
        .filter_map(|e| e.get("message").and_then(|m| m.as_str()))
        .map(|m| m.chars().take(300).collect::<String>())
        .collect::<Vec<_>>()
        .join("; ");
    match kind {
        "NOT_FOUND" => GitHubError::NotFound {
            endpoint: format!("{endpoint} (repository {repo})"),
        },
        "FORBIDDEN" => GitHubError::Forbidden {
            endpoint,
            message,
            read_only: false,
        },
        "RATE_LIMITED" => GitHubError::Unavailable {
            endpoint,
            reason: format!("the GraphQL rate limit is used up ({message})"),
        },
        _ if message.is_empty() => GitHubError::Malformed {
            endpoint,
            detail: "a GraphQL answer with neither data nor errors".to_owned(),
        },
        _ => GitHubError::Status {
            endpoint,
            status: 200,
            message: format!("the GraphQL query failed: {message}"),
        },
    }
}

/// Percent-encode one path segment or query value.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-encode a repository path, keeping its `/`s.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_follows_rel_next_only() {
        let link = r#"<https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=2>; rel="next", <https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/pulls/2/files?per_page=100&page=2")
        );
        assert_eq!(
            next_link(r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#),
            None
        );
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn error_messages_are_readable() {
        assert_eq!(
            error_message(br#"{"message":"Validation Failed","errors":[{"message":"Line could not be resolved"}]}"#),
            "Validation Failed (Line could not be resolved)"
        );
        assert_eq!(
            error_message(br#"{"message":"Bad credentials"}"#),
            "Bad credentials"
        );
        assert_eq!(
            error_message(b"<html><body>unicorn</body></html>"),
            "an HTML error page"
        );
    }

    #[test]
    fn graphql_url_follows_the_rest_base() {
        assert_eq!(
            graphql_url("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            graphql_url("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api/graphql"
        );
        assert_eq!(
            graphql_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/graphql"
        );
    }

    #[test]
    fn blob_query_has_an_alias_and_a_variable_per_path() {
        let paths = ["src/a.rs".to_owned(), "dir \"q\"/b.py".to_owned()];
        let refs: Vec<&String> = paths.iter().collect();
        let (query, vars) = blob_query("o", "r", "abc123", &refs);
        assert!(
            query.starts_with(
                "query NectrFiles($owner: String!, $name: String!, $e0: String!, $e1: String!)"
            ),
            "{query}"
        );
        assert!(query.contains("f1: object(expression: $e1)"), "{query}");
        assert!(
            !query.contains("src/a.rs"),
            "paths travel as variables only"
        );
        assert_eq!(vars["e1"], "abc123:dir \"q\"/b.py");
        assert_eq!(vars["owner"], "o");
    }

    #[test]
    fn only_small_text_blobs_are_used() {
        let text = |v: serde_json::Value| usable_blob_text(&v);
        assert_eq!(
            text(json!({"byteSize": 3, "isBinary": false, "isTruncated": false, "text": "abc"})),
            Some("abc".to_owned())
        );
        assert_eq!(
            text(json!({"byteSize": 3, "isBinary": true, "isTruncated": false, "text": null})),
            None
        );
        assert_eq!(
            text(json!({"byteSize": 3, "isBinary": false, "isTruncated": true, "text": "a"})),
            None
        );
        assert_eq!(
            text(
                json!({"byteSize": MAX_GRAPHQL_BLOB_BYTES + 1, "isBinary": false, "isTruncated": false, "text": "a"})
            ),
            None
        );
        assert_eq!(text(json!({})), None, "a tree answers an empty object");
        assert_eq!(text(serde_json::Value::Null), None);
    }

    #[test]
    fn paths_are_encoded() {
        assert_eq!(
            encode_path("dir with space/ü.txt"),
            "dir%20with%20space/%C3%BC.txt"
        );
        assert_eq!(encode_component("feature/x"), "feature%2Fx");
    }
}
