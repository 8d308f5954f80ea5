-- Soft deletion: the row stays (its email stays taken, its history stays), the account is gone.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
