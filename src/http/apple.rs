//! The PassKit web service under `{public_url}/wallet/apple/v1` (spec §3.1), and the customer's
//! pass download link. Paths and status codes are Apple's contract with every iPhone.

use actix_web::http::header::{self, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;

use crate::config::Config;
use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::JsonBody;
use crate::service::passes::{self, PassFile};
use crate::service::passkit::{self, Latest, LogBody, PassClaim, RegisterBody};
use crate::wallet::AppleWallet;
use crate::wallet::apple::CONTENT_TYPE;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/wallet/apple/v1")
            .service(
                web::resource("/devices/{device}/registrations/{pass_type}/{serial}").post(register).delete(unregister),
            )
            .service(web::resource("/devices/{device}/registrations/{pass_type}").get(updated))
            // Wallet also asks with HEAD, which a GET route does not answer.
            .service(web::resource("/passes/{pass_type}/{serial}").get(latest).head(latest))
            .service(web::resource("/log").post(log)),
    )
    .service(web::resource("/c/{token}/pass.pkpass").get(link).head(link));
}

/// The pass named in the path, with the token of the `Authorization: ApplePass` header.
fn claim(req: &HttpRequest, pass_type_id: String, serial: String) -> AppResult<PassClaim> {
    let token = passkit::apple_pass_token(req.headers().get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()))?;
    Ok(PassClaim { pass_type_id, serial, token })
}

async fn register(
    db: web::Data<Db>,
    wallet: web::Data<AppleWallet>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> AppResult<HttpResponse> {
    let (device, pass_type, serial) = path.into_inner();
    let claim = claim(&req, pass_type, serial)?;
    let client = crate::http::client::address(&req);
    let created = passkit::register(&db, wallet.into_inner(), device, claim, body, client).await?;
    Ok(if created { HttpResponse::Created().finish() } else { HttpResponse::Ok().finish() })
}

async fn unregister(
    db: web::Data<Db>,
    wallet: web::Data<AppleWallet>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> AppResult<HttpResponse> {
    let (device, pass_type, serial) = path.into_inner();
    let claim = claim(&req, pass_type, serial)?;
    passkit::unregister(&db, wallet.into_inner(), device, claim).await?;
    Ok(HttpResponse::Ok().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatedQuery {
    passes_updated_since: Option<String>,
}

/// No Authorization here: the device library identifier is the shared secret (spec §3.1), and a
/// 401 could make Wallet treat the pass as revoked.
async fn updated(
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
    query: web::Query<UpdatedQuery>,
) -> AppResult<HttpResponse> {
    let (device, pass_type) = path.into_inner();
    Ok(match passkit::updated(&db, device, pass_type, query.into_inner().passes_updated_since).await? {
        // `lastUpdated` must be a JSON string: Wallet ignores a number.
        Some((serials, tag)) => {
            HttpResponse::Ok().json(serde_json::json!({"serialNumbers": serials, "lastUpdated": tag}))
        }
        None => HttpResponse::NoContent().finish(),
    })
}

async fn latest(
    db: web::Data<Db>,
    wallet: web::Data<AppleWallet>,
    config: web::Data<Config>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (pass_type, serial) = path.into_inner();
    let claim = claim(&req, pass_type, serial)?;
    let since = if_modified_since(&req);
    let latest = passkit::latest(&db, wallet.into_inner(), claim, since, config.public_url()).await?;
    Ok(match latest {
        Latest::NotModified(at) => {
            HttpResponse::NotModified().insert_header((header::LAST_MODIFIED, http_date(at))).finish()
        }
        Latest::Pass(pass) => pkpass(pass, None),
    })
}

async fn log(db: web::Data<Db>, req: HttpRequest, JsonBody(body): JsonBody<LogBody>) -> AppResult<HttpResponse> {
    passkit::log(&db, crate::http::client::address(&req), body).await?;
    Ok(HttpResponse::Ok().finish())
}

/// The customer's own download: the link token is the credential.
async fn link(
    db: web::Data<Db>,
    wallet: web::Data<AppleWallet>,
    config: web::Data<Config>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let pass = passes::for_link(&db, wallet.into_inner(), path.into_inner(), config.public_url()).await?;
    Ok(pkpass(pass, Some("loyalty.pkpass")))
}

/// A signed pass as Wallet and Safari expect it.
pub fn pkpass(pass: PassFile, attachment: Option<&str>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .content_type(CONTENT_TYPE)
        .insert_header((header::LAST_MODIFIED, http_date(pass.last_modified)))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(name) = attachment {
        response.insert_header(crate::http::attachment(name));
    }
    response.body(pass.bytes)
}

fn http_date(at: NaiveDateTime) -> HttpDate {
    HttpDate::from(std::time::SystemTime::from(at.and_utc()))
}

/// An unreadable date counts as absent: the device then simply gets the pass.
fn if_modified_since(req: &HttpRequest) -> Option<NaiveDateTime> {
    let value = req.headers().get(header::IF_MODIFIED_SINCE)?.to_str().ok()?;
    let date: HttpDate = value.parse().ok()?;
    let time: std::time::SystemTime = date.into();
    Some(DateTime::<chrono::Utc>::from(time).naive_utc())
}
