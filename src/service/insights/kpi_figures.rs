//! The KPIs of one span of time, computed from the raw rows the repository read: no I/O here, so
//! that every figure is a plain function of the sales, members, moves and vouchers it counts.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::db::repo::kpis::{Member, Move, Referral, Sale, Voucher};
use crate::domain::ledger::EntryKind;
use crate::domain::status::{ReferralStatus, VoucherState};

/// Points given: sales, promos, referrals and manual credits (a manual debit is not "issued").
const ISSUED: [EntryKind; 4] = [EntryKind::Earn, EntryKind::Promo, EntryKind::Referral, EntryKind::Adjust];
/// Points spent: redemptions at the till, rewards of the catalogue, conversions into vouchers.
const REDEEMED: [EntryKind; 3] = [EntryKind::Redeem, EntryKind::Reward, EntryKind::Conversion];

/// What one point is worth: `cents` for every `per_points` points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PointValue {
    pub cents: i64,
    pub per_points: i64,
    /// `setting` (`point_value_cents`) or `conversion_rule`.
    pub source: &'static str,
}

impl PointValue {
    /// The value of `points`, rounded to the nearest cent (halves up); nothing below zero.
    pub fn of(self, points: i64) -> i64 {
        let points = i128::from(points.max(0));
        let (cents, per) = (i128::from(self.cents), i128::from(self.per_points.max(1)));
        i64::try_from((points * cents * 2 + per) / (2 * per)).unwrap_or(i64::MAX)
    }
}

/// `num ÷ den` rounded to 4 decimals (halves up); none when nothing is divided.
pub fn rate(num: i64, den: i64) -> Option<f64> {
    if den <= 0 {
        return None;
    }
    let basis = (i128::from(num.max(0)) * 20_000 + i128::from(den)) / (2 * i128::from(den));
    Some(f64::from(i32::try_from(basis).unwrap_or(i32::MAX)) / 10_000.0)
}

/// The rows read for the whole range, from twelve months before its first period (the trailing
/// figures need them) to its end; `sales` and `moves` sorted by time.
pub struct Data<'a> {
    pub sales: Vec<Sale>,
    pub members: Vec<Member>,
    pub referrals: Vec<Referral>,
    pub moves: Vec<Move>,
    /// The points held before the first move read.
    pub held_before: i64,
    pub vouchers: Vec<Voucher>,
    pub promo_discounts: Vec<(NaiveDateTime, i64)>,
    /// The tills' totals: (shop, local day, transactions, revenue).
    pub totals: Vec<(String, NaiveDate, i64, i64)>,
    pub point_value: Option<PointValue>,
    pub local_day: &'a dyn Fn(NaiveDateTime) -> NaiveDate,
}

/// A span to report on: local days `first..=last`, and the same span in UTC `from..to`.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    /// The period before, for the retention (none for the whole range).
    pub previous: Option<(NaiveDateTime, NaiveDateTime)>,
    /// Twelve months before `to`, for the repurchase rate and the breakage.
    pub trailing_from: NaiveDateTime,
}

/// The tills' totals over a span's days, and the card sales made at the same shops on the same
/// days (only those compare with them).
#[derive(Debug, Clone, Copy)]
pub struct Reported {
    pub transactions: i64,
    pub revenue_cents: i64,
    pub card_transactions: i64,
    pub card_revenue_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub members_total: i64,
    pub new_members: i64,
    pub active_members: i64,
    pub purchases: i64,
    pub member_revenue_cents: i64,
    pub sales_transactions: Option<i64>,
    pub sales_revenue_cents: Option<i64>,
    pub card_transactions_reported: Option<i64>,
    pub enrolment_rate: Option<f64>,
    pub retention_rate: Option<f64>,
    pub repurchase_rate: Option<f64>,
    pub new_members_referred: i64,
    pub recommendation_rate: Option<f64>,
    pub referrals_started: i64,
    pub referrals_converted: i64,
    pub referral_conversion_rate: Option<f64>,
    pub points_issued: i64,
    pub points_redeemed: i64,
    pub points_expired: i64,
    pub redemption_rate: Option<f64>,
    pub points_held: i64,
    pub liability_cents: Option<i64>,
    pub breakage_rate: Option<f64>,
    pub vouchers_issued: i64,
    pub vouchers_issued_value_cents: i64,
    pub vouchers_used: i64,
    pub vouchers_used_value_cents: i64,
    pub vouchers_expired: i64,
    pub vouchers_expired_value_cents: i64,
    pub promo_discount_cents: i64,
}

fn within(at: NaiveDateTime, from: NaiveDateTime, to: NaiveDateTime) -> bool {
    from <= at && at < to
}

