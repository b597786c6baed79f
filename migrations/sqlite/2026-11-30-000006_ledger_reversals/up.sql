-- An undone operation: the original entry and the entry that cancelled it. The ledger itself
-- stays append-only; this link is what makes "undo" happen at most once per entry, by the
-- primary key, whatever the number of tills that tap it at the same moment.
CREATE TABLE ledger_reversals (
    original_entry_id  BIGINT PRIMARY KEY REFERENCES ledger_entries(id),
    program_id         TEXT NOT NULL REFERENCES programs(id),
    reversal_entry_id  BIGINT NOT NULL UNIQUE REFERENCES ledger_entries(id),
    staff_id           TEXT REFERENCES staff_users(id),
    created_at         TIMESTAMP NOT NULL
);
