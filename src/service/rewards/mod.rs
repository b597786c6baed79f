//! The rewards catalogue ("a free coffee for 80 points") and claiming a reward with points. A
//! reward is a template: each claim copies its cost and effect into the voucher it issues.

pub mod catalogue;
pub mod claim;

use serde::{Deserialize, Serialize};

use crate::db::repo::rewards::Reward;
use crate::domain::money::Cents;
use crate::domain::points::Points;
use crate::domain::text::RewardName;
use crate::domain::voucher::{ValidityDays, VoucherValue};
use crate::dto::time;
use crate::error::{AppError, AppResult};

/// What a merchant writes: the whole reward, on create and on update alike.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardInput {
    pub name: RewardName,
    #[serde(default)]
    pub name_fr: Option<RewardName>,
    pub cost_points: Points,
    pub voucher: VoucherValue,
    pub validity_days: ValidityDays,
    #[serde(default)]
    pub min_purchase_cents: Option<Cents>,
    /// How many can still be claimed; absent = no limit.
    #[serde(default)]
    pub stock: Option<Stock>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A stock: 0 (sold out, for now) to a million.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stock(i64);

impl Stock {
    pub fn parse(v: i64) -> Result<Self, crate::domain::Invalid> {
        if (0..=1_000_000).contains(&v) {
            Ok(Stock(v))
        } else {
            Err(crate::domain::Invalid::new("must be between 0 and 1000000"))
        }
    }
}
crate::domain::serde_via_parse!(Stock, i64);

#[derive(Debug, Serialize)]
pub struct RewardDto {
    pub id: String,
    pub name: String,
    pub name_fr: Option<String>,
    pub cost_points: i64,
    pub voucher: VoucherValue,
    pub validity_days: i64,
    pub min_purchase_cents: i64,
    pub stock: Option<i64>,
    pub active: bool,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl RewardDto {
    pub fn new(r: &Reward) -> AppResult<Self> {
        Ok(RewardDto {
            id: r.id.clone(),
            name: r.name.clone(),
            name_fr: r.name_fr.clone(),
            cost_points: r.cost_points,
            voucher: value_of(r)?,
            validity_days: r.validity_days,
            min_purchase_cents: r.min_purchase_cents,
            stock: r.stock,
            active: r.active,
            archived: r.archived_at.is_some(),
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        })
    }
}

/// The voucher a reward gives. A row this build can't read is an internal error.
pub fn value_of(r: &Reward) -> AppResult<VoucherValue> {
    VoucherValue::from_parts(&r.voucher_kind, r.voucher_value, r.voucher_item.as_deref())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reward {}: {e}", r.id)))
}

/// Its name in `locale`: the French one when there is one and French is asked.
pub fn name_in(r: &Reward, locale: crate::domain::text::Locale) -> &str {
    match (locale, &r.name_fr) {
        (crate::domain::text::Locale::Fr, Some(fr)) => fr,
        _ => &r.name,
    }
}

pub fn reward_not_found() -> AppError {
    AppError::not_found("reward_not_found", "no such reward in this program")
}
