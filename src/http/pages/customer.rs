//! The customer's pages: enrolment (`/p/{program}`, `/r/{code}`), login by magic link, the card.

use std::collections::BTreeMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Page, secure};
use crate::domain::codes::ReferralCode;
use crate::domain::email::Email;
use crate::domain::text::{DeviceId, IdempotencyKey};
use crate::error::{AppError, AppResult};
use crate::http::google::Channel;
use crate::render::Lang;
use crate::service::customer_pages::{self, EnrolForm, FieldErrors, Invitation, ProgramView};
use crate::service::customers::Enrolment;
use crate::service::{customer_auth, privacy};

pub const SESSION_COOKIE: &str = "encarte_session";
/// A random id of the visitor's browser, sent with an enrolment so that the referral checks can
/// spot one browser enrolling as its own referee (only its salted hash is stored).
const DEVICE_COOKIE: &str = "device";

type Form = web::Form<BTreeMap<String, String>>;

/// What the enrolment form shows: empty, or the visitor's input and its errors.
struct EnrolView<'a> {
    program: &'a ProgramView,
    invitation: Option<&'a Invitation>,
    form: &'a EnrolForm,
    errors: &'a FieldErrors,
    /// The card of a signed-in visitor.
    card_link: Option<String>,
}

static EMPTY_FORM: std::sync::LazyLock<(EnrolForm, FieldErrors)> = std::sync::LazyLock::new(Default::default);

impl<'a> EnrolView<'a> {
    fn empty(program: &'a ProgramView, invitation: Option<&'a Invitation>) -> Self {
        EnrolView { program, invitation, form: &EMPTY_FORM.0, errors: &EMPTY_FORM.1, card_link: None }
    }
}

fn enrol_page(page: &Page, status: StatusCode, lang: Lang, view: EnrolView) -> AppResult<HttpResponse> {
    let action = match view.invitation {
        Some(inv) => format!("/r/{}", inv.code),
        None => format!("/p/{}", view.program.slug),
    };
    let context = json!({
        "program": view.program, "invitation": view.invitation, "form": view.form, "errors": view.errors,
        "action": action, "card_link": view.card_link,
    });
    let mut response = page.form(status, "pages/enrol.html", lang, context)?;
    if page.cookie(DEVICE_COOKIE).is_none() {
        let device = Cookie::build(DEVICE_COOKIE, crate::domain::card::random_token(32))
            .path("/")
            .http_only(true)
            .secure(secure(&page.config))
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(730))
            .finish();
        let _ = response.add_cookie(&device);
    }
    Ok(response)
}

pub async fn program_page(page: Page, slug: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let (program, card) =
            customer_pages::program(page.db(), slug.into_inner(), page.cookie(SESSION_COOKIE)).await?;
        let card_link = card.map(|token| format!("/c/{token}"));
        let view = EnrolView { card_link, ..EnrolView::empty(&program, None) };
        enrol_page(&page, StatusCode::OK, page.lang(program.locale), view)
    })
    .await
}

pub async fn referral_page(page: Page, code: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let (program, invitation) = customer_pages::invitation(page.db(), code.into_inner()).await?;
        enrol_page(&page, StatusCode::OK, page.lang(program.locale), EnrolView::empty(&program, Some(&invitation)))
    })
    .await
}

pub async fn enrol_program(page: Page, slug: web::Path<String>, form: Form) -> HttpResponse {
    page.respond(async {
        let program = customer_pages::program_id(page.db(), slug.into_inner()).await?;
        submit(&page, program, None, form.into_inner()).await
    })
    .await
}

pub async fn enrol_referral(page: Page, code: web::Path<String>, form: Form) -> HttpResponse {
    page.respond(async {
        let (program, invitation) = customer_pages::invitation(page.db(), code.into_inner()).await?;
        submit(&page, program, Some(invitation), form.into_inner()).await
    })
    .await
}

fn client(page: &Page) -> Option<String> {
    crate::http::client::address(&page.req)
}

async fn submit(
    page: &Page,
    program: ProgramView,
    invitation: Option<Invitation>,
    fields: BTreeMap<String, String>,
) -> AppResult<HttpResponse> {
    let lang = page.lang(program.locale);
    page.check_csrf(&fields)?;
    if !program.public_enrolment {
        return Err(AppError::client(
            StatusCode::FORBIDDEN,
            "enrolment_closed",
            "this programme takes new members in its shops only",
        ));
    }
    let form = form_of(&fields);
    let referral = invitation.as_ref().and_then(|inv| ReferralCode::parse(&inv.code).ok());
    let input = match form.parse(lang, referral) {
        Ok(input) => Enrolment { device_id: page.cookie(DEVICE_COOKIE).and_then(|d| DeviceId::parse(d).ok()), ..input },
        Err(errors) => {
            let view = EnrolView { form: &form, errors: &errors, ..EnrolView::empty(&program, invitation.as_ref()) };
            return enrol_page(page, StatusCode::UNPROCESSABLE_ENTITY, lang, view);
        }
    };
    let email = input.email.as_str().to_owned();
    customer_auth::rate_limit(page.db(), customer_auth::limits(&program.id, &email, client(page).as_deref())).await?;
    match customer_pages::enrol(page.db(), program.id.clone(), input).await {
        // A twin submission enrolled the address a moment ago: its mail is on its way.
        Ok(()) => check_email(page, lang, &program, &email),
        Err(e) if e.code() == "customer_exists" => check_email(page, lang, &program, &email),
        Err(e) => Err(e),
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
fn check_email(page: &Page, lang: Lang, program: &ProgramView, email: &str) -> AppResult<HttpResponse> {
    page.render(StatusCode::OK, "pages/check_email.html", lang, json!({ "program": program, "email": email }))
}

pub async fn login_form(page: Page, slug: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let program = customer_pages::program_id(page.db(), slug.into_inner()).await?;
        let context = json!({ "program": program, "email": "", "error": null });
        page.form(StatusCode::OK, "pages/login.html", page.lang(program.locale), context)
    })
    .await
}

