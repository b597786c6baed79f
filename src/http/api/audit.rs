use actix_web::web;
use serde::Deserialize;

use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::http::extractors::Staff;
use crate::service::audit::{self, AuditPage};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    before: Option<i64>,
}

pub async fn list(
    db: web::Data<Db>,
    Staff(actor): Staff,
    query: web::Query<PageQuery>,
) -> AppResult<web::Json<AuditPage>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(AppError::invalid_field("limit", "from 1 to 200"));
    }
    audit::list(&db, &actor, query.before, limit).await.map(web::Json)
}
