//! HTTP: every route of the service is listed in [`configure`]. Handlers are thin: extract,
//! call one service function, shape the response.

pub mod api;
pub mod apple;
pub mod client;
pub mod extractors;
pub mod google;
pub mod health;
pub mod pages;

use actix_web::{HttpResponse, web};

use crate::error::AppError;
use crate::service::idempotency::Stored;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| AppError::invalid_field("", e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| AppError::invalid_field("", e).into()))
        .route("/health", web::get().to(health::health))
        .route("/metrics", web::get().to(health::metrics))
        .route("/assets/{file:.*}", web::get().to(pages::assets::serve))
        .route("/staff", web::get().to(pages::staff::page))
        .service(
            web::scope("/api/v1")
                .route("/auth/login", web::post().to(api::auth::login))
                .route("/customers", web::post().to(api::customers::create))
                .route("/cards/{card}", web::get().to(api::cards::get))
                .route("/cards/{card}/pass.pkpass", web::get().to(api::cards::apple_pass))
                .route("/cards/{card}/google-save-url", web::get().to(google::save_url))
                .route("/cards/{id}/ledger", web::get().to(api::cards::ledger))
                .route("/cards/{id}/block", web::post().to(api::cards::block))
                .route("/cards/{id}/unblock", web::post().to(api::cards::unblock))
                .route("/cards/{id}/redemptions", web::post().to(api::cards::redeem))
                .route("/cards/{id}/adjustments", web::post().to(api::cards::adjust))
                .route("/cards/{id}/referrals", web::get().to(api::referrals::for_card))
                .route("/purchases", web::post().to(api::purchases::create))
                .route("/purchases/{id}/returns", web::post().to(api::purchases::return_goods))
                .route("/redemptions/{entry_id}/reversal", web::post().to(api::ledger::reverse_redemption))
                .route("/referrals", web::get().to(api::referrals::list))
                .route("/referrals/stats", web::get().to(api::referrals::stats))
                .route("/program/referral", web::get().to(api::referrals::get_settings))
                .route("/program/referral", web::put().to(api::referrals::put_settings))
                .route("/program/pass-design", web::get().to(api::passes::get_design))
                .route("/program/pass-design", web::put().to(api::passes::put_design))
                .route("/promo-campaigns", web::post().to(api::promos::create))
                .route("/promo-campaigns", web::get().to(api::promos::list))
                .route("/promo-campaigns/{id}", web::get().to(api::promos::get))
                .route("/promo-campaigns/{id}/pause", web::post().to(api::promos::pause))
                .route("/promo-campaigns/{id}/resume", web::post().to(api::promos::resume))
                .route("/promo-campaigns/{id}/end", web::post().to(api::promos::end))
                .route("/promo-campaigns/{id}/codes.csv", web::get().to(api::promos::codes_csv))
                .route("/promo-codes/validate", web::post().to(api::promos::validate))
                .route("/promo-codes/redeem", web::post().to(api::promos::redeem)),
        )
        .configure(pages::configure)
        .configure(apple::configure)
        .configure(google::configure)
        .default_service(web::to(not_found));
}

async fn not_found(page: pages::Page) -> Result<HttpResponse, AppError> {
    let req = &page.req;
    let path = crate::domain::text::excerpt(req.path());
    let error = AppError::not_found("route_not_found", format!("no route for {} {path}", req.method()));
    // A person's browser gets a page; API clients and wallets get JSON.
    let wants_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let machine = ["/api/", "/wallet/"].iter().any(|p| req.path().starts_with(p));
    if wants_html && !machine {
        return Ok(page.respond(async { Err(error) }).await);
    }
    Err(error)
}

/// Returns the request id of the log lines in an `X-Request-Id` header, so that a till's
/// error report leads straight to the service's logs.
pub fn echo_request_id<S>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse, actix_web::Error>> + use<S>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    use actix_web::HttpMessage;
    let id = req.extensions().get::<tracing_actix_web::RequestId>().map(ToString::to_string);
    let response = srv.call(req);
    async move {
        let mut response = response.await?;
        if let Some(value) = id.and_then(|id| actix_web::http::header::HeaderValue::from_str(&id).ok()) {
            response.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), value);
        }
        Ok(response)
    }
}

/// Sends a response as the service stored it: a replay is byte for byte the first answer.
pub fn stored(response: Stored) -> HttpResponse {
    let mut builder = HttpResponse::build(response.status);
    builder.content_type("application/json");
    if response.replayed {
        builder.insert_header(("Idempotent-Replayed", "true"));
    }
    builder.body(response.body)
}
