//! Codes people pass on by hand. A referral code is read aloud between friends or copied from a
//! message ("K7MX-2QE"); a promo code is typed at a till from a flyer or a phone screen. Both are
//! made of symbols that cannot be confused with one another, accepted in any case with or without
//! dashes and spaces, and (when we generate them) end with a check symbol, so that a misread or
//! mistyped code is refused at once instead of naming somebody else's card or campaign.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Invalid, serde_via_parse};

/// The 31 symbols codes are made of: digits and capitals without 0, O, 1, I and L, so that nothing
/// is misread. The order is part of the check-symbol arithmetic: it is fixed forever, since
/// changing it would invalidate every code already printed or shared.
pub const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// A code guessed at random must miss at least this many times per hit: a pool of N codes needs a
/// pattern with at least N × `MIN_SPARSENESS` possible values.
pub const MIN_SPARSENESS: u128 = 1000;

/// `ALPHABET.len()`, as the modulus of the check arithmetic (the array type pins it to 31).
const N: u8 = 31;

const REFERRAL_BODY: usize = 6;
/// Shown as 4 + 3: short groups are easier to read aloud and to hold in mind while typing.
const REFERRAL_GROUP: usize = 4;

const PROMO_MIN: usize = 3;
const PROMO_MAX: usize = 40;

const MIN_RANDOMS: u32 = 4;
const MAX_RANDOMS: u32 = 16;
const DEFAULT_RANDOMS: u32 = 8;
const MAX_PREFIX: usize = 12;
/// The most codes one batch may ask for: enough for any print run, small enough to hold in memory.
const MAX_BATCH: usize = 1_000_000;

/// The Luhn mod N check symbol (N = 31) over `body`, which must be made of ALPHABET symbols; None
/// otherwise. Luhn mod N catches every single-symbol error and every transposition of adjacent
/// symbols.
///
/// From the right of the body, symbol values are weighted 2, 1, 2, 1... and the check symbol makes
/// the weighted sum, with itself at weight 1, a multiple of 31. One departure from textbook Luhn
/// mod N: a doubled value is reduced modulo 31 rather than by summing its base-31 "digits". The
/// digit sum is a permutation only for an even N; with N = 31 it maps both 1 and 16 to 2, so a
/// `3` typed for a `J` would go unnoticed. Doubling modulo the prime 31 is a permutation, which is
/// what makes the two guarantees above hold.
pub fn check_symbol(body: &str) -> Option<char> {
    let sum = body
        .bytes()
        .rev()
        .enumerate()
        .try_fold(0, |sum, (from_right, b)| Some(luhn_step(sum, symbol_index(b)?, from_right)))?;
    Some(symbol_char(check_index(sum)))
}

/// Adds one body symbol to a running Luhn sum (kept below N). `from_right` counts from the body's
/// last symbol, which sits next to the check symbol and is doubled.
fn luhn_step(sum: u8, index: u8, from_right: usize) -> u8 {
    let addend = if from_right.is_multiple_of(2) { index * 2 % N } else { index };
    (sum + addend) % N
}

fn check_index(sum: u8) -> u8 {
    (N - sum) % N
}

fn symbol_index(b: u8) -> Option<u8> {
    ALPHABET.iter().position(|&s| s == b).and_then(|i| u8::try_from(i).ok())
}

/// `index` always comes from `random_range(0..N)` or `symbol_index`, so it is below N.
fn symbol_char(index: u8) -> char {
    char::from(ALPHABET[usize::from(index)])
}

fn is_code_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// What a person typed, in canonical form: trimmed, upper-cased, spaces and dashes removed.
///
/// Any whitespace counts as a space (a non-breaking space comes with copy and paste) and the
/// Unicode hyphens and dashes count as dashes (phone keyboards and PDFs substitute them).
pub fn normalise(input: &str) -> String {
    input.chars().filter(|&c| !c.is_whitespace() && !is_dash(c)).map(|c| c.to_ascii_uppercase()).collect()
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// A card's referral code: 6 random ALPHABET symbols and a check symbol (7 in all), shown as
/// "K7MX-2QE" (4 + 3) and accepted in any case, with or without the dash or spaces.
///
/// 31^6 ≈ 887 million values: at `MIN_SPARSENESS`, room for 887,000 cards per pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferralCode(String);

impl ReferralCode {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let body: [u8; REFERRAL_BODY] = std::array::from_fn(|_| rng.random_range(0..N));
        let sum = body.iter().rev().enumerate().fold(0, |sum, (from_right, &x)| luhn_step(sum, x, from_right));
        let mut code = String::with_capacity(REFERRAL_BODY + 1);
        code.extend(body.iter().map(|&x| symbol_char(x)));
        code.push(symbol_char(check_index(sum)));
        ReferralCode(code)
    }

    pub fn parse(input: impl AsRef<str>) -> Result<Self, Invalid> {
        let code = normalise(input.as_ref());
        if code.chars().count() != REFERRAL_BODY + 1 {
            return Err(Invalid::new("a referral code has 7 symbols"));
        }
        // Checked before the check symbol so that a 0 or an O is named as such, not as a typo.
        if !code.bytes().all(|b| symbol_index(b).is_some()) {
            return Err(Invalid::new(
                "a referral code uses the digits 2 to 9 and the letters A to Z except I, L and O",
            ));
        }
        let (body, check) = code.split_at(REFERRAL_BODY);
        if check_symbol(body) != check.chars().next() {
            return Err(Invalid::new(
                "a symbol of the referral code was probably mistyped: its check symbol does not match",
            ));
        }
        Ok(ReferralCode(code))
    }

    /// The canonical form, e.g. "K7MX2QE": what is stored and put in links.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "K7MX-2QE": how it is shown to people.
    pub fn display(&self) -> String {
        let (head, tail) = self.0.split_at(REFERRAL_GROUP);
        format!("{head}-{tail}")
    }
}
serde_via_parse!(ReferralCode, String);

