//! A new campaign: its input, the rules it must meet, and its first codes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dto::dto;
use super::pool::{GeneratePool, MAX_POOL, SYNC_POOL_LIMIT, generate_into};
use super::{CampaignDto, Effect, Hours};
use crate::db::repo::promos::{self as repo_promo, Campaign};
use crate::db::{Db, repo};
use crate::domain::codes::{CodePattern, PromoCode};
use crate::domain::money::MAX_CENTS;
use crate::domain::role::Role;
use crate::domain::status::CampaignStatus;
use crate::domain::text::Reason;
use crate::error::{AppError, AppResult};
use crate::jobs::Job;
use crate::service::Actor;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub count: i64,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub length: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub name: Reason,
    #[serde(default)]
    pub code: Option<PromoCode>,
    #[serde(default)]
    pub pool: Option<PoolSpec>,
    pub effect: Effect,
    #[serde(default)]
    pub min_purchase_cents: i64,
    #[serde(default)]
    pub max_redemptions: Option<i64>,
    #[serde(default)]
    pub max_per_customer: Option<i64>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    /// ISO weekdays, 1 = Monday, in the programme's time zone.
    #[serde(default)]
    pub days_of_week: Option<Vec<u32>>,
    /// Local hours [from, to) in the programme's time zone.
    #[serde(default)]
    pub hours: Option<Hours>,
}

impl NewCampaign {
    /// Refuses a campaign that breaks a rule, naming the field; gives the pool's pattern, for a
    /// campaign with a pool.
    fn check(&self) -> AppResult<Option<CodePattern>> {
        let (kind, _) = self.effect.parts();
        self.effect.check().map_err(|e| AppError::invalid_field(format!("effect.{kind}"), e))?;
        let check =
            |ok: bool, field: &str, rule: &str| if ok { Ok(()) } else { Err(AppError::invalid_field(field, rule)) };
        check((0..=MAX_CENTS).contains(&self.min_purchase_cents), "min_purchase_cents", "0 to 10^9 cents")?;
        check(self.max_redemptions.is_none_or(|m| m > 0), "max_redemptions", "positive, or absent for no limit")?;
        check(self.max_per_customer.is_none_or(|m| m > 0), "max_per_customer", "positive, or absent for no limit")?;
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at) {
            check(s < e, "ends_at", "must come after starts_at")?;
        }
        if let Some(days) = &self.days_of_week {
            check(
                !days.is_empty() && days.iter().all(|d| (1..=7).contains(d)),
                "days_of_week",
                "ISO weekdays 1 (Monday) to 7",
            )?;
        }
        if let Some(h) = &self.hours {
            check(
                (0..=23).contains(&h.from) && (1..=24).contains(&h.to) && h.from < h.to,
                "hours",
                "0 <= from < to <= 24",
            )?;
        }
        match (&self.code, &self.pool) {
            (Some(_), None) => Ok(None),
            (None, Some(pool)) => {
                check((1..=MAX_POOL).contains(&pool.count), "pool.count", "1 to 1000000 codes")?;
                let pattern = CodePattern::new(pool.prefix.as_deref(), pool.pattern.as_deref(), pool.length)
                    .map_err(|e| AppError::invalid_field("pool", e))?;
                // Refuse now, not in a job later, when the pattern can't yield that many codes.
                pattern
                    .can_yield(usize::try_from(pool.count).unwrap_or(0))
                    .map_err(|e| AppError::invalid_field("pool", e))?;
                Ok(Some(pattern))
            }
            _ => Err(AppError::invalid_field("code", "give either one shared `code` or a `pool` of unique codes")),
        }
    }
}

pub async fn create(db: &Db, actor: &Actor, input: NewCampaign) -> AppResult<CampaignDto> {
    actor.require(Role::Manager)?;
    let pattern = input.check()?;
    let actor = actor.clone();
    db.write(move |conn| {
        let now = repo::now();
        let (effect, value) = input.effect.parts();
        let pool = input.pool.as_ref();
        let campaign = Campaign {
            id: repo::new_id(),
            program_id: actor.program_id.clone(),
            name: input.name.into_inner(),
            effect: effect.to_owned(),
            effect_value: value,
            min_purchase_cents: input.min_purchase_cents,
            max_redemptions: input.max_redemptions,
            max_per_customer: input.max_per_customer,
            redemptions: 0,
            starts_at: input.starts_at.map(|t| t.naive_utc()),
            ends_at: input.ends_at.map(|t| t.naive_utc()),
            days_of_week: input.days_of_week.map(|d| d.iter().map(u32::to_string).collect::<Vec<_>>().join(",")),
            hour_from: input.hours.as_ref().map(|h| h.from),
            hour_to: input.hours.as_ref().map(|h| h.to),
            kind: if pool.is_some() { "pool" } else { "shared" }.to_owned(),
            pool_prefix: pool.and_then(|p| p.prefix.as_deref().map(crate::domain::codes::normalise)),
            pool_pattern: pool.and_then(|p| p.pattern.clone()),
            pool_length: pool.and_then(|p| p.length).and_then(|l| i32::try_from(l).ok()),
            pool_size: pool.map_or(0, |p| p.count),
            pool_generated: 0,
            status: CampaignStatus::Active,
            created_at: now,
            updated_at: now,
        };
        repo_promo::insert_campaign(conn, &campaign)?;
        let code = match (&input.code, pattern) {
            (Some(code), _) => {
                let inserted =
                    repo_promo::insert_codes(conn, &actor.program_id, &campaign.id, &[code.as_str().to_owned()], None)?;
                if inserted == 0 {
                    return Err(AppError::conflict(
                        "promo_code_exists",
                        "this code is already used by another campaign",
                    ));
                }
                Some(code.as_str().to_owned())
            }
            (None, Some(pattern)) => {
                if campaign.pool_size <= SYNC_POOL_LIMIT {
                    generate_into(conn, &campaign, &pattern, campaign.pool_size)?;
                } else {
                    GeneratePool { campaign_id: campaign.id.clone(), program_id: Some(actor.program_id.clone()) }
                        .enqueue(conn)?;
                }
                None
            }
            (None, None) => None,
        };
        let campaign = repo_promo::find_campaign(conn, &actor.program_id, &campaign.id)?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("campaign vanished")))?;
        let created = dto(&campaign, code, 0)?;
        let what = crate::service::audit::What::new("promo.create", "promo_campaign", &campaign.id);
        crate::service::audit::record(conn, &actor, what, &serde_json::json!({}), &created)?;
        Ok(created)
    })
    .await
}
