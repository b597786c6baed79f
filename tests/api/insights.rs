//! The inputs and figures of the insights: a till's daily sales totals (the sales made without
//! a card too), from which the enrolment rate is computed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code, spawn_app};

/// The programme's local day today (the test programme is on Paris time).
fn paris_today() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

async fn put_totals(app: &TestApp, token: &str, location: &str, body: &Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/locations/{location}/sales-totals"), token, None, body).await
}

async fn audit_rows(app: &TestApp) -> Vec<Value> {
    let (status, page) = app.get("/api/v1/audit?limit=200", &app.staff.owner).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["entries"].as_array().unwrap().iter().filter(|r| r["action"] == "sales_totals.put").cloned().collect()
}

#[tokio::test]
async fn a_till_reports_its_day_and_a_second_report_replaces_the_first() {
    let app = spawn_app().await;
    let shop = app.staff.location_id.clone();
    let card = app.enrol("zoe@example.fr").await;
    let (status, _) = app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 1250, "t-1").await;
    assert_eq!(status, StatusCode::CREATED);
    let today = paris_today().to_string();

    // A partial report (fewer sales than the card made) is kept, with a warning.
    let (status, first) =
        put_totals(&app, &app.staff.cashier, &shop, &json!({"date": today, "transactions": 0, "revenue_cents": 0}))
            .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["replaced"], false);
    assert_eq!((&first["card_transactions"], &first["card_revenue_cents"]), (&json!(1), &json!(1250)));
    assert!(first["warning"].as_str().unwrap().contains("fewer sales"), "{first}");

    let body = json!({"date": today, "transactions": 41, "revenue_cents": 102_000});
    let (status, second) = put_totals(&app, &app.staff.cashier, &shop, &body).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        (&second["replaced"], &second["transactions"], &second["revenue_cents"], &second["currency"]),
        (&json!(true), &json!(41), &json!(102_000), &json!("EUR"))
    );
    assert!(second.get("warning").is_none(), "{second}");
    // The till retries: the same answer, and nothing new in the audit log.
    let (status, again) = put_totals(&app, &app.staff.cashier, &shop, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, second);

    let (status, list) = app.get(&format!("/api/v1/locations/{shop}/sales-totals"), &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1, "one row per shop and day: {list}");
    assert_eq!((&list[0]["date"], &list[0]["transactions"]), (&json!(today), &json!(41)));

    let rows = audit_rows(&app).await;
    assert_eq!(rows.len(), 2, "a creation and a change, not the retry: {rows:?}");
    let target = format!("{shop}/{today}");
    assert_eq!(rows[0]["target"], json!({"type": "sales_totals", "id": target}));
    assert_eq!(rows[0]["changes"]["transactions"], json!({"before": 0, "after": 41}));
    assert_eq!(rows[0]["actor"]["email"], "cashier@shop.test");
    app.jobs_may_stay();
}

