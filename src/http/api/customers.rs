use actix_web::{HttpResponse, web};

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{JsonBody, OptionalIdempotencyHeader, Staff};
use crate::http::stored;
use crate::service::customers::{self, Enrolment};
use crate::service::idempotency::Idempotent;

pub async fn create(
    db: web::Data<Db>,
    Staff(actor): Staff,
    OptionalIdempotencyHeader(key): OptionalIdempotencyHeader,
    JsonBody(input): JsonBody<Enrolment>,
) -> AppResult<HttpResponse> {
    let idem = key.map(|k| Idempotent::new(k, "POST /customers", &input)).transpose()?;
    customers::enrol(&db, &actor, idem, input).await.map(stored)
}
