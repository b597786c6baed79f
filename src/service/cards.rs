//! Reading cards and their ledger; blocking and unblocking.

use serde::Serialize;

use super::Actor;
use super::card_changes;
use crate::db::repo::cards::{self as card_repo, Card};
use crate::db::{Db, DbConn, repo};
use crate::domain::card::CardRef;
use crate::domain::role::Role;
use crate::domain::status::CardStatus;
use crate::dto::{CardDto, CardView, EntryDto};
use crate::error::{AppError, AppResult};

pub fn card_not_found() -> AppError {
    AppError::not_found("card_not_found", "no card with this number, barcode or id in this program")
}

/// Finds a card by its number, its barcode, or its id.
pub fn find_card(conn: &mut DbConn, program_id: &str, reference: &str) -> AppResult<Card> {
    let found = match CardRef::parse(reference) {
        Ok(card_ref) => card_repo::find_by_ref(conn, program_id, &card_ref)?,
        Err(_) => card_repo::find(conn, program_id, reference)?,
    };
    found.ok_or_else(card_not_found)
}

pub async fn get(db: &Db, actor: &Actor, reference: String) -> AppResult<CardView> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let card = find_card(c, &program_id, &reference)?;
        let customer = repo::customers::find(c, &program_id, &card.customer_id)?;
        let program = repo::programs::find(c, &program_id)?;
        let tier = crate::service::tiers::standing::view(c, &program, &card, repo::now())?;
        Ok(CardView { card: CardDto::from(&card), first_name: customer.first_name, tier })
    })
    .await
}

#[derive(Debug, Serialize)]
pub struct LedgerPage {
    pub card_id: String,
    pub balance: i64,
    pub entries: Vec<EntryDto>,
    /// Pass as `before` to get the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

pub async fn ledger(db: &Db, actor: &Actor, card_id: String, before: Option<i64>, limit: i64) -> AppResult<LedgerPage> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let card = card_repo::find(c, &program_id, &card_id)?.ok_or_else(card_not_found)?;
        // One more than asked tells whether another page exists.
        let mut rows = repo::ledger::page(c, &program_id, &card.id, before, limit + 1)?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_before = if more { rows.last().map(|e| e.id) } else { None };
        Ok(LedgerPage {
            card_id: card.id,
            balance: card.balance,
            entries: rows.iter().map(EntryDto::from).collect(),
            next_before,
        })
    })
    .await
}

/// Blocks or unblocks a card (managers and owners). Setting the state it already has is a no-op,
/// so a retried call is harmless.
pub async fn set_status(db: &Db, actor: &Actor, card_id: String, status: CardStatus) -> AppResult<CardDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let program_id = &actor.program_id;
        let card = card_repo::find(c, program_id, &card_id)?.ok_or_else(card_not_found)?;
        if card.status == status {
            return Ok(CardDto::from(&card));
        }
        if card.status == CardStatus::Closed {
            return Err(AppError::unprocessable("card_closed", "this card is closed"));
        }
        let before = serde_json::json!({"status": card.status});
        let card = card_repo::set_status(c, program_id, &card.id, status)?.ok_or_else(card_not_found)?;
        card_changes::card_changed(c, &card)?;
        let action = if status == CardStatus::Blocked { "card.block" } else { "card.unblock" };
        let what = super::audit::What::new(action, "card", &card.id);
        super::audit::record(c, &actor, what, &before, &serde_json::json!({"status": card.status}))?;
        Ok(CardDto::from(&card))
    })
    .await
}
