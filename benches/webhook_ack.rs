//! `cargo bench --bench webhook_ack`: how fast `nectr serve` acknowledges webhook
//! deliveries, with durable persistence, while its workers review what arrives.
//!
//! The release `nectr serve` binary runs as its own process on SQLite (a temp file) and — when
//! `NECTR_TEST_POSTGRES_URL` is set — on a fresh PostgreSQL database. This process is the
//! load generator and the fake GitHub the workers post to. Load is open-loop: delivery `i`
//! is sent at `start + i / rate` on a new connection (as GitHub does), and its latency is
//! measured from that scheduled time, so a stalled server cannot hide its stall by slowing
//! the sender down (no coordinated omission). Every delivery is a distinct pull request,
//! signed with the repo's secret, so each one is verified, stored and queued.
//!
//! Options (environment): `BENCH_RATE` (deliveries/s, default 200), `BENCH_SECS` (default 10),
//! `BENCH_BURST` (closed-loop concurrency for the max-throughput run, default 32),
//! `BENCH_ONLY` (`sqlite` or `postgres`), `BENCH_WORKERS` (review workers in `serve`, default 2),
//! `BENCH_CONTEXT` (`off` reviews without the knowledge graph and memories),
//! `BENCH_GITHUB_MS` (the fake GitHub answers every request after this long, as GitHub's
//! API does in 50–300 ms; default 0, so the workers review as fast as the CPU allows).

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nectr::crypto::{Keyring, generate_key};
use nectr::github::webhook::sign;
use support::db::{Connected, PgDatabase, seed_connected};
use support::fake_github::{Access, FakeGitHub, Fault, FaultKind, PullSpec, sha1_hex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REPO: &str = "bench/load";
const TOKEN: &str = "gho_bench_token";
const SECRET: &str = "0000111122223333444455556666777788889999aaaabbbbccccddddeeeeffff";
const DIFF: &str = concat!(
    "diff --git a/src/lib.rs b/src/lib.rs\n",
    "--- a/src/lib.rs\n",
    "+++ b/src/lib.rs\n",
    "@@ -1,2 +1,3 @@\n",
    " fn a() {}\n",
    "+fn b() { let password = \"hunter2hunter2\"; }\n",
    " fn c() {}\n",
);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A signed delivery for pull request `n`, as raw HTTP/1.1 bytes.
fn request(addr: &str, hook_id: i64, n: u64) -> Vec<u8> {
    let head_sha = sha1_hex(format!("bench head {n}").as_bytes());
    let body = serde_json::to_vec(&serde_json::json!({
        "action": "opened", "number": n,
        "pull_request": {"number": n, "title": "bench", "state": "open", "draft": false,
            "head": {"ref": "f", "sha": head_sha, "repo": {"full_name": REPO}},
            "base": {"ref": "main", "sha": sha1_hex(b"base commit"), "repo": {"full_name": REPO}}},
        "repository": {"full_name": REPO},
        // Padding to a realistic payload size: GitHub's pull_request payloads are 20–30 KB.
        "sender": {"login": "octocat", "padding": "x".repeat(20_000)}
    }))
    .unwrap();
    let signature = sign(SECRET.as_bytes(), &body);
    let mut out = format!(
        "POST /api/v1/webhooks/github HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: bench-{n}-{}\r\n\
         X-GitHub-Hook-ID: {hook_id}\r\nX-Hub-Signature-256: {signature}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        fastrand::u64(..),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Sends one prepared request; returns the status code.
async fn send(addr: &str, bytes: &[u8]) -> Result<u16, String> {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    s.set_nodelay(true).ok();
    s.write_all(bytes).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(512);
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad answer: {text}"))
}

struct Report {
    label: String,
    sent: usize,
    accepted: usize,
    errors: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Report {
    fn print(&mut self) {
        self.latencies.sort();
        let pct = |p: f64| -> f64 {
            if self.latencies.is_empty() {
                return f64::NAN;
            }
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies[i].as_secs_f64() * 1000.0
        };
        println!(
            "{:<44} sent {:>5}  202 {:>5}  errors {:>3}  {:>7.1}/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
            self.label,
            self.sent,
            self.accepted,
            self.errors,
            self.accepted as f64 / self.wall.as_secs_f64(),
            pct(0.50),
            pct(0.90),
            pct(0.99),
            pct(1.0)
        );
    }
}

/// Open loop: `rate` deliveries per second for `secs` seconds.
async fn open_loop(
    label: &str,
    addr: &str,
    hook_id: i64,
    first: u64,
    rate: u64,
    secs: u64,
) -> Report {
    let total = rate * secs;
    let requests: Vec<Arc<Vec<u8>>> = (0..total)
        .map(|i| Arc::new(request(addr, hook_id, first + i)))
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for (i, bytes) in requests.into_iter().enumerate() {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let addr = addr.to_owned();
        tasks.push(tokio::spawn(async move {
            let status = send(&addr, &bytes).await;
            (status, due.elapsed())
        }));
    }
    collect(label, tasks, started).await
}

/// Closed loop: `concurrency` senders back to back, as fast as the server answers.
async fn closed_loop(
    label: &str,
    addr: &str,
    hook_id: i64,
    first: u64,
    concurrency: u64,
    total: u64,
) -> Report {
    let per = total / concurrency;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let requests: Vec<Vec<u8>> = (0..per)
            .map(|i| request(addr, hook_id, first + c * per + i))
            .collect();
        let addr = addr.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for bytes in requests {
                let t = Instant::now();
                let status = send(&addr, &bytes).await;
                out.push((status, t.elapsed()));
            }
            out
        }));
    }
    let mut report = Report {
        label: label.into(),
        sent: 0,
        accepted: 0,
        errors: 0,
        wall: Duration::ZERO,
        latencies: Vec::new(),
    };
    for t in tasks {
        for (status, took) in t.await.unwrap() {
            tally(&mut report, status, took);
        }
    }
    report.wall = started.elapsed();
    report
}

