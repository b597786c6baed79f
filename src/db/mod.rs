//! Storage: one connection type over SQLite and PostgreSQL (`diesel::MultiConnection`), the pool,
//! embedded migrations, and the write transaction. Backend-specific code lives here and in
//! `repo/` only, in a `match` on [`DbConn`].

pub mod repo;
pub mod schema;
pub mod wake;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection, PooledConnection, R2D2Connection};
use diesel::result::Error as DieselError;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use scheduled_thread_pool::ScheduledThreadPool;

use crate::error::AppError;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A database URL whose scheme has been checked. Anything but `sqlite:` and `postgres(ql)://` is
/// refused: a typo must never silently create an empty SQLite file.
#[derive(Clone)]
pub struct DbUrl {
    backend: Backend,
    target: String,
}

impl std::fmt::Debug for DbUrl {
    // Never print the URL itself: it may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbUrl({})", self.backend.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbUrlError {
    #[error("DATABASE_URL has an unknown scheme {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnknownScheme(String),
    #[error("DATABASE_URL names no SQLite file: use sqlite://PATH")]
    EmptyPath,
}

impl DbUrl {
    pub fn parse(url: &str) -> Result<Self, DbUrlError> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if rest.is_empty() {
                return Err(DbUrlError::EmptyPath);
            }
            return Ok(DbUrl { backend: Backend::Sqlite, target: rest.to_owned() });
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // libpq waits for the OS timeout (minutes) on an unreachable host unless told otherwise.
            let target = if url.contains("connect_timeout=") {
                url.to_owned()
            } else {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}connect_timeout=5")
            };
            return Ok(DbUrl { backend: Backend::Postgres, target });
        }
        let scheme = url.split(':').next().unwrap_or_default();
        Err(DbUrlError::UnknownScheme(scheme.chars().take(20).collect()))
    }

    pub fn sqlite(path: &std::path::Path) -> Self {
        DbUrl { backend: Backend::Sqlite, target: path.display().to_string() }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.backend == Backend::Sqlite && !self.target.starts_with("file:") && self.target != ":memory:")
            .then(|| PathBuf::from(&self.target))
    }

    /// Opens one connection of the right backend, with our SQLite settings applied.
    pub fn establish(&self) -> Result<DbConn, r2d2::Error> {
        match self.backend {
            Backend::Postgres => {
                PgConnection::establish(&self.target).map(DbConn::Pg).map_err(r2d2::Error::ConnectionError)
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.target).map_err(r2d2::Error::ConnectionError)?;
                // foreign_keys is off by default in SQLite; busy_timeout lets writers queue instead of failing.
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// r2d2 opens connections in the background, on these threads, shared by every pool of the
/// process. A process must not leave while one of them is in libpq's TLS handshake: OpenSSL's
/// exit-time clean-up then frees what the handshake is using (SIGSEGV, now and then, at the end
/// of `encarte migrate`). [`shutdown`] waits for them. They are never stopped: a thread that
/// ends runs OpenSSL's per-thread clean-up, which would meet the exit-time one the same way.
static CONNECTORS: LazyLock<Arc<ScheduledThreadPool>> = LazyLock::new(|| {
    Arc::new(ScheduledThreadPool::builder().num_threads(CONNECTOR_THREADS).thread_name_pattern("encarte-db-{}").build())
});
const CONNECTOR_THREADS: usize = 4;

/// Set by [`shutdown`]: no connection is opened after it.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Call last, before the process exits: no database connection is opened from now on, and none
/// is being opened or closed when this returns. The pools themselves must be dropped before
/// (a connector thread that still held one has dropped it when this returns).
pub fn shutdown() {
    CLOSED.store(true, Ordering::SeqCst);
    Listening::wait_all(Duration::from_secs(2));
    // Every connector thread takes one of these jobs, so all of them have finished the job they
    // were running (a connection attempt, a pool's last reference) once the barrier opens.
    let barrier = Arc::new(Barrier::new(CONNECTOR_THREADS + 1));
    for _ in 0..CONNECTOR_THREADS {
        let barrier = barrier.clone();
        CONNECTORS.execute(move || {
            barrier.wait();
        });
    }
    barrier.wait();
}

pub(crate) fn closing() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// The LISTEN threads still holding a connection ([`wake`]); [`shutdown`] waits for them to let go.
static LISTENING: (Mutex<usize>, std::sync::Condvar) = (Mutex::new(0), std::sync::Condvar::new());

struct Listening;

impl Listening {
    fn start() -> Listening {
        *LISTENING.0.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Listening
    }

    fn wait_all(timeout: Duration) {
        let guard = LISTENING.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = LISTENING.1.wait_timeout_while(guard, timeout, |n| *n > 0);
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        *LISTENING.0.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        LISTENING.1.notify_all();
    }
}

pub struct Manager {
    url: DbUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        if CLOSED.load(Ordering::SeqCst) {
            return Err(r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(
                "the process is shutting down".to_owned(),
            )));
        }
        self.url.establish()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

pub type PooledConn = PooledConnection<Manager>;

/// The shared handle to the database: a pool plus the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// SQLite has one writer at a time. Writers of this process queue here, woken as soon as the
    /// lock is free, instead of in SQLite's busy handler, which sleeps up to 100 ms between tries
    /// and serves nobody in order (p99 was 80 × p50 under 16 concurrent tills). Other processes
    /// on the same file still meet at `BEGIN IMMEDIATE`.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// Rung after a write that queued jobs commits (see [`wake`]).
    bell: wake::Bell,
    url: DbUrl,
}

impl Db {
    /// Connects (failing within `timeout` when the database can't be reached) and runs the
    /// embedded migrations.
    pub fn open(url: &DbUrl, pool_size: u32, timeout: Duration) -> anyhow::Result<Db> {
        if let Some(path) = url.sqlite_path() {
            // WAL is a property of the file: set it once, before the pool opens its connections.
            let mut conn =
                url.establish().with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            if let DbConn::Sqlite(c) = &mut conn {
                c.batch_execute("PRAGMA journal_mode = WAL;")?;
            }
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(timeout)
            .thread_pool(CONNECTORS.clone())
            .build(Manager { url: url.clone() })
            .map_err(|e| anyhow::anyhow!("cannot connect to the {} database: {e}", url.backend.name()))?;
        let sqlite_writer = (url.backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let db = Db { pool, backend: url.backend, sqlite_writer, bell: wake::Bell::default(), url: url.clone() };
        let mut conn = db.conn().map_err(|e| anyhow::anyhow!("{e}"))?;
        run_migrations(&mut conn)?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<PooledConn, AppError> {
        self.pool.get().map_err(|e| AppError::Unavailable(anyhow::anyhow!("database pool: {e}")))
    }

    /// Runs `f` in one write transaction on a blocking thread (diesel is synchronous).
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    {
        let db = self.clone();
        blocking(move || {
            // Taken before a connection, so that queued writers don't hold the pool's connections.
            let _turn = db.sqlite_writer.as_ref().map(|w| w.lock().unwrap_or_else(PoisonError::into_inner));
            let result = write_tx(&mut *db.conn()?, f);
            if wake::take_committed() {
                db.bell.ring();
            }
            result
        })
        .await
    }

    /// What this node's workers wait on between polls: rung when a write that queued a job
    /// commits, on this node, or (with [`Db::listen_for_jobs`]) on any node of a PostgreSQL database.
    pub fn bell(&self) -> &wake::Bell {
        &self.bell
    }

    /// On PostgreSQL, also ring on jobs queued by other nodes (`LISTEN`). Once per node.
    pub fn listen_for_jobs(&self) {
        if self.backend == Backend::Postgres {
            self.bell.listen(self.url.target.clone());
        }
    }

    /// Runs `f` in one read transaction, so that everything it reads is one consistent snapshot.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
    {
        let db = self.clone();
        blocking(move || {
            let mut conn = db.conn()?;
            read_tx(&mut conn, f)
        })
        .await
    }
}

/// Runs blocking work off the async workers, keeping the caller's tracing span (request id).
pub async fn blocking<T, F>(f: F) -> Result<T, AppError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, AppError> + Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::web::block(move || span.in_scope(f))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
}

/// One write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so concurrent writers queue
/// on the write lock up front instead of failing when a read lock must be upgraded.
pub fn write_tx<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<DieselError>,
{
    transaction(conn, "BEGIN IMMEDIATE", "BEGIN", f)
}

/// One read-only transaction that sees one snapshot: on PostgreSQL, READ COMMITTED would give
/// each statement its own (a ledger page could disagree with the balance read beside it).
pub fn read_tx<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<DieselError>,
{
    transaction(conn, "BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f)
}

fn transaction<T, E>(
    conn: &mut DbConn,
    sqlite_begin: &str,
    pg_begin: &str,
    f: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<DieselError>,
{
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, sqlite_begin)?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction_sql(c, pg_begin)?,
    }
    wake::begun();
    match f(conn) {
        Ok(value) => {
            let committed = <DbConn as TransactionManager<DbConn>>::commit_transaction(conn);
            wake::ended(committed.is_ok());
            committed?;
            Ok(value)
        }
        Err(err) => {
            wake::ended(false);
            match <DbConn as TransactionManager<DbConn>>::rollback_transaction(conn) {
                Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(err),
                Err(rollback) => Err(rollback.into()),
            }
        }
    }
}

pub fn migrations_for(backend: Backend) -> EmbeddedMigrations {
    match backend {
        Backend::Sqlite => SQLITE_MIGRATIONS,
        Backend::Postgres => POSTGRES_MIGRATIONS,
    }
}

/// Applies pending migrations. On PostgreSQL an advisory lock keeps two nodes starting at once
/// from migrating the same database concurrently.
pub fn run_migrations(conn: &mut DbConn) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        DbConn::Pg(c) => {
            c.batch_execute("SELECT pg_advisory_lock(7311001)")?;
            let result = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
            c.batch_execute("SELECT pg_advisory_unlock(7311001)")?;
            result
        }
    };
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}
