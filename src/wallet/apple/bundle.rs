//! The `.pkpass` archive: files, `manifest.json` (SHA-1 of each file) and `signature` (detached
//! PKCS#7 over the manifest's exact bytes), zipped at the archive root (spec §0.1, §2).

use std::collections::BTreeMap;
use std::io::{Cursor, Write};

use openssl::error::ErrorStack;
use openssl::hash::{MessageDigest, hash};
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::stack::Stack;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::certs::SigningIdentity;
use super::design::Design;

/// What a pass download is served as.
pub const CONTENT_TYPE: &str = "application/vnd.apple.pkpass";

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("signing the manifest: {0}")]
    Sign(#[from] ErrorStack),
    #[error("writing the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("serializing the manifest: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{0:?} is reserved for the bundle itself or already present")]
    DuplicateFile(String),
}

/// A signed `.pkpass`: `pass.json`, the per-pass `extra_files` (such as `en.lproj/pass.strings`,
/// as (path, bytes)), the design's images, `manifest.json` and `signature`.
pub fn build_pkpass(
    identity: &SigningIdentity,
    design: &Design,
    pass_json: &[u8],
    extra_files: &[(String, Vec<u8>)],
) -> Result<Vec<u8>, BundleError> {
    let files: Vec<(&str, &[u8])> = [("pass.json", pass_json)]
        .into_iter()
        .chain(extra_files.iter().map(|(n, d)| (n.as_str(), d.as_slice())))
        .collect();

    let mut manifest = BTreeMap::new();
    for (name, data) in &files {
        let digest = hex::encode(hash(MessageDigest::sha1(), data)?);
        if manifest.insert(*name, digest).is_some() {
            return Err(BundleError::DuplicateFile((*name).to_owned()));
        }
    }
    for (name, digest) in design.image_digests() {
        if manifest.insert(name, digest.to_owned()).is_some() {
            return Err(BundleError::DuplicateFile(name.to_owned()));
        }
    }
    if manifest.contains_key("manifest.json") || manifest.contains_key("signature") {
        return Err(BundleError::DuplicateFile("manifest.json or signature".to_owned()));
    }
    // Compact JSON, serialized once: these exact bytes are both signed and zipped (spec §1.2).
    let manifest_json = serde_json::to_vec(&manifest)?;
    let signature = sign_manifest(identity, &manifest_json)?;

    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    // Stored: the per-pass files are a few kilobytes, and deflating them cost a third of the time
    // of a pass (BENCHMARKS.md). The images, the bulk of the archive, are deflated once per design.
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (name, data) in &files {
        zip.start_file(*name, options)?;
        zip.write_all(data)?;
    }
    zip.merge_archive(design.compressed_images()?)?;
    for (name, data) in [("manifest.json", manifest_json.as_slice()), ("signature", signature.as_slice())] {
        zip.start_file(name, options)?;
        zip.write_all(data)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Detached PKCS#7 SignedData (DER) over `data`, by the Pass Type ID certificate, carrying the
/// WWDR intermediate so the device can build the chain to Apple's root.
///
/// BINARY: without it OpenSSL rewrites LF as CRLF before hashing, and the signature no longer
/// matches the bytes in the archive. OpenSSL adds the signingTime attribute Wallet requires.
pub fn sign_manifest(identity: &SigningIdentity, data: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    let mut chain = Stack::new()?;
    chain.push(identity.wwdr().clone())?;
    let flags = Pkcs7Flags::BINARY | Pkcs7Flags::DETACHED;
    Pkcs7::sign(identity.certificate(), identity.key(), &chain, data, flags)?.to_der()
}
