//! The per-user index: which sessions a user has, so that an app can list them and end them
//! all ("log out everywhere", after a password change).
//!
//! A store keeps, for each [`UserKey`], one small entry per session ([`UserSession`], encoded by
//! this module; opaque to the store) through the three methods of [`UserIndex`]: `index_put`,
//! `index_remove` and `index_list`. The index lives in the same store as the sessions and
//! expires with them: each entry carries its session's expiry, and the store keeps the index
//! at least as long as its longest-lived entry.
//!
//! The index may hold entries of sessions that ended some other way (expired, deleted by
//! hand): [`sessions_for_user`] checks each against the store and drops the dead ones, and
//! [`invalidate_user`] deleting a record that is already gone does no harm. What it must never
//! do is miss a live session, so the middleware rewrites a bound session's entry on every write
//! of that session, which is also when its expiry moves.

use core::fmt;
use std::collections::hash_map::{Entry, HashMap};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{StoreError, UserIndex};
use crate::id::SessionId;
use crate::keys::KeyRing;

/// Longest user agent kept in an entry (bytes); longer ones are cut at a character boundary.
pub const MAX_USER_AGENT: usize = 512;
/// How many characters of a session id [`UserSession::id_prefix`] shows.
pub const ID_PREFIX_LEN: usize = 8;

/// A user as the index knows them under one secret: HMAC-SHA256 of the app's user id under a
/// key derived from the secret. Fixed length and safe in any key or column, whatever the id looks
/// like, and without the secret it does not tell which user it is (a plain hash of a numeric id
/// reverses in moments). Shown as 43 characters of base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserKey([u8; 32]);

impl UserKey {
    fn derive(index_key: &[u8; 32], user_id: &str) -> Self {
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(index_key) else {
            unreachable!("HMAC takes keys of any length");
        };
        mac.update(user_id.as_bytes());
        Self(mac.finalize().into_bytes().into())
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserKey({self})")
    }
}

/// A user's [`UserKey`] under each secret of a [`KeyRing`]: entries are written under the first
/// (the sealing secret's) and read, listed and removed under all of them, so that rotating the
/// secrets does not hide a session from [`sessions_for_user`] or [`invalidate_user`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserKeys(Vec<UserKey>);

impl UserKeys {
    /// The keys of the app's user id `user_id` (any non-empty string) under `keys`.
    pub fn new(keys: &KeyRing, user_id: &str) -> Result<Self, StoreError> {
        if user_id.is_empty() {
            return Err(StoreError::Backend(
                "a user id must not be empty".to_owned(),
            ));
        }
        let mut derived: Vec<UserKey> = Vec::with_capacity(keys.len());
        for set in keys.sets() {
            let key = UserKey::derive(set.index_key(), user_id);
            if !derived.contains(&key) {
                derived.push(key);
            }
        }
        Ok(Self(derived))
    }

    /// Where new entries are written: the key under the sealing secret.
    #[must_use]
    pub fn primary(&self) -> &UserKey {
        &self.0[0]
    }

    /// Every key, the primary first.
    #[must_use]
    pub fn all(&self) -> &[UserKey] {
        &self.0
    }
}

/// One session of a user, as the index keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSession {
    /// The session.
    pub id: SessionId,
    /// When it was created (unix seconds).
    pub created: u64,
    /// When it was last written (unix seconds): its last request that changed it or pushed
    /// back its idle deadline.
    pub last_seen: u64,
    /// When it expires unless written again (unix seconds).
    pub expires_at: u64,
    /// What the app passed when it bound the session (at most [`MAX_USER_AGENT`] bytes).
    pub user_agent: Option<String>,
}

/// `created | last_seen | expires_at` (u64 big-endian each), then a presence byte and the
/// user agent's UTF-8.
const FIXED_LEN: usize = 3 * 8 + 1;

impl UserSession {
    /// The entry of session `id`, created at `created`, written at `now` and kept for
    /// `ttl_seconds` from then (the time to live its record was written with).
    #[must_use]
    pub fn written(
        id: SessionId,
        created: u64,
        now: u64,
        ttl_seconds: u64,
        user_agent: Option<String>,
    ) -> Self {
        Self {
            id,
            created,
            last_seen: now,
            expires_at: now.saturating_add(ttl_seconds),
            user_agent,
        }
    }

    /// The first [`ID_PREFIX_LEN`] characters of the id: enough to tell a user's sessions apart
    /// on a page, not a usable id.
    #[must_use]
    pub fn id_prefix(&self) -> String {
        self.id.to_string()[..ID_PREFIX_LEN].to_owned()
    }

