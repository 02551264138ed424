//! The typed binary format of session data: plain values only, no code, bounded on every side.
//!
//! Every value starts with one tag byte ([`tag`]). Lengths and counts are LEB128 varints bounded
//! by `u32::MAX`; integers are zigzag LEB128. An empty session (`DICT 0`) is two bytes.
//!
//! | tag | value | bytes after the tag |
//! |---|---|---|
//! | `0x00`, `0x01`, `0x02` | `None`, `False`, `True` | nothing |
//! | `0x03` | `Int` (i64) | zigzag varint |
//! | `0x04` | `BigInt` | varint length (1..=[`MAX_BIG_INT_LEN`]), two's complement, little endian |
//! | `0x05` | `Float` | 8 bytes, IEEE 754 little endian (NaN payloads kept) |
//! | `0x06`, `0x07` | `Str`, `Bytes` | varint length, then UTF-8 / raw bytes |
//! | `0x08`..=`0x0b` | `List`, `Tuple`, `Set`, `FrozenSet` | varint count, then each element |
//! | `0x0c` | `Dict` | varint count of pairs, then key, value, key, value, ... |
//! | `0x0d` | `DateTime` | a date, hour, minute, second (u8 each), microsecond (u32 LE), flags |
//! | `0x0e` | `Date` | year (u16 LE), month, day |
//! | `0x0f` | `Uuid` | 16 bytes |
//! | `0x10` | `Decimal` | varint length (at most [`MAX_DECIMAL_LEN`]), `str(Decimal)` in ASCII |
//!
//! A datetime's flags byte has bit 0 for `fold` and bit 1 for "aware" (other bits must be zero);
//! an aware datetime then carries its UTC offset in microseconds as a zigzag varint.
//!
//! Decoding refuses unknown tags, a length larger than the bytes left (checked before anything
//! is allocated), nesting deeper than [`MAX_DEPTH`], invalid UTF-8, overlong or overflowing
//! varints, out-of-range dates and times, and trailing bytes. Encodings are canonical: every
//! value has exactly one encoding, and re-encoding a decoded value gives the same bytes.
//!
//! ```
//! use scsession_core::format::{self, Value};
//!
//! let value = Value::Dict(vec![(Value::Str("n".into()), Value::Int(1))]);
//! let bytes = format::encode(&value).unwrap();
//! assert_eq!(bytes, [0x0c, 1, 0x06, 1, b'n', 0x03, 2]);
//! assert_eq!(format::decode(&bytes).unwrap(), value);
//! assert_eq!(format::encode(&Value::Dict(vec![])).unwrap(), [0x0c, 0]);
//! ```

/// Deepest nesting of containers accepted (a top-level container is depth 1).
pub const MAX_DEPTH: usize = 32;

/// Longest accepted big integer, in bytes.
pub const MAX_BIG_INT_LEN: usize = 4096;

/// Longest accepted decimal string, in bytes.
pub const MAX_DECIMAL_LEN: usize = 4096;

/// Longest string, byte string or container (a `u32` length).
const MAX_LEN: usize = u32::MAX as usize;

/// Containers never preallocate more than this many elements up front; longer ones grow as
/// their elements are actually read.
const PREALLOC_LIMIT: usize = 1024;

/// Microseconds in 24 hours: a UTC offset must be strictly inside ±24 h.
const DAY_US: i64 = 86_400_000_000;

/// The tag bytes.
pub mod tag {
    /// `None`.
    pub const NONE: u8 = 0x00;
    /// `False`.
    pub const FALSE: u8 = 0x01;
    /// `True`.
    pub const TRUE: u8 = 0x02;
    /// An integer that fits in an `i64`.
    pub const INT: u8 = 0x03;
    /// A larger integer.
    pub const BIG_INT: u8 = 0x04;
    /// An `f64`.
    pub const FLOAT: u8 = 0x05;
    /// A string.
    pub const STR: u8 = 0x06;
    /// A byte string.
    pub const BYTES: u8 = 0x07;
    /// A list.
    pub const LIST: u8 = 0x08;
    /// A tuple.
    pub const TUPLE: u8 = 0x09;
    /// A set.
    pub const SET: u8 = 0x0a;
    /// A frozenset.
    pub const FROZEN_SET: u8 = 0x0b;
    /// A dict.
    pub const DICT: u8 = 0x0c;
    /// A datetime, naive or with a UTC offset.
    pub const DATETIME: u8 = 0x0d;
    /// A date.
    pub const DATE: u8 = 0x0e;
    /// A UUID.
    pub const UUID: u8 = 0x0f;
    /// A decimal.
    pub const DECIMAL: u8 = 0x10;
}

const FLAG_FOLD: u8 = 0b01;
const FLAG_AWARE: u8 = 0b10;

/// A calendar date, as Python's `datetime.date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    /// 1..=9999.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=28, 29, 30 or 31, by month and year.
    pub day: u8,
}

impl Date {
    /// Whether the date exists (year 1..=9999, real month and day, leap years included).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date and time, as Python's `datetime.datetime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// `0..=999_999`.
    pub microsecond: u32,
    /// Python's `fold` (which of two repeated wall-clock times).
    pub fold: bool,
    /// Offset from UTC in microseconds, strictly within ±24 h; `None` for a naive datetime.
    pub utc_offset_us: Option<i64>,
}

impl DateTime {
    /// Whether every field is in range (see the field docs).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.date.is_valid()
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
            && self.microsecond < 1_000_000
            && self.utc_offset_us.is_none_or(|o| o > -DAY_US && o < DAY_US)
    }
}

/// Whether `s` is a decimal string that Python's `Decimal` accepts, in the forms `str(Decimal)`
/// writes (no whitespace or underscores), at most [`MAX_DECIMAL_LEN`] bytes: an optional sign,
/// then digits with an optional point and exponent, `Infinity`/`Inf`, or `NaN`/`sNaN` with
/// optional payload digits (case-insensitive).
#[must_use]
pub fn is_valid_decimal(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_DECIMAL_LEN {
        return false;
    }
    let b = s.as_bytes();
    let rest = match b[0] {
        b'+' | b'-' => &b[1..],
        _ => b,
    };
    let digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return true;
    }
    for nan in [&b"nan"[..], b"snan"] {
        if rest.len() >= nan.len() && rest[..nan.len()].eq_ignore_ascii_case(nan) {
            return digits(&rest[nan.len()..]);
        }
    }
    let (mantissa, exponent) = match rest.iter().position(|&c| c == b'e' || c == b'E') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.iter().position(|&c| c == b'.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, &[][..]),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = match e.first() {
            Some(b'+' | b'-') => &e[1..],
            _ => e,
        };
        !e.is_empty() && digits(e)
    });
    !(int.is_empty() && frac.is_empty()) && digits(int) && digits(frac) && exponent_ok
}

