//! The engine of scsession, without Python: session ids, keys, a typed binary format for session
//! data, sealed cookies and records, expiry rules and the session store trait.
//!
//! - [`SessionId`]: 128 random bits, 22 characters of base64url.
//! - [`KeyRing`]: secrets from configuration, expanded per purpose with HKDF; the first seals,
//!   all open.
//! - [`format`](mod@format): plain values (no code) in a compact binary form, bounded in
//!   length and depth.
//! - [`Record`]: id, timestamps and data, as sealed.
//! - [`Sealer`]: XChaCha20-Poly1305 cookies and stored blobs, HMAC-signed ids; every failure is
//!   one opaque [`seal::OpenError`].
//! - [`Lifetime`]: absolute and idle timeouts, checked from the sealed timestamps.
//! - [`store::SessionStore`]: where store-mode sessions live.
//! - [`engine`]: one request's session from `Cookie` to `Set-Cookie`: the one place that
//!   decides what is written ([`engine::Engine`]); web front ends are thin around it.
//! - [`inspect`]: for operators only, why a cookie does not open or a session expired.
//!
//! ```
//! use scsession_core::format::{self, Value};
//! use scsession_core::{KeyRing, Lifetime, Record, Sealer, SessionId};
//!
//! let keys = KeyRing::new(&[b"a secret of at least thirty-two bytes!"])?;
//! let sealer = Sealer::new(keys, "session");
//! let data = Value::Dict(vec![(Value::Str("user".into()), Value::Int(42))]);
//! let now = 1_700_000_000;
//! let record = Record {
//!     id: SessionId::random(),
//!     created: now,
//!     last_seen: now,
//!     data: format::encode(&data)?,
//! };
//! let cookie = sealer.seal_cookie(&record);
//!
//! // Next request:
//! let life = Lifetime { max_age: Some(14 * 86_400), idle_timeout: Some(3_600) };
//! let opened = sealer.open_cookie(cookie.as_bytes())?;
//! assert!(!life.is_expired(opened.created, opened.last_seen, now + 60));
//! assert_eq!(format::decode(&opened.data)?, data);
//! # Ok::<(), scsession_core::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod changeset;
pub mod cookie;
pub mod engine;
pub mod expiry;
pub mod format;
pub mod id;
pub mod inspect;
pub mod keys;
pub mod record;
pub mod seal;
pub mod store;

pub use expiry::Lifetime;
pub use id::SessionId;
pub use keys::KeyRing;
pub use record::Record;
pub use seal::Sealer;

/// Any error of this crate: one variant per module.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// See [`id::IdError`].
    #[error(transparent)]
    Id(#[from] id::IdError),
    /// See [`keys::KeyError`].
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// See [`format::EncodeError`].
    #[error(transparent)]
    Encode(#[from] format::EncodeError),
    /// See [`format::DecodeError`].
    #[error(transparent)]
    Decode(#[from] format::DecodeError),
    /// See [`record::RecordError`].
    #[error(transparent)]
    Record(#[from] record::RecordError),
    /// See [`seal::OpenError`].
    #[error(transparent)]
    Open(#[from] seal::OpenError),
    /// See [`store::StoreError`].
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// See [`engine::CookieError`].
    #[error(transparent)]
    Cookie(#[from] engine::CookieError),
    /// See [`engine::TooLarge`].
    #[error(transparent)]
    TooLarge(#[from] engine::TooLarge),
    /// See [`inspect::CookieProblem`] (diagnostics only).
    #[error(transparent)]
    Inspect(#[from] inspect::CookieProblem),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_convert_and_keep_their_messages() {
        let e: Error = seal::OpenError.into();
        assert_eq!(e.to_string(), "session data did not open");
        let e: Error = keys::KeyError::Empty.into();
        assert_eq!(e.to_string(), "at least one secret key is required");
        let e: Error = format::DecodeError::TooDeep.into();
        assert_eq!(
            e.to_string(),
            "session data is nested deeper than 32 containers"
        );
        let e: Error = "x".parse::<SessionId>().unwrap_err().into();
        assert_eq!(e, Error::Id(id::IdError));
    }
}
