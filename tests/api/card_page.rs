//! The card page and what a signed-in customer does there: the card, its QR code and history,
//! referral links, data download and erasure, reward claims.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Page, Phone, ZOE, mails};

#[tokio::test]
async fn the_card_page_shows_the_card_its_qr_code_and_history() {
    let app = spawn_app().await;
    let card = app.enrol("zoe@example.fr").await;
    let number = card["number"].as_str().unwrap();
    app.purchase(&app.staff.cashier, number, 1250, "k-1").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let mut phone = Phone::new(&app, "en");
    let page = phone.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Hello Zoé</h1>"));
    assert!(page.body.contains("id=\"balance\" data-points=\"12\">12 points</div>"), "{}", page.body);
    assert!(page.body.contains(&format!("id=\"card-number\">{}<", card["display_number"].as_str().unwrap())));
    assert!(page.body.contains("<svg role=\"img\" aria-label=\"QR\""), "an inline QR code: {}", page.body);
    assert!(page.body.contains(&format!("href=\"{path}/pass.pkpass\"")), "the Apple Wallet button");
    assert!(!page.body.contains("google-wallet"), "no Google button when Google Wallet is off");
    assert!(page.body.contains("Purchase</span><span class=\"delta plus\">+12</span>"), "{}", page.body);
    let referral = format!("value=\"http://127.0.0.1:0/r/{}\"", card["referral_code"].as_str().unwrap());
    assert!(page.body.contains(&referral), "the referral link to share");
    assert!(page.body.len() < 100 * 1024);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(phone.get(&format!("{path}/google")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(phone.get("/c/nope").await.status, StatusCode::NOT_FOUND);
    app.run_jobs().await;
}

#[tokio::test]
async fn a_referral_link_names_the_friend_and_enrols_as_their_referee() {
    let app = spawn_app().await;
    let settings = json!({"enabled": true, "min_purchase_cents": 1000, "referrer_points": 100, "referee_points": 50});
    let (status, _) =
        app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.manager), None, Some(&settings)).await;
    assert_eq!(status, StatusCode::OK);
    let referrer = app.enrol("anna@example.fr").await;
    let code = referrer["referral_code"].as_str().unwrap();
    let mut phone = Phone::new(&app, "en");
    let page = phone.get(&format!("/r/{code}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Zoé invites you</h1>"), "{}", page.body);
    assert!(page.body.contains("you get 50 bonus points after your first purchase of at least €10.00"));
    assert!(!page.body.contains("anna@example.fr"), "first name only");

    let enrolled = phone
        .submit(&format!("/r/{code}"), &[("first_name", "Paul"), ("email", "paul@example.fr"), ("consent_terms", "on")])
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    let (_, mine) =
        app.get(&format!("/api/v1/cards/{}/referrals", referrer["id"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!(mine["referrals"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["referrals"][0]["status"], "pending");

    assert_eq!(phone.get("/r/ZZZZZZZZ").await.status, StatusCode::NOT_FOUND);
    assert_eq!(phone.get("/r/not a code").await.status, StatusCode::NOT_FOUND);
    app.run_jobs().await;
}

/// Logs `phone` in by magic link as the customer with `email`; returns their card page's path.
async fn log_in(app: &TestApp, phone: &mut Phone<'_>, email: &str) -> String {
    phone.submit("/p/shop/login", &[("email", email)]).await;
    let login_id = mails(app, "magic_link").await.last().unwrap()["login_id"].as_str().unwrap().to_owned();
    let path = encarte::service::customer_auth::login_path(&app.deps.link_key, &login_id);
    let token = phone.get(&path).await.csrf();
    let used = phone.post(&path, &[("csrf", &token)]).await;
    assert_eq!(used.status, StatusCode::SEE_OTHER);
    used.headers["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_signed_in_customer_downloads_their_data_and_erases_their_account() {
    let app = spawn_app().await;
    let card = app.enrol("zoe@example.fr").await;
    app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 2000, "k-1").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();

    // With the card link alone: the page offers a login, the data routes refuse.
    let mut stranger = Phone::new(&app, "en");
    assert!(stranger.get(&path).await.body.contains("id=\"data-login\""));
    assert_eq!(stranger.get(&format!("{path}/data.json")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stranger.get(&format!("{path}/delete")).await.status, StatusCode::UNAUTHORIZED);

    let mut phone = Phone::new(&app, "en");
    assert_eq!(log_in(&app, &mut phone, "zoe@example.fr").await, path);
    assert!(phone.get(&path).await.body.contains("id=\"download-data\""));
    let export = phone.get(&format!("{path}/data.json")).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let data: serde_json::Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(data["customer"]["email"], "zoe@example.fr");
    assert_eq!(data["card"]["balance"], 20);
    assert_eq!(data["ledger"][0]["points"], 20);
    assert_eq!(data["purchases"][0]["amount_cents"], 2000);
    assert!(data["customer"].get("email_key").is_none());

    // Another customer's session does not open Zoé's data.
    app.enrol("paul@example.fr").await;
    let mut paul = Phone::new(&app, "en");
    log_in(&app, &mut paul, "paul@example.fr").await;
    assert_eq!(paul.get(&format!("{path}/data.json")).await.status, StatusCode::UNAUTHORIZED);

    let confirm = phone.get(&format!("{path}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let token = confirm.csrf();
    let unticked = phone.post(&format!("{path}/delete"), &[("csrf", &token)]).await;
    assert_eq!(unticked.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("customers", "erased_at IS NOT NULL").await, 0);
    let deleted = phone.post(&format!("{path}/delete"), &[("csrf", &token), ("confirm", "on")]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(deleted.body.contains("id=\"deleted\""));

    assert_eq!(
        app.count("customers", "erased_at IS NOT NULL AND first_name = '' AND phone IS NULL AND email LIKE 'erased-%'")
            .await,
        1
    );
    assert_eq!(app.count("customers", "email = 'zoe@example.fr'").await, 0);
    let id = card["id"].as_str().unwrap();
    assert_eq!(app.count("cards", &format!("id = '{id}' AND status = 'closed' AND referral_code IS NULL")).await, 1);
    assert_eq!(
        app.count("outbox_jobs", &format!("kind = 'card_changed' AND payload LIKE '%{id}%'")).await,
        1,
        "the pass is voided on phones"
    );
    assert_eq!(app.count("customer_sessions", "1 = 1").await, 1, "Paul's session only");
    assert_eq!(phone.get(&path).await.status, StatusCode::NOT_FOUND, "the old link is dead");
    app.assert_ledger_consistent().await;
    // Mail still queued for Zoé (her welcome) is dropped, not sent to the placeholder address.
    assert!(app.run_jobs().await > 0);
    let sent = app.sent_mails();
    assert!(sent.iter().all(|m| !m.contains("erased.invalid")), "nothing goes to an erased customer");
    assert!(sent.iter().any(|m| m.contains("paul@example.fr")), "Paul's mail still goes");
    // The address is free again: Zoé may come back as a new customer.
    app.enrol("zoe@example.fr").await;
    assert_eq!(app.run_jobs().await, 1, "her new welcome");
    assert!(app.sent_mails().iter().any(|m| m.contains("zoe@example.fr")));
}

#[tokio::test]
async fn an_erased_card_gets_no_referral_code_back_after_a_restart() {
    let app = spawn_app().await;
    let settings = json!({"enabled": true, "referrer_points": 10, "referee_points": 10});
    app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.manager), None, Some(&settings)).await;
    let card = app.enrol("zoe@example.fr").await;
    let id = card["id"].as_str().unwrap();
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let mut phone = Phone::new(&app, "en");
    log_in(&app, &mut phone, "zoe@example.fr").await;
    let token = phone.get(&format!("{path}/delete")).await.csrf();
    let deleted = phone.post(&format!("{path}/delete"), &[("csrf", &token), ("confirm", "on")]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);

    // Start-up again on the same database: its backfill leaves the closed card alone.
    encarte::startup::Application::build_with(app.config.clone(), encarte::startup::registry)
        .await
        .expect("the app builds again");
    assert_eq!(app.count("cards", &format!("id = '{id}' AND referral_code IS NULL")).await, 1);
    // A code an older build gave back leads nowhere: only an active card's link invites.
    let code = encarte::service::referrals::new_code();
    app.exec(&format!("UPDATE cards SET referral_code = '{code}' WHERE id = '{id}'")).await;
    assert_eq!(phone.get(&format!("/r/{code}")).await.status, StatusCode::NOT_FOUND);
    app.run_jobs().await;
}

#[tokio::test]
async fn a_browser_that_enrols_as_its_own_referee_is_spotted_by_its_device_cookie() {
    let app = spawn_app().await;
    let settings = json!({"enabled": true, "min_purchase_cents": 100, "referrer_points": 10, "referee_points": 10});
    let (status, _) =
        app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.manager), None, Some(&settings)).await;
    assert_eq!(status, StatusCode::OK);
    // The same phone enrols twice, under two addresses, the second time through its own link.
    let mut phone = Phone::new(&app, "en");
    let first = phone.submit("/p/shop", &ZOE).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(phone.cookies.contains_key("device"), "the enrolment page gives the browser an id");
    let code: String = app
        .db
        .read(|c| {
            use diesel::prelude::*;
            use encarte::db::schema::cards;
            Ok(cards::table.select(cards::referral_code).first::<Option<String>>(c)?.unwrap())
        })
        .await
        .unwrap();
    let second = [("first_name", "Zoé"), ("email", "zoe.bis@example.org"), ("consent_terms", "on")];
    assert_eq!(phone.submit(&format!("/r/{code}"), &second).await.status, StatusCode::OK);
    assert_eq!(app.count("customers", "device_key IS NOT NULL").await, 2);
    assert_eq!(app.count("referrals", "status = 'rejected' AND reason = 'self_referral'").await, 1);
    app.run_jobs().await;
}

#[tokio::test]
async fn with_the_development_chain_the_card_page_offers_no_apple_wallet_button() {
    let app = crate::helpers::spawn_app_with(|c| {
        (c.apple_cert, c.apple_key, c.apple_wwdr) = (None, None, None);
    })
    .await;
    assert!(app.deps.apple.development);
    let card = app.enrol("zoe@example.fr").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let page = Phone::new(&app, "en").get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("apple-wallet"), "an iPhone would refuse the pass: no button");
    app.run_jobs().await;
}

/// The claim form of `reward` on a card page: (action, key).
fn claim_form(page: &Page, reward: &str) -> (String, String) {
    let at = page.body.find(&format!("/rewards/{reward}\"")).expect("a claim form for the reward");
    let start = page.body[..at].rfind("action=\"").unwrap() + 8;
    let action = page.body[start..].split('"').next().unwrap().to_owned();
    let key_at = page.body[at..].find("name=\"key\" value=\"").unwrap() + at + 18;
    (action, page.body[key_at..].split('"').next().unwrap().to_owned())
}

#[tokio::test]
async fn a_signed_in_customer_claims_a_reward_on_the_card_page_once() {
    let app = spawn_app().await;
    let card = app.enrol("claim@example.fr").await;
    let coffee = app
        .create_reward(&json!({"name": "A free coffee", "name_fr": "Un café offert", "cost_points": 20,
                               "voucher": {"item": "a coffee"}, "validity_days": 7}))
        .await;
    let big = app
        .create_reward(&json!({"name": "5 € off", "cost_points": 400, "voucher": {"amount_off_cents": 500},
                               "validity_days": 30}))
        .await;
    app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 3000, "claim-1").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();

    // The card link alone shows the catalogue but no button; a forged post is told to log in.
    let mut stranger = Phone::new(&app, "en");
    let seen = stranger.get(&path).await;
    assert!(seen.body.contains("A free coffee") && seen.body.contains("id=\"claim-login\""), "{}", seen.body);
    assert!(!seen.body.contains("class=\"claim\""));
    let token = stranger.get("/p/shop").await.csrf();
    let forged = stranger.post(&format!("{path}/rewards/{coffee}"), &[("csrf", &token), ("key", "forged-1")]).await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(forged.body.contains("Log in with a link sent to your e-mail to claim a reward."), "{}", forged.body);

    let mut phone = Phone::new(&app, "en");
    assert_eq!(log_in(&app, &mut phone, "claim@example.fr").await, path);
    let page = phone.get(&path).await;
    assert!(page.body.contains("370 more points needed"), "the 400-point reward has no button yet");
    let (action, key) = claim_form(&page, &coffee);
    assert_eq!(action, format!("{path}/rewards/{coffee}"));
    // No CSRF token: refused, nothing spent.
    assert_eq!(phone.post(&action, &[("key", &key)]).await.status, StatusCode::FORBIDDEN);
    let form = [("csrf", page.csrf()), ("key", key)];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let claimed = phone.post(&action, &form).await;
    assert_eq!(claimed.status, StatusCode::SEE_OTHER, "{}", claimed.body);
    assert_eq!(claimed.headers["location"], format!("{path}#vouchers"));
    // A second tap on the same form replays the first claim.
    assert_eq!(phone.post(&action, &form).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.balance(card["id"].as_str().unwrap()).await, 10);
    assert_eq!(app.count("vouchers", "1 = 1").await, 1);

    let (_, vouchers) =
        app.get(&format!("/api/v1/cards/{}/vouchers", card["id"].as_str().unwrap()), &app.staff.cashier).await;
    let code = vouchers[0]["code_display"].as_str().unwrap();
    let shown = phone.get(&path).await;
    assert!(shown.body.contains("id=\"vouchers\"") && shown.body.contains(code), "{}", shown.body);
    assert!(shown.body.contains(&format!("data-code=\"{}\"", vouchers[0]["code"].as_str().unwrap())));
    assert_eq!(shown.body.matches("<svg").count(), 2, "the card's QR code and the voucher's");
    assert!(shown.body.contains("Valid until "));

    // Refusals are the card page with the reason, never an error page.
    assert!(!shown.body.contains("class=\"claim\""), "10 points left: no button");
    let short = phone.post(&action, &[("csrf", &shown.csrf()), ("key", "short-1")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("You don&#x27;t have enough points for this reward yet."), "{}", short.body);
    let unknown = phone.post(&format!("{path}/rewards/nope"), &[("csrf", &shown.csrf()), ("key", "other-key")]).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let big_claim = phone.post(&format!("{path}/rewards/{big}"), &[("csrf", &shown.csrf()), ("key", "big-1")]).await;
    assert_eq!(big_claim.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_key = phone.post(&action, &[("csrf", &shown.csrf())]).await;
    assert!(no_key.status.is_client_error(), "{}", no_key.status);
    assert_eq!(app.count("vouchers", "1 = 1").await, 1);
    app.run_jobs().await;
}