/// A decoded value, for Rust callers and tests (the Python bindings build Python objects
/// directly through a [`Builder`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// An `int` that fits in an `i64`.
    Int(i64),
    /// A larger `int`: two's complement, little endian, as Python's
    /// `n.to_bytes(length, "little", signed=True)`; 1..=[`MAX_BIG_INT_LEN`] bytes.
    BigInt(Vec<u8>),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(String),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `list`.
    List(Vec<Value>),
    /// `tuple`.
    Tuple(Vec<Value>),
    /// `set`, in the order written.
    Set(Vec<Value>),
    /// `frozenset`, in the order written.
    FrozenSet(Vec<Value>),
    /// `dict`, in the order written.
    Dict(Vec<(Value, Value)>),
    /// `datetime.datetime`.
    DateTime(DateTime),
    /// `datetime.date`.
    Date(Date),
    /// `uuid.UUID`, its 16 bytes.
    Uuid([u8; 16]),
    /// `decimal.Decimal`, its string.
    Decimal(String),
}

/// The kinds of container, for [`Encoder::begin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// `list`.
    List,
    /// `tuple`.
    Tuple,
    /// `set`.
    Set,
    /// `frozenset`.
    FrozenSet,
    /// `dict` (its length counts pairs).
    Dict,
}

/// Why a value could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Containers nested deeper than [`MAX_DEPTH`].
    #[error("session data is nested deeper than {MAX_DEPTH} containers")]
    TooDeep,
    /// A string, byte string or container longer than `u32::MAX`, a big integer longer than
    /// [`MAX_BIG_INT_LEN`] bytes or a decimal string longer than [`MAX_DECIMAL_LEN`].
    #[error("a value in the session data is too long to encode")]
    TooLong,
    /// An empty big integer, or a date, time, UTC offset or decimal string out of range.
    #[error("a value in the session data is out of range")]
    InvalidValue,
    /// The values written do not match the lengths given to [`Encoder::begin`], a container
    /// was not closed, or there is not exactly one top-level value.
    #[error("containers written do not match their declared lengths")]
    Unbalanced,
}

