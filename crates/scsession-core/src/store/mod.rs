//! Session stores: where store mode keeps sealed records, by session id.
//!
//! A store keeps opaque blobs (already encrypted by
//! [`Sealer::seal_record`](crate::Sealer::seal_record), bound to their id) with a time to live.
//! It never sees session data in the clear and never decides anything about sessions: it
//! stores, returns, replaces and forgets. Here is a complete store, a map behind a mutex:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use std::time::{Duration, Instant};
//!
//! use scsession_core::store::{SessionStore, StoreError, Swap};
//! use scsession_core::SessionId;
//!
//! type Map = HashMap<SessionId, (Vec<u8>, Instant)>;
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<Map>);
//!
//! impl MapStore {
//!     fn map(&self) -> Result<std::sync::MutexGuard<'_, Map>, StoreError> {
//!         let mut map = self.0.lock().map_err(|_| StoreError::Backend("lock poisoned".into()))?;
//!         map.retain(|_, (_, expires)| *expires > Instant::now());
//!         Ok(map)
//!     }
//! }
//!
//! impl SessionStore for MapStore {
//!     async fn load(&self, id: &SessionId) -> Result<Option<Vec<u8>>, StoreError> {
//!         Ok(self.map()?.get(id).map(|(blob, _)| blob.clone()))
//!     }
//!
//!     async fn save(&self, id: &SessionId, blob: &[u8], ttl: Duration) -> Result<(), StoreError> {
//!         self.map()?.insert(*id, (blob.to_vec(), Instant::now() + ttl));
//!         Ok(())
//!     }
//!
//!     async fn replace(
//!         &self,
//!         id: &SessionId,
//!         version: &[u8],
//!         blob: &[u8],
//!         ttl: Duration,
//!     ) -> Result<Swap, StoreError> {
//!         let mut map = self.map()?; // one lock: the check and the write are one step
//!         let Some(entry) = map.get_mut(id) else {
//!             return Ok(Swap::Missing); // ended meanwhile: never brought back
//!         };
//!         if !entry.0.starts_with(version) {
//!             return Ok(Swap::Stale); // someone else wrote it since it was loaded
//!         }
//!         *entry = (blob.to_vec(), Instant::now() + ttl);
//!         Ok(Swap::Done)
//!     }
//!
//!     async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
//!         self.map()?.remove(id);
//!         Ok(())
//!     }
//! }
//!
//! // The futures of this store are ready at once; a real program awaits them on its runtime.
//! fn block_on<F: std::future::Future>(f: F) -> F::Output {
//!     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//!     match std::pin::pin!(f).as_mut().poll(&mut cx) {
//!         std::task::Poll::Ready(out) => out,
//!         std::task::Poll::Pending => unreachable!(),
//!     }
//! }
//!
//! let store = MapStore::default();
//! let id = SessionId::random();
//! let ttl = Duration::from_secs(60);
//! assert_eq!(block_on(store.load(&id)).unwrap(), None);
//! assert_eq!(block_on(store.replace(&id, b"v", b"v1", ttl)).unwrap(), Swap::Missing);
//! block_on(store.save(&id, b"v1", ttl)).unwrap();
//! assert_eq!(block_on(store.replace(&id, b"v0", b"v2", ttl)).unwrap(), Swap::Stale);
//! assert_eq!(block_on(store.replace(&id, b"v1", b"v2", ttl)).unwrap(), Swap::Done);
//! assert_eq!(block_on(store.load(&id)).unwrap(), Some(b"v2".to_vec()));
//! block_on(store.delete(&id)).unwrap();
//! assert_eq!(block_on(store.replace(&id, b"v2", b"v3", ttl)).unwrap(), Swap::Missing);
//! block_on(store.delete(&id)).unwrap(); // deleting twice is fine
//! ```
//!
//! A store never decides what a session is: the [`engine`](crate::engine) does, on top of
//! these four methods ([`Saving`] is how it writes one record).
//! Real stores make `replace` one atomic step on the server: a Lua script on Redis, `cas` on
//! Memcached, a conditional `UPDATE` on SQL.
//!
//! A store may also keep a per-user index ([`users`]: log out everywhere) by implementing
//! [`UserIndex`] as well; the store above is complete without it, and code that needs an index
//! says so in its bounds (`S: UserIndex`), so a missing one is a compile error, not a run-time
//! one.
//!
//! Stores that ship with the crate, one cargo feature each: [`MemoryStore`] (`memory-store`),
//! [`RedisStore`] (`redis-store`, single node or cluster), [`MemcachedStore`]
//! (`memcached-store`) and [`SqlStore`] (`sql-store`: PostgreSQL, MySQL/MariaDB, SQLite).

use core::future::{ready, Future};
use std::time::Duration;

use crate::id::SessionId;