impl Data<'_> {
    fn sales_in(&self, from: NaiveDateTime, to: NaiveDateTime) -> &[Sale] {
        let a = self.sales.partition_point(|s| s.occurred_at < from);
        let b = self.sales.partition_point(|s| s.occurred_at < to);
        &self.sales[a..b.max(a)]
    }

    fn moves_in(&self, from: NaiveDateTime, to: NaiveDateTime) -> &[Move] {
        let a = self.moves.partition_point(|m| m.created_at < from);
        let b = self.moves.partition_point(|m| m.created_at < to);
        &self.moves[a..b.max(a)]
    }

    fn buyers(&self, from: NaiveDateTime, to: NaiveDateTime) -> HashSet<&str> {
        self.sales_in(from, to).iter().map(|s| s.card_id.as_str()).collect()
    }

    /// Σ of the deltas of `kinds` in the range, keeping only gains (`sign` 1) or losses (-1).
    fn points(&self, kinds: &[EntryKind], sign: i64, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
        self.moves_in(from, to)
            .iter()
            .filter(|m| kinds.iter().any(|k| k.as_str() == m.kind) && m.delta.signum() == sign)
            .map(|m| m.delta * sign)
            .sum()
    }

    pub fn figures(&self, span: Span) -> Figures {
        let (from, to) = (span.from, span.to);
        let sales = self.sales_in(from, to);
        let active = self.buyers(from, to);
        let retention = span.previous.and_then(|(a, b)| {
            let before = self.buyers(a, b);
            rate(i64::try_from(before.iter().filter(|c| active.contains(*c)).count()).unwrap_or(0), len(&before))
        });
        let mut bought: HashMap<&str, u32> = HashMap::new();
        for s in self.sales_in(span.trailing_from, to) {
            *bought.entry(s.card_id.as_str()).or_default() += 1;
        }
        let repeat = bought.values().filter(|&&n| n >= 2).count();

        let new: Vec<&Member> = self.members.iter().filter(|m| within(m.enrolled_at, from, to)).collect();
        let referred: HashSet<&str> = self
            .referrals
            .iter()
            .filter(|r| r.status != ReferralStatus::Rejected)
            .map(|r| r.referee_card_id.as_str())
            .collect();
        let new_referred = new.iter().filter(|m| referred.contains(m.card_id.as_str())).count();
        let started: Vec<&Referral> = self
            .referrals
            .iter()
            .filter(|r| r.status != ReferralStatus::Rejected && within(r.created_at, from, to))
            .collect();
        let converted = started
            .iter()
            .filter(|r| matches!(r.status, ReferralStatus::Rewarded | ReferralStatus::ClawedBack))
            .count();

        let issued = self.points(&ISSUED, 1, from, to);
        let redeemed = self.points(&REDEEMED, -1, from, to);
        let expired = self.points(&[EntryKind::Expire], -1, from, to);
        let held = self.held_before + self.moves.iter().take_while(|m| m.created_at < to).map(|m| m.delta).sum::<i64>();
        let trailing_issued = self.points(&ISSUED, 1, span.trailing_from, to);
        let trailing_expired = self.points(&[EntryKind::Expire], -1, span.trailing_from, to);

        let reported = self.reported(span);
        let vouchers = self.voucher_figures(from, to);
        Figures {
            start: span.first,
            end: span.last,
            members_total: len_of(
                self.members.iter().filter(|m| m.enrolled_at < to && m.erased_at.is_none_or(|e| e >= to)),
            ),
            new_members: len(&new),
            active_members: len(&active),
            purchases: len(sales),
            member_revenue_cents: sales.iter().map(Sale::net_cents).sum(),
            sales_transactions: reported.map(|r| r.transactions),
            sales_revenue_cents: reported.map(|r| r.revenue_cents),
            card_transactions_reported: reported.map(|r| r.card_transactions),
            enrolment_rate: reported.and_then(|r| rate(r.card_transactions, r.transactions)),
            retention_rate: retention,
            repurchase_rate: rate(i64::try_from(repeat).unwrap_or(0), len_of(bought.keys())),
            new_members_referred: i64::try_from(new_referred).unwrap_or(0),
            recommendation_rate: rate(i64::try_from(new_referred).unwrap_or(0), len(&new)),
            referrals_started: len(&started),
            referrals_converted: i64::try_from(converted).unwrap_or(0),
            referral_conversion_rate: rate(i64::try_from(converted).unwrap_or(0), len(&started)),
            points_issued: issued,
            points_redeemed: redeemed,
            points_expired: expired,
            redemption_rate: rate(redeemed, issued),
            points_held: held,
            liability_cents: self.point_value.map(|v| v.of(held)),
            breakage_rate: rate(trailing_expired, trailing_issued),
            vouchers_issued: vouchers[0].0,
            vouchers_issued_value_cents: vouchers[0].1,
            vouchers_used: vouchers[1].0,
            vouchers_used_value_cents: vouchers[1].1,
            vouchers_expired: vouchers[2].0,
            vouchers_expired_value_cents: vouchers[2].1,
            promo_discount_cents: self
                .promo_discounts
                .iter()
                .filter(|(at, _)| within(*at, from, to))
                .map(|(_, c)| c)
                .sum(),
        }
    }

    /// What the tills reported over the span's days: none when no till reported one of them.
    pub fn reported(&self, span: Span) -> Option<Reported> {
        let days: Vec<&(String, NaiveDate, i64, i64)> =
            self.totals.iter().filter(|t| span.first <= t.1 && t.1 <= span.last).collect();
        if days.is_empty() {
            return None;
        }
        let reported: HashSet<(&str, NaiveDate)> = days.iter().map(|t| (t.0.as_str(), t.1)).collect();
        let card: Vec<&Sale> = self
            .sales_in(span.from, span.to)
            .iter()
            .filter(|s| {
                s.location_id.as_deref().is_some_and(|l| reported.contains(&(l, (self.local_day)(s.occurred_at))))
            })
            .collect();
        Some(Reported {
            transactions: days.iter().map(|t| t.2).sum(),
            revenue_cents: days.iter().map(|t| t.3).sum(),
            card_transactions: len(&card),
            card_revenue_cents: card.iter().map(|s| s.net_cents()).sum(),
        })
    }

    /// (count, value) of the vouchers issued, used and expired in the range. A cancelled voucher
    /// (its claim undone) was never really issued; a used one is valued at the discount it gave,
    /// an issued or expired one at its face value when it is an amount off.
    fn voucher_figures(&self, from: NaiveDateTime, to: NaiveDateTime) -> [(i64, i64); 3] {
        let face = |v: &Voucher| if v.kind == "amount_off_cents" { v.value.unwrap_or(0) } else { 0 };
        let mut out = [(0, 0); 3];
        for v in &self.vouchers {
            if v.state != VoucherState::Cancelled && within(v.created_at, from, to) {
                out[0] = (out[0].0 + 1, out[0].1 + face(v));
            }
            if v.state == VoucherState::Used && v.used_at.is_some_and(|at| within(at, from, to)) {
                out[1] = (out[1].0 + 1, out[1].1 + v.discount_cents.unwrap_or(0));
            }
            if v.state == VoucherState::Expired && within(v.expires_at, from, to) {
                out[2] = (out[2].0 + 1, out[2].1 + face(v));
            }
        }
        out
    }

    /// Purchases of the members who enrolled in `from..=to − 180 days`, in their first 90 days
    /// and in the 90 days after: (members, purchases in the first 90, in the next 90).
    pub fn first_days(&self, from: NaiveDateTime, to: NaiveDateTime) -> (i64, i64, i64) {
        let ninety = chrono::Duration::days(90);
        let cohort: HashMap<&str, NaiveDateTime> = self
            .members
            .iter()
            .filter(|m| from <= m.enrolled_at && m.enrolled_at + ninety + ninety <= to)
            .map(|m| (m.card_id.as_str(), m.enrolled_at))
            .collect();
        let (mut first, mut next) = (0, 0);
        for s in &self.sales {
            if let Some(&enrolled) = cohort.get(s.card_id.as_str()) {
                if within(s.occurred_at, enrolled, enrolled + ninety) {
                    first += 1;
                } else if within(s.occurred_at, enrolled + ninety, enrolled + ninety + ninety) {
                    next += 1;
                }
            }
        }
        (len_of(cohort.keys()), first, next)
    }

    /// The points of referral rewards given in the range, less those taken back.
    pub fn referral_points(&self, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
        self.moves_in(from, to)
            .iter()
            .filter(|m| m.kind == EntryKind::Referral.as_str() || m.kind == EntryKind::ReferralClawback.as_str())
            .map(|m| m.delta)
            .sum()
    }
}

fn len<T>(items: impl IntoIterator<Item = T>) -> i64 {
    len_of(items.into_iter())
}

fn len_of<T>(items: impl Iterator<Item = T>) -> i64 {
    i64::try_from(items.count()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_to_four_decimals_and_need_a_divisor() {
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(2, 3), Some(0.6667));
        assert_eq!(rate(1, 8), Some(0.125));
        assert_eq!(rate(5, 0), None);
    }

    #[test]
    fn a_point_value_rounds_halves_up_and_ignores_debts() {
        let v = PointValue { cents: 500, per_points: 200, source: "conversion_rule" };
        assert_eq!(v.of(1), 3);
        assert_eq!(v.of(201), 503);
        assert_eq!(v.of(-40), 0);
    }
}
