//! HTTP: every route of the service is listed in [`configure`]. Handlers are thin: extract,
//! call one service function, shape the response.

pub mod api;
pub mod apple;
pub mod client;
pub mod edge;
pub mod errors;
pub mod extractors;
pub mod google;
pub mod health;
pub mod pages;

use actix_web::{HttpResponse, web};

use crate::error::AppError;
use crate::service::idempotency::Stored;

/// Every route, one `web::resource` per path: a path asked with a method it does not answer gets
/// 405 with `Allow` (the resource's own default), where one resource per route would fall
/// through to the 404.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(|e, _| AppError::invalid_field("", e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| AppError::invalid_field("", e).into()))
        .service(web::resource("/health").get(health::health))
        .service(web::resource("/metrics").get(health::metrics))
        .service(web::resource("/assets/{file:.*}").get(pages::assets::serve))
        .service(web::resource("/staff").get(pages::staff::page))
        .service(
            web::scope("/api/v1")
                .service(web::resource("/auth/login").post(api::auth::login))
                .service(web::resource("/auth/password").post(api::auth::change_password))
                .service(web::resource("/auth/invitation").post(api::auth::accept_invitation))
                .service(web::resource("/program").get(api::program::get).put(api::program::put))
                .service(web::resource("/locations").post(api::locations::create).get(api::locations::list))
                .service(web::resource("/locations/{id}").put(api::locations::update))
                .service(web::resource("/locations/{id}/archive").post(api::locations::archive))
                .service(
                    web::resource("/locations/{id}/sales-totals")
                        .post(api::locations::put_sales_totals)
                        .get(api::locations::sales_totals),
                )
                .service(web::resource("/staff").post(api::staff::invite).get(api::staff::list))
                .service(web::resource("/staff/{id}").get(api::staff::get).put(api::staff::update))
                .service(web::resource("/staff/{id}/disable").post(api::staff::disable))
                .service(web::resource("/staff/{id}/enable").post(api::staff::enable))
                .service(web::resource("/staff/{id}/invitation").post(api::staff::reinvite))
                .service(web::resource("/audit").get(api::audit::list))
                .service(web::resource("/customers").post(api::customers::create).get(api::members::list))
                .service(web::resource("/customers/{id}").get(api::members::get).put(api::members::update))
                .service(web::resource("/customers/{id}/consents").put(api::members::consents))
                .service(web::resource("/customers/{id}/export").get(api::members::export))
                .service(web::resource("/customers/{id}/erase").post(api::members::erase))
                .service(web::resource("/cards/{card}").get(api::cards::get))
                .service(web::resource("/cards/{card}/pass.pkpass").get(api::cards::apple_pass))
                .service(web::resource("/cards/{card}/google-save-url").get(google::save_url))
                .service(web::resource("/cards/{id}/ledger").get(api::cards::ledger))
                .service(web::resource("/cards/{id}/expiry").get(api::expiry::for_card))
                .service(web::resource("/cards/{id}/block").post(api::cards::block))
                .service(web::resource("/cards/{id}/unblock").post(api::cards::unblock))
                .service(web::resource("/cards/{id}/redemptions").post(api::cards::redeem))
                .service(web::resource("/cards/{id}/adjustments").post(api::cards::adjust))
                .service(web::resource("/cards/{id}/referrals").get(api::referrals::for_card))
                .service(web::resource("/cards/{id}/rewards/{reward_id}").post(api::rewards::claim))
                .service(web::resource("/cards/{id}/vouchers").get(api::vouchers::for_card).post(api::vouchers::give))
                .service(web::resource("/rewards").post(api::rewards::create).get(api::rewards::list))
                .service(web::resource("/rewards/{id}").get(api::rewards::get).put(api::rewards::update))
                .service(web::resource("/rewards/{id}/archive").post(api::rewards::archive))
                .service(web::resource("/vouchers/validate").post(api::vouchers::validate))
                .service(web::resource("/vouchers/{code}/redeem").post(api::vouchers::redeem))
                .service(
                    web::resource("/program/conversion")
                        .get(api::conversions::get_setting)
                        .put(api::conversions::put_setting),
                )
                .service(web::resource("/program/tiers").get(api::tiers::get_rules).put(api::tiers::put_rules))
                .service(web::resource("/program/tiers/reevaluation").get(api::tiers::reevaluation))
                .service(web::resource("/program/expiry").get(api::expiry::get_rule).put(api::expiry::put_rule))
                .service(web::resource("/conversions").post(api::conversions::schedule).get(api::conversions::list))
                .service(web::resource("/conversions/{id}").get(api::conversions::get))
                .service(web::resource("/conversions/{id}/cancel").post(api::conversions::cancel))
                .service(web::resource("/campaigns").post(api::campaigns::create).get(api::campaigns::list))
                .service(web::resource("/campaigns/{id}").get(api::campaigns::get))
                .service(web::resource("/campaigns/{id}/preview").post(api::campaigns::preview))
                .service(web::resource("/campaigns/{id}/schedule").post(api::campaigns::schedule))
                .service(web::resource("/campaigns/{id}/cancel").post(api::campaigns::cancel))
                .service(web::resource("/segments").post(api::segments::create).get(api::segments::list))
                .service(web::resource("/segments/preview").post(api::segments::preview_rule))
                .service(
                    web::resource("/segments/{id}")
                        .get(api::segments::get)
                        .put(api::segments::update)
                        .delete(api::segments::delete),
                )
                .service(web::resource("/segments/{id}/preview").get(api::segments::preview))
                .service(web::resource("/insights/kpis").get(api::insights::kpis))
                .service(web::resource("/insights/kpis.csv").get(api::insights::kpis_csv))
                .service(web::resource("/insights/rfm").get(api::insights::rfm))
                .service(web::resource("/insights/rfm/run").post(api::insights::run_rfm))
                .service(web::resource("/insights/rfm/members").get(api::insights::rfm_members))
                .service(web::resource("/insights/rfm/members.csv").get(api::insights::rfm_members_csv))
                .service(web::resource("/purchases").post(api::purchases::create).get(api::purchases::list))
                .service(web::resource("/purchases/{id}/returns").post(api::purchases::return_goods))
                .service(web::resource("/redemptions/{entry_id}/reversal").post(api::ledger::reverse_redemption))
                .service(web::resource("/referrals").get(api::referrals::list))
                .service(web::resource("/referrals/stats").get(api::referrals::stats))
                .service(
                    web::resource("/program/referral")
                        .get(api::referrals::get_settings)
                        .put(api::referrals::put_settings),
                )
                .service(
                    web::resource("/program/pass-design").get(api::passes::get_design).put(api::passes::put_design),
                )
                .service(web::resource("/promo-campaigns").post(api::promos::create).get(api::promos::list))
                .service(web::resource("/promo-campaigns/{id}").get(api::promos::get))
                .service(web::resource("/promo-campaigns/{id}/pause").post(api::promos::pause))
                .service(web::resource("/promo-campaigns/{id}/resume").post(api::promos::resume))
                .service(web::resource("/promo-campaigns/{id}/end").post(api::promos::end))
                .service(web::resource("/promo-campaigns/{id}/codes.csv").get(api::promos::codes_csv))
                .service(web::resource("/promo-codes/validate").post(api::promos::validate))
                .service(web::resource("/promo-codes/redeem").post(api::promos::redeem)),
        )
        .configure(pages::configure)
        .configure(apple::configure)
        .configure(google::configure)
        .default_service(web::to(not_found));
}

/// A browser gets the 404 page and API clients JSON: [`errors::shape`] decides which.
async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, AppError> {
    let path = crate::domain::text::excerpt(req.path());
    Err(AppError::not_found("route_not_found", format!("no route for {} {path}", req.method())))
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

/// `Content-Disposition: attachment` for a download named `name`, kept to the characters a file
/// name needs: a name made from input (a path id) can neither break out of the quotes nor hold a
/// CR/LF, which would make the header value fail (a 500) or split it.
/// A CSV download named `name`; never cached (member lists and figures are personal or private).
pub fn csv_download(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(attachment(name))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(body)
}

pub fn attachment(name: &str) -> (actix_web::http::header::HeaderName, String) {
    let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    (actix_web::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{safe}\""))
}
