//! Members as the console shows them: search, a member's page, corrections to their profile,
//! and the privacy actions of the card page done by staff (export, erasure with a reason).
//! Managers and owners only. The audit log names the personal fields a write changed, never
//! their values: it is append-only and outlives an erasure.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::audit::{self, What};
use super::{Actor, card_changes};
use crate::db::repo::cards::Card;
use crate::db::repo::customers::{Customer, Profile, Search};
use crate::db::{Db, DbConn, repo};
use crate::domain::email::Email;
use crate::domain::patch::Patch;
use crate::domain::role::Role;
use crate::domain::status::CardStatus;
use crate::domain::text::{Locale, PersonName, Phone, Reason};
use crate::dto::{CardDto, ConsentDto, CustomerDto, PurchaseDto, TierView, time};
use crate::error::{AppError, AppResult};
use crate::service::insights::rfm_views::ScoreDto;
use crate::service::referrals::ReferralDto;
use crate::service::vouchers::VoucherDto;

pub const MAX_PAGE: i64 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub status: Option<CardStatus>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub before: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MemberRow {
    pub id: String,
    pub email: Option<String>,
    pub first_name: String,
    pub phone: Option<String>,
    pub erased: bool,
    pub card_id: String,
    pub card_number: String,
    pub status: CardStatus,
    pub balance: i64,
    pub tier: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize)]
pub struct MemberPage {
    pub members: Vec<MemberRow>,
    /// Pass as `before` for the next page; null on the last one.
    pub next_before: Option<String>,
}

fn not_found() -> AppError {
    AppError::not_found("customer_not_found", "no such customer in this program")
}

pub async fn list(db: &Db, actor: &Actor, q: ListQuery) -> AppResult<MemberPage> {
    actor.require(Role::Manager)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid_field("limit", format!("from 1 to {MAX_PAGE}")));
    }
    let text = q.query.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    if text.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(AppError::invalid_field("query", "at most 100 characters"));
    }
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let tiers = super::tiers::rules::of_program(c, &program_id)?;
        let tier = match q.tier {
            None => None,
            Some(key) => {
                let entry = tiers.list().first().is_some_and(|t| t.key == key);
                if tiers.find(&key).is_none() {
                    return Err(AppError::invalid_field("tier", "no tier with this key"));
                }
                Some((key, entry))
            }
        };
        let search = Search { text, tier, status: q.status, erased: q.status == Some(CardStatus::Closed) };
        let rows = repo::customers::search(c, &program_id, &search, q.before.as_deref(), limit + 1)?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let card_ids: Vec<&str> = rows.iter().map(|(_, card)| card.id.as_str()).collect();
        let tier_of = repo::tiers::keys_of(c, &card_ids)?;
        let entry = tiers.list().first().map(|t| t.key.clone());
        let members: Vec<MemberRow> = rows
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .map(|(customer, card)| MemberRow {
                id: customer.id.clone(),
                email: customer.erased_at.is_none().then(|| customer.email.clone()),
                first_name: customer.first_name.clone(),
                phone: customer.phone.clone(),
                erased: customer.erased_at.is_some(),
                card_id: card.id.clone(),
                card_number: crate::domain::card::CardNumber::from_db(card.number.clone()).grouped(),
                status: card.status,
                balance: card.balance,
                tier: tier_of.get(&card.id).cloned().or_else(|| entry.clone()),
                created_at: time(customer.created_at),
            })
            .collect();
        let next_before = if more { members.last().map(|m| m.id.clone()) } else { None };
        Ok(MemberPage { members, next_before })
    })
    .await
}

#[derive(Debug, Serialize)]
pub struct MemberDetail {
    pub customer: CustomerDto,
    pub erased: bool,
    /// Every consent decision, oldest first.
    pub consent_history: Vec<ConsentEvent>,
    pub card: CardDto,
    pub tier: Option<TierView>,
    pub vouchers: Vec<VoucherDto>,
    /// The latest 20 purchases, newest first.
    pub purchases: Vec<PurchaseDto>,
    /// The referrals this member made, newest first, and the one that brought them in.
    pub referrals: Vec<ReferralDto>,
    pub referred_by: Option<ReferralDto>,
    /// The member's RFM scores of the last run; null when not scored (no profiling consent, no
    /// purchase in the window, or never run).
    pub rfm: Option<ScoreDto>,
}

