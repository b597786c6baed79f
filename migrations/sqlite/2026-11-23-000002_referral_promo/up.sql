-- Referral (parrainage): per-program rules, a code per card, one referral per referee.
CREATE TABLE referral_settings (
    program_id          TEXT PRIMARY KEY NOT NULL REFERENCES programs(id),
    enabled             BOOLEAN NOT NULL,
    -- the referee's first purchase of at least this amount, within window_days of enrolment, qualifies
    min_purchase_cents  BIGINT NOT NULL CHECK (min_purchase_cents >= 0),
    window_days         BIGINT NOT NULL CHECK (window_days > 0),
    referrer_points     BIGINT NOT NULL CHECK (referrer_points >= 0),
    referee_points      BIGINT NOT NULL CHECK (referee_points >= 0),
    -- rewarded referrals per referrer, per calendar month (program time zone) and in total; NULL = no limit
    max_per_month       BIGINT CHECK (max_per_month > 0),
    max_total           BIGINT CHECK (max_total > 0),
    clawback            BOOLEAN NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

ALTER TABLE cards ADD COLUMN referral_code TEXT;
CREATE UNIQUE INDEX cards_referral_code ON cards (program_id, referral_code);

-- Fraud signals, only as salted hashes: canonical e-mail (plus-alias and Gmail dots removed),
-- phone digits, device id.
ALTER TABLE customers ADD COLUMN email_key TEXT;
ALTER TABLE customers ADD COLUMN phone_key TEXT;
ALTER TABLE customers ADD COLUMN device_key TEXT;
CREATE INDEX customers_email_key ON customers (program_id, email_key);

CREATE TABLE referrals (
    id                TEXT PRIMARY KEY NOT NULL,
    program_id        TEXT NOT NULL REFERENCES programs(id),
    referrer_card_id  TEXT NOT NULL REFERENCES cards(id),
    referee_card_id   TEXT NOT NULL UNIQUE REFERENCES cards(id),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'rewarded', 'rejected', 'expired', 'clawed_back')),
    reason            TEXT,
    purchase_id       TEXT REFERENCES purchases(id),
    expires_at        TIMESTAMP NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    decided_at        TIMESTAMP
);
CREATE INDEX referrals_referrer ON referrals (referrer_card_id, created_at);
CREATE INDEX referrals_program ON referrals (program_id, created_at);

-- Each reward is paid once: the primary key, not a check, is what guarantees it.
CREATE TABLE referral_rewards (
    referral_id       TEXT NOT NULL REFERENCES referrals(id),
    beneficiary       TEXT NOT NULL CHECK (beneficiary IN ('referrer', 'referee')),
    program_id        TEXT NOT NULL REFERENCES programs(id),
    card_id           TEXT NOT NULL REFERENCES cards(id),
    points            BIGINT NOT NULL,
    clawed_back       BOOLEAN NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    PRIMARY KEY (referral_id, beneficiary)
);

-- Rewarded referrals per referrer and period ('total' or 'YYYY-MM'), raised by one conditional UPDATE.
CREATE TABLE referral_counters (
    referrer_card_id  TEXT NOT NULL REFERENCES cards(id),
    period            TEXT NOT NULL,
    program_id        TEXT NOT NULL REFERENCES programs(id),
    rewarded          BIGINT NOT NULL CHECK (rewarded >= 0),
    PRIMARY KEY (referrer_card_id, period)
);

-- Promo codes.
CREATE TABLE promo_campaigns (
    id                  TEXT PRIMARY KEY NOT NULL,
    program_id          TEXT NOT NULL REFERENCES programs(id),
    name                TEXT NOT NULL,
    effect              TEXT NOT NULL CHECK (effect IN ('bonus_points', 'points_multiplier', 'percent_off', 'amount_off_cents')),
    effect_value        BIGINT NOT NULL CHECK (effect_value > 0),
    min_purchase_cents  BIGINT NOT NULL CHECK (min_purchase_cents >= 0),
    max_redemptions     BIGINT CHECK (max_redemptions > 0),
    max_per_customer    BIGINT CHECK (max_per_customer > 0),
    redemptions         BIGINT NOT NULL CHECK (redemptions >= 0 AND (max_redemptions IS NULL OR redemptions <= max_redemptions)),
    starts_at           TIMESTAMP,
    ends_at             TIMESTAMP,
    -- ISO weekdays (1 = Monday) and local hours [from, to) in the program's time zone; NULL = any
    days_of_week        TEXT,
    hour_from           INTEGER CHECK (hour_from BETWEEN 0 AND 23),
    hour_to             INTEGER CHECK (hour_to BETWEEN 1 AND 24),
    kind                TEXT NOT NULL CHECK (kind IN ('shared', 'pool')),
    pool_prefix         TEXT,
    pool_pattern        TEXT,
    pool_length         INTEGER,
    pool_size           BIGINT NOT NULL,
    pool_generated      BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('active', 'paused', 'ended')),
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX promo_campaigns_program ON promo_campaigns (program_id, created_at);

CREATE TABLE promo_codes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    program_id   TEXT NOT NULL REFERENCES programs(id),
    campaign_id  TEXT NOT NULL REFERENCES promo_campaigns(id),
    code         TEXT NOT NULL,
    -- pool codes are single-use; a shared code is limited by its campaign
    max_uses     BIGINT,
    uses         BIGINT NOT NULL CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)),
    UNIQUE (program_id, code)
);
CREATE INDEX promo_codes_campaign ON promo_codes (campaign_id, id);

CREATE TABLE promo_redemptions (
    id              TEXT PRIMARY KEY NOT NULL,
    program_id      TEXT NOT NULL REFERENCES programs(id),
    campaign_id     TEXT NOT NULL REFERENCES promo_campaigns(id),
    code_id         BIGINT NOT NULL REFERENCES promo_codes(id),
    card_id         TEXT NOT NULL REFERENCES cards(id),
    purchase_id     TEXT UNIQUE REFERENCES purchases(id),
    discount_cents  BIGINT NOT NULL CHECK (discount_cents >= 0),
    bonus_points    BIGINT NOT NULL CHECK (bonus_points >= 0),
    status          TEXT NOT NULL CHECK (status IN ('applied', 'rolled_back')),
    created_at      TIMESTAMP NOT NULL,
    rolled_back_at  TIMESTAMP
);
CREATE INDEX promo_redemptions_card ON promo_redemptions (card_id);

CREATE TABLE promo_customer_uses (
    campaign_id  TEXT NOT NULL REFERENCES promo_campaigns(id),
    card_id      TEXT NOT NULL REFERENCES cards(id),
    uses         BIGINT NOT NULL CHECK (uses >= 0),
    PRIMARY KEY (campaign_id, card_id)
);

-- What a purchase's promo took off the bill, and the extra points it gave (reversed with the rest on return).
ALTER TABLE purchases ADD COLUMN discount_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE purchases ADD COLUMN bonus_points BIGINT NOT NULL DEFAULT 0;

-- Failed code attempts per staff member or client address and window, against guessing.
CREATE TABLE rate_limits (
    key           TEXT NOT NULL,
    window_start  TIMESTAMP NOT NULL,
    hits          BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
