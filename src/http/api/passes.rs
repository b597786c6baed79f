use actix_web::web;

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, Staff};
use crate::service::passes::{self, DesignChoice, DesignDto};
use crate::wallet::AppleWallet;

pub async fn get_design(
    db: web::Data<Db>,
    wallet: web::Data<AppleWallet>,
    Staff(actor): Staff,
) -> AppResult<web::Json<DesignDto>> {
    passes::get_design(&db, wallet.into_inner(), &actor).await.map(web::Json)
}

pub async fn put_design(
    db: web::Data<Db>,
    wallet: web::Data<AppleWallet>,
    Staff(actor): Staff,
    JsonBody(choice): JsonBody<DesignChoice>,
) -> AppResult<web::Json<DesignDto>> {
    passes::set_design(&db, wallet.into_inner(), &actor, choice).await.map(web::Json)
}
