//! A programme's tiers as rules: an ordered list, the first the entry tier, each above it
//! qualified by conditions on the card's rolling window (spend, points earned, visits), combined
//! with `any_of` / `all_of`. No I/O here: evaluating a card is `service::tiers`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Invalid;
use super::voucher::{ValidityDays, VoucherValue};

/// How many tiers a programme may have: more is a mistake, not a programme.
pub const MAX_TIERS: usize = 10;
/// The longest rolling window and the longest a tier is kept after its upgrade.
pub const MAX_MONTHS: u32 = 36;
pub const MIN_MULTIPLIER_PERCENT: u32 = 100;
pub const MAX_MULTIPLIER_PERCENT: u32 = 1000;
/// Conditions in one rule, nested rules included.
const MAX_CONDITIONS: usize = 8;
const KEY_MAX_CHARS: usize = 32;
const NAME_MAX_CHARS: usize = 40;

/// What a condition measures over the tier's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Spent, net of returns and discounts.
    SpendCents,
    /// Points earned (not the balance: spending points never costs a tier).
    PointsEarned,
    /// Distinct days with a purchase, per location, in the programme's time zone.
    Visits,
}

/// A tier's qualification: one condition, or conditions combined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Rule {
    AnyOf { any_of: Vec<Rule> },
    AllOf { all_of: Vec<Rule> },
    Condition { metric: Metric, at_least: i64 },
}

/// A rule as written: which of the three shapes it is is decided here, with a message that says
/// what the shapes are (an untagged enum would only say that none matched).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    any_of: Option<Vec<Rule>>,
    #[serde(default)]
    all_of: Option<Vec<Rule>>,
    #[serde(default)]
    metric: Option<Metric>,
    #[serde(default)]
    at_least: Option<i64>,
}

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawRule::deserialize(d)?;
        match (raw.any_of, raw.all_of, raw.metric, raw.at_least) {
            (Some(any_of), None, None, None) => Ok(Rule::AnyOf { any_of }),
            (None, Some(all_of), None, None) => Ok(Rule::AllOf { all_of }),
            (None, None, Some(metric), Some(at_least)) => Ok(Rule::Condition { metric, at_least }),
            _ => Err(serde::de::Error::custom(
                "a condition is {\"metric\": ..., \"at_least\": n}, {\"any_of\": [...]} or {\"all_of\": [...]}",
            )),
        }
    }
}

impl Rule {
    /// Whether a card with these window values qualifies.
    pub fn holds(&self, value: &impl Fn(Metric) -> i64) -> bool {
        match self {
            Rule::AnyOf { any_of } => any_of.iter().any(|r| r.holds(value)),
            Rule::AllOf { all_of } => all_of.iter().all(|r| r.holds(value)),
            Rule::Condition { metric, at_least } => value(*metric) >= *at_least,
        }
    }

    /// Every (metric, threshold) the rule names.
    pub fn conditions(&self) -> Vec<(Metric, i64)> {
        match self {
            Rule::AnyOf { any_of: rules } | Rule::AllOf { all_of: rules } => {
                rules.iter().flat_map(Rule::conditions).collect()
            }
            Rule::Condition { metric, at_least } => vec![(*metric, *at_least)],
        }
    }

    /// The lowest threshold the rule names per metric: the easiest way up on that metric.
    pub fn floors(&self) -> BTreeMap<Metric, i64> {
        let mut floors = BTreeMap::new();
        for (metric, at_least) in self.conditions() {
            floors.entry(metric).and_modify(|v: &mut i64| *v = (*v).min(at_least)).or_insert(at_least);
        }
        floors
    }

    fn check(&self, field: &str) -> Result<(), (String, Invalid)> {
        match self {
            Rule::AnyOf { any_of: rules } | Rule::AllOf { all_of: rules } => {
                let name = if matches!(self, Rule::AnyOf { .. }) { "any_of" } else { "all_of" };
                if rules.is_empty() {
                    return Err((format!("{field}.{name}"), Invalid::new("needs at least one condition")));
                }
                for (i, r) in rules.iter().enumerate() {
                    r.check(&format!("{field}.{name}[{i}]"))?;
                }
                Ok(())
            }
            Rule::Condition { at_least, .. } if *at_least <= 0 => {
                Err((format!("{field}.at_least"), Invalid::new("must be at least 1")))
            }
            Rule::Condition { .. } => Ok(()),
        }
    }
}

/// What entering a tier gives: a voucher, valid so long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryReward {
    pub voucher: VoucherValue,
    pub validity_days: ValidityDays,
    #[serde(default)]
    pub min_purchase_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_fr: Option<String>,
    /// None for the entry tier (the first), required above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualify: Option<Rule>,
    #[serde(default = "twelve")]
    pub window_months: u32,
    #[serde(default = "hundred")]
    pub earn_multiplier_percent: u32,
    #[serde(default)]
    pub entry_reward: Option<EntryReward>,
    /// How long a card keeps the tier after its last upgrade, qualifying or not.
    #[serde(default = "twelve")]
    pub keep_months: u32,
}

