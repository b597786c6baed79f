//! Threshold conversion: when a balance reaches the threshold, its whole blocks become vouchers
//! in the same transaction (1,234 points in blocks of 500 → two vouchers, 234 points kept).

use chrono::NaiveDateTime;
use serde::Serialize;

use super::Blocks;
use crate::db::DbConn;
use crate::db::repo::cards::Card;
use crate::db::repo::programs::Program;
use crate::db::repo::vouchers::Voucher;
use crate::domain::ledger::EntryKind;
use crate::domain::status::{ConversionMode, VoucherOrigin};
use crate::domain::voucher::{VoucherValue, blocks};
use crate::error::AppResult;
use crate::jobs::Job as _;
use crate::mail::Mail;
use crate::service::points::{Guard, Posting, post_many};
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
    Ok(convert_many(conn, program, std::slice::from_ref(card), b, conversion_id, staff_id, now)?.pop().flatten())
}

/// [`convert`] for many cards of the programme (a season batch's chunk), in a few statements
/// whatever their number; each card's outcome, in order.
pub fn convert_many(
    conn: &mut DbConn,
    program: &Program,
    cards: &[Card],
    b: &Blocks,
    conversion_id: Option<&str>,
    staff_id: Option<&str>,
    now: NaiveDateTime,
) -> AppResult<Vec<Option<Converted>>> {
    let plans: Vec<(i64, i64)> =
        cards.iter().map(|c| blocks(c.balance, b.threshold_points.get(), b.block_points.get())).collect();
    let (due, postings): (Vec<usize>, Vec<Posting<'_>>) = cards
        .iter()
        .zip(&plans)
        .enumerate()
        .filter(|(_, (_, (n, _)))| *n > 0)
        .map(|(at, (card, (_, points)))| {
            let posting = Posting {
                program_id: &program.id,
                card_id: &card.id,
                delta: -points,
                kind: EntryKind::Conversion,
                purchase_id: None,
                staff_id,
                reason: None,
                earned_at: None,
            };
            (at, posting)
        })
        .unzip();
    let posted = post_many(conn, &postings, Guard { only_active: true, no_overdraft: true })?;
    let value = VoucherValue::AmountOffCents(b.value_cents_per_block.get());
    let mut issues = Vec::new();
    let mut converted: Vec<(usize, Card, i64)> = Vec::new();
    for (&at, outcome) in due.iter().zip(posted) {
        let Some((after, entry)) = outcome else { continue };
        for _ in 0..plans[at].0 {
            issues.push(Issue {
                program,
                card: &cards[at],
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
            });
        }
        converted.push((at, after, entry.id));
    }
    let mut issued = vouchers::issue_many(conn, &issues, now)?.into_iter();
    let mut outcomes: Vec<Option<Converted>> = cards.iter().map(|_| None).collect();
    let mut mails = Vec::with_capacity(converted.len());
    for (at, after, entry_id) in converted {
        let (n, points) = plans[at];
        let mine: Vec<Voucher> = issued.by_ref().take(usize::try_from(n).unwrap_or(0)).collect();
        // One e-mail for the whole conversion: "10,00 €" rather than two mails of 5 €.
        let total = b.value_cents_per_block.get() * n;
        let title = vouchers::value_text(
            &VoucherValue::AmountOffCents(total),
            &program.currency,
            vouchers::program_locale(program),
        );
        let expires_at = mine.last().map_or(now, |v| v.expires_at);
        mails.push(vouchers::issued_mail(program, &cards[at], title, Some(total), expires_at));
        let dtos = mine.iter().map(|v| VoucherDto::new(v, now)).collect::<AppResult<Vec<_>>>()?;
        outcomes[at] = Some(Converted { points, vouchers: dtos, balance: after.balance, entry_id });
    }
    Mail::enqueue_many(&mails, conn)?;
    Ok(outcomes)
}
