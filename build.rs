//! Vendors the staff scanner's barcode decoder from npm (`web/`), so the binary serves it at
//! `/assets/vendor/...` and no page ever loads code from a CDN. The lockfile pins the exact files
//! (npm ci checks their integrity hashes). Without npm the build still succeeds: the scanner then
//! offers the typed card number, and the camera only where the browser has BarcodeDetector.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (name served under /assets/, path inside `web/node_modules/`)
const FILES: [(&str, &str); 2] = [
    // The IIFE "ponyfill" build: a plain script (no bundler, no module imports) that defines
    // `BarcodeDetectionAPI` without replacing a native BarcodeDetector.
    ("vendor/barcode-detector.js", "barcode-detector/dist/iife/ponyfill.js"),
    // The wasm that exact build expects (barcode-detector pins its zxing-wasm version).
    ("vendor/zxing_reader.wasm", "zxing-wasm/dist/reader/zxing_reader.wasm"),
];

fn main() {
    let web = PathBuf::from(env("CARGO_MANIFEST_DIR")).join("web");
    println!("cargo:rerun-if-changed=build.rs");
    // embed_migrations! reads this folder at compile time: a new migration must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=web/package.json");
    println!("cargo:rerun-if-changed=web/package-lock.json");
    println!("cargo:rerun-if-env-changed=ENCARTE_SKIP_NPM");
    let modules = web.join("node_modules");
    if !FILES.iter().all(|(_, from)| modules.join(from).is_file()) && std::env::var_os("ENCARTE_SKIP_NPM").is_none() {
        npm_ci(&web);
    }
    let out = PathBuf::from(env("OUT_DIR"));
    let mut entries = String::new();
    let missing: Vec<&str> = FILES.iter().filter(|(_, from)| !modules.join(from).is_file()).map(|(_, f)| *f).collect();
    if missing.is_empty() {
        for (name, from) in FILES {
            let target = out.join(name);
            std::fs::create_dir_all(target.parent().expect("a parent")).expect("create OUT_DIR/vendor");
            std::fs::copy(modules.join(from), &target).expect("copy a vendored file");
            entries.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", target.display().to_string()));
        }
    } else {
        println!(
            "cargo:warning=barcode decoder not vendored (missing {missing:?}); /staff scans with the native BarcodeDetector only"
        );
    }
    let source = format!(
        "/// Files vendored from npm by build.rs: (name under /assets/, content).\n\
         pub const FILES: &[(&str, &[u8])] = &[\n{entries}];\n"
    );
    std::fs::write(out.join("vendor.rs"), source).expect("write vendor.rs");
}

fn npm_ci(web: &Path) {
    let result = Command::new("npm")
        .args(["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(web)
        .status();
    match result {
        Ok(status) if status.success() => {}
        Ok(status) => println!("cargo:warning=npm ci in web/ failed ({status})"),
        Err(e) => println!("cargo:warning=npm is not available ({e})"),
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"))
}
