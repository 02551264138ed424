//! Python objects to and from scsession's binary format, with no intermediate tree.
//!
//! Encoding walks the Python object and drives `format::Encoder` directly; decoding implements
//! `format::Builder` so the core does the parsing, the limits and the recursion, and this file
//! only makes Python objects. Type checks go from the commonest exact types to the rarest.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDate, PyDateAccess, PyDateTime, PyDelta, PyDeltaAccess, PyDict,
    PyFloat, PyFrozenSet, PyInt, PyList, PySet, PyString, PyTimeAccess, PyTuple, PyType, PyTzInfo,
    PyTzInfoAccess,
};
use scsession_core::format::{self, Builder, Container, Date, DateTime, DecodeError, Encoder};

/// The types a session can hold, for error messages.
const SUPPORTED: &str = "None, bool, int, float, str, bytes, list, tuple, set, frozenset, dict, \
                         datetime, date, UUID and Decimal";

static UUID_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DECIMAL_TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn uuid_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    UUID_TYPE.import(py, "uuid", "UUID")
}

fn decimal_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    DECIMAL_TYPE.import(py, "decimal", "Decimal")
}

/// Why a value could not be encoded, and where: the path is filled in while unwinding, so the
/// happy path pays nothing for it.
pub struct EncodeFailure {
    problem: Problem,
    /// Path segments from the innermost outwards, e.g. `[2]`, `['cart']`.
    path: Vec<String>,
}

enum Problem {
    Unsupported(String),
    TooDeep,
    TooLong,
    Invalid,
    Python(PyErr),
}

impl EncodeFailure {
    fn new(problem: Problem) -> Self {
        Self {
            problem,
            path: Vec::new(),
        }
    }

    fn at(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }

    /// The exception users see: a `TypeError` naming the key and the path inside it.
    pub fn into_pyerr(self) -> PyErr {
        let location: String = self.path.iter().rev().map(String::as_str).collect();
        let location = format!("session{location}");
        match self.problem {
            Problem::Unsupported(type_name) => PyTypeError::new_err(format!(
                "cannot store a value of type '{type_name}' at {location}: sessions hold \
                 {SUPPORTED}; convert it first (for example to a str or a dict)"
            )),
            Problem::TooDeep => PyValueError::new_err(format!(
                "the value at {location} nests deeper than {} levels (or contains itself); \
                 store a flatter structure",
                format::MAX_DEPTH
            )),
            Problem::TooLong => PyValueError::new_err(format!(
                "the value at {location} is too large to store in a session"
            )),
            Problem::Invalid => {
                PyValueError::new_err(format!("the value at {location} is out of range"))
            }
            Problem::Python(err) => err,
        }
    }
}

impl From<PyErr> for EncodeFailure {
    fn from(err: PyErr) -> Self {
        Self::new(Problem::Python(err))
    }
}

impl From<format::EncodeError> for EncodeFailure {
    fn from(err: format::EncodeError) -> Self {
        Self::new(match err {
            format::EncodeError::TooDeep => Problem::TooDeep,
            format::EncodeError::TooLong => Problem::TooLong,
            // Python's own types keep dates and decimals in range, and this file balances every
            // container it opens, so these mean a bug rather than a user mistake.
            format::EncodeError::InvalidValue | format::EncodeError::Unbalanced => Problem::Invalid,
        })
    }
}

fn key_segment(key: &Bound<'_, PyAny>) -> String {
    match key.repr() {
        Ok(repr) => format!("[{repr}]"),
        Err(_) => "[?]".to_owned(),
    }
}

/// Encodes session data (a dict with str keys, as a session is `MutableMapping[str, Any]`).
pub fn encode_session(data: &Bound<'_, PyDict>) -> Result<Vec<u8>, EncodeFailure> {
    let mut enc = Encoder::with_capacity(256);
    encode_session_into(data, &mut enc)?;
    Ok(enc.try_finish()?)
}

fn encode_session_into(data: &Bound<'_, PyDict>, enc: &mut Encoder) -> Result<(), EncodeFailure> {
    enc.begin(Container::Dict, data.len())?;
    for (key, value) in data.iter() {
        let Ok(key_str) = key.cast::<PyString>() else {
            return Err(EncodeFailure::new(Problem::Unsupported(format!(
                "{} as a session key (session keys must be str)",
                type_name(&key)
            )))
            .at(key_segment(&key)));
        };
        enc.str(key_str.to_str()?);
        encode_value(&value, enc).map_err(|e| e.at(key_segment(&key)))?;
    }
    enc.end();
    Ok(())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

fn encode_items<'py>(
    items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
    kind: Container,
    enc: &mut Encoder,
) -> Result<(), EncodeFailure> {
    enc.begin(kind, items.len())?;
    for (index, item) in items.enumerate() {
        encode_value(&item, enc).map_err(|e| e.at(format!("[{index}]")))?;
    }
    enc.end();
    Ok(())
}

