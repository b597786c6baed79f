//! How a card's usable vouchers read on its passes: a one-line summary for the front (Apple) or
//! a text module's header (Google), and one line per voucher for the back or the module's body.
//! Passes have no room for a template engine, so the few phrases live here in both languages.

use chrono::{NaiveDateTime, TimeZone as _};

use super::{value_of, value_text};
use crate::db::DbConn;
use crate::db::repo::{self, programs::Program};
use crate::domain::text::Locale;
use crate::domain::voucher::VoucherCode;
use crate::error::AppResult;

/// What a pass shows of the vouchers; `None` from [`on_pass`] when the card has none usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// "Vouchers" / "Bons d'achat", for a pass without localisation keys (Google).
    pub label: &'static str,
    /// "2 · next ends 31 May": the count and the soonest end, in the programme's time zone.
    pub summary: String,
    /// "€5.00 · K7MX-2QE9-AB4 · until 31 May 2026", soonest end first.
    pub lines: Vec<String>,
}

/// The card's usable vouchers as its passes show them, in `locale`. Nothing rather than
/// "0 vouchers": a customer who has none doesn't need a field telling them so on every glance.
pub fn on_pass(
    conn: &mut DbConn,
    program: &Program,
    card_id: &str,
    locale: Locale,
    now: NaiveDateTime,
) -> AppResult<Option<Shown>> {
    let vouchers = repo::vouchers::usable(conn, card_id, now)?;
    let Some(first) = vouchers.first() else { return Ok(None) };
    let tz = program.tz();
    let day = |at: NaiveDateTime| tz.from_utc_datetime(&at).date_naive();
    let next = day(first.expires_at);
    let summary = match (locale, vouchers.len()) {
        (Locale::Fr, 1) => format!("1 · expire le {}", next.format("%d/%m")),
        (Locale::Fr, n) => format!("{n} · le prochain expire le {}", next.format("%d/%m")),
        (Locale::En, 1) => format!("1 · ends {}", next.format("%-d %b")),
        (Locale::En, n) => format!("{n} · next ends {}", next.format("%-d %b")),
    };
    let lines = vouchers
        .iter()
        .map(|v| {
            let value = value_text(&value_of(v)?, &program.currency, locale);
            let code = VoucherCode::from_db(v.code.clone()).display();
            let until = match locale {
                Locale::Fr => format!("jusqu'au {}", day(v.expires_at).format("%d/%m/%Y")),
                Locale::En => format!("until {}", day(v.expires_at).format("%-d %b %Y")),
            };
            Ok(format!("{value} · {code} · {until}"))
        })
        .collect::<AppResult<Vec<String>>>()?;
    let label = match locale {
        Locale::Fr => "Bons d'achat",
        Locale::En => "Vouchers",
    };
    Ok(Some(Shown { label, summary, lines }))
}
