//! Sessions in PostgreSQL, MySQL/MariaDB or SQLite, with sqlx.
//!
//! One table, created on first use if missing (`table` defaults to `scsession_sessions`):
//!
//! | column | PostgreSQL | MySQL / MariaDB | SQLite |
//! |---|---|---|---|
//! | `id` (primary key) | `TEXT` | `CHAR(22)` ascii, case-sensitive | `TEXT` |
//! | `data`: the sealed record | `BYTEA` | `LONGBLOB` | `BLOB` |
//! | `version`: the record's [`record_version`](crate::seal::record_version) | `BYTEA` | `VARBINARY(64)` | `BLOB` |
//! | `expires_at`: unix seconds, indexed | `BIGINT` | `BIGINT` | `INTEGER` |
//!
//! The per-user index is a second table, `{table}_users`: `user_key` (the user's
//! [`UserKey`]), `id`, `entry` and `expires_at`, keyed by `(user_key, id)`.
//!
//! `replace` is one conditional `UPDATE ... WHERE id = ? AND version = ?`: the database applies
//! it atomically, so of two writers that loaded the same version only one succeeds. Expired rows
//! are invisible to every query and deleted by [`SqlStore::purge_expired`] (run it from cron:
//! `python -m scsession purge URL`).

use core::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row as _};
use tokio::sync::OnceCell;

use super::net::{bounded, Masked, Timeouts};
use super::{SessionStore, StoreError, Swap, UserIndex, UserKey};
use crate::id::SessionId;

/// The table used when none is given.
pub const DEFAULT_TABLE: &str = "scsession_sessions";
/// Connections per pool.
const MAX_CONNECTIONS: u32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

enum Pool {
    Postgres(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// Runs the same sqlx expression on whichever pool this is (sqlx is generic over databases).
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            Pool::Postgres($p) => $body,
            Pool::MySql($p) => $body,
            Pool::Sqlite($p) => $body,
        }
    };
}

/// The statements, in the dialect's placeholder style.
struct Statements {
    create: Vec<Sql>,
    load: Sql,
    save: Sql,
    replace: Sql,
    exists: Sql,
    delete: Sql,
    purge: Sql,
    count: Sql,
    index_put: Sql,
    index_remove: Sql,
    index_list: Sql,
    index_purge: Sql,
}

/// A statement. The only text spliced into statements is the table name, checked by
/// [`is_identifier`], so they are safe to run as they are.
#[derive(Clone, Debug)]
struct Sql(Arc<str>);

impl Sql {
    fn query(&self) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(Arc::clone(&self.0))
    }
}

impl Statements {
    fn new(dialect: Dialect, t: &str) -> Self {
        let (create, u) = (create_statements(dialect, t), format!("{t}_users"));
        let upsert = match dialect {
            Dialect::MySql => {
                "ON DUPLICATE KEY UPDATE data = VALUES(data), version = \
                               VALUES(version), expires_at = VALUES(expires_at)"
            }
            _ => {
                "ON CONFLICT (id) DO UPDATE SET data = excluded.data, version = \
                  excluded.version, expires_at = excluded.expires_at"
            }
        };
        let index_upsert = match dialect {
            Dialect::MySql => {
                "ON DUPLICATE KEY UPDATE entry = VALUES(entry), expires_at = VALUES(expires_at)"
            }
            _ => {
                "ON CONFLICT (user_key, id) DO UPDATE SET entry = excluded.entry, \
                  expires_at = excluded.expires_at"
            }
        };
        let statements = Raw {
            create,
            load: format!("SELECT data FROM {t} WHERE id = $1 AND expires_at > $2"),
            save: format!(
                "INSERT INTO {t} (id, data, version, expires_at) VALUES ($1, $2, $3, $4) {upsert}"
            ),
            replace: format!(
                "UPDATE {t} SET data = $1, version = $2, expires_at = $3 \
                 WHERE id = $4 AND version = $5 AND expires_at > $6"
            ),
            exists: format!("SELECT 1 FROM {t} WHERE id = $1 AND expires_at > $2"),
            delete: format!("DELETE FROM {t} WHERE id = $1"),
            purge: format!("DELETE FROM {t} WHERE expires_at <= $1"),
            count: format!("SELECT COUNT(*) FROM {t} WHERE expires_at > $1"),
            index_put: format!(
                "INSERT INTO {u} (user_key, id, entry, expires_at) VALUES ($1, $2, $3, $4) \
                 {index_upsert}"
            ),
            index_remove: format!("DELETE FROM {u} WHERE user_key = $1 AND id = $2"),
            index_list: format!(
                "SELECT id, entry FROM {u} WHERE user_key = $1 AND expires_at > $2"
            ),
            index_purge: format!("DELETE FROM {u} WHERE expires_at <= $1"),
        };
        let mysql = dialect == Dialect::MySql;
        // MySQL has only `?` placeholders; every statement above uses each `$n` once, in order.
        let fix = |s: String| {
            if !mysql {
                return Sql(s.into());
            }
            let mut out = String::with_capacity(s.len());
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            Sql(out.into())
        };
        Self {
            create: statements
                .create
                .into_iter()
                .map(|s| Sql(s.into()))
                .collect(),
            load: fix(statements.load),
            save: fix(statements.save),
            replace: fix(statements.replace),
            exists: fix(statements.exists),
            delete: fix(statements.delete),
            purge: fix(statements.purge),
            count: fix(statements.count),
            index_put: fix(statements.index_put),
            index_remove: fix(statements.index_remove),
            index_list: fix(statements.index_list),
            index_purge: fix(statements.index_purge),
        }
    }
}

