//! The customer's pages: enrolment (`/p/{program}`, `/r/{code}`), login by magic link, the card.

use std::collections::BTreeMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::assets::Assets;
use super::{csrf, error_page, html, lang, secure};
use crate::config::Config;
use crate::db::Db;
use crate::domain::codes::ReferralCode;
use crate::domain::email::Email;
use crate::error::AppError;
use crate::http::google::Channel;
use crate::jobs::Deps;
use crate::render::{Lang, Templates};
use crate::service::customer_auth;
use crate::service::customer_pages::{self, EnrolForm, FieldErrors, Invitation, ProgramView};

pub const SESSION_COOKIE: &str = "encarte_session";

type Form = web::Form<BTreeMap<String, String>>;

/// What every handler here needs.
pub struct Ctx<'a> {
    req: &'a HttpRequest,
    templates: &'a Templates,
    assets: &'a Assets,
    config: &'a Config,
}

impl<'a> Ctx<'a> {
    fn page(&self, status: StatusCode, name: &str, lang: Lang, mut context: serde_json::Value) -> HttpResponse {
        context["v"] = json!(self.assets.version);
        match html(self.req, self.templates, status, name, lang, context) {
            Ok(response) => response,
            Err(e) => self.error(lang, &e),
        }
    }

    fn error(&self, lang: Lang, error: &AppError) -> HttpResponse {
        let mut response = error_page(self.req, self.templates, lang, error);
        if let AppError::TooManyRequests { retry_after_seconds } = error
            && let Ok(value) = header::HeaderValue::from_str(&retry_after_seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }

    fn session(&self) -> Option<String> {
        self.req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
    }
}

macro_rules! ctx {
    ($req:expr, $templates:expr, $assets:expr, $config:expr) => {
        Ctx { req: &$req, templates: &$templates, assets: &$assets, config: &$config }
    };
}

fn with_cookie(mut response: HttpResponse, cookie: Option<Cookie<'static>>) -> HttpResponse {
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The enrolment form, empty or with the visitor's input and its errors.
fn enrol_page(
    ctx: &Ctx,
    status: StatusCode,
    lang: Lang,
    program: &ProgramView,
    invitation: Option<&Invitation>,
    form: &EnrolForm,
    errors: &FieldErrors,
    card_link: Option<String>,
) -> HttpResponse {
    let (token, cookie) = csrf::token(ctx.req, secure(ctx.config));
    let action = match invitation {
        Some(inv) => format!("/r/{}", inv.code),
        None => format!("/p/{}", program.slug),
    };
    let context = json!({
        "program": program, "invitation": invitation, "form": form, "errors": errors,
        "csrf": token, "action": action, "card_link": card_link,
    });
    with_cookie(ctx.page(status, "pages/enrol.html", lang, context), cookie)
}

pub async fn program_page(
    req: HttpRequest,
    db: web::Data<Db>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    slug: web::Path<String>,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    match customer_pages::program(&db, slug.into_inner(), ctx.session()).await {
        Ok((program, card)) => {
            let lang = lang(&req, program.locale);
            let card_link = card.map(|token| format!("/c/{token}"));
            enrol_page(&ctx, StatusCode::OK, lang, &program, None, &EnrolForm::default(), &FieldErrors::new(), card_link)
        }
        Err(e) => ctx.error(lang(&req, Lang::En), &e),
    }
}

pub async fn referral_page(
    req: HttpRequest,
    db: web::Data<Db>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    code: web::Path<String>,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    match customer_pages::invitation(&db, code.into_inner()).await {
        Ok((program, invitation)) => {
            let lang = lang(&req, program.locale);
            let (form, errors) = (EnrolForm::default(), FieldErrors::new());
            enrol_page(&ctx, StatusCode::OK, lang, &program, Some(&invitation), &form, &errors, None)
        }
        Err(e) => ctx.error(lang(&req, Lang::En), &e),
    }
}

pub async fn enrol_program(
    req: HttpRequest,
    db: web::Data<Db>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    slug: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    match customer_pages::program_id(&db, slug.into_inner()).await {
        Ok(program) => submit(&ctx, &db, program, None, form.into_inner()).await,
        Err(e) => ctx.error(lang(&req, Lang::En), &e),
    }
}

pub async fn enrol_referral(
    req: HttpRequest,
    db: web::Data<Db>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    code: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    match customer_pages::invitation(&db, code.into_inner()).await {
        Ok((program, invitation)) => submit(&ctx, &db, program, Some(invitation), form.into_inner()).await,
        Err(e) => ctx.error(lang(&req, Lang::En), &e),
    }
}

fn client(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

async fn submit(
    ctx: &Ctx<'_>,
    db: &Db,
    program: ProgramView,
    invitation: Option<Invitation>,
    fields: BTreeMap<String, String>,
) -> HttpResponse {
    let lang = lang(ctx.req, program.locale);
    if let Err(e) = csrf::check(ctx.req, fields.get(csrf::FIELD).map(String::as_str)) {
        return ctx.error(lang, &e);
    }
    let form = form_of(&fields);
    let referral = invitation.as_ref().and_then(|inv| ReferralCode::parse(&inv.code).ok());
    let input = match form.parse(lang, referral) {
        Ok(input) => input,
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return enrol_page(ctx, status, lang, &program, invitation.as_ref(), &form, &errors, None);
        }
    };
    let email = input.email.as_str().to_owned();
    let limited = customer_auth::rate_limit(db, customer_auth::limits(&program.id, &email, client(ctx.req).as_deref())).await;
    let outcome = match limited {
        Ok(()) => customer_pages::enrol(db, program.id.clone(), input).await,
        Err(e) => Err(e),
    };
    match outcome {
        // A twin submission enrolled the address a moment ago: its mail is on its way.
        Ok(()) => check_email(ctx, lang, &program, &email),
        Err(e) if e.code() == "customer_exists" => check_email(ctx, lang, &program, &email),
        Err(e) => ctx.error(lang, &e),
    }
}

fn form_of(fields: &BTreeMap<String, String>) -> EnrolForm {
    let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
    EnrolForm {
        first_name: get("first_name"),
        email: get("email"),
        phone: get("phone"),
        consent_terms: fields.get("consent_terms").cloned(),
        consent_marketing_email: fields.get("consent_marketing_email").cloned(),
        consent_profiling: fields.get("consent_profiling").cloned(),
    }
}

/// "We sent you a link": the same page whether the address was new or already had a card.
fn check_email(ctx: &Ctx, lang: Lang, program: &ProgramView, email: &str) -> HttpResponse {
    let context = json!({ "program": program, "email": email });
    ctx.page(StatusCode::OK, "pages/check_email.html", lang, context)
}

pub async fn login_form(
    req: HttpRequest,
    db: web::Data<Db>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    slug: web::Path<String>,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    match customer_pages::program_id(&db, slug.into_inner()).await {
        Ok(program) => login_page(&ctx, StatusCode::OK, lang(&req, program.locale), &program, "", None),
        Err(e) => ctx.error(lang(&req, Lang::En), &e),
    }
}

fn login_page(
    ctx: &Ctx,
    status: StatusCode,
    lang: Lang,
    program: &ProgramView,
    email: &str,
    error: Option<&str>,
) -> HttpResponse {
    let (token, cookie) = csrf::token(ctx.req, secure(ctx.config));
    let context = json!({ "program": program, "csrf": token, "email": email, "error": error });
    with_cookie(ctx.page(status, "pages/login.html", lang, context), cookie)
}

pub async fn login_request(
    req: HttpRequest,
    db: web::Data<Db>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    slug: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    let program = match customer_pages::program_id(&db, slug.into_inner()).await {
        Ok(program) => program,
        Err(e) => return ctx.error(lang(&req, Lang::En), &e),
    };
    let lang = lang(&req, program.locale);
    if let Err(e) = csrf::check(&req, form.get(csrf::FIELD).map(String::as_str)) {
        return ctx.error(lang, &e);
    }
    let raw = form.get("email").cloned().unwrap_or_default();
    let Ok(email) = Email::parse(raw.clone()) else {
        return login_page(&ctx, StatusCode::UNPROCESSABLE_ENTITY, lang, &program, &raw, Some("form.error.email"));
    };
    let limits = customer_auth::limits(&program.id, email.as_str(), client(&req).as_deref());
    let sent = match customer_auth::rate_limit(&db, limits).await {
        Ok(()) => {
            let (program_id, address) = (program.id.clone(), email.as_str().to_owned());
            db.write(move |c| customer_auth::send_link_in(c, &program_id, &address)).await
        }
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) => check_email(&ctx, lang, &program, email.as_str()),
        Err(e) => ctx.error(lang, &e),
    }
}

/// The link from the e-mail shows a button rather than logging in on GET: mail scanners open
/// links to check them, and would use up a single-use link before its owner does.
pub async fn login_link(
    req: HttpRequest,
    deps: web::Data<Deps>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    token: web::Path<String>,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    let lang = lang(&req, Lang::En);
    let usable = match customer_auth::link_usable(&deps.db, &deps.link_key, &token).await {
        Ok(usable) => usable,
        Err(e) => return ctx.error(lang, &e),
    };
    let (csrf_token, cookie) = csrf::token(&req, secure(&config));
    let status = if usable { StatusCode::OK } else { StatusCode::GONE };
    let context = json!({ "program": {"name": ""}, "usable": usable, "csrf": csrf_token, "action": req.path() });
    with_cookie(ctx.page(status, "pages/login_link.html", lang, context), cookie)
}

pub async fn login_use(
    req: HttpRequest,
    deps: web::Data<Deps>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    token: web::Path<String>,
    form: Form,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    let lang = lang(&req, Lang::En);
    if let Err(e) = csrf::check(&req, form.get(csrf::FIELD).map(String::as_str)) {
        return ctx.error(lang, &e);
    }
    match customer_auth::use_link(&deps.db, &deps.link_key, &token).await {
        Ok(logged_in) => {
            let cookie = Cookie::build(SESSION_COOKIE, logged_in.session_token)
                .path("/")
                .http_only(true)
                .secure(secure(&config))
                .same_site(SameSite::Lax)
                .max_age(actix_web::cookie::time::Duration::days(logged_in.max_age_days))
                .finish();
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/c/{}", logged_in.card_link_token)))
                .cookie(cookie)
                .finish()
        }
        Err(e) if e.code() == "login_link_expired" => {
            let context = json!({ "program": {"name": ""}, "usable": false, "csrf": "", "action": "" });
            ctx.page(StatusCode::GONE, "pages/login_link.html", lang, context)
        }
        Err(e) => ctx.error(lang, &e),
    }
}

pub async fn logout(req: HttpRequest, db: web::Data<Db>, templates: web::Data<Templates>, form: Form) -> HttpResponse {
    let lang = lang(&req, Lang::En);
    if let Err(e) = csrf::check(&req, form.get(csrf::FIELD).map(String::as_str)) {
        return error_page(&req, &templates, lang, &e);
    }
    if let Some(cookie) = req.cookie(SESSION_COOKIE)
        && let Err(e) = customer_auth::logout(&db, cookie.value().to_owned()).await
    {
        return error_page(&req, &templates, lang, &e);
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    let back = form.get("next").filter(|n| n.starts_with("/p/")).cloned().unwrap_or_else(|| "/".to_owned());
    HttpResponse::SeeOther().insert_header((header::LOCATION, back)).cookie(gone).finish()
}

pub async fn card_page(
    req: HttpRequest,
    deps: web::Data<Deps>,
    google: web::Data<Channel>,
    templates: web::Data<Templates>,
    assets: web::Data<Assets>,
    config: web::Data<Config>,
    token: web::Path<String>,
) -> HttpResponse {
    let ctx = ctx!(req, templates, assets, config);
    let first = lang(&req, Lang::En);
    let view = match customer_pages::card(&deps.db, token.into_inner(), first).await {
        Ok(view) => view,
        Err(e) => return ctx.error(first, &e),
    };
    let lang = lang(&req, view.customer_locale);
    let qr = match qr_svg(&view.barcode) {
        Ok(svg) => svg,
        Err(e) => return ctx.error(lang, &e),
    };
    let public_url = config.public_url();
    let referral_url = view.referral_path.as_ref().map(|p| format!("{public_url}{p}"));
    let (csrf_token, cookie) = csrf::token(&req, secure(&config));
    let signed_in = ctx.session().is_some();
    // The SVG is ours (rendered from the card's barcode): card.html prints it with `|safe`. A
    // minijinja safe string would not survive this serde_json context.
    let context = json!({
        "program": view.program, "card": view, "qr": qr,
        "referral_url": referral_url, "google": google.0.is_some(), "csrf": csrf_token, "signed_in": signed_in,
    });
    with_cookie(ctx.page(StatusCode::OK, "pages/card.html", lang, context), cookie)
}

/// The card's QR code as inline SVG: crisp at any size, no image request, a few KB.
fn qr_svg(payload: &str) -> Result<String, AppError> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
    let svg = code
        .render::<svg::Color>()
        .quiet_zone(true)
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in HTML: no XML declaration; a role and label for screen readers.
    let svg = svg.split_once("?>").map_or(svg.as_str(), |(_, rest)| rest).trim_start();
    Ok(svg.replacen("<svg ", "<svg role=\"img\" aria-label=\"QR\" class=\"qr-code\" ", 1))
}
