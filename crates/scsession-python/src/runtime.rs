//! The one tokio runtime that runs store I/O, and the bridge that hands its results to asyncio.
//!
//! A store call returns an asyncio future at once; its Rust future runs on our tokio runtime,
//! without the GIL. How the result gets back matters for speed: pyo3-async-runtimes'
//! `future_into_py` has the tokio thread take the GIL and call `call_soon_threadsafe`, a GIL
//! handoff between threads on every call, which measured about 100 µs here even for a future
//! that does nothing. Here the tokio thread never touches Python: it puts the finished result on
//! a queue and writes one byte to a socket that the event loop watches (`loop.add_reader`).
//! The loop then runs [`Completions::drain`] in its own thread, which converts the results and
//! sets the futures: one wake-up per batch, no GIL handoff (measured ~30 µs per call).
//!
//! Because no tokio thread ever holds a Python object or the GIL, interpreter exit cannot race
//! with them (the abort of pyo3-async-runtimes issue 40). The runtime is still shut down at exit
//! ([`shutdown_runtime`], registered with `atexit` by `scsession.stores`), so that no I/O is cut
//! off mid-write by the process ending.

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use tokio::runtime::{Handle, Runtime};

/// Worker threads. Store calls are I/O waits, and one thread is faster than two: with two, a
/// call's steps (the caller's task, the connection's task, the socket) hop between threads,
/// and every hop is a wake-up (measured: a Redis GET 105 µs with one, 140 µs with two).
const WORKERS: usize = 1;

static RUNTIME: Mutex<Option<Runtime>> = Mutex::new(None);
static HANDLE: OnceLock<Handle> = OnceLock::new();
/// `weakref.WeakKeyDictionary`: event loop -> its `Completions`.
static BRIDGES: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
/// `scsession.stores._deferred`: wraps a store call made outside an event loop.
static DEFERRED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn handle() -> &'static Handle {
    HANDLE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("scsession-io")
            .enable_all()
            .build()
            .expect("scsession could not start its I/O thread");
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

/// A finished call's result, turned into a Python object on the event loop's thread.
type Outcome = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// What tokio threads share with one event loop: finished results and the wake-up socket.
struct Queue {
    done: Mutex<Vec<(u64, Outcome)>>,
    wake: UnixStream,
}

