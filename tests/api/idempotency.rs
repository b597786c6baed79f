use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn a_retried_purchase_replays_the_first_response_and_writes_nothing() {
    let app = spawn_app().await;
    let card = app.enrol("replay@example.fr").await;
    let barcode = card["barcode"].as_str().unwrap();
    let first = app
        .client
        .post(app.url("/api/v1/purchases"))
        .bearer_auth(&app.staff.cashier)
        .header("Idempotency-Key", "scan-1")
        .json(&json!({"card": barcode, "amount_cents": 1250, "currency": "EUR"}))
        .send()
        .await
        .unwrap();
    let (first_status, first_body) = (first.status(), first.text().await.unwrap());
    // Same request, other whitespace and key order: the same operation.
    let raw = format!("{{ \"currency\":\"EUR\",   \"amount_cents\": 1250, \"card\": \"{barcode}\" }}");
    let second = app
        .client
        .post(app.url("/api/v1/purchases"))
        .bearer_auth(&app.staff.cashier)
        .header("Idempotency-Key", "scan-1")
        .header("Content-Type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(second.headers().get("Idempotent-Replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!((second.status(), second.text().await.unwrap()), (first_status, first_body), "byte for byte");
    assert_eq!(app.count("ledger_entries", "1=1").await, 1);
    assert_eq!(app.count("purchases", "1=1").await, 1);
    assert_eq!(app.balance(barcode).await, 12);
    app.run_jobs().await;
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused() {
    let app = spawn_app().await;
    let card = app.enrol("reuse@example.fr").await;
    let barcode = card["barcode"].as_str().unwrap();
    assert_eq!(app.purchase(&app.staff.cashier, barcode, 1250, "k").await.0, StatusCode::CREATED);
    let (status, body) = app.purchase(&app.staff.cashier, barcode, 1300, "k").await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "idempotency_key_reused"));
    let id = card["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{id}/redemptions"),
            &app.staff.cashier,
            Some("k"),
            &json!({"points": 1, "reason": "x"}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "idempotency_key_reused"),
        "a key names one operation, on one endpoint"
    );
    assert_eq!(app.count("ledger_entries", "1=1").await, 1);
    app.run_jobs().await;
}

#[tokio::test]
async fn writes_without_a_key_are_refused() {
    let app = spawn_app().await;
    let card = app.enrol("nokey@example.fr").await;
    let id = card["id"].as_str().unwrap();
    let body = json!({"card": card["barcode"], "amount_cents": 100, "currency": "EUR"});
    for (path, body) in [
        ("/api/v1/purchases".to_owned(), body),
        (format!("/api/v1/cards/{id}/redemptions"), json!({"points": 1, "reason": "x"})),
        (format!("/api/v1/cards/{id}/adjustments"), json!({"points": 1, "reason": "x"})),
        ("/api/v1/purchases/any/returns".to_owned(), json!({"amount_cents": 1})),
    ] {
        let (status, res) = app.post(&path, &app.staff.owner, None, &body).await;
        assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "missing_idempotency_key"), "{path}");
    }
    let (status, res) = app.post("/api/v1/purchases", &app.staff.owner, Some(&"x".repeat(256)), &json!({})).await;
    assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "invalid_idempotency_key"));
    app.run_jobs().await;
}

#[tokio::test]
async fn fifty_concurrent_requests_with_one_key_make_one_entry_and_fifty_identical_answers() {
    let app = spawn_app().await;
    let card = app.enrol("burst@example.fr").await;
    let barcode = card["barcode"].as_str().unwrap();
    let calls = (0..50).map(|_| app.purchase(&app.staff.cashier, barcode, 1250, "double-scan"));
    let answers = futures::future::join_all(calls).await;
    assert_eq!(answers[0].0, StatusCode::CREATED, "{:?}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "every answer equals the first");
    assert_eq!(app.count("ledger_entries", "1=1").await, 1);
    assert_eq!(app.count("purchases", "1=1").await, 1);
    assert_eq!(app.balance(barcode).await, 12);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn fifty_concurrent_purchases_on_one_card_are_all_credited() {
    let app = spawn_app().await;
    let card = app.enrol("rush@example.fr").await;
    let barcode = card["barcode"].as_str().unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("rush-{i}")).collect();
    let calls = keys.iter().map(|k| app.purchase(&app.staff.cashier, barcode, 1250, k));
    let answers = futures::future::join_all(calls).await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    let mut balances: Vec<i64> = answers.iter().map(|(_, b)| b["balance"].as_i64().unwrap()).collect();
    balances.sort_unstable();
    assert_eq!(balances, (1..=50).map(|i| i * 12).collect::<Vec<_>>(), "each saw the balance after its own credit");
    assert_eq!(app.balance(barcode).await, 600);
    assert_eq!(app.count("ledger_entries", "1=1").await, 50);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn concurrent_redemptions_never_overdraw() {
    let app = spawn_app().await;
    let card = app.enrol("overdraw@example.fr").await;
    app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1000, "fund").await;
    let path = format!("/api/v1/cards/{}/redemptions", card["id"].as_str().unwrap());
    let keys: Vec<String> = (0..20).map(|i| format!("spend-{i}")).collect();
    let body = json!({"points": 3, "reason": "race"});
    let calls = keys.iter().map(|k| app.post(&path, &app.staff.cashier, Some(k), &body));
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(ok, 3, "10 points pay for exactly three redemptions of 3");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s != StatusCode::CREATED)
            .all(|(s, b)| *s == StatusCode::UNPROCESSABLE_ENTITY && code(b) == "insufficient_points")
    );
    assert_eq!(app.balance(card["id"].as_str().unwrap()).await, 1);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}
