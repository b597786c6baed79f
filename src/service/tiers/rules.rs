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
    let json = serde_json::to_string(&tiers).map_err(|e| AppError::Internal(e.into()))?;
    let program_id = actor.program_id.clone();
    db.write(move |c| {
        let now = repo::now();
        repo::tiers::put_rules(c, &program_id, &json, now)?;
        super::check::start(c, &program_id, now)?;
        of_program(c, &program_id)
    })
    .await
}
