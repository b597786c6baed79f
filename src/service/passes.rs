//! A card's Apple Wallet pass, however it is asked for: by staff (support, debugging), by the
//! customer's own link, and by the iPhone holding it (PassKit web service).

use std::sync::Arc;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::card_changes;
use super::cards::{card_not_found, find_card};
use super::vouchers;
use crate::db::repo::cards::Card;
use crate::db::repo::programs::{Program, Seen};
use crate::db::{Db, DbConn, blocking, repo};
use crate::domain::card::CardNumber;
use crate::domain::role::Role;
use crate::domain::status::CardStatus;
use crate::domain::text::{Locale, excerpt};
use crate::error::{AppError, AppResult};
use crate::jobs::Job;
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
    design: Option<String>,
    /// The programme's published console design, which wins over `design`.
    stored: Option<Arc<crate::wallet::apple::Design>>,
    input: PassInput,
    last_modified: NaiveDateTime,
    card_id: String,
}

/// Reads what the card's pass shows.
pub fn prepare(conn: &mut DbConn, wallet: &Arc<AppleWallet>, card: &Card, public_url: &str) -> AppResult<Signing> {
    let program = repo::programs::find(conn, &card.program_id)?;
    let input = input(conn, wallet, card, &program, public_url)?;
    let stored = super::designs::published(conn, &program)?;
    Ok(Signing {
        wallet: wallet.clone(),
        stored,
        design: program.pass_design,
        input,
        last_modified: card.pass_updated_at,
        card_id: card.id.clone(),
    })
}

/// RSA signing is CPU work: done off the async workers.
pub async fn sign(s: Signing) -> AppResult<PassFile> {
    blocking(move || {
        let design = s.stored.as_deref().unwrap_or_else(|| s.wallet.design(s.design.as_deref()));
        let bytes = apple::render(&s.wallet.identity, design, &s.input)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering the pass of card {}: {e}", s.card_id)))?;
        Ok(PassFile { bytes, last_modified: s.last_modified })
    })
    .await
}

fn input(
    conn: &mut DbConn,
    wallet: &AppleWallet,
    card: &Card,
    program: &Program,
    public_url: &str,
) -> AppResult<PassInput> {
    let customer = repo::customers::find(conn, &card.program_id, &card.customer_id)?;
    let zone: chrono_tz::Tz = program.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let recent = repo::ledger::page(conn, &card.program_id, &card.id, None, RECENT_ENTRIES)?
        .into_iter()
        .map(|e| {
            let day = e.created_at.and_utc().with_timezone(&zone).format("%Y-%m-%d");
            format!("{day}  {:+}", e.delta)
        })
        .collect();
    // In the holder's language, like their e-mails: the summary is text, not a localisation key.
    let shown = vouchers::shown::on_pass(conn, program, &card.id, Locale::from_db(&customer.locale), repo::now())?;
    let (vouchers_summary, vouchers) = shown.map_or((None, Vec::new()), |s| (Some(s.summary), s.lines));
    Ok(PassInput {
        program_name: program.name.clone(),
        organization: None,
        serial: card.serial.clone(),
        auth_token: card.auth_token.clone(),
        barcode: card.barcode.clone(),
        display_number: CardNumber::from_db(card.number.clone()).grouped(),
        balance: card.balance,
        member_first_name: Some(customer.first_name),
        tier: crate::service::tiers::standing::name_now(conn, program, card)?,
        expiry: crate::service::expiry::schedule::of_card(conn, program, card)?
            .first()
            .map(|next| crate::service::expiry::schedule::next_line(next, Locale::from_db(&customer.locale))),
        referral_link: card.live_referral_code().map(|code| format!("{public_url}/r/{code}")),
        recent,
        vouchers_summary,
        vouchers,
        message: crate::service::campaigns::pass_message(conn, card, Locale::from_db(&customer.locale))?,
        voided: card.status == CardStatus::Closed,
        web_service_url: wallet.web_service_url.clone(),
        pass_type_id: wallet.identity.pass_type_id().to_owned(),
        team_id: wallet.identity.team_id().to_owned(),
    })
}

/// The job that marks every card of a program as changed (its passes look different), a batch
/// at a time, so that each is pushed.
#[derive(Debug, Serialize, Deserialize)]
pub struct PassesRefresh {
    pub program_id: String,
    /// The last card done by the previous batch.
    pub after: Option<String>,
}

const REFRESH_BATCH: usize = 500;

impl Job for PassesRefresh {
    const KIND: &'static str = "passes_refresh";

    fn program_id(&self) -> Option<&str> {
        Some(&self.program_id)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}:{}", Self::KIND, self.program_id, self.after.as_deref().unwrap_or_default()))
    }
}

