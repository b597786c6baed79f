use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::point_lots;

/// An open lot: points of one credit not yet spent nor expired.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = point_lots)]
pub struct Lot {
    pub id: i64,
    pub card_id: String,
    pub earned_at: NaiveDateTime,
    pub remaining: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = point_lots, treat_none_as_default_value = false)]
pub struct NewLot<'a> {
    pub program_id: &'a str,
    pub card_id: &'a str,
    pub entry_id: Option<i64>,
    pub earned_at: NaiveDateTime,
    pub points: i64,
    pub remaining: i64,
}

pub fn insert_many(conn: &mut DbConn, lots: &[NewLot<'_>]) -> QueryResult<()> {
    if let [lot] = lots {
        // The till's single credit: a statement the connection keeps prepared.
        return diesel::insert_into(point_lots::table).values(lot).execute(conn).map(drop);
    }
    for rows in lots.chunks(super::ROWS_PER_INSERT) {
        insert_rows!(conn, point_lots::table, rows)?;
    }
    Ok(())
}

/// The open lots of these cards, each card's oldest first.
pub fn open_of_cards(conn: &mut DbConn, card_ids: &[&str]) -> QueryResult<Vec<Lot>> {
    let mut lots = Vec::new();
    for ids in card_ids.chunks(super::IDS_PER_STATEMENT) {
        let query = point_lots::table.select(Lot::as_select());
        lots.extend(match ids {
            [id] => {
                query.filter(point_lots::card_id.eq(*id)).order((point_lots::earned_at, point_lots::id)).load(conn)?
            }
            _ => query
                .filter(point_lots::card_id.eq_any(ids))
                .order((point_lots::card_id, point_lots::earned_at, point_lots::id))
                .load(conn)?,
        });
    }
    Ok(lots)
}

pub fn delete(conn: &mut DbConn, ids: &[i64]) -> QueryResult<()> {
    for ids in ids.chunks(super::IDS_PER_STATEMENT) {
        diesel::delete(point_lots::table.filter(point_lots::id.eq_any(ids))).execute(conn)?;
    }
    Ok(())
}

/// Sets what is left of partly used lots: (lot, remaining).
pub fn set_remaining(conn: &mut DbConn, updates: &[(i64, i64)]) -> QueryResult<()> {
    if let [(id, remaining)] = updates {
        return diesel::update(point_lots::table.find(id))
            .set(point_lots::remaining.eq(remaining))
            .execute(conn)
            .map(drop);
    }
    for rows in updates.chunks(super::IDS_PER_STATEMENT) {
        // One statement for the chunk: a CASE over the ids. Both are integers of our own rows,
        // written into the statement, so nothing from outside reaches the SQL.
        let cases: String = rows.iter().map(|(id, remaining)| format!(" WHEN {id} THEN {remaining}")).collect();
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.to_string()).collect();
        diesel::sql_query(format!(
            "UPDATE point_lots SET remaining = CASE id{cases} END WHERE id IN ({})",
            ids.join(", ")
        ))
        .execute(conn)?;
    }
    Ok(())
}

/// The programme's cards after `after` (in id order) holding a lot earned before `before`: the
/// daily run's next chunk. One row per such lot (a card appears once per lot, consecutively):
/// fewer than `limit` rows means there are no more.
pub fn cards_with_lots_before(
    conn: &mut DbConn,
    program_id: &str,
    before: NaiveDateTime,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<String>> {
    point_lots::table
        .filter(point_lots::program_id.eq(program_id))
        .filter(point_lots::card_id.gt(after))
        .filter(point_lots::earned_at.lt(before))
        .select(point_lots::card_id)
        .order((point_lots::program_id, point_lots::card_id, point_lots::earned_at))
        .limit(limit)
        .load(conn)
}

/// Cards whose open lots do not add up to their balance (to MAX(balance, 0): a card in debt holds
/// none): must always be empty. (card, balance, sum of lots)
pub fn mismatched(conn: &mut DbConn) -> QueryResult<Vec<(String, i64, i64)>> {
    let sums: Vec<(String, Option<i64>)> = point_lots::table
        .group_by(point_lots::card_id)
        .select((
            point_lots::card_id,
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "CAST(SUM(remaining) AS BIGINT)",
            ),
        ))
        .load(conn)?;
    // A card in debt holds no lot.
    super::cards::mismatches(conn, sums, |balance| balance.max(0))
}
