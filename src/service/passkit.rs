//! The PassKit web service (spec §3): iPhones register for updates of a pass, ask which of their
//! passes changed, fetch the latest version, unregister, and report errors. And the push that
//! starts the round (spec §4), run by the outbox worker.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::passes::{self, PassFile};
use crate::db::repo::apple::{self as registrations, Registration};
use crate::db::repo::cards::Card;
use crate::db::{Db, DbConn, repo};
use crate::domain::update_tag::UpdateTag;
use crate::error::{AppError, AppResult};
use crate::wallet::AppleWallet;
use crate::wallet::apple::apns::Outcome;

/// Kind of the outbox job that pushes one device.
pub const APPLE_PUSH: &str = "apple_push";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApplePush {
    pub push_token: String,
    pub pass_type_id: String,
}

/// Queues a push to every device registered for the card, on the caller's connection (same
/// transaction as the change). One pending push per device token: a burst of changes before the
/// worker gets to it is one push, and the device then fetches the latest state anyway.
pub fn enqueue_pushes(conn: &mut DbConn, card: &Card) -> diesel::QueryResult<()> {
    for (push_token, pass_type_id) in registrations::push_tokens(conn, &card.id)? {
        let dedupe = format!("{APPLE_PUSH}:{push_token}");
        let payload = serde_json::to_string(&ApplePush { push_token, pass_type_id }).unwrap_or_default();
        crate::jobs::enqueue(conn, Some(&card.program_id), APPLE_PUSH, &payload, Some(&dedupe))?;
    }
    Ok(())
}

/// Runs one push job. Dead tokens are forgotten; anything worth retrying fails the job, so the
/// worker tries again with backoff and the outbox shows the last error.
pub async fn push(db: Db, wallet: Arc<AppleWallet>, payload: String) -> anyhow::Result<()> {
    let job: ApplePush = serde_json::from_str(&payload)?;
    let token = short(&job.push_token);
    match wallet.apns.push(&job.push_token).await {
        Outcome::Delivered => Ok(()),
        Outcome::TokenGone(why) => {
            let forgotten =
                db.write(move |c| Ok(registrations::forget_push_token(c, &job.push_token, &job.pass_type_id)?)).await?;
            tracing::info!(token, forgotten, reason = why, "APNs says the device token is dead; registrations removed");
            Ok(())
        }
        Outcome::Retry(why) => anyhow::bail!(why),
        Outcome::Misconfigured(why) => {
            tracing::error!(
                token,
                reason = why,
                "APNs refused the push: check the Pass Type ID certificate and its topic (registration kept)"
            );
            anyhow::bail!(why)
        }
    }
}

/// Enough of a push token to tell two apart in a log line, not enough to use it.
fn short(token: &str) -> String {
    format!("{}…", token.chars().take(8).collect::<String>())
}

/// The token of `Authorization: ApplePass <token>`.
pub fn apple_pass_token(header: Option<&str>) -> AppResult<String> {
    header
        .and_then(|h| h.strip_prefix("ApplePass "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            AppError::unauthorized("unauthorized", "this needs Authorization: ApplePass <authenticationToken>")
        })
}

/// A pass named by a device, with the authentication token it holds for it.
pub struct PassClaim {
    pub pass_type_id: String,
    pub serial: String,
    pub token: String,
}

/// The card behind the claimed pass when the token is its authentication token.
fn authorized(conn: &mut DbConn, wallet: &AppleWallet, claim: &PassClaim) -> AppResult<Card> {
    if claim.pass_type_id != wallet.identity.pass_type_id() {
        return Err(pass_not_found());
    }
    let card = repo::cards::find_by_serial(conn, &claim.serial)?.ok_or_else(pass_not_found)?;
    let (expected, given) = (card.auth_token.as_bytes(), claim.token.as_bytes());
    // Constant time, so the response time says nothing about how much of a guess was right.
    if expected.len() != given.len() || !openssl::memcmp::eq(expected, given) {
        return Err(AppError::unauthorized("invalid_pass_token", "the authentication token does not match this pass"));
    }
    Ok(card)
}

