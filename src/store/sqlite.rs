//! [`Store`] on SQLite: one file, WAL mode, for a single `nectr serve` process.
//!
//! Writers are serialised by SQLite itself: every write here is a single statement in
//! autocommit mode, which takes the write lock before it reads, so a statement's reads and
//! writes see one consistent state. Waiting for the lock is left to the busy timeout. That
//! is what makes the queue claim (`UPDATE … WHERE id = (SELECT …) RETURNING …`) and the
//! duplicate check inside `INSERT` atomic without explicit transactions.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    BoxFuture, ClaimRow, ClaimedEvent, DELIVERY_DEDUPE_SECS, DUPLICATE_WINDOW_SECS,
    EncryptedSecret, EventSummary, Installation, InstallationUserRow, InstallationWithUser,
    MAX_EXHAUSTED_PER_CLAIM, NewEvent, NewInstallation, NewUser, QueueStats, Recorded,
    ReviewRecord, Session, SessionUser, SessionUserRow, Store, StoreError, StoreFuture, User,
    clip_error, exhausted_error, log_exhausted, recorded, repo_key,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 8;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the background checkpoint copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] until the pool closes. `PASSIVE` never
/// waits for (or blocks) readers or writers; what it cannot copy yet, the next one does.
/// SQLite checkpoints and removes the WAL itself when the last connection closes.
fn checkpoint_in_background(pool: &SqlitePool) {
    let pool = pool.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&pool)
                .await
                && !pool.is_closed()
            {
                tracing::warn!(error = %e, "SQLite checkpoint failed; retrying in a second");
            }
        }
    });
}

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database at `url` (`sqlite://PATH`,
    /// `sqlite:PATH`, `sqlite::memory:`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let invalid = |error| StoreError::InvalidUrl {
            backend: "SQLite",
            error,
        };
        let options = SqliteConnectOptions::from_str(url).map_err(invalid)?;
        if options.get_filename().as_os_str().is_empty() {
            return Err(invalid(sqlx::Error::Configuration(
                "no file path after `sqlite://`".into(),
            )));
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            // Checkpoints run on their own (`checkpoint_in_background`), not inside
            // whichever commit crosses the WAL's size limit: that commit's caller —
            // typically a webhook waiting for its 202 — would wait for the fsync.
            .pragma("wal_autocheckpoint", "0");
        let target = options.get_filename().display().to_string();

        let pool = SqlitePoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        // An in-memory database lives as long as a connection to it: keep exactly one.
        let pool = if url.contains(":memory:") || url.contains("mode=memory") {
            pool.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            pool.max_connections(MAX_CONNECTIONS)
        };
        let pool = pool
            .connect_with(options)
            .await
            .map_err(|error| StoreError::Connect { target, error })?;
        MIGRATOR.run(&pool).await?;
        checkpoint_in_background(&pool);
        Ok(SqliteStore { pool })
    }

    /// The connection pool, for callers that need something the trait does not offer.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }

    // --- users ---

    fn upsert_user<'a>(&'a self, user: &'a NewUser, now: i64) -> StoreFuture<'a, User> {
        Box::pin(async move {
            let user = sqlx::query_as::<_, User>(concat!(
                "INSERT INTO users (github_id, login, encrypted_token, scopes, needs_reauth, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, FALSE, $5, $5) \
                 ON CONFLICT (github_id) DO UPDATE SET login = excluded.login, \
                 encrypted_token = excluded.encrypted_token, scopes = excluded.scopes, \
                 needs_reauth = FALSE, updated_at = excluded.updated_at \
                 RETURNING ",
                user_columns!()
            ))
            .bind(user.github_id)
            .bind(&user.login)
            .bind(&user.encrypted_token)
            .bind(&user.scopes)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
            Ok(user)
        })
    }

    fn get_user(&self, id: i64) -> StoreFuture<'_, Option<User>> {
        Box::pin(async move {
            let user = sqlx::query_as::<_, User>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(user)
        })
    }

    fn get_user_by_github_id(&self, github_id: i64) -> StoreFuture<'_, Option<User>> {
        Box::pin(async move {
            let user = sqlx::query_as::<_, User>(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE github_id = $1"
            ))
            .bind(github_id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(user)
        })
    }

    fn mark_needs_reauth(&self, user_id: i64, now: i64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let done =
                sqlx::query("UPDATE users SET needs_reauth = TRUE, updated_at = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn list_users_with_tokens(&self) -> StoreFuture<'_, Vec<EncryptedSecret>> {
        Box::pin(async move {
            let rows = sqlx::query_as::<_, EncryptedSecret>(
                "SELECT id, CAST(github_id AS TEXT) AS owner_key, encrypted_token AS encrypted \
                 FROM users ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn update_user_token<'a>(
        &'a self,
        user_id: i64,
        old: &'a str,
        new: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE users SET encrypted_token = $3, updated_at = $4 \
                 WHERE id = $1 AND encrypted_token = $2",
            )
            .bind(user_id)
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    // --- sessions and OAuth states ---

    fn create_session<'a>(&'a self, session: &'a Session) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, csrf_token, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&session.id)
            .bind(session.user_id)
            .bind(&session.csrf_token)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn get_session<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<SessionUser>> {
        Box::pin(async move {
            let row = sqlx::query_as::<_, SessionUserRow>(
                "SELECT s.id AS s_id, s.user_id AS s_user_id, s.csrf_token AS s_csrf_token, \
                 s.created_at AS s_created_at, s.expires_at AS s_expires_at, \
                 u.id AS id, u.github_id AS github_id, u.login AS login, \
                 u.encrypted_token AS encrypted_token, u.scopes AS scopes, \
                 u.needs_reauth AS needs_reauth, u.created_at AS created_at, \
                 u.updated_at AS updated_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id = $1 AND s.expires_at > $2",
            )
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(SessionUser::from))
        })
    }

    fn delete_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn spend_oauth_state<'a>(
        &'a self,
        id: &'a str,
        expires_at: i64,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            if expires_at <= now {
                return Ok(false);
            }
            // The primary key makes the second of two concurrent spends insert nothing.
            let done = sqlx::query(
                "INSERT INTO oauth_states_spent (id, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn purge_expired(&self, now: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?;
            let states = sqlx::query("DELETE FROM oauth_states_spent WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?;
            Ok(sessions.rows_affected() + states.rows_affected())
        })
    }

    // --- installations ---

    fn upsert_installation<'a>(
        &'a self,
        installation: &'a NewInstallation,
        now: i64,
    ) -> StoreFuture<'a, Installation> {
        Box::pin(async move {
            let row = sqlx::query_as::<_, Installation>(concat!(
                "INSERT INTO installations (repo, repo_key, user_id, webhook_id, \
                 encrypted_webhook_secret, active, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6) \
                 ON CONFLICT (repo_key) WHERE active DO UPDATE SET repo = excluded.repo, \
                 user_id = excluded.user_id, webhook_id = excluded.webhook_id, \
                 encrypted_webhook_secret = excluded.encrypted_webhook_secret, \
                 updated_at = excluded.updated_at \
                 RETURNING ",
                installation_columns!()
            ))
            .bind(&installation.repo)
            .bind(repo_key(&installation.repo))
            .bind(installation.user_id)
            .bind(installation.webhook_id)
            .bind(&installation.encrypted_webhook_secret)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
            Ok(row)
        })
    }

    fn deactivate_installation(&self, id: i64, now: i64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE installations SET active = FALSE, updated_at = $2 \
                 WHERE id = $1 AND active",
            )
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    fn active_installation_for_repo<'a>(
        &'a self,
        repo: &'a str,
    ) -> StoreFuture<'a, Option<InstallationWithUser>> {
        Box::pin(async move {
            let row = sqlx::query_as::<_, InstallationUserRow>(concat!(
                installation_user_select!(),
                "WHERE i.repo_key = $1 AND i.active"
            ))
            .bind(repo_key(repo))
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(InstallationWithUser::from))
        })
    }

    fn installation_by_hook_id(&self, hook_id: i64) -> StoreFuture<'_, Option<Installation>> {
        Box::pin(async move {
            let row = sqlx::query_as::<_, Installation>(concat!(
                "SELECT ",
                installation_columns!(),
                " FROM installations WHERE webhook_id = $1 ORDER BY active DESC, id DESC LIMIT 1"
            ))
            .bind(hook_id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row)
        })
    }

    fn installations_for_user(&self, user_id: i64) -> StoreFuture<'_, Vec<Installation>> {
        Box::pin(async move {
            let rows = sqlx::query_as::<_, Installation>(concat!(
                "SELECT ",
                installation_columns!(),
                " FROM installations WHERE user_id = $1 AND active ORDER BY repo_key"
            ))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn list_installation_secrets(&self) -> StoreFuture<'_, Vec<EncryptedSecret>> {
        Box::pin(async move {
            let rows = sqlx::query_as::<_, EncryptedSecret>(
                "SELECT id, repo AS owner_key, encrypted_webhook_secret AS encrypted \
                 FROM installations ORDER BY id",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn update_installation_secret<'a>(
        &'a self,
        id: i64,
        old: &'a str,
        new: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query(
                "UPDATE installations SET encrypted_webhook_secret = $3, updated_at = $4 \
                 WHERE id = $1 AND encrypted_webhook_secret = $2",
            )
            .bind(id)
            .bind(old)
            .bind(new)
            .bind(now)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    // --- events ---

    fn record_deliveries<'a>(
        &'a self,
        events: &'a [NewEvent],
        now: i64,
    ) -> StoreFuture<'a, Vec<Recorded>> {
        Box::pin(async move {
            // IMMEDIATE: take the write lock up front, so the transaction never has to
            // upgrade a read lock (which SQLite refuses at once instead of waiting).
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let mut out = Vec::with_capacity(events.len());
            for event in events {
                // A GUID last seen before the dedupe window may be recorded again: free it by
                // renaming the old row's GUID (ids are unique, so the new name is too).
                sqlx::query(
                    "UPDATE events SET delivery_id = delivery_id || '#' || CAST(id AS TEXT) \
                     WHERE delivery_id = $1 AND created_at <= $2",
                )
                .bind(&event.delivery_id)
                .bind(now - DELIVERY_DEDUPE_SECS)
                .execute(&mut *tx)
                .await?;

                // One statement: the duplicate check and the insert see the same state, and
                // the UNIQUE constraint settles concurrent inserts of one GUID.
                let inserted: Option<(i64, String)> = sqlx::query_as(
                    "INSERT INTO events (delivery_id, event, action, repo, pr_number, head_sha, \
                     installation_id, status, attempts, error, created_at, updated_at, payload) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, \
                       CASE \
                         WHEN $8 IS NOT NULL THEN 'ignored' \
                         WHEN EXISTS (SELECT 1 FROM events d WHERE d.repo = $4 \
                           AND d.pr_number = $5 AND d.head_sha = $6 AND d.action IS $3 \
                           AND d.status <> 'duplicate' AND d.created_at > $11) THEN 'duplicate' \
                         ELSE 'pending' \
                       END, \
                       0, $8, $9, $9, $10) \
                     ON CONFLICT (delivery_id) DO NOTHING \
                     RETURNING id, status",
                )
                .bind(&event.delivery_id)
                .bind(&event.event)
                .bind(&event.action)
                .bind(&event.repo)
                .bind(event.pr_number)
                .bind(&event.head_sha)
                .bind(event.installation_id)
                .bind(event.ignore_reason.as_deref().map(clip_error))
                .bind(now)
                .bind(&event.payload)
                .bind(now - DUPLICATE_WINDOW_SECS)
                .fetch_optional(&mut *tx)
                .await?;
                out.push(recorded(inserted));
            }
            tx.commit().await?;
            Ok(out)
        })
    }

    fn get_event(&self, id: i64) -> StoreFuture<'_, Option<EventSummary>> {
        Box::pin(async move {
            let row = sqlx::query_as::<_, EventSummary>(concat!(
                event_summary_select!(),
                "WHERE e.id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row)
        })
    }

    fn claim_next<'a>(
        &'a self,
        worker_id: &'a str,
        lease_secs: i64,
        max_attempts: i64,
        now: i64,
    ) -> StoreFuture<'a, Option<ClaimedEvent>> {
        Box::pin(async move {
            // A single statement: SQLite takes the write lock before running the subquery,
            // so no two connections can pick the same row. An event that already had its
            // `max_attempts` (its last lease expired: the worker crashed or stalled) is
            // failed instead of leased, so a payload that kills the server cannot loop.
            for _ in 0..MAX_EXHAUSTED_PER_CLAIM {
                let claimed = sqlx::query_as::<_, ClaimRow>(concat!(
                    "UPDATE events SET \
                     status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'running' END, \
                     lease_owner = CASE WHEN attempts >= $4 THEN NULL ELSE $1 END, \
                     lease_expires_at = CASE WHEN attempts >= $4 THEN NULL ELSE $2 + $3 END, \
                     error = CASE WHEN attempts >= $4 THEN $5 ELSE error END, \
                     attempts = CASE WHEN attempts >= $4 THEN attempts ELSE attempts + 1 END, \
                     not_before = NULL, updated_at = $2 \
                     WHERE id = (SELECT id FROM events \
                       WHERE (status = 'pending' AND (not_before IS NULL OR not_before <= $2)) \
                          OR (status = 'running' AND lease_expires_at <= $2) \
                       ORDER BY created_at, id LIMIT 1) \
                     RETURNING ",
                    claim_row_columns!("")
                ))
                .bind(worker_id)
                .bind(now)
                .bind(lease_secs)
                .bind(max_attempts)
                .bind(exhausted_error(max_attempts))
                .fetch_optional(&self.pool)
                .await?;
                match claimed {
                    Some(row) if row.status == "failed" => log_exhausted(&row.event),
                    Some(row) => return Ok(Some(row.event)),
                    None => return Ok(None),
                }
            }
            Ok(None)
        })
    }

    lease_owner_methods!(pool: pool, retry_at_is_null: "$4 IS NULL");

    fn recent_events_for_user(
        &self,
        user_id: i64,
        limit: i64,
    ) -> StoreFuture<'_, Vec<EventSummary>> {
        Box::pin(async move {
            let rows = sqlx::query_as::<_, EventSummary>(concat!(
                event_summary_select!(),
                "JOIN installations i ON i.id = e.installation_id \
                 WHERE i.user_id = $1 ORDER BY e.created_at DESC, e.id DESC LIMIT $2"
            ))
            .bind(user_id)
            .bind(limit.max(0))
            .fetch_all(&self.pool)
            .await?;
            Ok(rows)
        })
    }

    fn queue_stats(&self, now: i64) -> StoreFuture<'_, QueueStats> {
        Box::pin(async move {
            let (pending, running, oldest): (i64, i64, Option<i64>) = sqlx::query_as(
                "SELECT \
                   (SELECT COUNT(*) FROM events WHERE status = 'pending'), \
                   (SELECT COUNT(*) FROM events WHERE status = 'running'), \
                   (SELECT MIN(COALESCE(not_before, created_at)) FROM events \
                     WHERE status = 'pending' AND (not_before IS NULL OR not_before <= $1))",
            )
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
            Ok(QueueStats {
                pending,
                running,
                oldest_pending_age_secs: oldest.map_or(0, |since| (now - since).max(0)),
            })
        })
    }

    // --- reviews ---

    fn review_for_head<'a>(
        &'a self,
        repo: &'a str,
        pr_number: i64,
        head_sha: &'a str,
    ) -> StoreFuture<'a, Option<ReviewRecord>> {
        Box::pin(async move {
            let row = sqlx::query_as::<_, ReviewRecord>(concat!(
                "SELECT ",
                review_columns!(),
                " FROM reviews WHERE repo = $1 AND pr_number = $2 AND head_sha = $3 \
                 ORDER BY id DESC LIMIT 1"
            ))
            .bind(repo)
            .bind(pr_number)
            .bind(head_sha)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row)
        })
    }

    super::reads::dashboard_methods!(pool: pool);
    super::details::details_methods!(pool: pool, record_pool: pool, db: sqlx::Sqlite);
}
