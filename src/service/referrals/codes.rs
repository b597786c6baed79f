//! The referral code each card carries, and its backfill for cards older than codes.

use crate::db::DbConn;
use crate::db::repo::cards as card_repo;
use crate::domain::codes::ReferralCode;
use crate::error::AppResult;

pub fn new_code() -> String {
    ReferralCode::generate().as_str().to_owned()
}

/// Gives a referral code to open cards created before codes existed. Idempotent; runs at
/// start-up. Each card is visited once (in id order), so a card that can't get a code is left
/// for the next start instead of being retried forever.
pub fn backfill_codes(conn: &mut DbConn) -> AppResult<usize> {
    let mut done = 0;
    let mut after: Option<String> = None;
    loop {
        let cards = card_repo::without_referral_code(conn, after.as_deref(), 500)?;
        let Some(last) = cards.last() else {
            return Ok(done);
        };
        after = Some(last.id.clone());
        for card in cards {
            use diesel::Connection;
            // A clash with another card's code (rare) is drawn again.
            let given = (0..5).any(|_| {
                let code = new_code();
                conn.transaction(|c| card_repo::set_referral_code(c, &card.id, &code)).is_ok()
            });
            if given {
                done += 1;
            } else {
                tracing::warn!(card_id = card.id, "no referral code could be given to this card");
            }
        }
    }
}
