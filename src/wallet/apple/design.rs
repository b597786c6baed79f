//! A pass design: the colours, texts and images of `templates/passes/<name>/`.
//!
//! Images are the same for every pass of a design, so they are read, hashed and deflated once
//! when the design loads; each pass then copies the compressed bytes as they are.

use std::fmt;
use std::io::{Cursor, Write};
use std::path::Path;

use openssl::hash::{MessageDigest, hash};
use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
/// Without an icon Wallet refuses to open the pass (spec §1.1).
const REQUIRED_IMAGE: &str = "icon.png";
/// Images are deflated once per design, so the slowest flate2 level costs nothing per pass.
const IMAGE_COMPRESSION_LEVEL: i64 = 9;

#[derive(Debug, thiserror::Error)]
pub enum DesignError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {REQUIRED_IMAGE} is missing; Wallet cannot open a pass without it")]
    MissingIcon { path: String },
    #[error("compressing the design images: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("hashing the design images: {0}")]
    Hash(#[from] openssl::error::ErrorStack),
}

/// A colour as Wallet wants it: `rgb(r, g, b)` (hex is only understood since iOS 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rgb(pub u8, pub u8, pub u8);

impl From<Rgb> for String {
    fn from(c: Rgb) -> String {
        c.to_string()
    }
}

impl Rgb {
    /// `#rrggbb`, as an HTML colour input gives and takes it.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    pub fn from_hex(s: &str) -> Option<Rgb> {
        let h = s.trim().strip_prefix('#')?;
        let byte = |i: usize| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok());
        (h.len() == 6).then_some(())?;
        Some(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }
}

