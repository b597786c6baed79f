use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::now;
use crate::db::DbConn;
use crate::db::schema::cards;
use crate::domain::card::CardRef;
use crate::domain::status::CardStatus;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = cards, treat_none_as_default_value = false)]
pub struct Card {
    pub id: String,
    pub program_id: String,
    pub customer_id: String,
    pub number: String,
    pub barcode: String,
    pub serial: String,
    pub auth_token: String,
    pub status: CardStatus,
    pub balance: i64,
    pub pass_version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub referral_code: Option<String>,
    /// Position in the update sequence of the PassKit list call (see the `apple_wallet` migration).
    pub pass_seq: i64,
    /// The pass's Last-Modified: strictly increasing, whole seconds.
    pub pass_updated_at: NaiveDateTime,
    /// Unguessable token of the customer's own links.
    pub link_token: String,
    /// Devices registered for updates of the pass (capped: see `service::passkit`).
    pub apple_devices: i64,
}

impl Card {
    /// The referral code to hand out: only an active card's link leads to an invitation.
    pub fn live_referral_code(&self) -> Option<&str> {
        self.referral_code.as_deref().filter(|_| self.status == CardStatus::Active)
    }
}

pub fn insert(conn: &mut DbConn, card: &Card) -> QueryResult<()> {
    diesel::insert_into(cards::table).values(card).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Card>> {
    cards::table
        .filter(cards::program_id.eq(program_id))
        .filter(cards::id.eq(id))
        .select(Card::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_ref(conn: &mut DbConn, program_id: &str, card: &CardRef) -> QueryResult<Option<Card>> {
    let query = cards::table.filter(cards::program_id.eq(program_id)).select(Card::as_select());
    match card {
        CardRef::Number(n) => query.filter(cards::number.eq(n.as_str())).first(conn).optional(),
        CardRef::Barcode(b) => query.filter(cards::barcode.eq(b.as_str())).first(conn).optional(),
    }
}

pub fn find_by_referral_code(conn: &mut DbConn, program_id: &str, code: &str) -> QueryResult<Option<Card>> {
    cards::table
        .filter(cards::program_id.eq(program_id))
        .filter(cards::referral_code.eq(code))
        .select(Card::as_select())
        .first(conn)
        .optional()
}

/// Open cards without a referral code (created before codes existed), in id order after `after`.
/// A closed card is left out: erasure took its code away for good.
pub fn without_referral_code(conn: &mut DbConn, after: Option<&str>, limit: i64) -> QueryResult<Vec<Card>> {
    let mut query = cards::table
        .filter(cards::referral_code.is_null())
        .filter(cards::status.ne(CardStatus::Closed))
        .select(Card::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(cards::id.gt(after));
    }
    query.order(cards::id).limit(limit).load(conn)
}

pub fn set_referral_code(conn: &mut DbConn, card_id: &str, code: &str) -> QueryResult<usize> {
    diesel::update(cards::table.filter(cards::id.eq(card_id)).filter(cards::referral_code.is_null()))
        .set(cards::referral_code.eq(code))
        .execute(conn)
}

pub fn find_by_customer(conn: &mut DbConn, program_id: &str, customer_id: &str) -> QueryResult<Card> {
    cards::table
        .filter(cards::program_id.eq(program_id))
        .filter(cards::customer_id.eq(customer_id))
        .select(Card::as_select())
        .first(conn)
}

/// Moves the balance by `delta` in one conditional UPDATE that also bumps `pass_version`. The row
/// lock it takes serialises concurrent writers of one card, and the conditions are checked by the
/// database at write time: None when the card's status is not one of `statuses`, or when the new
/// balance would fall below `floor`.
pub fn move_balance(
    conn: &mut DbConn,
    program_id: &str,
    card_id: &str,
    delta: i64,
    statuses: &[CardStatus],
    floor: Option<i64>,
) -> QueryResult<Option<Card>> {
    Ok(move_balances(conn, program_id, &[card_id], delta, statuses, floor)?.pop())
}

/// [`move_balance`] for many cards moved by the same `delta`, in one UPDATE per
/// [`super::IDS_PER_STATEMENT`] cards: the cards that moved (in no particular order).
pub fn move_balances(
    conn: &mut DbConn,
    program_id: &str,
    card_ids: &[&str],
    delta: i64,
    statuses: &[CardStatus],
    floor: Option<i64>,
) -> QueryResult<Vec<Card>> {
    let min_before = floor.map_or(i64::MIN, |f| f.saturating_sub(delta));
    let mut moved = Vec::with_capacity(card_ids.len());
    for ids in card_ids.chunks(super::IDS_PER_STATEMENT) {
        moved.extend(
            diesel::update(cards::table)
                .filter(cards::program_id.eq(program_id))
                .filter(cards::id.eq_any(ids))
                .filter(cards::status.eq_any(statuses))
                .filter(cards::balance.ge(min_before))
                .set((
                    cards::balance.eq(cards::balance + delta),
                    cards::pass_version.eq(cards::pass_version + 1),
                    cards::updated_at.eq(now()),
                ))
                .get_results::<Card>(conn)?,
        );
    }
    Ok(moved)
}

/// Each card moved by its own delta (cards distinct): [`move_balances`] for a whole batch. One
/// UPDATE per [`super::IDS_PER_STATEMENT`] cards on PostgreSQL, where a statement per distinct
/// delta meant hundreds of round trips a chunk; one per distinct delta on SQLite, where the
/// joined UPDATE is far slower and a statement costs no round trip, and wherever all deltas are
/// one (a sale: one card).
pub fn move_balances_each(
    conn: &mut DbConn,
    program_id: &str,
    moves: &[(&str, i64)],
    statuses: &[CardStatus],
    floor: Option<i64>,
) -> QueryResult<Vec<Card>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamp};
    let one_delta = moves.first().is_some_and(|&(_, first)| moves.iter().all(|&(_, d)| d == first));
    match conn {
        // A sale at the till (one card), or a batch all moved alike: the plain UPDATE.
        DbConn::Pg(c) if !one_delta => {
            let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            let mut moved = Vec::with_capacity(moves.len());
            for batch in moves.chunks(super::IDS_PER_STATEMENT) {
                let (ids, deltas): (Vec<&str>, Vec<i64>) = batch.iter().copied().unzip();
                moved.extend(
                    diesel::sql_query(
                        "UPDATE cards SET balance = cards.balance + m.delta, \
                         pass_version = cards.pass_version + 1, updated_at = $3 \
                         FROM unnest($1::text[], $2::bigint[]) AS m(id, delta) \
                         WHERE cards.id = m.id AND cards.program_id = $4 AND cards.status = ANY($5) \
                         AND ($6::bigint IS NULL OR cards.balance + m.delta >= $6) RETURNING cards.*",
                    )
                    .bind::<Array<Text>, _>(ids)
                    .bind::<Array<BigInt>, _>(deltas)
                    .bind::<Timestamp, _>(now())
                    .bind::<Text, _>(program_id)
                    .bind::<Array<Text>, _>(statuses.clone())
                    .bind::<Nullable<BigInt>, _>(floor)
                    .load::<Card>(c)?,
                );
            }
            Ok(moved)
        }
        _ => {
            let mut by_delta: std::collections::BTreeMap<i64, Vec<&str>> = std::collections::BTreeMap::new();
            for &(id, delta) in moves {
                by_delta.entry(delta).or_default().push(id);
            }
            let mut moved = Vec::with_capacity(moves.len());
            for (delta, ids) in by_delta {
                moved.extend(move_balances(conn, program_id, &ids, delta, statuses, floor)?);
            }
            Ok(moved)
        }
    }
}

/// Reads the card and holds its row lock until the transaction ends, for decisions that depend
/// on the balance staying put: [`lock_many`] for one card.
pub fn lock(conn: &mut DbConn, program_id: &str, card_id: &str) -> QueryResult<Option<Card>> {
    Ok(lock_many(conn, program_id, &[card_id.to_owned()])?.pop())
}

pub fn set_status(conn: &mut DbConn, program_id: &str, card_id: &str, status: CardStatus) -> QueryResult<Option<Card>> {
    diesel::update(cards::table)
        .filter(cards::program_id.eq(program_id))
        .filter(cards::id.eq(card_id))
        .set((cards::status.eq(status), cards::pass_version.eq(cards::pass_version + 1), cards::updated_at.eq(now())))
        .get_result::<Card>(conn)
        .optional()
}

/// Erasure of the holder: the card is closed, its link stops working (a new random token nobody
/// holds) and its referral code is freed, so no page shows the erased customer any more.
pub fn close_for_erasure(conn: &mut DbConn, program_id: &str, card_id: &str, new_link: &str) -> QueryResult<Card> {
    diesel::update(cards::table)
        .filter(cards::program_id.eq(program_id))
        .filter(cards::id.eq(card_id))
        .set((
            cards::status.eq(CardStatus::Closed),
            cards::link_token.eq(new_link),
            cards::referral_code.eq(None::<String>),
            cards::pass_version.eq(cards::pass_version + 1),
            cards::updated_at.eq(now()),
        ))
        .get_result::<Card>(conn)
}

/// Records that the card's pass changed: a new place in the update sequence and a Last-Modified
/// one second past the previous one at least (HTTP dates have whole seconds: two changes within
/// a second must still give two different dates, or a device would be told "not modified").
///
/// On PostgreSQL the sequence is the writing transaction's id; on SQLite a counter (one writer at
/// a time). See the `apple_wallet` migration for why a database sequence would lose updates.
pub fn mark_pass_changed(conn: &mut DbConn, card: &Card) -> QueryResult<Card> {
    mark_passes_changed(conn, std::slice::from_ref(card))?.pop().ok_or(diesel::result::Error::NotFound)
}

/// [`mark_pass_changed`] for many cards: one UPDATE per distinct Last-Modified (nearly always
/// one: "now", unless a card changed within the last second).
pub fn mark_passes_changed(conn: &mut DbConn, changed: &[Card]) -> QueryResult<Vec<Card>> {
    use chrono::Timelike;
    use diesel::dsl::sql;
    use diesel::sql_types::BigInt;
    let now = now();
    let now = now.with_nanosecond(0).unwrap_or(now);
    let mut by_modified: std::collections::BTreeMap<NaiveDateTime, Vec<&str>> = std::collections::BTreeMap::new();
    for card in changed {
        let modified = now.max(card.pass_updated_at + chrono::Duration::seconds(1));
        by_modified.entry(modified).or_default().push(&card.id);
    }
    let mut marked = Vec::with_capacity(changed.len());
    for (modified, ids) in by_modified {
        for ids in ids.chunks(super::IDS_PER_STATEMENT) {
            let seq = match conn {
                DbConn::Pg(_) => sql::<BigInt>("txid_current()"),
                DbConn::Sqlite(_) => sql::<BigInt>("(SELECT COALESCE(MAX(pass_seq), 0) + 1 FROM cards)"),
            };
            marked.extend(
                diesel::update(cards::table.filter(cards::id.eq_any(ids)))
                    .set((cards::pass_seq.eq(seq), cards::pass_updated_at.eq(modified)))
                    .get_results::<Card>(conn)?,
            );
        }
    }
    Ok(marked)
}

pub fn find_by_serial(conn: &mut DbConn, serial: &str) -> QueryResult<Option<Card>> {
    cards::table.filter(cards::serial.eq(serial)).select(Card::as_select()).first(conn).optional()
}

pub fn find_by_link_token(conn: &mut DbConn, token: &str) -> QueryResult<Option<Card>> {
    cards::table.filter(cards::link_token.eq(token)).select(Card::as_select()).first(conn).optional()
}

/// The card of a referral link: codes are unique per program, so across programs the oldest wins
/// (two programs drawing the same code is a one-in-a-billion event).
pub fn find_by_referral_code_anywhere(conn: &mut DbConn, code: &str) -> QueryResult<Option<Card>> {
    cards::table
        .filter(cards::referral_code.eq(code))
        .order(cards::created_at)
        .select(Card::as_select())
        .first(conn)
        .optional()
}

/// The program's cards in id order, `limit` at a time after `after`.
pub fn page_of_program(conn: &mut DbConn, program_id: &str, after: Option<&str>, limit: i64) -> QueryResult<Vec<Card>> {
    let mut query = cards::table.filter(cards::program_id.eq(program_id)).select(Card::as_select()).into_boxed();
    if let Some(after) = after {
        query = query.filter(cards::id.gt(after));
    }
    query.order(cards::id).limit(limit).load(conn)
}

/// A batch's next active cards of the programme: `limit` in id order after `after`.
pub fn active_cards_after(
    conn: &mut DbConn,
    program_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Card>> {
    let mut query = cards::table
        .filter(cards::program_id.eq(program_id))
        .filter(cards::status.eq(CardStatus::Active))
        .select(Card::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(cards::id.gt(after));
    }
    query.order(cards::id).limit(limit).load(conn)
}

pub fn count_active_cards(conn: &mut DbConn, program_id: &str) -> QueryResult<i64> {
    cards::table
        .filter(cards::program_id.eq(program_id))
        .filter(cards::status.eq(CardStatus::Active))
        .count()
        .get_result(conn)
}

/// The programme's cards holding points, `limit` in id order after `after`.
pub fn with_points_after(conn: &mut DbConn, program_id: &str, after: &str, limit: i64) -> QueryResult<Vec<String>> {
    cards::table
        .filter(cards::program_id.eq(program_id))
        .filter(cards::id.gt(after))
        .filter(cards::balance.gt(0))
        .select(cards::id)
        .order(cards::id)
        .limit(limit)
        .load(conn)
}

/// Reads the cards and holds their row locks until the transaction ends (in id order, so that
/// two batches can't deadlock), in one statement per [`super::IDS_PER_STATEMENT`].
pub fn lock_many(conn: &mut DbConn, program_id: &str, card_ids: &[String]) -> QueryResult<Vec<Card>> {
    let mut locked = Vec::with_capacity(card_ids.len());
    for ids in card_ids.chunks(super::IDS_PER_STATEMENT) {
        let rows = cards::table.filter(cards::program_id.eq(program_id)).filter(cards::id.eq_any(ids)).order(cards::id);
        locked.extend(match conn {
            // The lock an UPDATE takes, without writing a new version of every row.
            DbConn::Pg(c) => rows.select(Card::as_select()).for_no_key_update().load(c)?,
            // A write transaction (`BEGIN IMMEDIATE`) already holds the only write lock.
            DbConn::Sqlite(c) => rows.select(Card::as_select()).load(c)?,
        });
    }
    Ok(locked)
}

/// Cards whose balance is not what `expected` makes of a per-card sum (absent: 0), for the
/// invariant checks: (card, balance, sum).
pub fn mismatches(
    conn: &mut DbConn,
    sums: Vec<(String, Option<i64>)>,
    expected: impl Fn(i64) -> i64,
) -> QueryResult<Vec<(String, i64, i64)>> {
    let sums: std::collections::HashMap<String, i64> = sums.into_iter().map(|(id, s)| (id, s.unwrap_or(0))).collect();
    let balances: Vec<(String, i64)> = cards::table.select((cards::id, cards::balance)).load(conn)?;
    Ok(balances
        .into_iter()
        .filter_map(|(id, balance)| {
            let sum = sums.get(&id).copied().unwrap_or(0);
            (sum != expected(balance)).then_some((id, balance, sum))
        })
        .collect())
}
