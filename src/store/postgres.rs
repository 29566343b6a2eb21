//! [`Store`] on PostgreSQL, for several `nectr serve` processes sharing one database.
//!
//! Statements run at READ COMMITTED. The queue claim locks its row with
//! `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on, or take, each other's
//! event; `record_delivery` runs in a transaction that first takes an advisory lock on the
//! (repo, PR, head SHA, action) key, so two deliveries of the same change cannot both miss
//! each other in the duplicate check.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use super::{
    BoxFuture, ClaimRow, ClaimedEvent, DELIVERY_DEDUPE_SECS, DUPLICATE_WINDOW_SECS,
    EncryptedSecret, EventSummary, Installation, InstallationUserRow, InstallationWithUser,
    MAX_EXHAUSTED_PER_CLAIM, NewEvent, NewInstallation, NewUser, QueueStats, Recorded,
    ReviewRecord, Session, SessionUser, SessionUserRow, Store, StoreError, StoreFuture, User,
    clip_error, exhausted_error, log_exhausted, recorded, repo_key,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");

const MAX_CONNECTIONS: u32 = 10;
const RELAXED_CONNECTIONS: u32 = 5;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// The first key of Nectr's two-key advisory locks (`pg_advisory_xact_lock(int4, int4)`),
/// so they cannot collide with single-key locks such as sqlx's migration lock.
const LOCK_CLASS: i32 = 0x4E43_5452; // "NCTR"

pub struct PgStore {
    pool: PgPool,
    /// For the workers' own bookkeeping (claims, leases, results): commits that need not
    /// wait for the disk flush (`synchronous_commit = off`). Losing the last few of them in a
    /// PostgreSQL crash is harmless — a lost claim or result only makes the event claimable
    /// again, and the worker finds the posted review by its marker — while every commit a
    /// webhook acknowledgement waits for keeps the flush. Without this, workers' commits
    /// compete with deliveries for WAL flushes (~4 ms each on a virtual disk).
    relaxed: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…` or `postgresql://…`) and migrates the schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|error| StoreError::InvalidUrl {
            backend: "PostgreSQL",
            error,
        })?;
        // Never the password.
        let target = format!(
            "{}@{}:{}/{}",
            options.get_username(),
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username()),
        );
        // One plain connection first, so a wrong host, password or database fails at once:
        // the pool would keep retrying until its acquire timeout.
        let probe = options
            .connect()
            .await
            .map_err(|error| StoreError::Connect { target, error })?;
        probe.close().await.ok();

        let relaxed = PgPoolOptions::new()
            .max_connections(RELAXED_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone().options([("synchronous_commit", "off")]));
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        // sqlx holds an advisory lock while migrating, so concurrent starts are safe.
        MIGRATOR.run(&pool).await?;
        Ok(PgStore { pool, relaxed })
    }

    /// The connection pool, for callers that need something the trait does not offer.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The advisory-lock key of the duplicate check: FNV-1a of its parts, folded to 32 bits.
/// A collision only serialises two unrelated deliveries for a moment.
fn duplicate_lock_key(event: &NewEvent) -> i32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes.iter().chain(&[0xff]) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(event.repo.as_bytes());
    eat(&event.pr_number.unwrap_or(0).to_le_bytes());
    eat(event.head_sha.as_deref().unwrap_or("").as_bytes());
    eat(event.action.as_deref().unwrap_or("").as_bytes());
    ((hash >> 32) ^ hash) as u32 as i32
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.relaxed.close().await;
            self.pool.close().await;
        })
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
            // Advisory locks in ascending key order, so two batches (two replicas) that share
            // keys cannot deadlock; the answers go back in the callers' order.
            let mut order: Vec<usize> = (0..events.len()).collect();
            order.sort_by_key(|&i| duplicate_lock_key(&events[i]));
            let mut out = vec![Recorded::SeenDelivery; events.len()];
            let mut tx = self.pool.begin().await?;
            for i in order {
                let event = &events[i];
                if event.pr_number.is_some() && event.head_sha.is_some() {
                    // Held until commit: a concurrent delivery of the same change waits here
                    // and then sees this one in its duplicate check.
                    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                        .bind(LOCK_CLASS)
                        .bind(duplicate_lock_key(event))
                        .execute(&mut *tx)
                        .await?;
                }

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

                // The UNIQUE constraint settles concurrent inserts of one GUID: the loser's
                // `ON CONFLICT DO NOTHING` waits for the winner's commit and inserts nothing.
                let inserted: Option<(i64, String)> = sqlx::query_as(
                    "INSERT INTO events (delivery_id, event, action, repo, pr_number, head_sha, \
                     installation_id, status, attempts, error, created_at, updated_at, payload) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, \
                       CASE \
                         WHEN $8::text IS NOT NULL THEN 'ignored' \
                         WHEN EXISTS (SELECT 1 FROM events d WHERE d.repo = $4 \
                           AND d.pr_number = $5 AND d.head_sha = $6 \
                           AND d.action IS NOT DISTINCT FROM $3 \
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
                out[i] = recorded(inserted);
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
            // The CTE locks the chosen row and skips rows other workers hold, so each
            // worker leaves with a different event. A row another worker claimed and
            // committed meanwhile is re-checked against the WHERE clause (now `running`
            // with a live lease) and passed over. An event that already had its
            // `max_attempts` (its last lease expired: the worker crashed or stalled) is
            // failed instead of leased, so a payload that kills the server cannot loop.
            for _ in 0..MAX_EXHAUSTED_PER_CLAIM {
                let claimed = sqlx::query_as::<_, ClaimRow>(concat!(
                    "WITH next AS ( \
                       SELECT id FROM events \
                       WHERE (status = 'pending' AND (not_before IS NULL OR not_before <= $2)) \
                          OR (status = 'running' AND lease_expires_at <= $2) \
                       ORDER BY created_at, id \
                       LIMIT 1 \
                       FOR UPDATE SKIP LOCKED) \
                     UPDATE events SET \
                     status = CASE WHEN events.attempts >= $4 THEN 'failed' ELSE 'running' END, \
                     lease_owner = CASE WHEN events.attempts >= $4 THEN NULL ELSE $1 END, \
                     lease_expires_at = CASE WHEN events.attempts >= $4 THEN NULL ELSE $2 + $3 END, \
                     error = CASE WHEN events.attempts >= $4 THEN $5 ELSE events.error END, \
                     attempts = CASE WHEN events.attempts >= $4 THEN events.attempts \
                                ELSE events.attempts + 1 END, \
                     not_before = NULL, updated_at = $2 \
                     FROM next WHERE events.id = next.id \
                     RETURNING ",
                    claim_row_columns!("events.")
                ))
                .bind(worker_id)
                .bind(now)
                .bind(lease_secs)
                .bind(max_attempts)
                .bind(exhausted_error(max_attempts))
                .fetch_optional(&self.relaxed)
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

    lease_owner_methods!(pool: relaxed, retry_at_is_null: "$4::bigint IS NULL");

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
    super::details::details_methods!(pool: pool, record_pool: relaxed, db: sqlx::Postgres);
}
