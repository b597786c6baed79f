//! What a campaign will reach (the dry run), what its send did (the report), and what its
//! members bought after it compared with the holdout (the results).

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use super::{CampaignDto, channels_of, not_found, offer_of};
use crate::db::repo::campaigns::{Campaign, Recipient};
use crate::db::{Db, DbConn, repo};
use crate::domain::campaign::{Offer, held_out};
use crate::domain::role::Role;
use crate::domain::segment::SegmentRule;
use crate::domain::status::{Channel, RecipientState};
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::service::Actor;
use crate::service::google_wallet::NOTIFICATIONS_PER_DAY;

/// The results compare the 30 days after the send.
pub const RESULTS_DAYS: i64 = 30;

#[derive(Debug, Serialize)]
pub struct Reach {
    /// Members of the segment now.
    pub members: usize,
    pub holdout: usize,
    /// Members the send would try: the segment less the holdout.
    pub targeted: usize,
    pub wallet: WalletReach,
    pub email: EmailReach,
    /// Targeted members no chosen channel reaches (no pass, no e-mail consent).
    pub unreachable: usize,
    /// For a private sale: codes of the pool still free to give.
    pub codes_available: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
pub struct WalletReach {
    /// Cards with an Apple pass on at least one device (each device gets one push).
    pub apple_passes: usize,
    /// Cards with a Google pass, and how many of them still have a notification in their 24-hour budget.
    pub google_passes: usize,
    pub google_notify: usize,
    pub google_silent: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct EmailReach {
    pub consented: usize,
    pub not_consented: usize,
}

/// `POST /campaigns/{id}/preview`: the reach per channel if the campaign were sent now.
pub async fn preview(db: &Db, actor: &Actor, id: String) -> AppResult<Reach> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let campaign = repo::campaigns::find(c, &program_id, &id)?.ok_or_else(not_found)?;
        reach(c, &campaign)
    })
    .await
}

fn reach(c: &mut DbConn, campaign: &Campaign) -> AppResult<Reach> {
    let program = repo::programs::find(c, &campaign.program_id)?;
    let segment = repo::segments::find(c, &program.id, &campaign.segment_id)?
        .ok_or_else(|| AppError::unprocessable("segment_not_found", "the campaign's segment was deleted"))?;
    let rule: SegmentRule = serde_json::from_str(&segment.rule).map_err(|e| AppError::Internal(e.into()))?;
    let now = repo::now();
    let members = crate::service::segments::members_of(c, &program, &rule, now)?;
    let channels = channels_of(campaign)?;
    let apple = repo::campaigns::apple_cards(c, &program.id)?;
    let google = repo::campaigns::google_cards(c, &program.id, now - Duration::hours(24))?;
    let consented = repo::rfm::granted(c, &program.id, "marketing_email")?;
    let mut r = Reach {
        members: members.len(),
        holdout: 0,
        targeted: 0,
        wallet: WalletReach::default(),
        email: EmailReach::default(),
        unreachable: 0,
        codes_available: match offer_of(campaign)? {
            Some(Offer::PromoCampaignId(promo)) => Some(repo::promos::unassigned_codes(c, &promo)?),
            _ => None,
        },
    };
    for m in &members {
        if held_out(&campaign.id, &m.card_id, campaign.holdout_percent) {
            r.holdout += 1;
            continue;
        }
        r.targeted += 1;
        let mut reached = false;
        if channels.contains(&Channel::Wallet) {
            if apple.contains(&m.card_id) {
                r.wallet.apple_passes += 1;
                reached = true;
            }
            if let Some(used) = google.get(&m.card_id) {
                r.wallet.google_passes += 1;
                if *used < NOTIFICATIONS_PER_DAY {
                    r.wallet.google_notify += 1;
                } else {
                    r.wallet.google_silent += 1;
                }
                reached = true;
            }
        }
        if channels.contains(&Channel::Email) {
            if consented.contains(&m.customer_id) && crate::domain::email::sendable(&m.email) {
                r.email.consented += 1;
                reached = true;
            } else {
                r.email.not_consented += 1;
            }
        }
        if !reached {
            r.unreachable += 1;
        }
    }
    Ok(r)
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// The snapshot: every member of the segment when the send started.
    pub members: usize,
    pub holdout: usize,
    pub pending: usize,
    /// Members reached by at least one channel.
    pub delivered: usize,
    pub apple_passes: usize,
    pub emails: usize,
    pub offers_given: usize,
    /// Reached members who got no offer because the pool ran out.
    pub offers_missing: usize,
    /// Skipped members, by reason (`no_channel`, `card_not_active`, `customer_erased`, `card_gone`).
    pub skipped: BTreeMap<String, usize>,
    /// Members the e-mail channel left out, by reason (`no_consent`, `no_address`).
    pub email_skipped: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub from: String,
    pub to: String,
    /// False until the 30 days are over: the figures so far.
    pub complete: bool,
    pub reached: Group,
    pub holdout: Group,
    /// Revenue per reached member less revenue per held-out member, in cents (None without a holdout).
    pub revenue_per_member_difference_cents: Option<i64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Group {
    pub members: i64,
    pub buyers: i64,
    pub purchases: i64,
    pub revenue_cents: i64,
    pub revenue_per_member_cents: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct CampaignDetail {
    pub campaign: CampaignDto,
    pub report: Option<Report>,
    pub results: Option<Results>,
}

/// `GET /campaigns/{id}`: the campaign, its report once sending started, its results after.
pub async fn get(db: &Db, actor: &Actor, id: String) -> AppResult<CampaignDetail> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let campaign = repo::campaigns::find(c, &program_id, &id)?.ok_or_else(not_found)?;
        detail(c, &campaign)
    })
    .await
}

