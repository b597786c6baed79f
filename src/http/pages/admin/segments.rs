//! Segments: the RFM grid (drawn as SVG on the server, its numbers in a table under it), the
//! named segments with their members and revenue, a segment's members (paged, CSV), and the
//! button that asks for a run now.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::json;

use super::{Console, Fields, Form, Refusal, console, input, query, refusal, see_other};
use crate::error::AppResult;
use crate::http::pages::Page;
use crate::service::insights::rfm_views::{self, MembersQuery, RunInput};

const PAGE: i64 = 50;

fn members_query(page: &Page) -> AppResult<MembersQuery> {
    let segment = query(page, "segment").filter(|s| !s.is_empty());
    let offset = query(page, "offset").and_then(|o| o.parse::<i64>().ok()).unwrap_or(0);
    input(json!({"segment": segment, "limit": PAGE, "offset": offset}))
}

/// The page: the last run's grid and segments, and the members of the segment asked for.
async fn show(c: &Console, status: StatusCode, error: Option<Refusal>) -> AppResult<HttpResponse> {
    let q = members_query(&c.page)?;
    let rfm = rfm_views::get(c.db(), &c.actor).await?;
    let chosen = q.segment;
    let members = rfm_views::members(c.db(), &c.actor, q).await?;
    let busiest = rfm.grid.iter().map(|cell| cell.members).max().unwrap_or(0);
    let context = json!({"rfm": rfm, "members": members, "chosen": chosen, "busiest": busiest, "error": error});
    c.render(status, "pages/admin/segments.html", "segments", context)
}

pub async fn page(page: Page) -> HttpResponse {
    console(page, |c: Console| async move { show(&c, StatusCode::OK, None).await }).await
}

pub async fn run(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let window = json!({"window_months": Fields(&form).number("window_months")});
        match async { rfm_views::request(c.db(), &c.actor, input::<RunInput>(window)?).await }.await {
            Ok(_) => Ok(see_other("/admin/segments?done=rfm_queued")),
            Err(e) => show(&c, StatusCode::UNPROCESSABLE_ENTITY, Some(refusal(e)?)).await,
        }
    })
    .await
}

pub async fn csv(page: Page) -> HttpResponse {
    console(page, |c: Console| async move {
        let segment = members_query(&c.page)?.segment;
        let csv = rfm_views::members_csv(c.db(), &c.actor, segment).await?;
        let name = format!("segment-{}.csv", segment.map_or("all", |s| s.as_str()));
        Ok(crate::http::csv_download(&name, csv))
    })
    .await
}
