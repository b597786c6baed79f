//! Keyed signatures of the links we mail (magic login links): the outbox holds the row id, the
//! worker derives the link from it, and the database never holds a usable token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// Derived from the instance secret, so that every node (which shares it) signs alike and the
    /// staff-token key itself never signs a customer link.
    pub fn derive(instance_secret: &[u8]) -> LinkKey {
        LinkKey(hmac(instance_secret, b"encarte customer links v1"))
    }

    /// `{id}.{signature}`: 128 bits of HMAC-SHA256 over purpose and id.
    pub fn sign(&self, purpose: &str, id: &str) -> String {
        format!("{id}.{}", self.signature(purpose, id))
    }

    /// The id of a token this key signed for `purpose`, compared in constant time.
    pub fn verify<'a>(&self, purpose: &str, token: &'a str) -> Option<&'a str> {
        let (id, signature) = token.rsplit_once('.')?;
        let expected = self.signature(purpose, id);
        (signature.len() == expected.len() && openssl::memcmp::eq(signature.as_bytes(), expected.as_bytes()))
            .then_some(id)
    }

    fn signature(&self, purpose: &str, id: &str) -> String {
        let mac = hmac(&self.0, format!("{purpose}\n{id}").as_bytes());
        URL_SAFE_NO_PAD.encode(&mac[..16])
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC-SHA256 cannot fail with an in-memory key; an empty MAC would never verify anyway.
    let run = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let key = PKey::hmac(key)?;
        let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
        signer.update(data)?;
        signer.sign_to_vec()
    };
    run().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_its_own_signature_only() {
        let key = LinkKey::derive(b"secret-one");
        let token = key.sign("login", "0190abc");
        assert_eq!(key.verify("login", &token), Some("0190abc"));
        assert_eq!(key.verify("other", &token), None);
        assert_eq!(LinkKey::derive(b"secret-two").verify("login", &token), None);
        let mut forged = token.clone();
        forged.replace_range(0..1, "1");
        assert_eq!(key.verify("login", &forged), None);
        assert_eq!(key.verify("login", "no-dot"), None);
        assert_eq!(token.len(), "0190abc.".len() + 22);
    }
}
