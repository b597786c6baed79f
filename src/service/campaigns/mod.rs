//! Campaigns to a saved segment (`/campaigns`): a message by wallet and e-mail, an optional
//! offer (a private sale's own code, or a voucher), a holdout kept out to measure against. The
//! send is a job over the segment's members as they are when it starts ([`send`]); the report
//! and the results read what it recorded per member ([`report`]).

pub mod report;
pub mod send;

use actix_web::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Actor;
use super::audit::{self, What};
use super::idempotency::{self, Idempotent, Stored};
use crate::db::repo::campaigns::Campaign;
use crate::db::{Db, DbConn, repo};
use crate::domain::campaign::{DEFAULT_HOLDOUT_PERCENT, Message, Offer, check_holdout};
use crate::domain::role::Role;
use crate::domain::status::{CampaignState, CampaignStatus, Channel};
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::jobs::Job as _;

const NAME_MAX_CHARS: usize = 80;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: String,
    pub segment_id: String,
    pub message: Message,
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub offer: Option<Offer>,
    /// When to send; absent keeps the campaign a draft (previewed, then scheduled).
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub holdout_percent: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// Absent: now.
    #[serde(default)]
    pub send_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignDto {
    pub id: String,
    pub name: String,
    pub segment_id: String,
    pub segment_name: String,
    pub message: Message,
    pub channels: Vec<Channel>,
    pub offer: Option<Offer>,
    pub holdout_percent: i32,
    pub state: CampaignState,
    pub send_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub created_at: String,
}

impl CampaignDto {
    pub fn new(c: &Campaign) -> AppResult<CampaignDto> {
        Ok(CampaignDto {
            id: c.id.clone(),
            name: c.name.clone(),
            segment_id: c.segment_id.clone(),
            segment_name: c.segment_name.clone(),
            message: message_of(c),
            channels: channels_of(c)?,
            offer: offer_of(c)?,
            holdout_percent: c.holdout_percent,
            state: c.state,
            send_at: c.send_at.map(time),
            started_at: c.started_at.map(time),
            finished_at: c.finished_at.map(time),
            created_at: time(c.created_at),
        })
    }
}

pub fn message_of(c: &Campaign) -> Message {
    Message { title: c.title.clone(), body: c.body.clone(), title_fr: c.title_fr.clone(), body_fr: c.body_fr.clone() }
}

pub fn channels_of(c: &Campaign) -> AppResult<Vec<Channel>> {
    c.channels
        .split(',')
        .map(|s| Channel::parse(s).map_err(|e| AppError::Internal(anyhow::anyhow!("campaign {}: {e}", c.id))))
        .collect()
}

pub fn offer_of(c: &Campaign) -> AppResult<Option<Offer>> {
    c.offer
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("campaign {}: offer {e}", c.id)))
}

pub fn not_found() -> AppError {
    AppError::not_found("campaign_not_found", "no such campaign in this program")
}

fn name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::invalid_field("name", format!("a text of 1 to {NAME_MAX_CHARS} characters")));
    }
    Ok(name.to_owned())
}

fn channels(mut given: Vec<Channel>) -> AppResult<String> {
    given.sort_by_key(|c| Channel::ALL.iter().position(|k| k == c));
    given.dedup();
    if given.is_empty() {
        return Err(AppError::invalid_field("channels", "give at least one of wallet, email"));
    }
    Ok(given.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","))
}

/// The offer, refused unless what it names exists and can be given.
fn check_offer(c: &mut DbConn, program_id: &str, offer: Option<&Offer>) -> AppResult<Option<String>> {
    let Some(offer) = offer else { return Ok(None) };
    match offer {
        Offer::PromoCampaignId(id) => {
            let promo = repo::promos::find_campaign(c, program_id, id)?.ok_or_else(|| {
                AppError::unprocessable_field("invalid_offer", "offer.promo_campaign_id", "no such promo campaign")
            })?;
            if promo.kind != "pool" || promo.status != CampaignStatus::Active {
                return Err(AppError::unprocessable_field(
                    "invalid_offer",
                    "offer.promo_campaign_id",
                    "a private sale needs an active promo campaign with a pool of single-use codes",
                ));
            }
        }
        Offer::Voucher(v) => {
            v.value.check().map_err(|e| AppError::unprocessable_field("invalid_offer", "offer.voucher.value", e.0))?;
        }
    }
    serde_json::to_string(offer).map(Some).map_err(|e| AppError::Internal(e.into()))
}

