//! A fake of GitHub's REST API (api.github.com) served over HTTP/1.1 on 127.0.0.1, for
//! loopback tests.
//!
//! It is deliberately independent of Nectr's code: it parses pull-request diffs with its own
//! small hunk parser and validates review comments against them, so a test that posts a
//! review through Nectr checks Nectr against a second, separate reading of the diff.
//!
//! The server runs on its own thread with its own Tokio runtime, so it keeps answering even
//! while the test thread blocks (for example on `std::process::Command::output` running the
//! `nectr` binary). It stops when the [`FakeGitHub`] is dropped.
//!
//! What it reproduces (see each handler for details): the JSON shapes and status codes of the
//! endpoints Nectr uses, token auth (`Bearer` / `token`), read-only tokens, the primary rate
//! limit and its headers, ETag / `If-None-Match` (304 without spending the rate limit),
//! `Link` pagination headers in GitHub's format, the diff media type with its 20,000-line
//! and 300-file limits, the 3,000-file cap of the files list, and the 422s GitHub gives for
//! review comments that are not on a commentable line of the diff. `POST /graphql` answers
//! the GraphQL subset Nectr uses (aliased `object(expression:)` blobs; see that section).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::IntoFuture;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

/// The primary (core) rate limit of an authenticated user.
pub const DEFAULT_RATE_LIMIT: u64 = 5000;
/// The most characters GitHub accepts in a review, review comment or issue comment body.
pub const MAX_BODY_CHARS: usize = 65_536;
/// The most lines `GET /pulls/{n}` returns in the diff media type; more gives 406.
pub const MAX_DIFF_LINES: usize = 20_000;
/// The most files `GET /pulls/{n}` returns in the diff media type; more gives 406.
pub const MAX_DIFF_FILES: usize = 300;
/// The most files `GET /pulls/{n}/files` lists, over all pages.
pub const MAX_LISTED_FILES: usize = 3_000;
/// Files larger than this come back from the contents API with `encoding: "none"`.
const MAX_INLINE_CONTENT: usize = 1024 * 1024;
const DOCS: &str = "https://docs.github.com/rest";
const RATE_DOCS: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";
const REVIEW_DOCS: &str =
    "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";
const COMMENT_DOCS: &str =
    "https://docs.github.com/rest/pulls/comments#create-a-review-comment-for-a-pull-request";
const ISSUE_COMMENT_DOCS: &str =
    "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
/// 2024-01-01T00:00:00Z: seeded objects are dated from here, one minute apart.
const SEED_EPOCH: i64 = 1_704_067_200;

// ---------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads and writes.
    Write,
    /// Reads only: every write answers 403 "Resource not accessible by integration".
    ReadOnly,
}

/// A pull request to seed with [`FakeGitHub::add_pull`]. Everything GitHub derives from the
/// diff (files, additions, deletions, changed_files, patches) is derived from `diff`.
#[derive(Clone, Debug)]
pub struct PullSpec {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// The author's login.
    pub user: String,
    pub head_ref: String,
    pub head_sha: String,
    pub base_ref: String,
    pub base_sha: String,
    /// `None`: the head branch is in the same repository. `Some("owner/name")`: a fork.
    pub head_repo: Option<String>,
    /// The head repository (a fork) was deleted: `head.repo` is `null`, as on GitHub.
    pub head_repo_deleted: bool,
    /// `"open"` or `"closed"` (a merged pull request is closed whatever this says).
    pub state: String,
    pub merged: bool,
    pub draft: bool,
    /// The unified diff, exactly as GitHub serves it in the `.diff` media type.
    pub diff: String,
    /// Label names (shown in the issues listing and the PR JSON).
    pub labels: Vec<String>,
}

impl Default for PullSpec {
    fn default() -> Self {
        PullSpec {
            number: 1,
            title: "Test pull request".into(),
            body: None,
            user: "octocat".into(),
            head_ref: "feature".into(),
            head_sha: sha1_hex(b"head commit"),
            base_ref: "main".into(),
            base_sha: sha1_hex(b"base commit"),
            head_repo: None,
            head_repo_deleted: false,
            state: "open".into(),
            merged: false,
            draft: false,
            diff: String::new(),
            labels: Vec::new(),
        }
    }
}

impl PullSpec {
    /// An open pull request `number` by `octocat` from `feature` into `main` with `diff`.
    pub fn new(number: u64, diff: impl Into<String>) -> Self {
        PullSpec {
            number,
            diff: diff.into(),
            ..PullSpec::default()
        }
    }
}

/// A commit to seed with [`FakeGitHub::add_commit`]: its parents and its whole tree (path →
/// text). `GET /compare/{base}...{head}` is computed from these.
#[derive(Clone, Debug, Default)]
pub struct CommitSpec {
    pub sha: String,
    pub parents: Vec<String>,
    pub message: String,
    pub files: BTreeMap<String, String>,
}

/// An issue to seed with [`FakeGitHub::add_issue`]. Issues and pull requests share one
/// sequence of numbers in a repository, as on GitHub.
#[derive(Clone, Debug)]
pub struct IssueSpec {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub user: String,
    /// `"open"` or `"closed"`.
    pub state: String,
    pub labels: Vec<String>,
}

impl Default for IssueSpec {
    fn default() -> Self {
        IssueSpec {
            number: 1,
            title: "Test issue".into(),
            body: None,
            user: "octocat".into(),
            state: "open".into(),
            labels: Vec::new(),
        }
    }
}

impl IssueSpec {
    /// An open issue `number` by `octocat` titled `title`.
    pub fn new(number: u64, title: impl Into<String>) -> Self {
        IssueSpec {
            number,
            title: title.into(),
            ..IssueSpec::default()
        }
    }
}

/// A failure to inject with [`FakeGitHub::inject`]. It fires before any other handling
/// (before auth and the rate limit) on requests whose method is `method` (`""` or `"*"`:
/// any) and whose path-and-query contains `path_contains`, for the first `times` of them.
#[derive(Clone, Debug)]
pub struct Fault {
    pub method: &'static str,
    pub path_contains: &'static str,
    pub kind: FaultKind,
    pub times: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status. 502, 503 and 504 answer GitHub's HTML "Unicorn!" page
    /// without rate-limit headers (as GitHub's front end does); any other status answers a
    /// JSON `{"message": …}`.
    Status(u16),
    /// 403 "You have exceeded a secondary rate limit…" with `Retry-After`.
    SecondaryRateLimit { retry_after: u64 },
    /// 429 with the secondary-rate-limit message and `Retry-After`.
    Status429 { retry_after: u64 },
    /// Wait this long, then handle the request normally (for client timeouts).
    Delay { millis: u64 },
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    pub method: String,
    /// The path, still percent-encoded, without the query.
    pub path: String,
    /// The raw query string without `?` (`""` when none).
    pub query: String,
    /// Header names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status the fake answered (0 while the request is still being handled).
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_query(&self.query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`None` when empty or not JSON).
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Does the request change anything? Everything but GET, HEAD and GraphQL queries
    /// (GraphQL reads are POSTs too; only mutations write).
    pub fn is_write(&self) -> bool {
        let graphql_query = self.method == "POST"
            && self.path.ends_with("/graphql")
            && self.body_json().is_some_and(|b| {
                b["query"]
                    .as_str()
                    .is_some_and(|q| !q.trim_start().starts_with("mutation"))
            });
        !matches!(self.method.as_str(), "GET" | "HEAD") && !graphql_query
    }

    /// `"GET /repos/o/r/pulls/1"`, with `?query` when there is one.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }
}

/// A review as stored (in creation order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewRecord {
    pub id: u64,
    /// The login of the reviewer.
    pub user: String,
    pub body: String,
    pub commit_id: String,
    /// The `event` as sent (`""` when absent: a pending review).
    pub event: String,
    /// `COMMENTED`, `APPROVED`, `CHANGES_REQUESTED` or `PENDING`.
    pub state: String,
    /// Its inline comments, in the order sent.
    pub comments: Vec<CommentRecord>,
}

/// A review comment (inline, on the diff) or an issue comment (the PR conversation). The
/// diff fields are `None` for issue comments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommentRecord {
    pub id: u64,
    pub user: String,
    pub body: String,
    pub path: Option<String>,
    pub line: Option<u64>,
    /// `"LEFT"` or `"RIGHT"`.
    pub side: Option<String>,
    pub start_line: Option<u64>,
    pub start_side: Option<String>,
    pub commit_id: Option<String>,
    /// The review this inline comment belongs to.
    pub review_id: Option<u64>,
    pub in_reply_to_id: Option<u64>,
    /// Position in the file's patch (1 = the line below the first `@@`).
    pub position: Option<u64>,
    /// `"line"` or `"file"` for review comments.
    pub subject_type: Option<String>,
}

/// A repository webhook.
#[derive(Clone, Debug, PartialEq)]
pub struct HookRecord {
    pub id: u64,
    pub name: String,
    pub active: bool,
    pub events: Vec<String>,
    /// The config as sent (the secret unmasked; the API masks it).
    pub config: Value,
}

// ---------------------------------------------------------------------------------------
// The server handle
// ---------------------------------------------------------------------------------------

/// A running fake GitHub. Dropping it stops the server.
pub struct FakeGitHub {
    /// The API base, like `GITHUB_API_URL`: `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGitHub {
    /// Starts a fake on `127.0.0.1:0` (a free port). Usable from any runtime flavour: the
    /// server runs on a thread of its own.
    pub async fn start() -> FakeGitHub {
        Self::start_blocking()
    }

    /// [`FakeGitHub::start`] for tests without a Tokio runtime.
    pub fn start_blocking() -> FakeGitHub {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("set_nonblocking");
        let addr = listener.local_addr().expect("local_addr");
        let url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(url.clone())),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-github".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake-github runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = Router::new().fallback(move |req: Request| {
                        let shared = server_shared.clone();
                        async move { handle(shared, req).await }
                    });
                    tokio::select! {
                        _ = axum::serve(listener, app).into_future() => {}
                        _ = rx => {}
                    }
                });
            })
            .expect("spawn fake-github thread");
        FakeGitHub {
            url,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Accepts `token` (as `Authorization: Bearer T` or `token T`) as user `login`.
    /// `scopes` is what `X-OAuth-Scopes` says (e.g. `"repo"`); it is not enforced.
    pub fn add_token(&self, token: &str, login: &str, access: Access, scopes: &str) {
        self.state().tokens.insert(
            token.to_string(),
            TokenInfo {
                login: login.to_string(),
                access,
                scopes: scopes.to_string(),
            },
        );
    }

    /// Forgets `token`: GitHub answers 401 for it from now on (a revoked token).
    pub fn remove_token(&self, token: &str) {
        self.state().tokens.remove(token);
    }

    /// Adds public repository `owner/name` with default branch `main`.
    pub fn add_repo(&self, full_name: &str) {
        self.state().repo_entry(full_name);
    }

    /// Adds (or replaces, keeping its earlier head SHAs as commits of the PR) a pull request.
    /// The repository is created if needed. Panics if `pr.number` is an issue's number.
    pub fn add_pull(&self, repo: &str, pr: PullSpec) {
        let mut st = self.state();
        let created = st.seed_time();
        let r = st.repo_entry(repo);
        assert!(
            !r.issues.contains_key(&pr.number),
            "#{} is already an issue in {repo}",
            pr.number
        );
        let files = parse_diff(&pr.diff);
        let diff_lines = count_lines(&pr.diff);
        let (created, mut commits) = match r.pulls.get(&pr.number) {
            Some(old) => (old.created, old.commits.clone()),
            None => (created, Vec::new()),
        };
        if !commits.contains(&pr.head_sha) {
            commits.push(pr.head_sha.clone());
        }
        r.pulls.insert(
            pr.number,
            Pull {
                spec: pr,
                files,
                diff_lines,
                created,
                commits,
            },
        );
    }

    /// Adds a commit (the repository is created if needed). Its parents must be known.
    pub fn add_commit(&self, repo: &str, commit: CommitSpec) {
        let mut st = self.state();
        let r = st.repo_entry(repo);
        for parent in &commit.parents {
            assert!(
                r.commits.iter().any(|c| &c.sha == parent),
                "parent {parent} of {} is not a commit of {repo}",
                commit.sha
            );
        }
        r.commits.retain(|c| c.sha != commit.sha);
        r.commits.push(commit);
    }

    /// Forgets a commit, as GitHub eventually does with one a force-push left behind:
    /// compare then answers 404 for it.
    pub fn remove_commit(&self, repo: &str, sha: &str) {
        let mut st = self.state();
        st.repo_entry(repo).commits.retain(|c| c.sha != sha);
    }

    /// The unified diff between the trees of two seeded commits, as GitHub's `.diff` media
    /// type shows it (for a [`PullSpec::diff`] that matches the commits).
    pub fn tree_diff(&self, repo: &str, base: &str, head: &str) -> String {
        let st = self.state();
        let key = st.find_repo(repo).expect("a seeded repository");
        let r = &st.repos[&key];
        let tree = |sha: &str| {
            &r.commits
                .iter()
                .find(|c| c.sha == sha)
                .unwrap_or_else(|| panic!("{sha} is not a commit of {repo}"))
                .files
        };
        diff_trees(tree(base), tree(head))
    }

    /// Adds an issue. Panics if `issue.number` is a pull request's number.
    pub fn add_issue(&self, repo: &str, issue: IssueSpec) {
        let mut st = self.state();
        let created = st.seed_time();
        let r = st.repo_entry(repo);
        assert!(
            !r.pulls.contains_key(&issue.number),
            "#{} is already a pull request in {repo}",
            issue.number
        );
        r.issues.insert(
            issue.number,
            Issue {
                spec: issue,
                created,
            },
        );
    }

    /// Sets the content of `path` at `git_ref` (a branch name or a commit SHA) for the
    /// contents API.
    pub fn set_file(&self, repo: &str, git_ref: &str, path: &str, content: &[u8]) {
        self.state()
            .repo_entry(repo)
            .files
            .entry(git_ref.to_string())
            .or_default()
            .insert(path.trim_matches('/').to_string(), content.to_vec());
    }

    /// What `GET /repos/{repo}/languages` answers (bytes per language, listed largest first).
    pub fn set_languages(&self, repo: &str, languages: &[(&str, u64)]) {
        let mut langs: Vec<(String, u64)> =
            languages.iter().map(|(l, b)| (l.to_string(), *b)).collect();
        langs.sort_by_key(|l| std::cmp::Reverse(l.1));
        self.state().repo_entry(repo).languages = langs;
    }

    /// Adds a contributor for `GET /repos/{repo}/contributors` (listed by contributions).
    pub fn add_contributor(&self, repo: &str, login: &str, contributions: u64) {
        self.state()
            .repo_entry(repo)
            .contributors
            .push((login.to_string(), contributions));
    }

    /// Adds a web hook delivering `events` to `url`; returns its id.
    pub fn add_hook(&self, repo: &str, url: &str, events: &[&str]) -> u64 {
        let mut st = self.state();
        let id = st.alloc_id();
        let now = now_secs();
        st.repo_entry(repo).hooks.push(StoredHook {
            rec: HookRecord {
                id,
                name: "web".into(),
                active: true,
                events: events.iter().map(|e| e.to_string()).collect(),
                config: json!({"url": url, "content_type": "json", "insecure_ssl": "0"}),
            },
            created: now,
            updated: now,
            deliveries: Vec::new(),
        });
        id
    }

    /// Records a delivery of `event` by hook `hook_id` that got `status_code` (0: could not
    /// connect); returns its id. Panics if the hook does not exist.
    pub fn add_delivery(&self, repo: &str, hook_id: u64, status_code: u16, event: &str) -> u64 {
        let mut st = self.state();
        let id = st.alloc_id();
        let hook = st
            .repo_entry(repo)
            .hooks
            .iter_mut()
            .find(|h| h.rec.id == hook_id)
            .unwrap_or_else(|| panic!("no hook {hook_id} in {repo}"));
        hook.deliveries.push(Delivery {
            id,
            at: now_secs(),
            status_code,
            event: event.to_string(),
        });
        id
    }

    /// Queues a fault (see [`Fault`]). Faults are tried in the order injected.
    pub fn inject(&self, fault: Fault) {
        self.state().faults.push(fault);
    }

    /// Sets the core rate limit: `remaining` calls left, reset `reset_in_secs` from now
    /// (when it passes, the next request finds the full limit again).
    pub fn set_rate_limit(&self, remaining: u64, reset_in_secs: u64) {
        let mut st = self.state();
        st.rate.limit = st.rate.limit.max(remaining);
        st.rate.remaining = remaining;
        st.rate.reset_at = SystemTime::now() + Duration::from_secs(reset_in_secs);
    }

    /// The core rate limit's remaining calls.
    pub fn rate_limit_remaining(&self) -> u64 {
        let mut st = self.state();
        st.rate.refresh();
        st.rate.remaining
    }

    /// Every request received so far, in order (including failed ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// The reviews on pull request `number` (all of them, pending ones included), in order.
    pub fn reviews(&self, repo: &str, number: u64) -> Vec<ReviewRecord> {
        let st = self.state();
        let Some(r) = st.find_repo(repo).map(|k| &st.repos[&k]) else {
            return Vec::new();
        };
        r.reviews
            .iter()
            .filter(|rv| rv.number == number)
            .map(|rv| {
                let mut rec = rv.rec.clone();
                rec.comments = r
                    .review_comments
                    .iter()
                    .filter(|c| c.rec.review_id == Some(rv.rec.id))
                    .map(|c| c.rec.clone())
                    .collect();
                rec
            })
            .collect()
    }

    /// The inline review comments on pull request `number` (pending reviews' included).
    pub fn review_comments(&self, repo: &str, number: u64) -> Vec<CommentRecord> {
        let st = self.state();
        let Some(r) = st.find_repo(repo).map(|k| &st.repos[&k]) else {
            return Vec::new();
        };
        r.review_comments
            .iter()
            .filter(|c| c.number == number)
            .map(|c| c.rec.clone())
            .collect()
    }

    /// Someone reacts to review comment `comment_id` with `content` (one of [`REACTIONS`]),
    /// as from GitHub's UI.
    pub fn react(&self, repo: &str, comment_id: u64, content: &str) {
        assert!(
            REACTIONS.contains(&content),
            "GitHub has no `{content}` reaction"
        );
        let mut st = self.state();
        let key = st.find_repo(repo).expect("repo");
        let r = st.repos.get_mut(&key).expect("repo");
        let c = r
            .review_comments
            .iter_mut()
            .find(|c| c.rec.id == comment_id)
            .expect("review comment");
        *c.reactions.entry(content.to_owned()).or_default() += 1;
    }

    /// Someone marks the review thread that `comment_id` belongs to as resolved, as from
    /// GitHub's "Resolve conversation" button. Only GraphQL shows it.
    pub fn resolve_thread(&self, repo: &str, comment_id: u64) {
        let mut st = self.state();
        let key = st.find_repo(repo).expect("repo");
        let r = st.repos.get_mut(&key).expect("repo");
        let mut id = comment_id;
        while let Some(parent) = r
            .review_comments
            .iter()
            .find(|c| c.rec.id == id)
            .expect("review comment")
            .rec
            .in_reply_to_id
        {
            id = parent;
        }
        let root = r
            .review_comments
            .iter_mut()
            .find(|c| c.rec.id == id)
            .expect("thread root");
        root.resolved = true;
    }

    /// The conversation comments on issue or pull request `number`.
    pub fn issue_comments(&self, repo: &str, number: u64) -> Vec<CommentRecord> {
        let st = self.state();
        let Some(r) = st.find_repo(repo).map(|k| &st.repos[&k]) else {
            return Vec::new();
        };
        r.issue_comments
            .iter()
            .filter(|c| c.number == number)
            .map(|c| c.rec.clone())
            .collect()
    }

    /// Makes `login` a collaborator with `role` (`admin`, `maintain`, `write`, `triage`,
    /// `read`): their comments say `COLLABORATOR`, the permission API gives the role.
    pub fn add_collaborator(&self, repo: &str, login: &str, role: &str) {
        self.state()
            .repo_entry(repo)
            .collaborators
            .insert(login.to_string(), role.to_string());
    }

    /// `login` comments on issue or pull request `number`, as from GitHub's UI; its id.
    pub fn add_comment_as(&self, repo: &str, number: u64, login: &str, body: &str) -> u64 {
        let mut st = self.state();
        let id = st.alloc_id();
        let now = now_secs();
        let r = st.repo_entry(repo);
        assert!(r.number_exists(number), "no #{number} in {repo}");
        r.issue_comments.push(StoredComment {
            rec: issue_comment_record(id, login, body),
            number,
            created: now,
            updated: now,
            diff_hunk: String::new(),
            reactions: BTreeMap::new(),
            resolved: false,
        });
        id
    }

    /// `login` replies in the review thread that `parent` starts, as from GitHub's UI; its
    /// id.
    pub fn add_reply_as(
        &self,
        repo: &str,
        number: u64,
        parent: u64,
        login: &str,
        body: &str,
    ) -> u64 {
        let mut st = self.state();
        let key = st.find_repo(repo).expect("repo");
        match st.push_reply(&key, number, parent, login, body) {
            Ok(id) => id,
            Err(reply) => panic!(
                "cannot reply to {parent}: {}",
                String::from_utf8_lossy(&reply.body)
            ),
        }
    }

    /// The reactions on comment `id` (conversation or inline): (login, content) pairs.
    pub fn reactions_on(&self, repo: &str, id: u64) -> Vec<(String, String)> {
        let st = self.state();
        let Some(r) = st.find_repo(repo).map(|k| &st.repos[&k]) else {
            return Vec::new();
        };
        r.reactions
            .iter()
            .filter(|(c, _, _)| *c == id)
            .map(|(_, l, c)| (l.clone(), c.clone()))
            .collect()
    }

    /// The `issue_comment` webhook payload (action `created`) GitHub sends for conversation
    /// comment `id`.
    pub fn issue_comment_event(&self, repo: &str, id: u64) -> Value {
        let st = self.state();
        let key = st.find_repo(repo).expect("repo");
        let r = &st.repos[&key];
        let c = r
            .issue_comments
            .iter()
            .find(|c| c.rec.id == id)
            .expect("issue comment");
        let issue = match r.pulls.get(&c.number) {
            Some(p) => {
                let pr = pull_json(&st.base, r, p, false);
                json!({
                    "number": c.number, "title": pr["title"], "state": pr["state"],
                    "user": pr["user"], "body": pr["body"],
                    "url": format!("{}/repos/{}/issues/{}", st.base, r.full_name, c.number),
                    "pull_request": {"url": pr["url"], "html_url": pr["html_url"],
                                     "diff_url": pr["diff_url"], "patch_url": pr["patch_url"]},
                })
            }
            None => issue_json(&st.base, r, &r.issues[&c.number]),
        };
        json!({
            "action": "created",
            "issue": issue,
            "comment": issue_comment_json(&st.base, r, c),
            "repository": repo_json(&st.base, &r.view()),
            "sender": user_json(&st.base, &c.rec.user),
        })
    }

    /// The `pull_request_review_comment` webhook payload (action `created`) GitHub sends
    /// for inline comment `id`.
    pub fn review_comment_event(&self, repo: &str, id: u64) -> Value {
        let st = self.state();
        let key = st.find_repo(repo).expect("repo");
        let r = &st.repos[&key];
        let c = r
            .review_comments
            .iter()
            .find(|c| c.rec.id == id)
            .expect("review comment");
        json!({
            "action": "created",
            "comment": review_comment_json(&st.base, r, c),
            "pull_request": pull_json(&st.base, r, &r.pulls[&c.number], false),
            "repository": repo_json(&st.base, &r.view()),
            "sender": user_json(&st.base, &c.rec.user),
        })
    }

    /// The repository's webhooks.
    pub fn hooks(&self, repo: &str) -> Vec<HookRecord> {
        let st = self.state();
        let Some(r) = st.find_repo(repo).map(|k| &st.repos[&k]) else {
            return Vec::new();
        };
        r.hooks.iter().map(|h| h.rec.clone()).collect()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct TokenInfo {
    login: String,
    access: Access,
    scopes: String,
}

struct Caller {
    login: String,
    access: Access,
    scopes: String,
}

struct Rate {
    limit: u64,
    remaining: u64,
    reset_at: SystemTime,
}

impl Rate {
    fn refresh(&mut self) {
        let now = SystemTime::now();
        if now >= self.reset_at {
            self.remaining = self.limit;
            self.reset_at = now + Duration::from_secs(3600);
        }
    }

    /// The reset time in unix seconds, rounded up.
    fn reset_unix(&self) -> u64 {
        let d = self.reset_at.duration_since(UNIX_EPOCH).unwrap_or_default();
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }

    fn used(&self) -> u64 {
        self.limit.saturating_sub(self.remaining)
    }

    fn json(&self) -> Value {
        json!({"limit": self.limit, "used": self.used(), "remaining": self.remaining,
               "reset": self.reset_unix()})
    }
}

struct State {
    base: String,
    tokens: HashMap<String, TokenInfo>,
    repos: BTreeMap<String, Repo>,
    next_id: u64,
    seed_seq: i64,
    faults: Vec<Fault>,
    rate: Rate,
    requests: Vec<RecordedRequest>,
    /// Requests received (numbers keep growing across `clear_requests`).
    recorded: u64,
    /// Answers given, for `x-github-request-id`.
    request_seq: u64,
    /// The OAuth web flow (see `OAuthFake`).
    oauth: OAuthFake,
}

struct Repo {
    id: u64,
    full_name: String,
    private: bool,
    default_branch: String,
    created: i64,
    pulls: BTreeMap<u64, Pull>,
    issues: BTreeMap<u64, Issue>,
    /// ref -> path -> content
    files: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    issue_comments: Vec<StoredComment>,
    review_comments: Vec<StoredComment>,
    reviews: Vec<StoredReview>,
    hooks: Vec<StoredHook>,
    languages: Vec<(String, u64)>,
    contributors: Vec<(String, u64)>,
    /// Seeded commits, in the order they were added (parents first).
    commits: Vec<CommitSpec>,
    /// Collaborators and their role (`admin`, `maintain`, `write`, `triage`, `read`).
    collaborators: BTreeMap<String, String>,
    /// Who reacted how to which comment: (comment id, login, content).
    reactions: Vec<(u64, String, String)>,
}

struct Pull {
    spec: PullSpec,
    files: Vec<DiffFile>,
    diff_lines: usize,
    created: i64,
    /// Every head SHA this PR has had: a review may name any of them.
    commits: Vec<String>,
}

struct Issue {
    spec: IssueSpec,
    created: i64,
}

struct StoredComment {
    rec: CommentRecord,
    /// The issue or pull request number.
    number: u64,
    created: i64,
    updated: i64,
    diff_hunk: String,
    /// Reaction counts by GitHub's content names (`+1`, `-1`, `heart`, …).
    reactions: BTreeMap<String, u64>,
    /// For the first comment of a review thread: someone marked the thread resolved.
    resolved: bool,
}

/// The reactions GitHub knows, in the order its JSON lists them.
pub const REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes",
];

struct StoredReview {
    rec: ReviewRecord,
    number: u64,
    submitted: Option<i64>,
}

struct StoredHook {
    rec: HookRecord,
    created: i64,
    updated: i64,
    deliveries: Vec<Delivery>,
}

struct Delivery {
    id: u64,
    at: i64,
    status_code: u16,
    event: String,
}

impl Repo {
    fn owner(&self) -> &str {
        self.full_name.split('/').next().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.full_name.split('/').nth(1).unwrap_or("")
    }

    fn view(&self) -> RepoView<'_> {
        RepoView {
            id: self.id,
            full_name: &self.full_name,
            private: self.private,
            default_branch: &self.default_branch,
            fork: false,
            created: self.created,
        }
    }

    fn known_ref(&self, r: &str) -> bool {
        r == self.default_branch
            || self.files.contains_key(r)
            || self.pulls.values().any(|p| {
                p.spec.head_ref == r
                    || p.spec.base_ref == r
                    || p.spec.base_sha == r
                    || p.commits.iter().any(|c| c == r)
            })
    }

    fn association(&self, login: &str) -> &'static str {
        if login.eq_ignore_ascii_case(self.owner()) {
            "OWNER"
        } else if self
            .collaborators
            .keys()
            .any(|c| c.eq_ignore_ascii_case(login))
        {
            "COLLABORATOR"
        } else if self.contributors.iter().any(|(l, _)| l == login) {
            "CONTRIBUTOR"
        } else {
            "NONE"
        }
    }

    fn number_exists(&self, n: u64) -> bool {
        self.pulls.contains_key(&n) || self.issues.contains_key(&n)
    }

    fn issue_comment_count(&self, n: u64) -> usize {
        self.issue_comments.iter().filter(|c| c.number == n).count()
    }

    fn review_visible(&self, rv: &StoredReview, login: &str) -> bool {
        rv.rec.state != "PENDING" || rv.rec.user == login
    }

    fn review_state(&self, review_id: Option<u64>) -> Option<&str> {
        let id = review_id?;
        self.reviews
            .iter()
            .find(|r| r.rec.id == id)
            .map(|r| r.rec.state.as_str())
    }
}

