//! Claiming a reward: the points are spent (ledger kind `reward`) and the voucher issued in one
//! transaction, by staff at the till or by the customer from the card page.

use actix_web::http::StatusCode;
use chrono::NaiveDateTime;
use serde::Serialize;

use super::{name_in, reward_not_found, value_of};
use crate::db::repo::cards::Card;
use crate::db::repo::programs::Program;
use crate::db::{Db, DbConn, repo};
use crate::domain::ledger::EntryKind;
use crate::domain::status::{CardStatus, VoucherOrigin};
use crate::domain::text::Locale;
use crate::domain::voucher::ValidityDays;
use crate::error::{AppError, AppResult};
use crate::service::Actor;
use crate::service::idempotency::{self, Idempotent, Stored};
use crate::service::points::{Guard, Posting, card_blocked, post, refusal};
use crate::service::vouchers::{self, Issue, VoucherDto};

#[derive(Debug, Serialize)]
pub struct Claimed {
    pub voucher: VoucherDto,
    pub balance: i64,
}

pub async fn by_staff(
    db: &Db,
    actor: &Actor,
    card_id: String,
    reward_id: String,
    idem: Idempotent,
) -> AppResult<Stored> {
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
            let program = repo::programs::find(conn, &actor.program_id)?;
            let card = crate::service::cards::find_card(conn, &program.id, &card_id)?;
            claim_in(conn, &program, &card, &reward_id, Some(&actor.staff_id), repo::now())
        })
    })
    .await
}

/// The claim itself, in the caller's transaction. Refusals, in order: the reward is unknown
/// (404) or not claimable (`reward_inactive`), the card is not active, the balance is short
/// (`insufficient_points`), the stock is gone (`reward_out_of_stock`). The stock is taken by one
/// conditional UPDATE after the points: N concurrent claims of S left give exactly S vouchers,
/// and a refused claim rolls its points back with it.
pub fn claim_in(
    conn: &mut DbConn,
    program: &Program,
    card: &Card,
    reward_id: &str,
    staff_id: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Claimed> {
    let reward = repo::rewards::find(conn, &program.id, reward_id)?.ok_or_else(reward_not_found)?;
    if !reward.active || reward.archived_at.is_some() {
        return Err(AppError::unprocessable("reward_inactive", "this reward can't be claimed at the moment"));
    }
    if card.status != CardStatus::Active {
        return Err(card_blocked(card));
    }
    let posting = Posting {
        program_id: &program.id,
        card_id: &card.id,
        delta: -reward.cost_points,
        kind: EntryKind::Reward,
        purchase_id: None,
        staff_id,
        reason: Some(&reward.name),
        earned_at: None,
    };
    let guard = Guard { only_active: true, no_overdraft: true };
    let Some((after, entry)) = post(conn, &posting, guard)? else {
        return Err(refusal(conn, &posting, guard)?);
    };
    if reward.stock.is_some() && !repo::rewards::take_stock(conn, &reward.id)? {
        return Err(AppError::unprocessable("reward_out_of_stock", "this reward has none left"));
    }
    let value = value_of(&reward)?;
    let validity = ValidityDays::parse(reward.validity_days)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reward {}: validity {e}", reward.id)))?;
    let voucher = vouchers::issue(
        conn,
        &Issue {
            program,
            card,
            value: &value,
            min_purchase_cents: reward.min_purchase_cents,
            validity,
            origin: VoucherOrigin::Reward,
            title: Some(name_in(&reward, Locale::from_db(&program.locale))),
            reward_id: Some(&reward.id),
            conversion_id: None,
            ledger_entry_id: Some(entry.id),
            reason: None,
            staff_id,
            notify: true,
        },
        now,
    )?;
    Ok(Claimed { voucher: VoucherDto::new(&voucher, now)?, balance: after.balance })
}
