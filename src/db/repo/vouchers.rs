use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::vouchers;
use crate::domain::status::{VoucherOrigin, VoucherState};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = vouchers, treat_none_as_default_value = false)]
pub struct Voucher {
    pub id: String,
    pub program_id: String,
    pub card_id: String,
    pub code: String,
    pub kind: String,
    pub value: Option<i64>,
    pub item: Option<String>,
    pub min_purchase_cents: i64,
    pub state: VoucherState,
    pub origin: VoucherOrigin,
    pub reward_id: Option<String>,
    pub conversion_id: Option<String>,
    pub ledger_entry_id: Option<i64>,
    pub reason: Option<String>,
    pub staff_id: Option<String>,
    pub expires_at: NaiveDateTime,
    pub purchase_id: Option<String>,
    pub discount_cents: Option<i64>,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Voucher {
    /// The state as it stands at `now`: an active voucher past its end is expired, whether or
    /// not the sweep has written so yet.
    pub fn state_at(&self, now: NaiveDateTime) -> VoucherState {
        if self.state == VoucherState::Active && self.expires_at <= now { VoucherState::Expired } else { self.state }
    }
}

/// Inserts the voucher; false when its code is taken in the programme (the caller draws another).
pub fn insert(conn: &mut DbConn, voucher: &Voucher) -> QueryResult<bool> {
    Ok(insert_or_ignore!(conn, vouchers::table, voucher)? == 1)
}

/// Inserts the vouchers, [`super::ROWS_PER_INSERT`] per INSERT, skipping any whose code is
/// taken; the number written.
pub fn insert_many(conn: &mut DbConn, vouchers: &[Voucher]) -> QueryResult<usize> {
    let mut written = 0;
    for rows in vouchers.chunks(super::ROWS_PER_INSERT) {
        written += insert_or_ignore!(conn, vouchers::table, rows)?;
    }
    Ok(written)
}

/// Which of these voucher ids exist.
pub fn existing_ids(conn: &mut DbConn, ids: &[&str]) -> QueryResult<std::collections::HashSet<String>> {
    let mut found = std::collections::HashSet::new();
    for ids in ids.chunks(super::IDS_PER_STATEMENT) {
        found.extend(vouchers::table.filter(vouchers::id.eq_any(ids)).select(vouchers::id).load::<String>(conn)?);
    }
    Ok(found)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Voucher>> {
    vouchers::table
        .filter(vouchers::program_id.eq(program_id))
        .filter(vouchers::id.eq(id))
        .select(Voucher::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_code(conn: &mut DbConn, program_id: &str, code: &str) -> QueryResult<Option<Voucher>> {
    vouchers::table
        .filter(vouchers::program_id.eq(program_id))
        .filter(vouchers::code.eq(code))
        .select(Voucher::as_select())
        .first(conn)
        .optional()
}

/// A card's vouchers, newest first; `state` as it stands at `now` (see [`Voucher::state_at`]).
pub fn for_card(
    conn: &mut DbConn,
    card_id: &str,
    state: Option<VoucherState>,
    now: NaiveDateTime,
) -> QueryResult<Vec<Voucher>> {
    let mut query = vouchers::table.filter(vouchers::card_id.eq(card_id)).into_boxed();
    query = match state {
        None => query,
        Some(VoucherState::Active) => {
            query.filter(vouchers::state.eq(VoucherState::Active)).filter(vouchers::expires_at.gt(now))
        }
        Some(VoucherState::Expired) => query.filter(
            vouchers::state
                .eq(VoucherState::Expired)
                .or(vouchers::state.eq(VoucherState::Active).and(vouchers::expires_at.le(now))),
        ),
        Some(other) => query.filter(vouchers::state.eq(other)),
    };
    query.order((vouchers::created_at.desc(), vouchers::id.desc())).select(Voucher::as_select()).load(conn)
}

/// A card's usable vouchers, soonest expiry first: what the pass and the card page show.
pub fn usable(conn: &mut DbConn, card_id: &str, now: NaiveDateTime) -> QueryResult<Vec<Voucher>> {
    vouchers::table
        .filter(vouchers::card_id.eq(card_id))
        .filter(vouchers::state.eq(VoucherState::Active))
        .filter(vouchers::expires_at.gt(now))
        .order((vouchers::expires_at, vouchers::id))
        .select(Voucher::as_select())
        .load(conn)
}

/// Uses the voucher by one conditional UPDATE: true for the one caller that finds it active and
/// unexpired; any other (a second till at the same instant) gets false.
pub fn take(
    conn: &mut DbConn,
    id: &str,
    purchase_id: Option<&str>,
    discount_cents: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let taken = diesel::update(
        vouchers::table
            .filter(vouchers::id.eq(id))
            .filter(vouchers::state.eq(VoucherState::Active))
            .filter(vouchers::expires_at.gt(now)),
    )
    .set((
        vouchers::state.eq(VoucherState::Used),
        vouchers::purchase_id.eq(purchase_id),
        vouchers::discount_cents.eq(Some(discount_cents)),
        vouchers::used_at.eq(Some(now)),
        vouchers::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

pub fn for_purchase(conn: &mut DbConn, purchase_id: &str) -> QueryResult<Vec<Voucher>> {
    vouchers::table
        .filter(vouchers::purchase_id.eq(purchase_id))
        .order(vouchers::id)
        .select(Voucher::as_select())
        .load(conn)
}

/// Gives back the vouchers a fully returned purchase used: active again while still valid,
/// expired otherwise. Returns how many came back.
pub fn give_back(conn: &mut DbConn, purchase_id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    let used =
        vouchers::table.filter(vouchers::purchase_id.eq(purchase_id)).filter(vouchers::state.eq(VoucherState::Used));
    let mut n = 0;
    for (valid, state) in [(true, VoucherState::Active), (false, VoucherState::Expired)] {
        let rows = used;
        let target = if valid {
            diesel::update(rows.filter(vouchers::expires_at.gt(now))).into_boxed()
        } else {
            diesel::update(rows.filter(vouchers::expires_at.le(now))).into_boxed()
        };
        n += target
            .set((
                vouchers::state.eq(state),
                vouchers::purchase_id.eq(None::<String>),
                vouchers::discount_cents.eq(None::<i64>),
                vouchers::used_at.eq(None::<NaiveDateTime>),
                vouchers::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(n)
}

/// Cancels the unused vouchers a ledger entry paid for (a reward claim undone); the used ones
/// stay as they are. Returns (cancelled, still used).
pub fn cancel_for_entry(conn: &mut DbConn, entry_id: i64, now: NaiveDateTime) -> QueryResult<(usize, usize)> {
    let cancelled = diesel::update(
        vouchers::table
            .filter(vouchers::ledger_entry_id.eq(entry_id))
            .filter(vouchers::state.eq_any([VoucherState::Active, VoucherState::Expired])),
    )
    .set((vouchers::state.eq(VoucherState::Cancelled), vouchers::updated_at.eq(now)))
    .execute(conn)?;
    let used = vouchers::table
        .filter(vouchers::ledger_entry_id.eq(entry_id))
        .filter(vouchers::state.eq(VoucherState::Used))
        .count()
        .get_result::<i64>(conn)?;
    Ok((cancelled, usize::try_from(used).unwrap_or(usize::MAX)))
}

pub fn for_entry(conn: &mut DbConn, entry_id: i64) -> QueryResult<Vec<Voucher>> {
    vouchers::table
        .filter(vouchers::ledger_entry_id.eq(entry_id))
        .order(vouchers::id)
        .select(Voucher::as_select())
        .load(conn)
}

/// Marks up to `limit` vouchers past their end as expired, and gives their cards (program,
/// card), so that each pass is updated once. Safe on any number of nodes: a voucher another
/// node expired first is no longer active here.
pub fn expire_due(conn: &mut DbConn, now: NaiveDateTime, limit: i64) -> QueryResult<Vec<(String, String)>> {
    let due: Vec<String> = vouchers::table
        .filter(vouchers::state.eq(VoucherState::Active))
        .filter(vouchers::expires_at.le(now))
        .order(vouchers::expires_at)
        .limit(limit)
        .select(vouchers::id)
        .load(conn)?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(vouchers::table.filter(vouchers::id.eq_any(&due)).filter(vouchers::state.eq(VoucherState::Active)))
        .set((vouchers::state.eq(VoucherState::Expired), vouchers::updated_at.eq(now)))
        .returning((vouchers::program_id, vouchers::card_id))
        .get_results(conn)
}
