//! What the customer pages show and do: the program's enrolment (plain or by a friend's referral
//! link) and the card page. Each public function is one transaction.

use std::collections::BTreeMap;

use serde::Serialize;

use super::customer_auth;
use super::customers::{Enrolment, Purpose, enrol_in};
use crate::db::repo::cards::Card;
use crate::db::repo::programs::Program;
use crate::domain::ledger::EntryKind;
use chrono::TimeZone as _;

use super::idempotency::{self, Idempotent};
use super::{rewards, vouchers};
use crate::db::{Db, DbConn, repo};
use crate::domain::card::CardNumber;
use crate::domain::codes::ReferralCode;
use crate::domain::email::Email;
use crate::domain::money;
use crate::domain::status::CardStatus;
use crate::domain::text::{IdempotencyKey, Locale, PersonName, Phone};
use crate::domain::voucher::VoucherCode;
use crate::error::{AppError, AppResult};
use crate::mail::{self, Mail};

/// Where the consents of the enrolment pages were given, for the consent log.
pub const CHANNEL_WEB: &str = "web_enrolment";

fn program_not_found() -> AppError {
    AppError::not_found("program_not_found", "no program with this name")
}

fn referral_not_found() -> AppError {
    AppError::not_found("referral_not_found", "no referral link with this code")
}

#[derive(Debug, Clone, Serialize)]
pub struct ProgramView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub currency: String,
    #[serde(skip)]
    pub locale: Locale,
    /// `earn_points` per `earn_per_cents` spent.
    pub earn_points: i64,
    pub earn_per_cents: i64,
    /// Off: the pages show no form, and a form posted anyway is refused.
    pub public_enrolment: bool,
    pub contact_text: Option<String>,
    pub contact_text_fr: Option<String>,
    pub terms_text: Option<String>,
    pub terms_text_fr: Option<String>,
}

impl ProgramView {
    fn new(p: &Program) -> Self {
        ProgramView {
            id: p.id.clone(),
            slug: p.slug.clone(),
            name: p.name.clone(),
            currency: p.currency.clone(),
            locale: Locale::from_db(&p.locale),
            earn_points: p.earn_points,
            earn_per_cents: p.earn_per_cents,
            public_enrolment: p.public_enrolment,
            contact_text: p.contact_text.clone(),
            contact_text_fr: p.contact_text_fr.clone(),
            terms_text: p.terms_text.clone(),
            terms_text_fr: p.terms_text_fr.clone(),
        }
    }
}

/// Who invited the visitor of `/r/{code}`, and what the newcomer gets.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub code: String,
    /// First name only: the page is public.
    pub referrer_first_name: String,
    pub referee_points: i64,
    pub min_purchase_cents: i64,
}

/// The page of a program; with the card link of the visitor's session, when they have one.
pub async fn program(db: &Db, slug: String, session: Option<String>) -> AppResult<(ProgramView, Option<String>)> {
    db.read(move |c| {
        let program = repo::programs::find_by_slug(c, &slug)?.ok_or_else(program_not_found)?;
        let card = match session {
            Some(cookie) => customer_auth::session_card(c, &program.id, &cookie)?,
            None => None,
        };
        Ok((ProgramView::new(&program), card))
    })
    .await
}

/// The page of a referral link. A code of a programme whose referral scheme is off, or of a card
/// that is not active (blocked, or closed by its holder's erasure), is refused like an unknown one.
pub async fn invitation(db: &Db, code: String) -> AppResult<(ProgramView, Invitation)> {
    let parsed = ReferralCode::parse(&code).map_err(|_| referral_not_found())?;
    db.read(move |c| {
        let card = repo::cards::find_by_referral_code_anywhere(c, parsed.as_str())?
            .filter(|card| card.status == CardStatus::Active)
            .ok_or_else(referral_not_found)?;
        let program = repo::programs::find(c, &card.program_id)?;
        let settings = repo::referrals::settings(c, &program.id)?;
        let Some(settings) = settings.filter(|s| s.enabled) else {
            return Err(referral_not_found());
        };
        let referrer = repo::customers::find(c, &program.id, &card.customer_id)?;
        let invitation = Invitation {
            code: parsed.as_str().to_owned(),
            referrer_first_name: referrer.first_name,
            referee_points: settings.referee_points,
            min_purchase_cents: settings.min_purchase_cents,
        };
        Ok((ProgramView::new(&program), invitation))
    })
    .await
}

