//! What the dashboard keeps beyond a review's count (migration 0004): each review's findings
//! and notes (files not reviewed and why, the context used), per-repository settings, and
//! the findings people dismissed in Nectr's threads.
//!
//! The SQL is the same on SQLite and PostgreSQL ([`details_methods`], expanded inside each
//! backend's `impl Store`), every value a bound parameter. Sizes are bounded here, whatever
//! the caller passes: at most [`MAX_STORED_FINDINGS`] findings and [`MAX_STORED_NOTES`]
//! notes per review, every text on one line and clipped ([`clip_line`]). The per-severity
//! counts on `reviews` stay exact however many findings there were.
//!
//! Text stored here came from pull requests, GitHub and models: it is hostile, and pages
//! show it only escaped.

/// Findings of one review kept in `review_findings` (the most severe first).
pub const MAX_STORED_FINDINGS: usize = 200;
/// Notes of one review kept in `review_notes`.
pub const MAX_STORED_NOTES: usize = 120;
/// Longest path, title, rule id, label and detail kept (characters).
pub const MAX_PATH_CHARS: usize = 300;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_RULE_CHARS: usize = 100;
pub const MAX_LABEL_CHARS: usize = 200;
pub const MAX_DETAIL_CHARS: usize = 300;

/// `text` on one line (control characters and line breaks become spaces, runs of
/// whitespace one space) and at most `max` characters, with `…` when cut.
pub fn clip_line(text: &str, max: usize) -> String {
    let mut flat = String::with_capacity(text.len().min(max.saturating_mul(4) + 4));
    let mut space = false;
    // Looking at a little more than `max` characters is enough to know whether to cut.
    for c in text
        .trim()
        .chars()
        .take(max.saturating_mul(4).saturating_add(8))
    {
        if c.is_control() || c.is_whitespace() {
            if !space {
                flat.push(' ');
            }
            space = true;
        } else {
            flat.push(c);
            space = false;
        }
    }
    let long = flat.chars().count() > max
        || text
            .trim()
            .chars()
            .nth(max.saturating_mul(4).saturating_add(8))
            .is_some();
    if !long {
        return flat.trim_end().to_owned();
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One finding of a review, to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    pub path: String,
    pub line: i64,
    pub end_line: Option<i64>,
    /// `critical`, `major`, `minor` or `nit`.
    pub severity: String,
    /// `rules` or `llm`.
    pub source: String,
    /// The rule id (`secret.github-token`), or what the model called it (`llm`, …).
    pub rule: String,
    /// One line.
    pub title: String,
    /// Posted as an inline comment (else in the summary).
    pub inline: bool,
}

/// A short line a review recorded besides its findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    /// `skipped` (a file not reviewed: label the path, detail why), `linear`, `sentry`,
    /// `mcp` (context from MCP servers: label the key or server, detail the title),
    /// `graph`, `memories` (label what, detail how many), `ai` (the model, or why none),
    /// `unavailable` (a source that did not answer), `incremental`.
    pub kind: String,
    pub label: String,
    pub detail: String,
}

/// What a review's record carries beyond its count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewDetail {
    /// Findings per severity — critical, major, minor, nit — exact; `None` when not known
    /// (nothing is stored then).
    pub severities: Option<[i64; 4]>,
    /// Cut to [`MAX_STORED_FINDINGS`] by the store.
    pub findings: Vec<NewFinding>,
    /// Cut to [`MAX_STORED_NOTES`] by the store.
    pub notes: Vec<NewNote>,
}

/// A stored finding.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredFinding {
    /// The `reviews` row it belongs to.
    pub review_row: i64,
    pub position: i64,
    pub path: String,
    pub line: i64,
    pub end_line: Option<i64>,
    pub severity: String,
    pub source: String,
    pub rule: String,
    pub title: String,
    pub inline: bool,
}

/// A stored note.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredNote {
    pub review_row: i64,
    pub position: i64,
    pub kind: String,
    pub label: String,
    pub detail: String,
}

/// Whether drafts are reviewed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DraftsSetting {
    /// As `.nectr.yml` says (`review.drafts`, default no): today's behaviour.
    #[default]
    Config,
    Yes,
    No,
}

impl DraftsSetting {
    pub fn as_str(self) -> &'static str {
        match self {
            DraftsSetting::Config => "config",
            DraftsSetting::Yes => "yes",
            DraftsSetting::No => "no",
        }
    }

    pub fn parse(s: &str) -> Option<DraftsSetting> {
        match s {
            "config" => Some(DraftsSetting::Config),
            "yes" => Some(DraftsSetting::Yes),
            "no" => Some(DraftsSetting::No),
            _ => None,
        }
    }
}

