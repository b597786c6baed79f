//! `GET /insights/kpis`: the programme's KPIs per week or month, over whole local periods, with
//! the ROI panel and each figure's definition. Computed at read time from the ledger, sales and
//! enrolments in one read transaction (`kpi_figures` does the arithmetic).

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize, Serializer};

use super::kpi_figures::{Data, Figures, PointValue, Span, rate};
use crate::db::repo::programs::Program;
use crate::db::{Db, DbConn, repo};
use crate::domain::ledger::EntryKind;
use crate::domain::period::{Granularity, Period, periods};
use crate::domain::role::Role;
use crate::domain::status::text_enum;
use crate::error::{AppError, AppResult};
use crate::service::Actor;

/// Three years of weeks.
pub const MAX_PERIODS: usize = 160;
const DEFAULT_PERIODS: u32 = 12;

text_enum! {
    /// The tables of the KPI page, each downloadable as CSV.
    KpiTable, "a KPI table" {
        Members = "members",
        Points = "points",
        Vouchers = "vouchers",
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiQuery {
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
    #[serde(default)]
    pub granularity: Option<Granularity>,
    #[serde(default)]
    pub location: Option<String>,
    /// For the CSV: one table's columns (all of them when left out).
    #[serde(default)]
    pub table: Option<KpiTable>,
}

#[derive(Debug, Serialize)]
pub struct Roi {
    pub member_revenue_cents: i64,
    pub member_purchases: i64,
    pub member_basket_cents: Option<i64>,
    pub sales_transactions: Option<i64>,
    pub sales_revenue_cents: Option<i64>,
    pub all_sales_basket_cents: Option<i64>,
    pub non_member_basket_cents: Option<i64>,
    pub cohort_members: i64,
    pub purchases_first_90_days: i64,
    pub purchases_next_90_days: i64,
    pub per_member_first_90_days: Option<f64>,
    pub per_member_next_90_days: Option<f64>,
    pub promo_discount_cents: i64,
    pub voucher_discount_cents: i64,
    pub referral_points: i64,
    pub referral_points_value_cents: Option<i64>,
    pub cost_cents: i64,
    pub cost_share_of_revenue: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct KpisDto {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    pub location_id: Option<String>,
    pub currency: String,
    pub time_zone: String,
    /// How a point is valued for the liability and the programme's cost; null: unknown (set
    /// `point_value_cents` in `PUT /program`, or a conversion rule).
    pub point_value: Option<PointValue>,
    /// Whether any till reported its daily totals over the range (the enrolment rate and the
    /// basket of all sales need them).
    pub sales_totals_reported: bool,
    pub periods: Vec<Figures>,
    /// The whole range as one span (the retention compares periods, so it is null here).
    pub totals: Figures,
    pub roi: Roi,
    pub definitions: Definitions,
}

/// Each figure's definition, as the API description and the console page show it.
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "periods",
        "Whole calendar weeks (Monday to Sunday) or months in the programme's time zone; from and to are widened to them, and both are included.",
    ),
    (
        "location",
        "With a shop, the sales figures (purchases, revenue, active members, retention, repurchase, enrolment rate, baskets) count that shop's sales only; members, points, vouchers and promos stay the programme's.",
    ),
    ("members_total", "Members enrolled by the end of the period and not erased by then."),
    ("new_members", "Members who enrolled in the period (erased since or not)."),
    (
        "active_members",
        "Members with at least one purchase in the period. A purchase is a sale with a card that was not wholly returned.",
    ),
    ("purchases", "Purchases in the period."),
    ("member_revenue_cents", "What members' purchases left: amount less returns and discounts."),
    (
        "sales_transactions",
        "All sales the tills reported for the period's days (POST /locations/{id}/sales-totals), with a card or not; null when no till reported.",
    ),
    (
        "enrolment_rate",
        "Card purchases ÷ all sales, counted only at the shops and on the days a till reported totals for.",
    ),
    (
        "retention_rate",
        "Members active in the previous period and in this one ÷ members active in the previous period.",
    ),
    (
        "repurchase_rate",
        "Members with at least 2 purchases in the 12 months up to the period's end ÷ members with at least 1.",
    ),
    ("recommendation_rate", "New members who came with a referral (not rejected) ÷ new members."),
    (
        "referral_conversion_rate",
        "Referrals started in the period (not rejected) whose referee made the qualifying purchase ÷ referrals started; recent ones may still convert.",
    ),
    (
        "points_issued",
        "Points given in the period: for purchases, promo codes, referrals and manual credits. Points taken back on returns are not subtracted here.",
    ),
    (
        "points_redeemed",
        "Points spent in the period: at the till, on rewards, and turned into vouchers by the conversion.",
    ),
    ("points_expired", "Points that reached the end of their validity in the period."),
    ("redemption_rate", "Points redeemed ÷ points issued, in the period."),
    ("points_held", "Points members held at the period's end: every move of the ledger until then (debts netted)."),
    ("liability_cents", "Points held × the value of a point (point_value)."),
    ("breakage_rate", "Points expired ÷ points issued, over the 12 months up to the period's end."),
    (
        "vouchers",
        "Vouchers issued (not cancelled) with their face value when an amount off, used with the discount they gave, and expired with their face value, in the period.",
    ),
    ("promo_discount_cents", "Discounts given by promo codes in the period (not rolled back)."),
    (
        "roi",
        "Over the whole range: members' revenue and average basket, the average basket of all sales the tills reported and of the sales without a card on the same days, purchases per member in their first 90 days against the 90 days after (members who enrolled in the range at least 180 days before its end), and the programme's cost (promo discounts, voucher discounts, referral points at the value of a point) as a share of members' revenue. These figures describe what happened; they do not show that the programme caused it.",
    ),
];

#[derive(Debug, Clone, Copy)]
pub struct Definitions;

impl Serialize for Definitions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(DEFINITIONS.iter().copied())
    }
}

