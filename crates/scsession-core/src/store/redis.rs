//! Sessions in Redis (one node) or a Redis Cluster, with redis-rs.
//!
//! Each session is one string key, `{prefix}{id}`, with a `PX` expiry. `replace` is a Lua
//! script, so the version check and the write are one atomic step on the server; every command
//! touches a single key, so it runs unchanged on a cluster. A user's index is one hash,
//! `{prefix}user:{user key}`, field = session id, kept as long as its longest-lived entry.
//!
//! The connection is made on first use (a constructor cannot wait) and, once made, reconnects
//! by itself after an outage. Until then, each use tries again: the next request after the
//! server comes back works, with no restart.

use core::future::Future;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    Client, Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Script, TlsCertificates, Value,
};
use tokio::sync::OnceCell;

use super::net::{bounded, mask_url, Masked, Timeouts};
use super::{SessionStore, StoreError, Swap, UserIndex, UserKey};
use crate::id::SessionId;

/// `KEYS[1]` = the session key, `ARGV` = version, new blob, time to live in ms.
/// Returns 2 when replaced, 1 when another write came first, 0 when missing.
const REPLACE: &str = r"
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if string.sub(current, 1, string.len(ARGV[1])) ~= ARGV[1] then return 1 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 2
";

/// `KEYS[1]` = a user's index, `ARGV` = session id, entry, time to live in ms. Adds the entry
/// and makes the index live at least that long (Redis 7.0 has no expiry per hash field).
const INDEX_PUT: &str = r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
";

#[derive(Clone)]
enum Connection {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Sessions in Redis or Redis Cluster.
pub struct RedisStore {
    nodes: Vec<String>,
    cluster: bool,
    /// The URL with its password masked (what messages show), and the secrets to scrub from
    /// any error text.
    masked: Masked,
    prefix: String,
    timeouts: Timeouts,
    /// PEM certificates to trust for `rediss://` instead of the system's CAs.
    tls_ca: Option<Vec<u8>>,
    connection: OnceCell<Connection>,
    replace: Script,
    index_put: Script,
}

impl core::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.masked.name())
            .field("cluster", &self.cluster)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url`: `redis://[user:password@]host:port/db`, or `rediss://` for TLS (the
    /// server's certificate is checked against the system's CAs, or against `tls_ca`, PEM, when
    /// given). With `cluster`, `url` lists the seed nodes: `redis://a:7000,b:7001,c:7002`.
    /// Keys are `{prefix}{id}`. Nothing is connected until first use.
    pub fn new(
        url: &str,
        cluster: bool,
        prefix: &str,
        timeouts: Timeouts,
        tls_ca: Option<Vec<u8>>,
    ) -> Result<Self, StoreError> {
        let masked = Masked::new(url);
        let nodes = if cluster {
            cluster_nodes(url)
        } else {
            vec![url.to_owned()]
        };
        for node in &nodes {
            // Parse now, so that a bad URL fails at startup and not at the first request.
            redis::parse_redis_url(node).ok_or_else(|| {
                masked.message(format_args!(
                    "{} is not a Redis URL (expected redis://host:port/db{}; percent-encode \
                     a password's / ? # @ and : as %2F %3F %23 %40 %3A)",
                    mask_url(node),
                    if cluster {
                        ", or a comma-separated list of host:port"
                    } else {
                        ""
                    }
                ))
            })?;
        }
        if tls_ca.is_some() && !url.starts_with("rediss://") {
            return Err(masked.message(format_args!(
                "a TLS certificate authority was given for {masked}: use a rediss:// URL"
            )));
        }
        Ok(Self {
            nodes,
            cluster,
            masked,
            prefix: prefix.to_owned(),
            timeouts,
            tls_ca,
            connection: OnceCell::new(),
            replace: Script::new(REPLACE),
            index_put: Script::new(INDEX_PUT),
        })
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.prefix)
    }

    fn user_key(&self, user: &UserKey) -> String {
        format!("{}user:{user}", self.prefix)
    }

    fn error(&self, err: &RedisError) -> StoreError {
        if err.is_io_error()
            || err.is_connection_refusal()
            || err.is_timeout()
            || err.is_connection_dropped()
            || err.is_cluster_error()
            // Every node of a cluster down: the client has no connection left to try.
            || err.kind() == redis::ErrorKind::ClusterConnectionNotFound
        {
            self.masked.unavailable(err)
        } else {
            self.masked.backend(err)
        }
    }

    fn certificates(&self) -> Option<TlsCertificates> {
        self.tls_ca.as_ref().map(|ca| TlsCertificates {
            client_tls: None,
            root_cert: Some(ca.clone()),
        })
    }

    async fn connect(&self) -> Result<Connection, StoreError> {
        let timeouts = self.timeouts;
        let connection = if self.cluster {
            let mut builder = ClusterClientBuilder::new(self.nodes.iter().map(String::as_str))
                .connection_timeout(timeouts.connect)
                .response_timeout(timeouts.operation)
                .retries(2);
            if let Some(certs) = self.certificates() {
                builder = builder.certs(certs);
            }
            let client = builder.build().map_err(|e| self.error(&e))?;
            Connection::Cluster(
                client
                    .get_async_connection()
                    .await
                    .map_err(|e| self.error(&e))?,
            )
        } else {
            let node = self.nodes[0].as_str();
            let client = match self.certificates() {
                Some(certs) => Client::build_with_tls(node, certs),
                None => Client::open(node),
            }
            .map_err(|e| self.error(&e))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeouts.connect))
                .set_response_timeout(Some(timeouts.operation))
                .set_number_of_retries(1);
            Connection::Node(
                ConnectionManager::new_with_config(client, config)
                    .await
                    .map_err(|e| self.error(&e))?,
            )
        };
        Ok(connection)
    }

    /// Runs `command` on the connection (connecting first if needed), within the time limits.
    async fn run<T, F, Fut>(&self, command: F) -> Result<T, StoreError>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let limit = self.timeouts.connect + self.timeouts.operation;
        bounded(self.masked.name(), limit, async {
            let connection = self.connection.get_or_try_init(|| self.connect()).await?;
            command(connection.clone())
                .await
                .map_err(|e| self.error(&e))
        })
        .await
    }
}

