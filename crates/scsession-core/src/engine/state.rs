//! What one request knows about its session, and the decision of what its save must do.

use super::outcome::{Change, Finished, Outcome};
use super::{Engine, SessionLifetime};
use crate::format::{self, Value};
use crate::id::SessionId;

/// Where the Python `Session.flash` and the axum `Session::flash` keep pending messages: a list of
/// `[category, message]` lists.
pub const FLASHES_KEY: &str = "_flashes";
/// Where `bind_user` records the user a session belongs to:
/// `{"id": str, "user_agent": str | None}`. The engine reads it to keep the per-user index.
pub const BOUND_USER_KEY: &str = "_bound_user";
/// Where `set_expiry` records a session's own lifetime: seconds from its creation (at most the
/// engine's `max_age`), or `None` for a cookie that ends when the browser closes. Kept in the
/// data so that it goes wherever the data goes (through `regenerate`, never past `invalidate`).
pub const EXPIRY_KEY: &str = "_expiry";

/// A session as a request loaded it.
#[derive(Clone, Debug)]
pub(crate) struct Loaded {
    pub(crate) id: SessionId,
    pub(crate) created: u64,
    pub(crate) last_seen: u64,
    /// Its data, encoded.
    pub(crate) data: Vec<u8>,
    /// Store mode: the blob it was loaded from (what a compare-and-swap expects).
    pub(crate) blob: Option<Vec<u8>>,
}

/// One request's session: what it was loaded as, and what the request did to it besides its
/// data (a new id, an end). [`Engine`] opens and finishes it.
#[derive(Clone, Debug, Default)]
pub struct SessionState {
    /// What the request came with; `None` for a new session.
    loaded: Option<Loaded>,
    /// The id it will be written under: the loaded one, a new one after
    /// [`regenerate`](Self::regenerate), `None` for a session not yet written.
    id: Option<SessionId>,
    /// When the session now held was created (0: not yet written).
    created: u64,
    /// When it was last written.
    last_seen: u64,
    /// The data as last written by this request; `None`: as loaded (or nothing, for a new
    /// session). To tell whether it changed.
    written: Option<Vec<u8>>,
    /// An id this request ended (by regenerating or invalidating its loaded session).
    retired: Option<SessionId>,
    /// Write even if the data did not change (a new id must reach the browser).
    force: bool,
}

impl SessionState {
    pub(crate) fn loaded(loaded: Loaded) -> Self {
        Self {
            id: Some(loaded.id),
            created: loaded.created,
            last_seen: loaded.last_seen,
            written: None,
            loaded: Some(loaded),
            retired: None,
            force: false,
        }
    }

    /// A session that could not be loaded because the store is down, under the id its cookie
    /// names: empty, never written, but [`invalidate`](Self::invalidate) still ends it (its
    /// record is deleted once the store answers again).
    #[must_use]
    pub fn unreadable(id: SessionId, empty: &[u8], now: u64) -> Self {
        Self::loaded(Loaded {
            id,
            created: now,
            last_seen: now,
            data: empty.to_vec(),
            blob: None,
        })
    }

    /// The session's id: `None` until a new session is first written.
    #[must_use]
    pub fn id(&self) -> Option<SessionId> {
        self.id
    }

    /// When the session now held was created (unix seconds); `None` until it is first written
    /// (a new session, or one just regenerated or invalidated).
    #[must_use]
    pub fn created(&self) -> Option<u64> {
        (self.created != 0).then_some(self.created)
    }

    /// When the session was last written (unix seconds), if it has been.
    #[must_use]
    pub fn last_seen(&self) -> Option<u64> {
        self.created().map(|_| self.last_seen)
    }

    /// The id the request came with, if its session was valid.
    #[must_use]
    pub fn loaded_id(&self) -> Option<SessionId> {
        self.loaded.as_ref().map(|l| l.id)
    }

    /// An id this request ended by regenerating or invalidating its session.
    #[must_use]
    pub fn retired_id(&self) -> Option<SessionId> {
        self.retired
    }

