use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::now;
use crate::db::DbConn;
use crate::db::schema::{referral_counters, referral_rewards, referral_settings, referrals};
use crate::domain::status::ReferralStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = referral_settings, treat_none_as_default_value = false)]
pub struct Settings {
    pub program_id: String,
    pub enabled: bool,
    pub min_purchase_cents: i64,
    pub window_days: i64,
    pub referrer_points: i64,
    pub referee_points: i64,
    pub max_per_month: Option<i64>,
    pub max_total: Option<i64>,
    pub clawback: bool,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = referrals, treat_none_as_default_value = false)]
pub struct Referral {
    pub id: String,
    pub program_id: String,
    pub referrer_card_id: String,
    pub referee_card_id: String,
    pub status: ReferralStatus,
    pub reason: Option<String>,
    pub purchase_id: Option<String>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
}

pub fn settings(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<Settings>> {
    referral_settings::table.find(program_id).select(Settings::as_select()).first(conn).optional()
}

pub fn save_settings(conn: &mut DbConn, settings: &Settings) -> QueryResult<()> {
    let updated = diesel::update(referral_settings::table.find(&settings.program_id)).set(settings).execute(conn)?;
    if updated == 0 {
        diesel::insert_into(referral_settings::table).values(settings).execute(conn)?;
    }
    Ok(())
}

pub fn insert(conn: &mut DbConn, referral: &Referral) -> QueryResult<()> {
    diesel::insert_into(referrals::table).values(referral).execute(conn).map(drop)
}

pub fn pending_for_referee(conn: &mut DbConn, program_id: &str, card_id: &str) -> QueryResult<Option<Referral>> {
    referrals::table
        .filter(referrals::program_id.eq(program_id))
        .filter(referrals::referee_card_id.eq(card_id))
        .filter(referrals::status.eq(ReferralStatus::Pending))
        .select(Referral::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Referral>> {
    referrals::table
        .filter(referrals::program_id.eq(program_id))
        .filter(referrals::id.eq(id))
        .select(Referral::as_select())
        .first(conn)
        .optional()
}

pub fn for_referee(conn: &mut DbConn, program_id: &str, card_id: &str) -> QueryResult<Option<Referral>> {
    referrals::table
        .filter(referrals::program_id.eq(program_id))
        .filter(referrals::referee_card_id.eq(card_id))
        .select(Referral::as_select())
        .first(conn)
        .optional()
}

pub fn for_purchase(conn: &mut DbConn, program_id: &str, purchase_id: &str) -> QueryResult<Option<Referral>> {
    referrals::table
        .filter(referrals::program_id.eq(program_id))
        .filter(referrals::purchase_id.eq(purchase_id))
        .select(Referral::as_select())
        .first(conn)
        .optional()
}

/// Moves the referral from `from` to `to` in one conditional UPDATE: of two transactions deciding
/// the same referral at once, exactly one gets `true`.
pub fn transition(
    conn: &mut DbConn,
    id: &str,
    from: ReferralStatus,
    to: ReferralStatus,
    reason: Option<&str>,
    purchase_id: Option<&str>,
) -> QueryResult<bool> {
    let target = referrals::table.filter(referrals::id.eq(id)).filter(referrals::status.eq(from));
    let n = match purchase_id {
        Some(p) => diesel::update(target)
            .set((
                referrals::status.eq(to),
                referrals::reason.eq(reason),
                referrals::purchase_id.eq(p),
                referrals::decided_at.eq(now()),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((referrals::status.eq(to), referrals::reason.eq(reason), referrals::decided_at.eq(now())))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// Newest first, for one referrer card or the whole program.
pub fn list(
    conn: &mut DbConn,
    program_id: &str,
    referrer_card_id: Option<&str>,
    status: Option<ReferralStatus>,
    limit: i64,
) -> QueryResult<Vec<Referral>> {
    let mut query = referrals::table.filter(referrals::program_id.eq(program_id)).into_boxed();
    if let Some(card) = referrer_card_id {
        query = query.filter(referrals::referrer_card_id.eq(card));
    }
    if let Some(status) = status {
        query = query.filter(referrals::status.eq(status));
    }
    query
        .order((referrals::created_at.desc(), referrals::id.desc()))
        .limit(limit)
        .select(Referral::as_select())
        .load(conn)
}

/// (status, reason, count) over the program.
pub fn stats(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<(ReferralStatus, Option<String>, i64)>> {
    referrals::table
        .filter(referrals::program_id.eq(program_id))
        .group_by((referrals::status, referrals::reason))
        .select((referrals::status, referrals::reason, diesel::dsl::count_star()))
        .load(conn)
}

/// Records a reward; false when this beneficiary of this referral was already rewarded.
pub fn insert_reward(
    conn: &mut DbConn,
    referral_id: &str,
    beneficiary: &str,
    program_id: &str,
    card_id: &str,
    points: i64,
) -> QueryResult<bool> {
    let row = (
        referral_rewards::referral_id.eq(referral_id),
        referral_rewards::beneficiary.eq(beneficiary),
        referral_rewards::program_id.eq(program_id),
        referral_rewards::card_id.eq(card_id),
        referral_rewards::points.eq(points),
        referral_rewards::clawed_back.eq(false),
        referral_rewards::created_at.eq(now()),
    );
    let n = insert_or_ignore!(conn, referral_rewards::table, row)?;
    Ok(n == 1)
}

/// The rewards not yet clawed back, marking them clawed back (each exactly once).
pub fn claw_back_rewards(conn: &mut DbConn, referral_id: &str) -> QueryResult<Vec<(String, String, i64)>> {
    let rows: Vec<(String, String, i64)> = referral_rewards::table
        .filter(referral_rewards::referral_id.eq(referral_id))
        .filter(referral_rewards::clawed_back.eq(false))
        .select((referral_rewards::beneficiary, referral_rewards::card_id, referral_rewards::points))
        .load(conn)?;
    let mut taken = Vec::new();
    for (beneficiary, card_id, points) in rows {
        let n = diesel::update(
            referral_rewards::table
                .filter(referral_rewards::referral_id.eq(referral_id))
                .filter(referral_rewards::beneficiary.eq(&beneficiary))
                .filter(referral_rewards::clawed_back.eq(false)),
        )
        .set(referral_rewards::clawed_back.eq(true))
        .execute(conn)?;
        if n == 1 {
            taken.push((beneficiary, card_id, points));
        }
    }
    Ok(taken)
}

/// Counts one more rewarded referral for the referrer in `period`, unless that reaches past
/// `limit`: one conditional UPDATE on a row created beforehand if missing. False = limit reached.
pub fn count_reward(
    conn: &mut DbConn,
    program_id: &str,
    referrer_card_id: &str,
    period: &str,
    limit: Option<i64>,
) -> QueryResult<bool> {
    let row = (
        referral_counters::referrer_card_id.eq(referrer_card_id),
        referral_counters::period.eq(period),
        referral_counters::program_id.eq(program_id),
        referral_counters::rewarded.eq(0i64),
    );
    insert_or_ignore!(conn, referral_counters::table, row)?;
    let target = referral_counters::table
        .filter(referral_counters::referrer_card_id.eq(referrer_card_id))
        .filter(referral_counters::period.eq(period))
        .filter(referral_counters::rewarded.lt(limit.unwrap_or(i64::MAX)));
    Ok(diesel::update(target).set(referral_counters::rewarded.eq(referral_counters::rewarded + 1)).execute(conn)? == 1)
}

pub fn uncount_reward(conn: &mut DbConn, referrer_card_id: &str, period: &str) -> QueryResult<()> {
    diesel::update(
        referral_counters::table
            .filter(referral_counters::referrer_card_id.eq(referrer_card_id))
            .filter(referral_counters::period.eq(period))
            .filter(referral_counters::rewarded.gt(0)),
    )
    .set(referral_counters::rewarded.eq(referral_counters::rewarded - 1))
    .execute(conn)
    .map(drop)
}

pub fn rewarded_count(conn: &mut DbConn, referrer_card_id: &str, period: &str) -> QueryResult<i64> {
    Ok(referral_counters::table
        .filter(referral_counters::referrer_card_id.eq(referrer_card_id))
        .filter(referral_counters::period.eq(period))
        .select(referral_counters::rewarded)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}