/// The `CREATE` statements of the sessions table `t` and its per-user index `{t}_users`.
fn create_statements(dialect: Dialect, t: &str) -> Vec<String> {
    let u = format!("{t}_users");
    // `schema.table`: PostgreSQL and MySQL take index names unqualified (the index goes
    // with its table); SQLite qualifies the index and not the table.
    let n = t.rsplit('.').next().unwrap_or(t);
    match dialect {
        Dialect::Postgres => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, data BYTEA NOT NULL, \
                     version BYTEA NOT NULL, expires_at BIGINT NOT NULL)"
            ),
            format!("CREATE INDEX IF NOT EXISTS {n}_expires_at ON {t} (expires_at)"),
            format!(
                "CREATE TABLE IF NOT EXISTS {u} (user_key TEXT NOT NULL, id TEXT NOT NULL, \
                     entry BYTEA NOT NULL, expires_at BIGINT NOT NULL, \
                     PRIMARY KEY (user_key, id))"
            ),
            format!("CREATE INDEX IF NOT EXISTS {n}_users_expires_at ON {u} (expires_at)"),
        ],
        Dialect::MySql => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (id CHAR(22) CHARACTER SET ascii COLLATE \
                     ascii_bin NOT NULL PRIMARY KEY, data LONGBLOB NOT NULL, version \
                     VARBINARY(64) NOT NULL, expires_at BIGINT NOT NULL, \
                     INDEX {n}_expires_at (expires_at))"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {u} (user_key CHAR(43) CHARACTER SET ascii \
                     COLLATE ascii_bin NOT NULL, id CHAR(22) CHARACTER SET ascii COLLATE \
                     ascii_bin NOT NULL, entry BLOB NOT NULL, expires_at BIGINT NOT NULL, \
                     PRIMARY KEY (user_key, id), INDEX {n}_users_expires_at (expires_at))"
            ),
        ],
        Dialect::Sqlite => vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, data BLOB NOT NULL, \
                     version BLOB NOT NULL, expires_at INTEGER NOT NULL)"
            ),
            format!("CREATE INDEX IF NOT EXISTS {t}_expires_at ON {n} (expires_at)"),
            format!(
                "CREATE TABLE IF NOT EXISTS {u} (user_key TEXT NOT NULL, id TEXT NOT NULL, \
                     entry BLOB NOT NULL, expires_at INTEGER NOT NULL, \
                     PRIMARY KEY (user_key, id))"
            ),
            format!("CREATE INDEX IF NOT EXISTS {u}_expires_at ON {n}_users (expires_at)"),
        ],
    }
}

/// [`Statements`] as first written, with `$n` placeholders.
struct Raw {
    create: Vec<String>,
    load: String,
    save: String,
    replace: String,
    exists: String,
    delete: String,
    purge: String,
    count: String,
    index_put: String,
    index_remove: String,
    index_list: String,
    index_purge: String,
}

