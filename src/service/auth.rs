//! Staff login and tokens (HS256 JWT). The token carries the program: every query of the request
//! is scoped by it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Actor;
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

    pub fn issue(&self, actor: &Actor) -> AppResult<String> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: actor.staff_id.clone(),
            prg: actor.program_id.clone(),
            role: actor.role,
            loc: actor.location_id.clone(),
            iat: now.timestamp(),
            exp: (now + self.ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(e.into()))
    }

    pub fn verify(&self, token: &str) -> AppResult<Actor> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| AppError::unauthorized("invalid_token", "the token is invalid or has expired"))?;
        let c = data.claims;
        Ok(Actor { staff_id: c.sub, program_id: c.prg, role: c.role, location_id: c.loc })
    }
}

/// The caller of a staff request. A valid signature is not enough: the token speaks for its user
/// only while that user is still in the program with the role and shop it was issued for, so a
/// deleted, demoted or moved user's token stops working at once, not when it expires. One read
/// of the staff row by its primary key.
pub async fn authenticate(db: &Db, keys: &AuthKeys, token: &str) -> AppResult<Actor> {
    let actor = keys.verify(token)?;
    let (program_id, staff_id) = (actor.program_id.clone(), actor.staff_id.clone());
    let staff = db.read(move |c| Ok(repo::staff::find(c, &program_id, &staff_id)?)).await?;
    match staff {
        Some(s) if s.role == actor.role.as_str() && s.location_id == actor.location_id => Ok(actor),
        _ => Err(AppError::unauthorized("token_revoked", "this token's user was removed or changed: log in again")),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    prg: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loc: Option<String>,
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

pub async fn login(db: &Db, keys: &AuthKeys, email: &str, password: String) -> AppResult<LoginResponse> {
    let invalid = || AppError::unauthorized("invalid_credentials", "wrong e-mail or password");
    let email = Email::parse(email.to_owned()).ok();
    let found = match email {
        Some(email) => db.read(move |c| Ok(repo::staff::find_by_email(c, email.as_str())?)).await?,
        None => None,
    };
    let hash = found.as_ref().map_or(DECOY_HASH.to_owned(), |s| s.password_hash.clone());
    let verified = blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| AppError::Internal(anyhow::anyhow!("stored hash: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?;
    let staff = match found {
        Some(staff) if verified => staff,
        _ => return Err(invalid()),
    };
    let role = Role::parse(&staff.role).map_err(|e| AppError::Internal(anyhow::anyhow!("staff role: {e}")))?;
    let program_id = staff.program_id.clone();
    let program = db.read(move |c| Ok(repo::programs::find(c, &program_id)?)).await?;
    let actor = Actor { staff_id: staff.id, program_id: staff.program_id, role, location_id: staff.location_id };
    let token = keys.issue(&actor)?;
    let expires_at = crate::dto::time((chrono::Utc::now() + keys.ttl).naive_utc());
    Ok(LoginResponse { token, role, program: ProgramDto::from(&program), expires_at })
}
