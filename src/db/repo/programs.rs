use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{locations, programs};
use crate::domain::earning::EarningRule;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = programs)]
pub struct Program {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub currency: String,
    pub locale: String,
    pub time_zone: String,
    pub earn_points: i64,
    pub earn_per_cents: i64,
    pub earn_min_cents: i64,
    pub created_at: NaiveDateTime,
    /// The pass design it chose; `None`: the node's default.
    pub pass_design: Option<String>,
}

impl Program {
    /// The time zone its calendar rules use; a name this build does not know reads as UTC (it
    /// was checked when written).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The programme's local day at `at` (UTC).
    pub fn local_day(&self, at: NaiveDateTime) -> chrono::NaiveDate {
        use chrono::TimeZone as _;
        self.tz().from_utc_datetime(&at).date_naive()
    }

    /// When the programme's local `day` starts, in UTC (the first hour that exists, on a day that
    /// skips midnight for summer time).
    pub fn day_start(&self, day: chrono::NaiveDate) -> NaiveDateTime {
        use chrono::TimeZone as _;
        let tz = self.tz();
        (0..3)
            .find_map(|h| tz.from_local_datetime(&day.and_hms_opt(h, 0, 0)?).earliest())
            .map_or_else(|| day.and_time(chrono::NaiveTime::MIN), |t| t.naive_utc())
    }

    pub fn earning_rule(&self) -> EarningRule {
        EarningRule { points: self.earn_points, per_cents: self.earn_per_cents, min_cents: self.earn_min_cents }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = locations)]
pub struct Location {
    pub id: String,
    pub program_id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, program: &Program) -> QueryResult<()> {
    diesel::insert_into(programs::table).values(program).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Program> {
    programs::table.find(id).select(Program::as_select()).first(conn)
}

pub fn find_by_slug(conn: &mut DbConn, slug: &str) -> QueryResult<Option<Program>> {
    programs::table.filter(programs::slug.eq(slug)).select(Program::as_select()).first(conn).optional()
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    programs::table.count().get_result(conn)
}

pub fn insert_location(conn: &mut DbConn, location: &Location) -> QueryResult<()> {
    diesel::insert_into(locations::table).values(location).execute(conn).map(drop)
}

pub fn find_location(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Location>> {
    locations::table
        .filter(locations::program_id.eq(program_id))
        .filter(locations::id.eq(id))
        .select(Location::as_select())
        .first(conn)
        .optional()
}

pub fn first_location(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<Location>> {
    locations::table
        .filter(locations::program_id.eq(program_id))
        .order(locations::created_at)
        .select(Location::as_select())
        .first(conn)
        .optional()
}

pub fn set_pass_design(conn: &mut DbConn, program_id: &str, design: Option<&str>) -> QueryResult<usize> {
    diesel::update(programs::table.find(program_id)).set(programs::pass_design.eq(design)).execute(conn)
}

/// The programs that chose `design`, or (`None`) that chose none and get the default.
pub fn using_design(conn: &mut DbConn, design: Option<&str>) -> QueryResult<Vec<String>> {
    let query = programs::table.select(programs::id).into_boxed();
    match design {
        Some(design) => query.filter(programs::pass_design.eq(design)).load(conn),
        None => query.filter(programs::pass_design.is_null()).load(conn),
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    First,
    Same,
    Changed,
}

/// Records the fingerprint of a design (or of "which design is the default"), telling whether it
/// changed since it was last recorded. One conditional UPDATE: when several nodes start with
/// the new files at once, exactly one of them sees `Changed`.
pub fn record_design(conn: &mut DbConn, name: &str, fingerprint: &str) -> QueryResult<Seen> {
    use crate::db::schema::pass_design_versions as v;
    let row = (v::name.eq(name), v::fingerprint.eq(fingerprint), v::updated_at.eq(super::now()));
    let inserted = insert_or_ignore!(conn, v::table, row)?;
    if inserted == 1 {
        return Ok(Seen::First);
    }
    let changed = diesel::update(v::table.find(name).filter(v::fingerprint.ne(fingerprint)))
        .set((v::fingerprint.eq(fingerprint), v::updated_at.eq(super::now())))
        .execute(conn)?;
    Ok(if changed == 1 { Seen::Changed } else { Seen::Same })
}
