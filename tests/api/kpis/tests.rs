//! The requests, each answer compared field by field with the expected figures.

use super::expected::*;
use super::seed::*;
use super::*;

/// Each key of `expected` against `got`, and every key of `got` checked: the differences.
fn differences(label: &str, expected: &Value, got: &Value, out: &mut Vec<String>) {
    let (Some(expected), Some(got)) = (expected.as_object(), got.as_object()) else {
        out.push(format!("{label}: expected an object, got {got}"));
        return;
    };
    for (key, want) in expected {
        let have = got.get(key).unwrap_or(&Value::Null);
        if have != want {
            out.push(format!("{label}.{key}: expected {want}, got {have}"));
        }
    }
    for key in got.keys().filter(|k| !expected.contains_key(*k)) {
        out.push(format!("{label}.{key}: a field the test does not check ({})", got[key]));
    }
}

/// Asks the server and compares its whole answer with the independent computation.
async fn check(app: &TestApp, world: &World, shops: &[String; 2], ask: &Ask) -> Value {
    let path = format!("/api/v1/insights/kpis?{}", ask.query(shops));
    let (status, got) = app.get(&path, &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{path}: {got}");
    let want = world.expected(ask, shops);
    let mut errors = Vec::new();
    let header = |v: &Value| {
        let mut v = v.clone();
        for key in ["periods", "totals", "roi", "definitions"] {
            v.as_object_mut().unwrap().remove(key);
        }
        v
    };
    differences("answer", &header(&want), &header(&got), &mut errors);
    let (want_periods, got_periods) = (want["periods"].as_array().unwrap(), got["periods"].as_array().unwrap());
    if want_periods.len() == got_periods.len() {
        for (w, g) in want_periods.iter().zip(got_periods) {
            differences(&format!("period {}", w["start"].as_str().unwrap()), w, g, &mut errors);
        }
    } else {
        errors.push(format!("expected {} periods, got {}", want_periods.len(), got_periods.len()));
    }
    differences("totals", &want["totals"], &got["totals"], &mut errors);
    differences("roi", &want["roi"], &got["roi"], &mut errors);
    let definitions = got["definitions"].as_object().unwrap();
    for key in ["members_total", "retention_rate", "repurchase_rate", "liability_cents", "breakage_rate", "roi"] {
        assert!(definitions[key].as_str().is_some_and(|d| !d.is_empty()), "{key} has a definition: {definitions:?}");
    }
    assert!(errors.is_empty(), "{path}: {} differences:\n{}", errors.len(), errors.join("\n"));
    want
}

async fn set_point_value(app: &TestApp, cents: Value) {
    let body = json!({"point_value_cents": cents});
    let (status, program) = app.send(Method::PUT, "/api/v1/program", Some(&app.staff.owner), None, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["point_value_cents"], cents, "{program}");
}

/// Guards the generator: the set holds every case the figures tell apart.
fn assert_covers(w: &World) {
    let kinds: HashSet<&str> = w.moves.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, ENTRY_KINDS.into_iter().collect(), "every kind of move");
    let statuses: HashSet<&str> = w.referrals.iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), 5, "every referral status: {statuses:?}");
    let voucher_kinds: HashSet<(&str, &str)> = w.vouchers.iter().map(|v| (v.kind, v.state)).collect();
    assert_eq!(voucher_kinds.len(), 12, "every voucher kind in every state: {voucher_kinds:?}");
    assert!(w.vouchers.iter().any(|v| v.state == "used" && v.discount.is_none()));
    assert!(w.promos.iter().any(|u| u.applied) && w.promos.iter().any(|u| !u.applied));
    assert!(w.sales.iter().any(|s| s.returned == s.amount), "wholly returned sales");
    assert!(w.sales.iter().any(|s| 0 < s.returned && s.returned < s.amount), "partly returned sales");
    assert!(w.sales.iter().any(|s| s.returned < s.amount && s.amount - s.returned < s.discount), "nets below zero");
    assert!(w.sales.iter().any(|s| s.location.is_none()) && w.sales.iter().any(|s| s.location == Some(1)));
    assert!(w.members.iter().any(|m| m.erased.is_some_and(|e| e == midnight(local_day(e)))), "erased at midnight");
    assert!(w.members.iter().any(|m| m.created < midnight(day("2025-06-01"))), "members from before the range");
    // Sales whose UTC date is not their local day, and sales in the hours the clocks change.
    assert!(w.sales.iter().any(|s| s.at.date() != local_day(s.at)));
    for dst in DST_DAYS.iter().skip(2) {
        assert!(w.sales.iter().any(|s| s.at == day(dst).and_hms_opt(1, 30, 0).unwrap()), "a sale on {dst}");
    }
}

