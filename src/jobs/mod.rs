//! The outbox worker: claims due jobs with a lease, runs the handler registered for each kind,
//! retries failures with exponential backoff and jitter, and records the last error. Any number
//! of workers, on any number of nodes, may share one database.

mod worker;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use worker::{Worker, WorkerSettings, backoff, drain};

use crate::db::repo::{self, cards::Card, outbox::NewJob};
use crate::db::{Db, DbConn};
use crate::wallet::AppleWallet;

/// What job handlers work with: the database and the wallet channels of this node.
#[derive(Clone)]
pub struct Deps {
    pub db: Db,
    pub apple: Arc<AppleWallet>,
    /// None when Google Wallet is not configured.
    pub google: Option<Arc<crate::wallet::google::GoogleWallet>>,
    /// Links in wallet passes and e-mails start with it.
    pub public_url: String,
    /// Pages and e-mails.
    pub templates: Arc<crate::render::Templates>,
    /// Signs the links we mail.
    pub link_key: crate::domain::link_key::LinkKey,
    /// Sends the e-mails (SMTP, files or memory).
    pub mailer: Arc<crate::mail::Mailer>,
}

/// Attempts before a job is marked failed for good (about a day of backoff).
pub const DEFAULT_MAX_ATTEMPTS: i32 = 12;

/// Kind of the job written on every change of a card that alters its pass (balance, status...).
/// Wallet channels (Apple push, Google update) hang their work on it.
pub const CARD_CHANGED: &str = "card_changed";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardChanged {
    pub program_id: String,
    pub card_id: String,
}

/// Everything that follows a change of what the card's pass shows, on the caller's connection
/// (same transaction): the pass gets a new place in the update sequence and a new Last-Modified,
/// every device holding it gets a push queued, and `card_changed` is queued for the other
/// channels. One pending job per card or device: changes that land before the worker picks them
/// up coalesce.
pub fn card_changed(conn: &mut DbConn, card: &Card) -> diesel::QueryResult<()> {
    let card = repo::cards::mark_pass_changed(conn, card)?;
    crate::service::passkit::enqueue_pushes(conn, &card)?;
    let payload = CardChanged { program_id: card.program_id.clone(), card_id: card.id.clone() };
    let payload = serde_json::to_string(&payload).unwrap_or_default();
    let dedupe = format!("{CARD_CHANGED}:{}", card.id);
    enqueue(conn, Some(&card.program_id), CARD_CHANGED, &payload, Some(&dedupe))
}

pub fn enqueue(
    conn: &mut DbConn,
    program_id: Option<&str>,
    kind: &str,
    payload: &str,
    dedupe_key: Option<&str>,
) -> diesel::QueryResult<()> {
    let now = repo::now();
    repo::outbox::enqueue(
        conn,
        &NewJob {
            program_id,
            kind,
            payload,
            dedupe_key,
            state: repo::outbox::PENDING,
            attempts: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            run_at: now,
            created_at: now,
        },
    )
}

pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Does the work of one kind of job. Handlers must be idempotent: delivery is at least once.
pub trait JobHandler: Send + Sync {
    fn run(&self, job: repo::outbox::Job) -> JobFuture;
}

impl<F, Fut> JobHandler for F
where
    F: Fn(repo::outbox::Job) -> Fut + Send + Sync,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    fn run(&self, job: repo::outbox::Job) -> JobFuture {
        Box::pin(self(job))
    }
}

/// The kinds this node knows how to run. A worker claims only these, so a node of an older
/// version never takes (and fails) a job kind it does not know.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn register(&mut self, kind: &'static str, handler: impl JobHandler + 'static) -> &mut Self {
        self.handlers.insert(kind, Arc::new(handler));
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    pub fn handler(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }

    /// The kinds of this build.
    pub fn standard(deps: &Deps) -> Registry {
        let mut registry = Registry::default();
        let pool_db = deps.db.clone();
        registry.register(crate::service::promos::GENERATE_POOL, move |job: repo::outbox::Job| {
            crate::service::promos::run_generate_job(pool_db.clone(), job.payload)
        });
        let refresh_db = deps.db.clone();
        registry.register(crate::service::passes::REFRESH, move |job: repo::outbox::Job| {
            crate::service::passes::run_refresh(refresh_db.clone(), job.payload)
        });
        let (db, wallet) = (deps.db.clone(), deps.apple.clone());
        registry.register(crate::service::passkit::APPLE_PUSH, move |job: repo::outbox::Job| {
            crate::service::passkit::push(db.clone(), wallet.clone(), job.payload)
        });
        let mail_deps = deps.clone();
        registry.register(crate::mail::EMAIL, move |job: repo::outbox::Job| {
            crate::mail::run_job(mail_deps.clone(), job.payload)
        });
        let mail_deps = deps.clone();
        registry.register(crate::service::referrals::EMAIL_REFERRAL_REWARDED, move |job: repo::outbox::Job| {
            crate::mail::run_legacy_referral_job(mail_deps.clone(), job.program_id, job.payload)
        });
        let deps = deps.clone();
        registry.register(CARD_CHANGED, move |job: repo::outbox::Job| {
            let deps = deps.clone();
            async move {
                // Apple pushes are queued with the change itself; Google's object is patched here.
                let change: CardChanged = serde_json::from_str(&job.payload)?;
                match deps.google {
                    Some(google) => {
                        let (program, card) = (change.program_id, change.card_id);
                        crate::service::google_wallet::sync(deps.db, google, deps.apple, program, card, deps.public_url)
                            .await
                    }
                    None => Ok(()),
                }
            }
        });
        registry
    }
}
