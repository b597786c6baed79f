//! Referral (parrainage): a customer enrols with a friend's code; the friend's first purchase of
//! at least the programme's minimum, within its window, rewards both exactly once. A return that
//! takes the qualifying purchase below the minimum claws both rewards back.
//!
//! - `enrol`: a customer enrolling with a friend's code.
//! - `hooks`: what a purchase (qualification, rewards) and a return (claw-back) do to a referral.
//! - `settings`: the programme's scheme (GET/PUT).
//! - `reports`: a card's referrals, the programme's list, the statistics.
//! - `codes`: each card's referral code, and the backfill for older cards.

mod codes;
mod enrol;
mod hooks;
mod reports;
mod settings;

pub use self::codes::{backfill_codes, new_code};
pub use self::enrol::{Signals, attach, signals};
pub use self::hooks::{on_purchase, on_return};
pub use self::reports::{CardReferrals, Stats, for_card, list, stats};
pub use self::settings::{SettingsDto, SettingsInput, get_settings, put_settings};

use chrono::{Datelike, NaiveDateTime};
use serde::Serialize;

use crate::db::repo::programs::Program;
use crate::db::repo::referrals::Referral;
use crate::domain::status::ReferralStatus;
use crate::dto::time;

/// Why a referral was not rewarded. Stable: shown to staff and customers, counted in statistics.
pub mod reason {
    pub const SELF_REFERRAL: &str = "self_referral";
    pub const ALREADY_CUSTOMER: &str = "already_customer";
    pub const CODE_EXPIRED: &str = "code_expired";
    pub const REFERRER_BLOCKED: &str = "referrer_blocked";
    pub const LIMIT_REACHED: &str = "limit_reached";
    pub const WINDOW_PASSED: &str = "window_passed";
    pub const PURCHASE_RETURNED: &str = "qualifying_purchase_returned";
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferralDto {
    pub id: String,
    pub referrer_card_id: String,
    pub referee_card_id: String,
    pub status: ReferralStatus,
    pub reason: Option<String>,
    pub purchase_id: Option<String>,
    pub expires_at: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl From<&Referral> for ReferralDto {
    fn from(r: &Referral) -> Self {
        ReferralDto {
            id: r.id.clone(),
            referrer_card_id: r.referrer_card_id.clone(),
            referee_card_id: r.referee_card_id.clone(),
            status: r.status,
            reason: r.reason.clone(),
            purchase_id: r.purchase_id.clone(),
            expires_at: time(r.expires_at),
            created_at: time(r.created_at),
            decided_at: r.decided_at.map(time),
        }
    }
}

/// "2026-11": the calendar month of `at` in the programme's time zone.
fn month_of(program: &Program, at: NaiveDateTime) -> String {
    let tz: chrono_tz::Tz = program.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local = at.and_utc().with_timezone(&tz);
    format!("{:04}-{:02}", local.year(), local.month())
}
