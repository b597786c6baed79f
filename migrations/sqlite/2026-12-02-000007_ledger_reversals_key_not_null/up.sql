-- SQLite lets a PRIMARY KEY column hold NULL unless it says NOT NULL (only INTEGER PRIMARY KEY,
-- STRICT and WITHOUT ROWID tables are exempt from that legacy rule), so original_entry_id
-- accepted NULL, and NULLs are distinct: the key guaranteed nothing for such rows. schema.rs and
-- PostgreSQL say the column is required. SQLite can't add NOT NULL to a column: the table is
-- rebuilt (nothing references it). A NULL row, which the code never writes, fails the copy and
-- so the migration, rather than being dropped silently.
CREATE TABLE ledger_reversals_new (
    original_entry_id  BIGINT PRIMARY KEY NOT NULL REFERENCES ledger_entries(id),
    program_id         TEXT NOT NULL REFERENCES programs(id),
    reversal_entry_id  BIGINT NOT NULL UNIQUE REFERENCES ledger_entries(id),
    staff_id           TEXT REFERENCES staff_users(id),
    created_at         TIMESTAMP NOT NULL
);
INSERT INTO ledger_reversals_new (original_entry_id, program_id, reversal_entry_id, staff_id, created_at)
SELECT original_entry_id, program_id, reversal_entry_id, staff_id, created_at FROM ledger_reversals;
DROP TABLE ledger_reversals;
ALTER TABLE ledger_reversals_new RENAME TO ledger_reversals;
