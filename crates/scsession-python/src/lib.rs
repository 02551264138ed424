//! `scsession._core`: the Python surface of `scsession-core`.
//!
//! Every function here extracts its arguments, calls the core, maps the error and returns;
//! the one piece of real work, turning Python objects into the binary format and back, lives in
//! `convert.rs`. Errors are mapped in `errors.rs`.
//!
//! - `engine.rs`: the request path (`Engine`, `SessionState`, `Finished`, `Finishing`).
//! - `stores.rs`: one wrapper for every built-in store.
//! - here: the binary format, ids, and the `Sealer` of the command line and test helpers.

mod convert;
mod engine;
mod errors;
mod runtime;
mod stores;
mod users;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use scsession_core::inspect::{Expired, Inspected as CoreInspected};
use scsession_core::{KeyRing, Lifetime, Record, Sealer as CoreSealer, SessionId};

/// Serializes session data (a dict with str keys) to scsession's binary format.
#[pyfunction]
fn dumps<'py>(py: Python<'py>, data: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = convert::encode_session(data).map_err(convert::EncodeFailure::into_pyerr)?;
    Ok(PyBytes::new(py, &bytes))
}

/// Raises the `TypeError` that saving would raise if `value` cannot be stored under `key`.
#[pyfunction]
fn check_value(key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let data = PyDict::new(key.py());
    data.set_item(key, value)?;
    convert::encode_session(&data)
        .map(drop)
        .map_err(convert::EncodeFailure::into_pyerr)
}

/// Deserializes session data made by `dumps`; `ValueError` if it is not well-formed.
#[pyfunction]
fn loads<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    convert::decode_session(py, data).ok_or_else(errors::bad_session_data)
}

/// A new random session id (128 bits from the OS CSPRNG), as 22 base64url characters.
#[pyfunction]
fn new_session_id() -> String {
    SessionId::random().to_string()
}

/// Seals and opens sessions under a key ring, for one cookie name and one lifetime policy: for
/// the command line and for tests that make cookies and records by hand. Requests go through
/// `Engine`.
#[pyclass(frozen, module = "scsession._core")]
pub(crate) struct Sealer {
    core: CoreSealer,
    lifetime: Lifetime,
}

#[pymethods]
impl Sealer {
    #[new]
    #[pyo3(signature = (secrets, cookie_name, max_age, idle_timeout))]
    #[allow(clippy::needless_pass_by_value)] // PyO3 extracts arguments by value
    fn new(
        secrets: Vec<Vec<u8>>,
        cookie_name: &str,
        max_age: Option<u64>,
        idle_timeout: Option<u64>,
    ) -> PyResult<Self> {
        let ring = KeyRing::new(&secrets).map_err(errors::key_error)?;
        Ok(Self {
            core: CoreSealer::new(ring, cookie_name),
            lifetime: Lifetime {
                max_age,
                idle_timeout,
            },
        })
    }

    /// The cookie value for a session (its size unchecked: a test may want one too large).
    fn seal_cookie(&self, id: &str, created: u64, now: u64, data: &[u8]) -> PyResult<String> {
        let record = Record {
            id: parse_id(id)?,
            created,
            last_seen: now,
            data: data.to_vec(),
        };
        Ok(self.core.seal_cookie(&record))
    }

    /// The cookie value for a server-side session: the id and its MAC.
    fn sign_id(&self, id: &str) -> PyResult<String> {
        Ok(self.core.sign_id(&parse_id(id)?))
    }

