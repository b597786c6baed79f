//! Which points expire when: a card's open lots grouped by their last day under the programme's
//! rule (`GET /cards/{id}/expiry`, the card page, the pass, and the daily run all read it here).

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::rules::{self, Setting};
use crate::db::repo::cards::Card;
use crate::db::repo::lots::Lot;
use crate::db::repo::programs::Program;
use crate::db::{Db, DbConn, repo};
use crate::domain::expiry::ExpiryRule;
use crate::domain::text::Locale;
use crate::error::AppResult;
use crate::service::Actor;
use crate::service::cards::card_not_found;

/// Points of a card that expire at the end of `expires_on` (the programme's local day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Expiring {
    pub expires_on: NaiveDate,
    pub points: i64,
}

/// What the daily run and the views need about a few cards, read in three statements.
pub struct Cards<'a> {
    pub program: &'a Program,
    pub setting: Setting,
    lots: HashMap<String, Vec<Lot>>,
    last_purchase: HashMap<String, NaiveDateTime>,
}

impl<'a> Cards<'a> {
    pub fn read(conn: &mut DbConn, program: &'a Program, setting: Setting, cards: &[&Card]) -> AppResult<Self> {
        let ids: Vec<&str> = cards.iter().map(|c| c.id.as_str()).collect();
        let mut lots: HashMap<String, Vec<Lot>> = HashMap::new();
        let mut last_purchase = HashMap::new();
        match setting.rule {
            ExpiryRule::Off => {}
            ExpiryRule::AfterEarning { .. } => {
                for lot in repo::lots::open_of_cards(conn, &ids)? {
                    lots.entry(lot.card_id.clone()).or_default().push(lot);
                }
            }
            ExpiryRule::Inactivity { .. } => last_purchase.extend(repo::purchases::last_occurred(conn, &ids)?),
        }
        Ok(Cards { program, setting, lots, last_purchase })
    }

    /// The card's points by last day, soonest first.
    pub fn of(&self, card: &Card) -> Vec<Expiring> {
        let day = |at: NaiveDateTime| self.program.local_day(at);
        let mut by_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        match self.setting.rule {
            ExpiryRule::Off => {}
            ExpiryRule::AfterEarning { .. } => {
                for lot in self.lots.get(&card.id).map_or(&[][..], Vec::as_slice) {
                    if let Some(end) = self.setting.ends_on(day(lot.earned_at)) {
                        *by_day.entry(end).or_default() += lot.remaining;
                    }
                }
            }
            ExpiryRule::Inactivity { .. } => {
                // The clock starts at the last purchase, or at enrolment for a card without one.
                let last = self.last_purchase.get(&card.id).copied().unwrap_or(card.created_at).max(card.created_at);
                if let Some(end) = self.setting.ends_on(day(last)).filter(|_| card.balance > 0) {
                    by_day.insert(end, card.balance);
                }
            }
        }
        by_day.into_iter().map(|(expires_on, points)| Expiring { expires_on, points }).collect()
    }
}

/// The card's points by last day, soonest first; empty when points don't expire.
pub fn of_card(conn: &mut DbConn, program: &Program, card: &Card) -> AppResult<Vec<Expiring>> {
    let setting = rules::of_program(conn, &program.id)?;
    Ok(Cards::read(conn, program, setting, &[card])?.of(card))
}

/// `GET /cards/{id}/expiry`.
pub async fn for_card(db: &Db, actor: &Actor, card_id: String) -> AppResult<Vec<Expiring>> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let card = repo::cards::find(c, &program_id, &card_id)?.ok_or_else(card_not_found)?;
        let program = repo::programs::find(c, &program_id)?;
        of_card(c, &program, &card)
    })
    .await
}

/// "120 points expire on 31/03/2027", in the holder's language: the card page and the pass.
pub fn next_line(next: &Expiring, lang: Locale) -> String {
    match (lang, next.points) {
        (Locale::Fr, 1) => format!("1 point expire le {}", next.expires_on.format("%d/%m/%Y")),
        (Locale::Fr, n) => format!("{n} points expirent le {}", next.expires_on.format("%d/%m/%Y")),
        (Locale::En, 1) => format!("1 point expires on {}", next.expires_on.format("%-d %b %Y")),
        (Locale::En, n) => format!("{n} points expire on {}", next.expires_on.format("%-d %b %Y")),
    }
}
