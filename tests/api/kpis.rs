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

// ---------------------------------------------------------------------------------------------
// The rows, written as they are: multi-row INSERTs of at most 200 rows.

async fn insert(app: &TestApp, into: &str, rows: &[String]) {
    for chunk in rows.chunks(200) {
        app.exec(&format!("INSERT INTO {into} VALUES {}", chunk.join(", "))).await;
    }
}

/// Writes the world into the first programme; returns its two shops' ids (the second is made
/// through the API, as is the promo campaign the redemptions belong to).
async fn seed(app: &TestApp, w: &World) -> [String; 2] {
    let (status, shop) = app.post("/api/v1/locations", &app.staff.manager, None, &json!({"name": "Gare"})).await;
    assert_eq!(status, StatusCode::CREATED, "{shop}");
    let shops = [app.staff.location_id.clone(), shop["id"].as_str().unwrap().to_owned()];
    let body = json!({"name": "Automne", "code": "AUTOMNE", "effect": {"amount_off_cents": 300}});
    let (status, campaign) = app.post("/api/v1/promo-campaigns", &app.staff.manager, None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let campaign_id = campaign["id"].as_str().unwrap().to_owned();
    let code_id: i64 = {
        use diesel::prelude::*;
        use encarte::db::schema::promo_codes::dsl as pc;
        let campaign_id = campaign_id.clone();
        app.db
            .read(move |c| {
                Ok(pc::promo_codes.filter(pc::campaign_id.eq(campaign_id)).select(pc::id).first::<i64>(c)?)
            })
            .await
            .unwrap()
    };
    let p = app.staff.program_id.clone();
    let shop = |l: Option<usize>| l.map_or_else(|| "NULL".to_owned(), |l| format!("'{}'", shops[l]));

    // Each card's balance is the sum of its moves; each move's balance_after the running sum.
    let mut order: Vec<usize> = (0..w.moves.len()).collect();
    order.sort_by_key(|&k| (w.moves[k].card, w.moves[k].at, k));
    let mut after = vec![0; w.moves.len()];
    let mut balances = vec![0; w.members.len()];
    for k in order {
        balances[w.moves[k].card] += w.moves[k].delta;
        after[k] = balances[w.moves[k].card];
    }

    let customers: Vec<String> = w
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "('kc{i}', '{p}', 'm{i}@kpi.test', 'Membre', NULL, 'fr', {}, NULL, NULL, NULL, {})",
                sql_time(m.created),
                sql_opt_time(m.erased)
            )
        })
        .collect();
    insert(
        app,
        "customers (id, program_id, email, first_name, phone, locale, created_at, email_key, phone_key, \
         device_key, erased_at)",
        &customers,
    )
    .await;
    let cards: Vec<String> = w
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = sql_time(m.created);
            let status = if m.erased.is_some() { "closed" } else { "active" };
            format!(
                "('kd{i}', '{p}', 'kc{i}', 'K{i:08}', 'KPI-BC-{i}', 'kpi-serial-{i}', 'auth-{i}', '{status}', {}, 1, \
                 {at}, {at}, NULL, 0, {at}, 'kpi-link-{i}', 0)",
                balances[i]
            )
        })
        .collect();
    insert(
        app,
        "cards (id, program_id, customer_id, number, barcode, serial, auth_token, status, balance, pass_version, \
         created_at, updated_at, referral_code, pass_seq, pass_updated_at, link_token, apple_devices)",
        &cards,
    )
    .await;
    let sales: Vec<String> = w
        .sales
        .iter()
        .enumerate()
        .map(|(j, s)| {
            format!(
                "('kp{j}', '{p}', 'kd{}', {}, NULL, {}, 'EUR', NULL, {}, {}, {at}, {}, 0, {at})",
                s.card,
                shop(s.location),
                s.amount,
                s.amount / 100,
                s.returned,
                s.discount,
                at = sql_time(s.at),
            )
        })
        .collect();
    insert(
        app,
        "purchases (id, program_id, card_id, location_id, staff_id, amount_cents, currency, external_ref, \
         points_earned, returned_cents, created_at, discount_cents, bonus_points, occurred_at)",
        &sales,
    )
    .await;
    let moves: Vec<String> = w
        .moves
        .iter()
        .zip(&after)
        .map(|(m, after)| {
            format!("('{p}', 'kd{}', {}, '{}', NULL, NULL, NULL, {after}, {})", m.card, m.delta, m.kind, sql_time(m.at))
        })
        .collect();
    insert(
        app,
        "ledger_entries (program_id, card_id, delta, kind, purchase_id, staff_id, reason, balance_after, created_at)",
        &moves,
    )
    .await;
    let referrals: Vec<String> = w
        .referrals
        .iter()
        .enumerate()
        .map(|(j, r)| {
            format!(
                "('kr{j}', '{p}', 'kd{}', 'kd{}', '{}', NULL, NULL, {}, {}, {})",
                r.referrer,
                r.referee,
                r.status,
                sql_time(r.at + Duration::days(30)),
                sql_time(r.at),
                sql_opt_time(r.decided)
            )
        })
        .collect();
    insert(
        app,
        "referrals (id, program_id, referrer_card_id, referee_card_id, status, reason, purchase_id, expires_at, \
         created_at, decided_at)",
        &referrals,
    )
    .await;
    let vouchers: Vec<String> = w
        .vouchers
        .iter()
        .enumerate()
        .map(|(j, v)| {
            let item = if v.kind == "item" { "'Cafe'" } else { "NULL" };
            format!(
                "('kv{j}', '{p}', 'kd{}', 'KV{j:06}', '{}', {}, {item}, 0, '{}', '{}', NULL, NULL, NULL, NULL, NULL, \
                 {}, NULL, {}, {}, {}, {})",
                v.card,
                v.kind,
                sql_opt(v.value),
                v.state,
                v.origin,
                sql_time(v.expires),
                sql_opt(v.discount),
                sql_opt_time(v.used),
                sql_time(v.created),
                sql_time(v.used.unwrap_or(v.created)),
            )
        })
        .collect();
    insert(
        app,
        "vouchers (id, program_id, card_id, code, kind, value, item, min_purchase_cents, state, origin, reward_id, \
         conversion_id, ledger_entry_id, reason, staff_id, expires_at, purchase_id, discount_cents, used_at, \
         created_at, updated_at)",
        &vouchers,
    )
    .await;
    let promos: Vec<String> = w
        .promos
        .iter()
        .enumerate()
        .map(|(j, u)| {
            let sale = u.sale.map_or_else(|| "NULL".to_owned(), |s| format!("'kp{s}'"));
            let status = if u.applied { "applied" } else { "rolled_back" };
            format!(
                "('kq{j}', '{p}', '{campaign_id}', {code_id}, 'kd{}', {sale}, {}, {}, '{status}', {}, {})",
                u.card,
                u.discount,
                u.bonus,
                sql_time(u.at),
                sql_opt_time(u.rolled_back)
            )
        })
        .collect();
    insert(
        app,
        "promo_redemptions (id, program_id, campaign_id, code_id, card_id, purchase_id, discount_cents, \
         bonus_points, status, created_at, rolled_back_at)",
        &promos,
    )
    .await;
    let totals: Vec<String> = w
        .totals
        .iter()
        .map(|t| {
            format!(
                "('{}', '{}', '{p}', {}, {}, NULL, {})",
                shops[t.location],
                t.day,
                t.transactions,
                t.revenue,
                sql_time(midnight(t.day + Duration::days(1)))
            )
        })
        .collect();
    insert(
        app,
        "sales_totals (location_id, day, program_id, transactions, revenue_cents, staff_id, updated_at)",
        &totals,
    )
    .await;
    assert_eq!(app.count("customers", &format!("program_id = '{p}'")).await, count(w.members.len()));
    assert_eq!(app.count("purchases", &format!("program_id = '{p}'")).await, count(w.sales.len()));
    assert_eq!(app.count("ledger_entries", &format!("program_id = '{p}'")).await, count(w.moves.len()));
    shops
}

