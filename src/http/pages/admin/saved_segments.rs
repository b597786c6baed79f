//! Saved segments: the programme's named rules with today's count, a composer that previews a
//! rule before saving it, and deletion. The form is read into the API's rule, so the console and
//! `POST /api/v1/segments` refuse the same things.

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Console, Fields, Form, Posted, console, input, refusal, see_other, strip_nulls};
use crate::domain::rfm::Segment;
use crate::domain::segment::SegmentRule;
use crate::error::AppResult;
use crate::http::pages::Page;
use crate::service::segments::{self, SegmentInput};

const PATH: &str = "/admin/segments/saved";

/// The rule the form describes: a checkbox per tier (`tier:KEY`) and RFM segment (`rfm:NAME`),
/// dates, a spend over months with bounds, a shop and a consent; empty fields are no condition.
fn rule(form: &BTreeMap<String, String>) -> Value {
    let f = Fields(form);
    let picked = |prefix: &str| -> Vec<String> {
        form.keys().filter_map(|k| k.strip_prefix(prefix)).map(str::to_owned).collect()
    };
    let mut rule = Map::new();
    rule.insert("tiers".into(), json!(picked("tier:")));
    rule.insert("rfm_segments".into(), json!(picked("rfm:")));
    for date in ["last_purchase_after", "last_purchase_before", "enrolled_after", "enrolled_before"] {
        rule.insert(date.into(), f.text(date));
    }
    if f.has("spend_min") || f.has("spend_max") {
        let months = if f.has("spend_months") { f.number("spend_months") } else { json!(12) };
        rule.insert(
            "spend".into(),
            strip_nulls(
                json!({"months": months, "min_cents": f.cents("spend_min"), "max_cents": f.cents("spend_max")}),
            ),
        );
    }
    rule.insert("location_id".into(), f.text("location_id"));
    rule.insert("consent".into(), f.text("consent"));
    strip_nulls(Value::Object(rule))
}

/// The page; `posted` is what the composer sent (its fields kept), with its refusal if any.
async fn show(
    c: &Console,
    status: StatusCode,
    posted: Value,
    preview: Option<segments::Preview>,
) -> AppResult<HttpResponse> {
    let saved = segments::list(c.db(), &c.actor).await?;
    let mut listed = Vec::with_capacity(saved.len());
    for s in saved {
        let count = segments::preview(c.db(), &c.actor, s.id.clone(), Some(0)).await?.count;
        listed.push(json!({"segment": s, "count": count}));
    }
    let tiers = segments_tiers(c).await?;
    let shops = crate::service::locations::list(c.db(), &c.actor, false).await?;
    let context = json!({
        "saved": listed, "tiers": tiers, "shops": shops, "rfm_segments": Segment::ALL,
        "posted": posted, "preview": preview,
    });
    c.render(status, "pages/admin/saved_segments.html", "segments", context)
}

async fn segments_tiers(c: &Console) -> AppResult<Vec<Value>> {
    let tiers = crate::service::tiers::rules::get(c.db(), &c.actor).await?;
    Ok(tiers.list().iter().map(|t| json!({"key": t.key, "name": t.name, "name_fr": t.name_fr})).collect())
}

pub async fn page(page: Page) -> HttpResponse {
    console(page, |c: Console| async move { show(&c, StatusCode::OK, Posted::context(None), None).await }).await
}

/// Previews the composed rule (`intent=preview`) or saves it.
pub async fn save(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let fields = &form.0;
        let rule = rule(fields);
        let previewing = fields.get("intent").is_some_and(|i| i == "preview");
        let result = async {
            if previewing {
                let rule = input::<SegmentRule>(rule)?;
                return segments::preview_rule(c.db(), &c.actor, rule, None).await.map(Some);
            }
            let body = json!({"name": Fields(fields).text("name"), "rule": rule});
            segments::create(c.db(), &c.actor, input::<SegmentInput>(body)?).await.map(|_| None)
        }
        .await;
        match result {
            Ok(None) => Ok(see_other(&format!("{PATH}?done=segment_saved"))),
            // The preview keeps what was typed: the page is shown with the fields as posted.
            Ok(Some(preview)) => {
                let posted = json!({"section": "compose", "fields": fields, "error": null});
                show(&c, StatusCode::OK, posted, Some(preview)).await
            }
            Err(e) => {
                let posted = Posted { section: "compose", fields, error: refusal(e)? };
                show(&c, StatusCode::UNPROCESSABLE_ENTITY, Posted::context(Some(&posted)), None).await
            }
        }
    })
    .await
}

pub async fn delete(page: Page, form: Form, path: actix_web::web::Path<String>) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        segments::delete(c.db(), &c.actor, path.into_inner()).await?;
        Ok(see_other(&format!("{PATH}?done=segment_deleted")))
    })
    .await
}
