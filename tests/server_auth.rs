//! `nectr serve`'s sign-in (OAuth with PKCE through the fake GitHub) and its
//! session-authenticated JSON API, end to end: the real app on 127.0.0.1:0, a raw HTTP/1.1
//! client playing the browser (cookies handled by hand, so every `Set-Cookie` is checked),
//! and the store on SQLite (always) and PostgreSQL (when `NECTR_TEST_POSTGRES_URL` is set;
//! each test gets a fresh database, dropped afterwards).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use nectr::crypto::{Keyring, generate_key};
use nectr::server::auth::{LoginState, open_state, seal_state};
use nectr::server::{self, AppState, OAuthApp, ServerConfig, WorkerConfig, owners};
use nectr::store::{NewEvent, NewInstallation, NewReviewRecord, Store};
use serde_json::{Value, json};
use sha2::Digest;
use support::fake_github::{Access, FakeGitHub};
use support::raw_http::{self, HttpResponse};

const CLIENT_ID: &str = "Iv1.nectr0test0app";
const CLIENT_SECRET: &str = "client-secret-5f0c2d9a7be14e3f9a61c0d8e2b7a4f1";
const REPO: &str = "acme/widgets";

// --- the app under test -------------------------------------------------------------------

struct Options {
    /// `NECTR_PUBLIC_URL` is https (behind a TLS proxy): cookies must be `Secure`.
    https: bool,
    /// `GITHUB_CLIENT_ID` / `GITHUB_CLIENT_SECRET` set.
    oauth: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            https: false,
            oauth: true,
        }
    }
}

struct App {
    /// Where the test connects: `http://127.0.0.1:PORT`.
    url: String,
    /// `NECTR_PUBLIC_URL`: the same, or an https name for the proxy case.
    public_url: String,
    db_url: String,
    state: AppState,
    keyring: Keyring,
    fake: FakeGitHub,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl App {
    async fn start(db_url: &str, options: Options) -> App {
        // Against the fake: no pauses between writes, fast retries.
        // SAFETY (edition 2024): every test sets the same values before any client reads them.
        unsafe {
            std::env::set_var("NECTR_GITHUB_WRITE_GAP_MS", "0");
            std::env::set_var("NECTR_GITHUB_RETRY_BASE_MS", "10");
        }
        let fake = FakeGitHub::start().await;
        fake.set_oauth_app(CLIENT_ID, CLIENT_SECRET);
        fake.add_repo(REPO);
        let store = nectr::store::connect(db_url)
            .await
            .expect("connect the store");
        let keyring = Keyring::from_env_value(&generate_key()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let public_url = if options.https {
            "https://nectr.example.test".to_owned()
        } else {
            url.clone()
        };
        let config = ServerConfig {
            public_url: public_url.clone(),
            api_url: fake.url.clone(),
            server_url: fake.url.clone(),
            oauth: options.oauth.then(|| OAuthApp {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
            }),
            global_webhook_secret: None,
            workers: 0,
            worker: WorkerConfig::default(),
        };
        let state = AppState::new(store, keyring.clone(), config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server::serve(state.clone(), listener, async {
            let _ = rx.await;
        }));
        let task = tokio::spawn(async move {
            serving.await.unwrap().unwrap();
        });
        App {
            url,
            public_url,
            db_url: db_url.to_owned(),
            state,
            keyring,
            fake,
            stop: Some(tx),
            task: Some(task),
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("the server stops within 30 s")
                .unwrap();
        }
    }

    fn browser(&self) -> Browser {
        Browser {
            base: self.url.clone(),
            public: self.public_url.clone(),
            cookies: BTreeMap::new(),
        }
    }

    /// How many code exchanges reached the fake.
    fn token_requests(&self) -> usize {
        self.fake
            .requests()
            .iter()
            .filter(|r| r.path == "/login/oauth/access_token")
            .count()
    }

    /// A browser signed in as `login` (with the `repo` scope).
    async fn signed_in(&self, login: &str) -> Browser {
        self.fake.set_oauth_user(login, "repo");
        let mut b = self.browser();
        let r = b.login().await;
        assert_eq!(r.status, 302, "sign-in as {login}: {}", r.text());
        b
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

// --- a browser: cookies by hand -----------------------------------------------------------

struct Browser {
    base: String,
    public: String,
    cookies: BTreeMap<String, String>,
}

/// Every `Set-Cookie` of a response for cookie `name`.
fn set_cookies<'a>(r: &'a HttpResponse, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}=");
    r.headers
        .iter()
        .filter(|(k, v)| k == "set-cookie" && v.starts_with(&prefix))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| pct_decode(v))
    })
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Browser {
    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn session(&self) -> Option<&str> {
        self.cookies.get("nectr_session").map(String::as_str)
    }

    /// Sends a request with this browser's cookies and keeps the cookies it sets.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpResponse {
        let cookie = self.cookie_header();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(c) = &cookie {
            all.push(("Cookie", c));
        }
        let url = if path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let r = raw_http::send(method, &url, &all, body).await;
        for (k, v) in &r.headers {
            if k != "set-cookie" {
                continue;
            }
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').expect("cookie name=value");
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        r
    }

    async fn get(&mut self, path: &str) -> HttpResponse {
        self.send("GET", path, &[], None).await
    }

    /// A JSON API call: `POST` with the CSRF header (when given) and an empty JSON body.
    async fn api_post(&mut self, path: &str, csrf: Option<&str>) -> HttpResponse {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(c) = csrf {
            headers.push(("X-CSRF-Token", c));
        }
        self.send("POST", path, &headers, Some(b"{}")).await
    }

    /// A plain HTML form post.
    async fn form_post(&mut self, path: &str, form: &str) -> HttpResponse {
        self.send(
            "POST",
            path,
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "text/html"),
            ],
            Some(form.as_bytes()),
        )
        .await
    }

    async fn me(&mut self) -> HttpResponse {
        self.get("/api/v1/me").await
    }

    async fn csrf(&mut self) -> String {
        let r = self.me().await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["csrf_token"].as_str().unwrap().to_owned()
    }

    /// Step 1: our login page; returns GitHub's authorize URL.
    async fn start_login(&mut self) -> String {
        let r = self.get("/auth/github/login").await;
        assert_eq!(r.status, 302, "{}", r.text());
        r.header("location").expect("Location").to_owned()
    }

    /// Step 2: GitHub's authorize page (the fake approves at once); returns the callback
    /// path on our server.
    async fn authorize(&self, authorize_url: &str) -> String {
        let r = raw_http::send("GET", authorize_url, &[], None).await;
        assert_eq!(r.status, 302, "authorize: {}", r.text());
        let location = r.header("location").expect("Location");
        location
            .strip_prefix(&self.public)
            .unwrap_or_else(|| panic!("GitHub sent the browser to {location}"))
            .to_owned()
    }

    /// The whole round trip; returns the callback's answer.
    async fn login(&mut self) -> HttpResponse {
        let authorize = self.start_login().await;
        let callback = self.authorize(&authorize).await;
        self.send("GET", &callback, &[("Accept", "application/json")], None)
            .await
    }
}

