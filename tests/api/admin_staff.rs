//! Staff administration: invitations by e-mail, roles and shops, disabling that revokes at once
//! (on every node), the last-owner rule, and changing one's own password.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code, spawn_app};
use crate::pages::mails;

async fn put(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    app.send(Method::PUT, path, Some(token), None, Some(body)).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> (StatusCode, Value) {
    app.send(Method::POST, "/api/v1/auth/login", None, None, Some(&json!({"email": email, "password": password}))).await
}

/// The staff member with this e-mail, as `GET /staff` lists them.
async fn staff_id(app: &TestApp, email: &str) -> String {
    let (_, list) = app.get("/api/v1/staff", &app.staff.owner).await;
    list.as_array().unwrap().iter().find(|s| s["email"] == email).expect("listed")["id"].as_str().unwrap().to_owned()
}

/// The token of the invitation link in the newest queued invitation mail.
async fn invitation_token(app: &TestApp) -> String {
    let id = mails(app, "staff_invitation").await.last().expect("an invitation mail")["invitation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = encarte::service::staff::invitation_path(&app.deps.link_key, &id);
    path.rsplit('/').next().unwrap().to_owned()
}

async fn accept(app: &TestApp, token: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({"token": token, "password": password});
    app.send(Method::POST, "/api/v1/auth/invitation", None, None, Some(&body)).await
}

#[tokio::test]
async fn an_invited_cashier_sets_a_password_once_and_works_at_their_shop() {
    let app = spawn_app().await;
    let (_, shop) = app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": "Lyon"})).await;
    let shop_id = shop["id"].as_str().unwrap().to_owned();
    let invite = json!({"email": " Lea@Shop.test ", "role": "cashier", "location_id": shop_id});
    let (status, lea) = app.post("/api/v1/staff", &app.staff.manager, None, &invite).await;
    assert_eq!(status, StatusCode::CREATED, "{lea}");
    assert_eq!(
        (&lea["email"], &lea["status"], &lea["location_id"]),
        (&json!("lea@shop.test"), &json!("invited"), &json!(shop_id))
    );
    assert!(!lea.to_string().contains("password"), "no password in any answer: {lea}");
    let (status, answer) = app.post("/api/v1/staff", &app.staff.manager, None, &invite).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "staff_exists"));

    // She can't sign in before she has a password: the same answer as a wrong one.
    let (status, answer) = login(&app, "lea@shop.test", "").await;
    assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, "invalid_credentials"));

    // The e-mail carries the link; the outbox only the invitation's id.
    let token = invitation_token(&app).await;
    assert_eq!(app.run_jobs().await, 1);
    let mail = app.sent_mails().into_iter().find(|m| m.contains("lea@shop.test")).expect("the invitation mail");
    assert!(mail.replace("=\r\n", "").contains(&format!("/admin/invitation/{token}")), "{mail}");
    let outbox = app.count("outbox_jobs", &format!("payload LIKE '%{}%'", token.split('.').next_back().unwrap())).await;
    assert_eq!(outbox, 0, "the signature is in no row");

    let (status, answer) = accept(&app, &token, "short").await;
    assert_eq!((status, answer["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("password")));
    let (status, answer) = accept(&app, &format!("{token}x"), "a long enough password").await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "invitation_not_found"));
    let (status, signed_in) = accept(&app, &token, "a long enough password").await;
    assert_eq!(status, StatusCode::OK, "{signed_in}");
    assert_eq!(signed_in["role"], "cashier");
    let (status, answer) = accept(&app, &token, "another long password").await;
    assert_eq!((status, code(&answer)), (StatusCode::GONE, "invitation_used"));

    let (status, again) = login(&app, "lea@shop.test", "a long enough password").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let cashier = again["token"].as_str().unwrap().to_owned();
    let card = app.enrol("zoe@example.fr").await;
    let (status, sale) = app.purchase(&cashier, card["number"].as_str().unwrap(), 1000, "k-1").await;
    assert_eq!(status, StatusCode::CREATED, "{sale}");
    assert_eq!(sale["purchase"]["location_id"], json!(shop_id), "at her own shop");
    // A cashier is refused everywhere in the admin API.
    for path in ["/api/v1/staff", "/api/v1/program", "/api/v1/locations", "/api/v1/customers", "/api/v1/audit"] {
        let (status, _) = app.get(path, &cashier).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (_, listed) = app.get("/api/v1/staff", &app.staff.manager).await;
    let row = listed.as_array().unwrap().iter().find(|s| s["email"] == "lea@shop.test").unwrap().clone();
    assert_eq!(row["status"], "active");
    let (_, log) = app.get("/api/v1/audit", &app.staff.owner).await;
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.starts_with(&["staff.password", "staff.invite"]), "{actions:?}");
    app.run_jobs().await;
}

