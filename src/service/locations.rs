//! A programme's shops: created, renamed and archived by managers and owners. An archived shop
//! keeps its purchases and staff history; a new sale there is refused (`location_archived`).

use serde::{Deserialize, Serialize};

use super::Actor;
use super::audit::{self, What};
use super::programs::map_unique;
use crate::db::repo::programs::Location;
use crate::db::{Db, DbConn, repo};
use crate::domain::role::Role;
use crate::domain::text::{Address, LocationName};
use crate::dto::time;
use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    name: LocationName,
    #[serde(default)]
    address: Option<Address>,
}

#[derive(Debug, Serialize)]
pub struct LocationDto {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub archived: bool,
    pub archived_at: Option<String>,
    pub created_at: String,
}

impl From<&Location> for LocationDto {
    fn from(l: &Location) -> Self {
        LocationDto {
            id: l.id.clone(),
            name: l.name.clone(),
            address: l.address.clone(),
            archived: l.archived_at.is_some(),
            archived_at: l.archived_at.map(time),
            created_at: time(l.created_at),
        }
    }
}

/// What the audit log keeps of a shop.
fn audited(l: &Location) -> serde_json::Value {
    serde_json::json!({"name": l.name, "address": l.address, "archived": l.archived_at.is_some()})
}

pub fn not_found() -> AppError {
    AppError::not_found("location_not_found", "no such location in this program")
}

fn name_taken() -> AppError {
    AppError::conflict("location_exists", "the programme has a location with this name")
}

pub async fn create(db: &Db, actor: &Actor, input: LocationInput) -> AppResult<LocationDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let location = Location {
            id: repo::new_id(),
            program_id: actor.program_id.clone(),
            name: input.name.into_inner(),
            created_at: repo::now(),
            address: input.address.map(Address::into_inner),
            archived_at: None,
        };
        repo::programs::insert_location(c, &location).map_err(|e| map_unique(e, name_taken()))?;
        let what = What::new("location.create", "location", &location.id);
        audit::record(c, &actor, what, &serde_json::json!({}), &audited(&location))?;
        Ok(LocationDto::from(&location))
    })
    .await
}

pub async fn list(db: &Db, actor: &Actor, archived: bool) -> AppResult<Vec<LocationDto>> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| Ok(repo::programs::locations(c, &program_id, archived)?.iter().map(LocationDto::from).collect()))
        .await
}

pub async fn update(db: &Db, actor: &Actor, id: String, input: LocationInput) -> AppResult<LocationDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let before = find(c, &actor.program_id, &id)?;
        let address = input.address.map(Address::into_inner);
        repo::programs::update_location(c, &actor.program_id, &id, input.name.as_str(), address.as_deref())
            .map_err(|e| map_unique(e, name_taken()))?;
        let after = find(c, &actor.program_id, &id)?;
        audit::record(c, &actor, What::new("location.update", "location", &id), &audited(&before), &audited(&after))?;
        Ok(LocationDto::from(&after))
    })
    .await
}

/// Archives the shop; archiving an archived shop changes nothing (a retry is harmless).
pub async fn archive(db: &Db, actor: &Actor, id: String) -> AppResult<LocationDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let before = find(c, &actor.program_id, &id)?;
        repo::programs::archive_location(c, &actor.program_id, &id, repo::now())?;
        let after = find(c, &actor.program_id, &id)?;
        audit::record(c, &actor, What::new("location.archive", "location", &id), &audited(&before), &audited(&after))?;
        Ok(LocationDto::from(&after))
    })
    .await
}

fn find(c: &mut DbConn, program_id: &str, id: &str) -> AppResult<Location> {
    repo::programs::find_location(c, program_id, id)?.ok_or_else(not_found)
}

/// A shop of the programme where something new may happen: known and not archived.
pub fn live(c: &mut DbConn, program_id: &str, id: &str) -> AppResult<Location> {
    let location = repo::programs::find_location(c, program_id, id)?
        .ok_or_else(|| AppError::unprocessable("unknown_location", "no such location in this program"))?;
    if location.archived_at.is_some() {
        return Err(AppError::unprocessable(
            "location_archived",
            "this location is archived: nothing new happens there",
        ));
    }
    Ok(location)
}
