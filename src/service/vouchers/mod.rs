//! Vouchers: issued by a reward claim, a conversion, a tier's entry or a manager; used once at
//! the till (`till`), given back by a full return, cancelled when a claim is undone, expired by
//! the worker's sweep (`expiry`). [`issue`] is the one way a voucher comes to exist.

pub mod expiry;
pub mod manual;
pub mod shown;
pub mod till;

use chrono::{NaiveDateTime, TimeZone as _};
use serde::Serialize;

use crate::db::DbConn;
use crate::db::repo::cards::Card;
use crate::db::repo::programs::Program;
use crate::db::repo::{self, vouchers::Voucher};
use crate::domain::money;
use crate::domain::status::{VoucherOrigin, VoucherState};
use crate::domain::text::Locale;
use crate::domain::voucher::{ValidityDays, VoucherCode, VoucherValue};
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::jobs::Job as _;
use crate::mail::{self, Mail};

/// What a new voucher is, and where it comes from.
pub struct Issue<'a> {
    pub program: &'a Program,
    pub card: &'a Card,
    pub value: &'a VoucherValue,
    pub min_purchase_cents: i64,
    pub validity: ValidityDays,
    pub origin: VoucherOrigin,
    /// What the customer's e-mail calls it: the reward's name, or the value ("5,00 €").
    pub title: Option<&'a str>,
    pub reward_id: Option<&'a str>,
    pub conversion_id: Option<&'a str>,
    /// The ledger entry that paid for it.
    pub ledger_entry_id: Option<i64>,
    pub reason: Option<&'a str>,
    pub staff_id: Option<&'a str>,
    /// Whether this voucher gets its own e-mail (a conversion sends one for all its vouchers).
    pub notify: bool,
}

/// How many fresh codes to draw before giving up: with 31^10 codes a second draw is already
/// rarer than one in a billion, so a third failure means something else is wrong.
const CODE_DRAWS: usize = 3;

/// Writes the voucher with a fresh code and queues its e-mail, in the caller's transaction. The
/// pass is the caller's business (a claim or a conversion moves the balance, which already
/// updates it; a manual voucher says so itself).
pub fn issue(conn: &mut DbConn, i: &Issue<'_>, now: NaiveDateTime) -> AppResult<Voucher> {
    issue_many(conn, std::slice::from_ref(i), now)?
        .pop()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a voucher was not written")))
}