#[tokio::test]
async fn totals_that_cannot_be_true_or_belong_elsewhere_are_refused() {
    let app = spawn_app().await;
    let shop = app.staff.location_id.clone();
    let tomorrow = (paris_today() + chrono::Duration::days(1)).to_string();
    let cases = [
        (
            json!({"date": tomorrow, "transactions": 1, "revenue_cents": 100}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "date_out_of_range",
        ),
        (
            json!({"date": "2019-01-01", "transactions": 1, "revenue_cents": 100}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "date_out_of_range",
        ),
        (
            json!({"date": "2026-02-30", "transactions": 1, "revenue_cents": 100}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"date": paris_today(), "transactions": -1, "revenue_cents": 100}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"date": paris_today(), "transactions": 1, "revenue_cents": -5}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (json!({"date": paris_today(), "transactions": 1}), StatusCode::BAD_REQUEST, "invalid_request"),
        (
            json!({"date": paris_today(), "transactions": 1, "revenue_cents": 5, "cards": 1}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ];
    for (body, status, expected) in cases {
        let (got, answer) = put_totals(&app, &app.staff.manager, &shop, &body).await;
        assert_eq!((got, code(&answer)), (status, expected), "{body}: {answer}");
    }

    // A cashier of one shop does not report another's day; another programme's shop is unknown.
    let (status, other) = app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": "Gare"})).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let body = json!({"date": paris_today(), "transactions": 3, "revenue_cents": 900});
    let (status, answer) = put_totals(&app, &app.staff.cashier, other["id"].as_str().unwrap(), &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, "forbidden"), "{answer}");
    let stranger = app.new_program("autre").await;
    let (status, answer) = put_totals(&app, &stranger.manager, &shop, &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "location_not_found"), "{answer}");
    let (status, answer) = app.get(&format!("/api/v1/locations/{shop}/sales-totals"), &stranger.manager).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, "location_not_found"), "{answer}");
    assert!(audit_rows(&app).await.is_empty(), "nothing refused was recorded");

    // An archived shop keeps the days before its archiving, and has no day after.
    let other_id = other["id"].as_str().unwrap();
    let (status, _) =
        app.post(&format!("/api/v1/locations/{other_id}/archive"), &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = put_totals(&app, &app.staff.manager, other_id, &body).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNPROCESSABLE_ENTITY, "location_archived"), "{answer}");
    let yesterday = json!({"date": paris_today() - chrono::Duration::days(1), "transactions": 3, "revenue_cents": 900});
    let (status, answer) = put_totals(&app, &app.staff.manager, other_id, &yesterday).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// A member of the seeded RFM set: their card, customer, and sales (days ago, hour, amount,
/// returned, discount).
struct Seeded {
    card_id: String,
    customer_id: String,
    consented: bool,
    sales: Vec<(i64, u32, i64, i64, i64)>,
}

async fn enrol_consenting(app: &TestApp, email: &str, profiling: Option<bool>) -> (String, String) {
    let mut body = json!({"email": email, "first_name": "Zoé"});
    if let Some(granted) = profiling {
        body["consents"] = json!({"profiling": granted, "terms": true});
    }
    let (status, enrolled) = app.post("/api/v1/customers", &app.staff.cashier, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    (enrolled["card"]["id"].as_str().unwrap().to_owned(), enrolled["customer"]["id"].as_str().unwrap().to_owned())
}

/// Writes the sales as rows, as years of a till's history would be: the API only backdates days.
async fn seed_sales(app: &TestApp, members: &[Seeded], now: chrono::NaiveDateTime) {
    let mut values = Vec::new();
    for (i, m) in members.iter().enumerate() {
        for (j, &(days, hour, amount, returned, discount)) in m.sales.iter().enumerate() {
            let at = (now - chrono::Duration::days(days)).date().and_hms_opt(hour, 15, 0).unwrap();
            values.push(format!(
                "('seed-{i}-{j}', '{}', '{}', NULL, NULL, {amount}, 'EUR', NULL, 0, {returned}, '{}', {discount}, 0, '{}')",
                app.staff.program_id,
                m.card_id,
                now.format("%Y-%m-%d %H:%M:%S"),
                at.format("%Y-%m-%d %H:%M:%S"),
            ));
        }
    }
    for chunk in values.chunks(200) {
        app.exec(&format!(
            "INSERT INTO purchases (id, program_id, card_id, location_id, staff_id, amount_cents, currency, \
             external_ref, points_earned, returned_cents, created_at, discount_cents, bonus_points, occurred_at) \
             VALUES {}",
            chunk.join(", ")
        ))
        .await;
    }
}

/// The score of each value among `values`, by the definition: 1 + ⌊5 × (strictly worse) ÷ n⌋.
fn expected_scores(values: &[i64]) -> Vec<i64> {
    let n = i64::try_from(values.len()).unwrap();
    values.iter().map(|v| 1 + 5 * i64::try_from(values.iter().filter(|x| *x < v).count()).unwrap() / n).collect()
}

fn expected_segment(r: i64, fm: i64) -> &'static str {
    let grid = [
        ["new", "potential_loyalists", "potential_loyalists", "champions", "champions"],
        ["promising", "potential_loyalists", "loyal", "loyal", "champions"],
        ["about_to_sleep", "need_attention", "need_attention", "loyal", "loyal"],
        ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose_them"],
        ["lost", "lost", "hibernating", "cant_lose_them", "cant_lose_them"],
    ];
    grid[usize::try_from(5 - r).unwrap()][usize::try_from(fm - 1).unwrap()]
}

