use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{conversion_cards, conversion_settings, conversions};
use crate::domain::status::{ConversionMode, ConversionState};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = conversion_settings, treat_none_as_default_value = false)]
pub struct Settings {
    pub program_id: String,
    pub mode: ConversionMode,
    pub threshold_points: i64,
    pub block_points: i64,
    pub value_cents_per_block: i64,
    pub validity_days: i64,
    pub updated_at: NaiveDateTime,
}

pub fn settings(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<Settings>> {
    conversion_settings::table.find(program_id).select(Settings::as_select()).first(conn).optional()
}

pub fn put_settings(conn: &mut DbConn, s: &Settings) -> QueryResult<()> {
    let updated = diesel::update(conversion_settings::table.find(&s.program_id)).set(s).execute(conn)?;
    if updated == 0 {
        diesel::insert_into(conversion_settings::table).values(s).execute(conn)?;
    }
    Ok(())
}

/// A season batch: what it converts with, where it stands, and its report so far.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = conversions, treat_none_as_default_value = false)]
pub struct Conversion {
    pub id: String,
    pub program_id: String,
    pub run_at: NaiveDateTime,
    pub threshold_points: i64,
    pub block_points: i64,
    pub value_cents_per_block: i64,
    pub validity_days: i64,
    pub dry_run: bool,
    pub state: ConversionState,
    pub cards_total: i64,
    pub cards_done: i64,
    pub cards_converted: i64,
    pub vouchers_issued: i64,
    pub points_converted: i64,
    pub value_cents: i64,
    pub cursor: Option<String>,
    pub staff_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

/// What one chunk adds to the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub cards_done: i64,
    pub cards_converted: i64,
    pub vouchers_issued: i64,
    pub points_converted: i64,
    pub value_cents: i64,
}

impl Progress {
    pub fn add(&mut self, other: Progress) {
        self.cards_done += other.cards_done;
        self.cards_converted += other.cards_converted;
        self.vouchers_issued += other.vouchers_issued;
        self.points_converted += other.points_converted;
        self.value_cents += other.value_cents;
    }
}

pub fn insert(conn: &mut DbConn, c: &Conversion) -> QueryResult<()> {
    diesel::insert_into(conversions::table).values(c).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Conversion>> {
    conversions::table
        .filter(conversions::program_id.eq(program_id))
        .filter(conversions::id.eq(id))
        .select(Conversion::as_select())
        .first(conn)
        .optional()
}

/// The programme's conversions, newest first.
pub fn list(conn: &mut DbConn, program_id: &str, limit: i64) -> QueryResult<Vec<Conversion>> {
    conversions::table
        .filter(conversions::program_id.eq(program_id))
        .order((conversions::created_at.desc(), conversions::id.desc()))
        .limit(limit)
        .select(Conversion::as_select())
        .load(conn)
}

fn unfinished() -> [ConversionState; 2] {
    [ConversionState::Scheduled, ConversionState::Running]
}

/// Takes the conversion for one chunk: marks it running and returns it as it now stands,
/// holding its row lock to the end of the transaction, so that two workers running it at once go
/// chunk after chunk from the cursor. None once it is done or cancelled.
pub fn take_for_chunk(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Conversion>> {
    use conversions::dsl as c;
    let row = c::conversions.filter(c::program_id.eq(program_id)).filter(c::id.eq(id));
    let taken = diesel::update(row.filter(c::state.eq_any(unfinished())))
        .set(c::state.eq(ConversionState::Running))
        .execute(conn)?;
    if taken == 0 {
        return Ok(None);
    }
    row.select(Conversion::as_select()).first(conn).optional()
}

/// The first chunk's start: when, and how many cards the run is going over.
pub fn mark_started(conn: &mut DbConn, id: &str, cards_total: i64, now: NaiveDateTime) -> QueryResult<()> {
    use conversions::dsl as c;
    diesel::update(c::conversions.find(id))
        .set((c::started_at.eq(now), c::cards_total.eq(cards_total)))
        .execute(conn)
        .map(drop)
}

/// Adds a chunk's progress and moves the cursor past it; `finished` closes the report (the
/// total becomes what was gone through: cards enrolled during the run count too).
pub fn record_chunk(
    conn: &mut DbConn,
    id: &str,
    p: Progress,
    cursor: Option<&str>,
    finished: Option<NaiveDateTime>,
) -> QueryResult<()> {
    use conversions::dsl as c;
    let row = c::conversions.find(id);
    diesel::update(row)
        .set((
            c::cards_done.eq(c::cards_done + p.cards_done),
            c::cards_converted.eq(c::cards_converted + p.cards_converted),
            c::vouchers_issued.eq(c::vouchers_issued + p.vouchers_issued),
            c::points_converted.eq(c::points_converted + p.points_converted),
            c::value_cents.eq(c::value_cents + p.value_cents),
            c::cursor.eq(cursor),
        ))
        .execute(conn)?;
    if let Some(at) = finished {
        diesel::update(row)
            .set((c::state.eq(ConversionState::Done), c::finished_at.eq(at), c::cards_total.eq(c::cards_done)))
            .execute(conn)?;
    }
    Ok(())
}

/// Stops a conversion not yet finished; false when it was (done or cancelled already).
pub fn cancel(conn: &mut DbConn, program_id: &str, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    use conversions::dsl as c;
    let n = diesel::update(
        c::conversions.filter(c::program_id.eq(program_id)).filter(c::id.eq(id)).filter(c::state.eq_any(unfinished())),
    )
    .set((c::state.eq(ConversionState::Cancelled), c::finished_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// One card's row in the conversion: the primary key refuses a second conversion of the card by
/// the same batch (the chunk's transaction then rolls back, and its retry goes on from the cursor).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = conversion_cards)]
pub struct ConvertedCard<'a> {
    pub conversion_id: &'a str,
    pub card_id: &'a str,
    pub program_id: &'a str,
    pub points: i64,
    pub vouchers: i64,
    pub ledger_entry_id: i64,
    pub created_at: NaiveDateTime,
}

pub fn insert_cards(conn: &mut DbConn, rows: &[ConvertedCard<'_>]) -> QueryResult<()> {
    for rows in rows.chunks(super::ROWS_PER_INSERT) {
        match conn {
            DbConn::Pg(c) => diesel::insert_into(conversion_cards::table).values(rows).execute(c)?,
            DbConn::Sqlite(c) => diesel::insert_into(conversion_cards::table).values(rows).execute(c)?,
        };
    }
    Ok(())
}
