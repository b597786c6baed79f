//! End-to-end checks of a signed pass with independent tools: the `openssl` CLI, `unzip`, and
//! the team's `../shared/tools/verify-pkpass.sh` when it sits beside the checkout (required in CI;
//! a plain clone has no `../shared` and checks with openssl alone).

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use openssl::hash::{MessageDigest, hash};
use tempfile::TempDir;
use zip::write::SimpleFileOptions;
use zip::{ZipArchive, ZipWriter};

use super::pass::FieldValue;
use super::*;

const PASS_TYPE_ID: &str = "pass.com.example.loyalty";
const TEAM_ID: &str = "ABCDE12345";

struct Fixture {
    dir: TempDir,
    identity: SigningIdentity,
    design: Design,
}

/// RSA key generation is the slow part: one chain for the whole module.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let (dir, identity) = (0..20)
        .map(|_| {
            let dir = tempfile::tempdir().expect("tempdir");
            let identity = generate_dev_chain(dir.path(), PASS_TYPE_ID, TEAM_ID).expect("dev chain");
            (dir, identity)
        })
        .find(|(_, identity)| checker_can_read(identity))
        .expect("a chain verify-pkpass.sh can read");
    let design = Design::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/passes/default")).expect("design");
    Fixture { dir, identity, design }
});

/// verify-pkpass.sh cuts certificates out with `awk '/BEGIN/,/END/'`, which also stops at a base64
/// line that happens to contain "END" (about 1% of random certificates), then fails to parse them.
/// Such a chain is valid; the tests skip it so they do not fail at random.
fn checker_can_read(identity: &SigningIdentity) -> bool {
    [identity.certificate(), identity.wwdr()].iter().all(|cert| {
        let pem = String::from_utf8(cert.to_pem().expect("pem")).expect("ascii");
        pem.lines().filter(|l| !l.starts_with("-----")).all(|l| !l.contains("END") && !l.contains("BEGIN"))
    })
}

fn sample_input() -> PassInput {
    PassInput {
        message: None,
        program_name: "Café Central".into(),
        organization: None,
        serial: "0190f5b2-7c1a-7d3e-9a4b-123456789abc".into(),
        auth_token: "3f9c1d2e8a7b4c6d9e0f1a2b3c4d5e6f".into(),
        barcode: "0123456789ABCDEFGHJKMNPQRS".into(),
        display_number: "1234 5678 9012".into(),
        balance: 1250,
        member_first_name: Some("Zoé".into()),
        tier: Some("Velours".into()),
        expiry: Some("120 points expire on 31 Mar 2027".into()),
        referral_link: Some("https://example.com/r/ZOE42".into()),
        recent: vec!["2026-11-30  +12".into(), "2026-11-29  -50".into()],
        vouchers_summary: Some("1 · expire le 31/05".into()),
        vouchers: vec!["5,00\u{a0}€ · K7MX-2QE9-AB4 · jusqu'au 31/05/2026".into()],
        voided: false,
        web_service_url: "https://wallet.example.com/passkit/".into(),
        pass_type_id: PASS_TYPE_ID.into(),
        team_id: TEAM_ID.into(),
    }
}

fn root_pem() -> PathBuf {
    FIXTURE.dir.path().join("root.pem")
}

fn write_pkpass(bytes: &[u8]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("card.pkpass");
    std::fs::write(&path, bytes).expect("write pkpass");
    (dir, path)
}

fn entries(pkpass: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(Cursor::new(pkpass)).expect("zip");
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).expect("entry");
            let mut data = Vec::new();
            file.read_to_end(&mut data).expect("read entry");
            (file.name().expect("entry name").into_owned(), data)
        })
        .collect()
}

fn rezip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        zip.start_file(name.as_str(), SimpleFileOptions::default()).expect("start");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `openssl smime -verify` of the unzipped signature against the dev root.
fn openssl_verifies(pkpass: &[u8]) -> (bool, String) {
    let (dir, path) = write_pkpass(pkpass);
    let out = dir.path().join("x");
    let (ok, log) = run(Command::new("unzip").arg("-q").arg(&path).arg("-d").arg(&out));
    assert!(ok, "unzip: {log}");
    run(Command::new("openssl")
        .args(["smime", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-out", "/dev/null", "-in"])
        .arg(out.join("signature"))
        .arg("-content")
        .arg(out.join("manifest.json"))
        .arg("-CAfile")
        .arg(root_pem()))
}

/// The shared checker's verdict, or None when it is not there (and `CI` is not set).
fn verify_script(pkpass: &[u8]) -> Option<(bool, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/verify-pkpass.sh");
    if !script.is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} is missing: CI has shared/ beside the checkout",
            script.display()
        );
        eprintln!("verify-pkpass.sh is not beside the checkout: openssl alone checks the pass");
        return None;
    }
    let (_dir, path) = write_pkpass(pkpass);
    Some(run(Command::new("bash").arg(&script).arg(&path).arg(root_pem())))
}

