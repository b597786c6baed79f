//! Insights: the KPIs per week or month with the ROI panel, as server-drawn charts with their
//! numbers in tables, each table downloadable as CSV. The range is a GET form, so a view can be
//! bookmarked and shared.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use chrono::NaiveDate;
use serde_json::json;

use super::charts;
use super::{Console, console, input, query, refusal};
use crate::domain::period::Granularity;
use crate::error::AppResult;
use crate::http::pages::Page;
use crate::service::insights::kpi_figures::Figures;
use crate::service::insights::kpis::{self, DEFINITIONS, KpiQuery};

fn kpi_query(page: &Page) -> AppResult<KpiQuery> {
    let field = |name| query(page, name).filter(|v| !v.trim().is_empty());
    input(json!({
        "from": field("from"), "to": field("to"), "granularity": field("granularity"),
        "location": field("location"), "table": field("table"),
    }))
}

fn label(start: NaiveDate, g: Granularity) -> String {
    match g {
        Granularity::Month => start.format("%Y-%m").to_string(),
        Granularity::Week => start.format("%d/%m").to_string(),
    }
}

pub async fn page(page: Page) -> HttpResponse {
    console(page, |c: Console| async move {
        // A range that can't be read or computed shows the default range, with the refusal.
        let asked = kpi_query(&c.page);
        let (kpis, error) = match async { kpis::get(c.db(), &c.actor, asked?).await }.await {
            Ok(kpis) => (kpis, None),
            Err(e) => (kpis::get(c.db(), &c.actor, KpiQuery::default()).await?, Some(refusal(e)?)),
        };
        let shops = crate::service::locations::list(c.db(), &c.actor, false).await?;
        let labels: Vec<String> = kpis.periods.iter().map(|p| label(p.start, kpis.granularity)).collect();
        let of = |f: fn(&Figures) -> i64| kpis.periods.iter().map(f).collect::<Vec<i64>>();
        let rate = |f: fn(&Figures) -> Option<f64>| kpis.periods.iter().map(f).collect::<Vec<_>>();
        let charts = json!({
            "members": charts::bars(&labels, &[("new", of(|p| p.new_members)), ("active", of(|p| p.active_members))]),
            "rates": charts::rates(&labels, &[
                ("retention", rate(|p| p.retention_rate)),
                ("repurchase", rate(|p| p.repurchase_rate)),
                ("enrolment", rate(|p| p.enrolment_rate)),
            ]),
            "points": charts::bars(&labels, &[
                ("issued", of(|p| p.points_issued)),
                ("redeemed", of(|p| p.points_redeemed)),
                ("expired", of(|p| p.points_expired)),
            ]),
        });
        let definitions: Vec<&str> = DEFINITIONS.iter().map(|(key, _)| *key).collect();
        let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
        let context = json!({
            "kpis": kpis, "labels": labels, "charts": charts, "shops": shops, "error": error,
            "definitions": definitions,
        });
        c.render(status, "pages/admin/insights.html", "insights", context)
    })
    .await
}

pub async fn csv(page: Page) -> HttpResponse {
    console(page, |c: Console| async move {
        let q = kpi_query(&c.page)?;
        let name = format!("kpis-{}.csv", q.table.map_or("all", |t| t.as_str()));
        let csv = kpis::csv(c.db(), &c.actor, q).await?;
        Ok(crate::http::csv_download(&name, csv))
    })
    .await
}
