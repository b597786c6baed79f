//! Bad input gets a clear error naming the field, never a 500, and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

async fn raw(app: &TestApp, path: &str, body: &str, content_type: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.staff.owner)
        .header("Idempotency-Key", crate::helpers::uuid_simple())
        .header("Content-Type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn malformed_requests_name_the_field() {
    let app = spawn_app().await;
    let card = app.enrol("errors@example.fr").await;
    let barcode = card["barcode"].as_str().unwrap();
    let purchase = |amount: Value| json!({"card": barcode, "amount_cents": amount, "currency": "EUR"}).to_string();
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("/api/v1/purchases", "{\"card\": ".into(), None),
        ("/api/v1/purchases", "[]".into(), None),
        ("/api/v1/purchases", purchase(json!("12")), Some("amount_cents")),
        ("/api/v1/purchases", purchase(json!(-1250)), Some("amount_cents")),
        ("/api/v1/purchases", purchase(json!(0)), Some("amount_cents")),
        ("/api/v1/purchases", purchase(json!(1_000_000_001)), Some("amount_cents")),
        ("/api/v1/purchases", purchase(json!(12.5)), Some("amount_cents")),
        ("/api/v1/purchases", purchase(json!(u64::MAX)), Some("amount_cents")),
        (
            "/api/v1/purchases",
            json!({"card": barcode, "amount_cents": 100, "currency": "EUR", "tip": 1}).to_string(),
            None,
        ),
        ("/api/v1/purchases", json!({"card": "???", "amount_cents": 100, "currency": "EUR"}).to_string(), Some("card")),
        ("/api/v1/purchases", json!({"card": barcode, "amount_cents": 100}).to_string(), None),
        (
            "/api/v1/purchases",
            json!({"card": barcode, "amount_cents": 100, "currency": "EUR", "external_ref": "x".repeat(101)})
                .to_string(),
            Some("external_ref"),
        ),
        ("/api/v1/customers", json!({"email": "not-an-email", "first_name": "A"}).to_string(), Some("email")),
        (
            "/api/v1/customers",
            json!({"email": "a@example.fr", "first_name": "A".repeat(101)}).to_string(),
            Some("first_name"),
        ),
        (
            "/api/v1/customers",
            json!({"email": "a@example.fr", "first_name": "A", "locale": "de"}).to_string(),
            Some("locale"),
        ),
        (
            "/api/v1/customers",
            json!({"email": "a@example.fr", "first_name": "A", "consents": {"spam": true}}).to_string(),
            Some("consents"),
        ),
        (
            "/api/v1/customers",
            json!({"email": "a@example.fr", "first_name": "A", "phone": "call me"}).to_string(),
            Some("phone"),
        ),
    ];
    for (path, body, field) in cases {
        let (status, res) = raw(&app, path, &body, "application/json").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {res}");
        assert_eq!(code(&res), "invalid_request", "{body}");
        if let Some(field) = field {
            assert_eq!(res["error"]["field"].as_str(), Some(field), "{body} -> {res}");
        }
        assert!(!res["error"]["message"].as_str().unwrap().is_empty());
    }
    let (status, res) = raw(&app, "/api/v1/purchases", &purchase(json!(100)), "text/plain").await;
    assert_eq!((status, code(&res)), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    let huge = format!("{{\"card\": \"{}\"}}", "x".repeat(300 * 1024));
    let (status, res) = raw(&app, "/api/v1/purchases", &huge, "application/json").await;
    assert_eq!((status, code(&res)), (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"));
    assert_eq!(app.count("purchases", "1=1").await, 0);
    assert_eq!(app.count("customers", "1=1").await, 1);
    app.run_jobs().await;
}

#[tokio::test]
async fn unknown_routes_and_bad_paths_answer_json() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v1/nothing-here", &app.staff.owner).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "route_not_found"));
    let (status, body) = app.get("/api/v1/cards/x/ledger?before=notanumber", &app.staff.owner).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_request"));
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    let id = res.headers().get("x-request-id").expect("a request id to quote in a support ticket").to_str().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    let (status, body) = app.send(reqwest::Method::GET, "/health", None, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], if crate::helpers::postgres_admin_url().is_some() { "postgres" } else { "sqlite" });
}

#[tokio::test]
async fn no_input_makes_a_500() {
    let app = spawn_app().await;
    let card = app.enrol("fuzz@example.fr").await;
    let id = card["id"].as_str().unwrap();
    let paths = [
        "/api/v1/auth/login".to_owned(),
        "/api/v1/customers".to_owned(),
        "/api/v1/purchases".to_owned(),
        format!("/api/v1/cards/{id}/redemptions"),
        format!("/api/v1/cards/{id}/adjustments"),
        "/api/v1/purchases/x/returns".to_owned(),
    ];
    let bodies = [
        "",
        "null",
        "{}",
        "0",
        "\"\"",
        "{\"a\":",
        "\u{0}",
        "{\"points\": 1e99, \"reason\": \"x\"}",
        "{\"email\": null, \"first_name\": []}",
        "{\"card\": {}, \"amount_cents\": {}, \"currency\": 1}",
        "{\"points\": -9223372036854775808, \"reason\": \"x\"}",
        "{\"amount_cents\": 9223372036854775807}",
        "{\"reason\": \"\u{202e}\", \"points\": 1}",
    ];
    for path in &paths {
        for body in bodies {
            let (status, res) = raw(&app, path, body, "application/json").await;
            assert!(status.is_client_error(), "{path} {body:?} -> {status} {res}");
            assert!(res["error"]["code"].is_string());
        }
    }
    app.run_jobs().await;
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow_in_our_error_shape() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::DELETE, "/api/v1/purchases", "POST, GET"),
        (reqwest::Method::GET, "/api/v1/promo-codes/redeem", "POST"),
        (reqwest::Method::DELETE, "/api/v1/program/referral", "GET, PUT"),
        (reqwest::Method::POST, "/wallet/apple/v1/passes/pass.x/serial", "GET, HEAD"),
        (reqwest::Method::GET, "/wallet/apple/v1/log", "POST"),
        (reqwest::Method::PUT, "/wallet/apple/v1/devices/d/registrations/p/s", "POST, DELETE"),
        (reqwest::Method::GET, "/logout", "POST"),
        (reqwest::Method::POST, "/health", "GET"),
    ];
    for (method, path, allow) in cases {
        let res = app.client.request(method.clone(), app.url(path)).bearer_auth(&app.staff.owner).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "application/json", "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(code(&body), "method_not_allowed", "{method} {path}");
        assert_eq!(body["error"]["message"], format!("{method} {path}: method not allowed"));
    }
    // A browser gets the error page, with the Allow header still.
    let res = app.client.get(app.url("/logout")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    // An unknown path is still a 404.
    let (status, body) = app.send(reqwest::Method::DELETE, "/api/v1/nothing", None, None, None).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "route_not_found"));
}

#[tokio::test]
async fn error_messages_quote_at_most_an_excerpt_of_what_was_sent() {
    let app = spawn_app().await;
    let long = "n".repeat(10_000);
    let (status, body) = app
        .send(
            Method::PUT,
            "/api/v1/program/pass-design",
            Some(&app.staff.manager),
            None,
            Some(&json!({"design": long})),
        )
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("design")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("\"{}…\"", "n".repeat(40))), "{message}");
    assert!(message.len() < 200, "{} bytes", message.len());

    let (status, body) = app.get(&format!("/api/v1/{}", "x".repeat(4000)), &app.staff.cashier).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "route_not_found"));
    assert!(body["error"]["message"].as_str().unwrap().len() < 100, "{body}");
}
