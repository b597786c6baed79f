use actix_web::web;

use crate::db::Db;
use crate::domain::tier::{Tier, Tiers};
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::tiers::check::{self, ReevaluationDto};
use crate::service::tiers::rules;

pub async fn get_rules(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Tiers>> {
    rules::get(&db, &actor).await.map(web::Json)
}

pub async fn put_rules(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<Vec<Tier>>,
) -> AppResult<web::Json<Tiers>> {
    rules::put(&db, &actor, input).await.map(web::Json)
}

pub async fn reevaluation(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<ReevaluationDto>> {
    check::progress(&db, &actor).await.map(web::Json)
}
