//! Pass designs made in the console. The merchant edits a draft (colours, texts, a logo, a strip
//! and an icon uploaded once, scaled to 1x/2x/3x), sees it in the page's preview, and publishes
//! it: the programme's passes are then drawn with it (`pass_design = "@console"`) and every card
//! is refreshed and pushed, as when a folder design changes. Both stages live in the database,
//! so every node draws the same passes; a node builds a published design once per fingerprint.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde::Serialize;

use super::Actor;
use super::audit::{self, What};
use crate::db::repo::designs::{DRAFT, PUBLISHED, StoredDesign};
use crate::db::repo::programs::Program;
use crate::db::{Db, DbConn, repo};
use crate::domain::role::Role;
use crate::error::{AppError, AppResult};
use crate::wallet::AppleWallet;
use crate::wallet::apple::Design;
use crate::wallet::apple::design::{DesignFile, Rgb};
use crate::wallet::apple::images::{self, Slot};

/// The `pass_design` of a programme drawn with its published console design.
pub const CONSOLE: &str = "@console";

/// What the design form sends: colours as `#rrggbb`, and the images uploaded (if any).
#[derive(Debug, Default)]
pub struct DesignForm {
    pub background_color: String,
    pub foreground_color: String,
    pub label_color: String,
    pub logo_text: String,
    pub uploads: Vec<(Slot, Vec<u8>)>,
}

#[derive(Debug, Serialize)]
pub struct DesignView {
    pub background_color: String,
    pub foreground_color: String,
    pub label_color: String,
    pub logo_text: Option<String>,
    /// Image names of the draft (the preview shows them from `/admin/design/draft/{name}`).
    pub images: Vec<String>,
    /// Whether the draft differs from what passes are drawn with.
    pub unpublished: bool,
    pub published: bool,
    pub version: String,
}

fn json(file: &DesignFile) -> AppResult<Vec<u8>> {
    serde_json::to_vec(file).map_err(|e| AppError::Internal(e.into()))
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("pass design: {e}"))
}

/// Image files by name.
type Files = Vec<(String, Vec<u8>)>;

/// What the design page edits: the draft, or what passes show now when there is none.
struct Draft {
    file: DesignFile,
    files: Files,
    /// Its fingerprint (the preview's cache key).
    fingerprint: String,
    /// Whether it differs from what passes are drawn with.
    unpublished: bool,
}

fn draft(c: &mut DbConn, wallet: &AppleWallet, program: &Program) -> AppResult<Draft> {
    if let Some(row) = repo::designs::find(c, &program.id, DRAFT)? {
        let published = repo::designs::find(c, &program.id, PUBLISHED)?;
        let live = program.pass_design.as_deref() == Some(CONSOLE);
        return Ok(Draft {
            file: serde_json::from_str(&row.design).map_err(internal)?,
            files: repo::designs::images(c, &program.id, DRAFT)?,
            unpublished: !live || published.is_none_or(|p| p.fingerprint != row.fingerprint),
            fingerprint: row.fingerprint,
        });
    }
    Ok(match published(c, program)? {
        Some(design) => start_from(&design),
        None => start_from(wallet.design(program.pass_design.as_deref())),
    })
}

fn start_from(design: &Design) -> Draft {
    Draft {
        file: design.file(),
        files: design.image_files(),
        fingerprint: design.fingerprint.clone(),
        unpublished: false,
    }
}

pub async fn view(db: &Db, wallet: Arc<AppleWallet>, actor: &Actor) -> AppResult<DesignView> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let program = repo::programs::find(c, &program_id)?;
        let d = draft(c, &wallet, &program)?;
        Ok(DesignView {
            background_color: d.file.background_color.hex(),
            foreground_color: d.file.foreground_color.hex(),
            label_color: d.file.label_color.hex(),
            logo_text: d.file.logo_text,
            images: d.files.into_iter().map(|(n, _)| n).collect(),
            unpublished: d.unpublished,
            published: program.pass_design.as_deref() == Some(CONSOLE),
            version: d.fingerprint.chars().take(12).collect(),
        })
    })
    .await
}

