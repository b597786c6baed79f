use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::rewards;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = rewards, treat_none_as_default_value = false, treat_none_as_null = true)]
pub struct Reward {
    pub id: String,
    pub program_id: String,
    pub name: String,
    pub name_fr: Option<String>,
    pub cost_points: i64,
    pub voucher_kind: String,
    pub voucher_value: Option<i64>,
    pub voucher_item: Option<String>,
    pub validity_days: i64,
    pub min_purchase_cents: i64,
    /// Left to claim; None = no limit.
    pub stock: Option<i64>,
    pub active: bool,
    pub archived_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, reward: &Reward) -> QueryResult<()> {
    diesel::insert_into(rewards::table).values(reward).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Reward>> {
    rewards::table
        .filter(rewards::program_id.eq(program_id))
        .filter(rewards::id.eq(id))
        .select(Reward::as_select())
        .first(conn)
        .optional()
}

/// The catalogue, oldest first (the order the merchant built it in); archived rewards only when asked.
pub fn list(conn: &mut DbConn, program_id: &str, archived: bool) -> QueryResult<Vec<Reward>> {
    let mut query = rewards::table.filter(rewards::program_id.eq(program_id)).into_boxed();
    if !archived {
        query = query.filter(rewards::archived_at.is_null());
    }
    query.order((rewards::created_at, rewards::id)).select(Reward::as_select()).load(conn)
}

/// Writes every field of `reward` (the caller read it first); None when it is archived meanwhile.
pub fn update(conn: &mut DbConn, reward: &Reward) -> QueryResult<Option<Reward>> {
    diesel::update(
        rewards::table
            .filter(rewards::program_id.eq(&reward.program_id))
            .filter(rewards::id.eq(&reward.id))
            .filter(rewards::archived_at.is_null()),
    )
    .set(reward)
    .get_result(conn)
    .optional()
}

pub fn archive(conn: &mut DbConn, program_id: &str, id: &str, at: NaiveDateTime) -> QueryResult<Option<Reward>> {
    diesel::update(rewards::table.filter(rewards::program_id.eq(program_id)).filter(rewards::id.eq(id)))
        .set((rewards::archived_at.eq(Some(at)), rewards::active.eq(false), rewards::updated_at.eq(at)))
        .get_result(conn)
        .optional()
}

/// Takes one from the stock by one conditional UPDATE: false when none is left (or the reward
/// stopped being claimable meanwhile). Only for a reward with a stock: an unlimited one must not
/// make every claim queue on its row.
pub fn take_stock(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let taken = diesel::update(
        rewards::table
            .filter(rewards::id.eq(id))
            .filter(rewards::active.eq(true))
            .filter(rewards::archived_at.is_null())
            .filter(rewards::stock.gt(0)),
    )
    .set(rewards::stock.eq(rewards::stock - 1))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Puts one back, when a claim is undone.
pub fn give_back_stock(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::update(rewards::table.filter(rewards::id.eq(id)).filter(rewards::stock.is_not_null()))
        .set(rewards::stock.eq(rewards::stock + 1))
        .execute(conn)
        .map(drop)
}
