//! Promo codes over real HTTP, on SQLite and (when `ENCARTE_BENCH_DATABASE_URL` is set) on
//! PostgreSQL: a pool of 1,000,000 unique codes created through the API and filled by the outbox
//! worker, its CSV export, then redemptions: purchases carrying a shared code, and 2000 requests
//! racing for a code's 500 uses. The server runs in this process, so the load generator competes
//! with it for the same cores: figures are for comparing runs on one machine.
//!
//! `BENCH_REQUESTS` (default 3000) and `BENCH_CONCURRENCY` (default 16) tune the shared-code phase;
//! the contended phase runs at the same concurrency.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

mod common;

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use common::{PgSchema, count_f64, env_usize, percentile_ms};
use encarte::config::Config;
use encarte::startup::Application;
use reqwest::header::CONTENT_TYPE;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "bench-password-123";
const CUSTOMERS: usize = 200;
const POOL: usize = 1_000_000;
const WARMUP: usize = 200;
const LIMIT: usize = 500;
const REDEEMS: usize = 2000;
/// Pool codes redeemed once each (then one of them a second time) to see that the pool works.
const POOL_CODES_USED: usize = 20;
const FAILURES_SHOWN: usize = 5;
static FAILURES: AtomicUsize = AtomicUsize::new(0);

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await)
}

async fn run() -> anyhow::Result<bool> {
    let (requests, conc) = (env_usize("BENCH_REQUESTS", 3000)?, env_usize("BENCH_CONCURRENCY", 16)?);
    let sqlite_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let sqlite_url = format!("sqlite://{}/bench.db", sqlite_dir.path().display());
    let mut reports = vec![bench_backend("sqlite", sqlite_url, requests, conc).await?];
    match std::env::var("ENCARTE_BENCH_DATABASE_URL") {
        Ok(base_url) => {
            let schema = PgSchema::create(&base_url)?;
            reports.push(bench_backend("postgres", schema.app_url(), requests, conc).await?);
        }
        Err(_) => eprintln!("ENCARTE_BENCH_DATABASE_URL is not set: PostgreSQL skipped"),
    }
    print_tables(&reports, conc);
    Ok(reports.iter().all(|r| r.problems.is_empty()))
}
/// What every request needs, and the points each card should hold by the end.
struct Target {
    client: reqwest::Client,
    base: String,
    owner: String,
    cashier: String,
    barcodes: Vec<String>,
    expected: Vec<AtomicI64>,
}

/// One kind of till request: the endpoint, one body per card, the bonus each 201 must show and
/// the points it adds to the card.
struct Job(&'static str, Vec<String>, i64, i64);

impl Target {
    /// Reads as the owner (campaigns, cards).
    async fn get(&self, path: &str) -> anyhow::Result<(StatusCode, Value)> {
        send(self.client.get(format!("{}/api/v1{path}", self.base)).bearer_auth(&self.owner)).await
    }

    /// A write with a new Idempotency-Key; load bodies are serialised beforehand.
    async fn post(&self, path: &str, token: &str, body: String) -> anyhow::Result<(StatusCode, Value)> {
        let request = self.client.post(format!("{}/api/v1{path}", self.base)).bearer_auth(token);
        let request = request.header("Idempotency-Key", uuid::Uuid::now_v7().to_string());
        send(request.header(CONTENT_TYPE, "application/json").body(body)).await
    }

    /// The cashier uses a code for `card`: `Ok(true)` for a 201 with the job's bonus, `Ok(false)`
    /// for a 422 `promo_code_exhausted`, an error for anything else.
    async fn apply(&self, Job(path, _, bonus, points): &Job, card: usize, body: String) -> anyhow::Result<bool> {
        let (status, v) = self.post(path, &self.cashier, body).await?;
        match status {
            StatusCode::CREATED if v["bonus_points"] == *bonus => _ = self.expected[card].fetch_add(*points, Relaxed),
            StatusCode::UNPROCESSABLE_ENTITY if v["error"]["code"] == "promo_code_exhausted" => return Ok(false),
            _ => bail!("{status}: {v}"),
        }
        Ok(true)
    }

    async fn create_campaign(&self, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self.post("/promo-campaigns", &self.owner, body.to_string()).await?;
        ensure!(status == StatusCode::CREATED, "creating campaign {} answered {status}: {v}", body["name"]);
        Ok(v)
    }
}

/// Sends the request and reads the whole answer: latency runs until then, and the connection is reused.
async fn send(request: RequestBuilder) -> anyhow::Result<(StatusCode, Value)> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.text().await?;
    Ok((status, serde_json::from_str(&body).unwrap_or(Value::String(body))))
}