/// The enrolment form as posted. Fields stay strings so that the page can show them back.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub consent_terms: Option<String>,
    #[serde(default)]
    pub consent_marketing_email: Option<String>,
    #[serde(default)]
    pub consent_profiling: Option<String>,
}

/// Field → catalog key of the message shown next to it.
pub type FieldErrors = BTreeMap<&'static str, &'static str>;

impl EnrolForm {
    /// Every field's problem at once (a phone form that reveals one error per submit is a chore).
    pub fn parse(&self, locale: Locale, referral_code: Option<ReferralCode>) -> Result<Enrolment, FieldErrors> {
        let mut errors = FieldErrors::new();
        let first_name = PersonName::parse(self.first_name.clone())
            .map_err(|_| errors.insert("first_name", "form.error.first_name"))
            .ok();
        let email = Email::parse(self.email.clone()).map_err(|_| errors.insert("email", "form.error.email")).ok();
        let phone = if self.phone.trim().is_empty() {
            None
        } else {
            Phone::parse(self.phone.clone()).map_err(|_| errors.insert("phone", "form.error.phone")).ok()
        };
        if self.consent_terms.is_none() {
            errors.insert("consent_terms", "form.error.terms");
        }
        let (Some(first_name), Some(email), true) = (first_name, email, errors.is_empty()) else {
            return Err(errors);
        };
        let consents = BTreeMap::from([
            (Purpose::Terms, true),
            (Purpose::MarketingEmail, self.consent_marketing_email.is_some()),
            (Purpose::Profiling, self.consent_profiling.is_some()),
        ]);
        Ok(Enrolment { email, first_name, phone, locale: Some(locale), consents, referral_code, device_id: None })
    }
}

/// Enrols from a page. A new address gets its card and the welcome e-mail; an address that already
/// has a card gets a login link instead. The page says "check your e-mail" in both cases, so it
/// never tells a visitor who is enrolled.
pub async fn enrol(db: &Db, program_id: String, input: Enrolment) -> AppResult<()> {
    db.write(move |c| {
        if let Some(existing) = repo::customers::find_by_email(c, &program_id, input.email.as_str())? {
            return customer_auth::send_link_to(c, &existing);
        }
        let enrolled = enrol_in(c, &program_id, input, CHANNEL_WEB)?;
        let welcome = Mail::Welcome { program_id: program_id.clone(), customer_id: enrolled.customer.id.clone() };
        Ok(mail::queue(c, &welcome)?)
    })
    .await
}

