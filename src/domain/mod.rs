//! Pure types and rules: values that parse and refuse bad input at the edge. No I/O here.

pub mod campaign;
pub mod card;
pub mod codes;
pub mod earning;
pub mod email;
pub mod expiry;
pub mod identity;
pub mod ledger;
pub mod link_key;
pub mod money;
pub mod patch;
pub mod period;
pub mod points;
pub mod promo;
pub mod rfm;
pub mod role;
pub mod segment;
pub mod status;
pub mod text;
pub mod tier;
pub mod update_tag;
pub mod voucher;

/// Why a value was refused. The message is shown to the caller, so it names the rule, not the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(msg: impl Into<String>) -> Self {
        Invalid(msg.into())
    }
}

/// Derives `Serialize`/`Deserialize` through the parser, so a request DTO can't hold a bad value.
macro_rules! serde_via_parse {
    ($ty:ty, $raw:ty) => {
        impl TryFrom<$raw> for $ty {
            type Error = $crate::domain::Invalid;
            fn try_from(raw: $raw) -> Result<Self, Self::Error> {
                <$ty>::parse(raw)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <$raw as serde::Deserialize>::deserialize(d)?;
                <$ty>::parse(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_parse;
