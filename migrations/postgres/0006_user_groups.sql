-- Groups a user belongs to, one row per (user, source, name). Each source (the admin's
-- `local`, an identity provider's `oauth:<name>`, a directory) replaces only its own rows, so
-- one never overwrites another; a user's groups are the union.
CREATE TABLE user_groups (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source  TEXT   NOT NULL,
    name    TEXT   NOT NULL,
    PRIMARY KEY (user_id, source, name)
);

-- A change of groups moves the user's updated_at in the same transaction; the change feed now
-- follows updated_at too, so every instance re-reads the user (and its groups) at once.
DROP TRIGGER users_changed ON users;
CREATE TRIGGER users_changed AFTER UPDATE ON users FOR EACH ROW
    WHEN ((OLD.email, OLD.name, OLD.role, OLD.active, OLD.deleted_at, OLD.password_hash, OLD.picture, OLD.updated_at)
          IS DISTINCT FROM
          (NEW.email, NEW.name, NEW.role, NEW.active, NEW.deleted_at, NEW.password_hash, NEW.picture, NEW.updated_at))
    EXECUTE FUNCTION portcullis_user_changed();
