//! Every setting, declared once: name, type, default and doc. Read from `encarte.toml` (or the
//! file in `ENCARTE_CONFIG`), then from `ENCARTE_<NAME>` environment variables, which win.
//! `encarte config` prints the table the README carries; a test keeps the two in step.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// One documented setting, for `encarte config` and the README.
pub struct SettingDoc {
    pub name: &'static str,
    pub doc: &'static str,
}

macro_rules! settings {
    ($( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:expr ),+ $(,)?) => {
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Config {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl Default for Config {
            fn default() -> Self {
                Config { $( $name: $default, )+ }
            }
        }

        pub const SETTINGS: &[SettingDoc] = &[
            $( SettingDoc { name: stringify!($name), doc: concat!($($doc),+) }, )+
        ];
    };
}

settings! {
    /// Address and port the HTTP server listens on.
    bind: String = "127.0.0.1:8080".to_owned(),
    /// Directory for the SQLite database, generated secrets and development certificates.
    data_dir: PathBuf = PathBuf::from("./data"),
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`. Also read from `DATABASE_URL`. Empty means
    /// `sqlite://{data_dir}/encarte.db`.
    database_url: Option<String> = None,
    /// Public base URL of this service, used in links and passes. Empty means `http://{bind}`.
    public_url: Option<String> = None,
    /// Create the `demo` program (one shop, an owner and a cashier) when the database has no program yet.
    demo: bool = true,
    /// Password of the demo staff accounts. Empty means a random one, printed once at creation.
    demo_password: Option<String> = None,
    /// HS256 secret for staff tokens. Empty means one generated once: into `{data_dir}/jwt_secret`
    /// on SQLite, into the database on PostgreSQL (so that every node signs with the same key).
    jwt_secret: Option<String> = None,
    /// Lifetime of a staff token, in hours.
    token_ttl_hours: i64 = 12,
    /// Maximum database connections per node.
    db_pool_size: u32 = 16,
    /// Seconds to wait for a database connection (at start-up, and per request) before giving up.
    db_timeout_seconds: u64 = 5,
    /// Run the outbox worker inside `encarte serve` (turn off to run `encarte worker` separately).
    worker: bool = true,
    /// Milliseconds the worker sleeps when it finds no due job.
    worker_poll_ms: u64 = 500,
    /// Jobs a worker claims at once.
    worker_batch: i64 = 32,
    /// Seconds a claimed job stays leased to its worker; after that another worker may take it over.
    job_lease_seconds: i64 = 60,
    /// Hours an Idempotency-Key is remembered.
    idempotency_retention_hours: i64 = 48,
    /// Failed promo-code attempts a staff member may make per window before waiting (anti-guessing).
    promo_guess_limit_staff: i64 = 20,
    /// Failed promo-code attempts one client address may make per window before waiting.
    promo_guess_limit_address: i64 = 60,
    /// Length of the promo-code guessing window, in seconds.
    promo_guess_window_seconds: i64 = 600,
    /// Folder of pass designs, pages and e-mails.
    templates_dir: PathBuf = PathBuf::from("./templates"),
    /// The pass design of programs that did not choose one (a folder of `{templates_dir}/passes/`).
    pass_design: String = "default".to_owned(),
    /// Apple Pass Type ID. Empty means the certificate's (or `pass.dev.encarte.loyalty` with the development chain).
    apple_pass_type_id: Option<String> = None,
    /// Apple Team ID. Empty means the certificate's (or `DEVTEAM001` with the development chain).
    apple_team_id: Option<String> = None,
    /// Pass Type ID certificate (PEM). With `apple_key` and `apple_wwdr`; or use `apple_p12`.
    /// Empty (and no p12) means a development chain generated into `{data_dir}/certs/dev/`.
    apple_cert: Option<PathBuf> = None,
    /// Private key of the Pass Type ID certificate (PEM).
    apple_key: Option<PathBuf> = None,
    /// Certificate and key exported from the macOS Keychain (.p12).
    apple_p12: Option<PathBuf> = None,
    /// Password of `apple_p12` (set it through the environment, not the file).
    apple_p12_password: Option<String> = None,
    /// Apple WWDR G4 intermediate certificate (PEM).
    apple_wwdr: Option<PathBuf> = None,
    /// APNs base URL for pass update pushes (Apple's production host: pass push tokens are production tokens).
    apns_base_url: String = crate::wallet::apple::apns::PRODUCTION.to_owned(),
    /// Extra CA certificate (PEM) trusted for the APNs connection, for a local mock or a proxy.
    apns_ca: Option<PathBuf> = None,
    /// Seconds before an APNs connection attempt or push counts as failed (and is retried).
    apns_timeout_seconds: u64 = 10,
    /// Google Wallet issuer id (the number in the Google Pay & Wallet Console). With
    /// `google_service_account_file`; empty means Google Wallet is off.
    google_issuer_id: Option<String> = None,
    /// The service account's JSON key (its `token_uri` is used as is).
    google_service_account_file: Option<PathBuf> = None,
    /// Google Wallet REST API base URL.
    google_api_base: String = "https://walletobjects.googleapis.com/walletobjects/v1".to_owned(),
    /// Where Google publishes the keys that sign save / delete callbacks.
    google_callback_keys_url: String = "https://pay.google.com/gp/m/issuer/keys".to_owned(),
    /// SMTP server for e-mail: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://user:pass@host:465` (TLS from the start) or `smtp://host:25` (plain, for a local
    /// relay). Empty means e-mails are written as `.eml` files into `{data_dir}/mail/`.
    smtp_url: Option<String> = None,
    /// Extra CA certificate (PEM) trusted for the SMTP connection, for a private relay.
    smtp_ca: Option<PathBuf> = None,
    /// Sender of the e-mails, as `Name <address>`; the program's name replaces the display name.
    mail_from: String = "encarte <no-reply@encarte.invalid>".to_owned(),
    /// Log filter (tracing syntax); `RUST_LOG` takes precedence.
    log: String = "info,actix_server=warn".to_owned(),
    /// `text` for people, `json` for log collectors.
    log_format: String = "text".to_owned(),
    /// HTTP worker threads; 0 means one per core.
    http_workers: usize = 0,
}

impl Config {
    /// Defaults, then `encarte.toml` (or `$ENCARTE_CONFIG`), then the environment.
    pub fn load() -> anyhow::Result<Config> {
        let file = std::env::var("ENCARTE_CONFIG").unwrap_or_else(|_| "encarte.toml".to_owned());
        let explicit = std::env::var_os("ENCARTE_CONFIG").is_some();
        if explicit && !Path::new(&file).exists() {
            anyhow::bail!("ENCARTE_CONFIG names {file}, which does not exist");
        }
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("ENCARTE_").ignore(&["config"]))
            .merge(Env::raw().only(&["database_url"]))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.token_ttl_hours <= 0 {
            anyhow::bail!("token_ttl_hours must be positive");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            anyhow::bail!("log_format must be text or json");
        }
        if self.promo_guess_limit_staff <= 0
            || self.promo_guess_limit_address <= 0
            || self.promo_guess_window_seconds <= 0
        {
            anyhow::bail!("the promo_guess_* settings must be positive");
        }
        if self.db_pool_size == 0 || self.worker_batch <= 0 || self.job_lease_seconds <= 0 {
            anyhow::bail!("db_pool_size, worker_batch and job_lease_seconds must be positive");
        }
        if self.apns_timeout_seconds == 0 {
            anyhow::bail!("apns_timeout_seconds must be positive");
        }
        if !self.apns_base_url.starts_with("https://") {
            anyhow::bail!("apns_base_url must be an https URL (APNs speaks HTTP/2 over TLS only)");
        }
        self.mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| anyhow::anyhow!("mail_from is not a mailbox such as `Shop <no-reply@shop.example>`: {e}"))?;
        if let Some(url) = self.smtp_url.as_deref().filter(|u| !u.is_empty())
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            anyhow::bail!("smtp_url must start with smtp:// or smtps://");
        }
        if let Some(secret) = self.jwt_secret.as_deref().filter(|s| !s.is_empty())
            && secret.len() < 32
        {
            anyhow::bail!("jwt_secret must have at least 32 characters");
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match self.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(url) => url.to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("encarte.db").display()),
        }
    }

    pub fn public_url(&self) -> String {
        match self.public_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.bind),
        }
    }

    /// The settings as a Markdown table (for the README).
    pub fn markdown_table() -> String {
        let defaults = serde_json::to_value(Config::default()).unwrap_or_default();
        let mut out = String::from("| setting | environment | default | meaning |\n|---|---|---|---|\n");
        for s in SETTINGS {
            let default = match defaults.get(s.name) {
                Some(serde_json::Value::Null) | None => "(none)".to_owned(),
                Some(serde_json::Value::String(v)) => format!("`{v}`"),
                Some(v) => format!("`{v}`"),
            };
            let env = format!("`ENCARTE_{}`", s.name.to_uppercase());
            out.push_str(&format!("| `{}` | {} | {} | {} |\n", s.name, env, default, s.doc.trim()));
        }
        out
    }
}