#[tokio::test]
async fn kpis_match_an_independent_computation_over_2000_members_and_18_months() {
    let started = std::time::Instant::now();
    let app = spawn_app().await;
    let world = generate(2_000, 0x5EED_2026_1208);
    assert_covers(&world);
    let shops = seed(&app, &world).await;
    eprintln!(
        "seeded {} members, {} sales, {} moves, {} vouchers, {} referrals, {} promo uses, {} till days in {:?}",
        world.members.len(),
        world.sales.len(),
        world.moves.len(),
        world.vouchers.len(),
        world.referrals.len(),
        world.promos.len(),
        world.totals.len(),
        started.elapsed()
    );

    // 18 months (the range is widened to whole months), before any point value is set: the
    // point's value is unknown, and so are the liability and the value of referral points.
    let months = Ask::months("2025-06-17", "2026-11-03");
    let unvalued = check(&app, &world, &shops, &months).await;
    assert_eq!(unvalued["periods"].as_array().unwrap().len(), 18);
    assert_eq!((&unvalued["from"], &unvalued["to"]), (&json!("2025-06-01"), &json!("2026-11-30")));
    assert!(unvalued["periods"].as_array().unwrap().iter().all(|p| p["liability_cents"].is_null()));
    assert_eq!(unvalued["roi"]["referral_points_value_cents"], Value::Null);

    // The set means something: the figures the test compares are not all zeros or nulls.
    let periods = unvalued["periods"].as_array().unwrap();
    let some = |key: &str| periods.iter().filter(|p| p[key].as_f64().is_some_and(|v| v > 0.0)).count();
    for key in [
        "new_members",
        "active_members",
        "retention_rate",
        "repurchase_rate",
        "recommendation_rate",
        "referral_conversion_rate",
        "points_redeemed",
        "points_expired",
        "breakage_rate",
        "vouchers_issued_value_cents",
        "vouchers_used_value_cents",
        "vouchers_expired_value_cents",
        "promo_discount_cents",
    ] {
        assert!(some(key) >= 12, "{key} is above zero in most months: {}", some(key));
    }
    let reported = periods.iter().filter(|p| !p["sales_transactions"].is_null()).count();
    assert!((4..18).contains(&reported), "some months with till totals, some without: {reported}");
    assert!(
        periods.iter().any(|p| p["sales_transactions"] == 0 && p["enrolment_rate"].is_null()),
        "a month whose only till report has no sale"
    );
    assert!(unvalued["roi"]["cohort_members"].as_i64().unwrap() > 500, "{}", unvalued["roi"]);

    // With a point value set by the owner, every figure again: months, the weeks around the
    // autumn and the spring clock changes, each shop alone.
    set_point_value(&app, json!(7)).await;
    let valued = Ask { point_value: Some(7), ..months };
    let all = check(&app, &world, &shops, &valued).await;
    assert!(all["totals"]["liability_cents"].as_i64().unwrap() > 0);
    assert_eq!(all["point_value"], json!({"cents": 7, "per_points": 1, "source": "setting"}));
    let weeks = Ask { point_value: Some(7), ..Ask::weeks("2026-09-30", "2026-12-02") };
    let answer = check(&app, &world, &shops, &weeks).await;
    assert_eq!(answer["periods"].as_array().unwrap().len(), 10);
    assert_eq!((&answer["from"], &answer["to"]), (&json!("2026-09-28"), &json!("2026-12-06")));
    let spring =
        check(&app, &world, &shops, &Ask { point_value: Some(7), ..Ask::weeks("2026-03-09", "2026-04-12") }).await;
    assert_eq!(spring["periods"].as_array().unwrap().len(), 5);
    let first_shop = check(&app, &world, &shops, &Ask { location: Some(0), ..valued }).await;
    let purchases = |a: &Value| a["totals"]["purchases"].as_i64().unwrap();
    assert!(0 < purchases(&first_shop) && purchases(&first_shop) < purchases(&all));
    assert_eq!(first_shop["totals"]["points_issued"], all["totals"]["points_issued"], "points stay the programme's");
    check(&app, &world, &shops, &Ask { location: Some(1), ..weeks }).await;

    // The setting cleared: unknown again.
    set_point_value(&app, Value::Null).await;
    check(&app, &world, &shops, &Ask::months("2026-01-01", "2026-03-31")).await;
    eprintln!("checked in {:?}", started.elapsed());
}

