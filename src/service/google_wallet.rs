//! Google Wallet use cases: the save link (which creates the program's class and the card's
//! object at Google on first use), keeping objects in step with their cards, and the save /
//! delete callbacks.

use std::sync::Arc;

use openssl::hash::{MessageDigest, hash};
use serde_json::Value;

use super::Actor;
use super::cards::find_card;
use crate::db::repo::cards::Card;
use crate::db::repo::google::GoogleObject;
use crate::db::{Db, DbConn, repo};
use crate::domain::card::CardNumber;
use crate::domain::status::CardStatus;
use crate::error::{AppError, AppResult};
use crate::wallet::AppleWallet;
use crate::wallet::google::callback::{self, EventType};
use crate::wallet::google::objects::{self, ClassInput, ObjectInput};
use crate::wallet::google::rest::RestError;
use crate::wallet::google::{GoogleWallet, save_link};

/// Google's budget of notifying updates per pass.
pub const NOTIFICATIONS_PER_DAY: i64 = 3;

/// What the class and object of one card are built from, read in one transaction.
struct Snapshot {
    card: Card,
    class: Value,
    class_fingerprint: String,
    object: Value,
    modules: Vec<objects::TextModule>,
    tier: Option<objects::TierLine>,
    synced: Option<GoogleObject>,
}

fn snapshot(
    conn: &mut DbConn,
    google: &GoogleWallet,
    apple: &AppleWallet,
    card: Card,
    public_url: &str,
) -> AppResult<Snapshot> {
    let program = repo::programs::find(conn, &card.program_id)?;
    let customer = repo::customers::find(conn, &card.program_id, &card.customer_id)?;
    let stored = super::designs::published(conn, &program)?;
    let design_name = match &stored {
        Some(_) => format!("program-{}", program.id),
        None => program
            .pass_design
            .clone()
            .filter(|d| apple.designs.contains_key(d))
            .unwrap_or(apple.default_design.clone()),
    };
    let design = stored.as_deref().unwrap_or_else(|| apple.design(Some(&design_name)));
    let logo = ["google-logo.png", "icon@3x.png", "icon.png"].into_iter().find_map(|name| {
        design
            .image_digests()
            .find(|(n, _)| *n == name)
            .map(|(n, sha1)| format!("{public_url}/wallet/designs/{design_name}/{n}?v={}", &sha1[..12]))
    });
    let bg = design.background_color;
    let class = objects::loyalty_class(&ClassInput {
        issuer_id: &google.issuer_id,
        program_id: &program.id,
        issuer_name: design.organization_for(&program.name),
        program_name: &program.name,
        background: format!("#{:02x}{:02x}{:02x}", bg.0, bg.1, bg.2),
        logo_url: logo.unwrap_or_default(),
        homepage_url: format!("{public_url}/p/{}", program.slug),
        callback_url: Some(format!("{public_url}/wallet/google/callback")),
    });
    let class_fingerprint = hex::encode(
        hash(MessageDigest::sha256(), class.to_string().as_bytes()).map_err(|e| AppError::Internal(e.into()))?,
    );
    let display = CardNumber::from_db(card.number.clone()).grouped();
    let mut links = vec![("My card", format!("{public_url}/c/{}", card.link_token))];
    if let Some(code) = card.live_referral_code() {
        links.push(("Invite a friend", format!("{public_url}/r/{code}")));
    }
    // Google has no localisation keys: the module is written in the holder's language.
    let locale = crate::domain::text::Locale::from_db(&customer.locale);
    let vouchers =
        super::vouchers::shown::on_pass(conn, &program, &card.id, locale, repo::now())?.map(|s| objects::TextModule {
            id: "vouchers",
            header: format!("{}{}{}", s.label, colon(locale), s.summary),
            body: s.lines.join("\n"),
        });
    let expiry = super::expiry::schedule::of_card(conn, &program, &card)?.first().map(|next| objects::TextModule {
        id: "expiry",
        header: match locale {
            crate::domain::text::Locale::Fr => "Expiration des points".to_owned(),
            crate::domain::text::Locale::En => "Points expiry".to_owned(),
        },
        body: super::expiry::schedule::next_line(next, locale),
    });
    let modules: Vec<objects::TextModule> = vouchers.into_iter().chain(expiry).collect();
    let tier = super::tiers::standing::name_now(conn, &program, &card)?.map(|name| objects::TierLine {
        label: match locale {
            crate::domain::text::Locale::Fr => "Niveau".to_owned(),
            crate::domain::text::Locale::En => "Tier".to_owned(),
        },
        name,
    });
    let object = objects::loyalty_object(&ObjectInput {
        issuer_id: &google.issuer_id,
        program_id: &program.id,
        serial: &card.serial,
        number: &card.number,
        display_number: &display,
        member_name: &customer.first_name,
        balance: card.balance,
        barcode: &card.barcode,
        active: card.status == CardStatus::Active,
        links,
        modules: modules.clone(),
        tier: tier.clone(),
    });
    let synced = repo::google::find_object(conn, &card.id)?;
    Ok(Snapshot { card, class, class_fingerprint, object, modules, tier, synced })
}

