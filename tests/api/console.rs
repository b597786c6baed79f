//! The merchant console (`/admin`), driven as a browser without JavaScript would: forms posted
//! with their CSRF token, the session cookie kept, each page's answer checked.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_app};
use crate::pages::{Page, Phone, mails};

/// A browser signed in to the console as `email`.
pub(crate) async fn signed_in<'a>(app: &'a TestApp, email: &str) -> Phone<'a> {
    let mut browser = Phone::new(app, "en");
    let page = browser.submit("/admin/login", &[("email", email), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.headers["location"], "/admin");
    let cookie = page.set_cookie("encarte_console").expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    browser
}

/// Opens `path`, posts its form `form_id`'s action with `fields` and the page's CSRF token.
pub(crate) async fn post(browser: &mut Phone<'_>, path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let csrf = browser.get(path).await.csrf();
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post(action, &form).await
}

#[tokio::test]
async fn signing_in_sends_owners_to_the_console_and_cashiers_to_the_till() {
    let app = spawn_app().await;
    let mut stranger = Phone::new(&app, "en");
    let page = stranger.get("/admin/members?query=zo").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.headers["location"], "/admin/login?next=/admin/members%3Fquery%3Dzo");

    let wrong = stranger.submit("/admin/login", &[("email", "owner@shop.test"), ("password", "nope")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("id=\"login-error\">Wrong e-mail or password."), "{}", wrong.body);
    let csrf = stranger.get("/admin/login").await.csrf();
    let forged = stranger
        .post(
            "/admin/login",
            &[("csrf", "x".repeat(32).as_str()), ("email", "owner@shop.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a wrong CSRF token");
    let cashier =
        stranger.post("/admin/login", &[("csrf", &csrf), ("email", "cashier@shop.test"), ("password", PASSWORD)]).await;
    assert_eq!((cashier.status, cashier.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/staff"));
    assert!(cashier.set_cookie("encarte_console").is_none(), "no console session for a cashier");

    let mut owner = signed_in(&app, "owner@shop.test").await;
    let home = owner.get("/admin").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert!(home.body.contains("id=\"today-new-members\">0<"), "{}", home.body);
    assert!(home.body.contains("attention-google_wallet_off"));
    assert_eq!(home.headers["x-content-type-options"], "nosniff");
    assert!(home.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));

    // Figures move with the day's activity.
    let card = app.enrol("zoe@example.fr").await;
    app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 2500, "k-1").await;
    let home = owner.get("/admin?lang=fr").await;
    assert!(
        home.body.contains("id=\"today-new-members\">1<") && home.body.contains("id=\"today-points-issued\">25<"),
        "{}",
        home.body
    );
    assert!(home.body.contains("Nouveaux membres"), "in French");

    // Signing out ends the session on the server, not only in this browser.
    let session = owner.cookies["encarte_console"].clone();
    let out = post(&mut owner, "/admin", "/admin/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let mut replay = Phone::new(&app, "en");
    replay.cookies.insert("encarte_console".into(), session);
    assert_eq!(replay.get("/admin").await.status, StatusCode::SEE_OTHER);
    app.run_jobs().await;
}

#[tokio::test]
async fn disabling_a_manager_or_signing_out_everywhere_ends_their_console_sessions() {
    let app = spawn_app().await;
    let mut manager = signed_in(&app, "manager@shop.test").await;
    let mut owner = signed_in(&app, "owner@shop.test").await;
    assert_eq!(manager.get("/admin/program").await.status, StatusCode::OK);
    let (_, staff) = app.get("/api/v1/staff", &app.staff.owner).await;
    let id = staff.as_array().unwrap().iter().find(|s| s["email"] == "manager@shop.test").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let disabled = post(&mut owner, "/admin/shops", &format!("/admin/staff/{id}/disable"), &[]).await;
    assert_eq!(disabled.status, StatusCode::SEE_OTHER, "{}", disabled.body);
    assert_eq!(manager.get("/admin/program").await.status, StatusCode::SEE_OTHER, "sent to sign in");

    let mut other_browser = signed_in(&app, "owner@shop.test").await;
    let out = post(&mut owner, "/admin", "/admin/logout-everywhere", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(other_browser.get("/admin").await.status, StatusCode::SEE_OTHER);
    let (status, _) = app.get("/api/v1/program", &app.staff.owner).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the owner's API tokens too");
}

#[tokio::test]
async fn the_programme_page_saves_each_section_and_shows_a_refusal_at_its_form() {
    let app = spawn_app().await;
    let mut owner = signed_in(&app, "owner@shop.test").await;
    let page = owner.get("/admin/program").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Example: €12.50 → 12 points"), "{}", page.body);

    let settings = [
        ("name", "Café Zoé"),
        ("locale", "fr"),
        ("time_zone", "Europe/Paris"),
        ("currency", "EUR"),
        ("earn_points", "2"),
        ("earn_per", "1,00"),
        ("earn_min", ""),
        ("earn_rounding", "nearest"),
        ("terms_text", "Points valid 12 months."),
        ("public_enrolment", "on"),
    ];
    let saved = post(&mut owner, "/admin/program", "/admin/program", &settings).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, program) = app.get("/api/v1/program", &app.staff.owner).await;
    assert_eq!(
        (&program["name"], &program["earn_points"], &program["earn_rounding"]),
        (&json!("Café Zoé"), &json!(2), &json!("nearest"))
    );
    assert_eq!(program["terms_text"], "Points valid 12 months.");

    let mut bad = settings;
    bad[4] = ("earn_points", "-3");
    let refused = post(&mut owner, "/admin/program", "/admin/program", &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"settings-error\""), "{}", refused.body);
    assert!(refused.body.contains("value=\"-3\""), "what was typed stays");
    bad[4] = ("earn_points", "2");
    bad[2] = ("time_zone", "Mars/Olympus");
    let refused = post(&mut owner, "/admin/program", "/admin/program", &bad).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("<strong>time_zone</strong>"), "{}", refused.body);

    let tiers = [
        ("tier_0_key", "base"),
        ("tier_0_name", "Base"),
        ("tier_0_multiplier", "100"),
        ("tier_0_window", "12"),
        ("tier_0_keep", "12"),
        ("tier_1_key", "gold"),
        ("tier_1_name", "Gold"),
        ("tier_1_name_fr", "Or"),
        ("tier_1_multiplier", "150"),
        ("tier_1_spend", "200"),
        ("tier_1_visits", "5"),
        ("tier_1_combine", "any"),
        ("tier_1_window", "12"),
        ("tier_1_keep", "6"),
    ];
    let saved = post(&mut owner, "/admin/program", "/admin/program/tiers", &tiers).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let (_, stored) = app.get("/api/v1/program/tiers", &app.staff.owner).await;
    assert_eq!(
        stored[1]["qualify"],
        json!({"any_of": [{"metric": "spend_cents", "at_least": 20000}, {"metric": "visits", "at_least": 5}]})
    );
    assert_eq!((&stored[1]["earn_multiplier_percent"], &stored[1]["keep_months"]), (&json!(150), &json!(6)));
    let page = owner.get("/admin/program").await;
    assert!(page.body.contains("value=\"200.00\""), "amounts shown as typed: {}", page.body);

    let reward = [
        ("name", "A free coffee"),
        ("cost_points", "80"),
        ("kind", "item"),
        ("value", "a coffee"),
        ("validity_days", "30"),
    ];
    assert_eq!(
        post(&mut owner, "/admin/program", "/admin/program/rewards", &reward).await.status,
        StatusCode::SEE_OTHER
    );
    let expiry = [("mode", "after_earning"), ("months", "12"), ("round", "end_of_month")];
    assert_eq!(
        post(&mut owner, "/admin/program", "/admin/program/expiry", &expiry).await.status,
        StatusCode::SEE_OTHER
    );
    let (_, rule) = app.get("/api/v1/program/expiry", &app.staff.owner).await;
    assert_eq!((&rule["mode"], &rule["months"]), (&json!("after_earning"), &json!(12)));
    let conversion = [
        ("mode", "threshold"),
        ("threshold_points", "100"),
        ("block_points", "100"),
        ("value", "5"),
        ("validity_days", "60"),
    ];
    assert_eq!(
        post(&mut owner, "/admin/program", "/admin/program/conversion", &conversion).await.status,
        StatusCode::SEE_OTHER
    );
    let (_, conv) = app.get("/api/v1/program/conversion", &app.staff.owner).await;
    assert_eq!(conv["value_cents_per_block"], 500);
    let page = owner.get("/admin/program?done=saved").await;
    assert!(page.body.contains("A free coffee") && page.body.contains("id=\"flash\""));
    // Each of these writes is in the audit log, by the owner.
    let (_, log) = app.get("/api/v1/audit", &app.staff.owner).await;
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["program.conversion", "program.expiry", "reward.create", "program.tiers", "program.update"]);
    app.run_jobs().await;
}