async fn csv(app: &TestApp, query: &str) -> (StatusCode, String, String) {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/insights/kpis.csv?{query}")))
        .bearer_auth(&app.staff.manager)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let disposition =
        response.headers().get("content-disposition").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    if status == StatusCode::OK {
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    }
    (status, disposition, response.text().await.unwrap())
}

#[tokio::test]
async fn the_points_csv_has_one_row_per_period_as_the_json_answer() {
    let app = spawn_app().await;
    let world = generate(150, 0xC5F_0001);
    let shops = seed(&app, &world).await;
    set_point_value(&app, json!(3)).await;
    let ask = Ask { point_value: Some(3), ..Ask::months("2025-06-01", "2026-11-30") };
    let answer = check(&app, &world, &shops, &ask).await;

    let query = ask.query(&shops);
    let (status, disposition, body) = csv(&app, &format!("{query}&table=points")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(disposition.contains("kpis-points.csv"), "{disposition}");
    let columns = [
        "start",
        "end",
        "points_issued",
        "points_redeemed",
        "points_expired",
        "redemption_rate",
        "points_held",
        "liability_cents",
        "breakage_rate",
    ];
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], columns.join(","));
    let periods = answer["periods"].as_array().unwrap();
    assert_eq!(lines.len(), 1 + periods.len(), "{body}");
    for (line, period) in lines[1..].iter().zip(periods) {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &period[*c] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        assert_eq!(*line, cells.join(","), "{period}");
    }
    assert!(periods.iter().any(|p| p["redemption_rate"].is_f64() && p["liability_cents"].as_i64() > Some(0)));

    // The other tables, and all the columns without one.
    let (_, disposition, members) = csv(&app, &format!("{query}&table=members")).await;
    assert!(disposition.contains("kpis-members.csv"), "{disposition}");
    assert!(members.starts_with("start,end,members_total,new_members,active_members,purchases,"), "{members}");
    let (_, _, vouchers) = csv(&app, &format!("{query}&table=vouchers")).await;
    assert!(vouchers.starts_with("start,end,vouchers_issued,vouchers_issued_value_cents,"), "{vouchers}");
    assert!(vouchers.lines().next().unwrap().ends_with(",promo_discount_cents"), "{vouchers}");
    let (_, disposition, all) = csv(&app, &query).await;
    assert!(disposition.contains("kpis-all.csv"), "{disposition}");
    assert_eq!(all.lines().next().unwrap().split(',').count(), 2 + 16 + 7 + 7, "{all}");
    assert_eq!(all.lines().count(), 1 + periods.len());
}

/// An error answer: the status, and the `{"error": {"code", "message"}}` body.
fn assert_error(label: &str, (status, body): &(StatusCode, Value), want_status: StatusCode, want_code: &str) {
    assert_eq!((*status, code(body)), (want_status, want_code), "{label}: {body}");
    let object = body.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["error"], "{label}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{label}: {body}");
}

