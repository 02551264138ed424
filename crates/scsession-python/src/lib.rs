//! `scsession._core`: the Python surface of `scsession-core`.
//!
//! Every function here extracts its arguments, calls the core, maps the error and returns;
//! the one piece of real work, turning Python objects into the binary format and back, lives in
//! `convert.rs`. Errors are mapped in `errors.rs`.

mod convert;
mod errors;
mod runtime;
mod saving;
mod stores;
mod users;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use scsession_core::changeset::Changeset;
use scsession_core::inspect::{Expired, Inspected};
use scsession_core::store::{
    self as core_store, Commit, Committed, MemoryStore as CoreMemoryStore,
};
use scsession_core::{cookie, format, KeyRing, Lifetime, Record, Sealer as CoreSealer, SessionId};
use std::time::Duration;

/// What an opened cookie holds: `(id, created, last_seen, data_bytes, data)`.
type OpenedCookie<'py> = (String, u64, u64, Bound<'py, PyBytes>, Bound<'py, PyDict>);
/// What an opened store record holds: `(created, last_seen, data_bytes, data)`.
type OpenedRecord<'py> = (u64, u64, Bound<'py, PyBytes>, Bound<'py, PyDict>);
/// What `inspect_cookie` found: `(kind, id, key_id, created, last_seen, data_bytes)`, the last
/// four None for a signed id.
type InspectedCookie<'py> = (
    &'static str,
    String,
    Option<String>,
    Option<u64>,
    Option<u64>,
    Option<Bound<'py, PyBytes>>,
);

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

