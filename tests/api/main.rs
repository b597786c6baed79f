//! The one integration-test binary: every module links into it, sharing one build.
//! `cargo test` runs it on SQLite; `ENCARTE_TEST_DATABASE_URL=postgres://...` runs it on PostgreSQL.

// Test code may unwrap and cast: a panic there is the failure report.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

mod apns_mock;
mod google_mock;
mod helpers;

mod admin_members;
mod admin_program;
mod admin_staff;
mod apple_wallet;
mod auth;
mod browser;
mod campaigns;
mod card_page;
mod cards;
mod console;
mod console_insights;
mod conversions;
mod customers;
mod edge;
mod enrolment;
mod errors;
mod expiry;
mod google_wallet;
mod idempotency;
mod insights;
mod isolation;
mod kpis;
mod ledger_props;
mod lots_props;
mod mail;
mod migrations;
mod outbox;
mod pages;
mod pass_designs;
mod passes;
mod passkit_limits;
mod promos;
mod purchases;
mod referrals;
mod schema_drift;
mod segments;
mod staff_page;
mod startup;
mod statuses;
mod tiers;
mod vouchers;
mod worker_wake;
