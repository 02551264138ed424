//! Per-request overhead of scsession-axum against tower-sessions 0.15, in process.
//!
//! Every variant is the same axum `Router` (same routes, same order) with a different session
//! layer: `bare` (none), `scsession-cookie`, `scsession-memory`, `scsession-redis`,
//! `tower-sessions-memory` and `tower-sessions-redis`. The Redis variants share one
//! redis-server that this bench starts on a free loopback port and stops at the end.
//!
//! Scenarios: `read` (cookie sent, the handler reads one key), `write` (cookie sent, a key set
//! to a new value), `new` (no cookie, one key set), `untouched` (cookie sent, the handler never
//! looks at the session). The cookie of each variant comes from its `/seed` route, which stores
//! a small realistic session (an int, a string, a cart of 3 items). Before timing, each variant
//! is checked (status, the seeded value reads back, writes send a `Set-Cookie`, scsession sends
//! none on read and untouched).
//!
//! Method: requests go through `tower::ServiceExt::oneshot` on a clone of the router, awaited
//! one after another on a single-threaded tokio runtime; no HTTP. Batches are timed with the
//! wall clock (the Redis variants wait for the server too). Variants are interleaved: each
//! round runs one batch per (scenario, variant), the order rotating; a cell's overhead is the
//! median over rounds of (variant - bare) from the same round, which cancels slow drift on a
//! noisy machine.
//!
//! Usage: `cargo run --release -p scsession-axum-bench -- [--quick] [--rounds N]
//! [--batch-ms MS]`.

mod ts_redis;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt;
use scsession_axum::store::{MemoryStore, RedisStore, Timeouts};
use scsession_axum::{KeyRing, Mode, SessionLayer};
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

const SECRET: &str = "bench-secret-0000000000000000000000000000";
const SCENARIOS: [&str; 4] = ["read", "write", "new", "untouched"];
static COUNTER: AtomicI64 = AtomicI64::new(0);

#[derive(Serialize, Deserialize, Clone)]
struct Item {
    sku: String,
    qty: u32,
    price: f64,
}

fn cart() -> Vec<Item> {
    ["tea", "cake", "jam"]
        .iter()
        .zip(1u32..)
        .map(|(sku, qty)| Item {
            sku: (*sku).to_owned(),
            qty,
            price: 2.5 * f64::from(qty),
        })
        .collect()
}

fn next() -> i64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

// --- the apps -------------------------------------------------------------------------------

mod bare {
    pub async fn seed() -> &'static str {
        "seeded"
    }
    pub async fn read() -> String {
        "42".to_owned()
    }
    pub async fn write() -> String {
        super::next().to_string()
    }
    pub async fn untouched() -> &'static str {
        "untouched"
    }
}

mod sc {
    use scsession_axum::Session;
    pub async fn seed(session: Session) -> &'static str {
        session.insert("user_id", &42).unwrap();
        session.insert("name", "Ada Lovelace").unwrap();
        session.insert("cart", &super::cart()).unwrap();
        "seeded"
    }
    pub async fn read(session: Session) -> String {
        session.get::<i64>("user_id").unwrap().unwrap().to_string()
    }
    pub async fn write(session: Session) -> String {
        let n = super::next();
        session.insert("counter", &n).unwrap();
        n.to_string()
    }
}

mod ts {
    use tower_sessions::Session;
    pub async fn seed(session: Session) -> &'static str {
        session.insert("user_id", 42).await.unwrap();
        session.insert("name", "Ada Lovelace").await.unwrap();
        session.insert("cart", super::cart()).await.unwrap();
        "seeded"
    }
    pub async fn read(session: Session) -> String {
        session
            .get::<i64>("user_id")
            .await
            .unwrap()
            .unwrap()
            .to_string()
    }
    pub async fn write(session: Session) -> String {
        let n = super::next();
        session.insert("counter", n).await.unwrap();
        n.to_string()
    }
}

fn bare_app() -> Router {
    Router::new()
        .route("/seed", post(bare::seed))
        .route("/read", get(bare::read))
        .route("/write", post(bare::write))
        .route("/new", post(bare::write))
        .route("/untouched", get(bare::untouched))
}

fn scsession_app<M: Mode>(layer: SessionLayer<M>) -> Router {
    Router::new()
        .route("/seed", post(sc::seed))
        .route("/read", get(sc::read))
        .route("/write", post(sc::write))
        .route("/new", post(sc::write))
        .route("/untouched", get(bare::untouched))
        .layer(layer)
}

fn tower_sessions_app<S: tower_sessions::SessionStore + Clone>(store: S) -> Router {
    Router::new()
        .route("/seed", post(ts::seed))
        .route("/read", get(ts::read))
        .route("/write", post(ts::write))
        .route("/new", post(ts::write))
        .route("/untouched", get(bare::untouched))
        .layer(tower_sessions::SessionManagerLayer::new(store))
}

fn scsession_layer() -> scsession_axum::SessionLayerBuilder {
    SessionLayer::builder(KeyRing::new(&[SECRET]).expect("a 32-byte secret"))
}

