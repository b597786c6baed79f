//! The worker as the engineer on call expects it: woken by the commit that queued a job (on this
//! node, or on another through PostgreSQL's NOTIFY) rather than by its poll, never held up by one
//! slow job, and clear about a job it can never run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use encarte::db::repo::outbox;
use encarte::domain::status::JobState;
use encarte::jobs::{Job, JobMeta, Registry};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::apple_wallet::{PUSH_TOKEN, app_with_mock, app_with_mock_and, card, register};
use crate::helpers::{TestApp, postgres_admin_url, spawn_app};

/// Polls `done` every 10 ms until it holds or `within` has passed; returns how long it took.
async fn until(within: Duration, mut done: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if done().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// A purchase on a card whose pass sits on a phone; returns when the purchase was answered.
async fn purchase_on_a_registered_card(app: &TestApp, key: &str) -> Instant {
    let card = card(app, &format!("{key}@example.fr")).await;
    assert_eq!(register(app, "phone-1", &card, PUSH_TOKEN).await, StatusCode::CREATED);
    let (status, body) = app.purchase(&app.staff.cashier, &card.barcode, 1250, key).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Instant::now()
}

#[tokio::test]
async fn a_purchase_reaches_apns_without_waiting_for_the_poll() {
    let (app, mock) = app_with_mock_and(|c| {
        c.worker = true;
        c.worker_poll_ms = 5000;
    })
    .await;
    // The worker has run the enrolment's jobs and sleeps for its poll now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answered = purchase_on_a_registered_card(&app, "wake-1").await;
    until(Duration::from_secs(3), async || !mock.pushes().is_empty()).await.expect("the push never came");
    let pushes = mock.pushes();
    assert_eq!(pushes.len(), 1);
    let took = pushes[0].at.saturating_duration_since(answered);
    assert!(took < Duration::from_secs(1), "purchase answered to push: {took:?}");
    app.wait_for_worker(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn on_postgres_another_node_is_woken_by_notify() {
    if postgres_admin_url().is_none() {
        eprintln!("skipped: runs with ENCARTE_TEST_DATABASE_URL (the PostgreSQL suite)");
        return;
    }
    // This node takes the purchase and runs no worker...
    let (app, mock) = app_with_mock().await;
    // ...the other one only runs the worker, polling every 5 s.
    let mut config = app.config.clone();
    config.worker = true;
    config.worker_poll_ms = 5000;
    let other = encarte::startup::Application::build_with(config, encarte::startup::registry).await.unwrap();
    let other_handle = other.handle();
    tokio::spawn(other.run_until_stopped());
    tokio::time::sleep(Duration::from_millis(500)).await;

    let answered = purchase_on_a_registered_card(&app, "notify-1").await;
    until(Duration::from_secs(3), async || !mock.pushes().is_empty()).await.expect("the push never came");
    let took = mock.pushes()[0].at.saturating_duration_since(answered);
    assert!(took < Duration::from_secs(1), "purchase answered to push: {took:?}");
    app.wait_for_worker(Duration::from_secs(3)).await;
    other_handle.stop(false).await;
}

#[derive(Debug, Serialize, Deserialize)]
struct Hang {}
impl Job for Hang {
    const KIND: &'static str = "hang";
    fn program_id(&self) -> Option<&str> {
        None
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Quick {
    n: i64,
}
impl Job for Quick {
    const KIND: &'static str = "quick";
    fn program_id(&self) -> Option<&str> {
        None
    }
}

#[tokio::test]
async fn one_slow_job_does_not_hold_the_others() {
    let app = spawn_app().await;
    let quick_done = Arc::new(AtomicUsize::new(0));
    let mut registry = Registry::default();
    registry.register(|_: Hang, _: JobMeta| async {
        tokio::time::sleep(Duration::from_secs(20)).await;
        Ok(())
    });
    let seen = quick_done.clone();
    registry.register(move |_: Quick, _: JobMeta| {
        let seen = seen.clone();
        async move {
            seen.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let worker = app.worker(registry);
    let running = tokio::spawn(worker.run());
    app.db.write(|c| Ok(Hang {}.enqueue(c)?)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.db
        .write(|c| {
            for n in 0..20 {
                Quick { n }.enqueue(c)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let took = until(Duration::from_secs(3), async || quick_done.load(Ordering::SeqCst) == 20).await;
    assert!(took.is_some(), "only {} of 20 quick jobs ran beside the slow one", quick_done.load(Ordering::SeqCst));
    // Their outcome is recorded without waiting for the slow one.
    let recorded = until(Duration::from_secs(2), async || {
        app.count("outbox_jobs", "kind = 'quick' AND state = 'done'").await == 20
    })
    .await;
    assert!(recorded.is_some());
    assert_eq!(app.count("outbox_jobs", "kind = 'hang' AND state = 'running'").await, 1);
    running.abort();
    // The slow job is still running when the test ends: that is the point.
    app.jobs_may_stay();
}

#[tokio::test]
async fn a_payload_that_no_longer_decodes_fails_for_good_with_a_clear_error() {
    let app = spawn_app().await;
    app.queue_raw(Quick::KIND, None, "{\"n\": \"seven\"}".to_owned()).await;
    let mut registry = Registry::default();
    registry.register(|_: Quick, _: JobMeta| async { Ok(()) });
    assert_eq!(app.worker(registry).run_once().await.unwrap(), 1);
    let jobs = app.db.read(|c| {
        use diesel::prelude::*;
        use encarte::db::schema::outbox_jobs::dsl as j;
        Ok(j::outbox_jobs.filter(j::kind.eq("quick")).select(outbox::Job::as_select()).load(c)?)
    });
    let jobs = jobs.await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!((jobs[0].state, jobs[0].attempts), (JobState::Failed, 1), "not retried twelve times");
    let error = jobs[0].last_error.as_deref().unwrap_or_default();
    assert!(error.starts_with("the payload of this quick job does not decode: invalid type"), "{error}");
}
