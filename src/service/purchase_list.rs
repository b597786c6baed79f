//! `GET /purchases`: the programme's purchases, newest first. A cashier attached to a shop sees
//! only that shop's, whatever they ask for; managers and owners see all, or one shop's.

use serde::{Deserialize, Serialize};

use super::Actor;
use crate::db::{Db, repo};
use crate::domain::role::Role;
use crate::dto::PurchaseDto;
use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// A card's number, barcode or id.
    #[serde(default)]
    pub card: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub before: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct PurchasePage {
    pub purchases: Vec<PurchaseDto>,
    pub next_before: Option<String>,
}

pub async fn list(db: &Db, actor: &Actor, q: ListQuery) -> AppResult<PurchasePage> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid_field("limit", "from 1 to 200"));
    }
    let location = match (&actor.location_id, actor.role) {
        (Some(own), Role::Cashier) => Some(own.clone()),
        _ => q.location,
    };
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let card = match q.card.as_deref() {
            Some(reference) => Some(super::cards::find_card(c, &program_id, reference)?.id),
            None => None,
        };
        let rows = repo::purchases::page(
            c,
            &program_id,
            card.as_deref(),
            location.as_deref(),
            q.before.as_deref(),
            limit + 1,
        )?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        let purchases: Vec<PurchaseDto> =
            rows.iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).map(PurchaseDto::from).collect();
        let next_before = if more { purchases.last().map(|p| p.id.clone()) } else { None };
        Ok(PurchasePage { purchases, next_before })
    })
    .await
}