/// One URL per node of `redis://[auth@]a:1,b:2[/db]`.
fn cluster_nodes(url: &str) -> Vec<String> {
    let (scheme, rest) = url.split_at(url.find("://").map_or(0, |i| i + 3));
    let (auth, hosts) = match rest.rfind('@') {
        Some(at) => rest.split_at(at + 1),
        None => ("", rest),
    };
    let hosts = hosts.split(['/', '?']).next().unwrap_or_default();
    hosts
        .split(',')
        .map(|host| format!("{scheme}{auth}{}", host.trim()))
        .collect()
}

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl SessionStore for RedisStore {
    async fn pause(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.key(id);
        self.run(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await
    }

    async fn save(&self, id: &SessionId, blob: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(id)).arg(blob).arg("PX").arg(millis(ttl));
        self.run(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    async fn replace(
        &self,
        id: &SessionId,
        version: &[u8],
        blob: &[u8],
        ttl: Duration,
    ) -> Result<Swap, StoreError> {
        let mut invocation = self.replace.key(self.key(id));
        invocation.arg(version).arg(blob).arg(millis(ttl));
        let outcome: i64 = self
            .run(|mut c| async move { invocation.invoke_async(&mut c).await })
            .await?;
        Ok(match outcome {
            2 => Swap::Done,
            1 => Swap::Stale,
            _ => Swap::Missing,
        })
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let key = self.key(id);
        self.run(|mut c| async move { redis::cmd("DEL").arg(key).query_async(&mut c).await })
            .await
    }
}

impl UserIndex for RedisStore {
    async fn index_put(
        &self,
        user: &UserKey,
        id: &SessionId,
        entry: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut invocation = self.index_put.key(self.user_key(user));
        invocation.arg(id.to_string()).arg(entry).arg(millis(ttl));
        self.run(|mut c| async move { invocation.invoke_async::<()>(&mut c).await })
            .await
    }

    async fn index_remove(&self, user: &UserKey, ids: &[SessionId]) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(self.user_key(user));
        for id in ids {
            cmd.arg(id.to_string());
        }
        self.run(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    async fn index_list(&self, user: &UserKey) -> Result<Vec<(SessionId, Vec<u8>)>, StoreError> {
        let key = self.user_key(user);
        let fields: Vec<(String, Vec<u8>)> = self
            .run(|mut c| async move { redis::cmd("HGETALL").arg(key).query_async(&mut c).await })
            .await?;
        // A field that is not a session id was not written by scsession: skipped.
        Ok(fields
            .into_iter()
            .filter_map(|(id, entry)| Some((id.parse().ok()?, entry)))
            .collect())
    }
}

use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};

use super::net::is_session_key;

/// Counting sessions, for `python -m scsession stats` (not part of [`SessionStore`]).
impl RedisStore {
    /// How many sessions are stored: keys that are the prefix and a session id, nothing more
    /// (other keys under the prefix, such as a per-user index, do not count). Found with
    /// `SCAN ... MATCH`, on the node or on every master of a cluster: a pass over the whole
    /// keyspace, for tools and not for requests. Each `SCAN` is bounded by the operation
    /// timeout, not the whole pass.
    pub async fn count(&self) -> Result<u64, StoreError> {
        let mut connection = bounded(
            self.masked.name(),
            self.timeouts.connect + self.timeouts.operation,
            self.connection.get_or_try_init(|| self.connect()),
        )
        .await?
        .clone();
        let nodes = match &mut connection {
            Connection::Node(_) => vec![None],
            Connection::Cluster(c) => self
                .masters(c)
                .await?
                .into_iter()
                .map(|(host, port)| {
                    Some(RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                        host,
                        port,
                    }))
                })
                .collect(),
        };
        let mut total = 0;
        for node in nodes {
            total += self.count_node(&mut connection, node).await?;
        }
        Ok(total)
    }

    /// Counts the session keys of one node with `SCAN` (until the cursor is 0 again): `node` of
    /// a cluster, or the connection's own node when `None`.
    async fn count_node(
        &self,
        connection: &mut Connection,
        node: Option<RoutingInfo>,
    ) -> Result<u64, StoreError> {
        // A session id is 22 characters: the prefix and 22 of anything, checked exactly below.
        let pattern = format!("{}{}", glob_escape(&self.prefix), "?".repeat(22));
        let (mut cursor, mut total) = (0u64, 0u64);
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let reply = match (&mut *connection, &node) {
                (Connection::Cluster(c), Some(node)) => c.route_command(scan, node.clone()).await,
                (c, _) => scan.query_async(c).await,
            };
            let (next, keys): (u64, Vec<Vec<u8>>) = reply
                .and_then(|reply| Ok(redis::from_redis_value(reply)?))
                .map_err(|e| self.error(&e))?;
            total += keys
                .iter()
                .filter(|key| is_session_key(key, &self.prefix))
                .count() as u64;
            if next == 0 {
                return Ok(total);
            }
            cursor = next;
        }
    }

    /// `(host, port)` of every master of the cluster, from `CLUSTER SLOTS`.
    async fn masters(&self, c: &mut ClusterConnection) -> Result<Vec<(String, u16)>, StoreError> {
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::RandomPrimary);
        let reply = c
            .route_command(redis::cmd("CLUSTER").arg("SLOTS").clone(), routing)
            .await
            .map_err(|e| self.error(&e))?;
        let unexpected = || {
            self.masked.backend(
                "CLUSTER SLOTS answered something other than slot ranges with their masters",
            )
        };
        let ranges: Vec<Vec<Value>> = redis::from_redis_value(reply).map_err(|_| unexpected())?;
        let mut masters = Vec::new();
        for range in ranges {
            // [start, end, [host, port, node id, ...], replicas...]
            let master = range.into_iter().nth(2).ok_or_else(unexpected)?;
            let fields: Vec<Value> = redis::from_redis_value(master).map_err(|_| unexpected())?;
            let mut fields = fields.into_iter();
            let (Some(host), Some(port)) = (fields.next(), fields.next()) else {
                return Err(unexpected());
            };
            let host: String = redis::from_redis_value(host).map_err(|_| unexpected())?;
            let port: u16 = redis::from_redis_value(port).map_err(|_| unexpected())?;
            if !masters.contains(&(host.clone(), port)) {
                masters.push((host, port));
            }
        }
        Ok(masters)
    }
}

