//! RFM scoring of a programme's members, as a job: nightly for every programme, and on demand.
//! A run reads the window's purchases in one statement, scores the members who consented to
//! profiling against each other (the rule is [`crate::domain::rfm`]), and replaces the stored
//! scores in one transaction: the pages read stored results, never a half-written run.

use chrono::{Months, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::db::repo::rfm::{Run, Score};
use crate::db::{Db, DbConn, repo};
use crate::domain::rfm::{self, Measures};
use crate::domain::status::RfmState;
use crate::error::{AppError, AppResult};
use crate::jobs::{Job, programs_for_a_while};

/// The window when none was asked for: the last 12 months.
pub const DEFAULT_WINDOW_MONTHS: i32 = 12;
pub const MAX_WINDOW_MONTHS: i32 = 36;
/// How often the nightly sweep looks for programmes not yet scored today (their local day).
pub const EVERY_MINUTES: i64 = 60;

/// Scores one programme now (asked from the console or the API); one pending per programme.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RfmScoring {
    pub program_id: String,
}

impl Job for RfmScoring {
    const KIND: &'static str = "rfm_scoring";

    fn program_id(&self) -> Option<&str> {
        Some(&self.program_id)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.program_id))
    }
}

/// The recurring sweep that scores each programme once per local day; one for the cluster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RfmNightly {}

impl Job for RfmNightly {
    const KIND: &'static str = "rfm_nightly";

    fn program_id(&self) -> Option<&str> {
        None
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::KIND.to_owned())
    }
}

/// A run's window, checked where it is asked for.
pub fn check_window(months: i32) -> AppResult<i32> {
    if (1..=MAX_WINDOW_MONTHS).contains(&months) {
        Ok(months)
    } else {
        Err(AppError::invalid_field("window_months", format!("from 1 to {MAX_WINDOW_MONTHS}")))
    }
}

/// Asks for a run over `window_months` (the last run's, or 12, when none), in the caller's
/// transaction; the figures of the last run stay readable until the new one replaces them.
pub fn request(conn: &mut DbConn, program_id: &str, window_months: Option<i32>, now: NaiveDateTime) -> AppResult<Run> {
    let run = match repo::rfm::run(conn, program_id)? {
        Some(last) => Run {
            state: RfmState::Queued,
            window_months: window_months.unwrap_or(last.window_months),
            requested_at: now,
            ..last
        },
        None => Run {
            program_id: program_id.to_owned(),
            state: RfmState::Queued,
            window_months: window_months.unwrap_or(DEFAULT_WINDOW_MONTHS),
            computed_on: None,
            members_total: 0,
            members_buying: 0,
            members_scored: 0,
            revenue_cents: 0,
            requested_at: now,
            finished_at: None,
        },
    };
    repo::rfm::put_run(conn, &run)?;
    RfmScoring { program_id: program_id.to_owned() }.enqueue(conn)?;
    Ok(run)
}

/// Scores the programme's members as of `now`, replacing the stored scores: one transaction.
pub fn compute(conn: &mut DbConn, program_id: &str, now: NaiveDateTime) -> AppResult<Run> {
    let program = repo::programs::find(conn, program_id)?;
    let last = repo::rfm::run(conn, program_id)?;
    let window_months = last.as_ref().map_or(DEFAULT_WINDOW_MONTHS, |r| r.window_months);
    let requested_at = last.as_ref().map_or(now, |r| r.requested_at);
    let mut run = Run {
        program_id: program_id.to_owned(),
        state: RfmState::Queued,
        window_months,
        computed_on: last.as_ref().and_then(|r| r.computed_on),
        members_total: 0,
        members_buying: 0,
        members_scored: 0,
        revenue_cents: 0,
        requested_at,
        finished_at: None,
    };
    // Taking the run's row first makes a second run (another node) and a withdrawal wait.
    repo::rfm::put_run(conn, &last.clone().unwrap_or_else(|| run.clone()))?;

    let today = program.local_day(now);
    let first_day = today.checked_sub_months(Months::new(window_months.unsigned_abs())).unwrap_or(today);
    let bought = repo::rfm::bought(conn, program_id, program.day_start(first_day), now)?;
    let consented = repo::rfm::granted(conn, program_id, "profiling")?;
    let scored: Vec<_> = bought.iter().filter(|b| consented.contains(&b.customer_id)).collect();
    let measures: Vec<Measures> = scored
        .iter()
        .map(|b| Measures {
            days_since_last: (today - program.local_day(b.last_at)).num_days().max(0),
            purchases: b.purchases,
            net_spend_cents: b.net_spend_cents,
        })
        .collect();
    let rows: Vec<Score> = rfm::score(&measures)
        .into_iter()
        .zip(scored.iter().zip(&measures))
        .map(|(s, (b, m))| Score {
            card_id: b.card_id.clone(),
            program_id: program_id.to_owned(),
            computed_on: today,
            days_since_last: m.days_since_last,
            purchases: m.purchases,
            net_spend_cents: m.net_spend_cents,
            r: i32::from(s.r),
            f: i32::from(s.f),
            m: i32::from(s.m),
            fm: i32::from(s.fm()),
            segment: s.segment(),
            computed_at: now,
        })
        .collect();
    repo::rfm::replace_scores(conn, program_id, &rows)?;

    run.state = RfmState::Done;
    run.computed_on = Some(today);
    run.members_total = repo::rfm::members_total(conn, program_id)?;
    run.members_buying = i64::try_from(bought.len()).unwrap_or(i64::MAX);
    run.members_scored = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    run.revenue_cents = bought.iter().map(|b| b.net_spend_cents).sum();
    run.finished_at = Some(now);
    repo::rfm::put_run(conn, &run)?;
    Ok(run)
}

pub async fn run_scoring(db: Db, job: RfmScoring) -> anyhow::Result<()> {
    db.write(move |c| compute(c, &job.program_id, repo::now())).await?;
    Ok(())
}

/// The sweep: every programme not yet scored on its local today, then the next sweep.
pub async fn run_nightly(db: Db, _job: RfmNightly) -> anyhow::Result<()> {
    let now = repo::now();
    let due = db
        .read(move |c| {
            let mut due = Vec::new();
            for (program_id, computed_on) in repo::rfm::programs(c)? {
                let program = repo::programs::find(c, &program_id)?;
                if computed_on != Some(program.local_day(now)) {
                    due.push(program_id);
                }
            }
            Ok(due)
        })
        .await?;
    let finished = programs_for_a_while(&due, |program_id| {
        let db = db.clone();
        async move {
            db.write(move |c| compute(c, &program_id, repo::now())).await?;
            Ok(true)
        }
    })
    .await?;
    Ok(schedule(&db, chrono::Duration::minutes(if finished { EVERY_MINUTES } else { 0 })).await?)
}

/// Queues the next sweep `after` from now (a no-op when one is already queued).
pub async fn schedule(db: &Db, after: chrono::Duration) -> AppResult<()> {
    db.write(move |c| Ok(RfmNightly {}.enqueue_at(c, repo::now() + after)?)).await
}

/// The profiling consent was withdrawn (or the customer erased): the card's score goes, in the
/// caller's transaction, and the run's count with it.
/// Waiting for a run under way first, so that it cannot write the score back after.
pub fn forget(conn: &mut DbConn, program_id: &str, card_id: &str) -> AppResult<()> {
    repo::rfm::hold_run(conn, program_id)?;
    if repo::rfm::forget(conn, card_id)? {
        repo::rfm::count_forgotten(conn, program_id)?;
    }
    Ok(())
}
