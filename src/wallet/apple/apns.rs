//! The APNs client for pass updates (spec §4): HTTP/2 `POST {base}/3/device/{token}` with an
//! empty JSON body, the pass type identifier as topic, and the Pass Type ID certificate as TLS
//! client identity. One `reqwest` client per node: one long-lived connection carries many
//! concurrent streams.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::certs::SigningIdentity;

/// Apple's production host: pass push tokens are production tokens, even from development devices.
pub const PRODUCTION: &str = "https://api.push.apple.com";

pub struct Apns {
    client: reqwest::Client,
    base_url: String,
    topic: String,
}

/// What to do after one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The token is dead for good (410 Unregistered, 400 BadDeviceToken): forget it.
    TokenGone(String),
    /// Worth another try later: 429, 5xx, a timeout, a broken connection.
    Retry(String),
    /// Our set-up is wrong (certificate, topic): retrying as is will not help, but fixing it will,
    /// so the token is kept and the job retried with backoff while someone looks.
    Misconfigured(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::TokenGone(_) => "token_gone",
            Outcome::Retry(_) => "retry",
            Outcome::Misconfigured(_) => "misconfigured",
        }
    }
}

/// Pushes by outcome since the node started, for `/metrics`.
pub static OUTCOMES: [(&str, AtomicU64); 4] = [
    ("delivered", AtomicU64::new(0)),
    ("token_gone", AtomicU64::new(0)),
    ("retry", AtomicU64::new(0)),
    ("misconfigured", AtomicU64::new(0)),
];

#[derive(Debug, thiserror::Error)]
pub enum ApnsError {
    #[error("the APNs client identity: {0}")]
    Identity(#[from] openssl::error::ErrorStack),
    #[error("the APNs client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("the APNs base URL must be https: {0:?}")]
    Url(String),
}

impl Apns {
    /// `extra_root`: a PEM certificate to trust besides the system's (a local mock, a proxy).
    pub fn new(
        identity: &SigningIdentity,
        base_url: &str,
        extra_root: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Apns, ApnsError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        if !base_url.starts_with("https://") {
            return Err(ApnsError::Url(base_url));
        }
        let mut chain = identity.certificate().to_pem()?;
        chain.extend(identity.wwdr().to_pem()?);
        let key = identity.key().private_key_to_pem_pkcs8()?;
        let mut builder = reqwest::Client::builder()
            .use_native_tls()
            .identity(reqwest::Identity::from_pkcs8_pem(&chain, &key)?)
            .http2_prior_knowledge()
            .http2_keep_alive_interval(Duration::from_mins(1))
            .http2_keep_alive_while_idle(true)
            .pool_idle_timeout(None)
            .connect_timeout(timeout)
            .timeout(timeout);
        if let Some(pem) = extra_root {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
        }
        Ok(Apns { client: builder.build()?, base_url, topic: identity.pass_type_id().to_owned() })
    }

    /// Tells the device behind `push_token` that one of its passes changed.
    pub async fn push(&self, push_token: &str) -> Outcome {
        let outcome = self.send(push_token).await;
        if let Some((_, counter)) = OUTCOMES.iter().find(|(label, _)| *label == outcome.label()) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    async fn send(&self, push_token: &str) -> Outcome {
        let url = format!("{}/3/device/{push_token}", self.base_url);
        let response = self
            .client
            .post(url)
            .header("apns-topic", &self.topic)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            // Without the URL: it holds the device token, which stays out of logs.
            Err(e) => return Outcome::Retry(format!("APNs unreachable: {}", error_chain(&e.without_url()))),
        };
        let status = response.status().as_u16();
        if status == 200 {
            return Outcome::Delivered;
        }
        let reason = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
            .unwrap_or_default();
        classify(status, &reason)
    }
}

/// Apple's table of responses (spec §4.3) turned into what we do about each.
pub fn classify(status: u16, reason: &str) -> Outcome {
    let what = format!("APNs answered {status} {reason}").trim_end().to_owned();
    match (status, reason) {
        (200, _) => Outcome::Delivered,
        (410, _) | (400, "BadDeviceToken") => Outcome::TokenGone(what),
        (429 | 500..=599, _) => Outcome::Retry(what),
        _ => Outcome::Misconfigured(what),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{Outcome, classify};

    #[test]
    fn apple_responses_map_to_actions() {
        assert_eq!(classify(200, ""), Outcome::Delivered);
        assert!(matches!(classify(410, "Unregistered"), Outcome::TokenGone(_)));
        assert!(matches!(classify(400, "BadDeviceToken"), Outcome::TokenGone(_)));
        assert!(matches!(classify(429, "TooManyRequests"), Outcome::Retry(_)));
        assert!(matches!(classify(503, "ServiceUnavailable"), Outcome::Retry(_)));
        assert!(matches!(classify(500, ""), Outcome::Retry(_)));
        for (status, reason) in
            [(403, "BadCertificate"), (400, "DeviceTokenNotForTopic"), (400, "TopicDisallowed"), (400, "BadTopic")]
        {
            assert!(matches!(classify(status, reason), Outcome::Misconfigured(_)), "{status} {reason}");
        }
        assert_eq!(classify(410, "Unregistered"), Outcome::TokenGone("APNs answered 410 Unregistered".into()));
    }
}
