-- Nectr's hosted-mode schema, SQLite flavour. Timestamps are Unix seconds (INTEGER),
-- booleans are 0/1. Keep in step with ../postgres/0001_init.sql.

CREATE TABLE users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    github_id        INTEGER NOT NULL UNIQUE,
    login            TEXT    NOT NULL,
    encrypted_token  TEXT    NOT NULL,
    scopes           TEXT    NOT NULL DEFAULT '',
    needs_reauth     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE oauth_states (
    state                    TEXT    PRIMARY KEY,
    cookie_binding           TEXT    NOT NULL,
    pkce_verifier_encrypted  TEXT    NOT NULL,
    created_at               INTEGER NOT NULL,
    expires_at               INTEGER NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- `repo` as given; `repo_key` its lower-case form, which the one-active-per-repo rule uses.
CREATE TABLE installations (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    repo                      TEXT    NOT NULL,
    repo_key                  TEXT    NOT NULL,
    user_id                   INTEGER NOT NULL REFERENCES users (id),
    webhook_id                INTEGER NOT NULL,
    encrypted_webhook_secret  TEXT    NOT NULL,
    active                    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL
);
CREATE UNIQUE INDEX installations_one_active_per_repo ON installations (repo_key) WHERE active;
CREATE INDEX installations_webhook ON installations (webhook_id);
CREATE INDEX installations_user ON installations (user_id);

CREATE TABLE events (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id       TEXT    NOT NULL UNIQUE,
    event             TEXT    NOT NULL,
    action            TEXT,
    repo              TEXT    NOT NULL,
    pr_number         INTEGER,
    head_sha          TEXT,
    installation_id   INTEGER REFERENCES installations (id) ON DELETE SET NULL,
    status            TEXT    NOT NULL CHECK (status IN
                          ('pending', 'running', 'done', 'failed', 'ignored', 'duplicate')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    not_before        INTEGER,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    error             TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    payload           BLOB    NOT NULL
);
CREATE INDEX events_pending ON events (created_at, id) WHERE status = 'pending';
CREATE INDEX events_running ON events (lease_expires_at) WHERE status = 'running';
CREATE INDEX events_pr_head ON events (repo, pr_number, head_sha, created_at);
CREATE INDEX events_installation ON events (installation_id, created_at);

CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    INTEGER REFERENCES events (id) ON DELETE SET NULL,
    repo        TEXT    NOT NULL,
    pr_number   INTEGER NOT NULL,
    head_sha    TEXT    NOT NULL,
    review_id   INTEGER NOT NULL,
    review_url  TEXT    NOT NULL,
    findings    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX reviews_head ON reviews (repo, pr_number, head_sha);
CREATE INDEX reviews_event ON reviews (event_id);
