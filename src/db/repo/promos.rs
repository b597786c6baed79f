use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::now;
use crate::db::DbConn;
use crate::db::schema::{promo_campaigns, promo_codes, promo_customer_uses, promo_redemptions};
use crate::domain::status::CampaignStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = promo_campaigns, treat_none_as_default_value = false)]
pub struct Campaign {
    pub id: String,
    pub program_id: String,
    pub name: String,
    pub effect: String,
    pub effect_value: i64,
    pub min_purchase_cents: i64,
    pub max_redemptions: Option<i64>,
    pub max_per_customer: Option<i64>,
    pub redemptions: i64,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub days_of_week: Option<String>,
    pub hour_from: Option<i32>,
    pub hour_to: Option<i32>,
    pub kind: String,
    pub pool_prefix: Option<String>,
    pub pool_pattern: Option<String>,
    pub pool_length: Option<i32>,
    pub pool_size: i64,
    pub pool_generated: i64,
    pub status: CampaignStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = promo_codes)]
pub struct Code {
    pub id: i64,
    pub program_id: String,
    pub campaign_id: String,
    pub code: String,
    pub max_uses: Option<i64>,
    pub uses: i64,
    /// The member a campaign gave this code to (a private sale), if any.
    pub assigned_card_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = promo_redemptions, treat_none_as_default_value = false)]
pub struct Redemption {
    pub id: String,
    pub program_id: String,
    pub campaign_id: String,
    pub code_id: i64,
    pub card_id: String,
    pub purchase_id: Option<String>,
    pub discount_cents: i64,
    pub bonus_points: i64,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub rolled_back_at: Option<NaiveDateTime>,
}

pub fn insert_campaign(conn: &mut DbConn, campaign: &Campaign) -> QueryResult<()> {
    diesel::insert_into(promo_campaigns::table).values(campaign).execute(conn).map(drop)
}

