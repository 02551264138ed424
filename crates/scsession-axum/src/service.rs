//! The tower layer: builds the engine once, gives each request an unopened session, and saves
//! it (through the engine) when the response comes back.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use scsession_core::store::{SessionStore, StoreError, UserIndex};
use scsession_core::{KeyRing, Lifetime};
use tower_layer::Layer;
use tower_service::Service;

use crate::data::Data;
use crate::engine::{CookieSettings, Engine, Finished, Opened, SameSite, SessionState};
use crate::lock::Locks;
use crate::session::Slot;
use crate::Error;

/// Default `max_age`: 14 days, as the Python middleware.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn cookie_headers(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes)
}

/// Where sessions live: the type parameter of [`SessionLayer`]. Implemented by
/// [`CookieOnly`], [`WithStore`] and [`WithIndex`] only.
pub trait Mode: sealed::Backend {}

/// Sessions sealed whole into the cookie (the default): no server state at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct CookieOnly;

/// Sessions in a [`SessionStore`]; the cookie holds the signed id.
#[derive(Debug)]
pub struct WithStore<S>(Arc<S>);

/// Sessions in a store that also keeps the per-user index, so that
/// [`Session::bind_user`](crate::Session::bind_user) works.
#[derive(Debug)]
pub struct WithIndex<S>(Arc<S>);

impl Mode for CookieOnly {}
impl<S: SessionStore + 'static> Mode for WithStore<S> {}
impl<S: UserIndex + 'static> Mode for WithIndex<S> {}

pub(crate) mod sealed {
    use super::{Engine, Finished, HeaderMap, Opened, SessionState, StoreError};
    use crate::Error;
    use core::future::Future;

    /// What differs between the modes: how a session is opened and how it is saved.
    pub trait Backend: Send + Sync + 'static {
        /// Whether sessions live in a store.
        const STORE: bool;
        /// Whether the store keeps the per-user index.
        const INDEXED: bool;
        /// Opens (cookie) or loads (store) the request's session.
        fn open(
            &self,
            engine: &Engine,
            headers: &HeaderMap,
            now: u64,
        ) -> impl Future<Output = Result<Opened, StoreError>> + Send;
        /// Saves the session as the engine decides.
        fn finish(
            &self,
            engine: &Engine,
            state: &mut SessionState,
            data: &[u8],
            now: u64,
        ) -> impl Future<Output = Result<Finished, Error>> + Send;
    }
}

impl sealed::Backend for CookieOnly {
    const STORE: bool = false;
    const INDEXED: bool = false;
    async fn open(
        &self,
        engine: &Engine,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Opened, StoreError> {
        Ok(engine.open_cookie(cookie_headers(headers), now))
    }
    async fn finish(
        &self,
        engine: &Engine,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, Error> {
        engine
            .finish_cookie(state, data, now)
            .map_err(|too_large| Error::Core(too_large.into()))
    }
}

impl<S: SessionStore + 'static> sealed::Backend for WithStore<S> {
    const STORE: bool = true;
    const INDEXED: bool = false;
    async fn open(
        &self,
        engine: &Engine,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Opened, StoreError> {
        engine.load(&*self.0, cookie_headers(headers), now).await
    }
    async fn finish(
        &self,
        engine: &Engine,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, Error> {
        Ok(engine.finish_store(&*self.0, state, data, now).await?)
    }
}

impl<S: UserIndex + 'static> sealed::Backend for WithIndex<S> {
    const STORE: bool = true;
    const INDEXED: bool = true;
    async fn open(
        &self,
        engine: &Engine,
        headers: &HeaderMap,
        now: u64,
    ) -> Result<Opened, StoreError> {
        engine.load(&*self.0, cookie_headers(headers), now).await
    }
    async fn finish(
        &self,
        engine: &Engine,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, Error> {
        Ok(engine.finish_indexed(&*self.0, state, data, now).await?)
    }
}

/// What the extractor needs from the layer, whatever the mode.
pub(crate) trait Opener: Send + Sync {
    fn is_store(&self) -> bool;
    fn is_indexed(&self) -> bool;
    fn open<'a>(
        &'a self,
        headers: &'a HeaderMap,
    ) -> Pin<Box<dyn Future<Output = Result<Opened, StoreError>> + Send + 'a>>;
}

/// The engine and the mode, shared by every request.
struct Shared<M> {
    engine: Engine,
    mode: M,
    locks: Locks,
}

impl<M: Mode> Opener for Shared<M> {
    fn is_store(&self) -> bool {
        M::STORE
    }
    fn is_indexed(&self) -> bool {
        M::INDEXED
    }
    fn open<'a>(
        &'a self,
        headers: &'a HeaderMap,
    ) -> Pin<Box<dyn Future<Output = Result<Opened, StoreError>> + Send + 'a>> {
        Box::pin(self.mode.open(&self.engine, headers, now()))
    }
}

