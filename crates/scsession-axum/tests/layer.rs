//! The layer through HTTP, as a browser sees it: tiny routes, one option varied per test.
//! (The same sessions opened by the Python middleware: `tests/test_axum_interop.py`.)

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use scsession_axum::store::{users, MemoryStore, SessionStore, StoreError, Swap, UserKeys};
use scsession_axum::{Error, KeyRing, Mode, Session, SessionId, SessionLayer, Value};
use tower::ServiceExt;

const KEY: &str = "test-secret-key-0000000000000000000000000";
const OLD_KEY: &str = "test-secret-key-OLD-OLD-OLD-OLD-OLD-OLD-OLD";

fn keys(secrets: &[&str]) -> KeyRing {
    KeyRing::new(secrets).unwrap()
}

async fn view(session: Session) -> String {
    let mut keys = session.keys();
    keys.sort();
    keys.iter()
        .map(|k| format!("{k}={:?}", session.get_value(k).unwrap()))
        .collect::<Vec<_>>()
        .join(",")
}

async fn set(session: Session, Path((key, value)): Path<(String, i64)>) {
    session.insert(&key, &value).unwrap();
}

async fn logout(session: Session) {
    session.invalidate();
}

async fn login(session: Session) -> String {
    session.regenerate();
    match session.bind_user("ada", Some("test agent")) {
        Ok(()) => "bound".into(),
        Err(e) => e.to_string(),
    }
}

async fn untouched() -> &'static str {
    "hello"
}

fn app<M: Mode>(layer: SessionLayer<M>) -> Router {
    app_with(layer, Router::new())
}

/// The tiny app plus the routes of `extra`, all behind `layer`.
fn app_with<M: Mode>(layer: SessionLayer<M>, extra: Router) -> Router {
    extra
        .route("/", get(view))
        .route("/set/{key}/{value}", post(set))
        .route("/logout", post(logout))
        .route("/login", post(login))
        .route("/untouched", get(untouched))
        .layer(layer)
}

/// A browser: keeps the session cookie between requests.
struct Browser {
    app: Router,
    cookie: Option<String>,
}

impl Browser {
    fn new(app: Router) -> Self {
        Self { app, cookie: None }
    }

    async fn send(&mut self, method: &str, path: &str) -> (Response, String) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        if let Some(set) = response.headers().get(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            self.cookie = (!set.contains("Max-Age=0")).then(|| pair.to_owned());
        }
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, 1 << 16).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        (Response::from_parts(parts, Body::empty()), text)
    }

    async fn get(&mut self, path: &str) -> String {
        self.send("GET", path).await.1
    }

    async fn post(&mut self, path: &str) -> Response {
        self.send("POST", path).await.0
    }
}

