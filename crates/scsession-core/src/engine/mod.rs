//! One request's session, from the `Cookie` header to the `Set-Cookie` header: the only place
//! that decides what a request did to its session and what must be written.
//!
//! A web front end (the Python middleware, the axum layer) does three things per request:
//!
//! 1. **Open**: [`Engine::open_cookie`] (cookie mode, no I/O) or [`Engine::load`] (store mode)
//!    gives an [`Opened`]: the request's [`SessionState`] and the session data, encoded
//!    ([`format`](mod@crate::format), a dict).
//! 2. **Use**: the front end decodes the data for the handler, and calls
//!    [`SessionState::regenerate`] or [`SessionState::invalidate`] when the handler does.
//! 3. **Finish**: with the data encoded again, [`Engine::finish_cookie`],
//!    [`Engine::finish_store`] or [`Engine::finish_indexed`] decides whether anything must be
//!    written, writes it (compare-and-swap, see [`store::Saving`](crate::store::Saving)), keeps
//!    the per-user index, and returns a [`Finished`]: the [`Outcome`] (events come from it) and
//!    the `Set-Cookie` value to send, if any.
//!
//! Store I/O is optional: [`Engine::finishing`] returns the save as a state machine
//! ([`Finishing`]) that says which store operation comes next, so a store written in another
//! language (Python) runs exactly this algorithm.
//!
//! ```
//! use scsession_core::engine::{CookieSettings, Engine, Outcome};
//! use scsession_core::format::{self, Value};
//! use scsession_core::{KeyRing, Lifetime};
//!
//! let keys = KeyRing::new(&[b"a secret of at least thirty-two bytes!"])?;
//! let engine = Engine::new(keys, CookieSettings::new("session"), Lifetime::new(Some(3600), None))?;
//! let now = 1_700_000_000;
//!
//! // A request without a cookie: a new, empty session. The handler stores something.
//! let mut opened = engine.open_cookie([&b""[..]], now);
//! let data = Value::Dict(vec![(Value::Str("user".into()), Value::Int(42))]);
//! let finished = engine.finish_cookie(&mut opened.state, &format::encode(&data)?, now)?;
//! assert!(matches!(finished.outcome, Outcome::Created { .. }));
//! let set_cookie = finished.set_cookie.unwrap();
//!
//! // The next request sends the cookie back; reading changes nothing, so nothing is sent.
//! let header = set_cookie.split(';').next().unwrap();
//! let mut opened = engine.open_cookie([header.as_bytes()], now + 5);
//! assert_eq!(format::decode(&opened.data)?, data);
//! let finished = engine.finish_cookie(&mut opened.state, &opened.data.clone(), now + 5)?;
//! assert_eq!((finished.outcome, finished.set_cookie), (Outcome::Unchanged, None));
//! # Ok::<(), scsession_core::Error>(())
//! ```

mod cookie;
mod finishing;
mod outcome;
mod state;

pub use cookie::{CookieError, CookieOption, CookieSettings, SameSite};
pub use finishing::{Finishing, Next};
pub use outcome::{Change, Event, EventKind, Finished, Outcome};
pub use state::{bound_user, SessionState, BOUND_USER_KEY, EXPIRY_KEY, FLASHES_KEY};

use crate::expiry::Lifetime;
use crate::format;
use crate::id::SessionId;
use crate::keys::KeyRing;
use crate::record::Record;
use crate::seal::{Sealer, MAX_COOKIE_LEN};
use crate::store::{SessionStore, StoreError, UserIndex};
use cookie::SetCookie;
use state::Loaded;

/// A session cookie that would be larger than browsers keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the session cookie would be {size} bytes (name and value), over the {MAX_COOKIE_LEN} bytes \
     browsers keep"
)]
pub struct TooLarge {
    /// The cookie's size, name and value.
    pub size: usize,
}

/// What a request came with: its session's state and data.
#[derive(Debug)]
pub struct Opened {
    /// The request's session.
    pub state: SessionState,
    /// Its data, an encoded dict (an empty one for a new session).
    pub data: Vec<u8>,
    /// A session of ours the request carried that opened but had expired (for an `expired`
    /// event); `None` otherwise.
    pub expired: Option<SessionId>,
}

/// How long one session lives: the engine's limits, with `max_age` narrowed by the session's
/// own [`EXPIRY_KEY`] entry (see [`Engine::session_lifetime`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLifetime {
    /// The limits the server enforces on this session.
    pub limits: Lifetime,
    /// Its cookie carries no `Max-Age`: the browser drops it when it closes (the server still
    /// enforces `limits`).
    pub browser_session: bool,
}