// ---------------------------------------------------------------------------------------------
// The figures, by the definitions, from the rows above.

/// What a request asks: a granularity and a range, perhaps a shop; and the point's value set.
#[derive(Clone, Copy)]
struct Ask {
    granularity: &'static str,
    from: NaiveDate,
    to: NaiveDate,
    location: Option<usize>,
    point_value: Option<i64>,
}

impl Ask {
    fn months(from: &str, to: &str) -> Ask {
        Ask { granularity: "month", from: day(from), to: day(to), location: None, point_value: None }
    }

    fn weeks(from: &str, to: &str) -> Ask {
        Ask { granularity: "week", ..Ask::months(from, to) }
    }

    fn query(&self, shops: &[String; 2]) -> String {
        let mut q = format!("from={}&to={}&granularity={}", self.from, self.to, self.granularity);
        if let Some(l) = self.location {
            q.push_str(&format!("&location={}", shops[l]));
        }
        q
    }

    fn step(&self, start: NaiveDate, forward: bool) -> NaiveDate {
        match (self.granularity, forward) {
            ("week", true) => start + Duration::days(7),
            ("week", false) => start - Duration::days(7),
            (_, true) => start + Months::new(1),
            (_, false) => start - Months::new(1),
        }
    }

    /// The whole periods covering `from..=to`: (first day, first day of the next).
    fn periods(&self) -> Vec<(NaiveDate, NaiveDate)> {
        let mut start = if self.granularity == "week" {
            self.from - Duration::days(i64::from(self.from.weekday().num_days_from_monday()))
        } else {
            self.from.with_day(1).unwrap()
        };
        let mut out = Vec::new();
        while start <= self.to {
            let end = self.step(start, true);
            out.push((start, end));
            start = end;
        }
        out
    }

    fn at_shop(&self, s: &Sale) -> bool {
        self.location.is_none_or(|l| s.location == Some(l))
    }
}

/// `num ÷ den` to 4 decimals, halves up, as a JSON number; null without a divisor.
fn rate(num: i64, den: i64) -> Value {
    if den == 0 {
        return Value::Null;
    }
    let scaled = num * 10_000;
    let mut basis = scaled / den;
    if (scaled % den) * 2 >= den {
        basis += 1;
    }
    json!(f64::from(i32::try_from(basis).unwrap()) / 10_000.0)
}

/// `num ÷ den` to the cent, halves up; null without a (positive) divisor.
fn cents(num: i64, den: i64) -> Value {
    if den <= 0 {
        return Value::Null;
    }
    let mut q = num / den;
    if (num % den) * 2 >= den {
        q += 1;
    }
    json!(q)
}

impl World {
    /// The purchases (not wholly returned) in `from..to`, at the asked shop.
    fn bought(&self, ask: &Ask, from: NaiveDateTime, to: NaiveDateTime) -> Vec<&Sale> {
        self.sales.iter().filter(|s| s.returned < s.amount && from <= s.at && s.at < to && ask.at_shop(s)).collect()
    }

