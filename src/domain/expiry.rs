//! When points expire: the programme's rule, and the date arithmetic of a lot's end. No I/O here:
//! the lots themselves are `service::expiry`.
//!
//! A lot's end is a function of the day its validity starts (the day it was earned, or the day
//! expiry was turned on when that is later): a later start never ends sooner. So the lots that
//! end by a given day are always the oldest ones, and consuming lots oldest first is consuming
//! them soonest-expiring first, whatever the rule.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Invalid;

/// The longest validity a rule may give (ten years): more is a typo, not a programme.
pub const MAX_MONTHS: u32 = 120;

/// How a lot's end is rounded up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Round {
    EndOfMonth,
    EndOfQuarter,
    EndOfYear,
    None,
}

impl Round {
    fn apply(self, day: NaiveDate) -> NaiveDate {
        let last_of = |year: i32, month: u32| {
            let next = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
            NaiveDate::from_ymd_opt(next.0, next.1, 1).and_then(|d| d.pred_opt()).unwrap_or(day)
        };
        match self {
            Round::None => day,
            Round::EndOfMonth => last_of(day.year(), day.month()),
            Round::EndOfQuarter => last_of(day.year(), day.month().div_ceil(3) * 3),
            Round::EndOfYear => last_of(day.year(), 12),
        }
    }
}

/// The programme's rule (`GET`/`PUT /program/expiry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ExpiryRule {
    /// Points never expire (the default).
    Off,
    /// Each lot ends `months` after it was earned, rounded up.
    AfterEarning { months: u32, round: Round },
    /// The whole balance ends `months` after the card's last purchase.
    Inactivity { months: u32 },
}

/// The rule as written; checked by [`ExpiryRule::parse`], which names the field at fault.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub mode: String,
    #[serde(default)]
    pub months: Option<i64>,
    #[serde(default)]
    pub round: Option<Round>,
}

impl ExpiryRule {
    /// The rule, or the field at fault and why.
    pub fn parse(raw: RawRule) -> Result<Self, (&'static str, Invalid)> {
        let months = || match raw.months {
            None => Err(("months", Invalid::new("is required for this mode"))),
            Some(m) => u32::try_from(m)
                .ok()
                .filter(|m| (1..=MAX_MONTHS).contains(m))
                .ok_or_else(|| ("months", Invalid::new(format!("must be between 1 and {MAX_MONTHS}")))),
        };
        let rule = match raw.mode.as_str() {
            "off" => ExpiryRule::Off,
            "after_earning" => ExpiryRule::AfterEarning { months: months()?, round: raw.round.unwrap_or(Round::None) },
            "inactivity" => ExpiryRule::Inactivity { months: months()? },
            _ => return Err(("mode", Invalid::new("must be off, after_earning or inactivity"))),
        };
        let stray = match rule {
            ExpiryRule::Off => raw.months.map(|_| "months").or(raw.round.map(|_| "round")),
            ExpiryRule::Inactivity { .. } => raw.round.map(|_| "round"),
            ExpiryRule::AfterEarning { .. } => None,
        };
        match stray {
            Some(field) => Err((field, Invalid::new(format!("does not apply to the {} mode", raw.mode)))),
            None => Ok(rule),
        }
    }

    pub fn is_on(self) -> bool {
        self != ExpiryRule::Off
    }

