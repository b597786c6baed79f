use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{card_tiers, tier_history, tier_reevaluations, tier_rewards, tier_rules};
use crate::domain::status::ReevaluationState;

/// The programme's tier list as stored (JSON), if it set one.
pub fn rules(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<String>> {
    tier_rules::table.find(program_id).select(tier_rules::rules).first(conn).optional()
}

pub fn put_rules(conn: &mut DbConn, program_id: &str, rules: &str, now: NaiveDateTime) -> QueryResult<()> {
    let updated = diesel::update(tier_rules::table.find(program_id))
        .set((tier_rules::rules.eq(rules), tier_rules::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(tier_rules::table)
            .values((
                tier_rules::program_id.eq(program_id),
                tier_rules::rules.eq(rules),
                tier_rules::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Where a card stands; no row is the entry tier.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = card_tiers, treat_none_as_null = true)]
pub struct CardTier {
    pub card_id: String,
    pub program_id: String,
    pub tier_key: String,
    pub since: NaiveDateTime,
    pub upgraded_at: NaiveDateTime,
    pub checked_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

pub fn card_tier(conn: &mut DbConn, card_id: &str) -> QueryResult<Option<CardTier>> {
    card_tiers::table.find(card_id).select(CardTier::as_select()).first(conn).optional()
}

pub fn put_card_tier(conn: &mut DbConn, t: &CardTier) -> QueryResult<()> {
    if diesel::update(card_tiers::table.find(&t.card_id)).set(t).execute(conn)? == 0 {
        diesel::insert_into(card_tiers::table).values(t).execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tier_history)]
pub struct Change<'a> {
    pub id: String,
    pub program_id: &'a str,
    pub card_id: &'a str,
    pub from_key: Option<&'a str>,
    pub to_key: &'a str,
    pub reason: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn record_change(conn: &mut DbConn, c: &Change<'_>) -> QueryResult<()> {
    diesel::insert_into(tier_history::table).values(c).execute(conn).map(drop)
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = tier_rewards)]
pub struct Reward<'a> {
    pub card_id: &'a str,
    pub tier_key: &'a str,
    pub period: i64,
    pub program_id: &'a str,
    pub voucher_id: &'a str,
    pub created_at: NaiveDateTime,
}

/// Whether the card already had this tier's reward in this window.
pub fn rewarded(conn: &mut DbConn, card_id: &str, tier_key: &str, period: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(tier_rewards::table.find((card_id, tier_key, period)))).get_result(conn)
}

pub fn record_reward(conn: &mut DbConn, r: &Reward<'_>) -> QueryResult<()> {
    diesel::insert_into(tier_rewards::table).values(r).execute(conn).map(drop)
}

/// What the tier metrics are made of: a card's purchases since `since` (by `occurred_at`).
#[derive(Debug, Clone, Queryable)]
pub struct Sale {
    pub amount_cents: i64,
    pub discount_cents: i64,
    pub returned_cents: i64,
    pub points_earned: i64,
    pub bonus_points: i64,
    pub location_id: Option<String>,
    pub occurred_at: NaiveDateTime,
}

pub fn sales_since(conn: &mut DbConn, card_id: &str, since: NaiveDateTime) -> QueryResult<Vec<Sale>> {
    use crate::db::schema::purchases as p;
    p::table
        .filter(p::card_id.eq(card_id))
        .filter(p::occurred_at.ge(since))
        .select((
            p::amount_cents,
            p::discount_cents,
            p::returned_cents,
            p::points_earned,
            p::bonus_points,
            p::location_id,
            p::occurred_at,
        ))
        .load(conn)
}

/// Upper bounds of a card's window values since `since`, in one row: spend before returns and
/// discounts, points before returns, and its number of sales (at least its visits). A purchase
/// that can't move the card up on these need not read the sales one by one.
pub fn window_bound(conn: &mut DbConn, card_id: &str, since: NaiveDateTime) -> QueryResult<(i64, i64, i64)> {
    use crate::db::schema::purchases as p;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    // SUM(BIGINT) is NUMERIC on PostgreSQL: cast back so both backends give an i64.
    p::table
        .filter(p::card_id.eq(card_id))
        .filter(p::occurred_at.ge(since))
        .select((
            sql::<BigInt>("CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)"),
            sql::<BigInt>("CAST(COALESCE(SUM(points_earned + bonus_points), 0) AS BIGINT)"),
            sql::<BigInt>("COUNT(*)"),
        ))
        .get_result(conn)
}

/// The programmes that have tiers.
pub fn programs_with_rules(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    tier_rules::table.select(tier_rules::program_id).order(tier_rules::program_id).load(conn)
}

/// Cards in `tier_key` whose last upgrade is at or before `upgraded_before` (their `keep_months`
/// have passed) and that the daily check has not looked at since `day_start`.
pub fn due_for_check(
    conn: &mut DbConn,
    program_id: &str,
    tier_key: &str,
    upgraded_before: NaiveDateTime,
    day_start: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<String>> {
    card_tiers::table
        .filter(card_tiers::program_id.eq(program_id))
        .filter(card_tiers::tier_key.eq(tier_key))
        .filter(card_tiers::upgraded_at.le(upgraded_before))
        .filter(card_tiers::checked_at.is_null().or(card_tiers::checked_at.lt(day_start)))
        .order(card_tiers::card_id)
        .limit(limit)
        .select(card_tiers::card_id)
        .load(conn)
}

pub fn mark_checked(conn: &mut DbConn, card_ids: &[String], now: NaiveDateTime) -> QueryResult<()> {
    for ids in card_ids.chunks(super::IDS_PER_STATEMENT) {
        diesel::update(card_tiers::table.filter(card_tiers::card_id.eq_any(ids)))
            .set(card_tiers::checked_at.eq(Some(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// The re-evaluation after a change of the rules.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = tier_reevaluations, treat_none_as_null = true)]
pub struct Reevaluation {
    pub program_id: String,
    pub state: ReevaluationState,
    pub cards_total: i64,
    pub cards_done: i64,
    pub cards_moved: i64,
    pub cursor: Option<String>,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

pub fn reevaluation(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<Reevaluation>> {
    tier_reevaluations::table.find(program_id).select(Reevaluation::as_select()).first(conn).optional()
}

/// Starts (or starts over) the programme's re-evaluation.
pub fn put_reevaluation(conn: &mut DbConn, r: &Reevaluation) -> QueryResult<()> {
    if diesel::update(tier_reevaluations::table.find(&r.program_id)).set(r).execute(conn)? == 0 {
        diesel::insert_into(tier_reevaluations::table).values(r).execute(conn)?;
    }
    Ok(())
}

/// The tier key of each of these cards that has a row (the others are in the entry tier).
pub fn keys_of(conn: &mut DbConn, card_ids: &[&str]) -> QueryResult<std::collections::HashMap<String, String>> {
    use crate::db::schema::card_tiers;
    let mut keys = std::collections::HashMap::new();
    for chunk in card_ids.chunks(super::IDS_PER_STATEMENT) {
        let rows: Vec<(String, String)> = card_tiers::table
            .filter(card_tiers::card_id.eq_any(chunk))
            .select((card_tiers::card_id, card_tiers::tier_key))
            .load(conn)?;
        keys.extend(rows);
    }
    Ok(keys)
}
