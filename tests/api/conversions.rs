//! Points that become vouchers on their own: at a threshold, and in season batches.

use reqwest::StatusCode;
use serde_json::{Value, json};

use encarte::db::repo;
use encarte::domain::ledger::EntryKind;
use encarte::service::conversions::season::{self, Step};
use encarte::service::customers::{self, Enrolment};
use encarte::service::points::{Guard, Posting, post};

use crate::helpers::{TestApp, code, spawn_app};

async fn vouchers_of(app: &TestApp, card: &str) -> Vec<Value> {
    let (status, list) = app.get(&format!("/api/v1/cards/{card}/vouchers"), &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().expect("a list").clone()
}

async fn put_setting(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let manager = Some(app.staff.manager.as_str());
    app.send(reqwest::Method::PUT, "/api/v1/program/conversion", manager, None, Some(body)).await
}

const BLOCKS: &str =
    r#"{"threshold_points": 500, "block_points": 500, "value_cents_per_block": 500, "validity_days": 90}"#;

fn blocks_with(extra: Value) -> Value {
    let mut body: Value = serde_json::from_str(BLOCKS).expect("blocks");
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn threshold_conversion_at_499_500_and_1234_points_and_a_return_below_a_converted_block() {
    let app = spawn_app().await;
    let (status, setting) = put_setting(&app, &blocks_with(json!({"mode": "threshold"}))).await;
    assert_eq!(status, StatusCode::OK, "{setting}");

    let below = app.enrol("below@example.fr").await;
    let below = below["id"].as_str().unwrap();
    let res = app.adjust(below, 499).await;
    assert_eq!(res["balance"], 499, "{res}");
    assert!(vouchers_of(&app, below).await.is_empty(), "499 points stay points");

    let at = app.enrol("at@example.fr").await;
    let at = at["id"].as_str().unwrap();
    app.adjust(at, 500).await;
    assert_eq!(app.balance(at).await, 0);
    let vouchers = vouchers_of(&app, at).await;
    assert_eq!(vouchers.len(), 1);
    assert_eq!(
        (&vouchers[0]["value"], &vouchers[0]["origin"], &vouchers[0]["state"]),
        (&json!({"amount_off_cents": 500}), &json!("conversion"), &json!("active"))
    );

    let over = app.enrol("over@example.fr").await;
    let over = over["id"].as_str().unwrap();
    app.adjust(over, 1234).await;
    assert_eq!(app.balance(over).await, 234, "1,234 points: two blocks converted, 234 kept");
    assert_eq!(vouchers_of(&app, over).await.len(), 2);
    let (_, ledger) = app.get(&format!("/api/v1/cards/{over}/ledger"), &app.staff.cashier).await;
    let conversion: Vec<_> =
        ledger["entries"].as_array().unwrap().iter().filter(|e| e["kind"] == "conversion").collect();
    assert_eq!(conversion.len(), 1, "one ledger entry for both blocks: {ledger}");
    assert_eq!(conversion[0]["points"], -1000);

    // A purchase of 600 € earns 600 points: one block converts, 100 stay. Returning it all takes
    // back 600 points the balance no longer has: the voucher stays, the card owes the rest.
    let buyer = app.enrol("buyer@example.fr").await;
    let (status, bought) =
        app.purchase(&app.staff.cashier, buyer["number"].as_str().unwrap(), 60_000, "conv-buy").await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");
    assert_eq!(bought["balance"], 100, "{bought}");
    assert_eq!(bought["conversion"]["vouchers"].as_array().map(Vec::len), Some(1), "{bought}");
    let buyer_id = buyer["id"].as_str().unwrap();
    let path = format!("/api/v1/purchases/{}/returns", bought["purchase"]["id"].as_str().unwrap());
    let (status, returned) =
        app.post(&path, &app.staff.cashier, Some("conv-ret"), &json!({"amount_cents": 60_000})).await;
    assert_eq!(status, StatusCode::CREATED, "{returned}");
    assert_eq!(
        (returned["points_reversed"].as_i64(), returned["points_owed"].as_i64(), returned["balance"].as_i64()),
        (Some(600), Some(500), Some(-500)),
        "{returned}"
    );
    let vouchers = vouchers_of(&app, buyer_id).await;
    assert_eq!((vouchers.len(), &vouchers[0]["state"]), (1, &json!("active")), "the converted voucher stays");
    app.assert_ledger_consistent().await;
    app.run_jobs().await;
}

/// `n` active cards with balances from `balance(i)`, written straight through the service layer
/// (1,000 enrolments over HTTP would be most of the test's time). Returns the card ids in order.
async fn seed_cards(app: &TestApp, n: usize, balance: fn(usize) -> i64) -> Vec<String> {
    let program_id = app.staff.program_id.clone();
    app.db
        .write(move |c| {
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                let enrolment: Enrolment =
                    serde_json::from_value(json!({"email": format!("season{i}@example.fr"), "first_name": "Zoé"}))
                        .expect("enrolment");
                let card = customers::enrol_in(c, &program_id, enrolment, "test")?.card.id;
                let delta = balance(i);
                if delta != 0 {
                    let posting = Posting {
                        program_id: &program_id,
                        card_id: &card,
                        delta,
                        kind: EntryKind::Adjust,
                        purchase_id: None,
                        staff_id: None,
                        reason: Some("seed"),
                        earned_at: None,
                    };
                    post(c, &posting, Guard { only_active: true, no_overdraft: false })?;
                }
                ids.push(card);
            }
            Ok(ids)
        })
        .await
        .expect("cards seeded")
}

/// 0 to 1,699 points: cards below the threshold, at it, and with one to three blocks.
fn season_balance(i: usize) -> i64 {
    i64::try_from(i * 7 % 1700).unwrap()
}

fn report(c: &Value) -> Value {
    json!({
        "cards_total": c["cards_total"], "cards_done": c["cards_done"], "cards_converted": c["cards_converted"],
        "vouchers_issued": c["vouchers_issued"], "points_converted": c["points_converted"],
        "value_cents": c["value_cents"],
    })
}

async fn conversion(app: &TestApp, id: &str) -> Value {
    let (status, c) = app.get(&format!("/api/v1/conversions/{id}"), &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

async fn schedule(app: &TestApp, body: &Value) -> Value {
    let (status, c) = app.post("/api/v1/conversions", &app.staff.manager, None, body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

async fn run_chunk(app: &TestApp, id: &str) -> Step {
    let (program_id, id) = (app.staff.program_id.clone(), id.to_owned());
    app.db.write(move |c| season::chunk(c, &program_id, &id)).await.expect("a chunk")
}

#[tokio::test]
async fn a_season_conversion_killed_half_way_resumes_and_converts_every_card_exactly_once() {
    let app = spawn_app().await;
    let cards = seed_cards(&app, 1000, season_balance).await;
    let (mut converted, mut vouchers, mut points) = (0, 0, 0);
    for i in 0..cards.len() {
        let n = season_balance(i) / 500;
        if n > 0 {
            converted += 1;
            vouchers += n;
            points += n * 500;
        }
    }
    app.run_jobs().await;

    // The dry run first: its report is the real run's, and it writes nothing else.
    let dry = schedule(&app, &blocks_with(json!({"dry_run": true}))).await;
    assert_eq!((&dry["state"], &dry["dry_run"]), (&json!("scheduled"), &json!(true)));
    app.run_jobs().await;
    let dry = conversion(&app, dry["id"].as_str().unwrap()).await;
    let expected = json!({
        "cards_total": 1000, "cards_done": 1000, "cards_converted": converted, "vouchers_issued": vouchers,
        "points_converted": points, "value_cents": vouchers * 500,
    });
    assert_eq!((&dry["state"], report(&dry)), (&json!("done"), expected.clone()));
    assert_eq!(app.count("vouchers", "1 = 1").await, 0, "a dry run issues nothing");
    assert_eq!(app.count("ledger_entries", "kind = 'conversion'").await, 0);

    // The real run: a node claims its job, gets through one chunk, and dies.
    let run = schedule(&app, &blocks_with(json!({}))).await;
    let id = run["id"].as_str().unwrap().to_owned();
    let claimed = app
        .db
        .write(|c| Ok(repo::outbox::claim(c, &["conversion_run"], "node-that-dies", chrono::Duration::seconds(30), 1)?))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(run_chunk(&app, &id).await, Step::More);
    let half = conversion(&app, &id).await;
    assert_eq!(
        (&half["state"], &half["cards_total"], &half["cards_done"]),
        (&json!("running"), &json!(1000), &json!(season::CHUNK))
    );

    // A retry that lost its place can't convert a card twice, even one that has gained a
    // block since: the chunk rolls back whole.
    let (program_id, run_id) = (app.staff.program_id.clone(), id.clone());
    let cursor = app.db.read(move |c| Ok(repo::conversions::find(c, &program_id, &run_id)?)).await.unwrap();
    let cursor = cursor.and_then(|c| c.cursor).expect("a cursor after a chunk");
    let mut regained = None;
    for (i, card) in cards.iter().enumerate().filter(|(i, _)| season_balance(*i) >= 500) {
        if !vouchers_of(&app, card).await.is_empty() {
            regained = Some(i);
            break;
        }
    }
    let regained = regained.expect("a card converted by the first chunk");
    app.adjust(&cards[regained], 600).await;
    let entries = app.count("ledger_entries", "kind = 'conversion'").await;
    app.exec(&format!("UPDATE conversions SET cursor = NULL WHERE id = '{id}'")).await;
    let (program_id, again) = (app.staff.program_id.clone(), id.clone());
    let twice = app.db.write(move |c| season::chunk(c, &program_id, &again)).await;
    assert!(twice.is_err(), "converting the first chunk again must fail");
    assert_eq!(app.count("ledger_entries", "kind = 'conversion'").await, entries, "the failed retry wrote nothing");
    assert_eq!(conversion(&app, &id).await["cards_done"], season::CHUNK);
    app.exec(&format!("UPDATE conversions SET cursor = '{cursor}' WHERE id = '{id}'")).await;

    // The dead node's lease runs out; a live worker takes the job over and finishes.
    app.exec("UPDATE outbox_jobs SET lease_until = created_at WHERE kind = 'conversion_run' AND state = 'running'")
        .await;
    app.run_jobs().await;
    let done = conversion(&app, &id).await;
    assert_eq!((&done["state"], report(&done)), (&json!("done"), expected), "{done}");
    assert!(done["finished_at"].is_string());

    // Every card converted once, and the report is what the tables hold.
    assert_eq!(app.count("ledger_entries", "kind = 'conversion'").await, converted);
    assert_eq!(app.count("conversion_cards", &format!("conversion_id = '{id}'")).await, converted);
    assert_eq!(app.count("vouchers", &format!("conversion_id = '{id}' AND value = 500")).await, vouchers);
    let twice = "id IN (SELECT card_id FROM ledger_entries WHERE kind = 'conversion' \
                 GROUP BY card_id HAVING COUNT(*) > 1)";
    assert_eq!(app.count("cards", twice).await, 0);
    for (i, card) in cards.iter().enumerate().step_by(97).chain([(regained, &cards[regained])]) {
        let regain = if i == regained { 600 } else { 0 };
        assert_eq!(app.balance(card).await, season_balance(i) % 500 + regain, "card {i}");
    }
    let points_sum = app.count("ledger_entries", "kind = 'conversion' AND delta = -500").await * 500
        + app.count("ledger_entries", "kind = 'conversion' AND delta = -1000").await * 1000
        + app.count("ledger_entries", "kind = 'conversion' AND delta = -1500").await * 1500;
    assert_eq!(points_sum, points);
    let mails = app.count("outbox_jobs", "kind = 'email' AND payload LIKE '%voucher_issued%'").await;
    assert_eq!(mails, converted, "one e-mail per converted customer");
    app.assert_ledger_consistent().await;

    // Once finished, it can't be cancelled, and a stray chunk does nothing.
    let (status, body) =
        app.post(&format!("/api/v1/conversions/{id}/cancel"), &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "conversion_finished"));
    assert_eq!(run_chunk(&app, &id).await, Step::Stopped);
}

#[tokio::test]
async fn a_cancelled_conversion_stops_where_it_is_and_a_scheduled_one_never_starts() {
    let app = spawn_app().await;
    seed_cards(&app, 600, |_| 700).await;
    app.run_jobs().await;

    let running = schedule(&app, &blocks_with(json!({}))).await;
    let id = running["id"].as_str().unwrap();
    assert_eq!(run_chunk(&app, id).await, Step::More);
    let path = format!("/api/v1/conversions/{id}/cancel");
    let (status, body) = app.post(&path, &app.staff.cashier, None, &json!({})).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, cancelled) = app.post(&path, &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, &cancelled["state"]), (StatusCode::OK, &json!("cancelled")), "{cancelled}");
    let (status, again) = app.post(&path, &app.staff.manager, None, &json!({})).await;
    assert_eq!((status, &again["state"]), (StatusCode::OK, &json!("cancelled")), "a retried cancel answers the same");
    app.run_jobs().await;
    let stopped = conversion(&app, id).await;
    assert_eq!(
        (&stopped["state"], &stopped["cards_done"], &stopped["cards_converted"]),
        (&json!("cancelled"), &json!(500), &json!(500)),
        "what was done stays done, nothing more"
    );
    assert_eq!(app.count("vouchers", "1 = 1").await, 500);

    let later = schedule(&app, &blocks_with(json!({"run_at": "2099-09-01T06:00:00Z"}))).await;
    assert_eq!((&later["state"], &later["run_at"]), (&json!("scheduled"), &json!("2099-09-01T06:00:00.000Z")));
    let later_id = later["id"].as_str().unwrap();
    let (status, _) =
        app.post(&format!("/api/v1/conversions/{later_id}/cancel"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run_chunk(&app, later_id).await, Step::Stopped);
    assert_eq!(conversion(&app, later_id).await["cards_done"], 0);

    let (status, list) = app.get("/api/v1/conversions", &app.staff.cashier).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<_> = list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, [later_id, id], "newest first");
}

#[tokio::test]
async fn scheduling_refuses_bad_blocks_and_other_programmes_conversions_are_not_found() {
    let app = spawn_app().await;
    let manager = &app.staff.manager;
    let cases = [
        (json!({"threshold_points": 500}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_conversion"),
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_conversion"),
        (blocks_with(json!({"threshold_points": 400})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_conversion"),
        (blocks_with(json!({"validity_days": 0})), StatusCode::BAD_REQUEST, "invalid_request"),
        (blocks_with(json!({"block_points": -5})), StatusCode::BAD_REQUEST, "invalid_request"),
        (blocks_with(json!({"value_cents_per_block": 0})), StatusCode::BAD_REQUEST, "invalid_request"),
        (blocks_with(json!({"run_at": "next monday"})), StatusCode::BAD_REQUEST, "invalid_request"),
        (blocks_with(json!({"when": "now"})), StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (body, status, error) in cases {
        let (got, res) = app.post("/api/v1/conversions", manager, None, &body).await;
        assert_eq!((got, code(&res)), (status, error), "{body} → {res}");
    }
    let (status, res) = app.post("/api/v1/conversions", &app.staff.cashier, None, &blocks_with(json!({}))).await;
    assert_eq!((status, code(&res)), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(app.count("conversions", "1 = 1").await, 0, "nothing refused was written");

    // Without blocks of its own, a batch takes the programme's.
    let (status, _) = put_setting(&app, &blocks_with(json!({"mode": "season"}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, c) = app
        .post("/api/v1/conversions", manager, Some("season-1"), &json!({"run_at": "2099-03-01T00:00:00+01:00"}))
        .await;
    assert_eq!(
        (status, &c["block_points"], &c["run_at"]),
        (StatusCode::CREATED, &json!(500), &json!("2099-02-28T23:00:00.000Z"))
    );
    let replay = app
        .post("/api/v1/conversions", manager, Some("season-1"), &json!({"run_at": "2099-03-01T00:00:00+01:00"}))
        .await;
    assert_eq!(replay, (status, c.clone()), "a retried schedule is one conversion");
    assert_eq!(app.count("conversions", "1 = 1").await, 1);

    let other = app.new_program("other").await;
    let id = c["id"].as_str().unwrap();
    let (status, res) = app.get(&format!("/api/v1/conversions/{id}"), &other.manager).await;
    assert_eq!((status, code(&res)), (StatusCode::NOT_FOUND, "conversion_not_found"));
    let (status, res) = app.post(&format!("/api/v1/conversions/{id}/cancel"), &other.manager, None, &json!({})).await;
    assert_eq!((status, code(&res)), (StatusCode::NOT_FOUND, "conversion_not_found"));
    assert_eq!(conversion(&app, id).await["state"], "scheduled");
}
