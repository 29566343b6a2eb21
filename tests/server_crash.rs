//! `kill -9` under load: the real `nectr serve` binary, killed with SIGKILL again and again
//! while deliveries arrive at about 200 per second and workers post reviews to the fake
//! GitHub. Afterwards every acknowledged delivery is in the database, every pull request
//! has exactly one review, and no event is stuck.
//!
//! Runs on SQLite always and on PostgreSQL when `NECTR_TEST_POSTGRES_URL` is set.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nectr::crypto::{Keyring, generate_key};
use nectr::github::webhook::sign;
use nectr::store::EventStatus;
use serde_json::json;
use support::db::{Connected, PgDatabase, all_event_ids, seed_connected};
use support::fake_github::{Access, FakeGitHub, PullSpec, sha1_hex};
use support::raw_http::try_send;

const REPO: &str = "acme/crashy";
const TOKEN: &str = "gho_crash_token_0123456789";
const SECRET: &str = "feedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedfacefeedface";
const PULLS: u64 = 600;
const KILLS: usize = 3;

const DIFF: &str = concat!(
    "diff --git a/src/lib.rs b/src/lib.rs\n",
    "--- a/src/lib.rs\n",
    "+++ b/src/lib.rs\n",
    "@@ -1,2 +1,3 @@\n",
    " fn a() {}\n",
    "+fn b() { let x = 1; }\n",
    " fn c() {}\n",
);

struct Server {
    child: Child,
    url: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(db_url: &str, key: &str, fake: &FakeGitHub, port: u16) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_nectr"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NECTR_ENCRYPTION_KEY", key)
        .env("DATABASE_URL", db_url)
        .env("NECTR_BIND", format!("127.0.0.1:{port}"))
        .env("NECTR_PUBLIC_URL", "http://127.0.0.1")
        .env("GITHUB_API_URL", &fake.url)
        .env("GITHUB_SERVER_URL", &fake.url)
        .env("NECTR_WORKERS", "2")
        .env("NECTR_LEASE_SECS", "2")
        .env("NECTR_POLL_MS", "50")
        .env("NECTR_RETRY_BASE_SECS", "0")
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .env("NECTR_GITHUB_RETRY_BASE_MS", "10")
        .env("NECTR_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start nectr serve");
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_ready(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = try_send("GET", &format!("{}/healthz", server.url), &[], None).await
            && r.status == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("nectr serve did not become ready");
}

fn payload(number: u64) -> Vec<u8> {
    let head = sha1_hex(format!("head {number}").as_bytes());
    serde_json::to_vec(&json!({
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number, "title": "t", "state": "open", "draft": false,
            "head": {"ref": "f", "sha": head, "repo": {"full_name": REPO}},
            "base": {"ref": "main", "sha": sha1_hex(b"base commit"), "repo": {"full_name": REPO}}
        },
        "repository": {"full_name": REPO}
    }))
    .unwrap()
}

async fn deliver(url: &str, hook_id: i64, number: u64) -> Result<u16, String> {
    let body = payload(number);
    let signature = sign(SECRET.as_bytes(), &body);
    let delivery = format!("crash-{number}");
    let hook = hook_id.to_string();
    let r = try_send(
        "POST",
        &format!("{url}/api/v1/webhooks/github"),
        &[
            ("X-GitHub-Event", "pull_request"),
            ("X-GitHub-Delivery", &delivery),
            ("X-Hub-Signature-256", &signature),
            ("X-GitHub-Hook-ID", &hook),
        ],
        Some(&body),
    )
    .await?;
    Ok(r.status)
}

