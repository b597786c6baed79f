use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::config::Config;
use crate::db::Db;
use crate::domain::status::CardStatus;
use crate::dto::{CardDto, CardView};
use crate::error::{AppError, AppResult};
use crate::http::extractors::{IdempotencyHeader, JsonBody, Staff};
use crate::http::stored;
use crate::service::cards::{self, LedgerPage};
use crate::service::idempotency::Idempotent;
use crate::service::passes;
use crate::service::points::{self, Adjustment, Redemption};
use crate::wallet::AppleWallet;

pub async fn apple_pass(
    db: web::Data<Db>,
    wallet: web::Data<AppleWallet>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let pass = passes::for_staff(&db, wallet.into_inner(), &actor, path.into_inner(), config.public_url()).await?;
    Ok(crate::http::apple::pkpass(pass, Some("loyalty.pkpass")))
}

pub async fn get(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<CardView>> {
    cards::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    limit: Option<i64>,
    before: Option<i64>,
}

pub async fn ledger(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    query: web::Query<LedgerQuery>,
) -> AppResult<web::Json<LedgerPage>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid_field("limit", "must be between 1 and 200"));
    }
    cards::ledger(&db, &actor, path.into_inner(), query.before, limit).await.map(web::Json)
}

pub async fn block(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<CardDto>> {
    cards::set_status(&db, &actor, path.into_inner(), CardStatus::Blocked).await.map(web::Json)
}

pub async fn unblock(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<CardDto>> {
    cards::set_status(&db, &actor, path.into_inner(), CardStatus::Active).await.map(web::Json)
}

pub async fn redeem(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
    JsonBody(input): JsonBody<Redemption>,
) -> AppResult<HttpResponse> {
    let card_id = path.into_inner();
    let idem = Idempotent::new(key, &format!("POST /cards/{card_id}/redemptions"), &input)?;
    points::redeem(&db, &actor, card_id, idem, input).await.map(stored)
}

pub async fn adjust(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
    JsonBody(input): JsonBody<Adjustment>,
) -> AppResult<HttpResponse> {
    let card_id = path.into_inner();
    let idem = Idempotent::new(key, &format!("POST /cards/{card_id}/adjustments"), &input)?;
    points::adjust(&db, &actor, card_id, idem, input).await.map(stored)
}
