use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::purchases;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = purchases, treat_none_as_default_value = false)]
pub struct Purchase {
    pub id: String,
    pub program_id: String,
    pub card_id: String,
    pub location_id: Option<String>,
    pub staff_id: Option<String>,
    pub amount_cents: i64,
    pub currency: String,
    pub external_ref: Option<String>,
    pub points_earned: i64,
    pub returned_cents: i64,
    pub created_at: NaiveDateTime,
    /// What the purchase's promo code took off the bill.
    pub discount_cents: i64,
    /// Extra points from the promo code, reversed in proportion with the earned ones.
    pub bonus_points: i64,
    /// When the sale happened (`created_at`: when it was recorded; later for an offline till).
    pub occurred_at: NaiveDateTime,
}

impl Purchase {
    pub fn status(&self) -> &'static str {
        match self.returned_cents {
            0 => "completed",
            r if r >= self.amount_cents => "returned",
            _ => "partially_returned",
        }
    }
}

pub fn insert(conn: &mut DbConn, purchase: &Purchase) -> QueryResult<()> {
    diesel::insert_into(purchases::table).values(purchase).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Purchase>> {
    purchases::table
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::id.eq(id))
        .select(Purchase::as_select())
        .first(conn)
        .optional()
}

pub fn external_ref_taken(conn: &mut DbConn, program_id: &str, external_ref: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        purchases::table.filter(purchases::program_id.eq(program_id)).filter(purchases::external_ref.eq(external_ref)),
    ))
    .get_result(conn)
}

/// Records `cents` more returned, in one conditional UPDATE: None when that would return more
/// than was bought. Concurrent returns of one purchase queue on the row lock.
pub fn add_returned(conn: &mut DbConn, program_id: &str, id: &str, cents: i64) -> QueryResult<Option<Purchase>> {
    diesel::update(purchases::table)
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::id.eq(id))
        .filter((purchases::returned_cents + cents).le(purchases::amount_cents))
        .set(purchases::returned_cents.eq(purchases::returned_cents + cents))
        .get_result::<Purchase>(conn)
        .optional()
}

pub fn of_card(conn: &mut DbConn, program_id: &str, card_id: &str) -> QueryResult<Vec<Purchase>> {
    purchases::table
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::card_id.eq(card_id))
        .order(purchases::created_at)
        .select(Purchase::as_select())
        .load(conn)
}

/// When each of these cards last bought (its latest `occurred_at`); cards that never did are absent.
pub fn last_occurred(conn: &mut DbConn, card_ids: &[&str]) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    let mut last = Vec::with_capacity(card_ids.len());
    for ids in card_ids.chunks(super::IDS_PER_STATEMENT) {
        let rows: Vec<(String, Option<NaiveDateTime>)> = purchases::table
            .filter(purchases::card_id.eq_any(ids))
            .group_by(purchases::card_id)
            .select((purchases::card_id, diesel::dsl::max(purchases::occurred_at)))
            .load(conn)?;
        last.extend(rows.into_iter().filter_map(|(id, at)| Some((id, at?))));
    }
    Ok(last)
}

/// Whether the programme has recorded any sale (its currency is then fixed).
pub fn any(conn: &mut DbConn, program_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(purchases::table.filter(purchases::program_id.eq(program_id)))).get_result(conn)
}

/// The latest `limit` purchases of a card, newest first; only those of `location_id` when given.
pub fn latest_of_card(
    conn: &mut DbConn,
    program_id: &str,
    card_id: &str,
    location_id: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Purchase>> {
    let mut query = purchases::table
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::card_id.eq(card_id))
        .into_boxed();
    if let Some(location_id) = location_id {
        query = query.filter(purchases::location_id.eq(location_id));
    }
    query
        .order((purchases::occurred_at.desc(), purchases::id.desc()))
        .limit(limit)
        .select(Purchase::as_select())
        .load(conn)
}

/// Purchases newest first (by id: time-ordered), of a card and/or a shop when given, before the
/// purchase `before`.
pub fn page(
    conn: &mut DbConn,
    program_id: &str,
    card_id: Option<&str>,
    location_id: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Purchase>> {
    let mut query = purchases::table.filter(purchases::program_id.eq(program_id)).into_boxed();
    if let Some(card_id) = card_id {
        query = query.filter(purchases::card_id.eq(card_id));
    }
    if let Some(location_id) = location_id {
        query = query.filter(purchases::location_id.eq(location_id));
    }
    if let Some(before) = before {
        query = query.filter(purchases::id.lt(before));
    }
    query.order(purchases::id.desc()).limit(limit).select(Purchase::as_select()).load(conn)
}
