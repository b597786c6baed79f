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

/// One more hit on every `(key, limit)`; true when any of them is now past its limit. Every key
/// is counted, even after the first one over, so that each limit sees every attempt.
pub fn hit_all(conn: &mut DbConn, keys: &[(String, i64)], window_start: NaiveDateTime) -> QueryResult<bool> {
    let mut over = false;
    for (key, limit) in keys {
        over |= hit(conn, key, window_start)? > *limit;
    }
    Ok(over)
}

/// The fixed window of `size_seconds` that holds now: its start, and the seconds until it ends
/// (a refused caller's Retry-After).
pub fn current_window(size_seconds: i64) -> (NaiveDateTime, i64) {
    let now = chrono::Utc::now().timestamp();
    let size = size_seconds.max(1);
    let start = now - now.rem_euclid(size);
    let at = chrono::DateTime::from_timestamp(start, 0).map_or_else(super::now, |t| t.naive_utc());
    (at, (start + size - now).max(1))
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
