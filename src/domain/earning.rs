//! The earning rule and proportional reversal, in integer arithmetic only.

use super::money::Cents;

/// `points` for every `per_cents` spent, rounded down, once the purchase reaches `min_cents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarningRule {
    pub points: i64,
    pub per_cents: i64,
    pub min_cents: i64,
}

impl EarningRule {
    pub fn points_for(&self, amount: Cents) -> i64 {
        if amount.get() < self.min_cents || self.per_cents <= 0 {
            return 0;
        }
        mul_div_floor(amount.get(), self.points, self.per_cents)
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
        EarningRule { points: 1, per_cents: 100, min_cents: 0 }
    }

    #[test]
    fn rounds_down_and_respects_minimum() {
        assert_eq!(euro_rule().points_for(Cents::parse(1250).unwrap()), 12);
        assert_eq!(euro_rule().points_for(Cents::parse(99).unwrap()), 0);
        let rule = EarningRule { points: 2, per_cents: 100, min_cents: 500 };
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