/// Why bytes did not decode. The session layer shows all of these as one opaque failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes end inside a value, or a length is larger than the bytes left.
    #[error("session data is truncated")]
    Truncated,
    /// A tag byte that names no type.
    #[error("session data has an unknown type tag")]
    UnknownTag,
    /// Containers nested deeper than [`MAX_DEPTH`].
    #[error("session data is nested deeper than {MAX_DEPTH} containers")]
    TooDeep,
    /// A big integer or decimal string longer than its limit.
    #[error("a value in the session data is too long")]
    TooLong,
    /// A string that is not UTF-8.
    #[error("session data has invalid UTF-8")]
    InvalidUtf8,
    /// An empty big integer, or a date, time, UTC offset, flag byte or decimal out of range.
    #[error("a value in the session data is out of range")]
    InvalidValue,
    /// A varint that is overlong or overflows its type.
    #[error("session data has an invalid varint")]
    InvalidVarint,
    /// Bytes after the one top-level value.
    #[error("session data has trailing bytes")]
    TrailingBytes,
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Writes values into one `Vec<u8>`, for callers that walk their own object graph (the Python
/// bindings). Scalars are written directly; a container is [`begin`](Encoder::begin) with its
/// length, its elements (for a dict: key, value, key, value, ...), then [`end`](Encoder::end).
///
/// A value that cannot be encoded (too long, out of range, a length that does not match the
/// elements written) is remembered and reported by [`try_finish`](Encoder::try_finish);
/// [`begin`](Encoder::begin) also reports it at once.
///
/// ```
/// use scsession_core::format::{decode, Container, Encoder, Value};
///
/// let mut enc = Encoder::new();
/// enc.begin(Container::Dict, 1).unwrap();
/// enc.str("items");
/// enc.begin(Container::List, 2).unwrap();
/// enc.int(1);
/// enc.none();
/// enc.end();
/// enc.end();
/// let bytes = enc.try_finish().unwrap();
/// assert_eq!(
///     decode(&bytes).unwrap(),
///     Value::Dict(vec![(
///         Value::Str("items".into()),
///         Value::List(vec![Value::Int(1), Value::None]),
///     )]),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Encoder {
    buf: Vec<u8>,
    depth: usize,
    /// Values still expected by each open container (index `depth - 1` is the innermost).
    open: [usize; MAX_DEPTH],
    /// Top-level values started.
    top: usize,
    error: Option<EncodeError>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An empty encoder.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty encoder whose buffer holds `n` bytes before it grows.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
            depth: 0,
            open: [0; MAX_DEPTH],
            top: 0,
            error: None,
        }
    }

    fn fail(&mut self, error: EncodeError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Counts one value against the innermost open container (or the top level).
    #[inline]
    fn item(&mut self) {
        if self.depth == 0 {
            self.top += 1;
            if self.top > 1 {
                self.fail(EncodeError::Unbalanced);
            }
        } else {
            let left = &mut self.open[self.depth - 1];
            if *left == 0 {
                self.fail(EncodeError::Unbalanced);
            } else {
                *left -= 1;
            }
        }
    }

    #[inline]
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    #[inline]
    fn tagged_bytes(&mut self, tag: u8, v: &[u8]) {
        self.buf.push(tag);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// Writes `None`.
    pub fn none(&mut self) {
        self.item();
        self.buf.push(tag::NONE);
    }

    /// Writes a bool.
    pub fn bool(&mut self, v: bool) {
        self.item();
        self.buf.push(if v { tag::TRUE } else { tag::FALSE });
    }

    /// Writes an integer that fits in an `i64`.
    pub fn int(&mut self, v: i64) {
        self.item();
        self.buf.push(tag::INT);
        self.varint(zigzag(v));
    }

    /// Writes a larger integer: two's complement, little endian (Python's
    /// `n.to_bytes(length, "little", signed=True)`), 1..=[`MAX_BIG_INT_LEN`] bytes.
    pub fn big_int(&mut self, le_twos_complement: &[u8]) {
        self.item();
        if le_twos_complement.is_empty() {
            self.fail(EncodeError::InvalidValue);
        } else if le_twos_complement.len() > MAX_BIG_INT_LEN {
            self.fail(EncodeError::TooLong);
        } else {
            self.tagged_bytes(tag::BIG_INT, le_twos_complement);
        }
    }

    /// Writes a float (bit for bit, NaN payloads included).
    pub fn float(&mut self, v: f64) {
        self.item();
        self.buf.push(tag::FLOAT);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a string.
    pub fn str(&mut self, v: &str) {
        self.item();
        if v.len() > MAX_LEN {
            self.fail(EncodeError::TooLong);
        } else {
            self.tagged_bytes(tag::STR, v.as_bytes());
        }
    }

    /// Writes a byte string.
    pub fn bytes(&mut self, v: &[u8]) {
        self.item();
        if v.len() > MAX_LEN {
            self.fail(EncodeError::TooLong);
        } else {
            self.tagged_bytes(tag::BYTES, v);
        }
    }

    fn date_fields(&mut self, v: Date) {
        self.buf.extend_from_slice(&v.year.to_le_bytes());
        self.buf.push(v.month);
        self.buf.push(v.day);
    }

    /// Writes a date (refused unless [`Date::is_valid`]).
    pub fn date(&mut self, v: &Date) {
        self.item();
        if !v.is_valid() {
            self.fail(EncodeError::InvalidValue);
            return;
        }
        self.buf.push(tag::DATE);
        self.date_fields(*v);
    }

    /// Writes a datetime (refused unless [`DateTime::is_valid`]).
    pub fn datetime(&mut self, v: &DateTime) {
        self.item();
        if !v.is_valid() {
            self.fail(EncodeError::InvalidValue);
            return;
        }
        self.buf.push(tag::DATETIME);
        self.date_fields(v.date);
        self.buf.extend_from_slice(&[v.hour, v.minute, v.second]);
        self.buf.extend_from_slice(&v.microsecond.to_le_bytes());
        let mut flags = 0;
        if v.fold {
            flags |= FLAG_FOLD;
        }
        if v.utc_offset_us.is_some() {
            flags |= FLAG_AWARE;
        }
        self.buf.push(flags);
        if let Some(offset) = v.utc_offset_us {
            self.varint(zigzag(offset));
        }
    }

    /// Writes a UUID's 16 bytes.
    pub fn uuid(&mut self, v: &[u8; 16]) {
        self.item();
        self.buf.push(tag::UUID);
        self.buf.extend_from_slice(v);
    }

    /// Writes a decimal as its string (`str(Decimal)`; refused unless [`is_valid_decimal`]).
    pub fn decimal(&mut self, v: &str) {
        self.item();
        if v.len() > MAX_DECIMAL_LEN {
            self.fail(EncodeError::TooLong);
        } else if !is_valid_decimal(v) {
            self.fail(EncodeError::InvalidValue);
        } else {
            self.tagged_bytes(tag::DECIMAL, v.as_bytes());
        }
    }

    /// Opens a container of `len` elements (`len` pairs for a dict): writes its tag and length.
    /// Write exactly that many values (twice as many for a dict), then call
    /// [`end`](Encoder::end).
    ///
    /// Returns [`EncodeError::TooDeep`] past [`MAX_DEPTH`], [`EncodeError::TooLong`] for a length
    /// over `u32::MAX`, and any error remembered from an earlier value.
    pub fn begin(&mut self, kind: Container, len: usize) -> Result<(), EncodeError> {
        self.item();
        let items = match kind {
            Container::Dict => len.checked_mul(2),
            _ => Some(len),
        };
        if self.depth >= MAX_DEPTH {
            self.fail(EncodeError::TooDeep);
            return Err(EncodeError::TooDeep);
        }
        let Some(items) = items.filter(|_| len <= MAX_LEN) else {
            self.fail(EncodeError::TooLong);
            return Err(EncodeError::TooLong);
        };
        if let Some(error) = self.error {
            return Err(error);
        }
        self.buf.push(match kind {
            Container::List => tag::LIST,
            Container::Tuple => tag::TUPLE,
            Container::Set => tag::SET,
            Container::FrozenSet => tag::FROZEN_SET,
            Container::Dict => tag::DICT,
        });
        self.varint(len as u64);
        self.open[self.depth] = items;
        self.depth += 1;
        Ok(())
    }

    /// Writes a value that is already encoded, e.g. an entry from [`dict_entries`]. `encoded`
    /// must be exactly one complete value, or the result will not decode.
    pub(crate) fn encoded(&mut self, encoded: &[u8]) {
        self.item();
        self.buf.extend_from_slice(encoded);
    }

    /// Where the next value will start: a mark for [`sort_values`](Encoder::sort_values).
    #[must_use]
    pub fn position(&self) -> usize {
        self.buf.len()
    }

    /// Puts the values written since `starts[0]` in byte order. `starts` holds the
    /// [`position`](Encoder::position) before each of them; the last runs to the end.
    ///
    /// For sets: their iteration order changes from process to process (string hashing is
    /// salted), and sorting makes an unchanged set encode to the same bytes everywhere, so
    /// an unchanged session is recognised as unchanged. Marks that are not increasing or lie
    /// outside what was written are refused as [`EncodeError::Unbalanced`].
    pub fn sort_values(&mut self, starts: &[usize]) {
        let end = self.buf.len();
        if starts.windows(2).any(|w| w[0] > w[1]) || starts.last().is_some_and(|&s| s > end) {
            self.fail(EncodeError::Unbalanced);
            return;
        }
        let Some(&first) = starts.first() else { return };
        let mut ranges: Vec<(usize, usize)> = starts
            .iter()
            .zip(starts.iter().skip(1).chain(std::iter::once(&end)))
            .map(|(&start, &stop)| (start, stop))
            .collect();
        ranges.sort_by(|a, b| self.buf[a.0..a.1].cmp(&self.buf[b.0..b.1]));
        let sorted: Vec<u8> = ranges
            .iter()
            .flat_map(|&(a, b)| self.buf[a..b].to_vec())
            .collect();
        self.buf.truncate(first);
        self.buf.extend_from_slice(&sorted);
    }

    /// Closes the innermost container.
    pub fn end(&mut self) {
        if self.depth == 0 || self.open[self.depth - 1] != 0 {
            self.fail(EncodeError::Unbalanced);
        }
        self.depth = self.depth.saturating_sub(1);
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written yet.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The encoded bytes, or the first error: a refused value, containers that do not match
    /// their lengths or are still open, or not exactly one top-level value.
    pub fn try_finish(self) -> Result<Vec<u8>, EncodeError> {
        match self.error {
            Some(error) => Err(error),
            None if self.depth != 0 || self.top != 1 => Err(EncodeError::Unbalanced),
            None => Ok(self.buf),
        }
    }

    /// The encoded bytes. Prefer [`try_finish`](Encoder::try_finish), which reports a refused
    /// value as an error.
    ///
    /// # Panics
    /// If a value was refused or the containers do not balance (what `try_finish` reports):
    /// such bytes would not decode.
    #[must_use]
    pub fn finish(self) -> Vec<u8> {
        match self.try_finish() {
            Ok(bytes) => bytes,
            Err(error) => panic!("session data could not be encoded: {error}"),
        }
    }

    fn value(&mut self, value: &Value) -> Result<(), EncodeError> {
        match value {
            Value::None => self.none(),
            Value::Bool(v) => self.bool(*v),
            Value::Int(v) => self.int(*v),
            Value::BigInt(v) => self.big_int(v),
            Value::Float(v) => self.float(*v),
            Value::Str(v) => self.str(v),
            Value::Bytes(v) => self.bytes(v),
            Value::List(items) => self.seq(Container::List, items)?,
            Value::Tuple(items) => self.seq(Container::Tuple, items)?,
            Value::Set(items) => self.seq(Container::Set, items)?,
            Value::FrozenSet(items) => self.seq(Container::FrozenSet, items)?,
            Value::Dict(pairs) => {
                self.begin(Container::Dict, pairs.len())?;
                for (k, v) in pairs {
                    self.value(k)?;
                    self.value(v)?;
                }
                self.end();
            }
            Value::DateTime(v) => self.datetime(v),
            Value::Date(v) => self.date(v),
            Value::Uuid(v) => self.uuid(v),
            Value::Decimal(v) => self.decimal(v),
        }
        Ok(())
    }

    fn seq(&mut self, kind: Container, items: &[Value]) -> Result<(), EncodeError> {
        self.begin(kind, items.len())?;
        for item in items {
            self.value(item)?;
        }
        self.end();
        Ok(())
    }
}

#[allow(clippy::cast_sign_loss)] // zigzag: the sign moves to bit 0
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[allow(clippy::cast_possible_wrap)] // zigzag: bit 0 carries the sign
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes a [`Value`]. The bytes depend only on the value (sets and dicts keep their order).
pub fn encode(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut enc = Encoder::with_capacity(64);
    enc.value(value)?;
    enc.try_finish()
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Builds the caller's values while [`decode_with`] reads bytes (the Python bindings build
/// Python objects with it). Every call gets an already validated value; containers arrive with
/// their elements built.
pub trait Builder {
    /// What is built.
    type Value;
    /// The builder's error; decoding errors convert into it.
    type Error: From<DecodeError>;
    /// `None`.
    fn none(&mut self) -> Result<Self::Value, Self::Error>;
    /// A bool.
    fn bool(&mut self, v: bool) -> Result<Self::Value, Self::Error>;
    /// An integer that fits in an `i64`.
    fn int(&mut self, v: i64) -> Result<Self::Value, Self::Error>;
    /// A larger integer: two's complement, little endian, 1..=[`MAX_BIG_INT_LEN`] bytes.
    fn big_int(&mut self, le: &[u8]) -> Result<Self::Value, Self::Error>;
    /// A float.
    fn float(&mut self, v: f64) -> Result<Self::Value, Self::Error>;
    /// A string.
    fn str(&mut self, v: &str) -> Result<Self::Value, Self::Error>;
    /// A byte string.
    fn bytes(&mut self, v: &[u8]) -> Result<Self::Value, Self::Error>;
    /// A list.
    fn list(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, Self::Error>;
    /// A tuple.
    fn tuple(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, Self::Error>;
    /// A set.
    fn set(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, Self::Error>;
    /// A frozenset.
    fn frozenset(&mut self, items: Vec<Self::Value>) -> Result<Self::Value, Self::Error>;
    /// A dict, its pairs in order.
    fn dict(&mut self, pairs: Vec<(Self::Value, Self::Value)>) -> Result<Self::Value, Self::Error>;
    /// A valid date.
    fn date(&mut self, v: Date) -> Result<Self::Value, Self::Error>;
    /// A valid datetime.
    fn datetime(&mut self, v: DateTime) -> Result<Self::Value, Self::Error>;
    /// A UUID's 16 bytes.
    fn uuid(&mut self, v: [u8; 16]) -> Result<Self::Value, Self::Error>;
    /// A decimal string that passed [`is_valid_decimal`].
    fn decimal(&mut self, v: &str) -> Result<Self::Value, Self::Error>;
}

/// The [`Builder`] that builds [`Value`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct ValueBuilder;

impl Builder for ValueBuilder {
    type Value = Value;
    type Error = DecodeError;
    fn none(&mut self) -> Result<Value, DecodeError> {
        Ok(Value::None)
    }
    fn bool(&mut self, v: bool) -> Result<Value, DecodeError> {
        Ok(Value::Bool(v))
    }
    fn int(&mut self, v: i64) -> Result<Value, DecodeError> {
        Ok(Value::Int(v))
    }
    fn big_int(&mut self, le: &[u8]) -> Result<Value, DecodeError> {
        Ok(Value::BigInt(le.to_vec()))
    }
    fn float(&mut self, v: f64) -> Result<Value, DecodeError> {
        Ok(Value::Float(v))
    }
    fn str(&mut self, v: &str) -> Result<Value, DecodeError> {
        Ok(Value::Str(v.to_owned()))
    }
    fn bytes(&mut self, v: &[u8]) -> Result<Value, DecodeError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn list(&mut self, items: Vec<Value>) -> Result<Value, DecodeError> {
        Ok(Value::List(items))
    }
    fn tuple(&mut self, items: Vec<Value>) -> Result<Value, DecodeError> {
        Ok(Value::Tuple(items))
    }
    fn set(&mut self, items: Vec<Value>) -> Result<Value, DecodeError> {
        Ok(Value::Set(items))
    }
    fn frozenset(&mut self, items: Vec<Value>) -> Result<Value, DecodeError> {
        Ok(Value::FrozenSet(items))
    }
    fn dict(&mut self, pairs: Vec<(Value, Value)>) -> Result<Value, DecodeError> {
        Ok(Value::Dict(pairs))
    }
    fn date(&mut self, v: Date) -> Result<Value, DecodeError> {
        Ok(Value::Date(v))
    }
    fn datetime(&mut self, v: DateTime) -> Result<Value, DecodeError> {
        Ok(Value::DateTime(v))
    }
    fn uuid(&mut self, v: [u8; 16]) -> Result<Value, DecodeError> {
        Ok(Value::Uuid(v))
    }
    fn decimal(&mut self, v: &str) -> Result<Value, DecodeError> {
        Ok(Value::Decimal(v.to_owned()))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    #[inline]
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let [b] = self.array()?;
        Ok(b)
    }

    /// A minimal LEB128 varint of at most `max_bits` significant bits.
    #[inline]
    fn varint(&mut self, max_bits: u32) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift >= max_bits || (shift > 0 && bits >> (max_bits - shift) != 0) {
                return Err(DecodeError::InvalidVarint);
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                // A last byte of zero after others is an overlong encoding.
                if b == 0 && shift > 0 {
                    return Err(DecodeError::InvalidVarint);
                }
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// A length: a `u32` varint, checked against the bytes left (each unit needs at least
    /// `unit` bytes) before the caller allocates anything.
    #[inline]
    fn len(&mut self, unit: usize) -> Result<usize, DecodeError> {
        let n = self.varint(32)? as usize;
        if n > self.bytes.len() / unit {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }

    fn date(&mut self) -> Result<Date, DecodeError> {
        let [y0, y1, month, day] = self.array()?;
        let date = Date {
            year: u16::from_le_bytes([y0, y1]),
            month,
            day,
        };
        if date.is_valid() {
            Ok(date)
        } else {
            Err(DecodeError::InvalidValue)
        }
    }

    fn datetime(&mut self) -> Result<DateTime, DecodeError> {
        let date = self.date()?;
        let [hour, minute, second, u0, u1, u2, u3, flags] = self.array()?;
        if flags & !(FLAG_FOLD | FLAG_AWARE) != 0 {
            return Err(DecodeError::InvalidValue);
        }
        let utc_offset_us = if flags & FLAG_AWARE == 0 {
            None
        } else {
            Some(unzigzag(self.varint(64)?))
        };
        let v = DateTime {
            date,
            hour,
            minute,
            second,
            microsecond: u32::from_le_bytes([u0, u1, u2, u3]),
            fold: flags & FLAG_FOLD != 0,
            utc_offset_us,
        };
        if v.is_valid() {
            Ok(v)
        } else {
            Err(DecodeError::InvalidValue)
        }
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.len(1)?;
        core::str::from_utf8(self.take(n)?).map_err(|_| DecodeError::InvalidUtf8)
    }
}

fn decode_value<B: Builder>(
    reader: &mut Reader<'_>,
    builder: &mut B,
    depth: usize,
) -> Result<B::Value, B::Error> {
    let tag = reader.u8()?;
    match tag {
        tag::NONE => builder.none(),
        tag::FALSE => builder.bool(false),
        tag::TRUE => builder.bool(true),
        tag::INT => builder.int(unzigzag(reader.varint(64)?)),
        tag::BIG_INT => {
            let n = reader.len(1)?;
            if n == 0 {
                return Err(DecodeError::InvalidValue.into());
            }
            if n > MAX_BIG_INT_LEN {
                return Err(DecodeError::TooLong.into());
            }
            builder.big_int(reader.take(n)?)
        }
        tag::FLOAT => builder.float(f64::from_le_bytes(reader.array()?)),
        tag::STR => builder.str(reader.str()?),
        tag::BYTES => {
            let n = reader.len(1)?;
            builder.bytes(reader.take(n)?)
        }
        tag::LIST | tag::TUPLE | tag::SET | tag::FROZEN_SET => {
            if depth >= MAX_DEPTH {
                return Err(DecodeError::TooDeep.into());
            }
            let n = reader.len(1)?;
            let mut items = Vec::with_capacity(n.min(PREALLOC_LIMIT));
            for _ in 0..n {
                items.push(decode_value(reader, builder, depth + 1)?);
            }
            match tag {
                tag::LIST => builder.list(items),
                tag::TUPLE => builder.tuple(items),
                tag::SET => builder.set(items),
                _ => builder.frozenset(items),
            }
        }
        tag::DICT => {
            if depth >= MAX_DEPTH {
                return Err(DecodeError::TooDeep.into());
            }
            let n = reader.len(2)?;
            let mut pairs = Vec::with_capacity(n.min(PREALLOC_LIMIT));
            for _ in 0..n {
                let key = decode_value(reader, builder, depth + 1)?;
                let value = decode_value(reader, builder, depth + 1)?;
                pairs.push((key, value));
            }
            builder.dict(pairs)
        }
        tag::DATETIME => builder.datetime(reader.datetime()?),
        tag::DATE => builder.date(reader.date()?),
        tag::UUID => builder.uuid(reader.array()?),
        tag::DECIMAL => {
            let n = reader.len(1)?;
            if n > MAX_DECIMAL_LEN {
                return Err(DecodeError::TooLong.into());
            }
            let s = core::str::from_utf8(reader.take(n)?).map_err(|_| DecodeError::InvalidUtf8)?;
            if !is_valid_decimal(s) {
                return Err(DecodeError::InvalidValue.into());
            }
            builder.decimal(s)
        }
        _ => Err(DecodeError::UnknownTag.into()),
    }
}

/// Decodes exactly one value (no trailing bytes), building it with `builder`.
pub fn decode_with<B: Builder>(bytes: &[u8], builder: &mut B) -> Result<B::Value, B::Error> {
    let mut r = Reader { bytes };
    let value = decode_value(&mut r, builder, 0)?;
    if r.bytes.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::TrailingBytes.into())
    }
}

/// Decodes exactly one value into a [`Value`].
pub fn decode(bytes: &[u8]) -> Result<Value, DecodeError> {
    decode_with(bytes, &mut ValueBuilder)
}

/// One `(key, value)` pair of an encoded dict, each a complete encoded value.
pub type Entry<'a> = (&'a [u8], &'a [u8]);

/// The entries of an encoded dict, as `(key, value)` slices of `bytes` in their order, each a
/// complete encoded value. Checks everything [`decode`] checks, without building anything.
///
/// ```
/// use scsession_core::format::{self, Value};
///
/// let dict = Value::Dict(vec![(Value::Str("n".into()), Value::Int(1))]);
/// let bytes = format::encode(&dict).unwrap();
/// let entries = format::dict_entries(&bytes).unwrap();
/// assert_eq!(entries, [(&[0x06, 1, b'n'][..], &[0x03, 2][..])]);
/// assert!(format::dict_entries(&format::encode(&Value::Int(1)).unwrap()).is_err());
/// ```
pub fn dict_entries(bytes: &[u8]) -> Result<Vec<Entry<'_>>, DecodeError> {
    let mut r = Reader { bytes };
    if r.u8()? != tag::DICT {
        return Err(DecodeError::InvalidValue);
    }
    let n = r.len(2)?;
    let mut entries = Vec::with_capacity(n.min(PREALLOC_LIMIT));
    let value_at = |r: &mut Reader<'_>| decode_value(r, &mut Skip, 1);
    for _ in 0..n {
        let key_start = r.bytes;
        value_at(&mut r)?;
        let key = &key_start[..key_start.len() - r.bytes.len()];
        let value_start = r.bytes;
        value_at(&mut r)?;
        let value = &value_start[..value_start.len() - r.bytes.len()];
        entries.push((key, value));
    }
    if r.bytes.is_empty() {
        Ok(entries)
    } else {
        Err(DecodeError::TrailingBytes)
    }
}

/// A [`Builder`] that builds nothing: decoding with it only validates and skips.
struct Skip;

impl Builder for Skip {
    type Value = ();
    type Error = DecodeError;
    fn none(&mut self) -> Result<(), DecodeError> {
        Ok(())
    }
    fn bool(&mut self, _: bool) -> Result<(), DecodeError> {
        Ok(())
    }
    fn int(&mut self, _: i64) -> Result<(), DecodeError> {
        Ok(())
    }
    fn big_int(&mut self, _: &[u8]) -> Result<(), DecodeError> {
        Ok(())
    }
    fn float(&mut self, _: f64) -> Result<(), DecodeError> {
        Ok(())
    }
    fn str(&mut self, _: &str) -> Result<(), DecodeError> {
        Ok(())
    }
    fn bytes(&mut self, _: &[u8]) -> Result<(), DecodeError> {
        Ok(())
    }
    fn list(&mut self, _: Vec<()>) -> Result<(), DecodeError> {
        Ok(())
    }
    fn tuple(&mut self, _: Vec<()>) -> Result<(), DecodeError> {
        Ok(())
    }
    fn set(&mut self, _: Vec<()>) -> Result<(), DecodeError> {
        Ok(())
    }
    fn frozenset(&mut self, _: Vec<()>) -> Result<(), DecodeError> {
        Ok(())
    }
    fn dict(&mut self, _: Vec<((), ())>) -> Result<(), DecodeError> {
        Ok(())
    }
    fn date(&mut self, _: Date) -> Result<(), DecodeError> {
        Ok(())
    }
    fn datetime(&mut self, _: DateTime) -> Result<(), DecodeError> {
        Ok(())
    }
    fn uuid(&mut self, _: [u8; 16]) -> Result<(), DecodeError> {
        Ok(())
    }
    fn decimal(&mut self, _: &str) -> Result<(), DecodeError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_sets_encode_the_same_whatever_the_iteration_order() {
        let encode_set = |items: &[&str]| {
            let mut enc = Encoder::new();
            enc.begin(Container::Set, items.len()).unwrap();
            let mut marks = Vec::new();
            for item in items {
                marks.push(enc.position());
                enc.str(item);
            }
            enc.sort_values(&marks);
            enc.end();
            enc.try_finish().unwrap()
        };
        let one = encode_set(&["pear", "fig", "apple", "a"]);
        assert_eq!(one, encode_set(&["a", "apple", "fig", "pear"]));
        assert_eq!(one, encode_set(&["fig", "a", "pear", "apple"]));
        let Value::Set(items) = decode(&one).unwrap() else {
            panic!("not a set")
        };
        assert_eq!(items.len(), 4);
    }

    #[test]
    fn sort_values_refuses_marks_out_of_order_or_range() {
        let mut enc = Encoder::new();
        enc.begin(Container::List, 2).unwrap();
        let first = enc.position();
        enc.int(1);
        let second = enc.position();
        enc.int(2);
        enc.sort_values(&[second, first]);
        enc.end();
        assert_eq!(enc.try_finish(), Err(EncodeError::Unbalanced));
        let mut enc = Encoder::new();
        enc.none();
        enc.sort_values(&[99]);
        assert_eq!(enc.try_finish(), Err(EncodeError::Unbalanced));
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    const DATE: Date = Date {
        year: 2024,
        month: 2,
        day: 29,
    };

    const DT: DateTime = DateTime {
        date: DATE,
        hour: 12,
        minute: 34,
        second: 56,
        microsecond: 789_000,
        fold: false,
        utc_offset_us: None,
    };

    fn vectors() -> Vec<(Value, Vec<u8>)> {
        let mut big = vec![0u8; 9];
        big[8] = 1; // 2**64
        vec![
            (Value::None, vec![0x00]),
            (Value::Bool(false), vec![0x01]),
            (Value::Bool(true), vec![0x02]),
            (Value::Int(0), vec![0x03, 0x00]),
            (Value::Int(-1), vec![0x03, 0x01]),
            (Value::Int(1), vec![0x03, 0x02]),
            (Value::Int(-64), vec![0x03, 0x7f]),
            (Value::Int(64), vec![0x03, 0x80, 0x01]),
            (Value::Int(300), vec![0x03, 0xd8, 0x04]),
            (
                Value::Int(i64::MAX),
                vec![
                    0x03, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
            ),
            (
                Value::Int(i64::MIN),
                vec![
                    0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
            ),
            (
                Value::BigInt(big),
                vec![0x04, 0x09, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            ),
            (Value::BigInt(vec![0xff]), vec![0x04, 0x01, 0xff]),
            (Value::Float(1.5), vec![0x05, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f]),
            (
                Value::Float(f64::NEG_INFINITY),
                vec![0x05, 0, 0, 0, 0, 0, 0, 0xf0, 0xff],
            ),
            (s(""), vec![0x06, 0x00]),
            (s("hé"), vec![0x06, 0x03, b'h', 0xc3, 0xa9]),
            (Value::Bytes(vec![1, 2]), vec![0x07, 0x02, 1, 2]),
            (Value::List(vec![]), vec![0x08, 0x00]),
            (
                Value::Tuple(vec![Value::Int(1), Value::None]),
                vec![0x09, 0x02, 0x03, 0x02, 0x00],
            ),
            (Value::Set(vec![s("a")]), vec![0x0a, 0x01, 0x06, 0x01, b'a']),
            (
                Value::FrozenSet(vec![Value::Bool(true)]),
                vec![0x0b, 0x01, 0x02],
            ),
            (Value::Dict(vec![]), vec![0x0c, 0x00]),
            (
                Value::Dict(vec![(
                    s("a"),
                    Value::List(vec![Value::Int(1), Value::None]),
                )]),
                vec![0x0c, 0x01, 0x06, 0x01, b'a', 0x08, 0x02, 0x03, 0x02, 0x00],
            ),
            (
                Value::DateTime(DT),
                vec![
                    0x0d, 0xe8, 0x07, 2, 29, 12, 34, 56, 0x08, 0x0a, 0x0c, 0x00, 0x00,
                ],
            ),
            (
                // +01:00, fold=1: offset 3_600_000_000 us -> zigzag 7_200_000_000
                Value::DateTime(DateTime {
                    fold: true,
                    utc_offset_us: Some(3_600_000_000),
                    ..DT
                }),
                vec![
                    0x0d, 0xe8, 0x07, 2, 29, 12, 34, 56, 0x08, 0x0a, 0x0c, 0x00, 0x03, 0x80, 0x90,
                    0x9d, 0xe9, 0x1a,
                ],
            ),
            (
                // -05:00
                Value::DateTime(DateTime {
                    utc_offset_us: Some(-18_000_000_000),
                    ..DT
                }),
                vec![
                    0x0d, 0xe8, 0x07, 2, 29, 12, 34, 56, 0x08, 0x0a, 0x0c, 0x00, 0x02, 0xff, 0xcf,
                    0x91, 0x8e, 0x86, 0x01,
                ],
            ),
            (Value::Date(DATE), vec![0x0e, 0xe8, 0x07, 2, 29]),
            (
                Value::Uuid([0xab; 16]),
                [&[0x0f][..], &[0xab; 16][..]].concat(),
            ),
            (Value::Decimal("-1.50E+3".into()), {
                let mut v = vec![0x10, 0x08];
                v.extend_from_slice(b"-1.50E+3");
                v
            }),
        ]
    }

    #[test]
    fn fixed_vectors_encode_and_decode() {
        for (value, bytes) in vectors() {
            assert_eq!(encode(&value).unwrap(), bytes, "encode {value:?}");
            assert_eq!(decode(&bytes).unwrap(), value, "decode {bytes:02x?}");
        }
    }

    #[test]
    fn empty_session_is_two_bytes() {
        assert_eq!(encode(&Value::Dict(vec![])).unwrap(), [tag::DICT, 0]);
    }

    #[test]
    fn nan_keeps_its_bits() {
        let nan = f64::from_bits(0x7ff8_0000_dead_beef);
        let bytes = encode(&Value::Float(nan)).unwrap();
        let Value::Float(back) = decode(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(back.to_bits(), nan.to_bits());
    }

    #[test]
    fn varint_lengths_over_127() {
        let long = "x".repeat(300);
        let bytes = encode(&s(&long)).unwrap();
        assert_eq!(&bytes[..3], &[0x06, 0xac, 0x02]);
        assert_eq!(decode(&bytes).unwrap(), s(&long));
    }

    #[test]
    fn refuses_truncation_everywhere() {
        for (_, bytes) in vectors() {
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..cut]),
                    Err(DecodeError::Truncated),
                    "{bytes:02x?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn refuses_trailing_bytes() {
        assert_eq!(decode(&[0x00, 0x00]), Err(DecodeError::TrailingBytes));
        assert_eq!(decode(&[0x0c, 0x00, 0xff]), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn refuses_unknown_tags() {
        for t in 0x11..=0xff {
            assert_eq!(decode(&[t]), Err(DecodeError::UnknownTag));
        }
    }

    #[test]
    fn refuses_lengths_beyond_the_bytes_left() {
        // A list claiming 2**32-1 elements in 6 bytes: refused before any allocation.
        assert_eq!(
            decode(&[0x08, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Truncated)
        );
        // A dict of 2 pairs needs at least 4 bytes.
        assert_eq!(decode(&[0x0c, 0x02, 0, 0, 0]), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0x06, 0x05, b'a']), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0x07, 0x02, 1]), Err(DecodeError::Truncated));
    }

    #[test]
    fn refuses_bad_varints() {
        // Overlong: 0 written in two bytes.
        assert_eq!(decode(&[0x03, 0x80, 0x00]), Err(DecodeError::InvalidVarint));
        // Length over u32::MAX.
        assert_eq!(
            decode(&[0x06, 0xff, 0xff, 0xff, 0xff, 0x10]),
            Err(DecodeError::InvalidVarint)
        );
        // Integer over u64::MAX.
        assert_eq!(
            decode(&[0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]),
            Err(DecodeError::InvalidVarint)
        );
        // Eleven bytes.
        assert_eq!(
            decode(&[0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00]),
            Err(DecodeError::InvalidVarint)
        );
        // u32::MAX itself is a valid length (then truncated).
        assert_eq!(
            decode(&[0x06, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn refuses_invalid_utf8() {
        assert_eq!(decode(&[0x06, 0x01, 0xff]), Err(DecodeError::InvalidUtf8));
        assert_eq!(decode(&[0x10, 0x01, 0xff]), Err(DecodeError::InvalidUtf8));
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..depth - 1 {
            bytes.extend_from_slice(&[tag::LIST, 1]);
        }
        bytes.extend_from_slice(&[tag::DICT, 0]);
        bytes
    }

    #[test]
    fn depth_limit() {
        assert!(decode(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(decode(&nested(MAX_DEPTH + 1)), Err(DecodeError::TooDeep));
        // Hostile depth never overflows the stack.
        let mut deep = [tag::LIST, 1].repeat(1_000_000);
        deep.push(tag::NONE);
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));

        let mut v = Value::None;
        for _ in 0..MAX_DEPTH {
            v = Value::List(vec![v]);
        }
        assert!(encode(&v).is_ok());
        let too_deep = Value::Dict(vec![(Value::None, v)]);
        assert_eq!(encode(&too_deep), Err(EncodeError::TooDeep));
    }

    #[test]
    fn big_int_limits() {
        assert_eq!(decode(&[0x04, 0x00]), Err(DecodeError::InvalidValue));
        let mut bytes = vec![0x04, 0x81, 0x20]; // 4097
        bytes.resize(3 + 4097, 0);
        assert_eq!(decode(&bytes), Err(DecodeError::TooLong));
        let max = Value::BigInt(vec![1; MAX_BIG_INT_LEN]);
        assert_eq!(decode(&encode(&max).unwrap()).unwrap(), max);
        assert_eq!(
            encode(&Value::BigInt(vec![1; MAX_BIG_INT_LEN + 1])),
            Err(EncodeError::TooLong)
        );
        assert_eq!(
            encode(&Value::BigInt(vec![])),
            Err(EncodeError::InvalidValue)
        );
    }

    #[test]
    fn dates_are_validated() {
        let ok = [
            (2024, 2, 29),
            (2000, 2, 29),
            (1, 1, 1),
            (9999, 12, 31),
            (2023, 4, 30),
        ];
        for (year, month, day) in ok {
            let d = Date { year, month, day };
            assert!(d.is_valid(), "{d:?}");
            let bytes = encode(&Value::Date(d)).unwrap();
            assert_eq!(decode(&bytes).unwrap(), Value::Date(d));
        }
        let bad = [
            (2023, 2, 29),
            (1900, 2, 29),
            (2024, 2, 30),
            (2024, 4, 31),
            (0, 1, 1),
            (10000, 1, 1),
            (2024, 0, 1),
            (2024, 13, 1),
            (2024, 1, 0),
            (2024, 1, 32),
        ];
        for (year, month, day) in bad {
            let d = Date { year, month, day };
            let mut bytes = vec![tag::DATE];
            bytes.extend_from_slice(&year.to_le_bytes());
            bytes.extend_from_slice(&[month, day]);
            assert_eq!(decode(&bytes), Err(DecodeError::InvalidValue), "{d:?}");
            assert_eq!(encode(&Value::Date(d)), Err(EncodeError::InvalidValue));
        }
    }

    #[test]
    fn datetimes_are_validated() {
        let max_offset = DAY_US - 1;
        for good in [
            DateTime {
                utc_offset_us: Some(max_offset),
                ..DT
            },
            DateTime {
                utc_offset_us: Some(-max_offset),
                ..DT
            },
            DateTime {
                hour: 23,
                minute: 59,
                second: 59,
                microsecond: 999_999,
                ..DT
            },
        ] {
            let bytes = encode(&Value::DateTime(good)).unwrap();
            assert_eq!(decode(&bytes).unwrap(), Value::DateTime(good));
        }
        for bad in [
            DateTime { hour: 24, ..DT },
            DateTime { minute: 60, ..DT },
            DateTime { second: 60, ..DT },
            DateTime {
                microsecond: 1_000_000,
                ..DT
            },
            DateTime {
                utc_offset_us: Some(DAY_US),
                ..DT
            },
            DateTime {
                utc_offset_us: Some(-DAY_US),
                ..DT
            },
            DateTime {
                utc_offset_us: Some(i64::MIN),
                ..DT
            },
            DateTime {
                date: Date {
                    year: 2023,
                    month: 2,
                    day: 29,
                },
                ..DT
            },
        ] {
            assert_eq!(
                encode(&Value::DateTime(bad)),
                Err(EncodeError::InvalidValue)
            );
            // Write it by hand and check the decoder refuses it too.
            let mut bytes = vec![tag::DATETIME];
            bytes.extend_from_slice(&bad.date.year.to_le_bytes());
            bytes.extend_from_slice(&[bad.date.month, bad.date.day, bad.hour, bad.minute]);
            bytes.push(bad.second);
            bytes.extend_from_slice(&bad.microsecond.to_le_bytes());
            let mut enc = Encoder::new();
            if let Some(o) = bad.utc_offset_us {
                bytes.push(FLAG_AWARE);
                enc.varint(zigzag(o));
            } else {
                bytes.push(0);
            }
            bytes.extend_from_slice(&enc.buf);
            assert_eq!(decode(&bytes), Err(DecodeError::InvalidValue), "{bad:?}");
        }
        // Unknown flag bits.
        let mut bytes = encode(&Value::DateTime(DT)).unwrap();
        *bytes.last_mut().unwrap() = 0x04;
        assert_eq!(decode(&bytes), Err(DecodeError::InvalidValue));
    }

    #[test]
    fn decimals_are_validated() {
        for good in [
            "0",
            "-0",
            "1.5",
            "-1.50E+3",
            "1E-7",
            "1e5",
            ".5",
            "5.",
            "+7",
            "Infinity",
            "-Infinity",
            "inf",
            "-Inf",
            "NaN",
            "-NaN",
            "sNaN",
            "NaN123",
            "snan",
            "0E-1000000",
        ] {
            assert!(is_valid_decimal(good), "{good}");
            let bytes = encode(&Value::Decimal(good.into())).unwrap();
            assert_eq!(decode(&bytes).unwrap(), Value::Decimal(good.into()));
        }
        for bad in [
            "",
            ".",
            "-",
            "+",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1e2e3",
            "1_000",
            " 1",
            "1 ",
            "0x10",
            "Infinit",
            "NaNx",
            "sNa",
            "--1",
            "1,5",
            "١",
            "__import__('os')",
        ] {
            assert!(!is_valid_decimal(bad), "{bad}");
            assert_eq!(
                encode(&Value::Decimal(bad.into())),
                Err(EncodeError::InvalidValue),
                "{bad}"
            );
            let mut bytes = vec![tag::DECIMAL, bad.len() as u8];
            bytes.extend_from_slice(bad.as_bytes());
            assert_eq!(decode(&bytes), Err(DecodeError::InvalidValue), "{bad}");
        }
        let long = "1".repeat(MAX_DECIMAL_LEN + 1);
        assert_eq!(
            encode(&Value::Decimal(long.clone())),
            Err(EncodeError::TooLong)
        );
        let mut bytes = vec![tag::DECIMAL, 0x81, 0x20];
        bytes.extend_from_slice(long.as_bytes());
        assert_eq!(decode(&bytes), Err(DecodeError::TooLong));
    }

    #[test]
    fn encoder_checks_declared_lengths() {
        // Too few elements.
        let mut enc = Encoder::new();
        enc.begin(Container::List, 2).unwrap();
        enc.none();
        enc.end();
        assert_eq!(enc.try_finish(), Err(EncodeError::Unbalanced));
        // Too many.
        let mut enc = Encoder::new();
        enc.begin(Container::Dict, 1).unwrap();
        enc.none();
        enc.none();
        enc.none();
        enc.end();
        assert_eq!(enc.try_finish(), Err(EncodeError::Unbalanced));
        // Left open.
        let mut enc = Encoder::new();
        enc.begin(Container::Tuple, 0).unwrap();
        assert_eq!(enc.try_finish(), Err(EncodeError::Unbalanced));
        // Two top-level values, or none.
        let mut enc = Encoder::new();
        enc.none();
        enc.none();
        assert_eq!(enc.try_finish(), Err(EncodeError::Unbalanced));
        assert!(Encoder::new().is_empty());
        assert_eq!(Encoder::new().try_finish(), Err(EncodeError::Unbalanced));
        // end() without begin().
        let mut enc = Encoder::new();
        enc.none();
        enc.end();
        assert_eq!(enc.try_finish(), Err(EncodeError::Unbalanced));
        // An error remembered from a value is reported by the next begin().
        let mut enc = Encoder::new();
        enc.begin(Container::List, 2).unwrap();
        enc.big_int(&[]);
        assert_eq!(
            enc.begin(Container::List, 0),
            Err(EncodeError::InvalidValue)
        );
    }

    #[test]
    fn encoder_depth_limit() {
        let mut enc = Encoder::with_capacity(128);
        for _ in 0..MAX_DEPTH {
            enc.begin(Container::List, 1).unwrap();
        }
        assert_eq!(enc.begin(Container::Set, 0), Err(EncodeError::TooDeep));
        let mut enc = Encoder::new();
        for _ in 0..MAX_DEPTH {
            enc.begin(Container::FrozenSet, 1).unwrap();
        }
        enc.int(7);
        for _ in 0..MAX_DEPTH {
            enc.end();
        }
        assert_eq!(enc.len(), 2 * MAX_DEPTH + 2);
        let bytes = enc.finish();
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    #[should_panic(expected = "session data could not be encoded")]
    fn finish_panics_on_a_refused_value() {
        let mut enc = Encoder::new();
        enc.big_int(&[]);
        let _ = enc.finish();
    }

    #[test]
    fn builder_errors_pass_through() {
        #[derive(Debug, PartialEq)]
        enum E {
            Decode(DecodeError),
            NoStrings,
        }
        impl From<DecodeError> for E {
            fn from(e: DecodeError) -> Self {
                E::Decode(e)
            }
        }
        struct Strict(ValueBuilder);
        impl Builder for Strict {
            type Value = Value;
            type Error = E;
            fn none(&mut self) -> Result<Value, E> {
                Ok(self.0.none()?)
            }
            fn bool(&mut self, v: bool) -> Result<Value, E> {
                Ok(self.0.bool(v)?)
            }
            fn int(&mut self, v: i64) -> Result<Value, E> {
                Ok(self.0.int(v)?)
            }
            fn big_int(&mut self, le: &[u8]) -> Result<Value, E> {
                Ok(self.0.big_int(le)?)
            }
            fn float(&mut self, v: f64) -> Result<Value, E> {
                Ok(self.0.float(v)?)
            }
            fn str(&mut self, _: &str) -> Result<Value, E> {
                Err(E::NoStrings)
            }
            fn bytes(&mut self, v: &[u8]) -> Result<Value, E> {
                Ok(self.0.bytes(v)?)
            }
            fn list(&mut self, items: Vec<Value>) -> Result<Value, E> {
                Ok(self.0.list(items)?)
            }
            fn tuple(&mut self, items: Vec<Value>) -> Result<Value, E> {
                Ok(self.0.tuple(items)?)
            }
            fn set(&mut self, items: Vec<Value>) -> Result<Value, E> {
                Ok(self.0.set(items)?)
            }
            fn frozenset(&mut self, items: Vec<Value>) -> Result<Value, E> {
                Ok(self.0.frozenset(items)?)
            }
            fn dict(&mut self, pairs: Vec<(Value, Value)>) -> Result<Value, E> {
                Ok(self.0.dict(pairs)?)
            }
            fn date(&mut self, v: Date) -> Result<Value, E> {
                Ok(self.0.date(v)?)
            }
            fn datetime(&mut self, v: DateTime) -> Result<Value, E> {
                Ok(self.0.datetime(v)?)
            }
            fn uuid(&mut self, v: [u8; 16]) -> Result<Value, E> {
                Ok(self.0.uuid(v)?)
            }
            fn decimal(&mut self, v: &str) -> Result<Value, E> {
                Ok(self.0.decimal(v)?)
            }
        }
        let mut b = Strict(ValueBuilder);
        assert_eq!(
            decode_with(&[0x08, 0x01, 0x00], &mut b),
            Ok(Value::List(vec![Value::None]))
        );
        assert_eq!(
            decode_with(&[0x08, 0x01, 0x06, 0x00], &mut b),
            Err(E::NoStrings)
        );
        assert_eq!(
            decode_with(&[0x08, 0x02, 0x00], &mut b),
            Err(E::Decode(DecodeError::Truncated))
        );
        assert_eq!(
            decode_with(&[0x00, 0x00], &mut b),
            Err(E::Decode(DecodeError::TrailingBytes))
        );
    }
}