/// [`issue`] for many vouchers at once (a batch conversion), in order: one multi-row INSERT per
/// [`repo::ROWS_PER_INSERT`]; the rare code already taken is drawn again on its own.
pub fn issue_many(conn: &mut DbConn, issues: &[Issue<'_>], now: NaiveDateTime) -> AppResult<Vec<Voucher>> {
    let mut vouchers = Vec::with_capacity(issues.len());
    for i in issues {
        i.value.check().map_err(|e| AppError::unprocessable("invalid_voucher", e.to_string()))?;
        vouchers.push(row(i, now));
    }
    if repo::vouchers::insert_many(conn, &vouchers)? < vouchers.len() {
        let ids: Vec<&str> = vouchers.iter().map(|v| v.id.as_str()).collect();
        let written = repo::vouchers::existing_ids(conn, &ids)?;
        for (v, i) in vouchers.iter_mut().zip(issues) {
            if !written.contains(&v.id) {
                *v = redraw(conn, i, now)?;
            }
        }
    }
    let mails: Vec<Mail> = vouchers
        .iter()
        .zip(issues)
        .filter(|(_, i)| i.notify)
        .map(|(v, i)| {
            let title = i
                .title
                .map_or_else(|| value_text(i.value, &i.program.currency, program_locale(i.program)), str::to_owned);
            let value_cents = match i.value {
                VoucherValue::AmountOffCents(c) => Some(*c),
                _ => None,
            };
            issued_mail(i.program, i.card, title, value_cents, v.expires_at)
        })
        .collect();
    Mail::enqueue_many(&mails, conn)?;
    Ok(vouchers)
}

/// A fresh voucher row for `i`, with a newly drawn code.
fn row(i: &Issue<'_>, now: NaiveDateTime) -> Voucher {
    let (kind, value, item) = i.value.parts();
    Voucher {
        id: repo::new_id(),
        program_id: i.program.id.clone(),
        card_id: i.card.id.clone(),
        code: VoucherCode::generate().as_str().to_owned(),
        kind: kind.to_owned(),
        value,
        item: item.map(str::to_owned),
        min_purchase_cents: i.min_purchase_cents,
        state: VoucherState::Active,
        origin: i.origin,
        reward_id: i.reward_id.map(str::to_owned),
        conversion_id: i.conversion_id.map(str::to_owned),
        ledger_entry_id: i.ledger_entry_id,
        reason: i.reason.map(str::to_owned),
        staff_id: i.staff_id.map(str::to_owned),
        expires_at: i.validity.expiry(now, i.program.tz()),
        purchase_id: None,
        discount_cents: None,
        used_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Draws codes for one voucher until one is free in the programme.
fn redraw(conn: &mut DbConn, i: &Issue<'_>, now: NaiveDateTime) -> AppResult<Voucher> {
    for _ in 0..CODE_DRAWS {
        let voucher = row(i, now);
        if repo::vouchers::insert(conn, &voucher)? {
            return Ok(voucher);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("no free voucher code after {CODE_DRAWS} draws")))
}

/// Queues the customer's `voucher_issued` e-mail (transactional) in the caller's transaction.
pub fn notify(
    conn: &mut DbConn,
    program: &Program,
    card: &Card,
    title: String,
    value_cents: Option<i64>,
    expires_at: NaiveDateTime,
) -> AppResult<()> {
    mail::queue(conn, &issued_mail(program, card, title, value_cents, expires_at))?;
    Ok(())
}

/// The customer's `voucher_issued` e-mail: what they got and until when.
pub fn issued_mail(
    program: &Program,
    card: &Card,
    title: String,
    value_cents: Option<i64>,
    expires_at: NaiveDateTime,
) -> Mail {
    Mail::VoucherIssued {
        program_id: program.id.clone(),
        customer_id: card.customer_id.clone(),
        title,
        description: None,
        value_cents,
        expires_on: Some(program.tz().from_utc_datetime(&expires_at).date_naive()),
    }
}

pub fn program_locale(program: &Program) -> Locale {
    Locale::from_db(&program.locale)
}

/// "5,00 €", "10 %", or the item's text: a voucher's value in words people read.
pub fn value_text(value: &VoucherValue, currency: &str, locale: Locale) -> String {
    match value {
        VoucherValue::AmountOffCents(c) => money::display(*c, currency, locale),
        VoucherValue::PercentOff(p) => match locale {
            Locale::Fr => format!("{p}\u{a0}%"),
            Locale::En => format!("{p}%"),
        },
        VoucherValue::Item(text) => text.clone(),
    }
}

/// The value a stored voucher stands for. A row this build can't read is an internal error,
/// never a voucher worth something else.
pub fn value_of(v: &Voucher) -> AppResult<VoucherValue> {
    VoucherValue::from_parts(&v.kind, v.value, v.item.as_deref())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("voucher {}: {e}", v.id)))
}

/// A voucher as the API shows it.
#[derive(Debug, Serialize)]
pub struct VoucherDto {
    pub id: String,
    pub code: String,
    /// The code in groups, as printed and read out: "K7MX-2QE9-AB4".
    pub code_display: String,
    pub card_id: String,
    pub value: VoucherValue,
    pub min_purchase_cents: i64,
    pub state: VoucherState,
    pub origin: VoucherOrigin,
    pub reward_id: Option<String>,
    pub conversion_id: Option<String>,
    pub reason: Option<String>,
    pub expires_at: String,
    pub purchase_id: Option<String>,
    pub discount_cents: Option<i64>,
    pub used_at: Option<String>,
    pub created_at: String,
}

impl VoucherDto {
    pub fn new(v: &Voucher, now: NaiveDateTime) -> AppResult<Self> {
        Ok(VoucherDto {
            id: v.id.clone(),
            code: v.code.clone(),
            code_display: VoucherCode::from_db(v.code.clone()).display(),
            card_id: v.card_id.clone(),
            value: value_of(v)?,
            min_purchase_cents: v.min_purchase_cents,
            state: v.state_at(now),
            origin: v.origin,
            reward_id: v.reward_id.clone(),
            conversion_id: v.conversion_id.clone(),
            reason: v.reason.clone(),
            expires_at: time(v.expires_at),
            purchase_id: v.purchase_id.clone(),
            discount_cents: v.discount_cents,
            used_at: v.used_at.map(time),
            created_at: time(v.created_at),
        })
    }

    pub fn list(vouchers: &[Voucher], now: NaiveDateTime) -> AppResult<Vec<Self>> {
        vouchers.iter().map(|v| VoucherDto::new(v, now)).collect()
    }
}
