//! A card's standing in its programme's tiers: the values of its rolling window, the tier they
//! qualify for, the rate it earns at, and the upgrade that follows a purchase (in the purchase's
//! transaction). Downgrades wait for `keep_months` and belong to the daily check.

use std::collections::BTreeMap;

use chrono::{Datelike as _, Months, NaiveDateTime, TimeZone as _};
use serde::Serialize;

use super::rules;
use crate::db::DbConn;
use crate::db::repo;
use crate::db::repo::cards::Card;
use crate::db::repo::programs::Program;
use crate::db::repo::tiers::{CardTier, Change, Reward, Sale};
use crate::domain::status::VoucherOrigin;
use crate::domain::text::Locale;
use crate::domain::tier::{Metric, Tier, Tiers};
use crate::dto::{TierProgress as Progress, TierView, time};
use crate::error::AppResult;
use crate::mail::{self, Mail};
use crate::service::vouchers::{self, Issue};

/// The start of a window of `months` ending at `now`.
fn window_start(now: NaiveDateTime, months: u32) -> NaiveDateTime {
    now.checked_sub_months(Months::new(months)).unwrap_or(NaiveDateTime::MIN)
}

/// The metrics of `sales` that happened from `since`: spend net of discounts and returns, points
/// earned (what returns left of them, as returns reverse in proportion), and visits (distinct
/// local days per location).
fn values(sales: &[Sale], since: NaiveDateTime, tz: chrono_tz::Tz) -> BTreeMap<Metric, i64> {
    let mut spend = 0;
    let mut points = 0;
    let mut visits = std::collections::BTreeSet::new();
    for s in sales.iter().filter(|s| s.occurred_at >= since) {
        let kept = (s.amount_cents - s.returned_cents).max(0);
        spend += (kept - s.discount_cents).max(0);
        if s.amount_cents > 0 {
            let earned = i128::from(s.points_earned + s.bonus_points) * i128::from(kept) / i128::from(s.amount_cents);
            points += i64::try_from(earned).unwrap_or(0);
        }
        visits.insert((tz.from_utc_datetime(&s.occurred_at).date_naive(), s.location_id.as_deref()));
    }
    BTreeMap::from([
        (Metric::SpendCents, spend),
        (Metric::PointsEarned, points),
        (Metric::Visits, i64::try_from(visits.len()).unwrap_or(i64::MAX)),
    ])
}

/// A card's window values, per window length: its sales read once, each length summed once
/// (every tier of a programme usually shares one).
struct Window {
    by_months: BTreeMap<u32, BTreeMap<Metric, i64>>,
}

impl Window {
    fn read(conn: &mut DbConn, tiers: &Tiers, card: &Card, tz: chrono_tz::Tz, now: NaiveDateTime) -> AppResult<Self> {
        let longest = tiers.list().iter().map(|t| t.window_months).max().unwrap_or(12);
        let sales = repo::tiers::sales_since(conn, &card.id, window_start(now, longest))?;
        let by_months = tiers
            .list()
            .iter()
            .map(|t| t.window_months)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|months| (months, values(&sales, window_start(now, months), tz)))
            .collect();
        Ok(Window { by_months })
    }

    /// At least the card's values in every window (each from its longest window's sales): what
    /// no tier it can't reach on these needs to be checked against exactly. Tier conditions are
    /// all "at least", so a tier out of reach of the bound is out of reach.
    fn bound(conn: &mut DbConn, tiers: &Tiers, card: &Card, now: NaiveDateTime) -> AppResult<Self> {
        let longest = tiers.list().iter().map(|t| t.window_months).max().unwrap_or(12);
        let (spend, points, sales) = repo::tiers::window_bound(conn, &card.id, window_start(now, longest))?;
        let values =
            BTreeMap::from([(Metric::SpendCents, spend), (Metric::PointsEarned, points), (Metric::Visits, sales)]);
        Ok(Window { by_months: tiers.list().iter().map(|t| (t.window_months, values.clone())).collect() })
    }

    fn of(&self, tier: &Tier) -> BTreeMap<Metric, i64> {
        self.by_months.get(&tier.window_months).cloned().unwrap_or_default()
    }

    /// The highest tier the card qualifies for, each tier judged on its own window.
    fn qualified<'t>(&self, tiers: &'t Tiers) -> Option<(usize, &'t Tier)> {
        tiers.qualified(|t| self.of(t))
    }
}

/// The card's tier and its place in the list: its row, or the entry tier (also for a key the
/// rules no longer have, until the re-evaluation moves it).
fn current<'t>(tiers: &'t Tiers, row: Option<&CardTier>) -> Option<(usize, &'t Tier)> {
    let list = tiers.list();
    row.and_then(|r| list.iter().position(|t| t.key == r.tier_key))
        .or((!list.is_empty()).then_some(0))
        .map(|i| (i, &list[i]))
}

