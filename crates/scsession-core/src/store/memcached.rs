//! Sessions in Memcached, with Shopify's async-memcached over the meta protocol (memcached
//! 1.6+).
//!
//! Each session is one item, `{prefix}{id}`, with an expiry time. `replace` reads the item with
//! its CAS token, checks the version and writes with that token: memcached refuses the write if
//! anyone wrote in between, and never creates the item.
//!
//! A user's index is one item, `{prefix}user:{user key}`, changed the same way: read with its
//! CAS token, edited, written back with the token (or added, when there was none), and tried
//! again when another write came first.
//!
//! That item is bounded: each write drops the entries that have expired, and keeps at most
//! [`MAX_SESSIONS_PER_USER`] sessions. Binding one more ends the least recently seen: its
//! record is deleted before the index is written without it, so a session never lives on
//! unlisted (where `invalidate_user` could not reach it). Without a bound, one user's item grew
//! with every sign-in until memcached refused it ("object too large", about 1,800 sign-ins
//! with long user agents), and every later sign-in of that user failed.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_memcached::{Client, Error, MetaProtocol, Status};

use super::net::{bounded, percent_decode, unavailable, Masked, Timeouts};
use super::{SessionStore, StoreError, Swap, UserIndex, UserKey, UserSession, MAX_ATTEMPTS};
use crate::id::SessionId;

/// Most sessions one user keeps in Memcached's per-user index. Binding another session ends
/// the least recently seen one (its record is deleted: signed out at its next request). An
/// entry takes at most about 600 bytes (id, times, a user agent of up to 512 bytes), so the
/// index item stays under 60 KB, far below memcached's 1 MB item limit.
pub const MAX_SESSIONS_PER_USER: usize = 100;

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 16;
/// Memcached reads an expiry time above 30 days as a unix timestamp, not as seconds.
const RELATIVE_EXPIRY_LIMIT: u64 = 30 * 24 * 3600;

/// Sessions in Memcached.
///
/// A user's index keeps at most [`MAX_SESSIONS_PER_USER`] sessions: binding one more deletes
/// the record of the least recently seen one, so it is signed out (and never lives on
/// unlisted). Redis and SQL stores keep every session of a user.
pub struct MemcachedStore {
    address: String,
    /// The URL as messages show it.
    masked: Masked,
    prefix: String,
    timeouts: Timeouts,
    idle: Mutex<Vec<Client>>,
}

impl core::fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("url", &self.masked.name())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl MemcachedStore {
    /// A store at `url` (`memcache://host:port`). Keys are `{prefix}{id}`; the prefix may not
    /// contain spaces or control characters. Nothing is connected until first use.
    pub fn new(url: &str, prefix: &str, timeouts: Timeouts) -> Result<Self, StoreError> {
        let masked = Masked::new(url);
        let address = url
            .strip_prefix("memcache://")
            .or_else(|| url.strip_prefix("memcached://"))
            .filter(|a| !a.is_empty() && !a.contains(['/', '@', ',', '?', '#']))
            .ok_or_else(|| {
                masked.message(format_args!(
                    "{masked} is not a Memcached URL (expected memcache://host:port, without a \
                     user or password)"
                ))
            })?;
        if prefix.len() > 200 || prefix.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(StoreError::Backend(format!(
                "key prefix {prefix:?} is not usable in Memcached keys (no spaces or control \
                 characters, at most 200 bytes)"
            )));
        }
        Ok(Self {
            address: format!("tcp://{address}"),
            masked,
            prefix: prefix.to_owned(),
            timeouts,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.prefix)
    }

    fn user_key(&self, user: &UserKey) -> String {
        format!("{}user:{user}", self.prefix)
    }

