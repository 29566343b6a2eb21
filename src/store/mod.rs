//! Durable storage for the hosted mode (`nectr serve`): users and their encrypted tokens,
//! sessions, spent OAuth states, repo installations, the webhook event queue and posted
//! reviews.
//!
//! [`Store`] is the boundary. It has two implementations, [`SqliteStore`] and [`PgStore`],
//! each with its own SQL and its own migrations (`src/store/migrations/sqlite/` and
//! `src/store/migrations/postgres/`, embedded at build time); [`connect`] picks one from
//! `DATABASE_URL`'s scheme and migrates the schema.
//!
//! Invariants the implementations keep:
//! - Every value reaches the database as a bound parameter; no SQL is assembled from data.
//! - The store never reads the clock: every timestamp (Unix seconds) is passed in, so tests
//!   control time.
//! - The store never sees a plaintext secret: tokens and webhook secrets arrive encrypted
//!   (`crypto`) and leave the same way; `Debug` output redacts them anyway. (PKCE verifiers
//!   are never stored: they travel encrypted inside the signed OAuth state.)
//! - A webhook delivery GUID is recorded once ([`Recorded::SeenDelivery`] otherwise), even
//!   when the same delivery arrives on several connections at once.
//! - An event is leased to one worker at a time; only the lease owner may extend, complete,
//!   fail or release it, so a worker whose lease expired and was re-claimed cannot
//!   overwrite the new owner's result.
//! - Attempts are counted when an event is claimed, so an attempt that never ends (the
//!   process crashed or was killed mid-review) counts too; a claim finding an event that
//!   already had `max_attempts` fails it instead of leasing it again.
//! - At most one installation per repo (compared case-insensitively) is active.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The column lists shared by both backends' queries, as macros so that `concat!` can build
/// `&'static str` SQL from them at compile time.
macro_rules! user_columns {
    () => {
        "id, github_id, login, encrypted_token, scopes, needs_reauth, created_at, updated_at"
    };
}

macro_rules! installation_columns {
    () => {
        "id, repo, user_id, webhook_id, encrypted_webhook_secret, active, created_at, updated_at"
    };
}

macro_rules! review_columns {
    () => {
        "id, event_id, repo, pr_number, head_sha, review_id, review_url, findings, created_at, \
         critical, major, minor, nit"
    };
}

/// What a claim returns: the event's columns (qualified with `$prefix`, which PostgreSQL's
/// `UPDATE … FROM` needs) and its new status, so a claim that failed an exhausted event
/// instead of leasing it can tell.
macro_rules! claim_row_columns {
    ($prefix:literal) => {
        concat!(
            $prefix,
            "id, ",
            $prefix,
            "delivery_id, ",
            $prefix,
            "event, ",
            $prefix,
            "action, ",
            $prefix,
            "repo, ",
            $prefix,
            "pr_number, ",
            $prefix,
            "head_sha, ",
            $prefix,
            "installation_id, ",
            $prefix,
            "attempts, COALESCE(",
            $prefix,
            "lease_expires_at, 0) AS lease_expires_at, ",
            $prefix,
            "payload, ",
            $prefix,
            "status"
        )
    };
}

/// An event without its payload, with the review it produced (if any). Needs the aliases
/// `e` for `events`; callers add `WHERE` and `ORDER BY`.
macro_rules! event_summary_select {
    () => {
        "SELECT e.id, e.delivery_id, e.event, e.action, e.repo, e.pr_number, e.head_sha, \
         e.installation_id, e.status, e.attempts, e.not_before, e.error, e.created_at, \
         e.updated_at, r.review_id, r.review_url, r.findings \
         FROM events e \
         LEFT JOIN reviews r ON r.id = (SELECT MAX(r2.id) FROM reviews r2 WHERE r2.event_id = e.id) "
    };
}

/// An active installation joined with its user; callers add the `WHERE`.
macro_rules! installation_user_select {
    () => {
        "SELECT i.id AS i_id, i.repo AS i_repo, i.user_id AS i_user_id, \
         i.webhook_id AS i_webhook_id, i.encrypted_webhook_secret AS i_encrypted_webhook_secret, \
         i.active AS i_active, i.created_at AS i_created_at, i.updated_at AS i_updated_at, \
         u.id AS u_id, u.github_id AS u_github_id, u.login AS u_login, \
         u.encrypted_token AS u_encrypted_token, u.scopes AS u_scopes, \
         u.needs_reauth AS u_needs_reauth, u.created_at AS u_created_at, \
         u.updated_at AS u_updated_at \
         FROM installations i JOIN users u ON u.id = i.user_id "
    };
}