impl serde::Serialize for ReferralCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A promo code as stored and looked up: canonical (`normalise()`), 3 to 40 symbols of [A-Z0-9].
/// Merchant-chosen shared codes ("SUMMER26") need no check symbol; generated ones carry one (see
/// `CodePattern`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PromoCode(String);

impl PromoCode {
    pub fn parse(input: impl AsRef<str>) -> Result<Self, Invalid> {
        let code = normalise(input.as_ref());
        if !code.bytes().all(is_code_char) {
            return Err(Invalid::new("a promo code is made of letters and digits"));
        }
        if !(PROMO_MIN..=PROMO_MAX).contains(&code.len()) {
            return Err(Invalid::new("a promo code has 3 to 40 letters and digits"));
        }
        Ok(PromoCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
serde_via_parse!(PromoCode, String);

impl serde::Serialize for PromoCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// One place of a pattern, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// A random ALPHABET symbol ('#').
    Random,
    /// A character kept as it is, in every code of the pool.
    Literal(u8),
    /// Shown to people, not stored.
    Dash,
}

/// How a pool of unique codes looks: an optional prefix ([A-Z0-9] after `normalise()`, may contain
/// any letter, e.g. "NOEL"), then a body of random ALPHABET symbols, then one check symbol over the
/// body (not over the prefix).
///
/// Either `pattern` ("####-####": each '#' a random symbol, '-' a separator shown to people but not
/// stored, any other [A-Z0-9] character literal) or `length` (number of random symbols, 4..=16) is
/// given, not both; default length 8. The check symbol is computed over the random symbols only
/// (prefix and literals are compared as they are) and is shown at the end of the last group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePattern {
    prefix: String,
    slots: Vec<Slot>,
    /// How many slots are `Random`: between `MIN_RANDOMS` and `MAX_RANDOMS`.
    randoms: u32,
}

impl CodePattern {
    pub fn new(prefix: Option<&str>, pattern: Option<&str>, length: Option<u32>) -> Result<Self, Invalid> {
        // A blank prefix (an empty form field) means no prefix.
        let prefix = prefix.map(normalise).unwrap_or_default();
        if !prefix.bytes().all(is_code_char) {
            return Err(Invalid::new("a prefix is made of letters and digits"));
        }
        if prefix.len() > MAX_PREFIX {
            return Err(Invalid::new("a prefix has at most 12 letters and digits"));
        }
        let slots = match (pattern, length) {
            (Some(_), Some(_)) => return Err(Invalid::new("give either a pattern or a length, not both")),
            (Some(pattern), None) => parse_pattern(pattern)?,
            (None, length) => {
                let length = length.unwrap_or(DEFAULT_RANDOMS);
                if !(MIN_RANDOMS..=MAX_RANDOMS).contains(&length) {
                    return Err(Invalid::new("a code has 4 to 16 random symbols"));
                }
                (0..length).map(|_| Slot::Random).collect()
            }
        };
        let randoms = slots.iter().filter(|&&s| s == Slot::Random).count();
        let randoms = u32::try_from(randoms).unwrap_or(u32::MAX);
        if !(MIN_RANDOMS..=MAX_RANDOMS).contains(&randoms) {
            return Err(Invalid::new("a pattern has 4 to 16 '#', one per random symbol"));
        }
        let pattern = CodePattern { prefix, slots, randoms };
        if pattern.stored_len() > PROMO_MAX {
            return Err(Invalid::new("a code has at most 40 letters and digits, prefix and check symbol included"));
        }
        Ok(pattern)
    }

    /// 31^(number of random symbols): how many distinct codes the pattern can produce.
    pub fn capacity(&self) -> u128 {
        // At most 31^16 < 2^80: the fallback is unreachable.
        u128::from(N).checked_pow(self.randoms).unwrap_or(u128::MAX)
    }

