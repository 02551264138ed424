//! The one tokio runtime that runs store I/O, bridged to asyncio by pyo3-async-runtimes.
//!
//! The runtime is ours rather than pyo3-async-runtimes' global one so that it can be shut down
//! at interpreter exit (`scsession.stores` registers [`shutdown_runtime`] with `atexit`). A
//! tokio thread still inside the GIL machinery while the interpreter finalizes aborts the
//! process (pyo3-async-runtimes issue 40); shutting down joins every tokio thread first.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use pyo3_async_runtimes::generic::{self, ContextExt};
use pyo3_async_runtimes::TaskLocals;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

/// Worker threads: store calls are I/O waits, so two are plenty on any machine.
const WORKERS: usize = 2;

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);
/// `scsession.stores._deferred`: wraps a store call made outside an event loop.
static DEFERRED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static HANDLE: OnceLock<Handle> = OnceLock::new();

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

fn handle() -> &'static Handle {
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("scsession-io")
            .enable_all()
            .build()
            .expect("scsession could not start its I/O threads");
        let handle = runtime.handle().clone();
        *RUNTIME.lock().unwrap_or_else(PoisonError::into_inner) = Some(runtime);
        handle
    })
}

/// Stops the I/O threads, waiting up to a second for calls in flight. Called at interpreter
/// exit; store calls made afterwards never complete.
#[pyfunction]
pub fn shutdown_runtime(py: Python<'_>) {
    let runtime = RUNTIME
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(runtime) = runtime {
        py.detach(|| runtime.shutdown_timeout(Duration::from_secs(1)));
    }
}

/// Our runtime, as pyo3-async-runtimes sees it.
pub struct Io;

impl generic::Runtime for Io {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = JoinHandle<()>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        handle().spawn(fut)
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        handle().spawn_blocking(f)
    }
}

impl ContextExt for Io {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}

/// An asyncio awaitable for `fut`, run on the I/O threads without the GIL.
///
/// Inside a running event loop (every call from a request) the work starts at once. Outside
/// one, as in `asyncio.run(store.purge_expired())`, the call returns a coroutine that starts the
/// work when awaited, so it behaves like any `async def` method.
pub fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    if pyo3_async_runtimes::get_running_loop(py).is_ok() {
        return generic::future_into_py::<Io, F, T>(py, fut);
    }
    let pending = Mutex::new(Some(fut));
    let start = PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
        let py = args.py();
        let fut = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let fut =
            fut.ok_or_else(|| PyRuntimeError::new_err("this awaitable was already awaited"))?;
        generic::future_into_py::<Io, F, T>(py, fut).map(Bound::unbind)
    })?;
    DEFERRED
        .import(py, "scsession.stores", "_deferred")?
        .call1((start,))
}