    fn buyers(&self, ask: &Ask, from: NaiveDateTime, to: NaiveDateTime) -> HashSet<usize> {
        self.bought(ask, from, to).iter().map(|s| s.card).collect()
    }

    /// The tills' rows of the local days `first..end`, at the asked shop.
    fn totals_of(&self, ask: &Ask, first: NaiveDate, end: NaiveDate) -> Vec<&Totals> {
        self.totals
            .iter()
            .filter(|t| first <= t.day && t.day < end && ask.location.is_none_or(|l| t.location == l))
            .collect()
    }

    /// The purchases among `sales` made at a shop on a local day its till reported.
    fn on_reported_days<'a>(&self, sales: &[&'a Sale]) -> Vec<&'a Sale> {
        let reported: HashSet<(usize, NaiveDate)> = self.totals.iter().map(|t| (t.location, t.day)).collect();
        sales.iter().copied().filter(|s| s.location.is_some_and(|l| reported.contains(&(l, local_day(s.at))))).collect()
    }

    /// Σ of the gains (`sign` 1) or the losses (−1, made positive) of `kinds` in `from..to`.
    fn points(&self, kinds: &[&str], sign: i64, from: NaiveDateTime, to: NaiveDateTime) -> i64 {
        self.moves
            .iter()
            .filter(|m| from <= m.at && m.at < to && kinds.contains(&m.kind) && m.delta * sign > 0)
            .map(|m| m.delta * sign)
            .sum()
    }

    /// One span's figures: local days `start..end`; `previous`, the first day of the period
    /// before (none for the whole range).
    fn figures(&self, ask: &Ask, start: NaiveDate, end: NaiveDate, previous: Option<NaiveDate>) -> Map<String, Value> {
        let (from, to) = (midnight(start), midnight(end));
        let window = midnight(end - Months::new(12));
        let within = |at: NaiveDateTime| from <= at && at < to;
        let mut f = Map::new();
        let mut put = |key: &str, value: Value| {
            f.insert(key.to_owned(), value);
        };
        put("start", json!(start.to_string()));
        put("end", json!((end - Duration::days(1)).to_string()));

        // Members.
        let on_roll = self.members.iter().filter(|m| m.created < to && m.erased.is_none_or(|e| e >= to)).count();
        let new: Vec<usize> = (0..self.members.len()).filter(|&i| within(self.members[i].created)).collect();
        let referred: HashSet<usize> =
            self.referrals.iter().filter(|r| r.status != "rejected").map(|r| r.referee).collect();
        let new_referred = new.iter().filter(|i| referred.contains(i)).count();
        put("members_total", json!(on_roll));
        put("new_members", json!(new.len()));

        // Sales.
        let sales = self.bought(ask, from, to);
        let active: HashSet<usize> = sales.iter().map(|s| s.card).collect();
        put("active_members", json!(active.len()));
        put("purchases", json!(sales.len()));
        put("member_revenue_cents", json!(sales.iter().map(|s| net(s)).sum::<i64>()));
        let rows = self.totals_of(ask, start, end);
        let reported = self.on_reported_days(&sales);
        if rows.is_empty() {
            for key in ["sales_transactions", "sales_revenue_cents", "card_transactions_reported", "enrolment_rate"] {
                put(key, Value::Null);
            }
        } else {
            let transactions: i64 = rows.iter().map(|t| t.transactions).sum();
            put("sales_transactions", json!(transactions));
            put("sales_revenue_cents", json!(rows.iter().map(|t| t.revenue).sum::<i64>()));
            put("card_transactions_reported", json!(reported.len()));
            put("enrolment_rate", rate(count(reported.len()), transactions));
        }
        let retention = previous.map_or(Value::Null, |p| {
            let before = self.buyers(ask, midnight(p), from);
            rate(count(before.iter().filter(|c| active.contains(c)).count()), count(before.len()))
        });
        put("retention_rate", retention);
        let mut per_card: HashMap<usize, i64> = HashMap::new();
        for s in self.bought(ask, window, to) {
            *per_card.entry(s.card).or_default() += 1;
        }
        put("repurchase_rate", rate(count(per_card.values().filter(|&&n| n >= 2).count()), count(per_card.len())));

        // Referrals.
        put("new_members_referred", json!(new_referred));
        put("recommendation_rate", rate(count(new_referred), count(new.len())));
        let started: Vec<&Referral> =
            self.referrals.iter().filter(|r| r.status != "rejected" && within(r.at)).collect();
        let converted = started.iter().filter(|r| matches!(r.status, "rewarded" | "clawed_back")).count();
        put("referrals_started", json!(started.len()));
        put("referrals_converted", json!(converted));
        put("referral_conversion_rate", rate(count(converted), count(started.len())));

        // Points.
        let issued = self.points(&ISSUED, 1, from, to);
        let redeemed = self.points(&REDEEMED, -1, from, to);
        let held: i64 = self.moves.iter().filter(|m| m.at < to).map(|m| m.delta).sum();
        put("points_issued", json!(issued));
        put("points_redeemed", json!(redeemed));
        put("points_expired", json!(self.points(&["expire"], -1, from, to)));
        put("redemption_rate", rate(redeemed, issued));
        put("points_held", json!(held));
        put("liability_cents", ask.point_value.map_or(Value::Null, |c| json!(held * c)));
        put("breakage_rate", rate(self.points(&["expire"], -1, window, to), self.points(&ISSUED, 1, window, to)));

        // Vouchers and promo codes.
        let face = |v: &Voucher| if v.kind == "amount_off_cents" { v.value.unwrap_or(0) } else { 0 };
        let issued: Vec<&Voucher> =
            self.vouchers.iter().filter(|v| v.state != "cancelled" && within(v.created)).collect();
        let used: Vec<&Voucher> =
            self.vouchers.iter().filter(|v| v.state == "used" && v.used.is_some_and(within)).collect();
        let expired: Vec<&Voucher> =
            self.vouchers.iter().filter(|v| v.state == "expired" && within(v.expires)).collect();
        put("vouchers_issued", json!(issued.len()));
        put("vouchers_issued_value_cents", json!(issued.iter().map(|v| face(v)).sum::<i64>()));
        put("vouchers_used", json!(used.len()));
        put("vouchers_used_value_cents", json!(used.iter().map(|v| v.discount.unwrap_or(0)).sum::<i64>()));
        put("vouchers_expired", json!(expired.len()));
        put("vouchers_expired_value_cents", json!(expired.iter().map(|v| face(v)).sum::<i64>()));
        let promo: i64 = self.promos.iter().filter(|u| u.applied && within(u.at)).map(|u| u.discount).sum();
        put("promo_discount_cents", json!(promo));
        f
    }

    /// The ROI panel over the whole range `start..end`.
    fn roi(&self, ask: &Ask, start: NaiveDate, end: NaiveDate) -> Map<String, Value> {
        let (from, to) = (midnight(start), midnight(end));
        let within = |at: NaiveDateTime| from <= at && at < to;
        let mut r = Map::new();
        let mut put = |key: &str, value: Value| {
            r.insert(key.to_owned(), value);
        };
        let sales = self.bought(ask, from, to);
        let revenue: i64 = sales.iter().map(|s| net(s)).sum();
        put("member_revenue_cents", json!(revenue));
        put("member_purchases", json!(sales.len()));
        put("member_basket_cents", cents(revenue, count(sales.len())));
        let rows = self.totals_of(ask, start, end);
        if rows.is_empty() {
            for key in
                ["sales_transactions", "sales_revenue_cents", "all_sales_basket_cents", "non_member_basket_cents"]
            {
                put(key, Value::Null);
            }
        } else {
            let transactions: i64 = rows.iter().map(|t| t.transactions).sum();
            let till_revenue: i64 = rows.iter().map(|t| t.revenue).sum();
            let card = self.on_reported_days(&sales);
            let card_revenue: i64 = card.iter().map(|s| net(s)).sum();
            put("sales_transactions", json!(transactions));
            put("sales_revenue_cents", json!(till_revenue));
            put("all_sales_basket_cents", cents(till_revenue, transactions));
            put("non_member_basket_cents", cents(till_revenue - card_revenue, transactions - count(card.len())));
        }

        // The members who enrolled in the range at least 180 days before its end, and their
        // purchases in their first 90 days and in the 90 after.
        let (ninety, cohort_end) = (Duration::days(90), to - Duration::days(180));
        let cohort: Vec<usize> = (0..self.members.len())
            .filter(|&i| from <= self.members[i].created && self.members[i].created <= cohort_end)
            .collect();
        let (mut first, mut next) = (0, 0);
        for &i in &cohort {
            let enrolled = self.members[i].created;
            for s in self.sales.iter().filter(|s| s.card == i && s.returned < s.amount && ask.at_shop(s)) {
                if enrolled <= s.at && s.at < enrolled + ninety {
                    first += 1;
                } else if enrolled + ninety <= s.at && s.at < enrolled + ninety + ninety {
                    next += 1;
                }
            }
        }
        put("cohort_members", json!(cohort.len()));
        put("purchases_first_90_days", json!(first));
        put("purchases_next_90_days", json!(next));
        put("per_member_first_90_days", rate(first, count(cohort.len())));
        put("per_member_next_90_days", rate(next, count(cohort.len())));

        // The programme's cost: promo discounts, voucher discounts, referral points at their value.
        let promo: i64 = self.promos.iter().filter(|u| u.applied && within(u.at)).map(|u| u.discount).sum();
        let vouchers: i64 = self
            .vouchers
            .iter()
            .filter(|v| v.state == "used" && v.used.is_some_and(within))
            .map(|v| v.discount.unwrap_or(0))
            .sum();
        let referral_points: i64 = self
            .moves
            .iter()
            .filter(|m| within(m.at) && matches!(m.kind, "referral" | "referral_clawback"))
            .map(|m| m.delta)
            .sum();
        let value = ask.point_value.map(|c| referral_points * c);
        let cost = promo + vouchers + value.unwrap_or(0);
        put("promo_discount_cents", json!(promo));
        put("voucher_discount_cents", json!(vouchers));
        put("referral_points", json!(referral_points));
        put("referral_points_value_cents", json!(value));
        put("cost_cents", json!(cost));
        put("cost_share_of_revenue", rate(cost, revenue));
        r
    }

    /// The whole answer, by the definitions.
    fn expected(&self, ask: &Ask, shops: &[String; 2]) -> Value {
        let list = ask.periods();
        let (first, end) = (list[0].0, list[list.len() - 1].1);
        let periods: Vec<Value> = list
            .iter()
            .map(|&(start, end)| Value::Object(self.figures(ask, start, end, Some(ask.step(start, false)))))
            .collect();
        let totals = self.figures(ask, first, end, None);
        let point_value = ask.point_value.map(|c| json!({"cents": c, "per_points": 1, "source": "setting"}));
        json!({
            "from": first.to_string(),
            "to": (end - Duration::days(1)).to_string(),
            "granularity": ask.granularity,
            "location_id": ask.location.map(|l| shops[l].clone()),
            "currency": "EUR",
            "time_zone": "Europe/Paris",
            "point_value": point_value,
            "sales_totals_reported": !totals["sales_transactions"].is_null(),
            "periods": periods,
            "totals": totals,
            "roi": self.roi(ask, first, end),
        })
    }
}

