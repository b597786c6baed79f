//! The service-account key and the OAuth 2 JWT-bearer exchange for the Wallet API (spec §4). Signing is
//! done with openssl rather than jsonwebtoken, whose RSA backend pulls `rsa 0.9` (RUSTSEC-2023-0071, §0.6).

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};

pub const SCOPE: &str = "https://www.googleapis.com/auth/wallet_object.issuer";

/// Tokens are dropped this long before Google says they expire, so a request never leaves with a
/// token that dies in flight.
const REFRESH_MARGIN: Duration = Duration::from_mins(1);
/// The token lock is held during the exchange: a hung endpoint must not stall every caller forever.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Error text from the endpoint is quoted, but bounded: a proxy error page can be huge.
const QUOTE_MAX: usize = 200;

/// The fields of the service-account JSON key we use (others ignored).
/// No `Debug`: it would print the private key.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: Option<String>,
    /// PEM, PKCS#8 as Google issues it (traditional RSA PEM is accepted too).
    pub private_key: String,
    pub token_uri: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("service-account key file: {0}")]
    KeyFile(String),
    #[error("signing a JWT: {0}")]
    Sign(String),
    #[error("token request to {uri}: {source}")]
    Request { uri: String, source: reqwest::Error },
    #[error("token endpoint {uri} answered {status}: {detail}")]
    Refused { uri: String, status: u16, detail: String },
    #[error("token endpoint {uri} answered {status} without a usable access_token/expires_in")]
    BadResponse { uri: String, status: u16 },
    #[error("the save link is {len} characters, over the {max} Google accepts: the JWT must stay skinny")]
    TooLong { len: usize, max: usize },
}

impl ServiceAccount {
    /// Checks everything that would otherwise only fail at the first token exchange, at start-up.
    pub fn from_json(bytes: &[u8]) -> Result<ServiceAccount, AuthError> {
        let bad = |m: String| AuthError::KeyFile(m);
        // Through `Value` first: a type error on a top-level string would quote it, key and all.
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON ({e})")))?;
        if !value.is_object() {
            return Err(bad("not a JSON object".into()));
        }
        let account: ServiceAccount = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        if account.client_email.trim().is_empty() {
            return Err(bad("client_email is empty".into()));
        }
        let uri = account.token_uri.to_ascii_lowercase();
        let rest = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"));
        if rest.is_none_or(|host| host.is_empty() || host.starts_with('/')) {
            return Err(bad(format!("token_uri must be an http(s) URL, got {:?}", account.token_uri)));
        }
        let key = account.key()?;
        if key.id() != Id::RSA {
            return Err(bad("private_key is not an RSA key, which RS256 needs".into()));
        }
        Ok(account)
    }

