-- The audit trail (src/store/audit.rs): one row per security event, appended and never
-- changed. Each row is chained to the one before it: hash = SHA-256(prev_hash || the row's
-- canonical JSON), so an edited, inserted or deleted row shows in `portcullis audit verify`.
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    ts          INTEGER NOT NULL,            -- Unix milliseconds, UTC
    type        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    reason      TEXT,
    actor_type  TEXT    NOT NULL,
    actor_id    TEXT,
    actor_email TEXT,
    target_type TEXT,
    target_id   TEXT,
    client_ip   TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    method      TEXT,
    host        TEXT,
    path        TEXT,
    changes     TEXT,                        -- JSON {field: {from, to}}, allow-listed fields
    instance    TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_events_ts ON audit_events(ts);
CREATE INDEX audit_events_type ON audit_events(type, seq);
CREATE INDEX audit_events_actor ON audit_events(actor_id, seq);
CREATE INDEX audit_events_actor_email ON audit_events(actor_email, seq);
CREATE INDEX audit_events_target ON audit_events(target_id, seq);
CREATE INDEX audit_events_ip ON audit_events(client_ip, seq);

-- The chain's head. Every append takes this row first (on SQLite, the database's write lock),
-- so processes sharing the file append one at a time in seq order.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  INTEGER NOT NULL,
    last_hash TEXT    NOT NULL,
    purging   INTEGER NOT NULL DEFAULT 0   -- 1 only inside the retention purge's transaction
);
INSERT INTO audit_head (id, last_seq, last_hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_kept BEFORE DELETE ON audit_events
    WHEN (SELECT purging FROM audit_head WHERE id = 1) = 0
BEGIN
    SELECT RAISE(ABORT, 'audit events are deleted only by the retention purge');
END;
