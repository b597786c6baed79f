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
        match normalised.parse::<email_address::EmailAddress>() {
            Ok(addr) if addr.domain().contains('.') => Ok(Email(normalised)),
            _ => Err(Invalid::new("not a valid e-mail address")),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
}
