//! What a promo code does, and the arithmetic of applying it to a purchase. No I/O here: the
//! campaign that carries an effect lives in `service::promos`.

use serde::{Deserialize, Serialize};

use super::Invalid;
use super::earning::EarningRule;
use super::money::{Cents, MAX_CENTS};

/// What a code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Extra points on top of what the purchase earns.
    BonusPoints(i64),
    /// The purchase earns this many times its points (2 = double points).
    PointsMultiplier(i64),
    /// A discount of this percentage of the purchase, reported back to the till.
    PercentOff(i64),
    /// A fixed discount in cents, reported back to the till.
    AmountOffCents(i64),
}

impl Effect {
    /// The kind as stored (and as named in the API) and the value.
    pub fn parts(self) -> (&'static str, i64) {
        match self {
            Effect::BonusPoints(v) => ("bonus_points", v),
            Effect::PointsMultiplier(v) => ("points_multiplier", v),
            Effect::PercentOff(v) => ("percent_off", v),
            Effect::AmountOffCents(v) => ("amount_off_cents", v),
        }
    }

    /// The effect a stored kind and value stand for. A kind this build does not know is refused,
    /// never read as some other effect.
    pub fn from_parts(kind: &str, v: i64) -> Result<Effect, Invalid> {
        match kind {
            "bonus_points" => Ok(Effect::BonusPoints(v)),
            "points_multiplier" => Ok(Effect::PointsMultiplier(v)),
            "percent_off" => Ok(Effect::PercentOff(v)),
            "amount_off_cents" => Ok(Effect::AmountOffCents(v)),
            _ => Err(Invalid::new(format!("unknown promo effect kind {kind:?}"))),
        }
    }

    /// Refuses a value outside the range its kind allows; the message names the range.
    pub fn check(self) -> Result<(), Invalid> {
        let (_, v) = self.parts();
        let range = match self {
            Effect::BonusPoints(_) => 1..=1_000_000,
            Effect::PointsMultiplier(_) => 2..=10,
            Effect::PercentOff(_) => 1..=100,
            Effect::AmountOffCents(_) => 1..=MAX_CENTS,
        };
        if range.contains(&v) {
            Ok(())
        } else {
            Err(Invalid::new(format!("must be between {} and {}", range.start(), range.end())))
        }
    }

    /// (discount in cents, points earned, bonus points) for a purchase of `amount` cents, which
    /// earns by `rule` on what is left to pay. The discount never exceeds the amount.
    pub fn apply(self, amount: i64, rule: &EarningRule) -> (i64, i64, i64) {
        let discount = self.discount(amount);
        let earned = Cents::parse(amount - discount).map_or(0, |c| rule.points_for(c));
        (discount, earned, self.bonus(earned))
    }

    /// What it takes off a bill of `amount` cents: never more than the amount.
    pub fn discount(self, amount: i64) -> i64 {
        match self {
            Effect::PercentOff(p) => amount * p / 100,
            Effect::AmountOffCents(c) => c.min(amount),
            _ => 0,
        }
    }

    /// The extra points it gives on top of `earned`.
    pub fn bonus(self, earned: i64) -> i64 {
        match self {
            Effect::BonusPoints(b) => b,
            Effect::PointsMultiplier(m) => earned.saturating_mul(m - 1),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EURO: EarningRule =
        EarningRule { points: 1, per_cents: 100, min_cents: 0, rounding: crate::domain::earning::Rounding::Down };

    #[test]
    fn discounts_earn_on_what_is_left_to_pay() {
        assert_eq!(Effect::PercentOff(10).apply(2500, &EURO), (250, 22, 0));
        assert_eq!(Effect::AmountOffCents(500).apply(2000, &EURO), (500, 15, 0));
        // Never more off than the purchase, and nothing left earns nothing.
        assert_eq!(Effect::AmountOffCents(500).apply(300, &EURO), (300, 0, 0));
        assert_eq!(Effect::PercentOff(100).apply(1000, &EURO), (1000, 0, 0));
    }

    #[test]
    fn points_effects_add_to_what_the_purchase_earns() {
        assert_eq!(Effect::BonusPoints(50).apply(1250, &EURO), (0, 12, 50));
        assert_eq!(Effect::PointsMultiplier(3).apply(1250, &EURO), (0, 12, 24));
        // Outside a purchase there is nothing to multiply; a fixed bonus still stands.
        assert_eq!(Effect::PointsMultiplier(2).apply(0, &EURO), (0, 0, 0));
        assert_eq!(Effect::BonusPoints(5).apply(0, &EURO), (0, 0, 5));
    }

    #[test]
    fn values_outside_their_range_are_refused() {
        assert!(Effect::PercentOff(101).check().is_err());
        assert!(Effect::PercentOff(0).check().is_err());
        assert!(Effect::PointsMultiplier(1).check().is_err());
        assert!(Effect::AmountOffCents(MAX_CENTS + 1).check().is_err());
        assert!(Effect::BonusPoints(1_000_000).check().is_ok());
        assert_eq!(Effect::PercentOff(101).check().unwrap_err().to_string(), "must be between 1 and 100");
    }

    #[test]
    fn stored_parts_round_trip() {
        for effect in
            [Effect::BonusPoints(5), Effect::PointsMultiplier(2), Effect::PercentOff(10), Effect::AmountOffCents(500)]
        {
            let (kind, value) = effect.parts();
            assert_eq!(Effect::from_parts(kind, value), Ok(effect));
        }
    }

    #[test]
    fn an_unknown_kind_is_refused_not_read_as_an_amount_off() {
        let refused = Effect::from_parts("free_coffee", 500).unwrap_err();
        assert!(refused.to_string().contains("free_coffee"), "{refused}");
        assert!(Effect::from_parts("", 500).is_err());
        assert!(Effect::from_parts("Amount_Off_Cents", 500).is_err());
    }
}