// --- a redis-server of our own --------------------------------------------------------------

/// redis-server on a free loopback port, killed when dropped.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("redis-server");
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("cannot run redis-server ({e}): apt-get install redis-server, or `make bench`, whose Python part installs it")
            })?;
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("redis-server did not answer on port {port}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- requests -------------------------------------------------------------------------------

struct Variant {
    name: &'static str,
    router: Router,
    /// The `Cookie` header the seed produced.
    cookie: Option<HeaderValue>,
}

fn request(scenario: &str, cookie: Option<&HeaderValue>) -> Request<Body> {
    let method = if matches!(scenario, "read" | "untouched") {
        "GET"
    } else {
        "POST"
    };
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("/{scenario}"));
    if let (Some(cookie), false) = (cookie, scenario == "new") {
        builder = builder.header(header::COOKIE, cookie.clone());
    }
    builder.body(Body::empty()).expect("a valid request")
}

async fn send(v: &Variant, scenario: &str) -> Response<Body> {
    v.router
        .clone()
        .oneshot(request(scenario, v.cookie.as_ref()))
        .await
        .expect("axum routers do not fail")
}

fn set_cookie(response: &Response<Body>) -> Option<HeaderValue> {
    let value = response.headers().get(header::SET_COOKIE)?.to_str().ok()?;
    let pair = value.split(';').next()?;
    HeaderValue::from_str(pair).ok()
}

/// Seeds the variant's session and checks every scenario behaves; panics if not.
async fn seed_and_check(v: &mut Variant) {
    let seeded = send(v, "seed").await;
    assert_eq!(seeded.status(), StatusCode::OK, "{}: seed", v.name);
    v.cookie = set_cookie(&seeded).or_else(|| Some(HeaderValue::from_static("dummy=x")));
    if v.name != "bare" {
        assert!(
            set_cookie(&seeded).is_some(),
            "{}: seed sets a cookie",
            v.name
        );
    }
    for scenario in SCENARIOS {
        let response = send(v, scenario).await;
        assert_eq!(response.status(), StatusCode::OK, "{}: {scenario}", v.name);
        let cookie = set_cookie(&response);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        if scenario == "read" {
            assert_eq!(body, "42", "{}: the seeded value reads back", v.name);
        }
        if v.name == "bare" {
            continue;
        }
        match scenario {
            "new" => assert!(cookie.is_some(), "{}: a new session sets a cookie", v.name),
            "write" if v.name.starts_with("scsession") => {
                assert!(cookie.is_some(), "{}: a write sends a cookie", v.name);
            }
            "read" | "untouched" if v.name.starts_with("scsession") => {
                assert!(cookie.is_none(), "{}: {scenario} sends no cookie", v.name);
            }
            _ => {}
        }
        if scenario == "write" && v.name.starts_with("scsession-cookie") {
            v.cookie = cookie; // the sealed data changed
        }
    }
}

/// µs per request of `n` requests: (wall clock, CPU time of this process).
async fn batch(v: &Variant, scenario: &str, n: u32) -> (f64, f64) {
    let cpu = cpu_time::ProcessTime::now();
    let start = Instant::now();
    for _ in 0..n {
        let response = send(v, scenario).await;
        debug_assert_eq!(response.status(), StatusCode::OK);
        drop(response);
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    (per(start.elapsed()), per(cpu.elapsed()))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 0 {
        f64::midpoint(values[mid - 1], values[mid])
    } else {
        values[mid]
    }
}

struct Options {
    rounds: usize,
    batch: Duration,
    /// `--profile VARIANT SCENARIO`: only loop that cell for a few seconds (for `perf record`).
    profile: Option<(String, String)>,
}

fn options() -> Options {
    let mut options = Options {
        rounds: 7,
        batch: Duration::from_millis(150),
        profile: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => {
                options.rounds = 2;
                options.batch = Duration::from_millis(20);
            }
            "--rounds" => options.rounds = args.next().and_then(|a| a.parse().ok()).unwrap_or(7),
            "--batch-ms" => {
                let ms = args.next().and_then(|a| a.parse().ok()).unwrap_or(150);
                options.batch = Duration::from_millis(ms);
            }
            "--profile" => {
                let variant = args.next().unwrap_or_default();
                options.profile = Some((variant, args.next().unwrap_or_default()));
            }
            other => {
                eprintln!(
                    "unknown option {other}: --quick, --rounds N, --batch-ms MS, --profile VARIANT SCENARIO"
                );
                std::process::exit(2);
            }
        }
    }
    options
}

