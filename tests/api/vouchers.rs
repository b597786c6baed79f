//! Rewards and vouchers: the catalogue, claims, vouchers at the till, returns, undo, expiry.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

async fn reward(app: &TestApp, body: Value) -> Value {
    let (status, res) = app.post("/api/v1/rewards", &app.staff.manager, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    res
}

async fn claim(app: &TestApp, card: &str, reward: &str, key: &str) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/cards/{card}/rewards/{reward}"), &app.staff.cashier, Some(key), &json!({})).await
}

/// A purchase on the card with this id (the till names it by number).
async fn buy(app: &TestApp, card_id: &str, cents: i64, vouchers: &[&str], key: &str) -> (StatusCode, Value) {
    let (_, card) = app.get(&format!("/api/v1/cards/{card_id}"), &app.staff.cashier).await;
    let body = json!({"card": card["number"], "amount_cents": cents, "currency": "EUR", "vouchers": vouchers});
    app.post("/api/v1/purchases", &app.staff.cashier, Some(key), &body).await
}

/// The id of the card's newest reward claim in its ledger.
async fn newest_claim(app: &TestApp, card: &str) -> i64 {
    let (_, ledger) = app.get(&format!("/api/v1/cards/{card}/ledger"), &app.staff.cashier).await;
    let entries = ledger["entries"].as_array().unwrap();
    entries.iter().find(|e| e["kind"] == "reward").unwrap()["id"].as_i64().unwrap()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().expect("an id")
}