/// French puts a (non-breaking) space before a colon.
fn colon(locale: crate::domain::text::Locale) -> &'static str {
    match locale {
        crate::domain::text::Locale::Fr => "\u{a0}: ",
        crate::domain::text::Locale::En => ": ",
    }
}

fn rest_error(e: RestError) -> AppError {
    match e {
        RestError::Retry(why) => AppError::Unavailable(anyhow::anyhow!("Google Wallet: {why}")),
        other => AppError::Internal(anyhow::anyhow!("Google Wallet refused: {other}")),
    }
}

/// Creates (or refreshes) the class and the object at Google as needed, and records it.
async fn ensure_at_google(db: &Db, google: &GoogleWallet, s: &Snapshot) -> Result<(), RestError> {
    let program_id = s.card.program_id.clone();
    let known = db.read(move |c| Ok(repo::google::class_fingerprint(c, &program_id)?)).await.ok().flatten();
    if known.as_deref() != Some(s.class_fingerprint.as_str()) {
        google.rest.upsert("loyaltyClass", &s.class).await?;
        let (program_id, class_id, fp) = (
            s.card.program_id.clone(),
            s.class["id"].as_str().unwrap_or_default().to_owned(),
            s.class_fingerprint.clone(),
        );
        db.write(move |c| Ok(repo::google::record_class(c, &program_id, &class_id, &fp)?))
            .await
            .map_err(|e| RestError::Retry(e.to_string()))?;
    }
    Ok(())
}

/// The "Add to Google Wallet" link of a card, for staff; the object is created at Google first.
pub async fn save_url(
    db: &Db,
    google: Arc<GoogleWallet>,
    apple: Arc<AppleWallet>,
    actor: &Actor,
    reference: String,
    public_url: String,
) -> AppResult<String> {
    let program_id = actor.program_id.clone();
    save_url_of(db, google, apple, public_url, move |c| find_card(c, &program_id, &reference)).await
}

/// The same link for the customer, by the card page's unguessable token.
pub async fn save_url_for_link(
    db: &Db,
    google: Arc<GoogleWallet>,
    apple: Arc<AppleWallet>,
    link_token: String,
    public_url: String,
) -> AppResult<String> {
    save_url_of(db, google, apple, public_url, move |c| {
        repo::cards::find_by_link_token(c, &link_token)?.ok_or_else(super::customer_pages::link_not_found)
    })
    .await
}

async fn save_url_of(
    db: &Db,
    google: Arc<GoogleWallet>,
    apple: Arc<AppleWallet>,
    public_url: String,
    find: impl FnOnce(&mut DbConn) -> AppResult<Card> + Send + 'static,
) -> AppResult<String> {
    let (g, url) = (google.clone(), public_url.clone());
    let s = db
        .read(move |c| {
            let card = find(c)?;
            snapshot(c, &g, &apple, card, &url)
        })
        .await?;
    if s.synced.is_none() {
        ensure_at_google(db, &google, &s).await.map_err(rest_error)?;
        google.rest.upsert("loyaltyObject", &s.object).await.map_err(rest_error)?;
        let row = GoogleObject {
            card_id: s.card.id.clone(),
            program_id: s.card.program_id.clone(),
            object_id: s.object["id"].as_str().unwrap_or_default().to_owned(),
            synced_version: s.card.pass_version,
            synced_balance: s.card.balance,
            saved: false,
            created_at: repo::now(),
            updated_at: repo::now(),
        };
        db.write(move |c| Ok(repo::google::record_object(c, &row)?)).await?;
    }
    let object_id = s.object["id"].as_str().unwrap_or_default();
    let class_id = s.class["id"].as_str().unwrap_or_default();
    save_link::save_url(&google.account, object_id, class_id, &[], chrono::Utc::now().timestamp())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("signing the save link: {e}")))
}