/// The point's value: the programme's setting first, else its conversion rule.
fn point_value(c: &mut DbConn, program: &Program) -> AppResult<Option<PointValue>> {
    if let Some(cents) = program.point_value_cents {
        return Ok(Some(PointValue { cents, per_points: 1, source: "setting" }));
    }
    Ok(repo::kpis::conversion_value(c, &program.id)?.map(|(cents, per_points)| PointValue {
        cents,
        per_points,
        source: "conversion_rule",
    }))
}

fn divide(num: i64, den: i64) -> Option<i64> {
    (den > 0).then(|| (num * 2 + den) / (2 * den))
}

pub async fn get(db: &Db, actor: &Actor, query: KpiQuery) -> AppResult<KpisDto> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| compute(c, &program_id, query)).await
}

fn compute(c: &mut DbConn, program_id: &str, q: KpiQuery) -> AppResult<KpisDto> {
    let program = repo::programs::find(c, program_id)?;
    if let Some(location) = &q.location
        && repo::programs::find_location(c, program_id, location)?.is_none()
    {
        return Err(crate::service::locations::not_found());
    }
    let by = q.granularity.unwrap_or(Granularity::Month);
    let to = q.to.unwrap_or_else(|| program.local_day(repo::now()));
    let from = q.from.unwrap_or_else(|| {
        let mut start = by.start_of(to);
        for _ in 1..DEFAULT_PERIODS {
            start = Period { start, end: start }.previous(by).start;
        }
        start
    });
    let list = periods(from, to, by, MAX_PERIODS).map_err(|e| AppError::unprocessable("invalid_range", e.0))?;
    let (first, last) = match (list.first(), list.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return Err(AppError::unprocessable("invalid_range", "the range holds no period")),
    };
    let at = |day: NaiveDate| program.day_start(day);
    let trailing = |end: NaiveDate| at(end - Months::new(12));
    let origin = trailing(first.end).min(at(first.previous(by).start));
    let (range_from, range_to) = (at(first.start), at(last.end));

    let location = q.location.as_deref();
    let mut sales = repo::kpis::sales(c, program_id, location, origin, range_to)?;
    sales.sort_by_key(|s| s.occurred_at);
    let mut moves = repo::kpis::moves(c, program_id, &EntryKind::ALL, origin, range_to)?;
    moves.sort_by_key(|m| m.created_at);
    let local_day = |t| program.local_day(t);
    let data = Data {
        sales,
        members: repo::kpis::members(c, program_id, range_to)?,
        referrals: repo::kpis::referrals(c, program_id)?,
        moves,
        held_before: repo::kpis::points_held(c, program_id, origin)?,
        vouchers: repo::kpis::vouchers(c, program_id, range_from, range_to)?,
        promo_discounts: repo::kpis::promo_discounts(c, program_id, range_from, range_to)?,
        totals: repo::kpis::sales_totals(c, program_id, location, first.start, last.end)?,
        point_value: point_value(c, &program)?,
        local_day: &local_day,
    };
    let span = |p: Period, previous: Option<Period>| Span {
        first: p.start,
        last: p.last_day(),
        from: at(p.start),
        to: at(p.end),
        previous: previous.map(|b| (at(b.start), at(b.end))),
        trailing_from: trailing(p.end),
    };
    let figures: Vec<Figures> = list.iter().map(|&p| data.figures(span(p, Some(p.previous(by))))).collect();
    let whole = span(Period { start: first.start, end: last.end }, None);
    let totals = data.figures(whole);
    let roi = roi(&data, &totals, whole);
    Ok(KpisDto {
        from: first.start,
        to: last.last_day(),
        granularity: by,
        location_id: q.location,
        currency: program.currency.clone(),
        time_zone: program.time_zone.clone(),
        point_value: data.point_value,
        sales_totals_reported: totals.sales_transactions.is_some(),
        periods: figures,
        totals,
        roi,
        definitions: Definitions,
    })
}

