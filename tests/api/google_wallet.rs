//! Google Wallet end to end against a local mock of Google's token endpoint, REST API and
//! callback keys.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::apple_wallet::retry_now;
use crate::google_mock::{GoogleMock, ISSUER};
use crate::helpers::{TestApp, code, spawn_app, spawn_app_with};

const PREFIX: &str = "https://pay.google.com/gp/v/save/";

async fn app_with_google() -> (TestApp, GoogleMock) {
    let mock = GoogleMock::start();
    let (url, key_file) = (mock.url.clone(), mock.key_file.clone());
    let app = spawn_app_with(move |c| {
        c.google_issuer_id = Some(ISSUER.into());
        c.google_service_account_file = Some(key_file);
        c.google_api_base = format!("{url}/walletobjects/v1");
        c.google_callback_keys_url = format!("{url}/keys");
        c.public_url = Some("https://loyalty.example.com".into());
    })
    .await;
    (app, mock)
}

/// The save link's JWT claims, after checking its RS256 signature with the service account's key.
fn verified_claims(url: &str, public_pem: &[u8]) -> Value {
    let jwt = url.strip_prefix(PREFIX).expect("a Google save link");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = openssl::pkey::PKey::public_key_from_pem(public_pem).unwrap();
    let mut verifier = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(verifier.verify_oneshot(&b64.decode(parts[2]).unwrap(), signed.as_bytes()).unwrap(), "bad signature");
    let header: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap()
}

async fn save_url(app: &TestApp, card: &Value) -> String {
    let path = format!("/api/v1/cards/{}/google-save-url", card["number"].as_str().unwrap());
    let (status, body) = app.get(&path, &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["url"].as_str().unwrap().to_owned()
}

fn object_id(card: &Value) -> String {
    format!("{ISSUER}.card-{}", card["serial"].as_str().unwrap())
}

#[tokio::test]
async fn the_save_link_creates_the_class_and_object_then_purchases_patch_the_balance() {
    let (app, mock) = app_with_google().await;
    let card = app.enrol("android@example.fr").await;
    let url = save_url(&app, &card).await;
    assert!(url.len() <= 1800, "{} characters", url.len());
    let claims = verified_claims(&url, &mock.public_pem);
    assert_eq!(claims["iss"], "encarte@test-project.iam.gserviceaccount.com");
    assert_eq!((claims["aud"].as_str(), claims["typ"].as_str()), (Some("google"), Some("savetowallet")));
    let class_id = format!("{ISSUER}.program-{}", app.staff.program_id);
    assert_eq!(claims["payload"], json!({"loyaltyObjects": [{"id": object_id(&card), "classId": class_id}]}));

    assert_eq!(mock.rest_calls(), ["POST /loyaltyClass", "POST /loyaltyObject"]);
    let calls = mock.calls();
    assert!(calls.iter().all(|c| c.authorization.as_deref() == Some("Bearer tok-1")), "{calls:?}");
    let object = &calls[1].body;
    assert_eq!(object["loyaltyPoints"], json!({"label": "Points", "balance": {"int": 0}}));
    assert_eq!(object["barcode"]["value"], card["barcode"]);
    assert_eq!(object["accountId"], card["number"]);
    assert_eq!(object["barcode"]["alternateText"], card["display_number"]);
    assert_eq!(calls[0].body["reviewStatus"], "UNDER_REVIEW");
    assert_eq!(calls[0].body["issuerName"], "Shop shop", "the programme, not the sample design");
    assert_eq!(calls[0].body["callbackOptions"]["url"], "https://loyalty.example.com/wallet/google/callback");

    // The link again: the object exists, nothing is sent.
    assert_eq!(verified_claims(&save_url(&app, &card).await, &mock.public_pem)["payload"], claims["payload"]);
    assert_eq!(mock.rest_calls().len(), 2);

    // Four purchases in a day: three notify, the fourth is silent but still sent.
    for i in 0..4 {
        let (status, _) =
            app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1250, &format!("g{i}")).await;
        assert_eq!(status, StatusCode::CREATED);
        app.run_jobs().await;
    }
    let patches: Vec<Value> = mock.calls().into_iter().filter(|c| c.method == "PATCH").map(|c| c.body).collect();
    assert_eq!(patches.len(), 4, "{patches:?}");
    assert_eq!(
        patches[0],
        json!({"loyaltyPoints": {"label": "Points", "balance": {"int": 12}}, "state": "ACTIVE",
               "textModulesData": [], "notifyPreference": "NOTIFY_ON_UPDATE"})
    );
    assert_eq!(patches[2]["notifyPreference"], "NOTIFY_ON_UPDATE");
    assert_eq!(
        patches[3],
        json!({"loyaltyPoints": {"label": "Points", "balance": {"int": 48}}, "state": "ACTIVE", "textModulesData": []})
    );
    assert_eq!(mock.state.lock().unwrap().token_fetches, 1, "one token for every call");
    let path = format!("/walletobjects/v1/loyaltyObject/{}", object_id(&card));
    assert!(mock.calls().iter().filter(|c| c.method == "PATCH").all(|c| c.path == path));
}

