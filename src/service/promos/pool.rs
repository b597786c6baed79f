//! A pool of unique codes: generated while the request waits when small, by a job when large.

use serde::{Deserialize, Serialize};

use super::pattern_of;
use crate::db::repo::promos::{self as repo_promo, Campaign};
use crate::db::{Db, DbConn};
use crate::domain::codes::CodePattern;
use crate::error::{AppError, AppResult};
use crate::jobs::Job;

/// Pools up to this size are generated while the request waits; larger ones by a job that
/// reports its progress in `pool.generated`.
pub const SYNC_POOL_LIMIT: i64 = 10_000;
pub const MAX_POOL: i64 = 1_000_000;

/// The job that fills a pool too large to generate while the request waits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeneratePool {
    pub campaign_id: String,
    /// Absent from the jobs of builds before typed jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_id: Option<String>,
}

impl Job for GeneratePool {
    const KIND: &'static str = "promo_pool_generate";

    fn program_id(&self) -> Option<&str> {
        self.program_id.as_deref()
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.campaign_id))
    }
}

/// Generates up to `count` more codes of the campaign's pool into the database, drawing again
/// for codes another campaign of the programme already uses.
pub(super) fn generate_into(
    conn: &mut DbConn,
    campaign: &Campaign,
    pattern: &CodePattern,
    count: i64,
) -> AppResult<i64> {
    let mut inserted = 0;
    for _ in 0..3 {
        let wanted = usize::try_from(count - inserted).unwrap_or(0);
        if wanted == 0 {
            break;
        }
        let codes = pattern.generate_unique(wanted).map_err(|e| AppError::invalid_field("pool", e))?;
        let codes: Vec<String> = codes.iter().map(|c| c.as_str().to_owned()).collect();
        let n = repo_promo::insert_codes(conn, &campaign.program_id, &campaign.id, &codes, Some(1))?;
        inserted += i64::try_from(n).unwrap_or(0);
    }
    repo_promo::add_generated(conn, &campaign.id, inserted)?;
    Ok(inserted)
}

/// The job that fills a large pool, a batch per transaction so that progress shows and a crash
/// resumes where it stopped.
pub async fn run_generate_job(db: Db, job: GeneratePool) -> anyhow::Result<()> {
    let campaign_id = job.campaign_id;
    loop {
        let id = campaign_id.clone();
        let left = db
            .write(move |conn| {
                // Locked: a second run of this job (after a lease expiry) waits here and then
                // sees this batch counted, instead of generating it twice.
                let campaign = repo_promo::lock_campaign(conn, &id)?;
                let left = campaign.pool_size - campaign.pool_generated;
                if left > 0 {
                    generate_into(conn, &campaign, &pattern_of(&campaign)?, left.min(50_000))?;
                }
                Ok(left)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if left <= 50_000 {
            // A million new rows with no statistics make the planner sort the whole table for each
            // page of the CSV export (seconds per page instead of milliseconds).
            db.write(|c| Ok(repo_promo::analyze_codes(c)?)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            return Ok(());
        }
    }
}
