-- Portable types only (TEXT, BIGINT, BOOLEAN, TIMESTAMP as naive UTC): one schema.rs serves both backends.
CREATE TABLE programs (
    id              TEXT PRIMARY KEY NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    currency        TEXT NOT NULL,
    locale          TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    -- earning rule: floor(amount_cents * earn_points / earn_per_cents) once amount_cents >= earn_min_cents
    earn_points     BIGINT NOT NULL CHECK (earn_points >= 0),
    earn_per_cents  BIGINT NOT NULL CHECK (earn_per_cents > 0),
    earn_min_cents  BIGINT NOT NULL CHECK (earn_min_cents >= 0),
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE locations (
    id          TEXT PRIMARY KEY NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX locations_program ON locations (program_id);

CREATE TABLE staff_users (
    id             TEXT PRIMARY KEY NOT NULL,
    program_id     TEXT NOT NULL REFERENCES programs(id),
    email          TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'cashier')),
    location_id    TEXT REFERENCES locations(id),
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX staff_users_program ON staff_users (program_id);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    email       TEXT NOT NULL,
    first_name  TEXT NOT NULL,
    phone       TEXT,
    locale      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (program_id, email)
);

-- Append-only consent log: the current consent for a purpose is its newest row.
CREATE TABLE customer_consents (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id   TEXT NOT NULL REFERENCES programs(id),
    customer_id  TEXT NOT NULL REFERENCES customers(id),
    purpose      TEXT NOT NULL,
    granted      BOOLEAN NOT NULL,
    channel      TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX customer_consents_customer ON customer_consents (customer_id, purpose, id);

CREATE TABLE cards (
    id            TEXT PRIMARY KEY NOT NULL,
    program_id    TEXT NOT NULL REFERENCES programs(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    number        TEXT NOT NULL,
    barcode       TEXT NOT NULL UNIQUE,
    serial        TEXT NOT NULL UNIQUE,
    auth_token    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'blocked', 'closed')),
    balance       BIGINT NOT NULL,
    pass_version  BIGINT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    UNIQUE (program_id, number),
    UNIQUE (program_id, customer_id)
);

CREATE TABLE purchases (
    id              TEXT PRIMARY KEY NOT NULL,
    program_id      TEXT NOT NULL REFERENCES programs(id),
    card_id         TEXT NOT NULL REFERENCES cards(id),
    location_id     TEXT REFERENCES locations(id),
    staff_id        TEXT REFERENCES staff_users(id),
    amount_cents    BIGINT NOT NULL CHECK (amount_cents > 0),
    currency        TEXT NOT NULL,
    external_ref    TEXT,
    points_earned   BIGINT NOT NULL CHECK (points_earned >= 0),
    returned_cents  BIGINT NOT NULL CHECK (returned_cents >= 0 AND returned_cents <= amount_cents),
    created_at      TIMESTAMP NOT NULL,
    UNIQUE (program_id, external_ref)
);
CREATE INDEX purchases_card ON purchases (card_id);

CREATE TABLE ledger_entries (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id     TEXT NOT NULL REFERENCES programs(id),
    card_id        TEXT NOT NULL REFERENCES cards(id),
    delta          BIGINT NOT NULL CHECK (delta <> 0),
    kind           TEXT NOT NULL,
    purchase_id    TEXT REFERENCES purchases(id),
    staff_id       TEXT REFERENCES staff_users(id),
    reason         TEXT,
    balance_after  BIGINT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_card ON ledger_entries (card_id, id);

-- The ledger is append-only: the database refuses to rewrite history, whoever asks.
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'ledger_entries is append-only'; END $$;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE OR DELETE ON ledger_entries
FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();

CREATE TABLE idempotency_keys (
    program_id   TEXT NOT NULL REFERENCES programs(id),
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (program_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE outbox_jobs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id    TEXT REFERENCES programs(id),
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    dedupe_key    TEXT,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts      INTEGER NOT NULL,
    max_attempts  INTEGER NOT NULL,
    run_at        TIMESTAMP NOT NULL,
    lease_owner   TEXT,
    lease_until   TIMESTAMP,
    last_error    TEXT,
    created_at    TIMESTAMP NOT NULL,
    done_at       TIMESTAMP
);
-- At most one pending job per dedupe key: a burst of changes to one card coalesces into one job.
CREATE UNIQUE INDEX outbox_jobs_pending_dedupe ON outbox_jobs (dedupe_key) WHERE state = 'pending';
CREATE INDEX outbox_jobs_due ON outbox_jobs (state, run_at);

-- Secrets generated once per installation and shared by every node (e.g. the staff token key).
CREATE TABLE instance_secrets (
    name        TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
