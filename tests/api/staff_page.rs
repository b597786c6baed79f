//! The staff scanner: the page and its files as a phone gets them, and the undo it offers
//! (a redemption reversed through its own endpoint, a purchase through a full return).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

/// The budget of the page on a slow phone, before images.
const PAGE_BUDGET: usize = 100 * 1024;

async fn fetch(app: &TestApp, path: &str, lang: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.url(path));
    if let Some(lang) = lang {
        req = req.header("Accept-Language", lang);
    }
    let res = req.send().await.expect("request sent");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.expect("body").to_vec())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn staff_page_is_small_html_with_a_strict_policy_in_english_and_french() {
    let app = spawn_app().await;
    let (status, headers, body) = fetch(&app, "/staff", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/html"));
    let csp = header(&headers, "content-security-policy");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(body.len() < PAGE_BUDGET, "the page is {} bytes", body.len());
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<html lang=\"en\""), "English by default");
    assert!(html.contains("Staff sign-in"));
    let v = &app_version(&html);
    assert!(html.contains(&format!("<script src=\"/assets/staff.js?v={v}\"")), "{html}");
    assert!(html.contains(&format!("/assets/staff.css?v={v}")));
    for id in [
        "login-email",
        "login-password",
        "login-submit",
        "card-input",
        "card-submit",
        "card-name",
        "card-balance",
        "amount",
        "promo-code",
        "purchase-submit",
        "redeem-points",
        "redeem-submit",
        "undo",
        "result",
        "error",
        "logout",
    ] {
        assert_eq!(html.matches(&format!("id=\"{id}\"")).count(), 1, "one #{id}");
    }
    // The CSP forbids them; a browser would silently ignore them and the page would be dead.
    assert!(!html.contains("<script>") && !html.contains(" style=") && !html.contains(" onclick="));

    let (status, _, body) = fetch(&app, "/staff", Some("fr-FR,fr;q=0.9,en;q=0.5")).await;
    let html = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<html lang=\"fr\"") && html.contains("Connexion du personnel"), "{html}");
}

/// The `?v=` the page links its files with.
fn app_version(html: &str) -> String {
    let start = html.find("/assets/site.css?v=").expect("site.css link") + "/assets/site.css?v=".len();
    html[start..].chars().take_while(char::is_ascii_alphanumeric).collect()
}

#[tokio::test]
async fn staff_script_style_and_vendored_decoder_are_served() {
    let app = spawn_app().await;
    let (status, headers, body) = fetch(&app, "/assets/staff.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/javascript"));
    assert!(String::from_utf8(body.clone()).unwrap().contains("Idempotency-Key"));
    let (_, _, css) = fetch(&app, "/assets/staff.css", None).await;
    let (_, _, page) = fetch(&app, "/staff", None).await;
    let (_, _, site) = fetch(&app, "/assets/site.css", None).await;
    let total = page.len() + body.len() + css.len() + site.len();
    assert!(total < PAGE_BUDGET, "page, script and styles weigh {total} bytes");

    // The decoder loads lazily, only on phones without BarcodeDetector; it must come from us.
    let (status, headers, script) = fetch(&app, "/assets/vendor/barcode-detector.js", None).await;
    assert_eq!(status, StatusCode::OK, "the build vendors the decoder (needs npm)");
    assert!(header(&headers, "content-type").starts_with("text/javascript"));
    assert!(script.len() > 20 * 1024, "{} bytes", script.len());
    assert!(String::from_utf8_lossy(&script).contains("prepareZXingModule"));
    let (status, headers, wasm) = fetch(&app, "/assets/vendor/zxing_reader.wasm", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "application/wasm");
    assert!(wasm.len() > 500 * 1024 && wasm.starts_with(b"\0asm"), "{} bytes", wasm.len());
    let html = String::from_utf8(page).unwrap();
    assert!(html.contains("data-decoder=\"/assets/vendor/barcode-detector.js?v="));
    assert!(html.contains("data-wasm=\"/assets/vendor/zxing_reader.wasm?v="));
    // A missing file is a 404 in our error shape, like any other.
    let (status, headers, body) = fetch(&app, "/assets/nothing.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(header(&headers, "content-type"), "application/json");
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(crate::helpers::code(&body), "asset_not_found");
}

