-- When the sale happened, as the till says (an offline till uploads later): windows, visits and
-- expiry count from it. `created_at` stays when it was recorded. Older rows happened when recorded.
ALTER TABLE purchases ADD COLUMN occurred_at TIMESTAMP;
UPDATE purchases SET occurred_at = created_at;
ALTER TABLE purchases ALTER COLUMN occurred_at SET NOT NULL;
CREATE INDEX purchases_card_occurred ON purchases (card_id, occurred_at);
