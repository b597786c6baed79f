//! What the till does with a code: check it (dry run) or redeem it on its own. Failed attempts
//! are counted per staff member and per client address; past the limit the caller waits.

use actix_web::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::Actor;
use super::idempotency::{self, Idempotent, Stored};
use super::points::{Guard, Posting, card_blocked, post};
use super::promos::{self, Effect, Refusal};
use crate::db::repo::cards as card_repo;
use crate::db::{Db, repo};
use crate::domain::card::CardRef;
use crate::domain::codes::PromoCode;
use crate::domain::ledger::EntryKind;
use crate::domain::money::Cents;
use crate::domain::status::CardStatus;
use crate::error::{AppError, AppResult};

/// Failed code attempts allowed per window before a 429.
#[derive(Debug, Clone, Copy)]
pub struct GuessLimits {
    pub per_staff: i64,
    pub per_address: i64,
    pub window_seconds: i64,
}

/// Who is trying codes, for the guessing limits.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub program_id: String,
    pub staff_id: String,
    pub address: Option<String>,
    pub limits: GuessLimits,
}

impl Attempt {
    fn keys(&self) -> Vec<(String, i64)> {
        let mut keys = vec![(format!("promo:{}:staff:{}", self.program_id, self.staff_id), self.limits.per_staff)];
        if let Some(address) = &self.address {
            keys.push((format!("promo:{}:addr:{address}", self.program_id), self.limits.per_address));
        }
        keys
    }

    /// Counts this attempt first, then refuses with 429 and `Retry-After` when a key is past its
    /// limit. Counting before deciding is what stops a burst of concurrent guesses: each one sees
    /// the count with all the others in it. Only distinct codes count: a till retrying the same
    /// spent code learns nothing new and must not lock itself out. Returns a pass to settle once
    /// the outcome is known.
    pub async fn begin(&self, db: &Db, code: &PromoCode) -> AppResult<Pass> {
        self.begin_all(db, &[code.as_str()]).await
    }

    /// [`Attempt::begin`] for every code of one request (a promo code and vouchers), in one
    /// transaction.
    pub async fn begin_all(&self, db: &Db, codes: &[&str]) -> AppResult<Pass> {
        let (window, retry_after) = repo::rate_limits::current_window(self.limits.window_seconds);
        let keys = self.keys();
        let guesses: Vec<String> = codes.iter().map(|c| guess_hash(c)).collect();
        let counted = db
            .write(move |c| {
                let mut over = false;
                let mut counted = Vec::new();
                for guess in guesses {
                    let hits = repo::rate_limits::hit_all_distinct(c, &keys, window, Some(&guess))?;
                    over |= hits.over;
                    counted.extend(hits.counted.into_iter().map(|key| (key, guess.clone())));
                }
                Ok((over, counted))
            })
            .await?;
        let (over, counted) = counted;
        let pass = Pass { counted, window };
        if over {
            pass.refund(db).await;
            return Err(AppError::TooManyRequests { retry_after_seconds: retry_after });
        }
        Ok(pass)
    }
}

/// What the guessing limits keep of a code: enough to tell two codes apart, not to read one back.
fn guess_hash(code: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(code.as_bytes()))[..16].to_owned()
}

/// An attempt counted against the guessing limits, until it proves not to be a guess.
pub struct Pass {
    /// (key, guess) this attempt was the first to count against.
    counted: Vec<(String, String)>,
    window: chrono::NaiveDateTime,
}

impl Pass {
    /// Only an unknown code is a guess: any other outcome gives back what this attempt counted.
    pub async fn settle(self, db: &Db, guessed: bool) {
        if !guessed {
            self.refund(db).await;
        }
    }

