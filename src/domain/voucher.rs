//! What a voucher is worth and how its code reads. No I/O here: issuing, using and expiring
//! vouchers is `service::vouchers`.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::codes::{ALPHABET, check_symbol, normalise};
use super::money::MAX_CENTS;
use super::{Invalid, serde_via_parse};

/// Random symbols in a voucher code, before its check symbol: 31^10 ≈ 8·10^14 values, so a
/// programme holding a million vouchers still gives a guesser less than one hit in 800 million.
const BODY: usize = 10;
/// Shown as 4 + 4 + 3 ("K7MX-2QE9-AB4"): short groups, read off a phone at the till.
const GROUP: usize = 4;
const ITEM_MAX_CHARS: usize = 80;
/// A voucher lasts at most ten years: beyond that a date is a typo.
pub const MAX_VALIDITY_DAYS: i64 = 3650;

/// A voucher's code: 10 random symbols of the unambiguous alphabet and a check symbol, accepted
/// in any case with or without dashes or spaces. It is also what the voucher's QR code holds, and
/// being 11 symbols long it never reads as a card number (12 digits) or a card barcode (26).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VoucherCode(String);

impl VoucherCode {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let body: String = (0..BODY).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
        // The body is made of ALPHABET symbols, so a check symbol always exists.
        let check = check_symbol(&body).unwrap_or('2');
        VoucherCode(format!("{body}{check}"))
    }

    pub fn parse(input: impl AsRef<str>) -> Result<Self, Invalid> {
        let code = normalise(input.as_ref());
        if code.len() != BODY + 1 || !code.is_ascii() {
            return Err(Invalid::new("a voucher code has 11 letters and digits"));
        }
        if !code.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(Invalid::new("a voucher code uses the digits 2 to 9 and the letters A to Z except I, L and O"));
        }
        let (body, check) = code.split_at(BODY);
        if check_symbol(body) != check.chars().next() {
            return Err(Invalid::new(
                "a symbol of the voucher code was probably mistyped: its check symbol does not match",
            ));
        }
        Ok(VoucherCode(code))
    }

    /// The stored form, from a row that was valid when written.
    pub fn from_db(code: String) -> Self {
        VoucherCode(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "K7MX-2QE9-AB4": how it is shown to people.
    pub fn display(&self) -> String {
        let (a, rest) = self.0.split_at(GROUP);
        let (b, c) = rest.split_at(GROUP);
        format!("{a}-{b}-{c}")
    }
}
serde_via_parse!(VoucherCode, String);

impl Serialize for VoucherCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// What a voucher gives. In JSON, one key: `{"amount_off_cents": 500}`, `{"percent_off": 10}` or
/// `{"item": "a coffee"}`.
/// A request's value is checked as it is read: a 0 or a 101 % never reaches a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "Unchecked")]
pub enum VoucherValue {
    AmountOffCents(i64),
    PercentOff(i64),
    /// Something handed over at the till (a coffee, a sample): no discount on a purchase.
    Item(String),
}

/// The JSON shape, before the ranges are checked.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Unchecked {
    AmountOffCents(i64),
    PercentOff(i64),
    Item(String),
}

impl TryFrom<Unchecked> for VoucherValue {
    type Error = Invalid;
    fn try_from(raw: Unchecked) -> Result<Self, Invalid> {
        let value = match raw {
            Unchecked::AmountOffCents(c) => VoucherValue::AmountOffCents(c),
            Unchecked::PercentOff(p) => VoucherValue::PercentOff(p),
            Unchecked::Item(text) => VoucherValue::Item(text.trim().to_owned()),
        };
        value.check()?;
        Ok(value)
    }
}

