//! The customer pages over HTTP, as a phone's browser sees them: enrolment with CSRF and inline
//! errors, no leak of who is enrolled, magic-link login, sessions (the card page: `card_page.rs`).

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, spawn_app};

/// A browser in miniature: keeps cookies, never follows redirects.
pub(crate) struct Phone<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    pub(crate) cookies: BTreeMap<String, String>,
    lang: &'static str,
}

pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Page {
    /// The value of the form's hidden CSRF field.
    pub(crate) fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        self.body[at..].split('"').next().unwrap().to_owned()
    }

    pub(crate) fn set_cookie(&self, name: &str) -> Option<String> {
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

    pub(crate) async fn request(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
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

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
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

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The payloads of the queued e-mails of one template, oldest first.
pub(crate) async fn mails(app: &TestApp, template: &str) -> Vec<serde_json::Value> {
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

pub(crate) const ZOE: [(&str, &str); 3] = [("first_name", "Zoé"), ("email", "zoe@example.fr"), ("consent_terms", "on")];

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
