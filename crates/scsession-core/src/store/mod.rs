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
//! use scsession_core::store::{SessionStore, StoreError};
//! use scsession_core::SessionId;
//!
//! type Map = HashMap<SessionId, (Vec<u8>, Instant)>;
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<Map>);
//!
//! impl MapStore {
//!     fn map(&self) -> Result<std::sync::MutexGuard<'_, Map>, StoreError> {
//!         self.0.lock().map_err(|_| StoreError::Backend("lock poisoned".into()))
//!     }
//! }
//!
//! impl SessionStore for MapStore {
//!     async fn load(&self, id: &SessionId) -> Result<Option<Vec<u8>>, StoreError> {
//!         let map = self.map()?;
//!         Ok(map.get(id).filter(|(_, exp)| *exp > Instant::now()).map(|(blob, _)| blob.clone()))
//!     }
//!
//!     async fn save(&self, id: &SessionId, blob: &[u8], ttl: Duration) -> Result<(), StoreError> {
//!         self.map()?.insert(*id, (blob.to_vec(), Instant::now() + ttl));
//!         Ok(())
//!     }
//!
//!     async fn update(
//!         &self,
//!         id: &SessionId,
//!         blob: &[u8],
//!         ttl: Duration,
//!     ) -> Result<bool, StoreError> {
//!         let mut map = self.map()?;
//!         match map.get_mut(id) {
//!             Some(entry) if entry.1 > Instant::now() => {
//!                 *entry = (blob.to_vec(), Instant::now() + ttl);
//!                 Ok(true)
//!             }
//!             _ => Ok(false), // missing or expired: never brought back
//!         }
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
//! assert!(!block_on(store.update(&id, b"v1", ttl)).unwrap()); // not there: not created
//! block_on(store.save(&id, b"v1", ttl)).unwrap();
//! assert!(block_on(store.update(&id, b"v2", ttl)).unwrap());
//! assert_eq!(block_on(store.load(&id)).unwrap(), Some(b"v2".to_vec()));
//! block_on(store.delete(&id)).unwrap();
//! assert!(!block_on(store.update(&id, b"v3", ttl)).unwrap()); // logged out stays out
//! block_on(store.delete(&id)).unwrap(); // deleting twice is fine
//! ```
//!
//! Stores that ship with the crate, one cargo feature each: [`MemoryStore`] (`memory-store`).

use core::future::Future;
use std::time::Duration;

use crate::id::SessionId;

#[cfg(feature = "memory-store")]
mod memory;
#[cfg(feature = "memory-store")]
pub use memory::MemoryStore;

/// A store failure. Messages name the store and the cause, never a credential: mask passwords
/// in `store` (e.g. `redis://:***@host:6379/0`) before building one.
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
    /// The store answered with an error.
    #[error("session store error: {0}")]
    Backend(String),
}

/// Where store-mode sessions live: sealed blobs by id, each with a time to live.
///
/// Every method may be called concurrently from many tasks. A blob is opaque: store it and
/// return it byte for byte. "Expired" means the time to live given at the last `save` or
/// successful `update` has run out; an expired entry behaves exactly like a missing one (the
/// store may drop it whenever it likes).
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

    /// Replaces the blob under `id` and its time to live, only if an unexpired entry is there:
    /// returns `true` if it was replaced, `false` (changing nothing) when it is missing or
    /// expired. A request that finishes after the session was deleted (logout, another
    /// request's `regenerate`) must not bring it back: never insert here, and make the check
    /// and the write one atomic step.
    fn update(
        &self,
        id: &SessionId,
        blob: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes `id`. Not an error when it is missing or expired.
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send;
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