/// Sets are written in byte order of their encoded elements: their iteration order varies
/// between processes, and an unchanged session must serialize to the same bytes everywhere.
fn encode_unordered<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    len: usize,
    kind: Container,
    enc: &mut Encoder,
) -> Result<(), EncodeFailure> {
    enc.begin(kind, len)?;
    let mut starts = Vec::with_capacity(len);
    for item in items {
        starts.push(enc.position());
        encode_value(&item, enc).map_err(|e| e.at("{…}".to_owned()))?;
    }
    enc.sort_values(&starts);
    enc.end();
    Ok(())
}

fn encode_dict(dict: &Bound<'_, PyDict>, enc: &mut Encoder) -> Result<(), EncodeFailure> {
    enc.begin(Container::Dict, dict.len())?;
    for (key, value) in dict.iter() {
        encode_value(&key, enc).map_err(|e| e.at(format!("{}(key)", key_segment(&key))))?;
        encode_value(&value, enc).map_err(|e| e.at(key_segment(&key)))?;
    }
    enc.end();
    Ok(())
}

fn encode_int(obj: &Bound<'_, PyAny>, enc: &mut Encoder) -> Result<(), EncodeFailure> {
    if let Ok(small) = obj.extract::<i64>() {
        enc.int(small);
        return Ok(());
    }
    // Python ints are unbounded: two's complement, little endian, one spare bit for the sign.
    let bits: usize = obj.call_method0("bit_length")?.extract()?;
    let kwargs = PyDict::new(obj.py());
    kwargs.set_item("signed", true)?;
    let bytes = obj.call_method("to_bytes", (bits / 8 + 1, "little"), Some(&kwargs))?;
    let bytes = bytes.cast::<PyBytes>().map_err(PyErr::from)?;
    enc.big_int(bytes.as_bytes());
    Ok(())
}

fn encode_datetime(dt: &Bound<'_, PyDateTime>, enc: &mut Encoder) -> Result<(), EncodeFailure> {
    // A tzinfo can still say "no offset" (utcoffset() is None): that is a naive datetime.
    let offset = if dt.get_tzinfo().is_some() {
        Some(dt.call_method0("utcoffset")?)
    } else {
        None
    };
    let utc_offset_us = match offset {
        Some(offset) if !offset.is_none() => {
            let delta = offset.cast::<PyDelta>().map_err(PyErr::from)?;
            Some(
                (i64::from(delta.get_days()) * 86_400 + i64::from(delta.get_seconds())) * 1_000_000
                    + i64::from(delta.get_microseconds()),
            )
        }
        _ => None,
    };
    enc.datetime(&DateTime {
        date: Date {
            year: python_year(dt.get_year()),
            month: dt.get_month(),
            day: dt.get_day(),
        },
        hour: dt.get_hour(),
        minute: dt.get_minute(),
        second: dt.get_second(),
        microsecond: dt.get_microsecond(),
        fold: dt.get_fold(),
        utc_offset_us,
    });
    Ok(())
}

/// Python's dates keep their year within 1..=9999, so it always fits.
fn python_year(year: i32) -> u16 {
    u16::try_from(year).unwrap_or_default()
}

/// Encodes one value of any supported type, commonest first. Subclasses (a `StrEnum`, an
/// `OrderedDict`) are stored as their base type; `bool` is tested before `int`, its base.
pub fn encode_value(obj: &Bound<'_, PyAny>, enc: &mut Encoder) -> Result<(), EncodeFailure> {
    let py = obj.py();
    if let Ok(s) = obj.cast::<PyString>() {
        enc.str(s.to_str()?);
    } else if let Ok(b) = obj.cast::<PyBool>() {
        enc.bool(b.is_true());
    } else if obj.is_instance_of::<PyInt>() {
        encode_int(obj, enc)?;
    } else if obj.is_none() {
        enc.none();
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        enc.float(f.value());
    } else if let Ok(d) = obj.cast::<PyDict>() {
        encode_dict(d, enc)?;
    } else if let Ok(l) = obj.cast::<PyList>() {
        encode_items(l.iter(), Container::List, enc)?;
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        encode_items(t.iter(), Container::Tuple, enc)?;
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        enc.bytes(b.as_bytes());
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        enc.bytes(&b.to_vec());
    } else if let Ok(s) = obj.cast::<PySet>() {
        encode_unordered(s.iter(), s.len(), Container::Set, enc)?;
    } else if let Ok(s) = obj.cast::<PyFrozenSet>() {
        encode_unordered(s.iter(), s.len(), Container::FrozenSet, enc)?;
    } else if let Ok(dt) = obj.cast::<PyDateTime>() {
        encode_datetime(dt, enc)?;
    } else if let Ok(d) = obj.cast::<PyDate>() {
        enc.date(&Date {
            year: python_year(d.get_year()),
            month: d.get_month(),
            day: d.get_day(),
        });
    } else if obj.is_instance(uuid_type(py)?)? {
        let bytes: [u8; 16] = obj.getattr("bytes")?.extract()?;
        enc.uuid(&bytes);
    } else if obj.is_instance(decimal_type(py)?)? {
        enc.decimal(obj.str()?.to_str()?);
    } else {
        return Err(EncodeFailure::new(Problem::Unsupported(type_name(obj))));
    }
    Ok(())
}

