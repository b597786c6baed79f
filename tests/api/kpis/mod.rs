//! `GET /insights/kpis` against an independent computation. A generator with a fixed seed writes
//! a programme's history as raw rows: 2,000 members enrolled over 18 months and before (some
//! erased), regulars, one-off buyers and lapsed members buying at two shops or with no shop,
//! returns whole and partial, discounts, sales a second either side of local midnight and in the
//! hours the clocks change; every kind of ledger move, referrals in every status, vouchers in
//! every state and kind, promo redemptions applied and rolled back, and the tills' totals of some
//! days. Every figure is then recomputed here from those rows, by the definitions, in plain Rust
//! (nothing of the server's code), and each period's every field must match exactly.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Europe::Paris;
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, code, spawn_app};

/// The first day with rows: the first period's trailing 12 months start after it, so that some
/// history lies before everything the KPIs read (it still counts in the points held).
const DATA_FIRST: &str = "2024-03-01";
/// The last day with rows (a Sunday: the last week of the weekly ranges).
const DATA_LAST: &str = "2026-12-06";
/// The days summer time starts (last Sunday of March) and ends (last Sunday of October).
const DST_DAYS: [&str; 6] = ["2024-03-31", "2024-10-27", "2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25"];
/// Points given, and points spent, by the definitions.
const ISSUED: [&str; 4] = ["earn", "promo", "referral", "adjust"];
const REDEEMED: [&str; 3] = ["redeem", "reward", "conversion"];
const ENTRY_KINDS: [&str; 11] = [
    "earn",
    "redeem",
    "reversal",
    "debt",
    "adjust",
    "referral",
    "referral_clawback",
    "promo",
    "reward",
    "conversion",
    "expire",
];

// ---------------------------------------------------------------------------------------------
// Time in the programme's zone (Europe/Paris), computed here with chrono-tz.

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// When the local `day` starts, in UTC (midnight exists, once, on every day in Paris).
fn midnight(day: NaiveDate) -> NaiveDateTime {
    Paris.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap()).single().unwrap().naive_utc()
}

/// A local wall-clock time, in UTC; a time the spring change skips is read an hour later.
fn paris(day: NaiveDate, h: u32, m: u32, s: u32) -> NaiveDateTime {
    let wall = day.and_hms_opt(h, m, s).unwrap();
    Paris
        .from_local_datetime(&wall)
        .earliest()
        .or_else(|| Paris.from_local_datetime(&(wall + Duration::hours(1))).earliest())
        .unwrap()
        .naive_utc()
}

fn local_day(at: NaiveDateTime) -> NaiveDate {
    Paris.from_utc_datetime(&at).date_naive()
}

/// The first day of the month after the one holding `day`.
fn next_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap() + Months::new(1)
}

fn sql_time(at: NaiveDateTime) -> String {
    format!("'{}'", at.format("%Y-%m-%d %H:%M:%S"))
}

fn sql_opt_time(at: Option<NaiveDateTime>) -> String {
    at.map_or_else(|| "NULL".to_owned(), sql_time)
}

fn sql_opt(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".to_owned(), |v| v.to_string())
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The generator: splitmix64 with a fixed seed, the same rows on every run and database.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let width = u64::try_from(hi - lo).unwrap();
        lo + i64::try_from(self.next() % width).unwrap()
    }

    fn small(&mut self, lo: u32, hi: u32) -> u32 {
        u32::try_from(self.range(i64::from(lo), i64::from(hi))).unwrap()
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.range(0, count(len))).unwrap()
    }

    fn chance(&mut self, percent: i64) -> bool {
        self.range(0, 100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }
}

struct Member {
    created: NaiveDateTime,
    erased: Option<NaiveDateTime>,
}

struct Sale {
    card: usize,
    /// 0: the programme's first shop, 1: the second; none: a sale recorded without a shop.
    location: Option<usize>,
    at: NaiveDateTime,
    amount: i64,
    returned: i64,
    discount: i64,
}

struct Move {
    card: usize,
    kind: &'static str,
    delta: i64,
    at: NaiveDateTime,
}

struct Referral {
    referrer: usize,
    referee: usize,
    status: &'static str,
    at: NaiveDateTime,
    decided: Option<NaiveDateTime>,
}

struct Voucher {
    card: usize,
    kind: &'static str,
    value: Option<i64>,
    state: &'static str,
    origin: &'static str,
    created: NaiveDateTime,
    expires: NaiveDateTime,
    used: Option<NaiveDateTime>,
    discount: Option<i64>,
}

struct PromoUse {
    card: usize,
    sale: Option<usize>,
    discount: i64,
    bonus: i64,
    applied: bool,
    at: NaiveDateTime,
    rolled_back: Option<NaiveDateTime>,
}

struct Totals {
    location: usize,
    day: NaiveDate,
    transactions: i64,
    revenue: i64,
}

