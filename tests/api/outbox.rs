//! The transactional outbox: jobs commit with their change, coalesce per card, retry with
//! backoff, survive a dead worker, and are run once by any number of workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use encarte::db::repo::{self, outbox};
use encarte::domain::status::JobState;
use encarte::error::AppError;
use encarte::jobs::{self, Job, JobMeta, Registry};
use encarte::service::card_changes::{self, CardChanged};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

/// Test-only kinds: a job kind is one type and one `register` line.
macro_rules! test_job {
    ($name:ident { $($field:ident: $ty:ty),* } = $kind:literal) => {
        #[derive(Debug, Serialize, Deserialize)]
        struct $name { $($field: $ty),* }
        impl Job for $name {
            const KIND: &'static str = $kind;
            fn program_id(&self) -> Option<&str> {
                None
            }
        }
    };
}
test_job!(Flaky {} = "flaky");
test_job!(Slow {} = "slow");
test_job!(Count { n: i64 } = "count");

async fn jobs_of(app: &TestApp, card_id: &str) -> Vec<outbox::Job> {
    let key = format!("{}:{card_id}", CardChanged::KIND);
    app.db.read(move |c| Ok(outbox::list_by_dedupe(c, &key)?)).await.unwrap()
}

fn pending(jobs: &[outbox::Job]) -> usize {
    jobs.iter().filter(|j| j.state == JobState::Pending).count()
}

#[tokio::test]
async fn every_balance_change_enqueues_a_card_changed_job() {
    let app = spawn_app().await;
    let card = app.enrol("outbox@example.fr").await;
    let id = card["id"].as_str().unwrap();
    assert!(jobs_of(&app, id).await.is_empty(), "enrolment changes no pass yet");
    assert_eq!(app.run_jobs().await, 1, "the welcome e-mail only");

    let (_, bought) = app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 5000, "o-1").await;
    let purchase = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let changes = [
        ("/api/v1/purchases".to_owned(), json!({"card": card["barcode"], "amount_cents": 1000, "currency": "EUR"})),
        (format!("/api/v1/cards/{id}/redemptions"), json!({"points": 5, "reason": "x"})),
        (format!("/api/v1/cards/{id}/adjustments"), json!({"points": 5, "reason": "x"})),
        (format!("/api/v1/purchases/{purchase}/returns"), json!({"amount_cents": 1000})),
        (format!("/api/v1/cards/{id}/block"), json!({})),
    ];
    let mut version = bought["balance"].as_i64().map(|_| 2).unwrap();
    for (i, (path, body)) in changes.iter().enumerate() {
        assert_eq!(app.run_jobs().await, 1, "the previous change left exactly one job");
        let (status, res) = app.post(path, &app.staff.owner, Some(&format!("change-{i}")), body).await;
        assert!(status.is_success(), "{path}: {res}");
        let jobs = jobs_of(&app, id).await;
        assert_eq!(pending(&jobs), 1, "{path}");
        let (_, now) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.owner).await;
        assert!(now["pass_version"].as_i64().unwrap() > version, "{path} bumps pass_version");
        version = now["pass_version"].as_i64().unwrap();
    }
    app.run_jobs().await;
    let jobs = jobs_of(&app, id).await;
    assert_eq!(jobs.len(), 6);
    assert!(jobs.iter().all(|j| j.state == JobState::Done && j.done_at.is_some() && j.attempts == 1));
}

#[tokio::test]
async fn a_burst_of_changes_coalesces_into_one_pending_job() {
    let app = spawn_app().await;
    let card = app.enrol("burst@example.fr").await;
    for i in 0..5 {
        app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 100, &format!("b-{i}")).await;
    }
    let jobs = jobs_of(&app, card["id"].as_str().unwrap()).await;
    assert_eq!((jobs.len(), pending(&jobs)), (1, 1));
    let payload: serde_json::Value = serde_json::from_str(&jobs[0].payload).unwrap();
    assert_eq!(payload, json!({"program_id": app.staff.program_id, "card_id": card["id"]}));
    assert_eq!(app.run_jobs().await, 2, "the welcome e-mail and the one coalesced change");
}

