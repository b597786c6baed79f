//! Console sign-in: a staff e-mail and password open a server session (a random cookie; the
//! database keeps its SHA-256) for owners and managers. A session speaks for its user only while
//! they are enabled, keep a console role, and hold the token version it was opened at, so
//! disabling a user, changing their password or "sign out everywhere" ends it on every node.

use super::Actor;
use super::customer_auth::hash;
use crate::db::repo::staff::Session;
use crate::db::{Db, repo};
use crate::domain::card::random_token;
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};

pub const SESSION_HOURS: i64 = 12;

pub enum SignedIn {
    /// The console's: the cookie's value.
    Console { cookie: String },
    /// A cashier has the till, not the console.
    Cashier,
}

pub async fn sign_in(db: &Db, email: &str, password: String, client: Option<&str>) -> AppResult<SignedIn> {
    let staff = super::auth::check_credentials(db, email, password, client).await?;
    open(db, staff).await
}

/// Opens a console session for `staff` (signed in, or just through their invitation).
pub async fn open(db: &Db, staff: crate::db::repo::staff::StaffUser) -> AppResult<SignedIn> {
    if staff.role == Role::Cashier.as_str() {
        return Ok(SignedIn::Cashier);
    }
    let cookie = random_token(43);
    let now = repo::now();
    let session = Session {
        token_hash: hash(&cookie),
        program_id: staff.program_id,
        staff_id: staff.id,
        token_version: staff.token_version,
        created_at: now,
        expires_at: now + chrono::Duration::hours(SESSION_HOURS),
    };
    db.write(move |c| Ok(repo::staff::insert_session(c, &session)?)).await?;
    Ok(SignedIn::Console { cookie })
}

fn signed_out() -> AppError {
    AppError::unauthorized("login_required", "sign in to the console")
}

/// The console user of a session cookie.
pub async fn actor(db: &Db, cookie: Option<String>) -> AppResult<Actor> {
    let cookie = cookie.ok_or_else(signed_out)?;
    db.read(move |c| {
        let session = repo::staff::find_session(c, &hash(&cookie), repo::now())?.ok_or_else(signed_out)?;
        let staff = repo::staff::find(c, &session.program_id, &session.staff_id)?.ok_or_else(signed_out)?;
        let role = Role::parse(&staff.role).map_err(|_| signed_out())?;
        if staff.disabled_at.is_some() || staff.token_version != session.token_version || role < Role::Manager {
            return Err(signed_out());
        }
        Ok(Actor { staff_id: staff.id, program_id: staff.program_id, role, location_id: staff.location_id })
    })
    .await
}

pub async fn sign_out(db: &Db, cookie: String) -> AppResult<()> {
    db.write(move |c| Ok(repo::staff::delete_session(c, &hash(&cookie)).map(drop)?)).await
}

/// Ends every session and token of the user, on every device.
pub async fn sign_out_everywhere(db: &Db, actor: &Actor) -> AppResult<()> {
    let actor = actor.clone();
    db.write(move |c| {
        repo::staff::sign_out_everywhere(c, &actor.staff_id)?;
        let what = super::audit::What::new("staff.sign_out_everywhere", "staff", &actor.staff_id);
        super::audit::record(c, &actor, what, &serde_json::json!({}), &serde_json::json!({"sessions": "ended"}))
    })
    .await
}
