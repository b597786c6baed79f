//! Points that expire by lot: the rule, which points expire when, the daily run, its reminders.

use chrono::{Months, NaiveDate, NaiveDateTime, TimeZone as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app_with};

const TZ: chrono_tz::Tz = chrono_tz::Europe::Paris;

async fn put_expiry(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    app.send(Method::PUT, "/api/v1/program/expiry", Some(token), None, Some(body)).await
}

/// The rule on, as if since long ago: lots earned in the past count from when they were earned.
async fn expiry_on_since_long_ago(app: &TestApp, rule: &Value) {
    let (status, body) = put_expiry(app, &app.staff.manager, rule).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.exec("UPDATE expiry_rules SET since = '2000-01-01'").await;
}

fn today() -> NaiveDate {
    TZ.from_utc_datetime(&chrono::Utc::now().naive_utc()).date_naive()
}

/// Noon of a local day, in UTC: when a simulated daily run happens.
fn noon(day: NaiveDate) -> NaiveDateTime {
    TZ.from_local_datetime(&day.and_hms_opt(12, 0, 0).unwrap()).unwrap().naive_utc()
}

fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn buy(app: &TestApp, number: &str, cents: i64, occurred: NaiveDateTime, key: &str) -> Value {
    let body = json!({"card": number, "amount_cents": cents, "currency": "EUR", "occurred_at": rfc3339(occurred)});
    let (status, res) = app.post("/api/v1/purchases", &app.staff.cashier, Some(key), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    res
}

async fn redeem(app: &TestApp, id: &str, points: i64, key: &str) -> (StatusCode, Value) {
    let body = json!({"points": points, "reason": "gift"});
    app.post(&format!("/api/v1/cards/{id}/redemptions"), &app.staff.cashier, Some(key), &body).await
}

async fn run_day(app: &TestApp, day: NaiveDate) -> encarte::service::expiry::run::Chunk {
    encarte::service::expiry::run::run_day(&app.db, &app.staff.program_id, noon(day), 30).await.expect("the daily run")
}

async fn expiry_of(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/cards/{id}/expiry"), &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn end_of_month_after_a_year(day: NaiveDate) -> NaiveDate {
    let later = day.checked_add_months(Months::new(13)).unwrap();
    NaiveDate::from_ymd_opt(chrono::Datelike::year(&later), chrono::Datelike::month(&later), 1)
        .unwrap()
        .pred_opt()
        .unwrap()
}

#[tokio::test]
async fn the_oldest_lot_expires_first_and_only_what_is_left_of_it_once() {
    let app = spawn_app_with(|c| c.purchase_backdate_max_days = 400).await;
    expiry_on_since_long_ago(&app, &json!({"mode": "after_earning", "months": 12, "round": "end_of_month"})).await;
    let card = app.enrol("lots@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());

    // "January" and "March": two months apart, so the lots end in different months.
    let (january, march) = (today() - chrono::Duration::days(100), today() - chrono::Duration::days(40));
    buy(&app, number, 10_000, noon(january), "jan").await;
    buy(&app, number, 7_000, noon(march), "mar").await;
    let (status, _) = redeem(&app, id, 30, "apr").await;
    assert_eq!(status, StatusCode::CREATED);
    let (jan_end, mar_end) = (end_of_month_after_a_year(january), end_of_month_after_a_year(march));
    assert_eq!(
        expiry_of(&app, id).await,
        json!([{"expires_on": jan_end.to_string(), "points": 70}, {"expires_on": mar_end.to_string(), "points": 70}]),
        "the redemption took from the January lot"
    );

    // The day after its last day, the January lot's 70 expire; March's stay.
    let ran = run_day(&app, jan_end.succ_opt().unwrap()).await;
    assert_eq!((ran.expired_points, ran.finished), (70, true));
    assert_eq!(app.balance(id).await, 70);
    assert_eq!(expiry_of(&app, id).await, json!([{"expires_on": mar_end.to_string(), "points": 70}]));
    let (_, ledger) = app.get(&format!("/api/v1/cards/{id}/ledger"), &app.staff.cashier).await;
    let newest = &ledger["entries"][0];
    assert_eq!((&newest["kind"], &newest["points"]), (&json!("expire"), &json!(-70)), "{ledger}");

    // Run again that day, the next day, or after a crash: nothing expires twice.
    assert_eq!(run_day(&app, jan_end.succ_opt().unwrap()).await.expired_points, 0);
    app.exec("UPDATE expiry_rules SET run_day = NULL, run_cursor = NULL").await;
    assert_eq!(run_day(&app, jan_end + chrono::Duration::days(2)).await.expired_points, 0);
    assert_eq!(app.count("ledger_entries", "kind = 'expire'").await, 1);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn the_holder_is_reminded_once_thirty_days_before_and_the_pass_and_page_say_when() {
    let app = spawn_app_with(|c| c.purchase_backdate_max_days = 400).await;
    expiry_on_since_long_ago(&app, &json!({"mode": "after_earning", "months": 12, "round": "none"})).await;
    let card = app.enrol("remind@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());
    let earned = today() - chrono::Duration::days(10);
    buy(&app, number, 12_000, noon(earned), "r-1").await;
    let ends = earned.checked_add_months(Months::new(12)).unwrap();

    assert_eq!(run_day(&app, ends - chrono::Duration::days(31)).await.reminders, 0, "31 days before: not yet");
    assert_eq!(run_day(&app, ends - chrono::Duration::days(30)).await.reminders, 1);
    assert_eq!(run_day(&app, ends - chrono::Duration::days(29)).await.reminders, 0, "once per card and day");
    assert!(app.run_jobs().await > 0, "the reminder is sent");
    let mails: Vec<String> = app.sent_mails().into_iter().filter(|m| m.contains("expire")).collect();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails[0].contains("120 points"), "{}", mails[0]);

    // The pass's back and the card page show the next expiry.
    let pass = crate::apple_wallet::staff_pass_json(&app, id).await;
    let back = pass["storeCard"]["backFields"].as_array().unwrap();
    let field = back.iter().find(|f| f["key"] == "expiry").expect("the next expiry on the back");
    assert_eq!(field["label"], "encarte.expiry.label");
    assert_eq!(field["value"], format!("120 points expirent le {}", ends.format("%d/%m/%Y")), "a French holder");
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let page = crate::pages::Phone::new(&app, "en").get(&path).await;
    assert!(page.body.contains(&format!("120 points expire on {}", ends.format("%Y-%m-%d"))), "{}", page.body);
    app.run_jobs().await;
}

#[tokio::test]
async fn inactivity_expires_the_whole_balance_after_months_without_a_purchase() {
    let app = spawn_app_with(|c| c.purchase_backdate_max_days = 400).await;
    expiry_on_since_long_ago(&app, &json!({"mode": "inactivity", "months": 18})).await;
    let card = app.enrol("sleepy@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());
    app.exec("UPDATE cards SET created_at = '2000-01-01 00:00:00'").await;
    let last = today() - chrono::Duration::days(20);
    buy(&app, number, 5_000, noon(last - chrono::Duration::days(100)), "i-1").await;
    buy(&app, number, 3_000, noon(last), "i-2").await;
    let ends = last.checked_add_months(Months::new(18)).unwrap();
    assert_eq!(expiry_of(&app, id).await, json!([{"expires_on": ends.to_string(), "points": 80}]));

    assert_eq!(run_day(&app, ends).await.expired_points, 0, "its last day: still valid");
    let ran = run_day(&app, ends.succ_opt().unwrap()).await;
    assert_eq!(ran.expired_points, 80);
    assert_eq!(app.balance(id).await, 0);
    assert_eq!(expiry_of(&app, id).await, json!([]));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn turning_expiry_on_never_expires_earlier_points_and_off_restores_none() {
    let app = spawn_app_with(|c| c.purchase_backdate_max_days = 400).await;
    let (_, off) = app.get("/api/v1/program/expiry", &app.staff.cashier).await;
    assert_eq!(off, json!({"mode": "off"}));
    let card = app.enrol("early@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());
    buy(&app, number, 4_000, noon(today() - chrono::Duration::days(200)), "e-1").await;
    assert_eq!(expiry_of(&app, id).await, json!([]), "off: nothing expires");

    let rule = json!({"mode": "after_earning", "months": 1, "round": "none"});
    let (status, on) = put_expiry(&app, &app.staff.manager, &rule).await;
    assert_eq!(status, StatusCode::OK, "{on}");
    assert_eq!(on, json!({"mode": "after_earning", "months": 1, "round": "none", "since": today().to_string()}));
    // Earned 200 days ago under no rule: its month counts from today.
    let ends = today().checked_add_months(Months::new(1)).unwrap();
    assert_eq!(expiry_of(&app, id).await, json!([{"expires_on": ends.to_string(), "points": 40}]));
    assert_eq!(run_day(&app, today()).await.expired_points, 0);
    // A retried PUT keeps the day it was turned on.
    let (_, again) = put_expiry(&app, &app.staff.manager, &rule).await;
    assert_eq!(again, on);

    assert_eq!(run_day(&app, ends.succ_opt().unwrap()).await.expired_points, 40);
    let (status, _) = put_expiry(&app, &app.staff.manager, &json!({"mode": "off"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.balance(id).await, 0, "turning expiry off gives nothing back");
    assert_eq!(run_day(&app, ends + chrono::Duration::days(400)).await.cards, 0, "off: the run does nothing");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn bad_expiry_rules_are_refused_naming_the_field() {
    let app = spawn_app_with(|_| {}).await;
    for (body, field) in [
        (json!({"mode": "after_earning", "months": 0, "round": "end_of_month"}), "months"),
        (json!({"mode": "after_earning", "months": 121}), "months"),
        (json!({"mode": "inactivity"}), "months"),
        (json!({"mode": "inactivity", "months": 18, "round": "end_of_year"}), "round"),
        (json!({"mode": "whenever"}), "mode"),
    ] {
        let (status, res) = put_expiry(&app, &app.staff.manager, &body).await;
        assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_expiry"), "{body}: {res}");
        assert_eq!(res["error"]["field"], field, "{body}: {res}");
    }
    let (status, res) =
        put_expiry(&app, &app.staff.manager, &json!({"mode": "after_earning", "round": "weekly"})).await;
    assert!(status.is_client_error() && status != StatusCode::NOT_FOUND, "{status} {res}");
    let (status, res) = put_expiry(&app, &app.staff.cashier, &json!({"mode": "off"})).await;
    assert_eq!((status, code(&res)), (StatusCode::FORBIDDEN, "forbidden"));
    let (_, still) = app.get("/api/v1/program/expiry", &app.staff.manager).await;
    assert_eq!(still, json!({"mode": "off"}));
    let (status, res) = app.get("/api/v1/cards/nope/expiry", &app.staff.cashier).await;
    assert_eq!((status, code(&res)), (StatusCode::NOT_FOUND, "card_not_found"));
}
