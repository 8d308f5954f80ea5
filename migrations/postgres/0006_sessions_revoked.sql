-- Every instance polls recent session revocations (the CLI's included) through this index.
-- The change feed carries the same news; the poll also covers a listener that was away.
CREATE INDEX sessions_revoked ON sessions(revoked_at);