#[tokio::test]
async fn an_invitation_expires_after_72_hours_and_a_new_one_replaces_the_old() {
    let app = spawn_app().await;
    let (status, _) =
        app.post("/api/v1/staff", &app.staff.owner, None, &json!({"email": "max@shop.test", "role": "manager"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let first = invitation_token(&app).await;
    let id = staff_id(&app, "max@shop.test").await;
    let (status, _) = app.post(&format!("/api/v1/staff/{id}/invitation"), &app.staff.owner, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let second = invitation_token(&app).await;
    assert_ne!(first, second);
    let (status, answer) = accept(&app, &first, "a long enough password").await;
    assert_eq!((status, code(&answer)), (StatusCode::GONE, "invitation_used"), "replaced");
    // 72 hours later the new link is dead too.
    app.exec("UPDATE staff_invitations SET expires_at = created_at").await;
    let (status, answer) = accept(&app, &second, "a long enough password").await;
    assert_eq!((status, code(&answer)), (StatusCode::GONE, "invitation_expired"));
    // The mails of links no longer valid are not sent.
    app.run_jobs().await;
    assert!(app.sent_mails().is_empty(), "{:?}", app.sent_mails());
}

#[tokio::test]
async fn disabling_a_cashier_refuses_their_token_at_once_on_every_node() {
    let app = spawn_app().await;
    let other_node = app.second_node().await;
    let card = app.enrol("zoe@example.fr").await;
    let cashier = app.staff.cashier.clone();
    let id = staff_id(&app, "cashier@shop.test").await;
    let read = |base: String| {
        let (client, token, card) = (app.client.clone(), cashier.clone(), card["id"].as_str().unwrap().to_owned());
        async move { client.get(format!("{base}/api/v1/cards/{card}")).bearer_auth(token).send().await.unwrap().status() }
    };
    assert_eq!(read(app.address.clone()).await, StatusCode::OK);
    assert_eq!(read(other_node.clone()).await, StatusCode::OK);

    let (status, disabled) =
        app.post(&format!("/api/v1/staff/{id}/disable"), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, &disabled["status"]), (StatusCode::OK, &json!("disabled")), "{disabled}");
    assert_eq!(read(app.address.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(read(other_node.clone()).await, StatusCode::UNAUTHORIZED, "the other node too");
    let (status, answer) = app.purchase(&cashier, card["number"].as_str().unwrap(), 1000, "k-1").await;
    assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, "token_revoked"));
    let (status, answer) = login(&app, "cashier@shop.test", PASSWORD).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "forbidden"));

    // Enabled again, the old token stays dead (it was revoked, not paused); a new login works.
    let (status, enabled) = app.post(&format!("/api/v1/staff/{id}/enable"), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, &enabled["status"]), (StatusCode::OK, &json!("active")));
    assert_eq!(read(app.address.clone()).await, StatusCode::UNAUTHORIZED);
    let (status, fresh) = login(&app, "cashier@shop.test", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let (status, _) =
        app.get(&format!("/api/v1/cards/{}", card["id"].as_str().unwrap()), fresh["token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    app.run_jobs().await;
}

#[tokio::test]
async fn the_last_owner_stays_and_managers_manage_only_cashiers() {
    let app = spawn_app().await;
    let owner = staff_id(&app, "owner@shop.test").await;
    let manager = staff_id(&app, "manager@shop.test").await;
    let (status, answer) =
        app.post(&format!("/api/v1/staff/{owner}/disable"), &app.staff.owner, None, &json!({})).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "last_owner"));
    let (status, answer) =
        put(&app, &format!("/api/v1/staff/{owner}"), &app.staff.owner, &json!({"role": "manager"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::CONFLICT, "last_owner"));

    // A manager can't touch an owner, make a manager, or promote anyone.
    let (status, _) = app.post(&format!("/api/v1/staff/{owner}/disable"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        app.post("/api/v1/staff", &app.staff.manager, None, &json!({"email": "x@shop.test", "role": "owner"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let cashier = staff_id(&app, "cashier@shop.test").await;
    let (status, _) =
        put(&app, &format!("/api/v1/staff/{cashier}"), &app.staff.manager, &json!({"role": "manager"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad input.
    let (status, answer) =
        app.post("/api/v1/staff", &app.staff.manager, None, &json!({"email": "nope", "role": "cashier"})).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("email")));
    let body = json!({"email": "y@shop.test", "role": "cashier", "location_id": "nowhere"});
    let (status, answer) = app.post("/api/v1/staff", &app.staff.manager, None, &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "unknown_location"));

    // With a second owner, the first may step down; the demotion ends their tokens.
    let (status, promoted) =
        put(&app, &format!("/api/v1/staff/{manager}"), &app.staff.owner, &json!({"role": "owner"})).await;
    assert_eq!((status, &promoted["role"]), (StatusCode::OK, &json!("owner")), "{promoted}");
    let (status, demoted) =
        put(&app, &format!("/api/v1/staff/{owner}"), &app.staff.owner, &json!({"role": "manager"})).await;
    assert_eq!((status, &demoted["role"]), (StatusCode::OK, &json!("manager")), "{demoted}");
    let (status, answer) = app.get("/api/v1/staff", &app.staff.owner).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, "token_revoked"));

    // Another programme's ids are unknown here.
    let other = app.new_program("other").await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/staff/{cashier}")),
        (Method::POST, format!("/api/v1/staff/{cashier}/disable")),
        (Method::POST, format!("/api/v1/staff/{cashier}/invitation")),
    ] {
        let (status, answer) = app.send(method, &path, Some(&other.owner), None, Some(&json!({}))).await;
        assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "staff_not_found"), "{path}");
    }
    let (status, answer) =
        put(&app, &format!("/api/v1/staff/{cashier}"), &other.owner, &json!({"role": "cashier"})).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "staff_not_found"));
    let (_, theirs) = app.get("/api/v1/staff", &other.owner).await;
    assert_eq!(theirs.as_array().unwrap().len(), 3);
    app.run_jobs().await;
}

