use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::ledger_reversals;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ledger_reversals)]
pub struct NewReversal<'a> {
    pub original_entry_id: i64,
    pub program_id: &'a str,
    pub reversal_entry_id: i64,
    pub staff_id: Option<&'a str>,
    pub created_at: NaiveDateTime,
}

/// False when the original was already reversed: the primary key decides, so two tills that
/// undo the same entry at once can't both succeed.
pub fn record(conn: &mut DbConn, reversal: &NewReversal<'_>) -> QueryResult<bool> {
    insert_or_ignore!(conn, ledger_reversals::table, reversal).map(|n| n == 1)
}

pub fn exists(conn: &mut DbConn, program_id: &str, original_entry_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        ledger_reversals::table
            .filter(ledger_reversals::program_id.eq(program_id))
            .filter(ledger_reversals::original_entry_id.eq(original_entry_id)),
    ))
    .get_result(conn)
}