async fn killed_servers_lose_nothing_and_post_nothing_twice(db_url: String) {
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, "alice", Access::Write, "repo");
    fake.add_repo(REPO);
    let hook_id = fake.add_hook(
        REPO,
        "http://127.0.0.1/api/v1/webhooks/github",
        &["pull_request"],
    ) as i64;
    for n in 1..=PULLS {
        fake.add_pull(
            REPO,
            PullSpec {
                head_sha: sha1_hex(format!("head {n}").as_bytes()),
                ..PullSpec::new(n, DIFF)
            },
        );
    }
    let key = generate_key();
    let keyring = Keyring::from_env_value(&key).unwrap();
    {
        let store = nectr::store::connect(&db_url).await.unwrap();
        let connected = Connected {
            repo: REPO,
            login: "alice",
            github_id: 7,
            token: TOKEN,
            hook_id,
            secret: SECRET,
        };
        seed_connected(store.as_ref(), &keyring, &connected).await;
        store.close().await;
    }

    let port = free_port();
    let mut server = start_server(&db_url, &key, &fake, port);
    wait_ready(&server).await;
    let url = server.url.clone();
    // Deliveries go out on their own tasks at ~200 per second, so some are in flight when
    // the server dies; the kills happen on this task meanwhile.
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut inflight = Vec::new();
        for n in 1..=PULLS {
            tokio::time::sleep_until((started + Duration::from_millis(5 * n)).into()).await;
            let url = url.clone();
            inflight.push(tokio::spawn(
                async move { (n, deliver(&url, hook_id, n).await) },
            ));
        }
        let mut results = Vec::new();
        for task in inflight {
            results.push(task.await.unwrap());
        }
        results
    });
    let period = Duration::from_millis(5 * PULLS) / (KILLS as u32 + 1);
    for k in 1..=KILLS {
        tokio::time::sleep_until((started + period * k as u32).into()).await;
        // SIGKILL: no shutdown hook runs, leases are left behind.
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        server = start_server(&db_url, &key, &fake, port);
    }
    let results = sender.await.unwrap();
    wait_ready(&server).await;
    let mut acknowledged = 0usize;
    let mut unacknowledged = Vec::new();
    for (n, result) in results {
        match result {
            Ok(202) => acknowledged += 1,
            Ok(status) => panic!("delivery {n} answered {status}"),
            // Refused or cut off by the kill: redelivered, as a user would from GitHub's
            // "Recent deliveries" page.
            Err(_) => unacknowledged.push(n),
        }
    }
    for &n in &unacknowledged {
        let status = deliver(&server.url, hook_id, n).await.expect("redelivery");
        assert!(
            status == 202 || status == 200,
            "redelivery of {n}: {status}"
        );
    }

    // Drain: every event reaches `done`.
    let store = nectr::store::connect(&db_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stats = store.queue_stats(nectr::server::now()).await.unwrap();
        if stats.pending == 0 && stats.running == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "queue did not drain: {stats:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut events = Vec::new();
    for id in all_event_ids(&db_url).await {
        events.push(store.get_event(id).await.unwrap().expect("listed event"));
    }
    let mut delivered: Vec<&str> = events.iter().map(|e| e.delivery_id.as_str()).collect();
    delivered.sort();
    let stored = delivered.len();
    delivered.dedup();
    assert_eq!(stored, delivered.len(), "a delivery was stored twice");
    let missing: Vec<u64> = (1..=PULLS)
        .filter(|n| {
            delivered
                .binary_search(&format!("crash-{n}").as_str())
                .is_err()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "deliveries lost (acknowledged ones were answered 202): {missing:?}"
    );
    for e in &events {
        assert_eq!(e.status, EventStatus::Done, "{e:?}");
    }
    for n in 1..=PULLS {
        let reviews = fake.reviews(REPO, n);
        assert_eq!(reviews.len(), 1, "PR #{n} has {} reviews", reviews.len());
    }
    store.close().await;
    eprintln!(
        "{acknowledged} acknowledged at first try, {} redelivered after {KILLS} kills",
        unacknowledged.len()
    );
    assert!(
        acknowledged > PULLS as usize / 3,
        "the load ran mostly against a live server"
    );
    assert!(
        !unacknowledged.is_empty(),
        "some deliveries were cut off by the kills"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nectr.db").display());
    killed_servers_lose_nothing_and_post_nothing_twice(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_9_under_load() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let outcome = tokio::spawn(killed_servers_lose_nothing_and_post_nothing_twice(
        db.url.clone(),
    ))
    .await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
