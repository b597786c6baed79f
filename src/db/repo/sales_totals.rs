//! A shop's daily sales as its till reports them: one row per shop and local day.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::sales_totals;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = sales_totals)]
pub struct SalesTotal {
    pub location_id: String,
    pub day: NaiveDate,
    pub program_id: String,
    pub transactions: i64,
    pub revenue_cents: i64,
    pub staff_id: Option<String>,
    pub updated_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConn, location_id: &str, day: NaiveDate) -> QueryResult<Option<SalesTotal>> {
    sales_totals::table.find((location_id, day)).select(SalesTotal::as_select()).first(conn).optional()
}

/// Writes the day's report, replacing an earlier one. The caller's transaction holds the row
/// it read before (or the insert's conflict decides), so two reports of one day leave the last.
pub fn put(conn: &mut DbConn, row: &SalesTotal) -> QueryResult<()> {
    let updated = diesel::update(sales_totals::table.find((&row.location_id, row.day)))
        .set((
            sales_totals::transactions.eq(row.transactions),
            sales_totals::revenue_cents.eq(row.revenue_cents),
            sales_totals::staff_id.eq(&row.staff_id),
            sales_totals::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(sales_totals::table).values(row).execute(conn)?;
    }
    Ok(())
}

/// The programme's reports of the days `from..=to`, of one shop or all, by day then shop.
pub fn range(
    conn: &mut DbConn,
    program_id: &str,
    location_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<SalesTotal>> {
    let mut query = sales_totals::table
        .filter(sales_totals::program_id.eq(program_id))
        .filter(sales_totals::day.ge(from))
        .filter(sales_totals::day.le(to))
        .select(SalesTotal::as_select())
        .order((sales_totals::day, sales_totals::location_id))
        .into_boxed();
    if let Some(location_id) = location_id {
        query = query.filter(sales_totals::location_id.eq(location_id));
    }
    query.load(conn)
}
