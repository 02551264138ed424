//! The built-in stores as Python classes: one wrapper, [`Store`], for every store of the core,
//! and a subclass per store for its constructor and its own tools. Every method returns an
//! awaitable: the memory store's is already done (see `runtime::StoreCall`), the others run on
//! the I/O threads with the GIL released.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use scsession_core::engine::{Engine, Finished, Finishing, Opened};
use scsession_core::seal::record_version;
use scsession_core::store::{
    self, users, MemcachedStore as CoreMemcached, MemoryStore as CoreMemory,
    RedisStore as CoreRedis, SqlStore as CoreSql, StoreError, Swap, Timeouts, UserIndex, UserKeys,
    UserSession,
};
use scsession_core::SessionId;

use crate::errors;
use crate::parse_id;
use crate::runtime::StoreCall;
use crate::users::{self as py_users, IndexKeys};

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A core store with its per-user index, behind one object-safe surface.
pub(crate) trait DynStore: Send + Sync + 'static {
    /// Whether its futures are ready at once (run them on the caller's thread).
    fn inline(&self) -> bool;
    fn load(&self, id: SessionId) -> Fut<'_, Option<Vec<u8>>>;
    fn save(&self, id: SessionId, blob: Vec<u8>, ttl: Duration) -> Fut<'_, ()>;
    fn replace(
        &self,
        id: SessionId,
        version: Vec<u8>,
        blob: Vec<u8>,
        ttl: Duration,
    ) -> Fut<'_, Swap>;
    fn delete(&self, id: SessionId) -> Fut<'_, ()>;
    fn open<'a>(&'a self, engine: &'a Engine, ids: &'a [SessionId], now: u64) -> Fut<'a, Opened>;
    fn finish<'a>(&'a self, engine: &'a Engine, finishing: Finishing) -> Fut<'a, Finished>;
    fn sessions_for_user(&self, user: UserKeys) -> Fut<'_, Vec<UserSession>>;
    fn invalidate_user(
        &self,
        user: UserKeys,
        except: Option<SessionId>,
        now: u64,
    ) -> Fut<'_, usize>;
}

struct Dyn<S> {
    store: Arc<S>,
    inline: bool,
}

impl<S: UserIndex + 'static> DynStore for Dyn<S> {
    fn inline(&self) -> bool {
        self.inline
    }
    fn load(&self, id: SessionId) -> Fut<'_, Option<Vec<u8>>> {
        Box::pin(async move { self.store.load(&id).await })
    }
    fn save(&self, id: SessionId, blob: Vec<u8>, ttl: Duration) -> Fut<'_, ()> {
        Box::pin(async move { self.store.save(&id, &blob, ttl).await })
    }
    fn replace(
        &self,
        id: SessionId,
        version: Vec<u8>,
        blob: Vec<u8>,
        ttl: Duration,
    ) -> Fut<'_, Swap> {
        Box::pin(async move { self.store.replace(&id, &version, &blob, ttl).await })
    }
    fn delete(&self, id: SessionId) -> Fut<'_, ()> {
        Box::pin(async move { self.store.delete(&id).await })
    }
    fn open<'a>(&'a self, engine: &'a Engine, ids: &'a [SessionId], now: u64) -> Fut<'a, Opened> {
        Box::pin(engine.load_ids(&*self.store, ids, now))
    }
    fn finish<'a>(&'a self, engine: &'a Engine, finishing: Finishing) -> Fut<'a, Finished> {
        Box::pin(finishing.run_indexed(engine, &*self.store))
    }
    fn sessions_for_user(&self, user: UserKeys) -> Fut<'_, Vec<UserSession>> {
        Box::pin(async move { users::sessions_for_user(&*self.store, &user).await })
    }
    fn invalidate_user(
        &self,
        user: UserKeys,
        except: Option<SessionId>,
        now: u64,
    ) -> Fut<'_, usize> {
        Box::pin(
            async move { users::invalidate_user(&*self.store, &user, except.as_ref(), now).await },
        )
    }
}

/// What every built-in store has: the store contract (`load`, `save`, `replace`, `delete`)
/// and the per-user index (`sessions_for_user`, `invalidate_user`).
#[pyclass(subclass, frozen, module = "scsession._core")]
pub struct Store {
    inner: Arc<dyn DynStore>,
    name: String,
    keys: IndexKeys,
}

impl Store {
    fn new<S: UserIndex + 'static>(store: Arc<S>, name: String, inline: bool) -> Self {
        Self {
            inner: Arc::new(Dyn { store, inline }),
            name,
            keys: IndexKeys::default(),
        }
    }

    pub(crate) fn clone_inner(&self) -> Arc<dyn DynStore> {
        Arc::clone(&self.inner)
    }

    fn call<'py, F, T>(
        &self,
        py: Python<'py>,
        make: impl FnOnce(Arc<dyn DynStore>) -> F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = PyResult<T>> + Send + 'static,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        StoreCall::new(self.inner.inline(), make(self.clone_inner())).into_py(py)
    }
}

