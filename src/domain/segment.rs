//! A saved segment's rule: conditions on a member that all must hold (an empty rule is every
//! member). No I/O here: `service::segments` reads what the conditions need and asks
//! [`SegmentRule::matches`] about each member.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Invalid;
use super::rfm::Segment;
use super::status::text_enum;

/// At most three years of spend.
pub const MAX_SPEND_MONTHS: u32 = 36;

text_enum! {
    /// The consents a segment can require (the terms are every member's).
    ConsentPurpose, "a consent" {
        MarketingEmail = "marketing_email",
        MarketingSms = "marketing_sms",
        Profiling = "profiling",
    }
}

/// Net spend (after returns and discounts) over the last `months` months, within bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendRule {
    pub months: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cents: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cents: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRule {
    /// The member's current tier is one of these keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
    /// The member is scored in one of these RFM segments (so consented to profiling).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rfm_segments: Vec<Segment>,
    /// The member bought on or after this local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_purchase_after: Option<NaiveDate>,
    /// The member bought, but not since this local day (their last purchase is before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_purchase_before: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spend: Option<SpendRule>,
    /// The member bought at this shop at least once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    /// The member's latest decision for this purpose is a grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentPurpose>,
    /// The member enrolled on or after this local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled_after: Option<NaiveDate>,
    /// The member enrolled before this local day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled_before: Option<NaiveDate>,
}

/// What the rule looks at of one member, read by the service for the conditions the rule has.
#[derive(Debug, Clone, Default)]
pub struct Member<'a> {
    pub enrolled_on: NaiveDate,
    pub tier: Option<&'a str>,
    pub rfm: Option<Segment>,
    pub last_purchase_on: Option<NaiveDate>,
    pub spend_cents: i64,
    pub bought_at_location: bool,
    pub consented: bool,
}

impl SegmentRule {
    /// Refuses a rule that can match nobody by construction or names a tier the programme does
    /// not have: (field, why).
    pub fn check(&self, tier_keys: &[&str]) -> Result<(), (&'static str, Invalid)> {
        if let Some(unknown) = self.tiers.iter().find(|k| !tier_keys.contains(&k.as_str())) {
            return Err(("tiers", Invalid::new(format!("the programme has no tier {unknown:?}"))));
        }
        if let (Some(after), Some(before)) = (self.last_purchase_after, self.last_purchase_before)
            && after >= before
        {
            return Err((
                "last_purchase_before",
                Invalid::new("last_purchase_before must be after last_purchase_after"),
            ));
        }
        if let (Some(after), Some(before)) = (self.enrolled_after, self.enrolled_before)
            && after >= before
        {
            return Err(("enrolled_before", Invalid::new("enrolled_before must be after enrolled_after")));
        }
        if let Some(spend) = &self.spend {
            if !(1..=MAX_SPEND_MONTHS).contains(&spend.months) {
                return Err(("spend.months", Invalid::new(format!("1 to {MAX_SPEND_MONTHS} months"))));
            }
            if spend.min_cents.is_some_and(|c| c < 0) || spend.max_cents.is_some_and(|c| c < 0) {
                return Err(("spend", Invalid::new("amounts are 0 or more cents")));
            }
            if let (Some(min), Some(max)) = (spend.min_cents, spend.max_cents)
                && min > max
            {
                return Err(("spend.max_cents", Invalid::new("max_cents is below min_cents")));
            }
        }
        Ok(())
    }

    pub fn matches(&self, m: &Member<'_>) -> bool {
        let tier = self.tiers.is_empty() || m.tier.is_some_and(|t| self.tiers.iter().any(|k| k == t));
        let rfm = self.rfm_segments.is_empty() || m.rfm.is_some_and(|s| self.rfm_segments.contains(&s));
        let after = self.last_purchase_after.is_none_or(|d| m.last_purchase_on.is_some_and(|l| l >= d));
        let before = self.last_purchase_before.is_none_or(|d| m.last_purchase_on.is_some_and(|l| l < d));
        let spend = self.spend.as_ref().is_none_or(|s| {
            s.min_cents.is_none_or(|min| m.spend_cents >= min) && s.max_cents.is_none_or(|max| m.spend_cents <= max)
        });
        let enrolled = self.enrolled_after.is_none_or(|d| m.enrolled_on >= d)
            && self.enrolled_before.is_none_or(|d| m.enrolled_on < d);
        tier && rfm
            && after
            && before
            && spend
            && enrolled
            && (self.location_id.is_none() || m.bought_at_location)
            && (self.consent.is_none() || m.consented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn rule(json: serde_json::Value) -> SegmentRule {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn every_condition_must_hold_and_an_empty_rule_is_everyone() {
        let member = Member {
            enrolled_on: d("2026-03-10"),
            tier: Some("gold"),
            rfm: Some(Segment::AtRisk),
            last_purchase_on: Some(d("2026-06-30")),
            spend_cents: 12_000,
            bought_at_location: true,
            consented: true,
        };
        assert!(SegmentRule::default().matches(&member));
        let lapsed_vip = rule(serde_json::json!({
            "tiers": ["gold", "silver"], "rfm_segments": ["at_risk", "cant_lose_them"],
            "last_purchase_before": "2026-07-01", "spend": {"months": 12, "min_cents": 10000},
            "location_id": "shop", "consent": "marketing_email", "enrolled_after": "2026-01-01",
        }));
        assert!(lapsed_vip.matches(&member));
        for changed in [
            Member { tier: Some("bronze"), ..member.clone() },
            Member { rfm: None, ..member.clone() },
            Member { last_purchase_on: Some(d("2026-07-01")), ..member.clone() },
            Member { last_purchase_on: None, ..member.clone() },
            Member { spend_cents: 9_999, ..member.clone() },
            Member { bought_at_location: false, ..member.clone() },
            Member { consented: false, ..member.clone() },
            Member { enrolled_on: d("2025-12-31"), ..member.clone() },
        ] {
            assert!(!lapsed_vip.matches(&changed), "{changed:?}");
        }
    }

    #[test]
    fn a_rule_that_cannot_hold_or_names_an_unknown_tier_is_refused() {
        let check = |json| rule(json).check(&["silver", "gold"]).map_err(|(field, _)| field);
        assert_eq!(check(serde_json::json!({"tiers": ["platinum"]})), Err("tiers"));
        assert_eq!(
            check(serde_json::json!({"last_purchase_after": "2026-05-01", "last_purchase_before": "2026-05-01"})),
            Err("last_purchase_before")
        );
        assert_eq!(check(serde_json::json!({"spend": {"months": 0}})), Err("spend.months"));
        assert_eq!(
            check(serde_json::json!({"spend": {"months": 3, "min_cents": 5, "max_cents": 4}})),
            Err("spend.max_cents")
        );
        assert_eq!(check(serde_json::json!({"tiers": ["gold"], "spend": {"months": 36, "min_cents": 0}})), Ok(()));
        assert!(serde_json::from_value::<SegmentRule>(serde_json::json!({"tier": ["gold"]})).is_err(), "unknown field");
    }
}
