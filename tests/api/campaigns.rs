//! Campaigns to a segment: the dry run's reach, a send interrupted and resumed that reaches each
//! member once, the holdout kept out, e-mail only with consent, private codes, one-click unsubscribe.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::apple_wallet::staff_pass_json;
use crate::helpers::{code, spawn_app};

const MEMBERS: usize = 300;

fn held_out(campaign: &str, card: &str, percent: u64) -> bool {
    let digest = openssl::sha::sha256(format!("{campaign}\n{card}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap()) % 100 < percent
}

#[tokio::test]
async fn a_campaign_reaches_each_member_once_with_consent_and_keeps_its_holdout_out() {
    let app = spawn_app().await;
    app.jobs_may_stay(); // Apple pushes go to an APNs nobody runs here.
    let manager = app.staff.manager.clone();
    let mut cards: Vec<(Value, bool, bool)> = Vec::new();
    for i in 0..MEMBERS {
        let consent = i % 3 == 0;
        let body = json!({"email": format!("m{i}@example.fr"), "first_name": "Zoé",
            "consents": {"marketing_email": consent}});
        let (status, res) = app.post("/api/v1/customers", &app.staff.cashier, None, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{res}");
        let card = res["card"].clone();
        let apple = i % 5 == 0;
        if apple {
            app.exec(&format!(
                "INSERT INTO apple_registrations (device_library_id, pass_type_id, serial, program_id, card_id, \
                 push_token, created_at, updated_at) VALUES ('dev{i}', 'pass.test', '{}', '{}', '{}', 'tok{i}', \
                 CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                card["serial"].as_str().unwrap(),
                app.staff.program_id,
                card["id"].as_str().unwrap()
            ))
            .await;
        }
        cards.push((card, consent, apple));
    }
    let (status, segment) =
        app.post("/api/v1/segments", &manager, None, &json!({"name": "Everyone", "rule": {}})).await;
    assert_eq!(status, StatusCode::CREATED, "{segment}");
    let (status, promo) = app
        .post(
            "/api/v1/promo-campaigns",
            &manager,
            None,
            &json!({"name": "Private sale", "pool": {"count": 400, "prefix": "VIP"}, "effect": {"bonus_points": 20}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{promo}");

    let input = json!({"name": "Private sale", "segment_id": segment["id"],
        "message": {"title": "Private sale", "body": "Members only, this weekend.",
                    "title_fr": "Vente privée", "body_fr": "Réservée aux membres, ce week-end."},
        "channels": ["wallet", "email"], "offer": {"promo_campaign_id": promo["id"]}});
    let (status, refused) = app
        .post(
            "/api/v1/campaigns",
            &manager,
            None,
            &json!({"name": "x", "segment_id": "nope",
            "message": {"title": "t", "body": "b"}, "channels": ["wallet"]}),
        )
        .await;
    assert_eq!((status, code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "segment_not_found"));
    let (status, refused) = app.post("/api/v1/campaigns", &app.staff.cashier, None, &input).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, campaign) = app.post("/api/v1/campaigns", &manager, Some("campaign-1"), &input).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    assert_eq!((campaign["state"].as_str(), campaign["holdout_percent"].as_i64()), (Some("draft"), Some(10)));
    let (_, again) = app.post("/api/v1/campaigns", &manager, Some("campaign-1"), &input).await;
    assert_eq!(again["id"], campaign["id"], "a retried create is the same campaign");
    let id = campaign["id"].as_str().unwrap().to_owned();

    // What the test expects, from the raw facts.
    let targeted: Vec<&(Value, bool, bool)> =
        cards.iter().filter(|(c, _, _)| !held_out(&id, c["id"].as_str().unwrap(), 10)).collect();
    let holdout = MEMBERS - targeted.len();
    let emails = targeted.iter().filter(|(_, consent, _)| *consent).count();
    let apples = targeted.iter().filter(|(_, _, apple)| *apple).count();
    let reached = targeted.iter().filter(|(_, consent, apple)| *consent || *apple).count();
    assert!(holdout > 10 && holdout < 60, "{holdout}");

    let (status, reach) = app.post(&format!("/api/v1/campaigns/{id}/preview"), &manager, None, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reach}");
    assert_eq!(
        reach,
        json!({"members": MEMBERS, "holdout": holdout, "targeted": targeted.len(),
            "wallet": {"apple_passes": apples, "google_passes": 0, "google_notify": 0, "google_silent": 0},
            "email": {"consented": emails, "not_consented": targeted.len() - emails},
            "unreachable": targeted.len() - reached, "codes_available": 400})
    );

    let (status, scheduled) = app.post(&format!("/api/v1/campaigns/{id}/schedule"), &manager, None, &json!({})).await;
    assert_eq!((status, scheduled["state"].as_str()), (StatusCode::OK, Some("scheduled")), "{scheduled}");

    // A sender that dies after its snapshot and one chunk: the job goes on from there.
    let program = app.staff.program_id.clone();
    for _ in 0..2 {
        let (p, c) = (program.clone(), id.clone());
        app.db.write(move |conn| encarte::service::campaigns::send::step(conn, &p, &c, 40)).await.unwrap();
    }
    app.run_jobs().await;
    // A second node running the same send later finds nothing left to do.
    let (p, c) = (program.clone(), id.clone());
    let step = app.db.write(move |conn| encarte::service::campaigns::send::step(conn, &p, &c, 40)).await.unwrap();
    assert_eq!(step, encarte::service::campaigns::send::Step::Idle);
    app.run_jobs().await;

    let (status, detail) = app.get(&format!("/api/v1/campaigns/{id}"), &manager).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["campaign"]["state"], "sent");
    let report = &detail["report"];
    assert_eq!(
        (report["members"].as_u64(), report["holdout"].as_u64(), report["pending"].as_u64()),
        (Some(MEMBERS as u64), Some(holdout as u64), Some(0))
    );
    assert_eq!(report["delivered"].as_u64(), Some(reached as u64), "{report}");
    assert_eq!(report["apple_passes"].as_u64(), Some(apples as u64));
    assert_eq!(report["emails"].as_u64(), Some(emails as u64));
    assert_eq!(report["offers_given"].as_u64(), Some(reached as u64));
    assert_eq!(report["skipped"], json!({"no_channel": targeted.len() - reached}));
    assert_eq!(report["email_skipped"], json!({"no_consent": targeted.len() - emails}));
    assert_eq!(detail["results"]["holdout"]["members"].as_u64(), Some(holdout as u64));
    assert_eq!(detail["results"]["complete"], false);

    // Each consenting targeted member got exactly one e-mail; nobody else got one.
    let mails: Vec<String> = app.sent_mails().into_iter().filter(|m| m.contains("List-Unsubscribe-Post")).collect();
    assert_eq!(mails.len(), emails);
    let to: HashSet<String> =
        mails.iter().filter_map(|m| m.lines().find(|l| l.starts_with("To:")).map(str::to_owned)).collect();
    assert_eq!(to.len(), emails, "one e-mail per member");
    let expected: HashSet<String> = targeted
        .iter()
        .filter(|(_, consent, _)| *consent)
        .map(|(c, _, _)| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        app.count("campaign_members", &format!("campaign_id = '{id}' AND email = 'queued'")).await,
        i64::try_from(expected.len()).unwrap()
    );
    assert_eq!(app.count("promo_codes", "assigned_card_id IS NOT NULL").await, i64::try_from(reached).unwrap());

    // A reached Apple holder's pass shows the message and their own code.
    let (apple_card, _, _) = targeted.iter().find(|(_, _, apple)| *apple).unwrap();
    let pass = staff_pass_json(&app, apple_card["id"].as_str().unwrap()).await;
    let back = pass["storeCard"]["backFields"].as_array().unwrap();
    let message = back.iter().find(|f| f["key"] == "message").expect("a message field");
    assert!(
        message["value"].as_str().unwrap().starts_with("Vente privée\n")
            || message["value"].as_str().unwrap().starts_with("Private sale\n"),
        "{message}"
    );
    assert!(message["value"].as_str().unwrap().contains("VIP"), "{message}");
    assert_eq!(message["changeMessage"], "encarte.message.changed");

    // The unsubscribe link: a page, then one POST withdraws the consent, once.
    let mail = &mails[0];
    let line = mail.lines().find(|l| l.starts_with("List-Unsubscribe:")).unwrap();
    let url = line.trim_start_matches("List-Unsubscribe:").trim().trim_start_matches('<').trim_end_matches('>');
    let path = url.split_once("/unsubscribe/").map(|(_, t)| format!("/unsubscribe/{t}")).unwrap();
    let page = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("unsubscribe-submit"));
    let before = app.count("customer_consents", "channel = 'unsubscribe_link'").await;
    assert_eq!(before, 0);
    for _ in 0..2 {
        let done = app
            .client
            .post(app.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        assert!(done.text().await.unwrap().contains("id=\"unsubscribed\""));
    }
    assert_eq!(app.count("customer_consents", "channel = 'unsubscribe_link' AND granted = false").await, 1);
    let forged = app.client.post(app.url(&format!("{path}x"))).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_campaign_moved_later_is_sent_then_and_a_cancelled_one_never() {
    let app = spawn_app().await;
    let manager = app.staff.manager.clone();
    app.enrol("one@example.fr").await;
    let (_, segment) = app.post("/api/v1/segments", &manager, None, &json!({"name": "All", "rule": {}})).await;
    let at = |hours: i64| (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339();
    let input = json!({"name": "Later", "segment_id": segment["id"], "message": {"title": "t", "body": "b"},
        "channels": ["wallet"], "send_at": at(1)});
    let (status, campaign) = app.post("/api/v1/campaigns", &manager, None, &input).await;
    assert_eq!((status, campaign["state"].as_str()), (StatusCode::CREATED, Some("scheduled")), "{campaign}");
    let id = campaign["id"].as_str().unwrap();
    let (status, moved) =
        app.post(&format!("/api/v1/campaigns/{id}/schedule"), &manager, None, &json!({"send_at": at(2)})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    // The job queued for the first time comes due: it sends nothing and waits for the new time.
    app.exec("UPDATE outbox_jobs SET run_at = created_at WHERE kind = 'campaign_send'").await;
    app.run_jobs().await;
    let (_, detail) = app.get(&format!("/api/v1/campaigns/{id}"), &manager).await;
    assert_eq!((detail["campaign"]["state"].as_str(), &detail["report"]), (Some("scheduled"), &Value::Null));
    assert_eq!(app.count("outbox_jobs", "kind = 'campaign_send' AND state = 'pending'").await, 1);

    let (status, cancelled) = app.post(&format!("/api/v1/campaigns/{id}/cancel"), &manager, None, &json!({})).await;
    assert_eq!((status, cancelled["state"].as_str()), (StatusCode::OK, Some("cancelled")));
    let (status, refused) = app.post(&format!("/api/v1/campaigns/{id}/schedule"), &manager, None, &json!({})).await;
    assert_eq!((status, code(&refused)), (StatusCode::CONFLICT, "campaign_started"));
    app.exec("UPDATE outbox_jobs SET run_at = created_at WHERE kind = 'campaign_send'").await;
    app.run_jobs().await;
    assert_eq!(app.count("campaign_members", "1 = 1").await, 0, "a cancelled campaign takes no snapshot");
}