impl SessionLifetime {
    /// `Max-Age` of a cookie written at `now` for a session created at `created`: the seconds
    /// it has left under `max_age`; none without one (the browser keeps it until it closes,
    /// and `idle_timeout` is enforced on the server) or for a browser-session cookie.
    #[must_use]
    pub fn cookie_max_age(&self, created: u64, now: u64) -> Option<u64> {
        if self.browser_session {
            return None;
        }
        self.limits.max_age?;
        self.limits.remaining(created, now, now)
    }
}

/// An app's sessions: keys, cookie and lifetime, checked once. Cheap to share (`Arc`).
#[derive(Debug)]
pub struct Engine {
    sealer: Sealer,
    lifetime: Lifetime,
    cookie: CookieSettings,
    set_cookie: SetCookie,
    empty: Vec<u8>,
    /// [`EXPIRY_KEY`], encoded once: it is looked for in every session opened.
    expiry_key: Vec<u8>,
}

impl Engine {
    /// The engine of sessions sealed under `keys`, sent in the cookie `cookie` and living as
    /// long as `lifetime` allows. Refuses cookie settings that browsers would drop.
    pub fn new(
        keys: KeyRing,
        cookie: CookieSettings,
        lifetime: Lifetime,
    ) -> Result<Self, CookieError> {
        cookie.check()?;
        Ok(Self {
            sealer: Sealer::new(keys, &cookie.name),
            lifetime,
            set_cookie: SetCookie::new(&cookie),
            cookie,
            empty: empty_dict(),
            expiry_key: format::encode(&format::Value::Str(EXPIRY_KEY.to_owned()))
                .unwrap_or_default(),
        })
    }

    /// The sealer (keys and cookie name).
    #[must_use]
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// How long sessions live.
    #[must_use]
    pub fn lifetime(&self) -> &Lifetime {
        &self.lifetime
    }

    /// The cookie's settings.
    #[must_use]
    pub fn cookie(&self) -> &CookieSettings {
        &self.cookie
    }

    /// The encoded empty dict: the data of a new session.
    #[must_use]
    pub fn empty_data(&self) -> &[u8] {
        &self.empty
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    #[must_use]
    pub fn delete_cookie(&self) -> &str {
        self.set_cookie.delete()
    }

    /// Cookie mode: the first valid, unexpired session among the values of our cookie in
    /// `cookie_headers` (each a whole `Cookie` header), else a new session.
    pub fn open_cookie<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        now: u64,
    ) -> Opened {
        let mut expired = None;
        let name = self.sealer.cookie_name();
        for header in cookie_headers {
            for value in crate::cookie::values(header, name) {
                let Ok(record) = self.sealer.open_cookie(value) else {
                    continue;
                };
                match self.live(record, None, now) {
                    Ok(opened) => return opened,
                    Err(id) => expired = expired.or(id),
                }
            }
        }
        self.new_session(expired)
    }

    /// Store mode: the ids worth loading from `cookie_headers` (see
    /// [`Sealer::session_ids`]): at most two.
    pub fn session_ids<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<SessionId> {
        self.sealer.session_ids(cookie_headers)
    }

    /// Store mode: the session in `blob`, loaded from the store under `id`, if it opens and
    /// lives; `Err(true)` if it opens but expired, `Err(false)` if it is no session of ours.
    pub fn open_record(&self, id: SessionId, blob: Vec<u8>, now: u64) -> Result<Opened, bool> {
        let Ok(record) = self.sealer.open_record(&id, &blob) else {
            return Err(false);
        };
        self.live(record, Some(blob), now)
            .map_err(|id| id.is_some())
    }

    /// A new, empty session.
    #[must_use]
    pub fn new_session(&self, expired: Option<SessionId>) -> Opened {
        Opened {
            state: SessionState::default(),
            data: self.empty.clone(),
            expired,
        }
    }

