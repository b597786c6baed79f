//! Throughput and latency of `POST /api/v1/purchases`, over real HTTP, on SQLite and (when
//! `ENCARTE_BENCH_DATABASE_URL` is set) on PostgreSQL. The server runs in this process, so the
//! load generator competes with it for the same cores: figures are for comparing runs on one
//! machine, not for capacity planning.
//!
//! `BENCH_REQUESTS` (default 4000) and `BENCH_CONCURRENCY` (default 16) tune the measured phase.
//! Each backend runs six phases on one server: plain purchases; purchases that each use one voucher
//! of the card (1 € off, so 11 points instead of 12), for the cost of a voucher at the till; then,
//! in turn, twice each, plain purchases with Mexx's three tiers (thresholds ×1000, so that no card
//! changes tier and the balances stay checkable) and Mexx's points expiry on (12 months after
//! earning, end of month), for the cost of evaluating tiers on every sale, and plain purchases
//! with both off again. Each kind's phases are reported together.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use common::{PgSchema, count_f64, env_usize, percentile_ms};
use encarte::config::Config;
use encarte::startup::Application;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;
use serde_json::json;

const PASSWORD: &str = "bench-password-123";
const CUSTOMERS: usize = 200;
const WARMUP: usize = 200;
const AMOUNT_CENTS: i64 = 1250;
/// The demo program earns 1 point per euro, rounded down.
const POINTS_PER_PURCHASE: i64 = 12;
/// What each voucher of the voucher phase takes off, and the points left to earn.
const VOUCHER_CENTS: i64 = 100;
const POINTS_WITH_VOUCHER: i64 = 11;
/// Only the first few failures are printed: one cause usually fails every request.
const FAILURES_SHOWN: usize = 5;

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await)
}

async fn run() -> anyhow::Result<bool> {
    let requests = env_usize("BENCH_REQUESTS", 4000)?;
    let concurrency = env_usize("BENCH_CONCURRENCY", 16)?;

    let sqlite_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let sqlite_url = format!("sqlite://{}/bench.db", sqlite_dir.path().display());
    let mut reports = bench_backend("sqlite", sqlite_url, requests, concurrency).await?;

    match std::env::var("ENCARTE_BENCH_DATABASE_URL") {
        Ok(base_url) => {
            let schema = PgSchema::create(&base_url)?;
            // The schema is dropped (by `PgSchema`'s Drop) whether or not the run succeeded.
            reports.extend(bench_backend("postgres", schema.app_url(), requests, concurrency).await?);
        }
        Err(_) => eprintln!("ENCARTE_BENCH_DATABASE_URL is not set: PostgreSQL skipped"),
    }

    print_table(&reports);
    Ok(reports.iter().all(|r| r.failures == 0 && r.balance_errors == 0))
}

/// What the load workers share.
struct Target {
    client: reqwest::Client,
    base: String,
    token: String,
    barcodes: Vec<String>,
    /// Pre-serialised purchase bodies, one per card: the load generator shares the CPU with the server.
    bodies: Vec<String>,
    /// In the voucher phase, the bodies of each card's purchases in turn, each with a voucher of its own.
    voucher_bodies: Vec<Vec<String>>,
    /// Purchases answered 201, per card, for the balance check: without and with a voucher.
    earned: Vec<AtomicU64>,
    earned_with_voucher: Vec<AtomicU64>,
    failures_shown: AtomicUsize,
}

impl Target {
    /// Purchase `round` of `card` (its `round`-th in this phase); `voucher`: with one of its vouchers.
    async fn purchase(&self, card: usize, round: usize, voucher: bool) -> anyhow::Result<()> {
        let body = if voucher {
            self.voucher_bodies[card].get(round).context("no voucher left for this card")?.clone()
        } else {
            self.bodies[card].clone()
        };
        let response = self
            .client
            .post(format!("{}/api/v1/purchases", self.base))
            .bearer_auth(&self.token)
            .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        // Read the whole body: latency is until the answer has arrived, and the connection is reused.
        let body = response.text().await?;
        ensure!(status == StatusCode::CREATED, "{status}: {body}");
        Ok(())
    }
}

