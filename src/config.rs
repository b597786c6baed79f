//! Every setting, declared once: name, type, default and doc. Read from `encarte.toml` (or the
//! file in `ENCARTE_CONFIG`), then from `ENCARTE_<NAME>` environment variables, which win.
//! `encarte config` prints the table the README carries; a test keeps the two in step.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::{Deserialize, Deserializer, Serialize};

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
            $( $(#[doc = $doc])+ #[serde(deserialize_with = "Setting::read")] pub $name: $ty, )+
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
    /// Milliseconds an idle worker waits for a job before it looks anyway: a job queued on this
    /// node (or, on PostgreSQL, any node) wakes it at once.
    worker_poll_ms: u64 = 500,
    /// Jobs a worker runs at once (a slow APNs or SMTP call holds its own slot only).
    worker_concurrency: usize = 32,
    /// Of those, e-mails at once (what an SMTP relay takes from one client).
    worker_email_concurrency: usize = 4,
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
    /// How many days back a till may date a sale it uploads late (`occurred_at` of a purchase).
    purchase_backdate_max_days: i64 = 30,
    /// Days before points expire that the holder is sent a reminder (0: none).
    expiry_reminder_days: i64 = 30,
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
    /// Seconds a client has to send a request's body once its head has arrived (then 408).
    body_timeout_seconds: u64 = 10,
    /// Open connections one client address may hold (a trusted proxy's are not counted); more are
    /// answered 429 and closed.
    max_connections_per_client: usize = 128,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` and
    /// `X-Forwarded-Host` are believed, for the client address of the rate limits and the host of
    /// the CSRF Origin check. Empty means none: the peer is the client.
    trusted_proxies: crate::http::client::TrustedProxies = crate::http::client::TrustedProxies::default(),
}

/// Environment variables as the text they are. figment's own `Env` parses each value, so that
/// `ENCARTE_DEMO_PASSWORD=00012345` became the number 12345 and a digits-only Google issuer id
/// refused start-up; numeric settings still read their text (`extract_lossy`).
struct TextEnv(Vec<(String, String)>);

impl Provider for TextEnv {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_, keys| format!("ENCARTE_{}", keys.join(".").to_ascii_uppercase()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = self.0.iter().map(|(key, value)| (key.clone(), Value::from(value.clone()))).collect();
        Ok(Profile::Default.collect(dict))
    }
}

/// How one setting is read: text settings take any scalar as its text (`google_issuer_id =
/// 3388000000012345678` unquoted in the file); the others read as their type.
trait Setting: Sized {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

macro_rules! typed_settings {
    ($($ty:ty),+) => {$(
        impl Setting for $ty {
            fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$ty>::deserialize(d)
            }
        }
    )+};
}
typed_settings!(bool, i64, u64, u32, usize, PathBuf, Option<PathBuf>, crate::http::client::TrustedProxies);

/// A scalar as text: strings as they are, numbers and booleans as written.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a text")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Setting for String {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Text::deserialize(d).map(|t| t.0)
    }
}

impl Setting for Option<String> {
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<Text>::deserialize(d).map(|t| t.map(|t| t.0))
    }
}

