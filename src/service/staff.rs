//! A programme's staff: invited by e-mail (a single-use link to set a password, valid 72 hours),
//! given a role and a shop, disabled and enabled. Managers manage cashiers; only owners manage
//! managers and owners, and the last enabled owner can be neither disabled nor demoted.
//! Disabling a user bumps their token version: their next request is refused, on every node.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{self, What};
use super::auth::{AuthKeys, LoginResponse};
use super::programs::map_unique;
use super::{Actor, locations};
use crate::db::repo::staff::{Invitation, StaffUser};
use crate::db::{Db, DbConn, repo};
use crate::domain::email::Email;
use crate::domain::link_key::LinkKey;
use crate::domain::role::Role;
use crate::domain::text::NewPassword;
use crate::dto::time;
use crate::error::{AppError, AppResult};
use crate::mail::{self, Mail};

/// How long an invitation link works.
pub const INVITATION_HOURS: i64 = 72;
/// What the link key signs invitation ids for.
pub const INVITATION_PURPOSE: &str = "staff invitation";

/// The console page an invitation link opens.
pub fn invitation_path(key: &LinkKey, invitation_id: &str) -> String {
    format!("/admin/invitation/{}", key.sign(INVITATION_PURPOSE, invitation_id))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    email: Email,
    role: Role,
    #[serde(default)]
    location_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    role: Role,
    #[serde(default)]
    location_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffStatus {
    /// Has not set a password yet.
    Invited,
    Active,
    Disabled,
}

#[derive(Debug, Serialize)]
pub struct StaffDto {
    pub id: String,
    pub email: String,
    pub role: String,
    pub location_id: Option<String>,
    pub status: StaffStatus,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

impl From<&StaffUser> for StaffDto {
    fn from(s: &StaffUser) -> Self {
        StaffDto {
            id: s.id.clone(),
            email: s.email.clone(),
            role: s.role.clone(),
            location_id: s.location_id.clone(),
            status: status(s),
            created_at: time(s.created_at),
            disabled_at: s.disabled_at.map(time),
        }
    }
}

fn status(s: &StaffUser) -> StaffStatus {
    match (s.disabled_at, s.password_hash.is_empty()) {
        (Some(_), _) => StaffStatus::Disabled,
        (None, true) => StaffStatus::Invited,
        (None, false) => StaffStatus::Active,
    }
}

fn audited(s: &StaffUser) -> serde_json::Value {
    json!({"email": s.email, "role": s.role, "location_id": s.location_id, "status": status(s)})
}

fn not_found() -> AppError {
    AppError::not_found("staff_not_found", "no such staff member in this program")
}

fn last_owner() -> AppError {
    AppError::conflict("last_owner", "the programme needs an enabled owner: make someone else owner first")
}

/// Managers manage cashiers; owners manage everyone.
fn may_manage(actor: &Actor, role: Role) -> AppResult<()> {
    actor.require(Role::Manager)?;
    if role > Role::Cashier && actor.role < Role::Owner {
        return Err(AppError::forbidden("only an owner manages managers and owners"));
    }
    Ok(())
}

/// The shop a user of `role` works at: the one named (live), or for a cashier, the first shop.
fn location_for(c: &mut DbConn, program_id: &str, role: Role, location_id: Option<&str>) -> AppResult<Option<String>> {
    match location_id {
        Some(id) => Ok(Some(locations::live(c, program_id, id)?.id)),
        None if role == Role::Cashier => Ok(repo::programs::first_location(c, program_id)?.map(|l| l.id)),
        None => Ok(None),
    }
}

pub async fn invite(db: &Db, actor: &Actor, input: Invite) -> AppResult<StaffDto> {
    may_manage(actor, input.role)?;
    let actor = actor.clone();
    db.write(move |c| {
        let location_id = location_for(c, &actor.program_id, input.role, input.location_id.as_deref())?;
        let staff = StaffUser {
            id: repo::new_id(),
            program_id: actor.program_id.clone(),
            email: input.email.as_str().to_owned(),
            password_hash: String::new(),
            role: input.role.as_str().to_owned(),
            location_id,
            created_at: repo::now(),
            token_version: 0,
            disabled_at: None,
        };
        repo::staff::insert(c, &staff)
            .map_err(|e| map_unique(e, AppError::conflict("staff_exists", "a staff user with this e-mail exists")))?;
        send_invitation(c, &staff)?;
        audit::record(c, &actor, What::new("staff.invite", "staff", &staff.id), &json!({}), &audited(&staff))?;
        Ok(StaffDto::from(&staff))
    })
    .await
}

/// Sends a new invitation link (the earlier ones stop working): for a user who lost theirs, or
/// who forgot their password.
pub async fn reinvite(db: &Db, actor: &Actor, id: String) -> AppResult<StaffDto> {
    let actor = actor.clone();
    db.write(move |c| {
        let staff = repo::staff::find(c, &actor.program_id, &id)?.ok_or_else(not_found)?;
        may_manage(&actor, role_of(&staff)?)?;
        if staff.disabled_at.is_some() {
            return Err(AppError::unprocessable("staff_disabled", "enable this user before inviting them again"));
        }
        send_invitation(c, &staff)?;
        audit::record(
            c,
            &actor,
            What::new("staff.reinvite", "staff", &staff.id),
            &json!({}),
            &json!({"invitation": "sent"}),
        )?;
        Ok(StaffDto::from(&staff))
    })
    .await
}

fn send_invitation(c: &mut DbConn, staff: &StaffUser) -> AppResult<()> {
    let now = repo::now();
    repo::staff::retire_invitations(c, &staff.id, now)?;
    let invitation = Invitation {
        id: repo::new_id(),
        program_id: staff.program_id.clone(),
        staff_id: staff.id.clone(),
        expires_at: now + chrono::Duration::hours(INVITATION_HOURS),
        used_at: None,
        created_at: now,
    };
    repo::staff::insert_invitation(c, &invitation)?;
    mail::queue(c, &Mail::StaffInvitation { program_id: staff.program_id.clone(), invitation_id: invitation.id })?;
    Ok(())
}

pub async fn list(db: &Db, actor: &Actor) -> AppResult<Vec<StaffDto>> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| Ok(repo::staff::list(c, &program_id)?.iter().map(StaffDto::from).collect())).await
}

