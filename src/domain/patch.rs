//! A field of a partial update (`PUT` bodies that name only what changes).

use serde::{Deserialize, Deserializer};

/// Left out: keep the value; `null`: clear it; a value: set it. Declare the field
/// `#[serde(default)]` so that leaving it out reads as [`Patch::Keep`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// Applies the patch to `current`, turning a set value into what is stored with `into`.
    pub fn apply<U>(self, current: &mut Option<U>, into: impl FnOnce(T) -> U) {
        match self {
            Patch::Keep => {}
            Patch::Clear => *current = None,
            Patch::Set(v) => *current = Some(into(v)),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(|v| v.map_or(Patch::Clear, Patch::Set))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        phone: Patch<String>,
    }

    #[test]
    fn left_out_null_and_a_value_differ() {
        let read = |json: &str| serde_json::from_str::<Body>(json).unwrap().phone;
        assert_eq!(read("{}"), Patch::Keep);
        assert_eq!(read(r#"{"phone": null}"#), Patch::Clear);
        assert_eq!(read(r#"{"phone": "06"}"#), Patch::Set("06".to_owned()));
        let mut current = Some(1);
        Patch::<i32>::Keep.apply(&mut current, |v| v);
        assert_eq!(current, Some(1));
        Patch::Set(2).apply(&mut current, |v| v);
        assert_eq!(current, Some(2));
        Patch::<i32>::Clear.apply(&mut current, |v| v);
        assert_eq!(current, None);
    }
}
