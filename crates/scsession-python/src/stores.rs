//! The networked stores as Python classes. Every method returns an asyncio awaitable that runs
//! on the I/O threads (see `runtime.rs`) with the GIL released.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use scsession_core::seal::record_version;
use scsession_core::store::{
    self, users, Commit, Committed, MemcachedStore as CoreMemcached, RedisStore as CoreRedis,
    SqlStore as CoreSql, Timeouts, UserIndex, UserKeys,
};
use scsession_core::SessionId;

use crate::errors;
use crate::runtime::awaitable;
use crate::users::{self as py_users, IndexKeys, NewEntry};
use crate::{parse_id, Sealer};

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

fn load<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    id: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let (store, id) = (Arc::clone(store), parse_id(id)?);
    awaitable(py, async move {
        let blob = store.load(&id).await.map_err(errors::store_error)?;
        Ok(blob.map(|b| Python::attach(|py| PyBytes::new(py, &b).unbind())))
    })
}

fn save<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    id: &str,
    data: Vec<u8>,
    ttl_seconds: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let (store, id) = (Arc::clone(store), parse_id(id)?);
    awaitable(py, async move {
        let ttl = Duration::from_secs(ttl_seconds);
        store
            .save(&id, &data, ttl)
            .await
            .map_err(errors::store_error)
    })
}

fn replace<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    id: &str,
    expected: &[u8],
    data: Vec<u8>,
    ttl_seconds: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let (store, id) = (Arc::clone(store), parse_id(id)?);
    let version = record_version(expected).to_vec();
    awaitable(py, async move {
        let ttl = Duration::from_secs(ttl_seconds);
        let swap = store
            .replace(&id, &version, &data, ttl)
            .await
            .map_err(errors::store_error)?;
        Ok(crate::swap_name(swap))
    })
}

fn delete<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    id: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let (store, id) = (Arc::clone(store), parse_id(id)?);
    awaitable(py, async move {
        store.delete(&id).await.map_err(errors::store_error)
    })
}

/// What the middleware saves: see `store::commit`. Resolves to True when saved, False when the
/// session ended meanwhile.
struct Save {
    id: SessionId,
    created: u64,
    now: u64,
    data: Vec<u8>,
    base: Option<(Vec<u8>, Vec<u8>)>,
    /// The id the session was loaded under, when the request regenerated it.
    previous: Option<SessionId>,
    /// The user the session is bound to, and its user agent: its index entry is written too.
    user: Option<(UserKeys, Option<String>)>,
}

fn commit<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    sealer: Py<Sealer>,
    save: Save,
) -> PyResult<Bound<'py, PyAny>> {
    let store = Arc::clone(store);
    awaitable(py, async move {
        let sealer = sealer.get();
        let write = Commit {
            id: save.id,
            created: save.created,
            now: save.now,
            data: &save.data,
            base: save
                .base
                .as_ref()
                .map(|(b, d)| (b.as_slice(), d.as_slice())),
            previous: save.previous,
        };
        let binding = save.user.as_ref().map(|(user, agent)| users::Binding {
            user,
            user_agent: agent.as_deref(),
        });
        let done = users::commit_bound(&*store, &sealer.core, &sealer.lifetime, write, binding)
            .await
            .map_err(errors::store_error)?;
        Ok(done == Committed::Saved)
    })
}

fn bind<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    binding: NewEntry,
) -> PyResult<Bound<'py, PyAny>> {
    let store = Arc::clone(store);
    awaitable(py, async move {
        users::bind(&*store, binding.user.primary(), &binding.entry, binding.now)
            .await
            .map_err(errors::store_error)
    })
}

fn unbind<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    user: UserKeys,
    ids: &[String],
) -> PyResult<Bound<'py, PyAny>> {
    let (store, ids) = (Arc::clone(store), py_users::parse_ids(ids)?);
    awaitable(py, async move {
        users::unbind(&*store, &user, &ids)
            .await
            .map_err(errors::store_error)
    })
}

fn sessions_for_user<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    user: UserKeys,
) -> PyResult<Bound<'py, PyAny>> {
    let store = Arc::clone(store);
    awaitable(py, async move {
        let entries = users::sessions_for_user(&*store, &user)
            .await
            .map_err(errors::store_error)?;
        Ok(py_users::listing(entries))
    })
}

