//! The hosted mode's webhook receiver and review workers, end to end: a real `nectr serve`
//! app on 127.0.0.1:0, the fake GitHub, and the store on SQLite (always) and PostgreSQL
//! (when `NECTR_TEST_POSTGRES_URL` is set; each test gets a fresh database).
//!
//! Deliveries are signed like GitHub signs them and sent over a raw TCP client, so the
//! tests see exactly the status codes GitHub would.

mod support;

use std::sync::Arc;
use std::time::Duration;

use nectr::context::ContextSources;
use nectr::context::graph::embedded::EmbeddedGraph;
use nectr::context::graph::{GraphQuery, KnowledgeGraph};

use nectr::crypto::{Keyring, generate_key};
use nectr::github::webhook::sign;
use nectr::server::{self, AppState, ServerConfig, WorkerConfig};
use nectr::store::{EventStatus, EventSummary};
use serde_json::json;
use support::db::{Connected, seed_connected};
use support::fake_github::{Access, FakeGitHub, FaultKind, PullSpec, sha1_hex};
use support::raw_http::{HttpResponse, deliver_signed, send};

const REPO: &str = "acme/widgets";
const LOGIN: &str = "alice";
const TOKEN: &str = "gho_alice_token_0123456789";
const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const DIFF: &str = concat!(
    "diff --git a/src/lib.rs b/src/lib.rs\n",
    "--- a/src/lib.rs\n",
    "+++ b/src/lib.rs\n",
    "@@ -1,2 +1,3 @@\n",
    " fn a() {}\n",
    "+fn b() { let x = 1; }\n",
    " fn c() {}\n",
);

/// A running app with one connected repository.
struct App {
    url: String,
    db_url: String,
    state: AppState,
    fake: FakeGitHub,
    hook_id: i64,
    user_id: i64,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

struct Options {
    workers: usize,
    global_secret: Option<&'static str>,
    worker: WorkerConfig,
    /// An embedded knowledge graph in this file (as `nectr serve` opens by default).
    graph: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 1,
            global_secret: None,
            worker: WorkerConfig {
                lease_secs: 30,
                max_attempts: 3,
                retry_base_secs: 0,
                retry_max_secs: 0,
                poll_interval: Duration::from_millis(50),
                shutdown_grace: Duration::from_secs(5),
            },
            graph: None,
        }
    }
}

impl App {
    async fn start(db_url: &str, options: Options) -> App {
        let store = nectr::store::connect(db_url).await.unwrap();
        // Tests against the fake: no pauses between writes, fast retries.
        // SAFETY (edition 2024): set before any thread reads them; every test sets the same values.
        unsafe {
            std::env::set_var("NECTR_GITHUB_WRITE_GAP_MS", "0");
            std::env::set_var("NECTR_GITHUB_RETRY_BASE_MS", "10");
        }
        let fake = FakeGitHub::start().await;
        fake.add_token(TOKEN, LOGIN, Access::Write, "repo");
        fake.add_repo(REPO);
        let hook_id = fake.add_hook(
            REPO,
            "http://127.0.0.1/api/v1/webhooks/github",
            &["pull_request", "issues"],
        ) as i64;
        let keyring = Keyring::from_env_value(&generate_key()).unwrap();
        let user_id = seed_connected(
            store.as_ref(),
            &keyring,
            &Connected {
                repo: REPO,
                login: LOGIN,
                github_id: 1001,
                token: TOKEN,
                hook_id,
                secret: SECRET,
            },
        )
        .await;
        let config = ServerConfig {
            public_url: "http://127.0.0.1".into(),
            api_url: fake.url.clone(),
            server_url: fake.url.clone(),
            oauth: None,
            global_webhook_secret: options.global_secret.map(str::to_owned),
            workers: options.workers,
            worker: options.worker,
        };
        let state = match &options.graph {
            None => AppState::new(store, keyring, config),
            Some(path) => {
                let graph = EmbeddedGraph::open(path).await.unwrap();
                let context = ContextSources {
                    graph: Some(Arc::new(graph)),
                    ..ContextSources::none()
                };
                AppState::with_context(store, keyring, config, Arc::new(context))
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(state.clone(), listener, async {
            let _ = rx.await;
        }));
        let task = tokio::spawn(async move {
            task.await.unwrap().unwrap();
        });
        App {
            url,
            db_url: db_url.to_owned(),
            state,
            fake,
            hook_id,
            user_id,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Graceful shutdown; waits for workers to finish or release.
    async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("server stops within 30 s")
                .unwrap();
        }
    }

    fn add_pull(&self, number: u64, head: &str) {
        self.fake.add_pull(
            REPO,
            PullSpec {
                head_sha: head.into(),
                title: format!("Change {number}"),
                ..PullSpec::new(number, DIFF)
            },
        );
    }

    async fn deliver(&self, event: &str, delivery: &str, body: &[u8]) -> HttpResponse {
        deliver_signed(&self.url, SECRET, self.hook_id, event, delivery, body).await
    }

    async fn post_webhook(&self, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
        send(
            "POST",
            &format!("{}/api/v1/webhooks/github", self.url),
            headers,
            Some(body),
        )
        .await
    }

    async fn events(&self) -> Vec<EventSummary> {
        self.state
            .store
            .recent_events_for_user(self.user_id, 100)
            .await
            .unwrap()
    }

    async fn event(&self, id: i64) -> EventSummary {
        self.state.store.get_event(id).await.unwrap().unwrap()
    }

    /// Waits until event `id` reaches a final status (not pending/running).
    async fn settled(&self, id: i64) -> EventSummary {
        for _ in 0..400 {
            let e = self.event(id).await;
            if !matches!(e.status, EventStatus::Pending | EventStatus::Running) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("event {id} did not settle: {:?}", self.event(id).await);
    }
}

fn pr_payload(action: &str, number: u64, head: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number, "title": format!("Change {number}"), "body": null,
            "state": "open", "draft": false,
            "head": {"ref": "feature", "sha": head, "repo": {"full_name": REPO}},
            "base": {"ref": "main", "sha": sha1_hex(b"base commit"), "repo": {"full_name": REPO}},
            "user": {"login": "octocat"}
        },
        "repository": {"full_name": REPO, "private": false},
        "sender": {"login": "octocat"}
    }))
    .unwrap()
}

