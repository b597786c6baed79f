//! Referral (parrainage): a customer enrols with a friend's code; the friend's first purchase of
//! at least the programme's minimum, within its window, rewards both exactly once. A return that
//! takes the qualifying purchase below the minimum claws both rewards back.

use chrono::{Datelike, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::Actor;
use super::points::{Guard, Posting, post, refusal};
use crate::db::repo::cards::{self as card_repo, Card};
use crate::db::repo::customers::Customer;
use crate::db::repo::programs::Program;
use crate::db::repo::purchases::Purchase;
use crate::db::repo::referrals::{
    self as repo_ref, CLAWED_BACK, EXPIRED, PENDING, REJECTED, REWARDED, Referral, Settings,
};
use crate::db::{Db, DbConn, repo};
use crate::domain::codes::ReferralCode;
use crate::domain::identity::{canonical_email, phone_digits, signal_key};
use crate::domain::ledger::EntryKind;
use crate::domain::role::Role;
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::mail::{self, Beneficiary, Mail};

/// Why a referral was not rewarded. Stable: shown to staff and customers, counted in statistics.
pub mod reason {
    pub const SELF_REFERRAL: &str = "self_referral";
    pub const ALREADY_CUSTOMER: &str = "already_customer";
    pub const CODE_EXPIRED: &str = "code_expired";
    pub const REFERRER_BLOCKED: &str = "referrer_blocked";
    pub const LIMIT_REACHED: &str = "limit_reached";
    pub const WINDOW_PASSED: &str = "window_passed";
    pub const PURCHASE_RETURNED: &str = "qualifying_purchase_returned";
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferralDto {
    pub id: String,
    pub referrer_card_id: String,
    pub referee_card_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub purchase_id: Option<String>,
    pub expires_at: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl From<&Referral> for ReferralDto {
    fn from(r: &Referral) -> Self {
        ReferralDto {
            id: r.id.clone(),
            referrer_card_id: r.referrer_card_id.clone(),
            referee_card_id: r.referee_card_id.clone(),
            status: r.status.clone(),
            reason: r.reason.clone(),
            purchase_id: r.purchase_id.clone(),
            expires_at: time(r.expires_at),
            created_at: time(r.created_at),
            decided_at: r.decided_at.map(time),
        }
    }
}

/// The salted keys of a new customer's signals.
pub struct Signals {
    pub email_key: String,
    pub phone_key: Option<String>,
    pub device_key: Option<String>,
}

pub fn signals(conn: &mut DbConn, email: &str, phone: Option<&str>, device: Option<&str>) -> AppResult<Signals> {
    let salt = repo::secrets::get_or_create(conn, "signal_salt", &crate::domain::card::random_token(32))?;
    Ok(Signals {
        email_key: signal_key(&salt, "email", &canonical_email(email)),
        phone_key: phone.and_then(phone_digits).map(|d| signal_key(&salt, "phone", &d)),
        device_key: device.map(|d| signal_key(&salt, "device", d.trim())),
    })
}

pub fn new_code() -> String {
    ReferralCode::generate().as_str().to_owned()
}

/// Records that `referee` enrolled with `code`. Unknown codes and a programme without referral
/// are refused (the till can correct them); every other refusal enrols the customer anyway and
/// keeps the referral as rejected, with its reason.
pub fn attach(
    conn: &mut DbConn,
    program: &Program,
    referee: &Customer,
    referee_card: &Card,
    code: &ReferralCode,
) -> AppResult<ReferralDto> {
    let settings = repo_ref::settings(conn, &program.id)?
        .filter(|s| s.enabled)
        .ok_or_else(|| AppError::unprocessable("referral_disabled", "this programme has no referral scheme"))?;
    let referrer_card = card_repo::find_by_referral_code(conn, &program.id, code.as_str())?
        .ok_or_else(|| AppError::unprocessable("referral_code_unknown", "no card has this referral code"))?;
    let referrer = repo::customers::find(conn, &program.id, &referrer_card.customer_id)?;
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    let refusal = if referrer_card.status == card_repo::CLOSED {
        Some(reason::CODE_EXPIRED)
    } else if referrer_card.status != card_repo::ACTIVE {
        Some(reason::REFERRER_BLOCKED)
    } else if same(&referrer.email_key, &referee.email_key)
        || same(&referrer.phone_key, &referee.phone_key)
        || same(&referrer.device_key, &referee.device_key)
    {
        Some(reason::SELF_REFERRAL)
    } else if let Some(key) = &referee.email_key
        && repo::customers::other_with_email_key(conn, &program.id, key, &referee.id)?
    {
        Some(reason::ALREADY_CUSTOMER)
    } else if limit_reached(conn, program, &settings, &referrer_card.id)? {
        Some(reason::LIMIT_REACHED)
    } else {
        None
    };
    let now = repo::now();
    let referral = Referral {
        id: repo::new_id(),
        program_id: program.id.clone(),
        referrer_card_id: referrer_card.id.clone(),
        referee_card_id: referee_card.id.clone(),
        status: if refusal.is_some() { REJECTED } else { PENDING }.to_owned(),
        reason: refusal.map(str::to_owned),
        purchase_id: None,
        expires_at: now + chrono::Duration::days(settings.window_days),
        created_at: now,
        decided_at: refusal.map(|_| now),
    };
    repo_ref::insert(conn, &referral)?;
    Ok(ReferralDto::from(&referral))
}

fn limit_reached(conn: &mut DbConn, program: &Program, settings: &Settings, referrer_card_id: &str) -> AppResult<bool> {
    let total = repo_ref::rewarded_count(conn, referrer_card_id, "total")?;
    let month = repo_ref::rewarded_count(conn, referrer_card_id, &month_of(program, repo::now()))?;
    Ok(settings.max_total.is_some_and(|m| total >= m) || settings.max_per_month.is_some_and(|m| month >= m))
}

/// "2026-11": the calendar month of `at` in the programme's time zone.
fn month_of(program: &Program, at: NaiveDateTime) -> String {
    let tz: chrono_tz::Tz = program.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local = at.and_utc().with_timezone(&tz);
    format!("{:04}-{:02}", local.year(), local.month())
}

/// Called in the purchase's transaction: rewards the referral this purchase qualifies, once.
pub fn on_purchase(
    conn: &mut DbConn,
    program: &Program,
    card: &Card,
    purchase: &Purchase,
) -> AppResult<Option<ReferralDto>> {
    let Some(referral) = repo_ref::pending_for_referee(conn, &program.id, &card.id)? else {
        return Ok(None);
    };
    let Some(settings) = repo_ref::settings(conn, &program.id)?.filter(|s| s.enabled) else {
        return Ok(None);
    };
    if repo::now() > referral.expires_at {
        repo_ref::transition(conn, &referral.id, PENDING, EXPIRED, Some(reason::WINDOW_PASSED), None)?;
        return reload(conn, &program.id, &referral.id);
    }
    if purchase.amount_cents - purchase.discount_cents < settings.min_purchase_cents {
        return Ok(None);
    }
    // The conditional transition is what makes two purchases qualifying at once reward once.
    if !repo_ref::transition(conn, &referral.id, PENDING, REWARDED, None, Some(&purchase.id))? {
        return Ok(None);
    }
    let referrer = card_repo::find(conn, &program.id, &referral.referrer_card_id)?;
    let refuse = |conn: &mut DbConn, why: &str| -> AppResult<Option<ReferralDto>> {
        repo_ref::transition(conn, &referral.id, REWARDED, REJECTED, Some(why), None)?;
        reload(conn, &program.id, &referral.id)
    };
    let Some(referrer) = referrer.filter(|r| r.status == card_repo::ACTIVE) else {
        return refuse(conn, reason::REFERRER_BLOCKED);
    };
    let month = month_of(program, repo::now());
    if !repo_ref::count_reward(conn, &program.id, &referrer.id, "total", settings.max_total)? {
        return refuse(conn, reason::LIMIT_REACHED);
    }
    if !repo_ref::count_reward(conn, &program.id, &referrer.id, &month, settings.max_per_month)? {
        repo_ref::uncount_reward(conn, &referrer.id, "total")?;
        return refuse(conn, reason::LIMIT_REACHED);
    }
    // Read again under its row lock, taken after the counters (the order on_return takes them
    // in): a referrer closed or blocked since the read above gets no reward.
    if card_repo::lock(conn, &program.id, &referrer.id)?.is_none_or(|r| r.status != card_repo::ACTIVE) {
        repo_ref::uncount_reward(conn, &referrer.id, "total")?;
        repo_ref::uncount_reward(conn, &referrer.id, &month)?;
        return refuse(conn, reason::REFERRER_BLOCKED);
    }
    for (side, card_id, points) in [
        (Beneficiary::Referrer, &referrer.id, settings.referrer_points),
        (Beneficiary::Referee, &card.id, settings.referee_points),
    ] {
        let beneficiary = side.as_str();
        if points == 0 || !repo_ref::insert_reward(conn, &referral.id, beneficiary, &program.id, card_id, points)? {
            continue;
        }
        let posting = Posting {
            program_id: &program.id,
            card_id,
            delta: points,
            kind: EntryKind::Referral,
            purchase_id: Some(&purchase.id),
            staff_id: None,
            reason: Some(beneficiary),
        };
        // Both cards are active and locked by now: a refusal here is a bug, never a silent reward.
        let guard = Guard { only_active: true, no_overdraft: false };
        if post(conn, &posting, guard)?.is_none() {
            return Err(refusal(conn, &posting, guard)?);
        }
        let mail = Mail::ReferralRewarded {
            program_id: program.id.clone(),
            referral_id: referral.id.clone(),
            card_id: card_id.clone(),
            beneficiary: side,
            points,
        };
        // One per reward row, which is inserted once: a replayed purchase queues nothing more.
        mail::queue(conn, &mail)?;
    }
    reload(conn, &program.id, &referral.id)
}

/// Called in a return's transaction: claws the rewards back, once, when what is kept of the
/// qualifying purchase falls below the minimum.
pub fn on_return(conn: &mut DbConn, program: &Program, purchase: &Purchase) -> AppResult<()> {
    let Some(referral) = repo_ref::for_purchase(conn, &program.id, &purchase.id)? else {
        return Ok(());
    };
    let Some(settings) = repo_ref::settings(conn, &program.id)? else {
        return Ok(());
    };
    let kept = purchase.amount_cents - purchase.discount_cents - purchase.returned_cents;
    if referral.status != REWARDED || !settings.clawback || kept >= settings.min_purchase_cents {
        return Ok(());
    }
    let month = month_of(program, referral.decided_at.unwrap_or(referral.created_at));
    if !repo_ref::transition(conn, &referral.id, REWARDED, CLAWED_BACK, Some(reason::PURCHASE_RETURNED), None)? {
        return Ok(());
    }
    // Counters before cards, the order on_purchase takes them in: no deadlock between the two.
    repo_ref::uncount_reward(conn, &referral.referrer_card_id, "total")?;
    repo_ref::uncount_reward(conn, &referral.referrer_card_id, &month)?;
    for (beneficiary, card_id, points) in repo_ref::claw_back_rewards(conn, &referral.id)? {
        let posting = Posting {
            program_id: &program.id,
            card_id: &card_id,
            delta: -points,
            kind: EntryKind::ReferralClawback,
            purchase_id: Some(&purchase.id),
            staff_id: None,
            reason: Some(&beneficiary),
        };
        post(conn, &posting, Guard { only_active: false, no_overdraft: false })?;
    }
    Ok(())
}

fn reload(conn: &mut DbConn, program_id: &str, id: &str) -> AppResult<Option<ReferralDto>> {
    Ok(repo_ref::find(conn, program_id, id)?.as_ref().map(ReferralDto::from))
}

/// Gives a referral code to open cards created before codes existed. Idempotent; runs at
/// start-up. Each card is visited once (in id order), so a card that can't get a code is left
/// for the next start instead of being retried forever.
pub fn backfill_codes(conn: &mut DbConn) -> AppResult<usize> {
    let mut done = 0;
    let mut after: Option<String> = None;
    loop {
        let cards = card_repo::without_referral_code(conn, after.as_deref(), 500)?;
        let Some(last) = cards.last() else {
            return Ok(done);
        };
        after = Some(last.id.clone());
        for card in cards {
            use diesel::Connection;
            // A clash with another card's code (rare) is drawn again.
            let given = (0..5).any(|_| {
                let code = new_code();
                conn.transaction(|c| card_repo::set_referral_code(c, &card.id, &code)).is_ok()
            });
            if given {
                done += 1;
            } else {
                tracing::warn!(card_id = card.id, "no referral code could be given to this card");
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    pub enabled: bool,
    #[serde(default)]
    pub min_purchase_cents: i64,
    #[serde(default = "default_window")]
    pub window_days: i64,
    #[serde(default)]
    pub referrer_points: i64,
    #[serde(default)]
    pub referee_points: i64,
    #[serde(default)]
    pub max_per_month: Option<i64>,
    #[serde(default)]
    pub max_total: Option<i64>,
    #[serde(default = "default_true")]
    pub clawback: bool,
}

fn default_window() -> i64 {
    30
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Serialize)]
pub struct SettingsDto {
    pub enabled: bool,
    pub min_purchase_cents: i64,
    pub window_days: i64,
    pub referrer_points: i64,
    pub referee_points: i64,
    pub max_per_month: Option<i64>,
    pub max_total: Option<i64>,
    pub clawback: bool,
}

impl From<&Settings> for SettingsDto {
    fn from(s: &Settings) -> Self {
        SettingsDto {
            enabled: s.enabled,
            min_purchase_cents: s.min_purchase_cents,
            window_days: s.window_days,
            referrer_points: s.referrer_points,
            referee_points: s.referee_points,
            max_per_month: s.max_per_month,
            max_total: s.max_total,
            clawback: s.clawback,
        }
    }
}

impl SettingsInput {
    pub fn into_settings(self, program_id: &str) -> AppResult<Settings> {
        let check =
            |ok: bool, field: &str, rule: &str| if ok { Ok(()) } else { Err(AppError::invalid_field(field, rule)) };
        check(
            (0..=crate::domain::money::MAX_CENTS).contains(&self.min_purchase_cents),
            "min_purchase_cents",
            "0 to 10^9 cents",
        )?;
        check((1..=3650).contains(&self.window_days), "window_days", "1 to 3650 days")?;
        check((0..=1_000_000).contains(&self.referrer_points), "referrer_points", "0 to 1000000 points")?;
        check((0..=1_000_000).contains(&self.referee_points), "referee_points", "0 to 1000000 points")?;
        check(self.max_per_month.is_none_or(|m| m > 0), "max_per_month", "positive, or null for no limit")?;
        check(self.max_total.is_none_or(|m| m > 0), "max_total", "positive, or null for no limit")?;
        Ok(Settings {
            program_id: program_id.to_owned(),
            enabled: self.enabled,
            min_purchase_cents: self.min_purchase_cents,
            window_days: self.window_days,
            referrer_points: self.referrer_points,
            referee_points: self.referee_points,
            max_per_month: self.max_per_month,
            max_total: self.max_total,
            clawback: self.clawback,
            updated_at: repo::now(),
        })
    }
}

pub async fn get_settings(db: &Db, actor: &Actor) -> AppResult<SettingsDto> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        Ok(repo_ref::settings(c, &program_id)?.as_ref().map_or_else(
            || SettingsDto {
                enabled: false,
                min_purchase_cents: 0,
                window_days: default_window(),
                referrer_points: 0,
                referee_points: 0,
                max_per_month: None,
                max_total: None,
                clawback: true,
            },
            SettingsDto::from,
        ))
    })
    .await
}

pub async fn put_settings(db: &Db, actor: &Actor, input: SettingsInput) -> AppResult<SettingsDto> {
    actor.require(Role::Manager)?;
    let settings = input.into_settings(&actor.program_id)?;
    db.write(move |c| {
        repo_ref::save_settings(c, &settings)?;
        Ok(SettingsDto::from(&settings))
    })
    .await
}

#[derive(Debug, Serialize)]
pub struct CardReferrals {
    pub referral_code: Option<String>,
    pub referral_link: Option<String>,
    /// The referrals this card made, newest first.
    pub referrals: Vec<ReferralDto>,
    /// The referral that brought this card in, if any.
    pub referred_by: Option<ReferralDto>,
}

pub async fn for_card(db: &Db, actor: &Actor, card_id: String, public_url: String) -> AppResult<CardReferrals> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let card = card_repo::find(c, &program_id, &card_id)?.ok_or_else(super::cards::card_not_found)?;
        let made = repo_ref::list(c, &program_id, Some(&card.id), None, 200)?;
        let referred_by = repo_ref::for_referee(c, &program_id, &card.id)?;
        Ok(CardReferrals {
            referral_link: card.referral_code.as_ref().map(|code| format!("{public_url}/r/{code}")),
            referral_code: card.referral_code,
            referrals: made.iter().map(ReferralDto::from).collect(),
            referred_by: referred_by.as_ref().map(ReferralDto::from),
        })
    })
    .await
}

