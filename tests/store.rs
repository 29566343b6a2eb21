//! The store (`src/store/`), with the same test bodies against both backends:
//! `sqlite::*` on a fresh file in a temp dir, always; `postgres::*` when
//! `NECTR_TEST_POSTGRES_URL` names a server (e.g. `postgres://postgres@127.0.0.1:5432/test`).
//! Each PostgreSQL test creates its own database with a random name through that URL and
//! drops it afterwards, even when the test fails, so parallel runs never share state.
//! Without the variable the `postgres::*` tests pass after printing that they were skipped.

use std::collections::HashSet;
use std::sync::Arc;

use nectr::store::{
    self, DELIVERY_DEDUPE_SECS, DUPLICATE_WINDOW_SECS, EventStatus, NewEvent, NewInstallation,
    NewReviewRecord, NewUser, Recorded, Session, Store, User,
};
use support::db::Db;
use tokio::sync::Barrier;

mod support;

/// An arbitrary "now" (2023-11-14); tests move time by adding to it.
const T: i64 = 1_700_000_000;

backend_tests!(
    store:
    migrations_are_idempotent_on_reconnect,
    delivery_guid_is_deduplicated_for_seven_days,
    same_change_within_an_hour_is_a_duplicate,
    a_batch_is_one_transaction_in_callers_order,
    ignored_events_are_stored_not_queued,
    concurrent_deliveries_of_one_guid_insert_once,
    concurrent_deliveries_of_one_change_queue_once,
    concurrent_workers_claim_every_event_exactly_once,
    expired_lease_is_reclaimed_and_old_owner_locked_out,
    retries_wait_for_their_not_before_time,
    release_returns_event_without_counting_attempt,
    oauth_state_is_single_use_and_expires,
    crashed_attempts_count_and_end_failed,
    sessions_expire_and_join_their_user,
    one_active_installation_per_repo,
    concurrent_connects_leave_one_active_installation,
    users_and_rotation_compare_and_swap,
    dashboard_events_join_reviews_per_user,
    sql_injection_in_names_is_stored_verbatim,
    review_findings_and_notes_are_bounded_and_kept_with_their_review,
    repository_settings_default_to_todays_behaviour,
    dismissals_count_once_per_comment_and_per_user,
);

#[test]
fn with_database_replaces_only_the_path() {
    use support::db::with_database;
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

// --- backend-independent checks ---

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    use sqlx::Row;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    assert!(!path.exists());
    let store = store::SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    assert!(path.exists(), "the file is created");
    let pragma = |name: &'static str| {
        let pool = store.pool().clone();
        async move {
            let row = sqlx::query(name).fetch_one(&pool).await.unwrap();
            row.try_get::<String, _>(0)
                .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("PRAGMA journal_mode").await, "wal");
    assert_eq!(pragma("PRAGMA foreign_keys").await, "1");
    assert_eq!(pragma("PRAGMA busy_timeout").await, "10000");
    store.close().await;
}

/// Commits never checkpoint (a webhook would wait for the fsync); a background task does,
/// so the WAL's pages still reach the database file while the store is open.
#[tokio::test]
async fn sqlite_checkpoints_in_the_background_not_in_commits() {
    use sqlx::Row;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let store = store::SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    let row = sqlx::query("PRAGMA wal_autocheckpoint")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<i64, _>(0), 0);
    let before = std::fs::metadata(&path).unwrap().len();
    let payload = "x".repeat(4000);
    let events: Vec<NewEvent> = (0..500)
        .map(|i| NewEvent {
            payload: payload.clone().into_bytes(),
            ..pr_event(
                &format!("wal-{i}"),
                "acme/wal",
                i,
                &format!("{i:040x}"),
                "opened",
            )
        })
        .collect();
    store.record_deliveries(&events, 1_000).await.unwrap();
    // About 2 MB went to the WAL; within a few seconds the checkpoint copies it over.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = std::fs::metadata(&path).unwrap().len();
        if now >= before + 1_500_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint: the database file is still {now} bytes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    store.close().await;
}

#[tokio::test]
async fn in_memory_sqlite_works_for_quick_runs() {
    let store = store::connect("sqlite::memory:").await.expect("connect");
    let alice = user(&*store, 1, "alice").await;
    assert_eq!(store.get_user(alice.id).await.unwrap(), Some(alice));
    assert_eq!(store.backend(), "sqlite");
    store.close().await;
}

