//! Scan-to-push latency and push drain, over real HTTP, against the local APNs stand-in of the
//! tests (HTTP/2, TLS, the pass certificate as client identity), on SQLite and (when
//! `ENCARTE_BENCH_DATABASE_URL` is set) on PostgreSQL.
//!
//! Latency: purchases at `BENCH_RATE` per second (default 100) for `BENCH_SECONDS` (default 30)
//! on cards whose pass sits on a registered device; for each purchase, the time from its 201
//! answer to the stand-in receiving that device's push (0 when the push came first).
//! Drain: `BENCH_PUSHES` (default 100,000) push jobs queued at once, timed until the stand-in
//! has received them all.
//!
//! The service, the stand-in, the load and PostgreSQL share the machine: compare runs on one
//! machine only.

// Bench code may unwrap and cast: a panic is the failure report, and figures need not be exact.
#![allow(clippy::unwrap_used, clippy::as_conversions)]

#[path = "../tests/api/apns_mock.rs"]
#[allow(dead_code)]
mod apns_mock;
mod common;

/// What the stand-in of the tests needs from their helpers: one development chain.
mod helpers {
    pub static DEV_CERTS: std::sync::LazyLock<tempfile::TempDir> = std::sync::LazyLock::new(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        encarte::wallet::apple::generate_dev_chain(
            dir.path(),
            encarte::wallet::DEV_PASS_TYPE_ID,
            encarte::wallet::DEV_TEAM_ID,
        )
        .expect("dev chain");
        dir
    });
}

use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use common::{PgSchema, count_f64, env_usize, percentile_ms};
use encarte::config::Config;
use encarte::db::repo::{self, outbox};
use encarte::startup::Application;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "bench-password-123";
/// Under the PassKit registrations allowed per client address and hour.
const CARDS: usize = 80;

#[tokio::main]
async fn main() -> ExitCode {
    common::exit_code(run().await.map(|()| true))
}

async fn run() -> anyhow::Result<()> {
    let rate = env_usize("BENCH_RATE", 100)?;
    let seconds = env_usize("BENCH_SECONDS", 30)?;
    let pushes = env_usize("BENCH_PUSHES", 100_000)?;
    let sqlite_dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}/bench.db", sqlite_dir.path().display());
    let mut rows = vec![bench_backend("SQLite", sqlite_url, rate, seconds, pushes).await?];
    if let Ok(base) = std::env::var("ENCARTE_BENCH_DATABASE_URL") {
        let schema = PgSchema::create(&base)?;
        rows.push(bench_backend("PostgreSQL", schema.app_url(), rate, seconds, pushes).await?);
    } else {
        eprintln!("ENCARTE_BENCH_DATABASE_URL is not set: PostgreSQL skipped");
    }
    println!(
        "| backend | purchases | rate/s | pushes matched | p50 ms | p90 ms | p99 ms | max ms | drain: pushes | drain s | pushes/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

async fn bench_backend(
    backend: &'static str,
    database_url: String,
    rate: usize,
    seconds: usize,
    drain: usize,
) -> anyhow::Result<String> {
    let mock = apns_mock::ApnsMock::start();
    let data_dir = tempfile::tempdir()?;
    let certs = helpers::DEV_CERTS.path();
    let config = Config {
        bind: "127.0.0.1:0".into(),
        demo: true,
        demo_password: Some(PASSWORD.into()),
        database_url: Some(database_url),
        data_dir: data_dir.path().to_path_buf(),
        http_workers: 2,
        log: "warn".into(),
        apple_cert: Some(certs.join("pass.pem")),
        apple_key: Some(certs.join("pass.key")),
        apple_wwdr: Some(certs.join("wwdr.pem")),
        apns_base_url: mock.url.clone(),
        apns_ca: Some(mock.ca.clone()),
        ..Config::default()
    };
    let app = Application::build(config).await.with_context(|| format!("cannot start on {backend}"))?;
    let (base, db) = (format!("http://127.0.0.1:{}", app.port()), app.db());
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let token = login(&client, &base).await?;

    let mut cards = Vec::with_capacity(CARDS);
    for i in 0..CARDS {
        cards.push(enrol_and_register(&client, &base, &token, i).await?);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = mock.pushes().len();

    eprintln!("{backend}: {rate} purchases/s for {seconds} s on {CARDS} registered cards");
    let mut answered: Vec<(String, Instant, Instant)> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / u32::try_from(rate)?);
    let mut tasks = Vec::new();
    for n in 0..rate * seconds {
        ticker.tick().await;
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        let (barcode, push_token) = cards[n % CARDS].clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let response = client
                .post(format!("{base}/api/v1/purchases"))
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("push-bench-{n}"))
                .json(&json!({"card": barcode, "amount_cents": 1250, "currency": "EUR"}))
                .send()
                .await?;
            ensure!(response.status() == StatusCode::CREATED, "purchase answered {}", response.status());
            Ok::<_, anyhow::Error>((push_token, sent, Instant::now()))
        }));
    }
    for task in tasks {
        answered.push(task.await??);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Each purchase's push: the first to its device after the purchase was sent.
    let mut by_token: HashMap<String, Vec<Instant>> = HashMap::new();
    for push in mock.pushes().into_iter().skip(before) {
        by_token.entry(push.token).or_default().push(push.at);
    }
    let mut latencies = Vec::new();
    for (push_token, sent, got) in &answered {
        if let Some(at) = by_token.get(push_token).and_then(|ats| ats.iter().find(|at| *at >= sent)) {
            latencies.push(at.saturating_duration_since(*got));
        }
    }
    latencies.sort();

    // Drain: that many pushes queued at once, to devices of their own.
    let queued_at_start = mock.pushes().len();
    let started = Instant::now();
    let batch = 5000;
    for chunk in 0..drain.div_ceil(batch) {
        db.write(move |c| {
            let now = repo::now();
            for i in chunk * batch..((chunk + 1) * batch).min(drain) {
                let payload =
                    json!({"push_token": format!("{i:064x}"), "pass_type_id": encarte::wallet::DEV_PASS_TYPE_ID})
                        .to_string();
                let dedupe = format!("apple_push:{i:064x}");
                outbox::enqueue(
                    c,
                    &outbox::NewJob {
                        program_id: None,
                        kind: "apple_push",
                        payload: &payload,
                        dedupe_key: Some(&dedupe),
                        state: encarte::domain::status::JobState::Pending,
                        attempts: 0,
                        max_attempts: 12,
                        run_at: now,
                        created_at: now,
                    },
                )?;
            }
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("queueing pushes: {e}"))?;
    }
    let deadline = started + Duration::from_mins(15);
    while mock.pushes().len() < queued_at_start + drain && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = mock.pushes().len() - queued_at_start;
    let took = started.elapsed().as_secs_f64();
    server.abort();

    Ok(format!(
        "| {backend} | {} | {rate} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {drained} | {took:.1} | {:.0} |",
        answered.len(),
        latencies.len(),
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 90.0),
        percentile_ms(&latencies, 99.0),
        latencies.last().map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
        count_f64(drained) / took,
    ))
}

