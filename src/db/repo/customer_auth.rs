//! Magic login links and customer sessions.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{customer_logins, customer_sessions};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customer_logins, treat_none_as_default_value = false)]
pub struct Login {
    pub id: String,
    pub program_id: String,
    pub customer_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customer_sessions)]
pub struct Session {
    pub token_hash: String,
    pub program_id: String,
    pub customer_id: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_login(conn: &mut DbConn, login: &Login) -> QueryResult<()> {
    diesel::insert_into(customer_logins::table).values(login).execute(conn).map(drop)
}

/// Marks the link used if it is still unused and valid: one conditional UPDATE, so of two clicks
/// racing on two nodes exactly one gets the login.
/// Gives the (program, customer) of the link.
pub fn use_login(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<Option<(String, String)>> {
    diesel::update(
        customer_logins::table
            .filter(customer_logins::id.eq(id))
            .filter(customer_logins::used_at.is_null())
            .filter(customer_logins::expires_at.gt(now)),
    )
    .set(customer_logins::used_at.eq(now))
    .returning((customer_logins::program_id, customer_logins::customer_id))
    .get_result(conn)
    .optional()
}

pub fn find_login(conn: &mut DbConn, id: &str) -> QueryResult<Option<Login>> {
    customer_logins::table.find(id).select(Login::as_select()).first(conn).optional()
}

pub fn insert_session(conn: &mut DbConn, session: &Session) -> QueryResult<()> {
    diesel::insert_into(customer_sessions::table).values(session).execute(conn).map(drop)
}

pub fn find_session(conn: &mut DbConn, token_hash: &str, now: NaiveDateTime) -> QueryResult<Option<Session>> {
    customer_sessions::table
        .find(token_hash)
        .filter(customer_sessions::expires_at.gt(now))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

pub fn delete_session(conn: &mut DbConn, token_hash: &str) -> QueryResult<usize> {
    diesel::delete(customer_sessions::table.find(token_hash)).execute(conn)
}

/// Housekeeping: logins and sessions past their expiry are of no use to anyone.
pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    let logins = diesel::delete(customer_logins::table.filter(customer_logins::expires_at.lt(now))).execute(conn)?;
    let sessions =
        diesel::delete(customer_sessions::table.filter(customer_sessions::expires_at.lt(now))).execute(conn)?;
    Ok(logins + sessions)
}

/// Ends every session and login link of a customer (erasure).
pub fn forget_customer(conn: &mut DbConn, program_id: &str, customer_id: &str) -> QueryResult<usize> {
    let logins = diesel::delete(
        customer_logins::table
            .filter(customer_logins::program_id.eq(program_id))
            .filter(customer_logins::customer_id.eq(customer_id)),
    )
    .execute(conn)?;
    let sessions = diesel::delete(
        customer_sessions::table
            .filter(customer_sessions::program_id.eq(program_id))
            .filter(customer_sessions::customer_id.eq(customer_id)),
    )
    .execute(conn)?;
    Ok(logins + sessions)
}