#[tokio::test]
async fn rfm_scores_every_consenting_buyer_as_computed_independently_from_the_raw_sales() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().naive_utc();
    let mut members = Vec::new();
    for i in 0..45_i64 {
        // Five members bought without consenting to profiling (two never asked, three refused).
        let consent = match i {
            0..40 => Some(true),
            40..42 => None,
            _ => Some(false),
        };
        let (card_id, customer_id) = enrol_consenting(&app, &format!("m{i}@example.fr"), consent).await;
        // Frequencies 1..=6 repeat (ties across the F edges), recency by steps of 9 days, with
        // many members sharing a day; amounts vary, some with a discount or a partial return.
        let count = 1 + i % 6;
        let last = 1 + (i * 9) % 200;
        let sales = (0..count)
            .map(|k| {
                let amount = 1_000 + (i * 37 + k * 11) % 500 * 10;
                let returned = if (i + k) % 5 == 0 { 300 } else { 0 };
                let discount = if (i + k) % 7 == 0 { 150 } else { 0 };
                (last + k * 20, 9 + u32::try_from(k % 8).unwrap(), amount, returned, discount)
            })
            .collect();
        members.push(Seeded { card_id, customer_id, consented: consent == Some(true), sales });
    }
    // Outside the 12 months, a sale wholly returned, and a tie of spend at the top: no purchase,
    // no purchase, and two members of one score.
    members[0].sales.push((400, 10, 9_000, 0, 0));
    members[1].sales.push((3, 10, 5_000, 5_000, 0));
    members[2].sales = vec![(5, 10, 50_000, 0, 0)];
    members[3].sales = vec![(5, 11, 50_000, 0, 0)];
    let (outside_card, _) = enrol_consenting(&app, "old@example.fr", Some(true)).await;
    members.push(Seeded {
        card_id: outside_card,
        customer_id: String::new(),
        consented: true,
        sales: vec![(420, 10, 2_000, 0, 0)],
    });
    seed_sales(&app, &members, now).await;

    let (status, run) = app.post("/api/v1/insights/rfm/run", &app.staff.manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert_eq!((&run["state"], &run["window_months"]), (&json!("queued"), &json!(12)));
    app.run_jobs().await;

    // The definition, from the raw rows: the window opens at Paris midnight 12 months back.
    let paris = chrono_tz::Europe::Paris;
    let today = chrono::TimeZone::from_utc_datetime(&paris, &now).date_naive();
    let opens = chrono::TimeZone::from_local_datetime(
        &paris,
        &today.checked_sub_months(chrono::Months::new(12)).unwrap().and_hms_opt(0, 0, 0).unwrap(),
    )
    .earliest()
    .unwrap()
    .naive_utc();
    let mut measured = Vec::new(); // (card, days, purchases, spend)
    let mut buying = 0;
    let mut revenue = 0;
    for m in &members {
        let kept: Vec<_> = m
            .sales
            .iter()
            .map(|&(days, hour, amount, returned, discount)| {
                (
                    (now - chrono::Duration::days(days)).date().and_hms_opt(hour, 15, 0).unwrap(),
                    amount,
                    returned,
                    discount,
                )
            })
            .filter(|&(at, amount, returned, _)| at >= opens && at < now && returned < amount)
            .collect();
        let Some(last) = kept.iter().map(|s| s.0).max() else { continue };
        let spend: i64 = kept.iter().map(|&(_, a, r, d)| (a - r - d).max(0)).sum();
        buying += 1;
        revenue += spend;
        if m.consented {
            let last_day = chrono::TimeZone::from_utc_datetime(&paris, &last).date_naive();
            let purchases = i64::try_from(kept.len()).unwrap();
            measured.push((m.card_id.clone(), (today - last_day).num_days(), purchases, spend));
        }
    }
    let r = expected_scores(&measured.iter().map(|m| -m.1).collect::<Vec<_>>());
    let f = expected_scores(&measured.iter().map(|m| m.2).collect::<Vec<_>>());
    let mm = expected_scores(&measured.iter().map(|m| m.3).collect::<Vec<_>>());

    let (status, view) = app.get("/api/v1/insights/rfm", &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["state"], "done");
    assert_eq!(view["computed_on"], json!(today.to_string()));
    assert_eq!(view["members_total"], json!(members.len()));
    assert_eq!((&view["members_buying"], &view["members_scored"]), (&json!(buying), &json!(measured.len())));
    assert_eq!(view["members_without_consent"], json!(5));
    assert_eq!(view["revenue_cents"], json!(revenue));
    assert_eq!(measured.len(), 40, "the member of 13 months ago is not scored");

    let (status, page) = app.get("/api/v1/insights/rfm/members?limit=200", &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], json!(40));
    let rows = page["members"].as_array().unwrap();
    let mut cells = std::collections::HashMap::<(i64, i64), (i64, i64)>::new();
    for (k, (card, days, purchases, spend)) in measured.iter().enumerate() {
        let row = rows.iter().find(|row| row["card_id"] == json!(card)).unwrap_or_else(|| panic!("{card} scored"));
        let fm = (f[k] + mm[k] + 1) / 2;
        assert_eq!(
            (&row["days_since_last"], &row["purchases"], &row["net_spend_cents"]),
            (&json!(days), &json!(purchases), &json!(spend)),
            "{row}"
        );
        assert_eq!(
            (&row["r"], &row["f"], &row["m"], &row["fm"]),
            (&json!(r[k]), &json!(f[k]), &json!(mm[k]), &json!(fm))
        );
        assert_eq!(row["segment"], expected_segment(r[k], fm), "{row}");
        let cell = cells.entry((r[k], fm)).or_default();
        cell.0 += 1;
        cell.1 += spend;
    }
    // The two top spenders tie, and share the top score.
    let top: Vec<_> = rows.iter().take(2).map(|row| (&row["net_spend_cents"], &row["m"])).collect();
    assert_eq!(top, vec![(&json!(50_000), &json!(5)), (&json!(50_000), &json!(5))]);
    let grid = view["grid"].as_array().unwrap();
    assert_eq!(grid.len(), 25);
    assert!(cells.len() >= 8, "the set spreads over the grid: {cells:?}");
    for cell in grid {
        let key = (cell["r"].as_i64().unwrap(), cell["fm"].as_i64().unwrap());
        let (n, spend) = cells.get(&key).copied().unwrap_or_default();
        assert_eq!((&cell["members"], &cell["revenue_cents"]), (&json!(n), &json!(spend)), "cell {key:?}");
    }
    let in_segments: i64 = view["segments"].as_array().unwrap().iter().map(|s| s["members"].as_i64().unwrap()).sum();
    assert_eq!(in_segments, 40);

    // A member without consent has no score on their page; a scored one has theirs.
    let refused = &members[43];
    let (_, detail) = app.get(&format!("/api/v1/customers/{}", refused.customer_id), &app.staff.manager).await;
    assert_eq!(detail["rfm"], Value::Null, "{detail}");
    let (_, detail) = app.get(&format!("/api/v1/customers/{}", members[2].customer_id), &app.staff.manager).await;
    assert_eq!((&detail["rfm"]["m"], &detail["rfm"]["purchases"]), (&json!(5), &json!(1)), "{detail}");

    // One segment's CSV: a header and its members.
    let segment = rows[0]["segment"].as_str().unwrap();
    let in_segment = rows.iter().filter(|row| row["segment"] == segment).count();
    let response = app
        .client
        .get(app.url(&format!("/api/v1/insights/rfm/members.csv?segment={segment}")))
        .bearer_auth(&app.staff.manager)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("customer_id,card_number,first_name,email,segment,r,f,m,fm,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + in_segment, "{csv}");
}

