use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{IdempotencyHeader, JsonBody, Staff};
use crate::http::stored;
use crate::service::idempotency::Idempotent;
use crate::service::rewards::{RewardDto, RewardInput, catalogue, claim};

pub async fn create(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<RewardInput>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created().json(catalogue::create(&db, &actor, input).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    archived: bool,
}

pub async fn list(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<Vec<RewardDto>>> {
    catalogue::list(&db, &actor, query.archived).await.map(web::Json)
}

pub async fn get(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<RewardDto>> {
    catalogue::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn update(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<RewardInput>,
) -> AppResult<web::Json<RewardDto>> {
    catalogue::update(&db, &actor, path.into_inner(), input).await.map(web::Json)
}

pub async fn archive(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<RewardDto>> {
    catalogue::archive(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn claim(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<(String, String)>,
    IdempotencyHeader(key): IdempotencyHeader,
) -> AppResult<HttpResponse> {
    let (card, reward) = path.into_inner();
    let idem = Idempotent::new(key, &format!("POST /cards/{card}/rewards/{reward}"), &())?;
    claim::by_staff(&db, &actor, card, reward, idem).await.map(stored)
}
