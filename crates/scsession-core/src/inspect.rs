//! Diagnostics for operators: what a cookie is, why it does not open, why a session expired.
//!
//! **Not for handling requests.** The request path ([`Sealer::open_cookie`],
//! [`Sealer::verify_id`], [`Sealer::open_record`]) refuses every bad value with one opaque
//! [`OpenError`](crate::seal::OpenError), so a client learns nothing about which check failed.
//! The functions here run the very same checks (no second copy of the decryption) and say which
//! one failed, for a person holding the keys: `python -m scsession inspect COOKIE`. Never send
//! their answers to a client.
//!
//! ```
//! use scsession_core::inspect::{CookieProblem, Inspected};
//! use scsession_core::{KeyRing, Lifetime, Record, Sealer, SessionId};
//!
//! let sealer = Sealer::new(KeyRing::new(&[[7u8; 32]]).unwrap(), "session");
//! let record = Record { id: SessionId::random(), created: 1000, last_seen: 1000, data: vec![0x0c, 0] };
//! let cookie = sealer.seal_cookie(&record);
//! let Ok(Inspected::Sealed { record: opened, .. }) = sealer.inspect_cookie(cookie.as_bytes()) else {
//!     panic!()
//! };
//! assert_eq!(opened, record);
//!
//! let other_name = Sealer::new(KeyRing::new(&[[7u8; 32]]).unwrap(), "sid");
//! let problem = other_name.inspect_cookie(cookie.as_bytes()).unwrap_err();
//! assert!(matches!(problem, CookieProblem::DoesNotOpen { .. }));
//! assert!(problem.to_string().contains("another cookie name than \"sid\""));
//!
//! let life = Lifetime::new(Some(3600), None);
//! assert_eq!(life.expires_at(1000, 1000), Some(4600));
//! assert!(life.why_expired(1000, 1000, 4600).is_some());
//! ```

use core::fmt;

use crate::expiry::{Lifetime, MAX_CLOCK_SKEW};
use crate::id::SessionId;
use crate::record::Record;
use crate::seal::{Failure, Sealer, KEY_ID_LEN, MAX_COOKIE_LEN, SIGNED_ID_LEN, VERSION};

/// The 4-byte id in front of every sealed value, derived from the key (not secret: every cookie
/// shows it). `Display` is 8 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_LEN]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

fn list(ids: &[KeyId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a cookie value turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inspected {
    /// A session sealed into the cookie (cookie mode), opened.
    Sealed {
        /// What was sealed.
        record: Record,
        /// The key it was sealed under.
        key_id: KeyId,
    },
    /// A server-side session's cookie (store mode): the session id, whose MAC verifies. The
    /// data is in the store ([`Sealer::inspect_record`]).
    SignedId(SessionId),
}

/// Why a cookie value or a stored record does not open: exactly which check failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieProblem {
    /// Longer than any cookie scsession writes.
    #[error(
        "the value is {len} characters long, more than the {MAX_COOKIE_LEN} of any cookie \
         scsession writes: not an scsession cookie"
    )]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Not in scsession's format at all.
    #[error("not an scsession cookie: {reason}")]
    NotOurs {
        /// Which part of the format it misses.
        reason: &'static str,
    },
    /// Another format version (or something else that decodes as base64url).
    #[error(
        "not an scsession cookie, or one of a format this version does not read: its first byte \
         is {version:#04x}, scsession writes {VERSION:#04x}"
    )]
    Version {
        /// The first byte.
        version: u8,
    },
    /// Sealed under a key that is not among those given.
    #[error(
        "sealed under key id {key_id}, which none of the keys given has (theirs: {}): a key \
         that was rotated out, or another app's key",
        list(.known)
    )]
    UnknownKey {
        /// The key id in the value.
        key_id: KeyId,
        /// The ids of the keys given, the sealing key first.
        known: Vec<KeyId>,
    },
    /// Sealed under a key that was given, yet the tag does not verify.
    #[error(
        "sealed under key id {key_id}, one of the keys given, but its seal does not verify: \
         tampered with, or sealed for another cookie name than {cookie_name:?}"
    )]
    DoesNotOpen {
        /// The key id in the value.
        key_id: KeyId,
        /// The cookie name it was checked for (bound into the seal).
        cookie_name: String,
    },
    /// A stored record under a key that was given, yet the tag does not verify.
    #[error(
        "the stored record is sealed under key id {key_id}, one of the keys given, but its \
         seal does not verify: tampered with, or stored under another session id"
    )]
    RecordDoesNotOpen {
        /// The key id in the record.
        key_id: KeyId,
    },
    /// Opens, but what is inside is not a record (of this session).
    #[error("it opens, but the record inside is malformed or belongs to another session")]
    BadRecord,
    /// A store-mode cookie whose MAC does not verify.
    #[error(
        "a server-side session id cookie (session id {id}) whose MAC does not verify: signed \
         with another key, for another cookie name than {cookie_name:?}, or tampered with"
    )]
    BadIdMac {
        /// The id it carries (not to be trusted).
        id: SessionId,
        /// The cookie name it was checked for (bound into the MAC).
        cookie_name: String,
    },
}