/// The lease owner's queue updates (`extend_lease`, `complete`, `skip`, `fail`, `release`):
/// the same SQL on both backends, so one copy expands inside each `impl Store`. The one
/// differences: the pool they use (PostgreSQL's workers commit without waiting for the
/// flush, see `PgStore::relaxed`) and how `fail`'s optional retry time is tested for NULL
/// (PostgreSQL needs the parameter's type spelled out).
macro_rules! lease_owner_methods {
    (pool: $pool:ident, retry_at_is_null: $retry_at_is_null:literal) => {
        fn extend_lease<'a>(
            &'a self,
            id: i64,
            worker_id: &'a str,
            lease_secs: i64,
            now: i64,
        ) -> StoreFuture<'a, bool> {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET lease_expires_at = $3 + $4, updated_at = $3 \
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                )
                .bind(id)
                .bind(worker_id)
                .bind(now)
                .bind(lease_secs)
                .execute(&self.$pool)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        }

        fn complete<'a>(&'a self, id: i64, worker_id: &'a str, now: i64) -> StoreFuture<'a, bool> {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET status = 'done', lease_owner = NULL, \
                     lease_expires_at = NULL, error = NULL, updated_at = $3 \
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                )
                .bind(id)
                .bind(worker_id)
                .bind(now)
                .execute(&self.$pool)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        }

        fn skip<'a>(
            &'a self,
            id: i64,
            worker_id: &'a str,
            reason: &'a str,
            now: i64,
        ) -> StoreFuture<'a, bool> {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET status = 'ignored', lease_owner = NULL, \
                     lease_expires_at = NULL, error = $3, updated_at = $4 \
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                )
                .bind(id)
                .bind(worker_id)
                .bind(clip_error(reason))
                .bind(now)
                .execute(&self.$pool)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        }

        fn fail<'a>(
            &'a self,
            id: i64,
            worker_id: &'a str,
            error: &'a str,
            retry_at: Option<i64>,
            now: i64,
        ) -> StoreFuture<'a, bool> {
            Box::pin(async move {
                let done = sqlx::query(
                    concat!("UPDATE events SET status = CASE WHEN ", $retry_at_is_null, " THEN 'failed' ELSE 'pending' END, \
                     not_before = $4, error = $3, lease_owner = NULL, lease_expires_at = NULL, \
                     updated_at = $5 \
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2"),
                )
                .bind(id)
                .bind(worker_id)
                .bind(clip_error(error))
                .bind(retry_at)
                .bind(now)
                .execute(&self.$pool)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        }

        fn release<'a>(&'a self, id: i64, worker_id: &'a str, now: i64) -> StoreFuture<'a, bool> {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET status = 'pending', \
                     attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, \
                     lease_owner = NULL, lease_expires_at = NULL, not_before = NULL, \
                     updated_at = $3 \
                     WHERE id = $1 AND status = 'running' AND lease_owner = $2",
                )
                .bind(id)
                .bind(worker_id)
                .bind(now)
                .execute(&self.$pool)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        }
    };
}

mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// A boxed, sendable future: what the [`Store`] methods return so `dyn Store` works.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of every [`Store`] operation.
pub type StoreFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// A delivery GUID seen again within this many seconds is not recorded again.
pub const DELIVERY_DEDUPE_SECS: i64 = 7 * 24 * 60 * 60;

/// An event for the same repo, pull request, head SHA and action as one recorded within this
/// many seconds is stored as [`EventStatus::Duplicate`] and not queued.
pub const DUPLICATE_WINDOW_SECS: i64 = 60 * 60;

/// Longest error text kept on an event; longer ones are cut at a character boundary.
pub const MAX_ERROR_LEN: usize = 8 * 1024;

/// The default `DATABASE_URL`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://nectr.db";

/// A store failure. sqlx's errors already repeat their cause in their own message, so it is
/// written into ours rather than chained as a `source`: `{:#}` prints one clean line.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "DATABASE_URL must start with `sqlite://` or `postgres://` (the scheme given was `{scheme}`)"
    )]
    UnsupportedScheme { scheme: String },
    #[error("DATABASE_URL is not a valid {backend} URL: {error}")]
    InvalidUrl {
        backend: &'static str,
        error: sqlx::Error,
    },
    #[error("cannot open the database at {target}: {error}")]
    Connect {
        /// Where: the SQLite path, or PostgreSQL `user@host:port/db` (never the password).
        target: String,
        error: sqlx::Error,
    },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(error)
    }
}

