use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::tier_rules;

/// The programme's tier list as stored (JSON), if it set one.
pub fn rules(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<String>> {
    tier_rules::table.find(program_id).select(tier_rules::rules).first(conn).optional()
}

pub fn put_rules(conn: &mut DbConn, program_id: &str, rules: &str, now: NaiveDateTime) -> QueryResult<()> {
    let updated = diesel::update(tier_rules::table.find(program_id))
        .set((tier_rules::rules.eq(rules), tier_rules::updated_at.eq(now)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(tier_rules::table)
            .values((
                tier_rules::program_id.eq(program_id),
                tier_rules::rules.eq(rules),
                tier_rules::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
