//! The staff scanner (`/staff`): one server-rendered page whose script talks to the JSON API with
//! the cashier's token. The page itself holds no data and needs no login to load.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::assets::{Assets, DECODER_SCRIPT};
use crate::error::AppError;
use crate::render::{Lang, Templates};

#[derive(Serialize)]
struct Context {
    program: Program,
    v: String,
    /// Whether the build vendored the JavaScript decoder: without it, phones lacking a native
    /// BarcodeDetector get the typed card number only, and no camera button that can't work.
    decoder: bool,
}

#[derive(Serialize)]
struct Program {
    name: &'static str,
}

pub async fn page(
    req: HttpRequest,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
) -> Result<HttpResponse, AppError> {
    let lang = super::lang(&req, Lang::En);
    let context = Context {
        program: Program { name: "encarte" },
        v: assets.version.clone(),
        decoder: assets.get(DECODER_SCRIPT).is_some(),
    };
    super::html(&req, &templates, StatusCode::OK, "pages/staff.html", lang, context)
}
