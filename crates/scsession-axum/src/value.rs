//! Serde to and from [`Value`], the values of scsession's binary format: what lets
//! [`Session::get`](crate::Session::get) and [`Session::insert`](crate::Session::insert) take
//! any `Serialize`/`Deserialize` type and store it as the Python middleware does.
//!
//! | Rust (serde) | [`Value`] | Python |
//! |---|---|---|
//! | `bool` | `Bool` | `bool` |
//! | integers (`i8`..`i128`, `u8`..`u128`) | `Int`, or `BigInt` beyond `i64` | `int` |
//! | `f32`, `f64` | `Float` | `float` |
//! | `char`, `&str`, `String` | `Str` | `str` |
//! | bytes (`serde_bytes`) | `Bytes` | `bytes` |
//! | `None`, `()`, unit structs | `None` | `None` |
//! | `Some(x)`, newtype structs | `x` | |
//! | `Vec`, slices, sets, sequences | `List` | `list` |
//! | tuples, tuple structs | `Tuple` | `tuple` |
//! | maps, structs | `Dict` (struct fields as `Str` keys) | `dict` |
//! | unit variant `E::A` | `Str("A")` | `"A"` |
//! | other variants `E::A(x)` | `Dict {"A": x}` | `{"A": x}` |
//!
//! Reading is lenient where Python is: any of `List`, `Tuple`, `Set` and `FrozenSet` reads as a
//! sequence, and an `Int` reads as a float. Values Rust has no serde type for read as text:
//! `DateTime` and `Date` in ISO 8601 (`2024-05-01T12:00:00+02:00`, `2024-05-01`), `Uuid`
//! hyphenated, `Decimal` as written; a `BigInt` reads into an `i128` or `u128` when it fits.
//!
//! ```
//! use scsession_axum::value::{from_value, to_value};
//! use scsession_core::format::Value;
//!
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Item { sku: String, qty: u32 }
//!
//! let cart = vec![Item { sku: "tea".into(), qty: 2 }];
//! let value = to_value(&cart)?;
//! assert_eq!(
//!     value,
//!     Value::List(vec![Value::Dict(vec![
//!         (Value::Str("sku".into()), Value::Str("tea".into())),
//!         (Value::Str("qty".into()), Value::Int(2)),
//!     ])]),
//! );
//! assert_eq!(from_value::<Vec<Item>>(value)?, cart);
//! # Ok::<(), scsession_axum::value::ValueError>(())
//! ```

use core::fmt;
use std::fmt::Write as _;

use scsession_core::format::{Date, DateTime, Value};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// Why a value could not be turned into a [`Value`] or read back as a Rust type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The Rust value could not be written (serde's message).
    #[error("cannot store this value in a session: {0}")]
    Serialize(String),
    /// The stored value is not of the requested type (serde's message).
    #[error("the session value does not read as the requested type: {0}")]
    Deserialize(String),
}

impl ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Serialize(msg.to_string())
    }
}

impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::Deserialize(msg.to_string())
    }
}

/// Turns any `Serialize` value into a [`Value`] (see the [module docs](self) for the mapping).
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

/// Reads a [`Value`] as any `Deserialize` type (see the [module docs](self) for the mapping).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value.into_deserializer())
}

// ---------------------------------------------------------------------------------------------
// Serializing

/// The serde `Serializer` whose output is a [`Value`]; [`to_value`] uses it.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValueSerializer;

fn big(v: i128) -> Value {
    if let Ok(small) = i64::try_from(v) {
        Value::Int(small)
    } else {
        {
            // Shortest two's complement, little endian, as Python's int.to_bytes(signed=True).
            let bytes = v.to_le_bytes();
            let mut len = bytes.len();
            while len > 1 {
                let (last, prev) = (bytes[len - 1], bytes[len - 2]);
                let redundant =
                    (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0);
                if !redundant {
                    break;
                }
                len -= 1;
            }
            Value::BigInt(bytes[..len].to_vec())
        }
    }
}

fn ubig(v: u128) -> Value {
    if let Ok(signed) = i128::try_from(v) {
        big(signed)
    } else {
        {
            let mut bytes = v.to_le_bytes().to_vec();
            bytes.push(0); // the sign byte of a positive number with its top bit set
            Value::BigInt(bytes)
        }
    }
}