struct Phase {
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// Answers 201, answers 422 `promo_code_exhausted`, and anything else.
    counts: [usize; 3],
}

/// Sends `count` requests through `conc` workers (one keep-alive connection each); request
/// `first + i` goes to card `(first + i) % CUSTOMERS`, so that phases continue one round.
async fn load(t: &Arc<Target>, job: &Arc<Job>, first: usize, count: usize, conc: usize) -> anyhow::Result<Phase> {
    let (next, started) = (Arc::new(AtomicUsize::new(0)), Instant::now());
    let workers: Vec<_> = (0..conc)
        .map(|_| {
            let (t, job, next) = (Arc::clone(t), Arc::clone(job), Arc::clone(&next));
            tokio::spawn(async move {
                let mut answers = Vec::new();
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= count {
                        break answers;
                    }
                    let (sent, card) = (Instant::now(), (first + i) % CUSTOMERS);
                    let outcome = t.apply(&job, card, job.1[card].clone()).await;
                    answers.push((sent.elapsed(), outcome.as_ref().map_or(2, |&created| usize::from(!created))));
                    if let Err(e) = outcome
                        && FAILURES.fetch_add(1, Relaxed) < FAILURES_SHOWN
                    {
                        eprintln!("{} on card {} failed: {e:#}", job.0, t.barcodes[card]);
                    }
                }
            })
        })
        .collect();
    let (mut latencies, mut counts) = (Vec::with_capacity(count), [0; 3]);
    for worker in workers {
        for (latency, answer) in worker.await.context("a load worker panicked")? {
            latencies.push(latency);
            counts[answer] += 1;
        }
    }
    latencies.sort_unstable();
    Ok(Phase { elapsed: started.elapsed(), latencies, counts })
}

/// The pool: POST to last code stored, the CSV export and what it held.
struct PoolRun {
    filled: Duration,
    csv: Duration,
    csv_bytes: usize,
    rows: usize,
    distinct: usize,
}

/// Creates the pool, polls until the outbox job has filled it, exports it. Returns the campaign's
/// id and a few of its codes.
async fn fill_pool(t: &Target, problems: &mut Vec<String>) -> anyhow::Result<(PoolRun, String, Vec<String>)> {
    let pool = json!({"name": "Bench pool", "pool": {"count": POOL, "prefix": "NOEL", "length": 8},
        "effect": {"bonus_points": 10}});
    let started = Instant::now();
    let created = t.create_campaign(pool).await?;
    ensure!(created["pool"]["generated"] == 0, "a large pool should be filled by a job: {created}");
    let id = created["id"].as_str().context("campaign without id")?.to_owned();
    let (mut last, mut last_change) = (0, Instant::now());
    while last != POOL {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, v) = t.get(&format!("/promo-campaigns/{id}")).await?;
        let generated = v["pool"]["generated"].as_u64().with_context(|| format!("reading the pool: {status} {v}"))?;
        let generated = usize::try_from(generated)?;
        if generated != last {
            eprintln!("  {:7.2} s: {generated} codes", started.elapsed().as_secs_f64());
            (last, last_change) = (generated, Instant::now());
        }
        ensure!(last <= POOL, "pool.generated is {generated}, above its size");
        ensure!(last_change.elapsed() < Duration::from_mins(3), "pool stuck at {generated} codes for 180 s");
    }
    let filled = started.elapsed();

    let started = Instant::now();
    let response = t.client.get(format!("{}/api/v1/promo-campaigns/{id}/codes.csv", t.base)).bearer_auth(&t.owner);
    let response = response.send().await?;
    let (status, csv) = (response.status(), response.text().await?);
    let csv_time = started.elapsed();
    ensure!(status == StatusCode::OK, "exporting the pool answered {status}");
    let (header, rows) = csv.split_once('\n').unwrap_or((&csv, ""));
    let rows: Vec<&str> = rows.lines().collect();
    let codes: HashSet<&str> = rows.iter().map(|r| r.split(',').next().unwrap_or_default()).collect();
    let used = rows.iter().filter(|r| !r.ends_with(",0")).count();
    let run = PoolRun { filled, csv: csv_time, csv_bytes: csv.len(), rows: rows.len(), distinct: codes.len() };
    if header != "code,display,used" || run.rows != POOL || run.distinct != POOL || used != 0 {
        problems.push(format!("CSV: header {header:?}, {} rows, {} distinct, {used} used", run.rows, run.distinct));
    }
    Ok((run, id, codes.into_iter().take(POOL_CODES_USED).map(str::to_owned).collect()))
}

