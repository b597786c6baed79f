//! Staff login and tokens (HS256 JWT). The token carries the program: every query of the request
//! is scoped by it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Actor;
use crate::db::repo::staff::StaffUser;
use crate::db::{Db, blocking, repo};
use crate::domain::email::Email;
use crate::domain::role::Role;
use crate::dto::ProgramDto;
use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct AuthKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: chrono::Duration,
}

impl AuthKeys {
    pub fn new(secret: &[u8], ttl_hours: i64) -> Self {
        AuthKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl: chrono::Duration::hours(ttl_hours),
        }
    }

    /// A token for `actor`, valid while their row's token version is still `version`.
    pub fn issue(&self, actor: &Actor, version: i64) -> AppResult<String> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: actor.staff_id.clone(),
            prg: actor.program_id.clone(),
            role: actor.role,
            loc: actor.location_id.clone(),
            ver: version,
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(e.into()))
    }

    /// The actor a token speaks for and the token version it was issued at.
    pub fn verify(&self, token: &str) -> AppResult<(Actor, i64)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| AppError::unauthorized("invalid_token", "the token is invalid or has expired"))?;
        let c = data.claims;
        Ok((Actor { staff_id: c.sub, program_id: c.prg, role: c.role, location_id: c.loc }, c.ver))
    }
}

/// The caller of a staff request. A valid signature is not enough: the token speaks for its user
/// only while that user is enabled, still has the role and shop it was issued for, and the token
/// version it was issued at (disabling a user or changing their password bumps it). So a
/// disabled, demoted or moved user's token stops working on its next request, on every node,
/// not when it expires: each request reads the staff row by its primary key.
pub async fn authenticate(db: &Db, keys: &AuthKeys, token: &str) -> AppResult<Actor> {
    let (actor, version) = keys.verify(token)?;
    let (program_id, staff_id) = (actor.program_id.clone(), actor.staff_id.clone());
    let staff = db.read(move |c| Ok(repo::staff::find(c, &program_id, &staff_id)?)).await?;
    match staff {
        Some(s)
            if s.disabled_at.is_none()
                && s.token_version == version
                && s.role == actor.role.as_str()
                && s.location_id == actor.location_id =>
        {
            Ok(actor)
        }
        _ => Err(AppError::unauthorized(
            "token_revoked",
            "this token's user was disabled, changed or signed out: log in again",
        )),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    prg: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loc: Option<String>,
    /// The user's token version when it was issued.
    #[serde(default)]
    ver: i64,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Serialize)]
pub struct LoginResponse {
    pub token: String,
    pub role: Role,
    pub program: ProgramDto,
    pub expires_at: String,
}

pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// A hash of nothing anybody knows, verified when the e-mail is unknown so that both failures
/// take the same time and look the same.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZcXo0R2gGLUtZbbWPkJHCF4sqh28S5M0Fg0wZ7mHjW0";

/// Sign-in attempts allowed per address and per client in [`LOGIN_WINDOW_SECONDS`]: enough for
/// typing mistakes and a shop's tills behind one address, far too few to guess a password.
pub const LOGIN_LIMITS: (i64, i64) = (10, 100);
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;

pub async fn login(
    db: &Db,
    keys: &AuthKeys,
    email: &str,
    password: String,
    client: Option<&str>,
) -> AppResult<LoginResponse> {
    let staff = check_credentials(db, email, password, client).await?;
    signed_in(db, keys, staff).await
}

/// The enabled staff user these credentials are, counted against the sign-in limits: for a token
/// (`POST /auth/login`) or a console session alike.
pub async fn check_credentials(db: &Db, email: &str, password: String, client: Option<&str>) -> AppResult<StaffUser> {
    let invalid = || AppError::unauthorized("invalid_credentials", "wrong e-mail or password");
    let mut limits = vec![(format!("staff_login:email:{}", email.trim().to_lowercase()), LOGIN_LIMITS.0)];
    if let Some(client) = client {
        limits.push((format!("staff_login:ip:{client}"), LOGIN_LIMITS.1));
    }
    super::rate_limit(db, limits, LOGIN_WINDOW_SECONDS).await?;
    let email = Email::parse(email.to_owned()).ok();
    let found = match email {
        Some(email) => db.read(move |c| Ok(repo::staff::find_by_email(c, email.as_str())?)).await?,
        None => None,
    };
    let verified = verify_password(found.as_ref(), password).await?;
    let staff = match found {
        Some(staff) if verified => staff,
        _ => return Err(invalid()),
    };
    // Told only to whoever knows the password: it is theirs to know.
    if staff.disabled_at.is_some() {
        return Err(AppError::forbidden("this account is disabled: ask the programme's owner"));
    }
    Ok(staff)
}

/// Whether `password` is the user's, in the same time whether or not there is such a user (or
/// they have no password yet): both check a hash.
pub async fn verify_password(staff: Option<&StaffUser>, password: String) -> AppResult<bool> {
    let hash = staff.map(|s| s.password_hash.clone()).filter(|h| !h.is_empty());
    let real = hash.is_some();
    let hash = hash.unwrap_or_else(|| DECOY_HASH.to_owned());
    let verified = blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| AppError::Internal(anyhow::anyhow!("stored hash: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?;
    Ok(real && verified)
}

/// A token for `staff` as their row stands.
pub async fn signed_in(db: &Db, keys: &AuthKeys, staff: StaffUser) -> AppResult<LoginResponse> {
    let role = Role::parse(&staff.role).map_err(|e| AppError::Internal(anyhow::anyhow!("staff role: {e}")))?;
    let program_id = staff.program_id.clone();
    let program = db.read(move |c| Ok(repo::programs::find(c, &program_id)?)).await?;
    let actor = Actor { staff_id: staff.id, program_id: staff.program_id, role, location_id: staff.location_id };
    let token = keys.issue(&actor, staff.token_version)?;
    let expires_at = crate::dto::time((chrono::Utc::now() + keys.ttl).naive_utc());
    Ok(LoginResponse { token, role, program: ProgramDto::from(&program), expires_at })
}

/// Changes the caller's own password: the old one is required, and every token issued before
/// (this one included) stops working; the answer carries a new token for this session.
pub async fn change_password(
    db: &Db,
    keys: &AuthKeys,
    actor: &Actor,
    old: String,
    new: crate::domain::text::NewPassword,
) -> AppResult<LoginResponse> {
    let (program_id, staff_id) = (actor.program_id.clone(), actor.staff_id.clone());
    let staff = db.read(move |c| Ok(repo::staff::find(c, &program_id, &staff_id)?)).await?;
    if !verify_password(staff.as_ref(), old).await? {
        return Err(AppError::unprocessable_field(
            "wrong_password",
            "old_password",
            "this is not your current password",
        ));
    }
    let hash = blocking(move || hash_password(new.as_str())).await?;
    let who = actor.clone();
    let staff = db
        .write(move |c| {
            repo::staff::set_password(c, &who.staff_id, &hash)?;
            let what = super::audit::What::new("staff.password", "staff", &who.staff_id);
            super::audit::record(c, &who, what, &serde_json::json!({}), &serde_json::json!({"password": "changed"}))?;
            repo::staff::find(c, &who.program_id, &who.staff_id)?
                .ok_or_else(|| AppError::unauthorized("token_revoked", "log in again"))
        })
        .await?;
    signed_in(db, keys, staff).await
}