    /// Whether a session was loaded and is still under the id it was loaded with (it was
    /// neither regenerated nor invalidated).
    #[must_use]
    pub fn is_loaded_as_is(&self) -> bool {
        self.loaded.is_some() && self.id == self.loaded_id()
    }

    /// Whether the data differs from what was last loaded or written (`data` encoded).
    #[must_use]
    pub fn changed(&self, data: &[u8]) -> bool {
        self.last_data() != Some(data)
    }

    /// The data as last written by this request, else as loaded.
    fn last_data(&self) -> Option<&[u8]> {
        self.written
            .as_deref()
            .or_else(|| self.loaded.as_ref().map(|l| l.data.as_slice()))
    }

    /// Gives the session a new id, keeping its data; the old id ends when the session is
    /// written. Call it at sign-in (session fixation).
    pub fn regenerate(&mut self) {
        self.retire();
        self.id = Some(SessionId::random());
        self.created = 0;
        self.force = true;
    }

    /// Ends the session (sign-out): its record is deleted and its cookie removed when the
    /// request finishes. The front end clears the data; anything stored afterwards starts a
    /// new session under a new id.
    pub fn invalidate(&mut self) {
        self.retire();
        self.id = None;
        self.created = 0;
        // Data stored afterwards is a new session, even if it equals the old one.
        self.force = true;
    }

    fn retire(&mut self) {
        if self.retired.is_none() {
            self.retired = self.loaded_id();
        }
    }

    /// Decides what finishing the session with `data` at `now` must do, and records it as
    /// done (an error afterwards fails the request). `None`: nothing to write or send.
    /// `indexed`: the store keeps a per-user index, so the user the session was loaded with
    /// matters (it is read from the loaded data only then).
    pub(crate) fn plan(
        &mut self,
        engine: &Engine,
        data: &[u8],
        now: u64,
        indexed: bool,
    ) -> Option<Write> {
        let user_of = |loaded: &Loaded| {
            indexed
                .then(|| bound_user(&loaded.data))
                .flatten()
                .map(|(user, _)| user)
        };
        let loaded_id = self.loaded_id();
        let empty = data == engine.empty_data();
        if empty {
            // Emptied or invalidated: the cookie goes if the browser has one, and so do the
            // records of the loaded id and of any id it was regenerated from.
            let loaded = self.loaded.take()?;
            let dead = dedup([self.retired.take(), Some(loaded.id)]);
            *self = Self::default();
            return Some(Write {
                id: loaded.id,
                created: 0,
                now,
                outcome: Outcome::Invalidated { id: loaded.id },
                emptied: true,
                dead,
                base: None,
                previous: None,
                loaded_id: Some(loaded.id),
                loaded_user: user_of(&loaded),
                data: Vec::new(),
                lifetime: engine.default_lifetime(),
            });
        }
        let refresh = self.loaded.is_some() && engine.lifetime().needs_refresh(self.last_seen, now);
        if !self.changed(data) && !self.force && !refresh {
            return None;
        }
        let ended = self.retired.is_some() && self.id.is_none(); // invalidate() first
        let moved = loaded_id.is_some() && self.id.is_some() && self.id != loaded_id;
        let id = *self.id.get_or_insert_with(SessionId::random);
        if self.created == 0 {
            self.created = now;
        }
        let before = self.last_data().map(<[u8]>::to_vec);
        self.written = Some(data.to_vec());
        let change = Change {
            before: before.clone(),
            after: data.to_vec(),
        };
        let outcome = match (loaded_id, self.retired) {
            (Some(old), _) if ended => Outcome::Created {
                id,
                ended: Some(old),
                change,
            },
            (None, _) => Outcome::Created {
                id,
                ended: None,
                change,
            },
            (Some(_), Some(previous)) => Outcome::Regenerated {
                id,
                previous,
                change,
            },
            (Some(_), None) if change.before.as_deref() != Some(data) => {
                Outcome::Modified { id, change }
            }
            (Some(_), None) => Outcome::Refreshed { id },
        };
        self.last_seen = now;
        self.force = false;
        let loaded = self.loaded.as_ref();
        // A loaded session kept or regenerated is swapped against the record it was loaded
        // from; a new session, or a fresh one after invalidate(), is a plain save.
        let swapped = loaded.filter(|l| moved || Some(l.id) == self.id);
        Some(Write {
            id,
            created: self.created,
            now,
            outcome,
            emptied: false,
            dead: if swapped.is_some() {
                Vec::new()
            } else {
                self.retired.into_iter().collect()
            },
            base: swapped.and_then(|l| Some((l.blob.clone()?, l.data.clone()))),
            previous: loaded_id.filter(|_| moved),
            loaded_id,
            loaded_user: loaded.and_then(user_of),
            data: data.to_vec(),
            lifetime: engine.session_lifetime(data),
        })
    }
}

