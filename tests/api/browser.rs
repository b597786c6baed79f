//! End to end in a real browser: `tests/browser/e2e.mjs` drives Debian's headless Chromium through
//! playwright-core against a server with the demo program and its worker on (so the welcome e-mail
//! lands in `{data_dir}/mail`). One test, one Chromium launch: the steps share the browser.
//! Screenshots of each step go to `target/browser-screenshots/`.
//!
//! `tests/browser/console.mjs` does the same for the merchant console (`browser_console`), its
//! screenshots in `target/browser-screenshots-console/` (a directory of its own: the two tests run
//! at the same time, and each empties its directory first).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

const DEMO_PASSWORD: &str = "demo password for the browser test";
const CHROMIUM: &str = "/usr/bin/chromium";
const NODE_TIMEOUT: Duration = Duration::from_mins(2);

/// The screenshots that every run leaves behind (the names e2e.mjs gives its steps).
const SCREENSHOTS: &[&str] = &[
    "01-enrol-form.png",
    "02-enrol-empty-errors.png",
    "03-enrol-bad-email.png",
    "04-check-email.png",
    "05-card-new.png",
    "06-staff-login.png",
    "07-staff-card.png",
    "08-staff-purchase.png",
    "09-card-after-purchase.png",
    "10-csrf-forged-form.png",
    "11-card-rewards.png",
    "12-card-voucher.png",
    "13-staff-voucher-purchase.png",
];

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/`, or `CARGO_TARGET_DIR` when it is set.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| manifest_dir().join("target"), |t| if t.is_relative() { manifest_dir().join(t) } else { t })
}

/// A port nobody listens on right now, so that the public URL in the e-mail is the server's own.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Chromium and playwright-core are there, or the test says how to get them.
fn assert_browser_installed() {
    let playwright = manifest_dir().join("tests/browser/node_modules/playwright-core");
    assert!(
        Path::new(CHROMIUM).exists() && playwright.is_dir(),
        "the browser test needs {CHROMIUM} and {}: run `tests/run` (it installs Debian's chromium and runs \
         `npm ci` in tests/browser), or `apt-get install chromium && (cd tests/browser && npm ci)`",
        playwright.display()
    );
}

/// A server with the demo program and its worker on, listening on the port of its public URL.
async fn spawn_demo_app() -> TestApp {
    let port = free_port();
    let app = spawn_app_with(|config| {
        config.bind = format!("127.0.0.1:{port}");
        config.public_url = Some(format!("http://127.0.0.1:{port}"));
        config.demo = true;
        config.demo_password = Some(DEMO_PASSWORD.into());
        config.worker = true;
        config.worker_poll_ms = 50;
    })
    .await;
    assert_eq!(app.address, format!("http://127.0.0.1:{port}"));
    app
}

/// `{target}/{name}/`, emptied of an earlier run's screenshots.
fn fresh_screenshot_dir(name: &str) -> PathBuf {
    let shots = target_dir().join(name);
    if shots.exists() {
        std::fs::remove_dir_all(&shots).expect("old screenshots removed");
    }
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    shots
}

/// Runs `node tests/browser/{script} BASE_URL MAIL_DIR SCREENSHOT_DIR` against `app` with `env`
/// (and `E2E_CHROMIUM`), within [`NODE_TIMEOUT`]; prints what it printed and asserts that it
/// succeeded. Returns its standard output.
async fn run_node(script: &str, app: &TestApp, shots: &Path, env: &[(&str, &str)]) -> String {
    let started = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(manifest_dir().join("tests/browser").join(script))
        .arg(&app.address)
        .arg(app.config.data_dir.join("mail"))
        .arg(shots)
        .envs(env.iter().copied())
        .env("E2E_CHROMIUM", CHROMIUM)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (is Node.js installed?)");
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("the browser test {script} took more than {NODE_TIMEOUT:?}; screenshots in {}", shots.display())
        })
        .expect("node's output");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{stdout}{stderr}node ran {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "the browser test {script} failed ({}); screenshots in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        shots.display()
    );
    stdout.into_owned()
}

/// Each of `names` in `dir` is a PNG of some size.
fn check_screenshots<'a>(dir: &Path, names: impl IntoIterator<Item = &'a &'a str>) {
    for name in names {
        let path = dir.join(name);
        let png = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "{} is not a PNG", path.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_enrol_card_purchase_and_csrf() {
    assert_browser_installed();
    let app = spawn_demo_app().await;
    let shots = fresh_screenshot_dir("browser-screenshots");
    run_node(
        "e2e.mjs",
        &app,
        &shots,
        &[("E2E_STAFF_EMAIL", "cashier@demo.test"), ("E2E_STAFF_PASSWORD", DEMO_PASSWORD)],
    )
    .await;
    check_screenshots(&shots, SCREENSHOTS);
    // What the browser did went through the ledger like any other purchase.
    app.assert_ledger_consistent().await;
    // The worker may still be on the last purchase's jobs.
    app.wait_for_worker(Duration::from_secs(5)).await;
}

/// The console test's screenshots (console.mjs names them), the design step's apart.
const CONSOLE_SCREENSHOTS: &[&str] = &[
    "c01-login.png",
    "c01-home.png",
    "c01-home-360.png",
    "c02-earning-live.png",
    "c02-earning-saved.png",
    "c03-invite.png",
    "c03-invited.png",
    "c04-invitation.png",
    "c04-staff.png",
    "c06-promo-form.png",
    "c06-promo.png",
    "c07-members.png",
    "c07-member-adjusted.png",
    "c08-till-purchase.png",
    "c08-home-after.png",
    "c09-segments.png",
    "c10-insights.png",
];
/// Left out with `E2E_SKIP_DESIGN=1`.
const DESIGN_SCREENSHOTS: &[&str] = &["c05-design-draft.png", "c05-design-published.png"];

const NEW_CASHIER: &str = "lea@demo.test";
const NEW_CASHIER_PASSWORD: &str = "Léa's own till password";
const NEW_SHOP: &str = "Lyon Part-Dieu";

/// A staff token of the demo programme, from its login.
async fn demo_login(app: &TestApp, email: &str, password: &str) -> Value {
    let (status, login) = app
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            None,
            Some(&json!({"email": email, "password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{email} logs in: {login}");
    login
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_console() {
    assert_browser_installed();
    // The card design step, unless E2E_SKIP_DESIGN=1.
    let design = std::env::var("E2E_SKIP_DESIGN").as_deref() != Ok("1");

    let app = spawn_demo_app().await;
    let shots = fresh_screenshot_dir("browser-screenshots-console");
    let customer_email = format!("console-{}@example.com", &crate::helpers::uuid_simple()[20..]);
    let stdout = run_node(
        "console.mjs",
        &app,
        &shots,
        &[
            ("E2E_OWNER_EMAIL", "owner@demo.test"),
            ("E2E_OWNER_PASSWORD", DEMO_PASSWORD),
            ("E2E_CASHIER_EMAIL", NEW_CASHIER),
            ("E2E_CASHIER_PASSWORD", NEW_CASHIER_PASSWORD),
            ("E2E_CUSTOMER_EMAIL", &customer_email),
            ("E2E_SKIP_DESIGN", if design { "0" } else { "1" }),
        ],
    )
    .await;
    assert_eq!(stdout.contains("design step is skipped"), !design, "console.mjs ran the design step: {design}");

    let design_shots = if design { DESIGN_SCREENSHOTS } else { &[] };
    check_screenshots(&shots, CONSOLE_SCREENSHOTS.iter().chain(design_shots));
    app.assert_ledger_consistent().await;

    // What the console saved is what the API reads.
    let owner = demo_login(&app, "owner@demo.test", DEMO_PASSWORD).await;
    let owner = owner["token"].as_str().expect("the owner's token");
    let (status, program) = app.get("/api/v1/program", owner).await;
    assert_eq!(status, StatusCode::OK, "{program}");
    assert_eq!(
        (&program["earn_points"], &program["earn_per_cents"], &program["earn_rounding"]),
        (&json!(2), &json!(100), &json!("down")),
        "the earning rule set in the console: {program}"
    );
    let (status, campaigns) = app.get("/api/v1/promo-campaigns", owner).await;
    assert_eq!(status, StatusCode::OK, "{campaigns}");
    let noel: Vec<&Value> = campaigns.as_array().expect("a list").iter().filter(|c| c["code"] == "NOEL10").collect();
    assert_eq!(noel.len(), 1, "one campaign NOEL10: {campaigns}");
    assert_eq!(noel[0]["effect"], json!({"bonus_points": 10}), "{campaigns}");

    // The customer: 30 points by the owner's adjustment, 25 for 12.50 EUR under the new rule.
    let (status, found) = app.get(&format!("/api/v1/customers?query={customer_email}"), owner).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let members = found["members"].as_array().expect("members");
    assert_eq!(members.len(), 1, "{found}");
    assert_eq!(members[0]["balance"], 55, "30 adjusted + 25 earned: {found}");
    let customer_id = members[0]["id"].as_str().expect("the customer's id");
    let (status, member) = app.get(&format!("/api/v1/customers/{customer_id}"), owner).await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(member["card"]["balance"], 55, "{member}");
    let card_id = member["card"]["id"].as_str().expect("the card's id").to_owned();

    // Léa: a cashier at the new shop with her own argon2 hash, and the purchase is hers, there.
    let lyon = format!("SELECT id FROM locations WHERE name = '{NEW_SHOP}'");
    let lea = format!(
        "email = '{NEW_CASHIER}' AND role = 'cashier' AND password_hash LIKE '$argon2%' AND location_id IN ({lyon})"
    );
    assert_eq!(app.count("staff_users", &lea).await, 1, "{NEW_CASHIER}, a cashier at {NEW_SHOP}, with an argon2 hash");
    let purchase = format!(
        "card_id = '{card_id}' AND amount_cents = 1250 AND points_earned = 25 AND bonus_points = 0 \
         AND location_id IN ({lyon}) AND staff_id IN (SELECT id FROM staff_users WHERE email = '{NEW_CASHIER}')"
    );
    assert_eq!(app.count("purchases", &purchase).await, 1, "Léa's purchase of 12.50 EUR at {NEW_SHOP}");
    assert_eq!(app.count("purchases", &format!("card_id = '{card_id}'")).await, 1, "one purchase on the card");
    let lea = demo_login(&app, NEW_CASHIER, NEW_CASHIER_PASSWORD).await;
    assert_eq!(lea["role"], "cashier", "{lea}");

    // With the design published, the pass carries the uploaded logo (480×150 drawn at 160×50 for
    // 1x), not the shipped one; without it, the shipped one byte for byte.
    let res = app
        .client
        .get(app.url(&format!("/api/v1/cards/{card_id}/pass.pkpass")))
        .bearer_auth(owner)
        .send()
        .await
        .expect("the pass");
    assert_eq!(res.status(), StatusCode::OK);
    let pkpass = res.bytes().await.expect("the pass's bytes");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(pkpass)).expect("a zip archive");
    let mut logo = Vec::new();
    zip.by_name("logo.png").expect("logo.png in the pass").read_to_end(&mut logo).expect("logo.png read");
    assert!(logo.starts_with(b"\x89PNG\r\n\x1a\n") && logo.len() > 24, "the pass's logo.png is a PNG");
    let shipped = std::fs::read(manifest_dir().join("templates/passes/default/logo.png")).expect("default logo");
    if design {
        assert_ne!(logo, shipped, "the published design's logo replaces the default one");
        let size = |at: usize| u32::from_be_bytes(logo[at..at + 4].try_into().expect("4 bytes"));
        assert_eq!((size(16), size(20)), (160, 50), "the uploaded 480×150 logo at 1x");
    } else {
        assert_eq!(logo, shipped, "without a published design the pass has the default logo");
    }
    // The worker may still be on the last jobs (the purchase's pass update, the design's redraw).
    app.wait_for_worker(Duration::from_secs(5)).await;
}
