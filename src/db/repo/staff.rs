use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::staff_users;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff_users, treat_none_as_default_value = false)]
pub struct StaffUser {
    pub id: String,
    pub program_id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub location_id: Option<String>,
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
