//! The PassKit web service's limits: devices per pass (so that one purchase can't queue
//! hundreds of pushes), registrations per device and per client address, and log calls per
//! client address (the two unauthenticated or token-guessable ways in).

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::apple_wallet::{Card, app_with_mock, call, card, register, registration};
use crate::helpers::{TestApp, code, spawn_app};
use encarte::service::passkit::{
    DEVICES_PER_PASS, LOG_PER_ADDRESS, REGISTRATIONS_PER_ADDRESS, REGISTRATIONS_PER_DEVICE,
};

/// A registration's status, error code (if any) and Retry-After (if any).
async fn try_register(app: &TestApp, device: &str, card: &Card, token: &str) -> (StatusCode, String, Option<i64>) {
    let auth = format!("ApplePass {token}");
    let body = json!({"pushToken": format!("push{device}")});
    let res = call(app, Method::POST, &registration(device, &card.serial), Some(&auth), Some(body)).await;
    let status = res.status();
    let retry = res.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().parse().unwrap());
    let text = res.text().await.unwrap();
    let code = serde_json::from_str::<Value>(&text).map(|v| code(&v).to_owned()).unwrap_or_default();
    (status, code, retry)
}

async fn apple_pushes(app: &TestApp) -> i64 {
    app.count("outbox_jobs", "kind = 'apple_push'").await
}

#[tokio::test]
async fn a_pass_takes_five_devices_and_refuses_the_sixth() {
    let (app, mock) = app_with_mock().await;
    let card = card(&app, "many@example.fr").await;
    for i in 0..DEVICES_PER_PASS {
        assert_eq!(register(&app, &format!("device{i}"), &card, &format!("push{i}")).await, StatusCode::CREATED);
    }
    let refused = try_register(&app, "device-extra", &card, &card.token).await;
    assert_eq!(refused, (StatusCode::TOO_MANY_REQUESTS, "too_many_devices".to_owned(), None));
    // A device asking again is not one more, with its old push token or a new one.
    assert_eq!(register(&app, "device0", &card, "push0").await, StatusCode::OK);
    assert_eq!(register(&app, "device0", &card, "push0-renewed").await, StatusCode::OK);

    let (status, _) = app.purchase(&app.staff.cashier, &card.barcode, 1000, "p1").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(apple_pushes(&app).await, DEVICES_PER_PASS, "one push per registered device, no more");

    // A device that removes the pass frees its place, and only one.
    let auth = format!("ApplePass {}", card.token);
    let res = call(&app, Method::DELETE, &registration("device1", &card.serial), Some(&auth), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(register(&app, "device-new", &card, "push-new").await, StatusCode::CREATED);
    assert_eq!(try_register(&app, "device-extra", &card, &card.token).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.count("apple_registrations", "1 = 1").await, DEVICES_PER_PASS);
    app.run_jobs().await;
    assert_eq!(i64::try_from(mock.pushes().len()).unwrap(), DEVICES_PER_PASS);
}

#[tokio::test]
async fn concurrent_registrations_never_pass_the_cap() {
    let (app, mock) = app_with_mock().await;
    let card = card(&app, "race@example.fr").await;
    let attempts = (0..3 * DEVICES_PER_PASS).map(|i| {
        let (app, card) = (&app, &card);
        async move { try_register(app, &format!("racer{i}"), card, &card.token).await.0 }
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(i64::try_from(created).unwrap(), DEVICES_PER_PASS, "{statuses:?}");
    assert!(statuses.iter().all(|s| [StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS].contains(s)), "{statuses:?}");
    assert_eq!(app.count("apple_registrations", "1 = 1").await, DEVICES_PER_PASS);
    app.purchase(&app.staff.cashier, &card.barcode, 1000, "p1").await;
    assert_eq!(apple_pushes(&app).await, DEVICES_PER_PASS);
    app.run_jobs().await;
    assert_eq!(i64::try_from(mock.pushes().len()).unwrap(), DEVICES_PER_PASS);
}

#[tokio::test]
async fn registrations_are_limited_per_device_and_per_client_address_per_hour() {
    let app = spawn_app().await;
    let card = card(&app, "limits@example.fr").await;
    // Failed calls count too: they are how a pass's token would be guessed.
    for _ in 0..REGISTRATIONS_PER_DEVICE {
        assert_eq!(try_register(&app, "guesser", &card, "wrong-token").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, code, retry) = try_register(&app, "guesser", &card, &card.token).await;
    assert_eq!((status, code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(retry.is_some_and(|s| (1..=3600).contains(&s)), "{retry:?}");

    // Other devices from the same address, up to the address's limit (the refused call counted).
    for i in REGISTRATIONS_PER_DEVICE + 1..REGISTRATIONS_PER_ADDRESS {
        assert_eq!(try_register(&app, &format!("d{i}"), &card, "wrong-token").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, code, retry) = try_register(&app, "honest", &card, &card.token).await;
    assert_eq!((status, code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(retry.is_some());
    assert_eq!(app.count("apple_registrations", "1 = 1").await, 0);
    app.run_jobs().await;
}

#[tokio::test]
async fn the_log_endpoint_is_limited_per_client_address() {
    let app = spawn_app().await;
    let lines: Vec<String> = (0..20).map(|i| format!("{i} {}", "x".repeat(2000))).collect();
    let body = json!({ "logs": lines });
    for _ in 0..LOG_PER_ADDRESS {
        let res = call(&app, Method::POST, "/wallet/apple/v1/log", None, Some(body.clone())).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = call(&app, Method::POST, "/wallet/apple/v1/log", None, Some(body)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = res.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    assert_eq!(code(&res.json::<Value>().await.unwrap()), "too_many_attempts");
}