/// Sessions in a SQL database: PostgreSQL, MySQL/MariaDB or SQLite.
pub struct SqlStore {
    url: String,
    /// The URL as messages show it.
    masked: Masked,
    dialect: Dialect,
    statements: Statements,
    timeouts: Timeouts,
    /// The pool, with the table created: made on first use (a constructor cannot wait).
    pool: OnceCell<Pool>,
    /// The table, as given (checked by [`is_identifier`]).
    table: Box<str>,
}

impl core::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqlStore")
            .field("url", &self.masked.name())
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

/// Whether `table` is a plain SQL identifier (optionally `schema.table`): it goes into
/// statements as is, so nothing else is accepted.
fn is_identifier(table: &str) -> bool {
    let part = |p: &str| {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && p.len() <= 48
    };
    let mut parts = table.split('.');
    let ok = parts.next().is_some_and(part);
    ok && parts.clone().count() <= 1 && parts.all(part)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The whole second from which a row written now with `ttl` counts as expired (rows are live
/// while `expires_at > unix_now()`). Rounded up, so that a row lives at least `ttl`: rounded
/// down, a row written late in a second could expire up to a second early (a 1-second ttl
/// almost at once). A zero `ttl` is expired at once.
fn expires_at(ttl: Duration) -> i64 {
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(ttl);
    let round_up = !ttl.is_zero() && end.subsec_nanos() > 0;
    i64::try_from(end.as_secs() + u64::from(round_up)).unwrap_or(i64::MAX)
}

impl SqlStore {
    /// A store at `url`: `postgresql://user:password@host:port/db` (or `postgres://`),
    /// `mysql://…` (MariaDB too), or `sqlite:///path/to/sessions.db` (created if missing).
    /// `table` must be a plain identifier, optionally `schema.table`. Nothing is connected
    /// until first use.
    pub fn new(url: &str, table: &str, timeouts: Timeouts) -> Result<Self, StoreError> {
        let masked = Masked::new(url);
        let scheme = url.split(':').next().unwrap_or_default();
        let dialect = match scheme {
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            "sqlite" => Dialect::Sqlite,
            _ => {
                return Err(masked.message(format_args!(
                    "{masked} is not a database URL scscession knows: use postgresql://, \
                     mysql:// or sqlite:///path"
                )))
            }
        };
        if !is_identifier(table) {
            return Err(StoreError::Backend(format!(
                "table {table:?} is not a plain SQL identifier (letters, digits and _, \
                 optionally schema.table)"
            )));
        }
        let url = match url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => url.to_owned(),
        };
        Ok(Self {
            url,
            masked,
            dialect,
            statements: Statements::new(dialect, table),
            timeouts,
            pool: OnceCell::new(),
            table: table.into(),
        })
    }

    fn error(&self, err: &sqlx::Error) -> StoreError {
        match err {
            // sqlx keeps no cause for this one: say what it can mean.
            sqlx::Error::PoolTimedOut => self.masked.unavailable(format_args!(
                "no connection within {:.1} s (the server refused or did not answer, or \
                     every pooled connection stayed busy)",
                self.timeouts.connect.as_secs_f64()
            )),
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => self.masked.unavailable(err),
            _ => self.masked.backend(err),
        }
    }

    async fn connect(&self) -> Result<Pool, StoreError> {
        let connect = self.timeouts.connect;
        let pool = match self.dialect {
            Dialect::Postgres => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(connect)
                    .connect_lazy(&self.url)
                    .map_err(|e| self.error(&e))?,
            ),
            Dialect::MySql => Pool::MySql(
                MySqlPoolOptions::new()
                    .max_connections(MAX_CONNECTIONS)
                    .acquire_timeout(connect)
                    .connect_lazy(&self.url)
                    .map_err(|e| self.error(&e))?,
            ),
            Dialect::Sqlite => {
                let options = SqliteConnectOptions::from_str(&self.url)
                    .map_err(|e| self.error(&e))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(self.timeouts.operation);
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(MAX_CONNECTIONS)
                        .acquire_timeout(connect)
                        .connect_lazy_with(options),
                )
            }
        };
        for statement in &self.statements.create {
            on_pool!(&pool, p => sqlx::query(statement.query()).execute(p).await.map(drop))
                .map_err(|e| self.error(&e))?;
        }
        Ok(pool)
    }

    /// Runs `operation` on the pool (made, and the table created, on first use) within the
    /// time limits.
    async fn run<'a, T, Fut>(
        &'a self,
        operation: impl FnOnce(&'a Pool) -> Fut,
    ) -> Result<T, StoreError>
    where
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let limit = self.timeouts.connect + self.timeouts.operation;
        bounded(self.masked.name(), limit, async {
            let pool = self.pool.get_or_try_init(|| self.connect()).await?;
            operation(pool).await.map_err(|e| self.error(&e))
        })
        .await
    }

    /// Deletes the rows of expired sessions, and their entries in the per-user index; returns
    /// how many sessions.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let (q, index) = (
            self.statements.purge.query(),
            self.statements.index_purge.query(),
        );
        let now = unix_now();
        self.run(|pool| async move {
            on_pool!(pool, p => {
                sqlx::query(index).bind(now).execute(p).await?;
                sqlx::query(q).bind(now).execute(p).await.map(|r| r.rows_affected())
            })
        })
        .await
    }

    /// How many sessions are live.
    pub async fn count(&self) -> Result<u64, StoreError> {
        let q = self.statements.count.query();
        let now = unix_now();
        let n: i64 = self
            .run(|pool| async move {
                on_pool!(pool, p => sqlx::query(q).bind(now).fetch_one(p).await?.try_get(0))
            })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Whether a statement failed with SQLSTATE `code` only because a concurrent transaction won
/// (40001 serialization failure, which MySQL/MariaDB give a deadlock victim; 40P01 PostgreSQL's
/// deadlock): it was rolled back and may simply be tried again.
fn lost_to_a_conflict(code: Option<&str>) -> bool {
    matches!(code, Some("40001" | "40P01"))
}

impl SessionStore for SqlStore {
    async fn pause(&self, delay: Duration) {
        tokio::time::sleep(delay).await;
    }

    async fn load(&self, id: &SessionId) -> Result<Option<Vec<u8>>, StoreError> {
        let (q, id, now) = (self.statements.load.query(), id.to_string(), unix_now());
        self.run(|pool| async move {
            let row = on_pool!(pool, p => sqlx::query(q).bind(&id).bind(now).fetch_optional(p).await?
                .map(|row| row.try_get::<Vec<u8>, _>(0)));
            row.transpose()
        })
        .await
    }

    async fn save(&self, id: &SessionId, blob: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let (q, id) = (self.statements.save.query(), id.to_string());
        let version = crate::seal::record_version(blob);
        self.run(|pool| async move {
            on_pool!(pool, p => sqlx::query(q).bind(&id).bind(blob).bind(version)
                .bind(expires_at(ttl)).execute(p).await.map(drop))
        })
        .await
    }

    async fn replace(
        &self,
        id: &SessionId,
        version: &[u8],
        blob: &[u8],
        ttl: Duration,
    ) -> Result<Swap, StoreError> {
        let (q, exists, id) = (
            self.statements.replace.query(),
            self.statements.exists.query(),
            id.to_string(),
        );
        let new_version = crate::seal::record_version(blob);
        let now = unix_now();
        self.run(|pool| async move {
            let replaced = on_pool!(pool, p => sqlx::query(q).bind(blob).bind(new_version)
                .bind(expires_at(ttl)).bind(&id).bind(version).bind(now)
                .execute(p).await.map(|done| done.rows_affected()));
            let replaced = match replaced {
                Ok(rows) => rows,
                // The database chose this UPDATE as a deadlock's victim and rolled it back
                // (InnoDB, with writers of one row in several processes): nothing was written,
                // as when another writer came first. Stale: the save reloads, merges, retries.
                Err(sqlx::Error::Database(e)) if lost_to_a_conflict(e.code().as_deref()) => {
                    return Ok(Swap::Stale);
                }
                Err(e) => return Err(e),
            };
            if replaced > 0 {
                return Ok(Swap::Done);
            }
            let there = on_pool!(pool, p => sqlx::query(exists).bind(&id).bind(now)
                .fetch_optional(p).await?.is_some());
            Ok(if there { Swap::Stale } else { Swap::Missing })
        })
        .await
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        let (q, id) = (self.statements.delete.query(), id.to_string());
        self.run(|pool| async move {
            on_pool!(pool, p => sqlx::query(q).bind(&id).execute(p).await.map(drop))
        })
        .await
    }
}

impl UserIndex for SqlStore {
    async fn index_put(
        &self,
        user: &UserKey,
        id: &SessionId,
        entry: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let q = self.statements.index_put.query();
        let (user, id) = (user.to_string(), id.to_string());
        self.run(|pool| async move {
            on_pool!(pool, p => sqlx::query(q).bind(&user).bind(&id).bind(entry)
                .bind(expires_at(ttl)).execute(p).await.map(drop))
        })
        .await
    }

    async fn index_remove(&self, user: &UserKey, ids: &[SessionId]) -> Result<(), StoreError> {
        let user = user.to_string();
        for id in ids {
            let (q, id) = (self.statements.index_remove.query(), id.to_string());
            let user = &user;
            self.run(|pool| async move {
                on_pool!(pool, p => sqlx::query(q).bind(user).bind(&id).execute(p).await.map(drop))
            })
            .await?;
        }
        Ok(())
    }

    async fn index_list(&self, user: &UserKey) -> Result<Vec<(SessionId, Vec<u8>)>, StoreError> {
        let (q, user, now) = (
            self.statements.index_list.query(),
            user.to_string(),
            unix_now(),
        );
        let rows: Vec<(String, Vec<u8>)> = self
            .run(|pool| async move {
                on_pool!(pool, p => {
                    let rows = sqlx::query(q).bind(&user).bind(now).fetch_all(p).await?;
                    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
                })
            })
            .await?;
        // A row whose id is not one was not written by scsession: skipped.
        Ok(rows
            .into_iter()
            .filter_map(|(id, entry)| Some((id.parse().ok()?, entry)))
            .collect())
    }
}

/// What `python -m scsession stats` reports of a SQL store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlStats {
    /// Rows of live sessions.
    pub live: u64,
    /// Rows of expired sessions, invisible to every query, that
    /// [`purge_expired`](SqlStore::purge_expired) would delete.
    pub expired: u64,
    /// Bytes the table and its indexes take: `pg_total_relation_size` on PostgreSQL,
    /// `data_length + index_length` of `information_schema.tables` on MySQL/MariaDB (the
    /// `InnoDB` estimate), the pages of the table and its indexes (`dbstat`) on SQLite.
    pub table_bytes: u64,
}

