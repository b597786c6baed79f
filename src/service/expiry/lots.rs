//! Points by lot, kept in step with every balance move ([`follow`], called by
//! `points::post_many` in the same transaction): a credit opens a lot, a debit takes from the
//! card's oldest lots first. So for every card, the open lots add up to MAX(balance, 0): the part
//! of a credit that pays back a debt opens no lot, and a debit only takes what the balance held
//! above zero.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::db::DbConn;
use crate::db::repo::lots::{self as repo, Lot, NewLot};

/// One card's balance move, as `points::post_many` wrote it.
pub struct Move<'a> {
    pub program_id: &'a str,
    pub card_id: &'a str,
    pub before: i64,
    pub after: i64,
    /// The ledger entry of the move.
    pub entry_id: i64,
    /// When a credit's points were earned.
    pub earned_at: NaiveDateTime,
}

impl Move<'_> {
    /// Points the move adds to the card's lots (positive) or takes from them (negative).
    fn on_lots(&self) -> i64 {
        self.after.max(0) - self.before.max(0)
    }
}

/// What taking points from a card's lots does to them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Lots used up.
    pub emptied: Vec<i64>,
    /// The lot left partly used, with what is left of it.
    pub partly: Option<(i64, i64)>,
}

/// Takes `points` from `lots` (one card's, oldest first). The caller guarantees the lots hold
/// them (they add up to the balance, and a debit takes at most the balance).
pub fn take(lots: &[&Lot], mut points: i64) -> Taken {
    let mut taken = Taken::default();
    for lot in lots {
        if points <= 0 {
            break;
        }
        if lot.remaining <= points {
            taken.emptied.push(lot.id);
            points -= lot.remaining;
        } else {
            taken.partly = Some((lot.id, lot.remaining - points));
            points = 0;
        }
    }
    taken
}

/// Opens and takes lots for `moves` (of distinct cards), in a few statements whatever their number.
pub fn follow(conn: &mut DbConn, moves: &[Move<'_>]) -> QueryResult<()> {
    let debits: Vec<(&str, i64)> =
        moves.iter().filter(|m| m.on_lots() < 0).map(|m| (m.card_id, -m.on_lots())).collect();
    if !debits.is_empty() {
        let ids: Vec<&str> = debits.iter().map(|(card, _)| *card).collect();
        let open = repo::open_of_cards(conn, &ids)?;
        let mut by_card: HashMap<&str, Vec<&Lot>> = HashMap::with_capacity(ids.len());
        for lot in &open {
            by_card.entry(lot.card_id.as_str()).or_default().push(lot);
        }
        let (mut emptied, mut partly) = (Vec::new(), Vec::new());
        for (card, points) in debits {
            let taken = take(by_card.get(card).map_or(&[][..], Vec::as_slice), points);
            emptied.extend(taken.emptied);
            partly.extend(taken.partly);
        }
        repo::delete(conn, &emptied)?;
        repo::set_remaining(conn, &partly)?;
    }
    let opened: Vec<NewLot<'_>> = moves
        .iter()
        .filter(|m| m.on_lots() > 0)
        .map(|m| NewLot {
            program_id: m.program_id,
            card_id: m.card_id,
            entry_id: Some(m.entry_id),
            earned_at: m.earned_at,
            points: m.on_lots(),
            remaining: m.on_lots(),
        })
        .collect();
    if !opened.is_empty() {
        repo::insert_many(conn, &opened)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(id: i64, remaining: i64) -> Lot {
        Lot { id, card_id: "c".into(), earned_at: NaiveDateTime::default(), remaining }
    }

    #[test]
    fn takes_the_oldest_lots_first() {
        let lots = [lot(1, 100), lot(2, 50), lot(3, 70)];
        let lots: Vec<&Lot> = lots.iter().collect();
        assert_eq!(take(&lots, 120), Taken { emptied: vec![1], partly: Some((2, 30)) });
        assert_eq!(take(&lots, 150), Taken { emptied: vec![1, 2], partly: None });
        assert_eq!(take(&lots, 40), Taken { emptied: vec![], partly: Some((1, 60)) });
        assert_eq!(take(&lots, 0), Taken::default());
    }

    #[test]
    fn debt_opens_and_takes_no_lot() {
        let mv = |before, after| Move {
            program_id: "p",
            card_id: "c",
            before,
            after,
            entry_id: 1,
            earned_at: NaiveDateTime::default(),
        };
        // A credit paying back 30 owed points opens a lot of what is left.
        assert_eq!(mv(-30, 70).on_lots(), 70);
        assert_eq!(mv(-30, -10).on_lots(), 0);
        // A return taking 100 from 60 takes the 60 the lots hold; the rest is debt.
        assert_eq!(mv(60, -40).on_lots(), -60);
        assert_eq!(mv(-40, -50).on_lots(), 0);
        assert_eq!(mv(10, 25).on_lots(), 15);
    }
}