    /// The entry as stored.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let agent = self.user_agent.as_deref().map(truncate_agent);
        let mut out = Vec::with_capacity(FIXED_LEN + agent.map_or(0, str::len));
        for n in [self.created, self.last_seen, self.expires_at] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.push(u8::from(agent.is_some()));
        out.extend_from_slice(agent.unwrap_or_default().as_bytes());
        out
    }

    /// The entry of session `id` stored as `bytes`, or `None` if they are not one.
    #[must_use]
    pub fn decode(id: SessionId, bytes: &[u8]) -> Option<Self> {
        if bytes.len() < FIXED_LEN {
            return None;
        }
        let number = |i: usize| {
            let mut n = [0u8; 8];
            n.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_be_bytes(n)
        };
        let agent = std::str::from_utf8(&bytes[FIXED_LEN..]).ok()?;
        Some(Self {
            id,
            created: number(0),
            last_seen: number(1),
            expires_at: number(2),
            user_agent: match bytes[FIXED_LEN - 1] {
                0 => None,
                _ => Some(agent.to_owned()),
            },
        })
    }
}

fn truncate_agent(agent: &str) -> &str {
    let mut end = agent.len().min(MAX_USER_AGENT);
    while !agent.is_char_boundary(end) {
        end -= 1;
    }
    &agent[..end]
}

/// Records `entry` in the index of `user` (replacing that session's earlier entry), to be kept
/// until at least its `expires_at`. `now` is the current unix time.
pub async fn bind<S: UserIndex + ?Sized>(
    store: &S,
    user: &UserKey,
    entry: &UserSession,
    now: u64,
) -> Result<(), StoreError> {
    let ttl = Duration::from_secs(entry.expires_at.saturating_sub(now).max(1));
    store.index_put(user, &entry.id, &entry.encode(), ttl).await
}

/// Removes sessions `ids` from the index of `user` (their records are left alone).
pub async fn unbind<S: UserIndex + ?Sized>(
    store: &S,
    user: &UserKeys,
    ids: &[SessionId],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    for key in user.all() {
        store.index_remove(key, ids).await?;
    }
    Ok(())
}

/// The live sessions of `user`, most recently seen first. A session is live while its record
/// is in the store (stores forget records when they expire); entries of sessions that are gone
/// are dropped from the index on the way.
pub async fn sessions_for_user<S: UserIndex + ?Sized>(
    store: &S,
    user: &UserKeys,
) -> Result<Vec<UserSession>, StoreError> {
    let (entries, mut gone) = entries(store, user).await?;
    let mut live = Vec::with_capacity(entries.len());
    for entry in entries {
        if store.load(&entry.id).await?.is_some() {
            live.push(entry);
        } else {
            gone.push(entry.id);
        }
    }
    unbind(store, user, &gone).await?;
    live.sort_by_key(|entry| core::cmp::Reverse((entry.last_seen, entry.created)));
    Ok(live)
}

/// Ends every session of `user` but `except` (the caller's own, typically): their records are
/// deleted, so each is signed out at its next request, and they leave the index. Returns how
/// many sessions that were not yet expired by their entry's `expires_at` it ended.
///
/// Every listed session is deleted, expired by its entry or not: an entry whose rewrite failed
/// may understate its session's expiry, and deleting a record that is gone does no harm.
pub async fn invalidate_user<S: UserIndex + ?Sized>(
    store: &S,
    user: &UserKeys,
    except: Option<&SessionId>,
    now: u64,
) -> Result<usize, StoreError> {
    let (entries, unreadable) = entries(store, user).await?;
    let mut count = 0;
    let mut ended = unreadable;
    for entry in entries {
        count += usize::from(entry.expires_at > now && Some(&entry.id) != except);
        ended.push(entry.id);
    }
    ended.retain(|id| Some(id) != except);
    for id in &ended {
        store.delete(id).await?;
    }
    unbind(store, user, &ended).await?;
    Ok(count)
}

/// The index of `user` under all its keys: its entries (one per session, the most recently
/// written where a session is listed under two keys), and the ids of entries that do not decode.
async fn entries<S: UserIndex + ?Sized>(
    store: &S,
    user: &UserKeys,
) -> Result<(Vec<UserSession>, Vec<SessionId>), StoreError> {
    // By id: a session listed under two keys (bound before and after a rotation) counts once,
    // without a quadratic search through a user with many sessions.
    let mut entries: HashMap<SessionId, UserSession> = HashMap::new();
    let mut unreadable = Vec::new();
    for key in user.all() {
        for (id, bytes) in store.index_list(key).await? {
            match UserSession::decode(id, &bytes) {
                Some(entry) => match entries.entry(id) {
                    Entry::Occupied(mut seen) if seen.get().last_seen < entry.last_seen => {
                        seen.insert(entry);
                    }
                    Entry::Occupied(_) => {}
                    Entry::Vacant(slot) => {
                        slot.insert(entry);
                    }
                },
                None => unreadable.push(id),
            }
        }
    }
    Ok((entries.into_values().collect(), unreadable))
}