async fn variants(redis_url: &str) -> Result<Vec<Variant>, Box<dyn std::error::Error>> {
    let redis = RedisStore::new(
        redis_url,
        false,
        "bench-scsession:",
        Timeouts::default(),
        None,
    )?;
    let config = fred::prelude::Config::from_url(redis_url)?;
    let pool = fred::prelude::Pool::new(config, None, None, None, 1)?;
    fred::prelude::ClientLike::init(&pool).await?;
    let apps = [
        ("bare", bare_app()),
        (
            "scsession-cookie",
            scsession_app(scsession_layer().build()?),
        ),
        (
            "scsession-memory",
            scsession_app(
                scsession_layer()
                    .store(Arc::new(MemoryStore::new()))
                    .build()?,
            ),
        ),
        (
            "tower-sessions-memory",
            tower_sessions_app(tower_sessions::MemoryStore::default()),
        ),
        (
            "scsession-redis",
            scsession_app(scsession_layer().store(Arc::new(redis)).build()?),
        ),
        (
            "tower-sessions-redis",
            tower_sessions_app(ts_redis::RedisStore::new(pool)),
        ),
    ];
    Ok(apps
        .into_iter()
        .map(|(name, router)| Variant {
            name,
            router,
            cookie: None,
        })
        .collect())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let options = options();
    let redis = RedisServer::start()?;
    let mut variants = variants(&redis.url()).await?;
    for v in &mut variants {
        seed_and_check(v).await;
    }
    if let Some((name, scenario)) = &options.profile {
        let v = variants
            .iter()
            .find(|v| v.name == name)
            .ok_or("no such variant")?;
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < Duration::from_secs(5) {
            batch(v, scenario, 1000).await;
            n += 1000;
        }
        println!(
            "{name} {scenario}: {:.2} µs",
            start.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
        return Ok(());
    }
    // Batch sizes: about `options.batch` per batch for each (variant, scenario).
    let mut sizes = vec![[0u32; 4]; variants.len()];
    for (v, size) in variants.iter().zip(&mut sizes) {
        for (s, scenario) in SCENARIOS.iter().enumerate() {
            let per = batch(v, scenario, 50).await.0.max(0.05);
            #[allow(clippy::cast_sign_loss)] // positive, and clamped
            let n = (options.batch.as_secs_f64() * 1e6 / per) as u32;
            size[s] = n.clamp(20, 200_000);
        }
    }
    // times[variant][scenario][round], µs per request: wall clock and CPU time.
    let mut times = vec![vec![Vec::new(); SCENARIOS.len()]; variants.len()];
    let mut cpu = times.clone();
    for round in 0..options.rounds {
        for (s, scenario) in SCENARIOS.iter().enumerate() {
            for k in 0..variants.len() {
                let i = (k + round) % variants.len();
                let (wall, cpu_time) = batch(&variants[i], scenario, sizes[i][s]).await;
                times[i][s].push(wall);
                cpu[i][s].push(cpu_time);
            }
        }
    }
    let title = "per-request overhead over a bare handler, wall clock";
    let worst = report(&variants, &times, title, &options);
    let title = "the same in CPU time of this process (without the time redis-server takes)";
    report(&variants, &cpu, title, &options);
    let verdict = if worst <= 0.5 { "met" } else { "MISSED" };
    println!(
        "\nratio = scsession overhead / tower-sessions overhead (target, wall clock: at most 0.5): \
         worst {worst:.2}, {verdict}"
    );
    drop(redis);
    Ok(())
}

/// Prints one table; returns the worst ratio.
fn report(variants: &[Variant], times: &[Vec<Vec<f64>>], title: &str, options: &Options) -> f64 {
    let index = |name: &str| {
        variants
            .iter()
            .position(|v| v.name == name)
            .expect("a variant")
    };
    let overhead = |name: &str, s: usize| {
        let (i, bare) = (index(name), index("bare"));
        let mut diffs: Vec<f64> = times[i][s]
            .iter()
            .zip(&times[bare][s])
            .map(|(t, b)| t - b)
            .collect();
        median(&mut diffs)
    };
    println!(
        "\n### axum: {title} (µs; median of {} rounds, in process)\n",
        options.rounds
    );
    println!(
        "| scenario | bare | scsession-cookie | scsession-memory | tower-sessions-memory | memory ratio | scsession-redis | tower-sessions-redis | redis ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut worst: f64 = 0.0;
    for (s, scenario) in SCENARIOS.iter().enumerate() {
        let bare = median(&mut times[index("bare")][s].clone());
        let cells: Vec<f64> = [
            "scsession-cookie",
            "scsession-memory",
            "tower-sessions-memory",
            "scsession-redis",
            "tower-sessions-redis",
        ]
        .iter()
        .map(|name| overhead(name, s))
        .collect();
        let ratio = |sc: f64, ts: f64| if ts > 0.0 { sc.max(0.0) / ts } else { f64::NAN };
        let (memory, redis) = (ratio(cells[1], cells[2]), ratio(cells[3], cells[4]));
        worst = worst.max(memory).max(redis);
        println!(
            "| {scenario} | {bare:.2} | {:.2} | {:.2} | {:.2} | {memory:.2} | {:.2} | {:.2} | {redis:.2} |",
            cells[0], cells[1], cells[2], cells[3], cells[4]
        );
    }
    worst
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}
