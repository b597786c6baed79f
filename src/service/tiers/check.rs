//! The two batches over a programme's cards: the daily check, which moves down the cards whose
//! `keep_months` have passed and that no longer qualify (once per card per local day), and the
//! re-evaluation after the rules changed, which moves every card where the new rules put it
//! (up at once, down only after `keep_months`).

use chrono::{Months, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::rules;
use super::standing::{Reason, reevaluate};
use crate::db::repo::tiers::Reevaluation;
use crate::db::{Db, DbConn, repo};
use crate::domain::status::{CardStatus, ReevaluationState};
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::jobs::{Job, chunks_for_a_while, programs_for_a_while};
use crate::service::Actor;

/// Cards per transaction.
const CHUNK: i64 = 200;
/// How often the check runs: each card is looked at once per local day, whichever run it is.
pub const EVERY_MINUTES: i64 = 60;

/// The recurring check of every programme with tiers; one queued for the whole cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TierCheck {}

impl Job for TierCheck {
    const KIND: &'static str = "tier_check";

    fn program_id(&self) -> Option<&str> {
        None
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::KIND.to_owned())
    }
}

/// Checks the next chunk of the programme's cards due today; how many it looked at.
pub fn check_chunk(conn: &mut DbConn, program_id: &str, now: NaiveDateTime) -> AppResult<usize> {
    let program = repo::programs::find(conn, program_id)?;
    let tiers = rules::of_program(conn, program_id)?;
    let today = program.day_start(program.local_day(now));
    let mut due = Vec::new();
    for tier in tiers.list().iter().skip(1) {
        let left = CHUNK - i64::try_from(due.len()).unwrap_or(CHUNK);
        if left <= 0 {
            break;
        }
        let kept_since = now.checked_sub_months(Months::new(tier.keep_months)).unwrap_or(NaiveDateTime::MIN);
        due.extend(repo::tiers::due_for_check(conn, program_id, &tier.key, kept_since, today, left)?);
    }
    for card_id in &due {
        if let Some(card) = repo::cards::find(conn, program_id, card_id)?
            && card.status == CardStatus::Active
        {
            reevaluate(conn, &program, &card, Reason::Daily, now)?;
        }
    }
    repo::tiers::mark_checked(conn, &due, now)?;
    Ok(due.len())
}

/// The handler: every programme with tiers, chunk after chunk, then the next run (sooner than
/// an hour when the budget ran out).
pub async fn run_check(db: Db, _job: TierCheck) -> anyhow::Result<()> {
    let programs = db.read(|c| Ok(repo::tiers::programs_with_rules(c)?)).await?;
    let finished = programs_for_a_while(&programs, |program_id| {
        let db = db.clone();
        async move {
            let n = db.write(move |c| check_chunk(c, &program_id, repo::now())).await?;
            Ok(n < usize::try_from(CHUNK).unwrap_or(usize::MAX))
        }
    })
    .await?;
    Ok(schedule(&db, chrono::Duration::minutes(if finished { EVERY_MINUTES } else { 0 })).await?)
}

/// Queues the next check `after` from now (a no-op when one is already queued).
pub async fn schedule(db: &Db, after: chrono::Duration) -> AppResult<()> {
    db.write(move |c| Ok(TierCheck {}.enqueue_at(c, repo::now() + after)?)).await
}

/// The re-evaluation of one programme's cards; one pending per programme.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TierReevaluation {
    pub program_id: String,
}

impl Job for TierReevaluation {
    const KIND: &'static str = "tier_reevaluation";

    fn program_id(&self) -> Option<&str> {
        Some(&self.program_id)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.program_id))
    }
}

/// Starts (or starts over) the re-evaluation, in the caller's transaction (the rules' change).
pub fn start(conn: &mut DbConn, program_id: &str, now: NaiveDateTime) -> AppResult<()> {
    let total = repo::cards::count_active_cards(conn, program_id)?;
    repo::tiers::put_reevaluation(
        conn,
        &Reevaluation {
            program_id: program_id.to_owned(),
            state: ReevaluationState::Running,
            cards_total: total,
            cards_done: 0,
            cards_moved: 0,
            cursor: None,
            started_at: now,
            finished_at: None,
        },
    )?;
    Ok(TierReevaluation { program_id: program_id.to_owned() }.enqueue(conn)?)
}

/// Re-evaluates the next chunk; true once every card has been.
pub fn reevaluation_chunk(conn: &mut DbConn, program_id: &str) -> AppResult<bool> {
    let Some(mut r) = repo::tiers::reevaluation(conn, program_id)?.filter(|r| r.state == ReevaluationState::Running)
    else {
        return Ok(true);
    };
    let program = repo::programs::find(conn, program_id)?;
    let now = repo::now();
    let cards = repo::cards::active_cards_after(conn, program_id, r.cursor.as_deref(), CHUNK)?;
    for card in &cards {
        if reevaluate(conn, &program, card, Reason::Rules, now)?.is_some() {
            r.cards_moved += 1;
        }
    }
    r.cards_done += i64::try_from(cards.len()).unwrap_or(i64::MAX);
    r.cursor = cards.last().map(|c| c.id.clone()).or(r.cursor);
    let finished = i64::try_from(cards.len()).unwrap_or(0) < CHUNK;
    if finished {
        r.state = ReevaluationState::Done;
        r.finished_at = Some(now);
        r.cards_total = r.cards_done;
    }
    repo::tiers::put_reevaluation(conn, &r)?;
    Ok(finished)
}

pub async fn run_reevaluation(db: Db, job: TierReevaluation) -> anyhow::Result<()> {
    let finished = chunks_for_a_while(|| {
        let (db, program_id) = (db.clone(), job.program_id.clone());
        async move { Ok(db.write(move |c| reevaluation_chunk(c, &program_id)).await?) }
    })
    .await?;
    if !finished {
        db.write(move |c| Ok(job.enqueue(c)?)).await?;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct ReevaluationDto {
    pub state: ReevaluationState,
    pub cards_total: i64,
    pub cards_done: i64,
    pub cards_moved: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// `GET /program/tiers/reevaluation`: the last one's progress.
pub async fn progress(db: &Db, actor: &Actor) -> AppResult<ReevaluationDto> {
    let program_id = actor.program_id.clone();
    let r = db.read(move |c| Ok(repo::tiers::reevaluation(c, &program_id)?)).await?.ok_or_else(|| {
        AppError::not_found("reevaluation_not_found", "the tiers were never set: no re-evaluation has run")
    })?;
    Ok(ReevaluationDto {
        state: r.state,
        cards_total: r.cards_total,
        cards_done: r.cards_done,
        cards_moved: r.cards_moved,
        started_at: time(r.started_at),
        finished_at: r.finished_at.map(time),
    })
}
