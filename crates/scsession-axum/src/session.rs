//! The [`Session`] extractor: a request's session data, typed through serde.

use core::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};
use scsession_core::format::{self, Value};
use scsession_core::store::StoreError;
use scsession_core::SessionId;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::data::Data;
use crate::engine::{Opened, SessionState};
use crate::service::Opener;
use crate::value::{from_value, to_value, ValueError};
use crate::Error;

pub use crate::engine::{BOUND_USER_KEY, FLASHES_KEY};
/// The most of a user agent [`Session::bind_user`] keeps, in characters.
pub const MAX_USER_AGENT: usize = 512;

/// A one-time message for the next page, from [`Session::flash`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    /// What kind of message (`"info"`, `"error"`, ... as the app likes).
    pub category: String,
    /// The message.
    pub message: String,
}

/// What the layer puts into each request's extensions, and what every [`Session`] of that
/// request shares. Empty until the handler first extracts the session.
pub(crate) struct Slot {
    pub(crate) opener: Arc<dyn Opener>,
    pub(crate) data: Mutex<Option<Data>>,
}

/// A request's session: extract it in a handler behind a [`SessionLayer`](crate::SessionLayer).
///
/// Values go in and out through serde ([`insert`](Session::insert), [`get`](Session::get)) and
/// are stored in scsession's binary format, the one the Python middleware reads: a session
/// written here opens there, and back. Every method takes `&self`; clones share one session.
///
/// Extracting it opens the session (decrypts the cookie, or loads the record from the store);
/// a handler that does not extract it costs nothing and writes nothing. The session is saved
/// when the response leaves the layer, and only if something changed.
///
/// ```
/// use scsession_axum::Session;
///
/// async fn visit(session: Session) -> String {
///     let visits: u64 = session.get("visits").unwrap().unwrap_or(0) + 1;
///     session.insert("visits", &visits).unwrap();
///     format!("visit number {visits}")
/// }
/// # let _ = axum::Router::<()>::new().route("/", axum::routing::get(visit));
/// ```
#[derive(Clone)]
pub struct Session {
    slot: Arc<Slot>,
    store: bool,
    indexed: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The data may be secret: only its id (already in the cookie for store sessions).
        f.debug_struct("Session")
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl Session {
    fn data(&self) -> MutexGuard<'_, Option<Data>> {
        self.slot
            .data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        let mut guard = self.data();
        // A session outlives its request only in a task the handler spawned: it then acts on
        // a fresh, unsaved session rather than panic.
        let data = guard.get_or_insert_with(|| Data::new(empty()));
        f(data)
    }

