//! The core's session engine (`scsession_core::engine`) as Python classes: no decisions here,
//! only arguments in and results out.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use scsession_core::engine::{
    self as core, CookieSettings, Engine as CoreEngine, Event as CoreEvent, Next, SameSite,
};
use scsession_core::store::{Op, Reply, Swap};
use scsession_core::{KeyRing, Lifetime};

use crate::convert;
use crate::errors;
use crate::parse_id;
use crate::runtime::StoreCall;
use crate::stores::Store;

/// An app's sessions: keys, cookie settings and lifetime, checked once.
#[pyclass(frozen, module = "scsession._core")]
pub struct Engine {
    pub(crate) core: Arc<CoreEngine>,
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (secrets, cookie_name, max_age, idle_timeout, *, path = "/", domain = None, secure = true, same_site = "lax", partitioned = false))]
    #[allow(clippy::needless_pass_by_value, clippy::too_many_arguments)] // PyO3 extracts by value
    fn new(
        secrets: Vec<Vec<u8>>,
        cookie_name: &str,
        max_age: Option<u64>,
        idle_timeout: Option<u64>,
        path: &str,
        domain: Option<String>,
        secure: bool,
        same_site: &str,
        partitioned: bool,
    ) -> PyResult<Self> {
        let keys = KeyRing::new(&secrets).map_err(errors::key_error)?;
        let same_site = match same_site {
            "lax" => SameSite::Lax,
            "strict" => SameSite::Strict,
            "none" => SameSite::None,
            _ => return Err(errors::bad_same_site(same_site)),
        };
        let cookie = CookieSettings {
            name: cookie_name.to_owned(),
            path: path.to_owned(),
            domain,
            secure,
            same_site,
            partitioned,
        };
        let lifetime = Lifetime::new(max_age, idle_timeout);
        let core = CoreEngine::new(keys, cookie, lifetime).map_err(errors::cookie_error)?;
        Ok(Self {
            core: Arc::new(core),
        })
    }

    /// The cookie's name.
    #[getter]
    fn cookie_name(&self) -> &str {
        &self.core.cookie().name
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    #[getter]
    fn delete_cookie<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.core.delete_cookie().as_bytes())
    }

    /// Cookie mode: the session in the ASGI `headers` (a new one if none is valid).
    fn open_cookie(
        &self,
        py: Python<'_>,
        headers: &Bound<'_, PyAny>,
        now: u64,
    ) -> PyResult<Opened> {
        let values = cookie_headers(headers)?;
        let opened = self
            .core
            .open_cookie(values.iter().map(PyBytesMethods::as_bytes), now);
        Opened::new(py, &self.core, opened)
    }

    /// Store mode: the ids in the ASGI `headers` worth loading (at most two).
    fn session_ids(&self, headers: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let values = cookie_headers(headers)?;
        let ids = self
            .core
            .session_ids(values.iter().map(PyBytesMethods::as_bytes));
        Ok(ids.iter().map(ToString::to_string).collect())
    }

    /// Store mode, a store written in Python: the session in `blob`, loaded under `id`; a new
    /// session saying `expired` if it had expired; None if it is not ours.
    fn open_record(
        &self,
        py: Python<'_>,
        id: &str,
        blob: &[u8],
        now: u64,
    ) -> PyResult<Option<Opened>> {
        let id = parse_id(id)?;
        match self.core.open_record(id, blob.to_vec(), now) {
            Ok(opened) => Opened::new(py, &self.core, opened).map(Some),
            Err(true) => Opened::new(py, &self.core, self.core.new_session(Some(id))).map(Some),
            Err(false) => Ok(None),
        }
    }

    /// A new, empty session.
    fn new_session(&self, py: Python<'_>) -> PyResult<Opened> {
        Opened::new(py, &self.core, self.core.new_session(None))
    }

    /// Store mode, a built-in store: resolves to the session the ASGI `headers` point at. The
    /// cookie is checked here; without an id worth loading, nothing waits for the store.
    fn load<'py>(
        &self,
        py: Python<'py>,
        store: &Bound<'py, Store>,
        headers: &Bound<'py, PyAny>,
        now: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let values = cookie_headers(headers)?;
        let ids = self
            .core
            .session_ids(values.iter().map(PyBytesMethods::as_bytes));
        let (engine, store) = (Arc::clone(&self.core), store.get().clone_inner());
        let inline = store.inline() || ids.is_empty();
        StoreCall::new(inline, async move {
            let opened = store
                .open(&engine, &ids, now)
                .await
                .map_err(errors::store_error)?;
            Ok(LoadedOpened { engine, opened })
        })
        .into_py(py)
    }

    /// Cookie mode: what the request did to its session, whose data is now `data`; None when
    /// nothing is to be written or sent.
    fn finish_cookie(
        &self,
        state: &Bound<'_, SessionState>,
        data: &Bound<'_, PyDict>,
        now: u64,
    ) -> PyResult<Option<Finished>> {
        let data = convert::encode_session(data).map_err(convert::EncodeFailure::into_pyerr)?;
        let mut state = state.borrow_mut();
        let finished = self
            .core
            .finish_cookie(&mut state.core, &data, now)
            .map_err(errors::too_large)?;
        Ok(Finished::changed(finished))
    }

    /// Store mode: the save of the session, whose data is now `data`, as a `Finishing`; None
    /// when nothing is to be written or sent. `indexed`: the store keeps a per-user index.
    fn finishing(
        &self,
        state: &Bound<'_, SessionState>,
        data: &Bound<'_, PyDict>,
        now: u64,
        indexed: bool,
    ) -> PyResult<Option<Finishing>> {
        let data = convert::encode_session(data).map_err(convert::EncodeFailure::into_pyerr)?;
        let mut state = state.borrow_mut();
        let finishing = self
            .core
            .finishing(&mut state.core, &data, now, indexed)
            .map_err(errors::store_error)?;
        Ok(finishing.map(|finishing| Finishing {
            engine: Arc::clone(&self.core),
            core: Some(finishing),
            asked: "start",
        }))
    }

    /// When the session (its state, and its data now) ends unless used before (unix seconds);
    /// None for a session not yet written, or one without limits.
    fn expires_at(
        &self,
        state: &Bound<'_, SessionState>,
        data: &Bound<'_, PyDict>,
    ) -> PyResult<Option<u64>> {
        let data = convert::encode_session(data).map_err(convert::EncodeFailure::into_pyerr)?;
        Ok(self.core.expires_at(&state.borrow().core, &data))
    }

    fn __repr__(&self) -> String {
        format!("<Engine: {:?}, keys redacted>", self.core.lifetime())
    }
}