impl<M: Mode> Shared<M> {
    /// Saves an opened session; the Set-Cookie value to send, if any.
    async fn finish(&self, data: &mut Data) -> Result<Option<String>, Error> {
        let (state, encoded) = data.for_saving()?;
        // Writes of one loaded session take turns in this process (see `lock`); a session
        // that is only read (or only refreshed) needs no turn.
        let _turn = match state.loaded_id() {
            Some(id) if M::STORE && (state.changed(&encoded) || !state.is_loaded_as_is()) => {
                Some(self.locks.turn(id).await)
            }
            _ => None,
        };
        let finished = self
            .mode
            .finish(&self.engine, state, &encoded, now())
            .await?;
        Ok(finished.set_cookie)
    }
}

/// Sessions for every request that passes through: a tower [`Layer`]. Build it with
/// [`SessionLayer::builder`]; handlers take a [`Session`](crate::Session).
///
/// The type parameter says where sessions live: [`CookieOnly`] (the default), [`WithStore`]
/// or [`WithIndex`].
pub struct SessionLayer<M = CookieOnly> {
    shared: Arc<Shared<M>>,
}

impl<M> Clone for SessionLayer<M> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M> core::fmt::Debug for SessionLayer<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionLayer")
            .field("engine", &self.shared.engine)
            .finish_non_exhaustive()
    }
}

impl SessionLayer {
    /// A builder with the defaults of the Python middleware: cookie `session`, `Path=/`,
    /// `HttpOnly`, `Secure`, `SameSite=Lax`, a `max_age` of 14 days, no idle timeout, and the
    /// whole session sealed into the cookie.
    ///
    /// `keys` come from configuration, never from the code: the first key seals, every key
    /// opens (list a new key first to rotate, keep the old one until its cookies expired).
    pub fn builder(keys: KeyRing) -> SessionLayerBuilder {
        SessionLayerBuilder {
            keys,
            cookie: CookieSettings::new("session"),
            lifetime: Lifetime::new(Some(DEFAULT_MAX_AGE.as_secs()), None),
            mode: CookieOnly,
        }
    }
}

/// Options of a [`SessionLayer`]; see [`SessionLayer::builder`].
#[derive(Debug)]
#[must_use]
pub struct SessionLayerBuilder<M = CookieOnly> {
    keys: KeyRing,
    cookie: CookieSettings,
    lifetime: Lifetime,
    mode: M,
}

