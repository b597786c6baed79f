use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::db::Db;
use crate::domain::segment::SegmentRule;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::segments::{self, Preview, SegmentDto, SegmentInput, SegmentPatch};

pub async fn create(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<SegmentInput>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created().json(segments::create(&db, &actor, input).await?))
}

pub async fn list(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Vec<SegmentDto>>> {
    segments::list(&db, &actor).await.map(web::Json)
}

pub async fn get(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<SegmentDto>> {
    segments::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn update(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(patch): JsonBody<SegmentPatch>,
) -> AppResult<web::Json<SegmentDto>> {
    segments::update(&db, &actor, path.into_inner(), patch).await.map(web::Json)
}

pub async fn delete(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<HttpResponse> {
    segments::delete(&db, &actor, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    #[serde(default)]
    limit: Option<i64>,
}

pub async fn preview(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    query: web::Query<PreviewQuery>,
) -> AppResult<web::Json<Preview>> {
    segments::preview(&db, &actor, path.into_inner(), query.limit).await.map(web::Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleBody {
    rule: SegmentRule,
    #[serde(default)]
    limit: Option<i64>,
}

/// Previews a rule before it is saved.
pub async fn preview_rule(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(body): JsonBody<RuleBody>,
) -> AppResult<web::Json<Preview>> {
    segments::preview_rule(&db, &actor, body.rule, body.limit).await.map(web::Json)
}
