//! HTML pages: the customer's (`/p`, `/r`, `/c`, `/login`) and the staff scanner (`/staff`).
//! Rendered on the server from `templates/pages/`, in the visitor's language, with headers that
//! keep the card link (a bearer secret in the URL) out of Referer and caches.

pub mod admin;
pub mod assets;
pub mod csrf;
pub mod customer;
pub mod staff;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::render::{Lang, Templates};

/// Scripts and styles from us only; frames nowhere; forms post to us only.
const CSP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                   connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

/// The cookie that remembers the language chosen with the switch.
const LANG_COOKIE: &str = "lang";

/// The visitor's language: `?lang=` (the switch), then the cookie it set, then Accept-Language.
pub fn lang(req: &HttpRequest, fallback: Lang) -> Lang {
    let from_query = query_param(req, "lang").and_then(|l| Lang::from_tag(&l));
    let from_cookie = req.cookie(LANG_COOKIE).and_then(|c| Lang::from_tag(c.value()));
    from_query.or(from_cookie).unwrap_or_else(|| {
        let header = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Lang::negotiate(header, fallback)
    })
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get(name).cloned())
}

/// Whether cookies get the Secure flag: when the public URL is https.
pub fn secure(config: &crate::config::Config) -> bool {
    config.public_url().starts_with("https://")
}

/// A rendered page with the headers every page gets.
pub fn html(
    req: &HttpRequest,
    templates: &Templates,
    status: StatusCode,
    name: &str,
    lang: Lang,
    context: impl Serialize,
) -> Result<HttpResponse, AppError> {
    let body = templates.render(name, lang, context).map_err(AppError::Internal)?;
    let mut response = HttpResponse::build(status);
    response
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        // Not "no-referrer": with it browsers send `Origin: null` on our own form posts, which the
        // CSRF check refuses. "same-origin" still keeps the card's secret URL from other sites.
        // (The <meta name="referrer"> of pages/_layout.html says the same.)
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept-Language, Cookie"))
        .insert_header(("Permissions-Policy", "camera=(self), geolocation=(), microphone=()"));
    if let Some(chosen) = query_param(req, "lang").and_then(|l| Lang::from_tag(&l)) {
        let cookie = Cookie::build(LANG_COOKIE, chosen.as_str())
            .path("/")
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(365))
            .finish();
        response.cookie(cookie);
    }
    Ok(response.body(body))
}

/// A page-friendly error: the same status as the API would give, as a page in the visitor's
/// language (a phone shows it; JSON would be a dead end).
pub(crate) fn error_page(
    req: &HttpRequest,
    templates: &Templates,
    version: &str,
    lang: Lang,
    error: &AppError,
) -> HttpResponse {
    use actix_web::ResponseError;
    let status = error.status_code();
    let key = match status {
        StatusCode::NOT_FOUND => "error.not_found",
        StatusCode::FORBIDDEN => "error.forbidden",
        StatusCode::TOO_MANY_REQUESTS => "error.too_many",
        StatusCode::UNAUTHORIZED => "error.login_required",
        s if s.is_server_error() => "error.server",
        _ => "error.bad_request",
    };
    let context = serde_json::json!({ "program": {"name": "encarte"}, "v": version, "message_key": key });
    html(req, templates, status, "pages/error.html", lang, context).unwrap_or_else(|_| {
        HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(status.to_string())
    })
}

/// What every page handler works with, taken from the app's data in one extractor.
#[derive(Clone)]
pub struct Page {
    pub req: HttpRequest,
    pub templates: web::Data<Templates>,
    pub assets: web::Data<assets::Assets>,
    pub config: web::Data<crate::config::Config>,
    pub deps: web::Data<crate::context::AppContext>,
}

impl actix_web::FromRequest for Page {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        fn data<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, AppError> {
            req.app_data::<web::Data<T>>().cloned().ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("{} is not in the app data", std::any::type_name::<T>()))
            })
        }
        std::future::ready((|| {
            Ok(Page {
                req: req.clone(),
                templates: data(req)?,
                assets: data(req)?,
                config: data(req)?,
                deps: data(req)?,
            })
        })())
    }
}

