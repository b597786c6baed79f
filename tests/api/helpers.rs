//! `spawn_app`: the real server on port 0 against a fresh database (a SQLite file in a temp
//! directory, or a PostgreSQL schema dropped afterwards), plus fixtures and request helpers.
//! A `TestApp` fails its test when it is dropped with due jobs never run (see its `Drop`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use reqwest::StatusCode;
use serde_json::{Value, json};

use encarte::config::Config;
use encarte::context::AppContext;
use encarte::db::Db;
use encarte::domain::role::Role;
use encarte::jobs::{Registry, Worker, WorkerSettings};
use encarte::service::Actor;
use encarte::service::auth::AuthKeys;
use encarte::service::programs::{self, NewProgram};
use encarte::startup::Application;

pub const PASSWORD: &str = "correct horse battery";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        encarte::telemetry::init("info,encarte=debug", false);
    }
});

/// The admin URL of the PostgreSQL server when the suite runs there.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("ENCARTE_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// A database of its own for one test, removed when the test ends (even when it fails).
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, schema: String, dir: tempfile::TempDir },
}

impl TestDb {
    pub fn new() -> (TestDb, String) {
        let dir = tempfile::tempdir().expect("temp dir");
        match postgres_admin_url() {
            Some(admin_url) => {
                let schema = format!("test_{}", uuid_simple());
                let mut conn =
                    PgConnection::establish(&admin_url).expect("PostgreSQL must be reachable for this suite");
                conn.batch_execute(&format!("CREATE SCHEMA \"{schema}\"")).expect("create schema");
                let url = with_search_path(&admin_url, &schema);
                (TestDb::Postgres { admin_url, schema, dir }, url)
            }
            None => {
                let url = format!("sqlite://{}", dir.path().join("encarte.db").display());
                (TestDb::Sqlite(dir), url)
            }
        }
    }

    pub fn dir(&self) -> &std::path::Path {
        match self {
            TestDb::Sqlite(dir) | TestDb::Postgres { dir, .. } => dir.path(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, schema, .. } = self
            && let Ok(mut conn) = PgConnection::establish(admin_url)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
        }
    }
}

pub fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

pub fn uuid_simple() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

pub struct Tokens {
    pub program_id: String,
    pub location_id: String,
    pub owner: String,
    pub manager: String,
    pub cashier: String,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// What job handlers get: the database and this app's wallet channels (APNs client...).
    pub deps: AppContext,
    /// The configuration the app was built with.
    pub config: Config,
    /// The first program's staff tokens.
    pub staff: Tokens,
    keys: AuthKeys,
    handle: actix_web::dev::ServerHandle,
    /// Set by [`TestApp::jobs_may_stay`]: the drop check lets due jobs stay queued.
    jobs_may_stay: AtomicBool,
    /// Dropped last: the schema goes once the server has let go of it.
    _test_db: TestDb,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the workers close their connections as they exit.
        drop(self.handle.stop(false));
        // A failing test shows its own failure, not this one.
        if std::thread::panicking() || self.jobs_may_stay.load(Ordering::Relaxed) {
            return;
        }
        let left = self.due_jobs_blocking();
        if !left.is_empty() {
            let total: i64 = left.iter().map(|(_, n)| n).sum();
            let kinds: Vec<String> = left.iter().map(|(kind, n)| format!("{kind}×{n}")).collect();
            panic!(
                "{total} queued jobs were never run: {} — call app.run_jobs().await or app.jobs_may_stay()",
                kinds.join(", ")
            );
        }
    }
}

/// One development chain for the whole test process: RSA key generation is slow, and every
/// test server loads it as a "configured" PEM certificate.
pub static DEV_CERTS: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("temp dir");
    encarte::wallet::apple::generate_dev_chain(
        dir.path(),
        encarte::wallet::DEV_PASS_TYPE_ID,
        encarte::wallet::DEV_TEAM_ID,
    )
    .expect("dev chain");
    dir
});

