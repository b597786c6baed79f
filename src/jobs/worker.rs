use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::{FutureExt, future::BoxFuture};
use rand::Rng;
use tracing::Instrument;

use super::{JobError, Registry};
use crate::db::{Db, repo};
use crate::error::AppResult;

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Jobs running at once on this worker.
    pub concurrency: usize,
    /// Lower limits for some kinds (e-mail: what the SMTP relay takes at once).
    pub kind_limits: HashMap<&'static str, usize>,
    pub lease: Duration,
    /// How long an idle worker waits when no job is announced (the bell is the usual wake-up).
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

struct Room {
    free: i64,
    /// Kinds with no limit but the overall one.
    open: Vec<&'static str>,
    limited: Vec<(&'static str, i64)>,
}

/// A run that ended: what to record.
struct Finished {
    job: repo::outbox::Job,
    outcome: Result<(), JobError>,
}

impl Worker {
    pub fn new(db: Db, registry: Arc<Registry>, settings: WorkerSettings) -> Self {
        let id = format!("{}-{}", std::process::id(), repo::new_id());
        Worker { db, registry, settings, id }
    }

    /// How many more jobs may start, overall and for each kind with a limit of its own, given
    /// those running; None when there is no room.
    fn room(&self, running: &HashMap<String, usize>) -> Option<Room> {
        let busy: usize = running.values().sum();
        let free = self.settings.concurrency.saturating_sub(busy);
        let mut room = Room { free: i64::try_from(free).unwrap_or(i64::MAX), open: Vec::new(), limited: Vec::new() };
        for kind in self.registry.kinds() {
            match self.settings.kind_limits.get(kind) {
                None => room.open.push(kind),
                Some(limit) => {
                    let left = limit.saturating_sub(running.get(kind).copied().unwrap_or(0)).min(free);
                    if left > 0 {
                        room.limited.push((kind, i64::try_from(left).unwrap_or(i64::MAX)));
                    }
                }
            }
        }
        (room.free > 0 && !(room.open.is_empty() && room.limited.is_empty())).then_some(room)
    }

    /// Claims what there is room for, in one transaction.
    async fn claim(&self, room: Room) -> AppResult<Vec<repo::outbox::Job>> {
        let owner = self.id.clone();
        let lease = chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::seconds(60));
        self.db
            .write(move |c| {
                let mut jobs = Vec::new();
                if !room.open.is_empty() {
                    jobs.extend(repo::outbox::claim(c, &room.open, &owner, lease, room.free)?);
                }
                for (kind, n) in room.limited {
                    let left = (room.free - i64::try_from(jobs.len()).unwrap_or(i64::MAX)).min(n);
                    if left > 0 {
                        jobs.extend(repo::outbox::claim(c, &[kind], &owner, lease, left)?);
                    }
                }
                Ok(jobs)
            })
            .await
    }

