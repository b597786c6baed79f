//! `src/db/schema.rs` against what the migrations create on an empty database (the backend the
//! suite runs on): every table, column, SQL type and nullability, both ways, so that a drifted
//! column fails here rather than in the one query that touches it in production.
//!
//! The declared side is schema.rs read as text. diesel's `table!` does carry the metadata
//! (`Column::NAME`, each column's `SqlType`), but only per column type: `Table::all_columns()` is a
//! tuple that can't be walked at run time without our own trait for every tuple width, and a
//! list of tables written here would itself drift from schema.rs. The parser knows only the forms
//! schema.rs uses and refuses any other line, so nothing is skipped silently.

use std::collections::{BTreeMap, BTreeSet};

use diesel::prelude::*;
use encarte::db::{DbConn, DbUrl, run_migrations};

use crate::helpers::TestDb;

/// column -> its diesel SQL type as schema.rs spells it (`Text`, `Nullable<BigInt>`).
type Columns = BTreeMap<String, String>;
type Tables = BTreeMap<String, Columns>;

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The tables of a schema.rs text, or the first line it does not understand.
fn declared(text: &str) -> Result<Tables, String> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let bad =
        |(n, line): (usize, &str), expected: &str| format!("schema.rs line {n}: expected {expected}, found `{line}`");
    let mut next = |expected: &str| lines.next().ok_or_else(|| format!("schema.rs ends where {expected} was expected"));
    let mut tables = Tables::new();
    loop {
        let Ok(line) = next("") else {
            return Ok(tables); // the end of the text, outside any table!
        };
        if line.1 != "diesel::table! {" {
            // joinable!, allow_tables_to_appear_in_same_query! and comments say nothing about columns.
            if line.1.contains("table!") {
                return Err(bad(line, "`diesel::table! {`"));
            }
            continue;
        }
        let header = next("a table header")?;
        let name = (header
            .1
            .strip_suffix(") {")
            .and_then(|h| h.split_once(" ("))
            .filter(|(name, pk)| is_ident(name) && pk.split(", ").all(is_ident)))
        .map(|(name, _)| name)
        .ok_or_else(|| bad(header, "`name (primary key, ...) {`"))?;
        let mut columns = Columns::new();
        let mut sql_name = None;
        loop {
            let line = next("a column or `}`")?;
            if line.1 == "}" && sql_name.is_none() {
                break;
            }
            if line.1.is_empty() || line.1.starts_with("//") {
                continue;
            }
            if let Some(real) = line.1.strip_prefix("#[sql_name = \"").and_then(|r| r.strip_suffix("\"]")) {
                sql_name = Some(real.to_owned());
                continue;
            }
            let (column, ty) = (line.1.strip_suffix(',').and_then(|l| l.split_once(" -> ")))
                .filter(|(column, ty)| {
                    let inner = ty.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')).unwrap_or(ty);
                    is_ident(column) && is_ident(inner)
                })
                .ok_or_else(|| bad(line, "`column -> Type,` or `column -> Nullable<Type>,`"))?;
            if columns.insert(sql_name.take().unwrap_or_else(|| column.to_owned()), ty.to_owned()).is_some() {
                return Err(bad(line, "each column once"));
            }
        }
        let end = next("`}` closing table!")?;
        if end.1 != "}" {
            return Err(bad(end, "`}` closing table!"));
        }
        if tables.insert(name.to_owned(), columns).is_some() {
            return Err(bad(header, "each table once"));
        }
    }
}

/// The diesel type schema.rs must declare for a column of this database type, for the portable
/// types the migrations use (DEVELOPERS.md) and bytes.
fn diesel_type(database_type: &str) -> Option<&'static str> {
    Some(match database_type.to_ascii_lowercase().as_str() {
        "text" => "Text",
        "bigint" => "BigInt",
        "integer" => "Integer",
        "boolean" => "Bool",
        // SQLite reports the declared type, PostgreSQL its canonical name.
        "timestamp" | "timestamp without time zone" => "Timestamp",
        "date" => "Date",
        "blob" | "bytea" => "Binary",
        _ => return None,
    })
}

#[derive(QueryableByName)]
struct DbColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    nullable: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    rowid: bool,
}