impl<M: Mode> SessionLayerBuilder<M> {
    /// The cookie's name (default `session`). It is bound into every sealed value, so a
    /// cookie cannot be moved to another name; both sides of a shared session use the same.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie.name = name.into();
        self
    }

    /// The cookie's `Path` (default `/`).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// The cookie's `Domain` (default none: this host only).
    pub fn domain(mut self, domain: Option<String>) -> Self {
        self.cookie.domain = domain;
        self
    }

    /// Whether the cookie carries `Secure` (default `true`).
    ///
    /// **Warning**: turning this off lets the cookie travel over plain http, where anyone on
    /// the network can copy it and act as the user. Only for local development.
    pub fn secure(mut self, secure: bool) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// The cookie's `SameSite` (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// Whether the cookie carries `Partitioned` (CHIPS; default `false`), for an app that runs
    /// in another site's frame. Needs `Secure` and [`SameSite::None`].
    pub fn partitioned(mut self, partitioned: bool) -> Self {
        self.cookie.partitioned = partitioned;
        self
    }

    /// How long a session lives from its creation, however active (default 14 days; `None`:
    /// until the browser closes, with no absolute limit on the server). Enforced by the
    /// server from sealed timestamps, not by the browser. Whole seconds.
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.lifetime.max_age = max_age.map(|d| d.as_secs());
        self
    }

    /// How long a session may go without a request before it is dead (default none). Whole
    /// seconds.
    pub fn idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.lifetime.idle_timeout = idle_timeout.map(|d| d.as_secs());
        self
    }

    /// Keeps sessions in `store` (encrypted, bound to their id); the cookie holds only the
    /// signed id. Keep a clone of the `Arc` to reach the store from handlers.
    pub fn store<S: SessionStore + 'static>(
        self,
        store: Arc<S>,
    ) -> SessionLayerBuilder<WithStore<S>> {
        self.mode(WithStore(store))
    }

    /// [`store`](SessionLayerBuilder::store) for a store that keeps the per-user index (every
    /// store of scsession-core does): [`Session::bind_user`](crate::Session::bind_user) then
    /// records sessions there, and an app can end all of a user's sessions.
    pub fn indexed_store<S: UserIndex + 'static>(
        self,
        store: Arc<S>,
    ) -> SessionLayerBuilder<WithIndex<S>> {
        self.mode(WithIndex(store))
    }

    fn mode<N: Mode>(self, mode: N) -> SessionLayerBuilder<N> {
        SessionLayerBuilder {
            keys: self.keys,
            cookie: self.cookie,
            lifetime: self.lifetime,
            mode,
        }
    }

    /// The layer. An error for options the engine refuses (a cookie name that is not a token,
    /// `SameSite=None` without `Secure`, a `Path` or `Domain` with `;` in it, a zero lifetime).
    pub fn build(self) -> Result<SessionLayer<M>, Error> {
        let engine = Engine::new(self.keys, self.cookie, self.lifetime)
            .map_err(|refused| Error::Core(refused.into()))?;
        Ok(SessionLayer {
            shared: Arc::new(Shared {
                engine,
                mode: self.mode,
                locks: Locks::default(),
            }),
        })
    }
}

impl<I, M> Layer<I> for SessionLayer<M> {
    type Service = SessionService<I, M>;
    fn layer(&self, inner: I) -> Self::Service {
        SessionService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service a [`SessionLayer`] wraps around an inner service.
pub struct SessionService<I, M = CookieOnly> {
    inner: I,
    shared: Arc<Shared<M>>,
}

impl<I: Clone, M> Clone for SessionService<I, M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<I: core::fmt::Debug, M> core::fmt::Debug for SessionService<I, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SessionService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// A response that replaces the app's when the session cannot be saved: 503 with
/// `Retry-After` when the store is down, 500 otherwise (a session too large for its cookie).
fn failed<B: Default>(error: &Error) -> Response<B> {
    tracing::error!(%error, "scsession: the session could not be saved");
    let mut response = Response::new(B::default());
    if matches!(error, Error::Store(StoreError::Unavailable { .. })) {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    } else {
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    response
}

impl<I, M, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<I, M>
where
    I: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    I::Future: Send + 'static,
    M: Mode,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = I::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let slot = Arc::new(Slot {
            opener: Arc::clone(&shared) as Arc<dyn Opener>,
            data: Mutex::new(None),
        });
        request.extensions_mut().insert(Arc::clone(&slot));
        // The clone that was made ready is the one called (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = core::mem::replace(&mut self.inner, clone);
        let response = inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            // Only a session the handler extracted is saved.
            let opened = slot
                .data
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let Some(mut data) = opened else {
                return Ok(response);
            };
            // Boxed apart: only requests that used the session carry the saving future.
            let saved = Box::pin(shared.finish(&mut data)).await;
            let headers = response.headers_mut();
            // The response depends on the cookie: a shared cache must keep users apart.
            headers.append(header::VARY, HeaderValue::from_static("Cookie"));
            match saved {
                Ok(None) => {}
                Ok(Some(cookie)) => match HeaderValue::try_from(cookie) {
                    Ok(value) => {
                        headers.append(header::SET_COOKIE, value);
                        // Never cache one user's Set-Cookie for another, unless the app said
                        // how its response may be cached.
                        if !headers.contains_key(header::CACHE_CONTROL) {
                            let private = HeaderValue::from_static("private, no-store");
                            headers.insert(header::CACHE_CONTROL, private);
                        }
                    }
                    Err(_) => return Ok(failed(&Error::Header)),
                },
                Err(error) => return Ok(failed(&error)),
            }
            Ok(response)
        })
    }
}