#[cfg(all(test, feature = "memory-store"))]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn ring() -> KeyRing {
        KeyRing::new(&[[7u8; 32]]).unwrap()
    }

    fn entry(created: u64, last_seen: u64, agent: Option<&str>) -> UserSession {
        UserSession {
            id: SessionId::random(),
            created,
            last_seen,
            expires_at: last_seen + 100,
            user_agent: agent.map(str::to_owned),
        }
    }

    #[test]
    fn entries_round_trip_and_cut_long_agents() {
        let e = entry(1, 2, Some("Firefox ü"));
        assert_eq!(UserSession::decode(e.id, &e.encode()), Some(e.clone()));
        let none = entry(1, 2, None);
        assert_eq!(
            UserSession::decode(none.id, &none.encode()),
            Some(none.clone())
        );
        let long = entry(1, 2, Some(&"ü".repeat(MAX_USER_AGENT)));
        let cut = UserSession::decode(long.id, &long.encode()).unwrap();
        assert_eq!(cut.user_agent.unwrap().len(), MAX_USER_AGENT);
        assert_eq!(
            UserSession::decode(e.id, &e.encode()[..FIXED_LEN - 1]),
            None
        );
        assert_eq!(e.id_prefix(), e.id.to_string()[..8]);
    }

    #[test]
    fn user_keys_are_keyed_by_the_secret() {
        let a = UserKeys::new(&ring(), "42").unwrap();
        assert_eq!(a, UserKeys::new(&ring(), "42").unwrap());
        assert_ne!(a, UserKeys::new(&ring(), "43").unwrap());
        assert_eq!(a.primary().to_string().len(), 43);
        assert!(UserKeys::new(&ring(), "").is_err());
        // Not a plain hash of the id: without the secret, a numeric id cannot be found by trying.
        let plain: [u8; 32] = <Sha256 as sha2::Digest>::digest(b"42").into();
        assert_ne!(a.primary().0, plain);
        let other = KeyRing::new(&[[8u8; 32]]).unwrap();
        assert_ne!(a, UserKeys::new(&other, "42").unwrap());
        // Rotated secrets: written under the new one, found under both.
        let rotated = KeyRing::new(&[[8u8; 32], [7u8; 32]]).unwrap();
        let both = UserKeys::new(&rotated, "42").unwrap();
        assert_eq!(both.all().len(), 2);
        assert_eq!(both.all()[1], *a.primary());
    }

    #[test]
    fn a_session_bound_before_a_key_rotation_is_still_listed_and_ended() {
        let store = MemoryStore::new();
        let old = UserKeys::new(&ring(), "ada").unwrap();
        let rotated = KeyRing::new(&[[8u8; 32], [7u8; 32]]).unwrap();
        let user = UserKeys::new(&rotated, "ada").unwrap();
        let (before, after) = (entry(1000, 1000, None), entry(1000, 1001, None));
        for (e, key) in [(&before, old.primary()), (&after, user.primary())] {
            store.save_now(&e.id, b"blob", Duration::from_secs(60));
            MemoryStore::run_now(bind(&store, key, e, 1000)).unwrap();
        }
        let listed = MemoryStore::run_now(sessions_for_user(&store, &user)).unwrap();
        assert_eq!(listed, [after.clone(), before.clone()]);
        assert_eq!(
            MemoryStore::run_now(invalidate_user(&store, &user, None, 1000)),
            Ok(2)
        );
        assert!(store.load_now(&before.id).is_none());
        assert!(store.index_list_now(old.primary()).is_empty());
    }

    #[test]
    fn list_skips_dead_sessions_and_invalidate_spares_the_exception() {
        let store = MemoryStore::new();
        let user = UserKeys::new(&ring(), "u").unwrap();
        let ttl = Duration::from_secs(60);
        let now = 1000;
        let (a, b, gone) = (
            entry(now, now, Some("A")),
            entry(now, now + 5, None),
            entry(now, now, None),
        );
        for e in [&a, &b, &gone] {
            store.save_now(&e.id, b"blob", ttl);
            MemoryStore::run_now(bind(&store, user.primary(), e, now)).unwrap();
        }
        store.delete_now(&gone.id);
        let listed = MemoryStore::run_now(sessions_for_user(&store, &user)).unwrap();
        assert_eq!(listed, [b.clone(), a.clone()]); // most recent first, dead ones dropped
        assert_eq!(
            MemoryStore::run_now(store.index_list(user.primary()))
                .unwrap()
                .len(),
            2
        );

        let other = UserKeys::new(&ring(), "v").unwrap();
        let c = entry(now, now, None);
        store.save_now(&c.id, b"blob", ttl);
        MemoryStore::run_now(bind(&store, other.primary(), &c, now)).unwrap();

        assert_eq!(
            MemoryStore::run_now(invalidate_user(&store, &user, Some(&a.id), now)),
            Ok(1)
        );
        assert!(store.load_now(&b.id).is_none());
        assert!(store.load_now(&a.id).is_some());
        assert!(
            store.load_now(&c.id).is_some(),
            "another user's session is untouched"
        );
        assert_eq!(
            MemoryStore::run_now(sessions_for_user(&store, &user)).unwrap(),
            std::slice::from_ref(&a)
        );
        assert_eq!(
            MemoryStore::run_now(invalidate_user(&store, &user, None, now)),
            Ok(1)
        );
        assert!(MemoryStore::run_now(sessions_for_user(&store, &user))
            .unwrap()
            .is_empty());
    }
}
