//! The per-user index as Python sees it: user ids in, `UserSession` objects out.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};
use scsession_core::store::users::{self, UserKey};
use scsession_core::SessionId;

use crate::parse_id;

/// The index key of an app's user id: a `str` or an `int`, compared by its text.
pub fn user_key(user_id: &Bound<'_, PyAny>) -> PyResult<UserKey> {
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
    UserKey::new(text).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Now, in unix seconds (for what an index listing counts as expired).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What `_bind` records: the entry of session `id`, written at `now`, living `ttl_seconds`.
pub struct NewEntry {
    pub user: UserKey,
    pub entry: users::UserSession,
    pub now: u64,
}

impl NewEntry {
    pub fn new(
        user_id: &Bound<'_, PyAny>,
        id: &str,
        created: u64,
        now: u64,
        ttl_seconds: u64,
        user_agent: Option<String>,
    ) -> PyResult<Self> {
        let id = parse_id(id)?;
        Ok(Self {
            user: user_key(user_id)?,
            entry: users::UserSession::written(id, created, now, ttl_seconds, user_agent),
            now,
        })
    }
}

/// The ids of `ids`, refusing any that is not one.
pub fn parse_ids(ids: &[String]) -> PyResult<Vec<SessionId>> {
    ids.iter().map(|id| parse_id(id)).collect()
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
