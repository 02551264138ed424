//! Sessions for [axum] and [tower]: the same sessions as scsession's Python middleware, on the
//! same engine ([`scsession_core`]). A cookie made by a `FastAPI` app opens here and back, with the
//! same keys, lifetimes and stores.
//!
//! - [`SessionLayer`]: a tower [`Layer`](tower_layer::Layer). Sessions are sealed whole into the
//!   cookie (XChaCha20-Poly1305), or kept in a [`SessionStore`](store::SessionStore) (memory,
//!   Redis, Memcached, SQL) with only a signed id in the cookie.
//! - [`Session`]: the axum extractor. Values go in and out through serde, in scsession's typed
//!   binary format ([`value`] has the mapping to Python's types).
//!
//! What the layer promises, whatever the mode:
//!
//! - **Lazy**: a handler that does not extract the [`Session`] costs a few allocations; nothing
//!   is decrypted or loaded, and no `Set-Cookie` is sent.
//! - **Writes only what changed**: an unchanged session sends no `Set-Cookie` (unless its idle
//!   deadline must move).
//! - **Server-side expiry**: `max_age` and `idle_timeout` are checked from sealed timestamps.
//! - **Never loses a write, never resurrects a sign-out** (store mode): saves compare and swap
//!   against the record they loaded and merge concurrent changes key by key; a session deleted
//!   meanwhile is never written back. Saves of one session take turns within the process.
//! - **Key rotation**: the first key seals, every key opens.
//!
//! # Example
//!
//! ```
//! use axum::{routing::get, Router};
//! use scsession_axum::{KeyRing, Session, SessionLayer};
//!
//! async fn counter(session: Session) -> String {
//!     let n: u64 = session.get("n").unwrap_or_default().unwrap_or(0) + 1;
//!     session.insert("n", &n).unwrap();
//!     format!("{n} visits")
//! }
//!
//! async fn sign_out(session: Session) -> &'static str {
//!     session.invalidate();
//!     "bye"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // At least 32 random bytes, from configuration (`python -m scsession keygen` makes one).
//! let secret = std::env::var("SESSION_SECRET")
//!     .unwrap_or_else(|_| "an example secret of at least 32 bytes!".into());
//! let layer = SessionLayer::builder(KeyRing::new(&[secret])?).build()?;
//! let app = Router::new()
//!     .route("/", get(counter))
//!     .route("/sign-out", get(sign_out))
//!     .layer(layer);
//!
//! // Two requests, the second with the cookie the first set.
//! use tower::ServiceExt;
//! let request = |cookie: Option<&str>| {
//!     let mut r = http::Request::get("/");
//!     if let Some(c) = cookie { r = r.header("cookie", c); }
//!     r.body(axum::body::Body::empty()).unwrap()
//! };
//! let first = app.clone().oneshot(request(None)).await?;
//! let set_cookie = first.headers()["set-cookie"].to_str()?;
//! assert!(set_cookie.ends_with("; HttpOnly; Secure; SameSite=Lax"));
//! let cookie = set_cookie.split(';').next().unwrap();
//! let second = app.oneshot(request(Some(cookie))).await?;
//! let body = axum::body::to_bytes(second.into_body(), 1024).await?;
//! assert_eq!(body, "2 visits");
//! # Ok(())
//! # }
//! ```
//!
//! With a store, the cookie carries only the signed id:
//!
//! ```
//! # #[cfg(feature = "memory-store")] {
//! use std::sync::Arc;
//! use scsession_axum::{store::MemoryStore, KeyRing, SessionLayer};
//!
//! let store = Arc::new(MemoryStore::new());
//! let layer = SessionLayer::builder(KeyRing::new(&[[7u8; 32]]).unwrap())
//!     .indexed_store(store)
//!     .idle_timeout(Some(std::time::Duration::from_secs(3600)))
//!     .build()
//!     .unwrap();
//! # let _ = layer; }
//! ```
//!
//! [axum]: https://docs.rs/axum
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use scsession_core::engine;
mod data;
mod lock;
mod service;
mod session;
pub mod value;

pub use engine::SameSite;
pub use scsession_core::format::Value;
pub use scsession_core::{store, KeyRing, SessionId};
pub use service::{
    CookieOnly, Mode, SessionLayer, SessionLayerBuilder, SessionService, WithIndex, WithStore,
    DEFAULT_MAX_AGE,
};
pub use session::{Flash, Session, SessionRejection, BOUND_USER_KEY, FLASHES_KEY, MAX_USER_AGENT};

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value could not be converted (see [`value::ValueError`]).
    #[error(transparent)]
    Value(#[from] value::ValueError),
    /// A value has no form in the session format (nested too deep, too long, out of range).
    #[error(transparent)]
    Encode(#[from] scsession_core::format::EncodeError),
    /// The store failed while saving.
    #[error(transparent)]
    Store(#[from] scsession_core::store::StoreError),
    /// The engine refused the options or the session (for instance a cookie over 4096 bytes).
    #[error(transparent)]
    Core(#[from] scsession_core::Error),
    /// [`Session::bind_user`] without a store that keeps the per-user index.
    #[error("bind_user() needs a store with a per-user index (SessionLayerBuilder::indexed_store){}", if *.store { "" } else { ": a cookie session has no server record that could be ended" })]
    NoUserIndex {
        /// Whether the layer has a store at all.
        store: bool,
    },
    /// [`Session::bind_user`] with an empty user id.
    #[error("a user id must not be empty")]
    EmptyUserId,
    /// The engine made a `Set-Cookie` value that is not a valid header (not expected).
    #[error("the Set-Cookie value is not a valid header value")]
    Header,
}

/// The README's example compiles (`cargo test --doc`).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "memory-store"))]
pub struct ReadmeDoctests;