#[tokio::test]
async fn an_existing_object_is_patched_and_a_lost_one_recreated() {
    let (app, mock) = app_with_google().await;
    let card = app.enrol("exists@example.fr").await;
    // Already at Google (made by an earlier node, say): insert gives 409, then PATCH.
    mock.state.lock().unwrap().objects.insert(object_id(&card), json!({"id": object_id(&card)}));
    save_url(&app, &card).await;
    let object = format!("/loyaltyObject/{}", object_id(&card));
    assert_eq!(
        mock.rest_calls(),
        ["POST /loyaltyClass".to_owned(), "POST /loyaltyObject".into(), format!("PATCH {object}")]
    );

    // Gone at Google: the PATCH of the next change gets 404 and the object is inserted again.
    mock.state.lock().unwrap().objects.clear();
    app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1000, "lost").await;
    app.run_jobs().await;
    let calls = mock.rest_calls();
    assert_eq!(calls[3..], [format!("PATCH {object}"), "POST /loyaltyObject".into()]);
    assert_eq!(mock.state.lock().unwrap().objects[&object_id(&card)]["loyaltyPoints"]["balance"]["int"], 10);

    // Google is down: the update is retried, not lost.
    mock.state.lock().unwrap().script.extend([503]);
    app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1000, "down").await;
    app.run_jobs().await;
    assert_eq!(app.count("outbox_jobs", "kind = 'card_changed' AND state = 'pending' AND attempts = 1").await, 1);
    // Google is back: the retry (run now, not after its backoff) brings the object up to date.
    retry_now(&app).await;
    app.run_jobs().await;
    assert_eq!(mock.state.lock().unwrap().objects[&object_id(&card)]["loyaltyPoints"]["balance"]["int"], 20);
}

#[tokio::test]
async fn callbacks_are_verified_and_processed_once() {
    let (app, mock) = app_with_google().await;
    let card = app.enrol("callback@example.fr").await;
    save_url(&app, &card).await;
    let class_id = format!("{ISSUER}.program-{}", app.staff.program_id);
    let later = chrono::Utc::now().timestamp_millis() + 600_000;
    let send = |body: String| app.client.post(app.url("/wallet/google/callback")).body(body).send();

    let saved =
        mock.fake.envelope("GooglePayPasses", ISSUER, &class_id, &object_id(&card), "save", "n-1", later, later);
    assert_eq!(send(saved.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.count("google_objects", "saved = TRUE").await, 1);

    // A delete replayed with the nonce of the save changes nothing; with its own nonce it counts.
    let replay =
        mock.fake.envelope("GooglePayPasses", ISSUER, &class_id, &object_id(&card), "del", "n-1", later, later);
    assert_eq!(send(replay).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.count("google_objects", "saved = TRUE").await, 1);
    let deleted =
        mock.fake.envelope("GoogleWalletPasses", ISSUER, &class_id, &object_id(&card), "del", "n-2", later, later);
    assert_eq!(send(deleted).await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.count("google_objects", "saved = TRUE").await, 0);

    // Signed for another issuer, or tampered with: refused.
    let other = mock.fake.envelope("GooglePayPasses", "999", &class_id, &object_id(&card), "save", "n-3", later, later);
    let res = send(other).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(code(&res.json().await.unwrap()), "invalid_callback");
    let tampered = saved.replace("n-1", "n-4");
    assert_eq!(send(tampered).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(send("not json".into()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("google_objects", "saved = TRUE").await, 0);
    assert_eq!(mock.state.lock().unwrap().key_fetches, 1, "Google's keys are fetched once and cached");
    app.run_jobs().await;
}

#[tokio::test]
async fn without_configuration_google_wallet_is_off_not_broken() {
    let app = spawn_app().await;
    let card = app.enrol("off@example.fr").await;
    let path = format!("/api/v1/cards/{}/google-save-url", card["number"].as_str().unwrap());
    let (status, body) = app.get(&path, &app.staff.cashier).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "google_wallet_off"));
    let res = app.client.post(app.url("/wallet/google/callback")).body("{}").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1000, "off").await;
    app.run_jobs().await;
    assert_eq!(app.count("outbox_jobs", "state <> 'done'").await, 0);
}

#[tokio::test]
async fn a_claimed_voucher_shows_in_a_text_module_and_goes_when_used() {
    let (app, mock) = app_with_google().await;
    let card = app.enrol("android-voucher@example.fr").await;
    let barcode = card["barcode"].as_str().unwrap();
    save_url(&app, &card).await;
    let reward = app
        .create_reward(&json!({"name": "A free coffee", "name_fr": "Un café offert", "cost_points": 20,
                               "voucher": {"item": "un café"}, "validity_days": 7}))
        .await;
    app.purchase(&app.staff.cashier, barcode, 2500, "gv-p1").await;
    app.run_jobs().await;
    let (status, claimed) = app.claim(card["id"].as_str().unwrap(), &reward, "gv-claim").await;
    assert_eq!(status, StatusCode::CREATED, "{claimed}");
    app.run_jobs().await;

    let day = crate::apple_wallet::paris_day(&claimed["voucher"]["expires_at"]);
    let code = claimed["voucher"]["code_display"].as_str().unwrap();
    let patches: Vec<Value> = mock.calls().into_iter().filter(|c| c.method == "PATCH").map(|c| c.body).collect();
    let last = patches.last().expect("the claim patches the object");
    assert_eq!(
        last["textModulesData"],
        json!([{"id": "vouchers",
                "header": format!("Bons d'achat\u{a0}: 1 · expire le {}", day.format("%d/%m")),
                "body": format!("un café · {code} · jusqu'au {}", day.format("%d/%m/%Y"))}])
    );
    assert_eq!(last["loyaltyPoints"]["balance"], json!({"int": 5}));

    // The item voucher is handed over at the till: the module goes with the next patch.
    let (status, _) = app
        .post(
            "/api/v1/purchases",
            &app.staff.cashier,
            Some("gv-p2"),
            &json!({"card": barcode, "amount_cents": 300, "currency": "EUR", "vouchers": [code]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.run_jobs().await;
    let calls = mock.calls();
    let last = &calls.iter().rev().find(|c| c.method == "PATCH").expect("a patch").body;
    assert_eq!(last["textModulesData"], json!([]));
}