#[tokio::test]
async fn a_claimed_reward_is_a_voucher_used_once_at_a_purchase() {
    let app = spawn_app().await;
    let card = app.enrol("claim@example.fr").await;
    let card_id = id(&card).to_owned();
    let five = reward(
        &app,
        json!({"name": "5 € off", "name_fr": "5 € de remise", "cost_points": 400,
               "voucher": {"amount_off_cents": 500}, "validity_days": 30}),
    )
    .await;
    assert_eq!(five["voucher"], json!({"amount_off_cents": 500}));
    assert_eq!((five["active"].as_bool(), five["stock"].is_null()), (Some(true), true));

    let (status, res) = claim(&app, &card_id, id(&five), "c1").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_points"));
    app.adjust(&card_id, 450).await;
    let (status, claimed) = claim(&app, &card_id, id(&five), "c2").await;
    assert_eq!(status, StatusCode::CREATED, "{claimed}");
    assert_eq!(claimed["balance"], 50);
    let voucher = &claimed["voucher"];
    assert_eq!((voucher["state"].as_str(), voucher["origin"].as_str()), (Some("active"), Some("reward")));
    assert_eq!(voucher["value"], json!({"amount_off_cents": 500}));
    let code_display = voucher["code_display"].as_str().unwrap();
    assert_eq!(code_display.len(), 13, "{code_display}");
    // The same key replays the claim byte for byte; no second voucher, no second debit.
    let (status, again) = claim(&app, &card_id, id(&five), "c2").await;
    assert_eq!((status, &again), (StatusCode::CREATED, &claimed));
    assert_eq!(app.count("vouchers", "origin = 'reward'").await, 1);
    // The customer hears of it: one transactional e-mail named after the reward, in the
    // programme's language.
    let mails = "kind = 'email' AND payload LIKE '%voucher_issued%' AND payload LIKE '%5 € de remise%'";
    assert_eq!(app.count("outbox_jobs", mails).await, 1);

    // Editing the reward changes no voucher already held.
    let (status, _) = app
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/rewards/{}", id(&five)),
            Some(&app.staff.manager),
            None,
            Some(&json!({"name": "3 € off", "cost_points": 300, "voucher": {"amount_off_cents": 300}, "validity_days": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Typed as people read it: lower case, dashes. 25 € - 5 € = 20 € paid, 20 points earned.
    let typed = code_display.to_lowercase();
    let (status, bought) = buy(&app, &card_id, 2500, &[&typed], "b1").await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");
    assert_eq!((bought["discount_cents"].as_i64(), bought["points_earned"].as_i64()), (Some(500), Some(20)));
    assert_eq!(bought["vouchers"][0]["discount_cents"], 500);
    assert_eq!(bought["balance"], 70);
    let (status, res) = buy(&app, &card_id, 2500, &[&typed], "b2").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "voucher_used"));

    let (_, used) = app.get(&format!("/api/v1/cards/{card_id}/vouchers?state=used"), &app.staff.cashier).await;
    assert_eq!(used.as_array().unwrap().len(), 1);
    assert_eq!(used[0]["value"], json!({"amount_off_cents": 500}), "the voucher kept its value");
    assert_eq!(used[0]["purchase_id"], bought["purchase"]["id"]);
    let (_, active) = app.get(&format!("/api/v1/cards/{card_id}/vouchers?state=active"), &app.staff.cashier).await;
    assert_eq!(active, json!([]));
    let (status, res) = app.get(&format!("/api/v1/cards/{card_id}/vouchers?state=lost"), &app.staff.cashier).await;
    assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "invalid_request"));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn amounts_come_off_first_then_percents_and_points_are_earned_on_what_is_paid() {
    let app = spawn_app().await;
    let card_id = id(&app.enrol("stack@example.fr").await).to_owned();
    app.adjust(&card_id, 1000).await;
    let ten =
        reward(&app, json!({"name": "10 %", "cost_points": 100, "voucher": {"percent_off": 10}, "validity_days": 30}))
            .await;
    let five = reward(
        &app,
        json!({"name": "5 €", "cost_points": 100, "voucher": {"amount_off_cents": 500}, "validity_days": 30,
               "min_purchase_cents": 2000}),
    )
    .await;
    let (_, p) = claim(&app, &card_id, id(&ten), "k1").await;
    let (_, a) = claim(&app, &card_id, id(&five), "k2").await;
    let (pc, ac) = (p["voucher"]["code"].as_str().unwrap(), a["voucher"]["code"].as_str().unwrap());

    let (status, res) = buy(&app, &card_id, 1999, &[pc, ac], "b0").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "voucher_below_minimum"));
    // 32.45 €: 5 € off first, then 10 % of 27.45 € = 2.745 €, half a cent down: 2.74 €.
    let (status, res) = buy(&app, &card_id, 3245, &[pc, ac], "b1").await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    assert_eq!(res["discount_cents"], 774);
    assert_eq!(res["vouchers"][0]["discount_cents"], 274);
    assert_eq!(res["vouchers"][1]["discount_cents"], 500);
    assert_eq!(res["points_earned"], 24, "24.71 € paid earns 24 points");
    let (status, res) = buy(&app, &card_id, 3245, &[pc, pc], "b2").await;
    assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "duplicate_voucher"));
    app.run_jobs().await;
}

