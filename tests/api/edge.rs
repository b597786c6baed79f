//! The edge of the service as an attacker meets it: slow bodies, huge URIs, piles of
//! connections, forged forwarded headers. Raw TCP where a polite client can't misbehave enough.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

fn host(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(host(app)).await.expect("connects")
}

/// Reads one response (head and a Content-Length body); None when the connection closed first.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String, Value)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("an answer")
            .unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the body was cut");
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[head_end..head_end + length]).unwrap_or(Value::Null);
    Some((status, head, body))
}

/// True when the server closes the connection within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut sink = [0u8; 1024];
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match tokio::time::timeout(deadline - Instant::now(), stream.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
    false
}

#[tokio::test]
async fn a_body_that_never_completes_gets_408_and_its_connection_closed() {
    let app = spawn_app_with(|c| c.body_timeout_seconds = 1).await;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/v1/purchases HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nIdempotency-Key: slow-1\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"card\": \"",
        host(&app),
        app.staff.cashier
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (status, _, body) = read_response(&mut stream).await.expect("an answer before the close");
    assert_eq!(status, 408);
    assert_eq!(body["error"]["code"], "body_timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await, "the connection stays open");
    assert_eq!(app.count("purchases", "1 = 1").await, 0);
}

#[tokio::test]
async fn a_body_nobody_reads_does_not_hold_the_connection() {
    let app = spawn_app_with(|c| c.body_timeout_seconds = 1).await;
    let mut stream = connect(&app).await;
    let head =
        format!("POST /api/v1/purchases HTTP/1.1\r\nHost: {}\r\nContent-Length: 100\r\n\r\n0123456789", host(&app));
    stream.write_all(head.as_bytes()).await.unwrap();
    // Refused before the body is read (no token)...
    let (status, _, body) = read_response(&mut stream).await.expect("an answer");
    assert_eq!(status, 401, "{body}");
    // ...and the 90 bytes that never come don't keep the connection.
    assert!(closed_within(&mut stream, Duration::from_secs(8)).await, "the connection stays open");
}

#[tokio::test]
async fn a_huge_uri_gets_414_in_our_error_shape() {
    let app = spawn_app().await;
    for size in [70 * 1024, 20 * 1024] {
        let mut stream = connect(&app).await;
        let request = format!("GET /api/v1/cards/{} HTTP/1.1\r\nHost: {}\r\n\r\n", "x".repeat(size), host(&app));
        stream.write_all(request.as_bytes()).await.unwrap();
        let (status, head, body) = read_response(&mut stream).await.expect("an answer");
        assert_eq!(status, 414, "{size}: {head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert_eq!(body["error"]["code"], "uri_too_long", "{body}");
    }
    // The same on a connection kept alive after a first, ordinary request.
    let mut stream = connect(&app).await;
    let first = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", host(&app));
    stream.write_all(first.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut stream).await.expect("health").0, 200);
    let second = format!("GET /api/v1/cards/{} HTTP/1.1\r\nHost: {}\r\n\r\n", "y".repeat(20 * 1024), host(&app));
    stream.write_all(second.as_bytes()).await.unwrap();
    let (status, _, body) = read_response(&mut stream).await.expect("an answer");
    assert_eq!(status, 414);
    assert_eq!(body["error"]["code"], "uri_too_long");
}

#[tokio::test]
async fn one_address_may_hold_only_so_many_connections() {
    let app = spawn_app_with(|c| c.max_connections_per_client = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(&app).await);
    }
    // Let the server count them before the next one arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fourth = connect(&app).await;
    let (status, head, body) = read_response(&mut fourth).await.expect("an answer");
    assert_eq!(status, 429, "{head}");
    assert_eq!(body["error"]["code"], "too_many_connections");
    assert!(head.contains("retry-after: 1"), "{head}");

    // A connection given back is a slot for the next one.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = reqwest::get(app.url("/health")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_trusted_proxy_is_not_held_to_one_clients_connections() {
    let app = spawn_app_with(|c| {
        c.max_connections_per_client = 2;
        c.trusted_proxies = "127.0.0.1".parse().unwrap();
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect(&app).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = reqwest::get(app.url("/health")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// GET the enrolment form: the CSRF cookie and token.
async fn csrf(app: &TestApp) -> String {
    let page = app.client.get(app.url("/p/shop")).send().await.unwrap();
    let cookie = page.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().unwrap();
        v.strip_prefix("csrf=").map(|rest| rest.split(';').next().unwrap().to_owned())
    });
    cookie.expect("a csrf cookie")
}

async fn post_login(app: &TestApp, token: &str, email: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut req = app
        .client
        .post(app.url("/p/shop/login"))
        .header("cookie", format!("csrf={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&email={}", email.replace('@', "%40")));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn x_forwarded_host_from_an_untrusted_peer_does_not_pass_the_origin_check() {
    let app = spawn_app().await;
    let token = csrf(&app).await;
    let forged = [("origin", "https://evil.test"), ("x-forwarded-host", "evil.test")];
    assert_eq!(post_login(&app, &token, "zoe@example.fr", &forged).await, StatusCode::FORBIDDEN);
    let ours = format!("http://{}", host(&app));
    assert_eq!(post_login(&app, &token, "zoe@example.fr", &[("origin", &ours)]).await, StatusCode::OK);

    // Behind a proxy we trust, the host it forwards is the one the browser saw.
    let proxied = spawn_app_with(|c| c.trusted_proxies = "127.0.0.1/32".parse().unwrap()).await;
    let token = csrf(&proxied).await;
    let via_proxy = [("origin", "https://shop.example"), ("x-forwarded-host", "shop.example")];
    assert_eq!(post_login(&proxied, &token, "zoe@example.fr", &via_proxy).await, StatusCode::OK);
    let evil = [("origin", "https://evil.test"), ("x-forwarded-host", "shop.example")];
    assert_eq!(post_login(&proxied, &token, "zoe@example.fr", &evil).await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_forged_x_forwarded_for_does_not_escape_the_rate_limit() {
    use encarte::service::customer_auth::PER_CLIENT;
    let app = spawn_app().await;
    let token = csrf(&app).await;
    let limit = usize::try_from(PER_CLIENT).unwrap();
    let mut statuses = Vec::new();
    for i in 0..=limit {
        let forged = format!("198.51.100.{i}");
        let status = post_login(&app, &token, &format!("u{i}@example.fr"), &[("x-forwarded-for", &forged)]).await;
        statuses.push(status);
    }
    assert!(statuses[..limit].iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert_eq!(statuses[limit], StatusCode::TOO_MANY_REQUESTS);
    // The limits count addresses without keeping them.
    assert_eq!(app.count("rate_limits", "key LIKE '%@example.fr%'").await, 0);
    assert!(app.count("rate_limits", "key LIKE 'login:%:email:%'").await > 0);

    // From a trusted proxy, each forwarded client has a limit of its own.
    let proxied = spawn_app_with(|c| c.trusted_proxies = "127.0.0.1".parse().unwrap()).await;
    let token = csrf(&proxied).await;
    for i in 0..=limit {
        let client = format!("198.51.100.{i}");
        let status = post_login(&proxied, &token, &format!("u{i}@example.fr"), &[("x-forwarded-for", &client)]).await;
        assert_eq!(status, StatusCode::OK, "client {i}");
    }
}