/// Opens the database named by `database_url` (`sqlite://PATH`, `sqlite::memory:`,
/// `postgres://…` or `postgresql://…`) and applies any pending migrations.
///
/// SQLite: the file is created if missing (its directory must exist), in WAL mode with a
/// busy timeout and foreign keys on. Migrations are recorded in `_sqlx_migrations`, so
/// connecting again applies nothing twice.
pub async fn connect(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let url = database_url.trim();
    let (scheme, rest) = url.split_once(':').unwrap_or(("", url));
    // The drivers expect a lower-case scheme; `SQLITE://…` is still a SQLite URL.
    let normalized = format!("{}:{rest}", scheme.to_ascii_lowercase());
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => Ok(Arc::new(SqliteStore::connect(&normalized).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(PgStore::connect(&normalized).await?)),
        _ => Err(StoreError::UnsupportedScheme {
            // Only the scheme: the rest may hold a password.
            scheme: scheme.chars().take(32).collect(),
        }),
    }
}

/// Durable storage. All methods take the current time from the caller where they need it.
///
/// Methods returning `bool` report whether a row was changed: `false` means not found, or
/// (for the queue) not the lease owner / not running any more.
pub trait Store: Send + Sync {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Closes the connection pool, waiting for connections in use to be returned.
    fn close(&self) -> BoxFuture<'_, ()>;

    // --- users ---

    /// Inserts the user or, if one with the same `github_id` exists, replaces its login,
    /// token and scopes and clears `needs_reauth`.
    fn upsert_user<'a>(&'a self, user: &'a NewUser, now: i64) -> StoreFuture<'a, User>;
    fn get_user(&self, id: i64) -> StoreFuture<'_, Option<User>>;
    fn get_user_by_github_id(&self, github_id: i64) -> StoreFuture<'_, Option<User>>;
    /// Flags the user's token as unusable (revoked, expired, missing scopes) until they sign
    /// in again.
    fn mark_needs_reauth(&self, user_id: i64, now: i64) -> StoreFuture<'_, bool>;
    /// Every user's encrypted token (`owner_key`: their `github_id`), for re-encryption
    /// under a new key.
    fn list_users_with_tokens(&self) -> StoreFuture<'_, Vec<EncryptedSecret>>;
    /// Replaces the token only if it still equals `old` (compare-and-swap), so a key
    /// rotation never overwrites a token the user refreshed meanwhile.
    fn update_user_token<'a>(
        &'a self,
        user_id: i64,
        old: &'a str,
        new: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool>;

    // --- sessions and OAuth states ---

