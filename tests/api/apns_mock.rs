//! A local stand-in for APNs, as strict as the real one where it matters to us: HTTP/2 over TLS
//! only, a client certificate required and checked against the pass chain's root, and the
//! request recorded so tests can assert exactly what was pushed. Its answers are scripted.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{SslAcceptor, SslMethod, SslVerifyMode};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};

use crate::helpers::DEV_CERTS;

#[derive(Debug, Clone)]
pub struct Push {
    pub http2: bool,
    pub token: String,
    pub topic: Option<String>,
    pub body: String,
    /// When it arrived (for the push latency bench).
    pub at: std::time::Instant,
}

#[derive(Default)]
struct State {
    pushes: Vec<Push>,
    /// (status, reason) answers, in order; 200 once empty.
    script: VecDeque<(u16, &'static str)>,
}

pub struct ApnsMock {
    pub url: String,
    /// The mock's own CA, for the service to trust (`apns_ca`).
    pub ca: PathBuf,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

impl Drop for ApnsMock {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl ApnsMock {
    pub fn start() -> ApnsMock {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, ca_key) = certificate("encarte test APNs CA", None, true);
        let (leaf, leaf_key) = certificate("localhost", Some((&ca, &ca_key)), false);
        let ca_path = dir.path().join("apns-ca.pem");
        std::fs::write(&ca_path, ca.to_pem().unwrap()).unwrap();

        let mut tls = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        tls.set_private_key(&leaf_key).unwrap();
        tls.set_certificate(&leaf).unwrap();
        // Clients must present a certificate that chains to the pass root (pass cert + WWDR).
        tls.set_ca_file(DEV_CERTS.path().join("root.pem")).unwrap();
        tls.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);

        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let server =
            HttpServer::new(move || App::new().app_data(data.clone()).route("/3/device/{token}", web::post().to(push)))
                .workers(1)
                .disable_signals()
                .bind_openssl("127.0.0.1:0", tls)
                .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        ApnsMock { url: format!("https://localhost:{port}"), ca: ca_path, state, handle, _dir: dir }
    }

    /// The next answers, in order, before the mock goes back to 200.
    pub fn answer(&self, answers: &[(u16, &'static str)]) {
        self.state.lock().unwrap().script.extend(answers.iter().copied());
    }

    pub fn pushes(&self) -> Vec<Push> {
        self.state.lock().unwrap().pushes.clone()
    }
}

async fn push(
    state: web::Data<Arc<Mutex<State>>>,
    req: HttpRequest,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let mut state = state.lock().unwrap();
    state.pushes.push(Push {
        http2: req.version() == actix_web::http::Version::HTTP_2,
        token: token.into_inner(),
        topic: req.headers().get("apns-topic").and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: std::time::Instant::now(),
    });
    match state.script.pop_front() {
        None | Some((200, _)) => {
            HttpResponse::Ok().insert_header(("apns-id", "00000000-0000-0000-0000-000000000001")).finish()
        }
        Some((status, reason)) => {
            let mut body = serde_json::json!({"reason": reason});
            if status == 410 {
                body["timestamp"] = serde_json::json!(1_700_000_000_000_u64);
            }
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
        }
    }
}

/// A CA (self-signed) or a server certificate for localhost signed by `issuer`.
pub fn certificate(cn: &str, issuer: Option<(&X509, &PKey<Private>)>, ca: bool) -> (X509, PKey<Private>) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(rand_serial()).unwrap().to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&name, |(c, _)| c.subject_name())).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap()).unwrap();
        b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().unwrap()).unwrap();
    } else {
        b.append_extension(BasicConstraints::new().critical().build().unwrap()).unwrap();
        b.append_extension(KeyUsage::new().critical().digital_signature().key_encipherment().build().unwrap()).unwrap();
        b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap()).unwrap();
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .ip("127.0.0.1")
            .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
            .unwrap();
        b.append_extension(san).unwrap();
    }
    b.sign(issuer.map_or(&key, |(_, k)| k), MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

fn rand_serial() -> u32 {
    let mut bytes = [0u8; 4];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    u32::from_le_bytes(bytes) >> 1
}
