//! For the engineer on call and the load balancer: `/health` (is the database reachable) and
//! `/metrics` (Prometheus text: outbox depth).

use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;
use serde_json::json;

use crate::db::{Db, repo};
use crate::domain::status::JobState;
use crate::error::AppResult;
use crate::wallet::AppleWallet;

async fn job_counts(db: &Db) -> AppResult<Vec<(JobState, i64)>> {
    db.read(|c| Ok(repo::outbox::counts(c)?)).await
}

pub async fn health(db: web::Data<Db>) -> HttpResponse {
    let backend = db.backend().name();
    let ping = db.read(|c| Ok(diesel::sql_query("SELECT 1").execute(c)?)).await;
    match ping {
        Ok(_) => {
            let jobs: serde_json::Map<String, serde_json::Value> = job_counts(&db)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|(state, _)| *state != JobState::Done)
                .map(|(state, n)| (state.to_string(), json!(n)))
                .collect();
            HttpResponse::Ok().json(json!({"status": "ok", "database": backend, "jobs": jobs}))
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "database": backend}))
        }
    }
}

pub async fn metrics(db: web::Data<Db>, wallet: web::Data<AppleWallet>) -> AppResult<HttpResponse> {
    let counts = job_counts(&db).await?;
    let mut out = String::from("# HELP encarte_outbox_jobs Outbox jobs by state.\n# TYPE encarte_outbox_jobs gauge\n");
    for state in [JobState::Pending, JobState::Running, JobState::Failed, JobState::Done] {
        let n = counts.iter().find(|(s, _)| *s == state).map_or(0, |(_, n)| *n);
        out.push_str(&format!("encarte_outbox_jobs{{state=\"{state}\"}} {n}\n"));
    }
    out.push_str(
        "# HELP encarte_apns_pushes_total Pass update pushes by outcome, since this node started.\n\
         # TYPE encarte_apns_pushes_total counter\n",
    );
    for (outcome, n) in &crate::wallet::apple::apns::OUTCOMES {
        let n = n.load(std::sync::atomic::Ordering::Relaxed);
        out.push_str(&format!("encarte_apns_pushes_total{{outcome=\"{outcome}\"}} {n}\n"));
    }
    out.push_str(
        "# HELP encarte_google_calls_total Google Wallet REST calls by outcome, since this node started.\n\
         # TYPE encarte_google_calls_total counter\n",
    );
    for (outcome, n) in &crate::wallet::google::rest::OUTCOMES {
        let n = n.load(std::sync::atomic::Ordering::Relaxed);
        out.push_str(&format!("encarte_google_calls_total{{outcome=\"{outcome}\"}} {n}\n"));
    }
    out.push_str(&format!(
        "# HELP encarte_apple_certificate_expiry_seconds Seconds until the Pass Type ID certificate expires.\n\
         # TYPE encarte_apple_certificate_expiry_seconds gauge\n\
         encarte_apple_certificate_expiry_seconds {}\n",
        wallet.identity.seconds_left()
    ));
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(out))
}
