//! The programme page: settings and earning rule, points expiry, conversion into vouchers, tiers
//! and the rewards catalogue, each a form of its own posting to one service.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{Console, Fields, Form, Posted, after, console, input, strip_nulls};
use crate::error::AppResult;
use crate::http::pages::Page;
use crate::service::{conversions, expiry, program_settings, rewards, tiers};

/// Blank rows offered under the tiers a programme has, to add new ones.
const NEW_TIER_ROWS: usize = 2;
/// Offered when a programme has no tier yet: the entry tier and two above it.
const FIRST_TIER_ROWS: usize = 3;

/// The page, with the refusal of a section's form and what was typed there, if any.
async fn show(c: &Console, status: StatusCode, posted: Option<Posted<'_>>) -> AppResult<HttpResponse> {
    let settings = program_settings::get(c.db(), &c.actor).await?;
    let expiry = expiry::rules::get(c.db(), &c.actor).await?;
    let conversion = conversions::get_setting(c.db(), &c.actor).await?;
    let tiers = tiers::rules::get(c.db(), &c.actor).await?;
    let catalogue = rewards::catalogue::list(c.db(), &c.actor, false).await?;
    let mut tier_rows: Vec<Value> = serde_json::to_value(&tiers)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .map(tier_row)
        .collect();
    let blank = if tier_rows.is_empty() { FIRST_TIER_ROWS } else { NEW_TIER_ROWS };
    tier_rows.extend((0..blank).map(|_| json!({})));
    let context = json!({
        "settings": settings, "expiry": expiry, "conversion": conversion, "tier_rows": tier_rows,
        "rewards": catalogue, "posted": Posted::context(posted.as_ref()),
        "zones": ["Europe/Paris", "Europe/Brussels", "Europe/Zurich", "Europe/Luxembourg", "Europe/London",
                  "America/Montreal", "Indian/Reunion", "America/Martinique", "Pacific/Noumea", "UTC"],
    });
    c.render(status, "pages/admin/program.html", "program", context)
}

/// A tier as the form's row shows it: conditions by metric, amounts in the currency.
fn tier_row(tier: Value) -> Value {
    let mut row = json!({
        "key": tier["key"], "name": tier["name"], "name_fr": tier["name_fr"],
        "multiplier": tier["earn_multiplier_percent"], "window": tier["window_months"], "keep": tier["keep_months"],
        "combine": if tier["qualify"].get("all_of").is_some() { "all" } else { "any" },
        "entry_reward": if tier["entry_reward"].is_null() { Value::Null } else { json!(tier["entry_reward"].to_string()) },
    });
    let conditions = tier["qualify"].get("all_of").or_else(|| tier["qualify"].get("any_of")).cloned();
    let conditions = conditions.and_then(|c| c.as_array().cloned()).unwrap_or_else(|| {
        if tier["qualify"].get("metric").is_some() { vec![tier["qualify"].clone()] } else { Vec::new() }
    });
    for condition in conditions {
        match condition["metric"].as_str() {
            Some("spend_cents") => row["spend_cents"] = condition["at_least"].clone(),
            Some("points_earned") => row["points"] = condition["at_least"].clone(),
            Some("visits") => row["visits"] = condition["at_least"].clone(),
            _ => {}
        }
    }
    row
}

pub async fn page(page: Page) -> HttpResponse {
    console(page, |c: Console| async move { show(&c, StatusCode::OK, None).await }).await
}

/// Runs a section's action: back to the page with a flash, or the page again with the refusal.
async fn act<T>(
    c: &Console,
    fields: &BTreeMap<String, String>,
    section: &str,
    result: AppResult<T>,
) -> AppResult<HttpResponse> {
    let to = format!("/admin/program?done=saved#{section}");
    after(result, &to, |error| show(c, StatusCode::UNPROCESSABLE_ENTITY, Some(Posted { section, fields, error }))).await
}

