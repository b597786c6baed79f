//! `AppError`: the one place that decides status codes and error codes.
//!
//! Client mistakes carry a stable snake-case `code` and a message meant for the caller. Everything
//! else (database, I/O, bugs) becomes an opaque 500 or 503 whose cause goes to the log only.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A mistake of the caller: bad input, a rule of the domain, a missing right.
    #[error("{message}")]
    Client { status: StatusCode, code: &'static str, message: String, field: Option<String> },
    /// Too many attempts (code guessing, unauthenticated calls): retry after the given delay.
    #[error("too many attempts")]
    TooManyRequests { retry_after_seconds: i64 },
    /// A dependency is down or saturated (database pool, lock timeout): retry later.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Client { status, code, message: message.into(), field: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, code, message)
    }
    /// A field of the request that does not parse; the field is named in the body.
    pub fn invalid_field(field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        AppError::Client {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: if field.is_empty() { message.to_string() } else { format!("{field}: {message}") },
            field: (!field.is_empty()).then_some(field),
        }
    }
    /// A request that parses but breaks a rule on one of its fields; the field is named.
    pub fn unprocessable_field(code: &'static str, field: impl Into<String>, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        AppError::Client {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            message: format!("{field}: {message}"),
            field: Some(field),
        }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, code, message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::CONFLICT, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// An error actix answered by itself (a wrong method, a body its extractor refused, a header
    /// value that did not convert), in our terms: its status kept, with a code. A server error
    /// is ours to fix: its message goes to the log, never to the caller.
    pub fn from_status(status: StatusCode, message: String) -> Self {
        let code = match status {
            StatusCode::SERVICE_UNAVAILABLE => return AppError::Unavailable(anyhow::anyhow!(message)),
            s if s.is_server_error() => return AppError::Internal(anyhow::anyhow!(message)),
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::LENGTH_REQUIRED => "length_required",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            _ => "invalid_request",
        };
        Self::client(status, code, message)
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Client { code, .. } => code,
            AppError::TooManyRequests { .. } => "too_many_attempts",
            AppError::Unavailable(_) => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match &err {
            DieselError::NotFound => AppError::not_found("not_found", "no such resource"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::conflict("conflict", "the resource already exists")
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection
                // SQLite gives up after busy_timeout; PostgreSQL may pick us as a deadlock victim.
                | DatabaseErrorKind::SerializationFailure,
                _,
            ) => AppError::Unavailable(err.into()),
            DieselError::DatabaseError(_, info)
                if info.message().contains("database is locked") || info.message().contains("deadlock detected") =>
            {
                AppError::Unavailable(err.into())
            }
            _ => AppError::Internal(err.into()),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl AppError {
    /// The body of this error's answer, for a response written outside actix-web.
    pub fn body_json(&self) -> Vec<u8> {
        let (message, field) = match self {
            AppError::Client { message, field, .. } => (message.as_str(), field.as_deref()),
            _ => ("internal error", None),
        };
        serde_json::to_vec(&ErrorBody { error: ErrorDetail { code: self.code(), message, field } }).unwrap_or_default()
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Client { status, .. } => *status,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (message, field) = match self {
            AppError::Client { message, field, .. } => (message.as_str(), field.as_deref()),
            AppError::TooManyRequests { .. } => ("too many requests; wait before trying again", None),
            AppError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "service unavailable");
                ("the service is busy or its database is unreachable; retry shortly", None)
            }
            AppError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                ("internal error", None)
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        match self {
            AppError::Unavailable(_) => {
                response.insert_header(("Retry-After", "1"));
            }
            AppError::TooManyRequests { retry_after_seconds } => {
                response.insert_header(("Retry-After", retry_after_seconds.to_string()));
            }
            _ => {}
        }
        response.json(ErrorBody { error: ErrorDetail { code: self.code(), message, field } })
    }
}
