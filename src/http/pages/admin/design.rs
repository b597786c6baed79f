//! The card design: colours, the text beside the logo, and logo, strip and icon images uploaded
//! from the browser; a preview of the pass front and back drawn in the page; "publish", which
//! redraws and pushes every pass.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use futures_util::TryStreamExt;
use serde_json::json;

use super::{Console, Form, console, refusal, see_other};
use crate::error::{AppError, AppResult};
use crate::http::pages::Page;
use crate::service::designs::{self, DesignForm};
use crate::wallet::apple::images::{MAX_UPLOAD_BYTES, Slot};

async fn show(c: &Console, status: StatusCode, error: Option<super::Refusal>) -> AppResult<HttpResponse> {
    let view = designs::view(c.db(), c.page.deps.apple.clone(), &c.actor).await?;
    let context = json!({"design": view, "error": error, "max_mb": MAX_UPLOAD_BYTES / 1024 / 1024});
    c.render(status, "pages/admin/design.html", "design", context)
}

pub async fn page(page: Page) -> HttpResponse {
    console(page, |c: Console| async move { show(&c, StatusCode::OK, None).await }).await
}

/// The multipart form: its text fields and uploaded files, each read up to the upload limit.
async fn read_form(mut parts: Multipart) -> AppResult<(std::collections::BTreeMap<String, String>, DesignForm)> {
    let bad = |e: actix_multipart::MultipartError| {
        AppError::bad_request("invalid_form", format!("the form did not arrive whole: {e}"))
    };
    let mut fields = std::collections::BTreeMap::new();
    let mut form = DesignForm::default();
    while let Some(mut part) = parts.try_next().await.map_err(bad)? {
        let name = part.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = part.try_next().await.map_err(bad)? {
            if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES {
                return Err(AppError::unprocessable_field(
                    "invalid_image",
                    name,
                    format!("at most {} MB", MAX_UPLOAD_BYTES / 1024 / 1024),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let slot = match name.as_str() {
            "logo" => Some(Slot::Logo),
            "strip" => Some(Slot::Strip),
            "icon" => Some(Slot::Icon),
            _ => None,
        };
        match slot {
            // A file input left empty still sends its part, with no bytes.
            Some(slot) if !bytes.is_empty() => form.uploads.push((slot, bytes)),
            Some(_) => {}
            None => {
                fields.insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    form.background_color = text("background_color");
    form.foreground_color = text("foreground_color");
    form.label_color = text("label_color");
    form.logo_text = text("logo_text");
    Ok((fields, form))
}

pub async fn save(page: Page, parts: Multipart) -> HttpResponse {
    console(page, |c: Console| async move {
        let (fields, form) = read_form(parts).await?;
        c.check(&fields)?;
        match designs::save_draft(c.db(), c.page.deps.apple.clone(), &c.actor, form).await {
            Ok(()) => Ok(see_other("/admin/design?done=saved#preview")),
            Err(e) => show(&c, StatusCode::UNPROCESSABLE_ENTITY, Some(refusal(e)?)).await,
        }
    })
    .await
}

pub async fn publish(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        match designs::publish(c.db(), &c.actor).await {
            Ok(()) => Ok(see_other("/admin/design?done=published")),
            Err(e) => show(&c, StatusCode::UNPROCESSABLE_ENTITY, Some(refusal(e)?)).await,
        }
    })
    .await
}

/// The draft's colours as CSS (the page's policy allows no inline style): the preview is right
/// without JavaScript, which then follows the colour inputs live.
pub async fn preview_css(page: Page) -> HttpResponse {
    console(page, |c: Console| async move {
        let view = designs::view(c.db(), c.page.deps.apple.clone(), &c.actor).await?;
        let css = format!(
            ".pass-preview {{ --bg: {}; --fg: {}; --lb: {}; }}\n",
            view.background_color, view.foreground_color, view.label_color
        );
        Ok(HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(css))
    })
    .await
}

pub async fn draft_image(page: Page, name: web::Path<String>) -> HttpResponse {
    console(page, |c: Console| async move {
        let bytes = designs::draft_image(c.db(), c.page.deps.apple.clone(), &c.actor, name.into_inner()).await?;
        Ok(HttpResponse::Ok()
            .content_type("image/png")
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .body(bytes))
    })
    .await
}
