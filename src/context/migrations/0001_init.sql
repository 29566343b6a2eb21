-- The embedded context store: the knowledge graph (graph_*) and the memories (memories*),
-- in one SQLite file (NECTR_CONTEXT_DB). Timestamps are Unix seconds. Repository names are
-- stored lower-cased ("owner/name"): GitHub treats them case-insensitively.
--
-- The graph's nodes are rows (repos, PRs, files, authors, issues, findings); its edges are
-- columns or link tables:
--   AUTHORED    graph_prs.author_id, graph_issues.author_id
--   TOUCHES     graph_touches (PR → file)
--   REFERENCES  graph_issue_files (issue → file), graph_fixes (PR → issue number)
--   CO_CHANGED  graph_co_changed (file ↔ file, how many merged PRs changed both)

CREATE TABLE graph_repos (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL UNIQUE
);

CREATE TABLE graph_authors (
    id     INTEGER PRIMARY KEY,
    login  TEXT NOT NULL UNIQUE
);

CREATE TABLE graph_files (
    id       INTEGER PRIMARY KEY,
    repo_id  INTEGER NOT NULL REFERENCES graph_repos (id),
    path     TEXT    NOT NULL,
    UNIQUE (repo_id, path)
);

CREATE TABLE graph_prs (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES graph_repos (id),
    number      INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    author_id   INTEGER REFERENCES graph_authors (id),
    state       TEXT    NOT NULL,            -- open | merged | closed
    merged_at   INTEGER,
    created_at  INTEGER NOT NULL,
    base_sha    TEXT    NOT NULL,
    head_sha    TEXT    NOT NULL,
    is_revert   BOOLEAN NOT NULL DEFAULT FALSE,
    reverts_pr  INTEGER,                     -- resolved at indexing; NULL when unknown
    -- Whether this PR's file pairs are currently counted in graph_co_changed, so that
    -- re-indexing takes exactly its old contribution back out.
    co_counted  BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (repo_id, number)
);
CREATE INDEX graph_prs_title ON graph_prs (repo_id, title);
CREATE INDEX graph_prs_head ON graph_prs (repo_id, head_sha);
CREATE INDEX graph_prs_reverts ON graph_prs (repo_id, reverts_pr);

CREATE TABLE graph_touches (
    pr_id    INTEGER NOT NULL REFERENCES graph_prs (id) ON DELETE CASCADE,
    file_id  INTEGER NOT NULL REFERENCES graph_files (id),
    PRIMARY KEY (pr_id, file_id)
);
CREATE INDEX graph_touches_file ON graph_touches (file_id);

CREATE TABLE graph_findings (
    id        INTEGER PRIMARY KEY,
    pr_id     INTEGER NOT NULL REFERENCES graph_prs (id) ON DELETE CASCADE,
    path      TEXT    NOT NULL,
    rule      TEXT    NOT NULL,
    severity  TEXT    NOT NULL,
    title     TEXT    NOT NULL
);
CREATE INDEX graph_findings_pr ON graph_findings (pr_id);

CREATE TABLE graph_fixes (
    pr_id         INTEGER NOT NULL REFERENCES graph_prs (id) ON DELETE CASCADE,
    issue_number  INTEGER NOT NULL,
    PRIMARY KEY (pr_id, issue_number)
);

CREATE TABLE graph_issues (
    id          INTEGER PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES graph_repos (id),
    number      INTEGER NOT NULL,
    title       TEXT    NOT NULL,
    state       TEXT    NOT NULL,            -- open | closed
    labels      TEXT    NOT NULL,            -- JSON array of strings
    author_id   INTEGER REFERENCES graph_authors (id),
    updated_at  INTEGER NOT NULL,
    UNIQUE (repo_id, number)
);

CREATE TABLE graph_issue_files (
    issue_id  INTEGER NOT NULL REFERENCES graph_issues (id) ON DELETE CASCADE,
    file_id   INTEGER NOT NULL REFERENCES graph_files (id),
    PRIMARY KEY (issue_id, file_id)
);
CREATE INDEX graph_issue_files_file ON graph_issue_files (file_id);

-- One row per unordered pair (file_a < file_b by id).
CREATE TABLE graph_co_changed (
    file_a  INTEGER NOT NULL REFERENCES graph_files (id),
    file_b  INTEGER NOT NULL REFERENCES graph_files (id),
    times   INTEGER NOT NULL,
    PRIMARY KEY (file_a, file_b)
);
CREATE INDEX graph_co_changed_b ON graph_co_changed (file_b);

-- Memories. '' (not NULL) means "none" in path, rule and outcome, so the UNIQUE constraint
-- deduplicates repo-wide memories too (NULLs are never equal in SQLite's UNIQUE).
CREATE TABLE memories (
    id          INTEGER PRIMARY KEY,
    repo        TEXT    NOT NULL,
    path        TEXT    NOT NULL DEFAULT '',
    dir         TEXT    NOT NULL DEFAULT '',  -- path's parent directory, for "same directory"
    kind        TEXT    NOT NULL,             -- convention | recurring_finding | outcome
    rule        TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL DEFAULT '',  -- resolved | dismissed | thumbs_down | thumbs_up
    text        TEXT    NOT NULL,
    count       INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (repo, path, kind, rule, outcome, text)
);
CREATE INDEX memories_scope ON memories (repo, path);
CREATE INDEX memories_dir ON memories (repo, dir);
CREATE INDEX memories_feedback ON memories (repo, rule, path) WHERE kind = 'outcome';

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    text,
    content = 'memories',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER memories_au AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
END;
