-- A message to a saved segment, sent by a job over the segment's members as they were when it
-- started (the snapshot in campaign_members), each member handled once.
CREATE TABLE campaigns (
    id               TEXT NOT NULL PRIMARY KEY,
    program_id       TEXT NOT NULL REFERENCES programs(id),
    name             TEXT NOT NULL,
    -- no foreign key: a sent campaign keeps its report when its segment is deleted
    segment_id       TEXT NOT NULL,
    segment_name     TEXT NOT NULL,
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    title_fr         TEXT,
    body_fr          TEXT,
    -- "wallet", "email" or "wallet,email"
    channels         TEXT NOT NULL,
    -- JSON (`domain::campaign::Offer`), NULL without one
    offer            TEXT,
    holdout_percent  INTEGER NOT NULL,
    -- draft | scheduled | sending | sent | cancelled
    state            TEXT NOT NULL,
    send_at          TIMESTAMP,
    started_at       TIMESTAMP,
    finished_at      TIMESTAMP,
    -- the segment's rule as the snapshot read it
    rule             TEXT,
    created_by       TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);
CREATE INDEX campaigns_program ON campaigns (program_id, created_at);

CREATE TABLE campaign_members (
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id),
    card_id      TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    -- left out on purpose, to compare with: never messaged
    holdout      BOOLEAN NOT NULL,
    -- pending | done | skipped | held_out
    state        TEXT NOT NULL,
    skip_reason  TEXT,
    -- the pass was changed for Apple devices registered to it
    apple        BOOLEAN NOT NULL,
    -- NULL (no Google pass) | queued | notify | text
    google       TEXT,
    -- NULL (not asked) | queued | no_consent | no_address
    email        TEXT,
    promo_code   TEXT,
    voucher_id   TEXT,
    done_at      TIMESTAMP,
    PRIMARY KEY (campaign_id, card_id)
);
CREATE INDEX campaign_members_state ON campaign_members (campaign_id, state, card_id);
CREATE INDEX campaign_members_card ON campaign_members (card_id, done_at);

-- A private sale's pool code, given to one member by a campaign.
ALTER TABLE promo_codes ADD COLUMN assigned_card_id TEXT;
CREATE INDEX promo_codes_unassigned ON promo_codes (campaign_id, assigned_card_id, id);