    fn create_session<'a>(&'a self, session: &'a Session) -> StoreFuture<'a, ()>;
    /// The session and its user, if the session exists and has not expired at `now`.
    fn get_session<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<SessionUser>>;
    fn delete_session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;
    /// Marks an OAuth sign-in state (its id: the random nonce inside the signed state) as
    /// used. `true` only the first time, and only before `expires_at`: of two concurrent
    /// calls with the same id at most one gets `true`. The row lives until `expires_at`.
    /// Only states whose signature was verified reach here, so nobody can write rows without
    /// a state this server signed; unauthenticated `GET /auth/github/login` writes nothing.
    fn spend_oauth_state<'a>(
        &'a self,
        id: &'a str,
        expires_at: i64,
        now: i64,
    ) -> StoreFuture<'a, bool>;
    /// Deletes sessions and spent OAuth states that expired at or before `now`; returns how
    /// many.
    fn purge_expired(&self, now: i64) -> StoreFuture<'_, u64>;

    // --- installations ---

    /// Records an active installation for the repo. If the repo (case-insensitively)
    /// already has one, that row is updated in place — new user, webhook id, secret — and
    /// keeps its id; the caller removes the old webhook first if it wants to.
    fn upsert_installation<'a>(
        &'a self,
        installation: &'a NewInstallation,
        now: i64,
    ) -> StoreFuture<'a, Installation>;
    /// Marks it inactive (the row stays for history); `false` if not found or inactive.
    fn deactivate_installation(&self, id: i64, now: i64) -> StoreFuture<'_, bool>;
    /// The repo's active installation (repo compared case-insensitively) with its user.
    fn active_installation_for_repo<'a>(
        &'a self,
        repo: &'a str,
    ) -> StoreFuture<'a, Option<InstallationWithUser>>;
    /// The installation that owns a webhook id (`X-GitHub-Hook-ID`), the active one first;
    /// check `active` before trusting it.
    fn installation_by_hook_id(&self, hook_id: i64) -> StoreFuture<'_, Option<Installation>>;
    /// The user's active installations, by repo.
    fn installations_for_user(&self, user_id: i64) -> StoreFuture<'_, Vec<Installation>>;
    /// Every installation's encrypted webhook secret (inactive ones too; `owner_key`: its
    /// `repo`), for rotation.
    fn list_installation_secrets(&self) -> StoreFuture<'_, Vec<EncryptedSecret>>;
    /// Compare-and-swap, as [`Store::update_user_token`].
    fn update_installation_secret<'a>(
        &'a self,
        id: i64,
        old: &'a str,
        new: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool>;

    // --- events: the webhook queue ---

    /// Records a webhook delivery. See [`Recorded`] for the outcomes. Race-free: of several
    /// concurrent calls with the same delivery GUID exactly one inserts.
    fn record_delivery<'a>(&'a self, event: &'a NewEvent, now: i64) -> StoreFuture<'a, Recorded> {
        Box::pin(async move {
            let mut recorded = self
                .record_deliveries(std::slice::from_ref(event), now)
                .await?;
            recorded
                .pop()
                .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
        })
    }
    /// [`Store::record_delivery`] for several deliveries in one transaction — one commit (one
    /// disk flush) for all of them — with the outcomes in the same order. Later events in the
    /// batch see earlier ones (a repeated GUID is `SeenDelivery`, a repeated change
    /// `Duplicate`). All or nothing: on an error none is recorded.
    fn record_deliveries<'a>(
        &'a self,
        events: &'a [NewEvent],
        now: i64,
    ) -> StoreFuture<'a, Vec<Recorded>>;
    fn get_event(&self, id: i64) -> StoreFuture<'_, Option<EventSummary>>;
    /// Takes the oldest claimable event — `pending` and past its `not_before`, or `running`
    /// with an expired lease (its worker died) — and leases it to `worker_id` until
    /// `now + lease_secs`, counting an attempt. `worker_id` must be unique per worker.
    /// A claimable event that already had `max_attempts` attempts (the last one never
    /// ended: the worker crashed, was killed or stalled) is marked `failed` with the reason
    /// instead, and the next one is tried.
    fn claim_next<'a>(
        &'a self,
        worker_id: &'a str,
        lease_secs: i64,
        max_attempts: i64,
        now: i64,
    ) -> StoreFuture<'a, Option<ClaimedEvent>>;
    /// Moves the lease to `now + lease_secs`; `false` if `worker_id` no longer holds it.
    fn extend_lease<'a>(
        &'a self,
        id: i64,
        worker_id: &'a str,
        lease_secs: i64,
        now: i64,
    ) -> StoreFuture<'a, bool>;
    /// Marks the event `done`; `false` if `worker_id` no longer holds the lease.
    fn complete<'a>(&'a self, id: i64, worker_id: &'a str, now: i64) -> StoreFuture<'a, bool>;
    /// Records `error`. With `retry_at`, back to `pending`, not claimable before then;
    /// without, `failed` for good. `false` if `worker_id` no longer holds the lease.
    fn fail<'a>(
        &'a self,
        id: i64,
        worker_id: &'a str,
        error: &'a str,
        retry_at: Option<i64>,
        now: i64,
    ) -> StoreFuture<'a, bool>;
    /// Marks the event `ignored` with `reason`: on a closer look it needs no review (the PR
    /// closed, its head moved on, this head was already reviewed). `false` if `worker_id`
    /// no longer holds the lease.
    fn skip<'a>(
        &'a self,
        id: i64,
        worker_id: &'a str,
        reason: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool>;
    /// Graceful shutdown: back to `pending` at once, and the attempt is not counted.
    fn release<'a>(&'a self, id: i64, worker_id: &'a str, now: i64) -> StoreFuture<'a, bool>;
    /// The newest events of the user's installations, each with its review if any.
    fn recent_events_for_user(
        &self,
        user_id: i64,
        limit: i64,
    ) -> StoreFuture<'_, Vec<EventSummary>>;
    fn queue_stats(&self, now: i64) -> StoreFuture<'_, QueueStats>;

    // --- reviews ---

    /// Records a posted review with its findings and notes (see [`details`]), all in one
    /// transaction; returns its row id.
    fn record_review<'a>(&'a self, review: &'a NewReviewRecord, now: i64) -> StoreFuture<'a, i64>;
    /// The stored findings of these `reviews` rows, by row (newest first), then position.
    fn review_findings<'a>(&'a self, review_rows: &'a [i64])
    -> StoreFuture<'a, Vec<StoredFinding>>;
    /// The stored notes of these `reviews` rows, by row (newest first), then position.
    fn review_notes<'a>(&'a self, review_rows: &'a [i64]) -> StoreFuture<'a, Vec<StoredNote>>;

    // --- per-repository settings and dismissals (see [`details`]) ---

    /// The repository's dashboard settings (compared case-insensitively); the defaults when
    /// none were saved.
    fn repo_settings<'a>(&'a self, repo: &'a str) -> StoreFuture<'a, RepoSettings>;
    /// Saves the repository's settings, replacing earlier ones.
    fn save_repo_settings<'a>(
        &'a self,
        repo: &'a str,
        settings: &'a RepoSettings,
        user_id: i64,
        now: i64,
    ) -> StoreFuture<'a, ()>;
    /// Records a dismissal; `false` when this comment's dismissal was recorded already.
    fn record_dismissal<'a>(
        &'a self,
        dismissal: &'a NewDismissal,
        now: i64,
    ) -> StoreFuture<'a, bool>;
    /// Rules dismissed since `since` on repositories the user has connected, most
    /// dismissed first, per repository.
    fn dismissed_rules_for_user(
        &self,
        user_id: i64,
        since: i64,
        limit: i64,
    ) -> StoreFuture<'_, Vec<DismissedRule>>;
    /// The latest review posted for this head commit, if any.
    fn review_for_head<'a>(
        &'a self,
        repo: &'a str,
        pr_number: i64,
        head_sha: &'a str,
    ) -> StoreFuture<'a, Option<ReviewRecord>>;

    // --- the dashboard (see `reads`) ---

    /// The user's events (of their installations) that match `filter`, newest first,
    /// `limit` from `offset`, each with what its review really was.
    fn events_page_for_user<'a>(
        &'a self,
        user_id: i64,
        filter: &'a EventFilter,
        limit: i64,
        offset: i64,
    ) -> StoreFuture<'a, Vec<EventRow>>;
    /// How many events [`Store::events_page_for_user`] has for `filter` in all.
    fn count_events_for_user<'a>(
        &'a self,
        user_id: i64,
        filter: &'a EventFilter,
    ) -> StoreFuture<'a, i64>;
    /// Reviews recorded at or after `since` on repositories the user has connected
    /// (optionally one repository, one pull request), newest first.
    fn reviews_for_user<'a>(
        &'a self,
        user_id: i64,
        repo: Option<&'a str>,
        pr_number: Option<i64>,
        since: i64,
        limit: i64,
    ) -> StoreFuture<'a, Vec<ReviewRow>>;
    /// The raw delivery of one of the user's events.
    fn event_payload_for_user(
        &self,
        user_id: i64,
        event_id: i64,
    ) -> StoreFuture<'_, Option<Vec<u8>>>;
    /// A `failed` event back to `pending` with its attempts reset; `false` if it is not
    /// failed (any more).
    fn retry_failed_event(&self, id: i64, now: i64) -> StoreFuture<'_, bool>;
    /// Queues a new `pending` event with event `id`'s delivery (repo, PR, head, payload)
    /// under a new delivery id and `action`; `None` if `id` does not exist.
    fn queue_copy_of_event<'a>(
        &'a self,
        id: i64,
        delivery_id: &'a str,
        action: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<i64>>;
    /// Records what a person did from the dashboard; returns its row id.
    fn record_dashboard_action<'a>(
        &'a self,
        action: &'a NewDashboardAction,
        now: i64,
    ) -> StoreFuture<'a, i64>;
    /// The newest dashboard actions on a repository (optionally one pull request).
    fn dashboard_actions_for<'a>(
        &'a self,
        repo: &'a str,
        pr_number: Option<i64>,
        limit: i64,
    ) -> StoreFuture<'a, Vec<DashboardAction>>;
}

