use serde_json::json;

use super::test_support::{FakeGoogle, assemble, signed_key_json, spki_b64};
use super::*;

const NOW: i64 = 1_754_000_000_000;
const LATER: i64 = NOW + 3_600_000;
const ISSUER: &str = "3388000000022";
const CLASS: &str = "3388000000022.LOYALTY_CLASS_gold";
const OBJECT: &str = "3388000000022.m1";

fn roots(google: &FakeGoogle) -> Vec<RootKey> {
    parse_root_keys(google.keys_json(LATER).as_bytes(), NOW).unwrap()
}

fn envelope(
    google: &FakeGoogle,
    sender: &str,
    issuer: &str,
    class: &str,
    event: &str,
    exp: i64,
    key_exp: i64,
) -> String {
    google.envelope(sender, issuer, class, OBJECT, event, "nonce-1", exp, key_exp)
}

fn good(google: &FakeGoogle) -> String {
    envelope(google, SENDERS[0], ISSUER, CLASS, "save", LATER, LATER)
}

fn check(google: &FakeGoogle, body: &str) -> Result<CallbackMessage, CallbackError> {
    verify(body.as_bytes(), ISSUER, &roots(google), NOW)
}

fn edit(body: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut value: Value = serde_json::from_str(body).unwrap();
    change(value.as_object_mut().unwrap());
    value.to_string()
}

#[test]
fn good_envelope_verifies_with_both_senders() {
    let google = FakeGoogle::new();
    for (sender, event, expected) in [(SENDERS[0], "save", EventType::Save), (SENDERS[1], "del", EventType::Delete)] {
        let body = envelope(&google, sender, ISSUER, CLASS, event, LATER, LATER);
        let message = check(&google, &body).unwrap();
        let want = CallbackMessage {
            class_id: CLASS.into(),
            object_id: OBJECT.into(),
            event: expected,
            nonce: "nonce-1".into(),
            exp_time_millis: LATER,
        };
        assert_eq!(message, want, "sender {sender}");
    }
}

#[test]
fn tampered_signed_message_is_bad_signature() {
    let google = FakeGoogle::new();
    let body = edit(&good(&google), |e| {
        let tampered = e["signedMessage"].as_str().unwrap().replace("\"save\"", "\"del\"");
        e.insert("signedMessage".into(), tampered.into());
    });
    assert_eq!(check(&google, &body), Err(CallbackError::BadSignature));
}

#[test]
fn signature_from_another_intermediate_key_is_bad_signature() {
    let (google, other) = (FakeGoogle::new(), FakeGoogle::new());
    let foreign = good(&other);
    let body = edit(&good(&google), |e| {
        let signature = serde_json::from_str::<Value>(&foreign).unwrap()["signature"].clone();
        e.insert("signature".into(), signature);
    });
    assert_eq!(check(&google, &body), Err(CallbackError::BadSignature));
}

#[test]
fn intermediate_signed_by_unknown_root_is_bad_signature() {
    let (google, impostor) = (FakeGoogle::new(), FakeGoogle::new());
    assert_eq!(check(&google, &good(&impostor)), Err(CallbackError::BadSignature));
}

#[test]
fn senders_must_match_between_key_and_message_signatures() {
    let google = FakeGoogle::new();
    let signed_key = signed_key_json(&spki_b64(&google.intermediate), &LATER.to_string());
    let message =
        json!({"classId": CLASS, "objectId": OBJECT, "eventType": "save", "expTimeMillis": LATER, "nonce": "n"});
    let body = assemble(&google.root, &google.intermediate, SENDERS, ISSUER, &signed_key, &message.to_string());
    assert_eq!(check(&google, &body), Err(CallbackError::BadSignature));
}

#[test]
fn expired_intermediate_key_is_rejected() {
    let google = FakeGoogle::new();
    for key_exp in [NOW, NOW - 1] {
        let body = envelope(&google, SENDERS[1], ISSUER, CLASS, "save", LATER, key_exp);
        assert_eq!(check(&google, &body), Err(CallbackError::Expired(Expiry::IntermediateKey)));
    }
}

#[test]
fn expired_message_is_rejected() {
    let google = FakeGoogle::new();
    for exp in [NOW, NOW - 1] {
        let body = envelope(&google, SENDERS[0], ISSUER, CLASS, "save", exp, LATER);
        assert_eq!(check(&google, &body), Err(CallbackError::Expired(Expiry::Message)));
    }
}

#[test]
fn signature_for_another_issuer_is_rejected() {
    let google = FakeGoogle::new();
    let body = envelope(&google, SENDERS[0], "3388000000099", CLASS, "save", LATER, LATER);
    assert_eq!(check(&google, &body), Err(CallbackError::BadSignature));
}

#[test]
fn class_of_another_issuer_is_rejected() {
    let google = FakeGoogle::new();
    for class in ["3388000000099.LOYALTY_CLASS_gold", "33880000000221.c", "3388000000022", "LOYALTY_CLASS_gold"] {
        let body = envelope(&google, SENDERS[0], ISSUER, class, "save", LATER, LATER);
        assert_eq!(check(&google, &body), Err(CallbackError::WrongIssuer), "{class}");
    }
}

#[test]
fn unknown_event_type_is_rejected() {
    let google = FakeGoogle::new();
    for event in ["delete", "SAVE", ""] {
        let body = envelope(&google, SENDERS[0], ISSUER, CLASS, event, LATER, LATER);
        assert_eq!(check(&google, &body), Err(CallbackError::UnknownEvent(event.into())));
    }
}

