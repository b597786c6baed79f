//! A shop's daily totals from its till (every sale, card or not: the Z report). The enrolment
//! rate and the basket of all sales are computed from them; without them the insights say so
//! rather than guess. A second report of a day replaces the first, in the audit log.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::audit::{self, What};
use crate::db::repo::sales_totals::SalesTotal;
use crate::db::{Db, DbConn, repo};
use crate::domain::role::Role;
use crate::dto::time;
use crate::error::{AppError, AppResult};

/// How far back a till may report (a merchant loading last year's history is welcome).
const OLDEST_DAYS: i64 = 3 * 366;
/// Far above any shop's day; a bigger figure is a typo or a unit error (cents sent as units...).
const MAX_TRANSACTIONS: i64 = 1_000_000;
const MAX_REVENUE_CENTS: i64 = 100_000_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotalsInput {
    /// The shop's local day (`YYYY-MM-DD`, in the programme's time zone).
    pub date: NaiveDate,
    pub transactions: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Serialize)]
pub struct TotalsDto {
    pub location_id: String,
    pub date: NaiveDate,
    pub transactions: i64,
    pub revenue_cents: i64,
    pub currency: String,
    /// The same day's sales recorded with a card at this shop, for comparison.
    pub card_transactions: i64,
    pub card_revenue_cents: i64,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct PutOutcome {
    #[serde(flatten)]
    pub totals: TotalsDto,
    /// An earlier report of the day was replaced.
    pub replaced: bool,
    /// The till counted fewer sales than were made with a card: its report is probably partial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
}

fn audited(t: &SalesTotal) -> serde_json::Value {
    serde_json::json!({"date": t.day, "transactions": t.transactions, "revenue_cents": t.revenue_cents})
}

/// A cashier attached to a shop reports (and reads) that shop's totals only.
fn may_use(actor: &Actor, location_id: &str) -> AppResult<()> {
    match (&actor.location_id, actor.role) {
        (Some(own), Role::Cashier) if own != location_id => {
            Err(AppError::forbidden("a cashier reports and reads the totals of their own shop"))
        }
        _ => Ok(()),
    }
}

fn check(input: &TotalsInput, today: NaiveDate) -> AppResult<()> {
    if input.date > today {
        return Err(AppError::unprocessable_field("date_out_of_range", "date", "the day has not ended yet"));
    }
    if input.date < today - chrono::Duration::days(OLDEST_DAYS) {
        return Err(AppError::unprocessable_field("date_out_of_range", "date", "at most 3 years back"));
    }
    if !(0..=MAX_TRANSACTIONS).contains(&input.transactions) {
        return Err(AppError::invalid_field("transactions", format!("from 0 to {MAX_TRANSACTIONS}")));
    }
    if !(0..=MAX_REVENUE_CENTS).contains(&input.revenue_cents) {
        return Err(AppError::invalid_field("revenue_cents", format!("from 0 to {MAX_REVENUE_CENTS}")));
    }
    Ok(())
}

/// Stores the day's totals of the shop, replacing an earlier report of that day.
pub async fn put(db: &Db, actor: &Actor, location_id: String, input: TotalsInput) -> AppResult<PutOutcome> {
    actor.require(Role::Cashier)?;
    may_use(actor, &location_id)?;
    let actor = actor.clone();
    db.write(move |c| {
        let program = repo::programs::find(c, &actor.program_id)?;
        let location =
            repo::programs::find_location(c, &program.id, &location_id)?.ok_or_else(super::locations::not_found)?;
        let now = repo::now();
        check(&input, program.local_day(now))?;
        if location.archived_at.is_some_and(|at| program.local_day(at) <= input.date) {
            return Err(AppError::unprocessable(
                "location_archived",
                "this location was archived on or before that day: nothing happened there",
            ));
        }
        let before = repo::sales_totals::find(c, &location_id, input.date)?;
        let row = SalesTotal {
            location_id: location_id.clone(),
            day: input.date,
            program_id: program.id.clone(),
            transactions: input.transactions,
            revenue_cents: input.revenue_cents,
            staff_id: Some(actor.staff_id.clone()),
            updated_at: before.as_ref().filter(|b| same_figures(b, &input)).map_or(now, |b| b.updated_at),
        };
        repo::sales_totals::put(c, &row)?;
        let target = format!("{location_id}/{}", input.date);
        let what = What::new("sales_totals.put", "sales_totals", &target);
        let was = before.as_ref().map_or_else(|| serde_json::json!({}), audited);
        audit::record(c, &actor, what, &was, &audited(&row))?;
        let totals = dto(c, &program, row)?;
        let warning = (totals.transactions < totals.card_transactions)
            .then_some("the till reported fewer sales than were made with a card that day");
        Ok(PutOutcome { totals, replaced: before.is_some(), warning })
    })
    .await
}

fn same_figures(row: &SalesTotal, input: &TotalsInput) -> bool {
    row.transactions == input.transactions && row.revenue_cents == input.revenue_cents
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// The shop's reports of `from..=to` (default: the last 31 days), oldest first.
pub async fn list(db: &Db, actor: &Actor, location_id: String, q: RangeQuery) -> AppResult<Vec<TotalsDto>> {
    actor.require(Role::Cashier)?;
    may_use(actor, &location_id)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let program = repo::programs::find(c, &program_id)?;
        repo::programs::find_location(c, &program.id, &location_id)?.ok_or_else(super::locations::not_found)?;
        let to = q.to.unwrap_or_else(|| program.local_day(repo::now()));
        let from = q.from.unwrap_or(to - chrono::Duration::days(30));
        if from > to || (to - from).num_days() > OLDEST_DAYS {
            return Err(AppError::invalid_field("from", "from must not be after to, and at most 3 years before it"));
        }
        repo::sales_totals::range(c, &program.id, Some(&location_id), from, to)?
            .into_iter()
            .map(|row| dto(c, &program, row))
            .collect()
    })
    .await
}

fn dto(c: &mut DbConn, program: &repo::programs::Program, row: SalesTotal) -> AppResult<TotalsDto> {
    let (from, to) = (program.day_start(row.day), program.day_start(row.day + chrono::Duration::days(1)));
    let (card_transactions, card_revenue_cents) =
        repo::dashboard::purchases(c, &program.id, Some(&row.location_id), from, to)?;
    Ok(TotalsDto {
        location_id: row.location_id,
        date: row.day,
        transactions: row.transactions,
        revenue_cents: row.revenue_cents,
        currency: program.currency.clone(),
        card_transactions,
        card_revenue_cents,
        updated_at: time(row.updated_at),
    })
}
