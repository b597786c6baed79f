//! What the API shows of a campaign.

use serde::{Deserialize, Serialize};

use super::{Effect, effect_of};
use crate::db::repo::promos::Campaign;
use crate::domain::status::CampaignStatus;
use crate::dto::time;
use crate::error::AppResult;

/// Local hours [from, to) in the programme's time zone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub from: i32,
    pub to: i32,
}

#[derive(Debug, Serialize)]
pub struct PoolDto {
    pub size: i64,
    pub generated: i64,
    pub prefix: Option<String>,
    pub pattern: Option<String>,
    pub length: Option<i32>,
}

#[derive(Debug, Serialize)]
pub struct CampaignDto {
    pub id: String,
    pub name: String,
    pub status: CampaignStatus,
    pub effect: Effect,
    pub code: Option<String>,
    pub pool: Option<PoolDto>,
    pub min_purchase_cents: i64,
    pub max_redemptions: Option<i64>,
    pub max_per_customer: Option<i64>,
    pub redemptions: i64,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub days_of_week: Option<Vec<u32>>,
    pub hours: Option<Hours>,
    pub created_at: String,
}

/// `redemptions` is counted from the applied redemptions: the counter column is kept only for
/// campaigns with a limit.
pub(super) fn dto(c: &Campaign, code: Option<String>, redemptions: i64) -> AppResult<CampaignDto> {
    Ok(CampaignDto {
        id: c.id.clone(),
        name: c.name.clone(),
        status: c.status,
        effect: effect_of(c)?,
        code,
        pool: (c.kind == "pool").then(|| PoolDto {
            size: c.pool_size,
            generated: c.pool_generated,
            prefix: c.pool_prefix.clone(),
            pattern: c.pool_pattern.clone(),
            length: c.pool_length,
        }),
        min_purchase_cents: c.min_purchase_cents,
        max_redemptions: c.max_redemptions,
        max_per_customer: c.max_per_customer,
        redemptions,
        starts_at: c.starts_at.map(time),
        ends_at: c.ends_at.map(time),
        days_of_week: c.days_of_week.as_deref().map(|d| d.split(',').filter_map(|x| x.parse().ok()).collect()),
        hours: c.hour_from.zip(c.hour_to).map(|(from, to)| Hours { from, to }),
        created_at: time(c.created_at),
    })
}
