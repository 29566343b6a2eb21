-- Sign-in states are signed, encrypted tokens now (server/auth.rs): starting a sign-in stores
-- nothing, and only a state presented back at the callback is recorded, as spent, until it
-- expires. Keep in step with ../sqlite/0002_signed_oauth_states.sql.

DROP TABLE oauth_states;

CREATE TABLE oauth_states_spent (
    id          TEXT   PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX oauth_states_spent_expires ON oauth_states_spent (expires_at);