fn event_id(r: &HttpResponse) -> i64 {
    r.json()["event_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no event_id in {}", r.text()))
}

// ---------------------------------------------------------------------------------------

async fn queued_pull_request_is_reviewed_once(url: String) {
    let mut app = App::start(&url, Options::default()).await;
    let head = sha1_hex(b"head 1");
    app.add_pull(7, &head);
    let body = pr_payload("opened", 7, &head);
    let r = app.deliver("pull_request", "d-1", &body).await;
    assert_eq!(r.status, 202, "{}", r.text());
    let id = event_id(&r);
    let e = app.settled(id).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    let reviews = app.fake.reviews(REPO, 7);
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0].user, LOGIN, "posted as the connecting user");
    assert_eq!(reviews[0].commit_id, head);
    assert!(
        e.review_url.as_deref().is_some_and(|u| !u.is_empty()),
        "{e:?}"
    );

    // The same delivery again (GitHub's redelivery): acknowledged, nothing more.
    let again = app.deliver("pull_request", "d-1", &body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["status"], "seen");
    // The same change under a new GUID: stored as a duplicate, not reviewed again.
    let dup = app.deliver("pull_request", "d-2", &body).await;
    assert_eq!(dup.status, 200);
    assert_eq!(dup.json()["status"], "duplicate");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.fake.reviews(REPO, 7).len(), 1, "no second review");
    assert_eq!(app.events().await.len(), 2);
    let metrics = send("GET", &format!("{}/metrics", app.url), &[], None).await;
    let text = metrics.text();
    assert!(
        text.contains("nectr_webhook_deliveries_total{result=\"queued\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("nectr_webhook_deliveries_total{result=\"seen\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("nectr_reviews_total{result=\"posted\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("nectr_queue_depth{status=\"pending\"} 0"),
        "{text}"
    );
    app.stop().await;
}

async fn forged_and_malformed_deliveries_are_refused(url: String) {
    let mut app = App::start(&url, Options::default()).await;
    let head = sha1_hex(b"head 2");
    app.add_pull(8, &head);
    let body = pr_payload("opened", 8, &head);
    let hook = app.hook_id.to_string();
    let good = sign(SECRET.as_bytes(), &body);
    let forged = sign(b"not the secret", &body);
    let upper = good.to_uppercase().replace("SHA256=", "sha256=");
    let sha1 = "sha1=0123456789abcdef0123456789abcdef01234567".to_owned();
    for (signature, why) in [
        (forged.as_str(), "wrong secret"),
        (upper.as_str(), "uppercase hex"),
        (sha1.as_str(), "sha1"),
        ("sha256=", "empty digest"),
    ] {
        let r = app
            .post_webhook(
                &[
                    ("X-GitHub-Event", "pull_request"),
                    ("X-GitHub-Delivery", "forged"),
                    ("X-Hub-Signature-256", signature),
                    ("X-GitHub-Hook-ID", &hook),
                ],
                &body,
            )
            .await;
        assert_eq!(r.status, 401, "{why}: {}", r.text());
        assert!(!r.text().contains(SECRET));
    }
    // The body changed after signing.
    let mut tampered = body.clone();
    let n = tampered.len();
    tampered[n - 2] = b' ';
    let r = app
        .post_webhook(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "tampered"),
                ("X-Hub-Signature-256", &good),
                ("X-GitHub-Hook-ID", &hook),
            ],
            &tampered,
        )
        .await;
    assert_eq!(r.status, 401);
    // Missing headers: 400, naming them.
    let r = app
        .post_webhook(&[("X-GitHub-Event", "pull_request")], &body)
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("X-GitHub-Delivery"), "{}", r.text());
    assert!(r.text().contains("X-Hub-Signature-256"), "{}", r.text());
    // No hook id and no global secret: nothing to verify with, so refused.
    let r = app
        .post_webhook(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "no-hook"),
                ("X-Hub-Signature-256", &good),
            ],
            &body,
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // A valid signature over something that is not JSON: 400 after verification.
    let junk = b"not json at all";
    let r = app.deliver("pull_request", "junk", junk).await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Signed with this repo's secret but naming another repo.
    let other = String::from_utf8(body.clone())
        .unwrap()
        .replace(REPO, "evil/other");
    let r = app.deliver("pull_request", "other", other.as_bytes()).await;
    assert_eq!(r.status, 403, "{}", r.text());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.events().await.is_empty(), "nothing stored");
    assert!(app.fake.reviews(REPO, 8).is_empty(), "nothing reviewed");
    let metrics = send("GET", &format!("{}/metrics", app.url), &[], None).await;
    assert!(
        metrics
            .text()
            .contains("nectr_webhook_deliveries_total{result=\"bad_signature\"} 6"),
        "{}",
        metrics.text()
    );
    app.stop().await;
}

