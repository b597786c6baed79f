//! Google Wallet (see `../shared/specs/google-wallet.md`): a loyalty class per program, a loyalty
//! object per card kept up to date through the REST API, "Add to Google Wallet" save links, and
//! the save / delete callbacks.

pub mod auth;
pub mod callback;
pub mod objects;
pub mod rest;
pub mod save_link;

use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Mutex;

use crate::config::Config;
use auth::{ServiceAccount, TokenSource};
use callback::RootKey;
use rest::Rest;

/// How long fetched callback keys are trusted before asking Google again, at most.
const KEYS_TTL_MS: i64 = 3_600_000;

/// The Google channel of this node: present only when an issuer and a service account are set.
pub struct GoogleWallet {
    pub issuer_id: String,
    pub account: ServiceAccount,
    pub rest: Rest,
    keys_url: String,
    http: reqwest::Client,
    /// (keys, valid until, ms): one fetch serves every callback until then.
    keys: Mutex<Option<(Arc<Vec<RootKey>>, i64)>>,
}

impl GoogleWallet {
    /// `None` (and a line in the log saying so) when Google Wallet is not configured.
    pub fn load(config: &Config) -> anyhow::Result<Option<GoogleWallet>> {
        let (issuer_id, key_file) = match (&config.google_issuer_id, &config.google_service_account_file) {
            (Some(issuer), Some(file)) if !issuer.is_empty() => (issuer.clone(), file),
            (None, None) => {
                tracing::info!(
                    "Google Wallet is off: set google_issuer_id and google_service_account_file to offer it"
                );
                return Ok(None);
            }
            _ => anyhow::bail!("google_issuer_id and google_service_account_file go together"),
        };
        anyhow::ensure!(
            !issuer_id.is_empty() && issuer_id.bytes().all(|b| b.is_ascii_digit()),
            "google_issuer_id must be the numeric issuer id of the Google Pay & Wallet Console"
        );
        let json = std::fs::read(key_file).with_context(|| format!("cannot read {}", key_file.display()))?;
        let account = ServiceAccount::from_json(&json)
            .with_context(|| format!("{} is not a usable service account key", key_file.display()))?;
        let http = reqwest::Client::builder()
            .use_native_tls()
            .timeout(rest::TIMEOUT)
            .build()
            .context("cannot set up the Google HTTP client")?;
        let rest = Rest::new(http.clone(), &config.google_api_base, TokenSource::new(account.clone(), http.clone()));
        Ok(Some(GoogleWallet {
            issuer_id,
            account,
            rest,
            keys_url: config.google_callback_keys_url.clone(),
            http,
            keys: Mutex::new(None),
        }))
    }

    /// Google's current callback signing keys, cached; one fetch at a time.
    pub async fn root_keys(&self, now_ms: i64) -> anyhow::Result<Arc<Vec<RootKey>>> {
        let mut cached = self.keys.lock().await;
        if let Some((keys, _)) = cached.as_ref().filter(|(_, until)| *until > now_ms) {
            return Ok(keys.clone());
        }
        let response =
            self.http.get(&self.keys_url).send().await.map_err(|e| anyhow::anyhow!("{}", e.without_url()))?;
        anyhow::ensure!(response.status().is_success(), "the callback keys URL answered {}", response.status());
        let body = response.bytes().await?;
        let keys = callback::parse_root_keys(&body, now_ms)?;
        let until = callback::keys_expire_at(&keys).unwrap_or(i64::MAX).min(now_ms + KEYS_TTL_MS);
        let keys = Arc::new(keys);
        *cached = Some((keys.clone(), until));
        Ok(keys)
    }
}
