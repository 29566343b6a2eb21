//! The dashboard (`/`, `/repos/{owner}/{name}`, `…/pull/{n}`, `/events`, `/team` and the
//! form posts) against the real app: `nectr::server::serve` on 127.0.0.1:0, a store (SQLite
//! in a temp dir; PostgreSQL too for the counts test when `NECTR_TEST_POSTGRES_URL` is set)
//! and the fake GitHub as `GITHUB_API_URL`.
//!
//! The HTTP tests always run. The browser tests drive headless Chromium through chromedriver
//! at 1280 px and at 390 px and run only when `NECTR_TEST_CHROMEDRIVER` is its URL (`.ci/run`
//! starts one on `http://127.0.0.1:9515`); otherwise they say they are skipped and pass.
//! They write a screenshot of every page to `NECTR_SCREENSHOT_DIR` (default
//! `target/screenshots/`), which CI keeps.

mod support;

use std::time::Duration;

use nectr::crypto::{Keyring, generate_key};
use nectr::server::{self, AppState, OAuthApp, ServerConfig, WorkerConfig, owners, session};
use nectr::store::{
    self, EventStatus, NewDismissal, NewEvent, NewFinding, NewInstallation, NewNote,
    NewReviewRecord, NewUser, Recorded, ReviewDetail, User,
};
use serde_json::json;
use support::fake_github::{Access, FakeGitHub, Fault, FaultKind, PullSpec, sha1_hex};
use support::raw_http::{self, HttpResponse};

const SERVER_URL: &str = "https://github.com";
const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
const FAILED_REASON: &str =
    "GitHub answered 500 <script>alert('failed')</script> while fetching the diff";
const IGNORED_REASON: &str = "draft pull request <img src=x onerror=alert(1)>";
const REVIEW_URL: &str = "https://github.com/octo/alpha/pull/7#pullrequestreview-99";
const REVOKED: &str = "GitHub rejected the token of @octocat (401): it was revoked or expired; @octocat must sign in to Nectr again";
const OCTOCAT_TOKEN: &str = "gho_octocat_dashboard_token";
const DIFF: &str = concat!(
    "diff --git a/src/lib.rs b/src/lib.rs\n",
    "--- a/src/lib.rs\n",
    "+++ b/src/lib.rs\n",
    "@@ -1,2 +1,3 @@\n",
    " fn a() {}\n",
    "+fn b() { let x = 1; }\n",
    " fn c() {}\n",
);

/// A diff adding `n` lines to `path`, each with a `dbg!` (rule `debug.rust-dbg`).
fn dbg_diff(path: &str, n: usize) -> String {
    let mut out = format!(
        "diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,2 +1,{} @@\n fn a() {{}}\n",
        2 + n
    );
    for i in 0..n {
        out.push_str(&format!("+fn b{i}(x: u32) -> u32 {{ dbg!(x + {i}) }}\n"));
    }
    out.push_str(" fn c() {}\n");
    out
}

/// A diff adding a `dbg!` to each of `n` files: `n` findings that each have their own
/// fingerprint (a new file is a new finding, however the rule groups lines).
fn dbg_files(n: usize) -> String {
    (0..n)
        .map(|i| dbg_diff(&format!("src/m{i}.rs"), 1))
        .collect()
}

struct App {
    /// `http://127.0.0.1:PORT`, also the public URL.
    url: String,
    state: AppState,
    fake: FakeGitHub,
    db_url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn spawn_app(oauth: bool) -> App {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("nectr.db").display());
    let mut app = spawn_app_on(&db, oauth, 0).await;
    app._dir = Some(dir);
    app
}

/// The app on the database at `db`, with `workers` review workers (0: the tests put events
/// into exactly the states they want).
async fn spawn_app_on(db: &str, oauth: bool, workers: usize) -> App {
    nectr::github::transport::install_crypto_provider();
    // Against the fake: no pauses between writes, fast retries.
    // SAFETY (edition 2024): every test sets the same values before starting its server.
    unsafe {
        std::env::set_var("NECTR_GITHUB_WRITE_GAP_MS", "0");
        std::env::set_var("NECTR_GITHUB_RETRY_BASE_MS", "10");
    }
    let fake = FakeGitHub::start().await;
    let store = store::connect(db).await.expect("store");
    let keyring = Keyring::from_env_value(&generate_key()).expect("keyring");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let config = ServerConfig {
        public_url: url.clone(),
        api_url: fake.url.clone(),
        server_url: SERVER_URL.to_owned(),
        oauth: oauth.then(|| OAuthApp {
            client_id: "Iv1.dashboardtest".to_owned(),
            client_secret: "dashboard-test-secret".to_owned(),
        }),
        global_webhook_secret: None,
        workers,
        worker: WorkerConfig {
            lease_secs: 30,
            max_attempts: 3,
            retry_base_secs: 0,
            retry_max_secs: 0,
            poll_interval: Duration::from_millis(50),
            shutdown_grace: Duration::from_secs(5),
        },
    };
    let state = AppState::new(store, keyring, config);
    tokio::spawn(server::serve(
        state.clone(),
        listener,
        std::future::pending::<()>(),
    ));
    App {
        url,
        state,
        fake,
        db_url: db.to_owned(),
        _dir: None,
    }
}

impl App {
    /// A user whose token is `token` (registered on the fake only when `on_github`).
    async fn user(&self, github_id: i64, login: &str, token: &str, scopes: &str) -> User {
        let record = NewUser {
            github_id,
            login: login.to_owned(),
            encrypted_token: self
                .state
                .keyring
                .encrypt(&owners::user_token(github_id), token.as_bytes()),
            scopes: scopes.to_owned(),
        };
        self.state
            .store
            .upsert_user(&record, server::now())
            .await
            .expect("upsert user")
    }

    /// A user known to the fake with a write (admin) token and the `repo` scope.
    async fn octocat(&self) -> User {
        let token = OCTOCAT_TOKEN;
        self.fake
            .add_token(token, "octocat", Access::Write, "repo, read:user");
        self.user(1001, "octocat", token, "repo, read:user").await
    }

    /// `nectr_session=…` for a new session of `user`.
    async fn session_cookie(&self, user: &User) -> String {
        let set_cookie = session::start(&self.state, user.id)
            .await
            .expect("start session");
        let text = set_cookie.to_str().expect("ascii cookie");
        text.split(';').next().expect("cookie pair").to_owned()
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> HttpResponse {
        let mut headers = vec![("Accept", "text/html")];
        if let Some(c) = cookie {
            headers.push(("Cookie", c));
        }
        raw_http::send("GET", &format!("{}{path}", self.url), &headers, None).await
    }

    async fn post_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        body: &str,
        extra: &[(&str, &str)],
    ) -> HttpResponse {
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if let Some(c) = cookie {
            headers.push(("Cookie", c));
        }
        headers.extend_from_slice(extra);
        raw_http::send(
            "POST",
            &format!("{}{path}", self.url),
            &headers,
            Some(body.as_bytes()),
        )
        .await
    }

    /// An active installation of `repo` by `user`, with a real hook on the fake.
    async fn install(&self, repo: &str, user: &User) -> i64 {
        self.fake.add_repo(repo);
        let hook = self.fake.add_hook(
            repo,
            &format!("{}/api/v1/webhooks/github", self.url),
            &["pull_request", "issues"],
        );
        let record = NewInstallation {
            repo: repo.to_owned(),
            user_id: user.id,
            webhook_id: hook as i64,
            encrypted_webhook_secret: self
                .state
                .keyring
                .encrypt(&owners::webhook_secret(repo), b"0123456789abcdef"),
        };
        self.state
            .store
            .upsert_installation(&record, server::now())
            .await
            .expect("installation")
            .id
    }

    /// Records a delivery for `repo` as the installation's webhook would.
    async fn record(
        &self,
        installation: i64,
        repo: &str,
        pr: i64,
        ignore_reason: Option<&str>,
        at: i64,
    ) -> i64 {
        let event = NewEvent {
            delivery_id: format!("delivery-{repo}-{pr}"),
            event: "pull_request".to_owned(),
            action: Some("opened".to_owned()),
            repo: repo.to_owned(),
            pr_number: Some(pr),
            head_sha: Some(format!("{pr:07}abcdef0123456789abcdef0123456789abcd")),
            installation_id: Some(installation),
            ignore_reason: ignore_reason.map(str::to_owned),
            payload: b"{}".to_vec(),
        };
        match self
            .state
            .store
            .record_delivery(&event, at)
            .await
            .expect("record delivery")
        {
            Recorded::Inserted(id) => id,
            other => panic!("delivery not inserted: {other:?}"),
        }
    }

    /// Records a `pull_request` delivery for PR `pr` of `repo` with a payload a worker can
    /// review (title `Change {pr}` by @mona, head `head_of(pr)`), as the webhook would.
    async fn record_pr(
        &self,
        installation: i64,
        repo: &str,
        pr: u64,
        delivery: &str,
        at: i64,
    ) -> i64 {
        let head = head_of(pr);
        let payload = serde_json::to_vec(&json!({
            "action": "synchronize",
            "number": pr,
            "pull_request": {
                "number": pr, "title": format!("Change {pr}"), "body": null,
                "state": "open", "draft": false,
                "html_url": format!("{SERVER_URL}/{repo}/pull/{pr}"),
                "head": {"ref": "feature", "sha": head, "repo": {"full_name": repo}},
                "base": {"ref": "main", "sha": sha1_hex(b"base commit"), "repo": {"full_name": repo}},
                "user": {"login": "mona"}
            },
            "repository": {"full_name": repo, "private": false},
            "sender": {"login": "mona"}
        }))
        .expect("payload");
        let event = NewEvent {
            delivery_id: delivery.to_owned(),
            event: "pull_request".to_owned(),
            action: Some("synchronize".to_owned()),
            repo: repo.to_owned(),
            pr_number: Some(pr as i64),
            head_sha: Some(head),
            installation_id: Some(installation),
            ignore_reason: None,
            payload,
        };
        match self
            .state
            .store
            .record_delivery(&event, at)
            .await
            .expect("record")
        {
            Recorded::Inserted(id) | Recorded::Duplicate(id) => id,
            other => panic!("delivery not inserted: {other:?}"),
        }
    }

    /// Claims the oldest claimable event (it must be `id`) as a worker would.
    async fn claim(&self, id: i64, at: i64) {
        let claimed = self
            .state
            .store
            .claim_next("dashboard-test", 300, 5, at)
            .await
            .expect("claim")
            .expect("an event to claim");
        assert_eq!(claimed.id, id);
    }

    /// Event `id` reviewed at `at`: review `review_id` with `findings` recorded, then done.
    async fn review(&self, id: i64, repo: &str, pr: u64, review_id: i64, findings: i64, at: i64) {
        self.review_with(
            id,
            repo,
            pr,
            review_id,
            findings,
            ReviewDetail::default(),
            at,
        )
        .await;
    }