/// `POST /campaigns`: a draft, or scheduled when `send_at` is given (now or later).
pub async fn create(db: &Db, actor: &Actor, idem: Option<Idempotent>, input: CampaignInput) -> AppResult<Stored> {
    actor.require(Role::Manager)?;
    let name = name(&input.name)?;
    let message = input.message.clone().checked().map_err(|(field, why)| AppError::invalid_field(field, why.0))?;
    let channels = channels(input.channels.clone())?;
    let holdout = check_holdout(input.holdout_percent.unwrap_or(DEFAULT_HOLDOUT_PERCENT))
        .map_err(|e| AppError::invalid_field("holdout_percent", e.0))?;
    let actor = actor.clone();
    db.write(move |c| {
        idempotency::maybe_once(c, &actor.program_id, idem.as_ref(), StatusCode::CREATED, |c| {
            let segment = repo::segments::find(c, &actor.program_id, &input.segment_id)?.ok_or_else(|| {
                AppError::unprocessable_field("segment_not_found", "segment_id", "no such segment in this program")
            })?;
            let offer = check_offer(c, &actor.program_id, input.offer.as_ref())?;
            let now = repo::now();
            let mut campaign = Campaign {
                id: repo::new_id(),
                program_id: actor.program_id.clone(),
                name,
                segment_id: segment.id,
                segment_name: segment.name,
                title: message.title,
                body: message.body,
                title_fr: message.title_fr,
                body_fr: message.body_fr,
                channels,
                offer,
                holdout_percent: holdout,
                state: CampaignState::Draft,
                send_at: None,
                started_at: None,
                finished_at: None,
                rule: None,
                created_by: Some(actor.staff_id.clone()),
                created_at: now,
                updated_at: now,
            };
            repo::campaigns::insert(c, &campaign)?;
            if let Some(at) = input.send_at {
                schedule_in(c, &mut campaign, at.naive_utc())?;
            }
            let dto = CampaignDto::new(&campaign)?;
            audit::record(
                c,
                &actor,
                What::new("campaign.create", "campaign", &campaign.id),
                &serde_json::Value::Null,
                &dto,
            )?;
            Ok(dto)
        })
    })
    .await
}

fn schedule_in(c: &mut DbConn, campaign: &mut Campaign, at: NaiveDateTime) -> AppResult<()> {
    let now = repo::now();
    campaign.state = CampaignState::Scheduled;
    campaign.send_at = Some(at.max(now));
    repo::campaigns::update(c, campaign)?;
    send::CampaignSend { program_id: campaign.program_id.clone(), campaign_id: campaign.id.clone() }
        .enqueue_at(c, at.max(now))?;
    Ok(())
}

/// `POST /campaigns/{id}/schedule`: a draft (or a campaign not started yet) is sent at `send_at`.
pub async fn schedule(db: &Db, actor: &Actor, id: String, input: ScheduleInput) -> AppResult<CampaignDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let mut campaign =
            repo::campaigns::lock(c, &id)?.filter(|k| k.program_id == actor.program_id).ok_or_else(not_found)?;
        if !matches!(campaign.state, CampaignState::Draft | CampaignState::Scheduled) {
            return Err(already_started(&campaign));
        }
        let before = CampaignDto::new(&campaign)?;
        schedule_in(c, &mut campaign, input.send_at.map_or_else(repo::now, |t| t.naive_utc()))?;
        let after = CampaignDto::new(&campaign)?;
        audit::record(c, &actor, What::new("campaign.schedule", "campaign", &campaign.id), &before, &after)?;
        Ok(after)
    })
    .await
}

/// `POST /campaigns/{id}/cancel`: before the send starts; a sending campaign is not stopped
/// halfway (its members would be split without a record of why).
pub async fn cancel(db: &Db, actor: &Actor, id: String) -> AppResult<CampaignDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let mut campaign =
            repo::campaigns::lock(c, &id)?.filter(|k| k.program_id == actor.program_id).ok_or_else(not_found)?;
        if campaign.state == CampaignState::Cancelled {
            return CampaignDto::new(&campaign);
        }
        if !matches!(campaign.state, CampaignState::Draft | CampaignState::Scheduled) {
            return Err(already_started(&campaign));
        }
        let before = CampaignDto::new(&campaign)?;
        campaign.state = CampaignState::Cancelled;
        repo::campaigns::update(c, &campaign)?;
        let after = CampaignDto::new(&campaign)?;
        audit::record(c, &actor, What::new("campaign.cancel", "campaign", &campaign.id), &before, &after)?;
        Ok(after)
    })
    .await
}

fn already_started(c: &Campaign) -> AppError {
    AppError::conflict("campaign_started", format!("this campaign is {}: it can no longer change", c.state))
}

pub async fn list(db: &Db, actor: &Actor) -> AppResult<Vec<CampaignDto>> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| repo::campaigns::list(c, &program_id)?.iter().map(CampaignDto::new).collect()).await
}

/// The pass's message: the latest campaign that reached the card by wallet, in the holder's
/// language, with their own code when it gave one.
pub fn pass_message(
    c: &mut DbConn,
    card: &repo::cards::Card,
    locale: crate::domain::text::Locale,
) -> AppResult<Option<String>> {
    let Some((campaign, recipient)) = repo::campaigns::latest_for_card(c, &card.id)? else { return Ok(None) };
    let lang = crate::render::Lang::from_tag(locale.as_str()).unwrap_or(crate::render::Lang::En);
    let message = message_of(&campaign);
    let (title, body) = message.for_lang(lang);
    let mut text = format!("{title}\n{body}");
    if let Some(code) = &recipient.promo_code {
        let label = if lang == crate::render::Lang::Fr { "Votre code" } else { "Your code" };
        text.push_str(&format!("\n{label}: {code}"));
    }
    Ok(Some(text))
}