/// Saves the draft: the colours and text, and each uploaded image in its three sizes.
pub async fn save_draft(db: &Db, wallet: Arc<AppleWallet>, actor: &Actor, form: DesignForm) -> AppResult<()> {
    actor.require(Role::Manager)?;
    let colour = |field: &str, value: &str| {
        Rgb::from_hex(value).ok_or_else(|| AppError::invalid_field(field, "a colour such as #4a2c1e"))
    };
    let (bg, fg, label) = (
        colour("background_color", &form.background_color)?,
        colour("foreground_color", &form.foreground_color)?,
        colour("label_color", &form.label_color)?,
    );
    let logo_text = form.logo_text.trim().to_owned();
    if logo_text.chars().count() > 40 {
        return Err(AppError::invalid_field("logo_text", "at most 40 characters"));
    }
    let mut scaled = Vec::new();
    for (slot, bytes) in form.uploads {
        let files = crate::db::blocking(move || {
            images::scaled(slot, &bytes).map_err(|e| AppError::unprocessable_field("invalid_image", slot.name(), e))
        })
        .await?;
        scaled.extend(files);
    }
    let actor = actor.clone();
    db.write(move |c| {
        let program = repo::programs::find(c, &actor.program_id)?;
        let Draft { mut file, mut files, .. } = draft(c, &wallet, &program)?;
        let before = serde_json::to_value(&file).map_err(internal)?;
        file.background_color = bg;
        file.foreground_color = fg;
        file.label_color = label;
        file.logo_text = (!logo_text.is_empty()).then_some(logo_text);
        let uploaded: Vec<String> = scaled.iter().map(|(n, _)| n.clone()).collect();
        files.retain(|(name, _)| !uploaded.contains(name));
        files.extend(scaled);
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let bytes = json(&file)?;
        let built = Design::from_files("(draft)", &bytes, files.clone())
            .map_err(|e| AppError::unprocessable("invalid_design", e.to_string()))?;
        let row = StoredDesign {
            program_id: program.id.clone(),
            stage: DRAFT.to_owned(),
            design: String::from_utf8(bytes).map_err(internal)?,
            fingerprint: built.fingerprint.clone(),
            updated_at: repo::now(),
        };
        repo::designs::put(c, &row, &files)?;
        let mut after = serde_json::to_value(&file).map_err(internal)?;
        if !uploaded.is_empty() {
            after["uploaded"] = serde_json::json!(uploaded);
        }
        audit::record(c, &actor, What::new("design.draft", "program", &program.id), &before, &after)
    })
    .await
}

/// Publishes the draft: passes are drawn with it from now on, and every card is pushed.
pub async fn publish(db: &Db, actor: &Actor) -> AppResult<()> {
    actor.require(Role::Manager)?;
    let actor = actor.clone();
    db.write(move |c| {
        let program = repo::programs::find(c, &actor.program_id)?;
        let draft = repo::designs::find(c, &program.id, DRAFT)?
            .ok_or_else(|| AppError::unprocessable("no_draft", "save a design before publishing it"))?;
        let published = repo::designs::find(c, &program.id, PUBLISHED)?;
        let live = program.pass_design.as_deref() == Some(CONSOLE);
        if live && published.as_ref().is_some_and(|p| p.fingerprint == draft.fingerprint) {
            return Ok(());
        }
        let files = repo::designs::images(c, &program.id, DRAFT)?;
        let row = StoredDesign { stage: PUBLISHED.to_owned(), updated_at: repo::now(), ..draft };
        repo::designs::put(c, &row, &files)?;
        repo::programs::set_pass_design(c, &program.id, Some(CONSOLE))?;
        super::passes::enqueue_refresh(c, &program.id, None)?;
        let what = What::new("design.publish", "program", &program.id);
        let (old, new) = (
            serde_json::json!({"design": program.pass_design}),
            serde_json::json!({"design": CONSOLE, "version": &row.fingerprint[..12]}),
        );
        audit::record(c, &actor, what, &old, &new)
    })
    .await
}

/// Built designs by fingerprint: the same bytes make the same design on every node.
static BUILT: LazyLock<Mutex<HashMap<String, Arc<Design>>>> = LazyLock::new(Mutex::default);
const BUILT_MAX: usize = 256;

/// The published console design of `program`, when its passes are drawn with one.
pub fn published(c: &mut DbConn, program: &Program) -> AppResult<Option<Arc<Design>>> {
    if program.pass_design.as_deref() != Some(CONSOLE) {
        return Ok(None);
    }
    let Some(row) = repo::designs::find(c, &program.id, PUBLISHED)? else { return Ok(None) };
    if let Some(hit) = BUILT.lock().ok().and_then(|m| m.get(&row.fingerprint).cloned()) {
        return Ok(Some(hit));
    }
    let files = repo::designs::images(c, &program.id, PUBLISHED)?;
    let design = Arc::new(
        Design::from_files(&format!("program {}", program.id), row.design.as_bytes(), files).map_err(internal)?,
    );
    if let Ok(mut built) = BUILT.lock() {
        if built.len() >= BUILT_MAX {
            built.clear();
        }
        built.insert(row.fingerprint, design.clone());
    }
    Ok(Some(design))
}

fn no_image() -> AppError {
    AppError::not_found("image_not_found", "no such design image")
}

/// One image of the draft as the preview shows it.
pub async fn draft_image(db: &Db, wallet: Arc<AppleWallet>, actor: &Actor, name: String) -> AppResult<Vec<u8>> {
    actor.require(Role::Manager)?;
    let program_id = actor.program_id.clone();
    db.read(move |c| {
        let program = repo::programs::find(c, &program_id)?;
        draft(c, &wallet, &program)?.files.into_iter().find(|(n, _)| *n == name).map(|(_, b)| b).ok_or_else(no_image)
    })
    .await
}

/// One image of a programme's published design (Google fetches logos from a public URL).
pub async fn published_image(db: &Db, program_id: String, name: String) -> AppResult<Vec<u8>> {
    db.read(move |c| repo::designs::image(c, &program_id, PUBLISHED, &name)?.ok_or_else(no_image)).await
}
