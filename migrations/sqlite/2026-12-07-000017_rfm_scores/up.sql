-- The RFM scores of the last run, one row per scored card (members who consented to
-- profiling and bought in the window). A run replaces all of its programme's rows at once.
CREATE TABLE rfm_scores (
    card_id          TEXT NOT NULL PRIMARY KEY REFERENCES cards(id),
    program_id       TEXT NOT NULL REFERENCES programs(id),
    computed_on      DATE NOT NULL,
    days_since_last  BIGINT NOT NULL CHECK (days_since_last >= 0),
    purchases        BIGINT NOT NULL CHECK (purchases >= 1),
    net_spend_cents  BIGINT NOT NULL CHECK (net_spend_cents >= 0),
    r                INTEGER NOT NULL CHECK (r BETWEEN 1 AND 5),
    f                INTEGER NOT NULL CHECK (f BETWEEN 1 AND 5),
    m                INTEGER NOT NULL CHECK (m BETWEEN 1 AND 5),
    -- the mean of f and m, halves rounded up: the grid's column
    fm               INTEGER NOT NULL CHECK (fm BETWEEN 1 AND 5),
    segment          TEXT NOT NULL,
    computed_at      TIMESTAMP NOT NULL
);
CREATE INDEX rfm_scores_segment ON rfm_scores (program_id, segment, card_id);
CREATE INDEX rfm_scores_cell ON rfm_scores (program_id, r, fm);

-- The state of a programme's scoring: the last run's figures, or the one asked for.
CREATE TABLE rfm_runs (
    program_id       TEXT NOT NULL PRIMARY KEY REFERENCES programs(id),
    state            TEXT NOT NULL,
    window_months    INTEGER NOT NULL CHECK (window_months BETWEEN 1 AND 36),
    computed_on      DATE,
    members_total    BIGINT NOT NULL,
    members_buying   BIGINT NOT NULL,
    members_scored   BIGINT NOT NULL,
    revenue_cents    BIGINT NOT NULL,
    requested_at     TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP
);