impl State {
    fn new(base: String) -> State {
        State {
            base,
            tokens: HashMap::new(),
            repos: BTreeMap::new(),
            next_id: 1_000_000,
            seed_seq: 0,
            faults: Vec::new(),
            rate: Rate {
                limit: DEFAULT_RATE_LIMIT,
                remaining: DEFAULT_RATE_LIMIT,
                reset_at: SystemTime::now() + Duration::from_secs(3600),
            },
            requests: Vec::new(),
            recorded: 0,
            request_seq: 0,
            oauth: OAuthFake::default(),
        }
    }

    fn alloc_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn seed_time(&mut self) -> i64 {
        self.seed_seq += 1;
        SEED_EPOCH + self.seed_seq * 60
    }

    /// The key of repository `full_name` (owner and name match case-insensitively).
    fn find_repo(&self, full_name: &str) -> Option<String> {
        self.repos
            .keys()
            .find(|k| k.eq_ignore_ascii_case(full_name))
            .cloned()
    }

    fn repo_entry(&mut self, full_name: &str) -> &mut Repo {
        assert!(
            full_name.split('/').count() == 2,
            "repository names are owner/name, not {full_name:?}"
        );
        let key = match self.find_repo(full_name) {
            Some(k) => k,
            None => {
                let created = self.seed_time();
                self.repos.insert(
                    full_name.to_string(),
                    Repo {
                        id: stable_id(full_name),
                        full_name: full_name.to_string(),
                        private: false,
                        default_branch: "main".into(),
                        created,
                        pulls: BTreeMap::new(),
                        issues: BTreeMap::new(),
                        files: BTreeMap::new(),
                        issue_comments: Vec::new(),
                        review_comments: Vec::new(),
                        reviews: Vec::new(),
                        hooks: Vec::new(),
                        languages: Vec::new(),
                        contributors: Vec::new(),
                        commits: Vec::new(),
                        collaborators: BTreeMap::new(),
                        reactions: Vec::new(),
                    },
                );
                full_name.to_string()
            }
        };
        self.repos.get_mut(&key).expect("repo just found")
    }

    fn take_fault(&mut self, req: &Incoming) -> Option<FaultKind> {
        let target = if req.query.is_empty() {
            req.path.clone()
        } else {
            format!("{}?{}", req.path, req.query)
        };
        let fault = self.faults.iter_mut().find(|f| {
            f.times > 0
                && (f.method.is_empty()
                    || f.method == "*"
                    || f.method.eq_ignore_ascii_case(&req.method))
                && target.contains(f.path_contains)
        })?;
        fault.times -= 1;
        Some(fault.kind.clone())
    }

    // -- the pipeline every request goes through ----------------------------------------