    /// [`App::review`] with the findings and notes the worker would record.
    #[allow(clippy::too_many_arguments)]
    async fn review_with(
        &self,
        id: i64,
        repo: &str,
        pr: u64,
        review_id: i64,
        findings: i64,
        detail: ReviewDetail,
        at: i64,
    ) {
        let store = &self.state.store;
        self.claim(id, at - 1).await;
        store
            .record_review(
                &NewReviewRecord {
                    event_id: Some(id),
                    repo: repo.to_owned(),
                    pr_number: pr as i64,
                    head_sha: head_of(pr),
                    review_id,
                    review_url: format!(
                        "{SERVER_URL}/{repo}/pull/{pr}#pullrequestreview-{review_id}"
                    ),
                    findings,
                    detail,
                },
                at,
            )
            .await
            .expect("record review");
        assert!(
            store
                .complete(id, "dashboard-test", at)
                .await
                .expect("complete")
        );
    }

    /// Event `id` failed for good at `at` with `reason`.
    async fn fail(&self, id: i64, reason: &str, at: i64) {
        self.claim(id, at - 1).await;
        assert!(
            self.state
                .store
                .fail(id, "dashboard-test", reason, None, at)
                .await
                .expect("fail")
        );
    }

    /// PR `pr` of `repo` on the fake, open, at `head_of(pr)`, so a worker can review it.
    fn add_pull(&self, repo: &str, pr: u64) {
        self.fake.add_pull(
            repo,
            PullSpec {
                head_sha: head_of(pr),
                title: format!("Change {pr}"),
                user: "mona".into(),
                ..PullSpec::new(pr, DIFF)
            },
        );
    }

    /// [`App::add_pull`] with this diff.
    fn add_pull_diff(&self, repo: &str, pr: u64, diff: &str) {
        self.fake.add_pull(
            repo,
            PullSpec {
                head_sha: head_of(pr),
                title: format!("Change {pr}"),
                user: "mona".into(),
                ..PullSpec::new(pr, diff)
            },
        );
    }

    /// Waits until event `id` is no longer queued or running; its final state.
    async fn settled(&self, id: i64) -> store::EventSummary {
        for _ in 0..800 {
            let e = self.state.store.get_event(id).await.unwrap().unwrap();
            if !matches!(e.status, EventStatus::Pending | EventStatus::Running) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("event {id} did not settle");
    }

    /// One reviewed event (PR 7, with a review link), one failed (PR 8) and one ignored
    /// (PR 9) for `repo`.
    async fn seed_events(&self, installation: i64, repo: &str) {
        let store = &self.state.store;
        let t = server::now() - 600;
        let done = self.record(installation, repo, 7, None, t).await;
        let claimed = store
            .claim_next("dashboard-test", 300, 5, t + 1)
            .await
            .expect("claim")
            .expect("an event to claim");
        assert_eq!(claimed.id, done);
        store
            .record_review(
                &NewReviewRecord {
                    event_id: Some(done),
                    repo: repo.to_owned(),
                    pr_number: 7,
                    head_sha: claimed.head_sha.clone().unwrap_or_default(),
                    review_id: 99,
                    review_url: REVIEW_URL.to_owned(),
                    findings: 3,
                    ..Default::default()
                },
                t + 2,
            )
            .await
            .expect("record review");
        assert!(
            store
                .complete(done, "dashboard-test", t + 3)
                .await
                .expect("complete")
        );

        let failed = self.record(installation, repo, 8, None, t + 10).await;
        let claimed = store
            .claim_next("dashboard-test", 300, 5, t + 11)
            .await
            .expect("claim")
            .expect("an event to claim");
        assert_eq!(claimed.id, failed);
        assert!(
            store
                .fail(failed, "dashboard-test", FAILED_REASON, None, t + 12)
                .await
                .expect("fail")
        );

        self.record(installation, repo, 9, Some(IGNORED_REASON), t + 20)
            .await;
    }
}

fn assert_security_headers(r: &HttpResponse) {
    assert_eq!(r.header("content-security-policy"), Some(CSP), "{r:?}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// A dashboard page: 200, HTML, with the security headers.
fn page(r: &HttpResponse) -> String {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{r:?}"
    );
    assert_security_headers(r);
    r.text()
}

/// The `<tr>` of the page that contains `marker`.
fn row<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in the page:\n{html}"));
    let start = html[..at].rfind("<tr").expect("row start");
    let end = at + html[at..].find("</tr>").expect("row end");
    &html[start..end]
}

/// The `csrf_token` value of the page's forms.
fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let at = html.find(marker).expect("a csrf_token field") + marker.len();
    html[at..at + html[at..].find('"').expect("end of value")].to_owned()
}

/// The flash cookie a form post set, as `name=value`.
fn flash_cookie(r: &HttpResponse) -> String {
    r.headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("nectr_flash="))
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_owned())
        .unwrap_or_else(|| panic!("no flash cookie: {r:?}"))
}

/// The head commit of PR `pr` in these tests.
fn head_of(pr: u64) -> String {
    sha1_hex(format!("head of {pr}").as_bytes())
}

/// The value of attribute `attr` on the element with `id="{id}"`.
fn attr_of(html: &str, id: &str, attr: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page:\n{html}"));
    let start = html[..at].rfind('<').expect("tag start");
    let end = at + html[at..].find('>').expect("tag end");
    let tag = &html[start..end];
    let marker = format!("{attr}=\"");
    let v = tag
        .find(&marker)
        .unwrap_or_else(|| panic!("no {attr} on #{id}: {tag}"))
        + marker.len();
    tag[v..v + tag[v..].find('"').expect("end of value")].to_owned()
}

fn count_of(html: &str, id: &str) -> i64 {
    attr_of(html, id, "data-count").parse().expect("a number")
}

/// One number from the database, by SQL binding `$1` (a lower-case repository) and `$2`
/// (a time); SQLite or PostgreSQL by the URL.
async fn db_count(db_url: &str, sql: &'static str, repo: &str, since: i64) -> i64 {
    use sqlx::Connection;
    if db_url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(db_url)
            .await
            .expect("connect");
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(repo)
            .bind(since)
            .fetch_one(&mut c)
            .await
            .expect("query");
        n
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.expect("connect");
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(repo)
            .bind(since)
            .fetch_one(&mut c)
            .await
            .expect("query");
        n
    }
}

/// `(text, number)` rows from the database, by SQL binding `$1` (a lower-case repository)
/// and `$2` (a time).
async fn db_pairs(db_url: &str, sql: &'static str, repo: &str, since: i64) -> Vec<(String, i64)> {
    use sqlx::Connection;
    if db_url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(db_url)
            .await
            .expect("connect");
        sqlx::query_as(sql)
            .bind(repo)
            .bind(since)
            .fetch_all(&mut c)
            .await
            .expect("query")
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.expect("connect");
        sqlx::query_as(sql)
            .bind(repo)
            .bind(since)
            .fetch_all(&mut c)
            .await
            .expect("query")
    }
}

/// The count on the severity chip `sev` in `html` (0 when there is none).
fn chip(html: &str, sev: &str) -> i64 {
    let marker = format!("data-severity=\"{sev}\" data-count=\"");
    match html.find(&marker) {
        Some(at) => {
            let rest = &html[at + marker.len()..];
            rest[..rest.find('"').expect("end")]
                .parse()
                .expect("a number")
        }
        None => 0,
    }
}

const SEVERITY_NAMES: [&str; 4] = ["critical", "major", "minor", "nit"];

#[tokio::test]
async fn signed_out_page_offers_github_login() {
    let app = spawn_app(true).await;
    let html = page(&app.get("/", None).await);
    assert!(html.contains("href=\"/auth/github/login\""), "{html}");
    assert!(html.contains("Login with GitHub"));
    assert!(!html.contains("csrf_token"));
    // A stale or forged cookie is just "signed out".
    let html = page(&app.get("/", Some("nectr_session=deadbeef")).await);
    assert!(html.contains("Login with GitHub"));
}

#[tokio::test]
async fn signed_out_page_explains_how_to_turn_login_on() {
    let app = spawn_app(false).await;
    let html = page(&app.get("/", None).await);
    assert!(html.contains("GITHUB_CLIENT_ID"), "{html}");
    assert!(html.contains("GITHUB_CLIENT_SECRET"));
    assert!(html.contains(&format!("{}/auth/github/callback", app.url)));
    assert!(
        !html.contains("/auth/github/login"),
        "no login link: {html}"
    );
}

#[tokio::test]
async fn signed_in_page_lists_repositories_and_events() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let hubot = app.user(2002, "hubot", "gho_hubot_token", "repo").await;
    app.fake.add_repo("octo/beta");
    let alpha = app.install("octo/alpha", &me).await;
    app.install("octo/gamma", &hubot).await;
    app.seed_events(alpha, "octo/alpha").await;
    // An `issues` event a worker recorded in the knowledge graph.
    let store = &app.state.store;
    let t = server::now() - 300;
    let issue = NewEvent {
        delivery_id: "delivery-issue-5".into(),
        event: "issues".into(),
        action: Some("opened".into()),
        repo: "octo/alpha".into(),
        pr_number: None,
        head_sha: None,
        installation_id: Some(alpha),
        ignore_reason: None,
        payload: b"{}".to_vec(),
    };
    let Recorded::Inserted(issue_id) = store.record_delivery(&issue, t).await.unwrap() else {
        panic!("issue event not inserted");
    };
    let claimed = store
        .claim_next("dashboard-test", 300, 5, t + 1)
        .await
        .unwrap();
    assert_eq!(claimed.map(|c| c.id), Some(issue_id));
    assert!(
        store
            .complete(issue_id, "dashboard-test", t + 2)
            .await
            .unwrap()
    );
    let cookie = app.session_cookie(&me).await;

    let html = page(&app.get("/", Some(&cookie)).await);
    assert!(html.contains("@octocat"), "{html}");
    // The overview collapses the rows that need no attention (the issue recorded in the
    // graph, the ignored PR 9) into one line; /events?noise=1 shows them.
    assert!(!html.contains("Recorded in the knowledge graph."), "{html}");
    assert!(html.contains("data-hidden=\"2\""), "{html}");
    assert!(html.contains("href=\"/events?noise=1\""));
    let all = page(&app.get("/events?noise=1", Some(&cookie)).await);
    let recorded = row(&all, "Recorded in the knowledge graph.");
    assert!(
        recorded.contains("<span class=\"badge\">Recorded</span>") && recorded.contains("issues"),
        "{recorded}"
    );
    // Logout: a POST form with the session's CSRF token.
    assert!(html.contains("method=\"post\" action=\"/auth/logout\""));
    let csrf = csrf_from(&html);
    assert_eq!(csrf.len(), 64);
    assert!(!html.contains("id=\"scope-banner\"") && !html.contains("id=\"reauth-banner\""));

    // Repositories: mine connected (Disconnect), another's connected (no buttons), one free.
    let alpha_row = row(&html, "data-repo=\"octo/alpha\"");
    assert!(alpha_row.contains("action=\"/repos/octo/alpha/disconnect\""));
    assert!(alpha_row.contains(&format!("value=\"{csrf}\"")));
    assert!(!alpha_row.contains("class=\"connect\""));
    let beta_row = row(&html, "data-repo=\"octo/beta\"");
    assert!(beta_row.contains("action=\"/repos/octo/beta/connect\""));
    assert!(beta_row.contains("Not connected"));
    let gamma_row = row(&html, "data-repo=\"octo/gamma\"");
    assert!(gamma_row.contains("Connected by @hubot"), "{gamma_row}");
    assert!(!gamma_row.contains("<form"), "{gamma_row}");

    // Events: a review link, a failure in red with its reason, an ignore reason.
    let done = row(&html, "href=\"https://github.com/octo/alpha/pull/7\"");
    assert!(done.contains("status-done"), "{done}");
    assert!(done.contains(&format!("href=\"{REVIEW_URL}\"")), "{done}");
    assert!(done.contains("3 findings"));
    assert!(done.contains("pull_request") && done.contains("opened"));
    assert!(done.contains("<time datetime=\""));
    let failed = row(&html, "href=\"https://github.com/octo/alpha/pull/8\"");
    assert!(failed.contains("status-failed"), "{failed}");
    assert!(failed.contains("Failed"));
    assert!(failed.contains("GitHub answered 500"));
    assert!(!html.contains("href=\"https://github.com/octo/alpha/pull/9\""));
    let ignored = row(&all, "href=\"https://github.com/octo/alpha/pull/9\"");
    assert!(ignored.contains("status-ignored"));
    assert!(ignored.contains("draft pull request"));
}

