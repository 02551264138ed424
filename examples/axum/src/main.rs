//! scsession sessions in an axum app, shared with the Python middleware (same secret, same
//! cookie, same store). `cargo run -p scsession-axum-example`, then open <http://127.0.0.1:3000/>.
//!
//! Environment: `SESSION_SECRET` (32+ bytes; a random one if unset), `SCSESSION_STORE`
//! (`cookie`, default; `memory`, `redis`, `postgres`), `SCSESSION_STORE_URL` (for redis and
//! postgres) and `ADDR` (default `127.0.0.1:3000`).

use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::routing::{get, post};
use axum::{Json, Router};
use scsession_axum::store::{RedisStore, SqlStore, Timeouts, DEFAULT_SQL_TABLE};
use scsession_axum::{store::MemoryStore, KeyRing, Mode, Session, SessionLayer};
use serde_json::{Map, Value};

async fn home(session: Session) -> String {
    let visits: u64 = session.get("visits").ok().flatten().unwrap_or(0) + 1;
    session
        .insert("visits", &visits)
        .expect("a number fits in a session");
    let user = session.get::<String>("user").ok().flatten();
    let flashes: Vec<String> = session.flashes().into_iter().map(|f| f.message).collect();
    format!("visit {visits}, user {user:?}, messages {flashes:?}\n")
}

/// The whole session as JSON.
async fn show(session: Session) -> Json<Map<String, Value>> {
    let keys = session.keys();
    Json(
        keys.into_iter()
            .filter_map(|k| Some((k.clone(), session.get(&k).ok()??)))
            .collect(),
    )
}

async fn set(session: Session, Path(key): Path<String>, Json(value): Json<Value>) {
    session
        .insert(&key, &value)
        .expect("JSON values fit in a session");
}

#[derive(serde::Deserialize)]
struct Message {
    category: String,
    message: String,
}

async fn flash(session: Session, Query(m): Query<Message>) {
    session.flash(&m.category, &m.message);
}

async fn flashes(session: Session) -> Json<Vec<(String, String)>> {
    Json(
        session
            .flashes()
            .into_iter()
            .map(|f| (f.category, f.message))
            .collect(),
    )
}

/// Sign-in: a new id (session fixation), then the user, in the per-user index with a store.
async fn login(session: Session, Path(user): Path<String>) {
    session.regenerate();
    let _ = session.bind_user(&user, Some("scsession-axum-example")); // cookie mode: no index
    session
        .insert("user", &user)
        .expect("a string fits in a session");
}

async fn logout(session: Session) {
    session.invalidate();
}

fn app<M: Mode>(layer: SessionLayer<M>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/session", get(show))
        .route("/session/{key}", post(set))
        .route("/flash", post(flash))
        .route("/flashes", get(flashes))
        .route("/login/{user}", post(login))
        .route("/logout", post(logout))
        .layer(layer)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SESSION_SECRET").unwrap_or_else(|_| {
        eprintln!("SESSION_SECRET is not set: a random one (sessions end with this server)");
        scsession_axum::SessionId::random().to_string().repeat(2)
    });
    let builder = SessionLayer::builder(KeyRing::new(&[secret])?);
    let url = std::env::var("SCSESSION_STORE_URL").unwrap_or_default();
    let store = std::env::var("SCSESSION_STORE").unwrap_or_else(|_| "cookie".into());
    let router = match store.as_str() {
        "cookie" => app(builder.build()?),
        "memory" => app(builder
            .indexed_store(Arc::new(MemoryStore::new()))
            .build()?),
        "redis" => {
            let redis = RedisStore::new(&url, false, "scsession:", Timeouts::default(), None)?;
            app(builder.indexed_store(Arc::new(redis)).build()?)
        }
        "postgres" => {
            let sql = SqlStore::new(&url, DEFAULT_SQL_TABLE, Timeouts::default())?;
            app(builder.indexed_store(Arc::new(sql)).build()?)
        }
        other => {
            return Err(
                format!("SCSESSION_STORE={other}: cookie, memory, redis or postgres").into(),
            )
        }
    };
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "scsession axum example ({store} sessions) on http://{}/",
        listener.local_addr()?
    );
    axum::serve(listener, router).await?;
    Ok(())
}
