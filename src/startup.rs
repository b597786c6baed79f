//! Builds the application from a `Config`: database, secrets, demo data, HTTP server, worker.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::config::Config;
use crate::context::AppContext;
use crate::db::{Backend, Db, DbUrl, blocking, repo};
use crate::domain::card::random_token;
use crate::jobs::{Job, JobMeta, Registry, Worker, WorkerSettings};
use crate::service::auth::AuthKeys;
use crate::service::programs;
use crate::wallet::AppleWallet;

pub struct Application {
    port: u16,
    handle: actix_web::dev::ServerHandle,
    server: actix_web::dev::Server,
    worker: Option<Worker>,
    deps: AppContext,
}

/// Opens the configured database (creating the default data directory) and migrates it.
pub async fn open_db(config: &Config) -> anyhow::Result<Db> {
    let url = DbUrl::parse(&config.database_url())?;
    if let Some(path) = url.sqlite_path() {
        if config.database_url.as_deref().is_none_or(str::is_empty) {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            anyhow::ensure!(dir.is_dir(), "the directory of the SQLite database, {}, does not exist", dir.display());
        }
    }
    let (pool_size, timeout) = (config.db_pool_size, Duration::from_secs(config.db_timeout_seconds));
    blocking(move || Db::open(&url, pool_size, timeout).map_err(crate::error::AppError::Internal)).await.map_err(|e| {
        match e {
            crate::error::AppError::Internal(inner) => inner,
            other => anyhow::anyhow!("{other}"),
        }
    })
}

pub fn worker_settings(config: &Config) -> WorkerSettings {
    WorkerSettings {
        concurrency: config.worker_concurrency,
        kind_limits: [(<crate::mail::Mail as Job>::KIND, config.worker_email_concurrency)].into(),
        lease: Duration::from_secs(u64::try_from(config.job_lease_seconds).unwrap_or(60)),
        poll: Duration::from_millis(config.worker_poll_ms),
        idempotency_retention: chrono::Duration::hours(config.idempotency_retention_hours),
    }
}

