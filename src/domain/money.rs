use serde::Serialize;

use super::{Invalid, serde_via_parse};

/// More than ten million in any currency at a till is a typo or an attack, never a purchase.
pub const MAX_CENTS: i64 = 1_000_000_000;

/// A positive amount of money in minor units (cents), at most [`MAX_CENTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Cents(i64);

impl Cents {
    pub fn parse(v: i64) -> Result<Self, Invalid> {
        if (1..=MAX_CENTS).contains(&v) {
            Ok(Cents(v))
        } else {
            Err(Invalid::new(format!("must be between 1 and {MAX_CENTS} cents")))
        }
    }
    pub fn get(self) -> i64 {
        self.0
    }
}
serde_via_parse!(Cents, i64);

/// An ISO 4217 code: three upper-case letters ("EUR").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Currency(String);

impl Currency {
    pub fn parse(v: String) -> Result<Self, Invalid> {
        let v = v.trim().to_ascii_uppercase();
        if v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(v))
        } else {
            Err(Invalid::new("must be a three-letter ISO 4217 code such as EUR"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
serde_via_parse!(Currency, String);

/// An amount as people read it: `5,00 €` in French, `€5.00` in English; other currencies by
/// their code. Pages and e-mails both show money through this.
pub fn display(cents: i64, currency: &str, locale: super::text::Locale) -> String {
    use super::text::Locale;
    let sign = if cents < 0 { "-" } else { "" };
    let (units, rest) = (cents.unsigned_abs() / 100, cents.unsigned_abs() % 100);
    let symbol = match currency {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        _ => None,
    };
    match (locale, symbol) {
        (Locale::Fr, Some(s)) => format!("{sign}{units},{rest:02}\u{a0}{s}"),
        (Locale::Fr, None) => format!("{sign}{units},{rest:02}\u{a0}{currency}"),
        (Locale::En, Some(s)) => format!("{sign}{s}{units}.{rest:02}"),
        (Locale::En, None) => format!("{sign}{units}.{rest:02} {currency}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_and_currency() {
        assert!(Cents::parse(0).is_err());
        assert!(Cents::parse(-1250).is_err());
        assert!(Cents::parse(MAX_CENTS + 1).is_err());
        assert_eq!(Cents::parse(1250).unwrap().get(), 1250);
        assert_eq!(Currency::parse(" eur".into()).unwrap().as_str(), "EUR");
        assert!(Currency::parse("EURO".into()).is_err());
        assert!(Currency::parse("E1R".into()).is_err());
    }
}
