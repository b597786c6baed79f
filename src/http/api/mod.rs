pub mod auth;
pub mod cards;
pub mod customers;
pub mod purchases;