    /// Applies `change` to the index of `user` as one compare-and-swap, after dropping expired
    /// entries; retried when another write came first. `change` returns the sessions it
    /// dropped from the index to keep it bounded: their records are deleted before the index
    /// is written without them.
    async fn update_index(
        &self,
        user: &UserKey,
        change: impl Fn(&mut Vec<IndexEntry>) -> Vec<SessionId>,
    ) -> Result<(), StoreError> {
        let key = self.user_key(user);
        for _ in 0..MAX_ATTEMPTS {
            let now = unix_now();
            let stored = self
                .run(async |c| {
                    let item = c.meta_get(&key, false, None, Some(&["v", "c"])).await?;
                    let (mut entries, cas) = match item {
                        Some(item) => (decode_index(&item.data.unwrap_or_default()), item.cas),
                        None => (Vec::new(), None),
                    };
                    entries.retain(|e| e.expires > now);
                    for id in change(&mut entries) {
                        match c.meta_delete(&self.key(&id), false, None, None).await {
                            Ok(_) | Err(Error::Protocol(Status::NotFound)) => {}
                            Err(err) => return Err(err),
                        }
                    }
                    let last = entries.iter().map(|e| e.expires).max().unwrap_or(now);
                    let expires = format!("T{}", expiry(Duration::from_secs(last - now)));
                    // With a token: only if nobody wrote since. Without: only if still absent.
                    let mode = cas.map_or_else(|| "ME".to_owned(), |cas| format!("C{cas}"));
                    let flags = [mode.as_str(), expires.as_str()];
                    let item = encode_index(&entries);
                    match c
                        .meta_set(&key, item.as_slice(), false, None, Some(&flags))
                        .await
                    {
                        Ok(_) => Ok(true),
                        Err(Error::Protocol(
                            Status::Exists | Status::NotStored | Status::NotFound,
                        )) => Ok(false),
                        Err(err) => Err(err),
                    }
                })
                .await?;
            if stored {
                return Ok(());
            }
        }
        Err(self.masked.backend(format_args!(
            "a user's session index was changed by {MAX_ATTEMPTS} other requests while this \
             one tried to change it"
        )))
    }

    fn error(&self, err: &Error) -> StoreError {
        match err {
            Error::Connect(_) | Error::ConnectionClosed | Error::Io(_) => {
                self.masked.unavailable(err)
            }
            _ => self.masked.backend(err),
        }
    }

    /// A write's error, saying what to do when the record is too large for one item.
    fn write_error(&self, err: StoreError, len: usize) -> StoreError {
        match err {
            StoreError::Backend(message) if message.contains("too large") => {
                self.masked.backend(format_args!(
                    "the session record is {len} bytes, more than memcached keeps in one item \
                     (its -I option, 1 MB by default). Store less in the session (an id rather \
                     than the object), or start memcached with a larger -I"
                ))
            }
            other => other,
        }
    }

    async fn checkout(&self) -> Result<Client, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        if let Some(client) = idle {
            return Ok(client);
        }
        match tokio::time::timeout(self.timeouts.connect, Client::new(&self.address)).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(err)) => Err(self.error(&err)),
            Err(_) => Err(unavailable(self.masked.name(), "connecting timed out")),
        }
    }

    fn checkin(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(client);
        }
    }

    /// Runs `operation` on a pooled connection within the time limits. A connection is only
    /// reused after an operation that ended with an answer (a protocol status counts).
    async fn run<T>(
        &self,
        operation: impl AsyncFnOnce(&mut Client) -> Result<T, Error>,
    ) -> Result<T, StoreError> {
        let limit = self.timeouts.connect + self.timeouts.operation;
        bounded(self.masked.name(), limit, async {
            let mut client = self.checkout().await?;
            let result = operation(&mut client).await;
            if matches!(result, Ok(_) | Err(Error::Protocol(_))) {
                self.checkin(client);
            }
            result.map_err(|e| self.error(&e))
        })
        .await
    }
}

/// Drops the entries of `entries` past [`MAX_SESSIONS_PER_USER`], least recently seen first
/// (by the entry's `last_seen`, then `created`, then its place in the item, where rewritten
/// entries go last; one that does not decode counts as the oldest), never `keep`. The others
/// keep their order. Returns the ids dropped, in the item's order.
fn cap(entries: &mut Vec<IndexEntry>, keep: &SessionId) -> Vec<SessionId> {
    let Some(excess) = entries.len().checked_sub(MAX_SESSIONS_PER_USER) else {
        return Vec::new();
    };
    let mut ranked: Vec<(bool, u64, u64, usize)> = entries
        .iter()
        .enumerate()
        .map(|(place, e)| {
            let (seen, created) =
                UserSession::decode(e.id, &e.entry).map_or((0, 0), |s| (s.last_seen, s.created));
            (e.id == *keep, seen, created, place)
        })
        .collect();
    ranked.sort_unstable();
    let mut dropped: Vec<usize> = ranked[..excess].iter().map(|r| r.3).collect();
    dropped.sort_unstable();
    let mut ids = Vec::with_capacity(excess);
    for place in dropped.into_iter().rev() {
        ids.push(entries.remove(place).id);
    }
    ids.reverse();
    ids
}

