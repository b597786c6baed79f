//! The console's insight pages (Segments, Insights), driven as a browser without JavaScript would.

use reqwest::StatusCode;
use serde_json::json;

use crate::console::{post, signed_in};
use crate::helpers::spawn_app;

#[tokio::test]
async fn the_segments_page_draws_the_rfm_grid_and_lists_a_segments_members() {
    let app = spawn_app().await;
    for (k, cents) in [1_000, 2_500, 8_000].into_iter().enumerate() {
        let body = json!({"email": format!("m{k}@example.fr"), "first_name": format!("Member{k}"), "consents": {"profiling": true}});
        let (status, enrolled) = app.post("/api/v1/customers", &app.staff.cashier, None, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{enrolled}");
        let number = enrolled["card"]["number"].as_str().unwrap().to_owned();
        let (status, _) = app.purchase(&app.staff.cashier, &number, cents, &format!("seg-{k}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    app.enrol("no-consent@example.fr").await;
    let mut owner = signed_in(&app, "owner@shop.test").await;
    let never = owner.get("/admin/segments").await;
    assert_eq!(never.status, StatusCode::OK);
    assert!(never.body.contains("not been scored yet"), "{}", never.body);

    let refused = post(&mut owner, "/admin/segments", "/admin/segments/run", &[("window_months", "99")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("id=\"refused\""), "{}", refused.body);
    let asked = post(&mut owner, "/admin/segments", "/admin/segments/run", &[("window_months", "6")]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.headers["location"], "/admin/segments?done=rfm_queued");
    let queued = owner.get("/admin/segments?done=rfm_queued").await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.body);
    assert!(queued.body.contains("The scoring is queued"), "{}", queued.body);
    app.run_jobs().await;

    let page = owner.get("/admin/segments").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("over the last 6 months"), "{}", page.body);
    assert!(page.body.contains("id=\"members-scored\">3<"), "{}", page.body);
    assert_eq!(page.body.matches("<rect ").count(), 25, "one rect per cell");
    // Each cell of the API's grid shows its count in the table under the chart.
    let (_, api) = app.get("/api/v1/insights/rfm", &app.staff.owner).await;
    for cell in api["grid"].as_array().unwrap().iter().filter(|c| c["members"].as_i64() > Some(0)) {
        let td = format!("data-r=\"{}\" data-fm=\"{}\">{}<", cell["r"], cell["fm"], cell["members"]);
        assert!(page.body.contains(&td), "{td} in {}", page.body);
    }
    let segment = api["segments"].as_array().unwrap().iter().find(|s| s["members"].as_i64() > Some(0)).unwrap();
    let name = segment["segment"].as_str().unwrap();
    let listed = owner.get(&format!("/admin/segments?segment={name}")).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(
        listed.body.matches("href=\"/admin/members/").count(),
        usize::try_from(segment["members"].as_i64().unwrap()).unwrap()
    );
    let csv = owner.get(&format!("/admin/segments/members.csv?segment={name}")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.body.lines().count(), 1 + usize::try_from(segment["members"].as_i64().unwrap()).unwrap());
    let fr = owner.get("/admin/segments?lang=fr").await;
    assert!(fr.body.contains("Récence × fréquence-valeur"), "{}", fr.body);

    // The member's page shows their segment; unticking personalised offers there withdraws the
    // consent, and the score goes with it.
    let (_, scored) = app.get("/api/v1/insights/rfm/members", &app.staff.owner).await;
    let member = scored["members"][0]["customer_id"].as_str().unwrap().to_owned();
    let path = format!("/admin/members/{member}");
    let page = owner.get(&path).await;
    assert!(page.body.contains("id=\"rfm-segment\""), "{}", page.body);
    assert!(page.body.contains("id=\"consent-profiling\" checked"), "{}", page.body);
    let withdrawn = post(&mut owner, &path, &format!("{path}/consents"), &[("marketing_email", "on")]).await;
    assert_eq!(withdrawn.status, StatusCode::SEE_OTHER, "{}", withdrawn.body);
    assert_eq!(withdrawn.headers["location"].to_str().unwrap(), format!("{path}?done=consents"));
    let page = owner.get(&format!("{path}?done=consents&lang=en")).await;
    assert!(page.body.contains("Consents recorded.") && page.body.contains("id=\"rfm-none\""), "{}", page.body);
    let (_, detail) = app.get(&format!("/api/v1/customers/{member}"), &app.staff.owner).await;
    assert_eq!(detail["rfm"], serde_json::Value::Null, "{detail}");
    let consents = &detail["customer"]["consents"];
    assert_eq!(
        (
            &consents["profiling"]["granted"],
            &consents["marketing_email"]["granted"],
            &consents["marketing_sms"]["granted"]
        ),
        (&json!(false), &json!(true), &json!(false)),
        "{detail}"
    );
}

#[tokio::test]
async fn the_insights_page_draws_the_kpis_with_their_numbers_and_csv() {
    let app = spawn_app().await;
    let shop = app.staff.location_id.clone();
    for (k, cents) in [1_000, 2_500, 8_000].into_iter().enumerate() {
        let card = app.enrol(&format!("k{k}@example.fr")).await;
        let (status, _) =
            app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), cents, &format!("k-{k}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut owner = signed_in(&app, "owner@shop.test").await;
    let page = owner.get("/admin/insights").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"needs-totals\""), "no totals were sent: {}", page.body);
    assert!(page.body.contains("id=\"needs-point-value\""), "{}", page.body);

    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive().to_string();
    let body = json!({"date": today, "transactions": 12, "revenue_cents": 30_000});
    let (status, _) =
        app.post(&format!("/api/v1/locations/{shop}/sales-totals"), &app.staff.cashier, None, &body).await;
    assert_eq!(status, StatusCode::OK);
    let saved = post(
        &mut owner,
        "/admin/program",
        "/admin/program",
        &[
            ("name", "Boulangerie"),
            ("locale", "fr"),
            ("earn_points", "1"),
            ("earn_per", "1"),
            ("earn_rounding", "down"),
            ("point_value", "0,05"),
        ],
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, settings) = app.get("/api/v1/program", &app.staff.owner).await;
    assert_eq!(settings["point_value_cents"], 5, "{settings}");

    let page = owner.get("/admin/insights?granularity=week&lang=en").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let (_, api) = app.get("/api/v1/insights/kpis?granularity=week", &app.staff.owner).await;
    let periods = api["periods"].as_array().unwrap();
    assert_eq!(periods.len(), 12, "{api}");
    // Two bar charts (2 and 3 series per period) and the rate lines, each with its table: this
    // week has a repurchase rate (0: nobody bought twice) and an enrolment rate; no week had
    // buyers before it, so there is no retention to draw.
    assert_eq!(page.body.matches("<rect ").count(), periods.len() * 5, "{}", page.body);
    assert_eq!(page.body.matches("<polyline ").count(), 2, "{}", page.body);
    assert_eq!(page.body.matches("<circle ").count(), 2, "{}", page.body);
    let last = periods.last().unwrap();
    for key in ["members_total", "new_members", "active_members", "purchases", "points_issued", "points_held"] {
        let td = format!("data-k=\"{key}\">{}<", last[key]);
        assert!(page.body.contains(&td), "{td} in {}", page.body);
    }
    assert_eq!(
        (&last["active_members"], &last["purchases"], &last["sales_transactions"]),
        (&json!(3), &json!(3), &json!(12))
    );
    assert_eq!(last["enrolment_rate"], json!(0.25), "3 card sales of the 12 the till counted");
    assert!(page.body.contains("id=\"k-enrolment\">25.0 %<"), "{}", page.body);
    assert!(page.body.contains("id=\"roi-all\""), "{}", page.body);
    assert!(!page.body.contains("id=\"needs-totals\""));
    let held = last["points_held"].as_i64().unwrap();
    assert!(held > 0, "{last}");
    assert_eq!(last["liability_cents"], json!(held * 5), "5 cents a point: {last}");
    assert_eq!(api["point_value"], json!({"cents": 5, "per_points": 1, "source": "setting"}));
    assert!(!page.body.contains("id=\"needs-point-value\""));

    let csv = owner.get("/admin/insights/kpis.csv?granularity=week&table=points").await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "start,end,points_issued,points_redeemed,points_expired,redemption_rate,points_held,liability_cents,breakage_rate"
    );
    assert_eq!(lines.len(), 1 + periods.len());
    assert!(lines.last().unwrap().starts_with(&format!(
        "{},{},{}",
        last["start"].as_str().unwrap(),
        last["end"].as_str().unwrap(),
        last["points_issued"]
    )));

    let fr = owner.get("/admin/insights?lang=fr").await;
    assert!(fr.body.contains("Taux d&#x27;encartement") || fr.body.contains("Taux d'encartement"), "{}", fr.body);
    let refused = owner.get("/admin/insights?from=2026-05-01&to=2026-01-01").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"refused\"") && refused.body.contains("<svg"),
        "the default range is shown: {}",
        refused.body
    );
    let garbled = owner.get("/admin/insights?from=yesterday").await;
    assert_eq!(garbled.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", garbled.body);
    app.run_jobs().await;
}