#[tokio::test]
async fn untrusted_text_is_escaped() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let alpha = app.install("octo/alpha", &me).await;
    app.seed_events(alpha, "octo/alpha").await;
    // A repository name no GitHub would send, as a forged payload could carry it.
    app.record(
        alpha,
        "evil/<script>alert(2)</script>",
        1,
        None,
        server::now(),
    )
    .await;
    let cookie = app.session_cookie(&me).await;

    for path in [
        "/",
        "/events?noise=1",
        "/repos/octo/alpha",
        "/repos/octo/alpha/pull/8",
    ] {
        let html = page(&app.get(path, Some(&cookie)).await);
        assert!(!html.contains("<script"), "{path}: {html}");
        assert!(!html.contains("<img"), "{path}: {html}");
        assert!(!html.contains("href=\"https://github.com/evil"), "{path}");
        assert!(!html.contains("href=\"/repos/evil"), "{path}");
    }
    let html = page(&app.get("/events?noise=1", Some(&cookie)).await);
    assert!(html.contains("&lt;script&gt;alert(&#39;failed&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("evil/&lt;script&gt;alert(2)&lt;/script&gt;"));
}

#[tokio::test]
async fn form_posts_without_the_right_csrf_token_are_refused() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    app.fake.add_repo("octo/alpha");
    let connected = app.install("octo/beta", &me).await;
    let cookie = app.session_cookie(&me).await;
    let csrf = csrf_from(&page(&app.get("/", Some(&cookie)).await));
    app.fake.clear_requests();

    let no_field = app
        .post_form("/repos/octo/alpha/connect", Some(&cookie), "", &[])
        .await;
    let empty = app
        .post_form(
            "/repos/octo/alpha/connect",
            Some(&cookie),
            "csrf_token=",
            &[],
        )
        .await;
    let wrong = app
        .post_form(
            "/repos/octo/alpha/connect",
            Some(&cookie),
            &format!("csrf_token={}", "0".repeat(64)),
            &[],
        )
        .await;
    let not_a_form = raw_http::send(
        "POST",
        &format!("{}/repos/octo/alpha/connect", app.url),
        &[
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/json"),
        ],
        Some(format!("{{\"csrf_token\":\"{csrf}\"}}").as_bytes()),
    )
    .await;
    let cross_site = app
        .post_form(
            "/repos/octo/alpha/connect",
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[("Sec-Fetch-Site", "cross-site")],
        )
        .await;
    let wrong_disconnect = app
        .post_form(
            "/repos/octo/beta/disconnect",
            Some(&cookie),
            "csrf_token=nope",
            &[],
        )
        .await;
    for r in [
        &no_field,
        &empty,
        &wrong,
        &not_a_form,
        &cross_site,
        &wrong_disconnect,
    ] {
        assert_eq!(r.status, 403, "{}", r.text());
        assert_security_headers(r);
        assert!(r.text().contains("nothing was changed"), "{}", r.text());
        assert!(r.header("set-cookie").is_none());
    }
    let signed_out = app
        .post_form(
            "/repos/octo/alpha/connect",
            None,
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(signed_out.status, 401, "{}", signed_out.text());
    assert_security_headers(&signed_out);

    // Nothing reached GitHub and nothing changed.
    assert!(app.fake.requests().is_empty(), "{:?}", app.fake.requests());
    assert!(app.fake.hooks("octo/alpha").is_empty());
    assert_eq!(app.fake.hooks("octo/beta").len(), 1);
    let store = &app.state.store;
    assert!(
        store
            .active_installation_for_repo("octo/alpha")
            .await
            .unwrap()
            .is_none()
    );
    let beta = store
        .active_installation_for_repo("octo/beta")
        .await
        .unwrap()
        .expect("still connected");
    assert_eq!(beta.installation.id, connected);
}

#[tokio::test]
async fn connect_and_disconnect_through_the_forms() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    app.fake.add_repo("octo/alpha");
    let cookie = app.session_cookie(&me).await;
    let html = page(&app.get("/", Some(&cookie)).await);
    let csrf = csrf_from(&html);
    assert!(row(&html, "data-repo=\"octo/alpha\"").contains("class=\"connect\""));

    let r = app
        .post_form(
            "/repos/octo/alpha/connect",
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/"));
    assert_security_headers(&r);
    let flash = flash_cookie(&r);

    let hooks = app.fake.hooks("octo/alpha");
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(
        hooks[0].config["url"].as_str(),
        Some(format!("{}/api/v1/webhooks/github", app.url).as_str())
    );
    let installed = app
        .state
        .store
        .active_installation_for_repo("octo/alpha")
        .await
        .unwrap()
        .expect("installation recorded");
    assert_eq!(installed.installation.webhook_id, hooks[0].id as i64);

    // The next page shows the outcome once and clears the flash cookie.
    let r = app.get("/", Some(&format!("{cookie}; {flash}"))).await;
    let html = page(&r);
    assert!(
        html.contains("Connected octo/alpha: Nectr now reviews its pull requests."),
        "{html}"
    );
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "set-cookie" && v.starts_with("nectr_flash=;")),
        "{r:?}"
    );
    let alpha = row(&html, "data-repo=\"octo/alpha\"");
    assert!(alpha.contains("class=\"disconnect\""), "{alpha}");
    assert!(alpha.contains(&format!("webhook #{}", hooks[0].id)));

    let r = app
        .post_form(
            "/repos/octo/alpha/disconnect",
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(app.fake.hooks("octo/alpha").is_empty());
    assert!(
        app.state
            .store
            .active_installation_for_repo("octo/alpha")
            .await
            .unwrap()
            .is_none()
    );
    let flash = flash_cookie(&r);
    let html = page(&app.get("/", Some(&format!("{cookie}; {flash}"))).await);
    assert!(html.contains("Disconnected octo/alpha"), "{html}");
    assert!(row(&html, "data-repo=\"octo/alpha\"").contains("class=\"connect\""));
}

#[tokio::test]
async fn repositories_the_user_does_not_administer_have_no_connect_button() {
    let app = spawn_app(true).await;
    let token = "gho_reader_token";
    app.fake
        .add_token(token, "reader", Access::ReadOnly, "repo, read:user");
    let reader = app.user(3003, "reader", token, "repo, read:user").await;
    app.fake.add_repo("octo/alpha");
    let cookie = app.session_cookie(&reader).await;

    let html = page(&app.get("/", Some(&cookie)).await);
    let alpha = row(&html, "data-repo=\"octo/alpha\"");
    assert!(!alpha.contains("<form"), "{alpha}");
    assert!(alpha.contains("Only an admin of this repository can connect it."));

    // A hand-made post still gets GitHub's answer, shown as an error flash.
    let csrf = csrf_from(&html);
    let r = app
        .post_form(
            "/repos/octo/alpha/connect",
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    let flash = flash_cookie(&r);
    let html = page(&app.get("/", Some(&format!("{cookie}; {flash}"))).await);
    assert!(html.contains("class=\"flash err\""), "{html}");
    assert!(
        html.contains("you are not an admin of octo/alpha"),
        "{html}"
    );
    assert!(app.fake.hooks("octo/alpha").is_empty());
}

#[tokio::test]
async fn a_revoked_token_asks_to_sign_in_again() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let alpha = app.install("octo/alpha", &me).await;
    app.seed_events(alpha, "octo/alpha").await;

    // Already flagged: no call to GitHub at all.
    app.state
        .store
        .mark_needs_reauth(me.id, server::now())
        .await
        .unwrap();
    let cookie = app.session_cookie(&me).await;
    app.fake.clear_requests();
    let html = page(&app.get("/", Some(&cookie)).await);
    assert!(
        html.contains("GitHub no longer accepts your token — sign in again"),
        "{html}"
    );
    assert!(html.contains("href=\"/auth/github/login\" id=\"reauth-login\""));
    assert!(app.fake.requests().is_empty());
    // The events still show.
    assert!(html.contains("href=\"https://github.com/octo/alpha/pull/8\""));

    // Not flagged yet, but GitHub answers 401: the banner, and the user is flagged.
    let revoked = app
        .user(4004, "revoked", "gho_token_github_forgot", "repo")
        .await;
    assert!(!revoked.needs_reauth);
    let cookie = app.session_cookie(&revoked).await;
    let html = page(&app.get("/", Some(&cookie)).await);
    assert!(html.contains("GitHub no longer accepts your token — sign in again"));
    let flagged = app.state.store.get_user(revoked.id).await.unwrap().unwrap();
    assert!(flagged.needs_reauth);
}

#[tokio::test]
async fn a_token_without_the_repo_scope_is_explained() {
    let app = spawn_app(true).await;
    let token = "gho_narrow_token";
    app.fake
        .add_token(token, "narrow", Access::Write, "read:user");
    let user = app.user(5005, "narrow", token, "read:user").await;
    app.fake.add_repo("octo/alpha");
    let cookie = app.session_cookie(&user).await;
    let html = page(&app.get("/", Some(&cookie)).await);
    assert!(html.contains("id=\"scope-banner\""), "{html}");
    assert!(html.contains("lacks the <code>repo</code> scope"));
    assert!(html.contains("<code>read:user</code>"));
}

#[tokio::test]
async fn github_unavailable_still_shows_the_events() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let alpha = app.install("octo/alpha", &me).await;
    app.seed_events(alpha, "octo/alpha").await;
    app.fake.inject(Fault {
        method: "GET",
        path_contains: "/user/repos",
        kind: FaultKind::Status(502),
        times: 100,
    });
    let cookie = app.session_cookie(&me).await;
    let html = page(&app.get("/", Some(&cookie)).await);
    assert!(html.contains("id=\"repos-error\""), "{html}");
    assert!(html.contains("The repository list could not be loaded."));
    assert!(!html.contains("id=\"reauth-banner\""));
    assert!(html.contains("href=\"https://github.com/octo/alpha/pull/7\""));
    assert!(html.contains(&format!("href=\"{REVIEW_URL}\"")));
}

#[tokio::test]
async fn unknown_routes_are_still_not_found() {
    let app = spawn_app(true).await;
    let r = app.get("/nope", None).await;
    assert_eq!(r.status, 404);
    let r = app.get("/repos/octo/alpha/connect", None).await;
    assert_eq!(r.status, 405);
}

