//! The inputs and figures of the insights: a till's daily sales totals (the sales made without
//! a card too), from which the enrolment rate is computed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

/// The programme's local day today (the test programme is on Paris time).
fn paris_today() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

async fn put_totals(app: &TestApp, token: &str, location: &str, body: &Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/locations/{location}/sales-totals"), token, None, body).await
}

async fn audit_rows(app: &TestApp) -> Vec<Value> {
    let (status, page) = app.get("/api/v1/audit?limit=200", &app.staff.owner).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["entries"].as_array().unwrap().iter().filter(|r| r["action"] == "sales_totals.put").cloned().collect()
}

#[tokio::test]
async fn a_till_reports_its_day_and_a_second_report_replaces_the_first() {
    let app = spawn_app().await;
    let shop = app.staff.location_id.clone();
    let card = app.enrol("zoe@example.fr").await;
    let (status, _) = app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 1250, "t-1").await;
    assert_eq!(status, StatusCode::CREATED);
    let today = paris_today().to_string();

    // A partial report (fewer sales than the card made) is kept, with a warning.
    let (status, first) =
        put_totals(&app, &app.staff.cashier, &shop, &json!({"date": today, "transactions": 0, "revenue_cents": 0}))
            .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["replaced"], false);
    assert_eq!((&first["card_transactions"], &first["card_revenue_cents"]), (&json!(1), &json!(1250)));
    assert!(first["warning"].as_str().unwrap().contains("fewer sales"), "{first}");

    let body = json!({"date": today, "transactions": 41, "revenue_cents": 102_000});
    let (status, second) = put_totals(&app, &app.staff.cashier, &shop, &body).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        (&second["replaced"], &second["transactions"], &second["revenue_cents"], &second["currency"]),
        (&json!(true), &json!(41), &json!(102_000), &json!("EUR"))
    );
    assert!(second.get("warning").is_none(), "{second}");
    // The till retries: the same answer, and nothing new in the audit log.
    let (status, again) = put_totals(&app, &app.staff.cashier, &shop, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, second);

    let (status, list) = app.get(&format!("/api/v1/locations/{shop}/sales-totals"), &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "one row per shop and day: {list}");
    assert_eq!((&list[0]["date"], &list[0]["transactions"]), (&json!(today), &json!(41)));

    let rows = audit_rows(&app).await;
    assert_eq!(rows.len(), 2, "a creation and a change, not the retry: {rows:?}");
    let target = format!("{shop}/{today}");
    assert_eq!(rows[0]["target"], json!({"type": "sales_totals", "id": target}));
    assert_eq!(rows[0]["changes"]["transactions"], json!({"before": 0, "after": 41}));
    assert_eq!(rows[0]["actor"]["email"], "cashier@shop.test");
    app.jobs_may_stay();
}

#[tokio::test]
async fn totals_that_cannot_be_true_or_belong_elsewhere_are_refused() {
    let app = spawn_app().await;
    let shop = app.staff.location_id.clone();
    let tomorrow = (paris_today() + chrono::Duration::days(1)).to_string();
    let cases = [
        (
            json!({"date": tomorrow, "transactions": 1, "revenue_cents": 100}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "date_out_of_range",
        ),
        (
            json!({"date": "2019-01-01", "transactions": 1, "revenue_cents": 100}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "date_out_of_range",
        ),
        (
            json!({"date": "2026-02-30", "transactions": 1, "revenue_cents": 100}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"date": paris_today(), "transactions": -1, "revenue_cents": 100}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"date": paris_today(), "transactions": 1, "revenue_cents": -5}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (json!({"date": paris_today(), "transactions": 1}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"date": paris_today(), "transactions": 1, "revenue_cents": 5, "cards": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, expected) in cases {
        let (got, answer) = put_totals(&app, &app.staff.manager, &shop, &body).await;
        assert_eq!((got, code(&answer)), (status, expected), "{body}: {answer}");
    }

    // A cashier of one shop does not report another's day; another programme's shop is unknown.
    let (status, other) = app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": "Gare"})).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let body = json!({"date": paris_today(), "transactions": 3, "revenue_cents": 900});
    let (status, answer) = put_totals(&app, &app.staff.cashier, other["id"].as_str().unwrap(), &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "forbidden"), "{answer}");
    let stranger = app.new_program("autre").await;
    let (status, answer) = put_totals(&app, &stranger.manager, &shop, &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "location_not_found"), "{answer}");
    let (status, answer) = app.get(&format!("/api/v1/locations/{shop}/sales-totals"), &stranger.manager).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "location_not_found"), "{answer}");
    assert!(audit_rows(&app).await.is_empty(), "nothing refused was recorded");

    // An archived shop keeps the days before its archiving, and has no day after.
    let other_id = other["id"].as_str().unwrap();
    let (status, _) =
        app.post(&format!("/api/v1/locations/{other_id}/archive"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = put_totals(&app, &app.staff.manager, other_id, &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "location_archived"), "{answer}");
    let yesterday = json!({"date": paris_today() - chrono::Duration::days(1), "transactions": 3, "revenue_cents": 900});
    let (status, answer) = put_totals(&app, &app.staff.manager, other_id, &yesterday).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}
