//! What the dashboard asks the store: filtered and paged events, posted reviews with the
//! delivery they answered, an event's payload (for a pull request's title and author), and
//! the dashboard's own actions (retry, re-review, reconnect) with the record each leaves.
//!
//! The SQL is the same on SQLite and PostgreSQL, so it is written once, in
//! [`dashboard_methods`], which expands inside each backend's `impl Store`. Portable forms
//! only: optional filters test `CAST($n AS …) IS NULL` (PostgreSQL needs the type spelled
//! out), booleans compare with `TRUE`/`FALSE`, and every value is a bound parameter.
//!
//! Counting rule: a review found again by its marker (the worker's "already posted") is
//! recorded once more under the same GitHub review id (with the findings its marker lists,
//! which matter only when an earlier attempt posted it and died before recording it). Rows carry
//! `reused` / `posted_findings` so that pages count each GitHub review once, with the
//! findings it was posted with.

/// Which events a page lists. `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub status: Option<super::EventStatus>,
    /// `owner/name`, compared case-insensitively.
    pub repo: Option<String>,
    /// `X-GitHub-Event`, e.g. `pull_request`.
    pub event: Option<String>,
    pub pr_number: Option<i64>,
    /// Leave out the rows that need no attention: ignored, duplicate, and history events
    /// recorded in the knowledge graph (`issues`, a PR's `closed`, when done).
    pub hide_noise: bool,
}

/// An event with what its review really was.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    #[sqlx(flatten)]
    pub summary: super::EventSummary,
    /// The findings the GitHub review was posted with (its first record), when there is one.
    pub posted_findings: Option<i64>,
    /// This event found the review already on the pull request (posted by an earlier
    /// attempt or event) rather than posting one.
    pub reused_review: bool,
}

/// A recorded review, with the delivery it answered.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRow {
    #[sqlx(flatten)]
    pub record: super::ReviewRecord,
    /// When the webhook delivery that led to it was recorded.
    pub delivered_at: Option<i64>,
    /// A second record of a GitHub review recorded earlier (see the module doc).
    pub reused: bool,
}

/// Something a person did from the dashboard, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDashboardAction {
    pub user_id: i64,
    /// `retry`, `rereview` or `reconnect`.
    pub action: String,
    pub repo: String,
    pub pr_number: Option<i64>,
    /// The event acted on.
    pub event_id: Option<i64>,
    /// The event the action queued, if it queued a new one.
    pub new_event_id: Option<i64>,
    /// What it replaced or why: the error a retry cleared, the webhook a reconnect replaced.
    pub detail: Option<String>,
}

/// A recorded dashboard action, with who did it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DashboardAction {
    pub id: i64,
    pub login: String,
    pub action: String,
    pub repo: String,
    pub pr_number: Option<i64>,
    pub event_id: Option<i64>,
    pub new_event_id: Option<i64>,
    pub detail: Option<String>,
    pub created_at: i64,
}

/// The `WHERE` shared by the event page and its count (`$1` user, `$2` status, `$3` repo,
/// `$4` event, `$5` PR number, `$6` hide noise). Needs `e` (events) and `i` (installations).
macro_rules! event_filter_where {
    () => {
        "WHERE i.user_id = $1 \
         AND (CAST($2 AS TEXT) IS NULL OR e.status = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR LOWER(e.repo) = LOWER($3)) \
         AND (CAST($4 AS TEXT) IS NULL OR e.event = $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR e.pr_number = $5) \
         AND ($6 = FALSE OR NOT (e.status IN ('ignored', 'duplicate') \
              OR (e.status = 'done' AND (e.event = 'issues' \
                  OR (e.event = 'pull_request' AND e.action = 'closed'))))) "
    };
}

