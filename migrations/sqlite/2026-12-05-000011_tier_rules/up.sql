-- A programme's tiers: the ordered list a manager wrote (`PUT /program/tiers`), checked before it
-- is stored, as JSON. One row per programme; none means no tiers.
CREATE TABLE tier_rules (
    program_id  TEXT PRIMARY KEY NOT NULL REFERENCES programs(id),
    rules       TEXT NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
