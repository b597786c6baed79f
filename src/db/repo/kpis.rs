//! The raw rows the KPIs are computed from, one statement per source over the whole range: the
//! periods are local calendar days and months, which only the programme's time zone can cut, so
//! the bucketing is done in Rust (`service::insights::kpi_figures`) rather than in SQL.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{
    cards, customers, ledger_entries, promo_redemptions, purchases, referrals, sales_totals, vouchers,
};
use crate::domain::ledger::EntryKind;
use crate::domain::status::{ReferralStatus, VoucherState};

/// A sale by a member that was not wholly returned.
#[derive(Debug, Clone, Queryable)]
pub struct Sale {
    pub card_id: String,
    pub location_id: Option<String>,
    pub occurred_at: NaiveDateTime,
    pub amount_cents: i64,
    pub returned_cents: i64,
    pub discount_cents: i64,
}

impl Sale {
    /// What the sale left: its amount less what was returned and the discounts, never below 0.
    pub fn net_cents(&self) -> i64 {
        (self.amount_cents - self.returned_cents - self.discount_cents).max(0)
    }
}

pub fn sales(
    conn: &mut DbConn,
    program_id: &str,
    location_id: Option<&str>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Sale>> {
    let mut query = purchases::table
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::occurred_at.ge(from))
        .filter(purchases::occurred_at.lt(to))
        .filter(purchases::returned_cents.lt(purchases::amount_cents))
        .select((
            purchases::card_id,
            purchases::location_id,
            purchases::occurred_at,
            purchases::amount_cents,
            purchases::returned_cents,
            purchases::discount_cents,
        ))
        .into_boxed();
    if let Some(location_id) = location_id {
        query = query.filter(purchases::location_id.eq(location_id));
    }
    query.load(conn)
}

/// A member: their card, when they enrolled and when they were erased.
#[derive(Debug, Clone, Queryable)]
pub struct Member {
    pub card_id: String,
    pub enrolled_at: NaiveDateTime,
    pub erased_at: Option<NaiveDateTime>,
}

/// Every member who enrolled before `to`.
pub fn members(conn: &mut DbConn, program_id: &str, to: NaiveDateTime) -> QueryResult<Vec<Member>> {
    cards::table
        .inner_join(customers::table)
        .filter(cards::program_id.eq(program_id))
        .filter(customers::created_at.lt(to))
        .select((cards::id, customers::created_at, customers::erased_at))
        .load(conn)
}

/// A referral: the card it brought, where it stands, when it started.
#[derive(Debug, Clone, Queryable)]
pub struct Referral {
    pub referee_card_id: String,
    pub status: ReferralStatus,
    pub created_at: NaiveDateTime,
}

/// Every referral of the programme: which members came by one (a referral is written a moment
/// after its referee enrolled), and those started in each period.
pub fn referrals(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<Referral>> {
    referrals::table
        .filter(referrals::program_id.eq(program_id))
        .select((referrals::referee_card_id, referrals::status, referrals::created_at))
        .load(conn)
}

/// A move of points of one of the kinds the KPIs count.
#[derive(Debug, Clone, Queryable)]
pub struct Move {
    pub kind: String,
    pub delta: i64,
    pub created_at: NaiveDateTime,
}

pub fn moves(
    conn: &mut DbConn,
    program_id: &str,
    kinds: &[EntryKind],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Move>> {
    ledger_entries::table
        .filter(ledger_entries::program_id.eq(program_id))
        .filter(ledger_entries::kind.eq_any(kinds.iter().map(|k| k.as_str())))
        .filter(ledger_entries::created_at.ge(from))
        .filter(ledger_entries::created_at.lt(to))
        .select((ledger_entries::kind, ledger_entries::delta, ledger_entries::created_at))
        .load(conn)
}

/// The sum of every move of points before `at`: the points members held then (debts netted).
pub fn points_held(conn: &mut DbConn, program_id: &str, at: NaiveDateTime) -> QueryResult<i64> {
    ledger_entries::table
        .filter(ledger_entries::program_id.eq(program_id))
        .filter(ledger_entries::created_at.lt(at))
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>("CAST(COALESCE(SUM(delta), 0) AS BIGINT)"))
        .first(conn)
}

/// A voucher that was issued, used or expired in the range.
#[derive(Debug, Clone, Queryable)]
pub struct Voucher {
    pub kind: String,
    pub value: Option<i64>,
    pub state: VoucherState,
    pub created_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub discount_cents: Option<i64>,
    pub expires_at: NaiveDateTime,
}

pub fn vouchers(
    conn: &mut DbConn,
    program_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<Voucher>> {
    vouchers::table
        .filter(vouchers::program_id.eq(program_id))
        .filter(
            vouchers::created_at
                .ge(from)
                .and(vouchers::created_at.lt(to))
                .or(vouchers::used_at.ge(from).and(vouchers::used_at.lt(to)))
                .or(vouchers::expires_at.ge(from).and(vouchers::expires_at.lt(to))),
        )
        .select((
            vouchers::kind,
            vouchers::value,
            vouchers::state,
            vouchers::created_at,
            vouchers::used_at,
            vouchers::discount_cents,
            vouchers::expires_at,
        ))
        .load(conn)
}

/// The discounts of promo codes applied in the range (not rolled back): (when, cents).
pub fn promo_discounts(
    conn: &mut DbConn,
    program_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, i64)>> {
    promo_redemptions::table
        .filter(promo_redemptions::program_id.eq(program_id))
        .filter(promo_redemptions::status.eq("applied"))
        .filter(promo_redemptions::created_at.ge(from))
        .filter(promo_redemptions::created_at.lt(to))
        .select((promo_redemptions::created_at, promo_redemptions::discount_cents))
        .load(conn)
}

/// The tills' daily totals from `from` to `to` (excluded): (shop, day, transactions, revenue).
pub fn sales_totals(
    conn: &mut DbConn,
    program_id: &str,
    location_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(String, NaiveDate, i64, i64)>> {
    let mut query = sales_totals::table
        .filter(sales_totals::program_id.eq(program_id))
        .filter(sales_totals::day.ge(from))
        .filter(sales_totals::day.lt(to))
        .select((sales_totals::location_id, sales_totals::day, sales_totals::transactions, sales_totals::revenue_cents))
        .into_boxed();
    if let Some(location_id) = location_id {
        query = query.filter(sales_totals::location_id.eq(location_id));
    }
    query.load(conn)
}

/// What the programme's conversion rule makes of points, when it has one: (cents, per points).
pub fn conversion_value(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<(i64, i64)>> {
    use crate::db::schema::conversion_settings as cs;
    cs::table
        .filter(cs::program_id.eq(program_id))
        .filter(cs::mode.ne("off"))
        .filter(cs::block_points.gt(0))
        .select((cs::value_cents_per_block, cs::block_points))
        .first(conn)
        .optional()
}