/// The values of the `Cookie` headers among the ASGI `headers` (name, value byte pairs).
fn cookie_headers<'py>(headers: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let mut values = Vec::new();
    for pair in headers.try_iter()? {
        let pair = pair?;
        // ASGI servers lowercase header names.
        if pair
            .get_item(0)?
            .cast::<PyBytes>()
            .is_ok_and(|n| n.as_bytes() == b"cookie")
        {
            if let Ok(value) = pair.get_item(1)?.cast_into::<PyBytes>() {
                values.push(value);
            }
        }
    }
    Ok(values)
}

/// One request's session: what it was loaded as, and whether it was regenerated or ended.
#[pyclass(module = "scsession._core")]
pub struct SessionState {
    pub(crate) core: core::SessionState,
}

#[pymethods]
impl SessionState {
    /// A new, empty session.
    #[new]
    fn new() -> Self {
        Self {
            core: core::SessionState::default(),
        }
    }

    /// A session whose record could not be read (the store is down), under the id its
    /// cookie names: never written, but `invalidate()` still ends it.
    #[staticmethod]
    fn unreadable(engine: &Engine, id: &str, now: u64) -> PyResult<Self> {
        let empty = engine.core.empty_data();
        Ok(Self {
            core: core::SessionState::unreadable(parse_id(id)?, empty, now),
        })
    }

    /// The session id: None until a new session is first written.
    #[getter]
    fn id(&self) -> Option<String> {
        self.core.id().map(|id| id.to_string())
    }

    /// When the session was created (unix seconds); None until it is first written.
    #[getter]
    fn created(&self) -> Option<u64> {
        self.core.created()
    }

    /// The id the request came with, if its session was valid.
    #[getter]
    fn loaded_id(&self) -> Option<String> {
        self.core.loaded_id().map(|id| id.to_string())
    }

    /// An id this request ended by regenerating or invalidating its session.
    #[getter]
    fn retired_id(&self) -> Option<String> {
        self.core.retired_id().map(|id| id.to_string())
    }

    /// Whether the session was loaded and keeps the id it was loaded with.
    #[getter]
    fn is_loaded_as_is(&self) -> bool {
        self.core.is_loaded_as_is()
    }

    /// A new id, keeping the data; the old id ends when the session is written.
    fn regenerate(&mut self) {
        self.core.regenerate();
    }

    /// Ends the session when the request finishes (the caller clears the data).
    fn invalidate(&mut self) {
        self.core.invalidate();
    }
}

