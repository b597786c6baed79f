DROP INDEX customers_program_created;
DROP INDEX ledger_entries_program_created;
DROP INDEX purchases_program_occurred;
ALTER TABLE programs DROP COLUMN point_value_cents;
