use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

async fn card_with_points(app: &TestApp, email: &str, cents: i64) -> (Value, Value) {
    let card = app.enrol(email).await;
    let (status, body) =
        app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), cents, &format!("p-{email}")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (card, body["purchase"].clone())
}

#[tokio::test]
async fn a_purchase_earns_by_the_rule_rounding_down() {
    let app = spawn_app().await;
    let card = app.enrol("earn@example.fr").await;
    let (status, body) = app
        .post(
            "/api/v1/purchases",
            &app.staff.cashier,
            Some("k-1"),
            &json!({"card": card["display_number"], "amount_cents": 1250, "currency": "eur", "external_ref": "T-0001"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["points_earned"], 12);
    assert_eq!(body["balance"], 12);
    let purchase = &body["purchase"];
    assert_eq!(purchase["amount_cents"], 1250);
    assert_eq!(purchase["currency"], "EUR");
    assert_eq!(purchase["external_ref"], "T-0001");
    assert_eq!(purchase["status"], "completed");
    assert_eq!(purchase["location_id"], app.staff.location_id.as_str(), "the cashier's shop by default");

    let (_, small) = app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 99, "k-2").await;
    assert_eq!(small["points_earned"], 0, "99 cents earn nothing at 1 point per euro");
    assert_eq!(small["balance"], 12);

    let (status, ledger) =
        app.get(&format!("/api/v1/cards/{}/ledger", card["id"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK);
    let entries = ledger["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "no zero entry for a purchase that earned nothing");
    assert_eq!(entries[0]["kind"], "earn");
    assert_eq!(entries[0]["points"], 12);
    assert_eq!(entries[0]["balance_after"], 12);
    assert_eq!(entries[0]["purchase_id"], purchase["id"]);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn blocked_cards_earn_nothing_and_nothing_is_written() {
    let app = spawn_app().await;
    let card = app.enrol("blocked@example.fr").await;
    let id = card["id"].as_str().unwrap();
    let (status, body) = app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("blocked")));
    let (status, body) = app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1000, "b-1").await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "card_blocked"));
    assert_eq!(app.count("purchases", "1=1").await, 0);
    assert_eq!(app.count("idempotency_keys", "1=1").await, 0, "a refused request burns no key");

    let (status, _) = app.post(&format!("/api/v1/cards/{id}/unblock"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1000, "b-1").await;
    assert_eq!(status, StatusCode::CREATED, "the same key works once the card is unblocked: {body}");
    assert_eq!(body["balance"], 10);
    app.run_jobs().await;
}

#[tokio::test]
async fn purchase_rules_refuse_with_clear_codes() {
    let app = spawn_app().await;
    let card = app.enrol("rules@example.fr").await;
    let barcode = card["barcode"].as_str().unwrap();
    let app = &app;
    let post = |key: &'static str, body: Value| async move {
        app.post("/api/v1/purchases", &app.staff.cashier, Some(key), &body).await
    };

    let (status, body) = post("r-1", json!({"card": barcode, "amount_cents": 500, "currency": "USD"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch"));
    let (status, body) = post("r-2", json!({"card": "000000000000", "amount_cents": 500, "currency": "EUR"})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "card_not_found"));
    let (status, body) =
        post("r-3", json!({"card": barcode, "amount_cents": 500, "currency": "EUR", "location": "nowhere"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_location"));
    let (status, _) =
        post("r-4", json!({"card": barcode, "amount_cents": 500, "currency": "EUR", "external_ref": "T-9"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) =
        post("r-5", json!({"card": barcode, "amount_cents": 700, "currency": "EUR", "external_ref": "T-9"})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "external_ref_exists"));
    assert_eq!(app.count("purchases", "1=1").await, 1);
    app.run_jobs().await;
}

#[tokio::test]
async fn returns_reverse_points_in_proportion_never_more_than_earned() {
    let app = spawn_app().await;
    let (card, purchase) = card_with_points(&app, "ret@example.fr", 1250).await;
    let path = format!("/api/v1/purchases/{}/returns", purchase["id"].as_str().unwrap());
    let token = &app.staff.cashier;

    let (status, body) = app.post(&path, token, Some("ret-1"), &json!({"amount_cents": 625})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        (body["points_reversed"].as_i64(), body["points_owed"].as_i64(), body["balance"].as_i64()),
        (Some(6), Some(0), Some(6))
    );
    assert_eq!(body["purchase"]["status"], "partially_returned");
    assert_eq!(body["entries"][0]["kind"], "reversal");

    let replay = app.post(&path, token, Some("ret-1"), &json!({"amount_cents": 625})).await;
    assert_eq!(replay, (status, body), "a retried return is not applied twice");

    let (status, body) = app.post(&path, token, Some("ret-2"), &json!({"amount_cents": 626})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "return_exceeds_purchase"));
    let (status, body) = app.post(&path, token, Some("ret-3"), &json!({"amount_cents": 625})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((body["points_reversed"].as_i64(), body["balance"].as_i64()), (Some(6), Some(0)));
    assert_eq!(body["purchase"]["status"], "returned");
    assert_eq!(body["purchase"]["returned_cents"], 1250);
    assert_eq!(app.balance(card["id"].as_str().unwrap()).await, 0);

    let (status, body) =
        app.post("/api/v1/purchases/nope/returns", token, Some("ret-4"), &json!({"amount_cents": 1})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "purchase_not_found"));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn returning_after_spending_leaves_a_labelled_debt_that_earnings_repay() {
    let app = spawn_app().await;
    let (card, purchase) = card_with_points(&app, "debt@example.fr", 5000).await;
    let id = card["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{id}/redemptions"),
            &app.staff.cashier,
            Some("spend"),
            &json!({"points": 40, "reason": "coffee"}),
        )
        .await;
    assert_eq!((status, body["balance"].as_i64()), (StatusCode::CREATED, Some(10)));

    let path = format!("/api/v1/purchases/{}/returns", purchase["id"].as_str().unwrap());
    let (status, body) = app.post(&path, &app.staff.cashier, Some("full-return"), &json!({"amount_cents": 5000})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["points_reversed"], 50);
    assert_eq!(body["points_owed"], 40);
    assert_eq!(body["balance"], -40);
    let kinds: Vec<(&str, i64)> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["points"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, vec![("reversal", -10), ("debt", -40)]);

    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{id}/redemptions"),
            &app.staff.cashier,
            Some("spend-2"),
            &json!({"points": 1, "reason": "x"}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_points"));
    let (_, body) = app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 6000, "repay").await;
    assert_eq!(body["balance"], 20, "60 new points pay the 40 owed");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn redemptions_and_adjustments() {
    let app = spawn_app().await;
    let (card, _) = card_with_points(&app, "redeem@example.fr", 3000).await;
    let id = card["id"].as_str().unwrap();
    let redeem = format!("/api/v1/cards/{id}/redemptions");
    let adjust = format!("/api/v1/cards/{id}/adjustments");

    let (status, body) =
        app.post(&redeem, &app.staff.cashier, Some("r1"), &json!({"points": 31, "reason": "free coffee"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_points"));
    let (status, body) =
        app.post(&redeem, &app.staff.cashier, Some("r2"), &json!({"points": 30, "reason": "free coffee"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["balance"], 0);
    assert_eq!(body["redemption"]["kind"], "redeem");
    assert_eq!(body["redemption"]["points"], -30);
    assert_eq!(body["redemption"]["reason"], "free coffee");

    let (status, body) =
        app.post(&adjust, &app.staff.manager, Some("a1"), &json!({"points": -1, "reason": "fix"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_points"));
    let (status, body) = app.post(&adjust, &app.staff.manager, Some("a2"), &json!({"points": 25})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reason")), "{body}");
    let (status, body) =
        app.post(&adjust, &app.staff.manager, Some("a3"), &json!({"points": 25, "reason": "  "})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reason")), "{body}");
    let (status, body) =
        app.post(&adjust, &app.staff.manager, Some("a4"), &json!({"points": 25, "reason": "birthday"})).await;
    assert_eq!((status, body["balance"].as_i64()), (StatusCode::CREATED, Some(25)), "{body}");
    assert_eq!(body["adjustment"]["kind"], "adjust");

    app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.manager, None, &json!({})).await;
    let (status, body) = app.post(&redeem, &app.staff.cashier, Some("r3"), &json!({"points": 1, "reason": "x"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "card_blocked"));
    let (status, _) = app
        .post(&adjust, &app.staff.owner, Some("a5"), &json!({"points": 5, "reason": "correction while blocked"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "managers may correct a blocked card");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn the_ledger_pages_newest_first() {
    let app = spawn_app().await;
    let card = app.enrol("pages@example.fr").await;
    for i in 1..=5 {
        app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), i * 100, &format!("page-{i}")).await;
    }
    let base = format!("/api/v1/cards/{}/ledger?limit=2", card["id"].as_str().unwrap());
    let mut seen = Vec::new();
    let mut url = base.clone();
    loop {
        let (status, page) = app.get(&url, &app.staff.cashier).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["balance"], 15);
        seen.extend(page["entries"].as_array().unwrap().iter().map(|e| e["points"].as_i64().unwrap()));
        match page["next_before"].as_i64() {
            Some(before) => url = format!("{base}&before={before}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![5, 4, 3, 2, 1]);
    let (status, body) =
        app.get(&format!("/api/v1/cards/{}/ledger?limit=0", card["id"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
    app.run_jobs().await;
}

#[tokio::test]
async fn a_credit_goes_through_on_a_card_in_debt() {
    let app = spawn_app().await;
    let (card, purchase) = card_with_points(&app, "indebt@example.fr", 5000).await;
    let id = card["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/cards/{id}/redemptions"),
        &app.staff.cashier,
        Some("spend"),
        &json!({"points": 50, "reason": "x"}),
    )
    .await;
    let path = format!("/api/v1/purchases/{}/returns", purchase["id"].as_str().unwrap());
    let (_, body) = app.post(&path, &app.staff.cashier, Some("ret"), &json!({"amount_cents": 5000})).await;
    assert_eq!(body["balance"], -50);
    let adjust = format!("/api/v1/cards/{id}/adjustments");
    let (status, body) =
        app.post(&adjust, &app.staff.manager, Some("goodwill"), &json!({"points": 10, "reason": "goodwill"})).await;
    assert_eq!((status, body["balance"].as_i64()), (StatusCode::CREATED, Some(-40)), "{body}");
    let (status, body) =
        app.post(&adjust, &app.staff.manager, Some("more"), &json!({"points": -1, "reason": "x"})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_points"));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn an_offline_till_dates_its_sales_within_the_backdating_window() {
    let app = spawn_app().await;
    let card = app.enrol("offline@example.fr").await;
    let number = card["number"].as_str().unwrap();
    let at =
        |offset: chrono::Duration| (chrono::Utc::now() + offset).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let sale = |when: String| json!({"card": number, "amount_cents": 1000, "currency": "EUR", "occurred_at": when});
    let cashier = &app.staff.cashier;

    let three_days_ago = at(-chrono::Duration::days(3));
    let (status, body) = app.post("/api/v1/purchases", cashier, Some("late-1"), &sale(three_days_ago.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["purchase"]["occurred_at"], three_days_ago.as_str());
    assert_ne!(body["purchase"]["created_at"], body["purchase"]["occurred_at"], "recorded now, happened then");
    let replay = app.post("/api/v1/purchases", cashier, Some("late-1"), &sale(three_days_ago)).await;
    assert_eq!(replay, (status, body), "a retried upload is one sale");

    let (status, body) =
        app.post("/api/v1/purchases", cashier, Some("late-2"), &sale(at(chrono::Duration::minutes(2)))).await;
    assert_eq!(status, StatusCode::CREATED, "a till's clock a little ahead is fine: {body}");

    for (key, when) in [("late-3", at(chrono::Duration::hours(1))), ("late-4", at(-chrono::Duration::days(31)))] {
        let (status, body) = app.post("/api/v1/purchases", cashier, Some(key), &sale(when)).await;
        assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "occurred_at_out_of_range"), "{body}");
        assert_eq!(body["error"]["field"], "occurred_at");
    }
    let (status, body) = app.post("/api/v1/purchases", cashier, Some("late-5"), &sale("yesterday".into())).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_request"), "{body}");
    assert_eq!(app.count("purchases", "1 = 1").await, 2, "refused sales are not written");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}
