//! Random sequences of earn (dated up to two months back) / return / redeem / expire against the
//! real server, checked against a model of lots after every step: the open lots are exactly the
//! model's, `balance == SUM(ledger)` and `balance == SUM(open lots) - debt`.

use chrono::{Months, NaiveDate, NaiveDateTime, TimeZone as _};
use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};

const TZ: chrono_tz::Tz = chrono_tz::Europe::Paris;

#[derive(Debug, Clone)]
enum Op {
    /// cents, minutes back
    Earn(i64, i64),
    Return(usize, i64),
    Redeem(i64),
    /// days the simulated calendar moves on before the daily run
    Expire(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (100i64..20_000, 0i64..(60 * 24 * 60)).prop_map(|(c, m)| Op::Earn(c, m)),
        2 => (0usize..8, 1i64..12_000).prop_map(|(i, c)| Op::Return(i, c)),
        2 => (1i64..150).prop_map(Op::Redeem),
        2 => (1i64..20).prop_map(Op::Expire),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ModelLot {
    earned_at: NaiveDateTime,
    seq: usize,
    remaining: i64,
}

#[derive(Default)]
struct Model {
    balance: i64,
    lots: Vec<ModelLot>,
    seq: usize,
    /// (id, amount, earned, returned)
    purchases: Vec<(String, i64, i64, i64)>,
}

impl Model {
    fn credit(&mut self, points: i64, earned_at: NaiveDateTime) {
        let opened = (self.balance + points).max(0) - self.balance.max(0);
        self.balance += points;
        if opened > 0 {
            self.seq += 1;
            self.lots.push(ModelLot { earned_at, seq: self.seq, remaining: opened });
            self.lots.sort_by_key(|l| (l.earned_at, l.seq));
        }
    }

    fn debit(&mut self, points: i64) {
        let mut take = self.balance.max(0) - (self.balance - points).max(0);
        self.balance -= points;
        for lot in &mut self.lots {
            let t = take.min(lot.remaining);
            lot.remaining -= t;
            take -= t;
        }
        self.lots.retain(|l| l.remaining > 0);
    }

    /// Points of lots whose month has ended before `day`.
    fn expiring(&self, day: NaiveDate) -> i64 {
        self.lots.iter().filter(|l| ends_on(l.earned_at) < day).map(|l| l.remaining).sum()
    }
}

fn ends_on(earned_at: NaiveDateTime) -> NaiveDate {
    TZ.from_utc_datetime(&earned_at).date_naive().checked_add_months(Months::new(1)).unwrap()
}

async fn db_lots(app: &TestApp, card: &str) -> Vec<(NaiveDateTime, i64)> {
    let card = card.to_owned();
    app.db
        .read(move |c| Ok(encarte::db::repo::lots::open_of_cards(c, &[&card])?))
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.earned_at, l.remaining))
        .collect()
}

async fn run(app: &TestApp, case: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let card = app.enrol(&format!("lots{case}@example.fr")).await;
    let (id, barcode) = (card["id"].as_str().unwrap().to_owned(), card["barcode"].as_str().unwrap().to_owned());
    let mut model = Model::default();
    let now = chrono::Utc::now().naive_utc();
    let mut day = TZ.from_utc_datetime(&now).date_naive();
    for (step, op) in ops.iter().enumerate() {
        let key = format!("l{case}-s{step}");
        match op {
            Op::Earn(cents, minutes) => {
                // Whole milliseconds: what the API keeps of an RFC 3339 time.
                let at = now - chrono::Duration::minutes(*minutes) - chrono::Duration::seconds(1);
                let at = at.and_utc().timestamp_millis();
                let at = chrono::DateTime::from_timestamp_millis(at).unwrap().naive_utc();
                let body = json!({"card": barcode, "amount_cents": cents, "currency": "EUR",
                                  "occurred_at": at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)});
                let (status, res) = app.post("/api/v1/purchases", &app.staff.cashier, Some(&key), &body).await;
                prop_assert_eq!(status, StatusCode::CREATED, "step {} {:?}: {}", step, op, res);
                let earned = cents / 100;
                model.credit(earned, at);
                model.purchases.push((res["purchase"]["id"].as_str().unwrap().to_owned(), *cents, earned, 0));
            }
            Op::Return(i, cents) => {
                let n = model.purchases.len();
                if n == 0 {
                    continue;
                }
                let p = model.purchases[*i % n].clone();
                let path = format!("/api/v1/purchases/{}/returns", p.0);
                let (status, res) =
                    app.post(&path, &app.staff.cashier, Some(&key), &json!({"amount_cents": cents})).await;
                if p.3 + cents > p.1 {
                    prop_assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "step {} {:?}: {}", step, op, res);
                } else {
                    prop_assert_eq!(status, StatusCode::CREATED, "step {} {:?}: {}", step, op, res);
                    let reversed = p.2 * (p.3 + cents) / p.1 - p.2 * p.3 / p.1;
                    model.purchases[*i % n].3 += cents;
                    model.debit(reversed);
                }
            }
            Op::Redeem(points) => {
                let body = json!({"points": points, "reason": "prop"});
                let path = format!("/api/v1/cards/{id}/redemptions");
                let (status, res) = app.post(&path, &app.staff.cashier, Some(&key), &body).await;
                if model.balance >= *points {
                    prop_assert_eq!(status, StatusCode::CREATED, "step {} {:?}: {}", step, op, res);
                    model.debit(*points);
                } else {
                    prop_assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "step {} {:?}: {}", step, op, res);
                }
            }
            Op::Expire(days) => {
                day += chrono::Duration::days(*days);
                let noon = TZ.from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap()).unwrap().naive_utc();
                let expected = model.expiring(day);
                // Each case starts its calendar today: a day an earlier case ran runs again.
                app.exec("UPDATE expiry_rules SET run_day = NULL, run_cursor = NULL").await;
                let ran =
                    encarte::service::expiry::run::run_day(&app.db, &app.staff.program_id, noon, 0).await.unwrap();
                // Every card of the programme is in the run: earlier cases' cards expire too.
                let mine = db_lots(app, &id).await.iter().map(|(_, r)| r).sum::<i64>();
                prop_assert!(ran.expired_points >= expected, "step {} {:?}: ran {:?}", step, op, ran);
                model.debit(expected);
                prop_assert_eq!(mine, model.balance.max(0), "step {} {:?}", step, op);
            }
        }
        let want: Vec<(NaiveDateTime, i64)> = model.lots.iter().map(|l| (l.earned_at, l.remaining)).collect();
        prop_assert_eq!(db_lots(app, &id).await, want, "step {} {:?}", step, op);
        prop_assert_eq!(app.balance(&id).await, model.balance, "step {} {:?}", step, op);
    }
    Ok(())
}

#[test]
fn lots_follow_a_model_after_any_sequence() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = rt.block_on(spawn_app_with(|c| c.purchase_backdate_max_days = 90));
    let rule = json!({"mode": "after_earning", "months": 1, "round": "none"});
    let (status, body) =
        rt.block_on(app.send(Method::PUT, "/api/v1/program/expiry", Some(&app.staff.manager), None, Some(&rule)));
    assert_eq!(status, StatusCode::OK, "{body}");
    rt.block_on(app.exec("UPDATE expiry_rules SET since = '2000-01-01'"));
    let case = std::sync::atomic::AtomicUsize::new(0);
    let config = ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..25))| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(run(&app, n, &ops))?;
        rt.block_on(app.assert_ledger_consistent());
    });
    rt.block_on(app.run_jobs());
}