pub async fn list(db: &Db, actor: &Actor, status: Option<String>, limit: i64) -> AppResult<Vec<ReferralDto>> {
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        Ok(repo_ref::list(c, &program_id, None, status.as_deref(), limit)?.iter().map(ReferralDto::from).collect())
    })
    .await
}

#[derive(Debug, Serialize)]
pub struct Stats {
    /// Customers who enrolled with a referral code.
    pub referred: i64,
    pub pending: i64,
    pub rewarded: i64,
    pub rejected: i64,
    pub expired: i64,
    pub clawed_back: i64,
    /// Why referrals were not rewarded, by reason.
    pub reasons: std::collections::BTreeMap<String, i64>,
    /// rewarded / referred, to four decimals (0 when nobody was referred).
    pub conversion_rate: f64,
}

pub async fn stats(db: &Db, actor: &Actor) -> AppResult<Stats> {
    let program_id = actor.program_id.clone();
    let rows = db.read(move |c| Ok(repo_ref::stats(c, &program_id)?)).await?;
    let mut stats = Stats {
        referred: 0,
        pending: 0,
        rewarded: 0,
        rejected: 0,
        expired: 0,
        clawed_back: 0,
        reasons: Default::default(),
        conversion_rate: 0.0,
    };
    for (status, reason, n) in rows {
        stats.referred += n;
        match status.as_str() {
            PENDING => stats.pending += n,
            REWARDED => stats.rewarded += n,
            REJECTED => stats.rejected += n,
            EXPIRED => stats.expired += n,
            _ => stats.clawed_back += n,
        }
        if let Some(reason) = reason {
            *stats.reasons.entry(reason).or_default() += n;
        }
    }
    if stats.referred > 0 {
        // A ratio for display, not money: rounded to four decimals in integers first.
        let per_ten_thousand = stats.rewarded * 10_000 / stats.referred;
        stats.conversion_rate = f64::from(u32::try_from(per_ten_thousand).unwrap_or(0)) / 10_000.0;
    }
    Ok(stats)
}