    fn start(&self, job: repo::outbox::Job) -> BoxFuture<'static, Finished> {
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
        let runner = self.registry.runner(&job.kind);
        // The lease started at the claim, before this: stop a tenth early so that no other
        // worker takes the job over while this one may still be writing.
        let limit = self.settings.lease * 9 / 10;
        async move {
            let outcome = match runner {
                Some(run) => match tokio::time::timeout(limit, run(job.clone())).await {
                    Ok(result) => result,
                    Err(_) => Err(JobError::Retry(anyhow::anyhow!("timed out after {limit:?}"))),
                },
                None => Err(JobError::Retry(anyhow::anyhow!("no handler for kind {}", job.kind))),
            };
            Finished { job, outcome }
        }
        .instrument(span)
        .boxed()
    }

    /// Records outcomes: every success in one UPDATE, each failure with its error and backoff.
    async fn record(&self, finished: Vec<Finished>) {
        let owner = self.id.clone();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for f in finished {
            match f.outcome {
                Ok(()) => done.push(f.job.id),
                Err(err) => {
                    let (message, permanent) = match err {
                        JobError::Retry(e) => (format!("{e:#}"), false),
                        JobError::Permanent(e) => (format!("{e:#}"), true),
                    };
                    let job = f.job;
                    let _span = tracing::info_span!("job", id = job.id, kind = %job.kind).entered();
                    if permanent || job.attempts >= job.max_attempts {
                        tracing::error!(error = message, "job failed for good");
                    } else {
                        tracing::warn!(error = message, "job failed; will retry");
                    }
                    let retry_at = repo::now() + chrono::Duration::from_std(backoff(job.attempts)).unwrap_or_default();
                    failed.push((job, message, retry_at, permanent));
                }
            }
        }
        let expected = done.len();
        let recorded = self
            .db
            .write(move |c| {
                let completed = repo::outbox::complete_many(c, &done, &owner)?;
                let mut lost = expected - completed.min(expected);
                for (mut job, message, retry_at, permanent) in failed {
                    if permanent {
                        job.attempts = job.max_attempts;
                    }
                    if !repo::outbox::fail(c, &job, &owner, &message, retry_at)? {
                        lost += 1;
                    }
                }
                Ok(lost)
            })
            .await;
        match recorded {
            Ok(0) => {}
            Ok(lost) => tracing::warn!(lost, "lease lost before the outcome was recorded; another worker owns the job"),
            Err(e) => tracing::error!(error = %e, "could not record the jobs' outcome"),
        }
    }

    /// Claims one batch (as much as there is room for) and runs it to the end; returns how many
    /// jobs ran. For `drain`: tests and `encarte worker --once`.
    pub async fn run_once(&self) -> AppResult<usize> {
        let Some(room) = self.room(&HashMap::new()) else { return Ok(0) };
        let jobs = self.claim(room).await?;
        let count = jobs.len();
        let finished = futures_util::future::join_all(jobs.into_iter().map(|job| self.start(job))).await;
        self.record(finished).await;
        Ok(count)
    }

    /// Runs until the task is dropped. Jobs run concurrently up to the limits; a finished job's
    /// slot is refilled at once. Idle, it waits for the database's bell (a commit that queued a
    /// job) or `poll`; purges old idempotency keys now and then.
    pub async fn run(self) {
        tracing::info!(worker = self.id, kinds = ?self.registry.kinds(), "outbox worker started");
        self.db.listen_for_jobs();
        let mut bell = self.db.bell().subscribe();
        let mut running = FuturesUnordered::new();
        let mut kinds_running: HashMap<String, usize> = HashMap::new();
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|t| t.elapsed() > Duration::from_secs(600)) {
                last_purge = Some(std::time::Instant::now());
                self.purge().await;
            }
            // Seen before the claim: a job queued during it rings again.
            bell.borrow_and_update();
            let claimed = match self.room(&kinds_running) {
                Some(room) => {
                    let free = room.free;
                    match self.claim(room).await {
                        Ok(jobs) => Some((jobs, free)),
                        Err(e) => {
                            tracing::warn!(error = %e, "claiming jobs failed");
                            tokio::time::sleep(self.settings.poll).await;
                            continue;
                        }
                    }
                }
                None => None,
            };
            if let Some((jobs, free)) = claimed {
                let full = i64::try_from(jobs.len()).unwrap_or(i64::MAX) >= free;
                for job in jobs {
                    *kinds_running.entry(job.kind.clone()).or_default() += 1;
                    running.push(self.start(job));
                }
                if full && self.room(&kinds_running).is_some() {
                    // Every slot it could fill was filled: there may be more waiting.
                    continue;
                }
            }
            tokio::select! {
                Some(first) = running.next(), if !running.is_empty() => {
                    // Whatever else finished meanwhile is recorded with it.
                    let mut finished = vec![first];
                    while let Some(Some(more)) = running.next().now_or_never() {
                        finished.push(more);
                    }
                    for f in &finished {
                        if let Some(n) = kinds_running.get_mut(&f.job.kind) {
                            *n = n.saturating_sub(1);
                        }
                    }
                    self.record(finished).await;
                }
                _ = bell.changed() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    async fn purge(&self) {
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