/// The top-level keys set or removed between two encoded sessions (for `modified` events).
#[pyfunction]
fn changed_keys(before: &[u8], after: &[u8]) -> PyResult<Vec<String>> {
    let changes = Changeset::between(before, after).map_err(|_| errors::bad_session_data())?;
    Ok(changes
        .keys()
        .filter_map(|key| match format::decode(key) {
            Ok(format::Value::Str(key)) => Some(key),
            _ => None,
        })
        .collect())
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

/// Seals and opens sessions under a key ring, for one cookie name and one lifetime policy.
#[pyclass(frozen, module = "scsession._core")]
pub(crate) struct Sealer {
    pub(crate) core: CoreSealer,
    pub(crate) lifetime: Lifetime,
    cookie_name_len: usize,
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
            cookie_name_len: cookie_name.len(),
        })
    }

    /// `(id, created, last_seen, data_bytes, data)` of the first valid, unexpired cookie of
    /// ours in the ASGI `headers`, else None.
    fn open_cookie<'py>(
        &self,
        py: Python<'py>,
        headers: &Bound<'py, PyAny>,
        now: u64,
    ) -> PyResult<Option<OpenedCookie<'py>>> {
        self.each_cookie(headers, |value| {
            let record = self.core.open_cookie(value).ok()?;
            let data = self.live_data(py, &record, now)?;
            Some((
                record.id.to_string(),
                record.created,
                record.last_seen,
                PyBytes::new(py, &record.data),
                data,
            ))
        })
    }

    /// The cookie value for a session; `SessionTooLargeError` past the browsers' 4096 bytes.
    fn seal_cookie(&self, id: &str, created: u64, now: u64, data: &[u8]) -> PyResult<String> {
        let record = Record {
            id: parse_id(id)?,
            created,
            last_seen: now,
            data: data.to_vec(),
        };
        let value = self.core.seal_cookie(&record);
        errors::check_cookie_size(self.cookie_name_len + 1 + value.len())?;
        Ok(value)
    }

    /// The cookie value for a server-side session: the id and its MAC.
    fn sign_id(&self, id: &str) -> PyResult<String> {
        Ok(self.core.sign_id(&parse_id(id)?))
    }

    /// The ids in our server-side session cookies in the ASGI `headers` whose MAC verifies,
    /// in the order the browser sent them, each once, at most two (see `Sealer::session_ids`).
    fn session_ids(&self, headers: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let mut values: Vec<Bound<'_, PyBytes>> = Vec::new();
        for pair in headers.try_iter()? {
            let pair = pair?;
            let name = pair.get_item(0)?;
            if name
                .cast::<PyBytes>()
                .is_ok_and(|n| n.as_bytes() == b"cookie")
            {
                if let Ok(value) = pair.get_item(1)?.cast_into::<PyBytes>() {
                    values.push(value);
                }
            }
        }
        let ids = self
            .core
            .session_ids(values.iter().map(PyBytesMethods::as_bytes));
        Ok(ids.iter().map(ToString::to_string).collect())
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

    /// `(created, last_seen, data_bytes, data)` for a valid, unexpired record of `id`, else None.
    fn open_record<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        blob: &[u8],
        now: u64,
    ) -> Option<OpenedRecord<'py>> {
        let id: SessionId = id.parse().ok()?;
        let record = self.core.open_record(&id, blob).ok()?;
        let data = self.live_data(py, &record, now)?;
        Some((
            record.created,
            record.last_seen,
            PyBytes::new(py, &record.data),
            data,
        ))
    }

    /// The id of the first cookie of ours in the ASGI `headers` that opens but whose session
    /// has expired by `now`, else None (for `expired` events; requests use `open_cookie`).
    fn expired_cookie(&self, headers: &Bound<'_, PyAny>, now: u64) -> PyResult<Option<String>> {
        self.each_cookie(headers, |value| {
            let record = self.core.open_cookie(value).ok()?;
            self.lifetime
                .is_expired(record.created, record.last_seen, now)
                .then(|| record.id.to_string())
        })
    }

    /// Whether `blob` is a record of `id` that opens but whose session has expired by `now`.
    fn expired_record(&self, id: &str, blob: &[u8], now: u64) -> bool {
        id.parse()
            .ok()
            .and_then(|id| self.core.open_record(&id, blob).ok())
            .is_some_and(|record| {
                self.lifetime
                    .is_expired(record.created, record.last_seen, now)
            })
    }

    /// Whether an unchanged session must be rewritten to keep its idle deadline.
    fn needs_refresh(&self, last_seen: u64, now: u64) -> bool {
        self.lifetime.needs_refresh(last_seen, now)
    }

    /// Seconds until the session dies if nothing else happens, None without any limit.
    fn remaining(&self, created: u64, last_seen: u64, now: u64) -> Option<u64> {
        self.lifetime.remaining(created, last_seen, now)
    }

    /// Seconds a store should keep a session written now (see `Lifetime::store_ttl`).
    fn store_ttl(&self, created: u64, now: u64) -> u64 {
        self.lifetime.store_ttl(created, now)
    }

    /// Diagnostics for the command line, never for requests: what a cookie value is, or a
    /// `ValueError` saying exactly why it does not open. Timestamps are not checked.
    fn inspect_cookie<'py>(&self, py: Python<'py>, value: &str) -> PyResult<InspectedCookie<'py>> {
        let found = self
            .core
            .inspect_cookie(value.as_bytes())
            .map_err(errors::cookie_problem)?;
        Ok(match found {
            Inspected::Sealed { record, key_id } => (
                "sealed",
                record.id.to_string(),
                Some(key_id.to_string()),
                Some(record.created),
                Some(record.last_seen),
                Some(PyBytes::new(py, &record.data)),
            ),
            Inspected::SignedId(id) => ("signed id", id.to_string(), None, None, None, None),
        })
    }

    /// Diagnostics for the command line: `(key_id, created, last_seen, data_bytes)` of a stored
    /// record, or a `ValueError` saying exactly why it does not open.
    fn inspect_record<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        blob: &[u8],
    ) -> PyResult<(String, u64, u64, Bound<'py, PyBytes>)> {
        let (record, key_id) = self
            .core
            .inspect_record(&parse_id(id)?, blob)
            .map_err(errors::cookie_problem)?;
        Ok((
            key_id.to_string(),
            record.created,
            record.last_seen,
            PyBytes::new(py, &record.data),
        ))
    }

    /// When the session expires if nothing else happens (unix seconds), None without limits.
    fn expires_at(&self, created: u64, last_seen: u64) -> Option<u64> {
        self.lifetime.expires_at(created, last_seen)
    }

    /// Why the session has expired at `now`: `("max_age" | "idle_timeout", seconds, at)` or
    /// `("future", None, timestamp)`; None while it lives.
    fn why_expired(
        &self,
        created: u64,
        last_seen: u64,
        now: u64,
    ) -> Option<(&'static str, Option<u64>, u64)> {
        Some(match self.lifetime.why_expired(created, last_seen, now)? {
            Expired::MaxAge { max_age, at } => ("max_age", Some(max_age), at),
            Expired::Idle { idle_timeout, at } => ("idle_timeout", Some(idle_timeout), at),
            Expired::FromTheFuture { timestamp } => ("future", None, timestamp),
        })
    }

    fn __repr__(&self) -> String {
        format!("<Sealer: {:?}, keys redacted>", self.lifetime)
    }
}