/// Seeds `repo` for the page tests: PR 10 reviewed ten days ago (2 findings); PR 7 reviewed
/// (3 findings), delivered again within the hour (a duplicate) and once more later, when
/// the worker found the review by its marker (recorded again with 0 findings); PR 8 failed
/// (token revoked); PR 9 ignored. Returns (installation, failed event id).
async fn seed(app: &App, me: &User, repo: &str) -> (i64, i64) {
    let inst = app.install(repo, me).await;
    let t = server::now() - 3 * 3600;
    let old = server::now() - 10 * 86_400;
    let ten = app.record_pr(inst, repo, 10, "d-10", old).await;
    app.review_with(ten, repo, 10, 100, 2, ten_detail(), old + 40)
        .await;
    let first = app.record_pr(inst, repo, 7, "d-7a", t).await;
    app.review_with(first, repo, 7, 99, 3, seven_detail(), t + 30)
        .await;
    let failed = app.record_pr(inst, repo, 8, "d-8", t + 100).await;
    app.fail(failed, REVOKED, t + 101).await;
    app.record(inst, repo, 9, Some(IGNORED_REASON), t + 200)
        .await;
    let dup = app.record_pr(inst, repo, 7, "d-7b", t + 300).await;
    let status = app
        .state
        .store
        .get_event(dup)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status, EventStatus::Duplicate);
    let again = app.record_pr(inst, repo, 7, "d-7c", t + 4000).await;
    app.review(again, repo, 7, 99, 0, t + 4010).await;
    // Dismissals in Nectr's threads: debug.rust-dbg three times on two files (one comment
    // redelivered), a secret rule once; and one on a repository that is not the user's.
    let store = &app.state.store;
    for (rule, path, comment, new) in [
        ("debug.rust-dbg", "src/a.rs", 501, true),
        ("debug.rust-dbg", "src/b.rs", 502, true),
        ("debug.rust-dbg", "src/a.rs", 503, true),
        ("debug.rust-dbg", "src/a.rs", 501, false),
        ("secret.generic-api-key", "config/<b>.env", 504, true),
    ] {
        let recorded = store
            .record_dismissal(
                &NewDismissal {
                    repo: repo.to_owned(),
                    pr_number: Some(7),
                    rule: rule.to_owned(),
                    path: path.to_owned(),
                    comment_id: comment,
                    login: "mona".to_owned(),
                },
                server::now() - 60,
            )
            .await
            .expect("record dismissal");
        assert_eq!(recorded, new, "{rule} {comment}");
    }
    store
        .record_dismissal(
            &NewDismissal {
                repo: "octo/gamma".to_owned(),
                pr_number: Some(1),
                rule: "not.mine".to_owned(),
                path: "x.rs".to_owned(),
                comment_id: 1,
                login: "eve".to_owned(),
            },
            server::now() - 60,
        )
        .await
        .expect("record dismissal");
    (inst, failed)
}

fn finding(sev: &str, rule: &str, path: &str, line: i64, title: &str, inline: bool) -> NewFinding {
    NewFinding {
        path: path.to_owned(),
        line,
        end_line: None,
        severity: sev.to_owned(),
        source: if rule == "llm" { "llm" } else { "rules" }.to_owned(),
        rule: rule.to_owned(),
        title: title.to_owned(),
        inline,
    }
}

fn note(kind: &str, label: &str, detail: &str) -> NewNote {
    NewNote {
        kind: kind.to_owned(),
        label: label.to_owned(),
        detail: detail.to_owned(),
    }
}

/// PR 7's review as the worker records it: hostile text in a path, a title and notes.
fn seven_detail() -> ReviewDetail {
    ReviewDetail {
        severities: Some([1, 1, 1, 0]),
        findings: vec![
            finding(
                "critical",
                "secret.github-token",
                "src/<img src=x onerror=alert(3)>.rs",
                2,
                "GitHub token committed <script>alert('t')</script>",
                true,
            ),
            finding(
                "major",
                "llm",
                "src/lib.rs",
                3,
                "Unchecked `unwrap` & \"quotes\"",
                false,
            ),
            finding(
                "minor",
                "debug.rust-dbg",
                "src/lib.rs",
                5,
                "dbg! left in",
                true,
            ),
        ],
        notes: vec![
            note("ai", "no AI review", "no model is configured (rules only)"),
            note("skipped", "Cargo.lock", "lock file"),
            note("skipped", "logo <b>.png", "binary file"),
            note("linear", "ABC-12", "Fix <b>login</b> (In Progress)"),
            note("graph", "earlier pull requests on these files", "2"),
            note("unavailable", "sentry: timed out after 10s", ""),
        ],
    }
}

fn ten_detail() -> ReviewDetail {
    ReviewDetail {
        severities: Some([0, 0, 2, 0]),
        findings: vec![
            finding(
                "minor",
                "debug.rust-dbg",
                "src/x.rs",
                1,
                "dbg! left in",
                true,
            ),
            finding(
                "minor",
                "debug.rust-dbg",
                "src/x.rs",
                9,
                "dbg! left in",
                true,
            ),
        ],
        notes: Vec::new(),
    }
}

async fn seed_alpha(app: &App, me: &User) -> (i64, i64) {
    seed(app, me, "octo/alpha").await
}

async fn counts_agree_with_the_database(url: String) {
    let app = spawn_app_on(&url, true, 0).await;
    let me = app.octocat().await;
    seed_alpha(&app, &me).await;
    let cookie = app.session_cookie(&me).await;
    let db = &app.db_url;
    let now = server::now();
    // One GitHub review counts once, with the findings it was posted with.
    const REVIEWS: &str = "SELECT COUNT(*) FROM reviews r WHERE LOWER(r.repo) = $1 \
        AND r.created_at >= $2 AND r.id = (SELECT MIN(r0.id) FROM reviews r0 \
        WHERE r0.repo = r.repo AND r0.review_id = r.review_id)";
    const FINDINGS: &str = "SELECT CAST(COALESCE(SUM(r.findings), 0) AS BIGINT) FROM reviews r \
        WHERE LOWER(r.repo) = $1 AND r.created_at >= $2 AND r.id = (SELECT MIN(r0.id) \
        FROM reviews r0 WHERE r0.repo = r.repo AND r0.review_id = r.review_id)";
    const EVENTS: &str = "SELECT COUNT(*) FROM events WHERE LOWER(repo) = $1 AND created_at >= $2";
    const NOISE: &str = "SELECT COUNT(*) FROM events WHERE LOWER(repo) = $1 AND created_at >= $2 \
        AND (status IN ('ignored', 'duplicate') OR (status = 'done' AND event = 'issues'))";
    const PRS: &str = "SELECT COUNT(DISTINCT pr_number) FROM events WHERE LOWER(repo) = $1 \
        AND created_at >= $2 AND pr_number IS NOT NULL";
    const PR7_EVENTS: &str = "SELECT COUNT(*) FROM events WHERE LOWER(repo) = $1 \
        AND created_at >= $2 AND pr_number = 7";
    let repo = "octo/alpha";

    // The overview: findings of the last 7 days, and how many quiet rows are collapsed.
    let html = page(&app.get("/", Some(&cookie)).await);
    let week = db_count(db, FINDINGS, repo, now - 7 * 86_400).await;
    assert_eq!(week, 3, "PR 7's review, once; PR 10's is older");
    let alpha = row(&html, "data-repo=\"octo/alpha\"");
    assert!(alpha.contains(&format!("data-count=\"{week}\"")), "{alpha}");
    assert_eq!(
        attr_of(&html, "noise-note", "data-hidden"),
        db_count(db, NOISE, repo, 0).await.to_string()
    );
    // The found-again review shows the findings it was posted with, not 0.
    let reused = row(&html, "This head was already reviewed");
    assert!(
        reused.contains("Already reviewed") && reused.contains("3 findings"),
        "{reused}"
    );
    assert!(!html.contains("0 findings"), "{html}");

    // The repository page: per pull request, the latest review's findings by severity.
    let html = page(&app.get("/repos/octo/alpha", Some(&cookie)).await);
    const LATEST: &str = "SELECT CAST(r.pr_number AS TEXT) || ':' || s.sev, s.n FROM reviews r \
        JOIN (SELECT id, 'critical' AS sev, critical AS n FROM reviews \
              UNION ALL SELECT id, 'major', major FROM reviews \
              UNION ALL SELECT id, 'minor', minor FROM reviews \
              UNION ALL SELECT id, 'nit', nit FROM reviews) s ON s.id = r.id \
        WHERE LOWER(r.repo) = $1 AND r.created_at >= $2 AND s.n IS NOT NULL \
        AND r.id = (SELECT MIN(r0.id) FROM reviews r0 WHERE r0.repo = r.repo \
                    AND r0.review_id = r.review_id) \
        AND r.created_at = (SELECT MAX(r1.created_at) FROM reviews r1 WHERE r1.repo = r.repo \
                    AND r1.pr_number = r.pr_number AND r1.id = (SELECT MIN(r2.id) \
                    FROM reviews r2 WHERE r2.repo = r1.repo AND r2.review_id = r1.review_id))";
    let latest = db_pairs(db, LATEST, repo, 0).await;
    assert!(latest.len() >= 8, "{latest:?}");
    for (key, n) in &latest {
        let (pr, sev) = key.split_once(':').expect("pr:severity");
        let line = row(&html, &format!("data-pr=\"{pr}\""));
        assert_eq!(chip(line, sev), *n, "PR {pr} {sev}: {line}");
    }
    assert_eq!(
        count_of(&html, "stat-prs"),
        db_count(db, PRS, repo, 0).await
    );
    assert_eq!(
        count_of(&html, "stat-reviews"),
        db_count(db, REVIEWS, repo, 0).await
    );
    assert_eq!(count_of(&html, "stat-reviews"), 2);
    assert_eq!(
        count_of(&html, "stat-findings"),
        db_count(db, FINDINGS, repo, 0).await
    );
    assert_eq!(count_of(&html, "stat-findings"), 5);
    assert_eq!(
        count_of(&html, "stat-events"),
        db_count(db, EVENTS, repo, 0).await
    );

    // The pull request page.
    let html = page(&app.get("/repos/octo/alpha/pull/7", Some(&cookie)).await);
    assert_eq!(count_of(&html, "stat-reviews"), 1);
    assert_eq!(count_of(&html, "stat-findings"), 3);
    assert_eq!(
        count_of(&html, "stat-events"),
        db_count(db, PR7_EVENTS, repo, 0).await
    );
    // Its findings, listed by severity, one item per stored finding.
    const PR7_FINDINGS: &str = "SELECT f.severity, COUNT(*) FROM review_findings f \
        JOIN reviews r ON r.id = f.review_row WHERE LOWER(r.repo) = $1 AND r.pr_number = 7 \
        AND r.created_at >= $2 GROUP BY f.severity";
    let stored = db_pairs(db, PR7_FINDINGS, repo, 0).await;
    assert_eq!(stored.iter().map(|(_, n)| n).sum::<i64>(), 3, "{stored:?}");
    for sev in SEVERITY_NAMES {
        let listed = match html.find(&format!("<ul class=\"findings\" data-severity=\"{sev}\">")) {
            Some(at) => {
                let list = &html[at..at + html[at..].find("</ul>").expect("list end")];
                list.matches("<li class=\"finding\">").count() as i64
            }
            None => 0,
        };
        let want = stored.iter().find(|(s, _)| s == sev).map_or(0, |(_, n)| *n);
        assert_eq!(listed, want, "{sev} on the pull request page");
    }

    // Events: all of them, and without the quiet ones.
    let html = page(&app.get("/events?noise=1", Some(&cookie)).await);
    let all = db_count(db, EVENTS, repo, 0).await;
    assert_eq!(
        attr_of(&html, "events-total", "data-total"),
        all.to_string()
    );
    let html = page(&app.get("/events", Some(&cookie)).await);
    let quiet = all - db_count(db, NOISE, repo, 0).await;
    assert_eq!(
        attr_of(&html, "events-total", "data-total"),
        quiet.to_string()
    );

    // The team view (12 weeks).
    let html = page(&app.get("/team", Some(&cookie)).await);
    assert_eq!(
        count_of(&html, "stat-reviews"),
        db_count(db, REVIEWS, repo, 0).await
    );
    assert_eq!(
        count_of(&html, "stat-findings"),
        db_count(db, FINDINGS, repo, 0).await
    );
    // Delivery to review: 30 s and 40 s.
    assert!(
        html.contains("<strong>30 s</strong>median delivery to review"),
        "{html}"
    );
    // Findings by severity over the 12 weeks' reviews, each GitHub review once.
    const BY_SEVERITY: &str = "SELECT s.sev, CAST(COALESCE(SUM(s.n), 0) AS BIGINT) FROM reviews r \
        JOIN (SELECT id, 'critical' AS sev, critical AS n FROM reviews \
              UNION ALL SELECT id, 'major', major FROM reviews \
              UNION ALL SELECT id, 'minor', minor FROM reviews \
              UNION ALL SELECT id, 'nit', nit FROM reviews) s ON s.id = r.id \
        WHERE LOWER(r.repo) = $1 AND r.created_at >= $2 \
        AND r.id = (SELECT MIN(r0.id) FROM reviews r0 WHERE r0.repo = r.repo \
                    AND r0.review_id = r.review_id) GROUP BY s.sev";
    let severities = &html[html.find("id=\"team-severities\"").expect("severities")..];
    let severities = &severities[..severities.find("</p>").expect("end")];
    let by_severity = db_pairs(db, BY_SEVERITY, repo, 0).await;
    assert_eq!(by_severity.iter().map(|(_, n)| n).sum::<i64>(), 5);
    for (sev, n) in &by_severity {
        assert_eq!(chip(severities, sev), *n, "{sev}: {severities}");
    }
    // The most-dismissed rules: one row per (repository, rule), counted like the database,
    // nothing from repositories that are not the user's.
    const DISMISSED: &str = "SELECT rule, COUNT(*) FROM dismissals WHERE repo_key = $1 \
        AND created_at >= $2 GROUP BY rule";
    let dismissed = db_pairs(db, DISMISSED, repo, 0).await;
    assert_eq!(dismissed.len(), 2, "{dismissed:?}");
    for (rule, n) in &dismissed {
        let line = row(&html, &format!("data-rule=\"{rule}\""));
        assert!(line.contains(&format!("data-count=\"{n}\"")), "{line}");
        assert!(line.contains("data-repo=\"octo/alpha\""), "{line}");
    }
    let dbg = row(&html, "data-rule=\"debug.rust-dbg\"");
    assert!(dbg.contains("data-count=\"3\""), "{dbg}");
    // Most dismissed first; another user's repository is not shown.
    assert!(html.find("debug.rust-dbg") < html.find("secret.generic-api-key"));
    assert!(!html.contains("not.mine"), "{html}");
}