async fn oversized_bodies_are_refused_without_reading_them(url: String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = App::start(&url, Options::default()).await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    // Declared too large: answered before any of the body is sent.
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/webhooks/github HTTP/1.1\r\nHost: {addr}\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: big\r\nX-Hub-Signature-256: sha256={}\r\nContent-Length: {}\r\n\r\n",
        "0".repeat(64),
        26 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("answered without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // Undeclared length (chunked): cut off once the limit is passed. (From the connected
    // webhook: without a secret to verify with, the body would not be read at all.)
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/webhooks/github HTTP/1.1\r\nHost: {addr}\r\nX-GitHub-Event: pull_request\r\nX-GitHub-Delivery: big2\r\nX-Hub-Signature-256: sha256={}\r\nX-GitHub-Hook-ID: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        "0".repeat(64),
        app.hook_id
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    let mut sent = 0usize;
    for _ in 0..40 {
        let frame = format!("{:x}\r\n", chunk.len());
        if s.write_all(frame.as_bytes()).await.is_err()
            || s.write_all(&chunk).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw)).await;
    let answer = String::from_utf8_lossy(&raw).into_owned();
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "after {sent} bytes: {answer}"
    );
    assert!(app.events().await.is_empty());
    app.stop().await;
}

async fn ping_ignored_and_global_secret(url: String) {
    let mut app = App::start(
        &url,
        Options {
            global_secret: Some("global-secret"),
            ..Options::default()
        },
    )
    .await;
    let r = app
        .deliver(
            "ping",
            "p-1",
            br#"{"zen":"Keep it logically awesome.","hook_id":1}"#,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A closed PR: stored as ignored with the reason, never queued.
    let head = sha1_hex(b"head 3");
    let r = app
        .deliver("pull_request", "c-1", &pr_payload("closed", 9, &head))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "ignored");
    let e = app.event(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Ignored);
    assert!(e.error.as_deref().unwrap().contains("closed"), "{e:?}");
    // `issues` events are stored too (ignored: this app has no knowledge graph).
    let issue = serde_json::to_vec(&json!({"action": "opened", "issue": {"number": 3},
        "repository": {"full_name": REPO}}))
    .unwrap();
    let r = app.deliver("issues", "i-1", &issue).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ignored");
    // Without a hook id the global secret verifies, but this repository is connected with
    // a secret of its own, so the global one is not good for it (tests/hostile_server.rs
    // has the rest).
    app.add_pull(10, &head);
    let body = pr_payload("opened", 10, &head);
    let signature = sign(b"global-secret", &body);
    let r = app
        .post_webhook(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "g-1"),
                ("X-Hub-Signature-256", &signature),
            ],
            &body,
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("GITHUB_WEBHOOK_SECRET"), "{}", r.text());
    // The per-repo secret wins where one exists: the global one does not verify a delivery
    // from the connected webhook.
    let hook = app.hook_id.to_string();
    let r = app
        .post_webhook(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "g-2"),
                ("X-Hub-Signature-256", &signature),
                ("X-GitHub-Hook-ID", &hook),
            ],
            &body,
        )
        .await;
    assert_eq!(r.status, 401);
    app.stop().await;
}