impl Sealer {
    /// **Diagnostics only** (see the [module](self) docs): opens a cookie value like
    /// [`open_cookie`](Sealer::open_cookie), or checks it like [`verify_id`](Sealer::verify_id)
    /// when it has the length of a signed id, and says exactly why it does not open. Timestamps
    /// are not checked (see [`Lifetime::why_expired`]).
    pub fn inspect_cookie(&self, value: &[u8]) -> Result<Inspected, CookieProblem> {
        if value.len() == SIGNED_ID_LEN {
            // Every sealed cookie is longer: a signed id is the only scsession value this long.
            return self
                .verify_id_checked(value)
                .map(Inspected::SignedId)
                .map_err(|failure| self.problem(failure));
        }
        self.open_cookie_checked(value)
            .map(|(record, key_id)| Inspected::Sealed {
                record,
                key_id: KeyId(key_id),
            })
            .map_err(|failure| self.problem(failure))
    }

    /// **Diagnostics only** (see the [module](self) docs): opens a stored record like
    /// [`open_record`](Sealer::open_record) and says exactly why it does not open. Returns the
    /// record and the key it was sealed under.
    pub fn inspect_record(
        &self,
        id: &SessionId,
        blob: &[u8],
    ) -> Result<(Record, KeyId), CookieProblem> {
        self.open_record_checked(id, blob)
            .map(|(record, key_id)| (record, KeyId(key_id)))
            .map_err(|failure| match failure {
                Failure::Tag(key_id) => CookieProblem::RecordDoesNotOpen {
                    key_id: KeyId(key_id),
                },
                Failure::TooShort | Failure::NotBase64 => CookieProblem::NotOurs {
                    reason: "the stored value is too short to be a sealed record",
                },
                other => self.problem(other),
            })
    }

    /// The ids of the keys of the ring, the sealing key first.
    #[must_use]
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys()
            .sets()
            .iter()
            .map(|set| KeyId(set.key_id()))
            .collect()
    }

    fn problem(&self, failure: Failure) -> CookieProblem {
        let cookie_name = || self.cookie_name().to_owned();
        match failure {
            Failure::TooLong(len) => CookieProblem::TooLong { len },
            Failure::NotBase64 => CookieProblem::NotOurs {
                reason: "it is not base64url (scsession cookies use only A-Z a-z 0-9 - _, with \
                         no padding)",
            },
            Failure::TooShort => CookieProblem::NotOurs {
                reason: "it is too short to be a sealed session or a signed session id",
            },
            Failure::Version(version) => CookieProblem::Version { version },
            Failure::UnknownKey(key_id) => CookieProblem::UnknownKey {
                key_id: KeyId(key_id),
                known: self.key_ids(),
            },
            Failure::Tag(key_id) => CookieProblem::DoesNotOpen {
                key_id: KeyId(key_id),
                cookie_name: cookie_name(),
            },
            Failure::Record => CookieProblem::BadRecord,
            Failure::IdMac(id) => CookieProblem::BadIdMac {
                id,
                cookie_name: cookie_name(),
            },
        }
    }
}

