//! A voucher at the till: whether it applies and what it takes off (`evaluate`, reading only),
//! then using it (`take`) in the purchase's transaction. Also the dry run and the use of an item
//! voucher on its own.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{VoucherDto, value_of};
use crate::db::repo::cards::{self as card_repo, Card};
use crate::db::repo::programs::Program;
use crate::db::repo::vouchers::Voucher;
use crate::db::{Db, DbConn, repo};
use crate::domain::card::CardRef;
use crate::domain::money::Cents;
use crate::domain::status::{CardStatus, VoucherState};
use crate::domain::voucher::{VoucherCode, VoucherValue, discounts};
use crate::error::{AppError, AppResult};
use crate::service::Actor;
use crate::service::card_changes::card_changed;
use crate::service::cards::card_not_found;
use crate::service::idempotency::{self, Idempotent, Stored};
use crate::service::points::card_blocked;

/// The most vouchers one purchase takes: more is a stuck scanner, not a customer.
pub const MAX_PER_PURCHASE: usize = 10;

/// Why a voucher does not apply. An unknown code, another programme's and another card's all
/// read `invalid`: a guesser learns nothing about which codes exist or whose they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    Invalid,
    Used,
    Expired,
    BelowMinimum,
}

impl Refusal {
    pub fn error(self) -> AppError {
        let (code, message) = match self {
            Refusal::Invalid => ("voucher_invalid", "this voucher is not valid for this card"),
            Refusal::Used => ("voucher_used", "this voucher was already used"),
            Refusal::Expired => ("voucher_expired", "this voucher has expired"),
            Refusal::BelowMinimum => ("voucher_below_minimum", "the purchase is below this voucher's minimum"),
        };
        AppError::unprocessable(code, message)
    }

    /// The error code of a refusal that counts as a guess against the guessing limits.
    pub fn is_guess(error: &AppError) -> bool {
        matches!(error, AppError::Client { code, .. } if *code == Refusal::Invalid.error().code())
    }
}

/// A voucher that applies, with what it takes off.
#[derive(Debug, Clone)]
pub struct Use {
    pub voucher: Voucher,
    pub value: VoucherValue,
    pub discount_cents: i64,
}

/// The vouchers of one purchase, each checked, with their discounts on `amount` (what is left
/// after any promo code). `minimum_of` is the amount the vouchers' minimums compare with: the
/// purchase before any discount. Reads only.
pub fn evaluate(
    conn: &mut DbConn,
    program: &Program,
    card: Option<&Card>,
    codes: &[VoucherCode],
    amount: i64,
    minimum_of: i64,
    now: NaiveDateTime,
) -> AppResult<Result<Vec<Use>, Refusal>> {
    let mut found = Vec::with_capacity(codes.len());
    for code in codes {
        let Some(voucher) = repo::vouchers::find_by_code(conn, &program.id, code.as_str())? else {
            return Ok(Err(Refusal::Invalid));
        };
        if card.is_some_and(|c| c.id != voucher.card_id) {
            return Ok(Err(Refusal::Invalid));
        }
        match voucher.state_at(now) {
            VoucherState::Active => {}
            VoucherState::Used => return Ok(Err(Refusal::Used)),
            VoucherState::Expired => return Ok(Err(Refusal::Expired)),
            VoucherState::Cancelled => return Ok(Err(Refusal::Invalid)),
        }
        if minimum_of < voucher.min_purchase_cents {
            return Ok(Err(Refusal::BelowMinimum));
        }
        let value = value_of(&voucher)?;
        found.push((voucher, value));
    }
    let values: Vec<VoucherValue> = found.iter().map(|(_, v)| v.clone()).collect();
    let offs = discounts(amount, &values);
    Ok(Ok(found
        .into_iter()
        .zip(offs)
        .map(|((voucher, value), off)| Use { voucher, value, discount_cents: off.discount_cents })
        .collect()))
}

