use actix_web::web;

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::program_settings::{self, ProgramInput, ProgramSettingsDto};

pub async fn get(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<ProgramSettingsDto>> {
    program_settings::get(&db, &actor).await.map(web::Json)
}

pub async fn put(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<ProgramInput>,
) -> AppResult<web::Json<ProgramSettingsDto>> {
    program_settings::put(&db, &actor, input).await.map(web::Json)
}
