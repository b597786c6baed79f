//! Request extractors: the staff session, the Idempotency-Key header, and a JSON body whose
//! errors name the field at fault.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::db::Db;
use crate::domain::text::IdempotencyKey;
use crate::error::AppError;
use crate::service::Actor;
use crate::service::auth::AuthKeys;

/// The authenticated staff member, from `Authorization: Bearer <token>`, checked against the
/// staff table on every request (see [`crate::service::auth::authenticate`]).
pub struct Staff(pub Actor);

impl FromRequest for Staff {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = bearer(req).and_then(|token| {
            let keys = req.app_data::<web::Data<AuthKeys>>().cloned();
            let db = req.app_data::<web::Data<Db>>().cloned();
            match (keys, db) {
                (Some(keys), Some(db)) => Ok((token, keys, db)),
                _ => Err(AppError::Internal(anyhow::anyhow!("AuthKeys or Db not configured"))),
            }
        });
        Box::pin(async move {
            let (token, keys, db) = found?;
            crate::service::auth::authenticate(&db, &keys, &token).await.map(Staff)
        })
    }
}

fn bearer(req: &HttpRequest) -> Result<String, AppError> {
    let header =
        req.headers().get(actix_web::http::header::AUTHORIZATION).and_then(|h| h.to_str().ok()).ok_or_else(|| {
            AppError::unauthorized("unauthorized", "this needs a staff token: Authorization: Bearer <token>")
        })?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .ok_or_else(|| AppError::unauthorized("unauthorized", "the Authorization header must be Bearer <token>"))?;
    Ok(token.trim().to_owned())
}

/// The `Idempotency-Key` header, required.
pub struct IdempotencyHeader(pub IdempotencyKey);

impl FromRequest for IdempotencyHeader {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match optional_key(req) {
            Ok(Some(key)) => Ok(IdempotencyHeader(key)),
            Ok(None) => Err(AppError::bad_request(
                "missing_idempotency_key",
                "this request changes points: send an Idempotency-Key header (a UUID per operation) so that a retry can't apply it twice",
            )),
            Err(e) => Err(e),
        })
    }
}

/// The `Idempotency-Key` header where it is optional.
pub struct OptionalIdempotencyHeader(pub Option<IdempotencyKey>);

impl FromRequest for OptionalIdempotencyHeader {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(optional_key(req).map(OptionalIdempotencyHeader))
    }
}

fn optional_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    let value =
        value.to_str().ok().filter(|v| v.bytes().all(|b| b.is_ascii_graphic())).ok_or_else(|| {
            AppError::bad_request("invalid_idempotency_key", "an Idempotency-Key is visible ASCII only")
        })?;
    IdempotencyKey::parse(value.to_owned())
        .map(Some)
        .map_err(|e| AppError::bad_request("invalid_idempotency_key", e.to_string()))
}

/// Largest JSON body we read: requests here are a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// A JSON body. Unlike `web::Json`, a failure names the field (`amount_cents: invalid type...`)
/// and comes back in our error shape.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move { decode(&body.await?).map(JsonBody) })
    }
}

/// A JSON body that may be left out (a POST whose fields all have defaults): no body reads as
/// `T::default()`, any other body as [`JsonBody`] reads it.
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let bytes = body.await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJsonBody(T::default()));
            }
            decode(&bytes).map(OptionalJsonBody)
        })
    }
}

/// The body, refused when it says it is not JSON or is too large.
fn read_body(req: &HttpRequest, payload: &mut Payload) -> LocalBoxFuture<'static, Result<web::Bytes, AppError>> {
    let content_type =
        req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        if let Some(ct) = content_type
            && !ct.starts_with("application/json")
            && !ct.contains("+json")
        {
            return Err(AppError::client(
                actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = body.await.map_err(|e| match e.as_error::<actix_web::error::PayloadError>() {
            Some(payload) => crate::http::edge::body_error(payload),
            None => AppError::client(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the body is too large",
            ),
        })?;
        if bytes.len() > MAX_BODY {
            return Err(AppError::client(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body has more than {MAX_BODY} bytes"),
            ));
        }
        Ok(bytes)
    })
}

/// Reads `T`, naming the field that is wrong.
fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = field_path(&e.path().to_string());
        let inner = e.into_inner();
        let message =
            if inner.is_syntax() || inner.is_eof() { format!("malformed JSON: {inner}") } else { inner.to_string() };
        AppError::invalid_field(missing_field(&message).map_or(path.clone(), |f| join(&path, f)), message)
    })?;
    de.end().map_err(|e| AppError::invalid_field("", format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// "consents.?" (an unknown map key) reads as "consents"; the root "." as no field.
pub(crate) fn field_path(path: &str) -> String {
    path.split('.').filter(|seg| !seg.is_empty() && *seg != "?").collect::<Vec<_>>().join(".")
}

/// serde reports a missing field at its parent; name the field itself.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}