    /// RS256 JWT (header `{"alg":"RS256","typ":"JWT","kid":private_key_id}`) over any serializable claims,
    /// signed with openssl (SHA-256, PKCS#1 v1.5), base64url without padding.
    pub fn sign_jwt<C: Serialize>(&self, claims: &C) -> Result<String, AuthError> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            kid: Option<&'a str>,
        }
        let header = Header { alg: "RS256", typ: "JWT", kid: self.private_key_id.as_deref() };
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(to_json(&header)?), URL_SAFE_NO_PAD.encode(to_json(claims)?));
        let key = self.key()?;
        let signature = Signer::new(MessageDigest::sha256(), &key)
            .and_then(|mut signer| signer.sign_oneshot_to_vec(input.as_bytes()))
            .map_err(|e| AuthError::Sign(e.to_string()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    pub fn public_key_pem(&self) -> Result<Vec<u8>, AuthError> {
        self.key()?.public_key_to_pem().map_err(|e| AuthError::KeyFile(format!("public key: {e}")))
    }

    /// Parsed on each use rather than kept, so the struct stays plain data; it costs microseconds
    /// next to the signature. The callback refuses a passphrase: openssl's default one would
    /// prompt on the terminal for an encrypted key and hang a server.
    fn key(&self) -> Result<PKey<Private>, AuthError> {
        PKey::private_key_from_pem_callback(self.private_key.as_bytes(), |_| Ok(0))
            .map_err(|e| AuthError::KeyFile(format!("private_key is not an unencrypted PEM private key ({e})")))
    }
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, AuthError> {
    serde_json::to_vec(value).map_err(|e| AuthError::Sign(format!("claims: {e}")))
}

/// Access tokens for the Wallet API: one exchange, cached until 60 s before expiry; concurrent callers
/// wait for one refresh (single flight, `tokio::sync::Mutex`).
pub struct TokenSource {
    account: ServiceAccount,
    http: reqwest::Client,
    /// The token and when to stop handing it out.
    cached: tokio::sync::Mutex<Option<(String, Instant)>>,
}

impl TokenSource {
    pub fn new(account: ServiceAccount, http: reqwest::Client) -> TokenSource {
        TokenSource { account, http, cached: tokio::sync::Mutex::new(None) }
    }

    /// The lock is held across the exchange on purpose: callers arriving meanwhile wait and then
    /// find the fresh token instead of each starting their own exchange.
    pub async fn token(&self) -> Result<String, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, _)) = cached.as_ref().filter(|(_, refresh_at)| Instant::now() < *refresh_at) {
            return Ok(token.clone());
        }
        let (token, expires_in) = self.exchange().await?;
        // A token that is already inside the margin is handed out once but never reused.
        *cached = expires_in
            .checked_sub(REFRESH_MARGIN)
            .filter(|left| !left.is_zero())
            .map(|left| (token.clone(), Instant::now() + left));
        Ok(token)
    }

    /// Drops the cached token (after a 401 from the API).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn exchange(&self) -> Result<(String, Duration), AuthError> {
        let uri = &self.account.token_uri;
        let (iss, now) = (&self.account.client_email, chrono::Utc::now().timestamp());
        let claims = serde_json::json!({"iss": iss, "scope": SCOPE, "aud": uri, "iat": now, "exp": now + 3600});
        // The assertion is base64url and dots: nothing to escape.
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
            self.account.sign_jwt(&claims)?
        );
        let request = self.http.post(uri).header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        let fail = |source| AuthError::Request { uri: uri.clone(), source };
        let response = request.body(body).timeout(EXCHANGE_TIMEOUT).send().await.map_err(fail)?;
        let (success, status) = (response.status().is_success(), response.status().as_u16());
        let bytes = response.bytes().await.map_err(fail)?;
        if !success {
            return Err(AuthError::Refused { uri: uri.clone(), status, detail: describe_refusal(&bytes) });
        }
        let granted: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        match (granted["access_token"].as_str().filter(|t| !t.is_empty()), granted["expires_in"].as_u64()) {
            (Some(token), Some(expires_in)) => Ok((token.to_owned(), Duration::from_secs(expires_in))),
            _ => Err(AuthError::BadResponse { uri: uri.clone(), status }),
        }
    }
}

