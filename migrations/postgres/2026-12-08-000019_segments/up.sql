-- A merchant's saved segment: a named rule over members (tier, RFM segment, last purchase,
-- spend, shop, consent, enrolment), evaluated when previewed or when a campaign is sent.
CREATE TABLE segments (
    id          TEXT NOT NULL PRIMARY KEY,
    program_id  TEXT NOT NULL REFERENCES programs(id),
    name        TEXT NOT NULL,
    -- the rule as JSON (`domain::segment::SegmentRule`)
    rule        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX segments_name ON segments (program_id, name);