    /// The encrypted record a store keeps for a session.
    fn seal_record<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        created: u64,
        now: u64,
        data: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let record = Record {
            id: parse_id(id)?,
            created,
            last_seen: now,
            data: data.to_vec(),
        };
        Ok(PyBytes::new(py, &self.core.seal_record(&record)))
    }

    /// The data of a valid, unexpired record of `id`, else None.
    fn open_record<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        blob: &[u8],
        now: u64,
    ) -> Option<Bound<'py, PyDict>> {
        let id: SessionId = id.parse().ok()?;
        let record = self.core.open_record(&id, blob).ok()?;
        if self
            .lifetime
            .is_expired(record.created, record.last_seen, now)
        {
            return None;
        }
        convert::decode_session(py, &record.data)
    }

    /// Diagnostics for the command line, never for requests: what a cookie value holds, or a
    /// `ValueError` saying exactly why it does not open. Timestamps are not checked.
    fn inspect_cookie(&self, py: Python<'_>, value: &str) -> PyResult<Inspected> {
        let found = self
            .core
            .inspect_cookie(value.as_bytes())
            .map_err(errors::cookie_problem)?;
        Ok(match found {
            CoreInspected::Sealed { record, key_id } => {
                Inspected::new(py, "sealed", &record, Some(key_id.to_string()))
            }
            CoreInspected::SignedId(id) => Inspected {
                kind: "signed id",
                id: id.to_string(),
                key_id: None,
                created: None,
                last_seen: None,
                data: None,
            },
        })
    }

    /// Diagnostics for the command line: what a stored record holds, or a `ValueError` saying
    /// exactly why it does not open.
    fn inspect_record(&self, py: Python<'_>, id: &str, blob: &[u8]) -> PyResult<Inspected> {
        let (record, key_id) = self
            .core
            .inspect_record(&parse_id(id)?, blob)
            .map_err(errors::cookie_problem)?;
        Ok(Inspected::new(
            py,
            "record",
            &record,
            Some(key_id.to_string()),
        ))
    }

    /// When the session expires if nothing else happens (unix seconds), None without limits.
    fn expires_at(&self, created: u64, last_seen: u64) -> Option<u64> {
        self.lifetime.expires_at(created, last_seen)
    }

    /// Why the session has expired at `now`; None while it lives.
    fn why_expired(&self, created: u64, last_seen: u64, now: u64) -> Option<Expiry> {
        Some(match self.lifetime.why_expired(created, last_seen, now)? {
            Expired::MaxAge { max_age, at } => Expiry {
                reason: "max_age",
                limit: Some(max_age),
                at,
            },
            Expired::Idle { idle_timeout, at } => Expiry {
                reason: "idle_timeout",
                limit: Some(idle_timeout),
                at,
            },
            Expired::FromTheFuture { timestamp } => Expiry {
                reason: "future",
                limit: None,
                at: timestamp,
            },
        })
    }

    fn __repr__(&self) -> String {
        format!("<Sealer: {:?}, keys redacted>", self.lifetime)
    }
}

/// What a cookie value or a stored record holds, for the command line: `kind` is "sealed" (a
/// cookie session), "signed id" (a server-side session's cookie: only `id` is set) or "record".
#[pyclass(frozen, get_all, module = "scsession._core")]
struct Inspected {
    kind: &'static str,
    id: String,
    key_id: Option<String>,
    created: Option<u64>,
    last_seen: Option<u64>,
    data: Option<Py<PyBytes>>,
}

impl Inspected {
    fn new(py: Python<'_>, kind: &'static str, record: &Record, key_id: Option<String>) -> Self {
        Self {
            kind,
            id: record.id.to_string(),
            key_id,
            created: Some(record.created),
            last_seen: Some(record.last_seen),
            data: Some(PyBytes::new(py, &record.data).unbind()),
        }
    }
}

/// Why a session expired: `reason` is `"max_age"` or `"idle_timeout"` (`limit` seconds, run out
/// `at`), or "future" (its timestamp `at` lies in the future).
#[pyclass(frozen, get_all, module = "scsession._core")]
struct Expiry {
    reason: &'static str,
    limit: Option<u64>,
    at: u64,
}

pub(crate) fn parse_id(id: &str) -> PyResult<SessionId> {
    id.parse().map_err(|_| errors::bad_session_id())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(check_value, m)?)?;
    m.add_function(wrap_pyfunction!(loads, m)?)?;
    m.add_function(wrap_pyfunction!(new_session_id, m)?)?;
    m.add_class::<Sealer>()?;
    m.add_class::<Inspected>()?;
    m.add_class::<Expiry>()?;
    m.add_class::<engine::Engine>()?;
    m.add_class::<engine::SessionState>()?;
    m.add_class::<engine::Opened>()?;
    m.add_class::<engine::Finished>()?;
    m.add_class::<engine::Event>()?;
    m.add_class::<engine::Finishing>()?;
    m.add_class::<engine::SaveOp>()?;
    m.add_class::<stores::Store>()?;
    m.add_class::<stores::MemoryStore>()?;
    m.add_class::<stores::RedisStore>()?;
    m.add_class::<stores::MemcachedStore>()?;
    m.add_class::<stores::SqlStore>()?;
    m.add_class::<stores::SqlStats>()?;
    m.add_class::<users::UserSession>()?;
    m.add_class::<runtime::Ready>()?;
    m.add_class::<runtime::Completions>()?;
    m.add_function(wrap_pyfunction!(runtime::shutdown_runtime, m)?)?;
    Ok(())
}
