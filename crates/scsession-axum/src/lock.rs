//! One save per session id at a time, within this process.
//!
//! Saves of one session compare and swap against the record they loaded; ten parallel requests
//! on one session would each lose to the others and retry. Taking turns per id in the process
//! leaves only other processes to race with (the Python middleware's `PerIdLock` does the same).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use scsession_core::SessionId;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Per-id async locks, each dropped from the map when its last user leaves.
#[derive(Debug, Default)]
pub(crate) struct Locks(Mutex<HashMap<SessionId, Arc<AsyncMutex<()>>>>);

/// A turn on one id, until dropped. Also cleans up after a waiter that was cancelled.
pub(crate) struct Turn<'a> {
    locks: &'a Locks,
    id: SessionId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Locks {
    /// Waits for the turn of `id`.
    pub(crate) async fn turn(&self, id: SessionId) -> Turn<'_> {
        // Declared first, so that a cancelled wait drops it last: its cleanup then sees every
        // other reference of this wait gone.
        let mut turn = Turn {
            locks: self,
            id,
            guard: None,
        };
        let entry = Arc::clone(
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(id)
                .or_default(),
        );
        turn.guard = Some(entry.lock_owned().await);
        turn
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut map = self.locks.0.lock().unwrap_or_else(PoisonError::into_inner);
        self.guard = None;
        // Only the map's own reference left: nobody holds or waits for this id.
        if map.get(&self.id).is_some_and(|e| Arc::strong_count(e) == 1) {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_on_one_id_do_not_overlap_and_the_map_empties() {
        let locks = Arc::new(Locks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let id = SessionId::random();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (locks, inside) = (Arc::clone(&locks), Arc::clone(&inside));
                tokio::spawn(async move {
                    let _turn = locks.turn(id).await;
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_leaves_nothing_behind() {
        let locks = Locks::default();
        let id = SessionId::random();
        let held = locks.turn(id).await;
        let waiting = tokio::time::timeout(Duration::from_millis(5), locks.turn(id)).await;
        assert!(waiting.is_err());
        drop(held);
        assert_eq!(locks.len(), 0);
    }
}
