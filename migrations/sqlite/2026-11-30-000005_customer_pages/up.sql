-- A magic login link: the e-mail carries this id signed with the link key (never stored), and
-- used_at makes it single use through one conditional UPDATE.
CREATE TABLE customer_logins (
    id          TEXT PRIMARY KEY NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX customer_logins_customer ON customer_logins (program_id, customer_id);

-- A customer's browser session after a magic link: the cookie holds a random token, the
-- database its SHA-256 only.
CREATE TABLE customer_sessions (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX customer_sessions_customer ON customer_sessions (program_id, customer_id);

-- Set when the customer asked for erasure: their personal data is gone, the ledger stays whole.
ALTER TABLE customers ADD COLUMN erased_at TIMESTAMP;
