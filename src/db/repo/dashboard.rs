//! The figures of the console's home page: counts and sums over a time range, one statement each.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{customers, ledger_entries, outbox_jobs, promo_campaigns, purchases, vouchers};
use crate::domain::ledger::EntryKind;
use crate::domain::status::{CampaignStatus, JobState};

/// `SUM(column)` as a BIGINT, 0 over no row (PostgreSQL sums BIGINT as NUMERIC: cast back).
fn total(column: &'static str) -> diesel::expression::SqlLiteral<diesel::sql_types::BigInt> {
    diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)"))
}

pub fn new_members(conn: &mut DbConn, program_id: &str, from: NaiveDateTime, to: NaiveDateTime) -> QueryResult<i64> {
    customers::table
        .filter(customers::program_id.eq(program_id))
        .filter(customers::created_at.ge(from))
        .filter(customers::created_at.lt(to))
        .select(count_star())
        .first(conn)
}

/// Purchases by members that happened in the range (at one shop, or anywhere), and their amount.
pub fn purchases(
    conn: &mut DbConn,
    program_id: &str,
    location_id: Option<&str>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    let mut query = purchases::table
        .filter(purchases::program_id.eq(program_id))
        .filter(purchases::occurred_at.ge(from))
        .filter(purchases::occurred_at.lt(to))
        .select((count_star(), total("amount_cents")))
        .into_boxed();
    if let Some(location_id) = location_id {
        query = query.filter(purchases::location_id.eq(location_id));
    }
    query.first(conn)
}

/// The sum of the ledger's moves of these kinds in the range (signed).
pub fn points(
    conn: &mut DbConn,
    program_id: &str,
    kinds: &[EntryKind],
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<i64> {
    ledger_entries::table
        .filter(ledger_entries::program_id.eq(program_id))
        .filter(ledger_entries::kind.eq_any(kinds.iter().map(|k| k.as_str())))
        .filter(ledger_entries::created_at.ge(from))
        .filter(ledger_entries::created_at.lt(to))
        .select(total("delta"))
        .first(conn)
}

pub fn vouchers_used(conn: &mut DbConn, program_id: &str, from: NaiveDateTime, to: NaiveDateTime) -> QueryResult<i64> {
    vouchers::table
        .filter(vouchers::program_id.eq(program_id))
        .filter(vouchers::used_at.ge(from))
        .filter(vouchers::used_at.lt(to))
        .select(count_star())
        .first(conn)
}

/// Jobs of the programme that gave up after their last attempt.
pub fn failed_jobs(conn: &mut DbConn, program_id: &str) -> QueryResult<i64> {
    outbox_jobs::table
        .filter(outbox_jobs::program_id.eq(program_id))
        .filter(outbox_jobs::state.eq(JobState::Failed))
        .select(count_star())
        .first(conn)
}

/// Pools still being generated: (campaign name, codes generated, codes asked).
pub fn pools_generating(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<(String, i64, i64)>> {
    promo_campaigns::table
        .filter(promo_campaigns::program_id.eq(program_id))
        .filter(promo_campaigns::kind.eq("pool"))
        .filter(promo_campaigns::status.ne(CampaignStatus::Ended))
        .filter(promo_campaigns::pool_generated.lt(promo_campaigns::pool_size))
        .select((promo_campaigns::name, promo_campaigns::pool_generated, promo_campaigns::pool_size))
        .load(conn)
}
