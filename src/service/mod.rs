//! Use cases. Each public function is one transaction: it checks the rules of the domain, writes,
//! and enqueues its side effects in the same transaction.

pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod card_changes;
pub mod cards;
pub mod consents;
pub mod console_auth;
pub mod conversions;
pub mod customer_auth;
pub mod customer_pages;
pub mod customers;
pub mod dashboard;
pub mod designs;
pub mod expiry;
pub mod google_wallet;
pub mod idempotency;
pub mod insights;
pub mod locations;
pub mod members;
pub mod passes;
pub mod passkit;
pub mod points;
pub mod presets;
pub mod privacy;
pub mod program_settings;
pub mod programs;
pub mod promo_codes;
pub mod promos;
pub mod purchase_list;
pub mod purchases;
pub mod referrals;
pub mod reversals;
pub mod rewards;
pub mod sales_totals;
pub mod segments;
pub mod staff;
pub mod tiers;
pub mod vouchers;

use crate::domain::role::Role;
use crate::error::{AppError, AppResult};

/// Who is calling: taken from a verified staff token, never from the request body.
#[derive(Debug, Clone)]
pub struct Actor {
    pub staff_id: String,
    pub program_id: String,
    pub role: Role,
    pub location_id: Option<String>,
}

impl Actor {
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(AppError::forbidden(format!("this needs the {} role or above", role.as_str())))
        }
    }
}

/// Counts one request against each `(key, limit)` of the current window of `window_seconds`,
/// in its own transaction (a refusal must not roll the count back), then refuses with 429 and
/// `Retry-After` once a key is past its limit. Counted in the database, so the limit holds
/// across every node.
pub async fn rate_limit(db: &crate::db::Db, keys: Vec<(String, i64)>, window_seconds: i64) -> AppResult<()> {
    let (window, retry_after) = crate::db::repo::rate_limits::current_window(window_seconds);
    let over = db.write(move |c| Ok(crate::db::repo::rate_limits::hit_all(c, &keys, window)?)).await?;
    if over {
        return Err(AppError::TooManyRequests { retry_after_seconds: retry_after });
    }
    Ok(())
}
