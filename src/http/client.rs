//! Who is asking: the client's address (for the rate limits) and the host it asked for (for the
//! CSRF Origin check). Forwarded headers are believed only from the proxies named in
//! `trusted_proxies`: anyone else could write them, to pass for another site in the Origin check
//! or for a new client at each request of a guessing run.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::Config;

/// The `trusted_proxies` setting: addresses and CIDR ranges, separated by commas or spaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("trusted_proxies: {part:?} is not an IP address or a CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl std::fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(IpNet::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A list in the file, or one text (the environment's form).
impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            One(String),
            Many(Vec<String>),
        }
        let text = match Given::deserialize(d)? {
            Given::One(text) => text,
            Given::Many(parts) => parts.join(","),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl TrustedProxies {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: the peer itself, unless it is a trusted proxy; then the nearest
    /// address of `X-Forwarded-For` that is not one of ours (each proxy appends the address it
    /// saw, so only the right end of the list was written by a proxy we trust).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = headers.get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
        let hops: Vec<&str> = hops.collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }

    /// The host the browser asked for: `Host`, or a trusted proxy's `X-Forwarded-Host`.
    pub fn host(&self, peer: Option<IpAddr>, headers: &HeaderMap, uri_host: Option<&str>) -> Option<String> {
        let forwarded = peer
            .filter(|ip| self.trusts(*ip))
            .and_then(|_| headers.get("x-forwarded-host"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        forwarded.or(host).or(uri_host).map(str::to_owned)
    }
}

fn proxies(req: &HttpRequest) -> TrustedProxies {
    req.app_data::<actix_web::web::Data<Config>>().map(|c| c.trusted_proxies.clone()).unwrap_or_default()
}

/// The client's IP address, as text: the peer, or who a trusted proxy says the peer was.
pub fn address(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    Some(proxies(req).client(peer, req.headers()).to_string())
}

/// The host (and port) the request was sent to, for comparing with its `Origin`.
pub fn host(req: &HttpRequest) -> Option<String> {
    proxies(req).host(
        req.peer_addr().map(|a| a.ip()),
        req.headers(),
        req.uri().authority().map(actix_http::uri::Authority::as_str),
    )
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_ranges_and_refuses_the_rest() {
        let p: TrustedProxies = "10.0.0.0/8, 192.168.1.5 ::1".parse().unwrap();
        assert_eq!(p.to_string(), "10.0.0.0/8,192.168.1.5/32,::1/128");
        assert_eq!("".parse::<TrustedProxies>().unwrap(), TrustedProxies::default());
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.local".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn forwarded_headers_from_anyone_else_are_ignored() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("x-forwarded-host", "evil.test"), ("host", "shop.fr")]);
        assert_eq!(none.client(ip("198.51.100.7"), &h), ip("198.51.100.7"));
        assert_eq!(none.host(Some(ip("198.51.100.7")), &h, None).as_deref(), Some("shop.fr"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_the_host() {
        let p: TrustedProxies = "10.0.0.0/8".parse().unwrap();
        // The client wrote "1.2.3.4" itself; our proxies appended the rest.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9"),
            ("x-forwarded-for", "10.0.0.2"),
            ("x-forwarded-host", "shop.fr"),
            ("host", "10.0.0.1:8080"),
        ]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        assert_eq!(p.client(ip("::ffff:10.0.0.1"), &h), ip("203.0.113.9"));
        assert_eq!(p.host(Some(ip("10.0.0.1")), &h, None).as_deref(), Some("shop.fr"));
        // Garbage in the list stops the walk at the last address we could read.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, not-an-ip, 10.0.0.3")]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.3"));
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
    }
}
