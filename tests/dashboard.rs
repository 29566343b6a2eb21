//! The dashboard (`GET /`, `POST /repos/{owner}/{name}/connect|disconnect`) against the real
//! app: `nectr::server::serve` on 127.0.0.1:0, a SQLite store in a temp dir and the fake
//! GitHub as `GITHUB_API_URL`.
//!
//! The HTTP tests always run. The browser test drives headless Chromium through chromedriver
//! and runs only when `NECTR_TEST_CHROMEDRIVER` is its URL (`.ci/run` starts one on
//! `http://127.0.0.1:9515`); otherwise it says it is skipped and passes.

mod support;

use std::time::Duration;

use nectr::crypto::{Keyring, generate_key};
use nectr::server::{self, AppState, OAuthApp, ServerConfig, WorkerConfig, owners, session};
use nectr::store::{self, NewEvent, NewInstallation, NewReviewRecord, NewUser, Recorded, User};
use support::fake_github::{Access, FakeGitHub, Fault, FaultKind};
use support::raw_http::{self, HttpResponse};

const SERVER_URL: &str = "https://github.com";
const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";
const FAILED_REASON: &str =
    "GitHub answered 500 <script>alert('failed')</script> while fetching the diff";
const IGNORED_REASON: &str = "draft pull request <img src=x onerror=alert(1)>";
const REVIEW_URL: &str = "https://github.com/octo/alpha/pull/7#pullrequestreview-99";

struct App {
    /// `http://127.0.0.1:PORT`, also the public URL.
    url: String,
    state: AppState,
    fake: FakeGitHub,
    _dir: tempfile::TempDir,
}

async fn spawn_app(oauth: bool) -> App {
    nectr::github::transport::install_crypto_provider();
    let fake = FakeGitHub::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("nectr.db").display());
    let store = store::connect(&db).await.expect("sqlite store");
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
        // No workers: the tests put events into exactly the states they want.
        workers: 0,
        worker: WorkerConfig::default(),
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
        _dir: dir,
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
        let token = "gho_octocat_dashboard_token";
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
    let recorded = row(&html, "Recorded in the knowledge graph.");
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
    let ignored = row(&html, "href=\"https://github.com/octo/alpha/pull/9\"");
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

    let html = page(&app.get("/", Some(&cookie)).await);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;failed&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(html.contains("evil/&lt;script&gt;alert(2)&lt;/script&gt;"));
    // No link is made from a name that is not a repository's.
    assert!(!html.contains("href=\"https://github.com/evil"));
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

// ---------------------------------------------------------------------------------------
// Headless Chromium
// ---------------------------------------------------------------------------------------

mod browser {
    use super::*;
    use anyhow::ensure;
    use fantoccini::{Client, ClientBuilder, Locator};

    const WAIT: Duration = Duration::from_secs(15);

    fn chromedriver() -> Option<String> {
        std::env::var("NECTR_TEST_CHROMEDRIVER")
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    async fn chromium(driver: &str) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1280,1024"
            ]}),
        );
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
            .await?
            .text()
            .await?)
    }

    async fn click(c: &Client, css: &str) -> anyhow::Result<()> {
        c.wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// `assert_eq!` that returns an error instead of panicking, so the browser is closed.
    macro_rules! ensure_eq {
        ($left:expr, $right:expr) => {
            match (&$left, &$right) {
                (left, right) => anyhow::ensure!(left == right, "{left:?} != {right:?}"),
            }
        };
    }

    async fn flow(c: &Client, app: &App, session_value: &str) -> anyhow::Result<()> {
        // Signed out first; that also puts the browser on the server's origin for the cookie.
        c.goto(&format!("{}/", app.url)).await?;
        let login = c
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css("a#login"))
            .await?;
        ensure_eq!(login.text().await?, "Login with GitHub");
        ensure!(
            login
                .attr("href")
                .await?
                .unwrap_or_default()
                .ends_with("/auth/github/login")
        );

        let mut cookie =
            fantoccini::cookies::Cookie::new(session::SESSION_COOKIE, session_value.to_owned());
        cookie.set_path("/");
        cookie.set_domain("127.0.0.1");
        cookie.set_http_only(true);
        // As the server sets it; fantoccini would send SameSite=None, which Chromium refuses
        // on a cookie that is not Secure.
        cookie.set_same_site(cookie::SameSite::Lax);
        c.add_cookie(cookie).await?;
        c.goto(&format!("{}/", app.url)).await?;
        ensure_eq!(text(c, "#login-name").await?, "@octocat");
        text(c, "tr[data-repo=\"octo/beta\"]").await?;

        // Events of the repository connected earlier: a failure with its reason, a review link.
        let reason = text(c, "tr.status-failed .reason").await?;
        ensure!(reason.contains(FAILED_REASON), "{reason}");
        let review = c.find(Locator::Css("a.review-link")).await?;
        ensure_eq!(review.attr("href").await?.as_deref(), Some(REVIEW_URL));
        ensure!(
            text(c, "tr.status-ignored .reason")
                .await?
                .contains("draft pull request")
        );

        // Connect.
        click(c, "tr[data-repo=\"octo/alpha\"] button.connect").await?;
        text(c, "tr[data-repo=\"octo/alpha\"] button.disconnect").await?;
        ensure!(text(c, "#flash").await?.contains("Connected octo/alpha"));
        ensure_eq!(app.fake.hooks("octo/alpha").len(), 1);
        if let Some(dir) = std::env::var_os("NECTR_TEST_SCREENSHOTS") {
            // For a person to look at the page: `NECTR_TEST_SCREENSHOTS=DIR`.
            std::fs::write(
                std::path::Path::new(&dir).join("dashboard.png"),
                c.screenshot().await?,
            )?;
        }

        // Disconnect.
        click(c, "tr[data-repo=\"octo/alpha\"] button.disconnect").await?;
        text(c, "tr[data-repo=\"octo/alpha\"] button.connect").await?;
        ensure!(text(c, "#flash").await?.contains("Disconnected octo/alpha"));
        ensure!(app.fake.hooks("octo/alpha").is_empty());

        // Log out: the form posts to the auth module's POST /auth/logout.
        click(c, "#logout").await?;
        c.wait()
            .at_most(WAIT)
            .for_element(Locator::Css("a#login"))
            .await?;
        ensure_eq!(c.current_url().await?.path(), "/");
        // The session is over on the server too.
        let r = app
            .get("/", Some(&format!("nectr_session={session_value}")))
            .await;
        ensure!(r.status == 200 && r.text().contains("Login with GitHub"));
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connect_disconnect_and_logout_in_chromium() {
        let Some(driver) = chromedriver() else {
            eprintln!(
                "skipped: set NECTR_TEST_CHROMEDRIVER to a chromedriver URL (e.g. http://127.0.0.1:9515) to run the browser test"
            );
            return;
        };
        let app = spawn_app(true).await;
        let me = app.octocat().await;
        app.fake.add_repo("octo/alpha");
        let beta = app.install("octo/beta", &me).await;
        app.seed_events(beta, "octo/beta").await;
        let cookie = app.session_cookie(&me).await;
        let session_value = cookie
            .strip_prefix("nectr_session=")
            .expect("session cookie")
            .to_owned();

        let client = chromium(&driver).await;
        let result = flow(&client, &app, &session_value).await;
        if result.is_err()
            && let Ok(source) = client.source().await
        {
            eprintln!("page at failure:\n{source}");
        }
        let _ = client.close().await;
        result.expect("browser flow");
    }
}
