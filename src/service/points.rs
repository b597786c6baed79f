//! Every balance change goes through [`post`]: one conditional UPDATE of the card, one ledger
//! entry, one outbox job, in the caller's transaction. So `balance == SUM(ledger)` and "every
//! change of the pass is pushed" hold by construction, not by care at each call site.

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::card_changes;
use super::cards::card_not_found;
use super::expiry::lots;
use super::idempotency::{self, Idempotent, Stored};
use crate::db::repo::cards::{self as card_repo, Card};
use crate::db::repo::ledger::{Entry, NewEntry};
use crate::db::{Db, DbConn, repo};
use crate::domain::ledger::EntryKind;
use crate::domain::points::{Points, PointsDelta};
use crate::domain::role::Role;
use crate::domain::status::CardStatus;
use crate::domain::text::Reason;
use crate::dto::EntryDto;
use crate::error::{AppError, AppResult};

/// What a posting may not do.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    /// Refuse when the card is blocked or closed.
    pub only_active: bool,
    /// Refuse when the balance would end below zero.
    pub no_overdraft: bool,
}

pub struct Posting<'a> {
    pub program_id: &'a str,
    pub card_id: &'a str,
    pub delta: i64,
    pub kind: EntryKind,
    pub purchase_id: Option<&'a str>,
    pub staff_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    /// When a credit was earned, if not now (a sale an offline till uploads late): its lot's
    /// validity counts from then.
    pub earned_at: Option<chrono::NaiveDateTime>,
}

/// The statuses a posting may land on. A closed card takes no new points whatever the guard (its
/// holder left or was erased), while a debit still lands there, so that a return stays exact.
fn statuses(delta: i64, guard: Guard) -> &'static [CardStatus] {
    use CardStatus::{Active, Blocked, Closed};
    match (guard.only_active, delta > 0) {
        (true, _) => &[Active],
        (false, true) => &[Active, Blocked],
        (false, false) => &[Active, Blocked, Closed],
    }
}

/// None when the guard refused (the card was blocked or closed, or the balance short): see
/// [`refusal`] for why.
pub fn post(conn: &mut DbConn, p: &Posting<'_>, guard: Guard) -> AppResult<Option<(Card, Entry)>> {
    Ok(post_many(conn, std::slice::from_ref(p), guard)?.pop().flatten())
}

