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

/// An amount as people type it, in cents: `12`, `12.5`, `12,50`, `1 250,00` (spaces are
/// thousands separators), never negative, at most two decimals. Read from the digits, with no
/// floating point on the way.
pub fn parse_amount(text: &str) -> Result<i64, Invalid> {
    let invalid = || Invalid::new("an amount such as 12,50");
    let compact: String = text.trim().chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}')).collect();
    let (units, decimals) = match compact.split_once([',', '.']) {
        Some((u, d)) => (u, d),
        None => (compact.as_str(), ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(units) || (!decimals.is_empty() && !digits(decimals)) || decimals.len() > 2 || units.len() > 12 {
        return Err(invalid());
    }
    let units: i64 = units.parse().map_err(|_| invalid())?;
    let cents: i64 = format!("{decimals:0<2}").parse().map_err(|_| invalid())?;
    Ok(units * 100 + cents)
}

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
    fn amounts_as_typed() {
        for (text, cents) in
            [("12", 1200), ("12,5", 1250), ("12.50", 1250), (" 1 250,00 ", 125_000), ("0,05", 5), ("7.", 700)]
        {
            assert_eq!(parse_amount(text), Ok(cents), "{text:?}");
        }
        for bad in ["", "-1", "12,505", "1e3", "12,5,0", ",50", "douze", "1 2 3 4 5 6 7 8 9 0 1 2 3"] {
            assert!(parse_amount(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_round_trips(text in ".{0,20}", cents in 0i64..1_000_000_000) {
            let _ = parse_amount(&text);
            let shown = format!("{},{:02}", cents / 100, cents % 100);
            proptest::prop_assert_eq!(parse_amount(&shown), Ok(cents));
        }
    }

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
