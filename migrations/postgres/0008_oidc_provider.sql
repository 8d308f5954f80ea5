-- The gateway as an OpenID provider. Everything a flow needs lives here, never in process
-- memory, so a code issued on one instance is redeemed on another. Codes and refresh tokens
-- are stored only as hashes.

-- What a user let a client have, under which gateway session (none: client_credentials).
-- An offline grant (offline_access) outlives its session's end by a browser logout.
CREATE TABLE oidc_grants (
    id            TEXT    PRIMARY KEY,
    client_id     TEXT    NOT NULL,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id    TEXT,
    scopes        TEXT    NOT NULL,
    offline       BOOLEAN NOT NULL,
    auth_time     BIGINT NOT NULL,
    amr           TEXT    NOT NULL,
    acr           TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX oidc_grants_session ON oidc_grants(session_id);
CREATE INDEX oidc_grants_user ON oidc_grants(user_id);

-- Authorization codes: single use, bound to their grant, redirect URI, PKCE challenge, nonce.
CREATE TABLE oidc_codes (
    code_hash      TEXT    PRIMARY KEY,
    grant_id       TEXT    NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    nonce          TEXT,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

-- Refresh tokens: rotated at every use; a rotated one names its successor, for the grace of
-- parallel refreshes and to detect reuse.
CREATE TABLE oidc_refresh_tokens (
    token_hash     TEXT    PRIMARY KEY,
    grant_id       TEXT    NOT NULL REFERENCES oidc_grants(id) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    rotated_at     BIGINT,
    successor      TEXT
);
CREATE INDEX oidc_refresh_grant ON oidc_refresh_tokens(grant_id);

-- Consent remembered per user and client, for the scopes given.
CREATE TABLE oidc_consents (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL,
    scopes     TEXT    NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Back-channel logouts owed: one row per client and ended session (or revoked grant),
-- written in the transaction that ends it, sent and retried by whichever instance claims it.
CREATE TABLE oidc_logouts (
    id            BIGSERIAL PRIMARY KEY,
    client_id     TEXT    NOT NULL,
    user_id       BIGINT NOT NULL,
    session_id    TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    claimed_until BIGINT,
    sent_at       BIGINT,
    failed_at     BIGINT,
    last_error    TEXT
);
CREATE INDEX oidc_logouts_due ON oidc_logouts(sent_at, failed_at, next_at);
CREATE INDEX oidc_logouts_session ON oidc_logouts(session_id);
