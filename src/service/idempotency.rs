//! Replays for retried writes. The key is claimed first, inside the write transaction; the work
//! and the stored response commit with it. A retry with the same key and body gets the stored
//! response and writes nothing; the same key with another body is refused. A request that fails
//! stores nothing, so the till may retry it with the same key once the cause is fixed.

use actix_web::http::StatusCode;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::DbConn;
use crate::db::repo::{self, idempotency::Record};
use crate::domain::text::IdempotencyKey;
use crate::error::{AppError, AppResult};

/// A key plus the fingerprint of the request it was first used for.
#[derive(Debug, Clone)]
pub struct Idempotent {
    key: IdempotencyKey,
    fingerprint: String,
}

impl Idempotent {
    /// `operation` names the endpoint (and its path parameters), so one key can't be replayed
    /// against another card or purchase; `body` is the parsed request, so the fingerprint ignores
    /// whitespace and key order.
    pub fn new(key: IdempotencyKey, operation: &str, body: &impl Serialize) -> AppResult<Self> {
        let json = serde_json::to_vec(body).map_err(|e| AppError::Internal(e.into()))?;
        let mut hash = Sha256::new();
        hash.update(operation.as_bytes());
        hash.update(b"\n");
        hash.update(&json);
        Ok(Idempotent { key, fingerprint: hex::encode(hash.finalize()) })
    }
}

/// A response as first sent, to be sent again byte for byte.
#[derive(Debug, Clone)]
pub struct Stored {
    pub status: StatusCode,
    pub body: String,
    pub replayed: bool,
}

/// Runs `work` once per key. Must be called inside a write transaction.
pub fn once<T: Serialize>(
    conn: &mut DbConn,
    program_id: &str,
    idem: &Idempotent,
    status: StatusCode,
    work: impl FnOnce(&mut DbConn) -> AppResult<T>,
) -> AppResult<Stored> {
    let claim = Record {
        program_id: program_id.to_owned(),
        key: idem.key.as_str().to_owned(),
        fingerprint: idem.fingerprint.clone(),
        status: 0,
        body: String::new(),
        created_at: repo::now(),
    };
    if repo::idempotency::claim(conn, &claim)? {
        let body = serde_json::to_string(&work(conn)?).map_err(|e| AppError::Internal(e.into()))?;
        repo::idempotency::store_response(conn, program_id, idem.key.as_str(), i32::from(status.as_u16()), &body)?;
        return Ok(Stored { status, body, replayed: false });
    }
    let first = repo::idempotency::find(conn, program_id, idem.key.as_str())?;
    if first.fingerprint != idem.fingerprint {
        return Err(AppError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        ));
    }
    let status = u16::try_from(first.status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored idempotent status {} is invalid", first.status)))?;
    Ok(Stored { status, body: first.body, replayed: true })
}

/// Runs `work` once per key when a key is given, or plainly when none is.
pub fn maybe_once<T: Serialize>(
    conn: &mut DbConn,
    program_id: &str,
    idem: Option<&Idempotent>,
    status: StatusCode,
    work: impl FnOnce(&mut DbConn) -> AppResult<T>,
) -> AppResult<Stored> {
    match idem {
        Some(idem) => once(conn, program_id, idem, status, work),
        None => {
            let body = serde_json::to_string(&work(conn)?).map_err(|e| AppError::Internal(e.into()))?;
            Ok(Stored { status, body, replayed: false })
        }
    }
}

/// The stored answer for this key, if the first request already committed: a retry is replayed
/// before anything else runs (a guessing limit must not turn a till's retry into a 429, or the
/// till may ring the sale again under a new key).
pub async fn replay(db: &crate::db::Db, program_id: &str, idem: &Idempotent) -> AppResult<Option<Stored>> {
    let (program_id, key) = (program_id.to_owned(), idem.key.as_str().to_owned());
    let found = db.read(move |c| Ok(repo::idempotency::find_optional(c, &program_id, &key)?)).await?;
    match found {
        None => Ok(None),
        Some(first) if first.fingerprint != idem.fingerprint => Err(AppError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
        )),
        Some(first) => {
            let status =
                u16::try_from(first.status).ok().and_then(|s| StatusCode::from_u16(s).ok()).ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!("stored idempotent status {} is invalid", first.status))
                })?;
            Ok(Some(Stored { status, body: first.body, replayed: true }))
        }
    }
}