#[derive(Default)]
struct World {
    members: Vec<Member>,
    sales: Vec<Sale>,
    moves: Vec<Move>,
    referrals: Vec<Referral>,
    vouchers: Vec<Voucher>,
    promos: Vec<PromoUse>,
    totals: Vec<Totals>,
}

/// The instant after the last day with rows, less a second: no row is later.
fn data_end() -> NaiveDateTime {
    midnight(day(DATA_LAST) + Duration::days(1)) - Duration::seconds(1)
}

fn generate(n: usize, seed: u64) -> World {
    let mut rng = Rng(seed);
    let (first, last, range_start) = (day(DATA_FIRST), day(DATA_LAST), day("2025-06-01"));
    let end = data_end();
    let mut w = World::default();

    // Members: most enrolled over the 18 months, some before; a few exactly at a month's local
    // midnight or a second before it; one in 14 erased, a third of those at a month's turn.
    for i in 0..n {
        let d = if rng.chance(12) {
            first + Duration::days(rng.range(0, (range_start - first).num_days()))
        } else {
            range_start + Duration::days(rng.range(0, (last - range_start).num_days() + 1))
        };
        let created = match i % 50 {
            7 => midnight(d.with_day(1).unwrap()),
            8 if next_month(d) <= last => midnight(next_month(d)) - Duration::seconds(1),
            _ => paris(d, rng.small(8, 21), rng.small(0, 60), rng.small(0, 60)),
        };
        let erased = (i % 14 == 3).then(|| {
            let at = created + Duration::days(rng.range(3, 500)) + Duration::seconds(rng.range(0, 86_400));
            let at = if rng.chance(35) { midnight(next_month(local_day(at))) } else { at };
            at.min(end)
        });
        w.members.push(Member { created, erased });
    }

    // Members at the edges of the ROI's cohort of the 18 months (enrolled from the range's start
    // to 180 days before its end, 2026-12-01 local midnight): they buy below.
    let cohort_edges = if n > 40 {
        let (opens, closes) = (midnight(range_start), midnight(day("2026-12-01")) - Duration::days(180));
        vec![(9, closes), (19, closes + Duration::seconds(1)), (29, opens), (39, opens - Duration::seconds(1))]
    } else {
        Vec::new()
    };
    for &(i, at) in &cohort_edges {
        w.members[i].created = at;
    }

    // Purchases by pattern: regulars every few days (until they churn), one-off buyers, members
    // who lapse after a few weeks, occasional buyers, and members who never buy.
    for i in 0..n {
        let created = w.members[i].created;
        let home = match rng.range(0, 20) {
            0..9 => Some(0),
            9..17 => Some(1),
            _ => None,
        };
        let start = local_day(created);
        let mut days = Vec::new();
        match i % 10 {
            0..=2 => {
                let mut d = start + Duration::days(rng.range(0, 3));
                while d <= last {
                    days.push(d);
                    if rng.chance(2) {
                        break;
                    }
                    d += Duration::days(rng.range(3, 19));
                }
            }
            3..=5 => days.push(start + Duration::days(rng.range(0, 4))),
            6 | 7 => {
                let mut d = start + Duration::days(rng.range(0, 3));
                for _ in 0..rng.range(3, 8) {
                    days.push(d);
                    d += Duration::days(rng.range(4, 26));
                }
            }
            8 => {
                let mut d = start + Duration::days(rng.range(0, 30));
                while d <= last {
                    days.push(d);
                    d += Duration::days(rng.range(20, 111));
                }
            }
            _ => {}
        }
        for (k, d) in days.into_iter().enumerate() {
            if d > last {
                break;
            }
            let at = if k == 0 && rng.chance(25) {
                created
            } else {
                paris(d, rng.small(8, 21), rng.small(0, 60), rng.small(0, 60)).max(created)
            };
            let location = if rng.chance(80) { home } else { rng.pick(&[Some(0), Some(1), None]) };
            let amount = if i % 10 <= 2 { rng.range(800, 6_000) } else { rng.range(300, 15_000) };
            push_sale(&mut w, &mut rng, i, location, at, amount);
        }
    }

    // Sales a second either side of local midnight at every month's turn, and on the days the
    // clocks change: in the small hours (UTC 00:30, 01:30, 02:30: skipped or repeated local
    // hours) and a second either side of the local midnights that begin and end the day.
    let mut edges = Vec::new();
    let mut turn = day("2024-04-01");
    while turn <= last {
        let at = midnight(turn);
        edges.extend([at - Duration::seconds(1), at, at + Duration::seconds(1)]);
        turn = turn + Months::new(1);
    }
    for dst in DST_DAYS {
        let d = day(dst);
        let (begins, ends) = (midnight(d), midnight(d + Duration::days(1)));
        edges.extend([begins - Duration::seconds(1), begins, ends - Duration::seconds(1), ends]);
        edges.extend((0..3).map(|h| d.and_hms_opt(h, 30, 0).unwrap()));
    }
    for at in edges {
        for _ in 0..3 {
            let Some(card) = (0..100).map(|_| rng.index(n)).find(|&c| {
                let m = &w.members[c];
                m.created <= at && m.erased.is_none_or(|e| e > at)
            }) else {
                continue;
            };
            let location = rng.pick(&[Some(0), Some(0), Some(1), None]);
            let amount = rng.range(500, 5_000);
            push_sale(&mut w, &mut rng, card, location, at, amount);
        }
    }

    // The cohort's edge members buy at the edges of their first 90 days and of the 90 after.
    for &(i, enrolled) in &cohort_edges {
        for seconds in [0, 90 * 86_400 - 1, 90 * 86_400, 180 * 86_400 - 1, 180 * 86_400] {
            let at = enrolled + Duration::seconds(seconds);
            if at <= end {
                push_sale(&mut w, &mut rng, i, Some(0), at, 2_000);
            }
        }
    }

    // Moves of points not tied to a sale, and the vouchers that go with rewards and conversions.
    for i in 0..n {
        let created = w.members[i].created;
        let room = (end - created).num_seconds().max(120);
        let when = |rng: &mut Rng| created + Duration::seconds(rng.range(60, room));
        if rng.chance(4) {
            let at = when(&mut rng);
            w.moves.push(Move { card: i, kind: "adjust", delta: rng.range(10, 500), at });
        }
        if rng.chance(2) {
            let at = when(&mut rng);
            w.moves.push(Move { card: i, kind: "adjust", delta: -rng.range(10, 200), at });
        }
        if rng.chance(12) {
            let at = when(&mut rng);
            w.moves.push(Move { card: i, kind: "reward", delta: -rng.range(100, 600), at });
            push_voucher(&mut w, &mut rng, i, "reward", at);
        }
        if rng.chance(4) {
            let at = paris(local_day(when(&mut rng)), 3, 0, 0).clamp(created, end);
            w.moves.push(Move { card: i, kind: "conversion", delta: -rng.range(2, 10) * 100, at });
            push_voucher(&mut w, &mut rng, i, "conversion", at);
        }
        if rng.chance(6) {
            let on = local_day(when(&mut rng));
            let at = midnight(if rng.chance(35) { next_month(on) } else { on });
            if created < at && at <= end {
                w.moves.push(Move { card: i, kind: "expire", delta: -rng.range(10, 400), at });
            }
        }
        if rng.chance(16) {
            let at = when(&mut rng);
            let origin = rng.pick(&["tier_entry", "manual"]);
            push_voucher(&mut w, &mut rng, i, origin, at);
        }
    }

    // Referrals, attached at the referee's enrolment, in every status; rewards paid to both
    // sides when rewarded, and taken back when clawed back.
    for i in 1..n {
        if i % 8 != 5 {
            continue;
        }
        let referrer = rng.index(i);
        let status = rng.pick(&["pending", "rewarded", "rewarded", "rejected", "expired", "clawed_back"]);
        let at = w.members[i].created;
        let decided = match status {
            "pending" => None,
            "expired" => Some(at + Duration::days(30)),
            "rejected" => Some(at + Duration::hours(2)),
            _ => Some(at + Duration::days(rng.range(1, 30)) + Duration::seconds(rng.range(0, 86_400))),
        }
        .map(|t| t.min(end));
        if let (Some(paid), "rewarded" | "clawed_back") = (decided, status) {
            w.moves.push(Move { card: referrer, kind: "referral", delta: 100, at: paid });
            w.moves.push(Move { card: i, kind: "referral", delta: 50, at: paid });
            if status == "clawed_back" {
                let back = (paid + Duration::days(rng.range(1, 40))).min(end);
                w.moves.push(Move { card: referrer, kind: "referral_clawback", delta: -100, at: back });
                w.moves.push(Move { card: i, kind: "referral_clawback", delta: -50, at: back });
            }
        }
        w.referrals.push(Referral { referrer, referee: i, status, at, decided });
    }

    // The tills' daily totals: the first shop on most days of two seasons (the days the clocks
    // change among them), a few days before the range and in the days after it, the second shop
    // on some days of October; and one day a till reported no sale at all.
    let mut days: Vec<(usize, NaiveDate)> = Vec::new();
    for (from, to, location, percent) in [
        ("2025-03-24", "2025-04-06", 0, 100),
        ("2026-01-05", "2026-03-31", 0, 70),
        ("2026-09-01", "2026-11-30", 0, 80),
        ("2026-12-01", "2026-12-06", 0, 100),
        ("2026-10-01", "2026-10-31", 1, 40),
    ] {
        let mut d = day(from);
        while d <= day(to) {
            if rng.chance(percent) {
                days.push((location, d));
            }
            d += Duration::days(1);
        }
    }
    for forced in ["2026-03-29", "2026-03-30", "2026-10-25", "2026-10-26"] {
        if !days.contains(&(0, day(forced))) {
            days.push((0, day(forced)));
        }
    }
    for (location, d) in days {
        let card: Vec<&Sale> = w
            .sales
            .iter()
            .filter(|s| s.location == Some(location) && s.returned < s.amount && local_day(s.at) == d)
            .collect();
        let transactions = count(card.len()) + rng.range(15, 90);
        let without_card = transactions - count(card.len());
        let revenue = card.iter().map(|s| net(s)).sum::<i64>() + without_card * rng.range(600, 2_500);
        w.totals.push(Totals { location, day: d, transactions, revenue });
    }
    w.totals.push(Totals { location: 0, day: day("2025-08-15"), transactions: 0, revenue: 0 });
    w
}