/// `text` with Redis glob characters escaped, to match literally in `SCAN ... MATCH`.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_split_into_nodes() {
        assert_eq!(
            cluster_nodes("redis://a:7000,b:7001, c:7002"),
            ["redis://a:7000", "redis://b:7001", "redis://c:7002"]
        );
        assert_eq!(
            cluster_nodes("redis://:pw@a:1,b:2/0"),
            ["redis://:pw@a:1", "redis://:pw@b:2"]
        );
    }

    #[test]
    fn bad_urls_fail_at_construction_without_showing_the_password() {
        let err =
            RedisStore::new("http://:pw@x", false, "s:", Timeouts::default(), None).unwrap_err();
        assert!(err.to_string().contains("http://:***@x"), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
        assert!(RedisStore::new(
            "redis://127.0.0.1:1/0",
            false,
            "s:",
            Timeouts::default(),
            None
        )
        .is_ok());
        let ca = Some(b"-----BEGIN CERTIFICATE-----".to_vec());
        assert!(RedisStore::new("redis://h:1/0", false, "s:", Timeouts::default(), ca).is_err());
    }

    #[tokio::test]
    async fn a_server_that_is_down_is_an_outage_naming_the_masked_url() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let store = RedisStore::new(
            "redis://:pw@127.0.0.1:1/0",
            false,
            "s:",
            Timeouts::default(),
            None,
        )
        .unwrap();
        let err = store.load(&SessionId::random()).await.unwrap_err();
        let StoreError::Unavailable { store: name, cause } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(name, "redis://:***@127.0.0.1:1/0");
        assert!(!cause.is_empty());
    }

    #[test]
    fn glob_characters_of_the_prefix_match_literally() {
        assert_eq!(glob_escape("app:"), "app:");
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