#[derive(Debug, Serialize)]
pub struct ConsentEvent {
    pub purpose: String,
    #[serde(flatten)]
    pub decision: ConsentDto,
}

pub async fn get(db: &Db, actor: &Actor, id: String) -> AppResult<MemberDetail> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let (customer, card) = find(c, &program_id, &id)?;
        detail(c, &customer, &card)
    })
    .await
}

/// The id of the member's card (the card routes' argument), in one read.
pub async fn card_id(db: &Db, actor: &Actor, id: String) -> AppResult<String> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| Ok(find(c, &program_id, &id)?.1.id)).await
}

pub(super) fn find(c: &mut DbConn, program_id: &str, id: &str) -> AppResult<(Customer, Card)> {
    let customer = repo::customers::find_opt(c, program_id, id)?.ok_or_else(not_found)?;
    let card = repo::cards::find_by_customer(c, program_id, &customer.id)?;
    Ok((customer, card))
}

pub(super) fn detail(c: &mut DbConn, customer: &Customer, card: &Card) -> AppResult<MemberDetail> {
    let program = repo::programs::find(c, &customer.program_id)?;
    let now = repo::now();
    let current = repo::customers::current_consents(c, &program.id, &customer.id)?;
    let history = repo::customers::consent_history(c, &program.id, &customer.id)?;
    let tier = super::tiers::standing::view(c, &program, card, now)?;
    let vouchers = VoucherDto::list(&repo::vouchers::for_card(c, &card.id, None, now)?, now)?;
    let purchases = repo::purchases::latest_of_card(c, &program.id, &card.id, None, 20)?;
    let made = repo::referrals::list(c, &program.id, Some(&card.id), None, 200)?;
    let referred_by = repo::referrals::for_referee(c, &program.id, &card.id)?;
    let rfm = repo::rfm::score(c, &card.id)?;
    Ok(MemberDetail {
        customer: CustomerDto::new(customer, &current),
        erased: customer.erased_at.is_some(),
        consent_history: history
            .iter()
            .map(|k| ConsentEvent {
                purpose: k.purpose.clone(),
                decision: ConsentDto { granted: k.granted, channel: k.channel.clone(), at: time(k.created_at) },
            })
            .collect(),
        card: CardDto::from(card),
        tier,
        vouchers,
        purchases: purchases.iter().map(PurchaseDto::from).collect(),
        referrals: made.iter().map(ReferralDto::from).collect(),
        referred_by: referred_by.as_ref().map(ReferralDto::from),
        rfm: rfm.as_ref().map(ScoreDto::from),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    first_name: Option<PersonName>,
    email: Option<Email>,
    #[serde(default)]
    phone: Patch<Phone>,
    locale: Option<Locale>,
}

/// Corrects the fields given, keeping the others. A new e-mail must be no other member's.
pub async fn update(db: &Db, actor: &Actor, id: String, input: ProfileInput) -> AppResult<MemberDetail> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let (customer, card) = find(c, &actor.program_id, &id)?;
        if customer.erased_at.is_some() {
            return Err(AppError::unprocessable("customer_erased", "this customer's data was erased"));
        }
        let mut profile = Profile {
            email: customer.email.clone(),
            first_name: customer.first_name.clone(),
            phone: customer.phone.clone(),
            locale: customer.locale.clone(),
            email_key: customer.email_key.clone(),
            phone_key: customer.phone_key.clone(),
        };
        if let Some(email) = input.email.filter(|e| e.as_str() != customer.email) {
            if repo::customers::exists_email(c, &actor.program_id, email.as_str())? {
                return Err(AppError::conflict("email_taken", "another member of the programme has this e-mail"));
            }
            email.as_str().clone_into(&mut profile.email);
        }
        if let Some(name) = input.first_name {
            profile.first_name = name.into_inner();
        }
        input.phone.apply(&mut profile.phone, |p| p.as_str().to_owned());
        if let Some(locale) = input.locale {
            locale.as_str().clone_into(&mut profile.locale);
        }
        let signals = super::referrals::signals(c, &profile.email, profile.phone.as_deref(), None)?;
        profile.email_key = Some(signals.email_key);
        profile.phone_key = signals.phone_key;
        let mut changes = Map::new();
        for (field, old, new) in [
            ("email", Some(&customer.email), Some(&profile.email)),
            ("first_name", Some(&customer.first_name), Some(&profile.first_name)),
            ("phone", customer.phone.as_ref(), profile.phone.as_ref()),
        ] {
            if old != new {
                changes.insert(field.into(), json!({"before": personal(old), "after": personal(new)}));
            }
        }
        if customer.locale != profile.locale {
            changes.insert("locale".into(), json!({"before": customer.locale, "after": profile.locale}));
        }
        if changes.is_empty() {
            return detail(c, &customer, &card);
        }
        repo::customers::update_profile(c, &actor.program_id, &customer.id, &profile).map_err(|e| {
            super::programs::map_unique(e, AppError::conflict("email_taken", "another member has this e-mail"))
        })?;
        audit::record_changes(c, &actor, What::new("customer.update", "customer", &customer.id), changes)?;
        if customer.first_name != profile.first_name {
            // The pass shows the first name.
            card_changes::card_changed(c, &card)?;
        }
        let (customer, card) = find(c, &actor.program_id, &id)?;
        detail(c, &customer, &card)
    })
    .await
}

