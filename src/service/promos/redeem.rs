//! A code at the till: whether it applies to a purchase and what it gives (`evaluate`), then
//! taking one use of it (`redeem`). Both run inside the caller's transaction.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;

use super::{Effect, effect_of};
use crate::db::repo::cards::Card;
use crate::db::repo::programs::Program;
use crate::db::repo::promos::{self as repo_promo, Campaign, Code, Redemption};
use crate::db::{DbConn, repo};
use crate::domain::codes::PromoCode;
use crate::domain::status::CampaignStatus;
use crate::error::{AppError, AppResult};

/// Why a code does not apply. An unknown code, a code of a paused or ended campaign and a
/// spent pool code all read `invalid`: a guesser learns nothing about which codes exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Invalid,
    NotStarted,
    Expired,
    OutsideHours,
    BelowMinimum,
    CustomerLimit,
    Exhausted,
}

impl Refusal {
    pub fn error(self) -> AppError {
        let (code, message) = match self {
            Refusal::Invalid => ("promo_code_invalid", "this promo code is not valid"),
            Refusal::NotStarted => ("promo_code_not_started", "this promo code is not valid yet"),
            Refusal::Expired => ("promo_code_expired", "this promo code has expired"),
            Refusal::OutsideHours => ("promo_code_outside_hours", "this promo code is not valid at this day or hour"),
            Refusal::BelowMinimum => ("promo_code_below_minimum", "the purchase is below this code's minimum"),
            Refusal::CustomerLimit => {
                ("promo_code_customer_limit", "this customer has used this code as often as allowed")
            }
            Refusal::Exhausted => ("promo_code_exhausted", "this promo code has no uses left"),
        };
        AppError::unprocessable(code, message)
    }
}

/// A code that applies, and what it gives.
#[derive(Debug, Clone)]
pub struct Offer {
    pub campaign: Campaign,
    pub code: Code,
    /// The campaign's effect, read once.
    pub effect: Effect,
    pub discount_cents: i64,
    pub earned: i64,
    pub bonus_points: i64,
}

/// Checks a code against the campaign's rules, reading only: for the dry run and before redeeming.
pub fn evaluate(
    conn: &mut DbConn,
    program: &Program,
    code: &PromoCode,
    card: Option<&Card>,
    amount: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<Result<Offer, Refusal>> {
    let Some(code_row) = repo_promo::find_code(conn, &program.id, code.as_str())? else {
        return Ok(Err(Refusal::Invalid));
    };
    let Some(campaign) = repo_promo::find_campaign(conn, &program.id, &code_row.campaign_id)? else {
        return Ok(Err(Refusal::Invalid));
    };
    if campaign.status != CampaignStatus::Active || code_row.max_uses.is_some_and(|m| code_row.uses >= m) {
        return Ok(Err(Refusal::Invalid));
    }
    // A private sale's code is its member's own: on another card it is no code at all.
    if let (Some(owner), Some(card)) = (&code_row.assigned_card_id, card)
        && *owner != card.id
    {
        return Ok(Err(Refusal::Invalid));
    }
    let at = now.naive_utc();
    if campaign.starts_at.is_some_and(|s| at < s) {
        return Ok(Err(Refusal::NotStarted));
    }
    if campaign.ends_at.is_some_and(|e| at >= e) {
        return Ok(Err(Refusal::Expired));
    }
    let tz: chrono_tz::Tz = program.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local = now.with_timezone(&tz);
    let day_ok = campaign.days_of_week.as_deref().is_none_or(|days| {
        days.split(',').any(|d| d.parse::<u32>().ok() == Some(local.weekday().number_from_monday()))
    });
    let hour = i32::try_from(local.hour()).unwrap_or(0);
    let hour_ok = campaign.hour_from.zip(campaign.hour_to).is_none_or(|(from, to)| (from..to).contains(&hour));
    if !day_ok || !hour_ok {
        return Ok(Err(Refusal::OutsideHours));
    }
    if amount.is_some_and(|a| a < campaign.min_purchase_cents) {
        return Ok(Err(Refusal::BelowMinimum));
    }
    if let (Some(card), Some(max)) = (card, campaign.max_per_customer)
        && repo_promo::customer_uses(conn, &campaign.id, &card.id)? >= max
    {
        return Ok(Err(Refusal::CustomerLimit));
    }
    if campaign.max_redemptions.is_some_and(|m| campaign.redemptions >= m) {
        return Ok(Err(Refusal::Exhausted));
    }
    let effect = effect_of(&campaign)?;
    let (discount_cents, earned, bonus_points) = effect.apply(amount.unwrap_or(0), &program.earning_rule());
    Ok(Ok(Offer { campaign, code: code_row, effect, discount_cents, earned, bonus_points }))
}

/// Takes one use of the campaign, the code and the customer's allowance, each by one
/// conditional UPDATE, and records the redemption. Must run in the purchase's (or the
/// redemption's) write transaction: a refusal here rolls everything back.
pub fn redeem(
    conn: &mut DbConn,
    offer: &Offer,
    card: &Card,
    purchase_id: Option<&str>,
) -> AppResult<Result<Redemption, Refusal>> {
    // Counters only where a limit exists: an unlimited shared code must not make every purchase
    // that uses it queue on one row (PostgreSQL fell from 439 to 138 purchases/s on that lock).
    if offer.campaign.max_redemptions.is_some() && !repo_promo::take_campaign_use(conn, &offer.campaign.id)? {
        return Ok(Err(Refusal::Exhausted));
    }
    if offer.code.max_uses.is_some() && !repo_promo::take_code_use(conn, offer.code.id)? {
        return Ok(Err(Refusal::Invalid));
    }
    if offer.campaign.max_per_customer.is_some()
        && !repo_promo::take_customer_use(conn, &offer.campaign.id, &card.id, offer.campaign.max_per_customer)?
    {
        return Ok(Err(Refusal::CustomerLimit));
    }
    let redemption = Redemption {
        id: repo::new_id(),
        program_id: offer.campaign.program_id.clone(),
        campaign_id: offer.campaign.id.clone(),
        code_id: offer.code.id,
        card_id: card.id.clone(),
        purchase_id: purchase_id.map(str::to_owned),
        discount_cents: offer.discount_cents,
        bonus_points: offer.bonus_points,
        status: "applied".to_owned(),
        created_at: repo::now(),
        rolled_back_at: None,
    };
    repo_promo::insert_redemption(conn, &redemption)?;
    Ok(Ok(redemption))
}