fn invalidate_user<'py, S: UserIndex + 'static>(
    py: Python<'py>,
    store: &Arc<S>,
    user: UserKeys,
    except_id: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let store = Arc::clone(store);
    let except = except_id.map(parse_id).transpose()?;
    awaitable(py, async move {
        users::invalidate_user(&*store, &user, except.as_ref(), py_users::unix_now())
            .await
            .map_err(errors::store_error)
    })
}

/// The methods every networked store has: the `SessionStore` protocol (`load`, `save`,
/// `delete`) and the middleware's `_commit`. One macro, as `#[pymethods]` may appear once per
/// class.
macro_rules! store_methods {
    ($class:ident as $name:literal { $($extra:tt)* }) => {
        #[pymethods]
        impl $class {
            /// The record under `id`, or None.
            fn load<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
                load(py, &self.inner, id)
            }

            /// Stores `data` under `id` for `ttl_seconds` (insert or replace).
            fn save<'py>(
                &self,
                py: Python<'py>,
                id: &str,
                data: Vec<u8>,
                ttl_seconds: u64,
            ) -> PyResult<Bound<'py, PyAny>> {
                save(py, &self.inner, id, data, ttl_seconds)
            }

            /// Replaces the record under `id` with `data` only if it is still `expected` (as
            /// loaded); resolves to "done", "stale" (another write came first) or "missing".
            fn replace<'py>(
                &self,
                py: Python<'py>,
                id: &str,
                expected: &[u8],
                data: Vec<u8>,
                ttl_seconds: u64,
            ) -> PyResult<Bound<'py, PyAny>> {
                replace(py, &self.inner, id, expected, data, ttl_seconds)
            }

            /// Removes `id`; no error if it is not there.
            fn delete<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
                delete(py, &self.inner, id)
            }

            /// Saves a session without losing concurrent changes; False if it ended meanwhile.
            /// With `user_id`, the session's entry in that user's index is written at the same
            /// time.
            #[pyo3(name = "_commit", signature = (sealer, id, created, now, data, base, base_data, previous = None, user_id = None, user_agent = None))]
            #[allow(clippy::too_many_arguments)]
            fn commit<'py>(
                &self,
                py: Python<'py>,
                sealer: Py<Sealer>,
                id: &str,
                created: u64,
                now: u64,
                data: Vec<u8>,
                base: Option<Vec<u8>>,
                base_data: Option<Vec<u8>>,
                previous: Option<&str>,
                user_id: Option<&Bound<'py, PyAny>>,
                user_agent: Option<String>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let keys = sealer.get().core.keys();
                let save = Save {
                    id: parse_id(id)?,
                    created,
                    now,
                    data,
                    base: base.zip(base_data),
                    previous: previous.map(parse_id).transpose()?,
                    user: user_id
                        .map(|u| py_users::user_keys(keys, u))
                        .transpose()?
                        .map(|u| (u, user_agent)),
                };
                commit(py, &self.inner, sealer, save)
            }

            /// Records session `id` in the index of `user_id` (see `Session.bind_user`).
            #[pyo3(name = "_bind", signature = (user_id, id, created, now, ttl_seconds, user_agent))]
            #[allow(clippy::too_many_arguments)]
            fn bind<'py>(
                &self,
                py: Python<'py>,
                user_id: &Bound<'py, PyAny>,
                id: &str,
                created: u64,
                now: u64,
                ttl_seconds: u64,
                user_agent: Option<String>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let binding =
                    NewEntry::new(&self.keys, user_id, id, created, now, ttl_seconds, user_agent)?;
                bind(py, &self.inner, binding)
            }

            /// Removes sessions `ids` from the index of `user_id`.
            #[pyo3(name = "_unbind")]
            fn unbind<'py>(
                &self,
                py: Python<'py>,
                user_id: &Bound<'py, PyAny>,
                ids: Vec<String>,
            ) -> PyResult<Bound<'py, PyAny>> {
                unbind(py, &self.inner, self.keys.of(user_id)?, &ids)
            }

            /// Resolves to the live sessions of `user_id`, most recently seen first.
            fn sessions_for_user<'py>(
                &self,
                py: Python<'py>,
                user_id: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                sessions_for_user(py, &self.inner, self.keys.of(user_id)?)
            }

            /// Ends every session of `user_id` but `except_id`; resolves to how many.
            #[pyo3(signature = (user_id, except_id = None))]
            fn invalidate_user<'py>(
                &self,
                py: Python<'py>,
                user_id: &Bound<'py, PyAny>,
                except_id: Option<&str>,
            ) -> PyResult<Bound<'py, PyAny>> {
                invalidate_user(py, &self.inner, self.keys.of(user_id)?, except_id)
            }

            /// Resolves to how many live sessions the store holds, for tools, not requests: a
            /// SCAN of every key (Redis), about as many as the LRU crawler lists (Memcached),
            /// a `COUNT` (SQL).
            fn count<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                let store = Arc::clone(&self.inner);
                awaitable(py, async move { store.count().await.map_err(errors::store_error) })
            }

            /// Keys the per-user index by `secret_key` (the middleware's; it calls this itself
            /// at the app's first request).
            fn use_secret_key(&self, secret_key: &Bound<'_, PyAny>) -> PyResult<()> {
                self.keys.set(secret_key)
            }

            fn __repr__(&self) -> String {
                format!("{}('{}')", $name, self.name)
            }

            $($extra)*
        }
    };
}

