-- The admin API and console: what a merchant edits from the browser, who may, and a trail of it.

-- The earning rule's rounding, the texts of the card page and pass, the public enrolment switch.
ALTER TABLE programs ADD COLUMN earn_rounding TEXT NOT NULL DEFAULT 'down'
    CHECK (earn_rounding IN ('down', 'nearest', 'up'));
ALTER TABLE programs ADD COLUMN contact_text TEXT;
ALTER TABLE programs ADD COLUMN contact_text_fr TEXT;
ALTER TABLE programs ADD COLUMN terms_text TEXT;
ALTER TABLE programs ADD COLUMN terms_text_fr TEXT;
ALTER TABLE programs ADD COLUMN public_enrolment BOOLEAN NOT NULL DEFAULT TRUE;

-- A shop is archived, never deleted: its purchases keep pointing at it.
ALTER TABLE locations ADD COLUMN address TEXT;
ALTER TABLE locations ADD COLUMN archived_at TIMESTAMP;
CREATE UNIQUE INDEX locations_name ON locations (program_id, name);

-- Every token carries the version it was issued at: disabling a user or changing their password
-- bumps it, and the next request with an older token is refused (the row is read on each request).
ALTER TABLE staff_users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE staff_users ADD COLUMN disabled_at TIMESTAMP;

-- Invitations to set a password. The link is the id signed with the link key: no usable token is
-- stored, and the outbox holds only the id.
CREATE TABLE staff_invitations (
    id          TEXT PRIMARY KEY NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    staff_id    TEXT NOT NULL REFERENCES staff_users(id),
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX staff_invitations_staff ON staff_invitations (staff_id);

-- Console sign-ins: the cookie is random, the database keeps its SHA-256. A session speaks for its
-- user only while their token version is still the one it was opened at.
CREATE TABLE staff_sessions (
    token_hash     TEXT PRIMARY KEY NOT NULL,
    program_id     TEXT NOT NULL REFERENCES programs(id),
    staff_id       TEXT NOT NULL REFERENCES staff_users(id),
    token_version  BIGINT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- Pass designs made in the console, stored here so that every node draws the same passes: a
-- draft (what the preview shows) and the published one (what passes are drawn with, once the
-- programme's pass_design is '@console'). `design` is a design.json; images by file name.
CREATE TABLE program_designs (
    program_id   TEXT NOT NULL REFERENCES programs(id),
    stage        TEXT NOT NULL CHECK (stage IN ('draft', 'published')),
    design       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (program_id, stage)
);
CREATE TABLE program_design_images (
    program_id  TEXT NOT NULL REFERENCES programs(id),
    stage       TEXT NOT NULL CHECK (stage IN ('draft', 'published')),
    name        TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    PRIMARY KEY (program_id, stage, name)
);

-- Every admin write: who, what, when, and the fields it changed. Append-only: the database
-- itself refuses an UPDATE or DELETE.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    program_id   TEXT NOT NULL REFERENCES programs(id),
    -- the staff user; NULL for the operator's command line
    actor_id     TEXT REFERENCES staff_users(id),
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT,
    -- JSON: {"field": {"before": .., "after": ..}} for the fields that changed
    changes      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX audit_log_program ON audit_log (program_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
