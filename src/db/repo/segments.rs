//! Saved segments, and what their rules read of the members: one statement per condition.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{card_tiers, cards, customers, purchases, rfm_scores, segments};
use crate::domain::rfm::Segment;
use crate::domain::status::CardStatus;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = segments)]
pub struct SavedSegment {
    pub id: String,
    pub program_id: String,
    pub name: String,
    pub rule: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, s: &SavedSegment) -> QueryResult<usize> {
    diesel::insert_into(segments::table).values(s).execute(conn)
}

pub fn update(conn: &mut DbConn, s: &SavedSegment) -> QueryResult<usize> {
    diesel::update(segments::table.find(&s.id)).set(s).execute(conn)
}

pub fn delete(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(segments::table.filter(segments::program_id.eq(program_id)).filter(segments::id.eq(id)))
        .execute(conn)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<SavedSegment>> {
    segments::table
        .filter(segments::program_id.eq(program_id))
        .filter(segments::id.eq(id))
        .select(SavedSegment::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<SavedSegment>> {
    segments::table
        .filter(segments::program_id.eq(program_id))
        .order((segments::name, segments::id))
        .select(SavedSegment::as_select())
        .load(conn)
}

/// A member a segment may hold: an active card of a customer not erased.
#[derive(Debug, Clone, Queryable)]
pub struct Candidate {
    pub card_id: String,
    pub customer_id: String,
    pub card_number: String,
    pub first_name: String,
    pub email: String,
    pub enrolled_at: NaiveDateTime,
}

/// Every such member, oldest first.
pub fn candidates(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<Candidate>> {
    cards::table
        .inner_join(customers::table)
        .filter(cards::program_id.eq(program_id))
        .filter(cards::status.eq(CardStatus::Active))
        .filter(customers::erased_at.is_null())
        .order((customers::created_at, cards::id))
        .select((
            cards::id,
            customers::id,
            cards::number,
            customers::first_name,
            customers::email,
            customers::created_at,
        ))
        .load(conn)
}

/// The cards that bought at this shop (a sale not wholly returned).
pub fn bought_at(conn: &mut DbConn, program_id: &str, location_id: &str) -> QueryResult<HashSet<String>> {
    let ids: Vec<String> = purchases::table
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::location_id.eq(location_id))
        .filter(purchases::returned_cents.lt(purchases::amount_cents))
        .select(purchases::card_id)
        .distinct()
        .load(conn)?;
    Ok(ids.into_iter().collect())
}

/// The RFM segment of every scored card.
pub fn rfm_segments(conn: &mut DbConn, program_id: &str) -> QueryResult<HashMap<String, Segment>> {
    let rows: Vec<(String, Segment)> = rfm_scores::table
        .filter(rfm_scores::program_id.eq(program_id))
        .select((rfm_scores::card_id, rfm_scores::segment))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// The tier row of every card that has one (the others are in the entry tier).
pub fn tiers(conn: &mut DbConn, program_id: &str) -> QueryResult<HashMap<String, String>> {
    let rows: Vec<(String, String)> = card_tiers::table
        .filter(card_tiers::program_id.eq(program_id))
        .select((card_tiers::card_id, card_tiers::tier_key))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}
