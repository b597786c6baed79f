//! The JSON shapes of the API. Rows never serialise themselves: these are built from them, so a
//! column can change without changing the contract, and secrets (pass tokens, hashes) stay out.

use chrono::{NaiveDateTime, SecondsFormat};
use serde::Serialize;

use crate::db::repo::{
    cards::Card, customers::Consent, customers::Customer, ledger::Entry, programs::Program, purchases::Purchase,
};
use crate::domain::card::CardNumber;
use crate::domain::status::CardStatus;

/// RFC 3339 in UTC, e.g. "2026-11-23T18:20:00.123Z".
pub fn time(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Serialize)]
pub struct ProgramDto {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub currency: String,
}

impl From<&Program> for ProgramDto {
    fn from(p: &Program) -> Self {
        ProgramDto { id: p.id.clone(), slug: p.slug.clone(), name: p.name.clone(), currency: p.currency.clone() }
    }
}

#[derive(Debug, Serialize)]
pub struct CardDto {
    pub id: String,
    pub number: String,
    pub display_number: String,
    pub barcode: String,
    pub serial: String,
    pub customer_id: String,
    pub status: CardStatus,
    pub balance: i64,
    pub pass_version: i64,
    /// The code friends enrol with (link: `{public_url}/r/{code}`).
    pub referral_code: Option<String>,
    /// The customer's own download of the Apple Wallet pass (the link is the credential: send it
    /// to the customer only). Relative to the public URL.
    pub apple_pass_path: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Card> for CardDto {
    fn from(c: &Card) -> Self {
        CardDto {
            id: c.id.clone(),
            number: c.number.clone(),
            display_number: CardNumber::from_db(c.number.clone()).grouped(),
            barcode: c.barcode.clone(),
            serial: c.serial.clone(),
            customer_id: c.customer_id.clone(),
            status: c.status,
            balance: c.balance,
            pass_version: c.pass_version,
            referral_code: c.referral_code.clone(),
            apple_pass_path: format!("/c/{}/pass.pkpass", c.link_token),
            created_at: time(c.created_at),
            updated_at: time(c.updated_at),
        }
    }
}

/// A card as a till shows it: with the customer's first name, so the cashier can greet them and
/// see at a glance that the scan found the right person.
#[derive(Debug, Serialize)]
pub struct CardView {
    #[serde(flatten)]
    pub card: CardDto,
    pub first_name: String,
    /// Null when the programme has no tiers.
    pub tier: Option<TierView>,
}

#[derive(Debug, Serialize)]
pub struct ConsentDto {
    pub granted: bool,
    pub channel: String,
    pub at: String,
}

#[derive(Debug, Serialize)]
pub struct CustomerDto {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub phone: Option<String>,
    pub locale: String,
    pub consents: std::collections::BTreeMap<String, ConsentDto>,
    pub created_at: String,
}

impl CustomerDto {
    pub fn new(c: &Customer, consents: &[Consent]) -> Self {
        CustomerDto {
            id: c.id.clone(),
            email: c.email.clone(),
            first_name: c.first_name.clone(),
            phone: c.phone.clone(),
            locale: c.locale.clone(),
            consents: consents
                .iter()
                .map(|k| {
                    (
                        k.purpose.clone(),
                        ConsentDto { granted: k.granted, channel: k.channel.clone(), at: time(k.created_at) },
                    )
                })
                .collect(),
            created_at: time(c.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PurchaseDto {
    pub id: String,
    pub card_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub external_ref: Option<String>,
    pub location_id: Option<String>,
    pub staff_id: Option<String>,
    pub points_earned: i64,
    pub discount_cents: i64,
    pub bonus_points: i64,
    pub returned_cents: i64,
    pub status: &'static str,
    pub created_at: String,
    pub occurred_at: String,
}

impl From<&Purchase> for PurchaseDto {
    fn from(p: &Purchase) -> Self {
        PurchaseDto {
            id: p.id.clone(),
            card_id: p.card_id.clone(),
            amount_cents: p.amount_cents,
            currency: p.currency.clone(),
            external_ref: p.external_ref.clone(),
            location_id: p.location_id.clone(),
            staff_id: p.staff_id.clone(),
            points_earned: p.points_earned,
            discount_cents: p.discount_cents,
            bonus_points: p.bonus_points,
            returned_cents: p.returned_cents,
            status: p.status(),
            created_at: time(p.created_at),
            occurred_at: time(p.occurred_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EntryDto {
    pub id: i64,
    pub kind: String,
    pub points: i64,
    pub balance_after: i64,
    pub purchase_id: Option<String>,
    pub staff_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: String,
}

impl From<&Entry> for EntryDto {
    fn from(e: &Entry) -> Self {
        EntryDto {
            id: e.id,
            kind: e.kind.clone(),
            points: e.delta,
            balance_after: e.balance_after,
            purchase_id: e.purchase_id.clone(),
            staff_id: e.staff_id.clone(),
            reason: e.reason.clone(),
            created_at: time(e.created_at),
        }
    }
}

/// What a card page and `GET /cards/{id}` show: the tier, since when, and what the next one asks.
#[derive(Debug, Clone, Serialize)]
pub struct TierView {
    pub key: String,
    pub name: String,
    pub since: String,
    pub earn_multiplier_percent: u32,
    /// The next tier's conditions, each with the card's value in that tier's window; empty at
    /// the top.
    pub next: Option<String>,
    pub progress: Vec<TierProgress>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TierProgress {
    pub metric: crate::domain::tier::Metric,
    pub value: i64,
    pub next_at_least: i64,
}

/// A table as CSV (RFC 4180 quoting by the `csv` crate). A cell that a spreadsheet would read
/// as a formula (a member's name typed as `=HYPERLINK(...)`) gets a leading `'`, so that an
/// export opened in Excel shows the text and runs nothing.
pub fn csv_table<R: AsRef<[String]>>(header: &[&str], rows: &[R]) -> crate::error::AppResult<String> {
    let internal = |e: csv::Error| crate::error::AppError::Internal(e.into());
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).map_err(internal)?;
    for row in rows {
        let cells = row.as_ref().iter().map(|cell| {
            if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err() {
                format!("'{cell}")
            } else {
                cell.clone()
            }
        });
        out.write_record(cells).map_err(internal)?;
    }
    let bytes = out.into_inner().map_err(|e| crate::error::AppError::Internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(|e| crate::error::AppError::Internal(e.into()))
}
