//! The per-user index as Python sees it: user ids in, `UserSession` objects out.

use std::sync::{PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString};
use scsession_core::store::users::{self, UserKeys};
use scsession_core::KeyRing;

use crate::errors;

/// The index keys of an app's user id under `keys`: a `str` or an `int`, compared by its text.
pub fn user_keys(keys: &KeyRing, user_id: &Bound<'_, PyAny>) -> PyResult<UserKeys> {
    let is_int = user_id.is_instance_of::<PyInt>() && !user_id.is_instance_of::<PyBool>();
    if !(is_int || user_id.is_instance_of::<PyString>()) {
        return Err(PyTypeError::new_err(format!(
            "a user id must be a str or an int, not {}",
            user_id.get_type().name()?
        )));
    }
    let text = user_id.str()?;
    let text = text.to_str()?;
    if text.is_empty() {
        return Err(PyValueError::new_err("a user id must not be empty"));
    }
    UserKeys::new(keys, text).map_err(errors::config_error)
}

/// The secrets a store's per-user index is keyed by: those of the middleware the store was
/// given to (`SCsessionMiddleware(store=...)` hands them over when it starts).
#[derive(Default)]
pub struct IndexKeys(RwLock<Option<KeyRing>>);

impl IndexKeys {
    /// Keys the index by `secret_key`: a `str` or `bytes`, or a list of them (the first is
    /// where entries are written; all are read), as `SCsessionMiddleware(secret_key=...)` takes.
    pub fn set(&self, secret_key: &Bound<'_, PyAny>) -> PyResult<()> {
        let secrets: Vec<Vec<u8>> =
            if secret_key.is_instance_of::<PyString>() || secret_key.is_instance_of::<PyBytes>() {
                vec![secret(secret_key)?]
            } else {
                let mut all = Vec::new();
                for key in secret_key.try_iter()? {
                    all.push(secret(&key?)?);
                }
                all
            };
        let keys = KeyRing::new(&secrets).map_err(errors::key_error)?;
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(keys);
        Ok(())
    }

    /// The index keys of `user_id`; an error naming the fix before the store has any secrets.
    pub fn of(&self, user_id: &Bound<'_, PyAny>) -> PyResult<UserKeys> {
        let keys = self.0.read().unwrap_or_else(PoisonError::into_inner);
        let Some(keys) = keys.as_ref() else {
            return Err(PyRuntimeError::new_err(
                "this store's per-user index is keyed by the app's secret_key, and the store has \
                 none yet: SCsessionMiddleware(store=...) hands it over at the app's first \
                 request. Before that, or in a process without the middleware (a job, a \
                 script), call store.use_secret_key(secret_key) with the middleware's key.",
            ));
        };
        user_keys(keys, user_id)
    }
}

/// One secret: the UTF-8 bytes of a `str`, or `bytes` as they are.
fn secret(key: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(text) = key.cast::<PyString>() {
        return Ok(text.to_str()?.as_bytes().to_vec());
    }
    key.cast::<PyBytes>()
        .map(|b| b.as_bytes().to_vec())
        .map_err(|_| {
            PyTypeError::new_err(
                "secret_key must be a str or bytes of at least 32 bytes, or a list of them",
            )
        })
}

/// Now, in unix seconds (for what an index listing counts as expired).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One of a user's sessions, from `store.sessions_for_user(user_id)`. Times are unix seconds.
#[pyclass(frozen, get_all, module = "scsession._core")]
pub struct UserSession {
    /// The first characters of the session id: enough to tell sessions apart, not usable as one.
    id_prefix: String,
    created: u64,
    last_seen: u64,
    expires_at: u64,
    user_agent: Option<String>,
}

#[pymethods]
impl UserSession {
    /// Whether this is the session `session_id` (e.g. `request.session.id`).
    fn is_session(&self, session_id: Option<&str>) -> bool {
        session_id.is_some_and(|id| id.starts_with(&self.id_prefix))
    }

    fn __repr__(&self) -> String {
        format!(
            "UserSession(id_prefix={:?}, created={}, last_seen={}, expires_at={}, user_agent={:?})",
            self.id_prefix, self.created, self.last_seen, self.expires_at, self.user_agent
        )
    }
}

impl From<users::UserSession> for UserSession {
    fn from(entry: users::UserSession) -> Self {
        Self {
            id_prefix: entry.id_prefix(),
            created: entry.created,
            last_seen: entry.last_seen,
            expires_at: entry.expires_at,
            user_agent: entry.user_agent,
        }
    }
}

/// A listing as Python objects.
pub fn listing(entries: Vec<users::UserSession>) -> Vec<UserSession> {
    entries.into_iter().map(UserSession::from).collect()
}
