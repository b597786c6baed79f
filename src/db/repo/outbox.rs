//! The transactional outbox: jobs are written on the caller's connection, so they commit or roll
//! back with the change that caused them, and workers on any node claim them with a lease.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::now;
use crate::db::DbConn;
use crate::db::schema::outbox_jobs;
use crate::domain::status::JobState;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_jobs)]
pub struct Job {
    pub id: i64,
    pub program_id: Option<String>,
    pub kind: String,
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub done_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox_jobs, treat_none_as_default_value = false)]
pub struct NewJob<'a> {
    pub program_id: Option<&'a str>,
    pub kind: &'a str,
    pub payload: &'a str,
    pub dedupe_key: Option<&'a str>,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Inserts the job unless one with the same dedupe key is already pending: that one will see
/// the latest state when it runs, so a burst of changes coalesces into one job.
pub fn enqueue(conn: &mut DbConn, job: &NewJob<'_>) -> QueryResult<()> {
    enqueue_many(conn, std::slice::from_ref(job))
}

/// [`enqueue`] for many jobs, [`super::ROWS_PER_INSERT`] per INSERT. Jobs of the batch that share
/// a dedupe key coalesce into the first (one statement may not touch a row twice).
pub fn enqueue_many(conn: &mut DbConn, jobs: &[NewJob<'_>]) -> QueryResult<()> {
    let mut seen = std::collections::HashSet::new();
    let jobs: Vec<&NewJob<'_>> = jobs.iter().filter(|j| j.dedupe_key.is_none_or(|k| seen.insert(k))).collect();
    for rows in jobs.chunks(super::ROWS_PER_INSERT) {
        // One row stays a one-row INSERT (see `ledger::append_many`).
        let rows: Vec<NewJob<'_>> = rows.iter().map(|j| (*j).clone()).collect();
        match conn {
            // The index predicate must be a literal: PostgreSQL can't match a partial index against
            // a bind parameter once the prepared statement switches to a generic plan.
            DbConn::Pg(c) => {
                diesel::insert_into(outbox_jobs::table)
                    .values(&rows)
                    .on_conflict(outbox_jobs::dedupe_key)
                    .filter_target(diesel::dsl::sql::<diesel::sql_types::Bool>("state = 'pending'"))
                    // Not DO NOTHING: that takes no lock, so a worker could claim and run the pending
                    // job before this transaction commits and miss its change. DO UPDATE locks the job
                    // until then (the claim skips it), and an earlier run_at also cuts short a retry's
                    // backoff.
                    .do_update()
                    .set(outbox_jobs::run_at.eq(diesel::dsl::sql::<diesel::sql_types::Timestamp>(
                        "LEAST(outbox_jobs.run_at, excluded.run_at)",
                    )))
                    .execute(c)?
            }
            // diesel has no partial-index conflict target for SQLite; OR IGNORE skips the same row
            // (the only constraint a job we build can break is that unique index).
            DbConn::Sqlite(c) => diesel::insert_or_ignore_into(outbox_jobs::table).values(&rows).execute(c)?,
        };
    }
    Ok(())
}

/// Claims up to `limit` due jobs of the given kinds for `owner` until `now + lease`. Must run in a
/// write transaction. PostgreSQL skips rows other workers hold (`FOR UPDATE SKIP LOCKED`); SQLite
/// has a single writer under `BEGIN IMMEDIATE`. A running job whose lease expired (its worker
/// died) is due again.
pub fn claim(conn: &mut DbConn, kinds: &[&str], owner: &str, lease: Duration, limit: i64) -> QueryResult<Vec<Job>> {
    use outbox_jobs::dsl as j;
    let at = now();
    let due = j::kind.eq_any(kinds).and(
        j::state
            .eq(JobState::Pending)
            .and(j::run_at.le(at))
            .or(j::state.eq(JobState::Running).and(j::lease_until.lt(at))),
    );
    let ids: Vec<i64> = match conn {
        DbConn::Pg(c) => j::outbox_jobs
            .filter(due)
            .order((j::run_at, j::id))
            .limit(limit)
            .select(j::id)
            .for_update()
            .skip_locked()
            .load(c)?,
        DbConn::Sqlite(c) => j::outbox_jobs.filter(due).order((j::run_at, j::id)).limit(limit).select(j::id).load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(j::outbox_jobs.filter(j::id.eq_any(&ids)))
        .set((
            j::state.eq(JobState::Running),
            j::lease_owner.eq(owner),
            j::lease_until.eq(at + lease),
            j::attempts.eq(j::attempts + 1),
        ))
        .get_results::<Job>(conn)
}

/// Marks the jobs done that `owner` still holds, in one statement (a fan-out of pushes is one
/// write per batch, not per push); returns how many. A worker whose lease expired must not
/// overwrite the outcome of the worker that took over.
pub fn complete_many(conn: &mut DbConn, ids: &[i64], owner: &str) -> QueryResult<usize> {
    use outbox_jobs::dsl as j;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(
        j::outbox_jobs
            .filter(j::id.eq_any(ids))
            .filter(j::lease_owner.eq(owner))
            .filter(j::state.eq(JobState::Running)),
    )
    .set((
        j::state.eq(JobState::Done),
        j::done_at.eq(now()),
        j::lease_owner.eq(None::<String>),
        j::lease_until.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)
}

/// Records a failed attempt: back to pending at `retry_at`, or failed for good after the last
/// attempt. If a newer job with the same dedupe key is already pending, this one is superseded by it.
pub fn fail(conn: &mut DbConn, job: &Job, owner: &str, error: &str, retry_at: NaiveDateTime) -> QueryResult<bool> {
    use outbox_jobs::dsl as j;
    let mine =
        j::outbox_jobs.filter(j::id.eq(job.id)).filter(j::lease_owner.eq(owner)).filter(j::state.eq(JobState::Running));
    let error: String = error.chars().take(2000).collect();
    if job.attempts >= job.max_attempts {
        return diesel::update(mine)
            .set((
                j::state.eq(JobState::Failed),
                j::last_error.eq(&error),
                j::lease_owner.eq(None::<String>),
                j::lease_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)
            .map(|n| n == 1);
    }
    let retry = |conn: &mut DbConn, state: JobState| {
        diesel::update(
            j::outbox_jobs
                .filter(j::id.eq(job.id))
                .filter(j::lease_owner.eq(owner))
                .filter(j::state.eq(JobState::Running)),
        )
        .set((
            j::state.eq(state),
            j::run_at.eq(retry_at),
            j::last_error.eq(&error),
            j::lease_owner.eq(None::<String>),
            j::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(|n| n == 1)
    };
    // Back to pending, unless a newer job with the same dedupe key is pending already (the
    // partial unique index says so): that one carries the latest state, so this one is done.
    // In a savepoint, because on PostgreSQL the violation would abort the whole transaction.
    use diesel::Connection;
    match conn.transaction(|c| retry(c, JobState::Pending)) {
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
            retry(conn, JobState::Done)
        }
        other => other,
    }
}

/// (state, count) for every state present, for /metrics and /health.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(JobState, i64)>> {
    use outbox_jobs::dsl as j;
    j::outbox_jobs.group_by(j::state).select((j::state, diesel::dsl::count_star())).load(conn)
}

/// Jobs due or running now (not those waiting for a later `run_at`): zero once the queue has
/// caught up.
pub fn outstanding(conn: &mut DbConn) -> QueryResult<i64> {
    use outbox_jobs::dsl as j;
    j::outbox_jobs
        .filter(j::state.eq(JobState::Running).or(j::state.eq(JobState::Pending).and(j::run_at.le(now()))))
        .count()
        .get_result(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Job> {
    outbox_jobs::table.find(id).select(Job::as_select()).first(conn)
}

pub fn list_by_dedupe(conn: &mut DbConn, key: &str) -> QueryResult<Vec<Job>> {
    outbox_jobs::table
        .filter(outbox_jobs::dedupe_key.eq(key))
        .order(outbox_jobs::id)
        .select(Job::as_select())
        .load(conn)
}