#[tokio::test]
async fn a_failed_transaction_leaves_no_job() {
    let app = spawn_app().await;
    let card = app.enrol("rollback@example.fr").await;
    let (program_id, card_id) = (app.staff.program_id.clone(), card["id"].as_str().unwrap().to_owned());
    let result: Result<(), AppError> = app
        .db
        .write(move |c| {
            let card = repo::cards::find(c, &program_id, &card_id)?.unwrap();
            card_changes::card_changed(c, &card)?;
            Err(AppError::conflict("test", "fail after enqueueing"))
        })
        .await;
    assert!(result.is_err());
    assert_eq!(app.count("outbox_jobs", "kind <> 'email'").await, 0, "the welcome e-mail only");

    // Refused at the till: no entry, no job.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{}/redemptions", card["id"].as_str().unwrap()),
            &app.staff.cashier,
            Some("r"),
            &json!({"points": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("outbox_jobs", "kind <> 'email'").await, 0, "the welcome e-mail only");
    assert_eq!(app.run_jobs().await, 1);
}

#[tokio::test]
async fn failures_are_retried_with_backoff_then_marked_failed() {
    let app = spawn_app().await;
    let attempts = Arc::new(Mutex::new(0));
    let mut registry = Registry::default();
    let seen = attempts.clone();
    registry.register(move |_job: Flaky, _: JobMeta| {
        let seen = seen.clone();
        async move {
            *seen.lock().unwrap() += 1;
            anyhow::bail!("upstream said no (attempt {})", seen.lock().unwrap())
        }
    });
    app.db.write(|c| Ok(Flaky {}.enqueue(c)?)).await.unwrap();
    let worker = app.worker(registry);
    let unknown = app
        .db
        .write(|c| Ok(outbox::claim(c, &["other_kind"], "nobody", chrono::Duration::seconds(1), 1)?))
        .await
        .unwrap();
    assert!(unknown.is_empty(), "a worker claims only the kinds it knows");

    for attempt in 1..=jobs::DEFAULT_MAX_ATTEMPTS {
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let job = app.db.read(|c| Ok(outbox::find(c, 1)?)).await.unwrap();
        assert_eq!(job.attempts, attempt);
        assert_eq!(job.last_error.as_deref(), Some(format!("upstream said no (attempt {attempt})").as_str()));
        if attempt < jobs::DEFAULT_MAX_ATTEMPTS {
            assert_eq!(job.state, JobState::Pending);
            assert!(job.run_at > repo::now(), "retried later, not at once");
            assert_eq!(worker.run_once().await.unwrap(), 0, "not due before its backoff");
            app.db
                .write(|c| {
                    use diesel::prelude::*;
                    use encarte::db::schema::outbox_jobs::dsl as j;
                    Ok(diesel::update(j::outbox_jobs)
                        .set(j::run_at.eq(repo::now() - chrono::Duration::seconds(1)))
                        .execute(c)?)
                })
                .await
                .unwrap();
        } else {
            assert_eq!(job.state, JobState::Failed);
        }
    }
    assert_eq!(worker.run_once().await.unwrap(), 0, "a failed job is not run again");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("encarte_outbox_jobs{state=\"failed\"} 1"), "{metrics}");
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_a_cap() {
    for attempts in 1..=20 {
        let full = std::time::Duration::from_secs(2u64.saturating_mul(1 << (attempts - 1).min(20)))
            .min(std::time::Duration::from_hours(1));
        let d = jobs::backoff(attempts);
        assert!(d >= full / 2 && d <= full, "attempt {attempts}: {d:?} not in [{:?}, {full:?}]", full / 2);
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_worker_is_fenced_off() {
    let app = spawn_app().await;
    app.db.write(|c| Ok(Slow {}.enqueue(c)?)).await.unwrap();
    let claimed = app
        .db
        .write(|c| Ok(outbox::claim(c, &["slow"], "dead-worker", chrono::Duration::milliseconds(50), 10)?))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let again =
        app.db.write(|c| Ok(outbox::claim(c, &["slow"], "other", chrono::Duration::seconds(30), 10)?)).await.unwrap();
    assert!(again.is_empty(), "leased to its worker");
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    let taken =
        app.db.write(|c| Ok(outbox::claim(c, &["slow"], "other", chrono::Duration::seconds(30), 10)?)).await.unwrap();
    assert_eq!((taken.len(), taken[0].attempts), (1, 2));
    let late = app.db.write(|c| Ok(outbox::complete_many(c, &[1], "dead-worker")?)).await.unwrap();
    assert_eq!(late, 0, "the worker whose lease expired can't record an outcome");
    assert_eq!(app.db.write(|c| Ok(outbox::complete_many(c, &[1], "other")?)).await.unwrap(), 1);
}

#[tokio::test]
async fn two_workers_run_every_job_exactly_once() {
    let app = spawn_app().await;
    let runs: Arc<Mutex<HashMap<i64, u32>>> = Arc::default();
    let registry = || {
        let mut r = Registry::default();
        let runs = runs.clone();
        r.register(move |_: Count, meta: JobMeta| {
            let runs = runs.clone();
            async move {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                *runs.lock().unwrap().entry(meta.id).or_default() += 1;
                Ok(())
            }
        });
        r
    };
    app.db
        .write(|c| {
            for i in 0..200 {
                Count { n: i }.enqueue(c)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let (a, b) = (app.worker(registry()), app.worker(registry()));
    let ran = jobs::drain(&[a, b]).await.unwrap();
    assert_eq!(ran, 200);
    {
        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), 200, "none lost");
        assert!(runs.values().all(|n| *n == 1), "none run twice");
    }
    assert_eq!(app.count("outbox_jobs", "state = 'done'").await, 200);
}
