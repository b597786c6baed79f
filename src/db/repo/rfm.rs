//! RFM: the measures read from purchases, the stored scores of the last run, and the run's state.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{cards, customer_consents, customers, programs, purchases, rfm_runs, rfm_scores};
use crate::domain::rfm::Segment;
use crate::domain::status::RfmState;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = rfm_scores)]
pub struct Score {
    pub card_id: String,
    pub program_id: String,
    pub computed_on: NaiveDate,
    pub days_since_last: i64,
    pub purchases: i64,
    pub net_spend_cents: i64,
    pub r: i32,
    pub f: i32,
    pub m: i32,
    pub fm: i32,
    pub segment: Segment,
    pub computed_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = rfm_runs, treat_none_as_null = true)]
pub struct Run {
    pub program_id: String,
    pub state: RfmState,
    pub window_months: i32,
    pub computed_on: Option<NaiveDate>,
    pub members_total: i64,
    pub members_buying: i64,
    pub members_scored: i64,
    /// Net spend in the window of every member who bought, scored or not.
    pub revenue_cents: i64,
    pub requested_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

/// One card's purchases in the window: how many, the net spend, the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bought {
    pub card_id: String,
    pub customer_id: String,
    pub purchases: i64,
    pub net_spend_cents: i64,
    pub last_at: NaiveDateTime,
}

/// What a sale leaves: its amount less what was returned and the discounts given, never below 0.
pub const NET: &str = "CAST(COALESCE(SUM(CASE WHEN purchases.amount_cents - purchases.returned_cents \
     - purchases.discount_cents > 0 THEN purchases.amount_cents - purchases.returned_cents \
     - purchases.discount_cents ELSE 0 END), 0) AS BIGINT)";

/// Every card of a customer not erased that bought in `from..to` (a sale wholly returned is no
/// purchase), in one statement.
pub fn bought(conn: &mut DbConn, program_id: &str, from: NaiveDateTime, to: NaiveDateTime) -> QueryResult<Vec<Bought>> {
    let rows: Vec<(String, String, i64, i64, Option<NaiveDateTime>)> = purchases::table
        .inner_join(cards::table.on(cards::id.eq(purchases::card_id)))
        .inner_join(customers::table.on(customers::id.eq(cards::customer_id)))
        .filter(customers::erased_at.is_null())
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::occurred_at.ge(from))
        .filter(purchases::occurred_at.lt(to))
        .filter(purchases::returned_cents.lt(purchases::amount_cents))
        .group_by((cards::id, cards::customer_id))
        .select((
            cards::id,
            cards::customer_id,
            count_star(),
            diesel::dsl::sql::<diesel::sql_types::BigInt>(NET),
            max(purchases::occurred_at),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(card_id, customer_id, purchases, net_spend_cents, last_at)| {
            Some(Bought { card_id, customer_id, purchases, net_spend_cents, last_at: last_at? })
        })
        .collect())
}

/// The customers of the programme whose latest decision for `purpose` is a grant (and who are
/// not erased), in one read of the consent log.
pub fn granted(conn: &mut DbConn, program_id: &str, purpose: &str) -> QueryResult<std::collections::HashSet<String>> {
    let decisions: Vec<(String, bool)> = customer_consents::table
        .inner_join(customers::table.on(customers::id.eq(customer_consents::customer_id)))
        .filter(customer_consents::program_id.eq(program_id))
        .filter(customer_consents::purpose.eq(purpose))
        .filter(customers::erased_at.is_null())
        .order((customer_consents::customer_id, customer_consents::id))
        .select((customer_consents::customer_id, customer_consents::granted))
        .load(conn)?;
    // In id order, the last decision of each customer overwrites the earlier ones.
    let mut latest = std::collections::HashMap::new();
    for (customer, granted) in decisions {
        latest.insert(customer, granted);
    }
    Ok(latest.into_iter().filter_map(|(customer, granted)| granted.then_some(customer)).collect())
}

pub fn members_total(conn: &mut DbConn, program_id: &str) -> QueryResult<i64> {
    customers::table
        .filter(customers::program_id.eq(program_id))
        .filter(customers::erased_at.is_null())
        .select(count_star())
        .first(conn)
}

/// Replaces the programme's scores with `scores` (the caller holds the run's row).
pub fn replace_scores(conn: &mut DbConn, program_id: &str, scores: &[Score]) -> QueryResult<()> {
    diesel::delete(rfm_scores::table.filter(rfm_scores::program_id.eq(program_id))).execute(conn)?;
    for rows in scores.chunks(super::ROWS_PER_INSERT) {
        insert_rows!(conn, rfm_scores::table, rows)?;
    }
    Ok(())
}