// --- the two backends ---------------------------------------------------------------------

backend_tests!(
    login_round_trip_starts_a_fresh_session_each_time,
    cookies_are_secure_behind_https,
    login_needs_oauth_configured,
    next_is_followed_only_on_this_site,
    callback_refuses_forged_or_missing_state_before_exchanging,
    callback_refuses_a_reused_state,
    callback_refuses_a_state_from_another_browser,
    callback_refuses_an_expired_state,
    cancelled_login_is_explained,
    bad_verification_code_is_explained,
    missing_repo_scope_stores_nothing,
    pkce_verifier_is_checked_by_github,
    tokens_and_verifiers_are_encrypted_at_rest,
    logout_needs_csrf_and_ends_the_session,
    api_needs_a_session,
    connect_needs_csrf,
    connect_as_admin_installs_the_webhook,
    form_posts_connect_and_disconnect,
    read_only_user_cannot_connect,
    only_the_connecting_user_disconnects,
    disconnect_removes_the_hook_then_404,
    disconnect_survives_a_hook_deleted_on_github,
    revoked_token_answers_401_and_flags_reauth,
    events_list_only_the_users_repositories,
);

/// Every row of `users` as text, read straight from the database (not through the store).
async fn raw_users(db_url: &str) -> Vec<(i64, String, String, String)> {
    use sqlx::Connection;
    const SQL: &str = "SELECT github_id, login, encrypted_token, scopes FROM users ORDER BY id";
    if db_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
    }
}

/// Every spent sign-in state's id, read straight from the database.
async fn raw_spent_states(db_url: &str) -> Vec<(String,)> {
    use sqlx::Connection;
    const SQL: &str = "SELECT id FROM oauth_states_spent";
    if db_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::query_as(SQL).fetch_all(&mut c).await.unwrap()
    }
}

fn assert_cookie_attrs(set_cookie: &str, max_age: i64, secure: bool) {
    let attrs: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{set_cookie}");
    assert!(attrs.contains(&"SameSite=Lax"), "{set_cookie}");
    assert!(attrs.contains(&"Path=/"), "{set_cookie}");
    assert!(
        attrs.contains(&format!("Max-Age={max_age}").as_str()),
        "{set_cookie}"
    );
    assert_eq!(attrs.contains(&"Secure"), secure, "{set_cookie}");
}

// --- sign-in ------------------------------------------------------------------------------