    async fn refund(&self, db: &Db) {
        if self.counted.is_empty() {
            return;
        }
        let (counted, window) = (self.counted.clone(), self.window);
        let result = db
            .write(move |c| {
                for (key, guess) in &counted {
                    repo::rate_limits::unhit_distinct(c, key, guess, window)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not settle a code attempt");
        }
    }
}

/// Runs `f` under the guessing limits. Refusals of a real code (expired, used up) are not guesses
/// and don't count, so a busy till is never locked out by them.
pub async fn guarded<T>(
    db: &Db,
    attempt: &Attempt,
    code: &PromoCode,
    f: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    guarded_all(db, attempt, &[code.as_str()], f).await
}

/// Whether a failed request was a guess: an unknown promo code or voucher.
fn is_guess<T>(result: &AppResult<T>) -> bool {
    result.as_ref().err().is_some_and(|e| {
        matches!(e, AppError::Client { code, .. } if *code == Refusal::Invalid.error().code())
            || crate::service::vouchers::till::Refusal::is_guess(e)
    })
}

/// The guessing limits for codes too sparse to guess (vouchers: 31^10 values): refuses when a key
/// is already at its limit (a read), runs `f`, and counts only a miss (a write). That is two write
/// transactions fewer per purchase than [`guarded_all`], which a till using a voucher on every
/// sale pays for in throughput; the price is that a burst of concurrent guesses passes the read
/// together, which against 8·10^14 codes per programme buys a guesser nothing.
pub async fn guarded_sparse<T>(
    db: &Db,
    attempt: &Attempt,
    codes: &[&str],
    f: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let check = SparseCheck::new(attempt);
    db.read(move |c| check.refuse_at_limit(c)).await?;
    count_if_guess(db, attempt, codes, f.await).await
}

/// The read half of [`guarded_sparse`], for a use case that runs it in its own transaction (a
/// purchase: after its idempotent replay, so that a till's retry is answered, never refused).
#[derive(Debug, Clone)]
pub struct SparseCheck {
    keys: Vec<(String, i64)>,
    window: chrono::NaiveDateTime,
    retry_after: i64,
}

impl SparseCheck {
    pub fn new(attempt: &Attempt) -> Self {
        let (window, retry_after) = repo::rate_limits::current_window(attempt.limits.window_seconds);
        SparseCheck { keys: attempt.keys(), window, retry_after }
    }

    /// 429 when a key is at its limit.
    pub fn refuse_at_limit(&self, conn: &mut crate::db::DbConn) -> AppResult<()> {
        if repo::rate_limits::at_limit(conn, &self.keys, self.window)? {
            return Err(AppError::TooManyRequests { retry_after_seconds: self.retry_after });
        }
        Ok(())
    }
}

/// The write half of [`guarded_sparse`]: when `result` is a miss, counts its codes as guesses.
pub async fn count_if_guess<T>(db: &Db, attempt: &Attempt, codes: &[&str], result: AppResult<T>) -> AppResult<T> {
    if is_guess(&result) {
        let (window, _) = repo::rate_limits::current_window(attempt.limits.window_seconds);
        let keys = attempt.keys();
        let guesses: Vec<String> = codes.iter().map(|c| guess_hash(c)).collect();
        let counted = db
            .write(move |c| {
                for guess in &guesses {
                    repo::rate_limits::hit_all_distinct(c, &keys, window, Some(guess))?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = counted {
            tracing::warn!(error = %e, "could not count a code attempt");
        }
    }
    result
}

/// [`guarded`] for every code of one request: an unknown promo code or voucher is a guess.
pub async fn guarded_all<T>(
    db: &Db,
    attempt: &Attempt,
    codes: &[&str],
    f: impl Future<Output = AppResult<T>>,
) -> AppResult<T> {
    let pass = attempt.begin_all(db, codes).await?;
    let result = f.await;
    pass.settle(db, is_guess(&result)).await;
    result
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub code: PromoCode,
    #[serde(default)]
    pub card: Option<CardRef>,
    #[serde(default)]
    pub amount_cents: Option<Cents>,
}

#[derive(Debug, Serialize)]
pub struct Checked {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Refusal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    /// With `amount_cents`: what the code takes off and the extra points it gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount_cents: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bonus_points: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_purchase_cents: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct CampaignRef {
    pub id: String,
    pub name: String,
}

/// The dry run: says whether the code applies and what it would give, writes nothing (but an
/// unknown code counts against the guessing limits).
pub async fn validate(db: &Db, actor: &Actor, attempt: &Attempt, input: Check) -> AppResult<Checked> {
    let pass = attempt.begin(db, &input.code).await?;
    let program_id = actor.program_id.clone();
    let checked = db
        .read(move |c| {
            let program = repo::programs::find(c, &program_id)?;
            let card = match &input.card {
                Some(r) => Some(card_repo::find_by_ref(c, &program_id, r)?.ok_or_else(super::cards::card_not_found)?),
                None => None,
            };
            let amount = input.amount_cents.map(Cents::get);
            Ok(match promos::evaluate(c, &program, &input.code, card.as_ref(), amount, chrono::Utc::now())? {
                Ok(offer) => Checked {
                    valid: true,
                    reason: None,
                    effect: Some(offer.effect),
                    campaign: Some(CampaignRef { id: offer.campaign.id.clone(), name: offer.campaign.name.clone() }),
                    discount_cents: amount.map(|_| offer.discount_cents),
                    bonus_points: amount.map(|_| offer.bonus_points),
                    min_purchase_cents: Some(offer.campaign.min_purchase_cents),
                },
                Err(reason) => Checked {
                    valid: false,
                    reason: Some(reason),
                    campaign: None,
                    effect: None,
                    discount_cents: None,
                    bonus_points: None,
                    min_purchase_cents: None,
                },
            })
        })
        .await;
    let guessed = checked.as_ref().is_ok_and(|c| c.reason == Some(Refusal::Invalid));
    pass.settle(db, guessed).await;
    checked
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    pub code: PromoCode,
    pub card: CardRef,
    #[serde(default)]
    pub amount_cents: Option<Cents>,
}

#[derive(Debug, Serialize)]
pub struct Redeemed {
    pub redemption_id: String,
    pub campaign: CampaignRef,
    pub effect: Effect,
    pub discount_cents: i64,
    pub bonus_points: i64,
    pub balance: i64,
}

/// Redeems a code outside a purchase (a bonus at the counter, a discount the till applies).
pub async fn redeem(db: &Db, actor: &Actor, attempt: &Attempt, idem: Idempotent, input: Redeem) -> AppResult<Stored> {
    let actor = actor.clone();
    let db2 = db.clone();
    let code = input.code.clone();
    guarded(db, attempt, &code, async move {
        db2.write(move |conn| {
            idempotency::once(conn, &actor.program_id, &idem, StatusCode::CREATED, |conn| {
                let program = repo::programs::find(conn, &actor.program_id)?;
                let card =
                    card_repo::find_by_ref(conn, &program.id, &input.card)?.ok_or_else(super::cards::card_not_found)?;
                if card.status != CardStatus::Active {
                    return Err(card_blocked(&card));
                }
                let amount = input.amount_cents.map(Cents::get);
                let mut offer = promos::evaluate(conn, &program, &input.code, Some(&card), amount, chrono::Utc::now())?
                    .map_err(Refusal::error)?;
                // Outside a purchase only a fixed bonus gives points: a multiplier has nothing to multiply.
                if !matches!(offer.effect, Effect::BonusPoints(_)) {
                    offer.bonus_points = 0;
                }
                let redemption = promos::redeem(conn, &offer, &card, None)?.map_err(Refusal::error)?;
                let mut balance = card.balance;
                if offer.bonus_points > 0 {
                    let posting = Posting {
                        program_id: &program.id,
                        card_id: &card.id,
                        delta: offer.bonus_points,
                        kind: EntryKind::Promo,
                        purchase_id: None,
                        staff_id: Some(&actor.staff_id),
                        reason: Some(&offer.campaign.name),
                        earned_at: None,
                    };
                    let (after, _) = post(conn, &posting, Guard { only_active: true, no_overdraft: false })?
                        .ok_or_else(|| card_blocked(&card))?;
                    balance = after.balance;
                }
                Ok(Redeemed {
                    redemption_id: redemption.id,
                    campaign: CampaignRef { id: offer.campaign.id.clone(), name: offer.campaign.name.clone() },
                    effect: offer.effect,
                    discount_cents: offer.discount_cents,
                    bonus_points: offer.bonus_points,
                    balance,
                })
            })
        })
        .await
    })
    .await
}
