//! The console's home page: today's and this month's figures in the programme's time zone, and
//! what needs the merchant's attention.

use chrono::{Datelike, NaiveDateTime};
use serde::Serialize;

use super::Actor;
use crate::context::AppContext;
use crate::db::repo::programs::Program;
use crate::db::{DbConn, repo};
use crate::domain::ledger::EntryKind;
use crate::domain::role::Role;
use crate::error::AppResult;

#[derive(Debug, Serialize)]
pub struct Figures {
    pub new_members: i64,
    pub purchases: i64,
    pub revenue_cents: i64,
    pub points_issued: i64,
    pub points_redeemed: i64,
    pub vouchers_used: i64,
}

/// Something to do, with what the page says about it.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attention {
    FailedJobs {
        count: i64,
    },
    /// The Apple certificate expires within 30 days (or has).
    CertificateExpiring {
        days: i64,
    },
    /// Passes are signed with the development chain: iPhones refuse them.
    DevelopmentCertificate,
    GoogleWalletOff,
    PoolGenerating {
        name: String,
        generated: i64,
        size: i64,
    },
}

#[derive(Debug, Serialize)]
pub struct Home {
    pub currency: String,
    pub today: Figures,
    pub month: Figures,
    pub attention: Vec<Attention>,
}

/// Points given (sales, promos, referrals, manual credits) and spent (redemptions, rewards,
/// conversions into vouchers).
const ISSUED: [EntryKind; 4] = [EntryKind::Earn, EntryKind::Promo, EntryKind::Referral, EntryKind::Adjust];
const REDEEMED: [EntryKind; 3] = [EntryKind::Redeem, EntryKind::Reward, EntryKind::Conversion];

pub async fn home(deps: &AppContext, actor: &Actor) -> AppResult<Home> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    let mut home = deps
        .db
        .read(move |c| {
            let program = repo::programs::find(c, &program_id)?;
            let now = repo::now();
            let today = program.local_day(now);
            let month = today.with_day(1).unwrap_or(today);
            let (day_start, month_start) = (program.day_start(today), program.day_start(month));
            let mut attention = Vec::new();
            let failed = repo::dashboard::failed_jobs(c, &program.id)?;
            if failed > 0 {
                attention.push(Attention::FailedJobs { count: failed });
            }
            for (name, generated, size) in repo::dashboard::pools_generating(c, &program.id)? {
                attention.push(Attention::PoolGenerating { name, generated, size });
            }
            Ok(Home {
                currency: program.currency.clone(),
                today: figures(c, &program, day_start, now)?,
                month: figures(c, &program, month_start, now)?,
                attention,
            })
        })
        .await?;
    if deps.apple.development {
        home.attention.insert(0, Attention::DevelopmentCertificate);
    } else {
        let days = deps.apple.identity.seconds_left() / 86_400;
        if days < 30 {
            home.attention.insert(0, Attention::CertificateExpiring { days });
        }
    }
    if deps.google.is_none() {
        home.attention.push(Attention::GoogleWalletOff);
    }
    Ok(home)
}

fn figures(c: &mut DbConn, program: &Program, from: NaiveDateTime, to: NaiveDateTime) -> AppResult<Figures> {
    let id = program.id.as_str();
    // `to` is now: a moment later than every row written so far.
    let to = to + chrono::Duration::seconds(1);
    let (purchases, revenue_cents) = repo::dashboard::purchases(c, id, None, from, to)?;
    Ok(Figures {
        new_members: repo::dashboard::new_members(c, id, from, to)?,
        purchases,
        revenue_cents,
        points_issued: repo::dashboard::points(c, id, &ISSUED, from, to)?.max(0),
        points_redeemed: -repo::dashboard::points(c, id, &REDEEMED, from, to)?.min(0),
        vouchers_used: repo::dashboard::vouchers_used(c, id, from, to)?,
    })
}