#[tokio::test]
async fn kpi_requests_that_cannot_be_answered_are_refused() {
    let app = spawn_app().await;
    let kpis = "/api/v1/insights/kpis";
    let manager = app.staff.manager.clone();

    // Ranges: reversed, too many periods (5 years of weeks); 160 weeks are the most.
    let answer = app.get(&format!("{kpis}?from=2026-03-01&to=2026-02-01"), &manager).await;
    assert_error("to before from", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_range");
    let answer = app.get(&format!("{kpis}?from=2021-01-01&to=2025-12-31&granularity=week"), &manager).await;
    assert_error("5 years of weeks", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_range");
    let last = day("2024-01-01") + Duration::weeks(160) - Duration::days(1);
    let (status, answer) = app.get(&format!("{kpis}?from=2024-01-01&to={last}&granularity=week"), &manager).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["periods"].as_array().unwrap().len(), 160);
    let answer =
        app.get(&format!("{kpis}?from=2024-01-01&to={}&granularity=week", last + Duration::days(1)), &manager).await;
    assert_error("161 weeks", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_range");
    // Without a range: the last 12 months, this one included; an empty programme counts zeros.
    let (status, answer) = app.get(kpis, &manager).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((answer["periods"].as_array().unwrap().len(), &answer["granularity"]), (12, &json!("month")));
    assert_eq!((&answer["totals"]["members_total"], &answer["sales_totals_reported"]), (&json!(0), &json!(false)));

    // Shops: unknown, or another programme's (whose own manager may ask about it).
    let answer = app.get(&format!("{kpis}?location=no-such-shop"), &manager).await;
    assert_error("an unknown shop", &answer, StatusCode::NOT_FOUND, "location_not_found");
    let other = app.new_program("other").await;
    let answer = app.get(&format!("{kpis}?location={}", other.location_id), &manager).await;
    assert_error("another programme's shop", &answer, StatusCode::NOT_FOUND, "location_not_found");
    let (status, answer) = app.get(&format!("{kpis}?location={}", other.location_id), &other.manager).await;
    assert_eq!((status, &answer["location_id"]), (StatusCode::OK, &json!(other.location_id)), "{answer}");
    let answer = app.get(&format!("{kpis}?location={}", app.staff.location_id), &other.manager).await;
    assert_error("a shop of the first programme", &answer, StatusCode::NOT_FOUND, "location_not_found");

    // Query strings that do not parse.
    for (label, query) in [
        ("an unknown parameter", "?from=2026-01-01&colour=blue"),
        ("an impossible date", "?from=2026-02-30"),
        ("an unknown granularity", "?granularity=day"),
        ("an unknown table", ".csv?table=customers"),
    ] {
        let answer = app.get(&format!("{kpis}{query}"), &manager).await;
        assert_error(label, &answer, StatusCode::BAD_REQUEST, "invalid_request");
    }

    // Who may ask: managers and owners; not a cashier, nor anyone without a token.
    let (status, _) = app.get(kpis, &app.staff.owner).await;
    assert_eq!(status, StatusCode::OK);
    for path in [kpis.to_owned(), format!("{kpis}.csv?table=points")] {
        let answer = app.get(&path, &app.staff.cashier).await;
        assert_error("a cashier", &answer, StatusCode::FORBIDDEN, "forbidden");
        let (status, _) = app.send(Method::GET, &path, None, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }

    // A point value below zero or beyond reason; nothing is changed.
    for cents in [json!(-1), json!(100_001)] {
        let body = json!({"point_value_cents": cents});
        let answer = app.send(Method::PUT, "/api/v1/program", Some(&app.staff.owner), None, Some(&body)).await;
        assert_error("a point value", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_point_value");
        assert_eq!(answer.1["error"]["field"], "point_value_cents");
    }
    let (_, program) = app.get("/api/v1/program", &app.staff.owner).await;
    assert_eq!(program["point_value_cents"], Value::Null, "{program}");
}

#[tokio::test]
async fn rates_baskets_and_point_values_round_halves_up() {
    // A month of 32 new members, one referred; two purchases of 1.00 and 1.01; a till's day of 6
    // sales for 6.03; points: 64 issued, 2 redeemed, 1 expired, 61 held. Computed by hand.
    let app = spawn_app().await;
    let p = app.staff.program_id.clone();
    let shop = app.staff.location_id.clone();
    let at = |minutes: i64| sql_time(day("2026-03-02").and_hms_opt(9, 0, 0).unwrap() + Duration::minutes(minutes));
    let customers: Vec<String> = (0..32)
        .map(|i| format!("('hc{i}', '{p}', 'h{i}@kpi.test', 'Membre', NULL, 'fr', {}, NULL, NULL, NULL, NULL)", at(i)))
        .collect();
    insert(
        &app,
        "customers (id, program_id, email, first_name, phone, locale, created_at, email_key, phone_key, \
         device_key, erased_at)",
        &customers,
    )
    .await;
    let cards: Vec<String> = (0..32)
        .map(|i| {
            format!(
                "('hd{i}', '{p}', 'hc{i}', 'H{i:08}', 'H-BC-{i}', 'h-serial-{i}', 'auth-{i}', 'active', 0, 1, \
                 {t}, {t}, NULL, 0, {t}, 'h-link-{i}', 0)",
                t = at(i)
            )
        })
        .collect();
    insert(
        &app,
        "cards (id, program_id, customer_id, number, barcode, serial, auth_token, status, balance, pass_version, \
         created_at, updated_at, referral_code, pass_seq, pass_updated_at, link_token, apple_devices)",
        &cards,
    )
    .await;
    app.exec(&format!(
        "INSERT INTO purchases (id, program_id, card_id, location_id, staff_id, amount_cents, currency, external_ref, \
         points_earned, returned_cents, created_at, discount_cents, bonus_points, occurred_at) VALUES \
         ('hp0', '{p}', 'hd1', '{shop}', NULL, 100, 'EUR', NULL, 31, 0, {t}, 0, 0, {t}), \
         ('hp1', '{p}', 'hd2', '{shop}', NULL, 101, 'EUR', NULL, 32, 0, {t}, 0, 0, {t})",
        t = at(100)
    ))
    .await;
    let moves = [
        ("hd1", 31, "earn"),
        ("hd2", 32, "earn"),
        ("hd0", 1, "referral"),
        ("hd1", -2, "redeem"),
        ("hd2", -1, "expire"),
    ];
    let moves: Vec<String> = moves
        .iter()
        .map(|(card, delta, kind)| format!("('{p}', '{card}', {delta}, '{kind}', NULL, NULL, NULL, 0, {})", at(200)))
        .collect();
    insert(
        &app,
        "ledger_entries (program_id, card_id, delta, kind, purchase_id, staff_id, reason, balance_after, created_at)",
        &moves,
    )
    .await;
    app.exec(&format!(
        "INSERT INTO referrals (id, program_id, referrer_card_id, referee_card_id, status, reason, purchase_id, \
         expires_at, created_at, decided_at) VALUES ('hr0', '{p}', 'hd0', 'hd5', 'rewarded', NULL, NULL, {}, {}, {})",
        at(60 * 24 * 30),
        at(5),
        at(200)
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO sales_totals (location_id, day, program_id, transactions, revenue_cents, staff_id, updated_at) \
         VALUES ('{shop}', '2026-03-02', '{p}', 6, 603, NULL, {})",
        at(600)
    ))
    .await;
    // A conversion rule values a point at 500 cents per 200 points: 2.5 cents.
    app.exec(&format!(
        "INSERT INTO conversion_settings (program_id, mode, threshold_points, block_points, value_cents_per_block, \
         validity_days, updated_at) VALUES ('{p}', 'threshold', 400, 200, 500, 90, {})",
        at(0)
    ))
    .await;

    let path = "/api/v1/insights/kpis?from=2026-03-01&to=2026-03-31";
    let (status, answer) = app.get(path, &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["point_value"], json!({"cents": 500, "per_points": 200, "source": "conversion_rule"}));
    let want = json!({
        "members_total": 32, "new_members": 32, "new_members_referred": 1,
        "recommendation_rate": 0.0313, // 1/32 = 0.03125
        "referrals_started": 1, "referrals_converted": 1, "referral_conversion_rate": 1.0,
        "purchases": 2, "member_revenue_cents": 201, "active_members": 2,
        "sales_transactions": 6, "sales_revenue_cents": 603, "card_transactions_reported": 2,
        "enrolment_rate": 0.3333,
        "points_issued": 64, "points_redeemed": 2, "points_expired": 1, "points_held": 61,
        "redemption_rate": 0.0313, // 2/64 = 0.03125
        "breakage_rate": 0.0156, // 1/64 = 0.015625
        "liability_cents": 153, // 61 × 2.5 = 152.5
    });
    let mut errors = Vec::new();
    for (key, value) in want.as_object().unwrap() {
        for (label, figures) in [("period", &answer["periods"][0]), ("totals", &answer["totals"])] {
            if &figures[key] != value {
                errors.push(format!("{label}.{key}: expected {value}, got {}", figures[key]));
            }
        }
    }
    let roi = json!({
        "member_basket_cents": 101, // 201/2 = 100.5
        "all_sales_basket_cents": 101, // 603/6 = 100.5
        "non_member_basket_cents": 101, // (603 − 201)/(6 − 2) = 100.5
        "referral_points": 1, "referral_points_value_cents": 3, // 2.5
        "cost_cents": 3, "cost_share_of_revenue": 0.0149,
    });
    for (key, value) in roi.as_object().unwrap() {
        if &answer["roi"][key] != value {
            errors.push(format!("roi.{key}: expected {value}, got {}", answer["roi"][key]));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    // The programme's own setting comes before the conversion rule.
    set_point_value(&app, json!(3)).await;
    let (_, answer) = app.get(path, &app.staff.manager).await;
    assert_eq!(answer["point_value"], json!({"cents": 3, "per_points": 1, "source": "setting"}));
    assert_eq!((&answer["periods"][0]["liability_cents"], &answer["roi"]["cost_cents"]), (&json!(183), &json!(3)));
}
