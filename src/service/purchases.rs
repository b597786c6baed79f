//! Purchases earn points by the program's rule; returns take back the proportional share.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::card_changes::card_changed;
use super::cards::card_not_found;
use super::conversions::threshold::{self, Converted};
use super::idempotency::{self, Idempotent, Stored};
use super::points::{Guard, Posting, card_blocked, post};
use super::promos;
use super::referrals::{self, ReferralDto};
use super::tiers::standing as tiers;
use super::vouchers::till::{self as voucher_till, AppliedVoucher};
use crate::db::repo::cards as card_repo;
use crate::db::repo::purchases::Purchase;
use crate::db::{Db, repo};
use crate::domain::card::CardRef;
use crate::domain::codes::PromoCode;
use crate::domain::earning::points_to_reverse;
use crate::domain::ledger::EntryKind;
use crate::domain::money::{Cents, Currency};
use crate::domain::status::{CardStatus, ReferralStatus};
use crate::domain::text::ExternalRef;
use crate::domain::voucher::VoucherCode;
use crate::dto::{EntryDto, PurchaseDto};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPurchase {
    pub card: CardRef,
    pub amount_cents: Cents,
    pub currency: Currency,
    #[serde(default)]
    pub external_ref: Option<ExternalRef>,
    /// A location id of the program; defaults to the cashier's own shop.
    #[serde(default)]
    pub location: Option<String>,
    /// A promo code to apply: its discount comes back in the answer, its points are added.
    #[serde(default)]
    pub promo_code: Option<PromoCode>,
    /// A voucher of the card to use (or several, in `vouchers`): used in this purchase's
    /// transaction, its discount comes back in the answer.
    #[serde(default)]
    pub voucher_code: Option<VoucherCode>,
    #[serde(default)]
    pub vouchers: Option<Vec<VoucherCode>>,
    /// When the sale happened, for a till that was offline: now when absent.
    #[serde(default)]
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The clock skew a till may have: a sale "from the future" by less than this is taken as now-ish.
const CLOCK_SKEW_MINUTES: i64 = 5;

impl NewPurchase {
    /// When the sale happened: `occurred_at`, at most `backdate_max_days` back and not in the
    /// future beyond a till's clock skew; now when the till didn't say.
    pub fn occurred_at(&self, now: NaiveDateTime, backdate_max_days: i64) -> AppResult<NaiveDateTime> {
        let Some(at) = self.occurred_at.map(|t| t.naive_utc()) else { return Ok(now) };
        if at > now + chrono::Duration::minutes(CLOCK_SKEW_MINUTES) {
            return Err(AppError::unprocessable_field(
                "occurred_at_out_of_range",
                "occurred_at",
                "is in the future: check the till's clock",
            ));
        }
        if at < now - chrono::Duration::days(backdate_max_days) {
            return Err(AppError::unprocessable_field(
                "occurred_at_out_of_range",
                "occurred_at",
                format!("is more than {backdate_max_days} days ago (purchase_backdate_max_days)"),
            ));
        }
        Ok(at)
    }

    /// Every code of the purchase, for the guessing limits.
    pub fn codes(&self) -> Vec<&str> {
        let vouchers = self.voucher_code.iter().chain(self.vouchers.iter().flatten()).map(VoucherCode::as_str);
        self.promo_code.iter().map(PromoCode::as_str).chain(vouchers).collect()
    }
}

#[derive(Debug, Serialize)]
pub struct Recorded {
    pub purchase: PurchaseDto,
    /// The card's move up, when this purchase qualified it for a higher tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<tiers::TierChange>,
    pub points_earned: i64,
    /// What the promo code and the vouchers take off the bill: the till charges
    /// `amount_cents - discount_cents`. Points are earned on what is left.
    pub discount_cents: i64,
    pub bonus_points: i64,
    pub balance: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promo: Option<AppliedPromo>,
    /// The vouchers used, each with what it took off (amounts first, then percents).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vouchers: Vec<AppliedVoucher>,
    /// Points the programme's threshold conversion turned into vouchers after this purchase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Converted>,
    /// The referral this purchase rewarded (or found expired), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralDto>,
}

#[derive(Debug, Serialize)]
pub struct AppliedPromo {
    pub redemption_id: String,
    pub campaign_id: String,
    pub campaign: String,
    pub code: String,
}

/// Records a purchase once per key. `limit`: the guessing limit for its voucher codes, checked
/// first thing inside the transaction (after a retry's replay).
pub async fn record(
    db: &Db,
    actor: &Actor,
    idem: Idempotent,
    input: NewPurchase,
    limit: Option<crate::service::promo_codes::SparseCheck>,
    backdate_max_days: i64,
) -> AppResult<Stored> {
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
            if let Some(limit) = &limit {
                limit.refuse_at_limit(conn)?;
            }
            let occurred_at = input.occurred_at(repo::now(), backdate_max_days)?;
            let pid = actor.program_id.as_str();
            let program = repo::programs::find(conn, pid)?;
            if input.currency.as_str() != program.currency {
                return Err(AppError::unprocessable(
                    "currency_mismatch",
                    format!("this program counts in {}, not {}", program.currency, input.currency.as_str()),
                ));
            }
            let card = card_repo::find_by_ref(conn, pid, &input.card)?.ok_or_else(card_not_found)?;
            if card.status != CardStatus::Active {
                return Err(card_blocked(&card));
            }
            let location_id = match input.location.as_deref().or(actor.location_id.as_deref()) {
                Some(id) => Some(super::locations::live(conn, pid, id)?.id),
                None => None,
            };
            let external_ref = input.external_ref.as_ref().map(|r| r.as_str().to_owned());
            if let Some(r) = &external_ref
                && repo::purchases::external_ref_taken(conn, pid, r)?
            {
                return Err(external_ref_exists());
            }
            let amount = input.amount_cents.get();
            let now = repo::now();
            let mut offer = match &input.promo_code {
                Some(code) => Some(
                    promos::evaluate(conn, &program, code, Some(&card), Some(amount), chrono::Utc::now())?
                        .map_err(promos::Refusal::error)?,
                ),
                None => None,
            };
            let promo_discount = offer.as_ref().map_or(0, |o| o.discount_cents);
            let codes = voucher_till::codes_of(input.voucher_code.as_ref(), input.vouchers.as_deref())?;
            let uses = if codes.is_empty() {
                Vec::new()
            } else {
                voucher_till::evaluate(conn, &program, Some(&card), &codes, amount - promo_discount, amount, now)?
                    .map_err(voucher_till::Refusal::error)?
            };
            let discount = promo_discount + uses.iter().map(|u| u.discount_cents).sum::<i64>();
            // Points are earned on what is left to pay, after the promo code and the vouchers.
            let points = Cents::parse(amount - discount).map_or(0, |net| program.earning_rule().points_for(net));
            // At the rate of the tier the card is in before this purchase: the purchase that
            // qualifies for a higher tier still earns at the old rate.
            let tier_rules = super::tiers::rules::of_program(conn, pid)?;
            let standing = tiers::Standing::read(conn, &tier_rules, &card.id)?;
            let points = tiers::boosted(points, standing.multiplier_percent());
            let bonus = offer.as_ref().map_or(0, |o| o.effect.bonus(points));
            if let Some(offer) = offer.as_mut() {
                offer.earned = points;
                offer.bonus_points = bonus;
            }
            let purchase = Purchase {
                id: repo::new_id(),
                program_id: pid.to_owned(),
                card_id: card.id.clone(),
                location_id,
                staff_id: Some(actor.staff_id.clone()),
                amount_cents: input.amount_cents.get(),
                currency: program.currency.clone(),
                external_ref,
                points_earned: points,
                returned_cents: 0,
                created_at: repo::now(),
                occurred_at,
                discount_cents: discount,
                bonus_points: bonus,
            };
            repo::purchases::insert(conn, &purchase)
                .map_err(|e| super::programs::map_unique(e, external_ref_exists()))?;
            let promo = match &offer {
                Some(offer) => {
                    let redemption =
                        promos::redeem(conn, offer, &card, Some(&purchase.id))?.map_err(promos::Refusal::error)?;
                    Some(AppliedPromo {
                        redemption_id: redemption.id,
                        campaign_id: offer.campaign.id.clone(),
                        campaign: offer.campaign.name.clone(),
                        code: offer.code.code.clone(),
                    })
                }
                None => None,
            };
            voucher_till::take(conn, &uses, Some(&purchase.id), now)?.map_err(voucher_till::Refusal::error)?;
            let mut balance = card.balance;
            let mut posted = false;
            for (kind, delta) in [(EntryKind::Earn, points), (EntryKind::Promo, bonus)] {
                if delta == 0 {
                    continue;
                }
                let posting = Posting {
                    program_id: pid,
                    card_id: &card.id,
                    delta,
                    kind,
                    purchase_id: Some(&purchase.id),
                    staff_id: Some(&actor.staff_id),
                    reason: None,
                    earned_at: Some(occurred_at),
                };
                // The card may have been blocked since we read it: the guard re-checks at write time.
                let (after, _) = post(conn, &posting, Guard { only_active: true, no_overdraft: false })?
                    .ok_or_else(|| card_blocked(&card))?;
                balance = after.balance;
                posted = true;
            }
            if !posted && !uses.is_empty() {
                // Nothing earned (the vouchers paid it all): the pass still drops them.
                card_changed(conn, &card)?;
            }
            let tier = tiers::reevaluate_with(conn, &program, &standing, &card, tiers::Reason::Purchase, now)?;
            let referral = referrals::on_purchase(conn, &program, &card, &purchase)?;
            if referral.as_ref().is_some_and(|r| r.status == ReferralStatus::Rewarded) {
                balance = card_repo::find(conn, pid, &card.id)?.map_or(balance, |c| c.balance);
            }
            let conversion = match card_repo::find(conn, pid, &card.id)? {
                Some(now_card) if now_card.balance > 0 => {
                    threshold::on_credit(conn, &program, &now_card, Some(&actor.staff_id), now)?
                }
                _ => None,
            };
            if let Some(c) = &conversion {
                balance = c.balance;
            }
            Ok(Recorded {
                purchase: PurchaseDto::from(&purchase),
                points_earned: points,
                discount_cents: discount,
                bonus_points: bonus,
                balance,
                promo,
                vouchers: uses.iter().map(AppliedVoucher::from).collect(),
                conversion,
                referral,
                tier,
            })
        })
    })
    .await
}