impl Page {
    pub fn db(&self) -> &crate::db::Db {
        &self.deps.db
    }

    /// The visitor's language, `fallback` when nothing they sent names one of ours.
    pub fn lang(&self, fallback: Lang) -> Lang {
        lang(&self.req, fallback)
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.req.cookie(name).map(|c| c.value().to_owned())
    }

    /// Renders a page; the context gets the assets' version for the `?v=` of their links.
    pub fn render(
        &self,
        status: StatusCode,
        name: &str,
        lang: Lang,
        mut context: serde_json::Value,
    ) -> AppResult<HttpResponse> {
        context["v"] = serde_json::json!(self.assets.version);
        html(&self.req, &self.templates, status, name, lang, context)
    }

    /// Like [`render`](Self::render), for a page with a form: its CSRF token is `csrf` in the
    /// context, and the cookie is set when the visitor has none yet.
    pub fn form(
        &self,
        status: StatusCode,
        name: &str,
        lang: Lang,
        mut context: serde_json::Value,
    ) -> AppResult<HttpResponse> {
        let (token, cookie) = csrf::token(&self.req, secure(&self.config));
        context["csrf"] = serde_json::json!(token);
        let mut response = self.render(status, name, lang, context)?;
        if let Some(cookie) = cookie {
            let _ = response.add_cookie(&cookie);
        }
        Ok(response)
    }

    /// Refuses a posted form whose CSRF token is missing or wrong.
    pub fn check_csrf(&self, form: &std::collections::BTreeMap<String, String>) -> AppResult<()> {
        csrf::check(&self.req, form.get(csrf::FIELD).map(String::as_str))
    }

    /// The handler's answer, or its error as a page in the visitor's language.
    pub async fn respond(&self, handler: impl std::future::Future<Output = AppResult<HttpResponse>>) -> HttpResponse {
        match handler.await {
            Ok(response) => response,
            Err(error) => {
                use actix_web::ResponseError;
                if error.status_code().is_server_error() {
                    // An error logs itself when it becomes a response; this one becomes a page.
                    let detail = match &error {
                        AppError::Internal(cause) | AppError::Unavailable(cause) => format!("{cause:#}"),
                        other => other.to_string(),
                    };
                    tracing::error!(error = detail, "page failed");
                }
                let lang = self.lang(Lang::En);
                let mut response = error_page(&self.req, &self.templates, &self.assets.version, lang, &error);
                if let AppError::TooManyRequests { retry_after_seconds } = error
                    && let Ok(value) = header::HeaderValue::from_str(&retry_after_seconds.to_string())
                {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // A body too slow to arrive is a 408 like the API's; other form errors keep their status and
    // get our error shape from `http::errors`.
    let form_error = |e: actix_web::error::UrlencodedError, _: &HttpRequest| -> actix_web::Error {
        match e {
            actix_web::error::UrlencodedError::Payload(payload) => crate::http::edge::body_error(&payload).into(),
            other => other.into(),
        }
    };
    use customer::{
        card_page, claim_reward, data_export, delete_account, delete_confirm, enrol_program, enrol_referral,
        login_form, login_link, login_request, login_use, logout, program_page, referral_page, unsubscribe,
        unsubscribe_page,
    };
    cfg.app_data(web::FormConfig::default().limit(16 * 1024).error_handler(form_error))
        .service(web::resource("/p/{program}").get(program_page).post(enrol_program))
        .service(web::resource("/p/{program}/login").get(login_form).post(login_request))
        .service(web::resource("/r/{code}").get(referral_page).post(enrol_referral))
        .service(web::resource("/login/{token}").get(login_link).post(login_use))
        .service(web::resource("/logout").post(logout))
        .service(web::resource("/c/{token}").get(card_page))
        .service(web::resource("/c/{token}/rewards/{reward_id}").post(claim_reward))
        .service(web::resource("/c/{token}/data.json").get(data_export))
        .service(web::resource("/c/{token}/delete").get(delete_confirm).post(delete_account))
        .service(web::resource("/unsubscribe/{token}").get(unsubscribe_page).post(unsubscribe))
        .configure(admin::configure);
}