    /// The value under `key` as a `T`, or `None` if there is none. An error if the stored
    /// value is not a `T` (the stored value is left as it is).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ValueError> {
        self.get_value(key).map(from_value).transpose()
    }

    /// The value under `key` as stored.
    #[must_use]
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.with(|d| d.get(key))
    }

    /// Stores `value` under `key`, replacing any value there. An error if the value has no
    /// form in the session format (nested deeper than 32 containers, say): nothing is changed.
    pub fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        self.insert_value(key, to_value(value)?)
    }

    /// Stores a [`Value`] under `key` (see [`insert`](Session::insert)).
    pub fn insert_value(&self, key: &str, value: Value) -> Result<(), Error> {
        format::encode(&value)?; // refused here, where the mistake is, not when saving
        self.with(|d| d.set(key, value));
        Ok(())
    }

    /// Removes `key` and returns its value as a `T` (`None` if there was none). The key is
    /// removed even if its value is not a `T`.
    pub fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ValueError> {
        self.remove_value(key).map(from_value).transpose()
    }

    /// Removes `key` and returns its value as stored.
    #[allow(clippy::must_use_candidate)] // removing is the point; the value is a bonus
    pub fn remove_value(&self, key: &str) -> Option<Value> {
        self.with(|d| d.remove(key))
    }

    /// Whether a value is stored under `key`.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.with(|d| d.contains(key))
    }

    /// The keys, in the order they were first stored (keys that are not strings, which only
    /// another program could store, are left out).
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        self.with(|d| d.keys())
    }

    /// How many values the session holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.with(|d| d.len())
    }

    /// Whether the session holds nothing. An empty session is not stored, and a cookie for
    /// one is removed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every value (the session, now empty, ends when the response is sent; unlike
    /// [`invalidate`](Session::invalidate), the id is kept if something is stored again).
    pub fn clear(&self) {
        self.with(Data::clear);
    }

    /// The session id: `None` for a new session until it is first saved.
    #[must_use]
    pub fn id(&self) -> Option<SessionId> {
        self.with(|d| d.state.id())
    }

    /// Gives the session a new id, keeping its data; the old id stops working when the
    /// response is sent.
    ///
    /// Call it whenever privileges change, above all at sign-in, so that an id an attacker
    /// planted before sign-in (session fixation) is worthless after it.
    pub fn regenerate(&self) {
        self.with(|d| d.state.regenerate());
    }

    /// Ends the session (sign-out): the data is cleared, the store record deleted and the
    /// cookie removed. Anything stored after this call starts a new session under a new id.
    pub fn invalidate(&self) {
        self.with(|d| {
            d.clear();
            d.state.invalidate();
        });
    }

    /// Queues a message for the next page; [`flashes`](Session::flashes) returns it once.
    pub fn flash(&self, category: &str, message: &str) {
        self.with(|d| {
            let mut pending = match d.remove(FLASHES_KEY) {
                Some(Value::List(items)) => items,
                _ => Vec::new(),
            };
            pending.push(Value::List(vec![
                Value::Str(category.to_owned()),
                Value::Str(message.to_owned()),
            ]));
            d.set(FLASHES_KEY, Value::List(pending));
        });
    }

    /// Returns and removes every pending flash, oldest first.
    #[must_use]
    pub fn flashes(&self) -> Vec<Flash> {
        self.take_flashes(None)
    }

    /// Returns and removes the pending flashes of one category; the others stay.
    #[must_use]
    pub fn flashes_of(&self, category: &str) -> Vec<Flash> {
        self.take_flashes(Some(category))
    }

    fn take_flashes(&self, category: Option<&str>) -> Vec<Flash> {
        self.with(|d| {
            let Some(Value::List(pending)) = d.get(FLASHES_KEY) else {
                return Vec::new();
            };
            if pending.is_empty() {
                return Vec::new();
            }
            // Anything under the key that is not a (category, message) pair is dropped.
            let pairs: Vec<(String, String)> = pending
                .iter()
                .filter_map(|entry| match entry {
                    Value::List(p) | Value::Tuple(p) => match p.as_slice() {
                        [Value::Str(c), Value::Str(m)] => Some((c.clone(), m.clone())),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            let (taken, kept): (Vec<_>, Vec<_>) = pairs
                .into_iter()
                .partition(|(c, _)| category.is_none_or(|wanted| wanted == c));
            if kept.is_empty() {
                d.remove(FLASHES_KEY);
            } else {
                let kept = kept
                    .into_iter()
                    .map(|(c, m)| Value::List(vec![Value::Str(c), Value::Str(m)]))
                    .collect();
                d.set(FLASHES_KEY, Value::List(kept));
            }
            taken
                .into_iter()
                .map(|(category, message)| Flash { category, message })
                .collect()
        })
    }

    /// Records this session under `user_id` in the store's per-user index, so that the app can
    /// list the user's sessions and end them all (log out everywhere, with
    /// [`scsession_core::store::users`]).
    ///
    /// Call it at sign-in, after [`regenerate`](Session::regenerate). `user_agent` is what the
    /// listing shows for this session (the request's `User-Agent`, cut to 512 characters).
    /// The binding is part of the session: it survives `regenerate` and ends with
    /// [`invalidate`](Session::invalidate). Needs a store with an index
    /// ([`SessionLayerBuilder::indexed_store`](crate::SessionLayerBuilder::indexed_store)):
    /// otherwise [`Error::NoUserIndex`]. An empty `user_id` is [`Error::EmptyUserId`].
    pub fn bind_user(&self, user_id: &str, user_agent: Option<&str>) -> Result<(), Error> {
        if !self.indexed {
            return Err(Error::NoUserIndex { store: self.store });
        }
        if user_id.is_empty() {
            return Err(Error::EmptyUserId);
        }
        let agent = user_agent.map_or(Value::None, |a| {
            Value::Str(a.chars().take(MAX_USER_AGENT).collect())
        });
        let bound = Value::Dict(vec![
            (Value::Str("id".into()), Value::Str(user_id.to_owned())),
            (Value::Str("user_agent".into()), agent),
        ]);
        self.with(|d| d.set(BOUND_USER_KEY, bound));
        Ok(())
    }

    /// The user id given to [`bind_user`](Session::bind_user), or `None`.
    #[must_use]
    pub fn bound_user(&self) -> Option<String> {
        self.with(|d| match d.get(BOUND_USER_KEY) {
            Some(Value::Dict(pairs)) => pairs.iter().find_map(|(k, v)| match (k, v) {
                (Value::Str(k), Value::Str(id)) if k == "id" => Some(id.clone()),
                _ => None,
            }),
            _ => None,
        })
    }
}

fn empty() -> Opened {
    Opened {
        state: SessionState::default(),
        data: vec![format::tag::DICT, 0],
        expired: None,
    }
}

/// Why a [`Session`] could not be extracted. As a response: 500 for a missing layer (a
/// programming error), 503 with `Retry-After` when the store did not answer.
#[derive(Debug, thiserror::Error)]
pub enum SessionRejection {
    /// No [`SessionLayer`](crate::SessionLayer) runs in front of this handler.
    #[error("the Session extractor needs a SessionLayer in front of the handler")]
    MissingLayer,
    /// The store did not answer while the session was being loaded.
    #[error(transparent)]
    Store(StoreError),
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "scsession: no session for this request");
        let mut response = match self {
            Self::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        };
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let slot = parts
            .extensions
            .get::<Arc<Slot>>()
            .cloned()
            .ok_or(SessionRejection::MissingLayer)?;
        let opener = Arc::clone(&slot.opener);
        let session = Self {
            store: opener.is_store(),
            indexed: opener.is_indexed(),
            slot,
        };
        if session.data().is_some() {
            return Ok(session); // extracted before in this request
        }
        let fresh = opener
            .open(&parts.headers)
            .await
            .map_err(SessionRejection::Store)?;
        let mut data = session.data();
        if data.is_none() {
            *data = Some(Data::new(fresh));
        }
        drop(data);
        Ok(session)
    }
}