#[tokio::test]
async fn shops_staff_members_promos_and_referral_pages_work_end_to_end() {
    let app = spawn_app().await;
    let mut owner = signed_in(&app, "owner@shop.test").await;
    let added =
        post(&mut owner, "/admin/shops", "/admin/shops", &[("name", "Lyon"), ("address", "1 place Bellecour")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let invited = post(
        &mut owner,
        "/admin/shops",
        "/admin/staff",
        &[("email", "lea@shop.test"), ("role", "cashier"), ("location_id", "")],
    )
    .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.body);
    assert_eq!(mails(&app, "staff_invitation").await.len(), 1);
    let dup =
        post(&mut owner, "/admin/shops", "/admin/staff", &[("email", "lea@shop.test"), ("role", "cashier")]).await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.body.contains("id=\"staff-error\""));
    let page = owner.get("/admin/shops").await;
    assert!(page.body.contains("lea@shop.test") && page.body.contains("1 place Bellecour"), "{}", page.body);

    // The invitation's page sets the password once and lands a cashier at the till.
    let id = mails(&app, "staff_invitation").await[0]["invitation_id"].as_str().unwrap().to_owned();
    let path = encarte::service::staff::invitation_path(&app.deps.link_key, &id);
    let mut lea = Phone::new(&app, "fr");
    let form = lea.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Choisissez votre mot de passe"));
    assert!(
        form.body.contains("<title>Choisissez votre mot de passe · Shop shop</title>"),
        "the shop's name: {}",
        form.body
    );
    let csrf = form.csrf();
    let short = lea.post(&path, &[("csrf", &csrf), ("password", "court"), ("password_again", "court")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = lea
        .post(&path, &[("csrf", &csrf), ("password", "un mot de passe sûr"), ("password_again", "un mot de passe sûr")])
        .await;
    assert_eq!((done.status, done.headers["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/staff"));
    assert_eq!(lea.get(&path).await.status, StatusCode::GONE, "once");

    // Members: found, adjusted once even if the form is sent twice, blocked, erased.
    let card = app.enrol("zoe@example.fr").await;
    let found = owner.get("/admin/members?query=zoe").await;
    assert!(found.body.contains("zoe@example.fr"), "{}", found.body);
    let customer = card["customer_id"].as_str().unwrap();
    let member_path = format!("/admin/members/{customer}");
    let page = owner.get(&member_path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let idem = page.body.split("name=\"idem\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let csrf = page.csrf();
    for _ in 0..2 {
        let adjusted = owner
            .post(
                &format!("{member_path}/adjust"),
                &[("csrf", &csrf), ("idem", &idem), ("points", "40"), ("reason", "welcome gift")],
            )
            .await;
        assert_eq!(adjusted.status, StatusCode::SEE_OTHER, "{}", adjusted.body);
    }
    assert_eq!(app.balance(card["id"].as_str().unwrap()).await, 40, "a resent form applies once");
    let page = owner.get(&member_path).await;
    assert!(page.body.contains("id=\"balance\">40<") && page.body.contains("welcome gift"), "{}", page.body);
    let refused = post(
        &mut owner,
        &member_path,
        &format!("{member_path}/adjust"),
        &[("idem", "other"), ("points", "5"), ("reason", "")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"adjust-error\""));
    assert_eq!(
        post(&mut owner, &member_path, &format!("{member_path}/block"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.count("cards", "status = 'blocked'").await, 1);
    assert_eq!(
        post(&mut owner, &member_path, &format!("{member_path}/card-link"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(mails(&app, "welcome").await.len(), 2, "the card link again");
    let export = owner.get(&format!("{member_path}/export")).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert!(export.body.contains("\"email\":\"zoe@example.fr\""), "{}", export.body);
    let erased = post(&mut owner, &member_path, &format!("{member_path}/erase"), &[("reason", "asked by phone")]).await;
    assert_eq!(erased.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("customers", "erased_at IS NOT NULL").await, 1);

    // Promo codes: a shared code with its rules, then paused; a pool and its CSV.
    let campaign = [
        ("name", "Soldes"),
        ("kind", "shared"),
        ("code", "SOLDES10"),
        ("effect", "percent_off"),
        ("effect_value", "10"),
        ("min_purchase", "20,00"),
        ("max_redemptions", "50"),
        ("max_per_customer", "1"),
        ("starts_at", "2026-12-24T09:00"),
        ("day_6", "on"),
        ("day_7", "on"),
        ("hour_from", "9"),
        ("hour_to", "19"),
    ];
    let created = post(&mut owner, "/admin/promos", "/admin/promos", &campaign).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.headers["location"].to_str().unwrap().split('?').next().unwrap().to_owned();
    let (_, list) = app.get("/api/v1/promo-campaigns", &app.staff.owner).await;
    let soldes = &list.as_array().unwrap()[0];
    assert_eq!(
        (&soldes["code"], &soldes["min_purchase_cents"], &soldes["days_of_week"]),
        (&json!("SOLDES10"), &json!(2000), &json!([6, 7]))
    );
    assert_eq!(soldes["starts_at"], "2026-12-24T08:00:00.000Z", "read in the programme's time zone");
    assert_eq!(soldes["hours"], json!({"from": 9, "to": 19}));
    let page = owner.get(&location).await;
    assert!(page.body.contains("id=\"campaign-code\">SOLDES10<"), "{}", page.body);
    assert_eq!(post(&mut owner, &location, &format!("{location}/pause"), &[]).await.status, StatusCode::SEE_OTHER);
    assert!(owner.get(&location).await.body.contains("id=\"campaign-status\">paused<"));
    let bad = post(
        &mut owner,
        "/admin/promos",
        "/admin/promos",
        &[("name", "x"), ("kind", "shared"), ("code", "AB"), ("effect", "bonus_points"), ("effect_value", "10")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"campaign-error\""), "{}", bad.body);
    let pool = [
        ("name", "Flyers"),
        ("kind", "pool"),
        ("pool_count", "20"),
        ("pool_prefix", "FLY"),
        ("effect", "bonus_points"),
        ("effect_value", "50"),
    ];
    let created = post(&mut owner, "/admin/promos", "/admin/promos", &pool).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.headers["location"].to_str().unwrap().split('?').next().unwrap().to_owned();
    let csv = owner.get(&format!("{location}/codes.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.body.lines().count(), 21, "a header and 20 codes: {}", csv.body);

    // Referral: the rules saved from the form, the figures shown.
    let rules = [
        ("enabled", "on"),
        ("referrer_points", "100"),
        ("referee_points", "50"),
        ("min_purchase", "10"),
        ("window_days", "30"),
        ("clawback", "on"),
    ];
    assert_eq!(post(&mut owner, "/admin/referral", "/admin/referral", &rules).await.status, StatusCode::SEE_OTHER);
    let (_, settings) = app.get("/api/v1/program/referral", &app.staff.owner).await;
    assert_eq!(
        (&settings["enabled"], &settings["min_purchase_cents"], &settings["referee_points"]),
        (&json!(true), &json!(1000), &json!(50))
    );
    assert!(owner.get("/admin/referral").await.body.contains("id=\"referred\">0<"));
    app.run_jobs().await;
}

/// A solid PNG of `w`×`h` pixels.
fn png(w: u32, h: u32, rgba: [u8; 4]) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba(rgba));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// Posts the design form as a browser does: multipart/form-data, with the session cookie.
async fn post_design(
    app: &TestApp,
    browser: &mut Phone<'_>,
    fields: &[(&str, &str)],
    files: &[(&str, Vec<u8>)],
) -> (StatusCode, String) {
    let csrf = browser.get("/admin/design").await.csrf();
    let boundary = "----encarte-test-boundary";
    let mut body = Vec::new();
    for (name, value) in [("csrf", csrf.as_str())].iter().chain(fields) {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let jar: Vec<String> = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/admin/design"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .header("cookie", jar.join("; "))
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

fn zip_file(pkpass: &[u8], name: &str) -> Vec<u8> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(pkpass)).unwrap();
    let mut file = archive.by_name(name).unwrap();
    let mut out = Vec::new();
    file.read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn a_design_made_in_the_console_is_previewed_then_published_on_every_pass() {
    let app = spawn_app().await;
    let card = app.enrol("zoe@example.fr").await;
    let mut owner = signed_in(&app, "owner@shop.test").await;
    let page = owner.get("/admin/design").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"pass-preview\""));

    let colours = [
        ("background_color", "#123456"),
        ("foreground_color", "#ffffff"),
        ("label_color", "#ffcc00"),
        ("logo_text", "Chez Zoé"),
    ];
    let (status, body) = post_design(&app, &mut owner, &colours, &[("logo", b"GIF89a not a png".to_vec())]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("id=\"design-error\"") && body.contains("a PNG file"), "{body}");
    let (status, body) = post_design(&app, &mut owner, &colours, &[("logo", png(100, 20, [0, 0, 0, 255]))]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "too small: {body}");
    let (status, body) = post_design(&app, &mut owner, &[("background_color", "blue")], &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = post_design(
        &app,
        &mut owner,
        &colours,
        &[("logo", png(960, 300, [220, 20, 60, 255])), ("strip", png(2250, 864, [0, 128, 0, 255]))],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let page = owner.get("/admin/design").await;
    assert!(page.body.contains("id=\"unpublished\"") && page.body.contains("value=\"#123456\""), "{}", page.body);
    let css = owner.get("/admin/design/preview.css").await;
    assert!(css.body.contains("--bg: #123456"), "{}", css.body);
    let logo = owner.get("/admin/design/draft/logo@2x.png").await;
    assert_eq!(logo.status, StatusCode::OK);
    // Before publishing, passes are as they were.
    let pass_path = format!("/api/v1/cards/{}/pass.pkpass", card["id"].as_str().unwrap());
    let download = |app: &TestApp| {
        let req = app.client.get(app.url(&pass_path)).bearer_auth(&app.staff.owner);
        async move { req.send().await.unwrap().bytes().await.unwrap().to_vec() }
    };
    let before = download(&app).await;
    let default_logo =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/passes/default/logo.png"))
            .unwrap();
    assert_eq!(zip_file(&before, "logo.png"), default_logo);

    let csrf = owner.get("/admin/design").await.csrf();
    let published = owner.post("/admin/design/publish", &[("csrf", &csrf)]).await;
    assert_eq!(
        (published.status, published.headers["location"].to_str().unwrap()),
        (StatusCode::SEE_OTHER, "/admin/design?done=published")
    );
    assert_eq!(app.count("programs", "pass_design = '@console'").await, 1);
    assert_eq!(
        app.count("outbox_jobs", "kind = 'passes_refresh' AND state = 'pending'").await,
        1,
        "every pass is redrawn"
    );
    app.run_jobs().await;
    assert_eq!(app.count("outbox_jobs", "kind = 'passes_refresh' AND state = 'pending'").await, 0);

    let after = download(&app).await;
    let logo = zip_file(&after, "logo.png");
    assert_ne!(logo, default_logo);
    let decoded = image::load_from_memory(&logo).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (160, 50), "1x of a 960×300 logo");
    let pass: serde_json::Value = serde_json::from_slice(&zip_file(&after, "pass.json")).unwrap();
    assert_eq!((&pass["backgroundColor"], &pass["logoText"]), (&json!("rgb(18, 52, 86)"), &json!("Chez Zoé")));
    let strip = image::load_from_memory(&zip_file(&after, "strip@3x.png")).unwrap();
    assert_eq!((strip.width(), strip.height()), (1125, 432));
    assert!(!owner.get("/admin/design").await.body.contains("id=\"unpublished\""));
    let (_, log) = app.get("/api/v1/audit", &app.staff.owner).await;
    let actions: Vec<&str> = log["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["design.publish", "design.draft"]);
    let (_, api) = app.get("/api/v1/program/pass-design", &app.staff.owner).await;
    assert_eq!(api["design"], "@console");
}

#[tokio::test]
async fn every_console_page_with_its_assets_weighs_under_150_kb_in_both_languages() {
    let app = spawn_app().await;
    let card = app.enrol("zoe@example.fr").await;
    let mut owner = signed_in(&app, "owner@shop.test").await;
    let member = format!("/admin/members/{}", card["customer_id"].as_str().unwrap());
    let assets: usize = ["/assets/admin.css", "/assets/admin.js"]
        .iter()
        .map(|a| async { owner_len(&app, a).await })
        .collect::<futures::future::JoinAll<_>>()
        .await
        .into_iter()
        .sum();
    for lang in ["en", "fr"] {
        for path in [
            "/admin",
            "/admin/program",
            "/admin/design",
            "/admin/shops",
            "/admin/members",
            &member,
            "/admin/promos",
            "/admin/referral",
            "/admin/insights",
            "/admin/segments",
            "/admin/segments/saved",
            "/admin/password",
        ] {
            let page = owner.get(&format!("{path}?lang={lang}")).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            assert!(page.body.contains(&format!("<html lang=\"{lang}\">")), "{path}");
            assert!(page.body.contains("name=\"viewport\" content=\"width=device-width"), "{path}");
            assert!(
                !page.body.contains("http://") && !page.body.contains("https://"),
                "{path}: nothing from elsewhere"
            );
            let weight = page.body.len() + assets;
            assert!(weight < 150_000, "{path} in {lang}: {weight} bytes");
        }
    }
    app.run_jobs().await;
}

async fn owner_len(app: &TestApp, path: &str) -> usize {
    app.client.get(app.url(path)).send().await.unwrap().bytes().await.unwrap().len()
}
