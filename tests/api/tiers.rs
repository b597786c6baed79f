//! Tier rules: the ordered list a manager sets, checked as a whole.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

async fn put_tiers(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    app.send(Method::PUT, "/api/v1/program/tiers", Some(token), None, Some(body)).await
}

fn sephora() -> Value {
    json!([
        {"key": "white", "name": "White"},
        {"key": "black", "name": "Black", "qualify": {"any_of": [
            {"metric": "points_earned", "at_least": 150}, {"metric": "visits", "at_least": 4}]},
         "entry_reward": {"voucher": {"percent_off": 10}, "validity_days": 60}},
        {"key": "gold", "name": "Gold", "name_fr": "Or", "window_months": 12, "keep_months": 12,
         "qualify": {"all_of": [{"metric": "points_earned", "at_least": 1500}]}}
    ])
}

#[tokio::test]
async fn a_manager_sets_the_tiers_and_staff_read_them_back_with_their_defaults() {
    let app = spawn_app().await;
    let (status, none) = app.get("/api/v1/program/tiers", &app.staff.cashier).await;
    assert_eq!((status, none), (StatusCode::OK, json!([])));

    let (status, set) = put_tiers(&app, &app.staff.manager, &sephora()).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (_, read) = app.get("/api/v1/program/tiers", &app.staff.cashier).await;
    assert_eq!(read, set);
    assert_eq!(read.as_array().map(Vec::len), Some(3));
    assert_eq!(
        read[1],
        json!({"key": "black", "name": "Black", "window_months": 12, "earn_multiplier_percent": 100, "keep_months": 12,
               "qualify": {"any_of": [{"metric": "points_earned", "at_least": 150}, {"metric": "visits", "at_least": 4}]},
               "entry_reward": {"voucher": {"percent_off": 10}, "validity_days": 60, "min_purchase_cents": 0}})
    );
    assert_eq!(read[0]["entry_reward"], Value::Null);

    let (status, body) = put_tiers(&app, &app.staff.cashier, &json!([])).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let other = app.new_program("other").await;
    let (_, theirs) = app.get("/api/v1/program/tiers", &other.cashier).await;
    assert_eq!(theirs, json!([]), "another programme's tiers are its own");

    let (status, off) = put_tiers(&app, &app.staff.manager, &json!([])).await;
    assert_eq!((status, off), (StatusCode::OK, json!([])), "an empty list turns tiers off");
}

#[tokio::test]
async fn bad_tier_lists_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let entry = json!({"key": "lin", "name": "Lin"});
    let spend = |key: &str, cents: i64| json!({"key": key, "name": key, "qualify": {"any_of": [{"metric": "spend_cents", "at_least": cents}]}});
    let with = |mut tier: Value, field: &str, value: Value| {
        tier[field] = value;
        tier
    };
    let cases = [
        (json!([entry, spend("velours", 25000), spend("soie", 20000)]), 422, "tiers[2].qualify"),
        (json!([entry, spend("velours", 25000), spend("soie", 25000)]), 422, "tiers[2].qualify"),
        (json!([entry, spend("lin", 25000)]), 422, "tiers[1].key"),
        (json!([spend("velours", 25000)]), 422, "tiers[0].qualify"),
        (
            json!([entry, with(spend("soie", 60000), "earn_multiplier_percent", json!(50))]),
            422,
            "tiers[1].earn_multiplier_percent",
        ),
        (
            json!([entry, with(spend("soie", 60000), "earn_multiplier_percent", json!(1001))]),
            422,
            "tiers[1].earn_multiplier_percent",
        ),
        (json!([entry, with(spend("soie", 60000), "window_months", json!(0))]), 422, "tiers[1].window_months"),
        (json!([entry, spend("soie", -1)]), 422, "tiers[1].qualify.any_of[0].at_least"),
    ];
    for (body, status, field) in cases {
        let (got, res) = put_tiers(&app, &app.staff.manager, &body).await;
        assert_eq!(
            (got.as_u16(), code(&res), res["error"]["field"].as_str()),
            (status, "invalid_tiers", Some(field)),
            "{res}"
        );
    }
    let unknown = json!([entry, {"key": "x", "name": "X", "qualify": {"any_of": [{"metric": "age", "at_least": 3}]}}]);
    let (status, res) = put_tiers(&app, &app.staff.manager, &unknown).await;
    assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "invalid_request"), "{res}");
    assert!(res["error"]["message"].as_str().unwrap().contains("spend_cents"), "names the metrics: {res}");
    let percent = json!([
        entry,
        with(spend("soie", 60000), "entry_reward", json!({"voucher": {"percent_off": 150}, "validity_days": 30}))
    ]);
    let (status, res) = put_tiers(&app, &app.staff.manager, &percent).await;
    assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "invalid_request"), "{res}");
    let (_, stored) = app.get("/api/v1/program/tiers", &app.staff.manager).await;
    assert_eq!(stored, json!([]), "nothing refused was stored");
}