pub fn detail(c: &mut DbConn, campaign: &Campaign) -> AppResult<CampaignDetail> {
    let Some(started) = campaign.started_at else {
        return Ok(CampaignDetail { campaign: CampaignDto::new(campaign)?, report: None, results: None });
    };
    let recipients = repo::campaigns::recipients(c, &campaign.id)?;
    let wants_offer = campaign.offer.is_some();
    let mut report = Report { members: recipients.len(), ..Report::default() };
    for r in &recipients {
        match r.state {
            RecipientState::HeldOut => report.holdout += 1,
            RecipientState::Pending => report.pending += 1,
            RecipientState::Skipped => {
                *report.skipped.entry(r.skip_reason.clone().unwrap_or_default()).or_default() += 1;
            }
            RecipientState::Done => {
                report.delivered += 1;
                report.apple_passes += usize::from(r.apple);
                if r.promo_code.is_some() || r.voucher_id.is_some() {
                    report.offers_given += 1;
                } else if wants_offer {
                    report.offers_missing += 1;
                }
            }
        }
        match r.email.as_deref() {
            Some("queued") => report.emails += 1,
            Some(other) => *report.email_skipped.entry(other.to_owned()).or_default() += 1,
            None => {}
        }
    }
    let to = started + Duration::days(RESULTS_DAYS);
    let bought = repo::campaigns::bought_by_recipients(c, &campaign.id, started, to)?;
    let group = |pick: &dyn Fn(&Recipient) -> bool| {
        let mut g = Group::default();
        for r in recipients.iter().filter(|r| pick(r)) {
            g.members += 1;
            if let Some((n, spend)) = bought.get(&r.card_id) {
                g.buyers += 1;
                g.purchases += n;
                g.revenue_cents += spend;
            }
        }
        g.revenue_per_member_cents = (g.members > 0).then(|| g.revenue_cents / g.members);
        g
    };
    let reached = group(&|r| r.state == RecipientState::Done);
    let holdout = group(&|r| r.holdout);
    let difference = match (reached.revenue_per_member_cents, holdout.revenue_per_member_cents) {
        (Some(a), Some(b)) => Some(a - b),
        _ => None,
    };
    let results = Results {
        from: time(started),
        to: time(to),
        complete: repo::now() >= to,
        reached,
        holdout,
        revenue_per_member_difference_cents: difference,
    };
    Ok(CampaignDetail { campaign: CampaignDto::new(campaign)?, report: Some(report), results: Some(results) })
}