/// A sale and what follows it: points earned, taken back on a return (part of it as a debt),
/// a promo code's redemption (some rolled back), points redeemed at the till (some undone).
fn push_sale(w: &mut World, rng: &mut Rng, card: usize, location: Option<usize>, at: NaiveDateTime, amount: i64) {
    let end = data_end();
    let returned = match rng.range(0, 100) {
        0..5 => amount,
        5..15 => (amount * rng.range(5, 95) / 100).max(1),
        _ => 0,
    };
    let discount = if rng.chance(12) { rng.range(50, 1_500) } else { 0 };
    let sale = w.sales.len();
    w.sales.push(Sale { card, location, at, amount, returned, discount });
    let later = (at + Duration::days(rng.range(1, 20)) + Duration::seconds(rng.range(0, 86_400))).clamp(at, end);
    let points = amount / 100;
    if points > 0 {
        w.moves.push(Move { card, kind: "earn", delta: points, at });
    }
    let taken = if returned == amount { points } else { returned / 100 };
    if taken >= 2 && rng.chance(30) {
        w.moves.push(Move { card, kind: "reversal", delta: -(taken / 2), at: later });
        w.moves.push(Move { card, kind: "debt", delta: -(taken - taken / 2), at: later });
    } else if taken > 0 {
        w.moves.push(Move { card, kind: "reversal", delta: -taken, at: later });
    }
    if discount > 0 && rng.chance(60) {
        let applied = rng.chance(75);
        let bonus = if rng.chance(50) { rng.range(10, 60) } else { 0 };
        if bonus > 0 {
            w.moves.push(Move { card, kind: "promo", delta: bonus, at });
            if !applied {
                w.moves.push(Move { card, kind: "reversal", delta: -bonus, at: later });
            }
        }
        let sale = rng.chance(50).then_some(sale);
        w.promos.push(PromoUse { card, sale, discount, bonus, applied, at, rolled_back: (!applied).then_some(later) });
    }
    if rng.chance(8) {
        let points = rng.range(20, 200);
        w.moves.push(Move { card, kind: "redeem", delta: -points, at });
        if rng.chance(15) {
            w.moves.push(Move { card, kind: "reversal", delta: points, at: later });
        }
    }
}

