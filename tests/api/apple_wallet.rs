//! The PassKit web service and APNs pushes, end to end, against a local HTTP/2 TLS mock of APNs
//! that requires the pass certificate as client identity.

use std::io::Read;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::apns_mock::ApnsMock;
use crate::helpers::{TestApp, code, spawn_app_with};

pub const PASS_TYPE: &str = encarte::wallet::DEV_PASS_TYPE_ID;
pub const PUSH_TOKEN: &str = "6a4e0c1d9f2b47a8b3c5d7e9f1a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8";

pub async fn app_with_mock() -> (TestApp, ApnsMock) {
    app_with_mock_and(|_| {}).await
}

/// An app pushing to a fresh APNs stand-in, with more settings of the test's own.
pub async fn app_with_mock_and(tweak: impl FnOnce(&mut encarte::config::Config)) -> (TestApp, ApnsMock) {
    let mock = ApnsMock::start();
    let (url, ca) = (mock.url.clone(), mock.ca.clone());
    let app = spawn_app_with(move |c| {
        c.apns_base_url = url;
        c.apns_ca = Some(ca);
        tweak(c);
    })
    .await;
    (app, mock)
}

/// A card, and its pass's authentication token as the phone sees it (in pass.json).
pub struct Card {
    pub barcode: String,
    pub serial: String,
    pub token: String,
}

pub async fn card(app: &TestApp, email: &str) -> Card {
    let card = app.enrol(email).await;
    let res = app
        .client
        .get(app.url(&format!("/api/v1/cards/{}/pass.pkpass", card["id"].as_str().unwrap())))
        .bearer_auth(&app.staff.cashier)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let pass = pass_json(&res.bytes().await.unwrap());
    Card {
        barcode: card["barcode"].as_str().unwrap().to_owned(),
        serial: card["serial"].as_str().unwrap().to_owned(),
        token: pass["authenticationToken"].as_str().unwrap().to_owned(),
    }
}

pub fn pass_json(pkpass: &[u8]) -> Value {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(pkpass)).expect("a zip archive");
    let mut text = String::new();
    zip.by_name("pass.json").expect("pass.json").read_to_string(&mut text).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The card's pass as staff download it, its `pass.json`.
pub async fn staff_pass_json(app: &crate::helpers::TestApp, card_id: &str) -> Value {
    let pkpass = app
        .client
        .get(app.url(&format!("/api/v1/cards/{card_id}/pass.pkpass")))
        .bearer_auth(&app.staff.cashier)
        .send()
        .await
        .unwrap();
    assert_eq!(pkpass.status(), reqwest::StatusCode::OK);
    pass_json(&pkpass.bytes().await.unwrap())
}

pub fn registration(device: &str, serial: &str) -> String {
    format!("/wallet/apple/v1/devices/{device}/registrations/{PASS_TYPE}/{serial}")
}

pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

pub async fn register(app: &TestApp, device: &str, card: &Card, push_token: &str) -> StatusCode {
    let auth = format!("ApplePass {}", card.token);
    let body = json!({"pushToken": push_token});
    call(app, Method::POST, &registration(device, &card.serial), Some(&auth), Some(body)).await.status()
}