async fn login_round_trip_starts_a_fresh_session_each_time(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("alice", "repo");
    let mut b = app.browser();

    // Our login page: a pre-login cookie and a redirect to GitHub with state and PKCE.
    let r = b.get("/auth/github/login").await;
    assert_eq!(r.status, 302);
    let login_cookie = set_cookies(&r, "nectr_login");
    assert_eq!(login_cookie.len(), 1);
    assert_cookie_attrs(login_cookie[0], 600, false);
    let cookie_value = b.cookies["nectr_login"].clone();
    assert_eq!(cookie_value.len(), 64, "256 random bits as hex");
    let authorize = r.header("location").unwrap().to_owned();
    assert!(
        authorize.starts_with(&format!("{}/login/oauth/authorize?", app.fake.url)),
        "{authorize}"
    );
    assert_eq!(query_param(&authorize, "client_id").unwrap(), CLIENT_ID);
    assert_eq!(
        query_param(&authorize, "redirect_uri").unwrap(),
        format!("{}/auth/github/callback", app.public_url)
    );
    assert!(
        authorize.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
        "percent-encoded: {authorize}"
    );
    assert_eq!(query_param(&authorize, "scope").unwrap(), "repo");
    let state = query_param(&authorize, "state").unwrap();
    assert!(state.len() >= 32, "at least 128 bits: {state}");
    let challenge = query_param(&authorize, "code_challenge").unwrap();
    assert_eq!(challenge.len(), 43, "base64url of 32 bytes, no padding");
    assert_eq!(
        query_param(&authorize, "code_challenge_method").unwrap(),
        "S256"
    );
    assert!(raw_users(&app.db_url).await.is_empty());

    // GitHub approves; the callback exchanges the code and signs in.
    let callback = b.authorize(&authorize).await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.header("location"), Some("/"));
    let session_cookie = set_cookies(&r, "nectr_session");
    assert_eq!(session_cookie.len(), 1);
    assert_cookie_attrs(session_cookie[0], 14 * 24 * 3600, false);
    assert_cookie_attrs(set_cookies(&r, "nectr_login")[0], 0, false);
    assert!(!b.cookies.contains_key("nectr_login"));
    assert!(!r.text().contains(CLIENT_SECRET));

    // The exchange carried everything GitHub needs, and the verifier fits the challenge.
    let exchanges: Vec<_> = app
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/login/oauth/access_token")
        .collect();
    assert_eq!(exchanges.len(), 1);
    let ex = &exchanges[0];
    assert_eq!(ex.method, "POST");
    assert_eq!(ex.query, "", "nothing secret in the URL");
    assert!(ex.header("accept").unwrap().contains("application/json"));
    let body = ex.body_json().expect("a JSON body");
    assert_eq!(body["client_id"], CLIENT_ID);
    assert_eq!(body["client_secret"], CLIENT_SECRET);
    assert_eq!(
        body["code"].as_str().unwrap(),
        query_param(&callback, "code").unwrap()
    );
    assert_eq!(
        body["redirect_uri"].as_str().unwrap(),
        format!("{}/auth/github/callback", app.public_url)
    );
    let verifier = body["code_verifier"].as_str().unwrap();
    assert!((43..=128).contains(&verifier.len()), "{verifier}");
    assert_eq!(s256(verifier), challenge);

    // The session works.
    let me = b.me().await;
    assert_eq!(me.status, 200, "{}", me.text());
    assert_eq!(me.header("cache-control"), Some("no-store"));
    let me = me.json();
    assert_eq!(me["login"], "alice");
    assert_eq!(me["needs_reauth"], false);
    assert_eq!(me["scopes"], json!(["repo"]));
    let csrf = me["csrf_token"].as_str().unwrap();
    assert_eq!(csrf.len(), 64);
    let first_session = b.session().unwrap().to_owned();

    // Signing in again gives a new session id and ends the old one.
    let r = b.login().await;
    assert_eq!(r.status, 302, "{}", r.text());
    let second_session = b.session().unwrap().to_owned();
    assert_ne!(first_session, second_session);
    assert_eq!(b.me().await.json()["login"], "alice");
    let mut stale = app.browser();
    stale
        .cookies
        .insert("nectr_session".into(), first_session.clone());
    assert_eq!(stale.me().await.status, 401, "the old session is over");
    // Still one user.
    assert_eq!(raw_users(&app.db_url).await.len(), 1);
    app.stop().await;
}

async fn cookies_are_secure_behind_https(db: String) {
    let app = App::start(
        &db,
        Options {
            https: true,
            ..Options::default()
        },
    )
    .await;
    app.fake.set_oauth_user("alice", "repo");
    let mut b = app.browser();
    let r = b.get("/auth/github/login").await;
    assert_cookie_attrs(set_cookies(&r, "nectr_login")[0], 600, true);
    let authorize = r.header("location").unwrap().to_owned();
    assert_eq!(
        query_param(&authorize, "redirect_uri").unwrap(),
        "https://nectr.example.test/auth/github/callback"
    );
    let callback = b.authorize(&authorize).await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_cookie_attrs(set_cookies(&r, "nectr_session")[0], 14 * 24 * 3600, true);
    assert_cookie_attrs(set_cookies(&r, "nectr_login")[0], 0, true);
    assert_eq!(b.me().await.json()["login"], "alice");
    app.stop().await;
}

async fn login_needs_oauth_configured(db: String) {
    let app = App::start(
        &db,
        Options {
            oauth: false,
            ..Options::default()
        },
    )
    .await;
    let mut b = app.browser();
    for path in ["/auth/github/login", "/auth/github/callback?code=x&state=y"] {
        let r = b.get(path).await;
        assert_eq!(r.status, 503, "{path}");
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains("GITHUB_CLIENT_ID") && error.contains("GITHUB_CLIENT_SECRET"),
            "{error}"
        );
        assert!(
            set_cookies(&r, "nectr_login")
                .iter()
                .all(|c| c.contains("Max-Age=0"))
        );
    }
    assert!(app.fake.requests().is_empty());
    app.stop().await;
}

async fn next_is_followed_only_on_this_site(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("alice", "repo");
    for bad in [
        "//evil.example/x",
        "https://evil.example/",
        "/%5Cevil.example",
        "evil",
        "/%09/evil.example",
    ] {
        let mut b = app.browser();
        let r = b.get(&format!("/auth/github/login?next={bad}")).await;
        assert_eq!(r.status, 400, "next={bad}: {}", r.text());
        assert!(r.header("location").is_none());
        assert!(set_cookies(&r, "nectr_login").is_empty());
    }
    let mut b = app.browser();
    let r = b.get("/auth/github/login?next=%2Frepos%3Fpage%3D2").await;
    assert_eq!(r.status, 302);
    let authorize = r.header("location").unwrap().to_owned();
    let callback = b.authorize(&authorize).await;
    let r = b.get(&callback).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(r.header("location"), Some("/repos?page=2"));
    assert_eq!(b.me().await.status, 200);
    app.stop().await;
}

