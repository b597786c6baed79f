-- A program's Google loyalty class, and the design fingerprint it was last written with.
CREATE TABLE google_classes (
    program_id  TEXT PRIMARY KEY NOT NULL REFERENCES programs(id),
    class_id    TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- A card's Google loyalty object, created when a save link is first asked for: what was last
-- sent (to skip no-op updates and to notify only on a new balance) and whether a phone holds it.
CREATE TABLE google_objects (
    card_id         TEXT PRIMARY KEY NOT NULL REFERENCES cards(id),
    program_id      TEXT NOT NULL REFERENCES programs(id),
    object_id       TEXT NOT NULL UNIQUE,
    synced_version  BIGINT NOT NULL,
    synced_balance  BIGINT NOT NULL,
    saved           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);

-- Notifying updates sent per card: Google allows 3 per pass per 24 hours.
CREATE TABLE google_notifications (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    card_id     TEXT NOT NULL REFERENCES cards(id),
    program_id  TEXT NOT NULL REFERENCES programs(id),
    sent_at     TIMESTAMP NOT NULL
);
CREATE INDEX google_notifications_card ON google_notifications (card_id, sent_at);

-- Callback nonces already processed: Google may deliver an event more than once.
CREATE TABLE google_callback_nonces (
    nonce       TEXT PRIMARY KEY NOT NULL,
    received_at TIMESTAMP NOT NULL
);