/// Every job kind of this build, with the function that runs it.
pub fn registry(ctx: &AppContext) -> Registry {
    use crate::service::{card_changes, conversions, expiry, insights, passes, passkit, promos, tiers, vouchers};
    let mut registry = Registry::default();
    let c = ctx.clone();
    registry.register(move |job: promos::GeneratePool, _| promos::run_generate_job(c.db.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: passes::PassesRefresh, _| passes::run_refresh(c.db.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: passkit::ApplePush, _| passkit::push(c.db.clone(), c.apple.clone(), job));
    let c = ctx.clone();
    registry.register(move |mail: crate::mail::Mail, _| crate::mail::run_job(c.clone(), mail));
    let c = ctx.clone();
    registry.register(move |old: crate::mail::LegacyReferral, meta: JobMeta| {
        crate::mail::run_legacy_referral_job(c.clone(), meta.program_id, old)
    });
    let c = ctx.clone();
    registry.register(move |change: card_changes::CardChanged, _| card_changes::run(c.clone(), change));
    let c = ctx.clone();
    registry.register(move |job: vouchers::expiry::ExpireVouchers, _| vouchers::expiry::run(c.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: conversions::season::ConversionRun, _| conversions::season::run(c.db.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: tiers::check::TierCheck, _| tiers::check::run_check(c.db.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: tiers::check::TierReevaluation, _| tiers::check::run_reevaluation(c.db.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: expiry::run::ExpiryCheck, _| expiry::run::run(c.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: insights::rfm::RfmScoring, _| insights::rfm::run_scoring(c.db.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: insights::rfm::RfmNightly, _| insights::rfm::run_nightly(c.db.clone(), job));
    let c = ctx.clone();
    registry.register(move |job: crate::service::campaigns::send::CampaignSend, _| {
        crate::service::campaigns::send::run(c.db.clone(), job)
    });
    registry
}

/// Queues the recurring sweeps. They start with the first worker of the cluster (`serve` with
/// its worker, or `encarte worker`); their dedupe keys keep one queued however many start.
pub async fn schedule_sweeps(db: &Db) -> anyhow::Result<()> {
    crate::service::vouchers::expiry::schedule(db, chrono::Duration::zero()).await?;
    crate::service::tiers::check::schedule(db, chrono::Duration::zero()).await?;
    crate::service::expiry::run::schedule(db, chrono::Duration::zero()).await?;
    crate::service::insights::rfm::schedule(db, chrono::Duration::zero()).await?;
    Ok(())
}

/// The staff token key: configured, or generated once. On SQLite it lives in the data
/// directory (one process owns the file anyway); on PostgreSQL in the database, so that every
/// node behind the load balancer accepts every other node's tokens.
async fn jwt_secret(config: &Config, db: &Db) -> anyhow::Result<String> {
    if let Some(secret) = config.jwt_secret.as_deref().filter(|s| !s.is_empty()) {
        return Ok(secret.to_owned());
    }
    match db.backend() {
        Backend::Sqlite => {
            let path = config.data_dir.join("jwt_secret");
            if let Ok(existing) = std::fs::read_to_string(&path) {
                return Ok(existing.trim().to_owned());
            }
            std::fs::create_dir_all(&config.data_dir)?;
            let secret = random_token(64);
            write_private(&path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
            Ok(secret)
        }
        Backend::Postgres => {
            let candidate = random_token(64);
            Ok(db.write(move |c| Ok(repo::secrets::get_or_create(c, "jwt_secret", &candidate)?)).await?)
        }
    }
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// Loads the Apple signing identity, pass design and APNs client (file reads, maybe key
/// generation: off the async workers).
pub async fn apple_wallet(config: &Config) -> anyhow::Result<Arc<AppleWallet>> {
    let config = config.clone();
    blocking(move || AppleWallet::load(&config).map(Arc::new).map_err(crate::error::AppError::Internal)).await.map_err(
        |e| match e {
            crate::error::AppError::Internal(inner) => inner.context("Apple Wallet set-up"),
            other => anyhow::anyhow!("{other}"),
        },
    )
}

/// The database and wallet channels, for a node that only runs jobs.
pub async fn deps(config: &Config) -> anyhow::Result<AppContext> {
    let google = crate::wallet::google::GoogleWallet::load(config).context("Google Wallet set-up")?.map(Arc::new);
    let templates = crate::render::Templates::load(&config.templates_dir).context("pages and e-mail templates")?;
    let db = open_db(config).await?;
    // After the database: a bad database URL must leave no directory behind.
    let mailer = crate::mail::Mailer::from_config(config).context("e-mail set-up")?;
    let link_key = crate::domain::link_key::LinkKey::derive(jwt_secret(config, &db).await?.as_bytes());
    Ok(AppContext {
        db,
        apple: apple_wallet(config).await?,
        google,
        public_url: config.public_url(),
        templates: Arc::new(templates),
        link_key,
        mailer: Arc::new(mailer),
        expiry_reminder_days: config.expiry_reminder_days,
    })
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Self::build_with(config, registry).await
    }

    /// Like [`build`](Self::build), with the job handlers given (tests register their own).
    pub async fn build_with(
        config: Config,
        registry: impl FnOnce(&AppContext) -> Registry,
    ) -> anyhow::Result<Application> {
        let deps = deps(&config).await?;
        let db = deps.db.clone();
        let registry = registry(&deps);
        let backfilled =
            db.write(crate::service::referrals::backfill_codes).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if backfilled > 0 {
            tracing::info!(cards = backfilled, "referral codes given to existing cards");
        }
        if config.demo {
            let password = config.demo_password.clone();
            let created = db.write(move |c| programs::ensure_demo(c, password.as_deref())).await;
            match created {
                Ok(Some(login)) => {
                    // Printed, not logged: shown once to the person who started the service.
                    println!("\nDemo program \"demo\" created. Staff logins (shown only this once):");
                    for email in &login.emails {
                        println!("  {email:<20} password: {}", login.password);
                    }
                    let url = config.public_url();
                    println!("Customer page: {url}/p/demo   Staff scanner: {url}/staff");
                    if config.smtp_url.as_deref().is_none_or(str::is_empty) {
                        let mail = config.data_dir.join("mail");
                        println!("E-mails are written to {} (set ENCARTE_SMTP_URL to send them)", mail.display());
                    }
                    println!();
                }
                Ok(None) => {}
                // Another node created it at the same moment.
                Err(e) if e.code() == "program_exists" => {}
                Err(e) => return Err(anyhow::anyhow!("creating the demo program failed: {e:?}")),
            }
        }
        let wallet = deps.apple.clone();
        let refreshed = db
            .write(move |c| crate::service::passes::sync_designs(c, &wallet))
            .await
            .map_err(|e| anyhow::anyhow!("recording the pass designs failed: {e}"))?;
        if refreshed > 0 {
            tracing::info!(programs = refreshed, "pass designs changed: their cards are being refreshed and pushed");
        }
        let keys = AuthKeys::new(jwt_secret(&config, &db).await?.as_bytes(), config.token_ttl_hours);
        let wallet_data = web::Data::from(deps.apple.clone());
        let google_data = web::Data::new(crate::http::google::Channel(deps.google.clone()));

        let listener = TcpListener::bind(&config.bind).with_context(|| format!("cannot listen on {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let (db_data, keys_data) = (web::Data::new(db.clone()), web::Data::new(keys));
        let config_data = web::Data::new(config.clone());
        let templates_data = web::Data::from(deps.templates.clone());
        let deps_data = web::Data::new(deps.clone());
        let assets_data = web::Data::new(crate::http::pages::assets::Assets::load(&config.templates_dir)?);
        let limits = crate::http::edge::EdgeLimits {
            connections_per_client: config.max_connections_per_client,
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(config.body_timeout_seconds),
            trusted: config.trusted_proxies.clone(),
        };
        let body_timeout = limits.body_timeout;
        let server = crate::http::edge::serve(listener, config.http_workers, limits, move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::http::errors::shape))
                .wrap_fn(move |req, srv| crate::http::edge::guard(req, srv, body_timeout))
                .wrap_fn(crate::http::echo_request_id)
                .wrap(TracingLogger::default())
                .app_data(db_data.clone())
                .app_data(keys_data.clone())
                .app_data(config_data.clone())
                .app_data(wallet_data.clone())
                .app_data(google_data.clone())
                .app_data(templates_data.clone())
                .app_data(assets_data.clone())
                .app_data(deps_data.clone())
                .configure(crate::http::configure)
        })?;
        let handle = server.handle();
        let worker = config.worker.then(|| Worker::new(db.clone(), Arc::new(registry), worker_settings(&config)));
        if worker.is_some() {
            schedule_sweeps(&db).await?;
        }
        tracing::info!(port, database = db.backend().name(), public_url = config.public_url(), "encarte listening");
        Ok(Application { port, handle, server, worker, deps })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (tests stop theirs when they end, releasing its database connections).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.handle.clone()
    }

    pub fn db(&self) -> Db {
        self.deps.db.clone()
    }

    pub fn deps(&self) -> AppContext {
        self.deps.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let worker = self.worker.map(|w| tokio::spawn(w.run()));
        let result = self.server.await;
        if let Some(worker) = worker {
            worker.abort();
        }
        result
    }
}
