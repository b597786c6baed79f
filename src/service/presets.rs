//! Known programmes' rules in one go, for `encarte create-program --preset`: a merchant who
//! copies Mexx starts from Mexx's conversion rather than from a blank page.

use serde_json::json;

use crate::db::repo::conversions::Conversion;
use crate::db::repo::programs::Program;
use crate::db::{DbConn, repo};
use crate::domain::expiry::{ExpiryRule, Round};
use crate::domain::money::Cents;
use crate::domain::points::Points;
use crate::domain::status::ConversionMode;
use crate::domain::voucher::ValidityDays;
use crate::error::{AppError, AppResult};
use crate::service::conversions::Blocks;
use crate::service::conversions::season::{schedule_in, season_starts};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Tiers Lin → Velours at 250 € spent in a rolling 12 months → Soie at 600 €, Soie earning 2
    /// points per euro; season conversion at each season's start (1 March, 1 September): from 500
    /// points, every 500 become a 5 € voucher (1 cent per point), valid 90 days, remainder kept;
    /// points expire 12 months after they were earned, at the end of that month.
    Mexx,
    /// Tiers White → Black on 150 points or 4 visits in 12 months (entering Black gives a 10 %
    /// voucher, valid 60 days) → Gold on 1,500 points in 12 months; the balance expires after 18
    /// months without a purchase (Sephora US).
    Sephora,
}

impl Preset {
    pub const NAMES: [&'static str; 2] = ["mexx", "sephora"];

    pub fn parse(name: &str) -> Result<Preset, crate::domain::Invalid> {
        match name {
            "mexx" => Ok(Preset::Mexx),
            "sephora" => Ok(Preset::Sephora),
            other => Err(crate::domain::Invalid::new(format!(
                "unknown preset {other:?} (known: {})",
                Preset::NAMES.join(", ")
            ))),
        }
    }
}

/// What a preset set up, for the operator to read.
pub struct Applied {
    pub tiers: Vec<String>,
    pub expiry: ExpiryRule,
    pub blocks: Option<Blocks>,
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
            let spend = |key: &str, name: &str, cents: i64| json!({"key": key, "name": name, "qualify": {"any_of": [{"metric": "spend_cents", "at_least": cents}]}});
            let mut soie = spend("soie", "Soie", 60_000);
            soie["earn_multiplier_percent"] = json!(200);
            let tiers = json!([{"key": "lin", "name": "Lin"}, spend("velours", "Velours", 25_000), soie]);
            let expiry = ExpiryRule::AfterEarning { months: 12, round: Round::EndOfMonth };
            crate::service::expiry::rules::put_in(conn, program, expiry)?;
            Ok(Applied { tiers: set_tiers(conn, program, tiers)?, expiry, blocks: Some(blocks), scheduled })
        }
        Preset::Sephora => {
            let tiers = json!([
                {"key": "white", "name": "White"},
                {"key": "black", "name": "Black", "name_fr": "Black",
                 "qualify": {"any_of": [{"metric": "points_earned", "at_least": 150}, {"metric": "visits", "at_least": 4}]},
                 "entry_reward": {"voucher": {"percent_off": 10}, "validity_days": 60}},
                {"key": "gold", "name": "Gold", "name_fr": "Gold",
                 "qualify": {"any_of": [{"metric": "points_earned", "at_least": 1500}]}}
            ]);
            let expiry = ExpiryRule::Inactivity { months: 18 };
            crate::service::expiry::rules::put_in(conn, program, expiry)?;
            Ok(Applied { tiers: set_tiers(conn, program, tiers)?, expiry, blocks: None, scheduled: Vec::new() })
        }
    }
}

/// Writes a preset's tiers; their keys, in order.
fn set_tiers(conn: &mut DbConn, program: &Program, tiers: serde_json::Value) -> AppResult<Vec<String>> {
    crate::service::tiers::rules::builtin(conn, &program.id, tiers)?;
    Ok(crate::service::tiers::rules::of_program(conn, &program.id)?.list().iter().map(|t| t.key.clone()).collect())
}
