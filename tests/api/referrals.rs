//! Referral: rewarded exactly once, refused with stable reasons, clawed back on return.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

async fn referral_on(app: &TestApp, settings: Value) {
    let (status, body) =
        app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.manager), None, Some(&settings)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn standard() -> Value {
    json!({"enabled": true, "min_purchase_cents": 1000, "window_days": 30, "referrer_points": 100, "referee_points": 50})
}

/// Enrols `email` with `referral_code`; returns the whole answer.
async fn enrol_referred(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post("/api/v1/customers", &app.staff.cashier, None, &body).await
}

#[tokio::test]
async fn a_referred_friends_first_qualifying_purchase_rewards_both_once() {
    let app = spawn_app().await;
    referral_on(&app, standard()).await;
    let referrer = app.enrol("marie@example.fr").await;
    let code = referrer["referral_code"].as_str().unwrap();
    assert_eq!(code.len(), 7);
    let (status, enrolled) = enrol_referred(
        &app,
        json!({"email": "paul@example.fr", "first_name": "Paul", "referral_code": code.to_lowercase()}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    assert_eq!(enrolled["referral"]["status"], "pending");
    let referee = &enrolled["card"];
    let barcode = referee["barcode"].as_str().unwrap();

    let (_, small) = app.purchase(&app.staff.cashier, barcode, 999, "small").await;
    assert!(small.get("referral").is_none(), "9.99 does not qualify: {small}");
    // The retried qualifying purchase and a second qualifying purchase at the same moment.
    let (a, b, c) = tokio::join!(
        app.purchase(&app.staff.cashier, barcode, 1500, "big-1"),
        app.purchase(&app.staff.cashier, barcode, 1500, "big-1"),
        app.purchase(&app.staff.cashier, barcode, 2000, "big-2"),
    );
    assert_eq!(a, b, "a retry replays");
    let rewarded: Vec<&Value> = [&a.1, &c.1].into_iter().filter(|r| r.get("referral").is_some()).collect();
    assert_eq!(rewarded.len(), 1, "one purchase qualifies: {a:?} {c:?}");
    assert_eq!(rewarded[0]["referral"]["status"], "rewarded");

    let referee_balance = app.balance(barcode).await;
    assert_eq!(referee_balance, 9 + 15 + 20 + 50);
    assert_eq!(app.balance(referrer["id"].as_str().unwrap()).await, 100);
    assert_eq!(app.count("ledger_entries", "kind = 'referral'").await, 2);
    assert_eq!(
        app.count("outbox_jobs", "kind = 'email' AND payload LIKE '%referral_rewarded%'").await,
        2,
        "an e-mail job per beneficiary"
    );

    let (status, mine) =
        app.get(&format!("/api/v1/cards/{}/referrals", referrer["id"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["referral_link"], format!("http://127.0.0.1:0/r/{code}"));
    assert_eq!(mine["referrals"].as_array().unwrap().len(), 1);
    assert_eq!(mine["referrals"][0]["status"], "rewarded");
    let (_, stats) = app.get("/api/v1/referrals/stats", &app.staff.manager).await;
    assert_eq!((stats["referred"].as_i64(), stats["rewarded"].as_i64()), (Some(1), Some(1)));
    assert_eq!(stats["conversion_rate"], 1.0);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn self_referrals_and_other_refusals_carry_their_reason() {
    let app = spawn_app().await;
    referral_on(&app, json!({"enabled": true, "min_purchase_cents": 100, "referrer_points": 10, "referee_points": 10, "max_total": 1})).await;
    let (_, referrer) = enrol_referred(
        &app,
        json!({"email": "zoe.martin@gmail.com", "first_name": "Zoé", "phone": "06 12 34 56 78", "device_id": "device-zoe"}),
    )
    .await;
    let code = referrer["card"]["referral_code"].as_str().unwrap().to_owned();
    let cases = [
        (json!({"email": "zoe.martin+2@gmail.com", "first_name": "Z"}), "self_referral"),
        (json!({"email": "zoemartin@googlemail.com", "first_name": "Z"}), "self_referral"),
        (json!({"email": "z2@example.fr", "first_name": "Z", "phone": "+33 6 12 34 56 78"}), "self_referral"),
        (json!({"email": "z3@example.fr", "first_name": "Z", "device_id": "device-zoe"}), "self_referral"),
    ];
    for (mut body, reason) in cases {
        body["referral_code"] = json!(code);
        let (status, res) = enrol_referred(&app, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "the customer is enrolled anyway: {res}");
        assert_eq!(
            (res["referral"]["status"].as_str(), res["referral"]["reason"].as_str()),
            (Some("rejected"), Some(reason)),
            "{body}"
        );
    }
    // Someone already a customer under another spelling of their e-mail.
    app.enrol("leo@gmail.com").await;
    let (_, res) =
        enrol_referred(&app, json!({"email": "l.e.o@gmail.com", "first_name": "L", "referral_code": code})).await;
    assert_eq!(res["referral"]["reason"], "already_customer");

    let (status, res) =
        enrol_referred(&app, json!({"email": "x@example.fr", "first_name": "X", "referral_code": "ABCD-EFG"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a mistyped code fails its check symbol: {res}");
    assert_eq!(res["error"]["field"], "referral_code");
    let unknown = other_valid_code(&code);
    let (status, res) =
        enrol_referred(&app, json!({"email": "x@example.fr", "first_name": "X", "referral_code": unknown})).await;
    assert_eq!((status, code_of(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "referral_code_unknown"));

    // The limit (one rewarded referral in total) and a blocked referrer.
    let (_, first) =
        enrol_referred(&app, json!({"email": "friend1@example.fr", "first_name": "F", "referral_code": code})).await;
    let (_, second) =
        enrol_referred(&app, json!({"email": "friend2@example.fr", "first_name": "F", "referral_code": code})).await;
    assert_eq!(second["referral"]["status"], "pending");
    app.purchase(&app.staff.cashier, first["card"]["barcode"].as_str().unwrap(), 500, "f1").await;
    let (_, res) = app.purchase(&app.staff.cashier, second["card"]["barcode"].as_str().unwrap(), 500, "f2").await;
    assert_eq!(
        (res["referral"]["status"].as_str(), res["referral"]["reason"].as_str()),
        (Some("rejected"), Some("limit_reached"))
    );
    let (_, res) =
        enrol_referred(&app, json!({"email": "friend3@example.fr", "first_name": "F", "referral_code": code})).await;
    assert_eq!(res["referral"]["reason"], "limit_reached");

    let referrer_id = referrer["card"]["id"].as_str().unwrap();
    app.post(&format!("/api/v1/cards/{referrer_id}/block"), &app.staff.manager, None, &json!({})).await;
    let (_, res) =
        enrol_referred(&app, json!({"email": "friend4@example.fr", "first_name": "F", "referral_code": code})).await;
    assert_eq!(res["referral"]["reason"], "referrer_blocked");

    let (_, stats) = app.get("/api/v1/referrals/stats", &app.staff.manager).await;
    assert_eq!(stats["reasons"]["self_referral"], 4);
    assert_eq!(stats["rewarded"], 1);
    app.run_jobs().await;
}

fn code_of(body: &Value) -> &str {
    code(body)
}

/// A well-formed referral code (right check symbol) that no card has.
fn other_valid_code(taken: &str) -> String {
    loop {
        let candidate = encarte::domain::codes::ReferralCode::generate();
        if candidate.as_str() != taken {
            return candidate.as_str().to_owned();
        }
    }
}

#[tokio::test]
async fn returning_the_qualifying_purchase_claws_both_rewards_back_once() {
    let app = spawn_app().await;
    referral_on(&app, standard()).await;
    let referrer = app.enrol("anna@example.fr").await;
    let (_, enrolled) = enrol_referred(
        &app,
        json!({"email": "bob@example.fr", "first_name": "Bob", "referral_code": referrer["referral_code"]}),
    )
    .await;
    let barcode = enrolled["card"]["barcode"].as_str().unwrap();
    let (_, bought) = app.purchase(&app.staff.cashier, barcode, 2000, "q").await;
    assert_eq!(bought["referral"]["status"], "rewarded");
    let path = format!("/api/v1/purchases/{}/returns", bought["purchase"]["id"].as_str().unwrap());
    let (status, _) = app.post(&path, &app.staff.cashier, Some("r1"), &json!({"amount_cents": 500})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.balance(referrer["id"].as_str().unwrap()).await, 100, "15.00 kept is still above the minimum");
    let (status, _) = app.post(&path, &app.staff.cashier, Some("r2"), &json!({"amount_cents": 1000})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.balance(referrer["id"].as_str().unwrap()).await, 0, "5.00 kept: the reward is taken back");
    assert_eq!(app.balance(barcode).await, 20 - 15 + 50 - 50);
    app.post(&path, &app.staff.cashier, Some("r3"), &json!({"amount_cents": 500})).await;
    assert_eq!(app.count("ledger_entries", "kind = 'referral_clawback'").await, 2, "once");
    let (_, mine) =
        app.get(&format!("/api/v1/cards/{}/referrals", referrer["id"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!(
        (mine["referrals"][0]["status"].as_str(), mine["referrals"][0]["reason"].as_str()),
        (Some("clawed_back"), Some("qualifying_purchase_returned"))
    );
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn referral_settings_are_checked_and_scoped() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v1/program/referral", &app.staff.cashier).await;
    assert_eq!((status, body["enabled"].as_bool()), (StatusCode::OK, Some(false)));
    let (status, body) =
        app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.cashier), None, Some(&standard())).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = app
        .send(
            Method::PUT,
            "/api/v1/program/referral",
            Some(&app.staff.owner),
            None,
            Some(&json!({"enabled": true, "window_days": 0})),
        )
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("window_days")));
    let referrer = app.enrol("a@example.fr").await;
    let (status, body) = enrol_referred(
        &app,
        json!({"email": "b@example.fr", "first_name": "B", "referral_code": referrer["referral_code"]}),
    )
    .await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "referral_disabled"));
    referral_on(&app, standard()).await;
    let other = app.new_program("other").await;
    let (status, body) = app
        .post(
            "/api/v1/customers",
            &other.cashier,
            None,
            &json!({"email": "c@example.fr", "first_name": "C", "referral_code": referrer["referral_code"]}),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "referral_disabled"),
        "another programme's code is not ours"
    );
    app.run_jobs().await;
}
