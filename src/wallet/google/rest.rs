//! The Wallet REST API client (spec §3): bearer token from the service account, insert with a
//! fallback to PATCH when the resource exists, and Google's answers sorted into what to do next.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::auth::TokenSource;

pub struct Rest {
    http: reqwest::Client,
    base_url: String,
    tokens: TokenSource,
    /// The earliest moment the next call may start: calls are spaced to stay under Google's
    /// 20 requests per second (per node; nodes sharing an issuer share that limit too).
    next_slot: tokio::sync::Mutex<tokio::time::Instant>,
}

/// 1 s / 20 requests.
const SPACING: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("not found at Google")]
    NotFound,
    /// 409 on an insert: the caller sends a PATCH instead.
    #[error("already exists at Google")]
    Exists,
    /// 429, 5xx, timeouts, an expired token: worth another try later.
    #[error("{0}")]
    Retry(String),
    /// Other 4xx: our data or set-up is wrong (issuer id, service account rights, a field).
    #[error("{0}")]
    Misconfigured(String),
}

/// REST calls by outcome since the node started, for `/metrics`.
pub static OUTCOMES: [(&str, AtomicU64); 4] = [
    ("ok", AtomicU64::new(0)),
    ("not_found", AtomicU64::new(0)),
    ("retry", AtomicU64::new(0)),
    ("misconfigured", AtomicU64::new(0)),
];

fn count(outcome: &str) {
    if let Some((_, n)) = OUTCOMES.iter().find(|(label, _)| *label == outcome) {
        n.fetch_add(1, Ordering::Relaxed);
    }
}

/// Google asks clients to allow 10 s (p99 is about 5 s).
pub const TIMEOUT: Duration = Duration::from_secs(10);

impl Rest {
    pub fn new(http: reqwest::Client, base_url: &str, tokens: TokenSource) -> Rest {
        let next_slot = tokio::sync::Mutex::new(tokio::time::Instant::now());
        Rest { http, base_url: base_url.trim_end_matches('/').to_owned(), tokens, next_slot }
    }

    async fn send(&self, method: Method, path: &str, body: &Value) -> Result<Value, RestError> {
        let slot = {
            let mut next = self.next_slot.lock().await;
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + SPACING;
            slot
        };
        tokio::time::sleep_until(slot).await;
        let result = self.call(method, path, body).await;
        count(match &result {
            Ok(_) | Err(RestError::Exists) => "ok",
            Err(RestError::NotFound) => "not_found",
            Err(RestError::Retry(_)) => "retry",
            Err(RestError::Misconfigured(_)) => "misconfigured",
        });
        result
    }

    async fn call(&self, method: Method, path: &str, body: &Value) -> Result<Value, RestError> {
        let token = self.tokens.token().await.map_err(|e| RestError::Retry(format!("Google OAuth: {e}")))?;
        let response = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .timeout(TIMEOUT)
            .json(body)
            .send()
            .await
            .map_err(|e| RestError::Retry(format!("Google unreachable: {}", e.without_url())))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        let what = format!("Google answered {status} to {method} {path}: {message}");
        Err(match status {
            404 => RestError::NotFound,
            401 => {
                // The token was revoked or expired early: the next try fetches a new one.
                self.tokens.invalidate().await;
                RestError::Retry(what)
            }
            409 => RestError::Exists,
            429 | 500..=599 => RestError::Retry(what),
            _ => RestError::Misconfigured(what),
        })
    }

    /// Inserts the class or object (`kind`: `loyaltyClass` / `loyaltyObject`); when it already
    /// exists, sends the same body as a PATCH.
    pub async fn upsert(&self, kind: &str, resource: &Value) -> Result<(), RestError> {
        let id = resource["id"].as_str().unwrap_or_default();
        match self.send(Method::POST, &format!("/{kind}"), resource).await {
            Ok(_) => Ok(()),
            Err(RestError::Exists) => self.send(Method::PATCH, &format!("/{kind}/{id}"), resource).await.map(drop),
            Err(e) => Err(e),
        }
    }

    pub async fn patch_object(&self, object_id: &str, body: &Value) -> Result<(), RestError> {
        self.send(Method::PATCH, &format!("/loyaltyObject/{object_id}"), body).await.map(drop)
    }
}