pub async fn get(db: &Db, actor: &Actor, id: String) -> AppResult<StaffDto> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| Ok(StaffDto::from(&repo::staff::find(c, &program_id, &id)?.ok_or_else(not_found)?))).await
}

/// Changes the role and shop. Their tokens stop working (they carry the old role): the user
/// signs in again.
pub async fn change(db: &Db, actor: &Actor, id: String, input: Change) -> AppResult<StaffDto> {
    may_manage(actor, input.role)?;
    let actor = actor.clone();
    db.write(move |c| {
        let owners = repo::staff::lock_owners(c, &actor.program_id)?;
        let before = repo::staff::find(c, &actor.program_id, &id)?.ok_or_else(not_found)?;
        may_manage(&actor, role_of(&before)?)?;
        if input.role != Role::Owner && owners == [before.id.clone()] {
            return Err(last_owner());
        }
        let location_id = location_for(c, &actor.program_id, input.role, input.location_id.as_deref())?;
        repo::staff::set_role(c, &actor.program_id, &id, input.role.as_str(), location_id.as_deref())?;
        let after = repo::staff::find(c, &actor.program_id, &id)?.ok_or_else(not_found)?;
        audit::record(c, &actor, What::new("staff.update", "staff", &id), &audited(&before), &audited(&after))?;
        Ok(StaffDto::from(&after))
    })
    .await
}

/// Disables (`true`) or enables the user; doing it twice changes nothing the second time.
pub async fn set_disabled(db: &Db, actor: &Actor, id: String, disabled: bool) -> AppResult<StaffDto> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let owners = repo::staff::lock_owners(c, &actor.program_id)?;
        let before = repo::staff::find(c, &actor.program_id, &id)?.ok_or_else(not_found)?;
        may_manage(&actor, role_of(&before)?)?;
        if before.disabled_at.is_some() == disabled {
            return Ok(StaffDto::from(&before));
        }
        if disabled && owners == [before.id.clone()] {
            return Err(last_owner());
        }
        repo::staff::set_disabled(c, &actor.program_id, &id, disabled.then(repo::now))?;
        if disabled {
            repo::staff::retire_invitations(c, &id, repo::now())?;
        }
        let after = repo::staff::find(c, &actor.program_id, &id)?.ok_or_else(not_found)?;
        let action = if disabled { "staff.disable" } else { "staff.enable" };
        audit::record(c, &actor, What::new(action, "staff", &id), &audited(&before), &audited(&after))?;
        Ok(StaffDto::from(&after))
    })
    .await
}

