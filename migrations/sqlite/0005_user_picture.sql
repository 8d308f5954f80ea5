-- The user's avatar: a URL path served by the gateway (or a provider's picture URL).
ALTER TABLE users ADD COLUMN picture TEXT;
