//! Random sequences of earn / return / redeem / adjust against the real server, checked against
//! a model after every step: the balance is exact, and equals the sum of the ledger.

use proptest::prelude::*;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

#[derive(Debug, Clone)]
enum Op {
    Earn(i64),
    Return(usize, i64),
    Redeem(i64),
    Adjust(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..20_000).prop_map(Op::Earn),
        2 => (0usize..8, 1i64..12_000).prop_map(|(i, c)| Op::Return(i, c)),
        2 => (1i64..150).prop_map(Op::Redeem),
        1 => (-100i64..100).prop_filter("non-zero", |d| *d != 0).prop_map(Op::Adjust),
    ]
}

struct Model {
    balance: i64,
    /// (id, amount, earned, returned)
    purchases: Vec<(String, i64, i64, i64)>,
}

async fn run(app: &TestApp, case: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let card = app.enrol(&format!("prop{case}@example.fr")).await;
    let (id, barcode) = (card["id"].as_str().unwrap(), card["barcode"].as_str().unwrap());
    let mut model = Model { balance: 0, purchases: Vec::new() };
    for (step, op) in ops.iter().enumerate() {
        let key = format!("c{case}-s{step}");
        let (status, body) = match op {
            Op::Earn(cents) => app.purchase(&app.staff.cashier, barcode, *cents, &key).await,
            Op::Return(i, cents) => match model.purchases.get(*i % model.purchases.len().max(1)) {
                Some((pid, ..)) => {
                    app.post(
                        &format!("/api/v1/purchases/{pid}/returns"),
                        &app.staff.cashier,
                        Some(&key),
                        &json!({"amount_cents": cents}),
                    )
                    .await
                }
                None => continue,
            },
            Op::Redeem(points) => {
                app.post(
                    &format!("/api/v1/cards/{id}/redemptions"),
                    &app.staff.cashier,
                    Some(&key),
                    &json!({"points": points, "reason": "prop"}),
                )
                .await
            }
            Op::Adjust(delta) => {
                app.post(
                    &format!("/api/v1/cards/{id}/adjustments"),
                    &app.staff.manager,
                    Some(&key),
                    &json!({"points": delta, "reason": "prop"}),
                )
                .await
            }
        };
        let expected_ok = match op {
            Op::Earn(cents) => {
                let earned = cents / 100;
                model.balance += earned;
                model.purchases.push((
                    body["purchase"]["id"].as_str().unwrap_or_default().to_owned(),
                    *cents,
                    earned,
                    0,
                ));
                true
            }
            Op::Return(i, cents) => {
                let n = model.purchases.len();
                let p = &mut model.purchases[*i % n];
                if p.3 + cents > p.1 {
                    false
                } else {
                    let reversed = p.2 * (p.3 + cents) / p.1 - p.2 * p.3 / p.1;
                    p.3 += cents;
                    model.balance -= reversed;
                    true
                }
            }
            Op::Redeem(points) => {
                model.balance >= *points && {
                    model.balance -= points;
                    true
                }
            }
            // The floor stops debits only: a credit to a card in debt always goes through.
            Op::Adjust(delta) => {
                (*delta > 0 || model.balance + delta >= 0) && {
                    model.balance += delta;
                    true
                }
            }
        };
        let expected = if expected_ok { StatusCode::CREATED } else { StatusCode::UNPROCESSABLE_ENTITY };
        prop_assert_eq!(status, expected, "step {} {:?}: {}", step, op, body);
        if expected_ok {
            prop_assert_eq!(body["balance"].as_i64(), Some(model.balance), "step {} {:?}", step, op);
        }
    }
    prop_assert_eq!(app.balance(id).await, model.balance);
    Ok(())
}

#[test]
fn balance_equals_the_ledger_sum_after_any_sequence() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let app = rt.block_on(spawn_app());
    let case = std::sync::atomic::AtomicUsize::new(0);
    let config = ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..25))| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(run(&app, n, &ops))?;
        rt.block_on(app.assert_ledger_consistent());
    });
    rt.block_on(app.run_jobs());
}