/// The tables the database holds, spelled as schema.rs would declare them.
fn actual(conn: &mut DbConn) -> Tables {
    // On SQLite, `notnull` is what the database enforces: a PRIMARY KEY column without NOT NULL
    // does accept NULL there (a legacy SQLite rule; STRICT and WITHOUT ROWID tables report their
    // key columns notnull = 1), except the rowid alias (the one INTEGER PRIMARY KEY column of a
    // rowid table), reported notnull = 0 although a NULL inserted there becomes the next rowid.
    // That column is the 64-bit rowid, hence BigInt like the BIGINT identity on PostgreSQL.
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT t.name AS table_name, c.name AS column_name, c.type AS data_type, c.\"notnull\" = 0 AS nullable, \
                    (NOT t.wr AND c.pk = 1 AND upper(c.type) = 'INTEGER' \
                     AND (SELECT count(*) FROM pragma_table_info(t.name) AS k WHERE k.pk > 0) = 1) AS rowid \
             FROM pragma_table_list AS t, pragma_table_info(t.name) AS c \
             WHERE t.schema = 'main' AND t.type = 'table' AND t.name NOT LIKE 'sqlite_%'"
        }
        DbConn::Pg(_) => {
            "SELECT table_name, column_name, data_type, is_nullable = 'YES' AS nullable, FALSE AS rowid \
             FROM information_schema.columns WHERE table_schema = current_schema()"
        }
    };
    let mut tables = Tables::new();
    for c in diesel::sql_query(sql).load::<DbColumn>(conn).unwrap() {
        if c.table_name == "__diesel_schema_migrations" {
            continue;
        }
        let ty = match (c.rowid, diesel_type(&c.data_type)) {
            (true, _) => "BigInt".to_owned(),
            (false, Some(ty)) if c.nullable => format!("Nullable<{ty}>"),
            (false, Some(ty)) => ty.to_owned(),
            (false, None) => format!("{} (no diesel type known here)", c.data_type),
        };
        tables.entry(c.table_name).or_default().insert(c.column_name, ty);
    }
    tables
}

/// Every difference, as `table.column: declared X, database Y`.
fn differences(declared: &Tables, database: &Tables) -> Vec<String> {
    let show = |ty: Option<&String>| ty.map_or("absent", |t| t.as_str()).to_owned();
    let mut found = Vec::new();
    for table in declared.keys().chain(database.keys()).collect::<BTreeSet<_>>() {
        match (declared.get(table), database.get(table)) {
            (Some(d), Some(a)) => {
                for column in d.keys().chain(a.keys()).collect::<BTreeSet<_>>() {
                    let (d, a) = (d.get(column), a.get(column));
                    if d != a {
                        found.push(format!("{table}.{column}: declared {}, database {}", show(d), show(a)));
                    }
                }
            }
            (Some(_), None) => found.push(format!("{table}: declared in schema.rs, absent from the database")),
            (None, _) => found.push(format!("{table}: in the database, not declared in schema.rs")),
        }
    }
    found
}

#[test]
fn schema_rs_matches_what_the_migrations_create() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/db/schema.rs");
    let declared = declared(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{e}"));
    let (_db, url) = TestDb::new();
    let mut conn = DbUrl::parse(&url).unwrap().establish().unwrap();
    run_migrations(&mut conn).unwrap();
    let backend = match conn {
        DbConn::Sqlite(_) => "SQLite",
        DbConn::Pg(_) => "PostgreSQL",
    };
    let found = differences(&declared, &actual(&mut conn));
    assert!(found.is_empty(), "src/db/schema.rs differs from the {backend} migrations:\n  {}", found.join("\n  "));
}

const ONE_TABLE: &str = "
diesel::table! {
    cards (id, program_id) {
        id -> BigInt,
        program_id -> Text,
        #[sql_name = \"type\"]
        kind -> Nullable<Text>,
    }
}
";

#[test]
fn a_drifted_declaration_is_reported_difference_by_difference() {
    let database = declared(ONE_TABLE).unwrap();
    assert_eq!(database["cards"]["type"], "Nullable<Text>");
    let drifted = "
diesel::table! {
    cards (id, program_id) {
        id -> Integer,
        #[sql_name = \"type\"]
        kind -> Text,
        added -> Bool,
    }
}

diesel::table! {
    gone (id) {
        id -> Text,
    }
}
";
    assert_eq!(
        differences(&declared(drifted).unwrap(), &database),
        [
            "cards.added: declared Bool, database absent",
            "cards.id: declared Integer, database BigInt",
            "cards.program_id: declared absent, database Text",
            "cards.type: declared Text, database Nullable<Text>",
            "gone: declared in schema.rs, absent from the database",
        ]
    );
    assert_eq!(
        differences(&database, &declared(drifted).unwrap())[4],
        "gone: in the database, not declared in schema.rs"
    );
    assert!(differences(&database, &database).is_empty());
}

#[test]
fn a_line_the_parser_does_not_know_fails_it() {
    for (from, to, expected) in [
        (
            "id -> BigInt,",
            "id -> BigInt",
            "schema.rs line 4: expected `column -> Type,` or `column -> Nullable<Type>,`, found `id -> BigInt`",
        ),
        ("-> Text,", "-> diesel::sql_types::Text,", "line 5"),
        (
            "cards (id, program_id) {",
            "cards {",
            "schema.rs line 3: expected `name (primary key, ...) {`, found `cards {`",
        ),
        ("diesel::table! {", "table! {", "schema.rs line 2: expected `diesel::table! {`, found `table! {`"),
        ("        id -> BigInt,", "        use diesel::sql_types::*;", "line 4"),
        ("        program_id -> Text,", "        id -> Text,", "line 5: expected each column once"),
        ("    }\n}", "    }", "schema.rs ends where `}` closing table! was expected"),
        ("kind -> Nullable<Text>,", "", "line 8: expected `column -> Type,` or `column -> Nullable<Type>,`, found `}`"),
    ] {
        assert!(ONE_TABLE.contains(from), "{from}");
        let error = declared(&ONE_TABLE.replacen(from, to, 1)).unwrap_err();
        assert!(error.contains(expected), "{to}: {error}");
    }
}