/// A card's tier row as read once for a purchase: its rate, then its evaluation.
pub struct Standing<'t> {
    tiers: &'t Tiers,
    row: Option<CardTier>,
}

impl<'t> Standing<'t> {
    /// Reads nothing when the programme has no tiers.
    pub fn read(conn: &mut DbConn, tiers: &'t Tiers, card_id: &str) -> AppResult<Self> {
        let row = if tiers.list().is_empty() { None } else { repo::tiers::card_tier(conn, card_id)? };
        Ok(Standing { tiers, row })
    }

    /// The rate the card earns at now, in percent (100 without tiers).
    pub fn multiplier_percent(&self) -> u32 {
        current(self.tiers, self.row.as_ref()).map_or(100, |(_, t)| t.earn_multiplier_percent)
    }
}

/// Points at a tier's rate, rounded down.
pub fn boosted(points: i64, percent: u32) -> i64 {
    i64::try_from(i128::from(points) * i128::from(percent) / 100).unwrap_or(i64::MAX)
}

/// The tier's name for the programme's customers.
pub fn name_of(tier: &Tier, locale: Locale) -> &str {
    match (locale, &tier.name_fr) {
        (Locale::Fr, Some(fr)) => fr,
        _ => &tier.name,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TierChange {
    pub from: Option<String>,
    pub to: String,
}

/// Why a card is looked at again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A purchase of the card: it may go up, never down.
    Purchase,
    /// The daily check: down once `keep_months` since its last upgrade have passed.
    Daily,
    /// The rules changed: up at once, down only after `keep_months`, like the daily check.
    Rules,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Purchase => "purchase",
            Reason::Daily => "daily",
            Reason::Rules => "rules",
        }
    }
}

/// Moves the card to the tier its windows qualify it for now, if it may: up at once, down only
/// when `reason` allows and the current tier's `keep_months` since the last upgrade have passed.
/// A move writes the row, its history, the `tier_changed` e-mail and the pass; an upgrade also
/// the entry reward (once per tier per window). In the caller's transaction. None when it stays.
pub fn reevaluate(
    conn: &mut DbConn,
    program: &Program,
    card: &Card,
    reason: Reason,
    now: NaiveDateTime,
) -> AppResult<Option<TierChange>> {
    let tiers = rules::of_program(conn, &program.id)?;
    let standing = Standing::read(conn, &tiers, &card.id)?;
    reevaluate_with(conn, program, &standing, card, reason, now)
}

/// [`reevaluate`] with the programme's tiers already read (a purchase reads them once for its
/// rate and its evaluation).
pub fn reevaluate_with(
    conn: &mut DbConn,
    program: &Program,
    standing: &Standing<'_>,
    card: &Card,
    reason: Reason,
    now: NaiveDateTime,
) -> AppResult<Option<TierChange>> {
    let (tiers, row) = (standing.tiers, &standing.row);
    let Some((was, from)) = current(tiers, row.as_ref()) else { return Ok(None) };
    // A purchase only moves a card up: when even the bound reaches no higher tier (most sales),
    // the sales need not be read one by one.
    if reason == Reason::Purchase
        && Window::bound(conn, tiers, card, now)?.qualified(tiers).is_none_or(|(reach, _)| reach <= was)
    {
        return Ok(None);
    }
    let window = Window::read(conn, tiers, card, program.tz(), now)?;
    let Some((is, to)) = window.qualified(tiers) else { return Ok(None) };
    let upgraded_at = row.as_ref().map_or(card.created_at, |r| r.upgraded_at);
    let kept_until = upgraded_at.checked_add_months(Months::new(from.keep_months)).unwrap_or(NaiveDateTime::MAX);
    let up = is > was;
    let down = is < was && reason != Reason::Purchase && kept_until <= now;
    if !up && !down {
        return Ok(None);
    }
    // A move is rare: only then the card's row lock is taken (a sale that posted points holds it
    // already) and its tier read again, so that two tills moving one card at once can't both act
    // on the old tier. Moved meanwhile: the next look decides.
    repo::cards::lock(conn, &program.id, &card.id)?;
    let now_row = repo::tiers::card_tier(conn, &card.id)?;
    if now_row.as_ref().map(|r| &r.tier_key) != row.as_ref().map(|r| &r.tier_key) {
        return Ok(None);
    }
    repo::tiers::put_card_tier(
        conn,
        &CardTier {
            card_id: card.id.clone(),
            program_id: program.id.clone(),
            tier_key: to.key.clone(),
            since: now,
            upgraded_at: if up { now } else { upgraded_at },
            checked_at: Some(now),
            updated_at: now,
        },
    )?;
    repo::tiers::record_change(
        conn,
        &Change {
            id: repo::new_id(),
            program_id: &program.id,
            card_id: &card.id,
            from_key: Some(&from.key),
            to_key: &to.key,
            reason: reason.as_str(),
            created_at: now,
        },
    )?;
    let locale = vouchers::program_locale(program);
    if let Some(reward) = to.entry_reward.as_ref().filter(|_| up) {
        let local = program.tz().from_utc_datetime(&now);
        let months = i64::from(local.year()) * 12 + i64::from(local.month0());
        let period = months / i64::from(to.window_months.max(1));
        if !repo::tiers::rewarded(conn, &card.id, &to.key, period)? {
            let voucher = vouchers::issue(
                conn,
                &Issue {
                    program,
                    card,
                    value: &reward.voucher,
                    min_purchase_cents: reward.min_purchase_cents,
                    validity: reward.validity_days,
                    origin: VoucherOrigin::TierEntry,
                    title: Some(name_of(to, locale)),
                    reward_id: None,
                    conversion_id: None,
                    ledger_entry_id: None,
                    reason: None,
                    staff_id: None,
                    notify: true,
                },
                now,
            )?;
            repo::tiers::record_reward(
                conn,
                &Reward {
                    card_id: &card.id,
                    tier_key: &to.key,
                    period,
                    program_id: &program.id,
                    voucher_id: &voucher.id,
                    created_at: now,
                },
            )?;
        }
    }
    mail::queue(
        conn,
        &Mail::TierChanged {
            program_id: program.id.clone(),
            customer_id: card.customer_id.clone(),
            old_tier: Some(name_of(from, locale).to_owned()),
            new_tier: name_of(to, locale).to_owned(),
            perks: None,
        },
    )?;
    crate::service::card_changes::card_changed(conn, card)?;
    Ok(Some(TierChange { from: Some(from.key.clone()), to: to.key.clone() }))
}

