use actix_web::web;
use serde::Deserialize;

use crate::config::Config;
use crate::db::Db;
use crate::domain::status::ReferralStatus;
use crate::error::{AppError, AppResult};
use crate::http::extractors::{JsonBody, Staff};
use crate::service::referrals::{self, CardReferrals, ReferralDto, SettingsDto, SettingsInput, Stats};

pub async fn for_card(
    db: web::Data<Db>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<CardReferrals>> {
    referrals::for_card(&db, &actor, path.into_inner(), config.public_url()).await.map(web::Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<i64>,
}

pub async fn list(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Vec<ReferralDto>>> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(AppError::invalid_field("limit", "must be between 1 and 500"));
    }
    let status = match query.status.as_deref().map(ReferralStatus::parse) {
        None => None,
        Some(Ok(status)) => Some(status),
        // A status no referral can have matches none: an empty list, not an error.
        Some(Err(_)) => return Ok(web::Json(Vec::new())),
    };
    referrals::list(&db, &actor, status, limit).await.map(web::Json)
}

pub async fn stats(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Stats>> {
    referrals::stats(&db, &actor).await.map(web::Json)
}

pub async fn get_settings(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<SettingsDto>> {
    referrals::get_settings(&db, &actor).await.map(web::Json)
}

pub async fn put_settings(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<SettingsInput>,
) -> AppResult<web::Json<SettingsDto>> {
    referrals::put_settings(&db, &actor, input).await.map(web::Json)
}
