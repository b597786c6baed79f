use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
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
    let full = Duration::from_secs(2).saturating_mul(2u32.saturating_pow(exp)).min(Duration::from_hours(1));
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

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::seconds(60))
    }

    /// Records `outcomes`, then claims what there is room for: one write transaction per turn
    /// of the loop, however many jobs ended and start.
    async fn settle_and_claim(&self, outcomes: Outcomes, room: Option<Room>) -> AppResult<Vec<repo::outbox::Job>> {
        let (owner, lease) = (self.id.clone(), self.lease());
        let (jobs, lost) = self
            .db
            .write(move |c| {
                let lost = outcomes.write(c, &owner)?;
                let jobs = match room {
                    Some(room) => claim_in(c, room, &owner, lease)?,
                    None => Vec::new(),
                };
                Ok((jobs, lost))
            })
            .await?;
        if lost > 0 {
            tracing::warn!(lost, "lease lost before the outcome was recorded; another worker owns the job");
        }
        Ok(jobs)
    }

    fn start(&self, job: repo::outbox::Job) -> BoxFuture<'static, Finished> {
        let span = tracing::info_span!("job", id = job.id, kind = %job.kind, attempt = job.attempts);
        let runner = self.registry.runner(&job.kind);
        // The lease started at the claim, before this: stop a tenth early so that no other
        // worker takes the job over while this one may still be writing.
        let limit = self.settings.lease * 9 / 10;
        async move {
            let outcome = match runner {
                // A panic is a failed attempt like any other, not a lost slot.
                Some(run) => match tokio::time::timeout(limit, AssertUnwindSafe(run(job.clone())).catch_unwind()).await
                {
                    Ok(Ok(result)) => result,
                    Ok(Err(_)) => Err(JobError::Retry(anyhow::anyhow!("the handler panicked"))),
                    Err(_) => Err(JobError::Retry(anyhow::anyhow!("timed out after {limit:?}"))),
                },
                None => Err(JobError::Retry(anyhow::anyhow!("no handler for kind {}", job.kind))),
            };
            Finished { job, outcome }
        }
        .instrument(span)
        .boxed()
    }

    /// Claims one batch (as much as there is room for) and runs it to the end; returns how many
    /// jobs ran. For `drain`: tests and `encarte worker --once`.
    pub async fn run_once(&self) -> AppResult<usize> {
        let Some(room) = self.room(&HashMap::new()) else { return Ok(0) };
        let jobs = self.settle_and_claim(Outcomes::default(), Some(room)).await?;
        let count = jobs.len();
        let finished = futures_util::future::join_all(jobs.into_iter().map(|job| self.start(job))).await;
        self.settle_and_claim(Outcomes::of(finished), None).await?;
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
        let mut finished: Vec<Finished> = Vec::new();
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if last_purge.is_none_or(|t| t.elapsed() > Duration::from_mins(10)) {
                last_purge = Some(std::time::Instant::now());
                self.purge().await;
            }
            // Seen before the claim: a job queued during it rings again.
            bell.borrow_and_update();
            for f in &finished {
                if let Some(n) = kinds_running.get_mut(&f.job.kind) {
                    *n = n.saturating_sub(1);
                }
            }
            let room = self.room(&kinds_running);
            let free = room.as_ref().map_or(0, |r| r.free);
            if room.is_some() || !finished.is_empty() {
                match self.settle_and_claim(Outcomes::of(std::mem::take(&mut finished)), room).await {
                    Ok(jobs) => {
                        let full = free > 0 && i64::try_from(jobs.len()).unwrap_or(i64::MAX) >= free;
                        for job in jobs {
                            *kinds_running.entry(job.kind.clone()).or_default() += 1;
                            // A task of its own: it goes on while this loop waits on the database.
                            running.push(tokio::spawn(self.start(job)));
                        }
                        if full && self.room(&kinds_running).is_some() {
                            // Every slot it could fill was filled: there may be more waiting.
                            continue;
                        }
                    }
                    Err(e) => {
                        // The outcomes are lost with the transaction: those jobs run again once
                        // their lease ends (delivery is at least once).
                        tracing::warn!(error = %e, "recording or claiming jobs failed");
                        tokio::time::sleep(self.settings.poll).await;
                        continue;
                    }
                }
            }
            tokio::select! {
                Some(first) = running.next(), if !running.is_empty() => {
                    // A moment for the others finishing now, so that they share the transaction.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    finished.extend(first.ok());
                    while let Some(Some(more)) = running.next().now_or_never() {
                        finished.extend(more.ok());
                    }
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
            repo::staff::purge_expired_sessions(c, repo::now())?;
            Ok(keys)
        };
        match self.db.write(purge).await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "old idempotency keys purged"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
        }
    }
}

/// What a turn of the loop records: successes (one UPDATE for all), and failures with their
/// error and the time of their retry.
#[derive(Default)]
struct Outcomes {
    done: Vec<i64>,
    failed: Vec<(repo::outbox::Job, String, chrono::NaiveDateTime)>,
}

impl Outcomes {
    fn of(finished: Vec<Finished>) -> Outcomes {
        let mut outcomes = Outcomes::default();
        for f in finished {
            let mut job = f.job;
            let (message, permanent) = match f.outcome {
                Ok(()) => {
                    outcomes.done.push(job.id);
                    continue;
                }
                Err(JobError::Retry(e)) => (format!("{e:#}"), false),
                Err(JobError::Permanent(e)) => (format!("{e:#}"), true),
            };
            let _span = tracing::info_span!("job", id = job.id, kind = %job.kind).entered();
            if permanent || job.attempts >= job.max_attempts {
                tracing::error!(error = message, "job failed for good");
            } else {
                tracing::warn!(error = message, "job failed; will retry");
            }
            if permanent {
                job.max_attempts = job.attempts;
            }
            let retry_at = repo::now() + chrono::Duration::from_std(backoff(job.attempts)).unwrap_or_default();
            outcomes.failed.push((job, message, retry_at));
        }
        outcomes
    }

    /// Returns how many outcomes could not be recorded (the lease was lost).
    fn write(self, c: &mut crate::db::DbConn, owner: &str) -> diesel::QueryResult<usize> {
        let completed = repo::outbox::complete_many(c, &self.done, owner)?;
        let mut lost = self.done.len().saturating_sub(completed);
        for (job, message, retry_at) in &self.failed {
            if !repo::outbox::fail(c, job, owner, message, *retry_at)? {
                lost += 1;
            }
        }
        Ok(lost)
    }
}

/// Claims what `room` allows: kinds without a limit of their own share one claim; each limited
/// kind has its own.
fn claim_in(
    c: &mut crate::db::DbConn,
    room: Room,
    owner: &str,
    lease: chrono::Duration,
) -> diesel::QueryResult<Vec<repo::outbox::Job>> {
    let mut jobs = Vec::new();
    if !room.open.is_empty() {
        jobs.extend(repo::outbox::claim(c, &room.open, owner, lease, room.free)?);
    }
    for (kind, n) in room.limited {
        let left = (room.free - i64::try_from(jobs.len()).unwrap_or(i64::MAX)).min(n);
        if left > 0 {
            jobs.extend(repo::outbox::claim(c, &[kind], owner, lease, left)?);
        }
    }
    Ok(jobs)
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
