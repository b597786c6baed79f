//! Queries, one module per table. Functions take `&mut DbConn` so they run inside the caller's
//! transaction; none of them opens one of its own.

/// `INSERT ... ON CONFLICT DO NOTHING` on either backend (diesel's `MultiConnection` can't say it),
/// giving the number of rows inserted: 1 when the row is new, 0 when it existed.
macro_rules! insert_or_ignore {
    ($conn:expr, $table:expr, $values:expr) => {
        match $conn {
            $crate::db::DbConn::Pg(c) => {
                diesel::insert_into($table).values($values).on_conflict_do_nothing().execute(c)
            }
            $crate::db::DbConn::Sqlite(c) => {
                diesel::insert_into($table).values($values).on_conflict_do_nothing().execute(c)
            }
        }
    };
}

/// A multi-row `INSERT` on either backend (`MultiConnection` can't batch one: SQLite and
/// PostgreSQL spell it differently), giving the number of rows inserted.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConn::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    };
}

/// Ids bound in one `IN (...)` / `= ANY(...)`, and rows in one multi-row INSERT: far below
/// SQLite's 32,766 bound parameters even for the widest row written in batches (vouchers).
pub const IDS_PER_STATEMENT: usize = 500;
pub const ROWS_PER_INSERT: usize = 500;

pub mod apple;
pub mod audit;
pub mod campaigns;
pub mod cards;
pub mod conversions;
pub mod customer_auth;
pub mod customers;
pub mod dashboard;
pub mod designs;
pub mod expiry;
pub mod google;
pub mod idempotency;
pub mod kpis;
pub mod ledger;
pub mod lots;
pub mod outbox;
pub mod programs;
pub mod promos;
pub mod purchases;
pub mod rate_limits;
pub mod referrals;
pub mod reversals;
pub mod rewards;
pub mod rfm;
pub mod sales_totals;
pub mod secrets;
pub mod segments;
pub mod staff;
pub mod tiers;
pub mod vouchers;

/// Naive UTC, the one time representation both backends store the same way.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Time-ordered random ids (UUIDv7): unguessable, and index-friendly on both backends.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