fn pass_not_found() -> AppError {
    AppError::not_found("pass_not_found", "no pass with this type and serial number")
}

/// `deviceLibraryIdentifier` and `pushToken` are opaque to us, but not unbounded.
fn check_id(field: &'static str, value: &str, max: usize) -> AppResult<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid_field(field, format!("must be 1 to {max} letters, digits, '-', '_' or '.'")))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    pub push_token: String,
}

/// True when the registration is new (201), false when the device already had it (200).
pub async fn register(
    db: &Db,
    wallet: Arc<AppleWallet>,
    device: String,
    claim: PassClaim,
    body: RegisterBody,
) -> AppResult<bool> {
    check_id("deviceLibraryIdentifier", &device, 128)?;
    check_id("pushToken", &body.push_token, 512)?;
    db.write(move |c| {
        let card = authorized(c, &wallet, &claim)?;
        let now = repo::now();
        let created = registrations::register(
            c,
            &Registration {
                device_library_id: &device,
                pass_type_id: &claim.pass_type_id,
                serial: &claim.serial,
                program_id: &card.program_id,
                card_id: &card.id,
                push_token: &body.push_token,
                created_at: now,
                updated_at: now,
            },
        )?;
        Ok(created)
    })
    .await
}

/// Forgets the device's registration for the pass; unregistering twice is fine.
pub async fn unregister(db: &Db, wallet: Arc<AppleWallet>, device: String, claim: PassClaim) -> AppResult<()> {
    db.write(move |c| {
        authorized(c, &wallet, &claim)?;
        registrations::unregister(c, &device, &claim.pass_type_id, &claim.serial)?;
        Ok(())
    })
    .await
}

/// The serials of the device's passes changed since `since` (all of them without a tag, or with
/// one we did not issue), with the tag for next time; None when there is nothing to report.
pub async fn updated(
    db: &Db,
    device: String,
    pass_type_id: String,
    since: Option<String>,
) -> AppResult<Option<(Vec<String>, String)>> {
    let since = since.as_deref().and_then(UpdateTag::parse);
    db.read(move |c| {
        let tag = registrations::update_tag(c)?;
        let serials = registrations::updated_serials(c, &device, &pass_type_id, since.as_ref())?;
        Ok((!serials.is_empty()).then(|| (serials, tag.to_string())))
    })
    .await
}

pub enum Latest {
    NotModified(NaiveDateTime),
    Pass(PassFile),
}

/// The latest pass, or "not modified" when the device's copy (`if_modified_since`) is current.
pub async fn latest(
    db: &Db,
    wallet: Arc<AppleWallet>,
    claim: PassClaim,
    if_modified_since: Option<NaiveDateTime>,
    public_url: String,
) -> AppResult<Latest> {
    let prepared = db
        .read(move |c| {
            let card = authorized(c, &wallet, &claim)?;
            if if_modified_since.is_some_and(|since| card.pass_updated_at <= since) {
                return Ok(Err(card.pass_updated_at));
            }
            Ok(Ok(passes::prepare(c, &wallet, &card, &public_url)?))
        })
        .await?;
    match prepared {
        Err(last_modified) => Ok(Latest::NotModified(last_modified)),
        Ok(signing) => Ok(Latest::Pass(passes::sign(signing).await?)),
    }
}

#[derive(Debug, Deserialize)]
pub struct LogBody {
    pub logs: Vec<String>,
}

/// What devices report about our service ("Unexpected response code 401"...): into our logs,
/// where the engineer on call looks. Unauthenticated, so bounded.
pub fn log(body: LogBody) {
    for line in body.logs.iter().take(20) {
        let line: String = line.chars().take(1000).collect();
        tracing::warn!(target: "encarte::passkit_device", message = line, "Wallet reported");
    }
}