/// One session in a user's index item.
#[derive(Clone, Debug, PartialEq, Eq)]
struct IndexEntry {
    id: SessionId,
    /// Unix seconds.
    expires: u64,
    entry: Vec<u8>,
}

/// Length of an id in an index item (its text form).
const ID_TEXT_LEN: usize = 22;

/// An index item: for each session, `id (22 characters) | expires (u64 BE) | length (u32 BE) |
/// entry`.
fn encode_index(entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(e.id.to_string().as_bytes());
        out.extend_from_slice(&e.expires.to_be_bytes());
        let len = u32::try_from(e.entry.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&e.entry[..len as usize]);
    }
    out
}

/// The entries of an index item, up to the first that does not decode.
fn decode_index(mut bytes: &[u8]) -> Vec<IndexEntry> {
    let mut entries = Vec::new();
    while bytes.len() >= ID_TEXT_LEN + 12 {
        let (head, rest) = bytes.split_at(ID_TEXT_LEN + 12);
        let Some(id) = std::str::from_utf8(&head[..ID_TEXT_LEN])
            .ok()
            .and_then(|s| s.parse().ok())
        else {
            break;
        };
        let expires = u64::from_be_bytes(
            head[ID_TEXT_LEN..ID_TEXT_LEN + 8]
                .try_into()
                .unwrap_or_default(),
        );
        let len =
            u32::from_be_bytes(head[ID_TEXT_LEN + 8..].try_into().unwrap_or_default()) as usize;
        if rest.len() < len {
            break;
        }
        entries.push(IndexEntry {
            id,
            expires,
            entry: rest[..len].to_vec(),
        });
        bytes = &rest[len..];
    }
    entries
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The expiry time memcached expects for `ttl`.
fn expiry(ttl: Duration) -> u64 {
    let seconds = ttl.as_secs().max(1);
    if seconds <= RELATIVE_EXPIRY_LIMIT {
        return seconds;
    }
    unix_now().saturating_add(seconds)
}

impl SessionStore for MemcachedStore {
    async fn pause(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key(id);
        let found = self
            .run(async |c| c.meta_get(&key, false, None, Some(&["v"])).await)
            .await?;
        Ok(found.and_then(|item| item.data))
    }

    async fn save(&self, id: &SessionId, blob: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let key = self.key(id);
        let expires = format!("T{}", expiry(ttl));
        self.run(async |c| c.meta_set(&key, blob, false, None, Some(&[&expires])).await)
            .await
            .map_err(|e| self.write_error(e, blob.len()))?;
        Ok(())
    }

    async fn replace(
        &self,
        id: &SessionId,
        version: &[u8],
        blob: &[u8],
        ttl: Duration,
    ) -> Result<Swap, StoreError> {
        let key = self.key(id);
        let expires = format!("T{}", expiry(ttl));
        self.run(async |c| {
            let Some(item) = c.meta_get(&key, false, None, Some(&["v", "c"])).await? else {
                return Ok(Swap::Missing);
            };
            let (Some(data), Some(cas)) = (item.data, item.cas) else {
                return Ok(Swap::Missing);
            };
            if !data.starts_with(version) {
                return Ok(Swap::Stale);
            }
            let token = format!("C{cas}");
            match c
                .meta_set(&key, blob, false, None, Some(&[&token, &expires]))
                .await
            {
                Ok(_) => Ok(Swap::Done),
                Err(Error::Protocol(Status::Exists)) => Ok(Swap::Stale),
                Err(Error::Protocol(Status::NotFound)) => Ok(Swap::Missing),
                Err(err) => Err(err),
            }
        })
        .await
        .map_err(|e| self.write_error(e, blob.len()))
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let key = self.key(id);
        self.run(
            async |c| match c.meta_delete(&key, false, None, None).await {
                Ok(_) | Err(Error::Protocol(Status::NotFound)) => Ok(()),
                Err(err) => Err(err),
            },
        )
        .await
    }
}

impl UserIndex for MemcachedStore {
    async fn index_put(
        &self,
        user: &UserKey,
        id: &SessionId,
        entry: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let expires = unix_now().saturating_add(ttl.as_secs().max(1));
        self.update_index(user, |entries| {
            entries.retain(|e| e.id != *id);
            entries.push(IndexEntry {
                id: *id,
                expires,
                entry: entry.to_vec(),
            });
            cap(entries, id)
        })
        .await
    }

    async fn index_remove(&self, user: &UserKey, ids: &[SessionId]) -> Result<(), StoreError> {
        self.update_index(user, |entries| {
            entries.retain(|e| !ids.contains(&e.id));
            Vec::new()
        })
        .await
    }

    async fn index_list(&self, user: &UserKey) -> Result<Vec<(SessionId, Vec<u8>)>, StoreError> {
        let key = self.user_key(user);
        let item = self
            .run(async |c| c.meta_get(&key, false, None, Some(&["v"])).await)
            .await?;
        let now = unix_now();
        Ok(decode_index(&item.and_then(|i| i.data).unwrap_or_default())
            .into_iter()
            .filter(|e| e.expires > now)
            .map(|e| (e.id, e.entry))
            .collect())
    }
}

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

use super::net::is_session_key;

/// Counting sessions, for `python -m scsession stats` (not part of [`SessionStore`]).
impl MemcachedStore {
    /// About how many sessions memcached holds: the live items whose key is the prefix and a
    /// session id, listed by memcached's LRU crawler (`lru_crawler metadump all`, memcached
    /// 1.5+ with the crawler on, as by default). Memcached has no exact way to list keys: the
    /// crawler walks its LRUs while they change, so items written or evicted meanwhile may be
    /// missed or counted. A pass over every item, for tools and not for requests; each line of
    /// the answer is bounded by the operation timeout, not the whole pass.
    pub async fn count(&self) -> Result<u64, StoreError> {
        // The crawler serves one request at a time: wait for another one to finish.
        for _ in 0..50 {
            if let Some(count) = self.metadump_count().await? {
                return Ok(count);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(self
            .masked
            .backend("memcached's LRU crawler stayed busy with another request for 5 s; try again"))
    }

    /// One `lru_crawler metadump all` on a connection of its own; `None` when the crawler is
    /// busy.
    async fn metadump_count(&self) -> Result<Option<u64>, StoreError> {
        let address = self.address.trim_start_matches("tcp://");
        let io = |e: std::io::Error| self.masked.unavailable(e);
        let limit = self.timeouts.operation;
        let name = self.masked.name();
        let stream = bounded(name, self.timeouts.connect, async {
            tokio::net::TcpStream::connect(address).await.map_err(io)
        })
        .await?;
        let mut stream = BufReader::new(stream);
        bounded(name, limit, async {
            stream
                .get_mut()
                .write_all(b"lru_crawler metadump all\r\n")
                .await
                .map_err(io)
        })
        .await?;
        let mut count = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = bounded(name, limit, async {
                stream.read_until(b'\n', &mut line).await.map_err(io)
            })
            .await?;
            if n == 0 {
                return Err(unavailable(name, "the connection closed during metadump"));
            }
            let text = line.trim_ascii_end();
            if text == b"END" {
                return Ok(Some(count));
            }
            if text.starts_with(b"BUSY") {
                return Ok(None);
            }
            let Some(fields) = text.strip_prefix(b"key=") else {
                return Err(self.masked.backend(format_args!(
                    "memcached refused to list its keys (`lru_crawler metadump all` answered \
                     {:?}); the LRU crawler is on by default since memcached 1.5, unless \
                     started with -o no_lru_crawler",
                    String::from_utf8_lossy(text)
                )));
            };
            let key = fields.split(|&b| b == b' ').next().unwrap_or_default();
            if is_session_key(&percent_decode(key), &self.prefix) {
                count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lives_become_timestamps() {
        assert_eq!(expiry(Duration::ZERO), 1, "0 would mean forever");
        assert_eq!(expiry(Duration::from_secs(3600)), 3600);
        assert!(expiry(Duration::from_secs(RELATIVE_EXPIRY_LIMIT + 1)) > 1_700_000_000);
    }

    #[test]
    fn index_items_round_trip_and_stop_at_damage() {
        let entries: Vec<_> = (0..3u8)
            .map(|n| IndexEntry {
                id: SessionId::random(),
                expires: 1000 + u64::from(n),
                entry: vec![n; usize::from(n)],
            })
            .collect();
        let bytes = encode_index(&entries);
        assert_eq!(decode_index(&bytes), entries);
        assert_eq!(decode_index(&bytes[..bytes.len() - 1]), entries[..2]);
        assert!(decode_index(b"not an index").is_empty());
    }

    fn entry_seen(last_seen: u64, created: u64) -> IndexEntry {
        let id = SessionId::random();
        let session = UserSession::written(id, created, last_seen, 60, Some("agent".into()));
        IndexEntry {
            id,
            expires: last_seen + 60,
            entry: session.encode(),
        }
    }

    #[test]
    fn the_index_keeps_the_most_recently_seen_sessions() {
        let max = MAX_SESSIONS_PER_USER as u64;
        // Seen in a shuffled order, one twice as long ago as another.
        let mut entries: Vec<_> = (0..max + 5)
            .map(|n| entry_seen((n * 37) % (max + 5), 0))
            .collect();
        let before = entries.clone();
        assert_eq!(cap(&mut entries[..].to_vec(), &before[0].id).len(), 5);
        let oldest: Vec<_> = before
            .iter()
            .filter(|e| UserSession::decode(e.id, &e.entry).unwrap().last_seen < 5)
            .map(|e| e.id)
            .collect();
        let mut dropped = cap(&mut entries, &SessionId::random());
        dropped.sort_by_key(ToString::to_string);
        let mut expected = oldest.clone();
        expected.sort_by_key(ToString::to_string);
        assert_eq!(dropped, expected);
        assert_eq!(entries.len(), MAX_SESSIONS_PER_USER);
        // The others keep their order.
        let kept: Vec<_> = before
            .iter()
            .filter(|e| !oldest.contains(&e.id))
            .cloned()
            .collect();
        assert_eq!(entries, kept);

        // The session being written stays, however old its entry says it is; an entry that
        // does not decode goes first; equal times: the one earlier in the item goes.
        let mut entries: Vec<_> = (0..max).map(|_| entry_seen(1000, 900)).collect();
        let written = entry_seen(1, 1);
        let mut garbage = entry_seen(2000, 2000);
        garbage.entry = b"not an entry".to_vec();
        entries.insert(3, garbage.clone());
        entries.push(written.clone());
        let first = entries[0].id;
        assert_eq!(cap(&mut entries, &written.id), [first, garbage.id]);
        assert_eq!(entries.len(), MAX_SESSIONS_PER_USER);
        assert_eq!(entries.last(), Some(&written));
        // At or under the cap: nothing.
        assert!(cap(&mut entries, &written.id).is_empty());
    }

    #[test]
    fn urls_and_prefixes_are_checked() {
        let t = Timeouts::default();
        assert!(MemcachedStore::new("memcache://127.0.0.1:11211", "s:", t).is_ok());
        assert!(MemcachedStore::new("redis://127.0.0.1:11211", "s:", t).is_err());
        assert!(MemcachedStore::new("memcache://a:1", "has space", t).is_err());
        // A query cannot carry anything memcached would use: not even a password.
        let err = MemcachedStore::new("memcache://a:1?password=p%2Fss", "s:", t).unwrap_err();
        assert!(!err.to_string().contains("p%2Fss"), "{err}");
    }

    #[tokio::test]
    async fn a_server_that_is_down_is_an_outage() {
        let store =
            MemcachedStore::new("memcache://127.0.0.1:1", "s:", Timeouts::default()).unwrap();
        let err = store.load(&SessionId::random()).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Unavailable { store, .. } if store == "memcache://127.0.0.1:1"),
            "{err:?}"
        );
    }

    #[test]
    fn metadump_keys_are_url_decoded() {
        assert_eq!(percent_decode(b"scsession%3Aabc"), b"scsession:abc");
        assert_eq!(percent_decode(b"a%2"), b"a%2");
        assert_eq!(percent_decode(b"100%"), b"100%");
        assert_eq!(percent_decode(b"%zz%41"), b"%zzA");
    }
}