backend_tests!(
    counts_agree_with_the_database,
    reviews_are_recorded_and_rereviews_never_double_post
);

#[tokio::test]
async fn repository_and_pull_request_pages() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let (_, failed) = seed_alpha(&app, &me).await;
    let cookie = app.session_cookie(&me).await;

    let html = page(&app.get("/repos/octo/alpha", Some(&cookie)).await);
    // Newest activity first: 7 (redelivered), 9, 8, 10; title and author from the delivery.
    let order: Vec<usize> = [
        "data-pr=\"7\"",
        "data-pr=\"9\"",
        "data-pr=\"8\"",
        "data-pr=\"10\"",
    ]
    .iter()
    .map(|m| html.find(m).unwrap_or_else(|| panic!("no {m} in {html}")))
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let seven = row(&html, "data-pr=\"7\"");
    assert!(
        seven.contains("Change 7") && seven.contains("@mona"),
        "{seven}"
    );
    assert!(seven.contains("href=\"/repos/octo/alpha/pull/7\""));
    assert!(html.contains("checked on GitHub"), "{html}");

    let html = page(&app.get("/repos/octo/alpha/pull/8", Some(&cookie)).await);
    assert!(
        html.contains("Change 8") && html.contains("By @mona"),
        "{html}"
    );
    let failed_row = row(&html, &format!("data-event-id=\"{failed}\""));
    // In plain words, with what to do; the raw text behind a disclosure; a Retry button
    // whose accessible name says which event.
    assert!(
        failed_row.contains("@octocat must sign in to Nectr again; then press Retry"),
        "{failed_row}"
    );
    assert!(failed_row.contains("<summary>Technical detail</summary>"));
    assert!(failed_row.contains(&format!("action=\"/events/{failed}/retry\"")));
    assert!(failed_row.contains(&format!(
        "aria-label=\"Retry event {failed} (octo/alpha #8)\""
    )));
    assert!(html.contains("aria-label=\"Re-review octo/alpha #8\""));
    assert!(html.contains("id=\"no-reviews\""));

    let html = page(&app.get("/repos/octo/alpha/pull/7", Some(&cookie)).await);
    assert!(html.contains("href=\"https://github.com/octo/alpha/pull/7#pullrequestreview-99\""));
    assert!(html.contains("found again by its marker"), "{html}");
    // The duplicate or the found-again delivery, with why it was skipped.
    assert!(html.contains("status-done") && html.contains("Already reviewed"));

    // Someone else's repository, a bad name, a bad number: a styled 404 that says what to do.
    for path in [
        "/repos/octo/gamma",
        "/repos/octo/../pull/1",
        "/repos/octo/alpha/pull/x",
    ] {
        let r = app.get(path, Some(&cookie)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_security_headers(&r);
        assert!(
            r.text().contains("The overview lists your repositories"),
            "{}",
            r.text()
        );
    }
    // Signed out: asked to sign in, coming back here after.
    let r = app.get("/repos/octo/alpha/pull/7", None).await;
    assert_eq!(r.status, 401);
    assert!(
        r.text()
            .contains("href=\"/auth/github/login?next=%2Frepos%2Focto%2Falpha%2Fpull%2F7\""),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn the_pull_request_page_lists_findings_skipped_files_and_context_escaped() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    seed_alpha(&app, &me).await;
    let cookie = app.session_cookie(&me).await;
    let html = page(&app.get("/repos/octo/alpha/pull/7", Some(&cookie)).await);
    // Nothing from the pull request or a model becomes markup.
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    let detail = &html[html
        .find("<article class=\"review-detail\"")
        .expect("a review")..];
    let detail = &detail[..detail.find("</article>").expect("end")];
    assert!(detail.contains("data-review-id=\"99\""), "{detail}");
    // By severity, most severe first, with the rule, the place and where it was posted.
    let order: Vec<usize> = ["<h4>Critical", "<h4>Major", "<h4>Minor"]
        .iter()
        .map(|h| {
            detail
                .find(h)
                .unwrap_or_else(|| panic!("no {h} in {detail}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(!detail.contains("<h4>Nit"));
    assert!(detail.contains(
        "<code class=\"place\">src/&lt;img src=x onerror=alert(3)&gt;.rs:2</code> GitHub token committed &lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;"
    ), "{detail}");
    // Code spans in titles show as code; everything else stays text.
    assert!(
        detail.contains("Unchecked <code>unwrap</code> &amp; &quot;quotes&quot;"),
        "{detail}"
    );
    assert!(detail.contains("AI · in the summary"), "{detail}");
    assert!(detail.contains("<code class=\"rule muted\">secret.github-token</code>"));
    // Files not reviewed and why; the context used; the model (or why none).
    assert!(
        detail.contains("<code>logo &lt;b&gt;.png</code> — binary file"),
        "{detail}"
    );
    assert!(detail.contains("<code>Cargo.lock</code> — lock file"));
    assert!(
        detail.contains("ABC-12 — Fix &lt;b&gt;login&lt;/b&gt; (In Progress)"),
        "{detail}"
    );
    assert!(detail.contains("Knowledge graph</span> earlier pull requests on these files — 2"));
    assert!(detail.contains("Unavailable</span> sentry: timed out after 10s"));
    assert!(detail.contains("AI: no AI review — no model is configured (rules only)"));
    // The reviews table shows the severities too; the found-again record has no details.
    assert_eq!(html.matches("<article class=\"review-detail\"").count(), 1);
    let table_row = row(&html, "<td class=\"num\" data-label=\"Findings\">3");
    assert_eq!(chip(table_row, "critical"), 1, "{table_row}");

    // A review recorded before this server kept findings says so instead of listing none.
    let inst = app
        .state
        .store
        .active_installation_for_repo("octo/alpha")
        .await
        .unwrap()
        .unwrap()
        .installation
        .id;
    let old = app
        .record_pr(inst, "octo/alpha", 11, "d-11", server::now() - 100)
        .await;
    app.review(old, "octo/alpha", 11, 111, 4, server::now() - 90)
        .await;
    let html = page(&app.get("/repos/octo/alpha/pull/11", Some(&cookie)).await);
    assert!(
        html.contains("Recorded before this server kept findings"),
        "{html}"
    );
}

/// Runs SQL binding one id, on SQLite or PostgreSQL by the URL.
async fn db_exec(db_url: &str, sql: &'static str, id: i64) {
    use sqlx::Connection;
    if db_url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(db_url)
            .await
            .expect("connect");
        sqlx::query(sql)
            .bind(id)
            .execute(&mut c)
            .await
            .expect("exec");
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.expect("connect");
        sqlx::query(sql)
            .bind(id)
            .execute(&mut c)
            .await
            .expect("exec");
    }
}

/// A worker reviews a pull request: its findings, by severity, are stored with the review
/// and listed on the pull request page, the counts agreeing with the database. Then
/// Re-review: with the same findings it edits the review in place (no second review); with
/// new ones it posts a new review — and when the worker dies after posting it and before
/// recording it, the retry finds that review by its run id in the marker and does not post
/// a third, even though the pull request now gives yet other findings.
async fn reviews_are_recorded_and_rereviews_never_double_post(url: String) {
    let app = spawn_app_on(&url, true, 1).await;
    let me = app.octocat().await;
    let repo = "octo/alpha";
    let inst = app.install(repo, &me).await;
    // One finding, and a binary file the review skips.
    let binary = "diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..1111111\nBinary files /dev/null and b/logo.png differ\n";
    app.add_pull_diff(repo, 7, &format!("{}{binary}", dbg_files(1)));
    let first = app.record_pr(inst, repo, 7, "d-7", server::now()).await;
    let done = app.settled(first).await;
    assert_eq!(done.status, EventStatus::Done, "{done:?}");
    assert_eq!(app.fake.reviews(repo, 7).len(), 1);
    let cookie = app.session_cookie(&me).await;
    let html = page(&app.get("/repos/octo/alpha/pull/7", Some(&cookie)).await);
    const STORED: &str = "SELECT f.rule, COUNT(*) FROM review_findings f \
        JOIN reviews r ON r.id = f.review_row WHERE LOWER(r.repo) = $1 AND r.created_at >= $2 \
        GROUP BY f.rule";
    let stored = db_pairs(&app.db_url, STORED, repo, 0).await;
    assert_eq!(stored, vec![("debug.rust-dbg".to_owned(), 1)], "{html}");
    assert_eq!(html.matches("<li class=\"finding\">").count(), 1, "{html}");
    assert!(
        html.contains("<code class=\"rule muted\">debug.rust-dbg</code>"),
        "{html}"
    );
    let minor = db_count(
        &app.db_url,
        "SELECT CAST(COALESCE(SUM(minor), 0) AS BIGINT) FROM reviews WHERE LOWER(repo) = $1 \
         AND created_at >= $2",
        repo,
        0,
    )
    .await;
    let table_row = row(&html, "data-review-id=");
    assert_eq!(chip(table_row, "minor"), minor, "{table_row}");
    assert!(html.contains("AI: no AI review"), "{html}");
    assert!(
        html.contains("<code>logo.png</code> — binary file"),
        "{html}"
    );
    let csrf = csrf_from(&html);

    let (app, cookie, csrf) = (&app, &cookie, &csrf);
    let rereview = || async move {
        let r = app
            .post_form(
                "/repos/octo/alpha/pull/7/rereview",
                Some(cookie),
                &format!("csrf_token={csrf}"),
                &[],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text());
        let actions = app
            .state
            .store
            .dashboard_actions_for(repo, Some(7), 1)
            .await
            .unwrap();
        actions[0].new_event_id.expect("queued")
    };
    // Same findings: the summary is edited in place, as a normal re-run on the same head
    // would; the marker now names this re-review's run.
    let again = rereview().await;
    assert_eq!(app.settled(again).await.status, EventStatus::Done);
    let reviews = app.fake.reviews(repo, 7);
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    let delivery = app
        .state
        .store
        .get_event(again)
        .await
        .unwrap()
        .unwrap()
        .delivery_id;
    assert!(
        reviews[0].body.contains(&format!("\"run\":\"{delivery}\"")),
        "{}",
        reviews[0].body
    );

    // New findings on the same head (a model answering differently): a new review.
    app.add_pull_diff(repo, 7, &dbg_files(2));
    let second = rereview().await;
    assert_eq!(app.settled(second).await.status, EventStatus::Done);
    assert_eq!(app.fake.reviews(repo, 7).len(), 2);
    // The worker "dies" after posting, before recording: the event is still running under
    // a lease that expired, and nothing of its review is in the database.
    db_exec(&app.db_url, "DELETE FROM review_findings WHERE review_row IN (SELECT id FROM reviews WHERE event_id = $1)", second).await;
    db_exec(
        &app.db_url,
        "DELETE FROM review_notes WHERE review_row IN (SELECT id FROM reviews WHERE event_id = $1)",
        second,
    )
    .await;
    db_exec(
        &app.db_url,
        "DELETE FROM reviews WHERE event_id = $1",
        second,
    )
    .await;
    db_exec(
        &app.db_url,
        "UPDATE events SET status = 'running', lease_owner = 'dead-worker', lease_expires_at = 1 WHERE id = $1",
        second,
    )
    .await;
    // Meanwhile the pull request would give yet other findings.
    app.add_pull_diff(repo, 7, &dbg_files(3));
    app.state.queue_wake.notify_one();
    let retried = app.settled(second).await;
    assert_eq!(retried.status, EventStatus::Done, "{retried:?}");
    assert_eq!(retried.attempts, 2);
    let reviews = app.fake.reviews(repo, 7);
    assert_eq!(reviews.len(), 2, "posted twice: {reviews:?}");
    // Recorded from the marker of the review it found: the findings it was posted with.
    let html = page(&app.get("/repos/octo/alpha/pull/7", Some(cookie)).await);
    let newest = &html[html.find("<article class=\"review-detail\"").unwrap()..];
    let newest = &newest[..newest.find("</article>").unwrap()];
    assert!(newest.contains("data-findings=\"2\""), "{newest}");
    assert_eq!(
        newest.matches("<li class=\"finding\">").count(),
        2,
        "{newest}"
    );
}

#[tokio::test]
async fn settings_are_saved_from_the_repository_page_and_recorded() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    seed_alpha(&app, &me).await;
    let cookie = app.session_cookie(&me).await;
    let store = &app.state.store;
    let html = page(&app.get("/repos/octo/alpha", Some(&cookie)).await);
    let csrf = csrf_from(&html);
    // Today's behaviour by default: every trigger and the AI on, drafts as .nectr.yml says.
    let form = &html[html
        .find("id=\"settings-form\"")
        .expect("the settings form")..];
    let form = &form[..form.find("</form>").expect("form end")];
    for id in [
        "set-opened",
        "set-synchronize",
        "set-reopened",
        "set-ready",
        "set-comments",
        "set-ai",
    ] {
        let input = &form[form.find(&format!("id=\"{id}\"")).expect(id)..];
        assert!(
            input[..input.find('>').unwrap()].contains("checked"),
            "{id}: {form}"
        );
        // Every control has a label naming it.
        assert!(form.contains(&format!("<label for=\"{id}\">")), "{id}");
    }
    assert!(
        form.contains("<option value=\"config\" selected>"),
        "{form}"
    );
    assert!(form.contains("aria-label=\"Save the settings of octo/alpha\""));
    assert_eq!(
        store.repo_settings("octo/alpha").await.unwrap(),
        store::RepoSettings::default()
    );

    // Without the token, or from another site: refused, nothing saved.
    let wanted = "on_opened=on&on_reopened=on&on_ready_for_review=on&drafts=no";
    for (body, extra) in [
        (wanted.to_owned(), vec![]),
        (
            format!("csrf_token={csrf}&{wanted}"),
            vec![("Sec-Fetch-Site", "cross-site")],
        ),
    ] {
        let r = app
            .post_form("/repos/octo/alpha/settings", Some(&cookie), &body, &extra)
            .await;
        assert_eq!(r.status, 403, "{}", r.text());
    }
    assert_eq!(
        store.repo_settings("octo/alpha").await.unwrap(),
        store::RepoSettings::default()
    );
    // A value the form does not offer: nothing saved, and the page says so.
    let r = app
        .post_form(
            "/repos/octo/alpha/settings",
            Some(&cookie),
            &format!("csrf_token={csrf}&drafts=always"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    let html = page(
        &app.get(
            "/repos/octo/alpha",
            Some(&format!("{cookie}; {}", flash_cookie(&r))),
        )
        .await,
    );
    assert!(html.contains("nothing was changed"), "{html}");
    assert_eq!(
        store.repo_settings("octo/alpha").await.unwrap(),
        store::RepoSettings::default()
    );

    // Saved: synchronize, comments and the AI off, drafts not reviewed.
    let r = app
        .post_form(
            "/repos/octo/alpha/settings",
            Some(&cookie),
            &format!("csrf_token={csrf}&{wanted}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/repos/octo/alpha"));
    let saved = store.repo_settings("OCTO/alpha").await.unwrap();
    assert_eq!(
        saved,
        store::RepoSettings {
            ai_enabled: false,
            drafts: store::DraftsSetting::No,
            on_opened: true,
            on_synchronize: false,
            on_reopened: true,
            on_ready_for_review: true,
            on_comments: false,
        }
    );
    let html = page(
        &app.get(
            "/repos/octo/alpha",
            Some(&format!("{cookie}; {}", flash_cookie(&r))),
        )
        .await,
    );
    assert!(html.contains("Saved the settings of octo/alpha"), "{html}");
    assert!(html.contains("<option value=\"no\" selected>"));
    let form = &html[html.find("id=\"settings-form\"").unwrap()..];
    let ai = &form[form.find("id=\"set-ai\"").unwrap()..];
    assert!(!ai[..ai.find('>').unwrap()].contains("checked"));
    // On record, with what changed.
    let actions = store
        .dashboard_actions_for("octo/alpha", None, 10)
        .await
        .unwrap();
    let change = actions
        .iter()
        .find(|a| a.action == "settings")
        .expect("recorded");
    assert_eq!(
        change.detail.as_deref(),
        Some("AI review off, drafts: not reviewed, synchronize off, comment commands off")
    );
    assert!(row(&html, "class=\"action\"").contains("Settings"));
    // The same again changes nothing and records nothing.
    let r = app
        .post_form(
            "/repos/octo/alpha/settings",
            Some(&cookie),
            &format!("csrf_token={csrf}&{wanted}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        store
            .dashboard_actions_for("octo/alpha", None, 10)
            .await
            .unwrap()
            .len(),
        actions.len()
    );
    // Someone else's repository: not found, nothing saved.
    let r = app
        .post_form(
            "/repos/octo/gamma/settings",
            Some(&cookie),
            &format!("csrf_token={csrf}&{wanted}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        store.repo_settings("octo/gamma").await.unwrap(),
        store::RepoSettings::default()
    );
}

#[tokio::test]
async fn events_are_filtered_and_paged() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let (alpha, failed) = seed_alpha(&app, &me).await;
    let t = server::now() - 7200;
    for n in 0..55u64 {
        app.record(
            alpha,
            "octo/alpha",
            1000 + n as i64,
            Some("draft"),
            t + n as i64,
        )
        .await;
    }
    let cookie = app.session_cookie(&me).await;
    let html = page(&app.get("/events?noise=1", Some(&cookie)).await);
    let total: i64 = attr_of(&html, "events-total", "data-total")
        .parse()
        .unwrap();
    assert!(total > 55);
    assert_eq!(html.matches("<tr class=\"event ").count(), 50);
    assert!(
        html.contains("href=\"/events?noise=1&amp;page=2\" rel=\"next\""),
        "{html}"
    );
    let html = page(&app.get("/events?noise=1&page=2", Some(&cookie)).await);
    assert_eq!(
        html.matches("<tr class=\"event ").count() as i64,
        total - 50
    );
    assert!(html.contains("rel=\"prev\""));
    assert!(!html.contains("rel=\"next\""));

    let html = page(&app.get("/events?status=failed", Some(&cookie)).await);
    assert_eq!(attr_of(&html, "events-total", "data-total"), "1");
    assert!(html.contains(&format!("data-event-id=\"{failed}\"")));
    assert!(html.contains("<option value=\"failed\" selected>"));
    let html = page(
        &app.get(
            "/events?status=ignored&repo=octo/alpha&kind=pull_request",
            Some(&cookie),
        )
        .await,
    );
    assert_eq!(attr_of(&html, "events-total", "data-total"), "56");
    let html = page(&app.get("/events?kind=issues", Some(&cookie)).await);
    assert_eq!(attr_of(&html, "events-total", "data-total"), "0");
    // Nonsense filters are ignored rather than refused.
    let html = page(
        &app.get("/events?status=%3Cx%3E&page=-3&repo=..%2F..", Some(&cookie))
            .await,
    );
    assert!(!html.contains("<x>"));
}

#[tokio::test]
async fn retry_rereview_and_reconnect_are_protected_and_recorded() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let (_, failed) = seed_alpha(&app, &me).await;
    let cookie = app.session_cookie(&me).await;
    let csrf = csrf_from(&page(&app.get("/", Some(&cookie)).await));
    let store = &app.state.store;

    // Without the token: refused, nothing changed.
    for path in [
        format!("/events/{failed}/retry"),
        "/repos/octo/alpha/pull/7/rereview".to_owned(),
        "/repos/octo/alpha/reconnect".to_owned(),
    ] {
        let r = app
            .post_form(&path, Some(&cookie), "csrf_token=nope", &[])
            .await;
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert!(r.text().contains("nothing was changed"));
    }
    assert_eq!(
        store.get_event(failed).await.unwrap().unwrap().status,
        EventStatus::Failed
    );

    // Retry: back to the queue, attempts reset, the cleared error on record.
    let r = app
        .post_form(
            &format!("/events/{failed}/retry"),
            Some(&cookie),
            &format!("csrf_token={csrf}&back=%2Frepos%2Focto%2Falpha%2Fpull%2F8"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/repos/octo/alpha/pull/8"));
    let ev = store.get_event(failed).await.unwrap().unwrap();
    assert_eq!(
        (ev.status, ev.attempts, ev.error),
        (EventStatus::Pending, 0, None)
    );
    let flash = flash_cookie(&r);
    let html = page(
        &app.get(
            "/repos/octo/alpha/pull/8",
            Some(&format!("{cookie}; {flash}")),
        )
        .await,
    );
    assert!(html.contains("is queued again"), "{html}");
    // Work is pending: the page refreshes itself (no script; the CSP is unchanged).
    assert!(html.contains("<meta http-equiv=\"refresh\" id=\"live-refresh\" content=\"5\">"));
    let actions = row(&html, "class=\"action\"");
    assert!(
        actions.contains("@octocat")
            && actions.contains("Retry")
            && actions.contains("must sign in"),
        "{actions}"
    );
    // Retrying what has not failed changes nothing.
    let r = app
        .post_form(
            &format!("/events/{failed}/retry"),
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(
        store
            .dashboard_actions_for("octo/alpha", Some(8), 10)
            .await
            .unwrap()
            .len()
            == 1
    );
    // Someone else's or no event: 404.
    let r = app
        .post_form(
            "/events/999999/retry",
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 404);

    // Re-review: a new pending event for PR 7's head, marked for the worker.
    let r = app
        .post_form(
            "/repos/octo/alpha/pull/7/rereview",
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let actions = store
        .dashboard_actions_for("octo/alpha", Some(7), 10)
        .await
        .unwrap();
    assert_eq!(actions.len(), 1);
    let queued = store
        .get_event(actions[0].new_event_id.expect("new event"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.status, EventStatus::Pending);
    assert_eq!(
        queued.action.as_deref(),
        Some(server::dashboard::REREVIEW_ACTION)
    );
    assert_eq!(queued.head_sha, Some(head_of(7)));
    assert_eq!(queued.pr_number, Some(7));

    // Reconnect: the hook disappears on GitHub; the page says so and offers Reconnect.
    let hook = app.fake.hooks("octo/alpha")[0].id;
    let gone = raw_http::send(
        "DELETE",
        &format!("{}/repos/octo/alpha/hooks/{hook}", app.fake.url),
        &[("Authorization", format!("token {OCTOCAT_TOKEN}").as_str())],
        None,
    )
    .await;
    assert_eq!(gone.status, 204, "{}", gone.text());
    // (The page's check is cached for a minute; Reconnect asks GitHub itself.)
    let r = app
        .post_form(
            "/repos/octo/alpha/reconnect",
            Some(&cookie),
            &format!("csrf_token={csrf}"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let hooks = app.fake.hooks("octo/alpha");
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_ne!(hooks[0].id, hook);
    let installed = store
        .active_installation_for_repo("octo/alpha")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installed.installation.webhook_id, hooks[0].id as i64);
    let flash = flash_cookie(&r);
    let after = page(&app.get("/", Some(&format!("{cookie}; {flash}"))).await);
    assert!(after.contains("Reconnected octo/alpha"), "{after}");
    let actions = store
        .dashboard_actions_for("octo/alpha", None, 10)
        .await
        .unwrap();
    assert!(
        actions.iter().any(|a| a.action == "reconnect"
            && a.detail.as_deref().is_some_and(|d| d.contains("was gone"))),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_webhook_gone_on_github_is_shown_with_reconnect() {
    let app = spawn_app(true).await;
    let me = app.octocat().await;
    let alpha = app.install("octo/alpha", &me).await;
    let _ = alpha;
    let hook = app.fake.hooks("octo/alpha")[0].id;
    raw_http::send(
        "DELETE",
        &format!("{}/repos/octo/alpha/hooks/{hook}", app.fake.url),
        &[("Authorization", format!("token {OCTOCAT_TOKEN}").as_str())],
        None,
    )
    .await;
    let cookie = app.session_cookie(&me).await;
    let html = page(&app.get("/", Some(&cookie)).await);
    let alpha = row(&html, "data-repo=\"octo/alpha\"");
    assert!(alpha.contains("Webhook gone on GitHub"), "{alpha}");
    assert!(
        alpha.contains("aria-label=\"Reconnect octo/alpha\""),
        "{alpha}"
    );
    assert!(
        alpha.contains("aria-label=\"Disconnect octo/alpha\""),
        "{alpha}"
    );
    let html = page(&app.get("/repos/octo/alpha", Some(&cookie)).await);
    assert!(html.contains("id=\"hook-missing\""), "{html}");
}

#[tokio::test]
async fn error_pages_are_styled_for_browsers_and_json_for_api_clients() {
    let app = spawn_app(true).await;
    let r = app.get("/no/such/page", None).await;
    assert_eq!(r.status, 404);
    assert_security_headers(&r);
    assert!(
        r.text().contains("<style>") && r.text().contains("id=\"back-home\""),
        "{}",
        r.text()
    );
    let r = raw_http::send(
        "GET",
        &format!("{}/no/such/page", app.url),
        &[("Accept", "application/json")],
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"].is_string(), "{}", r.text());

    // The sign-in error: styled, code as code, and no suggestion of a page that does not exist.
    let r = app
        .get("/auth/github/login?next=//evil.example", None)
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("<style>") && text.contains("<code>next</code>"),
        "{text}"
    );
    assert!(!text.contains('`') && !text.contains("/repos"), "{text}");
}

// ---------------------------------------------------------------------------------------
// Headless Chromium
// ---------------------------------------------------------------------------------------

mod browser {
    use super::*;
    use anyhow::{Context as _, ensure};
    use fantoccini::{Client, ClientBuilder, Locator};
    use std::collections::HashSet;
    use std::path::PathBuf;

    const WAIT: Duration = Duration::from_secs(20);

    fn chromedriver() -> Option<String> {
        std::env::var("NECTR_TEST_CHROMEDRIVER")
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Where screenshots go: `NECTR_SCREENSHOT_DIR`, or `target/screenshots/`.
    fn screenshot_dir() -> PathBuf {
        std::env::var_os("NECTR_SCREENSHOT_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"))
    }

    /// Headless Chromium, a desktop window (1280 px) or a phone's viewport (390 px).
    async fn chromium(driver: &str, width: u32) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        let mut options = json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1280,1024"
        ]});
        if width < 1280 {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": 844, "pixelRatio": 2.0, "touch": true}
            });
        }
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(driver)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot start Chromium through chromedriver at {driver}: {e}")
            })
    }

    async fn text(c: &Client, css: &str) -> anyhow::Result<String> {
        Ok(c.wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))?
            .text()
            .await?)
    }

    async fn click(c: &Client, css: &str) -> anyhow::Result<()> {
        c.wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))?
            .click()
            .await?;
        Ok(())
    }

    /// Waits until `css` exists and its text contains `want` (a click's page may still be
    /// the old one for a moment).
    async fn wait_text(c: &Client, css: &str, want: &str) -> anyhow::Result<()> {
        let mut last = String::new();
        for _ in 0..80 {
            if let Ok(e) = c.find(Locator::Css(css)).await
                && let Ok(t) = e.text().await
            {
                if t.contains(want) {
                    return Ok(());
                }
                last = t;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("{css} never showed {want:?} (last: {last:?})")
    }

    /// `assert_eq!` that returns an error instead of panicking, so the browser is closed.
    macro_rules! ensure_eq {
        ($left:expr, $right:expr) => {
            match (&$left, &$right) {
                (left, right) => anyhow::ensure!(left == right, "{left:?} != {right:?}"),
            }
        };
    }

    /// Reloads `url` until `css` holds `want` (the page also refreshes itself while work is
    /// pending; reloading here only makes the wait shorter).
    async fn reload_until(c: &Client, url: &str, css: &str, want: &str) -> anyhow::Result<()> {
        let mut last = String::new();
        for _ in 0..120 {
            c.goto(url).await?;
            if let Ok(e) = c.find(Locator::Css(css)).await {
                last = e.text().await?;
                if last.contains(want) {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("{css} on {url} never showed {want:?} (last: {last:?})")
    }

    /// The checks every page gets at every width, then its screenshot: nothing wider than
    /// the window, and every button with an accessible name, unique among a table's rows.
    async fn check_page(c: &Client, name: &str, width: u32) -> anyhow::Result<()> {
        let sizes = c
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await?;
        let scroll = sizes[0].as_i64().unwrap_or(i64::MAX);
        let inner = sizes[1].as_i64().unwrap_or(0);
        // What sticks out, for the error message.
        let wide = c
            .execute(
                "const w = arguments[0]; return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > w + 1).slice(-5).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
                vec![json!(width)],
            )
            .await?;
        ensure!(
            scroll <= inner,
            "{name} at {width} px overflows: scrollWidth {scroll} > innerWidth {inner} ({wide})"
        );
        ensure!(
            width >= 1280 || inner == width as i64,
            "{name}: innerWidth {inner}, wanted {width} (wider than that: {wide})"
        );
        let mut row_names = HashSet::new();
        for b in c.find_all(Locator::Css("button")).await? {
            let label = match b.attr("aria-label").await? {
                Some(l) => l,
                None => b.text().await?,
            };
            ensure!(
                !label.trim().is_empty(),
                "{name}: a button without an accessible name"
            );
        }
        for b in c.find_all(Locator::Css("tr button")).await? {
            let label = b.attr("aria-label").await?.unwrap_or_default();
            ensure!(
                !label.is_empty(),
                "{name}: a row's button has no aria-label"
            );
            ensure!(
                row_names.insert(label.clone()),
                "{name}: two row buttons are named {label:?}"
            );
        }
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("{name}-{width}.png")),
            c.screenshot().await?,
        )?;
        Ok(())
    }

    async fn flow(
        c: &Client,
        app: &App,
        session_value: &str,
        failed: i64,
        width: u32,
    ) -> anyhow::Result<()> {
        let base = app.url.clone();
        // Signed out first; that also puts the browser on the server's origin for the cookie.
        c.goto(&format!("{base}/")).await?;
        let login = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("a#login"))
            .await?;
        ensure_eq!(login.text().await?, "Login with GitHub");
        check_page(c, "signed-out", width).await?;

        let mut cookie =
            fantoccini::cookies::Cookie::new(session::SESSION_COOKIE, session_value.to_owned());
        cookie.set_path("/");
        cookie.set_domain("127.0.0.1");
        cookie.set_http_only(true);
        // As the server sets it; fantoccini would send SameSite=None, which Chromium refuses
        // on a cookie that is not Secure.
        cookie.set_same_site(cookie::SameSite::Lax);
        c.add_cookie(cookie).await?;
        c.goto(&format!("{base}/")).await?;
        ensure_eq!(text(c, "#login-name").await?, "@octocat");

        // The webhook of octo/beta was deleted on GitHub: the overview says so; Reconnect.
        let state = text(c, "tr[data-repo=\"octo/beta\"] td.state").await?;
        ensure!(state.contains("Webhook gone on GitHub"), "{state}");
        check_page(c, "overview", width).await?;
        let old_hook = app.fake.hooks("octo/beta").len();
        ensure_eq!(old_hook, 0);
        click(c, "button[aria-label=\"Reconnect octo/beta\"]").await?;
        wait_text(c, "#flash", "Reconnected octo/beta").await?;
        ensure_eq!(app.fake.hooks("octo/beta").len(), 1);
        let state = text(c, "tr[data-repo=\"octo/beta\"] td.state").await?;
        ensure!(state.contains("checked on GitHub"), "{state}");

        // The failure in plain words, and Retry (the token works again now).
        let row = format!("tr[data-event-id=\"{failed}\"]");
        let reason = text(c, &format!("{row} .reason.plain")).await?;
        ensure!(
            reason.contains("@octocat must sign in to Nectr again"),
            "{reason}"
        );
        let retry = c.find(Locator::Css(&format!("{row} button.retry"))).await?;
        ensure_eq!(
            retry.attr("aria-label").await?.unwrap_or_default(),
            format!("Retry event {failed} (octo/beta #8)")
        );
        retry.click().await?;
        wait_text(c, "#flash", "is queued again").await?;
        reload_until(
            c,
            &format!("{base}/repos/octo/beta/pull/8"),
            &format!("{row} .badge"),
            "Reviewed",
        )
        .await?;
        ensure_eq!(app.fake.reviews("octo/beta", 8).len(), 1);
        ensure_eq!(text(c, "#stat-reviews strong").await?, "1");
        check_page(c, "pull-request", width).await?;

        // The repository page, then PR 7 from it, and Re-review.
        c.goto(&format!("{base}/")).await?;
        click(c, "tr[data-repo=\"octo/beta\"] a.repo-page").await?;
        let seven = text(c, "tr[data-pr=\"7\"]").await?;
        ensure!(
            seven.contains("Change 7") && seven.contains("@mona"),
            "{seven}"
        );
        check_page(c, "repository", width).await?;
        click(c, "tr[data-pr=\"7\"] a.pr-page").await?;
        ensure_eq!(text(c, "#stat-reviews strong").await?, "1");
        let rereview = c.find(Locator::Css("button.rereview")).await?;
        ensure_eq!(
            rereview.attr("aria-label").await?.unwrap_or_default(),
            "Re-review octo/beta #7"
        );
        rereview.click().await?;
        wait_text(c, "#flash", "queued for a new review").await?;
        reload_until(
            c,
            &format!("{base}/repos/octo/beta/pull/7"),
            "#stat-reviews strong",
            "2",
        )
        .await?;
        ensure_eq!(app.fake.reviews("octo/beta", 7).len(), 1);
        let actions = text(c, "#actions").await?;
        ensure!(
            actions.contains("Re-review") && actions.contains("@octocat"),
            "{actions}"
        );
        // The new review's findings, by severity, with the rule; hostile text as text.
        let newest = text(c, "article.review-detail").await?;
        ensure!(
            newest.contains("Minor (2)") && newest.contains("debug.rust-dbg"),
            "{newest}"
        );
        ensure_eq!(
            c.find_all(Locator::Css(
                "article.review-detail:first-of-type li.finding"
            ))
            .await?
            .len(),
            2
        );
        ensure!(
            c.find_all(Locator::Css(
                "article.review-detail img, article.review-detail script"
            ))
            .await?
            .is_empty()
        );
        let seeded = text(c, "article.review-detail[data-review-id=\"99\"]").await?;
        ensure!(
            seeded.contains("<script>alert('t')</script>") && seeded.contains("logo <b>.png"),
            "{seeded}"
        );
        check_page(c, "pull-request-rereviewed", width).await?;
        // The same page scrolled to the findings (the screenshot shows what is in view).
        c.execute(
            "document.querySelector('article.review-detail').scrollIntoView();",
            vec![],
        )
        .await?;
        check_page(c, "pull-request-findings", width).await?;

        // The repository's settings: every control labelled; turn synchronize, drafts and
        // the AI off, by the controls' names, and save.
        c.goto(&format!("{base}/repos/octo/beta")).await?;
        let unlabelled = c
            .execute(
                "return Array.from(document.querySelectorAll('#settings-form input:not([type=hidden]), #settings-form select')).filter(e => !e.labels || e.labels.length === 0 || !e.labels[0].innerText.trim()).map(e => e.id);",
                vec![],
            )
            .await?;
        ensure_eq!(unlabelled, json!([]));
        ensure_eq!(
            c.find_all(Locator::Css("#settings-form input[type=checkbox]:checked"))
                .await?
                .len(),
            6
        );
        click(c, "#set-synchronize").await?;
        click(c, "#set-ai").await?;
        c.find(Locator::Css("#set-drafts"))
            .await?
            .select_by_value("no")
            .await?;
        c.execute(
            "document.getElementById('settings').scrollIntoView();",
            vec![],
        )
        .await?;
        check_page(c, "repository-settings", width).await?;
        click(c, "button[aria-label=\"Save the settings of octo/beta\"]").await?;
        wait_text(c, "#flash", "Saved the settings of octo/beta").await?;
        let saved = app.state.store.repo_settings("octo/beta").await?;
        ensure!(
            !saved.ai_enabled && !saved.on_synchronize && saved.on_opened,
            "{saved:?}"
        );
        ensure_eq!(saved.drafts, store::DraftsSetting::No);
        ensure!(
            !c.find(Locator::Css("#set-ai")).await?.is_selected().await?,
            "the AI box is ticked after saving it off"
        );
        ensure!(text(c, "#actions").await?.contains("Settings"));

        // Events: filter to failures (none left), then everything.
        click(c, "nav a[href=\"/events\"]").await?;
        c.find(Locator::Css("select[name=\"status\"]"))
            .await?
            .select_by_value("failed")
            .await?;
        click(c, "#apply-filters").await?;
        wait_text(c, "#events-total", "No events match").await?;
        ensure!(
            c.current_url()
                .await?
                .query()
                .unwrap_or("")
                .contains("status=failed")
        );
        c.goto(&format!("{base}/events?noise=1")).await?;
        ensure!(text(c, "#events-total").await?.starts_with("Showing 1–"));
        check_page(c, "events", width).await?;

        // The team view, with the most-dismissed rules.
        click(c, "nav a[href=\"/team\"]").await?;
        text(c, "#weekly table").await?;
        let dbg = text(c, "tr.dismissed-rule[data-rule=\"debug.rust-dbg\"]").await?;
        ensure!(dbg.contains('3'), "{dbg}");
        check_page(c, "team", width).await?;
        c.execute(
            "document.getElementById('dismissed').scrollIntoView();",
            vec![],
        )
        .await?;
        check_page(c, "team-dismissed", width).await?;

        // Connect and disconnect a free repository, by its accessible name.
        c.goto(&format!("{base}/")).await?;
        click(c, "button[aria-label=\"Connect octo/alpha\"]").await?;
        wait_text(c, "#flash", "Connected octo/alpha").await?;
        ensure_eq!(app.fake.hooks("octo/alpha").len(), 1);
        click(c, "button[aria-label=\"Disconnect octo/alpha\"]").await?;
        wait_text(c, "#flash", "Disconnected octo/alpha").await?;
        ensure!(app.fake.hooks("octo/alpha").is_empty());

        // A page that does not exist: a styled page, not JSON.
        c.goto(&format!("{base}/no/such/page")).await?;
        text(c, "#back-home").await?;
        check_page(c, "not-found", width).await?;

        // Log out: the form posts to the auth module's POST /auth/logout.
        c.goto(&format!("{base}/")).await?;
        click(c, "#logout").await?;
        c.wait()
            .at_most(WAIT)
            .for_element(Locator::Css("a#login"))
            .await?;
        ensure_eq!(c.current_url().await?.path(), "/");
        let r = app
            .get("/", Some(&format!("nectr_session={session_value}")))
            .await;
        ensure!(r.status == 200 && r.text().contains("Login with GitHub"));
        Ok(())
    }

    async fn run_at(width: u32) {
        let Some(driver) = chromedriver() else {
            eprintln!(
                "skipped: set NECTR_TEST_CHROMEDRIVER to a chromedriver URL (e.g. http://127.0.0.1:9515) to run the browser test"
            );
            return;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite://{}", dir.path().join("nectr.db").display());
        // No workers while the test seeds the queue by hand; one afterwards, to review what
        // Retry and Re-review queue.
        let app = spawn_app_on(&db, true, 0).await;
        let me = app.octocat().await;
        app.fake.add_repo("octo/alpha");
        let (_, failed) = seed(&app, &me, "octo/beta").await;
        let (_stop_worker, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(server::worker::Worker::new(app.state.clone(), 0).run(stop));
        app.add_pull("octo/beta", 8);
        // PR 7's re-review finds `dbg!`s in a file with a long path (wrapping at 390 px).
        app.add_pull_diff(
            "octo/beta",
            7,
            &dbg_diff(
                "src/a/rather/deeply/nested/module/directory/that/keeps/going/further/and_a_long_file_name.rs",
                2,
            ),
        );
        // The webhook is deleted on GitHub behind Nectr's back.
        let hook = app.fake.hooks("octo/beta")[0].id;
        let gone = raw_http::send(
            "DELETE",
            &format!("{}/repos/octo/beta/hooks/{hook}", app.fake.url),
            &[("Authorization", format!("token {OCTOCAT_TOKEN}").as_str())],
            None,
        )
        .await;
        assert_eq!(gone.status, 204, "{}", gone.text());
        let cookie = app.session_cookie(&me).await;
        let session_value = cookie
            .strip_prefix("nectr_session=")
            .expect("session cookie")
            .to_owned();

        let client = chromium(&driver, width).await;
        let result = flow(&client, &app, &session_value, failed, width).await;
        if result.is_err()
            && let Ok(source) = client.source().await
        {
            eprintln!("page at failure:\n{source}");
        }
        let _ = client.close().await;
        drop(dir);
        result.expect("browser flow");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_page_and_action_in_chromium_at_1280_px() {
        run_at(1280).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_page_and_action_in_chromium_at_390_px() {
        run_at(390).await;
    }
}
