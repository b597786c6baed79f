//! Threshold conversion: when a balance reaches the threshold, its whole blocks become vouchers
//! in the same transaction (1,234 points in blocks of 500 → two vouchers, 234 points kept).

use chrono::NaiveDateTime;
use serde::Serialize;

use super::Blocks;
use crate::db::DbConn;
use crate::db::repo::cards::Card;
use crate::db::repo::programs::Program;
use crate::domain::ledger::EntryKind;
use crate::domain::status::{ConversionMode, VoucherOrigin};
use crate::domain::voucher::{VoucherValue, blocks};
use crate::error::AppResult;
use crate::service::points::{Guard, Posting, post};
use crate::service::vouchers::{self, Issue, VoucherDto};

/// What a conversion did to one card.
#[derive(Debug, Serialize)]
pub struct Converted {
    pub points: i64,
    pub vouchers: Vec<VoucherDto>,
    pub balance: i64,
    /// The `conversion` ledger entry that paid for the vouchers.
    #[serde(skip)]
    pub entry_id: i64,
}

/// Converts `card`'s whole blocks if the programme converts at a threshold and the balance has
/// reached it; None otherwise. In the caller's transaction, after its credit.
pub fn on_credit(
    conn: &mut DbConn,
    program: &Program,
    card: &Card,
    staff_id: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Option<Converted>> {
    let Some(b) = super::blocks_for(conn, &program.id, ConversionMode::Threshold)? else {
        return Ok(None);
    };
    convert(conn, program, card, &b, None, staff_id, now)
}

/// Turns the card's whole blocks into vouchers: one `conversion` ledger entry for the points,
/// one voucher per block linked to it. None when the balance is below the threshold, or the card
/// is not active (it moved meanwhile: the guarded posting re-checks).
pub fn convert(
    conn: &mut DbConn,
    program: &Program,
    card: &Card,
    b: &Blocks,
    conversion_id: Option<&str>,
    staff_id: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Option<Converted>> {
    let (n, points) = blocks(card.balance, b.threshold_points.get(), b.block_points.get());
    if n == 0 {
        return Ok(None);
    }
    let posting = Posting {
        program_id: &program.id,
        card_id: &card.id,
        delta: -points,
        kind: EntryKind::Conversion,
        purchase_id: None,
        staff_id,
        reason: None,
    };
    let Some((after, entry)) = post(conn, &posting, Guard { only_active: true, no_overdraft: true })? else {
        return Ok(None);
    };
    let value = VoucherValue::AmountOffCents(b.value_cents_per_block.get());
    let mut issued = Vec::new();
    let mut expires_at = now;
    for _ in 0..n {
        let voucher = vouchers::issue(
            conn,
            &Issue {
                program,
                card,
                value: &value,
                min_purchase_cents: 0,
                validity: b.validity_days,
                origin: VoucherOrigin::Conversion,
                title: None,
                reward_id: None,
                conversion_id,
                ledger_entry_id: Some(entry.id),
                reason: None,
                staff_id,
                notify: false,
            },
            now,
        )?;
        issued.push(VoucherDto::new(&voucher, now)?);
        expires_at = voucher.expires_at;
    }
    // One e-mail for the whole conversion: "10,00 €" rather than two mails of 5 €.
    let total = b.value_cents_per_block.get() * n;
    let title = vouchers::value_text(
        &VoucherValue::AmountOffCents(total),
        &program.currency,
        vouchers::program_locale(program),
    );
    vouchers::notify(conn, program, card, title, Some(total), expires_at)?;
    Ok(Some(Converted { points, vouchers: issued, balance: after.balance, entry_id: entry.id }))
}