#[tokio::test]
async fn a_voucher_is_used_once_under_twenty_concurrent_purchases() {
    let app = spawn_app().await;
    let card_id = id(&app.enrol("race@example.fr").await).to_owned();
    app.adjust(&card_id, 100).await;
    let r = reward(
        &app,
        json!({"name": "1 €", "cost_points": 100, "voucher": {"amount_off_cents": 100}, "validity_days": 1}),
    )
    .await;
    let (_, claimed) = claim(&app, &card_id, id(&r), "k").await;
    let voucher = claimed["voucher"]["code"].as_str().unwrap().to_owned();
    let tills = (0..20).map(|i| {
        let (app, card_id, voucher) = (&app, card_id.clone(), voucher.clone());
        async move { buy(app, &card_id, 1000, &[&voucher], &format!("till-{i}")).await }
    });
    let results = futures::future::join_all(tills).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    let refused: Vec<&str> = results.iter().filter(|(s, _)| *s != StatusCode::CREATED).map(|(_, b)| code(b)).collect();
    assert_eq!(created, 1, "{results:?}");
    assert!(refused.iter().all(|c| *c == "voucher_used"), "{refused:?}");
    assert_eq!(app.count("purchases", "discount_cents = 100").await, 1);
    assert_eq!(app.count("purchases", "1 = 1").await, 1, "a refused purchase is not recorded");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn stock_s_under_n_concurrent_claims_gives_exactly_s_vouchers() {
    let app = spawn_app().await;
    let r = reward(
        &app,
        json!({"name": "Tote bag", "cost_points": 10, "voucher": {"item": "a tote bag"}, "validity_days": 30, "stock": 3}),
    )
    .await;
    let mut cards = Vec::new();
    for i in 0..8 {
        let card_id = id(&app.enrol(&format!("stock{i}@example.fr")).await).to_owned();
        app.adjust(&card_id, 10).await;
        cards.push(card_id);
    }
    let keys: Vec<String> = (0..cards.len()).map(|i| format!("stock-{i}")).collect();
    let claims = cards.iter().zip(&keys).map(|(card, key)| claim(&app, card, id(&r), key));
    let results = futures::future::join_all(claims).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(created, 3, "{results:?}");
    assert!(results.iter().filter(|(s, _)| *s != StatusCode::CREATED).all(|(_, b)| code(b) == "reward_out_of_stock"));
    assert_eq!(app.count("vouchers", "1 = 1").await, 3);
    assert_eq!(app.count("ledger_entries", "kind = 'reward'").await, 3, "a refused claim spends nothing");
    let (_, after) = app.get(&format!("/api/v1/rewards/{}", id(&r)), &app.staff.cashier).await;
    assert_eq!(after["stock"], 0);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn a_full_return_gives_the_vouchers_back_a_partial_one_does_not() {
    let app = spawn_app().await;
    let card_id = id(&app.enrol("return@example.fr").await).to_owned();
    app.adjust(&card_id, 300).await;
    let r = reward(
        &app,
        json!({"name": "2 €", "cost_points": 100, "voucher": {"amount_off_cents": 200}, "validity_days": 30}),
    )
    .await;
    let mut codes = Vec::new();
    for key in ["a", "b"] {
        let (_, c) = claim(&app, &card_id, id(&r), key).await;
        codes.push(c["voucher"]["code"].as_str().unwrap().to_owned());
    }
    let (_, first) = buy(&app, &card_id, 1000, &[&codes[0]], "p1").await;
    let (_, second) = buy(&app, &card_id, 1000, &[&codes[1]], "p2").await;
    let ret = |purchase: &Value, cents: i64, key: &str| {
        let path = format!("/api/v1/purchases/{}/returns", purchase["purchase"]["id"].as_str().unwrap());
        let key = key.to_owned();
        let app = &app;
        async move { app.post(&path, &app.staff.cashier, Some(&key), &json!({"amount_cents": cents})).await }
    };
    let (status, _) = ret(&first, 1000, "r1").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = ret(&second, 400, "r2").await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, active) = app.get(&format!("/api/v1/cards/{card_id}/vouchers?state=active"), &app.staff.cashier).await;
    let active: Vec<&str> = active.as_array().unwrap().iter().map(|v| v["code"].as_str().unwrap()).collect();
    assert_eq!(active, vec![codes[0].as_str()], "the fully returned purchase's voucher is back");
    // Back and usable again.
    let (status, res) = buy(&app, &card_id, 1000, &[&codes[0]], "p3").await;
    assert_eq!((status, res["discount_cents"].as_i64()), (StatusCode::CREATED, Some(200)));
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn a_voucher_past_its_end_is_refused_and_a_return_after_that_does_not_revive_it() {
    let app = spawn_app().await;
    let card_id = id(&app.enrol("expiry@example.fr").await).to_owned();
    app.adjust(&card_id, 200).await;
    let r = reward(
        &app,
        json!({"name": "1 €", "cost_points": 100, "voucher": {"amount_off_cents": 100}, "validity_days": 7}),
    )
    .await;
    let (_, a) = claim(&app, &card_id, id(&r), "a").await;
    let (_, b) = claim(&app, &card_id, id(&r), "b").await;
    let (a, b) = (a["voucher"]["code"].as_str().unwrap().to_owned(), b["voucher"]["code"].as_str().unwrap().to_owned());
    let (_, used) = buy(&app, &card_id, 1000, &[&b], "p1").await;
    // Both end a moment ago: one unused, one used by the purchase.
    app.exec("UPDATE vouchers SET expires_at = '2020-01-01 00:00:00'").await;
    let (status, res) = buy(&app, &card_id, 1000, &[&a], "p2").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "voucher_expired"));
    let (_, expired) = app.get(&format!("/api/v1/cards/{card_id}/vouchers?state=expired"), &app.staff.cashier).await;
    assert_eq!(expired.as_array().unwrap().len(), 1, "it reads expired before the sweep: {expired}");
    assert_eq!(expired[0]["state"], "expired");
    // The sweep writes it and updates the pass.
    let swept = app.db.write(encarte::service::vouchers::expiry::sweep_chunk).await.unwrap();
    assert_eq!(swept, 1);
    assert_eq!(app.count("vouchers", "state = 'expired'").await, 1);
    let path = format!("/api/v1/purchases/{}/returns", used["purchase"]["id"].as_str().unwrap());
    let (status, _) = app.post(&path, &app.staff.cashier, Some("r"), &json!({"amount_cents": 1000})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.count("vouchers", "state = 'expired'").await, 2, "given back, but expired");
    assert_eq!(app.count("vouchers", "state = 'active'").await, 0);
    app.run_jobs().await;
}

