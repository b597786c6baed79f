use serde::Serialize;

use super::{Invalid, serde_via_parse};

/// Larger than any real balance move; refusing it keeps every sum far from overflow.
pub const MAX_POINTS: i64 = 1_000_000_000;

/// A positive number of points to move (redeem, adjust), at most [`MAX_POINTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Points(i64);

impl Points {
    pub fn parse(v: i64) -> Result<Self, Invalid> {
        if (1..=MAX_POINTS).contains(&v) {
            Ok(Points(v))
        } else {
            Err(Invalid::new(format!("must be between 1 and {MAX_POINTS} points")))
        }
    }
    pub fn get(self) -> i64 {
        self.0
    }
}
serde_via_parse!(Points, i64);

/// A signed, non-zero change of balance (manager adjustments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PointsDelta(i64);

impl PointsDelta {
    pub fn parse(v: i64) -> Result<Self, Invalid> {
        if v != 0 && (-MAX_POINTS..=MAX_POINTS).contains(&v) {
            Ok(PointsDelta(v))
        } else {
            Err(Invalid::new(format!("must be non-zero and between -{MAX_POINTS} and {MAX_POINTS}")))
        }
    }
    pub fn get(self) -> i64 {
        self.0
    }
}
serde_via_parse!(PointsDelta, i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_bounds() {
        assert!(Points::parse(0).is_err());
        assert!(Points::parse(-1).is_err());
        assert_eq!(Points::parse(1).unwrap().get(), 1);
        assert!(Points::parse(MAX_POINTS + 1).is_err());
        assert!(PointsDelta::parse(0).is_err());
        assert_eq!(PointsDelta::parse(-5).unwrap().get(), -5);
    }
}