/// What a request came with: its session's state, its data, and the id of a session of ours
/// that had expired.
#[pyclass(frozen, get_all, module = "scsession._core")]
pub struct Opened {
    state: Py<SessionState>,
    data: Py<PyDict>,
    expired: Option<String>,
}

impl Opened {
    fn new(py: Python<'_>, engine: &CoreEngine, opened: core::Opened) -> PyResult<Self> {
        // The core checked the data; a failure here is a value Python cannot rebuild.
        let (state, data) = match convert::decode_session(py, &opened.data) {
            Some(data) => (opened.state, data),
            None => (
                core::SessionState::default(),
                convert::decode_session(py, engine.empty_data()).unwrap_or_else(|| PyDict::new(py)),
            ),
        };
        Ok(Self {
            state: Py::new(py, SessionState { core: state })?,
            data: data.unbind(),
            expired: opened.expired.map(|id| id.to_string()),
        })
    }
}

/// A load's result, made into an `Opened` on the event loop's thread.
struct LoadedOpened {
    engine: Arc<CoreEngine>,
    opened: core::Opened,
}

impl<'py> IntoPyObject<'py> for LoadedOpened {
    type Target = Opened;
    type Output = Bound<'py, Opened>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, Opened>> {
        Bound::new(py, Opened::new(py, &self.engine, self.opened)?)
    }
}

/// How finishing a request's session ended: `set_cookie` (the header value to send, or
/// None) and `outcome`, the kind of what happened; `events()` for an app's hook.
#[pyclass(frozen, module = "scsession._core")]
pub struct Finished {
    core: core::Finished,
}

impl Finished {
    /// None for an outcome with nothing to send or report.
    fn changed(core: core::Finished) -> Option<Self> {
        (core
            != core::Finished {
                outcome: core::Outcome::Unchanged,
                set_cookie: None,
            })
        .then_some(Self { core })
    }
}

#[pymethods]
impl Finished {
    /// The `Set-Cookie` header value to send, or None.
    #[getter]
    fn set_cookie<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.core
            .set_cookie
            .as_deref()
            .map(|v| PyBytes::new(py, v.as_bytes()))
    }

    /// "unchanged", "refreshed", "created", "modified", "regenerated", "invalidated" or
    /// `"ended_elsewhere"`.
    #[getter]
    fn outcome(&self) -> &'static str {
        match self.core.outcome {
            core::Outcome::Unchanged => "unchanged",
            core::Outcome::Refreshed { .. } => "refreshed",
            core::Outcome::Created { .. } => "created",
            core::Outcome::Modified { .. } => "modified",
            core::Outcome::Regenerated { .. } => "regenerated",
            core::Outcome::Invalidated { .. } => "invalidated",
            core::Outcome::EndedElsewhere { .. } => "ended_elsewhere",
        }
    }

    /// The events of this outcome, in the order they happened.
    fn events(&self) -> Vec<Event> {
        self.core
            .outcome
            .events()
            .into_iter()
            .map(Event::from)
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "Finished({:?}, set_cookie={})",
            self.outcome(),
            self.core.set_cookie.is_some()
        )
    }
}

/// One thing that happened to a session, for `SessionEvent`.
#[pyclass(frozen, get_all, module = "scsession._core")]
pub struct Event {
    kind: &'static str,
    session_id: String,
    previous_id: Option<String>,
    changed: Vec<String>,
}

#[pymethods]
impl Event {
    /// An `expired` event for the session `session_id`.
    #[staticmethod]
    fn expired(session_id: &str) -> PyResult<Self> {
        Ok(CoreEvent::expired(parse_id(session_id)?).into())
    }
}

impl From<CoreEvent> for Event {
    fn from(event: CoreEvent) -> Self {
        Self {
            kind: event.kind.as_str(),
            session_id: event.id.to_string(),
            previous_id: event.previous.map(|id| id.to_string()),
            changed: event.changed,
        }
    }
}

/// A store-mode save in progress. A built-in store runs it with `run(store)`; for a store
/// written in Python, the caller performs each `SaveOp` that `next(reply)` asks for.
#[pyclass(module = "scsession._core")]
pub struct Finishing {
    engine: Arc<CoreEngine>,
    core: Option<core::Finishing>,
    /// The kind of the operation asked for last: what the next reply answers.
    asked: &'static str,
}

#[pymethods]
impl Finishing {
    /// The session id whose saves must not overlap in this process, if any.
    #[getter]
    fn lock_id(&self) -> Option<String> {
        self.core
            .as_ref()
            .and_then(core::Finishing::lock_id)
            .map(|id| id.to_string())
    }

