//! Verification of Google Wallet save / delete callbacks (spec §5). They are "ECv2SigningOnly" envelopes, not JWTs:
//! Google's long-lived root keys sign a short-lived intermediate key, which signs the message. The checks follow
//! Tink's `PaymentMethodTokenRecipient`, the verifier Google's docs name, so that whatever it accepts we accept.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, PKey, PKeyRef, Public};
use openssl::sign::Verifier;
use serde_json::{Map, Value};

pub const PROTOCOL: &str = "ECv2SigningOnly";

/// Google's own code and every open-source verifier use `GooglePayPasses`; newer docs say `GoogleWalletPasses`. The
/// sender is part of the signed bytes, so trying both costs at most two more ECDSA checks and survives a switch.
pub const SENDERS: [&str; 2] = ["GooglePayPasses", "GoogleWalletPasses"];

/// One of Google's root signing keys, as served at the keys URL.
#[derive(Debug, Clone)]
pub struct RootKey {
    key: PKey<Public>,
    expires_ms: i64,
}

impl RootKey {
    /// Kept so that a cached key set can be refreshed before a key silently stops being usable.
    pub fn expires_at_ms(&self) -> i64 {
        self.expires_ms
    }
}

/// What a callback's timestamp check found stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    IntermediateKey,
    Message,
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expiry::IntermediateKey => "intermediate signing key",
            Expiry::Message => "message",
        })
    }
}

/// Messages name the part of the envelope at fault, never its content: it carries keys and signatures, and the
/// unverified parts are attacker-controlled text that would otherwise end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("malformed callback: {0}")]
    Malformed(String),
    #[error("unsupported callback protocolVersion (only {PROTOCOL} is accepted)")]
    UnsupportedProtocol,
    #[error("no unexpired Google root key: the keys need refetching")]
    NoUsableRootKey,
    #[error("the callback signature does not verify against Google's keys")]
    BadSignature,
    #[error("the callback {0} has expired")]
    Expired(Expiry),
    #[error("the callback is for a class of another issuer")]
    WrongIssuer,
    #[error("unknown callback eventType {0:?}")]
    UnknownEvent(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventType {
    Save,
    Delete,
}

/// The signed message of a verified callback; `nonce` is what duplicates (Google retries) are recognised by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackMessage {
    pub class_id: String,
    pub object_id: String,
    pub event: EventType,
    pub nonce: String,
    pub exp_time_millis: i64,
}

/// Parses the keys document, keeping valid, unexpired ECv2SigningOnly keys; error when none is usable.
///
/// Entries we cannot use are skipped rather than failing the document: Google serves keys of other protocols at
/// the same URL, and one usable key is enough.
pub fn parse_root_keys(json: &[u8], now_ms: i64) -> Result<Vec<RootKey>, CallbackError> {
    let doc = parse_object(json.trim_ascii(), "the keys document")?;
    let Some(Value::Array(entries)) = doc.get("keys") else {
        return Err(malformed("the keys document has no `keys` array"));
    };
    let keys: Vec<RootKey> = entries.iter().filter_map(|entry| root_key(entry, now_ms)).collect();
    if keys.is_empty() { Err(CallbackError::NoUsableRootKey) } else { Ok(keys) }
}

fn root_key(entry: &Value, now_ms: i64) -> Option<RootKey> {
    let entry = entry.as_object()?;
    if entry.get("protocolVersion")?.as_str()? != PROTOCOL {
        return None;
    }
    let expires_ms = millis(entry.get("keyExpiration"))?;
    if expires_ms <= now_ms {
        return None;
    }
    let key = p256_key(entry.get("keyValue")?.as_str()?, "keyValue").ok()?;
    Some(RootKey { key, expires_ms })
}

/// The earliest expiration among the keys (for caching).
pub fn keys_expire_at(keys: &[RootKey]) -> Option<i64> {
    keys.iter().map(|k| k.expires_ms).min()
}

