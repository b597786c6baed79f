//! E-mail end to end: queued in a transaction, sent by the worker through the file transport
//! (the default), memory, and a real local SMTP server (aiosmtpd, with STARTTLS and AUTH), and
//! an SMTP outage that delays a mail without losing or doubling it. Messages are read back with
//! Python's e-mail package (`tests/mail_tool.py`), a parser independent of lettre.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use encarte::db::repo::{self, outbox};
use encarte::domain::status::JobState;
use encarte::mail::{self, Mail, Mailer};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const TOOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mail_tool.py");
/// Debian's interpreter, where python3-aiosmtpd lives (a `python3` earlier on the PATH may not have it).
const PYTHON: &str = "/usr/bin/python3";

fn parse(raw: &[u8]) -> Value {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), raw).unwrap();
    let out = Command::new(PYTHON).arg(TOOL).arg("parse").arg(file.path()).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn eml_files(app: &TestApp) -> Vec<PathBuf> {
    let dir = app.config.data_dir.join("mail");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

/// Enrols a customer through the staff API: (customer id, card link token, card JSON).
async fn customer(app: &TestApp, email: &str, first_name: &str) -> (String, String, Value) {
    let body = json!({"email": email, "first_name": first_name});
    let (status, body) = app.post("/api/v1/customers", &app.staff.cashier, None, &body).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let card = body["card"].clone();
    let (program_id, card_id) = (app.staff.program_id.clone(), card["id"].as_str().unwrap().to_owned());
    let token =
        app.db.read(move |c| Ok(repo::cards::find(c, &program_id, &card_id)?.unwrap().link_token)).await.unwrap();
    // Enrolment queued its welcome e-mail; these tests queue the mails they look at themselves.
    let id = body["customer"]["id"].as_str().unwrap().to_owned();
    let welcome = format!("%\"customer_id\":\"{id}\"%");
    let removed = app
        .db
        .write(move |c| {
            use diesel::prelude::*;
            use encarte::db::schema::outbox_jobs;
            let mine = outbox_jobs::kind.eq(mail::EMAIL).and(outbox_jobs::payload.like(welcome));
            Ok(diesel::delete(outbox_jobs::table.filter(mine)).execute(c)?)
        })
        .await
        .unwrap();
    assert_eq!(removed, 1, "enrolment queues exactly one welcome e-mail");
    (id, token, card)
}

/// Queues `mail` in a transaction of its own, as a service would in its own.
async fn queue(app: &TestApp, mail: Mail) {
    app.db.write(move |c| Ok(mail::queue(c, &mail)?)).await.unwrap();
}

fn welcome(app: &TestApp, customer_id: &str) -> Mail {
    Mail::Welcome { program_id: app.staff.program_id.clone(), customer_id: customer_id.to_owned() }
}

#[tokio::test]
async fn the_welcome_mail_is_written_as_an_eml_file_by_default() {
    let app = spawn_app().await;
    let (customer_id, token, card) = customer(&app, "zoe@example.fr", "Zoé").await;
    assert!(eml_files(&app).is_empty(), "nothing is sent before the worker runs");
    queue(&app, welcome(&app, &customer_id)).await;
    assert_eq!(app.run_jobs().await, 1);

    let files = eml_files(&app);
    assert_eq!(files.len(), 1, "{files:?}");
    let mail = parse(&std::fs::read(&files[0]).unwrap());
    assert_eq!(mail["to"], "Zoé <zoe@example.fr>");
    assert_eq!(mail["from"], "Shop shop <no-reply@encarte.invalid>");
    // The program's locale (fr) is the customer's.
    assert_eq!(mail["subject"], "Votre carte Shop shop est prête");
    assert_eq!(mail["content_type"], "multipart/alternative");
    assert!(mail["message_id"].as_str().unwrap().ends_with("@encarte.invalid>"), "{mail}");
    let card_link = format!("{}/c/{token}", app.config.public_url());
    let (text, html) = (mail["text"].as_str().unwrap(), mail["html"].as_str().unwrap());
    assert!(text.contains(&format!("Ouvrir ma carte\n{card_link}\n")), "{text}");
    assert!(text.contains(&format!("{card_link}/pass.pkpass")), "{text}");
    assert!(text.contains(&format!("{}/r/{}", app.config.public_url(), card["referral_code"].as_str().unwrap())));
    assert!(text.contains(&format!("Numéro de carte\u{a0}: {}", card["display_number"].as_str().unwrap())), "{text}");
    assert!(!text.contains("Google Wallet"), "Google Wallet is not configured: {text}");
    assert!(html.contains(&format!("href=\"{card_link}\"")), "{html}");
    assert!(html.contains("Bonjour Zoé,"), "{html}");
    assert_eq!(app.count("outbox_jobs", "kind = 'email' AND state = 'done'").await, 1);
}

#[tokio::test]
async fn the_magic_link_is_the_signed_login_id() {
    let app = spawn_app().await;
    let (customer_id, _, _) = customer(&app, "magic@example.fr", "Léa").await;
    let mut deps = app.deps.clone();
    deps.mailer = Arc::new(Mailer::memory());
    let login = Mail::MagicLink { program_id: app.staff.program_id.clone(), customer_id, login_id: "0190login".into() };
    queue(&app, login).await;
    let worker = app.worker(encarte::startup::registry(&deps));
    assert_eq!(encarte::jobs::drain(&[worker]).await.unwrap(), 1);

    let sent = deps.mailer.sent().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.to().iter().map(ToString::to_string).collect::<Vec<_>>(), ["magic@example.fr"]);
    let mail = parse(sent[0].1.as_bytes());
    let token = app.deps.link_key.sign("login", "0190login");
    let link = format!("{}/login/{token}", app.config.public_url());
    assert_eq!(app.deps.link_key.verify("login", &token), Some("0190login"));
    assert_eq!(mail["subject"], "Votre lien de connexion à Shop shop");
    let (text, html) = (mail["text"].as_str().unwrap(), mail["html"].as_str().unwrap());
    assert!(text.contains(&format!("Me connecter\n{link}\n")), "{text}");
    assert!(text.contains("valable 15 minutes"), "{text}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(eml_files(&app).is_empty(), "the memory mailer took it");
}

#[tokio::test]
async fn referral_rewards_are_mailed_to_each_side_and_old_jobs_still_send() {
    let app = spawn_app().await;
    let (_, token, card) = customer(&app, "parrain@example.fr", "Paul").await;
    let program_id = app.staff.program_id.clone();
    let card_id = card["id"].as_str().unwrap().to_owned();
    // New style, as service::referrals queues it.
    let mail = Mail::ReferralRewarded {
        program_id: program_id.clone(),
        referral_id: "ref-1".into(),
        card_id: card_id.clone(),
        beneficiary: mail::Beneficiary::Referrer,
        points: 100,
    };
    queue(&app, mail).await;
    // Old style, as builds before this one queued it.
    let old = json!({"referral_id": "ref-1", "card_id": card_id, "beneficiary": "referee", "points": 50});
    let program = program_id.clone();
    app.queue_raw(<mail::LegacyReferral as encarte::jobs::Job>::KIND, Some(program), old.to_string()).await;
    assert_eq!(app.run_jobs().await, 2);

    let mut mails: Vec<Value> = eml_files(&app).iter().map(|f| parse(&std::fs::read(f).unwrap())).collect();
    mails.sort_by_key(|m| m["subject"].as_str().unwrap().to_owned());
    let subjects: Vec<&str> = mails.iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, ["Vous avez gagné 100 points", "Vous avez gagné 50 points"]);
    let (referrer, referee) = (mails[0]["text"].as_str().unwrap(), mails[1]["text"].as_str().unwrap());
    assert!(referrer.contains("Grâce à vous, un proche a rejoint Shop shop"), "{referrer}");
    assert!(referee.contains("Un proche vous a recommandé Shop shop"), "{referee}");
    for text in [referrer, referee] {
        assert!(text.contains("Votre solde est maintenant de 0 point."), "French counts 0 in the singular: {text}");
        assert!(text.contains(&format!("{}/c/{token}", app.config.public_url())), "{text}");
    }
    assert_eq!(app.count("outbox_jobs", "state = 'done'").await, 2);
}