#[tokio::test]
async fn changing_ones_password_needs_the_old_one_and_signs_out_everywhere_else() {
    let app = spawn_app().await;
    let change = |old: &str, new: &str| json!({"old_password": old, "new_password": new});
    let (status, answer) =
        app.post("/api/v1/auth/password", &app.staff.manager, None, &change("wrong", "a new long password")).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "wrong_password"));
    let (status, answer) =
        app.post("/api/v1/auth/password", &app.staff.manager, None, &change(PASSWORD, "short")).await;
    assert_eq!((status, answer["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("new_password")));
    let (status, changed) =
        app.post("/api/v1/auth/password", &app.staff.manager, None, &change(PASSWORD, "a new long password")).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    // The old token is dead; the answer's token works; the old password no longer does.
    let (status, _) = app.get("/api/v1/staff", &app.staff.manager).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get("/api/v1/staff", changed["token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login(&app, "manager@shop.test", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "manager@shop.test", "a new long password").await.0, StatusCode::OK);
    let hash_row = app.count("staff_users", "email = 'manager@shop.test' AND password_hash LIKE '$argon2id$%'").await;
    assert_eq!(hash_row, 1, "stored as an argon2 hash");
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_address() {
    let app = spawn_app().await;
    for _ in 0..encarte::service::auth::LOGIN_LIMITS.0 {
        assert_eq!(login(&app, "owner@shop.test", "wrong").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, answer) = login(&app, "owner@shop.test", PASSWORD).await;
    assert_eq!(
        (status, code(&answer)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        "even the right password waits"
    );
    // Another address is not held up.
    assert_eq!(login(&app, "manager@shop.test", PASSWORD).await.0, StatusCode::OK);
}

#[tokio::test]
async fn two_owners_disabling_each_other_at_once_leave_one_owner() {
    let app = spawn_app().await;
    let (first, second) = (staff_id(&app, "owner@shop.test").await, staff_id(&app, "manager@shop.test").await);
    let (status, _) = put(&app, &format!("/api/v1/staff/{second}"), &app.staff.owner, &json!({"role": "owner"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, signed_in) = login(&app, "manager@shop.test", PASSWORD).await;
    let second_token = signed_in["token"].as_str().unwrap().to_owned();
    let (path_a, path_b, empty) =
        (format!("/api/v1/staff/{second}/disable"), format!("/api/v1/staff/{first}/disable"), json!({}));
    let (a, b) = tokio::join!(
        app.post(&path_a, &app.staff.owner, None, &empty),
        app.post(&path_b, &second_token, None, &empty),
    );
    let error = |body: &Value| body["error"]["code"].as_str().unwrap_or("").to_owned();
    let mut outcomes = [(a.0, error(&a.1)), (b.0, error(&b.1))];
    outcomes.sort();
    // One wins; the other is refused as the last owner, or was disabled first and its token is dead.
    assert_eq!(outcomes[0].0, StatusCode::OK, "{outcomes:?}");
    assert!(
        [(StatusCode::UNAUTHORIZED, "token_revoked"), (StatusCode::CONFLICT, "last_owner")]
            .contains(&(outcomes[1].0, outcomes[1].1.as_str())),
        "{outcomes:?}"
    );
    let owners = app.count("staff_users", "role = 'owner' AND disabled_at IS NULL").await;
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn a_cashier_with_a_shop_sees_only_that_shops_purchases() {
    let app = spawn_app().await;
    let (_, lyon) = app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": "Lyon"})).await;
    let lyon = lyon["id"].as_str().unwrap().to_owned();
    let card = app.enrol("zoe@example.fr").await;
    let number = card["number"].as_str().unwrap();
    let sale = |location: &str, key: &str| {
        let body = json!({"card": number, "amount_cents": 1000, "currency": "EUR", "location": location});
        let key = key.to_owned();
        let app = &app;
        async move { app.post("/api/v1/purchases", &app.staff.manager, Some(&key), &body).await.0 }
    };
    assert_eq!(sale(&app.staff.location_id, "k-1").await, StatusCode::CREATED);
    assert_eq!(sale(&lyon, "k-2").await, StatusCode::CREATED);
    assert_eq!(sale(&lyon, "k-3").await, StatusCode::CREATED);

    let ids = |page: &Value| {
        page["purchases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["location_id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let (status, all) = app.get("/api/v1/purchases", &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(ids(&all).len(), 3);
    let (_, one) = app.get(&format!("/api/v1/purchases?location={lyon}&limit=1"), &app.staff.manager).await;
    assert_eq!(ids(&one), [lyon.as_str()]);
    assert!(one["next_before"].is_string());
    // The demo cashier works at Main street: only its sale, even when asking for Lyon's.
    for path in [
        "/api/v1/purchases".to_owned(),
        format!("/api/v1/purchases?location={lyon}"),
        format!("/api/v1/purchases?card={number}"),
    ] {
        let (status, mine) = app.get(&path, &app.staff.cashier).await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        assert_eq!(ids(&mine), [app.staff.location_id.as_str()], "{path}");
    }
    let other = app.new_program("other").await;
    let (_, theirs) = app.get("/api/v1/purchases", &other.manager).await;
    assert_eq!(theirs["purchases"], json!([]));
    let (status, answer) = app.get(&format!("/api/v1/purchases?card={number}"), &other.manager).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "card_not_found"));
    app.run_jobs().await;
}