#[pymethods]
impl Store {
    /// Resolves to the record under `id`, or None.
    fn load<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(id)?;
        self.call(py, move |store| async move {
            let blob = store.load(id).await.map_err(errors::store_error)?;
            Ok(blob.map(Blob))
        })
    }

    /// Stores `data` under `id` for `ttl_seconds` (insert or replace).
    fn save<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        data: Vec<u8>,
        ttl_seconds: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(id)?;
        self.call(py, move |store| async move {
            let ttl = Duration::from_secs(ttl_seconds);
            store.save(id, data, ttl).await.map_err(errors::store_error)
        })
    }

    /// Replaces the record under `id` with `data` only if it is still `expected` (as loaded);
    /// resolves to "done", "stale" (another write came first) or "missing".
    fn replace<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        expected: &[u8],
        data: Vec<u8>,
        ttl_seconds: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (id, version) = (parse_id(id)?, record_version(expected).to_vec());
        self.call(py, move |store| async move {
            let ttl = Duration::from_secs(ttl_seconds);
            let swap = store
                .replace(id, version, data, ttl)
                .await
                .map_err(errors::store_error)?;
            Ok(match swap {
                Swap::Done => "done",
                Swap::Stale => "stale",
                Swap::Missing => "missing",
            })
        })
    }

    /// Removes `id`; no error if it is not there.
    fn delete<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let id = parse_id(id)?;
        self.call(py, move |store| async move {
            store.delete(id).await.map_err(errors::store_error)
        })
    }

    /// Resolves to the live sessions of `user_id`, most recently seen first.
    fn sessions_for_user<'py>(
        &self,
        py: Python<'py>,
        user_id: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let user = self.keys.of(user_id)?;
        self.call(py, move |store| async move {
            let entries = store
                .sessions_for_user(user)
                .await
                .map_err(errors::store_error)?;
            Ok(py_users::listing(entries))
        })
    }

    /// Ends every session of `user_id` but `except_id`; resolves to how many.
    #[pyo3(signature = (user_id, except_id = None))]
    fn invalidate_user<'py>(
        &self,
        py: Python<'py>,
        user_id: &Bound<'py, PyAny>,
        except_id: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let user = self.keys.of(user_id)?;
        let except = except_id.map(parse_id).transpose()?;
        self.call(py, move |store| async move {
            store
                .invalidate_user(user, except, py_users::unix_now())
                .await
                .map_err(errors::store_error)
        })
    }

    /// Keys the per-user index by `secret_key` (the middleware's; it calls this itself when
    /// it starts).
    fn use_secret_key(&self, secret_key: &Bound<'_, PyAny>) -> PyResult<()> {
        self.keys.set(secret_key)
    }

    fn __repr__(&self) -> String {
        self.name.clone()
    }
}

/// A record, as `bytes` once it reaches Python.
struct Blob(Vec<u8>);

impl<'py> IntoPyObject<'py> for Blob {
    type Target = PyBytes;
    type Output = Bound<'py, PyBytes>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(PyBytes::new(py, &self.0))
    }
}

fn timeouts(connect_timeout: f64, timeout: f64) -> PyResult<Timeouts> {
    let seconds = |name: &str, value: f64| {
        Duration::try_from_secs_f64(value)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "{name} must be a positive number of seconds, not {value}"
                ))
            })
    };
    Ok(Timeouts {
        connect: seconds("connect_timeout", connect_timeout)?,
        operation: seconds("timeout", timeout)?,
    })
}

/// A networked store's subclass: its constructor's result.
fn networked<S: UserIndex + 'static, C>(
    inner: Arc<S>,
    class: &str,
    url: &str,
    subclass: C,
) -> PyClassInitializer<C>
where
    C: pyo3::PyClass<BaseType = Store>,
{
    let name = format!("{class}('{}')", store::mask_url(url));
    PyClassInitializer::from(Store::new(inner, name, false)).add_subclass(subclass)
}

/// Resolves to what `run` finds, on the I/O threads (for the stores' own tools).
fn tool<'py, T, F>(py: Python<'py>, run: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, StoreError>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    crate::runtime::awaitable(py, async move { run.await.map_err(errors::store_error) })
}

/// Sessions in this process's memory, each expiring with its session. For development, tests
/// and single-process apps: lost on restart and not shared between workers.
#[pyclass(extends = Store, frozen, module = "scsession._core")]
pub struct MemoryStore(Arc<CoreMemory>);

