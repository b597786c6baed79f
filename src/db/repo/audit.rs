//! The audit log: rows are only ever inserted (the database refuses an UPDATE or DELETE).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{audit_log, staff_users};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewEntry<'a> {
    pub program_id: &'a str,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
    pub changes: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable)]
pub struct Entry {
    pub id: i64,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub changes: String,
    pub created_at: NaiveDateTime,
}

pub fn append(conn: &mut DbConn, entry: &NewEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table).values(entry).execute(conn).map(drop)
}

/// The newest `limit` rows of the programme before row `before`, newest first, with the e-mail
/// of who did it.
pub fn page(conn: &mut DbConn, program_id: &str, before: Option<i64>, limit: i64) -> QueryResult<Vec<Entry>> {
    let mut query = audit_log::table
        .left_join(staff_users::table)
        .filter(audit_log::program_id.eq(program_id))
        .select((
            audit_log::id,
            audit_log::actor_id,
            staff_users::email.nullable(),
            audit_log::action,
            audit_log::target_type,
            audit_log::target_id,
            audit_log::changes,
            audit_log::created_at,
        ))
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    query.load(conn)
}