impl VoucherValue {
    /// Refuses a value outside what its kind allows; the message names the range.
    pub fn check(&self) -> Result<(), Invalid> {
        match self {
            VoucherValue::AmountOffCents(c) if !(1..=MAX_CENTS).contains(c) => {
                Err(Invalid::new(format!("amount_off_cents must be between 1 and {MAX_CENTS}")))
            }
            VoucherValue::PercentOff(p) if !(1..=100).contains(p) => {
                Err(Invalid::new("percent_off must be between 1 and 100"))
            }
            VoucherValue::Item(text) => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > ITEM_MAX_CHARS || text.chars().any(char::is_control) {
                    Err(Invalid::new(format!("item is a text of 1 to {ITEM_MAX_CHARS} characters")))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// (kind, value, item) as stored.
    pub fn parts(&self) -> (&'static str, Option<i64>, Option<&str>) {
        match self {
            VoucherValue::AmountOffCents(c) => ("amount_off_cents", Some(*c), None),
            VoucherValue::PercentOff(p) => ("percent_off", Some(*p), None),
            VoucherValue::Item(text) => ("item", None, Some(text.trim())),
        }
    }

    /// The value a stored kind, value and item stand for; a kind this build does not know, or a
    /// row missing its value, is refused rather than read as something else.
    pub fn from_parts(kind: &str, value: Option<i64>, item: Option<&str>) -> Result<VoucherValue, Invalid> {
        match (kind, value, item) {
            ("amount_off_cents", Some(c), _) => Ok(VoucherValue::AmountOffCents(c)),
            ("percent_off", Some(p), _) => Ok(VoucherValue::PercentOff(p)),
            ("item", _, Some(text)) => Ok(VoucherValue::Item(text.to_owned())),
            _ => Err(Invalid::new(format!("unknown or incomplete voucher value {kind:?}"))),
        }
    }

    pub fn is_item(&self) -> bool {
        matches!(self, VoucherValue::Item(_))
    }
}

/// A validity in whole days, 1 to ten years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ValidityDays(i64);

impl ValidityDays {
    pub fn parse(days: i64) -> Result<Self, Invalid> {
        if (1..=MAX_VALIDITY_DAYS).contains(&days) {
            Ok(ValidityDays(days))
        } else {
            Err(Invalid::new(format!("must be between 1 and {MAX_VALIDITY_DAYS} days")))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The end of the last valid day, in UTC: a voucher issued on 3 March for 1 day is good
    /// until 3 March, 23:59:59.999999 in the programme's time zone. Midnight that does not exist
    /// (a time-zone change at midnight) falls on the earliest instant of the next day.
    pub fn expiry(self, issued: NaiveDateTime, tz: chrono_tz::Tz) -> NaiveDateTime {
        let local_day = tz.from_utc_datetime(&issued).date_naive();
        let last = local_day + chrono::Days::new(u64::try_from(self.0 - 1).unwrap_or(0));
        let next = last.succ_opt().unwrap_or(NaiveDate::MAX);
        let start_of_next = next.and_hms_opt(0, 0, 0).unwrap_or(NaiveDateTime::MAX);
        let utc = tz.from_local_datetime(&start_of_next).earliest().map_or(start_of_next, |t| t.naive_utc());
        utc - chrono::Duration::microseconds(1)
    }
}
serde_via_parse!(ValidityDays, i64);

/// What one voucher takes off a purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Index of the voucher in the list given to [`discounts`].
    pub index: usize,
    pub discount_cents: i64,
}

/// The discount each voucher gives on a bill of `amount` cents (what is left after any promo
/// code). Amount vouchers come first, in the order given, then percent vouchers, each on what is
/// left to pay: so the total never exceeds the amount and the order of the scans does not change
/// it. A percent rounds half down to the cent (10 % of 12.35 € is 1.23 €, of 12.45 € is 1.24 €).
/// Items give no discount.
pub fn discounts(amount: i64, values: &[VoucherValue]) -> Vec<Applied> {
    let mut left = amount.max(0);
    let mut off = vec![0; values.len()];
    for (i, value) in values.iter().enumerate() {
        if let VoucherValue::AmountOffCents(c) = value {
            off[i] = (*c).min(left);
            left -= off[i];
        }
    }
    for (i, value) in values.iter().enumerate() {
        if let VoucherValue::PercentOff(p) = value {
            off[i] = percent_half_down(left, *p);
            left -= off[i];
        }
    }
    off.into_iter().enumerate().map(|(index, discount_cents)| Applied { index, discount_cents }).collect()
}

/// `p` % of `cents`, to the nearest cent, a half cent going down.
fn percent_half_down(cents: i64, p: i64) -> i64 {
    let x = i128::from(cents) * i128::from(p.clamp(0, 100));
    // For x ≥ 0, floor((x + 49) / 100) is x / 100 rounded to the nearest, ties down.
    i64::try_from((x + 49) / 100).unwrap_or(cents).min(cents)
}

/// How many whole blocks of `block` points a balance converts, and the points they take: none
/// below the threshold, and the remainder is kept (1,234 points in blocks of 500 → 2 blocks,
/// 1,000 points, 234 kept).
pub fn blocks(balance: i64, threshold: i64, block: i64) -> (i64, i64) {
    if block <= 0 || balance < threshold.max(block) {
        return (0, 0);
    }
    let n = balance / block;
    (n, n * block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_a_typo_is_caught() {
        for _ in 0..200 {
            let code = VoucherCode::generate();
            assert_eq!(VoucherCode::parse(code.display().to_lowercase()), Ok(code.clone()));
            // One symbol changed: the check symbol refuses it.
            let mut bytes = code.as_str().as_bytes().to_vec();
            bytes[3] = if bytes[3] == b'2' { b'3' } else { b'2' };
            assert!(VoucherCode::parse(String::from_utf8(bytes).unwrap()).is_err());
        }
        assert!(VoucherCode::parse("ABCD").is_err());
        assert!(VoucherCode::parse("0000-0000-000").unwrap_err().to_string().contains("except I, L and O"));
        // A card number is never read as a voucher code.
        assert!(VoucherCode::parse("123456789012").is_err());
    }

    #[test]
    fn values_outside_their_range_are_refused() {
        assert!(VoucherValue::AmountOffCents(0).check().is_err());
        assert!(VoucherValue::AmountOffCents(-5).check().is_err());
        assert!(VoucherValue::PercentOff(101).check().is_err());
        assert!(VoucherValue::PercentOff(0).check().is_err());
        assert!(VoucherValue::Item("  ".into()).check().is_err());
        assert!(VoucherValue::Item("a free coffee".into()).check().is_ok());
        assert!(VoucherValue::PercentOff(100).check().is_ok());
        let json: VoucherValue = serde_json::from_str(r#"{"amount_off_cents": 500}"#).unwrap();
        assert_eq!(json, VoucherValue::AmountOffCents(500));
        assert!(serde_json::from_str::<VoucherValue>(r#"{"amount_off_cents": 5, "percent_off": 5}"#).is_err());
        let refused = serde_json::from_str::<VoucherValue>(r#"{"percent_off": 101}"#).unwrap_err();
        assert!(refused.to_string().contains("between 1 and 100"), "{refused}");
    }

    #[test]
    fn amounts_first_then_percents_never_more_than_the_bill() {
        use VoucherValue::*;
        let d = |amount, values: &[VoucherValue]| -> Vec<i64> {
            discounts(amount, values).iter().map(|a| a.discount_cents).collect()
        };
        // 10 % applies to what is left after the 5 € voucher, whatever the order of the scans.
        assert_eq!(d(2500, &[PercentOff(10), AmountOffCents(500)]), vec![200, 500]);
        assert_eq!(d(2500, &[AmountOffCents(500), PercentOff(10)]), vec![500, 200]);
        assert_eq!(d(300, &[AmountOffCents(500), AmountOffCents(500)]), vec![300, 0]);
        assert_eq!(d(1000, &[PercentOff(100), PercentOff(50)]), vec![1000, 0]);
        assert_eq!(d(1000, &[Item("coffee".into())]), vec![0]);
        // Half a cent goes down; more than half goes up.
        assert_eq!(d(1235, &[PercentOff(10)]), vec![123]);
        assert_eq!(d(1245, &[PercentOff(10)]), vec![124]);
        assert_eq!(d(1246, &[PercentOff(10)]), vec![125]);
        assert_eq!(d(5, &[PercentOff(10)]), vec![0]);
        assert_eq!(d(6, &[PercentOff(10)]), vec![1]);
    }

    #[test]
    fn blocks_keep_the_remainder() {
        assert_eq!(blocks(499, 500, 500), (0, 0));
        assert_eq!(blocks(500, 500, 500), (1, 500));
        assert_eq!(blocks(1234, 500, 500), (2, 1000));
        assert_eq!(blocks(-20, 500, 500), (0, 0));
        // A threshold above the block: nothing until the threshold, then whole blocks.
        assert_eq!(blocks(900, 1000, 300), (0, 0));
        assert_eq!(blocks(1000, 1000, 300), (3, 900));
    }

    #[test]
    fn a_voucher_lasts_to_the_end_of_its_last_local_day() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        // 2026-03-03 22:30 UTC is 23:30 in Paris: issued on the 3rd, one day runs to the 3rd's end.
        let issued = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap().and_hms_opt(22, 30, 0).unwrap();
        let end = ValidityDays::parse(1).unwrap().expiry(issued, tz);
        assert_eq!(end.to_string(), "2026-03-03 22:59:59.999999");
        // 23:30 UTC is already the 4th in Paris.
        let late = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap().and_hms_opt(23, 30, 0).unwrap();
        assert_eq!(ValidityDays::parse(1).unwrap().expiry(late, tz).to_string(), "2026-03-04 22:59:59.999999");
        // 90 days across the spring change of clocks: the end of the day in summer time.
        assert_eq!(ValidityDays::parse(90).unwrap().expiry(issued, tz).to_string(), "2026-05-31 21:59:59.999999");
        assert!(ValidityDays::parse(0).is_err());
        assert!(ValidityDays::parse(3651).is_err());
    }
}
