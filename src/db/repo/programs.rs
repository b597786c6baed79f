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
    pub earn_rounding: String,
    pub contact_text: Option<String>,
    pub contact_text_fr: Option<String>,
    pub terms_text: Option<String>,
    pub terms_text_fr: Option<String>,
    /// Whether anybody may enrol from the public pages (`/p/{slug}`, referral links).
    pub public_enrolment: bool,
    /// What one point is worth, in cents, when no conversion rule says it.
    pub point_value_cents: Option<i64>,
}

/// What the admin API edits of a programme (`PUT /program`): everything but its id, slug,
/// creation and pass design (which has its own route).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = programs, treat_none_as_null = true)]
pub struct Settings {
    pub name: String,
    pub currency: String,
    pub locale: String,
    pub time_zone: String,
    pub earn_points: i64,
    pub earn_per_cents: i64,
    pub earn_min_cents: i64,
    pub earn_rounding: String,
    pub contact_text: Option<String>,
    pub contact_text_fr: Option<String>,
    pub terms_text: Option<String>,
    pub terms_text_fr: Option<String>,
    pub public_enrolment: bool,
    pub point_value_cents: Option<i64>,
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
        EarningRule {
            points: self.earn_points,
            per_cents: self.earn_per_cents,
            min_cents: self.earn_min_cents,
            rounding: crate::domain::earning::Rounding::from_db(&self.earn_rounding),
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            name: self.name.clone(),
            currency: self.currency.clone(),
            locale: self.locale.clone(),
            time_zone: self.time_zone.clone(),
            earn_points: self.earn_points,
            earn_per_cents: self.earn_per_cents,
            earn_min_cents: self.earn_min_cents,
            earn_rounding: self.earn_rounding.clone(),
            contact_text: self.contact_text.clone(),
            contact_text_fr: self.contact_text_fr.clone(),
            terms_text: self.terms_text.clone(),
            terms_text_fr: self.terms_text_fr.clone(),
            public_enrolment: self.public_enrolment,
            point_value_cents: self.point_value_cents,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = locations, treat_none_as_default_value = false)]
pub struct Location {
    pub id: String,
    pub program_id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub address: Option<String>,
    /// An archived shop keeps its history; nothing new happens there.
    pub archived_at: Option<NaiveDateTime>,
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

pub fn update_settings(conn: &mut DbConn, id: &str, settings: &Settings) -> QueryResult<usize> {
    diesel::update(programs::table.find(id)).set(settings).execute(conn)
}

/// The programme's row, locked until the end of the transaction on PostgreSQL (SQLite has one
/// writer): two settings writes read and write one after the other.
pub fn lock(conn: &mut DbConn, id: &str) -> QueryResult<Program> {
    match conn {
        DbConn::Pg(c) => programs::table.find(id).select(Program::as_select()).for_update().first(c),
        DbConn::Sqlite(c) => programs::table.find(id).select(Program::as_select()).first(c),
    }
}

/// The programme's shops, the archived ones too when asked, by name.
pub fn locations(conn: &mut DbConn, program_id: &str, archived: bool) -> QueryResult<Vec<Location>> {
    let mut query = locations::table.filter(locations::program_id.eq(program_id)).into_boxed();
    if !archived {
        query = query.filter(locations::archived_at.is_null());
    }
    query.order((locations::name, locations::id)).select(Location::as_select()).load(conn)
}

pub fn update_location(
    conn: &mut DbConn,
    program_id: &str,
    id: &str,
    name: &str,
    address: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(locations::table.filter(locations::program_id.eq(program_id)).filter(locations::id.eq(id)))
        .set((locations::name.eq(name), locations::address.eq(address)))
        .execute(conn)
}

pub fn archive_location(conn: &mut DbConn, program_id: &str, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        locations::table
            .filter(locations::program_id.eq(program_id))
            .filter(locations::id.eq(id))
            .filter(locations::archived_at.is_null()),
    )
    .set(locations::archived_at.eq(at))
    .execute(conn)
}

pub fn first_location(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<Location>> {
    locations::table
        .filter(locations::program_id.eq(program_id))
        .filter(locations::archived_at.is_null())
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
