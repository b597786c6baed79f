//! Sending a campaign: a job that first takes the segment's members as they are (the snapshot,
//! one transaction), then handles them a chunk per transaction. A member's offer, pass change,
//! e-mail and `done` mark commit together, so a crash, a retry or a second node resumes with the
//! members still pending and never reaches anyone twice.

use diesel::result::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::{channels_of, offer_of};
use crate::db::repo::campaigns::{Campaign, Recipient};
use crate::db::repo::programs::Program;
use crate::db::{Db, DbConn, repo};
use crate::domain::campaign::{Offer, held_out};
use crate::domain::money::Cents;
use crate::domain::segment::SegmentRule;
use crate::domain::status::{CampaignState, CardStatus, Channel, RecipientState, VoucherOrigin};
use crate::error::{AppError, AppResult};
use crate::jobs::Job;
use crate::mail::{self, Mail};
use crate::service::card_changes::card_changed;

/// Members handled per transaction.
pub const MEMBERS_PER_CHUNK: i64 = 100;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CampaignSend {
    pub program_id: String,
    pub campaign_id: String,
}

impl Job for CampaignSend {
    const KIND: &'static str = "campaign_send";

    fn program_id(&self) -> Option<&str> {
        Some(&self.program_id)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.campaign_id))
    }
}

/// What one transaction of the send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to do now: not due, cancelled, or already sent.
    Idle,
    More,
    Finished,
}