/// Each key of `expected` against `got`, and every key of `got` checked: the differences.
fn differences(label: &str, expected: &Value, got: &Value, out: &mut Vec<String>) {
    let (Some(expected), Some(got)) = (expected.as_object(), got.as_object()) else {
        out.push(format!("{label}: expected an object, got {got}"));
        return;
    };
    for (key, want) in expected {
        let have = got.get(key).unwrap_or(&Value::Null);
        if have != want {
            out.push(format!("{label}.{key}: expected {want}, got {have}"));
        }
    }
    for key in got.keys().filter(|k| !expected.contains_key(*k)) {
        out.push(format!("{label}.{key}: a field the test does not check ({})", got[key]));
    }
}

/// Asks the server and compares its whole answer with the independent computation.
async fn check(app: &TestApp, world: &World, shops: &[String; 2], ask: &Ask) -> Value {
    let path = format!("/api/v1/insights/kpis?{}", ask.query(shops));
    let (status, got) = app.get(&path, &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{path}: {got}");
    let want = world.expected(ask, shops);
    let mut errors = Vec::new();
    let header = |v: &Value| {
        let mut v = v.clone();
        for key in ["periods", "totals", "roi", "definitions"] {
            v.as_object_mut().unwrap().remove(key);
        }
        v
    };
    differences("answer", &header(&want), &header(&got), &mut errors);
    let (want_periods, got_periods) = (want["periods"].as_array().unwrap(), got["periods"].as_array().unwrap());
    if want_periods.len() == got_periods.len() {
        for (w, g) in want_periods.iter().zip(got_periods) {
            differences(&format!("period {}", w["start"].as_str().unwrap()), w, g, &mut errors);
        }
    } else {
        errors.push(format!("expected {} periods, got {}", want_periods.len(), got_periods.len()));
    }
    differences("totals", &want["totals"], &got["totals"], &mut errors);
    differences("roi", &want["roi"], &got["roi"], &mut errors);
    let definitions = got["definitions"].as_object().unwrap();
    for key in ["members_total", "retention_rate", "repurchase_rate", "liability_cents", "breakage_rate", "roi"] {
        assert!(definitions[key].as_str().is_some_and(|d| !d.is_empty()), "{key} has a definition: {definitions:?}");
    }
    assert!(errors.is_empty(), "{path}: {} differences:\n{}", errors.len(), errors.join("\n"));
    want
}

async fn set_point_value(app: &TestApp, cents: Value) {
    let body = json!({"point_value_cents": cents});
    let (status, program) = app.send(Method::PUT, "/api/v1/program", Some(&app.staff.owner), None, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(program["point_value_cents"], cents, "{program}");
}

/// Guards the generator: the set holds every case the figures tell apart.
fn assert_covers(w: &World) {
    let kinds: HashSet<&str> = w.moves.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, ENTRY_KINDS.into_iter().collect(), "every kind of move");
    let statuses: HashSet<&str> = w.referrals.iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), 5, "every referral status: {statuses:?}");
    let voucher_kinds: HashSet<(&str, &str)> = w.vouchers.iter().map(|v| (v.kind, v.state)).collect();
    assert_eq!(voucher_kinds.len(), 12, "every voucher kind in every state: {voucher_kinds:?}");
    assert!(w.vouchers.iter().any(|v| v.state == "used" && v.discount.is_none()));
    assert!(w.promos.iter().any(|u| u.applied) && w.promos.iter().any(|u| !u.applied));
    assert!(w.sales.iter().any(|s| s.returned == s.amount), "wholly returned sales");
    assert!(w.sales.iter().any(|s| 0 < s.returned && s.returned < s.amount), "partly returned sales");
    assert!(w.sales.iter().any(|s| s.returned < s.amount && s.amount - s.returned < s.discount), "nets below zero");
    assert!(w.sales.iter().any(|s| s.location.is_none()) && w.sales.iter().any(|s| s.location == Some(1)));
    assert!(w.members.iter().any(|m| m.erased.is_some_and(|e| e == midnight(local_day(e)))), "erased at midnight");
    assert!(w.members.iter().any(|m| m.created < midnight(day("2025-06-01"))), "members from before the range");
    // Sales whose UTC date is not their local day, and sales in the hours the clocks change.
    assert!(w.sales.iter().any(|s| s.at.date() != local_day(s.at)));
    for dst in DST_DAYS.iter().skip(2) {
        assert!(w.sales.iter().any(|s| s.at == day(dst).and_hms_opt(1, 30, 0).unwrap()), "a sale on {dst}");
    }
}

