//! Writing and reading the catalogue: managers and owners write, all staff read.

use super::{RewardDto, RewardInput, reward_not_found};
use crate::db::repo::rewards::Reward;
use crate::db::{Db, DbConn, repo};
use crate::domain::money::Cents;
use crate::domain::role::Role;
use crate::domain::text::RewardName;
use crate::error::{AppError, AppResult};
use crate::service::Actor;
use crate::service::audit::{self, What};

fn fill(reward: &mut Reward, input: RewardInput, now: chrono::NaiveDateTime) {
    let (kind, value, item) = input.voucher.parts();
    reward.name = input.name.into_inner();
    reward.name_fr = input.name_fr.map(RewardName::into_inner);
    reward.cost_points = input.cost_points.get();
    kind.clone_into(&mut reward.voucher_kind);
    reward.voucher_value = value;
    reward.voucher_item = item.map(str::to_owned);
    reward.validity_days = input.validity_days.get();
    reward.min_purchase_cents = input.min_purchase_cents.map_or(0, Cents::get);
    reward.stock = input.stock.map(|s| s.0);
    reward.active = input.active;
    reward.updated_at = now;
}

pub async fn create(db: &Db, actor: &Actor, input: RewardInput) -> AppResult<RewardDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let reward = RewardDto::new(&create_in(c, &actor.program_id, input, repo::now())?)?;
        let what = What::new("reward.create", "reward", &reward.id);
        audit::record(c, &actor, what, &serde_json::json!({}), &reward)?;
        Ok(reward)
    })
    .await
}

/// Writes a new reward of the programme, in the caller's transaction.
pub fn create_in(
    c: &mut DbConn,
    program_id: &str,
    input: RewardInput,
    now: chrono::NaiveDateTime,
) -> AppResult<Reward> {
    let mut reward = Reward {
        id: repo::new_id(),
        program_id: program_id.to_owned(),
        name: String::new(),
        name_fr: None,
        cost_points: 0,
        voucher_kind: String::new(),
        voucher_value: None,
        voucher_item: None,
        validity_days: 0,
        min_purchase_cents: 0,
        stock: None,
        active: true,
        archived_at: None,
        created_at: now,
        updated_at: now,
    };
    fill(&mut reward, input, now);
    repo::rewards::insert(c, &reward)?;
    Ok(reward)
}

pub async fn list(db: &Db, actor: &Actor, archived: bool) -> AppResult<Vec<RewardDto>> {
    let program_id = actor.program_id.clone();
    db.read(move |c| repo::rewards::list(c, &program_id, archived)?.iter().map(RewardDto::new).collect()).await
}

pub async fn get(db: &Db, actor: &Actor, id: String) -> AppResult<RewardDto> {
    let program_id = actor.program_id.clone();
    db.read(move |c| RewardDto::new(&repo::rewards::find(c, &program_id, &id)?.ok_or_else(reward_not_found)?)).await
}

/// Replaces the reward. Vouchers already issued keep what they were issued with.
pub async fn update(db: &Db, actor: &Actor, id: String, input: RewardInput) -> AppResult<RewardDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let mut reward = repo::rewards::find(c, &actor.program_id, &id)?.ok_or_else(reward_not_found)?;
        if reward.archived_at.is_some() {
            return Err(archived());
        }
        let before = RewardDto::new(&reward)?;
        fill(&mut reward, input, repo::now());
        let updated = RewardDto::new(&repo::rewards::update(c, &reward)?.ok_or_else(archived)?)?;
        audit::record(c, &actor, What::new("reward.update", "reward", &id), &before, &updated)?;
        Ok(updated)
    })
    .await
}

/// Takes the reward out of the catalogue for good; its vouchers stay valid.
pub async fn archive(db: &Db, actor: &Actor, id: String) -> AppResult<RewardDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let program_id = actor.program_id.as_str();
        let reward = repo::rewards::find(c, program_id, &id)?.ok_or_else(reward_not_found)?;
        if reward.archived_at.is_some() {
            return RewardDto::new(&reward);
        }
        let before = RewardDto::new(&reward)?;
        let archived =
            RewardDto::new(&repo::rewards::archive(c, program_id, &id, repo::now())?.ok_or_else(reward_not_found)?)?;
        audit::record(c, &actor, What::new("reward.archive", "reward", &id), &before, &archived)?;
        Ok(archived)
    })
    .await
}

fn archived() -> AppError {
    AppError::conflict("reward_archived", "this reward is archived; create a new one")
}
