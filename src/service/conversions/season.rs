//! Season conversions (Mexx: at each season's start, every balance's whole blocks become
//! vouchers). A manager schedules a batch; one outbox job runs it over every active card in
//! chunks, each chunk one transaction that converts its cards, records them in
//! `conversion_cards` (whose key refuses a card converted twice by one batch: a crash, a retry,
//! a second node) and moves the cursor. A resumed run goes on from the cursor; a dry run goes the
//! same way and writes only its report.

use actix_web::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use super::threshold::convert_many;
use super::{Blocks, ConversionSetting};
use crate::db::repo::conversions::{Conversion, ConvertedCard, Progress};
use crate::db::{Db, DbConn, repo};
use crate::domain::money::Cents;
use crate::domain::points::Points;
use crate::domain::role::Role;
use crate::domain::status::{ConversionMode, ConversionState};
use crate::domain::voucher::{ValidityDays, blocks};
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::jobs::Job;
use crate::service::Actor;
use crate::service::idempotency::{self, Idempotent, Stored};

/// Cards per transaction: small enough that a till's purchase never waits long behind a chunk,
/// large enough that the commit cost is spread.
pub const CHUNK: i64 = 500;

/// The job that runs one conversion. One per conversion is pending at a time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConversionRun {
    pub program_id: String,
    pub conversion_id: String,
}

impl Job for ConversionRun {
    const KIND: &'static str = "conversion_run";

    fn program_id(&self) -> Option<&str> {
        Some(&self.program_id)
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("conversion:{}", self.conversion_id))
    }
}

/// `POST /conversions`: when, with which blocks (the programme's setting when none is given),
/// and whether it only reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Now when absent; a time already past runs at once.
    #[serde(default)]
    pub run_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub threshold_points: Option<Points>,
    #[serde(default)]
    pub block_points: Option<Points>,
    #[serde(default)]
    pub value_cents_per_block: Option<Cents>,
    #[serde(default)]
    pub validity_days: Option<ValidityDays>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize)]
pub struct ConversionDto {
    pub id: String,
    pub state: ConversionState,
    pub dry_run: bool,
    pub run_at: String,
    pub threshold_points: i64,
    pub block_points: i64,
    pub value_cents_per_block: i64,
    pub validity_days: i64,
    /// The active cards when the run started (at the end: the cards it went through).
    pub cards_total: i64,
    pub cards_done: i64,
    pub cards_converted: i64,
    pub vouchers_issued: i64,
    pub points_converted: i64,
    pub value_cents: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<&Conversion> for ConversionDto {
    fn from(c: &Conversion) -> Self {
        ConversionDto {
            id: c.id.clone(),
            state: c.state,
            dry_run: c.dry_run,
            run_at: time(c.run_at),
            threshold_points: c.threshold_points,
            block_points: c.block_points,
            value_cents_per_block: c.value_cents_per_block,
            validity_days: c.validity_days,
            cards_total: c.cards_total,
            cards_done: c.cards_done,
            cards_converted: c.cards_converted,
            vouchers_issued: c.vouchers_issued,
            points_converted: c.points_converted,
            value_cents: c.value_cents,
            created_at: time(c.created_at),
            started_at: c.started_at.map(time),
            finished_at: c.finished_at.map(time),
        }
    }
}

fn conversion_not_found() -> AppError {
    AppError::not_found("conversion_not_found", "no such conversion in this programme")
}

/// The blocks a batch converts with: the ones given, all four, or the programme's setting.
fn blocks_of(conn: &mut DbConn, program_id: &str, input: &Schedule) -> AppResult<Blocks> {
    let given = ConversionSetting {
        mode: ConversionMode::Season,
        threshold_points: input.threshold_points,
        block_points: input.block_points,
        value_cents_per_block: input.value_cents_per_block,
        validity_days: input.validity_days,
    }
    .blocks()?;
    let b = match given {
        Some(b) => b,
        None => super::setting_of(conn, program_id)?.blocks()?.ok_or_else(|| {
            AppError::unprocessable(
                "invalid_conversion",
                "give threshold_points, block_points, value_cents_per_block and validity_days, \
                 or set them in the programme's conversion setting",
            )
        })?,
    };
    b.check()?;
    Ok(b)
}

/// Schedules a batch and queues its job for `run_at`, in one transaction.
pub async fn schedule(db: &Db, actor: &Actor, idem: Option<Idempotent>, input: Schedule) -> AppResult<Stored> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |conn| {
        idempotency::maybe_once(conn, &actor.program_id, idem.as_ref(), StatusCode::CREATED, |conn| {
            let b = blocks_of(conn, &actor.program_id, &input)?;
            let run_at = input.run_at.map(|t| t.naive_utc());
            let conversion = schedule_in(conn, &actor.program_id, Some(&actor.staff_id), &b, run_at, input.dry_run)?;
            let dto = ConversionDto::from(&conversion);
            let what = crate::service::audit::What::new("conversion.schedule", "conversion", &conversion.id);
            crate::service::audit::record(conn, &actor, what, &serde_json::json!({}), &dto)?;
            Ok(dto)
        })
    })
    .await
}

