//! The merchant console (`/admin`): server-rendered pages for owners and managers, in EN and FR,
//! over the same services as the admin API. Each form posts to its page's action, which calls
//! one service function with the form read into that function's JSON input, so the console and
//! the API share one validation; a refusal shows the page again with the message at its field.

mod account;
mod charts;
mod design;
mod home;
mod insights;
mod members;
mod program;
mod promos;
mod saved_segments;
mod segments;
mod shops;

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::Page;
use crate::error::{AppError, AppResult};
use crate::render::Lang;
use crate::service::Actor;

/// The console's session cookie (`HttpOnly`, `SameSite=Lax`, `Secure` on https).
pub const SESSION_COOKIE: &str = "encarte_console";

type Form = web::Form<BTreeMap<String, String>>;

/// A signed-in console request: the page, who is asking, the programme's name, the language.
pub struct Console {
    pub page: Page,
    pub actor: Actor,
    pub program: crate::db::repo::programs::Program,
    pub lang: Lang,
}

impl Console {
    pub fn db(&self) -> &crate::db::Db {
        self.page.db()
    }

    /// Renders a console page with what every page shows: the programme, the user's role, the
    /// section, the flash of the last action (`?done=`), and a CSRF token for its forms.
    pub fn render(&self, status: StatusCode, name: &str, section: &str, mut context: Value) -> AppResult<HttpResponse> {
        context["section"] = json!(section);
        context["program"] = json!({
            "name": self.program.name, "slug": self.program.slug, "currency": self.program.currency,
        });
        context["me"] = json!({"role": self.actor.role, "owner": self.actor.role == crate::domain::role::Role::Owner});
        if let Some(done) = query(&self.page, "done").filter(|d| d.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            context["flash"] = json!(done);
        }
        self.page.form(status, name, self.lang, context)
    }

    /// Refuses a posted form whose CSRF token is missing or wrong.
    pub fn check(&self, form: &BTreeMap<String, String>) -> AppResult<()> {
        self.page.check_csrf(form)
    }
}

fn query(page: &Page, name: &str) -> Option<String> {
    web::Query::<BTreeMap<String, String>>::from_query(page.req.query_string()).ok().and_then(|q| q.get(name).cloned())
}

/// Runs a console handler for a signed-in owner or manager; anyone else goes to the sign-in page.
pub async fn console<F, Fut>(page: Page, handler: F) -> HttpResponse
where
    F: FnOnce(Console) -> Fut,
    Fut: std::future::Future<Output = AppResult<HttpResponse>>,
{
    let cookie = page.cookie(SESSION_COOKIE);
    let opened = async {
        let actor = crate::service::console_auth::actor(page.db(), cookie).await?;
        let program_id = actor.program_id.clone();
        let program = page.db().read(move |c| Ok(crate::db::repo::programs::find(c, &program_id)?)).await?;
        let lang = page.lang(Lang::from_tag(&program.locale).unwrap_or(Lang::En));
        Ok::<_, AppError>(Console { page: page.clone(), actor, program, lang })
    };
    match opened.await {
        Ok(console) => page.respond(handler(console)).await,
        Err(e) if e.code() == "login_required" => {
            let next = page.req.uri().path_and_query().map_or("/admin", |p| p.as_str()).to_owned();
            see_other(&format!("/admin/login?next={}", urlencode(&next)))
        }
        Err(e) => page.respond(async { Err(e) }).await,
    }
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A refusal to show next to its field: what the API would have answered.
#[derive(Debug, serde::Serialize)]
pub struct Refusal {
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

/// The form a refused action came from: its section of the page, what was typed, the refusal.
pub struct Posted<'a> {
    pub section: &'a str,
    pub fields: &'a BTreeMap<String, String>,
    pub error: Refusal,
}

impl Posted<'_> {
    /// What the templates' `val` and `refusal` macros read; all null on a plain view.
    pub fn context(posted: Option<&Posted<'_>>) -> Value {
        match posted {
            Some(p) => json!({"section": p.section, "fields": p.fields, "error": p.error}),
            None => json!({"section": null, "fields": null, "error": null}),
        }
    }
}

/// After a form's action: on to `to`, or the page again (`again`) with the refusal at its form.
pub async fn after<T, Fut>(
    result: AppResult<T>,
    to: &str,
    again: impl FnOnce(Refusal) -> Fut,
) -> AppResult<HttpResponse>
where
    Fut: std::future::Future<Output = AppResult<HttpResponse>>,
{
    match result {
        Ok(_) => Ok(see_other(to)),
        Err(e) => again(refusal(e)?).await,
    }
}

/// A client error as a refusal for the form; anything else stays an error (a page of its own).
pub fn refusal(error: AppError) -> AppResult<Refusal> {
    match error {
        AppError::Client { code, field, message, .. } => Ok(Refusal { code, field, message }),
        other => Err(other),
    }
}

