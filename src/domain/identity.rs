//! Who is the same person, for referral fraud checks: canonical e-mail (plus-aliases and Gmail
//! dots removed), phone digits, device id. Only salted hashes of these are stored.

use sha2::{Digest, Sha256};

/// "Zoe.Martin+promo@GoogleMail.com" → "zoemartin@gmail.com".
pub fn canonical_email(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email;
    };
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" { "gmail.com" } else { domain };
    let local = if domain == "gmail.com" { local.replace('.', "") } else { local.to_owned() };
    format!("{local}@{domain}")
}

/// The national significant part of a phone number: its last nine digits, so that "06 12 34 56 78"
/// and "+33 6 12 34 56 78" are one number.
pub fn phone_digits(phone: &str) -> Option<String> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 6).then(|| digits[digits.len().saturating_sub(9)..].iter().collect())
}

/// A salted hash of one signal, tagged by kind so that equal strings of different kinds differ.
pub fn signal_key(salt: &str, kind: &str, value: &str) -> String {
    let mut hash = Sha256::new();
    for part in [salt, kind, value] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_email("Zoe.Martin+promo@GoogleMail.com"), "zoemartin@gmail.com");
        assert_eq!(canonical_email("zoe.martin@orange.fr"), "zoe.martin@orange.fr");
        assert_eq!(canonical_email("zoe+x@orange.fr"), "zoe@orange.fr");
        assert_eq!(phone_digits("06 12 34 56 78"), phone_digits("+33 6 12 34 56 78"));
        assert_eq!(phone_digits("12"), None);
        assert_ne!(signal_key("s", "email", "a"), signal_key("s", "phone", "a"));
        assert_ne!(signal_key("s1", "email", "a"), signal_key("s2", "email", "a"));
    }
}