/// The dashboard's [`Store`](super::Store) methods, the same SQL on both backends.
macro_rules! dashboard_methods {
    (pool: $pool:ident) => {
        fn events_page_for_user<'a>(
            &'a self,
            user_id: i64,
            filter: &'a $crate::store::EventFilter,
            limit: i64,
            offset: i64,
        ) -> $crate::store::StoreFuture<'a, Vec<$crate::store::EventRow>> {
            Box::pin(async move {
                let rows = sqlx::query_as::<_, $crate::store::EventRow>(concat!(
                    "SELECT e.id, e.delivery_id, e.event, e.action, e.repo, e.pr_number, \
                     e.head_sha, e.installation_id, e.status, e.attempts, e.not_before, \
                     e.error, e.created_at, e.updated_at, r.review_id, r.review_url, \
                     r.findings, \
                     (SELECT r0.findings FROM reviews r0 WHERE r0.repo = r.repo \
                       AND r0.review_id = r.review_id ORDER BY r0.id LIMIT 1) AS posted_findings, \
                     COALESCE(r.review_id <> 0 AND (SELECT MIN(r0.id) FROM reviews r0 \
                       WHERE r0.repo = r.repo AND r0.review_id = r.review_id) < r.id, FALSE) \
                       AS reused_review \
                     FROM events e \
                     LEFT JOIN reviews r ON r.id = (SELECT MAX(r2.id) FROM reviews r2 \
                       WHERE r2.event_id = e.id) \
                     JOIN installations i ON i.id = e.installation_id ",
                    $crate::store::reads::event_filter_where!(),
                    "ORDER BY e.created_at DESC, e.id DESC LIMIT $7 OFFSET $8"
                ))
                .bind(user_id)
                .bind(filter.status.map(|s| s.as_str()))
                .bind(filter.repo.as_deref())
                .bind(filter.event.as_deref())
                .bind(filter.pr_number)
                .bind(filter.hide_noise)
                .bind(limit.max(0))
                .bind(offset.max(0))
                .fetch_all(&self.$pool)
                .await?;
                Ok(rows)
            })
        }

        fn count_events_for_user<'a>(
            &'a self,
            user_id: i64,
            filter: &'a $crate::store::EventFilter,
        ) -> $crate::store::StoreFuture<'a, i64> {
            Box::pin(async move {
                let (n,): (i64,) = sqlx::query_as(concat!(
                    "SELECT COUNT(*) FROM events e \
                     JOIN installations i ON i.id = e.installation_id ",
                    $crate::store::reads::event_filter_where!()
                ))
                .bind(user_id)
                .bind(filter.status.map(|s| s.as_str()))
                .bind(filter.repo.as_deref())
                .bind(filter.event.as_deref())
                .bind(filter.pr_number)
                .bind(filter.hide_noise)
                .fetch_one(&self.$pool)
                .await?;
                Ok(n)
            })
        }

        fn reviews_for_user<'a>(
            &'a self,
            user_id: i64,
            repo: Option<&'a str>,
            pr_number: Option<i64>,
            since: i64,
            limit: i64,
        ) -> $crate::store::StoreFuture<'a, Vec<$crate::store::ReviewRow>> {
            Box::pin(async move {
                let rows = sqlx::query_as::<_, $crate::store::ReviewRow>(
                    "SELECT r.id, r.event_id, r.repo, r.pr_number, r.head_sha, r.review_id, \
                     r.review_url, r.findings, r.created_at, r.critical, r.major, r.minor, \
                     r.nit, e.created_at AS delivered_at, \
                     COALESCE(r.review_id <> 0 AND (SELECT MIN(r0.id) FROM reviews r0 \
                       WHERE r0.repo = r.repo AND r0.review_id = r.review_id) < r.id, FALSE) \
                       AS reused \
                     FROM reviews r \
                     JOIN installations i ON i.repo_key = LOWER(r.repo) AND i.active = TRUE \
                       AND i.user_id = $1 \
                     LEFT JOIN events e ON e.id = r.event_id \
                     WHERE (CAST($2 AS TEXT) IS NULL OR LOWER(r.repo) = LOWER($2)) \
                       AND (CAST($3 AS BIGINT) IS NULL OR r.pr_number = $3) \
                       AND r.created_at >= $4 \
                     ORDER BY r.created_at DESC, r.id DESC LIMIT $5",
                )
                .bind(user_id)
                .bind(repo)
                .bind(pr_number)
                .bind(since)
                .bind(limit.max(0))
                .fetch_all(&self.$pool)
                .await?;
                Ok(rows)
            })
        }

        fn event_payload_for_user(
            &self,
            user_id: i64,
            event_id: i64,
        ) -> $crate::store::StoreFuture<'_, Option<Vec<u8>>> {
            Box::pin(async move {
                let row: Option<(Vec<u8>,)> = sqlx::query_as(
                    "SELECT e.payload FROM events e \
                     JOIN installations i ON i.id = e.installation_id \
                     WHERE e.id = $1 AND i.user_id = $2",
                )
                .bind(event_id)
                .bind(user_id)
                .fetch_optional(&self.$pool)
                .await?;
                Ok(row.map(|(p,)| p))
            })
        }

        fn retry_failed_event(&self, id: i64, now: i64) -> $crate::store::StoreFuture<'_, bool> {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE events SET status = 'pending', attempts = 0, not_before = NULL, \
                     error = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = $2 \
                     WHERE id = $1 AND status = 'failed'",
                )
                .bind(id)
                .bind(now)
                .execute(&self.$pool)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        }

        fn queue_copy_of_event<'a>(
            &'a self,
            id: i64,
            delivery_id: &'a str,
            action: &'a str,
            now: i64,
        ) -> $crate::store::StoreFuture<'a, Option<i64>> {
            Box::pin(async move {
                let row: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO events (delivery_id, event, action, repo, pr_number, head_sha, \
                     installation_id, status, attempts, created_at, updated_at, payload) \
                     SELECT $2, e.event, $3, e.repo, e.pr_number, e.head_sha, e.installation_id, \
                     'pending', 0, $4, $4, e.payload FROM events e WHERE e.id = $1 \
                     RETURNING id",
                )
                .bind(id)
                .bind(delivery_id)
                .bind(action)
                .bind(now)
                .fetch_optional(&self.$pool)
                .await?;
                Ok(row.map(|(id,)| id))
            })
        }

        fn record_dashboard_action<'a>(
            &'a self,
            action: &'a $crate::store::NewDashboardAction,
            now: i64,
        ) -> $crate::store::StoreFuture<'a, i64> {
            Box::pin(async move {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO dashboard_actions (user_id, action, repo, pr_number, event_id, \
                     new_event_id, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     RETURNING id",
                )
                .bind(action.user_id)
                .bind(&action.action)
                .bind(&action.repo)
                .bind(action.pr_number)
                .bind(action.event_id)
                .bind(action.new_event_id)
                .bind(action.detail.as_deref().map($crate::store::clip_error))
                .bind(now)
                .fetch_one(&self.$pool)
                .await?;
                Ok(id)
            })
        }

        fn dashboard_actions_for<'a>(
            &'a self,
            repo: &'a str,
            pr_number: Option<i64>,
            limit: i64,
        ) -> $crate::store::StoreFuture<'a, Vec<$crate::store::DashboardAction>> {
            Box::pin(async move {
                let rows = sqlx::query_as::<_, $crate::store::DashboardAction>(
                    "SELECT a.id, u.login, a.action, a.repo, a.pr_number, a.event_id, \
                     a.new_event_id, a.detail, a.created_at \
                     FROM dashboard_actions a JOIN users u ON u.id = a.user_id \
                     WHERE LOWER(a.repo) = LOWER($1) \
                       AND (CAST($2 AS BIGINT) IS NULL OR a.pr_number = $2) \
                     ORDER BY a.id DESC LIMIT $3",
                )
                .bind(repo)
                .bind(pr_number)
                .bind(limit.max(0))
                .fetch_all(&self.$pool)
                .await?;
                Ok(rows)
            })
        }
    };
}

pub(super) use {dashboard_methods, event_filter_where};