    fn process(&mut self, req: &Incoming, fault: Option<FaultKind>) -> Reply {
        self.rate.refresh();
        if let Some(kind) = fault {
            return self.fault_reply(kind);
        }
        // The OAuth web pages need no API token (and spend no API rate limit).
        if let Some(reply) = self.oauth_route(req) {
            return reply;
        }
        let caller = req
            .header("authorization")
            .and_then(parse_authorization)
            .and_then(|t| self.tokens.get(&t))
            .map(|t| Caller {
                login: t.login.clone(),
                access: t.access,
                scopes: t.scopes.clone(),
            });
        let Some(caller) = caller else {
            let mut reply = Reply::error(401, "Bad credentials", DOCS);
            self.finish(&mut reply, None);
            return reply;
        };
        // GET /rate_limit neither spends the limit nor is refused when it is spent.
        if matches!(req.method.as_str(), "GET" | "HEAD")
            && req.path.trim_end_matches('/') == "/rate_limit"
        {
            let core = self.rate.json();
            let body = json!({
                "resources": {
                    "core": core,
                    "search": {"limit": 30, "used": 0, "remaining": 30, "reset": self.rate.reset_unix()},
                    "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": self.rate.reset_unix()},
                    "integration_manifest": {"limit": 5000, "used": 0, "remaining": 5000, "reset": self.rate.reset_unix()},
                    "code_search": {"limit": 10, "used": 0, "remaining": 10, "reset": self.rate.reset_unix()},
                },
                "rate": core,
            });
            let mut reply = Reply::json(200, &body);
            self.finish(&mut reply, Some(&caller));
            return reply;
        }
        if self.rate.remaining == 0 {
            let msg = format!(
                "API rate limit exceeded for user ID {}.",
                stable_id(&caller.login)
            );
            let mut reply = Reply::error(403, &msg, RATE_DOCS);
            self.finish(&mut reply, Some(&caller));
            return reply;
        }
        let mut reply = self.route(req, &caller);
        let mut spend = true;
        if matches!(req.method.as_str(), "GET" | "HEAD") && reply.status == 200 {
            let etag = format!("\"{}\"", sha1_hex(&reply.body));
            let extra = [
                ("etag", etag.clone()),
                (
                    "cache-control",
                    "private, max-age=60, s-maxage=60".to_string(),
                ),
                (
                    "vary",
                    "Accept, Authorization, Cookie, X-GitHub-OTP".to_string(),
                ),
            ];
            if req
                .header("if-none-match")
                .is_some_and(|inm| etag_matches(inm, &etag))
            {
                // A conditional hit: no body, and (as on GitHub) no rate limit spent.
                reply = Reply {
                    status: 304,
                    headers: Vec::new(),
                    body: Vec::new(),
                };
                spend = false;
            }
            for (k, v) in extra {
                reply.headers.push((k.to_string(), v));
            }
        }
        if spend {
            self.rate.remaining = self.rate.remaining.saturating_sub(1);
        }
        self.finish(&mut reply, Some(&caller));
        reply
    }

    /// Headers every JSON answer carries.
    fn finish(&mut self, reply: &mut Reply, caller: Option<&Caller>) {
        let rate = [
            ("x-ratelimit-limit", self.rate.limit.to_string()),
            ("x-ratelimit-remaining", self.rate.remaining.to_string()),
            ("x-ratelimit-reset", self.rate.reset_unix().to_string()),
            ("x-ratelimit-used", self.rate.used().to_string()),
            ("x-ratelimit-resource", "core".to_string()),
        ];
        for (k, v) in rate {
            reply.headers.push((k.to_string(), v));
        }
        if let Some(c) = caller {
            reply
                .headers
                .push(("x-oauth-scopes".into(), c.scopes.clone()));
        }
        reply
            .headers
            .push(("x-github-api-version-selected".into(), "2022-11-28".into()));
        self.add_request_id(reply);
    }

    fn add_request_id(&mut self, reply: &mut Reply) {
        self.request_seq += 1;
        let n = self.request_seq;
        reply.headers.push((
            "x-github-request-id".into(),
            format!(
                "FA4E:{:04X}:{:06X}:{:06X}:{:08X}",
                n % 0xFFFF,
                n * 7,
                n * 13,
                n
            ),
        ));
    }

    fn fault_reply(&mut self, kind: FaultKind) -> Reply {
        match kind {
            FaultKind::Status(code @ (502..=504)) => {
                let mut reply = Reply {
                    status: code,
                    headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
                    body: UNICORN_PAGE.as_bytes().to_vec(),
                };
                self.add_request_id(&mut reply);
                reply
            }
            FaultKind::Status(code) => {
                let msg = StatusCode::from_u16(code)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Server Error");
                let mut reply = Reply::error(code, msg, DOCS);
                self.finish(&mut reply, None);
                reply
            }
            FaultKind::SecondaryRateLimit { retry_after }
            | FaultKind::Status429 { retry_after } => {
                let status = if matches!(kind, FaultKind::Status429 { .. }) {
                    429
                } else {
                    403
                };
                let msg = format!(
                    "You have exceeded a secondary rate limit. Please wait a few minutes before \
                     you try again. If you reach out to GitHub Support for help, please include \
                     the request ID FA4E:{:04X}.",
                    self.request_seq + 1
                );
                let mut reply = Reply::error(
                    status,
                    &msg,
                    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                );
                reply
                    .headers
                    .push(("retry-after".into(), retry_after.to_string()));
                self.finish(&mut reply, None);
                reply
            }
            FaultKind::Delay { .. } => Reply::error(500, "Server Error", DOCS),
        }
    }

    // -- routing -------------------------------------------------------------------------

    fn route(&mut self, req: &Incoming, caller: &Caller) -> Reply {
        let segs: Vec<String> = req
            .path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| pct_decode(s, false))
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let method = if req.method == "HEAD" {
            "GET"
        } else {
            req.method.as_str()
        };
        match s.as_slice() {
            ["user"] if method == "GET" => {
                Reply::json(200, &user_full_json(&self.base, &caller.login))
            }
            ["user", "repos"] if method == "GET" => self.user_repos(req, caller),
            ["graphql"] if method == "POST" => self.graphql(req),
            ["repos", owner, name, rest @ ..] => match self.find_repo(&format!("{owner}/{name}")) {
                Some(key) => self.repo_route(&key, method, rest, req, caller),
                None => not_found(),
            },
            ["repositories", id, rest @ ..] => {
                let key = id.parse::<u64>().ok().and_then(|id| {
                    self.repos
                        .iter()
                        .find(|(_, r)| r.id == id)
                        .map(|(k, _)| k.clone())
                });
                match key {
                    Some(key) => self.repo_route(&key, method, rest, req, caller),
                    None => not_found(),
                }
            }
            _ => not_found(),
        }
    }

    fn repo_route(
        &mut self,
        key: &str,
        method: &str,
        rest: &[&str],
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        if method != "GET" && caller.access == Access::ReadOnly {
            return Reply::error(403, "Resource not accessible by integration", DOCS);
        }
        let num = |s: &str| s.parse::<u64>().ok();
        macro_rules! n {
            ($s:expr) => {
                match num($s) {
                    Some(n) => n,
                    None => return not_found(),
                }
            };
        }
        match (method, rest) {
            ("GET", []) => self.get_repo(key, caller),
            ("GET", ["pulls"]) => self.list_pulls(key, req),
            ("GET", ["pulls", "comments", id]) => self.get_review_comment(key, n!(id)),
            ("PATCH", ["pulls", "comments", id]) => {
                self.edit_review_comment(key, n!(id), req, caller)
            }
            ("GET", ["pulls", n]) => self.get_pull(key, n!(n), req),
            ("GET", ["pulls", n, "files"]) => self.list_files(key, n!(n), req),
            ("GET", ["compare", spec]) => self.compare(key, spec, req),
            ("GET", ["pulls", n, "reviews"]) => self.list_reviews(key, n!(n), req, caller),
            ("POST", ["pulls", n, "reviews"]) => self.create_review(key, n!(n), req, caller),
            ("GET", ["pulls", n, "reviews", id]) => self.get_review(key, n!(n), n!(id), caller),
            ("PUT", ["pulls", n, "reviews", id]) => {
                self.update_review(key, n!(n), n!(id), req, caller)
            }
            ("POST", ["pulls", n, "reviews", id, "events"]) => {
                self.submit_review(key, n!(n), n!(id), req, caller)
            }
            ("GET", ["pulls", n, "reviews", id, "comments"]) => {
                self.list_review_comments_of(key, n!(n), n!(id), req, caller)
            }
            ("GET", ["pulls", n, "comments"]) => self.list_review_comments(key, n!(n), req),
            ("POST", ["pulls", n, "comments"]) => {
                self.create_review_comment(key, n!(n), req, caller)
            }
            ("POST", ["pulls", n, "comments", id, "replies"]) => {
                self.reply_to_review_comment(key, n!(n), n!(id), req, caller)
            }
            ("POST", ["pulls", "comments", id, "reactions"]) => {
                self.react_route(key, n!(id), true, req, caller)
            }
            ("POST", ["issues", "comments", id, "reactions"]) => {
                self.react_route(key, n!(id), false, req, caller)
            }
            ("GET", ["collaborators", user, "permission"]) => self.permission(key, user),
            ("GET", ["issues"]) => self.list_issues(key, req),
            ("GET", ["issues", "comments", id]) => self.get_issue_comment(key, n!(id)),
            ("PATCH", ["issues", "comments", id]) => {
                self.edit_issue_comment(key, n!(id), req, caller)
            }
            ("DELETE", ["issues", "comments", id]) => {
                self.delete_issue_comment(key, n!(id), caller)
            }
            ("GET", ["issues", n]) => self.get_issue(key, n!(n)),
            ("GET", ["issues", n, "comments"]) => self.list_issue_comments(key, n!(n), req),
            ("POST", ["issues", n, "comments"]) => {
                self.create_issue_comment(key, n!(n), req, caller)
            }
            ("GET", ["languages"]) => self.languages(key),
            ("GET", ["contributors"]) => self.contributors(key, req),
            ("GET", ["contents", path @ ..]) => self.contents(key, &path.join("/"), req),
            ("GET", ["hooks"]) => self.list_hooks(key, req),
            ("POST", ["hooks"]) => self.create_hook(key, req),
            ("GET", ["hooks", id]) => self.get_hook(key, n!(id)),
            ("PATCH", ["hooks", id]) => self.edit_hook(key, n!(id), req),
            ("DELETE", ["hooks", id]) => self.delete_hook(key, n!(id)),
            ("GET", ["hooks", id, "deliveries"]) => self.list_deliveries(key, n!(id), req),
            ("POST", ["hooks", id, "deliveries", delivery, "attempts"]) => {
                self.redeliver(key, n!(id), n!(delivery))
            }
            _ => not_found(),
        }
    }

    /// A page of `items` with GitHub's `Link` header; `rest` is the path after the repo.
    fn paginated(&self, key: &str, rest: &str, req: &Incoming, items: Vec<Value>) -> Reply {
        let (page, per_page) = page_params(req);
        let total = items.len();
        let last = total.div_ceil(per_page).max(1);
        let slice: Vec<Value> = items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        let mut reply = Reply::json(200, &Value::Array(slice));
        let path = format!("/repositories/{}{rest}", self.repos[key].id);
        if let Some(link) = link_header(&self.base, &path, &req.query, page, last) {
            reply.headers.push(("link".into(), link));
        }
        reply
    }

    // -- repositories --------------------------------------------------------------------

    /// `GET /user/repos`: every repository, sorted by name, with the caller's permissions
    /// (admin with a write token), paginated with `Link` headers.
    fn user_repos(&self, req: &Incoming, caller: &Caller) -> Reply {
        let write = caller.access == Access::Write;
        let items: Vec<Value> = self
            .repos
            .values()
            .map(|r| {
                let mut v = repo_json(&self.base, &r.view());
                v["permissions"] = json!({"admin": write, "maintain": write, "push": write,
                                          "triage": write, "pull": true});
                v
            })
            .collect();
        let (page, per_page) = page_params(req);
        let last = items.len().div_ceil(per_page).max(1);
        let slice: Vec<Value> = items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        let mut reply = Reply::json(200, &Value::Array(slice));
        if let Some(link) = link_header(&self.base, "/user/repos", &req.query, page, last) {
            reply.headers.push(("link".into(), link));
        }
        reply
    }

    fn get_repo(&self, key: &str, caller: &Caller) -> Reply {
        let r = &self.repos[key];
        let mut v = repo_json(&self.base, &r.view());
        let write = caller.access == Access::Write;
        v["permissions"] = json!({"admin": write, "maintain": write, "push": write,
                                  "triage": write, "pull": true});
        Reply::json(200, &v)
    }

    fn languages(&self, key: &str) -> Reply {
        // serde_json's map sorts keys; GitHub lists the largest language first.
        let parts: Vec<String> = self.repos[key]
            .languages
            .iter()
            .map(|(l, b)| format!("{}:{b}", Value::String(l.clone())))
            .collect();
        Reply::raw_json(200, format!("{{{}}}", parts.join(",")).into_bytes())
    }

    fn contributors(&self, key: &str, req: &Incoming) -> Reply {
        let mut list = self.repos[key].contributors.clone();
        list.sort_by_key(|c| std::cmp::Reverse(c.1));
        let items = list
            .iter()
            .map(|(login, n)| {
                let mut u = user_json(&self.base, login);
                u["contributions"] = json!(n);
                u
            })
            .collect();
        self.paginated(key, "/contributors", req, items)
    }

    fn contents(&self, key: &str, path: &str, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        let path = path.trim_matches('/');
        let git_ref = req
            .q("ref")
            .filter(|s| !s.is_empty())
            .unwrap_or(r.default_branch.clone());
        if !r.known_ref(&git_ref) {
            return Reply::error(
                404,
                &format!("No commit found for the ref {git_ref}"),
                "https://docs.github.com/rest/repos/contents#get-repository-content",
            );
        }
        let empty = BTreeMap::new();
        let files = r.files.get(&git_ref).unwrap_or(&empty);
        let accept = req.header("accept").unwrap_or("");
        let raw = accept.contains("application/vnd.github.raw")
            || accept.contains("application/vnd.github.v3.raw");
        if let Some(content) = files.get(path).filter(|_| !path.is_empty()) {
            if raw {
                return Reply {
                    status: 200,
                    headers: vec![
                        ("content-type".into(), "text/plain; charset=utf-8".into()),
                        ("x-github-media-type".into(), "github.v3; param=raw".into()),
                    ],
                    body: content.clone(),
                };
            }
            let mut v = content_entry_json(&self.base, r, &git_ref, path, "file", content);
            if content.len() > MAX_INLINE_CONTENT {
                v["content"] = json!("");
                v["encoding"] = json!("none");
            } else {
                v["content"] = json!(base64_wrapped(content));
                v["encoding"] = json!("base64");
            }
            return Reply::json(200, &v);
        }
        // A directory: the entries right under it.
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        let mut entries: BTreeMap<String, Value> = BTreeMap::new();
        for (p, content) in files.iter().filter(|(p, _)| p.starts_with(&prefix)) {
            let rest = &p[prefix.len()..];
            match rest.split_once('/') {
                None => {
                    let v = content_entry_json(&self.base, r, &git_ref, p, "file", content);
                    entries.insert(rest.to_string(), v);
                }
                Some((dir, _)) => {
                    let dir_path = format!("{prefix}{dir}");
                    let v = content_entry_json(&self.base, r, &git_ref, &dir_path, "dir", b"");
                    entries.insert(dir.to_string(), v);
                }
            }
        }
        if entries.is_empty() && !path.is_empty() {
            return Reply::error(
                404,
                "Not Found",
                "https://docs.github.com/rest/repos/contents#get-repository-content",
            );
        }
        Reply::json(200, &Value::Array(entries.into_values().collect()))
    }

    // -- pull requests -------------------------------------------------------------------

    fn list_pulls(&self, key: &str, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        let state = req.q("state").unwrap_or("open".into());
        let base = req.q("base");
        let head = req.q("head");
        let mut pulls: Vec<&Pull> = r
            .pulls
            .values()
            .filter(|p| state == "all" || pull_state(&p.spec) == state)
            .filter(|p| base.as_deref().is_none_or(|b| p.spec.base_ref == b))
            .filter(|p| {
                head.as_deref().is_none_or(|h| {
                    let owner = head_owner(r, &p.spec);
                    h == format!("{owner}:{}", p.spec.head_ref) || h == p.spec.head_ref
                })
            })
            .collect();
        let sort = req.q("sort").unwrap_or("created".into());
        let default_desc = sort == "created";
        let desc = match req.q("direction").as_deref() {
            Some("asc") => false,
            Some("desc") => true,
            _ => default_desc,
        };
        pulls.sort_by_key(|p| (p.created, p.spec.number));
        if desc {
            pulls.reverse();
        }
        let items = pulls
            .iter()
            .map(|p| pull_json(&self.base, r, p, false))
            .collect();
        self.paginated(key, "/pulls", req, items)
    }

    fn get_pull(&self, key: &str, n: u64, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        let Some(p) = r.pulls.get(&n) else {
            return not_found_doc("https://docs.github.com/rest/pulls/pulls#get-a-pull-request");
        };
        let accept = req.header("accept").unwrap_or("");
        if accept.contains("application/vnd.github.diff")
            || accept.contains("application/vnd.github.v3.diff")
        {
            if p.diff_lines > MAX_DIFF_LINES {
                return too_large(&format!(
                    "Sorry, the diff exceeded the maximum number of lines ({MAX_DIFF_LINES})"
                ));
            }
            if p.files.len() > MAX_DIFF_FILES {
                return too_large(&format!(
                    "Sorry, the diff exceeded the maximum number of files ({MAX_DIFF_FILES}). \
                     Consider using 'List pull requests files' API or locally cloning the \
                     repository instead."
                ));
            }
            return Reply {
                status: 200,
                headers: vec![
                    (
                        "content-type".into(),
                        "application/vnd.github.diff; charset=utf-8".into(),
                    ),
                    ("x-github-media-type".into(), "github.v3; param=diff".into()),
                ],
                body: p.spec.diff.clone().into_bytes(),
            };
        }
        Reply::json(200, &pull_json(&self.base, r, p, true))
    }

    fn list_files(&self, key: &str, n: u64, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        let Some(p) = r.pulls.get(&n) else {
            return not_found();
        };
        let items = p
            .files
            .iter()
            .take(MAX_LISTED_FILES)
            .map(|f| file_json(&self.base, r, p, f))
            .collect();
        self.paginated(key, &format!("/pulls/{n}/files"), req, items)
    }

    /// `GET /compare/{base}...{head}` over the seeded commits: 404 for an unknown commit or
    /// no common ancestor; `status` from the commits each side has that the other lacks;
    /// `commits` and `files` from the merge base to `head` (three dots, as GitHub), at most
    /// 300 files; the diff media type gives the same changes as a unified diff.
    fn compare(&self, key: &str, spec: &str, req: &Incoming) -> Reply {
        const DOC: &str = "https://docs.github.com/rest/commits/commits#compare-two-commits";
        let r = &self.repos[key];
        let Some((base, head)) = spec.split_once("...") else {
            return not_found_doc(DOC);
        };
        let find = |sha: &str| r.commits.iter().position(|c| c.sha == sha);
        let (Some(b), Some(h)) = (find(base), find(head)) else {
            return not_found_doc(DOC);
        };
        let ancestors = |start: usize| {
            let mut seen = BTreeSet::new();
            let mut todo = vec![start];
            while let Some(i) = todo.pop() {
                if seen.insert(i) {
                    todo.extend(r.commits[i].parents.iter().filter_map(|p| find(p)));
                }
            }
            seen
        };
        let (of_base, of_head) = (ancestors(b), ancestors(h));
        let common: BTreeSet<usize> = of_base.intersection(&of_head).copied().collect();
        // The merge base: a common ancestor that no other common ancestor descends from.
        let merge_base = common
            .iter()
            .copied()
            .find(|&c| !common.iter().any(|&d| d != c && ancestors(d).contains(&c)));
        let Some(merge_base) = merge_base else {
            return Reply::error(
                404,
                &format!("No common ancestor between {base} and {head}."),
                DOC,
            );
        };
        let ahead: Vec<usize> = of_head.difference(&of_base).copied().collect();
        let behind = of_base.difference(&of_head).count();
        let status = match (ahead.len(), behind) {
            (0, 0) => "identical",
            (_, 0) => "ahead",
            (0, _) => "behind",
            _ => "diverged",
        };
        let diff = diff_trees(&r.commits[merge_base].files, &r.commits[h].files);
        let accept = req.header("accept").unwrap_or("");
        if accept.contains("application/vnd.github.diff")
            || accept.contains("application/vnd.github.v3.diff")
        {
            return Reply {
                status: 200,
                headers: vec![(
                    "content-type".into(),
                    "application/vnd.github.diff; charset=utf-8".into(),
                )],
                body: diff.into_bytes(),
            };
        }
        let repo = &r.full_name;
        let base_url = &self.base;
        let commit = |i: usize| {
            let c = &r.commits[i];
            json!({
                "sha": c.sha,
                "url": format!("{base_url}/repos/{repo}/commits/{}", c.sha),
                "commit": {"message": c.message},
                "parents": c.parents.iter().map(|p| json!({"sha": p})).collect::<Vec<_>>(),
            })
        };
        let files: Vec<Value> = parse_diff(&diff)
            .iter()
            .take(MAX_DIFF_FILES)
            .map(|f| {
                let mut v = json!({
                    "sha": sha1_hex(format!("{head}:{}", f.filename).as_bytes()),
                    "filename": f.filename,
                    "status": f.status,
                    "additions": f.additions,
                    "deletions": f.deletions,
                    "changes": f.additions + f.deletions,
                });
                if let Some(patch) = f.patch() {
                    v["patch"] = json!(patch);
                }
                if let Some(prev) = &f.previous_filename {
                    v["previous_filename"] = json!(prev);
                }
                v
            })
            .collect();
        Reply::json(
            200,
            &json!({
                "url": format!("{base_url}/repos/{repo}/compare/{spec}"),
                "status": status,
                "ahead_by": ahead.len(),
                "behind_by": behind,
                "total_commits": ahead.len(),
                "base_commit": commit(b),
                "merge_base_commit": commit(merge_base),
                "commits": ahead.iter().map(|&i| commit(i)).collect::<Vec<_>>(),
                "files": files,
            }),
        )
    }

    // -- reviews -------------------------------------------------------------------------

    fn list_reviews(&self, key: &str, n: u64, req: &Incoming, caller: &Caller) -> Reply {
        let r = &self.repos[key];
        if !r.pulls.contains_key(&n) {
            return not_found();
        }
        let items = r
            .reviews
            .iter()
            .filter(|rv| rv.number == n && r.review_visible(rv, &caller.login))
            .map(|rv| review_json(&self.base, r, rv))
            .collect();
        self.paginated(key, &format!("/pulls/{n}/reviews"), req, items)
    }

    fn get_review(&self, key: &str, n: u64, id: u64, caller: &Caller) -> Reply {
        let r = &self.repos[key];
        match r
            .reviews
            .iter()
            .find(|rv| rv.number == n && rv.rec.id == id && r.review_visible(rv, &caller.login))
        {
            Some(rv) => Reply::json(200, &review_json(&self.base, r, rv)),
            None => not_found(),
        }
    }

    fn create_review(&mut self, key: &str, n: u64, req: &Incoming, caller: &Caller) -> Reply {
        if !self.repos[key].pulls.contains_key(&n) {
            return not_found_doc(REVIEW_DOCS);
        }
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let input = match parse_review_input(&obj) {
            Ok(i) => i,
            Err(msg) => return invalid_request(&msg, REVIEW_DOCS),
        };
        let r = &self.repos[key];
        let p = &r.pulls[&n];
        let mut errors: Vec<String> = Vec::new();
        if input.body.chars().count() > MAX_BODY_CHARS {
            errors.push(format!(
                "Body is too long (maximum is {MAX_BODY_CHARS} characters)"
            ));
        }
        if input
            .comments
            .iter()
            .any(|c| c.body.chars().count() > MAX_BODY_CHARS)
        {
            errors.push(format!(
                "Comment body is too long (maximum is {MAX_BODY_CHARS} characters)"
            ));
        }
        let commit_id = input.commit_id.clone().unwrap_or(p.spec.head_sha.clone());
        if !p.commits.contains(&commit_id) {
            errors.push(format!("No commit found for SHA: {commit_id}"));
        }
        let own = caller.login.eq_ignore_ascii_case(&p.spec.user);
        match input.event.as_str() {
            "APPROVE" if own => errors.push("Can not approve your own pull request".into()),
            "REQUEST_CHANGES" if own => {
                errors.push("Can not request changes on your own pull request".into())
            }
            "REQUEST_CHANGES" if input.body.trim().is_empty() && input.comments.is_empty() => {
                errors.push("You need to leave a comment indicating the requested changes.".into())
            }
            "COMMENT" if input.body.trim().is_empty() && input.comments.is_empty() => {
                errors.push("Body can't be blank".into())
            }
            "" if r.reviews.iter().any(|rv| {
                rv.number == n && rv.rec.user == caller.login && rv.rec.state == "PENDING"
            }) =>
            {
                errors.push("User can only have one pending review per pull request".into())
            }
            _ => {}
        }
        let mut thread_errors = BTreeSet::new();
        let mut anchors = Vec::new();
        for c in &input.comments {
            match resolve_anchor(&p.files, c) {
                Ok(a) => anchors.push(a),
                Err(e) => thread_errors.extend(e),
            }
        }
        errors.extend(thread_errors.iter().map(|e| e.review_message().to_string()));
        if !errors.is_empty() {
            return Reply::json(
                422,
                &json!({"message": "Unprocessable Entity", "errors": [to_sentence(&errors)],
                        "documentation_url": REVIEW_DOCS, "status": "422"}),
            );
        }
        let state = match input.event.as_str() {
            "APPROVE" => "APPROVED",
            "REQUEST_CHANGES" => "CHANGES_REQUESTED",
            "COMMENT" => "COMMENTED",
            _ => "PENDING",
        };
        let review_id = self.alloc_id();
        let comment_ids: Vec<u64> = anchors.iter().map(|_| self.alloc_id()).collect();
        let now = now_secs();
        let r = self.repos.get_mut(key).expect("repo");
        for ((c, a), id) in input.comments.iter().zip(anchors).zip(comment_ids) {
            let diff_hunk = a.diff_hunk.clone();
            r.review_comments.push(StoredComment {
                rec: a.into_record(id, &caller.login, &c.body, &commit_id, Some(review_id)),
                number: n,
                created: now,
                updated: now,
                diff_hunk,
                reactions: BTreeMap::new(),
                resolved: false,
            });
        }
        r.reviews.push(StoredReview {
            rec: ReviewRecord {
                id: review_id,
                user: caller.login.clone(),
                body: input.body.clone(),
                commit_id,
                event: input.event.clone(),
                state: state.into(),
                comments: Vec::new(),
            },
            number: n,
            submitted: (state != "PENDING").then_some(now),
        });
        let r = &self.repos[key];
        let rv = r.reviews.last().expect("just pushed");
        Reply::json(200, &review_json(&self.base, r, rv))
    }

    fn update_review(
        &mut self,
        key: &str,
        n: u64,
        id: u64,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let body = match required_string(&obj, "body") {
            Ok(b) => b,
            Err(msg) => return invalid_request(&msg, REVIEW_DOCS),
        };
        let login = caller.login.clone();
        let r = self.repos.get_mut(key).expect("repo");
        let visible_ids: Vec<u64> = r
            .reviews
            .iter()
            .filter(|rv| rv.number == n && r.review_visible(rv, &login))
            .map(|rv| rv.rec.id)
            .collect();
        if !visible_ids.contains(&id) {
            return not_found();
        }
        let rv = r
            .reviews
            .iter_mut()
            .find(|rv| rv.rec.id == id)
            .expect("review");
        if rv.rec.user != login {
            return Reply::error(403, "Must have admin rights to Repository.", DOCS);
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return Reply::json(
                422,
                &json!({"message": "Unprocessable Entity",
                        "errors": [format!("Body is too long (maximum is {MAX_BODY_CHARS} characters)")],
                        "documentation_url": DOCS, "status": "422"}),
            );
        }
        rv.rec.body = body;
        let r = &self.repos[key];
        let rv = r.reviews.iter().find(|rv| rv.rec.id == id).expect("review");
        Reply::json(200, &review_json(&self.base, r, rv))
    }

    fn submit_review(
        &mut self,
        key: &str,
        n: u64,
        id: u64,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let event = match obj.get("event") {
            Some(Value::String(e))
                if ["APPROVE", "REQUEST_CHANGES", "COMMENT"].contains(&e.as_str()) =>
            {
                e.clone()
            }
            Some(Value::String(e)) => {
                return invalid_request(
                    &format!("For 'properties/event', {:?} is not a member of enum.", e),
                    REVIEW_DOCS,
                );
            }
            _ => return invalid_request("\"event\" wasn't supplied.", REVIEW_DOCS),
        };
        let body = match obj.get("body") {
            Some(Value::String(b)) => Some(b.clone()),
            _ => None,
        };
        let login = caller.login.clone();
        let author = self.repos[key].pulls.get(&n).map(|p| p.spec.user.clone());
        let r = self.repos.get_mut(key).expect("repo");
        let Some(rv) = r
            .reviews
            .iter_mut()
            .find(|rv| rv.number == n && rv.rec.id == id && rv.rec.user == login)
        else {
            return not_found();
        };
        if rv.rec.state != "PENDING" {
            return Reply::json(
                422,
                &json!({"message": "Unprocessable Entity",
                        "errors": ["Can not submit a review that is not pending"],
                        "documentation_url": DOCS, "status": "422"}),
            );
        }
        let own = author.is_some_and(|a| a.eq_ignore_ascii_case(&login));
        if own && event != "COMMENT" {
            let msg = if event == "APPROVE" {
                "Can not approve your own pull request"
            } else {
                "Can not request changes on your own pull request"
            };
            return Reply::json(
                422,
                &json!({"message": "Unprocessable Entity", "errors": [msg],
                        "documentation_url": DOCS, "status": "422"}),
            );
        }
        if let Some(b) = body {
            rv.rec.body = b;
        }
        rv.rec.event = event.clone();
        rv.rec.state = match event.as_str() {
            "APPROVE" => "APPROVED",
            "REQUEST_CHANGES" => "CHANGES_REQUESTED",
            _ => "COMMENTED",
        }
        .into();
        rv.submitted = Some(now_secs());
        let r = &self.repos[key];
        let rv = r.reviews.iter().find(|rv| rv.rec.id == id).expect("review");
        Reply::json(200, &review_json(&self.base, r, rv))
    }

    // -- review comments -----------------------------------------------------------------

    fn list_review_comments(&self, key: &str, n: u64, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        if !r.pulls.contains_key(&n) {
            return not_found();
        }
        let items = r
            .review_comments
            .iter()
            .filter(|c| c.number == n && r.review_state(c.rec.review_id) != Some("PENDING"))
            .map(|c| review_comment_json(&self.base, r, c))
            .collect();
        self.paginated(key, &format!("/pulls/{n}/comments"), req, items)
    }

    fn list_review_comments_of(
        &self,
        key: &str,
        n: u64,
        id: u64,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        let r = &self.repos[key];
        if !r
            .reviews
            .iter()
            .any(|rv| rv.number == n && rv.rec.id == id && r.review_visible(rv, &caller.login))
        {
            return not_found();
        }
        let items = r
            .review_comments
            .iter()
            .filter(|c| c.rec.review_id == Some(id))
            .map(|c| review_comment_json(&self.base, r, c))
            .collect();
        self.paginated(
            key,
            &format!("/pulls/{n}/reviews/{id}/comments"),
            req,
            items,
        )
    }

    fn get_review_comment(&self, key: &str, id: u64) -> Reply {
        let r = &self.repos[key];
        match r.review_comments.iter().find(|c| c.rec.id == id) {
            Some(c) => Reply::json(200, &review_comment_json(&self.base, r, c)),
            None => not_found(),
        }
    }

    fn edit_review_comment(
        &mut self,
        key: &str,
        id: u64,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let body = match required_string(&obj, "body") {
            Ok(b) => b,
            Err(msg) => return invalid_request(&msg, DOCS),
        };
        let r = self.repos.get_mut(key).expect("repo");
        let Some(c) = r.review_comments.iter_mut().find(|c| c.rec.id == id) else {
            return not_found();
        };
        if c.rec.user != caller.login {
            return Reply::error(403, "Must have admin rights to Repository.", DOCS);
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return body_too_long("PullRequestReviewComment", "body", "custom", COMMENT_DOCS);
        }
        c.rec.body = body;
        c.updated = now_secs();
        let r = &self.repos[key];
        let c = r
            .review_comments
            .iter()
            .find(|c| c.rec.id == id)
            .expect("comment");
        Reply::json(200, &review_comment_json(&self.base, r, c))
    }

    fn create_review_comment(
        &mut self,
        key: &str,
        n: u64,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        if !self.repos[key].pulls.contains_key(&n) {
            return not_found_doc(COMMENT_DOCS);
        }
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let mut input = match parse_comment_input(&Value::Object(obj.clone()), true) {
            Ok(i) => i,
            Err(msg) => return invalid_request(&msg, COMMENT_DOCS),
        };
        let r = &self.repos[key];
        let p = &r.pulls[&n];
        let validation = |errors: Vec<Value>| {
            Reply::json(
                422,
                &json!({"message": "Validation Failed", "errors": errors,
                        "documentation_url": COMMENT_DOCS, "status": "422"}),
            )
        };
        if input.body.chars().count() > MAX_BODY_CHARS {
            return body_too_long("PullRequestReviewComment", "body", "custom", COMMENT_DOCS);
        }
        // A reply takes its thread's place in the diff.
        let mut parent: Option<(CommentRecord, String)> = None;
        if let Some(parent_id) = input.in_reply_to {
            match r
                .review_comments
                .iter()
                .find(|c| c.number == n && c.rec.id == parent_id)
            {
                Some(c) => parent = Some((c.rec.clone(), c.diff_hunk.clone())),
                None => return not_found_doc(COMMENT_DOCS),
            }
        }
        let commit_id = match (&input.commit_id, &parent) {
            (Some(c), _) => c.clone(),
            (None, Some((pc, _))) => pc.commit_id.clone().unwrap_or(p.spec.head_sha.clone()),
            (None, None) => return invalid_request("\"commit_id\" wasn't supplied.", COMMENT_DOCS),
        };
        if !p.commits.contains(&commit_id) {
            return validation(vec![
                json!({"resource": "PullRequestReviewComment", "code": "custom",
                "field": "commit_id", "message": "commit_id is not part of the pull request"}),
            ]);
        }
        let (rec_anchor, diff_hunk) = if let Some((pc, hunk)) = &parent {
            let rec = CommentRecord {
                in_reply_to_id: Some(pc.id),
                ..pc.clone()
            };
            (rec, hunk.clone())
        } else if input.subject_type.as_deref() == Some("file") {
            if !p.files.iter().any(|f| f.filename == input.path) {
                let e = ThreadErr::PathInvalid;
                return validation(vec![e.field_error()]);
            }
            let rec = CommentRecord {
                id: 0,
                user: String::new(),
                body: String::new(),
                path: Some(input.path.clone()),
                line: None,
                side: None,
                start_line: None,
                start_side: None,
                commit_id: None,
                review_id: None,
                in_reply_to_id: None,
                position: None,
                subject_type: Some("file".into()),
            };
            (rec, String::new())
        } else {
            input.position = input.position.filter(|_| input.line.is_none());
            match resolve_anchor(&p.files, &input) {
                Ok(a) => {
                    let hunk = a.diff_hunk.clone();
                    (a.into_record(0, "", "", &commit_id, None), hunk)
                }
                Err(errs) => {
                    return validation(errs.iter().map(|e| e.field_error()).collect());
                }
            }
        };
        let review_id = self.alloc_id();
        let id = self.alloc_id();
        let now = now_secs();
        let r = self.repos.get_mut(key).expect("repo");
        // A standalone comment is filed under a review of its own, as GitHub does.
        r.reviews.push(StoredReview {
            rec: ReviewRecord {
                id: review_id,
                user: caller.login.clone(),
                body: String::new(),
                commit_id: commit_id.clone(),
                event: "COMMENT".into(),
                state: "COMMENTED".into(),
                comments: Vec::new(),
            },
            number: n,
            submitted: Some(now),
        });
        let rec = CommentRecord {
            id,
            user: caller.login.clone(),
            body: input.body.clone(),
            commit_id: Some(commit_id),
            review_id: Some(review_id),
            ..rec_anchor
        };
        r.review_comments.push(StoredComment {
            rec,
            number: n,
            created: now,
            updated: now,
            diff_hunk,
            reactions: BTreeMap::new(),
            resolved: false,
        });
        let r = &self.repos[key];
        let c = r.review_comments.last().expect("just pushed");
        Reply::json(201, &review_comment_json(&self.base, r, c))
    }

    // -- conversation: replies, reactions, permissions ----------------------------------

    /// `POST /pulls/{n}/comments/{id}/replies`: a reply in the thread of `id` (which must
    /// start a thread, as on GitHub).
    fn reply_to_review_comment(
        &mut self,
        key: &str,
        n: u64,
        id: u64,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let body = match required_string(&obj, "body") {
            Ok(b) => b,
            Err(msg) => return invalid_request(&msg, COMMENT_DOCS),
        };
        if body.chars().count() > MAX_BODY_CHARS {
            return body_too_long("PullRequestReviewComment", "body", "custom", COMMENT_DOCS);
        }
        match self.push_reply(key, n, id, &caller.login, &body) {
            Ok(new_id) => {
                let r = &self.repos[key];
                let c = r
                    .review_comments
                    .iter()
                    .find(|c| c.rec.id == new_id)
                    .expect("just pushed");
                Reply::json(201, &review_comment_json(&self.base, r, c))
            }
            Err(reply) => reply,
        }
    }

    /// A reply by `login` in the thread `parent` starts; its id.
    fn push_reply(
        &mut self,
        key: &str,
        n: u64,
        parent: u64,
        login: &str,
        body: &str,
    ) -> Result<u64, Reply> {
        let r = &self.repos[key];
        let Some(pc) = r
            .review_comments
            .iter()
            .find(|c| c.number == n && c.rec.id == parent)
        else {
            return Err(not_found_doc(COMMENT_DOCS));
        };
        if pc.rec.in_reply_to_id.is_some() {
            // GitHub: "Replies to replies are not supported."
            return Err(invalid_request(
                "Replies to replies are not supported.",
                COMMENT_DOCS,
            ));
        }
        let rec_anchor = pc.rec.clone();
        let diff_hunk = pc.diff_hunk.clone();
        let review_id = self.alloc_id();
        let id = self.alloc_id();
        let now = now_secs();
        let r = self.repos.get_mut(key).expect("repo");
        let commit_id = rec_anchor.commit_id.clone().unwrap_or_default();
        r.reviews.push(StoredReview {
            rec: ReviewRecord {
                id: review_id,
                user: login.to_string(),
                body: String::new(),
                commit_id,
                event: "COMMENT".into(),
                state: "COMMENTED".into(),
                comments: Vec::new(),
            },
            number: n,
            submitted: Some(now),
        });
        r.review_comments.push(StoredComment {
            rec: CommentRecord {
                id,
                user: login.to_string(),
                body: body.to_string(),
                review_id: Some(review_id),
                in_reply_to_id: Some(parent),
                ..rec_anchor
            },
            number: n,
            created: now,
            updated: now,
            diff_hunk,
            reactions: BTreeMap::new(),
            resolved: false,
        });
        Ok(id)
    }

    /// `POST /{issues,pulls}/comments/{id}/reactions`: 201 for a new reaction, 200 when
    /// the caller had already reacted so.
    fn react_route(
        &mut self,
        key: &str,
        id: u64,
        review_comment: bool,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let content = match required_string(&obj, "content") {
            Ok(c) => c,
            Err(msg) => return invalid_request(&msg, DOCS),
        };
        if !REACTIONS.contains(&content.as_str()) {
            return Reply::json(
                422,
                &json!({"message": "Validation Failed", "errors": [{"resource": "Reaction",
                        "code": "custom", "field": "content",
                        "message": format!("{content} is not a valid reaction")}],
                        "documentation_url": DOCS, "status": "422"}),
            );
        }
        let r = self.repos.get_mut(key).expect("repo");
        let list = if review_comment {
            &mut r.review_comments
        } else {
            &mut r.issue_comments
        };
        let Some(c) = list.iter_mut().find(|c| c.rec.id == id) else {
            return not_found();
        };
        let entry = (id, caller.login.clone(), content.clone());
        let status = if r.reactions.contains(&entry) {
            200
        } else {
            *c.reactions.entry(content.clone()).or_default() += 1;
            r.reactions.push(entry);
            201
        };
        Reply::json(
            status,
            &json!({"id": stable_id(&format!("{id}:{}:{content}", caller.login)),
                    "user": user_json(&self.base, &caller.login), "content": content}),
        )
    }

    /// `GET /collaborators/{user}/permission`: the owner is admin; collaborators have their
    /// role; anyone else answers 404 "is not a user" or `none`, as GitHub does for
    /// non-collaborators.
    fn permission(&self, key: &str, user: &str) -> Reply {
        let r = &self.repos[key];
        let role = if user.eq_ignore_ascii_case(r.owner()) {
            "admin".to_string()
        } else {
            match r
                .collaborators
                .iter()
                .find(|(l, _)| l.eq_ignore_ascii_case(user))
            {
                Some((_, role)) => role.clone(),
                None => "none".to_string(),
            }
        };
        // `permission` is the coarse legacy value: maintain → write, triage → read.
        let permission = match role.as_str() {
            "maintain" => "write",
            "triage" => "read",
            other => other,
        };
        Reply::json(
            200,
            &json!({"permission": permission, "role_name": role,
                    "user": user_json(&self.base, user)}),
        )
    }

    // -- issues and issue comments -------------------------------------------------------

    fn list_issues(&self, key: &str, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        let state = req.q("state").unwrap_or("open".into());
        let labels: Vec<String> = req
            .q("labels")
            .map(|l| {
                l.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        // (created, number, comments, json)
        let mut rows: Vec<(i64, u64, usize, Value)> = Vec::new();
        for i in r.issues.values() {
            let st = if i.spec.state == "closed" {
                "closed"
            } else {
                "open"
            };
            if (state == "all" || state == st) && labels.iter().all(|l| i.spec.labels.contains(l)) {
                rows.push((
                    i.created,
                    i.spec.number,
                    r.issue_comment_count(i.spec.number),
                    issue_json(&self.base, r, i),
                ));
            }
        }
        for p in r.pulls.values() {
            if (state == "all" || state == pull_state(&p.spec))
                && labels.iter().all(|l| p.spec.labels.contains(l))
            {
                rows.push((
                    p.created,
                    p.spec.number,
                    r.issue_comment_count(p.spec.number),
                    pull_issue_json(&self.base, r, p),
                ));
            }
        }
        let sort = req.q("sort").unwrap_or("created".into());
        if sort == "comments" {
            rows.sort_by_key(|row| (row.2, row.0, row.1));
        } else {
            rows.sort_by_key(|row| (row.0, row.1));
        }
        if req.q("direction").as_deref() != Some("asc") {
            rows.reverse();
        }
        let items = rows.into_iter().map(|row| row.3).collect();
        self.paginated(key, "/issues", req, items)
    }

    fn get_issue(&self, key: &str, n: u64) -> Reply {
        let r = &self.repos[key];
        if let Some(i) = r.issues.get(&n) {
            Reply::json(200, &issue_json(&self.base, r, i))
        } else if let Some(p) = r.pulls.get(&n) {
            Reply::json(200, &pull_issue_json(&self.base, r, p))
        } else {
            not_found()
        }
    }

    fn list_issue_comments(&self, key: &str, n: u64, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        if !r.number_exists(n) {
            return not_found();
        }
        let items = r
            .issue_comments
            .iter()
            .filter(|c| c.number == n)
            .map(|c| issue_comment_json(&self.base, r, c))
            .collect();
        self.paginated(key, &format!("/issues/{n}/comments"), req, items)
    }

    fn get_issue_comment(&self, key: &str, id: u64) -> Reply {
        let r = &self.repos[key];
        match r.issue_comments.iter().find(|c| c.rec.id == id) {
            Some(c) => Reply::json(200, &issue_comment_json(&self.base, r, c)),
            None => not_found(),
        }
    }

    fn create_issue_comment(
        &mut self,
        key: &str,
        n: u64,
        req: &Incoming,
        caller: &Caller,
    ) -> Reply {
        if !self.repos[key].number_exists(n) {
            return not_found_doc(ISSUE_COMMENT_DOCS);
        }
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let body = match required_string(&obj, "body") {
            Ok(b) => b,
            Err(msg) => return invalid_request(&msg, ISSUE_COMMENT_DOCS),
        };
        if body.chars().count() > MAX_BODY_CHARS {
            return body_too_long("IssueComment", "data", "unprocessable", ISSUE_COMMENT_DOCS);
        }
        let id = self.alloc_id();
        let now = now_secs();
        let r = self.repos.get_mut(key).expect("repo");
        r.issue_comments.push(StoredComment {
            rec: issue_comment_record(id, &caller.login, &body),
            number: n,
            created: now,
            updated: now,
            diff_hunk: String::new(),
            reactions: BTreeMap::new(),
            resolved: false,
        });
        let r = &self.repos[key];
        let c = r.issue_comments.last().expect("just pushed");
        Reply::json(201, &issue_comment_json(&self.base, r, c))
    }

    fn edit_issue_comment(&mut self, key: &str, id: u64, req: &Incoming, caller: &Caller) -> Reply {
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let body = match required_string(&obj, "body") {
            Ok(b) => b,
            Err(msg) => return invalid_request(&msg, DOCS),
        };
        let r = self.repos.get_mut(key).expect("repo");
        let Some(c) = r.issue_comments.iter_mut().find(|c| c.rec.id == id) else {
            return not_found();
        };
        if c.rec.user != caller.login {
            return Reply::error(403, "Must have admin rights to Repository.", DOCS);
        }
        if body.chars().count() > MAX_BODY_CHARS {
            return body_too_long("IssueComment", "data", "unprocessable", DOCS);
        }
        c.rec.body = body;
        c.updated = now_secs();
        let r = &self.repos[key];
        let c = r
            .issue_comments
            .iter()
            .find(|c| c.rec.id == id)
            .expect("comment");
        Reply::json(200, &issue_comment_json(&self.base, r, c))
    }

    fn delete_issue_comment(&mut self, key: &str, id: u64, caller: &Caller) -> Reply {
        let r = self.repos.get_mut(key).expect("repo");
        let Some(i) = r.issue_comments.iter().position(|c| c.rec.id == id) else {
            return not_found();
        };
        if r.issue_comments[i].rec.user != caller.login {
            return Reply::error(403, "Must have admin rights to Repository.", DOCS);
        }
        r.issue_comments.remove(i);
        Reply::empty(204)
    }

    // -- hooks ---------------------------------------------------------------------------

    fn list_hooks(&self, key: &str, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        let items = r
            .hooks
            .iter()
            .map(|h| hook_json(&self.base, r, h))
            .collect();
        self.paginated(key, "/hooks", req, items)
    }

    fn get_hook(&self, key: &str, id: u64) -> Reply {
        let r = &self.repos[key];
        match r.hooks.iter().find(|h| h.rec.id == id) {
            Some(h) => Reply::json(200, &hook_json(&self.base, r, h)),
            None => not_found(),
        }
    }

    fn create_hook(&mut self, key: &str, req: &Incoming) -> Reply {
        const DOC: &str = "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook";
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let Some(Value::Object(config)) = obj.get("config") else {
            return invalid_request("\"config\" wasn't supplied.", DOC);
        };
        let url = match config.get("url") {
            Some(Value::String(u)) if !u.is_empty() => u.clone(),
            _ => return invalid_request("\"url\" wasn't supplied.", DOC),
        };
        let events: Vec<String> = match obj.get("events") {
            None | Some(Value::Null) => vec!["push".into()],
            Some(Value::Array(a)) => {
                let mut ev = Vec::new();
                for e in a {
                    match e.as_str() {
                        Some(s) => ev.push(s.to_string()),
                        None => {
                            return invalid_request(
                                &format!("For 'items', {e} is not a string."),
                                DOC,
                            );
                        }
                    }
                }
                ev
            }
            Some(other) => {
                return invalid_request(
                    &format!("For 'properties/events', {other} is not an array."),
                    DOC,
                );
            }
        };
        let active = obj.get("active").and_then(Value::as_bool).unwrap_or(true);
        if self.repos[key]
            .hooks
            .iter()
            .any(|h| h.rec.config["url"] == json!(url))
        {
            return Reply::json(
                422,
                &json!({"message": "Validation Failed",
                        "errors": [{"resource": "Hook", "code": "custom",
                                    "message": "Hook already exists on this repository"}],
                        "documentation_url": DOC, "status": "422"}),
            );
        }
        let mut config = config.clone();
        config
            .entry("content_type")
            .or_insert_with(|| json!("form"));
        config.entry("insecure_ssl").or_insert_with(|| json!("0"));
        let id = self.alloc_id();
        let now = now_secs();
        let r = self.repos.get_mut(key).expect("repo");
        r.hooks.push(StoredHook {
            rec: HookRecord {
                id,
                name: "web".into(),
                active,
                events,
                config: Value::Object(config),
            },
            created: now,
            updated: now,
            deliveries: Vec::new(),
        });
        let r = &self.repos[key];
        Reply::json(
            201,
            &hook_json(&self.base, r, r.hooks.last().expect("just pushed")),
        )
    }

    fn edit_hook(&mut self, key: &str, id: u64, req: &Incoming) -> Reply {
        let obj = match req.json_object() {
            Ok(o) => o,
            Err(reply) => return reply,
        };
        let r = self.repos.get_mut(key).expect("repo");
        let Some(h) = r.hooks.iter_mut().find(|h| h.rec.id == id) else {
            return not_found();
        };
        if let Some(Value::Object(cfg)) = obj.get("config")
            && let Value::Object(cur) = &mut h.rec.config
        {
            for (k, v) in cfg {
                cur.insert(k.clone(), v.clone());
            }
        }
        if let Some(Value::Array(ev)) = obj.get("events") {
            h.rec.events = ev
                .iter()
                .filter_map(|e| e.as_str().map(String::from))
                .collect();
        }
        if let Some(Value::Array(ev)) = obj.get("add_events") {
            for e in ev.iter().filter_map(Value::as_str) {
                if !h.rec.events.iter().any(|x| x == e) {
                    h.rec.events.push(e.to_string());
                }
            }
        }
        if let Some(Value::Array(ev)) = obj.get("remove_events") {
            h.rec
                .events
                .retain(|x| !ev.iter().any(|e| e.as_str() == Some(x)));
        }
        if let Some(a) = obj.get("active").and_then(Value::as_bool) {
            h.rec.active = a;
        }
        h.updated = now_secs();
        let r = &self.repos[key];
        let h = r.hooks.iter().find(|h| h.rec.id == id).expect("hook");
        Reply::json(200, &hook_json(&self.base, r, h))
    }

    fn delete_hook(&mut self, key: &str, id: u64) -> Reply {
        let r = self.repos.get_mut(key).expect("repo");
        match r.hooks.iter().position(|h| h.rec.id == id) {
            Some(i) => {
                r.hooks.remove(i);
                Reply::empty(204)
            }
            None => not_found_doc(
                "https://docs.github.com/rest/repos/webhooks#delete-a-repository-webhook",
            ),
        }
    }

    /// Deliveries, newest first, paginated with a cursor as GitHub does.
    fn list_deliveries(&self, key: &str, id: u64, req: &Incoming) -> Reply {
        let r = &self.repos[key];
        let Some(h) = r.hooks.iter().find(|h| h.rec.id == id) else {
            return not_found();
        };
        let (_, per_page) = page_params(req);
        let mut all: Vec<&Delivery> = h.deliveries.iter().collect();
        all.sort_by_key(|d| std::cmp::Reverse(d.id));
        let after = req
            .q("cursor")
            .and_then(|c| c.strip_prefix("v1_").and_then(|n| n.parse::<u64>().ok()));
        let start = match after {
            Some(c) => all.iter().position(|d| d.id < c).unwrap_or(all.len()),
            None => 0,
        };
        let page: Vec<&Delivery> = all.iter().skip(start).take(per_page).copied().collect();
        let items: Vec<Value> = page.iter().map(|d| delivery_json(r, d)).collect();
        let mut reply = Reply::json(200, &Value::Array(items));
        if start + per_page < all.len()
            && let Some(last) = page.last()
        {
            reply.headers.push((
                "link".into(),
                format!(
                    "<{}/repositories/{}/hooks/{id}/deliveries?per_page={per_page}&cursor=v1_{}>; rel=\"next\"",
                    self.base, r.id, last.id
                ),
            ));
        }
        reply
    }
}

// ---------------------------------------------------------------------------------------
// OAuth web flow (github.com/login/oauth/*), for `nectr serve`'s sign-in
// ---------------------------------------------------------------------------------------
//
// GitHub serves these on the web host (`GITHUB_SERVER_URL`), not the API; the fake serves
// both on one address. `GET /login/oauth/authorize` approves at once (no page) for the user
// set with `set_oauth_user`, or denies when `deny_oauth(true)`; `POST
// /login/oauth/access_token` checks the app's credentials, the code (single use, 10
// minutes), the `redirect_uri` and the PKCE verifier against the remembered S256 challenge,
// then issues a token that the API accepts. Failures are GitHub's: `200` with
// `{"error", "error_description", "error_uri"}`.

/// How long an authorization code may be exchanged, as on GitHub.
pub const OAUTH_CODE_SECS: u64 = 600;

/// A token the fake issued through the OAuth flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: String,
    pub login: String,
    pub scopes: String,
}