/// A callback request with the browser's cookies and JSON errors.
async fn callback(b: &mut Browser, query: &str) -> HttpResponse {
    b.send(
        "GET",
        &format!("/auth/github/callback{query}"),
        &[("Accept", "application/json")],
        None,
    )
    .await
}

fn assert_refused(r: &HttpResponse, needle: &str) {
    assert_eq!(r.status, 400, "{}", r.text());
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains(needle), "{error}");
    assert!(
        error.contains("/auth/github/login"),
        "says how to start again: {error}"
    );
    assert!(set_cookies(r, "nectr_session").is_empty());
}

async fn callback_refuses_forged_or_missing_state_before_exchanging(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("mallory", "repo");
    let mut b = app.browser();
    let authorize = b.start_login().await;
    let callback_path = b.authorize(&authorize).await;
    let code = query_param(&callback_path, "code").unwrap();
    let forged = "ab".repeat(32);

    let r = callback(&mut b, &format!("?code={code}&state={forged}")).await;
    assert_refused(&r, "unknown, expired or already used");
    let r = callback(
        &mut b,
        &format!("?code={code}&state=1%27%20OR%20%271%27%3D%271"),
    )
    .await;
    assert_refused(&r, "unknown, expired or already used");
    let r = callback(&mut b, &format!("?code={code}")).await;
    assert_refused(&r, "no `state`");
    let r = callback(&mut b, &format!("?code={code}&state=")).await;
    assert_refused(&r, "no `state`");
    let state = query_param(&authorize, "state").unwrap();
    let r = callback(&mut b, &format!("?state={state}")).await;
    assert_refused(&r, "no valid `code`");
    assert_eq!(
        app.token_requests(),
        0,
        "no code exchange for a refused callback"
    );
    assert!(raw_users(&app.db_url).await.is_empty());
    app.stop().await;
}

async fn callback_refuses_a_reused_state(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("alice", "repo");
    let mut b = app.browser();
    let authorize = b.start_login().await;
    let callback_path = b.authorize(&authorize).await;
    let pre_login = b.cookies["nectr_login"].clone();
    let r = b.get(&callback_path).await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(app.token_requests(), 1);
    // Replayed, even with the original pre-login cookie put back.
    let mut replay = app.browser();
    replay.cookies.insert("nectr_login".into(), pre_login);
    let r = callback(
        &mut replay,
        callback_path.trim_start_matches("/auth/github/callback"),
    )
    .await;
    assert_refused(&r, "unknown, expired or already used");
    assert_eq!(app.token_requests(), 1, "the replay reached no one");
    app.stop().await;
}

async fn callback_refuses_a_state_from_another_browser(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("mallory", "repo");
    // Mallory starts a sign-in and gets GitHub's answer for her own account …
    let mut mallory = app.browser();
    let authorize = mallory.start_login().await;
    let callback_path = mallory.authorize(&authorize).await;
    let query = callback_path
        .trim_start_matches("/auth/github/callback")
        .to_owned();
    // … and makes the victim's browser open it (login CSRF). The victim has a pre-login
    // cookie of their own, and one without any cookie is refused too.
    let mut victim = app.browser();
    victim.start_login().await;
    assert!(victim.cookies.contains_key("nectr_login"));
    let r = callback(&mut victim, &query).await;
    assert_refused(&r, "another browser");
    let mut bare = app.browser();
    let authorize2 = mallory.start_login().await;
    let query2 = mallory
        .authorize(&authorize2)
        .await
        .trim_start_matches("/auth/github/callback")
        .to_owned();
    let r = callback(&mut bare, &query2).await;
    assert_refused(&r, "nectr_login cookie is missing");
    assert_eq!(app.token_requests(), 0);
    assert!(victim.session().is_none() && bare.session().is_none());
    // The states are spent: even Mallory's own browser cannot use them now.
    let r = callback(&mut mallory, &query).await;
    assert_refused(&r, "unknown, expired or already used");
    assert_eq!(app.token_requests(), 0);
    app.stop().await;
}

async fn callback_refuses_an_expired_state(db: String) {
    let app = App::start(&db, Options::default()).await;
    let cookie = "cd".repeat(32);
    // Sealed with the server's own key and bound to this cookie, but an hour old.
    let state = seal_state(
        &app.keyring,
        &LoginState::new(&cookie, server::now() - 3600).unwrap(),
    );
    let mut b = app.browser();
    b.cookies.insert("nectr_login".into(), cookie);
    let r = callback(&mut b, &format!("?code=0123456789abcdef0123&state={state}")).await;
    assert_refused(&r, "unknown, expired or already used");
    assert_eq!(app.token_requests(), 0);
    app.stop().await;
}

async fn cancelled_login_is_explained(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.deny_oauth(true);
    let mut b = app.browser();
    let authorize = b.start_login().await;
    let state = query_param(&authorize, "state").unwrap();
    let callback_path = b.authorize(&authorize).await;
    assert_eq!(
        query_param(&callback_path, "error").as_deref(),
        Some("access_denied")
    );
    // A browser gets a page …
    let r = b
        .send("GET", &callback_path, &[("Accept", "text/html,*/*")], None)
        .await;
    assert_eq!(r.status, 403);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.text();
    assert!(
        page.contains("cancelled") && page.contains("/auth/github/login"),
        "{page}"
    );
    // … an API client JSON.
    let r = callback(
        &mut b,
        callback_path.trim_start_matches("/auth/github/callback"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].as_str().unwrap().contains("cancelled"));
    assert_eq!(app.token_requests(), 0);
    assert!(b.session().is_none());
    // The state was spent.
    let sealed = open_state(&app.keyring, &state).expect("the server's own state");
    assert!(
        !app.store()
            .spend_oauth_state(&sealed.id(), sealed.expires_at, server::now())
            .await
            .unwrap()
    );
    app.stop().await;
}

