use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn block_and_unblock_change_the_pass_and_are_idempotent() {
    let app = spawn_app().await;
    let card = app.enrol("status@example.fr").await;
    let id = card["id"].as_str().unwrap();
    assert_eq!(card["pass_version"], 1);
    let (status, body) = app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(
        (status, body["status"].as_str(), body["pass_version"].as_i64()),
        (StatusCode::OK, Some("blocked"), Some(2))
    );
    let (_, again) = app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(again["pass_version"], 2, "blocking a blocked card changes nothing");
    let (_, body) = app.post(&format!("/api/v1/cards/{id}/unblock"), &app.staff.owner, None, &json!({})).await;
    assert_eq!((body["status"].as_str(), body["pass_version"].as_i64()), (Some("active"), Some(3)));
    let (status, body) = app.post("/api/v1/cards/unknown/block", &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "card_not_found"));
    app.run_jobs().await;
}

#[tokio::test]
async fn a_closed_card_takes_no_new_points_by_any_path() {
    let app = spawn_app().await;
    let (status, _) = app
        .post(
            "/api/v1/promo-campaigns",
            &app.staff.manager,
            None,
            &json!({"name": "B", "code": "BONUS", "effect": {"bonus_points": 5}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let card = app.enrol("closed@example.fr").await;
    let (id, barcode) = (card["id"].as_str().unwrap(), card["barcode"].as_str().unwrap());
    assert_eq!(app.purchase(&app.staff.cashier, barcode, 2000, "p-1").await.0, StatusCode::CREATED);
    let (status, redeemed) = app
        .post(
            &format!("/api/v1/cards/{id}/redemptions"),
            &app.staff.cashier,
            Some("r-1"),
            &json!({"points": 5, "reason": "coffee"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{redeemed}");
    let entry = redeemed["redemption"]["id"].as_i64().unwrap();
    assert_eq!(app.exec(&format!("UPDATE cards SET status = 'closed' WHERE id = '{id}'")).await, 1);

    let closed = |(status, body): (StatusCode, serde_json::Value)| {
        assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "card_closed"), "{body}");
    };
    let adjust = format!("/api/v1/cards/{id}/adjustments");
    closed(app.post(&adjust, &app.staff.manager, Some("a-1"), &json!({"points": 5, "reason": "goodwill"})).await);
    closed(app.purchase(&app.staff.cashier, barcode, 1000, "p-2").await);
    let promo = json!({"code": "BONUS", "card": barcode});
    closed(app.post("/api/v1/promo-codes/redeem", &app.staff.cashier, Some("b-1"), &promo).await);
    let reversal = format!("/api/v1/redemptions/{entry}/reversal");
    closed(app.post(&reversal, &app.staff.manager, Some("u-1"), &json!({})).await);

    // A debit still lands: a correction downwards keeps the books exact.
    let (status, body) =
        app.post(&adjust, &app.staff.manager, Some("a-2"), &json!({"points": -1, "reason": "fix"})).await;
    assert_eq!((status, body["balance"].as_i64()), (StatusCode::CREATED, Some(14)), "{body}");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}