/// Writes `<redacted>` in place of a secret in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

const REDACTED: Redacted = Redacted;

// --- users ---

#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    pub github_id: i64,
    pub login: String,
    /// Encrypted by the caller.
    pub encrypted_token: String,
    /// The token's OAuth scopes as GitHub reports them (`X-OAuth-Scopes`).
    pub scopes: String,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("github_id", &self.github_id)
            .field("login", &self.login)
            .field("encrypted_token", &REDACTED)
            .field("scopes", &self.scopes)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub github_id: i64,
    pub login: String,
    pub encrypted_token: String,
    pub scopes: String,
    pub needs_reauth: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("github_id", &self.github_id)
            .field("login", &self.login)
            .field("encrypted_token", &REDACTED)
            .field("scopes", &self.scopes)
            .field("needs_reauth", &self.needs_reauth)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A row id and the encrypted value stored with it (a user's token, a webhook secret), with
/// what the ciphertext's owner label is built from, so a key rotation can decrypt it.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EncryptedSecret {
    pub id: i64,
    /// For a user's token, the user's `github_id` in decimal; for a webhook secret, the
    /// installation's `repo` as stored. (The label itself is the caller's business, e.g.
    /// `server::owners`.)
    pub owner_key: String,
    pub encrypted: String,
}

