//! From a queued [`Mail`] to a sent message: read the recipient, pick the language, check
//! consent, render the templates, build the MIME message, send.

use anyhow::Context;
use diesel::result::OptionalExtension;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Beneficiary, Mail};
use crate::context::AppContext;
use crate::db::repo;
use crate::domain::link_key::LinkKey;
use crate::render::{Lang, Templates};

/// What the templates say about the recipient, read when the mail is sent.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub email: String,
    pub first_name: String,
    pub lang: Lang,
    pub program_name: String,
    pub currency: String,
    pub card_number: String,
    pub link_token: String,
    pub referral_code: Option<String>,
    pub balance: i64,
}

/// Where links point, and which wallets to offer.
pub struct Links<'a> {
    pub public_url: &'a str,
    pub link_key: &'a LinkKey,
    /// False with the development signing chain: iPhones refuse those passes.
    pub apple_wallet: bool,
    pub google_wallet: bool,
}

#[derive(Debug)]
pub struct Composed {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Marketing mail's one-click unsubscribe link (RFC 8058), for its headers.
    pub unsubscribe: Option<String>,
}

/// What an unsubscribe link signs: the programme and the customer.
pub const UNSUBSCRIBE_PURPOSE: &str = "unsubscribe";

pub fn unsubscribe_url(links: &Links<'_>, program_id: &str, customer_id: &str) -> String {
    let token = links.link_key.sign(UNSUBSCRIBE_PURPOSE, &format!("{program_id}.{customer_id}"));
    format!("{}/unsubscribe/{token}", links.public_url)
}

/// Renders the subject and both bodies of `mail` for `to`.
pub fn compose(templates: &Templates, mail: &Mail, to: &Recipient, links: &Links<'_>) -> anyhow::Result<Composed> {
    let name = mail.template();
    let card_url = format!("{}/c/{}", links.public_url, to.link_token);
    let mut ctx = Map::new();
    ctx.insert("program".into(), json!({"name": to.program_name}));
    ctx.insert("customer".into(), json!({"first_name": to.first_name}));
    ctx.insert("card".into(), json!({"number": to.card_number, "balance": to.balance, "url": card_url}));
    let mut subject_args = vec![("program", to.program_name.clone()), ("first_name", to.first_name.clone())];
    let mut unsubscribe = None;
    let extra = match mail {
        Mail::Welcome { .. } => json!({
            "apple_url": links.apple_wallet.then(|| format!("{card_url}/pass.pkpass")),
            "google_url": links.google_wallet.then(|| format!("{card_url}/google")),
            "referral_url": to.referral_code.as_ref().map(|code| format!("{}/r/{code}", links.public_url)),
        }),
        Mail::MagicLink { login_id, .. } => json!({
            "login_url": format!("{}{}", links.public_url, crate::service::customer_auth::login_path(links.link_key, login_id)),
        }),
        Mail::ReferralRewarded { beneficiary, points, .. } => {
            subject_args.push(("count", points.to_string()));
            json!({"points": points, "referrer": *beneficiary == Beneficiary::Referrer})
        }
        Mail::VoucherIssued { title, description, value_cents, expires_on, .. } => {
            subject_args.push(("title", title.clone()));
            json!({
                "voucher": {
                    "title": title,
                    "description": description,
                    "value": value_cents.map(|c| crate::domain::money::display(c, &to.currency, to.lang)),
                    "expires_on": expires_on.map(|d| date(d, to.lang)),
                }
            })
        }
        Mail::TierChanged { old_tier, new_tier, perks, .. } => {
            subject_args.push(("tier", new_tier.clone()));
            json!({"tier": {"old": old_tier, "new": new_tier, "perks": perks}})
        }
        Mail::PointsExpiring { points, expires_on, .. } => {
            subject_args.push(("count", points.to_string()));
            subject_args.push(("date", date(*expires_on, to.lang)));
            json!({"expiring": {"points": points, "date": date(*expires_on, to.lang)}})
        }
        Mail::Campaign { program_id, customer_id, message, code, .. } => {
            let (title, body) = message.for_lang(to.lang);
            subject_args.push(("title", title.to_owned()));
            let url = unsubscribe_url(links, program_id, customer_id);
            unsubscribe = Some(url.clone());
            json!({
                "campaign": {"title": title, "paragraphs": body.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>(), "code": code},
                "unsubscribe_url": url,
            })
        }
        Mail::StaffInvitation { invitation_id, .. } => json!({
            "invitation_url": format!("{}{}", links.public_url, crate::service::staff::invitation_path(links.link_key, invitation_id)),
            "hours": crate::service::staff::INVITATION_HOURS,
        }),
    };
    if let Value::Object(extra) = extra {
        ctx.extend(extra);
    }
    let args: Vec<(&str, &str)> = subject_args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let subject = templates.text(to.lang, &format!("email.{name}.subject"), &args)?;
    ctx.insert("subject".into(), Value::String(subject.clone()));
    let html = templates.render(&format!("email/{name}.html"), to.lang, &ctx)?;
    let text = templates.render(&format!("email/{name}.txt"), to.lang, &ctx)?;
    Ok(Composed { subject, html, text, unsubscribe })
}

