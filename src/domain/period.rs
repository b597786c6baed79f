//! The calendar periods the insights report on: weeks (Monday first, as in France and ISO 8601)
//! or months, as local dates of the programme's calendar. A range is widened to whole periods, so
//! that every period compares with the one before it on equal terms.

use chrono::{Datelike, Days, Months, NaiveDate};

use super::Invalid;
use super::status::text_enum;

text_enum! {
    Granularity, "a granularity" {
        Week = "week",
        Month = "month",
    }
}

/// One period: `start` included, `end` excluded (the next period's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Period {
    /// The period before this one.
    #[must_use]
    pub fn previous(self, g: Granularity) -> Period {
        Period { start: g.step_back(self.start), end: self.start }
    }

    /// The last day of the period, as a person reads "to".
    pub fn last_day(self) -> NaiveDate {
        self.end.pred_opt().unwrap_or(self.end)
    }
}

impl Granularity {
    /// The first day of the period that holds `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Granularity::Month => day.with_day(1).unwrap_or(day),
        }
    }

    fn step(self, start: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Week => start + Days::new(7),
            Granularity::Month => start + Months::new(1),
        }
    }

    fn step_back(self, start: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Week => start - Days::new(7),
            Granularity::Month => start - Months::new(1),
        }
    }
}

/// The whole periods that cover `from` to `to` (both included), at most `max` of them.
pub fn periods(from: NaiveDate, to: NaiveDate, g: Granularity, max: usize) -> Result<Vec<Period>, Invalid> {
    if to < from {
        return Err(Invalid::new("to is before from"));
    }
    let mut out = Vec::new();
    let mut start = g.start_of(from);
    while start <= to {
        if out.len() == max {
            return Err(Invalid::new(format!("at most {max} periods: choose a shorter range or months")));
        }
        let end = g.step(start);
        out.push(Period { start, end });
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_range_widens_to_whole_weeks_and_months() {
        let weeks = periods(d("2026-12-02"), d("2026-12-14"), Granularity::Week, 10).unwrap();
        let starts: Vec<String> = weeks.iter().map(|p| p.start.to_string()).collect();
        assert_eq!(starts, ["2026-11-30", "2026-12-07", "2026-12-14"]);
        assert_eq!(weeks[2].end, d("2026-12-21"));
        let months = periods(d("2024-01-31"), d("2024-03-01"), Granularity::Month, 10).unwrap();
        let bounds: Vec<(String, String)> =
            months.iter().map(|p| (p.start.to_string(), p.last_day().to_string())).collect();
        assert_eq!(
            bounds,
            [
                ("2024-01-01".into(), "2024-01-31".into()),
                ("2024-02-01".into(), "2024-02-29".into()),
                ("2024-03-01".into(), "2024-03-31".into())
            ]
        );
        assert_eq!(months[0].previous(Granularity::Month), Period { start: d("2023-12-01"), end: d("2024-01-01") });
    }

    #[test]
    fn a_reversed_or_too_long_range_is_refused() {
        assert!(periods(d("2026-02-01"), d("2026-01-01"), Granularity::Month, 10).is_err());
        assert_eq!(periods(d("2026-01-01"), d("2026-12-31"), Granularity::Month, 12).unwrap().len(), 12);
        assert!(periods(d("2026-01-01"), d("2027-01-01"), Granularity::Month, 12).is_err());
    }
}
