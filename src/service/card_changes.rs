//! What follows a change of what a card's pass shows (balance, status, design...): the pass gets
//! a new place in the PassKit update sequence and a new Last-Modified, every device holding it
//! gets a push queued, and [`CardChanged`] is queued for the other channels (Google Wallet).

use serde::{Deserialize, Serialize};

use crate::context::AppContext;
use crate::db::DbConn;
use crate::db::repo::{self, cards::Card};
use crate::jobs::Job;

/// The job written on every change of a card that alters its pass.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardChanged {
    pub program_id: String,
    pub card_id: String,
}

impl Job for CardChanged {
    const KIND: &'static str = "card_changed";

    fn program_id(&self) -> Option<&str> {
        Some(&self.program_id)
    }

    /// One pending job per card: changes that land before the worker picks it up coalesce.
    fn dedupe_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::KIND, self.card_id))
    }
}

/// On the caller's connection, in the transaction of the change.
pub fn card_changed(conn: &mut DbConn, card: &Card) -> diesel::QueryResult<()> {
    cards_changed(conn, std::slice::from_ref(card))
}

/// [`card_changed`] for many cards at once (a batch), in a few statements rather than a few per card.
pub fn cards_changed(conn: &mut DbConn, cards: &[Card]) -> diesel::QueryResult<()> {
    let cards = repo::cards::mark_passes_changed(conn, cards)?;
    super::passkit::enqueue_pushes(conn, &cards)?;
    let changes: Vec<CardChanged> =
        cards.iter().map(|c| CardChanged { program_id: c.program_id.clone(), card_id: c.id.clone() }).collect();
    CardChanged::enqueue_many(&changes, conn)
}

/// The handler: Apple pushes are queued with the change itself; Google's object is patched here.
pub async fn run(ctx: AppContext, change: CardChanged) -> anyhow::Result<()> {
    match ctx.google {
        Some(google) => {
            super::google_wallet::sync(ctx.db, google, ctx.apple, change.program_id, change.card_id, ctx.public_url)
                .await
        }
        None => Ok(()),
    }
}
