-- Points by lot: each credit is a lot, each debit takes from the oldest lots first (which are
-- also the soonest to expire: see `domain::expiry`). Only open lots are kept; one used up is
-- deleted. For every card, SUM(remaining) = MAX(balance, 0): a card in debt holds no lot.
CREATE TABLE point_lots (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    card_id     TEXT NOT NULL REFERENCES cards(id),
    -- the credit it came from; NULL for the opening lot of a balance older than lots
    entry_id    BIGINT REFERENCES ledger_entries(id),
    -- when its points were earned (a sale's occurred_at): validity counts from this day
    earned_at   TIMESTAMP NOT NULL,
    points      BIGINT NOT NULL CHECK (points > 0),
    remaining   BIGINT NOT NULL CHECK (remaining > 0 AND remaining <= points)
);
CREATE INDEX point_lots_card ON point_lots (card_id, earned_at, id);
-- the daily run walks a programme's cards in id order, looking at each one's oldest lot
CREATE INDEX point_lots_program ON point_lots (program_id, card_id, earned_at);

-- Balances from before lots: one lot each, earned now. No programme could have had expiry on.
INSERT INTO point_lots (program_id, card_id, entry_id, earned_at, points, remaining)
SELECT program_id, id, NULL, (now() AT TIME ZONE 'UTC'), balance, balance FROM cards WHERE balance > 0;

-- A programme's expiry rule (`PUT /program/expiry`), and its daily run. No row: off.
CREATE TABLE expiry_rules (
    program_id   TEXT PRIMARY KEY NOT NULL REFERENCES programs(id),
    -- the rule as JSON (`domain::expiry::ExpiryRule`)
    rule         TEXT NOT NULL,
    -- the local day this mode was turned on: no validity starts before it
    since        DATE NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    -- the local day the daily run last started, and the last card it finished (NULL: all)
    run_day      DATE,
    run_cursor   TEXT
);

-- One reminder per card per expiry day, whichever run sends it.
CREATE TABLE expiry_reminders (
    card_id     TEXT NOT NULL REFERENCES cards(id),
    ends_on     DATE NOT NULL,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    points      BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (card_id, ends_on)
);
