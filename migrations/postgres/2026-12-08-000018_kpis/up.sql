-- What one point is worth to the programme, in cents, for the liability of open points when no
-- conversion rule says it (NULL: take it from the conversion rule, or leave the liability unknown).
ALTER TABLE programs ADD COLUMN point_value_cents BIGINT CHECK (point_value_cents >= 0);
-- The insights read a programme's sales, moves and enrolments by date range.
CREATE INDEX purchases_program_occurred ON purchases (program_id, occurred_at);
CREATE INDEX ledger_entries_program_created ON ledger_entries (program_id, created_at);
CREATE INDEX customers_program_created ON customers (program_id, created_at);
