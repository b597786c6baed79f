use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::locations::{self, LocationDto, LocationInput};
use crate::service::sales_totals::{self, PutOutcome, RangeQuery, TotalsDto, TotalsInput};

pub async fn create(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<LocationInput>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created().json(locations::create(&db, &actor, input).await?))
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
) -> AppResult<web::Json<Vec<LocationDto>>> {
    locations::list(&db, &actor, query.archived).await.map(web::Json)
}

pub async fn update(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<LocationInput>,
) -> AppResult<web::Json<LocationDto>> {
    locations::update(&db, &actor, path.into_inner(), input).await.map(web::Json)
}

pub async fn archive(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<LocationDto>> {
    locations::archive(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn put_sales_totals(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<TotalsInput>,
) -> AppResult<web::Json<PutOutcome>> {
    sales_totals::put(&db, &actor, path.into_inner(), input).await.map(web::Json)
}

pub async fn sales_totals(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    query: web::Query<RangeQuery>,
) -> AppResult<web::Json<Vec<TotalsDto>>> {
    sales_totals::list(&db, &actor, path.into_inner(), query.into_inner()).await.map(web::Json)
}
