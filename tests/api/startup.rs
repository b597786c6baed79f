//! The binary as a newcomer and an operator meet it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_encarte");

/// Runs `encarte` in `dir` with a clean environment plus `env`, until it exits or `deadline`.
fn run_to_exit(dir: &std::path::Path, env: &[(&str, &str)]) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("encarte runs");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), started.elapsed())
}

#[test]
fn an_unknown_database_scheme_stops_startup_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, took) = run_to_exit(dir.path(), &[("DATABASE_URL", "mysql://root:hunter2@localhost/x")]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown scheme") && stderr.contains("mysql"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "never print the password");
    assert!(took < Duration::from_secs(5));
    assert!(!dir.path().join("data").exists(), "a bad URL creates nothing");
}

#[test]
fn an_unreachable_database_stops_startup_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, took) =
        run_to_exit(dir.path(), &[("DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:1/encarte")]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot connect to the postgres database"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_bad_setting_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("encarte.toml"), "bind = \"127.0.0.1:0\"\nno_such_setting = 1\n").unwrap();
    let (code, stderr, _) = run_to_exit(dir.path(), &[]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no_such_setting"), "{stderr}");
}

/// Starts `encarte` in `dir`, reads stdout until the server listens, then stops it.
fn start_and_stop(dir: &std::path::Path) -> String {
    start_and_stop_with(dir, &[("ENCARTE_DEMO_PASSWORD", "demo-secret-1"), ("ENCARTE_LOG_FORMAT", "json")])
}

fn start_and_stop_with(dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_clear().env("ENCARTE_BIND", "127.0.0.1:0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("encarte starts");
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_mins(1);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("encarte listening") || Instant::now() > deadline {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    seen
}

#[test]
fn a_fresh_start_creates_the_database_and_one_demo() {
    let dir = tempfile::tempdir().unwrap();
    let first = start_and_stop(dir.path());
    assert!(first.contains("encarte listening"), "{first}");
    assert!(first.contains("owner@demo.test") && first.contains("cashier@demo.test"), "{first}");
    assert!(first.contains("password: demo-secret-1"), "{first}");
    assert!(dir.path().join("data/encarte.db").is_file());
    assert!(dir.path().join("data/jwt_secret").is_file());
    let second = start_and_stop(dir.path());
    assert!(second.contains("encarte listening"), "{second}");
    assert!(!second.contains("Demo program"), "no second demo: {second}");
}

#[test]
fn text_settings_given_digits_start_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let out = start_and_stop_with(
        dir.path(),
        &[
            ("ENCARTE_DEMO_PASSWORD", "12345678"),
            ("ENCARTE_JWT_SECRET", "12345678901234567890123456789012345"),
            ("ENCARTE_APPLE_TEAM_ID", "1234567890"),
        ],
    );
    assert!(out.contains("encarte listening"), "{out}");
    assert!(out.contains("password: 12345678\n"), "{out}");
}

#[test]
fn text_logs_in_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = start_and_stop_with(dir.path(), &[("ENCARTE_LOG_FORMAT", "text")]);
    assert!(out.contains("encarte listening"), "{out}");
    assert!(!out.contains('\u{1b}'), "ANSI escapes in a pipe: {out:?}");
}

#[test]
fn the_readme_lists_every_setting() {
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = encarte::config::Config::markdown_table();
    assert!(readme.contains(&table), "README.md is stale: paste the output of `encarte config`:\n{table}");
}

