//! What the service refuses before a handler runs, so that one client can't hold it: more open
//! connections than `max_connections_per_client` from one address, a request line longer than
//! [`MAX_REQUEST_LINE`] (414), a request head or body that doesn't arrive in time (408).
//!
//! The listener reads each connection's first request line itself before handing the connection
//! to actix-http: actix-http answers a URI it can't hold (over 64 KB) with an empty 400 of its
//! own, and has no per-address bound. Later requests on a kept-alive connection meet the same
//! line limit in [`refuse_long_uri`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::{DispatchError, PayloadError};
use actix_http::{HttpService, Protocol, Request, Response, StatusCode};
use actix_service::{IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config};
use actix_web::dev::{AppConfig, Server, ServiceRequest, ServiceResponse};
use actix_web::rt::net::TcpStream;
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::error::AppError;
use crate::http::client::TrustedProxies;

/// Longest request line (method, path and query, version) we read. Our longest real URI is a
/// few hundred bytes; 16 KB leaves room for any client's query string.
pub const MAX_REQUEST_LINE: usize = 16 * 1024;

/// Seconds a client has to send a request head, and then its body.
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    pub connections_per_client: usize,
    pub head_timeout: Duration,
    pub body_timeout: Duration,
    pub trusted: TrustedProxies,
}