#[derive(Default)]
struct OAuthFake {
    /// `(client_id, client_secret)`.
    app: Option<(String, String)>,
    /// `(login, scopes)` of whoever approves the next authorize request.
    user: Option<(String, String)>,
    /// What issued tokens may do (`Write` unless set).
    access: Option<Access>,
    deny: bool,
    codes: HashMap<String, OAuthCode>,
    issued: Vec<IssuedToken>,
}

struct OAuthCode {
    client_id: String,
    redirect_uri: String,
    /// `code_challenge` as sent with method `S256`.
    challenge: Option<String>,
    login: String,
    scopes: String,
    expires: SystemTime,
}

impl FakeGitHub {
    /// The OAuth app the code exchange accepts.
    pub fn set_oauth_app(&self, client_id: &str, client_secret: &str) {
        self.state().oauth.app = Some((client_id.to_string(), client_secret.to_string()));
    }

    /// Who approves authorize requests from now on, and the scopes their token gets (as
    /// `X-OAuth-Scopes` writes them, e.g. `"repo"` or `"read:user, user:email"`).
    pub fn set_oauth_user(&self, login: &str, scopes: &str) {
        self.state().oauth.user = Some((login.to_string(), scopes.to_string()));
    }

    /// What tokens issued from now on may do (default [`Access::Write`]).
    pub fn set_oauth_access(&self, access: Access) {
        self.state().oauth.access = Some(access);
    }