/// The name of the card's tier now, for its passes; None without tiers. Reads only, and no sales.
pub fn name_now(conn: &mut DbConn, program: &Program, card: &Card) -> AppResult<Option<String>> {
    let tiers = rules::of_program(conn, &program.id)?;
    if tiers.list().is_empty() {
        return Ok(None);
    }
    let row = repo::tiers::card_tier(conn, &card.id)?;
    Ok(current(&tiers, row.as_ref()).map(|(_, t)| name_of(t, vouchers::program_locale(program)).to_owned()))
}

/// The card's standing, or None when the programme has no tiers. Reads only.
pub fn view(conn: &mut DbConn, program: &Program, card: &Card, now: NaiveDateTime) -> AppResult<Option<TierView>> {
    let tiers = rules::of_program(conn, &program.id)?;
    let row = repo::tiers::card_tier(conn, &card.id)?;
    let Some((at, tier)) = current(&tiers, row.as_ref()) else { return Ok(None) };
    let locale = vouchers::program_locale(program);
    let next = tiers.list().get(at + 1);
    let progress = match next {
        Some(next) => {
            let window = Window::read(conn, &tiers, card, program.tz(), now)?;
            let values = window.of(next);
            let floors = next.qualify.as_ref().map(crate::domain::tier::Rule::floors).unwrap_or_default();
            floors
                .into_iter()
                .map(|(metric, next_at_least)| Progress {
                    metric,
                    value: values.get(&metric).copied().unwrap_or(0),
                    next_at_least,
                })
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Some(TierView {
        key: tier.key.clone(),
        name: name_of(tier, locale).to_owned(),
        since: time(row.as_ref().map_or(card.created_at, |r| r.since)),
        earn_multiplier_percent: tier.earn_multiplier_percent,
        next: next.map(|t| t.key.clone()),
        progress,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn sale(day: (i32, u32, u32), hour: u32, location: &str, cents: i64) -> Sale {
        Sale {
            amount_cents: cents,
            discount_cents: 0,
            returned_cents: 0,
            points_earned: cents / 100,
            bonus_points: 0,
            location_id: Some(location.into()),
            occurred_at: NaiveDate::from_ymd_opt(day.0, day.1, day.2).unwrap().and_hms_opt(hour, 30, 0).unwrap(),
        }
    }

    #[test]
    fn visits_are_local_days_per_location_and_returns_come_off_spend_and_points() {
        let paris = chrono_tz::Europe::Paris;
        // 22:30 and 23:30 UTC on 10 January are 23:30 on the 10th and 00:30 on the 11th in Paris.
        let mut sales = vec![
            sale((2027, 1, 10), 22, "a", 1000),
            sale((2027, 1, 10), 23, "a", 1000),
            sale((2027, 1, 10), 9, "a", 1000),
            sale((2027, 1, 10), 9, "b", 1000),
        ];
        sales[3].returned_cents = 500;
        sales[2].discount_cents = 200;
        let v = values(&sales, NaiveDateTime::MIN, paris);
        assert_eq!(v[&Metric::Visits], 3, "two days at a (either side of local midnight), one at b");
        assert_eq!(v[&Metric::SpendCents], 1000 + 1000 + 800 + 500);
        assert_eq!(v[&Metric::PointsEarned], 10 + 10 + 10 + 5);
        assert_eq!(boosted(25, 200), 50);
        assert_eq!(boosted(25, 150), 37);
    }
}
