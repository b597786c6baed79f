//! A card's Apple Wallet pass, however it is asked for: by staff (support, debugging), by the
//! customer's own link, and by the iPhone holding it (PassKit web service).

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::Actor;
use super::cards::{card_not_found, find_card};
use crate::db::repo::cards::{CLOSED, Card};
use crate::db::{Db, DbConn, blocking, repo};
use crate::domain::card::CardNumber;
use crate::error::{AppError, AppResult};
use crate::wallet::AppleWallet;
use crate::wallet::apple::{self, PassInput};

/// Transactions shown on the back of the pass.
const RECENT_ENTRIES: i64 = 5;

/// A signed pass and the time it last changed (its `Last-Modified`).
pub struct PassFile {
    pub bytes: Vec<u8>,
    pub last_modified: NaiveDateTime,
}

/// The pass of the card named by number, barcode or id, for staff of its program.
pub async fn for_staff(
    db: &Db,
    wallet: Arc<AppleWallet>,
    actor: &Actor,
    reference: String,
    public_url: String,
) -> AppResult<PassFile> {
    let program_id = actor.program_id.clone();
    let signing = db
        .read(move |c| {
            let card = find_card(c, &program_id, &reference)?;
            prepare(c, &wallet, &card, &public_url)
        })
        .await?;
    sign(signing).await
}

/// The pass behind a customer's link token (the link is the credential: long and random).
pub async fn for_link(db: &Db, wallet: Arc<AppleWallet>, token: String, public_url: String) -> AppResult<PassFile> {
    let signing = db
        .read(move |c| {
            let card = repo::cards::find_by_link_token(c, &token)?.ok_or_else(card_not_found)?;
            prepare(c, &wallet, &card, &public_url)
        })
        .await?;
    sign(signing).await
}

/// Everything needed to sign one pass, read in one transaction and signed outside it.
pub struct Signing {
    wallet: Arc<AppleWallet>,
    input: PassInput,
    last_modified: NaiveDateTime,
    card_id: String,
}

/// Reads what the card's pass shows.
pub fn prepare(conn: &mut DbConn, wallet: &Arc<AppleWallet>, card: &Card, public_url: &str) -> AppResult<Signing> {
    let input = input(conn, wallet, card, public_url)?;
    Ok(Signing { wallet: wallet.clone(), input, last_modified: card.pass_updated_at, card_id: card.id.clone() })
}

/// RSA signing is CPU work: done off the async workers.
pub async fn sign(s: Signing) -> AppResult<PassFile> {
    blocking(move || {
        let bytes = apple::render(&s.wallet.identity, &s.wallet.design, &s.input)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering the pass of card {}: {e}", s.card_id)))?;
        Ok(PassFile { bytes, last_modified: s.last_modified })
    })
    .await
}

fn input(conn: &mut DbConn, wallet: &AppleWallet, card: &Card, public_url: &str) -> AppResult<PassInput> {
    let program = repo::programs::find(conn, &card.program_id)?;
    let customer = repo::customers::find(conn, &card.program_id, &card.customer_id)?;
    let zone: chrono_tz::Tz = program.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let recent = repo::ledger::page(conn, &card.program_id, &card.id, None, RECENT_ENTRIES)?
        .into_iter()
        .map(|e| {
            let day = e.created_at.and_utc().with_timezone(&zone).format("%Y-%m-%d");
            format!("{day}  {:+}", e.delta)
        })
        .collect();
    Ok(PassInput {
        program_name: program.name.clone(),
        organization: None,
        serial: card.serial.clone(),
        auth_token: card.auth_token.clone(),
        barcode: card.barcode.clone(),
        display_number: CardNumber::from_db(card.number.clone()).grouped(),
        balance: card.balance,
        member_first_name: Some(customer.first_name),
        referral_link: card.referral_code.as_ref().map(|code| format!("{public_url}/r/{code}")),
        recent,
        voided: card.status == CLOSED,
        web_service_url: wallet.web_service_url.clone(),
        pass_type_id: wallet.identity.pass_type_id().to_owned(),
        team_id: wallet.identity.team_id().to_owned(),
    })
}
