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
use common::{PgSchema, env_usize};
use encarte::config::Config;
use encarte::db::repo::{cards::Card, customers::Customer};
use encarte::db::{Db, DbConn, repo};
use encarte::domain::ledger::EntryKind;
use encarte::domain::money::Cents;
use encarte::domain::points::Points;
use encarte::domain::role::Role;
use encarte::domain::voucher::ValidityDays;
use encarte::error::AppError;
use encarte::service::conversions::Blocks;
use encarte::service::conversions::season::{self, Step};
use encarte::service::points::{Guard, Posting, post_many};
use encarte::service::programs::{self, NewProgram};
use encarte::startup::Application;

/// Cards per seeding transaction.
const SEED_CHUNK: usize = 2000;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e:#}");
            ExitCode::FAILURE
        }
    }
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
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut reports = vec![bench("sqlite", &format!("sqlite://{}/bench.db", dir.path().display()), cards).await?];
    if let Ok(base) = std::env::var("ENCARTE_BENCH_DATABASE_URL") {
        let schema = PgSchema::create(&base)?;
        reports.push(bench("postgres", &schema.app_url(), cards).await?);
    } else {
        eprintln!("ENCARTE_BENCH_DATABASE_URL not set: PostgreSQL skipped");
    }
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
    let config = Config {
        bind: "127.0.0.1:0".into(),
        database_url: Some(url.to_owned()),
        data_dir: data_dir.path().to_path_buf(),
        worker: false,
        log: "warn".into(),
        ..Config::default()
    };
    // Built for its database (migrated, pooled as in production); the server is never started.
    let app = Application::build(config).await.with_context(|| format!("cannot start the service on {backend}"))?;
    let db = app.db();
    let program = db
        .write(|c| {
            programs::create(
                c,
                NewProgram {
                    slug: "mexx".into(),
                    name: "Mexx".into(),
                    currency: "EUR".into(),
                    locale: "fr".into(),
                    time_zone: "Europe/Paris".into(),
                    earn_points: 1,
                    earn_per_cents: 100,
                    earn_min_cents: 0,
                    location_name: "Shop".into(),
                    staff: vec![("manager@mexx.test".into(), Role::Manager, "bench-password-123".into())],
                },
            )
        })
        .await?
        .program;

    let started = Instant::now();
    for from in (0..cards).step_by(SEED_CHUNK) {
        let (program_id, to) = (program.id.clone(), (from + SEED_CHUNK).min(cards));
        db.write(move |c| seed(c, &program_id, from..to)).await?;
    }
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

/// Customers and cards `range`, written with multi-row INSERTs (the enrolment path, one
/// customer at a time, would make seeding most of the run), then their balances, posted as
/// adjustments so that every balance equals its ledger.
fn seed(c: &mut DbConn, program_id: &str, range: std::ops::Range<usize>) -> Result<(), AppError> {
    use diesel::RunQueryDsl as _;
    use encarte::db::schema::{cards, customers};
    let now = repo::now();
    let customers: Vec<Customer> = range
        .clone()
        .map(|i| Customer {
            id: repo::new_id(),
            program_id: program_id.to_owned(),
            email: format!("c{i}@mexx.test"),
            first_name: "Zoé".into(),
            phone: None,
            locale: "fr".into(),
            created_at: now,
            email_key: None,
            phone_key: None,
            device_key: None,
            erased_at: None,
        })
        .collect();
    let cards: Vec<Card> =
        customers.iter().map(|customer| encarte::service::customers::new_card(program_id, &customer.id, now)).collect();
    for (customers, cards) in customers.chunks(500).zip(cards.chunks(500)) {
        match c {
            DbConn::Pg(c) => {
                diesel::insert_into(customers::table).values(customers).execute(c)?;
                diesel::insert_into(cards::table).values(cards).execute(c)?;
            }
            DbConn::Sqlite(c) => {
                diesel::insert_into(customers::table).values(customers).execute(c)?;
                diesel::insert_into(cards::table).values(cards).execute(c)?;
            }
        }
    }
    let postings: Vec<Posting<'_>> = cards
        .iter()
        .zip(range)
        .filter(|(_, i)| balance(*i) != 0)
        .map(|(card, i)| Posting {
            program_id,
            card_id: &card.id,
            delta: balance(i),
            kind: EntryKind::Adjust,
            purchase_id: None,
            staff_id: None,
            reason: Some("seed"),
            earned_at: None,
        })
        .collect();
    post_many(c, &postings, Guard { only_active: true, no_overdraft: false })?;
    Ok(())
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
