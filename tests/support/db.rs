//! Fresh databases for tests that run on both backends: a SQLite file in a temp dir always,
//! and a PostgreSQL database created through `NECTR_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards — even when the test
//! fails — so parallel runs never share state. Without the variable the PostgreSQL half
//! passes after printing that it was skipped.
//!
//! [`backend_tests!`] defines `sqlite::NAME` and `postgres::NAME` for each test body
//! `async fn NAME(url: String)` (or `NAME(db: Db)` after `store:`).

use std::future::Future;
use std::panic::resume_unwind;
use std::sync::Arc;

use nectr::store::Store;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// Runs `body` with the URL of a fresh SQLite database.
pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("nectr.db").display());
    let outcome = tokio::spawn(body(url)).await;
    drop(dir);
    if let Err(err) = outcome {
        resume_unwind(err.into_panic());
    }
}

/// Runs `body` with the URL of a fresh PostgreSQL database, or skips.
pub async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let outcome = tokio::spawn(body(db.url.clone())).await;
    db.drop_database().await;
    if let Err(err) = outcome {
        resume_unwind(err.into_panic());
    }
}

/// A database for one test body: the store (to seed and inspect) and its URL (to connect
/// again, or to hand to the binary).
pub struct Db {
    pub store: Arc<dyn Store>,
    pub url: String,
}

/// Connects to `url`, runs `body` in its own task (so a panic still lets the pool close),
/// closes, and re-raises the body's panic.
pub async fn with_store<F, Fut>(url: String, body: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = nectr::store::connect(&url).await.expect("connect");
    let db = Db {
        store: store.clone(),
        url,
    };
    let outcome = tokio::spawn(body(db)).await;
    store.close().await;
    if let Err(err) = outcome {
        resume_unwind(err.into_panic());
    }
}

/// A PostgreSQL database made for one test (or benchmark) through `NECTR_TEST_POSTGRES_URL`.
pub struct PgDatabase {
    pub url: String,
    admin: PgConnection,
    name: String,
}

impl PgDatabase {
    /// `None` (after saying so) when `NECTR_TEST_POSTGRES_URL` is not set.
    pub async fn create() -> Option<PgDatabase> {
        let Ok(admin_url) = std::env::var("NECTR_TEST_POSTGRES_URL") else {
            eprintln!("skipped: NECTR_TEST_POSTGRES_URL is not set");
            return None;
        };
        // Hex digits only: safe to splice into the one statement that cannot bind a name.
        let name = format!("nectr_test_{:016x}", fastrand::u64(..));
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to NECTR_TEST_POSTGRES_URL");
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create the test database");
        Some(PgDatabase {
            url: with_database(&admin_url, &name),
            admin,
            name,
        })
    }

    /// Drops the database, whoever is still connected to it.
    pub async fn drop_database(mut self) {
        self.admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .await
            .expect("drop the test database");
        self.admin.close().await.ok();
    }
}

/// `url` with its database path replaced by `name`, query string kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Defines `sqlite::NAME` and `postgres::NAME` for every test body `NAME(url: String)`, or —
/// with a leading `store:` — `NAME(db: Db)` with the store already connected.
#[macro_export]
macro_rules! backend_tests {
    (store: $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::db::on_sqlite(|url| $crate::support::db::with_store(url, super::$name)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::db::on_postgres(|url| $crate::support::db::with_store(url, super::$name)).await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::db::on_sqlite(super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::db::on_postgres(super::$name).await;
                }
            )*
        }
    };
}

/// A repository connected to Nectr, as the store holds it after "Connect".
pub struct Connected<'a> {
    pub repo: &'a str,
    pub login: &'a str,
    pub github_id: i64,
    /// The user's GitHub token (stored encrypted).
    pub token: &'a str,
    pub hook_id: i64,
    /// The webhook's secret (stored encrypted).
    pub secret: &'a str,
}

/// Stores the user and the repository's active installation, encrypted with `keyring` and
/// bound to their owners as `nectr serve` does; returns the user's id.
pub async fn seed_connected(
    store: &dyn Store,
    keyring: &nectr::crypto::Keyring,
    c: &Connected<'_>,
) -> i64 {
    use nectr::server::owners;
    use nectr::store::{NewInstallation, NewUser};
    let now = nectr::server::now();
    let user = store
        .upsert_user(
            &NewUser {
                github_id: c.github_id,
                login: c.login.into(),
                encrypted_token: keyring
                    .encrypt(&owners::user_token(c.github_id), c.token.as_bytes()),
                scopes: "repo".into(),
            },
            now,
        )
        .await
        .expect("store the user");
    store
        .upsert_installation(
            &NewInstallation {
                repo: c.repo.into(),
                user_id: user.id,
                webhook_id: c.hook_id,
                encrypted_webhook_secret: keyring
                    .encrypt(&owners::webhook_secret(c.repo), c.secret.as_bytes()),
            },
            now,
        )
        .await
        .expect("store the installation");
    user.id
}

/// Every event id in the database at `url`, in order. Ids are not dense: PostgreSQL spends a
/// sequence value on every insert attempt — one that `ON CONFLICT DO NOTHING` skips, or one
/// whose transaction died with a `kill -9`ed server — so tests must not count ids up to N.
pub async fn all_event_ids(url: &str) -> Vec<i64> {
    const QUERY: &str = "SELECT id FROM events ORDER BY id";
    if url.starts_with("postgres") {
        let mut conn = PgConnection::connect(url).await.expect("connect");
        let ids = sqlx::query_scalar(QUERY).fetch_all(&mut conn).await;
        conn.close().await.ok();
        ids.expect("list event ids")
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
        let ids = sqlx::query_scalar(QUERY).fetch_all(&mut conn).await;
        conn.close().await.ok();
        ids.expect("list event ids")
    }
}
