-- Where each card's pass stands in the update sequence that the PassKit "list updated passes"
-- call pages through (a counter here: SQLite has one writer at a time, so commit order is
-- counter order), and when the pass last changed (its Last-Modified, strictly increasing).
ALTER TABLE cards ADD COLUMN pass_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE cards ADD COLUMN pass_updated_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE cards SET pass_updated_at = updated_at;
CREATE INDEX cards_pass_seq ON cards (pass_seq);

-- The unguessable token of the customer's own links (pass download, card page).
ALTER TABLE cards ADD COLUMN link_token TEXT NOT NULL DEFAULT '';
UPDATE cards SET link_token = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX cards_link_token ON cards (link_token);

-- A device that asked for updates of a pass (Apple's devices/registrations model, the push
-- token kept on each registration so that a device's rows are all this table).
CREATE TABLE apple_registrations (
    device_library_id TEXT NOT NULL,
    pass_type_id      TEXT NOT NULL,
    serial            TEXT NOT NULL,
    program_id        TEXT NOT NULL REFERENCES programs(id),
    card_id           TEXT NOT NULL REFERENCES cards(id),
    push_token        TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (device_library_id, pass_type_id, serial)
);
CREATE INDEX apple_registrations_card ON apple_registrations (card_id);
CREATE INDEX apple_registrations_push_token ON apple_registrations (push_token);

-- The pass design a program chose (a folder of templates/passes/); NULL: the node's default.
ALTER TABLE programs ADD COLUMN pass_design TEXT;

-- The fingerprint of each design as last seen at start-up: when a design's files change, every
-- pass drawn with it changes, and its cards are refreshed and pushed.
CREATE TABLE pass_design_versions (
    name        TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