pub async fn login_request(page: Page, slug: web::Path<String>, form: Form) -> HttpResponse {
    page.respond(async {
        let program = customer_pages::program_id(page.db(), slug.into_inner()).await?;
        let lang = page.lang(program.locale);
        page.check_csrf(&form)?;
        let raw = form.get("email").cloned().unwrap_or_default();
        let Ok(email) = Email::parse(raw.clone()) else {
            let context = json!({ "program": program, "email": raw, "error": "form.error.email" });
            return page.form(StatusCode::UNPROCESSABLE_ENTITY, "pages/login.html", lang, context);
        };
        let limits = customer_auth::limits(&program.id, email.as_str(), client(&page).as_deref());
        customer_auth::rate_limit(page.db(), limits).await?;
        let (program_id, address) = (program.id.clone(), email.as_str().to_owned());
        page.db().write(move |c| customer_auth::send_link_in(c, &program_id, &address)).await?;
        check_email(&page, lang, &program, email.as_str())
    })
    .await
}

/// The link from the e-mail shows a button rather than logging in on GET: mail scanners open
/// links to check them, and would use up a single-use link before its owner does.
pub async fn login_link(page: Page, token: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let usable = customer_auth::link_usable(page.db(), &page.deps.link_key, &token).await?;
        let status = if usable { StatusCode::OK } else { StatusCode::GONE };
        let context = json!({ "program": {"name": ""}, "usable": usable, "action": page.req.path() });
        page.form(status, "pages/login_link.html", page.lang(Lang::En), context)
    })
    .await
}

pub async fn login_use(page: Page, token: web::Path<String>, form: Form) -> HttpResponse {
    page.respond(async {
        page.check_csrf(&form)?;
        match customer_auth::use_link(page.db(), &page.deps.link_key, &token).await {
            Ok(logged_in) => {
                let cookie = Cookie::build(SESSION_COOKIE, logged_in.session_token)
                    .path("/")
                    .http_only(true)
                    .secure(secure(&page.config))
                    .same_site(SameSite::Lax)
                    .max_age(actix_web::cookie::time::Duration::days(logged_in.max_age_days))
                    .finish();
                Ok(HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, format!("/c/{}", logged_in.card_link_token)))
                    .cookie(cookie)
                    .finish())
            }
            Err(e) if e.code() == "login_link_expired" => {
                let context = json!({ "program": {"name": ""}, "usable": false, "action": "" });
                page.render(StatusCode::GONE, "pages/login_link.html", page.lang(Lang::En), context)
            }
            Err(e) => Err(e),
        }
    })
    .await
}

fn session_removal() -> Cookie<'static> {
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    gone
}

pub async fn logout(page: Page, form: Form) -> HttpResponse {
    page.respond(async {
        page.check_csrf(&form)?;
        if let Some(cookie) = page.cookie(SESSION_COOKIE) {
            customer_auth::logout(page.db(), cookie).await?;
        }
        let back = form.get("next").and_then(|n| local_path(n)).unwrap_or("/").to_owned();
        Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, back)).cookie(session_removal()).finish())
    })
    .await
}

/// A path of this site to send the visitor back to, or None: not another site's `//host`, nor a
/// backslash (browsers read `/\host` as `//host`), nor a CR/LF that would split the Location
/// header (or fail it: a 500).
pub(crate) fn local_path(next: &str) -> Option<&str> {
    let clean = next.starts_with('/')
        && !next.starts_with("//")
        && !next.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    clean.then_some(next)
}

pub async fn card_page(page: Page, google: web::Data<Channel>, token: web::Path<String>) -> HttpResponse {
    page.respond(card_view(&page, &google, token.into_inner(), StatusCode::OK, None)).await
}

