use actix_web::{HttpRequest, HttpResponse, web};

use crate::config::Config;
use crate::db::Db;
use crate::domain::status::CampaignStatus;
use crate::error::AppResult;
use crate::http::extractors::{IdempotencyHeader, JsonBody, Staff};
use crate::http::stored;
use crate::service::Actor;
use crate::service::idempotency::{self, Idempotent};
use crate::service::promo_codes::{self, Attempt, Check, Checked, GuessLimits, Redeem};
use crate::service::promos::{self, CampaignDto, NewCampaign};

/// Who is trying a code: the staff member and the client address, with the configured limits.
pub fn attempt(req: &HttpRequest, actor: &Actor, config: &Config) -> Attempt {
    Attempt {
        program_id: actor.program_id.clone(),
        staff_id: actor.staff_id.clone(),
        address: crate::http::client::address(req),
        limits: GuessLimits {
            per_staff: config.promo_guess_limit_staff,
            per_address: config.promo_guess_limit_address,
            window_seconds: config.promo_guess_window_seconds,
        },
    }
}

pub async fn create(
    db: web::Data<Db>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<NewCampaign>,
) -> AppResult<HttpResponse> {
    let campaign = promos::create(&db, &actor, input).await?;
    Ok(HttpResponse::Created().json(campaign))
}

pub async fn list(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<Vec<CampaignDto>>> {
    promos::list(&db, &actor).await.map(web::Json)
}

pub async fn get(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<CampaignDto>> {
    promos::get(&db, &actor, path.into_inner()).await.map(web::Json)
}

pub async fn pause(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<CampaignDto>> {
    promos::set_status(&db, &actor, path.into_inner(), CampaignStatus::Paused).await.map(web::Json)
}

pub async fn resume(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<web::Json<CampaignDto>> {
    promos::set_status(&db, &actor, path.into_inner(), CampaignStatus::Active).await.map(web::Json)
}

pub async fn end(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<web::Json<CampaignDto>> {
    promos::set_status(&db, &actor, path.into_inner(), CampaignStatus::Ended).await.map(web::Json)
}

pub async fn codes_csv(db: web::Data<Db>, Staff(actor): Staff, path: web::Path<String>) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let csv = promos::codes_csv(&db, &actor, id.clone()).await?;
    Ok(crate::http::csv_download(&format!("promo-codes-{id}.csv"), csv))
}

pub async fn validate(
    req: HttpRequest,
    db: web::Data<Db>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    JsonBody(input): JsonBody<Check>,
) -> AppResult<web::Json<Checked>> {
    let attempt = attempt(&req, &actor, &config);
    promo_codes::validate(&db, &actor, &attempt, input).await.map(web::Json)
}

pub async fn redeem(
    req: HttpRequest,
    db: web::Data<Db>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    IdempotencyHeader(key): IdempotencyHeader,
    JsonBody(input): JsonBody<Redeem>,
) -> AppResult<HttpResponse> {
    let attempt = attempt(&req, &actor, &config);
    let idem = Idempotent::new(key, "POST /promo-codes/redeem", &input)?;
    if let Some(first) = idempotency::replay(&db, &actor.program_id, &idem).await? {
        return Ok(stored(first));
    }
    promo_codes::redeem(&db, &actor, &attempt, idem, input).await.map(stored)
}
