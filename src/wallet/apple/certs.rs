//! The Pass Type ID certificate that signs passes, and a fake Apple chain for development.
//!
//! Apple's Wallet accepts a pass only when its `passTypeIdentifier` and `teamIdentifier` equal the
//! signer certificate's subject UID and OU, and when the signature carries the WWDR intermediate
//! that issued it. Both mistakes give the same opaque "invalid pass" on the phone, so they are
//! refused here, at load time, instead.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::provider::Provider;
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Extension, X509Name, X509NameRef};

/// Apple's OID for "Pass Type ID" certificates; validators compare its value to passTypeIdentifier.
const PASS_TYPE_ID_OID: &str = "1.2.840.113635.100.6.1.16";
const CN_PREFIX: &str = "Pass Type ID: ";
/// Pass Type ID certificates issued since 2022 chain to the G4 intermediate (spec §0.3, §5.1).
const WWDR_OU: &str = "G4";
const DAY_SECONDS: i64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("openssl: {0}")]
    OpenSsl(#[from] ErrorStack),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("cannot read the PKCS#12 file (wrong password, or a format this OpenSSL cannot decrypt): {0}")]
    Pkcs12(ErrorStack),
    #[error("the PKCS#12 file holds no {0}")]
    Pkcs12Missing(&'static str),
    #[error("the private key does not belong to the pass certificate")]
    KeyMismatch,
    #[error("the certificate subject has no {0}: is this a Pass Type ID certificate?")]
    MissingSubjectField(&'static str),
    #[error("the pass certificate was not issued by the given WWDR certificate ({0})")]
    WrongIssuer(String),
    #[error("the WWDR intermediate is {found:?}, pass certificates need OU={WWDR_OU} (Apple WWDR G4)")]
    WrongIntermediate { found: String },
    #[error("configured {what} {configured:?} does not match the certificate's {certificate:?}")]
    Mismatch { what: &'static str, configured: String, certificate: String },
    #[error("the pass certificate expired on {0}: newly signed passes would be refused")]
    Expired(String),
    #[error(
        "{dir}: only some of the development certificate files exist ({missing} missing); delete them all to regenerate"
    )]
    PartialDevChain { dir: String, missing: String },
}

/// The signer of passes: Pass Type ID certificate, its private key and the WWDR intermediate.
pub struct SigningIdentity {
    cert: X509,
    key: PKey<Private>,
    wwdr: X509,
    pass_type_id: String,
    team_id: String,
}

impl std::fmt::Debug for SigningIdentity {
    // The key is left out so it never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("pass_type_id", &self.pass_type_id)
            .field("team_id", &self.team_id)
            .field("not_after", &self.cert.not_after().to_string())
            .finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// Certificate and WWDR as PEM; the key as PEM, PKCS#1 or PKCS#8 (unencrypted).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], wwdr_pem: &[u8]) -> Result<Self, CertError> {
        let cert = X509::from_pem(cert_pem)?;
        let key = PKey::private_key_from_pem(key_pem)?;
        let wwdr = X509::from_pem(wwdr_pem)?;
        Self::new(cert, key, wwdr)
    }

    /// A `.p12` exported from the macOS Keychain, plus the WWDR intermediate as PEM.
    ///
    /// Keychain exports use RC2-40, which OpenSSL 3 only decrypts with its legacy provider; that
    /// provider is loaded (once, for the life of the process) only if the first attempt fails.
    pub fn from_p12(p12: &[u8], password: &str, wwdr_pem: &[u8]) -> Result<Self, CertError> {
        let parsed = Pkcs12::from_der(p12).and_then(|p| p.parse2(password)).or_else(|first| {
            if load_legacy_provider() {
                Pkcs12::from_der(p12).and_then(|p| p.parse2(password)).map_err(CertError::Pkcs12)
            } else {
                Err(CertError::Pkcs12(first))
            }
        })?;
        let cert = parsed.cert.ok_or(CertError::Pkcs12Missing("certificate"))?;
        let key = parsed.pkey.ok_or(CertError::Pkcs12Missing("private key"))?;
        Self::new(cert, key, X509::from_pem(wwdr_pem)?)
    }

    fn new(cert: X509, key: PKey<Private>, wwdr: X509) -> Result<Self, CertError> {
        if !cert.public_key()?.public_eq(&key) {
            return Err(CertError::KeyMismatch);
        }
        let issuer = name_field(cert.issuer_name(), Nid::COMMONNAME).unwrap_or_default();
        let wwdr_public = wwdr.public_key()?;
        if !cert.verify(&wwdr_public)? {
            return Err(CertError::WrongIssuer(issuer));
        }
        let wwdr_ou = name_field(wwdr.subject_name(), Nid::ORGANIZATIONALUNITNAME).unwrap_or_default();
        if wwdr_ou != WWDR_OU {
            return Err(CertError::WrongIntermediate { found: wwdr_ou });
        }
        let subject = cert.subject_name();
        let pass_type_id = name_field(subject, Nid::USERID)
            .or_else(|| name_field(subject, Nid::COMMONNAME)?.strip_prefix(CN_PREFIX).map(str::to_owned))
            .ok_or(CertError::MissingSubjectField("UID (pass type identifier)"))?;
        let team_id = name_field(subject, Nid::ORGANIZATIONALUNITNAME)
            .ok_or(CertError::MissingSubjectField("OU (team identifier)"))?;
        Ok(SigningIdentity { cert, key, wwdr, pass_type_id, team_id })
    }

    /// Refuses a configuration that disagrees with the certificate, and an expired certificate.
    /// `None` means "not configured: take the certificate's value".
    pub fn check(&self, pass_type_id: Option<&str>, team_id: Option<&str>) -> Result<(), CertError> {
        for (what, configured, certificate) in
            [("pass type identifier", pass_type_id, &self.pass_type_id), ("team identifier", team_id, &self.team_id)]
        {
            if let Some(configured) = configured.filter(|c| c != certificate) {
                return Err(CertError::Mismatch {
                    what,
                    configured: configured.to_owned(),
                    certificate: certificate.clone(),
                });
            }
        }
        let now = Asn1Time::days_from_now(0)?;
        if self.cert.not_after() < now {
            return Err(CertError::Expired(self.cert.not_after().to_string()));
        }
        Ok(())
    }

    /// Seconds until the certificate expires (negative once it has). Apple's last a year; after
    /// that new passes are refused by phones and pushes fail, so on-call watches this.
    pub fn seconds_left(&self) -> i64 {
        Asn1Time::days_from_now(0)
            .and_then(|now| now.diff(self.cert.not_after()))
            .map_or(0, |d| i64::from(d.days) * 86_400 + i64::from(d.secs))
    }

    pub fn pass_type_id(&self) -> &str {
        &self.pass_type_id
    }

    pub fn team_id(&self) -> &str {
        &self.team_id
    }

    pub fn certificate(&self) -> &X509 {
        &self.cert
    }

    pub(crate) fn key(&self) -> &PKey<Private> {
        &self.key
    }

    pub fn wwdr(&self) -> &X509 {
        &self.wwdr
    }
}