#[tokio::test]
async fn a_mail_that_can_never_be_sent_is_dropped_not_retried() {
    let app = spawn_app().await;
    queue(&app, welcome(&app, "no-such-customer")).await;
    let (_, _, card) = customer(&app, "gone@example.fr", "Zoé").await;
    let card_id = card["id"].as_str().unwrap().to_owned();
    let rewarded = Mail::ReferralRewarded {
        program_id: app.staff.program_id.clone(),
        referral_id: "r".into(),
        card_id: format!("{card_id}-gone"),
        beneficiary: mail::Beneficiary::Referee,
        points: 5,
    };
    queue(&app, rewarded).await;
    // An address lettre can't send to (written around the API, which refuses it) fails every retry alike.
    let (broken, _, _) = customer(&app, "broken@example.fr", "Zoé").await;
    let id = broken.clone();
    app.db
        .write(move |c| {
            use diesel::prelude::*;
            use encarte::db::schema::customers::dsl as k;
            Ok(diesel::update(k::customers.filter(k::id.eq(id))).set(k::email.eq("broken@")).execute(c)?)
        })
        .await
        .unwrap();
    queue(&app, welcome(&app, &broken)).await;
    assert_eq!(app.run_jobs().await, 3);
    assert!(eml_files(&app).is_empty());
    assert_eq!(app.count("outbox_jobs", "kind = 'email' AND state = 'done' AND attempts = 1").await, 3);
}