impl fmt::Debug for EncryptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedSecret")
            .field("id", &self.id)
            .field("owner_key", &self.owner_key)
            .field("encrypted", &REDACTED)
            .finish()
    }
}

// --- sessions and OAuth states ---

#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// Random, chosen by the caller (who may store a hash of the cookie value instead).
    pub id: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &REDACTED)
            .field("user_id", &self.user_id)
            .field("csrf_token", &REDACTED)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub session: Session,
    pub user: User,
}

// --- installations ---

#[derive(Clone, PartialEq, Eq)]
pub struct NewInstallation {
    /// `owner/name`, stored as given.
    pub repo: String,
    pub user_id: i64,
    pub webhook_id: i64,
    /// Encrypted by the caller.
    pub encrypted_webhook_secret: String,
}

impl fmt::Debug for NewInstallation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewInstallation")
            .field("repo", &self.repo)
            .field("user_id", &self.user_id)
            .field("webhook_id", &self.webhook_id)
            .field("encrypted_webhook_secret", &REDACTED)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Installation {
    pub id: i64,
    pub repo: String,
    pub user_id: i64,
    pub webhook_id: i64,
    pub encrypted_webhook_secret: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl fmt::Debug for Installation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Installation")
            .field("id", &self.id)
            .field("repo", &self.repo)
            .field("user_id", &self.user_id)
            .field("webhook_id", &self.webhook_id)
            .field("encrypted_webhook_secret", &REDACTED)
            .field("active", &self.active)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallationWithUser {
    pub installation: Installation,
    pub user: User,
}

/// The flat row behind [`InstallationWithUser`] (see `installation_user_select!`).
#[derive(sqlx::FromRow)]
struct InstallationUserRow {
    i_id: i64,
    i_repo: String,
    i_user_id: i64,
    i_webhook_id: i64,
    i_encrypted_webhook_secret: String,
    i_active: bool,
    i_created_at: i64,
    i_updated_at: i64,
    u_id: i64,
    u_github_id: i64,
    u_login: String,
    u_encrypted_token: String,
    u_scopes: String,
    u_needs_reauth: bool,
    u_created_at: i64,
    u_updated_at: i64,
}

impl From<InstallationUserRow> for InstallationWithUser {
    fn from(row: InstallationUserRow) -> Self {
        InstallationWithUser {
            installation: Installation {
                id: row.i_id,
                repo: row.i_repo,
                user_id: row.i_user_id,
                webhook_id: row.i_webhook_id,
                encrypted_webhook_secret: row.i_encrypted_webhook_secret,
                active: row.i_active,
                created_at: row.i_created_at,
                updated_at: row.i_updated_at,
            },
            user: User {
                id: row.u_id,
                github_id: row.u_github_id,
                login: row.u_login,
                encrypted_token: row.u_encrypted_token,
                scopes: row.u_scopes,
                needs_reauth: row.u_needs_reauth,
                created_at: row.u_created_at,
                updated_at: row.u_updated_at,
            },
        }
    }
}

/// The flat row behind [`SessionUser`].
#[derive(sqlx::FromRow)]
struct SessionUserRow {
    s_id: String,
    s_user_id: i64,
    s_csrf_token: String,
    s_created_at: i64,
    s_expires_at: i64,
    #[sqlx(flatten)]
    user: User,
}

impl From<SessionUserRow> for SessionUser {
    fn from(row: SessionUserRow) -> Self {
        SessionUser {
            session: Session {
                id: row.s_id,
                user_id: row.s_user_id,
                csrf_token: row.s_csrf_token,
                created_at: row.s_created_at,
                expires_at: row.s_expires_at,
            },
            user: row.user,
        }
    }
}

/// The key of an installation's repo: GitHub compares `owner/name` case-insensitively.
fn repo_key(repo: &str) -> String {
    repo.to_ascii_lowercase()
}

// --- events ---

/// A webhook delivery to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// `X-GitHub-Delivery`.
    pub delivery_id: String,
    /// `X-GitHub-Event`, e.g. `pull_request`.
    pub event: String,
    pub action: Option<String>,
    /// `owner/name`, stored as given.
    pub repo: String,
    pub pr_number: Option<i64>,
    pub head_sha: Option<String>,
    /// The installation whose webhook delivered it; links it to a user's dashboard.
    pub installation_id: Option<i64>,
    /// `Some(why)`: the event needs no review; it is stored as `ignored` with this reason
    /// (in `error`) and never queued.
    pub ignore_reason: Option<String>,
    /// The raw request body.
    pub payload: Vec<u8>,
}