fn set_cookie(response: &Response) -> Option<&str> {
    response
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn view_update_view_sign_out_view() {
    let mut browser = Browser::new(app(SessionLayer::builder(keys(&[KEY])).build().unwrap()));
    assert_eq!(browser.get("/").await, "");
    let response = browser.post("/set/n/1").await;
    let cookie = set_cookie(&response).unwrap();
    assert!(cookie.starts_with("session="));
    assert!(cookie.ends_with("; Path=/; Max-Age=1209600; HttpOnly; Secure; SameSite=Lax"));
    browser.post("/set/m/2").await;
    assert_eq!(browser.get("/").await, "m=Int(2),n=Int(1)");
    let response = browser.post("/logout").await;
    assert!(set_cookie(&response).unwrap().contains("Max-Age=0"));
    assert_eq!(browser.cookie, None);
    assert_eq!(browser.get("/").await, "");
}

#[tokio::test]
async fn reading_or_not_touching_the_session_sends_no_cookie() {
    let mut browser = Browser::new(app(SessionLayer::builder(keys(&[KEY])).build().unwrap()));
    browser.post("/set/n/1").await;
    for path in ["/", "/untouched"] {
        let (response, _) = browser.send("GET", path).await;
        assert_eq!(set_cookie(&response), None, "{path}");
    }
    // Setting a value to what it already is changes nothing either.
    assert_eq!(set_cookie(&browser.post("/set/n/1").await), None);
}

#[tokio::test]
async fn a_cookie_sealed_under_a_retired_key_still_opens_and_is_resealed_on_write() {
    let old = app(SessionLayer::builder(keys(&[OLD_KEY])).build().unwrap());
    let mut browser = Browser::new(old);
    browser.post("/set/n/1").await;
    let under_old_key = browser.cookie.clone();

    browser.app = app(SessionLayer::builder(keys(&[KEY, OLD_KEY]))
        .build()
        .unwrap());
    assert_eq!(browser.get("/").await, "n=Int(1)");
    browser.post("/set/n/2").await;
    assert_ne!(browser.cookie, under_old_key);

    // The new cookie is sealed under the new key alone.
    browser.app = app(SessionLayer::builder(keys(&[KEY])).build().unwrap());
    assert_eq!(browser.get("/").await, "n=Int(2)");
    browser.cookie = under_old_key;
    assert_eq!(browser.get("/").await, "");
}

#[tokio::test]
async fn a_tampered_or_foreign_cookie_is_a_fresh_session() {
    let mut browser = Browser::new(app(SessionLayer::builder(keys(&[KEY])).build().unwrap()));
    browser.post("/set/n/1").await;
    let mut cookie = browser.cookie.clone().unwrap();
    cookie.pop();
    cookie.push('A');
    for bad in [
        cookie,
        "session=x".into(),
        format!("session={}", "A".repeat(5000)),
    ] {
        browser.cookie = Some(bad);
        let (response, body) = browser.send("GET", "/").await;
        assert_eq!((response.status(), body.as_str()), (StatusCode::OK, ""));
    }
}

#[tokio::test]
async fn an_expired_session_is_empty_whatever_the_browser_keeps() {
    let layer = SessionLayer::builder(keys(&[KEY]))
        .max_age(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let mut browser = Browser::new(app(layer));
    browser.post("/set/n/1").await;
    assert_eq!(browser.get("/").await, "n=Int(1)");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(browser.get("/").await, "");
}

#[tokio::test]
async fn a_store_session_signed_out_is_not_written_back_by_a_slower_request() {
    let store = Arc::new(MemoryStore::new());
    let layer = SessionLayer::builder(keys(&[KEY]))
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    // A slow request opens the session, the user signs out meanwhile, then it writes.
    let opened = Arc::new(tokio::sync::Notify::new());
    let proceed = Arc::new(tokio::sync::Notify::new());
    let slow = {
        let (opened, proceed) = (Arc::clone(&opened), Arc::clone(&proceed));
        Router::new().route(
            "/slow",
            post(move |session: Session| async move {
                opened.notify_one();
                proceed.notified().await;
                session.insert("late", &1).unwrap();
            }),
        )
    };
    let router = app_with(layer, slow);
    let mut browser = Browser::new(router.clone());
    browser.post("/set/n/1").await;
    let cookie = browser.cookie.clone();
    assert_eq!(
        browser.cookie.as_ref().unwrap().len(),
        "session=".len() + 43
    );

    let mut slow_browser = Browser::new(router.clone());
    slow_browser.cookie = cookie.clone();
    let slow = tokio::spawn(async move { slow_browser.post("/slow").await });
    opened.notified().await;
    browser.post("/logout").await;
    proceed.notify_one();
    let response = slow.await.unwrap();
    assert_eq!(set_cookie(&response), None);

    let mut replay = Browser::new(router);
    replay.cookie = cookie;
    assert_eq!(replay.get("/").await, "");
    assert_eq!(store.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_writes_to_one_store_session_keep_every_key() {
    let store = Arc::new(MemoryStore::new());
    let router = app(SessionLayer::builder(keys(&[KEY]))
        .store(store)
        .build()
        .unwrap());
    let mut browser = Browser::new(router.clone());
    browser.post("/set/seed/0").await;
    let writes: Vec<_> = (0..20)
        .map(|i| {
            let mut writer = Browser::new(router.clone());
            writer.cookie = browser.cookie.clone();
            tokio::spawn(async move { writer.post(&format!("/set/k{i:02}/{i}")).await })
        })
        .collect();
    for write in writes {
        assert_eq!(write.await.unwrap().status(), StatusCode::OK);
    }
    let expected: Vec<String> = (0..20).map(|i| format!("k{i:02}=Int({i})")).collect();
    assert_eq!(
        browser.get("/").await,
        format!("{},seed=Int(0)", expected.join(","))
    );
}

#[tokio::test]
async fn bind_user_needs_an_indexed_store_and_then_lists_the_session() {
    let mut cookie_only = Browser::new(app(SessionLayer::builder(keys(&[KEY])).build().unwrap()));
    let (_, body) = cookie_only.send("POST", "/login").await;
    assert_eq!(body, Error::NoUserIndex { store: false }.to_string());

    let store = Arc::new(MemoryStore::new());
    let mut browser = Browser::new(app(SessionLayer::builder(keys(&[KEY]))
        .indexed_store(Arc::clone(&store))
        .build()
        .unwrap()));
    let (_, body) = browser.send("POST", "/login").await;
    assert_eq!(body, "bound");
    assert_eq!(
        browser.get("/").await,
        "_bound_user=Dict([(Str(\"id\"), Str(\"ada\")), (Str(\"user_agent\"), Str(\"test agent\"))])"
    );
    let ada = UserKeys::new(&keys(&[KEY]), "ada").unwrap();
    let listed = users::sessions_for_user(&*store, &ada).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user_agent.as_deref(), Some("test agent"));
    browser.post("/logout").await;
    assert!(users::sessions_for_user(&*store, &ada)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn flashes_are_stored_as_python_stores_them_and_read_once() {
    async fn flash(session: Session) {
        session.flash("info", "saved");
        session.flash("error", "oops");
    }
    async fn errors(session: Session) -> String {
        format!("{:?}", session.flashes_of("error"))
    }
    let extra = Router::new()
        .route("/flash", post(flash))
        .route("/errors", get(errors));
    let router = app_with(SessionLayer::builder(keys(&[KEY])).build().unwrap(), extra);
    let mut browser = Browser::new(router);
    browser.post("/flash").await;
    let list = |pairs: &[(&str, &str)]| {
        Value::List(
            pairs
                .iter()
                .map(|(c, m)| Value::List(vec![Value::Str((*c).into()), Value::Str((*m).into())]))
                .collect(),
        )
    };
    assert_eq!(
        browser.get("/").await,
        format!(
            "_flashes={:?}",
            list(&[("info", "saved"), ("error", "oops")])
        )
    );
    assert!(browser.get("/errors").await.contains("oops"));
    assert_eq!(browser.get("/errors").await, "[]");
    assert_eq!(
        browser.get("/").await,
        format!("_flashes={:?}", list(&[("info", "saved")]))
    );
}

#[tokio::test]
async fn without_the_layer_the_extractor_is_a_500_not_a_panic() {
    let router = Router::new().route("/", get(view));
    let response = router
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// A store that is down.
struct Down;

impl SessionStore for Down {
    async fn load(&self, _: &SessionId) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unavailable {
            store: "down://".into(),
            cause: "connection refused".into(),
        })
    }
    async fn save(&self, _: &SessionId, _: &[u8], _: Duration) -> Result<(), StoreError> {
        self.load(&SessionId::random()).await.map(|_| ())
    }
    async fn replace(
        &self,
        _: &SessionId,
        _: &[u8],
        _: &[u8],
        _: Duration,
    ) -> Result<Swap, StoreError> {
        self.load(&SessionId::random()).await.map(|_| Swap::Done)
    }
    async fn delete(&self, _: &SessionId) -> Result<(), StoreError> {
        self.load(&SessionId::random()).await.map(|_| ())
    }
}

#[tokio::test]
async fn a_store_outage_is_a_503_with_retry_after_for_handlers_that_use_the_session() {
    let layer = SessionLayer::builder(keys(&[KEY]))
        .store(Arc::new(Down))
        .build()
        .unwrap();
    let mut browser = Browser::new(app(layer));
    let response = browser.post("/set/n/1").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    let (response, body) = browser.send("GET", "/untouched").await;
    assert_eq!(
        (response.status(), body.as_str()),
        (StatusCode::OK, "hello")
    );
}

#[tokio::test]
async fn a_session_too_large_for_its_cookie_is_a_500_never_a_cookie_the_browser_drops() {
    async fn big(session: Session) {
        session.insert("blob", &"x".repeat(5000)).unwrap();
    }
    let layer = SessionLayer::builder(keys(&[KEY])).build().unwrap();
    let mut browser = Browser::new(app_with(layer, Router::new().route("/big", post(big))));
    let response = browser.post("/big").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(set_cookie(&response), None);
}

#[tokio::test]
async fn a_used_session_varies_on_cookie_and_a_new_cookie_is_never_cached() {
    let cached = Router::new().route(
        "/cached/{key}/{value}",
        post(
            |session: Session, Path((key, value)): Path<(String, i64)>| async move {
                session.insert(&key, &value).unwrap();
                ([(header::CACHE_CONTROL, "public, max-age=60")], "ok")
            },
        ),
    );
    let layer = SessionLayer::builder(keys(&[KEY])).build().unwrap();
    let mut browser = Browser::new(app_with(layer, cached));
    let header = |response: &Response, name| {
        let values = response.headers().get_all(name).iter();
        values
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let written = browser.post("/set/n/1").await;
    assert_eq!(header(&written, header::VARY), ["Cookie"]);
    assert_eq!(
        header(&written, header::CACHE_CONTROL),
        ["private, no-store"]
    );
    let (read, _) = browser.send("GET", "/").await;
    assert_eq!(header(&read, header::VARY), ["Cookie"]);
    assert!(header(&read, header::CACHE_CONTROL).is_empty());
    let (untouched, _) = browser.send("GET", "/untouched").await;
    assert!(header(&untouched, header::VARY).is_empty());
    let own = browser.post("/cached/m/2").await;
    assert!(set_cookie(&own).is_some());
    assert_eq!(header(&own, header::CACHE_CONTROL), ["public, max-age=60"]);
    let signed_out = browser.post("/logout").await;
    assert_eq!(
        header(&signed_out, header::CACHE_CONTROL),
        ["private, no-store"]
    );
}