pub fn enqueue_refresh(conn: &mut DbConn, program_id: &str, after: Option<String>) -> diesel::QueryResult<()> {
    PassesRefresh { program_id: program_id.to_owned(), after }.enqueue(conn)
}

/// One batch of a refresh; the next batch is queued in the same transaction.
pub async fn run_refresh(db: Db, job: PassesRefresh) -> anyhow::Result<()> {
    db.write(move |c| {
        let batch = i64::try_from(REFRESH_BATCH).unwrap_or(i64::MAX);
        let cards = repo::cards::page_of_program(c, &job.program_id, job.after.as_deref(), batch)?;
        for card in &cards {
            card_changes::card_changed(c, card)?;
        }
        if cards.len() == REFRESH_BATCH {
            enqueue_refresh(c, &job.program_id, cards.last().map(|card| card.id.clone()))?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// At start-up: a design whose files changed, or a new default design, changes the passes of
/// every program drawn with it; those are refreshed. Returns how many programs were.
pub fn sync_designs(conn: &mut DbConn, wallet: &AppleWallet) -> AppResult<usize> {
    let mut programs = Vec::new();
    for (name, design) in &wallet.designs {
        if repo::programs::record_design(conn, &format!("design:{name}"), &design.fingerprint)? == Seen::Changed {
            programs.extend(repo::programs::using_design(conn, Some(name))?);
            if *name == wallet.default_design {
                programs.extend(repo::programs::using_design(conn, None)?);
            }
        }
    }
    let default = &wallet.design(None).fingerprint;
    if repo::programs::record_design(conn, "default", default)? == Seen::Changed {
        programs.extend(repo::programs::using_design(conn, None)?);
    }
    programs.sort();
    programs.dedup();
    for program in &programs {
        enqueue_refresh(conn, program, None)?;
    }
    Ok(programs.len())
}

#[derive(Debug, Serialize)]
pub struct DesignDto {
    /// The design its passes are drawn with.
    pub design: String,
    /// Whether the program chose it (false: the node's default).
    pub chosen: bool,
    pub available: Vec<String>,
}

fn design_dto(wallet: &AppleWallet, program: &Program) -> DesignDto {
    if program.pass_design.as_deref() == Some(super::designs::CONSOLE) {
        let available = wallet.designs.keys().cloned().collect();
        return DesignDto { design: super::designs::CONSOLE.to_owned(), chosen: true, available };
    }
    let chosen = program.pass_design.as_ref().filter(|name| wallet.designs.contains_key(*name));
    DesignDto {
        design: chosen.cloned().unwrap_or_else(|| wallet.default_design.clone()),
        chosen: chosen.is_some(),
        available: wallet.designs.keys().cloned().collect(),
    }
}

pub async fn get_design(db: &Db, wallet: Arc<AppleWallet>, actor: &Actor) -> AppResult<DesignDto> {
    let program_id = actor.program_id.clone();
    let program = db.read(move |c| Ok(repo::programs::find(c, &program_id)?)).await?;
    Ok(design_dto(&wallet, &program))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignChoice {
    /// A design folder name; `null` goes back to the node's default.
    pub design: Option<String>,
}

/// Chooses the program's pass design (managers and owners). Every pass changes, so every card
/// is refreshed and pushed; choosing the current design again changes nothing.
pub async fn set_design(
    db: &Db,
    wallet: Arc<AppleWallet>,
    actor: &Actor,
    choice: DesignChoice,
) -> AppResult<DesignDto> {
    actor.require(Role::Manager)?;
    if let Some(name) = choice.design.as_deref().filter(|name| !wallet.designs.contains_key(*name)) {
        let available: Vec<&str> = wallet.designs.keys().map(String::as_str).collect();
        return Err(AppError::invalid_field(
            "design",
            format!("no pass design {:?}; available: {}", excerpt(name), available.join(", ")),
        ));
    }
    let actor = actor.clone();
    let program = db
        .write(move |c| {
            let program_id = actor.program_id.as_str();
            let before = repo::programs::find(c, program_id)?;
            if before.pass_design != choice.design {
                repo::programs::set_pass_design(c, program_id, choice.design.as_deref())?;
                enqueue_refresh(c, program_id, None)?;
                let what = super::audit::What::new("program.pass_design", "program", program_id);
                let (old, new) =
                    (serde_json::json!({"design": before.pass_design}), serde_json::json!({"design": choice.design}));
                super::audit::record(c, &actor, what, &old, &new)?;
            }
            Ok(repo::programs::find(c, program_id)?)
        })
        .await?;
    Ok(design_dto(&wallet, &program))
}
