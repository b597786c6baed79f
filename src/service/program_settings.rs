//! `GET`/`PUT /program`: the programme's own settings. A PUT changes the fields it names and
//! keeps the others, so a form that sends them all and a script that sends one both work.
//! Managers edit them, but only owners change the currency or time zone (they decide the
//! programme's accounts and calendar); the currency is fixed once a sale is recorded.

use serde::{Deserialize, Serialize};

use super::Actor;
use super::audit::{self, What};
use crate::db::repo::programs::{Program, Settings};
use crate::db::{Db, repo};
use crate::domain::earning::Rounding;
use crate::domain::money::Currency;
use crate::domain::patch::Patch;
use crate::domain::role::Role;
use crate::domain::text::{Locale, PersonName, ProgramText, TimeZone};
use crate::error::{AppError, AppResult};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    name: Option<PersonName>,
    currency: Option<Currency>,
    locale: Option<Locale>,
    time_zone: Option<TimeZone>,
    earn_points: Option<i64>,
    earn_per_cents: Option<i64>,
    earn_min_cents: Option<i64>,
    earn_rounding: Option<Rounding>,
    #[serde(default)]
    contact_text: Patch<ProgramText>,
    #[serde(default)]
    contact_text_fr: Patch<ProgramText>,
    #[serde(default)]
    terms_text: Patch<ProgramText>,
    #[serde(default)]
    terms_text_fr: Patch<ProgramText>,
    public_enrolment: Option<bool>,
    #[serde(default)]
    point_value_cents: Patch<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProgramSettingsDto {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub currency: String,
    /// Whether the currency may still change (no sale recorded yet).
    pub currency_locked: bool,
    pub locale: String,
    pub time_zone: String,
    pub earn_points: i64,
    pub earn_per_cents: i64,
    pub earn_min_cents: i64,
    pub earn_rounding: Rounding,
    /// The rule applied to 12.50 in the programme's currency, as the console shows it.
    pub earn_example: EarnExample,
    pub contact_text: Option<String>,
    pub contact_text_fr: Option<String>,
    pub terms_text: Option<String>,
    pub terms_text_fr: Option<String>,
    pub public_enrolment: bool,
    /// What one point is worth in cents, for the liability of open points; `null`: taken from
    /// the conversion rule (its voucher value ÷ its block of points), or unknown without one.
    pub point_value_cents: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EarnExample {
    pub amount_cents: i64,
    pub points: i64,
}

impl ProgramSettingsDto {
    fn new(p: &Program, currency_locked: bool) -> Self {
        let amount = crate::domain::money::Cents::parse(1250).expect("1250 is a valid amount");
        ProgramSettingsDto {
            id: p.id.clone(),
            slug: p.slug.clone(),
            name: p.name.clone(),
            currency: p.currency.clone(),
            currency_locked,
            locale: p.locale.clone(),
            time_zone: p.time_zone.clone(),
            earn_points: p.earn_points,
            earn_per_cents: p.earn_per_cents,
            earn_min_cents: p.earn_min_cents,
            earn_rounding: Rounding::from_db(&p.earn_rounding),
            earn_example: EarnExample { amount_cents: amount.get(), points: p.earning_rule().points_for(amount) },
            contact_text: p.contact_text.clone(),
            contact_text_fr: p.contact_text_fr.clone(),
            terms_text: p.terms_text.clone(),
            terms_text_fr: p.terms_text_fr.clone(),
            public_enrolment: p.public_enrolment,
            point_value_cents: p.point_value_cents,
        }
    }
}

pub async fn get(db: &Db, actor: &Actor) -> AppResult<ProgramSettingsDto> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let program = repo::programs::find(c, &program_id)?;
        Ok(ProgramSettingsDto::new(&program, repo::purchases::any(c, &program_id)?))
    })
    .await
}

pub async fn put(db: &Db, actor: &Actor, input: ProgramInput) -> AppResult<ProgramSettingsDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let program = repo::programs::lock(c, &actor.program_id)?;
        let locked = repo::purchases::any(c, &program.id)?;
        let before = program.settings();
        let settings = apply(&actor, before.clone(), input, locked)?;
        repo::programs::update_settings(c, &program.id, &settings)?;
        let after = repo::programs::find(c, &program.id)?;
        let (old, new) = (ProgramSettingsDto::new(&program, locked), ProgramSettingsDto::new(&after, locked));
        audit::record(c, &actor, What::new("program.update", "program", &program.id), &old, &new)?;
        Ok(new)
    })
    .await
}

/// The settings with the input's fields put in, checked.
fn apply(actor: &Actor, mut s: Settings, input: ProgramInput, currency_locked: bool) -> AppResult<Settings> {
    if let Some(currency) = input.currency.filter(|c| c.as_str() != s.currency) {
        owner_only(actor, "currency")?;
        if currency_locked {
            return Err(AppError::conflict(
                "currency_locked",
                "the currency can't change once a purchase is recorded: balances and vouchers are in it",
            ));
        }
        currency.as_str().clone_into(&mut s.currency);
    }
    if let Some(zone) = input.time_zone.filter(|z| z.name() != s.time_zone) {
        owner_only(actor, "time_zone")?;
        zone.name().clone_into(&mut s.time_zone);
    }
    if let Some(name) = input.name {
        s.name = name.into_inner();
    }
    if let Some(locale) = input.locale {
        locale.as_str().clone_into(&mut s.locale);
    }
    if let Some(points) = input.earn_points {
        if !(0..=1000).contains(&points) {
            return Err(AppError::unprocessable_field("invalid_earning_rule", "earn_points", "0 to 1000 points"));
        }
        s.earn_points = points;
    }
    if let Some(per) = input.earn_per_cents {
        if !(1..=1_000_000).contains(&per) {
            return Err(AppError::unprocessable_field(
                "invalid_earning_rule",
                "earn_per_cents",
                "1 to 1000000 cents (points are given per this amount)",
            ));
        }
        s.earn_per_cents = per;
    }
    if let Some(min) = input.earn_min_cents {
        if !(0..=100_000_000).contains(&min) {
            return Err(AppError::unprocessable_field(
                "invalid_earning_rule",
                "earn_min_cents",
                "0 to 100000000 cents",
            ));
        }
        s.earn_min_cents = min;
    }
    if let Some(rounding) = input.earn_rounding {
        rounding.as_str().clone_into(&mut s.earn_rounding);
    }
    input.contact_text.apply(&mut s.contact_text, ProgramText::into_inner);
    input.contact_text_fr.apply(&mut s.contact_text_fr, ProgramText::into_inner);
    input.terms_text.apply(&mut s.terms_text, ProgramText::into_inner);
    input.terms_text_fr.apply(&mut s.terms_text_fr, ProgramText::into_inner);
    if let Some(open) = input.public_enrolment {
        s.public_enrolment = open;
    }
    if let Patch::Set(cents) = input.point_value_cents
        && !(0..=100_000).contains(&cents)
    {
        return Err(AppError::unprocessable_field(
            "invalid_point_value",
            "point_value_cents",
            "0 to 100000 cents per point",
        ));
    }
    input.point_value_cents.apply(&mut s.point_value_cents, |c| c);
    Ok(s)
}

fn owner_only(actor: &Actor, field: &str) -> AppResult<()> {
    if actor.role == Role::Owner { Ok(()) } else { Err(AppError::forbidden(format!("only an owner changes {field}"))) }
}
