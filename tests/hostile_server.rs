//! The receiver under hostile traffic (issue 11): the real `nectr serve` binary, attacked
//! over raw sockets, with the fake GitHub behind it and the store on SQLite (always) and
//! PostgreSQL (when `NECTR_TEST_POSTGRES_URL` is set) wherever storage is involved.
//!
//! - slow headers, idle keep-alive connections and trickled bodies are cut off after the
//!   configured timeouts (`NECTR_HTTP_*_TIMEOUT_SECS`, shortened here);
//! - a flood of connections from one address neither exhausts the server's descriptors
//!   nor starves `/healthz` and deliveries from other addresses;
//! - a delivery no secret can verify is refused before its body is read, and the bodies
//!   read at once are bounded in memory (`NECTR_WEBHOOK_BODY_BUDGET_MB`);
//! - a repository with its own secret never accepts the global one;
//! - `GET /auth/github/login` writes nothing;
//! - every answer carries the security headers;
//! - an event whose attempts keep killing the server ends `failed` after the attempt cap.

mod support;

use std::net::IpAddr;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nectr::crypto::{Keyring, generate_key};
use nectr::github::webhook::sign;
use nectr::store::EventStatus;
use serde_json::json;
use support::db::{Connected, all_event_ids, on_sqlite, seed_connected};
use support::fake_github::{Access, FakeGitHub, Fault, FaultKind, PullSpec, sha1_hex};
use support::raw_http::{closed_within, connect_from, parse_response, try_send, try_send_from};
use support::serve::serve_command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REPO: &str = "acme/hostile";
const TOKEN: &str = "gho_hostile_token_0123456789";
const SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";
const GLOBAL: &str = "global-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const HOOK_ID: i64 = 4242;
const CLIENT_ID: &str = "Iv1.hostile0test";
const CLIENT_SECRET: &str = "hostile-client-secret-0123456789abcdef";

const DIFF: &str = concat!(
    "diff --git a/src/lib.rs b/src/lib.rs\n",
    "--- a/src/lib.rs\n",
    "+++ b/src/lib.rs\n",
    "@@ -1,2 +1,3 @@\n",
    " fn a() {}\n",
    "+fn b() { let x = 1; }\n",
    " fn c() {}\n",
);

backend_tests!(
    flood_from_one_address_starves_nobody,
    unverifiable_delivery_is_refused_before_its_body,
    a_repository_secret_never_falls_back_to_the_global_one,
    login_writes_nothing,
    an_event_that_kills_the_server_ends_failed_after_the_cap,
);

// --- the server under test ---------------------------------------------------------------

