//! Static files of the pages (`/assets/{file}`): read once at start-up from
//! `{templates_dir}/pages/assets/`, plus what the build vendored from npm. Served with an ETag and a
//! long cache lifetime: pages link them with `?v={version}`, so a new file is a new URL.

use std::collections::BTreeMap;
use std::path::Path;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use sha2::{Digest, Sha256};

/// The barcode decoder for browsers without a native BarcodeDetector, and the WebAssembly it
/// loads: vendored from npm by build.rs (none when the build had no npm).
pub const DECODER_SCRIPT: &str = "vendor/barcode-detector.js";
pub const DECODER_WASM: &str = "vendor/zxing_reader.wasm";

mod vendored {
    include!(concat!(env!("OUT_DIR"), "/vendor.rs"));
}

pub struct Asset {
    pub content_type: &'static str,
    pub body: web::Bytes,
    pub etag: String,
}

#[derive(Default)]
pub struct Assets {
    files: BTreeMap<String, Asset>,
    /// A digest of every file: the `?v=` of the links, so a deploy busts the caches.
    pub version: String,
}

impl Assets {
    /// The shipped files of `pages/assets/`, each replaced by the merchant's copy under
    /// `templates_dir` when there is one, plus the merchant's own additions.
    pub fn load(templates_dir: &Path) -> anyhow::Result<Assets> {
        let mut assets = Assets::default();
        for name in crate::render::names(templates_dir, "pages/assets")? {
            let body = crate::render::file(templates_dir, &name)?.with_context(|| format!("{name} vanished"))?;
            assets.insert(name.trim_start_matches("pages/assets/"), body);
        }
        for (name, body) in vendored::FILES {
            assets.insert(name, body.to_vec());
        }
        Ok(assets)
    }

    pub fn insert(&mut self, name: &str, body: Vec<u8>) {
        let digest = hex::encode(&Sha256::digest(&body)[..8]);
        let asset =
            Asset { content_type: content_type(name), body: web::Bytes::from(body), etag: format!("\"{digest}\"") };
        self.files.insert(name.to_owned(), asset);
        let mut all = Sha256::new();
        for (name, asset) in &self.files {
            all.update(name.as_bytes());
            all.update(asset.etag.as_bytes());
        }
        self.version = hex::encode(&all.finalize()[..6]);
    }

    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.get(name)
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "webmanifest") => "application/json",
        _ => "application/octet-stream",
    }
}

pub async fn serve(
    assets: web::Data<Assets>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, crate::error::AppError> {
    let Some(asset) = assets.get(&path) else {
        return Err(crate::error::AppError::not_found("asset_not_found", "no such asset"));
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, asset.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    Ok(if fresh { response.finish() } else { response.content_type(asset.content_type).body(asset.body.clone()) })
}