fn sample_pkpass() -> Vec<u8> {
    render(&FIXTURE.identity, &FIXTURE.design, &sample_input()).expect("render")
}

#[test]
fn a_signed_pass_verifies_with_the_openssl_cli_and_the_shared_checker() {
    let pkpass = sample_pkpass();
    let (ok, log) = openssl_verifies(&pkpass);
    assert!(ok && log.contains("Verification successful"), "openssl smime -verify failed:\n{log}");
    if let Some((ok, log)) = verify_script(&pkpass) {
        println!("verify-pkpass.sh:\n{log}");
        assert!(ok, "verify-pkpass.sh failed:\n{log}");
        assert!(log.contains("signer matches pass.com.example.loyalty / ABCDE12345"), "{log}");
    }
}

#[test]
fn the_manifest_lists_every_file_with_its_sha1() {
    let files = entries(&sample_pkpass());
    let manifest_bytes = &files.iter().find(|(n, _)| n == "manifest.json").expect("manifest").1;
    let manifest: std::collections::BTreeMap<String, String> = serde_json::from_slice(manifest_bytes).expect("json");
    let listed: Vec<&str> =
        files.iter().map(|(n, _)| n.as_str()).filter(|n| *n != "manifest.json" && *n != "signature").collect();
    assert_eq!(manifest.len(), listed.len(), "manifest {manifest:?} vs archive {listed:?}");
    for (name, data) in files.iter().filter(|(n, _)| n != "manifest.json" && n != "signature") {
        let expected = hex::encode(hash(MessageDigest::sha1(), data).expect("sha1"));
        assert_eq!(manifest.get(name), Some(&expected), "{name}");
    }
    for required in ["pass.json", "icon.png", "icon@2x.png", "en.lproj/pass.strings", "fr.lproj/pass.strings"] {
        assert!(manifest.contains_key(required), "{required} not in manifest");
    }
}

#[test]
fn the_signature_is_detached_and_carries_signing_time_and_the_wwdr_certificate() {
    let files = entries(&sample_pkpass());
    let signature = &files.iter().find(|(n, _)| n == "signature").expect("signature").1;
    let (dir, _) = write_pkpass(b"");
    let path = dir.path().join("signature");
    std::fs::write(&path, signature).expect("write");
    let (ok, log) = run(Command::new("openssl").args(["cms", "-cmsout", "-print", "-inform", "DER", "-in"]).arg(&path));
    assert!(ok, "{log}");
    assert!(log.contains("signingTime"), "no signingTime:\n{log}");
    assert!(log.contains("eContent: <ABSENT>"), "not detached:\n{log}");
    assert!(log.contains("Apple Worldwide Developer Relations Certification Authority"), "no WWDR:\n{log}");
}