/// Uses each voucher by one conditional UPDATE. A voucher another till used a moment ago
/// refuses (`used`, or `expired` if its time ran out meanwhile): the caller's transaction,
/// purchase included, rolls back.
pub fn take(
    conn: &mut DbConn,
    uses: &[Use],
    purchase_id: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Result<(), Refusal>> {
    for u in uses {
        if !repo::vouchers::take(conn, &u.voucher.id, purchase_id, u.discount_cents, now)? {
            let now_state = repo::vouchers::find(conn, &u.voucher.program_id, &u.voucher.id)?
                .map_or(VoucherState::Cancelled, |v| v.state_at(now));
            return Ok(Err(match now_state {
                VoucherState::Expired => Refusal::Expired,
                VoucherState::Cancelled => Refusal::Invalid,
                _ => Refusal::Used,
            }));
        }
    }
    Ok(Ok(()))
}

/// The codes of a request: `voucher_code` and `vouchers` together, each once.
pub fn codes_of(one: Option<&VoucherCode>, many: Option<&[VoucherCode]>) -> AppResult<Vec<VoucherCode>> {
    let mut codes: Vec<VoucherCode> = one.into_iter().cloned().collect();
    for code in many.unwrap_or_default() {
        if codes.contains(code) {
            return Err(AppError::bad_request(
                "duplicate_voucher",
                format!("voucher {} is given twice", code.display()),
            ));
        }
        codes.push(code.clone());
    }
    if codes.len() > MAX_PER_PURCHASE {
        return Err(AppError::bad_request(
            "too_many_vouchers",
            format!("a purchase takes at most {MAX_PER_PURCHASE} vouchers"),
        ));
    }
    Ok(codes)
}

/// What a voucher took off a purchase, in the purchase's answer.
#[derive(Debug, Serialize)]
pub struct AppliedVoucher {
    pub voucher_id: String,
    pub code: String,
    pub value: VoucherValue,
    pub discount_cents: i64,
}

impl From<&Use> for AppliedVoucher {
    fn from(u: &Use) -> Self {
        AppliedVoucher {
            voucher_id: u.voucher.id.clone(),
            code: u.voucher.code.clone(),
            value: u.value.clone(),
            discount_cents: u.discount_cents,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub code: VoucherCode,
    #[serde(default)]
    pub card: Option<CardRef>,
    #[serde(default)]
    pub amount_cents: Option<Cents>,
}

#[derive(Debug, Serialize)]
pub struct Checked {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Refusal>,
    /// Shown only when the voucher is the card's (or no card was given) and not unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voucher: Option<VoucherDto>,
    /// With `amount_cents`: what it would take off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_cents: Option<i64>,
}

/// The dry run: whether the voucher applies and what it would take off; holds nothing.
pub async fn validate(db: &Db, actor: &Actor, input: Check) -> AppResult<Checked> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let program = repo::programs::find(c, &program_id)?;
        let card = match &input.card {
            Some(r) => Some(card_repo::find_by_ref(c, &program_id, r)?.ok_or_else(card_not_found)?),
            None => None,
        };
        let now = repo::now();
        let amount = input.amount_cents.map(Cents::get);
        let checked = evaluate(
            c,
            &program,
            card.as_ref(),
            std::slice::from_ref(&input.code),
            amount.unwrap_or(0),
            amount.unwrap_or(i64::MAX),
            now,
        )?;
        Ok(match checked {
            Ok(uses) => {
                let u = uses.first().ok_or_else(|| AppError::Internal(anyhow::anyhow!("one code, no use")))?;
                Checked {
                    valid: true,
                    reason: None,
                    voucher: Some(VoucherDto::new(&u.voucher, now)?),
                    discount_cents: amount.map(|_| u.discount_cents),
                }
            }
            Err(reason) => Checked { valid: false, reason: Some(reason), voucher: None, discount_cents: None },
        })
    })
    .await
}

#[derive(Debug, Serialize)]
pub struct Redeemed {
    pub voucher: VoucherDto,
}

/// Hands over an item voucher without a purchase ("a free coffee"). A money voucher needs a
/// purchase to come off, so it is refused here rather than spent on nothing.
pub async fn redeem_item(db: &Db, actor: &Actor, code: VoucherCode, idem: Idempotent) -> AppResult<Stored> {
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::OK, |conn| {
            let program = repo::programs::find(conn, &actor.program_id)?;
            let now = repo::now();
            let uses = evaluate(conn, &program, None, std::slice::from_ref(&code), 0, i64::MAX, now)?
                .map_err(Refusal::error)?;
            let Some(u) = uses.first() else {
                return Err(Refusal::Invalid.error());
            };
            if !u.value.is_item() {
                return Err(AppError::unprocessable(
                    "voucher_needs_purchase",
                    "this voucher takes money off a purchase: give it with the purchase (voucher_code)",
                ));
            }
            let card = card_repo::find(conn, &program.id, &u.voucher.card_id)?.ok_or_else(card_not_found)?;
            if card.status != CardStatus::Active {
                return Err(card_blocked(&card));
            }
            take(conn, &uses, None, now)?.map_err(Refusal::error)?;
            card_changed(conn, &card)?;
            let used = repo::vouchers::find(conn, &program.id, &u.voucher.id)?
                .ok_or_else(|| AppError::Internal(anyhow::anyhow!("voucher gone after use")))?;
            Ok(Redeemed { voucher: VoucherDto::new(&used, now)? })
        })
    })
    .await
}
