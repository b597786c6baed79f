//! Tier rules: the ordered list a manager sets, checked as a whole.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

async fn put_tiers(app: &TestApp, token: &str, body: &Value) -> (StatusCode, Value) {
    app.send(Method::PUT, "/api/v1/program/tiers", Some(token), None, Some(body)).await
}

fn sephora() -> Value {
    json!([
        {"key": "white", "name": "White"},
        {"key": "black", "name": "Black", "qualify": {"any_of": [
            {"metric": "points_earned", "at_least": 150}, {"metric": "visits", "at_least": 4}]},
         "entry_reward": {"voucher": {"percent_off": 10}, "validity_days": 60}},
        {"key": "gold", "name": "Gold", "name_fr": "Or", "window_months": 12, "keep_months": 12,
         "qualify": {"all_of": [{"metric": "points_earned", "at_least": 1500}]}}
    ])
}

#[tokio::test]
async fn a_manager_sets_the_tiers_and_staff_read_them_back_with_their_defaults() {
    let app = spawn_app().await;
    let (status, none) = app.get("/api/v1/program/tiers", &app.staff.cashier).await;
    assert_eq!((status, none), (StatusCode::OK, json!([])));

    let (status, set) = put_tiers(&app, &app.staff.manager, &sephora()).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (_, read) = app.get("/api/v1/program/tiers", &app.staff.cashier).await;
    assert_eq!(read, set);
    assert_eq!(read.as_array().map(Vec::len), Some(3));
    assert_eq!(
        read[1],
        json!({"key": "black", "name": "Black", "window_months": 12, "earn_multiplier_percent": 100, "keep_months": 12,
               "qualify": {"any_of": [{"metric": "points_earned", "at_least": 150}, {"metric": "visits", "at_least": 4}]},
               "entry_reward": {"voucher": {"percent_off": 10}, "validity_days": 60, "min_purchase_cents": 0}})
    );
    assert_eq!(read[0]["entry_reward"], Value::Null);

    let (status, body) = put_tiers(&app, &app.staff.cashier, &json!([])).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let other = app.new_program("other").await;
    let (_, theirs) = app.get("/api/v1/program/tiers", &other.cashier).await;
    assert_eq!(theirs, json!([]), "another programme's tiers are its own");

    let (status, off) = put_tiers(&app, &app.staff.manager, &json!([])).await;
    assert_eq!((status, off), (StatusCode::OK, json!([])), "an empty list turns tiers off");
    app.run_jobs().await;
}

#[tokio::test]
async fn bad_tier_lists_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = spawn_app().await;
    let entry = json!({"key": "lin", "name": "Lin"});
    let spend = |key: &str, cents: i64| json!({"key": key, "name": key, "qualify": {"any_of": [{"metric": "spend_cents", "at_least": cents}]}});
    let with = |mut tier: Value, field: &str, value: Value| {
        tier[field] = value;
        tier
    };
    let cases = [
        (json!([entry, spend("velours", 25000), spend("soie", 20000)]), 422, "tiers[2].qualify"),
        (json!([entry, spend("velours", 25000), spend("soie", 25000)]), 422, "tiers[2].qualify"),
        (json!([entry, spend("lin", 25000)]), 422, "tiers[1].key"),
        (json!([spend("velours", 25000)]), 422, "tiers[0].qualify"),
        (
            json!([entry, with(spend("soie", 60000), "earn_multiplier_percent", json!(50))]),
            422,
            "tiers[1].earn_multiplier_percent",
        ),
        (
            json!([entry, with(spend("soie", 60000), "earn_multiplier_percent", json!(1001))]),
            422,
            "tiers[1].earn_multiplier_percent",
        ),
        (json!([entry, with(spend("soie", 60000), "window_months", json!(0))]), 422, "tiers[1].window_months"),
        (json!([entry, spend("soie", -1)]), 422, "tiers[1].qualify.any_of[0].at_least"),
    ];
    for (body, status, field) in cases {
        let (got, res) = put_tiers(&app, &app.staff.manager, &body).await;
        assert_eq!(
            (got.as_u16(), code(&res), res["error"]["field"].as_str()),
            (status, "invalid_tiers", Some(field)),
            "{res}"
        );
    }
    let unknown = json!([entry, {"key": "x", "name": "X", "qualify": {"any_of": [{"metric": "age", "at_least": 3}]}}]);
    let (status, res) = put_tiers(&app, &app.staff.manager, &unknown).await;
    assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "invalid_request"), "{res}");
    assert!(res["error"]["message"].as_str().unwrap().contains("spend_cents"), "names the metrics: {res}");
    let percent = json!([
        entry,
        with(spend("soie", 60000), "entry_reward", json!({"voucher": {"percent_off": 150}, "validity_days": 30}))
    ]);
    let (status, res) = put_tiers(&app, &app.staff.manager, &percent).await;
    assert_eq!((status, code(&res)), (StatusCode::BAD_REQUEST, "invalid_request"), "{res}");
    let (_, stored) = app.get("/api/v1/program/tiers", &app.staff.manager).await;
    assert_eq!(stored, json!([]), "nothing refused was stored");
}