pub fn find_campaign(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Campaign>> {
    promo_campaigns::table
        .filter(promo_campaigns::program_id.eq(program_id))
        .filter(promo_campaigns::id.eq(id))
        .select(Campaign::as_select())
        .first(conn)
        .optional()
}

pub fn list_campaigns(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<Campaign>> {
    promo_campaigns::table
        .filter(promo_campaigns::program_id.eq(program_id))
        .order(promo_campaigns::created_at.desc())
        .select(Campaign::as_select())
        .load(conn)
}

/// Pauses, resumes or ends a campaign; an ended campaign stays ended.
pub fn set_status(
    conn: &mut DbConn,
    program_id: &str,
    id: &str,
    status: CampaignStatus,
) -> QueryResult<Option<Campaign>> {
    diesel::update(
        promo_campaigns::table
            .filter(promo_campaigns::program_id.eq(program_id))
            .filter(promo_campaigns::id.eq(id))
            .filter(promo_campaigns::status.ne(CampaignStatus::Ended)),
    )
    .set((promo_campaigns::status.eq(status), promo_campaigns::updated_at.eq(now())))
    .get_result::<Campaign>(conn)
    .optional()
}

/// Reads the campaign and holds its row lock until the transaction ends (a no-op UPDATE).
pub fn lock_campaign(conn: &mut DbConn, id: &str) -> QueryResult<Campaign> {
    diesel::update(promo_campaigns::table.find(id))
        .set(promo_campaigns::pool_generated.eq(promo_campaigns::pool_generated))
        .get_result::<Campaign>(conn)
}

pub fn add_generated(conn: &mut DbConn, campaign_id: &str, n: i64) -> QueryResult<()> {
    diesel::update(promo_campaigns::table.find(campaign_id))
        .set((
            promo_campaigns::pool_generated.eq(promo_campaigns::pool_generated + n),
            promo_campaigns::updated_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

/// Inserts codes in batches. Codes already taken in the program are skipped (the caller counts
/// what was inserted); returns how many were inserted.
pub fn insert_codes(
    conn: &mut DbConn,
    program_id: &str,
    campaign_id: &str,
    codes: &[String],
    max_uses: Option<i64>,
) -> QueryResult<usize> {
    let mut inserted = 0;
    // SQLite binds at most 32766 parameters per statement: 5 per row.
    for chunk in codes.chunks(5000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|code| {
                (
                    promo_codes::program_id.eq(program_id),
                    promo_codes::campaign_id.eq(campaign_id),
                    promo_codes::code.eq(code.as_str()),
                    promo_codes::max_uses.eq(max_uses),
                    promo_codes::uses.eq(0i64),
                )
            })
            .collect();
        inserted += insert_or_ignore!(conn, promo_codes::table, &rows)?;
    }
    Ok(inserted)
}

pub fn find_code(conn: &mut DbConn, program_id: &str, code: &str) -> QueryResult<Option<Code>> {
    promo_codes::table
        .filter(promo_codes::program_id.eq(program_id))
        .filter(promo_codes::code.eq(code))
        .select(Code::as_select())
        .first(conn)
        .optional()
}

/// Codes of a campaign in insertion order, a page at a time (for the CSV export).
pub fn codes_page(
    conn: &mut DbConn,
    program_id: &str,
    campaign_id: &str,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<Code>> {
    promo_codes::table
        .filter(promo_codes::program_id.eq(program_id))
        .filter(promo_codes::campaign_id.eq(campaign_id))
        .filter(promo_codes::id.gt(after))
        .order(promo_codes::id)
        .limit(limit)
        .select(Code::as_select())
        .load(conn)
}

/// One more use of the campaign, if it has uses left and is active: one conditional UPDATE.
pub fn take_campaign_use(conn: &mut DbConn, campaign_id: &str) -> QueryResult<bool> {
    let target = promo_campaigns::table
        .filter(promo_campaigns::id.eq(campaign_id))
        .filter(promo_campaigns::status.eq(CampaignStatus::Active))
        .filter(
            promo_campaigns::max_redemptions
                .is_null()
                .or(promo_campaigns::redemptions.nullable().lt(promo_campaigns::max_redemptions)),
        );
    Ok(diesel::update(target).set(promo_campaigns::redemptions.eq(promo_campaigns::redemptions + 1)).execute(conn)?
        == 1)
}

/// One more use of the code, if it has uses left (pool codes are single-use).
pub fn take_code_use(conn: &mut DbConn, code_id: i64) -> QueryResult<bool> {
    let target = promo_codes::table
        .filter(promo_codes::id.eq(code_id))
        .filter(promo_codes::max_uses.is_null().or(promo_codes::uses.nullable().lt(promo_codes::max_uses)));
    Ok(diesel::update(target).set(promo_codes::uses.eq(promo_codes::uses + 1)).execute(conn)? == 1)
}

/// One more use by this card, if under `limit`: the row is created first if missing, then one
/// conditional UPDATE decides.
pub fn take_customer_use(conn: &mut DbConn, campaign_id: &str, card_id: &str, limit: Option<i64>) -> QueryResult<bool> {
    let row = (
        promo_customer_uses::campaign_id.eq(campaign_id),
        promo_customer_uses::card_id.eq(card_id),
        promo_customer_uses::uses.eq(0i64),
    );
    insert_or_ignore!(conn, promo_customer_uses::table, row)?;
    let target = promo_customer_uses::table
        .filter(promo_customer_uses::campaign_id.eq(campaign_id))
        .filter(promo_customer_uses::card_id.eq(card_id))
        .filter(promo_customer_uses::uses.lt(limit.unwrap_or(i64::MAX)));
    Ok(diesel::update(target).set(promo_customer_uses::uses.eq(promo_customer_uses::uses + 1)).execute(conn)? == 1)
}

pub fn customer_uses(conn: &mut DbConn, campaign_id: &str, card_id: &str) -> QueryResult<i64> {
    Ok(promo_customer_uses::table
        .find((campaign_id, card_id))
        .select(promo_customer_uses::uses)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

pub fn applied_redemptions(conn: &mut DbConn, campaign_id: &str) -> QueryResult<i64> {
    promo_redemptions::table
        .filter(promo_redemptions::campaign_id.eq(campaign_id))
        .filter(promo_redemptions::status.eq("applied"))
        .count()
        .get_result(conn)
}

/// Refreshes the planner's statistics of the code table (PostgreSQL; SQLite plans without them).
pub fn analyze_codes(conn: &mut DbConn) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    match conn {
        DbConn::Pg(c) => c.batch_execute("ANALYZE promo_codes"),
        DbConn::Sqlite(_) => Ok(()),
    }
}

pub fn insert_redemption(conn: &mut DbConn, redemption: &Redemption) -> QueryResult<()> {
    diesel::insert_into(promo_redemptions::table).values(redemption).execute(conn).map(drop)
}

pub fn redemption_for_purchase(conn: &mut DbConn, purchase_id: &str) -> QueryResult<Option<Redemption>> {
    promo_redemptions::table
        .filter(promo_redemptions::purchase_id.eq(purchase_id))
        .select(Redemption::as_select())
        .first(conn)
        .optional()
}

/// Rolls a redemption back and gives its uses back to the campaign, the code and the customer.
/// Conditional on the redemption still being applied, so it happens once.
pub fn roll_back(conn: &mut DbConn, redemption: &Redemption) -> QueryResult<bool> {
    let n = diesel::update(
        promo_redemptions::table
            .filter(promo_redemptions::id.eq(&redemption.id))
            .filter(promo_redemptions::status.eq("applied")),
    )
    .set((promo_redemptions::status.eq("rolled_back"), promo_redemptions::rolled_back_at.eq(now())))
    .execute(conn)?;
    if n == 0 {
        return Ok(false);
    }
    diesel::update(promo_campaigns::table.find(&redemption.campaign_id).filter(promo_campaigns::redemptions.gt(0)))
        .set(promo_campaigns::redemptions.eq(promo_campaigns::redemptions - 1))
        .execute(conn)?;
    diesel::update(promo_codes::table.find(redemption.code_id).filter(promo_codes::uses.gt(0)))
        .set(promo_codes::uses.eq(promo_codes::uses - 1))
        .execute(conn)?;
    diesel::update(
        promo_customer_uses::table
            .find((&redemption.campaign_id, &redemption.card_id))
            .filter(promo_customer_uses::uses.gt(0)),
    )
    .set(promo_customer_uses::uses.eq(promo_customer_uses::uses - 1))
    .execute(conn)?;
    Ok(true)
}

/// Gives up to `n` unused, unassigned codes of the pool to the cards, in order (one each); the
/// codes given. Runs with the campaign's send lock held, so two senders can't give one code twice.
pub fn assign_codes(conn: &mut DbConn, campaign_id: &str, card_ids: &[&str]) -> QueryResult<Vec<String>> {
    let free: Vec<(i64, String)> = promo_codes::table
        .filter(promo_codes::campaign_id.eq(campaign_id))
        .filter(promo_codes::assigned_card_id.is_null())
        .filter(promo_codes::uses.eq(0i64))
        .order(promo_codes::id)
        .limit(i64::try_from(card_ids.len()).unwrap_or(i64::MAX))
        .select((promo_codes::id, promo_codes::code))
        .load(conn)?;
    let mut given = Vec::with_capacity(free.len());
    for ((id, code), card_id) in free.into_iter().zip(card_ids) {
        diesel::update(promo_codes::table.find(id)).set(promo_codes::assigned_card_id.eq(*card_id)).execute(conn)?;
        given.push(code);
    }
    Ok(given)
}

/// Codes of the pool still free to give (unused, unassigned).
pub fn unassigned_codes(conn: &mut DbConn, campaign_id: &str) -> QueryResult<i64> {
    promo_codes::table
        .filter(promo_codes::campaign_id.eq(campaign_id))
        .filter(promo_codes::assigned_card_id.is_null())
        .filter(promo_codes::uses.eq(0i64))
        .count()
        .get_result(conn)
}