struct Report {
    backend: &'static str,
    pool: PoolRun,
    shared: Phase,
    limited: Phase,
    problems: Vec<String>,
}

async fn bench_backend(backend: &'static str, url: String, requests: usize, conc: usize) -> anyhow::Result<Report> {
    let data_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let config = Config {
        bind: "127.0.0.1:0".into(),
        demo: true,
        demo_password: Some(PASSWORD.into()),
        database_url: Some(url),
        data_dir: data_dir.path().to_path_buf(),
        http_workers: 2,
        worker: true,
        worker_poll_ms: 50,
        promo_guess_limit_staff: 1_000_000,
        promo_guess_limit_address: 1_000_000,
        log: "warn".into(),
        ..Config::default()
    };
    let app = Application::build(config).await.with_context(|| format!("cannot start the service on {backend}"))?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder().pool_max_idle_per_host(conc).build()?;
    let (owner, cashier) = (login(&client, &base, "owner").await?, login(&client, &base, "cashier").await?);
    common::tiers_off(&client, &base, &owner).await?;
    let mut t = Target { client, base, owner, cashier, barcodes: Vec::new(), expected: Vec::new() };
    let mut problems = Vec::new();

    eprintln!("{backend}: pool of {POOL} codes");
    let (pool, pool_id, kept) = fill_pool(&t, &mut problems).await?;

    // Customers, then a few pool codes redeemed once each, and one of them a second time.
    t.barcodes = enrol(&t).await?;
    t.expected = t.barcodes.iter().map(|_| AtomicI64::new(0)).collect();
    for (card, code) in kept.iter().enumerate() {
        let body = json!({"code": code, "card": t.barcodes[card]}).to_string();
        let outcome = t.apply(&Job("/promo-codes/redeem", Vec::new(), 10, 10), card, body).await;
        if !matches!(outcome, Ok(true)) {
            problems.push(format!("redeeming pool code {code} once: {outcome:?}"));
        }
    }
    let reuse = json!({"code": kept.first().context("the CSV held no codes")?, "card": t.barcodes[1]});
    let (status, v) = t.post("/promo-codes/redeem", &t.cashier, reuse.to_string()).await?;
    if status != StatusCode::UNPROCESSABLE_ENTITY || v["error"]["code"] != "promo_code_invalid" {
        problems.push(format!("reusing a pool code answered {status}: {v}"));
    }

    let shared = json!({"name": "Bench shared", "code": "BENCH26", "effect": {"bonus_points": 5}});
    let shared = t.create_campaign(shared).await?;
    let limited = json!({"name": "Bench limited", "code": "LIMITED", "max_redemptions": LIMIT,
        "effect": {"bonus_points": 1}});
    let limited = t.create_campaign(limited).await?;
    let bodies = |f: &dyn Fn(&String) -> Value| t.barcodes.iter().map(|b| f(b).to_string()).collect();
    // 12.50 EUR earns 12 points (1 point per euro, rounded down), plus the bonus of 5.
    let purchase = bodies(&|b| json!({"card": b, "amount_cents": 1250, "currency": "EUR", "promo_code": "BENCH26"}));
    let purchase = Arc::new(Job("/purchases", purchase, 5, 12 + 5));
    let redeem = Arc::new(Job("/promo-codes/redeem", bodies(&|b| json!({"code": "LIMITED", "card": b})), 1, 1));
    let t = Arc::new(t);
    eprintln!("{backend}: {WARMUP} + {requests} purchases with BENCH26, {REDEEMS} redeems of LIMITED, conc {conc}");
    let warmup = load(&t, &purchase, 0, WARMUP, conc).await?;
    let shared_phase = load(&t, &purchase, WARMUP, requests, conc).await?;
    let limited_phase = load(&t, &redeem, 0, REDEEMS, conc).await?;

    let [bought, _, failed] = [0, 1, 2].map(|k| warmup.counts[k] + shared_phase.counts[k]);
    if bought != WARMUP + requests || failed != 0 || limited_phase.counts != [LIMIT, REDEEMS - LIMIT, 0] {
        let [won, lost, other] = limited_phase.counts;
        problems
            .push(format!("{bought} purchases, {failed} failed; LIMITED: {won} × 201, {lost} × 422, {other} other"));
    }
    let ids = [(&limited["id"], LIMIT), (&shared["id"], WARMUP + requests), (&json!(pool_id), kept.len())];
    for (id, want) in ids {
        let (_, v) = t.get(&format!("/promo-campaigns/{}", id.as_str().unwrap_or_default())).await?;
        if v["redemptions"] != want {
            problems.push(format!("campaign {}: redemptions {}, expected {want}", v["name"], v["redemptions"]));
        }
    }
    for (barcode, expected) in t.barcodes.iter().zip(&t.expected) {
        let ((_, v), expected) = (t.get(&format!("/cards/{barcode}")).await?, expected.load(Relaxed));
        if v["balance"] != expected {
            problems.push(format!("card {barcode}: balance {}, expected {expected}", v["balance"]));
        }
    }
    // Best effort: actix's own threads may linger idle until the process exits, which is harmless.
    server.abort();
    Ok(Report { backend, pool, shared: shared_phase, limited: limited_phase, problems })
}