fn name_field(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid).next()?.data().to_string().ok()
}

/// Returns whether the legacy provider is (now) available.
fn load_legacy_provider() -> bool {
    static LOADED: OnceLock<bool> = OnceLock::new();
    *LOADED.get_or_init(|| match Provider::try_load(None, "legacy", true) {
        Ok(provider) => {
            // Unloading it would break every later RC2 decryption; it lives as long as the process.
            std::mem::forget(provider);
            true
        }
        Err(err) => {
            tracing::warn!(error = %err, "OpenSSL legacy provider unavailable: Keychain .p12 files cannot be read");
            false
        }
    })
}

const DEV_FILES: [&str; 4] = ["root.pem", "wwdr.pem", "pass.pem", "pass.key"];

/// A fake Apple root, a fake "WWDR G4" intermediate and a Pass Type ID leaf, for development and
/// tests: passes signed with it verify against `root.pem` but are refused by a real iPhone.
///
/// Writes `root.pem`, `wwdr.pem`, `pass.pem` and `pass.key` (mode 0600) into `dir`. When they
/// already exist they are loaded instead, so restarts keep the same chain; the CA keys are never
/// written, the chain cannot issue anything else.
pub fn generate_dev_chain(dir: &Path, pass_type_id: &str, team_id: &str) -> Result<SigningIdentity, CertError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| CertError::Io { path, source }
    };
    let present: Vec<bool> = DEV_FILES.iter().map(|f| dir.join(f).exists()).collect();
    if present.iter().all(|p| *p) {
        let read = |f: &str| fs::read(dir.join(f)).map_err(io(&dir.join(f)));
        let identity = SigningIdentity::from_pem(&read("pass.pem")?, &read("pass.key")?, &read("wwdr.pem")?)?;
        identity.check(Some(pass_type_id), Some(team_id))?;
        return Ok(identity);
    }
    if present.iter().any(|p| *p) {
        let missing: Vec<&str> = DEV_FILES.iter().zip(&present).filter(|(_, p)| !**p).map(|(f, _)| *f).collect();
        return Err(CertError::PartialDevChain { dir: dir.display().to_string(), missing: missing.join(", ") });
    }

    let root_key = rsa_key()?;
    let root_name = name(&[
        (Nid::COUNTRYNAME, "US"),
        (Nid::ORGANIZATIONNAME, "Fake Apple Inc."),
        (Nid::ORGANIZATIONALUNITNAME, "Fake Apple Certification Authority"),
        (Nid::COMMONNAME, "Fake Apple Root CA"),
    ])?;
    let root = issue(&root_name, &root_key, None, &root_key, 20 * 365, Role::Root)?;

    let wwdr_key = rsa_key()?;
    let wwdr_name = name(&[
        (Nid::COMMONNAME, "Apple Worldwide Developer Relations Certification Authority"),
        (Nid::ORGANIZATIONALUNITNAME, WWDR_OU),
        (Nid::ORGANIZATIONNAME, "Apple Inc."),
        (Nid::COUNTRYNAME, "US"),
    ])?;
    let wwdr = issue(&wwdr_name, &wwdr_key, Some(&root), &root_key, 10 * 365, Role::Intermediate)?;

    let pass_key = rsa_key()?;
    let cn = format!("{CN_PREFIX}{pass_type_id}");
    // This order is what `verify-pkpass.sh` greps for: "CN = Pass Type ID: <id>, OU = <team>".
    let pass_name = name(&[
        (Nid::USERID, pass_type_id),
        (Nid::COMMONNAME, &cn),
        (Nid::ORGANIZATIONALUNITNAME, team_id),
        (Nid::ORGANIZATIONNAME, "Encarte Development"),
        (Nid::COUNTRYNAME, "US"),
    ])?;
    let pass = issue(&pass_name, &pass_key, Some(&wwdr), &wwdr_key, 5 * 365, Role::PassTypeId(pass_type_id))?;

    fs::create_dir_all(dir).map_err(io(dir))?;
    for (file, bytes, private) in [
        ("root.pem", root.to_pem()?, false),
        ("wwdr.pem", wwdr.to_pem()?, false),
        ("pass.pem", pass.to_pem()?, false),
        ("pass.key", pass_key.private_key_to_pem_pkcs8()?, true),
    ] {
        write_new(&dir.join(file), &bytes, private).map_err(io(&dir.join(file)))?;
    }
    SigningIdentity::new(pass, pass_key, wwdr)
}