#[tokio::test]
async fn kpis_match_an_independent_computation_over_2000_members_and_18_months() {
    let started = std::time::Instant::now();
    let app = spawn_app().await;
    let world = generate(2_000, 0x5EED_2026_1208);
    assert_covers(&world);
    let shops = seed(&app, &world).await;
    eprintln!(
        "seeded {} members, {} sales, {} moves, {} vouchers, {} referrals, {} promo uses, {} till days in {:?}",
        world.members.len(),
        world.sales.len(),
        world.moves.len(),
        world.vouchers.len(),
        world.referrals.len(),
        world.promos.len(),
        world.totals.len(),
        started.elapsed()
    );

    // 18 months (the range is widened to whole months), before any point value is set: the
    // point's value is unknown, and so are the liability and the value of referral points.
    let months = Ask::months("2025-06-17", "2026-11-03");
    let unvalued = check(&app, &world, &shops, &months).await;
    assert_eq!(unvalued["periods"].as_array().unwrap().len(), 18);
    assert_eq!((&unvalued["from"], &unvalued["to"]), (&json!("2025-06-01"), &json!("2026-11-30")));
    assert!(unvalued["periods"].as_array().unwrap().iter().all(|p| p["liability_cents"].is_null()));
    assert_eq!(unvalued["roi"]["referral_points_value_cents"], Value::Null);

    // The set means something: the figures the test compares are not all zeros or nulls.
    let periods = unvalued["periods"].as_array().unwrap();
    let some = |key: &str| periods.iter().filter(|p| p[key].as_f64().is_some_and(|v| v > 0.0)).count();
    for key in [
        "new_members",
        "active_members",
        "retention_rate",
        "repurchase_rate",
        "recommendation_rate",
        "referral_conversion_rate",
        "points_redeemed",
        "points_expired",
        "breakage_rate",
        "vouchers_issued_value_cents",
        "vouchers_used_value_cents",
        "vouchers_expired_value_cents",
        "promo_discount_cents",
    ] {
        assert!(some(key) >= 12, "{key} is above zero in most months: {}", some(key));
    }
    let reported = periods.iter().filter(|p| !p["sales_transactions"].is_null()).count();
    assert!((4..18).contains(&reported), "some months with till totals, some without: {reported}");
    assert!(
        periods.iter().any(|p| p["sales_transactions"] == 0 && p["enrolment_rate"].is_null()),
        "a month whose only till report has no sale"
    );
    assert!(unvalued["roi"]["cohort_members"].as_i64().unwrap() > 500, "{}", unvalued["roi"]);

    // With a point value set by the owner, every figure again: months, the weeks around the
    // autumn and the spring clock changes, each shop alone.
    set_point_value(&app, json!(7)).await;
    let valued = Ask { point_value: Some(7), ..months };
    let all = check(&app, &world, &shops, &valued).await;
    assert!(all["totals"]["liability_cents"].as_i64().unwrap() > 0);
    assert_eq!(all["point_value"], json!({"cents": 7, "per_points": 1, "source": "setting"}));
    let weeks = Ask { point_value: Some(7), ..Ask::weeks("2026-09-30", "2026-12-02") };
    let answer = check(&app, &world, &shops, &weeks).await;
    assert_eq!(answer["periods"].as_array().unwrap().len(), 10);
    assert_eq!((&answer["from"], &answer["to"]), (&json!("2026-09-28"), &json!("2026-12-06")));
    let spring =
        check(&app, &world, &shops, &Ask { point_value: Some(7), ..Ask::weeks("2026-03-09", "2026-04-12") }).await;
    assert_eq!(spring["periods"].as_array().unwrap().len(), 5);
    let first_shop = check(&app, &world, &shops, &Ask { location: Some(0), ..valued }).await;
    let purchases = |a: &Value| a["totals"]["purchases"].as_i64().unwrap();
    assert!(0 < purchases(&first_shop) && purchases(&first_shop) < purchases(&all));
    assert_eq!(first_shop["totals"]["points_issued"], all["totals"]["points_issued"], "points stay the programme's");
    check(&app, &world, &shops, &Ask { location: Some(1), ..weeks }).await;

    // The setting cleared: unknown again.
    set_point_value(&app, Value::Null).await;
    check(&app, &world, &shops, &Ask::months("2026-01-01", "2026-03-31")).await;
    eprintln!("checked in {:?}", started.elapsed());
}