async fn bad_verification_code_is_explained(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("alice", "repo");
    let mut b = app.browser();
    let authorize = b.start_login().await;
    let callback_path = b.authorize(&authorize).await;
    let code = query_param(&callback_path, "code").unwrap();
    app.fake.expire_oauth_codes();
    let r = b
        .send(
            "GET",
            &callback_path,
            &[("Accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("bad_verification_code"), "{error}");
    assert!(error.contains("/auth/github/login"), "{error}");
    assert!(!r.text().contains(&code) && !r.text().contains(CLIENT_SECRET));
    assert_eq!(app.token_requests(), 1);
    assert!(b.session().is_none());
    assert!(raw_users(&app.db_url).await.is_empty());
    app.stop().await;
}

async fn missing_repo_scope_stores_nothing(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("bob", "read:user, user:email");
    let mut b = app.browser();
    let r = b.login().await;
    assert_eq!(r.status, 403, "{}", r.text());
    let error = r.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("`repo`"), "names the missing scope: {error}");
    assert!(
        error.contains("read:user"),
        "says what was granted: {error}"
    );
    assert!(error.to_lowercase().contains("sign in again"), "{error}");
    let token = &app.fake.oauth_tokens()[0].token;
    assert!(!r.text().contains(token.as_str()));
    assert!(b.session().is_none());
    assert!(raw_users(&app.db_url).await.is_empty(), "no user stored");
    app.stop().await;
}

async fn pkce_verifier_is_checked_by_github(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("alice", "repo");
    let mut b = app.browser();
    let authorize = b.start_login().await;
    // Swap the challenge on the way to GitHub: the server's verifier no longer fits it.
    let challenge = query_param(&authorize, "code_challenge").unwrap();
    let other = s256(&"0".repeat(64));
    let tampered = authorize.replace(&challenge, &other);
    assert_ne!(tampered, authorize);
    let callback_path = b.authorize(&tampered).await;
    let r = b
        .send(
            "GET",
            &callback_path,
            &[("Accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("bad_verification_code")
    );
    assert_eq!(app.token_requests(), 1);
    assert!(app.fake.oauth_tokens().is_empty(), "GitHub issued nothing");
    assert!(raw_users(&app.db_url).await.is_empty());
    // The untouched flow passes the fake's check (so the check is not vacuous).
    let r = b.login().await;
    assert_eq!(r.status, 302, "{}", r.text());
    assert_eq!(app.fake.oauth_tokens().len(), 1);
    app.stop().await;
}

async fn tokens_and_verifiers_are_encrypted_at_rest(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_user("alice", "repo");
    let mut b = app.browser();
    // Starting a sign-in stores nothing: the verifier travels in the state, encrypted,
    // and bound to this browser's pre-login cookie.
    let authorize = b.start_login().await;
    let state = query_param(&authorize, "state").unwrap();
    assert!(raw_spent_states(&app.db_url).await.is_empty());
    let sealed = open_state(&app.keyring, &state).expect("sealed with the server's key");
    let verifier = sealed.verifier_text();
    assert!(
        !state.contains(&verifier),
        "the verifier is not readable in the state"
    );
    assert_eq!(
        s256(&verifier),
        query_param(&authorize, "code_challenge").unwrap()
    );
    assert_eq!(
        hex(&sealed.cookie_binding),
        sha256_hex(&b.cookies["nectr_login"])
    );
    let other = Keyring::from_env_value(&generate_key()).unwrap();
    assert!(
        open_state(&other, &state).is_none(),
        "another key opens nothing"
    );

    let callback_path = b.authorize(&authorize).await;
    assert_eq!(b.get(&callback_path).await.status, 302);
    // Spent: only its random id is kept (until it would have expired).
    let spent = raw_spent_states(&app.db_url).await;
    assert_eq!(spent, vec![(sealed.id(),)]);
    assert!(!spent[0].0.contains(&verifier) && !state.contains(&spent[0].0));
    let token = app.fake.oauth_tokens()[0].token.clone();
    let users = raw_users(&app.db_url).await;
    assert_eq!(users.len(), 1);
    let (github_id, login, encrypted_token, scopes) = &users[0];
    assert_eq!(login, "alice");
    assert_eq!(scopes, "repo");
    for column in [login, encrypted_token, scopes] {
        assert!(
            !column.contains(&token),
            "plaintext token in the users table"
        );
    }
    let plain = app
        .keyring
        .decrypt(&owners::user_token(*github_id), encrypted_token)
        .unwrap();
    assert_eq!(plain, token.as_bytes());
    assert!(
        app.keyring
            .decrypt(&owners::user_token(github_id + 1), encrypted_token)
            .is_err(),
        "bound to the user's GitHub id"
    );
    app.stop().await;
}

// --- logout and the API --------------------------------------------------------------------

async fn logout_needs_csrf_and_ends_the_session(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.signed_in("alice").await;
    let csrf = b.csrf().await;
    let session = b.session().unwrap().to_owned();

    assert_eq!(b.api_post("/auth/logout", None).await.status, 403);
    assert_eq!(
        b.api_post("/auth/logout", Some("0".repeat(64).as_str()))
            .await
            .status,
        403
    );
    let r = b.form_post("/auth/logout", "csrf_token=wrong").await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("csrf_token"));
    assert_eq!(b.me().await.status, 200, "still signed in");

    let r = b.api_post("/auth/logout", Some(&csrf)).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_cookie_attrs(set_cookies(&r, "nectr_session")[0], 0, false);
    assert!(b.session().is_none());
    assert_eq!(b.me().await.status, 401);
    // The session is gone on the server too, not just from the browser.
    let mut stale = app.browser();
    stale.cookies.insert("nectr_session".into(), session);
    assert_eq!(stale.me().await.status, 401);
    assert_eq!(
        stale.api_post("/auth/logout", Some(&csrf)).await.status,
        401
    );

    // The dashboard's form: 303 back to /.
    let mut b = app.signed_in("alice").await;
    let csrf = b.csrf().await;
    let r = b
        .form_post("/auth/logout", &format!("csrf_token={csrf}"))
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/"));
    assert_eq!(b.me().await.status, 401);
    app.stop().await;
}

async fn api_needs_a_session(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.browser();
    for path in ["/api/v1/me", "/api/v1/repos", "/api/v1/events"] {
        let r = b.get(path).await;
        assert_eq!(r.status, 401, "{path}");
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .contains("/auth/github/login")
        );
    }
    b.cookies.insert("nectr_session".into(), "f".repeat(64));
    assert_eq!(b.me().await.status, 401, "an unknown session");
    b.cookies
        .insert("nectr_session".into(), "' OR 1=1 --".into());
    assert_eq!(b.me().await.status, 401);
    let r = b
        .api_post(&format!("/api/v1/repos/{REPO}/connect"), Some("x"))
        .await;
    assert_eq!(r.status, 401);
    assert!(app.fake.hooks(REPO).is_empty());
    app.stop().await;
}

async fn connect_needs_csrf(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.signed_in("alice").await;
    let csrf = b.csrf().await;
    let path = format!("/api/v1/repos/{REPO}/connect");
    let r = b.api_post(&path, None).await;
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].as_str().unwrap().contains("X-CSRF-Token"));
    let mut wrong = csrf.clone();
    wrong.replace_range(..1, if csrf.starts_with('0') { "1" } else { "0" });
    assert_eq!(b.api_post(&path, Some(&wrong)).await.status, 403);
    assert_eq!(b.form_post(&path, "csrf_token=").await.status, 403);
    // Another session's token is no good either.
    let mut other = app.signed_in("alice").await;
    let other_csrf = other.csrf().await;
    assert_ne!(other_csrf, csrf);
    assert_eq!(b.api_post(&path, Some(&other_csrf)).await.status, 403);
    assert!(app.fake.hooks(REPO).is_empty(), "no webhook created");
    assert!(
        app.store()
            .active_installation_for_repo(REPO)
            .await
            .unwrap()
            .is_none()
    );
    // Bad names are refused before GitHub is asked.
    app.fake.clear_requests();
    for bad in ["acme/bad$name", "acme/..", "acme/a%20b", "ac%3Bme/x"] {
        let r = b
            .api_post(&format!("/api/v1/repos/{bad}/connect"), Some(&csrf))
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    assert!(app.fake.requests().is_empty());
    app.stop().await;
}

async fn connect_as_admin_installs_the_webhook(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.signed_in("alice").await;
    let csrf = b.csrf().await;
    let r = b
        .api_post(&format!("/api/v1/repos/{REPO}/connect"), Some(&csrf))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    let hooks = app.fake.hooks(REPO);
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(
        answer,
        json!({"full_name": REPO, "connected": true, "webhook_id": hook.id})
    );
    assert_eq!(
        hook.config["url"],
        format!("{}/api/v1/webhooks/github", app.public_url)
    );
    assert_eq!(
        hook.events,
        vec![
            "pull_request",
            "issues",
            "issue_comment",
            "pull_request_review_comment"
        ]
    );
    assert_eq!(hook.config["content_type"], "json");
    assert_eq!(hook.config["insecure_ssl"], "0");
    assert!(hook.active);
    let secret = hook.config["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    assert!(secret.bytes().all(|c| c.is_ascii_hexdigit()));

    let installed = app
        .store()
        .active_installation_for_repo(REPO)
        .await
        .unwrap()
        .expect("installation recorded");
    assert_eq!(installed.installation.webhook_id, hook.id as i64);
    assert_eq!(installed.user.login, "alice");
    let encrypted = &installed.installation.encrypted_webhook_secret;
    assert!(!encrypted.contains(&secret));
    assert_eq!(
        app.keyring
            .decrypt(&owners::webhook_secret(REPO), encrypted)
            .unwrap(),
        secret.as_bytes()
    );
    assert!(
        app.keyring
            .decrypt(&owners::webhook_secret("acme/other"), encrypted)
            .is_err()
    );

    // The list shows it.
    let r = b.get("/api/v1/repos").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let list = r.json();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["full_name"] == REPO)
        .expect("the repo is listed")
        .clone();
    assert_eq!(row["connected"], true);
    assert_eq!(row["webhook_id"], hook.id);
    assert_eq!(row["admin"], true);
    assert_eq!(row["private"], false);
    assert_eq!(row["connected_by"], "alice");
    // Connecting again answers the same installation and adds no second hook.
    let again = b
        .api_post(&format!("/api/v1/repos/{REPO}/connect"), Some(&csrf))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["webhook_id"], hook.id);
    assert_eq!(app.fake.hooks(REPO).len(), 1);
    app.stop().await;
}

