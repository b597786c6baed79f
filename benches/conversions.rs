//! A season conversion over `BENCH_CARDS` (default 100,000) cards with balances, on SQLite and
//! (when `ENCARTE_BENCH_DATABASE_URL` is set) on PostgreSQL: the time from the first chunk to
//! the final report, for the dry run and for the real run, through the same chunk function the
//! outbox job runs. Seeding the cards is not timed.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use common::env_usize;
use encarte::db::{Db, repo};
use encarte::domain::money::Cents;
use encarte::domain::points::Points;
use encarte::domain::voucher::ValidityDays;
use encarte::service::conversions::Blocks;
use encarte::service::conversions::season::{self, Step};

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await.map(|()| true))
}

/// 0 to 1,699 points: a third of the cards below the threshold, the rest with one to three blocks.
fn balance(i: usize) -> i64 {
    i64::try_from(i * 7919 % 1700).unwrap()
}

struct Report {
    backend: &'static str,
    cards: usize,
    seed: Duration,
    dry: Duration,
    real: Duration,
    converted: i64,
    vouchers: i64,
}

async fn run() -> anyhow::Result<()> {
    let cards = env_usize("BENCH_CARDS", 100_000)?;
    let reports = common::on_each_backend(|backend, url| async move { bench(backend, &url, cards).await }).await?;
    println!();
    println!("| backend | cards | seeding | dry run | conversion | cards converted | vouchers | cards/s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &reports {
        println!(
            "| {} | {} | {:.1} s | {:.2} s | {:.2} s | {} | {} | {:.0} |",
            r.backend,
            r.cards,
            r.seed.as_secs_f64(),
            r.dry.as_secs_f64(),
            r.real.as_secs_f64(),
            r.converted,
            r.vouchers,
            common::count_f64(r.cards) / r.real.as_secs_f64()
        );
    }
    Ok(())
}

async fn bench(backend: &'static str, url: &str, cards: usize) -> anyhow::Result<Report> {
    let data_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (_app, db, program) = common::seed::app_with_program(url, data_dir.path())
        .await
        .with_context(|| format!("cannot start the service on {backend}"))?;
    let started = Instant::now();
    common::seed::cards(&db, &program.id, cards, balance, |_| None).await?;
    let seed = started.elapsed();
    eprintln!("{backend}: {cards} cards seeded in {:.1} s", seed.as_secs_f64());

    let blocks = Blocks {
        threshold_points: Points::parse(500)?,
        block_points: Points::parse(500)?,
        value_cents_per_block: Cents::parse(500)?,
        validity_days: ValidityDays::parse(90)?,
    };
    let (dry, dry_report) = convert(&db, &program.id, blocks, true).await?;
    let (real, report) = convert(&db, &program.id, blocks, false).await?;
    ensure!(dry_report == report, "the dry run reported {dry_report:?}, the real run {report:?}");
    let expected: i64 = (0..cards).map(|i| balance(i) / 500).sum();
    ensure!(report.3 == expected, "{} vouchers issued, {expected} expected", report.3);
    let bad = db.read(|c| Ok(repo::ledger::mismatched_balances(c)?)).await?;
    ensure!(bad.is_empty(), "balance != SUM(ledger) for {} cards", bad.len());
    eprintln!("{backend}: dry run {:.2} s, conversion {:.2} s", dry.as_secs_f64(), real.as_secs_f64());
    Ok(Report { backend, cards, seed, dry, real, converted: report.2, vouchers: report.3 })
}

/// Schedules a batch and runs it chunk after chunk, as the job does; the time and the report
/// (cards total, done, converted, vouchers, points, value).
async fn convert(
    db: &Db,
    program_id: &str,
    blocks: Blocks,
    dry_run: bool,
) -> anyhow::Result<(Duration, (i64, i64, i64, i64, i64, i64))> {
    let pid = program_id.to_owned();
    let conversion = db.write(move |c| season::schedule_in(c, &pid, None, &blocks, None, dry_run)).await?;
    let started = Instant::now();
    loop {
        let (pid, id) = (program_id.to_owned(), conversion.id.clone());
        match db.write(move |c| season::chunk(c, &pid, &id)).await? {
            Step::More => {}
            Step::Finished => break,
            Step::Stopped => anyhow::bail!("the conversion stopped"),
        }
    }
    let took = started.elapsed();
    let (pid, id) = (program_id.to_owned(), conversion.id.clone());
    let c = db.read(move |c| Ok(repo::conversions::find(c, &pid, &id)?)).await?.context("the conversion")?;
    Ok((took, (c.cards_total, c.cards_done, c.cards_converted, c.vouchers_issued, c.points_converted, c.value_cents)))
}