    /// Resolves to the `Finished` save, run against the built-in `store`.
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        store: &Bound<'py, Store>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let finishing = self.take()?;
        let (engine, store) = (Arc::clone(&self.engine), store.get().clone_inner());
        StoreCall::new(store.inline(), async move {
            let finished = store
                .finish(&engine, finishing)
                .await
                .map_err(errors::store_error)?;
            Ok(FinishedOut(finished))
        })
        .into_py(py)
    }

    /// The next operation, given what the store returned for the last one (None at first and
    /// after save, delete and pause; "done", "stale" or "missing" after replace; the record
    /// or None after load): a `SaveOp`, or the `Finished` save.
    #[pyo3(signature = (reply = None))]
    fn next(&mut self, py: Python<'_>, reply: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let reply = match self.asked {
            "start" => None,
            "replace" => Some(Reply::Swapped(swap(reply)?)),
            "load" => Some(Reply::Loaded(loaded(reply)?)),
            _ => Some(Reply::Done),
        };
        let machine = self.core.as_mut().ok_or_else(finished_already)?;
        match machine
            .next(&self.engine, reply)
            .map_err(errors::store_error)?
        {
            Next::Do(op) => {
                let op = SaveOp::new(py, op);
                self.asked = op.kind;
                Ok(Py::new(py, op)?.into_any())
            }
            Next::Done(finished) => {
                self.core = None;
                Ok(Py::new(py, Finished { core: finished })?.into_any())
            }
        }
    }
}

impl Finishing {
    fn take(&mut self) -> PyResult<core::Finishing> {
        self.core.take().ok_or_else(finished_already)
    }
}

fn finished_already() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("this save has already run")
}

/// A save's result, made into a `Finished` on the event loop's thread.
struct FinishedOut(core::Finished);

impl<'py> IntoPyObject<'py> for FinishedOut {
    type Target = Finished;
    type Output = Bound<'py, Finished>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, Finished>> {
        Bound::new(py, Finished { core: self.0 })
    }
}

fn swap(reply: Option<&Bound<'_, PyAny>>) -> PyResult<Swap> {
    let text = reply.and_then(|r| r.cast::<PyString>().ok().map(ToString::to_string));
    match text.as_deref() {
        Some("done") => Ok(Swap::Done),
        Some("stale") => Ok(Swap::Stale),
        Some("missing") => Ok(Swap::Missing),
        _ => Err(PyTypeError::new_err(
            "a store's replace() must return \"done\", \"stale\" or \"missing\"",
        )),
    }
}

fn loaded(reply: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    match reply {
        Some(blob) if !blob.is_none() => Ok(Some(
            blob.cast::<PyBytes>()
                .map_err(|_| PyTypeError::new_err("a store's load() must return bytes or None"))?
                .as_bytes()
                .to_vec(),
        )),
        _ => Ok(None),
    }
}

/// A store operation a `Finishing` asks for: `kind` is "save", "replace", "load", "delete" or
/// "pause", with the fields it needs.
#[pyclass(frozen, get_all, module = "scsession._core")]
pub struct SaveOp {
    kind: &'static str,
    id: Option<String>,
    expected: Option<Py<PyBytes>>,
    blob: Option<Py<PyBytes>>,
    ttl: u64,
    delay: f64,
}

impl SaveOp {
    fn new(py: Python<'_>, op: Op) -> Self {
        let bytes = |b: &[u8]| Some(PyBytes::new(py, b).unbind());
        let mut out = Self {
            kind: "pause",
            id: None,
            expected: None,
            blob: None,
            ttl: 0,
            delay: 0.0,
        };
        match op {
            Op::Save { id, blob, ttl } => {
                (out.kind, out.id, out.blob) = ("save", Some(id.to_string()), bytes(&blob));
                out.ttl = ttl.as_secs();
            }
            Op::Replace {
                id,
                expected,
                blob,
                ttl,
            } => {
                (out.kind, out.id, out.blob) = ("replace", Some(id.to_string()), bytes(&blob));
                (out.expected, out.ttl) = (bytes(&expected), ttl.as_secs());
            }
            Op::Load { id } => (out.kind, out.id) = ("load", Some(id.to_string())),
            Op::Delete { id } => (out.kind, out.id) = ("delete", Some(id.to_string())),
            Op::Pause(delay) => out.delay = delay.as_secs_f64(),
            // Never asked of a store written in Python: its saves are made without an index.
            Op::IndexPut { .. } | Op::IndexRemove { .. } => out.kind = "index",
        }
        out
    }
}
