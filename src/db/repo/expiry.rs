use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{expiry_reminders, expiry_rules};

/// A programme's expiry rule as stored, with where its daily run is.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = expiry_rules)]
pub struct RuleRow {
    pub program_id: String,
    /// JSON of `domain::expiry::ExpiryRule`.
    pub rule: String,
    pub since: NaiveDate,
    pub updated_at: NaiveDateTime,
    pub run_day: Option<NaiveDate>,
    pub run_cursor: Option<String>,
}

pub fn rule(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<RuleRow>> {
    expiry_rules::table.find(program_id).select(RuleRow::as_select()).first(conn).optional()
}

/// Stores the rule; the daily run starts over with it.
pub fn put_rule(
    conn: &mut DbConn,
    program_id: &str,
    rule: &str,
    since: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let values = || {
        (
            expiry_rules::rule.eq(rule),
            expiry_rules::since.eq(since),
            expiry_rules::updated_at.eq(now),
            expiry_rules::run_day.eq(None::<NaiveDate>),
            expiry_rules::run_cursor.eq(None::<String>),
        )
    };
    if diesel::update(expiry_rules::table.find(program_id)).set(values()).execute(conn)? == 0 {
        diesel::insert_into(expiry_rules::table)
            .values((expiry_rules::program_id.eq(program_id), values()))
            .execute(conn)?;
    }
    Ok(())
}

/// Where the run of `day` is: `cursor` is the last card done, None once every card is.
pub fn set_run(conn: &mut DbConn, program_id: &str, day: NaiveDate, cursor: Option<&str>) -> QueryResult<()> {
    diesel::update(expiry_rules::table.find(program_id))
        .set((expiry_rules::run_day.eq(day), expiry_rules::run_cursor.eq(cursor)))
        .execute(conn)
        .map(drop)
}

/// Programmes with a rule stored (on or off).
pub fn programs_with_rules(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    expiry_rules::table.select(expiry_rules::program_id).order(expiry_rules::program_id).load(conn)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = expiry_reminders)]
pub struct Reminder<'a> {
    pub card_id: &'a str,
    pub ends_on: NaiveDate,
    pub program_id: &'a str,
    pub points: i64,
    pub created_at: NaiveDateTime,
}

/// Records a reminder; false when this card was already reminded of this day.
pub fn remember(conn: &mut DbConn, reminder: &Reminder<'_>) -> QueryResult<bool> {
    Ok(insert_or_ignore!(conn, expiry_reminders::table, reminder)? == 1)
}