/// Open connections per client address. A trusted proxy's are not counted: it carries many
/// clients, and bounds its own.
#[derive(Clone, Default)]
struct Connections(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One counted connection, given back when the connection ends.
struct Slot {
    table: Connections,
    ip: IpAddr,
}

impl Connections {
    fn take(&self, ip: IpAddr, limit: usize) -> Option<Slot> {
        let mut table = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let open = table.entry(ip).or_default();
        if *open >= limit {
            return None;
        }
        *open += 1;
        Some(Slot { table: self.clone(), ip })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = table.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// A connection whose first bytes were read by [`admit`]: they are read again first.
pub struct Conn {
    read: Vec<u8>,
    at: usize,
    io: TcpStream,
    _slot: Option<Slot>,
}

impl AsyncRead for Conn {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.read.len() {
            let n = buf.remaining().min(this.read.len() - this.at);
            buf.put_slice(&this.read[this.at..this.at + n]);
            this.at += n;
            if this.at == this.read.len() {
                this.read = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Why a connection was turned away before actix-http saw it.
enum Refusal {
    TooManyConnections,
    LineTooLong,
    TooSlow,
    Gone,
}

/// Counts the connection against its client and reads its first request line.
async fn admit(
    mut io: TcpStream,
    limits: &EdgeLimits,
    table: &Connections,
) -> Result<(Conn, Option<SocketAddr>), (TcpStream, Refusal)> {
    let _ = io.set_nodelay(true);
    let peer = io.peer_addr().ok();
    let slot = match peer.map(|p| p.ip().to_canonical()) {
        Some(ip) if limits.trusted.trusts(ip) => None,
        Some(ip) => match table.take(ip, limits.connections_per_client) {
            Some(slot) => Some(slot),
            None => return Err((io, Refusal::TooManyConnections)),
        },
        None => None,
    };
    let mut read = Vec::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + limits.head_timeout;
    loop {
        let mut chunk = [0u8; 4096];
        let n = match tokio::time::timeout_at(deadline, io.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return Err((io, Refusal::Gone)),
            Ok(Ok(n)) => n,
            Err(_) => return Err((io, Refusal::TooSlow)),
        };
        read.extend_from_slice(&chunk[..n]);
        // Empty lines before a request are allowed (RFC 9112 §2.2).
        let start = read.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(read.len());
        match read[start..].iter().position(|b| *b == b'\n') {
            Some(end) if end <= MAX_REQUEST_LINE => break,
            Some(_) => return Err((io, Refusal::LineTooLong)),
            None if read.len() - start > MAX_REQUEST_LINE => return Err((io, Refusal::LineTooLong)),
            None => {}
        }
    }
    Ok((Conn { read, at: 0, io, _slot: slot }, peer))
}

/// Answers a turned-away connection in our JSON error shape, then lets the client finish
/// sending before closing: closing on unread data resets the connection, and the client would
/// see the reset instead of the answer.
async fn turn_away(mut io: TcpStream, refusal: Refusal) {
    let error = match refusal {
        Refusal::Gone => return,
        Refusal::TooManyConnections => AppError::client(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            "too many open connections from this address: close some and retry",
        ),
        Refusal::LineTooLong => uri_too_long(),
        Refusal::TooSlow => {
            AppError::client(StatusCode::REQUEST_TIMEOUT, "request_timeout", "the request did not arrive in time")
        }
    };
    let status = actix_web::ResponseError::status_code(&error);
    let body = error.body_json();
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        body.len(),
        if status == StatusCode::TOO_MANY_REQUESTS { "retry-after: 1\r\n" } else { "" },
    );
    let sent = async {
        io.write_all(head.as_bytes()).await?;
        io.write_all(&body).await?;
        io.shutdown().await
    };
    if tokio::time::timeout(Duration::from_secs(2), sent).await.is_err() {
        return;
    }
    let drain = async {
        let mut sink = [0u8; 8192];
        let mut left = 1 << 20;
        while left > 0 {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left -= n.min(left),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// The HTTP server: our listener in front of actix-http, serving the App that `factory` makes
/// (one per worker thread, as `HttpServer::new` does).
pub fn serve<F, I, S, B>(listener: TcpListener, workers: usize, limits: EdgeLimits, factory: F) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as actix_service::Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let local = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let table = Connections::default();
    let head_timeout = limits.head_timeout;
    let limits = Arc::new(limits);
    let mut builder = Server::build().shutdown_timeout(10);
    if workers > 0 {
        builder = builder.workers(workers);
    }
    Ok(builder
        .listen("encarte", listener, move || {
            let (limits, table) = (limits.clone(), table.clone());
            let app = factory().into_factory().map_err(|err| err.into().error_response());
            let http = HttpService::build()
                .client_request_timeout(head_timeout)
                .local_addr(local)
                .finish(map_config(app, move |()| AppConfig::default()));
            fn_service(move |io: TcpStream| {
                let (limits, table) = (limits.clone(), table.clone());
                async move {
                    match admit(io, &limits, &table).await {
                        Ok((conn, peer)) => Ok((conn, Protocol::Http1, peer)),
                        Err((io, refusal)) => {
                            turn_away(io, refusal).await;
                            Err(DispatchError::Io(io::Error::other("turned away")))
                        }
                    }
                }
            })
            .and_then(http)
        })?
        .run())
}

/// A request line too long on a kept-alive connection (the first one was checked by the
/// listener) is refused the same way.
fn refuse_long_uri(req: &ServiceRequest) -> Option<AppError> {
    // Measured, not printed: this runs on every request.
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let authority = req.uri().authority().map_or(0, |a| a.as_str().len() + "http://".len());
    let line = req.method().as_str().len() + 1 + authority + target + " HTTP/1.1".len();
    (line > MAX_REQUEST_LINE).then(uri_too_long)
}

fn uri_too_long() -> AppError {
    AppError::client(
        StatusCode::URI_TOO_LONG,
        "uri_too_long",
        format!("the request line has more than {MAX_REQUEST_LINE} bytes"),
    )
}

/// Middleware: a long URI of a kept-alive connection is refused; the body must arrive in time.
pub fn guard<S>(
    mut req: ServiceRequest,
    srv: &S,
    body_timeout: Duration,
) -> futures_util::future::LocalBoxFuture<'static, Result<ServiceResponse, actix_web::Error>>
where
    S: actix_web::dev::Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
    S::Future: 'static,
{
    if let Some(error) = refuse_long_uri(&req) {
        return Box::pin(std::future::ready(Ok(req.error_response(error))));
    }
    body_deadline(&mut req, body_timeout);
    Box::pin(srv.call(req))
}

/// The request body must have arrived `timeout` after its head: a body that never completes
/// would hold its connection and a worker's attention forever.
fn body_deadline(req: &mut ServiceRequest, timeout: Duration) {
    let inner = actix_web::HttpMessage::take_payload(req);
    let sleep = Box::pin(tokio::time::sleep(timeout));
    req.set_payload(actix_web::dev::Payload::Stream { payload: Deadline { inner, sleep, done: false }.boxed_local() });
}

struct Deadline<S> {
    inner: S,
    sleep: Pin<Box<tokio::time::Sleep>>,
    done: bool,
}

impl<S> Stream for Deadline<S>
where
    S: Stream<Item = Result<actix_web::web::Bytes, PayloadError>> + Unpin,
{
    type Item = Result<actix_web::web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(item)),
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Turns a failed body read into our answer: 408 when the body was too slow.
pub fn body_error(error: &PayloadError) -> AppError {
    match error {
        PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            AppError::client(StatusCode::REQUEST_TIMEOUT, "body_timeout", "the request body did not arrive in time")
        }
        PayloadError::Overflow => {
            AppError::client(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the body is too large")
        }
        _ => AppError::bad_request("incomplete_body", "the request body could not be read to its end"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_slots_back() {
        let table = Connections::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let a = table.take(ip, 2).unwrap();
        let _b = table.take(ip, 2).unwrap();
        assert!(table.take(ip, 2).is_none());
        drop(a);
        assert!(table.take(ip, 2).is_some());
    }
}