/// [`post`] for postings to distinct cards, in a few statements whatever their number (the
/// balance UPDATEs of `move_balances_each`, one INSERT of the entries, the pass updates together): what a
/// batch over thousands of cards needs. Each posting's outcome, in order.
pub fn post_many(conn: &mut DbConn, postings: &[Posting<'_>], guard: Guard) -> AppResult<Vec<Option<(Card, Entry)>>> {
    use std::collections::{BTreeMap, HashMap};
    // Credits and debits apart: what a posting may land on depends on its direction.
    let mut by_direction: BTreeMap<(&str, i64), Vec<(&str, i64)>> = BTreeMap::new();
    for p in postings {
        by_direction.entry((p.program_id, p.delta.signum())).or_default().push((p.card_id, p.delta));
    }
    let mut moved: HashMap<String, Card> = HashMap::with_capacity(postings.len());
    for ((program_id, direction), moves) in by_direction {
        // The floor stops debits only: a credit to a card in debt always goes through.
        let floor = (guard.no_overdraft && direction < 0).then_some(0);
        for card in card_repo::move_balances_each(conn, program_id, &moves, statuses(direction, guard), floor)? {
            moved.insert(card.id.clone(), card);
        }
    }
    let now = repo::now();
    let entries: Vec<NewEntry<'_>> = postings
        .iter()
        .filter_map(|p| {
            let card = moved.get(p.card_id)?;
            Some(NewEntry {
                program_id: p.program_id,
                card_id: p.card_id,
                delta: p.delta,
                kind: p.kind.as_str(),
                purchase_id: p.purchase_id,
                staff_id: p.staff_id,
                reason: p.reason,
                balance_after: card.balance,
                created_at: now,
            })
        })
        .collect();
    let mut written: HashMap<String, Entry> =
        repo::ledger::append_many(conn, &entries)?.into_iter().map(|e| (e.card_id.clone(), e)).collect();
    let moves: Vec<lots::Move<'_>> = postings
        .iter()
        .filter_map(|p| {
            let (card, entry) = (moved.get(p.card_id)?, written.get(p.card_id)?);
            Some(lots::Move {
                program_id: p.program_id,
                card_id: p.card_id,
                before: card.balance - p.delta,
                after: card.balance,
                entry_id: entry.id,
                earned_at: p.earned_at.unwrap_or(now),
            })
        })
        .collect();
    lots::follow(conn, &moves)?;
    let changed: Vec<Card> = postings.iter().filter_map(|p| moved.get(p.card_id).cloned()).collect();
    card_changes::cards_changed(conn, &changed)?;
    Ok(postings.iter().map(|p| Some((moved.remove(p.card_id)?, written.remove(p.card_id)?))).collect())
}

/// Explains why a guarded posting was refused, reading the card as it is now.
pub fn refusal(conn: &mut DbConn, p: &Posting<'_>, guard: Guard) -> AppResult<AppError> {
    let card = card_repo::find(conn, p.program_id, p.card_id)?.ok_or_else(card_not_found)?;
    Ok(if statuses(p.delta, guard).contains(&card.status) {
        AppError::unprocessable(
            "insufficient_points",
            format!("the card has {} points; {} are needed", card.balance, -p.delta),
        )
    } else {
        card_blocked(&card)
    })
}

/// Why a card that is not active refuses: `card_closed` for good, `card_blocked` until unblocked.
pub fn card_blocked(card: &Card) -> AppError {
    if card.status == CardStatus::Closed {
        AppError::unprocessable("card_closed", "this card is closed")
    } else {
        AppError::unprocessable("card_blocked", format!("this card is {}", card.status))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redemption {
    pub points: Points,
    pub reason: Reason,
}

#[derive(Debug, Serialize)]
pub struct Redeemed {
    pub redemption: EntryDto,
    pub balance: i64,
}

pub async fn redeem(db: &Db, actor: &Actor, card_id: String, idem: Idempotent, input: Redemption) -> AppResult<Stored> {
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
            let card = card_repo::find(conn, &actor.program_id, &card_id)?.ok_or_else(card_not_found)?;
            let posting = Posting {
                program_id: &actor.program_id,
                card_id: &card.id,
                delta: -input.points.get(),
                kind: EntryKind::Redeem,
                purchase_id: None,
                staff_id: Some(&actor.staff_id),
                reason: Some(input.reason.as_str()),
                earned_at: None,
            };
            let guard = Guard { only_active: true, no_overdraft: true };
            match post(conn, &posting, guard)? {
                Some((card, entry)) => Ok(Redeemed { redemption: EntryDto::from(&entry), balance: card.balance }),
                None => Err(refusal(conn, &posting, guard)?),
            }
        })
    })
    .await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub points: PointsDelta,
    pub reason: Reason,
}

#[derive(Debug, Serialize)]
pub struct Adjusted {
    pub adjustment: EntryDto,
    pub balance: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<super::conversions::threshold::Converted>,
}

/// A manual correction by a manager or owner. Works on blocked cards too (that is when
/// corrections happen), but never takes a balance below zero nor credits a closed card.
pub async fn adjust(db: &Db, actor: &Actor, card_id: String, idem: Idempotent, input: Adjustment) -> AppResult<Stored> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
            let card = card_repo::find(conn, &actor.program_id, &card_id)?.ok_or_else(card_not_found)?;
            let posting = Posting {
                program_id: &actor.program_id,
                card_id: &card.id,
                delta: input.points.get(),
                kind: EntryKind::Adjust,
                purchase_id: None,
                staff_id: Some(&actor.staff_id),
                reason: Some(input.reason.as_str()),
                earned_at: None,
            };
            let guard = Guard { only_active: false, no_overdraft: true };
            let Some((card, entry)) = post(conn, &posting, guard)? else {
                return Err(refusal(conn, &posting, guard)?);
            };
            // A credit that reaches the programme's threshold converts, as a purchase's does.
            let conversion = if posting.delta > 0 && card.status == CardStatus::Active {
                let program = repo::programs::find(conn, &actor.program_id)?;
                super::conversions::threshold::on_credit(conn, &program, &card, Some(&actor.staff_id), repo::now())?
            } else {
                None
            };
            let balance = conversion.as_ref().map_or(card.balance, |c| c.balance);
            let what = super::audit::What::new("card.adjust", "card", &card.id);
            let facts =
                serde_json::json!({"points": entry.delta, "reason": entry.reason, "balance": entry.balance_after});
            super::audit::record(conn, &actor, what, &serde_json::json!({}), &facts)?;
            Ok(Adjusted { adjustment: EntryDto::from(&entry), balance, conversion })
        })
    })
    .await
}