fn key(variant: &str, value: Value) -> Value {
    Value::Dict(vec![(Value::Str(variant.to_owned()), value)])
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        Ok(big(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(big(v.into()))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        Ok(ubig(v))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::Str(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(key(variant, value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder::new(len.unwrap_or(0), false, None))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder::new(len, true, None))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder::new(len, true, None))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder::new(len, true, Some(variant)))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::new(len.unwrap_or(0), None))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::new(len, None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::new(len, Some(variant)))
    }
}

/// Collects a sequence, tuple or tuple variant (serde's `Serialize*` for [`ValueSerializer`]).
#[derive(Debug)]
pub struct SeqBuilder {
    items: Vec<Value>,
    tuple: bool,
    variant: Option<&'static str>,
}

impl SeqBuilder {
    fn new(len: usize, tuple: bool, variant: Option<&'static str>) -> Self {
        Self {
            items: Vec::with_capacity(len.min(1024)),
            tuple,
            variant,
        }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn done(self) -> Value {
        let seq = if self.tuple {
            Value::Tuple(self.items)
        } else {
            Value::List(self.items)
        };
        match self.variant {
            Some(variant) => key(variant, seq),
            None => seq,
        }
    }
}

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.done())
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.done())
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.done())
    }
}

impl ser::SerializeTupleVariant for SeqBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.push(value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.done())
    }
}

/// Collects a map, struct or struct variant (serde's `Serialize*` for [`ValueSerializer`]).
#[derive(Debug)]
pub struct MapBuilder {
    pairs: Vec<(Value, Value)>,
    pending_key: Option<Value>,
    variant: Option<&'static str>,
}

impl MapBuilder {
    fn new(len: usize, variant: Option<&'static str>) -> Self {
        Self {
            pairs: Vec::with_capacity(len.min(1024)),
            pending_key: None,
            variant,
        }
    }

    fn done(self) -> Value {
        let dict = Value::Dict(self.pairs);
        match self.variant {
            Some(variant) => key(variant, dict),
            None => dict,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), ValueError> {
        let value = value.serialize(ValueSerializer)?;
        self.pairs.push((Value::Str(name.to_owned()), value));
        Ok(())
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.pending_key = Some(key.serialize(ValueSerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| ValueError::Serialize("a map value came without its key".into()))?;
        self.pairs.push((key, value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.done())
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.field(name, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.done())
    }
}

impl ser::SerializeStructVariant for MapBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.field(name, value)
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(self.done())
    }
}

// ---------------------------------------------------------------------------------------------
// Deserializing

/// The serde `Deserializer` over an owned [`Value`]; [`from_value`] uses it.
#[derive(Clone, Debug)]
pub struct ValueDeserializer(Value);

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = ValueDeserializer;
    fn into_deserializer(self) -> ValueDeserializer {
        ValueDeserializer(self)
    }
}

/// A big integer (two's complement, little endian) as an `i128`, if it fits.
fn big_to_i128(le: &[u8]) -> Option<i128> {
    if le.is_empty() || le.len() > 16 {
        return None;
    }
    let fill = if le[le.len() - 1] & 0x80 == 0 {
        0
    } else {
        0xff
    };
    let mut bytes = [fill; 16];
    bytes[..le.len()].copy_from_slice(le);
    Some(i128::from_le_bytes(bytes))
}

/// A positive big integer as a `u128`, if it fits (17 bytes with a zero sign byte).
fn big_to_u128(le: &[u8]) -> Option<u128> {
    let trimmed = match le {
        [rest @ .., 0] if rest.len() == 16 => rest,
        _ => return big_to_i128(le).and_then(|v| u128::try_from(v).ok()),
    };
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(trimmed);
    Some(u128::from_le_bytes(bytes))
}

