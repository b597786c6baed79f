-- How many devices are registered for updates of the card's pass: the registration counts
-- itself in with one conditional UPDATE (apple_devices < cap), which holds the cap under
-- concurrent registrations where counting the rows first would not.
ALTER TABLE cards ADD COLUMN apple_devices BIGINT NOT NULL DEFAULT 0;
UPDATE cards SET apple_devices = (SELECT COUNT(*) FROM apple_registrations r WHERE r.card_id = cards.id);