/// The card page, with a notice (catalog key) above the catalogue after a refused claim.
async fn card_view(
    page: &Page,
    google: &Channel,
    token: String,
    status: StatusCode,
    notice: Option<&str>,
) -> AppResult<HttpResponse> {
    let session = page.cookie(SESSION_COOKIE);
    let signed_in = session.is_some();
    let view = customer_pages::card(page.db(), token, page.lang(Lang::En), session).await?;
    let lang = page.lang(view.customer_locale);
    let qr = qr_svg(&view.barcode)?;
    let voucher_qrs = view.vouchers.iter().map(|v| qr_svg(&v.code)).collect::<AppResult<Vec<_>>>()?;
    // A fresh key per rendering: a second tap on the same form replays the first claim.
    let claim_key = crate::domain::card::random_token(32);
    let public_url = page.config.public_url();
    let referral_url = view.referral_path.as_ref().map(|p| format!("{public_url}{p}"));
    let context = json!({
        "program": view.program, "card": view, "qr": qr, "voucher_qrs": voucher_qrs,
        "claim_key": claim_key, "notice": notice,
        "referral_url": referral_url, "google": google.0.is_some(), "signed_in": signed_in,
        // The development chain signs passes that iPhones refuse: no button that can't work.
        "apple": !page.deps.apple.development,
    });
    page.form(status, "pages/card.html", lang, context)
}

/// The claim refusals the page explains; anything else is an error page as usual.
const CLAIM_REFUSALS: [&str; 7] = [
    "insufficient_points",
    "reward_out_of_stock",
    "reward_inactive",
    "reward_not_found",
    "login_required",
    "card_blocked",
    "card_closed",
];

/// "Claim" on the card page: the voucher appears on the page it redirects back to (303, so that
/// a reload does not post again); a refusal is the card page with the reason.
pub async fn claim_reward(
    page: Page,
    google: web::Data<Channel>,
    path: web::Path<(String, String)>,
    form: Form,
) -> HttpResponse {
    page.respond(async {
        page.check_csrf(&form)?;
        let (token, reward_id) = path.into_inner();
        let key = form.get("key").cloned().unwrap_or_default();
        let key = IdempotencyKey::parse(key).map_err(|e| AppError::invalid_field("key", e.to_string()))?;
        let session = page.cookie(SESSION_COOKIE);
        match customer_pages::claim_reward(page.db(), token.clone(), reward_id, session, key).await {
            Ok(()) => {
                Ok(HttpResponse::SeeOther().insert_header((header::LOCATION, format!("/c/{token}#vouchers"))).finish())
            }
            Err(e) if CLAIM_REFUSALS.contains(&e.code()) => {
                let notice = format!("claim.error.{}", e.code());
                card_view(&page, &google, token, StatusCode::UNPROCESSABLE_ENTITY, Some(notice.as_str())).await
            }
            Err(e) => Err(e),
        }
    })
    .await
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

/// "Download my data": the export as a JSON file.
pub async fn data_export(page: Page, token: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let data = privacy::export(page.db(), token.into_inner(), page.cookie(SESSION_COOKIE)).await?;
        Ok(HttpResponse::Ok()
            .insert_header(crate::http::attachment("my-loyalty-data.json"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(data))
    })
    .await
}

/// "Delete my account": a confirmation first; erasure cannot be undone.
pub async fn delete_confirm(page: Page, token: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let session = page.cookie(SESSION_COOKIE);
        let view = customer_pages::card(page.db(), token.into_inner(), page.lang(Lang::En), session).await?;
        if !view.manage {
            return Err(AppError::unauthorized("login_required", "log in first"));
        }
        let lang = page.lang(view.customer_locale);
        page.form(StatusCode::OK, "pages/delete.html", lang, json!({ "program": view.program, "card": view }))
    })
    .await
}

pub async fn delete_account(page: Page, token: web::Path<String>, form: Form) -> HttpResponse {
    page.respond(async {
        page.check_csrf(&form)?;
        if !form.contains_key("confirm") {
            return Err(AppError::invalid_field("confirm", "tick the box to confirm"));
        }
        let slug = privacy::erase(page.db(), token.into_inner(), page.cookie(SESSION_COOKIE)).await?;
        let context = json!({ "program": {"name": "", "slug": slug} });
        let mut response = page.render(StatusCode::OK, "pages/deleted.html", page.lang(Lang::En), context)?;
        let _ = response.add_cookie(&session_removal());
        Ok(response)
    })
    .await
}

/// An e-mail's unsubscribe link: a page with one button (a link scanner's GET changes nothing).
pub async fn unsubscribe_page(page: Page, token: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let token = token.into_inner();
        let target = crate::service::consents::unsubscribe(page.db(), &page.deps.link_key, &token, false).await?;
        let lang = page.lang(Lang::from_tag(&target.locale).unwrap_or(Lang::En));
        let context = json!({"program": {"name": target.program_name}, "token": token, "done": false});
        page.render(StatusCode::OK, "pages/unsubscribe.html", lang, context)
    })
    .await
}

/// The button, and the mail client's one-click POST (RFC 8058): the signed link is the proof,
/// so no session and no CSRF token are asked for.
pub async fn unsubscribe(page: Page, token: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let token = token.into_inner();
        let target = crate::service::consents::unsubscribe(page.db(), &page.deps.link_key, &token, true).await?;
        let lang = page.lang(Lang::from_tag(&target.locale).unwrap_or(Lang::En));
        let context = json!({"program": {"name": target.program_name}, "token": token, "done": true,
            "withdrawn": target.withdrawn});
        page.render(StatusCode::OK, "pages/unsubscribe.html", lang, context)
    })
    .await
}