async fn csv(app: &TestApp, query: &str) -> (StatusCode, String, String) {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/insights/kpis.csv?{query}")))
        .bearer_auth(&app.staff.manager)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let disposition =
        response.headers().get("content-disposition").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    if status == StatusCode::OK {
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    }
    (status, disposition, response.text().await.unwrap())
}

#[tokio::test]
async fn the_points_csv_has_one_row_per_period_as_the_json_answer() {
    let app = spawn_app().await;
    let world = generate(150, 0xC5F_0001);
    let shops = seed(&app, &world).await;
    set_point_value(&app, json!(3)).await;
    let ask = Ask { point_value: Some(3), ..Ask::months("2025-06-01", "2026-11-30") };
    let answer = check(&app, &world, &shops, &ask).await;

    let query = ask.query(&shops);
    let (status, disposition, body) = csv(&app, &format!("{query}&table=points")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(disposition.contains("kpis-points.csv"), "{disposition}");
    let columns = [
        "start",
        "end",
        "points_issued",
        "points_redeemed",
        "points_expired",
        "redemption_rate",
        "points_held",
        "liability_cents",
        "breakage_rate",
    ];
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], columns.join(","));
    let periods = answer["periods"].as_array().unwrap();
    assert_eq!(lines.len(), 1 + periods.len(), "{body}");
    for (line, period) in lines[1..].iter().zip(periods) {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match &period[*c] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        assert_eq!(*line, cells.join(","), "{period}");
    }
    assert!(periods.iter().any(|p| p["redemption_rate"].is_f64() && p["liability_cents"].as_i64() > Some(0)));

    // The other tables, and all the columns without one.
    let (_, disposition, members) = csv(&app, &format!("{query}&table=members")).await;
    assert!(disposition.contains("kpis-members.csv"), "{disposition}");
    assert!(members.starts_with("start,end,members_total,new_members,active_members,purchases,"), "{members}");
    let (_, _, vouchers) = csv(&app, &format!("{query}&table=vouchers")).await;
    assert!(vouchers.starts_with("start,end,vouchers_issued,vouchers_issued_value_cents,"), "{vouchers}");
    assert!(vouchers.lines().next().unwrap().ends_with(",promo_discount_cents"), "{vouchers}");
    let (_, disposition, all) = csv(&app, &query).await;
    assert!(disposition.contains("kpis-all.csv"), "{disposition}");
    assert_eq!(all.lines().next().unwrap().split(',').count(), 2 + 16 + 7 + 7, "{all}");
    assert_eq!(all.lines().count(), 1 + periods.len());
}

