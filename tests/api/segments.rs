//! Saved segments: a named rule over members, previewed with today's count and first members.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct Member {
    card_id: String,
    customer_id: String,
    number: String,
}

async fn enrol(app: &TestApp, email: &str, marketing_email: bool) -> Member {
    let body = json!({"email": email, "first_name": "Zoé", "consents": {"terms": true, "marketing_email": marketing_email, "profiling": true}});
    let (status, enrolled) = app.post("/api/v1/customers", &app.staff.cashier, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    Member {
        card_id: enrolled["card"]["id"].as_str().unwrap().to_owned(),
        customer_id: enrolled["customer"]["id"].as_str().unwrap().to_owned(),
        number: enrolled["card"]["number"].as_str().unwrap().to_owned(),
    }
}

async fn buy(app: &TestApp, m: &Member, cents: i64, key: &str) {
    let (status, body) = app.purchase(&app.staff.cashier, &m.number, cents, key).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn preview(app: &TestApp, rule: Value) -> Vec<String> {
    let (status, body) = app.post("/api/v1/segments/preview", &app.staff.manager, None, &json!({"rule": rule})).await;
    assert_eq!(status, StatusCode::OK, "{rule}: {body}");
    let ids: Vec<String> =
        body["members"].as_array().unwrap().iter().map(|m| m["customer_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(body["count"], json!(ids.len()), "{body}");
    ids
}

#[tokio::test]
async fn a_segment_holds_the_members_its_rule_describes_today() {
    let app = spawn_app().await;
    let (status, shop2) = app.post("/api/v1/locations", &app.staff.owner, None, &json!({"name": "Gare"})).await;
    assert_eq!(status, StatusCode::CREATED, "{shop2}");
    let shop2 = shop2["id"].as_str().unwrap().to_owned();
    let recent = enrol(&app, "recent@example.fr", true).await;
    let lapsed = enrol(&app, "lapsed@example.fr", true).await;
    let never = enrol(&app, "never@example.fr", true).await;
    let silent = enrol(&app, "silent@example.fr", false).await;
    buy(&app, &recent, 9_000, "r-1").await;
    buy(&app, &recent, 6_000, "r-2").await;
    buy(&app, &lapsed, 20_000, "l-1").await;
    buy(&app, &silent, 12_000, "s-1").await;
    // The lapsed member last bought 100 days ago; the recent one bought once at the station shop.
    app.exec(&format!("UPDATE purchases SET occurred_at = {} WHERE card_id = '{}'", backdated(100), lapsed.card_id))
        .await;
    app.exec(&format!(
        "UPDATE purchases SET location_id = '{shop2}' WHERE card_id = '{}' AND external_ref IS NULL AND amount_cents = 6000",
        recent.card_id
    ))
    .await;
    let day = |ago: i64| {
        (chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive() - chrono::Duration::days(ago))
            .to_string()
    };

    let mut all = vec![
        recent.customer_id.clone(),
        lapsed.customer_id.clone(),
        never.customer_id.clone(),
        silent.customer_id.clone(),
    ];
    all.sort();
    let mut everyone = preview(&app, json!({})).await;
    everyone.sort();
    assert_eq!(everyone, all, "an empty rule is every member");
    assert_eq!(preview(&app, json!({"last_purchase_after": day(30)})).await.len(), 2);
    assert_eq!(
        preview(&app, json!({"last_purchase_before": day(30)})).await,
        std::slice::from_ref(&lapsed.customer_id)
    );
    assert_eq!(
        preview(&app, json!({"last_purchase_after": day(30), "consent": "marketing_email", "spend": {"months": 12, "min_cents": 10_000}})).await,
        std::slice::from_ref(&recent.customer_id),
        "recent, consented and 150 € spent (the silent one spent 120 € without consent)"
    );
    assert_eq!(
        preview(&app, json!({"spend": {"months": 1, "min_cents": 15_000}})).await,
        std::slice::from_ref(&recent.customer_id),
        "bounds included; the lapsed spend is older than a month"
    );
    assert_eq!(preview(&app, json!({"spend": {"months": 12, "min_cents": 15_000}})).await.len(), 2);
    assert_eq!(
        preview(&app, json!({"spend": {"months": 12, "max_cents": 0}})).await,
        std::slice::from_ref(&never.customer_id)
    );
    assert_eq!(preview(&app, json!({"location_id": shop2})).await, std::slice::from_ref(&recent.customer_id));
    assert_eq!(preview(&app, json!({"enrolled_after": day(0)})).await.len(), 4);
    assert_eq!(preview(&app, json!({"enrolled_before": day(0)})).await.len(), 0);

    // Saved, it is previewed the same way, and follows the members: scored into RFM segments.
    let (status, run) = app.post("/api/v1/insights/rfm/run", &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    app.run_jobs().await;
    let (_, scored) = app.get("/api/v1/insights/rfm/members", &app.staff.manager).await;
    let lapsed_segment = scored["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["customer_id"] == json!(lapsed.customer_id))
        .unwrap()["segment"]
        .clone();
    let body = json!({"name": "  Lapsed big spenders ", "rule": {"rfm_segments": [lapsed_segment], "spend": {"months": 12, "min_cents": 15_000}}});
    let (status, saved) = app.post("/api/v1/segments", &app.staff.manager, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["name"], "Lapsed big spenders");
    let id = saved["id"].as_str().unwrap().to_owned();
    let (status, shown) = app.get(&format!("/api/v1/segments/{id}/preview?limit=1"), &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    // The lapsed member is alone in the worst recency score (the others bought today).
    assert_eq!(shown["count"], 1, "{shown}");
    assert_eq!(shown["members"][0]["customer_id"], json!(lapsed.customer_id), "{shown}");
    let (_, none) = app.get(&format!("/api/v1/segments/{id}/preview?limit=0"), &app.staff.manager).await;
    assert_eq!((&none["count"], &none["members"]), (&json!(1), &json!([])), "limit=0 counts only: {none}");

    let (status, list) = app.get("/api/v1/segments", &app.staff.manager).await;
    assert_eq!((status, list.as_array().unwrap().len()), (StatusCode::OK, 1), "{list}");
    let (status, again) = app.post("/api/v1/segments", &app.staff.manager, None, &body).await;
    assert_eq!((status, &again["error"]["code"]), (StatusCode::CONFLICT, &json!("segment_exists")), "{again}");
    let (status, renamed) = app
        .send(
            Method::PUT,
            &format!("/api/v1/segments/{id}"),
            Some(&app.staff.manager),
            None,
            Some(&json!({"name": "VIP"})),
        )
        .await;
    assert_eq!((status, &renamed["name"]), (StatusCode::OK, &json!("VIP")), "{renamed}");
    assert_eq!(renamed["rule"], saved["rule"], "a PUT keeps what it does not name");
    let (status, _) =
        app.send(Method::DELETE, &format!("/api/v1/segments/{id}"), Some(&app.staff.manager), None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = app.get(&format!("/api/v1/segments/{id}"), &app.staff.manager).await;
    assert_eq!((status, &gone["error"]["code"]), (StatusCode::NOT_FOUND, &json!("segment_not_found")));
    let (_, audit) = app.get("/api/v1/audit?limit=50", &app.staff.owner).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("segment."))
        .collect();
    assert_eq!(actions, ["segment.delete", "segment.update", "segment.create"], "{audit}");
}

/// `occurred_at` moved `days` back, in the database's own SQL.
fn backdated(days: i64) -> String {
    if crate::helpers::postgres_admin_url().is_some() {
        format!("occurred_at - INTERVAL '{days} days'")
    } else {
        format!("datetime(occurred_at, '-{days} days')")
    }
}

#[tokio::test]
async fn a_segment_rule_that_cannot_hold_or_is_anothers_is_refused() {
    let app = spawn_app().await;
    let post = |body: Value| {
        let app = &app;
        async move { app.post("/api/v1/segments", &app.staff.manager, None, &body).await }
    };
    for (body, status, code) in [
        (json!({"name": "", "rule": {}}), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"name": "x", "rule": {"tier": ["gold"]}}), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"name": "x", "rule": {"rfm_segments": ["whales"]}}), StatusCode::BAD_REQUEST, "invalid_request"),
        (json!({"name": "x", "rule": {"tiers": ["gold"]}}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_segment_rule"),
        (
            json!({"name": "x", "rule": {"spend": {"months": 40}}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_segment_rule",
        ),
        (
            json!({"name": "x", "rule": {"location_id": "nope"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_segment_rule",
        ),
        (
            json!({"name": "x", "rule": {"enrolled_after": "2026-05-01", "enrolled_before": "2026-01-01"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_segment_rule",
        ),
    ] {
        let (got, answer) = post(body.clone()).await;
        assert_eq!((got, &answer["error"]["code"]), (status, &json!(code)), "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{answer}");
    }
    let (status, _) = app.post("/api/v1/segments", &app.staff.cashier, None, &json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, saved) = post(json!({"name": "All"})).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    let other = app.new_program("other").await;
    let path = format!("/api/v1/segments/{}", saved["id"].as_str().unwrap());
    for (method, suffix) in [(Method::GET, ""), (Method::GET, "/preview"), (Method::PUT, ""), (Method::DELETE, "")] {
        let body = (method == Method::PUT).then(|| json!({"name": "mine"}));
        let (status, answer) =
            app.send(method.clone(), &format!("{path}{suffix}"), Some(&other.manager), None, body.as_ref()).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("segment_not_found")),
            "{method} {suffix}: {answer}"
        );
    }
    let (status, list) = app.get("/api/v1/segments", &other.manager).await;
    assert_eq!((status, list), (StatusCode::OK, json!([])));
}
