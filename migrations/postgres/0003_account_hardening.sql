-- Account takeover hardening.
-- An email no one has proven (a provider that did not mark it verified): such an account
-- cannot be reached by email (reset, magic link, linking) until it is verified.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT TRUE;
-- A new address waiting for its confirmation link; the email changes only then.
ALTER TABLE users ADD COLUMN pending_email TEXT;
-- The browser an OAuth one-time code was issued to (hash of its state cookie).
ALTER TABLE auth_codes ADD COLUMN browser_hash TEXT;
-- Expired states and codes are purged by the upkeep task.
CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);
CREATE INDEX auth_codes_expiry ON auth_codes(expires_at);