#[tokio::test]
async fn a_segment_is_composed_previewed_saved_and_deleted_in_the_console() {
    let app = spawn_app().await;
    for (k, cents) in [2_000, 9_000].into_iter().enumerate() {
        let card = app.enrol(&format!("s{k}@example.fr")).await;
        let (status, _) =
            app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), cents, &format!("s-{k}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    app.enrol("never@example.fr").await;
    let mut owner = signed_in(&app, "owner@shop.test").await;
    let page = owner.get("/admin/segments/saved").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"none-saved\""), "{}", page.body);

    let path = "/admin/segments/saved";
    let fields = [("name", "Big spenders"), ("spend_months", "6"), ("spend_min", "50")];
    let previewed = post(&mut owner, path, path, &[fields.as_slice(), &[("intent", "preview")]].concat()).await;
    assert_eq!(previewed.status, StatusCode::OK, "{}", previewed.body);
    assert!(previewed.body.contains("id=\"preview-count\">1 member<"), "{}", previewed.body);
    assert!(previewed.body.contains("value=\"Big spenders\""), "the fields are kept: {}", previewed.body);
    assert_eq!(app.count("segments", "1=1").await, 0, "a preview saves nothing");

    let refused =
        post(&mut owner, path, path, &[("name", "Odd"), ("spend_min", "50"), ("spend_max", "10"), ("intent", "save")])
            .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"compose-error\"") && refused.body.contains("value=\"Odd\""),
        "{}",
        refused.body
    );

    let saved = post(&mut owner, path, path, &[fields.as_slice(), &[("intent", "save")]].concat()).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, list) = app.get("/api/v1/segments", &app.staff.owner).await;
    assert_eq!(list[0]["rule"], json!({"spend": {"months": 6, "min_cents": 5000}}), "{list}");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let page = owner.get(&format!("{path}?done=segment_saved&lang=en")).await;
    assert!(page.body.contains("Segment saved."), "{}", page.body);
    assert!(page.body.contains(&format!("id=\"saved-{id}\"")) && page.body.contains("data-count>1<"), "{}", page.body);
    assert!(page.body.contains("spent €50.00 to ∞ in the last 6 months"), "{}", page.body);
    let fr = owner.get(&format!("{path}?lang=fr")).await;
    assert!(fr.body.contains("sur les 6 derniers mois"), "{}", fr.body);

    let deleted = post(&mut owner, path, &format!("{path}/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(app.count("segments", "1=1").await, 0);
    app.run_jobs().await;
}