fn role_of(s: &StaffUser) -> AppResult<Role> {
    Role::parse(&s.role).map_err(|e| AppError::Internal(anyhow::anyhow!("staff role: {e}")))
}

/// Sets the password of the invitation's user and gives them a token.
pub async fn accept_invitation(
    db: &Db,
    keys: &AuthKeys,
    link_key: &LinkKey,
    token: &str,
    password: NewPassword,
) -> AppResult<LoginResponse> {
    let staff = accept(db, link_key, token, password).await?;
    super::auth::signed_in(db, keys, staff).await
}

/// Whether the invitation link is one we signed and may still be used (its page shows the form,
/// or says why not); the name of the programme it is to.
pub async fn invitation_usable(db: &Db, link_key: &LinkKey, token: &str) -> AppResult<String> {
    let unknown = || AppError::not_found("invitation_not_found", "this invitation link is not valid");
    let id = link_key.verify(INVITATION_PURPOSE, token).ok_or_else(unknown)?.to_owned();
    db.read(move |c| {
        let invitation = repo::staff::find_invitation(c, &id)?.ok_or_else(unknown)?;
        check_invitation(&invitation, repo::now())?;
        Ok(repo::programs::find(c, &invitation.program_id)?.name)
    })
    .await
}

/// Sets the password of the invitation's user: the user as they now are. The link works once,
/// for 72 hours, and only while the user is enabled.
pub async fn accept(db: &Db, link_key: &LinkKey, token: &str, password: NewPassword) -> AppResult<StaffUser> {
    let unknown = || AppError::not_found("invitation_not_found", "this invitation link is not valid");
    let id = link_key.verify(INVITATION_PURPOSE, token).ok_or_else(unknown)?.to_owned();
    let hash = crate::db::blocking(move || super::auth::hash_password(password.as_str())).await?;
    db.write(move |c| {
        let invitation = repo::staff::find_invitation(c, &id)?.ok_or_else(unknown)?;
        check_invitation(&invitation, repo::now())?;
        let staff = repo::staff::find(c, &invitation.program_id, &invitation.staff_id)?.ok_or_else(unknown)?;
        if staff.disabled_at.is_some() {
            return Err(AppError::forbidden("this account is disabled: ask the programme's owner"));
        }
        if repo::staff::use_invitation(c, &id, repo::now())? == 0 {
            return Err(used());
        }
        repo::staff::set_password(c, &staff.id, &hash)?;
        let actor = Actor {
            staff_id: staff.id.clone(),
            program_id: staff.program_id.clone(),
            role: role_of(&staff)?,
            location_id: staff.location_id.clone(),
        };
        let what = What::new("staff.password", "staff", &staff.id);
        audit::record(c, &actor, what, &json!({}), &json!({"password": "set from an invitation"}))?;
        repo::staff::find(c, &staff.program_id, &staff.id)?.ok_or_else(unknown)
    })
    .await
}

fn used() -> AppError {
    AppError::client(
        actix_web::http::StatusCode::GONE,
        "invitation_used",
        "this invitation was already used or replaced: ask for a new one",
    )
}

/// Whether the invitation may still be used at `now`.
pub fn check_invitation(invitation: &Invitation, now: chrono::NaiveDateTime) -> AppResult<()> {
    if invitation.used_at.is_some() {
        return Err(used());
    }
    if invitation.expires_at <= now {
        return Err(AppError::client(
            actix_web::http::StatusCode::GONE,
            "invitation_expired",
            "this invitation has expired (after 72 hours): ask for a new one",
        ));
    }
    Ok(())
}
