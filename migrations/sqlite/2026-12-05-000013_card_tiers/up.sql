-- Where each card stands in its programme's tiers. No row: the entry tier since the card began.
CREATE TABLE card_tiers (
    card_id      TEXT PRIMARY KEY NOT NULL REFERENCES cards(id),
    program_id   TEXT NOT NULL REFERENCES programs(id),
    tier_key     TEXT NOT NULL,
    -- when the card entered this tier
    since        TIMESTAMP NOT NULL,
    -- its last upgrade: keep_months counts from here before a downgrade
    upgraded_at  TIMESTAMP NOT NULL,
    -- the daily check's last look at it: once per card per local day
    checked_at   TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX card_tiers_program ON card_tiers (program_id, tier_key, upgraded_at);

-- Every change of tier, with why.
CREATE TABLE tier_history (
    id          TEXT PRIMARY KEY NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    card_id     TEXT NOT NULL REFERENCES cards(id),
    from_key    TEXT,
    to_key      TEXT NOT NULL,
    reason      TEXT NOT NULL CHECK (reason IN ('purchase', 'return', 'daily', 'rules')),
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX tier_history_card ON tier_history (card_id, created_at);

-- A tier's entry reward, once per card per tier per window: the key refuses a second voucher
-- for a card that leaves the tier and comes back within the same window.
CREATE TABLE tier_rewards (
    card_id     TEXT NOT NULL REFERENCES cards(id),
    tier_key    TEXT NOT NULL,
    -- the window the upgrade fell in: months since year 0, divided by the tier's window
    period      BIGINT NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    voucher_id  TEXT NOT NULL REFERENCES vouchers(id),
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (card_id, tier_key, period)
);

-- The re-evaluation of every card after the rules changed: where it is, for
-- `GET /program/tiers/reevaluation`.
CREATE TABLE tier_reevaluations (
    program_id   TEXT PRIMARY KEY NOT NULL REFERENCES programs(id),
    state        TEXT NOT NULL CHECK (state IN ('running', 'done')),
    cards_total  BIGINT NOT NULL,
    cards_done   BIGINT NOT NULL,
    cards_moved  BIGINT NOT NULL,
    cursor       TEXT,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP
);
