use encarte::domain::card::CardNumber;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn enrolment_creates_a_customer_and_a_card() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/v1/customers",
            &app.staff.cashier,
            None,
            &json!({"email": "  Zoe.Martin@Example.FR ", "first_name": "Zoé", "phone": "+33 6 12 34 56 78", "locale": "en",
                    "consents": {"terms": true, "marketing_email": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (customer, card) = (&body["customer"], &body["card"]);
    assert_eq!(customer["email"], "zoe.martin@example.fr");
    assert_eq!(customer["first_name"], "Zoé");
    assert_eq!(customer["locale"], "en");
    assert_eq!(customer["consents"]["terms"]["granted"], true);
    assert_eq!(customer["consents"]["terms"]["channel"], "staff_api");
    assert_eq!(customer["consents"]["marketing_email"]["granted"], false);
    assert_eq!(card["balance"], 0);
    assert_eq!(card["status"], "active");
    assert_eq!(card["customer_id"], customer["id"]);
    let number = card["number"].as_str().unwrap();
    let parsed = CardNumber::parse(number).expect("a valid check digit");
    assert_eq!(card["display_number"], parsed.grouped());
    let barcode = card["barcode"].as_str().unwrap();
    assert_eq!(barcode.len(), 26);
    assert!(!barcode.contains(number), "the barcode must not be derivable from the number");
    assert_ne!(card["serial"], card["id"]);
    assert!(card.get("auth_token").is_none(), "the pass secret never leaves through the staff API");
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(app.sent_mails().len(), 1, "the welcome e-mail");
}

#[tokio::test]
async fn a_card_is_found_by_number_grouped_number_barcode_and_id() {
    let app = spawn_app().await;
    let card = app.enrol("find@example.fr").await;
    for reference in [&card["number"], &card["display_number"], &card["barcode"], &card["id"]] {
        let reference = reference.as_str().unwrap().replace(' ', "%20");
        let (status, body) = app.get(&format!("/api/v1/cards/{reference}"), &app.staff.cashier).await;
        assert_eq!(status, StatusCode::OK, "{reference}: {body}");
        assert_eq!(body["id"], card["id"]);
    }
    let lower = card["barcode"].as_str().unwrap().to_lowercase();
    let (status, _) = app.get(&format!("/api/v1/cards/{lower}"), &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK, "a scanner that lower-cases still finds the card");
    let mut typo = card["number"].as_str().unwrap().to_owned().into_bytes();
    typo[3] = if typo[3] == b'9' { b'0' } else { typo[3] + 1 };
    let (status, body) =
        app.get(&format!("/api/v1/cards/{}", String::from_utf8(typo).unwrap()), &app.staff.cashier).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "card_not_found"));
    app.run_jobs().await;
}

#[tokio::test]
async fn one_email_one_customer_per_program() {
    let app = spawn_app().await;
    app.enrol("dup@example.fr").await;
    let (status, body) = app
        .post("/api/v1/customers", &app.staff.cashier, None, &json!({"email": "DUP@example.fr", "first_name": "Other"}))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "customer_exists"));
    assert_eq!(app.count("customers", "1=1").await, 1);
    assert_eq!(app.count("cards", "1=1").await, 1);

    let other = app.new_program("other").await;
    app.enrol_with(&other.cashier, "dup@example.fr").await;
    assert_eq!(app.count("customers", "1=1").await, 2);
    app.run_jobs().await;
}

#[tokio::test]
async fn enrolment_with_an_idempotency_key_replays() {
    let app = spawn_app().await;
    let body = json!({"email": "retry@example.fr", "first_name": "Léa"});
    let first = app.post("/api/v1/customers", &app.staff.cashier, Some("enrol-1"), &body).await;
    let second = app.post("/api/v1/customers", &app.staff.cashier, Some("enrol-1"), &body).await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(first, second);
    assert_eq!(app.count("customers", "1=1").await, 1);
    app.run_jobs().await;
}

#[tokio::test]
async fn concurrent_enrolments_of_one_email_make_one_customer() {
    let app = spawn_app().await;
    let body = json!({"email": "race@example.fr", "first_name": "Race"});
    let calls = (0..10).map(|_| app.post("/api/v1/customers", &app.staff.cashier, None, &body));
    let results = futures::future::join_all(calls).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(created, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!((*status, code(body)), (StatusCode::CONFLICT, "customer_exists"));
    }
    assert_eq!(app.count("customers", "1=1").await, 1);
    app.run_jobs().await;
}