async fn form_posts_connect_and_disconnect(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.signed_in("alice").await;
    let csrf = b.csrf().await;
    let r = b
        .form_post(
            &format!("/api/v1/repos/{REPO}/connect"),
            &format!("csrf_token={csrf}&next=%2Frepos"),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/repos"));
    assert_eq!(app.fake.hooks(REPO).len(), 1);
    // An unsafe `next` falls back to /.
    let r = b
        .form_post(
            &format!("/api/v1/repos/{REPO}/disconnect"),
            &format!("next=%2F%2Fevil.example&csrf_token={csrf}"),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/"));
    assert!(app.fake.hooks(REPO).is_empty());
    // Errors are a page for the form's browser.
    let r = b
        .form_post(
            &format!("/api/v1/repos/{REPO}/disconnect"),
            &format!("csrf_token={csrf}"),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("is not connected"));
    app.stop().await;
}

async fn read_only_user_cannot_connect(db: String) {
    let app = App::start(&db, Options::default()).await;
    app.fake.set_oauth_access(Access::ReadOnly);
    let mut b = app.signed_in("reader").await;
    let csrf = b.csrf().await;
    let list = b.get("/api/v1/repos").await.json();
    assert_eq!(list[0]["admin"], false);
    let r = b
        .api_post(&format!("/api/v1/repos/{REPO}/connect"), Some(&csrf))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("not an admin"));
    assert!(app.fake.hooks(REPO).is_empty());
    assert!(
        app.store()
            .active_installation_for_repo(REPO)
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

async fn only_the_connecting_user_disconnects(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut alice = app.signed_in("alice").await;
    let alice_csrf = alice.csrf().await;
    let mut bob = app.signed_in("bob").await;
    let bob_csrf = bob.csrf().await;
    let r = alice
        .api_post(&format!("/api/v1/repos/{REPO}/connect"), Some(&alice_csrf))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = bob
        .api_post(&format!("/api/v1/repos/{REPO}/disconnect"), Some(&bob_csrf))
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("@alice"));
    // Alice's CSRF token in Bob's session does not help him.
    let r = bob
        .api_post(
            &format!("/api/v1/repos/{REPO}/disconnect"),
            Some(&alice_csrf),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(app.fake.hooks(REPO).len(), 1, "the hook is still there");
    let installed = app
        .store()
        .active_installation_for_repo(REPO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(installed.user.login, "alice");
    // Nor can he take it over by connecting.
    let r = bob
        .api_post(&format!("/api/v1/repos/{REPO}/connect"), Some(&bob_csrf))
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(app.fake.hooks(REPO).len(), 1);
    app.stop().await;
}

async fn disconnect_removes_the_hook_then_404(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.signed_in("alice").await;
    let csrf = b.csrf().await;
    assert_eq!(
        b.api_post(&format!("/api/v1/repos/{REPO}/connect"), Some(&csrf))
            .await
            .status,
        200
    );
    assert_eq!(app.fake.hooks(REPO).len(), 1);
    // Without CSRF nothing happens.
    let r = b
        .api_post(&format!("/api/v1/repos/{REPO}/disconnect"), None)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(app.fake.hooks(REPO).len(), 1);
    // GitHub compares names case-insensitively, and so does disconnect.
    let r = b
        .api_post("/api/v1/repos/ACME/Widgets/disconnect", Some(&csrf))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"full_name": REPO, "connected": false, "webhook_id": null})
    );
    assert!(app.fake.hooks(REPO).is_empty(), "the hook is removed");
    assert!(
        app.store()
            .active_installation_for_repo(REPO)
            .await
            .unwrap()
            .is_none()
    );
    let r = b
        .api_post(&format!("/api/v1/repos/{REPO}/disconnect"), Some(&csrf))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let list = b.get("/api/v1/repos").await.json();
    assert_eq!(list[0]["connected"], false);
    assert_eq!(list[0]["webhook_id"], Value::Null);
    app.stop().await;
}

async fn disconnect_survives_a_hook_deleted_on_github(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.signed_in("alice").await;
    let csrf = b.csrf().await;
    let r = b
        .api_post(&format!("/api/v1/repos/{REPO}/connect"), Some(&csrf))
        .await;
    let hook_id = r.json()["webhook_id"].as_u64().unwrap();
    // Someone removes the hook in the repository's settings.
    let token = app.fake.oauth_tokens()[0].token.clone();
    let gh = raw_http::Client::new(&app.fake.url, Some(&token));
    assert_eq!(
        gh.delete(&format!("/repos/{REPO}/hooks/{hook_id}"))
            .await
            .status,
        204
    );
    let r = b
        .api_post(&format!("/api/v1/repos/{REPO}/disconnect"), Some(&csrf))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        app.store()
            .active_installation_for_repo(REPO)
            .await
            .unwrap()
            .is_none()
    );
    app.stop().await;
}

