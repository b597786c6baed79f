-- On PostgreSQL a PRIMARY KEY column is already NOT NULL; this states it, as the SQLite
-- migration of the same name does (there it rebuilds the table), and changes nothing.
ALTER TABLE ledger_reversals ALTER COLUMN original_entry_id SET NOT NULL;
