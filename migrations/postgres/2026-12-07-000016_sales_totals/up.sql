-- A shop's daily sales as its till counts them (card or not: the Z report), so the enrolment
-- rate and the average basket of all sales can be computed. One row per shop and local day: a
-- second report for the day replaces the first.
CREATE TABLE sales_totals (
    location_id    TEXT NOT NULL REFERENCES locations(id),
    day            DATE NOT NULL,
    program_id     TEXT NOT NULL REFERENCES programs(id),
    transactions   BIGINT NOT NULL CHECK (transactions >= 0),
    revenue_cents  BIGINT NOT NULL CHECK (revenue_cents >= 0),
    -- who sent the latest report
    staff_id       TEXT REFERENCES staff_users(id),
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (location_id, day)
);
CREATE INDEX sales_totals_program_day ON sales_totals (program_id, day);
