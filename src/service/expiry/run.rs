//! The daily run of each programme with expiry on, in its time zone: one `expire` ledger entry
//! per card per expiry day for the points whose last day has passed, and one reminder per card
//! per expiry day `expiry_reminder_days` before it.
//!
//! Crash-safe by construction: a chunk expires lots and records its cursor in one transaction,
//! and an expired lot is gone, so a chunk run again finds nothing left to expire; a reminder is
//! a row with a key (card, day) written with its e-mail.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::rules;
use super::schedule::{Cards, Expiring};
use crate::context::AppContext;
use crate::db::repo::cards::Card;
use crate::db::{Db, DbConn, repo};
use crate::domain::expiry::ExpiryRule;
use crate::domain::ledger::EntryKind;
use crate::domain::status::CardStatus;
use crate::error::AppResult;
use crate::jobs::{Job, programs_for_a_while};
use crate::mail::Mail;
use crate::service::points::{Guard, Posting, post_many};

/// Cards per transaction.
const CHUNK: i64 = 500;
/// How often the check runs: each programme's run happens once per local day, whichever run it is.
pub const EVERY_MINUTES: i64 = 60;

/// The recurring check of every programme with expiry on; one queued for the whole cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpiryCheck {}

impl Job for ExpiryCheck {
    const KIND: &'static str = "points_expiry";

    fn program_id(&self) -> Option<&str> {
        None
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::KIND.to_owned())
    }
}

/// What one chunk did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub cards: usize,
    pub expired_points: i64,
    pub reminders: usize,
    /// The day's run is over for the programme.
    pub finished: bool,
}

/// The next chunk of the programme's run for the local day of `now`.
pub fn run_chunk(conn: &mut DbConn, program_id: &str, now: NaiveDateTime, reminder_days: i64) -> AppResult<Chunk> {
    let done = Chunk { finished: true, ..Chunk::default() };
    let setting = rules::of_program(conn, program_id)?;
    let Some(state) = repo::expiry::rule(conn, program_id)?.filter(|_| setting.rule.is_on()) else { return Ok(done) };
    let program = repo::programs::find(conn, program_id)?;
    let today = program.local_day(now);
    let cursor = match (state.run_day, state.run_cursor) {
        (Some(day), None) if day == today => return Ok(done),
        (Some(day), Some(cursor)) if day == today => cursor,
        _ => String::new(),
    };
    let horizon = today + chrono::Duration::days(reminder_days.max(0));
    let mut ids = match setting.rule {
        ExpiryRule::Off => Vec::new(),
        // The cards with a lot whose validity ends by the horizon: lots earned up to the last
        // start that ends by then (none when validity starts after it).
        ExpiryRule::AfterEarning { .. } => match setting.rule.last_start_ended_by(horizon) {
            Some(last) if setting.since.is_none_or(|since| since <= last) => {
                let before = program.day_start(last + chrono::Duration::days(1));
                repo::lots::cards_with_lots_before(conn, program_id, before, &cursor, CHUNK)?
            }
            _ => Vec::new(),
        },
        ExpiryRule::Inactivity { .. } => repo::cards::with_points_after(conn, program_id, &cursor, CHUNK)?,
    };
    let candidates = ids.len();
    ids.dedup();
    // Locked: what expires is computed on the lots the postings take.
    let cards = repo::cards::lock_many(conn, program_id, &ids)?;
    let refs: Vec<&Card> = cards.iter().collect();
    let view = Cards::read(conn, &program, setting, &refs)?;
    let mut expiring: BTreeMap<NaiveDate, Vec<(&Card, i64)>> = BTreeMap::new();
    let mut reminders: Vec<(&Card, Expiring)> = Vec::new();
    for card in &cards {
        for e in view.of(card) {
            if e.expires_on < today {
                expiring.entry(e.expires_on).or_default().push((card, e.points));
            } else if e.expires_on <= horizon && reminder_days > 0 && card.status != CardStatus::Closed {
                reminders.push((card, e));
            }
        }
    }
    let mut chunk = Chunk { cards: cards.len(), ..Chunk::default() };
    // Oldest day first, one entry per card per day.
    for list in expiring.values() {
        let postings: Vec<Posting<'_>> = list
            .iter()
            .map(|(card, points)| Posting {
                program_id,
                card_id: &card.id,
                delta: -points,
                kind: EntryKind::Expire,
                purchase_id: None,
                staff_id: None,
                reason: None,
                earned_at: None,
            })
            .collect();
        let moved = post_many(conn, &postings, Guard { only_active: false, no_overdraft: true })?;
        chunk.expired_points +=
            postings.iter().zip(&moved).filter(|(_, m)| m.is_some()).map(|(p, _)| -p.delta).sum::<i64>();
    }
    let now = repo::now();
    let rows: Vec<repo::expiry::Reminder<'_>> = reminders
        .iter()
        .map(|(card, e)| repo::expiry::Reminder {
            card_id: &card.id,
            ends_on: e.expires_on,
            program_id,
            points: e.points,
            created_at: now,
        })
        .collect();
    let new: std::collections::HashSet<(String, NaiveDate)> =
        repo::expiry::remember(conn, &rows)?.into_iter().collect();
    let mails: Vec<Mail> = reminders
        .iter()
        .filter(|(card, e)| new.contains(&(card.id.clone(), e.expires_on)))
        .map(|(card, e)| Mail::PointsExpiring {
            program_id: program_id.to_owned(),
            customer_id: card.customer_id.clone(),
            points: e.points,
            expires_on: e.expires_on,
        })
        .collect();
    chunk.reminders = mails.len();
    Mail::enqueue_many(&mails, conn)?;
    chunk.finished = i64::try_from(candidates).unwrap_or(i64::MAX) < CHUNK;
    let next = if chunk.finished { None } else { ids.last().map(String::as_str) };
    repo::expiry::set_run(conn, program_id, today, next)?;
    Ok(chunk)
}

