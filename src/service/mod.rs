//! Use cases. Each public function is one transaction: it checks the rules of the domain, writes,
//! and enqueues its side effects in the same transaction.

pub mod auth;
pub mod cards;
pub mod customer_auth;
pub mod customer_pages;
pub mod customers;
pub mod google_wallet;
pub mod idempotency;
pub mod passes;
pub mod passkit;
pub mod points;
pub mod privacy;
pub mod programs;
pub mod promo_codes;
pub mod promos;
pub mod purchases;
pub mod referrals;
pub mod reversals;

use crate::domain::role::Role;

/// Who is calling: taken from a verified staff token, never from the request body.
#[derive(Debug, Clone)]
pub struct Actor {
    pub staff_id: String,
    pub program_id: String,
    pub role: Role,
    pub location_id: Option<String>,
}

impl Actor {
    pub fn require(&self, role: Role) -> Result<(), crate::error::AppError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(crate::error::AppError::forbidden(format!("this needs the {} role or above", role.as_str())))
        }
    }
}
