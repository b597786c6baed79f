//! Points that turn into vouchers without anyone claiming them: at a threshold, in the
//! transaction that reaches it (`threshold`), or in season batches (`season`). The programme's
//! `conversion` setting says which, and with what blocks.

pub mod season;
pub mod threshold;

use serde::{Deserialize, Serialize};

use crate::db::repo::conversions::Settings;
use crate::db::{Db, repo};
use crate::domain::money::Cents;
use crate::domain::points::Points;
use crate::domain::role::Role;
use crate::domain::status::ConversionMode;
use crate::domain::voucher::ValidityDays;
use crate::error::{AppError, AppResult};
use crate::service::Actor;

/// The blocks a conversion works in: from `threshold_points`, every whole `block_points` becomes
/// a voucher of `value_cents_per_block`, valid `validity_days`; the remainder stays on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocks {
    pub threshold_points: Points,
    pub block_points: Points,
    pub value_cents_per_block: Cents,
    pub validity_days: ValidityDays,
}

impl Blocks {
    /// A threshold below one block would convert nothing there: it is refused, naming the field.
    pub fn check(&self) -> AppResult<()> {
        if self.threshold_points.get() < self.block_points.get() {
            return Err(AppError::unprocessable(
                "invalid_conversion",
                "threshold_points: must be at least block_points (nothing converts below one block)",
            ));
        }
        Ok(())
    }

    fn of(s: &Settings) -> Option<Blocks> {
        Self::parse(s.threshold_points, s.block_points, s.value_cents_per_block, s.validity_days).ok()
    }

    /// The blocks from stored columns (a setting, a scheduled batch), checked again on the way out.
    fn parse(threshold: i64, block: i64, value_cents: i64, days: i64) -> Result<Blocks, crate::domain::Invalid> {
        Ok(Blocks {
            threshold_points: Points::parse(threshold)?,
            block_points: Points::parse(block)?,
            value_cents_per_block: Cents::parse(value_cents)?,
            validity_days: ValidityDays::parse(days)?,
        })
    }
}

/// `{"mode": "off"}`, or a mode with its blocks: in and out of `/program/conversion`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionSetting {
    pub mode: ConversionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_points: Option<Points>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_points: Option<Points>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_cents_per_block: Option<Cents>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<ValidityDays>,
}

impl ConversionSetting {
    /// The blocks, when all four fields are given; None when none is; an error naming the
    /// missing ones otherwise.
    pub fn blocks(&self) -> AppResult<Option<Blocks>> {
        match (self.threshold_points, self.block_points, self.value_cents_per_block, self.validity_days) {
            (Some(threshold_points), Some(block_points), Some(value_cents_per_block), Some(validity_days)) => {
                Ok(Some(Blocks { threshold_points, block_points, value_cents_per_block, validity_days }))
            }
            (None, None, None, None) => Ok(None),
            (t, b, v, d) => {
                let missing: Vec<&str> = [
                    ("threshold_points", t.is_none()),
                    ("block_points", b.is_none()),
                    ("value_cents_per_block", v.is_none()),
                    ("validity_days", d.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, gone)| gone.then_some(name))
                .collect();
                Err(AppError::unprocessable("invalid_conversion", format!("missing {}", missing.join(", "))))
            }
        }
    }

    fn new(mode: ConversionMode, blocks: Option<Blocks>) -> Self {
        ConversionSetting {
            mode,
            threshold_points: blocks.map(|b| b.threshold_points),
            block_points: blocks.map(|b| b.block_points),
            value_cents_per_block: blocks.map(|b| b.value_cents_per_block),
            validity_days: blocks.map(|b| b.validity_days),
        }
    }
}

/// The programme's setting: off when it never set one.
pub fn setting_of(conn: &mut crate::db::DbConn, program_id: &str) -> AppResult<ConversionSetting> {
    Ok(match repo::conversions::settings(conn, program_id)? {
        Some(s) => ConversionSetting::new(s.mode, Blocks::of(&s)),
        None => ConversionSetting::new(ConversionMode::Off, None),
    })
}

/// The blocks in force for `mode`, if the programme runs that mode.
pub fn blocks_for(conn: &mut crate::db::DbConn, program_id: &str, mode: ConversionMode) -> AppResult<Option<Blocks>> {
    Ok(repo::conversions::settings(conn, program_id)?.filter(|s| s.mode == mode).as_ref().and_then(Blocks::of))
}

pub async fn get_setting(db: &Db, actor: &Actor) -> AppResult<ConversionSetting> {
    let program_id = actor.program_id.clone();
    db.read(move |c| setting_of(c, &program_id)).await
}

pub async fn put_setting(db: &Db, actor: &Actor, input: ConversionSetting) -> AppResult<ConversionSetting> {
    actor.require(Role::Manager)?;
    let blocks = match (input.mode, input.blocks()?) {
        (ConversionMode::Off, blocks) => blocks,
        (_, Some(blocks)) => Some(blocks),
        (mode, None) => {
            return Err(AppError::unprocessable(
                "invalid_conversion",
                format!("mode {mode} needs threshold_points, block_points, value_cents_per_block and validity_days"),
            ));
        }
    };
    if let Some(b) = &blocks {
        b.check()?;
    }
    let actor = actor.clone();
    db.write(move |c| {
        let program_id = actor.program_id.as_str();
        // Off keeps the blocks it had, so that switching back on finds them.
        let kept = repo::conversions::settings(c, program_id)?;
        let b = blocks.or_else(|| kept.as_ref().and_then(Blocks::of));
        let Some(b) = b else {
            // Off and nothing to keep: no row is the same as off.
            return setting_of(c, program_id);
        };
        let before = setting_of(c, program_id)?;
        put_blocks(c, program_id, input.mode, &b)?;
        let after = setting_of(c, program_id)?;
        let what = crate::service::audit::What::new("program.conversion", "program", program_id);
        crate::service::audit::record(c, &actor, what, &before, &after)?;
        Ok(after)
    })
    .await
}

/// Writes the programme's setting: `mode`, with these blocks.
pub fn put_blocks(conn: &mut crate::db::DbConn, program_id: &str, mode: ConversionMode, b: &Blocks) -> AppResult<()> {
    repo::conversions::put_settings(
        conn,
        &Settings {
            program_id: program_id.to_owned(),
            mode,
            threshold_points: b.threshold_points.get(),
            block_points: b.block_points.get(),
            value_cents_per_block: b.value_cents_per_block.get(),
            validity_days: b.validity_days.get(),
            updated_at: repo::now(),
        },
    )?;
    Ok(())
}