/// Why a session that opened is no longer live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Expired {
    /// A timestamp lies more than [`MAX_CLOCK_SKEW`] seconds ahead of now.
    #[error(
        "its timestamp {timestamp} lies more than {MAX_CLOCK_SKEW} s in the future: forged, or \
         this machine's clock is far behind the server's"
    )]
    FromTheFuture {
        /// The timestamp (unix seconds).
        timestamp: u64,
    },
    /// `created + max_age` has passed.
    #[error("its maximum age of {max_age} s from its creation ran out at {at}")]
    MaxAge {
        /// The `max_age`, seconds.
        max_age: u64,
        /// When it ran out, unix seconds.
        at: u64,
    },
    /// `last_seen + idle_timeout` has passed.
    #[error("it was idle for {idle_timeout} s (the idle timeout) at {at}")]
    Idle {
        /// The `idle_timeout`, seconds.
        idle_timeout: u64,
        /// When it ran out, unix seconds.
        at: u64,
    },
}

impl Lifetime {
    /// When a session created at `created` and last seen at `last_seen` expires if nothing else
    /// happens (unix seconds), or `None` without limits.
    #[must_use]
    pub fn expires_at(&self, created: u64, last_seen: u64) -> Option<u64> {
        self.deadline(created, last_seen)
    }

