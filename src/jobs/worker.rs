use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::Instrument;

use super::Registry;
use crate::db::{Db, repo};
use crate::error::AppResult;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub batch: i64,
    pub lease: Duration,
    pub poll: Duration,
    pub idempotency_retention: chrono::Duration,
}

#[derive(Clone)]
pub struct Worker {
    db: Db,
    registry: Arc<Registry>,
    settings: WorkerSettings,
    /// Written into each lease, so a worker whose lease expired can't overwrite its successor.
    id: String,
}

/// Delay before attempt `attempts + 1`: 2 s doubling per attempt, capped at one hour, with
/// "equal jitter" (a random point in the upper half) so that a burst of failures spreads out.
pub fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let full = Duration::from_secs(2).saturating_mul(2u32.saturating_pow(exp)).min(Duration::from_secs(3600));
    let half = full / 2;
    half + Duration::from_millis(rand::rng().random_range(0..=u64::try_from(half.as_millis()).unwrap_or(0)))
}

impl Worker {
    pub fn new(db: Db, registry: Arc<Registry>, settings: WorkerSettings) -> Self {
        let id = format!("{}-{}", std::process::id(), repo::new_id());
        Worker { db, registry, settings, id }
    }

    /// Claims one batch and runs it to the end; returns how many jobs ran.
    pub async fn run_once(&self) -> AppResult<usize> {
        let kinds = self.registry.kinds();
        let (owner, lease, batch) = (self.id.clone(), self.settings.lease, self.settings.batch);
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
        let jobs = self
            .db
            .write(move |c| {
                let kinds: Vec<&str> = kinds.to_vec();
                Ok(repo::outbox::claim(c, &kinds, &owner, lease, batch)?)
            })
            .await?;
        let count = jobs.len();
        let runs = jobs.into_iter().map(|job| self.run_job(job));
        futures_util::future::join_all(runs).await;
        Ok(count)
    }

    async fn run_job(&self, job: repo::outbox::Job) {
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
        self.run_job_in_span(job).instrument(span).await
    }

    async fn run_job_in_span(&self, job: repo::outbox::Job) {
        let outcome = match self.registry.handler(&job.kind) {
            // The lease started at the claim, before this: stop a tenth early so that no other
            // worker takes the job over while this one may still be writing.
            Some(handler) => match tokio::time::timeout(self.settings.lease * 9 / 10, handler.run(job.clone())).await {
                Ok(result) => result,
                Err(_) => Err(anyhow::anyhow!("timed out after {:?}", self.settings.lease * 9 / 10)),
            },
            None => Err(anyhow::anyhow!("no handler for kind {}", job.kind)),
        };
        let owner = self.id.clone();
        let recorded = match outcome {
            Ok(()) => {
                let id = job.id;
                self.db.write(move |c| Ok(repo::outbox::complete(c, id, &owner)?)).await
            }
            Err(err) => {
                let message = format!("{err:#}");
                if job.attempts >= job.max_attempts {
                    tracing::error!(error = message, "job failed for good");
                } else {
                    tracing::warn!(error = message, "job failed; will retry");
                }
                let retry_at = repo::now() + chrono::Duration::from_std(backoff(job.attempts)).unwrap_or_default();
                self.db.write(move |c| Ok(repo::outbox::fail(c, &job, &owner, &message, retry_at)?)).await
            }
        };
        match recorded {
            Ok(true) => {}
            Ok(false) => tracing::warn!("lease lost before the outcome was recorded; another worker owns the job"),
            Err(e) => tracing::error!(error = %e, "could not record the job's outcome"),
        }
    }

    /// Runs until the task is dropped. Sleeps `poll` when idle; purges old idempotency keys now and then.
    pub async fn run(self) {
        tracing::info!(worker = self.id, kinds = ?self.registry.kinds(), "outbox worker started");
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|t| t.elapsed() > Duration::from_secs(600)) {
                last_purge = Some(std::time::Instant::now());
                let cutoff = repo::now() - self.settings.idempotency_retention;
                let purge = move |c: &mut crate::db::DbConn| {
                    let keys = repo::idempotency::purge_older_than(c, cutoff)?;
                    // Guessing windows are minutes long: a day-old counter counts nothing.
                    repo::rate_limits::purge_before(c, repo::now() - chrono::Duration::days(1))?;
                    repo::customer_auth::purge_expired(c, repo::now())?;
                    Ok(keys)
                };
                match self.db.write(purge).await {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "old idempotency keys purged"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
                }
            }
            match self.run_once().await {
                Ok(0) => tokio::time::sleep(self.settings.poll).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed");
                    tokio::time::sleep(self.settings.poll).await;
                }
            }
        }
    }
}

/// Drains every due job with `workers` concurrent workers (tests and `encarte worker --once`).
pub async fn drain(workers: &[Worker]) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let counts = futures_util::future::join_all(workers.iter().map(Worker::run_once)).await;
        let mut ran = 0;
        for c in counts {
            ran += c?;
        }
        if ran == 0 {
            return Ok(total);
        }
        total += ran;
    }
}
