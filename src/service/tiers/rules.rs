//! `GET`/`PUT /program/tiers`: the ordered tier list, checked as a whole before it is stored.

use crate::db::{Db, DbConn, repo};
use crate::domain::role::Role;
use crate::domain::tier::{Tier, Tiers};
use crate::error::{AppError, AppResult};
use crate::service::Actor;

/// The programme's tiers; none when it never set any.
pub fn of_program(conn: &mut DbConn, program_id: &str) -> AppResult<Tiers> {
    match repo::tiers::rules(conn, program_id)? {
        None => Ok(Tiers::none()),
        Some(json) => serde_json::from_str::<Vec<Tier>>(&json)
            .map(Tiers::from_db)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the stored tiers of {program_id} do not decode: {e}"))),
    }
}

pub async fn get(db: &Db, actor: &Actor) -> AppResult<Tiers> {
    let program_id = actor.program_id.clone();
    db.read(move |c| of_program(c, &program_id)).await
}

/// Replaces the list (an empty one turns tiers off) and starts the re-evaluation of every card.
pub async fn put(db: &Db, actor: &Actor, input: Vec<Tier>) -> AppResult<Tiers> {
    actor.require(Role::Manager)?;
    let tiers = Tiers::parse(input).map_err(|(field, e)| AppError::unprocessable_field("invalid_tiers", field, e))?;
    let actor = actor.clone();
    db.write(move |c| {
        let before = of_program(c, &actor.program_id)?;
        put_in(c, &actor.program_id, &tiers)?;
        let after = of_program(c, &actor.program_id)?;
        let what = crate::service::audit::What::new("program.tiers", "program", &actor.program_id);
        crate::service::audit::record(c, &actor, what, &before, &after)?;
        Ok(after)
    })
    .await
}

/// Stores checked tiers and starts the re-evaluation of every card, in the caller's transaction.
pub fn put_in(conn: &mut DbConn, program_id: &str, tiers: &Tiers) -> AppResult<()> {
    let json = serde_json::to_string(tiers).map_err(|e| AppError::Internal(e.into()))?;
    let now = repo::now();
    repo::tiers::put_rules(conn, program_id, &json, now)?;
    super::check::start(conn, program_id, now)
}

/// A built-in list (a preset, the demo), written as a manager would and checked the same way.
pub fn builtin(conn: &mut DbConn, program_id: &str, list: serde_json::Value) -> AppResult<()> {
    let bad = |e: String| AppError::Internal(anyhow::anyhow!("built-in tiers: {e}"));
    let list: Vec<Tier> = serde_json::from_value(list).map_err(|e| bad(e.to_string()))?;
    let tiers = Tiers::parse(list).map_err(|(field, e)| bad(format!("{field}: {e}")))?;
    put_in(conn, program_id, &tiers)
}