    /// Same kind of rule (the day expiry started counts from a change of mode only).
    pub fn same_mode(self, other: ExpiryRule) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }

    /// The last day of points whose validity starts on `start` (they are gone the day after);
    /// None when the rule is off. For `inactivity`, `start` is the day of the last purchase.
    pub fn ends_on(self, start: NaiveDate) -> Option<NaiveDate> {
        let (months, round) = match self {
            ExpiryRule::Off => return None,
            ExpiryRule::AfterEarning { months, round } => (months, round),
            ExpiryRule::Inactivity { months } => (months, Round::None),
        };
        let end = start.checked_add_months(Months::new(months))?;
        Some(round.apply(end))
    }

    /// The latest start whose points have ended by `day` (their last day is `day` or before):
    /// every start up to it has, none after it (ends only grow with the start). None when the
    /// rule is off.
    pub fn last_start_ended_by(self, day: NaiveDate) -> Option<NaiveDate> {
        self.ends_on(day)?;
        let ended = |start: NaiveDate| self.ends_on(start).is_some_and(|end| end <= day);
        // The answer lies within a rounding period (a year at most) before `day - months`.
        let (mut lo, mut hi) = (day.checked_sub_months(Months::new(MAX_MONTHS + 13))?, day);
        if !ended(lo) {
            return lo.pred_opt();
        }
        // Invariant: ended(lo), !ended(hi) (a start of `day` ends at least a month later).
        while (hi - lo).num_days() > 1 {
            let mid = lo + chrono::Duration::days((hi - lo).num_days() / 2);
            if ended(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn parse(json: serde_json::Value) -> Result<ExpiryRule, (&'static str, Invalid)> {
        ExpiryRule::parse(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn ends_are_rounded_up() {
        let rule = |round| ExpiryRule::AfterEarning { months: 12, round };
        let earned = day(2026, 1, 15);
        assert_eq!(rule(Round::None).ends_on(earned), Some(day(2027, 1, 15)));
        assert_eq!(rule(Round::EndOfMonth).ends_on(earned), Some(day(2027, 1, 31)));
        assert_eq!(rule(Round::EndOfQuarter).ends_on(earned), Some(day(2027, 3, 31)));
        assert_eq!(rule(Round::EndOfQuarter).ends_on(day(2026, 11, 2)), Some(day(2027, 12, 31)));
        assert_eq!(rule(Round::EndOfYear).ends_on(earned), Some(day(2027, 12, 31)));
        // A month shorter than the day clamps to its end.
        let one = ExpiryRule::AfterEarning { months: 1, round: Round::None };
        assert_eq!(one.ends_on(day(2027, 1, 31)), Some(day(2027, 2, 28)));
        assert_eq!(ExpiryRule::Inactivity { months: 18 }.ends_on(day(2025, 6, 1)), Some(day(2026, 12, 1)));
        assert_eq!(ExpiryRule::Off.ends_on(earned), None);
    }

    #[test]
    fn the_last_ended_start_splits_every_start_in_two() {
        let rules = [
            ExpiryRule::AfterEarning { months: 12, round: Round::None },
            ExpiryRule::AfterEarning { months: 1, round: Round::None },
            ExpiryRule::AfterEarning { months: 12, round: Round::EndOfMonth },
            ExpiryRule::AfterEarning { months: 6, round: Round::EndOfQuarter },
            ExpiryRule::AfterEarning { months: 12, round: Round::EndOfYear },
            ExpiryRule::Inactivity { months: 18 },
        ];
        for rule in rules {
            for offset in 0..800 {
                let today = day(2027, 1, 1) + chrono::Duration::days(offset);
                let last = rule.last_start_ended_by(today).unwrap();
                assert!(rule.ends_on(last).unwrap() <= today, "{rule:?} {today}");
                assert!(rule.ends_on(last.succ_opt().unwrap()).unwrap() > today, "{rule:?} {today}");
            }
        }
        assert_eq!(ExpiryRule::Off.last_start_ended_by(day(2027, 1, 1)), None);
    }

    #[test]
    fn rules_name_the_field_at_fault() {
        use serde_json::json;
        assert_eq!(parse(json!({"mode": "off"})).unwrap(), ExpiryRule::Off);
        assert_eq!(
            parse(json!({"mode": "after_earning", "months": 12, "round": "end_of_month"})).unwrap(),
            ExpiryRule::AfterEarning { months: 12, round: Round::EndOfMonth }
        );
        assert_eq!(parse(json!({"mode": "inactivity", "months": 18})).unwrap(), ExpiryRule::Inactivity { months: 18 });
        for (bad, field) in [
            (json!({"mode": "after_earning", "months": 0}), "months"),
            (json!({"mode": "after_earning", "months": 121}), "months"),
            (json!({"mode": "after_earning", "months": -3}), "months"),
            (json!({"mode": "inactivity"}), "months"),
            (json!({"mode": "inactivity", "months": 6, "round": "end_of_year"}), "round"),
            (json!({"mode": "off", "months": 6}), "months"),
            (json!({"mode": "sometimes"}), "mode"),
        ] {
            assert_eq!(parse(bad.clone()).unwrap_err().0, field, "{bad}");
        }
    }
}