/// A voucher of any kind and state; it expires at a local midnight (some at a month's turn).
fn push_voucher(w: &mut World, rng: &mut Rng, card: usize, origin: &'static str, created: NaiveDateTime) {
    let end = data_end();
    let (kind, value) = match rng.range(0, 4) {
        0 | 1 => ("amount_off_cents", Some(rng.range(200, 2_500))),
        2 => ("percent_off", Some(rng.range(5, 40))),
        _ => ("item", None),
    };
    let mut expires = midnight(local_day(created) + Duration::days(rng.range(14, 200)));
    if rng.chance(20) {
        expires = midnight(next_month(local_day(expires)));
    }
    let mut state = match rng.range(0, 100) {
        0..30 => "active",
        30..65 => "used",
        65..90 => "expired",
        _ => "cancelled",
    };
    if state == "expired" && expires > end {
        state = "active";
    }
    let (used, discount) = if state == "used" {
        let span = (expires.min(end) - created).num_seconds().max(2);
        let at = created + Duration::seconds(rng.range(1, span));
        let discount = match kind {
            "amount_off_cents" => value,
            "percent_off" => Some(rng.range(50, 900)),
            _ => Some(rng.range(150, 500)),
        };
        (Some(at), if rng.chance(4) { None } else { discount })
    } else {
        (None, None)
    };
    w.vouchers.push(Voucher { card, kind, value, state, origin, created, expires, used, discount });
}

fn net(s: &Sale) -> i64 {
    (s.amount - s.returned - s.discount).max(0)
}

mod expected;
mod seed;
mod tests;