    /// Store mode: loads the session our cookie in `cookie_headers` points at (at most two
    /// store reads), else a new session.
    pub async fn load<'a, S: SessionStore + ?Sized>(
        &self,
        store: &S,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        now: u64,
    ) -> Result<Opened, StoreError> {
        self.load_ids(store, &self.session_ids(cookie_headers), now)
            .await
    }

    /// Store mode: loads the first of `ids` (from [`session_ids`](Self::session_ids)) whose
    /// record opens and lives, else a new session. No store call at all without ids.
    pub async fn load_ids<S: SessionStore + ?Sized>(
        &self,
        store: &S,
        ids: &[SessionId],
        now: u64,
    ) -> Result<Opened, StoreError> {
        let mut expired = None;
        for &id in ids {
            let Some(blob) = store.load(&id).await? else {
                continue;
            };
            match self.open_record(id, blob, now) {
                Ok(opened) => return Ok(opened),
                Err(true) => expired = expired.or(Some(id)),
                Err(false) => {}
            }
        }
        Ok(self.new_session(expired))
    }

    /// Cookie mode: decides what the request did to its session, given its data now (`data`,
    /// an encoded dict), and seals the cookie if it must be sent. No I/O.
    pub fn finish_cookie(
        &self,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, TooLarge> {
        let Some(write) = state.plan(self, data, now, false) else {
            return Ok(Finished::unchanged());
        };
        if write.emptied {
            return Ok(write.finished(None, self));
        }
        let value = self.sealer.seal_cookie(&Record {
            id: write.id,
            created: write.created,
            last_seen: now,
            data: data.to_vec(),
        });
        let size = self.cookie.name.len() + 1 + value.len();
        if size > MAX_COOKIE_LEN {
            return Err(TooLarge { size });
        }
        Ok(write.finished(Some(&value), self))
    }

    /// Store mode, as a state machine: what [`finish_store`](Self::finish_store) (or, with
    /// `indexed`, [`finish_indexed`](Self::finish_indexed)) does, one store operation at a
    /// time, for a store the caller drives itself. `None`: nothing to write or send.
    pub fn finishing(
        &self,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
        indexed: bool,
    ) -> Result<Option<Finishing>, StoreError> {
        Finishing::new(self, state, data, now, indexed)
    }

    /// Store mode: decides what the request did to its session and writes it to `store`
    /// (compare-and-swap against what was loaded, merging concurrent changes; a session ended
    /// meanwhile is never written back).
    pub async fn finish_store<S: SessionStore + ?Sized>(
        &self,
        store: &S,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, StoreError> {
        match self.finishing(state, data, now, false)? {
            Some(finishing) => finishing.run(self, store).await,
            None => Ok(Finished::unchanged()),
        }
    }

    /// [`finish_store`](Self::finish_store) for a store with a per-user index: a session bound
    /// to a user ([`BOUND_USER_KEY`]) keeps its entry in the user's index up to date.
    pub async fn finish_indexed<S: UserIndex + ?Sized>(
        &self,
        store: &S,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, StoreError> {
        match self.finishing(state, data, now, true)? {
            Some(finishing) => finishing.run_indexed(self, store).await,
            None => Ok(Finished::unchanged()),
        }
    }

    /// The lifetime of sessions that set none of their own.
    #[must_use]
    pub fn default_lifetime(&self) -> SessionLifetime {
        SessionLifetime {
            limits: self.lifetime,
            browser_session: false,
        }
    }

    /// The lifetime of the session whose data (an encoded dict) is `data`. Its
    /// [`EXPIRY_KEY`] entry, if any, is a positive number of seconds (`max_age` for this
    /// session, never longer than the engine's) or `None` (a browser-session cookie);
    /// anything else there is ignored.
    #[must_use]
    pub fn session_lifetime(&self, data: &[u8]) -> SessionLifetime {
        match format::dict_entries(data) {
            Ok(entries) => self.lifetime_of(&entries),
            Err(_) => self.default_lifetime(),
        }
    }

    fn lifetime_of(&self, entries: &[format::Entry<'_>]) -> SessionLifetime {
        let mut lifetime = self.default_lifetime();
        match state::entry(entries, &self.expiry_key) {
            Some(format::Value::Int(seconds)) if seconds > 0 => {
                let seconds = seconds.unsigned_abs();
                let limits = &mut lifetime.limits;
                limits.max_age = Some(limits.max_age.map_or(seconds, |max| max.min(seconds)));
            }
            Some(format::Value::None) => lifetime.browser_session = true,
            _ => {}
        }
        lifetime
    }

    /// When the session ends unless it is used before (unix seconds): the earlier of its
    /// absolute and idle deadlines. `None` for a session not yet written, or without limits.
    #[must_use]
    pub fn expires_at(&self, state: &SessionState, data: &[u8]) -> Option<u64> {
        let (created, last_seen) = (state.created()?, state.last_seen()?);
        self.session_lifetime(data)
            .limits
            .deadline(created, last_seen)
    }

    /// `Ok` if `record` lives at `now`; else `Err` with its id (it expired).
    fn live(
        &self,
        record: Record,
        blob: Option<Vec<u8>>,
        now: u64,
    ) -> Result<Opened, Option<SessionId>> {
        let Ok(entries) = format::dict_entries(&record.data) else {
            return Err(None);
        };
        if self
            .lifetime_of(&entries)
            .limits
            .is_expired(record.created, record.last_seen, now)
        {
            return Err(Some(record.id));
        }
        let state = SessionState::loaded(Loaded {
            id: record.id,
            created: record.created,
            last_seen: record.last_seen,
            data: record.data.clone(),
            blob,
        });
        Ok(Opened {
            state,
            data: record.data,
            expired: None,
        })
    }
}

fn empty_dict() -> Vec<u8> {
    format::encode(&format::Value::Dict(Vec::new())).unwrap_or_default()
}

#[cfg(all(test, feature = "memory-store"))]
mod tests;
