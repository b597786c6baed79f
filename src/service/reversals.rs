//! Undoing a redemption: the cashier's "undo" at the till. The ledger is append-only, so an undo
//! is a new `reversal` entry that gives the points back, linked to the entry it cancels; that
//! link's primary key makes a second undo of the same entry fail, however many tills try at once.
//! (A purchase is undone by returning it in full: that path already takes back the points, the
//! promo use and the referral reward.)

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::idempotency::{self, Idempotent, Stored};
use super::points::{Guard, Posting, post, refusal};
use crate::db::repo::ledger::Entry;
use crate::db::repo::reversals::NewReversal;
use crate::db::{Db, repo};
use crate::domain::ledger::EntryKind;
use crate::domain::role::Role;
use crate::domain::text::Reason;
use crate::dto::EntryDto;
use crate::error::{AppError, AppResult};

/// How long a cashier may undo their own redemption: long enough to fix a mis-tap while the
/// customer is at the till, short enough that later corrections go through a manager.
pub const CASHIER_UNDO_MINUTES: i64 = 15;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reversal {
    #[serde(default)]
    pub reason: Option<Reason>,
}

#[derive(Debug, Serialize)]
pub struct Reversed {
    pub reversal: EntryDto,
    pub original: EntryDto,
    pub balance: i64,
}

pub async fn reverse_redemption(
    db: &Db,
    actor: &Actor,
    entry_id: i64,
    idem: Idempotent,
    input: Reversal,
) -> AppResult<Stored> {
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
            let pid = actor.program_id.as_str();
            let original = repo::ledger::find(conn, pid, entry_id)?
                .ok_or_else(|| AppError::not_found("entry_not_found", "no such ledger entry in this program"))?;
            let reward = original.kind == EntryKind::Reward.as_str();
            if original.kind != EntryKind::Redeem.as_str() && !reward {
                return Err(AppError::unprocessable(
                    "not_reversible",
                    "only a redemption or a reward claim is undone here; a purchase is undone by returning it in full",
                ));
            }
            may_undo(&actor, &original, repo::now())?;
            // Read first for a clear answer in the common case; the insert below is what decides.
            if repo::reversals::exists(conn, pid, original.id)? {
                return Err(already_reversed());
            }
            if reward {
                undo_claim(conn, original.id)?;
            }
            let posting = Posting {
                program_id: pid,
                card_id: &original.card_id,
                delta: -original.delta,
                kind: EntryKind::Reversal,
                purchase_id: None,
                staff_id: Some(&actor.staff_id),
                reason: input.reason.as_ref().map(Reason::as_str),
                earned_at: None,
            };
            // Giving points back: allowed on a blocked card (not a closed one) and never an overdraft.
            let guard = Guard { only_active: false, no_overdraft: false };
            let Some((card, entry)) = post(conn, &posting, guard)? else {
                return Err(refusal(conn, &posting, guard)?);
            };
            let link = NewReversal {
                original_entry_id: original.id,
                program_id: pid,
                reversal_entry_id: entry.id,
                staff_id: Some(&actor.staff_id),
                created_at: entry.created_at,
            };
            if !repo::reversals::record(conn, &link)? {
                // Another till won the race: this transaction, entry included, rolls back.
                return Err(already_reversed());
            }
            Ok(Reversed {
                reversal: EntryDto::from(&entry),
                original: EntryDto::from(&original),
                balance: card.balance,
            })
        })
    })
    .await
}

/// A reward claim is undone with its voucher: cancelled if unused, and the reward's stock given
/// back. A voucher already used can't be (the discount was given): 409, and nothing changes.
fn undo_claim(conn: &mut crate::db::DbConn, entry_id: i64) -> AppResult<()> {
    let now = repo::now();
    let vouchers = repo::vouchers::for_entry(conn, entry_id)?;
    let (_, used) = repo::vouchers::cancel_for_entry(conn, entry_id, now)?;
    if used > 0 {
        return Err(AppError::conflict(
            "voucher_used",
            "the voucher of this claim was already used; it can't be undone",
        ));
    }
    for reward_id in vouchers.iter().filter_map(|v| v.reward_id.as_deref()) {
        repo::rewards::give_back_stock(conn, reward_id)?;
    }
    Ok(())
}

/// Managers and owners undo any redemption; a cashier only their own, and only for a short while.
fn may_undo(actor: &Actor, original: &Entry, now: chrono::NaiveDateTime) -> AppResult<()> {
    if actor.role >= Role::Manager {
        return Ok(());
    }
    if original.staff_id.as_deref() != Some(actor.staff_id.as_str()) {
        return Err(AppError::client(
            StatusCode::FORBIDDEN,
            "undo_not_allowed",
            "a cashier can undo only their own operations; ask a manager",
        ));
    }
    if now - original.created_at > chrono::Duration::minutes(CASHIER_UNDO_MINUTES) {
        return Err(AppError::client(
            StatusCode::FORBIDDEN,
            "undo_window_passed",
            format!("a cashier can undo an operation for {CASHIER_UNDO_MINUTES} minutes; ask a manager"),
        ));
    }
    Ok(())
}

fn already_reversed() -> AppError {
    AppError::conflict("already_reversed", "this operation was already undone")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redemption(staff: &str, at: chrono::NaiveDateTime) -> Entry {
        Entry {
            id: 1,
            program_id: "p".into(),
            card_id: "c".into(),
            delta: -10,
            kind: "redeem".into(),
            purchase_id: None,
            staff_id: Some(staff.into()),
            reason: None,
            balance_after: 0,
            created_at: at,
        }
    }

    fn actor(staff: &str, role: Role) -> Actor {
        Actor { staff_id: staff.into(), program_id: "p".into(), role, location_id: None }
    }

    #[test]
    fn a_cashier_undoes_their_own_operation_for_fifteen_minutes_a_manager_any_time() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap().naive_utc();
        let window = chrono::Duration::minutes(CASHIER_UNDO_MINUTES);
        let recent = redemption("ann", now - window);
        let old = redemption("ann", now - window - chrono::Duration::seconds(1));
        assert!(may_undo(&actor("ann", Role::Cashier), &recent, now).is_ok());
        assert_eq!(may_undo(&actor("ann", Role::Cashier), &old, now).unwrap_err().code(), "undo_window_passed");
        assert_eq!(may_undo(&actor("bob", Role::Cashier), &recent, now).unwrap_err().code(), "undo_not_allowed");
        assert!(may_undo(&actor("bob", Role::Manager), &old, now).is_ok());
        assert!(may_undo(&actor("bob", Role::Owner), &old, now).is_ok());
    }
}