mod commit;
pub(crate) use commit::perform;
pub use commit::{Commit, Committed, Op, Reply, Saving, Step, MAX_ATTEMPTS, TOMBSTONE};

pub mod users;
pub use users::{UserKey, UserKeys, UserSession};

#[cfg(feature = "memory-store")]
mod memory;
#[cfg(feature = "memory-store")]
pub use memory::MemoryStore;

#[cfg(any(
    feature = "redis-store",
    feature = "memcached-store",
    feature = "sql-store"
))]
mod net;
#[cfg(any(
    feature = "redis-store",
    feature = "memcached-store",
    feature = "sql-store"
))]
pub use net::{mask_url, Timeouts};

#[cfg(feature = "redis-store")]
mod redis;
#[cfg(feature = "redis-store")]
pub use self::redis::RedisStore;

#[cfg(feature = "memcached-store")]
mod memcached;
#[cfg(feature = "memcached-store")]
pub use memcached::{MemcachedStore, MAX_SESSIONS_PER_USER};

#[cfg(feature = "sql-store")]
mod sql;
#[cfg(feature = "sql-store")]
pub use sql::{SqlStats, SqlStore, DEFAULT_TABLE as DEFAULT_SQL_TABLE};

/// A store failure. Messages name the store and the cause, never a credential: stores mask
/// passwords in `store` (e.g. `redis://:***@host:6379/0`) before building one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached in time (connection refused, timeout, ...).
    #[error("session store {store} is unavailable: {cause}")]
    Unavailable {
        /// Which store, credentials masked.
        store: String,
        /// What went wrong.
        cause: String,
    },
    /// The store answered with an error, or was configured wrongly.
    #[error("session store error: {0}")]
    Backend(String),
}

/// What [`SessionStore::replace`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swap {
    /// The record was replaced.
    Done,
    /// Another write came first: the stored record no longer has the expected version.
    /// Nothing was changed.
    Stale,
    /// No (unexpired) record is there: nothing was written.
    Missing,
}

/// Where store-mode sessions live: sealed blobs by id, each with a time to live.
///
/// Every method may be called concurrently from many tasks and processes. A blob is opaque:
/// store it and return it byte for byte. "Expired" means the time to live given at the last
/// `save` or successful `replace` has run out; an expired entry behaves exactly like a missing
/// one (the store may drop it whenever it likes).
pub trait SessionStore: Send + Sync {
    /// The blob stored under `id`, or `None` when it is missing or expired.
    fn load(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Stores `blob` under `id` for `ttl`, inserting it or replacing whatever is there. Used
    /// for new sessions (fresh random ids) only.
    fn save(
        &self,
        id: &SessionId,
        blob: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces the blob under `id` and its time to live, only if an unexpired entry is there
    /// and its blob starts with `version` ([`record_version`](crate::seal::record_version) of
    /// the blob the caller loaded). The check and the write must be one atomic step, and this
    /// must never insert: a request that finishes after the session was deleted (a sign-out)
    /// must not bring it back.
    fn replace(
        &self,
        id: &SessionId,
        version: &[u8],
        blob: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<Swap, StoreError>> + Send;

    /// Removes `id`. Not an error when it is missing or expired.
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Waits `delay` before a save tries again after another writer came first (see
    /// [`Saving`]). Stores shared between processes sleep on their runtime's timer; the default
    /// returns at once, which suits a store that lives in one process.
    fn pause(&self, delay: Duration) -> impl Future<Output = ()> + Send {
        let _ = delay;
        ready(())
    }
}

/// A per-user index ([`users`]: list a user's sessions, end them all): a store implements it or
/// not. It lives in the same store as the sessions and expires with them. Entries are opaque
/// bytes made by [`users`]; a store keeps them, one per session, for each [`UserKey`].
pub trait UserIndex: SessionStore {
    /// Stores `entry` for session `id` in the index of `user`, replacing that session's earlier
    /// entry, and keeps the index for at least `ttl`.
    fn index_put(
        &self,
        user: &UserKey,
        id: &SessionId,
        entry: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the entries of `ids` from the index of `user`; ids not there are ignored.
    fn index_remove(
        &self,
        user: &UserKey,
        ids: &[SessionId],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every entry in the index of `user`, with its session id, in any order (empty when the
    /// user has none or the index expired).
    fn index_list(
        &self,
        user: &UserKey,
    ) -> impl Future<Output = Result<Vec<(SessionId, Vec<u8>)>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_store_and_cause() {
        let e = StoreError::Unavailable {
            store: "redis://:***@127.0.0.1:6379/0".into(),
            cause: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "session store redis://:***@127.0.0.1:6379/0 is unavailable: connection refused"
        );
        assert_eq!(
            StoreError::Backend("WRONGTYPE".into()).to_string(),
            "session store error: WRONGTYPE"
        );
    }
}
