-- Where each card's pass stands in the update sequence that the PassKit "list updated passes"
-- call pages through: the id of the transaction that last changed it. A sequence value would be
-- unsafe here: with concurrent writers, a change that draws a smaller number can commit after a
-- device has already been told about a larger one, and that device would never see it. The list
-- call answers with its snapshot's xmin, below which every transaction has ended.
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
