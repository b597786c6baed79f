use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::config::Config;
use crate::db::Db;
use crate::domain::status::VoucherState;
use crate::domain::voucher::VoucherCode;
use crate::error::{AppError, AppResult};
use crate::http::extractors::{IdempotencyHeader, JsonBody, Staff};
use crate::http::stored;
use crate::service::idempotency::Idempotent;
use crate::service::promo_codes;
use crate::service::vouchers::VoucherDto;
use crate::service::vouchers::manual::{self, Goodwill};
use crate::service::vouchers::till::{self, Check, Checked};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateQuery {
    state: Option<String>,
}

pub async fn for_card(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    query: web::Query<StateQuery>,
) -> AppResult<web::Json<Vec<VoucherDto>>> {
    let state = match query.state.as_deref() {
        Some(s) => Some(VoucherState::parse(s).map_err(|e| AppError::invalid_field("state", e.to_string()))?),
        None => None,
    };
    manual::for_card(&db, &actor, path.into_inner(), state).await.map(web::Json)
}

pub async fn give(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
    JsonBody(input): JsonBody<Goodwill>,
) -> AppResult<HttpResponse> {
    let card = path.into_inner();
    let idem = Idempotent::new(key, &format!("POST /cards/{card}/vouchers"), &input)?;
    manual::give(&db, &actor, card, idem, input).await.map(stored)
}

pub async fn validate(
    req: HttpRequest,
    db: web::Data<Db>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<Check>,
) -> AppResult<web::Json<Checked>> {
    let attempt = super::promos::attempt(&req, &actor, &config);
    let code = input.code.clone();
    // The dry run answers 200 either way; an unknown code is made a guess for the limits' sake.
    let checked = promo_codes::guarded_sparse(&db, &attempt, &[code.as_str()], async {
        let checked = till::validate(&db, &actor, input).await?;
        if checked.reason == Some(till::Refusal::Invalid) { Err(till::Refusal::Invalid.error()) } else { Ok(checked) }
    })
    .await;
    match checked {
        Err(e) if till::Refusal::is_guess(&e) => Ok(web::Json(Checked {
            valid: false,
            reason: Some(till::Refusal::Invalid),
            voucher: None,
            discount_cents: None,
        })),
        other => other.map(web::Json),
    }
}

pub async fn redeem(
    req: HttpRequest,
    db: web::Data<Db>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    path: web::Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
) -> AppResult<HttpResponse> {
    let raw = path.into_inner();
    let code = VoucherCode::parse(&raw).map_err(|e| AppError::invalid_field("code", e.to_string()))?;
    let idem = Idempotent::new(key, &format!("POST /vouchers/{}/redeem", code.as_str()), &())?;
    let attempt = super::promos::attempt(&req, &actor, &config);
    let redeemed = till::redeem_item(&db, &actor, code.clone(), idem);
    promo_codes::guarded_sparse(&db, &attempt, &[code.as_str()], redeemed).await.map(stored)
}