fn twelve() -> u32 {
    12
}

fn hundred() -> u32 {
    100
}

/// A programme's tiers, checked: the only way to hold a list is through [`Tiers::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Tiers(Vec<Tier>);

impl Tiers {
    /// No tiers: every card is in none.
    pub fn none() -> Self {
        Tiers(Vec::new())
    }

    /// Checks a list as a manager wrote it; the error names the field (`tiers[2].qualify...`).
    pub fn parse(tiers: Vec<Tier>) -> Result<Self, (String, Invalid)> {
        if tiers.len() > MAX_TIERS {
            return Err(("tiers".into(), Invalid::new(format!("at most {MAX_TIERS} tiers"))));
        }
        let mut keys = std::collections::HashSet::new();
        for (i, t) in tiers.iter().enumerate() {
            let at = |f: &str| format!("tiers[{i}].{f}");
            let key_ok = !t.key.is_empty()
                && t.key.chars().count() <= KEY_MAX_CHARS
                && t.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            if !key_ok {
                return Err((at("key"), Invalid::new(format!("1 to {KEY_MAX_CHARS} of a-z, 0-9, _ and -"))));
            }
            if !keys.insert(t.key.as_str()) {
                return Err((at("key"), Invalid::new(format!("{:?} is the key of another tier", t.key))));
            }
            for (field, name) in [("name", Some(&t.name)), ("name_fr", t.name_fr.as_ref())] {
                if let Some(name) = name
                    && (name.trim().is_empty() || name.chars().count() > NAME_MAX_CHARS)
                {
                    return Err((at(field), Invalid::new(format!("1 to {NAME_MAX_CHARS} characters"))));
                }
            }
            if !(1..=MAX_MONTHS).contains(&t.window_months) {
                return Err((at("window_months"), Invalid::new(format!("from 1 to {MAX_MONTHS} months"))));
            }
            if t.keep_months > MAX_MONTHS {
                return Err((at("keep_months"), Invalid::new(format!("from 0 to {MAX_MONTHS} months"))));
            }
            if !(MIN_MULTIPLIER_PERCENT..=MAX_MULTIPLIER_PERCENT).contains(&t.earn_multiplier_percent) {
                return Err((
                    at("earn_multiplier_percent"),
                    Invalid::new(format!("from {MIN_MULTIPLIER_PERCENT} to {MAX_MULTIPLIER_PERCENT} %")),
                ));
            }
            if let Some(reward) = &t.entry_reward {
                reward.voucher.check().map_err(|e| (at("entry_reward.voucher"), e))?;
                if reward.min_purchase_cents < 0 {
                    return Err((at("entry_reward.min_purchase_cents"), Invalid::new("must not be negative")));
                }
            }
            match (i, &t.qualify) {
                (0, Some(_)) => {
                    return Err((at("qualify"), Invalid::new("the first tier is the entry tier: it has no condition")));
                }
                (0, None) => {}
                (_, None) => {
                    return Err((at("qualify"), Invalid::new("a tier above the entry tier needs a condition")));
                }
                (_, Some(rule)) => {
                    rule.check(&at("qualify"))?;
                    if rule.conditions().len() > MAX_CONDITIONS {
                        return Err((at("qualify"), Invalid::new(format!("at most {MAX_CONDITIONS} conditions"))));
                    }
                }
            }
        }
        // Each tier above the first two is strictly harder than the one below: no metric easier,
        // at least one harder. Otherwise a card could qualify for the higher tier and not the
        // lower one, and the order would mean nothing.
        for i in 2..tiers.len() {
            let (below, above) = (&tiers[i - 1], &tiers[i]);
            let (Some(low), Some(high)) = (&below.qualify, &above.qualify) else { continue };
            let (low, high) = (low.floors(), high.floors());
            let shared: Vec<Metric> = high.keys().filter(|m| low.contains_key(m)).copied().collect();
            let easier = shared.iter().find(|m| high[m] < low[m]);
            let harder = shared.iter().any(|m| high[m] > low[m]);
            if let Some(m) = easier {
                return Err((
                    format!("tiers[{i}].qualify"),
                    Invalid::new(format!(
                        "{} is easier than {}'s on {m:?}: tiers go from the easiest to the hardest",
                        above.key, below.key
                    )),
                ));
            }
            if !harder {
                return Err((
                    format!("tiers[{i}].qualify"),
                    Invalid::new(format!(
                        "{} must ask more than {} on at least one shared metric",
                        above.key, below.key
                    )),
                ));
            }
        }
        Ok(Tiers(tiers))
    }

    /// The stored form, from a list that was valid when written.
    pub fn from_db(tiers: Vec<Tier>) -> Self {
        Tiers(tiers)
    }

    pub fn list(&self) -> &[Tier] {
        &self.0
    }

