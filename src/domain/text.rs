//! Bounded free text: names, reasons, references. Each refuses empty, over-long or control-laden input.

use serde::Serialize;

use super::{Invalid, serde_via_parse};

fn bounded(raw: String, what: &str, max: usize) -> Result<String, Invalid> {
    let v = raw.trim().to_owned();
    // A name of zero-width spaces or Hangul fillers is an empty name that looks filled in.
    if v.chars().all(is_invisible) {
        return Err(Invalid::new(format!("{what} must not be empty")));
    }
    if v.chars().count() > max {
        return Err(Invalid::new(format!("{what} has at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Invalid::new(format!("{what} must not contain control characters")));
    }
    Ok(v)
}

/// Direction overrides make a text display as something else on a receipt or a staff screen.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Shows nothing: whitespace, control characters, and Unicode's `Default_Ignorable_Code_Point` set
/// (DerivedCoreProperties.txt, Unicode 16), which renderers draw as nothing at all.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{034f}'
                | '\u{061c}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fff8}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

macro_rules! bounded_text {
    ($name:ident, $what:literal, $max:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        pub struct $name(String);
        impl $name {
            pub fn parse(raw: String) -> Result<Self, Invalid> {
                bounded(raw, $what, $max).map($name)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }
        serde_via_parse!($name, String);
    };
}

bounded_text!(PersonName, "a name", 100);
bounded_text!(Reason, "a reason", 500);
bounded_text!(RewardName, "a reward name", 100);
bounded_text!(ExternalRef, "an external reference", 100);
bounded_text!(IdempotencyKey, "an Idempotency-Key", 255);
bounded_text!(DeviceId, "a device id", 200);
bounded_text!(LocationName, "a shop name", 100);
bounded_text!(Address, "an address", 300);
// The contact and terms texts of a programme (shown on its pages and passes).
bounded_text!(ProgramText, "a text", 2000);

/// A password being set: 10 to 200 characters (NIST SP 800-63B asks for at least 8 and no
/// composition rules; we ask 10). It never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;

    pub fn parse(raw: String) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if (Self::MIN_CHARS..=200).contains(&n) {
            Ok(NewPassword(raw))
        } else {
            Err(Invalid::new("a password has 10 to 200 characters"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
serde_via_parse!(NewPassword, String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(..)")
    }
}

/// An IANA time zone name this build knows (`Europe/Paris`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(raw: String) -> Result<Self, Invalid> {
        raw.trim().parse().map(TimeZone).map_err(|_| Invalid::new("not an IANA time zone such as Europe/Paris"))
    }
    pub fn name(self) -> &'static str {
        self.0.name()
    }
}
serde_via_parse!(TimeZone, String);

/// What an error message quotes of a caller's value: its first 40 characters, then "…". A 10 KB
/// value echoed whole buries the message (and fills the log line that records it).
pub fn excerpt(value: &str) -> String {
    const SHOWN: usize = 40;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// A phone number as typed: digits, spaces, dots, dashes, parentheses and a leading +.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: String) -> Result<Self, Invalid> {
        let v = raw.trim().to_owned();
        let digits = v.chars().filter(char::is_ascii_digit).count();
        let allowed =
            v.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || " .-()".contains(c) || (i == 0 && c == '+'));
        if allowed && (6..=20).contains(&digits) && v.len() <= 32 {
            Ok(Phone(v))
        } else {
            Err(Invalid::new("not a phone number"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
serde_via_parse!(Phone, String);

/// The languages customer-facing text exists in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    En,
    Fr,
}

impl Locale {
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }
    pub fn from_db(s: &str) -> Self {
        Locale::from_tag(s).unwrap_or(Locale::En)
    }

    pub const ALL: [Locale; 2] = [Locale::En, Locale::Fr];

    /// From a language tag such as `fr-FR`; None for a language we don't have.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "fr" => Some(Locale::Fr),
            _ => None,
        }
    }

    /// The best of ours for an `Accept-Language` header (RFC 9110 §12.5.4: highest q first,
    /// order breaking ties), or `fallback`.
    pub fn negotiate(header: Option<&str>, fallback: Locale) -> Locale {
        let Some(header) = header else { return fallback };
        let mut best: Option<(f32, Locale)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Locale::from_tag(tag)
                && q > 0.0
                && best.is_none_or(|(b, _)| q > b)
            {
                best = Some((q, lang));
            }
        }
        best.map_or(fallback, |(_, lang)| lang)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_by_quality_then_order() {
        use Locale::{En, Fr};
        assert_eq!(Locale::negotiate(Some("fr-FR,fr;q=0.9,en;q=0.8"), En), Fr);
        assert_eq!(Locale::negotiate(Some("de-DE,en;q=0.5,fr;q=0.7"), En), Fr);
        assert_eq!(Locale::negotiate(Some("de-DE"), Fr), Fr);
        assert_eq!(Locale::negotiate(Some("en-GB, fr"), Fr), En);
        assert_eq!(Locale::negotiate(Some("fr;q=0"), En), En);
        assert_eq!(Locale::negotiate(None, Fr), Fr);
    }

    #[test]
    fn bounds() {
        assert!(PersonName::parse("  ".into()).is_err());
        assert!(PersonName::parse("x".repeat(101)).is_err());
        assert_eq!(PersonName::parse(" Zoé ".into()).unwrap().as_str(), "Zoé");
        assert!(Reason::parse("a\u{0007}b".into()).is_err());
        assert!(Reason::parse("refund \u{202e}gnp.exe".into()).is_err());
        assert!(Phone::parse("+33 6 12 34 56 78".into()).is_ok());
        assert!(Phone::parse("call me".into()).is_err());
    }

    #[test]
    fn excerpts_are_bounded_on_character_boundaries() {
        assert_eq!(excerpt("night"), "night");
        assert_eq!(excerpt(&"é".repeat(40)), "é".repeat(40));
        assert_eq!(excerpt(&"é".repeat(10_000)), format!("{}…", "é".repeat(40)));
    }

    #[test]
    fn a_name_of_invisible_characters_is_empty() {
        for blank in ["\u{200b}", "\u{feff}", "\u{3164}", " \u{200b}\u{2060} \u{ffa0}", "\u{e0020}", "\u{115f}\u{1160}"]
        {
            assert!(PersonName::parse(blank.into()).is_err(), "{blank:?}");
        }
        // Invisible characters inside a visible name are how some scripts and emoji are written.
        assert!(PersonName::parse("Zoé\u{200d}".into()).is_ok());
    }
}