/// What [`Store::record_delivery`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored with this id: queued as `pending`, or `ignored` if the caller said so.
    Inserted(i64),
    /// The same delivery GUID was recorded within [`DELIVERY_DEDUPE_SECS`]; nothing stored.
    SeenDelivery,
    /// Stored with this id as `duplicate` (not queued): an event for the same repo, PR,
    /// head SHA and action was recorded within [`DUPLICATE_WINDOW_SECS`].
    Duplicate(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventStatus {
    Pending,
    Running,
    Done,
    Failed,
    Ignored,
    Duplicate,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Running => "running",
            EventStatus::Done => "done",
            EventStatus::Failed => "failed",
            EventStatus::Ignored => "ignored",
            EventStatus::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status string the schema's `CHECK` should have rejected.
#[derive(Debug, thiserror::Error)]
#[error("unknown event status `{0}`")]
pub struct UnknownStatus(String);

impl TryFrom<String> for EventStatus {
    type Error = UnknownStatus;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(match s.as_str() {
            "pending" => EventStatus::Pending,
            "running" => EventStatus::Running,
            "done" => EventStatus::Done,
            "failed" => EventStatus::Failed,
            "ignored" => EventStatus::Ignored,
            "duplicate" => EventStatus::Duplicate,
            _ => return Err(UnknownStatus(s)),
        })
    }
}

/// An event leased to a worker by [`Store::claim_next`].
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClaimedEvent {
    pub id: i64,
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub repo: String,
    pub pr_number: Option<i64>,
    pub head_sha: Option<String>,
    pub installation_id: Option<i64>,
    /// Including this one: 1 on the first claim. Never above the claim's `max_attempts`.
    pub attempts: i64,
    pub lease_expires_at: i64,
    pub payload: Vec<u8>,
}

impl fmt::Debug for ClaimedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimedEvent")
            .field("id", &self.id)
            .field("delivery_id", &self.delivery_id)
            .field("event", &self.event)
            .field("action", &self.action)
            .field("repo", &self.repo)
            .field("pr_number", &self.pr_number)
            .field("head_sha", &self.head_sha)
            .field("installation_id", &self.installation_id)
            .field("attempts", &self.attempts)
            .field("lease_expires_at", &self.lease_expires_at)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// A claim's row: the event and the status the claim left it in (`running`, or `failed`
/// when it had no attempts left).
#[derive(sqlx::FromRow)]
struct ClaimRow {
    #[sqlx(flatten)]
    event: ClaimedEvent,
    status: String,
}

/// How many exhausted events one [`Store::claim_next`] call fails before it gives up
/// looking (the next call goes on).
const MAX_EXHAUSTED_PER_CLAIM: usize = 16;

/// The error an exhausted event is failed with.
fn exhausted_error(max_attempts: i64) -> String {
    format!(
        "gave up after {max_attempts} attempts: the last one never finished (the server crashed, was killed or stopped renewing its lease while working on this event); the server log has the event id. It is not retried"
    )
}

fn log_exhausted(event: &ClaimedEvent) {
    tracing::error!(event_id = event.id, delivery = %event.delivery_id, repo = %event.repo, attempts = event.attempts,
        "an event's last attempt never finished and it had no attempts left: failed");
}

/// An event as the dashboard shows it: no payload, with the review it produced if any.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventSummary {
    pub id: i64,
    /// A GUID recorded again after [`DELIVERY_DEDUPE_SECS`] frees the old row's GUID by
    /// suffixing it with `#<id>`.
    pub delivery_id: String,
    pub event: String,
    pub action: Option<String>,
    pub repo: String,
    pub pr_number: Option<i64>,
    pub head_sha: Option<String>,
    pub installation_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub status: EventStatus,
    pub attempts: i64,
    /// A retry's not-before time.
    pub not_before: Option<i64>,
    /// The last error, or why the event was ignored.
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// GitHub's review id, URL and finding count, if a review was recorded for the event.
    pub review_id: Option<i64>,
    pub review_url: Option<String>,
    pub findings: Option<i64>,
}