fn dedup(ids: [Option<SessionId>; 2]) -> Vec<SessionId> {
    let mut out: Vec<SessionId> = Vec::with_capacity(2);
    for id in ids.into_iter().flatten() {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// What a save must do, decided by [`SessionState::plan`].
#[derive(Debug)]
pub(crate) struct Write {
    /// The id to write under (the loaded one when emptied).
    pub(crate) id: SessionId,
    pub(crate) created: u64,
    pub(crate) now: u64,
    pub(crate) outcome: Outcome,
    /// Emptied or invalidated: nothing is written; `dead` ids are deleted.
    pub(crate) emptied: bool,
    /// Ids whose records must go (after the write, if any).
    pub(crate) dead: Vec<SessionId>,
    /// Store mode, a loaded session: the blob and data it was loaded with (compare-and-swap).
    pub(crate) base: Option<(Vec<u8>, Vec<u8>)>,
    /// A regenerated session: the id it was loaded under.
    pub(crate) previous: Option<SessionId>,
    /// The id the request came with.
    pub(crate) loaded_id: Option<SessionId>,
    /// The user the loaded session was bound to.
    pub(crate) loaded_user: Option<String>,
    pub(crate) data: Vec<u8>,
    /// How long the written session lives (its own `set_expiry` within the engine's limits).
    pub(crate) lifetime: SessionLifetime,
}

impl Write {
    /// The result when the write went through: `value` is the cookie's new value (none for an
    /// emptied session, whose cookie is deleted).
    pub(crate) fn finished(self, value: Option<&str>, engine: &Engine) -> Finished {
        let set_cookie = match value {
            Some(value) => Some(
                engine
                    .set_cookie
                    .set(value, self.lifetime.cookie_max_age(self.created, self.now)),
            ),
            None => Some(engine.delete_cookie().to_owned()),
        };
        Finished {
            outcome: self.outcome,
            set_cookie,
        }
    }
}

/// The user a session's data (an encoded dict) is bound to and its user agent, from
/// [`BOUND_USER_KEY`]; `None` when it is not bound (or the entry is not what `bind_user`
/// writes).
#[must_use]
pub fn bound_user(data: &[u8]) -> Option<(String, Option<String>)> {
    let key = format::encode(&Value::Str(BOUND_USER_KEY.to_owned())).ok()?;
    let entries = format::dict_entries(data).ok()?;
    let Value::Dict(pairs) = entry(&entries, &key)? else {
        return None;
    };
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(k) if k == name))
            .map(|(_, v)| v)
    };
    let Some(Value::Str(user)) = field("id") else {
        return None;
    };
    let agent = match field("user_agent") {
        Some(Value::Str(agent)) => Some(agent.clone()),
        _ => None,
    };
    Some((user.clone(), agent))
}

/// The value under `key` (an encoded key) among a dict's `entries`, decoded.
pub(crate) fn entry(entries: &[format::Entry<'_>], key: &[u8]) -> Option<Value> {
    let (_, value) = entries.iter().find(|(k, _)| *k == key)?;
    format::decode(value).ok()
}
