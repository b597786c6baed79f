use actix_web::{HttpResponse, web};

use crate::db::Db;
use crate::error::AppResult;
use crate::http::extractors::{OptionalJsonBody, Staff};
use crate::service::insights::kpis::{self, KpiQuery, KpisDto};
use crate::service::insights::rfm_views::{self, MembersPage, MembersQuery, RfmDto, RunInput};

pub async fn rfm(db: web::Data<Db>, Staff(actor): Staff) -> AppResult<web::Json<RfmDto>> {
    rfm_views::get(&db, &actor).await.map(web::Json)
}

/// 202: the run is queued; the answer shows the last run's figures until it is done.
pub async fn run_rfm(
    db: web::Data<Db>,
    Staff(actor): Staff,
    OptionalJsonBody(input): OptionalJsonBody<RunInput>,
) -> AppResult<HttpResponse> {
    let view = rfm_views::request(&db, &actor, input).await?;
    Ok(HttpResponse::Accepted().json(view))
}

pub async fn rfm_members(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<MembersQuery>,
) -> AppResult<web::Json<MembersPage>> {
    rfm_views::members(&db, &actor, query.into_inner()).await.map(web::Json)
}

pub async fn rfm_members_csv(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<MembersQuery>,
) -> AppResult<HttpResponse> {
    let segment = query.into_inner().segment;
    let csv = rfm_views::members_csv(&db, &actor, segment).await?;
    let name = format!("rfm-{}.csv", segment.map_or("all", |s| s.as_str()));
    Ok(crate::http::csv_download(&name, csv))
}

pub async fn kpis(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<KpiQuery>,
) -> AppResult<web::Json<KpisDto>> {
    kpis::get(&db, &actor, query.into_inner()).await.map(web::Json)
}

pub async fn kpis_csv(db: web::Data<Db>, Staff(actor): Staff, query: web::Query<KpiQuery>) -> AppResult<HttpResponse> {
    let query = query.into_inner();
    let name = format!("kpis-{}.csv", query.table.map_or("all", |t| t.as_str()));
    let csv = kpis::csv(&db, &actor, query).await?;
    Ok(crate::http::csv_download(&name, csv))
}
