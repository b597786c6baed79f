//! Google Wallet bookkeeping: classes and objects written, notifications spent, callbacks seen.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::now;
use crate::db::DbConn;
use crate::db::schema::{google_callback_nonces, google_classes, google_notifications, google_objects};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = google_objects)]
pub struct GoogleObject {
    pub card_id: String,
    pub program_id: String,
    pub object_id: String,
    pub synced_version: i64,
    pub synced_balance: i64,
    pub saved: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn class_fingerprint(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<String>> {
    google_classes::table.find(program_id).select(google_classes::fingerprint).first(conn).optional()
}

pub fn record_class(conn: &mut DbConn, program_id: &str, class_id: &str, fingerprint: &str) -> QueryResult<()> {
    let updated = diesel::update(google_classes::table.find(program_id))
        .set((google_classes::fingerprint.eq(fingerprint), google_classes::updated_at.eq(now())))
        .execute(conn)?;
    if updated == 0 {
        let row = (
            google_classes::program_id.eq(program_id),
            google_classes::class_id.eq(class_id),
            google_classes::fingerprint.eq(fingerprint),
            google_classes::updated_at.eq(now()),
        );
        insert_or_ignore!(conn, google_classes::table, row)?;
    }
    Ok(())
}

pub fn find_object(conn: &mut DbConn, card_id: &str) -> QueryResult<Option<GoogleObject>> {
    google_objects::table.find(card_id).select(GoogleObject::as_select()).first(conn).optional()
}

/// Records what was sent for the card (inserting the row the first time).
pub fn record_object(conn: &mut DbConn, row: &GoogleObject) -> QueryResult<()> {
    let updated = diesel::update(google_objects::table.find(&row.card_id))
        .set((
            google_objects::synced_version.eq(row.synced_version),
            google_objects::synced_balance.eq(row.synced_balance),
            google_objects::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if updated == 0 {
        insert_or_ignore!(conn, google_objects::table, row)?;
    }
    Ok(())
}

pub fn set_saved(conn: &mut DbConn, object_id: &str, saved: bool) -> QueryResult<usize> {
    diesel::update(google_objects::table.filter(google_objects::object_id.eq(object_id)))
        .set((google_objects::saved.eq(saved), google_objects::updated_at.eq(now())))
        .execute(conn)
}

/// Takes one of the card's notifying updates if fewer than `limit` went out since `since`.
/// Called with the card's row locked (the update runs in its job), so two can't take the last one.
pub fn take_notification(
    conn: &mut DbConn,
    card_id: &str,
    program_id: &str,
    since: NaiveDateTime,
    limit: i64,
) -> QueryResult<bool> {
    let used: i64 = google_notifications::table
        .filter(google_notifications::card_id.eq(card_id))
        .filter(google_notifications::sent_at.gt(since))
        .count()
        .get_result(conn)?;
    if used >= limit {
        return Ok(false);
    }
    diesel::insert_into(google_notifications::table)
        .values((
            google_notifications::card_id.eq(card_id),
            google_notifications::program_id.eq(program_id),
            google_notifications::sent_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(true)
}

/// True the first time a callback nonce is seen.
pub fn first_nonce(conn: &mut DbConn, nonce: &str) -> QueryResult<bool> {
    let row = (google_callback_nonces::nonce.eq(nonce), google_callback_nonces::received_at.eq(now()));
    let inserted = insert_or_ignore!(conn, google_callback_nonces::table, row)?;
    Ok(inserted == 1)
}