    /// `true`: the user clicks "Cancel" on the authorize page (`error=access_denied`).
    pub fn deny_oauth(&self, deny: bool) {
        self.state().oauth.deny = deny;
    }

    /// Makes every code issued so far expired.
    pub fn expire_oauth_codes(&self) {
        for code in self.state().oauth.codes.values_mut() {
            code.expires = UNIX_EPOCH;
        }
    }

    /// The tokens issued by the code exchange, in order.
    pub fn oauth_tokens(&self) -> Vec<IssuedToken> {
        self.state().oauth.issued.clone()
    }
}

/// `BASE64URL(SHA-256(verifier))` without padding, from the fake's own base64.
fn s256_challenge(verifier: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(verifier.as_bytes());
    base64(&digest)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", fastrand::u8(..)))
        .collect()
}

/// `uri` with `params` appended to its query.
fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(&pct_encode(k));
        out.push('=');
        out.push_str(&pct_encode(v));
        sep = '&';
    }
    out
}

fn html_error(status: u16, message: &str) -> Reply {
    Reply {
        status,
        headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
        body: format!("<!DOCTYPE html><html><body><p>{message}</p></body></html>").into_bytes(),
    }
}

impl State {
    /// The OAuth web routes, answered before (and without) API authentication.
    fn oauth_route(&mut self, req: &Incoming) -> Option<Reply> {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/login/oauth/authorize") => Some(self.oauth_authorize(req)),
            ("POST", "/login/oauth/access_token") => Some(self.oauth_access_token(req)),
            _ => None,
        }
    }

    fn oauth_authorize(&mut self, req: &Incoming) -> Reply {
        let Some((client_id, _)) = self.oauth.app.clone() else {
            return html_error(404, "no OAuth app is configured (call set_oauth_app)");
        };
        if req.q("client_id").as_deref() != Some(client_id.as_str()) {
            return html_error(404, "Not Found: unknown client_id");
        }
        let Some(redirect_uri) = req.q("redirect_uri").filter(|u| !u.is_empty()) else {
            return html_error(
                400,
                "redirect_uri is required by this fake (GitHub would use the app's)",
            );
        };
        let challenge = req.q("code_challenge");
        match (req.q("code_challenge_method").as_deref(), &challenge) {
            (None, None) => {}
            (Some("S256"), Some(c)) if (43..=128).contains(&c.len()) => {}
            _ => {
                return html_error(
                    400,
                    "code_challenge must come with code_challenge_method=S256",
                );
            }
        }
        let state = req.q("state");
        let mut params: Vec<(&str, &str)> = Vec::new();
        if self.oauth.deny {
            params.push(("error", "access_denied"));
            params.push((
                "error_description",
                "The user has denied your application access.",
            ));
            params.push((
                "error_uri",
                "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
            ));
            if let Some(s) = &state {
                params.push(("state", s));
            }
            return redirect_reply(&with_query(&redirect_uri, &params));
        }
        let Some((login, scopes)) = self.oauth.user.clone() else {
            return html_error(500, "no OAuth user is configured (call set_oauth_user)");
        };
        let code = random_hex(10);
        self.oauth.codes.insert(
            code.clone(),
            OAuthCode {
                client_id,
                redirect_uri: redirect_uri.clone(),
                challenge,
                login,
                scopes,
                expires: SystemTime::now() + Duration::from_secs(OAUTH_CODE_SECS),
            },
        );
        params.push(("code", &code));
        if let Some(s) = &state {
            params.push(("state", s));
        }
        redirect_reply(&with_query(&redirect_uri, &params))
    }

    fn oauth_access_token(&mut self, req: &Incoming) -> Reply {
        // Parameters may come as JSON, as a form, or in the query, as GitHub accepts.
        let mut params: HashMap<String, String> = req.params.iter().cloned().collect();
        let is_json = req
            .header("content-type")
            .is_some_and(|c| c.contains("application/json"));
        if is_json {
            match serde_json::from_slice::<Value>(&req.body) {
                Ok(Value::Object(o)) => {
                    for (k, v) in o {
                        if let Some(s) = v.as_str() {
                            params.insert(k, s.to_string());
                        }
                    }
                }
                _ => return Reply::error(400, "Problems parsing JSON", DOCS),
            }
        } else {
            params.extend(parse_query(&String::from_utf8_lossy(&req.body)));
        }
        let json = req
            .header("accept")
            .is_some_and(|a| a.contains("application/json"));
        let answer = |pairs: Vec<(&str, String)>| -> Reply {
            if json {
                let map: Map<String, Value> = pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v)))
                    .collect();
                Reply::json(200, &Value::Object(map))
            } else {
                let body = pairs
                    .iter()
                    .map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v)))
                    .collect::<Vec<_>>()
                    .join("&");
                Reply {
                    status: 200,
                    headers: vec![(
                        "content-type".into(),
                        "application/x-www-form-urlencoded; charset=utf-8".into(),
                    )],
                    body: body.into_bytes(),
                }
            }
        };
        let error = |code: &str, description: &str, anchor: &str| {
            answer(vec![
                ("error", code.to_string()),
                ("error_description", description.to_string()),
                (
                    "error_uri",
                    format!(
                        "/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#{anchor}"
                    ),
                ),
            ])
        };
        let p = |k: &str| params.get(k).cloned().unwrap_or_default();
        let credentials_ok = self
            .oauth
            .app
            .as_ref()
            .is_some_and(|(id, secret)| *id == p("client_id") && *secret == p("client_secret"));
        if !credentials_ok {
            return error(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
                "incorrect-client-credentials",
            );
        }
        let bad_code = || {
            error(
                "bad_verification_code",
                "The code passed is incorrect or expired.",
                "bad-verification-code",
            )
        };
        // Single use: a code is gone after its first exchange attempt, right or wrong.
        let Some(code) = self.oauth.codes.remove(&p("code")) else {
            return bad_code();
        };
        if code.expires <= SystemTime::now() || code.client_id != p("client_id") {
            return bad_code();
        }
        if params.contains_key("redirect_uri") && p("redirect_uri") != code.redirect_uri {
            return error(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
                "redirect-uri-mismatch2",
            );
        }
        if let Some(challenge) = &code.challenge {
            let verifier = p("code_verifier");
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !well_formed || s256_challenge(&verifier) != *challenge {
                return bad_code();
            }
        }
        let token = format!("gho_{}", random_hex(18));
        let access = self.oauth.access.unwrap_or(Access::Write);
        self.tokens.insert(
            token.clone(),
            TokenInfo {
                login: code.login.clone(),
                access,
                scopes: code.scopes.clone(),
            },
        );
        self.oauth.issued.push(IssuedToken {
            token: token.clone(),
            login: code.login,
            scopes: code.scopes.clone(),
        });
        let scope = code
            .scopes
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        answer(vec![
            ("access_token", token),
            ("token_type", "bearer".to_string()),
            ("scope", scope),
        ])
    }
}

fn redirect_reply(location: &str) -> Reply {
    Reply {
        status: 302,
        headers: vec![("location".into(), location.to_string())],
        body: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Webhook redeliveries (`nectr doctor --redeliver`)
// ---------------------------------------------------------------------------------------

impl FakeGitHub {
    /// Changes a stored webhook in place (make it inactive, change its events or config), as
    /// a user editing it in the repository's settings would. Panics if it does not exist.
    pub fn edit_hook_record(&self, repo: &str, hook_id: u64, edit: impl FnOnce(&mut HookRecord)) {
        let mut st = self.state();
        let hook = st
            .repo_entry(repo)
            .hooks
            .iter_mut()
            .find(|h| h.rec.id == hook_id)
            .unwrap_or_else(|| panic!("no hook {hook_id} in {repo}"));
        edit(&mut hook.rec);
        hook.updated = now_secs();
    }
}

impl State {
    /// `POST /repos/{o}/{r}/hooks/{id}/deliveries/{delivery_id}/attempts`: 202 with `{}` for
    /// a delivery of that hook, 404 otherwise. GitHub delivers again asynchronously; the fake
    /// delivers nothing, so tests assert on [`FakeGitHub::requests`].
    fn redeliver(&self, key: &str, hook_id: u64, delivery_id: u64) -> Reply {
        const DOC: &str = "https://docs.github.com/rest/repos/webhooks#redeliver-a-delivery-for-a-repository-webhook";
        let r = &self.repos[key];
        let known = r
            .hooks
            .iter()
            .find(|h| h.rec.id == hook_id)
            .is_some_and(|h| h.deliveries.iter().any(|d| d.id == delivery_id));
        if known {
            Reply::json(202, &json!({}))
        } else {
            not_found_doc(DOC)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests and replies
// ---------------------------------------------------------------------------------------

struct Incoming {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    params: Vec<(String, String)>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The decoded query parameter `name`.
    fn q(&self, name: &str) -> Option<String> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// The body as a JSON object, or GitHub's 400 "Problems parsing JSON".
    fn json_object(&self) -> Result<Map<String, Value>, Reply> {
        let problems = || Reply::error(400, "Problems parsing JSON", DOCS);
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err(problems()),
            Err(_) => Err(problems()),
        }
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Reply {
        Reply::raw_json(status, serde_json::to_vec(v).expect("json"))
    }

    fn raw_json(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: vec![
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                (
                    "x-github-media-type".into(),
                    "github.v3; format=json".into(),
                ),
            ],
            body,
        }
    }

    fn error(status: u16, message: &str, doc: &str) -> Reply {
        Reply::json(
            status,
            &json!({"message": message, "documentation_url": doc, "status": status.to_string()}),
        )
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn into_response(self) -> Response {
        let mut resp = Response::new(Body::from(self.body));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = resp.headers_mut();
        for (k, v) in self.headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                headers.append(k, v);
            }
        }
        resp
    }
}

fn not_found() -> Reply {
    not_found_doc(DOCS)
}

fn not_found_doc(doc: &str) -> Reply {
    Reply::error(404, "Not Found", doc)
}

/// GitHub's 422 for a request body that fails its schema: `Invalid request.\n\n…`.
fn invalid_request(detail: &str, doc: &str) -> Reply {
    Reply::error(422, &format!("Invalid request.\n\n{detail}"), doc)
}

fn too_large(message: &str) -> Reply {
    Reply::json(
        406,
        &json!({"message": message,
                "errors": [{"resource": "PullRequest", "field": "diff", "code": "too_large"}],
                "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request",
                "status": "406"}),
    )
}

fn body_too_long(resource: &str, field: &str, code: &str, doc: &str) -> Reply {
    let message = if resource == "IssueComment" {
        format!("Body is too long (maximum is {MAX_BODY_CHARS} characters)")
    } else {
        format!("body is too long (maximum is {MAX_BODY_CHARS} characters)")
    };
    Reply::json(
        422,
        &json!({"message": "Validation Failed",
                "errors": [{"resource": resource, "code": code, "field": field, "message": message}],
                "documentation_url": doc, "status": "422"}),
    )
}

async fn handle(shared: Arc<Shared>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 256 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let query = parts.uri.query().unwrap_or("").to_string();
    let inc = Incoming {
        method: parts.method.as_str().to_ascii_uppercase(),
        path: parts.uri.path().to_string(),
        params: parse_query(&query),
        query,
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    let (seq, fault) = {
        let mut st = shared.lock();
        st.recorded += 1;
        let seq = st.recorded;
        st.requests.push(RecordedRequest {
            seq,
            method: inc.method.clone(),
            path: inc.path.clone(),
            query: inc.query.clone(),
            headers: inc.headers.clone(),
            body: inc.body.clone(),
            status: 0,
        });
        (seq, st.take_fault(&inc))
    };
    let fault = match fault {
        Some(FaultKind::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            None
        }
        other => other,
    };
    let reply = {
        let mut st = shared.lock();
        let reply = st.process(&inc, fault);
        if let Some(r) = st.requests.iter_mut().rev().find(|r| r.seq == seq) {
            r.status = reply.status;
        }
        reply
    };
    reply.into_response()
}

fn parse_authorization(value: &str) -> Option<String> {
    let value = value.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    let strip = |s: &str| s.trim().trim_start_matches("W/").to_string();
    let want = strip(etag);
    if_none_match
        .split(',')
        .any(|t| t.trim() == "*" || strip(t) == want)
}

/// `(page, per_page)`: per_page defaults to 30 and is capped at 100, as on GitHub.
fn page_params(req: &Incoming) -> (usize, usize) {
    let per_page = req
        .q("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .map(|n| if n == 0 { 30 } else { n.min(100) })
        .unwrap_or(30);
    let page = req
        .q("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    (page, per_page)
}

/// GitHub's `Link` header: `prev`, `next`, `last`, `first`, in that order, each present
/// only where it applies, with the request's other query parameters kept in place.
fn link_header(base: &str, path: &str, query: &str, page: usize, last: usize) -> Option<String> {
    if last <= 1 && page <= 1 {
        return None;
    }
    let url = |p: usize| {
        let mut parts: Vec<String> = Vec::new();
        let mut placed = false;
        for part in query.split('&').filter(|s| !s.is_empty()) {
            let k = part.split('=').next().unwrap_or("");
            if k == "page" {
                if !placed {
                    parts.push(format!("page={p}"));
                    placed = true;
                }
            } else {
                parts.push(part.to_string());
            }
        }
        if !placed {
            parts.push(format!("page={p}"));
        }
        format!("<{base}{path}?{}>", parts.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    Some(links.join(", "))
}

// ---------------------------------------------------------------------------------------
// Review input and validation
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Left => "LEFT",
            Side::Right => "RIGHT",
        }
    }
}

struct ReviewInput {
    commit_id: Option<String>,
    body: String,
    event: String,
    comments: Vec<CommentInput>,
}

#[derive(Debug)]
struct CommentInput {
    path: String,
    body: String,
    line: Option<u64>,
    side: Option<Side>,
    start_line: Option<u64>,
    start_side: Option<Side>,
    position: Option<u64>,
    subject_type: Option<String>,
    in_reply_to: Option<u64>,
    commit_id: Option<String>,
}

/// Why a comment cannot be placed. Ordered as GitHub lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ThreadErr {
    PathInvalid,
    LineNotInDiff,
    StartNotSameHunk,
    StartNotBefore,
    HunkBlank,
}

impl ThreadErr {
    /// As in a review's `errors`: "Pull request review thread line must be part of the diff".
    fn review_message(self) -> &'static str {
        match self {
            ThreadErr::PathInvalid => "Pull request review thread path is invalid",
            ThreadErr::LineNotInDiff => "Pull request review thread line must be part of the diff",
            ThreadErr::StartNotSameHunk => {
                "Pull request review thread start line must be part of the same hunk as the line."
            }
            ThreadErr::StartNotBefore => {
                "Pull request review thread start line must precede the end line."
            }
            ThreadErr::HunkBlank => "Pull request review thread diff hunk can't be blank",
        }
    }

    /// As in a single comment's `errors`: `{resource, code, field, message}`.
    fn field_error(self) -> Value {
        let (field, rest) = match self {
            ThreadErr::PathInvalid => ("path", "is invalid"),
            ThreadErr::LineNotInDiff => ("line", "must be part of the diff"),
            ThreadErr::StartNotSameHunk => {
                ("start_line", "must be part of the same hunk as the line.")
            }
            ThreadErr::StartNotBefore => ("start_line", "must precede the end line."),
            ThreadErr::HunkBlank => ("diff_hunk", "can't be blank"),
        };
        let field = format!("pull_request_review_thread.{field}");
        json!({"resource": "PullRequestReviewComment", "code": "custom",
               "field": field, "message": format!("{field} {rest}")})
    }
}

struct Anchor {
    path: String,
    line: u64,
    side: Side,
    start: Option<(u64, Side)>,
    position: u64,
    diff_hunk: String,
}

impl Anchor {
    fn into_record(
        self,
        id: u64,
        user: &str,
        body: &str,
        commit: &str,
        review: Option<u64>,
    ) -> CommentRecord {
        CommentRecord {
            id,
            user: user.to_string(),
            body: body.to_string(),
            path: Some(self.path),
            line: Some(self.line),
            side: Some(self.side.as_str().to_string()),
            start_line: self.start.map(|s| s.0),
            start_side: self.start.map(|s| s.1.as_str().to_string()),
            commit_id: Some(commit.to_string()),
            review_id: review,
            in_reply_to_id: None,
            position: Some(self.position),
            subject_type: Some("line".into()),
        }
    }
}

/// Places a comment on the diff, or says why it cannot be: the end line must be on a
/// commentable line of `side` (RIGHT: added or context; LEFT: removed or context), and a
/// start line on a commentable line of `start_side` in the same hunk, before the end.
fn resolve_anchor(files: &[DiffFile], c: &CommentInput) -> Result<Anchor, BTreeSet<ThreadErr>> {
    let mut errs = BTreeSet::new();
    let Some(file) = files.iter().find(|f| f.filename == c.path) else {
        errs.insert(ThreadErr::PathInvalid);
        errs.insert(ThreadErr::HunkBlank);
        return Err(errs);
    };
    let end = match (c.line, c.position) {
        (Some(line), _) => {
            let side = c.side.unwrap_or(Side::Right);
            file.find(line, side).map(|i| (i, line, side))
        }
        (None, Some(pos)) => file.at_position(pos).map(|i| {
            let (line, side) = file.line_of(i);
            (i, line, side)
        }),
        (None, None) => None,
    };
    let Some((end_idx, line, side)) = end else {
        errs.insert(ThreadErr::LineNotInDiff);
        if c.start_line.is_some() {
            errs.insert(ThreadErr::StartNotSameHunk);
        }
        errs.insert(ThreadErr::HunkBlank);
        return Err(errs);
    };
    let mut start = None;
    if let Some(start_line) = c.start_line {
        let start_side = c.start_side.unwrap_or(side);
        match file.find(start_line, start_side) {
            Some(si) if file.lines[si].hunk == file.lines[end_idx].hunk => {
                if si < end_idx {
                    start = Some((start_line, start_side));
                } else {
                    errs.insert(ThreadErr::StartNotBefore);
                }
            }
            _ => {
                errs.insert(ThreadErr::StartNotSameHunk);
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Anchor {
        path: file.filename.clone(),
        line,
        side,
        start,
        position: end_idx as u64,
        diff_hunk: file.diff_hunk(end_idx),
    })
}

fn json_type_name(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        other => other.to_string(),
    }
}

fn opt_u64(o: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            format!(
                "For 'properties/{key}', {} is not an integer.",
                json_type_name(v)
            )
        }),
    }
}

fn opt_side(o: &Map<String, Value>, key: &str) -> Result<Option<Side>, String> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "LEFT" => Ok(Some(Side::Left)),
        Some(Value::String(s)) if s == "RIGHT" => Ok(Some(Side::Right)),
        Some(v) => Err(format!(
            "For 'properties/{key}', {v} is not a member of enum."
        )),
    }
}