impl Sealer {
    /// The data of an opened record as a dict, unless the session has expired by `now` or
    /// its data does not decode.
    fn live_data<'py>(
        &self,
        py: Python<'py>,
        record: &Record,
        now: u64,
    ) -> Option<Bound<'py, PyDict>> {
        if self
            .lifetime
            .is_expired(record.created, record.last_seen, now)
        {
            return None;
        }
        convert::decode_session(py, &record.data)
    }

    /// Calls `found` with each value of our cookie in the ASGI `headers` (an iterable of
    /// `(name, value)` byte pairs) until it returns something.
    fn each_cookie<T>(
        &self,
        headers: &Bound<'_, PyAny>,
        mut found: impl FnMut(&[u8]) -> Option<T>,
    ) -> PyResult<Option<T>> {
        for pair in headers.try_iter()? {
            let pair = pair?;
            // ASGI servers lowercase header names.
            let name = pair.get_item(0)?;
            if !name
                .cast::<PyBytes>()
                .is_ok_and(|n| n.as_bytes() == b"cookie")
            {
                continue;
            }
            let value = pair.get_item(1)?;
            let Ok(value) = value.cast::<PyBytes>() else {
                continue;
            };
            for cookie in cookie::values(value.as_bytes(), self.core.cookie_name()) {
                if let Some(result) = found(cookie) {
                    return Ok(Some(result));
                }
            }
        }
        Ok(None)
    }
}

/// What `replace` did, as the Python store contract spells it.
pub(crate) fn swap_name(swap: core_store::Swap) -> &'static str {
    match swap {
        core_store::Swap::Done => "done",
        core_store::Swap::Stale => "stale",
        core_store::Swap::Missing => "missing",
    }
}

pub(crate) fn parse_id(id: &str) -> PyResult<SessionId> {
    id.parse().map_err(|_| errors::bad_session_id())
}

/// The in-process store: sealed records by id, each expiring with its session.
#[pyclass(frozen, module = "scsession._core")]
struct MemoryStore {
    inner: CoreMemoryStore,
    keys: users::IndexKeys,
}

#[pymethods]
impl MemoryStore {
    #[new]
    fn new() -> Self {
        Self {
            inner: CoreMemoryStore::new(),
            keys: users::IndexKeys::default(),
        }
    }