pub fn test_config(url: &str, data_dir: &std::path::Path) -> Config {
    let certs = DEV_CERTS.path();
    Config {
        templates_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        apple_cert: Some(certs.join("pass.pem")),
        apple_key: Some(certs.join("pass.key")),
        apple_wwdr: Some(certs.join("wwdr.pem")),
        bind: "127.0.0.1:0".into(),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(url.to_owned()),
        demo: false,
        jwt_secret: Some(JWT_SECRET.into()),
        db_pool_size: 8,
        worker: false,
        http_workers: 2,
        ..Config::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    LazyLock::force(&TRACING);
    let (test_db, url) = TestDb::new();
    let mut config = test_config(&url, test_db.dir());
    tweak(&mut config);
    let app = Application::build_with(config.clone(), encarte::startup::registry).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (db, deps, handle) = (app.db(), app.deps(), app.handle());
    tokio::spawn(app.run_until_stopped());
    let keys = AuthKeys::new(JWT_SECRET.as_bytes(), 12);
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().expect("client");
    let mut app = TestApp {
        address,
        client,
        db,
        deps,
        config,
        staff: Tokens {
            program_id: String::new(),
            location_id: String::new(),
            owner: String::new(),
            manager: String::new(),
            cashier: String::new(),
        },
        keys,
        handle,
        jobs_may_stay: AtomicBool::new(false),
        _test_db: test_db,
    };
    app.staff = app.new_program("shop").await;
    app
}

impl TestApp {
    /// Creates a program with an owner, a manager and a cashier, and tokens for each.
    pub async fn new_program(&self, slug: &str) -> Tokens {
        let slug_owned = slug.to_owned();
        let created = self
            .db
            .write(move |c| {
                programs::create(
                    c,
                    NewProgram::paris_shop(
                        &slug_owned,
                        &format!("Shop {slug_owned}"),
                        "Main street",
                        vec![
                            (format!("owner@{slug_owned}.test"), Role::Owner, PASSWORD.into()),
                            (format!("manager@{slug_owned}.test"), Role::Manager, PASSWORD.into()),
                            (format!("cashier@{slug_owned}.test"), Role::Cashier, PASSWORD.into()),
                        ],
                    ),
                )
            })
            .await
            .expect("program created");
        let (program_id, location_id) = (created.program.id.clone(), created.location.id.clone());
        let staff_ids = self.staff_ids(&program_id).await;
        let token = |role: Role| {
            let staff_id =
                staff_ids.iter().find(|(_, r)| *r == role.as_str()).map(|(id, _)| id.clone()).expect("staff");
            let location_id = (role == Role::Cashier).then(|| location_id.clone());
            self.keys.issue(&Actor { staff_id, program_id: program_id.clone(), role, location_id }, 0).expect("token")
        };
        Tokens {
            owner: token(Role::Owner),
            manager: token(Role::Manager),
            cashier: token(Role::Cashier),
            program_id: program_id.clone(),
            location_id: location_id.clone(),
        }
    }

    async fn staff_ids(&self, program_id: &str) -> Vec<(String, String)> {
        use diesel::prelude::*;
        use encarte::db::schema::staff_users::dsl as s;
        let program_id = program_id.to_owned();
        self.db
            .read(move |c| Ok(s::staff_users.filter(s::program_id.eq(program_id)).select((s::id, s::role)).load(c)?))
            .await
            .expect("staff ids")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let text = res.text().await.expect("body");
        if status == StatusCode::NO_CONTENT && text.is_empty() {
            return (status, Value::Null);
        }
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON answer {status}: {text}"));
        (status, json)
    }

    pub async fn post(&self, path: &str, token: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(token), key, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, Some(token), None, None).await
    }

    /// Enrols a customer in the first program and returns the card JSON.
    pub async fn enrol(&self, email: &str) -> Value {
        self.enrol_with(&self.staff.cashier, email).await
    }

    pub async fn enrol_with(&self, token: &str, email: &str) -> Value {
        let (status, body) =
            self.post("/api/v1/customers", token, None, &json!({"email": email, "first_name": "Zoé"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["card"].clone()
    }

    pub async fn purchase(&self, token: &str, card: &str, cents: i64, key: &str) -> (StatusCode, Value) {
        self.post(
            "/api/v1/purchases",
            token,
            Some(key),
            &json!({"card": card, "amount_cents": cents, "currency": "EUR"}),
        )
        .await
    }

    /// A manager's adjustment of `points` on the card with this id; the answer.
    pub async fn adjust(&self, card: &str, points: i64) -> Value {
        let key = format!("adjust-{card}-{points}-{}", uuid_simple());
        let path = format!("/api/v1/cards/{card}/adjustments");
        let body = json!({"points": points, "reason": "test"});
        let (status, res) = self.post(&path, &self.staff.manager, Some(&key), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{res}");
        res
    }

    /// A reward of the first program, created by its manager; returns its id.
    pub async fn create_reward(&self, body: &Value) -> String {
        let (status, reward) = self.post("/api/v1/rewards", &self.staff.manager, None, body).await;
        assert_eq!(status, StatusCode::CREATED, "{reward}");
        reward["id"].as_str().expect("reward id").to_owned()
    }

    /// The cashier claims the reward for the card; returns the claim's answer.
    pub async fn claim(&self, card_id: &str, reward_id: &str, key: &str) -> (StatusCode, Value) {
        let path = format!("/api/v1/cards/{card_id}/rewards/{reward_id}");
        self.post(&path, &self.staff.cashier, Some(key), &json!({})).await
    }

    pub async fn balance(&self, card: &str) -> i64 {
        let (status, body) = self.get(&format!("/api/v1/cards/{card}"), &self.staff.cashier).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["balance"].as_i64().expect("balance")
    }

    /// Queues a job row as it stands, payload and all: what an older build (or a bug) left in
    /// the outbox.
    pub async fn queue_raw(&self, kind: &'static str, program_id: Option<String>, payload: String) {
        use encarte::db::repo::{self, outbox};
        self.db
            .write(move |c| {
                let now = repo::now();
                let job = outbox::NewJob {
                    program_id: program_id.as_deref(),
                    kind,
                    payload: &payload,
                    dedupe_key: None,
                    state: encarte::domain::status::JobState::Pending,
                    attempts: 0,
                    max_attempts: 12,
                    run_at: now,
                    created_at: now,
                };
                Ok(outbox::enqueue(c, &job)?)
            })
            .await
            .unwrap();
    }

    /// For tests that leave due jobs queued on purpose (about the outbox itself): the drop check
    /// lets them stay.
    pub fn jobs_may_stay(&self) {
        self.jobs_may_stay.store(true, Ordering::Relaxed);
    }

    /// The due jobs not finished, by kind. Sync, on a connection of its own: it runs in `Drop`,
    /// on the test's runtime thread (mostly a current-thread runtime), where nothing can be
    /// awaited and waiting on the pool could starve the very tasks that would free it.
    fn due_jobs_blocking(&self) -> Vec<(String, i64)> {
        let url = self.config.database_url.as_deref().expect("the test app has a database URL");
        let mut conn = encarte::db::DbUrl::parse(url)
            .expect("a valid database URL")
            .establish()
            .expect("the drop check connects to the test database");
        due_jobs(&mut conn).expect("the drop check reads the outbox")
    }

    /// For apps with a real worker (`worker: true`): waits until it has left no due job queued,
    /// so the drop check sees its outcome rather than a race. Panics after `within`.
    pub async fn wait_for_worker(&self, within: std::time::Duration) {
        let started = std::time::Instant::now();
        loop {
            let left = self.db.read(|c| Ok(due_jobs(c)?)).await.expect("outbox read");
            if left.is_empty() {
                return;
            }
            assert!(started.elapsed() < within, "the worker left due jobs queued after {within:?}: {left:?}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// The e-mails the default mailer (the file transport) has written, raw, by file name.
    pub fn sent_mails(&self) -> Vec<String> {
        let dir = self.config.data_dir.join("mail");
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut files: Vec<std::path::PathBuf> = entries.map(|e| e.expect("mail dir entry").path()).collect();
        files.sort();
        files.iter().map(|f| std::fs::read_to_string(f).expect("mail file")).collect()
    }

    /// Runs every due outbox job with the standard handlers.
    pub async fn run_jobs(&self) -> usize {
        let worker = self.worker(encarte::startup::registry(&self.deps));
        encarte::jobs::drain(&[worker]).await.expect("jobs run")
    }

    pub fn worker(&self, registry: Registry) -> Worker {
        Worker::new(
            self.db.clone(),
            Arc::new(registry),
            WorkerSettings {
                concurrency: 8,
                kind_limits: std::collections::HashMap::default(),
                lease: std::time::Duration::from_secs(30),
                poll: std::time::Duration::from_millis(10),
                idempotency_retention: chrono::Duration::hours(48),
            },
        )
    }

    /// Invariant 1: every card's balance equals the sum of its ledger, and its open lots what
    /// the balance holds above zero (`balance == SUM(open lots) - debt`).
    pub async fn assert_ledger_consistent(&self) {
        let bad = self.db.read(|c| Ok(encarte::db::repo::ledger::mismatched_balances(c)?)).await.expect("audit");
        assert!(bad.is_empty(), "balance != SUM(ledger) for {bad:?}");
        let bad = self.db.read(|c| Ok(encarte::db::repo::lots::mismatched(c)?)).await.expect("audit");
        assert!(bad.is_empty(), "MAX(balance, 0) != SUM(open lots) for (card, balance, lots) {bad:?}");
    }

    /// Raw SQL count, for assertions on what was (not) written.
    pub async fn count(&self, table: &'static str, filter: &str) -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table} WHERE {filter}");
        self.db.read(move |c| Ok(diesel::sql_query(sql).get_result::<N>(c)?.n)).await.expect("count")
    }

    /// Another node on this app's database (its own pool, caches and HTTP server), as a second
    /// `encarte serve` behind the load balancer would be: its base URL. It stops with the test.
    pub async fn second_node(&self) -> String {
        let node = Application::build_with(self.config.clone(), encarte::startup::registry)
            .await
            .expect("a second node builds on the same database");
        let address = format!("http://127.0.0.1:{}", node.port());
        tokio::spawn(node.run_until_stopped());
        address
    }

    /// Raw SQL write, for states no API call makes (a row deleted or changed behind the service's back).
    pub async fn exec(&self, sql: &str) -> usize {
        use diesel::prelude::*;
        let sql = sql.to_owned();
        self.db.write(move |c| Ok(diesel::sql_query(sql).execute(c)?)).await.expect("SQL runs")
    }
}

/// The jobs due and not finished, by kind: pending or running with `run_at <= now`. A recurring
/// job's next run, or a retry's backoff, is not due yet.
fn due_jobs(conn: &mut encarte::db::DbConn) -> diesel::QueryResult<Vec<(String, i64)>> {
    use diesel::prelude::*;
    use encarte::db::schema::outbox_jobs::dsl as j;
    use encarte::domain::status::JobState;
    j::outbox_jobs
        .filter(j::state.eq_any([JobState::Pending, JobState::Running]))
        .filter(j::run_at.le(encarte::db::repo::now()))
        .group_by(j::kind)
        .select((j::kind, diesel::dsl::count_star()))
        .order(j::kind)
        .load(conn)
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error body: {body}"))
}
