//! How a card is named: a human number with a check digit (typed at a till, read over the phone)
//! and an opaque barcode payload (scanned). The barcode is random, so knowing a card number does
//! not let anyone forge a scan.

use rand::Rng;

use super::Invalid;

const NUMBER_DIGITS: usize = 12;
/// Crockford base32: no I, L, O, U, so nothing is misread.
const BARCODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 26 symbols of 5 bits: 130 random bits.
const BARCODE_LEN: usize = 26;
const TOKEN_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Twelve digits, the last a Luhn check digit. Stored without spaces, shown in groups of four.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CardNumber(String);

impl CardNumber {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut digits: Vec<u8> = (0..NUMBER_DIGITS - 1).map(|_| rng.random_range(0..10u8)).collect();
        digits.push(luhn_check_digit(&digits));
        CardNumber(digits.iter().map(|d| char::from(b'0' + d)).collect())
    }

    /// Accepts spaces and dashes between digits, as people type them.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if compact.len() != NUMBER_DIGITS || !compact.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("a card number has 12 digits"));
        }
        let digits: Vec<u8> = compact.bytes().map(|b| b - b'0').collect();
        let (body, check) = digits.split_at(NUMBER_DIGITS - 1);
        if check != [luhn_check_digit(body)] {
            return Err(Invalid::new("the card number's check digit does not match"));
        }
        Ok(CardNumber(compact))
    }

    /// The stored form, from a row that was valid when written.
    pub fn from_db(s: String) -> Self {
        CardNumber(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "1234 5678 9012": how it is printed on passes and read over the phone.
    pub fn grouped(&self) -> String {
        let chunks: Vec<&str> = self.0.as_bytes().chunks(4).filter_map(|c| std::str::from_utf8(c).ok()).collect();
        chunks.join(" ")
    }
}

fn luhn_check_digit(body: &[u8]) -> u8 {
    // Doubling starts from the digit next to the (missing) check digit.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    let check = (10 - sum % 10) % 10;
    u8::try_from(check).unwrap_or(0)
}

/// The scannable payload printed in the pass's QR code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Barcode(String);

impl Barcode {
    pub fn generate() -> Self {
        Barcode(random_string(BARCODE_ALPHABET, BARCODE_LEN))
    }

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let upper = input.trim().to_ascii_uppercase();
        if upper.len() == BARCODE_LEN && upper.bytes().all(|b| BARCODE_ALPHABET.contains(&b)) {
            Ok(Barcode(upper))
        } else {
            Err(Invalid::new("not a card barcode"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a till sends to name a card: the scanned barcode or the typed number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardRef {
    Number(CardNumber),
    Barcode(Barcode),
}

impl CardRef {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        CardNumber::parse(input)
            .map(CardRef::Number)
            .or_else(|_| Barcode::parse(input).map(CardRef::Barcode))
            .map_err(|_| Invalid::new("expected a card number (12 digits) or a scanned barcode"))
    }
}

impl<'de> serde::Deserialize<'de> for CardRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        CardRef::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for CardRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            CardRef::Number(n) => s.serialize_str(n.as_str()),
            CardRef::Barcode(b) => s.serialize_str(b.as_str()),
        }
    }
}

/// A random secret (pass authentication token, serial) from a 62-letter alphabet.
pub fn random_token(len: usize) -> String {
    random_string(TOKEN_ALPHABET, len)
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_luhn_number() {
        // 79927398713 is the textbook Luhn number; a leading zero pads it to our 12 digits.
        assert!(CardNumber::parse("0799 2739 8713").is_ok());
        assert!(CardNumber::parse("0799-2739-8710").is_err());
    }

    #[test]
    fn refuses_garbage() {
        assert!(CardNumber::parse("").is_err());
        assert!(CardNumber::parse("abcd efgh ijkl").is_err());
        assert!(Barcode::parse("short").is_err());
        assert!(CardRef::parse("O0000000000000000000000000").is_err(), "O is not Crockford");
    }

    proptest! {
        #[test]
        fn generated_numbers_parse_and_any_single_digit_change_is_caught(pos in 0usize..12, bump in 1u8..10) {
            let n = CardNumber::generate();
            prop_assert_eq!(CardNumber::parse(&n.grouped()).unwrap(), n.clone());
            let mut bytes = n.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + bump) % 10;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(CardNumber::parse(&typo).is_err());
        }

        #[test]
        fn barcodes_round_trip(_i in 0..20u8) {
            let b = Barcode::generate();
            prop_assert_eq!(Barcode::parse(&b.as_str().to_lowercase()).unwrap(), b.clone());
            prop_assert!(CardNumber::parse(b.as_str()).is_err());
        }
    }
}
