//! The safety net under every route: an error response that did not come from `AppError`
//! (actix's own: a wrong method's 405, an extractor's refusal, a header value that did not
//! convert) is answered in our error shape like any other, with its cause logged and not shown
//! when it is a server error; and a person's browser gets the error page instead of JSON.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;
use crate::http::pages::{self, assets::Assets};
use crate::render::{Lang, Templates};

/// The middleware (`middleware::from_fn(shape)`, innermost, so that it sees every route's answer).
pub async fn shape(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Innermost: the routes turn their errors into responses, so an `Err` here can only be the
    // App's own failure, passed on.
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    if !status.is_client_error() && !status.is_server_error() {
        return Ok(res);
    }
    let res = match foreign(&res) {
        Some(error) => replace(res, HttpResponse::from_error(error)),
        // An `AppError` already, or a body the handler chose (an error page, a stored replay).
        None => res,
    };
    let page = res
        .response()
        .error()
        .and_then(|e| e.as_error::<AppError>())
        .filter(|_| wants_page(res.request()))
        .and_then(|error| page(res.request(), error));
    Ok(match page {
        Some(page) => replace(res, page),
        None => res,
    })
}

/// The error to answer instead when the response is not in our shape: actix's own error, or an
/// error status with an empty body.
fn foreign(res: &ServiceResponse<BoxBody>) -> Option<AppError> {
    let status = res.status();
    match res.response().error() {
        Some(e) if e.as_error::<AppError>().is_some() => None,
        Some(e) => Some(AppError::from_status(status, e.to_string())),
        None if matches!(
            res.response().body().size(),
            actix_web::body::BodySize::Sized(0) | actix_web::body::BodySize::None
        ) =>
        {
            let req = res.request();
            let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
            Some(AppError::from_status(status, format!("{} {}: {reason}", req.method(), req.path())))
        }
        None => None,
    }
}

/// The new answer, with the headers of the old one it does not set itself (`Allow` of a 405,
/// `Retry-After`).
fn replace(res: ServiceResponse<BoxBody>, mut new: HttpResponse) -> ServiceResponse<BoxBody> {
    let old: HeaderMap = res.headers().clone();
    for (name, value) in &old {
        if *name != header::CONTENT_TYPE && *name != header::CONTENT_LENGTH && !new.headers().contains_key(name) {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    res.into_response(new)
}

/// A person's browser outside the machine paths: it gets pages, API clients and wallets JSON.
fn wants_page(req: &HttpRequest) -> bool {
    let accepts_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    accepts_html && !["/api/", "/wallet/"].iter().any(|p| req.path().starts_with(p))
}

fn page(req: &HttpRequest, error: &AppError) -> Option<HttpResponse> {
    let templates = req.app_data::<web::Data<Templates>>()?;
    let assets = req.app_data::<web::Data<Assets>>()?;
    let lang = pages::lang(req, Lang::En);
    Some(pages::error_page(req, templates, &assets.version, lang, error))
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};
    use serde_json::{Value, json};

    #[actix_web::test]
    async fn what_actix_answers_by_itself_comes_in_our_shape_and_a_500_shows_no_cause() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(super::shape))
                // A header value made from input that does not convert: actix's text/plain 500.
                .route(
                    "/split",
                    web::get()
                        .to(|| async { HttpResponse::SeeOther().insert_header(("Location", "/a\r\nX: 1")).finish() }),
                )
                .route("/empty", web::get().to(|| async { HttpResponse::BadRequest().finish() })),
        )
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/split").to_request()).await;
        assert_eq!(res.status(), 500);
        assert_eq!(res.headers().get("content-type").unwrap(), "application/json");
        assert!(!res.headers().contains_key("x"));
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body, json!({"error": {"code": "internal", "message": "internal error"}}));

        let res = test::call_service(&app, test::TestRequest::get().uri("/empty").to_request()).await;
        assert_eq!(res.status(), 400);
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body, json!({"error": {"code": "invalid_request", "message": "GET /empty: bad request"}}));
    }
}