    /// **Diagnostics**: why [`is_expired`](Lifetime::is_expired) holds, `None` when it does not.
    #[must_use]
    pub fn why_expired(&self, created: u64, last_seen: u64, now: u64) -> Option<Expired> {
        let horizon = now.saturating_add(MAX_CLOCK_SKEW);
        if let Some(timestamp) = [created, last_seen].into_iter().find(|&t| t > horizon) {
            return Some(Expired::FromTheFuture { timestamp });
        }
        let max_age = self.max_age.and_then(|max_age| {
            let at = created.saturating_add(max_age);
            (now >= at).then_some(Expired::MaxAge { max_age, at })
        });
        let idle = self.idle_timeout.and_then(|idle_timeout| {
            let at = last_seen.saturating_add(idle_timeout);
            (now >= at).then_some(Expired::Idle { idle_timeout, at })
        });
        match (max_age, idle) {
            // Both ran out: the earlier one ended it.
            (Some(Expired::MaxAge { at: a, .. }), Some(i @ Expired::Idle { at: b, .. }))
                if b < a =>
            {
                Some(i)
            }
            (a, i) => a.or(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyRing;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn sealer(secret: u8, name: &str) -> Sealer {
        Sealer::new(KeyRing::new(&[[secret; 32]]).unwrap(), name)
    }

    fn record() -> Record {
        Record {
            id: SessionId::from_bytes(*b"0123456789abcdef"),
            created: 1_700_000_000,
            last_seen: 1_700_000_100,
            data: vec![0x0c, 0],
        }
    }

    #[test]
    fn a_good_cookie_opens_with_its_key_id() {
        let s = sealer(1, "session");
        let cookie = s.seal_cookie(&record());
        assert_eq!(
            s.inspect_cookie(cookie.as_bytes()),
            Ok(Inspected::Sealed {
                record: record(),
                key_id: s.key_ids()[0]
            })
        );
        let signed = s.sign_id(&record().id);
        assert_eq!(
            s.inspect_cookie(signed.as_bytes()),
            Ok(Inspected::SignedId(record().id))
        );
    }

    #[test]
    fn each_failure_is_named() {
        let s = sealer(1, "session");
        let cookie = s.seal_cookie(&record());
        let key_id = s.key_ids()[0];

        let other_key = sealer(2, "session");
        assert_eq!(
            other_key.inspect_cookie(cookie.as_bytes()),
            Err(CookieProblem::UnknownKey {
                key_id,
                known: other_key.key_ids()
            })
        );
        let other_name = sealer(1, "sid");
        assert_eq!(
            other_name.inspect_cookie(cookie.as_bytes()),
            Err(CookieProblem::DoesNotOpen {
                key_id,
                cookie_name: "sid".into()
            })
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(&raw);
        assert!(matches!(
            s.inspect_cookie(tampered.as_bytes()),
            Err(CookieProblem::DoesNotOpen { .. })
        ));
        raw[last] ^= 1;
        raw[0] = 9;
        assert_eq!(
            s.inspect_cookie(URL_SAFE_NO_PAD.encode(&raw).as_bytes()),
            Err(CookieProblem::Version { version: 9 })
        );
        assert!(matches!(
            s.inspect_cookie(b"eyJhIjogMX0=.ZmQ3Mg.abc"),
            Err(CookieProblem::NotOurs { .. })
        ));
        assert!(matches!(
            s.inspect_cookie(b"AAAA"),
            Err(CookieProblem::NotOurs { .. })
        ));
        assert_eq!(
            s.inspect_cookie(&[b'A'; MAX_COOKIE_LEN + 1]),
            Err(CookieProblem::TooLong {
                len: MAX_COOKIE_LEN + 1
            })
        );
        let signed = s.sign_id(&record().id);
        assert_eq!(
            other_name.inspect_cookie(signed.as_bytes()),
            Err(CookieProblem::BadIdMac {
                id: record().id,
                cookie_name: "sid".into()
            })
        );
    }

    #[test]
    fn messages_name_key_ids_never_keys() {
        let problem = sealer(2, "session")
            .inspect_cookie(sealer(1, "session").seal_cookie(&record()).as_bytes())
            .unwrap_err();
        let text = problem.to_string();
        let ids = sealer(1, "s").key_ids()[0].to_string();
        assert_eq!(ids.len(), 8);
        assert!(text.contains(&ids), "{text}");
        assert!(
            text.contains(&sealer(2, "s").key_ids()[0].to_string()),
            "{text}"
        );
    }

    #[test]
    fn records_say_why() {
        let s = sealer(1, "session");
        let blob = s.seal_record(&record());
        assert_eq!(
            s.inspect_record(&record().id, &blob),
            Ok((record(), s.key_ids()[0]))
        );
        let other = SessionId::from_bytes([9; 16]);
        assert!(matches!(
            s.inspect_record(&other, &blob),
            Err(CookieProblem::RecordDoesNotOpen { .. })
        ));
        assert!(matches!(
            sealer(2, "session").inspect_record(&record().id, &blob),
            Err(CookieProblem::UnknownKey { .. })
        ));
        assert!(matches!(
            s.inspect_record(&record().id, b"short"),
            Err(CookieProblem::NotOurs { .. })
        ));
    }

    #[test]
    fn why_expired_names_the_limit() {
        let both = Lifetime::new(Some(100), Some(50));
        assert_eq!(both.why_expired(1000, 1000, 1049), None);
        assert_eq!(
            both.why_expired(1000, 1000, 1050),
            Some(Expired::Idle {
                idle_timeout: 50,
                at: 1050
            })
        );
        assert_eq!(
            both.why_expired(1000, 1080, 1100),
            Some(Expired::MaxAge {
                max_age: 100,
                at: 1100
            })
        );
        assert_eq!(
            both.why_expired(1000, 2000, 1000),
            Some(Expired::FromTheFuture { timestamp: 2000 })
        );
        assert_eq!(both.expires_at(1000, 1080), Some(1100));
        assert_eq!(Lifetime::default().expires_at(1, 1), None);
    }

    proptest! {
        /// The diagnostic never disagrees with the rule the request path applies.
        #[test]
        fn why_expired_agrees_with_is_expired(
            max_age in proptest::option::of(0u64..200),
            idle in proptest::option::of(0u64..200),
            created in 0u64..2000,
            seen in 0u64..2000,
            now in 0u64..2000,
        ) {
            let life = Lifetime::new(max_age, idle);
            prop_assert_eq!(
                life.why_expired(created, seen, now).is_some(),
                life.is_expired(created, seen, now)
            );
        }
    }
}