fn roi(data: &Data, totals: &Figures, whole: Span) -> Roi {
    let reported = data.reported(whole);
    let (cohort, first_90, next_90) = data.first_days(whole.from, whole.to);
    let referral_points = data.referral_points(whole.from, whole.to);
    let referral_value = data.point_value.map(|v| v.of(referral_points));
    let cost = totals.promo_discount_cents + totals.vouchers_used_value_cents + referral_value.unwrap_or(0);
    Roi {
        member_revenue_cents: totals.member_revenue_cents,
        member_purchases: totals.purchases,
        member_basket_cents: divide(totals.member_revenue_cents, totals.purchases),
        sales_transactions: reported.map(|r| r.transactions),
        sales_revenue_cents: reported.map(|r| r.revenue_cents),
        all_sales_basket_cents: reported.and_then(|r| divide(r.revenue_cents, r.transactions)),
        non_member_basket_cents: reported.and_then(|r| {
            divide((r.revenue_cents - r.card_revenue_cents).max(0), r.transactions - r.card_transactions)
        }),
        cohort_members: cohort,
        purchases_first_90_days: first_90,
        purchases_next_90_days: next_90,
        per_member_first_90_days: rate(first_90, cohort),
        per_member_next_90_days: rate(next_90, cohort),
        promo_discount_cents: totals.promo_discount_cents,
        voucher_discount_cents: totals.vouchers_used_value_cents,
        referral_points,
        referral_points_value_cents: referral_value,
        cost_cents: cost,
        cost_share_of_revenue: rate(cost, totals.member_revenue_cents),
    }
}

/// The KPIs as CSV: one row per period, the columns of one table (every column without one),
/// named as in the JSON answer.
pub async fn csv(db: &Db, actor: &Actor, query: KpiQuery) -> AppResult<String> {
    let table = query.table;
    let kpis = get(db, actor, query).await?;
    let columns = columns(table);
    let rows: Vec<Vec<String>> = kpis
        .periods
        .iter()
        .map(|p| {
            let value = serde_json::to_value(p).unwrap_or_default();
            columns
                .iter()
                .map(|c| match &value[*c] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect()
        })
        .collect();
    crate::dto::csv_table(&columns, &rows)
}

fn columns(table: Option<KpiTable>) -> Vec<&'static str> {
    const MEMBERS: &[&str] = &[
        "members_total",
        "new_members",
        "active_members",
        "purchases",
        "member_revenue_cents",
        "sales_transactions",
        "sales_revenue_cents",
        "card_transactions_reported",
        "enrolment_rate",
        "retention_rate",
        "repurchase_rate",
        "new_members_referred",
        "recommendation_rate",
        "referrals_started",
        "referrals_converted",
        "referral_conversion_rate",
    ];
    const POINTS: &[&str] = &[
        "points_issued",
        "points_redeemed",
        "points_expired",
        "redemption_rate",
        "points_held",
        "liability_cents",
        "breakage_rate",
    ];
    const VOUCHERS: &[&str] = &[
        "vouchers_issued",
        "vouchers_issued_value_cents",
        "vouchers_used",
        "vouchers_used_value_cents",
        "vouchers_expired",
        "vouchers_expired_value_cents",
        "promo_discount_cents",
    ];
    let mut out = vec!["start", "end"];
    match table {
        Some(KpiTable::Members) => out.extend_from_slice(MEMBERS),
        Some(KpiTable::Points) => out.extend_from_slice(POINTS),
        Some(KpiTable::Vouchers) => out.extend_from_slice(VOUCHERS),
        None => [MEMBERS, POINTS, VOUCHERS].iter().for_each(|t| out.extend_from_slice(t)),
    }
    out
}
