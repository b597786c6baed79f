//! A card's vouchers as staff see them, and the goodwill voucher a manager gives by hand.

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{Issue, VoucherDto, issue};
use crate::db::{Db, repo};
use crate::domain::money::Cents;
use crate::domain::role::Role;
use crate::domain::status::{VoucherOrigin, VoucherState};
use crate::domain::text::Reason;
use crate::domain::voucher::{ValidityDays, VoucherValue};
use crate::error::{AppError, AppResult};
use crate::service::Actor;
use crate::service::card_changes::card_changed;
use crate::service::idempotency::{self, Idempotent, Stored};
use crate::service::points::card_blocked;

pub async fn for_card(
    db: &Db,
    actor: &Actor,
    card_id: String,
    state: Option<VoucherState>,
) -> AppResult<Vec<VoucherDto>> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let card = crate::service::cards::find_card(c, &program_id, &card_id)?;
        let now = repo::now();
        VoucherDto::list(&repo::vouchers::for_card(c, &card.id, state, now)?, now)
    })
    .await
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goodwill {
    pub voucher: VoucherValue,
    pub validity_days: ValidityDays,
    #[serde(default)]
    pub min_purchase_cents: Option<Cents>,
    pub reason: Reason,
}

#[derive(Debug, Serialize)]
pub struct Given {
    pub voucher: VoucherDto,
}

/// A voucher a manager gives without points (a complaint, a gesture): `origin: manual`, with its reason.
pub async fn give(db: &Db, actor: &Actor, card_id: String, idem: Idempotent, input: Goodwill) -> AppResult<Stored> {
    actor.require(Role::Manager)?;
    input.voucher.check().map_err(|e| AppError::unprocessable("invalid_voucher", e.to_string()))?;
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
            let program = repo::programs::find(conn, &actor.program_id)?;
            let card = crate::service::cards::find_card(conn, &program.id, &card_id)?;
            if card.status != crate::domain::status::CardStatus::Active {
                return Err(card_blocked(&card));
            }
            let now = repo::now();
            let voucher = issue(
                conn,
                &Issue {
                    program: &program,
                    card: &card,
                    value: &input.voucher,
                    min_purchase_cents: input.min_purchase_cents.map_or(0, Cents::get),
                    validity: input.validity_days,
                    origin: VoucherOrigin::Manual,
                    title: None,
                    reward_id: None,
                    conversion_id: None,
                    ledger_entry_id: None,
                    reason: Some(input.reason.as_str()),
                    staff_id: Some(&actor.staff_id),
                    notify: true,
                },
                now,
            )?;
            card_changed(conn, &card)?;
            let voucher = VoucherDto::new(&voucher, now)?;
            let what = crate::service::audit::What::new("voucher.give", "card", &card.id);
            let facts = serde_json::json!({"voucher": voucher, "reason": input.reason.as_str()});
            crate::service::audit::record(conn, &actor, what, &serde_json::json!({}), &facts)?;
            Ok(Given { voucher })
        })
    })
    .await
}
