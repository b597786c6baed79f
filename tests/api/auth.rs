use encarte::domain::role::Role;
use encarte::service::Actor;
use encarte::service::auth::AuthKeys;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{JWT_SECRET, PASSWORD, code, spawn_app};

#[tokio::test]
async fn login_gives_a_token_scoped_to_the_program() {
    let app = spawn_app().await;
    let (status, body) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            None,
            Some(&json!({"email": " Owner@Shop.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "owner");
    assert_eq!(body["program"]["slug"], "shop");
    assert_eq!(body["program"]["id"], app.staff.program_id.as_str());
    let token = body["token"].as_str().unwrap();
    let (status, body) = app.get("/api/v1/cards/000000000000", token).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "card_not_found"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app().await;
    let login = |email: &str, password: &str| json!({"email": email, "password": password});
    let post = reqwest::Method::POST;
    let wrong = app
        .send(post.clone(), "/api/v1/auth/login", None, None, Some(&login("owner@shop.test", "not the password")))
        .await;
    let unknown =
        app.send(post.clone(), "/api/v1/auth/login", None, None, Some(&login("nobody@shop.test", PASSWORD))).await;
    let malformed = app.send(post, "/api/v1/auth/login", None, None, Some(&login("not an email", PASSWORD))).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong, malformed);
    assert_eq!(code(&wrong.1), "invalid_credentials");
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_are_refused() {
    let app = spawn_app().await;
    let (status, body) = app.send(reqwest::Method::GET, "/api/v1/cards/x", None, None, None).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (status, body) = app.get("/api/v1/cards/x", "not.a.jwt").await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"));

    let owner_token = |secret: &[u8], ttl_hours| {
        let actor = Actor {
            staff_id: "s".into(),
            program_id: app.staff.program_id.clone(),
            role: Role::Owner,
            location_id: None,
        };
        AuthKeys::new(secret, ttl_hours).issue(&actor, 0).unwrap()
    };
    let expired = owner_token(JWT_SECRET.as_bytes(), -1);
    let (status, body) = app.get("/api/v1/cards/x", &expired).await;
    assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "invalid_token"));

    let forged = owner_token(b"another-secret-another-secret-another", 12);
    let (status, _) = app.get("/api/v1/cards/x", &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn roles_gate_block_and_adjust() {
    let app = spawn_app().await;
    let card = app.enrol("role@example.fr").await;
    let id = card["id"].as_str().unwrap();
    let (status, body) = app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.cashier, None, &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{id}/adjustments"),
            &app.staff.cashier,
            Some("adj-1"),
            &json!({"points": 5, "reason": "goodwill"}),
        )
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    for token in [&app.staff.manager, &app.staff.owner] {
        let (status, body) = app.post(&format!("/api/v1/cards/{id}/block"), token, None, &json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "blocked");
    }
    assert_eq!(app.count("ledger_entries", "1=1").await, 0);
    app.run_jobs().await;
}

#[tokio::test]
async fn a_token_stops_working_when_its_user_is_deleted_demoted_or_moved() {
    let app = spawn_app().await;
    let card = app.enrol_with(&app.staff.owner, "revoked@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());
    let revoked = |(status, body): (StatusCode, serde_json::Value)| {
        assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "token_revoked"), "{body}");
    };
    let staff = |role: &str| format!("program_id = '{}' AND role = '{role}'", app.staff.program_id);

    // A cashier moved to another shop no longer acts for the old one.
    app.exec(&format!(
        "INSERT INTO locations (id, program_id, name, created_at) VALUES ('loc-2', '{}', 'Station', CURRENT_TIMESTAMP)",
        app.staff.program_id
    ))
    .await;
    assert_eq!(app.exec(&format!("UPDATE staff_users SET location_id = 'loc-2' WHERE {}", staff("cashier"))).await, 1);
    revoked(app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await);

    // A deleted cashier: neither a read nor a purchase (which answered 500 on the foreign key).
    assert_eq!(app.exec(&format!("DELETE FROM staff_users WHERE {}", staff("cashier"))).await, 1);
    revoked(app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await);
    revoked(app.purchase(&app.staff.cashier, number, 1000, "p-1").await);

    // A manager demoted to cashier makes no more adjustments with the old token.
    let adjust = json!({"points": 5, "reason": "goodwill"});
    let path = format!("/api/v1/cards/{id}/adjustments");
    assert_eq!(app.exec(&format!("UPDATE staff_users SET role = 'cashier' WHERE {}", staff("manager"))).await, 1);
    revoked(app.post(&path, &app.staff.manager, Some("adj-1"), &adjust).await);

    // The owner, unchanged, still works; nothing was written by the others.
    let (status, body) = app.post(&path, &app.staff.owner, Some("adj-2"), &adjust).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.count("purchases", "1=1").await, 0);
    assert_eq!(app.count("ledger_entries", "1=1").await, 1);
    app.run_jobs().await;
}