fn days_ago(days: i64, hour_utc: u32) -> String {
    let day = (chrono::Utc::now() - chrono::Duration::days(days)).date_naive();
    day.and_hms_opt(hour_utc, 30, 0).unwrap().and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn buy_at(app: &TestApp, number: &str, cents: i64, occurred_at: Option<String>, key: &str) -> Value {
    let mut body = json!({"card": number, "amount_cents": cents, "currency": "EUR"});
    if let Some(at) = occurred_at {
        body["occurred_at"] = json!(at);
    }
    let (status, res) = app.post("/api/v1/purchases", &app.staff.cashier, Some(key), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    res
}

#[tokio::test]
async fn mexx_spend_over_a_rolling_year_moves_a_card_up_and_the_higher_tier_earns_double_from_the_next_sale() {
    let app = crate::helpers::spawn_app_with(|c| c.purchase_backdate_max_days = 400).await;
    let spend = |key: &str, cents: i64| json!({"key": key, "name": key, "qualify": {"any_of": [{"metric": "spend_cents", "at_least": cents}]}});
    let mut velours = spend("velours", 25000);
    velours["entry_reward"] = json!({"voucher": {"amount_off_cents": 500}, "validity_days": 30});
    let mut soie = spend("soie", 60000);
    soie["earn_multiplier_percent"] = json!(200);
    soie["name_fr"] = json!("Soie");
    let (status, set) =
        put_tiers(&app, &app.staff.manager, &json!([{"key": "lin", "name": "Lin"}, velours, soie])).await;
    assert_eq!(status, StatusCode::OK, "{set}");

    let card = app.enrol("mexx@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());
    let tier = |v: &Value| v["tier"].clone();
    let (_, read) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(
        (tier(&read)["key"].clone(), tier(&read)["next"].clone(), tier(&read)["progress"].clone()),
        (json!("lin"), json!("velours"), json!([{"metric": "spend_cents", "value": 0, "next_at_least": 25000}]))
    );

    // 13 months ago is outside the 12-month window; a month ago is inside.
    buy_at(&app, number, 20_000, Some(days_ago(395, 12)), "m-1").await;
    let res = buy_at(&app, number, 10_000, Some(days_ago(30, 12)), "m-2").await;
    assert!(res.get("tier").is_none(), "still Lin: {res}");
    let (_, read) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(tier(&read)["progress"][0]["value"], 10_000, "{read}");

    // The card page says what is left, in the visitor's language.
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let mut phone = crate::pages::Phone::new(&app, "fr");
    let page = phone.get(&path).await;
    assert!(page.body.contains("id=\"tier-name\">Lin<"), "{}", page.body);
    assert!(page.body.contains("Encore 150,00\u{a0}€ pour atteindre velours"), "{}", page.body);

    let res = buy_at(&app, number, 15_000, None, "m-3").await;
    assert_eq!(res["tier"], json!({"from": "lin", "to": "velours"}), "{res}");
    assert_eq!(res["points_earned"], 150, "the qualifying sale earns at the old rate");
    let (_, vouchers) = app.get(&format!("/api/v1/cards/{id}/vouchers"), &app.staff.cashier).await;
    let vouchers = vouchers.as_array().unwrap();
    assert_eq!(vouchers.len(), 1, "Velours's entry reward");
    assert_eq!(
        (&vouchers[0]["origin"], &vouchers[0]["value"]),
        (&json!("tier_entry"), &json!({"amount_off_cents": 500}))
    );

    let res = buy_at(&app, number, 35_000, None, "m-4").await;
    assert_eq!((&res["tier"], &res["points_earned"]), (&json!({"from": "velours", "to": "soie"}), &json!(350)));
    let res = buy_at(&app, number, 1_000, None, "m-5").await;
    assert_eq!((res.get("tier"), &res["points_earned"]), (None, &json!(20)), "Soie earns double");
    let (_, read) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(
        (
            tier(&read)["key"].clone(),
            tier(&read)["name"].clone(),
            tier(&read)["earn_multiplier_percent"].clone(),
            tier(&read)["progress"].clone()
        ),
        (json!("soie"), json!("Soie"), json!(200), json!([])),
        "{read}"
    );
    let pass = crate::apple_wallet::staff_pass_json(&app, id).await;
    let secondary = pass["storeCard"]["secondaryFields"].as_array().unwrap();
    let field = secondary.iter().find(|f| f["key"] == "tier").expect("a tier field on the pass");
    assert_eq!((&field["value"], &field["label"]), (&json!("Soie"), &json!("encarte.tier.label")));
    assert_eq!(app.count("tier_history", "reason = 'purchase'").await, 2);
    assert_eq!(app.count("outbox_jobs", "kind = 'email' AND payload LIKE '%tier_changed%'").await, 2);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn sephora_black_on_four_visits_counts_local_days_per_shop() {
    let app = crate::helpers::spawn_app_with(|c| c.purchase_backdate_max_days = 400).await;
    let (status, set) = put_tiers(&app, &app.staff.manager, &sephora()).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let card = app.enrol("sephora@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap(), card["number"].as_str().unwrap());
    // In Paris (UTC+1 in winter, +2 in summer), 21:30 UTC is the same local day, 23:30 UTC the
    // next one; two sales a day at 09:30 and 10:30 UTC are one visit.
    buy_at(&app, number, 500, Some(days_ago(10, 9)), "s-1").await;
    buy_at(&app, number, 500, Some(days_ago(10, 10)), "s-2").await;
    buy_at(&app, number, 500, Some(days_ago(8, 21)), "s-3").await;
    let res = buy_at(&app, number, 500, Some(days_ago(8, 23)), "s-4").await;
    assert!(res.get("tier").is_none(), "three visits: {res}");
    let (_, read) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(
        read["tier"]["progress"],
        json!([{"metric": "points_earned", "value": 20, "next_at_least": 150},
               {"metric": "visits", "value": 3, "next_at_least": 4}]),
        "{read}"
    );
    let res = buy_at(&app, number, 500, None, "s-5").await;
    assert_eq!(res["tier"], json!({"from": "white", "to": "black"}), "{res}");
    let (_, vouchers) = app.get(&format!("/api/v1/cards/{id}/vouchers"), &app.staff.cashier).await;
    assert_eq!(vouchers[0]["value"], json!({"percent_off": 10}), "{vouchers}");

    // Back to White (as the daily check would after keep_months), then Black again within the
    // same window: the entry voucher is not given twice.
    app.exec(&format!("UPDATE card_tiers SET tier_key = 'white' WHERE card_id = '{id}'")).await;
    let res = buy_at(&app, number, 500, None, "s-6").await;
    assert_eq!(res["tier"], json!({"from": "white", "to": "black"}), "{res}");
    let (_, vouchers) = app.get(&format!("/api/v1/cards/{id}/vouchers"), &app.staff.cashier).await;
    assert_eq!(vouchers.as_array().map(Vec::len), Some(1), "one Black voucher per window: {vouchers}");
    assert_eq!(app.count("tier_rewards", &format!("card_id = '{id}'")).await, 1);
    app.run_jobs().await;
}

fn mexx() -> Value {
    let spend = |key: &str, cents: i64| json!({"key": key, "name": key, "qualify": {"any_of": [{"metric": "spend_cents", "at_least": cents}]}});
    json!([{"key": "lin", "name": "Lin"}, spend("velours", 25000), spend("soie", 60000)])
}

#[tokio::test]
async fn a_rule_change_moves_cards_up_at_once_and_never_down_before_keep_months() {
    let app = spawn_app().await;
    let card = app.enrol("rules@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap().to_owned(), card["number"].as_str().unwrap().to_owned());
    buy_at(&app, &number, 30_000, None, "r-1").await;
    app.enrol("nobody@example.fr").await;

    let (status, _) = put_tiers(&app, &app.staff.manager, &mexx()).await;
    assert_eq!(status, StatusCode::OK);
    let (_, running) = app.get("/api/v1/program/tiers/reevaluation", &app.staff.cashier).await;
    assert_eq!((&running["state"], &running["cards_total"]), (&json!("running"), &json!(2)), "{running}");
    app.run_jobs().await;
    let (_, done) = app.get("/api/v1/program/tiers/reevaluation", &app.staff.cashier).await;
    assert_eq!(
        (&done["state"], &done["cards_done"], &done["cards_moved"]),
        (&json!("done"), &json!(2), &json!(1)),
        "{done}"
    );
    let (_, read) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(read["tier"]["key"], "velours", "{read}");

    // Velours now asks 500 €: the card keeps it until its keep_months have passed.
    let mut harder = mexx();
    harder[1]["qualify"]["any_of"][0]["at_least"] = json!(50_000);
    harder[2]["qualify"]["any_of"][0]["at_least"] = json!(90_000);
    let (status, _) = put_tiers(&app, &app.staff.manager, &harder).await;
    assert_eq!(status, StatusCode::OK);
    app.run_jobs().await;
    let (_, done) = app.get("/api/v1/program/tiers/reevaluation", &app.staff.cashier).await;
    assert_eq!(done["cards_moved"], 0, "{done}");
    let (_, read) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(read["tier"]["key"], "velours");
    assert_eq!(app.count("tier_history", "reason = 'rules'").await, 1);
}

async fn check(app: &TestApp) -> usize {
    let program_id = app.staff.program_id.clone();
    app.db
        .write(move |c| encarte::service::tiers::check::check_chunk(c, &program_id, encarte::db::repo::now()))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_daily_check_moves_a_card_down_once_its_window_and_keep_months_have_passed_and_once_a_day() {
    let app = spawn_app().await;
    let (status, _) = put_tiers(&app, &app.staff.manager, &mexx()).await;
    assert_eq!(status, StatusCode::OK);
    let card = app.enrol("down@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap().to_owned(), card["number"].as_str().unwrap().to_owned());
    let res = buy_at(&app, &number, 30_000, None, "d-1").await;
    assert_eq!(res["tier"]["to"], "velours");
    let keeper = app.enrol("keeper@example.fr").await;
    buy_at(&app, keeper["number"].as_str().unwrap(), 30_000, None, "d-2").await;

    assert_eq!(check(&app).await, 0, "within keep_months nobody is even looked at");

    // Thirteen months later: both cards' upgrades are past keep_months; only the first card's
    // sale has left the window.
    app.run_jobs().await;
    app.exec("UPDATE card_tiers SET upgraded_at = '2000-01-01 00:00:00', since = '2000-01-01 00:00:00', checked_at = '2000-01-01 00:00:00'").await;
    app.exec(&format!("UPDATE purchases SET occurred_at = '2000-01-01 00:00:00' WHERE card_id = '{id}'")).await;
    assert_eq!(check(&app).await, 2);
    // The downgrade changed no balance, yet the pass (its tier field) is updated and pushed.
    let changed = |card: &str| format!("kind = 'card_changed' AND state = 'pending' AND payload LIKE '%{card}%'");
    assert_eq!(app.count("outbox_jobs", &changed(&id)).await, 1, "the moved card's pass");
    assert_eq!(app.count("outbox_jobs", &changed(keeper["id"].as_str().unwrap())).await, 0, "the kept card's pass");
    let (_, read) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.cashier).await;
    assert_eq!(read["tier"]["key"], "lin", "{read}");
    let (_, kept) = app.get(&format!("/api/v1/cards/{}", keeper["id"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!(kept["tier"]["key"], "velours", "still qualifies: {kept}");
    assert_eq!(check(&app).await, 0, "each card once a day");
    assert_eq!(app.count("tier_history", "reason = 'daily'").await, 1);
    assert_eq!(app.count("outbox_jobs", "kind = 'email' AND payload LIKE '%tier_changed%'").await, 3);
    app.run_jobs().await;
}

#[tokio::test]
async fn ten_tills_crossing_the_threshold_at_once_move_the_card_up_once_with_one_voucher() {
    let app = spawn_app().await;
    let mut tiers = mexx();
    tiers[1]["entry_reward"] = json!({"voucher": {"amount_off_cents": 500}, "validity_days": 30});
    let (status, _) = put_tiers(&app, &app.staff.manager, &tiers).await;
    assert_eq!(status, StatusCode::OK);
    let card = app.enrol("race@example.fr").await;
    let (id, number) = (card["id"].as_str().unwrap().to_owned(), card["number"].as_str().unwrap().to_owned());
    buy_at(&app, &number, 24_000, None, "race-0").await;
    let tills = (0..10).map(|i| {
        let (app, number) = (&app, number.clone());
        async move {
            let body = json!({"card": number, "amount_cents": 2_000, "currency": "EUR"});
            app.post("/api/v1/purchases", &app.staff.cashier, Some(&format!("race-{}", i + 1)), &body).await
        }
    });
    let results = futures::future::join_all(tills).await;
    assert!(results.iter().all(|(s, _)| *s == StatusCode::CREATED), "{results:?}");
    let moved = results.iter().filter(|(_, b)| b.get("tier").is_some()).count();
    assert_eq!(moved, 1, "{results:?}");
    assert_eq!(app.count("tier_history", &format!("card_id = '{id}'")).await, 1);
    assert_eq!(app.count("vouchers", &format!("card_id = '{id}' AND origin = 'tier_entry'")).await, 1);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}