/// Sessions in Redis, or in a Redis Cluster with `cluster=True`.
#[pyclass(frozen, module = "scsession._core")]
pub struct RedisStore {
    inner: Arc<CoreRedis>,
    name: String,
    keys: IndexKeys,
}

store_methods!(RedisStore as "RedisStore" {
    #[new]
    #[pyo3(signature = (url, *, cluster = false, prefix = "scsession:", connect_timeout = 2.0, timeout = 5.0, tls_ca_file = None))]
    fn new(
        url: &str,
        cluster: bool,
        prefix: &str,
        connect_timeout: f64,
        timeout: f64,
        tls_ca_file: Option<std::path::PathBuf>,
    ) -> PyResult<Self> {
        let tls_ca = tls_ca_file.map(std::fs::read).transpose()?;
        let timeouts = timeouts(connect_timeout, timeout)?;
        let inner = CoreRedis::new(url, cluster, prefix, timeouts, tls_ca)
            .map_err(errors::config_error)?;
        Ok(Self { inner: Arc::new(inner), name: store::mask_url(url), keys: IndexKeys::default() })
    }
});

/// Sessions in Memcached.
#[pyclass(frozen, module = "scsession._core")]
pub struct MemcachedStore {
    inner: Arc<CoreMemcached>,
    name: String,
    keys: IndexKeys,
}

store_methods!(MemcachedStore as "MemcachedStore" {
    #[new]
    #[pyo3(signature = (url, *, prefix = "scsession:", connect_timeout = 2.0, timeout = 5.0))]
    fn new(url: &str, prefix: &str, connect_timeout: f64, timeout: f64) -> PyResult<Self> {
        let inner = CoreMemcached::new(url, prefix, timeouts(connect_timeout, timeout)?)
            .map_err(errors::config_error)?;
        Ok(Self { inner: Arc::new(inner), name: store::mask_url(url), keys: IndexKeys::default() })
    }
});

/// Sessions in PostgreSQL, MySQL/MariaDB or SQLite.
#[pyclass(frozen, module = "scsession._core", name = "SQLStore")]
pub struct SqlStore {
    inner: Arc<CoreSql>,
    name: String,
    keys: IndexKeys,
}

store_methods!(SqlStore as "SQLStore" {
    #[new]
    // The default is scsession_core::store::DEFAULT_SQL_TABLE, written out for the signature.
    #[pyo3(signature = (url, *, table = "scsession_sessions", connect_timeout = 2.0, timeout = 5.0))]
    fn new(url: &str, table: &str, connect_timeout: f64, timeout: f64) -> PyResult<Self> {
        let inner = CoreSql::new(url, table, timeouts(connect_timeout, timeout)?)
            .map_err(errors::config_error)?;
        Ok(Self { inner: Arc::new(inner), name: store::mask_url(url), keys: IndexKeys::default() })
    }

    /// Deletes expired sessions; resolves to how many.
    fn purge_expired<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = Arc::clone(&self.inner);
        awaitable(py, async move { store.purge_expired().await.map_err(errors::store_error) })
    }

    /// Resolves to `(live, expired, table_bytes)`: rows of live and of expired sessions, and the
    /// bytes the table and its indexes take.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let store = Arc::clone(&self.inner);
        awaitable(py, async move {
            let stats = store.stats().await.map_err(errors::store_error)?;
            Ok((stats.live, stats.expired, stats.table_bytes))
        })
    }
});
