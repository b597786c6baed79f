//! Promo codes: effects, limits that hold under concurrency, pools, dry runs, guessing limits.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app, spawn_app_with};

async fn campaign(app: &TestApp, body: Value) -> Value {
    let (status, res) = app.post("/api/v1/promo-campaigns", &app.staff.manager, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    res
}

async fn buy(app: &TestApp, card: &Value, cents: i64, promo: &str, key: &str) -> (StatusCode, Value) {
    let body = json!({"card": card["barcode"], "amount_cents": cents, "currency": "EUR", "promo_code": promo});
    app.post("/api/v1/purchases", &app.staff.cashier, Some(key), &body).await
}

#[tokio::test]
async fn effects_apply_to_the_purchase() {
    let app = spawn_app().await;
    let card = app.enrol("promo@example.fr").await;
    campaign(&app, json!({"name": "Welcome", "code": "welcome-50", "effect": {"bonus_points": 50}})).await;
    campaign(&app, json!({"name": "Double", "code": "DOUBLE", "effect": {"points_multiplier": 2}})).await;
    campaign(
        &app,
        json!({"name": "Ten off", "code": "TENOFF", "effect": {"percent_off": 10}, "min_purchase_cents": 2000}),
    )
    .await;
    campaign(&app, json!({"name": "Five euros", "code": "FIVE", "effect": {"amount_off_cents": 500}})).await;

    let (status, res) = buy(&app, &card, 1250, " Welcome 50 ", "p1").await;
    assert_eq!(status, StatusCode::CREATED, "{res}");
    assert_eq!(
        (res["points_earned"].as_i64(), res["bonus_points"].as_i64(), res["discount_cents"].as_i64()),
        (Some(12), Some(50), Some(0))
    );
    assert_eq!(res["promo"]["code"], "WELCOME50");
    assert_eq!(res["balance"], 62);
    let (_, res) = buy(&app, &card, 1250, "double", "p2").await;
    assert_eq!((res["points_earned"].as_i64(), res["bonus_points"].as_i64()), (Some(12), Some(12)));
    let (_, res) = buy(&app, &card, 3000, "TENOFF", "p3").await;
    assert_eq!(
        (res["discount_cents"].as_i64(), res["points_earned"].as_i64()),
        (Some(300), Some(27)),
        "points on what is paid"
    );
    let (status, res) = buy(&app, &card, 1999, "TENOFF", "p4").await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "promo_code_below_minimum"));
    let (_, res) = buy(&app, &card, 300, "FIVE", "p5").await;
    assert_eq!(
        (res["discount_cents"].as_i64(), res["points_earned"].as_i64()),
        (Some(300), Some(0)),
        "never more than the bill"
    );
    let (_, ledger) =
        app.get(&format!("/api/v1/cards/{}/ledger", card["id"].as_str().unwrap()), &app.staff.cashier).await;
    let kinds: Vec<&str> = ledger["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["earn", "promo", "earn", "promo", "earn"]);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn fifty_concurrent_redemptions_of_a_code_with_five_uses_left_make_exactly_five() {
    // One token sending 50 at once would briefly count against the guessing limit (attempts are
    // counted before they are decided): this test is about the campaign's limit.
    let app = spawn_app_with(|c| c.promo_guess_limit_staff = 1000).await;
    let c = campaign(
        &app,
        json!({"name": "Five only", "code": "FIVEONLY", "effect": {"bonus_points": 10}, "max_redemptions": 5}),
    )
    .await;
    let mut cards = Vec::new();
    for i in 0..10 {
        cards.push(app.enrol(&format!("rush{i}@example.fr")).await);
    }
    let keys: Vec<String> = (0..50).map(|i| format!("rush-{i}")).collect();
    let calls = keys.iter().enumerate().map(|(i, key)| buy(&app, &cards[i % 10], 1000, "FIVEONLY", key));
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(ok, 5, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!((*status, code(body)), (StatusCode::UNPROCESSABLE_ENTITY, "promo_code_exhausted"), "{body}");
    }
    let (_, read) =
        app.get(&format!("/api/v1/promo-campaigns/{}", c["id"].as_str().unwrap()), &app.staff.manager).await;
    assert_eq!(read["redemptions"], 5);
    assert_eq!(app.count("promo_redemptions", "1=1").await, 5);
    assert_eq!(app.count("purchases", "1=1").await, 5, "a refused code refuses the whole purchase");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn the_per_customer_cap_holds_under_concurrency() {
    let app = spawn_app_with(|c| c.promo_guess_limit_staff = 1000).await;
    campaign(
        &app,
        json!({"name": "Twice each", "code": "TWICE", "effect": {"bonus_points": 5}, "max_per_customer": 2}),
    )
    .await;
    let card = app.enrol("twice@example.fr").await;
    let keys: Vec<String> = (0..20).map(|i| format!("twice-{i}")).collect();
    let body = json!({"code": "TWICE", "card": card["number"]});
    let calls = keys.iter().map(|key| app.post("/api/v1/promo-codes/redeem", &app.staff.cashier, Some(key), &body));
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert_eq!(ok, 2, "{answers:?}");
    assert!(
        answers.iter().filter(|(s, _)| *s != StatusCode::CREATED).all(|(_, b)| code(b) == "promo_code_customer_limit")
    );
    assert_eq!(app.balance(card["id"].as_str().unwrap()).await, 10);
    let other = app.enrol("other@example.fr").await;
    let (status, _) = app
        .post(
            "/api/v1/promo-codes/redeem",
            &app.staff.cashier,
            Some("o1"),
            &json!({"code": "TWICE", "card": other["number"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "the cap is per customer");
    app.run_jobs().await;
}

#[tokio::test]
async fn the_dry_run_says_why_and_writes_nothing() {
    let app = spawn_app().await;
    let card = app.enrol("dry@example.fr").await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    campaign(&app, json!({"name": "Soon", "code": "SOON", "effect": {"bonus_points": 5}, "starts_at": tomorrow})).await;
    campaign(&app, json!({"name": "Gone", "code": "GONE", "effect": {"bonus_points": 5}, "ends_at": yesterday})).await;
    let today =
        chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).format("%u").to_string().parse::<u32>().unwrap();
    let not_today = today % 7 + 1;
    campaign(
        &app,
        json!({"name": "Other day", "code": "OTHERDAY", "effect": {"bonus_points": 5}, "days_of_week": [not_today]}),
    )
    .await;
    campaign(
        &app,
        json!({"name": "Ten off", "code": "TENOFF", "effect": {"percent_off": 10}, "min_purchase_cents": 1000}),
    )
    .await;
    let check = |code: &str, amount: Option<i64>| {
        let mut body = json!({"code": code, "card": card["barcode"]});
        if let Some(a) = amount {
            body["amount_cents"] = json!(a);
        }
        body
    };
    for (code_, amount, reason) in [
        ("NOPE1234", None, "invalid"),
        ("SOON", None, "not_started"),
        ("GONE", None, "expired"),
        ("OTHERDAY", None, "outside_hours"),
        ("TENOFF", Some(999), "below_minimum"),
    ] {
        let (status, res) =
            app.post("/api/v1/promo-codes/validate", &app.staff.cashier, None, &check(code_, amount)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!((res["valid"].as_bool(), res["reason"].as_str()), (Some(false), Some(reason)), "{code_}: {res}");
    }
    let (_, res) =
        app.post("/api/v1/promo-codes/validate", &app.staff.cashier, None, &check("tenoff", Some(2500))).await;
    assert_eq!(res["valid"], true, "{res}");
    assert_eq!((res["discount_cents"].as_i64(), res["effect"]["percent_off"].as_i64()), (Some(250), Some(10)));
    assert_eq!(app.count("promo_redemptions", "1=1").await, 0);
    assert_eq!(app.count("ledger_entries", "1=1").await, 0);
    app.run_jobs().await;
}

#[tokio::test]
async fn pools_are_generated_unique_checked_single_use_and_exported() {
    let app = spawn_app().await;
    let c = campaign(
        &app,
        json!({"name": "Flyers", "pool": {"count": 12000, "prefix": "NOEL"}, "effect": {"bonus_points": 20}}),
    )
    .await;
    assert_eq!(
        (c["pool"]["size"].as_i64(), c["pool"]["generated"].as_i64()),
        (Some(12000), Some(0)),
        "large pools go to a job"
    );
    assert!(app.run_jobs().await >= 1);
    let id = c["id"].as_str().unwrap();
    let (_, read) = app.get(&format!("/api/v1/promo-campaigns/{id}"), &app.staff.manager).await;
    assert_eq!(read["pool"]["generated"], 12000);
    let csv = app
        .client
        .get(app.url(&format!("/api/v1/promo-campaigns/{id}/codes.csv")))
        .bearer_auth(&app.staff.manager)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 12000);
    let pattern = encarte::domain::codes::CodePattern::new(Some("NOEL"), None, None).unwrap();
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        let code = row.split(',').next().unwrap();
        assert!(seen.insert(code.to_owned()), "duplicate {code}");
        assert!(
            pattern.verify(&encarte::domain::codes::PromoCode::parse(code).unwrap()),
            "{code} fails its check symbol"
        );
    }
    let card = app.enrol("pool@example.fr").await;
    let display = rows[0].split(',').nth(1).unwrap().to_lowercase();
    let (status, res) = buy(&app, &card, 1000, &display, "pool-1").await;
    assert_eq!(status, StatusCode::CREATED, "typed as printed, in lower case: {res}");
    let (status, spent) = buy(&app, &card, 1000, &display, "pool-2").await;
    assert_eq!((status, code(&spent)), (StatusCode::UNPROCESSABLE_ENTITY, "promo_code_invalid"), "single use");
    let (_, unknown) = buy(&app, &card, 1000, "NOEL23456789", "pool-3").await;
    assert_eq!(spent, unknown, "a spent code and a code that never existed read the same");

    let small = campaign(
        &app,
        json!({"name": "Small", "pool": {"count": 300, "pattern": "####-####"}, "effect": {"bonus_points": 1}}),
    )
    .await;
    assert_eq!(small["pool"]["generated"], 300, "small pools are ready at once");
    let (status, res) = app
        .post(
            "/api/v1/promo-campaigns",
            &app.staff.manager,
            None,
            &json!({"name": "Too many", "pool": {"count": 1000, "pattern": "####"}, "effect": {"bonus_points": 1}}),
        )
        .await;
    assert_eq!((status, res["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("pool")), "{res}");
    assert!(res["error"]["message"].as_str().unwrap().contains("923,521"), "{res}");
    app.run_jobs().await;
}

#[tokio::test]
async fn campaigns_are_managed_by_managers_and_end_for_good() {
    let app = spawn_app().await;
    let (status, res) = app
        .post(
            "/api/v1/promo-campaigns",
            &app.staff.cashier,
            None,
            &json!({"name": "x", "code": "XX1", "effect": {"bonus_points": 1}}),
        )
        .await;
    assert_eq!((status, code(&res)), (StatusCode::FORBIDDEN, "forbidden"));
    for (body, field) in [
        (json!({"name": "x", "effect": {"bonus_points": 1}}), "code"),
        (json!({"name": "x", "code": "AB1", "pool": {"count": 5}, "effect": {"bonus_points": 1}}), "code"),
        (json!({"name": "x", "code": "AB1", "effect": {"percent_off": 101}}), "effect.percent_off"),
        (json!({"name": "x", "code": "AB1", "effect": {"points_multiplier": 1}}), "effect.points_multiplier"),
        (json!({"name": "x", "code": "A!", "effect": {"bonus_points": 1}}), "code"),
        (json!({"name": "x", "code": "AB1", "effect": {"bonus_points": 1}, "hours": {"from": 12, "to": 9}}), "hours"),
        (json!({"name": "x", "code": "AB1", "effect": {"bonus_points": 1}, "days_of_week": [0]}), "days_of_week"),
        (
            json!({"name": "x", "code": "AB1", "effect": {"bonus_points": 1}, "starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}),
            "ends_at",
        ),
    ] {
        let (status, res) = app.post("/api/v1/promo-campaigns", &app.staff.manager, None, &body).await;
        assert_eq!((status, res["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body} -> {res}");
    }
    let c = campaign(&app, json!({"name": "Summer", "code": "SUMMER26", "effect": {"bonus_points": 5}})).await;
    let (status, res) = app
        .post(
            "/api/v1/promo-campaigns",
            &app.staff.owner,
            None,
            &json!({"name": "Dup", "code": "summer-26", "effect": {"bonus_points": 5}}),
        )
        .await;
    assert_eq!((status, code(&res)), (StatusCode::CONFLICT, "promo_code_exists"));
    let id = c["id"].as_str().unwrap();
    let card = app.enrol("c@example.fr").await;
    let (_, res) = app.post(&format!("/api/v1/promo-campaigns/{id}/pause"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(res["status"], "paused");
    assert_eq!(code(&buy(&app, &card, 1000, "SUMMER26", "s1").await.1), "promo_code_invalid");
    app.post(&format!("/api/v1/promo-campaigns/{id}/resume"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(buy(&app, &card, 1000, "SUMMER26", "s2").await.0, StatusCode::CREATED);
    app.post(&format!("/api/v1/promo-campaigns/{id}/end"), &app.staff.manager, None, &json!({})).await;
    let (status, res) =
        app.post(&format!("/api/v1/promo-campaigns/{id}/resume"), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, code(&res)), (StatusCode::UNPROCESSABLE_ENTITY, "campaign_ended"));
    let (_, list) = app.get("/api/v1/promo-campaigns", &app.staff.cashier).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["code"], "SUMMER26");
    let other = app.new_program("other").await;
    let (status, _) = app.get(&format!("/api/v1/promo-campaigns/{id}"), &other.manager).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, res) = app.post("/api/v1/promo-codes/validate", &other.cashier, None, &json!({"code": "SUMMER26"})).await;
    assert_eq!(res["reason"], "invalid", "another programme's code does not exist here");
    app.run_jobs().await;
}

#[tokio::test]
async fn a_full_return_gives_the_use_back_and_bonus_points_go_back_in_proportion() {
    let app = spawn_app().await;
    let c =
        campaign(&app, json!({"name": "Once", "code": "ONCE", "effect": {"bonus_points": 40}, "max_redemptions": 1}))
            .await;
    let card = app.enrol("ret@example.fr").await;
    let (_, bought) = buy(&app, &card, 2000, "ONCE", "b1").await;
    assert_eq!(bought["balance"], 60);
    let path = format!("/api/v1/purchases/{}/returns", bought["purchase"]["id"].as_str().unwrap());
    let (_, half) = app.post(&path, &app.staff.cashier, Some("r1"), &json!({"amount_cents": 1000})).await;
    assert_eq!((half["points_reversed"].as_i64(), half["balance"].as_i64()), (Some(30), Some(30)));
    let other = app.enrol("other@example.fr").await;
    assert_eq!(
        code(&buy(&app, &other, 1000, "ONCE", "b2").await.1),
        "promo_code_exhausted",
        "a partial return keeps the use"
    );
    app.post(&path, &app.staff.cashier, Some("r2"), &json!({"amount_cents": 1000})).await;
    assert_eq!(app.balance(card["id"].as_str().unwrap()).await, 0);
    let (_, read) =
        app.get(&format!("/api/v1/promo-campaigns/{}", c["id"].as_str().unwrap()), &app.staff.manager).await;
    assert_eq!(read["redemptions"], 0, "the full return gave the use back");
    assert_eq!(buy(&app, &other, 1000, "ONCE", "b3").await.0, StatusCode::CREATED);
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

#[tokio::test]
async fn guessing_codes_is_slowed_down() {
    let app = spawn_app_with(|c| {
        c.promo_guess_limit_staff = 3;
        c.promo_guess_window_seconds = 3600;
    })
    .await;
    campaign(&app, json!({"name": "Real", "code": "REAL", "effect": {"bonus_points": 1}})).await;
    for i in 0..3 {
        let (status, res) = app
            .post("/api/v1/promo-codes/validate", &app.staff.cashier, None, &json!({"code": format!("GUESS{i}")}))
            .await;
        assert_eq!((status, res["valid"].as_bool()), (StatusCode::OK, Some(false)));
    }
    let res = app
        .client
        .post(app.url("/api/v1/promo-codes/validate"))
        .bearer_auth(&app.staff.cashier)
        .json(&json!({"code": "REAL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(code(&res.json().await.unwrap()), "too_many_attempts");
    let (status, res) = app
        .send(
            Method::POST,
            "/api/v1/promo-codes/validate",
            Some(&app.staff.manager),
            None,
            Some(&json!({"code": "REAL"})),
        )
        .await;
    assert_eq!((status, res["valid"].as_bool()), (StatusCode::OK, Some(true)), "the limit is per staff member");
}

#[tokio::test]
async fn a_burst_of_concurrent_guesses_is_held_to_the_limit_and_retries_still_replay() {
    let app = spawn_app_with(|c| {
        c.promo_guess_limit_staff = 3;
        c.promo_guess_window_seconds = 3600;
    })
    .await;
    let bodies: Vec<Value> = (0..30).map(|i| json!({"code": format!("BURST{i}")})).collect();
    let calls = bodies.iter().map(|b| app.post("/api/v1/promo-codes/validate", &app.staff.cashier, None, b));
    let answers = futures::future::join_all(calls).await;
    let evaluated = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(evaluated, 3, "counted before deciding, so concurrency can't slip past: {answers:?}");
    assert!(answers.iter().filter(|(s, _)| *s != StatusCode::OK).all(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS));

    // Over the limit, a retry of a purchase that went through still gets its first answer.
    let manager_app = &app;
    campaign(manager_app, json!({"name": "Real", "code": "REAL", "effect": {"bonus_points": 1}})).await;
    let card = app.enrol("retry@example.fr").await;
    let body = json!({"card": card["barcode"], "amount_cents": 1000, "currency": "EUR", "promo_code": "REAL"});
    let (status, _) = app.post("/api/v1/purchases", &app.staff.manager, Some("till-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED);
    for i in 0..3 {
        app.post("/api/v1/promo-codes/validate", &app.staff.manager, None, &json!({"code": format!("MISS{i}")})).await;
    }
    let (status, _) =
        app.post("/api/v1/promo-codes/validate", &app.staff.manager, None, &json!({"code": "REAL"})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the manager is over the limit now");
    let (status, replay) = app.post("/api/v1/purchases", &app.staff.manager, Some("till-1"), &body).await;
    assert_eq!((status, replay["bonus_points"].as_i64()), (StatusCode::CREATED, Some(1)), "{replay}");
    app.run_jobs().await;
}

#[tokio::test]
async fn retrying_one_spent_code_does_not_lock_the_till_but_guessing_many_does() {
    let app = spawn_app_with(|c| {
        c.promo_guess_limit_staff = 20;
        c.promo_guess_window_seconds = 3600;
    })
    .await;
    let pool = campaign(
        &app,
        json!({"name": "Flyer", "pool": {"count": 300, "pattern": "####-####"}, "effect": {"bonus_points": 1}}),
    )
    .await;
    let paused = campaign(&app, json!({"name": "Later", "code": "LATER", "effect": {"bonus_points": 1}})).await;
    campaign(&app, json!({"name": "Real", "code": "REAL", "effect": {"bonus_points": 1}})).await;
    let path = |id: &Value, what: &str| format!("/api/v1/promo-campaigns/{}/{what}", id["id"].as_str().unwrap());
    app.post(&path(&paused, "pause"), &app.staff.manager, None, &json!({})).await;
    let csv = app.client.get(app.url(&path(&pool, "codes.csv"))).bearer_auth(&app.staff.manager).send().await.unwrap();
    let csv = csv.text().await.unwrap();
    let spent = csv.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    let card = app.enrol("till@example.fr").await;
    assert_eq!(buy(&app, &card, 1000, &spent, "first").await.0, StatusCode::CREATED);

    let (_, unknown) = buy(&app, &card, 1000, "NEVER-ISSUED", "unknown").await;
    for i in 0..30 {
        for code in [spent.as_str(), "LATER"] {
            let answer = buy(&app, &card, 1000, code, &format!("retry-{code}-{i}")).await;
            assert_eq!(answer, (StatusCode::UNPROCESSABLE_ENTITY, unknown.clone()), "refusals read alike");
        }
    }
    let (status, res) = buy(&app, &card, 1000, "REAL", "real-1").await;
    assert_eq!(status, StatusCode::CREATED, "the till is not locked: {res}");

    let mut locked = None;
    for i in 0..30 {
        let body = json!({"code": format!("GUESS{i:02}{}", &crate::helpers::uuid_simple()[20..])});
        let res = app
            .client
            .post(app.url("/api/v1/promo-codes/validate"))
            .bearer_auth(&app.staff.cashier)
            .json(&body)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            locked = Some((i, res.headers()["retry-after"].to_str().unwrap().parse::<i64>().unwrap()));
            break;
        }
    }
    let (at, wait) = locked.expect("30 distinct guesses are held");
    // Three distinct unknown codes were counted before: the spent one, LATER and NEVER-ISSUED.
    assert_eq!(at, 17, "the 21st distinct guess of the window is refused");
    assert!((1..=3600).contains(&wait), "{wait}");
    let (status, _) = buy(&app, &card, 1000, "REAL", "real-2").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "now even a valid code waits");
    app.run_jobs().await;
}
