//! Apple Wallet passes: a signing identity, a design, a card's data → a signed `.pkpass`.
//!
//! See `../shared/specs/apple-wallet.md` for the format and the reasons behind each rule.

pub mod apns;
pub mod bundle;
pub mod certs;
pub mod design;
pub mod images;
pub mod pass;

#[cfg(test)]
mod tests;

pub use bundle::{BundleError, CONTENT_TYPE, build_pkpass};
pub use certs::{CertError, SigningIdentity, generate_dev_chain};
pub use design::{Design, DesignError};
pub use pass::{PassError, PassInput, pass_json, pass_strings};

#[derive(Debug, thiserror::Error)]
pub enum PkpassError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Pass(#[from] PassError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

/// The signed `.pkpass` of one card. Refuses a pass whose identifiers differ from the signing
/// certificate's: the phone would reject it with an unhelpful "invalid pass".
pub fn render(identity: &SigningIdentity, design: &Design, input: &PassInput) -> Result<Vec<u8>, PkpassError> {
    identity.check(Some(&input.pass_type_id), Some(&input.team_id))?;
    let json = pass_json(input, design)?;
    Ok(build_pkpass(identity, design, &json, &pass_strings(design))?)
}