impl TryFrom<String> for Rgb {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("expected a colour as \"rgb(r, g, b)\" with values 0-255, got {s:?}");
        let inner = s.trim().strip_prefix("rgb(").and_then(|r| r.strip_suffix(')')).ok_or_else(bad)?;
        let parts: Vec<u8> =
            inner.split(',').map(|p| p.trim().parse::<u8>()).collect::<Result<_, _>>().map_err(|_| bad())?;
        match parts[..] {
            [r, g, b] => Ok(Rgb(r, g, b)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rgb({}, {}, {})", self.0, self.1, self.2)
    }
}

/// A text in each language the passes ship (`en.lproj`, `fr.lproj`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub en: String,
    pub fr: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BarcodeFormat {
    #[default]
    Qr,
    Pdf417,
    Aztec,
    Code128,
}

/// `design.json`, as written by a designer (or by the console).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DesignFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_text: Option<String>,
    pub foreground_color: Rgb,
    pub background_color: Rgb,
    pub label_color: Rgb,
    #[serde(default)]
    pub barcode_format: BarcodeFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Localized>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// A loaded design, ready to be stamped on many passes.
#[derive(Debug)]
pub struct Design {
    /// Who the pass is from, on the lock screen beside each balance notification: set only by a
    /// design made for one organisation. `None` (the shipped default) names the programme.
    pub organization_name: Option<String>,
    /// Beside the logo; `None` shows the program name.
    pub logo_text: Option<String>,
    pub foreground_color: Rgb,
    pub background_color: Rgb,
    pub label_color: Rgb,
    pub barcode_format: BarcodeFormat,
    pub terms: Option<Localized>,
    /// Shop contact on the back of the pass (phone numbers and links become tappable).
    pub contact: Option<String>,
    /// (file name, lowercase hex SHA-1), sorted by name.
    images: Vec<(String, String)>,
    /// A zip archive holding the images, already deflated.
    images_zip: Vec<u8>,
    /// SHA-256 over `design.json` and every image: when it changes, every pass of the design does.
    pub fingerprint: String,
}

impl Design {
    /// Reads `design.json` and every `*.png` at the top of `dir`.
    pub fn load(dir: &Path) -> Result<Design, DesignError> {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| DesignError::Io { path, source }
        };
        let json_path = dir.join("design.json");
        let raw = std::fs::read(&json_path).map_err(io(&json_path))?;
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".png") && entry.path().is_file() {
                let bytes = std::fs::read(entry.path()).map_err(io(&entry.path()))?;
                files.push((name, bytes));
            }
        }
        Self::from_files(&dir.display().to_string(), &raw, files)
    }

    /// The default design, compiled into the binary: the service runs from any directory, and a
    /// `templates/passes/default/` folder, when present, overrides it.
    pub fn embedded_default() -> Result<Design, DesignError> {
        macro_rules! png {
            ($name:literal) => {
                ($name.to_owned(), include_bytes!(concat!("../../../templates/passes/default/", $name)).to_vec())
            };
        }
        let json = include_bytes!("../../../templates/passes/default/design.json");
        let images = vec![
            png!("icon.png"),
            png!("icon@2x.png"),
            png!("icon@3x.png"),
            png!("logo.png"),
            png!("logo@2x.png"),
            png!("logo@3x.png"),
            png!("strip.png"),
            png!("strip@2x.png"),
            png!("strip@3x.png"),
        ];
        Self::from_files("(built-in default design)", json, images)
    }

    /// A design from a design.json and its images, wherever they are kept (a folder, the
    /// database); `origin` names it in errors.
    pub fn from_files(origin: &str, json: &[u8], mut files: Vec<(String, Vec<u8>)>) -> Result<Design, DesignError> {
        let file: DesignFile = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(json))
            .map_err(|e| DesignError::Invalid { path: format!("{origin}/design.json"), message: e.to_string() })?;
        // Sorted so that manifests and archives come out the same on every machine.
        files.sort_by(|a, b| a.0.cmp(&b.0));
        if !files.iter().any(|(n, _)| n == REQUIRED_IMAGE) {
            return Err(DesignError::MissingIcon { path: origin.to_owned() });
        }

        let mut images = Vec::with_capacity(files.len());
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(IMAGE_COMPRESSION_LEVEL));
        for (name, bytes) in files {
            if !bytes.starts_with(PNG_SIGNATURE) {
                return Err(DesignError::Invalid {
                    path: format!("{origin}/{name}"),
                    message: "not a PNG file".into(),
                });
            }
            zip.start_file(name.as_str(), options)?;
            zip.write_all(&bytes).map_err(|source| DesignError::Io { path: format!("{origin}/{name}"), source })?;
            images.push((name, hex::encode(hash(MessageDigest::sha1(), &bytes)?)));
        }
        let images_zip = zip.finish()?.into_inner();
        let mut all = json.to_vec();
        for (name, sha1) in &images {
            all.extend_from_slice(format!("\n{name}:{sha1}").as_bytes());
        }
        let fingerprint = hex::encode(hash(MessageDigest::sha256(), &all)?);

        Ok(Design {
            organization_name: file.organization_name,
            logo_text: file.logo_text,
            foreground_color: file.foreground_color,
            background_color: file.background_color,
            label_color: file.label_color,
            barcode_format: file.barcode_format,
            terms: file.terms,
            contact: file.contact,
            images,
            images_zip,
            fingerprint,
        })
    }

    /// What its design.json says, to start a new design from.
    pub fn file(&self) -> DesignFile {
        DesignFile {
            organization_name: self.organization_name.clone(),
            logo_text: self.logo_text.clone(),
            foreground_color: self.foreground_color,
            background_color: self.background_color,
            label_color: self.label_color,
            barcode_format: self.barcode_format,
            terms: self.terms.clone(),
            contact: self.contact.clone(),
        }
    }

    /// Every image, by name, uncompressed.
    pub fn image_files(&self) -> Vec<(String, Vec<u8>)> {
        self.images.iter().filter_map(|(name, _)| Some((name.clone(), self.image(name)?))).collect()
    }

    /// The organisation the passes of `program_name` are from (Apple's organizationName, Google's
    /// issuerName): the design's when it names one on purpose, else the programme's name.
    pub fn organization_for<'a>(&'a self, program_name: &'a str) -> &'a str {
        self.organization_name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(program_name)
    }

    /// Image file names with the SHA-1 of their bytes, for the manifest.
    pub fn image_digests(&self) -> impl Iterator<Item = (&str, &str)> {
        self.images.iter().map(|(name, sha1)| (name.as_str(), sha1.as_str()))
    }

    /// One image's bytes (for the web: Google fetches program logos from a public URL).
    pub fn image(&self, name: &str) -> Option<Vec<u8>> {
        use std::io::Read;
        let mut archive = self.compressed_images().ok()?;
        let mut file = archive.by_name(name).ok()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// The images, compressed, for [`zip::ZipWriter::merge_archive`] (a raw copy, no recompression).
    pub(crate) fn compressed_images(&self) -> Result<ZipArchive<Cursor<&[u8]>>, zip::result::ZipError> {
        ZipArchive::new(Cursor::new(self.images_zip.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_and_print_in_wallet_syntax() {
        assert_eq!(Rgb::try_from("rgb(74, 44,30)".to_owned()), Ok(Rgb(74, 44, 30)));
        assert_eq!(Rgb(1, 2, 3).to_string(), "rgb(1, 2, 3)");
        for bad in ["#4a2c1e", "rgb(256, 0, 0)", "rgb(1, 2)", "rgb(1, 2, 3, 4)", "rgb(-1, 0, 0)"] {
            assert!(Rgb::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_shipped_default_design_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/passes/default");
        let design = Design::load(&dir).expect("default design");
        let names: Vec<&str> = design.image_digests().map(|(n, _)| n).collect();
        for required in ["icon.png", "icon@2x.png", "icon@3x.png", "logo.png", "strip.png"] {
            assert!(names.contains(&required), "{required} missing from {names:?}");
        }
        let archive = design.compressed_images().expect("cached archive");
        assert_eq!(archive.len(), names.len());
    }

    #[test]
    fn passes_are_from_the_programme_unless_the_design_names_an_organisation() {
        let default = Design::embedded_default().expect("default design");
        assert_eq!(default.organization_for("Demo Café"), "Demo Café", "the shipped design names nobody");
        let dir = tempfile::tempdir().expect("tempdir");
        let json = r#"{"organization_name":"Roastery Ltd","foreground_color":"rgb(0, 0, 0)",
            "background_color":"rgb(255, 255, 255)","label_color":"rgb(9, 9, 9)"}"#;
        std::fs::write(dir.path().join("design.json"), json).expect("write");
        let icon = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/passes/default/icon.png");
        std::fs::copy(icon, dir.path().join("icon.png")).expect("copy");
        let own = Design::load(dir.path()).expect("design");
        assert_eq!(own.organization_for("Demo Café"), "Roastery Ltd");
    }

    #[test]
    fn a_design_without_icon_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let json = r#"{"organization_name":"X","foreground_color":"rgb(0, 0, 0)",
            "background_color":"rgb(255, 255, 255)","label_color":"rgb(9, 9, 9)"}"#;
        std::fs::write(dir.path().join("design.json"), json).expect("write");
        assert!(matches!(Design::load(dir.path()), Err(DesignError::MissingIcon { .. })));
    }
}