fn external_ref_exists() -> AppError {
    AppError::conflict("external_ref_exists", "a purchase with this external_ref is already recorded")
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReturn {
    pub amount_cents: Cents,
}

#[derive(Debug, Serialize)]
pub struct Returned {
    pub purchase: PurchaseDto,
    pub amount_cents: i64,
    /// Points taken back for this return: floor(earned × returned / amount), less what earlier returns took.
    pub points_reversed: i64,
    /// The part of `points_reversed` the balance could not cover (already spent); the card owes it.
    pub points_owed: i64,
    pub entries: Vec<EntryDto>,
    pub balance: i64,
}

/// Returns goods of a purchase. Always accepted up to the amount bought, even on a blocked card
/// and even when the points were already spent: the refund at the till can't wait on points.
/// Spent points become an explicit `debt` entry and a negative balance, which later earnings
/// pay back. The alternative, refusing the return, would leave the customer's earned-and-spent
/// points as a free gift (the exploit loop seen in open-source POS systems).
pub async fn return_goods(
    db: &Db,
    actor: &Actor,
    purchase_id: String,
    idem: Idempotent,
    input: NewReturn,
) -> AppResult<Stored> {
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
            let pid = actor.program_id.as_str();
            let cents = input.amount_cents.get();
            let Some(purchase) = repo::purchases::add_returned(conn, pid, &purchase_id, cents)? else {
                let existing = repo::purchases::find(conn, pid, &purchase_id)?
                    .ok_or_else(|| AppError::not_found("purchase_not_found", "no such purchase in this program"))?;
                return Err(AppError::unprocessable(
                    "return_exceeds_purchase",
                    format!(
                        "{} cents of {} are left to return",
                        existing.amount_cents - existing.returned_cents,
                        existing.amount_cents
                    ),
                ));
            };
            let before = purchase.returned_cents - cents;
            // Promo bonus points go back in the same proportion as the earned ones.
            let given = purchase.points_earned + purchase.bonus_points;
            let reverse = points_to_reverse(given, purchase.amount_cents, before, cents);
            // A full return gives the promo code's use back to the campaign, the code and the customer.
            // Before the card is locked: a purchase takes the promo rows, then the card, and taking
            // them in the same order here is what keeps the two from deadlocking on PostgreSQL.
            if purchase.returned_cents == purchase.amount_cents
                && let Some(redemption) = repo::promos::redemption_for_purchase(conn, &purchase.id)?
            {
                repo::promos::roll_back(conn, &redemption)?;
            }
            // And the vouchers it used: active again while still valid, expired otherwise. A
            // partial return keeps them used: the discount was given.
            let vouchers_back = purchase.returned_cents == purchase.amount_cents
                && repo::vouchers::give_back(conn, &purchase.id, repo::now())? > 0;
            // Locked, so that the split between reversal and debt is computed on the balance we write to.
            let card = card_repo::lock(conn, pid, &purchase.card_id)?.ok_or_else(card_not_found)?;
            let covered = card.balance.clamp(0, reverse);
            let owed = reverse - covered;
            let mut entries = Vec::new();
            let mut balance = card.balance;
            for (kind, points) in [(EntryKind::Reversal, covered), (EntryKind::Debt, owed)] {
                if points == 0 {
                    continue;
                }
                let posting = Posting {
                    program_id: pid,
                    card_id: &card.id,
                    delta: -points,
                    kind,
                    purchase_id: Some(&purchase.id),
                    staff_id: Some(&actor.staff_id),
                    reason: None,
                    earned_at: None,
                };
                let (card, entry) = post(conn, &posting, Guard { only_active: false, no_overdraft: false })?
                    .ok_or_else(card_not_found)?;
                balance = card.balance;
                entries.push(EntryDto::from(&entry));
            }
            if vouchers_back && entries.is_empty() {
                card_changed(conn, &card)?;
            }
            let program = repo::programs::find(conn, pid)?;
            referrals::on_return(conn, &program, &purchase)?;
            let balance = card_repo::find(conn, pid, &card.id)?.map_or(balance, |c| c.balance);
            Ok(Returned {
                purchase: PurchaseDto::from(&purchase),
                amount_cents: cents,
                points_reversed: reverse,
                points_owed: owed,
                entries,
                balance,
            })
        })
    })
    .await
}
