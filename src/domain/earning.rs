//! The earning rule and proportional reversal, in integer arithmetic only.

use super::money::Cents;

/// `points` for every `per_cents` spent, rounded as the programme says (down by default: 12.50 €
/// at a point per euro is 12 points), once the purchase reaches `min_cents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarningRule {
    pub points: i64,
    pub per_cents: i64,
    pub min_cents: i64,
    pub rounding: Rounding,
}

/// How a fraction of a point is rounded: `nearest` rounds a half up (12.50 € → 13 points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    #[default]
    Down,
    Nearest,
    Up,
}

impl Rounding {
    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::Down => "down",
            Rounding::Nearest => "nearest",
            Rounding::Up => "up",
        }
    }
    /// As stored (checked by the column); anything else reads as the default.
    pub fn from_db(s: &str) -> Self {
        match s {
            "nearest" => Rounding::Nearest,
            "up" => Rounding::Up,
            _ => Rounding::Down,
        }
    }
}

impl EarningRule {
    pub fn points_for(&self, amount: Cents) -> i64 {
        if amount.get() < self.min_cents || self.per_cents <= 0 {
            return 0;
        }
        let (a, p, d) = (i128::from(amount.get()), i128::from(self.points), i128::from(self.per_cents));
        let q = match self.rounding {
            Rounding::Down => a * p / d,
            Rounding::Nearest => (2 * a * p + d) / (2 * d),
            Rounding::Up => (a * p + d - 1) / d,
        };
        i64::try_from(q).unwrap_or(i64::MAX)
    }
}

/// Points to take back when `returned_now` more cents of a purchase come back, given `returned_before`.
///
/// Each return reverses `floor(earned * returned_after / amount) - floor(earned * returned_before / amount)`,
/// so the reversals of any sequence of partial returns add up to exactly the proportional share of
/// the total returned, and a full return reverses exactly what was earned: never more.
pub fn points_to_reverse(earned: i64, amount_cents: i64, returned_before: i64, returned_now: i64) -> i64 {
    let after = returned_before.saturating_add(returned_now).min(amount_cents);
    mul_div_floor(earned, after, amount_cents) - mul_div_floor(earned, returned_before, amount_cents)
}

fn mul_div_floor(a: i64, b: i64, d: i64) -> i64 {
    // i128 cannot overflow for i64 factors; the quotient is at most max(a, b) for b <= d.
    let q = i128::from(a) * i128::from(b) / i128::from(d);
    i64::try_from(q).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn euro_rule() -> EarningRule {
        EarningRule { points: 1, per_cents: 100, min_cents: 0, rounding: Rounding::Down }
    }

    #[test]
    fn rounds_as_the_programme_says() {
        let at = |rounding| EarningRule { rounding, ..euro_rule() }.points_for(Cents::parse(1250).unwrap());
        assert_eq!((at(Rounding::Down), at(Rounding::Nearest), at(Rounding::Up)), (12, 13, 13));
        let at = |rounding| EarningRule { rounding, ..euro_rule() }.points_for(Cents::parse(1249).unwrap());
        assert_eq!((at(Rounding::Down), at(Rounding::Nearest), at(Rounding::Up)), (12, 12, 13));
        let at = |rounding| EarningRule { rounding, ..euro_rule() }.points_for(Cents::parse(1200).unwrap());
        assert_eq!((at(Rounding::Down), at(Rounding::Nearest), at(Rounding::Up)), (12, 12, 12));
    }

    #[test]
    fn rounds_down_and_respects_minimum() {
        assert_eq!(euro_rule().points_for(Cents::parse(1250).unwrap()), 12);
        assert_eq!(euro_rule().points_for(Cents::parse(99).unwrap()), 0);
        let rule = EarningRule { points: 2, per_cents: 100, min_cents: 500, rounding: Rounding::Down };
        assert_eq!(rule.points_for(Cents::parse(499).unwrap()), 0);
        assert_eq!(rule.points_for(Cents::parse(500).unwrap()), 10);
        assert_eq!(rule.points_for(Cents::parse(1_000_000_000).unwrap()), 20_000_000);
    }

    #[test]
    fn partial_returns() {
        // 12 points on 12.50: returning 6.25 twice takes back 6 then 6.
        assert_eq!(points_to_reverse(12, 1250, 0, 625), 6);
        assert_eq!(points_to_reverse(12, 1250, 625, 625), 6);
        assert_eq!(points_to_reverse(12, 1250, 0, 1), 0);
    }

    proptest! {
        #[test]
        fn reversals_telescope_to_the_proportional_share(
            earned in 0i64..10_000, amount in 1i64..100_000, cuts in proptest::collection::vec(1i64..50_000, 1..8)
        ) {
            let mut returned = 0;
            let mut reversed = 0;
            for cut in cuts {
                let now = cut.min(amount - returned);
                if now == 0 { break; }
                let r = points_to_reverse(earned, amount, returned, now);
                prop_assert!(r >= 0);
                reversed += r;
                returned += now;
            }
            prop_assert_eq!(reversed, earned * returned / amount);
            prop_assert!(reversed <= earned);
        }
    }
}
