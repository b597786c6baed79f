//! The admin API of the programme itself: `GET`/`PUT /program`, its shops, and the audit log
//! that records both.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};
use crate::pages::Phone;

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    app.send(Method::PUT, path, Some(token), None, Some(body)).await
}

/// The newest audit rows of the first programme (owner's view).
async fn audit(app: &TestApp) -> Vec<Value> {
    let (status, page) = app.get("/api/v1/audit?limit=200", &app.staff.owner).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["entries"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_manager_changes_the_earning_rule_and_the_next_sale_uses_it() {
    let app = spawn_app().await;
    let (status, program) = app.get("/api/v1/program", &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(
        (&program["currency"], &program["time_zone"], &program["earn_points"], &program["earn_rounding"]),
        (&json!("EUR"), &json!("Europe/Paris"), &json!(1), &json!("down"))
    );
    assert_eq!(program["earn_example"], json!({"amount_cents": 1250, "points": 12}));
    assert_eq!(program["currency_locked"], false);

    let change = json!({"earn_points": 2, "earn_rounding": "nearest", "terms_text": "Points last 12 months.",
                        "contact_text_fr": "Écrivez-nous : bonjour@shop.test"});
    let (status, after) = put(&app, "/api/v1/program", &app.staff.manager, &change).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!((&after["earn_points"], &after["earn_rounding"]), (&json!(2), &json!("nearest")));
    assert_eq!(after["earn_example"], json!({"amount_cents": 1250, "points": 25}));
    assert_eq!(after["name"], program["name"], "fields left out keep their value");
    assert_eq!(after["terms_text"], "Points last 12 months.");

    let card = app.enrol("zoe@example.fr").await;
    let (status, sale) = app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 1275, "k-1").await;
    assert_eq!(status, StatusCode::CREATED, "{sale}");
    // 12.75 € at 2 points per euro is 25.5 points: rounded to the nearest, 26.
    assert_eq!(sale["purchase"]["points_earned"], 26);

    let rows = audit(&app).await;
    let row = rows.iter().find(|r| r["action"] == "program.update").expect("an audit row");
    assert_eq!(row["actor"]["email"], "manager@shop.test");
    assert_eq!(row["target"], json!({"type": "program", "id": app.staff.program_id}));
    assert_eq!(row["changes"]["earn_points"], json!({"before": 1, "after": 2}));
    assert_eq!(row["changes"]["earn_rounding"], json!({"before": "down", "after": "nearest"}));
    assert_eq!(row["changes"]["terms_text"], json!({"before": null, "after": "Points last 12 months."}));
    assert!(row["changes"].get("name").is_none(), "only what changed: {row}");

    // The same PUT again changes nothing and leaves no row.
    let (status, _) = put(&app, "/api/v1/program", &app.staff.manager, &change).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(audit(&app).await.iter().filter(|r| r["action"] == "program.update").count(), 1);
    app.run_jobs().await;
}

#[tokio::test]
async fn program_settings_refuse_bad_values_and_the_wrong_role() {
    let app = spawn_app().await;
    let cases = [
        (json!({"time_zone": "Europe/Atlantis"}), StatusCode::BAD_REQUEST, "invalid_request", "time_zone"),
        (json!({"earn_points": -1}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_earning_rule", "earn_points"),
        (json!({"earn_per_cents": 0}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_earning_rule", "earn_per_cents"),
        (json!({"earn_min_cents": -5}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_earning_rule", "earn_min_cents"),
        (json!({"earn_rounding": "sideways"}), StatusCode::BAD_REQUEST, "invalid_request", "earn_rounding"),
        (json!({"currency": "euro"}), StatusCode::BAD_REQUEST, "invalid_request", "currency"),
        (json!({"locale": "de"}), StatusCode::BAD_REQUEST, "invalid_request", "locale"),
        (json!({"name": " "}), StatusCode::BAD_REQUEST, "invalid_request", "name"),
        (json!({"terms_text": "x".repeat(2001)}), StatusCode::BAD_REQUEST, "invalid_request", "terms_text"),
        (json!({"slug": "other"}), StatusCode::BAD_REQUEST, "invalid_request", ""),
    ];
    for (body, status, error, field) in cases {
        let (got, answer) = put(&app, "/api/v1/program", &app.staff.owner, &body).await;
        assert_eq!((got, code(&answer)), (status, error), "{body}: {answer}");
        if !field.is_empty() {
            assert_eq!(answer["error"]["field"], field, "{answer}");
        }
    }
    // Managers don't move the calendar or the money; owners do, until the first sale.
    let (status, answer) =
        put(&app, "/api/v1/program", &app.staff.manager, &json!({"time_zone": "America/Montreal"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, answer) = put(&app, "/api/v1/program", &app.staff.manager, &json!({"currency": "CAD"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "forbidden"));
    // Sending the current values back (a form) is not a change of them.
    let (status, _) =
        put(&app, "/api/v1/program", &app.staff.manager, &json!({"currency": "EUR", "time_zone": "Europe/Paris"}))
            .await;
    assert_eq!(status, StatusCode::OK);
    for token in [&app.staff.cashier] {
        let (status, _) = app.get("/api/v1/program", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = put(&app, "/api/v1/program", token, &json!({"earn_points": 5})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, after) =
        put(&app, "/api/v1/program", &app.staff.owner, &json!({"time_zone": "America/Montreal", "currency": "CAD"}))
            .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!((&after["time_zone"], &after["currency"]), (&json!("America/Montreal"), &json!("CAD")));

    let card = app.enrol("zoe@example.fr").await;
    let sale = json!({"card": card["number"], "amount_cents": 500, "currency": "CAD"});
    let (status, _) = app.post("/api/v1/purchases", &app.staff.cashier, Some("k-1"), &sale).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, answer) = put(&app, "/api/v1/program", &app.staff.owner, &json!({"currency": "EUR"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "currency_locked"));
    let (_, program) = app.get("/api/v1/program", &app.staff.owner).await;
    assert_eq!((&program["currency"], &program["currency_locked"]), (&json!("CAD"), &json!(true)));
    app.run_jobs().await;
}

#[tokio::test]
async fn closing_public_enrolment_hides_the_form_and_refuses_a_post() {
    let app = spawn_app().await;
    let (status, _) = put(&app, "/api/v1/program", &app.staff.manager, &json!({"public_enrolment": false})).await;
    assert_eq!(status, StatusCode::OK);
    let mut phone = Phone::new(&app, "fr");
    let page = phone.get("/p/shop").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"enrolment-closed\""), "{}", page.body);
    assert!(!page.body.contains("id=\"enrol-submit\""));
    // A form left open from before the switch (its CSRF token from another page of the programme).
    let csrf = phone.get("/p/shop/login").await.csrf();
    let posted = phone
        .post(
            "/p/shop",
            &[("csrf", &csrf), ("first_name", "Zoé"), ("email", "zoe@example.fr"), ("consent_terms", "on")],
        )
        .await;
    assert_eq!(posted.status, StatusCode::FORBIDDEN, "{}", posted.body);
    assert_eq!(app.count("customers", "1 = 1").await, 0);
    // Staff still enrol at the till.
    app.enrol("zoe@example.fr").await;
    app.run_jobs().await;
}

#[tokio::test]
async fn shops_are_created_renamed_and_archived_and_an_archived_shop_takes_no_sale() {
    let app = spawn_app().await;
    let (status, shop) = app
        .post(
            "/api/v1/locations",
            &app.staff.manager,
            None,
            &json!({"name": "Lyon Part-Dieu", "address": "17 rue du Docteur Bouchut"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shop}");
    let id = shop["id"].as_str().unwrap().to_owned();
    assert_eq!((&shop["archived"], &shop["address"]), (&json!(false), &json!("17 rue du Docteur Bouchut")));
    let (status, answer) =
        app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": "Lyon Part-Dieu"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "location_exists"));

    let (status, renamed) =
        put(&app, &format!("/api/v1/locations/{id}"), &app.staff.manager, &json!({"name": "Lyon 3e"})).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!((&renamed["name"], &renamed["address"]), (&json!("Lyon 3e"), &Value::Null));

    let card = app.enrol("zoe@example.fr").await;
    let sale = |key: &str| {
        let body = json!({"card": card["number"], "amount_cents": 1000, "currency": "EUR", "location": id});
        let key = key.to_owned();
        let app = &app;
        async move { app.post("/api/v1/purchases", &app.staff.manager, Some(&key), &body).await }
    };
    assert_eq!(sale("k-1").await.0, StatusCode::CREATED);

    let (status, archived) =
        app.post(&format!("/api/v1/locations/{id}/archive"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(archived["archived"], true);
    let (status, again) =
        app.post(&format!("/api/v1/locations/{id}/archive"), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, &again["archived_at"]), (StatusCode::OK, &archived["archived_at"]), "a retry changes nothing");
    let (status, answer) = sale("k-2").await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "location_archived"), "{answer}");
    // The first sale is still there, at the archived shop.
    assert_eq!(app.count("purchases", &format!("location_id = '{id}'")).await, 1);

    let (_, live) = app.get("/api/v1/locations", &app.staff.manager).await;
    assert_eq!(
        live.as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Main street"]
    );
    let (_, all) = app.get("/api/v1/locations?archived=true", &app.staff.manager).await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    let actions: Vec<String> = audit(&app)
        .await
        .iter()
        .filter(|r| r["target"]["type"] == "location")
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        ["location.archive", "location.update", "location.create"],
        "newest first, the retry not logged"
    );

    // Bad input, the wrong role, another programme.
    let (status, answer) = app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": ""})).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("name")));
    let (status, _) = app.post("/api/v1/locations", &app.staff.cashier, None, &json!({"name": "Nice"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("/api/v1/locations", &app.staff.cashier).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app.new_program("other").await;
    let (status, answer) =
        put(&app, &format!("/api/v1/locations/{id}"), &other.manager, &json!({"name": "Mine"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "location_not_found"));
    let (status, _) = app.post(&format!("/api/v1/locations/{id}/archive"), &other.owner, None, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, theirs) = app.get("/api/v1/locations?archived=true", &other.owner).await;
    assert_eq!(theirs.as_array().unwrap().len(), 1, "their own shop only");
    app.run_jobs().await;
}

#[tokio::test]
async fn the_audit_log_is_for_owners_paged_and_append_only() {
    let app = spawn_app().await;
    let card = app.enrol("zoe@example.fr").await;
    let id = card["id"].as_str().unwrap();
    app.adjust(id, 50).await;
    app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.manager, None, &json!({})).await;
    app.post(&format!("/api/v1/cards/{id}/unblock"), &app.staff.manager, None, &json!({})).await;
    let tiers = json!([{"key": "base", "name": "Base"}, {"key": "gold", "name": "Gold",
                        "qualify": {"any_of": [{"metric": "spend_cents", "at_least": 10000}]}}]);
    put(&app, "/api/v1/program/tiers", &app.staff.manager, &tiers).await;

    let (status, first) = app.get("/api/v1/audit?limit=2", &app.staff.owner).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let entries = first["entries"].as_array().unwrap();
    assert_eq!(
        entries.iter().map(|e| e["action"].as_str().unwrap()).collect::<Vec<_>>(),
        ["program.tiers", "card.unblock"]
    );
    let before = first["next_before"].as_i64().unwrap();
    let (_, rest) = app.get(&format!("/api/v1/audit?limit=2&before={before}"), &app.staff.owner).await;
    let rest_entries = rest["entries"].as_array().unwrap();
    assert_eq!(
        rest_entries.iter().map(|e| e["action"].as_str().unwrap()).collect::<Vec<_>>(),
        ["card.block", "card.adjust"]
    );
    assert_eq!(rest_entries[1]["changes"]["points"], json!({"before": null, "after": 50}));
    assert_eq!(rest_entries[1]["changes"]["reason"], json!({"before": null, "after": "test"}));
    assert_eq!(rest_entries[0]["changes"]["status"], json!({"before": "active", "after": "blocked"}));
    assert_eq!(rest["next_before"], Value::Null);

    for token in [&app.staff.manager, &app.staff.cashier] {
        let (status, _) = app.get("/api/v1/audit", token).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let other = app.new_program("other").await;
    let (_, theirs) = app.get("/api/v1/audit", &other.owner).await;
    assert_eq!(theirs["entries"], json!([]));
    let (status, answer) = app.get("/api/v1/audit?limit=0", &app.staff.owner).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, "invalid_request"));

    // The database itself refuses to rewrite history.
    let db = app.db.clone();
    for sql in ["UPDATE audit_log SET action = 'nothing'", "DELETE FROM audit_log"] {
        let sql = sql.to_owned();
        let refused = db.write(move |c| Ok(diesel::RunQueryDsl::execute(diesel::sql_query(sql), c)?)).await;
        assert!(refused.is_err(), "the audit log took a rewrite");
    }
    assert_eq!(app.count("audit_log", "1 = 1").await, 4);
    app.run_jobs().await;
}
