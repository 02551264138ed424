//! Saving a session to a store without losing anyone's changes.
//!
//! A request that loaded a session writes its new data with a compare-and-swap against the
//! version it loaded: one round trip when nobody else wrote meanwhile. When somebody did, the
//! request reloads the stored record, replays its own key-by-key [`Changeset`] onto it and
//! tries again. A session deleted meanwhile (a sign-out) is never written back.

use std::time::Duration;

use super::{SessionStore, StoreError, Swap};
use crate::changeset::Changeset;
use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::record::Record;
use crate::seal::{record_version, Sealer};

/// Compare-and-swap attempts before a save gives up (each loses only to another write that
/// succeeded, so this takes that many concurrent writers on one session).
pub const MAX_ATTEMPTS: usize = 16;

/// One save of a session.
#[derive(Clone, Copy, Debug)]
pub struct Commit<'a> {
    /// The session's id.
    pub id: SessionId,
    /// When the session was created (unix seconds).
    pub created: u64,
    /// Now (unix seconds): the record's new `last_seen`.
    pub now: u64,
    /// The session's data (an encoded dict).
    pub data: &'a [u8],
    /// For a session the request loaded from the store: the blob it loaded and that blob's
    /// data. `None` for a new session (a fresh id).
    pub base: Option<(&'a [u8], &'a [u8])>,
}

/// How a [`commit`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Committed {
    /// The data is stored.
    Saved,
    /// The session was deleted or expired meanwhile (or what is stored no longer opens):
    /// nothing was written, and the session is over.
    Gone,
}

/// Saves `commit` to `store`, sealed by `sealer`, living as long as `lifetime` allows.
pub async fn commit<S: SessionStore + ?Sized>(
    store: &S,
    sealer: &Sealer,
    lifetime: &Lifetime,
    commit: Commit<'_>,
) -> Result<Committed, StoreError> {
    let Commit {
        id,
        created,
        now,
        data,
        base,
    } = commit;
    let mut record = Record {
        id,
        created,
        last_seen: now,
        data: data.to_vec(),
    };
    let ttl = |created| Duration::from_secs(lifetime.store_ttl(created, now));
    let Some((base_blob, base_data)) = base else {
        store
            .save(&id, &sealer.seal_record(&record), ttl(created))
            .await?;
        return Ok(Committed::Saved);
    };
    let mut version = record_version(base_blob).to_vec();
    let mut changes: Option<Changeset> = None;
    for _ in 0..MAX_ATTEMPTS {
        let blob = sealer.seal_record(&record);
        match store
            .replace(&id, &version, &blob, ttl(record.created))
            .await?
        {
            Swap::Done => return Ok(Committed::Saved),
            Swap::Missing => return Ok(Committed::Gone),
            Swap::Stale => {}
        }
        // Another request wrote first: replay this request's changes onto what it stored.
        let Some(current) = store.load(&id).await? else {
            return Ok(Committed::Gone);
        };
        let Ok(stored) = sealer.open_record(&id, &current) else {
            return Ok(Committed::Gone);
        };
        if lifetime.is_expired(stored.created, stored.last_seen, now) {
            return Ok(Committed::Gone);
        }
        let changes = match &mut changes {
            Some(changes) => changes,
            None => changes.insert(
                Changeset::between(base_data, data)
                    .map_err(|e| StoreError::Backend(format!("session data: {e}")))?,
            ),
        };
        let Ok(merged) = changes.apply(&stored.data) else {
            return Ok(Committed::Gone);
        };
        record.data = merged;
        record.created = stored.created;
        version = record_version(&current).to_vec();
    }
    Err(StoreError::Backend(format!(
        "the session was changed by {MAX_ATTEMPTS} other requests while this one tried to \
         save it; its changes were not saved"
    )))
}

#[cfg(all(test, feature = "memory-store"))]
mod tests {
    use super::*;
    use crate::format::{self, Value};
    use crate::keys::KeyRing;
    use crate::store::MemoryStore;

    fn dict(pairs: &[(&str, i64)]) -> Vec<u8> {
        let pairs = pairs
            .iter()
            .map(|(k, v)| (Value::Str((*k).into()), Value::Int(*v)))
            .collect();
        format::encode(&Value::Dict(pairs)).unwrap()
    }

    const LIFE: Lifetime = Lifetime::new(Some(3600), None);
    const NOW: u64 = 1_700_000_000;

    fn setup() -> (MemoryStore, Sealer, SessionId, Vec<u8>, Vec<u8>) {
        let sealer = Sealer::new(KeyRing::new(&[[3u8; 32]]).unwrap(), "session");
        let store = MemoryStore::new();
        let id = SessionId::random();
        let data = dict(&[("a", 1), ("b", 2)]);
        let new = Commit {
            id,
            created: NOW,
            now: NOW,
            data: &data,
            base: None,
        };
        assert_eq!(store.commit_now(&sealer, &LIFE, new), Ok(Committed::Saved));
        let blob = store.load_now(&id).unwrap();
        (store, sealer, id, blob, data)
    }

    fn stored_data(store: &MemoryStore, sealer: &Sealer, id: &SessionId) -> Vec<u8> {
        sealer
            .open_record(id, &store.load_now(id).unwrap())
            .unwrap()
            .data
    }

    /// Commits `data` as a request that loaded `blob` (holding `base`) would.
    fn write_back(
        (store, sealer, id, blob, base): (&MemoryStore, &Sealer, SessionId, &[u8], &[u8]),
        data: &[u8],
    ) -> Result<Committed, StoreError> {
        let write = Commit {
            id,
            created: NOW,
            now: NOW + 1,
            data,
            base: Some((blob, base)),
        };
        store.commit_now(sealer, &LIFE, write)
    }

    #[test]
    fn overlapping_writes_to_different_keys_both_survive() {
        let (store, sealer, id, blob, base) = setup();
        let loaded = (&store, &sealer, id, &blob[..], &base[..]);
        let first = dict(&[("a", 10), ("b", 2)]);
        let second = dict(&[("a", 1), ("b", 20), ("c", 3)]);
        assert_eq!(write_back(loaded, &first), Ok(Committed::Saved));
        assert_eq!(write_back(loaded, &second), Ok(Committed::Saved));
        assert_eq!(
            stored_data(&store, &sealer, &id),
            dict(&[("a", 10), ("b", 20), ("c", 3)])
        );
    }

    #[test]
    fn a_deleted_session_is_never_written_back() {
        let (store, sealer, id, blob, base) = setup();
        store.delete_now(&id);
        let loaded = (&store, &sealer, id, &blob[..], &base[..]);
        assert_eq!(write_back(loaded, &dict(&[("a", 5)])), Ok(Committed::Gone));
        assert_eq!(store.load_now(&id), None);
    }

    #[test]
    fn a_stored_record_that_does_not_open_ends_the_session() {
        let (store, sealer, id, blob, base) = setup();
        store.save_now(&id, b"garbage", Duration::from_secs(60));
        let loaded = (&store, &sealer, id, &blob[..], &base[..]);
        assert_eq!(write_back(loaded, &dict(&[("a", 5)])), Ok(Committed::Gone));
    }
}
