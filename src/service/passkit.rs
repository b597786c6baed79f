//! The PassKit web service (spec §3): iPhones register for updates of a pass, ask which of their
//! passes changed, fetch the latest version, unregister, and report errors. And the push that
//! starts the round (spec §4), run by the outbox worker.

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::passes::{self, PassFile};
use crate::db::repo::apple::{self as registrations, Registered, Registration};
use crate::db::repo::cards::Card;
use crate::db::{Db, DbConn, repo};
use crate::domain::update_tag::UpdateTag;
use crate::error::{AppError, AppResult};
use crate::jobs::Job;
use crate::wallet::AppleWallet;
use crate::wallet::apple::apns::Outcome;

/// The outbox job that pushes one device.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApplePush {
    pub push_token: String,
    pub pass_type_id: String,
    /// Absent from the jobs of builds before typed jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_id: Option<String>,
}

impl Job for ApplePush {
    const KIND: &'static str = "apple_push";

    fn program_id(&self) -> Option<&str> {
        self.program_id.as_deref()
    }

    /// One pending push per device token: a burst of changes before the worker gets to it is one
    /// push, and the device then fetches the latest state anyway.
    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.push_token))
    }
}

/// Queues a push to every device registered for the cards, on the caller's connection (same
/// transaction as the change).
pub fn enqueue_pushes(conn: &mut DbConn, cards: &[Card]) -> diesel::QueryResult<()> {
    let ids: Vec<&str> = cards.iter().map(|c| c.id.as_str()).collect();
    let program_of: std::collections::HashMap<&str, &str> =
        cards.iter().map(|c| (c.id.as_str(), c.program_id.as_str())).collect();
    let pushes: Vec<ApplePush> = registrations::push_tokens(conn, &ids)?
        .into_iter()
        .map(|(card_id, push_token, pass_type_id)| ApplePush {
            program_id: program_of.get(card_id.as_str()).map(|p| (*p).to_owned()),
            push_token,
            pass_type_id,
        })
        .collect();
    ApplePush::enqueue_many(&pushes, conn)
}

/// Runs one push job. Dead tokens are forgotten; anything worth retrying fails the job, so the
/// worker tries again with backoff and the outbox shows the last error.
pub async fn push(db: Db, wallet: Arc<AppleWallet>, job: ApplePush) -> anyhow::Result<()> {
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

/// Devices registered for updates of one pass: a phone, a watch or a tablet, and a spare.
///
/// Past the cap a new device is refused (429), not let in by evicting the oldest: whoever holds
/// the pass's token could otherwise register five devices of their own and silently push out
/// the customer's phone, whose pass would stop updating. A customer who changes phones is not
/// locked out for long: APNs answers 410 for the old phone's token, and the push job forgets it.
pub const DEVICES_PER_PASS: i64 = 5;
/// Registration calls per device and per client address in one hour (a device registers each
/// pass once, and again after a restore; a shop's Wi-Fi carries many customers).
pub const REGISTRATIONS_PER_DEVICE: i64 = 30;
pub const REGISTRATIONS_PER_ADDRESS: i64 = 100;
const REGISTRATION_WINDOW_SECONDS: i64 = 3600;

/// Rate-limit keys of a caller: its own, and its client address's when known.
fn keys(scope: &str, own: Option<(&str, i64)>, client: Option<&str>, per_client: i64) -> Vec<(String, i64)> {
    let own = own.map(|(id, limit)| (format!("{scope}:device:{id}"), limit));
    let client = client.map(|address| (format!("{scope}:addr:{address}"), per_client));
    own.into_iter().chain(client).collect()
}

/// True when the registration is new (201), false when the device already had it (200).
/// Every call counts against the hourly limits, refused ones too: they are also how a token
/// would be guessed.
pub async fn register(
    db: &Db,
    wallet: Arc<AppleWallet>,
    device: String,
    claim: PassClaim,
    body: RegisterBody,
    client: Option<String>,
) -> AppResult<bool> {
    check_id("deviceLibraryIdentifier", &device, 128)?;
    check_id("pushToken", &body.push_token, 512)?;
    let limits = keys(
        "passkit_register",
        Some((&device, REGISTRATIONS_PER_DEVICE)),
        client.as_deref(),
        REGISTRATIONS_PER_ADDRESS,
    );
    super::rate_limit(db, limits, REGISTRATION_WINDOW_SECONDS).await?;
    db.write(move |c| {
        let card = authorized(c, &wallet, &claim)?;
        let now = repo::now();
        let registration = Registration {
            device_library_id: &device,
            pass_type_id: &claim.pass_type_id,
            serial: &claim.serial,
            program_id: &card.program_id,
            card_id: &card.id,
            push_token: &body.push_token,
            created_at: now,
            updated_at: now,
        };
        match registrations::register(c, &registration, DEVICES_PER_PASS)? {
            Registered::New => Ok(true),
            Registered::Again => Ok(false),
            Registered::Full => Err(AppError::client(
                actix_web::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_devices",
                format!("this pass is registered on {DEVICES_PER_PASS} devices already; remove it from one first"),
            )),
        }
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

/// Log calls per client address in one window, and what one call may log: Wallet reports an
/// error in a line of about 300 characters, a few at a time.
pub const LOG_PER_ADDRESS: i64 = 30;
const LOG_WINDOW_SECONDS: i64 = 600;
const LOG_LINES: usize = 5;
const LOG_LINE_CHARS: usize = 500;

/// What devices report about our service ("Unexpected response code 401"...): into our logs,
/// where the engineer on call looks. Unauthenticated, so limited per client address (past it:
/// 429 and nothing logged) and bounded per call.
pub async fn log(db: &Db, client: Option<String>, body: LogBody) -> AppResult<()> {
    let limits = keys("passkit_log", None, client.as_deref(), LOG_PER_ADDRESS);
    super::rate_limit(db, limits, LOG_WINDOW_SECONDS).await?;
    for line in log_lines(&body) {
        tracing::warn!(target: "encarte::passkit_device", message = line, "Wallet reported");
    }
    Ok(())
}

/// The first lines, each cut short, and a note of how many were left out.
fn log_lines(body: &LogBody) -> Vec<String> {
    let mut lines: Vec<String> =
        body.logs.iter().take(LOG_LINES).map(|line| line.chars().take(LOG_LINE_CHARS).collect()).collect();
    if let Some(dropped) = body.logs.len().checked_sub(LOG_LINES).filter(|n| *n > 0) {
        lines.push(format!("({dropped} more lines not logged)"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_log_call_logs_a_few_short_lines() {
        let body = LogBody { logs: vec!["é".repeat(10_000); 40] };
        let lines = log_lines(&body);
        assert_eq!(lines.len(), LOG_LINES + 1);
        assert!(lines[..LOG_LINES].iter().all(|l| l.chars().count() == LOG_LINE_CHARS));
        assert_eq!(lines[LOG_LINES], "(35 more lines not logged)");
        assert_eq!(log_lines(&LogBody { logs: vec!["a".into()] }), vec!["a".to_owned()]);
    }
}
