pub mod auth;
pub mod cards;
pub mod customers;
pub mod ledger;
pub mod passes;
pub mod promos;
pub mod purchases;
pub mod referrals;
