//! The daily points-expiry run over `BENCH_CARDS` (default 100,000) cards, on SQLite and (when
//! `ENCARTE_BENCH_DATABASE_URL` is set) on PostgreSQL, through the same chunk function the hourly
//! job runs. Rule: 12 months after earning. Even cards hold points earned 13 months ago (they
//! expire), odd cards points that end in 10 days (their holders are reminded). Timed: the run
//! from its first chunk to its last, then the same day's second run (nothing left to do), then
//! the next day's (nothing new to expire or remind). Seeding is not timed.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use chrono::{Months, NaiveDateTime};
use common::env_usize;
use encarte::db::{Db, repo};
use encarte::domain::expiry::{ExpiryRule, Round};
use encarte::service::expiry::run::{Chunk, run_day};

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await.map(|()| true))
}

/// 1 to 1,699 points.
fn balance(i: usize) -> i64 {
    i64::try_from(i * 7919 % 1699 + 1).unwrap()
}

#[allow(clippy::unnecessary_wraps, reason = "the seeder's signature: other benches seed no lot date")]
fn earned_at(i: usize) -> Option<NaiveDateTime> {
    let now = repo::now();
    Some(if i.is_multiple_of(2) {
        now.checked_sub_months(Months::new(13)).unwrap()
    } else {
        now.checked_sub_months(Months::new(12)).unwrap() + chrono::Duration::days(10)
    })
}

struct Report {
    backend: &'static str,
    cards: usize,
    run: Duration,
    again: Duration,
    next_day: Duration,
    expired: i64,
    reminders: usize,
}

async fn run() -> anyhow::Result<()> {
    let cards = env_usize("BENCH_CARDS", 100_000)?;
    let reports = common::on_each_backend(|backend, url| async move { bench(backend, &url, cards).await }).await?;
    println!();
    println!("| backend | cards | daily run | cards/s | points expired | reminders | same day again | next day |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &reports {
        println!(
            "| {} | {} | {:.2} s | {:.0} | {} | {} | {:.1} ms | {:.0} ms |",
            r.backend,
            r.cards,
            r.run.as_secs_f64(),
            common::count_f64(r.cards) / r.run.as_secs_f64(),
            r.expired,
            r.reminders,
            r.again.as_secs_f64() * 1000.0,
            r.next_day.as_secs_f64() * 1000.0,
        );
    }
    Ok(())
}

async fn timed(db: &Db, program_id: &str, now: NaiveDateTime) -> anyhow::Result<(Duration, Chunk)> {
    let started = Instant::now();
    let chunk = run_day(db, program_id, now, 30).await?;
    Ok((started.elapsed(), chunk))
}

async fn bench(backend: &'static str, url: &str, cards: usize) -> anyhow::Result<Report> {
    let data_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (_app, db, program) = common::seed::app_with_program(url, data_dir.path())
        .await
        .with_context(|| format!("cannot start the service on {backend}"))?;
    let started = Instant::now();
    common::seed::cards(&db, &program.id, cards, balance, earned_at).await.context("seeding")?;
    eprintln!("{backend}: {cards} cards seeded in {:.1} s", started.elapsed().as_secs_f64());
    let p = program.clone();
    db.write(move |c| {
        encarte::service::expiry::rules::put_in(c, &p, ExpiryRule::AfterEarning { months: 12, round: Round::None })?;
        // As if turned on long ago: the seeded lots count from when they were earned.
        use diesel::RunQueryDsl as _;
        diesel::sql_query("UPDATE expiry_rules SET since = '2000-01-01'").execute(c)?;
        Ok(())
    })
    .await
    .context("turning expiry on")?;

    let now = repo::now();
    let (run, report) = timed(&db, &program.id, now).await.context("the daily run")?;
    let (again, nothing) = timed(&db, &program.id, now).await.context("the same day again")?;
    let (next_day, next) = timed(&db, &program.id, now + chrono::Duration::days(1)).await.context("the next day")?;
    let expected: i64 = (0..cards).step_by(2).map(balance).sum();
    ensure!(report.expired_points == expected, "{} points expired, {expected} expected", report.expired_points);
    ensure!(report.reminders == cards / 2, "{} reminders, {} expected", report.reminders, cards / 2);
    ensure!(nothing.expired_points == 0 && nothing.reminders == 0, "the second run did {nothing:?}");
    ensure!(next.expired_points == 0 && next.reminders == 0, "the next day's run did {next:?}");
    let bad = db.read(|c| Ok(repo::ledger::mismatched_balances(c)?)).await.context("ledger check")?;
    ensure!(bad.is_empty(), "balance != SUM(ledger) for {} cards", bad.len());
    let bad = db.read(|c| Ok(repo::lots::mismatched(c)?)).await.context("lots check")?;
    ensure!(bad.is_empty(), "balance != SUM(lots) for {} cards", bad.len());
    eprintln!("{backend}: daily run {:.2} s", run.as_secs_f64());
    Ok(Report { backend, cards, run, again, next_day, expired: report.expired_points, reminders: report.reminders })
}