#[tokio::test]
async fn withdrawing_profiling_removes_the_score_at_once_and_is_logged() {
    let app = spawn_app().await;
    let (card_id, customer_id) = enrol_consenting(&app, "ana@example.fr", Some(true)).await;
    let body = json!({"email": "eve@example.fr", "first_name": "=HYPERLINK(\"x\")", "consents": {"profiling": true}});
    let (status, enrolled) = app.post("/api/v1/customers", &app.staff.cashier, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    let other = enrolled["card"]["id"].as_str().unwrap().to_owned();
    let numbers = [&card_id, &other];
    for (k, id) in numbers.iter().enumerate() {
        let (_, card) = app.get(&format!("/api/v1/cards/{id}"), &app.staff.manager).await;
        let number = card["number"].as_str().unwrap().to_owned();
        let (status, _) =
            app.purchase(&app.staff.cashier, &number, 1_000 * (i64::try_from(k).unwrap() + 1), &format!("s-{k}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // No body at all: the defaults.
    let (status, _) =
        app.send(reqwest::Method::POST, "/api/v1/insights/rfm/run", Some(&app.staff.manager), None, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.run_jobs().await;
    let (_, detail) = app.get(&format!("/api/v1/customers/{customer_id}"), &app.staff.manager).await;
    assert_eq!(detail["rfm"]["purchases"], 1, "{detail}");

    let consents = format!("/api/v1/customers/{customer_id}/consents");
    let (status, detail) = app
        .send(reqwest::Method::PUT, &consents, Some(&app.staff.manager), None, Some(&json!({"profiling": false})))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["rfm"], Value::Null);
    assert_eq!(detail["customer"]["consents"]["profiling"]["granted"], false, "{detail}");
    let (_, view) = app.get("/api/v1/insights/rfm", &app.staff.manager).await;
    assert_eq!(view["members_scored"], 1, "{view}");
    let in_grid: i64 = view["grid"].as_array().unwrap().iter().map(|c| c["members"].as_i64().unwrap()).sum();
    assert_eq!(in_grid, 1);
    // The same decision again writes nothing more.
    let rows =
        app.count("customer_consents", &format!("customer_id = '{customer_id}' AND purpose = 'profiling'")).await;
    assert_eq!(rows, 2);
    let (status, _) = app
        .send(reqwest::Method::PUT, &consents, Some(&app.staff.manager), None, Some(&json!({"profiling": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.count("customer_consents", &format!("customer_id = '{customer_id}' AND purpose = 'profiling'")).await,
        2
    );
    let (_, audit) = app.get("/api/v1/audit?limit=200", &app.staff.owner).await;
    let logged: Vec<_> =
        audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "customer.consents").collect();
    assert_eq!(logged.len(), 1, "{audit}");
    // The next run leaves them out too; a grant again scores them at the run after it.
    let (status, _) =
        app.post("/api/v1/insights/rfm/run", &app.staff.manager, None, &json!({"window_months": 24})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.run_jobs().await;
    let (_, view) = app.get("/api/v1/insights/rfm", &app.staff.manager).await;
    assert_eq!((&view["members_scored"], &view["window_months"]), (&json!(1), &json!(24)), "{view}");

    // The export cell a spreadsheet would run as a formula is quoted as text.
    let csv = app
        .client
        .get(app.url("/api/v1/insights/rfm/members.csv"))
        .bearer_auth(&app.staff.manager)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(",\"'=HYPERLINK(\"\"x\"\")\",eve@example.fr,"), "{csv}");

    // Refused: nothing to change, the terms, an unknown segment, a bad window, a cashier.
    for body in [json!({}), json!({"terms": false})] {
        let (status, err) =
            app.send(reqwest::Method::PUT, &consents, Some(&app.staff.manager), None, Some(&body)).await;
        assert_eq!((status, code(&err)), (StatusCode::BAD_REQUEST, "invalid_request"), "{err}");
    }
    let (status, err) = app.get("/api/v1/insights/rfm/members?segment=vip", &app.staff.manager).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, err) =
        app.post("/api/v1/insights/rfm/run", &app.staff.manager, None, &json!({"window_months": 0})).await;
    assert_eq!((status, err["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("window_months")), "{err}");
    let (status, _) = app.get("/api/v1/insights/rfm", &app.staff.cashier).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