struct Phase {
    elapsed: Duration,
    latencies: Vec<Duration>,
    failures: usize,
}

/// Sends `count` purchases through `concurrency` workers; request `first + i` goes to card
/// `(first + i) % cards`, so that warm-up and measured phases continue one round-robin.
async fn load(
    target: &Arc<Target>,
    first: usize,
    count: usize,
    concurrency: usize,
    voucher: bool,
) -> anyhow::Result<Phase> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, next) = (Arc::clone(target), Arc::clone(&next));
            tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::with_capacity(count / concurrency + 1), 0);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break (latencies, failures);
                    }
                    let (card, round) = ((first + i) % target.barcodes.len(), (first + i) / target.barcodes.len());
                    let sent = Instant::now();
                    let outcome = target.purchase(card, round, voucher).await;
                    latencies.push(sent.elapsed());
                    let earned = if voucher { &target.earned_with_voucher } else { &target.earned };
                    match outcome {
                        Ok(()) => _ = earned[card].fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            failures += 1;
                            if target.failures_shown.fetch_add(1, Ordering::Relaxed) < FAILURES_SHOWN {
                                eprintln!("purchase on card {} failed: {e:#}", target.barcodes[card]);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let (mut latencies, mut failures) = (Vec::with_capacity(count), 0);
    for worker in workers {
        let (l, f) = worker.await.context("a load worker panicked")?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(Phase { elapsed, latencies, failures })
}

/// The measured phases in turn, on one server. Plain and tiers alternate so that neither always
/// runs on the larger tables; each kind's rounds are reported together.
const SEQUENCE: [Kind; 6] = [Kind::Plain, Kind::Voucher, Kind::Tiers, Kind::Plain, Kind::Tiers, Kind::Plain];

/// What a measured phase's purchases carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Voucher,
    Tiers,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Voucher => "voucher",
            Kind::Tiers => "tiers+expiry",
        }
    }
}

struct Report {
    backend: &'static str,
    kind: Kind,
    concurrency: usize,
    phase: Phase,
    /// Warm-up and measured failures together.
    failures: usize,
    balance_errors: usize,
}

