//! The programme's referral scheme as a manager reads and sets it.

use serde::{Deserialize, Serialize};

use crate::db::repo::referrals::{self as repo_ref, Settings};
use crate::db::{Db, repo};
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};
use crate::service::Actor;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub enabled: bool,
    #[serde(default)]
    pub min_purchase_cents: i64,
    #[serde(default = "default_window")]
    pub window_days: i64,
    #[serde(default)]
    pub referrer_points: i64,
    #[serde(default)]
    pub referee_points: i64,
    #[serde(default)]
    pub max_per_month: Option<i64>,
    #[serde(default)]
    pub max_total: Option<i64>,
    #[serde(default = "default_true")]
    pub clawback: bool,
}

fn default_window() -> i64 {
    30
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsDto {
    pub enabled: bool,
    pub min_purchase_cents: i64,
    pub window_days: i64,
    pub referrer_points: i64,
    pub referee_points: i64,
    pub max_per_month: Option<i64>,
    pub max_total: Option<i64>,
    pub clawback: bool,
}

impl From<&Settings> for SettingsDto {
    fn from(s: &Settings) -> Self {
        SettingsDto {
            enabled: s.enabled,
            min_purchase_cents: s.min_purchase_cents,
            window_days: s.window_days,
            referrer_points: s.referrer_points,
            referee_points: s.referee_points,
            max_per_month: s.max_per_month,
            max_total: s.max_total,
            clawback: s.clawback,
        }
    }
}

impl SettingsInput {
    pub fn into_settings(self, program_id: &str) -> AppResult<Settings> {
        let check =
            |ok: bool, field: &str, rule: &str| if ok { Ok(()) } else { Err(AppError::invalid_field(field, rule)) };
        check(
            (0..=crate::domain::money::MAX_CENTS).contains(&self.min_purchase_cents),
            "min_purchase_cents",
            "0 to 10^9 cents",
        )?;
        check((1..=3650).contains(&self.window_days), "window_days", "1 to 3650 days")?;
        check((0..=1_000_000).contains(&self.referrer_points), "referrer_points", "0 to 1000000 points")?;
        check((0..=1_000_000).contains(&self.referee_points), "referee_points", "0 to 1000000 points")?;
        check(self.max_per_month.is_none_or(|m| m > 0), "max_per_month", "positive, or null for no limit")?;
        check(self.max_total.is_none_or(|m| m > 0), "max_total", "positive, or null for no limit")?;
        Ok(Settings {
            program_id: program_id.to_owned(),
            enabled: self.enabled,
            min_purchase_cents: self.min_purchase_cents,
            window_days: self.window_days,
            referrer_points: self.referrer_points,
            referee_points: self.referee_points,
            max_per_month: self.max_per_month,
            max_total: self.max_total,
            clawback: self.clawback,
            updated_at: repo::now(),
        })
    }
}

pub async fn get_settings(db: &Db, actor: &Actor) -> AppResult<SettingsDto> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        Ok(repo_ref::settings(c, &program_id)?.as_ref().map_or_else(
            || SettingsDto {
                enabled: false,
                min_purchase_cents: 0,
                window_days: default_window(),
                referrer_points: 0,
                referee_points: 0,
                max_per_month: None,
                max_total: None,
                clawback: true,
            },
            SettingsDto::from,
        ))
    })
    .await
}

pub async fn put_settings(db: &Db, actor: &Actor, input: SettingsInput) -> AppResult<SettingsDto> {
    actor.require(Role::Manager)?;
    let settings = input.into_settings(&actor.program_id)?;
    let actor = actor.clone();
    db.write(move |c| {
        let before = repo_ref::settings(c, &actor.program_id)?.as_ref().map(SettingsDto::from);
        repo_ref::save_settings(c, &settings)?;
        let after = SettingsDto::from(&settings);
        let what = crate::service::audit::What::new("program.referral", "program", &actor.program_id);
        crate::service::audit::record(c, &actor, what, &before, &after)?;
        Ok(after)
    })
    .await
}
