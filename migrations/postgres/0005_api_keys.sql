-- API keys and service accounts.
-- A service account ('service') has no password and cannot sign in; only its keys act for it.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';

-- Keys: found by their public prefix, proved by the SHA-256 of their secret (high-entropy,
-- so no slow hash). Scopes are fixed at creation (space-separated).
CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL UNIQUE,
    secret_hash  TEXT    NOT NULL,
    scopes       TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id);
-- Every instance polls recent revocations (a CLI's included) through this index.
CREATE INDEX api_keys_revoked ON api_keys(revoked_at);
