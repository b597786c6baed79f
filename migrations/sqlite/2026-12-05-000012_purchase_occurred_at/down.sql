DROP INDEX purchases_card_occurred;
ALTER TABLE purchases DROP COLUMN occurred_at;