async fn revoked_token_answers_401_and_flags_reauth(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut b = app.signed_in("alice").await;
    assert_eq!(b.get("/api/v1/repos").await.status, 200);
    // The user revokes the app on GitHub: the stored token becomes one GitHub refuses.
    let user = raw_users(&app.db_url).await[0].clone();
    let stored = app
        .store()
        .get_user_by_github_id(user.0)
        .await
        .unwrap()
        .unwrap();
    let unknown = app
        .keyring
        .encrypt(&owners::user_token(user.0), b"gho_revoked_unknown_token");
    assert!(
        app.store()
            .update_user_token(stored.id, &stored.encrypted_token, &unknown, server::now())
            .await
            .unwrap()
    );
    let r = b.get("/api/v1/repos").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("sign in again")
    );
    let flagged = app.store().get_user(stored.id).await.unwrap().unwrap();
    assert!(flagged.needs_reauth);
    assert_eq!(b.me().await.json()["needs_reauth"], true);
    // Flagged users get 401 without another call to GitHub.
    app.fake.clear_requests();
    assert_eq!(b.get("/api/v1/repos").await.status, 401);
    assert!(app.fake.requests().is_empty());
    // Signing in again stores a good token and clears the flag.
    let r = b.login().await;
    assert_eq!(r.status, 302);
    assert_eq!(b.me().await.json()["needs_reauth"], false);
    assert_eq!(b.get("/api/v1/repos").await.status, 200);
    app.stop().await;
}

