-- Issue 16's last dashboard parts, SQLite flavour. Keep in step with
-- ../postgres/0004_review_details.sql.

-- How many findings of each severity a review was posted with (exact, however many there
-- were); NULL on reviews recorded before this migration.
ALTER TABLE reviews ADD COLUMN critical INTEGER;
ALTER TABLE reviews ADD COLUMN major INTEGER;
ALTER TABLE reviews ADD COLUMN minor INTEGER;
ALTER TABLE reviews ADD COLUMN nit INTEGER;

-- A review's findings, most severe first (`position`), at most a few hundred per review,
-- every text clipped (the store cuts them; see `store::details`). Text from pull requests
-- and models: shown only escaped.
CREATE TABLE review_findings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    review_row  INTEGER NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    path        TEXT    NOT NULL,
    line        INTEGER NOT NULL,
    end_line    INTEGER,
    severity    TEXT    NOT NULL CHECK (severity IN ('critical', 'major', 'minor', 'nit')),
    source      TEXT    NOT NULL CHECK (source IN ('rules', 'llm')),
    rule        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    inline      BOOLEAN NOT NULL
);
CREATE INDEX review_findings_review ON review_findings (review_row, position);

-- What else a review recorded, as short (kind, label, detail) lines: files it did not
-- review and why (`skipped`), the context it used (`linear`, `sentry`, `mcp`, `graph`,
-- `memories`, `ai`), sources that did not answer (`unavailable`).
CREATE TABLE review_notes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    review_row  INTEGER NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    label       TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX review_notes_review ON review_notes (review_row, position);

-- Per-repository settings edited on the dashboard. No row: the defaults (today's
-- behaviour). They can only turn things off relative to what the operator allows.
CREATE TABLE repo_settings (
    repo_key             TEXT    PRIMARY KEY,
    repo                 TEXT    NOT NULL,
    ai_enabled           BOOLEAN NOT NULL DEFAULT TRUE,
    review_drafts        TEXT    NOT NULL DEFAULT 'config'
                             CHECK (review_drafts IN ('config', 'yes', 'no')),
    on_opened            BOOLEAN NOT NULL DEFAULT TRUE,
    on_synchronize       BOOLEAN NOT NULL DEFAULT TRUE,
    on_reopened          BOOLEAN NOT NULL DEFAULT TRUE,
    on_ready_for_review  BOOLEAN NOT NULL DEFAULT TRUE,
    on_comments          BOOLEAN NOT NULL DEFAULT TRUE,
    updated_by           INTEGER REFERENCES users (id),
    updated_at           INTEGER NOT NULL
);

-- Findings people dismissed in Nectr's threads (`/nectr ignore`, "false positive", …),
-- once per dismissing comment.
CREATE TABLE dismissals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    repo        TEXT    NOT NULL,
    repo_key    TEXT    NOT NULL,
    pr_number   INTEGER,
    rule        TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    comment_id  INTEGER NOT NULL,
    login       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX dismissals_comment ON dismissals (repo_key, comment_id);
CREATE INDEX dismissals_repo ON dismissals (repo_key, created_at);
