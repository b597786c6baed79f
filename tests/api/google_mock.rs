//! A local stand-in for Google: the OAuth token endpoint, the Wallet REST API (loyalty classes and
//! objects, with Google's insert / 409 / PATCH / 404 behaviour) and the callback keys URL. It
//! records every request so tests assert exactly what was sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde_json::{Value, json};

use encarte::wallet::google::callback::test_support::FakeGoogle;

pub const ISSUER: &str = "3388000000022000001";

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
pub struct State {
    pub calls: Vec<Call>,
    pub token_fetches: usize,
    pub key_fetches: usize,
    pub classes: HashMap<String, Value>,
    pub objects: HashMap<String, Value>,
    /// Statuses for the next REST calls (not token or keys), before normal behaviour resumes.
    pub script: VecDeque<u16>,
}

pub struct GoogleMock {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    pub fake: Arc<FakeGoogle>,
    /// The service-account key file, its `token_uri` pointing here.
    pub key_file: std::path::PathBuf,
    pub public_pem: Vec<u8>,
    handle: actix_web::dev::ServerHandle,
    _dir: tempfile::TempDir,
}

impl Drop for GoogleMock {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl GoogleMock {
    pub fn start() -> GoogleMock {
        let state = Arc::new(Mutex::new(State::default()));
        let fake = Arc::new(FakeGoogle::new());
        let data = web::Data::new((state.clone(), fake.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/token", web::post().to(token))
                .route("/keys", web::get().to(keys))
                .default_service(web::to(rest))
        })
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);

        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("service-account.json");
        let account = json!({
            "type": "service_account",
            "client_email": "encarte@test-project.iam.gserviceaccount.com",
            "private_key_id": "key-1",
            "private_key": String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap(),
            "token_uri": format!("{url}/token"),
        });
        std::fs::write(&key_file, account.to_string()).unwrap();
        let public_pem = key.public_key_to_pem().unwrap();
        GoogleMock { url, state, fake, key_file, public_pem, handle, _dir: dir }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// REST calls as "METHOD /path" (without the API prefix).
    pub fn rest_calls(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| format!("{} {}", c.method, c.path.trim_start_matches("/walletobjects/v1")))
            .collect()
    }
}

type Data = web::Data<(Arc<Mutex<State>>, Arc<FakeGoogle>)>;

async fn token(data: Data, body: String) -> HttpResponse {
    assert!(body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="), "{body}");
    let mut state = data.0.lock().unwrap();
    state.token_fetches += 1;
    HttpResponse::Ok().json(
        json!({"access_token": format!("tok-{}", state.token_fetches), "expires_in": 3599, "token_type": "Bearer"}),
    )
}

async fn keys(data: Data) -> HttpResponse {
    data.0.lock().unwrap().key_fetches += 1;
    let in_a_day = chrono::Utc::now().timestamp_millis() + 86_400_000;
    HttpResponse::Ok().content_type("application/json").body(data.1.keys_json(in_a_day))
}

async fn rest(data: Data, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut state = data.0.lock().unwrap();
    let path = req.path().to_owned();
    state.calls.push(Call {
        method: req.method().to_string(),
        path: path.clone(),
        authorization: req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned),
        body: body.clone(),
    });
    if let Some(status) = state.script.pop_front() {
        let status = actix_web::http::StatusCode::from_u16(status).unwrap();
        return HttpResponse::build(status).json(json!({"error": {"code": status.as_u16(), "message": "scripted"}}));
    }
    let Some(rest) = path.strip_prefix("/walletobjects/v1/") else { return HttpResponse::NotFound().finish() };
    let (kind, id) = rest.split_once('/').map_or((rest, None), |(k, id)| (k, Some(id.to_owned())));
    let store = match kind {
        "loyaltyClass" => &mut state.classes,
        "loyaltyObject" => &mut state.objects,
        _ => return HttpResponse::NotFound().finish(),
    };
    match (req.method().as_str(), id) {
        ("POST", None) => {
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            if store.contains_key(&id) {
                return HttpResponse::Conflict().json(json!({"error": {"code": 409, "message": "already exists"}}));
            }
            store.insert(id, body.clone());
            HttpResponse::Ok().json(body)
        }
        ("PATCH", Some(id)) => match store.get_mut(&id) {
            None => HttpResponse::NotFound().json(json!({"error": {"code": 404, "message": "not found"}})),
            Some(existing) => {
                for (k, v) in body.as_object().cloned().unwrap_or_default() {
                    existing[k] = v;
                }
                HttpResponse::Ok().json(existing.clone())
            }
        },
        _ => HttpResponse::MethodNotAllowed().finish(),
    }
}