async fn closed_stale_and_already_reviewed_are_skipped(url: String) {
    let mut app = App::start(&url, Options::default()).await;
    // Closed between the delivery and the review.
    let head = sha1_hex(b"head 4");
    app.fake.add_pull(
        REPO,
        PullSpec {
            head_sha: head.clone(),
            state: "closed".into(),
            ..PullSpec::new(11, DIFF)
        },
    );
    let r = app
        .deliver("pull_request", "s-1", &pr_payload("opened", 11, &head))
        .await;
    assert_eq!(r.status, 202);
    let e = app.settled(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Ignored, "{e:?}");
    assert!(e.error.as_deref().unwrap().contains("closed"), "{e:?}");
    // The head moved on: the older event is skipped.
    let newer = sha1_hex(b"head 5 newer");
    app.add_pull(12, &newer);
    let r = app
        .deliver("pull_request", "s-2", &pr_payload("synchronize", 12, &head))
        .await;
    let e = app.settled(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Ignored, "{e:?}");
    assert!(e.error.as_deref().unwrap().contains("head moved"), "{e:?}");
    assert!(app.fake.reviews(REPO, 11).is_empty());
    assert!(app.fake.reviews(REPO, 12).is_empty());
    // Reviewed (a previous process posted, then died before recording): a reopened event
    // for the same head finds the marker and posts nothing new.
    let r = app
        .deliver("pull_request", "s-3", &pr_payload("opened", 12, &newer))
        .await;
    assert_eq!(app.settled(event_id(&r)).await.status, EventStatus::Done);
    assert_eq!(app.fake.reviews(REPO, 12).len(), 1);
    let r = app
        .deliver("pull_request", "s-4", &pr_payload("reopened", 12, &newer))
        .await;
    let e = app.settled(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(app.fake.reviews(REPO, 12).len(), 1, "not posted twice");
    assert!(
        e.review_id.is_some(),
        "the existing review is linked: {e:?}"
    );
    app.stop().await;
}

async fn github_failures_retry_then_fail_with_the_reason(url: String) {
    let mut app = App::start(&url, Options::default()).await;
    let head = sha1_hex(b"head 6");
    app.add_pull(13, &head);
    // Every pull request fetch fails: 3 attempts (max_attempts), then `failed`.
    app.fake.inject(support::fake_github::Fault {
        method: "GET",
        path_contains: "/pulls/13",
        kind: FaultKind::Status(502),
        times: 1_000,
    });
    let r = app
        .deliver("pull_request", "f-1", &pr_payload("opened", 13, &head))
        .await;
    let e = app.settled(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Failed, "{e:?}");
    assert_eq!(e.attempts, 3, "{e:?}");
    let reason = e.error.unwrap();
    assert!(reason.contains("gave up after 3 attempts"), "{reason}");
    assert!(!reason.contains(TOKEN));
    app.stop().await;
}

async fn revoked_token_fails_and_flags_the_user(url: String) {
    let mut app = App::start(&url, Options::default()).await;
    let head = sha1_hex(b"head 7");
    app.add_pull(14, &head);
    // The fake no longer knows the token: GitHub answers 401.
    app.fake.remove_token(TOKEN);
    let r = app
        .deliver("pull_request", "r-1", &pr_payload("opened", 14, &head))
        .await;
    let e = app.settled(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Failed, "{e:?}");
    assert_eq!(e.attempts, 1, "a revoked token is not retried");
    assert!(e.error.as_deref().unwrap().contains("sign in"), "{e:?}");
    let user = app
        .state
        .store
        .get_user(app.user_id)
        .await
        .unwrap()
        .unwrap();
    assert!(user.needs_reauth);
    app.stop().await;
}

async fn shutdown_releases_work_in_progress(url: String) {
    let mut options = Options::default();
    options.worker.shutdown_grace = Duration::from_millis(100);
    let mut app = App::start(&url, options).await;
    let head = sha1_hex(b"head 8");
    app.add_pull(15, &head);
    app.fake.inject(support::fake_github::Fault {
        method: "GET",
        path_contains: "/pulls/15",
        kind: FaultKind::Delay { millis: 3_000 },
        times: 1,
    });
    let r = app
        .deliver("pull_request", "sh-1", &pr_payload("opened", 15, &head))
        .await;
    let id = event_id(&r);
    for _ in 0..100 {
        if app.event(id).await.status == EventStatus::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.event(id).await.status, EventStatus::Running);
    app.stop().await;
    // Reopen the store: the pool of the stopped app is closed.
    let e = app.event_after_restart(id).await;
    assert_eq!(e.status, EventStatus::Pending, "{e:?}");
    assert_eq!(e.attempts, 0, "a released attempt is not counted");
    assert!(app.fake.reviews(REPO, 15).is_empty());
}

async fn replicas_share_one_queue(url: String) {
    let options = Options {
        workers: 2,
        ..Options::default()
    };
    let mut app = App::start(&url, options).await;
    // A second replica: its own process state (pool, workers, caches), the same database.
    let second_store = nectr::store::connect(&url).await.unwrap();
    let second = AppState::new(
        second_store,
        app.state.keyring.clone(),
        app.state.config.clone(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second_url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve(second.clone(), listener, async {
        let _ = rx.await;
    }));
    let mut ids = Vec::new();
    for n in 100..130u64 {
        let head = sha1_hex(format!("replica head {n}").as_bytes());
        app.add_pull(n, &head);
        let body = pr_payload("opened", n, &head);
        let signature = sign(SECRET.as_bytes(), &body);
        let hook = app.hook_id.to_string();
        let delivery = format!("rep-{n}");
        let base = if n % 2 == 0 { &app.url } else { &second_url };
        let r = send(
            "POST",
            &format!("{base}/api/v1/webhooks/github"),
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", &delivery),
                ("X-Hub-Signature-256", &signature),
                ("X-GitHub-Hook-ID", &hook),
            ],
            Some(&body),
        )
        .await;
        assert_eq!(r.status, 202, "{}", r.text());
        ids.push(event_id(&r));
    }
    for id in ids {
        assert_eq!(app.settled(id).await.status, EventStatus::Done);
    }
    for n in 100..130u64 {
        assert_eq!(app.fake.reviews(REPO, n).len(), 1, "PR #{n} reviewed once");
    }
    let _ = tx.send(());
    task.await.unwrap().unwrap();
    app.stop().await;
}

/// `issues` events and closed pull requests are queued and recorded in the knowledge graph,
/// so the next review knows the merge, the experts and the open issues.
async fn history_events_update_the_graph(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("context.db");
    let mut app = App::start(
        &url,
        Options {
            graph: Some(path.clone()),
            ..Options::default()
        },
    )
    .await;
    let issue = |action: &str, number: u64, state: &str, updated: &str| {
        serde_json::to_vec(&json!({
            "action": action,
            "issue": {"number": number, "title": format!("Issue {number}"), "state": state,
                      "body": "Crashes in `src/lib.rs` at startup",
                      "user": {"login": "reporter"}, "labels": [{"name": "bug"}],
                      "updated_at": updated},
            "repository": {"full_name": REPO}
        }))
        .unwrap()
    };
    for (delivery, number) in [("i-5", 5), ("i-6", 6)] {
        let body = issue("opened", number, "open", "2026-01-01T00:00:00Z");
        let r = app.deliver("issues", delivery, &body).await;
        assert_eq!(r.status, 202, "{}", r.text());
        let e = app.settled(event_id(&r)).await;
        assert_eq!(e.status, EventStatus::Done, "{e:?}");
    }
    // #6 is closed, and its closing event is recorded like its opening.
    let r = app
        .deliver(
            "issues",
            "i-6c",
            &issue("closed", 6, "closed", "2026-01-02T00:00:00Z"),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(app.settled(event_id(&r)).await.status, EventStatus::Done);

    // PR #7 is reviewed while open (one finding), then merged.
    let head = sha1_hex(b"head history");
    app.fake.add_pull(
        REPO,
        PullSpec {
            head_sha: head.clone(),
            title: "Change 7".into(),
            ..PullSpec::new(7, DIFF.replace("let x = 1;", "dbg!(1);"))
        },
    );
    let r = app
        .deliver("pull_request", "o-7", &pr_payload("opened", 7, &head))
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(app.settled(event_id(&r)).await.status, EventStatus::Done);
    let mut closed: serde_json::Value =
        serde_json::from_slice(&pr_payload("closed", 7, &head)).unwrap();
    closed["pull_request"]["state"] = json!("closed");
    closed["pull_request"]["merged"] = json!(true);
    closed["pull_request"]["merged_at"] = json!("2026-01-03T00:00:00Z");
    let closed = serde_json::to_vec(&closed).unwrap();
    let r = app.deliver("pull_request", "c-7", &closed).await;
    assert_eq!(
        r.status,
        202,
        "a merge is queued for the graph: {}",
        r.text()
    );
    let e = app.settled(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Done, "{e:?}");
    assert_eq!(
        app.fake.reviews(REPO, 7).len(),
        1,
        "a merge posts no review"
    );

    // What a review of a new PR on src/lib.rs would be told.
    let graph = EmbeddedGraph::open(&path).await.unwrap();
    let paths = vec!["src/lib.rs".to_owned()];
    let query = GraphQuery {
        repo: REPO,
        pr_number: 8,
        author: Some("someone"),
        paths: &paths,
        fixes: &[],
        limit: 10,
    };
    let answers = graph.query(&query).await.unwrap();
    let past: Vec<(u64, bool)> = answers
        .past_prs
        .iter()
        .map(|p| (p.number, p.merged))
        .collect();
    assert_eq!(past, vec![(7, true)], "{answers:#?}");
    let findings: Vec<&str> = answers.past_prs[0]
        .findings
        .iter()
        .map(|f| f.rule.as_str())
        .collect();
    assert_eq!(
        findings,
        vec!["debug.rust-dbg"],
        "the merge kept what the review found"
    );
    let experts: Vec<&str> = answers.experts.iter().map(|e| e.login.as_str()).collect();
    assert_eq!(
        experts,
        vec!["octocat"],
        "the merged PR's author knows the file"
    );
    let open: Vec<u64> = answers.open_issues.iter().map(|i| i.number).collect();
    assert_eq!(open, vec![5], "#6 was closed: {answers:#?}");

    // A deleted issue is no longer open here, whatever its last edit said.
    let r = app
        .deliver(
            "issues",
            "i-5d",
            &issue("deleted", 5, "open", "2026-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(app.settled(event_id(&r)).await.status, EventStatus::Done);
    let answers = graph.query(&query).await.unwrap();
    assert!(answers.open_issues.is_empty(), "{answers:#?}");

    // A malformed history payload fails for good with the reason; nothing is retried.
    let r = app
        .deliver(
            "issues",
            "i-bad",
            br#"{"action":"opened","repository":{"full_name":"acme/widgets"}}"#,
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let e = app.settled(event_id(&r)).await;
    assert_eq!(e.status, EventStatus::Failed, "{e:?}");
    assert_eq!(e.attempts, 1, "{e:?}");
    assert!(
        e.error
            .as_deref()
            .unwrap_or("")
            .contains("not an `issues` event"),
        "{e:?}"
    );
    app.stop().await;
}

impl App {
    async fn event_after_restart(&self, id: i64) -> EventSummary {
        let store = nectr::store::connect(&self.db_url).await.unwrap();
        let e = store.get_event(id).await.unwrap().unwrap();
        store.close().await;
        e
    }
}

// ---------------------------------------------------------------------------------------

backend_tests!(
    queued_pull_request_is_reviewed_once,
    forged_and_malformed_deliveries_are_refused,
    oversized_bodies_are_refused_without_reading_them,
    ping_ignored_and_global_secret,
    closed_stale_and_already_reviewed_are_skipped,
    github_failures_retry_then_fail_with_the_reason,
    revoked_token_fails_and_flags_the_user,
    shutdown_releases_work_in_progress,
    replicas_share_one_queue,
    history_events_update_the_graph,
);
