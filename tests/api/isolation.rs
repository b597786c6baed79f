//! A token of program B never reads or writes program A's rows, on any endpoint.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn another_programs_staff_sees_nothing_of_ours() {
    let app = spawn_app().await;
    let card = app.enrol("mine@example.fr").await;
    let (status, body) = app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 2000, "a-1").await;
    assert_eq!(status, StatusCode::CREATED);
    let purchase_id = body["purchase"]["id"].as_str().unwrap().to_owned();
    let id = card["id"].as_str().unwrap();
    let before =
        (app.count("ledger_entries", "1=1").await, app.count("outbox_jobs", "1=1").await, app.balance(id).await);

    let other = app.new_program("other").await;
    for token in [&other.owner, &other.manager, &other.cashier] {
        for reference in [&card["id"], &card["number"], &card["barcode"]] {
            let (status, body) = app.get(&format!("/api/v1/cards/{}", reference.as_str().unwrap()), token).await;
            assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "card_not_found"));
        }
        let (status, _) = app.get(&format!("/api/v1/cards/{id}/ledger"), token).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let writes = [
            (format!("/api/v1/cards/{id}/block"), json!({}), "card_not_found"),
            (format!("/api/v1/cards/{id}/unblock"), json!({}), "card_not_found"),
            (format!("/api/v1/cards/{id}/redemptions"), json!({"points": 1, "reason": "x"}), "card_not_found"),
            (format!("/api/v1/cards/{id}/adjustments"), json!({"points": 1, "reason": "x"}), "card_not_found"),
            (
                "/api/v1/purchases".to_owned(),
                json!({"card": card["barcode"], "amount_cents": 100, "currency": "EUR"}),
                "card_not_found",
            ),
            (
                "/api/v1/purchases".to_owned(),
                json!({"card": card["number"], "amount_cents": 100, "currency": "EUR"}),
                "card_not_found",
            ),
            (format!("/api/v1/purchases/{purchase_id}/returns"), json!({"amount_cents": 100}), "purchase_not_found"),
        ];
        for (path, body, expected) in writes {
            let (status, res) = app.send(Method::POST, &path, Some(token), Some("b-key"), Some(&body)).await;
            if token == &other.cashier
                && (path.ends_with("/block") || path.ends_with("/unblock") || path.ends_with("/adjustments"))
            {
                assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            } else {
                assert_eq!((status, code(&res)), (StatusCode::NOT_FOUND, expected), "{path}");
            }
        }
    }
    let after =
        (app.count("ledger_entries", "1=1").await, app.count("outbox_jobs", "1=1").await, app.balance(id).await);
    assert_eq!(before, after, "nothing of program A changed");
    let (_, ours) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(ours["status"], "active");
    app.run_jobs().await;
}

#[tokio::test]
async fn idempotency_keys_are_per_program() {
    let app = spawn_app().await;
    let other = app.new_program("other").await;
    let mine = app.enrol("a@example.fr").await;
    let theirs = app.enrol_with(&other.cashier, "b@example.fr").await;
    let (s1, b1) = app.purchase(&app.staff.cashier, mine["barcode"].as_str().unwrap(), 1000, "same-key").await;
    let (s2, b2) = app.purchase(&other.cashier, theirs["barcode"].as_str().unwrap(), 2000, "same-key").await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!((b1["balance"].as_i64(), b2["balance"].as_i64()), (Some(10), Some(20)));
    app.run_jobs().await;
}