impl Queue {
    fn push(&self, token: u64, outcome: Outcome) {
        let was_empty = {
            let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
            done.push((token, outcome));
            done.len() == 1
        };
        if was_empty {
            // The loop drains everything queued, so one byte per batch is enough. A full
            // socket buffer (WouldBlock) means a wake-up is already pending.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// The completions of one event loop (see the module doc). Made by [`awaitable`] the first time
/// a store is called in that loop, which then calls `drain` whenever results arrive.
#[pyclass(frozen, module = "scsession._core")]
pub struct Completions {
    queue: Arc<Queue>,
    /// The socket the loop watches.
    watched: UnixStream,
    /// Futures waiting for a result, by token. Only touched on the loop's thread.
    waiting: Mutex<HashMap<u64, Py<PyAny>>>,
    next: AtomicU64,
}

#[pymethods]
impl Completions {
    /// Sets the futures of every finished call (the loop's reader callback).
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        let mut sink = [0u8; 256];
        while matches!((&self.watched).read(&mut sink), Ok(n) if n > 0) {}
        let done = std::mem::take(
            &mut *self
                .queue
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (token, outcome) in done {
            let future = self
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&token);
            let Some(future) = future.map(|f| f.into_bound(py)) else {
                continue;
            };
            if future.call_method0("done")?.is_truthy()? {
                continue; // cancelled meanwhile
            }
            match outcome(py) {
                Ok(value) => future.call_method1("set_result", (value,))?,
                Err(err) => future.call_method1("set_exception", (err.into_value(py),))?,
            };
        }
        Ok(())
    }
}

impl Completions {
    fn new() -> std::io::Result<Self> {
        let (watched, wake) = UnixStream::pair()?;
        watched.set_nonblocking(true)?;
        wake.set_nonblocking(true)?;
        Ok(Self {
            queue: Arc::new(Queue {
                done: Mutex::new(Vec::new()),
                wake,
            }),
            watched,
            waiting: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        })
    }

    /// The completions of `event_loop`, made and registered with it on first use.
    fn of<'py>(event_loop: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Completions>> {
        let py = event_loop.py();
        let bridges = BRIDGES.get_or_try_init(py, || {
            py.import("weakref")?
                .getattr("WeakKeyDictionary")?
                .call0()
                .map(Bound::unbind)
        })?;
        let bridges = bridges.bind(py);
        if let Ok(found) = bridges.call_method1("get", (event_loop,))?.cast_into() {
            return Ok(found);
        }
        let completions = Bound::new(
            py,
            Self::new().map_err(|e| {
                PyRuntimeError::new_err(format!("scsession could not make its wake-up socket: {e}"))
            })?,
        )?;
        let fd = completions.get().watched.as_raw_fd();
        event_loop.call_method1("add_reader", (fd, completions.getattr("drain")?))?;
        bridges.set_item(event_loop, &completions)?;
        Ok(completions)
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
    let Ok(event_loop) = pyo3_async_runtimes::get_running_loop(py) else {
        return deferred(py, fut);
    };
    let completions = Completions::of(&event_loop)?;
    let completions = completions.get();
    let future = event_loop.call_method0("create_future")?;
    let token = completions.next.fetch_add(1, Ordering::Relaxed);
    completions
        .waiting
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(token, future.clone().unbind());
    let queue = Arc::clone(&completions.queue);
    handle().spawn(async move {
        let result = fut.await;
        let outcome: Outcome = Box::new(move |py| {
            let value = result?.into_pyobject(py).map_err(Into::into)?;
            Ok(pyo3::BoundObject::into_bound(value).into_any().unbind())
        });
        queue.push(token, outcome);
    });
    Ok(future)
}

/// A coroutine that calls [`awaitable`] once awaited (inside the loop that awaits it).
fn deferred<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let pending = Mutex::new(Some(fut));
    let start = PyCFunction::new_closure(py, None, None, move |args, _kwargs| {
        let fut = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let fut = fut.ok_or_else(|| PyRuntimeError::new_err("this call was already awaited"))?;
        awaitable(args.py(), fut).map(Bound::unbind)
    })?;
    DEFERRED
        .import(py, "scsession.stores", "_deferred")?
        .call1((start,))
}

/// A store call as an awaitable. The futures of a store that never waits (the memory store)
/// are run at once on the caller's thread and come back as an awaitable that is already done:
/// no thread hop, no event-loop wake-up. Any other future goes to the I/O threads
/// ([`awaitable`]).
pub struct StoreCall<F> {
    inline: bool,
    fut: F,
}

impl<F, T> StoreCall<F>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pub fn new(inline: bool, fut: F) -> Self {
        Self { inline, fut }
    }

    pub fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        if !self.inline {
            return awaitable(py, self.fut);
        }
        let mut fut = Box::pin(self.fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => {
                let result = result.and_then(|value| {
                    let value = value.into_pyobject(py).map_err(Into::into)?;
                    Ok(pyo3::BoundObject::into_bound(value).into_any().unbind())
                });
                Ok(Bound::new(py, Ready(Mutex::new(Some(result))))?.into_any())
            }
            std::task::Poll::Pending => awaitable(py, fut),
        }
    }
}

/// A coroutine that is already done: awaiting it (or `asyncio.run`, or a task) returns its
/// value or raises its error at once. It has the coroutine protocol (`send`, `throw`, `close`,
/// `__await__`), so `asyncio` accepts it wherever it accepts an `async def` call.
#[pyclass(frozen, module = "scsession._core")]
pub struct Ready(Mutex<Option<PyResult<Py<PyAny>>>>);

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self) -> PyResult<Py<PyAny>> {
        self.send(None)
    }

    #[pyo3(signature = (_value = None))]
    fn send(&self, _value: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let result = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match result {
            Some(Ok(value)) => Err(pyo3::exceptions::PyStopIteration::new_err((value,))),
            Some(Err(error)) => Err(error),
            None => Err(PyRuntimeError::new_err(
                "cannot reuse already awaited coroutine",
            )),
        }
    }

    #[pyo3(signature = (kind, value = None, _traceback = None))]
    fn throw(
        &self,
        kind: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        let error = match value {
            Some(value) if !value.is_none() => value.clone(),
            _ if kind.is_instance_of::<pyo3::types::PyType>() => kind.call0()?,
            _ => kind.clone(),
        };
        Err(PyErr::from_value(error))
    }

    fn close(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}
