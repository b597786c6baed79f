//! E-mail: what we send (one [`Mail`] per template), queued through the outbox in the caller's
//! transaction, rendered and sent by the worker, so that an SMTP outage delays mail and loses none.

use serde::{Deserialize, Serialize};

use crate::db::DbConn;

/// Kind of the outbox job that sends one e-mail.
pub const EMAIL: &str = "email";

/// One e-mail to send. It names rows, not their contents: the worker reads the customer's
/// address, language and consents when it sends, and no secret sits in the outbox (a magic
/// link is derived from its login id with the link key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "template", rename_all = "snake_case")]
pub enum Mail {
    /// After enrolment: the card link and the wallet links.
    Welcome { program_id: String, customer_id: String },
    /// A single-use login link, valid 15 minutes.
    MagicLink { program_id: String, customer_id: String, login_id: String },
}

impl Mail {
    pub fn program_id(&self) -> &str {
        match self {
            Mail::Welcome { program_id, .. } | Mail::MagicLink { program_id, .. } => program_id,
        }
    }

    /// Transactional mail goes whatever the consents; marketing mail only with `marketing_email`.
    pub fn is_marketing(&self) -> bool {
        false
    }
}

/// Queues `mail` in the caller's transaction.
pub fn queue(conn: &mut DbConn, mail: &Mail, dedupe_key: Option<&str>) -> diesel::QueryResult<()> {
    let payload = serde_json::to_string(mail).unwrap_or_default();
    crate::jobs::enqueue(conn, Some(mail.program_id()), EMAIL, &payload, dedupe_key)
}
