//! The tag of the PassKit "list updated passes" call: which pass changes a device has seen.
//!
//! It is a database snapshot, `xmin:xmax:xip,xip,...` (PostgreSQL's `txid_snapshot` text), where
//! each change of a pass carries the id of the transaction that made it. A change was seen by the
//! holder of a tag when its transaction had committed before the tag was taken: below `xmin`, or
//! below `xmax` and not in progress (`xip`). So a device is told about every change exactly once,
//! however transactions overlap and in whatever order they commit. On SQLite, where writes are
//! serialised, "transaction ids" are a counter and a tag is `n:n:` (everything below n was seen).

use std::fmt;

/// Far more than the in-progress list of any real snapshot (bounded by `max_connections`).
const MAX_IN_PROGRESS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateTag {
    xmin: i64,
    xmax: i64,
    in_progress: Vec<i64>,
}

impl UpdateTag {
    /// Everything below `next` was seen (the SQLite form).
    pub fn below(next: i64) -> UpdateTag {
        UpdateTag { xmin: next, xmax: next, in_progress: Vec::new() }
    }

    /// A tag as we issued it; anything else (another format, a forged or damaged value) is
    /// `None`, and the device then gets every pass, which is always safe.
    pub fn parse(text: &str) -> Option<UpdateTag> {
        let mut parts = text.trim().split(':');
        let (xmin, xmax, xip) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let number = |s: &str| s.parse::<i64>().ok().filter(|n| *n >= 0 && s.bytes().all(|b| b.is_ascii_digit()));
        let (xmin, xmax) = (number(xmin)?, number(xmax)?);
        let in_progress: Vec<i64> =
            if xip.is_empty() { Vec::new() } else { xip.split(',').map(number).collect::<Option<_>>()? };
        let ordered = in_progress.windows(2).all(|w| w[0] < w[1]);
        let inside = in_progress.iter().all(|x| (xmin..xmax).contains(x));
        (xmin <= xmax && ordered && inside && in_progress.len() <= MAX_IN_PROGRESS).then_some(UpdateTag {
            xmin,
            xmax,
            in_progress,
        })
    }

    /// Changes below this can only have been seen: the cheap filter before [`saw`](Self::saw).
    pub fn xmin(&self) -> i64 {
        self.xmin
    }

    /// Whether the holder of this tag has already seen the change made by transaction `txid`.
    pub fn saw(&self, txid: i64) -> bool {
        txid < self.xmin || (txid < self.xmax && self.in_progress.binary_search(&txid).is_err())
    }
}

impl fmt::Display for UpdateTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let xip: Vec<String> = self.in_progress.iter().map(i64::to_string).collect();
        write!(f, "{}:{}:{}", self.xmin, self.xmax, xip.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::UpdateTag;

    #[test]
    fn a_snapshot_saw_what_had_committed() {
        let tag = UpdateTag::parse("100:105:101,103").unwrap();
        assert_eq!(tag.to_string(), "100:105:101,103");
        for (txid, seen) in
            [(99, true), (100, true), (101, false), (102, true), (103, false), (104, true), (105, false)]
        {
            assert_eq!(tag.saw(txid), seen, "{txid}");
        }
        let counter = UpdateTag::below(7);
        assert_eq!(counter.to_string(), "7:7:");
        assert_eq!(UpdateTag::parse("7:7:"), Some(counter.clone()));
        assert!(counter.saw(6) && !counter.saw(7));
    }

    #[test]
    fn anything_we_did_not_issue_is_no_tag() {
        for bad in
            ["", "12", "1:2", "1:2:3:4", "5:4:", "1:9:9", "1:9:0", "1:9:5,3", "a:b:", "-1:2:", "+1:2:", "1:9:4,4"]
        {
            assert_eq!(UpdateTag::parse(bad), None, "{bad:?}");
        }
    }
}
