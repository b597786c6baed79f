//! What enrolment accepts, through the staff API and the program page alike: only addresses mail
//! can reach, only names that show.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;
use crate::pages::Phone;

const UNSENDABLE: [&str; 3] = ["\"a b\"@example.org", "\"a\\\"b\"@example.org", "a@[127.0.0.1]"];
const INVISIBLE: [&str; 4] = ["\u{200b}", "\u{feff}", "\u{3164}", " \u{2060}\u{200b} "];

#[tokio::test]
async fn the_api_refuses_addresses_mail_cannot_reach_and_invisible_names() {
    let app = spawn_app().await;
    let enrol = |email: &str, name: &str| json!({"email": email, "first_name": name});
    for email in UNSENDABLE {
        let (status, body) = app.post("/api/v1/customers", &app.staff.cashier, None, &enrol(email, "Zoé")).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("email")),
            "{email}: {body}"
        );
    }
    for name in INVISIBLE {
        let (status, body) =
            app.post("/api/v1/customers", &app.staff.cashier, None, &enrol("zoe@example.org", name)).await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("first_name")),
            "{name:?}: {body}"
        );
    }
    assert_eq!(app.count("customers", "1=1").await, 0);
}

#[tokio::test]
async fn the_enrolment_page_shows_those_errors_next_to_their_fields() {
    let app = spawn_app().await;
    let mut phone = Phone::new(&app, "en");
    for (email, name) in UNSENDABLE.iter().zip(INVISIBLE) {
        let page = phone.submit("/p/shop", &[("first_name", name), ("email", email), ("consent_terms", "on")]).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{email} {name:?}");
        assert!(page.body.contains("id=\"email-error\">"), "{email}: {}", page.body);
        assert!(page.body.contains("id=\"first_name-error\">"), "{name:?}: {}", page.body);
    }
    assert_eq!(app.count("customers", "1=1").await, 0);
}

#[tokio::test]
async fn the_enrolment_page_counts_points_in_each_language() {
    let app = spawn_app().await;
    app.new_program("two").await;
    app.exec("UPDATE programs SET earn_points = 2 WHERE slug = 'two'").await;
    for (slug, en, fr) in [
        ("shop", "Earn 1 point for every", "Gagnez 1 point pour chaque"),
        ("two", "Earn 2 points for every", "Gagnez 2 points pour chaque"),
    ] {
        for (lang, expected) in [("en", en), ("fr", fr)] {
            let page = Phone::new(&app, lang).get(&format!("/p/{slug}")).await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(page.body.contains(expected), "{slug} {lang}: {}", page.body);
            assert!(!page.body.contains("(s)"), "{slug} {lang}");
        }
    }
}
