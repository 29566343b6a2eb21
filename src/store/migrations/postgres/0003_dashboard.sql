-- The dashboard's additions, PostgreSQL flavour. Keep in step with ../sqlite/0002_dashboard.sql.

-- What people did from the dashboard (retry, re-review, reconnect): who, what, when, and
-- what it replaced (the error a retry cleared), so every action stays on record.
CREATE TABLE dashboard_actions (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT  NOT NULL REFERENCES users (id),
    action        TEXT    NOT NULL,
    repo          TEXT    NOT NULL,
    pr_number     BIGINT,
    event_id      BIGINT,
    new_event_id  BIGINT,
    detail        TEXT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX dashboard_actions_repo ON dashboard_actions (repo, pr_number, created_at);

-- A review found again by its marker is recorded once more under the same GitHub id; the
-- dashboard counts each GitHub review once, by this pair.
CREATE INDEX reviews_review ON reviews (repo, review_id);