async fn events_list_only_the_users_repositories(db: String) {
    let app = App::start(&db, Options::default()).await;
    let mut alice = app.signed_in("alice").await;
    let mut bob = app.signed_in("bob").await;
    let store = app.store();
    let users = raw_users(&app.db_url).await;
    let id_of = |login: &str| users.iter().find(|u| u.1 == login).unwrap().0;
    let alice_user = store
        .get_user_by_github_id(id_of("alice"))
        .await
        .unwrap()
        .unwrap();
    let bob_user = store
        .get_user_by_github_id(id_of("bob"))
        .await
        .unwrap()
        .unwrap();
    let now = server::now();
    let mut installations = Vec::new();
    for (repo, user, hook) in [
        ("alice/app", alice_user.id, 1),
        ("bob/secret", bob_user.id, 2),
    ] {
        let i = store
            .upsert_installation(
                &NewInstallation {
                    repo: repo.into(),
                    user_id: user,
                    webhook_id: hook,
                    encrypted_webhook_secret: app
                        .keyring
                        .encrypt(&owners::webhook_secret(repo), b"s"),
                },
                now,
            )
            .await
            .unwrap();
        installations.push(i);
    }
    for (n, (repo, installation)) in [
        ("alice/app", installations[0].id),
        ("alice/app", installations[0].id),
        ("bob/secret", installations[1].id),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .record_delivery(
                &NewEvent {
                    delivery_id: format!("delivery-{n}"),
                    event: "pull_request".into(),
                    action: Some("opened".into()),
                    repo: repo.into(),
                    pr_number: Some(n as i64 + 1),
                    head_sha: Some(format!("{n:040x}")),
                    installation_id: Some(installation),
                    ignore_reason: None,
                    payload: b"{}".to_vec(),
                },
                now + n as i64,
            )
            .await
            .unwrap();
    }
    let first = store
        .recent_events_for_user(alice_user.id, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.delivery_id == "delivery-0")
        .unwrap();
    store
        .record_review(
            &NewReviewRecord {
                event_id: Some(first.id),
                repo: "alice/app".into(),
                pr_number: 1,
                head_sha: format!("{:040x}", 0),
                review_id: 77,
                review_url: "https://github.com/alice/app/pull/1#pullrequestreview-77".into(),
                findings: 3,
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();

    let r = alice.get("/api/v1/events").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events = r.json();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["repo"] == "alice/app"));
    let reviewed = events
        .iter()
        .find(|e| e["delivery_id"] == "delivery-0")
        .unwrap();
    assert_eq!(reviewed["event"], "pull_request");
    assert_eq!(reviewed["action"], "opened");
    assert_eq!(reviewed["pr"], 1);
    assert_eq!(reviewed["head_sha"], format!("{:040x}", 0));
    assert_eq!(reviewed["status"], "pending");
    assert_eq!(reviewed["attempts"], 0);
    assert_eq!(reviewed["error"], Value::Null);
    assert_eq!(reviewed["review_id"], 77);
    assert_eq!(
        reviewed["review_url"],
        "https://github.com/alice/app/pull/1#pullrequestreview-77"
    );
    assert_eq!(reviewed["findings"], 3);
    assert!(reviewed["created_at"].as_i64().unwrap() >= now);
    assert!(reviewed["updated_at"].is_i64());

    let bobs = bob.get("/api/v1/events").await.json();
    assert_eq!(bobs.as_array().unwrap().len(), 1);
    assert_eq!(bobs[0]["repo"], "bob/secret");

    let one = alice.get("/api/v1/events?limit=1").await.json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(
        alice
            .get("/api/v1/events?limit=1000")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for bad in ["0", "-3", "many"] {
        let r = alice.get(&format!("/api/v1/events?limit={bad}")).await;
        assert_eq!(r.status, 400, "limit={bad}");
    }
    app.stop().await;
}

// --- the binary ----------------------------------------------------------------------------

#[test]
fn serve_refuses_to_start_without_an_encryption_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nectr"))
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("n.db").display()),
        )
        .env("GITHUB_CLIENT_ID", CLIENT_ID)
        .env("GITHUB_CLIENT_SECRET", CLIENT_SECRET)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("NECTR_ENCRYPTION_KEY"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
    assert!(!stderr.contains(CLIENT_SECRET));
    assert!(
        !dir.path().join("n.db").exists(),
        "nothing is created before the key is checked"
    );
}