/// A running `nectr serve`; killed when dropped.
struct Server {
    child: Child,
    /// `127.0.0.1:PORT`
    addr: String,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `nectr serve` on a free port with short timeouts, no workers unless `env`
    /// says otherwise, and waits until `/healthz` answers.
    async fn start(db_url: &str, key: &str, fake: &FakeGitHub, env: &[(&str, &str)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Server::start_on(port, db_url, key, fake, env).await
    }

    async fn start_on(
        port: u16,
        db_url: &str,
        key: &str,
        fake: &FakeGitHub,
        env: &[(&str, &str)],
    ) -> Server {
        let mut command = serve_command(key, db_url, port, &fake.url);
        command
            .env("NECTR_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("NECTR_CONTEXT", "off")
            .env("NECTR_WORKERS", "0")
            .env("NECTR_HTTP_HEADER_TIMEOUT_SECS", "1")
            .env("NECTR_HTTP_BODY_TIMEOUT_SECS", "1")
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("start nectr serve");
        let server = Server {
            child,
            addr: format!("127.0.0.1:{port}"),
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = try_send("GET", &format!("{}/healthz", server.url), &[], None).await
                && r.status == 200
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("nectr serve did not become ready");
    }

    /// How many file descriptors the server process holds (Linux).
    fn open_fds(&self) -> Option<usize> {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .ok()
            .map(|d| d.count())
    }
}

/// The fake GitHub with one connected repository, and the key the store is encrypted with.
async fn connected(db_url: &str) -> (FakeGitHub, String) {
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, "alice", Access::Write, "repo");
    fake.add_repo(REPO);
    fake.add_repo("acme/unconnected");
    let key = generate_key();
    let keyring = Keyring::from_env_value(&key).unwrap();
    let store = nectr::store::connect(db_url).await.unwrap();
    seed_connected(
        store.as_ref(),
        &keyring,
        &Connected {
            repo: REPO,
            login: "alice",
            github_id: 77,
            token: TOKEN,
            hook_id: HOOK_ID,
            secret: SECRET,
        },
    )
    .await;
    store.close().await;
    (fake, key)
}

fn pr_payload(repo: &str, number: u64) -> Vec<u8> {
    let head = sha1_hex(format!("head {number}").as_bytes());
    serde_json::to_vec(&json!({
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number, "title": "t", "state": "open", "draft": false,
            "head": {"ref": "f", "sha": head, "repo": {"full_name": repo}},
            "base": {"ref": "main", "sha": sha1_hex(b"base"), "repo": {"full_name": repo}}
        },
        "repository": {"full_name": repo}
    }))
    .unwrap()
}

/// Posts a delivery signed with `secret`, with `X-GitHub-Hook-ID` when `hook` is given.
async fn deliver(
    server: &Server,
    delivery: &str,
    body: &[u8],
    secret: &str,
    hook: Option<i64>,
) -> support::raw_http::HttpResponse {
    let signature = sign(secret.as_bytes(), body);
    let hook = hook.map(|h| h.to_string());
    let mut headers = vec![
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", delivery),
        ("X-Hub-Signature-256", signature.as_str()),
    ];
    if let Some(h) = &hook {
        headers.push(("X-GitHub-Hook-ID", h));
    }
    try_send(
        "POST",
        &format!("{}/api/v1/webhooks/github", server.url),
        &headers,
        Some(body),
    )
    .await
    .unwrap()
}

/// Reads one answer from a keep-alive connection: the head, then `Content-Length` bytes.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> support::raw_http::HttpResponse {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer")
            .expect("read");
        assert!(
            n > 0,
            "closed before answering: {:?}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                return parse_response(&raw, false);
            }
        }
    }
}

