use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{code, spawn_app};

#[tokio::test]
async fn block_and_unblock_change_the_pass_and_are_idempotent() {
    let app = spawn_app().await;
    let card = app.enrol("status@example.fr").await;
    let id = card["id"].as_str().unwrap();
    assert_eq!(card["pass_version"], 1);
    let (status, body) = app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(
        (status, body["status"].as_str(), body["pass_version"].as_i64()),
        (StatusCode::OK, Some("blocked"), Some(2))
    );
    let (_, again) = app.post(&format!("/api/v1/cards/{id}/block"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(again["pass_version"], 2, "blocking a blocked card changes nothing");
    let (_, body) = app.post(&format!("/api/v1/cards/{id}/unblock"), &app.staff.owner, None, &json!({})).await;
    assert_eq!((body["status"].as_str(), body["pass_version"].as_i64()), (Some("active"), Some(3)));
    let (status, body) = app.post("/api/v1/cards/unknown/block", &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "card_not_found"));
}
