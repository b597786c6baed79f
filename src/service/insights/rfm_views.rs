//! The RFM results as the API and the console's Segments page show them: the run's figures, the
//! R×FM grid with members and revenue per cell, the named segments and their members. Every read
//! is of stored results (the run computes, the pages only read).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::rfm::{self as scoring, check_window};
use crate::db::repo::rfm::{Run, Score};
use crate::db::{Db, repo};
use crate::domain::rfm::Segment;
use crate::domain::role::Role;
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::service::Actor;

/// How the scores are made, for the API's answer and the page.
pub const RULE: &str = "Over the window, R is the number of days since the member's last purchase, F the \
     number of purchases and M the net spend (after discounts and returns; a sale wholly returned does not \
     count). Each is scored 1 to 5 among the members scored together: score = 1 + floor(5 × below ÷ n), where \
     below is the number of members with a strictly worse value (more days, fewer purchases, less spend), so \
     members with equal values always share a score and a score may be empty when many tie. FM is the mean \
     of F and M, halves rounded up; the segment is named from R and FM. Only members who consented to \
     profiling are scored; the others are counted in the totals and appear in no segment.";

pub const MAX_PAGE: i64 = 200;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    #[serde(default)]
    pub window_months: Option<i32>,
}

#[derive(Debug, Serialize)]
pub struct CellDto {
    pub r: i32,
    pub fm: i32,
    pub segment: Segment,
    pub members: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Serialize)]
pub struct SegmentDto {
    pub segment: Segment,
    pub members: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Serialize)]
pub struct RfmDto {
    /// `none` (never scored), `queued` (a run is asked for: the figures are the last run's), `done`.
    pub state: &'static str,
    pub window_months: i32,
    pub computed_on: Option<NaiveDate>,
    pub computed_at: Option<String>,
    pub requested_at: Option<String>,
    pub currency: String,
    /// Members of the programme (not erased).
    pub members_total: i64,
    /// Members with at least one purchase in the window.
    pub members_buying: i64,
    /// Of those, the members scored (they consented to profiling).
    pub members_scored: i64,
    pub members_without_consent: i64,
    /// Net spend in the window of every member who bought (scored or not).
    pub revenue_cents: i64,
    /// The 25 cells of the R×FM grid, R from 5 down, FM from 1 up (empty cells included).
    pub grid: Vec<CellDto>,
    /// The named segments, each with its members and revenue (empty ones included).
    pub segments: Vec<SegmentDto>,
    pub rule: &'static str,
}

fn view(run: Option<&Run>, cells: &[repo::rfm::Cell], currency: String) -> RfmDto {
    let mut grid = Vec::with_capacity(25);
    for r in (1..=5).rev() {
        for fm in 1..=5 {
            let found = cells.iter().find(|c| c.r == r && c.fm == fm);
            grid.push(CellDto {
                r,
                fm,
                segment: Segment::of(u8::try_from(r).unwrap_or(1), u8::try_from(fm).unwrap_or(1)),
                members: found.map_or(0, |c| c.members),
                revenue_cents: found.map_or(0, |c| c.revenue_cents),
            });
        }
    }
    let segments = Segment::ALL
        .iter()
        .map(|&segment| {
            let of = grid.iter().filter(|c| c.segment == segment);
            SegmentDto {
                segment,
                members: of.clone().map(|c| c.members).sum(),
                revenue_cents: of.map(|c| c.revenue_cents).sum(),
            }
        })
        .collect();
    RfmDto {
        state: run.map_or("none", |r| r.state.as_str()),
        window_months: run.map_or(scoring::DEFAULT_WINDOW_MONTHS, |r| r.window_months),
        computed_on: run.and_then(|r| r.computed_on),
        computed_at: run.and_then(|r| r.finished_at).map(time),
        requested_at: run.map(|r| time(r.requested_at)),
        currency,
        members_total: run.map_or(0, |r| r.members_total),
        members_buying: run.map_or(0, |r| r.members_buying),
        members_scored: run.map_or(0, |r| r.members_scored),
        members_without_consent: run.map_or(0, |r| r.members_buying - r.members_scored),
        revenue_cents: run.map_or(0, |r| r.revenue_cents),
        grid,
        segments,
        rule: RULE,
    }
}