/// What the audit log says of a personal value: that there was one.
fn personal(value: Option<&String>) -> Value {
    value.map_or(Value::Null, |_| Value::String("[personal data]".into()))
}

/// The member's data as the card page's export gives it; the export is logged.
pub async fn export(db: &Db, actor: &Actor, id: String) -> AppResult<Value> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let (customer, card) = find(c, &actor.program_id, &id)?;
        let export = super::privacy::export_card(c, &card)?;
        let what = What::new("customer.export", "customer", &customer.id);
        audit::record(c, &actor, what, &json!({}), &json!({"export": "downloaded by staff"}))?;
        Ok(export)
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    reason: Reason,
}

/// Erases the member as their own request from the card page would, with the reason logged.
/// Erasing an erased member changes nothing.
pub async fn erase(db: &Db, actor: &Actor, id: String, input: Erasure) -> AppResult<MemberDetail> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let (customer, card) = find(c, &actor.program_id, &id)?;
        if customer.erased_at.is_none() {
            super::privacy::erase_card(c, &card)?;
            let what = What::new("customer.erase", "customer", &customer.id);
            audit::record(c, &actor, what, &json!({}), &json!({"erased": true, "reason": input.reason.as_str()}))?;
        }
        let (customer, card) = find(c, &actor.program_id, &id)?;
        detail(c, &customer, &card)
    })
    .await
}

/// Sends the member their card link again (the welcome e-mail, with the wallet buttons): for a
/// customer who lost it or changed phones. Logged.
pub async fn resend_card_link(db: &Db, actor: &Actor, id: String) -> AppResult<()> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let (customer, card) = find(c, &actor.program_id, &id)?;
        if customer.erased_at.is_some() || card.status == CardStatus::Closed {
            return Err(AppError::unprocessable("card_closed", "this member's card is closed"));
        }
        let mail =
            crate::mail::Mail::Welcome { program_id: actor.program_id.clone(), customer_id: customer.id.clone() };
        crate::mail::queue(c, &mail)?;
        let what = What::new("customer.resend_card_link", "customer", &customer.id);
        audit::record(c, &actor, what, &json!({}), &json!({"card_link": "sent"}))
    })
    .await
}
