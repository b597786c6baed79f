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

/// Whether any `(key, limit)` already has `limit` hits in the window: a read, for limits counted
/// only after the fact (see `promo_codes::guarded_sparse`).
pub fn at_limit(conn: &mut DbConn, keys: &[(String, i64)], window_start: NaiveDateTime) -> QueryResult<bool> {
    for (key, limit) in keys {
        let hits: Option<i64> =
            rate_limits::table.find((key, window_start)).select(rate_limits::hits).first(conn).optional()?;
        if hits.is_some_and(|h| h >= *limit) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One more hit on every `(key, limit)`; true when any of them is now past its limit. Every key
/// is counted, even after the first one over, so that each limit sees every attempt.
pub fn hit_all(conn: &mut DbConn, keys: &[(String, i64)], window_start: NaiveDateTime) -> QueryResult<bool> {
    Ok(hit_all_distinct(conn, keys, window_start, None)?.over)
}

/// What [`hit_all_distinct`] counted.
pub struct Hits {
    /// Some key is past its limit.
    pub over: bool,
    /// The keys this attempt added a hit to (and a marker, when distinct).
    pub counted: Vec<String>,
}

/// Like [`hit_all`], but with `guess` (a hash, never the guessed value) only the first attempt
/// of that guess per key and window counts: a marker row `(key:guess, window)` is inserted, and
/// the key is hit only when the marker is new. A repeated guess adds nothing and is over only if
/// its key already is. The insert, not a read, decides which of two concurrent attempts is first.
pub fn hit_all_distinct(
    conn: &mut DbConn,
    keys: &[(String, i64)],
    window_start: NaiveDateTime,
    guess: Option<&str>,
) -> QueryResult<Hits> {
    let mut hits = Hits { over: false, counted: Vec::new() };
    for (key, limit) in keys {
        let first = match guess {
            Some(guess) => {
                let row = (
                    rate_limits::key.eq(marker(key, guess)),
                    rate_limits::window_start.eq(window_start),
                    rate_limits::hits.eq(1i64),
                );
                insert_or_ignore!(conn, rate_limits::table, row)? == 1
            }
            None => true,
        };
        let count = if first {
            hits.counted.push(key.clone());
            hit(conn, key, window_start)?
        } else {
            rate_limits::table.find((key, window_start)).select(rate_limits::hits).first(conn).optional()?.unwrap_or(0)
        };
        hits.over |= count > *limit;
    }
    Ok(hits)
}

fn marker(key: &str, guess: &str) -> String {
    format!("{key}:guess:{guess}")
}

/// Takes back what [`hit_all_distinct`] counted for `key` with `guess`: its hit and its marker.
pub fn unhit_distinct(conn: &mut DbConn, key: &str, guess: &str, window_start: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(rate_limits::table.find((marker(key, guess), window_start))).execute(conn)?;
    unhit(conn, key, window_start)
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
