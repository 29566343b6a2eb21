-- The dashboard's additions, SQLite flavour. Keep in step with ../postgres/0002_dashboard.sql.

-- What people did from the dashboard (retry, re-review, reconnect): who, what, when, and
-- what it replaced (the error a retry cleared), so every action stays on record.
CREATE TABLE dashboard_actions (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    action        TEXT    NOT NULL,
    repo          TEXT    NOT NULL,
    pr_number     INTEGER,
    event_id      INTEGER,
    new_event_id  INTEGER,
    detail        TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX dashboard_actions_repo ON dashboard_actions (repo, pr_number, created_at);

-- A review found again by its marker is recorded once more under the same GitHub id; the
-- dashboard counts each GitHub review once, by this pair.
CREATE INDEX reviews_review ON reviews (repo, review_id);
