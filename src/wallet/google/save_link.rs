//! "Add to Google Wallet" links (spec §2). The object is created through the REST API beforehand, so
//! the JWT only names it ("skinny JWT"): the link stays far below Google's length limit, carries no
//! member data, and can be rebuilt at any time.

use serde::Serialize;

use super::auth::{AuthError, ServiceAccount};

/// Google's "maximum safe length"; longer links fail on some browsers (§2.2).
pub const MAX_URL_LEN: usize = 1800;

const SAVE_PREFIX: &str = "https://pay.google.com/gp/v/save/";

#[derive(Serialize)]
struct SaveClaims<'a> {
    iss: &'a str,
    aud: &'static str,
    typ: &'static str,
    iat: i64,
    /// Always sent, empty or not: the docs mark it required and plain links work with `[]`.
    origins: &'a [String],
    payload: Payload<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    loyalty_objects: [ObjectRef<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef<'a> {
    id: &'a str,
    class_id: &'a str,
}

/// `https://pay.google.com/gp/v/save/<jwt>` with the skinny payload {loyaltyObjects:[{id, classId}]}.
/// `now` is a parameter so links are reproducible in tests; there is no `exp`, Google ignores it.
pub fn save_url(
    account: &ServiceAccount,
    object_id: &str,
    class_id: &str,
    origins: &[String],
    now: i64,
) -> Result<String, AuthError> {
    let claims = SaveClaims {
        iss: &account.client_email,
        aud: "google",
        typ: "savetowallet",
        iat: now,
        origins,
        payload: Payload { loyalty_objects: [ObjectRef { id: object_id, class_id }] },
    };
    let url = format!("{SAVE_PREFIX}{}", account.sign_jwt(&claims)?);
    if url.len() > MAX_URL_LEN {
        return Err(AuthError::TooLong { len: url.len(), max: MAX_URL_LEN });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, Validation, decode};
    use serde_json::{Value, json};

    use super::super::auth::tests::{EMAIL, account, decoding_key};
    use super::*;

    const ISSUER: &str = "3388000000022123456";
    const NOW: i64 = 1_790_000_000;

    fn ids() -> (String, String) {
        let suffix = |c: &str| c.repeat(40);
        (format!("{ISSUER}.{}", suffix("m")), format!("{ISSUER}.{}", suffix("c")))
    }

    /// Verifies the signature with the service account's public key, as Google does.
    fn verify(url: &str, public_pem: &[u8]) -> Result<Value, jsonwebtoken::errors::Error> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["google"]);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let jwt = url.strip_prefix(SAVE_PREFIX).expect(url);
        decode::<Value>(jwt, &decoding_key(public_pem), &validation).map(|data| data.claims)
    }

    fn header(url: &str) -> Value {
        let encoded = url.strip_prefix(SAVE_PREFIX).unwrap().split('.').next().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded).unwrap()).unwrap()
    }

    #[test]
    fn a_save_url_is_a_signed_skinny_jwt_within_the_limit() {
        let sa = account("https://oauth2.googleapis.com/token", Some("0123456789abcdef0123456789abcdef01234567"));
        let (object_id, class_id) = ids();
        let origins = vec!["https://encarte.example.com".to_owned(), "https://www.encarte.example.com".to_owned()];
        let url = save_url(&sa, &object_id, &class_id, &origins, NOW).unwrap();

        assert!(url.len() <= MAX_URL_LEN, "{} chars", url.len());
        let claims = verify(&url, &sa.public_key_pem().unwrap()).unwrap();
        let expected = json!({"iss": EMAIL, "aud": "google", "typ": "savetowallet", "iat": NOW, "origins": origins,
                              "payload": {"loyaltyObjects": [{"id": object_id, "classId": class_id}]}});
        assert_eq!(claims, expected);
        assert_eq!(header(&url), json!({"alg": "RS256", "typ": "JWT", "kid": sa.private_key_id}));

        // Another key must not verify it: the check above really is a signature check.
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let other = openssl::pkey::PKey::from_rsa(rsa).unwrap().public_key_to_pem().unwrap();
        assert!(verify(&url, &other).is_err());
    }

    #[test]
    fn empty_origins_are_an_empty_array_and_no_kid_is_no_header_field() {
        let sa = account("https://oauth2.googleapis.com/token", None);
        let (object_id, class_id) = ids();
        let url = save_url(&sa, &object_id, &class_id, &[], NOW).unwrap();
        assert_eq!(verify(&url, &sa.public_key_pem().unwrap()).unwrap()["origins"], json!([]));
        assert_eq!(header(&url), json!({"alg": "RS256", "typ": "JWT"}));
    }

    #[test]
    fn a_link_over_1800_characters_is_refused() {
        let sa = account("https://oauth2.googleapis.com/token", Some("kid"));
        let (_, class_id) = ids();
        // With RSA-2048 and a short kid the limit falls at an object ID of about 800 characters.
        let fits = format!("{ISSUER}.{}", "m".repeat(700));
        assert!(save_url(&sa, &fits, &class_id, &[], NOW).is_ok());
        let object_id = format!("{ISSUER}.{}", "m".repeat(900));
        let err = save_url(&sa, &object_id, &class_id, &[], NOW).unwrap_err();
        assert!(matches!(err, AuthError::TooLong { max: MAX_URL_LEN, len } if len > MAX_URL_LEN), "{err}");
        assert!(err.to_string().contains("over the 1800"), "{err}");
    }
}
