//! The application context: what handlers, pages, e-mails and jobs of this node work with.

use std::sync::Arc;

use crate::db::Db;
use crate::wallet::AppleWallet;

#[derive(Clone)]
pub struct AppContext {
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
    /// Days before points expire that their holder is reminded (0: never).
    pub expiry_reminder_days: i64,
}