fn opt_string(o: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(format!(
            "For 'properties/{key}', {} is not a string.",
            json_type_name(v)
        )),
    }
}

fn required_string(o: &Map<String, Value>, key: &str) -> Result<String, String> {
    opt_string(o, key)?.ok_or_else(|| format!("\"{key}\" wasn't supplied."))
}

fn parse_comment_input(v: &Value, standalone: bool) -> Result<CommentInput, String> {
    let Value::Object(o) = v else {
        return Err(format!("For 'items', {v} is not an object."));
    };
    let in_reply_to = opt_u64(o, "in_reply_to")?;
    let path = if standalone && in_reply_to.is_some() {
        opt_string(o, "path")?.unwrap_or_default()
    } else {
        required_string(o, "path")?
    };
    let subject_type = match o.get("subject_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s == "line" || s == "file" => Some(s.clone()),
        Some(v) => {
            return Err(format!(
                "For 'properties/subject_type', {v} is not a member of enum."
            ));
        }
    };
    Ok(CommentInput {
        body: required_string(o, "body")?,
        path,
        line: opt_u64(o, "line")?,
        side: opt_side(o, "side")?,
        start_line: opt_u64(o, "start_line")?,
        start_side: opt_side(o, "start_side")?,
        position: opt_u64(o, "position")?,
        subject_type,
        in_reply_to,
        commit_id: if standalone {
            opt_string(o, "commit_id")?
        } else {
            None
        },
    })
}

fn parse_review_input(o: &Map<String, Value>) -> Result<ReviewInput, String> {
    let event = match o.get("event") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s))
            if ["", "APPROVE", "REQUEST_CHANGES", "COMMENT"].contains(&s.as_str()) =>
        {
            s.clone()
        }
        Some(v) => {
            return Err(format!(
                "For 'properties/event', {v} is not a member of enum."
            ));
        }
    };
    let comments = match o.get("comments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|c| parse_comment_input(c, false))
            .collect::<Result<Vec<_>, _>>()?,
        Some(v) => return Err(format!("For 'properties/comments', {v} is not an array.")),
    };
    Ok(ReviewInput {
        commit_id: opt_string(o, "commit_id")?,
        body: opt_string(o, "body")?.unwrap_or_default(),
        event,
        comments,
    })
}

/// Rails' `to_sentence`: "a", "a and b", "a, b, and c".
fn to_sentence(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [a] => a.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

// ---------------------------------------------------------------------------------------
// The diff parser (independent of Nectr's)
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineKind {
    Header,
    Context,
    Add,
    Del,
    NoNewline,
}

#[derive(Clone, Debug)]
struct PatchLine {
    text: String,
    kind: LineKind,
    /// Old-file line number (Context, Del).
    old: u64,
    /// New-file line number (Context, Add).
    new: u64,
    /// Index of the hunk this line belongs to.
    hunk: usize,
}

#[derive(Clone, Debug)]
struct DiffFile {
    filename: String,
    previous_filename: Option<String>,
    status: &'static str,
    additions: u64,
    deletions: u64,
    binary: bool,
    /// The patch, line by line; index 0 is the first `@@` header, so a line's index is
    /// its `position`.
    lines: Vec<PatchLine>,
}

impl DiffFile {
    fn patch(&self) -> Option<String> {
        if self.binary || self.lines.is_empty() {
            return None;
        }
        Some(
            self.lines
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    }

    /// The index of line `line` on `side`, if it is commentable there.
    fn find(&self, line: u64, side: Side) -> Option<usize> {
        self.lines.iter().position(|l| match side {
            Side::Right => matches!(l.kind, LineKind::Context | LineKind::Add) && l.new == line,
            Side::Left => matches!(l.kind, LineKind::Context | LineKind::Del) && l.old == line,
        })
    }

    fn at_position(&self, pos: u64) -> Option<usize> {
        let i = usize::try_from(pos).ok()?;
        self.lines
            .get(i)
            .filter(|l| matches!(l.kind, LineKind::Context | LineKind::Add | LineKind::Del))
            .map(|_| i)
    }

    fn line_of(&self, i: usize) -> (u64, Side) {
        let l = &self.lines[i];
        match l.kind {
            LineKind::Del => (l.old, Side::Left),
            _ => (l.new, Side::Right),
        }
    }

    fn diff_hunk(&self, end: usize) -> String {
        let start = (0..=end)
            .rev()
            .find(|&i| self.lines[i].kind == LineKind::Header)
            .unwrap_or(0);
        self.lines[start..=end]
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Default)]
struct FileBuilder {
    git_old: Option<String>,
    git_new: Option<String>,
    minus: Option<Option<String>>,
    plus: Option<Option<String>>,
    rename_from: Option<String>,
    rename_to: Option<String>,
    copy_from: Option<String>,
    copy_to: Option<String>,
    new_file: bool,
    deleted: bool,
    mode_change: bool,
    binary: bool,
    lines: Vec<PatchLine>,
    hunks: usize,
}

impl FileBuilder {
    fn finish(self) -> DiffFile {
        let old = self
            .rename_from
            .clone()
            .or(self.copy_from.clone())
            .or(self.minus.clone().flatten())
            .or(self.git_old.clone())
            .unwrap_or_default();
        let new = self
            .rename_to
            .clone()
            .or(self.copy_to.clone())
            .or(self.plus.clone().flatten())
            .or(self.git_new.clone())
            .unwrap_or_else(|| old.clone());
        let status = if self.new_file {
            "added"
        } else if self.deleted {
            "removed"
        } else if self.rename_from.is_some() {
            "renamed"
        } else if self.copy_from.is_some() {
            "copied"
        } else if self.lines.is_empty() && self.mode_change && !self.binary {
            "changed"
        } else {
            "modified"
        };
        let additions = self
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Add)
            .count() as u64;
        let deletions = self
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::Del)
            .count() as u64;
        DiffFile {
            filename: if self.deleted { old.clone() } else { new },
            previous_filename: matches!(status, "renamed" | "copied").then_some(old),
            status,
            additions,
            deletions,
            binary: self.binary,
            lines: self.lines,
        }
    }
}

/// Splits a GitHub `.diff` into files.
/// A git-style unified diff (3 lines of context, by `diffy`) between two trees.
fn diff_trees(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> String {
    let hunks = |a: &str, b: &str| {
        let printed = diffy::create_patch(a, b).to_string();
        printed
            .split_once("+++ modified\n")
            .map(|(_, h)| h.to_owned())
            .unwrap_or_default()
    };
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = String::new();
    for path in paths {
        let (a, b) = (old.get(path), new.get(path));
        if a == b {
            continue;
        }
        out.push_str(&format!("diff --git a/{path} b/{path}\n"));
        match (a, b) {
            (None, Some(b)) => out.push_str(&format!(
                "new file mode 100644\n--- /dev/null\n+++ b/{path}\n{}",
                hunks("", b)
            )),
            (Some(a), None) => out.push_str(&format!(
                "deleted file mode 100644\n--- a/{path}\n+++ /dev/null\n{}",
                hunks(a, "")
            )),
            (Some(a), Some(b)) => {
                out.push_str(&format!("--- a/{path}\n+++ b/{path}\n{}", hunks(a, b)))
            }
            (None, None) => {}
        }
    }
    out
}

fn parse_diff(diff: &str) -> Vec<DiffFile> {
    let mut files = Vec::new();
    let mut cur: Option<FileBuilder> = None;
    let (mut old_left, mut new_left) = (0u64, 0u64);
    let (mut old_no, mut new_no) = (0u64, 0u64);
    let mut lines: Vec<&str> = diff.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    for line in lines {
        if let Some(f) = cur.as_mut()
            && (old_left > 0 || new_left > 0)
        {
            let hunk = f.hunks - 1;
            let mut push = |kind, old, new| {
                f.lines.push(PatchLine {
                    text: line.to_string(),
                    kind,
                    old,
                    new,
                    hunk,
                })
            };
            match line.as_bytes().first() {
                None | Some(b' ') => {
                    push(LineKind::Context, old_no, new_no);
                    old_no += 1;
                    new_no += 1;
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                    continue;
                }
                Some(b'+') => {
                    push(LineKind::Add, 0, new_no);
                    new_no += 1;
                    new_left = new_left.saturating_sub(1);
                    continue;
                }
                Some(b'-') => {
                    push(LineKind::Del, old_no, 0);
                    old_no += 1;
                    old_left = old_left.saturating_sub(1);
                    continue;
                }
                Some(b'\\') => {
                    push(LineKind::NoNewline, 0, 0);
                    continue;
                }
                _ => {
                    // A malformed hunk: it ends here.
                    old_left = 0;
                    new_left = 0;
                }
            }
        }
        if let Some(rest) = line.strip_prefix("diff --git ") {
            if let Some(f) = cur.take() {
                files.push(f.finish());
            }
            let (a, b) = split_git_header(rest);
            cur = Some(FileBuilder {
                git_old: a,
                git_new: b,
                ..FileBuilder::default()
            });
            continue;
        }
        let Some(f) = cur.as_mut() else { continue };
        if line.starts_with("@@ ") {
            if let Some((o, oc, n, nc)) = parse_hunk_header(line) {
                f.hunks += 1;
                f.lines.push(PatchLine {
                    text: line.to_string(),
                    kind: LineKind::Header,
                    old: 0,
                    new: 0,
                    hunk: f.hunks - 1,
                });
                old_no = o;
                new_no = n;
                old_left = oc;
                new_left = nc;
            }
            continue;
        }
        if line.starts_with('\\') && f.hunks > 0 {
            let hunk = f.hunks - 1;
            f.lines.push(PatchLine {
                text: line.to_string(),
                kind: LineKind::NoNewline,
                old: 0,
                new: 0,
                hunk,
            });
            continue;
        }
        if f.hunks > 0 {
            continue;
        }
        if line.starts_with("new file mode ") {
            f.new_file = true;
        } else if line.starts_with("deleted file mode ") {
            f.deleted = true;
        } else if line.starts_with("old mode ") || line.starts_with("new mode ") {
            f.mode_change = true;
        } else if let Some(p) = line.strip_prefix("rename from ") {
            f.rename_from = Some(unquote(p));
        } else if let Some(p) = line.strip_prefix("rename to ") {
            f.rename_to = Some(unquote(p));
        } else if let Some(p) = line.strip_prefix("copy from ") {
            f.copy_from = Some(unquote(p));
        } else if let Some(p) = line.strip_prefix("copy to ") {
            f.copy_to = Some(unquote(p));
        } else if let Some(p) = line.strip_prefix("--- ") {
            f.minus = Some(diff_path(p, "a/"));
        } else if let Some(p) = line.strip_prefix("+++ ") {
            f.plus = Some(diff_path(p, "b/"));
        } else if line.starts_with("Binary files ") || line == "GIT binary patch" {
            f.binary = true;
        }
    }
    if let Some(f) = cur.take() {
        files.push(f.finish());
    }
    files
}

/// `@@ -a[,b] +c[,d] @@ …` -> (a, b, c, d).
fn parse_hunk_header(line: &str) -> Option<(u64, u64, u64, u64)> {
    let inner = line.strip_prefix("@@ ")?;
    let end = inner.find(" @@")?;
    let mut parts = inner[..end].split(' ');
    let range = |s: &str, sign: char| -> Option<(u64, u64)> {
        let s = s.strip_prefix(sign)?;
        match s.split_once(',') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => Some((s.parse().ok()?, 1)),
        }
    };
    let (o, oc) = range(parts.next()?, '-')?;
    let (n, nc) = range(parts.next()?, '+')?;
    Some((o, oc, n, nc))
}

/// A `---`/`+++` path: `None` for /dev/null, else without its `a/` or `b/` prefix.
fn diff_path(raw: &str, prefix: &str) -> Option<String> {
    let raw = if raw.starts_with('"') {
        raw.to_string()
    } else {
        raw.split('\t').next().unwrap_or(raw).to_string()
    };
    let p = unquote(&raw);
    if p == "/dev/null" {
        return None;
    }
    Some(p.strip_prefix(prefix).map(str::to_string).unwrap_or(p))
}

/// `a/X b/Y` (each possibly quoted) from a `diff --git` line.
fn split_git_header(rest: &str) -> (Option<String>, Option<String>) {
    let strip = |s: String, prefix: &str| s.strip_prefix(prefix).map(str::to_string).unwrap_or(s);
    if rest.starts_with('"')
        && let Some(end) = closing_quote(rest)
    {
        let a = unquote(&rest[..=end]);
        let b = unquote(rest[end + 1..].trim_start());
        return (Some(strip(a, "a/")), Some(strip(b, "b/")));
    }
    if rest.ends_with('"')
        && let Some(start) = rest.rfind(" \"")
    {
        let a = rest[..start].to_string();
        let b = unquote(&rest[start + 1..]);
        return (Some(strip(a, "a/")), Some(strip(b, "b/")));
    }
    // Same name on both sides: "a/P b/P".
    let n = rest.len();
    if n >= 5 && n % 2 == 1 {
        let l = (n - 5) / 2;
        if rest.is_char_boundary(2 + l)
            && rest.is_char_boundary(5 + l)
            && rest.starts_with("a/")
            && &rest[2 + l..5 + l] == " b/"
            && rest[2..2 + l] == rest[5 + l..]
        {
            let p = rest[2..2 + l].to_string();
            return (Some(p.clone()), Some(p));
        }
    }
    match rest.find(" b/") {
        Some(i) => (
            Some(strip(rest[..i].to_string(), "a/")),
            Some(rest[i + 3..].to_string()),
        ),
        None => (None, None),
    }
}

fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Git's C-style quoting ("a/t\303\251st\tx") undone; unquoted input is returned as is.
fn unquote(s: &str) -> String {
    let s = s.trim_end_matches('\r');
    if !(s.len() >= 2 && s.starts_with('"') && s.ends_with('"')) {
        return s.to_string();
    }
    let inner = &s.as_bytes()[1..s.len() - 1];
    let mut out = Vec::new();
    let mut i = 0;
    while i < inner.len() {
        if inner[i] != b'\\' || i + 1 >= inner.len() {
            out.push(inner[i]);
            i += 1;
            continue;
        }
        let c = inner[i + 1];
        i += 2;
        match c {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut k = 0;
                while k < 2 && i < inner.len() && (b'0'..=b'7').contains(&inner[i]) {
                    v = v * 8 + u32::from(inner[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lines in `text` as GitHub counts them for the diff limit.
fn count_lines(text: &str) -> usize {
    let n = text.bytes().filter(|&b| b == b'\n').count();
    if text.is_empty() || text.ends_with('\n') {
        n
    } else {
        n + 1
    }
}

// ---------------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------------

struct RepoView<'a> {
    id: u64,
    full_name: &'a str,
    private: bool,
    default_branch: &'a str,
    fork: bool,
    created: i64,
}

fn node_id(prefix: &str, id: u64) -> String {
    let raw = format!("{prefix}:{id}");
    format!("{prefix}_{}", base64(raw.as_bytes()).trim_end_matches('='))
}

fn user_json(base: &str, login: &str) -> Value {
    let id = stable_id(login);
    let bot = login.ends_with("[bot]");
    let enc = pct_encode(login);
    let api = format!("{base}/users/{enc}");
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(if bot { "BOT" } else { "U" }, id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{base}/{enc}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": if bot { "Bot" } else { "User" },
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn user_full_json(base: &str, login: &str) -> Value {
    let mut v = user_json(base, login);
    let extra = json!({
        "name": null, "company": null, "blog": "", "location": null, "email": null,
        "hireable": null, "bio": null, "twitter_username": null, "public_repos": 1,
        "public_gists": 0, "followers": 0, "following": 0,
        "created_at": iso8601(SEED_EPOCH - 86_400 * 365),
        "updated_at": iso8601(SEED_EPOCH),
    });
    if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
        o.extend(e);
    }
    v
}

fn repo_json(base: &str, r: &RepoView) -> Value {
    let full = r.full_name;
    let (owner, name) = full.split_once('/').unwrap_or((full, ""));
    let api = format!("{base}/repos/{full}");
    json!({
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": name,
        "full_name": full,
        "private": r.private,
        "owner": user_json(base, owner),
        "html_url": format!("{base}/{full}"),
        "description": null,
        "fork": r.fork,
        "url": api,
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "hooks_url": format!("{api}/hooks"),
        "languages_url": format!("{api}/languages"),
        "contributors_url": format!("{api}/contributors"),
        "git_url": format!("git://127.0.0.1/{full}.git"),
        "clone_url": format!("{base}/{full}.git"),
        "created_at": iso8601(r.created),
        "updated_at": iso8601(r.created),
        "pushed_at": iso8601(r.created),
        "size": 0,
        "language": null,
        "archived": false,
        "disabled": false,
        "visibility": if r.private { "private" } else { "public" },
        "default_branch": r.default_branch,
        "open_issues_count": 0,
        "topics": [],
    })
}

fn pull_state(p: &PullSpec) -> &'static str {
    if p.merged || p.state == "closed" {
        "closed"
    } else {
        "open"
    }
}

fn head_owner(r: &Repo, p: &PullSpec) -> String {
    match (&p.head_repo, p.head_repo_deleted) {
        (_, true) => p.user.clone(),
        (Some(fork), false) => fork.split('/').next().unwrap_or("").to_string(),
        (None, false) => r.owner().to_string(),
    }
}

fn labels_json(base: &str, r: &Repo, labels: &[String]) -> Value {
    Value::Array(
        labels
            .iter()
            .map(|l| {
                let id = stable_id(&format!("{}#{l}", r.full_name));
                json!({"id": id, "node_id": node_id("LA", id),
                       "url": format!("{base}/repos/{}/labels/{}", r.full_name, pct_encode(l)),
                       "name": l, "color": "ededed", "default": false, "description": null})
            })
            .collect(),
    )
}

fn pull_json(base: &str, r: &Repo, p: &Pull, full: bool) -> Value {
    let s = &p.spec;
    let n = s.number;
    let repo = &r.full_name;
    let api = format!("{base}/repos/{repo}/pulls/{n}");
    let html = format!("{base}/{repo}/pull/{n}");
    let created = iso8601(p.created);
    let closed = (pull_state(s) == "closed").then(|| iso8601(p.created + 3600));
    let merged_at = s.merged.then(|| iso8601(p.created + 3600));
    let head_owner = head_owner(r, s);
    let head_repo = match (&s.head_repo, s.head_repo_deleted) {
        (_, true) => Value::Null,
        (Some(fork), false) => repo_json(
            base,
            &RepoView {
                id: stable_id(fork),
                full_name: fork,
                private: false,
                default_branch: "main",
                fork: true,
                created: p.created,
            },
        ),
        (None, false) => repo_json(base, &r.view()),
    };
    // Split into several json! calls: one big one exceeds the macro recursion limit.
    let head = json!({
        "label": format!("{head_owner}:{}", s.head_ref),
        "ref": s.head_ref,
        "sha": s.head_sha,
        "user": user_json(base, &head_owner),
        "repo": head_repo,
    });
    let base_json = json!({
        "label": format!("{}:{}", r.owner(), s.base_ref),
        "ref": s.base_ref,
        "sha": s.base_sha,
        "user": user_json(base, r.owner()),
        "repo": repo_json(base, &r.view()),
    });
    let links = json!({
        "self": {"href": api},
        "html": {"href": html},
        "issue": {"href": format!("{base}/repos/{repo}/issues/{n}")},
        "comments": {"href": format!("{base}/repos/{repo}/issues/{n}/comments")},
        "review_comments": {"href": format!("{api}/comments")},
        "review_comment": {"href": format!("{base}/repos/{repo}/pulls/comments{{/number}}")},
        "commits": {"href": format!("{api}/commits")},
        "statuses": {"href": format!("{base}/repos/{repo}/statuses/{}", s.head_sha)},
    });
    let id = stable_id(&format!("{repo}#{n}"));
    let mut v = json!({
        "url": api,
        "id": id,
        "node_id": node_id("PR", id),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{base}/repos/{repo}/issues/{n}"),
        "number": n,
        "state": pull_state(s),
        "locked": false,
        "title": s.title,
        "user": user_json(base, &s.user),
        "body": s.body,
        "labels": labels_json(base, r, &s.labels),
        "milestone": null,
        "active_lock_reason": null,
        "created_at": created,
        "updated_at": created,
        "closed_at": closed,
        "merged_at": merged_at,
        "merge_commit_sha": s.merged.then(|| sha1_hex(format!("merge {repo}#{n}").as_bytes())),
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "draft": s.draft,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{base}/repos/{repo}/pulls/comments{{/number}}"),
        "comments_url": format!("{base}/repos/{repo}/issues/{n}/comments"),
        "statuses_url": format!("{base}/repos/{repo}/statuses/{}", s.head_sha),
        "head": head,
        "base": base_json,
        "_links": links,
        "author_association": r.association(&s.user),
        "auto_merge": null,
    });
    if full {
        let extra = json!({
            "merged": s.merged,
            "mergeable": if pull_state(s) == "open" { json!(true) } else { Value::Null },
            "rebaseable": if pull_state(s) == "open" { json!(true) } else { Value::Null },
            "mergeable_state": if pull_state(s) == "open" { "clean" } else { "unknown" },
            "merged_by": if s.merged { user_json(base, r.owner()) } else { Value::Null },
            "comments": r.issue_comment_count(n),
            "review_comments": r.review_comments.iter()
                .filter(|c| c.number == n && r.review_state(c.rec.review_id) != Some("PENDING"))
                .count(),
            "maintainer_can_modify": false,
            "commits": p.commits.len(),
            "additions": p.files.iter().map(|f| f.additions).sum::<u64>(),
            "deletions": p.files.iter().map(|f| f.deletions).sum::<u64>(),
            "changed_files": p.files.len(),
        });
        if let (Value::Object(o), Value::Object(e)) = (&mut v, extra) {
            o.extend(e);
        }
    }
    v
}

fn file_json(base: &str, r: &Repo, p: &Pull, f: &DiffFile) -> Value {
    let repo = &r.full_name;
    let head = &p.spec.head_sha;
    let enc = pct_encode_path(&f.filename);
    let mut v = json!({
        "sha": sha1_hex(format!("{head}:{}", f.filename).as_bytes()),
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": format!("{base}/{repo}/blob/{head}/{enc}"),
        "raw_url": format!("{base}/{repo}/raw/{head}/{enc}"),
        "contents_url": format!("{base}/repos/{repo}/contents/{enc}?ref={head}"),
    });
    if let Some(patch) = f.patch() {
        v["patch"] = json!(patch);
    }
    if let Some(prev) = &f.previous_filename {
        v["previous_filename"] = json!(prev);
    }
    v
}

/// What the issues API shows of an issue or a pull request.
#[derive(Clone, Copy)]
struct IssueView<'a> {
    number: u64,
    title: &'a str,
    body: &'a Option<String>,
    user: &'a str,
    state: &'a str,
    labels: &'a [String],
    created: i64,
    is_pull: bool,
}

fn issue_common_json(base: &str, r: &Repo, i: &IssueView) -> Value {
    let IssueView {
        number,
        title,
        body,
        user,
        state,
        labels,
        created,
        is_pull,
    } = *i;
    let repo = &r.full_name;
    let api = format!("{base}/repos/{repo}/issues/{number}");
    let id = stable_id(&format!("{repo}!{number}"));
    json!({
        "url": api,
        "repository_url": format!("{base}/repos/{repo}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{base}/{repo}/{}/{number}", if is_pull { "pull" } else { "issues" }),
        "id": id,
        "node_id": node_id(if is_pull { "PR" } else { "I" }, id),
        "number": number,
        "title": title,
        "user": user_json(base, user),
        "labels": labels_json(base, r, labels),
        "state": state,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": r.issue_comment_count(number),
        "created_at": iso8601(created),
        "updated_at": iso8601(created),
        "closed_at": if state == "closed" { json!(iso8601(created + 3600)) } else { Value::Null },
        "author_association": r.association(user),
        "active_lock_reason": null,
        "body": body,
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": if state == "closed" { json!("completed") } else { Value::Null },
    })
}

fn issue_json(base: &str, r: &Repo, i: &Issue) -> Value {
    let s = &i.spec;
    let state = if s.state == "closed" {
        "closed"
    } else {
        "open"
    };
    let view = IssueView {
        number: s.number,
        title: &s.title,
        body: &s.body,
        user: &s.user,
        state,
        labels: &s.labels,
        created: i.created,
        is_pull: false,
    };
    issue_common_json(base, r, &view)
}

/// A pull request as the issues API shows it: an issue with a `pull_request` key.
fn pull_issue_json(base: &str, r: &Repo, p: &Pull) -> Value {
    let s = &p.spec;
    let view = IssueView {
        number: s.number,
        title: &s.title,
        body: &s.body,
        user: &s.user,
        state: pull_state(s),
        labels: &s.labels,
        created: p.created,
        is_pull: true,
    };
    let mut v = issue_common_json(base, r, &view);
    let html = format!("{base}/{}/pull/{}", r.full_name, s.number);
    v["draft"] = json!(s.draft);
    v["pull_request"] = json!({
        "url": format!("{base}/repos/{}/pulls/{}", r.full_name, s.number),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "merged_at": s.merged.then(|| iso8601(p.created + 3600)),
    });
    v
}

fn review_json(base: &str, r: &Repo, rv: &StoredReview) -> Value {
    let repo = &r.full_name;
    let n = rv.number;
    let html = format!("{base}/{repo}/pull/{n}#pullrequestreview-{}", rv.rec.id);
    let pr_api = format!("{base}/repos/{repo}/pulls/{n}");
    let mut v = json!({
        "id": rv.rec.id,
        "node_id": node_id("PRR", rv.rec.id),
        "user": user_json(base, &rv.rec.user),
        "body": rv.rec.body,
        "state": rv.rec.state,
        "html_url": html,
        "pull_request_url": pr_api,
        "author_association": r.association(&rv.rec.user),
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_api}},
        "commit_id": rv.rec.commit_id,
    });
    if let Some(t) = rv.submitted {
        v["submitted_at"] = json!(iso8601(t));
    }
    v
}

fn review_comment_json(base: &str, r: &Repo, c: &StoredComment) -> Value {
    let repo = &r.full_name;
    let n = c.number;
    let id = c.rec.id;
    let api = format!("{base}/repos/{repo}/pulls/comments/{id}");
    let html = format!("{base}/{repo}/pull/{n}#discussion_r{id}");
    let pr_api = format!("{base}/repos/{repo}/pulls/{n}");
    let mut v = json!({
        "url": api,
        "pull_request_review_id": c.rec.review_id,
        "id": id,
        "node_id": node_id("PRRC", id),
        "diff_hunk": c.diff_hunk,
        "path": c.rec.path,
        "position": c.rec.position,
        "original_position": c.rec.position,
        "commit_id": c.rec.commit_id,
        "original_commit_id": c.rec.commit_id,
        "user": user_json(base, &c.rec.user),
        "body": c.rec.body,
        "created_at": iso8601(c.created),
        "updated_at": iso8601(c.updated),
        "html_url": html,
        "pull_request_url": pr_api,
        "author_association": r.association(&c.rec.user),
        "_links": {"self": {"href": api}, "html": {"href": html},
                   "pull_request": {"href": pr_api}},
        "start_line": c.rec.start_line,
        "original_start_line": c.rec.start_line,
        "start_side": c.rec.start_side,
        "line": c.rec.line,
        "original_line": c.rec.line,
        "side": c.rec.side,
        "subject_type": c.rec.subject_type,
        "reactions": reactions_json(&api, &c.reactions),
    });
    if let Some(parent) = c.rec.in_reply_to_id {
        v["in_reply_to_id"] = json!(parent);
    }
    v
}

/// A comment's `reactions` rollup as GitHub shows it.
fn reactions_json(comment_api: &str, counts: &BTreeMap<String, u64>) -> Value {
    let mut out = Map::new();
    out.insert("url".into(), json!(format!("{comment_api}/reactions")));
    out.insert("total_count".into(), json!(counts.values().sum::<u64>()));
    for name in REACTIONS {
        out.insert(name.into(), json!(counts.get(name).copied().unwrap_or(0)));
    }
    Value::Object(out)
}

fn issue_comment_record(id: u64, user: &str, body: &str) -> CommentRecord {
    CommentRecord {
        id,
        user: user.to_string(),
        body: body.to_string(),
        path: None,
        line: None,
        side: None,
        start_line: None,
        start_side: None,
        commit_id: None,
        review_id: None,
        in_reply_to_id: None,
        position: None,
        subject_type: None,
    }
}

fn issue_comment_json(base: &str, r: &Repo, c: &StoredComment) -> Value {
    let repo = &r.full_name;
    let n = c.number;
    let kind = if r.pulls.contains_key(&n) {
        "pull"
    } else {
        "issues"
    };
    json!({
        "url": format!("{base}/repos/{repo}/issues/comments/{}", c.rec.id),
        "html_url": format!("{base}/{repo}/{kind}/{n}#issuecomment-{}", c.rec.id),
        "issue_url": format!("{base}/repos/{repo}/issues/{n}"),
        "id": c.rec.id,
        "node_id": node_id("IC", c.rec.id),
        "user": user_json(base, &c.rec.user),
        "created_at": iso8601(c.created),
        "updated_at": iso8601(c.updated),
        "author_association": r.association(&c.rec.user),
        "body": c.rec.body,
        "performed_via_github_app": null,
    })
}

fn hook_json(base: &str, r: &Repo, h: &StoredHook) -> Value {
    let api = format!("{base}/repos/{}/hooks/{}", r.full_name, h.rec.id);
    let mut config = h.rec.config.clone();
    if let Some(secret) = config.get_mut("secret") {
        *secret = json!("********");
    }
    let last = h.deliveries.iter().max_by_key(|d| d.id);
    let last_response = match last {
        Some(d) => json!({"code": d.status_code, "status": "active",
                          "message": delivery_status(d.status_code)}),
        None => json!({"code": null, "status": "unused", "message": null}),
    };
    json!({
        "type": "Repository",
        "id": h.rec.id,
        "name": h.rec.name,
        "active": h.rec.active,
        "events": h.rec.events,
        "config": config,
        "updated_at": iso8601(h.updated),
        "created_at": iso8601(h.created),
        "url": api,
        "test_url": format!("{api}/test"),
        "ping_url": format!("{api}/pings"),
        "deliveries_url": format!("{api}/deliveries"),
        "last_response": last_response,
    })
}

fn delivery_status(code: u16) -> String {
    match code {
        0 => "failed to connect to host".into(),
        200..=299 => "OK".into(),
        c => format!("Invalid HTTP Response: {c}"),
    }
}

fn delivery_json(r: &Repo, d: &Delivery) -> Value {
    let h = sha1_hex(format!("delivery {}", d.id).as_bytes());
    json!({
        "id": d.id,
        "guid": format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]),
        "delivered_at": iso8601(d.at),
        "redelivery": false,
        "duration": 0.27,
        "status": delivery_status(d.status_code),
        "status_code": d.status_code,
        "event": d.event,
        "action": null,
        "installation_id": null,
        "repository_id": r.id,
        "throttled_at": null,
    })
}

fn content_entry_json(
    base: &str,
    r: &Repo,
    git_ref: &str,
    path: &str,
    kind: &str,
    content: &[u8],
) -> Value {
    let repo = &r.full_name;
    let enc = pct_encode_path(path);
    let sha = if kind == "file" {
        git_blob_sha(content)
    } else {
        sha1_hex(format!("tree {git_ref}:{path}").as_bytes())
    };
    let url = format!(
        "{base}/repos/{repo}/contents/{enc}?ref={}",
        pct_encode(git_ref)
    );
    let git_url = format!(
        "{base}/repos/{repo}/git/{}/{sha}",
        if kind == "file" { "blobs" } else { "trees" }
    );
    let html_url = format!(
        "{base}/{repo}/{}/{git_ref}/{enc}",
        if kind == "file" { "blob" } else { "tree" }
    );
    json!({
        "type": kind,
        "size": if kind == "file" { content.len() } else { 0 },
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": sha,
        "url": url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": if kind == "file" {
            json!(format!("{base}/{repo}/raw/{git_ref}/{enc}"))
        } else {
            Value::Null
        },
        "_links": {"self": url, "git": git_url, "html": html_url},
    })
}

// ---------------------------------------------------------------------------------------
// Small utilities: SHA-1, base64, dates, percent-encoding
// ---------------------------------------------------------------------------------------

/// A stable id for a name (FNV-1a), in GitHub's range of 8-digit ids.
fn stable_id(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.to_ascii_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    10_000_000 + h % 90_000_000
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in chunk.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hv, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hv = hv.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

pub fn sha1_hex(data: &[u8]) -> String {
    sha1(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Git's blob id for `content`: SHA-1 of `blob <len>\0<content>`.
pub fn git_blob_sha(content: &[u8]) -> String {
    let mut data = format!("blob {}\0", content.len()).into_bytes();
    data.extend_from_slice(content);
    sha1_hex(&data)
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Base64 as the contents API writes it (Ruby's `encode64`): a `\n` after every 60
/// characters and at the end.
pub fn base64_wrapped(data: &[u8]) -> String {
    let flat = base64(data);
    let mut out = String::with_capacity(flat.len() + flat.len() / 60 + 1);
    for chunk in flat.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).expect("ascii"));
        out.push('\n');
    }
    out
}

/// Undoes [`base64`] / [`base64_wrapped`] (whitespace ignored); `None` on bad input.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut vals = Vec::new();
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        vals.push(v);
    }
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let mut n = 0u32;
        for (i, v) in chunk.iter().enumerate() {
            n |= u32::from(*v) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Unix seconds as `2024-01-01T00:00:00Z`.
pub fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (pct_decode(k, true), pct_decode(v, true)),
            None => (pct_decode(kv, true), String::new()),
        })
        .collect()
}

fn pct_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pct_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pct_encode_path(s: &str) -> String {
    s.split('/').map(pct_encode).collect::<Vec<_>>().join("/")
}

const UNICORN_PAGE: &str = r#"<!DOCTYPE html>
<!--

Hello future GitHubber! I bet you're here to remove those nasty inline styles,
DRY up these templates and make 'em nice and re-usable, right?

Please, don't. https://github.com/styleguide/templates/2.0

-->
<html>
  <head>
    <meta http-equiv="Content-type" content="text/html; charset=utf-8">
    <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'">
    <title>Unicorn! &middot; GitHub</title>
  </head>
  <body>
    <div class="container">
      <p><strong>We had issues producing the response to your request.</strong></p>
      <p>Sorry about that. Please try refreshing and contact us if the problem persists.</p>
      <div id="suggestions">
        <a href="https://github.com/contact">Contact Support</a> &mdash;
        <a href="https://www.githubstatus.com">GitHub Status</a> &mdash;
        <a href="https://twitter.com/githubstatus">@githubstatus</a>
      </div>
    </div>
  </body>
</html>
"#;

// ---------------------------------------------------------------------------------------
// GraphQL (`POST /graphql`)
//
// The subset Nectr uses: `repository(owner:, name:)` and, under it, (aliased)
// `object(expression: "REF:PATH")` fields with `... on Blob { byteSize isBinary isTruncated
// text oid }` fragments, plus `nameWithOwner` and `__typename`. The query text is tokenised
// and parsed for real — operation, variable definitions, aliases, arguments (literals and
// `$variables`), inline fragments — and validated the way GitHub does before running it:
// a syntax error, an unknown field or type, an undeclared or missing variable, or two
// fields answering under the same name with different arguments give `{"errors": […]}`
// with no data. A repository that does not exist gives `data.repository: null` plus a
// `NOT_FOUND` error; an expression naming no object gives `null` for that alias. Files are
// the ones registered with [`FakeGitHub::set_file`] at that ref. Like GitHub, a query is
// answered with 200 whatever its errors.
// ---------------------------------------------------------------------------------------

/// Blob text longer than this many bytes comes back cut, with `isTruncated: true`.
pub const MAX_GRAPHQL_BLOB_TEXT: usize = 512 * 1024;

#[derive(Clone, Debug, PartialEq)]
enum GqlToken {
    Name(String),
    Var(String),
    Str(String),
    Int(i64),
    Punct(char),
    Spread,
}

fn gql_tokens(src: &str) -> Result<Vec<GqlToken>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let name_start = |c: char| c == '_' || c.is_ascii_alphabetic();
    let name_char = |c: char| c == '_' || c.is_ascii_alphanumeric();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == ',' || c == '\u{feff}' {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if name_start(c) || c == '$' {
            let start = if c == '$' { i + 1 } else { i };
            let mut j = start;
            while j < chars.len() && name_char(chars[j]) {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            if name.is_empty() || !name_start(chars[start]) {
                return Err(format!("Parse error on \"$\" at offset {i}"));
            }
            out.push(if c == '$' {
                GqlToken::Var(name)
            } else {
                GqlToken::Name(name)
            });
            i = j;
        } else if c == '-' || c.is_ascii_digit() {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let text: String = chars[i..j].iter().collect();
            let n = text
                .parse::<i64>()
                .map_err(|_| format!("Parse error on \"{text}\" (number)"))?;
            out.push(GqlToken::Int(n));
            i = j;
        } else if c == '"' {
            if chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"') {
                return Err("Parse error: block strings are not supported by the fake".into());
            }
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None | Some('\n') => return Err("Parse error: unterminated string".into()),
                    Some('"') => break,
                    Some('\\') => {
                        let esc = chars.get(j + 1).copied().unwrap_or(' ');
                        match esc {
                            '"' => s.push('"'),
                            '\\' => s.push('\\'),
                            '/' => s.push('/'),
                            'b' => s.push('\u{8}'),
                            'f' => s.push('\u{c}'),
                            'n' => s.push('\n'),
                            'r' => s.push('\r'),
                            't' => s.push('\t'),
                            'u' => {
                                let hex: String = chars.iter().skip(j + 2).take(4).collect();
                                let code = u32::from_str_radix(&hex, 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .ok_or_else(|| format!("Parse error: bad escape \\u{hex}"))?;
                                s.push(code);
                                j += 4;
                            }
                            other => return Err(format!("Parse error: bad escape \\{other}")),
                        }
                        j += 2;
                        continue;
                    }
                    Some(&ch) => s.push(ch),
                }
                j += 1;
            }
            out.push(GqlToken::Str(s));
            i = j + 1;
        } else if c == '.' {
            if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
                out.push(GqlToken::Spread);
                i += 3;
            } else {
                return Err(format!("Parse error on \".\" at offset {i}"));
            }
        } else if "{}():!=[]@".contains(c) {
            out.push(GqlToken::Punct(c));
            i += 1;
        } else {
            return Err(format!("Parse error on \"{c}\" at offset {i}"));
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq)]
enum GqlValue {
    Var(String),
    Str(String),
    Int(i64),
    /// `true`, `false`, `null` or an enum value.
    Word(String),
}

#[derive(Clone, Debug)]
enum GqlSelection {
    Field {
        alias: Option<String>,
        name: String,
        args: Vec<(String, GqlValue)>,
        selections: Vec<GqlSelection>,
    },
    Fragment {
        on: String,
        selections: Vec<GqlSelection>,
    },
}

struct GqlOperation {
    kind: String,
    /// Declared variables: name → (type as written, required).
    variables: BTreeMap<String, (String, bool)>,
    selections: Vec<GqlSelection>,
}

struct GqlParser {
    tokens: Vec<GqlToken>,
    at: usize,
}

impl GqlParser {
    fn peek(&self) -> Option<&GqlToken> {
        self.tokens.get(self.at)
    }

    fn bump(&mut self) -> Result<GqlToken, String> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or_else(|| "Parse error on end of input".to_string())?;
        self.at += 1;
        Ok(t)
    }

    fn punct(&mut self, c: char) -> Result<(), String> {
        match self.bump()? {
            GqlToken::Punct(p) if p == c => Ok(()),
            other => Err(format!("Parse error on {other:?}: expected \"{c}\"")),
        }
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&GqlToken::Punct(c))
    }

    fn name(&mut self) -> Result<String, String> {
        match self.bump()? {
            GqlToken::Name(n) => Ok(n),
            other => Err(format!("Parse error on {other:?}: expected a name")),
        }
    }

    fn operation(&mut self) -> Result<GqlOperation, String> {
        let mut op = GqlOperation {
            kind: "query".into(),
            variables: BTreeMap::new(),
            selections: Vec::new(),
        };
        if let Some(GqlToken::Name(kind)) = self.peek().cloned() {
            self.at += 1;
            op.kind = kind;
            if let Some(GqlToken::Name(_)) = self.peek() {
                self.at += 1; // the operation's name
            }
            if self.is_punct('(') {
                self.at += 1;
                while !self.is_punct(')') {
                    let var = match self.bump()? {
                        GqlToken::Var(v) => v,
                        other => {
                            return Err(format!("Parse error on {other:?}: expected a variable"));
                        }
                    };
                    self.punct(':')?;
                    let (ty, required) = self.type_ref()?;
                    if self.is_punct('=') {
                        self.at += 1;
                        self.value()?;
                    }
                    if op.variables.insert(var.clone(), (ty, required)).is_some() {
                        return Err(format!("There can only be one variable named \"{var}\""));
                    }
                }
                self.at += 1;
            }
        }
        op.selections = self.selection_set()?;
        if self.peek().is_some() {
            return Err(
                "Parse error: more than one operation (the fake answers one per request)".into(),
            );
        }
        Ok(op)
    }

    fn type_ref(&mut self) -> Result<(String, bool), String> {
        let mut ty = if self.is_punct('[') {
            self.at += 1;
            let (inner, req) = self.type_ref()?;
            self.punct(']')?;
            format!("[{inner}{}]", if req { "!" } else { "" })
        } else {
            self.name()?
        };
        let required = self.is_punct('!');
        if required {
            self.at += 1;
            ty.push('!');
        }
        Ok((ty.trim_end_matches('!').to_string(), required))
    }

    fn value(&mut self) -> Result<GqlValue, String> {
        Ok(match self.bump()? {
            GqlToken::Var(v) => GqlValue::Var(v),
            GqlToken::Str(s) => GqlValue::Str(s),
            GqlToken::Int(n) => GqlValue::Int(n),
            GqlToken::Name(w) => GqlValue::Word(w),
            other => return Err(format!("Parse error on {other:?}: expected a value")),
        })
    }

    fn selection_set(&mut self) -> Result<Vec<GqlSelection>, String> {
        self.punct('{')?;
        let mut out = Vec::new();
        while !self.is_punct('}') {
            if self.peek() == Some(&GqlToken::Spread) {
                self.at += 1;
                match self.bump()? {
                    GqlToken::Name(on) if on == "on" => {}
                    other => {
                        return Err(format!(
                            "Parse error on {other:?}: named fragments are not supported by the fake"
                        ));
                    }
                }
                let on = self.name()?;
                let selections = self.selection_set()?;
                out.push(GqlSelection::Fragment { on, selections });
                continue;
            }
            let first = self.name()?;
            let (alias, name) = if self.is_punct(':') {
                self.at += 1;
                (Some(first), self.name()?)
            } else {
                (None, first)
            };
            let mut args = Vec::new();
            if self.is_punct('(') {
                self.at += 1;
                while !self.is_punct(')') {
                    let arg = self.name()?;
                    self.punct(':')?;
                    args.push((arg, self.value()?));
                }
                self.at += 1;
            }
            let selections = if self.is_punct('{') {
                self.selection_set()?
            } else {
                Vec::new()
            };
            out.push(GqlSelection::Field {
                alias,
                name,
                args,
                selections,
            });
        }
        self.at += 1;
        if out.is_empty() {
            return Err("Parse error on \"}\": a selection set cannot be empty".into());
        }
        Ok(out)
    }
}

