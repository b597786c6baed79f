//! A customer enrolling with a friend's code: the referral is recorded, pending or rejected
//! with its reason, in the enrolment's transaction.

use super::{ReferralDto, month_of, reason};
use crate::db::repo::cards::{self as card_repo, Card};
use crate::db::repo::customers::Customer;
use crate::db::repo::programs::Program;
use crate::db::repo::referrals::{self as repo_ref, Referral, Settings};
use crate::db::{DbConn, repo};
use crate::domain::codes::ReferralCode;
use crate::domain::identity::{canonical_email, phone_digits, signal_key};
use crate::domain::status::CardStatus;
use crate::domain::status::ReferralStatus::{Pending, Rejected};
use crate::error::{AppError, AppResult};

/// The salted keys of a new customer's signals.
pub struct Signals {
    pub email_key: String,
    pub phone_key: Option<String>,
    pub device_key: Option<String>,
}

pub fn signals(conn: &mut DbConn, email: &str, phone: Option<&str>, device: Option<&str>) -> AppResult<Signals> {
    let salt = repo::secrets::get_or_create(conn, "signal_salt", &crate::domain::card::random_token(32))?;
    Ok(Signals {
        email_key: signal_key(&salt, "email", &canonical_email(email)),
        phone_key: phone.and_then(phone_digits).map(|d| signal_key(&salt, "phone", &d)),
        device_key: device.map(|d| signal_key(&salt, "device", d.trim())),
    })
}

/// Records that `referee` enrolled with `code`. Unknown codes and a programme without referral
/// are refused (the till can correct them); every other refusal enrols the customer anyway and
/// keeps the referral as rejected, with its reason.
pub fn attach(
    conn: &mut DbConn,
    program: &Program,
    referee: &Customer,
    referee_card: &Card,
    code: &ReferralCode,
) -> AppResult<ReferralDto> {
    let settings = repo_ref::settings(conn, &program.id)?
        .filter(|s| s.enabled)
        .ok_or_else(|| AppError::unprocessable("referral_disabled", "this programme has no referral scheme"))?;
    let referrer_card = card_repo::find_by_referral_code(conn, &program.id, code.as_str())?
        .ok_or_else(|| AppError::unprocessable("referral_code_unknown", "no card has this referral code"))?;
    let referrer = repo::customers::find(conn, &program.id, &referrer_card.customer_id)?;
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    let refusal = if referrer_card.status == CardStatus::Closed {
        Some(reason::CODE_EXPIRED)
    } else if referrer_card.status != CardStatus::Active {
        Some(reason::REFERRER_BLOCKED)
    } else if same(&referrer.email_key, &referee.email_key)
        || same(&referrer.phone_key, &referee.phone_key)
        || same(&referrer.device_key, &referee.device_key)
    {
        Some(reason::SELF_REFERRAL)
    } else if let Some(key) = &referee.email_key
        && repo::customers::other_with_email_key(conn, &program.id, key, &referee.id)?
    {
        Some(reason::ALREADY_CUSTOMER)
    } else if limit_reached(conn, program, &settings, &referrer_card.id)? {
        Some(reason::LIMIT_REACHED)
    } else {
        None
    };
    let now = repo::now();
    let referral = Referral {
        id: repo::new_id(),
        program_id: program.id.clone(),
        referrer_card_id: referrer_card.id.clone(),
        referee_card_id: referee_card.id.clone(),
        status: if refusal.is_some() { Rejected } else { Pending },
        reason: refusal.map(str::to_owned),
        purchase_id: None,
        expires_at: now + chrono::Duration::days(settings.window_days),
        created_at: now,
        decided_at: refusal.map(|_| now),
    };
    repo_ref::insert(conn, &referral)?;
    Ok(ReferralDto::from(&referral))
}

fn limit_reached(conn: &mut DbConn, program: &Program, settings: &Settings, referrer_card_id: &str) -> AppResult<bool> {
    let total = repo_ref::rewarded_count(conn, referrer_card_id, "total")?;
    let month = repo_ref::rewarded_count(conn, referrer_card_id, &month_of(program, repo::now()))?;
    Ok(settings.max_total.is_some_and(|m| total >= m) || settings.max_per_month.is_some_and(|m| month >= m))
}
