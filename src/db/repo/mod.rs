//! Queries, one module per table. Functions take `&mut DbConn` so they run inside the caller's
//! transaction; none of them opens one of its own.

pub mod apple;
pub mod cards;
pub mod customers;
pub mod google;
pub mod idempotency;
pub mod ledger;
pub mod outbox;
pub mod programs;
pub mod promos;
pub mod purchases;
pub mod rate_limits;
pub mod referrals;
pub mod secrets;
pub mod staff;

/// Naive UTC, the one time representation both backends store the same way.
pub fn now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Time-ordered random ids (UUIDv7): unguessable, and index-friendly on both backends.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
