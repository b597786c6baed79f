//! The sweep that writes `expired` on vouchers past their end and updates their passes. Reads
//! never wait for it (a voucher past `expires_at` already reads and refuses as expired): it is
//! what makes the pass drop the voucher and the count on the lock screen right.

use serde::{Deserialize, Serialize};

use crate::context::AppContext;
use crate::db::{DbConn, repo};
use crate::error::AppResult;
use crate::jobs::Job;
use crate::service::card_changes::card_changed;

/// Vouchers expired per transaction: a night when a season's vouchers all end at once must not
/// become one huge transaction.
const CHUNK: i64 = 500;
/// How often the sweep runs: a pass shows an expired voucher at most this long.
pub const EVERY_MINUTES: i64 = 10;

/// The recurring job: each run sweeps, then queues the next. Its dedupe key keeps one queued for
/// the whole cluster, however many nodes start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpireVouchers {}

impl Job for ExpireVouchers {
    const KIND: &'static str = "expire_vouchers";

    fn program_id(&self) -> Option<&str> {
        None
    }

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::KIND.to_owned())
    }
}

/// Expires one chunk of due vouchers and updates each card's pass once; the number expired.
pub fn sweep_chunk(conn: &mut DbConn) -> AppResult<usize> {
    let now = repo::now();
    let mut cards = repo::vouchers::expire_due(conn, now, CHUNK)?;
    let n = cards.len();
    cards.sort();
    cards.dedup();
    for (program_id, card_id) in cards {
        if let Some(card) = repo::cards::find(conn, &program_id, &card_id)? {
            card_changed(conn, &card)?;
        }
    }
    Ok(n)
}

/// Every due voucher, chunk by chunk, each chunk its own transaction.
pub async fn sweep(db: &crate::db::Db) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let n = db.write(sweep_chunk).await?;
        total += n;
        if n < usize::try_from(CHUNK).unwrap_or(usize::MAX) {
            return Ok(total);
        }
    }
}

/// The handler: sweeps, then queues the next run.
pub async fn run(ctx: AppContext, _job: ExpireVouchers) -> anyhow::Result<()> {
    let expired = sweep(&ctx.db).await?;
    if expired > 0 {
        tracing::info!(expired, "vouchers expired");
    }
    schedule(&ctx.db, chrono::Duration::minutes(EVERY_MINUTES)).await?;
    Ok(())
}

/// Queues the next sweep `after` from now (a no-op when one is already queued).
pub async fn schedule(db: &crate::db::Db, after: chrono::Duration) -> AppResult<()> {
    db.write(move |c| Ok(ExpireVouchers {}.enqueue_at(c, repo::now() + after)?)).await
}
