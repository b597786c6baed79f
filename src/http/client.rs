//! Who is asking: the client's address (for the rate limits) and the host it asked for (for the
//! CSRF Origin check). Forwarded headers are believed only from the proxies named in
//! `trusted_proxies`; anyone else could write them.

use actix_web::HttpRequest;

/// The client's IP address, as text: the peer, or what a trusted proxy says the peer was.
pub fn address(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}