async fn bench_backend(
    backend: &'static str,
    database_url: String,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Report>> {
    let data_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let config = Config {
        bind: "127.0.0.1:0".into(),
        demo: true,
        demo_password: Some(PASSWORD.into()),
        database_url: Some(database_url),
        data_dir: data_dir.path().to_path_buf(),
        http_workers: 2,
        log: "warn".into(),
        ..Config::default()
    };
    let app = Application::build(config).await.with_context(|| format!("cannot start the service on {backend}"))?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    let server = tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let token = login(&client, &base).await?;
    let barcodes = enrol(&client, &base, &token).await?;
    let bodies = barcodes
        .iter()
        .map(|b| json!({"card": b, "amount_cents": AMOUNT_CENTS, "currency": "EUR"}).to_string())
        .collect();
    let rounds = (WARMUP + requests).div_ceil(barcodes.len());
    let manager = login_as(&client, &base, "owner@demo.test").await?;
    common::tiers_off(&client, &base, &manager).await?;
    let voucher_bodies = issue_vouchers(&client, &base, &manager, &barcodes, rounds).await?;
    caught_up(&db).await?;
    let earned = barcodes.iter().map(|_| AtomicU64::new(0)).collect();
    let earned_with_voucher = barcodes.iter().map(|_| AtomicU64::new(0)).collect();
    let target = Arc::new(Target {
        client,
        base,
        token,
        barcodes,
        bodies,
        voucher_bodies,
        earned,
        earned_with_voucher,
        failures_shown: AtomicUsize::new(0),
    });

    let mut reports: Vec<Report> = Vec::new();
    let mut tiers = false;
    for kind in SEQUENCE {
        eprintln!(
            "{backend}, {}: warm-up ({WARMUP} requests), then {requests} requests at concurrency {concurrency}",
            kind.name()
        );
        if (kind == Kind::Tiers) != tiers {
            tiers = kind == Kind::Tiers;
            tiers_and_expiry(&target.client, &target.base, &manager, tiers).await?;
            // Switching enqueues a re-evaluation of every card and a refresh of every pass: let
            // the worker finish them, so that the phase times purchases, not the switch.
            caught_up(&db).await?;
        }
        let vouchers = kind == Kind::Voucher;
        let warmup = load(&target, 0, WARMUP, concurrency, vouchers).await?;
        let phase = load(&target, WARMUP, requests, concurrency, vouchers).await?;
        let failures = warmup.failures + phase.failures;
        match reports.iter_mut().find(|r| r.kind == kind) {
            Some(r) => {
                r.phase.elapsed += phase.elapsed;
                r.phase.latencies.extend(phase.latencies);
                r.phase.latencies.sort_unstable();
                r.phase.failures += phase.failures;
                r.failures += failures;
            }
            None => reports.push(Report { backend, kind, concurrency, phase, failures, balance_errors: 0 }),
        }
    }
    let balance_errors = check_balances(&target).await?;
    for r in &mut reports {
        r.balance_errors = balance_errors;
    }

    // Best effort: actix's own threads may linger idle until the process exits, which is harmless.
    server.abort();
    Ok(reports)
}

/// On: Mexx's tiers (Lin / Velours / Soie earning double) with thresholds a thousand times higher
/// (every purchase evaluates them, none moves a card), and its points expiry. Off: neither.
async fn tiers_and_expiry(client: &reqwest::Client, base: &str, manager: &str, on: bool) -> anyhow::Result<()> {
    let spend = |key: &str, cents: i64| json!({"key": key, "name": key, "qualify": {"any_of": [{"metric": "spend_cents", "at_least": cents}]}});
    let mut soie = spend("soie", 60_000_000);
    soie["earn_multiplier_percent"] = json!(200);
    let (tiers, expiry) = if on {
        (
            json!([{"key": "lin", "name": "Lin"}, spend("velours", 25_000_000), soie]),
            json!({"mode": "after_earning", "months": 12, "round": "end_of_month"}),
        )
    } else {
        (json!([]), json!({"mode": "off"}))
    };
    for (path, body) in [("tiers", tiers), ("expiry", expiry)] {
        let response =
            client.put(format!("{base}/api/v1/program/{path}")).bearer_auth(manager).json(&body).send().await?;
        let status = response.status();
        ensure!(status == StatusCode::OK, "setting the {path} answered {status}: {}", response.text().await?);
    }
    Ok(())
}

/// Waits (up to a minute) until no job is due or running.
async fn caught_up(db: &encarte::db::Db) -> anyhow::Result<()> {
    for _ in 0..600 {
        if db.read(|c| Ok(encarte::db::repo::outbox::outstanding(c)?)).await? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the worker did not catch up within a minute")
}

/// `rounds` vouchers of 1 € per card, given by a manager, and the purchase body using each.
async fn issue_vouchers(
    client: &reqwest::Client,
    base: &str,
    manager: &str,
    barcodes: &[String],
    rounds: usize,
) -> anyhow::Result<Vec<Vec<String>>> {
    #[derive(Deserialize)]
    struct Voucher {
        code: String,
    }
    #[derive(Deserialize)]
    struct Given {
        voucher: Voucher,
    }
    let mut bodies = Vec::with_capacity(barcodes.len());
    for barcode in barcodes {
        let mut card = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let response = client
                .post(format!("{base}/api/v1/cards/{barcode}/vouchers"))
                .bearer_auth(manager)
                .header("Idempotency-Key", uuid::Uuid::now_v7().to_string())
                .json(&json!({"voucher": {"amount_off_cents": VOUCHER_CENTS}, "validity_days": 30, "reason": "bench"}))
                .send()
                .await?;
            let status = response.status();
            ensure!(status == StatusCode::CREATED, "giving a voucher answered {status}: {}", response.text().await?);
            let code = response.json::<Given>().await?.voucher.code;
            card.push(
                json!({"card": barcode, "amount_cents": AMOUNT_CENTS, "currency": "EUR", "voucher_code": code})
                    .to_string(),
            );
        }
        bodies.push(card);
    }
    Ok(bodies)
}

/// The fields of the API's card that the bench reads.
#[derive(Deserialize)]
struct Card {
    barcode: String,
    balance: i64,
}

async fn login(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    login_as(client, base, "cashier@demo.test").await
}

async fn login_as(client: &reqwest::Client, base: &str, email: &str) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Login {
        token: String,
    }
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await?;
    let status = response.status();
    ensure!(status == StatusCode::OK, "login answered {status}: {}", response.text().await?);
    Ok(response.json::<Login>().await?.token)
}

