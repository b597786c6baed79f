//! Enrolment: a customer and their card, in one transaction.

use std::collections::BTreeMap;

use chrono::Timelike;

use serde::{Deserialize, Serialize};

use super::Actor;
use super::idempotency::{self, Idempotent, Stored};
use super::referrals::{self, ReferralDto};
use crate::db::repo::cards::{self as card_repo, Card};
use crate::db::repo::customers::{Customer, NewConsent};
use crate::db::{Db, DbConn, repo};
use crate::domain::card::{Barcode, CardNumber, random_token};
use crate::domain::codes::ReferralCode;
use crate::domain::email::Email;
use crate::domain::status::CardStatus;
use crate::domain::text::{DeviceId, Locale, PersonName, Phone};
use crate::dto::{CardDto, CustomerDto};
use crate::error::{AppError, AppResult};
use actix_web::http::StatusCode;

/// The purposes a customer consents to separately (GDPR: profiling is not a condition of the programme).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Terms,
    MarketingEmail,
    MarketingSms,
    Profiling,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Terms => "terms",
            Purpose::MarketingEmail => "marketing_email",
            Purpose::MarketingSms => "marketing_sms",
            Purpose::Profiling => "profiling",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    pub email: Email,
    pub first_name: PersonName,
    #[serde(default)]
    pub phone: Option<Phone>,
    #[serde(default)]
    pub locale: Option<Locale>,
    #[serde(default)]
    pub consents: BTreeMap<Purpose, bool>,
    /// A friend's referral code: this customer becomes their referee.
    #[serde(default)]
    pub referral_code: Option<ReferralCode>,
    /// An id of the customer's device (set by the enrolment pages), used only, hashed, to spot self-referral.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
}

#[derive(Debug, Serialize)]
pub struct Enrolled {
    pub customer: CustomerDto,
    pub card: CardDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralDto>,
}

/// Where the consent was given, for the consent log.
pub const CHANNEL_STAFF_API: &str = "staff_api";

pub async fn enrol(db: &Db, actor: &Actor, idem: Option<Idempotent>, input: Enrolment) -> AppResult<Stored> {
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::maybe_once(conn, &actor.program_id, idem.as_ref(), StatusCode::CREATED, |conn| {
            let enrolled = enrol_in(conn, &actor.program_id, input, CHANNEL_STAFF_API)?;
            // Enrolled at the till, the customer still wants the card on their phone: the welcome
            // e-mail brings the card link and the wallet buttons.
            let welcome = crate::mail::Mail::Welcome {
                program_id: actor.program_id.clone(),
                customer_id: enrolled.customer.id.clone(),
            };
            crate::mail::queue(conn, &welcome)?;
            Ok(enrolled)
        })
    })
    .await
}

/// Enrols inside the caller's transaction; the customer pages reuse it with their own channel.
pub fn enrol_in(conn: &mut DbConn, program_id: &str, input: Enrolment, channel: &str) -> AppResult<Enrolled> {
    let program = repo::programs::find(conn, program_id)?;
    if repo::customers::exists_email(conn, program_id, input.email.as_str())? {
        return Err(customer_exists());
    }
    let now = repo::now();
    let signals = referrals::signals(
        conn,
        input.email.as_str(),
        input.phone.as_ref().map(Phone::as_str),
        input.device_id.as_ref().map(DeviceId::as_str),
    )?;
    let customer = Customer {
        id: repo::new_id(),
        program_id: program_id.to_owned(),
        email: input.email.as_str().to_owned(),
        first_name: input.first_name.into_inner(),
        phone: input.phone.map(|p| p.as_str().to_owned()),
        locale: input.locale.map_or(program.locale.clone(), |l| l.as_str().to_owned()),
        created_at: now,
        email_key: Some(signals.email_key),
        phone_key: signals.phone_key,
        device_key: signals.device_key,
        erased_at: None,
    };
    repo::customers::insert(conn, &customer).map_err(|e| super::programs::map_unique(e, customer_exists()))?;
    for (purpose, granted) in &input.consents {
        repo::customers::insert_consent(
            conn,
            &NewConsent {
                program_id,
                customer_id: &customer.id,
                purpose: purpose.as_str(),
                granted: *granted,
                channel,
                created_at: now,
            },
        )?;
    }
    let card = issue_card(conn, program_id, &customer.id)?;
    let referral = match &input.referral_code {
        Some(code) => Some(referrals::attach(conn, &program, &customer, &card, code)?),
        None => None,
    };
    let consents = repo::customers::current_consents(conn, program_id, &customer.id)?;
    Ok(Enrolled { customer: CustomerDto::new(&customer, &consents), card: CardDto::from(&card), referral })
}

fn customer_exists() -> AppError {
    AppError::conflict("customer_exists", "a customer with this e-mail is already enrolled in this program")
}

/// A new active card of the customer, with freshly drawn number, barcode, referral code and
/// tokens, not yet written.
pub fn new_card(program_id: &str, customer_id: &str, now: chrono::NaiveDateTime) -> Card {
    Card {
        id: repo::new_id(),
        program_id: program_id.to_owned(),
        customer_id: customer_id.to_owned(),
        number: CardNumber::generate().as_str().to_owned(),
        barcode: Barcode::generate().as_str().to_owned(),
        serial: repo::new_id(),
        auth_token: random_token(32),
        status: CardStatus::Active,
        balance: 0,
        pass_version: 1,
        created_at: now,
        updated_at: now,
        referral_code: Some(referrals::new_code()),
        pass_seq: 0,
        pass_updated_at: now.with_nanosecond(0).unwrap_or(now),
        link_token: random_token(32),
        apple_devices: 0,
    }
}

/// A new card with a fresh number and referral code; one already taken (a number: one chance in
/// ~10^11; a code: ~10^9) is drawn again inside a savepoint, so the enrolment never fails on it.
fn issue_card(conn: &mut DbConn, program_id: &str, customer_id: &str) -> AppResult<Card> {
    use diesel::Connection;
    let now = repo::now();
    for _ in 0..5 {
        let card = new_card(program_id, customer_id, now);
        match conn.transaction(|c| card_repo::insert(c, &card)) {
            Ok(()) => return Ok(card),
            // Taken: the next round draws another number and code.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("could not draw a free card number in 5 attempts")))
}
