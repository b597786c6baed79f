//! Many cards with balances, written fast: for the batch benches (season conversion, expiry).

use encarte::config::Config;
use encarte::db::repo::programs::Program;
use encarte::db::repo::{cards::Card, customers::Customer};
use encarte::db::{Db, DbConn, repo};
use encarte::domain::ledger::EntryKind;
use encarte::domain::role::Role;
use encarte::error::AppError;
use encarte::service::points::{Guard, Posting, post_many};
use encarte::service::programs::{self, NewProgram};
use encarte::startup::Application;

/// Cards per seeding transaction.
const SEED_CHUNK: usize = 2000;

/// The service built on `url` (migrated, pooled as in production; the server never started) and a
/// programme in Paris earning a point per euro.
pub async fn app_with_program(url: &str, data_dir: &std::path::Path) -> anyhow::Result<(Application, Db, Program)> {
    let config = Config {
        bind: "127.0.0.1:0".into(),
        database_url: Some(url.to_owned()),
        data_dir: data_dir.to_path_buf(),
        worker: false,
        log: "warn".into(),
        ..Config::default()
    };
    let app = Application::build(config).await?;
    let db = app.db();
    let program = db
        .write(|c| {
            programs::create(
                c,
                NewProgram::paris_shop(
                    "mexx",
                    "Mexx",
                    "Shop",
                    vec![("manager@mexx.test".into(), Role::Manager, "bench-password-123".into())],
                ),
            )
        })
        .await?
        .program;
    Ok((app, db, program))
}

/// `n` cards, card `i` with `balance(i)` points earned at `earned_at(i)` (now when None).
pub async fn cards(
    db: &Db,
    program_id: &str,
    n: usize,
    balance: fn(usize) -> i64,
    earned_at: fn(usize) -> Option<chrono::NaiveDateTime>,
) -> anyhow::Result<()> {
    for from in (0..n).step_by(SEED_CHUNK) {
        let (program_id, to) = (program_id.to_owned(), (from + SEED_CHUNK).min(n));
        db.write(move |c| chunk(c, &program_id, from..to, balance, earned_at)).await?;
    }
    Ok(())
}

/// Customers and cards `range`, written with multi-row INSERTs (the enrolment path, one
/// customer at a time, would make seeding most of the run), then their balances, posted as
/// adjustments so that every balance equals its ledger and its lots.
fn chunk(
    c: &mut DbConn,
    program_id: &str,
    range: std::ops::Range<usize>,
    balance: fn(usize) -> i64,
    earned_at: fn(usize) -> Option<chrono::NaiveDateTime>,
) -> Result<(), AppError> {
    use diesel::RunQueryDsl as _;
    use encarte::db::schema::{cards, customers};
    let now = repo::now();
    let customers: Vec<Customer> = range
        .clone()
        .map(|i| Customer {
            id: repo::new_id(),
            program_id: program_id.to_owned(),
            email: format!("c{i}@mexx.test"),
            first_name: "Zoé".into(),
            phone: None,
            locale: "fr".into(),
            created_at: now,
            email_key: None,
            phone_key: None,
            device_key: None,
            erased_at: None,
        })
        .collect();
    // Without referral codes: 100,000 random ones would collide (the enrolment path draws again).
    let cards: Vec<Card> = customers
        .iter()
        .map(|customer| Card {
            referral_code: None,
            ..encarte::service::customers::new_card(program_id, &customer.id, now)
        })
        .collect();
    for (customers, cards) in customers.chunks(500).zip(cards.chunks(500)) {
        match c {
            DbConn::Pg(c) => {
                diesel::insert_into(customers::table).values(customers).execute(c)?;
                diesel::insert_into(cards::table).values(cards).execute(c)?;
            }
            DbConn::Sqlite(c) => {
                diesel::insert_into(customers::table).values(customers).execute(c)?;
                diesel::insert_into(cards::table).values(cards).execute(c)?;
            }
        }
    }
    let postings: Vec<Posting<'_>> = cards
        .iter()
        .zip(range)
        .filter(|(_, i)| balance(*i) != 0)
        .map(|(card, i)| Posting {
            program_id,
            card_id: &card.id,
            delta: balance(i),
            kind: EntryKind::Adjust,
            purchase_id: None,
            staff_id: None,
            reason: Some("seed"),
            earned_at: earned_at(i),
        })
        .collect();
    post_many(c, &postings, Guard { only_active: true, no_overdraft: false })?;
    Ok(())
}