/// `python3 tests/mail_tool.py serve`: a real SMTP server on a local port, killed on drop.
struct SmtpServer {
    child: Child,
    dir: tempfile::TempDir,
}

struct Tls {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A throw-away CA and a certificate for localhost signed by it.
fn tls() -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let (ca, ca_key) = crate::apns_mock::certificate("encarte SMTP test CA", None, true);
    let (cert, key) = crate::apns_mock::certificate("localhost", Some((&ca, &ca_key)), false);
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("ca.pem"), ca.to_pem().unwrap()).unwrap();
    std::fs::write(path("cert.pem"), cert.to_pem().unwrap()).unwrap();
    std::fs::write(path("key.pem"), key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    Tls { ca: path("ca.pem"), cert: path("cert.pem"), key: path("key.pem"), _dir: dir }
}

impl SmtpServer {
    fn start(port: u16, tls: Option<&Tls>, login: Option<(&str, &str)>) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(PYTHON);
        cmd.arg(TOOL).arg("serve").arg("--dir").arg(dir.path()).arg("--port").arg(port.to_string());
        if let Some(tls) = tls {
            cmd.arg("--cert").arg(&tls.cert).arg("--key").arg(&tls.key);
        }
        if let Some((user, password)) = login {
            cmd.args(["--user", user, "--password", password]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("/usr/bin/python3 (tests/run installs python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start: is python3-aiosmtpd installed?");
        SmtpServer { child, dir }
    }

    /// What it received: envelope, TLS and AUTH flags, and the parsed message.
    fn received(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn mail_goes_through_a_real_smtp_server_with_starttls_and_auth() {
    let (tls, port) = (tls(), free_port());
    let server = SmtpServer::start(port, Some(&tls), Some(("shop", "s3cret-pass")));
    let ca = tls.ca.clone();
    let app = spawn_app_with(|c| {
        c.smtp_url = Some(format!("smtp://shop:s3cret-pass@localhost:{port}?tls=required"));
        c.smtp_ca = Some(ca);
        c.mail_from = "Loyalty <cards@shop.example>".into();
    })
    .await;
    let (customer_id, _, _) = customer(&app, "smtp@example.fr", "Zoé").await;
    queue(&app, welcome(&app, &customer_id)).await;
    assert_eq!(app.run_jobs().await, 1);

    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let got = &received[0];
    assert_eq!(got["rcpt_tos"], json!(["smtp@example.fr"]));
    assert_eq!(got["mail_from"], "cards@shop.example");
    assert_eq!((got["tls"].as_bool(), got["authenticated"].as_bool()), (Some(true), Some(true)));
    assert_eq!(got["message"]["subject"], "Votre carte Shop shop est prête");
    assert_eq!(got["message"]["from"], "Shop shop <cards@shop.example>");
    assert!(!app.config.data_dir.join("mail").exists(), "SMTP replaces the file transport");
    assert_eq!(app.count("outbox_jobs", "kind = 'email' AND state = 'done'").await, 1);
}

#[tokio::test]
async fn an_smtp_outage_delays_a_mail_and_loses_none() {
    let port = free_port();
    let app = spawn_app_with(|c| c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))).await;
    let (customer_id, _, _) = customer(&app, "outage@example.fr", "Zoé").await;
    queue(&app, welcome(&app, &customer_id)).await;
    // The only e-mail job left (the enrolment's welcome was taken out by `customer`).
    let job = || async {
        let jobs = app
            .db
            .read(|c| {
                use diesel::prelude::*;
                use encarte::db::schema::outbox_jobs::dsl as j;
                Ok(j::outbox_jobs.filter(j::kind.eq(mail::EMAIL)).select(outbox::Job::as_select()).load(c)?)
            })
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1);
        jobs.into_iter().next().unwrap()
    };

