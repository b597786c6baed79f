use actix_web::{HttpResponse, web};

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, OptionalIdempotencyHeader, Staff};
use crate::http::stored;
use crate::service::campaigns::report::{self, CampaignDetail, Reach};
use crate::service::campaigns::{self, CampaignDto, CampaignInput, ScheduleInput};
use crate::service::idempotency::Idempotent;

pub async fn create(
    db: web::Data<Db>,
    Staff(actor): Staff,
    OptionalIdempotencyHeader(key): OptionalIdempotencyHeader,
    JsonBody(input): JsonBody<CampaignInput>,
) -> AppResult<HttpResponse> {
    let idem = key.map(|k| Idempotent::new(k, "POST /campaigns", &input)).transpose()?;
    campaigns::create(&db, &actor, idem, input).await.map(stored)
}

pub async fn list(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Vec<CampaignDto>>> {
    campaigns::list(&db, &actor).await.map(web::Json)
}

pub async fn get(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<CampaignDetail>> {
    report::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn preview(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<Reach>> {
    report::preview(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn schedule(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<ScheduleInput>,
) -> AppResult<web::Json<CampaignDto>> {
    campaigns::schedule(&db, &actor, path.into_inner(), input).await.map(web::Json)
}

pub async fn cancel(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<CampaignDto>> {
    campaigns::cancel(&db, &actor, path.into_inner()).await.map(web::Json)
}