async fn login(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "cashier@demo.test", "password": PASSWORD}))
        .send()
        .await?;
    ensure!(response.status() == StatusCode::OK, "login answered {}", response.status());
    let body: Value = response.json().await?;
    Ok(body["token"].as_str().context("a token")?.to_owned())
}

/// A customer whose pass is on a phone: (barcode, push token).
async fn enrol_and_register(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    i: usize,
) -> anyhow::Result<(String, String)> {
    let response = client
        .post(format!("{base}/api/v1/customers"))
        .bearer_auth(token)
        .json(&json!({"email": format!("p{i}@bench.test"), "first_name": "P"}))
        .send()
        .await?;
    ensure!(response.status() == StatusCode::CREATED, "enrolment answered {}", response.status());
    let card: Value = response.json().await?;
    let (id, barcode) = (card["card"]["id"].as_str().context("id")?, card["card"]["barcode"].as_str().context("bc")?);
    let pkpass = client.get(format!("{base}/api/v1/cards/{id}/pass.pkpass")).bearer_auth(token).send().await?;
    let pkpass = pkpass.bytes().await?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(pkpass))?;
    let mut text = String::new();
    zip.by_name("pass.json")?.read_to_string(&mut text)?;
    let pass: Value = serde_json::from_str(&text)?;
    let (serial, auth) =
        (pass["serialNumber"].as_str().context("serial")?, pass["authenticationToken"].as_str().context("auth")?);
    let push_token = format!("{:064x}", 0xbe00_0000_usize + i);
    let path = format!(
        "{base}/wallet/apple/v1/devices/bench-{i}/registrations/{}/{serial}",
        encarte::wallet::DEV_PASS_TYPE_ID
    );
    let registered = client
        .post(path)
        .header("Authorization", format!("ApplePass {auth}"))
        .json(&json!({"pushToken": push_token}))
        .send()
        .await?;
    ensure!(registered.status() == StatusCode::CREATED, "registration answered {}", registered.status());
    Ok((barcode.to_owned(), push_token))
}
