//! RFM scoring: recency, frequency and monetary value, each scored 1 to 5 by quintile among the
//! members scored together, and the named segment of a (recency, frequency-monetary) pair.
//!
//! A member's score on a measure is `1 + ⌊5 × below ÷ n⌋`, where `n` is the number of members
//! scored and `below` the number whose value is strictly worse. Members with equal values
//! therefore always share a score (the score of the first of them in rank order), so a quintile
//! may hold more or fewer than a fifth of the members, and a score may be empty when many tie.
//! For recency fewer days is better; for frequency and spend more is better.

use serde::Serialize;

use super::status::text_enum;

/// What is scored of one member over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measures {
    pub days_since_last: i64,
    pub purchases: i64,
    pub net_spend_cents: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Scores {
    pub r: u8,
    pub f: u8,
    pub m: u8,
}

impl Scores {
    /// The frequency-monetary score of the R×FM grid: the mean of F and M, halves rounded up.
    pub fn fm(self) -> u8 {
        (self.f + self.m).div_ceil(2)
    }

    pub fn segment(self) -> Segment {
        Segment::of(self.r, self.fm())
    }
}

/// Scores every member against the others (same order as `members`).
pub fn score(members: &[Measures]) -> Vec<Scores> {
    let r = quintiles(&members.iter().map(|m| -m.days_since_last).collect::<Vec<_>>());
    let f = quintiles(&members.iter().map(|m| m.purchases).collect::<Vec<_>>());
    let m = quintiles(&members.iter().map(|m| m.net_spend_cents).collect::<Vec<_>>());
    r.into_iter().zip(f).zip(m).map(|((r, f), m)| Scores { r, f, m }).collect()
}

/// `1 + ⌊5 × below ÷ n⌋` for each value, higher values better (see the module's text).
pub fn quintiles(values: &[i64]) -> Vec<u8> {
    let n = values.len();
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    values
        .iter()
        .map(|v| {
            let below = sorted.partition_point(|x| x < v);
            // below < n, so the score is 1..=5 and fits.
            u8::try_from(1 + 5 * below / n).unwrap_or(5)
        })
        .collect()
}

text_enum! {
    /// The standard named segments, from the recency score and the frequency-monetary score.
    Segment, "an RFM segment" {
        Champions = "champions",
        Loyal = "loyal",
        PotentialLoyalists = "potential_loyalists",
        New = "new",
        Promising = "promising",
        NeedAttention = "need_attention",
        AboutToSleep = "about_to_sleep",
        AtRisk = "at_risk",
        CantLoseThem = "cant_lose_them",
        Hibernating = "hibernating",
        Lost = "lost",
    }
}

use Segment::{
    AboutToSleep, AtRisk, CantLoseThem, Champions, Hibernating, Lost, Loyal, NeedAttention, New, PotentialLoyalists,
    Promising,
};

/// `GRID[5 - r][fm - 1]`: rows from the most recent buyers down, columns by growing value.
const GRID: [[Segment; 5]; 5] = [
    [New, PotentialLoyalists, PotentialLoyalists, Champions, Champions],
    [Promising, PotentialLoyalists, Loyal, Loyal, Champions],
    [AboutToSleep, NeedAttention, NeedAttention, Loyal, Loyal],
    [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem],
    [Lost, Lost, Hibernating, CantLoseThem, CantLoseThem],
];

impl Segment {
    /// The segment of scores `r` and `fm` (each clamped to 1..=5).
    pub fn of(r: u8, fm: u8) -> Segment {
        let (row, column) = (5 - usize::from(r.clamp(1, 5)), usize::from(fm.clamp(1, 5)) - 1);
        GRID[row][column]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_distinct_values_make_five_quintiles_of_two() {
        let values: Vec<i64> = (1..=10).collect();
        assert_eq!(quintiles(&values), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // The order of the input does not matter.
        let reversed: Vec<i64> = values.iter().rev().copied().collect();
        assert_eq!(quintiles(&reversed), vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn ties_share_the_score_of_the_first_of_them() {
        // Six of ten share the lowest value: all get 1, and scores 2 and 3 stay empty.
        assert_eq!(quintiles(&[0, 0, 0, 0, 0, 0, 7, 8, 9, 10]), vec![1, 1, 1, 1, 1, 1, 4, 4, 5, 5]);
        // A tie straddling an edge (ranks 3 to 5 of 10) takes the score of its first rank.
        assert_eq!(quintiles(&[1, 2, 3, 3, 3, 6, 7, 8, 9, 10]), vec![1, 1, 2, 2, 2, 3, 4, 4, 5, 5]);
        assert_eq!(quintiles(&[4, 4, 4]), vec![1, 1, 1]);
        assert_eq!(quintiles(&[42]), vec![1]);
        assert!(quintiles(&[]).is_empty());
    }

    #[test]
    fn recency_scores_fewer_days_higher() {
        let member = |days, purchases, spend| Measures { days_since_last: days, purchases, net_spend_cents: spend };
        let scores = score(&[member(3, 9, 90_000), member(400, 1, 500), member(30, 4, 12_000)]);
        assert_eq!(scores[0], Scores { r: 4, f: 4, m: 4 });
        assert_eq!(scores[1], Scores { r: 1, f: 1, m: 1 });
        assert_eq!(scores[2], Scores { r: 2, f: 2, m: 2 });
        assert_eq!((scores[0].segment(), scores[1].segment()), (Segment::Loyal, Segment::Lost));
    }

    #[test]
    fn the_grid_names_every_segment_and_rounds_fm_up() {
        assert_eq!(Scores { r: 5, f: 4, m: 5 }.fm(), 5);
        assert_eq!(Scores { r: 5, f: 1, m: 2 }.fm(), 2);
        assert_eq!(Segment::of(5, 1), Segment::New);
        assert_eq!(Segment::of(1, 5), Segment::CantLoseThem);
        assert_eq!(Segment::of(2, 3), Segment::AtRisk);
        let seen: std::collections::HashSet<Segment> = GRID.iter().flatten().copied().collect();
        assert_eq!(seen.len(), Segment::ALL.len(), "each named segment has a cell");
        for s in Segment::ALL {
            assert_eq!(Segment::parse(s.as_str()).ok(), Some(*s));
        }
    }
}