#[test]
fn wrong_protocol_version_is_rejected() {
    let google = FakeGoogle::new();
    for version in [json!("ECv2"), json!("ECv1"), json!("ecv2signingonly")] {
        let body = edit(&good(&google), |e| drop(e.insert("protocolVersion".into(), version)));
        assert_eq!(check(&google, &body), Err(CallbackError::UnsupportedProtocol));
    }
}

#[test]
fn malformed_input_is_malformed_and_never_panics() {
    let google = FakeGoogle::new();
    let good = good(&google);
    let mut bodies: Vec<String> = ["", "{", "[]", "null", "\"x\"", "{\"protocolVersion\":\"ECv2SigningOnly\"}"]
        .into_iter()
        .map(String::from)
        .collect();
    bodies.extend((0..good.len()).map(|n| good[..n].to_owned()));
    for field in ["protocolVersion", "signature", "intermediateSigningKey", "signedMessage"] {
        bodies.push(edit(&good, |e| drop(e.remove(field))));
        bodies.push(edit(&good, |e| drop(e.insert(field.into(), json!(42)))));
    }
    bodies.push(edit(&good, |e| drop(e.insert("signature".into(), "not base64!".into()))));
    for (field, value) in [
        ("signedKey", None),
        ("signatures", None),
        ("signatures", Some(json!([]))),
        ("signatures", Some(json!(["@@@"]))),
        ("signatures", Some(json!([7]))),
        ("signedKey", Some(json!({}))),
    ] {
        bodies.push(edit(&good, |e| {
            let intermediate = e["intermediateSigningKey"].as_object_mut().unwrap();
            match value {
                Some(value) => drop(intermediate.insert(field.into(), value)),
                None => drop(intermediate.remove(field)),
            }
        }));
    }
    // Signed by Google, yet unusable: a broken intermediate key or message.
    let key_value = spki_b64(&google.intermediate);
    let message =
        json!({"classId": CLASS, "objectId": OBJECT, "eventType": "save", "expTimeMillis": LATER}).to_string();
    let p384 = {
        let group = openssl::ec::EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
        STANDARD.encode(openssl::ec::EcKey::generate(&group).unwrap().public_key_to_der().unwrap())
    };
    for (key, msg) in [
        (signed_key_json("%%%", &LATER.to_string()), message.clone()),
        (signed_key_json(&STANDARD.encode(b"not a key"), &LATER.to_string()), message.clone()),
        (signed_key_json(&p384, &LATER.to_string()), message.clone()),
        (signed_key_json(&key_value, "soon"), message.clone()),
        ("not json".to_owned(), message.clone()),
        (signed_key_json(&key_value, &LATER.to_string()), "not json".to_owned()),
        (signed_key_json(&key_value, &LATER.to_string()), message.clone()), // no nonce
    ] {
        bodies.push(assemble(&google.root, &google.intermediate, [SENDERS[0]; 2], ISSUER, &key, &msg));
    }
    for body in &bodies {
        let result = check(&google, body);
        assert!(matches!(result, Err(CallbackError::Malformed(_))), "{body:?} gave {result:?}");
    }
}

#[test]
fn verify_needs_an_unexpired_root_key() {
    let google = FakeGoogle::new();
    let keys = roots(&google);
    assert_eq!(verify(good(&google).as_bytes(), ISSUER, &keys, LATER), Err(CallbackError::NoUsableRootKey));
    assert_eq!(verify(good(&google).as_bytes(), ISSUER, &[], NOW), Err(CallbackError::NoUsableRootKey));
}

#[test]
fn parse_root_keys_keeps_only_unexpired_keys_of_the_protocol() {
    let (google, other) = (FakeGoogle::new(), FakeGoogle::new());
    let entry = |key: &str, protocol: &str, exp: Value| json!({"keyValue": key, "protocolVersion": protocol, "keyExpiration": exp});
    let (good_key, other_key) = (spki_b64(&google.root), spki_b64(&other.root));
    let doc = json!({"keys": [
        entry(&other_key, PROTOCOL, json!(NOW.to_string())),
        entry(&other_key, "ECv2", json!(LATER.to_string())),
        entry("%%%", PROTOCOL, json!(LATER.to_string())),
        entry(&other_key, PROTOCOL, json!("tomorrow")),
        json!("not an object"),
        entry(&good_key, PROTOCOL, json!(LATER.to_string())),
        entry(&good_key, PROTOCOL, json!(LATER + 1)),
    ]});
    let keys = parse_root_keys(doc.to_string().as_bytes(), NOW).unwrap();
    assert_eq!(keys.iter().map(RootKey::expires_at_ms).collect::<Vec<_>>(), [LATER, LATER + 1]);
    assert_eq!(keys_expire_at(&keys), Some(LATER));
    assert_eq!(keys_expire_at(&[]), None);
    // The other Google's keys were all dropped, so its callbacks do not verify.
    assert_eq!(verify(good(&other).as_bytes(), ISSUER, &keys, NOW), Err(CallbackError::BadSignature));
    assert!(verify(good(&google).as_bytes(), ISSUER, &keys, NOW).is_ok());

    let stale =
        json!({"keys": [entry(&good_key, PROTOCOL, json!(NOW.to_string())), entry(&good_key, "ECv1", json!(LATER))]});
    assert_eq!(parse_root_keys(stale.to_string().as_bytes(), NOW).unwrap_err(), CallbackError::NoUsableRootKey);
    assert_eq!(parse_root_keys(b"{\"keys\":[]}", NOW).unwrap_err(), CallbackError::NoUsableRootKey);
    for doc in [&b"{\"keys\":{}}"[..], b"[]", b"", b"{\"keys\":[", b"{}"] {
        assert!(matches!(parse_root_keys(doc, NOW), Err(CallbackError::Malformed(_))), "{doc:?}");
    }
}
