//! What finishing a request's session did, and the events that come from it.

use crate::changeset::Changeset;
use crate::format::{self, Value};
use crate::id::SessionId;

/// The data a session was written with, and what it held before (for the changed keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The data before, as loaded or last written (encoded); `None` for a new session.
    pub before: Option<Vec<u8>>,
    /// The data written (encoded).
    pub after: Vec<u8>,
}

impl Change {
    /// The top-level keys set or removed (every key of a new session), in order. Computed on
    /// demand: only events need them.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let keys = |entries: Vec<&[u8]>| {
            entries
                .into_iter()
                .filter_map(|key| match format::decode(key) {
                    Ok(Value::Str(key)) => Some(key),
                    _ => None,
                })
                .collect()
        };
        match &self.before {
            Some(before) => Changeset::between(before, &self.after)
                .map(|changes| keys(changes.keys().collect()))
                .unwrap_or_default(),
            None => format::dict_entries(&self.after)
                .map(|entries| keys(entries.into_iter().map(|(k, _)| k).collect()))
                .unwrap_or_default(),
        }
    }
}

/// What a request did to its session, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing to write and no cookie to send.
    Unchanged,
    /// Rewritten unchanged, to push back its idle deadline.
    Refreshed {
        /// The session.
        id: SessionId,
    },
    /// A new session was written for the first time.
    Created {
        /// The new session.
        id: SessionId,
        /// The session this request ended before starting this one (invalidate, then new
        /// data), if any.
        ended: Option<SessionId>,
        /// Its data.
        change: Change,
    },
    /// A session the request came with was written with changes.
    Modified {
        /// The session.
        id: SessionId,
        /// What changed.
        change: Change,
    },
    /// The session got a new id ([`SessionState::regenerate`](super::SessionState::regenerate)).
    Regenerated {
        /// The new id.
        id: SessionId,
        /// The old one, which no longer works.
        previous: SessionId,
        /// Its data, and what changed (possibly nothing).
        change: Change,
    },
    /// The session the request came with was ended (invalidated or emptied): its cookie is
    /// deleted, and so is its record.
    Invalidated {
        /// The session.
        id: SessionId,
    },
    /// The session ended in another request while this one ran (a sign-out, or all of a
    /// user's sessions ended): nothing was written and no cookie is sent.
    EndedElsewhere {
        /// The session.
        id: SessionId,
    },
}

/// The kinds of [`Event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A new session was written for the first time.
    Created,
    /// A session the request came with was written with changes.
    Modified,
    /// A session got a new id.
    Regenerated,
    /// A session the request came with was ended.
    Invalidated,
    /// The request brought a session that had expired.
    Expired,
}

impl EventKind {
    /// The kind's name: `created`, `modified`, `regenerated`, `invalidated`, `expired`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Modified => "modified",
            Self::Regenerated => "regenerated",
            Self::Invalidated => "invalidated",
            Self::Expired => "expired",
        }
    }
}

/// One thing that happened to a session in a request, for an app's hook or log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// To which session (the new id after a regeneration).
    pub id: SessionId,
    /// The old id of a regenerated session.
    pub previous: Option<SessionId>,
    /// The top-level keys set or removed (every key of a created session).
    pub changed: Vec<String>,
}

impl Event {
    fn new(kind: EventKind, id: SessionId) -> Self {
        Self {
            kind,
            id,
            previous: None,
            changed: Vec::new(),
        }
    }

    /// An `expired` event for the session `id`.
    #[must_use]
    pub fn expired(id: SessionId) -> Self {
        Self::new(EventKind::Expired, id)
    }
}

impl Outcome {
    /// The events of this outcome, in the order they happened.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        match self {
            Self::Unchanged | Self::Refreshed { .. } | Self::EndedElsewhere { .. } => Vec::new(),
            Self::Invalidated { id } => vec![Event::new(EventKind::Invalidated, *id)],
            Self::Created { id, ended, change } => {
                let mut events: Vec<Event> = ended
                    .iter()
                    .map(|old| Event::new(EventKind::Invalidated, *old))
                    .collect();
                let created = Change {
                    before: None,
                    after: change.after.clone(),
                };
                events.push(Event {
                    changed: created.keys(),
                    ..Event::new(EventKind::Created, *id)
                });
                events
            }
            Self::Modified { id, change } => vec![Event {
                changed: change.keys(),
                ..Event::new(EventKind::Modified, *id)
            }],
            Self::Regenerated {
                id,
                previous,
                change,
            } => {
                let mut events = vec![Event {
                    previous: Some(*previous),
                    ..Event::new(EventKind::Regenerated, *id)
                }];
                if change.before.as_ref() != Some(&change.after) {
                    events.push(Event {
                        changed: change.keys(),
                        ..Event::new(EventKind::Modified, *id)
                    });
                }
                events
            }
        }
    }
}

/// How finishing a request's session ended: what it did, and the `Set-Cookie` header value to
/// send (none when the browser's cookie is right as it is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// What the request did to its session.
    pub outcome: Outcome,
    /// The whole `Set-Cookie` value (name, value and attributes), if one must be sent.
    pub set_cookie: Option<String>,
}

impl Finished {
    /// Nothing written, nothing to send.
    #[must_use]
    pub fn unchanged() -> Self {
        Self {
            outcome: Outcome::Unchanged,
            set_cookie: None,
        }
    }
}
