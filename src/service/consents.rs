//! A customer's consent decisions after enrolment: given to staff (the member asked at the
//! till or by mail), or from a link (an e-mail's unsubscribe). Each decision is a new row of the
//! consent log, never an edit; withdrawing profiling deletes the member's RFM score at once.

use diesel::result::OptionalExtension;
use serde::Deserialize;
use serde_json::json;

use super::Actor;
use super::audit::{self, What};
use super::customers::{CHANNEL_STAFF_API, Purpose};
use super::members::{self, MemberDetail};
use crate::db::repo::customers::NewConsent;
use crate::db::{Db, DbConn, repo};
use crate::domain::link_key::LinkKey;
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};

/// The purposes that may change after enrolment (the terms are the programme itself: leaving it
/// is an erasure).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentsInput {
    #[serde(default)]
    pub marketing_email: Option<bool>,
    #[serde(default)]
    pub marketing_sms: Option<bool>,
    #[serde(default)]
    pub profiling: Option<bool>,
}

impl ConsentsInput {
    fn decisions(&self) -> Vec<(Purpose, bool)> {
        [
            (Purpose::MarketingEmail, self.marketing_email),
            (Purpose::MarketingSms, self.marketing_sms),
            (Purpose::Profiling, self.profiling),
        ]
        .into_iter()
        .filter_map(|(purpose, granted)| Some((purpose, granted?)))
        .collect()
    }
}

/// Records the decision when it changes the customer's current one (a repeated decision writes
/// nothing: a retried call or a second click leaves one row); whether it did.
pub fn decide(
    conn: &mut DbConn,
    program_id: &str,
    customer_id: &str,
    card_id: &str,
    (purpose, granted): (Purpose, bool),
    channel: &str,
) -> AppResult<bool> {
    let current = repo::customers::current_consents(conn, program_id, customer_id)?;
    let was = current.iter().find(|c| c.purpose == purpose.as_str()).is_some_and(|c| c.granted);
    let asked = current.iter().any(|c| c.purpose == purpose.as_str());
    if asked && was == granted {
        return Ok(false);
    }
    repo::customers::insert_consent(
        conn,
        &NewConsent { program_id, customer_id, purpose: purpose.as_str(), granted, channel, created_at: repo::now() },
    )?;
    if purpose == Purpose::Profiling && !granted {
        super::insights::rfm::forget(conn, program_id, card_id)?;
    }
    Ok(true)
}

/// `PUT /customers/{id}/consents`: the decisions given, the others kept. Logged in the audit
/// log (the purposes and decisions: they are no personal data beyond the customer's id).
pub async fn change(db: &Db, actor: &Actor, id: String, input: ConsentsInput) -> AppResult<MemberDetail> {
    actor.require(Role::Manager)?;
    let decisions = input.decisions();
    if decisions.is_empty() {
        return Err(AppError::invalid_field(
            "consents",
            "give at least one of marketing_email, marketing_sms, profiling",
        ));
    }
    let actor = actor.clone();
    db.write(move |c| {
        let (customer, card) = members::find(c, &actor.program_id, &id)?;
        if customer.erased_at.is_some() {
            return Err(AppError::unprocessable("customer_erased", "this customer's data was erased"));
        }
        let mut changed = serde_json::Map::new();
        for decision in decisions {
            if decide(c, &actor.program_id, &customer.id, &card.id, decision, CHANNEL_STAFF_API)? {
                changed.insert(decision.0.as_str().to_owned(), json!(decision.1));
            }
        }
        if !changed.is_empty() {
            let what = What::new("customer.consents", "customer", &customer.id);
            audit::record(c, &actor, what, &json!({}), &serde_json::Value::Object(changed))?;
        }
        members::detail(c, &customer, &card)
    })
    .await
}

/// The channel of a decision taken from an e-mail's unsubscribe link.
pub const CHANNEL_UNSUBSCRIBE_LINK: &str = "unsubscribe_link";

/// Whom an unsubscribe link names, for its page.
#[derive(Debug)]
pub struct Unsubscribe {
    pub program_name: String,
    pub locale: String,
    /// Whether this request withdrew the consent (false: it was already withdrawn).
    pub withdrawn: bool,
}

fn link_target(key: &LinkKey, token: &str) -> AppResult<(String, String)> {
    let invalid = || AppError::not_found("unsubscribe_link_invalid", "this unsubscribe link is not valid");
    let signed = key.verify(crate::mail::UNSUBSCRIBE_PURPOSE, token).ok_or_else(invalid)?;
    let (program, customer) = signed.split_once('.').ok_or_else(invalid)?;
    Ok((program.to_owned(), customer.to_owned()))
}

/// The unsubscribe link: `withdraw` false only reads (its page), true withdraws `marketing_email`
/// with channel `unsubscribe_link` (once: a second use finds it withdrawn and writes nothing).
pub async fn unsubscribe(db: &Db, key: &LinkKey, token: &str, withdraw: bool) -> AppResult<Unsubscribe> {
    let (program_id, customer_id) = link_target(key, token)?;
    let gone = || AppError::not_found("unsubscribe_link_invalid", "this unsubscribe link is not valid");
    let work = move |c: &mut DbConn| {
        let program = repo::programs::find(c, &program_id).optional()?.ok_or_else(gone)?;
        let customer = repo::customers::find(c, &program_id, &customer_id).optional()?.ok_or_else(gone)?;
        if customer.erased_at.is_some() {
            return Err(gone());
        }
        let withdrawn = if withdraw {
            let card = repo::cards::find_by_customer(c, &program_id, &customer_id)?;
            decide(c, &program_id, &customer_id, &card.id, (Purpose::MarketingEmail, false), CHANNEL_UNSUBSCRIBE_LINK)?
        } else {
            false
        };
        Ok(Unsubscribe { program_name: program.name, locale: customer.locale, withdrawn })
    };
    if withdraw { db.write(work).await } else { db.read(work).await }
}
