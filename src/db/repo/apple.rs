//! PassKit registrations: which device wants updates of which pass, and at which push token.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::now;
use crate::db::DbConn;
use crate::db::schema::{apple_registrations as r, cards};

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = r, treat_none_as_default_value = false)]
pub struct Registration<'a> {
    pub device_library_id: &'a str,
    pub pass_type_id: &'a str,
    pub serial: &'a str,
    pub program_id: &'a str,
    pub card_id: &'a str,
    pub push_token: &'a str,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// Registers the device for the pass; true when the registration is new. The push token of an
/// existing one is refreshed, on every pass of the device: a device has one token per topic and
/// it can change.
pub fn register(conn: &mut DbConn, reg: &Registration<'_>) -> QueryResult<bool> {
    let inserted = match conn {
        DbConn::Pg(c) => diesel::insert_into(r::table).values(reg).on_conflict_do_nothing().execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(r::table).values(reg).on_conflict_do_nothing().execute(c)?,
    };
    diesel::update(
        r::table
            .filter(r::device_library_id.eq(reg.device_library_id))
            .filter(r::pass_type_id.eq(reg.pass_type_id))
            .filter(r::push_token.ne(reg.push_token)),
    )
    .set((r::push_token.eq(reg.push_token), r::updated_at.eq(now())))
    .execute(conn)?;
    Ok(inserted == 1)
}

pub fn unregister(conn: &mut DbConn, device: &str, pass_type_id: &str, serial: &str) -> QueryResult<usize> {
    diesel::delete(
        r::table
            .filter(r::device_library_id.eq(device))
            .filter(r::pass_type_id.eq(pass_type_id))
            .filter(r::serial.eq(serial)),
    )
    .execute(conn)
}

/// The update tag to hand out *before* reading what changed: every change below it has ended, so
/// the next call, starting from it, misses nothing (it may repeat a serial, which costs a 304).
pub fn watermark(conn: &mut DbConn) -> QueryResult<i64> {
    let query = match conn {
        DbConn::Pg(_) => "txid_snapshot_xmin(txid_current_snapshot())",
        DbConn::Sqlite(_) => "(SELECT COALESCE(MAX(pass_seq), 0) + 1 FROM cards)",
    };
    diesel::select(sql::<BigInt>(query)).get_result(conn)
}

/// Serials of the device's passes of this type changed at or after `since` (all when `None`).
pub fn updated_serials(
    conn: &mut DbConn,
    device: &str,
    pass_type_id: &str,
    since: Option<i64>,
) -> QueryResult<Vec<String>> {
    let mut query = r::table
        .inner_join(cards::table)
        .filter(r::device_library_id.eq(device))
        .filter(r::pass_type_id.eq(pass_type_id))
        .select(r::serial)
        .order(r::serial)
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(cards::pass_seq.ge(since));
    }
    query.load(conn)
}

/// The distinct push tokens registered for the card, with their topic.
pub fn push_tokens(conn: &mut DbConn, card_id: &str) -> QueryResult<Vec<(String, String)>> {
    r::table.filter(r::card_id.eq(card_id)).select((r::push_token, r::pass_type_id)).distinct().load(conn)
}

/// Forgets a token APNs called dead (410 Unregistered, 400 BadDeviceToken): every registration
/// that would push to it.
pub fn forget_push_token(conn: &mut DbConn, push_token: &str, pass_type_id: &str) -> QueryResult<usize> {
    diesel::delete(r::table.filter(r::push_token.eq(push_token)).filter(r::pass_type_id.eq(pass_type_id))).execute(conn)
}
