-- Nectr's hosted-mode schema, PostgreSQL flavour. Timestamps are Unix seconds (BIGINT).
-- Keep in step with ../sqlite/0001_init.sql.

CREATE TABLE users (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    github_id        BIGINT  NOT NULL UNIQUE,
    login            TEXT    NOT NULL,
    encrypted_token  TEXT    NOT NULL,
    scopes           TEXT    NOT NULL DEFAULT '',
    needs_reauth     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    user_id     BIGINT  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE oauth_states (
    state                    TEXT    PRIMARY KEY,
    cookie_binding           TEXT    NOT NULL,
    pkce_verifier_encrypted  TEXT    NOT NULL,
    created_at               BIGINT  NOT NULL,
    expires_at               BIGINT  NOT NULL
);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- `repo` as given; `repo_key` its lower-case form, which the one-active-per-repo rule uses.
CREATE TABLE installations (
    id                        BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo                      TEXT    NOT NULL,
    repo_key                  TEXT    NOT NULL,
    user_id                   BIGINT  NOT NULL REFERENCES users (id),
    webhook_id                BIGINT  NOT NULL,
    encrypted_webhook_secret  TEXT    NOT NULL,
    active                    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at                BIGINT  NOT NULL,
    updated_at                BIGINT  NOT NULL
);
CREATE UNIQUE INDEX installations_one_active_per_repo ON installations (repo_key) WHERE active;
CREATE INDEX installations_webhook ON installations (webhook_id);
CREATE INDEX installations_user ON installations (user_id);

CREATE TABLE events (
    id                BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id       TEXT    NOT NULL UNIQUE,
    event             TEXT    NOT NULL,
    action            TEXT,
    repo              TEXT    NOT NULL,
    pr_number         BIGINT,
    head_sha          TEXT,
    installation_id   BIGINT  REFERENCES installations (id) ON DELETE SET NULL,
    status            TEXT    NOT NULL CHECK (status IN
                          ('pending', 'running', 'done', 'failed', 'ignored', 'duplicate')),
    attempts          BIGINT  NOT NULL DEFAULT 0,
    not_before        BIGINT,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    error             TEXT,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    payload           BYTEA   NOT NULL
);
CREATE INDEX events_pending ON events (created_at, id) WHERE status = 'pending';
CREATE INDEX events_running ON events (lease_expires_at) WHERE status = 'running';
CREATE INDEX events_pr_head ON events (repo, pr_number, head_sha, created_at);
CREATE INDEX events_installation ON events (installation_id, created_at);

CREATE TABLE reviews (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    BIGINT  REFERENCES events (id) ON DELETE SET NULL,
    repo        TEXT    NOT NULL,
    pr_number   BIGINT  NOT NULL,
    head_sha    TEXT    NOT NULL,
    review_id   BIGINT  NOT NULL,
    review_url  TEXT    NOT NULL,
    findings    BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX reviews_head ON reviews (repo, pr_number, head_sha);
CREATE INDEX reviews_event ON reviews (event_id);