#[tokio::test]
async fn undoing_a_claim_cancels_its_unused_voucher_and_refuses_once_it_is_used() {
    let app = spawn_app().await;
    let card_id = id(&app.enrol("undo@example.fr").await).to_owned();
    app.adjust(&card_id, 200).await;
    let r = reward(
        &app,
        json!({"name": "Coffee", "cost_points": 80, "voucher": {"item": "a coffee"}, "validity_days": 30, "stock": 5}),
    )
    .await;
    let (_, first) = claim(&app, &card_id, id(&r), "one").await;
    let entry = newest_claim(&app, &card_id).await;
    let undo = |entry: i64, key: &str| {
        let key = key.to_owned();
        let app = &app;
        async move {
            app.post(&format!("/api/v1/redemptions/{entry}/reversal"), &app.staff.manager, Some(&key), &json!({})).await
        }
    };
    let (status, res) = undo(entry, "u1").await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    assert_eq!(res["balance"], 200);
    let (_, all) = app.get(&format!("/api/v1/cards/{card_id}/vouchers"), &app.staff.cashier).await;
    assert_eq!(all[0]["state"], "cancelled");
    let (_, after) = app.get(&format!("/api/v1/rewards/{}", id(&r)), &app.staff.cashier).await;
    assert_eq!(after["stock"], 5, "the stock is given back");
    // A cancelled voucher can't be used.
    let code_of_first = first["voucher"]["code"].as_str().unwrap();
    let (status, res) =
        app.post(&format!("/api/v1/vouchers/{code_of_first}/redeem"), &app.staff.cashier, Some("x"), &json!({})).await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "voucher_invalid"));

    // An item voucher handed over at the counter, then the claim can't be undone.
    let (_, second) = claim(&app, &card_id, id(&r), "two").await;
    let code_of_second = second["voucher"]["code"].as_str().unwrap();
    let (status, res) =
        app.post(&format!("/api/v1/vouchers/{code_of_second}/redeem"), &app.staff.cashier, Some("h"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(res["voucher"]["state"], "used");
    let (_, ledger) = app.get(&format!("/api/v1/cards/{card_id}/ledger"), &app.staff.cashier).await;
    let newest_claim =
        ledger["entries"].as_array().unwrap().iter().find(|e| e["kind"] == "reward").unwrap()["id"].as_i64().unwrap();
    let (status, res) = undo(newest_claim, "u2").await;
    assert_eq!((status, code(&res)), (StatusCode::CONFLICT, "voucher_used"));
    assert_eq!(app.balance(&card_id).await, 120, "nothing changed");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn another_programmes_voucher_reads_as_invalid_and_bad_input_names_its_field() {
    let app = spawn_app().await;
    let other = app.new_program("other").await;
    let card_id = id(&app.enrol("mine@example.fr").await).to_owned();
    let (_, theirs) = app
        .post("/api/v1/customers", &other.cashier, None, &json!({"email": "theirs@example.fr", "first_name": "Léa"}))
        .await;
    let their_card = theirs["card"]["id"].as_str().unwrap().to_owned();
    let (status, given) = app
        .post(
            &format!("/api/v1/cards/{their_card}/vouchers"),
            &other.manager,
            Some("g"),
            &json!({"voucher": {"amount_off_cents": 500}, "validity_days": 10, "reason": "complaint"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{given}");
    assert_eq!(given["voucher"]["origin"], "manual");
    let theirs_code = given["voucher"]["code"].as_str().unwrap();
    let (status, res) = buy(&app, &card_id, 1000, &[theirs_code], "p").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "voucher_invalid"));
    // Another card's voucher of the same programme: the same answer.
    let second = app.enrol("second@example.fr").await;
    let mine2 = id(&second).to_owned();
    let (_, g2) = app
        .post(
            &format!("/api/v1/cards/{mine2}/vouchers"),
            &app.staff.manager,
            Some("g2"),
            &json!({"voucher": {"percent_off": 10}, "validity_days": 10, "reason": "birthday"}),
        )
        .await;
    let (status, res) = buy(&app, &card_id, 1000, &[g2["voucher"]["code"].as_str().unwrap()], "p2").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "voucher_invalid"));
    // The dry run holds nothing.
    let (status, checked) = app
        .post(
            "/api/v1/vouchers/validate",
            &app.staff.cashier,
            None,
            &json!({"code": g2["voucher"]["code"], "card": second["number"], "amount_cents": 1245}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!((checked["valid"].as_bool(), checked["discount_cents"].as_i64()), (Some(true), Some(124)));
    // A cashier gives no goodwill voucher.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{card_id}/vouchers"),
            &app.staff.cashier,
            Some("g3"),
            &json!({"voucher": {"amount_off_cents": 500}, "validity_days": 10, "reason": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Malformed codes and values: 400 naming the field.
    let (status, res) = buy(&app, &card_id, 1000, &["ABC-0O1"], "p3").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{res}");
    assert!(res["error"]["message"].as_str().unwrap().starts_with("vouchers"), "{res}");
    for (body, field) in [
        (json!({"name": "x", "cost_points": 0, "voucher": {"item": "x"}, "validity_days": 1}), "cost_points"),
        (json!({"name": "x", "cost_points": -5, "voucher": {"item": "x"}, "validity_days": 1}), "cost_points"),
        (json!({"name": "x", "cost_points": 5, "voucher": {"percent_off": 101}, "validity_days": 1}), "voucher"),
        (json!({"name": "x", "cost_points": 5, "voucher": {"amount_off_cents": 0}, "validity_days": 1}), "voucher"),
        (json!({"name": "x", "cost_points": 5, "voucher": {"item": "x"}, "validity_days": 0}), "validity_days"),
        (json!({"name": "x", "cost_points": 5, "voucher": {"item": "x"}, "validity_days": 1, "stock": -1}), "stock"),
    ] {
        let (status, res) = app.post("/api/v1/rewards", &app.staff.manager, None, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {res}");
        assert!(res["error"]["message"].as_str().unwrap().starts_with(field), "{body}: {res}");
    }
    let (status, res) = claim(&app, &card_id, "no-such-reward", "k").await;
    assert_eq!((status, code(&res)), (StatusCode::NOT_FOUND, "reward_not_found"));
    let (status, _) = app
        .post(
            "/api/v1/rewards",
            &app.staff.cashier,
            None,
            &json!({"name": "x", "cost_points": 5, "voucher": {"item": "x"}, "validity_days": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.run_jobs().await;
}

#[tokio::test]
async fn an_inactive_or_archived_reward_cant_be_claimed_and_the_catalogue_lists_the_rest() {
    let app = spawn_app().await;
    let card_id = id(&app.enrol("archive@example.fr").await).to_owned();
    app.adjust(&card_id, 500).await;
    let off = reward(
        &app,
        json!({"name": "Paused", "cost_points": 10, "voucher": {"item": "x"}, "validity_days": 1, "active": false}),
    )
    .await;
    let gone =
        reward(&app, json!({"name": "Gone", "cost_points": 10, "voucher": {"item": "y"}, "validity_days": 1})).await;
    let (status, res) = claim(&app, &card_id, id(&off), "a").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "reward_inactive"));
    let (status, archived) =
        app.post(&format!("/api/v1/rewards/{}/archive", id(&gone)), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, archived["archived"].as_bool()), (StatusCode::OK, Some(true)));
    let (status, res) = claim(&app, &card_id, id(&gone), "b").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "reward_inactive"));
    let (_, list) = app.get("/api/v1/rewards", &app.staff.cashier).await;
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Paused"]);
    let (_, all) = app.get("/api/v1/rewards?archived=true", &app.staff.cashier).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    // A blocked card claims nothing.
    app.post(&format!("/api/v1/cards/{card_id}/block"), &app.staff.manager, None, &json!({})).await;
    let fresh =
        reward(&app, json!({"name": "Fresh", "cost_points": 10, "voucher": {"item": "z"}, "validity_days": 1})).await;
    let (status, res) = claim(&app, &card_id, id(&fresh), "c").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "card_blocked"));
    app.run_jobs().await;
}

#[tokio::test]
async fn guessed_voucher_codes_count_against_the_guessing_limit_real_ones_do_not() {
    let app = crate::helpers::spawn_app_with(|c| {
        c.promo_guess_limit_staff = 3;
        c.promo_guess_window_seconds = 3600;
    })
    .await;
    let card_id = id(&app.enrol("guess@example.fr").await).to_owned();
    let (_, given) = app
        .post(
            &format!("/api/v1/cards/{card_id}/vouchers"),
            &app.staff.manager,
            Some("g"),
            &json!({"voucher": {"amount_off_cents": 100}, "validity_days": 10, "reason": "test"}),
        )
        .await;
    let real = given["voucher"]["code"].as_str().unwrap().to_owned();
    // A real voucher refused for a reason (below its minimum, used...) is no guess: try it often.
    for i in 0..5 {
        let (status, res) =
            app.post("/api/v1/vouchers/validate", &app.staff.cashier, None, &json!({"code": real})).await;
        assert_eq!((status, res["valid"].as_bool()), (StatusCode::OK, Some(true)), "attempt {i}");
    }
    // Three made-up (well-formed) codes, at the till and in the dry run.
    for i in 0..3 {
        let guess = encarte::domain::voucher::VoucherCode::generate();
        let (status, res) = if i % 2 == 0 {
            buy(&app, &card_id, 1000, &[guess.as_str()], &format!("guess-{i}")).await
        } else {
            app.post("/api/v1/vouchers/validate", &app.staff.cashier, None, &json!({"code": guess.as_str()})).await
        };
        assert!(
            (status == StatusCode::UNPROCESSABLE_ENTITY && code(&res) == "voucher_invalid")
                || (status == StatusCode::OK && res["reason"] == "invalid"),
            "{status} {res}"
        );
    }
    let (status, res) = buy(&app, &card_id, 1000, &[&real], "after").await;
    assert_eq!((status, code(&res)), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert_eq!(app.count("purchases", "1 = 1").await, 0);
    app.run_jobs().await;
}
