//! What one request changed in a session, key by key, so that it can be applied on top of what
//! other requests wrote meanwhile.
//!
//! Two overlapping requests on one session both start from the same stored data. If each wrote
//! its whole session back, the later write would erase the earlier one's changes. Instead, the
//! later request replays only the top-level keys it set or removed onto the data now stored:
//! changes to different keys both survive; for the same key, the last write wins.
//!
//! Keys and values are compared as encoded bytes; the format is canonical, so equal values have
//! equal bytes.
//!
//! ```
//! use scsession_core::changeset::Changeset;
//! use scsession_core::format::{self, Value};
//!
//! let dict = |pairs: &[(&str, i64)]| {
//!     let pairs = pairs.iter().map(|(k, v)| (Value::Str((*k).into()), Value::Int(*v))).collect();
//!     format::encode(&Value::Dict(pairs)).unwrap()
//! };
//! // This request loaded {a: 1, b: 2} and made it {a: 1, c: 3}.
//! let changes = Changeset::between(&dict(&[("a", 1), ("b", 2)]), &dict(&[("a", 1), ("c", 3)]))?;
//! // Meanwhile another request stored {a: 9, b: 2}: its a = 9 survives.
//! let merged = changes.apply(&dict(&[("a", 9), ("b", 2)]))?;
//! assert_eq!(merged, dict(&[("a", 9), ("c", 3)]));
//! # Ok::<(), scsession_core::format::DecodeError>(())
//! ```

use crate::format::{self, Container, DecodeError, Encoder};

/// The top-level keys a request set (with their new values) or removed, all encoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changeset {
    set: Vec<(Vec<u8>, Vec<u8>)>,
    removed: Vec<Vec<u8>>,
}

impl Changeset {
    /// The changes that turn the encoded dict `before` into the encoded dict `after`.
    pub fn between(before: &[u8], after: &[u8]) -> Result<Self, DecodeError> {
        let before = format::dict_entries(before)?;
        let after = format::dict_entries(after)?;
        let set = after
            .iter()
            .filter(|entry| !before.contains(entry))
            .map(|(key, value)| (key.to_vec(), value.to_vec()))
            .collect();
        let removed = before
            .iter()
            .filter(|(key, _)| !after.iter().any(|(k, _)| k == key))
            .map(|(key, _)| key.to_vec())
            .collect();
        Ok(Self { set, removed })
    }

    /// Whether nothing changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.removed.is_empty()
    }

    /// The keys that were set or removed, still encoded: set ones first, each once.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.set
            .iter()
            .map(|(key, _)| key.as_slice())
            .chain(self.removed.iter().map(Vec::as_slice))
    }

    /// The encoded dict `current` with these changes applied: removed keys dropped, set keys
    /// replaced where they are and appended where they are not.
    pub fn apply(&self, current: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let current = format::dict_entries(current)?;
        let mut merged: Vec<(&[u8], &[u8])> = current
            .into_iter()
            .filter(|(key, _)| !self.removed.iter().any(|r| r == key))
            .collect();
        for (key, value) in &self.set {
            match merged.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value,
                None => merged.push((key, value)),
            }
        }
        let mut out = Encoder::with_capacity(merged.iter().map(|(k, v)| k.len() + v.len()).sum());
        out.begin(Container::Dict, merged.len())
            .map_err(|_| DecodeError::TooLong)?;
        for (key, value) in merged {
            out.encoded(key);
            out.encoded(value);
        }
        out.end();
        out.try_finish().map_err(|_| DecodeError::TooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Value;
    use proptest::prelude::*;

    fn dict(pairs: &[(&str, Value)]) -> Vec<u8> {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (Value::Str((*k).into()), v.clone()))
            .collect();
        format::encode(&Value::Dict(pairs)).unwrap()
    }

    #[test]
    fn changes_to_different_keys_both_survive() {
        let base = dict(&[
            ("cart", Value::List(vec![])),
            ("theme", Value::Str("light".into())),
        ]);
        let theirs = dict(&[
            ("cart", Value::List(vec![Value::Int(7)])),
            ("theme", Value::Str("light".into())),
        ]);
        let ours = dict(&[
            ("cart", Value::List(vec![])),
            ("theme", Value::Str("dark".into())),
        ]);
        let merged = Changeset::between(&base, &ours)
            .unwrap()
            .apply(&theirs)
            .unwrap();
        assert_eq!(
            merged,
            dict(&[
                ("cart", Value::List(vec![Value::Int(7)])),
                ("theme", Value::Str("dark".into())),
            ])
        );
    }

    #[test]
    fn removals_and_additions_apply_and_unchanged_is_empty() {
        let base = dict(&[("a", Value::Int(1)), ("b", Value::Int(2))]);
        assert!(Changeset::between(&base, &base).unwrap().is_empty());
        let ours = dict(&[("b", Value::Int(2)), ("c", Value::Int(3))]);
        let changes = Changeset::between(&base, &ours).unwrap();
        let keys: Vec<_> = changes.keys().map(|k| format::decode(k).unwrap()).collect();
        assert_eq!(keys, [Value::Str("c".into()), Value::Str("a".into())]);
        let theirs = dict(&[
            ("a", Value::Int(1)),
            ("b", Value::Int(5)),
            ("d", Value::None),
        ]);
        assert_eq!(
            changes.apply(&theirs).unwrap(),
            dict(&[
                ("b", Value::Int(5)),
                ("d", Value::None),
                ("c", Value::Int(3))
            ])
        );
    }

    #[test]
    fn not_a_dict_is_an_error() {
        let int = format::encode(&Value::Int(1)).unwrap();
        assert!(Changeset::between(&int, &int).is_err());
        let empty = dict(&[]);
        assert!(Changeset::between(&empty, &empty)
            .unwrap()
            .apply(&int)
            .is_err());
        assert!(Changeset::default().apply(b"\x0c\x05").is_err());
    }

    fn small_dict() -> impl Strategy<Value = Vec<(String, i64)>> {
        prop::collection::btree_map("[a-e]", 0i64..4, 0..5).prop_map(|m| m.into_iter().collect())
    }

    fn encode(pairs: &[(String, i64)]) -> Vec<u8> {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (Value::Str(k.clone()), Value::Int(*v)))
            .collect();
        format::encode(&Value::Dict(pairs)).unwrap()
    }

    proptest! {
        /// Applied to what it was computed from, a changeset gives exactly the new data (up to
        /// key order), and applying it again changes nothing.
        #[test]
        fn apply_to_base_gives_the_new_data(before in small_dict(), after in small_dict()) {
            let changes = Changeset::between(&encode(&before), &encode(&after)).unwrap();
            let merged = changes.apply(&encode(&before)).unwrap();
            let Value::Dict(mut got) = format::decode(&merged).unwrap() else { panic!() };
            let Value::Dict(mut want) = format::decode(&encode(&after)).unwrap() else { panic!() };
            let key = |p: &(Value, Value)| format!("{:?}", p.0);
            got.sort_by_key(key);
            want.sort_by_key(key);
            prop_assert_eq!(got, want);
            prop_assert_eq!(changes.apply(&merged).unwrap(), merged);
        }
    }
}
