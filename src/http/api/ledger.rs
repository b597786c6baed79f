use actix_web::{HttpResponse, web};

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{IdempotencyHeader, JsonBody, Staff};
use crate::http::stored;
use crate::service::idempotency::Idempotent;
use crate::service::reversals::{self, Reversal};

pub async fn reverse_redemption(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<i64>,
    IdempotencyHeader(key): IdempotencyHeader,
    JsonBody(input): JsonBody<Reversal>,
) -> AppResult<HttpResponse> {
    let entry_id = path.into_inner();
    let idem = Idempotent::new(key, &format!("POST /redemptions/{entry_id}/reversal"), &input)?;
    reversals::reverse_redemption(&db, &actor, entry_id, idem, input).await.map(stored)
}
