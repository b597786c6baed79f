//! Shops and staff: the lists, a new shop, renaming and archiving; inviting, changing a role or
//! shop, disabling, enabling, and sending a new invitation.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Console, Fields, Form, Posted, after, console, input};
use crate::error::{AppError, AppResult};
use crate::http::pages::Page;
use crate::service::{locations, staff};

async fn show(c: &Console, status: StatusCode, posted: Option<Posted<'_>>) -> AppResult<HttpResponse> {
    let shops = locations::list(c.db(), &c.actor, true).await?;
    let people = staff::list(c.db(), &c.actor).await?;
    let context = json!({
        "shops": shops, "staff": people, "me_id": c.actor.staff_id,
        "posted": Posted::context(posted.as_ref()),
    });
    c.render(status, "pages/admin/shops.html", "shops", context)
}

async fn act<T>(
    c: &Console,
    fields: &BTreeMap<String, String>,
    section: &str,
    result: AppResult<T>,
) -> AppResult<HttpResponse> {
    let to = format!("/admin/shops?done=saved#{section}");
    after(result, &to, |error| show(c, StatusCode::UNPROCESSABLE_ENTITY, Some(Posted { section, fields, error }))).await
}

pub async fn page(page: Page) -> HttpResponse {
    console(page, |c: Console| async move { show(&c, StatusCode::OK, None).await }).await
}

fn shop_body(form: &BTreeMap<String, String>) -> serde_json::Value {
    let f = Fields(form);
    json!({"name": f.text("name"), "address": f.optional("address")})
}

pub async fn add_shop(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let result = async { locations::create(c.db(), &c.actor, input(shop_body(&form))?).await }.await;
        act(&c, &form, "shops", result).await
    })
    .await
}

pub async fn rename_shop(page: Page, path: web::Path<String>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let id = path.into_inner();
        let result = async { locations::update(c.db(), &c.actor, id, input(shop_body(&form))?).await }.await;
        act(&c, &form, "shops", result).await
    })
    .await
}

pub async fn archive_shop(page: Page, path: web::Path<String>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let result = locations::archive(c.db(), &c.actor, path.into_inner()).await;
        act(&c, &form, "shops", result).await
    })
    .await
}

fn role_body(form: &BTreeMap<String, String>) -> serde_json::Value {
    let f = Fields(form);
    json!({"role": f.text("role"), "location_id": f.optional("location_id")})
}

pub async fn invite(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let mut body = role_body(&form);
        body["email"] = Fields(&form).text("email");
        let result = async { staff::invite(c.db(), &c.actor, input(body)?).await }.await;
        act(&c, &form, "staff", result).await
    })
    .await
}

pub async fn change_staff(page: Page, path: web::Path<String>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let id = path.into_inner();
        let result = async { staff::change(c.db(), &c.actor, id, input(role_body(&form))?).await }.await;
        act(&c, &form, "staff", result).await
    })
    .await
}

pub async fn staff_action(page: Page, path: web::Path<(String, String)>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let (id, action) = path.into_inner();
        let result = match action.as_str() {
            "disable" => staff::set_disabled(c.db(), &c.actor, id, true).await,
            "enable" => staff::set_disabled(c.db(), &c.actor, id, false).await,
            "invitation" => staff::reinvite(c.db(), &c.actor, id).await,
            _ => Err(AppError::not_found("route_not_found", "no such action")),
        };
        act(&c, &form, "staff", result).await
    })
    .await
}
