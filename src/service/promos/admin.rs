//! The campaigns as managers read and steer them: list, get, pause, resume, end, and a pool's
//! codes as CSV.

use super::CampaignDto;
use super::dto::dto;
use super::pattern_of;
use crate::db::repo::promos::{self as repo_promo, Campaign};
use crate::db::{Db, DbConn};
use crate::domain::codes::PromoCode;
use crate::domain::role::Role;
use crate::domain::status::CampaignStatus;
use crate::error::{AppError, AppResult};
use crate::service::Actor;

pub async fn get(db: &Db, actor: &Actor, id: String) -> AppResult<CampaignDto> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let campaign = repo_promo::find_campaign(c, &program_id, &id)?.ok_or_else(campaign_not_found)?;
        let code = shared_code(c, &campaign)?;
        let uses = repo_promo::applied_redemptions(c, &campaign.id)?;
        dto(&campaign, code, uses)
    })
    .await
}

fn shared_code(conn: &mut DbConn, c: &Campaign) -> AppResult<Option<String>> {
    if c.kind != "shared" {
        return Ok(None);
    }
    Ok(repo_promo::codes_page(conn, &c.program_id, &c.id, 0, 1)?.into_iter().next().map(|code| code.code))
}

pub async fn list(db: &Db, actor: &Actor) -> AppResult<Vec<CampaignDto>> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let campaigns = repo_promo::list_campaigns(c, &program_id)?;
        campaigns
            .iter()
            .map(|campaign| dto(campaign, shared_code(c, campaign)?, repo_promo::applied_redemptions(c, &campaign.id)?))
            .collect()
    })
    .await
}

pub async fn set_status(db: &Db, actor: &Actor, id: String, status: CampaignStatus) -> AppResult<CampaignDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let program_id = actor.program_id.as_str();
        let campaign = repo_promo::find_campaign(c, program_id, &id)?.ok_or_else(campaign_not_found)?;
        let updated = repo_promo::set_status(c, program_id, &campaign.id, status)?
            .ok_or_else(|| AppError::unprocessable("campaign_ended", "this campaign has ended"))?;
        let what = crate::service::audit::What::new("promo.status", "promo_campaign", &campaign.id);
        let (old, new) =
            (serde_json::json!({"status": campaign.status}), serde_json::json!({"status": updated.status}));
        crate::service::audit::record(c, &actor, what, &old, &new)?;
        let uses = repo_promo::applied_redemptions(c, &updated.id)?;
        dto(&updated, shared_code(c, &updated)?, uses)
    })
    .await
}

/// The pool as CSV: `code,display,used`.
pub async fn codes_csv(db: &Db, actor: &Actor, id: String) -> AppResult<String> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let campaign = repo_promo::find_campaign(c, &program_id, &id)?.ok_or_else(campaign_not_found)?;
        let pattern = if campaign.kind == "pool" { Some(pattern_of(&campaign)?) } else { None };
        let mut out = String::from("code,display,used\n");
        let mut after = 0;
        loop {
            let page = repo_promo::codes_page(c, &program_id, &campaign.id, after, 10_000)?;
            let Some(last) = page.last() else { break };
            after = last.id;
            for code in &page {
                let display = match (&pattern, PromoCode::parse(&code.code)) {
                    (Some(p), Ok(parsed)) => p.display(&parsed),
                    _ => code.code.clone(),
                };
                out.push_str(&format!("{},{},{}\n", code.code, display, code.uses));
            }
        }
        Ok(out)
    })
    .await
}

fn campaign_not_found() -> AppError {
    AppError::not_found("campaign_not_found", "no such promo campaign in this program")
}
