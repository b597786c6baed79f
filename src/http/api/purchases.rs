use actix_web::{HttpRequest, HttpResponse, web};

use crate::config::Config;
use crate::service::promo_codes;

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{IdempotencyHeader, JsonBody, Staff};
use crate::http::stored;
use crate::service::idempotency::{self, Idempotent};
use crate::service::purchases::{self, NewPurchase, NewReturn};

pub async fn create(
    req: HttpRequest,
    db: web::Data<Db>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    IdempotencyHeader(key): IdempotencyHeader,
    JsonBody(input): JsonBody<NewPurchase>,
) -> AppResult<HttpResponse> {
    let idem = Idempotent::new(key, "POST /purchases", &input)?;
    let codes: Vec<String> = input.codes().into_iter().map(str::to_owned).collect();
    if codes.is_empty() {
        return purchases::record(&db, &actor, idem, input, None, config.purchase_backdate_max_days).await.map(stored);
    }
    let attempt = super::promos::attempt(&req, &actor, &config);
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    if input.promo_code.is_some() {
        // A promo code can be short and shared: counted before it is tried, and a till's retry
        // is answered before that.
        if let Some(first) = idempotency::replay(&db, &actor.program_id, &idem).await? {
            return Ok(stored(first));
        }
        let recorded = purchases::record(&db, &actor, idem, input, None, config.purchase_backdate_max_days);
        return promo_codes::guarded_all(&db, &attempt, &codes, recorded).await.map(stored);
    }
    // Vouchers alone are too sparse to guess: the limit is read in the purchase's own
    // transaction, and only a miss is counted.
    let check = promo_codes::SparseCheck::new(&attempt);
    let recorded = purchases::record(&db, &actor, idem, input, Some(check), config.purchase_backdate_max_days).await;
    promo_codes::count_if_guess(&db, &attempt, &codes, recorded).await.map(stored)
}

pub async fn return_goods(
    db: web::Data<Db>,
    Staff(actor): Staff,
    path: web::Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
    JsonBody(input): JsonBody<NewReturn>,
) -> AppResult<HttpResponse> {
    let purchase_id = path.into_inner();
    let idem = Idempotent::new(key, &format!("POST /purchases/{purchase_id}/returns"), &input)?;
    purchases::return_goods(&db, &actor, purchase_id, idem, input).await.map(stored)
}

pub async fn list(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<crate::service::purchase_list::ListQuery>,
) -> AppResult<web::Json<crate::service::purchase_list::PurchasePage>> {
    crate::service::purchase_list::list(&db, &actor, query.into_inner()).await.map(web::Json)
}