/// Queue health, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Events in `pending`, including retries not yet due.
    pub pending: i64,
    /// Events in `running` (some may have expired leases).
    pub running: i64,
    /// How long the longest-waiting claimable event has waited (since it was recorded, or
    /// since its retry became due); 0 when none is claimable.
    pub oldest_pending_age_secs: i64,
}

// --- reviews ---

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewReviewRecord {
    pub event_id: Option<i64>,
    pub repo: String,
    pub pr_number: i64,
    pub head_sha: String,
    /// GitHub's review id.
    pub review_id: i64,
    pub review_url: String,
    pub findings: i64,
    /// Findings by severity, the findings themselves and the review's notes (bounded by
    /// the store).
    pub detail: ReviewDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRecord {
    pub id: i64,
    pub event_id: Option<i64>,
    pub repo: String,
    pub pr_number: i64,
    pub head_sha: String,
    pub review_id: i64,
    pub review_url: String,
    pub findings: i64,
    pub created_at: i64,
    /// Findings per severity; `None` for reviews recorded before migration 0004.
    pub critical: Option<i64>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub nit: Option<i64>,
}

impl ReviewRecord {
    /// Critical, major, minor and nit counts, when they were recorded.
    pub fn severities(&self) -> Option<[i64; 4]> {
        Some([self.critical?, self.major?, self.minor?, self.nit?])
    }
}

/// What an `INSERT … ON CONFLICT DO NOTHING RETURNING id, status` of an event means.
fn recorded(inserted: Option<(i64, String)>) -> Recorded {
    match inserted {
        None => Recorded::SeenDelivery,
        Some((id, status)) if status == "duplicate" => Recorded::Duplicate(id),
        Some((id, _)) => Recorded::Inserted(id),
    }
}

/// Cuts an error message to [`MAX_ERROR_LEN`] bytes at a character boundary.
fn clip_error(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

// The dashboard's queries.
mod reads;

pub use reads::{DashboardAction, EventFilter, EventRow, NewDashboardAction, ReviewRow};

// Review findings and notes, repository settings, dismissals.
pub mod details;

pub use details::{
    DismissedRule, DraftsSetting, NewDismissal, NewFinding, NewNote, RepoSettings, ReviewDetail,
    StoredFinding, StoredNote,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_error_keeps_char_boundaries() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let clipped = clip_error(&long);
        assert!(clipped.len() <= MAX_ERROR_LEN);
        assert!(clipped.chars().all(|c| c == 'é'));
        assert_eq!(clip_error("short"), "short");
    }

    #[test]
    fn status_round_trips() {
        for status in [
            EventStatus::Pending,
            EventStatus::Running,
            EventStatus::Done,
            EventStatus::Failed,
            EventStatus::Ignored,
            EventStatus::Duplicate,
        ] {
            assert_eq!(
                EventStatus::try_from(status.as_str().to_owned()).unwrap(),
                status
            );
        }
        assert!(EventStatus::try_from("queued".to_owned()).is_err());
    }

    #[test]
    fn debug_redacts_secrets() {
        let user = User {
            id: 1,
            github_id: 2,
            login: "octo".into(),
            encrypted_token: "gAAAAAsecret".into(),
            scopes: "repo".into(),
            needs_reauth: false,
            created_at: 0,
            updated_at: 0,
        };
        let shown = format!("{user:?}");
        assert!(!shown.contains("gAAAAAsecret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
