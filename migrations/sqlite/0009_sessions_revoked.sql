-- Every instance polls recent session revocations (the CLI's included) through this index.
CREATE INDEX sessions_revoked ON sessions(revoked_at);
