//! PassKit registrations: which device wants updates of which pass, and at which push token.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::now;
use crate::db::DbConn;
use crate::db::schema::{apple_registrations as r, cards};
use crate::domain::update_tag::UpdateTag;

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

/// What a registration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    New,
    /// The device already had it (its push token refreshed).
    Again,
    /// The pass has `cap` devices already: nothing was written.
    Full,
}

/// Registers the device for the pass, unless it would be one device more than `cap`. The push
/// token of an existing registration is refreshed, on every pass of the device: a device has one
/// token per topic and it can change.
pub fn register(conn: &mut DbConn, reg: &Registration<'_>, cap: i64) -> QueryResult<Registered> {
    let inserted = insert_or_ignore!(conn, r::table, reg)? == 1;
    // Counted only once the row is known to be new: a device asking again is not one more.
    if inserted && count_in(conn, reg.card_id, cap)? == 0 {
        remove(conn, reg.device_library_id, reg.pass_type_id, reg.serial)?;
        return Ok(Registered::Full);
    }
    diesel::update(
        r::table
            .filter(r::device_library_id.eq(reg.device_library_id))
            .filter(r::pass_type_id.eq(reg.pass_type_id))
            .filter(r::push_token.ne(reg.push_token)),
    )
    .set((r::push_token.eq(reg.push_token), r::updated_at.eq(now())))
    .execute(conn)?;
    Ok(if inserted { Registered::New } else { Registered::Again })
}

/// One device more on the card, if it has fewer than `cap`: one conditional UPDATE, which a
/// concurrent registration waits for and then re-checks, so two can't both take the last place.
fn count_in(conn: &mut DbConn, card_id: &str, cap: i64) -> QueryResult<usize> {
    diesel::update(cards::table.find(card_id).filter(cards::apple_devices.lt(cap)))
        .set(cards::apple_devices.eq(cards::apple_devices + 1))
        .execute(conn)
}

/// One device less on each card of the removed registrations.
fn count_out(conn: &mut DbConn, card_ids: &[String]) -> QueryResult<()> {
    for card_id in card_ids {
        diesel::update(cards::table.find(card_id).filter(cards::apple_devices.gt(0)))
            .set(cards::apple_devices.eq(cards::apple_devices - 1))
            .execute(conn)?;
    }
    Ok(())
}

pub fn unregister(conn: &mut DbConn, device: &str, pass_type_id: &str, serial: &str) -> QueryResult<usize> {
    let removed = remove(conn, device, pass_type_id, serial)?;
    count_out(conn, &removed)?;
    Ok(removed.len())
}

/// Deletes the registration; the card ids of what was deleted.
fn remove(conn: &mut DbConn, device: &str, pass_type_id: &str, serial: &str) -> QueryResult<Vec<String>> {
    diesel::delete(
        r::table
            .filter(r::device_library_id.eq(device))
            .filter(r::pass_type_id.eq(pass_type_id))
            .filter(r::serial.eq(serial)),
    )
    .returning(r::card_id)
    .get_results(conn)
}

/// The tag to hand out with a list: what this transaction's snapshot has seen. Read in the same
/// read-only transaction as the list on PostgreSQL (repeatable read: one snapshot for both).
pub fn update_tag(conn: &mut DbConn) -> QueryResult<UpdateTag> {
    match conn {
        DbConn::Pg(_) => {
            let text: String = diesel::select(sql::<Text>("txid_current_snapshot()::text")).get_result(conn)?;
            UpdateTag::parse(&text).ok_or_else(|| {
                diesel::result::Error::DeserializationError(format!("unexpected snapshot {text:?}").into())
            })
        }
        DbConn::Sqlite(_) => {
            let next: i64 =
                diesel::select(sql::<BigInt>("(SELECT COALESCE(MAX(pass_seq), 0) + 1 FROM cards)")).get_result(conn)?;
            Ok(UpdateTag::below(next))
        }
    }
}

/// Serials of the device's passes of this type changed since `since` (all when `None`).
pub fn updated_serials(
    conn: &mut DbConn,
    device: &str,
    pass_type_id: &str,
    since: Option<&UpdateTag>,
) -> QueryResult<Vec<String>> {
    let rows: Vec<(String, i64)> = r::table
        .inner_join(cards::table)
        .filter(r::device_library_id.eq(device))
        .filter(r::pass_type_id.eq(pass_type_id))
        .filter(cards::pass_seq.ge(since.map_or(i64::MIN, UpdateTag::xmin)))
        .select((r::serial, cards::pass_seq))
        .order(r::serial)
        .load(conn)?;
    Ok(rows.into_iter().filter(|(_, seq)| !since.is_some_and(|tag| tag.saw(*seq))).map(|(serial, _)| serial).collect())
}

/// The distinct push tokens registered for the card, with their topic.
/// The distinct (card, push token, pass type) of these cards' registrations.
pub fn push_tokens(conn: &mut DbConn, card_ids: &[&str]) -> QueryResult<Vec<(String, String, String)>> {
    let mut tokens = Vec::new();
    for ids in card_ids.chunks(super::IDS_PER_STATEMENT) {
        tokens.extend(
            r::table
                .filter(r::card_id.eq_any(ids))
                .select((r::card_id, r::push_token, r::pass_type_id))
                .distinct()
                .load::<(String, String, String)>(conn)?,
        );
    }
    Ok(tokens)
}

/// Forgets a token APNs called dead (410 Unregistered, 400 BadDeviceToken): every registration
/// that would push to it.
pub fn forget_push_token(conn: &mut DbConn, push_token: &str, pass_type_id: &str) -> QueryResult<usize> {
    let removed: Vec<String> =
        diesel::delete(r::table.filter(r::push_token.eq(push_token)).filter(r::pass_type_id.eq(pass_type_id)))
            .returning(r::card_id)
            .get_results(conn)?;
    count_out(conn, &removed)?;
    Ok(removed.len())
}
