//! The generated history written as rows.

use super::*;

// ---------------------------------------------------------------------------------------------
// The rows, written as they are: multi-row INSERTs of at most 200 rows.

pub(super) async fn insert(app: &TestApp, into: &str, rows: &[String]) {
    for chunk in rows.chunks(200) {
        app.exec(&format!("INSERT INTO {into} VALUES {}", chunk.join(", "))).await;
    }
}

/// Writes the world into the first programme; returns its two shops' ids (the second is made
/// through the API, as is the promo campaign the redemptions belong to).
pub(super) async fn seed(app: &TestApp, w: &World) -> [String; 2] {
    let (status, shop) = app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": "Gare"})).await;
    assert_eq!(status, StatusCode::CREATED, "{shop}");
    let shops = [app.staff.location_id.clone(), shop["id"].as_str().unwrap().to_owned()];
    let body = json!({"name": "Automne", "code": "AUTOMNE", "effect": {"amount_off_cents": 300}});
    let (status, campaign) = app.post("/api/v1/promo-campaigns", &app.staff.manager, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let campaign_id = campaign["id"].as_str().unwrap().to_owned();
    let code_id: i64 = {
        use diesel::prelude::*;
        use encarte::db::schema::promo_codes::dsl as pc;
        let campaign_id = campaign_id.clone();
        app.db
            .read(move |c| {
                Ok(pc::promo_codes.filter(pc::campaign_id.eq(campaign_id)).select(pc::id).first::<i64>(c)?)
            })
            .await
            .unwrap()
    };
    let p = app.staff.program_id.clone();
    let shop = |l: Option<usize>| l.map_or_else(|| "NULL".to_owned(), |l| format!("'{}'", shops[l]));

    // Each card's balance is the sum of its moves; each move's balance_after the running sum.
    let mut order: Vec<usize> = (0..w.moves.len()).collect();
    order.sort_by_key(|&k| (w.moves[k].card, w.moves[k].at, k));
    let mut after = vec![0; w.moves.len()];
    let mut balances = vec![0; w.members.len()];
    for k in order {
        balances[w.moves[k].card] += w.moves[k].delta;
        after[k] = balances[w.moves[k].card];
    }

    let customers: Vec<String> = w
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "('kc{i}', '{p}', 'm{i}@kpi.test', 'Membre', NULL, 'fr', {}, NULL, NULL, NULL, {})",
                sql_time(m.created),
                sql_opt_time(m.erased)
            )
        })
        .collect();
    insert(
        app,
        "customers (id, program_id, email, first_name, phone, locale, created_at, email_key, phone_key, \
         device_key, erased_at)",
        &customers,
    )
    .await;
    let cards: Vec<String> = w
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = sql_time(m.created);
            let status = if m.erased.is_some() { "closed" } else { "active" };
            format!(
                "('kd{i}', '{p}', 'kc{i}', 'K{i:08}', 'KPI-BC-{i}', 'kpi-serial-{i}', 'auth-{i}', '{status}', {}, 1, \
                 {at}, {at}, NULL, 0, {at}, 'kpi-link-{i}', 0)",
                balances[i]
            )
        })
        .collect();
    insert(
        app,
        "cards (id, program_id, customer_id, number, barcode, serial, auth_token, status, balance, pass_version, \
         created_at, updated_at, referral_code, pass_seq, pass_updated_at, link_token, apple_devices)",
        &cards,
    )
    .await;
    let sales: Vec<String> = w
        .sales
        .iter()
        .enumerate()
        .map(|(j, s)| {
            format!(
                "('kp{j}', '{p}', 'kd{}', {}, NULL, {}, 'EUR', NULL, {}, {}, {at}, {}, 0, {at})",
                s.card,
                shop(s.location),
                s.amount,
                s.amount / 100,
                s.returned,
                s.discount,
                at = sql_time(s.at),
            )
        })
        .collect();
    insert(
        app,
        "purchases (id, program_id, card_id, location_id, staff_id, amount_cents, currency, external_ref, \
         points_earned, returned_cents, created_at, discount_cents, bonus_points, occurred_at)",
        &sales,
    )
    .await;
    let moves: Vec<String> = w
        .moves
        .iter()
        .zip(&after)
        .map(|(m, after)| {
            format!("('{p}', 'kd{}', {}, '{}', NULL, NULL, NULL, {after}, {})", m.card, m.delta, m.kind, sql_time(m.at))
        })
        .collect();
    insert(
        app,
        "ledger_entries (program_id, card_id, delta, kind, purchase_id, staff_id, reason, balance_after, created_at)",
        &moves,
    )
    .await;
    let referrals: Vec<String> = w
        .referrals
        .iter()
        .enumerate()
        .map(|(j, r)| {
            format!(
                "('kr{j}', '{p}', 'kd{}', 'kd{}', '{}', NULL, NULL, {}, {}, {})",
                r.referrer,
                r.referee,
                r.status,
                sql_time(r.at + Duration::days(30)),
                sql_time(r.at),
                sql_opt_time(r.decided)
            )
        })
        .collect();
    insert(
        app,
        "referrals (id, program_id, referrer_card_id, referee_card_id, status, reason, purchase_id, expires_at, \
         created_at, decided_at)",
        &referrals,
    )
    .await;
    let vouchers: Vec<String> = w
        .vouchers
        .iter()
        .enumerate()
        .map(|(j, v)| {
            let item = if v.kind == "item" { "'Cafe'" } else { "NULL" };
            format!(
                "('kv{j}', '{p}', 'kd{}', 'KV{j:06}', '{}', {}, {item}, 0, '{}', '{}', NULL, NULL, NULL, NULL, NULL, \
                 {}, NULL, {}, {}, {}, {})",
                v.card,
                v.kind,
                sql_opt(v.value),
                v.state,
                v.origin,
                sql_time(v.expires),
                sql_opt(v.discount),
                sql_opt_time(v.used),
                sql_time(v.created),
                sql_time(v.used.unwrap_or(v.created)),
            )
        })
        .collect();
    insert(
        app,
        "vouchers (id, program_id, card_id, code, kind, value, item, min_purchase_cents, state, origin, reward_id, \
         conversion_id, ledger_entry_id, reason, staff_id, expires_at, purchase_id, discount_cents, used_at, \
         created_at, updated_at)",
        &vouchers,
    )
    .await;
    let promos: Vec<String> = w
        .promos
        .iter()
        .enumerate()
        .map(|(j, u)| {
            let sale = u.sale.map_or_else(|| "NULL".to_owned(), |s| format!("'kp{s}'"));
            let status = if u.applied { "applied" } else { "rolled_back" };
            format!(
                "('kq{j}', '{p}', '{campaign_id}', {code_id}, 'kd{}', {sale}, {}, {}, '{status}', {}, {})",
                u.card,
                u.discount,
                u.bonus,
                sql_time(u.at),
                sql_opt_time(u.rolled_back)
            )
        })
        .collect();
    insert(
        app,
        "promo_redemptions (id, program_id, campaign_id, code_id, card_id, purchase_id, discount_cents, \
         bonus_points, status, created_at, rolled_back_at)",
        &promos,
    )
    .await;
    let totals: Vec<String> = w
        .totals
        .iter()
        .map(|t| {
            format!(
                "('{}', '{}', '{p}', {}, {}, NULL, {})",
                shops[t.location],
                t.day,
                t.transactions,
                t.revenue,
                sql_time(midnight(t.day + Duration::days(1)))
            )
        })
        .collect();
    insert(
        app,
        "sales_totals (location_id, day, program_id, transactions, revenue_cents, staff_id, updated_at)",
        &totals,
    )
    .await;
    assert_eq!(app.count("customers", &format!("program_id = '{p}'")).await, count(w.members.len()));
    assert_eq!(app.count("purchases", &format!("program_id = '{p}'")).await, count(w.sales.len()));
    assert_eq!(app.count("ledger_entries", &format!("program_id = '{p}'")).await, count(w.moves.len()));
    shops
}
