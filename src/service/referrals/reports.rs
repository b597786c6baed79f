//! Referrals as staff read them: a card's, the programme's list, and the statistics.

use serde::Serialize;

use super::ReferralDto;
use crate::db::Db;
use crate::db::repo::cards as card_repo;
use crate::db::repo::referrals as repo_ref;
use crate::domain::status::ReferralStatus::{self, ClawedBack, Expired, Pending, Rejected, Rewarded};
use crate::error::AppResult;
use crate::service::Actor;

#[derive(Debug, Serialize)]
pub struct CardReferrals {
    pub referral_code: Option<String>,
    pub referral_link: Option<String>,
    /// The referrals this card made, newest first.
    pub referrals: Vec<ReferralDto>,
    /// The referral that brought this card in, if any.
    pub referred_by: Option<ReferralDto>,
}

pub async fn for_card(db: &Db, actor: &Actor, card_id: String, public_url: String) -> AppResult<CardReferrals> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let card = card_repo::find(c, &program_id, &card_id)?.ok_or_else(crate::service::cards::card_not_found)?;
        let made = repo_ref::list(c, &program_id, Some(&card.id), None, 200)?;
        let referred_by = repo_ref::for_referee(c, &program_id, &card.id)?;
        Ok(CardReferrals {
            referral_link: card.referral_code.as_ref().map(|code| format!("{public_url}/r/{code}")),
            referral_code: card.referral_code,
            referrals: made.iter().map(ReferralDto::from).collect(),
            referred_by: referred_by.as_ref().map(ReferralDto::from),
        })
    })
    .await
}

pub async fn list(db: &Db, actor: &Actor, status: Option<ReferralStatus>, limit: i64) -> AppResult<Vec<ReferralDto>> {
    let program_id = actor.program_id.clone();
    db.read(move |c| Ok(repo_ref::list(c, &program_id, None, status, limit)?.iter().map(ReferralDto::from).collect()))
        .await
}

#[derive(Debug, Serialize)]
pub struct Stats {
    /// Customers who enrolled with a referral code.
    pub referred: i64,
    pub pending: i64,
    pub rewarded: i64,
    pub rejected: i64,
    pub expired: i64,
    pub clawed_back: i64,
    /// Why referrals were not rewarded, by reason.
    pub reasons: std::collections::BTreeMap<String, i64>,
    /// rewarded / referred, to four decimals (0 when nobody was referred).
    pub conversion_rate: f64,
}

pub async fn stats(db: &Db, actor: &Actor) -> AppResult<Stats> {
    let program_id = actor.program_id.clone();
    let rows = db.read(move |c| Ok(repo_ref::stats(c, &program_id)?)).await?;
    let mut stats = Stats {
        referred: 0,
        pending: 0,
        rewarded: 0,
        rejected: 0,
        expired: 0,
        clawed_back: 0,
        reasons: std::collections::BTreeMap::default(),
        conversion_rate: 0.0,
    };
    for (status, reason, n) in rows {
        stats.referred += n;
        match status {
            Pending => stats.pending += n,
            Rewarded => stats.rewarded += n,
            Rejected => stats.rejected += n,
            Expired => stats.expired += n,
            ClawedBack => stats.clawed_back += n,
        }
        if let Some(reason) = reason {
            *stats.reasons.entry(reason).or_default() += n;
        }
    }
    if stats.referred > 0 {
        // A ratio for display, not money: rounded to four decimals in integers first.
        let per_ten_thousand = stats.rewarded * 10_000 / stats.referred;
        stats.conversion_rate = f64::from(u32::try_from(per_ten_thousand).unwrap_or(0)) / 10_000.0;
    }
    Ok(stats)
}