/// A repository's settings on the dashboard. [`Default`] is today's behaviour; every
/// setting can only turn something off (or, for drafts, decide what `.nectr.yml` would):
/// the AI switch never enables a model the operator did not configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoSettings {
    /// The AI review and AI answers may run (when the operator configured a model).
    pub ai_enabled: bool,
    pub drafts: DraftsSetting,
    /// Which `pull_request` actions start a review.
    pub on_opened: bool,
    pub on_synchronize: bool,
    pub on_reopened: bool,
    pub on_ready_for_review: bool,
    /// Comment commands and replies in Nectr's threads are answered.
    pub on_comments: bool,
}

impl Default for RepoSettings {
    fn default() -> Self {
        RepoSettings {
            ai_enabled: true,
            drafts: DraftsSetting::Config,
            on_opened: true,
            on_synchronize: true,
            on_reopened: true,
            on_ready_for_review: true,
            on_comments: true,
        }
    }
}

impl RepoSettings {
    /// Whether a `pull_request` delivery with `action` starts a review (actions Nectr never
    /// reviews are not this setting's business: `true`).
    pub fn reviews_action(&self, action: &str) -> bool {
        match action {
            "opened" => self.on_opened,
            "synchronize" => self.on_synchronize,
            "reopened" => self.on_reopened,
            "ready_for_review" => self.on_ready_for_review,
            _ => true,
        }
    }

    /// What differs from `before`, in words (for the dashboard's record of the change).
    pub fn changes_from(&self, before: &RepoSettings) -> Vec<String> {
        let on = |b: bool| if b { "on" } else { "off" };
        let mut out = Vec::new();
        if self.ai_enabled != before.ai_enabled {
            out.push(format!("AI review {}", on(self.ai_enabled)));
        }
        if self.drafts != before.drafts {
            out.push(format!(
                "drafts: {}",
                match self.drafts {
                    DraftsSetting::Config => "as .nectr.yml says",
                    DraftsSetting::Yes => "reviewed",
                    DraftsSetting::No => "not reviewed",
                }
            ));
        }
        for (name, now, then) in [
            ("opened", self.on_opened, before.on_opened),
            ("synchronize", self.on_synchronize, before.on_synchronize),
            ("reopened", self.on_reopened, before.on_reopened),
            (
                "ready_for_review",
                self.on_ready_for_review,
                before.on_ready_for_review,
            ),
            ("comment commands", self.on_comments, before.on_comments),
        ] {
            if now != then {
                out.push(format!("{name} {}", on(now)));
            }
        }
        out
    }
}

/// The row behind [`RepoSettings`].
#[derive(sqlx::FromRow)]
pub(super) struct SettingsRow {
    pub ai_enabled: bool,
    pub review_drafts: String,
    pub on_opened: bool,
    pub on_synchronize: bool,
    pub on_reopened: bool,
    pub on_ready_for_review: bool,
    pub on_comments: bool,
}

impl From<SettingsRow> for RepoSettings {
    fn from(r: SettingsRow) -> Self {
        RepoSettings {
            ai_enabled: r.ai_enabled,
            drafts: DraftsSetting::parse(&r.review_drafts).unwrap_or_default(),
            on_opened: r.on_opened,
            on_synchronize: r.on_synchronize,
            on_reopened: r.on_reopened,
            on_ready_for_review: r.on_ready_for_review,
            on_comments: r.on_comments,
        }
    }
}

/// A finding dismissed in one of Nectr's threads, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDismissal {
    pub repo: String,
    pub pr_number: Option<i64>,
    pub rule: String,
    pub path: String,
    /// The dismissing comment: a redelivery records nothing more.
    pub comment_id: i64,
    /// Who dismissed it.
    pub login: String,
}

/// How often a rule was dismissed in a repository.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DismissedRule {
    pub repo: String,
    pub rule: String,
    pub dismissals: i64,
    /// Distinct files it was dismissed on.
    pub paths: i64,
    /// One of those files (the most recent dismissal's).
    pub last_path: String,
    pub last_at: i64,
}