fn write_new(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    // create_new: two processes starting at once must not interleave two different chains.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    options.open(path)?.write_all(bytes)
}

fn rsa_key() -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

fn name(entries: &[(Nid, &str)]) -> Result<X509Name, ErrorStack> {
    let mut builder = X509Name::builder()?;
    for (nid, value) in entries {
        builder.append_entry_by_nid(*nid, value)?;
    }
    Ok(builder.build())
}

enum Role<'a> {
    Root,
    Intermediate,
    PassTypeId(&'a str),
}

/// `issuer` is `None` for the self-signed root.
fn issue(
    subject: &X509Name,
    subject_key: &PKey<Private>,
    issuer: Option<&X509>,
    issuer_key: &PKey<Private>,
    days: u32,
    role: Role<'_>,
) -> Result<X509, ErrorStack> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    // 127 random bits with the top one set: always 16 bytes, positive, no padding byte.
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::ONE, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(subject)?;
    match issuer {
        Some(issuer) => b.set_issuer_name(issuer.subject_name())?,
        None => b.set_issuer_name(subject)?,
    }
    b.set_pubkey(subject_key)?;
    // Backdated a day so a clock slightly behind ours does not see a not-yet-valid certificate.
    let not_before = Asn1Time::from_unix(now_unix() - DAY_SECONDS)?;
    let not_after = Asn1Time::days_from_now(days)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    match role {
        Role::Root | Role::Intermediate => {
            let mut constraints = BasicConstraints::new();
            constraints.critical().ca();
            if matches!(role, Role::Intermediate) {
                constraints.pathlen(0);
            }
            b.append_extension(constraints.build()?)?;
            b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build()?)?;
        }
        Role::PassTypeId(pass_type_id) => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
            b.append_extension(ExtendedKeyUsage::new().client_auth().build()?)?;
            let value = Asn1OctetString::new_from_bytes(&der_utf8_string(pass_type_id))?;
            let oid = Asn1Object::from_str(PASS_TYPE_ID_OID)?;
            b.append_extension(X509Extension::new_from_der(&oid, false, &value)?)?;
        }
    }
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer.map(|i| &**i), None))?;
    b.append_extension(ski)?;
    if issuer.is_some() {
        let aki = AuthorityKeyIdentifier::new().keyid(false).build(&b.x509v3_context(issuer.map(|i| &**i), None))?;
        b.append_extension(aki)?;
    }
    b.sign(issuer_key, MessageDigest::sha256())?;
    Ok(b.build())
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// DER of an ASN.1 UTF8String (tag 12), with the length in short or long form.
fn der_utf8_string(s: &str) -> Vec<u8> {
    let len = s.len();
    let mut out = vec![0x0c];
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
            out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
            out.extend(bytes);
        }
    }
    out.extend_from_slice(s.as_bytes());
    out
}