/// The handler: the snapshot, then chunks until done or the budget is spent (a fresh job goes on).
pub async fn run(db: Db, job: CampaignSend) -> anyhow::Result<()> {
    let finished = crate::jobs::chunks_for_a_while(|| {
        let (db, program_id, id) = (db.clone(), job.program_id.clone(), job.campaign_id.clone());
        async move { Ok(db.write(move |c| step(c, &program_id, &id, MEMBERS_PER_CHUNK)).await? != Step::More) }
    })
    .await?;
    db.write(move |c| {
        if !finished {
            job.enqueue(c)?;
        } else if let Some(k) = repo::campaigns::find(c, &job.program_id, &job.campaign_id)?
            && k.state == CampaignState::Scheduled
            && let Some(at) = k.send_at.filter(|at| *at > repo::now())
        {
            // Moved later after this job was queued (queued jobs coalesce to the earliest time).
            job.enqueue_at(c, at)?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// One transaction: the snapshot when the campaign is due, else up to `limit` pending members.
pub fn step(c: &mut DbConn, program_id: &str, campaign_id: &str, limit: i64) -> AppResult<Step> {
    // The lock: a second sender (another node, a retried job) waits, then sees this one's work.
    let Some(mut campaign) = repo::campaigns::lock(c, campaign_id)?.filter(|k| k.program_id == program_id) else {
        return Ok(Step::Idle);
    };
    let now = repo::now();
    match campaign.state {
        CampaignState::Scheduled if campaign.send_at.is_none_or(|at| at <= now) => {
            snapshot(c, &mut campaign, now)?;
            Ok(Step::More)
        }
        CampaignState::Sending => {
            let program = repo::programs::find(c, program_id)?;
            let pending = repo::campaigns::pending(c, campaign_id, limit)?;
            if pending.is_empty() {
                campaign.state = CampaignState::Sent;
                campaign.finished_at = Some(now);
                repo::campaigns::update(c, &campaign)?;
                tracing::info!(campaign = %campaign.id, "campaign sent");
                return Ok(Step::Finished);
            }
            deliver(c, &program, &campaign, pending, now)?;
            Ok(Step::More)
        }
        _ => Ok(Step::Idle),
    }
}

/// The segment's members now, written as the campaign's recipients (the holdout marked).
fn snapshot(c: &mut DbConn, campaign: &mut Campaign, now: chrono::NaiveDateTime) -> AppResult<()> {
    let program = repo::programs::find(c, &campaign.program_id)?;
    let Some(segment) = repo::segments::find(c, &program.id, &campaign.segment_id)? else {
        // Deleted after the campaign was composed: nobody to send to, and the report says so.
        campaign.state = CampaignState::Cancelled;
        campaign.finished_at = Some(now);
        repo::campaigns::update(c, campaign)?;
        tracing::warn!(campaign = %campaign.id, "campaign cancelled: its segment was deleted");
        return Ok(());
    };
    let rule: SegmentRule = serde_json::from_str(&segment.rule).map_err(|e| AppError::Internal(e.into()))?;
    let members = crate::service::segments::members_of(c, &program, &rule, now)?;
    let rows: Vec<Recipient> = members
        .into_iter()
        .map(|m| {
            let holdout = held_out(&campaign.id, &m.card_id, campaign.holdout_percent);
            Recipient {
                campaign_id: campaign.id.clone(),
                card_id: m.card_id,
                customer_id: m.customer_id,
                holdout,
                state: if holdout { RecipientState::HeldOut } else { RecipientState::Pending },
                skip_reason: None,
                apple: false,
                google: None,
                email: None,
                promo_code: None,
                voucher_id: None,
                done_at: None,
            }
        })
        .collect();
    repo::campaigns::insert_recipients(c, &rows)?;
    campaign.state = CampaignState::Sending;
    campaign.started_at = Some(now);
    campaign.rule = Some(segment.rule);
    repo::campaigns::update(c, campaign)?;
    Ok(())
}

fn deliver(
    c: &mut DbConn,
    program: &Program,
    campaign: &Campaign,
    pending: Vec<Recipient>,
    now: chrono::NaiveDateTime,
) -> AppResult<()> {
    let channels = channels_of(campaign)?;
    let offer = offer_of(campaign)?;
    let apple = repo::campaigns::apple_cards(c, &program.id)?;
    let emailable = if channels.contains(&Channel::Email) {
        repo::rfm::granted(c, &program.id, "marketing_email")?
    } else {
        std::collections::HashSet::default()
    };
    for mut r in pending {
        let card = repo::cards::find(c, &program.id, &r.card_id)?;
        let customer = repo::customers::find(c, &program.id, &r.customer_id).optional()?;
        let reason = match (&card, &customer) {
            (None, _) | (_, None) => Some("card_gone"),
            (Some(card), _) if card.status != CardStatus::Active => Some("card_not_active"),
            (_, Some(customer)) if customer.erased_at.is_some() => Some("customer_erased"),
            _ => None,
        };
        let (Some(card), Some(customer), None) = (card, customer, reason) else {
            r.state = RecipientState::Skipped;
            r.skip_reason = reason.map(str::to_owned);
            r.done_at = Some(now);
            repo::campaigns::update_recipient(c, &r)?;
            continue;
        };
        let by_wallet = channels.contains(&Channel::Wallet) && apple.contains(&card.id);
        let by_email = channels.contains(&Channel::Email).then(|| {
            if !emailable.contains(&customer.id) {
                "no_consent"
            } else if crate::domain::email::sendable(&customer.email) {
                "queued"
            } else {
                "no_address"
            }
        });
        if !by_wallet && by_email != Some("queued") {
            r.state = RecipientState::Skipped;
            r.skip_reason = Some("no_channel".into());
            r.email = by_email.map(str::to_owned);
            r.done_at = Some(now);
            repo::campaigns::update_recipient(c, &r)?;
            continue;
        }
        match &offer {
            Some(Offer::PromoCampaignId(promo)) => {
                r.promo_code = repo::promos::assign_codes(c, promo, &[card.id.as_str()])?.pop();
            }
            Some(Offer::Voucher(v)) => {
                let voucher = crate::service::vouchers::issue(
                    c,
                    &crate::service::vouchers::Issue {
                        program,
                        card: &card,
                        value: &v.value,
                        min_purchase_cents: v.min_purchase_cents.map_or(0, Cents::get),
                        validity: v.validity_days,
                        origin: VoucherOrigin::Campaign,
                        title: Some(&campaign.name),
                        reward_id: None,
                        conversion_id: None,
                        ledger_entry_id: None,
                        reason: Some(&campaign.name),
                        staff_id: None,
                        // The campaign's own message announces it.
                        notify: false,
                    },
                    now,
                )?;
                r.voucher_id = Some(voucher.id);
            }
            None => {}
        }
        r.apple = by_wallet;
        r.email = by_email.map(str::to_owned);
        r.state = RecipientState::Done;
        r.done_at = Some(now);
        repo::campaigns::update_recipient(c, &r)?;
        if channels.contains(&Channel::Wallet) {
            // The pass shows the message (and a voucher); Apple devices get their push.
            card_changed(c, &card)?;
        }
        if by_email == Some("queued") {
            mail::queue(
                c,
                &Mail::Campaign {
                    program_id: program.id.clone(),
                    campaign_id: campaign.id.clone(),
                    customer_id: customer.id.clone(),
                    message: super::message_of(campaign),
                    code: r.promo_code.clone(),
                },
            )?;
        }
    }
    Ok(())
}