/// An error answer: the status, and the `{"error": {"code", "message"}}` body.
fn assert_error(label: &str, (status, body): &(StatusCode, Value), want_status: StatusCode, want_code: &str) {
    assert_eq!((*status, code(body)), (want_status, want_code), "{label}: {body}");
    let object = body.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["error"], "{label}: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{label}: {body}");
}

#[tokio::test]
async fn kpi_requests_that_cannot_be_answered_are_refused() {
    let app = spawn_app().await;
    let kpis = "/api/v1/insights/kpis";
    let manager = app.staff.manager.clone();

    // Ranges: reversed, too many periods (5 years of weeks); 160 weeks are the most.
    let answer = app.get(&format!("{kpis}?from=2026-03-01&to=2026-02-01"), &manager).await;
    assert_error("to before from", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_range");
    let answer = app.get(&format!("{kpis}?from=2021-01-01&to=2025-12-31&granularity=week"), &manager).await;
    assert_error("5 years of weeks", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_range");
    let last = day("2024-01-01") + Duration::weeks(160) - Duration::days(1);
    let (status, answer) = app.get(&format!("{kpis}?from=2024-01-01&to={last}&granularity=week"), &manager).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["periods"].as_array().unwrap().len(), 160);
    let answer =
        app.get(&format!("{kpis}?from=2024-01-01&to={}&granularity=week", last + Duration::days(1)), &manager).await;
    assert_error("161 weeks", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_range");
    // Without a range: the last 12 months, this one included; an empty programme counts zeros.
    let (status, answer) = app.get(kpis, &manager).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!((answer["periods"].as_array().unwrap().len(), &answer["granularity"]), (12, &json!("month")));
    assert_eq!((&answer["totals"]["members_total"], &answer["sales_totals_reported"]), (&json!(0), &json!(false)));

    // Shops: unknown, or another programme's (whose own manager may ask about it).
    let answer = app.get(&format!("{kpis}?location=no-such-shop"), &manager).await;
    assert_error("an unknown shop", &answer, StatusCode::NOT_FOUND, "location_not_found");
    let other = app.new_program("other").await;
    let answer = app.get(&format!("{kpis}?location={}", other.location_id), &manager).await;
    assert_error("another programme's shop", &answer, StatusCode::NOT_FOUND, "location_not_found");
    let (status, answer) = app.get(&format!("{kpis}?location={}", other.location_id), &other.manager).await;
    assert_eq!((status, &answer["location_id"]), (StatusCode::OK, &json!(other.location_id)), "{answer}");
    let answer = app.get(&format!("{kpis}?location={}", app.staff.location_id), &other.manager).await;
    assert_error("a shop of the first programme", &answer, StatusCode::NOT_FOUND, "location_not_found");

    // Query strings that do not parse.
    for (label, query) in [
        ("an unknown parameter", "?from=2026-01-01&colour=blue"),
        ("an impossible date", "?from=2026-02-30"),
        ("an unknown granularity", "?granularity=day"),
        ("an unknown table", ".csv?table=customers"),
    ] {
        let answer = app.get(&format!("{kpis}{query}"), &manager).await;
        assert_error(label, &answer, StatusCode::BAD_REQUEST, "invalid_request");
    }

    // Who may ask: managers and owners; not a cashier, nor anyone without a token.
    let (status, _) = app.get(kpis, &app.staff.owner).await;
    assert_eq!(status, StatusCode::OK);
    for path in [kpis.to_owned(), format!("{kpis}.csv?table=points")] {
        let answer = app.get(&path, &app.staff.cashier).await;
        assert_error("a cashier", &answer, StatusCode::FORBIDDEN, "forbidden");
        let (status, _) = app.send(Method::GET, &path, None, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }

    // A point value below zero or beyond reason; nothing is changed.
    for cents in [json!(-1), json!(100_001)] {
        let body = json!({"point_value_cents": cents});
        let answer = app.send(Method::PUT, "/api/v1/program", Some(&app.staff.owner), None, Some(&body)).await;
        assert_error("a point value", &answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_point_value");
        assert_eq!(answer.1["error"]["field"], "point_value_cents");
    }
    let (_, program) = app.get("/api/v1/program", &app.staff.owner).await;
    assert_eq!(program["point_value_cents"], Value::Null, "{program}");
}

#[tokio::test]
async fn rates_baskets_and_point_values_round_halves_up() {
    // A month of 32 new members, one referred; two purchases of 1.00 and 1.01; a till's day of 6
    // sales for 6.03; points: 64 issued, 2 redeemed, 1 expired, 61 held. Computed by hand.
    let app = spawn_app().await;
    let p = app.staff.program_id.clone();
    let shop = app.staff.location_id.clone();
    let at = |minutes: i64| sql_time(day("2026-03-02").and_hms_opt(9, 0, 0).unwrap() + Duration::minutes(minutes));
    let customers: Vec<String> = (0..32)
        .map(|i| format!("('hc{i}', '{p}', 'h{i}@kpi.test', 'Membre', NULL, 'fr', {}, NULL, NULL, NULL, NULL)", at(i)))
        .collect();
    insert(
        &app,
        "customers (id, program_id, email, first_name, phone, locale, created_at, email_key, phone_key, \
         device_key, erased_at)",
        &customers,
    )
    .await;
    let cards: Vec<String> = (0..32)
        .map(|i| {
            format!(
                "('hd{i}', '{p}', 'hc{i}', 'H{i:08}', 'H-BC-{i}', 'h-serial-{i}', 'auth-{i}', 'active', 0, 1, \
                 {t}, {t}, NULL, 0, {t}, 'h-link-{i}', 0)",
                t = at(i)
            )
        })
        .collect();
    insert(
        &app,
        "cards (id, program_id, customer_id, number, barcode, serial, auth_token, status, balance, pass_version, \
         created_at, updated_at, referral_code, pass_seq, pass_updated_at, link_token, apple_devices)",
        &cards,
    )
    .await;
    app.exec(&format!(
        "INSERT INTO purchases (id, program_id, card_id, location_id, staff_id, amount_cents, currency, external_ref, \
         points_earned, returned_cents, created_at, discount_cents, bonus_points, occurred_at) VALUES \
         ('hp0', '{p}', 'hd1', '{shop}', NULL, 100, 'EUR', NULL, 31, 0, {t}, 0, 0, {t}), \
         ('hp1', '{p}', 'hd2', '{shop}', NULL, 101, 'EUR', NULL, 32, 0, {t}, 0, 0, {t})",
        t = at(100)
    ))
    .await;
    let moves = [
        ("hd1", 31, "earn"),
        ("hd2", 32, "earn"),
        ("hd0", 1, "referral"),
        ("hd1", -2, "redeem"),
        ("hd2", -1, "expire"),
    ];
    let moves: Vec<String> = moves
        .iter()
        .map(|(card, delta, kind)| format!("('{p}', '{card}', {delta}, '{kind}', NULL, NULL, NULL, 0, {})", at(200)))
        .collect();
    insert(
        &app,
        "ledger_entries (program_id, card_id, delta, kind, purchase_id, staff_id, reason, balance_after, created_at)",
        &moves,
    )
    .await;
    app.exec(&format!(
        "INSERT INTO referrals (id, program_id, referrer_card_id, referee_card_id, status, reason, purchase_id, \
         expires_at, created_at, decided_at) VALUES ('hr0', '{p}', 'hd0', 'hd5', 'rewarded', NULL, NULL, {}, {}, {})",
        at(60 * 24 * 30),
        at(5),
        at(200)
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO sales_totals (location_id, day, program_id, transactions, revenue_cents, staff_id, updated_at) \
         VALUES ('{shop}', '2026-03-02', '{p}', 6, 603, NULL, {})",
        at(600)
    ))
    .await;
    // A conversion rule values a point at 500 cents per 200 points: 2.5 cents.
    app.exec(&format!(
        "INSERT INTO conversion_settings (program_id, mode, threshold_points, block_points, value_cents_per_block, \
         validity_days, updated_at) VALUES ('{p}', 'threshold', 400, 200, 500, 90, {})",
        at(0)
    ))
    .await;

    let path = "/api/v1/insights/kpis?from=2026-03-01&to=2026-03-31";
    let (status, answer) = app.get(path, &app.staff.manager).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["point_value"], json!({"cents": 500, "per_points": 200, "source": "conversion_rule"}));
    let want = json!({
        "members_total": 32, "new_members": 32, "new_members_referred": 1,
        "recommendation_rate": 0.0313, // 1/32 = 0.03125
        "referrals_started": 1, "referrals_converted": 1, "referral_conversion_rate": 1.0,
        "purchases": 2, "member_revenue_cents": 201, "active_members": 2,
        "sales_transactions": 6, "sales_revenue_cents": 603, "card_transactions_reported": 2,
        "enrolment_rate": 0.3333,
        "points_issued": 64, "points_redeemed": 2, "points_expired": 1, "points_held": 61,
        "redemption_rate": 0.0313, // 2/64 = 0.03125
        "breakage_rate": 0.0156, // 1/64 = 0.015625
        "liability_cents": 153, // 61 × 2.5 = 152.5
    });
    let mut errors = Vec::new();
    for (key, value) in want.as_object().unwrap() {
        for (label, figures) in [("period", &answer["periods"][0]), ("totals", &answer["totals"])] {
            if &figures[key] != value {
                errors.push(format!("{label}.{key}: expected {value}, got {}", figures[key]));
            }
        }
    }
    let roi = json!({
        "member_basket_cents": 101, // 201/2 = 100.5
        "all_sales_basket_cents": 101, // 603/6 = 100.5
        "non_member_basket_cents": 101, // (603 − 201)/(6 − 2) = 100.5
        "referral_points": 1, "referral_points_value_cents": 3, // 2.5
        "cost_cents": 3, "cost_share_of_revenue": 0.0149,
    });
    for (key, value) in roi.as_object().unwrap() {
        if &answer["roi"][key] != value {
            errors.push(format!("roi.{key}: expected {value}, got {}", answer["roi"][key]));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    // The programme's own setting comes before the conversion rule.
    set_point_value(&app, json!(3)).await;
    let (_, answer) = app.get(path, &app.staff.manager).await;
    assert_eq!(answer["point_value"], json!({"cents": 3, "per_points": 1, "source": "setting"}));
    assert_eq!((&answer["periods"][0]["liability_cents"], &answer["roi"]["cost_cents"]), (&json!(183), &json!(3)));
}