/// The `card_changed` work for Google: brings the card's object (if it has one) up to date.
/// A new balance notifies the holder while the day's budget lasts, silently after that.
pub async fn sync(
    db: Db,
    google: Arc<GoogleWallet>,
    apple: Arc<AppleWallet>,
    program_id: String,
    card_id: String,
    public_url: String,
) -> anyhow::Result<()> {
    let g = google.clone();
    let s = db
        .read(move |c| {
            // Most cards never asked for a Google pass: nothing to build for them.
            if repo::google::find_object(c, &card_id)?.is_none() {
                return Ok(None);
            }
            let Some(card) = repo::cards::find(c, &program_id, &card_id)? else { return Ok(None) };
            Ok(Some(snapshot(c, &g, &apple, card, &public_url)?))
        })
        .await?;
    let Some(s) = s else { return Ok(()) };
    let Some(synced) = &s.synced else { return Ok(()) };
    if synced.synced_version >= s.card.pass_version {
        return Ok(());
    }
    ensure_at_google(&db, &google, &s).await.map_err(anyhow_rest)?;
    let notify = if s.card.balance == synced.synced_balance {
        false
    } else {
        let (card_id, program_id) = (s.card.id.clone(), s.card.program_id.clone());
        db.write(move |c| {
            // The card's row lock: two updates of one card can't both take the last notification.
            repo::cards::lock(c, &program_id, &card_id)?;
            let since = repo::now() - chrono::Duration::hours(24);
            Ok(repo::google::take_notification(c, &card_id, &program_id, since, NOTIFICATIONS_PER_DAY)?)
        })
        .await?
    };
    let patch = objects::balance_patch(
        s.card.balance,
        s.card.status == CardStatus::Active,
        &s.modules,
        s.tier.as_ref(),
        notify,
    );
    match google.rest.patch_object(&synced.object_id, &patch).await {
        Ok(()) => {}
        // Deleted at Google (or never made it): create it again, whole.
        Err(RestError::NotFound) => google.rest.upsert("loyaltyObject", &s.object).await.map_err(anyhow_rest)?,
        Err(e) => return Err(anyhow_rest(e)),
    }
    let row = GoogleObject { synced_version: s.card.pass_version, synced_balance: s.card.balance, ..synced.clone() };
    db.write(move |c| Ok(repo::google::record_object(c, &row)?)).await?;
    Ok(())
}

fn anyhow_rest(e: RestError) -> anyhow::Error {
    if let RestError::Misconfigured(why) = &e {
        tracing::error!(reason = why, "Google Wallet refused an update: check the issuer id and the service account");
    }
    anyhow::anyhow!("{e}")
}

/// A save / delete event from Google, verified before anything is believed.
pub async fn callback(db: &Db, google: &GoogleWallet, body: &[u8]) -> AppResult<()> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let keys = google
        .root_keys(now_ms)
        .await
        .map_err(|e| AppError::Unavailable(e.context("fetching Google's callback keys")))?;
    let message = callback::verify(body, &google.issuer_id, &keys, now_ms).map_err(|e| {
        tracing::warn!(error = %e, "Google Wallet callback refused");
        AppError::unauthorized("invalid_callback", "the callback signature does not verify")
    })?;
    db.write(move |c| {
        if repo::google::first_nonce(c, &message.nonce)? {
            repo::google::set_saved(c, &message.object_id, message.event == EventType::Save)?;
        }
        Ok(())
    })
    .await
}
