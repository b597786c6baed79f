//! A campaign's message, its offer and its holdout: checked as a request is read, pure.

use serde::{Deserialize, Serialize};

use super::Invalid;
use super::money::Cents;
use super::voucher::{ValidityDays, VoucherValue};
use crate::render::Lang;

/// Longest title: what a lock screen shows on one line or two.
pub const MAX_TITLE: usize = 80;
/// Longest body: a pass's back field and a Google message read well up to this.
pub const MAX_BODY: usize = 1000;

/// The text members read, in English and optionally in French (a member whose language is
/// French and a French text is given reads it; everyone else the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub title_fr: Option<String>,
    #[serde(default)]
    pub body_fr: Option<String>,
}

impl Message {
    /// Trims every text and refuses an empty or too long one, naming the field.
    pub fn checked(self) -> Result<Message, (&'static str, Invalid)> {
        let title = text("message.title", &self.title, MAX_TITLE)?;
        let body = text("message.body", &self.body, MAX_BODY)?;
        let title_fr = optional("message.title_fr", self.title_fr.as_deref(), MAX_TITLE)?;
        let body_fr = optional("message.body_fr", self.body_fr.as_deref(), MAX_BODY)?;
        if title_fr.is_some() != body_fr.is_some() {
            return Err(("message", Invalid::new("give both title_fr and body_fr, or neither")));
        }
        Ok(Message { title, body, title_fr, body_fr })
    }

    /// The title and body for a reader of `lang`.
    pub fn for_lang(&self, lang: Lang) -> (&str, &str) {
        match (lang, &self.title_fr, &self.body_fr) {
            (Lang::Fr, Some(title), Some(body)) => (title, body),
            _ => (&self.title, &self.body),
        }
    }
}

fn text(field: &'static str, value: &str, max: usize) -> Result<String, (&'static str, Invalid)> {
    let value = value.trim();
    if value.is_empty() {
        return Err((field, Invalid::new("must not be empty")));
    }
    if value.chars().count() > max {
        return Err((field, Invalid::new(format!("at most {max} characters"))));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err((field, Invalid::new("no control characters (line breaks are fine)")));
    }
    Ok(value.to_owned())
}

fn optional(field: &'static str, value: Option<&str>, max: usize) -> Result<Option<String>, (&'static str, Invalid)> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => text(field, v, max).map(Some),
        None => Ok(None),
    }
}

/// What a campaign gives each member it reaches: their own single-use code from a promo
/// campaign's pool, or a voucher. In JSON, one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Offer {
    PromoCampaignId(String),
    Voucher(VoucherOffer),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherOffer {
    pub value: VoucherValue,
    pub validity_days: ValidityDays,
    #[serde(default)]
    pub min_purchase_cents: Option<Cents>,
}

pub const DEFAULT_HOLDOUT_PERCENT: i32 = 10;
/// More than half held out would leave the campaign measuring itself on the minority.
pub const MAX_HOLDOUT_PERCENT: i32 = 50;

pub fn check_holdout(percent: i32) -> Result<i32, Invalid> {
    if (0..=MAX_HOLDOUT_PERCENT).contains(&percent) {
        Ok(percent)
    } else {
        Err(Invalid::new(format!("from 0 to {MAX_HOLDOUT_PERCENT}")))
    }
}

/// Whether the card is held out of the campaign: the first 8 bytes of
/// SHA-256(`campaign_id` "\n" `card_id`), big-endian, modulo 100, below the percentage. Fixed by
/// the two ids, so a restarted send, a preview and a report all agree without storing a draw.
pub fn held_out(campaign_id: &str, card_id: &str, percent: i32) -> bool {
    let digest = openssl::sha::sha256(format!("{campaign_id}\n{card_id}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let bucket = u64::from_be_bytes(first) % 100;
    u64::try_from(percent).is_ok_and(|p| bucket < p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_trimmed_and_bounded() {
        let m = Message { title: " Soldes ".into(), body: "Line 1\nLine 2".into(), title_fr: None, body_fr: None };
        assert_eq!(m.checked().unwrap().title, "Soldes");
        let long = Message { title: "x".repeat(81), body: "b".into(), title_fr: None, body_fr: None };
        assert_eq!(long.checked().unwrap_err().0, "message.title");
        let half = Message { title: "t".into(), body: "b".into(), title_fr: Some("t".into()), body_fr: None };
        assert_eq!(half.checked().unwrap_err().0, "message");
        let tab = Message { title: "t\u{7}".into(), body: "b".into(), title_fr: None, body_fr: None };
        assert!(tab.checked().is_err());
    }

    #[test]
    fn french_readers_get_the_french_text_when_there_is_one() {
        let m = Message {
            title: "Sale".into(),
            body: "Now".into(),
            title_fr: Some("Soldes".into()),
            body_fr: Some("Maintenant".into()),
        };
        assert_eq!(m.for_lang(Lang::Fr), ("Soldes", "Maintenant"));
        assert_eq!(m.for_lang(Lang::En), ("Sale", "Now"));
        let en_only = Message { title_fr: None, body_fr: None, ..m };
        assert_eq!(en_only.for_lang(Lang::Fr), ("Sale", "Now"));
    }

    #[test]
    fn offers_are_one_key() {
        let o: Offer = serde_json::from_str(r#"{"promo_campaign_id":"p1"}"#).unwrap();
        assert_eq!(o, Offer::PromoCampaignId("p1".into()));
        let v: Offer =
            serde_json::from_str(r#"{"voucher":{"value":{"amount_off_cents":500},"validity_days":30}}"#).unwrap();
        assert!(matches!(v, Offer::Voucher(_)));
        assert!(
            serde_json::from_str::<Offer>(r#"{"voucher":{"value":{"percent_off":0},"validity_days":30}}"#).is_err()
        );
        assert!(serde_json::from_str::<Offer>(r#"{"discount":5}"#).is_err());
    }

    #[test]
    fn the_holdout_is_fixed_by_the_ids_and_near_its_share() {
        assert_eq!(held_out("c", "card-1", 10), held_out("c", "card-1", 10));
        assert!(!held_out("c", "card-1", 0));
        assert!(held_out("c", "card-1", 100));
        let held = (0..10_000).filter(|i| held_out("c1", &format!("card-{i}"), 10)).count();
        assert!((900..=1100).contains(&held), "{held}");
    }
}
