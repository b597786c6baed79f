//! Google Wallet over HTTP: the staff save link, Google's save / delete callbacks, and the design
//! images Google fetches for program logos.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::config::Config;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::http::extractors::Staff;
use crate::service::google_wallet;
use crate::wallet::AppleWallet;
use crate::wallet::google::GoogleWallet;

/// The Google channel, absent when it is not configured.
pub struct Channel(pub Option<Arc<GoogleWallet>>);

impl Channel {
    fn get(&self) -> AppResult<Arc<GoogleWallet>> {
        self.0.clone().ok_or_else(|| {
            AppError::not_found(
                "google_wallet_off",
                "Google Wallet is not configured on this service (google_issuer_id, google_service_account_file)",
            )
        })
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/wallet/google/callback").post(callback))
        .service(web::resource("/c/{token}/google").get(save_redirect))
        .service(web::resource("/wallet/designs/{design}/{file}").get(design_image));
}

pub async fn save_url(
    db: web::Data<Db>,
    google: web::Data<Channel>,
    apple: web::Data<AppleWallet>,
    config: web::Data<Config>,
    Staff(actor): Staff,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let google = google.get()?;
    let url = google_wallet::save_url(&db, google, apple.into_inner(), &actor, path.into_inner(), config.public_url())
        .await?;
    Ok(HttpResponse::Ok().json(json!({"url": url})))
}

/// The card page's "Add to Google Wallet": a redirect to Google's save page (the signed link is
/// made on demand, so the page never holds a stale one).
pub async fn save_redirect(
    db: web::Data<Db>,
    google: web::Data<Channel>,
    apple: web::Data<AppleWallet>,
    config: web::Data<Config>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let google = google.get()?;
    let url = google_wallet::save_url_for_link(&db, google, apple.into_inner(), path.into_inner(), config.public_url())
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, url))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((actix_web::http::header::REFERRER_POLICY, "no-referrer"))
        .finish())
}

/// Google retries what is not answered 200, so a duplicate is answered 200 too.
async fn callback(db: web::Data<Db>, google: web::Data<Channel>, body: web::Bytes) -> AppResult<HttpResponse> {
    let google = google.get()?;
    google_wallet::callback(&db, &google, &body).await?;
    Ok(HttpResponse::Ok().finish())
}

/// A PNG of a pass design (Google only takes images from public URLs).
/// A programme's console design is `program-{id}`, read from the database.
async fn design_image(
    db: web::Data<Db>,
    apple: web::Data<AppleWallet>,
    path: web::Path<(String, String)>,
) -> AppResult<HttpResponse> {
    let (design, file) = path.into_inner();
    let bytes = match design.strip_prefix("program-") {
        Some(program_id) => crate::service::designs::published_image(&db, program_id.to_owned(), file).await?,
        None => apple
            .designs
            .get(&design)
            .and_then(|d| d.image(&file))
            .ok_or_else(|| AppError::not_found("image_not_found", "no such design image"))?,
    };
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(bytes))
}