/// Statistics, for `python -m scsession stats` (not part of [`SessionStore`]).
impl SqlStore {
    /// Live and expired rows and the size of the table (see [`SqlStats`]).
    pub async fn stats(&self) -> Result<SqlStats, StoreError> {
        let t = &*self.table;
        let (schema, name) = match t.split_once('.') {
            Some((schema, name)) => (Some(schema), name),
            None => (None, t),
        };
        let rows = format!(
            "SELECT COUNT(*), COUNT(CASE WHEN expires_at > {p} THEN 1 END) FROM {t}",
            p = if self.dialect == Dialect::MySql {
                "?"
            } else {
                "$1"
            }
        );
        // Every name spliced in below is part of the checked table name.
        let size = match self.dialect {
            Dialect::Postgres => {
                "SELECT COALESCE(pg_total_relation_size(to_regclass($1)), 0)::BIGINT".to_owned()
            }
            Dialect::MySql => "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS \
                               SIGNED) FROM information_schema.tables WHERE table_schema = \
                               COALESCE(?, DATABASE()) AND table_name = ?"
                .to_owned(),
            Dialect::Sqlite => {
                let schema = schema.unwrap_or("main");
                format!(
                    "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat('{schema}') WHERE name IN \
                     (SELECT name FROM {schema}.sqlite_master WHERE tbl_name = $1)"
                )
            }
        };
        let (rows, size) = (AssertSqlSafe(rows), AssertSqlSafe(size));
        let now = unix_now();
        let (all, live, bytes): (i64, i64, i64) = self
            .run(|pool| async move {
                let (all, live) = on_pool!(pool, p => {
                    let row = sqlx::query(rows).bind(now).fetch_one(p).await?;
                    (row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?)
                });
                let bytes = match pool {
                    Pool::Postgres(p) => {
                        sqlx::query(size).bind(t).fetch_one(p).await?.try_get(0)?
                    }
                    Pool::MySql(p) => sqlx::query(size)
                        .bind(schema)
                        .bind(name)
                        .fetch_one(p)
                        .await?
                        .try_get(0)?,
                    Pool::Sqlite(p) => sqlx::query(size)
                        .bind(name)
                        .fetch_one(p)
                        .await?
                        .try_get(0)?,
                };
                Ok((all, live, bytes))
            })
            .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(SqlStats {
            live: count(live),
            expired: count(all - live),
            table_bytes: count(bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_conflict_is_a_stale_swap() {
        // MariaDB's deadlock victim ("1213 (40001)"), PostgreSQL's serialization failure and
        // deadlock: rolled back, so another try is safe.
        for code in ["40001", "40P01"] {
            assert!(lost_to_a_conflict(Some(code)), "{code}");
        }
        // A unique violation, a lock wait timeout (HY000), no code: real errors.
        for code in [Some("23000"), Some("23505"), Some("HY000"), None] {
            assert!(!lost_to_a_conflict(code), "{code:?}");
        }
    }
    use crate::seal::RECORD_VERSION_LEN;

    #[test]
    fn tables_must_be_identifiers() {
        for ok in ["sessions", "_s1", "app.sessions"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1s", "s;drop", "a.b.c", "s s", "s-1", "a."] {
            assert!(!is_identifier(bad), "{bad}");
        }
        let t = Timeouts::default();
        assert!(SqlStore::new("sqlite:///tmp/x.db", "x; DROP", t).is_err());
        let err = SqlStore::new("oracle://u:pw@h/db", DEFAULT_TABLE, t).unwrap_err();
        assert!(err.to_string().contains("oracle://u:***@h/db"), "{err}");
    }

    #[test]
    fn mysql_gets_question_marks() {
        let s = Statements::new(Dialect::MySql, "t");
        assert_eq!(
            &*s.replace.0,
            "UPDATE t SET data = ?, version = ?, expires_at = ? WHERE id = ? AND version = ? \
             AND expires_at > ?"
        );
        assert!(!Statements::new(Dialect::Postgres, "t").load.0.contains('?'));
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// The whole contract on SQLite, which needs no server.
    #[test]
    fn sqlite_follows_the_store_contract() {
        let dir = std::env::temp_dir().join(format!("scsession-{}", SessionId::random()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("s.db").display());
        // Schema-qualified, which puts the index names to the test.
        let store = SqlStore::new(&url, "main.app_sessions", Timeouts::default()).unwrap();
        let id = SessionId::random();
        let minute = Duration::from_secs(60);
        let v1 = [1u8; RECORD_VERSION_LEN + 3];
        let v2 = [2u8; RECORD_VERSION_LEN + 3];
        block_on(async {
            assert_eq!(store.load(&id).await.unwrap(), None);
            assert_eq!(
                store.replace(&id, &v1[..29], &v1, minute).await,
                Ok(Swap::Missing)
            );
            store.save(&id, &v1, minute).await.unwrap();
            assert_eq!(store.load(&id).await.unwrap(), Some(v1.to_vec()));
            assert_eq!(
                store.replace(&id, &v2[..29], &v2, minute).await,
                Ok(Swap::Stale)
            );
            assert_eq!(
                store.replace(&id, &v1[..29], &v2, minute).await,
                Ok(Swap::Done)
            );
            assert_eq!(store.load(&id).await.unwrap(), Some(v2.to_vec()));
            assert_eq!(store.count().await, Ok(1));
            store
                .save(&SessionId::random(), &v1, Duration::ZERO)
                .await
                .unwrap();
            assert_eq!(store.count().await, Ok(1), "expired rows do not count");
            let stats = store.stats().await.unwrap();
            assert_eq!((stats.live, stats.expired), (1, 1));
            assert!(stats.table_bytes >= 4096, "{stats:?}");
            let ring = crate::KeyRing::new(&[[1u8; 32]]).unwrap();
            let user = *super::super::users::UserKeys::new(&ring, "42")
                .unwrap()
                .primary();
            store.index_put(&user, &id, b"entry", minute).await.unwrap();
            store.index_put(&user, &id, b"again", minute).await.unwrap();
            let old = SessionId::random();
            store
                .index_put(&user, &old, b"old", Duration::ZERO)
                .await
                .unwrap();
            assert_eq!(
                store.index_list(&user).await,
                Ok(vec![(id, b"again".to_vec())])
            );
            assert_eq!(store.purge_expired().await, Ok(1));
            store.index_remove(&user, &[id, old]).await.unwrap();
            assert_eq!(store.index_list(&user).await, Ok(vec![]));
            store.delete(&id).await.unwrap();
            store.delete(&id).await.unwrap();
            assert_eq!(store.load(&id).await.unwrap(), None);
        });
        std::fs::remove_dir_all(dir).unwrap();
    }
}
