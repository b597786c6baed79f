//! `GET`/`PUT /program/expiry`: when points expire.
//!
//! Turning expiry on never expires points earned before: every lot's validity starts at the
//! latest of the day it was earned and the day this mode was turned on (`since`). Changing the
//! months or the rounding within a mode keeps `since`, and applies to every open lot at the next
//! daily run (a shorter validity may expire points then). Turning it off stops the daily run;
//! points it expired stay expired.

use chrono::NaiveDate;
use serde::Serialize;

use crate::db::repo::programs::Program;
use crate::db::{Db, DbConn, repo};
use crate::domain::expiry::{ExpiryRule, RawRule};
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};
use crate::service::Actor;

/// A programme's rule and the local day validity starts counting from at the earliest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Setting {
    #[serde(flatten)]
    pub rule: ExpiryRule,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

impl Setting {
    const OFF: Setting = Setting { rule: ExpiryRule::Off, since: None };

    /// The day the validity of points earned on `earned` starts.
    pub fn start(&self, earned: NaiveDate) -> NaiveDate {
        self.since.map_or(earned, |since| earned.max(since))
    }

    /// The last day of points earned on `earned` (for `inactivity`: of the last purchase).
    pub fn ends_on(&self, earned: NaiveDate) -> Option<NaiveDate> {
        self.rule.ends_on(self.start(earned))
    }
}

/// The programme's rule; off when it never set one.
pub fn of_program(conn: &mut DbConn, program_id: &str) -> AppResult<Setting> {
    let Some(row) = repo::expiry::rule(conn, program_id)? else { return Ok(Setting::OFF) };
    let rule: ExpiryRule = serde_json::from_str::<RawRule>(&row.rule)
        .ok()
        .and_then(|raw| ExpiryRule::parse(raw).ok())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the stored expiry rule of {program_id} does not decode")))?;
    Ok(if rule.is_on() { Setting { rule, since: Some(row.since) } } else { Setting::OFF })
}

pub async fn get(db: &Db, actor: &Actor) -> AppResult<Setting> {
    let program_id = actor.program_id.clone();
    db.read(move |c| of_program(c, &program_id)).await
}

pub async fn put(db: &Db, actor: &Actor, input: RawRule) -> AppResult<Setting> {
    actor.require(Role::Manager)?;
    let rule =
        ExpiryRule::parse(input).map_err(|(field, e)| AppError::unprocessable_field("invalid_expiry", field, e))?;
    let actor = actor.clone();
    db.write(move |c| {
        let program = repo::programs::find(c, &actor.program_id)?;
        let before = of_program(c, &program.id)?;
        put_in(c, &program, rule)?;
        let after = of_program(c, &program.id)?;
        let what = crate::service::audit::What::new("program.expiry", "program", &program.id);
        crate::service::audit::record(c, &actor, what, &before, &after)?;
        Ok(after)
    })
    .await
}

/// Stores `rule` in the caller's transaction; every pass shows the new expiry.
pub fn put_in(conn: &mut DbConn, program: &Program, rule: ExpiryRule) -> AppResult<()> {
    let current = of_program(conn, &program.id)?;
    if current.rule == rule {
        // The same rule again (a retried PUT) changes nothing, `since` least of all.
        return Ok(());
    }
    let now = repo::now();
    let since = match current.since {
        Some(since) if current.rule.same_mode(rule) => since,
        _ => program.local_day(now),
    };
    let json = serde_json::to_string(&rule).map_err(|e| AppError::Internal(e.into()))?;
    repo::expiry::put_rule(conn, &program.id, &json, since, now)?;
    Ok(crate::service::passes::enqueue_refresh(conn, &program.id, None)?)
}
