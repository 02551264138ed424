//! The core's save algorithm (`store::Saving`) for a store written in Python: the middleware
//! performs each operation it asks for on the store and passes back what the store returned.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use scsession_core::store::{Commit, Committed, Op, Reply, Saving as CoreSaving, Step, Swap};

use crate::{errors, parse_id, Sealer};

/// One save of a session against a Python store with `replace` (see `SessionStore.replace`).
#[pyclass(module = "scsession._core")]
pub struct Saving {
    machine: CoreSaving,
    sealer: Py<Sealer>,
    /// The kind of the operation asked for last: what the next reply answers.
    asked: &'static str,
}

#[pymethods]
impl Saving {
    #[new]
    #[pyo3(signature = (sealer, id, created, now, data, base, base_data, previous = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        sealer: Py<Sealer>,
        id: &str,
        created: u64,
        now: u64,
        data: &[u8],
        base: Option<&[u8]>,
        base_data: Option<&[u8]>,
        previous: Option<&str>,
    ) -> PyResult<Self> {
        let machine = CoreSaving::new(Commit {
            id: parse_id(id)?,
            created,
            now,
            data,
            base: base.zip(base_data),
            previous: previous.map(parse_id).transpose()?,
        });
        Ok(Self {
            machine,
            sealer,
            asked: "start",
        })
    }

    /// The next operation, given what the store returned for the last one: None at first and
    /// after save, delete and pause; `"done"`, `"stale"` or `"missing"` after replace; the
    /// record or None after load.
    #[pyo3(signature = (reply = None))]
    fn next(&mut self, py: Python<'_>, reply: Option<&Bound<'_, PyAny>>) -> PyResult<SaveOp> {
        let reply = match self.asked {
            "start" => None,
            "replace" => Some(Reply::Swapped(swap(reply)?)),
            "load" => Some(Reply::Loaded(match reply {
                Some(blob) if !blob.is_none() => Some(
                    blob.cast::<PyBytes>()
                        .map_err(|_| {
                            PyTypeError::new_err("a store's load() must return bytes or None")
                        })?
                        .as_bytes()
                        .to_vec(),
                ),
                _ => None,
            })),
            _ => Some(Reply::Done),
        };
        let sealer = self.sealer.get();
        let step = self
            .machine
            .next(&sealer.core, &sealer.lifetime, reply)
            .map_err(errors::store_error)?;
        let op = SaveOp::new(py, step);
        self.asked = op.kind;
        Ok(op)
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

/// What a `Saving` asks for: `kind` is "save", "replace", "load", "delete" or "pause" (an
/// operation, with the fields it needs), or "saved" / "gone" (finished: the session is stored,
/// or it ended meanwhile and nothing of it was written).
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
    fn new(py: Python<'_>, step: Step) -> Self {
        let bytes = |b: &[u8]| Some(PyBytes::new(py, b).unbind());
        let mut op = Self {
            kind: "saved",
            id: None,
            expected: None,
            blob: None,
            ttl: 0,
            delay: 0.0,
        };
        match step {
            Step::Finished(Committed::Saved) => {}
            Step::Finished(Committed::Gone) => op.kind = "gone",
            Step::Do(Op::Save { id, blob, ttl }) => {
                (op.kind, op.id, op.blob) = ("save", Some(id.to_string()), bytes(&blob));
                op.ttl = ttl.as_secs();
            }
            Step::Do(Op::Replace {
                id,
                expected,
                blob,
                ttl,
            }) => {
                (op.kind, op.id, op.blob) = ("replace", Some(id.to_string()), bytes(&blob));
                (op.expected, op.ttl) = (bytes(&expected), ttl.as_secs());
            }
            Step::Do(Op::Load { id }) => (op.kind, op.id) = ("load", Some(id.to_string())),
            Step::Do(Op::Delete { id }) => (op.kind, op.id) = ("delete", Some(id.to_string())),
            Step::Do(Op::Pause(delay)) => (op.kind, op.delay) = ("pause", delay.as_secs_f64()),
            Step::Do(Op::IndexPut { .. } | Op::IndexRemove { .. }) => {
                unreachable!("a Saving never asks for the per-user index")
            }
        }
        op
    }
}