#[tokio::test]
async fn connect_errors_say_what_is_wrong_without_secrets() {
    let err = store::connect("mysql://root:hunter2@db/nectr")
        .await
        .err()
        .expect("unsupported");
    let shown = format!("{:#}", anyhow::Error::new(err));
    assert!(shown.contains("`mysql`"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");

    let err = store::connect("sqlite:///nonexistent-nectr-dir/sub/nectr.db")
        .await
        .err()
        .expect("no such directory");
    let shown = format!("{:#}", anyhow::Error::new(err));
    assert!(
        shown.contains("/nonexistent-nectr-dir/sub/nectr.db"),
        "{shown}"
    );

    let err = store::connect("postgres://nectr:hunter2@127.0.0.1:1/nectr")
        .await
        .err()
        .expect("nothing listens on port 1");
    let shown = format!("{:#}", anyhow::Error::new(err));
    assert!(shown.contains("nectr@127.0.0.1:1/nectr"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");

    // Scheme case does not matter.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("SQLite://{}", dir.path().join("upper.db").display());
    store::connect(&url).await.expect("connect").close().await;
    assert!(dir.path().join("upper.db").exists());
}

// --- helpers ---

fn pr_event(delivery: &str, repo: &str, pr: i64, sha: &str, action: &str) -> NewEvent {
    NewEvent {
        delivery_id: delivery.to_owned(),
        event: "pull_request".to_owned(),
        action: Some(action.to_owned()),
        repo: repo.to_owned(),
        pr_number: Some(pr),
        head_sha: Some(sha.to_owned()),
        installation_id: None,
        ignore_reason: None,
        payload: format!("{{\"delivery\":\"{delivery}\"}}").into_bytes(),
    }
}

async fn user(store: &dyn Store, github_id: i64, login: &str) -> User {
    store
        .upsert_user(
            &NewUser {
                github_id,
                login: login.to_owned(),
                encrypted_token: format!("enc-token-{login}"),
                scopes: "repo,admin:repo_hook".to_owned(),
            },
            T,
        )
        .await
        .expect("upsert user")
}

fn installation(repo: &str, user_id: i64, webhook_id: i64) -> NewInstallation {
    NewInstallation {
        repo: repo.to_owned(),
        user_id,
        webhook_id,
        encrypted_webhook_secret: format!("enc-secret-{webhook_id}"),
    }
}

async fn inserted(store: &dyn Store, event: &NewEvent, now: i64) -> i64 {
    match store.record_delivery(event, now).await.expect("record") {
        Recorded::Inserted(id) => id,
        other => panic!("expected Inserted for {}, got {other:?}", event.delivery_id),
    }
}

async fn status(store: &dyn Store, id: i64) -> EventStatus {
    store
        .get_event(id)
        .await
        .expect("get event")
        .expect("event exists")
        .status
}

/// Claims until the queue is empty at `now`; returns the claimed ids in order.
async fn drain(store: &dyn Store, worker: &str, now: i64) -> Vec<i64> {
    let mut ids = Vec::new();
    while let Some(claimed) = store.claim_next(worker, 60, 5, now).await.expect("claim") {
        ids.push(claimed.id);
    }
    ids
}

// --- test bodies ---

async fn migrations_are_idempotent_on_reconnect(db: Db) {
    let alice = user(&*db.store, 1, "alice").await;
    db.store.close().await;

    // Twice in a row, then two at once: every connect runs the migrator again.
    let again = store::connect(&db.url).await.expect("reconnect");
    again.close().await;
    let (a, b) = tokio::join!(store::connect(&db.url), store::connect(&db.url));
    let (a, b) = (
        a.expect("concurrent connect a"),
        b.expect("concurrent connect b"),
    );

    assert_eq!(a.backend(), db.store.backend());
    assert_eq!(a.get_user(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(
        b.get_user_by_github_id(1).await.unwrap().map(|u| u.login),
        Some("alice".to_owned())
    );
    let id = inserted(
        &*b,
        &pr_event("after-reconnect", "o/r", 1, "s", "opened"),
        T,
    )
    .await;
    assert_eq!(status(&*a, id).await, EventStatus::Pending);
    a.close().await;
    b.close().await;
}

async fn delivery_guid_is_deduplicated_for_seven_days(db: Db) {
    let store = &*db.store;
    let event = pr_event("guid-1", "acme/widgets", 1, "aaa", "opened");
    let first = inserted(store, &event, T).await;

    for later in [0, 1, 3600, DELIVERY_DEDUPE_SECS - 1] {
        assert_eq!(
            store.record_delivery(&event, T + later).await.unwrap(),
            Recorded::SeenDelivery,
            "{later}s later"
        );
    }

    // Past the window the GUID counts as new; the old row keeps its history.
    let second = inserted(store, &event, T + DELIVERY_DEDUPE_SECS + 1).await;
    assert_ne!(first, second);
    let old = store.get_event(first).await.unwrap().unwrap();
    assert_eq!(old.delivery_id, format!("guid-1#{first}"));
    let new = store.get_event(second).await.unwrap().unwrap();
    assert_eq!(new.delivery_id, "guid-1");
    assert_eq!(new.status, EventStatus::Pending);
    assert_eq!(
        store
            .record_delivery(&event, T + DELIVERY_DEDUPE_SECS + 2)
            .await
            .unwrap(),
        Recorded::SeenDelivery
    );
}

async fn a_batch_is_one_transaction_in_callers_order(db: Db) {
    let store = &*db.store;
    let repo = "acme/batch";
    let mut ignored = pr_event("i", repo, 9, "zzz", "closed");
    ignored.ignore_reason = Some("closed".into());
    // Many PRs, so the PostgreSQL lock-key order differs from the callers' order.
    let mut batch: Vec<NewEvent> = (0..20)
        .map(|n| pr_event(&format!("p{n}"), repo, n, "abc", "opened"))
        .collect();
    batch.push(pr_event("p3", repo, 99, "new", "opened")); // a GUID already in the batch
    batch.push(pr_event("q", repo, 5, "abc", "opened")); // the change of p5 again
    batch.push(ignored);
    let out = store.record_deliveries(&batch, T).await.unwrap();
    assert_eq!(out.len(), batch.len());
    for (n, r) in out.iter().take(20).enumerate() {
        let Recorded::Inserted(id) = r else {
            panic!("p{n}: {r:?}")
        };
        let e = store.get_event(*id).await.unwrap().unwrap();
        assert_eq!(
            e.delivery_id,
            format!("p{n}"),
            "answers in the callers' order"
        );
    }
    assert_eq!(out[20], Recorded::SeenDelivery);
    assert!(matches!(out[21], Recorded::Duplicate(_)), "{:?}", out[21]);
    let Recorded::Inserted(ignored_id) = out[22] else {
        panic!("{:?}", out[22])
    };
    assert_eq!(status(store, ignored_id).await, EventStatus::Ignored);
    // Committed together: a second connection sees all of them.
    let other = store::connect(&db.url).await.unwrap();
    assert_eq!(other.queue_stats(T).await.unwrap().pending, 20);
    other.close().await;
}

async fn same_change_within_an_hour_is_a_duplicate(db: Db) {
    let store = &*db.store;
    let repo = "acme/widgets";
    let original = inserted(store, &pr_event("a", repo, 7, "abc", "synchronize"), T).await;

    let dup = match store
        .record_delivery(&pr_event("b", repo, 7, "abc", "synchronize"), T + 600)
        .await
        .unwrap()
    {
        Recorded::Duplicate(id) => id,
        other => panic!("expected Duplicate, got {other:?}"),
    };
    assert_ne!(dup, original);
    assert_eq!(status(store, dup).await, EventStatus::Duplicate);

    // Any part of the key differing makes it a new event.
    let other_action = inserted(store, &pr_event("c", repo, 7, "abc", "reopened"), T + 600).await;
    let other_sha = inserted(
        store,
        &pr_event("d", repo, 7, "def", "synchronize"),
        T + 600,
    )
    .await;
    let other_pr = inserted(
        store,
        &pr_event("e", repo, 8, "abc", "synchronize"),
        T + 600,
    )
    .await;
    let other_repo = inserted(store, &pr_event("f", "acme/x", 7, "abc", "synchronize"), T).await;

    // Past the hour — counted from the original, not from the duplicate at T+600.
    let later = inserted(
        store,
        &pr_event("g", repo, 7, "abc", "synchronize"),
        T + DUPLICATE_WINDOW_SECS + 1,
    )
    .await;

    // A missing action compares equal to a missing action.
    let mut no_action = pr_event("h1", repo, 9, "abc", "");
    no_action.action = None;
    let no_action_id = inserted(store, &no_action, T).await;
    no_action.delivery_id = "h2".to_owned();
    assert!(matches!(
        store.record_delivery(&no_action, T + 1).await.unwrap(),
        Recorded::Duplicate(_)
    ));

    // Events without a PR and head SHA are never duplicates.
    let push = |guid: &str| NewEvent {
        pr_number: None,
        head_sha: None,
        event: "push".to_owned(),
        action: None,
        ..pr_event(guid, repo, 0, "", "")
    };
    let push_a = inserted(store, &push("p1"), T).await;
    let push_b = inserted(store, &push("p2"), T).await;

    let mut claimed = drain(store, "w", T + 2 * DUPLICATE_WINDOW_SECS).await;
    claimed.sort_unstable();
    let mut expected = vec![
        original,
        other_action,
        other_sha,
        other_pr,
        other_repo,
        later,
        no_action_id,
        push_a,
        push_b,
    ];
    expected.sort_unstable();
    assert_eq!(claimed, expected, "duplicates are never queued");
}

async fn ignored_events_are_stored_not_queued(db: Db) {
    let store = &*db.store;
    let mut event = pr_event("ign", "acme/widgets", 3, "abc", "opened");
    event.ignore_reason = Some("draft pull request".to_owned());
    let id = inserted(store, &event, T).await;
    let stored = store.get_event(id).await.unwrap().unwrap();
    assert_eq!(stored.status, EventStatus::Ignored);
    assert_eq!(stored.error.as_deref(), Some("draft pull request"));
    assert_eq!(store.claim_next("w", 60, 5, T + 1).await.unwrap(), None);
    assert_eq!(store.queue_stats(T + 1).await.unwrap().pending, 0);
}

async fn concurrent_deliveries_of_one_guid_insert_once(db: Db) {
    let barrier = Arc::new(Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, barrier) = (db.store.clone(), barrier.clone());
            tokio::spawn(async move {
                let event = pr_event("same-guid", "acme/widgets", 1, "abc", "opened");
                barrier.wait().await;
                store.record_delivery(&event, T).await.expect("record")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let inserted: Vec<_> = outcomes
        .iter()
        .filter(|o| matches!(o, Recorded::Inserted(_)))
        .collect();
    assert_eq!(inserted.len(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Recorded::SeenDelivery)
            .count(),
        9,
        "{outcomes:?}"
    );
    assert_eq!(drain(&*db.store, "w", T).await.len(), 1);
}

async fn concurrent_deliveries_of_one_change_queue_once(db: Db) {
    // Different GUIDs for the same PR head and action (say, two webhooks on one repo),
    // ten at once; several rounds, each with its own head SHA, to give a race room to show.
    for round in 0..20 {
        let barrier = Arc::new(Barrier::new(10));
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let (store, barrier) = (db.store.clone(), barrier.clone());
                tokio::spawn(async move {
                    let guid = format!("hook-{round}-{i}");
                    let sha = format!("sha-{round}");
                    let event = pr_event(&guid, "acme/widgets", 5, &sha, "synchronize");
                    barrier.wait().await;
                    store.record_delivery(&event, T).await.expect("record")
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        let queued = outcomes
            .iter()
            .filter(|o| matches!(o, Recorded::Inserted(_)))
            .count();
        let duplicates = outcomes
            .iter()
            .filter(|o| matches!(o, Recorded::Duplicate(_)))
            .count();
        assert_eq!((queued, duplicates), (1, 9), "round {round}: {outcomes:?}");
    }
}

async fn concurrent_workers_claim_every_event_exactly_once(db: Db) {
    const EVENTS: i64 = 60;
    let mut all = HashSet::new();
    for n in 0..EVENTS {
        let event = pr_event(&format!("d-{n}"), "acme/widgets", n, "abc", "opened");
        // Spread creation times a little so ordering matters.
        all.insert(inserted(&*db.store, &event, T + n % 7).await);
    }

    let barrier = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (store, barrier) = (db.store.clone(), barrier.clone());
            tokio::spawn(async move {
                let worker = format!("worker-{w}");
                barrier.wait().await;
                let mut mine = Vec::new();
                while let Some(claimed) = store.claim_next(&worker, 300, 5, T + 10).await.unwrap() {
                    assert_eq!(claimed.attempts, 1, "claimed twice: {claimed:?}");
                    assert!(store.complete(claimed.id, &worker, T + 11).await.unwrap());
                    mine.push(claimed.id);
                    tokio::task::yield_now().await;
                }
                mine
            })
        })
        .collect();

    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        for id in worker.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "event {id} claimed twice");
        }
    }
    assert_eq!(total, EVENTS as usize);
    assert_eq!(seen, all);
    for id in all {
        assert_eq!(status(&*db.store, id).await, EventStatus::Done);
    }
    let stats = db.store.queue_stats(T + 12).await.unwrap();
    assert_eq!((stats.pending, stats.running), (0, 0));
}

async fn expired_lease_is_reclaimed_and_old_owner_locked_out(db: Db) {
    let store = &*db.store;
    let mut event = pr_event("lease", "acme/widgets", 1, "abc", "opened");
    event.payload = vec![0, 159, 146, 150, 255, b'\n'];
    let id = inserted(store, &event, T).await;

    let first = store
        .claim_next("w1", 30, 5, T)
        .await
        .unwrap()
        .expect("claim");
    assert_eq!((first.id, first.attempts), (id, 1));
    assert_eq!(first.lease_expires_at, T + 30);
    assert_eq!(first.payload, event.payload, "payload bytes round-trip");
    assert_eq!(first.head_sha.as_deref(), Some("abc"));
    assert_eq!(status(store, id).await, EventStatus::Running);

    // While the lease lives, nobody else gets it; its owner can extend it.
    assert_eq!(store.claim_next("w2", 30, 5, T + 10).await.unwrap(), None);
    assert!(store.extend_lease(id, "w1", 30, T + 20).await.unwrap());
    assert!(!store.extend_lease(id, "w2", 30, T + 20).await.unwrap());
    assert_eq!(store.claim_next("w2", 30, 5, T + 40).await.unwrap(), None);

    // w1 stalls past T+50: w2 takes over.
    let second = store
        .claim_next("w2", 30, 5, T + 50)
        .await
        .unwrap()
        .expect("reclaim");
    assert_eq!((second.id, second.attempts), (id, 2));

    // The stalled worker can no longer touch it.
    assert!(!store.complete(id, "w1", T + 51).await.unwrap());
    assert!(!store.fail(id, "w1", "late", None, T + 51).await.unwrap());
    assert!(!store.extend_lease(id, "w1", 30, T + 51).await.unwrap());
    assert!(!store.release(id, "w1", T + 51).await.unwrap());
    assert_eq!(status(store, id).await, EventStatus::Running);

    assert!(store.complete(id, "w2", T + 52).await.unwrap());
    assert_eq!(status(store, id).await, EventStatus::Done);
    assert!(
        !store.complete(id, "w2", T + 53).await.unwrap(),
        "done is final"
    );
    assert_eq!(store.claim_next("w3", 30, 5, T + 1000).await.unwrap(), None);
}

async fn retries_wait_for_their_not_before_time(db: Db) {
    let store = &*db.store;
    let id = inserted(
        store,
        &pr_event("retry", "acme/widgets", 1, "abc", "opened"),
        T,
    )
    .await;
    let stats = store.queue_stats(T + 5).await.unwrap();
    assert_eq!((stats.pending, stats.oldest_pending_age_secs), (1, 5));

    store
        .claim_next("w1", 60, 5, T + 10)
        .await
        .unwrap()
        .expect("claim");
    let stats = store.queue_stats(T + 11).await.unwrap();
    assert_eq!((stats.pending, stats.running), (0, 1));
    assert!(
        store
            .fail(id, "w1", "GitHub answered 502", Some(T + 100), T + 11)
            .await
            .unwrap()
    );
    let event = store.get_event(id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Pending);
    assert_eq!(event.not_before, Some(T + 100));
    assert_eq!(event.error.as_deref(), Some("GitHub answered 502"));
    assert_eq!(event.attempts, 1);

    // Not before its time; and a retry not yet due is pending but not "waiting".
    assert_eq!(store.claim_next("w2", 60, 5, T + 99).await.unwrap(), None);
    let stats = store.queue_stats(T + 99).await.unwrap();
    assert_eq!((stats.pending, stats.oldest_pending_age_secs), (1, 0));
    let stats = store.queue_stats(T + 130).await.unwrap();
    assert_eq!(stats.oldest_pending_age_secs, 30);

    let again = store
        .claim_next("w2", 60, 5, T + 100)
        .await
        .unwrap()
        .expect("due");
    assert_eq!((again.id, again.attempts), (id, 2));

    // Out of retries: failed for good, error kept, never claimed again.
    let long_error = "x".repeat(20_000);
    assert!(
        store
            .fail(id, "w2", &long_error, None, T + 101)
            .await
            .unwrap()
    );
    let event = store.get_event(id).await.unwrap().unwrap();
    assert_eq!(event.status, EventStatus::Failed);
    assert_eq!(event.error.map(|e| e.len()), Some(store::MAX_ERROR_LEN));
    assert_eq!(
        store.claim_next("w3", 60, 5, T + 1_000_000).await.unwrap(),
        None
    );
}

async fn release_returns_event_without_counting_attempt(db: Db) {
    let store = &*db.store;
    let id = inserted(
        store,
        &pr_event("rel", "acme/widgets", 1, "abc", "opened"),
        T,
    )
    .await;
    let first = store
        .claim_next("w1", 60, 5, T)
        .await
        .unwrap()
        .expect("claim");
    assert_eq!(first.attempts, 1);

    assert!(
        !store.release(id, "w2", T + 1).await.unwrap(),
        "not the owner"
    );
    assert!(store.release(id, "w1", T + 1).await.unwrap());
    let event = store.get_event(id).await.unwrap().unwrap();
    assert_eq!((event.status, event.attempts), (EventStatus::Pending, 0));

    // Claimable at once by the next process.
    let next = store
        .claim_next("w2", 60, 5, T + 1)
        .await
        .unwrap()
        .expect("reclaim");
    assert_eq!((next.id, next.attempts), (id, 1));
    assert!(!store.release(id, "w1", T + 2).await.unwrap());
}

async fn oauth_state_is_single_use_and_expires(db: Db) {
    let store = &*db.store;
    assert!(store.spend_oauth_state("s1", T + 600, T + 1).await.unwrap());
    assert!(!store.spend_oauth_state("s1", T + 600, T + 2).await.unwrap());

    // Expired: refused, and nothing is written for it.
    assert!(
        !store
            .spend_oauth_state("s2", T + 600, T + 600)
            .await
            .unwrap()
    );
    assert!(store.spend_oauth_state("s2", T + 600, T).await.unwrap());

    // Ten concurrent callbacks with one state: exactly one wins.
    let barrier = Arc::new(Barrier::new(10));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, barrier) = (db.store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.spend_oauth_state("s3", T + 600, T + 1).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);

    // Spent states are kept only until they would have expired anyway.
    assert!(store.spend_oauth_state("s4", T + 10, T).await.unwrap());
    assert!(store.spend_oauth_state("s5", T + 1000, T).await.unwrap());
    assert_eq!(store.purge_expired(T + 10).await.unwrap(), 1);
    assert!(!store.spend_oauth_state("s5", T + 1000, T).await.unwrap());
}

async fn crashed_attempts_count_and_end_failed(db: Db) {
    let store = &*db.store;
    let crashy = inserted(
        store,
        &pr_event("crashy", "acme/widgets", 1, "abc", "opened"),
        T,
    )
    .await;
    let next = inserted(
        store,
        &pr_event("next", "acme/widgets", 2, "def", "opened"),
        T + 1,
    )
    .await;
    // Two attempts, each of whose worker died (the lease just expires).
    let first = store.claim_next("w1", 30, 2, T).await.unwrap().unwrap();
    assert_eq!((first.id, first.attempts), (crashy, 1));
    let second = store
        .claim_next("w2", 30, 2, T + 31)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.id, second.attempts), (crashy, 2));
    // The third claim finds it out of attempts: failed, not leased; the next event is
    // claimed by the same call.
    let third = store
        .claim_next("w3", 30, 2, T + 62)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((third.id, third.attempts), (next, 1));
    let event = store.get_event(crashy).await.unwrap().unwrap();
    assert_eq!((event.status, event.attempts), (EventStatus::Failed, 2));
    assert!(
        event
            .error
            .as_deref()
            .unwrap()
            .contains("gave up after 2 attempts"),
        "{event:?}"
    );
    assert!(!store.complete(crashy, "w2", T + 63).await.unwrap());
    assert_eq!(
        store
            .claim_next("w4", 30, 2, T + 1000)
            .await
            .unwrap()
            .map(|e| e.id),
        Some(next)
    );
    assert_eq!(store.claim_next("w5", 30, 2, T + 2000).await.unwrap(), None);
}

async fn sessions_expire_and_join_their_user(db: Db) {
    let store = &*db.store;
    let alice = user(store, 1, "alice").await;
    let session = Session {
        id: "sess-random-1".to_owned(),
        user_id: alice.id,
        csrf_token: "csrf-1".to_owned(),
        created_at: T,
        expires_at: T + 3600,
    };
    store.create_session(&session).await.unwrap();

    let found = store
        .get_session("sess-random-1", T + 1)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(found.session, session);
    assert_eq!(found.user, alice);
    assert_eq!(
        store.get_session("sess-random-1", T + 3600).await.unwrap(),
        None
    );
    assert_eq!(store.get_session("other", T).await.unwrap(), None);

    assert!(store.delete_session("sess-random-1").await.unwrap());
    assert!(!store.delete_session("sess-random-1").await.unwrap());
    assert_eq!(
        store.get_session("sess-random-1", T + 1).await.unwrap(),
        None
    );

    store
        .create_session(&Session {
            id: "sess-2".to_owned(),
            expires_at: T + 5,
            ..session
        })
        .await
        .unwrap();
    assert_eq!(store.purge_expired(T + 5).await.unwrap(), 1);
}

async fn one_active_installation_per_repo(db: Db) {
    let store = &*db.store;
    let alice = user(store, 1, "alice").await;
    let bob = user(store, 2, "bob").await;

    let first = store
        .upsert_installation(&installation("Acme/Widgets", alice.id, 101), T)
        .await
        .unwrap();
    assert!(first.active);
    assert_eq!(first.repo, "Acme/Widgets");

    // The same repo (GitHub ignores case) connected again: the one active row is updated.
    let second = store
        .upsert_installation(&installation("acme/widgets", bob.id, 202), T + 10)
        .await
        .unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!((second.user_id, second.webhook_id), (bob.id, 202));
    assert_eq!(second.encrypted_webhook_secret, "enc-secret-202");
    assert_eq!((second.created_at, second.updated_at), (T, T + 10));

    let active = store
        .active_installation_for_repo("ACME/widgets")
        .await
        .unwrap()
        .expect("active");
    assert_eq!(active.installation, second);
    assert_eq!(active.user, bob);
    assert_eq!(active.user.encrypted_token, "enc-token-bob");
    assert!(
        store
            .installations_for_user(alice.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.installations_for_user(bob.id).await.unwrap(),
        vec![second.clone()]
    );
    assert_eq!(
        store.installation_by_hook_id(202).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.installation_by_hook_id(101).await.unwrap(), None);

    // Disconnect, then connect anew: a new row; the old one stays, inactive.
    assert!(
        store
            .deactivate_installation(second.id, T + 20)
            .await
            .unwrap()
    );
    assert!(
        !store
            .deactivate_installation(second.id, T + 21)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .active_installation_for_repo("acme/widgets")
            .await
            .unwrap(),
        None
    );
    let third = store
        .upsert_installation(&installation("Acme/Widgets", alice.id, 303), T + 30)
        .await
        .unwrap();
    assert_ne!(third.id, second.id);
    let old = store
        .installation_by_hook_id(202)
        .await
        .unwrap()
        .expect("history");
    assert!(!old.active);
    assert_eq!(
        store
            .active_installation_for_repo("acme/widgets")
            .await
            .unwrap()
            .map(|a| a.installation.id),
        Some(third.id)
    );
    assert_eq!(store.list_installation_secrets().await.unwrap().len(), 2);
    assert!(!store.deactivate_installation(9999, T).await.unwrap());
}

async fn concurrent_connects_leave_one_active_installation(db: Db) {
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(user(&*db.store, 100 + i, &format!("user{i}")).await);
    }
    let barrier = Arc::new(Barrier::new(10));
    let tasks: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let (store, barrier, user_id) = (db.store.clone(), barrier.clone(), u.id);
            tokio::spawn(async move {
                let new = installation("acme/race", user_id, 1000 + i as i64);
                barrier.wait().await;
                store.upsert_installation(&new, T).await.expect("upsert")
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().id);
    }
    assert_eq!(ids.len(), 1, "all connects landed on one row: {ids:?}");
    let mut active = 0;
    for u in &users {
        active += db.store.installations_for_user(u.id).await.unwrap().len();
    }
    assert_eq!(active, 1);
}

async fn users_and_rotation_compare_and_swap(db: Db) {
    let store = &*db.store;
    let alice = user(store, 42, "alice").await;
    assert!(!alice.needs_reauth);
    assert_eq!((alice.created_at, alice.updated_at), (T, T));
    assert_eq!(store.get_user(alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(store.get_user(alice.id + 1000).await.unwrap(), None);

    assert!(store.mark_needs_reauth(alice.id, T + 1).await.unwrap());
    assert!(
        store
            .get_user(alice.id)
            .await
            .unwrap()
            .unwrap()
            .needs_reauth
    );
    assert!(
        !store
            .mark_needs_reauth(alice.id + 1000, T + 1)
            .await
            .unwrap()
    );

    // Signing in again replaces the token and clears the flag; the id stays.
    let again = store
        .upsert_user(
            &NewUser {
                github_id: 42,
                login: "alice-renamed".to_owned(),
                encrypted_token: "enc-token-new".to_owned(),
                scopes: "repo".to_owned(),
            },
            T + 2,
        )
        .await
        .unwrap();
    assert_eq!(again.id, alice.id);
    assert!(!again.needs_reauth);
    assert_eq!(again.login, "alice-renamed");
    assert_eq!((again.created_at, again.updated_at), (T, T + 2));
    assert_eq!(store.get_user_by_github_id(42).await.unwrap(), Some(again));

    // Rotation: only replaces what it read.
    let tokens = store.list_users_with_tokens().await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        (tokens[0].id, tokens[0].encrypted.as_str()),
        (alice.id, "enc-token-new")
    );
    // What the rotation binds the ciphertext to: the GitHub id, not the row id.
    assert_eq!(tokens[0].owner_key, "42");
    assert!(
        !store
            .update_user_token(alice.id, "stale", "rotated", T + 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .update_user_token(alice.id, "enc-token-new", "rotated", T + 3)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_user(alice.id)
            .await
            .unwrap()
            .unwrap()
            .encrypted_token,
        "rotated"
    );

    let inst = store
        .upsert_installation(&installation("acme/widgets", alice.id, 7), T)
        .await
        .unwrap();
    let secrets = store.list_installation_secrets().await.unwrap();
    assert_eq!(
        (secrets[0].id, secrets[0].encrypted.as_str()),
        (inst.id, "enc-secret-7")
    );
    assert_eq!(secrets[0].owner_key, "acme/widgets");
    assert!(
        !store
            .update_installation_secret(inst.id, "stale", "rotated", T + 3)
            .await
            .unwrap()
    );
    assert!(
        store
            .update_installation_secret(inst.id, "enc-secret-7", "rotated", T + 3)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .installation_by_hook_id(7)
            .await
            .unwrap()
            .unwrap()
            .encrypted_webhook_secret,
        "rotated"
    );
}

async fn dashboard_events_join_reviews_per_user(db: Db) {
    let store = &*db.store;
    let alice = user(store, 1, "alice").await;
    let bob = user(store, 2, "bob").await;
    let mine = store
        .upsert_installation(&installation("alice/app", alice.id, 1), T)
        .await
        .unwrap();
    let theirs = store
        .upsert_installation(&installation("bob/app", bob.id, 2), T)
        .await
        .unwrap();

    let mut ids = Vec::new();
    for n in 0..4 {
        let mut event = pr_event(&format!("a-{n}"), "alice/app", n, "sha", "opened");
        event.installation_id = Some(mine.id);
        ids.push(inserted(store, &event, T + n).await);
    }
    let mut event = pr_event("b-0", "bob/app", 1, "sha", "opened");
    event.installation_id = Some(theirs.id);
    inserted(store, &event, T).await;

    let review = NewReviewRecord {
        event_id: Some(ids[1]),
        repo: "alice/app".to_owned(),
        pr_number: 1,
        head_sha: "sha".to_owned(),
        review_id: 9001,
        review_url: "https://github.com/alice/app/pull/1#pullrequestreview-9001".to_owned(),
        findings: 3,
        ..Default::default()
    };
    let first_review = store.record_review(&review, T + 10).await.unwrap();
    let newer_review = store
        .record_review(
            &NewReviewRecord {
                review_id: 9002,
                findings: 1,
                ..review.clone()
            },
            T + 20,
        )
        .await
        .unwrap();
    assert_ne!(first_review, newer_review);

    let recent = store.recent_events_for_user(alice.id, 3).await.unwrap();
    let recent_ids: Vec<i64> = recent.iter().map(|e| e.id).collect();
    assert_eq!(
        recent_ids,
        vec![ids[3], ids[2], ids[1]],
        "newest first, limited"
    );
    assert!(recent.iter().all(|e| e.repo == "alice/app"));
    let reviewed = &recent[2];
    assert_eq!(reviewed.review_id, Some(9002), "the event's latest review");
    assert_eq!(reviewed.findings, Some(1));
    assert_eq!(
        reviewed.review_url.as_deref(),
        Some(review.review_url.as_str())
    );
    assert_eq!(recent[0].review_id, None);
    assert_eq!(
        store
            .recent_events_for_user(bob.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .recent_events_for_user(999, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let head = store
        .review_for_head("alice/app", 1, "sha")
        .await
        .unwrap()
        .expect("review");
    assert_eq!(
        (head.id, head.review_id, head.event_id, head.created_at),
        (newer_review, 9002, Some(ids[1]), T + 20)
    );
    assert_eq!(
        store
            .review_for_head("alice/app", 1, "other")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.review_for_head("alice/app", 2, "sha").await.unwrap(),
        None
    );
}

async fn sql_injection_in_names_is_stored_verbatim(db: Db) {
    let store = &*db.store;
    let evil = "o'; DROP TABLE events; --/x\" OR 1=1 -- %_\\ $1 ? ünï";
    let alice = user(store, 1, evil).await;
    assert_eq!(alice.login, evil);

    let inst = store
        .upsert_installation(&installation(evil, alice.id, 1), T)
        .await
        .unwrap();
    assert_eq!(inst.repo, evil);
    let joined = store
        .active_installation_for_repo(evil)
        .await
        .unwrap()
        .expect("found by its exact name");
    assert_eq!(joined.user.login, evil);
    // Wildcards are plain characters.
    assert_eq!(store.active_installation_for_repo("%").await.unwrap(), None);
    assert_eq!(
        store.active_installation_for_repo("o'%").await.unwrap(),
        None
    );

    let mut event = pr_event(evil, evil, 1, evil, evil);
    event.installation_id = Some(inst.id);
    let id = inserted(store, &event, T).await;
    let stored = store.get_event(id).await.unwrap().unwrap();
    assert_eq!(stored.delivery_id, evil);
    assert_eq!(stored.repo, evil);
    assert_eq!(stored.head_sha.as_deref(), Some(evil));
    assert_eq!(stored.action.as_deref(), Some(evil));
    assert_eq!(
        store.record_delivery(&event, T + 1).await.unwrap(),
        Recorded::SeenDelivery
    );

    let claimed = store
        .claim_next(evil, 60, 5, T)
        .await
        .unwrap()
        .expect("claim");
    assert_eq!(claimed.repo, evil);
    assert!(store.fail(id, evil, evil, None, T + 1).await.unwrap());
    assert_eq!(
        store.get_event(id).await.unwrap().unwrap().error.as_deref(),
        Some(evil)
    );

    store
        .record_review(
            &NewReviewRecord {
                event_id: Some(id),
                repo: evil.to_owned(),
                pr_number: 1,
                head_sha: evil.to_owned(),
                review_id: 1,
                review_url: evil.to_owned(),
                findings: 0,
                ..Default::default()
            },
            T,
        )
        .await
        .unwrap();
    let review = store.review_for_head(evil, 1, evil).await.unwrap().unwrap();
    assert_eq!(
        (review.repo.as_str(), review.review_url.as_str()),
        (evil, evil)
    );

    // Every table is still there and working.
    let after = inserted(
        store,
        &pr_event("after", "acme/widgets", 1, "s", "opened"),
        T,
    )
    .await;
    assert_eq!(status(store, after).await, EventStatus::Pending);
    assert_eq!(
        store
            .recent_events_for_user(alice.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

// --- review details, settings, dismissals (migration 0004) ---

async fn review_findings_and_notes_are_bounded_and_kept_with_their_review(db: Db) {
    use nectr::store::details::{MAX_STORED_FINDINGS, MAX_STORED_NOTES, MAX_TITLE_CHARS};
    use nectr::store::{NewFinding, NewNote, ReviewDetail};
    let store = &*db.store;
    let hostile = format!("<script>\n{}\u{1b}[31m", "x".repeat(10_000));
    let findings: Vec<NewFinding> = (0..MAX_STORED_FINDINGS + 50)
        .map(|i| NewFinding {
            path: format!("src/{i}.rs\r\n'); DROP TABLE reviews; --"),
            line: i as i64 + 1,
            end_line: (i == 0).then_some(9),
            severity: if i == 0 { "critical" } else { "weird" }.to_owned(),
            source: if i % 2 == 0 { "llm" } else { "rules" }.to_owned(),
            rule: "r".repeat(500),
            title: hostile.clone(),
            inline: i % 3 == 0,
        })
        .collect();
    let notes: Vec<NewNote> = (0..MAX_STORED_NOTES + 10)
        .map(|i| NewNote {
            kind: "skipped".into(),
            label: format!("file {i}"),
            detail: hostile.clone(),
        })
        .collect();
    let record = NewReviewRecord {
        event_id: None,
        repo: "alice/app".into(),
        pr_number: 1,
        head_sha: "abc".into(),
        review_id: 1,
        review_url: "https://github.com/alice/app/pull/1#pullrequestreview-1".into(),
        findings: findings.len() as i64,
        detail: ReviewDetail {
            severities: Some([1, 0, 0, 249]),
            findings,
            notes,
        },
    };
    let row = store.record_review(&record, T).await.unwrap();
    let plain = store
        .record_review(
            &NewReviewRecord {
                review_id: 2,
                detail: ReviewDetail::default(),
                ..record.clone()
            },
            T + 1,
        )
        .await
        .unwrap();
    let stored = store.review_findings(&[row, plain]).await.unwrap();
    assert_eq!(stored.len(), MAX_STORED_FINDINGS, "capped");
    assert!(stored.iter().all(|f| f.review_row == row));
    assert!(stored.windows(2).all(|w| w[0].position < w[1].position));
    let first = &stored[0];
    assert_eq!(
        (first.severity.as_str(), first.end_line),
        ("critical", Some(9))
    );
    // Unknown severities are stored as the mildest; text is one line, clipped.
    assert!(stored[1..].iter().all(|f| f.severity == "nit"));
    for f in &stored {
        assert!(
            f.title.chars().count() <= MAX_TITLE_CHARS,
            "{}",
            f.title.len()
        );
        assert!(f.title.starts_with("<script> xxx"), "{:?}", &f.title[..20]);
        assert!(!f.title.contains('\n') && !f.title.contains('\u{1b}'));
        assert!(!f.path.contains('\n') && f.path.contains("DROP TABLE"));
        assert!(f.rule.chars().count() <= 100);
    }
    assert_eq!(stored.iter().filter(|f| f.source == "llm").count(), 100);
    let notes = store.review_notes(&[row]).await.unwrap();
    assert_eq!(notes.len(), MAX_STORED_NOTES);
    assert!(notes.iter().all(|n| n.detail.chars().count() <= 300));
    assert!(store.review_findings(&[]).await.unwrap().is_empty());
    // The counts stay exact; a review recorded without details has none.
    let rows = store.reviews_for_user(0, None, None, 0, 10).await.unwrap();
    assert!(rows.is_empty(), "no installation: not the user's");
    let head = store
        .review_for_head("alice/app", 1, "abc")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.id, plain);
    assert_eq!(head.severities(), None);
    let alice = user(store, 1, "alice").await;
    store
        .upsert_installation(&installation("alice/app", alice.id, 1), T)
        .await
        .unwrap();
    let rows = store
        .reviews_for_user(alice.id, None, None, 0, 10)
        .await
        .unwrap();
    let detailed = rows.iter().find(|r| r.record.id == row).unwrap();
    assert_eq!(detailed.record.severities(), Some([1, 0, 0, 249]));
    assert_eq!(detailed.record.findings, 250);
}

async fn repository_settings_default_to_todays_behaviour(db: Db) {
    use nectr::store::{DraftsSetting, RepoSettings};
    let store = &*db.store;
    let alice = user(store, 1, "alice").await;
    assert_eq!(
        store.repo_settings("alice/app").await.unwrap(),
        RepoSettings::default()
    );
    let off = RepoSettings {
        ai_enabled: false,
        drafts: DraftsSetting::Yes,
        on_synchronize: false,
        ..RepoSettings::default()
    };
    store
        .save_repo_settings("Alice/App", &off, alice.id, T)
        .await
        .unwrap();
    // Compared case-insensitively, like GitHub's names; saving again replaces.
    assert_eq!(store.repo_settings("alice/app").await.unwrap(), off);
    let back = RepoSettings {
        drafts: DraftsSetting::No,
        ..RepoSettings::default()
    };
    store
        .save_repo_settings("alice/app", &back, alice.id, T + 1)
        .await
        .unwrap();
    assert_eq!(store.repo_settings("ALICE/APP").await.unwrap(), back);
    assert_eq!(
        store.repo_settings("alice/other").await.unwrap(),
        RepoSettings::default()
    );
}

async fn dismissals_count_once_per_comment_and_per_user(db: Db) {
    use nectr::store::NewDismissal;
    let store = &*db.store;
    let alice = user(store, 1, "alice").await;
    let bob = user(store, 2, "bob").await;
    store
        .upsert_installation(&installation("alice/app", alice.id, 1), T)
        .await
        .unwrap();
    store
        .upsert_installation(&installation("bob/app", bob.id, 2), T)
        .await
        .unwrap();
    let d = |repo: &str, rule: &str, path: &str, comment: i64| NewDismissal {
        repo: repo.to_owned(),
        pr_number: Some(1),
        rule: rule.to_owned(),
        path: path.to_owned(),
        comment_id: comment,
        login: "mona".to_owned(),
    };
    for (dismissal, at, new) in [
        (d("alice/app", "debug.rust-dbg", "a.rs", 1), T, true),
        (d("Alice/App", "debug.rust-dbg", "b.rs", 2), T + 10, true),
        (d("alice/app", "debug.rust-dbg", "a.rs", 1), T + 20, false),
        (d("alice/app", "secret.generic", "c.rs", 3), T + 30, true),
        (d("bob/app", "debug.rust-dbg", "z.rs", 1), T, true),
        (d("alice/app", "old.rule", "o.rs", 4), T - 1000, true),
    ] {
        assert_eq!(store.record_dismissal(&dismissal, at).await.unwrap(), new);
    }
    let rules = store
        .dismissed_rules_for_user(alice.id, T - 1, 10)
        .await
        .unwrap();
    let got: Vec<(&str, &str, i64, i64, &str)> = rules
        .iter()
        .map(|r| {
            (
                r.repo.as_str(),
                r.rule.as_str(),
                r.dismissals,
                r.paths,
                r.last_path.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("alice/app", "debug.rust-dbg", 2, 2, "b.rs"),
            ("alice/app", "secret.generic", 1, 1, "c.rs"),
        ]
    );
    assert_eq!(rules[0].last_at, T + 10);
    let bobs = store.dismissed_rules_for_user(bob.id, 0, 10).await.unwrap();
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].repo, "bob/app");
    assert_eq!(
        store
            .dismissed_rules_for_user(alice.id, 0, 1)
            .await
            .unwrap()
            .len(),
        1
    );
}