fn tally(report: &mut Report, status: Result<u16, String>, took: Duration) {
    report.sent += 1;
    match status {
        Ok(202) => {
            report.accepted += 1;
            report.latencies.push(took);
        }
        Ok(other) => {
            report.errors += 1;
            if report.errors < 3 {
                eprintln!("unexpected status {other}");
            }
        }
        Err(e) => {
            report.errors += 1;
            if report.errors < 3 {
                eprintln!("request failed: {e}");
            }
        }
    }
}

async fn collect(
    label: &str,
    tasks: Vec<tokio::task::JoinHandle<(Result<u16, String>, Duration)>>,
    started: Instant,
) -> Report {
    let mut report = Report {
        label: label.into(),
        sent: 0,
        accepted: 0,
        errors: 0,
        wall: Duration::ZERO,
        latencies: Vec::new(),
    };
    for t in tasks {
        let (status, took) = t.await.unwrap();
        tally(&mut report, status, took);
    }
    report.wall = started.elapsed();
    report
}

async fn bench_backend(name: &str, db_url: &str) {
    let rate = env_u64("BENCH_RATE", 200);
    let secs = env_u64("BENCH_SECS", 10);
    let burst = env_u64("BENCH_BURST", 32);
    let fake = FakeGitHub::start().await;
    fake.add_token(TOKEN, "bench", Access::Write, "repo");
    // The workers' review traffic must not run into the fake's hourly limit mid-run.
    fake.set_rate_limit(10_000_000, 3600);
    // GitHub's own latency, when asked for: every request the workers make waits this long.
    let github_ms = env_u64("BENCH_GITHUB_MS", 0);
    if github_ms > 0 {
        fake.inject(Fault {
            method: "*",
            path_contains: "",
            kind: FaultKind::Delay { millis: github_ms },
            times: u32::MAX,
        });
    }
    fake.add_repo(REPO);
    let hook_id = fake.add_hook(
        REPO,
        "http://127.0.0.1/api/v1/webhooks/github",
        &["pull_request"],
    ) as i64;
    let pulls = rate * secs * 2 + burst * 100 + 100;
    for n in 1..=pulls {
        fake.add_pull(
            REPO,
            PullSpec {
                head_sha: sha1_hex(format!("bench head {n}").as_bytes()),
                ..PullSpec::new(n, DIFF)
            },
        );
    }
    let key = generate_key();
    let keyring = Keyring::from_env_value(&key).unwrap();
    let store = nectr::store::connect(db_url).await.unwrap();
    let connected = Connected {
        repo: REPO,
        login: "bench",
        github_id: 1,
        token: TOKEN,
        hook_id,
        secret: SECRET,
    };
    seed_connected(store.as_ref(), &keyring, &connected).await;
    store.close().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    // The workers review with the context steps on, as `serve` does by default — on a
    // context database of this run's own, never the user's.
    let context_dir = tempfile::tempdir().unwrap();
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_nectr"))
        .arg("serve")
        .env("NECTR_CONTEXT_DB", context_dir.path().join("context.db"))
        .env(
            "NECTR_CONTEXT",
            std::env::var("BENCH_CONTEXT").unwrap_or_else(|_| "on".into()),
        )
        .env("NECTR_ENCRYPTION_KEY", &key)
        .env("DATABASE_URL", db_url)
        .env("NECTR_BIND", &addr)
        .env("GITHUB_API_URL", &fake.url)
        .env(
            "NECTR_WORKERS",
            std::env::var("BENCH_WORKERS").unwrap_or_else(|_| "2".into()),
        )
        .env("NECTR_GITHUB_WRITE_GAP_MS", "0")
        .env("NECTR_LOG", "error")
        .env_remove("GITHUB_CLIENT_ID")
        .stdout(Stdio::null())
        .spawn()
        .expect("start nectr serve");
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Warm up: connections, prepared statements, page cache.
    let _ = open_loop("warm-up", &addr, hook_id, 1, 50, 1).await;

    let mut steady = open_loop(
        &format!("{name}: open loop {rate}/s for {secs} s"),
        &addr,
        hook_id,
        100,
        rate,
        secs,
    )
    .await;
    steady.print();
    let mut max = closed_loop(
        &format!("{name}: closed loop, {burst} concurrent"),
        &addr,
        hook_id,
        100 + rate * secs,
        burst,
        burst * 100,
    )
    .await;
    max.print();
    let reviews: usize = (1..=pulls).map(|n| fake.reviews(REPO, n).len()).sum();
    println!("{name}: reviews posted meanwhile by the workers: {reviews}");
    child.kill().ok();
    child.wait().ok();
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let only = std::env::var("BENCH_ONLY").unwrap_or_default();
        let want = |backend: &str| only.is_empty() || only == backend;
        if want("sqlite") {
            let dir = tempfile::tempdir().unwrap();
            let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
            bench_backend("sqlite", &sqlite).await;
        }
        if !want("postgres") {
            return;
        }
        let Some(db) = PgDatabase::create().await else {
            return;
        };
        bench_backend("postgres", &db.url).await;
        db.drop_database().await;
    });
}