/// The per-review writes and the reads of this module, the same SQL on both backends.
/// `$pool` is where reviews are recorded (PostgreSQL's workers use the relaxed pool).
macro_rules! details_methods {
    (pool: $pool:ident, record_pool: $record_pool:ident, db: $db:ty) => {
        fn record_review<'a>(
            &'a self,
            review: &'a $crate::store::NewReviewRecord,
            now: i64,
        ) -> $crate::store::StoreFuture<'a, i64> {
            use $crate::store::details::*;
            Box::pin(async move {
                let mut tx = self.$record_pool.begin().await?;
                let sev = review.detail.severities;
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO reviews (event_id, repo, pr_number, head_sha, review_id, \
                     review_url, findings, created_at, critical, major, minor, nit) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                )
                .bind(review.event_id)
                .bind(&review.repo)
                .bind(review.pr_number)
                .bind(&review.head_sha)
                .bind(review.review_id)
                .bind(&review.review_url)
                .bind(review.findings)
                .bind(now)
                .bind(sev.map(|s| s[0]))
                .bind(sev.map(|s| s[1]))
                .bind(sev.map(|s| s[2]))
                .bind(sev.map(|s| s[3]))
                .fetch_one(&mut *tx)
                .await?;
                let findings = &review.detail.findings[..review
                    .detail
                    .findings
                    .len()
                    .min(MAX_STORED_FINDINGS)];
                if !findings.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO review_findings (review_row, position, path, line, \
                         end_line, severity, source, rule, title, inline) ",
                    );
                    q.push_values(findings.iter().enumerate(), |mut b, (i, f)| {
                        let severity = match f.severity.as_str() {
                            s @ ("critical" | "major" | "minor" | "nit") => s,
                            _ => "nit",
                        };
                        let source = if f.source == "llm" { "llm" } else { "rules" };
                        b.push_bind(id)
                            .push_bind(i as i64)
                            .push_bind(clip_line(&f.path, MAX_PATH_CHARS))
                            .push_bind(f.line)
                            .push_bind(f.end_line)
                            .push_bind(severity)
                            .push_bind(source)
                            .push_bind(clip_line(&f.rule, MAX_RULE_CHARS))
                            .push_bind(clip_line(&f.title, MAX_TITLE_CHARS))
                            .push_bind(f.inline);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                let notes =
                    &review.detail.notes[..review.detail.notes.len().min(MAX_STORED_NOTES)];
                if !notes.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO review_notes (review_row, position, kind, label, detail) ",
                    );
                    q.push_values(notes.iter().enumerate(), |mut b, (i, n)| {
                        b.push_bind(id)
                            .push_bind(i as i64)
                            .push_bind(clip_line(&n.kind, 20))
                            .push_bind(clip_line(&n.label, MAX_LABEL_CHARS))
                            .push_bind(clip_line(&n.detail, MAX_DETAIL_CHARS));
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(id)
            })
        }

        fn review_findings<'a>(
            &'a self,
            review_rows: &'a [i64],
        ) -> $crate::store::StoreFuture<'a, Vec<$crate::store::StoredFinding>> {
            Box::pin(async move {
                if review_rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT review_row, position, path, line, end_line, severity, source, \
                     rule, title, inline FROM review_findings WHERE review_row IN (",
                );
                let mut list = q.separated(", ");
                for id in review_rows {
                    list.push_bind(*id);
                }
                q.push(") ORDER BY review_row DESC, position");
                Ok(q
                    .build_query_as::<$crate::store::StoredFinding>()
                    .fetch_all(&self.$pool)
                    .await?)
            })
        }

        fn review_notes<'a>(
            &'a self,
            review_rows: &'a [i64],
        ) -> $crate::store::StoreFuture<'a, Vec<$crate::store::StoredNote>> {
            Box::pin(async move {
                if review_rows.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT review_row, position, kind, label, detail FROM review_notes \
                     WHERE review_row IN (",
                );
                let mut list = q.separated(", ");
                for id in review_rows {
                    list.push_bind(*id);
                }
                q.push(") ORDER BY review_row DESC, position");
                Ok(q
                    .build_query_as::<$crate::store::StoredNote>()
                    .fetch_all(&self.$pool)
                    .await?)
            })
        }

        fn repo_settings<'a>(
            &'a self,
            repo: &'a str,
        ) -> $crate::store::StoreFuture<'a, $crate::store::RepoSettings> {
            Box::pin(async move {
                let row: Option<$crate::store::details::SettingsRow> = sqlx::query_as(
                    "SELECT ai_enabled, review_drafts, on_opened, on_synchronize, on_reopened, \
                     on_ready_for_review, on_comments FROM repo_settings WHERE repo_key = $1",
                )
                .bind(repo.to_ascii_lowercase())
                .fetch_optional(&self.$pool)
                .await?;
                Ok(row.map(Into::into).unwrap_or_default())
            })
        }

        fn save_repo_settings<'a>(
            &'a self,
            repo: &'a str,
            settings: &'a $crate::store::RepoSettings,
            user_id: i64,
            now: i64,
        ) -> $crate::store::StoreFuture<'a, ()> {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO repo_settings (repo_key, repo, ai_enabled, review_drafts, \
                     on_opened, on_synchronize, on_reopened, on_ready_for_review, on_comments, \
                     updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (repo_key) DO UPDATE SET repo = excluded.repo, \
                     ai_enabled = excluded.ai_enabled, review_drafts = excluded.review_drafts, \
                     on_opened = excluded.on_opened, on_synchronize = excluded.on_synchronize, \
                     on_reopened = excluded.on_reopened, \
                     on_ready_for_review = excluded.on_ready_for_review, \
                     on_comments = excluded.on_comments, updated_by = excluded.updated_by, \
                     updated_at = excluded.updated_at",
                )
                .bind(repo.to_ascii_lowercase())
                .bind(repo)
                .bind(settings.ai_enabled)
                .bind(settings.drafts.as_str())
                .bind(settings.on_opened)
                .bind(settings.on_synchronize)
                .bind(settings.on_reopened)
                .bind(settings.on_ready_for_review)
                .bind(settings.on_comments)
                .bind(user_id)
                .bind(now)
                .execute(&self.$pool)
                .await?;
                Ok(())
            })
        }

        fn record_dismissal<'a>(
            &'a self,
            d: &'a $crate::store::NewDismissal,
            now: i64,
        ) -> $crate::store::StoreFuture<'a, bool> {
            use $crate::store::details::*;
            Box::pin(async move {
                let done = sqlx::query(
                    "INSERT INTO dismissals (repo, repo_key, pr_number, rule, path, comment_id, \
                     login, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (repo_key, comment_id) DO NOTHING",
                )
                .bind(&d.repo)
                .bind(d.repo.to_ascii_lowercase())
                .bind(d.pr_number)
                .bind(clip_line(&d.rule, MAX_RULE_CHARS))
                .bind(clip_line(&d.path, MAX_PATH_CHARS))
                .bind(d.comment_id)
                .bind(clip_line(&d.login, 100))
                .bind(now)
                .execute(&self.$pool)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        }

        fn dismissed_rules_for_user<'a>(
            &'a self,
            user_id: i64,
            since: i64,
            limit: i64,
        ) -> $crate::store::StoreFuture<'a, Vec<$crate::store::DismissedRule>> {
            Box::pin(async move {
                let rows = sqlx::query_as::<_, $crate::store::DismissedRule>(
                    "SELECT MIN(i.repo) AS repo, d.rule, COUNT(*) AS dismissals, \
                     COUNT(DISTINCT d.path) AS paths, \
                     (SELECT d2.path FROM dismissals d2 WHERE d2.repo_key = d.repo_key \
                       AND d2.rule = d.rule ORDER BY d2.created_at DESC, d2.id DESC LIMIT 1) \
                       AS last_path, \
                     MAX(d.created_at) AS last_at \
                     FROM dismissals d \
                     JOIN installations i ON i.repo_key = d.repo_key AND i.active = TRUE \
                       AND i.user_id = $1 \
                     WHERE d.created_at >= $2 \
                     GROUP BY d.repo_key, d.rule \
                     ORDER BY COUNT(*) DESC, MAX(d.created_at) DESC, d.rule LIMIT $3",
                )
                .bind(user_id)
                .bind(since)
                .bind(limit.max(0))
                .fetch_all(&self.$pool)
                .await?;
                Ok(rows)
            })
        }
    };
}

pub(super) use details_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_clipped_and_flattened() {
        assert_eq!(clip_line("a\nb\t\tc\u{1b}[31m", 100), "a b c [31m");
        assert_eq!(clip_line("  padded  ", 100), "padded");
        let long = "é".repeat(500);
        let clipped = clip_line(&long, 10);
        assert_eq!(clipped.chars().count(), 10);
        assert!(clipped.ends_with('…'));
        assert_eq!(clip_line("exactly", 7), "exactly");
        assert_eq!(clip_line("exactly!", 7), "exactl…");
        assert_eq!(clip_line("fits", 7), "fits");
    }

    #[test]
    fn settings_describe_their_changes() {
        let before = RepoSettings::default();
        let after = RepoSettings {
            ai_enabled: false,
            drafts: DraftsSetting::No,
            on_synchronize: false,
            ..before
        };
        assert_eq!(
            after.changes_from(&before),
            ["AI review off", "drafts: not reviewed", "synchronize off"]
        );
        assert!(before.changes_from(&before).is_empty());
        assert!(!after.reviews_action("synchronize"));
        assert!(after.reviews_action("opened"));
        assert!(after.reviews_action("labeled"));
    }
}
