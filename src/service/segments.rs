//! Saved segments (`/segments`): a named rule over the programme's members, previewed with its
//! count and first members, and used by campaigns. A rule is evaluated when asked, so a segment
//! is always today's members, never a stale list.

use std::collections::{HashMap, HashSet};

use chrono::{Months, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::Actor;
use super::audit::{self, What};
use super::programs::map_unique;
use crate::db::repo::programs::Program;
use crate::db::repo::segments::{Candidate, SavedSegment};
use crate::db::{Db, DbConn, repo};
use crate::domain::role::Role;
use crate::domain::segment::{Member, SegmentRule};
use crate::dto::time;
use crate::error::{AppError, AppResult};

const NAME_MAX_CHARS: usize = 80;
pub const PREVIEW_DEFAULT: i64 = 20;
pub const PREVIEW_MAX: i64 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentInput {
    pub name: String,
    #[serde(default)]
    pub rule: SegmentRule,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub rule: Option<SegmentRule>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentDto {
    pub id: String,
    pub name: String,
    pub rule: SegmentRule,
    pub created_at: String,
    pub updated_at: String,
}

impl SegmentDto {
    fn new(s: &SavedSegment) -> Self {
        SegmentDto {
            id: s.id.clone(),
            name: s.name.clone(),
            // Written by `create`/`update` from a checked rule.
            rule: serde_json::from_str(&s.rule).unwrap_or_default(),
            created_at: time(s.created_at),
            updated_at: time(s.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct MemberDto {
    pub customer_id: String,
    pub card_id: String,
    pub card_number: String,
    pub first_name: String,
    pub email: String,
    pub enrolled_at: String,
}

#[derive(Debug, Serialize)]
pub struct Preview {
    /// Members the rule holds today.
    pub count: i64,
    /// The first of them, oldest members first.
    pub members: Vec<MemberDto>,
}

fn name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::invalid_field("name", format!("a text of 1 to {NAME_MAX_CHARS} characters")));
    }
    Ok(name.to_owned())
}

fn check(c: &mut DbConn, program_id: &str, rule: &SegmentRule) -> AppResult<String> {
    let tiers = super::tiers::rules::of_program(c, program_id)?;
    let keys: Vec<&str> = tiers.list().iter().map(|t| t.key.as_str()).collect();
    rule.check(&keys).map_err(|(field, why)| AppError::unprocessable_field("invalid_segment_rule", field, why.0))?;
    if let Some(shop) = &rule.location_id
        && repo::programs::find_location(c, program_id, shop)?.is_none()
    {
        return Err(AppError::unprocessable_field(
            "invalid_segment_rule",
            "location_id",
            "no such shop in this programme",
        ));
    }
    serde_json::to_string(rule).map_err(|e| AppError::Internal(e.into()))
}

fn taken() -> AppError {
    AppError::conflict("segment_exists", "a segment of this programme already has this name")
}

fn not_found() -> AppError {
    AppError::not_found("segment_not_found", "no such segment in this program")
}

pub async fn create(db: &Db, actor: &Actor, input: SegmentInput) -> AppResult<SegmentDto> {
    actor.require(Role::Manager)?;
    let name = name(&input.name)?;
    let actor = actor.clone();
    db.write(move |c| {
        let now = repo::now();
        let segment = SavedSegment {
            id: repo::new_id(),
            program_id: actor.program_id.clone(),
            name,
            rule: check(c, &actor.program_id, &input.rule)?,
            created_at: now,
            updated_at: now,
        };
        repo::segments::insert(c, &segment).map_err(|e| map_unique(e, taken()))?;
        let dto = SegmentDto::new(&segment);
        audit::record(c, &actor, What::new("segment.create", "segment", &segment.id), &serde_json::Value::Null, &dto)?;
        Ok(dto)
    })
    .await
}

pub async fn list(db: &Db, actor: &Actor) -> AppResult<Vec<SegmentDto>> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| Ok(repo::segments::list(c, &program_id)?.iter().map(SegmentDto::new).collect())).await
}

pub async fn get(db: &Db, actor: &Actor, id: String) -> AppResult<SegmentDto> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| repo::segments::find(c, &program_id, &id)?.map(|s| SegmentDto::new(&s)).ok_or_else(not_found))
        .await
}

pub async fn update(db: &Db, actor: &Actor, id: String, patch: SegmentPatch) -> AppResult<SegmentDto> {
    actor.require(Role::Manager)?;
    let new_name = patch.name.as_deref().map(name).transpose()?;
    let actor = actor.clone();
    db.write(move |c| {
        let before = repo::segments::find(c, &actor.program_id, &id)?.ok_or_else(not_found)?;
        let mut after = before.clone();
        if let Some(name) = new_name {
            after.name = name;
        }
        if let Some(rule) = &patch.rule {
            after.rule = check(c, &actor.program_id, rule)?;
        }
        if after == before {
            return Ok(SegmentDto::new(&before));
        }
        after.updated_at = repo::now();
        repo::segments::update(c, &after).map_err(|e| map_unique(e, taken()))?;
        let (old, new) = (SegmentDto::new(&before), SegmentDto::new(&after));
        audit::record(c, &actor, What::new("segment.update", "segment", &after.id), &old, &new)?;
        Ok(new)
    })
    .await
}

