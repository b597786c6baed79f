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

/// Records reminders, skipping those already made (card, day): the ones that are new. The
/// caller holds the cards' row locks, so no other run records the same ones meanwhile.
pub fn remember(conn: &mut DbConn, reminders: &[Reminder<'_>]) -> QueryResult<Vec<(String, NaiveDate)>> {
    use std::collections::HashSet;
    let key = (expiry_reminders::card_id, expiry_reminders::ends_on);
    let mut made: Vec<(String, NaiveDate)> = Vec::with_capacity(reminders.len());
    match conn {
        // One statement per batch. Not a lookup first: without statistics, PostgreSQL reads
        // `card_id = ANY(500 ids)` by scanning the whole table, 65 ms a chunk at 10,000 rows.
        DbConn::Pg(c) => {
            for rows in reminders.chunks(super::ROWS_PER_INSERT) {
                made.extend(
                    diesel::insert_into(expiry_reminders::table)
                        .values(rows)
                        .on_conflict_do_nothing()
                        .returning(key)
                        .get_results::<(String, NaiveDate)>(c)?,
                );
            }
        }
        // Diesel has no batch insert-or-ignore on SQLite, whose planner takes the key here.
        DbConn::Sqlite(c) => {
            let mut there: HashSet<(String, NaiveDate)> = HashSet::new();
            let ids: Vec<&str> = reminders.iter().map(|r| r.card_id).collect();
            for ids in ids.chunks(super::IDS_PER_STATEMENT) {
                there.extend(
                    expiry_reminders::table.filter(expiry_reminders::card_id.eq_any(ids)).select(key).load::<(
                        String,
                        NaiveDate,
                    )>(
                        c
                    )?,
                );
            }
            let new: Vec<Reminder<'_>> =
                reminders.iter().filter(|r| !there.contains(&(r.card_id.to_owned(), r.ends_on))).cloned().collect();
            for rows in new.chunks(super::ROWS_PER_INSERT) {
                diesel::insert_into(expiry_reminders::table).values(rows).execute(c)?;
            }
            made.extend(new.into_iter().map(|r| (r.card_id.to_owned(), r.ends_on)));
        }
    }
    Ok(made)
}