#[test]
fn pass_json_has_the_store_card_fields() {
    let pass = pass::pass(&sample_input(), &FIXTURE.design).expect("pass");
    assert_eq!(pass.web_service_url, "https://wallet.example.com/passkit", "trailing slash kept");
    assert_eq!(pass.organization_name, "Café Central", "the programme, not the design's sample shop");
    assert_eq!(pass.barcodes[0].format, "PKBarcodeFormatQR");
    assert_eq!(pass.barcodes[0].alt_text.as_deref(), Some("1234 5678 9012"));
    let primary = &pass.store_card.primary_fields[0];
    assert_eq!((primary.key, &primary.value), ("balance", &FieldValue::Number(1250)));
    let card = &pass.store_card;
    let keys: Vec<&str> =
        [&card.header_fields, &card.primary_fields, &card.secondary_fields, &card.auxiliary_fields, &card.back_fields]
            .into_iter()
            .flatten()
            .map(|f| f.key)
            .collect();
    assert_eq!(
        keys,
        [
            "balance",
            "member",
            "tier",
            "vouchers",
            "number",
            "expiry",
            "referral",
            "vouchers_list",
            "recent",
            "terms",
            "contact"
        ]
    );
    let tier = &card.secondary_fields[1];
    assert_eq!(
        (&tier.value, tier.label, tier.change_message),
        (&FieldValue::Text("Velours".into()), Some("encarte.tier.label"), Some("encarte.tier.changed"))
    );
    let untiered = pass::pass(&PassInput { tier: None, ..sample_input() }, &FIXTURE.design).expect("pass");
    assert!(untiered.store_card.secondary_fields.iter().all(|f| f.key != "tier"), "no tiers, no field");
    let vouchers = &card.auxiliary_fields[0];
    assert_eq!(vouchers.value, FieldValue::Text("1 · expire le 31/05".into()));
    assert_eq!(
        (vouchers.label, vouchers.change_message),
        (Some("encarte.vouchers.label"), Some("encarte.vouchers.changed"))
    );
    // No usable voucher: no field at all, rather than a "0" on every glance.
    let none = pass::pass(&PassInput { vouchers_summary: None, vouchers: vec![], ..sample_input() }, &FIXTURE.design)
        .expect("pass");
    assert!(none.store_card.auxiliary_fields.is_empty());
    assert!(none.store_card.back_fields.iter().all(|f| f.key != "vouchers_list"));
    let recent = card.back_fields.iter().find(|f| f.key == "recent").expect("recent");
    assert_eq!(recent.value, FieldValue::Text("2026-11-30  +12\n2026-11-29  -50".into()));
    assert!(!pass.voided);
    let json: serde_json::Value =
        serde_json::from_slice(&pass_json(&sample_input(), &FIXTURE.design).expect("json")).expect("parse");
    assert_eq!(json["formatVersion"], 1);
    assert_eq!(json["storeCard"]["primaryFields"][0]["changeMessage"], "encarte.points.changed");
    assert_eq!(json["webServiceURL"], "https://wallet.example.com/passkit");
}

#[test]
fn strings_files_are_utf16_and_translate_every_key_used() {
    let strings = pass_strings(&FIXTURE.design);
    let fr = &strings.iter().find(|(n, _)| n == "fr.lproj/pass.strings").expect("fr").1;
    assert_eq!(fr[..2], [0xff, 0xfe], "byte-order mark");
    let units: Vec<u16> = fr[2..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let text = String::from_utf16(&units).expect("utf-16");
    assert!(text.contains("\"encarte.points.changed\" = \"Vous avez maintenant %@ points\";"), "{text}");
    assert!(text.contains("\"encarte.terms.text\" = \"Les points"), "{text}");
}

#[test]
fn invalid_inputs_are_refused() {
    let short = PassInput { auth_token: "too-short".into(), ..sample_input() };
    assert!(matches!(pass_json(&short, &FIXTURE.design), Err(PassError::ShortAuthToken(9))));
    let bare = PassInput { web_service_url: "wallet.example.com/passkit".into(), ..sample_input() };
    assert!(matches!(pass_json(&bare, &FIXTURE.design), Err(PassError::WebServiceUrl(_))));
    // Plain http is the operator's choice (iPhones in developer mode accept it); start-up warns.
    let http = PassInput { web_service_url: "http://wallet.example.com/passkit/".into(), ..sample_input() };
    let pass: serde_json::Value = serde_json::from_slice(&pass_json(&http, &FIXTURE.design).unwrap()).unwrap();
    assert_eq!(pass["webServiceURL"], "http://wallet.example.com/passkit");
}

#[test]
fn tampering_with_pass_json_breaks_verification() {
    let files = entries(&sample_pkpass());
    let tampered: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, d)| {
            let data = if n == "pass.json" {
                String::from_utf8_lossy(d).replace("1250", "99999").into_bytes()
            } else {
                d.clone()
            };
            (n.clone(), data)
        })
        .collect();
    // Only pass.json changed: the manifest hash no longer matches.
    if let Some((ok, log)) = verify_script(&rezip(&tampered)) {
        assert!(!ok, "tampered pass.json accepted:\n{log}");
        assert!(log.contains("bad hash pass.json"), "{log}");
    }

    // The manifest updated too: now the signature no longer matches the manifest.
    let pass_sha1 = hex::encode(hash(MessageDigest::sha1(), &tampered[0].1).expect("sha1"));
    let forged: Vec<(String, Vec<u8>)> = tampered
        .into_iter()
        .map(|(n, d)| {
            if n != "manifest.json" {
                return (n, d);
            }
            let mut manifest: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&d).expect("json");
            manifest.insert("pass.json".into(), pass_sha1.clone().into());
            (n, serde_json::to_vec(&manifest).expect("json"))
        })
        .collect();
    let (ok, log) = openssl_verifies(&rezip(&forged));
    assert!(!ok, "forged manifest accepted:\n{log}");
    if let Some((ok, log)) = verify_script(&rezip(&forged)) {
        assert!(!ok, "forged manifest accepted by verify-pkpass.sh:\n{log}");
    }
}

