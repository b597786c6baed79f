//! CSRF protection of the customer forms: a random token in a cookie and the same token in a
//! hidden field (double submit). Another site can make a browser post to us, but can neither read
//! nor set our cookie, so it can't know the field. The Origin header, when the browser sends one,
//! must be ours too. Stateless, so it works on any node behind the load balancer.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;

use crate::domain::card::random_token;
use crate::error::AppError;

pub const COOKIE: &str = "csrf";
pub const FIELD: &str = "csrf";

/// The token to put in the form, and the cookie to set when the visitor has none yet.
pub fn token(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = req.cookie(COOKIE).map(|c| c.value().to_owned()).filter(|v| v.len() == 32) {
        return (existing, None);
    }
    let value = random_token(32);
    let cookie = Cookie::build(COOKIE, value.clone())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    (value, Some(cookie))
}

fn refused() -> AppError {
    AppError::client(
        actix_web::http::StatusCode::FORBIDDEN,
        "csrf_failed",
        "the form has expired: reload the page and send it again",
    )
}

/// Checks a posted form's token against the cookie, in constant time.
pub fn check(req: &HttpRequest, field: Option<&str>) -> Result<(), AppError> {
    if let Some(origin) = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = crate::http::client::host(req);
        let ours = origin.split_once("://").is_some_and(|(_, rest)| host.as_deref() == Some(rest));
        if !ours {
            return Err(refused());
        }
    }
    let cookie = req.cookie(COOKIE).ok_or_else(refused)?;
    let field = field.ok_or_else(refused)?;
    let cookie = cookie.value();
    if cookie.len() == field.len() && !field.is_empty() && openssl::memcmp::eq(cookie.as_bytes(), field.as_bytes()) {
        Ok(())
    } else {
        Err(refused())
    }
}