/// Writes a batch and queues its job for `run_at` (now when None), in the caller's transaction.
pub fn schedule_in(
    conn: &mut DbConn,
    program_id: &str,
    staff_id: Option<&str>,
    b: &Blocks,
    run_at: Option<NaiveDateTime>,
    dry_run: bool,
) -> AppResult<Conversion> {
    let now = repo::now();
    let conversion = Conversion {
        id: repo::new_id(),
        program_id: program_id.to_owned(),
        run_at: run_at.unwrap_or(now),
        threshold_points: b.threshold_points.get(),
        block_points: b.block_points.get(),
        value_cents_per_block: b.value_cents_per_block.get(),
        validity_days: b.validity_days.get(),
        dry_run,
        state: ConversionState::Scheduled,
        cards_total: 0,
        cards_done: 0,
        cards_converted: 0,
        vouchers_issued: 0,
        points_converted: 0,
        value_cents: 0,
        cursor: None,
        staff_id: staff_id.map(str::to_owned),
        created_at: now,
        started_at: None,
        finished_at: None,
    };
    repo::conversions::insert(conn, &conversion)?;
    let job = ConversionRun { program_id: conversion.program_id.clone(), conversion_id: conversion.id.clone() };
    job.enqueue_at(conn, conversion.run_at.max(now))?;
    Ok(conversion)
}

/// The next `count` starts of the seasons beginning on the first of `months`, at midnight in
/// `tz`, after `now` (UTC in, UTC out).
pub fn season_starts(now: NaiveDateTime, tz: chrono_tz::Tz, months: &[u32], count: usize) -> Vec<NaiveDateTime> {
    use chrono::{Datelike as _, TimeZone as _};
    let local_year = tz.from_utc_datetime(&now).year();
    let mut starts: Vec<NaiveDateTime> = (local_year..=local_year + 2)
        .flat_map(|year| months.iter().map(move |&month| (year, month)))
        .filter_map(|(year, month)| chrono::NaiveDate::from_ymd_opt(year, month, 1))
        .filter_map(|day| tz.from_local_datetime(&day.and_time(chrono::NaiveTime::MIN)).earliest())
        .map(|t| t.naive_utc())
        .filter(|t| *t > now)
        .collect();
    starts.sort_unstable();
    starts.truncate(count);
    starts
}

pub async fn list(db: &Db, actor: &Actor) -> AppResult<Vec<ConversionDto>> {
    let program_id = actor.program_id.clone();
    db.read(move |c| Ok(repo::conversions::list(c, &program_id, 200)?.iter().map(ConversionDto::from).collect())).await
}

pub async fn get(db: &Db, actor: &Actor, id: String) -> AppResult<ConversionDto> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        repo::conversions::find(c, &program_id, &id)?.as_ref().map(ConversionDto::from).ok_or_else(conversion_not_found)
    })
    .await
}

/// Stops a batch not yet finished: what its chunks did stays done. Cancelling a cancelled batch
/// answers it as it is (a retried click); a finished one can't be.
pub async fn cancel(db: &Db, actor: &Actor, id: String) -> AppResult<ConversionDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let program_id = actor.program_id.as_str();
        let stopped = repo::conversions::cancel(c, program_id, &id, repo::now())?;
        let conversion = repo::conversions::find(c, program_id, &id)?.ok_or_else(conversion_not_found)?;
        if !stopped && conversion.state == ConversionState::Done {
            return Err(AppError::conflict(
                "conversion_finished",
                "this conversion has finished: it can't be cancelled",
            ));
        }
        if stopped {
            let what = crate::service::audit::What::new("conversion.cancel", "conversion", &conversion.id);
            crate::service::audit::record(
                c,
                &actor,
                what,
                &serde_json::json!({}),
                &serde_json::json!({"state": conversion.state}),
            )?;
        }
        Ok(ConversionDto::from(&conversion))
    })
    .await
}

/// Where a run stands after a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More cards to go.
    More,
    /// The last chunk: the report is final.
    Finished,
    /// Done or cancelled before this chunk: nothing was written.
    Stopped,
}

