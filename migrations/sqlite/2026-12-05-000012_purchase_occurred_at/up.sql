-- When the sale happened, as the till says (an offline till uploads later): windows, visits and
-- expiry count from it. `created_at` stays when it was recorded. Older rows happened when recorded
-- (SQLite can't add a NOT NULL column without a default: the default is overwritten at once).
ALTER TABLE purchases ADD COLUMN occurred_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE purchases SET occurred_at = created_at;
CREATE INDEX purchases_card_occurred ON purchases (card_id, occurred_at);
