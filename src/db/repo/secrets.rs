use diesel::prelude::*;

use super::now;
use crate::db::DbConn;
use crate::db::schema::instance_secrets;

/// Returns the secret called `name`, storing `candidate` first if there is none. Two nodes
/// starting together both end up with the value of whichever inserted first.
pub fn get_or_create(conn: &mut DbConn, name: &str, candidate: &str) -> QueryResult<String> {
    let row = (
        instance_secrets::name.eq(name),
        instance_secrets::value.eq(candidate),
        instance_secrets::created_at.eq(now()),
    );
    insert_or_ignore!(conn, instance_secrets::table, row)?;
    instance_secrets::table.find(name).select(instance_secrets::value).first(conn)
}
