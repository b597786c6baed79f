//! Pass designs per program: choosing one, or changing a design's files, redraws every pass of
//! the programs drawn with it, and each device holding one is pushed.

use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::apns_mock::ApnsMock;
use crate::apple_wallet::{PASS_TYPE, PUSH_TOKEN, call, card, pass_json, register, updated};
use crate::helpers::{TestApp, code, spawn_app_with};

/// A templates folder with the default design and a dark "night" variant of it.
fn templates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/passes/default");
    for name in ["default", "night"] {
        let target = dir.path().join("passes").join(name);
        std::fs::create_dir_all(&target).unwrap();
        for entry in std::fs::read_dir(&shipped).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
        }
    }
    let night = dir.path().join("passes/night/design.json");
    let text = std::fs::read_to_string(&night).unwrap().replace("rgb(74, 44, 30)", "rgb(10, 10, 40)");
    std::fs::write(night, text).unwrap();
    dir
}

async fn app(templates: &Path) -> (TestApp, ApnsMock) {
    let mock = ApnsMock::start();
    let (url, ca, dir) = (mock.url.clone(), mock.ca.clone(), templates.to_path_buf());
    let app = spawn_app_with(move |c| {
        c.apns_base_url = url;
        c.apns_ca = Some(ca);
        c.templates_dir = dir;
    })
    .await;
    (app, mock)
}

async fn put(app: &TestApp, token: &str, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    app.send(Method::PUT, "/api/v1/program/pass-design", Some(token), None, Some(&body)).await
}

async fn background(app: &TestApp, serial: &str, token: &str) -> String {
    let path = format!("/wallet/apple/v1/passes/{PASS_TYPE}/{serial}");
    let res = call(app, Method::GET, &path, Some(&format!("ApplePass {token}")), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    pass_json(&res.bytes().await.unwrap())["backgroundColor"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn choosing_a_design_redraws_and_pushes_every_pass() {
    let dir = templates();
    let (app, mock) = app(dir.path()).await;
    let card = card(&app, "design@example.fr").await;
    register(&app, "phone", &card, PUSH_TOKEN).await;
    let (_, _, tag) = updated(&app, "phone", None).await;
    let tag = tag.unwrap().as_str().unwrap().to_owned();
    assert_eq!(background(&app, &card.serial, &card.token).await, "rgb(74, 44, 30)");

    let (status, body) = app.get("/api/v1/program/pass-design", &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"design": "default", "chosen": false, "available": ["default", "night"]}));

    let (status, body) = put(&app, &app.staff.cashier, json!({"design": "night"})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = put(&app, &app.staff.manager, json!({"design": "sunrise"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("design")));
    app.run_jobs().await;
    assert!(mock.pushes().is_empty(), "refused choices change nothing");

    let (status, body) = put(&app, &app.staff.manager, json!({"design": "night"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["design"].as_str(), body["chosen"].as_bool()), (Some("night"), Some(true)));
    app.run_jobs().await;
    assert_eq!(mock.pushes().len(), 1);
    let (status, serials, _) = updated(&app, "phone", Some(&tag)).await;
    assert_eq!((status, serials), (StatusCode::OK, vec![card.serial.clone()]));
    assert_eq!(background(&app, &card.serial, &card.token).await, "rgb(10, 10, 40)");

    // Choosing it again is a no-op; going back to the default redraws again.
    put(&app, &app.staff.manager, json!({"design": "night"})).await;
    app.run_jobs().await;
    assert_eq!(mock.pushes().len(), 1);
    let (status, body) = put(&app, &app.staff.manager, json!({"design": null})).await;
    assert_eq!((status, body["chosen"].as_bool()), (StatusCode::OK, Some(false)));
    app.run_jobs().await;
    assert_eq!(mock.pushes().len(), 2);
    assert_eq!(background(&app, &card.serial, &card.token).await, "rgb(74, 44, 30)");
}

#[tokio::test]
async fn new_design_files_refresh_the_programs_drawn_with_them() {
    let dir = templates();
    let (app, mock) = app(dir.path()).await;
    let first = card(&app, "files1@example.fr").await;
    register(&app, "phone", &first, PUSH_TOKEN).await;
    let other = app.new_program("other").await;
    // Another program on "night": its cards are not drawn with the default.
    put(&app, &other.owner, json!({"design": "night"})).await;
    app.run_jobs().await;

    // Same files: nothing to do.
    let same = encarte::wallet::AppleWallet::load(&app.config).unwrap();
    let n = app.db.write(move |c| encarte::service::passes::sync_designs(c, &same)).await.unwrap();
    assert_eq!(n, 0);

    // The default design gets a new colour, as after a deploy with new templates.
    let file = dir.path().join("passes/default/design.json");
    let text = std::fs::read_to_string(&file).unwrap().replace("rgb(74, 44, 30)", "rgb(0, 90, 60)");
    std::fs::write(&file, text).unwrap();
    let changed = encarte::wallet::AppleWallet::load(&app.config).unwrap();
    let n = app.db.write(move |c| encarte::service::passes::sync_designs(c, &changed)).await.unwrap();
    assert_eq!(n, 1, "the first program only");
    app.run_jobs().await;
    let pushes = mock.pushes();
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0].token, PUSH_TOKEN);
}