/// Enrols the customers and returns their cards' barcodes.
async fn enrol(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Enrolled {
        card: Card,
    }
    let mut barcodes = Vec::with_capacity(CUSTOMERS);
    for i in 0..CUSTOMERS {
        let response = client
            .post(format!("{base}/api/v1/customers"))
            .bearer_auth(token)
            .json(&json!({"email": format!("c{i}@bench.test"), "first_name": "C"}))
            .send()
            .await?;
        let status = response.status();
        ensure!(status == StatusCode::CREATED, "creating customer {i} answered {status}: {}", response.text().await?);
        barcodes.push(response.json::<Enrolled>().await?.card.barcode);
    }
    Ok(barcodes)
}

/// Every card's balance must be exactly the points of the purchases that were answered 201:
/// a lost update under concurrency would show here. All cards are checked; it costs a second.
async fn check_balances(target: &Target) -> anyhow::Result<usize> {
    let mut errors = 0;
    for ((barcode, earned), with_voucher) in target.barcodes.iter().zip(&target.earned).zip(&target.earned_with_voucher)
    {
        let response = target
            .client
            .get(format!("{}/api/v1/cards/{barcode}", target.base))
            .bearer_auth(&target.token)
            .send()
            .await?;
        let status = response.status();
        ensure!(status == StatusCode::OK, "reading card {barcode} answered {status}: {}", response.text().await?);
        let balance = response.json::<Card>().await?.balance;
        let expected = POINTS_PER_PURCHASE * i64::try_from(earned.load(Ordering::Relaxed))?
            + POINTS_WITH_VOUCHER * i64::try_from(with_voucher.load(Ordering::Relaxed))?;
        if balance != expected {
            errors += 1;
            eprintln!("card {barcode}: balance {balance}, expected {expected}");
        }
    }
    Ok(errors)
}

/// Requests answered per second.
fn throughput(phase: &Phase) -> f64 {
    count_f64(phase.latencies.len()) / phase.elapsed.as_secs_f64()
}

fn print_table(reports: &[Report]) {
    let header =
        ["backend", "phase", "conc", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "failed", "balances"];
    println!("\n{:<9}{}", header[0], header[1..].iter().map(|h| format!("{h:>9}")).collect::<String>());
    for r in reports {
        let l = &r.phase.latencies;
        let [p50, p90, p99, max] = [50.0, 90.0, 99.0, 100.0].map(|p| percentile_ms(l, p));
        let balances = if r.balance_errors == 0 { "ok".to_owned() } else { format!("{} bad", r.balance_errors) };
        let (backend, conc, n, rps) = (r.backend, r.concurrency, l.len(), throughput(&r.phase));
        let vouchers = r.kind.name();
        println!(
            "{backend:<9}{vouchers:>9}{conc:>9}{n:>9}{rps:>9.1}{p50:>9.2}{p90:>9.2}{p99:>9.2}{max:>9.2}{:>9}{balances:>9}",
            r.failures
        );
    }
    println!();
    for phases in reports.chunk_by(|a, b| a.backend == b.backend) {
        if let [plain, others @ ..] = phases {
            for with in others {
                println!(
                    "{}: {} / plain: throughput {:.2}, p50 {:.2}",
                    plain.backend,
                    with.kind.name(),
                    throughput(&with.phase) / throughput(&plain.phase),
                    percentile_ms(&with.phase.latencies, 50.0) / percentile_ms(&plain.phase.latencies, 50.0)
                );
            }
        }
    }
}