pub async fn delete(db: &Db, actor: &Actor, id: String) -> AppResult<()> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let before = repo::segments::find(c, &actor.program_id, &id)?.ok_or_else(not_found)?;
        repo::segments::delete(c, &actor.program_id, &id)?;
        let old = SegmentDto::new(&before);
        audit::record(c, &actor, What::new("segment.delete", "segment", &id), &old, &serde_json::Value::Null)?;
        Ok(())
    })
    .await
}

/// A saved segment's members today: the count and the first `limit`.
pub async fn preview(db: &Db, actor: &Actor, id: String, limit: Option<i64>) -> AppResult<Preview> {
    actor.require(Role::Manager)?;
    let limit = preview_limit(limit)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let segment = repo::segments::find(c, &program_id, &id)?.ok_or_else(not_found)?;
        let rule = SegmentDto::new(&segment).rule;
        let program = repo::programs::find(c, &program_id)?;
        Ok(preview_of(&members_of(c, &program, &rule, repo::now())?, limit))
    })
    .await
}

/// An unsaved rule's members today, as a composer checks it before saving.
pub async fn preview_rule(db: &Db, actor: &Actor, rule: SegmentRule, limit: Option<i64>) -> AppResult<Preview> {
    actor.require(Role::Manager)?;
    let limit = preview_limit(limit)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        check(c, &program_id, &rule)?;
        let program = repo::programs::find(c, &program_id)?;
        Ok(preview_of(&members_of(c, &program, &rule, repo::now())?, limit))
    })
    .await
}

fn preview_limit(limit: Option<i64>) -> AppResult<usize> {
    let limit = limit.unwrap_or(PREVIEW_DEFAULT);
    if !(0..=PREVIEW_MAX).contains(&limit) {
        return Err(AppError::invalid_field("limit", format!("from 0 to {PREVIEW_MAX}")));
    }
    Ok(usize::try_from(limit).unwrap_or(0))
}

fn preview_of(members: &[Candidate], limit: usize) -> Preview {
    Preview {
        count: i64::try_from(members.len()).unwrap_or(i64::MAX),
        members: members
            .iter()
            .take(limit)
            .map(|m| MemberDto {
                customer_id: m.customer_id.clone(),
                card_id: m.card_id.clone(),
                card_number: m.card_number.clone(),
                first_name: m.first_name.clone(),
                email: m.email.clone(),
                enrolled_at: time(m.enrolled_at),
            })
            .collect(),
    }
}

/// The members `rule` holds at `now`, oldest first; only what the rule's conditions need is
/// read (one statement each).
pub fn members_of(
    c: &mut DbConn,
    program: &Program,
    rule: &SegmentRule,
    now: NaiveDateTime,
) -> AppResult<Vec<Candidate>> {
    let id = program.id.as_str();
    let candidates = repo::segments::candidates(c, id)?;
    let tiers = if rule.tiers.is_empty() {
        None
    } else {
        let entry = super::tiers::rules::of_program(c, id)?.list().first().map(|t| t.key.clone());
        Some((repo::segments::tiers(c, id)?, entry))
    };
    let rfm = if rule.rfm_segments.is_empty() { HashMap::new() } else { repo::segments::rfm_segments(c, id)? };
    let needs_last = rule.last_purchase_after.is_some() || rule.last_purchase_before.is_some();
    let last: HashMap<String, NaiveDateTime> = if needs_last {
        // Every purchase ever (PostgreSQL has no year -262144: the epoch is old enough).
        repo::rfm::bought(c, id, chrono::DateTime::UNIX_EPOCH.naive_utc(), now + chrono::Duration::seconds(1))?
            .into_iter()
            .map(|b| (b.card_id, b.last_at))
            .collect()
    } else {
        HashMap::new()
    };
    let spend: HashMap<String, i64> = match &rule.spend {
        Some(s) => {
            let from = program.day_start(program.local_day(now) - Months::new(s.months));
            repo::rfm::bought(c, id, from, now + chrono::Duration::seconds(1))?
                .into_iter()
                .map(|b| (b.card_id, b.net_spend_cents))
                .collect()
        }
        None => HashMap::new(),
    };
    let at_shop: HashSet<String> = match &rule.location_id {
        Some(shop) => repo::segments::bought_at(c, id, shop)?,
        None => HashSet::new(),
    };
    let consented = match rule.consent {
        Some(purpose) => repo::rfm::granted(c, id, purpose.as_str())?,
        None => HashSet::new(),
    };
    Ok(candidates
        .into_iter()
        .filter(|m| {
            let tier =
                tiers.as_ref().and_then(|(rows, entry)| rows.get(&m.card_id).or(entry.as_ref()).map(String::as_str));
            rule.matches(&Member {
                enrolled_on: program.local_day(m.enrolled_at),
                tier,
                rfm: rfm.get(&m.card_id).copied(),
                last_purchase_on: last.get(&m.card_id).map(|t| program.local_day(*t)),
                spend_cents: spend.get(&m.card_id).copied().unwrap_or(0),
                bought_at_location: at_shop.contains(&m.card_id),
                consented: consented.contains(&m.customer_id),
            })
        })
        .collect())
}