    // Nobody listens: the attempt fails and the job waits for its retry.
    assert_eq!(app.run_jobs().await, 1);
    let failed = job().await;
    assert_eq!((failed.state, failed.attempts), (JobState::Pending, 1));
    let error = failed.last_error.clone().unwrap_or_default();
    assert!(error.starts_with("SMTP: "), "{error}");
    assert!(failed.run_at > repo::now(), "retried later, with backoff");
    assert_eq!(app.run_jobs().await, 0, "not due yet");

    // The server is back and the retry is due: sent once.
    let server = SmtpServer::start(port, None, None);
    let id = failed.id;
    app.db
        .write(move |c| {
            use diesel::prelude::*;
            use encarte::db::schema::outbox_jobs::dsl as j;
            Ok(diesel::update(j::outbox_jobs.filter(j::id.eq(id))).set(j::run_at.eq(repo::now())).execute(c)?)
        })
        .await
        .unwrap();
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(app.run_jobs().await, 0);
    let received = server.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["rcpt_tos"], json!(["outage@example.fr"]));
    assert_eq!(received[0]["message"]["subject"], "Votre carte Shop shop est prête");
    let done = job().await;
    assert_eq!((done.state, done.attempts), (JobState::Done, 2));
}

#[tokio::test]
async fn mail_to_an_address_that_cannot_be_sent_is_dropped_not_retried() {
    let app = spawn_app().await;
    // Addresses enrolment took before it refused them (it refuses them now).
    for (i, stored) in ["\"a b\"@example.org", "\"a\\\"b\"@example.org", "a@[127.0.0.1]"].iter().enumerate() {
        let (id, _, _) = customer(&app, &format!("ok{i}@example.org"), "Zoé").await;
        app.exec(&format!("UPDATE customers SET email = '{stored}' WHERE id = '{id}'")).await;
        queue(&app, welcome(&app, &id)).await;
    }
    app.run_jobs().await;
    assert_eq!(app.count("outbox_jobs", "kind = 'email' AND state = 'done' AND attempts <= 1").await, 3);
    assert_eq!(app.count("outbox_jobs", "kind = 'email' AND last_error IS NOT NULL").await, 0);
    assert!(std::fs::read_dir(app.config.data_dir.join("mail")).map_or(true, |d| d.count() == 0), "nothing sent");
}