/// The MIME message: text and HTML alternatives, from the configured address under the
/// program's name.
pub fn message(from: &Mailbox, to: &Recipient, composed: Composed) -> anyhow::Result<Message> {
    let from = Mailbox::new(Some(to.program_name.clone()), from.email.clone());
    let address = to.email.parse().context("the customer's e-mail address")?;
    let message_id = format!("<{}@{}>", uuid::Uuid::now_v7().simple(), from.email.domain());
    let mut builder = Message::builder();
    if let Some(url) = &composed.unsubscribe {
        use lettre::message::header::{HeaderName, HeaderValue};
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    builder
        .from(from)
        .to(Mailbox::new(Some(to.first_name.clone()), address))
        .subject(composed.subject)
        .message_id(Some(message_id))
        .multipart(MultiPart::alternative_plain_html(composed.text, composed.html))
        .context("building the message")
}

/// Why a mail was dropped rather than sent (the job is done either way: retrying changes nothing).
#[derive(Debug, PartialEq, Eq)]
enum Skip {
    ProgramGone,
    CustomerGone,
    /// The customer asked for erasure: nothing is sent to them any more.
    CustomerErased,
    /// The invitation was used, replaced or expired before its e-mail went out.
    InvitationSpent,
    StaffGone,
    CardGone,
    AddressInvalid,
    MarketingRefused,
}

/// The outbox handler of [`super::EMAIL`].
pub async fn run_job(deps: AppContext, mail: Mail) -> anyhow::Result<()> {
    send(&deps, &mail).await
}

/// The `email_referral_rewarded` jobs that builds before the e-mail issue queued: no build
/// queues them any more, but those left in an outbox still send.
#[derive(Deserialize, Serialize)]
pub struct LegacyReferral {
    referral_id: String,
    card_id: String,
    beneficiary: Beneficiary,
    points: i64,
}

impl crate::jobs::Job for LegacyReferral {
    const KIND: &'static str = "email_referral_rewarded";

    /// The programme is the outbox row's (the payload never carried it).
    fn program_id(&self) -> Option<&str> {
        None
    }
}

pub async fn run_legacy_referral_job(
    deps: AppContext,
    program_id: Option<String>,
    old: LegacyReferral,
) -> anyhow::Result<()> {
    let program_id = program_id.context("a referral e-mail job without a program")?;
    let mail = Mail::ReferralRewarded {
        program_id,
        referral_id: old.referral_id,
        card_id: old.card_id,
        beneficiary: old.beneficiary,
        points: old.points,
    };
    send(&deps, &mail).await
}

async fn send(deps: &AppContext, mail: &Mail) -> anyhow::Result<()> {
    let template = mail.template();
    let recipient = match recipient(deps, mail.clone()).await? {
        Ok(recipient) => recipient,
        Err(why) => {
            tracing::info!(template, program_id = mail.program_id(), reason = ?why, "e-mail not sent");
            return Ok(());
        }
    };
    let links = Links {
        public_url: &deps.public_url,
        link_key: &deps.link_key,
        apple_wallet: !deps.apple.development,
        google_wallet: deps.google.is_some(),
    };
    let composed = compose(&deps.templates, mail, &recipient, &links)?;
    let message = match message(deps.mailer.from(), &recipient, composed) {
        Ok(message) => message,
        // Building fails alike on every retry: the mail is dropped, loudly, not retried for hours.
        Err(e) => {
            tracing::error!(template, error = format!("{e:#}"), "e-mail dropped: its message cannot be built");
            return Ok(());
        }
    };
    deps.mailer.send(message).await?;
    // The domain only: enough to see which provider bounces, without logging who was mailed.
    let domain = recipient.email.rsplit_once('@').map_or("", |(_, d)| d);
    tracing::info!(template, to_domain = domain, "e-mail sent");
    Ok(())
}

/// Reads program, customer, card and consents in one snapshot.
async fn recipient(deps: &AppContext, mail: Mail) -> anyhow::Result<Result<Recipient, Skip>> {
    let found = deps
        .db
        .read(move |c| {
            let program_id = mail.program_id().to_owned();
            let Some(program) = repo::programs::find(c, &program_id).optional()? else {
                return Ok(Err(Skip::ProgramGone));
            };
            if let Mail::StaffInvitation { invitation_id, .. } = &mail {
                return staff_recipient(c, program, invitation_id);
            }
            let (customer, card) = match &mail {
                Mail::ReferralRewarded { card_id, .. } => {
                    let Some(card) = repo::cards::find(c, &program_id, card_id)? else {
                        return Ok(Err(Skip::CardGone));
                    };
                    let customer = repo::customers::find(c, &program_id, &card.customer_id).optional()?;
                    (customer, Some(card))
                }
                Mail::Welcome { customer_id, .. }
                | Mail::MagicLink { customer_id, .. }
                | Mail::VoucherIssued { customer_id, .. }
                | Mail::TierChanged { customer_id, .. }
                | Mail::PointsExpiring { customer_id, .. }
                | Mail::Campaign { customer_id, .. } => {
                    let customer = repo::customers::find(c, &program_id, customer_id).optional()?;
                    let card = match &customer {
                        Some(_) => repo::cards::find_by_customer(c, &program_id, customer_id).optional()?,
                        None => None,
                    };
                    (customer, card)
                }
                // Answered above.
                Mail::StaffInvitation { .. } => (None, None),
            };
            let Some(customer) = customer else { return Ok(Err(Skip::CustomerGone)) };
            if customer.erased_at.is_some() {
                return Ok(Err(Skip::CustomerErased));
            }
            let Some(card) = card else { return Ok(Err(Skip::CardGone)) };
            // Checked here, not when building the message: a bad address fails every retry alike.
            // The rule enrolment applies, for addresses stored before it did.
            if !crate::domain::email::sendable(&customer.email) {
                return Ok(Err(Skip::AddressInvalid));
            }
            if mail.is_marketing() {
                let consents = repo::customers::current_consents(c, &program_id, &customer.id)?;
                if !marketing_allowed(&consents) {
                    return Ok(Err(Skip::MarketingRefused));
                }
            }
            let lang = Lang::from_tag(&customer.locale).or_else(|| Lang::from_tag(&program.locale)).unwrap_or(Lang::En);
            let referral_code = card.live_referral_code().map(str::to_owned);
            Ok(Ok(Recipient {
                email: customer.email,
                first_name: customer.first_name,
                lang,
                program_name: program.name,
                currency: program.currency,
                card_number: crate::domain::card::CardNumber::from_db(card.number).grouped(),
                link_token: card.link_token,
                referral_code,
                balance: card.balance,
            }))
        })
        .await?;
    Ok(found)
}

/// A member of staff, for the mail of their invitation (no card, no first name).
fn staff_recipient(
    c: &mut crate::db::DbConn,
    program: repo::programs::Program,
    invitation_id: &str,
) -> Result<Result<Recipient, Skip>, crate::error::AppError> {
    let found = repo::staff::find_invitation(c, invitation_id)?;
    let Some(invitation) = found.filter(|i| crate::service::staff::check_invitation(i, repo::now()).is_ok()) else {
        return Ok(Err(Skip::InvitationSpent));
    };
    let Some(staff) = repo::staff::find(c, &program.id, &invitation.staff_id)? else {
        return Ok(Err(Skip::StaffGone));
    };
    if !crate::domain::email::sendable(&staff.email) {
        return Ok(Err(Skip::AddressInvalid));
    }
    Ok(Ok(Recipient {
        email: staff.email,
        first_name: String::new(),
        lang: Lang::from_tag(&program.locale).unwrap_or(Lang::En),
        program_name: program.name,
        currency: program.currency,
        card_number: String::new(),
        link_token: String::new(),
        referral_code: None,
        balance: 0,
    }))
}

/// From the customer's current consents (the newest per purpose): never asked means no.
fn marketing_allowed(current: &[repo::customers::Consent]) -> bool {
    current.iter().any(|c| c.purpose == "marketing_email" && c.granted)
}

/// `31 December 2026` / `31 décembre 2026`.
fn date(day: chrono::NaiveDate, lang: Lang) -> String {
    use chrono::Datelike;
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    match lang {
        Lang::En => day.format("%-d %B %Y").to_string(),
        Lang::Fr => {
            let month = usize::try_from(day.month0()).ok().and_then(|m| FR.get(m)).copied().unwrap_or("");
            format!("{} {month} {}", day.day(), day.year())
        }
    }
}

#[cfg(test)]
#[path = "compose_tests.rs"]
mod tests;