    /// One code, in canonical form (no dashes). Uniqueness is the caller's business (a unique
    /// index, or `generate_unique()`).
    pub fn generate(&self, rng: &mut impl Rng) -> PromoCode {
        let mut draft = Draft::new(self);
        draft.fill(rng);
        draft.code()
    }

    /// True iff the code has this prefix and literals at the right places, ALPHABET symbols where
    /// the pattern has '#', and the right check symbol.
    pub fn verify(&self, code: &PromoCode) -> bool {
        let Some(rest) = code.as_str().strip_prefix(self.prefix.as_str()) else {
            return false;
        };
        let mut bytes = rest.bytes();
        let mut sum = 0;
        let mut from_right = self.body_len();
        for slot in &self.slots {
            match *slot {
                Slot::Dash => {}
                Slot::Literal(l) => {
                    if bytes.next() != Some(l) {
                        return false;
                    }
                }
                Slot::Random => {
                    let Some(x) = bytes.next().and_then(symbol_index) else {
                        return false;
                    };
                    from_right -= 1;
                    sum = luhn_step(sum, x, from_right);
                }
            }
        }
        match (bytes.next().and_then(symbol_index), bytes.next()) {
            (Some(check), None) => check == check_index(sum),
            _ => false,
        }
    }

    /// The code with the pattern's dashes put back, and a dash after the prefix when there is one
    /// (prefix NOEL, pattern "####-####": "NOEL-K7MX-2Q9AE"), for CSV exports and printing. A code
    /// this pattern does not verify comes back as stored.
    pub fn display(&self, code: &PromoCode) -> String {
        let stored = code.as_str();
        let rest = match stored.strip_prefix(self.prefix.as_str()) {
            Some(rest) if self.verify(code) => rest,
            _ => return stored.to_owned(),
        };
        // At most one dash per slot, and one after the prefix.
        let mut shown = String::with_capacity(stored.len() + self.slots.len() + 1);
        if !self.prefix.is_empty() {
            shown.push_str(&self.prefix);
            shown.push('-');
        }
        let mut chars = rest.chars();
        for slot in &self.slots {
            match slot {
                Slot::Dash => shown.push('-'),
                Slot::Literal(_) | Slot::Random => shown.extend(chars.next()),
            }
        }
        // The check symbol ends the last group.
        shown.extend(chars);
        shown
    }

    /// `count` distinct codes, in random order. Refuses when `capacity()` < count × `MIN_SPARSENESS`
    /// (a guessed code would hit too often), or when count is 0 or above 1,000,000.
    ///
    /// Codes are drawn independently and duplicates dropped, which keeps the draw order uniformly
    /// random; the sparseness rule makes a duplicate rarer than 1 draw in 1,000. The generator is
    /// ChaCha12 seeded from the thread RNG: as fast here as a non-cryptographic one, and someone
    /// holding many codes of a batch still cannot predict the others.
    pub fn generate_unique(&self, count: usize) -> Result<Vec<PromoCode>, Invalid> {
        self.can_yield(count)?;
        let mut rng = StdRng::from_rng(&mut rand::rng());
        // Duplicates are found on the body's numeric value, so a rejected draw allocates nothing.
        let mut seen = HashSet::with_capacity_and_hasher(count, BuildHasherDefault::<DrawnHasher>::default());
        let mut codes = Vec::with_capacity(count);
        let mut draft = Draft::new(self);
        while codes.len() < count {
            if seen.insert(draft.fill(&mut rng)) {
                codes.push(draft.code());
            }
        }
        Ok(codes)
    }

    /// Whether a batch of `count` codes is allowed from this pattern (see [`generate_unique`]):
    /// checked when a campaign is created, before a job generates its pool.
    pub fn can_yield(&self, count: usize) -> Result<(), Invalid> {
        if count == 0 || count > MAX_BATCH {
            return Err(Invalid::new("a batch holds 1 to 1,000,000 codes"));
        }
        // count <= MAX_BATCH, so neither fallback is reachable.
        let wanted = u128::try_from(count).unwrap_or(u128::MAX);
        let needed = wanted.saturating_mul(MIN_SPARSENESS);
        if self.capacity() < needed {
            let (noun, verb) = if count == 1 { ("code", "needs") } else { ("codes", "need") };
            return Err(Invalid::new(format!(
                "this pattern yields at most {} codes; {} {noun} {verb} a pattern with at least {} possible values \
                 so that a guessed code misses {} times in {}",
                thousands(self.capacity()),
                thousands(wanted),
                thousands(needed),
                thousands(MIN_SPARSENESS - 1),
                thousands(MIN_SPARSENESS),
            )));
        }
        Ok(())
    }

