use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::ledger_entries;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ledger_entries)]
pub struct Entry {
    pub id: i64,
    pub program_id: String,
    pub card_id: String,
    pub delta: i64,
    pub kind: String,
    pub purchase_id: Option<String>,
    pub staff_id: Option<String>,
    pub reason: Option<String>,
    pub balance_after: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ledger_entries, treat_none_as_default_value = false)]
pub struct NewEntry<'a> {
    pub program_id: &'a str,
    pub card_id: &'a str,
    pub delta: i64,
    pub kind: &'a str,
    pub purchase_id: Option<&'a str>,
    pub staff_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub balance_after: i64,
    pub created_at: NaiveDateTime,
}

pub fn append(conn: &mut DbConn, entry: &NewEntry<'_>) -> QueryResult<Entry> {
    diesel::insert_into(ledger_entries::table).values(entry).get_result::<Entry>(conn)
}

/// [`append`] for many entries, [`super::ROWS_PER_INSERT`] per INSERT; the entries written,
/// in no particular order.
pub fn append_many(conn: &mut DbConn, entries: &[NewEntry<'_>]) -> QueryResult<Vec<Entry>> {
    if let [entry] = entries {
        // One row (every till's posting): the single-row INSERT, a statement the connection
        // keeps prepared; a multi-row one is planned afresh each time.
        return Ok(vec![append(conn, entry)?]);
    }
    let mut written = Vec::with_capacity(entries.len());
    for rows in entries.chunks(super::ROWS_PER_INSERT) {
        written.extend(match conn {
            DbConn::Pg(c) => diesel::insert_into(ledger_entries::table).values(rows).get_results::<Entry>(c)?,
            DbConn::Sqlite(c) => diesel::insert_into(ledger_entries::table).values(rows).get_results::<Entry>(c)?,
        });
    }
    Ok(written)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: i64) -> QueryResult<Option<Entry>> {
    ledger_entries::table
        .filter(ledger_entries::program_id.eq(program_id))
        .filter(ledger_entries::id.eq(id))
        .select(Entry::as_select())
        .first(conn)
        .optional()
}

/// Newest first; `before` is the id of the last entry of the previous page.
pub fn page(
    conn: &mut DbConn,
    program_id: &str,
    card_id: &str,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    ledger_entries::table
        .filter(ledger_entries::program_id.eq(program_id))
        .filter(ledger_entries::card_id.eq(card_id))
        .filter(ledger_entries::id.lt(before.unwrap_or(i64::MAX)))
        .order(ledger_entries::id.desc())
        .limit(limit)
        .select(Entry::as_select())
        .load(conn)
}

/// Cards whose cached balance differs from the sum of their ledger: must always be empty.
pub fn mismatched_balances(conn: &mut DbConn) -> QueryResult<Vec<(String, i64, i64)>> {
    let sums: Vec<(String, Option<i64>)> = ledger_entries::table
        .group_by(ledger_entries::card_id)
        // SUM(BIGINT) is NUMERIC on PostgreSQL: cast back so both backends give an i64.
        .select((
            ledger_entries::card_id,
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>("CAST(SUM(delta) AS BIGINT)"),
        ))
        .load::<(String, Option<i64>)>(conn)?;
    super::cards::mismatches(conn, sums, |balance| balance)
}
