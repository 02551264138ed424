//! A session's dict, decoded only where the handler looks.
//!
//! The engine hands over the dict encoded. Decoding all of it into [`Value`]s on every request
//! cost more than the cipher (a cart of three items is a dozen allocations), so the dict is
//! split into its entries once (byte ranges, no allocation per value) and a value is decoded
//! when it is read. Saving splices the untouched entries' bytes back unchanged, which gives
//! exactly the bytes [`format::encode`] would (the format is canonical).

use std::borrow::Cow;
use std::ops::Range;

use scsession_core::engine::{Opened, SessionState};
use scsession_core::format::{self, tag, EncodeError, Value};

/// A key or a value: bytes of the dict as opened, or a value set by the handler.
#[derive(Debug)]
enum Part {
    Raw(Range<usize>),
    Value(Value),
}

/// An opened session: its engine state and its dict.
#[derive(Debug)]
pub(crate) struct Data {
    pub(crate) state: SessionState,
    /// The encoded dict as opened.
    original: Vec<u8>,
    /// Its entries, in order.
    entries: Vec<(Part, Part)>,
    /// Whether `entries` may differ from `original`.
    changed: bool,
}

/// The string of an encoded `Str` (`STR`, LEB128 length, UTF-8), or `None` for another type.
/// Only for bytes [`format::dict_entries`] validated.
fn raw_str(raw: &[u8]) -> Option<&str> {
    let (&first, rest) = raw.split_first()?;
    if first != tag::STR {
        return None;
    }
    let start = rest.iter().position(|b| b & 0x80 == 0)? + 1;
    core::str::from_utf8(rest.get(start..)?).ok()
}

/// `DICT`, then the number of pairs as LEB128 (the format's varint for lengths).
fn dict_header(out: &mut Vec<u8>, mut n: usize) {
    out.push(tag::DICT);
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

impl Data {
    pub(crate) fn new(opened: Opened) -> Self {
        let Opened { state, data, .. } = opened;
        let base = data.as_ptr().addr();
        let range = |s: &[u8]| {
            let start = s.as_ptr().addr() - base;
            start..start + s.len()
        };
        // The engine opened only sessions whose data is a valid dict; anything else is empty.
        let entries = format::dict_entries(&data)
            .map(|entries| {
                entries
                    .into_iter()
                    .map(|(k, v)| (Part::Raw(range(k)), Part::Raw(range(v))))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            state,
            original: data,
            entries,
            changed: false,
        }
    }

    fn is_key(&self, part: &Part, key: &str) -> bool {
        match part {
            Part::Raw(r) => raw_str(&self.original[r.clone()]) == Some(key),
            Part::Value(Value::Str(s)) => s == key,
            Part::Value(_) => false,
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| self.is_key(k, key))
    }

    fn value(&self, part: &Part) -> Value {
        match part {
            // Validated when opened: decoding it again cannot fail.
            Part::Raw(r) => format::decode(&self.original[r.clone()]).unwrap_or(Value::None),
            Part::Value(v) => v.clone(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<Value> {
        self.position(key).map(|i| self.value(&self.entries[i].1))
    }

    pub(crate) fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    pub(crate) fn set(&mut self, key: &str, value: Value) {
        self.changed = true;
        match self.position(key) {
            Some(i) => self.entries[i].1 = Part::Value(value),
            None => self
                .entries
                .push((Part::Value(Value::Str(key.to_owned())), Part::Value(value))),
        }
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        self.changed = true;
        let (_, value) = self.entries.remove(i);
        Some(self.value(&value))
    }

    pub(crate) fn clear(&mut self) {
        self.changed = true;
        self.entries.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The string keys, in order.
    pub(crate) fn keys(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter_map(|(k, _)| match k {
                Part::Raw(r) => raw_str(&self.original[r.clone()]).map(str::to_owned),
                Part::Value(Value::Str(s)) => Some(s.clone()),
                Part::Value(_) => None,
            })
            .collect()
    }

    /// The state and the whole dict encoded, as the engine's `finish_*` want them.
    pub(crate) fn for_saving(&mut self) -> Result<(&mut SessionState, Cow<'_, [u8]>), EncodeError> {
        let encoded = encode(&self.original, &self.entries, self.changed)?;
        Ok((&mut self.state, encoded))
    }

    #[cfg(test)]
    fn encoded(&self) -> Result<Cow<'_, [u8]>, EncodeError> {
        encode(&self.original, &self.entries, self.changed)
    }
}

/// The dict of `entries` encoded (`original` itself when nothing `changed`).
fn encode<'a>(
    original: &'a [u8],
    entries: &[(Part, Part)],
    changed: bool,
) -> Result<Cow<'a, [u8]>, EncodeError> {
    if !changed {
        return Ok(Cow::Borrowed(original));
    }
    let mut out = Vec::with_capacity(original.len() + 32);
    dict_header(&mut out, entries.len());
    for part in entries.iter().flat_map(|(k, v)| [k, v]) {
        match part {
            Part::Raw(r) => out.extend_from_slice(&original[r.clone()]),
            Part::Value(v) => out.extend_from_slice(&format::encode(v)?),
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    fn opened(pairs: Vec<(Value, Value)>) -> Opened {
        Opened {
            state: SessionState::default(),
            data: format::encode(&Value::Dict(pairs)).unwrap(),
            expired: None,
        }
    }

    #[test]
    fn headers_and_keys_are_the_formats_own() {
        for n in [0usize, 1, 127, 128, 300, 20_000] {
            let dict = Value::Dict(vec![(Value::None, Value::None); n]);
            let mut header = Vec::new();
            dict_header(&mut header, n);
            assert!(format::encode(&dict).unwrap().starts_with(&header), "{n}");
        }
        for key in ["", "k", &"x".repeat(200), "ünï"] {
            assert_eq!(raw_str(&format::encode(&s(key)).unwrap()), Some(key));
        }
        assert_eq!(raw_str(&format::encode(&Value::Int(1)).unwrap()), None);
    }

    #[test]
    fn edits_encode_exactly_as_the_whole_dict_would() {
        let cart = Value::List(vec![Value::Dict(vec![(s("sku"), s("tea"))])]);
        let mut data = Data::new(opened(vec![
            (s("a"), Value::Int(1)),
            (Value::Int(7), s("int key")),
            (s("cart"), cart.clone()),
        ]));
        assert!(matches!(data.encoded().unwrap(), Cow::Borrowed(_)));
        assert_eq!(data.get("cart"), Some(cart.clone()));
        assert_eq!(data.keys(), ["a", "cart"]);
        data.set("a", Value::Int(2));
        data.set("new", Value::Bool(true));
        assert_eq!(data.remove("cart"), Some(cart));
        let expected = Value::Dict(vec![
            (s("a"), Value::Int(2)),
            (Value::Int(7), s("int key")),
            (s("new"), Value::Bool(true)),
        ]);
        assert_eq!(
            *data.encoded().unwrap(),
            format::encode(&expected).unwrap()[..]
        );
        assert_eq!(data.len(), 3);
        data.clear();
        assert_eq!(*data.encoded().unwrap(), [tag::DICT, 0]);
    }
}