fn gql_error(message: impl Into<String>) -> Value {
    json!({ "message": message.into() })
}

/// The schema subset: the fields each type has and which of them take selections.
fn gql_field_known(ty: &str, field: &str) -> bool {
    match ty {
        "Query" => matches!(field, "repository" | "__typename"),
        "Repository" => matches!(
            field,
            "object" | "nameWithOwner" | "pullRequest" | "__typename"
        ),
        "PullRequest" => matches!(field, "number" | "reviewThreads" | "__typename"),
        "PullRequestReviewThreadConnection" | "PullRequestReviewCommentConnection" => {
            matches!(field, "nodes" | "pageInfo" | "totalCount" | "__typename")
        }
        "PageInfo" => matches!(
            field,
            "hasNextPage" | "endCursor" | "hasPreviousPage" | "startCursor" | "__typename"
        ),
        "PullRequestReviewThread" => matches!(
            field,
            "id" | "isResolved" | "isOutdated" | "path" | "comments" | "__typename"
        ),
        "PullRequestReviewComment" => {
            matches!(field, "id" | "databaseId" | "body" | "path" | "__typename")
        }
        "GitObject" => matches!(field, "oid" | "abbreviatedOid" | "__typename"),
        "Blob" => matches!(
            field,
            "byteSize"
                | "isBinary"
                | "isTruncated"
                | "text"
                | "oid"
                | "abbreviatedOid"
                | "__typename"
        ),
        "Tree" | "Commit" | "Tag" => matches!(field, "oid" | "abbreviatedOid" | "__typename"),
        _ => false,
    }
}

/// The type a field's selections apply to, when it is an object field.
fn gql_field_type(ty: &str, field: &str) -> Option<&'static str> {
    match (ty, field) {
        ("Query", "repository") => Some("Repository"),
        ("Repository", "object") => Some("GitObject"),
        ("Repository", "pullRequest") => Some("PullRequest"),
        ("PullRequest", "reviewThreads") => Some("PullRequestReviewThreadConnection"),
        ("PullRequestReviewThreadConnection", "nodes") => Some("PullRequestReviewThread"),
        ("PullRequestReviewCommentConnection", "nodes") => Some("PullRequestReviewComment"),
        (
            "PullRequestReviewThreadConnection" | "PullRequestReviewCommentConnection",
            "pageInfo",
        ) => Some("PageInfo"),
        ("PullRequestReviewThread", "comments") => Some("PullRequestReviewCommentConnection"),
        _ => None,
    }
}

struct GqlCheck<'a> {
    op: &'a GqlOperation,
    variables: &'a Map<String, Value>,
    errors: Vec<Value>,
    used: BTreeSet<String>,
}

impl GqlCheck<'_> {
    /// Validate `selections` on type `ty` (fields exist, object fields have selections and
    /// leaves none, variables are declared, response names do not conflict).
    fn selections(&mut self, ty: &str, selections: &[GqlSelection]) {
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for sel in selections {
            match sel {
                GqlSelection::Fragment { on, selections } => {
                    let fits = match ty {
                        "GitObject" => matches!(on.as_str(), "Blob" | "Tree" | "Commit" | "Tag"),
                        other => on == other,
                    };
                    if !matches!(
                        on.as_str(),
                        "Blob" | "Tree" | "Commit" | "Tag" | "Repository" | "Query"
                    ) {
                        self.errors.push(gql_error(format!(
                            "No such type {on}, so it can't be a fragment condition"
                        )));
                    } else if !fits {
                        self.errors.push(gql_error(format!(
                            "Fragment on {on} can't be spread inside {ty}"
                        )));
                    } else {
                        self.selections(on, selections);
                    }
                }
                GqlSelection::Field {
                    alias,
                    name,
                    args,
                    selections,
                } => {
                    if !gql_field_known(ty, name) {
                        self.errors.push(json!({
                            "message": format!("Field '{name}' doesn't exist on type '{ty}'"),
                            "extensions": {"code": "undefinedField", "typeName": ty, "fieldName": name},
                        }));
                        continue;
                    }
                    let key = alias.clone().unwrap_or_else(|| name.clone());
                    let signature = format!("{name}{args:?}");
                    if let Some(previous) = seen.insert(key.clone(), signature.clone())
                        && previous != signature
                    {
                        self.errors.push(gql_error(format!(
                            "Field '{key}' has a field conflict: two different fields or arguments answer under the same name"
                        )));
                    }
                    for (_, v) in args {
                        if let GqlValue::Var(var) = v {
                            self.variable(var);
                        }
                    }
                    match gql_field_type(ty, name) {
                        Some(inner) if selections.is_empty() => self.errors.push(gql_error(
                            format!("Field must have selections (field '{name}' returns {inner} but has no selections. Did you mean '{name} {{ ... }}'?)"),
                        )),
                        Some(inner) => self.selections(inner, selections),
                        None if !selections.is_empty() => self.errors.push(gql_error(format!(
                            "Selections can't be made on scalars (field '{name}' returns a scalar but has selections [...])"
                        ))),
                        None => {}
                    }
                }
            }
        }
    }

    fn variable(&mut self, var: &str) {
        self.used.insert(var.to_string());
        match self.op.variables.get(var) {
            None => self.errors.push(gql_error(format!(
                "Variable ${var} is used by the query but not declared"
            ))),
            Some((ty, required)) => {
                let v = self.variables.get(var).unwrap_or(&Value::Null);
                let ok = match (ty.as_str(), v) {
                    (_, Value::Null) => !required,
                    ("String" | "ID" | "GitObjectID", Value::String(_)) => true,
                    ("Int", Value::Number(_)) => true,
                    ("Boolean", Value::Bool(_)) => true,
                    _ => false,
                };
                if !ok {
                    self.errors.push(gql_error(format!(
                        "Variable ${var} of type {ty}{} was provided invalid value",
                        if *required { "!" } else { "" }
                    )));
                }
            }
        }
    }
}

/// A field of a selection set, with the name it answers under.
struct GqlField<'a> {
    key: String,
    name: &'a String,
    args: &'a Vec<(String, GqlValue)>,
    selections: &'a Vec<GqlSelection>,
}

/// The fields of `selections` (fragments left out: the callers that take them match them
/// themselves).
fn gql_fields(selections: &[GqlSelection]) -> impl Iterator<Item = GqlField<'_>> {
    selections.iter().filter_map(|sel| match sel {
        GqlSelection::Field {
            alias,
            name,
            args,
            selections,
        } => Some(GqlField {
            key: alias.clone().unwrap_or_else(|| name.clone()),
            name,
            args,
            selections,
        }),
        GqlSelection::Fragment { .. } => None,
    })
}

/// A resolved argument: the literal, or the variable's value.
fn gql_arg(
    args: &[(String, GqlValue)],
    name: &str,
    variables: &Map<String, Value>,
) -> Option<Value> {
    let (_, v) = args.iter().find(|(k, _)| k == name)?;
    Some(match v {
        GqlValue::Var(var) => variables.get(var).cloned().unwrap_or(Value::Null),
        GqlValue::Str(s) => json!(s),
        GqlValue::Int(n) => json!(n),
        GqlValue::Word(w) if w == "true" => json!(true),
        GqlValue::Word(w) if w == "false" => json!(false),
        GqlValue::Word(w) if w == "null" => Value::Null,
        GqlValue::Word(w) => json!(w),
    })
}

/// A git object a `REF:PATH` expression names in the fake's files.
enum GqlObject<'a> {
    Blob(&'a [u8]),
    Tree,
}

impl State {
    fn graphql(&self, req: &Incoming) -> Reply {
        let errors_only = |errors: Vec<Value>| Reply::json(200, &json!({ "errors": errors }));
        let body = match req.json_object() {
            Ok(b) => b,
            Err(reply) => return reply,
        };
        let Some(query) = body.get("query").and_then(Value::as_str) else {
            return errors_only(vec![gql_error(
                "A query attribute must be specified and must be a string.",
            )]);
        };
        let variables = match body.get("variables") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(o)) => o.clone(),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(o)) => o,
                _ => return errors_only(vec![gql_error("Variables are invalid JSON.")]),
            },
            Some(_) => return errors_only(vec![gql_error("Variables are invalid JSON.")]),
        };
        let op = match gql_tokens(query).and_then(|tokens| GqlParser { tokens, at: 0 }.operation())
        {
            Ok(op) => op,
            Err(e) => return errors_only(vec![gql_error(e)]),
        };
        if op.kind != "query" {
            return errors_only(vec![gql_error(format!(
                "The fake GitHub answers queries only, not {}",
                op.kind
            ))]);
        }
        let mut check = GqlCheck {
            op: &op,
            variables: &variables,
            errors: Vec::new(),
            used: BTreeSet::new(),
        };
        check.selections("Query", &op.selections);
        for declared in op.variables.keys() {
            if !check.used.contains(declared) {
                check.errors.push(gql_error(format!(
                    "Variable ${declared} is declared but never used"
                )));
            }
        }
        if !check.errors.is_empty() {
            return errors_only(check.errors);
        }
        let mut errors = Vec::new();
        let data = self.gql_query(&op.selections, &variables, &mut errors);
        let mut out = json!({ "data": data });
        if !errors.is_empty() {
            out["errors"] = Value::Array(errors);
        }
        Reply::json(200, &out)
    }

    fn gql_query(
        &self,
        selections: &[GqlSelection],
        variables: &Map<String, Value>,
        errors: &mut Vec<Value>,
    ) -> Value {
        let mut data = Map::new();
        for GqlField {
            key,
            name,
            args,
            selections,
        } in gql_fields(selections)
        {
            let value = match name.as_str() {
                "__typename" => json!("Query"),
                _ => {
                    let owner = gql_arg(args, "owner", variables);
                    let repo_name = gql_arg(args, "name", variables);
                    let full = format!(
                        "{}/{}",
                        owner.as_ref().and_then(Value::as_str).unwrap_or(""),
                        repo_name.as_ref().and_then(Value::as_str).unwrap_or("")
                    );
                    match self.find_repo(&full) {
                        Some(repo_key) => {
                            self.gql_repository(&repo_key, selections, variables, errors)
                        }
                        None => {
                            errors.push(json!({
                                "type": "NOT_FOUND",
                                "path": [key],
                                "locations": [{"line": 2, "column": 3}],
                                "message": format!("Could not resolve to a Repository with the name '{full}'."),
                            }));
                            Value::Null
                        }
                    }
                }
            };
            data.insert(key, value);
        }
        Value::Object(data)
    }

    fn gql_repository(
        &self,
        key: &str,
        selections: &[GqlSelection],
        variables: &Map<String, Value>,
        errors: &mut Vec<Value>,
    ) -> Value {
        let repo = &self.repos[key];
        let mut out = Map::new();
        for GqlField {
            key: response_key,
            name,
            args,
            selections,
        } in gql_fields(selections)
        {
            let value = match name.as_str() {
                "__typename" => json!("Repository"),
                "nameWithOwner" => json!(repo.full_name),
                "pullRequest" => {
                    let number = gql_arg(args, "number", variables).and_then(|v| v.as_u64());
                    match number.filter(|n| repo.pulls.contains_key(n)) {
                        Some(n) => gql_pull_request(repo, n, selections, variables, errors),
                        None => {
                            errors.push(json!({
                                "type": "NOT_FOUND",
                                "path": ["repository", response_key],
                                "message": format!(
                                    "Could not resolve to a PullRequest with the number of {}.",
                                    number.unwrap_or(0)
                                ),
                            }));
                            Value::Null
                        }
                    }
                }
                _ => {
                    let expression = gql_arg(args, "expression", variables);
                    match expression.as_ref().and_then(Value::as_str).and_then(|e| {
                        let (rev, path) = e.split_once(':')?;
                        self.gql_object(repo, rev, path)
                    }) {
                        Some(object) => gql_object_json(&object, selections),
                        None => Value::Null,
                    }
                }
            };
            out.insert(response_key, value);
        }
        Value::Object(out)
    }

    fn gql_object<'a>(&self, repo: &'a Repo, rev: &str, path: &str) -> Option<GqlObject<'a>> {
        let files = repo.files.get(rev)?;
        let path = path.trim_matches('/');
        if let Some(content) = files.get(path).filter(|_| !path.is_empty()) {
            return Some(GqlObject::Blob(content));
        }
        let prefix = format!("{path}/");
        (path.is_empty() || files.keys().any(|p| p.starts_with(&prefix))).then_some(GqlObject::Tree)
    }
}

/// `pullRequest(number:)`: its number and `reviewThreads(first:, after:)`, a thread per
/// review comment that replies to none, in the order they were posted. Cursors are opaque
/// (`base64("cursor:N")`); `first` must be 1–100, as on GitHub.
fn gql_pull_request(
    repo: &Repo,
    number: u64,
    selections: &[GqlSelection],
    variables: &Map<String, Value>,
    errors: &mut Vec<Value>,
) -> Value {
    let mut out = Map::new();
    for GqlField {
        key,
        name,
        args,
        selections,
    } in gql_fields(selections)
    {
        let value = match name.as_str() {
            "__typename" => json!("PullRequest"),
            "number" => json!(number),
            _ => {
                let roots: Vec<&StoredComment> = repo
                    .review_comments
                    .iter()
                    .filter(|c| c.number == number && c.rec.in_reply_to_id.is_none())
                    .collect();
                let first = gql_arg(args, "first", variables).and_then(|v| v.as_u64());
                let Some(first) = first.filter(|n| (1..=100).contains(n)) else {
                    errors.push(gql_error(
                        "You must provide a `first` or `last` value between 1 and 100 to properly paginate the `reviewThreads` connection.",
                    ));
                    out.insert(key, Value::Null);
                    continue;
                };
                let start = match gql_arg(args, "after", variables) {
                    None | Some(Value::Null) => 0,
                    Some(cursor) => match cursor
                        .as_str()
                        .and_then(base64_decode)
                        .and_then(|b| String::from_utf8(b).ok())
                        .and_then(|c| c.strip_prefix("cursor:")?.parse::<usize>().ok())
                    {
                        Some(at) => at + 1,
                        None => {
                            errors.push(gql_error(format!(
                                "`{cursor}` does not appear to be a valid cursor."
                            )));
                            out.insert(key, Value::Null);
                            continue;
                        }
                    },
                };
                let end = (start + first as usize).min(roots.len());
                let page = roots.get(start..end).unwrap_or(&[]);
                let threads: Vec<Value> = page
                    .iter()
                    .map(|root| gql_thread(repo, root, gql_nodes_selections(selections), variables))
                    .collect();
                gql_connection(threads, roots.len(), start, end, selections)
            }
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

/// A connection's fields: `nodes` (already rendered), `totalCount`, `pageInfo`.
fn gql_connection(
    nodes: Vec<Value>,
    total: usize,
    start: usize,
    end: usize,
    selections: &[GqlSelection],
) -> Value {
    let cursor = |i: usize| json!(base64(format!("cursor:{i}").as_bytes()));
    let mut out = Map::new();
    let mut nodes = Some(nodes);
    for GqlField {
        key,
        name,
        selections,
        ..
    } in gql_fields(selections)
    {
        let value = match name.as_str() {
            "nodes" => Value::Array(nodes.take().unwrap_or_default()),
            "totalCount" => json!(total),
            "pageInfo" => {
                let mut page = Map::new();
                for GqlField { key, name, .. } in gql_fields(selections) {
                    let v = match name.as_str() {
                        "hasNextPage" => json!(end < total),
                        "hasPreviousPage" => json!(start > 0),
                        "endCursor" if end > start => cursor(end - 1),
                        "startCursor" if end > start => cursor(start),
                        "__typename" => json!("PageInfo"),
                        _ => Value::Null,
                    };
                    page.insert(key, v);
                }
                Value::Object(page)
            }
            "__typename" => json!("Connection"),
            _ => Value::Null,
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

/// One review thread: its root comment and the replies to it.
fn gql_thread(
    repo: &Repo,
    root: &StoredComment,
    selections: &[GqlSelection],
    variables: &Map<String, Value>,
) -> Value {
    let mut out = Map::new();
    for GqlField {
        key,
        name,
        args,
        selections,
    } in gql_fields(selections)
    {
        let value = match name.as_str() {
            "__typename" => json!("PullRequestReviewThread"),
            "id" => json!(node_id("PRRT", root.rec.id)),
            "isResolved" => json!(root.resolved),
            "isOutdated" => json!(false),
            "path" => json!(root.rec.path),
            _ => {
                let mut comments = vec![root];
                let mut frontier = vec![root.rec.id];
                while let Some(parent) = frontier.pop() {
                    for c in repo
                        .review_comments
                        .iter()
                        .filter(|c| c.rec.in_reply_to_id == Some(parent))
                    {
                        comments.push(c);
                        frontier.push(c.rec.id);
                    }
                }
                comments.sort_by_key(|c| c.rec.id);
                let first = gql_arg(args, "first", variables)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(100) as usize;
                let end = first.min(comments.len());
                let nodes = comments[..end]
                    .iter()
                    .map(|c| {
                        let mut node = Map::new();
                        for GqlField { key, name, .. } in
                            gql_fields(gql_nodes_selections(selections))
                        {
                            let v = match name.as_str() {
                                "__typename" => json!("PullRequestReviewComment"),
                                "id" => json!(node_id("PRRC", c.rec.id)),
                                "databaseId" => json!(c.rec.id),
                                "body" => json!(c.rec.body),
                                "path" => json!(c.rec.path),
                                _ => Value::Null,
                            };
                            node.insert(key, v);
                        }
                        Value::Object(node)
                    })
                    .collect();
                gql_connection(nodes, comments.len(), 0, end, selections)
            }
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

/// The selections under a connection's `nodes` field.
fn gql_nodes_selections(connection: &[GqlSelection]) -> &[GqlSelection] {
    connection
        .iter()
        .find_map(|sel| match sel {
            GqlSelection::Field {
                name, selections, ..
            } if name == "nodes" => Some(selections.as_slice()),
            _ => None,
        })
        .unwrap_or(&[])
}

fn gql_object_json(object: &GqlObject<'_>, selections: &[GqlSelection]) -> Value {
    let typename = match object {
        GqlObject::Blob(_) => "Blob",
        GqlObject::Tree => "Tree",
    };
    let mut out = Map::new();
    gql_object_fields(object, typename, selections, &mut out);
    Value::Object(out)
}

fn gql_object_fields(
    object: &GqlObject<'_>,
    typename: &str,
    selections: &[GqlSelection],
    out: &mut Map<String, Value>,
) {
    for sel in selections {
        match sel {
            GqlSelection::Fragment { on, selections } => {
                if on == typename {
                    gql_object_fields(object, typename, selections, out);
                }
            }
            GqlSelection::Field { alias, name, .. } => {
                let key = alias.clone().unwrap_or_else(|| name.clone());
                let content: &[u8] = match object {
                    GqlObject::Blob(c) => c,
                    GqlObject::Tree => b"",
                };
                let oid = sha1_hex(
                    &[
                        format!("{} {}\0", typename.to_ascii_lowercase(), content.len()).as_bytes(),
                        content,
                    ]
                    .concat(),
                );
                let text = std::str::from_utf8(content)
                    .ok()
                    .filter(|t| !t.contains('\0'));
                let value = match name.as_str() {
                    "__typename" => json!(typename),
                    "oid" => json!(oid),
                    "abbreviatedOid" => json!(&oid[..7]),
                    "byteSize" => json!(content.len()),
                    "isBinary" => json!(text.is_none()),
                    "isTruncated" => json!(text.is_some_and(|t| t.len() > MAX_GRAPHQL_BLOB_TEXT)),
                    "text" => match text {
                        Some(t) if t.len() > MAX_GRAPHQL_BLOB_TEXT => {
                            let mut end = MAX_GRAPHQL_BLOB_TEXT;
                            while !t.is_char_boundary(end) {
                                end -= 1;
                            }
                            json!(&t[..end])
                        }
                        Some(t) => json!(t),
                        None => Value::Null,
                    },
                    _ => Value::Null,
                };
                out.insert(key, value);
            }
        }
    }
}
