-- OAuth/OIDC sign-in. Everything a flow needs lives here, not in process memory, so a flow
-- begun on one instance can finish on another. Secrets are stored only as hashes.

-- A login in progress: bound to the browser by the hash of its state cookie.
CREATE TABLE oauth_states (
    state_hash    TEXT    PRIMARY KEY,
    provider      TEXT    NOT NULL,
    browser_hash  TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    redirect_to   TEXT,
    expires_at    INTEGER NOT NULL
);

-- The provider identity behind a local user: issuer + subject.
CREATE TABLE identities (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, subject)
);

-- One-time codes handed to /auth/callback, exchanged once at /auth/token within 60 s.
CREATE TABLE auth_codes (
    code_hash   TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    claims      TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER
);

-- Refresh tokens: a family per session; rotation links each to its successor.
CREATE TABLE refresh_tokens (
    token_hash          TEXT    PRIMARY KEY,
    session_id          TEXT    NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id             INTEGER NOT NULL,
    claims              TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    rotated_at          INTEGER,
    revoked_at          INTEGER
);

CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
