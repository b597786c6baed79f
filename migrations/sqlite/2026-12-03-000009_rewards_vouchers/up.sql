-- Rewards and vouchers: points become vouchers, from a catalogue, at a threshold or at a
-- programme's season start.

-- The catalogue. A reward is a template: what it costs and the voucher it gives. Each voucher
-- copies the effect, so that editing a reward never changes vouchers already held.
CREATE TABLE rewards (
    id                  TEXT PRIMARY KEY NOT NULL,
    program_id          TEXT NOT NULL REFERENCES programs(id),
    name                TEXT NOT NULL,
    name_fr             TEXT,
    cost_points         BIGINT NOT NULL CHECK (cost_points > 0),
    voucher_kind        TEXT NOT NULL CHECK (voucher_kind IN ('amount_off_cents', 'percent_off', 'item')),
    -- cents or percent; NULL for an item
    voucher_value       BIGINT CHECK (voucher_value > 0),
    voucher_item        TEXT,
    validity_days       BIGINT NOT NULL CHECK (validity_days > 0),
    min_purchase_cents  BIGINT NOT NULL CHECK (min_purchase_cents >= 0),
    -- what is left to claim, taken by one conditional UPDATE; NULL = no limit
    stock               BIGINT CHECK (stock >= 0),
    active              BOOLEAN NOT NULL,
    archived_at         TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX rewards_program ON rewards (program_id, created_at);

-- How points convert on their own: off (no row), at a threshold, or by season batches.
CREATE TABLE conversion_settings (
    program_id             TEXT PRIMARY KEY NOT NULL REFERENCES programs(id),
    mode                   TEXT NOT NULL CHECK (mode IN ('off', 'threshold', 'season')),
    threshold_points       BIGINT NOT NULL CHECK (threshold_points > 0),
    block_points           BIGINT NOT NULL CHECK (block_points > 0),
    value_cents_per_block  BIGINT NOT NULL CHECK (value_cents_per_block > 0),
    validity_days          BIGINT NOT NULL CHECK (validity_days > 0),
    updated_at             TIMESTAMP NOT NULL
);

-- A season batch: scheduled, run in chunks by an outbox job, with its progress and report.
CREATE TABLE conversions (
    id                     TEXT PRIMARY KEY NOT NULL,
    program_id             TEXT NOT NULL REFERENCES programs(id),
    run_at                 TIMESTAMP NOT NULL,
    threshold_points       BIGINT NOT NULL CHECK (threshold_points > 0),
    block_points           BIGINT NOT NULL CHECK (block_points > 0),
    value_cents_per_block  BIGINT NOT NULL CHECK (value_cents_per_block > 0),
    validity_days          BIGINT NOT NULL CHECK (validity_days > 0),
    dry_run                BOOLEAN NOT NULL,
    state                  TEXT NOT NULL CHECK (state IN ('scheduled', 'running', 'done', 'cancelled')),
    cards_total            BIGINT NOT NULL,
    cards_done             BIGINT NOT NULL,
    cards_converted        BIGINT NOT NULL,
    vouchers_issued        BIGINT NOT NULL,
    points_converted       BIGINT NOT NULL,
    value_cents            BIGINT NOT NULL,
    -- the last card id a chunk went through: where a resumed run goes on
    cursor                 TEXT,
    staff_id               TEXT REFERENCES staff_users(id),
    created_at             TIMESTAMP NOT NULL,
    started_at             TIMESTAMP,
    finished_at            TIMESTAMP
);
CREATE INDEX conversions_program ON conversions (program_id, created_at);

-- One row per card a conversion converted: the primary key is what makes a crash, a retry or a
-- second node unable to convert a card twice.
CREATE TABLE conversion_cards (
    conversion_id    TEXT NOT NULL REFERENCES conversions(id),
    card_id          TEXT NOT NULL REFERENCES cards(id),
    program_id       TEXT NOT NULL REFERENCES programs(id),
    points           BIGINT NOT NULL CHECK (points > 0),
    vouchers         BIGINT NOT NULL CHECK (vouchers > 0),
    ledger_entry_id  BIGINT NOT NULL REFERENCES ledger_entries(id),
    created_at       TIMESTAMP NOT NULL,
    PRIMARY KEY (conversion_id, card_id)
);

CREATE TABLE vouchers (
    id                  TEXT PRIMARY KEY NOT NULL,
    program_id          TEXT NOT NULL REFERENCES programs(id),
    card_id             TEXT NOT NULL REFERENCES cards(id),
    code                TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('amount_off_cents', 'percent_off', 'item')),
    value               BIGINT CHECK (value > 0),
    item                TEXT,
    min_purchase_cents  BIGINT NOT NULL CHECK (min_purchase_cents >= 0),
    state               TEXT NOT NULL CHECK (state IN ('active', 'used', 'expired', 'cancelled')),
    origin              TEXT NOT NULL CHECK (origin IN ('reward', 'conversion', 'tier_entry', 'manual')),
    reward_id           TEXT REFERENCES rewards(id),
    conversion_id       TEXT REFERENCES conversions(id),
    -- the ledger entry that paid for it (a reward claim or a conversion)
    ledger_entry_id     BIGINT REFERENCES ledger_entries(id),
    reason              TEXT,
    staff_id            TEXT REFERENCES staff_users(id),
    -- the end of its last valid day in the programme's time zone, in UTC
    expires_at          TIMESTAMP NOT NULL,
    -- where it was used, and what it took off
    purchase_id         TEXT REFERENCES purchases(id),
    discount_cents      BIGINT,
    used_at             TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX vouchers_code ON vouchers (program_id, code);
CREATE INDEX vouchers_card ON vouchers (card_id, state, expires_at);
CREATE INDEX vouchers_purchase ON vouchers (purchase_id);
CREATE INDEX vouchers_ledger_entry ON vouchers (ledger_entry_id);
CREATE INDEX vouchers_due ON vouchers (state, expires_at);
