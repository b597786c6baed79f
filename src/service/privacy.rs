//! The customer's own rights from the card page (GDPR articles 15, 17 and 20): download their data,
//! erase their account. Both need a session of that customer (a magic-link login), not only the
//! card link: a forwarded e-mail must not be enough to take someone's data or close their card.

use serde_json::{Value, json};

use super::card_changes;
use super::customer_auth;
use crate::db::repo::cards::Card;
use crate::db::{Db, DbConn, repo};
use crate::domain::card::random_token;
use crate::dto::time;
use crate::error::{AppError, AppResult};

fn needs_login() -> AppError {
    AppError::unauthorized("login_required", "log in with a link sent to your e-mail first")
}

/// The card behind `link_token`, if the session is its customer's.
pub fn own_card(conn: &mut DbConn, link_token: &str, session: Option<&str>) -> AppResult<Card> {
    let card = repo::cards::find_by_link_token(conn, link_token)?.ok_or_else(super::customer_pages::link_not_found)?;
    let session = session.ok_or_else(needs_login)?;
    let signed_in = customer_auth::session_customer(conn, session)?;
    match signed_in {
        Some((program, customer)) if program == card.program_id && customer == card.customer_id => Ok(card),
        _ => Err(needs_login()),
    }
}

/// Whether the visitor may use the data buttons of this card (the page shows them, or a login link).
pub fn may_manage(conn: &mut DbConn, link_token: &str, session: Option<&str>) -> AppResult<bool> {
    match own_card(conn, link_token, session) {
        Ok(_) => Ok(true),
        Err(e) if e.code() == "login_required" => Ok(false),
        Err(e) => Err(e),
    }
}

/// Everything we hold about the customer, as JSON: profile, consent log, card, ledger, purchases,
/// referrals. Hashed fraud signals are left out: they identify nobody and are not theirs to read.
pub async fn export(db: &Db, link_token: String, session: Option<String>) -> AppResult<Value> {
    db.read(move |c| {
        let card = own_card(c, &link_token, session.as_deref())?;
        export_card(c, &card)
    })
    .await
}

/// The export of the card's customer, in the caller's transaction (for the customer, or staff).
pub fn export_card(c: &mut DbConn, card: &Card) -> AppResult<Value> {
    let program = repo::programs::find(c, &card.program_id)?;
    let customer = repo::customers::find(c, &program.id, &card.customer_id)?;
    let consents = repo::customers::consent_history(c, &program.id, &customer.id)?;
    let ledger = repo::ledger::page(c, &program.id, &card.id, None, i64::MAX)?;
    let purchases = repo::purchases::of_card(c, &program.id, &card.id)?;
    let referred_by = repo::referrals::for_referee(c, &program.id, &card.id)?;
    Ok(json!({
        "exported_at": time(repo::now()),
        "program": {"name": program.name, "slug": program.slug},
        "customer": {
            "email": customer.email, "first_name": customer.first_name, "phone": customer.phone,
            "locale": customer.locale, "created_at": time(customer.created_at),
        },
        "consents": consents.iter().map(|k| json!({
            "purpose": k.purpose, "granted": k.granted, "channel": k.channel, "at": time(k.created_at),
        })).collect::<Vec<_>>(),
        "card": {
            "number": card.number, "status": card.status, "balance": card.balance,
            "referral_code": card.referral_code, "created_at": time(card.created_at),
        },
        "ledger": ledger.iter().rev().map(|e| json!({
            "kind": e.kind, "points": e.delta, "balance_after": e.balance_after, "reason": e.reason,
            "at": time(e.created_at),
        })).collect::<Vec<_>>(),
        "purchases": purchases.iter().map(|p| json!({
            "amount_cents": p.amount_cents, "currency": p.currency, "discount_cents": p.discount_cents,
            "returned_cents": p.returned_cents, "points_earned": p.points_earned, "at": time(p.created_at),
        })).collect::<Vec<_>>(),
        "referred_by": referred_by.map(|r| json!({"status": r.status, "at": time(r.created_at)})),
    }))
}

/// Erases the customer's personal data and closes the card, in one transaction. The ledger and
/// purchases stay (the shop's accounts need them) but point to a customer with no name, e-mail or
/// phone. The pass is voided on every phone through the usual card change, and every session
/// and login link of the customer ends.
pub async fn erase(db: &Db, link_token: String, session: Option<String>) -> AppResult<String> {
    db.write(move |c| {
        let card = own_card(c, &link_token, session.as_deref())?;
        erase_card(c, &card)?;
        Ok(repo::programs::find(c, &card.program_id)?.slug)
    })
    .await
}

/// Erases the card's customer, in the caller's transaction (for the customer, or staff).
pub fn erase_card(c: &mut DbConn, card: &Card) -> AppResult<()> {
    let program_id = &card.program_id;
    repo::customers::erase(c, program_id, &card.customer_id, repo::now())?;
    repo::customer_auth::forget_customer(c, program_id, &card.customer_id)?;
    crate::service::insights::rfm::forget(c, program_id, &card.id)?;
    let card = repo::cards::close_for_erasure(c, program_id, &card.id, &random_token(32))?;
    card_changes::card_changed(c, &card)?;
    Ok(())
}