/// `GET /insights/rfm`: the last run's results.
pub async fn get(db: &Db, actor: &Actor) -> AppResult<RfmDto> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let program = repo::programs::find(c, &program_id)?;
        let run = repo::rfm::run(c, &program_id)?;
        let cells = repo::rfm::grid(c, &program_id)?;
        Ok(view(run.as_ref(), &cells, program.currency))
    })
    .await
}

/// `POST /insights/rfm/run`: asks for a run now (the figures of the last stay until it is done).
pub async fn request(db: &Db, actor: &Actor, input: RunInput) -> AppResult<RfmDto> {
    actor.require(Role::Manager)?;
    let window = input.window_months.map(check_window).transpose()?;
    let program_id = actor.program_id.clone();
    db.write(move |c| {
        let program = repo::programs::find(c, &program_id)?;
        let run = scoring::request(c, &program_id, window, repo::now())?;
        let cells = repo::rfm::grid(c, &program_id)?;
        Ok(view(Some(&run), &cells, program.currency))
    })
    .await
}

/// A member's scores, on their page and in the segment lists.
#[derive(Debug, Serialize)]
pub struct ScoreDto {
    pub r: i32,
    pub f: i32,
    pub m: i32,
    pub fm: i32,
    pub segment: Segment,
    pub days_since_last: i64,
    pub purchases: i64,
    pub net_spend_cents: i64,
    pub computed_on: NaiveDate,
}

impl From<&Score> for ScoreDto {
    fn from(s: &Score) -> Self {
        ScoreDto {
            r: s.r,
            f: s.f,
            m: s.m,
            fm: s.fm,
            segment: s.segment,
            days_since_last: s.days_since_last,
            purchases: s.purchases,
            net_spend_cents: s.net_spend_cents,
            computed_on: s.computed_on,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    #[serde(default)]
    pub segment: Option<Segment>,
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct ScoredMember {
    pub customer_id: String,
    pub card_id: String,
    pub card_number: String,
    pub first_name: String,
    pub email: String,
    #[serde(flatten)]
    pub score: ScoreDto,
}

#[derive(Debug, Serialize)]
pub struct MembersPage {
    pub segment: Option<Segment>,
    /// Members in the segment (or scored, with no segment asked).
    pub total: i64,
    pub members: Vec<ScoredMember>,
    /// Pass as `offset` for the next page; null on the last one.
    pub next_offset: Option<i64>,
}

/// A segment's members (all scored members without one), biggest spenders first.
pub async fn members(db: &Db, actor: &Actor, q: MembersQuery) -> AppResult<MembersPage> {
    actor.require(Role::Manager)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::invalid_field("limit", format!("from 1 to {MAX_PAGE}")));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(AppError::invalid_field("offset", "0 or more"));
    }
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let total = repo::rfm::count_members(c, &program_id, q.segment)?;
        let rows = repo::rfm::members(c, &program_id, q.segment, offset, limit)?;
        let next_offset = (offset + limit < total).then_some(offset + limit);
        Ok(MembersPage { segment: q.segment, total, members: rows.iter().map(scored).collect(), next_offset })
    })
    .await
}

fn scored(m: &repo::rfm::Member) -> ScoredMember {
    ScoredMember {
        customer_id: m.customer_id.clone(),
        card_id: m.score.card_id.clone(),
        card_number: m.card_number.clone(),
        first_name: m.first_name.clone(),
        email: m.email.clone(),
        score: ScoreDto::from(&m.score),
    }
}

/// The segment's members as CSV (every one, in the order of the pages).
pub async fn members_csv(db: &Db, actor: &Actor, segment: Option<Segment>) -> AppResult<String> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    let rows = db.read(move |c| Ok(repo::rfm::members(c, &program_id, segment, 0, i64::MAX)?)).await?;
    let header = [
        "customer_id",
        "card_number",
        "first_name",
        "email",
        "segment",
        "r",
        "f",
        "m",
        "fm",
        "days_since_last",
        "purchases",
        "net_spend_cents",
        "computed_on",
    ];
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            let s = &m.score;
            vec![
                m.customer_id.clone(),
                m.card_number.clone(),
                m.first_name.clone(),
                m.email.clone(),
                s.segment.as_str().to_owned(),
                s.r.to_string(),
                s.f.to_string(),
                s.m.to_string(),
                s.fm.to_string(),
                s.days_since_last.to_string(),
                s.purchases.to_string(),
                s.net_spend_cents.to_string(),
                s.computed_on.to_string(),
            ]
        })
        .collect();
    crate::dto::csv_table(&header, &table)
}
