use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::rate_limits;

/// One more hit; returns the count after it. One UPDATE, so concurrent callers each see their own count.
pub fn hit(conn: &mut DbConn, key: &str, window_start: NaiveDateTime) -> QueryResult<i64> {
    let row = (rate_limits::key.eq(key), rate_limits::window_start.eq(window_start), rate_limits::hits.eq(0i64));
    insert_or_ignore!(conn, rate_limits::table, row)?;
    diesel::update(rate_limits::table.find((key, window_start)))
        .set(rate_limits::hits.eq(rate_limits::hits + 1))
        .returning(rate_limits::hits)
        .get_result(conn)
}

/// Takes back a hit that turned out not to count.
pub fn unhit(conn: &mut DbConn, key: &str, window_start: NaiveDateTime) -> QueryResult<()> {
    diesel::update(rate_limits::table.find((key, window_start)).filter(rate_limits::hits.gt(0)))
        .set(rate_limits::hits.eq(rate_limits::hits - 1))
        .execute(conn)
        .map(drop)
}

pub fn purge_before(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(rate_limits::table.filter(rate_limits::window_start.lt(cutoff))).execute(conn)
}
