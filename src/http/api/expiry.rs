use actix_web::web;

use crate::db::Db;
use crate::domain::expiry::RawRule;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::expiry::rules::{self, Setting};
use crate::service::expiry::schedule::{self, Expiring};

pub async fn get_rule(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Setting>> {
    rules::get(&db, &actor).await.map(web::Json)
}

pub async fn put_rule(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<RawRule>,
) -> AppResult<web::Json<Setting>> {
    rules::put(&db, &actor, input).await.map(web::Json)
}

pub async fn for_card(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<Vec<Expiring>>> {
    schedule::for_card(&db, &actor, path.into_inner()).await.map(web::Json)
}