async fn login(client: &reqwest::Client, base: &str, who: &str) -> anyhow::Result<String> {
    let credentials = json!({"email": format!("{who}@demo.test"), "password": PASSWORD});
    let (status, v) = send(client.post(format!("{base}/api/v1/auth/login")).json(&credentials)).await?;
    ensure!(status == StatusCode::OK, "login as {who} answered {status}: {v}");
    Ok(v["token"].as_str().context("login without token")?.to_owned())
}

/// Enrols the customers and returns their cards' barcodes.
async fn enrol(t: &Target) -> anyhow::Result<Vec<String>> {
    let mut barcodes = Vec::with_capacity(CUSTOMERS);
    for i in 0..CUSTOMERS {
        let body = json!({"email": format!("c{i}@bench.test"), "first_name": "C"}).to_string();
        let (status, v) = t.post("/customers", &t.cashier, body).await?;
        ensure!(status == StatusCode::CREATED, "creating customer {i} answered {status}: {v}");
        barcodes.push(v["card"]["barcode"].as_str().context("card without barcode")?.to_owned());
    }
    Ok(barcodes)
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn print_tables(reports: &[Report], conc: usize) {
    let header = ["filled s", "codes/s", "CSV s", "CSV MB", "rows", "distinct", "< 10 s"];
    println!("\n{:<9}{}", "backend", header.map(|h| format!("{h:>10}")).concat());
    for Report { backend, pool: p, .. } in reports {
        let (filled, csv) = (p.filled.as_secs_f64(), p.csv.as_secs_f64());
        let (rate, mb) = (count_f64(POOL) / filled, count_f64(p.csv_bytes) / 1e6);
        let goal = if filled < 10.0 { "met" } else { "not met" };
        let (rows, distinct) = (p.rows, p.distinct);
        println!("{backend:<9}{filled:>10.2}{rate:>10.0}{csv:>10.2}{mb:>10.1}{rows:>10}{distinct:>10}{goal:>10}");
    }
    let header = ["conc", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "201", "422", "failed"];
    println!("\n{:<9}{:<18}{}", "backend", "phase", header.map(|h| format!("{h:>9}")).concat());
    for r in reports {
        for (phase, ph) in [("purchase+BENCH26", &r.shared), ("redeem LIMITED", &r.limited)] {
            let [p50, p90, p99, max] = [50.0, 90.0, 99.0, 100.0].map(|p| percentile_ms(&ph.latencies, p));
            let (backend, n, [ok, exhausted, failed]) = (r.backend, ph.latencies.len(), ph.counts);
            let rps = count_f64(n) / ph.elapsed.as_secs_f64();
            let ms = format!("{p50:>9.2}{p90:>9.2}{p99:>9.2}{max:>9.2}");
            println!("{backend:<9}{phase:<18}{conc:>9}{n:>9}{rps:>9.1}{ms}{ok:>9}{exhausted:>9}{failed:>9}");
        }
    }
    for r in reports {
        match r.problems.as_slice() {
            [] => println!("{}: all checks passed (CSV, pool code reuse, counters, balances)", r.backend),
            problems => problems.iter().for_each(|p| println!("{}: CHECK FAILED: {p}", r.backend)),
        }
    }
}
