-- Where each card's pass stands for the PassKit "list updated passes" call: the id of the
-- transaction that last changed it. The list call hands out its snapshot as the tag, and lists
-- what that snapshot did not see. A sequence value would be unsafe: with concurrent writers, a
-- change that draws a smaller number can commit after a device was told about a larger one.
ALTER TABLE cards ADD COLUMN pass_seq BIGINT NOT NULL DEFAULT 0;
-- When the pass last changed (its Last-Modified, strictly increasing).
ALTER TABLE cards ADD COLUMN pass_updated_at TIMESTAMP;
UPDATE cards SET pass_updated_at = updated_at;
ALTER TABLE cards ALTER COLUMN pass_updated_at SET NOT NULL;

-- The unguessable token of the customer's own links (pass download, card page).
ALTER TABLE cards ADD COLUMN link_token TEXT;
UPDATE cards SET link_token = replace(gen_random_uuid()::text, '-', '');
ALTER TABLE cards ALTER COLUMN link_token SET NOT NULL;
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
