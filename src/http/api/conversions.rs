use actix_web::{HttpResponse, web};

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, OptionalIdempotencyHeader, Staff};
use crate::http::stored;
use crate::service::conversions::season::{self, ConversionDto, Schedule};
use crate::service::conversions::{self, ConversionSetting};
use crate::service::idempotency::Idempotent;

pub async fn get_setting(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<ConversionSetting>> {
    conversions::get_setting(&db, &actor).await.map(web::Json)
}

pub async fn put_setting(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<ConversionSetting>,
) -> AppResult<web::Json<ConversionSetting>> {
    conversions::put_setting(&db, &actor, input).await.map(web::Json)
}

pub async fn schedule(
    db: web::Data<Db>,
    Staff(actor): Staff,
    OptionalIdempotencyHeader(key): OptionalIdempotencyHeader,
    JsonBody(input): JsonBody<Schedule>,
) -> AppResult<HttpResponse> {
    let idem = key.map(|k| Idempotent::new(k, "POST /conversions", &input)).transpose()?;
    season::schedule(&db, &actor, idem, input).await.map(stored)
}

pub async fn list(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Vec<ConversionDto>>> {
    season::list(&db, &actor).await.map(web::Json)
}

pub async fn get(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<ConversionDto>> {
    season::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn cancel(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<ConversionDto>> {
    season::cancel(&db, &actor, path.into_inner()).await.map(web::Json)
}