    fn load<'py>(&self, py: Python<'py>, id: &str) -> Option<Bound<'py, PyBytes>> {
        let id: SessionId = id.parse().ok()?;
        self.inner.load_now(&id).map(|blob| PyBytes::new(py, &blob))
    }

    fn save(&self, id: &str, data: &[u8], ttl_seconds: u64) -> PyResult<()> {
        self.inner
            .save_now(&parse_id(id)?, data, Duration::from_secs(ttl_seconds));
        Ok(())
    }

    /// Replaces the record under `id` only if it is still `expected`: "done", "stale" or
    /// "missing" (see `SessionStore.replace`).
    fn replace(
        &self,
        id: &str,
        expected: &[u8],
        data: &[u8],
        ttl_seconds: u64,
    ) -> PyResult<&'static str> {
        let swap = self.inner.replace_now(
            &parse_id(id)?,
            scsession_core::seal::record_version(expected),
            data,
            Duration::from_secs(ttl_seconds),
        );
        Ok(swap_name(swap))
    }

    /// Saves a session without losing concurrent changes; False if it ended meanwhile. With
    /// `user_id`, the session's entry in that user's index is written too.
    #[pyo3(signature = (sealer, id, created, now, data, base, base_data, previous = None, user_id = None, user_agent = None))]
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        sealer: &Sealer,
        id: &str,
        created: u64,
        now: u64,
        data: &[u8],
        base: Option<&[u8]>,
        base_data: Option<&[u8]>,
        previous: Option<&str>,
        user_id: Option<&Bound<'_, PyAny>>,
        user_agent: Option<&str>,
    ) -> PyResult<bool> {
        let write = Commit {
            id: parse_id(id)?,
            created,
            now,
            data,
            base: base.zip(base_data),
            previous: previous.map(parse_id).transpose()?,
        };
        let user = user_id
            .map(|u| users::user_keys(sealer.core.keys(), u))
            .transpose()?;
        let binding = user
            .as_ref()
            .map(|user| core_store::users::Binding { user, user_agent });
        let done = CoreMemoryStore::run_now(core_store::users::commit_bound(
            &self.inner,
            &sealer.core,
            &sealer.lifetime,
            write,
            binding,
        ))
        .map_err(errors::store_error)?;
        Ok(done == Committed::Saved)
    }

    fn delete(&self, id: &str) {
        if let Ok(id) = id.parse() {
            self.inner.delete_now(&id);
        }
    }

    /// Keys the per-user index by `secret_key` (see the networked stores).
    fn use_secret_key(&self, secret_key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.keys.set(secret_key)
    }

    /// Records session `id` in the index of `user_id`.
    #[pyo3(signature = (user_id, id, created, now, ttl_seconds, user_agent))]
    fn bind(
        &self,
        user_id: &Bound<'_, PyAny>,
        id: &str,
        created: u64,
        now: u64,
        ttl_seconds: u64,
        user_agent: Option<String>,
    ) -> PyResult<()> {
        let b = users::NewEntry::new(
            &self.keys,
            user_id,
            id,
            created,
            now,
            ttl_seconds,
            user_agent,
        )?;
        CoreMemoryStore::run_now(core_store::users::bind(
            &self.inner,
            b.user.primary(),
            &b.entry,
            b.now,
        ))
        .map_err(errors::store_error)
    }

    /// Removes sessions `ids` from the index of `user_id`.
    #[allow(clippy::needless_pass_by_value)] // PyO3 extracts arguments by value
    fn unbind(&self, user_id: &Bound<'_, PyAny>, ids: Vec<String>) -> PyResult<()> {
        let (user, ids) = (self.keys.of(user_id)?, users::parse_ids(&ids)?);
        CoreMemoryStore::run_now(core_store::users::unbind(&self.inner, &user, &ids))
            .map_err(errors::store_error)
    }

    /// The live sessions of `user_id`, most recently seen first.
    fn sessions_for_user(&self, user_id: &Bound<'_, PyAny>) -> PyResult<Vec<users::UserSession>> {
        let user = self.keys.of(user_id)?;
        let entries =
            CoreMemoryStore::run_now(core_store::users::sessions_for_user(&self.inner, &user))
                .map_err(errors::store_error)?;
        Ok(users::listing(entries))
    }

    /// Ends every session of `user_id` but `except_id`; returns how many.
    #[pyo3(signature = (user_id, except_id = None))]
    fn invalidate_user(
        &self,
        user_id: &Bound<'_, PyAny>,
        except_id: Option<&str>,
    ) -> PyResult<usize> {
        let user = self.keys.of(user_id)?;
        let except = except_id.map(parse_id).transpose()?;
        CoreMemoryStore::run_now(core_store::users::invalidate_user(
            &self.inner,
            &user,
            except.as_ref(),
            users::unix_now(),
        ))
        .map_err(errors::store_error)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(check_value, m)?)?;
    m.add_function(wrap_pyfunction!(loads, m)?)?;
    m.add_function(wrap_pyfunction!(new_session_id, m)?)?;
    m.add_function(wrap_pyfunction!(changed_keys, m)?)?;
    m.add_class::<Sealer>()?;
    m.add_class::<MemoryStore>()?;
    m.add_class::<stores::RedisStore>()?;
    m.add_class::<stores::MemcachedStore>()?;
    m.add_class::<stores::SqlStore>()?;
    m.add_class::<users::UserSession>()?;
    m.add_class::<saving::Saving>()?;
    m.add_class::<saving::SaveOp>()?;
    m.add_class::<runtime::Completions>()?;
    m.add_function(wrap_pyfunction!(runtime::shutdown_runtime, m)?)?;
    Ok(())
}