/// Runs an `encarte` subcommand on the SQLite database in `dir`; returns (exit code, stdout, stderr).
fn cli(dir: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}/cli.db", dir.display()))
        .env("ENCARTE_LOG", "warn")
        .output()
        .expect("encarte runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_operator_creates_a_program_and_its_staff_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = cli(
        dir.path(),
        &[
            "create-program",
            "--slug",
            "boulangerie",
            "--name",
            "Boulangerie Martin",
            "--owner-email",
            "Owner@Martin.fr",
            "--earn-points",
            "2",
        ],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("program boulangerie created") && out.contains("Owner@Martin.fr  "), "{out}");
    let (code, out, err) =
        cli(dir.path(), &["add-staff", "--program", "boulangerie", "--email", "lea@martin.fr", "--role", "cashier"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("lea@martin.fr") && out.contains("password: "), "{out}");
    let (code, _, err) = cli(dir.path(), &["add-staff", "--program", "boulangerie", "--email", "lea@martin.fr"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("staff user with this e-mail exists"), "{err}");
    let (code, _, err) =
        cli(dir.path(), &["create-program", "--slug", "Bad Slug", "--name", "x", "--owner-email", "a@b.fr"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("slug"), "{err}");
    let (code, out, _) = cli(dir.path(), &["check"]);
    assert_eq!(code, Some(0), "{out}");

    let mexx = ["create-program", "--slug", "mexx", "--name", "Mexx", "--owner-email", "o@mexx.fr", "--preset", "mexx"];
    let (code, out, err) = cli(dir.path(), &mexx);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(
            "season conversion: from 500 points, every 500 points become a voucher of 500 cents, valid 90 days"
        ),
        "{out}"
    );
    let runs: Vec<&str> = out.lines().filter(|l| l.starts_with("conversion scheduled for ")).collect();
    assert_eq!(runs.len(), 2, "the next two season starts: {out}");
    assert!(
        runs.iter().all(|l| l.contains("-02-28T23:00:00.000Z")
            || l.contains("-02-29T23:00:00.000Z")
            || l.contains("-08-31T22:00:00.000Z")),
        "midnight in Paris on 1 March and 1 September: {out}"
    );
    assert!(out.contains("tiers: lin → velours → soie"), "{out}");
    assert!(out.contains(r#"points expiry: {"mode":"after_earning","months":12,"round":"end_of_month"}"#), "{out}");
    let sephora = ["create-program", "--slug", "seph", "--name", "S", "--owner-email", "o@s.fr", "--preset", "sephora"];
    let (code, out, err) = cli(dir.path(), &sephora);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("tiers: white → black → gold") && !out.contains("conversion"), "{out}");
    assert!(out.contains(r#"points expiry: {"mode":"inactivity","months":18}"#), "{out}");
    let (code, _, err) = cli(
        dir.path(),
        &["create-program", "--slug", "x", "--name", "x", "--owner-email", "a@b.fr", "--preset", "bogus"],
    );
    assert_eq!(code, Some(2), "clap refuses an unknown preset: {err}");
    assert!(err.contains("mexx"), "{err}");
}

/// `migrate` and `check` end cleanly on PostgreSQL over TLS (the local server has ssl on; libpq
/// prefers it): they used to crash now and then at exit, while a pool thread was still in
/// libpq's TLS handshake and OpenSSL's exit-time clean-up ran.
#[test]
fn migrate_and_check_exit_zero_every_time_on_postgres() {
    let Some(admin) = crate::helpers::postgres_admin_url() else {
        eprintln!("skipped: runs with ENCARTE_TEST_DATABASE_URL (the PostgreSQL suite)");
        return;
    };
    let (_db, url) = crate::helpers::TestDb::new();
    assert!(admin.starts_with("postgres"));
    let mut failures = Vec::new();
    for command in ["migrate", "check"] {
        for run in 0..50 {
            let out = Command::new(BIN)
                .arg(command)
                .env_clear()
                .env("DATABASE_URL", &url)
                .env("ENCARTE_LOG", "warn")
                .output()
                .expect("encarte runs");
            if out.status.code() != Some(0) {
                failures.push(format!("{command} #{run}: {:?} {}", out.status, String::from_utf8_lossy(&out.stderr)));
            }
        }
    }
    assert!(failures.is_empty(), "{} of 100 runs failed:\n{}", failures.len(), failures.join("\n"));
}

/// What a device writes to the PassKit log endpoint stays on one line of our log: a newline in it
/// can't start a line that looks like ours.
#[test]
fn a_device_report_cannot_forge_a_log_line() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env_clear()
        .env("ENCARTE_BIND", "127.0.0.1:0")
        .env("ENCARTE_LOG_FORMAT", "text")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("encarte starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("a listening line").unwrap();
        if line.contains("encarte listening") {
            let at = line.find("port=").expect("the port") + 5;
            break line[at..].split(' ').next().unwrap().parse::<u16>().unwrap();
        }
    };
    let body = r#"{"logs":["Unexpected response\nINFO encarte: forged line\r\n\u001b[31mred"]}"#;
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        conn,
        "POST /wallet/apple/v1/log HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut logged = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        logged.push_str(&line);
        logged.push('\n');
        if line.contains("Wallet reported") || line.contains("red") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(logged.contains("Unexpected response\\nINFO encarte: forged line\\r\\n\\u{1b}[31mred"), "{logged}");
    assert!(!logged.lines().any(|l| l.starts_with("INFO encarte: forged")), "{logged}");
    assert!(!logged.contains('\u{1b}'), "{logged:?}");
}
