//! What the HTTP benches share: settings from the environment, a throwaway PostgreSQL schema, percentiles.

#![allow(dead_code)]

pub mod seed;

use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// The process status for a bench's outcome: `Ok(false)` is a goal missed, an error is printed.
pub fn exit_code(outcome: anyhow::Result<bool>) -> std::process::ExitCode {
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("benchmark failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `bench` on a fresh SQLite file, then, when `ENCARTE_BENCH_DATABASE_URL` is set, on a throwaway
/// PostgreSQL schema: one report per backend, in that order.
pub async fn on_each_backend<R, Fut>(mut bench: impl FnMut(&'static str, String) -> Fut) -> anyhow::Result<Vec<R>>
where
    Fut: std::future::Future<Output = anyhow::Result<R>>,
{
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut reports = vec![bench("sqlite", format!("sqlite://{}/bench.db", dir.path().display())).await?];
    if let Ok(base) = std::env::var("ENCARTE_BENCH_DATABASE_URL") {
        let schema = PgSchema::create(&base)?;
        reports.push(bench("postgres", schema.app_url()).await?);
    } else {
        eprintln!("ENCARTE_BENCH_DATABASE_URL not set: PostgreSQL skipped");
    }
    Ok(reports)
}

pub fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => {
            v.parse().ok().filter(|&n| n > 0).with_context(|| format!("{name} must be a positive integer, not {v:?}"))
        }
        Err(_) => Ok(default),
    }
}

/// A throwaway PostgreSQL schema, so that runs never see each other's rows.
pub struct PgSchema {
    base_url: String,
    name: String,
}

impl PgSchema {
    pub fn create(base_url: &str) -> anyhow::Result<Self> {
        let name = format!("bench_{:08x}", rand::random::<u32>());
        let mut conn = PgConnection::establish(base_url).context("cannot connect to ENCARTE_BENCH_DATABASE_URL")?;
        conn.batch_execute(&format!("CREATE SCHEMA {name}")).context("cannot create the bench schema")?;
        Ok(PgSchema { base_url: base_url.to_owned(), name })
    }

    /// The URL the service uses: every unqualified table lands in our schema.
    pub fn app_url(&self) -> String {
        let sep = if self.base_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base_url, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if std::env::var_os("BENCH_KEEP_SCHEMA").is_some() {
            eprintln!("schema {} kept (BENCH_KEEP_SCHEMA)", self.name);
            return;
        }
        let dropped = PgConnection::establish(&self.base_url)
            .map_err(anyhow::Error::from)
            .and_then(|mut c| Ok(c.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name))?));
        if let Err(e) = dropped {
            eprintln!("could not drop schema {}: {e:#}", self.name);
        }
    }
}

/// A count as `f64`, for rates: exact up to 2^53, far beyond any count a bench makes.
#[allow(clippy::cast_precision_loss)]
pub fn count_f64(n: usize) -> f64 {
    n as f64
}

pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // The float-to-integer cast saturates (NaN is 0), and the rank is clamped into 1..=len below.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p / 100.0) * count_f64(sorted.len())).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Turns the demo programme's tiers off, so that every purchase earns at the base rate and a
/// bench's expected balances hold (a card past the demo's Gold threshold would earn more).
pub async fn tiers_off(client: &reqwest::Client, base: &str, manager_token: &str) -> anyhow::Result<()> {
    let response = client
        .put(format!("{base}/api/v1/program/tiers"))
        .bearer_auth(manager_token)
        .json(&serde_json::json!([]))
        .send()
        .await?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "turning tiers off answered {status}: {}", response.text().await?);
    Ok(())
}