/// The list call: (status, serials, lastUpdated).
pub async fn updated(app: &TestApp, device: &str, since: Option<&str>) -> (StatusCode, Vec<String>, Option<Value>) {
    let mut path = format!("/wallet/apple/v1/devices/{device}/registrations/{PASS_TYPE}");
    if let Some(since) = since {
        path.push_str(&format!("?passesUpdatedSince={since}"));
    }
    let res = call(app, Method::GET, &path, None, None).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    if status == StatusCode::NO_CONTENT {
        assert!(text.is_empty(), "204 with a body: {text}");
        return (status, vec![], None);
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    let serials = body["serialNumbers"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    (status, serials, Some(body["lastUpdated"].clone()))
}

/// The pass fetch a phone makes for a copy it already holds.
async fn fetch_since(app: &TestApp, path: &str, auth: &str, last_modified: &str) -> reqwest::Response {
    let req = app.client.get(app.url(path)).header(header::AUTHORIZATION, auth);
    req.header(header::IF_MODIFIED_SINCE, last_modified).send().await.unwrap()
}

/// Makes failed jobs due now instead of after their backoff.
pub async fn retry_now(app: &TestApp) {
    use diesel::RunQueryDsl;
    app.db
        .write(|c| {
            Ok(diesel::sql_query("UPDATE outbox_jobs SET run_at = created_at WHERE state = 'pending'").execute(c)?)
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_purchase_reaches_the_phone_register_push_list_fetch() {
    let (app, mock) = app_with_mock().await;
    let card = card(&app, "iphone@example.fr").await;

    assert_eq!(register(&app, "device1", &card, PUSH_TOKEN).await, StatusCode::CREATED);
    assert_eq!(register(&app, "device1", &card, PUSH_TOKEN).await, StatusCode::OK, "already registered");

    // First call after install: no tag, every registered serial.
    let (status, serials, tag) = updated(&app, "device1", None).await;
    assert_eq!((status, serials), (StatusCode::OK, vec![card.serial.clone()]));
    let first_tag = tag.unwrap();
    let first_tag = first_tag.as_str().expect("lastUpdated is a JSON string").to_owned();
    assert_eq!(updated(&app, "device1", Some(&first_tag)).await.0, StatusCode::NO_CONTENT, "nothing changed yet");

    // The cashier scans the card: 42.50 EUR, 42 points.
    app.purchase(&app.staff.cashier, &card.barcode, 4250, "p1").await;
    app.run_jobs().await;
    let pushes = mock.pushes();
    assert_eq!(pushes.len(), 1, "exactly one push: {pushes:?}");
    assert!(pushes[0].http2, "APNs is HTTP/2 only");
    assert_eq!(pushes[0].token, PUSH_TOKEN);
    assert_eq!(pushes[0].topic.as_deref(), Some(PASS_TYPE));
    assert_eq!(pushes[0].body, "{}");

    // The phone asks what changed since its tag...
    let (status, serials, tag) = updated(&app, "device1", Some(&first_tag)).await;
    assert_eq!((status, serials), (StatusCode::OK, vec![card.serial.clone()]));
    let second_tag = tag.unwrap().as_str().unwrap().to_owned();
    assert_ne!(second_tag, first_tag);

    // ...fetches the pass, which shows the new balance...
    let pass_path = format!("/wallet/apple/v1/passes/{PASS_TYPE}/{}", card.serial);
    let auth = format!("ApplePass {}", card.token);
    let res = call(&app, Method::GET, &pass_path, Some(&auth), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/vnd.apple.pkpass");
    let last_modified = res.headers()[header::LAST_MODIFIED].to_str().unwrap().to_owned();
    let pass = pass_json(&res.bytes().await.unwrap());
    assert_eq!(pass["storeCard"]["primaryFields"][0]["value"], 42);
    assert_eq!(pass["serialNumber"], card.serial.as_str());

    // ...and the same fetch with If-Modified-Since is not modified.
    let res = fetch_since(&app, &pass_path, &auth, &last_modified).await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.bytes().await.unwrap().is_empty());

    // Wallet also asks with HEAD.
    let res = call(&app, Method::HEAD, &pass_path, Some(&auth), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/vnd.apple.pkpass");

    // Nothing new since the second tag; a second purchase makes a later Last-Modified.
    assert_eq!(updated(&app, "device1", Some(&second_tag)).await.0, StatusCode::NO_CONTENT);
    app.purchase(&app.staff.cashier, &card.barcode, 1000, "p2").await;
    let res = fetch_since(&app, &pass_path, &auth, &last_modified).await;
    assert_eq!(res.status(), StatusCode::OK, "changed in the same second, still not 'not modified'");
    assert_ne!(res.headers()[header::LAST_MODIFIED].to_str().unwrap(), last_modified);
    assert_eq!(pass_json(&res.bytes().await.unwrap())["storeCard"]["primaryFields"][0]["value"], 52);

    // Unregistering stops the pushes.
    let res = call(&app, Method::DELETE, &registration("device1", &card.serial), Some(&auth), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    app.run_jobs().await;
    app.purchase(&app.staff.cashier, &card.barcode, 1000, "p3").await;
    app.run_jobs().await;
    assert_eq!(mock.pushes().len(), 2, "one for p2 (queued before unregistering), none for p3");
    assert_eq!(updated(&app, "device1", None).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_burst_of_changes_is_one_push_per_device() {
    let (app, mock) = app_with_mock().await;
    let first = card(&app, "one@example.fr").await;
    let second = card(&app, "two@example.fr").await;
    // One phone holding both cards, another phone holding the first.
    register(&app, "phoneA", &first, PUSH_TOKEN).await;
    register(&app, "phoneA", &second, PUSH_TOKEN).await;
    register(&app, "phoneB", &first, "b0b0b0b0").await;
    for (i, card) in [&first, &first, &second, &first].iter().enumerate() {
        let (status, _) = app.purchase(&app.staff.cashier, &card.barcode, 500, &format!("burst{i}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    app.run_jobs().await;
    let mut tokens: Vec<String> = mock.pushes().into_iter().map(|p| p.token).collect();
    tokens.sort();
    assert_eq!(tokens, vec![PUSH_TOKEN.to_owned(), "b0b0b0b0".to_owned()]);
}

#[tokio::test]
async fn apns_410_forgets_the_device_and_5xx_is_retried_until_delivered() {
    let (app, mock) = app_with_mock().await;
    let card = card(&app, "gone@example.fr").await;
    register(&app, "old-phone", &card, "deadbeef01").await;
    mock.answer(&[(410, "Unregistered")]);
    app.purchase(&app.staff.cashier, &card.barcode, 1000, "g1").await;
    app.run_jobs().await;
    assert_eq!(app.count("apple_registrations", "device_library_id = 'old-phone'").await, 0);
    assert_eq!(app.count("outbox_jobs", "kind = 'apple_push' AND state = 'done'").await, 1);

    register(&app, "new-phone", &card, "c0ffee02").await;
    mock.answer(&[(500, "InternalServerError"), (503, "ServiceUnavailable")]);
    app.purchase(&app.staff.cashier, &card.barcode, 1000, "g2").await;
    for _ in 0..3 {
        app.run_jobs().await;
        retry_now(&app).await;
    }
    let to_new: Vec<_> = mock.pushes().into_iter().filter(|p| p.token == "c0ffee02").collect();
    assert_eq!(to_new.len(), 3, "500, 503, then 200: {to_new:?}");
    assert_eq!(
        app.count("outbox_jobs", "kind = 'apple_push' AND state = 'done' AND attempts = 3 AND last_error LIKE '%503%'")
            .await,
        1,
        "delivered once, on the third attempt, the last error kept"
    );
    assert_eq!(app.count("apple_registrations", "device_library_id = 'new-phone'").await, 1);

    // A configuration error (wrong topic for the certificate) keeps the token.
    mock.answer(&[(400, "DeviceTokenNotForTopic")]);
    app.purchase(&app.staff.cashier, &card.barcode, 1000, "g3").await;
    app.run_jobs().await;
    assert_eq!(app.count("apple_registrations", "device_library_id = 'new-phone'").await, 1);
    assert_eq!(app.count("outbox_jobs", "kind = 'apple_push' AND state = 'pending' AND attempts = 1").await, 1);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("encarte_apns_pushes_total{outcome=\"misconfigured\"}"), "{metrics}");
    let expiry = metrics.lines().find_map(|l| l.strip_prefix("encarte_apple_certificate_expiry_seconds ")).unwrap();
    assert!(expiry.parse::<i64>().unwrap() > 86_400, "{metrics}");
    // Once the configuration is fixed, the retry reaches the phone it kept the token of (run now:
    // its backoff would make it due before the test ends).
    retry_now(&app).await;
    app.run_jobs().await;
    assert_eq!(app.count("outbox_jobs", "kind = 'apple_push' AND state = 'done' AND attempts = 2").await, 1);
}

#[tokio::test]
async fn the_mock_refuses_a_client_without_the_pass_certificate() {
    let mock = ApnsMock::start();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&mock.ca).unwrap()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(ca).http2_prior_knowledge().build().unwrap();
    let sent = client.post(format!("{}/3/device/abc", mock.url)).body("{}").send().await;
    assert!(sent.is_err(), "a TLS client without identity must be refused: {sent:?}");
    assert!(mock.pushes().is_empty());
}

#[tokio::test]
async fn the_web_service_refuses_bad_tokens_and_bad_bodies() {
    let (app, _mock) = app_with_mock().await;
    let card = card(&app, "strict@example.fr").await;
    let path = registration("device9", &card.serial);
    let body = || Some(json!({"pushToken": PUSH_TOKEN}));
    let (head, last) = card.token.split_at(card.token.len() - 1);
    let wrong = format!("ApplePass {head}{}", if last == "x" { "y" } else { "x" });
    let bearer = format!("Bearer {}", card.token);
    for auth in [None, Some(wrong.as_str()), Some(bearer.as_str()), Some("ApplePass ")] {
        let res = call(&app, Method::POST, &path, auth, body()).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        let pass = format!("/wallet/apple/v1/passes/{PASS_TYPE}/{}", card.serial);
        assert_eq!(call(&app, Method::GET, &pass, auth, None).await.status(), StatusCode::UNAUTHORIZED);
        let res = call(&app, Method::DELETE, &path, auth, None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.count("apple_registrations", "1 = 1").await, 0);

    // Unknown serial, or a pass type we don't sign: not found.
    let auth = format!("ApplePass {}", card.token);
    let unknown = format!("/wallet/apple/v1/passes/{PASS_TYPE}/no-such-serial");
    let res = call(&app, Method::GET, &unknown, Some(&auth), None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(code(&res.json().await.unwrap()), "pass_not_found");
    let other_type = format!("/wallet/apple/v1/devices/d/registrations/pass.other.type/{}", card.serial);
    assert_eq!(call(&app, Method::POST, &other_type, Some(&auth), body()).await.status(), StatusCode::NOT_FOUND);

    // Malformed, incomplete, oversized or non-JSON bodies.
    let raw = |content_type: &'static str, body: &'static str| {
        let req = app.client.post(app.url(&path)).header(header::AUTHORIZATION, &auth);
        req.header(header::CONTENT_TYPE, content_type).body(body).send()
    };
    assert_eq!(raw("application/json", "{\"pushToken\":").await.unwrap().status(), StatusCode::BAD_REQUEST);
    let res = call(&app, Method::POST, &path, Some(&auth), Some(json!({"token": "x"}))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["error"]["field"], "pushToken");
    let res = call(&app, Method::POST, &path, Some(&auth), Some(json!({"pushToken": "not/a token"}))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let huge = json!({"pushToken": "a".repeat(70_000)});
    assert_eq!(call(&app, Method::POST, &path, Some(&auth), Some(huge)).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(raw("text/plain", "hello").await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(app.count("apple_registrations", "1 = 1").await, 0);

    // The list of an unknown device, a garbage tag, and the log endpoint.
    assert_eq!(updated(&app, "never-registered", None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(register(&app, "device9", &card, PUSH_TOKEN).await, StatusCode::CREATED);
    let (status, serials, _) = updated(&app, "device9", Some("yesterday")).await;
    assert_eq!((status, serials), (StatusCode::OK, vec![card.serial.clone()]), "an unknown tag lists everything");
    let log = json!({"logs": ["Get serial #s task (for device 9) encountered error: Unexpected response code 401"]});
    assert_eq!(call(&app, Method::POST, "/wallet/apple/v1/log", None, Some(log)).await.status(), StatusCode::OK);
    let res = call(&app, Method::POST, "/wallet/apple/v1/log", None, Some(json!({"logs": 3}))).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    app.run_jobs().await;
}

#[tokio::test]
async fn the_customer_link_downloads_the_pass() {
    let (app, _mock) = app_with_mock().await;
    let enrolled = app.enrol("link@example.fr").await;
    let path = enrolled["apple_pass_path"].as_str().expect("apple_pass_path in the card").to_owned();
    assert!(path.starts_with("/c/") && path.ends_with("/pass.pkpass") && path.len() >= 3 + 32, "{path}");
    let res = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/vnd.apple.pkpass");
    assert_eq!(pass_json(&res.bytes().await.unwrap())["serialNumber"], enrolled["serial"]);
    let res = app.client.get(app.url("/c/0123456789abcdef0123456789abcdef/pass.pkpass")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.run_jobs().await;
}

/// The update tag must not let a slow transaction slip under it: T1 changes card A and stays
/// open, T2 changes card B and commits, the device lists (sees B, gets a tag), then T1 commits.
/// The next list from that tag must bring A. A tag drawn from a sequence would lose A here.
/// PostgreSQL only: SQLite has one writer at a time, so T1 and T2 can't overlap there.
#[tokio::test]
async fn a_change_that_commits_late_is_still_listed() {
    use diesel::connection::SimpleConnection;
    let (app, mock) = app_with_mock().await;
    if app.db.backend() != encarte::db::Backend::Postgres {
        return;
    }
    let (a, b) = (card(&app, "slow@example.fr").await, card(&app, "fast@example.fr").await);
    register(&app, "race", &a, PUSH_TOKEN).await;
    register(&app, "race", &b, PUSH_TOKEN).await;
    let start = updated(&app, "race", None).await.2.unwrap().as_str().unwrap().to_owned();

    let (db, serial) = (app.db.clone(), a.serial.clone());
    let (changed_tx, changed_rx) = std::sync::mpsc::channel();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let slow = std::thread::spawn(move || {
        let mut conn = db.conn().unwrap();
        conn.batch_execute("BEGIN").unwrap();
        let card = encarte::db::repo::cards::find_by_serial(&mut conn, &serial).unwrap().unwrap();
        // Not the whole card_changed: its push to the same device token would wait on T2's.
        encarte::db::repo::cards::mark_pass_changed(&mut conn, &card).unwrap();
        changed_tx.send(()).unwrap();
        commit_rx.recv().unwrap();
        conn.batch_execute("COMMIT").unwrap();
    });
    changed_rx.recv().unwrap();
    let (status, _) = app.purchase(&app.staff.cashier, &b.barcode, 1000, "fast").await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, serials, tag) = updated(&app, "race", Some(&start)).await;
    assert_eq!(serials, vec![b.serial.clone()], "A is not committed yet");
    let tag = tag.unwrap().as_str().unwrap().to_owned();

    commit_tx.send(()).unwrap();
    slow.join().unwrap();
    let (status, serials, _) = updated(&app, "race", Some(&tag)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(serials.contains(&a.serial), "A committed after the tag was handed out: {serials:?}");
    app.run_jobs().await;
    assert_eq!(mock.pushes().len(), 1, "B's purchase reaches the phone");
}

/// The day a voucher ends, as the programme (Europe/Paris) reads it, from the API's UTC instant.
pub fn paris_day(expires_at: &Value) -> chrono::NaiveDate {
    let at = chrono::DateTime::parse_from_rfc3339(expires_at.as_str().expect("expires_at")).expect("RFC 3339");
    at.with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

#[tokio::test]
async fn a_claimed_voucher_shows_on_the_pass_and_reaches_the_phone() {
    let (app, mock) = app_with_mock().await;
    let card = card(&app, "vouchers@example.fr").await;
    assert_eq!(register(&app, "device-v", &card, PUSH_TOKEN).await, StatusCode::CREATED);
    let reward = app
        .create_reward(&json!({"name": "5 € off", "name_fr": "5 € de remise", "cost_points": 40,
                               "voucher": {"amount_off_cents": 500}, "validity_days": 30}))
        .await;
    app.purchase(&app.staff.cashier, &card.barcode, 4250, "v-p1").await;
    app.run_jobs().await;
    let pushes = mock.pushes().len();

    let pass_path = format!("/wallet/apple/v1/passes/{PASS_TYPE}/{}", card.serial);
    let auth = format!("ApplePass {}", card.token);
    let pass = || async {
        let res = call(&app, Method::GET, &pass_path, Some(&auth), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        pass_json(&res.bytes().await.unwrap())
    };
    let before = pass().await;
    assert!(before["storeCard"].get("auxiliaryFields").is_none(), "no voucher, no field: {before}");

    let (status, claimed) = app.claim(&card.barcode, &reward, "v-claim").await;
    assert_eq!(status, StatusCode::CREATED, "{claimed}");
    assert_eq!(app.count("outbox_jobs", "kind = 'card_changed' AND state = 'pending'").await, 1, "the pass changes");
    let day = paris_day(&claimed["voucher"]["expires_at"]);
    let code = claimed["voucher"]["code_display"].as_str().unwrap();

    let after = pass().await;
    let front = &after["storeCard"]["auxiliaryFields"];
    assert_eq!(
        front,
        &json!([{"key": "vouchers", "label": "encarte.vouchers.label", "changeMessage": "encarte.vouchers.changed",
                 "value": format!("1 · expire le {}", day.format("%d/%m"))}]),
        "{after}"
    );
    let back = after["storeCard"]["backFields"].as_array().unwrap();
    let list = back.iter().find(|f| f["key"] == "vouchers_list").expect("the list on the back");
    assert_eq!(list["label"], "encarte.vouchers_list.label");
    assert_eq!(list["value"], format!("5,00\u{a0}€ · {code} · jusqu'au {}", day.format("%d/%m/%Y")));
    assert_eq!(after["storeCard"]["primaryFields"][0]["value"], 2, "42 - 40 points");

    app.run_jobs().await;
    assert_eq!(mock.pushes().len(), pushes + 1, "the claim is pushed to the registered phone");

    // Used at the till: the front field goes, the pass is pushed again.
    let (status, bought) = app
        .post(
            "/api/v1/purchases",
            &app.staff.cashier,
            Some("v-p2"),
            &json!({"card": card.barcode, "amount_cents": 1200, "currency": "EUR", "vouchers": [code]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");
    assert_eq!(bought["discount_cents"], 500);
    let used = pass().await;
    assert!(used["storeCard"].get("auxiliaryFields").is_none(), "{used}");
    assert!(used["storeCard"]["backFields"].as_array().unwrap().iter().all(|f| f["key"] != "vouchers_list"));
    app.run_jobs().await;
    assert_eq!(mock.pushes().len(), pushes + 2);
}
