use serde::Serialize;

use super::{Invalid, serde_via_parse};

/// An e-mail address, normalised (trimmed, lower-cased) so that one person has one identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: String) -> Result<Self, Invalid> {
        let normalised = raw.trim().to_lowercase();
        if normalised.len() > 254 {
            return Err(Invalid::new("an e-mail address has at most 254 characters"));
        }
        if sendable(&normalised) { Ok(Email(normalised)) } else { Err(Invalid::new("not a valid e-mail address")) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether mail can go to `address`: a plain dot-atom local part and a DNS domain with a dot.
/// A quoted local part (`"a b"@x.org`) or an IP literal (`a@[127.0.0.1]`) is valid by the RFC and
/// taken by `lettre::Address`, but lettre's message builder reads the recipient back from the To
/// header it wrote, fails to, and gives up with "missing destination address": such an address
/// can be neither enrolled nor mailed.
pub fn sendable(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    dot_atom(local)
        && dns_domain(domain)
        && address.parse::<email_address::EmailAddress>().is_ok()
        && address.parse::<lettre::Address>().is_ok()
}

/// RFC 5322 atoms joined by single dots; letters beyond ASCII as RFC 6532 allows.
fn dot_atom(local: &str) -> bool {
    const ATEXT: &str = "!#$%&'*+-/=?^_`{|}~";
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ATEXT.contains(c) || (!c.is_ascii() && c.is_alphanumeric()))
    })
}

/// Host names only: labels of letters, digits and inner hyphens, and a top-level label that is not
/// a number (so no bare IPv4 address either).
fn dns_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.chars().count())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c == '-' || c.is_alphanumeric())
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}
serde_via_parse!(Email, String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_refuses() {
        assert_eq!(Email::parse("  Marie.Curie@Example.FR ".into()).unwrap().as_str(), "marie.curie@example.fr");
        for bad in ["", "marie", "marie@", "@example.fr", "marie@localhost", "ma rie@example.fr"] {
            assert!(Email::parse(bad.into()).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_what_can_be_mailed_is_taken() {
        for bad in [
            "\"a b\"@example.org",
            "\"a\\\"b\"@example.org",
            "\"ab\"@example.org",
            "a@[127.0.0.1]",
            "a@[ipv6:::1]",
            "a@127.0.0.1",
            "a..b@example.org",
            ".a@example.org",
            "a@-x.org",
            "a@x..org",
        ] {
            assert!(Email::parse(bad.into()).is_err(), "{bad}");
        }
        for good in ["a.b+tag@example.org", "o'brien@example.ie", "zoé@example.fr", "zoe@café.fr", "a@x-y.example.org"]
        {
            assert!(Email::parse(good.into()).is_ok(), "{good}");
        }
    }
}