fn local(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

// --- timeouts (no storage involved: SQLite only) -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_closed() {
    on_sqlite(|db_url| async move {
        let fake = FakeGitHub::start().await;
        let server = Server::start(&db_url, &generate_key(), &fake, &[]).await;

        // Nothing sent at all.
        let mut silent = connect_from(None, &server.addr).await.unwrap();
        // A head trickled a byte at a time, never finished (slowloris).
        let mut slow = connect_from(None, &server.addr).await.unwrap();
        let trickle = tokio::spawn({
            async move {
                let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
                for b in head {
                    if slow.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                closed_within(&mut slow, Duration::from_secs(5)).await
            }
        });
        // A keep-alive connection, idle after one answer.
        let mut idle = connect_from(None, &server.addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_answer(&mut idle).await;
        assert_eq!(answer.status, 200);
        let idle_closed = closed_within(&mut idle, Duration::from_secs(5)).await;
        let silent_closed = closed_within(&mut silent, Duration::from_secs(5)).await;
        let slow_closed = trickle.await.unwrap();
        for (what, closed) in [
            ("silent", silent_closed),
            ("idle keep-alive", idle_closed),
            ("slow header", slow_closed),
        ] {
            let took = closed.unwrap_or_else(|| panic!("the {what} connection is still open after 5 s"));
            assert!(took < Duration::from_secs(4), "{what}: closed after {took:?}");
        }
        // The server is fine afterwards.
        let r = try_send("GET", &format!("{}/healthz", server.url), &[], None)
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_body_is_cut_off() {
    on_sqlite(|db_url| async move {
        let fake = FakeGitHub::start().await;
        // With a global secret the receiver has something to verify with, so it reads bodies.
        let server =
            Server::start(&db_url, &generate_key(), &fake, &[("GITHUB_WEBHOOK_SECRET", GLOBAL)])
                .await;
        let body = pr_payload("acme/unconnected", 1);
        let signature = sign(GLOBAL.as_bytes(), &body);
        let mut stream = connect_from(None, &server.addr).await.unwrap();
        let head = format!(
            "POST /api/v1/webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: trickle\r\nX-Hub-Signature-256: {signature}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        // Ten bytes every 200 ms: the whole body would take seconds.
        let (mut reader, mut writer) = stream.into_split();
        let writing = tokio::spawn(async move {
            for chunk in body.chunks(10) {
                if writer.write_all(chunk).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(6), reader.read_to_end(&mut raw)).await;
        let took = started.elapsed();
        writing.abort();
        let answer = String::from_utf8_lossy(&raw);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("did not arrive in time"), "{answer}");
        assert!(took < Duration::from_secs(4), "cut off after {took:?}");
        assert!(all_event_ids(&db_url).await.is_empty(), "nothing stored");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_read_at_once_are_bounded_in_memory() {
    on_sqlite(|db_url| async move {
        let fake = FakeGitHub::start().await;
        // With a global secret every body is read before it can be verified: the budget
        // for bodies in flight (2 MiB here) is what bounds an attacker's trickled uploads.
        let server = Server::start(
            &db_url,
            &generate_key(),
            &fake,
            &[
                ("GITHUB_WEBHOOK_SECRET", GLOBAL),
                ("NECTR_WEBHOOK_BODY_BUDGET_MB", "2"),
                ("NECTR_HTTP_BODY_TIMEOUT_SECS", "2"),
            ],
        )
        .await;
        let mut stalled = Vec::new();
        for n in 0..2 {
            let mut s = connect_from(None, &server.addr).await.unwrap();
            let head = format!(
                "POST /api/v1/webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: stall-{n}\r\nX-Hub-Signature-256: sha256={}\r\nContent-Length: {}\r\n\r\n",
                "0".repeat(64),
                1024 * 1024
            );
            s.write_all(head.as_bytes()).await.unwrap();
            s.write_all(&[b'{'; 1000]).await.unwrap();
            stalled.push(s);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The budget is taken: a real delivery is turned away at once, not buffered.
        let body = pr_payload("acme/unconnected", 3);
        let r = deliver(&server, "while-stalled", &body, GLOBAL, None).await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(r.text().contains("NECTR_WEBHOOK_BODY_BUDGET_MB"), "{}", r.text());
        // The stalled bodies time out and give their share back.
        for mut s in stalled {
            let r = read_answer(&mut s).await;
            assert_eq!(r.status, 408, "{}", r.text());
        }
        let r = deliver(&server, "after-stall", &body, GLOBAL, None).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["status"], "ignored");
    })
    .await;
}

// --- connection limits ---------------------------------------------------------------------

async fn flood_from_one_address_starves_nobody(db_url: String) {
    let (fake, key) = connected(&db_url).await;
    let server = Server::start(
        &db_url,
        &key,
        &fake,
        &[
            ("NECTR_HTTP_MAX_CONNECTIONS", "40"),
            ("NECTR_HTTP_MAX_CONNECTIONS_PER_IP", "10"),
            // Long enough that the flood is still there while we look.
            ("NECTR_HTTP_HEADER_TIMEOUT_SECS", "20"),
        ],
    )
    .await;
    let before = server.open_fds();
    // 300 idle connections from 127.0.0.1: more than the descriptors a small `ulimit -n`
    // would give, far more than the per-address share.
    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(s) = connect_from(Some(local(1)), &server.addr).await {
            flood.push(s);
        }
    }
    assert!(flood.len() >= 250, "the kernel accepted the connections");
    tokio::time::sleep(Duration::from_millis(300)).await;
    if let (Some(before), Some(during)) = (before, server.open_fds()) {
        assert!(
            during <= before + 12,
            "the server holds {during} descriptors under the flood (was {before}): the per-address share is 10"
        );
    }
    // Another address is served at once: health checks …
    let started = Instant::now();
    let r = try_send_from(
        local(2),
        "GET",
        &format!("{}/healthz", server.url),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    // … and GitHub's deliveries.
    let body = pr_payload(REPO, 1);
    let signature = sign(SECRET.as_bytes(), &body);
    let hook = HOOK_ID.to_string();
    let r = try_send_from(
        local(3),
        "POST",
        &format!("{}/api/v1/webhooks/github", server.url),
        &[
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", "during-flood"),
            ("X-Hub-Signature-256", &signature),
            ("X-GitHub-Hook-ID", &hook),
        ],
        Some(&body),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.text());
    // The flooding address's connections beyond its share were closed at once.
    let mut closed = 0;
    for s in flood.iter_mut() {
        if closed_within(s, Duration::from_millis(20)).await.is_some() {
            closed += 1;
        }
    }
    assert!(
        closed >= flood.len() - 10,
        "{closed} of {} closed",
        flood.len()
    );
    drop(flood);
    // Once the flood lets go, its address is served again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = try_send_from(
        local(1),
        "GET",
        &format!("{}/healthz", server.url),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
}

// --- the receiver's secrets ----------------------------------------------------------------

async fn unverifiable_delivery_is_refused_before_its_body(db_url: String) {
    let (fake, key) = connected(&db_url).await;
    // No global secret: only the connected repository's webhook can be verified.
    let server = Server::start(&db_url, &key, &fake, &[]).await;
    for (hook, what) in [
        (None, "no hook id"),
        (Some(999_999), "a hook id nobody has"),
    ] {
        // 30 clients announce 24 MB each and send only the head.
        let mut answers = Vec::new();
        for n in 0..30 {
            let mut s = connect_from(None, &server.addr).await.unwrap();
            let hook_line = hook
                .map(|h| format!("X-GitHub-Hook-ID: {h}\r\n"))
                .unwrap_or_default();
            let head = format!(
                "POST /api/v1/webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: big-{n}\r\nX-Hub-Signature-256: sha256={}\r\n{hook_line}Content-Length: {}\r\n\r\n",
                "0".repeat(64),
                24 * 1024 * 1024
            );
            s.write_all(head.as_bytes()).await.unwrap();
            answers.push(s);
        }
        for mut s in answers {
            // The answer comes without a byte of the body sent, and the connection closes.
            let r = read_answer(&mut s).await;
            assert_eq!(r.status, 401, "{what}: {}", r.text());
            assert!(
                r.text().contains("no webhook secret"),
                "{what}: {}",
                r.text()
            );
            assert!(
                closed_within(&mut s, Duration::from_secs(3))
                    .await
                    .is_some(),
                "{what}: the connection is closed, the body never read"
            );
        }
    }
    assert!(all_event_ids(&db_url).await.is_empty());
    // The connected repository's own webhook still gets through.
    let r = deliver(&server, "own", &pr_payload(REPO, 1), SECRET, Some(HOOK_ID)).await;
    assert_eq!(r.status, 202, "{}", r.text());
}

async fn a_repository_secret_never_falls_back_to_the_global_one(db_url: String) {
    let (fake, key) = connected(&db_url).await;
    let server = Server::start(&db_url, &key, &fake, &[("GITHUB_WEBHOOK_SECRET", GLOBAL)]).await;
    let body = pr_payload(REPO, 1);
    // The global secret, no hook id, naming the connected repository: refused.
    let r = deliver(&server, "g-nohook", &body, GLOBAL, None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("its own"), "{}", r.text());
    // The global secret with another webhook's id: refused the same way.
    let r = deliver(&server, "g-otherhook", &body, GLOBAL, Some(31337)).await;
    assert_eq!(r.status, 403, "{}", r.text());
    // The global secret with the repository's own hook id: that webhook's secret is the
    // only one that verifies.
    let r = deliver(&server, "g-ownhook", &body, GLOBAL, Some(HOOK_ID)).await;
    assert_eq!(r.status, 401, "{}", r.text());
    // The repository's secret without its hook id: the unverified body is not used to pick
    // a secret, so only the global one is tried, and it does not match.
    let r = deliver(&server, "own-nohook", &body, SECRET, None).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(all_event_ids(&db_url).await.is_empty(), "nothing stored");
    // What the global secret is for still works: a repository without its own secret.
    let r = deliver(
        &server,
        "g-unconnected",
        &pr_payload("acme/unconnected", 2),
        GLOBAL,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["status"],
        "ignored",
        "not connected: stored, not reviewed"
    );
    // And the repository's own webhook.
    let r = deliver(&server, "own", &body, SECRET, Some(HOOK_ID)).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(all_event_ids(&db_url).await.len(), 2);
}

// --- sign-in ---------------------------------------------------------------------------------

async fn login_writes_nothing(db_url: String) {
    let fake = FakeGitHub::start().await;
    fake.set_oauth_app(CLIENT_ID, CLIENT_SECRET);
    let key = generate_key();
    let server = Server::start(
        &db_url,
        &key,
        &fake,
        &[
            ("GITHUB_CLIENT_ID", CLIENT_ID),
            ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
        ],
    )
    .await;
    let sqlite_file = db_url
        .strip_prefix("sqlite://")
        .map(std::path::PathBuf::from);
    let db_bytes = |path: &std::path::Path| -> u64 {
        ["", "-wal", "-shm"]
            .iter()
            .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
            .map(|m| m.len())
            .sum()
    };
    let before = sqlite_file.as_deref().map(db_bytes);
    let mut states = std::collections::HashSet::new();
    for _ in 0..1000 {
        let r = try_send(
            "GET",
            &format!("{}/auth/github/login", server.url),
            &[],
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 302);
        let location = r.header("location").unwrap().to_owned();
        let state = location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("state="))
            .unwrap()
            .to_owned();
        states.insert(state);
    }
    assert_eq!(states.len(), 1000, "every sign-in gets its own state");
    assert_eq!(spent_states(&db_url).await, 0, "no row per sign-in started");
    if let (Some(path), Some(before)) = (sqlite_file.as_deref(), before) {
        let after = db_bytes(path);
        assert!(
            after <= before + 64 * 1024,
            "the database grew from {before} to {after} bytes"
        );
    }
    // Forged states are refused without a write as well.
    for forged in ["ab".repeat(32), "A".repeat(228)] {
        let r = try_send(
            "GET",
            &format!(
                "{}/auth/github/callback?code=abc&state={forged}",
                server.url
            ),
            &[("Cookie", "nectr_login=whatever")],
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status, 400, "{}", r.text());
    }
    assert_eq!(spent_states(&db_url).await, 0);
}

async fn spent_states(db_url: &str) -> i64 {
    use sqlx::Connection;
    const SQL: &str = "SELECT COUNT(*) FROM oauth_states_spent";
    if db_url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(SQL).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(SQL).fetch_one(&mut c).await.unwrap()
    }
}

// --- security headers ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    on_sqlite(|db_url| async move {
        let fake = FakeGitHub::start().await;
        fake.set_oauth_app(CLIENT_ID, CLIENT_SECRET);
        let server = Server::start(
            &db_url,
            &generate_key(),
            &fake,
            &[
                ("GITHUB_CLIENT_ID", CLIENT_ID),
                ("GITHUB_CLIENT_SECRET", CLIENT_SECRET),
            ],
        )
        .await;
        const NONE: &[(&str, &str)] = &[];
        const HTML: &[(&str, &str)] = &[("Accept", "text/html")];
        let cases = [
            ("GET", "/healthz", NONE, 200),
            ("GET", "/metrics", NONE, 200),
            ("GET", "/", HTML, 200),
            ("GET", "/no/such/route", NONE, 404),
            ("GET", "/api/v1/me", NONE, 401),
            ("GET", "/auth/github/login", NONE, 302),
            (
                "GET",
                "/auth/github/callback?error=access_denied",
                HTML,
                403,
            ),
            ("GET", "/auth/github/callback?code=x&state=y", NONE, 400),
            ("POST", "/api/v1/webhooks/github", NONE, 400),
            ("POST", "/auth/logout", NONE, 401),
        ];
        for (method, path, headers, status) in cases {
            let r = try_send(method, &format!("{}{path}", server.url), headers, None)
                .await
                .unwrap();
            assert_eq!(r.status, status, "{method} {path}: {}", r.text());
            let csp = r
                .header("content-security-policy")
                .unwrap_or_else(|| panic!("{method} {path}: no CSP"));
            assert!(
                csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
                "{method} {path}: {csp}"
            );
            assert_eq!(r.header("x-frame-options"), Some("DENY"), "{method} {path}");
            assert_eq!(
                r.header("x-content-type-options"),
                Some("nosniff"),
                "{method} {path}"
            );
            assert!(r.header("referrer-policy").is_some(), "{method} {path}");
        }
        // A webhook answer too (ping with the global secret).
        let r = try_send(
            "POST",
            &format!("{}/api/v1/webhooks/github", server.url),
            &[
                ("X-GitHub-Event", "ping"),
                ("X-GitHub-Delivery", "p"),
                ("X-Hub-Signature-256", &sign(b"x", b"{}")),
            ],
            Some(b"{}"),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    })
    .await;
}

// --- crash loops -----------------------------------------------------------------------------

async fn an_event_that_kills_the_server_ends_failed_after_the_cap(db_url: String) {
    let (fake, key) = connected(&db_url).await;
    fake.add_pull(
        REPO,
        PullSpec {
            head_sha: sha1_hex(b"head 1"),
            ..PullSpec::new(1, DIFF)
        },
    );
    // Every look at the pull request hangs: the server is killed while it waits, as if the
    // review had taken it down.
    fake.inject(Fault {
        method: "GET",
        path_contains: "/pulls/1",
        kind: FaultKind::Delay { millis: 120_000 },
        times: 100,
    });
    let env = [
        ("NECTR_WORKERS", "1"),
        ("NECTR_LEASE_SECS", "2"),
        ("NECTR_MAX_ATTEMPTS", "2"),
        ("NECTR_RETRY_BASE_SECS", "0"),
    ];
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Server::start_on(port, &db_url, &key, &fake, &env).await;
    let r = deliver(
        &server,
        "deadly",
        &pr_payload(REPO, 1),
        SECRET,
        Some(HOOK_ID),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let event_id = r.json()["event_id"].as_i64().unwrap();
    let looks = |fake: &FakeGitHub| {
        fake.requests()
            .iter()
            .filter(|r| r.path == format!("/repos/{REPO}/pulls/1"))
            .count()
    };
    for attempt in 1..=2 {
        let deadline = Instant::now() + Duration::from_secs(20);
        while looks(&fake) < attempt {
            assert!(Instant::now() < deadline, "attempt {attempt} never started");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // SIGKILL mid-review: the lease is left behind, nothing is recorded.
        drop(server);
        server = Server::start_on(port, &db_url, &key, &fake, &env).await;
    }
    // The next claim finds the event out of attempts: failed, not tried a third time.
    let store = nectr::store::connect(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        let event = store.get_event(event_id).await.unwrap().unwrap();
        if event.status == EventStatus::Failed {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "still {:?} after the attempt cap: {event:?}",
            event.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(event.attempts, 2, "{event:?}");
    assert!(
        event
            .error
            .as_deref()
            .unwrap_or("")
            .contains("gave up after 2 attempts"),
        "{event:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(looks(&fake), 2, "no third attempt");
    assert_eq!(
        store.get_event(event_id).await.unwrap().unwrap().status,
        EventStatus::Failed
    );
    store.close().await;
    drop(server);
}