/// Deletes the card's score (profiling withdrawn, customer erased); whether there was one.
pub fn forget(conn: &mut DbConn, card_id: &str) -> QueryResult<bool> {
    Ok(diesel::delete(rfm_scores::table.find(card_id)).execute(conn)? > 0)
}

pub fn score(conn: &mut DbConn, card_id: &str) -> QueryResult<Option<Score>> {
    rfm_scores::table.find(card_id).select(Score::as_select()).first(conn).optional()
}

pub fn run(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<Run>> {
    rfm_runs::table.find(program_id).select(Run::as_select()).first(conn).optional()
}

/// Writes the run's row and holds it until the caller's transaction ends: runs of one
/// programme (and a withdrawal, which updates the count) take their turn.
pub fn put_run(conn: &mut DbConn, run: &Run) -> QueryResult<()> {
    let updated = diesel::update(rfm_runs::table.find(&run.program_id)).set(run).execute(conn)?;
    if updated == 0 {
        insert_or_ignore!(conn, rfm_runs::table, run)?;
        diesel::update(rfm_runs::table.find(&run.program_id)).set(run).execute(conn)?;
    }
    Ok(())
}

/// Takes the run's row (if any) until the caller's transaction ends: waits for a run under way.
pub fn hold_run(conn: &mut DbConn, program_id: &str) -> QueryResult<()> {
    diesel::update(rfm_runs::table.find(program_id))
        .set(rfm_runs::program_id.eq(rfm_runs::program_id))
        .execute(conn)
        .map(drop)
}

/// One less member scored (a withdrawal).
pub fn count_forgotten(conn: &mut DbConn, program_id: &str) -> QueryResult<()> {
    diesel::update(rfm_runs::table.find(program_id))
        .set(rfm_runs::members_scored.eq(rfm_runs::members_scored - 1))
        .execute(conn)
        .map(drop)
}

/// Every programme whose scores were not computed on its local `today` (asked for by the caller
/// per programme): all of them, with their last computation day.
pub fn programs(conn: &mut DbConn) -> QueryResult<Vec<(String, Option<NaiveDate>)>> {
    programs::table
        .left_join(rfm_runs::table.on(rfm_runs::program_id.eq(programs::id)))
        .select((programs::id, rfm_runs::computed_on.nullable()))
        .order(programs::id)
        .load(conn)
}

/// One cell of the R×FM grid: members and their net spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub r: i32,
    pub fm: i32,
    pub members: i64,
    pub revenue_cents: i64,
}

pub fn grid(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<Cell>> {
    let rows: Vec<(i32, i32, i64, i64)> = rfm_scores::table
        .filter(rfm_scores::program_id.eq(program_id))
        .group_by((rfm_scores::r, rfm_scores::fm))
        .select((
            rfm_scores::r,
            rfm_scores::fm,
            count_star(),
            diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(COALESCE(SUM(net_spend_cents), 0) AS BIGINT)"),
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(|(r, fm, members, revenue_cents)| Cell { r, fm, members, revenue_cents }).collect())
}

/// A scored member as the segment lists show them.
#[derive(Debug, Clone, Queryable)]
pub struct Member {
    pub score: Score,
    pub customer_id: String,
    pub first_name: String,
    pub email: String,
    pub card_number: String,
}

/// The members of a segment (or of the whole grid), biggest spenders first; `limit` from `offset`.
pub fn members(
    conn: &mut DbConn,
    program_id: &str,
    segment: Option<Segment>,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Member>> {
    let mut query = rfm_scores::table
        .inner_join(cards::table.on(cards::id.eq(rfm_scores::card_id)))
        .inner_join(customers::table.on(customers::id.eq(cards::customer_id)))
        .filter(rfm_scores::program_id.eq(program_id))
        .select((Score::as_select(), customers::id, customers::first_name, customers::email, cards::number))
        .order((rfm_scores::net_spend_cents.desc(), rfm_scores::card_id))
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if let Some(segment) = segment {
        query = query.filter(rfm_scores::segment.eq(segment));
    }
    query.load(conn)
}

pub fn count_members(conn: &mut DbConn, program_id: &str, segment: Option<Segment>) -> QueryResult<i64> {
    let mut query = rfm_scores::table.filter(rfm_scores::program_id.eq(program_id)).select(count_star()).into_boxed();
    if let Some(segment) = segment {
        query = query.filter(rfm_scores::segment.eq(segment));
    }
    query.first(conn)
}