/// The programme's whole run for the local day of `now`, chunk after chunk: what it did.
pub async fn run_day(db: &Db, program_id: &str, now: NaiveDateTime, reminder_days: i64) -> AppResult<Chunk> {
    let mut total = Chunk::default();
    loop {
        let program_id = program_id.to_owned();
        let chunk = db.write(move |c| run_chunk(c, &program_id, now, reminder_days)).await?;
        total.cards += chunk.cards;
        total.expired_points += chunk.expired_points;
        total.reminders += chunk.reminders;
        if chunk.finished {
            total.finished = true;
            return Ok(total);
        }
    }
}

/// The handler: every programme with a rule, chunk after chunk, then the next run (sooner than
/// an hour when the budget ran out).
pub async fn run(ctx: AppContext, _job: ExpiryCheck) -> anyhow::Result<()> {
    let db = ctx.db.clone();
    let programs = db.read(|c| Ok(repo::expiry::programs_with_rules(c)?)).await?;
    let days = ctx.expiry_reminder_days;
    let finished = programs_for_a_while(&programs, |program_id| {
        let db = db.clone();
        async move {
            let chunk = db.write(move |c| run_chunk(c, &program_id, repo::now(), days)).await?;
            if chunk.expired_points > 0 || chunk.reminders > 0 {
                tracing::info!(expired = chunk.expired_points, reminders = chunk.reminders, "points expiry");
            }
            Ok(chunk.finished)
        }
    })
    .await?;
    Ok(schedule(&db, chrono::Duration::minutes(if finished { EVERY_MINUTES } else { 0 })).await?)
}

/// Queues the next check `after` from now (a no-op when one is already queued).
pub async fn schedule(db: &Db, after: chrono::Duration) -> AppResult<()> {
    db.write(move |c| Ok(ExpiryCheck {}.enqueue_at(c, repo::now() + after)?)).await
}