fn date_text(out: &mut String, d: Date) {
    let _ = write!(out, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

/// ISO 8601, as Python's `datetime.isoformat()` writes it.
fn datetime_text(v: &DateTime) -> String {
    let mut out = String::with_capacity(32);
    date_text(&mut out, v.date);
    let _ = write!(out, "T{:02}:{:02}:{:02}", v.hour, v.minute, v.second);
    if v.microsecond != 0 {
        let _ = write!(out, ".{:06}", v.microsecond);
    }
    if let Some(offset) = v.utc_offset_us {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        let (secs, micros) = (abs / 1_000_000, abs % 1_000_000);
        let _ = write!(out, "{sign}{:02}:{:02}", secs / 3600, secs / 60 % 60);
        if secs % 60 != 0 || micros != 0 {
            let _ = write!(out, ":{:02}", secs % 60);
        }
        if micros != 0 {
            let _ = write!(out, ".{micros:06}");
        }
    }
    out
}

fn uuid_text(v: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in v.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl ValueDeserializer {
    fn invalid(&self, expected: &dyn de::Expected) -> ValueError {
        let unexpected = match &self.0 {
            Value::None => de::Unexpected::Option,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => de::Unexpected::Signed(*i),
            Value::Float(f) => de::Unexpected::Float(*f),
            Value::Str(s) => de::Unexpected::Str(s),
            Value::Bytes(b) => de::Unexpected::Bytes(b),
            Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::FrozenSet(_) => {
                de::Unexpected::Seq
            }
            Value::Dict(_) => de::Unexpected::Map,
            _ => de::Unexpected::Other("a value of another type"),
        };
        de::Error::invalid_type(unexpected, expected)
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::None => visitor.visit_unit(),
            Value::Bool(v) => visitor.visit_bool(v),
            Value::Int(v) => visitor.visit_i64(v),
            Value::BigInt(le) => {
                // The narrowest visit, as most visitors take u64 but not i128.
                if let Some(v) = big_to_i128(&le) {
                    match (u64::try_from(v), i64::try_from(v)) {
                        (Ok(v), _) => visitor.visit_u64(v),
                        (_, Ok(v)) => visitor.visit_i64(v),
                        _ => visitor.visit_i128(v),
                    }
                } else if let Some(v) = big_to_u128(&le) {
                    visitor.visit_u128(v)
                } else {
                    Err(de::Error::custom("an integer larger than 128 bits"))
                }
            }
            Value::Float(v) => visitor.visit_f64(v),
            Value::Str(v) | Value::Decimal(v) => visitor.visit_string(v),
            Value::Bytes(v) => visitor.visit_byte_buf(v),
            Value::List(items)
            | Value::Tuple(items)
            | Value::Set(items)
            | Value::FrozenSet(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter());
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Dict(pairs) => {
                let mut map = MapDeserializer::new(pairs.into_iter());
                let out = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(out)
            }
            Value::DateTime(v) => visitor.visit_string(datetime_text(&v)),
            Value::Date(v) => {
                let mut out = String::with_capacity(10);
                date_text(&mut out, v);
                visitor.visit_string(out)
            }
            Value::Uuid(v) => visitor.visit_string(uuid_text(&v)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::None => visitor.visit_none(),
            other => visitor.visit_some(ValueDeserializer(other)),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            #[allow(clippy::cast_precision_loss)] // Python reads an int as a float the same way
            Value::Int(v) => visitor.visit_f64(v as f64),
            other => ValueDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::None => visitor.visit_unit(),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Value::Str(variant) => visitor.visit_enum(variant.into_deserializer()),
            Value::Dict(mut pairs) if pairs.len() == 1 => {
                let (variant, value) = pairs.pop().unwrap_or((Value::None, Value::None));
                visitor.visit_enum(EnumAccess { variant, value })
            }
            other => Err(ValueDeserializer(other).invalid(&"a variant name or a one-entry dict")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 char str string bytes byte_buf seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct EnumAccess {
    variant: Value,
    value: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = ValueError;
    type Variant = VariantAccess;
    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, VariantAccess), ValueError> {
        let variant = seed.deserialize(ValueDeserializer(self.variant))?;
        Ok((variant, VariantAccess(self.value)))
    }
}

struct VariantAccess(Value);

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = ValueError;
    fn unit_variant(self) -> Result<(), ValueError> {
        de::Deserialize::deserialize(ValueDeserializer(self.0))
    }
    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, ValueError> {
        seed.deserialize(ValueDeserializer(self.0))
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_any(ValueDeserializer(self.0), visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        de::Deserializer::deserialize_any(ValueDeserializer(self.0), visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use scsession_core::format::{self, Value};
    use serde::{Deserialize, Serialize};

    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u32, h: u32 },
        Pair(i8, i8),
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Everything {
        flag: bool,
        small: i32,
        huge: u64,
        negative_huge: i128,
        ratio: f32,
        name: String,
        letter: char,
        nothing: Option<u8>,
        something: Option<u8>,
        list: Vec<String>,
        pair: (u8, String),
        map: BTreeMap<String, i64>,
        shapes: Vec<Shape>,
        unit: (),
    }

    #[test]
    fn everything_round_trips_through_value_and_the_binary_format() {
        let value = Everything {
            flag: true,
            small: -7,
            huge: u64::MAX,
            negative_huge: i128::MIN,
            ratio: 0.5,
            name: "née".into(),
            letter: 'x',
            nothing: None,
            something: Some(3),
            list: vec!["a".into(), "b".into()],
            pair: (1, "one".into()),
            map: [("k".to_owned(), 1)].into(),
            shapes: vec![
                Shape::Dot,
                Shape::Circle(1.5),
                Shape::Rect { w: 2, h: 3 },
                Shape::Pair(-1, 1),
            ],
            unit: (),
        };
        let as_value = to_value(&value).unwrap();
        let bytes = format::encode(&as_value).unwrap();
        let back = format::decode(&bytes).unwrap();
        assert_eq!(back, as_value);
        assert_eq!(from_value::<Everything>(back).unwrap(), value);
    }

    #[test]
    fn values_are_the_ones_python_writes() {
        let v = to_value(&(1u8, "a", vec![true], None::<u8>)).unwrap();
        assert_eq!(
            v,
            Value::Tuple(vec![
                Value::Int(1),
                s("a"),
                Value::List(vec![Value::Bool(true)]),
                Value::None
            ])
        );
        // 2**63 is Python's (2**63).to_bytes(9, "little", signed=True).
        assert_eq!(
            to_value(&(1u64 << 63)).unwrap(),
            Value::BigInt(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0])
        );
        assert_eq!(
            to_value(&(-(1i128 << 63) - 1)).unwrap(),
            Value::BigInt(vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff])
        );
        assert_eq!(
            to_value(&u128::MAX).unwrap(),
            Value::BigInt({
                let mut b = vec![0xff; 16];
                b.push(0);
                b
            })
        );
        assert_eq!(
            from_value::<u128>(to_value(&u128::MAX).unwrap()).unwrap(),
            u128::MAX
        );
        assert_eq!(to_value(&Shape::Dot).unwrap(), s("Dot"));
        assert_eq!(
            to_value(&Shape::Circle(2.0)).unwrap(),
            Value::Dict(vec![(s("Circle"), Value::Float(2.0))])
        );
    }

    #[test]
    fn python_only_values_read_as_text_and_sequences_read_leniently() {
        let dt = DateTime {
            date: Date {
                year: 2024,
                month: 5,
                day: 1,
            },
            hour: 12,
            minute: 0,
            second: 5,
            microsecond: 250,
            fold: false,
            utc_offset_us: Some(2 * 3_600_000_000),
        };
        assert_eq!(
            from_value::<String>(Value::DateTime(dt)).unwrap(),
            "2024-05-01T12:00:05.000250+02:00"
        );
        assert_eq!(
            from_value::<String>(Value::Uuid([0xab; 16])).unwrap(),
            "abababab-abab-abab-abab-abababababab"
        );
        let set = Value::FrozenSet(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(from_value::<Vec<i64>>(set).unwrap(), [1, 2]);
        assert!((from_value::<f64>(Value::Int(3)).unwrap() - 3.0).abs() < f64::EPSILON);
    }

    #[test]
    fn a_wrong_type_is_an_error_not_a_panic() {
        let err = from_value::<u8>(s("x")).unwrap_err();
        assert!(matches!(err, ValueError::Deserialize(_)), "{err}");
        assert!(from_value::<u8>(Value::Int(300)).is_err());
        assert!(from_value::<Shape>(Value::Int(1)).is_err());
        assert!(from_value::<()>(Value::Int(1)).is_err());
    }
}
