//! Both migration sets agree, every migration reverts and applies again, and the database
//! itself enforces what the code relies on (foreign keys, append-only ledger).

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};
use encarte::db::{Backend, DbConn, DbUrl, migrations_for};

use crate::helpers::{TestDb, spawn_app};

fn names(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_list_the_same_migrations() {
    let (sqlite, postgres) = (names("sqlite"), names("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend).join(name);
            assert!(dir.join("up.sql").is_file() && dir.join("down.sql").is_file(), "{backend}/{name}");
        }
    }
}

fn tables(conn: &mut DbConn) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        DbConn::Pg(_) => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() \
                          UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY name"
        }
    };
    // diesel's own bookkeeping table stays once created.
    diesel::sql_query(sql)
        .load::<T>(conn)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .filter(|n| !n.contains("diesel_schema_migrations"))
        .collect()
}

/// Applies the next migration, or reverts the last one, on either backend.
fn step(conn: &mut DbConn, revert: bool) {
    fn on<DB: diesel::backend::Backend>(h: &mut impl MigrationHarness<DB>, revert: bool, m: EmbeddedMigrations)
    where
        EmbeddedMigrations: MigrationSource<DB>,
    {
        if revert {
            h.revert_last_migration(m).unwrap();
        } else {
            h.run_next_migration(m).unwrap();
        }
    }
    match conn {
        DbConn::Sqlite(c) => on(c, revert, migrations_for(Backend::Sqlite)),
        DbConn::Pg(c) => on(c, revert, migrations_for(Backend::Postgres)),
    }
}

#[test]
fn every_migration_reverts_and_applies_again() {
    let (test_db, url) = TestDb::new();
    let mut conn = DbUrl::parse(&url).unwrap().establish().unwrap();
    let empty = tables(&mut conn);
    for _ in names("sqlite") {
        let before = tables(&mut conn);
        step(&mut conn, false);
        let after = tables(&mut conn);
        step(&mut conn, true);
        assert_eq!(tables(&mut conn), before, "down.sql undoes up.sql");
        step(&mut conn, false);
        assert_eq!(tables(&mut conn), after, "and up.sql applies again");
    }
    assert_ne!(tables(&mut conn), empty);
    drop(test_db);
}

/// Runs `sql` in a savepoint of its own and tells whether the database refused it.
async fn refused(app: &crate::helpers::TestApp, sql: String) -> bool {
    use diesel::Connection;
    app.db.write(move |c| Ok(c.transaction(|c| c.batch_execute(&sql)).is_err())).await.unwrap()
}

#[tokio::test]
async fn the_database_enforces_foreign_keys_and_an_append_only_ledger() {
    let app = spawn_app().await;
    let card = app.enrol("fk@example.fr").await;
    app.purchase(&app.staff.cashier, card["barcode"].as_str().unwrap(), 1000, "fk-1").await;
    let card_id = card["id"].as_str().unwrap();
    assert!(
        refused(&app, "INSERT INTO locations (id, program_id, name, created_at) VALUES ('l', 'no-such-program', 'x', '2026-01-01 00:00:00')".into()).await,
        "foreign keys are on"
    );
    assert!(
        refused(&app, format!("UPDATE ledger_entries SET delta = 1000 WHERE card_id = '{card_id}'")).await,
        "no rewriting the ledger"
    );
    assert!(refused(&app, "DELETE FROM ledger_entries".into()).await, "no deleting from the ledger");
    assert!(!refused(&app, "UPDATE cards SET updated_at = updated_at".into()).await, "the harness itself can write");
    assert_eq!(app.count("ledger_entries", "delta = 10").await, 1);
    app.run_jobs().await;
}
