//! Creating programs (the tenants), their shops and staff; and the demo program of a first run.

use crate::db::repo::programs::{Location, Program};
use crate::db::repo::staff::StaffUser;
use crate::db::{DbConn, repo};
use crate::domain::card::random_token;
use crate::domain::email::Email;
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};

pub struct NewProgram {
    pub slug: String,
    pub name: String,
    pub currency: String,
    pub locale: String,
    pub time_zone: String,
    pub earn_points: i64,
    pub earn_per_cents: i64,
    pub earn_min_cents: i64,
    pub location_name: String,
    /// (e-mail, role, password)
    pub staff: Vec<(String, Role, String)>,
}

impl NewProgram {
    /// The usual shop: French, in euros, in Paris, a point per euro from the first cent.
    pub fn paris_shop(slug: &str, name: &str, location_name: &str, staff: Vec<(String, Role, String)>) -> NewProgram {
        NewProgram {
            slug: slug.to_owned(),
            name: name.to_owned(),
            currency: "EUR".into(),
            locale: "fr".into(),
            time_zone: "Europe/Paris".into(),
            earn_points: 1,
            earn_per_cents: 100,
            earn_min_cents: 0,
            location_name: location_name.to_owned(),
            staff,
        }
    }

    /// Checks what an operator typed before anything is written.
    #[allow(clippy::too_many_arguments)]
    pub fn checked(
        slug: String,
        name: String,
        currency: String,
        locale: String,
        time_zone: String,
        (earn_points, earn_per_cents, earn_min_cents): (i64, i64, i64),
        location_name: String,
        staff: Vec<(String, Role, String)>,
    ) -> AppResult<NewProgram> {
        let slug_ok = (2..=40).contains(&slug.len())
            && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !slug.starts_with('-');
        if !slug_ok {
            return Err(AppError::invalid_field("slug", "2 to 40 lower-case letters, digits or dashes"));
        }
        let name = crate::domain::text::PersonName::parse(name).map_err(|e| AppError::invalid_field("name", e))?;
        let currency =
            crate::domain::money::Currency::parse(currency).map_err(|e| AppError::invalid_field("currency", e))?;
        if !matches!(locale.as_str(), "en" | "fr") {
            return Err(AppError::invalid_field("locale", "en or fr"));
        }
        if !(0..=1000).contains(&earn_points) || !(1..=1_000_000).contains(&earn_per_cents) || earn_min_cents < 0 {
            return Err(AppError::invalid_field("earn_points", "0..=1000 points per 1..=1000000 cents, minimum >= 0"));
        }
        Ok(NewProgram {
            slug,
            name: name.into_inner(),
            currency: currency.as_str().to_owned(),
            locale,
            time_zone,
            earn_points,
            earn_per_cents,
            earn_min_cents,
            location_name,
            staff,
        })
    }
}

pub struct Created {
    pub program: Program,
    pub location: Location,
}

/// Creates a program with one shop and its staff. Runs inside the caller's write transaction.
pub fn create(conn: &mut DbConn, new: NewProgram) -> AppResult<Created> {
    let now = repo::now();
    let program = Program {
        id: repo::new_id(),
        slug: new.slug,
        name: new.name,
        currency: new.currency,
        locale: new.locale,
        time_zone: new.time_zone,
        earn_points: new.earn_points,
        earn_per_cents: new.earn_per_cents,
        earn_min_cents: new.earn_min_cents,
        created_at: now,
        pass_design: None,
        earn_rounding: crate::domain::earning::Rounding::Down.as_str().to_owned(),
        contact_text: None,
        contact_text_fr: None,
        terms_text: None,
        terms_text_fr: None,
        public_enrolment: true,
        point_value_cents: None,
    };
    repo::programs::insert(conn, &program)
        .map_err(|e| map_unique(e, AppError::conflict("program_exists", "a program with this slug exists")))?;
    let location = Location {
        id: repo::new_id(),
        program_id: program.id.clone(),
        name: new.location_name,
        created_at: now,
        address: None,
        archived_at: None,
    };
    repo::programs::insert_location(conn, &location)?;
    for (email, role, password) in new.staff {
        insert_staff(conn, &program.id, &email, role, &password, Some(&location.id))?;
    }
    Ok(Created { program, location })
}