    pub fn find(&self, key: &str) -> Option<&Tier> {
        self.0.iter().find(|t| t.key == key)
    }

    /// The highest tier a card qualifies for (the entry tier when none above it holds), with its
    /// place in the list; `values` gives the card's values in a tier's own window. None when the
    /// programme has no tiers.
    pub fn qualified(&self, values: impl Fn(&Tier) -> BTreeMap<Metric, i64>) -> Option<(usize, &Tier)> {
        self.0.iter().enumerate().rev().find(|(_, t)| {
            t.qualify.as_ref().is_none_or(|r| {
                let v = values(t);
                r.holds(&|m| v.get(&m).copied().unwrap_or(0))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tiers(v: serde_json::Value) -> Result<Tiers, (String, Invalid)> {
        Tiers::parse(serde_json::from_value(v).expect("the shape deserialises"))
    }

    fn sephora() -> serde_json::Value {
        json!([
            {"key": "white", "name": "White"},
            {"key": "black", "name": "Black", "qualify": {"any_of": [
                {"metric": "points_earned", "at_least": 150}, {"metric": "visits", "at_least": 4}]},
             "entry_reward": {"voucher": {"percent_off": 10}, "validity_days": 60}},
            {"key": "gold", "name": "Gold", "qualify": {"any_of": [{"metric": "points_earned", "at_least": 1500}]}}
        ])
    }

    #[test]
    fn sephora_qualifies_on_points_or_visits_and_gold_on_points_only() {
        let t = tiers(sephora()).unwrap();
        let at = |points: i64, visits: i64| {
            t.qualified(|_| {
                BTreeMap::from([(Metric::PointsEarned, points), (Metric::Visits, visits), (Metric::SpendCents, 0)])
            })
            .map(|(_, t)| t.key.clone())
        };
        assert_eq!(at(0, 0).as_deref(), Some("white"));
        assert_eq!(at(149, 3).as_deref(), Some("white"));
        assert_eq!(at(150, 0).as_deref(), Some("black"));
        assert_eq!(at(0, 4).as_deref(), Some("black"));
        assert_eq!(at(1499, 40).as_deref(), Some("black"));
        assert_eq!(at(1500, 0).as_deref(), Some("gold"));
        assert_eq!(Tiers::none().qualified(|_| BTreeMap::new()), None);
    }

    #[test]
    fn all_of_needs_every_condition() {
        let rule: Rule = serde_json::from_value(json!({"all_of": [
            {"metric": "spend_cents", "at_least": 25000}, {"metric": "visits", "at_least": 2}]}))
        .unwrap();
        assert!(!rule.holds(&|m| if m == Metric::Visits { 2 } else { 24_999 }));
        assert!(rule.holds(&|m| if m == Metric::Visits { 2 } else { 25_000 }));
    }

    #[test]
    fn bad_lists_are_refused_naming_the_field() {
        let field = |v| tiers(v).unwrap_err().0;
        let entry = json!({"key": "lin", "name": "Lin"});
        let spend = |key: &str, cents: i64| json!({"key": key, "name": key, "qualify": {"any_of": [{"metric": "spend_cents", "at_least": cents}]}});
        assert_eq!(field(json!([entry, spend("velours", 25000), spend("soie", 20000)])), "tiers[2].qualify");
        assert_eq!(field(json!([entry, spend("velours", 25000), spend("soie", 25000)])), "tiers[2].qualify");
        assert_eq!(field(json!([entry, spend("lin", 25000)])), "tiers[1].key");
        assert_eq!(field(json!([spend("lin", 100)])), "tiers[0].qualify");
        assert_eq!(field(json!([entry, {"key": "velours", "name": "V"}])), "tiers[1].qualify");
        assert_eq!(field(json!([entry, spend("velours", 0)])), "tiers[1].qualify.any_of[0].at_least");
        assert_eq!(
            field(json!([entry, {"key": "v", "name": "V", "qualify": {"any_of": []}}])),
            "tiers[1].qualify.any_of"
        );
        let mut fast = spend("soie", 60000);
        fast["earn_multiplier_percent"] = json!(1001);
        assert_eq!(field(json!([entry, fast])), "tiers[1].earn_multiplier_percent");
        let mut short = spend("soie", 60000);
        short["window_months"] = json!(0);
        assert_eq!(field(json!([entry, short])), "tiers[1].window_months");
        assert_eq!(field(json!([{"key": "Lin!", "name": "Lin"}])), "tiers[0].key");
        let mexx = json!([entry, spend("velours", 25000), spend("soie", 60000)]);
        assert_eq!(tiers(mexx).unwrap().list().len(), 3);
        assert!(
            serde_json::from_value::<Vec<Tier>>(json!([{"key": "x", "name": "X", "qualify":
            {"any_of": [{"metric": "age", "at_least": 3}]}}]))
            .is_err(),
            "an unknown metric does not parse"
        );
    }
}