#[pymethods]
impl MemoryStore {
    #[new]
    fn new() -> PyClassInitializer<Self> {
        let inner = Arc::new(CoreMemory::new());
        PyClassInitializer::from(Store::new(Arc::clone(&inner), String::new(), true))
            .add_subclass(Self(inner))
    }

    /// How many sessions are stored (expired ones may linger until swept).
    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __repr__(&self) -> String {
        format!("MemoryStore(<{} sessions>)", self.0.len())
    }
}

/// Sessions in Redis, or in a Redis Cluster with `cluster=True`.
#[pyclass(extends = Store, frozen, module = "scsession._core")]
pub struct RedisStore(Arc<CoreRedis>);

#[pymethods]
impl RedisStore {
    #[new]
    #[pyo3(signature = (url, *, cluster = false, prefix = "scsession:", connect_timeout = 2.0, timeout = 5.0, tls_ca_file = None))]
    fn new(
        url: &str,
        cluster: bool,
        prefix: &str,
        connect_timeout: f64,
        timeout: f64,
        tls_ca_file: Option<std::path::PathBuf>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let tls_ca = tls_ca_file.map(std::fs::read).transpose()?;
        let timeouts = timeouts(connect_timeout, timeout)?;
        let inner = Arc::new(
            CoreRedis::new(url, cluster, prefix, timeouts, tls_ca).map_err(errors::config_error)?,
        );
        Ok(networked(
            Arc::clone(&inner),
            "RedisStore",
            url,
            Self(inner),
        ))
    }

    /// Resolves to how many live sessions the store holds (a SCAN of every key: for tools,
    /// not requests).
    fn count<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = Arc::clone(&self.0);
        tool(py, async move { store.count().await })
    }
}

/// Sessions in Memcached.
#[pyclass(extends = Store, frozen, module = "scsession._core")]
pub struct MemcachedStore(Arc<CoreMemcached>);

#[pymethods]
impl MemcachedStore {
    #[new]
    #[pyo3(signature = (url, *, prefix = "scsession:", connect_timeout = 2.0, timeout = 5.0))]
    fn new(
        url: &str,
        prefix: &str,
        connect_timeout: f64,
        timeout: f64,
    ) -> PyResult<PyClassInitializer<Self>> {
        let inner = Arc::new(
            CoreMemcached::new(url, prefix, timeouts(connect_timeout, timeout)?)
                .map_err(errors::config_error)?,
        );
        Ok(networked(
            Arc::clone(&inner),
            "MemcachedStore",
            url,
            Self(inner),
        ))
    }

    /// Resolves to about how many live sessions the store holds (what the LRU crawler lists).
    fn count<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = Arc::clone(&self.0);
        tool(py, async move { store.count().await })
    }
}

/// Sessions in PostgreSQL, MySQL/MariaDB or SQLite.
#[pyclass(extends = Store, frozen, module = "scsession._core", name = "SQLStore")]
pub struct SqlStore(Arc<CoreSql>);

#[pymethods]
impl SqlStore {
    #[new]
    // The default is scsession_core::store::DEFAULT_SQL_TABLE, written out for the signature.
    #[pyo3(signature = (url, *, table = "scsession_sessions", connect_timeout = 2.0, timeout = 5.0))]
    fn new(
        url: &str,
        table: &str,
        connect_timeout: f64,
        timeout: f64,
    ) -> PyResult<PyClassInitializer<Self>> {
        let inner = Arc::new(
            CoreSql::new(url, table, timeouts(connect_timeout, timeout)?)
                .map_err(errors::config_error)?,
        );
        Ok(networked(Arc::clone(&inner), "SQLStore", url, Self(inner)))
    }

    /// Resolves to how many live sessions the table holds (a `COUNT`).
    fn count<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = Arc::clone(&self.0);
        tool(py, async move { store.count().await })
    }

    /// Deletes expired sessions; resolves to how many.
    fn purge_expired<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = Arc::clone(&self.0);
        tool(py, async move { store.purge_expired().await })
    }

    /// Resolves to `SqlStats`: rows of live and of expired sessions, and the bytes the table
    /// and its indexes take.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = Arc::clone(&self.0);
        tool(py, async move {
            let stats = store.stats().await?;
            Ok(SqlStats {
                live: stats.live,
                expired: stats.expired,
                table_bytes: stats.table_bytes,
            })
        })
    }
}

/// What `SQLStore.stats()` finds: rows of live and of expired sessions, and the bytes the table
/// and its indexes take.
#[pyclass(frozen, get_all, module = "scsession._core")]
pub struct SqlStats {
    live: u64,
    expired: u64,
    table_bytes: u64,
}