#[test]
fn a_mismatched_pass_type_id_or_team_is_refused() {
    let identity = &FIXTURE.identity;
    assert_eq!((identity.pass_type_id(), identity.team_id()), (PASS_TYPE_ID, TEAM_ID));
    assert!(identity.check(Some(PASS_TYPE_ID), Some(TEAM_ID)).is_ok());
    assert!(identity.check(None, None).is_ok());
    let err = identity.check(Some("pass.com.example.other"), None).expect_err("mismatch");
    assert!(matches!(err, CertError::Mismatch { what: "pass type identifier", .. }), "{err}");
    assert!(matches!(identity.check(None, Some("ZZZZZ99999")), Err(CertError::Mismatch { .. })));
    let input = PassInput { pass_type_id: "pass.com.example.other".into(), ..sample_input() };
    assert!(matches!(render(identity, &FIXTURE.design, &input), Err(PkpassError::Cert(CertError::Mismatch { .. }))));
}

#[test]
fn the_dev_chain_is_loaded_not_regenerated_and_its_key_is_private() {
    let again = generate_dev_chain(FIXTURE.dir.path(), PASS_TYPE_ID, TEAM_ID).expect("reload");
    let first = FIXTURE.identity.certificate().to_der().expect("der");
    assert_eq!(again.certificate().to_der().expect("der"), first);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(FIXTURE.dir.path().join("pass.key")).expect("key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let err = generate_dev_chain(FIXTURE.dir.path(), "pass.com.example.other", TEAM_ID).expect_err("other id");
    assert!(matches!(err, CertError::Mismatch { .. }), "{err}");
}

#[test]
fn identities_load_from_pem_and_p12_and_reject_a_foreign_key() {
    let dir = FIXTURE.dir.path();
    let read = |f: &str| std::fs::read(dir.join(f)).expect("read");
    let identity = SigningIdentity::from_pem(&read("pass.pem"), &read("pass.key"), &read("wwdr.pem")).expect("pem");
    assert_eq!(identity.pass_type_id(), PASS_TYPE_ID);

    let p12 = openssl::pkcs12::Pkcs12::builder()
        .name("pass")
        .pkey(&openssl::pkey::PKey::private_key_from_pem(&read("pass.key")).expect("key"))
        .cert(identity.certificate())
        .build2("secret")
        .expect("p12");
    let der = p12.to_der().expect("der");
    let from_p12 = SigningIdentity::from_p12(&der, "secret", &read("wwdr.pem")).expect("p12 identity");
    assert_eq!(from_p12.team_id(), TEAM_ID);
    assert!(matches!(SigningIdentity::from_p12(&der, "wrong", &read("wwdr.pem")), Err(CertError::Pkcs12(_))));

    let other_key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa")).expect("pkey");
    let other_pem = other_key.private_key_to_pem_pkcs8().expect("pem");
    let err = SigningIdentity::from_pem(&read("pass.pem"), &other_pem, &read("wwdr.pem")).expect_err("foreign key");
    assert!(matches!(err, CertError::KeyMismatch), "{err}");
    // The root did not issue the pass certificate: as if the wrong WWDR generation were configured.
    let err =
        SigningIdentity::from_pem(&read("pass.pem"), &read("pass.key"), &read("root.pem")).expect_err("wrong wwdr");
    assert!(matches!(err, CertError::WrongIssuer(_)), "{err}");
}

#[test]
fn a_keychain_style_legacy_p12_loads() {
    let dir = FIXTURE.dir.path();
    let out = tempfile::tempdir().expect("tempdir");
    let p12 = out.path().join("legacy.p12");
    // RC2-40, like a macOS Keychain export: OpenSSL 3 reads it only with the legacy provider.
    let (ok, log) = run(Command::new("openssl")
        .args(["pkcs12", "-export", "-legacy", "-passout", "pass:secret", "-inkey"])
        .arg(dir.join("pass.key"))
        .arg("-in")
        .arg(dir.join("pass.pem"))
        .arg("-out")
        .arg(&p12));
    assert!(ok, "openssl pkcs12 -export -legacy: {log}");
    let wwdr = std::fs::read(dir.join("wwdr.pem")).expect("wwdr");
    let identity = SigningIdentity::from_p12(&std::fs::read(&p12).expect("p12"), "secret", &wwdr).expect("legacy p12");
    assert_eq!(identity.pass_type_id(), PASS_TYPE_ID);
}
