//! Customers log in by magic link: an e-mail with a single-use link valid 15 minutes, which opens a
//! session (a random cookie; the database keeps its SHA-256). Asking for a link never says whether
//! the address has a card, and is rate-limited per address and per client.

use sha2::{Digest, Sha256};

use crate::db::repo::customer_auth::{Login, Session};
use crate::db::repo::customers::Customer;
use crate::db::{Db, DbConn, repo};
use crate::domain::card::random_token;
use crate::domain::link_key::LinkKey;
use crate::error::{AppError, AppResult};
use crate::mail::{self, Mail};

/// Purpose string of magic-link signatures (see `LinkKey::sign`).
pub const LOGIN_PURPOSE: &str = "login";
pub const LINK_MINUTES: i64 = 15;
/// Link requests per e-mail address and per client address in one window.
pub const PER_EMAIL: i64 = 5;
pub const PER_CLIENT: i64 = 30;
pub const WINDOW_SECONDS: i64 = 900;

/// The path of a login link (the mail adds the public URL).
pub fn login_path(key: &LinkKey, login_id: &str) -> String {
    format!("/login/{}", key.sign(LOGIN_PURPOSE, login_id))
}

/// Counts one link request against each `(key, limit)` (see [`limits`]); 429 past a limit.
pub async fn rate_limit(db: &Db, keys: Vec<(String, i64)>) -> AppResult<()> {
    super::rate_limit(db, keys, WINDOW_SECONDS).await
}

pub fn limits(program_id: &str, email: &str, client: Option<&str>) -> Vec<(String, i64)> {
    // Hashed: a rate-limit row is no place to keep a customer's address for a day.
    let mut keys = vec![(format!("login:{program_id}:email:{}", hash(email)), PER_EMAIL)];
    if let Some(client) = client {
        keys.push((format!("login:{program_id}:addr:{client}"), PER_CLIENT));
    }
    keys
}

/// Queues a login link for the customer with this e-mail, if there is one; inside the caller's
/// transaction. Unknown addresses do nothing, and the caller answers the same either way.
pub fn send_link_in(conn: &mut DbConn, program_id: &str, email: &str) -> AppResult<()> {
    let Some(customer) = repo::customers::find_by_email(conn, program_id, email)? else {
        return Ok(());
    };
    send_link_to(conn, &customer)
}

pub fn send_link_to(conn: &mut DbConn, customer: &Customer) -> AppResult<()> {
    let now = repo::now();
    let login = Login {
        id: repo::new_id(),
        program_id: customer.program_id.clone(),
        customer_id: customer.id.clone(),
        created_at: now,
        expires_at: now + chrono::Duration::minutes(LINK_MINUTES),
        used_at: None,
    };
    repo::customer_auth::insert_login(conn, &login)?;
    let mail = Mail::MagicLink {
        program_id: customer.program_id.clone(),
        customer_id: customer.id.clone(),
        login_id: login.id,
    };
    Ok(mail::queue(conn, &mail)?)
}

/// What a used link gives: the session cookie's value and where to go.
pub struct LoggedIn {
    pub session_token: String,
    pub card_link_token: String,
    pub max_age_days: i64,
}

pub const SESSION_DAYS: i64 = 30;

fn link_expired() -> AppError {
    AppError::client(
        actix_web::http::StatusCode::GONE,
        "login_link_expired",
        "this login link has expired or was already used",
    )
}

/// Uses a login link: exactly once, within 15 minutes.
pub async fn use_link(db: &Db, key: &LinkKey, token: &str) -> AppResult<LoggedIn> {
    let login_id = key.verify(LOGIN_PURPOSE, token).ok_or_else(link_expired)?.to_owned();
    db.write(move |c| {
        let now = repo::now();
        let (program_id, customer_id) = repo::customer_auth::use_login(c, &login_id, now)?.ok_or_else(link_expired)?;
        let card = repo::cards::find_by_customer(c, &program_id, &customer_id)?;
        let session_token = random_token(43);
        let session = Session {
            token_hash: hash(&session_token),
            program_id,
            customer_id,
            created_at: now,
            expires_at: now + chrono::Duration::days(SESSION_DAYS),
        };
        repo::customer_auth::insert_session(c, &session)?;
        Ok(LoggedIn { session_token, card_link_token: card.link_token, max_age_days: SESSION_DAYS })
    })
    .await
}

/// Whether a login link is still usable (the confirmation page shows the button, or says why not).
pub async fn link_usable(db: &Db, key: &LinkKey, token: &str) -> AppResult<bool> {
    let Some(login_id) = key.verify(LOGIN_PURPOSE, token).map(str::to_owned) else {
        return Ok(false);
    };
    db.read(move |c| {
        let login = repo::customer_auth::find_login(c, &login_id)?;
        Ok(login.is_some_and(|l| l.used_at.is_none() && l.expires_at > repo::now()))
    })
    .await
}

/// The (program, customer) of a live session cookie.
pub fn session_customer(conn: &mut DbConn, cookie: &str) -> AppResult<Option<(String, String)>> {
    let session = repo::customer_auth::find_session(conn, &hash(cookie), repo::now())?;
    Ok(session.map(|s| (s.program_id, s.customer_id)))
}

/// The card link of the session's customer in this program, if the cookie is a live session.
pub fn session_card(conn: &mut DbConn, program_id: &str, cookie: &str) -> AppResult<Option<String>> {
    match session_customer(conn, cookie)? {
        Some((program, customer)) if program == program_id => {
            Ok(Some(repo::cards::find_by_customer(conn, program_id, &customer)?.link_token))
        }
        _ => Ok(None),
    }
}

pub async fn logout(db: &Db, cookie: String) -> AppResult<()> {
    db.write(move |c| Ok(repo::customer_auth::delete_session(c, &hash(&cookie)).map(drop)?)).await
}

/// What the database keeps of a session cookie or other bearer secret: its SHA-256, in hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
