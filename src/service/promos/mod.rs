//! Promo codes: campaigns with an effect and limits, one shared code or a pool of unique codes.
//! Every limit is taken by one conditional UPDATE inside the redeeming transaction, so N
//! concurrent redemptions of a code with L uses left give exactly L successes.
//!
//! - `create`: a new campaign, its input and checks.
//! - `pool`: the generation of a pool of unique codes, while the request waits or by a job.
//! - `redeem`: what a code gives a purchase (`evaluate`), and taking one use of it (`redeem`).
//! - `admin`: the campaigns as managers read and steer them, and a pool's CSV export.
//! - `dto`: what the API shows of a campaign.
//!
//! What a code does to an amount is the pure rule `domain::promo::Effect`.

mod admin;
mod create;
mod dto;
mod pool;
mod redeem;

pub use self::admin::{codes_csv, get, list, set_status};
pub use self::create::{NewCampaign, PoolSpec, create};
pub use self::dto::{CampaignDto, Hours, PoolDto};
pub use self::pool::{GeneratePool, MAX_POOL, SYNC_POOL_LIMIT, run_generate_job};
pub use self::redeem::{Offer, Refusal, evaluate, redeem};
pub use crate::domain::promo::Effect;

use crate::db::repo::promos::Campaign;
use crate::domain::codes::CodePattern;
use crate::error::{AppError, AppResult};

/// The campaign's stored effect. A kind this build does not know is a bug or a newer build's
/// data: an internal error, never some other effect.
fn effect_of(c: &Campaign) -> AppResult<Effect> {
    Effect::from_parts(&c.effect, c.effect_value)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("campaign {}: stored effect: {e}", c.id)))
}

/// The stored pattern of a pool campaign.
fn pattern_of(c: &Campaign) -> AppResult<CodePattern> {
    CodePattern::new(
        c.pool_prefix.as_deref(),
        c.pool_pattern.as_deref(),
        c.pool_length.and_then(|l| u32::try_from(l).ok()),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("stored pool pattern: {e}")))
}