/// Verifies the raw body (exact bytes as received) and returns the signed message.
///
/// Root keys past their expiration are ignored here too, since a cached set outlives its fetch; when none is left
/// the error is `NoUsableRootKey`, the caller's cue to refetch (and the only one: refetching on every bad signature
/// would let anyone make us hammer Google).
pub fn verify(
    body: &[u8],
    issuer_id: &str,
    root_keys: &[RootKey],
    now_ms: i64,
) -> Result<CallbackMessage, CallbackError> {
    let envelope = parse_object(body, "the body")?;
    if str_field(&envelope, "protocolVersion")? != PROTOCOL {
        return Err(CallbackError::UnsupportedProtocol);
    }
    let signature = b64(str_field(&envelope, "signature")?, "signature")?;
    let signed_message = str_field(&envelope, "signedMessage")?;
    let Some(Value::Object(intermediate)) = envelope.get("intermediateSigningKey") else {
        return Err(malformed("intermediateSigningKey is missing or not an object"));
    };
    let signed_key = str_field(intermediate, "signedKey")?;
    let Some(Value::Array(key_signatures)) = intermediate.get("signatures") else {
        return Err(malformed("intermediateSigningKey.signatures is missing or not an array"));
    };
    let key_signatures = key_signatures
        .iter()
        .map(|s| {
            s.as_str().ok_or_else(|| malformed("a key signature is not a string")).and_then(|s| b64(s, "signatures"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if key_signatures.is_empty() {
        return Err(malformed("intermediateSigningKey.signatures is empty"));
    }
    let roots: Vec<&PKey<Public>> = root_keys.iter().filter(|k| k.expires_ms > now_ms).map(|k| &k.key).collect();
    if roots.is_empty() {
        return Err(CallbackError::NoUsableRootKey);
    }

    // The sender must be the same in both signatures, hence one loop over senders around both checks.
    for sender in SENDERS {
        let key_bytes = lv(&[sender, PROTOCOL, signed_key])?;
        if !key_signatures.iter().any(|sig| roots.iter().any(|root| ecdsa_ok(root, &key_bytes, sig))) {
            continue;
        }
        // Parsed only once Google vouched for it: before that it is any attacker's text.
        let intermediate = parse_object(signed_key.as_bytes(), "signedKey")?;
        let key_expiration = millis(intermediate.get("keyExpiration"))
            .ok_or_else(|| malformed("signedKey.keyExpiration is missing or not milliseconds"))?;
        if key_expiration <= now_ms {
            return Err(CallbackError::Expired(Expiry::IntermediateKey));
        }
        let key = p256_key(str_field(&intermediate, "keyValue")?, "signedKey.keyValue")?;
        if ecdsa_ok(&key, &lv(&[sender, issuer_id, PROTOCOL, signed_message])?, &signature) {
            return parse_message(signed_message, issuer_id, now_ms);
        }
    }
    Err(CallbackError::BadSignature)
}

fn parse_message(signed_message: &str, issuer_id: &str, now_ms: i64) -> Result<CallbackMessage, CallbackError> {
    let message = parse_object(signed_message.as_bytes(), "signedMessage")?;
    let exp_time_millis = millis(message.get("expTimeMillis"))
        .ok_or_else(|| malformed("signedMessage.expTimeMillis is missing or not milliseconds"))?;
    if exp_time_millis <= now_ms {
        return Err(CallbackError::Expired(Expiry::Message));
    }
    let class_id = str_field(&message, "classId")?;
    // The signature already binds the issuer; this catches a class ID that names someone else's class anyway.
    if !class_id.strip_prefix(issuer_id).is_some_and(|rest| rest.starts_with('.')) {
        return Err(CallbackError::WrongIssuer);
    }
    let event = match str_field(&message, "eventType")? {
        "save" => EventType::Save,
        "del" => EventType::Delete,
        other => return Err(CallbackError::UnknownEvent(other.chars().take(32).collect())),
    };
    Ok(CallbackMessage {
        class_id: class_id.to_owned(),
        object_id: str_field(&message, "objectId")?.to_owned(),
        event,
        nonce: str_field(&message, "nonce")?.to_owned(),
        exp_time_millis,
    })
}

/// `LV(x) = u32_le(len(x)) || x` for each part; `None` past 4 GiB, which no real callback comes near.
fn lv_bytes(parts: &[&str]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for part in parts {
        out.extend_from_slice(&u32::try_from(part.len()).ok()?.to_le_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    Some(out)
}

fn lv(parts: &[&str]) -> Result<Vec<u8>, CallbackError> {
    lv_bytes(parts).ok_or_else(|| malformed("a signed field is too long"))
}

fn ecdsa_ok<T: HasPublic>(key: &PKeyRef<T>, data: &[u8], der_signature: &[u8]) -> bool {
    Verifier::new(MessageDigest::sha256(), key).and_then(|mut v| v.verify_oneshot(der_signature, data)).unwrap_or(false)
}

/// Only P-256 is part of the protocol; refusing other curves keeps a weaker key from being slipped in.
fn p256_key(spki_b64: &str, what: &str) -> Result<PKey<Public>, CallbackError> {
    let der = b64(spki_b64, what)?;
    PKey::public_key_from_der(&der)
        .ok()
        .filter(|key| key.ec_key().ok().and_then(|ec| ec.group().curve_name()) == Some(Nid::X9_62_PRIME256V1))
        .ok_or_else(|| malformed(format!("{what} is not a P-256 public key")))
}

fn b64(text: &str, what: &str) -> Result<Vec<u8>, CallbackError> {
    STANDARD.decode(text).map_err(|_| malformed(format!("{what} is not base64")))
}

fn parse_object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, CallbackError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(malformed(format!("{what} is not a JSON object"))),
    }
}

fn str_field<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a str, CallbackError> {
    object.get(name).and_then(Value::as_str).ok_or_else(|| malformed(format!("{name} is missing or not a string")))
}

/// Google writes milliseconds as strings in keys and as numbers in messages; like Tink, accept either anywhere.
fn millis(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn malformed(why: impl Into<String>) -> CallbackError {
    CallbackError::Malformed(why.into())
}

/// For tests and local mocks of Google (used by integration tests in another file, so it is NOT cfg(test)):
pub mod test_support {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::pkey::Private;
    use openssl::sign::Signer;
    use serde_json::json;

    use super::{Engine, MessageDigest, Nid, PKey, PROTOCOL, STANDARD, lv_bytes};

    /// A fake Google signing chain: a P-256 root key and an intermediate key signed by it.
    pub struct FakeGoogle {
        pub(super) root: PKey<Private>,
        pub(super) intermediate: PKey<Private>,
    }

    impl Default for FakeGoogle {
        fn default() -> Self {
            Self::new()
        }
    }

    impl FakeGoogle {
        pub fn new() -> FakeGoogle {
            FakeGoogle { root: p256(), intermediate: p256() }
        }

        /// The keys document Google would serve at the keys URL, with expiration `expires_ms`.
        pub fn keys_json(&self, expires_ms: i64) -> String {
            let key = json!({"keyValue": spki_b64(&self.root), "protocolVersion": PROTOCOL, "keyExpiration": expires_ms.to_string()});
            json!({ "keys": [key] }).to_string()
        }

        /// A callback envelope exactly as Google sends it, for this issuer and message fields, signed with `sender`.
        #[expect(clippy::too_many_arguments, reason = "one argument per field of Google's message")]
        pub fn envelope(
            &self,
            sender: &str,
            issuer_id: &str,
            class_id: &str,
            object_id: &str,
            event: &str,
            nonce: &str,
            exp_time_millis: i64,
            key_expiration_ms: i64,
        ) -> String {
            let message = json!({"classId": class_id, "objectId": object_id, "eventType": event,
                "expTimeMillis": exp_time_millis, "count": 1, "nonce": nonce});
            self.envelope_for_message(sender, issuer_id, &message.to_string(), key_expiration_ms)
        }

        /// An envelope around any `signedMessage`, including ones Google would never send.
        pub fn envelope_for_message(
            &self,
            sender: &str,
            issuer_id: &str,
            message: &str,
            key_expiration_ms: i64,
        ) -> String {
            let signed_key = signed_key_json(&spki_b64(&self.intermediate), &key_expiration_ms.to_string());
            assemble(&self.root, &self.intermediate, [sender, sender], issuer_id, &signed_key, message)
        }
    }

    pub(super) fn signed_key_json(key_value: &str, key_expiration: &str) -> String {
        json!({ "keyValue": key_value, "keyExpiration": key_expiration }).to_string()
    }

    /// `senders` are those of the key signature and the message signature, which Google keeps equal.
    pub(super) fn assemble(
        root: &PKey<Private>,
        intermediate: &PKey<Private>,
        senders: [&str; 2],
        issuer_id: &str,
        signed_key: &str,
        message: &str,
    ) -> String {
        let key_signature = sign(root, &[senders[0], PROTOCOL, signed_key]);
        let signature = sign(intermediate, &[senders[1], issuer_id, PROTOCOL, message]);
        json!({
            "protocolVersion": PROTOCOL,
            "signature": signature,
            "intermediateSigningKey": { "signedKey": signed_key, "signatures": [key_signature] },
            "signedMessage": message,
        })
        .to_string()
    }

    pub(super) fn p256() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256 is built into openssl");
        PKey::from_ec_key(EcKey::generate(&group).expect("EC key generation")).expect("EC key into PKey")
    }

    pub(super) fn spki_b64(key: &PKey<Private>) -> String {
        STANDARD.encode(key.public_key_to_der().expect("SPKI DER of an EC key"))
    }

    fn sign(key: &PKey<Private>, parts: &[&str]) -> String {
        let data = lv_bytes(parts).expect("test parts are short");
        let mut signer = Signer::new(MessageDigest::sha256(), key).expect("ECDSA signer");
        STANDARD.encode(signer.sign_oneshot_to_vec(&data).expect("ECDSA signature"))
    }
}

#[cfg(test)]
mod tests;