/// The program id of a slug (forms post to the slug).
pub async fn program_id(db: &Db, slug: String) -> AppResult<ProgramView> {
    db.read(move |c| Ok(ProgramView::new(&repo::programs::find_by_slug(c, &slug)?.ok_or_else(program_not_found)?)))
        .await
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryView {
    pub date: String,
    /// Catalog key of the kind (`kind.earn`...).
    pub kind: String,
    pub points: i64,
}

/// The card's tier on its page, and what the next one asks, each way up one line.
#[derive(Debug, Clone, Serialize)]
pub struct TierLine {
    pub name: String,
    pub next: Option<String>,
    pub remaining: Vec<Remaining>,
}

/// "120 points expire on 31/03/2027".
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryLine {
    pub points: i64,
    /// The last day, written for the visitor's language.
    pub date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Remaining {
    /// Catalog key of the line (`card.tier_next.spend_cents`...).
    pub key: String,
    /// Points or visits left, for the plural; for spend, cents.
    pub count: i64,
    /// For spend: the amount left in the programme's currency ("42,00 €").
    pub amount: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardView {
    pub program: ProgramView,
    pub tier: Option<TierLine>,
    /// The next points to expire, if any.
    pub expiry: Option<ExpiryLine>,
    pub first_name: String,
    pub number: String,
    pub balance: i64,
    pub status: CardStatus,
    /// The pass's barcode payload, which the page shows as a QR code.
    #[serde(skip)]
    pub barcode: String,
    pub referral_path: Option<String>,
    pub link_token: String,
    pub entries: Vec<EntryView>,
    #[serde(skip)]
    pub customer_locale: Locale,
    /// The visitor is signed in as this card's customer: the data buttons work.
    pub manage: bool,
    /// Usable vouchers, soonest end first.
    pub vouchers: Vec<VoucherView>,
    /// The active rewards, cheapest first.
    pub rewards: Vec<RewardView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VoucherView {
    /// What its QR code holds and the till reads.
    pub code: String,
    /// "K7MX-2QE9-AB4", to read out or type.
    pub code_display: String,
    /// "5,00 €", "10 %" or the item.
    pub value: String,
    /// The last day it is valid, in the programme's time zone.
    pub expires_on: String,
    /// The purchase it needs, in words; None without a minimum.
    pub min_purchase: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RewardView {
    pub id: String,
    pub name: String,
    pub cost_points: i64,
    pub value: String,
    pub validity_days: i64,
    /// Points still missing: 0 when the balance covers it.
    pub missing_points: i64,
    pub sold_out: bool,
}

/// The answer for a card link that leads nowhere (mistyped, or the card's holder erased it).
pub fn link_not_found() -> AppError {
    AppError::not_found("card_not_found", "no card behind this link")
}

/// The card page, by the card's unguessable link.
pub async fn card(db: &Db, link_token: String, lang: Locale, session: Option<String>) -> AppResult<CardView> {
    db.read(move |c| {
        let manage = super::privacy::may_manage(c, &link_token, session.as_deref())?;
        let card = repo::cards::find_by_link_token(c, &link_token)?.ok_or_else(link_not_found)?;
        let program = repo::programs::find(c, &card.program_id)?;
        let customer = repo::customers::find(c, &program.id, &card.customer_id)?;
        let entries = repo::ledger::page(c, &program.id, &card.id, None, 10)?;
        let tz: chrono_tz::Tz = program.time_zone.parse().unwrap_or(chrono_tz::UTC);
        let format = if lang == Locale::Fr { "%d/%m/%Y" } else { "%Y-%m-%d" };
        let entries = entries
            .iter()
            .map(|e| EntryView {
                date: e.created_at.and_utc().with_timezone(&tz).format(format).to_string(),
                kind: kind_key(&e.kind),
                points: e.delta,
            })
            .collect();
        let locale = Locale::from_db(&customer.locale);
        let mut view = view(&program, &customer.first_name, &card, entries, locale);
        view.manage = manage;
        view.vouchers = voucher_views(c, &program, &card, lang, format)?;
        view.rewards = reward_views(c, &program, &card, lang)?;
        view.tier = tier_line(c, &program, &card, lang)?;
        view.expiry = super::expiry::schedule::of_card(c, &program, &card)?
            .first()
            .map(|next| ExpiryLine { points: next.points, date: next.expires_on.format(format).to_string() });
        Ok(view)
    })
    .await
}

fn view(program: &Program, first_name: &str, card: &Card, entries: Vec<EntryView>, locale: Locale) -> CardView {
    CardView {
        program: ProgramView::new(program),
        first_name: first_name.to_owned(),
        number: CardNumber::from_db(card.number.clone()).grouped(),
        balance: card.balance,
        status: card.status,
        barcode: card.barcode.clone(),
        referral_path: card.live_referral_code().map(|code| format!("/r/{code}")),
        link_token: card.link_token.clone(),
        entries,
        tier: None,
        expiry: None,
        customer_locale: locale,
        manage: false,
        vouchers: Vec::new(),
        rewards: Vec::new(),
    }
}

fn tier_line(c: &mut DbConn, program: &Program, card: &Card, lang: Locale) -> AppResult<Option<TierLine>> {
    let Some(tier) = super::tiers::standing::view(c, program, card, repo::now())? else { return Ok(None) };
    let next = match &tier.next {
        Some(key) => super::tiers::rules::of_program(c, &program.id)?
            .find(key)
            .map(|t| super::tiers::standing::name_of(t, lang).to_owned()),
        None => None,
    };
    let remaining = tier
        .progress
        .iter()
        .filter(|p| p.next_at_least > p.value)
        .map(|p| {
            let left = p.next_at_least - p.value;
            Remaining {
                key: format!(
                    "card.tier_next.{}",
                    serde_json::to_value(p.metric).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
                ),
                count: left,
                amount: crate::domain::money::display(left, &program.currency, lang),
            }
        })
        .collect();
    Ok(Some(TierLine { name: tier.name, next, remaining }))
}

fn voucher_views(
    c: &mut DbConn,
    program: &Program,
    card: &Card,
    lang: Locale,
    date_format: &str,
) -> AppResult<Vec<VoucherView>> {
    let tz = program.tz();
    repo::vouchers::usable(c, &card.id, repo::now())?
        .iter()
        .map(|v| {
            Ok(VoucherView {
                code: v.code.clone(),
                code_display: VoucherCode::from_db(v.code.clone()).display(),
                value: vouchers::value_text(&vouchers::value_of(v)?, &program.currency, lang),
                expires_on: tz.from_utc_datetime(&v.expires_at).format(date_format).to_string(),
                min_purchase: (v.min_purchase_cents > 0)
                    .then(|| money::display(v.min_purchase_cents, &program.currency, lang)),
            })
        })
        .collect()
}

/// The catalogue as the customer sees it: what is claimable now, archived and paused ones left
/// out (a claim of those would only be refused).
fn reward_views(c: &mut DbConn, program: &Program, card: &Card, lang: Locale) -> AppResult<Vec<RewardView>> {
    let mut rewards: Vec<RewardView> = repo::rewards::list(c, &program.id, false)?
        .iter()
        .filter(|r| r.active)
        .map(|r| {
            Ok(RewardView {
                id: r.id.clone(),
                name: rewards::name_in(r, lang).to_owned(),
                cost_points: r.cost_points,
                value: vouchers::value_text(&rewards::value_of(r)?, &program.currency, lang),
                validity_days: r.validity_days,
                missing_points: (r.cost_points - card.balance).max(0),
                sold_out: r.stock == Some(0),
            })
        })
        .collect::<AppResult<_>>()?;
    rewards.sort_by_key(|r| r.cost_points);
    Ok(rewards)
}

/// The customer claims a reward from the card page. Only with a magic-link session of the card's
/// customer: the card link alone travels in forwarded e-mails and screenshots, and spending
/// someone's points needs more than that. The form's hidden key makes a double submit (a second
/// tap, a reload of the POST) replay the first claim instead of spending the points twice.
pub async fn claim_reward(
    db: &Db,
    link_token: String,
    reward_id: String,
    session: Option<String>,
    key: IdempotencyKey,
) -> AppResult<()> {
    db.write(move |c| {
        let card = super::privacy::own_card(c, &link_token, session.as_deref())?;
        let program = repo::programs::find(c, &card.program_id)?;
        let idem = Idempotent::new(key, &format!("page POST /c/{link_token}/rewards/{reward_id}"), &())?;
        idempotency::once(c, &program.id, &idem, actix_web::http::StatusCode::SEE_OTHER, |c| {
            rewards::claim::claim_in(c, &program, &card, &reward_id, None, repo::now())
        })?;
        Ok(())
    })
    .await
}

/// The catalog key of a ledger kind (every kind has one: `render`'s tests check); a kind this
/// build doesn't know (written by a newer node) reads as "other".
pub fn kind_key(kind: &str) -> String {
    if EntryKind::ALL.iter().any(|k| k.as_str() == kind) { format!("kind.{kind}") } else { "kind.other".to_owned() }
}
