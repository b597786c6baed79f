DROP TABLE ledger_reversals;
