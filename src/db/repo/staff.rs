use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{staff_invitations, staff_users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff_users, treat_none_as_default_value = false)]
pub struct StaffUser {
    pub id: String,
    pub program_id: String,
    pub email: String,
    /// Empty until an invited user sets their password: no password verifies against it.
    pub password_hash: String,
    pub role: String,
    pub location_id: Option<String>,
    pub created_at: NaiveDateTime,
    /// Tokens carry the version they were issued at; bumping it refuses every older token.
    pub token_version: i64,
    pub disabled_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff_invitations, treat_none_as_default_value = false)]
pub struct Invitation {
    pub id: String,
    pub program_id: String,
    pub staff_id: String,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, staff: &StaffUser) -> QueryResult<()> {
    diesel::insert_into(staff_users::table).values(staff).execute(conn).map(drop)
}

pub fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<StaffUser>> {
    staff_users::table.filter(staff_users::email.eq(email)).select(StaffUser::as_select()).first(conn).optional()
}

/// The staff member `id` of `program_id` (the primary key, so one indexed read).
pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<StaffUser>> {
    staff_users::table
        .filter(staff_users::id.eq(id))
        .filter(staff_users::program_id.eq(program_id))
        .select(StaffUser::as_select())
        .first(conn)
        .optional()
}

/// The programme's staff, by e-mail.
pub fn list(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<StaffUser>> {
    staff_users::table
        .filter(staff_users::program_id.eq(program_id))
        .order(staff_users::email)
        .select(StaffUser::as_select())
        .load(conn)
}

/// The ids of the programme's enabled owners, locked until the end of the transaction on
/// PostgreSQL (SQLite has one writer): two owners disabling each other at once can't both see
/// the other as the one left.
pub fn lock_owners(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<String>> {
    let query = staff_users::table
        .filter(staff_users::program_id.eq(program_id))
        .filter(staff_users::role.eq("owner"))
        .filter(staff_users::disabled_at.is_null())
        .order(staff_users::id)
        .select(staff_users::id);
    match conn {
        DbConn::Pg(c) => query.for_update().load(c),
        DbConn::Sqlite(c) => query.load(c),
    }
}

pub fn set_role(
    conn: &mut DbConn,
    program_id: &str,
    id: &str,
    role: &str,
    location_id: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(staff_users::table.filter(staff_users::program_id.eq(program_id)).filter(staff_users::id.eq(id)))
        .set((staff_users::role.eq(role), staff_users::location_id.eq(location_id)))
        .execute(conn)
}

/// Disables (`Some`) or enables (`None`) the user; disabling also retires every token they hold.
pub fn set_disabled(
    conn: &mut DbConn,
    program_id: &str,
    id: &str,
    disabled_at: Option<NaiveDateTime>,
) -> QueryResult<usize> {
    let target = staff_users::table.filter(staff_users::program_id.eq(program_id)).filter(staff_users::id.eq(id));
    let bump = i64::from(disabled_at.is_some());
    diesel::update(target)
        .set((
            staff_users::disabled_at.eq(disabled_at),
            staff_users::token_version.eq(staff_users::token_version + bump),
        ))
        .execute(conn)
}

/// Sets the password and retires every token issued before; the new version.
pub fn set_password(conn: &mut DbConn, id: &str, hash: &str) -> QueryResult<i64> {
    diesel::update(staff_users::table.find(id))
        .set((staff_users::password_hash.eq(hash), staff_users::token_version.eq(staff_users::token_version + 1)))
        .returning(staff_users::token_version)
        .get_result(conn)
}

pub fn insert_invitation(conn: &mut DbConn, invitation: &Invitation) -> QueryResult<()> {
    diesel::insert_into(staff_invitations::table).values(invitation).execute(conn).map(drop)
}

pub fn find_invitation(conn: &mut DbConn, id: &str) -> QueryResult<Option<Invitation>> {
    staff_invitations::table.find(id).select(Invitation::as_select()).first(conn).optional()
}

/// Marks the invitation used if it still was not: 1 for the one caller that wins.
pub fn use_invitation(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(staff_invitations::table.find(id).filter(staff_invitations::used_at.is_null()))
        .set(staff_invitations::used_at.eq(at))
        .execute(conn)
}

/// Ends the user's unused invitations (a new one replaces them).
pub fn retire_invitations(conn: &mut DbConn, staff_id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        staff_invitations::table
            .filter(staff_invitations::staff_id.eq(staff_id))
            .filter(staff_invitations::used_at.is_null()),
    )
    .set(staff_invitations::used_at.eq(at))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::db::schema::staff_sessions)]
pub struct Session {
    pub token_hash: String,
    pub program_id: String,
    pub staff_id: String,
    pub token_version: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_session(conn: &mut DbConn, session: &Session) -> QueryResult<()> {
    use crate::db::schema::staff_sessions;
    diesel::insert_into(staff_sessions::table).values(session).execute(conn).map(drop)
}

pub fn find_session(conn: &mut DbConn, token_hash: &str, now: NaiveDateTime) -> QueryResult<Option<Session>> {
    use crate::db::schema::staff_sessions;
    staff_sessions::table
        .find(token_hash)
        .filter(staff_sessions::expires_at.gt(now))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

pub fn delete_session(conn: &mut DbConn, token_hash: &str) -> QueryResult<usize> {
    use crate::db::schema::staff_sessions;
    diesel::delete(staff_sessions::table.find(token_hash)).execute(conn)
}

/// Ends every console session of the user and retires every token they hold.
pub fn sign_out_everywhere(conn: &mut DbConn, staff_id: &str) -> QueryResult<usize> {
    use crate::db::schema::staff_sessions;
    diesel::update(staff_users::table.find(staff_id))
        .set(staff_users::token_version.eq(staff_users::token_version + 1))
        .execute(conn)?;
    diesel::delete(staff_sessions::table.filter(staff_sessions::staff_id.eq(staff_id))).execute(conn)
}

/// Housekeeping: sessions past their expiry open nothing.
pub fn purge_expired_sessions(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    use crate::db::schema::staff_sessions;
    diesel::delete(staff_sessions::table.filter(staff_sessions::expires_at.lt(now))).execute(conn)
}
