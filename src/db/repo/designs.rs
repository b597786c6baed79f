//! Pass designs made in the console: a draft and the published design, each a design.json and
//! its images.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{program_design_images as images, program_designs as designs};

pub const DRAFT: &str = "draft";
pub const PUBLISHED: &str = "published";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = designs)]
pub struct StoredDesign {
    pub program_id: String,
    pub stage: String,
    pub design: String,
    pub fingerprint: String,
    pub updated_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConn, program_id: &str, stage: &str) -> QueryResult<Option<StoredDesign>> {
    designs::table.find((program_id, stage)).select(StoredDesign::as_select()).first(conn).optional()
}

/// The images of a stage, by name.
pub fn images(conn: &mut DbConn, program_id: &str, stage: &str) -> QueryResult<Vec<(String, Vec<u8>)>> {
    images::table
        .filter(images::program_id.eq(program_id))
        .filter(images::stage.eq(stage))
        .order(images::name)
        .select((images::name, images::bytes))
        .load(conn)
}

pub fn image(conn: &mut DbConn, program_id: &str, stage: &str, name: &str) -> QueryResult<Option<Vec<u8>>> {
    images::table.find((program_id, stage, name)).select(images::bytes).first(conn).optional()
}

/// Replaces the stage's design and images with these.
pub fn put(conn: &mut DbConn, row: &StoredDesign, files: &[(String, Vec<u8>)]) -> QueryResult<()> {
    let (program_id, stage) = (row.program_id.as_str(), row.stage.as_str());
    diesel::delete(designs::table.find((program_id, stage))).execute(conn)?;
    diesel::delete(images::table.filter(images::program_id.eq(program_id)).filter(images::stage.eq(stage)))
        .execute(conn)?;
    diesel::insert_into(designs::table).values(row).execute(conn)?;
    for (name, bytes) in files {
        diesel::insert_into(images::table)
            .values((
                images::program_id.eq(program_id),
                images::stage.eq(stage),
                images::name.eq(name),
                images::bytes.eq(bytes),
            ))
            .execute(conn)?;
    }
    Ok(())
}
