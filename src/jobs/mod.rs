//! The outbox worker: claims due jobs with a lease, runs the handler registered for each kind,
//! retries failures with exponential backoff and jitter, and records the last error. Any number
//! of workers, on any number of nodes, may share one database.
//!
//! A job is a type ([`Job`]) defined beside the use case that queues it, enqueued on the
//! caller's connection (inside its transaction), and registered once at start-up with the
//! function that runs it ([`Registry::register`]). This module knows the database only.

mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use worker::{Worker, WorkerSettings, backoff, drain};

use crate::db::repo::{self, outbox::NewJob};
use crate::db::{DbConn, wake};

/// Attempts before a job is marked failed for good (about a day of backoff).
pub const DEFAULT_MAX_ATTEMPTS: i32 = 12;

/// One kind of background work. Its payload is the value itself, as JSON.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The `kind` column: stable across releases (a queued job outlives the build that queued it).
    const KIND: &'static str;

    /// The programme the job belongs to, if any (the outbox row's `program_id`).
    fn program_id(&self) -> Option<&str>;

    /// Jobs with the same key coalesce while one is pending: it will see the latest state.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    fn max_attempts() -> i32 {
        DEFAULT_MAX_ATTEMPTS
    }

    /// Queues the job on the caller's connection: it commits or rolls back with the caller's
    /// change. A payload that can't be written is a bug, and fails the transaction.
    fn enqueue(&self, conn: &mut DbConn) -> diesel::QueryResult<()> {
        self.enqueue_at(conn, repo::now())
    }

    /// Like [`Job::enqueue`], due at `run_at` (a scheduled batch, the next run of a recurring job).
    fn enqueue_at(&self, conn: &mut DbConn, run_at: chrono::NaiveDateTime) -> diesel::QueryResult<()> {
        enqueue_all(conn, std::slice::from_ref(self), run_at)
    }

    /// Queues many jobs of this kind at once (a batch's pass updates and e-mails), due now.
    fn enqueue_many(jobs: &[Self], conn: &mut DbConn) -> diesel::QueryResult<()>
    where
        Self: Sized,
    {
        enqueue_all(conn, jobs, repo::now())
    }
}

fn enqueue_all<J: Job>(conn: &mut DbConn, jobs: &[J], run_at: chrono::NaiveDateTime) -> diesel::QueryResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let now = repo::now();
    let written: Vec<(String, Option<String>)> = jobs
        .iter()
        .map(|job| {
            let payload =
                serde_json::to_string(job).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            Ok((payload, job.dedupe_key()))
        })
        .collect::<diesel::QueryResult<_>>()?;
    let rows: Vec<NewJob<'_>> = jobs
        .iter()
        .zip(&written)
        .map(|(job, (payload, dedupe))| NewJob {
            program_id: job.program_id(),
            kind: J::KIND,
            payload,
            dedupe_key: dedupe.as_deref(),
            state: crate::domain::status::JobState::Pending,
            attempts: 0,
            max_attempts: J::max_attempts(),
            run_at,
            created_at: now,
        })
        .collect();
    repo::outbox::enqueue_many(conn, &rows)?;
    wake::after_commit(conn)
}

/// How long a batch job works before it hands over to a fresh run of itself, well inside the
/// worker's lease: a batch of any size never looks like a stuck job.
pub const BATCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `chunk` (one transaction each) until it says the batch is finished, for at most
/// [`BATCH_BUDGET`]; false when the budget ran out first (the caller queues its next run, which
/// goes on from where the chunks left their cursor).
pub async fn chunks_for_a_while<F, Fut>(mut chunk: F) -> anyhow::Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let started = std::time::Instant::now();
    loop {
        if chunk().await? {
            return Ok(true);
        }
        if started.elapsed() >= BATCH_BUDGET {
            return Ok(false);
        }
    }
}

/// [`chunks_for_a_while`] over each programme in turn, one budget for all (a recurring sweep of
/// every programme): false when the budget ran out before the last programme was finished.
pub async fn programs_for_a_while<F, Fut>(programs: &[String], mut chunk: F) -> anyhow::Result<bool>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let started = std::time::Instant::now();
    for program_id in programs {
        while !chunk(program_id.clone()).await? {
            if started.elapsed() >= BATCH_BUDGET {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// What the worker knows of the job it runs, beside its payload.
#[derive(Debug, Clone)]
pub struct JobMeta {
    pub id: i64,
    pub program_id: Option<String>,
    pub attempts: i32,
}

/// How a run ended when it did not succeed.
#[derive(Debug)]
pub enum JobError {
    /// Worth another attempt later (a dependency is down...).
    Retry(anyhow::Error),
    /// Will never succeed (the payload does not decode): failed for good at once.
    Permanent(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError::Retry(e.into())
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;

type Runner = Arc<dyn Fn(repo::outbox::Job) -> JobFuture + Send + Sync>;

/// The kinds this node knows how to run. A worker claims only these, so a node of an older
/// version never takes (and fails) a job kind it does not know.
#[derive(Clone, Default)]
pub struct Registry {
    runners: HashMap<&'static str, Runner>,
}

impl Registry {
    /// Runs jobs of type `J` with `handler`, which gets the decoded payload. Handlers must be
    /// idempotent: delivery is at least once.
    pub fn register<J, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        J: Job,
        F: Fn(J, JobMeta) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let runner: Runner = Arc::new(move |row: repo::outbox::Job| {
            let meta = JobMeta { id: row.id, program_id: row.program_id, attempts: row.attempts };
            match serde_json::from_str::<J>(&row.payload) {
                Ok(job) => {
                    let run = handler(job, meta);
                    Box::pin(async move { run.await.map_err(JobError::Retry) })
                }
                Err(e) => {
                    let error = anyhow::anyhow!("the payload of this {} job does not decode: {e}", J::KIND);
                    Box::pin(std::future::ready(Err(JobError::Permanent(error))))
                }
            }
        });
        self.runners.insert(J::KIND, runner);
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.runners.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    fn runner(&self, kind: &str) -> Option<Runner> {
        self.runners.get(kind).cloned()
    }
}
