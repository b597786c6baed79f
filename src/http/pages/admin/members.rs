//! Members: search, a member's page (balance, tier, vouchers, ledger by pages, consents), and its
//! actions: correct the profile, adjust points, give a goodwill voucher, block or unblock, send
//! the card link again, export, erase.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Console, Fields, Form, Posted, after, console, input, refusal};
use crate::domain::status::CardStatus;
use crate::domain::text::IdempotencyKey;
use crate::error::{AppError, AppResult};
use crate::http::pages::Page;
use crate::service::idempotency::Idempotent;
use crate::service::{cards, consents, members, points, vouchers};

const LEDGER_PAGE: i64 = 20;

pub async fn list(page: Page) -> HttpResponse {
    console(page, |c: Console| async move {
        let query = web::Query::<BTreeMap<String, String>>::from_query(c.page.req.query_string())
            .map(web::Query::into_inner)
            .unwrap_or_default();
        let f = Fields(&query);
        let filter = json!({
            "query": f.optional("query"), "tier": f.optional("tier"), "status": f.optional("status"),
            "before": f.optional("before"), "limit": 50,
        });
        let found = async { members::list(c.db(), &c.actor, input(filter)?).await }.await;
        let tiers = crate::service::tiers::rules::get(c.db(), &c.actor).await?;
        let (result, error) = match found {
            Ok(page) => (Some(page), None),
            Err(e) => (None, Some(refusal(e)?)),
        };
        let context = json!({"result": result, "error": error, "query": query, "tiers": tiers});
        c.render(StatusCode::OK, "pages/admin/members.html", "members", context)
    })
    .await
}

async fn show(c: &Console, id: String, status: StatusCode, posted: Option<Posted<'_>>) -> AppResult<HttpResponse> {
    let member = members::get(c.db(), &c.actor, id).await?;
    let before = super::query(&c.page, "before").and_then(|b| b.parse::<i64>().ok());
    let ledger = cards::ledger(c.db(), &c.actor, member.card.id.clone(), before, LEDGER_PAGE).await?;
    let tiers = crate::service::tiers::rules::get(c.db(), &c.actor).await?;
    let context = json!({
        "member": member, "ledger": ledger, "tiers": tiers, "idem": crate::domain::card::random_token(24),
        "posted": Posted::context(posted.as_ref()),
    });
    c.render(status, "pages/admin/member.html", "members", context)
}

pub async fn page(page: Page, path: web::Path<String>) -> HttpResponse {
    console(page, |c: Console| async move { show(&c, path.into_inner(), StatusCode::OK, None).await }).await
}

async fn act<T>(
    c: &Console,
    id: String,
    fields: &BTreeMap<String, String>,
    section: &str,
    result: AppResult<T>,
) -> AppResult<HttpResponse> {
    let to = format!("/admin/members/{id}?done={section}");
    let posted = |error| Posted { section, fields, error };
    after(result, &to, |error| show(c, id, StatusCode::UNPROCESSABLE_ENTITY, Some(posted(error)))).await
}

pub async fn update(page: Page, path: web::Path<String>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let id = path.into_inner();
        let f = Fields(&form);
        let body = json!({"first_name": f.text("first_name"), "email": f.text("email"),
                          "phone": f.optional("phone"), "locale": f.text("locale")});
        let result = async { members::update(c.db(), &c.actor, id.clone(), input(body)?).await }.await;
        act(&c, id, &form, "profile", result).await
    })
    .await
}

/// The form's one-time key (rendered with the page): a double click or a resent form applies once.
fn form_key(form: &BTreeMap<String, String>) -> AppResult<IdempotencyKey> {
    let key = form.get("idem").cloned().unwrap_or_default();
    IdempotencyKey::parse(format!("console-{key}")).map_err(|e| AppError::invalid_field("idem", e))
}

pub async fn action(page: Page, path: web::Path<(String, String)>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let (id, action) = path.into_inner();
        let f = Fields(&form);
        let card_id = members::card_id(c.db(), &c.actor, id.clone()).await?;
        let result: AppResult<()> = async {
            match action.as_str() {
                "adjust" => {
                    let adjustment: points::Adjustment =
                        input(json!({"points": f.number("points"), "reason": f.text("reason")}))?;
                    let idem = Idempotent::new(form_key(&form)?, &format!("POST /cards/{card_id}/adjustments"), &adjustment)?;
                    let stored = points::adjust(c.db(), &c.actor, card_id, idem, adjustment).await?;
                    stored_refusal(&stored)
                }
                "voucher" => {
                    let voucher = f.voucher();
                    let goodwill: vouchers::manual::Goodwill = input(
                        json!({"voucher": voucher, "validity_days": f.number("validity_days"), "reason": f.text("reason")}),
                    )?;
                    let idem = Idempotent::new(form_key(&form)?, &format!("POST /cards/{card_id}/vouchers"), &goodwill)?;
                    let stored = vouchers::manual::give(c.db(), &c.actor, card_id, idem, goodwill).await?;
                    stored_refusal(&stored)
                }
                "block" => cards::set_status(c.db(), &c.actor, card_id, CardStatus::Blocked).await.map(drop),
                "unblock" => cards::set_status(c.db(), &c.actor, card_id, CardStatus::Active).await.map(drop),
                "card-link" => members::resend_card_link(c.db(), &c.actor, id.clone()).await,
                "consents" => {
                    // A checkbox left unticked is not sent: every purpose of the form is decided.
                    let decided = json!({"marketing_email": f.checked("marketing_email"),
                                         "marketing_sms": f.checked("marketing_sms"), "profiling": f.checked("profiling")});
                    consents::change(c.db(), &c.actor, id.clone(), input(decided)?).await.map(drop)
                }
                "erase" => {
                    let erasure: members::Erasure = input(json!({"reason": f.text("reason")}))?;
                    members::erase(c.db(), &c.actor, id.clone(), erasure).await.map(drop)
                }
                _ => Err(AppError::not_found("route_not_found", "no such action")),
            }
        }
        .await;
        let section = action.replace('-', "_");
        act(&c, id, &form, &section, result).await
    })
    .await
}

/// A stored answer of an idempotent use case is its refusal too (a replayed 4xx): as an error.
fn stored_refusal(stored: &crate::service::idempotency::Stored) -> AppResult<()> {
    if stored.status.is_success() {
        return Ok(());
    }
    let body: serde_json::Value = serde_json::from_str(&stored.body).unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or("refused").to_owned();
    Err(AppError::Client {
        status: stored.status,
        code: "refused",
        message,
        field: body["error"]["field"].as_str().map(str::to_owned),
    })
}

pub async fn export(page: Page, path: web::Path<String>) -> HttpResponse {
    console(page, |c: Console| async move {
        let id = path.into_inner();
        let export = members::export(c.db(), &c.actor, id.clone()).await?;
        Ok(HttpResponse::Ok()
            .insert_header(crate::http::attachment(&format!("customer-{id}.json")))
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(export))
    })
    .await
}
