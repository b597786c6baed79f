use actix_web::{HttpResponse, web};

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::staff::{self, Change, Invite, StaffDto};

pub async fn invite(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<Invite>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Created().json(staff::invite(&db, &actor, input).await?))
}

pub async fn list(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Vec<StaffDto>>> {
    staff::list(&db, &actor).await.map(web::Json)
}

pub async fn get(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<StaffDto>> {
    staff::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn update(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    JsonBody(input): JsonBody<Change>,
) -> AppResult<web::Json<StaffDto>> {
    staff::change(&db, &actor, path.into_inner(), input).await.map(web::Json)
}

pub async fn disable(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<StaffDto>> {
    staff::set_disabled(&db, &actor, path.into_inner(), true).await.map(web::Json)
}

pub async fn enable(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<StaffDto>> {
    staff::set_disabled(&db, &actor, path.into_inner(), false).await.map(web::Json)
}

pub async fn reinvite(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<StaffDto>> {
    staff::reinvite(&db, &actor, path.into_inner()).await.map(web::Json)
}
