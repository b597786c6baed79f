//! The audit log of admin writes: each use case that changes the programme, its staff, a card
//! or a customer records, in its own transaction, who did it and the fields it changed. So a row
//! exists exactly when its change was committed.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Actor;
use crate::db::{Db, DbConn, repo};
use crate::domain::role::Role;
use crate::dto::time;
use crate::error::{AppError, AppResult};

/// What a row is about: `("program.update", "program", Some(id))`.
#[derive(Debug, Clone, Copy)]
pub struct What<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<&'a str>,
}

impl<'a> What<'a> {
    pub fn new(action: &'a str, target_type: &'a str, target_id: &'a str) -> Self {
        What { action, target_type, target_id: Some(target_id) }
    }
}

/// Records the fields whose values differ between `before` and `after` (objects, compared key
/// by key; anything else compared whole). A write that changed nothing leaves no row. A creation
/// passes `json!({})` before; an action (a block, an adjustment) passes its facts after.
pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    what: What<'_>,
    before: &impl Serialize,
    after: &impl Serialize,
) -> AppResult<()> {
    let (before, after) = (to_value(before)?, to_value(after)?);
    record_changes(conn, actor, what, diff(&before, &after))
}

/// Records changes already put as `{"field": {"before": .., "after": ..}}`: for personal data,
/// whose values must not outlive an erasure in a table nobody may edit.
pub fn record_changes(conn: &mut DbConn, actor: &Actor, what: What<'_>, changes: Map<String, Value>) -> AppResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let changes = Value::Object(changes).to_string();
    repo::audit::append(
        conn,
        &repo::audit::NewEntry {
            program_id: &actor.program_id,
            actor_id: Some(&actor.staff_id),
            action: what.action,
            target_type: what.target_type,
            target_id: what.target_id,
            changes: &changes,
            created_at: repo::now(),
        },
    )?;
    Ok(())
}

fn to_value(v: &impl Serialize) -> AppResult<Value> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(anyhow::anyhow!("audit value: {e}")))
}

/// The changed fields; a side that is null (nothing there before, or after) counts as an object
/// with no field, so that a first setting lists each of its fields.
pub fn diff(before: &Value, after: &Value) -> Map<String, Value> {
    let empty = Value::Object(Map::new());
    let before = if before.is_null() && after.is_object() { &empty } else { before };
    let after = if after.is_null() && before.is_object() { &empty } else { after };
    let mut changes = Map::new();
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for key in b.keys().chain(a.keys().filter(|k| !b.contains_key(*k))) {
                let (old, new) = (b.get(key).unwrap_or(&Value::Null), a.get(key).unwrap_or(&Value::Null));
                if old != new {
                    changes.insert(key.clone(), json!({"before": old, "after": new}));
                }
            }
        }
        (b, a) if b != a => {
            changes.insert("value".into(), json!({"before": b, "after": a}));
        }
        _ => {}
    }
    changes
}

#[derive(Debug, Serialize)]
pub struct EntryDto {
    pub id: i64,
    /// Null for the operator's command line.
    pub actor: Option<ActorDto>,
    pub action: String,
    pub target: TargetDto,
    pub changes: Value,
    pub at: String,
}

#[derive(Debug, Serialize)]
pub struct ActorDto {
    pub id: String,
    pub email: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TargetDto {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuditPage {
    pub entries: Vec<EntryDto>,
    /// Pass as `before` for the next (older) page; null on the last one.
    pub next_before: Option<i64>,
}

/// The log, newest first (owners only).
pub async fn list(db: &Db, actor: &Actor, before: Option<i64>, limit: i64) -> AppResult<AuditPage> {
    actor.require(Role::Owner)?;
    let program_id = actor.program_id.clone();
    let rows = db.read(move |c| Ok(repo::audit::page(c, &program_id, before, limit + 1)?)).await?;
    let more = usize::try_from(limit).is_ok_and(|l| rows.len() > l);
    let entries: Vec<EntryDto> = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|r| EntryDto {
            id: r.id,
            actor: r.actor_id.map(|id| ActorDto { id, email: r.actor_email }),
            action: r.action,
            target: TargetDto { kind: r.target_type, id: r.target_id },
            changes: serde_json::from_str(&r.changes).unwrap_or(Value::Null),
            at: time(r.created_at),
        })
        .collect();
    let next_before = if more { entries.last().map(|e| e.id) } else { None };
    Ok(AuditPage { entries, next_before })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_keeps_only_changed_fields() {
        let changes = diff(&json!({"a": 1, "b": "x", "c": null}), &json!({"a": 2, "b": "x", "d": true}));
        assert_eq!(
            Value::Object(changes),
            json!({"a": {"before": 1, "after": 2}, "d": {"before": null, "after": true}})
        );
        assert!(diff(&json!({"a": 1}), &json!({"a": 1})).is_empty());
        assert_eq!(Value::Object(diff(&Value::Null, &json!({"a": 1}))), json!({"a": {"before": null, "after": 1}}));
        assert_eq!(Value::Object(diff(&json!([1]), &json!([2]))), json!({"value": {"before": [1], "after": [2]}}));
    }
}