#[tokio::test]
async fn the_card_lookup_shows_the_customers_first_name() {
    let app = spawn_app().await;
    let card = app.enrol("name@example.fr").await;
    for reference in [card["number"].as_str().unwrap(), card["display_number"].as_str().unwrap()] {
        let reference = reference.replace(' ', "");
        let (status, body) = app.get(&format!("/api/v1/cards/{reference}"), &app.staff.cashier).await;
        assert_eq!((status, body["first_name"].as_str()), (StatusCode::OK, Some("Zoé")), "{body}");
    }
    // What the pass's QR code holds: a scan resolves the same card.
    let (status, body) =
        app.get(&format!("/api/v1/cards/{}", card["barcode"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!((status, body["id"].clone()), (StatusCode::OK, card["id"].clone()));
    app.run_jobs().await;
}

async fn card_with_points(app: &TestApp, email: &str, cents: i64) -> Value {
    let card = app.enrol(email).await;
    let (status, body) = app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), cents, email).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    card
}

async fn redeem(app: &TestApp, token: &str, card_id: &str, points: i64, key: &str) -> Value {
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{card_id}/redemptions"),
            token,
            Some(key),
            &json!({"points": points, "reason": "coffee"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn undoing_a_redemption_gives_the_points_back_once() {
    let app = spawn_app().await;
    let card = card_with_points(&app, "undo@example.fr", 5000).await;
    let id = card["id"].as_str().unwrap();
    let redeemed = redeem(&app, &app.staff.cashier, id, 30, "redeem-1").await;
    assert_eq!(redeemed["balance"], 20);
    let (_, before) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    let entry = redeemed["redemption"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/redemptions/{entry}/reversal");

    let (status, undone) = app.post(&path, &app.staff.cashier, Some("undo-1"), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{undone}");
    assert_eq!(
        (undone["balance"].as_i64(), undone["reversal"]["points"].as_i64(), undone["reversal"]["kind"].as_str()),
        (Some(50), Some(30), Some("reversal"))
    );
    assert_eq!(undone["original"]["id"], entry);
    assert_eq!(app.balance(id).await, 50);
    let (_, ledger) = app.get(&format!("/api/v1/cards/{id}/ledger?limit=5"), &app.staff.cashier).await;
    let kinds: Vec<&str> = ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reversal", "redeem", "earn"]);
    assert_eq!(app.count("ledger_reversals", &format!("original_entry_id = {entry}")).await, 1);
    let (_, after) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert!(after["pass_version"].as_i64() > before["pass_version"].as_i64(), "the pass is refreshed");

    // A retry with the same key replays the first answer and moves nothing.
    let res = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.staff.cashier)
        .header("Idempotency-Key", "undo-1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!((res.status(), res.headers().contains_key("idempotent-replayed")), (StatusCode::CREATED, true));
    assert_eq!(res.json::<Value>().await.unwrap(), undone);
    // A second undo (a new key: another tap) is refused, clearly.
    let (status, body) = app.post(&path, &app.staff.manager, Some("undo-2"), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "already_reversed"));
    assert_eq!(app.balance(id).await, 50);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn concurrent_undos_of_one_redemption_reverse_it_once() {
    let app = spawn_app().await;
    let card = card_with_points(&app, "race@example.fr", 5000).await;
    let id = card["id"].as_str().unwrap();
    let entry = redeem(&app, &app.staff.manager, id, 40, "redeem-race").await["redemption"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/redemptions/{entry}/reversal");
    let tries = (0..6).map(|i| {
        let (app, path) = (&app, &path);
        async move { app.post(path, &app.staff.manager, Some(&format!("race-{i}")), &json!({})).await.0 }
    });
    let statuses = futures::future::join_all(tries).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
    assert_eq!(app.balance(id).await, 50);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn who_may_undo_what() {
    let app = spawn_app().await;
    let card = card_with_points(&app, "rights@example.fr", 5000).await;
    let id = card["id"].as_str().unwrap();
    let by_manager = redeem(&app, &app.staff.manager, id, 5, "r-m").await["redemption"]["id"].as_i64().unwrap();
    let (status, body) = app
        .post(&format!("/api/v1/redemptions/{by_manager}/reversal"), &app.staff.cashier, Some("u-1"), &json!({}))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "undo_not_allowed"), "not the cashier's own");
    let by_cashier = redeem(&app, &app.staff.cashier, id, 5, "r-c").await["redemption"]["id"].as_i64().unwrap();
    let (status, body) = app
        .post(&format!("/api/v1/redemptions/{by_cashier}/reversal"), &app.staff.manager, Some("u-2"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "a manager undoes anyone's: {body}");

    // Only redemptions: the earn entry of a purchase is undone by returning the purchase.
    let (_, ledger) = app.get(&format!("/api/v1/cards/{id}/ledger?limit=50"), &app.staff.manager).await;
    let earn = ledger["entries"].as_array().unwrap().iter().find(|e| e["kind"] == "earn").unwrap()["id"].clone();
    let (status, body) =
        app.post(&format!("/api/v1/redemptions/{earn}/reversal"), &app.staff.manager, Some("u-3"), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "not_reversible"));
    let (status, body) =
        app.post("/api/v1/redemptions/999999/reversal", &app.staff.manager, Some("u-4"), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entry_not_found"));

    // Another program's entry does not exist for this one.
    let other = app.new_program("other").await;
    let (status, body) =
        app.post(&format!("/api/v1/redemptions/{by_cashier}/reversal"), &other.owner, Some("u-5"), &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "entry_not_found"));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn undoing_a_purchase_is_a_full_return() {
    let app = spawn_app().await;
    let card = app.enrol("return@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());
    let (_, bought) = app.purchase(&app.staff.cashier, number, 1250, "buy-1").await;
    assert_eq!(bought["balance"], 12);
    let path = format!("/api/v1/purchases/{}/returns", bought["purchase"]["id"].as_str().unwrap());
    let body = json!({"amount_cents": bought["purchase"]["amount_cents"]});
    let (status, undone) = app.post(&path, &app.staff.cashier, Some("undo-buy-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{undone}");
    assert_eq!((undone["points_reversed"].as_i64(), undone["balance"].as_i64()), (Some(12), Some(0)));
    assert_eq!(undone["purchase"]["status"], "returned");
    assert_eq!(app.balance(id).await, 0);
    let (status, again) = app.post(&path, &app.staff.cashier, Some("undo-buy-1"), &body).await;
    assert_eq!((status, again), (StatusCode::CREATED, undone), "a retried undo is replayed");
    let (status, body) = app.post(&path, &app.staff.cashier, Some("undo-buy-2"), &body).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "return_exceeds_purchase"));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}
