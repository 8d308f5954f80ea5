-- Second factors and passkeys.
-- How each session's sign-in was made (RFC 8176 method names, comma-separated) and when:
-- routes that demand a second factor read it.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN auth_time BIGINT;

-- A user's TOTP secret, sealed (AES-256-GCM) with a key the database does not hold; inactive
-- until confirmed with a first code. last_step: the newest time step accepted, so a code
-- works once.
CREATE TABLE mfa_totp (
    user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret     TEXT    NOT NULL,
    enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    last_step  BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Recovery codes: only hashes, each used once.
CREATE TABLE mfa_recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- Passkeys: webauthn-rs's credential (public key, counter) as JSON; user_handle is the
-- WebAuthn user id all of a user's passkeys share.
CREATE TABLE webauthn_credentials (
    id            TEXT    PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    user_handle   TEXT    NOT NULL,
    credential_id TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    passkey       TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials(user_id);

-- Short flows that may finish on another instance: second-step tokens and WebAuthn
-- challenges. Keyed by a hash of the token the client holds; taken once.
CREATE TABLE auth_flows (
    flow_hash  TEXT    PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    user_id    BIGINT,
    data       TEXT    NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX auth_flows_expiry ON auth_flows(expires_at);
