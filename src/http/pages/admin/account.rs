//! Signing in and out of the console, one's password, and an invitation's page.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{Console, Form, SESSION_COOKIE, console, refusal, see_other};
use crate::domain::text::NewPassword;
use crate::error::AppResult;
use crate::http::pages::customer::local_path;
use crate::http::pages::{Page, secure};
use crate::render::Lang;
use crate::service::console_auth::{self, SignedIn};

fn session_cookie(page: &Page, value: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .secure(secure(&page.config))
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::hours(console_auth::SESSION_HOURS))
        .finish()
}

fn session_removal() -> Cookie<'static> {
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    gone
}

/// Where to go after signing in: the page asked for, if it is one of the console's.
fn next(form: Option<&String>) -> String {
    form.and_then(|n| local_path(n)).filter(|n| n.starts_with("/admin")).unwrap_or("/admin").to_owned()
}

fn login_page(page: &Page, status: StatusCode, email: &str, error: Option<&str>) -> AppResult<HttpResponse> {
    let lang = page.lang(Lang::En);
    let next = super::query(page, "next");
    let context = json!({"program": {"name": "encarte"}, "email": email, "error": error, "next": next});
    page.form(status, "pages/admin/login.html", lang, context)
}

pub async fn login_form(page: Page) -> HttpResponse {
    page.respond(async { login_page(&page, StatusCode::OK, "", None) }).await
}

pub async fn login(page: Page, form: Form) -> HttpResponse {
    page.respond(async {
        page.check_csrf(&form)?;
        let email = form.get("email").map(|e| e.trim().to_owned()).unwrap_or_default();
        let password = form.get("password").cloned().unwrap_or_default();
        let client = crate::http::client::address(&page.req);
        match console_auth::sign_in(page.db(), &email, password, client.as_deref()).await {
            Ok(SignedIn::Console { cookie }) => {
                let mut to = see_other(&next(form.get("next")));
                let _ = to.add_cookie(&session_cookie(&page, cookie));
                Ok(to)
            }
            // The till is theirs: the scanner page, where they sign in with the same password.
            Ok(SignedIn::Cashier) => Ok(see_other("/staff")),
            Err(e) if e.code() == "too_many_attempts" => Err(e),
            Err(e) => {
                let refused = refusal(e)?;
                let key = if refused.code == "forbidden" { "console.login.disabled" } else { "console.login.wrong" };
                login_page(&page, StatusCode::UNAUTHORIZED, &email, Some(key))
            }
        }
    })
    .await
}

pub async fn logout(page: Page, form: Form) -> HttpResponse {
    page.respond(async {
        page.check_csrf(&form)?;
        if let Some(cookie) = page.cookie(SESSION_COOKIE) {
            console_auth::sign_out(page.db(), cookie).await?;
        }
        let mut to = see_other("/admin/login");
        let _ = to.add_cookie(&session_removal());
        Ok(to)
    })
    .await
}

pub async fn logout_everywhere(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        console_auth::sign_out_everywhere(c.db(), &c.actor).await?;
        let mut to = see_other("/admin/login");
        let _ = to.add_cookie(&session_removal());
        Ok(to)
    })
    .await
}

pub async fn password_form(page: Page) -> HttpResponse {
    console(
        page,
        |c: Console| async move { c.render(StatusCode::OK, "pages/admin/password.html", "account", json!({})) },
    )
    .await
}

/// Changes the password; every other session and token ends, this browser signs in again.
pub async fn password(page: Page, form: Form) -> HttpResponse {
    console(page, |c: Console| async move {
        c.check(&form)?;
        let old = form.get("old_password").cloned().unwrap_or_default();
        let new = form.get("new_password").cloned().unwrap_or_default();
        let changed = async {
            let new = NewPassword::parse(new).map_err(|e| crate::error::AppError::invalid_field("new_password", e))?;
            let keys = c
                .page
                .req
                .app_data::<web::Data<crate::service::auth::AuthKeys>>()
                .cloned()
                .ok_or_else(|| crate::error::AppError::Internal(anyhow::anyhow!("AuthKeys not configured")))?;
            crate::service::auth::change_password(c.db(), &keys, &c.actor, old, new).await
        };
        match changed.await {
            Ok(_) => Ok(see_other("/admin/login?done=password")),
            Err(e) => {
                let refused = refusal(e)?;
                c.render(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "pages/admin/password.html",
                    "account",
                    json!({"error": refused}),
                )
            }
        }
    })
    .await
}

fn invitation_page(
    page: &Page,
    status: StatusCode,
    program: &str,
    token: &str,
    error: Option<&str>,
) -> AppResult<HttpResponse> {
    let lang = page.lang(Lang::En);
    let context = json!({"program": {"name": program}, "token": token, "error": error, "min": NewPassword::MIN_CHARS});
    page.form(status, "pages/admin/invitation.html", lang, context)
}

/// The page of a link that can't be used (any more), saying why.
fn spent(page: &Page, error: crate::error::AppError) -> AppResult<HttpResponse> {
    let refused = refusal(error)?;
    invitation_page(page, StatusCode::GONE, "encarte", "", Some(&format!("console.invitation.{}", refused.code)))
}

pub async fn invitation_form(page: Page, token: web::Path<String>) -> HttpResponse {
    page.respond(async {
        let token = token.into_inner();
        match crate::service::staff::invitation_usable(page.db(), &page.deps.link_key, &token).await {
            Ok(program) => invitation_page(&page, StatusCode::OK, &program, &token, None),
            Err(e) => spent(&page, e),
        }
    })
    .await
}

/// Sets the password; an owner or manager lands in the console, signed in; a cashier at the till.
pub async fn invitation(page: Page, token: web::Path<String>, form: Form) -> HttpResponse {
    page.respond(async {
        page.check_csrf(&form)?;
        let token = token.into_inner();
        let program = match crate::service::staff::invitation_usable(page.db(), &page.deps.link_key, &token).await {
            Ok(program) => program,
            Err(e) => return spent(&page, e),
        };
        let (password, again) = (
            form.get("password").cloned().unwrap_or_default(),
            form.get("password_again").cloned().unwrap_or_default(),
        );
        let refuse = |key: &str| invitation_page(&page, StatusCode::UNPROCESSABLE_ENTITY, &program, &token, Some(key));
        if password != again {
            return refuse("console.invitation.mismatch");
        }
        let Ok(password) = NewPassword::parse(password) else {
            return refuse("console.invitation.short");
        };
        match crate::service::staff::accept(page.db(), &page.deps.link_key, &token, password).await {
            Ok(staff) => match console_auth::open(page.db(), staff).await? {
                SignedIn::Console { cookie } => {
                    let mut to = see_other("/admin?done=welcome");
                    let _ = to.add_cookie(&session_cookie(&page, cookie));
                    Ok(to)
                }
                SignedIn::Cashier => Ok(see_other("/staff")),
            },
            Err(e) => spent(&page, e),
        }
    })
    .await
}