impl Config {
    /// Defaults, then `encarte.toml` (or `$ENCARTE_CONFIG`), then the environment.
    pub fn load() -> anyhow::Result<Config> {
        let file = std::env::var("ENCARTE_CONFIG").unwrap_or_else(|_| "encarte.toml".to_owned());
        let explicit = std::env::var_os("ENCARTE_CONFIG").is_some();
        if explicit && !Path::new(&file).exists() {
            anyhow::bail!("ENCARTE_CONFIG names {file}, which does not exist");
        }
        let vars =
            std::env::vars_os().map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()));
        Self::from_sources(Toml::file(&file), vars)
    }

    /// Defaults, then `file`, then the `ENCARTE_*` variables of `env` (then `DATABASE_URL`), validated.
    pub fn from_sources(
        file: impl Provider,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Config> {
        let mut settings = Vec::new();
        let mut database_url = None;
        for (key, value) in env {
            match key.strip_prefix("ENCARTE_") {
                Some("CONFIG" | "") => {}
                Some(name) => settings.push((name.to_ascii_lowercase(), value)),
                None if key == "DATABASE_URL" => database_url = Some(value),
                None => {}
            }
        }
        settings.extend(database_url.map(|url| ("database_url".to_owned(), url)));
        // Lossy: a number or a boolean setting given as text ("5", "true") is read as one.
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(file)
            .merge(TextEnv(settings))
            .extract_lossy()
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
        if self.purchase_backdate_max_days < 0 {
            anyhow::bail!("purchase_backdate_max_days must not be negative");
        }
        if !(0..=365).contains(&self.expiry_reminder_days) {
            anyhow::bail!("expiry_reminder_days must be between 0 and 365");
        }
        if self.db_pool_size == 0 || self.worker_concurrency == 0 || self.job_lease_seconds <= 0 {
            anyhow::bail!("db_pool_size, worker_concurrency and job_lease_seconds must be positive");
        }
        if self.body_timeout_seconds == 0 || self.max_connections_per_client == 0 {
            anyhow::bail!("body_timeout_seconds and max_connections_per_client must be positive");
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
                Some(serde_json::Value::String(v)) if v.is_empty() => "(none)".to_owned(),
                Some(serde_json::Value::String(v)) => format!("`{v}`"),
                Some(v) => format!("`{v}`"),
            };
            let env = format!("`ENCARTE_{}`", s.name.to_uppercase());
            out.push_str(&format!("| `{}` | {} | {} | {} |\n", s.name, env, default, s.doc.trim()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn text_settings_keep_the_text_of_digits() {
        let vars = env(&[
            ("ENCARTE_GOOGLE_ISSUER_ID", "3388000000012345678"),
            ("ENCARTE_DEMO_PASSWORD", "00012345"),
            ("ENCARTE_JWT_SECRET", "01234567890123456789012345678901234"),
            ("ENCARTE_APPLE_TEAM_ID", "1.50"),
            ("ENCARTE_WORKER_POLL_MS", "250"),
            ("ENCARTE_DEMO", "false"),
            ("ENCARTE_CONFIG", "ignored.toml"),
            ("HOME", "/root"),
        ]);
        let config = Config::from_sources(Toml::string(""), vars).unwrap();
        assert_eq!(config.google_issuer_id.as_deref(), Some("3388000000012345678"));
        assert_eq!(config.demo_password.as_deref(), Some("00012345"));
        assert_eq!(config.jwt_secret.as_deref(), Some("01234567890123456789012345678901234"));
        assert_eq!(config.apple_team_id.as_deref(), Some("1.50"));
        assert_eq!(config.worker_poll_ms, 250);
        assert!(!config.demo);
    }

    #[test]
    fn an_unquoted_number_in_the_file_is_text_for_a_text_setting() {
        let file =
            Toml::string("google_issuer_id = 3388000000012345678\ndemo_password = 12345678\nworker_concurrency = 8");
        let config = Config::from_sources(file, Vec::new()).unwrap();
        assert_eq!(config.google_issuer_id.as_deref(), Some("3388000000012345678"));
        assert_eq!(config.demo_password.as_deref(), Some("12345678"));
        assert_eq!(config.worker_concurrency, 8);
    }

    #[test]
    fn the_environment_wins_and_database_url_wins_over_its_encarte_name() {
        let file = Toml::string("bind = \"0.0.0.0:9000\"");
        let vars = env(&[
            ("ENCARTE_BIND", "127.0.0.1:9001"),
            ("ENCARTE_DATABASE_URL", "sqlite://a.db"),
            ("DATABASE_URL", "sqlite://b.db"),
        ]);
        let config = Config::from_sources(file, vars).unwrap();
        assert_eq!(config.bind, "127.0.0.1:9001");
        assert_eq!(config.database_url(), "sqlite://b.db");
    }

    #[test]
    fn a_number_setting_given_words_is_named() {
        let err = Config::from_sources(Toml::string(""), env(&[("ENCARTE_WORKER_CONCURRENCY", "many")])).unwrap_err();
        assert!(format!("{err}").contains("ENCARTE_WORKER_CONCURRENCY"), "{err}");
    }
}
