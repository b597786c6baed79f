//! Promo codes (campaigns with a shared code or a pool: create with every rule, counters, pause,
//! resume, end, the codes CSV, the pool's progress) and the referral programme (its rules, its
//! figures, the referrals with their rejection reasons).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{Console, Fields, Form, Posted, console, input, refusal, see_other, strip_nulls};
use crate::domain::status::CampaignStatus;
use crate::error::{AppError, AppResult};
use crate::http::pages::Page;
use crate::service::{promos, referrals};

async fn show_list(c: &Console, status: StatusCode, posted: Option<Posted<'_>>) -> AppResult<HttpResponse> {
    let campaigns = promos::list(c.db(), &c.actor).await?;
    let context = json!({"campaigns": campaigns, "posted": Posted::context(posted.as_ref())});
    c.render(status, "pages/admin/promos.html", "promos", context)
}

pub async fn list(page: Page) -> HttpResponse {
    console(page, |c: Console| async move { show_list(&c, StatusCode::OK, None).await }).await
}

/// A `datetime-local` field, read in the programme's time zone, as the API's UTC instant.
fn local_time(c: &Console, f: &Fields<'_>, name: &str) -> Value {
    use chrono::TimeZone as _;
    let Some(text) = f.optional(name).as_str().map(str::to_owned) else { return Value::Null };
    chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M")
        .ok()
        .and_then(|local| c.program.tz().from_local_datetime(&local).earliest())
        .map_or(json!(text), |t| json!(t.with_timezone(&chrono::Utc).to_rfc3339()))
}

pub async fn create(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let f = Fields(&form);
        let effect = match f.text("effect").as_str() {
            Some("points_multiplier") => json!({"points_multiplier": f.number("effect_value")}),
            Some("percent_off") => json!({"percent_off": f.number("effect_value")}),
            Some("amount_off_cents") => json!({"amount_off_cents": f.cents("effect_value")}),
            _ => json!({"bonus_points": f.number("effect_value")}),
        };
        let mut body = json!({
            "name": f.text("name"), "effect": effect, "min_purchase_cents": f.cents("min_purchase"),
            "max_redemptions": f.number("max_redemptions"), "max_per_customer": f.number("max_per_customer"),
            "starts_at": local_time(&c, &f, "starts_at"), "ends_at": local_time(&c, &f, "ends_at"),
        });
        if f.text("kind").as_str() == Some("pool") {
            body["pool"] = json!({"count": f.number("pool_count"), "prefix": f.optional("pool_prefix")});
        } else {
            body["code"] = f.text("code");
        }
        let days: Vec<u32> = (1..=7).filter(|d| f.checked(&format!("day_{d}"))).collect();
        if !days.is_empty() && days.len() < 7 {
            body["days_of_week"] = json!(days);
        }
        if f.has("hour_from") || f.has("hour_to") {
            body["hours"] = json!({"from": f.number("hour_from"), "to": f.number("hour_to")});
        }
        let mut body = strip_nulls(body);
        if body.get("min_purchase_cents").is_none() {
            body["min_purchase_cents"] = json!(0);
        }
        match async { promos::create(c.db(), &c.actor, input(body)?).await }.await {
            Ok(campaign) => Ok(see_other(&format!("/admin/promos/{}?done=created", campaign.id))),
            Err(e) => {
                show_list(
                    &c,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(Posted { section: "campaign", fields: &form, error: refusal(e)? }),
                )
                .await
            }
        }
    })
    .await
}

pub async fn page(page: Page, path: web::Path<String>) -> HttpResponse {
    console(page, |c: Console| async move {
        let campaign = promos::get(c.db(), &c.actor, path.into_inner()).await?;
        c.render(StatusCode::OK, "pages/admin/promo.html", "promos", json!({"campaign": campaign}))
    })
    .await
}

pub async fn action(page: Page, path: web::Path<(String, String)>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let (id, action) = path.into_inner();
        let status = match action.as_str() {
            "pause" => CampaignStatus::Paused,
            "resume" => CampaignStatus::Active,
            "end" => CampaignStatus::Ended,
            _ => return Err(AppError::not_found("route_not_found", "no such action")),
        };
        match promos::set_status(c.db(), &c.actor, id.clone(), status).await {
            Ok(_) => Ok(see_other(&format!("/admin/promos/{id}?done={action}"))),
            Err(e) => {
                let error = refusal(e)?;
                let campaign = promos::get(c.db(), &c.actor, id).await?;
                c.render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "pages/admin/promo.html",
                    "promos",
                    json!({"campaign": campaign, "error": error}),
                )
            }
        }
    })
    .await
}

pub async fn codes(page: Page, path: web::Path<String>) -> HttpResponse {
    console(page, |c: Console| async move {
        let id = path.into_inner();
        let csv = promos::codes_csv(c.db(), &c.actor, id.clone()).await?;
        Ok(crate::http::csv_download(&format!("codes-{id}.csv"), csv))
    })
    .await
}

async fn show_referral(c: &Console, status: StatusCode, posted: Option<Posted<'_>>) -> AppResult<HttpResponse> {
    let settings = referrals::get_settings(c.db(), &c.actor).await?;
    let stats = referrals::stats(c.db(), &c.actor).await?;
    let list = referrals::list(c.db(), &c.actor, None, 100).await?;
    let posted = Posted::context(posted.as_ref());
    let context = json!({"settings": settings, "stats": stats, "referrals": list, "posted": posted});
    c.render(status, "pages/admin/referral.html", "referral", context)
}

pub async fn referral(page: Page) -> HttpResponse {
    console(page, |c: Console| async move { show_referral(&c, StatusCode::OK, None).await }).await
}

pub async fn save_referral(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let f = Fields(&form);
        let body = json!({
            "enabled": f.checked("enabled"), "min_purchase_cents": f.cents("min_purchase"),
            "window_days": f.number("window_days"), "referrer_points": f.number("referrer_points"),
            "referee_points": f.number("referee_points"), "max_per_month": f.number("max_per_month"),
            "max_total": f.number("max_total"), "clawback": f.checked("clawback"),
        });
        let body = strip_nulls(body);
        match async { referrals::put_settings(c.db(), &c.actor, input(body)?).await }.await {
            Ok(_) => Ok(see_other("/admin/referral?done=saved")),
            Err(e) => {
                show_referral(
                    &c,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some(Posted { section: "referral", fields: &form, error: refusal(e)? }),
                )
                .await
            }
        }
    })
    .await
}
