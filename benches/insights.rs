//! KPIs and RFM over `BENCH_MEMBERS` (default 100,000) members and `BENCH_PURCHASES` (default
//! 1,000,000) purchases spread over 18 months, with one `earn` ledger entry per purchase, on
//! SQLite and (when `ENCARTE_BENCH_DATABASE_URL` is set) on PostgreSQL. Timed, through the service
//! functions the API calls: the RFM run (one transaction, scores replaced), the Segments page's
//! read of the stored results, and the KPIs of the last 12 months by month and of 12 weeks by
//! week, each computed at read time. Seeding is not timed.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use common::env_usize;
use encarte::db::{Db, repo};
use encarte::domain::period::Granularity;
use encarte::domain::role::Role;
use encarte::service::Actor;
use encarte::service::insights::kpis::{self, KpiQuery};
use encarte::service::insights::{rfm, rfm_views};

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await.map(|()| true))
}

struct Report {
    backend: &'static str,
    members: usize,
    purchases: usize,
    rfm: Duration,
    rfm_page: Duration,
    kpis_months: Duration,
    kpis_weeks: Duration,
    scored: i64,
}

async fn run() -> anyhow::Result<()> {
    let members = env_usize("BENCH_MEMBERS", 100_000)?;
    let purchases = env_usize("BENCH_PURCHASES", 1_000_000)?;
    let reports =
        common::on_each_backend(|backend, url| async move { bench(backend, &url, members, purchases).await }).await?;
    println!();
    println!(
        "| backend | members | purchases | RFM run | members scored | Segments read | KPIs, 12 months | KPIs, 12 weeks |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &reports {
        println!(
            "| {} | {} | {} | {:.2} s | {} | {:.1} ms | {:.2} s | {:.2} s |",
            r.backend,
            r.members,
            r.purchases,
            r.rfm.as_secs_f64(),
            r.scored,
            r.rfm_page.as_secs_f64() * 1000.0,
            r.kpis_months.as_secs_f64(),
            r.kpis_weeks.as_secs_f64(),
        );
    }
    Ok(())
}

