-- Groups a user belongs to, one row per (user, source, name). Each source (the admin's
-- `local`, an identity provider's `oauth:<name>`, a directory) replaces only its own rows, so
-- one never overwrites another; a user's groups are the union.
CREATE TABLE user_groups (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source  TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    PRIMARY KEY (user_id, source, name)
);

-- An instance without a change feed (SQLite) polls the users changed lately: groups, role,
-- deactivation made by another process (the CLI) reach its cache within a second.
CREATE INDEX users_updated ON users(updated_at);
