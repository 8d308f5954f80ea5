-- The change feed that keeps every instance's cache honest. Triggers record each change that a
-- cache must follow (a session revoked or re-pointed at a new token; a user changed or deleted)
-- in auth_changes, in the same transaction as the change; each row is announced with
-- pg_notify at commit. An instance that lost its listener re-reads the rows after the last id
-- it applied, so nothing is missed across a database restart.
CREATE TABLE auth_changes (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT   NOT NULL,          -- 'session' or 'user'
    session_id TEXT,
    user_id    BIGINT NOT NULL,
    token_id   TEXT,
    expires_at BIGINT,
    remember   BOOLEAN,
    revoked    BOOLEAN,
    at_ms      BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
);

CREATE FUNCTION portcullis_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO auth_changes (kind, session_id, user_id, token_id, expires_at, remember, revoked)
    VALUES ('session', NEW.id, NEW.user_id, NEW.token_id, NEW.expires_at, NEW.remember,
            NEW.revoked_at IS NOT NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.token_id IS DISTINCT FROM NEW.token_id)
    EXECUTE FUNCTION portcullis_session_changed();

CREATE FUNCTION portcullis_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO auth_changes (kind, user_id) VALUES ('user', OLD.id);
    ELSE
        INSERT INTO auth_changes (kind, user_id) VALUES ('user', NEW.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_changed AFTER UPDATE ON users FOR EACH ROW
    WHEN ((OLD.email, OLD.name, OLD.role, OLD.active, OLD.deleted_at, OLD.password_hash, OLD.picture)
          IS DISTINCT FROM
          (NEW.email, NEW.name, NEW.role, NEW.active, NEW.deleted_at, NEW.password_hash, NEW.picture))
    EXECUTE FUNCTION portcullis_user_changed();
CREATE TRIGGER users_deleted AFTER DELETE ON users FOR EACH ROW
    EXECUTE FUNCTION portcullis_user_changed();

CREATE FUNCTION portcullis_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_changes', NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER auth_changes_announced AFTER INSERT ON auth_changes FOR EACH ROW
    EXECUTE FUNCTION portcullis_announce_change();
