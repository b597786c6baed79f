-- Back to the table as 2026-11-30-000006 created it.
CREATE TABLE ledger_reversals_old (
    original_entry_id  BIGINT PRIMARY KEY REFERENCES ledger_entries(id),
    program_id         TEXT NOT NULL REFERENCES programs(id),
    reversal_entry_id  BIGINT NOT NULL UNIQUE REFERENCES ledger_entries(id),
    staff_id           TEXT REFERENCES staff_users(id),
    created_at         TIMESTAMP NOT NULL
);
INSERT INTO ledger_reversals_old (original_entry_id, program_id, reversal_entry_id, staff_id, created_at)
SELECT original_entry_id, program_id, reversal_entry_id, staff_id, created_at FROM ledger_reversals;
DROP TABLE ledger_reversals;
ALTER TABLE ledger_reversals_old RENAME TO ledger_reversals;
