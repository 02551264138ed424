//! The in-process store: a map behind a mutex. Sessions vanish when the process ends and are
//! not shared between processes; for one process (development, tests, a single worker).

use core::fmt;
use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{SessionStore, StoreError, Swap, UserIndex, UserKey};
use crate::id::SessionId;

/// Expired entries are swept from the map once every this many writes.
/// Expired entries are swept once the writes since the last sweep reach this many, or half the
/// entries if there are more: a sweep walks every entry, so sweeping every fixed number of writes
/// would cost each write time in proportion to the store's size (measured: 35% of a new session's
/// cost with half a million sessions). This way a write pays for at most two entries' checks, and
/// expired entries never make up more than about a third of the map.
const SWEEP_EVERY: u32 = 1024;

struct Entry {
    blob: Vec<u8>,
    /// `None`: a time to live too long to represent, i.e. never.
    expires: Option<Instant>,
}

impl Entry {
    fn new(blob: &[u8], ttl: Duration, now: Instant) -> Self {
        Self {
            blob: blob.to_vec(),
            expires: now.checked_add(ttl),
        }
    }

    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| now < e)
    }
}

#[derive(Default)]
struct Inner {
    map: HashMap<SessionId, Entry>,
    /// The per-user index: entries by session, each expiring with its session.
    users: HashMap<UserKey, HashMap<SessionId, Entry>>,
    writes: u32,
}

/// Sessions in this process's memory. Its synchronous `*_now` methods do the work (the Python
/// bindings call them directly); the [`SessionStore`] methods wrap them in ready futures.
///
/// ```
/// use std::time::Duration;
/// use scsession_core::store::{MemoryStore, Swap};
/// use scsession_core::SessionId;
///
/// let store = MemoryStore::new();
/// let id = SessionId::random();
/// store.save_now(&id, b"blob", Duration::from_secs(60));
/// assert_eq!(store.load_now(&id), Some(b"blob".to_vec()));
/// store.delete_now(&id);
/// assert_eq!(store.replace_now(&id, b"blob", b"again", Duration::from_secs(60)), Swap::Missing);
/// assert_eq!(store.len(), 0);
/// ```
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.lock().map.len())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The map stays consistent whatever panicked while holding the lock, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The blob under `id`, or `None` when missing or expired.
    #[must_use]
    pub fn load_now(&self, id: &SessionId) -> Option<Vec<u8>> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.map.get(id) {
            Some(entry) if entry.live(now) => Some(entry.blob.clone()),
            Some(_) => {
                inner.map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Inserts or replaces the blob under `id` for `ttl`.
    pub fn save_now(&self, id: &SessionId, blob: &[u8], ttl: Duration) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.map.insert(*id, Entry::new(blob, ttl, now));
        inner.wrote(now);
    }

    /// Replaces the blob under `id` only if an unexpired entry is there whose blob starts with
    /// `version` (see [`SessionStore::replace`]).
    #[must_use]
    pub fn replace_now(&self, id: &SessionId, version: &[u8], blob: &[u8], ttl: Duration) -> Swap {
        let now = Instant::now();
        let mut inner = self.lock();
        let swap = match inner.map.get_mut(id) {
            Some(entry) if entry.live(now) && entry.blob.starts_with(version) => {
                *entry = Entry::new(blob, ttl, now);
                Swap::Done
            }
            Some(entry) if entry.live(now) => Swap::Stale,
            Some(_) => {
                inner.map.remove(id);
                Swap::Missing
            }
            None => Swap::Missing,
        };
        inner.wrote(now);
        swap
    }

    /// The output of `work`, a future that only awaits this store (such as an engine save or the
    /// functions of [`users`](super::users) on it): its futures are ready at once, so it
    /// finishes without an executor.
    ///
    /// # Panics
    /// If `work` awaits anything that is not ready at once.
    pub fn run_now<F: Future>(work: F) -> F::Output {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(work).as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => unreachable!("memory store futures are ready at once"),
        }
    }

    /// [`UserIndex::index_put`], at once.
    pub fn index_put_now(&self, user: &UserKey, id: &SessionId, entry: &[u8], ttl: Duration) {
        let now = Instant::now();
        let mut inner = self.lock();
        let entries = inner.users.entry(*user).or_default();
        entries.retain(|_, e| e.live(now));
        entries.insert(*id, Entry::new(entry, ttl, now));
        inner.wrote(now);
    }

    /// [`UserIndex::index_remove`], at once.
    pub fn index_remove_now(&self, user: &UserKey, ids: &[SessionId]) {
        let mut inner = self.lock();
        if let Some(entries) = inner.users.get_mut(user) {
            for id in ids {
                entries.remove(id);
            }
            if entries.is_empty() {
                inner.users.remove(user);
            }
        }
    }

    /// [`UserIndex::index_list`], at once.
    #[must_use]
    pub fn index_list_now(&self, user: &UserKey) -> Vec<(SessionId, Vec<u8>)> {
        let now = Instant::now();
        self.lock()
            .users
            .get(user)
            .map_or_else(Vec::new, |entries| {
                entries
                    .iter()
                    .filter(|(_, e)| e.live(now))
                    .map(|(id, e)| (*id, e.blob.clone()))
                    .collect()
            })
    }

    /// Removes `id`, if there.
    pub fn delete_now(&self, id: &SessionId) {
        self.lock().map.remove(id);
    }

    /// Number of unexpired sessions (counts them: linear in the size of the map).
    #[must_use]
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().map.values().filter(|e| e.live(now)).count()
    }

    /// Whether no unexpired session is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn wrote(&mut self, now: Instant) {
        self.writes += 1;
        let due = SWEEP_EVERY.max(u32::try_from(self.map.len() / 2).unwrap_or(u32::MAX));
        if self.writes >= due {
            self.writes = 0;
            self.map.retain(|_, e| e.live(now));
            self.users.retain(|_, entries| {
                entries.retain(|_, e| e.live(now));
                !entries.is_empty()
            });
        }
    }
}

