//! Members in the admin API: search, a member's page, corrections, and the privacy actions.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    app.send(Method::PUT, path, Some(token), None, Some(body)).await
}

async fn enrol(app: &TestApp, email: &str, first_name: &str, phone: Option<&str>) -> Value {
    let body = json!({"email": email, "first_name": first_name, "phone": phone, "consents": {"marketing_email": true}});
    let (status, answer) = app.post("/api/v1/customers", &app.staff.cashier, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer
}

async fn search(app: &TestApp, query: &str) -> Vec<String> {
    let (status, page) = app.get(&format!("/api/v1/customers?{query}"), &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["members"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap_or("(erased)").to_owned()).collect()
}

#[tokio::test]
async fn members_are_found_by_email_name_phone_and_card_number_and_paged() {
    let app = spawn_app().await;
    let zoe = enrol(&app, "zoe@example.fr", "Zoé", Some("06 12 34 56 78")).await;
    enrol(&app, "paul@example.fr", "Paul", None).await;
    enrol(&app, "anne@mail.test", "Anne-Zoé", Some("+33 7 00 00 00 01")).await;

    assert_eq!(search(&app, "").await, ["anne@mail.test", "paul@example.fr", "zoe@example.fr"], "newest first");
    assert_eq!(search(&app, "query=EXAMPLE").await, ["paul@example.fr", "zoe@example.fr"]);
    assert_eq!(search(&app, "query=zo%C3%A9").await, ["anne@mail.test", "zoe@example.fr"], "by first name");
    assert_eq!(search(&app, "query=0612345678").await, ["zoe@example.fr"], "by phone, spaces or not");
    assert_eq!(search(&app, "query=12%2034%2056").await, ["zoe@example.fr"]);
    let number = zoe["card"]["number"].as_str().unwrap();
    assert_eq!(search(&app, &format!("query={number}")).await, ["zoe@example.fr"], "by card number");
    assert_eq!(search(&app, "query=%25").await, Vec::<String>::new(), "a LIKE wildcard is a plain character");
    assert_eq!(search(&app, "query=_").await, Vec::<String>::new());

    let (_, first) = app.get("/api/v1/customers?limit=2", &app.staff.manager).await;
    assert_eq!(first["members"].as_array().unwrap().len(), 2);
    let before = first["next_before"].as_str().unwrap();
    let (_, rest) = app.get(&format!("/api/v1/customers?limit=2&before={before}"), &app.staff.manager).await;
    assert_eq!(rest["members"][0]["email"], "zoe@example.fr");
    assert_eq!(rest["next_before"], Value::Null);

    // By card status and by tier (the entry tier holds the cards that never moved).
    let zoe_card = zoe["card"]["id"].as_str().unwrap();
    app.post(&format!("/api/v1/cards/{zoe_card}/block"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(search(&app, "status=blocked").await, ["zoe@example.fr"]);
    let tiers = json!([{"key": "base", "name": "Base"}, {"key": "gold", "name": "Gold",
                        "qualify": {"any_of": [{"metric": "spend_cents", "at_least": 5000}]}}]);
    put(&app, "/api/v1/program/tiers", &app.staff.manager, &tiers).await;
    app.run_jobs().await;
    let paul = search(&app, "query=paul").await;
    assert_eq!(paul, ["paul@example.fr"]);
    let (_, page) = app.get("/api/v1/customers?query=paul", &app.staff.manager).await;
    let paul_number = page["members"][0]["card_number"].as_str().unwrap().replace(' ', "");
    let (status, _) = app.purchase(&app.staff.cashier, &paul_number, 6000, "k-1").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(search(&app, "tier=gold").await, ["paul@example.fr"]);
    assert_eq!(search(&app, "tier=base").await, ["anne@mail.test", "zoe@example.fr"]);
    let (_, page) = app.get("/api/v1/customers?tier=gold", &app.staff.manager).await;
    assert_eq!(page["members"][0]["tier"], "gold");

    for bad in ["limit=0", "limit=500", "tier=platinum", "status=lost", "sort=name"] {
        let (status, answer) = app.get(&format!("/api/v1/customers?{bad}"), &app.staff.manager).await;
        assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_request"), "{bad}");
    }
    let (status, _) = app.get("/api/v1/customers", &app.staff.cashier).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app.new_program("other").await;
    let (_, theirs) = app.get("/api/v1/customers", &other.manager).await;
    assert_eq!(theirs["members"], json!([]));
    app.run_jobs().await;
}

#[tokio::test]
async fn a_members_page_shows_everything_and_corrections_are_audited_without_personal_values() {
    let app = spawn_app().await;
    let zoe = enrol(&app, "zoe@example.fr", "Zoé", None).await;
    enrol(&app, "paul@example.fr", "Paul", None).await;
    let id = zoe["customer"]["id"].as_str().unwrap().to_owned();
    let card = zoe["card"]["id"].as_str().unwrap().to_owned();
    app.purchase(&app.staff.cashier, zoe["card"]["number"].as_str().unwrap(), 2500, "k-1").await;
    let goodwill = json!({"voucher": {"amount_off_cents": 500}, "validity_days": 30, "reason": "late delivery"});
    let (status, _) =
        app.post(&format!("/api/v1/cards/{card}/vouchers"), &app.staff.manager, Some("v-1"), &goodwill).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, page) = app.get(&format!("/api/v1/customers/{id}"), &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["customer"]["email"], "zoe@example.fr");
    assert_eq!(page["card"]["balance"], 25);
    assert_eq!(page["purchases"].as_array().unwrap().len(), 1);
    assert_eq!(page["purchases"][0]["amount_cents"], 2500);
    assert_eq!(page["vouchers"].as_array().unwrap().len(), 1);
    assert!(
        page["consent_history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["purpose"] == "marketing_email" && c["granted"] == true),
        "{page}"
    );
    assert_eq!(page["erased"], false);

    let (status, answer) =
        put(&app, &format!("/api/v1/customers/{id}"), &app.staff.manager, &json!({"email": "paul@example.fr"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "email_taken"));
    let fix = json!({"first_name": "Zoë", "phone": "06 98 76 54 32", "email": "Zoe.M@Example.fr", "locale": "en"});
    let (status, fixed) = put(&app, &format!("/api/v1/customers/{id}"), &app.staff.manager, &fix).await;
    assert_eq!(status, StatusCode::OK, "{fixed}");
    assert_eq!(
        (
            &fixed["customer"]["first_name"],
            &fixed["customer"]["email"],
            &fixed["customer"]["phone"],
            &fixed["customer"]["locale"]
        ),
        (&json!("Zoë"), &json!("zoe.m@example.fr"), &json!("06 98 76 54 32"), &json!("en"))
    );
    let (status, cleared) =
        put(&app, &format!("/api/v1/customers/{id}"), &app.staff.manager, &json!({"phone": null})).await;
    assert_eq!((status, &cleared["customer"]["phone"]), (StatusCode::OK, &Value::Null));
    let (status, answer) =
        put(&app, &format!("/api/v1/customers/{id}"), &app.staff.manager, &json!({"phone": "call me"})).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("phone")));

    let (_, log) = app.get("/api/v1/audit", &app.staff.owner).await;
    let updates: Vec<&Value> =
        log["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "customer.update").collect();
    assert_eq!(updates.len(), 2);
    let text = updates[1]["changes"].to_string();
    assert!(
        !text.contains("Zo") && !text.contains("06 98") && !text.contains("example.fr"),
        "no personal value: {text}"
    );
    assert_eq!(updates[1]["changes"]["first_name"], json!({"before": "[personal data]", "after": "[personal data]"}));
    assert_eq!(updates[1]["changes"]["locale"], json!({"before": "fr", "after": "en"}));
    assert!(log["entries"].as_array().unwrap().iter().any(|e| e["action"] == "voucher.give"));
    // The pass shows the first name: the card changed.
    assert!(app.count("outbox_jobs", "kind = 'card_changed'").await >= 1);

    let other = app.new_program("other").await;
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/customers/{id}"), None),
        (Method::GET, format!("/api/v1/customers/{id}/export"), None),
        (Method::PUT, format!("/api/v1/customers/{id}"), Some(json!({"first_name": "Eve"}))),
        (Method::POST, format!("/api/v1/customers/{id}/erase"), Some(json!({"reason": "x"}))),
    ] {
        let (status, answer) = app.send(method, &path, Some(&other.owner), None, body.as_ref()).await;
        assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "customer_not_found"), "{path}");
        let (status, _) = app.send(Method::GET, &path, Some(&app.staff.cashier), None, None).await;
        assert!(status == StatusCode::FORBIDDEN || status == StatusCode::METHOD_NOT_ALLOWED, "{path}: {status}");
    }
    app.run_jobs().await;
}

#[tokio::test]
async fn staff_export_and_erase_a_member_with_a_reason_and_both_are_logged() {
    let app = spawn_app().await;
    let zoe = enrol(&app, "zoe@example.fr", "Zoé", Some("0612345678")).await;
    let id = zoe["customer"]["id"].as_str().unwrap().to_owned();
    app.purchase(&app.staff.cashier, zoe["card"]["number"].as_str().unwrap(), 1200, "k-1").await;

    let res = app
        .client
        .get(app.url(&format!("/api/v1/customers/{id}/export")))
        .bearer_auth(&app.staff.manager)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let export: Value = res.json().await.unwrap();
    assert_eq!(export["customer"]["email"], "zoe@example.fr");
    assert_eq!(export["purchases"][0]["amount_cents"], 1200);

    let (status, answer) =
        app.post(&format!("/api/v1/customers/{id}/erase"), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("reason")));
    let (status, erased) = app
        .post(
            &format!("/api/v1/customers/{id}/erase"),
            &app.staff.manager,
            None,
            &json!({"reason": "asked at the till"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(
        (&erased["erased"], &erased["card"]["status"], &erased["customer"]["first_name"]),
        (&json!(true), &json!("closed"), &json!(""))
    );
    assert_eq!(app.count("customers", "email = 'zoe@example.fr' OR phone IS NOT NULL").await, 0);
    // Twice is harmless; the log has one erasure, with its reason, and the export.
    let (status, _) =
        app.post(&format!("/api/v1/customers/{id}/erase"), &app.staff.manager, None, &json!({"reason": "again"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = app.get("/api/v1/audit", &app.staff.owner).await;
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["customer.erase", "customer.export"]);
    assert_eq!(log["entries"][0]["changes"]["reason"]["after"], "asked at the till");
    // An erased member is out of the default search and can't be edited.
    assert!(search(&app, "").await.is_empty());
    assert_eq!(search(&app, "status=closed").await, ["(erased)"]);
    let (status, answer) =
        put(&app, &format!("/api/v1/customers/{id}"), &app.staff.manager, &json!({"first_name": "Zoé"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "customer_erased"));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}
