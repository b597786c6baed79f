use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::idempotency_keys;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct Record {
    pub program_id: String,
    pub key: String,
    pub fingerprint: String,
    pub status: i32,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// Claims the key: true when this transaction inserted it. A concurrent claim of the same key
/// waits on the primary key until the first transaction ends (PostgreSQL), or queues behind it
/// on the write lock (SQLite), and then sees its row.
pub fn claim(conn: &mut DbConn, record: &Record) -> QueryResult<bool> {
    let inserted = insert_or_ignore!(conn, idempotency_keys::table, record)?;
    Ok(inserted == 1)
}

pub fn find(conn: &mut DbConn, program_id: &str, key: &str) -> QueryResult<Record> {
    idempotency_keys::table.find((program_id, key)).select(Record::as_select()).first(conn)
}

pub fn find_optional(conn: &mut DbConn, program_id: &str, key: &str) -> QueryResult<Option<Record>> {
    idempotency_keys::table.find((program_id, key)).select(Record::as_select()).first(conn).optional()
}

pub fn store_response(conn: &mut DbConn, program_id: &str, key: &str, status: i32, body: &str) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((program_id, key)))
        .set((idempotency_keys::status.eq(status), idempotency_keys::body.eq(body)))
        .execute(conn)
        .map(drop)
}

pub fn purge_older_than(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff))).execute(conn)
}