/// Builds Python objects while the core decodes.
pub struct PyBuilder<'py> {
    py: Python<'py>,
}

impl<'py> PyBuilder<'py> {
    pub fn new(py: Python<'py>) -> Self {
        Self { py }
    }
}

/// A decode failure inside the builder: the format was wrong, or Python refused a value (an
/// unhashable set member, say). Either way the caller treats the data as absent, so the reason
/// is not kept.
pub struct BuildError;

impl From<DecodeError> for BuildError {
    fn from(_: DecodeError) -> Self {
        Self
    }
}

impl From<PyErr> for BuildError {
    fn from(_: PyErr) -> Self {
        Self
    }
}

type Built<'py> = Result<Bound<'py, PyAny>, BuildError>;

impl<'py> Builder for PyBuilder<'py> {
    type Value = Bound<'py, PyAny>;
    type Error = BuildError;

    fn none(&mut self) -> Built<'py> {
        Ok(self.py.None().into_bound(self.py))
    }
    fn bool(&mut self, v: bool) -> Built<'py> {
        Ok(PyBool::new(self.py, v).to_owned().into_any())
    }
    fn int(&mut self, v: i64) -> Built<'py> {
        Ok(v.into_pyobject(self.py).map_err(PyErr::from)?.into_any())
    }
    fn big_int(&mut self, le: &[u8]) -> Built<'py> {
        let kwargs = PyDict::new(self.py);
        kwargs.set_item("signed", true)?;
        let int_type = self.py.get_type::<PyInt>();
        Ok(int_type.call_method(
            "from_bytes",
            (PyBytes::new(self.py, le), "little"),
            Some(&kwargs),
        )?)
    }
    fn float(&mut self, v: f64) -> Built<'py> {
        Ok(PyFloat::new(self.py, v).into_any())
    }
    fn str(&mut self, v: &str) -> Built<'py> {
        Ok(PyString::new(self.py, v).into_any())
    }
    fn bytes(&mut self, v: &[u8]) -> Built<'py> {
        Ok(PyBytes::new(self.py, v).into_any())
    }
    fn list(&mut self, items: Vec<Self::Value>) -> Built<'py> {
        Ok(PyList::new(self.py, items)?.into_any())
    }
    fn tuple(&mut self, items: Vec<Self::Value>) -> Built<'py> {
        Ok(PyTuple::new(self.py, items)?.into_any())
    }
    fn set(&mut self, items: Vec<Self::Value>) -> Built<'py> {
        Ok(PySet::new(self.py, items)?.into_any())
    }
    fn frozenset(&mut self, items: Vec<Self::Value>) -> Built<'py> {
        Ok(PyFrozenSet::new(self.py, items)?.into_any())
    }
    fn dict(&mut self, pairs: Vec<(Self::Value, Self::Value)>) -> Built<'py> {
        let dict = PyDict::new(self.py);
        for (key, value) in pairs {
            dict.set_item(key, value)?;
        }
        Ok(dict.into_any())
    }
    fn date(&mut self, v: Date) -> Built<'py> {
        Ok(PyDate::new(self.py, i32::from(v.year), v.month, v.day)?.into_any())
    }
    fn datetime(&mut self, v: DateTime) -> Built<'py> {
        let tz = match v.utc_offset_us {
            None => None,
            Some(0) => Some(PyTzInfo::utc(self.py)?.to_owned()),
            Some(us) => {
                let seconds = us.div_euclid(1_000_000);
                let micros = us.rem_euclid(1_000_000);
                // Bounded by the core to less than a day either way, so these fit in i32.
                let delta = PyDelta::new(self.py, 0, seconds as i32, micros as i32, true)?;
                Some(PyTzInfo::fixed_offset(self.py, delta)?)
            }
        };
        Ok(PyDateTime::new_with_fold(
            self.py,
            i32::from(v.date.year),
            v.date.month,
            v.date.day,
            v.hour,
            v.minute,
            v.second,
            v.microsecond,
            tz.as_ref(),
            v.fold,
        )?
        .into_any())
    }
    fn uuid(&mut self, v: [u8; 16]) -> Built<'py> {
        let kwargs = PyDict::new(self.py);
        kwargs.set_item("bytes", PyBytes::new(self.py, &v))?;
        Ok(uuid_type(self.py)?.call((), Some(&kwargs))?)
    }
    fn decimal(&mut self, v: &str) -> Built<'py> {
        Ok(decimal_type(self.py)?.call1((v,))?)
    }
}

/// Decodes session data into a dict, or `None` when it is not a well-formed session.
pub fn decode_session<'py>(py: Python<'py>, data: &[u8]) -> Option<Bound<'py, PyDict>> {
    let value = format::decode_with(data, &mut PyBuilder::new(py)).ok()?;
    value.cast_into::<PyDict>().ok()
}
