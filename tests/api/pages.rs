//! The customer pages over HTTP, as a phone's browser sees them: enrolment with CSRF and inline
//! errors, no leak of who is enrolled, magic-link login, sessions, the card page, referral links.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app};

/// A browser in miniature: keeps cookies, never follows redirects.
pub(crate) struct Phone<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
    lang: &'static str,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The value of the form's hidden CSRF field.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        self.body[at..].split('"').next().unwrap().to_owned()
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

impl<'a> Phone<'a> {
    pub(crate) fn new(app: &'a TestApp, lang: &'static str) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Phone { app, client, cookies: BTreeMap::new(), lang }
    }

    async fn request(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = self.client.request(method, self.app.url(path)).header("Accept-Language", self.lang);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req = req.header(reqwest::header::COOKIE, jar.join("; "));
        }
        if let Some(form) = form {
            let body: String = form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
            req = req.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        let res = req.send().await.expect("request sent");
        let (status, headers) = (res.status(), res.headers().clone());
        for value in headers.get_all(reqwest::header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        // minijinja escapes '/' in attributes (harmless); compare with the URL as the browser reads it.
        Page { status, headers, body: res.text().await.unwrap().replace("&#x2f;", "/") }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(Method::POST, path, Some(form)).await
    }

    /// Opens the form at `path` and posts it with its CSRF token and `fields`.
    pub(crate) async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.get(path).await.csrf();
        let mut form = vec![("csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.post(path, &form).await
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The payloads of the queued e-mails of one template, oldest first.
async fn mails(app: &TestApp, template: &str) -> Vec<serde_json::Value> {
    use diesel::prelude::*;
    use encarte::db::schema::outbox_jobs;
    let rows: Vec<String> = app
        .db
        .read(|c| {
            Ok(outbox_jobs::table
                .filter(outbox_jobs::kind.eq("email"))
                .order(outbox_jobs::id)
                .select(outbox_jobs::payload)
                .load(c)?)
        })
        .await
        .unwrap();
    rows.iter()
        .map(|p| serde_json::from_str::<serde_json::Value>(p).unwrap())
        .filter(|p| p["template"] == template)
        .collect()
}

const ZOE: [(&str, &str); 3] = [("first_name", "Zoé"), ("email", "zoe@example.fr"), ("consent_terms", "on")];

#[tokio::test]
async fn the_program_page_is_light_safe_and_in_the_visitors_language() {
    let app = spawn_app().await;
    let mut en = Phone::new(&app, "en-GB,en;q=0.9");
    let page = en.get("/p/shop").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Join Shop shop</h1>"), "{}", page.body);
    assert!(page.body.len() < 100 * 1024, "{} bytes", page.body.len());
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    let cookie = page.set_cookie("csrf").expect("a CSRF cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    // The stylesheet it links is served, cacheable, under its version.
    let css = page.body.split("href=\"/assets/site.css?v=").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let res = app.client.get(app.url(&format!("/assets/site.css?v={css}"))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");

    let mut fr = Phone::new(&app, "fr-FR");
    assert!(fr.get("/p/shop").await.body.contains("<h1>Rejoignez Shop shop</h1>"));
    // The switch wins over the header, and is remembered.
    let switched = fr.get("/p/shop?lang=en").await;
    assert!(switched.body.contains("<h1>Join Shop shop</h1>"));
    assert!(fr.get("/p/shop").await.body.contains("<h1>Join Shop shop</h1>"));

    let missing = en.get("/p/nowhere").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
    // A mistyped address: a page for a browser, JSON for an API client.
    let typo = app.client.get(app.url("/nowhere")).header("accept", "text/html,*/*").send().await.unwrap();
    assert_eq!(typo.status(), StatusCode::NOT_FOUND);
    assert!(typo.text().await.unwrap().contains("<h1>Page not found</h1>"));
    let api = app.client.get(app.url("/api/v1/nowhere")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(api.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn enrolling_from_the_page_creates_the_card_with_its_consents_and_queues_the_welcome() {
    let app = spawn_app().await;
    let mut phone = Phone::new(&app, "fr");
    let fields =
        [("first_name", "Zoé"), ("email", " Zoe@Example.FR "), ("consent_terms", "on"), ("consent_profiling", "on")];
    let page = phone.submit("/p/shop", &fields).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Nous vous avons envoyé un lien vers votre carte à zoe@example.fr."), "{}", page.body);

    assert_eq!(app.count("customers", "email = 'zoe@example.fr' AND locale = 'fr'").await, 1);
    assert_eq!(app.count("customer_consents", "purpose = 'terms' AND granted AND channel = 'web_enrolment'").await, 1);
    assert_eq!(app.count("customer_consents", "purpose = 'marketing_email' AND NOT granted").await, 1);
    assert_eq!(app.count("customer_consents", "purpose = 'profiling' AND granted").await, 1);
    let welcome = mails(&app, "welcome").await;
    assert_eq!(welcome.len(), 1);
    assert_eq!(welcome[0]["program_id"], app.staff.program_id.as_str());
    assert_eq!(app.run_jobs().await, 1);
    let sent = app.sent_mails();
    assert!(sent.len() == 1 && sent[0].contains("zoe@example.fr"), "{sent:?}");
}

#[tokio::test]
async fn form_errors_are_shown_next_to_their_fields_with_the_input_kept() {
    let app = spawn_app().await;
    let mut phone = Phone::new(&app, "en");
    let page = phone
        .submit("/p/shop", &[("first_name", "<b>Zo</b>"), ("email", "not-an-address"), ("phone", "call me")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"form-errors\""));
    assert!(page.body.contains("id=\"email-error\">Enter a valid e-mail address"), "{}", page.body);
    assert!(page.body.contains("id=\"phone-error\">"));
    assert!(page.body.contains("id=\"consent_terms-error\">Accept the terms"));
    assert!(!page.body.contains("id=\"first_name-error\""), "the first name was fine");
    // What was typed comes back, escaped.
    assert!(page.body.contains("value=\"&lt;b&gt;Zo&lt;/b&gt;\""), "{}", page.body);
    assert!(page.body.contains("value=\"not-an-address\""));
    assert_eq!(app.count("customers", "1 = 1").await, 0);
}

#[tokio::test]
async fn a_form_without_its_csrf_token_or_from_another_site_is_refused() {
    let app = spawn_app().await;
    let mut phone = Phone::new(&app, "en");
    let token = phone.get("/p/shop").await.csrf();

    let without = phone.post("/p/shop", &ZOE).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(without.body.contains("This form has expired"), "{}", without.body);
    let mut wrong = vec![("csrf", "x".repeat(32))];
    wrong.extend(ZOE.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(phone.post("/p/shop", &wrong).await.status, StatusCode::FORBIDDEN);

    // The right token, but posted by another site's page.
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(&ZOE);
    let body: String = form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
    let cookie = format!("csrf={token}");
    let foreign = app
        .client
        .post(app.url("/p/shop"))
        .header("cookie", cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("customers", "1 = 1").await, 0);
}

#[tokio::test]
async fn an_address_that_has_a_card_gets_a_login_link_and_the_same_answer() {
    let app = spawn_app().await;
    let mut first = Phone::new(&app, "en");
    let new = first.submit("/p/shop", &ZOE).await;
    let mut second = Phone::new(&app, "en");
    let again = second.submit("/p/shop", &ZOE).await;
    assert_eq!(again.status, new.status);
    let message = |p: &Page| p.body.split("id=\"check-email\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(message(&again), message(&new));
    assert_eq!(app.count("customers", "1 = 1").await, 1);
    assert_eq!(mails(&app, "welcome").await.len(), 1);
    assert_eq!(mails(&app, "magic_link").await.len(), 1);
    assert_eq!(app.run_jobs().await, 2);
    assert_eq!(app.sent_mails().len(), 2, "the welcome, then the login link");
}

#[tokio::test]
async fn a_magic_link_logs_in_once_within_fifteen_minutes() {
    let app = spawn_app().await;
    app.enrol("zoe@example.fr").await;
    let mut phone = Phone::new(&app, "en");
    let unknown = phone.submit("/p/shop/login", &[("email", "nobody@example.fr")]).await;
    let known = phone.submit("/p/shop/login", &[("email", "zoe@example.fr")]).await;
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.body.contains("We sent you a link to your card at nobody@example.fr."));
    let links = mails(&app, "magic_link").await;
    assert_eq!(links.len(), 1, "only the enrolled address gets a link");
    let login_id = links[0]["login_id"].as_str().unwrap().to_owned();
    let path = encarte::service::customer_auth::login_path(&app.deps.link_key, &login_id);

    // Opening the link (as a mail scanner would) does not use it.
    assert_eq!(phone.get(&path).await.status, StatusCode::OK);
    let opened = phone.get(&path).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.body.contains("id=\"login-continue\""));
    assert_eq!(phone.post(&path, &[]).await.status, StatusCode::FORBIDDEN, "the button's form carries a CSRF token");
    let used = phone.post(&path, &[("csrf", &opened.csrf())]).await;
    assert_eq!(used.status, StatusCode::SEE_OTHER);
    let location = used.headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/c/") && location.len() == 3 + 32, "{location}");
    let session = used.set_cookie("encarte_session").expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain http in tests: {session}");
    assert!(session.contains("Max-Age=2592000"), "{session}");

    // Signed in: the program page leads straight to the card.
    let home = phone.get("/p/shop").await;
    assert!(home.body.contains(&format!("href=\"{location}\" id=\"open-card\"")), "{}", home.body);
    assert!(phone.get(&location).await.body.contains("id=\"logout\""));

    // Used once: a second use, or another phone, gets "expired".
    let token = phone.get("/p/shop").await.csrf();
    let reused = phone.post(&path, &[("csrf", &token)]).await;
    assert_eq!(reused.status, StatusCode::GONE);
    assert!(reused.body.contains("id=\"link-expired\""));
    assert_eq!(phone.get(&path).await.status, StatusCode::GONE);

    // A tampered link is just as dead.
    let forged = format!("{}A", &path[..path.len() - 1]);
    assert_eq!(phone.get(&forged).await.status, StatusCode::GONE);

    // Logging out ends the session on the server, not only in this browser.
    let logout_token = phone.get(&location).await.csrf();
    assert_eq!(app.count("customer_sessions", "1 = 1").await, 1);
    let out = phone.post("/logout", &[("csrf", &logout_token), ("next", "/p/shop")]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("customer_sessions", "1 = 1").await, 0);
    assert!(!phone.cookies.contains_key("encarte_session"));
    app.run_jobs().await;
}

#[tokio::test]
async fn logout_goes_back_only_to_a_path_of_this_site_and_never_fails() {
    let app = spawn_app().await;
    let mut phone = Phone::new(&app, "en");
    let cases = [
        ("/p/shop", "/p/shop"),
        ("/p/demo\r\nX: 1", "/"),
        ("/p/demo\nSet-Cookie: a=b", "/"),
        ("//evil.example/p/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/p/\u{7f}", "/"),
        ("", "/"),
    ];
    for (next, expected) in cases {
        let token = phone.get("/p/shop").await.csrf();
        let out = phone.post("/logout", &[("csrf", &token), ("next", next)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER, "{next:?}: {}", out.body);
        assert_eq!(out.headers["location"], expected, "{next:?}");
        assert!(!out.headers.contains_key("x"));
    }
    // A body that is not a form: refused in the documented error shape, not actix's text/plain.
    let post = || app.client.post(app.url("/logout")).header("content-type", "text/plain");
    let res = post().body("next=/p/demo%0D%0AX:%201").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(crate::helpers::code(&body), "unsupported_media_type", "{body}");
    // A browser gets the error page instead.
    let res = post().header("accept", "text/html").body("next=/").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(res.text().await.unwrap().contains("This did not work"));
}

#[tokio::test]
async fn an_expired_magic_link_is_refused() {
    let app = spawn_app().await;
    app.enrol("zoe@example.fr").await;
    let mut phone = Phone::new(&app, "en");
    phone.submit("/p/shop/login", &[("email", "zoe@example.fr")]).await;
    let login_id = mails(&app, "magic_link").await[0]["login_id"].as_str().unwrap().to_owned();
    let sql =
        format!("UPDATE customer_logins SET expires_at = created_at - INTERVAL '1 minute' WHERE id = '{login_id}'");
    let sql = if app.config.database_url.as_deref().unwrap_or("").starts_with("sqlite") {
        format!("UPDATE customer_logins SET expires_at = datetime(created_at, '-1 minute') WHERE id = '{login_id}'")
    } else {
        sql
    };
    app.db
        .write(move |c| {
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query(sql).execute(c)?)
        })
        .await
        .unwrap();
    let path = encarte::service::customer_auth::login_path(&app.deps.link_key, &login_id);
    let page = phone.get(&path).await;
    assert_eq!(page.status, StatusCode::GONE);
    let token = phone.get("/p/shop").await.csrf();
    assert_eq!(phone.post(&path, &[("csrf", &token)]).await.status, StatusCode::GONE);
    assert_eq!(app.count("customer_sessions", "1 = 1").await, 0);
    app.run_jobs().await;
}

#[tokio::test]
async fn asking_for_links_is_rate_limited_per_address() {
    let app = spawn_app().await;
    app.enrol("zoe@example.fr").await;
    let mut phone = Phone::new(&app, "en");
    for _ in 0..encarte::service::customer_auth::PER_EMAIL {
        assert_eq!(phone.submit("/p/shop/login", &[("email", "zoe@example.fr")]).await.status, StatusCode::OK);
    }
    let refused = phone.submit("/p/shop/login", &[("email", "zoe@example.fr")]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers.contains_key("retry-after"));
    assert!(refused.body.contains("Too many attempts"));
    assert_eq!(
        i64::try_from(mails(&app, "magic_link").await.len()).unwrap(),
        encarte::service::customer_auth::PER_EMAIL
    );
    app.run_jobs().await;
    let sent = i64::try_from(app.sent_mails().len()).unwrap();
    assert_eq!(sent, 1 + encarte::service::customer_auth::PER_EMAIL, "the welcome and every link asked for");
}

#[tokio::test]
async fn the_card_page_shows_the_card_its_qr_code_and_history() {
    let app = spawn_app().await;
    let card = app.enrol("zoe@example.fr").await;
    let number = card["number"].as_str().unwrap();
    app.purchase(&app.staff.cashier, number, 1250, "k-1").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let mut phone = Phone::new(&app, "en");
    let page = phone.get(&path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Hello Zoé</h1>"));
    assert!(page.body.contains("id=\"balance\" data-points=\"12\">12 points</div>"), "{}", page.body);
    assert!(page.body.contains(&format!("id=\"card-number\">{}<", card["display_number"].as_str().unwrap())));
    assert!(page.body.contains("<svg role=\"img\" aria-label=\"QR\""), "an inline QR code: {}", page.body);
    assert!(page.body.contains(&format!("href=\"{path}/pass.pkpass\"")), "the Apple Wallet button");
    assert!(!page.body.contains("google-wallet"), "no Google button when Google Wallet is off");
    assert!(page.body.contains("Purchase</span><span class=\"delta plus\">+12</span>"), "{}", page.body);
    let referral = format!("value=\"http://127.0.0.1:0/r/{}\"", card["referral_code"].as_str().unwrap());
    assert!(page.body.contains(&referral), "the referral link to share");
    assert!(page.body.len() < 100 * 1024);
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(phone.get(&format!("{path}/google")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(phone.get("/c/nope").await.status, StatusCode::NOT_FOUND);
    app.run_jobs().await;
}

#[tokio::test]
async fn a_referral_link_names_the_friend_and_enrols_as_their_referee() {
    let app = spawn_app().await;
    let settings = json!({"enabled": true, "min_purchase_cents": 1000, "referrer_points": 100, "referee_points": 50});
    let (status, _) =
        app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.manager), None, Some(&settings)).await;
    assert_eq!(status, StatusCode::OK);
    let referrer = app.enrol("anna@example.fr").await;
    let code = referrer["referral_code"].as_str().unwrap();
    let mut phone = Phone::new(&app, "en");
    let page = phone.get(&format!("/r/{code}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Zoé invites you</h1>"), "{}", page.body);
    assert!(page.body.contains("you get 50 bonus points after your first purchase of at least €10.00"));
    assert!(!page.body.contains("anna@example.fr"), "first name only");

    let enrolled = phone
        .submit(&format!("/r/{code}"), &[("first_name", "Paul"), ("email", "paul@example.fr"), ("consent_terms", "on")])
        .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.body);
    let (_, mine) =
        app.get(&format!("/api/v1/cards/{}/referrals", referrer["id"].as_str().unwrap()), &app.staff.cashier).await;
    assert_eq!(mine["referrals"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["referrals"][0]["status"], "pending");

    assert_eq!(phone.get("/r/ZZZZZZZZ").await.status, StatusCode::NOT_FOUND);
    assert_eq!(phone.get("/r/not a code").await.status, StatusCode::NOT_FOUND);
    app.run_jobs().await;
}

/// Logs `phone` in by magic link as the customer with `email`; returns their card page's path.
async fn log_in(app: &TestApp, phone: &mut Phone<'_>, email: &str) -> String {
    phone.submit("/p/shop/login", &[("email", email)]).await;
    let login_id = mails(app, "magic_link").await.last().unwrap()["login_id"].as_str().unwrap().to_owned();
    let path = encarte::service::customer_auth::login_path(&app.deps.link_key, &login_id);
    let token = phone.get(&path).await.csrf();
    let used = phone.post(&path, &[("csrf", &token)]).await;
    assert_eq!(used.status, StatusCode::SEE_OTHER);
    used.headers["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_signed_in_customer_downloads_their_data_and_erases_their_account() {
    let app = spawn_app().await;
    let card = app.enrol("zoe@example.fr").await;
    app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 2000, "k-1").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();

    // With the card link alone: the page offers a login, the data routes refuse.
    let mut stranger = Phone::new(&app, "en");
    assert!(stranger.get(&path).await.body.contains("id=\"data-login\""));
    assert_eq!(stranger.get(&format!("{path}/data.json")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stranger.get(&format!("{path}/delete")).await.status, StatusCode::UNAUTHORIZED);

    let mut phone = Phone::new(&app, "en");
    assert_eq!(log_in(&app, &mut phone, "zoe@example.fr").await, path);
    assert!(phone.get(&path).await.body.contains("id=\"download-data\""));
    let export = phone.get(&format!("{path}/data.json")).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let data: serde_json::Value = serde_json::from_str(&export.body).unwrap();
    assert_eq!(data["customer"]["email"], "zoe@example.fr");
    assert_eq!(data["card"]["balance"], 20);
    assert_eq!(data["ledger"][0]["points"], 20);
    assert_eq!(data["purchases"][0]["amount_cents"], 2000);
    assert!(data["customer"].get("email_key").is_none());

    // Another customer's session does not open Zoé's data.
    app.enrol("paul@example.fr").await;
    let mut paul = Phone::new(&app, "en");
    log_in(&app, &mut paul, "paul@example.fr").await;
    assert_eq!(paul.get(&format!("{path}/data.json")).await.status, StatusCode::UNAUTHORIZED);

    let confirm = phone.get(&format!("{path}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let token = confirm.csrf();
    let unticked = phone.post(&format!("{path}/delete"), &[("csrf", &token)]).await;
    assert_eq!(unticked.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.count("customers", "erased_at IS NOT NULL").await, 0);
    let deleted = phone.post(&format!("{path}/delete"), &[("csrf", &token), ("confirm", "on")]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
    assert!(deleted.body.contains("id=\"deleted\""));

    assert_eq!(
        app.count("customers", "erased_at IS NOT NULL AND first_name = '' AND phone IS NULL AND email LIKE 'erased-%'")
            .await,
        1
    );
    assert_eq!(app.count("customers", "email = 'zoe@example.fr'").await, 0);
    let id = card["id"].as_str().unwrap();
    assert_eq!(app.count("cards", &format!("id = '{id}' AND status = 'closed' AND referral_code IS NULL")).await, 1);
    assert_eq!(
        app.count("outbox_jobs", &format!("kind = 'card_changed' AND payload LIKE '%{id}%'")).await,
        1,
        "the pass is voided on phones"
    );
    assert_eq!(app.count("customer_sessions", "1 = 1").await, 1, "Paul's session only");
    assert_eq!(phone.get(&path).await.status, StatusCode::NOT_FOUND, "the old link is dead");
    app.assert_ledger_consistent().await;
    // Mail still queued for Zoé (her welcome) is dropped, not sent to the placeholder address.
    assert!(app.run_jobs().await > 0);
    let sent = app.sent_mails();
    assert!(sent.iter().all(|m| !m.contains("erased.invalid")), "nothing goes to an erased customer");
    assert!(sent.iter().any(|m| m.contains("paul@example.fr")), "Paul's mail still goes");
    // The address is free again: Zoé may come back as a new customer.
    app.enrol("zoe@example.fr").await;
    assert_eq!(app.run_jobs().await, 1, "her new welcome");
    assert!(app.sent_mails().iter().any(|m| m.contains("zoe@example.fr")));
}

#[tokio::test]
async fn an_erased_card_gets_no_referral_code_back_after_a_restart() {
    let app = spawn_app().await;
    let settings = json!({"enabled": true, "referrer_points": 10, "referee_points": 10});
    app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.manager), None, Some(&settings)).await;
    let card = app.enrol("zoe@example.fr").await;
    let id = card["id"].as_str().unwrap();
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let mut phone = Phone::new(&app, "en");
    log_in(&app, &mut phone, "zoe@example.fr").await;
    let token = phone.get(&format!("{path}/delete")).await.csrf();
    let deleted = phone.post(&format!("{path}/delete"), &[("csrf", &token), ("confirm", "on")]).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);

    // Start-up again on the same database: its backfill leaves the closed card alone.
    encarte::startup::Application::build_with(app.config.clone(), encarte::startup::registry)
        .await
        .expect("the app builds again");
    assert_eq!(app.count("cards", &format!("id = '{id}' AND referral_code IS NULL")).await, 1);
    // A code an older build gave back leads nowhere: only an active card's link invites.
    let code = encarte::service::referrals::new_code();
    app.exec(&format!("UPDATE cards SET referral_code = '{code}' WHERE id = '{id}'")).await;
    assert_eq!(phone.get(&format!("/r/{code}")).await.status, StatusCode::NOT_FOUND);
    app.run_jobs().await;
}

#[tokio::test]
async fn a_browser_that_enrols_as_its_own_referee_is_spotted_by_its_device_cookie() {
    let app = spawn_app().await;
    let settings = json!({"enabled": true, "min_purchase_cents": 100, "referrer_points": 10, "referee_points": 10});
    let (status, _) =
        app.send(Method::PUT, "/api/v1/program/referral", Some(&app.staff.manager), None, Some(&settings)).await;
    assert_eq!(status, StatusCode::OK);
    // The same phone enrols twice, under two addresses, the second time through its own link.
    let mut phone = Phone::new(&app, "en");
    let first = phone.submit("/p/shop", &ZOE).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(phone.cookies.contains_key("device"), "the enrolment page gives the browser an id");
    let code: String = app
        .db
        .read(|c| {
            use diesel::prelude::*;
            use encarte::db::schema::cards;
            Ok(cards::table.select(cards::referral_code).first::<Option<String>>(c)?.unwrap())
        })
        .await
        .unwrap();
    let second = [("first_name", "Zoé"), ("email", "zoe.bis@example.org"), ("consent_terms", "on")];
    assert_eq!(phone.submit(&format!("/r/{code}"), &second).await.status, StatusCode::OK);
    assert_eq!(app.count("customers", "device_key IS NOT NULL").await, 2);
    assert_eq!(app.count("referrals", "status = 'rejected' AND reason = 'self_referral'").await, 1);
    app.run_jobs().await;
}

#[tokio::test]
async fn with_the_development_chain_the_card_page_offers_no_apple_wallet_button() {
    let app = crate::helpers::spawn_app_with(|c| {
        (c.apple_cert, c.apple_key, c.apple_wwdr) = (None, None, None);
    })
    .await;
    assert!(app.deps.apple.development);
    let card = app.enrol("zoe@example.fr").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();
    let page = Phone::new(&app, "en").get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("apple-wallet"), "an iPhone would refuse the pass: no button");
    app.run_jobs().await;
}

/// The claim form of `reward` on a card page: (action, key).
fn claim_form(page: &Page, reward: &str) -> (String, String) {
    let at = page.body.find(&format!("/rewards/{reward}\"")).expect("a claim form for the reward");
    let start = page.body[..at].rfind("action=\"").unwrap() + 8;
    let action = page.body[start..].split('"').next().unwrap().to_owned();
    let key_at = page.body[at..].find("name=\"key\" value=\"").unwrap() + at + 18;
    (action, page.body[key_at..].split('"').next().unwrap().to_owned())
}

#[tokio::test]
async fn a_signed_in_customer_claims_a_reward_on_the_card_page_once() {
    let app = spawn_app().await;
    let card = app.enrol("claim@example.fr").await;
    let coffee = app
        .create_reward(&json!({"name": "A free coffee", "name_fr": "Un café offert", "cost_points": 20,
                               "voucher": {"item": "a coffee"}, "validity_days": 7}))
        .await;
    let big = app
        .create_reward(&json!({"name": "5 € off", "cost_points": 400, "voucher": {"amount_off_cents": 500},
                               "validity_days": 30}))
        .await;
    app.purchase(&app.staff.cashier, card["number"].as_str().unwrap(), 3000, "claim-1").await;
    let path = card["apple_pass_path"].as_str().unwrap().trim_end_matches("/pass.pkpass").to_owned();

    // The card link alone shows the catalogue but no button; a forged post is told to log in.
    let mut stranger = Phone::new(&app, "en");
    let seen = stranger.get(&path).await;
    assert!(seen.body.contains("A free coffee") && seen.body.contains("id=\"claim-login\""), "{}", seen.body);
    assert!(!seen.body.contains("class=\"claim\""));
    let token = stranger.get("/p/shop").await.csrf();
    let forged = stranger.post(&format!("{path}/rewards/{coffee}"), &[("csrf", &token), ("key", "forged-1")]).await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(forged.body.contains("Log in with a link sent to your e-mail to claim a reward."), "{}", forged.body);

    let mut phone = Phone::new(&app, "en");
    assert_eq!(log_in(&app, &mut phone, "claim@example.fr").await, path);
    let page = phone.get(&path).await;
    assert!(page.body.contains("370 more points needed"), "the 400-point reward has no button yet");
    let (action, key) = claim_form(&page, &coffee);
    assert_eq!(action, format!("{path}/rewards/{coffee}"));
    // No CSRF token: refused, nothing spent.
    assert_eq!(phone.post(&action, &[("key", &key)]).await.status, StatusCode::FORBIDDEN);
    let form = [("csrf", page.csrf()), ("key", key)];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let claimed = phone.post(&action, &form).await;
    assert_eq!(claimed.status, StatusCode::SEE_OTHER, "{}", claimed.body);
    assert_eq!(claimed.headers["location"], format!("{path}#vouchers"));
    // A second tap on the same form replays the first claim.
    assert_eq!(phone.post(&action, &form).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.balance(card["id"].as_str().unwrap()).await, 10);
    assert_eq!(app.count("vouchers", "1 = 1").await, 1);

    let (_, vouchers) =
        app.get(&format!("/api/v1/cards/{}/vouchers", card["id"].as_str().unwrap()), &app.staff.cashier).await;
    let code = vouchers[0]["code_display"].as_str().unwrap();
    let shown = phone.get(&path).await;
    assert!(shown.body.contains("id=\"vouchers\"") && shown.body.contains(code), "{}", shown.body);
    assert!(shown.body.contains(&format!("data-code=\"{}\"", vouchers[0]["code"].as_str().unwrap())));
    assert_eq!(shown.body.matches("<svg").count(), 2, "the card's QR code and the voucher's");
    assert!(shown.body.contains("Valid until "));

    // Refusals are the card page with the reason, never an error page.
    assert!(!shown.body.contains("class=\"claim\""), "10 points left: no button");
    let short = phone.post(&action, &[("csrf", &shown.csrf()), ("key", "short-1")]).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("You don&#x27;t have enough points for this reward yet."), "{}", short.body);
    let unknown = phone.post(&format!("{path}/rewards/nope"), &[("csrf", &shown.csrf()), ("key", "other-key")]).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let big_claim = phone.post(&format!("{path}/rewards/{big}"), &[("csrf", &shown.csrf()), ("key", "big-1")]).await;
    assert_eq!(big_claim.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_key = phone.post(&action, &[("csrf", &shown.csrf())]).await;
    assert!(no_key.status.is_client_error(), "{}", no_key.status);
    assert_eq!(app.count("vouchers", "1 = 1").await, 1);
    app.run_jobs().await;
}