impl SessionStore for MemoryStore {
    fn load(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send {
        ready(Ok(self.load_now(id)))
    }

    fn save(
        &self,
        id: &SessionId,
        blob: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.save_now(id, blob, ttl);
        ready(Ok(()))
    }

    fn replace(
        &self,
        id: &SessionId,
        version: &[u8],
        blob: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<Swap, StoreError>> + Send {
        ready(Ok(self.replace_now(id, version, blob, ttl)))
    }

    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.delete_now(id);
        ready(Ok(()))
    }
}

impl UserIndex for MemoryStore {
    fn index_put(
        &self,
        user: &UserKey,
        id: &SessionId,
        entry: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.index_put_now(user, id, entry, ttl);
        ready(Ok(()))
    }

    fn index_remove(
        &self,
        user: &UserKey,
        ids: &[SessionId],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.index_remove_now(user, ids);
        ready(Ok(()))
    }

    fn index_list(
        &self,
        user: &UserKey,
    ) -> impl Future<Output = Result<Vec<(SessionId, Vec<u8>)>, StoreError>> + Send {
        ready(Ok(self.index_list_now(user)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Context, Poll, Waker};

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut cx = Context::from_waker(Waker::noop());
        match std::pin::pin!(f).as_mut().poll(&mut cx) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("memory store futures are ready at once"),
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn save_load_update_delete() {
        let store = MemoryStore::new();
        let id = SessionId::random();
        assert_eq!(store.load_now(&id), None);
        assert_eq!(store.replace_now(&id, b"", b"x", MINUTE), Swap::Missing);
        assert_eq!(store.load_now(&id), None, "replace never inserts");
        store.save_now(&id, b"one", MINUTE);
        assert_eq!(store.load_now(&id), Some(b"one".to_vec()));
        store.save_now(&id, b"two", MINUTE);
        assert_eq!(store.load_now(&id), Some(b"two".to_vec()));
        assert_eq!(
            store.replace_now(&id, b"one", b"three", MINUTE),
            Swap::Stale
        );
        assert_eq!(store.replace_now(&id, b"tw", b"three", MINUTE), Swap::Done);
        assert_eq!(store.load_now(&id), Some(b"three".to_vec()));
        assert_eq!(store.len(), 1);
        assert!(!store.is_empty());
        store.delete_now(&id);
        store.delete_now(&id);
        assert_eq!(store.load_now(&id), None);
        assert_eq!(
            store.replace_now(&id, b"", b"zombie", MINUTE),
            Swap::Missing
        );
        assert!(store.is_empty());
    }

    #[test]
    fn expired_entries_are_missing() {
        let store = MemoryStore::new();
        let id = SessionId::random();
        store.save_now(&id, b"gone", Duration::ZERO);
        assert_eq!(store.len(), 0);
        assert_eq!(store.replace_now(&id, b"", b"back", MINUTE), Swap::Missing);
        assert_eq!(store.load_now(&id), None);
        // A time to live too long for Instant means "never".
        store.save_now(&id, b"forever", Duration::MAX);
        assert_eq!(store.load_now(&id), Some(b"forever".to_vec()));
        assert_eq!(
            store.replace_now(&id, b"", b"still", Duration::MAX),
            Swap::Done
        );
    }

    #[test]
    fn sweeps_expired_entries() {
        let store = MemoryStore::new();
        for _ in 0..SWEEP_EVERY - 1 {
            store.save_now(&SessionId::random(), b"", Duration::ZERO);
        }
        assert_eq!(store.lock().map.len(), (SWEEP_EVERY - 1) as usize);
        store.save_now(&SessionId::random(), b"", MINUTE);
        assert_eq!(store.lock().map.len(), 1);
    }

    #[test]
    fn trait_methods_follow_the_contract() {
        let store = MemoryStore::default();
        let id = SessionId::random();
        assert_eq!(block_on(store.load(&id)), Ok(None));
        assert_eq!(
            block_on(store.replace(&id, b"", b"a", MINUTE)),
            Ok(Swap::Missing)
        );
        assert_eq!(block_on(store.save(&id, b"a", MINUTE)), Ok(()));
        assert_eq!(
            block_on(store.replace(&id, b"a", b"b", MINUTE)),
            Ok(Swap::Done)
        );
        assert_eq!(block_on(store.load(&id)), Ok(Some(b"b".to_vec())));
        assert_eq!(block_on(store.delete(&id)), Ok(()));
        assert_eq!(block_on(store.delete(&id)), Ok(()));
        assert_eq!(block_on(store.load(&id)), Ok(None));
        assert_eq!(format!("{store:?}"), "MemoryStore { entries: 0 }");
    }

    #[test]
    fn shared_between_threads() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let id = SessionId::random();
                        store.save_now(&id, b"x", MINUTE);
                        assert_eq!(store.replace_now(&id, b"x", b"y", MINUTE), Swap::Done);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(store.len(), 400);
    }
}