/// Adds a staff member to the program with this slug; cashiers are attached to its first shop.
pub fn add_staff(conn: &mut DbConn, slug: &str, email: &str, role: Role, password: &str) -> AppResult<()> {
    let program = repo::programs::find_by_slug(conn, slug)?
        .ok_or_else(|| AppError::not_found("program_not_found", format!("no program with slug {slug}")))?;
    let location = repo::programs::first_location(conn, &program.id)?;
    insert_staff(conn, &program.id, email, role, password, location.as_ref().map(|l| l.id.as_str()))
}

fn insert_staff(
    conn: &mut DbConn,
    program_id: &str,
    email: &str,
    role: Role,
    password: &str,
    location_id: Option<&str>,
) -> AppResult<()> {
    let email = Email::parse(email.to_owned()).map_err(|e| AppError::invalid_field("email", e))?;
    let staff = StaffUser {
        id: repo::new_id(),
        program_id: program_id.to_owned(),
        email: email.as_str().to_owned(),
        password_hash: super::auth::hash_password(password)?,
        role: role.as_str().to_owned(),
        location_id: if role == Role::Cashier { location_id.map(str::to_owned) } else { None },
        created_at: repo::now(),
        token_version: 0,
        disabled_at: None,
    };
    repo::staff::insert(conn, &staff)
        .map_err(|e| map_unique(e, AppError::conflict("staff_exists", "a staff user with this e-mail exists")))
}

pub struct DemoLogin {
    pub emails: Vec<String>,
    pub password: String,
}

/// Creates the demo program when the database has none; returns the logins to print once.
pub fn ensure_demo(conn: &mut DbConn, password: Option<&str>) -> AppResult<Option<DemoLogin>> {
    if repo::programs::count(conn)? > 0 {
        return Ok(None);
    }
    let password = password.filter(|p| !p.is_empty()).map_or_else(|| random_token(16), str::to_owned);
    let staff = vec![
        ("owner@demo.test".to_owned(), Role::Owner, password.clone()),
        ("cashier@demo.test".to_owned(), Role::Cashier, password.clone()),
    ];
    let emails = staff.iter().map(|(e, _, _)| e.clone()).collect();
    let created = create(conn, NewProgram::paris_shop("demo", "Demo Café", "Demo Café – Centre", staff))?;
    // Referral on: 100 points each once the referee's first purchase reaches 10.00 EUR.
    let referral = super::referrals::SettingsInput {
        enabled: true,
        min_purchase_cents: 1000,
        window_days: 30,
        referrer_points: 100,
        referee_points: 100,
        max_per_month: Some(10),
        max_total: None,
        clawback: true,
    };
    repo::referrals::save_settings(conn, &referral.into_settings(&created.program.id)?)?;
    // A catalogue to claim from; threshold conversion stays off (no conversion settings), so
    // points wait for the customer's choice rather than turning into vouchers by themselves.
    for reward in [
        serde_json::json!({"name": "A free coffee", "name_fr": "Un café offert", "cost_points": 80,
                           "voucher": {"item": "a coffee"}, "validity_days": 30}),
        serde_json::json!({"name": "5 € off", "name_fr": "5 € de remise", "cost_points": 400,
                           "voucher": {"amount_off_cents": 500}, "validity_days": 60}),
    ] {
        let input = serde_json::from_value(reward)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("the demo catalogue does not parse: {e}")))?;
        super::rewards::catalogue::create_in(conn, &created.program.id, input, repo::now())?;
    }
    // Two simple tiers, so that the pages show one: Regular, and Gold from 100 € in 12 months.
    super::tiers::rules::builtin(
        conn,
        &created.program.id,
        serde_json::json!([
            {"key": "regular", "name": "Regular", "name_fr": "Habitué"},
            {"key": "gold", "name": "Gold", "name_fr": "Or", "earn_multiplier_percent": 150,
             "qualify": {"any_of": [{"metric": "spend_cents", "at_least": 10000}]}}
        ]),
    )?;
    Ok(Some(DemoLogin { emails, password }))
}

pub fn map_unique(err: diesel::result::Error, conflict: AppError) -> AppError {
    match err {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => conflict,
        other => other.into(),
    }
}
