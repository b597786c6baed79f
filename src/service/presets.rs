//! Known programmes' rules in one go, for `encarte create-program --preset`: a merchant who
//! copies Mexx starts from Mexx's conversion rather than from a blank page.

use crate::db::repo::conversions::Conversion;
use crate::db::repo::programs::Program;
use crate::db::{DbConn, repo};
use crate::domain::money::Cents;
use crate::domain::points::Points;
use crate::domain::status::ConversionMode;
use crate::domain::voucher::ValidityDays;
use crate::error::{AppError, AppResult};
use crate::service::conversions::Blocks;
use crate::service::conversions::season::{schedule_in, season_starts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Season conversion at each season's start (1 March, 1 September): from 500 points, every
    /// 500 points become a 5 € voucher (1 cent per point), valid 90 days; the remainder is kept.
    Mexx,
}

impl Preset {
    pub const NAMES: [&'static str; 1] = ["mexx"];

    pub fn parse(name: &str) -> Result<Preset, crate::domain::Invalid> {
        match name {
            "mexx" => Ok(Preset::Mexx),
            other => Err(crate::domain::Invalid::new(format!(
                "unknown preset {other:?} (known: {})",
                Preset::NAMES.join(", ")
            ))),
        }
    }
}

/// What a preset set up, for the operator to read.
pub struct Applied {
    pub blocks: Blocks,
    pub scheduled: Vec<Conversion>,
}

/// Writes the preset's rules on the new programme, in the caller's transaction.
pub fn apply(conn: &mut DbConn, program: &Program, preset: Preset) -> AppResult<Applied> {
    match preset {
        Preset::Mexx => {
            let bad = |e: crate::domain::Invalid| AppError::Internal(anyhow::anyhow!("the mexx preset: {e}"));
            let blocks = Blocks {
                threshold_points: Points::parse(500).map_err(bad)?,
                block_points: Points::parse(500).map_err(bad)?,
                value_cents_per_block: Cents::parse(500).map_err(bad)?,
                validity_days: ValidityDays::parse(90).map_err(bad)?,
            };
            crate::service::conversions::put_blocks(conn, &program.id, ConversionMode::Season, &blocks)?;
            let mut scheduled = Vec::new();
            for run_at in season_starts(repo::now(), program.tz(), &[3, 9], 2) {
                scheduled.push(schedule_in(conn, &program.id, None, &blocks, Some(run_at), false)?);
            }
            Ok(Applied { blocks, scheduled })
        }
    }
}
