//! Campaigns to a segment, their members' snapshot and what each member was sent.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::now;
use crate::db::DbConn;
use crate::db::schema::{
    apple_registrations, campaign_members, campaigns, google_notifications, google_objects, purchases,
};
use crate::domain::status::{CampaignState, RecipientState};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns, treat_none_as_default_value = false)]
pub struct Campaign {
    pub id: String,
    pub program_id: String,
    pub name: String,
    pub segment_id: String,
    pub segment_name: String,
    pub title: String,
    pub body: String,
    pub title_fr: Option<String>,
    pub body_fr: Option<String>,
    pub channels: String,
    pub offer: Option<String>,
    pub holdout_percent: i32,
    pub state: CampaignState,
    pub send_at: Option<NaiveDateTime>,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub rule: Option<String>,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaign_members, treat_none_as_default_value = false)]
pub struct Recipient {
    pub campaign_id: String,
    pub card_id: String,
    pub customer_id: String,
    pub holdout: bool,
    pub state: RecipientState,
    pub skip_reason: Option<String>,
    pub apple: bool,
    pub google: Option<String>,
    pub email: Option<String>,
    pub promo_code: Option<String>,
    pub voucher_id: Option<String>,
    pub done_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, c: &Campaign) -> QueryResult<usize> {
    diesel::insert_into(campaigns::table).values(c).execute(conn)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Campaign>> {
    campaigns::table
        .filter(campaigns::program_id.eq(program_id))
        .filter(campaigns::id.eq(id))
        .select(Campaign::as_select())
        .first(conn)
        .optional()
}

/// Newest first.
pub fn list(conn: &mut DbConn, program_id: &str) -> QueryResult<Vec<Campaign>> {
    campaigns::table
        .filter(campaigns::program_id.eq(program_id))
        .order((campaigns::created_at.desc(), campaigns::id.desc()))
        .select(Campaign::as_select())
        .load(conn)
}

/// Reads the campaign and holds its row lock until the transaction ends (a no-op UPDATE): the
/// sender's chunks and a cancellation take turns.
pub fn lock(conn: &mut DbConn, id: &str) -> QueryResult<Option<Campaign>> {
    diesel::update(campaigns::table.find(id))
        .set(campaigns::updated_at.eq(campaigns::updated_at))
        .get_result::<Campaign>(conn)
        .optional()
}

pub fn update(conn: &mut DbConn, c: &Campaign) -> QueryResult<usize> {
    diesel::update(campaigns::table.find(&c.id))
        .set((
            campaigns::state.eq(c.state),
            campaigns::send_at.eq(c.send_at),
            campaigns::started_at.eq(c.started_at),
            campaigns::finished_at.eq(c.finished_at),
            campaigns::rule.eq(&c.rule),
            campaigns::updated_at.eq(now()),
        ))
        .execute(conn)
}

pub fn insert_recipients(conn: &mut DbConn, rows: &[Recipient]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in rows.chunks(super::ROWS_PER_INSERT) {
        n += insert_rows!(conn, campaign_members::table, chunk)?;
    }
    Ok(n)
}

/// The next members still to send, in card order.
pub fn pending(conn: &mut DbConn, campaign_id: &str, limit: i64) -> QueryResult<Vec<Recipient>> {
    campaign_members::table
        .filter(campaign_members::campaign_id.eq(campaign_id))
        .filter(campaign_members::state.eq(RecipientState::Pending))
        .order(campaign_members::card_id)
        .limit(limit)
        .select(Recipient::as_select())
        .load(conn)
}

pub fn find_recipient(conn: &mut DbConn, campaign_id: &str, card_id: &str) -> QueryResult<Option<Recipient>> {
    campaign_members::table.find((campaign_id, card_id)).select(Recipient::as_select()).first(conn).optional()
}

pub fn update_recipient(conn: &mut DbConn, r: &Recipient) -> QueryResult<usize> {
    diesel::update(campaign_members::table.find((&r.campaign_id, &r.card_id)))
        .set((
            campaign_members::state.eq(r.state),
            campaign_members::skip_reason.eq(&r.skip_reason),
            campaign_members::apple.eq(r.apple),
            campaign_members::google.eq(&r.google),
            campaign_members::email.eq(&r.email),
            campaign_members::promo_code.eq(&r.promo_code),
            campaign_members::voucher_id.eq(&r.voucher_id),
            campaign_members::done_at.eq(r.done_at),
        ))
        .execute(conn)
}

/// Sets the Google outcome of a member once: false when another run already decided it.
pub fn decide_google(conn: &mut DbConn, campaign_id: &str, card_id: &str, outcome: &str) -> QueryResult<bool> {
    let n = diesel::update(campaign_members::table.find((campaign_id, card_id)))
        .filter(campaign_members::google.eq("queued"))
        .set(campaign_members::google.eq(outcome))
        .execute(conn)?;
    Ok(n == 1)
}

/// Every member of the snapshot, in card order (the report's counts and the results).
pub fn recipients(conn: &mut DbConn, campaign_id: &str) -> QueryResult<Vec<Recipient>> {
    campaign_members::table
        .filter(campaign_members::campaign_id.eq(campaign_id))
        .order(campaign_members::card_id)
        .select(Recipient::as_select())
        .load(conn)
}

/// The message the card's wallet pass shows: the latest campaign that reached it by wallet.
pub fn latest_for_card(conn: &mut DbConn, card_id: &str) -> QueryResult<Option<(Campaign, Recipient)>> {
    campaign_members::table
        .inner_join(campaigns::table.on(campaigns::id.eq(campaign_members::campaign_id)))
        .filter(campaign_members::card_id.eq(card_id))
        .filter(campaign_members::state.eq(RecipientState::Done))
        .filter(campaigns::channels.like("%wallet%"))
        .order((campaign_members::done_at.desc(), campaigns::id.desc()))
        .select((Campaign::as_select(), Recipient::as_select()))
        .first(conn)
        .optional()
}

/// Cards of the programme with at least one Apple device registered.
pub fn apple_cards(conn: &mut DbConn, program_id: &str) -> QueryResult<HashSet<String>> {
    Ok(apple_registrations::table
        .filter(apple_registrations::program_id.eq(program_id))
        .select(apple_registrations::card_id)
        .distinct()
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Cards of the programme with a Google object, and their notifying updates since `since`.
pub fn google_cards(conn: &mut DbConn, program_id: &str, since: NaiveDateTime) -> QueryResult<HashMap<String, i64>> {
    let mut cards: HashMap<String, i64> = google_objects::table
        .filter(google_objects::program_id.eq(program_id))
        .select(google_objects::card_id)
        .load::<String>(conn)?
        .into_iter()
        .map(|id| (id, 0))
        .collect();
    let used: Vec<(String, i64)> = google_notifications::table
        .filter(google_notifications::program_id.eq(program_id))
        .filter(google_notifications::sent_at.gt(since))
        .group_by(google_notifications::card_id)
        .select((google_notifications::card_id, count_star()))
        .load(conn)?;
    for (card, n) in used {
        if let Some(count) = cards.get_mut(&card) {
            *count = n;
        }
    }
    Ok(cards)
}

/// Per card of the campaign's snapshot: purchases and net spend from `from` to `to` (the results).
pub fn bought_by_recipients(
    conn: &mut DbConn,
    campaign_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<HashMap<String, (i64, i64)>> {
    let rows: Vec<(String, i64, i64)> = campaign_members::table
        .inner_join(purchases::table.on(purchases::card_id.eq(campaign_members::card_id)))
        .filter(campaign_members::campaign_id.eq(campaign_id))
        .filter(purchases::occurred_at.ge(from))
        .filter(purchases::occurred_at.lt(to))
        .filter(purchases::returned_cents.lt(purchases::amount_cents))
        .group_by(campaign_members::card_id)
        .select((
            campaign_members::card_id,
            count_star(),
            diesel::dsl::sql::<diesel::sql_types::BigInt>(super::rfm::NET),
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(|(card, n, spend)| (card, (n, spend))).collect())
}