/// Purchases and their earn entries, written as rows in batches: purchase `k` goes to card
/// `k * 7919 % n` (some members buy often, most now and then), spread over 540 days back, with
/// amounts from 3 to 120 euros, one in 20 partly returned and one in 10 discounted.
async fn seed_purchases(db: &Db, program_id: &str, cards: &[String], count: usize) -> anyhow::Result<()> {
    const BATCH: usize = 10_000;
    let now = repo::now();
    for from in (0..count).step_by(BATCH) {
        let to = (from + BATCH).min(count);
        let (program_id, chosen): (String, Vec<(usize, String)>) =
            (program_id.to_owned(), (from..to).map(|k| (k, cards[k * 7919 % cards.len()].clone())).collect());
        db.write(move |c| {
            use diesel::RunQueryDsl as _;
            for rows in chosen.chunks(500) {
                let mut sales = Vec::with_capacity(rows.len());
                let mut entries = Vec::with_capacity(rows.len());
                for (k, card) in rows {
                    let at = now - chrono::Duration::minutes(i64::try_from(k * 7_777 % (540 * 24 * 60)).unwrap());
                    let amount = 300 + i64::try_from(k * 131 % 11_700).unwrap();
                    let returned = if k % 20 == 0 { amount / 2 } else { 0 };
                    let discount = if k % 10 == 3 { 200.min(amount) } else { 0 };
                    let at = at.format("%Y-%m-%d %H:%M:%S");
                    sales.push(format!(
                        "('b-{k}', '{program_id}', '{card}', NULL, NULL, {amount}, 'EUR', NULL, {}, {returned}, '{at}', {discount}, 0, '{at}')",
                        amount / 100
                    ));
                    entries.push(format!("('{program_id}', '{card}', {}, 'earn', 'b-{k}', {}, '{at}')", amount / 100, amount / 100));
                }
                diesel::sql_query(format!(
                    "INSERT INTO purchases (id, program_id, card_id, location_id, staff_id, amount_cents, currency, \
                     external_ref, points_earned, returned_cents, created_at, discount_cents, bonus_points, occurred_at) VALUES {}",
                    sales.join(", ")
                ))
                .execute(c)?;
                diesel::sql_query(format!(
                    "INSERT INTO ledger_entries (program_id, card_id, delta, kind, purchase_id, balance_after, created_at) VALUES {}",
                    entries.join(", ")
                ))
                .execute(c)?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Four members in five consent to profiling.
async fn seed_consents(db: &Db, program_id: &str) -> anyhow::Result<()> {
    let program_id = program_id.to_owned();
    db.write(move |c| {
        use diesel::RunQueryDsl as _;
        diesel::sql_query(format!(
            "INSERT INTO customer_consents (program_id, customer_id, purpose, granted, channel, created_at) \
             SELECT program_id, id, 'profiling', TRUE, 'bench', created_at FROM customers \
             WHERE program_id = '{program_id}' AND email NOT LIKE '%5@mexx.test' AND email NOT LIKE '%0@mexx.test'"
        ))
        .execute(c)?;
        Ok(())
    })
    .await?;
    Ok(())
}

async fn bench(backend: &'static str, url: &str, members: usize, purchases: usize) -> anyhow::Result<Report> {
    let data_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (_app, db, program) = common::seed::app_with_program(url, data_dir.path())
        .await
        .with_context(|| format!("cannot start the service on {backend}"))?;
    let started = Instant::now();
    common::seed::cards(&db, &program.id, members, |_| 0, |_| None).await.context("seeding cards")?;
    let p = program.id.clone();
    let cards: Vec<String> = db
        .read(move |c| {
            use diesel::prelude::*;
            use encarte::db::schema::cards;
            Ok(cards::table.filter(cards::program_id.eq(&p)).order(cards::id).select(cards::id).load(c)?)
        })
        .await?;
    seed_purchases(&db, &program.id, &cards, purchases).await.context("seeding purchases")?;
    seed_consents(&db, &program.id).await.context("seeding consents")?;
    eprintln!("{backend}: {members} members, {purchases} purchases seeded in {:.1} s", started.elapsed().as_secs_f64());

    let p = program.id.clone();
    let started = Instant::now();
    let scored = db.write(move |c| rfm::compute(c, &p, repo::now())).await.context("the RFM run")?;
    let rfm_time = started.elapsed();
    ensure!(scored.members_scored > 0, "nobody was scored: {scored:?}");

    let actor =
        Actor { staff_id: "bench".into(), program_id: program.id.clone(), role: Role::Owner, location_id: None };
    let started = Instant::now();
    let page = rfm_views::get(&db, &actor).await?;
    let rfm_page = started.elapsed();
    ensure!(page.members_scored == scored.members_scored, "the page reads {} scored", page.members_scored);

    let started = Instant::now();
    let months = kpis::get(&db, &actor, KpiQuery::default()).await?;
    let kpis_months = started.elapsed();
    let bought: i64 = months.periods.iter().map(|p| p.purchases).sum();
    ensure!(bought > 0 && months.periods.len() == 12, "{} periods, {bought} purchases", months.periods.len());
    let started = Instant::now();
    let weeks =
        kpis::get(&db, &actor, KpiQuery { granularity: Some(Granularity::Week), ..KpiQuery::default() }).await?;
    let kpis_weeks = started.elapsed();
    ensure!(weeks.periods.len() == 12, "{} weeks", weeks.periods.len());
    eprintln!(
        "{backend}: RFM {:.2} s, KPIs {:.2} s / {:.2} s",
        rfm_time.as_secs_f64(),
        kpis_months.as_secs_f64(),
        kpis_weeks.as_secs_f64()
    );
    Ok(Report {
        backend,
        members,
        purchases,
        rfm: rfm_time,
        rfm_page,
        kpis_months,
        kpis_weeks,
        scored: scored.members_scored,
    })
}