/// Runs the next chunk of the conversion, in the caller's (write) transaction.
pub fn chunk(conn: &mut DbConn, program_id: &str, conversion_id: &str) -> AppResult<Step> {
    let Some(run) = repo::conversions::take_for_chunk(conn, program_id, conversion_id)? else {
        return Ok(Step::Stopped);
    };
    let now = repo::now();
    if run.started_at.is_none() {
        let total = repo::cards::count_active_cards(conn, program_id)?;
        repo::conversions::mark_started(conn, conversion_id, total, now)?;
    }
    let program = repo::programs::find(conn, program_id)?;
    let b = Blocks::of_conversion(&run)?;
    let cards = repo::cards::active_cards_after(conn, program_id, run.cursor.as_deref(), CHUNK)?;
    let mut p = Progress { cards_done: i64::try_from(cards.len()).unwrap_or(i64::MAX), ..Progress::default() };
    let mut done = Vec::new();
    if run.dry_run {
        for card in &cards {
            let (n, points) = blocks(card.balance, b.threshold_points.get(), b.block_points.get());
            p.count(n, points, &b);
        }
    } else {
        let outcomes = convert_many(conn, &program, &cards, &b, Some(conversion_id), run.staff_id.as_deref(), now)?;
        for (card, outcome) in cards.iter().zip(&outcomes) {
            let Some(c) = outcome else { continue };
            let n = i64::try_from(c.vouchers.len()).unwrap_or(i64::MAX);
            p.count(n, c.points, &b);
            done.push(ConvertedCard {
                conversion_id,
                card_id: &card.id,
                program_id,
                points: c.points,
                vouchers: n,
                ledger_entry_id: c.entry_id,
                created_at: now,
            });
        }
    }
    repo::conversions::insert_cards(conn, &done)?;
    let last = usize::try_from(CHUNK).is_ok_and(|chunk| cards.len() < chunk);
    let cursor = cards.last().map(|c| c.id.as_str()).or(run.cursor.as_deref());
    repo::conversions::record_chunk(conn, conversion_id, p, cursor, last.then_some(now))?;
    Ok(if last { Step::Finished } else { Step::More })
}

/// The job's handler: chunk after chunk until the batch is finished or stopped, or the budget is
/// spent (then a fresh job goes on from the cursor).
pub async fn run(db: Db, job: ConversionRun) -> anyhow::Result<()> {
    let finished = crate::jobs::chunks_for_a_while(|| {
        let (db, program_id, id) = (db.clone(), job.program_id.clone(), job.conversion_id.clone());
        async move { Ok(db.write(move |c| chunk(c, &program_id, &id)).await? != Step::More) }
    })
    .await?;
    if !finished {
        db.write(move |c| Ok(job.enqueue(c)?)).await?;
        return Ok(());
    }
    let (program_id, id) = (job.program_id.clone(), job.conversion_id.clone());
    if let Some(c) = db.read(move |c| Ok(repo::conversions::find(c, &program_id, &id)?)).await?
        && c.state == ConversionState::Done
    {
        tracing::info!(
            conversion = %c.id, dry_run = c.dry_run, cards = c.cards_done, converted = c.cards_converted,
            vouchers = c.vouchers_issued, points = c.points_converted, value_cents = c.value_cents,
            "conversion finished"
        );
    }
    Ok(())
}

impl Progress {
    /// A card with `n` blocks converted (or, in a dry run, to convert).
    fn count(&mut self, n: i64, points: i64, b: &Blocks) {
        if n > 0 {
            self.cards_converted += 1;
            self.vouchers_issued += n;
            self.points_converted += points;
            self.value_cents += n * b.value_cents_per_block.get();
        }
    }
}

impl Blocks {
    /// The blocks a scheduled batch copied when it was scheduled.
    fn of_conversion(c: &Conversion) -> AppResult<Blocks> {
        Blocks::parse(c.threshold_points, c.block_points, c.value_cents_per_block, c.validity_days)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("conversion {}: {e}", c.id)))
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::season_starts;

    fn at(y: i32, m: u32, d: u32, h: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d).unwrap().and_hms_opt(h, 0, 0).unwrap()
    }

    #[test]
    fn season_starts_are_local_midnights_after_now() {
        let paris = chrono_tz::Europe::Paris;
        // Winter time on 1 March (UTC+1), summer time on 1 September (UTC+2).
        assert_eq!(season_starts(at(2026, 12, 2, 12), paris, &[3, 9], 2), [at(2027, 2, 28, 23), at(2027, 8, 31, 22)]);
        // Midnight of 1 March already began in Paris: the next one is September's.
        assert_eq!(season_starts(at(2027, 2, 28, 23), paris, &[3, 9], 1), [at(2027, 8, 31, 22)]);
        assert_eq!(season_starts(at(2027, 9, 15, 0), paris, &[9, 3], 3).len(), 3);
    }
}
