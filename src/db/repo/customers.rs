use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{customer_consents, customers};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = customers, treat_none_as_default_value = false)]
pub struct Customer {
    pub id: String,
    pub program_id: String,
    pub email: String,
    pub first_name: String,
    pub phone: Option<String>,
    pub locale: String,
    pub created_at: NaiveDateTime,
    /// Salted hashes of the fraud signals (canonical e-mail, phone digits, device id).
    pub email_key: Option<String>,
    pub phone_key: Option<String>,
    pub device_key: Option<String>,
    /// Set once the customer's personal data was erased at their request.
    pub erased_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = customer_consents)]
pub struct NewConsent<'a> {
    pub program_id: &'a str,
    pub customer_id: &'a str,
    pub purpose: &'a str,
    pub granted: bool,
    pub channel: &'a str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customer_consents)]
pub struct Consent {
    pub purpose: String,
    pub granted: bool,
    pub channel: String,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, customer: &Customer) -> QueryResult<()> {
    diesel::insert_into(customers::table).values(customer).execute(conn).map(drop)
}

pub fn find(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Customer> {
    customers::table
        .filter(customers::program_id.eq(program_id))
        .filter(customers::id.eq(id))
        .select(Customer::as_select())
        .first(conn)
}

pub fn find_opt(conn: &mut DbConn, program_id: &str, id: &str) -> QueryResult<Option<Customer>> {
    find(conn, program_id, id).optional()
}

pub fn find_by_email(conn: &mut DbConn, program_id: &str, email: &str) -> QueryResult<Option<Customer>> {
    customers::table
        .filter(customers::program_id.eq(program_id))
        .filter(customers::email.eq(email))
        .select(Customer::as_select())
        .first(conn)
        .optional()
}

pub fn exists_email(conn: &mut DbConn, program_id: &str, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        customers::table.filter(customers::program_id.eq(program_id)).filter(customers::email.eq(email)),
    ))
    .get_result(conn)
}

/// Another customer of the program with the same canonical e-mail (plus-alias, Gmail dots).
pub fn other_with_email_key(conn: &mut DbConn, program_id: &str, key: &str, except: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        customers::table
            .filter(customers::program_id.eq(program_id))
            .filter(customers::email_key.eq(key))
            .filter(customers::id.ne(except)),
    ))
    .get_result(conn)
}

pub fn insert_consent(conn: &mut DbConn, consent: &NewConsent<'_>) -> QueryResult<()> {
    diesel::insert_into(customer_consents::table).values(consent).execute(conn).map(drop)
}

/// The newest consent row per purpose.
pub fn current_consents(conn: &mut DbConn, program_id: &str, customer_id: &str) -> QueryResult<Vec<Consent>> {
    let rows: Vec<Consent> = customer_consents::table
        .filter(customer_consents::program_id.eq(program_id))
        .filter(customer_consents::customer_id.eq(customer_id))
        .order(customer_consents::id.desc())
        .select(Consent::as_select())
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows.into_iter().filter(|c| seen.insert(c.purpose.clone())).collect())
}

/// Every consent decision of the customer, oldest first (the consent log, for their data export).
pub fn consent_history(conn: &mut DbConn, program_id: &str, customer_id: &str) -> QueryResult<Vec<Consent>> {
    customer_consents::table
        .filter(customer_consents::program_id.eq(program_id))
        .filter(customer_consents::customer_id.eq(customer_id))
        .order(customer_consents::id)
        .select(Consent::as_select())
        .load(conn)
}

/// Erasure: the personal fields go; the row stays, so the ledger and purchases keep their owner.
/// The e-mail becomes a placeholder that stays unique and can never receive mail.
pub fn erase(conn: &mut DbConn, program_id: &str, id: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(customers::table.filter(customers::program_id.eq(program_id)).filter(customers::id.eq(id)))
        .set((
            customers::email.eq(format!("erased-{id}@erased.invalid")),
            customers::first_name.eq(""),
            customers::phone.eq(None::<String>),
            customers::email_key.eq(None::<String>),
            customers::phone_key.eq(None::<String>),
            customers::device_key.eq(None::<String>),
            customers::erased_at.eq(Some(now)),
        ))
        .execute(conn)
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);
diesel::define_sql_function!(fn replace(x: diesel::sql_types::Text, from: diesel::sql_types::Text, to: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// What the members list is filtered by.
#[derive(Debug, Default)]
pub struct Search {
    /// Part of the e-mail or first name (any case), of the phone or card number (digits).
    pub text: Option<String>,
    /// Cards in this tier; `entry`: it is the entry tier, which cards without a row are in.
    pub tier: Option<(String, bool)>,
    pub status: Option<crate::domain::status::CardStatus>,
    /// Erased customers are left out unless asked for (they have nothing to find them by).
    pub erased: bool,
}

/// `%text%` for LIKE, with its own wildcards escaped.
fn contains(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// Customers and their card, newest first, before the customer `before` (ids are time-ordered).
pub fn search(
    conn: &mut DbConn,
    program_id: &str,
    search: &Search,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<(Customer, super::cards::Card)>> {
    use crate::db::schema::{card_tiers, cards};
    let mut query = customers::table
        .inner_join(cards::table)
        .filter(customers::program_id.eq(program_id))
        .filter(cards::program_id.eq(program_id))
        .into_boxed();
    if !search.erased {
        query = query.filter(customers::erased_at.is_null());
    }
    if let Some(text) = search.text.as_deref() {
        let lowered = contains(&text.to_lowercase());
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let mut matches: Box<dyn BoxableExpression<_, _, SqlType = diesel::sql_types::Bool>> = Box::new(
            lower(customers::email)
                .like(lowered.clone())
                .escape('\\')
                .or(lower(customers::first_name).like(lowered).escape('\\')),
        );
        if digits.len() >= 3 && digits.len() * 2 >= text.trim().len() {
            let phone = replace(replace(replace(customers::phone.assume_not_null(), " ", ""), ".", ""), "-", "");
            matches = Box::new(
                matches.or(cards::number.like(contains(&digits))).or(phone.like(contains(&digits)).assume_not_null()),
            );
        }
        query = query.filter(matches);
    }
    if let Some(status) = search.status {
        query = query.filter(cards::status.eq(status));
    }
    if let Some((key, entry)) = &search.tier {
        query = if *entry {
            let elsewhere = card_tiers::table.filter(card_tiers::tier_key.ne(key.clone())).select(card_tiers::card_id);
            query.filter(diesel::dsl::not(cards::id.eq_any(elsewhere)))
        } else {
            let there = card_tiers::table.filter(card_tiers::tier_key.eq(key.clone())).select(card_tiers::card_id);
            query.filter(cards::id.eq_any(there))
        };
    }
    if let Some(before) = before {
        query = query.filter(customers::id.lt(before.to_owned()));
    }
    query
        .order(customers::id.desc())
        .limit(limit)
        .select((Customer::as_select(), super::cards::Card::as_select()))
        .load(conn)
}

/// The fields staff may correct (`PUT /customers/{id}`), with the fraud keys that follow them.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = customers, treat_none_as_null = true)]
pub struct Profile {
    pub email: String,
    pub first_name: String,
    pub phone: Option<String>,
    pub locale: String,
    pub email_key: Option<String>,
    pub phone_key: Option<String>,
}

pub fn update_profile(conn: &mut DbConn, program_id: &str, id: &str, profile: &Profile) -> QueryResult<usize> {
    diesel::update(customers::table.filter(customers::program_id.eq(program_id)).filter(customers::id.eq(id)))
        .set(profile)
        .execute(conn)
}