    fn body_len(&self) -> usize {
        // randoms <= MAX_RANDOMS: the fallback is unreachable.
        usize::try_from(self.randoms).unwrap_or(MAX_BODY)
    }

    /// Prefix, literals, random symbols and the check symbol: the canonical length of every code.
    fn stored_len(&self) -> usize {
        self.prefix.len() + self.slots.iter().filter(|&&s| s != Slot::Dash).count() + 1
    }
}

/// A code being written: its stored form with the prefix and literals in place, and where the
/// random symbols go. Reused from code to code, a batch formats each one with no allocation but
/// its own String.
struct Draft {
    bytes: [u8; PROMO_MAX],
    /// The stored length, check symbol (last) included.
    len: usize,
    /// Where the random symbols go, left to right: `places[..randoms]`.
    places: [usize; MAX_BODY],
    randoms: usize,
}

impl Draft {
    /// `CodePattern::new` has refused any pattern longer than `PROMO_MAX` or with more than
    /// `MAX_BODY` random symbols, so the indexing below stays in bounds.
    fn new(pattern: &CodePattern) -> Self {
        let mut draft = Draft { bytes: [0; PROMO_MAX], len: 0, places: [0; MAX_BODY], randoms: 0 };
        for b in pattern.prefix.bytes() {
            draft.bytes[draft.len] = b;
            draft.len += 1;
        }
        for slot in &pattern.slots {
            match *slot {
                Slot::Dash => continue,
                Slot::Literal(l) => draft.bytes[draft.len] = l,
                Slot::Random => {
                    draft.places[draft.randoms] = draft.len;
                    draft.randoms += 1;
                }
            }
            draft.len += 1;
        }
        draft.len += 1;
        draft
    }

    /// Draws new random symbols and their check symbol; returns the symbols' base-31 value, which
    /// names the code within its pattern.
    fn fill(&mut self, rng: &mut impl Rng) -> u128 {
        let mut sum = 0;
        let mut value = 0;
        for (i, &place) in self.places[..self.randoms].iter().enumerate() {
            let x = rng.random_range(0..N);
            sum = luhn_step(sum, x, self.randoms - 1 - i);
            value = value * u128::from(N) + u128::from(x);
            self.bytes[place] = ALPHABET[usize::from(x)];
        }
        self.bytes[self.len - 1] = ALPHABET[usize::from(check_index(sum))];
        value
    }

    fn code(&self) -> PromoCode {
        // Only ASCII was written: the conversion copies without replacing anything.
        PromoCode(String::from_utf8_lossy(&self.bytes[..self.len]).into_owned())
    }
}

/// Hashes the base-31 values drawn in `generate_unique` with one multiplication. They are our own
/// uniform random draws, never chosen by a caller, so there is no flooding to defend against, and
/// SipHash made the inserts of a million-code batch 1.5 to 2 times slower.
#[derive(Default)]
struct DrawnHasher(u64);

impl Hasher for DrawnHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(GOLDEN);
        }
    }

    fn write_u128(&mut self, v: u128) {
        // Values stay below 31^16 < 2^80: fold the high bits into the low ones.
        let folded = (v >> 64) ^ (v & u128::from(u64::MAX));
        self.0 = u64::try_from(folded).unwrap_or(u64::MAX).wrapping_mul(GOLDEN);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// 2^64 / φ, odd: multiplying by it spreads every input bit over the high bits of the hash.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Room for the longest body (`MAX_RANDOMS` symbols), on the stack.
const MAX_BODY: usize = 16;

/// "####-####", "AB##-####": '#' a random symbol, '-' a separator, letters and digits literal.
fn parse_pattern(pattern: &str) -> Result<Vec<Slot>, Invalid> {
    let pattern = pattern.trim();
    // A valid pattern has at most 40 stored places and a dash between any two: refuse a huge input
    // before building anything from it.
    if pattern.len() >= 2 * PROMO_MAX {
        return Err(Invalid::new("a code has at most 40 letters and digits, prefix and check symbol included"));
    }
    let slots = pattern
        .bytes()
        .map(|b| match b.to_ascii_uppercase() {
            b'#' => Ok(Slot::Random),
            b'-' => Ok(Slot::Dash),
            b if is_code_char(b) => Ok(Slot::Literal(b)),
            _ => Err(Invalid::new(
                "a pattern is made of '#' (a random symbol), '-' (a separator) and letters or digits kept as they are",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // An empty group would print as "--" or as a dangling dash.
    let dangling = slots.first() == Some(&Slot::Dash) || slots.last() == Some(&Slot::Dash);
    if dangling || slots.windows(2).any(|w| w == [Slot::Dash, Slot::Dash]) {
        return Err(Invalid::new("a pattern's dashes go between groups, one at a time"));
    }
    Ok(slots)
}

/// 1234567 -> "1,234,567", for messages.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