/// Google's `error` / `error_description` (RFC 6749 §5.2), else the start of whatever came back.
fn describe_refusal(body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = match (json["error"].as_str(), json["error_description"].as_str()) {
        (Some(error), Some(description)) => format!("{error} ({description})"),
        (Some(error), None) => error.to_owned(),
        _ => String::from_utf8_lossy(body).split_whitespace().collect::<Vec<_>>().join(" "),
    };
    match text.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(empty body)".into(),
        None => text,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Mutex, OnceLock};

    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use serde_json::{Value, json};

    use super::*;

    pub(crate) const EMAIL: &str = "wallet@encarte-test.iam.gserviceaccount.com";

    /// A Google-shaped key file around one throwaway RSA-2048 key (generated once: it takes a while).
    pub(crate) fn key_file(token_uri: &str, kid: Option<&str>) -> Value {
        static PEM: OnceLock<String> = OnceLock::new();
        let pem = PEM.get_or_init(|| {
            let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
            String::from_utf8(PKey::from_rsa(rsa).unwrap().private_key_to_pem_pkcs8().unwrap()).unwrap()
        });
        json!({"type": "service_account", "project_id": "encarte-test", "private_key_id": kid, "private_key": pem,
               "client_email": EMAIL, "client_id": "1234567890",
               "token_uri": token_uri, "universe_domain": "googleapis.com"})
    }

    /// `DecodingKey::from_rsa_pem` needs jsonwebtoken's `use_pem` feature, which the crate leaves off.
    pub(crate) fn decoding_key(public_pem: &[u8]) -> DecodingKey {
        let rsa = openssl::rsa::Rsa::public_key_from_pem(public_pem).unwrap();
        DecodingKey::from_rsa_raw_components(&rsa.n().to_vec(), &rsa.e().to_vec())
    }

    pub(crate) fn account(token_uri: &str, kid: Option<&str>) -> ServiceAccount {
        ServiceAccount::from_json(key_file(token_uri, kid).to_string().as_bytes()).unwrap()
    }

    #[test]
    fn from_json_reads_a_google_key_file_and_refuses_broken_ones() {
        let good = account("https://oauth2.googleapis.com/token", Some("kid-1"));
        assert_eq!(good.client_email, EMAIL);
        assert_eq!(good.private_key_id.as_deref(), Some("kid-1"));
        let pem = good.private_key.clone();
        let secret = &pem[pem.len() / 2..pem.len() / 2 + 40];
        let ec = EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        let ec_pem = String::from_utf8(PKey::from_ec_key(ec).unwrap().private_key_to_pem_pkcs8().unwrap()).unwrap();
        let with = |field: &str, v: Value| {
            let mut f = key_file("https://oauth2.googleapis.com/token", None);
            match v {
                Value::Null => drop(f.as_object_mut().unwrap().remove(field)),
                v => f[field] = v,
            }
            f.to_string().into_bytes()
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (with("private_key", Value::Null), "missing field `private_key`"),
            (with("token_uri", Value::Null), "missing field `token_uri`"),
            (with("client_email", json!(" ")), "client_email is empty"),
            (with("token_uri", json!("ftp://example.com/token")), "token_uri must be an http(s) URL"),
            (with("private_key", json!(pem.replace(secret, "garbled"))), "not an unencrypted PEM private key"),
            (with("private_key", json!(ec_pem)), "not an RSA key"),
            (json!(pem).to_string().into_bytes(), "not a JSON object"),
            (b"{\"private_key\": ".to_vec(), "not JSON"),
        ];
        for (bytes, expected) in cases {
            let err = ServiceAccount::from_json(&bytes).err().expect(expected).to_string();
            assert!(err.starts_with("service-account key file: ") && err.contains(expected), "{err}");
            assert!(!err.contains(secret) && !err.contains("BEGIN"), "key material in {err}");
        }
    }

    /// The token endpoint: checks the request as Google would, counts exchanges, answers `tok-<n>`.
    struct Endpoint {
        uri: String,
        public_pem: Vec<u8>,
        hits: AtomicUsize,
        expires_in: AtomicU64,
        refuse: bool,
        assertions: Mutex<Vec<String>>,
    }

    async fn grant(req: HttpRequest, body: String, ep: web::Data<Endpoint>) -> HttpResponse {
        let n = ep.hits.fetch_add(1, Ordering::SeqCst) + 1;
        // Keeps the exchange in flight while other callers pile up behind it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let form = req.headers().get("content-type").is_some_and(|v| v == "application/x-www-form-urlencoded");
        let prefix = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=";
        let assertion = body.strip_prefix(prefix).unwrap_or_default();
        ep.assertions.lock().unwrap().push(assertion.to_owned());
        let mut validation = Validation::new(Algorithm::RS256); // also requires a future `exp`
        validation.set_audience(&[&ep.uri]);
        let key = decoding_key(&ep.public_pem);
        let decoded = decode::<Value>(assertion, &key, &validation).map(|data| data.claims);
        let claims = decoded.as_ref().cloned().unwrap_or_default();
        let iat = claims["iat"].as_i64().filter(|iat| (iat - chrono::Utc::now().timestamp()).abs() <= 60);
        let expected = json!({"iss": EMAIL, "scope": SCOPE, "aud": ep.uri, "iat": iat, "exp": iat.map(|i| i + 3600)});
        if !form || claims != expected {
            let description = format!("{decoded:?} in {body}");
            return HttpResponse::BadRequest()
                .json(json!({"error": "mock_rejected", "error_description": description}));
        }
        if ep.refuse {
            return HttpResponse::BadRequest()
                .json(json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}));
        }
        let expires_in = ep.expires_in.load(Ordering::SeqCst);
        HttpResponse::Ok()
            .json(json!({"access_token": format!("tok-{n}"), "expires_in": expires_in, "token_type": "Bearer"}))
    }

    fn serve(expires_in: u64, refuse: bool) -> (TokenSource, web::Data<Endpoint>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}/token", listener.local_addr().unwrap());
        let account = account(&uri, Some("kid-1"));
        let ep = web::Data::new(Endpoint {
            uri,
            public_pem: account.public_key_pem().unwrap(),
            hits: AtomicUsize::new(0),
            expires_in: AtomicU64::new(expires_in),
            refuse,
            assertions: Mutex::new(Vec::new()),
        });
        let data = ep.clone();
        let server = HttpServer::new(move || App::new().app_data(data.clone()).route("/token", web::post().to(grant)))
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
        actix_web::rt::spawn(server);
        (TokenSource::new(account, reqwest::Client::new()), ep)
    }

    #[actix_web::test]
    async fn concurrent_callers_share_one_exchange_until_invalidated() {
        let (source, ep) = serve(3599, false);
        let tokens = futures::future::join_all((0..50).map(|_| source.token())).await;
        assert!(tokens.iter().all(|t| t.as_deref().unwrap() == "tok-1"), "{:?}", tokens[0]);
        assert_eq!(ep.hits.load(Ordering::SeqCst), 1);
        assert_eq!(source.token().await.unwrap(), "tok-1");
        source.invalidate().await;
        assert_eq!(source.token().await.unwrap(), "tok-2");
        assert_eq!(source.token().await.unwrap(), "tok-2");
        assert_eq!(ep.hits.load(Ordering::SeqCst), 2);
    }

    #[actix_web::test]
    async fn tokens_inside_the_refresh_margin_are_not_reused() {
        let (source, ep) = serve(30, false);
        for n in 1..=3 {
            assert_eq!(source.token().await.unwrap(), format!("tok-{n}"));
        }
        ep.expires_in.store(62, Ordering::SeqCst);
        assert_eq!(source.token().await.unwrap(), "tok-4");
        assert_eq!(source.token().await.unwrap(), "tok-4");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(source.token().await.unwrap(), "tok-5");
        assert_eq!(ep.hits.load(Ordering::SeqCst), 5);
    }

    #[actix_web::test]
    async fn a_refused_grant_is_a_clear_error_without_the_assertion() {
        let (source, ep) = serve(3599, true);
        let err = source.token().await.unwrap_err();
        let (shown, debug) = (err.to_string(), format!("{err:?}"));
        assert!(shown.contains("answered 400: invalid_grant (Invalid JWT Signature.)"), "{shown}");
        let assertion = ep.assertions.lock().unwrap()[0].clone();
        let signature = assertion.rsplit('.').next().unwrap();
        assert!(signature.len() > 300, "{assertion}");
        assert!(!shown.contains(signature) && !debug.contains(signature), "{debug}");
        // Nothing was cached: the next call asks again.
        assert!(source.token().await.is_err());
        assert_eq!(ep.hits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn refusals_quote_only_the_oauth_fields_or_a_bounded_snippet() {
        assert_eq!(describe_refusal(br#"{"error":"invalid_scope","x":1}"#), "invalid_scope");
        let page = format!("<html>\n{}</html>", "x".repeat(5000));
        assert_eq!(describe_refusal(page.as_bytes()).chars().count(), QUOTE_MAX + 1);
        assert_eq!(describe_refusal(b""), "(empty body)");
    }
}