pub async fn save(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let f = Fields(&form);
        let mut body = json!({
            "name": f.text("name"), "locale": f.text("locale"), "earn_points": f.number("earn_points"),
            "earn_per_cents": f.cents("earn_per"), "earn_min_cents": f.cents("earn_min"),
            "earn_rounding": f.text("earn_rounding"), "contact_text": f.optional("contact_text"),
            "contact_text_fr": f.optional("contact_text_fr"), "terms_text": f.optional("terms_text"),
            "terms_text_fr": f.optional("terms_text_fr"), "public_enrolment": f.checked("public_enrolment"),
            "point_value_cents": f.cents("point_value"),
        });
        if !f.has("earn_min") {
            body["earn_min_cents"] = json!(0);
        }
        // Owners see (and send) the fields only they may change.
        for owner_field in ["time_zone", "currency"] {
            if f.has(owner_field) {
                body[owner_field] = f.text(owner_field);
            }
        }
        let result = async { program_settings::put(c.db(), &c.actor, input(body)?).await }.await;
        act(&c, &form, "settings", result).await
    })
    .await
}

pub async fn save_expiry(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let f = Fields(&form);
        let mode = f.text("mode");
        let mut body = json!({"mode": mode});
        if mode != "off" {
            body["months"] = f.number("months");
        }
        if mode == "after_earning" {
            body["round"] = f.text("round");
        }
        let result = async { expiry::rules::put(c.db(), &c.actor, input(body)?).await }.await;
        act(&c, &form, "expiry", result).await
    })
    .await
}

pub async fn save_conversion(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let f = Fields(&form);
        let body = json!({
            "mode": f.text("mode"), "threshold_points": f.number("threshold_points"),
            "block_points": f.number("block_points"), "value_cents_per_block": f.cents("value"),
            "validity_days": f.number("validity_days"),
        });
        let body = strip_nulls(body);
        let result = async { conversions::put_setting(c.db(), &c.actor, input(body)?).await }.await;
        act(&c, &form, "conversion", result).await
    })
    .await
}

pub async fn save_tiers(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let f = Fields(&form);
        let mut list = Vec::new();
        for i in 0..20 {
            let at = |name: &str| format!("tier_{i}_{name}");
            if !f.has(&at("key")) {
                continue;
            }
            let conditions: Vec<Value> =
                [("spend", "spend_cents", true), ("points", "points_earned", false), ("visits", "visits", false)]
                    .into_iter()
                    .filter(|(field, _, _)| f.has(&at(field)))
                    .map(|(field, metric, money)| {
                        let value = if money { f.cents(&at(field)) } else { f.number(&at(field)) };
                        json!({"metric": metric, "at_least": value})
                    })
                    .collect();
            let combine = if f.text(&at("combine")) == "all" { "all_of" } else { "any_of" };
            let mut tier = json!({
                "key": f.text(&at("key")), "name": f.text(&at("name")), "name_fr": f.optional(&at("name_fr")),
                "earn_multiplier_percent": f.number(&at("multiplier")), "window_months": f.number(&at("window")),
                "keep_months": f.number(&at("keep")),
            });
            if !conditions.is_empty() {
                tier["qualify"] = json!({combine: conditions});
            }
            if let Some(reward) = form.get(&at("entry_reward")).and_then(|r| serde_json::from_str::<Value>(r).ok()) {
                tier["entry_reward"] = reward;
            }
            list.push(strip_nulls(tier));
        }
        let result = async { tiers::rules::put(c.db(), &c.actor, input(Value::Array(list))?).await }.await;
        act(&c, &form, "tiers", result).await
    })
    .await
}

pub async fn add_reward(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let f = Fields(&form);
        let voucher = f.voucher();
        let body = strip_nulls(json!({
            "name": f.text("name"), "name_fr": f.optional("name_fr"), "cost_points": f.number("cost_points"),
            "voucher": voucher, "validity_days": f.number("validity_days"),
            "min_purchase_cents": f.cents("min_purchase"), "stock": f.number("stock"),
        }));
        let result = async { rewards::catalogue::create(c.db(), &c.actor, input(body)?).await }.await;
        act(&c, &form, "rewards", result).await
    })
    .await
}

pub async fn archive_reward(page: Page, path: web::Path<String>, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let result = rewards::catalogue::archive(c.db(), &c.actor, path.into_inner()).await;
        act(&c, &form, "rewards", result).await
    })
    .await
}
