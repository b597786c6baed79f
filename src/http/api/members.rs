use actix_web::{HttpResponse, web};

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::consents::{self, ConsentsInput};
use crate::service::members::{self, Erasure, ListQuery, MemberDetail, MemberPage, ProfileInput};

pub async fn list(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<ListQuery>,
) -> AppResult<web::Json<MemberPage>> {
    members::list(&db, &actor, query.into_inner()).await.map(web::Json)
}

pub async fn get(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<MemberDetail>> {
    members::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn update(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<ProfileInput>,
) -> AppResult<web::Json<MemberDetail>> {
    members::update(&db, &actor, path.into_inner(), input).await.map(web::Json)
}

/// A download, as the customer's own export from the card page.
pub async fn export(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let export = members::export(&db, &actor, id.clone()).await?;
    Ok(HttpResponse::Ok().insert_header(crate::http::attachment(&format!("customer-{id}.json"))).json(export))
}

pub async fn erase(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<Erasure>,
) -> AppResult<web::Json<MemberDetail>> {
    members::erase(&db, &actor, path.into_inner(), input).await.map(web::Json)
}

pub async fn consents(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<ConsentsInput>,
) -> AppResult<web::Json<MemberDetail>> {
    consents::change(&db, &actor, path.into_inner(), input).await.map(web::Json)
}
