use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::conversion_settings;
use crate::domain::status::ConversionMode;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = conversion_settings, treat_none_as_default_value = false)]
pub struct Settings {
    pub program_id: String,
    pub mode: ConversionMode,
    pub threshold_points: i64,
    pub block_points: i64,
    pub value_cents_per_block: i64,
    pub validity_days: i64,
    pub updated_at: NaiveDateTime,
}

pub fn settings(conn: &mut DbConn, program_id: &str) -> QueryResult<Option<Settings>> {
    conversion_settings::table.find(program_id).select(Settings::as_select()).first(conn).optional()
}

pub fn put_settings(conn: &mut DbConn, s: &Settings) -> QueryResult<()> {
    let updated = diesel::update(conversion_settings::table.find(&s.program_id)).set(s).execute(conn)?;
    if updated == 0 {
        diesel::insert_into(conversion_settings::table).values(s).execute(conn)?;
    }
    Ok(())
}
