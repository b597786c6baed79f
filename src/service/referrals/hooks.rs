//! What purchases and returns do to a referral, in their transactions: the referee's qualifying
//! purchase rewards both sides once; a return below the minimum claws both rewards back.

use super::{ReferralDto, month_of, reason};
use crate::db::DbConn;
use crate::db::repo;
use crate::db::repo::cards::{self as card_repo, Card};
use crate::db::repo::programs::Program;
use crate::db::repo::purchases::Purchase;
use crate::db::repo::referrals as repo_ref;
use crate::domain::ledger::EntryKind;
use crate::domain::status::CardStatus;
use crate::domain::status::ReferralStatus::{ClawedBack, Expired, Pending, Rejected, Rewarded};
use crate::error::AppResult;
use crate::mail::{self, Beneficiary, Mail};
use crate::service::points::{Guard, Posting, post, refusal};

/// Called in the purchase's transaction: rewards the referral this purchase qualifies, once.
pub fn on_purchase(
    conn: &mut DbConn,
    program: &Program,
    card: &Card,
    purchase: &Purchase,
) -> AppResult<Option<ReferralDto>> {
    let Some(referral) = repo_ref::pending_for_referee(conn, &program.id, &card.id)? else {
        return Ok(None);
    };
    let Some(settings) = repo_ref::settings(conn, &program.id)?.filter(|s| s.enabled) else {
        return Ok(None);
    };
    if repo::now() > referral.expires_at {
        repo_ref::transition(conn, &referral.id, Pending, Expired, Some(reason::WINDOW_PASSED), None)?;
        return reload(conn, &program.id, &referral.id);
    }
    if purchase.amount_cents - purchase.discount_cents < settings.min_purchase_cents {
        return Ok(None);
    }
    // The conditional transition is what makes two purchases qualifying at once reward once.
    if !repo_ref::transition(conn, &referral.id, Pending, Rewarded, None, Some(&purchase.id))? {
        return Ok(None);
    }
    let referrer = card_repo::find(conn, &program.id, &referral.referrer_card_id)?;
    let refuse = |conn: &mut DbConn, why: &str| -> AppResult<Option<ReferralDto>> {
        repo_ref::transition(conn, &referral.id, Rewarded, Rejected, Some(why), None)?;
        reload(conn, &program.id, &referral.id)
    };
    let Some(referrer) = referrer.filter(|r| r.status == CardStatus::Active) else {
        return refuse(conn, reason::REFERRER_BLOCKED);
    };
    let month = month_of(program, repo::now());
    if !repo_ref::count_reward(conn, &program.id, &referrer.id, "total", settings.max_total)? {
        return refuse(conn, reason::LIMIT_REACHED);
    }
    if !repo_ref::count_reward(conn, &program.id, &referrer.id, &month, settings.max_per_month)? {
        repo_ref::uncount_reward(conn, &referrer.id, "total")?;
        return refuse(conn, reason::LIMIT_REACHED);
    }
    // Read again under its row lock, taken after the counters (the order on_return takes them
    // in): a referrer closed or blocked since the read above gets no reward.
    if card_repo::lock(conn, &program.id, &referrer.id)?.is_none_or(|r| r.status != CardStatus::Active) {
        repo_ref::uncount_reward(conn, &referrer.id, "total")?;
        repo_ref::uncount_reward(conn, &referrer.id, &month)?;
        return refuse(conn, reason::REFERRER_BLOCKED);
    }
    for (side, card_id, points) in [
        (Beneficiary::Referrer, &referrer.id, settings.referrer_points),
        (Beneficiary::Referee, &card.id, settings.referee_points),
    ] {
        let beneficiary = side.as_str();
        if points == 0 || !repo_ref::insert_reward(conn, &referral.id, beneficiary, &program.id, card_id, points)? {
            continue;
        }
        let posting = Posting {
            program_id: &program.id,
            card_id,
            delta: points,
            kind: EntryKind::Referral,
            purchase_id: Some(&purchase.id),
            staff_id: None,
            reason: Some(beneficiary),
            earned_at: None,
        };
        // Both cards are active and locked by now: a refusal here is a bug, never a silent reward.
        let guard = Guard { only_active: true, no_overdraft: false };
        if post(conn, &posting, guard)?.is_none() {
            return Err(refusal(conn, &posting, guard)?);
        }
        let mail = Mail::ReferralRewarded {
            program_id: program.id.clone(),
            referral_id: referral.id.clone(),
            card_id: card_id.clone(),
            beneficiary: side,
            points,
        };
        // One per reward row, which is inserted once: a replayed purchase queues nothing more.
        mail::queue(conn, &mail)?;
    }
    reload(conn, &program.id, &referral.id)
}

/// Called in a return's transaction: claws the rewards back, once, when what is kept of the
/// qualifying purchase falls below the minimum.
pub fn on_return(conn: &mut DbConn, program: &Program, purchase: &Purchase) -> AppResult<()> {
    let Some(referral) = repo_ref::for_purchase(conn, &program.id, &purchase.id)? else {
        return Ok(());
    };
    let Some(settings) = repo_ref::settings(conn, &program.id)? else {
        return Ok(());
    };
    let kept = purchase.amount_cents - purchase.discount_cents - purchase.returned_cents;
    if referral.status != Rewarded || !settings.clawback || kept >= settings.min_purchase_cents {
        return Ok(());
    }
    let month = month_of(program, referral.decided_at.unwrap_or(referral.created_at));
    if !repo_ref::transition(conn, &referral.id, Rewarded, ClawedBack, Some(reason::PURCHASE_RETURNED), None)? {
        return Ok(());
    }
    // Counters before cards, the order on_purchase takes them in: no deadlock between the two.
    repo_ref::uncount_reward(conn, &referral.referrer_card_id, "total")?;
    repo_ref::uncount_reward(conn, &referral.referrer_card_id, &month)?;
    for (beneficiary, card_id, points) in repo_ref::claw_back_rewards(conn, &referral.id)? {
        let posting = Posting {
            program_id: &program.id,
            card_id: &card_id,
            delta: -points,
            kind: EntryKind::ReferralClawback,
            purchase_id: Some(&purchase.id),
            staff_id: None,
            reason: Some(&beneficiary),
            earned_at: None,
        };
        post(conn, &posting, Guard { only_active: false, no_overdraft: false })?;
    }
    Ok(())
}

fn reload(conn: &mut DbConn, program_id: &str, id: &str) -> AppResult<Option<ReferralDto>> {
    Ok(repo_ref::find(conn, program_id, id)?.as_ref().map(ReferralDto::from))
}
