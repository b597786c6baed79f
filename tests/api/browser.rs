//! End to end in a real browser: `tests/browser/e2e.mjs` drives Debian's headless Chromium through
//! playwright-core against a server with the demo program and its worker on (so the welcome e-mail
//! lands in `{data_dir}/mail`). One test, one Chromium launch: the steps share the browser.
//! Screenshots of each step go to `target/browser-screenshots/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::helpers::spawn_app_with;

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

/// `target/browser-screenshots/`, in `CARGO_TARGET_DIR` when it is set.
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| manifest_dir().join("target"), |t| if t.is_relative() { manifest_dir().join(t) } else { t });
    target.join("browser-screenshots")
}

/// A port nobody listens on right now, so that the public URL in the e-mail is the server's own.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_enrol_card_purchase_and_csrf() {
    let script = manifest_dir().join("tests/browser/e2e.mjs");
    let playwright = manifest_dir().join("tests/browser/node_modules/playwright-core");
    assert!(
        Path::new(CHROMIUM).exists() && playwright.is_dir(),
        "the browser test needs {CHROMIUM} and {}: run `tests/run` (it installs Debian's chromium and runs \
         `npm ci` in tests/browser), or `apt-get install chromium && (cd tests/browser && npm ci)`",
        playwright.display()
    );

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
    let mail_dir = app.config.data_dir.join("mail");
    let shots = screenshot_dir();
    if shots.exists() {
        std::fs::remove_dir_all(&shots).expect("old screenshots removed");
    }
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    let started = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&app.address)
        .arg(&mail_dir)
        .arg(&shots)
        .env("E2E_STAFF_EMAIL", "cashier@demo.test")
        .env("E2E_STAFF_PASSWORD", DEMO_PASSWORD)
        .env("E2E_CHROMIUM", CHROMIUM)
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs (is Node.js installed?)");
    let output = tokio::time::timeout(NODE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("the browser test took more than {NODE_TIMEOUT:?}; screenshots in {}", shots.display())
        })
        .expect("node's output");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{stdout}{stderr}node ran {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "the browser test failed ({}); screenshots in {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status,
        shots.display()
    );

    for name in SCREENSHOTS {
        let path = shots.join(name);
        let png = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "{} is not a PNG", path.display());
    }
    // What the browser did went through the ledger like any other purchase.
    app.assert_ledger_consistent().await;
    // The worker may still be on the last purchase's jobs.
    app.wait_for_worker(Duration::from_secs(5)).await;
}