/// Form fields, read into JSON for a service input: text as typed, numbers where they parse
/// (anything else stays text, so the input's own parser names the field), amounts in cents.
pub struct Fields<'a>(pub &'a BTreeMap<String, String>);

impl Fields<'_> {
    pub fn text(&self, name: &str) -> Value {
        self.0.get(name).map_or(Value::Null, |v| json!(v.trim()))
    }
    /// Empty reads as absent (null).
    pub fn optional(&self, name: &str) -> Value {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map_or(Value::Null, |v| json!(v))
    }
    pub fn number(&self, name: &str) -> Value {
        match self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Value::Null,
            Some(v) => v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n)),
        }
    }
    pub fn cents(&self, name: &str) -> Value {
        match self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => Value::Null,
            Some(v) => crate::domain::money::parse_amount(v).map_or_else(|_| json!(v), |c| json!(c)),
        }
    }
    /// A checkbox: there (any value) or not.
    pub fn checked(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
    pub fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some_and(|v| !v.trim().is_empty())
    }
    /// A voucher's value from the `kind` select (`amount`, `percent`, `item`) and the `value` field.
    pub fn voucher(&self) -> Value {
        match self.text("kind").as_str() {
            Some("percent") => json!({"percent_off": self.number("value")}),
            Some("item") => json!({"item": self.text("value")}),
            _ => json!({"amount_off_cents": self.cents("value")}),
        }
    }
}

/// Reads a service input from JSON built of form fields; a field that does not fit is refused
/// as the API would refuse it (400, the field named).
pub fn input<T: serde::de::DeserializeOwned>(value: Value) -> AppResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = crate::http::extractors::field_path(&e.path().to_string());
        AppError::invalid_field(field, e.into_inner())
    })
}

/// Leaves out the fields a form left empty, so that the input's defaults apply.
pub fn strip_nulls(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        map.retain(|_, v| !v.is_null());
    }
    value
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin").get(home::page))
        .service(web::resource("/admin/login").get(account::login_form).post(account::login))
        .service(web::resource("/admin/logout").post(account::logout))
        .service(web::resource("/admin/logout-everywhere").post(account::logout_everywhere))
        .service(web::resource("/admin/password").get(account::password_form).post(account::password))
        .service(web::resource("/admin/invitation/{token}").get(account::invitation_form).post(account::invitation))
        .service(web::resource("/admin/program").get(program::page).post(program::save))
        .service(web::resource("/admin/program/expiry").post(program::save_expiry))
        .service(web::resource("/admin/program/conversion").post(program::save_conversion))
        .service(web::resource("/admin/program/tiers").post(program::save_tiers))
        .service(web::resource("/admin/program/rewards").post(program::add_reward))
        .service(web::resource("/admin/program/rewards/{id}/archive").post(program::archive_reward))
        .service(web::resource("/admin/design").get(design::page).post(design::save))
        .service(web::resource("/admin/design/publish").post(design::publish))
        .service(web::resource("/admin/design/preview.css").get(design::preview_css))
        .service(web::resource("/admin/design/draft/{name}").get(design::draft_image))
        .service(web::resource("/admin/shops").get(shops::page).post(shops::add_shop))
        .service(web::resource("/admin/shops/{id}").post(shops::rename_shop))
        .service(web::resource("/admin/shops/{id}/archive").post(shops::archive_shop))
        .service(web::resource("/admin/staff").post(shops::invite))
        .service(web::resource("/admin/staff/{id}").post(shops::change_staff))
        .service(web::resource("/admin/staff/{id}/{action}").post(shops::staff_action))
        .service(web::resource("/admin/members").get(members::list))
        .service(web::resource("/admin/members/{id}").get(members::page).post(members::update))
        .service(web::resource("/admin/members/{id}/export").get(members::export))
        .service(web::resource("/admin/members/{id}/{action}").post(members::action))
        .service(web::resource("/admin/promos").get(promos::list).post(promos::create))
        .service(web::resource("/admin/promos/{id}").get(promos::page))
        .service(web::resource("/admin/promos/{id}/codes.csv").get(promos::codes))
        .service(web::resource("/admin/promos/{id}/{action}").post(promos::action))
        .service(web::resource("/admin/insights").get(insights::page))
        .service(web::resource("/admin/insights/kpis.csv").get(insights::csv))
        .service(web::resource("/admin/segments/saved").get(saved_segments::page).post(saved_segments::save))
        .service(web::resource("/admin/segments/saved/{id}/delete").post(saved_segments::delete))
        .service(web::resource("/admin/segments").get(segments::page))
        .service(web::resource("/admin/segments/run").post(segments::run))
        .service(web::resource("/admin/segments/members.csv").get(segments::csv))
        .service(web::resource("/admin/referral").get(promos::referral).post(promos::save_referral));
}
